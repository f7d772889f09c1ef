//! What each verb does: open its inputs, call its library, print the report.
//!
//! Every verb writes its data to `out` (stdout, buffered) and its diagnostics to stderr; a
//! write error goes back up as an error, so a closed pipe (`cairn dump ... | head`) ends any
//! verb at its next write and `main` exits quietly.

use std::io::Write;

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
    // What was printed before an error still reaches the reader, ahead of the error message.
    let flushed = out.flush();
    let outcome = result?;
    flushed?;
    Ok(outcome)
}
