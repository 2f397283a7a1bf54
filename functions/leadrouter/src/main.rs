//! `leadrouter`: run leadrouter on this machine, or check a routing config.
//!
//! `leadrouter config` pushes, lists, shows, diffs and rolls back versioned configs in the store
//! (`config_cmd.rs`).
//!
//! `leadrouter doctor` checks a live store's invariants; `leadrouter redrive` moves dead letters
//! back to their queue (`ops.rs`).
//!
//! `leadrouter serve` runs the HTTP API, the router workers and the sweeper loop in one process
//! over one SQLite file, with the same domain code the Lambda functions run. See `serve.rs`.

mod config_cmd;
mod explain;
mod ops;
mod serve;
mod simulate;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use leadrouter_domain::config::RoutingConfig;

/// mimalloc rather than the system allocator: a lead's decoding, normalization and routing
/// make a few hundred small allocations (docs/benchmarks.md, "Fifth round: the allocator").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The demo routing config used when `serve` gets no `--config`.
pub const DEMO_CONFIG: &str = include_str!("../demo.toml");

#[derive(Parser)]
#[command(
    name = "leadrouter",
    version,
    about = "Route every lead to exactly one rep, fast."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the API, router workers and sweeper locally over an embedded store.
    Serve(serve::ServeArgs),
    /// Print the decision a config would take for one lead (JSON), with every candidate and reason.
    Explain(explain::ExplainArgs),
    /// Replay historical leads (CSV or JSON lines) through a config with a simulated clock.
    Simulate(simulate::SimulateArgs),
    /// Versioned routing configs in the store: push (validated), history, show, diff, rollback.
    Config(config_cmd::ConfigArgs),
    /// Check a live store's invariants (owners, caps, counters, rotations, stuck leads); exit 1 on a problem.
    Doctor(ops::DoctorArgs),
    /// Move dead-lettered queue messages back to their queue (after a fix).
    Redrive(ops::RedriveArgs),
    /// Validate a routing config; prints every problem with file, line and hint.
    Check {
        /// The config file (.toml or .json).
        config: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => match serve::run(args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("leadrouter: {e:#}");
                ExitCode::FAILURE
            }
        },
        Command::Simulate(args) => match simulate::run(args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("leadrouter: {e:#}");
                ExitCode::FAILURE
            }
        },
        Command::Config(args) => match config_cmd::run(args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("leadrouter: {e:#}");
                ExitCode::FAILURE
            }
        },
        Command::Doctor(args) => match ops::doctor(args) {
            Ok(code) => code,
            Err(e) => {
                eprintln!("leadrouter: {e:#}");
                ExitCode::from(2)
            }
        },
        Command::Redrive(args) => match ops::redrive(args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("leadrouter: {e:#}");
                ExitCode::FAILURE
            }
        },
        Command::Explain(args) => match explain::run(args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("leadrouter: {e:#}");
                ExitCode::FAILURE
            }
        },
        Command::Check { config } => match RoutingConfig::load(&config) {
            Ok(cfg) => {
                println!(
                    "{}: ok ({} reps, {} pools, {} rules, version {})",
                    config.display(),
                    cfg.reps.len(),
                    cfg.pools.len(),
                    cfg.rules.len(),
                    cfg.version
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e}");
                eprintln!("{} problem(s) found", e.problems.len());
                ExitCode::FAILURE
            }
        },
    }
}
