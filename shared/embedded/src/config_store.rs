//! The `ConfigStore` port on SQLite: `config_versions` (one row per pushed version) and
//! `config_head` (the current version), moved together in one transaction (a savepoint of the
//! database thread's group).

use async_trait::async_trait;
use leadrouter_domain::config_store::{
    ConfigDoc, ConfigMeta, ConfigStore, MAX_HISTORY, PutOutcome,
};
use leadrouter_domain::ports::StoreError;
use rusqlite::{Connection, OptionalExtension, params};

use crate::EmbeddedStore;
use crate::error::{SqlContext, corrupt, encode};

fn key(version: u64) -> String {
    format!("config/v{version}")
}

fn to_sql(version: u64) -> Result<i64, StoreError> {
    i64::try_from(version).map_err(|_| StoreError::InvalidArgument {
        what: "config version",
        reason: format!("{version} is out of range"),
    })
}

fn from_sql(version: i64) -> Result<u64, StoreError> {
    u64::try_from(version).map_err(|_| StoreError::Corrupt {
        key: "config/head".into(),
        reason: format!("negative version {version}"),
    })
}

fn head(conn: &Connection) -> Result<Option<u64>, StoreError> {
    let v: Option<i64> = conn
        .prepare_cached("SELECT version FROM config_head WHERE id = 1")
        .ctx("prepare config head")?
        .query_row([], |r| r.get(0))
        .optional()
        .ctx("config head")?;
    v.map(from_sql).transpose()
}

fn decode_meta(version: i64, meta: &str) -> Result<ConfigMeta, StoreError> {
    let v = from_sql(version)?;
    let mut m: ConfigMeta = serde_json::from_str(meta).map_err(|e| corrupt(key(v), &e))?;
    m.version = v; // the key is authoritative
    Ok(m)
}

fn put(
    conn: &mut Connection,
    doc: &ConfigDoc,
    expected: Option<u64>,
) -> Result<PutOutcome, StoreError> {
    let tx = crate::db::Savepoint::begin(conn).ctx("begin config put")?;
    let current = head(&tx)?;
    if current != expected {
        return Ok(PutOutcome::Conflict { current });
    }
    let version = expected
        .unwrap_or(0)
        .checked_add(1)
        .ok_or_else(|| StoreError::Unavailable("config version overflow".into()))?;
    let mut meta = doc.meta.clone();
    meta.version = version;
    let meta = serde_json::to_string(&meta).map_err(|e| encode(key(version), &e))?;
    tx.prepare_cached(
        "INSERT INTO config_versions (version, meta, format, source) VALUES (?1, ?2, ?3, ?4)",
    )
    .ctx("prepare insert config")?
    .execute(params![to_sql(version)?, meta, doc.format, doc.source])
    .ctx("insert config")?;
    tx.prepare_cached(
        "INSERT INTO config_head (id, version) VALUES (1, ?1)
         ON CONFLICT (id) DO UPDATE SET version = excluded.version",
    )
    .ctx("prepare config head")?
    .execute([to_sql(version)?])
    .ctx("move config head")?;
    tx.commit().ctx("commit config put")?;
    Ok(PutOutcome::Stored { version })
}

#[async_trait]
impl ConfigStore for EmbeddedStore {
    async fn put(
        &self,
        doc: &ConfigDoc,
        expected_current: Option<u64>,
    ) -> Result<PutOutcome, StoreError> {
        doc.check_size()?;
        let doc = doc.clone();
        self.db()
            .run("config put", move |conn| put(conn, &doc, expected_current))
            .await
    }

    async fn current_version(&self) -> Result<Option<u64>, StoreError> {
        self.db().run("config head", |conn| head(conn)).await
    }

    async fn get(&self, version: u64) -> Result<Option<ConfigDoc>, StoreError> {
        let Ok(v) = i64::try_from(version) else {
            return Ok(None);
        };
        self.db()
            .run("config get", move |conn| {
                let row: Option<(String, String, String)> = conn
                    .prepare_cached(
                        "SELECT meta, format, source FROM config_versions WHERE version = ?1",
                    )
                    .ctx("prepare config get")?
                    .query_row([v], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                    .optional()
                    .ctx("config get")?;
                row.map(|(meta, format, source)| {
                    Ok(ConfigDoc {
                        meta: decode_meta(v, &meta)?,
                        format,
                        source,
                    })
                })
                .transpose()
            })
            .await
    }

    async fn history(&self, limit: usize) -> Result<Vec<ConfigMeta>, StoreError> {
        let limit = if limit == 0 {
            MAX_HISTORY
        } else {
            limit.min(MAX_HISTORY)
        } as i64;
        self.db()
            .run("config history", move |conn| {
                let mut stmt = conn
                    .prepare_cached(
                        "SELECT version, meta FROM config_versions ORDER BY version DESC LIMIT ?1",
                    )
                    .ctx("prepare config history")?;
                let rows = stmt
                    .query_map([limit], |r| {
                        Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
                    })
                    .ctx("config history")?;
                let mut out = Vec::new();
                for row in rows {
                    let (v, meta) = row.ctx("config history row")?;
                    out.push(decode_meta(v, &meta)?);
                }
                Ok(out)
            })
            .await
    }
}
