//! Splits: token ranges covering the whole ring of a table exactly once, sized by bytes, each
//! with the SSTables holding partitions in it — the units of work of a parallel scan (each is a
//! [`crate::scan`] with `where_token` set to its range; the Python package's `splits()`).
//!
//! Ranges are Cassandra's token ranges, `(start, end]`: the first starts at the partitioner's
//! minimum token (`i64::MIN` for Murmur3, which is never a key's token; -1 for
//! RandomPartitioner), the last ends at its maximum, and each starts where the one before ends.
//! Sizes come from Summary.db: each sample (a key and its Index.db position) stands for the
//! Data.db bytes between it and the next sample, in proportion to the Index.db bytes between
//! them (index entries are as dense as partitions); an SSTable without Summary.db counts all its
//! bytes at its first key. Ranges are cut at sample tokens once they hold the target size, so a
//! split is at least that size (but for the last) unless one sample stands for more.
//! Order-preserving partitioners have no token space to divide and are refused.

use std::path::PathBuf;

use cairn_format::Component;
use cairn_format::partitioner::{Partitioner, Token};
use cairn_format::sstable::SsTable;

use crate::ExportError;

/// The target size of a split when neither a size nor a count is given: 128 MiB of Data.db
/// (Spark's default `maxPartitionBytes`).
pub const DEFAULT_SPLIT_BYTES: u64 = 128 << 20;

/// One token range of a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    /// Exclusive start.
    pub start: Token,
    /// Inclusive end.
    pub end: Token,
    /// The Data.db files whose first-to-last token span meets the range.
    pub sstables: Vec<PathBuf>,
    /// Estimated uncompressed Data.db bytes of the range.
    pub bytes: u64,
}

/// The splits of one table's SSTables: about `target_bytes` each, or with `n`, at most `n`
/// splits of about equal size (`n` wins when both are given; neither: [`DEFAULT_SPLIT_BYTES`]).
pub fn splits(tables: &[SsTable], target_bytes: Option<u64>, n: Option<u32>) -> Result<Vec<Split>, ExportError> {
    let partitioner = tables.first().map_or(Partitioner::Murmur3, |t| t.partitioner);
    let (lo, hi) = match partitioner {
        Partitioner::Murmur3 => (Token::Murmur3(i64::MIN), Token::Murmur3(i64::MAX)),
        Partitioner::Random => (Token::Random(-1), Token::Random(i128::MAX)),
        p => return Err(ExportError::Tokens(format!("token ranges need a hashing partitioner, not {p:?}"))),
    };
    // (token, bytes) of every sample of every SSTable, and each SSTable's token span.
    let mut weights: Vec<(Token, u64)> = Vec::new();
    let mut spans: Vec<(PathBuf, Option<(Token, Token)>)> = Vec::new();
    for t in tables {
        let data = t.data_length()?;
        let span = t.key_range()?.map(|(first, last)| (t.token(&first), t.token(&last)));
        let index_len = std::fs::metadata(t.path(Component::Index)).map(|m| m.len()).unwrap_or(0);
        match t.summary()? {
            Some(s) if !s.entries.is_empty() && index_len > 0 => {
                let positions: Vec<u64> = s.entries.iter().map(|(_, p)| *p).chain([index_len]).collect();
                for ((key, _), w) in s.entries.iter().zip(positions.windows(2)) {
                    let (a, b) = (w.first().copied().unwrap_or(0), w.get(1).copied().unwrap_or(0));
                    let share = u128::from(b.saturating_sub(a)) * u128::from(data) / u128::from(index_len);
                    weights.push((t.token(key), u64::try_from(share).unwrap_or(u64::MAX)));
                }
            }
            _ => {
                if let Some((first, _)) = &span {
                    weights.push((first.clone(), data));
                }
            }
        }
        spans.push((t.path(Component::Data), span));
    }
    weights.sort_by(|a, b| a.0.cmp(&b.0));
    let total: u64 = weights.iter().map(|w| w.1).sum();
    let (target, max_cuts) = match (n, target_bytes) {
        (Some(n), _) => (total.div_ceil(u64::from(n.max(1))).max(1), n.max(1) as usize - 1),
        (None, Some(b)) => (b.max(1), usize::MAX),
        (None, None) => (DEFAULT_SPLIT_BYTES, usize::MAX),
    };
    let mut ends: Vec<Token> = Vec::new();
    let mut acc = 0u64;
    for (i, (token, bytes)) in weights.iter().enumerate() {
        acc = acc.saturating_add(*bytes);
        if acc < target || ends.len() >= max_cuts {
            continue;
        }
        // Cut just before the next sample's token: the range ends with this sample's bytes.
        if let Some((next, _)) = weights.get(i + 1)
            && next > token
            && let Some(end) = before(next)
        {
            ends.push(end);
            acc = 0;
        }
    }
    ends.push(hi);
    let mut out = Vec::with_capacity(ends.len());
    let mut start = lo;
    for end in ends {
        let sstables = spans
            .iter()
            .filter(|(_, span)| span.as_ref().is_none_or(|(first, last)| *first <= end && *last > start))
            .map(|(p, _)| p.clone())
            .collect();
        let bytes = weights.iter().filter(|(t, _)| *t > start && *t <= end).map(|w| w.1).sum();
        out.push(Split { start: start.clone(), end: end.clone(), sstables, bytes });
        start = end;
    }
    Ok(out)
}

/// The token range `(t - 1, t]`: exactly the partitions whose token is `t` (None for a token
/// with nothing below it, or one of the byte-ordered partitioners').
pub fn token_range_of(t: &Token) -> Option<(Token, Token)> {
    Some((before(t)?, t.clone()))
}

/// The token just below `t` (None for the smallest).
fn before(t: &Token) -> Option<Token> {
    match t {
        Token::Murmur3(v) => v.checked_sub(1).map(Token::Murmur3),
        Token::Random(v) => v.checked_sub(1).map(Token::Random),
        Token::Bytes(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ExportOptions, scan};
    use cairn_format::partition::{OwnedCell, Partition};
    use cairn_format::sstable::OpenOptions;
    use cairn_format::statistics::{EncodingStats, HeaderColumn, SerializationHeader};
    use cairn_format::types::CqlType;
    use cairn_format::writer::{SsTableWriter, WriterOptions};

    /// One SSTable of `n` int-keyed partitions (keys `from..from + n`), one text cell each.
    fn write(dir: &std::path::Path, generation: u64, keys: std::ops::Range<i32>, p: Partitioner) -> SsTable {
        let header = SerializationHeader::new(
            EncodingStats { min_timestamp: 0, min_local_deletion_time: 0, min_ttl: 0 },
            CqlType::Int,
            vec![],
            vec![],
            vec![HeaderColumn::new("v", CqlType::Text)],
        );
        let options = WriterOptions { partitioner: p, ..WriterOptions::default() };
        let mut w = SsTableWriter::create(dir, generation, header, options).expect("writer");
        let mut keys: Vec<Vec<u8>> = keys.map(|k| k.to_be_bytes().to_vec()).collect();
        keys.sort_by(|a, b| p.token(a).cmp(&p.token(b)).then_with(|| a.cmp(b)));
        for k in keys {
            let mut part = Partition::new(k);
            part.row_mut(&[]).add_cell(OwnedCell::live(0, None, b"some value".to_vec(), 1));
            w.write_partition_content(&part).expect("write");
        }
        SsTable::open_with(w.finish().expect("finish"), &OpenOptions::default()).expect("open")
    }

    fn rows_in(tables: &[SsTable], s: &Split) -> usize {
        let opts = ExportOptions { where_token: Some((s.start.to_string(), s.end.to_string())), ..Default::default() };
        scan(tables, &opts).expect("scan").map(|b| b.expect("batch").num_rows()).sum()
    }

    #[test]
    fn splits_cover_the_ring_once_and_their_scans_add_up() {
        let tmp = tempfile::tempdir().expect("tempdir");
        // Two overlapping SSTables of one table: 3000 and 2000 partitions, 1000 keys in both.
        let tables = vec![
            write(tmp.path(), 1, 0..3000, Partitioner::Murmur3),
            write(tmp.path(), 2, 2000..4000, Partitioner::Murmur3),
        ];
        for (target, n) in [(None, Some(4)), (Some(20_000), None)] {
            let s = splits(&tables, target, n).expect("splits");
            assert!(s.len() >= 2, "{target:?} {n:?}: {} splits", s.len());
            if let Some(n) = n {
                assert!(s.len() <= n as usize, "{} splits for n={n}", s.len());
            }
            assert_eq!(s.first().map(|x| x.start.clone()), Some(Token::Murmur3(i64::MIN)));
            assert_eq!(s.last().map(|x| x.end.clone()), Some(Token::Murmur3(i64::MAX)));
            for w in s.windows(2) {
                assert!(w[0].end == w[1].start && w[0].start < w[0].end, "{w:?}");
            }
            let data: u64 = tables.iter().map(|t| t.data_length().expect("length")).sum();
            let bytes: u64 = s.iter().map(|x| x.bytes).sum();
            assert!(bytes <= data && bytes > data * 9 / 10, "{bytes} of {data}");
            let rows: Vec<usize> = s.iter().map(|x| rows_in(&tables, x)).collect();
            assert_eq!(rows.iter().sum::<usize>(), 4000, "{rows:?}");
            assert!(s.iter().zip(&rows).all(|(x, r)| *r == 0 || x.sstables.len() == 2 || x.sstables.len() == 1));
        }
    }

    #[test]
    fn an_order_preserving_table_has_no_splits() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let t = write(tmp.path(), 1, 0..10, Partitioner::ByteOrdered);
        match splits(&[t], None, Some(2)) {
            Err(ExportError::Tokens(m)) => assert!(m.contains("ByteOrdered"), "{m}"),
            r => panic!("{r:?}"),
        }
    }
}
