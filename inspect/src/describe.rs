//! `cairn describe`: the index-side components as JSON — TOC, CompressionInfo.db, Summary.db,
//! Filter.db parameters, and every Index.db entry with its promoted index.
//!
//! A key or a clustering value that does not decode as its column's type is shown in hex (an
//! Index.db entry's `key_hex` always has the key's bytes), and counted, as `dump` counts them:
//! one warning on stderr per SSTable says how many, with the Index.db offset of the first.

use std::io::Write;

use cairn_format::clustering::{BoundKind, ClusteringBound};
use cairn_format::deletion::DeletionTime;
use cairn_format::sstable::SsTable;
use cairn_format::statistics::SerializationHeader;
use cairn_format::types::render::{get_string_checked, hex};
use serde_json::{Value, json};

use crate::InspectError;
use crate::dump::Renderer;

/// What `describe` counts when it shows it in hex ([`crate::ShownInHex`]), warned about once
/// per SSTable with the Index.db offset of the first entry with one.
type Undecoded = crate::ShownInHex<3>;
const INDEX_KEYS: usize = 0;
const SUMMARY_KEYS: usize = 1;
const CLUSTERING_VALUES: usize = 2;

impl Undecoded {
    const NONE: Undecoded = Undecoded::new(["Index.db key", "Summary.db key", "promoted index clustering value"]);
}

fn bound_json(table: &SsTable, b: &ClusteringBound, undecoded: &mut u64) -> Value {
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
            Some(v) => {
                let ty = table.header.clustering_types.get(i).unwrap_or(&cairn_format::types::CqlType::Blob);
                let (text, decoded) = get_string_checked(ty, v);
                *undecoded += u64::from(!decoded);
                Value::String(text)
            }
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

fn key_json(header: &SerializationHeader, key: &[u8], undecoded: &mut u64) -> Value {
    let (strings, decoded) = Renderer::key_strings_checked(header, key);
    *undecoded += u64::from(!decoded);
    json!(strings)
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
    let mut undecoded = Undecoded::NONE;
    let summary = table.summary()?.map(|s| {
        // A key counts once, however many of the entries, the first and the last key show it.
        let mut bad = std::collections::BTreeSet::new();
        let mut shown = |k: &[u8]| {
            let mut n = 0;
            let v = key_json(&table.header, k, &mut n);
            if n > 0 {
                bad.insert(k.to_vec());
            }
            v
        };
        let v = json!({
            "min_index_interval": s.min_index_interval,
            "sampling_level": s.sampling_level,
            "size_at_full_sampling": s.size_at_full_sampling,
            "entry_count": s.entries.len(),
            "entries": s.entries.iter().map(|(k, p)| json!({ "key": shown(k), "token": table.token(k).to_string(), "index_position": p })).collect::<Vec<_>>(),
            "first_key": shown(&s.first_key),
            "last_key": shown(&s.last_key),
        });
        *undecoded.count(SUMMARY_KEYS) = bad.len() as u64;
        v
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
        let before = undecoded.total();
        let values = undecoded.count(CLUSTERING_VALUES);
        let promoted = e.promoted.as_ref().map(|p| {
            json!({
                "header_length": p.header_length,
                "deletion": deletion_json(&p.deletion),
                "blocks": p.blocks.iter().map(|b| json!({
                    "first": bound_json(table, &b.first, values),
                    "last": bound_json(table, &b.last, values),
                    "offset": b.offset,
                    "width": b.width,
                    "end_open_marker": b.end_open_marker.as_ref().map(deletion_json),
                })).collect::<Vec<_>>(),
                "offsets": p.offsets,
            })
        });
        let key = key_json(&table.header, &e.key, undecoded.count(INDEX_KEYS));
        if undecoded.total() != before {
            undecoded.note_at(e.index_position);
        }
        entries.push(json!({
            "index_position": e.index_position,
            "key": key,
            "key_hex": hex(&e.key),
            "token": table.token(&e.key).to_string(),
            "data_position": e.data_position,
            "promoted_index": promoted,
        }));
    }
    if let Some(w) = undecoded.warning(&table.descriptor.display_name(), Some("Index.db")) {
        crate::warn(&w);
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

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_format::statistics::EncodingStats;
    use cairn_format::types::CqlType;

    #[test]
    fn keys_shown_in_hex_are_counted_for_one_warning() {
        let stats = EncodingStats { min_timestamp: 0, min_local_deletion_time: 0, min_ttl: 0 };
        let header = SerializationHeader::new(stats, CqlType::Int, vec![], vec![], vec![]);
        let mut u = Undecoded::NONE;
        assert_eq!(key_json(&header, &[0, 0, 0, 7], u.count(INDEX_KEYS)), json!(["7"]));
        assert_eq!(u.warning(&"nb-1-big", Some("Index.db")), None, "a key that decodes");
        assert_eq!(key_json(&header, &[0, 7], u.count(INDEX_KEYS)), json!(["0007"]), "shown in hex");
        u.note_at(120);
        key_json(&header, &[9], u.count(SUMMARY_KEYS));
        key_json(&header, &[8], u.count(SUMMARY_KEYS));
        u.note_at(240);
        assert_eq!(
            u.warning(&"nb-1-big", Some("Index.db")).as_deref(),
            Some(
                "nb-1-big: 1 Index.db key and 2 Summary.db keys did not decode as the column types (the first \
                 at Index.db byte 120); shown in hex"
            )
        );
    }
}
