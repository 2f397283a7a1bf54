//! The canonical lead.
mod lead;
pub use lead::Lead;
