//! `cairn describe`: the index-side components as JSON — TOC, CompressionInfo.db, Summary.db,
//! Filter.db parameters, and every Index.db entry with its promoted index.

use std::io::Write;

use cairn_format::clustering::{BoundKind, ClusteringBound};
use cairn_format::deletion::DeletionTime;
use cairn_format::sstable::SsTable;
use cairn_format::types::render::{get_string, hex};
use serde_json::{Value, json};

use crate::InspectError;
use crate::dump::Renderer;

fn bound_json(table: &SsTable, b: &ClusteringBound) -> Value {
    let kind = match b.kind {
        BoundKind::ExclEndBound => "EXCL_END_BOUND",
        BoundKind::InclStartBound => "INCL_START_BOUND",
        BoundKind::ExclEndInclStartBoundary => "EXCL_END_INCL_START_BOUNDARY",
        BoundKind::StaticClustering => "STATIC_CLUSTERING",
        BoundKind::Clustering => "CLUSTERING",
        BoundKind::InclEndExclStartBoundary => "INCL_END_EXCL_START_BOUNDARY",
        BoundKind::InclEndBound => "INCL_END_BOUND",
        BoundKind::ExclStartBound => "EXCL_START_BOUND",
    };
    let values: Vec<Value> = b
        .values
        .iter()
        .enumerate()
        .map(|(i, v)| match v {
            None => Value::Null,
            Some(v) => Value::String(get_string(
                table.header.clustering_types.get(i).unwrap_or(&cairn_format::types::CqlType::Blob),
                v,
            )),
        })
        .collect();
    json!({ "kind": kind, "values": values })
}

fn deletion_json(d: &DeletionTime) -> Value {
    if d.is_live() {
        Value::Null
    } else {
        json!({ "marked_for_delete_at": d.marked_for_delete_at, "local_deletion_time": d.local_deletion_time })
    }
}

fn key_json(table: &SsTable, key: &[u8]) -> Value {
    json!(Renderer::key_strings(&table.header, key))
}

/// The describe document of one SSTable.
pub fn describe_one(table: &SsTable, max_index_entries: Option<usize>) -> Result<Value, InspectError> {
    let toc = table.toc.as_ref().map(|t| t.iter().map(|c| c.suffix()).collect::<Vec<_>>());
    let compression = table.compression.as_ref().map(|c| {
        json!({
            "class": c.class,
            "options": c.options.iter().map(|(k, v)| json!([k, v])).collect::<Vec<_>>(),
            "chunk_length": c.chunk_length,
            "max_compressed_length": c.max_compressed_length,
            "data_length": c.data_length,
            "chunk_count": c.chunk_offsets.len(),
            "chunk_offsets": c.chunk_offsets,
        })
    });
    let crc = table.crc.as_ref().map(|c| json!({ "chunk_size": c.chunk_size, "checksums": c.crcs }));
    let summary = table.summary()?.map(|s| {
        json!({
            "min_index_interval": s.min_index_interval,
            "sampling_level": s.sampling_level,
            "size_at_full_sampling": s.size_at_full_sampling,
            "entry_count": s.entries.len(),
            "entries": s.entries.iter().map(|(k, p)| json!({ "key": key_json(table, k), "token": table.token(k).to_string(), "index_position": p })).collect::<Vec<_>>(),
            "first_key": key_json(table, &s.first_key),
            "last_key": key_json(table, &s.last_key),
        })
    });
    let filter = table.filter()?.map(|f| {
        let bits = f.bit_count();
        let set = f.set_bits();
        json!({
            "hash_count": f.hash_count,
            "bits": bits,
            "bytes": f.bits.len(),
            "set_bits": set,
            "fill_ratio": if bits > 0 { set as f64 / bits as f64 } else { 0.0 },
            "layout": if table.descriptor.version.has_old_bf_format() { "big-endian longs (pre-4.0)" } else { "bytes (4.0+)" },
        })
    });
    let mut entries = Vec::new();
    let mut count = 0u64;
    let mut truncated = false;
    let mut idx = table.index_reader()?;
    while let Some(e) = idx.next_entry()? {
        count += 1;
        if max_index_entries.is_some_and(|m| entries.len() >= m) {
            truncated = true;
            continue;
        }
        let promoted = e.promoted.as_ref().map(|p| {
            json!({
                "header_length": p.header_length,
                "deletion": deletion_json(&p.deletion),
                "blocks": p.blocks.iter().map(|b| json!({
                    "first": bound_json(table, &b.first),
                    "last": bound_json(table, &b.last),
                    "offset": b.offset,
                    "width": b.width,
                    "end_open_marker": b.end_open_marker.as_ref().map(deletion_json),
                })).collect::<Vec<_>>(),
                "offsets": p.offsets,
            })
        });
        entries.push(json!({
            "index_position": e.index_position,
            "key": key_json(table, &e.key),
            "key_hex": hex(&e.key),
            "token": table.token(&e.key).to_string(),
            "data_position": e.data_position,
            "promoted_index": promoted,
        }));
    }
    Ok(json!({
        "sstable": table.descriptor.display_name(),
        "version": table.descriptor.version.as_str(),
        "toc": toc,
        "components_present": table.present.iter().map(|c| c.suffix()).collect::<Vec<_>>(),
        "compression_info": compression,
        "crc": crc,
        "summary": summary,
        "filter": filter,
        "index": { "entry_count": count, "entries_shown": entries.len(), "truncated": truncated, "entries": entries },
    }))
}

/// Describe every table as one JSON document (an array when several).
pub fn describe(tables: &[SsTable], max_index_entries: Option<usize>, out: &mut dyn Write) -> Result<(), InspectError> {
    let docs: Vec<Value> = tables.iter().map(|t| describe_one(t, max_index_entries)).collect::<Result<_, _>>()?;
    let v = if docs.len() == 1 { docs.into_iter().next().unwrap_or(Value::Null) } else { Value::Array(docs) };
    let s = serde_json::to_string_pretty(&v).unwrap_or_default();
    writeln!(out, "{s}").map_err(InspectError::Output)
}
