//! leadrouter's routing core.
pub mod config;
pub mod config_store;
#[cfg(feature = "contract")]
pub mod contract;
pub mod decision;
pub mod engine;
pub mod events;
pub mod experiment;
pub mod intake;
pub mod ports;
pub mod record;
pub mod routing;
pub mod rules;
pub mod simulate;
pub mod sla;
pub mod state;
pub mod worker;
