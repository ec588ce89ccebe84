//! `SESSION_STORE=sqlite://PATH`: tower-sessions-sqlx-store's SQLite store for the records
//! (expired ones deleted every minute), plus, in the same database file:
//! - `signin_locks`: the cross-process refresh lock (a row per locked session, expiring);
//! - `signin_session_index`: the session index (`key`, `session_id`, `until`);
//! - `signin_used_ids`: the replay cache (`key`, `until`).
//!
//! Every write of an existing record — the auth code's conditional write and the session
//! layer's `save` — is an `UPDATE … WHERE id = ? AND expiry_date > now` on the store's own
//! table, with the record encoded exactly as the store encodes it (MessagePack of the
//! `Record`), so a record deleted by a sign-out, or expired, is never re-created.

use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use tower_sessions::{
    SessionStore,
    session::{Id, Record},
    session_store::{self, ExpiredDeletion},
};
use tower_sessions_sqlx_store::SqliteStore as RecordStore;

use super::{Release, lock_token, poll_until};
use crate::auth::{
    error::AuthError,
    refresh::RemoteLock,
    store::{SessionBackend, StoreError},
};
use crate::util::now;

/// The table tower-sessions-sqlx-store keeps records in (its default name).
const RECORDS: &str = "tower_sessions";

#[derive(Clone, Debug)]
pub struct SqliteStore {
    records: RecordStore,
    pool: SqlitePool,
}

/// How often [`watch_changes`] asks SQLite whether another connection committed: the longest a
/// sign-out written by another process sharing the file can go unseen by this one's cache.
pub const WATCH_EVERY: std::time::Duration = std::time::Duration::from_millis(20);

/// Keeps `cache` right when other processes share the file: a connection of its own asks
/// `PRAGMA data_version` every [`WATCH_EVERY`] — SQLite's own, cheap "has any other connection
/// committed since I last asked" — and empties the cache when one did (this process's own
/// writes, through its pool's connections, count too; the cache refills on the next
/// requests). While the database cannot be asked, the cache is emptied every time. Stops
/// when the cache is dropped.
pub async fn watch_changes(
    path: &str,
    cache: &std::sync::Arc<crate::auth::state_cache::StateCache>,
) -> Result<(), StoreError> {
    use sqlx::{ConnectOptions, Connection};
    let options = SqliteConnectOptions::new().filename(path);
    let mut conn = options
        .connect()
        .await
        .map_err(|e| StoreError(format!("cannot open the SQLite database: {e}")))?;
    async fn version(conn: &mut sqlx::SqliteConnection) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar::<_, i64>("pragma data_version")
            .fetch_one(conn)
            .await
    }
    let mut last = version(&mut conn).await.ok();
    let cache = std::sync::Arc::downgrade(cache);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(WATCH_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(cache) = cache.upgrade() else { break };
            let now = version(&mut conn).await.ok();
            if now.is_none() || now != last {
                cache.invalidate_all();
            }
            last = now;
        }
        let _ = conn.close().await;
    });
    Ok(())
}

/// `timeout`: how long a command may wait (`SESSION_STORE_TIMEOUT_SECS`).
pub async fn open(
    path: &str,
    timeout: std::time::Duration,
) -> Result<(SqliteStore, SqliteLock), StoreError> {
    // The database holds every session's tokens: create it owner-only before SQLite does
    // (SQLite gives its journal and WAL files the database file's permissions).
    let file = std::path::Path::new(path);
    if !path.starts_with(':') && !path.starts_with("file:") {
        let prepared = if file.exists() {
            crate::util::ensure_private(file)
        } else {
            crate::util::create_private(file).map(drop)
        };
        prepared
            .map_err(|e| StoreError(format!("cannot prepare the SQLite database {path}: {e}")))?;
    }
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
        .busy_timeout(timeout)
        // reads through a memory map and a larger page cache: a session read costs about the
        // same with 100 000 sessions stored as with 1 000 (benchmark row `growth_read`)
        .pragma("mmap_size", "268435456")
        .pragma("cache_size", "-16384");
    let pool = SqlitePoolOptions::new()
        .max_connections(8)
        .acquire_timeout(timeout)
        .connect_with(options)
        .await
        .map_err(|e| StoreError(format!("cannot open the SQLite database: {e}")))?;
    let records = RecordStore::new(pool.clone());
    records
        .migrate()
        .await
        .map_err(|e| StoreError(format!("cannot create the sessions table: {e}")))?;
    for table in [
        "create table if not exists signin_locks (key text primary key not null, token text not null, expires_at integer not null)",
        "create table if not exists signin_session_index (key text not null, session_id text not null, until integer not null, primary key (key, session_id))",
        "create table if not exists signin_used_ids (key text primary key not null, until integer not null)",
    ] {
        sqlx::query(table)
            .execute(&pool)
            .await
            .map_err(|e| StoreError(format!("cannot create the auth tables: {e}")))?;
    }
    let store = SqliteStore {
        records,
        pool: pool.clone(),
    };
    let cleaner = store.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            if let Err(e) = cleaner.delete_expired().await {
                tracing::warn!(error = %e, "could not delete expired sessions");
            }
        }
    });
    Ok((store, SqliteLock { pool }))
}

impl SqliteStore {
    /// Deletes expired records, index entries and replay entries.
    async fn delete_expired(&self) -> Result<(), StoreError> {
        self.records
            .delete_expired()
            .await
            .map_err(StoreError::new)?;
        let t = now();
        for query in [
            "delete from signin_session_index where until <= ?",
            "delete from signin_used_ids where until <= ?",
            "delete from signin_locks where expires_at < ?",
        ] {
            sqlx::query(query)
                .bind(t)
                .execute(&self.pool)
                .await
                .map_err(StoreError::new)?;
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl SessionStore for SqliteStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        self.records.create(record).await
    }
    /// Updates the record only if it still exists: one deleted meanwhile (a sign-out) or
    /// expired is not written back (the record store's own `save` is an upsert).
    async fn save(&self, record: &Record) -> session_store::Result<()> {
        Ok(self.save_existing(record).await.map(drop)?)
    }
    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        self.records.load(id).await
    }
    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.records.delete(id).await
    }
}

#[async_trait::async_trait]
impl SessionBackend for SqliteStore {
    async fn save_existing(&self, record: &Record) -> Result<bool, StoreError> {
        let data = rmp_serde::to_vec(record).map_err(StoreError::new)?;
        let done = sqlx::query(&format!(
            "update {RECORDS} set data = ?, expiry_date = ? where id = ? and expiry_date > ?"
        ))
        .bind(data)
        .bind(record.expiry_date)
        .bind(record.id.to_string())
        .bind(time::OffsetDateTime::now_utc())
        .execute(&self.pool)
        .await
        .map_err(StoreError::new)?;
        Ok(done.rows_affected() == 1)
    }

    async fn index_add(&self, keys: &[String], id: &Id, until: i64) -> Result<(), StoreError> {
        for key in keys {
            sqlx::query(
                "insert into signin_session_index (key, session_id, until) values (?, ?, ?) \
                 on conflict (key, session_id) do update set until = excluded.until",
            )
            .bind(key)
            .bind(id.to_string())
            .bind(until)
            .execute(&self.pool)
            .await
            .map_err(StoreError::new)?;
        }
        Ok(())
    }

    async fn index_remove(&self, keys: &[String], id: &Id) -> Result<(), StoreError> {
        for key in keys {
            sqlx::query("delete from signin_session_index where key = ? and session_id = ?")
                .bind(key)
                .bind(id.to_string())
                .execute(&self.pool)
                .await
                .map_err(StoreError::new)?;
        }
        Ok(())
    }

    async fn index_lookup(&self, key: &str) -> Result<Vec<Id>, StoreError> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "select session_id from signin_session_index where key = ? and until > ?",
        )
        .bind(key)
        .bind(now())
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::new)?;
        Ok(rows
            .into_iter()
            .filter_map(|(id,)| id.parse().ok())
            .collect())
    }

    async fn first_use(&self, key: &str, until: i64) -> Result<bool, StoreError> {
        // a new key, or one whose earlier use has expired; exactly one caller wins
        let done = sqlx::query(
            "insert into signin_used_ids (key, until) values (?1, ?2) \
             on conflict (key) do update set until = excluded.until where signin_used_ids.until <= ?3",
        )
        .bind(key)
        .bind(until)
        .bind(now())
        .execute(&self.pool)
        .await
        .map_err(StoreError::new)?;
        Ok(done.rows_affected() == 1)
    }

    async fn release_use(&self, key: &str) -> Result<(), StoreError> {
        sqlx::query("delete from signin_used_ids where key = ?")
            .bind(key)
            .execute(&self.pool)
            .await
            .map_err(StoreError::new)?;
        Ok(())
    }

    async fn count_sessions(&self) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(&format!(
            "select count(*) from {RECORDS} where expiry_date > ?"
        ))
        .bind(time::OffsetDateTime::now_utc())
        .fetch_one(&self.pool)
        .await
        .map_err(StoreError::new)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

/// The refresh lock: a row in `signin_locks`.
pub struct SqliteLock {
    pool: SqlitePool,
}

#[async_trait::async_trait]
impl RemoteLock for SqliteLock {
    async fn acquire(
        &self,
        key: &str,
        ttl: Duration,
        wait: Duration,
    ) -> Result<Option<Box<dyn Send + Sync>>, AuthError> {
        let token = lock_token();
        let got = poll_until(wait, || async {
            let t = now();
            // take over an expired lock, or insert a new one; exactly one writer wins
            let done = sqlx::query(
                "insert into signin_locks (key, token, expires_at) values (?1, ?2, ?3) \
                 on conflict(key) do update set token = excluded.token, expires_at = excluded.expires_at \
                 where signin_locks.expires_at < ?4",
            )
            .bind(key)
            .bind(&token)
            .bind(t + ttl.as_secs() as i64 + 1)
            .bind(t)
            .execute(&self.pool)
            .await
            .map_err(AuthError::store)?;
            Ok(done.rows_affected() == 1)
        })
        .await?;
        let (pool, key) = (self.pool.clone(), key.to_string());
        Ok(got.then(|| {
            Release::with(move || async move {
                sqlx::query("delete from signin_locks where key = ? and token = ?")
                    .bind(key)
                    .bind(token)
                    .execute(&pool)
                    .await
                    .map(drop)
                    .map_err(StoreError::new)
            })
        }))
    }
}
