//! Routing: who is eligible ([`eligibility`]), how a pool picks ([`strategy`]), and the whole
//! decision for a lead ([`decide`]). All pure; the engine does the I/O.

pub mod decide;
pub mod eligibility;
pub mod strategy;

pub use decide::{Plan, Reroute, Snapshot, decide, needs, phone_key, rep_queue, reroute};
pub use eligibility::{Requirements, ineligibility};
