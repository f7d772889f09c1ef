//! Dataset: one table's export as one dataset at `OUT/<keyspace>/<table>/` (see the crate
//! docs for its layout). The dataset is written under a hidden `.<table>.cairn-tmp-<pid>`
//! directory and renamed into place only once complete (`_cairn_export.json` and `_SUCCESS`
//! last), so a reader never sees half a dataset; an existing non-empty dataset is never
//! overwritten, and a failed export removes its temporary directory and the directories it
//! created. The manifest `_cairn_export.json` is the [`TableSummary`] as JSON.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use arrow_schema::Schema;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use cairn_format::data::PartitionStream;
use cairn_format::partitioner::{Partitioner, Token};
use cairn_format::reconcile::Merger;
use cairn_format::sstable::SsTable;
use cairn_format::statistics::SerializationHeader;

use crate::columns::{Column, columns_of, cql_type_name, measure_numerics};
use crate::live::{Written, merger, write_live, write_live_ranges};
use crate::rows::TokenFilter;
use crate::sink::Sink;
use crate::{Codec, ColumnSummary, ExportError, ExportOptions, Format, Mode, TableSummary, mutations, write_err};

/// The keyspace and dataset name of one table's export: `<table>` for live data,
/// `<table>@<tag>` for a snapshot, `<table>@backups`, `<table>.<index>` for a secondary index;
/// `keyspace`/`table` where the layout and schema say nothing.
pub fn names_of(tables: &[SsTable]) -> (String, String) {
    match tables.first() {
        Some(first) => names_of_table(first),
        None => (String::new(), String::new()),
    }
}

/// [`names_of`] the table `sstable` belongs to.
pub(crate) fn names_of_table(sstable: &SsTable) -> (String, String) {
    let l = cairn_format::location::TableLocation::of(sstable);
    let mut table = l.table.unwrap_or_else(|| "table".into());
    if let Some(i) = &l.index {
        table = format!("{table}.{i}");
    }
    if let Some(tag) = &l.snapshot {
        table = format!("{table}@{tag}");
    }
    if l.backup {
        table.push_str("@backups");
    }
    (l.keyspace.unwrap_or_else(|| "keyspace".into()), table)
}

pub(crate) fn parse_token(p: Partitioner, s: &str) -> Result<Token, ExportError> {
    let bad = || ExportError::Tokens(format!("token {s:?} is not a {p:?} token"));
    match p {
        Partitioner::Murmur3 => s.trim().parse().map(Token::Murmur3).map_err(|_| bad()),
        Partitioner::Random => s.trim().parse().map(Token::Random).map_err(|_| bad()),
        _ => Err(ExportError::Tokens(format!("token ranges need a hashing partitioner, not {p:?}"))),
    }
}

/// A dataset directory that exists and holds anything is not written into (nothing is
/// overwritten).
pub(crate) fn refuse_existing(dir: &Path) -> Result<(), ExportError> {
    if dir.exists() && std::fs::read_dir(dir).map_err(write_err(dir))?.next().is_some() {
        return Err(ExportError::Exists { path: dir.to_path_buf() });
    }
    Ok(())
}

/// Export one table (its SSTables) as one dataset.
pub(crate) fn export_table(tables: &[SsTable], opts: &ExportOptions) -> Result<TableSummary, ExportError> {
    let started = Instant::now();
    let (keyspace, table) = names_of(tables);
    let table_name = format!("{keyspace}.{table}");
    let final_dir = opts.out.join(&keyspace).join(&table);
    refuse_existing(&final_dir)?;
    let ks_dir = opts.out.join(&keyspace);
    let created = create_dirs(&ks_dir)?;
    let tmp = ks_dir.join(format!(".{table}.cairn-tmp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let result = write_dataset(tables, opts, &tmp, &final_dir, &keyspace, &table, &table_name, started)
        .map_err(|e| e.locate(tables))
        .and_then(|summary| {
            if final_dir.exists() {
                std::fs::remove_dir(&final_dir).map_err(write_err(&final_dir))?;
            }
            std::fs::rename(&tmp, &final_dir).map_err(write_err(&final_dir))?;
            Ok(summary)
        });
    if result.is_err() {
        // A failed export leaves nothing: its hidden dataset, then the directories it created.
        let _ = std::fs::remove_dir_all(&tmp);
        remove_created(&created);
    }
    result
}

/// Create `dir` and its missing ancestors; returns those that did not exist, deepest first.
pub(crate) fn create_dirs(dir: &Path) -> Result<Vec<PathBuf>, ExportError> {
    let mut missing = Vec::new();
    let mut d = dir;
    while !d.as_os_str().is_empty()
        && std::fs::symlink_metadata(d).is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound)
    {
        missing.push(d.to_path_buf());
        match d.parent() {
            Some(p) => d = p,
            None => break,
        }
    }
    if let Err(e) = std::fs::create_dir_all(dir) {
        remove_created(&missing);
        return Err(write_err(dir)(e));
    }
    Ok(missing)
}

/// Remove directories [`create_dirs`] created, deepest first. `remove_dir` removes only an empty
/// directory, so one that something else has written into since is left alone.
pub(crate) fn remove_created(created: &[PathBuf]) {
    for d in created {
        if std::fs::remove_dir(d).is_err() {
            break;
        }
    }
}

/// What a scan of one table reads and produces: its token filter and split boundaries, its
/// columns and their Arrow schema, and the merged stream of its SSTables.
pub(crate) struct Plan {
    pub(crate) partitioner: Partitioner,
    pub(crate) filter: TokenFilter,
    pub(crate) boundaries: Vec<Token>,
    pub(crate) cols: Vec<Column>,
    pub(crate) schema: Arc<Schema>,
    pub(crate) header: SerializationHeader,
    pub(crate) merger: Merger,
}

/// Plan the scan of one table's SSTables. `measure`: first measure top-level decimal and
/// varint columns so they get fixed-width Arrow types where every value fits (the Arrow and
/// Parquet outputs; the text formats print values exactly without it).
pub(crate) fn plan(
    tables: &[SsTable],
    opts: &ExportOptions,
    table_name: &str,
    measure: bool,
) -> Result<Plan, ExportError> {
    let partitioner = tables.first().map_or(Partitioner::Murmur3, |t| t.partitioner);
    let filter = match &opts.where_token {
        None => TokenFilter::default(),
        Some((a, b)) => {
            let (start, end) = (parse_token(partitioner, a)?, parse_token(partitioner, b)?);
            // Cassandra reads (start, end] with start >= end as wrapping around the ring (all of
            // it when they are equal); exported as an empty range it would lose rows silently.
            if start >= end {
                return Err(ExportError::Tokens(format!(
                    "--where-token ({a}, {b}] wraps around the ring: export ({a}, max] and (min, {b}] apart (or the whole table without --where-token)"
                )));
            }
            TokenFilter { start: Some(start), end: Some(end) }
        }
    };
    let boundaries: Vec<Token> = match opts.token_splits {
        Some(n) if n > 1 => {
            partitioner.token_boundaries(n).map_err(|e| ExportError::Tokens(format!("{table_name}: {e}")))?
        }
        _ => vec![],
    };
    let mutations = opts.mode == Mode::Mutations;
    let numeric = if measure && !mutations {
        measure_numerics(tables, opts.now_s, &filter, table_name)?
    } else {
        BTreeMap::new()
    };
    let m = merger(tables)?;
    let header = PartitionStream::header(&m).clone();
    let cols = if mutations {
        let keys_only = ExportOptions { columns: None, with_writetime: false, with_ttl: false, ..opts.clone() };
        mutations::columns(columns_of(tables, &header, &keys_only, table_name, &numeric)?, opts.types)
    } else {
        columns_of(tables, &header, opts, table_name, &numeric)?
    };
    let schema = Arc::new(Schema::new(cols.iter().map(|c| c.field.clone()).collect::<Vec<_>>()));
    Ok(Plan { partitioner, filter, boundaries, cols, schema, header, merger: m })
}

/// Write the dataset into `dir` (the temporary directory); its manifest names `final_dir`,
/// where [`export_table`] renames it once complete.
#[allow(clippy::too_many_arguments)]
pub(crate) fn write_dataset(
    tables: &[SsTable],
    opts: &ExportOptions,
    dir: &Path,
    final_dir: &Path,
    keyspace: &str,
    table: &str,
    table_name: &str,
    started: Instant,
) -> Result<TableSummary, ExportError> {
    let Plan { partitioner, filter, boundaries, cols, schema, header, merger: mut m } =
        plan(tables, opts, table_name, opts.format == Format::Parquet)?;
    let mutations = opts.mode == Mode::Mutations;
    let codec = match opts.codec {
        Codec::Zstd => Compression::ZSTD(ZstdLevel::default()),
        Codec::Snappy => Compression::SNAPPY,
        Codec::Lz4 => Compression::LZ4_RAW,
        Codec::None => Compression::UNCOMPRESSED,
    };
    let props = WriterProperties::builder()
        .set_compression(codec)
        .set_max_row_group_row_count(Some(opts.rows_per_group.max(1)))
        .set_created_by(format!("cairn {}", env!("CARGO_PKG_VERSION")))
        .build();
    let split = opts.token_splits.is_some_and(|n| n > 1);
    let new_sink = |k: Option<usize>| Sink {
        dir: match k {
            Some(k) => dir.join(format!("token_range={k}")),
            None => dir.to_path_buf(),
        },
        rel: k.map(|k| format!("token_range={k}")).unwrap_or_default(),
        format: opts.format,
        schema: Arc::clone(&schema),
        props: props.clone(),
        max_bytes: opts.max_file_bytes,
        part: 0,
        prefix: String::new(),
        current: None,
        files: vec![],
        batches: None,
    };
    let Written { mut files, rows, partitions, read } = if mutations {
        let mut sinks: BTreeMap<usize, Sink> = BTreeMap::new();
        let w = mutations::write(
            tables,
            &cols,
            opts.now_s,
            &filter,
            &boundaries,
            &mut sinks,
            &|k| new_sink(split.then_some(k)),
            opts.rows_per_group.max(1),
        )?;
        let mut files = Vec::new();
        for sink in sinks.values_mut() {
            sink.close()?;
            files.append(&mut sink.files);
        }
        Written { files, rows: w.rows, partitions: w.partitions, read: w.partitions }
    } else if opts.threads > 1
        && boundaries.is_empty()
        && opts.where_token.is_none()
        // Ranges need a token space to divide: an order-preserving table is scanned on one thread.
        && partitioner.token_boundaries(2).is_ok()
    {
        drop(m);
        write_live_ranges(tables, &cols, &header, opts, &new_sink, table_name)?
    } else {
        write_live(&mut m, &cols, &header, opts, &filter, &boundaries, &new_sink, table_name)?
    };
    if files.is_empty() {
        // An empty table still gets a (row-less) file, so readers see its schema.
        let mut s = new_sink(split.then_some(0));
        s.open()?;
        s.close()?;
        files.append(&mut s.files);
    }
    let mut token_ranges = Vec::new();
    if split {
        let (lo, hi) = ring_ends(partitioner);
        let mut edges = vec![lo];
        edges.extend(boundaries.iter().map(|b| b.to_string()));
        edges.push(hi);
        token_ranges = edges.windows(2).map(|w| (w[0].clone(), w[1].clone())).collect();
    }
    let mut input_bytes = 0;
    for t in tables {
        input_bytes += t.data_length()?;
    }
    let summary = TableSummary {
        keyspace: keyspace.into(),
        table: table.into(),
        path: final_dir.display().to_string(),
        sstables: tables.iter().map(|t| t.path(cairn_format::Component::Data).display().to_string()).collect(),
        input_bytes,
        rows,
        partitions,
        partitions_read: read,
        files,
        schema: cols
            .iter()
            .map(|c| ColumnSummary {
                name: c.name.clone(),
                cql_type: cql_type_name(&c.ty),
                arrow_type: c.field.data_type().to_string(),
            })
            .collect(),
        token_ranges,
        now: opts.now_s,
        seconds: started.elapsed().as_secs_f64(),
    };
    let json = serde_json::to_string_pretty(&summary).unwrap_or_default();
    let p = dir.join("_cairn_export.json");
    std::fs::write(&p, json).map_err(write_err(&p))?;
    let p = dir.join("_SUCCESS");
    std::fs::write(&p, b"").map_err(write_err(&p))?;
    Ok(summary)
}

/// The ends of a partitioner's token space as the manifest prints its ranges: Murmur3's
/// `(i64::MIN, i64::MAX]`, RandomPartitioner's `(-1, 2^127]` (its tokens are |MD5| in
/// `[0, 2^127]`, -1 for the empty key; `dht/RandomPartitioner.java`).
fn ring_ends(partitioner: Partitioner) -> (String, String) {
    match partitioner {
        Partitioner::Random => ("-1".to_string(), (1u128 << 127).to_string()),
        _ => (i64::MIN.to_string(), i64::MAX.to_string()),
    }
}

#[cfg(test)]
mod ring_end_tests {
    use super::*;

    #[test]
    fn random_partitioner_ranges_end_at_two_to_the_127th() {
        assert_eq!(ring_ends(Partitioner::Random), ("-1".into(), "170141183460469231731687303715884105728".into()));
        assert_eq!(ring_ends(Partitioner::Murmur3), (i64::MIN.to_string(), i64::MAX.to_string()));
    }
}
