//! Clustering order (re-exported from `cairn_format::types::compare`).

pub use cairn_format::types::compare::{compare_prefixes, compare_values};
