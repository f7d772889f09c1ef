//! Mutations: what a write changes, one partition of one table each — the unit the commit log
//! records, a coordinator sends to replicas, hints keep and read repair writes back (Cassandra's
//! `Mutation` of `PartitionUpdate`s, `db/Mutation.java`). A write statement is first *staged*
//! (`Staged`): INSERT, UPDATE, DELETE and BATCH build the partitions they change into an empty
//! map, never into the memtable, so a statement that fails half-way changes nothing, and what it
//! did change is known exactly before it is logged and applied. Applying merges each partition
//! into the table's memtable with the format crate's reconciliation (newest timestamp wins,
//! deletions shadow older data), which is why applying a mutation twice, or after the same data
//! was flushed, is harmless.
//!
//! A mutation carries every timestamp, TTL and local deletion time it sets, so a replica, a
//! commit-log replay or a hint replay reproduces the same cells without re-executing anything.
//!
//! ## Byte layout (Cairn's own; big-endian)
//!
//! ```text
//! mutation   := table id [16 bytes] partition
//! partition  := bytes(key) deletion [u8 has static] row? [u32 rows] row* [u32 n] range*
//! row        := clustering liveness deletion [u16 n] ([u16 column] deletion)* [u32 n] cell*
//! clustering := [u16 n] ([u8 0] | [u8 1] bytes)*          (0: a null component)
//! liveness   := [i64 timestamp] [i32 ttl] [i64 local expiration time]
//! deletion   := [i64 marked for delete at] [i64 local deletion time]
//! cell       := [u16 column] [u8 flags: 1 tombstone, 2 has path] bytes(path)? bytes(value)
//!               [i64 timestamp] [i32 ttl] [i64 local deletion time]
//! range      := clustering(start) [u8 inclusive] clustering(end) [u8 inclusive] deletion
//! bytes      := [u32 length] [length bytes]
//! ```
//!
//! A list of mutations (a commit-log entry, a message) is `[u32 n] mutation*`. Decoding checks
//! every length against what is left and says at which byte it stopped.

use std::collections::BTreeMap;
use std::sync::Arc;

use cairn_format::deletion::{DeletionTime, LivenessInfo};
use cairn_format::partition::{Clustering, OwnedCell, Partition, RangeTombstone, Row};
use cairn_format::partitioner::{Token, murmur3_token};

use crate::storage::table::Table;

/// One partition's changes to one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mutation {
    /// The table's id (a dropped and re-created table has a new one, so old writes never
    /// reach it).
    pub table_id: [u8; 16],
    /// The changes.
    pub partition: Partition,
}

impl Mutation {
    /// The partition's Murmur3 token.
    pub fn token(&self) -> i64 {
        murmur3_token(&self.partition.key)
    }
}

/// A statement's writes, staged before they are logged and applied: partitions by table and
/// ring position.
#[derive(Default)]
pub(crate) struct Staged {
    tables: BTreeMap<[u8; 16], Arc<Table>>,
    partitions: BTreeMap<([u8; 16], Token, Vec<u8>), Partition>,
}

impl Staged {
    /// The staged partition of `table` with `key`, created empty if missing.
    pub(crate) fn partition_mut(&mut self, table: &Arc<Table>, key: Vec<u8>) -> &mut Partition {
        self.tables.entry(table.id).or_insert_with(|| Arc::clone(table));
        let token = Token::Murmur3(murmur3_token(&key));
        self.partitions.entry((table.id, token, key.clone())).or_insert_with(|| Partition::new(key))
    }

    /// The staged mutations, in table and ring order.
    pub(crate) fn into_mutations(self) -> Vec<Mutation> {
        self.partitions.into_iter().map(|((table_id, _, _), partition)| Mutation { table_id, partition }).collect()
    }
}

/// Merge `from` into `into` (same key): every deletion, marker and cell reconciled by the
/// format crate's rules.
pub fn merge(into: &mut Partition, from: Partition) {
    into.delete(from.deletion);
    if let Some(s) = from.static_row {
        merge_row(into.static_mut(), s);
    }
    for (clustering, row) in from.rows {
        match into.rows.get_mut(&clustering) {
            Some(r) => merge_row(r, row),
            None => {
                // A new row: merged into an empty one, the clustering copied once.
                let mut r = Row::new(clustering.clone());
                merge_row(&mut r, row);
                into.rows.insert(clustering, r);
            }
        }
    }
    for rt in from.range_tombstones {
        if !into.range_tombstones.contains(&rt) {
            into.range_tombstones.push(rt);
        }
    }
}

fn merge_row(into: &mut Row, from: Row) {
    if !from.liveness.is_empty() {
        into.add_liveness(from.liveness);
    }
    into.delete(from.deletion);
    for (column, d) in from.complex_deletions {
        into.delete_column(column, d);
    }
    for c in from.cells {
        into.add_cell(c);
    }
}

/// A mutation that could not be decoded: where, and what was expected there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("mutation bytes: {what} at byte {offset}")]
pub struct DecodeError {
    /// Byte offset in the decoded buffer.
    pub offset: usize,
    /// What was being read.
    pub what: &'static str,
}

/// Append `mutations` as `[u32 n] mutation*`.
pub fn encode_all(mutations: &[Mutation], out: &mut Vec<u8>) {
    out.extend_from_slice(&(mutations.len() as u32).to_be_bytes());
    for m in mutations {
        encode(m, out);
    }
}

/// Decode `[u32 n] mutation*`, the whole buffer.
pub fn decode_all(b: &[u8]) -> Result<Vec<Mutation>, DecodeError> {
    let mut r = Cursor { b, pos: 0 };
    let n = r.u32("the mutation count")?;
    // Each mutation takes at least 40 bytes: a count beyond that is corrupt, not a reason to
    // allocate.
    if n as usize > b.len() / 40 + 1 {
        return Err(DecodeError { offset: 0, what: "a mutation count larger than the bytes hold" });
    }
    let mut out = Vec::with_capacity(n as usize);
    for _ in 0..n {
        out.push(r.mutation()?);
    }
    if r.pos != b.len() {
        return Err(DecodeError { offset: r.pos, what: "bytes after the last mutation" });
    }
    Ok(out)
}

/// Append one mutation.
pub fn encode(m: &Mutation, out: &mut Vec<u8>) {
    out.extend_from_slice(&m.table_id);
    let p = &m.partition;
    bytes(out, &p.key);
    deletion(out, p.deletion);
    match &p.static_row {
        Some(s) => {
            out.push(1);
            row(out, s);
        }
        None => out.push(0),
    }
    out.extend_from_slice(&(p.rows.len() as u32).to_be_bytes());
    for r in p.rows.values() {
        row(out, r);
    }
    out.extend_from_slice(&(p.range_tombstones.len() as u32).to_be_bytes());
    for rt in &p.range_tombstones {
        clustering(out, &rt.start);
        out.push(u8::from(rt.start_inclusive));
        clustering(out, &rt.end);
        out.push(u8::from(rt.end_inclusive));
        deletion(out, rt.deletion);
    }
}

fn bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u32).to_be_bytes());
    out.extend_from_slice(b);
}

fn deletion(out: &mut Vec<u8>, d: DeletionTime) {
    out.extend_from_slice(&d.marked_for_delete_at.to_be_bytes());
    out.extend_from_slice(&d.local_deletion_time.to_be_bytes());
}

fn clustering(out: &mut Vec<u8>, c: &Clustering) {
    out.extend_from_slice(&(c.len() as u16).to_be_bytes());
    for v in c {
        match v {
            Some(v) => {
                out.push(1);
                bytes(out, v);
            }
            None => out.push(0),
        }
    }
}

fn row(out: &mut Vec<u8>, r: &Row) {
    clustering(out, &r.clustering);
    out.extend_from_slice(&r.liveness.timestamp.to_be_bytes());
    out.extend_from_slice(&r.liveness.ttl.to_be_bytes());
    out.extend_from_slice(&r.liveness.local_expiration_time.to_be_bytes());
    deletion(out, r.deletion);
    out.extend_from_slice(&(r.complex_deletions.len() as u16).to_be_bytes());
    for (column, d) in &r.complex_deletions {
        out.extend_from_slice(&column.to_be_bytes());
        deletion(out, *d);
    }
    out.extend_from_slice(&(r.cells.len() as u32).to_be_bytes());
    for c in &r.cells {
        out.extend_from_slice(&c.column.to_be_bytes());
        out.push(u8::from(c.tombstone) | if c.path.is_some() { 2 } else { 0 });
        if let Some(p) = &c.path {
            bytes(out, p);
        }
        bytes(out, &c.value);
        out.extend_from_slice(&c.timestamp.to_be_bytes());
        out.extend_from_slice(&c.ttl.to_be_bytes());
        out.extend_from_slice(&c.local_deletion_time.to_be_bytes());
    }
}

struct Cursor<'a> {
    b: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&[u8], DecodeError> {
        let end = self.pos.checked_add(n).filter(|e| *e <= self.b.len());
        let Some(end) = end else { return Err(DecodeError { offset: self.pos, what }) };
        let s = &self.b[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], DecodeError> {
        let s = self.take(N, what)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        Ok(self.array::<1>(what)?[0])
    }

    fn flag(&mut self, what: &'static str) -> Result<bool, DecodeError> {
        let at = self.pos;
        match self.u8(what)? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(DecodeError { offset: at, what }),
        }
    }

    fn u16(&mut self, what: &'static str) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.array(what)?))
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array(what)?))
    }

    fn i32(&mut self, what: &'static str) -> Result<i32, DecodeError> {
        Ok(i32::from_be_bytes(self.array(what)?))
    }

    fn i64(&mut self, what: &'static str) -> Result<i64, DecodeError> {
        Ok(i64::from_be_bytes(self.array(what)?))
    }

    fn bytes(&mut self, what: &'static str) -> Result<Vec<u8>, DecodeError> {
        let n = self.u32(what)? as usize;
        Ok(self.take(n, what)?.to_vec())
    }

    /// A count of items each at least `min` bytes long, checked against what is left.
    fn count(&mut self, n: usize, min: usize, what: &'static str) -> Result<usize, DecodeError> {
        if n.saturating_mul(min) > self.b.len() - self.pos {
            return Err(DecodeError { offset: self.pos, what });
        }
        Ok(n)
    }

    fn deletion(&mut self) -> Result<DeletionTime, DecodeError> {
        let marked_for_delete_at = self.i64("a deletion's timestamp")?;
        let local_deletion_time = self.i64("a deletion's local deletion time")?;
        Ok(DeletionTime { marked_for_delete_at, local_deletion_time })
    }

    fn clustering(&mut self) -> Result<Clustering, DecodeError> {
        let n = self.u16("a clustering's length")? as usize;
        let n = self.count(n, 1, "a clustering longer than the bytes hold")?;
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(if self.flag("a clustering component's null flag")? {
                Some(self.bytes("a clustering component")?)
            } else {
                None
            });
        }
        Ok(out)
    }

    fn row(&mut self) -> Result<Row, DecodeError> {
        let mut r = Row::new(self.clustering()?);
        r.liveness = LivenessInfo {
            timestamp: self.i64("a row marker's timestamp")?,
            ttl: self.i32("a row marker's ttl")?,
            local_expiration_time: self.i64("a row marker's expiration")?,
        };
        r.deletion = self.deletion()?;
        let n = self.u16("the complex deletion count")? as usize;
        for _ in 0..self.count(n, 18, "more complex deletions than the bytes hold")? {
            let column = self.u16("a complex deletion's column")?;
            r.complex_deletions.push((column, self.deletion()?));
        }
        let n = self.u32("the cell count")? as usize;
        for _ in 0..self.count(n, 27, "more cells than the bytes hold")? {
            let column = self.u16("a cell's column")?;
            let at = self.pos;
            let flags = self.u8("a cell's flags")?;
            if flags & !3 != 0 {
                return Err(DecodeError { offset: at, what: "a cell's flags (unknown bits set)" });
            }
            let path = if flags & 2 != 0 { Some(self.bytes("a cell path")?) } else { None };
            let value = self.bytes("a cell value")?;
            r.cells.push(OwnedCell {
                column,
                path,
                value,
                timestamp: self.i64("a cell's timestamp")?,
                ttl: self.i32("a cell's ttl")?,
                local_deletion_time: self.i64("a cell's local deletion time")?,
                tombstone: flags & 1 != 0,
            });
        }
        Ok(r)
    }

    fn mutation(&mut self) -> Result<Mutation, DecodeError> {
        let table_id = self.array::<16>("a table id")?;
        let mut p = Partition::new(self.bytes("a partition key")?);
        p.deletion = self.deletion()?;
        if self.flag("the static row flag")? {
            p.static_row = Some(self.row()?);
        }
        let n = self.u32("the row count")? as usize;
        for _ in 0..self.count(n, 48, "more rows than the bytes hold")? {
            let r = self.row()?;
            p.rows.insert(r.clustering.clone(), r);
        }
        let n = self.u32("the range tombstone count")? as usize;
        for _ in 0..self.count(n, 22, "more range tombstones than the bytes hold")? {
            let start = self.clustering()?;
            let start_inclusive = self.flag("a range start's inclusive flag")?;
            let end = self.clustering()?;
            let end_inclusive = self.flag("a range end's inclusive flag")?;
            let deletion = self.deletion()?;
            p.range_tombstones.push(RangeTombstone { start, start_inclusive, end, end_inclusive, deletion });
        }
        Ok(Mutation { table_id, partition: p })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<Mutation> {
        let mut p = Partition::new(b"key".to_vec());
        p.delete(DeletionTime { marked_for_delete_at: 5, local_deletion_time: 100 });
        p.static_mut().add_cell(OwnedCell::live(0, None, b"s".to_vec(), 9));
        let r = p.row_mut(&[Some(b"a".to_vec()), None]);
        r.add_liveness(LivenessInfo { timestamp: 10, ttl: 60, local_expiration_time: 160 });
        r.add_cell(OwnedCell::expiring(1, Some(vec![0, 1]), b"v".to_vec(), 10, 60, 100));
        r.add_cell(OwnedCell::tombstone(2, None, 11, 100));
        r.delete_column(3, DeletionTime { marked_for_delete_at: 9, local_deletion_time: 100 });
        p.range_tombstones.push(RangeTombstone {
            start: vec![Some(b"b".to_vec())],
            start_inclusive: true,
            end: vec![],
            end_inclusive: false,
            deletion: DeletionTime { marked_for_delete_at: 12, local_deletion_time: 101 },
        });
        vec![
            Mutation { table_id: [7; 16], partition: p },
            Mutation { table_id: [8; 16], partition: Partition::new(vec![]) },
        ]
    }

    #[test]
    fn mutations_round_trip() {
        let ms = sample();
        let mut b = Vec::new();
        encode_all(&ms, &mut b);
        assert_eq!(decode_all(&b).expect("decode"), ms);
    }

    #[test]
    fn every_truncation_and_flipped_flag_is_a_located_error() {
        let mut b = Vec::new();
        encode_all(&sample(), &mut b);
        for n in 0..b.len() {
            let e = decode_all(&b[..n]).expect_err("truncated");
            assert!(e.offset <= n, "{e} at a cut of {n}");
        }
        let mut longer = b.clone();
        longer.push(0);
        assert_eq!(decode_all(&longer).expect_err("trailing").what, "bytes after the last mutation");
        // No single flipped byte panics or allocates without bound.
        for i in 0..b.len() {
            let mut c = b.clone();
            c[i] ^= 0xff;
            let _ = decode_all(&c);
        }
    }

    #[test]
    fn merging_reconciles_and_is_idempotent() {
        let m = sample().remove(0);
        let mut into = Partition::new(b"key".to_vec());
        into.row_mut(&[Some(b"a".to_vec()), None]).add_cell(OwnedCell::live(2, None, b"new".to_vec(), 50));
        merge(&mut into, m.partition.clone());
        let once = into.clone();
        merge(&mut into, m.partition);
        assert_eq!(into, once, "applying the same mutation twice changes nothing");
        let row = &into.rows[&vec![Some(b"a".to_vec()), None]];
        let c2 = row.cells.iter().find(|c| c.column == 2).expect("cell 2");
        assert_eq!((c2.value.as_slice(), c2.timestamp), (&b"new"[..], 50), "the newer cell wins over the tombstone");
        assert_eq!(into.deletion.marked_for_delete_at, 5);
        assert_eq!(into.range_tombstones.len(), 1);
    }
}
