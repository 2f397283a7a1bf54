//! Validation problems: what was wrong with which field.

use serde::{Deserialize, Serialize};
use std::fmt;

/// One problem with one field of a submission.
///
/// `problem` never contains the submitted value (it may be personal data), so problems are safe
/// to log and to return to the submitter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldProblem {
    /// The canonical field name (`email`, `seats`, ...), the submitted key for keys that are
    /// not canonical, `custom` for the custom map as a whole, or `body` for the body itself.
    pub field: String,
    /// What is wrong, in a short lowercase phrase (`not a valid email address`).
    pub problem: String,
}

impl FieldProblem {
    /// A problem with `field`.
    pub fn new(field: impl Into<String>, problem: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            problem: problem.into(),
        }
    }
}

impl fmt::Display for FieldProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.problem)
    }
}

/// A submission could not be normalized into a lead; lists every problem found, not just the
/// first one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("invalid lead: {}", join(.problems))]
pub struct ValidationError {
    /// Every problem found, in field order.
    pub problems: Vec<FieldProblem>,
}

impl ValidationError {
    /// An error with the given problems.
    pub fn new(problems: Vec<FieldProblem>) -> Self {
        Self { problems }
    }

    /// Whether any problem concerns `field`.
    pub fn has(&self, field: &str) -> bool {
        self.problems.iter().any(|p| p.field == field)
    }
}

fn join(problems: &[FieldProblem]) -> String {
    let parts: Vec<String> = problems.iter().map(ToString::to_string).collect();
    parts.join("; ")
}
