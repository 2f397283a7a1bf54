//! `leadrouter config`: versioned routing configs in the store (push, history, show, diff,
//! rollback).
//!
//! Where: the embedded store file that `leadrouter serve` uses (`--data-dir`, default
//! `leadrouter-data`), or, with `--table NAME` (or `LEADROUTER_TABLE`), the DynamoDB table of an
//! AWS deployment, through the SDK with the usual credentials (`AWS_PROFILE`, `AWS_REGION`, …).
//!
//! A push validates the file with the same code as `leadrouter check`; a file with problems is
//! never uploaded. History is never rewritten: a rollback pushes the old document again as a new
//! version that names the one it repeats.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, anyhow, bail};
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use leadrouter_domain::config::{Format, RoutingConfig};
use leadrouter_domain::config_store::{ConfigDoc, ConfigMeta, ConfigStore, PutOutcome, push};
use leadrouter_embedded::EmbeddedStore;

/// Options of `leadrouter config`.
#[derive(Args, Debug)]
pub struct ConfigArgs {
    /// Directory of the embedded store (the one `leadrouter serve --data-dir` uses).
    #[arg(
        long,
        env = "LEADROUTER_DATA_DIR",
        default_value = "leadrouter-data",
        global = true
    )]
    data_dir: PathBuf,
    /// Use this DynamoDB table (an AWS deployment) instead of the embedded store.
    #[arg(long, env = "LEADROUTER_TABLE", global = true)]
    table: Option<String>,
    #[command(subcommand)]
    command: ConfigCommand,
}

#[derive(Subcommand, Debug)]
enum ConfigCommand {
    /// Validate a config file and, if it has no problems, store it as the next version.
    Push {
        /// The config file (.toml or .json).
        file: PathBuf,
        /// Why (shown in the history).
        #[arg(short, long, default_value = "")]
        message: String,
        /// Who pushes (default: $USER).
        #[arg(long)]
        by: Option<String>,
        /// Push even if the file is identical to the current version.
        #[arg(long)]
        force: bool,
    },
    /// List the newest versions: who pushed what, when, and why.
    History {
        /// How many versions (at most 100).
        #[arg(short = 'n', long, default_value_t = 20)]
        limit: usize,
    },
    /// Print a version's config file (the current one by default) to stdout.
    Show {
        /// The version number.
        version: Option<u64>,
    },
    /// Compare two versions: what changed (reps, pools, rules, settings) and a line diff.
    Diff {
        /// The older version.
        a: u64,
        /// The newer version.
        b: u64,
    },
    /// Make an old version current again, by pushing its document as a new version.
    Rollback {
        /// The version to go back to.
        version: u64,
        /// Why (default: "rollback to vN").
        #[arg(short, long)]
        message: Option<String>,
        /// Who rolls back (default: $USER).
        #[arg(long)]
        by: Option<String>,
    },
}

/// Runs `leadrouter config …`.
pub fn run(args: ConfigArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async {
        let store: Arc<dyn ConfigStore> = match &args.table {
            Some(table) => {
                Arc::new(leadrouter_aws::DynamoConfigStore::from_env(table.clone()).await)
            }
            None => {
                std::fs::create_dir_all(&args.data_dir)
                    .with_context(|| format!("creating {}", args.data_dir.display()))?;
                let path = args.data_dir.join("leadrouter.db");
                Arc::new(
                    EmbeddedStore::open(&path)
                        .with_context(|| format!("opening {}", path.display()))?,
                )
            }
        };
        let mut out = std::io::stdout().lock();
        execute(store.as_ref(), args.command, Utc::now(), &mut out).await
    })
}

fn default_by(by: Option<String>) -> String {
    by.or_else(|| std::env::var("USER").ok())
        .filter(|b| !b.trim().is_empty())
        .unwrap_or_else(|| "unknown".into())
}

async fn execute(
    store: &dyn ConfigStore,
    command: ConfigCommand,
    now: DateTime<Utc>,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    match command {
        ConfigCommand::Push {
            file,
            message,
            by,
            force,
        } => {
            let source = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let name = file.display().to_string();
            let (doc, cfg) = ConfigDoc::validated(
                source,
                Format::from_path(&file),
                &name,
                default_by(by),
                message,
                now,
            )
            .map_err(|e| {
                anyhow!(
                    "{e}\n{} problem(s) found; nothing was pushed",
                    e.problems.len()
                )
            })?;
            if !force
                && let Some(current) = store.current().await?
                && current.source == doc.source
            {
                writeln!(
                    out,
                    "unchanged: version {} already has this content; nothing pushed (--force to push anyway)",
                    current.meta.version
                )?;
                return Ok(());
            }
            match push(store, &doc, 5).await? {
                PutOutcome::Stored { version } => writeln!(
                    out,
                    "pushed {name} as version {version} ({} reps, {} pools, {} rules, fingerprint {})",
                    cfg.reps.len(),
                    cfg.pools.len(),
                    cfg.rules.len(),
                    cfg.version
                )?,
                PutOutcome::Conflict { current } => bail!(
                    "other pushes kept winning (current version {}); try again",
                    show_version(current)
                ),
            }
        }
        ConfigCommand::History { limit } => {
            let history = store.history(limit).await?;
            if history.is_empty() {
                writeln!(out, "no config pushed yet")?;
            }
            let current = history.first().map(|m| m.version);
            for m in &history {
                writeln!(out, "{}", history_line(m, current == Some(m.version)))?;
            }
        }
        ConfigCommand::Show { version } => {
            let doc = match version {
                Some(v) => store
                    .get(v)
                    .await?
                    .ok_or_else(|| anyhow!("no version {v}"))?,
                None => store
                    .current()
                    .await?
                    .ok_or_else(|| anyhow!("no config pushed yet"))?,
            };
            eprintln!("{}", history_line(&doc.meta, false));
            out.write_all(doc.source.as_bytes())?;
        }
        ConfigCommand::Diff { a, b } => {
            let old = store
                .get(a)
                .await?
                .ok_or_else(|| anyhow!("no version {a}"))?;
            let new = store
                .get(b)
                .await?
                .ok_or_else(|| anyhow!("no version {b}"))?;
            out.write_all(diff(&old, &new).as_bytes())?;
        }
        ConfigCommand::Rollback {
            version,
            message,
            by,
        } => {
            let old = store
                .get(version)
                .await?
                .ok_or_else(|| anyhow!("no version {version}"))?;
            old.compile().map_err(|e| {
                anyhow!("{e}\nversion {version} no longer validates; nothing was pushed")
            })?;
            let current = store.current_version().await?;
            if current == Some(version) {
                writeln!(out, "version {version} is already current; nothing pushed")?;
                return Ok(());
            }
            let doc = ConfigDoc {
                meta: ConfigMeta {
                    version: 0,
                    pushed_at: now,
                    pushed_by: default_by(by),
                    hash: old.meta.hash.clone(),
                    message: message.unwrap_or_else(|| format!("rollback to v{version}")),
                    rolled_back_from: Some(version),
                },
                format: old.format,
                source: old.source,
            };
            // Conditional on the version just read: a push in between means the admin decided
            // on stale information, so stop rather than silently undo it.
            match store.put(&doc, current).await? {
                PutOutcome::Stored { version: new } => writeln!(
                    out,
                    "rolled back: version {new} has the content of version {version}"
                )?,
                PutOutcome::Conflict { current } => bail!(
                    "version {} was pushed meanwhile; check `leadrouter config history` and retry",
                    show_version(current)
                ),
            }
        }
    }
    Ok(())
}

fn show_version(v: Option<u64>) -> String {
    v.map_or_else(|| "none".into(), |v| v.to_string())
}

fn history_line(m: &ConfigMeta, current: bool) -> String {
    let mut line = format!(
        "{}v{:<4} {}  {:<16} {}",
        if current { "* " } else { "  " },
        m.version,
        m.pushed_at.format("%Y-%m-%d %H:%M:%SZ"),
        m.pushed_by,
        m.hash
    );
    if let Some(from) = m.rolled_back_from {
        line.push_str(&format!("  (rollback to v{from})"));
    }
    if !m.message.is_empty() {
        line.push_str("  ");
        line.push_str(&m.message);
    }
    line
}

/// What changed from `old` to `new`: a summary by reps, pools, rules and settings (when both
/// validate), then a unified line diff of the sources.
pub fn diff(old: &ConfigDoc, new: &ConfigDoc) -> String {
    let mut text = format!(
        "--- v{} ({}, {})\n+++ v{} ({}, {})\n",
        old.meta.version,
        old.meta.pushed_by,
        old.meta.pushed_at.format("%Y-%m-%d %H:%M:%SZ"),
        new.meta.version,
        new.meta.pushed_by,
        new.meta.pushed_at.format("%Y-%m-%d %H:%M:%SZ"),
    );
    match (old.compile(), new.compile()) {
        (Ok(a), Ok(b)) => {
            let summary = semantic(&a, &b);
            if summary.is_empty() {
                text.push_str("# no change in routing (reps, pools, rules, settings)\n");
            }
            for line in summary {
                text.push_str("# ");
                text.push_str(&line);
                text.push('\n');
            }
        }
        _ => text.push_str("# (a version does not validate with this build: line diff only)\n"),
    }
    let lines = similar::TextDiff::from_lines(&old.source, &new.source);
    let unified = lines.unified_diff().context_radius(3).to_string();
    text.push_str(&unified);
    text
}

/// One line per kind of item that changed: `reps: +ana -bo ~cy`.
fn semantic(a: &RoutingConfig, b: &RoutingConfig) -> Vec<String> {
    let mut lines = Vec::new();
    let by_id = |items: Vec<(String, String)>| items.into_iter().collect::<BTreeMap<_, _>>();
    let sections = [
        (
            "reps",
            by_id(
                a.reps
                    .iter()
                    .map(|r| (r.id.clone(), format!("{r:?}")))
                    .collect(),
            ),
            by_id(
                b.reps
                    .iter()
                    .map(|r| (r.id.clone(), format!("{r:?}")))
                    .collect(),
            ),
        ),
        (
            "pools",
            by_id(
                a.pools
                    .iter()
                    .map(|p| (p.id.clone(), format!("{p:?}")))
                    .collect(),
            ),
            by_id(
                b.pools
                    .iter()
                    .map(|p| (p.id.clone(), format!("{p:?}")))
                    .collect(),
            ),
        ),
        (
            "rules",
            by_id(
                a.rules
                    .iter()
                    .map(|r| (r.name.clone(), format!("{r:?}")))
                    .collect(),
            ),
            by_id(
                b.rules
                    .iter()
                    .map(|r| (r.name.clone(), format!("{r:?}")))
                    .collect(),
            ),
        ),
        (
            "accounts",
            by_id(
                a.accounts
                    .list
                    .iter()
                    .map(|x| (x.name.clone(), format!("{x:?}")))
                    .collect(),
            ),
            by_id(
                b.accounts
                    .list
                    .iter()
                    .map(|x| (x.name.clone(), format!("{x:?}")))
                    .collect(),
            ),
        ),
    ];
    for (kind, old, new) in sections {
        let mut parts = Vec::new();
        for id in new.keys().filter(|k| !old.contains_key(*k)) {
            parts.push(format!("+{id}"));
        }
        for id in old.keys().filter(|k| !new.contains_key(*k)) {
            parts.push(format!("-{id}"));
        }
        for (id, v) in &new {
            if old.get(id).is_some_and(|o| o != v) {
                parts.push(format!("~{id}"));
            }
        }
        if !parts.is_empty() {
            lines.push(format!("{kind}: {}", parts.join(" ")));
        }
    }
    let order = |c: &RoutingConfig| c.rules.iter().map(|r| r.name.clone()).collect::<Vec<_>>();
    let (oa, ob) = (order(a), order(b));
    let common_a: Vec<&String> = oa.iter().filter(|n| ob.contains(n)).collect();
    let common_b: Vec<&String> = ob.iter().filter(|n| oa.contains(n)).collect();
    if common_a != common_b {
        lines.push("rule order changed (first match wins)".into());
    }
    if format!("{:?}", a.settings) != format!("{:?}", b.settings) {
        lines.push("settings changed".into());
    }
    if format!("{:?}", a.intake) != format!("{:?}", b.intake) {
        lines.push("intake settings changed".into());
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEMO: &str = include_str!("../demo.toml");

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_763_884_800 + secs, 0).unwrap_or_default()
    }

    async fn store() -> (tempfile::TempDir, EmbeddedStore) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = EmbeddedStore::open(&dir.path().join("leadrouter.db")).expect("open");
        (dir, store)
    }

    async fn run_cmd(
        store: &EmbeddedStore,
        cmd: ConfigCommand,
        secs: i64,
    ) -> anyhow::Result<String> {
        let mut out = Vec::new();
        execute(store, cmd, t(secs), &mut out).await?;
        Ok(String::from_utf8_lossy(&out).into_owned())
    }

    fn push_cmd(file: &std::path::Path, message: &str) -> ConfigCommand {
        ConfigCommand::Push {
            file: file.to_owned(),
            message: message.into(),
            by: Some("ada".into()),
            force: false,
        }
    }

    #[tokio::test]
    async fn push_history_diff_rollback() -> anyhow::Result<()> {
        let (dir, store) = store().await;
        let file = dir.path().join("routing.toml");
        std::fs::write(&file, DEMO)?;
        let out = run_cmd(&store, push_cmd(&file, "first"), 0).await?;
        assert!(
            out.starts_with(&format!("pushed {} as version 1", file.display())),
            "{out}"
        );

        // The same content again is not a new version.
        let out = run_cmd(&store, push_cmd(&file, "again"), 1).await?;
        assert!(out.starts_with("unchanged: version 1"), "{out}");
        assert_eq!(store.current_version().await?, Some(1));

        // A second version: a shorter sticky window.
        let v1 = RoutingConfig::parse(DEMO, Format::Toml, "demo")?;
        let changed = DEMO.replacen("[settings]", "# edited\n[settings]", 1);
        let changed = changed.replace("sticky_days = 90", "sticky_days = 30");
        std::fs::write(&file, &changed)?;
        let out = run_cmd(&store, push_cmd(&file, "shorter sticky window"), 60).await?;
        assert!(
            out.starts_with(&format!("pushed {} as version 2", file.display())),
            "{out}"
        );

        let history = run_cmd(&store, ConfigCommand::History { limit: 10 }, 61).await?;
        let lines: Vec<&str> = history.lines().collect();
        assert_eq!(lines.len(), 2, "{history}");
        assert!(lines[0].starts_with("* v2"), "{history}");
        assert!(lines[0].contains("ada") && lines[0].contains("shorter sticky window"));
        assert!(lines[1].starts_with("  v1") && lines[1].contains(&v1.version));

        let diff = run_cmd(&store, ConfigCommand::Diff { a: 1, b: 2 }, 62).await?;
        assert!(diff.contains("# settings changed"), "{diff}");
        assert!(!diff.contains("# reps:"), "{diff}");
        assert!(diff.contains("-sticky_days = 90"), "{diff}");
        assert!(diff.contains("+sticky_days = 30"), "{diff}");
        assert!(diff.contains("+# edited"), "{diff}");

        let out = run_cmd(
            &store,
            ConfigCommand::Rollback {
                version: 1,
                message: None,
                by: Some("bo".into()),
            },
            120,
        )
        .await?;
        assert_eq!(out, "rolled back: version 3 has the content of version 1\n");
        let v3 = store.get(3).await?.ok_or_else(|| anyhow!("no v3"))?;
        let v1doc = store.get(1).await?.ok_or_else(|| anyhow!("no v1"))?;
        assert_eq!(v3.source, v1doc.source);
        assert_eq!(v3.meta.rolled_back_from, Some(1));
        assert_eq!(v3.meta.hash, v1.version);
        assert_eq!(v3.meta.pushed_by, "bo");
        assert_eq!(v3.meta.message, "rollback to v1");
        // History keeps every version.
        let metas = store.history(10).await?;
        assert_eq!(
            metas.iter().map(|m| m.version).collect::<Vec<_>>(),
            [3, 2, 1]
        );
        Ok(())
    }

    #[tokio::test]
    async fn an_invalid_file_is_never_pushed() -> anyhow::Result<()> {
        let (dir, store) = store().await;
        let file = dir.path().join("broken.toml");
        std::fs::write(
            &file,
            DEMO.replacen("strategy = ", "strategy = \"nonsense\"\n#", 1),
        )?;
        let err = run_cmd(&store, push_cmd(&file, "broken"), 0)
            .await
            .err()
            .ok_or_else(|| anyhow!("an invalid file was accepted"))?;
        assert!(err.to_string().contains("nothing was pushed"), "{err}");
        assert_eq!(store.current_version().await?, None);
        Ok(())
    }

    #[test]
    fn semantic_diff_names_added_removed_and_changed_items() -> anyhow::Result<()> {
        let a = RoutingConfig::parse(DEMO, Format::Toml, "a")?;
        let first_rep = a.reps.first().map(|r| r.id.clone()).unwrap_or_default();
        let mut b = a.clone();
        b.reps.retain(|r| r.id != first_rep);
        if let Some(r) = b.reps.first_mut() {
            r.weight += 1;
        }
        let lines = semantic(&a, &b);
        let reps = lines
            .iter()
            .find(|l| l.starts_with("reps: "))
            .cloned()
            .unwrap_or_default();
        assert!(reps.contains(&format!("-{first_rep}")), "{lines:?}");
        assert!(reps.contains('~'), "{lines:?}");
        assert!(semantic(&a, &a).is_empty());
        Ok(())
    }
}
