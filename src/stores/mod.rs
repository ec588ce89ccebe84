//! Session stores: tower-sessions stores from the crate registry for the records, with what
//! the auth code needs beyond them ([`SessionBackend`]: conditional writes, the session index,
//! the replay cache) and the cross-instance refresh lock.
//!
//! - `memory` ([`memory`]): a moka cache in this process (at most 100 000 sessions);
//! - `sqlite://PATH` ([`sqlite`]): tower-sessions-sqlx-store, plus tables of our own in the
//!   same file, so several processes sharing it cooperate;
//! - `redis://HOST:PORT` ([`redis`]): tower-sessions-redis-store, plus keys under `signin:`.
//!
//! Both shared locks expire by themselves, so a crashed holder cannot block a session forever.
//! Store commands have short timeouts: when the store is down, requests fail fast (public
//! pages keep working, pages that need the session answer 503) and recover when it is back.

pub mod memory;
pub mod redis;
pub mod sqlite;

use std::{sync::Arc, time::Duration};

use crate::{
    auth::{
        error::AuthError,
        refresh::SessionLocks,
        sealing::Sealer,
        session::{SharedStore, StateCodec},
        state_cache::{Coherence, Invalidating, StateCache},
        store::{SessionBackend, StoreError},
    },
    settings::{SessionSettings, StoreKind},
};

/// Connects the session-event relay between instances where the store is shared and can carry
/// one (Redis pub/sub); memory and SQLite need none (SQLite shared by several processes is
/// caught up by the session watchers' heartbeat re-read, `crate::auth::watch`).
pub async fn connect_relay(
    session: &SessionSettings,
    hub: Arc<crate::auth::events::EventHub>,
) -> Result<(), StoreError> {
    match &session.store {
        StoreKind::Redis(url) => redis::relay(url, session.store_timeout, hub).await,
        StoreKind::Memory | StoreKind::Sqlite(_) => Ok(()),
    }
}

/// Poll interval while waiting for a lock held elsewhere.
const LOCK_POLL: Duration = Duration::from_millis(20);

/// The store `SESSION_STORE` names, with the lock that goes with it and the key that seals
/// what it keeps (`crate::auth::sealing`).
pub async fn build(session: &SessionSettings) -> Result<(SharedStore, SessionLocks), StoreError> {
    let (backend, locks, cache): (Arc<dyn SessionBackend>, SessionLocks, Arc<StateCache>) =
        match &session.store {
            StoreKind::Memory => {
                let cache = Arc::new(StateCache::new(Coherence::SoleWriter));
                (
                    Arc::new(memory::MemoryStore::evicting_into(memory::CAPACITY, &cache)),
                    SessionLocks::new(None),
                    cache,
                )
            }
            StoreKind::Sqlite(path) => {
                let (store, lock) = sqlite::open(path, session.store_timeout).await?;
                let cache = Arc::new(StateCache::new(Coherence::Watched));
                sqlite::watch_changes(path, &cache).await?;
                (
                    Arc::new(store),
                    SessionLocks::new(Some(Arc::new(lock))),
                    cache,
                )
            }
            StoreKind::Redis(url) => {
                let cache = Arc::new(StateCache::new(Coherence::Tracked));
                let (store, lock) = redis::connect(url, session.store_timeout, &cache).await?;
                (
                    Arc::new(store),
                    SessionLocks::new(Some(Arc::new(lock))),
                    cache,
                )
            }
        };
    let backend = Arc::new(Invalidating {
        inner: backend,
        cache: cache.clone(),
    });
    let sealer = Sealer::from_settings(session).map_err(StoreError)?;
    Ok((
        SharedStore(backend, Arc::new(StateCodec::new(sealer)), cache),
        locks,
    ))
}

fn lock_token() -> String {
    use rand::RngCore;
    let mut b = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut b);
    crate::util::hex(&b)
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

/// A held lock: releases it when dropped (in the background; if that fails the lock expires
/// on its own).
struct Release(Option<Box<dyn FnOnce() + Send + Sync>>);

impl Release {
    fn with<F, Fut>(release: F) -> Box<dyn Send + Sync>
    where
        F: FnOnce() -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<(), StoreError>> + Send + 'static,
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
