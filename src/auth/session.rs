//! What lives in a session, and how it is read and written.
//!
//! A session record (in the tower-sessions store, keyed by the id in the cookie) holds at most
//! two entries:
//! - `oidc.pending`: the sign-ins started in this browser and not finished yet (state, nonce,
//!   PKCE verifier, return path; at most [`MAX_PENDING`], each valid [`PENDING_TTL`] seconds);
//! - `oidc.auth`: a [`SignedIn`] — the validated claims, the tokens, and the times the session
//!   rules need (signed in, last seen, last refreshed).
//!
//! Sign-in and sign-out go through the request's [`Session`] (tower-sessions saves it and sets
//! or removes the cookie). Refresh and the idle-timeout "touch" write the record straight to
//! the store under the session's lock (see [`super::refresh`]), re-reading it first, so a slow
//! request can never write stale tokens back over fresh ones.

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
    time::Duration,
};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tower_sessions::{
    Expiry, Session, SessionStore,
    session::{Id, Record},
    session_store,
};

use crate::util::{constant_time_eq, now, read, write};

use super::{
    error::AuthError,
    oidc::{PendingLogin, Verified},
    sealing::Sealer,
    state_cache::StateCache,
    store::SessionBackend,
};

pub const PENDING_KEY: &str = "oidc.pending";
pub const AUTH_KEY: &str = "oidc.auth";
/// Sign-ins that may be in flight at once in one browser (several tabs).
pub const MAX_PENDING: usize = 3;

/// A signed-in session.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SignedIn {
    pub verified: Verified,
    pub signed_in_at: i64,
    pub last_seen_at: i64,
    pub last_refreshed_at: Option<i64>,
    /// When the person last authenticated at the provider, and how (`auth_time`, `acr` of the
    /// ID token of the last sign-in or step-up). A refresh never changes them: it is not an
    /// authentication.
    #[serde(default)]
    pub authenticated_at: Option<i64>,
    #[serde(default)]
    pub acr: Option<String>,
}

impl SignedIn {
    pub fn new(verified: Verified) -> Self {
        let t = now();
        let (authenticated_at, acr) = authentication(&verified);
        Self {
            verified,
            signed_in_at: t,
            last_seen_at: t,
            last_refreshed_at: None,
            authenticated_at,
            acr,
        }
    }

    /// The same session after a step-up: same session times, the new sign-in's tokens, claims
    /// and authentication.
    pub fn stepped_up(&self, verified: Verified) -> Self {
        let (authenticated_at, acr) = authentication(&verified);
        Self {
            verified,
            signed_in_at: self.signed_in_at,
            last_seen_at: now(),
            last_refreshed_at: None,
            authenticated_at,
            acr,
        }
    }
}

/// `auth_time` and `acr` of a validated sign-in.
pub fn authentication(verified: &Verified) -> (Option<i64>, Option<String>) {
    (
        verified.claims.get("auth_time").and_then(Value::as_i64),
        verified
            .claims
            .get("acr")
            .and_then(Value::as_str)
            .map(str::to_string),
    )
}

/// Remembers a started sign-in (dropping expired ones and the oldest beyond the limit). A
/// session holding only started sign-ins lives no longer than `ttl` (cookie and store).
/// (A signed-in session asking for a step-up goes through `super::step_up` instead.)
pub async fn push_pending(
    session: &Session,
    pending: PendingLogin,
    ttl: Duration,
) -> Result<(), AuthError> {
    let list: Vec<PendingLogin> = session
        .get(PENDING_KEY)
        .await
        .map_err(AuthError::store)?
        .unwrap_or_default();
    session
        .insert(PENDING_KEY, pending_pushed(list, pending, ttl))
        .await
        .map_err(AuthError::store)?;
    expire_after(session, ttl);
    save_now(session).await
}

/// `list` with `pending` added, without expired ones, at most [`MAX_PENDING`] (the oldest go).
pub fn pending_pushed(
    mut list: Vec<PendingLogin>,
    pending: PendingLogin,
    ttl: Duration,
) -> Vec<PendingLogin> {
    let t = now();
    list.retain(|p| t - p.created_at < secs(ttl));
    list.push(pending);
    if list.len() > MAX_PENDING {
        let extra = list.len() - MAX_PENDING;
        list.drain(..extra);
    }
    list
}

/// Takes the sign-in with `state` out of `list` (dropping expired ones too); `None` when there
/// is none or it waited longer than `ttl`. States are compared in constant time.
pub fn pending_taken(
    list: &mut Vec<PendingLogin>,
    state: &str,
    ttl: Duration,
) -> Option<PendingLogin> {
    let t = now();
    let found = list
        .iter()
        .position(|p| constant_time_eq(p.state.expose().as_bytes(), state.as_bytes()));
    let taken = found.map(|i| list.remove(i));
    let ttl_secs = secs(ttl);
    list.retain(|p| t - p.created_at < ttl_secs);
    taken.filter(|p| t - p.created_at < ttl_secs)
}

/// The session (cookie and record) expires after `ttl` without use.
fn expire_after(session: &Session, ttl: Duration) {
    let ttl = time::Duration::try_from(ttl).unwrap_or(time::Duration::MINUTE);
    session.set_expiry(Some(Expiry::OnInactivity(ttl)));
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

/// Saves now, so a store failure becomes an error page instead of the session layer's 500 at
/// the end of the request; on failure the request's session is emptied (nothing half-written).
async fn save_now(session: &Session) -> Result<(), AuthError> {
    if let Err(e) = session.save().await {
        session.clear().await;
        return Err(AuthError::store(e));
    }
    Ok(())
}

/// Takes the pending sign-in whose state matches (each state is usable once; valid for
/// `ttl`).
pub async fn take_pending(
    session: &Session,
    state: &str,
    ttl: Duration,
) -> Result<Option<PendingLogin>, AuthError> {
    let Some(mut list) = session
        .get::<Vec<PendingLogin>>(PENDING_KEY)
        .await
        .map_err(AuthError::store)?
    else {
        return Ok(None);
    };
    let taken = pending_taken(&mut list, state, ttl);
    if list.is_empty() {
        session
            .remove_value(PENDING_KEY)
            .await
            .map_err(AuthError::store)?;
    } else {
        session
            .insert(PENDING_KEY, list)
            .await
            .map_err(AuthError::store)?;
        expire_after(session, ttl);
    }
    Ok(taken)
}

/// Completes a sign-in: a new session id (the old one is deleted from the store), the
/// pending sign-ins dropped, the signed-in state stored; from now on the session expires after
/// `idle_timeout` without use.
pub async fn establish(
    session: &Session,
    store: &SharedStore,
    signed_in: &SignedIn,
    idle_timeout: Duration,
) -> Result<(), AuthError> {
    session
        .remove_value(PENDING_KEY)
        .await
        .map_err(AuthError::store)?;
    expire_after(session, idle_timeout);
    session.cycle_id().await.map_err(AuthError::store)?;
    let sealed = store.1.encode(signed_in)?;
    session
        .insert_value(AUTH_KEY, sealed.clone())
        .await
        .map_err(AuthError::store)?;
    save_now(session).await?;
    // the first page reads this record: it finds it parsed already
    if let Some(id) = session.id() {
        store.1.remember(id, sealed, signed_in);
    }
    Ok(())
}

/// The signed-in state of this request's session, if any: from the cache of parsed states
/// when it has it (no store read), else read through the request's session and cached.
pub async fn current(
    session: &Session,
    store: &SharedStore,
) -> Result<Option<Arc<SignedIn>>, AuthError> {
    let Some(id) = session.id() else {
        return Ok(None);
    };
    if let Some(state) = store.2.get(&id) {
        return Ok(Some(state));
    }
    let generation = store.2.generation();
    let state = signed_in(session, store).await?;
    if let Some(s) = &state {
        store.2.fill(id, generation, s.clone());
    }
    Ok(state)
}

/// The signed-in state of this request's session, if any, as its record says.
///
/// The state is stored as one sealed string (cheap for the store to copy) and opened and
/// parsed at most once per change ([`StateCodec`]).
pub async fn signed_in(
    session: &Session,
    store: &SharedStore,
) -> Result<Option<Arc<SignedIn>>, AuthError> {
    let Some(value) = session
        .get_value(AUTH_KEY)
        .await
        .map_err(AuthError::store)?
    else {
        return Ok(None);
    };
    Ok(store.1.decode(session.id(), &value))
}

/// How a [`SignedIn`] is kept in a record: JSON, sealed (`super::sealing`) — and, so a
/// request costs a string comparison rather than a decryption and a parse, the parsed value
/// cached per session id while the stored text is unchanged. One per store.
pub struct StateCodec {
    sealer: Sealer,
    parsed: RwLock<HashMap<Id, (String, Arc<SignedIn>)>>,
}

/// Parsed states kept at most (the cache is emptied beyond).
const PARSED_MAX: usize = 50_000;

impl std::fmt::Debug for StateCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateCodec")
            .field("sealer", &self.sealer)
            .finish_non_exhaustive()
    }
}

impl StateCodec {
    pub fn new(sealer: Sealer) -> Self {
        Self {
            sealer,
            parsed: RwLock::new(HashMap::new()),
        }
    }

    fn encode(&self, signed_in: &SignedIn) -> Result<Value, AuthError> {
        serde_json::to_string(signed_in)
            .map(|json| Value::String(self.sealer.seal(&json)))
            .map_err(|e| AuthError::Internal(e.to_string()))
    }

    fn decode(&self, id: Option<Id>, value: &Value) -> Option<Arc<SignedIn>> {
        let Value::String(text) = value else {
            tracing::warn!("unreadable signed-in state; treating the session as signed out");
            return None;
        };
        if let Some(id) = id
            && let Some((cached, parsed)) = read(&self.parsed).get(&id)
            && cached == text
        {
            return Some(parsed.clone());
        }
        let Some(json) = self.sealer.open(text) else {
            // another key, tampered, or written unsealed: no session rather than an error
            tracing::warn!(
                "signed-in state that does not open with the session keys; treating the session as signed out"
            );
            return None;
        };
        let parsed = match serde_json::from_str::<SignedIn>(&json) {
            Ok(p) => Arc::new(p),
            Err(e) => {
                // a record from an incompatible version: signed out rather than an error
                tracing::warn!(error = %e, "unreadable signed-in state; treating the session as signed out");
                return None;
            }
        };
        if let Some(id) = id {
            let mut cache = write(&self.parsed);
            if cache.len() >= PARSED_MAX {
                cache.clear();
            }
            cache.insert(id, (text.clone(), parsed.clone()));
        }
        Some(parsed)
    }

    /// `value` was just written for session `id` as the encoding of `signed_in`: the next
    /// [`Self::decode`] of it is a comparison (a copy of the state costs less than opening
    /// and parsing it again).
    fn remember(&self, id: Id, value: Value, signed_in: &SignedIn) {
        let Value::String(text) = value else {
            return;
        };
        let mut cache = write(&self.parsed);
        if cache.len() >= PARSED_MAX {
            cache.clear();
        }
        cache.insert(id, (text, Arc::new(signed_in.clone())));
    }

    fn forget(&self, id: &Id) {
        write(&self.parsed).remove(id);
    }
}

/// Ends the session: data cleared, record deleted, cookie removed at the end of the request.
pub async fn end(session: &Session) -> Result<(), AuthError> {
    // (the codec's cached parse of this session is never read again: nothing is stored
    // under this id any more, and ids are not reused)
    session.flush().await.map_err(AuthError::store)
}

/// The session store, shared between the tower-sessions layer and the code that writes
/// records directly (refresh, touch, the session index), with the codec of the signed-in
/// state and the cache of parsed states (`super::state_cache`; the backend invalidates it on
/// every write). Cloning shares the same store.
#[derive(Clone, Debug)]
pub struct SharedStore(
    pub Arc<dyn SessionBackend>,
    pub Arc<StateCodec>,
    pub Arc<StateCache>,
);

#[async_trait::async_trait]
impl SessionStore for SharedStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        self.0.create(record).await
    }
    async fn save(&self, record: &Record) -> session_store::Result<()> {
        self.0.save(record).await
    }
    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        self.0.load(id).await
    }
    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.0.delete(id).await
    }
}

impl SharedStore {
    /// Reads the signed-in state straight from the store (not the request's cached copy).
    pub async fn load_signed_in(&self, id: &Id) -> Result<Option<(Record, SignedIn)>, AuthError> {
        let Some(record) = self.0.load(id).await.map_err(AuthError::store)? else {
            return Ok(None);
        };
        let parsed = record
            .data
            .get(AUTH_KEY)
            .and_then(|v| self.1.decode(Some(*id), v));
        Ok(parsed.map(|p| (record, SignedIn::clone(&p))))
    }

    /// Writes the signed-in state into `record` and saves it with a new expiry date — only if
    /// the record still exists: `Ok(false)` when it was deleted meanwhile (signed out), and
    /// nothing was written.
    pub async fn save_signed_in(
        &self,
        mut record: Record,
        signed_in: &SignedIn,
        expiry_date: time::OffsetDateTime,
    ) -> Result<bool, AuthError> {
        let sealed = self.1.encode(signed_in)?;
        record.data.insert(AUTH_KEY.to_string(), sealed.clone());
        record.expiry_date = expiry_date;
        let id = record.id;
        let saved = self
            .0
            .save_existing(&record)
            .await
            .map_err(AuthError::store)?;
        if saved {
            self.1.remember(id, sealed, signed_in);
        } else {
            self.1.forget(&id);
        }
        Ok(saved)
    }

    /// Deletes the record of session `id` (whatever it holds).
    pub async fn delete(&self, id: &Id) -> Result<(), AuthError> {
        self.1.forget(id);
        self.0.delete(id).await.map_err(AuthError::store)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What was just written is found parsed: the same `Arc`, no opening; another text for
    /// the same session is opened (and a text that does not open is no session).
    #[test]
    fn a_written_state_is_remembered_parsed() {
        let codec = StateCodec::new(Sealer::new(&[[7; 32]]).unwrap());
        let id = Id::default();
        let state = crate::auth::state_cache::tests::state();
        let sealed = codec.encode(&state).unwrap();
        codec.remember(id, sealed.clone(), &state);
        let first = codec.decode(Some(id), &sealed).unwrap();
        assert!(Arc::ptr_eq(
            &first,
            &codec.decode(Some(id), &sealed).unwrap()
        ));
        assert_eq!(first.verified.user.sub, state.verified.user.sub);

        let other = codec.encode(&state).unwrap();
        assert_ne!(other, sealed, "sealing is randomised");
        let opened = codec.decode(Some(id), &other).unwrap();
        assert!(!Arc::ptr_eq(&first, &opened));
        assert!(
            codec
                .decode(Some(id), &Value::String("v1.x.y".into()))
                .is_none()
        );
    }
    use crate::secret::Secret;
    use tower_sessions::MemoryStore;

    const TTL: Duration = Duration::from_secs(600);

    fn pending(state: &str, age: i64) -> PendingLogin {
        PendingLogin {
            state: Secret::new(state),
            nonce: Secret::new("n"),
            pkce_verifier: Secret::new("v"),
            return_to: format!("/{state}"),
            created_at: now() - age,
            ask: Default::default(),
            provider: String::new(),
        }
    }

    #[tokio::test]
    async fn pending_logins_are_single_use_and_capped() {
        let session = Session::new(None, Arc::new(MemoryStore::default()), None);
        for s in ["a", "b", "c", "d"] {
            push_pending(&session, pending(s, 0), TTL).await.unwrap();
        }
        assert!(
            take_pending(&session, "a", TTL).await.unwrap().is_none(),
            "oldest dropped"
        );
        assert_eq!(
            take_pending(&session, "c", TTL)
                .await
                .unwrap()
                .unwrap()
                .return_to,
            "/c"
        );
        assert!(
            take_pending(&session, "c", TTL).await.unwrap().is_none(),
            "used once"
        );
        assert!(take_pending(&session, "x", TTL).await.unwrap().is_none());
        assert!(take_pending(&session, "", TTL).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn expired_pending_login_is_refused() {
        let session = Session::new(None, Arc::new(MemoryStore::default()), None);
        push_pending(&session, pending("old", 601), TTL)
            .await
            .unwrap();
        assert!(take_pending(&session, "old", TTL).await.unwrap().is_none());
    }
}
