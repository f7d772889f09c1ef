//! Which table an SSTable belongs to: its keyspace, table name, table id and point in time,
//! read from Cassandra's data directory layout (`db/Directories.java`):
//!
//! ```text
//!   <data dir>/<keyspace>/<table>-<table id, 32 hex digits>/            live SSTables
//!                                                   /.<index>/          a secondary index's
//!                                                   /snapshots/<tag>/   a snapshot
//!                                                   /backups/           incremental backups
//! ```
//!
//! A table is (keyspace, table, id); a snapshot or the backups of a table are other points in
//! time of it, and a secondary index is a table of its own. Where the layout is missing (SSTables
//! copied into a plain directory), the keyspace and table come from the `schema.cql` beside the
//! files (or `--schema`), and the directory itself stands for the id: two plain directories are
//! never taken for one table. Every verb that groups SSTables into tables uses
//! [`TableLocation::of`] and [`group_by_table`], so `dump --merge`, `export`, `load`,
//! `partitions` and the compaction verbs agree on what "one table" is.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::sstable::SsTable;

/// Where an SSTable sits, and so which table (and point in time) it belongs to.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TableLocation {
    /// The keyspace (from the layout, else the schema), if known.
    pub keyspace: Option<String>,
    /// The table name (from the layout, else the schema), if known.
    pub table: Option<String>,
    /// The table id: the 32 hex digits of `<table>-<id>`, if the layout has it.
    pub id: Option<String>,
    /// The snapshot tag, for SSTables under `snapshots/<tag>/`.
    pub snapshot: Option<String>,
    /// Whether the SSTables are incremental backups (`backups/`).
    pub backup: bool,
    /// The secondary index name, for SSTables under `.<index>/`.
    pub index: Option<String>,
    /// The directory standing for the table when the layout does not name it (`None` when it
    /// does): SSTables of two such directories are never one table.
    pub plain_directory: Option<PathBuf>,
}

fn name_of(p: &Path) -> Option<&str> {
    p.file_name().and_then(|n| n.to_str())
}

/// `dir` made absolute against the current directory, lexically: `.` components are dropped and
/// `..` removes the component before it (symbolic links in `dir` are not followed). The current
/// directory is the one the operating system reports, its own symbolic links resolved, so `.`
/// inside a table directory reached through a link of another name reads that other name. An
/// absolute `dir`, or one when the current directory is unknown, stands as given.
pub fn absolute(dir: &Path) -> PathBuf {
    use std::path::Component;
    if dir.is_absolute() {
        return dir.to_path_buf();
    }
    let Ok(mut out) = std::env::current_dir() else { return dir.to_path_buf() };
    for c in dir.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// `<table>-<32 hex digits>` split into its name and id.
fn split_table_dir(name: &str) -> Option<(&str, &str)> {
    let (table, id) = name.rsplit_once('-')?;
    (!table.is_empty() && id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())).then_some((table, id))
}

impl TableLocation {
    /// The location of SSTables in `dir`, from the directory layout alone. A relative `dir` is
    /// read as the absolute path it stands for (made absolute lexically against the current
    /// directory, `..` and `.` removed), so that `.` inside a table directory, or a table
    /// directory named from its keyspace directory, is that table.
    pub fn from_directory(dir: &Path) -> TableLocation {
        let resolved = absolute(dir);
        let dir = resolved.as_path();
        let mut loc = TableLocation::default();
        let mut d = dir;
        if let Some(n) = name_of(d)
            && n.len() > 1
            && n.starts_with('.')
            && !n.starts_with("..")
            && let Some(parent) = d.parent()
        {
            loc.index = Some(n.trim_start_matches('.').to_string());
            d = parent;
        }
        if name_of(d) == Some("backups")
            && let Some(parent) = d.parent()
        {
            loc.backup = true;
            d = parent;
        } else if let Some(snapshots) = d.parent()
            && name_of(snapshots) == Some("snapshots")
            && let Some(table_dir) = snapshots.parent()
        {
            loc.snapshot = name_of(d).map(str::to_string);
            d = table_dir;
        }
        match name_of(d).and_then(split_table_dir) {
            Some((table, id)) => {
                loc.table = Some(table.to_string());
                loc.id = Some(id.to_string());
                loc.keyspace = d.parent().and_then(name_of).map(str::to_string);
            }
            None => {
                // Not Cassandra's layout: the directory itself is the table's identity.
                loc = TableLocation::from_directory_plain(dir);
            }
        }
        loc
    }

    fn from_directory_plain(dir: &Path) -> TableLocation {
        // Canonical, so that two spellings of one directory are one table; a directory that
        // cannot be resolved stands as given.
        let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
        TableLocation { plain_directory: Some(dir), ..TableLocation::default() }
    }

    /// The location of `table`: its directory layout, with the keyspace and table names of its
    /// schema (`schema.cql`, `--schema`) filling what the layout does not say.
    pub fn of(table: &SsTable) -> TableLocation {
        let mut loc = TableLocation::from_directory(&table.descriptor.directory);
        let schema = &table.schema;
        if loc.table.is_none() && !schema.table.is_empty() {
            loc.table = Some(schema.table.clone());
        }
        if loc.keyspace.is_none() && !schema.keyspace.is_empty() {
            loc.keyspace = Some(schema.keyspace.clone());
        }
        loc
    }

    /// The table name of a table directory (`<table>-<id>`), or of the table above a
    /// snapshot, backups or index directory.
    pub fn table_name_of(dir: &Path) -> Option<String> {
        TableLocation::from_directory(dir).table
    }

    /// How to name this table among `all` (which may hold it) in output: its
    /// [`Display`](fmt::Display) form, then `id <hex>` when another of them reads the same (one
    /// `ks.table` under two table ids: a table dropped and created again, or two clusters'
    /// copies), so that no two tables of one output share a name.
    pub fn label_among<'a>(&self, all: impl IntoIterator<Item = &'a TableLocation>) -> String {
        let label = self.to_string();
        let shared = all.into_iter().any(|o| o != self && o.to_string() == label);
        match (&self.id, shared) {
            (Some(id), true) => format!("{label} id {id}"),
            _ => label,
        }
    }

    /// `keyspace.table` as far as known (`?` for an unknown part).
    pub fn qualified_name(&self) -> String {
        format!("{}.{}", self.keyspace.as_deref().unwrap_or("?"), self.table.as_deref().unwrap_or("?"))
    }
}

impl fmt::Display for TableLocation {
    /// `ks.table`, then `index <name>`, `snapshot <tag>`, `backups` and `in <dir>` (for a plain
    /// directory) where they apply.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.qualified_name())?;
        if let Some(i) = &self.index {
            write!(f, " index {i}")?;
        }
        if let Some(s) = &self.snapshot {
            write!(f, " snapshot {s}")?;
        }
        if self.backup {
            f.write_str(" backups")?;
        }
        if let Some(d) = &self.plain_directory {
            write!(f, " in {}", d.display())?;
        }
        Ok(())
    }
}

/// `tables` grouped into tables (and points in time), each group in input order, groups in
/// order of their first SSTable.
pub fn group_by_table<'a, T: std::borrow::Borrow<SsTable>>(tables: &'a [T]) -> Vec<(TableLocation, Vec<&'a T>)> {
    let mut groups: Vec<(TableLocation, Vec<&'a T>)> = Vec::new();
    for t in tables {
        let loc = TableLocation::of(t.borrow());
        match groups.iter_mut().find(|(l, _)| *l == loc) {
            Some((_, v)) => v.push(t),
            None => groups.push((loc, vec![t])),
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn a_name_two_tables_share_is_told_apart_by_their_ids() {
        let other = ID.replace('0', "f");
        let [a, b, c] = [ID, other.as_str(), ID]
            .map(|id| TableLocation::from_directory(&Path::new("/data/ks").join(format!("sessions-{id}"))));
        let d = TableLocation::from_directory(Path::new("/data/ks/orders-0123456789abcdef0123456789abcdef"));
        let all = [&a, &b, &c, &d];
        assert_eq!(a.label_among(all), format!("ks.sessions id {ID}"));
        assert_eq!(b.label_among(all), format!("ks.sessions id {other}"));
        assert_eq!(d.label_among(all), "ks.orders");
        assert_eq!(a.label_among([&a, &c, &d]), "ks.sessions");
    }

    #[test]
    fn reads_keyspace_table_id_snapshot_backups_and_index_from_the_layout() {
        let live = TableLocation::from_directory(&Path::new("/data/ks_a").join(format!("sessions-{ID}")));
        assert_eq!(
            (live.keyspace.as_deref(), live.table.as_deref(), live.id.as_deref()),
            (Some("ks_a"), Some("sessions"), Some(ID))
        );
        assert_eq!((live.snapshot.as_deref(), live.backup, live.index.as_deref()), (None, false, None));
        let other_ks = TableLocation::from_directory(&Path::new("/data/ks_b").join(format!("sessions-{ID}")));
        assert_ne!(live, other_ks, "same table name and id in another keyspace");
        let snap = TableLocation::from_directory(&Path::new("/data/ks_a").join(format!("sessions-{ID}/snapshots/t1")));
        assert_eq!(snap.snapshot.as_deref(), Some("t1"));
        assert_ne!(snap, live, "a snapshot is another point in time");
        assert_eq!(snap.table.as_deref(), Some("sessions"));
        let backups = TableLocation::from_directory(&Path::new("/data/ks_a").join(format!("sessions-{ID}/backups")));
        assert!(backups.backup && backups != live);
        let index = TableLocation::from_directory(&Path::new("/data/ks_a").join(format!("sessions-{ID}/.by_user")));
        assert_eq!(index.index.as_deref(), Some("by_user"));
        assert_ne!(index, live);
        let plain = TableLocation::from_directory(Path::new("/tmp/some/copy"));
        assert_eq!((plain.keyspace, plain.table), (None, None));
        assert!(plain.plain_directory.is_some());
        assert_ne!(
            TableLocation::from_directory(Path::new("/tmp/a")),
            TableLocation::from_directory(Path::new("/tmp/b")),
            "two plain directories are two tables"
        );
        assert_eq!(TableLocation::table_name_of(&Path::new("/d/ks").join(format!("t-{ID}"))), Some("t".into()));
        assert_eq!(TableLocation::table_name_of(Path::new("/d/ks/t-notanid")), None);
    }

    #[test]
    fn a_relative_directory_is_read_as_the_absolute_path_it_stands_for() {
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(absolute(Path::new(".")), cwd);
        assert_eq!(absolute(Path::new("./a/../b/./c")), cwd.join("b/c"));
        assert_eq!(absolute(Path::new("/x/./y")), Path::new("/x/./y"), "absolute paths stand as given");
        let relative = format!("ks_r/t-{ID}");
        let loc = TableLocation::from_directory(Path::new(&relative));
        assert_eq!(loc, TableLocation::from_directory(&cwd.join(&relative)));
        assert_eq!((loc.keyspace.as_deref(), loc.table.as_deref()), (Some("ks_r"), Some("t")));
    }
}
