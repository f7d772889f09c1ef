//! SSTable file names and discovery.
//!
//! A 3.0+ component file is named `<version>-<id>-<format>-<Component>`, for example
//! `nb-1-big-Data.db` or `nb-3gdq_0bki_2cvk01yl83nj0tp5gh-big-Data.db` (4.1 UUID ids). A table
//! directory is `<keyspace>/<table>-<table id hex>/`, with `snapshots/<tag>/` and `backups/`
//! below it (Cassandra `io/sstable/Descriptor.java`, `io/sstable/Component.java`).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::version::Version;

/// One component of an SSTable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Component {
    /// `Data.db`: partitions, rows and cells.
    Data,
    /// `Index.db`: partition index with promoted (row) indexes.
    Index,
    /// `Summary.db`: sample of the partition index.
    Summary,
    /// `Filter.db`: bloom filter over partition keys.
    Filter,
    /// `Statistics.db`: metadata.
    Statistics,
    /// `CompressionInfo.db`: chunk offsets of a compressed Data.db.
    CompressionInfo,
    /// `CRC.db`: chunk checksums of an uncompressed Data.db.
    Crc,
    /// `Digest.crc32`: CRC32 of the whole Data.db.
    Digest,
    /// `TOC.txt`: the component list.
    Toc,
    /// `Partitions.db` (BTI).
    Partitions,
    /// `Rows.db` (BTI).
    Rows,
    /// `schema.cql` beside a snapshot, or a `--schema` file.
    Schema,
}

impl Component {
    /// Every BIG component, in the order Cassandra lists them.
    pub const BIG: [Component; 9] = [
        Component::Data,
        Component::Index,
        Component::Summary,
        Component::Filter,
        Component::Statistics,
        Component::CompressionInfo,
        Component::Crc,
        Component::Digest,
        Component::Toc,
    ];

    /// The file-name suffix (`Data.db`, `TOC.txt`, ...).
    pub fn suffix(self) -> &'static str {
        match self {
            Component::Data => "Data.db",
            Component::Index => "Index.db",
            Component::Summary => "Summary.db",
            Component::Filter => "Filter.db",
            Component::Statistics => "Statistics.db",
            Component::CompressionInfo => "CompressionInfo.db",
            Component::Crc => "CRC.db",
            Component::Digest => "Digest.crc32",
            Component::Toc => "TOC.txt",
            Component::Partitions => "Partitions.db",
            Component::Rows => "Rows.db",
            Component::Schema => "schema.cql",
        }
    }

    /// The component with this suffix.
    pub fn from_suffix(s: &str) -> Option<Component> {
        Some(match s {
            "Data.db" => Component::Data,
            "Index.db" => Component::Index,
            "Summary.db" => Component::Summary,
            "Filter.db" => Component::Filter,
            "Statistics.db" => Component::Statistics,
            "CompressionInfo.db" => Component::CompressionInfo,
            "CRC.db" => Component::Crc,
            "Digest.crc32" => Component::Digest,
            "TOC.txt" => Component::Toc,
            "Partitions.db" => Component::Partitions,
            "Rows.db" => Component::Rows,
            _ => return None,
        })
    }
}

impl fmt::Display for Component {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.suffix())
    }
}

/// Generation identifier: a sequence number, or a 4.1+ time-based id (kept as written).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SsTableId {
    /// Decimal generation.
    Sequence(u64),
    /// 28-character UUID-based identifier.
    Uuid(String),
}

impl fmt::Display for SsTableId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SsTableId::Sequence(n) => write!(f, "{n}"),
            SsTableId::Uuid(s) => f.write_str(s),
        }
    }
}

impl SsTableId {
    fn parse(s: &str) -> Option<SsTableId> {
        if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
            return s.parse().ok().map(SsTableId::Sequence);
        }
        // DDDD_SSSS_NNNNNRRRRRRRRRRRRR (Cassandra io/sstable/UUIDBasedSSTableId.java)
        let parts: Vec<&str> = s.split('_').collect();
        let ok = parts.len() == 3
            && parts.first().is_some_and(|p| p.len() == 4)
            && parts.get(1).is_some_and(|p| p.len() == 4)
            && parts.get(2).is_some_and(|p| p.len() == 18)
            && s.bytes().all(|b| b == b'_' || b.is_ascii_digit() || b.is_ascii_lowercase());
        ok.then(|| SsTableId::Uuid(s.to_string()))
    }
}

/// Identifies one SSTable: directory, version, id and format.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Descriptor {
    /// Directory holding the components.
    pub directory: PathBuf,
    /// Format version.
    pub version: Version,
    /// Generation.
    pub id: SsTableId,
}

impl Descriptor {
    /// Parse a component file path into its descriptor and component.
    pub fn from_path(path: &Path) -> Result<(Descriptor, Component)> {
        let bad = || Error::BadFileName { path: path.to_path_buf() };
        let name = path.file_name().and_then(|n| n.to_str()).ok_or_else(bad)?;
        let parts: Vec<&str> = name.splitn(4, '-').collect();
        let [ver, id, format, comp] = parts.as_slice() else { return Err(bad()) };
        let is_version = |v: &str| v.len() == 2 && v.bytes().all(|b| b.is_ascii_lowercase());
        let named = (is_version(ver)).then(|| Component::from_suffix(comp).zip(SsTableId::parse(id))).flatten();
        let Some((component, id)) = named else {
            // Cassandra 2.x named files `<keyspace>-<table>-[tmp-]<version>-<generation>-<Component>`.
            let legacy: Vec<&str> = name.rsplitn(4, '-').collect();
            if let [comp, generation, version, _] = legacy.as_slice()
                && is_version(version)
                && generation.bytes().all(|b| b.is_ascii_digit())
                && Component::from_suffix(comp).is_some()
            {
                return Err(Error::Unsupported {
                    path: path.to_path_buf(),
                    what: format!("a Cassandra 2.x file name (version '{version}'); formats before 3.0 are not read"),
                });
            }
            return Err(bad());
        };
        if *format == "bti" {
            return Err(Error::Unsupported {
                path: path.to_path_buf(),
                what: format!("BTI (trie-indexed) version '{ver}' is not read yet; only the BIG format is"),
            });
        }
        if *format != "big" {
            return Err(bad());
        }
        let version = Version::parse(ver)
            .ok_or_else(|| Error::UnknownVersion { path: path.to_path_buf(), version: (*ver).to_string() })?;
        // A bare file name is in the current directory: its parent is the empty path, which
        // neither a directory listing nor a component path can use.
        let directory = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        Ok((Descriptor { directory, version, id }, component))
    }

    /// File name of `component` (no directory).
    pub fn file_name(&self, component: Component) -> String {
        format!("{}-{}-big-{}", self.version, self.id, component.suffix())
    }

    /// Path of `component`.
    pub fn path(&self, component: Component) -> PathBuf {
        self.directory.join(self.file_name(component))
    }

    /// A short name for messages: `<dir>/<ver>-<id>-big`.
    pub fn display_name(&self) -> String {
        self.directory.join(format!("{}-{}-big", self.version, self.id)).display().to_string()
    }
}

/// Find every SSTable named by `path`: a component file, a table or snapshot directory (its own
/// files only, not `snapshots/` or `backups/` below it), or a data or keyspace directory (every
/// table directory below it, skipping snapshots and backups). Returns descriptors sorted by
/// directory then generation. In a directory with an unfinished lifecycle transaction
/// ([`crate::txn`]), the SSTables it makes obsolete are left out.
pub fn discover(path: &Path) -> Result<Vec<Descriptor>> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if meta.is_file() {
        let (d, _) = Descriptor::from_path(path)?;
        return Ok(vec![d]);
    }
    let mut found = BTreeMap::new();
    collect(path, 0, &mut found)?;
    Ok(found.into_keys().collect())
}

fn collect(dir: &Path, depth: usize, found: &mut BTreeMap<Descriptor, ()>) -> Result<()> {
    let mut subdirs = Vec::new();
    let mut any_here = false;
    let mut logs_here = false;
    let mut here = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let p = entry.path();
        let ft = entry.file_type().map_err(|e| Error::io(&p, e))?;
        if ft.is_dir() {
            subdirs.push(p);
            continue;
        }
        let Some(name) = p.file_name().and_then(|n| n.to_str()) else { continue };
        logs_here |= crate::txn::is_log_name(name);
        if !name.ends_with("-Data.db") {
            continue;
        }
        // A Data.db that cannot be named (an unknown version or format, a 2.x name, a name that
        // is not a component's) is an error, never silently skipped: its data would be missing
        // from whatever reads the directory.
        let (d, _) = Descriptor::from_path(&p)?;
        any_here = true;
        here.push(d);
    }
    // An interrupted operation's SSTables are not live: until COMMIT the new ones, after it the
    // old ones (Cassandra's LogAwareFileLister). Nothing is changed here; readers warn.
    if logs_here {
        let left = crate::txn::leftovers(dir)?;
        here.retain(|d| !left.is_obsolete(d));
    }
    for d in here {
        found.insert(d, ());
    }
    // A directory that holds SSTables is a table (or snapshot) directory: its snapshots/ and
    // backups/ are other points in time and are read only when named explicitly.
    if any_here || depth >= 3 {
        return Ok(());
    }
    subdirs.sort();
    for sub in subdirs {
        let name = sub.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name == "snapshots" || name == "backups" || name.starts_with('.') {
            continue;
        }
        collect(&sub, depth + 1, found)?;
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_sequence_and_uuid_names() {
        let (d, c) = Descriptor::from_path(Path::new("/x/nb-12-big-Data.db")).unwrap();
        assert_eq!((d.version, d.id.clone(), c), (Version::Nb, SsTableId::Sequence(12), Component::Data));
        assert_eq!(d.path(Component::Index), Path::new("/x/nb-12-big-Index.db"));
        let (d, c) = Descriptor::from_path(Path::new("oa-3gdq_0bki_2cvk01yl83nj0tp5gh-big-TOC.txt")).unwrap();
        assert_eq!(d.id, SsTableId::Uuid("3gdq_0bki_2cvk01yl83nj0tp5gh".into()));
        assert_eq!(c, Component::Toc);
        // A bare file name is in the current directory.
        assert_eq!(d.directory, Path::new("."));
        assert_eq!(d.path(Component::Data), Path::new("./oa-3gdq_0bki_2cvk01yl83nj0tp5gh-big-Data.db"));
    }

    #[test]
    fn rejects_unknown_versions_and_formats() {
        assert!(matches!(
            Descriptor::from_path(Path::new("zz-1-big-Data.db")),
            Err(Error::UnknownVersion { version, .. }) if version == "zz"
        ));
        assert!(matches!(Descriptor::from_path(Path::new("da-1-bti-Data.db")), Err(Error::Unsupported { .. })));
        assert!(matches!(Descriptor::from_path(Path::new("notes.txt")), Err(Error::BadFileName { .. })));
        assert!(matches!(Descriptor::from_path(Path::new("nb-1-big-Bogus.db")), Err(Error::BadFileName { .. })));
        for legacy in ["myks-cf-ka-3-Data.db", "ks-t-tmp-la-12-Data.db"] {
            assert!(matches!(Descriptor::from_path(Path::new(legacy)), Err(Error::Unsupported { .. })), "{legacy}");
        }
    }

    /// Every Data.db in a directory is an SSTable or an error: one whose name is not a
    /// component's was once skipped without a word, its data missing from the output.
    #[test]
    fn discover_refuses_a_data_file_it_cannot_name() -> Result<()> {
        for (odd, kind) in [("myks-cf-ka-3-Data.db", "Unsupported"), ("nb-x1-big-Data.db", "BadFileName")] {
            let dir = tempfile::tempdir().map_err(|e| Error::io("tempdir", e))?;
            for name in ["nb-1-big-Data.db", odd] {
                std::fs::write(dir.path().join(name), b"").map_err(|e| Error::io(name, e))?;
            }
            let got = discover(dir.path());
            let named = match &got {
                Err(e @ (Error::Unsupported { .. } | Error::BadFileName { .. })) => e.path().map(Path::to_path_buf),
                _ => None,
            };
            assert_eq!(named, Some(dir.path().join(odd)), "{kind}: {got:?}");
            std::fs::remove_file(dir.path().join(odd)).map_err(|e| Error::io(odd, e))?;
            assert_eq!(discover(dir.path())?.len(), 1);
        }
        Ok(())
    }
}
