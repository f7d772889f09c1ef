//! SSTable format versions of the BIG family, as written in component file names.
//!
//! | version | first written by | what changes for a reader |
//! |---|---|---|
//! | `ma` | 3.0.0 | the 3.0 row format |
//! | `mb` | 3.0.7 / 3.7 | Statistics: commit-log lower bound |
//! | `mc` | 3.0.8 / 3.9 | Statistics: commit-log intervals |
//! | `md` | 3.0.18 / 3.11.4 | min/max clustering become accurate |
//! | `me` | 3.0.25 / 3.11.11 | Statistics: originating host id |
//! | `na` | 4.0-rc1 | CompressionInfo max compressed length, pending repair, transient flag, Statistics checksums, byte-order Filter.db |
//! | `nb` | 4.0.0 | originating host id again |
//! | `oa` | 5.0 | unsigned deletion times, new DeletionTime encoding, improved min/max, key range, token coverage |
//!
//! Source: Cassandra `io/sstable/format/big/BigFormat.java` (its version predicates).

use std::fmt;

/// A BIG-format SSTable version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Version {
    /// Cassandra 3.0.0.
    Ma,
    /// Cassandra 3.0.7 / 3.7.
    Mb,
    /// Cassandra 3.0.8 / 3.9.
    Mc,
    /// Cassandra 3.0.18 / 3.11.4.
    Md,
    /// Cassandra 3.0.25 / 3.11.11.
    Me,
    /// Cassandra 4.0 release candidates.
    Na,
    /// Cassandra 4.0, 4.1 and 5.0 in compatibility mode.
    Nb,
    /// Cassandra 5.0.
    Oa,
}

impl Version {
    /// Every version, oldest first.
    pub const ALL: [Version; 8] =
        [Version::Ma, Version::Mb, Version::Mc, Version::Md, Version::Me, Version::Na, Version::Nb, Version::Oa];

    /// Parse the two-letter version; `None` when unknown.
    pub fn parse(s: &str) -> Option<Version> {
        Some(match s {
            "ma" => Version::Ma,
            "mb" => Version::Mb,
            "mc" => Version::Mc,
            "md" => Version::Md,
            "me" => Version::Me,
            "na" => Version::Na,
            "nb" => Version::Nb,
            "oa" => Version::Oa,
            _ => return None,
        })
    }

    /// The two letters.
    pub fn as_str(self) -> &'static str {
        match self {
            Version::Ma => "ma",
            Version::Mb => "mb",
            Version::Mc => "mc",
            Version::Md => "md",
            Version::Me => "me",
            Version::Na => "na",
            Version::Nb => "nb",
            Version::Oa => "oa",
        }
    }

    /// Statistics carries a commit-log lower bound.
    pub fn has_commit_log_lower_bound(self) -> bool {
        self >= Version::Mb
    }

    /// Statistics carries commit-log intervals.
    pub fn has_commit_log_intervals(self) -> bool {
        self >= Version::Mc
    }

    /// Min/max clustering values in Statistics can be trusted.
    pub fn has_accurate_min_max(self) -> bool {
        self >= Version::Md
    }

    /// Statistics stores min/max clustering as the legacy value lists.
    pub fn has_legacy_min_max(self) -> bool {
        self < Version::Oa
    }

    /// Statistics ends with the originating host id.
    pub fn has_originating_host_id(self) -> bool {
        matches!(self, Version::Me | Version::Nb | Version::Oa)
    }

    /// CompressionInfo has `maxCompressedLength` (chunks may be stored raw).
    pub fn has_max_compressed_length(self) -> bool {
        self >= Version::Na
    }

    /// Statistics has pending repair.
    pub fn has_pending_repair(self) -> bool {
        self >= Version::Na
    }

    /// Statistics has the transient flag.
    pub fn has_is_transient(self) -> bool {
        self >= Version::Na
    }

    /// Statistics components are followed by CRC32 checksums.
    pub fn has_metadata_checksum(self) -> bool {
        self >= Version::Na
    }

    /// Filter.db stores the bit set as big-endian longs (the pre-4.0 layout).
    pub fn has_old_bf_format(self) -> bool {
        self < Version::Na
    }

    /// Statistics has improved min/max clustering, the partition-deletion marker and the key range.
    pub fn has_improved_min_max(self) -> bool {
        self >= Version::Oa
    }

    /// Deletion times are unsigned 32-bit and DeletionTime uses the compact encoding.
    pub fn has_uint_deletion_time(self) -> bool {
        self >= Version::Oa
    }

    /// Statistics ends with the token-space coverage.
    pub fn has_token_space_coverage(self) -> bool {
        self >= Version::Oa
    }

    /// The first Cassandra release line that writes this version.
    pub fn cassandra_release(self) -> &'static str {
        match self {
            Version::Ma | Version::Mb | Version::Mc | Version::Md | Version::Me => "3.x",
            Version::Na | Version::Nb => "4.x",
            Version::Oa => "5.0",
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predicates_follow_big_format() {
        assert!(!Version::Ma.has_commit_log_lower_bound());
        assert!(Version::Mb.has_commit_log_lower_bound());
        assert!(!Version::Mb.has_commit_log_intervals());
        assert!(Version::Mc.has_commit_log_intervals());
        let host: Vec<_> = Version::ALL.iter().filter(|v| v.has_originating_host_id()).collect();
        assert_eq!(host, [&Version::Me, &Version::Nb, &Version::Oa]);
        assert!(Version::Me.has_old_bf_format() && !Version::Na.has_old_bf_format());
        assert!(Version::Nb.has_legacy_min_max() && !Version::Oa.has_legacy_min_max());
        for v in Version::ALL {
            assert_eq!(Version::parse(v.as_str()), Some(v));
        }
        assert_eq!(Version::parse("nc"), None);
        assert_eq!(Version::parse("da"), None);
    }
}
