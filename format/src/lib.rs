//! # cairn-format
//!
//! Apache Cassandra's on-disk structures, read and written byte for byte: the BIG
//! SSTable format of Cassandra 3.0 to 5.0 (versions `ma` to `oa`), its components, the CQL type
//! system as Cassandra serializes it, and Murmur3 tokens exactly as Cassandra computes them.
//!
//! An SSTable is a set of files sharing a prefix, e.g. `nb-1-big-`:
//!
//! ```text
//! Data.db            partitions in token order: key, deletion, static row, rows and
//!                    range-tombstone markers in clustering order, end-of-partition byte
//! Index.db           per partition: key, Data.db position, promoted (row) index
//! Summary.db         every 128th Index.db entry, for binary search
//! Filter.db          bloom filter over partition keys
//! Statistics.db      validation, compaction, stats and serialization-header metadata
//! CompressionInfo.db chunk offsets (compressed Data.db), or CRC.db (uncompressed)
//! Digest.crc32       CRC32 of the whole Data.db
//! TOC.txt            the list of components
//! ```
//!
//! The crate is layered bottom-up, each layer testable alone: [`codec`] (vints, big-endian
//! numbers) → component parsers on byte slices ([`statistics`], [`index`], [`summary`],
//! [`filter`], [`compression`], [`toc`]) → the chunk layer ([`data::source`]: decompress and
//! verify checksums) → iterators ([`data::scanner`]: partition → row or range-tombstone marker →
//! cell) → [`sstable`], which opens a whole SSTable. Beside the readers: [`writer`] (SSTables as
//! Cassandra writes them), [`reconcile`] and [`live`] (Cassandra's merge and the rows CQL returns),
//! [`location`] (which table and point in time a file belongs to), [`lookup`] (finding a
//! partition through filter, summary and index), [`merkle`] (repair's Merkle trees and the logical
//! partition hash), [`txn`] (lifecycle transaction logs, for crash
//! safety), [`schema`] (CQL schema text) and [`progress`] (I/O counters for progress bars).
//!
//! Untrusted bytes never panic: every length is checked against the bytes left before anything
//! is allocated, and every failure is an [`Error`] naming file, component and byte offset.
//!
//! ```no_run
//! use cairn_format::sstable::SsTable;
//!
//! let table = SsTable::open("data/ks/t-0123/nb-1-big-Data.db".as_ref(), None)?;
//! let mut scanner = table.scanner()?;
//! while let Some(partition) = scanner.next_partition()? {
//!     println!("partition at {}", partition.position);
//!     while let Some(unfiltered) = scanner.next_unfiltered()? {
//!         println!("  {:?} with {} cells", unfiltered.kind, unfiltered.cells.len());
//!     }
//! }
//! # Ok::<(), cairn_format::Error>(())
//! ```

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic))]
#![deny(missing_docs)]

pub mod class_name;
pub mod clustering;
pub mod codec;
pub mod component_file;
pub mod compression;
pub mod data;
pub mod deletion;
pub mod descriptor;
pub mod error;
pub mod filter;
pub mod header_fix;
pub mod index;
pub mod live;
pub mod location;
pub mod lookup;
pub mod merkle;
pub mod partition;
pub mod partitioner;
pub mod progress;
pub mod reconcile;
pub mod schema;
pub mod sstable;
pub mod statistics;
pub mod summary;
pub mod toc;
pub mod txn;
pub mod types;
pub mod version;
pub mod writer;

pub use descriptor::{Component, Descriptor};
pub use error::{DecodeError, DecodeErrorKind, Error, Result};
pub use version::Version;
