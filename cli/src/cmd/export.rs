//! `cairn export`: one dataset per table.

use std::io::Write;

use cairn_inspect::open_inputs;

use super::Outcome;
use crate::args::{ExportArgs, ExportFormat, ExportMode, ParquetCodec, parse_now, parse_size};
use crate::progress::{Counter, Progress, data_bytes};

pub fn run(a: ExportArgs, out: &mut dyn Write, progress: bool) -> anyhow::Result<Outcome> {
    let tables = open_inputs(&a.inputs.paths, &a.inputs.options())?;
    let where_token = match &a.where_token {
        None => None,
        Some(w) => {
            // Tokens may be negative: split at the ':' that follows a digit.
            let at = w
                .char_indices()
                .skip(1)
                .find(|&(_, c)| c == ':')
                .map(|(i, _)| i)
                .ok_or_else(|| anyhow::anyhow!("--where-token {w:?}: expected START:END"))?;
            Some((w[..at].to_string(), w[at + 1..].to_string()))
        }
    };
    let opts = cairn_export::ExportOptions {
        out: a.out,
        mode: match a.mode {
            ExportMode::Live => cairn_export::Mode::Live,
            ExportMode::Mutations => cairn_export::Mode::Mutations,
        },
        now_s: parse_now(a.now.as_deref())?,
        format: match a.format {
            ExportFormat::Parquet => cairn_export::Format::Parquet,
            ExportFormat::Csv => cairn_export::Format::Csv,
            ExportFormat::Ndjson => cairn_export::Format::Ndjson,
        },
        codec: match a.compression {
            ParquetCodec::Zstd => cairn_export::Codec::Zstd,
            ParquetCodec::Snappy => cairn_export::Codec::Snappy,
            ParquetCodec::Lz4 => cairn_export::Codec::Lz4,
            ParquetCodec::None => cairn_export::Codec::None,
        },
        rows_per_group: a.rows_per_group,
        max_file_bytes: a.max_file_size.as_deref().map(parse_size).transpose()?,
        columns: a.columns,
        with_writetime: a.with_writetime,
        with_ttl: a.with_ttl,
        where_token,
        token_splits: a.token_splits,
        threads: a.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from)),
        types: cairn_export::arrow::TypeOptions { uuid_as_binary: a.uuid_as_binary },
    };
    let bar = Progress::start(progress, "export", Counter::Read, Some(data_bytes(&tables)));
    let datasets = cairn_export::export(&tables, &opts);
    drop(bar);
    for s in datasets? {
        writeln!(out, "{}", s.path)?;
        eprintln!(
            "{}.{}: {} rows of {} partitions from {} SSTable(s) into {} file(s) in {:.2}s",
            s.keyspace,
            s.table,
            s.rows,
            s.partitions,
            s.sstables.len(),
            s.files.len(),
            s.seconds
        );
        if let Some(note) = s.nothing_live() {
            eprintln!("{}.{}: {note}", s.keyspace, s.table);
        }
    }
    Ok(Outcome::Ok)
}
