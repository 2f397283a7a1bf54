//! The routing configuration: reps, pools, accounts and rules, loaded from one TOML or JSON file
//! and strictly validated.
//!
//! Loading never stops at the first semantic problem: every problem found is reported with the
//! path (`rules[2].pool`), the line and column in the file, and a hint, so an admin fixes a file in
//! one pass. `schema` holds the file as written, `compile` turns it into the types below,
//! `locate` maps paths back to lines, `hours` parses working hours.

mod compile;
pub mod hours;
pub mod locate;
mod schema;

use std::collections::HashMap;
use std::fmt;
use std::path::Path as FsPath;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::record::{PoolId, RepId};
use crate::rules::Condition;
use crate::state::{Availability, OutOfOffice};
use hours::WorkingHours;

/// A validated routing configuration, ready to route with.
#[derive(Debug, Clone)]
pub struct RoutingConfig {
    /// Fingerprint of the source text (FNV-1a, hex), stored in every decision.
    pub version: String,
    /// Global settings.
    pub settings: Settings,
    /// Reps, in file order.
    pub reps: Vec<Rep>,
    /// Pools, in file order.
    pub pools: Vec<Pool>,
    /// Known accounts and their owners.
    pub accounts: Accounts,
    /// Rules, in evaluation order; the last one is the default rule.
    pub rules: Vec<Rule>,
    /// Intake settings: spam traps and block lists.
    pub intake: IntakeSettings,
    /// Webhook sources by name (`POST /v1/hooks/{name}`).
    pub sources: std::collections::BTreeMap<String, Source>,
    rep_index: HashMap<RepId, usize>,
    pool_index: HashMap<PoolId, usize>,
    /// Per rule, the canonical fields its condition cannot hold without
    /// ([`Condition::needs`]), computed at load: a lead lacking one skips the rule without
    /// evaluating it. Kept apart from the rules, in 4 bytes each, so that skipping a rule does
    /// not load the rule (a cache miss each, measured).
    rule_needs: Vec<u32>,
    /// Every field some rule needs (the union of `rule_needs`): the presence mask of a lead is
    /// computed for these only.
    rule_fields: u32,
}

/// Global settings (`[settings]`).
#[derive(Debug, Clone)]
pub struct Settings {
    /// Time zone for reps that name none.
    pub timezone: Tz,
    /// Sticky routing window in days: a new lead with the email of a lead assigned within this
    /// window goes to that lead's owner. 0 disables sticky routing.
    pub sticky_days: u32,
    /// Whether leads from a known account go to the account's owner.
    pub account_ownership: bool,
}

/// Intake settings (`[intake]`).
#[derive(Debug, Clone, Default)]
pub struct IntakeSettings {
    /// Country hint (alpha-2) for phone numbers of leads that name no country.
    pub default_country: Option<String>,
    /// Form fields that humans never fill (hidden honeypots): a lead with any of them set is spam.
    pub honeypot_fields: Vec<String>,
    /// Email addresses that are never real leads (lowercased): such leads are spam.
    pub blocked_emails: Vec<String>,
    /// Email domains that are never real leads (disposable mail): such leads are spam.
    pub blocked_domains: Vec<String>,
}

/// Default `blocked_emails`: addresses people type to get past a form.
pub const DEFAULT_BLOCKED_EMAILS: &[&str] = &[
    "test@test.com",
    "test@example.com",
    "asdf@asdf.com",
    "a@a.com",
    "no@no.com",
    "none@none.com",
    "noreply@example.com",
];

/// Default `blocked_domains`: disposable-mail and documentation domains.
pub const DEFAULT_BLOCKED_DOMAINS: &[&str] = &[
    "mailinator.com",
    "guerrillamail.com",
    "10minutemail.com",
    "tempmail.com",
    "temp-mail.org",
    "yopmail.com",
    "trashmail.com",
    "sharklasers.com",
    "example.com",
    "example.org",
    "example.net",
];

impl IntakeSettings {
    /// Why a lead is spam by the intake settings, if it is.
    pub fn spam_reason(&self, lead: &leadrouter_lead::Lead) -> Option<String> {
        for f in &self.honeypot_fields {
            let filled = lead.custom.get(f).is_some_and(|v| match v {
                serde_json::Value::String(s) => !s.trim().is_empty(),
                serde_json::Value::Null => false,
                _ => true,
            });
            if filled {
                return Some(format!("honeypot field `{f}` was filled"));
            }
        }
        let email = lead.email.as_deref()?;
        if self.blocked_emails.iter().any(|b| b == email) {
            return Some("email is on the block list".into());
        }
        let domain = email.rsplit_once('@').map(|(_, d)| d)?;
        self.blocked_domains
            .iter()
            .any(|b| b == domain)
            .then(|| format!("email domain `{domain}` is on the block list"))
    }
}

/// A webhook source (`[sources.<name>]`), served at `POST /v1/hooks/<name>`.
#[derive(Debug, Clone)]
pub struct Source {
    /// The name in the URL, also the lead's `source`.
    pub name: String,
    /// The payload format (`typeform`, `hubspot`, ...); defaults to the name.
    pub adapter: String,
    /// The admin's field mapping overrides.
    pub mapping: leadrouter_sources::Mapping,
    /// Country hint for this source's phone numbers.
    pub default_country: Option<String>,
    /// The auth settings with secret references (`env:NAME`) unresolved.
    auth: serde_json::Value,
}

/// The kind and name of a secret reference: `env:NAME` (an environment variable, local mode) or
/// `ssm:/path` (an SSM SecureString parameter, on AWS). `None` if `value` is not a reference.
pub fn secret_reference(value: &str) -> Option<(&str, &str)> {
    let (kind, name) = value.split_once(':')?;
    (matches!(kind, "env" | "ssm") && !name.is_empty()).then_some((kind, name))
}

/// Keys of an `auth` table that are not secrets.
const AUTH_PLAIN_KEYS: &[&str] = &["scheme", "header", "tolerance_secs"];

impl Source {
    /// The source's authentication with every secret reference resolved through `lookup`.
    ///
    /// `lookup` receives the whole reference, `env:NAME` (an environment variable) or
    /// `ssm:/path` (an SSM SecureString parameter), and answers the secret or `None`: locally it
    /// reads the environment, on AWS a map of the SSM parameters fetched once at cold start
    /// (`leadrouter_aws::secrets`). Errors name the reference and where it was looked for, never
    /// a secret.
    pub fn resolve_auth(
        &self,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<leadrouter_sources::Auth, String> {
        let mut auth = self.auth.clone();
        if let Some(map) = auth.as_object_mut() {
            for (key, value) in map.iter_mut() {
                if AUTH_PLAIN_KEYS.contains(&key.as_str()) {
                    continue;
                }
                let reference = value.as_str().unwrap_or_default().to_owned();
                let kind = match reference.split_once(':') {
                    Some((kind @ ("env" | "ssm"), name)) if !name.is_empty() => kind,
                    _ => {
                        return Err(format!(
                            "`{key}` must be a secret reference like env:NAME or ssm:/path"
                        ));
                    }
                };
                let place = if kind == "ssm" {
                    "could not be read from SSM Parameter Store (missing, empty, or not readable \
                     by this function)"
                } else {
                    "is not set in the environment"
                };
                let secret = lookup(&reference)
                    .filter(|s| !s.is_empty())
                    .ok_or_else(|| {
                        format!("source `{}`: secret `{reference}` {place}", self.name)
                    })?;
                *value = serde_json::Value::String(secret);
            }
        }
        serde_json::from_value(auth)
            .map_err(|e| format!("source `{}`: invalid auth: {e}", self.name))
    }
}

/// A sales rep.
#[derive(Debug, Clone)]
pub struct Rep {
    /// Unique id.
    pub id: RepId,
    /// Display name.
    pub name: Option<String>,
    /// Work email (for notifications; never logged).
    pub email: Option<String>,
    /// The rep's time zone (working hours and daily caps follow it).
    pub timezone: Tz,
    /// Weekly shifts; empty = always working.
    pub hours: WorkingHours,
    /// Planned absences.
    pub out_of_office: Vec<OutOfOffice>,
    /// Availability unless changed through the API.
    pub status: Availability,
    /// Skills, lowercased.
    pub skills: Vec<String>,
    /// Languages spoken (ISO 639-1, lowercased).
    pub languages: Vec<String>,
    /// Territories: country codes (`DE`) or country-region (`US-CA`), uppercased.
    pub territories: Vec<String>,
    /// Weight for weighted pools (≥ 1).
    pub weight: u32,
    /// Most open leads the rep may own at once.
    pub max_open_leads: Option<u32>,
    /// Most leads the rep may get per local day.
    pub max_per_day: Option<u32>,
}

/// How a pool picks among its eligible members.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// The eligible rep assigned least recently.
    RoundRobin,
    /// Smooth weighted rotation (nginx's).
    Weighted,
    /// Fewest open leads, ties by least recently assigned.
    LeastLoaded,
    /// No push: the lead waits in the pool until a rep claims it.
    Claim,
}

impl Strategy {
    /// The config name.
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::RoundRobin => "round_robin",
            Strategy::Weighted => "weighted",
            Strategy::LeastLoaded => "least_loaded",
            Strategy::Claim => "claim",
        }
    }
}

/// What round robin does with turns a rep missed while over a cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Makeup {
    /// Missed turns are forgotten: the rep rejoins the rotation as least recently assigned.
    Forget,
    /// Each missed turn is credited back, up to `max` turns, and paid out first when the rep is
    /// eligible again.
    Credit {
        /// Most turns owed at once.
        max: u32,
    },
}

/// Where a lead goes when a pool has nobody eligible.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Another pool.
    Pool(PoolId),
    /// A named rep.
    Rep(RepId),
}

/// Service-level targets of a pool and what happens when they are missed (the sweeper).
///
/// `accept_within` and `first_touch_within` count the owner's working time (see
/// [`hours::WorkingHours::add_working_time`]): a lead assigned at night to a rep who starts at
/// 9:00 is due relative to 9:00.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sla {
    /// Time allowed from assignment to accept.
    pub accept_within: Option<chrono::Duration>,
    /// Time allowed from assignment to first touch.
    pub first_touch_within: Option<chrono::Duration>,
    /// Where an overdue lead goes.
    pub reassign_to: Reassign,
    /// Reassignments before escalating (0 = escalate at the first miss).
    pub max_reassignments: u32,
    /// Where the lead goes after the last reassignment, or when it waited too long.
    pub escalate: Option<Target>,
    /// A lead waiting `unassigned` or `awaiting_claim` this long (wall-clock) is escalated.
    pub escalate_waiting_after: Option<chrono::Duration>,
}

impl Sla {
    /// Whether the pool has any deadline at all.
    pub fn is_set(&self) -> bool {
        self.accept_within.is_some()
            || self.first_touch_within.is_some()
            || self.escalate_waiting_after.is_some()
    }
}

/// Where an overdue lead is reassigned.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Reassign {
    /// The pool's next eligible member in rotation who has not had the lead.
    #[default]
    NextInRotation,
    /// Any eligible rep in the config who has not had the lead, least loaded first.
    AnyAvailable,
    /// Back to the pool, waiting for a member to claim it.
    Claim,
}

impl Reassign {
    /// The config name.
    pub fn as_str(self) -> &'static str {
        match self {
            Reassign::NextInRotation => "next_in_rotation",
            Reassign::AnyAvailable => "any_available",
            Reassign::Claim => "claim",
        }
    }
}

/// Who hears about a pool's lead events, besides the outbound events queue.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Notify {
    /// Secret reference (`env:NAME`) of a Slack-compatible incoming webhook URL.
    pub slack_webhook: Option<String>,
    /// A generic JSON webhook, signed with HMAC-SHA256.
    pub webhook_url: Option<String>,
    /// Secret reference of the webhook's signing secret.
    pub webhook_secret: Option<String>,
    /// Event types delivered (default: assigned, reassigned, escalated, claimed).
    pub events: Vec<String>,
}

impl Notify {
    /// Whether anything is configured.
    pub fn is_set(&self) -> bool {
        self.slack_webhook.is_some() || self.webhook_url.is_some()
    }
}

/// A team or queue of reps.
#[derive(Debug, Clone)]
pub struct Pool {
    /// Unique id.
    pub id: PoolId,
    /// Members, in file order (ties in rotation go to the earlier member).
    pub members: Vec<RepId>,
    /// How a member is picked.
    pub strategy: Strategy,
    /// Skip members outside their working hours (default true).
    pub respect_working_hours: bool,
    /// Round robin's make-up policy.
    pub makeup: Makeup,
    /// Where leads go when nobody is eligible.
    pub fallback: Option<Target>,
    /// SLA targets and the reassignment procedure.
    pub sla: Sla,
    /// Webhook deliveries of the pool's events.
    pub notify: Notify,
    /// The members sorted by rep id (the rotation's own order), packed, so a decision can walk
    /// members and rotation together without a lookup per member.
    pub(crate) by_id: Vec<crate::routing::strategy::SortedId>,
    /// Each member's index into the config's `reps` (`usize::MAX` if unknown), so a decision
    /// finds a member's settings without hashing its id.
    pub(crate) member_reps: Vec<usize>,
    /// Stands for this pool's member list, unique in the process (never 0), so that a rotation
    /// can remember that its ids are exactly these members ([`crate::state::Rotation`]).
    pub(crate) ids_token: u64,
}

/// Company accounts and who owns them.
#[derive(Debug, Clone, Default)]
pub struct Accounts {
    /// The accounts.
    pub list: Vec<Account>,
    by_domain: HashMap<String, usize>,
}

/// One company account.
#[derive(Debug, Clone)]
pub struct Account {
    /// Unique name.
    pub name: String,
    /// Email/website domains of the company.
    pub domains: Vec<String>,
    /// The owning rep.
    pub owner: Option<RepId>,
    /// Index of the parent account (whose owner applies when this one has none).
    pub parent: Option<usize>,
}

impl Accounts {
    /// The account a company domain belongs to, and its effective owner (its own, else the
    /// nearest parent's).
    pub fn owner_of(&self, domain: &str) -> Option<(&Account, &RepId)> {
        let mut idx = *self.by_domain.get(domain)?;
        let first = self.list.get(idx)?;
        // Parent chains are acyclic (checked at load) and bounded by the number of accounts.
        for _ in 0..=self.list.len() {
            let acct = self.list.get(idx)?;
            if let Some(owner) = &acct.owner {
                return Some((first, owner));
            }
            idx = acct.parent?;
        }
        None
    }
}

impl Rule {
    /// Where this rule sends `lead`: its route, or the route of the experiment arm the lead
    /// falls in.
    pub fn route_for(&self, lead: &leadrouter_lead::Lead) -> &Route {
        match &self.experiment {
            Some(e) => &e.arm_for(lead.id).route,
            None => &self.route,
        }
    }
}

/// An A/B routing experiment: a rule's leads split between arms by a deterministic hash of the
/// lead id, so a lead always lands in the same arm (redeliveries, simulations, explain).
#[derive(Debug, Clone)]
pub struct Experiment {
    /// The experiment's id (`experiment = ".."`, default the rule's name).
    pub id: String,
    /// The arms, in file order; the first is the control. Percentages add up to 100.
    pub arms: Vec<Arm>,
}

/// One arm of an [`Experiment`].
#[derive(Debug, Clone)]
pub struct Arm {
    /// The arm's name.
    pub name: String,
    /// Where its leads go.
    pub route: Route,
    /// Share of the rule's leads, in percent.
    pub percent: u32,
}

impl Experiment {
    /// The arm `lead_id` falls in: FNV-1a of the experiment id and the lead id, mod 100,
    /// against the arms' cumulative percentages.
    pub fn arm_for(&self, lead_id: uuid::Uuid) -> &Arm {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in self
            .id
            .as_bytes()
            .iter()
            .chain(b":")
            .chain(lead_id.as_bytes())
        {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        let bucket = (h % 100) as u32;
        let mut upto = 0;
        for arm in &self.arms {
            upto += arm.percent;
            if bucket < upto {
                return arm;
            }
        }
        // Percentages add up to 100 (checked at load); the last arm takes any rounding.
        &self.arms[self.arms.len() - 1]
    }
}

/// A "no rep" outcome a rule can choose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoRep {
    /// Send to a nurture sequence.
    Nurture,
    /// Discard as spam (still recorded).
    Spam,
}

impl NoRep {
    /// The config name.
    pub fn as_str(self) -> &'static str {
        match self {
            NoRep::Nurture => "nurture",
            NoRep::Spam => "spam",
        }
    }
}

/// What a rule routes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// A pool's strategy picks the rep.
    Pool(PoolId),
    /// A named rep (falls back to nobody: waits unassigned if the rep is not eligible).
    Rep(RepId),
    /// No rep.
    Outcome(NoRep),
}

/// A routing rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// An A/B split of the rule's leads between arms, if any (then `route` is the first arm's).
    pub experiment: Option<Experiment>,
    /// Unique name (shown in decisions).
    pub name: String,
    /// The condition; `None` only for the default (last) rule.
    pub when: Option<Condition>,
    /// Where matching leads go.
    pub route: Route,
    /// Skills a rep must have (all of them), lowercased.
    pub require_skills: Vec<String>,
    /// Languages of which a rep must speak at least one, lowercased.
    pub require_languages: Vec<String>,
    /// Also require the lead's own language, when it has one.
    pub match_language: bool,
    /// Require the rep's territories to cover the lead's country (or country-region).
    pub match_territory: bool,
}

impl RoutingConfig {
    /// A rep by id.
    pub fn rep(&self, id: &str) -> Option<&Rep> {
        self.rep_index.get(id).and_then(|&i| self.reps.get(i))
    }

    /// Member `i` of `pool`'s settings: through the index computed at load, checked against the
    /// id (a config edited in memory falls back to the lookup by id).
    pub(crate) fn member_rep(&self, pool: &Pool, i: usize) -> Option<&Rep> {
        let id = pool.members.get(i)?;
        match pool.member_reps.get(i).and_then(|&r| self.reps.get(r)) {
            Some(rep) if rep.id == *id => Some(rep),
            _ => self.rep(id),
        }
    }

    /// A pool by id.
    pub fn pool(&self, id: &str) -> Option<&Pool> {
        self.pool_index.get(id).and_then(|&i| self.pools.get(i))
    }

    /// The first rule whose condition holds (the default rule always does).
    pub fn match_rule(&self, lead: &leadrouter_lead::Lead) -> Option<(usize, &Rule)> {
        // Which needed fields the lead has, once, so that a rule comparing a field the lead
        // lacks costs one mask test instead of an evaluation.
        let present = crate::rules::presence(lead, self.rule_fields);
        self.rules.iter().enumerate().find(|(i, r)| {
            // A rule without an entry (none: the list is built with the rules) is evaluated.
            let needs = self.rule_needs.get(*i).copied().unwrap_or(0);
            needs & !present == 0 && r.when.as_ref().is_none_or(|c| c.matches(lead))
        })
    }

    /// Pools a rep is a member of.
    pub fn pools_of<'a>(&'a self, rep: &'a str) -> impl Iterator<Item = &'a Pool> + 'a {
        self.pools
            .iter()
            .filter(move |p| p.members.iter().any(|m| m == rep))
    }

    /// Parses and validates a config from text.
    pub fn parse(src: &str, format: Format, file: &str) -> Result<RoutingConfig, ConfigError> {
        compile::parse(src, format, file)
    }

    /// Loads a config file; the format follows the extension (`.json`, else TOML).
    pub fn load(path: &FsPath) -> Result<RoutingConfig, ConfigError> {
        let file = path.display().to_string();
        let src = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: file.clone(),
            problems: vec![Problem {
                path: String::new(),
                line: None,
                column: None,
                message: format!("cannot read the file: {e}"),
                hint: None,
            }],
        })?;
        RoutingConfig::parse(&src, Format::from_path(path), &file)
    }
}

/// Whether an out-of-office range covers `at`.
pub fn out_of_office_at(ranges: &[OutOfOffice], at: DateTime<Utc>) -> Option<DateTime<Utc>> {
    ranges
        .iter()
        .filter(|r| r.from <= at && at < r.until)
        .map(|r| r.until)
        .max()
}

/// A config file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// TOML (the recommended format: comments, readable diffs).
    Toml,
    /// JSON (for generated configs).
    Json,
}

impl Format {
    /// The format a file name suggests.
    pub fn from_path(path: &FsPath) -> Format {
        match path.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("json") => Format::Json,
            _ => Format::Toml,
        }
    }
}

/// One thing wrong with a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where in the document (`rules[2].pool`); empty for file-level problems.
    pub path: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// 1-based column, when known.
    pub column: Option<usize>,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub hint: Option<String>,
}

/// Every problem found in a config file.
#[derive(Debug, Clone, thiserror::Error)]
pub struct ConfigError {
    /// The file name as given.
    pub file: String,
    /// The problems, in file order.
    pub problems: Vec<Problem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{}", self.file)?;
            if let Some(line) = p.line {
                write!(f, ":{line}")?;
                if let Some(col) = p.column {
                    write!(f, ":{col}")?;
                }
            }
            write!(f, ": ")?;
            if !p.path.is_empty() {
                write!(f, "{}: ", p.path)?;
            }
            write!(f, "{}", p.message)?;
            if let Some(hint) = &p.hint {
                write!(f, " (hint: {hint})")?;
            }
        }
        Ok(())
    }
}
