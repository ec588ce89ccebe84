//! What the auth code needs from a session store beyond tower-sessions' [`SessionStore`]
//! (load, save, create, delete), implemented for every store in `crate::stores`:
//!
//! - **conditional writes** — [`SessionBackend::save_existing`] writes a record only while it
//!   still exists, so a refresh or "touch" that loaded a record just before a sign-out deleted
//!   it can never write it back (tower-sessions' `save` is an upsert);
//! - **the session index** — every session of a person, found by `(iss, sub)`, by the
//!   provider's session id `sid` or by email without scanning all sessions (provider-initiated
//!   sign-out). Entries may outlive their session (expiry, a changed email): readers check each
//!   session they find, and drop entries whose session is gone;
//! - **a replay cache** — [`SessionBackend::first_use`] remembers a token id (`jti`) until it
//!   expires, shared by every instance using the store.

use tower_sessions::{
    SessionStore,
    session::{Id, Record},
};

/// A store failure (the store is down, or answered something unreadable).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StoreError(pub String);

impl StoreError {
    pub fn new(e: impl std::fmt::Display) -> Self {
        StoreError(e.to_string())
    }
}

/// For the stores' `SessionStore` methods written on top of the auth code's writes.
impl From<StoreError> for tower_sessions::session_store::Error {
    fn from(e: StoreError) -> Self {
        Self::Backend(e.0)
    }
}

/// A session store as the auth code uses it. Implementations must be safe to share between
/// instances of the app where the store is shared (SQLite file, Redis).
#[async_trait::async_trait]
pub trait SessionBackend: SessionStore {
    /// Saves `record` only if a record with its id exists now; `false` when there is none (it
    /// was deleted or expired) and nothing was written. Atomic in the store.
    async fn save_existing(&self, record: &Record) -> Result<bool, StoreError>;

    /// Adds session `id` under each of `keys`, until `until` (Unix seconds).
    async fn index_add(&self, keys: &[String], id: &Id, until: i64) -> Result<(), StoreError>;

    /// Removes session `id` from each of `keys`.
    async fn index_remove(&self, keys: &[String], id: &Id) -> Result<(), StoreError>;

    /// The sessions indexed under `key` (possibly some that have ended since).
    async fn index_lookup(&self, key: &str) -> Result<Vec<Id>, StoreError>;

    /// Records `key` as used until `until` (Unix seconds). `true` the first time; `false` when
    /// it was recorded before and has not expired (a replay).
    async fn first_use(&self, key: &str, until: i64) -> Result<bool, StoreError>;

    /// Forgets a recorded use of `key` (the request it belonged to could not be carried out,
    /// so the sender may retry it).
    async fn release_use(&self, key: &str) -> Result<(), StoreError>;

    /// Session records held now, not counting expired ones (for `/metrics`; may scan, so
    /// called per scrape, never per request).
    async fn count_sessions(&self) -> Result<u64, StoreError>;
}
