//! `SESSION_STORE=memory`: sessions in a [moka](https://docs.rs/moka) concurrent cache in this
//! process (at most [`CAPACITY`] sessions, each expiring at its record's expiry date), the
//! session index and the replay cache in maps beside it.
//!
//! Why not tower-sessions-moka-store: its cache is private, and the auth code needs a write
//! that happens only while the record still exists ([`SessionBackend::save_existing`]), which
//! needs moka's per-key atomic `and_compute_with`. Deletes go through the same per-key
//! operation, so a conditional write and a delete of one session are strictly ordered. The
//! record handling itself is the same as that crate's (same expiry policy).

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use moka::{Expiry, future::Cache, notification::RemovalCause, ops::compute::Op};
use time::OffsetDateTime;
use tower_sessions::{
    SessionStore,
    session::{Id, Record},
    session_store,
};

use crate::auth::{
    state_cache::StateCache,
    store::{SessionBackend, StoreError},
};
use crate::util::{lock, now};

/// Sessions kept before the least used are evicted.
pub const CAPACITY: u64 = 100_000;
/// Index keys and replay entries kept before expired ones are swept (at most once a minute).
const SWEEP_AT: usize = 10_000;
const SWEEP_EVERY: Duration = Duration::from_secs(60);

#[derive(Debug)]
pub struct MemoryStore {
    cache: Cache<Id, Record>,
    /// key → (session id → until)
    index: Mutex<HashMap<String, HashMap<Id, i64>>>,
    /// replay key → until
    used: Mutex<HashMap<String, i64>>,
    last_sweep: Mutex<Instant>,
}

struct RecordExpiry;

impl RecordExpiry {
    fn remaining(record: &Record) -> Duration {
        let left = record.expiry_date - OffsetDateTime::now_utc();
        if left.is_positive() {
            left.unsigned_abs()
        } else {
            Duration::ZERO
        }
    }
}

impl Expiry<Id, Record> for RecordExpiry {
    fn expire_after_create(&self, _: &Id, record: &Record, _: Instant) -> Option<Duration> {
        Some(Self::remaining(record))
    }
    fn expire_after_update(
        &self,
        _: &Id,
        record: &Record,
        _: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        Some(Self::remaining(record))
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new(CAPACITY)
    }
}

impl MemoryStore {
    pub fn new(capacity: u64) -> Self {
        Self::with_listener(capacity, None)
    }

    /// The store, telling `states` of every record it drops by itself (over capacity, or
    /// expired), so no parsed state outlives its record (`crate::auth::state_cache`).
    pub fn evicting_into(capacity: u64, states: &std::sync::Arc<StateCache>) -> Self {
        Self::with_listener(capacity, Some(std::sync::Arc::downgrade(states)))
    }

    fn with_listener(capacity: u64, states: Option<std::sync::Weak<StateCache>>) -> Self {
        let mut builder = Cache::builder()
            .max_capacity(capacity)
            .expire_after(RecordExpiry);
        if let Some(states) = states {
            builder = builder.eviction_listener(move |id: std::sync::Arc<Id>, _, cause| {
                if matches!(cause, RemovalCause::Size | RemovalCause::Expired)
                    && let Some(states) = states.upgrade()
                {
                    states.invalidate(&id);
                }
            });
        }
        Self {
            cache: builder.build(),
            index: Mutex::default(),
            used: Mutex::default(),
            last_sweep: Mutex::new(Instant::now()),
        }
    }

    /// Whether the maps of `len` entries are due for a sweep of expired entries (then the
    /// sweep is counted as done).
    fn sweep_due(&self, len: usize) -> bool {
        if len < SWEEP_AT {
            return false;
        }
        let mut last = lock(&self.last_sweep);
        if last.elapsed() < SWEEP_EVERY {
            return false;
        }
        *last = Instant::now();
        true
    }

    /// Sessions held now (for tests of store growth).
    pub async fn len(&self) -> u64 {
        self.cache.run_pending_tasks().await;
        self.cache.entry_count()
    }

    pub async fn is_empty(&self) -> bool {
        self.len().await == 0
    }
}

#[async_trait::async_trait]
impl SessionStore for MemoryStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        loop {
            let candidate = record.clone();
            let result = self
                .cache
                .entry(record.id)
                .and_compute_with(|existing| async move {
                    match existing {
                        None => Op::Put(candidate),
                        Some(_) => Op::Nop,
                    }
                })
                .await;
            if matches!(result, moka::ops::compute::CompResult::Inserted(_)) {
                return Ok(());
            }
            record.id = Id::default(); // taken (astronomically unlikely): another id
        }
    }

    /// Updates the record only if it still exists: one deleted meanwhile (a sign-out) or
    /// expired is not written back.
    async fn save(&self, record: &Record) -> session_store::Result<()> {
        Ok(self.save_existing(record).await.map(drop)?)
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        Ok(self.cache.get(id).await)
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.cache
            .entry(*id)
            .and_compute_with(|_| async { Op::Remove })
            .await;
        Ok(())
    }
}

#[async_trait::async_trait]
impl SessionBackend for MemoryStore {
    async fn save_existing(&self, record: &Record) -> Result<bool, StoreError> {
        let record = record.clone();
        let result = self
            .cache
            .entry(record.id)
            .and_compute_with(|existing| async move {
                match existing {
                    Some(_) => Op::Put(record),
                    None => Op::Nop,
                }
            })
            .await;
        Ok(matches!(
            result,
            moka::ops::compute::CompResult::ReplacedWith(_)
        ))
    }

    async fn index_add(&self, keys: &[String], id: &Id, until: i64) -> Result<(), StoreError> {
        let mut index = lock(&self.index);
        if self.sweep_due(index.len()) {
            let t = now();
            index.retain(|_, ids| {
                ids.retain(|_, u| *u > t);
                !ids.is_empty()
            });
        }
        for key in keys {
            index.entry(key.clone()).or_default().insert(*id, until);
        }
        Ok(())
    }

    async fn index_remove(&self, keys: &[String], id: &Id) -> Result<(), StoreError> {
        let mut index = lock(&self.index);
        for key in keys {
            if let Some(ids) = index.get_mut(key) {
                ids.remove(id);
                if ids.is_empty() {
                    index.remove(key);
                }
            }
        }
        Ok(())
    }

    async fn index_lookup(&self, key: &str) -> Result<Vec<Id>, StoreError> {
        let t = now();
        Ok(lock(&self.index)
            .get(key)
            .map(|ids| {
                ids.iter()
                    .filter(|(_, u)| **u > t)
                    .map(|(id, _)| *id)
                    .collect()
            })
            .unwrap_or_default())
    }

    async fn first_use(&self, key: &str, until: i64) -> Result<bool, StoreError> {
        let t = now();
        let mut used = lock(&self.used);
        if self.sweep_due(used.len()) {
            used.retain(|_, u| *u > t);
        }
        match used.get(key) {
            Some(u) if *u > t => Ok(false),
            _ => {
                used.insert(key.to_string(), until);
                Ok(true)
            }
        }
    }

    async fn release_use(&self, key: &str) -> Result<(), StoreError> {
        lock(&self.used).remove(key);
        Ok(())
    }

    async fn count_sessions(&self) -> Result<u64, StoreError> {
        Ok(self.len().await)
    }
}
