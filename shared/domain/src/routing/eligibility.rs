//! Who may take a lead right now, and if not, why not.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use leadrouter_lead::Lead;

use crate::config::{Rep, Rule, out_of_office_at};
use crate::decision::Ineligible;
use crate::state::{Availability, RepState};

/// What a matched rule asks of the rep, resolved against the lead.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Requirements {
    /// Every one of these skills.
    pub skills: Vec<String>,
    /// At least one of these languages (empty = no requirement).
    pub languages: Vec<String>,
    /// The lead's territory the rep must cover (`DE`, `US-CA`), if the rule matches territories.
    pub territory: Option<(String, Option<String>)>,
}

impl Requirements {
    /// Resolves a rule's requirements for one lead.
    pub fn for_rule(rule: &Rule, lead: &Lead) -> Requirements {
        let mut languages = rule.require_languages.clone();
        if rule.match_language
            && let Some(lang) = &lead.language
        {
            let lang = lang.to_lowercase();
            if !languages.contains(&lang) {
                languages.push(lang);
            }
        }
        let territory = if rule.match_territory {
            lead.country.as_ref().map(|c| {
                let country = c.to_uppercase();
                let region = lead
                    .region
                    .as_ref()
                    .map(|r| format!("{country}-{}", r.trim().to_uppercase()));
                (country, region)
            })
        } else {
            None
        };
        Requirements {
            skills: rule.require_skills.clone(),
            languages,
            territory,
        }
    }
}

/// Every reason `rep` cannot take a lead at `now`; empty means eligible.
pub fn ineligibility(
    rep: &Rep,
    state: &RepState,
    req: &Requirements,
    respect_hours: bool,
    now: DateTime<Utc>,
) -> Vec<Ineligible> {
    ineligibility_local(
        rep,
        state,
        req,
        respect_hours,
        now,
        &now.with_timezone(&rep.timezone),
    )
}

/// [`ineligibility`] with `now` already converted into the rep's time zone (`local`): a decision
/// over a large pool converts once per zone, not once per rep. Allocates only for reasons.
pub(crate) fn ineligibility_local(
    rep: &Rep,
    state: &RepState,
    req: &Requirements,
    respect_hours: bool,
    now: DateTime<Utc>,
    local: &DateTime<Tz>,
) -> Vec<Ineligible> {
    let mut reasons = Vec::new();
    if state.availability.unwrap_or(rep.status) == Availability::Away {
        reasons.push(Ineligible::Away);
    }
    let back = [
        out_of_office_at(&rep.out_of_office, now),
        out_of_office_at(&state.out_of_office, now),
    ]
    .into_iter()
    .flatten()
    .max();
    if let Some(until) = back {
        reasons.push(Ineligible::OutOfOffice { until });
    }
    if respect_hours && !rep.hours.is_working_local(local) {
        reasons.push(Ineligible::OutsideHours);
    }
    if let Some(max) = rep.max_open_leads
        && state.open_leads >= max
    {
        reasons.push(Ineligible::OverOpenCap {
            open: state.open_leads,
            max,
        });
    }
    if let Some(max) = rep.max_per_day {
        let today = state.assigned_on(local.date_naive());
        if today >= max {
            reasons.push(Ineligible::OverDailyCap { today, max });
        }
    }
    for skill in &req.skills {
        if !rep.skills.contains(skill) {
            reasons.push(Ineligible::MissingSkill {
                skill: skill.clone(),
            });
        }
    }
    if !req.languages.is_empty() && !req.languages.iter().any(|l| rep.languages.contains(l)) {
        reasons.push(Ineligible::MissingLanguage {
            languages: req.languages.clone(),
        });
    }
    if let Some((country, region)) = &req.territory
        && !rep.territories.is_empty()
        && !rep
            .territories
            .iter()
            .any(|t| t == country || Some(t) == region.as_ref())
    {
        reasons.push(Ineligible::OutsideTerritory {
            territory: region.clone().unwrap_or_else(|| country.clone()),
        });
    }
    reasons
}
