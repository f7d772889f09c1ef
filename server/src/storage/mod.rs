//! The node's files, in Cassandra's data-directory layout: `<data>/<keyspace>/<table>-<id>/`
//! holds `nb` SSTables flushed from the memtables (LZ4, the writer's Cassandra 4.x defaults) and a
//! `schema.cql` beside them, so `cairn dump`, `verify`, `export` and every other offline verb read
//! a node's tables with their column names. `<data>/cairn_schema.cql` records the schema the node
//! replays at start-up: one statement per line, each `CREATE TABLE` preceded by a
//! `-- table <keyspace>.<table> <id>` line naming its directory.
//!
//! Reads merge a partition's memtable version with what every SSTable holds for its key (bloom
//! filter, summary and index first, then Data.db) into one in-memory partition, reconciled by the
//! format crate's rules.
//!
//! The rooms: `table` (a table's memtable and SSTables: flush, compaction, merged reads),
//! [`commitlog`] (the write-ahead log and its replay), `durable` (group commit).

pub mod commitlog;
pub(crate) mod durable;
pub mod mutation;
pub(crate) mod table;

use std::path::{Path, PathBuf};

use cairn_format::Descriptor;
use cairn_format::data::{Unfiltered, UnfilteredKind};
use cairn_format::partition::{OwnedCell, Partition, RangeTombstone};
use cairn_format::sstable::{OpenOptions, SsTable};
use cairn_format::txn::{Transaction, operation};
use cairn_format::writer::{SsTableWriter, WriterOptions, next_generation};

/// The directory of a table.
pub fn table_dir(data: &Path, keyspace: &str, table: &str, id: &[u8; 16]) -> PathBuf {
    data.join(keyspace).join(format!("{table}-{}", cairn_format::types::render::hex(id)))
}

/// Write `memtable` (partitions in token order) as a new `nb` SSTable in `dir`.
pub fn flush<'p>(
    dir: &Path,
    header: &cairn_format::statistics::SerializationHeader,
    partitions: impl ExactSizeIterator<Item = &'p Partition>,
) -> cairn_format::Result<Option<SsTable>> {
    if partitions.len() == 0 {
        return Ok(None);
    }
    std::fs::create_dir_all(dir).map_err(|e| cairn_format::Error::io(dir, e))?;
    let options = WriterOptions { expected_partitions: partitions.len() as u64, ..WriterOptions::default() };
    // A flush is a lifecycle transaction too (Cassandra's FLUSH): killed half-way, the next
    // start removes the partial SSTable, and the commit log still holds its writes.
    let generation = next_generation(dir)?;
    let mut txn = Transaction::begin(dir, options.version, operation::FLUSH)?;
    let d = Descriptor {
        directory: dir.to_path_buf(),
        version: options.version,
        id: cairn_format::descriptor::SsTableId::Sequence(generation),
    };
    txn.add(&d, SsTableWriter::COMPONENTS)?;
    let mut w = SsTableWriter::create(dir, generation, header.clone(), options)?;
    for p in partitions {
        w.write_partition_content(p)?;
    }
    let d = w.finish()?;
    txn.commit()?;
    open(d).map(Some)
}

/// Open a table directory at start-up: unfinished lifecycle transactions and temporary files an
/// earlier run left are resolved first, as Cassandra does when it starts.
pub fn open_table_dir(dir: &Path) -> cairn_format::Result<Vec<SsTable>> {
    if dir.is_dir() {
        cairn_format::txn::cleanup(dir)?;
    }
    load_dir(dir)
}

/// Open an SSTable of the node (its table's schema.cql beside it).
pub fn open(d: Descriptor) -> cairn_format::Result<SsTable> {
    let schema = d.directory.join("schema.cql");
    let options = OpenOptions { schema_file: schema.is_file().then_some(schema), ..Default::default() };
    SsTable::open_with(d, &options)
}

/// Every SSTable of a table directory.
pub fn load_dir(dir: &Path) -> cairn_format::Result<Vec<SsTable>> {
    if !dir.is_dir() {
        return Ok(vec![]);
    }
    cairn_format::descriptor::discover(dir)?.into_iter().map(open).collect()
}

/// Merge the current partition of `scanner` (just returned by `next_partition`) into `p`.
pub fn read_into(scanner: &mut cairn_format::data::scanner::Scanner, p: &mut Partition) -> cairn_format::Result<()> {
    let header = scanner.header().clone();
    p.delete(scanner.partition().deletion);
    if let Some(s) = scanner.static_row() {
        merge_row(s, p, true);
    }
    // The range tombstone open so far: start bound, inclusive, deletion.
    let mut open: Option<(cairn_format::partition::Clustering, bool, cairn_format::deletion::DeletionTime)> = None;
    while let Some(u) = scanner.next_unfiltered()? {
        match u.kind() {
            UnfilteredKind::Row => merge_row(u, p, false),
            UnfilteredKind::StaticRow => merge_row(u, p, true),
            UnfilteredKind::Marker(k) => {
                let bound: Vec<Option<Vec<u8>>> =
                    (0..u.clustering.len()).map(|i| u.clustering_value(i).map(<[u8]>::to_vec)).collect();
                if k.is_close()
                    && let Some((start, start_inclusive, deletion)) = open.take()
                {
                    let end_inclusive = matches!(
                        k,
                        cairn_format::clustering::BoundKind::InclEndBound
                            | cairn_format::clustering::BoundKind::InclEndExclStartBoundary
                    );
                    p.range_tombstones.push(RangeTombstone {
                        start,
                        start_inclusive,
                        end: bound.clone(),
                        end_inclusive,
                        deletion,
                    });
                }
                if k.is_open() {
                    let inclusive = matches!(
                        k,
                        cairn_format::clustering::BoundKind::InclStartBound
                            | cairn_format::clustering::BoundKind::ExclEndInclStartBoundary
                    );
                    open = Some((bound, inclusive, u.deletion));
                }
            }
        }
    }
    let _ = header;
    Ok(())
}

fn merge_row(u: &Unfiltered, p: &mut Partition, is_static: bool) {
    let row = if is_static {
        p.static_mut()
    } else {
        let clustering: Vec<Option<Vec<u8>>> =
            (0..u.clustering.len()).map(|i| u.clustering_value(i).map(<[u8]>::to_vec)).collect();
        p.row_mut(&clustering)
    };
    if !u.liveness.is_empty() {
        row.add_liveness(u.liveness);
    }
    if !u.deletion.is_live() {
        row.delete(u.deletion);
    }
    if !u.shadowable_deletion.is_live() {
        row.delete(u.shadowable_deletion);
    }
    for d in &u.complex_deletions {
        row.delete_column(d.column, d.deletion);
    }
    for c in &u.cells {
        row.add_cell(OwnedCell {
            column: c.column,
            path: u.path(c).map(<[u8]>::to_vec),
            value: u.value(c).to_vec(),
            timestamp: c.timestamp,
            ttl: if c.is_expiring() { c.ttl } else { 0 },
            local_deletion_time: c.local_deletion_time,
            tombstone: c.is_tombstone(),
        });
    }
}

/// What `sstables` hold for `key`, merged into `p`.
pub fn read_partition(sstables: &[SsTable], key: &[u8], p: &mut Partition) -> cairn_format::Result<()> {
    for t in sstables {
        let Some(pos) = t.find_partition(key)? else { continue };
        let mut s = t.scanner()?;
        if s.seek_partition(pos, key)?.is_some() {
            read_into(&mut s, p)?;
        }
    }
    Ok(())
}

/// Every partition `sstables` hold, merged into `into` (keyed by token and key).
pub fn read_all(
    sstables: &[SsTable],
    into: &mut std::collections::BTreeMap<(cairn_format::partitioner::Token, Vec<u8>), Partition>,
) -> cairn_format::Result<()> {
    for t in sstables {
        let mut s = t.scanner()?;
        while let Some(h) = s.next_partition()? {
            let key = h.key.clone();
            let token = t.token(&key);
            let p = into.entry((token, key.clone())).or_insert_with(|| Partition::new(key));
            read_into(&mut s, p)?;
        }
    }
    Ok(())
}

/// The first `n` partitions of each of `sstables` after `after` in ring order (token, then key;
/// from the start when `None`), merged into `into`. The first `n` entries of `into` are then
/// complete: a partition among them comes before every SSTable's `n`-th.
pub fn read_after(
    sstables: &[SsTable],
    after: Option<&(cairn_format::partitioner::Token, Vec<u8>)>,
    n: usize,
    into: &mut std::collections::BTreeMap<(cairn_format::partitioner::Token, Vec<u8>), Partition>,
) -> cairn_format::Result<()> {
    use cairn_format::partitioner::Token;
    for t in sstables {
        let mut s = t.scanner()?;
        if let Some((token, _)) = after {
            // The first partition whose token is not below `token`: after the token just below.
            let below = match token {
                Token::Murmur3(x) => x.checked_sub(1).map(Token::Murmur3),
                Token::Random(x) => x.checked_sub(1).map(Token::Random),
                Token::Bytes(_) => None,
            };
            if let Some(below) = below {
                match t.position_after_token(&below)? {
                    Some(pos) => s.seek(pos, None)?,
                    None => continue,
                }
            }
        }
        let mut taken = 0;
        while taken < n {
            let Some(h) = s.next_partition()? else { break };
            let key = h.key.clone();
            let place = (t.token(&key), key);
            if after.is_some_and(|a| place <= *a) {
                continue;
            }
            taken += 1;
            let p = into.entry(place.clone()).or_insert_with(|| Partition::new(place.1));
            read_into(&mut s, p)?;
        }
    }
    Ok(())
}
