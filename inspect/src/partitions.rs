//! `cairn partitions`: the job of Cassandra's `sstablepartitions` — find the partitions of an
//! SSTable above a size, row, cell or tombstone threshold, and summarise their distribution.
//!
//! Size, rows and cells are counted as `tools/SSTablePartitions.java` (Cassandra 4.1+) counts
//! them, and the CSV has the tool's columns:
//! - **size**: bytes of the partition in the uncompressed Data.db (header, static row, rows,
//!   end marker);
//! - **rows**: rows (static row excluded); **cells**: simple cells and collection elements.
//!
//! **Tombstones** are counted in compaction's unit (`cairn_compact::purge`), so `partitions`,
//! `tombstones` and `compact run` give the same number for the same partition of an SSTable:
//! the partition deletion + row deletions (regular and shadowable, each) + range tombstones
//! (each once, at its opening bound or boundary) + complex (collection, UDT) deletions + cell
//! tombstones + expired TTL row markers + expired TTL cells (every one, whatever its row's TTL).
//! Cassandra's tool counts differently: no partition deletion, every range bound marker (two
//! per range), and only expired cells whose TTL differs from the row's; this is a choice (see
//! README), and the CSV's `tombstoneCount`, `rangeTombstoneCount` and `cellTtlExpired` carry
//! Cairn's counts. A TTL is expired at `now` when its expiry is at or before `now`.
//!
//! A partition is listed when it reaches **any** threshold given (`--min-size`, `--min-rows`,
//! `--min-cells`, `--min-tombstones`); with none, only the summary is printed. The summary's
//! percentiles come from Cassandra's estimated histograms (bucket bounds growing by 1.2, so
//! they are estimates, as in the tool), min/max/count are exact. One difference: Cassandra's
//! tool treats 0 as "no minimum yet" and so never reports a minimum of 0 once a larger value
//! follows; Cairn reports the true minimum.

use std::io::Write;

use cairn_format::Component;
use cairn_format::data::{Unfiltered, UnfilteredKind};
use cairn_format::sstable::SsTable;
use cairn_format::statistics::EstimatedHistogram;
use cairn_format::types::render::hex;
use serde::Serialize;

use crate::InspectError;
use crate::dump::Renderer;

/// What to look for.
#[derive(Debug, Clone, Default)]
pub struct PartitionsOptions {
    /// List partitions of at least this many bytes.
    pub min_size: Option<u64>,
    /// ... or this many rows.
    pub min_rows: Option<u64>,
    /// ... or this many cells.
    pub min_cells: Option<u64>,
    /// ... or this many tombstones.
    pub min_tombstones: Option<u64>,
    /// Only these partition keys.
    pub keys: Vec<String>,
    /// Skip these partition keys (they count in no statistic either, as in Cassandra).
    pub exclude: Vec<String>,
    /// "Now" for TTL expiry (s).
    pub now_s: i64,
    /// CSV (Cassandra's columns) instead of text.
    pub csv: bool,
    /// JSON (one document: per SSTable, matches and summary) instead of text.
    pub json: bool,
}

/// One partition's counts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PartitionStats {
    /// Key as CQL text (components joined by `:`).
    pub key: String,
    /// Key bytes, hex.
    pub key_hex: String,
    /// No partition deletion.
    pub live: bool,
    /// Offset in the uncompressed Data.db.
    pub offset: u64,
    /// Bytes in the uncompressed Data.db.
    pub size: u64,
    /// Rows.
    pub rows: u64,
    /// Cells.
    pub cells: u64,
    /// The partition deletion (0 or 1).
    pub partition_tombstones: u64,
    /// Row deletions (a row deleted both ways counts its regular and shadowable deletion).
    pub row_tombstones: u64,
    /// Range tombstones, each counted once at its opening bound (or boundary).
    pub range_tombstones: u64,
    /// Collection deletions.
    pub complex_tombstones: u64,
    /// Cell tombstones.
    pub cell_tombstones: u64,
    /// Rows whose TTL'd row marker has expired.
    pub row_ttl_expired: u64,
    /// Expired TTL cells.
    pub cell_ttl_expired: u64,
}

impl PartitionStats {
    /// All tombstones, in compaction's unit (see the module docs).
    pub fn tombstones(&self) -> u64 {
        self.partition_tombstones
            + self.row_tombstones
            + self.range_tombstones
            + self.complex_tombstones
            + self.cell_tombstones
            + self.row_ttl_expired
            + self.cell_ttl_expired
    }

    fn add(&mut self, u: &Unfiltered, now: i64) {
        if let UnfilteredKind::Marker(kind) = u.kind() {
            // A range counts once, where it opens; a boundary closes one range and opens the next.
            if kind.is_open() {
                self.range_tombstones += 1;
            }
            return;
        }
        self.rows += 1;
        self.row_tombstones += u64::from(!u.deletion.is_live()) + u64::from(!u.shadowable_deletion.is_live());
        let l = &u.liveness;
        if !l.is_empty() && l.is_expired(now) {
            self.row_ttl_expired += 1;
        }
        self.complex_tombstones += u.complex_deletions.iter().filter(|d| !d.deletion.is_live()).count() as u64;
        for c in &u.cells {
            self.cells += 1;
            if c.is_tombstone() {
                self.cell_tombstones += 1;
            }
            if c.is_expired(now) {
                self.cell_ttl_expired += 1;
            }
        }
    }
}

/// Cassandra's `EstimatedHistogram(n, considerZeroes = true)`, built from values.
#[derive(Debug, Clone)]
struct Histogram {
    offsets: Vec<i64>,
    counts: Vec<u64>,
}

impl Histogram {
    fn new(buckets: usize) -> Histogram {
        let mut offsets = vec![0];
        offsets.extend(EstimatedHistogram::bucket_offsets(buckets));
        let counts = vec![0; offsets.len() + 1];
        Histogram { offsets, counts }
    }

    fn add(&mut self, v: u64) {
        let v = i64::try_from(v).unwrap_or(i64::MAX);
        let i = self.offsets.partition_point(|&o| o < v);
        if let Some(c) = self.counts.get_mut(i) {
            *c += 1;
        }
    }

    fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The bucket bound at quantile `q`; `None` when a value overflowed the histogram.
    fn percentile(&self, q: f64) -> Option<i64> {
        let (overflow, buckets) = self.counts.split_last()?;
        if *overflow > 0 {
            return None;
        }
        let pc = (self.count() as f64 * q).ceil() as u64;
        if pc == 0 {
            return Some(0);
        }
        let mut seen = 0;
        for (i, c) in buckets.iter().enumerate() {
            seen += c;
            if seen >= pc {
                return self.offsets.get(i).copied();
            }
        }
        Some(0)
    }
}

/// Per-SSTable distribution.
#[derive(Debug, Clone)]
struct Summary {
    size: Histogram,
    rows: Histogram,
    cells: Histogram,
    tombstones: Histogram,
    min: [u64; 4],
    max: [u64; 4],
    count: u64,
}

impl Summary {
    fn new() -> Summary {
        // 155 buckets track sizes up to ~3.5 TB, 118 counts up to ~4 billion (as the tool).
        Summary {
            size: Histogram::new(155),
            rows: Histogram::new(118),
            cells: Histogram::new(118),
            tombstones: Histogram::new(118),
            min: [u64::MAX; 4],
            max: [0; 4],
            count: 0,
        }
    }

    fn add(&mut self, p: &PartitionStats) {
        let v = [p.size, p.rows, p.cells, p.tombstones()];
        self.size.add(p.size);
        self.rows.add(p.rows);
        self.cells.add(p.cells);
        self.tombstones.add(p.tombstones());
        for (i, x) in v.into_iter().enumerate() {
            if let Some(m) = self.min.get_mut(i) {
                *m = (*m).min(x);
            }
            if let Some(m) = self.max.get_mut(i) {
                *m = (*m).max(x);
            }
        }
        self.count += 1;
    }
}

/// The percentile rows of the summary.
const PERCENTILES: [(&str, f64); 6] =
    [("~p50", 0.5), ("~p75", 0.75), ("~p90", 0.9), ("~p95", 0.95), ("~p99", 0.99), ("~p999", 0.999)];

#[derive(Serialize)]
struct SsTableReport {
    sstable: String,
    uncompressed_bytes: u64,
    on_disk_bytes: u64,
    partitions: u64,
    matches: Vec<PartitionStats>,
    percentiles: Vec<PercentileRow>,
    min: [u64; 4],
    max: [u64; 4],
}

#[derive(Serialize)]
struct PercentileRow {
    percentile: &'static str,
    size: Option<i64>,
    rows: Option<i64>,
    cells: Option<i64>,
    tombstones: Option<i64>,
}

/// Cassandra's CSV header (`sstablepartitions --csv`).
pub const CSV_HEADER: &str = "key,keyBinary,live,offset,size,rowCount,cellCount,tombstoneCount,rowTombstoneCount,rangeTombstoneCount,complexTombstoneCount,cellTombstoneCount,rowTtlExpired,cellTtlExpired,directory,keyspace,table,index,snapshot,backup,generation,format,version";

/// Scan `tables` and report.
pub fn partitions(tables: &[SsTable], opts: &PartitionsOptions, out: &mut dyn Write) -> Result<(), InspectError> {
    let w = |out: &mut dyn Write, s: &str| out.write_all(s.as_bytes()).map_err(InspectError::Output);
    if opts.csv {
        w(out, CSV_HEADER)?;
        w(out, "\n")?;
    }
    let mut reports = Vec::new();
    for t in tables {
        let include = crate::dump::parse_keys(t, &opts.keys)?;
        let exclude = crate::dump::parse_keys(t, &opts.exclude)?;
        let data = t.path(Component::Data);
        let on_disk = std::fs::metadata(&data).map_err(|e| cairn_format::Error::io(&data, e))?.len();
        let uncompressed = t.data_length()?;
        let mut summary = Summary::new();
        let mut matches = Vec::new();
        let mut scanner = t.scanner()?;
        let header = scanner.header().clone();
        while let Some(p) = scanner.next_partition()?.cloned() {
            let skip = exclude.contains(&p.key) || (!include.is_empty() && !include.contains(&p.key));
            let mut s = PartitionStats {
                key: Renderer::key_strings(&header, &p.key).join(":"),
                key_hex: hex(&p.key),
                live: p.deletion.is_live(),
                partition_tombstones: u64::from(!p.deletion.is_live()),
                offset: p.position,
                ..Default::default()
            };
            while let Some(u) = scanner.next_unfiltered()? {
                if !skip {
                    s.add(u, opts.now_s);
                }
            }
            if skip {
                continue;
            }
            s.size = scanner.offset().saturating_sub(p.position);
            summary.add(&s);
            let hit = |v: u64, min: Option<u64>| min.is_some_and(|m| v >= m);
            if hit(s.size, opts.min_size)
                || hit(s.rows, opts.min_rows)
                || hit(s.cells, opts.min_cells)
                || hit(s.tombstones(), opts.min_tombstones)
            {
                if opts.csv {
                    w(out, &csv_line(t, &s))?;
                }
                matches.push(s);
            }
        }
        let min = if summary.count == 0 { [0; 4] } else { summary.min };
        let percentiles = PERCENTILES
            .iter()
            .map(|&(name, q)| PercentileRow {
                percentile: name,
                size: summary.size.percentile(q),
                rows: summary.rows.percentile(q),
                cells: summary.cells.percentile(q),
                tombstones: summary.tombstones.percentile(q),
            })
            .collect();
        reports.push(SsTableReport {
            sstable: data.display().to_string(),
            uncompressed_bytes: uncompressed,
            on_disk_bytes: on_disk,
            partitions: summary.count,
            matches,
            percentiles,
            min,
            max: summary.max,
        });
    }
    if opts.csv {
        return Ok(());
    }
    if opts.json {
        let text = serde_json::to_string_pretty(&reports).unwrap_or_default();
        return w(out, &format!("{text}\n"));
    }
    for r in &reports {
        w(out, &human(r))?;
    }
    Ok(())
}

/// `FBUtilities.prettyPrintMemory` with a space.
fn pretty_bytes(b: u64) -> String {
    const K: u64 = 1024;
    if b >= K * K * K {
        format!("{:.3} GiB", b as f64 / (K * K * K) as f64)
    } else if b >= K * K {
        format!("{:.3} MiB", b as f64 / (K * K) as f64)
    } else if b >= K {
        format!("{:.3} KiB", b as f64 / K as f64)
    } else {
        format!("{b} bytes")
    }
}

fn quoted_key(k: &str) -> String {
    if k.contains(' ') { format!("\"{}\"", k.replace('"', "\"\"")) } else { k.to_string() }
}

fn human(r: &SsTableReport) -> String {
    let mut s = format!(
        "\nProcessing {} ({} uncompressed, {} on disk)\n",
        r.sstable,
        pretty_bytes(r.uncompressed_bytes),
        pretty_bytes(r.on_disk_bytes)
    );
    for p in &r.matches {
        s.push_str(&format!(
            "  Partition: '{}' ({}) {}, size: {}, rows: {}, cells: {}, tombstones: {} (partition:{}, row:{}, range:{}, complex:{}, cell:{}, row-TTLd:{}, cell-TTLd:{})\n",
            p.key,
            p.key_hex,
            if p.live { "live" } else { "not live" },
            pretty_bytes(p.size),
            p.rows,
            p.cells,
            p.tombstones(),
            p.partition_tombstones,
            p.row_tombstones,
            p.range_tombstones,
            p.complex_tombstones,
            p.cell_tombstones,
            p.row_ttl_expired,
            p.cell_ttl_expired
        ));
    }
    if !r.matches.is_empty() {
        let keys: Vec<String> = r.matches.iter().map(|p| quoted_key(&p.key)).collect();
        s.push_str(&format!(
            "Summary of {}:\n  {} partitions match\n  Keys: {}\n",
            r.sstable,
            r.matches.len(),
            keys.join(" ")
        ));
    }
    s.push_str(&format!(
        "         {:>20} {:>20} {:>20} {:>20}\n",
        "Partition size", "Row count", "Cell count", "Tombstone count"
    ));
    let n = |v: Option<i64>| v.map_or_else(|| "overflow".to_string(), |v| v.to_string());
    for row in &r.percentiles {
        let size = row.size.map_or_else(|| "overflow".to_string(), |v| pretty_bytes(v.max(0) as u64));
        s.push_str(&format!(
            "  {:<5}  {:>20} {:>20} {:>20} {:>20}\n",
            row.percentile,
            size,
            n(row.rows),
            n(row.cells),
            n(row.tombstones)
        ));
    }
    for (name, v) in [("min", &r.min), ("max", &r.max)] {
        s.push_str(&format!("  {:<5}  {:>20} {:>20} {:>20} {:>20}\n", name, pretty_bytes(v[0]), v[1], v[2], v[3]));
    }
    s.push_str(&format!("  count  {:>20}\n", r.partitions));
    s
}

/// Table-directory facts for the CSV: keyspace, table, index, snapshot, backup.
fn location(t: &SsTable) -> [String; 5] {
    let l = cairn_format::location::TableLocation::of(t);
    [
        l.keyspace.unwrap_or_default(),
        l.table.unwrap_or_default(),
        l.index.unwrap_or_default(),
        l.snapshot.unwrap_or_default(),
        if l.backup { "backups".into() } else { String::new() },
    ]
}

fn csv_line(t: &SsTable, p: &PartitionStats) -> String {
    let [keyspace, table, index, snapshot, backup] = location(t);
    format!(
        "\"{}\",{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},big,{}\n",
        quoted_key(&p.key),
        p.key_hex,
        p.live,
        p.offset,
        p.size,
        p.rows,
        p.cells,
        p.tombstones(),
        p.row_tombstones,
        p.range_tombstones,
        p.complex_tombstones,
        p.cell_tombstones,
        p.row_ttl_expired,
        p.cell_ttl_expired,
        t.path(Component::Data).display(),
        keyspace,
        table,
        index,
        snapshot,
        backup,
        t.descriptor.id,
        t.descriptor.version
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_percentiles_follow_cassandras_buckets() {
        let mut h = Histogram::new(118);
        for v in [0, 1, 2, 3, 10, 100] {
            h.add(v);
        }
        // Buckets: 0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, ... (growing by 1.2).
        assert_eq!(h.percentile(0.5), Some(2));
        assert_eq!(h.percentile(0.8), Some(10));
        assert_eq!(h.percentile(1.0), Some(103), "100 falls in the bucket ending at 103");
        assert_eq!(Histogram::new(118).percentile(0.5), Some(0));
        let mut tiny = Histogram::new(3);
        tiny.add(1_000);
        assert_eq!(tiny.percentile(0.5), None, "overflowed");
    }

    #[test]
    fn sizes_print_as_cassandra_prints_them() {
        assert_eq!(pretty_bytes(999), "999 bytes");
        assert_eq!(pretty_bytes(67_200), "65.625 KiB");
        assert_eq!(pretty_bytes(3 << 20), "3.000 MiB");
    }
}
