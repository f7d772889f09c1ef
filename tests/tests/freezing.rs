//! UDT freezing from the serialization header alone (CASSANDRA-15035): a real Cassandra 3.x
//! header that declares frozen UDTs non-frozen, read as the rows decide; and a damaged copy where
//! they decide nothing, refused with an error that names the columns and the way out.

use std::path::Path;

use cairn_fixtures::corpus;
use cairn_format::descriptor::discover;
use cairn_format::error::Error;
use cairn_format::sstable::{OpenOptions, OpenWarning, SsTable};
use cairn_format::types::CqlType;

fn open(dir: &Path, opts: &OpenOptions) -> Result<SsTable, Error> {
    let d = discover(dir)?.into_iter().next().expect("an SSTable");
    SsTable::open_with(d, opts)
}

fn frozen_udt(t: &SsTable, column: &str) -> Option<bool> {
    let c = t.header.regular_columns.iter().find(|c| c.name == column)?;
    match &c.ty {
        CqlType::Udt(u) => Some(u.frozen),
        _ => None,
    }
}

#[test]
fn header_only_reads_frozen_udts_the_header_calls_non_frozen() {
    let Some(corpus) = corpus() else { return };
    let case = corpus.cases().into_iter().find(|c| c.id == "me_songs_nested_udt").expect("case");
    let t = open(&case.dir, &OpenOptions::default()).expect("open");
    assert_eq!((frozen_udt(&t, "info"), frozen_udt(&t, "tags")), (Some(true), Some(true)));
    let columns = t.warnings.iter().find_map(|w| match w {
        OpenWarning::UdtReadAsFrozen { columns, .. } => Some(columns.clone()),
        _ => None,
    });
    assert_eq!(columns, Some(vec!["info".to_string(), "tags".to_string()]));
    let text = t.warnings.iter().map(ToString::to_string).collect::<String>();
    assert!(text.contains("CASSANDRA-15035") && text.contains("--schema"), "{text}");

    // With the schema, the schema decides and nothing is guessed.
    let tmp = tempfile::tempdir().expect("tempdir");
    let schema = tmp.path().join("schema.cql");
    std::fs::write(&schema, case.schema_cql().expect("schema")).expect("write");
    let t = open(&case.dir, &OpenOptions { schema_file: Some(schema), ..Default::default() }).expect("open");
    assert_eq!((frozen_udt(&t, "info"), frozen_udt(&t, "tags")), (Some(true), Some(true)));
    assert!(t.warnings.is_empty(), "{:?}", t.warnings);
}

#[test]
fn rows_that_decode_neither_way_name_the_columns_and_the_schema() {
    let Some(corpus) = corpus() else { return };
    let case = corpus.cases().into_iter().find(|c| c.id == "me_songs_nested_udt").expect("case");
    let tmp = tempfile::tempdir().expect("tempdir");
    for e in std::fs::read_dir(&case.dir).expect("read").flatten() {
        std::fs::copy(e.path(), tmp.path().join(e.file_name())).expect("copy");
    }
    // The frozen `tags` value: its map claims 255 entries where it has 2.
    let data = tmp.path().join("me-1-big-Data.db");
    let mut bytes = std::fs::read(&data).expect("read");
    assert_eq!(&bytes[0xb9..0xbd], &[0, 0, 0, 2], "the map's entry count");
    bytes[0xbc] = 0xff;
    std::fs::write(&data, bytes).expect("write");
    // Checksums off: the question is how the rows decode, not whether CRC.db still matches.
    let opts = OpenOptions { no_verify: true, ..Default::default() };
    match open(tmp.path(), &opts) {
        Err(e @ Error::UdtFreezingUndecided { .. }) => {
            let Error::UdtFreezingUndecided { columns, error } = &e else { unreachable!() };
            assert_eq!(columns, &["info".to_string(), "tags".to_string()]);
            assert!(matches!(**error, Error::Corrupt { component: cairn_format::Component::Data, .. }), "{error}");
            let text = e.to_string();
            assert!(text.contains("info, tags") && text.contains("--schema FILE.cql"), "{text}");
        }
        other => panic!("expected UdtFreezingUndecided, got {other:?}"),
    }
    // `meta` reads past it, with a warning.
    let t = open(tmp.path(), &OpenOptions { metadata_only: true, ..opts }).expect("metadata open");
    assert!(
        t.warnings
            .iter()
            .any(|w| matches!(w, OpenWarning::Unreadable(e) if matches!(**e, Error::UdtFreezingUndecided { .. }))),
        "{:?}",
        t.warnings
    );
}
