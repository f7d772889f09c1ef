//! Counter cells merged across SSTables: shard by shard, and a context that does not decode is
//! an error naming its Data.db and row, never a merge that silently keeps the other side.

use std::path::Path;

use cairn_format::data::PartitionStream;
use cairn_format::error::{DecodeErrorKind, Error};
use cairn_format::partition::{OwnedCell, Partition};
use cairn_format::reconcile::Merger;
use cairn_format::sstable::{OpenOptions, SsTable};
use cairn_format::statistics::{EncodingStats, HeaderColumn, SerializationHeader};
use cairn_format::types::CqlType;
use cairn_format::types::value::{Value, decode};
use cairn_format::writer::{SsTableWriter, WriterOptions};

/// A counter context of one global shard.
fn global(id: u8, clock: i64, count: i64) -> Vec<u8> {
    let mut b = vec![0, 1, 0x80, 0];
    b.extend_from_slice(&[id; 16]);
    b.extend_from_slice(&clock.to_be_bytes());
    b.extend_from_slice(&count.to_be_bytes());
    b
}

fn write(dir: &Path, generation: u64, context: Vec<u8>, timestamp: i64) -> SsTable {
    let header = SerializationHeader::new(
        EncodingStats { min_timestamp: 0, min_local_deletion_time: 0, min_ttl: 0 },
        CqlType::Int,
        vec![],
        vec![],
        vec![HeaderColumn::new("hits", CqlType::Counter)],
    );
    let mut w = SsTableWriter::create(dir, generation, header, WriterOptions::default()).expect("writer");
    let mut p = Partition::new(1i32.to_be_bytes().to_vec());
    p.row_mut(&[]).add_cell(OwnedCell::live(0, None, context, timestamp));
    w.write_partition_content(&p).expect("write");
    SsTable::open_with(w.finish().expect("finish"), &OpenOptions::default()).expect("open")
}

/// The merged counter of the only row, or the first error.
fn merged(tables: &[SsTable]) -> Result<i64, Error> {
    let scanners = tables.iter().map(SsTable::scanner).collect::<Result<Vec<_>, _>>()?;
    let mut m = Merger::new(scanners, tables[0].partitioner)?;
    m.next_partition()?.expect("a partition");
    let row = m.next_unfiltered()?.expect("a row");
    let cell = row.cells.first().expect("a cell");
    match decode(&CqlType::Counter, row.value(cell)) {
        Ok(Value::Counter(n)) => Ok(n),
        other => panic!("not a counter: {other:?}"),
    }
}

#[test]
fn counter_contexts_merge_by_shard_and_a_broken_one_is_a_located_error() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let a = write(tmp.path(), 1, global(1, 1, 5), 10);
    let b = write(tmp.path(), 2, global(2, 1, 7), 20);
    assert_eq!(merged(&[a.clone(), b]).expect("merge"), 12, "two counter ids add up");
    // A context whose shard bytes are cut short.
    let mut broken = global(2, 1, 7);
    broken.truncate(20);
    let c = write(tmp.path(), 3, broken, 20);
    match merged(&[a, c.clone()]) {
        Err(Error::Corrupt { path, component: cairn_format::Component::Data, kind, .. }) => {
            assert_eq!(path, c.path(cairn_format::Component::Data));
            assert!(
                matches!(kind, DecodeErrorKind::InvalidValue { what: "counter context shard bytes", .. }),
                "{kind:?}"
            );
        }
        other => panic!("expected a located error, got {other:?}"),
    }
}
