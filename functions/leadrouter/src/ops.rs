//! Operator commands on a live deployment: `leadrouter doctor` (invariant checks) and
//! `leadrouter redrive` (dead letters back to their queue after a fix).
//!
//! Like `leadrouter config`, each targets the embedded store that `leadrouter serve` uses
//! (`--data-dir`) or, with `--table` / `--queue-url`, an AWS deployment through the SDK with the
//! usual credentials. Output names leads, reps and pools by id only.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow};
use chrono::Utc;
use clap::{Args, ValueEnum};
use leadrouter_domain::config::RoutingConfig;
use leadrouter_domain::config_store::{ConfigStore, load_current};
use leadrouter_domain::doctor::{self, DoctorOptions, DoctorReport};
use leadrouter_domain::ports::Store;
use leadrouter_embedded::{EmbeddedStore, QueueConfig};

/// Options of `leadrouter doctor`.
#[derive(Args, Debug)]
pub struct DoctorArgs {
    /// Directory of the embedded store (the one `leadrouter serve --data-dir` uses).
    #[arg(long, env = "LEADROUTER_DATA_DIR", default_value = "leadrouter-data")]
    data_dir: PathBuf,
    /// Check this DynamoDB table (an AWS deployment) instead of the embedded store.
    #[arg(long, env = "LEADROUTER_TABLE")]
    table: Option<String>,
    /// The routing config to check against (default: the version pushed to the store).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Minutes past a deadline before a lead counts as overdue (the sweeper runs every minute).
    #[arg(long, default_value_t = 5)]
    grace_minutes: i64,
    /// Minutes a lead may stay `queued` before it counts as stuck.
    #[arg(long, default_value_t = 15)]
    stuck_minutes: i64,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `leadrouter doctor`: exit 0 if no problem was found, 1 otherwise.
pub fn doctor(args: DoctorArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async {
        let (store, configs): (Arc<dyn Store>, Arc<dyn ConfigStore>) = match &args.table {
            Some(table) => (
                Arc::new(leadrouter_aws::DynamoStore::from_env(table.clone()).await),
                Arc::new(leadrouter_aws::DynamoConfigStore::from_env(table.clone()).await),
            ),
            None => {
                let store = open_embedded(&args.data_dir)?;
                (Arc::new(store.clone()), Arc::new(store))
            }
        };
        let config = match &args.config {
            Some(file) => RoutingConfig::load(file).map_err(|e| anyhow!("{e}"))?,
            None => {
                load_current(configs.as_ref())
                    .await
                    .map_err(|e| anyhow!("no config to check against ({e}); pass --config FILE"))?
                    .1
            }
        };
        let mut opts = DoctorOptions::at(Utc::now());
        opts.overdue_grace = chrono::Duration::minutes(args.grace_minutes.max(0));
        opts.stuck_after = chrono::Duration::minutes(args.stuck_minutes.max(0));
        let report = doctor::check(store.as_ref(), &config, opts).await?;
        let mut out = std::io::stdout().lock();
        print_report(&report, args.json, &mut out)?;
        Ok(if report.problems() > 0 {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        })
    })
}

fn print_report(report: &DoctorReport, json: bool, out: &mut dyn Write) -> anyhow::Result<()> {
    if json {
        serde_json::to_writer_pretty(&mut *out, report)?;
        writeln!(out)?;
        return Ok(());
    }
    for f in &report.findings {
        writeln!(out, "{f}")?;
    }
    let problems = report.problems();
    writeln!(
        out,
        "checked {} leads, {} reps, {} pools: {} problem(s), {} notice(s){}",
        report.leads,
        report.reps,
        report.pools,
        problems,
        report.findings.len() - problems,
        if problems == 0 { " — ok" } else { "" }
    )?;
    Ok(())
}

fn open_embedded(data_dir: &std::path::Path) -> anyhow::Result<EmbeddedStore> {
    let path = data_dir.join("leadrouter.db");
    // Never create an empty store by mistake: an operator command reads an existing one.
    if !path.exists() {
        return Err(anyhow!(
            "{} does not exist (wrong --data-dir?)",
            path.display()
        ));
    }
    EmbeddedStore::open(&path).with_context(|| format!("opening {}", path.display()))
}

/// The local queues `leadrouter serve` runs.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum LocalQueue {
    /// The intake queue (leads to route).
    Intake,
    /// The outbound events queue (webhook deliveries).
    Events,
}

/// Options of `leadrouter redrive`.
#[derive(Args, Debug)]
pub struct RedriveArgs {
    /// Directory of the embedded store (the one `leadrouter serve --data-dir` uses).
    #[arg(long, env = "LEADROUTER_DATA_DIR", default_value = "leadrouter-data")]
    data_dir: PathBuf,
    /// Which local queue's dead letters to move back.
    #[arg(long, value_enum, default_value = "intake")]
    queue: LocalQueue,
    /// Redrive this SQS queue (an AWS deployment) instead of a local one.
    #[arg(long)]
    queue_url: Option<String>,
    /// Its dead-letter queue (default: the one its redrive policy names).
    #[arg(long)]
    dlq_url: Option<String>,
    /// Move at most this many messages.
    #[arg(long, default_value_t = 1000)]
    max: usize,
    /// Only say how many messages would move.
    #[arg(long)]
    dry_run: bool,
}

/// Runs `leadrouter redrive`.
pub fn redrive(args: RedriveArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let mut out = std::io::stdout().lock();
    runtime.block_on(async {
        match &args.queue_url {
            Some(url) => {
                let client = leadrouter_aws::redrive::client_from_env().await;
                let dlq = match &args.dlq_url {
                    Some(d) => d.clone(),
                    None => leadrouter_aws::redrive::dead_letter_queue_of(&client, url)
                        .await?
                        .ok_or_else(|| {
                            anyhow!("the queue has no redrive policy; pass --dlq-url")
                        })?,
                };
                if args.dry_run {
                    let n = leadrouter_aws::redrive::approximate_depth(&client, &dlq).await?;
                    writeln!(
                        out,
                        "dry run: about {n} message(s) in the dead-letter queue; would move at most {}",
                        args.max
                    )?;
                    return Ok(());
                }
                let moved = leadrouter_aws::redrive::redrive(&client, &dlq, url, args.max).await?;
                writeln!(out, "moved {moved} message(s) back to the queue")?;
            }
            None => {
                let store = open_embedded(&args.data_dir)?;
                let name = match args.queue {
                    LocalQueue::Intake => "intake",
                    LocalQueue::Events => "events",
                };
                // Only dead-letter operations are used: the settings do not matter here.
                let queue = store.queue(
                    name,
                    QueueConfig {
                        visibility_timeout: Duration::from_secs(30),
                        max_receives: 5,
                    },
                );
                if args.dry_run {
                    let dead = queue.dead_letters().await?;
                    for d in dead.iter().take(args.max) {
                        // Ids and counts only: the body holds personal data.
                        writeln!(
                            out,
                            "would move {} (received {} times, dead-lettered {})",
                            d.id,
                            d.receive_count,
                            d.dead_lettered_at.format("%Y-%m-%dT%H:%M:%SZ")
                        )?;
                    }
                    writeln!(
                        out,
                        "dry run: {} message(s) dead-lettered in `{name}`; would move {}",
                        dead.len(),
                        dead.len().min(args.max)
                    )?;
                    return Ok(());
                }
                let moved = queue.redrive_at_most(args.max).await?;
                writeln!(out, "moved {moved} message(s) back to `{name}`")?;
            }
        }
        Ok(())
    })
}
