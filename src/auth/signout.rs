//! Ending sessions: the person's own sign-out and the sign-outs a provider starts
//! (back-channel logout, Universal Logout).
//!
//! A session is ended under its lock (in-process and, with a shared store, across instances),
//! so it waits for a refresh or "touch" in flight and then deletes the record with the newest
//! tokens known; the refresh and touch writes are conditional (`save_existing`), so one that
//! races the delete anyway can never bring the record back. The tokens are then revoked at the
//! provider in the background — best effort, never holding up the sign-out.

use std::time::Duration;

use tower_sessions::session::Id;

use super::{
    error::AuthError,
    index::{self, Who},
    oidc::Tokens,
    refresh::SessionKeeper,
    session::SignedIn,
};

impl SessionKeeper {
    /// Ends session `id`: takes its lock (waiting at most for one provider call to finish),
    /// deletes the record and its index entries. Returns the signed-in state it held, with the
    /// newest tokens, for revocation and `id_token_hint`.
    pub async fn end_session(&self, id: &Id) -> Result<Option<SignedIn>, AuthError> {
        let wait = self.settings.oidc.http_timeout + Duration::from_secs(1);
        let guard = self.locks.lock(id, self.lock_ttl(), wait).await?;
        if guard.is_none() {
            // still safe: the holder's conditional write will find the record gone
            tracing::warn!("ending a session whose lock stayed busy");
        }
        let latest = self.store.load_signed_in(id).await?.map(|(_, s)| s);
        self.store.delete(id).await?;
        if let Some(s) = &latest
            && let Err(e) = index::remove(&self.store, id, s).await
        {
            tracing::warn!(error = %e, "could not remove a session from the index (dropped on next lookup)");
        }
        drop(guard);
        Ok(latest)
    }

    /// Ends every session of `who` (on every instance: the records are in the shared store).
    /// Returns the signed-in states that were ended.
    pub async fn end_sessions_of(&self, who: &Who) -> Result<Vec<SignedIn>, AuthError> {
        let mut ended = Vec::new();
        for (id, _) in index::sessions_of(&self.store, who).await? {
            if let Some(s) = self.end_session(&id).await? {
                ended.push(s);
            }
        }
        Ok(ended)
    }

    /// Revokes `tokens` at the provider in the background (see [`super::oidc::OidcClient::revoke`]).
    pub fn revoke_in_background(&self, tokens: Tokens) {
        let oidc = self.oidc.clone();
        tokio::spawn(async move {
            oidc.revoke(&tokens).await;
        });
    }
}
