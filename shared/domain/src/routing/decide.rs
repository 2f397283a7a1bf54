//! The routing decision for one lead, as a pure function of config, lead, live state and time.
//!
//! The router reads the state [`needs`] names, calls [`decide`], and commits the resulting
//! [`Plan`] with version conditions. `leadrouter explain` and the simulator call the same code.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use leadrouter_lead::Lead;

use super::eligibility::{Requirements, ineligibility_local};
use super::strategy::{is_lazy, pick, round_robin_lazy};
use crate::config::{Pool, Rep, Route, RoutingConfig, Rule, Strategy, Target};
use crate::decision::{Candidate, Decision, Outcome, RuleRef, Step, StepKind};
use crate::ports::EmailOwner;
use crate::record::{LeadStatus, PoolId, RepId};
use crate::state::{PoolState, RepState, RotationUpdate};

/// The waiting key used for leads whose rule names a rep who cannot take them.
pub fn rep_queue(rep: &str) -> PoolId {
    format!("rep:{rep}")
}

/// Live state that a decision reads.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Rep states by id (missing reps read as fresh).
    pub reps: HashMap<RepId, RepState>,
    /// Pool rotations by id (missing pools read as fresh).
    pub pools: HashMap<PoolId, PoolState>,
    /// The latest owner of a lead with the same email, if any.
    pub email_owner: Option<EmailOwner>,
    /// Reps this lead must not go to (they declined or released it).
    pub excluded: Vec<RepId>,
}

impl Snapshot {
    fn rep(&self, id: &str) -> RepState {
        self.reps
            .get(id)
            .cloned()
            .unwrap_or_else(|| RepState::new(id))
    }

    /// Applies a plan's state changes in memory, as a committed write would (versions +1).
    /// For simulations and tests; the engine writes through the store instead.
    pub fn apply(&mut self, plan: &Plan) {
        if let Some(rep) = &plan.rep {
            let mut rep = rep.clone();
            rep.version += 1;
            self.reps.insert(rep.rep.clone(), rep);
        }
        if let Some(update) = &plan.rotation {
            let pool = self
                .pools
                .entry(update.pool.clone())
                .or_insert_with(|| PoolState::new(update.pool.clone()));
            pool.apply(update);
            pool.version += 1;
        }
    }
}

/// What to write for a decision.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The decision record.
    pub decision: Decision,
    /// The lead's new status.
    pub status: LeadStatus,
    /// The new owner, if any.
    pub owner: Option<RepId>,
    /// The pool the lead is routed through or waits in.
    pub pool: Option<PoolId>,
    /// The owner's new counters.
    pub rep: Option<RepState>,
    /// The change to the rotation that picked the owner.
    pub rotation: Option<RotationUpdate>,
    /// Why, in words, when the outcome was not reached by a rule (intake spam checks, tests).
    pub reason: Option<String>,
}

/// The sticky-index key of a phone number (emails are their own key).
pub fn phone_key(phone: &str) -> String {
    format!("tel:{phone}")
}

/// The rep and pool states a decision for `lead` may read.
pub fn needs(
    cfg: &RoutingConfig,
    lead: &Lead,
    email_owner: Option<&EmailOwner>,
) -> (Vec<RepId>, Vec<PoolId>) {
    let mut reps: Vec<RepId> = Vec::new();
    let mut pools: Vec<PoolId> = Vec::new();
    let add_rep = |reps: &mut Vec<RepId>, r: &str| {
        if !reps.iter().any(|x| x == r) {
            reps.push(r.to_owned());
        }
    };
    if lead.test || cfg.intake.spam_reason(lead).is_some() {
        return (reps, pools);
    }
    let Some((_, rule)) = cfg.match_rule(lead) else {
        return (reps, pools);
    };
    let route = rule.route_for(lead);
    if matches!(route, Route::Outcome(_)) {
        return (reps, pools);
    }
    if let Some((_, owner)) = account_owner(cfg, lead) {
        add_rep(&mut reps, owner);
    }
    if let Some(o) = email_owner {
        add_rep(&mut reps, &o.rep);
    }
    match route {
        Route::Rep(r) => add_rep(&mut reps, r),
        Route::Pool(p) => {
            let mut next = Some(p.clone());
            while let Some(id) = next.take() {
                if pools.contains(&id) {
                    break;
                }
                let Some(pool) = cfg.pool(&id) else { break };
                pools.push(id);
                for m in &pool.members {
                    add_rep(&mut reps, m);
                }
                match &pool.fallback {
                    Some(Target::Pool(np)) => next = Some(np.clone()),
                    Some(Target::Rep(r)) => add_rep(&mut reps, r),
                    None => {}
                }
            }
        }
        Route::Outcome(_) => {}
    }
    (reps, pools)
}

fn account_owner<'a>(cfg: &'a RoutingConfig, lead: &Lead) -> Option<(&'a str, &'a RepId)> {
    if !cfg.settings.account_ownership {
        return None;
    }
    let domain = lead.company_domain.as_deref()?;
    cfg.accounts
        .owner_of(domain)
        .map(|(acct, owner)| (acct.name.as_str(), owner))
}

struct Ctx<'a> {
    cfg: &'a RoutingConfig,
    snap: &'a Snapshot,
    req: Requirements,
    now: DateTime<Utc>,
    steps: Vec<Step>,
    /// The state of reps the store has never written.
    fresh: RepState,
    /// `now` in the time zone met last: most decisions meet one zone, and this needs no
    /// allocation.
    last_zone: Cell<Option<(Tz, DateTime<Tz>)>>,
    /// `now` in the other zones met so far: converted once per zone, not once per rep.
    zones: RefCell<Vec<(Tz, DateTime<Tz>)>>,
}

impl<'a> Ctx<'a> {
    fn new(
        cfg: &'a RoutingConfig,
        snap: &'a Snapshot,
        req: Requirements,
        now: DateTime<Utc>,
    ) -> Ctx<'a> {
        Ctx {
            cfg,
            snap,
            req,
            now,
            steps: Vec::new(),
            fresh: RepState::new(""),
            last_zone: Cell::new(None),
            zones: RefCell::new(Vec::new()),
        }
    }

    fn local(&self, tz: Tz) -> DateTime<Tz> {
        if let Some((z, local)) = self.last_zone.get()
            && z == tz
        {
            return local;
        }
        let mut zones = self.zones.borrow_mut();
        let local = match zones.iter().find(|(z, _)| *z == tz) {
            Some(&(_, local)) => local,
            None => self.now.with_timezone(&tz),
        };
        if let Some(prev) = self.last_zone.replace(Some((tz, local)))
            && !zones.iter().any(|(z, _)| *z == prev.0)
        {
            zones.push(prev);
        }
        local
    }

    fn candidate(&self, rep: &str, respect_hours: bool) -> Candidate {
        self.candidate_of(rep, self.cfg.rep(rep), respect_hours)
    }

    /// Member `i` of `pool` as a candidate (its settings found by index, not by hashing its id).
    fn member(&self, pool: &Pool, i: usize) -> Candidate {
        let id = pool.members.get(i).map_or("", String::as_str);
        self.candidate_of(id, self.cfg.member_rep(pool, i), pool.respect_working_hours)
    }

    fn candidate_of(&self, rep: &str, settings: Option<&Rep>, respect_hours: bool) -> Candidate {
        match settings {
            Some(r) => {
                let state = self.snap.reps.get(rep).unwrap_or(&self.fresh);
                let local = self.local(r.timezone);
                let mut reasons =
                    ineligibility_local(r, state, &self.req, respect_hours, self.now, &local);
                if self.snap.excluded.iter().any(|x| x == rep) {
                    reasons.push(crate::decision::Ineligible::DeclinedBefore);
                }
                Candidate {
                    rep: rep.to_owned(),
                    eligible: reasons.is_empty(),
                    reasons,
                }
            }
            // A rep removed from the config (an old sticky owner) is simply not a candidate.
            None => Candidate {
                rep: rep.to_owned(),
                eligible: false,
                reasons: vec![crate::decision::Ineligible::Away],
            },
        }
    }

    /// The plan for an outcome reached through `rule`, with the steps recorded so far.
    fn finish(
        self,
        rule: RuleRef,
        outcome: Outcome,
        status: LeadStatus,
        owner: Option<RepId>,
        pool: Option<PoolId>,
        rotation: Option<RotationUpdate>,
    ) -> Plan {
        let (cfg, now) = (self.cfg, self.now);
        let rep = owner.as_ref().map(|o| bump_rep(cfg, self.snap.rep(o), now));
        Plan {
            decision: Decision {
                decided_at: now,
                config_version: cfg.version.clone(),
                rule,
                required_skills: self.req.skills,
                required_languages: self.req.languages,
                steps: self.steps,
                outcome,
                experiment: None,
            },
            status,
            owner,
            pool,
            rep,
            rotation,
            reason: None,
        }
    }

    /// Tries a single rep (owner, sticky, named, fallback); records the step.
    fn single(&mut self, kind: StepKind, rep: &str) -> Option<RepId> {
        let c = self.candidate(rep, true);
        let picked = c.eligible.then(|| rep.to_owned());
        self.steps.push(Step {
            kind,
            candidates: vec![c],
            picked: picked.clone(),
            state: serde_json::Value::Null,
            note: None,
        });
        picked
    }
}

/// Decides where `lead` goes. Pure: the same inputs give the same plan.
pub fn decide(cfg: &RoutingConfig, lead: &Lead, snap: &Snapshot, now: DateTime<Utc>) -> Plan {
    let mut plan = decide_by_rules(cfg, lead, snap, now);
    // A lead in a split rule is in the experiment unless an existing relationship (account or
    // sticky owner) decided before the rule's route did.
    let by_relationship = plan.decision.steps.first().is_some_and(|s| {
        matches!(
            s.kind,
            StepKind::AccountOwner { .. } | StepKind::Sticky { .. }
        ) && s.picked.is_some()
    });
    if !by_relationship
        && let Some(e) = cfg
            .rules
            .get(plan.decision.rule.index)
            .and_then(|r| r.experiment.as_ref())
    {
        plan.decision.experiment = Some(crate::decision::ExperimentArm {
            id: e.id.clone(),
            arm: e.arm_for(lead.id).name.clone(),
        });
    }
    plan
}

fn decide_by_rules(cfg: &RoutingConfig, lead: &Lead, snap: &Snapshot, now: DateTime<Utc>) -> Plan {
    // Intake checks come before any rule: a test or spam lead never reaches a rep, whatever
    // the rules say. Their decisions name the pseudo-rule `intake`.
    let intake_rule = || RuleRef {
        index: cfg.rules.len(),
        name: "intake".to_owned(),
    };
    if lead.test {
        let mut plan = no_rep_plan(cfg, Some((intake_rule(), None)), "test", now);
        plan.reason = Some("the source flagged a test submission".into());
        return plan;
    }
    if let Some(reason) = cfg.intake.spam_reason(lead) {
        let mut plan = no_rep_plan(cfg, Some((intake_rule(), None)), "spam", now);
        plan.reason = Some(reason);
        return plan;
    }
    let Some((index, rule)) = cfg.match_rule(lead) else {
        // Unreachable with a validated config (the default rule matches everything); kept total.
        return no_rep_plan(cfg, None, "nurture", now);
    };
    let rule_ref = RuleRef {
        index,
        name: rule.name.clone(),
    };
    if let Route::Outcome(o) = *rule.route_for(lead) {
        return no_rep_plan(cfg, Some((rule_ref, Some(rule))), o.as_str(), now);
    }
    let mut ctx = Ctx::new(cfg, snap, Requirements::for_rule(rule, lead), now);
    let assigned = |rep: &RepId, pool: Option<PoolId>| Outcome::Assigned {
        rep: rep.clone(),
        pool,
    };

    // Existing relationships first: the account's owner, then the owner of this email's last lead.
    if let Some((account, owner)) = account_owner(cfg, lead)
        && let Some(rep) = ctx.single(
            StepKind::AccountOwner {
                account: account.to_owned(),
            },
            owner,
        )
    {
        return ctx.finish(
            rule_ref,
            assigned(&rep, None),
            LeadStatus::Assigned,
            Some(rep),
            None,
            None,
        );
    }
    if let Some(o) = sticky_owner(cfg, snap, now)
        && let Some(rep) = ctx.single(
            StepKind::Sticky {
                previous_lead: o.lead_id,
            },
            &o.rep,
        )
    {
        return ctx.finish(
            rule_ref,
            assigned(&rep, None),
            LeadStatus::Assigned,
            Some(rep),
            None,
            None,
        );
    }

    match rule.route_for(lead) {
        Route::Rep(r) => match ctx.single(StepKind::NamedRep, r) {
            Some(rep) => ctx.finish(
                rule_ref,
                assigned(&rep, None),
                LeadStatus::Assigned,
                Some(rep),
                None,
                None,
            ),
            None => {
                let pool = rep_queue(r);
                let reason = format!(
                    "rule `{}` names rep `{r}`, who cannot take leads now",
                    rule.name
                );
                ctx.finish(
                    rule_ref,
                    Outcome::Unassigned {
                        pool: pool.clone(),
                        reason,
                    },
                    LeadStatus::Unassigned,
                    None,
                    Some(pool),
                    None,
                )
            }
        },
        Route::Pool(first) => route_pool(ctx, rule_ref, first),
        Route::Outcome(_) => unreachable_outcome(cfg, rule, rule_ref.clone(), now),
    }
}

fn route_pool(mut ctx: Ctx<'_>, rule: RuleRef, first: &str) -> Plan {
    let cfg = ctx.cfg;
    // Pools already tried (a fallback chain is short, and the first pool needs no entry, so an
    // ordinary decision allocates nothing here).
    let mut visited: Vec<&str> = Vec::new();
    let mut fallen_back = false;
    let mut current = Some(first);
    while let Some(id) = current.take() {
        let Some(pool) = cfg.pool(id) else { break };
        if fallen_back {
            if id == first || visited.contains(&id) {
                break;
            }
            visited.push(id);
        }
        fallen_back = true;
        let snap = ctx.snap;
        let fresh;
        let state = match snap.pools.get(id) {
            Some(s) => s,
            None => {
                fresh = PoolState::new(id);
                &fresh
            }
        };
        let (candidates, mut picked) = if is_lazy(pool) {
            round_robin_lazy(pool, state, |i| ctx.member(pool, i))
        } else {
            let candidates: Vec<Candidate> = (0..pool.members.len())
                .map(|i| ctx.member(pool, i))
                .collect();
            let picked = pick(cfg, pool, &candidates, &snap.reps, state);
            (candidates, picked)
        };
        if pool.strategy == Strategy::Claim {
            ctx.steps.push(Step {
                kind: StepKind::Pool {
                    pool: id.to_owned(),
                    strategy: pool.strategy.as_str().into(),
                },
                candidates,
                picked: None,
                state: serde_json::Value::Null,
                note: Some("claim pool: the lead waits for a rep to claim it".into()),
            });
            return ctx.finish(
                rule,
                Outcome::AwaitingClaim {
                    pool: id.to_owned(),
                },
                LeadStatus::AwaitingClaim,
                None,
                Some(id.to_owned()),
                None,
            );
        }
        let note = picked
            .is_none()
            .then(|| "nobody in the pool is eligible".to_owned());
        ctx.steps.push(Step {
            kind: StepKind::Pool {
                pool: id.to_owned(),
                strategy: pool.strategy.as_str().into(),
            },
            candidates,
            picked: picked.as_ref().map(|p| p.rep.clone()),
            state: picked
                .as_mut()
                .map_or(serde_json::Value::Null, |p| p.audit.take()),
            note,
        });
        if let Some(p) = picked {
            let outcome = Outcome::Assigned {
                rep: p.rep.clone(),
                pool: Some(id.to_owned()),
            };
            return ctx.finish(
                rule,
                outcome,
                LeadStatus::Assigned,
                Some(p.rep),
                Some(id.to_owned()),
                Some(p.next),
            );
        }
        match &pool.fallback {
            Some(Target::Pool(next)) => current = Some(next.as_str()),
            Some(Target::Rep(r)) => {
                if let Some(rep) = ctx.single(
                    StepKind::FallbackRep {
                        from_pool: id.to_owned(),
                    },
                    r,
                ) {
                    let outcome = Outcome::Assigned {
                        rep: rep.clone(),
                        pool: Some(id.to_owned()),
                    };
                    return ctx.finish(
                        rule,
                        outcome,
                        LeadStatus::Assigned,
                        Some(rep),
                        Some(id.to_owned()),
                        None,
                    );
                }
            }
            None => {}
        }
    }
    let reason = unassigned_reason(&ctx.steps);
    ctx.finish(
        rule,
        Outcome::Unassigned {
            pool: first.to_owned(),
            reason,
        },
        LeadStatus::Unassigned,
        None,
        Some(first.to_owned()),
        None,
    )
}

/// Where a lead taken from its owner goes (SLA reassignment, escalation, an owner who went away).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reroute<'a> {
    /// Through this pool and its fallbacks, by the pool's strategy.
    Pool(&'a str),
    /// To the least-loaded eligible rep of the whole config; the lead stays filed under `pool`.
    AnyAvailable {
        /// The pool the lead belongs to.
        pool: &'a str,
    },
    /// To this rep if eligible, else waiting in the rep's own queue until they are.
    Rep(&'a str),
}

/// Decides where `lead` goes when it must leave its owner. Unlike [`decide`] there is no
/// account-owner or sticky step (the lead already had its owner); the matched rule's skill and
/// language requirements still apply, and nobody in `snap.excluded` (everyone who had or
/// declined it) is picked. Pure, like `decide`.
pub fn reroute(
    cfg: &RoutingConfig,
    lead: &Lead,
    snap: &Snapshot,
    now: DateTime<Utc>,
    to: Reroute<'_>,
) -> Plan {
    let (rule_ref, req) = match cfg.match_rule(lead) {
        Some((index, rule)) => (
            RuleRef {
                index,
                name: rule.name.clone(),
            },
            Requirements::for_rule(rule, lead),
        ),
        None => (
            RuleRef {
                index: cfg.rules.len(),
                name: "reassignment".into(),
            },
            Requirements::default(),
        ),
    };
    let mut ctx = Ctx::new(cfg, snap, req, now);
    match to {
        Reroute::Pool(pool) => route_pool(ctx, rule_ref, pool),
        Reroute::Rep(r) => match ctx.single(StepKind::Escalation, r) {
            Some(rep) => ctx.finish(
                rule_ref,
                Outcome::Assigned {
                    rep: rep.clone(),
                    pool: None,
                },
                LeadStatus::Assigned,
                Some(rep),
                None,
                None,
            ),
            None => {
                let queue = rep_queue(r);
                let reason = format!("escalation rep `{r}` cannot take leads now");
                ctx.finish(
                    rule_ref,
                    Outcome::Unassigned {
                        pool: queue.clone(),
                        reason,
                    },
                    LeadStatus::Unassigned,
                    None,
                    Some(queue),
                    None,
                )
            }
        },
        Reroute::AnyAvailable { pool } => {
            let candidates: Vec<Candidate> = cfg
                .reps
                .iter()
                .map(|r| ctx.candidate(&r.id, true))
                .collect();
            let picked = candidates
                .iter()
                .filter(|c| c.eligible)
                .min_by_key(|c| {
                    let s = snap.rep(&c.rep);
                    (s.open_leads, s.last_assigned_at)
                })
                .map(|c| c.rep.clone());
            ctx.steps.push(Step {
                kind: StepKind::AnyAvailable,
                candidates,
                picked: picked.clone(),
                state: serde_json::Value::Null,
                note: picked
                    .is_none()
                    .then(|| "nobody in the config is eligible".to_owned()),
            });
            match picked {
                Some(rep) => ctx.finish(
                    rule_ref,
                    Outcome::Assigned {
                        rep: rep.clone(),
                        pool: Some(pool.to_owned()),
                    },
                    LeadStatus::Assigned,
                    Some(rep),
                    Some(pool.to_owned()),
                    None,
                ),
                None => {
                    let reason = unassigned_reason(&ctx.steps);
                    ctx.finish(
                        rule_ref,
                        Outcome::Unassigned {
                            pool: pool.to_owned(),
                            reason,
                        },
                        LeadStatus::Unassigned,
                        None,
                        Some(pool.to_owned()),
                        None,
                    )
                }
            }
        }
    }
}

/// A short sentence naming why each candidate was out, for the `unassigned` status.
fn unassigned_reason(steps: &[Step]) -> String {
    let mut counts: Vec<(&'static str, usize)> = Vec::new();
    for c in steps.iter().flat_map(|s| &s.candidates) {
        for r in &c.reasons {
            let key = match r {
                crate::decision::Ineligible::Away => "away",
                crate::decision::Ineligible::OutOfOffice { .. } => "out of office",
                crate::decision::Ineligible::OutsideHours => "outside working hours",
                crate::decision::Ineligible::OverOpenCap { .. } => "at their open-lead cap",
                crate::decision::Ineligible::OverDailyCap { .. } => "at their daily cap",
                crate::decision::Ineligible::MissingSkill { .. } => "missing a required skill",
                crate::decision::Ineligible::OutsideTerritory { .. } => "outside the territory",
                crate::decision::Ineligible::DeclinedBefore => "declined it before",
                crate::decision::Ineligible::MissingLanguage { .. } => {
                    "not speaking a required language"
                }
            };
            match counts.iter_mut().find(|(k, _)| *k == key) {
                Some((_, n)) => *n += 1,
                None => counts.push((key, 1)),
            }
        }
    }
    if counts.is_empty() {
        return "no rep is eligible".into();
    }
    let parts: Vec<String> = counts.iter().map(|(k, n)| format!("{n} {k}")).collect();
    format!("no rep is eligible ({})", parts.join(", "))
}

/// The earlier lead with the same email or phone, assigned within the sticky window.
pub fn sticky_owner<'a>(
    cfg: &RoutingConfig,
    snap: &'a Snapshot,
    now: DateTime<Utc>,
) -> Option<&'a EmailOwner> {
    let days = cfg.settings.sticky_days;
    let o = snap.email_owner.as_ref()?;
    (days > 0 && now - o.at <= chrono::Duration::days(i64::from(days))).then_some(o)
}

/// The owner's counters after taking one more lead.
pub(crate) fn bump_rep(cfg: &RoutingConfig, mut s: RepState, now: DateTime<Utc>) -> RepState {
    let tz = cfg
        .rep(&s.rep)
        .map_or(cfg.settings.timezone, |r| r.timezone);
    let today = now.with_timezone(&tz).date_naive();
    s.assigned_today = s.assigned_on(today) + 1;
    s.day = Some(today);
    s.open_leads += 1;
    s.last_assigned_at = Some(now);
    s
}

fn no_rep_plan(
    cfg: &RoutingConfig,
    rule: Option<(RuleRef, Option<&Rule>)>,
    outcome: &str,
    now: DateTime<Utc>,
) -> Plan {
    let status = match outcome {
        "spam" => LeadStatus::Spam,
        "test" => LeadStatus::Test,
        _ => LeadStatus::Nurture,
    };
    let rule_ref = rule.map(|(r, _)| r).unwrap_or(RuleRef {
        index: 0,
        name: String::new(),
    });
    Plan {
        decision: Decision {
            decided_at: now,
            config_version: cfg.version.clone(),
            rule: rule_ref,
            required_skills: Vec::new(),
            required_languages: Vec::new(),
            steps: Vec::new(),
            outcome: Outcome::NoRep {
                outcome: outcome.to_owned(),
            },
            experiment: None,
        },
        status,
        owner: None,
        pool: None,
        rep: None,
        rotation: None,
        reason: None,
    }
}

fn unreachable_outcome(
    cfg: &RoutingConfig,
    rule: &Rule,
    rule_ref: RuleRef,
    now: DateTime<Utc>,
) -> Plan {
    let name = match rule.route {
        Route::Outcome(o) => o.as_str(),
        _ => "nurture",
    };
    no_rep_plan(cfg, Some((rule_ref, Some(rule))), name, now)
}
