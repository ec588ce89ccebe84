//! The signed-in states of recent sessions, parsed and shared as `Arc`s, so a request with a
//! session costs a map lookup rather than a store read, a record copy and a comparison of the
//! sealed state (`super::session::StateCodec`).
//!
//! Correct only while this process learns of every change to a record, which the store says
//! ([`Coherence`]):
//! - `memory`: every write goes through this process ([`Coherence::SoleWriter`]);
//! - `sqlite://`: this process's writes, plus a watcher that asks SQLite every
//!   [`crate::stores::sqlite::WATCH_EVERY`] whether another process committed anything
//!   (`PRAGMA data_version`) and empties the cache when one did ([`Coherence::Watched`]);
//! - `redis://`: records are read on a connection with RESP3 client tracking, so Redis tells
//!   this process when any of them changes (whoever changed it) and the entry is dropped
//!   ([`Coherence::Tracked`], `crate::stores::redis`); while that connection is down or
//!   reconnecting nothing is cached, a reconnect empties the cache, and an entry is trusted
//!   at most [`TRACKED_TTL`], which bounds a partition nobody noticed.
//!
//! Every write and delete of a record through [`super::session::SharedStore`] calls
//! [`StateCache::invalidate`] after it is done. A read that missed fills the cache only if no
//! invalidation happened since it started ([`StateCache::generation`]): a request that loaded
//! a record just before a sign-out deleted it can never put the old state back.

use std::{
    collections::HashMap,
    sync::{
        Arc, RwLock,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use tower_sessions::{
    SessionStore,
    session::{Id, Record},
    session_store,
};

use super::{
    session::SignedIn,
    store::{SessionBackend, StoreError},
};
use crate::util::{read, write};

/// How far this process can trust what it cached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Coherence {
    /// Only this process writes the store.
    SoleWriter,
    /// Other processes may write; a watcher calls [`StateCache::invalidate_all`] on any change.
    Watched,
    /// Other processes may write; the store tells of each change, and entries expire after
    /// [`TRACKED_TTL`] in case a message was lost.
    Tracked,
    /// Nothing is cached.
    None,
}

/// How long a [`Coherence::Tracked`] entry is trusted without a word from the store.
pub const TRACKED_TTL: Duration = Duration::from_secs(2);

/// States kept at most (emptied beyond, then refilled by the next requests).
const MAX: usize = 100_000;

#[derive(Debug)]
pub struct StateCache {
    /// Off for [`Coherence::None`], and while a tracked store's connection is not tracking.
    enabled: AtomicBool,
    /// How long an entry is trusted ([`Coherence::Tracked`]).
    ttl: Option<Duration>,
    inner: RwLock<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Moves on every invalidation.
    generation: u64,
    states: HashMap<Id, (Arc<SignedIn>, Instant)>,
}

impl StateCache {
    pub fn new(coherence: Coherence) -> Self {
        Self {
            // a tracked store turns it on once its connection tracks
            enabled: AtomicBool::new(matches!(
                coherence,
                Coherence::SoleWriter | Coherence::Watched
            )),
            ttl: (coherence == Coherence::Tracked).then_some(TRACKED_TTL),
            inner: RwLock::default(),
        }
    }

    /// Whether entries may be used and made (a tracked store turns this off while its
    /// tracking connection is down, and on again once it tracks; either way the cache is
    /// emptied).
    pub fn set_enabled(&self, on: bool) {
        self.enabled.store(on, Ordering::SeqCst);
        self.invalidate_all();
    }

    fn on(&self) -> bool {
        self.enabled.load(Ordering::Acquire)
    }

    /// The cached state of session `id`.
    pub fn get(&self, id: &Id) -> Option<Arc<SignedIn>> {
        if !self.on() {
            return None;
        }
        let inner = read(&self.inner);
        let (state, at) = inner.states.get(id)?;
        if self.ttl.is_some_and(|ttl| at.elapsed() >= ttl) {
            return None;
        }
        Some(state.clone())
    }

    /// Taken before a store read whose result may go into the cache ([`Self::fill`]).
    pub fn generation(&self) -> u64 {
        read(&self.inner).generation
    }

    /// Caches `state` for `id`, read from the store after [`Self::generation`] was
    /// `generation`, unless something was invalidated since.
    pub fn fill(&self, id: Id, generation: u64, state: Arc<SignedIn>) {
        if !self.on() {
            return;
        }
        let mut inner = write(&self.inner);
        if inner.generation != generation {
            return;
        }
        if inner.states.len() >= MAX {
            inner.states.clear();
        }
        inner.states.insert(id, (state, Instant::now()));
    }

    /// The record of `id` changed or is gone.
    pub fn invalidate(&self, id: &Id) {
        let mut inner = write(&self.inner);
        inner.generation = inner.generation.wrapping_add(1);
        inner.states.remove(id);
    }

    /// Some records changed, which is not known.
    pub fn invalidate_all(&self) {
        let mut inner = write(&self.inner);
        inner.generation = inner.generation.wrapping_add(1);
        inner.states.clear();
    }
}

/// A store whose every record write and delete invalidates the cache once it is done (so
/// every path that writes a record — the session layer, refresh, touch, step-up, sign-out —
/// keeps it right without knowing of it).
#[derive(Debug)]
pub struct Invalidating {
    pub inner: Arc<dyn SessionBackend>,
    pub cache: Arc<StateCache>,
}

#[async_trait::async_trait]
impl SessionStore for Invalidating {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        let done = self.inner.create(record).await;
        self.cache.invalidate(&record.id);
        done
    }
    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let done = self.inner.save(record).await;
        self.cache.invalidate(&record.id);
        done
    }
    /// A record found missing (evicted, expired, or deleted by a path this process did not
    /// see) also drops a cached state: sign-out and provider sign-outs load the record first,
    /// so none of them can leave a session alive in the cache.
    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let loaded = self.inner.load(id).await;
        if matches!(loaded, Ok(None)) && self.cache.get(id).is_some() {
            self.cache.invalidate(id);
        }
        loaded
    }
    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        let done = self.inner.delete(id).await;
        self.cache.invalidate(id);
        done
    }
}

#[async_trait::async_trait]
impl SessionBackend for Invalidating {
    async fn save_existing(&self, record: &Record) -> Result<bool, StoreError> {
        let done = self.inner.save_existing(record).await;
        self.cache.invalidate(&record.id);
        done
    }
    async fn index_add(&self, keys: &[String], id: &Id, until: i64) -> Result<(), StoreError> {
        self.inner.index_add(keys, id, until).await
    }
    async fn index_remove(&self, keys: &[String], id: &Id) -> Result<(), StoreError> {
        self.inner.index_remove(keys, id).await
    }
    async fn index_lookup(&self, key: &str) -> Result<Vec<Id>, StoreError> {
        self.inner.index_lookup(key).await
    }
    async fn first_use(&self, key: &str, until: i64) -> Result<bool, StoreError> {
        self.inner.first_use(key, until).await
    }
    async fn release_use(&self, key: &str) -> Result<(), StoreError> {
        self.inner.release_use(key).await
    }
    async fn count_sessions(&self) -> Result<u64, StoreError> {
        self.inner.count_sessions().await
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::{auth::oidc::Verified, secret::Secret};

    /// A signed-in state (also for `super::super::session`'s tests).
    pub(crate) fn state() -> Arc<SignedIn> {
        let serde_json::Value::Object(claims) = serde_json::json!({"sub": "alice"}) else {
            unreachable!()
        };
        Arc::new(SignedIn::new(Verified {
            user: crate::auth::oidc::user_from_claims(&claims),
            claims,
            tokens: crate::auth::oidc::Tokens {
                access_token: Secret::new("a"),
                access_expires_at: None,
                access_expires_at_ms: None,
                access_lifetime_ms: None,
                refresh_token: None,
                id_token: Secret::new("i"),
                dpop_bound: false,
            },
            id_token_expires_at: 0,
            userinfo_stale: false,
            provider: String::new(),
        }))
    }

    #[test]
    fn a_fill_racing_an_invalidation_is_dropped() {
        let cache = StateCache::new(Coherence::SoleWriter);
        let id = Id::default();
        let before = cache.generation();
        cache.invalidate(&id); // a sign-out between the read and the fill
        cache.fill(id, before, state());
        assert!(cache.get(&id).is_none());
        let now = cache.generation();
        cache.fill(id, now, state());
        assert!(cache.get(&id).is_some());
        cache.invalidate(&id);
        assert!(cache.get(&id).is_none());
    }

    #[test]
    fn nothing_is_cached_without_coherence() {
        let cache = StateCache::new(Coherence::None);
        let id = Id::default();
        cache.fill(id, cache.generation(), state());
        assert!(cache.get(&id).is_none());
    }

    #[test]
    fn tracked_entries_expire_and_go_while_tracking_is_off() {
        let cache = StateCache {
            // long enough that a descheduled test thread does not see it expire early
            ttl: Some(Duration::from_millis(500)),
            ..StateCache::new(Coherence::Tracked)
        };
        let id = Id::default();
        cache.fill(id, cache.generation(), state());
        assert!(cache.get(&id).is_none(), "off until the store tracks");
        cache.set_enabled(true);
        cache.fill(id, cache.generation(), state());
        assert!(cache.get(&id).is_some());
        std::thread::sleep(Duration::from_millis(600));
        assert!(cache.get(&id).is_none(), "expired");
        cache.fill(id, cache.generation(), state());
        cache.set_enabled(false);
        assert!(cache.get(&id).is_none());
        cache.fill(id, cache.generation(), state());
        assert!(cache.get(&id).is_none(), "not filled while off");
        let before = cache.generation();
        cache.set_enabled(true);
        cache.fill(id, before, state());
        assert!(
            cache.get(&id).is_none(),
            "a read from before tracking resumed"
        );
    }

    /// A record the store lost without this process writing it (the memory store evicting
    /// it, an expiry) takes the cached state with it as soon as anything reads it — as
    /// sign-out and provider sign-outs do first.
    #[tokio::test]
    async fn a_missing_record_drops_the_cached_state() {
        let cache = Arc::new(StateCache::new(Coherence::SoleWriter));
        let inner: Arc<dyn SessionBackend> =
            Arc::new(crate::stores::memory::MemoryStore::default());
        let store = Invalidating {
            inner: inner.clone(),
            cache: cache.clone(),
        };
        let id = Id::default();
        cache.fill(id, cache.generation(), state());
        assert!(SessionStore::load(&store, &id).await.unwrap().is_none());
        assert!(cache.get(&id).is_none());
    }

    /// The memory store tells the cache of every record it drops by itself (here: over
    /// capacity), so no cached state outlives its record.
    #[tokio::test]
    async fn memory_evictions_reach_the_cache() {
        use crate::stores::memory::MemoryStore;
        let cache = Arc::new(StateCache::new(Coherence::SoleWriter));
        let memory = MemoryStore::evicting_into(4, &cache);
        let mut ids = vec![];
        for _ in 0..40 {
            let mut record = Record {
                id: Id::default(),
                data: Default::default(),
                expiry_date: time::OffsetDateTime::now_utc() + time::Duration::hours(1),
            };
            SessionStore::create(&memory, &mut record).await.unwrap();
            cache.fill(record.id, cache.generation(), state());
            ids.push(record.id);
        }
        assert!(memory.len().await <= 4, "over capacity: evicted");
        let mut kept = 0;
        for id in &ids {
            let stored = SessionStore::load(&memory, id).await.unwrap().is_some();
            if cache.get(id).is_some() {
                kept += 1;
                assert!(stored, "a cached state whose record was evicted");
            }
        }
        assert!(kept <= 4);
    }

    #[test]
    fn invalidate_all_empties_it() {
        let cache = StateCache::new(Coherence::Watched);
        let (a, b) = (Id::default(), Id::default());
        for id in [a, b] {
            cache.fill(id, cache.generation(), state());
        }
        cache.invalidate_all();
        assert!(cache.get(&a).is_none() && cache.get(&b).is_none());
    }
}
