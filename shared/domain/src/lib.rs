//! leadrouter's routing core.
pub mod decision;
pub mod ports;
pub mod record;
pub mod state;
