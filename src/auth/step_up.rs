//! Step-up for a session that is already signed in: starting a sign-in that asks for a recent
//! or stronger authentication, and taking its result into the same session.
//!
//! A signed-in session's record is shared with refreshes of other requests and instances, so
//! here every change is written like a refresh: under the session's lock, after re-reading
//! the record, only while it exists, and never through the request's copy (the session layer
//! would write that copy back at the end of the request, over tokens a refresh rotated
//! meanwhile). The request's session then reads the record again.
//!
//! When the same person (`sub`) signs in again the session goes on — its lifetime, its open
//! tabs (which reconnect) — under a new id, as after any raise in privilege: a copy of the old
//! cookie gets nothing of the stronger sign-in. Its tokens, claims and authentication
//! (`auth_time`, `acr`) are the new sign-in's, and the old tokens are revoked. A different
//! person signing in at a step-up ends the old session first (see `api`).

use std::{sync::Arc, time::Duration};

use serde_json::Value;
use tower_sessions::{
    Session,
    session::{Id, Record},
};

use super::{
    error::AuthError,
    index,
    oidc::{PendingLogin, Verified},
    refresh::{SessionKeeper, SessionLockGuard},
    session::{PENDING_KEY, SignedIn, pending_pushed, pending_taken},
};

/// How long a step-up waits for the session's lock (a refresh holding it finishes sooner).
const LOCK_WAIT: Duration = Duration::from_secs(10);

impl SessionKeeper {
    /// The session's lock, or "the session is busy" (shown as sessions unavailable).
    async fn step_up_lock(&self, id: &Id) -> Result<SessionLockGuard, AuthError> {
        let wait = LOCK_WAIT.min(
            self.settings
                .limits
                .request_timeout
                .saturating_sub(Duration::from_secs(2)),
        );
        self.locks
            .lock(id, self.lock_ttl(), wait)
            .await?
            .ok_or_else(|| AuthError::store("the session stayed locked"))
    }

    /// Remembers a step-up sign-in started by the signed-in session of `session`. `Ok(false)`:
    /// the session ended meanwhile.
    pub async fn push_step_up(
        &self,
        session: &Session,
        pending: PendingLogin,
    ) -> Result<bool, AuthError> {
        let id = session_id(session)?;
        let ttl = self.settings.session.pending_timeout;
        let _guard = self.step_up_lock(&id).await?;
        let Some(mut record) = self.store.0.load(&id).await.map_err(AuthError::store)? else {
            return Ok(false);
        };
        let list = pending_pushed(pending_list(&record), pending, ttl);
        set_pending(&mut record, list)?;
        let written = self.store.0.save_existing(&record).await?;
        session.load().await.map_err(AuthError::store)?;
        Ok(written)
    }

    /// Takes the started sign-in with `state` out of the signed-in session of `session`
    /// (each state is usable once).
    pub async fn take_step_up(
        &self,
        session: &Session,
        state: &str,
    ) -> Result<Option<PendingLogin>, AuthError> {
        let id = session_id(session)?;
        let ttl = self.settings.session.pending_timeout;
        let _guard = self.step_up_lock(&id).await?;
        let Some(mut record) = self.store.0.load(&id).await.map_err(AuthError::store)? else {
            return Ok(None);
        };
        let mut list = pending_list(&record);
        if list.is_empty() {
            return Ok(None);
        }
        let taken = pending_taken(&mut list, state, ttl);
        set_pending(&mut record, list)?;
        let written = self.store.0.save_existing(&record).await?;
        session.load().await.map_err(AuthError::store)?;
        Ok(taken.filter(|_| written))
    }

    /// Takes the step-up sign-in `verified` (of the session's own person) into the signed-in
    /// session of `session`, under a new id: the same session lifetime, the new tokens,
    /// claims and authentication. A copy of the old cookie is worth nothing from now on (the
    /// old record is deleted), the session's open tabs reconnect with the new cookie
    /// ([`super::events::EventHub::retire`]), and the replaced tokens are revoked. On any
    /// failure the new tokens are revoked: they belong to no session.
    pub async fn complete_step_up(
        self: &Arc<Self>,
        session: &Session,
        verified: Verified,
    ) -> Result<Arc<SignedIn>, AuthError> {
        let fresh = verified.clone();
        match self.renew_for_step_up(session, verified).await {
            Ok((old, next)) => {
                self.revoke_in_background(&old.verified);
                tracing::info!(sub = %next.verified.user.sub, "stepped up");
                Ok(next)
            }
            Err(e) => {
                self.revoke_in_background(&fresh);
                Err(e)
            }
        }
    }

    /// The renewal itself: `Ok((the state replaced, the new state))`.
    async fn renew_for_step_up(
        self: &Arc<Self>,
        session: &Session,
        verified: Verified,
    ) -> Result<(SignedIn, Arc<SignedIn>), AuthError> {
        let old_id = session_id(session)?;
        let guard = self.step_up_lock(&old_id).await?;
        let latest = match self.store.load_signed_in(&old_id).await? {
            Some((_, latest)) if latest.verified.user.sub == verified.user.sub => latest,
            _ => {
                // signed out (or someone else) while the provider asked
                drop(guard);
                end_quietly(session).await;
                return Err(AuthError::SessionEnded(
                    "the session ended during its step-up",
                ));
            }
        };
        let next = latest.stepped_up(verified);
        // tabs first, so none of them hears the old record vanish as "signed out"
        self.events.retire(&old_id);
        session.load().await.map_err(AuthError::store)?;
        // a new id (the old record deleted), the new state, pending sign-ins dropped
        super::session::establish(
            session,
            &self.store,
            &next,
            self.settings.session.idle_timeout,
        )
        .await?;
        drop(guard);
        let id = session_id(session)?;
        if let Err(e) = index::add(&self.store, &id, &next, self.absolute_end(&next)).await {
            // not findable for a provider-initiated sign-out: not signed in at all
            end_quietly(session).await;
            return Err(e);
        }
        Ok((latest, Arc::new(next)))
    }
}

/// Ends the request's session; a store failure here changes nothing for the person (the
/// record is gone already).
async fn end_quietly(session: &Session) {
    if let Err(e) = super::session::end(session).await {
        tracing::warn!(error = %e, "could not clear an ended session");
    }
}

fn session_id(session: &Session) -> Result<Id, AuthError> {
    session
        .id()
        .ok_or_else(|| AuthError::Internal("a signed-in session without an id".into()))
}

/// The started sign-ins in `record` (none when unreadable).
fn pending_list(record: &Record) -> Vec<PendingLogin> {
    record
        .data
        .get(PENDING_KEY)
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default()
}

fn set_pending(record: &mut Record, list: Vec<PendingLogin>) -> Result<(), AuthError> {
    if list.is_empty() {
        record.data.remove(PENDING_KEY);
    } else {
        let value: Value =
            serde_json::to_value(list).map_err(|e| AuthError::Internal(e.to_string()))?;
        record.data.insert(PENDING_KEY.to_string(), value);
    }
    Ok(())
}
