//! Mapping SQLite and decoding failures onto the port's [`StoreError`].

use leadrouter_domain::ports::StoreError;
use rusqlite::ErrorCode;

/// Maps a SQLite error, with what we were doing, to a [`StoreError`].
///
/// `SQLITE_BUSY`/`SQLITE_LOCKED` mean another connection (another process on the same file) held
/// the lock for longer than `busy_timeout`: load, not failure, so the caller retries later.
pub(crate) fn sql(context: &str, e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
            StoreError::Throttled(format!("{context}: {e}"))
        }
        _ => StoreError::Unavailable(format!("{context}: {e}")),
    }
}

/// Adds context to rusqlite results: `conn.execute(..).ctx("insert lead")?`.
pub(crate) trait SqlContext<T> {
    /// Maps the error with [`sql`].
    fn ctx(self, context: &str) -> Result<T, StoreError>;
}

impl<T> SqlContext<T> for Result<T, rusqlite::Error> {
    fn ctx(self, context: &str) -> Result<T, StoreError> {
        self.map_err(|e| sql(context, e))
    }
}

/// A stored JSON blob that does not decode. The reason names the position, never the content
/// (items hold personal data).
pub(crate) fn corrupt(key: impl Into<String>, e: &serde_json::Error) -> StoreError {
    StoreError::Corrupt {
        key: key.into(),
        reason: format!(
            "undecodable JSON ({:?} error at line {} column {})",
            e.classify(),
            e.line(),
            e.column()
        ),
    }
}

/// A value we could not encode (never expected: every stored type serializes).
pub(crate) fn encode(key: impl Into<String>, e: &serde_json::Error) -> StoreError {
    StoreError::Unavailable(format!("cannot encode {}: {e}", key.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_and_locked_are_throttled() {
        for code in [rusqlite::ffi::SQLITE_BUSY, rusqlite::ffi::SQLITE_LOCKED] {
            let e = rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), None);
            assert!(
                matches!(sql("commit", e), StoreError::Throttled(m) if m.starts_with("commit"))
            );
        }
    }

    #[test]
    fn other_failures_are_unavailable() {
        let e = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_IOERR),
            Some("disk I/O error".into()),
        );
        assert!(matches!(sql("get lead", e), StoreError::Unavailable(m) if m.contains("get lead")));
    }

    #[test]
    fn corrupt_names_the_key_not_the_content() {
        let e = serde_json::from_str::<serde_json::Value>("{\"email\": \"ada@exa")
            .err()
            .map(|e| corrupt("lead/1", &e));
        match e {
            Some(StoreError::Corrupt { key, reason }) => {
                assert_eq!(key, "lead/1");
                assert!(!reason.contains("ada@"), "{reason}");
            }
            other => panic!("expected Corrupt, got {other:?}"),
        }
    }
}
