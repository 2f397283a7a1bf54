//! `leadrouter simulate CONFIG LEADS.(csv|jsonl)`: replays historical leads through a config
//! with a simulated clock ([`leadrouter_domain::simulate`]) and prints the distribution per rep
//! and pool, unroutable leads and why, caps hit, fairness (spread and Gini) and the SLA deadlines
//! the assignments would get; `--compare OTHER` shows what another config would change, and
//! `--out FILE.csv` writes every assignment.
//!
//! Input: CSV with a header row of canonical field names (as a form would post them), or JSON
//! lines of canonical leads. A `received_at` column/field (RFC 3339) gives each lead's time;
//! without one, leads are one minute apart. `--at` moves the first lead to that time (keeping
//! the gaps) and `--speed` divides the gaps. Rows that do not normalize are counted and skipped.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use chrono::{DateTime, Duration, Utc};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use leadrouter_domain::config::RoutingConfig;
use leadrouter_domain::simulate::{Assignment, Comparison, Options, Report, Simulator};
use leadrouter_lead::{Intake, LEAD_ID_NAMESPACE, Lead, normalize_form, normalize_json};

/// Options of `leadrouter simulate`.
#[derive(Args, Debug)]
pub struct SimulateArgs {
    /// The routing config (.toml or .json).
    config: PathBuf,
    /// The leads: `.csv` (header row of canonical field names) or `.jsonl`.
    leads: PathBuf,
    /// Replay as if the first lead arrived at this time (RFC 3339), keeping the gaps.
    #[arg(long)]
    at: Option<DateTime<Utc>>,
    /// Divide the time between leads by this factor (2 = twice as many leads per hour).
    #[arg(long, default_value_t = 1.0)]
    speed: f64,
    /// Simulated reps close each lead this long after getting it (`90m`, `1d`; `never`).
    #[arg(long, default_value = "1d")]
    close_after: String,
    /// Also replay through this config and show what changes, lead by lead.
    #[arg(long)]
    compare: Option<PathBuf>,
    /// Write every assignment (of CONFIG) to this CSV file.
    #[arg(long)]
    out: Option<PathBuf>,
    /// `text` (tables) or `json`.
    #[arg(long, default_value = "text")]
    format: String,
}

pub fn run(args: SimulateArgs) -> anyhow::Result<()> {
    let cfg = load(&args.config)?;
    let other = args.compare.as_deref().map(load).transpose()?;
    if !(args.speed > 0.0 && args.speed.is_finite()) {
        anyhow::bail!("--speed must be a positive number");
    }
    let close_after = match args.close_after.as_str() {
        "never" => None,
        s => Some(parse_duration(s).with_context(|| format!("--close-after `{s}`"))?),
    };
    let opts = Options { close_after };
    let started = Instant::now();
    let (leads, skipped) = read_leads(&args.leads, args.at, args.speed)?;
    let read_secs = started.elapsed().as_secs_f64();

    let bar = ProgressBar::new(leads.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} leads {per_sec} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut out = match &args.out {
        Some(p) => {
            Some(csv::Writer::from_path(p).with_context(|| format!("creating {}", p.display()))?)
        }
        None => None,
    };
    if let Some(w) = out.as_mut() {
        w.write_record([
            "lead_id",
            "received_at",
            "status",
            "owner",
            "pool",
            "rule",
            "due_at",
            "reason",
        ])?;
    }
    let route_started = Instant::now();
    let mut sim = Simulator::new(&cfg, opts);
    let mut alt = other.as_ref().map(|c| Simulator::new(c, opts));
    let mut cmp = Comparison::default();
    for (i, lead) in leads.iter().enumerate() {
        let a = sim.route(lead);
        if let Some(alt) = alt.as_mut() {
            cmp.add(&a, &alt.route(lead));
        }
        if let Some(w) = out.as_mut() {
            write_assignment(w, &a)?;
        }
        if i % 4096 == 0 {
            bar.set_position(i as u64);
        }
    }
    bar.finish_and_clear();
    let route_secs = route_started.elapsed().as_secs_f64();
    if let Some(mut w) = out {
        w.flush()?;
    }
    let report = sim.finish();
    let alt_report = alt.map(Simulator::finish);
    cmp.top(10);
    let timing = Timing {
        leads: leads.len(),
        skipped,
        read_secs,
        route_secs,
    };
    if args.format == "json" {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "report": report,
                "compare": alt_report.as_ref().map(|r| serde_json::json!({"report": r, "changes": cmp})),
                "skipped_rows": skipped,
                "seconds": {"read": read_secs, "route": route_secs},
            }))?
        );
    } else {
        let mut stdout = std::io::stdout().lock();
        print_report(&mut stdout, &report, &timing)?;
        if let Some(r) = &alt_report {
            writeln!(
                stdout,
                "\n== compared with {} ==",
                args.compare
                    .as_deref()
                    .map(Path::display)
                    .map(|d| d.to_string())
                    .unwrap_or_default()
            )?;
            print_distribution(&mut stdout, r)?;
            print_comparison(&mut stdout, &cmp)?;
        }
    }
    Ok(())
}

fn load(path: &Path) -> anyhow::Result<RoutingConfig> {
    RoutingConfig::load(path).map_err(|e| anyhow::anyhow!("{e}"))
}

fn parse_duration(s: &str) -> anyhow::Result<Duration> {
    let split = s
        .find(|c: char| !c.is_ascii_digit())
        .context("write e.g. 90m, 12h or 1d")?;
    let (n, unit) = s.split_at(split);
    let n: i64 = n.parse().context("write e.g. 90m, 12h or 1d")?;
    Ok(match unit {
        "s" => Duration::seconds(n),
        "m" => Duration::minutes(n),
        "h" => Duration::hours(n),
        "d" => Duration::days(n),
        _ => anyhow::bail!("unknown unit `{unit}`: use s, m, h or d"),
    })
}

/// One input row, read but not yet normalized.
enum Raw {
    /// A CSV row as the form body it stands for, and its `received_at` if it had one.
    Form {
        row: usize,
        body: String,
        received: Option<DateTime<Utc>>,
    },
    /// A JSON line.
    Json { row: usize, line: String },
    /// A row the reader could not read.
    Unreadable { row: usize, error: String },
}

/// Normalizes one row into a lead (`base`: the time of rows without `received_at`).
fn normalize_raw(raw: &Raw, base: DateTime<Utc>) -> (usize, anyhow::Result<Lead>) {
    match raw {
        Raw::Form {
            row,
            body,
            received,
        } => {
            // Ids and default times follow the record's index (row 2 is record 0), as before.
            let n = row - 2;
            let intake = intake(n, received.unwrap_or(base + Duration::minutes(n as i64)));
            (
                *row,
                normalize_form(body.as_bytes(), &intake).map_err(anyhow::Error::from),
            )
        }
        Raw::Json { row, line } => {
            let lead = serde_json::from_str::<serde_json::Value>(line)
                .map_err(anyhow::Error::from)
                .and_then(|mut v| {
                    let received = v
                        .get("received_at")
                        .and_then(|t| t.as_str())
                        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                        .map(|t| t.to_utc());
                    let n = row - 1;
                    let intake = intake(n, received.unwrap_or(base + Duration::minutes(n as i64)));
                    if let Some(o) = v.as_object_mut() {
                        o.remove("received_at");
                        o.remove("id");
                    }
                    normalize_json(&v, &intake).map_err(anyhow::Error::from)
                });
            (*row, lead)
        }
        Raw::Unreadable { row, error } => (*row, Err(anyhow::anyhow!("{error}"))),
    }
}

/// Reads and normalizes every lead, in time order; returns the leads and the rows skipped.
///
/// Reading is sequential; normalizing (most of the cost: ~15 µs a row through the form
/// adapter) runs on every core, each thread taking a contiguous slice of the rows, so the
/// result keeps the file's order before the sort by time.
fn read_leads(
    path: &Path,
    at: Option<DateTime<Utc>>,
    speed: f64,
) -> anyhow::Result<(Vec<Lead>, usize)> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let csv_input = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    let base = Utc::now();
    let mut raws = Vec::new();
    if csv_input {
        let mut reader = csv::Reader::from_reader(BufReader::new(file));
        let headers = reader.headers()?.clone();
        for (n, row) in reader.records().enumerate() {
            raws.push(match row {
                Ok(row) => {
                    let mut form = url::form_urlencoded::Serializer::new(String::new());
                    let mut received = None;
                    for (h, v) in headers.iter().zip(row.iter()) {
                        if h == "received_at" {
                            received = DateTime::parse_from_rfc3339(v).ok().map(|t| t.to_utc());
                        } else if !v.is_empty() {
                            form.append_pair(h, v);
                        }
                    }
                    Raw::Form {
                        row: n + 2,
                        body: form.finish(),
                        received,
                    }
                }
                Err(e) => Raw::Unreadable {
                    row: n + 2,
                    error: e.to_string(),
                },
            });
        }
    } else {
        for (n, line) in BufReader::new(file).lines().enumerate() {
            let line = line?;
            if line.trim().is_empty() {
                continue;
            }
            raws.push(Raw::Json { row: n + 1, line });
        }
    }

    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per_thread = raws.len().div_ceil(threads).max(1);
    let normalized: Vec<Vec<(usize, anyhow::Result<Lead>)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = raws
            .chunks(per_thread)
            .map(|chunk| {
                scope.spawn(move || {
                    chunk
                        .iter()
                        .map(|r| normalize_raw(r, base))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .map_err(|_| anyhow::anyhow!("a normalizing thread panicked"))
            })
            .collect::<anyhow::Result<_>>()
    })?;
    drop(raws);
    let mut leads = Vec::with_capacity(normalized.iter().map(Vec::len).sum());
    let mut skipped = 0;
    for (row, result) in normalized.into_iter().flatten() {
        match result {
            Ok(l) => leads.push(l),
            Err(e) => {
                skipped += 1;
                if skipped <= 5 {
                    eprintln!("row {row}: skipped: {e}");
                }
            }
        }
    }
    leads.sort_by_key(|l| l.received_at);
    if let Some(first) = leads.first().map(|l| l.received_at) {
        let start = at.unwrap_or(first);
        for l in &mut leads {
            let gap = (l.received_at - first).num_milliseconds() as f64 / speed;
            l.received_at = start + Duration::milliseconds(gap as i64);
        }
    }
    Ok((leads, skipped))
}

fn intake(n: usize, received_at: DateTime<Utc>) -> Intake {
    Intake {
        id: uuid::Uuid::new_v5(&LEAD_ID_NAMESPACE, format!("simulate:{n}").as_bytes()),
        received_at,
        source: "simulate".into(),
        default_country: None,
        test: false,
        awaiting_enrichment: false,
    }
}

fn write_assignment<W: std::io::Write>(
    w: &mut csv::Writer<W>,
    a: &Assignment,
) -> anyhow::Result<()> {
    w.write_record([
        a.lead_id.to_string(),
        a.received_at.to_rfc3339(),
        a.status.as_str().to_owned(),
        a.owner.clone().unwrap_or_default(),
        a.pool.clone().unwrap_or_default(),
        a.rule.clone(),
        a.due_at.map(|d| d.to_rfc3339()).unwrap_or_default(),
        a.reason.clone().unwrap_or_default(),
    ])?;
    Ok(())
}

struct Timing {
    leads: usize,
    skipped: usize,
    read_secs: f64,
    route_secs: f64,
}

fn print_report(out: &mut impl Write, r: &Report, t: &Timing) -> anyhow::Result<()> {
    writeln!(
        out,
        "{} leads replayed ({} rows skipped): read and normalized in {:.2} s, routed in {:.2} s ({:.0} leads/s)",
        t.leads,
        t.skipped,
        t.read_secs,
        t.route_secs,
        t.leads as f64 / t.route_secs.max(1e-9)
    )?;
    print_distribution(out, r)?;
    if !r.unroutable.is_empty() {
        writeln!(out, "\nunroutable (waiting unassigned):")?;
        for (why, n) in &r.unroutable {
            writeln!(out, "  {n:>8}  {why}")?;
        }
    }
    if !r.caps_hit.is_empty() {
        writeln!(out, "\npassed over because of a cap:")?;
        for (rep, n) in &r.caps_hit {
            writeln!(out, "  {rep:<24} {n:>8}")?;
        }
    }
    if let (Some(p50), Some(p90)) = (r.deadline_p50_secs, r.deadline_p90_secs) {
        writeln!(
            out,
            "\nSLA: accept deadline after receipt (owner's working hours): p50 {}, p90 {}",
            human(p50),
            human(p90)
        )?;
    }
    Ok(())
}

fn print_distribution(out: &mut impl Write, r: &Report) -> anyhow::Result<()> {
    let pct = |n: usize| 100.0 * n as f64 / r.leads.max(1) as f64;
    writeln!(out, "\nby outcome:")?;
    for (s, n) in &r.by_status {
        writeln!(out, "  {s:<24} {n:>8}  {:>5.1}%", pct(*n))?;
    }
    writeln!(out, "\nby rule:")?;
    for (s, n) in &r.by_rule {
        writeln!(out, "  {s:<24} {n:>8}  {:>5.1}%", pct(*n))?;
    }
    writeln!(out, "\nby pool:                      leads   spread   gini")?;
    for (p, n) in &r.by_pool {
        match r.fairness.get(p) {
            Some(f) => writeln!(out, "  {p:<24} {n:>8}  {:>7}  {:>5.3}", f.spread, f.gini)?,
            None => writeln!(out, "  {p:<24} {n:>8}")?,
        }
    }
    writeln!(out, "\nby rep:")?;
    for (rep, n) in &r.by_rep {
        writeln!(out, "  {rep:<24} {n:>8}  {:>5.1}%", pct(*n))?;
    }
    Ok(())
}

fn print_comparison(out: &mut impl Write, c: &Comparison) -> anyhow::Result<()> {
    let pct = |n: usize| 100.0 * n as f64 / c.leads.max(1) as f64;
    writeln!(out, "\nchanges, lead by lead ({} leads):", c.leads)?;
    writeln!(
        out,
        "  owner changed   {:>8}  {:>5.1}%",
        c.owner_changed,
        pct(c.owner_changed)
    )?;
    writeln!(
        out,
        "  pool changed    {:>8}  {:>5.1}%",
        c.pool_changed,
        pct(c.pool_changed)
    )?;
    writeln!(
        out,
        "  outcome changed {:>8}  {:>5.1}%",
        c.status_changed,
        pct(c.status_changed)
    )?;
    for (title, moves) in [
        ("pool moves", &c.pool_moves),
        ("outcome moves", &c.status_moves),
    ] {
        if !moves.is_empty() {
            writeln!(out, "  {title}:")?;
            for (m, n) in moves {
                writeln!(out, "    {n:>8}  {m}")?;
            }
        }
    }
    Ok(())
}

fn human(secs: i64) -> String {
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s => format!("{:.1}h", s as f64 / 3600.0),
    }
}
