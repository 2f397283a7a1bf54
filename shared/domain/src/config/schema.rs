//! The config file as written by the admin (TOML or JSON), before validation.
//!
//! Every struct denies unknown keys: a typo in a routing file must fail loudly, not silently
//! route leads the admin did not intend.

use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConfig {
    #[serde(default)]
    pub settings: RawSettings,
    #[serde(default)]
    pub reps: Vec<RawRep>,
    #[serde(default)]
    pub pools: Vec<RawPool>,
    #[serde(default)]
    pub accounts: Vec<RawAccount>,
    #[serde(default)]
    pub rules: Vec<RawRule>,
    #[serde(default)]
    pub intake: RawIntake,
    #[serde(default)]
    pub sources: std::collections::BTreeMap<String, RawSource>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawIntake {
    pub default_country: Option<String>,
    pub honeypot_fields: Option<Vec<String>>,
    pub blocked_emails: Option<Vec<String>>,
    pub blocked_domains: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSource {
    pub adapter: Option<String>,
    pub auth: Option<Value>,
    #[serde(default)]
    pub mapping: std::collections::BTreeMap<String, String>,
    pub default_country: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSettings {
    pub timezone: Option<String>,
    pub sticky_days: Option<u32>,
    pub account_ownership: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRep {
    pub id: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub timezone: Option<String>,
    #[serde(default)]
    pub working_hours: Vec<String>,
    #[serde(default)]
    pub out_of_office: Vec<RawOutOfOffice>,
    pub status: Option<String>,
    #[serde(default)]
    pub skills: Vec<String>,
    #[serde(default)]
    pub languages: Vec<String>,
    #[serde(default)]
    pub territories: Vec<String>,
    pub weight: Option<u32>,
    pub max_open_leads: Option<u32>,
    pub max_per_day: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawOutOfOffice {
    pub from: String,
    pub to: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPool {
    pub id: String,
    pub members: Vec<String>,
    pub strategy: String,
    pub respect_working_hours: Option<bool>,
    pub makeup: Option<RawMakeup>,
    pub fallback: Option<RawTarget>,
    pub sla: Option<RawSla>,
    pub notify: Option<RawNotify>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMakeup {
    pub policy: String,
    pub max: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTarget {
    pub pool: Option<String>,
    pub rep: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSla {
    pub accept_within: Option<String>,
    pub first_touch_within: Option<String>,
    pub reassign_to: Option<String>,
    pub max_reassignments: Option<u32>,
    pub escalate: Option<RawTarget>,
    pub escalate_waiting_after: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawNotify {
    pub slack_webhook: Option<String>,
    pub webhook_url: Option<String>,
    pub webhook_secret: Option<String>,
    pub events: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAccount {
    pub name: String,
    #[serde(default)]
    pub domains: Vec<String>,
    pub owner: Option<String>,
    pub parent: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRule {
    pub name: String,
    pub when: Option<RawCondition>,
    pub pool: Option<String>,
    pub rep: Option<String>,
    pub outcome: Option<String>,
    #[serde(default)]
    pub require_skills: Vec<String>,
    #[serde(default)]
    pub require_languages: Vec<String>,
    #[serde(default)]
    pub match_language: bool,
    #[serde(default)]
    pub match_territory: bool,
    pub split: Option<Vec<RawArm>>,
    pub experiment: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawArm {
    pub name: String,
    pub pool: Option<String>,
    pub rep: Option<String>,
    pub percent: u32,
}

/// One condition node. Exactly one operator (or one combinator) per node; checked when compiled.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCondition {
    pub field: Option<String>,
    pub equals: Option<Value>,
    #[serde(rename = "in")]
    pub in_list: Option<Vec<Value>>,
    pub prefix: Option<OneOrMany>,
    pub gt: Option<f64>,
    pub gte: Option<f64>,
    pub lt: Option<f64>,
    pub lte: Option<f64>,
    pub exists: Option<bool>,
    pub regex: Option<String>,
    pub ignore_case: Option<bool>,
    pub all: Option<Vec<RawCondition>>,
    pub any: Option<Vec<RawCondition>>,
    pub not: Option<Box<RawCondition>>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}
