//! The text of `compact run --explain` and `compact gc --explain`: one line (or one JSON object)
//! per partition the rewrite changed, saying what it dropped and why each kept tombstone stays.
//!
//! The facts come from `cairn_compact::run::Explanation`, which the compaction itself records
//! while it decides (the same purge judgement `tombstones` reports); this module only words them.

use cairn_compact::run::Explanation;
use cairn_format::statistics::SerializationHeader;

use crate::dump::Renderer;

/// Words the explanations of one rewrite, counting the partition keys shown in hex because
/// they do not decode as the key's column types, for one warning once they are written (as `dump`
/// warns).
#[derive(Debug)]
pub struct Explainer {
    undecoded: crate::ShownInHex<1>,
}

impl Default for Explainer {
    fn default() -> Self {
        Explainer { undecoded: crate::ShownInHex::new(["partition key"]) }
    }
}

impl Explainer {
    /// One partition's explanation, as a line of text or (with `ndjson`) a JSON object.
    pub fn line(&mut self, e: &Explanation, header: &SerializationHeader, ndjson: bool) -> String {
        let (key, decoded) = Renderer::key_strings_checked(header, &e.key);
        *self.undecoded.count(0) += u64::from(!decoded);
        line(e, key, ndjson)
    }

    /// Warn on stderr when keys were shown in hex.
    pub fn finish(&self) {
        if let Some(w) = self.undecoded.warning(&"--explain", None) {
            crate::warn(&w);
        }
    }
}

/// The explanation of `e`, its key rendered as `key`.
fn line(e: &Explanation, key: Vec<String>, ndjson: bool) -> String {
    let after = e.droppable_after.map(|s| cairn_format::types::render::format_timestamp_ms(s.saturating_mul(1000)));
    if ndjson {
        let mut line = serde_json::json!({
            "key": key,
            "removed": e.removed,
            "collected": e.collected,
            "shadowed": e.shadowed,
            "superseded": e.superseded,
            "expired_kept_as_tombstones": e.expired_kept,
            "tombstones_purged": e.purged,
            "kept_younger_than_gc_grace": e.kept_young,
            "droppable_after": after,
            "kept_for_overlap": e.kept_overlap,
            "overlapping_sstables": e.blockers,
        });
        if e.unrepaired
            && e.kept_overlap > 0
            && let Some(fields) = line.as_object_mut()
        {
            fields.insert("kept_because_unrepaired".into(), serde_json::Value::Bool(true));
        }
        return line.to_string();
    }
    let mut parts = Vec::new();
    if e.removed {
        parts.push("removed".to_string());
    }
    if e.collected > 0 {
        parts.push(format!("{} dead because of other SSTables (collected)", e.collected));
    }
    if e.shadowed > 0 {
        parts.push(format!("{} shadowed by a newer deletion", e.shadowed));
    }
    if e.superseded > 0 {
        parts.push(format!("{} superseded by newer writes", e.superseded));
    }
    if e.purged > 0 {
        parts.push(format!("{} tombstones purged", e.purged));
    }
    if e.expired_kept > 0 {
        parts.push(format!("{} expired cells kept as tombstones", e.expired_kept));
    }
    if e.kept_young > 0 {
        let when = after.map_or_else(String::new, |a| format!(" (droppable after {a})"));
        parts.push(format!("{} tombstones kept: younger than gc_grace{when}", e.kept_young));
    }
    if e.kept_overlap > 0 && e.unrepaired {
        let why = cairn_compact::purge::UNREPAIRED;
        parts.push(format!("{} tombstones kept past gc_grace: {why}", e.kept_overlap));
    } else if e.kept_overlap > 0 {
        parts.push(format!(
            "{} tombstones kept past gc_grace: older data for the key may be in {}",
            e.kept_overlap,
            e.blockers.join(", ")
        ));
    }
    format!("partition ({}): {}", key.join(", "), parts.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_format::statistics::EncodingStats;
    use cairn_format::types::CqlType;

    #[test]
    fn keys_shown_in_hex_are_counted() {
        let stats = EncodingStats { min_timestamp: 0, min_local_deletion_time: 0, min_ttl: 0 };
        let header = SerializationHeader::new(stats, CqlType::Int, vec![], vec![], vec![]);
        let mut x = Explainer::default();
        let e = |key: &[u8]| Explanation { key: key.to_vec(), purged: 1, ..Default::default() };
        assert_eq!(x.line(&e(&[0, 0, 0, 7]), &header, false), "partition (7): 1 tombstones purged");
        assert_eq!(x.undecoded.warning(&"--explain", None), None);
        assert_eq!(x.line(&e(&[0, 7]), &header, false), "partition (0007): 1 tombstones purged");
        assert!(x.line(&e(&[1]), &header, true).contains("\"01\""));
        // Kept because not every input is repaired: that reason, not an empty list of SSTables.
        let held = Explanation { key: 7i32.to_be_bytes().to_vec(), kept_overlap: 2, unrepaired: true, ..e(&[]) };
        let why = cairn_compact::purge::UNREPAIRED;
        assert_eq!(
            x.line(&held, &header, false),
            format!("partition (7): 1 tombstones purged; 2 tombstones kept past gc_grace: {why}")
        );
        assert!(x.line(&held, &header, true).contains("\"kept_because_unrepaired\":true"));
        let blocked = Explanation { unrepaired: false, blockers: vec!["nb-1-big-Data.db".into()], ..held };
        assert!(x.line(&blocked, &header, false).ends_with("older data for the key may be in nb-1-big-Data.db"));
        assert!(!x.line(&blocked, &header, true).contains("kept_because_unrepaired"));
        assert_eq!(
            x.undecoded.warning(&"--explain", None).as_deref(),
            Some("--explain: 2 partition keys did not decode as the column types; shown in hex")
        );
    }
}
