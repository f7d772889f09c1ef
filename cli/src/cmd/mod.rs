//! What each verb does: open its inputs, call its library, print the report.
//!
//! Every verb writes its data to `out` (stdout, buffered) and its diagnostics to stderr; a
//! write error goes back up as an error, so a closed pipe (`cairn dump ... | head`) ends any
//! verb at its next write and `main` exits quietly.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::args::{Command, CompactCommand, RepairCommand, RingCommand};

mod admin;
mod compact;
mod demo;
mod export;
mod generate;
mod inspect;
mod load;
mod node;
mod repair;
mod ring;

/// How a verb that ran ended: exit code 0, or 1 when it checked and found problems.
pub enum Outcome {
    Ok,
    Problems,
}

/// Run one verb with stdout as its output; `progress`: a bar on stderr for the long ones.
pub fn run(command: Command, progress: bool) -> anyhow::Result<Outcome> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
    let new_dirs = out_dir(&command).map(|d| NewDirs::before(&d));
    let result = match command {
        Command::Dump(a) => inspect::dump(a, &mut out),
        Command::Meta(a) => inspect::meta(a, &mut out),
        Command::Verify(a) => inspect::verify(a, &mut out, progress),
        Command::Describe(a) => inspect::describe(a, &mut out),
        Command::Tombstones(a) => inspect::tombstones(a, &mut out),
        Command::Partitions(a) => inspect::partitions(a, &mut out),
        Command::Compact(CompactCommand::Run(a)) => compact::run(a, &mut out, progress),
        Command::Compact(CompactCommand::Gc(a)) => compact::gc(a, &mut out, progress),
        Command::Compact(CompactCommand::Split(a)) => compact::split(a, &mut out, progress),
        Command::Compact(CompactCommand::Cleanup(a)) => compact::cleanup(a, &mut out),
        Command::Compact(CompactCommand::Plan(a)) => compact::plan(a, &mut out, progress),
        Command::Compact(CompactCommand::Upgrade(a)) => compact::upgrade(a, &mut out, progress),
        Command::Repair(RepairCommand::Diff(a)) => repair::diff(a, &mut out),
        Command::Repair(RepairCommand::Sync(a)) => repair::sync(a, &mut out),
        Command::Export(a) => export::run(a, &mut out, progress),
        Command::Gen(a) => generate::run(a, &mut out, progress),
        Command::Node(a) => node::run(a),
        Command::Ring(RingCommand::Up(a)) => ring::up(a, &mut out),
        Command::Ring(RingCommand::Status(a)) => ring::status(a, &mut out),
        Command::Ring(RingCommand::Stop(a)) => ring::signal(a, ring::Action::Stop, &mut out),
        Command::Ring(RingCommand::Kill(a)) => ring::signal(a, ring::Action::Kill, &mut out),
        Command::Ring(RingCommand::Pause(a)) => ring::signal(a, ring::Action::Pause, &mut out),
        Command::Ring(RingCommand::Resume(a)) => ring::signal(a, ring::Action::Resume, &mut out),
        Command::Ring(RingCommand::Start(a)) => ring::start(a, &mut out),
        Command::Ring(RingCommand::Down(a)) => ring::down(a, &mut out),
        Command::Ring(RingCommand::Add(a)) => ring::add(a, &mut out),
        Command::Ring(RingCommand::Decommission(a)) => ring::decommission(a, &mut out),
        Command::Ring(RingCommand::Removenode(a)) => ring::removenode(a, &mut out),
        Command::Load(a) => load::run(a, &mut out),
        Command::Admin(a) => admin::run(a, &mut out),
        Command::Demo(a) => demo::run(a, &mut out),
    };
    if result.is_err()
        && let Some(dirs) = new_dirs
    {
        dirs.remove_empty();
    }
    // What was printed before an error still reaches the reader, ahead of the error message.
    let flushed = out.flush();
    let outcome = result?;
    flushed?;
    Ok(outcome)
}

/// The directory a verb writes SSTables under (`--out` of the rewrites, `repair sync` and
/// `gen`; `export` settles its datasets itself).
fn out_dir(command: &Command) -> Option<PathBuf> {
    match command {
        Command::Compact(CompactCommand::Run(a)) => a.out.clone(),
        Command::Compact(CompactCommand::Gc(a)) => a.out.clone(),
        Command::Compact(CompactCommand::Split(a)) => a.out.clone(),
        Command::Compact(CompactCommand::Plan(a)) => a.out.clone(),
        Command::Compact(CompactCommand::Upgrade(a)) => Some(a.out.clone()),
        Command::Repair(RepairCommand::Sync(a)) => Some(a.out.clone()),
        Command::Gen(a) => Some(a.out.clone()),
        _ => None,
    }
}

/// The directories a verb's output directory had before it ran. Writers remove their own files
/// when a verb fails; the directories they created for them (`OUT/ks/table-<id>/`, and `OUT`
/// itself) are removed too when empty, so a failed verb leaves the place as it found it.
/// Nothing that existed before, and no directory holding a file, is removed.
struct NewDirs {
    root: PathBuf,
    /// The nearest ancestor of `root` (or `root`) that existed.
    existing: PathBuf,
    /// The directories under `root` that existed.
    known: BTreeSet<PathBuf>,
}

/// How deep under the output directory verbs create directories (`for-a/ks/table-<id>`).
const OUT_DEPTH: usize = 4;

impl NewDirs {
    fn before(root: &Path) -> NewDirs {
        // `..` resolved lexically, so that the walk up from it meets the directories created.
        let root = cairn_format::location::absolute(root);
        let existing = root.ancestors().find(|a| a.is_dir()).unwrap_or(&root).to_path_buf();
        let mut known = BTreeSet::new();
        dirs_under(&root, OUT_DEPTH, &mut known);
        NewDirs { root, existing, known }
    }

    fn remove_empty(self) {
        let mut now = BTreeSet::new();
        dirs_under(&self.root, OUT_DEPTH, &mut now);
        // Deepest first: a parent is empty only once its new children are gone.
        for d in now.iter().rev().filter(|d| !self.known.contains(*d)) {
            let _ = std::fs::remove_dir(d);
        }
        for d in self.root.ancestors().take_while(|a| *a != self.existing) {
            if std::fs::remove_dir(d).is_err() {
                break;
            }
        }
    }
}

/// The directories under `dir`, `depth` levels down.
fn dirs_under(dir: &Path, depth: usize, into: &mut BTreeSet<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        if depth > 0 && e.file_type().is_ok_and(|t| t.is_dir()) {
            into.insert(e.path());
            dirs_under(&e.path(), depth - 1, into);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_verb_removes_only_the_empty_directories_it_created() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let out = tmp.path().join("out");
        std::fs::create_dir_all(out.join("kept")).expect("mkdir");
        let dirs = NewDirs::before(&out);
        for d in ["ks/t-1", "kept/new", "full"] {
            std::fs::create_dir_all(out.join(d)).expect("mkdir");
        }
        std::fs::write(out.join("full/file"), b"x").expect("write");
        dirs.remove_empty();
        for (d, stays) in [("ks", false), ("kept", true), ("kept/new", false), ("full/file", true)] {
            assert_eq!(out.join(d).exists(), stays, "{d}");
        }
        // An output directory that did not exist goes too, with the parents created for it.
        let deep = tmp.path().join("a/b/c");
        let dirs = NewDirs::before(&deep);
        std::fs::create_dir_all(deep.join("ks/t-1")).expect("mkdir");
        dirs.remove_empty();
        assert!(!tmp.path().join("a").exists());
        assert!(tmp.path().exists());
    }
}
