//! `leadrouter serve`: everything in one process.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use clap::Args;
use leadrouter_api::{AppState, router};
use leadrouter_domain::config::{Format, RoutingConfig};
use leadrouter_domain::config_store::{ConfigStore, ConfigWatcher, load_current};
use leadrouter_domain::engine::Engine;
use leadrouter_domain::ports::{Queue, SystemClock};
use leadrouter_domain::worker::{self, WorkerConfig};
use leadrouter_embedded::{EmbeddedStore, QueueConfig};
use leadrouter_notify::deliver::Secrets;
use leadrouter_notify::{Backoff, Notifier};
use tokio::sync::watch;
use tracing::{info, warn};

/// Options of `leadrouter serve`.
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "LEADROUTER_ADDR", default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// Directory for the database file (created if missing).
    #[arg(long, env = "LEADROUTER_DATA_DIR", default_value = "leadrouter-data")]
    data_dir: PathBuf,
    /// Routing config (.toml or .json). When absent: the current version pushed to the data
    /// directory's store with `leadrouter config push` (pushes are followed while running), else
    /// the built-in demo config.
    #[arg(long, env = "LEADROUTER_CONFIG")]
    config: Option<PathBuf>,
    /// Router worker tasks.
    #[arg(long, env = "LEADROUTER_WORKERS", default_value_t = 4)]
    workers: usize,
    /// Seconds between sweeps (SLA deadlines, absent reps, waiting leads).
    #[arg(long, env = "LEADROUTER_SWEEP_SECONDS", default_value_t = 60)]
    sweep_seconds: u64,
    /// Country hint (ISO alpha-2) for phone numbers of leads that name no country.
    #[arg(long, env = "LEADROUTER_DEFAULT_COUNTRY")]
    default_country: Option<String>,
    /// Public base URL the webhook tools call (for signature schemes that sign the URL).
    #[arg(long, env = "LEADROUTER_PUBLIC_URL")]
    public_url: Option<String>,
    /// A candidate config to run in shadow mode beside the live one: every lead also records
    /// what it would have decided; `GET /v1/shadow` reports the differences.
    #[arg(long, env = "LEADROUTER_SHADOW_CONFIG")]
    shadow_config: Option<PathBuf>,
    /// API tokens for the admin and rep routes, comma separated (each at least 16 characters).
    /// When unset, a token is generated once into `<data-dir>/api-token` (mode 0600) and used
    /// from there; its value is never logged.
    #[arg(long, env = "LEADROUTER_API_TOKENS", hide_env_values = true)]
    api_tokens: Option<String>,
    /// Log format: `text` or `json`.
    #[arg(long, env = "LEADROUTER_LOG_FORMAT", default_value = "text")]
    log_format: String,
}

/// Receives after which an intake message is dead-lettered.
const MAX_RECEIVES: u32 = 5;
/// Delivery attempts of an event before it is dead-lettered (about 4 hours of backoff).
const NOTIFY_MAX_RECEIVES: u32 = 20;

pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    init_tracing(&args.log_format);
    let config = match &args.config {
        Some(path) => Some(RoutingConfig::load(path).map_err(|e| anyhow::anyhow!("{e}"))?),
        None => None,
    };
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("creating {}", args.data_dir.display()))?;
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    // The database thread does about half of `serve`'s work under load, on a thread of its own
    // (shared/embedded's `db`): the runtime gets the other cores, so that the busy threads do
    // not take turns on the same cores. TOKIO_WORKER_THREADS overrides it.
    if std::env::var_os("TOKIO_WORKER_THREADS").is_none() {
        runtime.worker_threads(runtime_threads());
    }
    let runtime = runtime
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(serve(args, config))
}

/// Runtime threads: one per core but the one the database thread needs, at least one.
fn runtime_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().saturating_sub(1).max(1))
}

fn init_tracing(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("LEADROUTER_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if format == "json" {
        builder.json().init();
    } else {
        builder.compact().init();
    }
}

/// How often local mode checks the store for a pushed config.
const CONFIG_CHECK_EVERY: Duration = Duration::from_secs(2);

/// The config to start with and, unless a file was given, the watcher that follows pushes.
async fn initial_config(
    store: &EmbeddedStore,
    file: Option<RoutingConfig>,
) -> anyhow::Result<(RoutingConfig, Option<ConfigWatcher>)> {
    if let Some(config) = file {
        return Ok((config, None));
    }
    let every = chrono::Duration::seconds(1);
    let configs: Arc<dyn ConfigStore> = Arc::new(store.clone());
    if store.current_version().await?.is_some() {
        let (meta, config) = load_current(store)
            .await
            .map_err(|e| anyhow::anyhow!("pushed config: {e}"))?;
        info!(
            config_version = meta.version,
            "running the pushed config (following pushes)"
        );
        let watcher = ConfigWatcher::new(configs, every, Some(meta.version), Some(Utc::now()));
        return Ok((config, Some(watcher)));
    }
    let demo = RoutingConfig::parse(crate::DEMO_CONFIG, Format::Toml, "demo.toml")
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    // Nothing pushed yet: the demo config until the first push.
    Ok((demo, Some(ConfigWatcher::new(configs, every, None, None))))
}

/// Switches the engine to each newly pushed config (`leadrouter config push`).
async fn follow_config(
    engine: Arc<Engine>,
    watcher: ConfigWatcher,
    mut stop: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(CONFIG_CHECK_EVERY);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => break,
        }
        match watcher.refresh(&engine).await {
            Ok(Some(version)) => info!(config_version = version, "switched to a pushed config"),
            Ok(None) => {}
            Err(e) => warn!(error = %e, "config check failed; keeping the running config"),
        }
    }
}

async fn serve(args: ServeArgs, file_config: Option<RoutingConfig>) -> anyhow::Result<()> {
    let db = args.data_dir.join("leadrouter.db");
    let store =
        EmbeddedStore::open(&db).map_err(|e| anyhow::anyhow!("opening {}: {e}", db.display()))?;
    let (config, config_watcher) = initial_config(&store, file_config).await?;
    let queue: Arc<dyn Queue> = Arc::new(store.queue(
        "intake",
        QueueConfig {
            visibility_timeout: Duration::from_secs(30),
            max_receives: MAX_RECEIVES,
        },
    ));
    info!(
        config = %config.version,
        reps = config.reps.len(),
        pools = config.pools.len(),
        rules = config.rules.len(),
        db = %db.display(),
        "starting"
    );
    // Webhook secrets come from the environment, never from the config file; a missing one
    // stops start-up rather than silently refusing every delivery later.
    // Locally only `env:NAME` references resolve; an `ssm:/path` one names itself in the error.
    let sources = leadrouter_api::hooks::resolve_sources(&config, &|reference| {
        std::env::var(reference.strip_prefix("env:")?).ok()
    })
    .map_err(|e| anyhow::anyhow!(e))?;
    let default_country = args
        .default_country
        .map(|c| c.to_uppercase())
        .or_else(|| config.intake.default_country.clone());
    // Every lead write sends an event here; the notifier below delivers the pools' webhooks.
    let events: Arc<dyn Queue> = Arc::new(store.queue(
        "events",
        QueueConfig {
            visibility_timeout: Duration::from_secs(60),
            max_receives: NOTIFY_MAX_RECEIVES,
        },
    ));
    let config_api: Arc<dyn ConfigStore> = Arc::new(store.clone());
    let stats = Arc::new(store.clone());
    // Every lead write also adds to the hourly stats (`GET /v1/stats`), once per event id.
    let engine = Arc::new(
        Engine::new(Arc::new(store), config, Arc::new(SystemClock))
            .with_events(events.clone())
            .with_stats(stats),
    );
    if let Some(path) = &args.shadow_config {
        let shadow =
            RoutingConfig::load(path).map_err(|e| anyhow::anyhow!("shadow config: {e}"))?;
        info!(shadow = %shadow.version, "shadow mode: a candidate config decides beside the live one");
        engine.set_shadow(Some(shadow));
    }
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = Vec::new();
    if let Some(watcher) = config_watcher {
        tasks.push(tokio::spawn(follow_config(
            engine.clone(),
            watcher,
            stop_rx.clone(),
        )));
    }

    for _ in 0..args.workers.max(1) {
        tasks.push(tokio::spawn(worker::run(
            engine.clone(),
            queue.clone(),
            WorkerConfig::default(),
            stop_rx.clone(),
        )));
    }
    tasks.push(tokio::spawn(sweeper(
        engine.clone(),
        Duration::from_secs(args.sweep_seconds.max(1)),
        stop_rx.clone(),
    )));
    let secrets: Arc<Secrets> =
        Arc::new(|reference: &str| std::env::var(reference.strip_prefix("env:")?).ok());
    tasks.push(tokio::spawn(leadrouter_notify::run(
        Notifier::new(Duration::from_secs(10)).map_err(|e| anyhow::anyhow!("{e}"))?,
        engine.clone(),
        events,
        secrets,
        Backoff::default(),
        stop_rx.clone(),
    )));

    let auth = api_auth(args.api_tokens.as_deref(), &args.data_dir)?;
    let app = router(AppState {
        engine,
        queue,
        default_country,
        sources: Arc::new(sources),
        metrics: Arc::default(),
        public_url: args.public_url,
        auth,
        configs: Some(config_api),
    });
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .with_context(|| format!("binding {}", args.addr))?;
    let addr = listener.local_addr().unwrap_or(args.addr);
    info!(%addr, dashboard = %format!("http://{addr}/"), "listening");
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("serving HTTP")?;
    let _ = stop_tx.send(true);
    for t in tasks {
        let _ = t.await;
    }
    info!("stopped");
    Ok(())
}

/// Name of the generated token's file in the data directory.
const TOKEN_FILE: &str = "api-token";

/// The API tokens: `--api-tokens` / `LEADROUTER_API_TOKENS` when given, else the token in
/// `<data-dir>/api-token`, generated on first start. Admin routes are never open: a fresh
/// `serve` is safe on any interface, and the token is one `cat` away for its owner (the file is
/// readable by the owner only). The value never goes to the log, only the file's path.
fn api_auth(
    tokens: Option<&str>,
    data_dir: &std::path::Path,
) -> anyhow::Result<leadrouter_api::ApiAuth> {
    if let Some(list) = tokens {
        let auth = leadrouter_api::ApiAuth::from_list(list)
            .map_err(|e| anyhow::anyhow!("LEADROUTER_API_TOKENS: {e}"))?;
        info!("admin routes need one of the configured API tokens");
        return Ok(auth);
    }
    let path = data_dir.join(TOKEN_FILE);
    let token = match std::fs::read_to_string(&path) {
        Ok(t) => t.trim().to_owned(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // Two random (v4) UUIDs: 244 random bits from the OS generator.
            let token = format!(
                "lr_{}{}",
                uuid::Uuid::new_v4().simple(),
                uuid::Uuid::new_v4().simple()
            );
            write_private(&path, &token).with_context(|| format!("writing {}", path.display()))?;
            token
        }
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let auth = leadrouter_api::ApiAuth::from_list(&token)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    info!(token_file = %path.display(), "admin routes need the API token in the token file");
    Ok(auth)
}

/// Creates `path` with `contents`, readable and writable by the owner only.
fn write_private(path: &std::path::Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(contents.as_bytes())?;
    file.write_all(b"\n")
}

/// The local sweeper: SLA deadlines, leads of absent reps, waiting leads (the same
/// [`Engine::sweep`] the scheduled Lambda runs).
async fn sweeper(engine: Arc<Engine>, every: Duration, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => break,
        }
        if let Err(e) = engine.sweep().await {
            warn!(error = %e, "sweep failed");
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
    info!("shutting down");
}
