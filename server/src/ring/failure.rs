//! Phi-accrual failure detection.
