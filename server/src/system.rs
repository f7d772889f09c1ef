//! The system tables drivers and cqlsh read: `system.local`, `system.peers`,
//! `system.peers_v2` and the `system_schema` tables, built from the node's state on each read
//! (Cassandra 4.0's columns and types).

use std::net::IpAddr;

use cairn_format::types::CqlType;

use crate::catalog::Catalog;
use crate::node::Shared;
use crate::values::{serialize_collection, serialize_map};

type Columns = Vec<(String, CqlType)>;
type Row = Vec<Option<Vec<u8>>>;

/// The release this node reports (drivers pick their schema queries from it).
pub const RELEASE_VERSION: &str = "4.0.11";

/// Keyspaces served by the node itself.
pub fn is_system_keyspace(ks: &str) -> bool {
    matches!(ks, "system" | "system_schema" | "system_auth" | "system_distributed" | "system_traces")
}

fn text() -> CqlType {
    CqlType::Text
}

fn set_text() -> CqlType {
    CqlType::Set { elem: Box::new(CqlType::Text), frozen: false }
}

fn map_text() -> CqlType {
    CqlType::Map { key: Box::new(CqlType::Text), value: Box::new(CqlType::Text), frozen: true }
}

fn list_text() -> CqlType {
    CqlType::List { elem: Box::new(CqlType::Text), frozen: true }
}

fn cols(spec: &[(&str, CqlType)]) -> Columns {
    spec.iter().map(|(n, t)| ((*n).to_string(), t.clone())).collect()
}

/// The columns of a system table.
pub fn columns(ks: &str, table: &str) -> Option<Columns> {
    Some(match (ks, table) {
        ("system", "local") => cols(&[
            ("key", text()),
            ("bootstrapped", text()),
            ("broadcast_address", CqlType::Inet),
            ("broadcast_port", CqlType::Int),
            ("cluster_name", text()),
            ("cql_version", text()),
            ("data_center", text()),
            ("gossip_generation", CqlType::Int),
            ("host_id", CqlType::Uuid),
            ("listen_address", CqlType::Inet),
            ("listen_port", CqlType::Int),
            ("native_protocol_version", text()),
            ("partitioner", text()),
            ("rack", text()),
            ("release_version", text()),
            ("rpc_address", CqlType::Inet),
            ("rpc_port", CqlType::Int),
            ("schema_version", CqlType::Uuid),
            ("tokens", set_text()),
        ]),
        ("system", "peers") => cols(&[
            ("peer", CqlType::Inet),
            ("data_center", text()),
            ("host_id", CqlType::Uuid),
            ("preferred_ip", CqlType::Inet),
            ("rack", text()),
            ("release_version", text()),
            ("rpc_address", CqlType::Inet),
            ("schema_version", CqlType::Uuid),
            ("tokens", set_text()),
        ]),
        ("system", "peers_v2") => cols(&[
            ("peer", CqlType::Inet),
            ("peer_port", CqlType::Int),
            ("data_center", text()),
            ("host_id", CqlType::Uuid),
            ("native_address", CqlType::Inet),
            ("native_port", CqlType::Int),
            ("preferred_ip", CqlType::Inet),
            ("preferred_port", CqlType::Int),
            ("rack", text()),
            ("release_version", text()),
            ("schema_version", CqlType::Uuid),
            ("tokens", set_text()),
        ]),
        ("system_schema", "keyspaces") => {
            cols(&[("keyspace_name", text()), ("durable_writes", CqlType::Boolean), ("replication", map_text())])
        }
        ("system_schema", "tables") => cols(&[
            ("keyspace_name", text()),
            ("table_name", text()),
            ("additional_write_policy", text()),
            ("bloom_filter_fp_chance", CqlType::Double),
            ("caching", map_text()),
            ("cdc", CqlType::Boolean),
            ("comment", text()),
            ("compaction", map_text()),
            ("compression", map_text()),
            ("crc_check_chance", CqlType::Double),
            ("dclocal_read_repair_chance", CqlType::Double),
            ("default_time_to_live", CqlType::Int),
            ("extensions", CqlType::Map { key: Box::new(text()), value: Box::new(CqlType::Blob), frozen: true }),
            ("flags", CqlType::Set { elem: Box::new(text()), frozen: true }),
            ("gc_grace_seconds", CqlType::Int),
            ("id", CqlType::Uuid),
            ("max_index_interval", CqlType::Int),
            ("memtable_flush_period_in_ms", CqlType::Int),
            ("min_index_interval", CqlType::Int),
            ("read_repair", text()),
            ("read_repair_chance", CqlType::Double),
            ("speculative_retry", text()),
        ]),
        ("system_schema", "columns") => cols(&[
            ("keyspace_name", text()),
            ("table_name", text()),
            ("column_name", text()),
            ("clustering_order", text()),
            ("column_name_bytes", CqlType::Blob),
            ("kind", text()),
            ("position", CqlType::Int),
            ("type", text()),
        ]),
        ("system_schema", "types") => cols(&[
            ("keyspace_name", text()),
            ("type_name", text()),
            ("field_names", list_text()),
            ("field_types", list_text()),
        ]),
        ("system_schema", "functions") => cols(&[
            ("keyspace_name", text()),
            ("function_name", text()),
            ("argument_types", list_text()),
            ("argument_names", list_text()),
            ("body", text()),
            ("called_on_null_input", CqlType::Boolean),
            ("language", text()),
            ("return_type", text()),
        ]),
        ("system_schema", "aggregates") => cols(&[
            ("keyspace_name", text()),
            ("aggregate_name", text()),
            ("argument_types", list_text()),
            ("final_func", text()),
            ("initcond", text()),
            ("return_type", text()),
            ("state_func", text()),
            ("state_type", text()),
        ]),
        ("system_schema", "triggers") => cols(&[
            ("keyspace_name", text()),
            ("table_name", text()),
            ("trigger_name", text()),
            ("options", map_text()),
        ]),
        ("system_schema", "indexes") => cols(&[
            ("keyspace_name", text()),
            ("table_name", text()),
            ("index_name", text()),
            ("kind", text()),
            ("options", map_text()),
        ]),
        ("system_schema", "views") => cols(&[
            ("keyspace_name", text()),
            ("view_name", text()),
            ("base_table_id", CqlType::Uuid),
            ("base_table_name", text()),
            ("id", CqlType::Uuid),
            ("include_all_columns", CqlType::Boolean),
            ("where_clause", text()),
        ]),
        _ => return None,
    })
}

fn t(s: &str) -> Option<Vec<u8>> {
    Some(s.as_bytes().to_vec())
}

fn int(v: i32) -> Option<Vec<u8>> {
    Some(v.to_be_bytes().to_vec())
}

fn double(v: f64) -> Option<Vec<u8>> {
    Some(v.to_be_bytes().to_vec())
}

fn inet(ip: IpAddr) -> Option<Vec<u8>> {
    Some(match ip {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    })
}

fn map(pairs: &[(&str, &str)]) -> Option<Vec<u8>> {
    Some(serialize_map(pairs.iter().map(|(k, v)| (k.as_bytes(), v.as_bytes()))))
}

fn owned_map(pairs: &[(String, String)]) -> Option<Vec<u8>> {
    Some(serialize_map(pairs.iter().map(|(k, v)| (k.as_bytes(), v.as_bytes()))))
}

fn list(items: &[String]) -> Option<Vec<u8>> {
    Some(serialize_collection(items.iter().map(|s| s.as_bytes())))
}

/// The rows of a system table, or `None` when there is no such table.
pub(crate) fn table(state: &Catalog, shared: &Shared, ks: &str, name: &str) -> Option<(Columns, Vec<Row>)> {
    let columns = columns(ks, name)?;
    let mut ip = shared.config.listen.ip();
    if ip.is_unspecified() {
        ip = IpAddr::from([127, 0, 0, 1]);
    }
    let port = i32::from(shared.config.listen.port());
    let rows: Vec<Row> = match (ks, name) {
        ("system", "local") => {
            let tokens: Vec<String> = shared.tokens.iter().map(i64::to_string).collect();
            let (listen, listen_port, dc, rack) = match &shared.cluster {
                Some(c) => {
                    (c.config.storage.ip(), c.config.storage.port(), c.config.dc.as_str(), c.config.rack.as_str())
                }
                None => (ip, 7000, "datacenter1", "rack1"),
            };
            vec![vec![
                t("local"),
                t("COMPLETED"),
                inet(listen),
                int(i32::from(listen_port)),
                t(&shared.config.cluster_name),
                t("3.4.5"),
                t(dc),
                int(0),
                Some(shared.host_id.to_vec()),
                inet(listen),
                int(i32::from(listen_port)),
                t("4"),
                t("org.apache.cassandra.dht.Murmur3Partitioner"),
                t(rack),
                t(RELEASE_VERSION),
                inet(ip),
                int(port),
                Some(state.schema_version.to_vec()),
                Some(serialize_collection(tokens.iter().map(|s| s.as_bytes()))),
            ]]
        }
        ("system", peers @ ("peers" | "peers_v2")) => {
            let Some(cluster) = &shared.cluster else { return Some((columns, vec![])) };
            let view = cluster.view();
            let mut rows = Vec::new();
            for (addr, p) in view.peers.iter().filter(|(a, _)| **a != view.me) {
                let tokens: Vec<String> = p.tokens.iter().map(i64::to_string).collect();
                let tokens = Some(serialize_collection(tokens.iter().map(|s| s.as_bytes())));
                let host_id = p.host_id.map(|h| h.to_vec());
                let schema = p.schema_version.map(|v| v.to_vec());
                rows.push(if peers == "peers" {
                    vec![
                        inet(*addr),
                        t(&p.dc),
                        host_id,
                        inet(*addr),
                        t(&p.rack),
                        t(RELEASE_VERSION),
                        inet(p.rpc.ip()),
                        schema,
                        tokens,
                    ]
                } else {
                    vec![
                        inet(*addr),
                        int(i32::from(p.storage.port())),
                        t(&p.dc),
                        host_id,
                        inet(p.rpc.ip()),
                        int(i32::from(p.rpc.port())),
                        inet(*addr),
                        int(i32::from(p.storage.port())),
                        t(&p.rack),
                        t(RELEASE_VERSION),
                        schema,
                        tokens,
                    ]
                });
            }
            rows
        }
        ("system_schema", "keyspaces") => {
            let mut rows: Vec<Row> = ["system", "system_schema"]
                .iter()
                .map(|k| vec![t(k), Some(vec![1]), map(&[("class", "org.apache.cassandra.locator.LocalStrategy")])])
                .collect();
            for (k, ksp) in &state.keyspaces {
                let repl: Vec<(String, String)> = ksp
                    .replication
                    .iter()
                    .map(|(a, b)| {
                        let v = if a == "class" && !b.contains('.') {
                            format!("org.apache.cassandra.locator.{b}")
                        } else {
                            b.clone()
                        };
                        (a.clone(), v)
                    })
                    .collect();
                rows.push(vec![t(k), Some(vec![u8::from(ksp.durable_writes)]), owned_map(&repl)]);
            }
            rows
        }
        ("system_schema", "tables") => {
            let mut rows = Vec::new();
            for (k, ksp) in &state.keyspaces {
                for (tn, tb) in &ksp.tables {
                    let opt = |n: &str| tb.schema.option(n).map(str::to_string);
                    let ttl = opt("default_time_to_live").and_then(|v| v.trim().parse().ok()).unwrap_or(0);
                    let gc = opt("gc_grace_seconds").and_then(|v| v.trim().parse().ok()).unwrap_or(864_000);
                    let compaction =
                        opt("compaction").and_then(|v| cairn_format::schema::cql::parse_map(&v)).unwrap_or_else(|| {
                            vec![
                                (
                                    "class".into(),
                                    "org.apache.cassandra.db.compaction.SizeTieredCompactionStrategy".into(),
                                ),
                                ("max_threshold".into(), "32".into()),
                                ("min_threshold".into(), "4".into()),
                            ]
                        });
                    rows.push(vec![
                        t(k),
                        t(tn),
                        t("99p"),
                        double(0.01),
                        map(&[("keys", "ALL"), ("rows_per_partition", "NONE")]),
                        Some(vec![0]),
                        t(""),
                        owned_map(&compaction),
                        map(&[
                            ("chunk_length_in_kb", "16"),
                            ("class", "org.apache.cassandra.io.compress.LZ4Compressor"),
                        ]),
                        double(1.0),
                        double(0.0),
                        int(ttl),
                        Some(serialize_map(std::iter::empty())),
                        Some(serialize_collection([&b"compound"[..]].into_iter())),
                        int(gc),
                        Some(tb.id.to_vec()),
                        int(2048),
                        int(0),
                        int(128),
                        t("BLOCKING"),
                        double(0.0),
                        t("99p"),
                    ]);
                }
            }
            rows
        }
        ("system_schema", "columns") => {
            let mut rows = Vec::new();
            for (k, ksp) in &state.keyspaces {
                for (tn, tb) in &ksp.tables {
                    let mut push = |c: &cairn_format::schema::ColumnDef, kind: &str, position: i32, order: &str| {
                        rows.push(vec![
                            t(k),
                            t(tn),
                            t(&c.name),
                            t(order),
                            Some(c.name.as_bytes().to_vec()),
                            t(kind),
                            int(position),
                            t(&c.ty.to_string()),
                        ]);
                    };
                    for (i, c) in tb.schema.partition_key.iter().enumerate() {
                        push(c, "partition_key", i as i32, "none");
                    }
                    for (i, (c, desc)) in tb.schema.clustering.iter().enumerate() {
                        push(c, "clustering", i as i32, if *desc { "desc" } else { "asc" });
                    }
                    for c in &tb.schema.static_columns {
                        push(c, "static", -1, "none");
                    }
                    for c in &tb.schema.regular_columns {
                        push(c, "regular", -1, "none");
                    }
                }
            }
            rows
        }
        ("system_schema", "types") => {
            let mut rows = Vec::new();
            for (k, ksp) in &state.keyspaces {
                for ty in &ksp.types {
                    let names: Vec<String> = ty.fields.iter().map(|f| f.0.clone()).collect();
                    let types: Vec<String> = ty.fields.iter().map(|f| f.1.clone()).collect();
                    rows.push(vec![t(k), t(&ty.name), list(&names), list(&types)]);
                }
            }
            rows
        }
        _ => vec![],
    };
    Some((columns, rows))
}
