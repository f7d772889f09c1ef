//! File concerns shared by the rewriting verbs: where an output goes ([`ExecuteTarget`]) and
//! how an SSTable is deleted ([`delete_sstable`], in Cassandra's order).

use cairn_format::{Component, Descriptor};

/// Where an executed plan writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecuteTarget {
    /// Under this directory (keyspace/table directories recreated), inputs untouched.
    Out(std::path::PathBuf),
    /// Into the table directory; the compacted SSTables are deleted once the outputs are
    /// complete, as Cassandra does when a compaction commits.
    InPlace,
}

/// Delete an SSTable's components, Data.db first (Cassandra's order: without Data.db the rest is
/// never read, so an interrupted deletion leaves no half SSTable behind).
pub fn delete_sstable(d: &Descriptor) -> Result<(), cairn_format::Error> {
    for c in Component::BIG {
        let p = d.path(c);
        match std::fs::remove_file(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(cairn_format::Error::io(&p, e)),
        }
    }
    Ok(())
}
