//! Data.db decoding: partitions, rows, markers, cells and every value, under several headers.
#![no_main]

use std::path::Path;
use std::sync::Arc;

use cairn_format::data::scanner::Scanner;
use cairn_format::data::source::{DataSource, Layout};
use cairn_format::statistics::{EncodingStats, HeaderColumn, SerializationHeader};
use cairn_format::types::CqlType;
use cairn_format::types::value::decode;
use cairn_format::Version;
use libfuzzer_sys::fuzz_target;

fn col(name: &str, marshal: &str) -> HeaderColumn {
    let ty = CqlType::parse_marshal(marshal).unwrap_or(CqlType::Blob);
    HeaderColumn { name: name.into(), type_string: marshal.into(), ty }
}

fn header(choice: u8) -> SerializationHeader {
    const M: &str = "org.apache.cassandra.db.marshal.";
    let t = |s: &str| format!("{M}{s}");
    let stats = EncodingStats { min_timestamp: 1_500_000_000_000_000, min_local_deletion_time: 1_500_000_000, min_ttl: 0 };
    let (key, clustering, statics, regulars) = match choice % 3 {
        0 => (t("Int32Type"), vec![t("Int32Type")], vec![], vec![col("val", &t("Int32Type"))]),
        1 => (
            format!("{M}CompositeType({M}UTF8Type,{M}Int32Type)"),
            vec![t("UTF8Type"), format!("{M}ReversedType({M}TimestampType)")],
            vec![col("s", &t("UTF8Type"))],
            vec![
                col("a", &t("LongType")),
                col("b", &t("DecimalType")),
                col("c", &format!("{M}SetType({M}Int32Type)")),
                col("d", &format!("{M}MapType({M}UTF8Type,{M}DoubleType)")),
                col("e", &format!("{M}ListType({M}BytesType)")),
            ],
        ),
        _ => (
            t("UUIDType"),
            vec![],
            vec![],
            vec![
                col("f", &format!("{M}FrozenType({M}TupleType({M}Int32Type,{M}UTF8Type))")),
                col("g", &t("CounterColumnType")),
                col("h", &format!("{M}UserType(ks,7574,61:{M}Int32Type,62:{M}DurationType)")),
            ],
        ),
    };
    let clustering_types: Vec<CqlType> = clustering.iter().map(|s| CqlType::parse_marshal(s).unwrap_or(CqlType::Blob)).collect();
    SerializationHeader {
        stats,
        key_type: CqlType::parse_marshal(&key).unwrap_or(CqlType::Blob),
        key_type_string: key,
        clustering_types,
        clustering_type_strings: clustering,
        static_columns: statics,
        regular_columns: regulars,
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&choice, rest)) = data.split_first() else { return };
    let h = Arc::new(header(choice));
    let version = if choice & 0x80 != 0 { Version::Oa } else { Version::Nb };
    let layout = Layout::Uncompressed { chunk_size: 4096, crcs: None };
    let source = DataSource::from_bytes(Path::new("fuzz-Data.db"), rest.to_vec(), layout, false);
    let mut s = Scanner::new(source, Arc::clone(&h), version);
    let mut steps = 0;
    while let Ok(Some(_)) = s.next_partition() {
        while let Ok(Some(u)) = s.next_unfiltered() {
            for c in &u.cells {
                let cols = &h.regular_columns;
                if let Some(col) = cols.get(c.column as usize) {
                    let _ = decode(&col.ty, u.value(c));
                }
            }
            steps += 1;
            if steps > 100_000 {
                return;
            }
        }
    }
});
