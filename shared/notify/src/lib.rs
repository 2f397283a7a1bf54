//! leadrouter's notifier: a consumer of the outbound events queue that tells people and systems
//! about lead events, never in the routing path.
//!
//! The router, the sweeper and the API write a [`LeadEvent`] to the events queue after each lead
//! write. This crate takes them off that queue and, for the pool the lead is in, posts
//!
//! - a Slack-compatible incoming-webhook message (`{"text": ...}`), and
//! - a generic JSON webhook (the event itself), signed with HMAC-SHA256 ([`signature`]).
//!
//! A delivery that fails (a network error, a timeout, a non-2xx answer) is retried with
//! exponential backoff by making the message visible again later; after the queue's maximum
//! receives it lands in the events dead-letter queue. Because routing only ever *sends* to the
//! queue, a slow or failing webhook never delays or blocks routing.
//!
//! Modules: [`signature`] (sign and verify), [`message`] (what is posted), [`deliver`] (the HTTP
//! posts), [`consumer`] (the local loop and the per-message handling the Lambda shares).

pub mod consumer;
pub mod deliver;
pub mod message;
pub mod signature;

pub use consumer::{Backoff, handle, run};
pub use deliver::{DeliveryError, Notifier};
pub use leadrouter_domain::events::LeadEvent;
