//! Finding partitions by key or token through Filter.db, Summary.db and Index.db, with the
//! components loaded once for many look-ups.
//!
//! A point look-up is Cassandra's read path (`io/sstable/format/big/BigTableReader.java`):
//!
//! ```text
//!   Filter.db   may the key be here?            no  -> absent
//!   Summary.db  last sample at or before the key (binary search over sampled keys)
//!   Index.db    scan entries from that sample's position until the key or a greater one
//!   Data.db     the entry's position
//! ```
//!
//! Summary samples are ordered by (token, key), so the sample is found by binary search over
//! their tokens computed once. A missing Summary.db means a scan of Index.db from its start; a
//! missing Filter.db admits every key. A component that exists but does not parse is an error,
//! never a reason to answer "absent".

use crate::error::{DecodeError, DecodeErrorKind, Result};
use crate::filter::BloomFilter;
use crate::index::IndexReader;
use crate::partitioner::{Token, compare_decorated};
use crate::sstable::SsTable;

/// Filter and Summary of one SSTable, loaded once.
#[derive(Debug, Clone)]
pub struct PartitionLookup {
    filter: Option<BloomFilter>,
    /// (token, key, Index.db position) of each Summary sample, in order.
    samples: Vec<(Token, Vec<u8>, u64)>,
}

impl PartitionLookup {
    /// Load `table`'s Filter.db and Summary.db.
    pub fn new(table: &SsTable) -> Result<PartitionLookup> {
        let filter = table.filter()?;
        let samples = match table.summary()? {
            Some(s) => s.entries.into_iter().map(|(k, pos)| (table.token(&k), k, pos)).collect(),
            None => Vec::new(),
        };
        Ok(PartitionLookup { filter, samples })
    }

    /// Whether the bloom filter admits `key` (true without a filter).
    pub fn may_contain(&self, key: &[u8]) -> bool {
        self.filter.as_ref().is_none_or(|f| f.may_contain(key))
    }

    /// The Index.db position to start scanning at for (token, key): the last sample at or
    /// before it, with its key (none: from the start of Index.db).
    fn index_start(&self, token: &Token, key: &[u8]) -> (u64, Option<&[u8]>) {
        let after = self.samples.partition_point(|(t, k, _)| compare_decorated(t, k, token, key).is_le());
        match after.checked_sub(1).and_then(|i| self.samples.get(i)) {
            Some((_, k, pos)) => (*pos, Some(k.as_slice())),
            None => (0, None),
        }
    }

    /// The Data.db position of partition `key` in `table`, or `None` when it is not there.
    /// Readers that seek there should check the key they find ([`crate::data::scanner::Scanner::seek_partition`]).
    pub fn find(&self, table: &SsTable, key: &[u8]) -> Result<Option<u64>> {
        if !self.may_contain(key) {
            return Ok(None);
        }
        self.find_in_index(table, key)
    }

    /// [`Self::find`] without asking the bloom filter first: Index.db alone decides, so that a
    /// damaged filter cannot hide a partition (for a few look-ups, as `dump -k` makes).
    ///
    /// What the scan reads is checked as it goes: the entry a Summary.db sample points at must
    /// be the sample's key, and entries must come in (token, key) order; either disagreement is
    /// an error located in Index.db, never an answer of "absent".
    pub fn find_in_index(&self, table: &SsTable, key: &[u8]) -> Result<Option<u64>> {
        let target = table.token(key);
        let (start, sample) = self.index_start(&target, key);
        let mut idx = table.index_reader()?;
        idx.seek(start);
        let index = table.path(crate::Component::Index);
        let mut previous: Option<(Token, Vec<u8>)> = None;
        while let Some(e) = idx.next_entry()? {
            let t = table.token(&e.key);
            if previous.is_none() && sample.is_some_and(|s| s != e.key.as_slice()) {
                let kind = DecodeErrorKind::SampleKeyMismatch;
                return Err(DecodeError::new(e.index_position, kind).located(&index, crate::Component::Index));
            }
            if let Some((pt, pk)) = &previous
                && compare_decorated(pt, pk, &t, &e.key).is_ge()
            {
                let kind = DecodeErrorKind::PartitionOutOfOrder { token: t.to_string(), previous: pt.to_string() };
                return Err(DecodeError::new(e.index_position, kind).located(&index, crate::Component::Index));
            }
            match compare_decorated(&t, &e.key, &target, key) {
                std::cmp::Ordering::Less => previous = Some((t, e.key)),
                std::cmp::Ordering::Equal => return Ok(Some(e.data_position)),
                std::cmp::Ordering::Greater => return Ok(None),
            }
        }
        if previous.is_none() && sample.is_some() {
            // The sample points at the end of Index.db (or past it): no entry holds its key.
            let kind = DecodeErrorKind::SampleKeyMismatch;
            return Err(DecodeError::new(start, kind).located(&index, crate::Component::Index));
        }
        Ok(None)
    }

    /// The Data.db position of the first partition whose token is above `token`, or `None`.
    pub fn position_after_token(&self, table: &SsTable, token: &Token) -> Result<Option<u64>> {
        let after = self.samples.partition_point(|(t, _, _)| t <= token);
        let start = after.checked_sub(1).and_then(|i| self.samples.get(i)).map_or(0, |(_, _, pos)| *pos);
        let mut idx = table.index_reader()?;
        idx.seek(start);
        while let Some(e) = idx.next_entry()? {
            if table.token(&e.key) > *token {
                return Ok(Some(e.data_position));
            }
        }
        Ok(None)
    }
}

/// Look-ups of keys in ascending (token, key) order — a merge-join with another SSTable, as
/// `compact gc` does — reading Index.db forward once instead of from a Summary sample per key,
/// and jumping ahead through Summary.db where the next key is past the next sample.
#[derive(Debug)]
pub struct ForwardLookup {
    lookup: PartitionLookup,
    index: IndexReader,
    /// The Index.db position the reader was last sought to.
    sought: u64,
    /// The next entry not yet passed: (token, key, Data.db position).
    next: Option<(Token, Vec<u8>, u64)>,
    exhausted: bool,
}

impl ForwardLookup {
    /// A forward look-up over `table`.
    pub fn new(table: &SsTable) -> Result<ForwardLookup> {
        Ok(ForwardLookup {
            lookup: PartitionLookup::new(table)?,
            index: table.index_reader()?,
            sought: 0,
            next: None,
            exhausted: false,
        })
    }

    /// The Data.db position of `key` in `table`, or `None`. Keys must come in ascending
    /// (token, key) order; an earlier key asked after a later one is answered `None`.
    pub fn find(&mut self, table: &SsTable, key: &[u8]) -> Result<Option<u64>> {
        if !self.lookup.may_contain(key) {
            return Ok(None);
        }
        let target = table.token(key);
        let (start, _) = self.lookup.index_start(&target, key);
        if start > self.sought {
            self.index.seek(start);
            self.sought = start;
            self.next = None;
            self.exhausted = false;
        }
        loop {
            if self.next.is_none() && !self.exhausted {
                match self.index.next_entry()? {
                    Some(e) => self.next = Some((table.token(&e.key), e.key, e.data_position)),
                    None => self.exhausted = true,
                }
            }
            let Some((t, k, pos)) = &self.next else { return Ok(None) };
            match compare_decorated(t, k, &target, key) {
                std::cmp::Ordering::Less => self.next = None,
                std::cmp::Ordering::Equal => return Ok(Some(*pos)),
                std::cmp::Ordering::Greater => return Ok(None),
            }
        }
    }
}
