//! Serializing partitions, rows, range-tombstone markers and cells into Data.db bytes
//! (the inverse of [`crate::data::scanner`]; Cassandra `db/rows/UnfilteredSerializer.java`,
//! `db/rows/Cell.java`, `db/Columns.java`).
//!
//! A row's encoding runs once per row written, and its parts (clustering, cells, the body's
//! size) are a few dozen instructions each: they are `#[inline(always)]` into
//! [`RowEncoder::write`], and it into the writer's per-row step, so that a row costs no calls
//! (measured with callgrind: `compact upgrade` −6% instructions, −7% CPU time).

use crate::codec::{MAX_UVINT_SIZE, append_value, encode_uvint, write_uvint};
use crate::data::*;
use crate::deletion::{DeletionTime, LivenessInfo, NO_TIMESTAMP};
use crate::statistics::{EncodingStats, SerializationHeader};
use crate::version::Version;

/// The vint a timestamp is written as: its delta from the header's base.
fn ts_delta(stats: &EncodingStats, ts: i64) -> u64 {
    ts.wrapping_sub(stats.min_timestamp) as u64
}

fn write_ts(out: &mut Vec<u8>, stats: &EncodingStats, ts: i64) {
    write_uvint(out, ts_delta(stats, ts));
}

/// A 32-bit delta, sign-extended before the vint encoding (as Cassandra writes it).
fn delta32(delta: i32) -> u64 {
    i64::from(delta) as u64
}

/// The on-disk 32 bits of a local deletion time.
pub fn ldt_raw(ldt: i64, version: Version) -> u32 {
    if version.has_uint_deletion_time() {
        crate::deletion::ldt_to_u32(ldt)
    } else {
        crate::deletion::ldt_to_i32(ldt) as u32
    }
}

/// The vint a local deletion time is written as: its delta from the header's base.
fn ldt_delta(stats: &EncodingStats, ldt: i64, version: Version) -> u64 {
    delta32(ldt_raw(ldt, version).wrapping_sub(stats.min_local_deletion_time) as i32)
}

/// The vint a TTL is written as: its delta from the header's base.
fn ttl_delta(stats: &EncodingStats, ttl: i32) -> u64 {
    delta32(ttl.wrapping_sub(stats.min_ttl))
}

fn write_ldt(out: &mut Vec<u8>, stats: &EncodingStats, ldt: i64, version: Version) {
    write_uvint(out, ldt_delta(stats, ldt, version));
}

fn write_deletion(out: &mut Vec<u8>, stats: &EncodingStats, d: &DeletionTime, version: Version) {
    write_ts(out, stats, d.marked_for_delete_at);
    write_ldt(out, stats, d.local_deletion_time, version);
}

/// Append the partition header: key and partition deletion.
pub fn write_partition_header(out: &mut Vec<u8>, key: &[u8], deletion: &DeletionTime, version: Version) {
    out.extend_from_slice(&(key.len() as u16).to_be_bytes());
    out.extend_from_slice(key);
    deletion.write(out, version);
}

/// Up to `N` bytes built on the stack and appended to the output in one copy: a cell's fixed
/// part (flags and up to four vints) or a row's (up to six vints) costs one append instead of
/// one per byte. Each vint is copied as the 16 bytes of [`encode_uvint`], so `N` is the longest
/// content plus [`VINT_SPAN`] (bytes past the content are never appended).
struct Piece<const N: usize> {
    bytes: [u8; N],
    len: usize,
}

/// The bytes one vint's copy spans in a [`Piece`].
const VINT_SPAN: usize = 16;

/// Room for a cell's flags byte and four vints (timestamp, deletion time, TTL, path length).
type CellPiece = Piece<{ 1 + 4 * MAX_UVINT_SIZE + VINT_SPAN }>;

/// Room for a row's previous-size, liveness and deletion vints (six).
type RowPiece = Piece<{ 6 * MAX_UVINT_SIZE + VINT_SPAN }>;

impl<const N: usize> Piece<N> {
    fn new() -> Self {
        Piece { bytes: [0; N], len: 0 }
    }

    /// Append one byte. The sizes above hold every field a piece is given; running out of room
    /// is a bug in them, caught in debug builds (a release build would drop the byte).
    fn push(&mut self, b: u8) {
        debug_assert!(self.len < N, "Piece<{N}> is out of room");
        if let Some(slot) = self.bytes.get_mut(self.len) {
            *slot = b;
            self.len += 1;
        }
    }

    /// Append `value` as an unsigned vint (the bytes [`write_uvint`] appends).
    fn uvint(&mut self, value: u64) {
        if value < 0x80 {
            self.push(value as u8);
            return;
        }
        debug_assert!(self.len + VINT_SPAN <= N, "Piece<{N}> is out of room");
        let (bytes, size) = encode_uvint(value);
        if let Some(dst) = self.bytes.get_mut(self.len..self.len + VINT_SPAN) {
            dst.copy_from_slice(&bytes);
            self.len += size;
        }
    }

    /// Append the bytes built to `out`: all `N` copied (a fixed-size copy, no call), the
    /// unused tail cut off again.
    fn append_to(&self, out: &mut Vec<u8>) {
        let end = out.len() + self.len;
        out.extend_from_slice(&self.bytes);
        out.truncate(end);
    }
}

/// Append a cell.
#[inline(always)]
fn write_cell(
    out: &mut Vec<u8>,
    u: &Unfiltered,
    c: &Cell,
    complex: bool,
    fixed: Option<usize>,
    stats: &EncodingStats,
    version: Version,
) {
    let liveness: &LivenessInfo = &u.liveness;
    let deleted = c.is_tombstone();
    let expiring = !deleted && c.ttl != 0;
    let value = u.value(c);
    let use_row_ts = !liveness.is_empty() && c.timestamp == liveness.timestamp;
    let use_row_ttl = expiring
        && liveness.is_expiring()
        && c.ttl == liveness.ttl
        && c.local_deletion_time == liveness.local_expiration_time;
    let mut flags = 0u8;
    if deleted {
        flags |= CELL_IS_DELETED;
    }
    if expiring {
        flags |= CELL_IS_EXPIRING;
    }
    if value.is_empty() {
        flags |= CELL_HAS_EMPTY_VALUE;
    }
    if use_row_ts {
        flags |= CELL_USE_ROW_TIMESTAMP;
    }
    if use_row_ttl {
        flags |= CELL_USE_ROW_TTL;
    }
    let mut piece = CellPiece::new();
    piece.push(flags);
    if !use_row_ts {
        piece.uvint(ts_delta(stats, c.timestamp));
    }
    if (deleted || expiring) && !use_row_ttl {
        piece.uvint(ldt_delta(stats, c.local_deletion_time, version));
    }
    if expiring && !use_row_ttl {
        piece.uvint(ttl_delta(stats, c.ttl));
    }
    if complex {
        // Never empty by default: `check_cells` refused a complex cell without a path already.
        let p = u.path(c).unwrap_or_default();
        piece.uvint(p.len() as u64);
        piece.append_to(out);
        out.extend_from_slice(p);
        piece.len = 0;
    }
    if !value.is_empty() && (fixed.is_none() || complex) {
        piece.uvint(value.len() as u64);
    }
    piece.append_to(out);
    append_value(out, value);
}

/// Append the column-subset encoding of the columns `present` (sorted header indices) of a
/// header list of `count` columns (Cassandra `Columns.Serializer.serializeSubset`).
fn write_subset(out: &mut Vec<u8>, present: &[u16], count: usize) {
    if present.len() == count {
        write_uvint(out, 0);
    } else if count < 64 {
        let mut missing = (1u64 << count) - 1;
        for &i in present {
            missing &= !(1u64 << i);
        }
        write_uvint(out, missing);
    } else {
        write_uvint(out, (count - present.len()) as u64);
        if present.len() < count / 2 {
            for &i in present {
                write_uvint(out, u64::from(i));
            }
        } else {
            let mut next = 0u16;
            for &i in present {
                while next < i {
                    write_uvint(out, u64::from(next));
                    next += 1;
                }
                next = i + 1;
            }
            while (next as usize) < count {
                write_uvint(out, u64::from(next));
                next += 1;
            }
        }
    }
}

/// Append one row or marker; `prev_size` is the distance from the previous unfiltered's start
/// (or the partition start) to this one (0 for static rows). A writer encoding many rows keeps a
/// [`RowEncoder`] instead (this builds one per call).
pub fn write_unfiltered(
    out: &mut Vec<u8>,
    u: &Unfiltered,
    header: &SerializationHeader,
    version: Version,
    prev_size: u64,
) {
    RowEncoder::new(header).write(out, u, header, version, prev_size);
}

/// What encoding a row needs to know of each column, looked up once per SSTable instead of once
/// per cell: the fixed value length of each clustering, static and regular column's type (`None`
/// when its values carry a length), and whether a column is complex. Plus the list of columns a
/// row has, reused from row to row.
#[derive(Debug, Clone, Default)]
pub struct RowEncoder {
    clustering_fixed: Vec<Option<usize>>,
    static_columns: Vec<(Option<usize>, bool)>,
    regular_columns: Vec<(Option<usize>, bool)>,
    present: Vec<u16>,
}

impl RowEncoder {
    /// The tables of `header` (rows encoded with it must be given the same header).
    pub fn new(header: &SerializationHeader) -> RowEncoder {
        let columns = |cols: &[crate::statistics::HeaderColumn]| {
            cols.iter().map(|c| (c.ty.fixed_length(), c.is_complex())).collect()
        };
        RowEncoder {
            clustering_fixed: header.clustering_types.iter().map(|t| t.fixed_length()).collect(),
            static_columns: columns(&header.static_columns),
            regular_columns: columns(&header.regular_columns),
            present: Vec::new(),
        }
    }

    /// Append the clustering values of `u` ([`crate::clustering::write_values_by`], from their
    /// spans, each value's length written unless the table says its type's is fixed).
    #[inline(always)]
    fn write_clustering(fixed: &[Option<usize>], out: &mut Vec<u8>, u: &Unfiltered) {
        crate::clustering::write_values_by(
            out,
            &u.clustering,
            |s| s.map(|s| u.get(s)),
            |i| fixed.get(i).copied().flatten().is_none(),
        );
    }

    /// Append one row or marker (see [`write_unfiltered`]).
    #[inline(always)]
    pub fn write(
        &mut self,
        out: &mut Vec<u8>,
        u: &Unfiltered,
        header: &SerializationHeader,
        version: Version,
        prev_size: u64,
    ) {
        let stats = &header.stats;
        if let UnfilteredKind::Marker(kind) = u.kind() {
            out.push(IS_MARKER);
            out.push(kind.ordinal());
            out.extend_from_slice(&(u.clustering.len() as u16).to_be_bytes());
            Self::write_clustering(&self.clustering_fixed, out, u);
            let body_start = start_body(out);
            write_uvint(out, prev_size);
            if kind.is_close() {
                write_deletion(out, stats, &u.close_deletion, version);
            }
            if kind.is_open() {
                write_deletion(out, stats, &u.deletion, version);
            }
            finish_body(out, body_start);
            return;
        }
        let is_static = u.kind() == UnfilteredKind::StaticRow;
        let columns = if is_static { &self.static_columns } else { &self.regular_columns };
        let has_complex_deletion = !u.complex_deletions.is_empty();
        let by_column = u.cells.is_sorted_by_key(|c| c.column);
        // Cells in column order without complex deletions (the commonest row): each run of
        // cells is one column present, and a row with every column needs no list of them.
        let all_by_runs = by_column
            && !has_complex_deletion
            && u.cells.chunk_by(|a, b| a.column == b.column).count() == columns.len();
        // Else the columns present, in header order (cells come in column order, so this is
        // usually sorted already).
        let present = &mut self.present;
        present.clear();
        if !all_by_runs {
            present.extend(u.cells.iter().map(|c| c.column));
            present.extend(u.complex_deletions.iter().map(|d| d.column));
            if !present.is_sorted() {
                present.sort_unstable();
            }
            present.dedup();
        }
        let (deletion, shadowable) = if !u.deletion.is_live() {
            (u.deletion, false)
        } else if !u.shadowable_deletion.is_live() {
            (u.shadowable_deletion, true)
        } else {
            (DeletionTime::LIVE, false)
        };
        let mut flags = 0u8;
        let mut ext = 0u8;
        if is_static {
            ext |= IS_STATIC;
        }
        if shadowable {
            ext |= HAS_SHADOWABLE_DELETION;
        }
        if u.liveness.timestamp != NO_TIMESTAMP {
            flags |= HAS_TIMESTAMP;
            if u.liveness.is_expiring() {
                flags |= HAS_TTL;
            }
        }
        if !deletion.is_live() {
            flags |= HAS_DELETION;
        }
        if all_by_runs || present.len() == columns.len() {
            flags |= HAS_ALL_COLUMNS;
        }
        if has_complex_deletion {
            flags |= HAS_COMPLEX_DELETION;
        }
        if ext != 0 {
            flags |= EXTENSION_FLAG;
        }
        out.push(flags);
        if ext != 0 {
            out.push(ext);
        }
        if !is_static {
            Self::write_clustering(&self.clustering_fixed, out, u);
        }
        let body_start = start_body(out);
        let mut piece = RowPiece::new();
        piece.uvint(prev_size);
        if flags & HAS_TIMESTAMP != 0 {
            piece.uvint(ts_delta(stats, u.liveness.timestamp));
            if flags & HAS_TTL != 0 {
                piece.uvint(ttl_delta(stats, u.liveness.ttl));
                piece.uvint(ldt_delta(stats, u.liveness.local_expiration_time, version));
            }
        }
        if !deletion.is_live() {
            piece.uvint(ts_delta(stats, deletion.marked_for_delete_at));
            piece.uvint(ldt_delta(stats, deletion.local_deletion_time, version));
        }
        piece.append_to(out);
        if flags & HAS_ALL_COLUMNS == 0 {
            write_subset(out, present, columns.len());
        }
        // Cells in column order: each column's cells are one run, found by walking the cells once.
        if by_column && !has_complex_deletion {
            // The columns present are those of the cells: each run of cells is one column.
            for cells in u.cells.chunk_by(|a, b| a.column == b.column) {
                let Some(&(fixed, complex)) = cells.first().and_then(|c| columns.get(c.column as usize)) else {
                    continue;
                };
                let column = Column { complex, fixed, complex_deletion: None };
                column.write(out, u, cells.iter(), stats, version);
            }
            finish_body(out, body_start);
            return;
        }
        let mut next = 0;
        for &ci in present.iter() {
            let Some(&(fixed, complex)) = columns.get(ci as usize) else { continue };
            let complex_deletion = (complex && has_complex_deletion).then(|| {
                u.complex_deletions.iter().find(|d| d.column == ci).map_or(DeletionTime::LIVE, |d| d.deletion)
            });
            let column = Column { complex, fixed, complex_deletion };
            if by_column {
                let rest = u.cells.get(next..).unwrap_or_default();
                let skip = rest.iter().take_while(|c| c.column < ci).count();
                let n = rest.iter().skip(skip).take_while(|c| c.column == ci).count();
                next += skip + n;
                column.write(out, u, rest.get(skip..skip + n).unwrap_or_default().iter(), stats, version);
            } else {
                column.write(out, u, u.cells.iter().filter(|c| c.column == ci), stats, version);
            }
        }
        finish_body(out, body_start);
    }
}

/// How one column of a row is written.
struct Column {
    complex: bool,
    fixed: Option<usize>,
    /// The column's deletion, when the row has complex deletions and this column is complex.
    complex_deletion: Option<DeletionTime>,
}

impl Column {
    /// Append the column's `cells` (its complex deletion and cell count first, when complex).
    #[inline(always)]
    fn write<'c>(
        &self,
        out: &mut Vec<u8>,
        u: &Unfiltered,
        cells: impl Iterator<Item = &'c Cell> + Clone,
        stats: &EncodingStats,
        version: Version,
    ) {
        if self.complex {
            if let Some(d) = &self.complex_deletion {
                write_deletion(out, stats, d, version);
            }
            write_uvint(out, cells.clone().count() as u64);
            for c in cells {
                write_cell(out, u, c, true, None, stats, version);
            }
        } else {
            for c in cells {
                write_cell(out, u, c, false, self.fixed, stats, version);
            }
        }
    }
}

/// Reserve the byte the body's size usually takes (bodies under 128 bytes) in front of the
/// body about to be written; returns where the body starts.
fn start_body(out: &mut Vec<u8>) -> usize {
    out.push(0);
    out.len()
}

/// Put the size of the body written from `body_start` in front of it, as a vint: in the byte
/// [`start_body`] reserved when it fits there, else the body moves to make room (no separate
/// body buffer per row).
#[inline(always)]
fn finish_body(out: &mut Vec<u8>, body_start: usize) {
    let len = out.len().saturating_sub(body_start) as u64;
    if crate::codec::uvint_size(len) == 1 {
        if let Some(b) = out.get_mut(body_start.wrapping_sub(1)) {
            *b = len as u8;
        }
        return;
    }
    let mut size = Vec::with_capacity(9);
    write_uvint(&mut size, len);
    out.splice(body_start.saturating_sub(1)..body_start, size);
}
