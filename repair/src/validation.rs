//! Validation: one side's partitions reconciled and purged at `--now`, hashed into a Merkle tree
//! ([`build_tree`]), and the per-partition and per-row digests the drill-down compares.

use std::collections::HashSet;

use cairn_compact::purge::{PurgeClock, Purger, TombstoneKind};
use cairn_format::data::scanner::Scanner;
use cairn_format::data::{PartitionHeader, PartitionStream, Unfiltered, UnfilteredKind};
use cairn_format::deletion::{DeletionTime, NO_TIMESTAMP};
use cairn_format::lookup::PartitionLookup;
use cairn_format::merkle::{self, Hash, MerkleTree, PartitionHasher};
use cairn_format::partitioner::{Partitioner, Token};
use cairn_format::reconcile::Merger;
use cairn_format::sstable::SsTable;
use cairn_format::statistics::SerializationHeader;
use cairn_format::types::CqlType;
use cairn_format::types::render::get_string;

use crate::*;

/// One row (or range-tombstone marker) of a partition as validation sees it.
#[derive(Debug, Clone)]
pub struct RowDigest {
    /// Kind and clustering, encoded: rows and markers of one partition are equal here iff they
    /// stand at the same position.
    pub position: Vec<u8>,
    /// The clustering values as text (`static` for the static row).
    pub clustering: Vec<String>,
    /// Hash of its content.
    pub hash: Hash,
    /// Its newest timestamp (µs).
    pub max_timestamp: i64,
}

/// One partition as validation sees it.
#[derive(Debug, Clone)]
pub struct PartitionDigest {
    /// The serialized key.
    pub key: Vec<u8>,
    /// Its Murmur3 token.
    pub token: i64,
    /// The partition hash ([`cairn_format::merkle`]).
    pub hash: Hash,
    /// The partition deletion left after purging.
    pub deletion: DeletionTime,
    /// Rows (static row included).
    pub rows: u64,
    /// Cells.
    pub cells: u64,
    /// The newest timestamp in it (µs): cells, liveness, deletions.
    pub max_timestamp: i64,
    /// Its rows, when asked for.
    pub row_digests: Vec<RowDigest>,
}

/// A reconciled, purged read of one side's table (Cassandra's validation compaction).
pub(crate) struct Validation {
    merger: Merger,
    header: SerializationHeader,
    purger: Purger,
    /// The purged copy of the row being hashed.
    scratch: Unfiltered,
    /// Reused from partition to partition.
    hasher: PartitionHasher,
    /// The partition [`Validation::next_partition`] stands on.
    current: PartitionHeader,
    name: String,
}

pub(crate) fn max_timestamp(u: &Unfiltered) -> i64 {
    let mut m = NO_TIMESTAMP;
    let mut see = |ts: i64| m = m.max(ts);
    see(u.liveness.timestamp);
    see(u.deletion.marked_for_delete_at);
    see(u.shadowable_deletion.marked_for_delete_at);
    see(u.close_deletion.marked_for_delete_at);
    for d in &u.complex_deletions {
        see(d.deletion.marked_for_delete_at);
    }
    for c in &u.cells {
        see(c.timestamp);
    }
    m
}

pub(crate) fn position_of(u: &Unfiltered) -> Vec<u8> {
    let mut out = Vec::with_capacity(32);
    out.push(match u.kind() {
        UnfilteredKind::StaticRow => 3,
        UnfilteredKind::Row => 4,
        UnfilteredKind::Marker(k) => merkle::bound_kind_ordinal(k),
    });
    for i in 0..u.clustering.len() {
        match u.clustering_value(i) {
            Some(v) => {
                out.extend_from_slice(&(v.len() as i32).to_be_bytes());
                out.extend_from_slice(v);
            }
            None => out.extend_from_slice(&(-1i32).to_be_bytes()),
        }
    }
    out
}

pub(crate) fn clustering_strings(header: &SerializationHeader, u: &Unfiltered) -> Vec<String> {
    if u.kind() == UnfilteredKind::StaticRow {
        return vec!["static".into()];
    }
    let mut out: Vec<String> = (0..u.clustering.len())
        .map(|i| match u.clustering_value(i) {
            Some(v) => get_string(header.clustering_types.get(i).unwrap_or(&CqlType::Blob), v),
            None => "null".into(),
        })
        .collect();
    if let UnfilteredKind::Marker(k) = u.kind() {
        out.push(format!("{k:?}"));
    }
    out
}

impl Validation {
    fn open(group: &[&SsTable], clock: PurgeClock, name: String) -> Result<Validation, RepairError> {
        let Some(first) = group.first() else {
            return Err(RepairError::NoTables { what: format!(" {name} to read") });
        };
        let scanners = group.iter().map(|t| t.scanner()).collect::<Result<Vec<_>, _>>()?;
        Validation::of(scanners, first.partitioner, clock, name)
    }

    fn of(
        scanners: Vec<Scanner>,
        partitioner: Partitioner,
        clock: PurgeClock,
        name: String,
    ) -> Result<Validation, RepairError> {
        let merger = Merger::new(scanners, partitioner)?;
        let header = PartitionStream::header(&merger).clone();
        Ok(Validation {
            merger,
            header,
            purger: Purger::new(clock),
            scratch: Unfiltered::default(),
            hasher: PartitionHasher::new(&[], &DeletionTime::LIVE),
            current: PartitionHeader::default(),
            name,
        })
    }

    /// Move to the next partition (then `self.current`, its key copied into the buffer kept
    /// from the last one) and return its token.
    fn next_partition(&mut self) -> Result<Option<i64>, RepairError> {
        let Some(p) = self.merger.next_partition()? else { return Ok(None) };
        let current = &mut self.current;
        current.key.clear();
        current.key.extend_from_slice(&p.key);
        current.deletion = p.deletion;
        current.position = p.position;
        current.body_position = p.body_position;
        match self.merger.partitioner().token(&current.key) {
            Token::Murmur3(t) => Ok(Some(t)),
            other => Err(RepairError::Merkle {
                table: self.name.clone(),
                error: merkle::MerkleError::NotMurmur3 { token: other.to_string() },
            }),
        }
    }

    /// The current partition purged and hashed: its purged deletion and hash, or `None` when
    /// nothing of it is left. `take` sees every purged row and marker, in stream order.
    fn hash(
        &mut self,
        mut take: impl FnMut(&SerializationHeader, &Unfiltered),
    ) -> Result<Option<(DeletionTime, Hash)>, RepairError> {
        let Validation { merger, header, purger, scratch, hasher, current, .. } = self;
        purger.begin_partition(&[]);
        let deletion = purger.deletion(current.deletion, TombstoneKind::Partition);
        hasher.begin(&current.key, &deletion);
        let mut any = !deletion.is_live();
        // Most rows hold nothing to purge: those are hashed as they are, not copied.
        let mut kept = |u: &Unfiltered| {
            if purger.leaves_whole(u) {
                hasher.add(header, u);
                take(header, u);
            } else if purger.unfiltered(u, scratch) {
                hasher.add(header, scratch);
                take(header, scratch);
            } else {
                return false;
            }
            true
        };
        if let Some(st) = merger.static_row() {
            any |= kept(st);
        }
        while let Some(u) = merger.next_unfiltered()? {
            any |= kept(u);
        }
        let hash = hasher.finish();
        Ok(any.then_some((deletion, hash)))
    }

    /// The current partition purged, hashed and counted (with its rows' digests when `rows`);
    /// `None` when nothing of it is left.
    fn digest(&mut self, token: i64, rows: bool) -> Result<Option<PartitionDigest>, RepairError> {
        let (mut n_rows, mut cells, mut max_ts, mut row_digests) = (0u64, 0u64, NO_TIMESTAMP, Vec::new());
        let hashed = self.hash(|header, u| {
            n_rows += u64::from(!u.is_marker());
            cells += u.cells.len() as u64;
            let ts = max_timestamp(u);
            max_ts = max_ts.max(ts);
            if rows {
                row_digests.push(RowDigest {
                    position: position_of(u),
                    clustering: clustering_strings(header, u),
                    hash: merkle::row_hash(header, u),
                    max_timestamp: ts,
                });
            }
        })?;
        Ok(hashed.map(|(deletion, hash)| PartitionDigest {
            key: self.current.key.clone(),
            token,
            hash,
            deletion,
            rows: n_rows,
            cells,
            max_timestamp: max_ts.max(deletion.marked_for_delete_at),
            row_digests,
        }))
    }
}

/// The partition estimate a tree depth is chosen from: the SSTables' key estimates summed (an
/// SSTable without an estimator counts 128 keys, as compaction sizes its filters).
pub(crate) fn estimate(group: &[&SsTable]) -> Result<u64, RepairError> {
    let mut n = 0u64;
    for t in group {
        n = n.saturating_add(t.estimated_cardinality()?.unwrap_or(128));
    }
    Ok(n)
}

/// The depth both trees of `pair` are built at.
pub fn depth_of(pair: &TablePair<'_>, opts: &RepairOptions) -> Result<u8, RepairError> {
    Ok(match opts.depth {
        Some(d) => d.min(merkle::MAX_DEPTH),
        None => merkle::depth_for(estimate(&pair.a)?.max(estimate(&pair.b)?), merkle::MAX_DEPTH),
    })
}

/// Build the validation tree of one side's table (streaming: memory is the tree's).
pub fn build_tree(group: &[&SsTable], depth: u8, clock: PurgeClock, name: &str) -> Result<MerkleTree, RepairError> {
    let mut tree = MerkleTree::new(depth);
    if group.is_empty() {
        tree.finish();
        return Ok(tree);
    }
    let mut v = Validation::open(group, clock, name.to_string())?;
    while let Some(token) = v.next_partition()? {
        if let Some((_, hash)) = v.hash(|_, _| {})? {
            tree.add(&Token::Murmur3(token), &hash)
                .map_err(|error| RepairError::Merkle { table: name.to_string(), error })?;
        }
    }
    tree.finish();
    Ok(tree)
}

/// The digests (with rows) of one side's partitions in the `differing` leaves (ascending).
///
/// Few differing ranges are read alone: each run of adjacent leaves from the first partition
/// past its start in every SSTable (Summary.db and Index.db), up to its end. Many (more than a
/// sixteenth of the leaves in separate runs) are read in one pass over the whole table.
pub(crate) fn collect(
    group: &[&SsTable],
    clock: PurgeClock,
    depth: u8,
    differing: &[usize],
    name: &str,
) -> Result<Vec<PartitionDigest>, RepairError> {
    let mut out = Vec::new();
    let Some(first) = group.first() else { return Ok(out) };
    let set: HashSet<usize> = differing.iter().copied().collect();
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for &l in differing {
        match runs.last_mut() {
            Some((_, end)) if *end + 1 == l => *end = l,
            _ => runs.push((l, l)),
        }
    }
    let whole = runs.len().saturating_mul(16) > (1usize << depth);
    if whole {
        runs = vec![(0, (1usize << depth) - 1)];
    }
    let lookups = if whole {
        Vec::new()
    } else {
        group.iter().map(|t| PartitionLookup::new(t)).collect::<Result<Vec<_>, _>>()?
    };
    for (start, end) in runs {
        let left = merkle::range_of(start, depth).left;
        let right = merkle::range_of(end, depth).right;
        let mut scanners = Vec::new();
        for (i, t) in group.iter().enumerate() {
            let mut sc = t.scanner()?;
            if let Some(lookup) = lookups.get(i).filter(|_| start > 0) {
                match lookup.position_after_token(t, &Token::Murmur3(left)) {
                    Ok(Some(pos)) => sc.seek(pos, None)?,
                    Ok(None) => continue,
                    // Without an Index.db the range is found by reading from the start.
                    Err(cairn_format::Error::MissingComponent {
                        component: cairn_format::Component::Index, ..
                    }) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            scanners.push(sc);
        }
        if scanners.is_empty() {
            continue;
        }
        let mut v = Validation::of(scanners, first.partitioner, clock, name.to_string())?;
        while let Some(token) = v.next_partition()? {
            // The ring's last range ends at its end (printed as the minimum token).
            if right != i64::MIN && token > right {
                break;
            }
            if set.contains(&merkle::leaf_of(token, depth))
                && let Some(d) = v.digest(token, true)?
            {
                out.push(d);
            }
        }
    }
    Ok(out)
}
