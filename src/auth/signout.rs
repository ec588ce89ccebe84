//! Ending sessions: the person's own sign-out and the sign-outs a provider starts
//! (back-channel logout, Universal Logout).
//!
//! A session is ended under its lock (in-process and, with a shared store, across instances),
//! so it waits for a refresh or "touch" in flight and then deletes the record with the newest
//! tokens known; the refresh and touch writes are conditional (`save_existing`), so one that
//! races the delete anyway can never bring the record back. The tokens are then revoked at the
//! provider in the background — best effort, never holding up the sign-out.

use tower_sessions::session::Id;

use super::{
    error::AuthError,
    events::Notice,
    index::{self, Who},
    oidc::Verified,
    refresh::SessionKeeper,
    session::SignedIn,
    types::EndReason,
};

/// The `kind` label of `signin_sign_outs_total` (`crate::metrics`).
pub(super) fn metric_kind(why: EndReason) -> &'static str {
    match why {
        EndReason::SignedOut => "user",
        EndReason::Provider => "provider",
        EndReason::Expired => "expired",
        EndReason::RefreshFailed => "refresh_refused",
    }
}

impl SessionKeeper {
    /// Ends session `id`: takes its lock (waiting for a refresh in flight, at most the lock's
    /// lifetime), deletes the record and its index entries, and tells the session's open tabs
    /// `why` (`super::events`). Returns the signed-in state it held, with the newest tokens,
    /// for revocation and `id_token_hint`.
    pub async fn end_session(
        &self,
        id: &Id,
        why: EndReason,
    ) -> Result<Option<SignedIn>, AuthError> {
        self.end_session_if(id, why, |_| true).await
    }

    /// [`Self::end_session`], but only when `still` holds for the record as read under the
    /// lock (`Ok(None)` and nothing deleted otherwise): a session's watcher ending it for
    /// time must not end one a request has just used.
    pub async fn end_session_if(
        &self,
        id: &Id,
        why: EndReason,
        still: impl Fn(&SignedIn) -> bool,
    ) -> Result<Option<SignedIn>, AuthError> {
        let guard = self
            .locks
            .lock(id, self.lock_ttl(), self.lock_ttl())
            .await?;
        if guard.is_none() {
            // still safe: the holder's conditional write will find the record gone
            tracing::warn!("ending a session whose lock stayed busy");
        }
        let latest = self.store.load_signed_in(id).await?.map(|(_, s)| s);
        if latest.as_ref().is_some_and(|s| !still(s)) {
            return Ok(None);
        }
        self.store.delete(id).await?;
        if let Some(s) = &latest
            && let Err(e) = index::remove(&self.store, id, s).await
        {
            tracing::warn!(error = %e, "could not remove a session from the index (dropped on next lookup)");
        }
        drop(guard);
        if latest.is_some() {
            self.metrics.sign_out(metric_kind(why));
            self.events.publish(id, Notice::Ended(why));
        }
        Ok(latest)
    }

    /// Ends every session of `who` (on every instance: the records are in the shared store)
    /// for which `also` holds. Returns the signed-in states that were ended, and the first
    /// error when some could not be (the others are ended all the same).
    pub async fn end_sessions_of(
        &self,
        who: &Who,
        also: impl Fn(&SignedIn) -> bool,
    ) -> (Vec<SignedIn>, Option<AuthError>) {
        let found = match index::sessions_of(&self.store, who).await {
            Ok(found) => found,
            Err(e) => return (Vec::new(), Some(e)),
        };
        let mut ended = Vec::new();
        let mut failed = None;
        for (id, s) in found {
            if !also(&s) {
                continue;
            }
            match self.end_session(&id, EndReason::Provider).await {
                Ok(Some(s)) => ended.push(s),
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "could not end a session");
                    failed.get_or_insert(e);
                }
            }
        }
        (ended, failed)
    }

    /// Revokes a sign-in's tokens in the background at the provider that issued them (see
    /// [`super::oidc::OidcClient::revoke`]); nothing when that provider is no longer configured.
    pub fn revoke_in_background(&self, verified: &Verified) {
        let Some(oidc) = self.providers.of(verified).cloned() else {
            return;
        };
        let tokens = verified.tokens.clone();
        tokio::spawn(async move {
            oidc.revoke(&tokens).await;
        });
    }
}
