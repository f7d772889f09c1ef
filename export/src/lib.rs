//! # cairn-export
//!
//! Export of reconciled live rows (or raw mutations) from Cassandra SSTables to Parquet, CSV
//! and NDJSON. This is the only crate of the workspace that will link arrow and parquet.
//!
//! Status: placeholder in the workspace layout; the exporter arrives with the export work.

pub use cairn_compact;
