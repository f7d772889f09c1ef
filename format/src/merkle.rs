//! Merkle trees over the token ring and the logical partition hash, as Cassandra's repair uses
//! them to find where two replicas differ (`utils/MerkleTree.java`, `repair/Validator.java`,
//! `repair/ValidationManager.java`).
//!
//! # The tree
//!
//! A [`MerkleTree`] covers the whole Murmur3 ring `(-2^63, -2^63]` (Cassandra's full range: the
//! minimum token is never assigned) and halves it down to a fixed depth `d`: the `2^d` leaves are
//! the ranges `(min + i·2^(64-d), min + (i+1)·2^(64-d)]`, exactly the ranges Cassandra's
//! `Murmur3Partitioner.midpoint` produces when it splits the full ring in halves. The depth comes
//! from the partition count as Cassandra's `ValidationManager` chooses it —
//! `ceil(log2(partitions))`, capped — with [`MAX_DEPTH`] (20) standing for
//! `repair_session_max_tree_depth`'s default ([`depth_for`]).
//!
//! Each leaf holds the XOR of the hashes of the partitions whose tokens fall in it; each inner
//! node the XOR of its two children; an empty range hashes to zeros. XOR makes the leaf
//! independent of the order partitions are added in — what Cassandra's `MerkleTree.addHash` and
//! inner-node hashing do. [`MerkleTree::difference`] walks both trees from the root, descends
//! only where hashes differ and returns the differing leaves: the smallest differing ranges.
//! Memory is `2 · 2^d` hashes of 16 bytes (32 MiB at depth 20), whatever the data size.
//!
//! # The partition hash
//!
//! Cassandra's validator feeds each partition of a read-only compaction — the reconciled
//! partition, with what that compaction purges left out — to a digest (`Validator.rowHash`;
//! SHA-256 in 3.x, two seeded murmur3_128 in 4.0+, 256 bits in both). Cairn hashes the same
//! logical content with **XXH3-128** (xxHash's 128-bit XXH3, seed 0 and the default secret, as
//! the `twox-hash` crate computes it; the value stored big-endian): the trees are only ever
//! compared with trees Cairn built, so the digest need not be Cassandra's, and 128 bits keep
//! accidental XOR collisions out of reach for any data set (a collision needs ~2^64
//! partitions). Like Cassandra 4.0's murmur3 it is not cryptographic: validation tells honest
//! replicas apart, it does not defend against forged data. It replaced MD5, which took over a
//! third of a tree build's time (`bench/repair`: read, reconcile, purge, hash); XXH3 takes under
//! 3%. The hash is over the reconciled *logical* content, never bytes: the
//! same data in `mc` or `oa`, LZ4 or Zstd, one SSTable or five hashes the same. Columns are
//! named, not numbered (two sides' headers may list different columns), cell flags are reduced to
//! the cell's kind, and the delta encodings of Data.db are already resolved by the reader.
//!
//! [`PartitionHasher`] streams: it encodes one row at a time into a buffer it keeps from
//! partition to partition, hashes a partition whose input stays under [`STREAM_AT`] bytes in one
//! call, and feeds a longer one to XXH3's streaming state each time the buffer reaches that size
//! (XXH3 of the whole input either way: the streaming and one-shot forms are the same function).
//! The hash input, all integers big-endian:
//!
//! ```text
//! partition   'P' · u32 key length · key bytes · deletion · (static row)? · (row | marker)*
//! deletion    i64 marked-for-delete-at · i64 local deletion time   (no deletion: i64::MIN, i64::MAX)
//! row         ('S' static | 'R') · clustering · liveness · deletion (row) · deletion (shadowable) ·
//!             u32 count · (column · deletion)*  (complex-column deletions) ·
//!             u32 count · cell*
//! marker      'M' · u8 bound kind · clustering · deletion (closed) · deletion (opened)
//! clustering  u16 count · (i32 length, -1 for null · bytes)*
//! liveness    i64 timestamp · i32 ttl · i64 local expiration time   (none: i64::MIN, 0, i64::MAX)
//! column      u16 name length · UTF-8 name
//! cell        column · i32 path length (-1 without) · path · u8 kind (0 live, 1 expiring,
//!             2 tombstone) · i64 timestamp · i32 ttl · i64 local deletion time ·
//!             i32 value length · value
//! ```
//!
//! Bound kinds are Cassandra's `ClusteringPrefix.Kind` ordinals (0 exclusive end, 1 inclusive
//! start, 2 exclusive-end-inclusive-start boundary, 5 inclusive-end-exclusive-start boundary,
//! 6 inclusive end, 7 exclusive start). Rows and markers come in clustering order, cells in the
//! merged header's column order (simple columns, then complex ones, each by name), which does not
//! depend on which columns a side's headers list.
//!
//! What is purged before hashing is the caller's choice (the repair crate applies compaction's
//! purge judgement at `--now`, as Cassandra's validation compaction does); this module hashes
//! what it is given.

use twox_hash::XxHash3_128;

use crate::clustering::BoundKind;
use crate::data::{Unfiltered, UnfilteredKind};
use crate::deletion::{DeletionTime, LivenessInfo};
use crate::partitioner::Token;
use crate::statistics::SerializationHeader;

/// Bytes of one hash.
pub const HASH_LEN: usize = 16;

/// A partition, leaf or node hash.
pub type Hash = [u8; HASH_LEN];

/// The hash of an empty range.
pub const EMPTY: Hash = [0; HASH_LEN];

/// Bytes of hash input a [`PartitionHasher`] buffers before feeding XXH3's streaming state.
pub const STREAM_AT: usize = 64 * 1024;

/// The deepest tree built: Cassandra's `repair_session_max_tree_depth` default.
pub const MAX_DEPTH: u8 = 20;

/// The depth Cassandra's validation gives a tree for `partitions` partitions:
/// `ceil(log2(partitions))`, capped at `max_depth` (0 for zero or one partition).
pub fn depth_for(partitions: u64, max_depth: u8) -> u8 {
    let depth = if partitions <= 1 { 0 } else { 64 - (partitions - 1).leading_zeros() };
    depth.min(u32::from(max_depth.min(63))) as u8
}

/// `a ^= b`.
pub fn xor_into(a: &mut Hash, b: &Hash) {
    for (x, y) in a.iter_mut().zip(b) {
        *x ^= y;
    }
}

/// A token range `(left, right]` of the Murmur3 ring; `right == i64::MIN` is the ring's end
/// (Cassandra prints the last range of a split ring that way).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TokenRange {
    /// Exclusive start.
    pub left: i64,
    /// Inclusive end.
    pub right: i64,
}

impl std::fmt::Display for TokenRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "({}, {}]", self.left, self.right)
    }
}

/// Why a tree cannot be built or compared.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MerkleError {
    /// The tree covers the Murmur3 ring only.
    #[error("Merkle trees cover the Murmur3 ring; this table's token is {token}")]
    NotMurmur3 {
        /// The token met.
        token: String,
    },
    /// Two trees of different depths cannot be compared leaf by leaf.
    #[error("trees of depth {a} and {b} cannot be compared")]
    DepthMismatch {
        /// First tree's depth.
        a: u8,
        /// Second tree's depth.
        b: u8,
    },
}

/// A Merkle tree of fixed depth over the Murmur3 ring (see the module docs).
#[derive(Debug, Clone)]
pub struct MerkleTree {
    depth: u8,
    /// `levels[0]` is the root, `levels[depth]` the leaves; inner levels are filled by
    /// [`MerkleTree::finish`].
    levels: Vec<Vec<Hash>>,
    partitions: u64,
    finished: bool,
}

impl MerkleTree {
    /// An empty tree of `depth` (capped at [`MAX_DEPTH`]).
    pub fn new(depth: u8) -> MerkleTree {
        let depth = depth.min(MAX_DEPTH);
        let levels = (0..=depth).map(|l| vec![EMPTY; 1usize << l]).collect();
        MerkleTree { depth, levels, partitions: 0, finished: false }
    }

    /// The depth.
    pub fn depth(&self) -> u8 {
        self.depth
    }

    /// Number of leaves (`2^depth`).
    pub fn leaves(&self) -> usize {
        1usize << self.depth
    }

    /// Partitions added.
    pub fn partitions(&self) -> u64 {
        self.partitions
    }

    /// The leaf a token falls in.
    pub fn leaf_of(&self, token: &Token) -> Result<usize, MerkleError> {
        match token {
            Token::Murmur3(t) => Ok(leaf_of(*t, self.depth)),
            other => Err(MerkleError::NotMurmur3 { token: other.to_string() }),
        }
    }

    /// The range of leaf `i`.
    pub fn range_of(&self, leaf: usize) -> TokenRange {
        range_of(leaf, self.depth)
    }

    /// Add a partition's hash at `token`.
    pub fn add(&mut self, token: &Token, hash: &Hash) -> Result<(), MerkleError> {
        let leaf = self.leaf_of(token)?;
        if let Some(l) = self.levels.last_mut().and_then(|leaves| leaves.get_mut(leaf)) {
            xor_into(l, hash);
        }
        self.partitions += 1;
        self.finished = false;
        Ok(())
    }

    /// Compute the inner nodes from the leaves (each the XOR of its children).
    pub fn finish(&mut self) {
        for l in (0..self.depth as usize).rev() {
            let (upper, lower) = self.levels.split_at_mut(l + 1);
            let (Some(parent), Some(children)) = (upper.last_mut(), lower.first()) else { continue };
            for (i, p) in parent.iter_mut().enumerate() {
                *p = EMPTY;
                for c in children.iter().skip(2 * i).take(2) {
                    xor_into(p, c);
                }
            }
        }
        self.finished = true;
    }

    /// The root hash (after [`MerkleTree::finish`]).
    pub fn root(&self) -> Hash {
        self.node(0, 0)
    }

    /// Hash of node `index` at `level` (0 = root); zeros outside the tree.
    pub fn node(&self, level: usize, index: usize) -> Hash {
        self.levels.get(level).and_then(|l| l.get(index)).copied().unwrap_or(EMPTY)
    }

    /// The leaves where `self` and `other` differ, in token order: descend from the root only
    /// into nodes whose hashes differ. Both trees must have the same depth and be finished.
    pub fn difference(&self, other: &MerkleTree) -> Result<Vec<usize>, MerkleError> {
        if self.depth != other.depth {
            return Err(MerkleError::DepthMismatch { a: self.depth, b: other.depth });
        }
        let mut out = Vec::new();
        let mut stack = vec![(0usize, 0usize)];
        while let Some((level, index)) = stack.pop() {
            if self.node(level, index) == other.node(level, index) {
                continue;
            }
            if level == self.depth as usize {
                out.push(index);
            } else {
                // Right first so that the left child is visited first: leaves come out in order.
                stack.push((level + 1, 2 * index + 1));
                stack.push((level + 1, 2 * index));
            }
        }
        Ok(out)
    }
}

/// The leaf of a depth-`depth` tree that Murmur3 token `t` falls in.
pub fn leaf_of(t: i64, depth: u8) -> usize {
    // Distance from the ring's start, in 1..=2^64 (the minimum token closes the ring).
    let u = (i128::from(t) - i128::from(i64::MIN)) as u128;
    let u = if u == 0 { 1u128 << 64 } else { u };
    ((u - 1) >> (64 - u32::from(depth))) as usize
}

/// The range of leaf `leaf` of a depth-`depth` tree.
pub fn range_of(leaf: usize, depth: u8) -> TokenRange {
    let width = 1i128 << (64 - u32::from(depth));
    let at = |i: i128| -> i64 {
        let v = i128::from(i64::MIN) + i * width;
        // The ring's end wraps to the minimum token.
        if v > i128::from(i64::MAX) { i64::MIN } else { v as i64 }
    };
    TokenRange { left: at(leaf as i128), right: at(leaf as i128 + 1) }
}

/// Streams one reconciled partition into its hash (layout in the module docs); reusable from
/// one partition to the next ([`PartitionHasher::begin`]).
pub struct PartitionHasher {
    /// Hash input not yet fed to `stream`.
    buf: Vec<u8>,
    /// The streaming state, once the partition's input has outgrown [`STREAM_AT`].
    stream: Option<XxHash3_128>,
}

fn put_deletion(buf: &mut Vec<u8>, d: &DeletionTime) {
    buf.extend_from_slice(&d.marked_for_delete_at.to_be_bytes());
    buf.extend_from_slice(&d.local_deletion_time.to_be_bytes());
}

fn put_liveness(buf: &mut Vec<u8>, l: &LivenessInfo) {
    buf.extend_from_slice(&l.timestamp.to_be_bytes());
    buf.extend_from_slice(&l.ttl.to_be_bytes());
    buf.extend_from_slice(&l.local_expiration_time.to_be_bytes());
}

fn put_bytes_i32(buf: &mut Vec<u8>, b: Option<&[u8]>) {
    match b {
        Some(b) => {
            buf.extend_from_slice(&(b.len() as i32).to_be_bytes());
            buf.extend_from_slice(b);
        }
        None => buf.extend_from_slice(&(-1i32).to_be_bytes()),
    }
}

fn put_name(buf: &mut Vec<u8>, name: &str) {
    buf.extend_from_slice(&(name.len() as u16).to_be_bytes());
    buf.extend_from_slice(name.as_bytes());
}

fn put_clustering(buf: &mut Vec<u8>, u: &Unfiltered) {
    buf.extend_from_slice(&(u.clustering.len() as u16).to_be_bytes());
    for i in 0..u.clustering.len() {
        put_bytes_i32(buf, u.clustering_value(i));
    }
}

/// Cassandra's `ClusteringPrefix.Kind` ordinal of a bound kind.
pub fn bound_kind_ordinal(k: BoundKind) -> u8 {
    match k {
        BoundKind::ExclEndBound => 0,
        BoundKind::InclStartBound => 1,
        BoundKind::ExclEndInclStartBoundary => 2,
        BoundKind::StaticClustering => 3,
        BoundKind::Clustering => 4,
        BoundKind::InclEndExclStartBoundary => 5,
        BoundKind::InclEndBound => 6,
        BoundKind::ExclStartBound => 7,
    }
}

/// The hash input of one row or marker (everything after the partition header), appended to
/// `buf`; `header` names its columns. Public so that a row's own hash can be taken alone.
pub fn encode_unfiltered(buf: &mut Vec<u8>, header: &SerializationHeader, u: &Unfiltered) {
    let kind = u.kind();
    if let UnfilteredKind::Marker(k) = kind {
        buf.push(b'M');
        buf.push(bound_kind_ordinal(k));
        put_clustering(buf, u);
        put_deletion(buf, &if k.is_close() { u.close_deletion } else { DeletionTime::LIVE });
        put_deletion(buf, &if k.is_open() { u.deletion } else { DeletionTime::LIVE });
        return;
    }
    let columns = if kind == UnfilteredKind::StaticRow { &header.static_columns } else { &header.regular_columns };
    let name = |c: u16| columns.get(c as usize).map_or("", |h| h.name.as_str());
    buf.push(if kind == UnfilteredKind::StaticRow { b'S' } else { b'R' });
    put_clustering(buf, u);
    put_liveness(buf, &u.liveness);
    put_deletion(buf, &u.deletion);
    put_deletion(buf, &u.shadowable_deletion);
    buf.extend_from_slice(&(u.complex_deletions.len() as u32).to_be_bytes());
    for d in &u.complex_deletions {
        put_name(buf, name(d.column));
        put_deletion(buf, &d.deletion);
    }
    buf.extend_from_slice(&(u.cells.len() as u32).to_be_bytes());
    for c in &u.cells {
        put_name(buf, name(c.column));
        put_bytes_i32(buf, u.path(c));
        buf.push(if c.is_tombstone() {
            2
        } else if c.is_expiring() {
            1
        } else {
            0
        });
        buf.extend_from_slice(&c.timestamp.to_be_bytes());
        buf.extend_from_slice(&c.ttl.to_be_bytes());
        buf.extend_from_slice(&c.local_deletion_time.to_be_bytes());
        put_bytes_i32(buf, Some(u.value(c)));
    }
}

impl PartitionHasher {
    /// Start the partition `key` with partition-level `deletion`.
    pub fn new(key: &[u8], deletion: &DeletionTime) -> PartitionHasher {
        let mut h = PartitionHasher { buf: Vec::with_capacity(256), stream: None };
        h.begin(key, deletion);
        h
    }

    /// Start the next partition, `key` with partition-level `deletion`, keeping the buffer;
    /// whatever was added since the last [`PartitionHasher::finish`] is dropped.
    pub fn begin(&mut self, key: &[u8], deletion: &DeletionTime) {
        self.buf.clear();
        self.stream = None;
        self.buf.push(b'P');
        self.buf.extend_from_slice(&(key.len() as u32).to_be_bytes());
        self.buf.extend_from_slice(key);
        put_deletion(&mut self.buf, deletion);
        self.spill();
    }

    /// Feed the buffer to the streaming state once it holds [`STREAM_AT`] bytes.
    fn spill(&mut self) {
        if self.buf.len() >= STREAM_AT {
            self.stream.get_or_insert_with(XxHash3_128::new).write(&self.buf);
            self.buf.clear();
        }
    }

    /// Add the static row, a row or a marker, in stream order.
    pub fn add(&mut self, header: &SerializationHeader, u: &Unfiltered) {
        encode_unfiltered(&mut self.buf, header, u);
        self.spill();
    }

    /// The partition's hash. The hasher is left empty: [`PartitionHasher::begin`] starts the
    /// next partition.
    pub fn finish(&mut self) -> Hash {
        let h = match self.stream.take() {
            None => XxHash3_128::oneshot(&self.buf),
            Some(mut stream) => {
                stream.write(&self.buf);
                stream.finish_128()
            }
        };
        self.buf.clear();
        h.to_be_bytes()
    }
}

/// The hash of one row or marker alone (for reporting which rows of a partition differ).
pub fn row_hash(header: &SerializationHeader, u: &Unfiltered) -> Hash {
    let mut buf = Vec::with_capacity(256);
    encode_unfiltered(&mut buf, header, u);
    XxHash3_128::oneshot(&buf).to_be_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_follows_the_partition_count_and_is_capped() {
        assert_eq!(depth_for(0, MAX_DEPTH), 0);
        assert_eq!(depth_for(1, MAX_DEPTH), 0);
        assert_eq!(depth_for(2, MAX_DEPTH), 1);
        assert_eq!(depth_for(1000, MAX_DEPTH), 10);
        assert_eq!(depth_for(1024, MAX_DEPTH), 10);
        assert_eq!(depth_for(1025, MAX_DEPTH), 11);
        assert_eq!(depth_for(u64::MAX, MAX_DEPTH), 20);
        assert_eq!(depth_for(1 << 30, 8), 8);
    }

    #[test]
    fn leaves_are_the_halvings_of_the_ring() {
        // Depth 1: split at the midpoint 0, as Murmur3Partitioner.midpoint(min, min) does.
        assert_eq!(range_of(0, 1), TokenRange { left: i64::MIN, right: 0 });
        assert_eq!(range_of(1, 1), TokenRange { left: 0, right: i64::MIN });
        assert_eq!(leaf_of(0, 1), 0, "the right end is inclusive");
        assert_eq!(leaf_of(1, 1), 1);
        assert_eq!(leaf_of(i64::MIN + 1, 1), 0);
        assert_eq!(leaf_of(i64::MAX, 1), 1);
        assert_eq!(range_of(1, 2), TokenRange { left: -(1 << 62), right: 0 });
        for depth in [0u8, 3, 20] {
            for t in [i64::MIN + 1, -5, 0, 7, i64::MAX] {
                let r = range_of(leaf_of(t, depth), depth);
                let right = if r.right == i64::MIN { i128::from(i64::MAX) + 1 } else { i128::from(r.right) };
                assert!(i128::from(r.left) < i128::from(t) && i128::from(t) <= right, "{t} in {r} at {depth}");
            }
        }
    }

    fn header(regular: &[&str]) -> SerializationHeader {
        use crate::statistics::{EncodingStats, HeaderColumn};
        let stats = EncodingStats { min_timestamp: 0, min_local_deletion_time: 0, min_ttl: 0 };
        let cols = regular.iter().map(|n| HeaderColumn::new(n, crate::types::CqlType::Int)).collect();
        SerializationHeader::new(stats, crate::types::CqlType::Int, vec![crate::types::CqlType::Int], vec![], cols)
    }

    fn row(position: u64, column: u16, flags: u8, timestamp: i64, value: &[u8]) -> Unfiltered {
        let mut u = Unfiltered::default();
        u.start(UnfilteredKind::Row, position);
        u.push_clustering(Some(&7i32.to_be_bytes()));
        let cell = crate::data::Cell {
            column,
            flags,
            timestamp,
            local_deletion_time: crate::deletion::NO_DELETION_TIME,
            ttl: 0,
            path: None,
            value: crate::data::Span::default(),
        };
        u.push_cell(column, &cell, None, value);
        u
    }

    #[test]
    fn a_row_hashes_its_content_not_its_bytes_position_flags_or_column_index() {
        use crate::data::CELL_USE_ROW_TIMESTAMP;
        // Column "v" at index 0 of one header and index 1 of another, stored with other flags at
        // another offset: the same logical row.
        let one = header(&["v"]);
        let two = header(&["a", "v"]);
        let base = row_hash(&one, &row(10, 0, 0, 5, b"x"));
        assert_eq!(base, row_hash(&two, &row(9_999, 1, CELL_USE_ROW_TIMESTAMP, 5, b"x")));
        // Its timestamp, value and column do count.
        assert_ne!(base, row_hash(&one, &row(10, 0, 0, 6, b"x")));
        assert_ne!(base, row_hash(&one, &row(10, 0, 0, 5, b"y")));
        assert_ne!(base, row_hash(&two, &row(10, 0, 0, 5, b"x")), "column a, not v");
        // A partition hash covers key, deletion and rows in order.
        let hash = |key: &[u8], rows: &[Unfiltered]| {
            let mut h = PartitionHasher::new(key, &DeletionTime::LIVE);
            rows.iter().for_each(|r| h.add(&one, r));
            h.finish()
        };
        let r = row(0, 0, 0, 5, b"x");
        assert_eq!(hash(b"k", std::slice::from_ref(&r)), hash(b"k", &[row(77, 0, CELL_USE_ROW_TIMESTAMP, 5, b"x")]));
        assert_ne!(hash(b"k", std::slice::from_ref(&r)), hash(b"j", std::slice::from_ref(&r)));
        assert_ne!(hash(b"k", std::slice::from_ref(&r)), hash(b"k", &[]));
    }

    #[test]
    fn the_digest_is_standard_xxh3_128_big_endian() {
        // xxHash's published XXH3_128bits of the empty input (seed 0, default secret).
        assert_eq!(XxHash3_128::oneshot(b"").to_be_bytes(), 0x99aa06d3014798d86001c324468d497f_u128.to_be_bytes());
        // A partition hash is XXH3-128 of the documented input: 'P', key length, key, deletion.
        let mut input = vec![b'P', 0, 0, 0, 1, b'k'];
        input.extend_from_slice(&i64::MIN.to_be_bytes());
        input.extend_from_slice(&i64::MAX.to_be_bytes());
        let mut h = PartitionHasher::new(b"k", &DeletionTime::LIVE);
        assert_eq!(h.finish(), XxHash3_128::oneshot(&input).to_be_bytes());
    }

    #[test]
    fn a_partition_past_the_buffer_hashes_its_whole_input_and_the_hasher_is_reusable() {
        let one = header(&["v"]);
        let deletion = DeletionTime { marked_for_delete_at: 5, local_deletion_time: 6 };
        let rows: Vec<Unfiltered> = (0..3_000u64).map(|i| row(i, 0, 0, i as i64, &[7u8; 40])).collect();
        let mut input = vec![b'P', 0, 0, 0, 3];
        input.extend_from_slice(b"key");
        input.extend_from_slice(&5i64.to_be_bytes());
        input.extend_from_slice(&6i64.to_be_bytes());
        rows.iter().for_each(|r| encode_unfiltered(&mut input, &one, r));
        assert!(input.len() > 2 * STREAM_AT, "{} bytes: the streaming path is taken", input.len());
        let expected = XxHash3_128::oneshot(&input).to_be_bytes();
        let mut h = PartitionHasher::new(b"other", &DeletionTime::LIVE);
        h.add(&one, &row(0, 0, 0, 1, b"dropped by begin"));
        for _ in 0..2 {
            h.begin(b"key", &deletion);
            rows.iter().for_each(|r| h.add(&one, r));
            assert_eq!(h.finish(), expected);
        }
        // A small partition after a streamed one is hashed alone.
        h.begin(b"k", &DeletionTime::LIVE);
        assert_eq!(h.finish(), PartitionHasher::new(b"k", &DeletionTime::LIVE).finish());
    }

    #[test]
    fn difference_returns_exactly_the_differing_leaves() {
        let mut a = MerkleTree::new(4);
        let mut b = MerkleTree::new(4);
        let h = |n: u8| [n; HASH_LEN];
        for (t, n) in [(-9_000_000_000_000_000_000i64, 1u8), (5, 2), (9_000_000_000_000_000_000, 3)] {
            a.add(&Token::Murmur3(t), &h(n)).unwrap();
            b.add(&Token::Murmur3(t), &h(n)).unwrap();
        }
        // The same partitions added in another order hash the same.
        let mut c = MerkleTree::new(4);
        for (t, n) in [(9_000_000_000_000_000_000i64, 3u8), (5, 2), (-9_000_000_000_000_000_000, 1)] {
            c.add(&Token::Murmur3(t), &h(n)).unwrap();
        }
        b.add(&Token::Murmur3(6), &h(9)).unwrap();
        a.finish();
        b.finish();
        c.finish();
        assert_eq!(a.root(), c.root());
        assert_eq!(a.difference(&c).unwrap(), Vec::<usize>::new());
        assert_eq!(a.difference(&b).unwrap(), vec![leaf_of(6, 4)]);
        assert_eq!(a.difference(&MerkleTree::new(3)), Err(MerkleError::DepthMismatch { a: 4, b: 3 }));
        assert!(matches!(a.add(&Token::Random(1), &h(1)), Err(MerkleError::NotMurmur3 { .. })));
    }
}
