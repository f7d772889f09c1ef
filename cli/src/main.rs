//! `cairn`: one binary for Apache Cassandra's on-disk files.
//!
//! The binary only parses arguments ([`args`], one file per verb) and calls the library crates
//! ([`cmd`], one file per verb). Exit codes are 0 (ok), 1 (checked and found problems) and
//! 2 (could not run). Data goes to stdout, diagnostics to stderr, and a closed stdout
//! (`| head`) ends any verb quietly with 0.

use std::process::ExitCode;

use clap::Parser;

mod args;
mod cmd;
mod progress;

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    match cmd::run(cli.command, !cli.quiet) {
        Ok(cmd::Outcome::Ok) => ExitCode::SUCCESS,
        Ok(cmd::Outcome::Problems) => ExitCode::from(1),
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cairn: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Whether the error, or anything it wraps, is a write into a closed pipe.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
            || c.downcast_ref::<cairn_inspect::InspectError>().is_some_and(cairn_inspect::InspectError::is_broken_pipe)
    })
}
