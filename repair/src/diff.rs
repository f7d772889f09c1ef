//! `repair diff`: compare the two sides' trees, then drill into the differing ranges down to the
//! partition and row, each difference with a [`Status`] and counts.

use std::collections::{HashMap, HashSet};
use std::io::Write;

use cairn_format::sstable::SsTable;
use cairn_format::types::CqlType;
use cairn_format::types::render::{hex, key_strings_checked};
use serde::Serialize;

use crate::*;

/// What differs about a partition (or a row).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// A has it, B has nothing (after purging).
    OnlyInA,
    /// B has it, A has nothing.
    OnlyInB,
    /// Both have it; A's newest write is newer.
    ANewer,
    /// Both have it; B's newest write is newer.
    BNewer,
    /// Both have it; A's partition deletion is newer than B's.
    DeletedInA,
    /// Both have it; B's partition deletion is newer than A's.
    DeletedInB,
    /// Both have it with the same newest timestamp but different content.
    Conflict,
}

impl Status {
    /// The status as printed.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::OnlyInA => "only in A",
            Status::OnlyInB => "only in B",
            Status::ANewer => "A newer",
            Status::BNewer => "B newer",
            Status::DeletedInA => "deleted in A",
            Status::DeletedInB => "deleted in B",
            Status::Conflict => "conflict",
        }
    }

    fn by_timestamp(a: i64, b: i64) -> Status {
        match a.cmp(&b) {
            std::cmp::Ordering::Greater => Status::ANewer,
            std::cmp::Ordering::Less => Status::BNewer,
            std::cmp::Ordering::Equal => Status::Conflict,
        }
    }
}

/// A row that differs.
#[derive(Debug, Clone, Serialize)]
pub struct RowDiff {
    /// Clustering values (`["static"]` for the static row; a marker's bound kind last).
    pub clustering: Vec<String>,
    /// What differs.
    pub status: Status,
}

/// At most this many differing rows are listed per partition (all are counted).
pub const ROWS_LISTED: usize = 10;

/// A partition that differs.
#[derive(Debug, Clone, Serialize)]
pub struct PartitionDiff {
    /// The key, one string per key column.
    pub key: Vec<String>,
    /// The Murmur3 token, as a decimal string.
    pub token: String,
    /// What differs.
    pub status: Status,
    /// Rows on A (static row included; 0 when absent).
    pub rows_a: u64,
    /// Rows on B.
    pub rows_b: u64,
    /// Cells on A.
    pub cells_a: u64,
    /// Cells on B.
    pub cells_b: u64,
    /// Rows and range-tombstone markers that differ (present on one side only, or different).
    pub rows_differing: u64,
    /// The first [`ROWS_LISTED`] of them.
    pub rows: Vec<RowDiff>,
    /// Whether `key` is the key decoded as its type: `false` when it did not decode, and
    /// `key` is its hex (written only then).
    #[serde(skip_serializing_if = "is_true")]
    pub key_decoded: bool,
    /// The serialized key, hex.
    pub key_hex: String,
    #[serde(skip)]
    pub(crate) raw_key: Vec<u8>,
}

/// The comparison of one table.
#[derive(Debug, Clone, Serialize)]
pub struct TableDiff {
    /// Keyspace.
    pub keyspace: String,
    /// Table.
    pub table: String,
    /// Index name, for a secondary index table.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<String>,
    /// `a` or `b` when only that side has the table at all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub only_in: Option<&'static str>,
    /// Tree depth used.
    pub depth: u8,
    /// Partitions hashed on A (after purging).
    pub partitions_a: u64,
    /// Partitions hashed on B.
    pub partitions_b: u64,
    /// The larger of the two: partitions compared.
    pub partitions_compared: u64,
    /// Leaves whose hashes differ.
    pub ranges_differing: u64,
    /// Their token ranges, `(left, right]`.
    pub ranges: Vec<String>,
    /// The differing partitions, in token order.
    pub differing_partitions: Vec<PartitionDiff>,
}

impl TableDiff {
    /// Whether A and B hold the same data for this table.
    pub fn identical(&self) -> bool {
        self.only_in.is_none() && self.ranges_differing == 0 && self.differing_partitions.is_empty()
    }

    /// The human summary.
    pub fn write_human(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let name = match &self.index {
            Some(i) => format!("{}.{}.{}", self.keyspace, self.table, i),
            None => format!("{}.{}", self.keyspace, self.table),
        };
        if let Some(side) = self.only_in {
            let n = if side == "a" { self.partitions_a } else { self.partitions_b };
            return writeln!(out, "{name}: only in {} ({n} partitions)", side.to_uppercase());
        }
        if self.identical() {
            return writeln!(
                out,
                "{name}: identical ({} partitions, tree depth {})",
                self.partitions_compared, self.depth
            );
        }
        writeln!(
            out,
            "{name}: {} partitions differ in {} of {} ranges (A {} partitions, B {}, tree depth {})",
            self.differing_partitions.len(),
            self.ranges_differing,
            1u64 << self.depth,
            self.partitions_a,
            self.partitions_b,
            self.depth
        )?;
        for p in &self.differing_partitions {
            let hex_note = if p.key_decoded { "" } else { " (hex: the key does not decode as its type)" };
            writeln!(
                out,
                "  key {}{hex_note} token {}: {} (rows A {} B {}, cells A {} B {}, {} rows differ)",
                p.key.join(":"),
                p.token,
                p.status.as_str(),
                p.rows_a,
                p.rows_b,
                p.cells_a,
                p.cells_b,
                p.rows_differing
            )?;
            for r in &p.rows {
                let at = if r.clustering.is_empty() { "(no clustering)".to_string() } else { r.clustering.join(":") };
                writeln!(out, "    row {at}: {}", r.status.as_str())?;
            }
            if p.rows_differing > p.rows.len() as u64 {
                writeln!(out, "    ... {} more rows", p.rows_differing - p.rows.len() as u64)?;
            }
        }
        Ok(())
    }
}

fn is_true(b: &bool) -> bool {
    *b
}

pub(crate) fn compare_rows(a: &PartitionDigest, b: &PartitionDigest) -> (u64, Vec<RowDiff>) {
    let by_pos: HashMap<&[u8], &RowDigest> = b.row_digests.iter().map(|r| (r.position.as_slice(), r)).collect();
    let in_a: HashSet<&[u8]> = a.row_digests.iter().map(|r| r.position.as_slice()).collect();
    let mut n = 0u64;
    let mut listed = Vec::new();
    let mut note = |clustering: &[String], status: Status| {
        n += 1;
        if listed.len() < ROWS_LISTED {
            listed.push(RowDiff { clustering: clustering.to_vec(), status });
        }
    };
    for r in &a.row_digests {
        match by_pos.get(r.position.as_slice()) {
            None => note(&r.clustering, Status::OnlyInA),
            Some(o) if o.hash != r.hash => note(&r.clustering, Status::by_timestamp(r.max_timestamp, o.max_timestamp)),
            Some(_) => {}
        }
    }
    for r in &b.row_digests {
        if !in_a.contains(r.position.as_slice()) {
            note(&r.clustering, Status::OnlyInB);
        }
    }
    (n, listed)
}

pub(crate) fn partition_diff(
    key_type: &CqlType,
    a: Option<&PartitionDigest>,
    b: Option<&PartitionDigest>,
) -> Option<PartitionDiff> {
    let any = a.or(b)?;
    let (status, rows_differing, rows) = match (a, b) {
        (Some(a), Some(b)) => {
            if a.hash == b.hash {
                return None;
            }
            let (n, rows) = compare_rows(a, b);
            let status = if a.deletion != b.deletion && a.deletion.supersedes(&b.deletion) {
                Status::DeletedInA
            } else if a.deletion != b.deletion && b.deletion.supersedes(&a.deletion) {
                Status::DeletedInB
            } else {
                Status::by_timestamp(a.max_timestamp, b.max_timestamp)
            };
            (status, n, rows)
        }
        (Some(a), None) => {
            let rows: Vec<RowDiff> = a
                .row_digests
                .iter()
                .take(ROWS_LISTED)
                .map(|r| RowDiff { clustering: r.clustering.clone(), status: Status::OnlyInA })
                .collect();
            (Status::OnlyInA, a.row_digests.len() as u64, rows)
        }
        (None, Some(b)) => {
            let rows: Vec<RowDiff> = b
                .row_digests
                .iter()
                .take(ROWS_LISTED)
                .map(|r| RowDiff { clustering: r.clustering.clone(), status: Status::OnlyInB })
                .collect();
            (Status::OnlyInB, b.row_digests.len() as u64, rows)
        }
        (None, None) => return None,
    };
    let (key, key_decoded) = key_strings_checked(key_type, &any.key);
    Some(PartitionDiff {
        key,
        key_decoded,
        token: any.token.to_string(),
        status,
        rows_a: a.map_or(0, |d| d.rows),
        rows_b: b.map_or(0, |d| d.rows),
        cells_a: a.map_or(0, |d| d.cells),
        cells_b: b.map_or(0, |d| d.cells),
        rows_differing,
        rows,
        key_hex: hex(&any.key),
        raw_key: any.key.clone(),
    })
}

/// Compare one table of A and B: trees first, then the partitions of the differing ranges.
pub fn diff_table(pair: &TablePair<'_>, opts: &RepairOptions) -> Result<TableDiff, RepairError> {
    let name = pair.name();
    let clock = clock_for(pair, opts);
    let depth = depth_of(pair, opts)?;
    let ta = build_tree(&pair.a, depth, clock, &name)?;
    let tb = build_tree(&pair.b, depth, clock, &name)?;
    let leaves = ta.difference(&tb).map_err(|error| RepairError::Merkle { table: name.clone(), error })?;
    let mut diff = TableDiff {
        keyspace: pair.keyspace.clone(),
        table: pair.table.clone(),
        index: pair.index.clone(),
        only_in: match (pair.a.is_empty(), pair.b.is_empty()) {
            (false, true) => Some("a"),
            (true, false) => Some("b"),
            _ => None,
        },
        depth,
        partitions_a: ta.partitions(),
        partitions_b: tb.partitions(),
        partitions_compared: ta.partitions().max(tb.partitions()),
        ranges_differing: leaves.len() as u64,
        ranges: leaves.iter().map(|l| ta.range_of(*l).to_string()).collect(),
        differing_partitions: Vec::new(),
    };
    if leaves.is_empty() {
        return Ok(diff);
    }
    let da = collect(&pair.a, clock, depth, &leaves, &name)?;
    let db = collect(&pair.b, clock, depth, &leaves, &name)?;
    let key_type = pair.a.first().or(pair.b.first()).map(|t| t.header.key_type.clone()).unwrap_or(CqlType::Blob);
    let (mut ia, mut ib) = (da.iter().peekable(), db.iter().peekable());
    loop {
        let (a, b) = match (ia.peek(), ib.peek()) {
            (None, None) => break,
            (Some(a), None) => (Some(*a), None),
            (None, Some(b)) => (None, Some(*b)),
            (Some(a), Some(b)) => match (a.token, &a.key).cmp(&(b.token, &b.key)) {
                std::cmp::Ordering::Less => (Some(*a), None),
                std::cmp::Ordering::Greater => (None, Some(*b)),
                std::cmp::Ordering::Equal => (Some(*a), Some(*b)),
            },
        };
        if a.is_some() {
            ia.next();
        }
        if b.is_some() {
            ib.next();
        }
        if let Some(p) = partition_diff(&key_type, a, b) {
            diff.differing_partitions.push(p);
        }
    }
    Ok(diff)
}

/// Compare every table A and B hold (restricted by `opts`).
pub fn diff(a: &[SsTable], b: &[SsTable], opts: &RepairOptions) -> Result<Vec<TableDiff>, RepairError> {
    pair_tables(a, b, opts)?.iter().map(|p| diff_table(p, opts)).collect()
}

#[cfg(test)]
mod tests {
    use cairn_format::deletion::DeletionTime;

    use super::*;

    fn only(key: &[u8]) -> PartitionDigest {
        PartitionDigest {
            key: key.to_vec(),
            token: 7,
            hash: cairn_format::merkle::EMPTY,
            deletion: DeletionTime::LIVE,
            rows: 0,
            cells: 0,
            max_timestamp: 0,
            row_digests: vec![],
        }
    }

    fn table(p: PartitionDiff) -> TableDiff {
        TableDiff {
            keyspace: "ks".into(),
            table: "t".into(),
            index: None,
            only_in: None,
            depth: 1,
            partitions_a: 1,
            partitions_b: 0,
            partitions_compared: 1,
            ranges_differing: 1,
            ranges: vec![],
            differing_partitions: vec![p],
        }
    }

    #[test]
    fn a_key_that_does_not_decode_is_hex_and_says_so() {
        let compound = CqlType::Composite(vec![CqlType::Int, CqlType::Text]);
        // 0x0003 'a' 'b' 'c' 0x00: one component where the key type has two.
        let bad = [0u8, 3, b'a', b'b', b'c', 0];
        let p = partition_diff(&compound, Some(&only(&bad)), None).unwrap();
        assert_eq!((p.key.clone(), p.key_decoded), (vec![hex(&bad)], false));
        let mut out = Vec::new();
        table(p.clone()).write_human(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let expected = format!("key {} (hex: the key does not decode as its type) token 7: only in A", hex(&bad));
        assert!(text.contains(&expected), "{text}");
        assert_eq!(serde_json::to_value(&p).unwrap()["key_decoded"], false);

        let good = 5i32.to_be_bytes();
        let p = partition_diff(&CqlType::Int, Some(&only(&good)), None).unwrap();
        assert_eq!((p.key.clone(), p.key_decoded), (vec!["5".to_string()], true));
        let mut out = Vec::new();
        table(p.clone()).write_human(&mut out).unwrap();
        assert!(String::from_utf8(out).unwrap().contains("key 5 token 7: only in A"));
        assert!(serde_json::to_value(&p).unwrap().get("key_decoded").is_none());
    }
}
