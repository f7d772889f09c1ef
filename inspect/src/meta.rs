//! `cairn meta`: what `sstablemetadata` shows, from Statistics.db, Summary.db and TOC.txt.
//!
//! Human output follows `sstablemetadata`'s labels and order (Cassandra 4.1
//! `tools/SSTableMetadataViewer.java`) with dates in UTC, so it is the same on every machine;
//! `--json` gives the same facts with snake_case keys named after those labels, timestamps as
//! integer microseconds and deletion times as integer seconds. Data.db is read only with
//! `--scan`.
//!
//! Like `sstablemetadata`, `meta` needs only Statistics.db: the CLI opens SSTables with
//! [`OpenOptions::metadata_only`](cairn_format::sstable::OpenOptions::metadata_only), so a
//! damaged Index.db does not stop it. Every component that fails to read (Index.db at open,
//! Summary.db for the first and last keys, the cardinality estimator) is listed in the view's
//! `problems`, printed on stderr as a warning, and makes the verb exit 1; the facts that do read
//! are printed all the same.
//!
//! Nothing checksums Summary.db, so the first and last keys it records are checked against
//! Index.db's first and last entries ([`SsTable::key_range`]); keys that are not the table's
//! ends are such a problem, and are not shown.

use std::io::Write;

use cairn_format::deletion::NO_DELETION_TIME;
use cairn_format::descriptor::Component;
use cairn_format::sstable::{OpenWarning, SsTable};
use cairn_format::statistics::{EstimatedHistogram, StatsMetadata};
use cairn_format::types::render::{format_uuid, get_string};
use serde::Serialize;

use crate::InspectError;

/// Options of `cairn meta`.
#[derive(Debug, Clone, Default)]
pub struct MetaOptions {
    /// gc_grace_seconds for the droppable estimate (default: the table's, else 0).
    pub gc_grace_seconds: Option<i64>,
    /// Current time (s).
    pub now_s: i64,
    /// Scan Data.db for exact counts.
    pub scan: bool,
    /// JSON output.
    pub json: bool,
}

/// One histogram bucket.
#[derive(Debug, Clone, Serialize)]
pub struct Bucket {
    /// Upper bound (or drop-time point).
    pub offset: i64,
    /// Count.
    pub count: i64,
}

/// Summary of an estimated histogram.
#[derive(Debug, Clone, Serialize)]
pub struct HistogramView {
    /// Non-empty buckets.
    pub buckets: Vec<Bucket>,
    /// 50th percentile.
    pub p50: i64,
    /// 75th percentile.
    pub p75: i64,
    /// 95th percentile.
    pub p95: i64,
    /// 98th percentile.
    pub p98: i64,
    /// 99th percentile.
    pub p99: i64,
    /// Minimum.
    pub min: i64,
    /// Maximum.
    pub max: i64,
    /// Whether values overflowed the last bucket.
    pub overflowed: bool,
}

impl HistogramView {
    fn of(h: &EstimatedHistogram) -> Self {
        let buckets = h
            .offsets
            .iter()
            .zip(&h.counts)
            .enumerate()
            .filter(|(i, (_, c))| **c > 0 && *i + 1 < h.counts.len())
            .map(|(i, (_, c))| Bucket { offset: h.offsets.get(i + 1).copied().unwrap_or(0), count: *c })
            .collect();
        HistogramView {
            buckets,
            p50: h.percentile(0.5),
            p75: h.percentile(0.75),
            p95: h.percentile(0.95),
            p98: h.percentile(0.98),
            p99: h.percentile(0.99),
            min: h.min(),
            max: h.max(),
            overflowed: h.overflowed(),
        }
    }
}

/// Results of `--scan`.
#[derive(Debug, Clone, Serialize, Default)]
pub struct ScanView {
    /// Uncompressed Data.db length.
    pub size: u64,
    /// Partitions.
    pub partitions: u64,
    /// Rows (static rows included).
    pub rows: u64,
    /// Tombstones (partition, row, range markers, cells).
    pub tombstones: u64,
    /// Cells.
    pub cells: u64,
    /// Top partitions by row count: (key, rows).
    pub widest_partitions: Vec<(String, u64)>,
    /// Top partitions by size: (key, bytes).
    pub largest_partitions: Vec<(String, u64)>,
    /// Top partitions by tombstones: (key, tombstones).
    pub tombstone_leaders: Vec<(String, u64)>,
}

/// Everything `meta` reports for one SSTable.
#[derive(Debug, Clone, Serialize)]
pub struct MetaView {
    /// SSTable name.
    pub sstable: String,
    /// Format version.
    pub version: String,
    /// Partitioner class.
    pub partitioner: Option<String>,
    /// Bloom filter FP chance.
    pub bloom_filter_fp_chance: Option<f64>,
    /// Smallest write timestamp (µs).
    pub min_timestamp: Option<i64>,
    /// Largest write timestamp (µs).
    pub max_timestamp: Option<i64>,
    /// Smallest local deletion time (s); null when none.
    pub min_local_deletion_time: Option<i64>,
    /// Largest local deletion time (s); null when none.
    pub max_local_deletion_time: Option<i64>,
    /// Compressor class, null when uncompressed.
    pub compressor: Option<String>,
    /// Compression ratio (compressed / uncompressed).
    pub compression_ratio: Option<f64>,
    /// Smallest TTL.
    pub min_ttl: Option<i32>,
    /// Largest TTL.
    pub max_ttl: Option<i32>,
    /// First token.
    pub first_token: Option<String>,
    /// First key.
    pub first_key: Option<String>,
    /// Last token.
    pub last_token: Option<String>,
    /// Last key.
    pub last_key: Option<String>,
    /// Smallest clustering values (md+), as strings.
    pub min_clustering_values: Vec<String>,
    /// Largest clustering values (md+), as strings.
    pub max_clustering_values: Vec<String>,
    /// gc_grace_seconds used for the droppable estimate.
    pub gc_grace_seconds: i64,
    /// Time (s) the estimate is computed at.
    pub now: i64,
    /// Estimated fraction of droppable tombstones.
    pub estimated_droppable_tombstones: Option<f64>,
    /// LCS level.
    pub sstable_level: Option<i32>,
    /// Repaired-at (ms), 0 = unrepaired.
    pub repaired_at: Option<i64>,
    /// Originating host id.
    pub originating_host_id: Option<String>,
    /// Pending repair session.
    pub pending_repair: Option<String>,
    /// Transient data.
    pub is_transient: Option<bool>,
    /// Commit-log intervals covered: [start segment, start position, end segment, end position].
    pub replay_positions_covered: Vec<[i64; 4]>,
    /// Total cells.
    pub total_columns_set: Option<i64>,
    /// Total rows.
    pub total_rows: Option<i64>,
    /// Tombstone drop-time histogram (point = local deletion time rounded up to a minute).
    pub estimated_tombstone_drop_times: Vec<Bucket>,
    /// Partition sizes (bytes).
    pub partition_size: Option<HistogramView>,
    /// Cells per partition.
    pub column_count: Option<HistogramView>,
    /// Estimated distinct partition keys.
    pub estimated_cardinality: Option<u64>,
    /// EncodingStats minimum TTL.
    pub encoding_stats_min_ttl: i32,
    /// EncodingStats minimum local deletion time.
    pub encoding_stats_min_local_deletion_time: i64,
    /// EncodingStats minimum timestamp.
    pub encoding_stats_min_timestamp: i64,
    /// Partition key type (marshal class).
    pub key_type: String,
    /// Clustering types.
    pub clustering_types: Vec<String>,
    /// Static columns: name and type, in header order.
    pub static_columns: Vec<(String, String)>,
    /// Regular columns.
    pub regular_columns: Vec<(String, String)>,
    /// Whether pre-3.0 counter shards may be present.
    pub has_legacy_counter_shards: Option<bool>,
    /// oa: fraction of the token space covered.
    pub local_token_space_coverage: Option<f64>,
    /// Components on disk.
    pub components: Vec<String>,
    /// Size of Data.db on disk.
    pub data_file_size: u64,
    /// `--scan` results.
    pub scan: Option<ScanView>,
    /// Components that failed to read (the facts above are what did read).
    pub problems: Vec<String>,
}

/// The open's warnings about components it read past (printed when the SSTable was opened).
fn open_problems(table: &SsTable) -> Vec<String> {
    table.warnings.iter().filter(|w| matches!(w, OpenWarning::Unreadable(_))).map(ToString::to_string).collect()
}

fn opt_ldt(t: i64) -> Option<i64> {
    (t != NO_DELETION_TIME).then_some(t)
}

/// Collect the view of one SSTable.
pub fn view(table: &SsTable, opts: &MetaOptions) -> Result<MetaView, InspectError> {
    let st = &table.statistics;
    let stats: Option<&StatsMetadata> = st.stats.as_ref();
    let h = &table.header;
    let gc = opts.gc_grace_seconds.or_else(|| table.schema.gc_grace_seconds()).unwrap_or(0);
    let gc_before = cairn_compact::purge::gc_before(opts.now_s, gc);
    let mut problems = open_problems(table);
    let (first_key, last_key) = match table.key_range() {
        Ok(k) => k.unzip(),
        Err(e) => {
            // An Index.db the open could not read is reported once.
            let e = e.to_string();
            if !problems.contains(&e) {
                problems.push(format!("{e}; first and last keys not shown"));
            }
            (None, None)
        }
    };
    let estimated_cardinality = table.estimated_cardinality().unwrap_or_else(|e| {
        problems.push(format!("{e}; estimated cardinality not shown"));
        None
    });
    let key_string = |k: &Vec<u8>| crate::dump::Renderer::key_strings(h, k).join(":");
    let clustering_strings = |vals: &[Vec<u8>]| -> Vec<String> {
        vals.iter()
            .enumerate()
            .map(|(i, v)| get_string(h.clustering_types.get(i).unwrap_or(&cairn_format::types::CqlType::Blob), v))
            .collect()
    };
    let data_path = table.path(Component::Data);
    let data_file_size = std::fs::metadata(&data_path).map_err(|e| cairn_format::Error::io(&data_path, e))?.len();
    let mut v = MetaView {
        sstable: table.descriptor.display_name(),
        version: table.descriptor.version.to_string(),
        partitioner: st.validation.as_ref().map(|v| v.partitioner.clone()),
        bloom_filter_fp_chance: st.validation.as_ref().map(|v| v.bloom_filter_fp_chance),
        min_timestamp: stats.map(|s| s.min_timestamp),
        max_timestamp: stats.map(|s| s.max_timestamp),
        min_local_deletion_time: stats.and_then(|s| opt_ldt(s.min_local_deletion_time)),
        max_local_deletion_time: stats.and_then(|s| opt_ldt(s.max_local_deletion_time)),
        compressor: table.compression.as_ref().map(|c| format!("org.apache.cassandra.io.compress.{}", c.class)),
        compression_ratio: stats.map(|s| s.compression_ratio).filter(|_| table.compression.is_some()),
        min_ttl: stats.map(|s| s.min_ttl),
        max_ttl: stats.map(|s| s.max_ttl),
        first_token: first_key.as_ref().map(|k| table.token(k).to_string()),
        first_key: first_key.as_ref().map(key_string),
        last_token: last_key.as_ref().map(|k| table.token(k).to_string()),
        last_key: last_key.as_ref().map(key_string),
        min_clustering_values: stats.map(|s| clustering_strings(&s.min_clustering_values)).unwrap_or_default(),
        max_clustering_values: stats.map(|s| clustering_strings(&s.max_clustering_values)).unwrap_or_default(),
        gc_grace_seconds: gc,
        now: opts.now_s,
        estimated_droppable_tombstones: stats.map(|s| s.estimated_droppable_tombstone_ratio(gc_before)),
        sstable_level: stats.map(|s| s.sstable_level),
        repaired_at: stats.map(|s| s.repaired_at),
        originating_host_id: stats.and_then(|s| s.originating_host_id).map(|u| format_uuid(&u)),
        pending_repair: stats.and_then(|s| s.pending_repair).map(|u| format_uuid(&u)),
        is_transient: stats.filter(|_| table.descriptor.version.has_is_transient()).map(|s| s.is_transient),
        replay_positions_covered: stats
            .map(|s| {
                s.commit_log_intervals
                    .iter()
                    .map(|(a, b)| [a.segment_id, i64::from(a.position), b.segment_id, i64::from(b.position)])
                    .collect()
            })
            .unwrap_or_default(),
        total_columns_set: stats.map(|s| s.total_columns_set),
        total_rows: stats.map(|s| s.total_rows),
        estimated_tombstone_drop_times: stats
            .map(|s| s.tombstone_histogram.bins.iter().map(|&(p, c)| Bucket { offset: p, count: c }).collect())
            .unwrap_or_default(),
        partition_size: stats.map(|s| HistogramView::of(&s.partition_sizes)),
        column_count: stats.map(|s| HistogramView::of(&s.cell_counts)),
        estimated_cardinality,
        encoding_stats_min_ttl: h.stats.min_ttl,
        encoding_stats_min_local_deletion_time: i64::from(h.stats.min_local_deletion_time as i32),
        encoding_stats_min_timestamp: h.stats.min_timestamp,
        key_type: h.key_type_string.clone(),
        clustering_types: h.clustering_type_strings.clone(),
        static_columns: h.static_columns.iter().map(|c| (c.name.clone(), c.type_string.clone())).collect(),
        regular_columns: h.regular_columns.iter().map(|c| (c.name.clone(), c.type_string.clone())).collect(),
        has_legacy_counter_shards: stats.map(|s| s.has_legacy_counter_shards),
        local_token_space_coverage: stats.and_then(|s| s.token_space_coverage),
        components: table.present.iter().map(|c| c.suffix().to_string()).collect(),
        data_file_size,
        scan: None,
        problems,
    };
    if opts.scan {
        v.scan = Some(scan(table, opts.now_s)?);
    }
    Ok(v)
}

fn scan(table: &SsTable, _now: i64) -> Result<ScanView, InspectError> {
    let mut s = ScanView { size: table.data_length()?, ..Default::default() };
    let mut per: Vec<(String, u64, u64, u64)> = Vec::new();
    let mut scanner = table.scanner()?;
    while let Some(p) = scanner.next_partition()? {
        let key = crate::dump::Renderer::key_strings(&table.header, &p.key).join(":");
        let start = p.position;
        let mut rows = 0u64;
        let mut tombs = u64::from(!p.deletion.is_live());
        if let Some(st) = scanner.static_row() {
            rows += 1;
            s.cells += st.cells.len() as u64;
            tombs += st.cells.iter().filter(|c| c.is_tombstone()).count() as u64;
        }
        while let Some(u) = scanner.next_unfiltered()? {
            if u.is_marker() {
                tombs += 1;
                continue;
            }
            rows += 1;
            s.cells += u.cells.len() as u64;
            tombs += u.cells.iter().filter(|c| c.is_tombstone()).count() as u64
                + u64::from(!u.deletion.is_live())
                + u64::from(!u.shadowable_deletion.is_live());
        }
        let size = scanner.offset() - start;
        s.partitions += 1;
        s.rows += rows;
        s.tombstones += tombs;
        per.push((key, rows, size, tombs));
    }
    let top = |per: &mut Vec<(String, u64, u64, u64)>, f: fn(&(String, u64, u64, u64)) -> u64| -> Vec<(String, u64)> {
        per.sort_by(|a, b| f(b).cmp(&f(a)).then_with(|| a.0.cmp(&b.0)));
        per.iter().filter(|x| f(x) > 0).take(5).map(|x| (x.0.clone(), f(x))).collect()
    };
    s.widest_partitions = top(&mut per, |x| x.1);
    s.largest_partitions = top(&mut per, |x| x.2);
    s.tombstone_leaders = top(&mut per, |x| x.3);
    Ok(s)
}

fn date_s(s: i64) -> String {
    cairn_format::types::render::format_timestamp_ms(s.saturating_mul(1000))
        .replace(".000Z", " UTC")
        .replace('Z', " UTC")
}

fn date_us(us: i64) -> String {
    date_s(us.div_euclid(1_000_000))
}

fn histogram_text(out: &mut String, title: &str, h: &HistogramView) {
    use std::fmt::Write as _;
    let width = h.buckets.iter().map(|b| b.offset.to_string().len()).max().unwrap_or(0).max(title.len());
    let total: i64 = h.buckets.iter().map(|b| b.count).sum();
    let _ = writeln!(out, "   {title:<width$} | Count");
    for b in &h.buckets {
        let pct = if total > 0 { 100 * b.count / total } else { 0 };
        let _ = writeln!(out, "   {:<width$} | {:>5} ({pct:>3}%)", b.offset, b.count);
    }
    let _ = writeln!(out, "   Percentiles");
    for (label, v) in [
        ("50th", h.p50),
        ("75th", h.p75),
        ("95th", h.p95),
        ("98th", h.p98),
        ("99th", h.p99),
        ("Min", h.min),
        ("Max", h.max),
    ] {
        let _ = writeln!(out, "   {label:<10}{v}");
    }
}

/// Human-readable text of a view.
pub fn text(v: &MetaView) -> String {
    use std::fmt::Write as _;
    let mut o = String::new();
    let mut f = |name: &str, value: String| {
        let _ = writeln!(o, "{name}: {value}");
    };
    f("SSTable", v.sstable.clone());
    f("Version", v.version.clone());
    if let Some(p) = &v.partitioner {
        f("Partitioner", p.clone());
    }
    if let Some(p) = v.bloom_filter_fp_chance {
        f("Bloom Filter FP chance", cairn_format::types::render::java_double_string(p));
    }
    if let (Some(a), Some(b)) = (v.min_timestamp, v.max_timestamp) {
        f("Minimum timestamp", format!("{a} ({})", date_us(a)));
        f("Maximum timestamp", format!("{b} ({})", date_us(b)));
    }
    let ldt = |t: Option<i64>| t.map_or("no tombstones".to_string(), |t| format!("{t} ({})", date_s(t)));
    f("SSTable min local deletion time", ldt(v.min_local_deletion_time));
    f("SSTable max local deletion time", ldt(v.max_local_deletion_time));
    f("Compressor", v.compressor.clone().unwrap_or_else(|| "-".into()));
    if let Some(r) = v.compression_ratio {
        f("Compression ratio", cairn_format::types::render::java_double_string(r));
    }
    if let (Some(a), Some(b)) = (v.min_ttl, v.max_ttl) {
        f("TTL min", a.to_string());
        f("TTL max", b.to_string());
    }
    if let (Some(t), Some(k)) = (&v.first_token, &v.first_key) {
        f("First token", format!("{t} ({k})"));
    }
    if let (Some(t), Some(k)) = (&v.last_token, &v.last_key) {
        f("Last token", format!("{t} ({k})"));
    }
    f("minClusteringValues", format!("[{}]", v.min_clustering_values.join(", ")));
    f("maxClusteringValues", format!("[{}]", v.max_clustering_values.join(", ")));
    if let Some(d) = v.estimated_droppable_tombstones {
        f(
            "Estimated droppable tombstones",
            format!(
                "{} (gc_grace_seconds {} at {})",
                cairn_format::types::render::java_double_string(d),
                v.gc_grace_seconds,
                date_s(v.now)
            ),
        );
    }
    if let Some(l) = v.sstable_level {
        f("SSTable Level", l.to_string());
    }
    if let Some(r) = v.repaired_at {
        f("Repaired at", if r == 0 { "0".into() } else { format!("{r} ({})", date_s(r / 1000)) });
    }
    f("Originating host id", v.originating_host_id.clone().unwrap_or_else(|| "--".into()));
    f("Pending repair", v.pending_repair.clone().unwrap_or_else(|| "--".into()));
    f(
        "Replay positions covered",
        format!(
            "{{{}}}",
            v.replay_positions_covered
                .iter()
                .map(|p| format!(
                    "CommitLogPosition(segmentId={}, position={})=CommitLogPosition(segmentId={}, position={})",
                    p[0], p[1], p[2], p[3]
                ))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    );
    if let Some(t) = v.total_columns_set {
        f("totalColumnsSet", t.to_string());
    }
    if let Some(t) = v.total_rows {
        f("totalRows", t.to_string());
    }
    f("Estimated tombstone drop times", String::new());
    let mut body = String::new();
    for b in &v.estimated_tombstone_drop_times {
        let _ = writeln!(body, "   {} ({}) | {}", b.offset, date_s(b.offset), b.count);
    }
    o.push_str(&body);
    if let Some(h) = &v.partition_size {
        let _ = writeln!(o, "Partition Size: ");
        histogram_text(&mut o, "Size (bytes)", h);
    }
    if let Some(h) = &v.column_count {
        let _ = writeln!(o, "Column Count: ");
        histogram_text(&mut o, "Columns", h);
    }
    let mut f = |name: &str, value: String| {
        let _ = writeln!(o, "{name}: {value}");
    };
    if let Some(c) = v.estimated_cardinality {
        f("Estimated cardinality", c.to_string());
    }
    f("EncodingStats minTTL", v.encoding_stats_min_ttl.to_string());
    f(
        "EncodingStats minLocalDeletionTime",
        format!("{} ({})", v.encoding_stats_min_local_deletion_time, date_s(v.encoding_stats_min_local_deletion_time)),
    );
    f(
        "EncodingStats minTimestamp",
        format!("{} ({})", v.encoding_stats_min_timestamp, date_us(v.encoding_stats_min_timestamp)),
    );
    f("KeyType", v.key_type.clone());
    f("ClusteringTypes", format!("[{}]", v.clustering_types.join(", ")));
    let cols = |c: &[(String, String)]| c.iter().map(|(n, t)| format!("{n}:{t}")).collect::<Vec<_>>().join(", ");
    f("StaticColumns", cols(&v.static_columns));
    f("RegularColumns", cols(&v.regular_columns));
    if let Some(t) = v.is_transient {
        f("IsTransient", t.to_string());
    }
    if let Some(c) = v.local_token_space_coverage {
        f("Local token space coverage", cairn_format::types::render::java_double_string(c));
    }
    if let Some(s) = &v.scan {
        f("Size", s.size.to_string());
        f("Partitions", s.partitions.to_string());
        f("Rows", s.rows.to_string());
        f("Tombstones", s.tombstones.to_string());
        f("Cells", s.cells.to_string());
        let list = |l: &[(String, u64)]| l.iter().map(|(k, n)| format!("\n  [{k}] {n}")).collect::<String>();
        f("Widest Partitions", list(&s.widest_partitions));
        f("Largest Partitions", list(&s.largest_partitions));
        f("Tombstone Leaders", list(&s.tombstone_leaders));
    }
    o
}

/// Write `meta` for every table; `Ok(false)` when some component failed to read (see the
/// module docs). Problems the open did not already report are printed on stderr.
pub fn meta(tables: &[SsTable], opts: &MetaOptions, out: &mut dyn Write) -> Result<bool, InspectError> {
    let views: Vec<MetaView> = tables.iter().map(|t| view(t, opts)).collect::<Result<_, _>>()?;
    for (t, v) in tables.iter().zip(&views) {
        for p in v.problems.iter().skip(open_problems(t).len()) {
            crate::warn(p);
        }
    }
    if opts.json {
        let text = if views.len() == 1 {
            serde_json::to_string_pretty(&views[0])
        } else {
            serde_json::to_string_pretty(&views)
        }
        .unwrap_or_default();
        out.write_all(text.as_bytes()).map_err(InspectError::Output)?;
        out.write_all(b"\n").map_err(InspectError::Output)?;
    } else {
        for (i, v) in views.iter().enumerate() {
            if i > 0 {
                out.write_all(b"\n").map_err(InspectError::Output)?;
            }
            out.write_all(text(v).as_bytes()).map_err(InspectError::Output)?;
        }
    }
    Ok(views.iter().all(|v| v.problems.is_empty()))
}
