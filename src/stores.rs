//! Session stores and the cross-instance session lock.
//!
//! - `memory`: tower-sessions-moka-store (a concurrent cache; records expire with the session,
//!   at most 100 000 sessions). Chosen over tower-sessions' `MemoryStore`, whose single async
//!   mutex serialized every request under load (see the benchmark in the README).
//! - `sqlite://PATH`: tower-sessions-sqlx-store's SQLite store (expired records deleted every
//!   minute); the lock is a row in a `signin_locks` table of the same database, so several
//!   processes sharing the file also refresh one at a time.
//! - `redis://HOST:PORT`: tower-sessions-redis-store (records expire with the session); the
//!   lock is `SET key token NX PX ttl`, released with a compare-and-delete script.
//!
//! Both locks expire by themselves, so a crashed holder cannot block a session forever. Store
//! commands have short timeouts: when the store is down, requests fail fast (public pages
//! keep working, pages that need the session answer 503) and recover when it is back.

use std::{sync::Arc, time::Duration};

use fred::prelude::{
    Builder, ClientLike, Config, Expiration, KeysInterface, LuaInterface, Pool, ReconnectPolicy,
    SetOptions,
};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use tower_sessions::session_store::ExpiredDeletion;
use tower_sessions_moka_store::MokaStore;
use tower_sessions_redis_store::RedisStore;
use tower_sessions_sqlx_store::SqliteStore;

use crate::{
    auth::{
        error::AuthError,
        oidc::now,
        refresh::{RemoteLock, SessionLocks},
        session::SharedStore,
    },
    settings::StoreKind,
};

/// Sessions the in-memory store keeps before evicting the least used.
const MEMORY_CAPACITY: u64 = 100_000;
/// How long a store command may take before the request gives up.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(2);
/// Poll interval while waiting for a lock held elsewhere.
const LOCK_POLL: Duration = Duration::from_millis(20);

pub async fn build(kind: &StoreKind) -> Result<(SharedStore, SessionLocks), String> {
    match kind {
        StoreKind::Memory => Ok((
            SharedStore(Arc::new(MokaStore::new(Some(MEMORY_CAPACITY)))),
            SessionLocks::new(None),
        )),
        StoreKind::Sqlite(path) => sqlite(path).await,
        StoreKind::Redis(url) => redis(url).await,
    }
}

async fn sqlite(path: &str) -> Result<(SharedStore, SessionLocks), String> {
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
        .busy_timeout(COMMAND_TIMEOUT);
    let pool = SqlitePoolOptions::new()
        .max_connections(8)
        .acquire_timeout(COMMAND_TIMEOUT)
        .connect_with(options)
        .await
        .map_err(|e| format!("cannot open the SQLite database: {e}"))?;
    let store = SqliteStore::new(pool.clone());
    store
        .migrate()
        .await
        .map_err(|e| format!("cannot create the sessions table: {e}"))?;
    sqlx::query("create table if not exists signin_locks (key text primary key not null, token text not null, expires_at integer not null)")
        .execute(&pool)
        .await
        .map_err(|e| format!("cannot create the locks table: {e}"))?;
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
    Ok((
        SharedStore(Arc::new(store)),
        SessionLocks::new(Some(Arc::new(SqliteLock { pool }))),
    ))
}

async fn redis(url: &str) -> Result<(SharedStore, SessionLocks), String> {
    let config = Config::from_url(url).map_err(|e| format!("invalid redis URL: {e}"))?;
    let pool = Builder::from_config(config)
        .with_connection_config(|c| {
            c.connection_timeout = COMMAND_TIMEOUT;
            c.internal_command_timeout = COMMAND_TIMEOUT;
            c.max_command_attempts = 1;
        })
        .with_performance_config(|p| {
            p.default_command_timeout = COMMAND_TIMEOUT;
        })
        .set_policy(ReconnectPolicy::new_exponential(0, 100, 2000, 2))
        .build_pool(4)
        .map_err(|e| format!("cannot configure the redis client: {e}"))?;
    match tokio::time::timeout(COMMAND_TIMEOUT * 2, pool.init()).await {
        Ok(Ok(_task)) => {}
        Ok(Err(e)) => return Err(format!("cannot connect: {e}")),
        Err(_) => return Err("cannot connect: timed out".into()),
    }
    let store = RedisStore::new(pool.clone());
    Ok((
        SharedStore(Arc::new(store)),
        SessionLocks::new(Some(Arc::new(RedisLock { pool }))),
    ))
}

fn lock_token() -> String {
    use rand::RngCore;
    let mut b = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Waits for `try_once` to succeed, polling, for at most `wait`.
async fn poll_until<F, Fut>(wait: Duration, mut try_once: F) -> Result<bool, AuthError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<bool, AuthError>>,
{
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        if try_once().await? {
            return Ok(true);
        }
        if tokio::time::Instant::now() >= deadline {
            return Ok(false);
        }
        tokio::time::sleep(LOCK_POLL).await;
    }
}

struct RedisLock {
    pool: Pool,
}

const RELEASE: &str = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

/// A held lock: releases it when dropped (in the background; if that fails the lock expires
/// on its own).
struct Release(Option<Box<dyn FnOnce() + Send + Sync>>);

impl Release {
    fn with<F, Fut>(release: F) -> Box<dyn Send + Sync>
    where
        F: FnOnce() -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<(), String>> + Send + 'static,
    {
        Box::new(Release(Some(Box::new(move || {
            tokio::spawn(async move {
                if let Err(e) = release().await {
                    tracing::warn!(error = %e, "could not release a session lock (it will expire)");
                }
            });
        }))))
    }
}

impl Drop for Release {
    fn drop(&mut self) {
        if let Some(release) = self.0.take() {
            release();
        }
    }
}

#[async_trait::async_trait]
impl RemoteLock for RedisLock {
    async fn acquire(
        &self,
        key: &str,
        ttl: Duration,
        wait: Duration,
    ) -> Result<Option<Box<dyn Send + Sync>>, AuthError> {
        let token = lock_token();
        let got = poll_until(wait, || async {
            let set: Option<String> = self
                .pool
                .set(
                    key,
                    token.as_str(),
                    Some(Expiration::PX(ttl.as_millis() as i64)),
                    Some(SetOptions::NX),
                    false,
                )
                .await
                .map_err(AuthError::store)?;
            Ok(set.is_some())
        })
        .await?;
        let (pool, key) = (self.pool.clone(), key.to_string());
        Ok(got.then(|| {
            // only if still ours
            Release::with(move || async move {
                let released: Result<i64, _> = pool.eval(RELEASE, vec![key], vec![token]).await;
                released.map(drop).map_err(|e| e.to_string())
            })
        }))
    }
}

struct SqliteLock {
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
                    .map_err(|e| e.to_string())
            })
        }))
    }
}
