//! `leadrouter explain CONFIG LEAD.json`: the decision a config would take for one lead, with the
//! same decision record the router stores. Reads live rep and pool state from a data directory
//! when given one; otherwise assumes fresh state (no counters, no rotation history).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use leadrouter_domain::config::RoutingConfig;
use leadrouter_domain::ports::{LeadStore, RoutingStore};
use leadrouter_domain::routing::{self, Snapshot};
use leadrouter_embedded::EmbeddedStore;
use leadrouter_lead::{Intake, normalize_json};

/// Options of `leadrouter explain`.
#[derive(Args, Debug)]
pub struct ExplainArgs {
    /// The routing config (.toml or .json).
    config: PathBuf,
    /// The lead, as JSON with canonical field names (as posted to /v1/leads).
    lead: PathBuf,
    /// Read live rep and pool state from this `serve` data directory.
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

pub fn run(args: ExplainArgs) -> anyhow::Result<()> {
    let cfg = RoutingConfig::load(&args.config).map_err(|e| anyhow::anyhow!("{e}"))?;
    let text = std::fs::read_to_string(&args.lead)
        .with_context(|| format!("reading {}", args.lead.display()))?;
    let value: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", args.lead.display()))?;
    let now = chrono::Utc::now();
    let intake = Intake {
        id: uuid::Uuid::now_v7(),
        received_at: now,
        source: "api".into(),
        default_country: None,
        test: false,
        awaiting_enrichment: false,
    };
    let lead =
        normalize_json(&value, &intake).map_err(|e| anyhow::anyhow!("the lead is invalid: {e}"))?;
    let snap = match &args.data_dir {
        Some(dir) => live_snapshot(&cfg, &lead, dir)?,
        None => Snapshot::default(),
    };
    let plan = routing::decide(&cfg, &lead, &snap, now);
    println!(
        "{}",
        serde_json::to_string_pretty(&serde_json::json!({
            "status": plan.status,
            "owner": plan.owner,
            "pool": plan.pool,
            "decision": plan.decision,
        }))?
    );
    Ok(())
}

fn live_snapshot(
    cfg: &RoutingConfig,
    lead: &leadrouter_lead::Lead,
    dir: &Path,
) -> anyhow::Result<Snapshot> {
    let store = Arc::new(
        EmbeddedStore::open(&dir.join("leadrouter.db")).map_err(|e| anyhow::anyhow!("{e}"))?,
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let email_owner = match &lead.email {
            Some(e) => store
                .email_owner(e)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?,
            None => None,
        };
        let (reps, pools) = routing::needs(cfg, lead, email_owner.as_ref());
        let mut snap = Snapshot {
            email_owner,
            ..Snapshot::default()
        };
        for s in store
            .get_reps(&reps)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?
        {
            snap.reps.insert(s.rep.clone(), s);
        }
        for p in pools {
            let s = store
                .get_pool(&p)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            snap.pools.insert(p, s);
        }
        Ok(snap)
    })
}
