//! Iterating Data.db: partition → unfiltered (row or range-tombstone marker) → cell.
//!
//! The scanner keeps a window over the uncompressed stream that holds at most the current
//! chunk plus the unread tail of the previous one; a row is decoded once (straight from the
//! window when it is whole there, with the header's per-column facts worked out once in a
//! [`Shape`]) and copied once into a reusable [`Unfiltered`], so memory stays bounded by chunk
//! and row size whatever the partition size, and nothing is allocated per row or cell once
//! buffers have grown.
//!
//! The scanner also enforces the structural rules of the unfiltered stream that a reader can
//! check locally: markers carry marker kinds, range tombstones open and close in pairs with the
//! same deletion.
//!
//! When its source verifies (the default; `--no-verify` turns it off), every read also checks
//! what is cheap to check as it goes, so that a damaged file without chunk checksums fails
//! instead of answering wrongly:
//!
//! * partitions in strictly increasing (token, key) order, when the scanner knows the
//!   partitioner ([`Scanner::with_table_checks`]); the previous key is kept in a reused buffer;
//! * rows and markers of a partition in strictly increasing clustering order
//!   ([`compare_positions`], the merger's rule), against the previous unfiltered kept in a
//!   second reused [`Unfiltered`];
//! * every row's and marker's size field equal to the bytes its structure takes;
//! * at the end of a scan that read the whole data from byte 0: as many partitions as
//!   Statistics.db records, and Digest.crc32 against the chunks read (see
//!   [`DigestCoverage`](crate::data::source::DigestCoverage));
//! * at the end of any scan that reaches the end of the data: every timestamp, local deletion
//!   time and TTL decoded within the ranges Statistics.db records ([`crate::data::ranges`]).
//!
//! A failed check is an error at the offending offset; `verify` asks for them as a list instead
//! ([`Scanner::report_problems`]) and goes on.
//!
//! One file of about 900 lines, on purpose: the scanner is a single pull state machine over the
//! chunked bytes (partition header, static row, rows and markers, end of partition) whose order
//! and size checks need that state; splitting it would spread one loop's invariants over files.

use std::path::PathBuf;
use std::sync::Arc;

use crate::clustering::{self, BoundKind};
use crate::codec::Cursor;
use crate::data::source::{DataSource, data_error};
use crate::data::*;
use crate::deletion::{DeletionTime, LivenessInfo, NO_DELETION_TIME, NO_TIMESTAMP, NO_TTL};
use crate::error::{DecodeError, DecodeErrorKind, Error, Mismatch, Result, StructureError};
use crate::partitioner::{Partitioner, Token, compare_decorated};
use crate::statistics::{SerializationHeader, read_uvint32};
use crate::version::Version;

/// Which of the scanner's unfiltereds a read fills.
#[derive(Debug, Clone, Copy)]
enum Slot {
    Static,
    Current,
}

/// Largest head (flags + clustering + size) we are willing to buffer while looking for its end.
const HEAD_LIMIT: usize = 8 << 20;

enum Head {
    End { len: usize },
    Item { len: usize, body: u64 },
}

/// What decoding needs to know about a header's columns, worked out once per header instead of
/// once per cell: the fixed width of each clustering type, and for each static and regular
/// column whether it is complex and the fixed width of its values.
#[derive(Debug, Clone, Default)]
pub struct Shape {
    clustering: Vec<Option<usize>>,
    statics: Vec<ColumnShape>,
    regulars: Vec<ColumnShape>,
}

#[derive(Debug, Clone, Copy)]
struct ColumnShape {
    complex: bool,
    /// Width of a simple cell's value when its type has a fixed one.
    fixed: Option<usize>,
}

impl Shape {
    /// The shape of `header`.
    pub fn of(header: &SerializationHeader) -> Shape {
        let columns = |list: &[crate::statistics::HeaderColumn]| {
            list.iter().map(|c| ColumnShape { complex: c.is_complex(), fixed: c.ty.fixed_length() }).collect()
        };
        Shape {
            clustering: header.clustering_types.iter().map(crate::types::CqlType::fixed_length).collect(),
            statics: columns(&header.static_columns),
            regulars: columns(&header.regular_columns),
        }
    }
}

/// Streams the partitions of one Data.db.
#[derive(Debug)]
pub struct Scanner {
    source: DataSource,
    header: Arc<SerializationHeader>,
    shape: Shape,
    version: Version,
    path: PathBuf,
    buf: Vec<u8>,
    pos: usize,
    start: u64,
    end: u64,
    in_partition: bool,
    partition: PartitionHeader,
    static_row: Unfiltered,
    has_static_row: bool,
    /// The current unfiltered and the one before it in this partition (when `has_previous`);
    /// which is which flips with every read ([`Scanner::current`]), so that neither is moved.
    rows: [Unfiltered; 2],
    flipped: bool,
    has_previous: bool,
    open_marker: Option<(DeletionTime, u64)>,
    checks: Checks,
    /// Dropped columns of the header (static, regular) with when: their cells and deletions at
    /// or before then are left out of every row ([`Scanner::with_dropped_columns`]).
    dropped: [Vec<(u16, i64)>; 2],
}

/// What a scan checks beyond decoding (see the module docs), and its state.
#[derive(Debug, Default)]
struct Checks {
    /// Whether the checks run (the source verifies).
    on: bool,
    /// Failed checks collected instead of returned ([`Scanner::report_problems`]).
    report: Option<Vec<Error>>,
    /// The partitioner, for the partition order check.
    partitioner: Option<Partitioner>,
    /// The previous partition's token and key.
    previous_token: Option<Token>,
    previous_key: Vec<u8>,
    /// Statistics.db's partition count.
    expected_partitions: Option<u64>,
    /// Partitions read since byte 0.
    partitions: u64,
    /// The scan started at byte 0, runs to the end of the data and has not been moved.
    whole: bool,
    /// Statistics.db's record of the timestamp, deletion time and TTL ranges.
    recorded: Option<crate::data::ranges::Recorded>,
    /// What the scan has decoded of those.
    seen: crate::data::ranges::ValueRanges,
    /// The end-of-data checks have run.
    finished: bool,
}

impl Scanner {
    /// A scanner over `source`, decoding with `header`.
    pub fn new(source: DataSource, header: Arc<SerializationHeader>, version: Version) -> Scanner {
        let path = source.path().to_path_buf();
        let end = source.data_length();
        let verify = source.verifies();
        Scanner {
            source,
            shape: Shape::of(&header),
            header,
            version,
            path,
            buf: Vec::new(),
            pos: 0,
            start: 0,
            end,
            in_partition: false,
            partition: PartitionHeader::default(),
            static_row: Unfiltered::default(),
            has_static_row: false,
            rows: [Unfiltered::default(), Unfiltered::default()],
            flipped: false,
            has_previous: false,
            open_marker: None,
            checks: Checks { on: verify, whole: true, ..Checks::default() },
            dropped: [Vec::new(), Vec::new()],
        }
    }

    /// Leave out of every row the cells and complex deletions of dropped columns written at or
    /// before their drop: `statics` and `regulars` are header column indexes with drop times
    /// ([`crate::schema::TableSchema::dropped_in`]). The checks see the rows as stored.
    pub fn with_dropped_columns(mut self, statics: Vec<(u16, i64)>, regulars: Vec<(u16, i64)>) -> Scanner {
        self.dropped = [statics, regulars];
        self
    }

    /// Also check partition order (with `partitioner`'s tokens) and, at the end of a whole
    /// scan, the partition count Statistics.db records; and, at the end of any scan that reaches
    /// the end of the data, that what it decoded lies within the `recorded` ranges
    /// ([`crate::data::ranges`]).
    pub fn with_table_checks(
        mut self,
        partitioner: Partitioner,
        expected_partitions: Option<u64>,
        recorded: Option<crate::data::ranges::Recorded>,
    ) -> Scanner {
        self.checks.partitioner = Some(partitioner);
        self.checks.expected_partitions = expected_partitions;
        self.checks.recorded = recorded;
        self
    }

    /// Collect failed checks (order, sizes, partition count) for [`Scanner::take_problems`]
    /// instead of failing on them, and leave Digest.crc32 to the caller: for `verify`, which
    /// reports every problem and checks the digest over every chunk whatever the scan reaches.
    /// Decoding errors still end the scan.
    pub fn report_problems(&mut self) {
        self.checks.report = Some(Vec::new());
    }

    /// The failed checks collected since the last call (see [`Scanner::report_problems`]).
    pub fn take_problems(&mut self) -> Vec<Error> {
        self.checks.report.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// Return a failed check, or collect it.
    fn failed(&mut self, e: Error) -> Result<()> {
        match &mut self.checks.report {
            Some(list) => {
                list.push(e);
                Ok(())
            }
            None => Err(e),
        }
    }

    /// The serialization header used for decoding.
    pub fn header(&self) -> &SerializationHeader {
        &self.header
    }

    /// The header, shared (for a reader that keeps it beyond the scanner's life).
    pub fn shared_header(&self) -> &Arc<SerializationHeader> {
        &self.header
    }

    /// The chunk source.
    pub fn source(&self) -> &DataSource {
        &self.source
    }

    /// Current offset in the uncompressed stream.
    pub fn offset(&self) -> u64 {
        self.start + self.pos as u64
    }

    /// Continue reading at `position` (a partition start, e.g. from Index.db), stopping at `end`.
    pub fn seek(&mut self, position: u64, end: Option<u64>) -> Result<()> {
        self.in_partition = false;
        self.open_marker = None;
        self.has_previous = false;
        self.end = end.unwrap_or(self.source.data_length()).min(self.source.data_length());
        let c = &mut self.checks;
        c.previous_token = None;
        c.partitions = 0;
        c.finished = false;
        c.whole = position == 0 && self.end == self.source.data_length();
        // Within the bytes already decoded (a point look-up near the last one): no re-read. A
        // whole-file read always starts afresh, so that its digest sees every chunk.
        if !self.checks.whole && position >= self.start && position < self.start + self.buf.len() as u64 {
            self.pos = (position - self.start) as usize;
            return Ok(());
        }
        let cs = self.source.chunk_size().max(1);
        let chunk = position / cs;
        self.buf.clear();
        self.start = chunk * cs;
        self.pos = 0;
        if position < self.source.data_length() {
            self.source.append_chunk(chunk, &mut self.buf)?;
        }
        self.pos = (position - self.start) as usize;
        Ok(())
    }

    /// Move to the partition an index placed at `position` and read its header, which must be
    /// that of `key`: a point look-up's cross-check of Index.db against Data.db (an entry with a
    /// damaged position would otherwise return another partition as if it were `key`'s).
    pub fn seek_partition(&mut self, position: u64, key: &[u8]) -> Result<Option<&PartitionHeader>> {
        self.seek(position, None)?;
        let placed = |s: &Scanner| data_error(&s.path, DecodeError::new(position, DecodeErrorKind::PlacedKeyMismatch));
        // A position at or past the end of the data places nothing: as wrong as another key.
        let Some(p) = self.next_partition()? else { return Err(placed(self)) };
        if p.key != key {
            return Err(placed(self));
        }
        Ok(Some(&self.partition))
    }

    fn can_extend(&self) -> bool {
        self.start + (self.buf.len() as u64) < self.source.data_length()
    }

    fn extend(&mut self) -> Result<()> {
        let cs = self.source.chunk_size().max(1);
        let next = (self.start + self.buf.len() as u64) / cs;
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.start += self.pos as u64;
            self.pos = 0;
        }
        self.source.append_chunk(next, &mut self.buf)
    }

    fn available(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    fn ensure(&mut self, n: usize) -> Result<()> {
        while self.available() < n {
            if !self.can_extend() {
                return Err(data_error(
                    &self.path,
                    DecodeError::new(
                        self.offset(),
                        DecodeErrorKind::Truncated { needed: n as u64, available: self.available() as u64 },
                    ),
                ));
            }
            self.extend()?;
        }
        Ok(())
    }

    /// Parse something small from the window, loading more chunks when it runs short.
    fn parse_small<T>(&mut self, f: impl Fn(&mut Cursor<'_>) -> Result<T, DecodeError>) -> Result<(T, usize)> {
        if self.available() == 0 && self.can_extend() {
            self.extend()?;
        }
        loop {
            let slice = self.buf.get(self.pos..).unwrap_or_default();
            let mut c = Cursor::with_base(slice, self.offset());
            match f(&mut c) {
                Ok(v) => return Ok((v, c.position())),
                Err(e)
                    if matches!(
                        e.kind,
                        DecodeErrorKind::Truncated { .. } | DecodeErrorKind::LengthOutOfRange { .. }
                    ) && self.can_extend()
                        && self.available() < HEAD_LIMIT =>
                {
                    self.extend()?
                }
                Err(e) => return Err(data_error(&self.path, e)),
            }
        }
    }

    /// The next partition, skipping whatever is left of the current one.
    pub fn next_partition(&mut self) -> Result<Option<&PartitionHeader>> {
        while self.in_partition {
            self.next_unfiltered()?;
        }
        let position = self.offset();
        if position >= self.end {
            self.end_of_data()?;
            return Ok(None);
        }
        let version = self.version;
        let ((key_len, deletion), len) = self.parse_small(|c| {
            let key = c.u16_bytes()?;
            let deletion = DeletionTime::read(c, version)?;
            Ok((key.len(), deletion))
        })?;
        self.partition.key.clear();
        self.partition.key.extend_from_slice(self.buf.get(self.pos + 2..self.pos + 2 + key_len).unwrap_or_default());
        self.partition.deletion = deletion;
        self.partition.position = position;
        self.pos += len;
        self.in_partition = true;
        self.open_marker = None;
        self.has_static_row = false;
        self.has_previous = false;
        self.checks.partitions += 1;
        if self.checks.on {
            self.check_partition_order(position)?;
            self.checks.seen.deletion(&self.partition.deletion);
        }
        if self.header.has_static() {
            let at = self.offset();
            match self.read_unfiltered(Slot::Static)? {
                false => {
                    return Err(data_error(
                        &self.path,
                        DecodeError::new(at, DecodeErrorKind::Structure(StructureError::MissingStaticRow)),
                    ));
                }
                true if self.static_row.kind() != UnfilteredKind::StaticRow => {
                    return Err(data_error(
                        &self.path,
                        DecodeError::new(at, DecodeErrorKind::Structure(StructureError::MissingStaticRow)),
                    ));
                }
                true => self.has_static_row = !self.static_row.is_empty_row(),
            }
            if self.checks.on {
                self.checks.seen.unfiltered(&self.static_row);
                if let Some(e) = self.size_error(&self.static_row) {
                    self.failed(e)?;
                }
            }
            if !self.dropped[0].is_empty() {
                leave_out_dropped(&mut self.static_row, &self.dropped[0]);
                self.has_static_row = !self.static_row.is_empty_row();
            }
        }
        self.partition.body_position = self.offset();
        Ok(Some(&self.partition))
    }

    /// The current partition's header.
    pub fn partition(&self) -> &PartitionHeader {
        &self.partition
    }

    /// The current partition's static row, if it has a non-empty one.
    pub fn static_row(&self) -> Option<&Unfiltered> {
        self.has_static_row.then_some(&self.static_row)
    }

    /// The unfiltered the last [`Scanner::next_unfiltered`] returned (meaningless once it has
    /// returned `None`), for a merger that keeps looking at it without copying it.
    pub(crate) fn last_unfiltered(&self) -> &Unfiltered {
        self.current()
    }

    /// The current unfiltered.
    fn current(&self) -> &Unfiltered {
        let [a, b] = &self.rows;
        if self.flipped { b } else { a }
    }

    /// The unfiltered before the current one.
    fn previous(&self) -> &Unfiltered {
        let [a, b] = &self.rows;
        if self.flipped { a } else { b }
    }

    /// Where [`Scanner::read_unfiltered`] reads into.
    fn slot(&mut self, slot: Slot) -> &mut Unfiltered {
        let [a, b] = &mut self.rows;
        match slot {
            Slot::Static => &mut self.static_row,
            Slot::Current if self.flipped => b,
            Slot::Current => a,
        }
    }

    /// The next row or marker of the current partition; `None` at its end.
    pub fn next_unfiltered(&mut self) -> Result<Option<&Unfiltered>> {
        if !self.in_partition {
            return Ok(None);
        }
        let at = self.offset();
        // The last unfiltered becomes `previous`; its buffers are reused for the next one.
        self.flipped = !self.flipped;
        if !self.read_unfiltered(Slot::Current)? {
            self.in_partition = false;
            if let Some((_, open_at)) = self.open_marker.take() {
                return Err(data_error(
                    &self.path,
                    DecodeError::new(at, DecodeErrorKind::UnclosedRangeTombstone { open_at }),
                ));
            }
            return Ok(None);
        }
        match self.current().kind() {
            UnfilteredKind::StaticRow => {
                return Err(data_error(
                    &self.path,
                    DecodeError::new(at, DecodeErrorKind::Structure(StructureError::UnexpectedStaticRow)),
                ));
            }
            UnfilteredKind::Marker(kind) => {
                if kind.is_close() {
                    let Some((open, _)) = self.open_marker.take() else {
                        return Err(data_error(
                            &self.path,
                            DecodeError::new(at, DecodeErrorKind::UnopenedRangeTombstone),
                        ));
                    };
                    let close = self.current().close_deletion;
                    if open != close {
                        return Err(data_error(
                            &self.path,
                            DecodeError::new(
                                at,
                                DecodeErrorKind::MismatchedRangeTombstone {
                                    open_ts: open.marked_for_delete_at,
                                    open_ldt: open.local_deletion_time,
                                    close_ts: close.marked_for_delete_at,
                                    close_ldt: close.local_deletion_time,
                                },
                            ),
                        ));
                    }
                }
                if kind.is_open() {
                    if let Some((_, open_at)) = self.open_marker {
                        return Err(data_error(
                            &self.path,
                            DecodeError::new(at, DecodeErrorKind::NestedRangeTombstone { open_at }),
                        ));
                    }
                    self.open_marker = Some((self.current().deletion, at));
                }
            }
            UnfilteredKind::Row => {}
        }
        if self.checks.on {
            let [a, b] = &self.rows;
            self.checks.seen.unfiltered(if self.flipped { b } else { a });
            if let Some(e) = self.size_error(self.current()) {
                self.failed(e)?;
            }
            if self.has_previous
                && compare_positions(&self.header.clustering_types, self.previous(), self.current())
                    != std::cmp::Ordering::Less
            {
                let e = data_error(
                    &self.path,
                    DecodeError::new(at, DecodeErrorKind::Structure(StructureError::ClusteringOutOfOrder)),
                );
                self.failed(e)?;
            }
        }
        self.has_previous = true;
        if !self.dropped[1].is_empty() {
            let [a, b] = &mut self.rows;
            leave_out_dropped(if self.flipped { b } else { a }, &self.dropped[1]);
        }
        Ok(Some(self.current()))
    }

    /// The error for a row or marker whose size field disagrees with the bytes it takes.
    fn size_error(&self, u: &Unfiltered) -> Option<Error> {
        let (recorded, actual) = u.size_mismatch?;
        let kind = DecodeErrorKind::SizeMismatch { what: "row or marker size", recorded, actual };
        Some(data_error(&self.path, DecodeError::new(u.position, kind)))
    }

    /// The partition just read must sort after the previous one (Cassandra refuses to write
    /// otherwise: `io/sstable/format/big/BigTableWriter.java`, `beforeAppend`).
    fn check_partition_order(&mut self, position: u64) -> Result<()> {
        let Some(partitioner) = self.checks.partitioner else { return Ok(()) };
        let token = partitioner.token(&self.partition.key);
        let out_of_order = self.checks.previous_token.as_ref().is_some_and(|prev| {
            compare_decorated(prev, &self.checks.previous_key, &token, &self.partition.key) != std::cmp::Ordering::Less
        });
        if out_of_order {
            let previous = self.checks.previous_token.as_ref().map(ToString::to_string).unwrap_or_default();
            let kind = DecodeErrorKind::PartitionOutOfOrder { token: token.to_string(), previous };
            self.failed(data_error(&self.path, DecodeError::new(position, kind)))?;
        }
        self.checks.previous_token = Some(token);
        self.checks.previous_key.clear();
        self.checks.previous_key.extend_from_slice(&self.partition.key);
        Ok(())
    }

    /// At the end of the data, once: the partition count of a whole scan against
    /// Statistics.db, and Digest.crc32 when the chunks read cover the whole file.
    fn end_of_data(&mut self) -> Result<()> {
        let length = self.source.data_length();
        if !self.checks.on || self.checks.finished || self.end < length {
            return Ok(());
        }
        self.checks.finished = true;
        if self.checks.whole
            && let Some(recorded) = self.checks.expected_partitions
            && recorded != self.checks.partitions
        {
            let mismatch = Mismatch::PartitionCount { scanned: self.checks.partitions, recorded };
            self.failed(Error::Inconsistent { path: self.path.clone(), offset: length, mismatch })?;
        }
        if self.checks.report.is_none()
            && let Some(d) = self.source.digest()
        {
            d.check(&self.source)?;
        }
        // After the digest: a damaged Data.db byte shifts a value too, and is Data.db's damage.
        if let Some(recorded) = &self.checks.recorded
            && let Some(mismatch) = self.checks.seen.outside(recorded)
        {
            self.failed(Error::Inconsistent { path: self.path.clone(), offset: length, mismatch })?;
        }
        Ok(())
    }

    /// Read one unfiltered into `row`; `false` at the end-of-partition byte.
    ///
    /// The recorded size says how many bytes to take first; the structure itself decides where
    /// the unfiltered ends, as in Cassandra's reader, which never trusts the size field for
    /// parsing. A disagreement is kept in [`Unfiltered::size_mismatch`] for `verify`.
    #[inline(always)]
    fn read_unfiltered(&mut self, slot: Slot) -> Result<bool> {
        // Fast path: the whole unfiltered is already in the window and its size field agrees
        // with its structure. It is parsed once, straight from the window, and then copied;
        // anything else (end of window, a size disagreement, an error) goes the careful way
        // below, which reads the head, then the body, loading chunks as needed, and reports
        // exactly what it always did. Both paths accept the same unfiltereds with the same result.
        let window = self.buf.get(self.pos..).unwrap_or_default();
        match window.first() {
            Some(flags) if flags & END_OF_PARTITION != 0 => {
                self.pos += 1;
                return Ok(false);
            }
            Some(_) => {
                let position = self.start + self.pos as u64;
                let [a, b] = &mut self.rows;
                let row = match slot {
                    Slot::Static => &mut self.static_row,
                    Slot::Current if self.flipped => b,
                    Slot::Current => a,
                };
                row.reset();
                row.position = position;
                if let Ok((head, used)) = decode_shaped(window, position, &self.header, &self.shape, self.version, row)
                {
                    let left = self.source.data_length().saturating_sub(position);
                    let body = row.serialized_size;
                    if (used - head) as u64 == body
                        && (used as u64) <= left
                        && let Some(bytes) = window.get(..used)
                    {
                        row.bytes.extend_from_slice(bytes);
                        self.pos += used;
                        return Ok(true);
                    }
                }
            }
            None => {}
        }
        self.read_unfiltered_careful(slot)
    }

    /// [`Self::read_unfiltered`]'s careful way, out of line (the fast path is inlined into
    /// every caller).
    #[inline(never)]
    fn read_unfiltered_careful(&mut self, slot: Slot) -> Result<bool> {
        let mut row = std::mem::take(self.slot(slot));
        let got = self.read_unfiltered_slow(&mut row);
        *self.slot(slot) = row;
        got
    }

    /// [`Self::read_unfiltered`] for an unfiltered that is not whole in the window, or whose
    /// size field disagrees with its structure, or that does not decode.
    fn read_unfiltered_slow(&mut self, row: &mut Unfiltered) -> Result<bool> {
        let header = Arc::clone(&self.header);
        let (head, _) = self.parse_small(|c| parse_head(c, &header))?;
        let (len, body) = match head {
            Head::End { len } => {
                self.pos += len;
                return Ok(false);
            }
            Head::Item { len, body } => (len, body),
        };
        let position = self.offset();
        let left = self.source.data_length().saturating_sub(position);
        if len as u64 + body > left {
            return Err(data_error(
                &self.path,
                DecodeError::new(
                    position,
                    DecodeErrorKind::LengthOutOfRange { what: "row size", length: body, limit: left - len as u64 },
                ),
            ));
        }
        let mut take = len + body as usize;
        loop {
            self.ensure(take)?;
            row.reset();
            row.bytes.extend_from_slice(self.buf.get(self.pos..self.pos + take).unwrap_or_default());
            row.position = position;
            let bytes = std::mem::take(&mut row.bytes);
            let r = decode_shaped(&bytes, position, &header, &self.shape, self.version, row).map(|(_, used)| used);
            row.bytes = bytes;
            match r {
                Ok(used) => {
                    let actual = (used - len) as u64;
                    row.size_mismatch = (actual != body).then_some((body, actual));
                    row.bytes.truncate(used);
                    self.pos += used;
                    return Ok(true);
                }
                // The recorded size was too small: take more bytes, up to what is left.
                Err(e)
                    if matches!(
                        e.kind,
                        DecodeErrorKind::Truncated { .. } | DecodeErrorKind::LengthOutOfRange { .. }
                    ) && (take as u64) < left =>
                {
                    take = (take.saturating_mul(2).max(take + 64) as u64).min(left) as usize;
                }
                Err(e) => return Err(data_error(&self.path, e)),
            }
        }
    }
}

fn parse_head(c: &mut Cursor<'_>, header: &SerializationHeader) -> Result<Head, DecodeError> {
    let flags = c.u8()?;
    if flags & END_OF_PARTITION != 0 {
        return Ok(Head::End { len: c.position() });
    }
    if flags & IS_MARKER != 0 {
        c.u8()?;
        let size = c.u16()? as usize;
        clustering::read_values(c, &header.clustering_types, size, |_, _| {})?;
    } else {
        let ext = if flags & EXTENSION_FLAG != 0 { c.u8()? } else { 0 };
        if ext & IS_STATIC == 0 {
            let n = header.clustering_types.len();
            clustering::read_values(c, &header.clustering_types, n, |_, _| {})?;
        }
    }
    let body = c.uvint()?;
    Ok(Head::Item { len: c.position(), body })
}

fn offset_in(base: &[u8], part: &[u8]) -> usize {
    (part.as_ptr() as usize).saturating_sub(base.as_ptr() as usize)
}

/// Decode one serialized row or marker (`bytes` from its flags byte to its end) into `row`.
pub fn decode_unfiltered(
    bytes: &[u8],
    position: u64,
    header: &SerializationHeader,
    version: Version,
    row: &mut Unfiltered,
) -> Result<usize, DecodeError> {
    decode_shaped(bytes, position, header, &Shape::of(header), version, row).map(|(_, used)| used)
}

/// [`decode_unfiltered`] with the header's [`Shape`] given; returns the length of the head (up
/// to and including the size field) and of the whole unfiltered.
/// Remove from `row` the cells and complex deletions of the `dropped` columns (header index, drop
/// time) that are not newer than the drop (Cassandra's `SerializationHelper.isDropped`).
fn leave_out_dropped(row: &mut Unfiltered, dropped: &[(u16, i64)]) {
    let gone = |column: u16, ts: i64| dropped.iter().any(|&(c, at)| c == column && ts <= at);
    row.cells.retain(|c| !gone(c.column, c.timestamp));
    row.complex_deletions.retain(|d| !gone(d.column, d.deletion.marked_for_delete_at));
}

fn decode_shaped(
    bytes: &[u8],
    position: u64,
    header: &SerializationHeader,
    shape: &Shape,
    version: Version,
    row: &mut Unfiltered,
) -> Result<(usize, usize), DecodeError> {
    let mut c = Cursor::with_base(bytes, position);
    let stats = header.stats;
    let flags = c.u8()?;
    row.flags = flags;
    if flags & IS_MARKER != 0 {
        let at = c.offset();
        let k = c.u8()?;
        let kind = BoundKind::from_ordinal(k)
            .filter(|k| k.is_marker_kind())
            .ok_or_else(|| DecodeError::new(at, DecodeErrorKind::InvalidBoundKind { kind: k }))?;
        let size = c.u16()? as usize;
        let clustering = &mut row.clustering;
        clustering::read_values_fixed(&mut c, &shape.clustering, size, |_, v| {
            clustering.push(v.map(|v| Span::of(offset_in(bytes, v), v.len())));
        })?;
        let size_at = c.offset();
        row.serialized_size = c.uvint()?;
        let body_start = c.position();
        row.prev_size = c.uvint()?;
        let read_deletion = |c: &mut Cursor<'_>| -> Result<DeletionTime, DecodeError> {
            let ts = stats.timestamp(c.uvint()?);
            let ldt = stats.local_deletion_time(read_uvint32(c)?, version);
            Ok(DeletionTime { marked_for_delete_at: ts, local_deletion_time: ldt })
        };
        if kind.is_boundary() {
            row.close_deletion = read_deletion(&mut c)?;
            row.deletion = read_deletion(&mut c)?;
        } else if kind.is_open() {
            row.deletion = read_deletion(&mut c)?;
        } else {
            row.close_deletion = read_deletion(&mut c)?;
        }
        let _ = (size_at, body_start);
        row.kind = UnfilteredKindOpt::Kind(UnfilteredKind::Marker(kind));
        return Ok((body_start, c.position()));
    }
    let ext = if flags & EXTENSION_FLAG != 0 { c.u8()? } else { 0 };
    row.ext_flags = ext;
    let is_static = ext & IS_STATIC != 0;
    if !is_static {
        let n = shape.clustering.len();
        let clustering = &mut row.clustering;
        clustering::read_values_fixed(&mut c, &shape.clustering, n, |_, v| {
            clustering.push(v.map(|v| Span::of(offset_in(bytes, v), v.len())));
        })?;
    }
    let size_at = c.offset();
    row.serialized_size = c.uvint()?;
    let body_start = c.position();
    row.prev_size = c.uvint()?;
    if flags & HAS_TIMESTAMP != 0 {
        let ts = stats.timestamp(c.uvint()?);
        let (ttl, ldt) = if flags & HAS_TTL != 0 {
            let ttl = stats.ttl(read_uvint32(&mut c)?);
            let ldt = stats.local_deletion_time(read_uvint32(&mut c)?, version);
            (ttl, ldt)
        } else {
            (NO_TTL, NO_DELETION_TIME)
        };
        row.liveness = LivenessInfo { timestamp: ts, ttl, local_expiration_time: ldt };
    }
    let read_deletion = |c: &mut Cursor<'_>| -> Result<DeletionTime, DecodeError> {
        let ts = stats.timestamp(c.uvint()?);
        let ldt = stats.local_deletion_time(read_uvint32(c)?, version);
        Ok(DeletionTime { marked_for_delete_at: ts, local_deletion_time: ldt })
    };
    if flags & HAS_DELETION != 0 {
        let d = read_deletion(&mut c)?;
        if ext & HAS_SHADOWABLE_DELETION != 0 {
            row.shadowable_deletion = d;
        } else {
            row.deletion = d;
        }
    }
    if ext & HAS_SCYLLA_SHADOWABLE_DELETION != 0 {
        row.shadowable_deletion = read_deletion(&mut c)?;
    }
    let columns = if is_static { &shape.statics } else { &shape.regulars };
    let n = columns.len();
    // Column subset (Cassandra db/Columns.java, Serializer.deserializeSubset).
    let mut present_small: u64 = u64::MAX;
    let mut present_list: Option<Vec<u16>> = None;
    if flags & HAS_ALL_COLUMNS == 0 {
        let at = c.offset();
        let encoded = c.uvint()?;
        if encoded != 0 {
            if n < 64 {
                present_small = !encoded;
                if n < 64 && encoded >> n != 0 {
                    return Err(DecodeError::new(
                        at,
                        DecodeErrorKind::ColumnIndex { index: 63 - encoded.leading_zeros() as u64, count: n as u64 },
                    ));
                }
            } else {
                let missing = encoded as usize;
                if missing > n {
                    return Err(DecodeError::new(
                        at,
                        DecodeErrorKind::ColumnIndex { index: missing as u64, count: n as u64 },
                    ));
                }
                let count = n - missing;
                let mut list = Vec::with_capacity(count);
                if count < n / 2 {
                    for _ in 0..count {
                        let at = c.offset();
                        let i = c.uvint()?;
                        if i >= n as u64 {
                            return Err(DecodeError::new(
                                at,
                                DecodeErrorKind::ColumnIndex { index: i, count: n as u64 },
                            ));
                        }
                        list.push(i as u16);
                    }
                } else {
                    let mut idx = 0usize;
                    let mut skipped = 0usize;
                    loop {
                        let next_missing = if skipped < missing {
                            let at = c.offset();
                            let i = c.uvint()?;
                            if i >= n as u64 {
                                return Err(DecodeError::new(
                                    at,
                                    DecodeErrorKind::ColumnIndex { index: i, count: n as u64 },
                                ));
                            }
                            i as usize
                        } else {
                            n
                        };
                        while idx < next_missing {
                            list.push(idx as u16);
                            idx += 1;
                        }
                        if idx >= n {
                            break;
                        }
                        idx += 1;
                        skipped += 1;
                    }
                }
                present_list = Some(list);
            }
        }
    }
    let liveness = row.liveness;
    // One column's cells (a plain function, so that it is inlined into both loops below).
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn visit(
        i: usize,
        c: &mut Cursor<'_>,
        row: &mut Unfiltered,
        columns: &[ColumnShape],
        bytes: &[u8],
        flags: u8,
        liveness: &LivenessInfo,
        stats: &crate::statistics::EncodingStats,
        version: Version,
    ) -> Result<(), DecodeError> {
        let n = columns.len();
        let Some(col) = columns.get(i) else {
            return Err(c.error(DecodeErrorKind::ColumnIndex { index: i as u64, count: n as u64 }));
        };
        if !col.complex {
            let cell = read_cell(c, bytes, i as u16, col.fixed, false, liveness, stats, version)?;
            row.cells.push(cell);
            return Ok(());
        }
        if flags & HAS_COMPLEX_DELETION != 0 {
            let ts = stats.timestamp(c.uvint()?);
            let ldt = stats.local_deletion_time(read_uvint32(c)?, version);
            if ts != NO_TIMESTAMP {
                row.complex_deletions.push(ComplexDeletion {
                    column: i as u16,
                    deletion: DeletionTime { marked_for_delete_at: ts, local_deletion_time: ldt },
                });
            }
        }
        let count = c.uvint_count("complex cell count")?;
        for _ in 0..count {
            let cell = read_cell(c, bytes, i as u16, None, true, liveness, stats, version)?;
            row.cells.push(cell);
        }
        Ok(())
    }
    match present_list {
        Some(list) => {
            for i in list {
                visit(i as usize, &mut c, row, columns, bytes, flags, &liveness, &stats, version)?;
            }
        }
        None => {
            for i in 0..n {
                if i < 64 && present_small & (1u64 << i) == 0 {
                    continue;
                }
                visit(i, &mut c, row, columns, bytes, flags, &liveness, &stats, version)?;
            }
        }
    }
    let _ = (size_at, body_start);
    row.kind = UnfilteredKindOpt::Kind(if is_static { UnfilteredKind::StaticRow } else { UnfilteredKind::Row });
    Ok((body_start, c.position()))
}

#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn read_cell(
    c: &mut Cursor<'_>,
    base: &[u8],
    column: u16,
    fixed: Option<usize>,
    complex: bool,
    liveness: &LivenessInfo,
    stats: &crate::statistics::EncodingStats,
    version: Version,
) -> Result<Cell, DecodeError> {
    let flags = c.u8()?;
    let timestamp = if flags & CELL_USE_ROW_TIMESTAMP != 0 { liveness.timestamp } else { stats.timestamp(c.uvint()?) };
    let deleted = flags & CELL_IS_DELETED != 0;
    let expiring = flags & CELL_IS_EXPIRING != 0;
    let use_row_ttl = flags & CELL_USE_ROW_TTL != 0;
    let local_deletion_time = if use_row_ttl {
        liveness.local_expiration_time
    } else if deleted || expiring {
        stats.local_deletion_time(read_uvint32(c)?, version)
    } else {
        NO_DELETION_TIME
    };
    let ttl = if use_row_ttl {
        liveness.ttl
    } else if expiring {
        stats.ttl(read_uvint32(c)?)
    } else {
        NO_TTL
    };
    let path = if complex {
        let p = c.uvint_bytes("cell path length")?;
        Some(Span::of(offset_in(base, p), p.len()))
    } else {
        None
    };
    let value = if flags & CELL_HAS_EMPTY_VALUE != 0 {
        Span::default()
    } else {
        // Complex cells are written with the collection type, which has no fixed length.
        let v = match (complex, fixed) {
            (false, Some(len)) => c.bytes(len)?,
            _ => c.uvint_bytes("cell value length")?,
        };
        Span::of(offset_in(base, v), v.len())
    };
    Ok(Cell { column, flags, timestamp, local_deletion_time, ttl, path, value })
}

impl Scanner {
    /// Consume the scanner, returning its source (for reuse).
    pub fn into_source(self) -> DataSource {
        self.source
    }

    /// A located error at the current offset (for callers that find a problem in what they read).
    pub fn error_here(&self, kind: DecodeErrorKind) -> Error {
        data_error(&self.path, DecodeError::new(self.offset(), kind))
    }
}

impl Scanner {
    /// Bytes currently held by the scanner's window and reusable rows (for memory accounting).
    pub fn buffered_bytes(&self) -> usize {
        let [a, b] = &self.rows;
        self.buf.capacity() + a.raw().len() + b.raw().len() + self.static_row.raw().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::write_uvint;
    use crate::data::source::Layout;
    use crate::statistics::{EncodingStats, HeaderColumn};
    use crate::types::CqlType;
    use std::path::Path;

    fn header() -> SerializationHeader {
        SerializationHeader::new(
            EncodingStats { min_timestamp: 0, min_local_deletion_time: i32::MAX as u32, min_ttl: 0 },
            CqlType::Int,
            vec![CqlType::Int],
            vec![],
            vec![HeaderColumn::new("v", CqlType::Text)],
        )
    }

    /// One partition with `rows` rows of a 40-byte text value.
    fn wide_partition(rows: i32) -> Vec<u8> {
        let mut out = vec![0, 4, 0, 0, 0, 7, 0x7f, 0xff, 0xff, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0];
        for r in 0..rows {
            let mut body = vec![0, 0];
            body.push(0x08);
            body.push(40);
            body.extend_from_slice(&[b'x'; 40]);
            out.push(0x24);
            out.push(0);
            out.extend_from_slice(&r.to_be_bytes());
            write_uvint(&mut out, body.len() as u64);
            out.extend_from_slice(&body);
        }
        out.push(1);
        out
    }

    #[test]
    fn memory_stays_bounded_in_a_million_row_partition() {
        let data = wide_partition(1_000_000);
        assert!(data.len() > 40_000_000);
        let src = DataSource::from_bytes(
            Path::new("wide"),
            data,
            Layout::Uncompressed { chunk_size: 65536, crcs: None },
            false,
        );
        let mut s = Scanner::new(src, Arc::new(header()), Version::Nb);
        s.next_partition().unwrap().unwrap();
        let mut rows = 0u64;
        let mut peak = 0usize;
        while let Some(u) = s.next_unfiltered().unwrap() {
            assert_eq!(u.cells.len(), 1);
            rows += 1;
            if rows.is_multiple_of(1000) {
                peak = peak.max(s.buffered_bytes());
            }
        }
        assert_eq!(rows, 1_000_000);
        assert!(peak < 512 * 1024, "scanner held {peak} bytes");
        assert!(s.next_partition().unwrap().is_none());
    }

    /// Every row of `data` (one partition) as seen through `chunk_size`-byte chunks, with the
    /// order checks on; or the first error.
    fn rows_through(data: &[u8], chunk_size: u32) -> Result<Vec<String>> {
        let src = DataSource::from_bytes(
            Path::new("w"),
            data.to_vec(),
            Layout::Uncompressed { chunk_size, crcs: None },
            true,
        );
        let mut s = Scanner::new(src, Arc::new(header()), Version::Nb);
        s.next_partition()?;
        let mut out = Vec::new();
        while let Some(u) = s.next_unfiltered()? {
            let values: Vec<&[u8]> = u.cells.iter().map(|c| u.value(c)).collect();
            out.push(format!(
                "{} {:?} {:?} {} {:?} {:?}",
                u.position,
                u.clustering_value(0),
                values,
                u.serialized_size,
                u.size_mismatch,
                u.raw()
            ));
        }
        Ok(out)
    }

    #[test]
    fn rows_read_the_same_whole_in_the_window_or_across_chunks() {
        // 51-byte rows: through 64-byte chunks most straddle two chunks (the careful path),
        // through 1 MiB chunks none does (the fast path).
        let data = wide_partition(300);
        let whole = rows_through(&data, 1 << 20).unwrap();
        assert_eq!(whole.len(), 300);
        assert_eq!(rows_through(&data, 64).unwrap(), whole);
        // The order check compares each row with the one before on both paths.
        let mut swapped = wide_partition(3);
        let row = |r: usize| 18 + r * 51 + 2..18 + r * 51 + 6;
        swapped[row(1)].copy_from_slice(&5i32.to_be_bytes());
        for chunk_size in [64, 1 << 20] {
            let e = rows_through(&swapped, chunk_size).unwrap_err();
            assert!(
                matches!(e, Error::Corrupt { kind: DecodeErrorKind::Structure(StructureError::ClusteringOutOfOrder), offset, .. } if offset == 18 + 2 * 51),
                "{e:?}"
            );
        }
    }

    #[test]
    fn row_size_field_is_not_trusted_for_parsing() {
        // A row whose size field says 2 bytes more than its structure: the reader follows the
        // structure (as Cassandra does) and records the disagreement.
        let mut data = wide_partition(2);
        let size_at = 18 + 1 + 1 + 4;
        data[size_at] += 2;
        let src = DataSource::from_bytes(
            Path::new("bad"),
            data,
            Layout::Uncompressed { chunk_size: 65536, crcs: None },
            false,
        );
        let mut s = Scanner::new(src, Arc::new(header()), Version::Nb);
        s.next_partition().unwrap();
        let u = s.next_unfiltered().unwrap().unwrap();
        assert_eq!(u.size_mismatch, Some((46, 44)));
        assert!(s.next_unfiltered().unwrap().is_some());
        assert!(s.next_unfiltered().unwrap().is_none());
    }
}
