//! TOC.txt: the component list, one file-name suffix per line.

use crate::descriptor::Component;

/// Parse TOC.txt. Unknown lines are returned separately so callers can report them.
pub fn parse(text: &str) -> (Vec<Component>, Vec<String>) {
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        match Component::from_suffix(line) {
            Some(c) => known.push(c),
            None => unknown.push(line.to_string()),
        }
    }
    (known, unknown)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_any_order() {
        let (k, u) = parse(
            "Data.db\nIndex.db\nSummary.db\nDigest.crc32\nTOC.txt\nFilter.db\nStatistics.db\nCompressionInfo.db\nScylla.db\n",
        );
        assert_eq!(k.len(), 8);
        assert_eq!(u, vec!["Scylla.db".to_string()]);
    }
}
