//! Deletion times and liveness: the timestamps that decide what is alive.
//!
//! A [`DeletionTime`] is a pair: `marked_for_delete_at`, the write timestamp (µs) of the
//! deletion, which shadows anything written at or before it; and `local_deletion_time`, the
//! server's clock (s) when it was written, which decides when gc_grace has passed.
//!
//! Partition deletions are stored whole in the partition header:
//!
//! ```text
//! ma..nb   i32 local_deletion_time · i64 marked_for_delete_at   (LIVE = 7FFFFFFF 8000000000000000)
//! oa       LIVE = one byte 0x80, else i64 marked_for_delete_at (top bit 0) · u32 local_deletion_time
//! ```
//!
//! (Cassandra `db/DeletionTime.java`, 3.0 and 5.0.) Elsewhere in Data.db times are deltas
//! against the serialization header's [`EncodingStats`](crate::statistics::EncodingStats).

use crate::codec::Cursor;
use crate::error::{DecodeError, DecodeErrorKind};
use crate::version::Version;

/// Timestamp meaning "none" (`Long.MIN_VALUE`).
pub const NO_TIMESTAMP: i64 = i64::MIN;
/// Local deletion time meaning "not deleted, not expiring". Pre-5.0 files store
/// `Integer.MAX_VALUE`, 5.0 files `0xFFFFFFFF`; both decode to this.
pub const NO_DELETION_TIME: i64 = i64::MAX;
/// TTL meaning "does not expire".
pub const NO_TTL: i32 = 0;

/// A deletion: what it shadows and when it was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DeletionTime {
    /// Write timestamp of the deletion (µs); data at or below it is deleted.
    pub marked_for_delete_at: i64,
    /// Server time of the deletion (s since the epoch), or [`NO_DELETION_TIME`].
    pub local_deletion_time: i64,
}

impl DeletionTime {
    /// No deletion.
    pub const LIVE: DeletionTime =
        DeletionTime { marked_for_delete_at: NO_TIMESTAMP, local_deletion_time: NO_DELETION_TIME };

    /// Whether this deletes nothing.
    pub fn is_live(&self) -> bool {
        self.marked_for_delete_at == NO_TIMESTAMP && self.local_deletion_time == NO_DELETION_TIME
    }

    /// Whether this deletion shadows data written at `timestamp`.
    pub fn deletes(&self, timestamp: i64) -> bool {
        timestamp <= self.marked_for_delete_at
    }

    /// Whether this deletion supersedes `other` (Cassandra `DeletionTime.supersedes`: the newer
    /// timestamp wins, ties go to the later local deletion time).
    pub fn supersedes(&self, other: &DeletionTime) -> bool {
        self.marked_for_delete_at > other.marked_for_delete_at
            || (self.marked_for_delete_at == other.marked_for_delete_at
                && self.local_deletion_time > other.local_deletion_time)
    }

    /// Decode the whole (non-delta) form used by partition headers and the index.
    pub fn read(c: &mut Cursor<'_>, version: Version) -> Result<DeletionTime, DecodeError> {
        if version.has_uint_deletion_time() {
            let at = c.offset();
            let first = c.u8()?;
            if first & 0x80 != 0 {
                if first != 0x80 {
                    return Err(DecodeError::new(
                        at,
                        DecodeErrorKind::InvalidValue { what: "deletion time flags", value: i64::from(first) },
                    ));
                }
                return Ok(DeletionTime::LIVE);
            }
            let rest = c.array::<7>()?;
            let mut b = [0u8; 8];
            b[0] = first;
            b[1..].copy_from_slice(&rest);
            let mfda = i64::from_be_bytes(b);
            let ldt = c.u32()?;
            Ok(DeletionTime { marked_for_delete_at: mfda, local_deletion_time: normalize_ldt_u32(ldt) })
        } else {
            let ldt = c.i32()?;
            let mfda = c.i64()?;
            let dt = DeletionTime { marked_for_delete_at: mfda, local_deletion_time: normalize_ldt_i32(ldt) };
            Ok(dt)
        }
    }

    /// Encode the whole form for `version`.
    pub fn write(&self, out: &mut Vec<u8>, version: Version) {
        if version.has_uint_deletion_time() {
            if self.is_live() {
                out.push(0x80);
            } else {
                out.extend_from_slice(&self.marked_for_delete_at.to_be_bytes());
                out.extend_from_slice(&ldt_to_u32(self.local_deletion_time).to_be_bytes());
            }
        } else {
            out.extend_from_slice(&ldt_to_i32(self.local_deletion_time).to_be_bytes());
            out.extend_from_slice(&self.marked_for_delete_at.to_be_bytes());
        }
    }

    /// Size of the whole form for `version`.
    pub fn serialized_size(&self, version: Version) -> usize {
        if version.has_uint_deletion_time() && self.is_live() { 1 } else { 12 }
    }
}

/// Map a pre-5.0 on-disk local deletion time to the common representation.
pub fn normalize_ldt_i32(v: i32) -> i64 {
    if v == i32::MAX { NO_DELETION_TIME } else { i64::from(v) }
}

/// Map a 5.0 on-disk (unsigned) local deletion time to the common representation.
pub fn normalize_ldt_u32(v: u32) -> i64 {
    if v == u32::MAX { NO_DELETION_TIME } else { i64::from(v) }
}

/// The pre-5.0 on-disk form of a local deletion time.
pub fn ldt_to_i32(v: i64) -> i32 {
    if v == NO_DELETION_TIME { i32::MAX } else { v as i32 }
}

/// The 5.0 on-disk form of a local deletion time.
pub fn ldt_to_u32(v: i64) -> u32 {
    if v == NO_DELETION_TIME { u32::MAX } else { v as u32 }
}

/// Row liveness: the row marker's timestamp and TTL (Cassandra `db/LivenessInfo.java`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LivenessInfo {
    /// Timestamp, or [`NO_TIMESTAMP`] when the row has no marker.
    pub timestamp: i64,
    /// TTL in seconds, or [`NO_TTL`].
    pub ttl: i32,
    /// When the marker expires (s), or [`NO_DELETION_TIME`].
    pub local_expiration_time: i64,
}

impl LivenessInfo {
    /// No liveness information.
    pub const EMPTY: LivenessInfo =
        LivenessInfo { timestamp: NO_TIMESTAMP, ttl: NO_TTL, local_expiration_time: NO_DELETION_TIME };

    /// Whether the row has no marker.
    pub fn is_empty(&self) -> bool {
        self.timestamp == NO_TIMESTAMP
    }

    /// Whether the marker carries a TTL.
    pub fn is_expiring(&self) -> bool {
        self.ttl != NO_TTL
    }

    /// Whether the marker is live at `now_s` (seconds since the epoch): it has a timestamp and
    /// has not expired (Cassandra's `LivenessInfo.isLive`).
    pub fn is_live(&self, now_s: i64) -> bool {
        !self.is_empty() && !self.is_expired(now_s)
    }

    /// Whether the marker carries a TTL that has run out at `now_s`: from its expiry second on,
    /// as for a cell ([`crate::data::Cell::is_expired`]).
    pub fn is_expired(&self, now_s: i64) -> bool {
        self.is_expiring() && now_s >= self.local_expiration_time
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_marker_expires_at_its_expiry_second_as_a_cell_does() {
        let marker = LivenessInfo { timestamp: 1, ttl: 60, local_expiration_time: 1_000 };
        assert_eq!((marker.is_live(999), marker.is_expired(999)), (true, false));
        assert_eq!((marker.is_live(1_000), marker.is_expired(1_000)), (false, true), "dead from the expiry second on");
        let forever = LivenessInfo { timestamp: 1, ttl: NO_TTL, local_expiration_time: NO_DELETION_TIME };
        assert!(forever.is_live(i64::MAX - 1) && !forever.is_expired(i64::MAX - 1));
    }

    #[test]
    fn whole_forms_round_trip_per_version() {
        let d = DeletionTime { marked_for_delete_at: 1_530_543_711_595_401, local_deletion_time: 1_530_543_711 };
        for v in [Version::Mc, Version::Nb, Version::Oa] {
            for dt in [d, DeletionTime::LIVE] {
                let mut out = Vec::new();
                dt.write(&mut out, v);
                assert_eq!(out.len(), dt.serialized_size(v));
                let mut c = Cursor::new(&out);
                assert_eq!(DeletionTime::read(&mut c, v).unwrap(), dt);
            }
        }
        let mut out = Vec::new();
        DeletionTime::LIVE.write(&mut out, Version::Nb);
        assert_eq!(out, [0x7f, 0xff, 0xff, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn oa_rejects_bad_flags() {
        let mut c = Cursor::new(&[0x81]);
        assert!(DeletionTime::read(&mut c, Version::Oa).is_err());
    }
}
