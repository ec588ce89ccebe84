//! The session keeper: turns a request's session into "who is signed in", enforcing the
//! session rules and keeping tokens fresh.
//!
//! For every request (see [`super::middleware`]) it
//! 1. ends the session when the absolute lifetime or the idle timeout has passed;
//! 2. refreshes the access token when it expires within the configured margin — **single
//!    flight**: the session's lock (in-process, plus a lock in the shared store when there is
//!    one) lets exactly one request call the provider; the others wait, then re-read the record
//!    from the store and use the tokens the winner saved. The new refresh token is saved before
//!    anything uses it; a response without one keeps the old one;
//! 3. ends the session cleanly on `invalid_grant`, a changed `sub` or an ID token that fails
//!    validation; keeps serving on the current access token while the provider is unreachable,
//!    retrying with exponential backoff, and reports "provider unavailable" once it has expired;
//! 4. "touches" the session (last seen, store expiry) at most every 1/24 of the idle timeout.
//!
//! Refresh and touch write the record straight to the store under the lock after re-reading
//! it, never through the request's cached copy, so no request can write stale tokens back.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, Weak},
    time::{Duration, Instant},
};

use tower_sessions::{Session, session::Id};

use super::{
    error::AuthError,
    events::{EventHub, Notice},
    index,
    oidc::Providers,
    session::{self, SharedStore, SignedIn},
    types::EndReason,
};
use crate::{
    metrics::{Metrics, ProviderLatency},
    settings::Settings,
    util::{lock, now, now_ms},
};

/// A lock on one session, held while its record is read, changed and written back.
pub struct SessionLockGuard {
    _local: tokio::sync::OwnedMutexGuard<()>,
    _remote: Option<Box<dyn Send + Sync>>,
}

/// A lock in the shared session store (for several instances). Implementations must expire
/// the lock by themselves so a crashed holder cannot block a session forever.
#[async_trait::async_trait]
pub trait RemoteLock: Send + Sync {
    /// Waits up to `wait` for the lock; `Ok(None)` when it could not be had in time. The
    /// returned guard releases the lock when dropped.
    async fn acquire(
        &self,
        key: &str,
        ttl: Duration,
        wait: Duration,
    ) -> Result<Option<Box<dyn Send + Sync>>, AuthError>;
}

/// Per-session locks: an in-process mutex, then the store's lock when configured.
#[derive(Default)]
pub struct SessionLocks {
    local: Mutex<HashMap<Id, Weak<tokio::sync::Mutex<()>>>>,
    remote: Option<Arc<dyn RemoteLock>>,
}

impl SessionLocks {
    pub fn new(remote: Option<Arc<dyn RemoteLock>>) -> Self {
        Self {
            local: Mutex::default(),
            remote,
        }
    }

    /// `Ok(None)`: the remote lock could not be had within `wait`.
    pub async fn lock(
        &self,
        id: &Id,
        ttl: Duration,
        wait: Duration,
    ) -> Result<Option<SessionLockGuard>, AuthError> {
        let mutex = {
            let mut map = lock(&self.local);
            if map.len() > 1024 {
                map.retain(|_, w| w.strong_count() > 0);
            }
            match map.get(id).and_then(Weak::upgrade) {
                Some(m) => m,
                None => {
                    let m = Arc::new(tokio::sync::Mutex::new(()));
                    map.insert(*id, Arc::downgrade(&m));
                    m
                }
            }
        };
        let local = match tokio::time::timeout(wait, mutex.lock_owned()).await {
            Ok(g) => g,
            Err(_) => return Ok(None),
        };
        let remote = match &self.remote {
            Some(r) => match r.acquire(&format!("signin:lock:{id}"), ttl, wait).await? {
                Some(g) => Some(g),
                None => return Ok(None),
            },
            None => None,
        };
        Ok(Some(SessionLockGuard {
            _local: local,
            _remote: remote,
        }))
    }
}

/// What the request learns about its session.
#[derive(Clone, Debug)]
pub enum Resolved {
    SignedOut,
    SignedIn(Arc<SignedIn>),
    /// The session just ended (timed out, refresh refused): the person must sign in again.
    Ended,
}

#[derive(Clone, Copy)]
pub(super) struct Backoff {
    failures: u32,
    pub(super) until: Instant,
}

/// Keeps sessions valid and fresh. One per process.
pub struct SessionKeeper {
    pub store: SharedStore,
    pub providers: Arc<Providers>,
    pub locks: SessionLocks,
    pub(super) settings: Arc<Settings>,
    /// Tells the open tabs of a session what happened to it (`super::events`).
    pub events: Arc<EventHub>,
    /// What `/metrics` shows (`crate::metrics`): refreshes, sign-outs, sign-ins.
    pub metrics: Arc<Metrics>,
    backoff: Mutex<HashMap<Id, Backoff>>,
}

/// Room left between a refresh's deadline and its lock's expiry (clock drift between
/// instances, the release round trip).
const LOCK_MARGIN: Duration = Duration::from_secs(5);

fn lock_ttl(http_timeout: Duration) -> Duration {
    http_timeout * 3 + Duration::from_secs(10)
}

/// The whole refresh (re-read, token call, userinfo, writes) must finish within this, which is
/// shorter than the lock's lifetime: a lock can never expire under a refresh still running, so
/// two instances never redeem the same refresh token.
fn refresh_deadline(http_timeout: Duration) -> Duration {
    lock_ttl(http_timeout).saturating_sub(LOCK_MARGIN)
}

/// What a "touch" found.
enum Touched {
    Done(Arc<SignedIn>),
    /// Someone else holds the lock: touch next time.
    Busy,
    /// The session was ended meanwhile (signed out).
    Gone,
}

impl SessionKeeper {
    pub fn new(
        store: SharedStore,
        providers: Arc<Providers>,
        locks: SessionLocks,
        settings: Arc<Settings>,
    ) -> Self {
        let latency: Vec<(String, ProviderLatency)> = providers
            .list()
            .iter()
            .map(|p| (p.id.clone(), p.client.calls.latency.clone()))
            .collect();
        Self {
            store,
            providers,
            locks,
            metrics: Arc::new(Metrics::new(&latency)),
            events: Arc::new(EventHub::new(&settings.events)),
            settings,
            backoff: Mutex::default(),
        }
    }

    /// How long a refresh lock lives in the shared store (it expires by itself if its holder
    /// dies): room for the token call, userinfo and the store writes.
    pub(super) fn lock_ttl(&self) -> Duration {
        lock_ttl(self.settings.oidc.http_timeout)
    }

    /// The store expiry of a session: the idle timeout after it was last seen, capped by the
    /// absolute end.
    pub(super) fn expiry_date(&self, s: &SignedIn) -> time::OffsetDateTime {
        let idle_end = s.last_seen_at + self.settings.session.idle_timeout.as_secs() as i64;
        let absolute_end = s.signed_in_at + self.settings.session.absolute_timeout.as_secs() as i64;
        time::OffsetDateTime::from_unix_timestamp(idle_end.min(absolute_end))
            .unwrap_or_else(|_| time::OffsetDateTime::now_utc())
    }

    /// When a session signed in as `s` reaches its absolute lifetime (Unix seconds).
    pub fn absolute_end(&self, s: &SignedIn) -> i64 {
        s.signed_in_at + self.settings.session.absolute_timeout.as_secs() as i64
    }

    fn touch_interval(&self) -> i64 {
        (self.settings.session.idle_timeout.as_secs() as i64 / 24).max(1)
    }

    /// When the access token becomes due for refresh (Unix ms): the configured margin before
    /// its expiry, but never more than half the lifetime the provider gave. Without that cap a
    /// token that lives no longer than the margin would be due the moment it arrives, and every
    /// request would refresh it again.
    pub(super) fn refresh_due_at_ms(&self, s: &SignedIn) -> Option<i64> {
        let tokens = &s.verified.tokens;
        let expires_ms = tokens
            .access_expires_at_ms
            .or(tokens.access_expires_at.map(|t| t.saturating_mul(1000)))?;
        let margin = i64::try_from(self.settings.auth.refresh_margin.as_millis()).unwrap_or(0);
        let margin = match tokens.access_lifetime_ms {
            Some(lifetime) => margin.min(lifetime / 2),
            None => margin,
        };
        Some(expires_ms - margin)
    }

    fn needs_refresh(&self, s: &SignedIn, t_ms: i64) -> bool {
        self.refresh_due_at_ms(s).is_some_and(|due| t_ms >= due)
    }

    pub(super) fn can_refresh(&self, s: &SignedIn) -> bool {
        self.settings.auth.refresh && s.verified.tokens.refresh_token.is_some()
    }

    pub(super) fn expired(s: &SignedIn, t_ms: i64) -> bool {
        let tokens = &s.verified.tokens;
        tokens
            .access_expires_at_ms
            .or(tokens.access_expires_at.map(|t| t.saturating_mul(1000)))
            .is_some_and(|exp| t_ms >= exp)
    }

    /// Resolves the request's session. The second value tells whether the session was
    /// touched (its cookie's lifetime should be renewed).
    pub async fn resolve(
        self: &Arc<Self>,
        session: &Session,
    ) -> Result<(Resolved, bool), AuthError> {
        if session.id().is_none() {
            return Ok((Resolved::SignedOut, false));
        }
        let Some(mut current) = session::current(session, &self.store).await? else {
            return Ok((Resolved::SignedOut, false));
        };
        if self.providers.of(&current.verified).is_none() {
            tracing::info!("session was signed in with another issuer or client; signing out");
            self.metrics.sign_out("other_provider");
            self.end_quietly(session).await?;
            return Ok((Resolved::Ended, false));
        }
        let t = now();
        let rules = &self.settings.session;
        if t >= current.signed_in_at + rules.absolute_timeout.as_secs() as i64 {
            tracing::info!("session reached its absolute lifetime; signing out");
            self.end_expired(session).await?;
            return Ok((Resolved::Ended, false));
        }
        if t >= current.last_seen_at + rules.idle_timeout.as_secs() as i64 {
            tracing::info!("session idle for too long; signing out");
            self.end_expired(session).await?;
            return Ok((Resolved::Ended, false));
        }
        let t_ms = now_ms();
        if self.needs_refresh(&current, t_ms) {
            if self.can_refresh(&current) {
                let Some(id) = session.id() else {
                    return Ok((Resolved::SignedOut, false));
                };
                match self.refresh(Some(session), id, current).await? {
                    Some(fresh) => current = fresh,
                    None => return Ok((Resolved::Ended, false)),
                }
            } else if Self::expired(&current, t_ms) {
                tracing::info!("access token expired and cannot be refreshed; signing out");
                self.end_expired(session).await?;
                return Ok((Resolved::Ended, false));
            }
        }
        let mut touched = false;
        if now() - current.last_seen_at >= self.touch_interval() {
            match self.touch(session).await? {
                Touched::Done(fresh) => {
                    current = fresh;
                    touched = true;
                }
                Touched::Busy => {}
                Touched::Gone => {
                    session::end(session).await?;
                    return Ok((Resolved::Ended, false));
                }
            }
        }
        Ok((Resolved::SignedIn(current), touched))
    }

    /// Ends the request's session because one of its time limits passed, and tells its other
    /// tabs.
    async fn end_expired(&self, session: &Session) -> Result<(), AuthError> {
        self.metrics
            .sign_out(super::signout::metric_kind(EndReason::Expired));
        self.end_quietly(session).await
    }

    /// [`Self::end_expired`] without counting it (the caller counted it as something else).
    async fn end_quietly(&self, session: &Session) -> Result<(), AuthError> {
        if let Some(id) = session.id() {
            self.events.publish(&id, Notice::Ended(EndReason::Expired));
        }
        session::end(session).await
    }

    /// Refreshes session `id` for its open tabs (`super::watch`): no request, so neither "last
    /// seen" nor the idle timeout moves. `Ok(None)`: the session ended.
    pub(super) async fn refresh_unattended(
        self: &Arc<Self>,
        id: Id,
        current: Arc<SignedIn>,
    ) -> Result<Option<Arc<SignedIn>>, AuthError> {
        self.refresh(None, id, current).await
    }

    /// Updates "last seen" and the store expiry — only while the record exists.
    async fn touch(&self, session: &Session) -> Result<Touched, AuthError> {
        let Some(id) = session.id() else {
            return Ok(Touched::Gone);
        };
        let Some(_guard) = self
            .locks
            .lock(&id, self.lock_ttl(), Duration::from_secs(1))
            .await?
        else {
            return Ok(Touched::Busy); // someone else is writing it
        };
        let Some((record, mut latest)) = self.store.load_signed_in(&id).await? else {
            return Ok(Touched::Gone);
        };
        latest.last_seen_at = now();
        let expiry = self.expiry_date(&latest);
        if !self.store.save_signed_in(record, &latest, expiry).await? {
            return Ok(Touched::Gone);
        }
        session.load().await.map_err(AuthError::store)?;
        Ok(Touched::Done(Arc::new(latest)))
    }

    /// Single-flight refresh of session `id`, for `session`'s request (which then counts as
    /// activity) or, without one, for the session's open tabs. `Ok(None)`: the session ended.
    async fn refresh(
        self: &Arc<Self>,
        session: Option<&Session>,
        id: Id,
        current: Arc<SignedIn>,
    ) -> Result<Option<Arc<SignedIn>>, AuthError> {
        let t = now_ms();
        if let Some(b) = self.backoff_for(&id)
            && Instant::now() < b.until
        {
            return if Self::expired(&current, t) {
                Err(AuthError::ProviderUnavailable(
                    "refresh is backing off".into(),
                ))
            } else {
                Ok(Some(current))
            };
        }
        // Someone else is refreshing and this token still works: use it, do not wait. Else
        // wait — but not past the request's own timeout (it would answer 408 meanwhile).
        let still_valid = !Self::expired(&current, t);
        let wait = if still_valid {
            Duration::ZERO
        } else {
            self.lock_ttl().min(
                self.settings
                    .limits
                    .request_timeout
                    .saturating_sub(Duration::from_secs(2)),
            )
        };
        let guard = self.locks.lock(&id, self.lock_ttl(), wait).await?;
        if guard.is_none() {
            if still_valid {
                return Ok(Some(current));
            }
            if self.settings.auth.rotation_grace.is_zero() {
                // strictly serialized: never redeem without holding the lock
                return Err(AuthError::ProviderUnavailable("refresh lock busy".into()));
            }
        }
        // The refresh runs as a task of its own, holding the lock: if this request is cancelled
        // (the client went away, the request timed out) the refresh still finishes and saves
        // the rotated tokens — cancelling it after the provider rotated them would lose the
        // new refresh token and, with reuse detection, end the grant.
        let deadline = refresh_deadline(self.settings.oidc.http_timeout);
        let task = {
            let (keeper, session, current) = (self.clone(), session.cloned(), current.clone());
            tokio::spawn(async move {
                let outcome = tokio::time::timeout(
                    deadline,
                    keeper.refresh_locked(session.as_ref(), &id, current),
                )
                .await;
                drop(guard);
                outcome
            })
        };
        let outcome = match task.await {
            Ok(outcome) => outcome,
            Err(e) => {
                tracing::error!(error = %e, "the refresh task failed");
                return Err(AuthError::Internal("refresh task failed".into()));
            }
        };
        match outcome {
            Ok(result) => result,
            Err(_) => {
                let b = self.note_failure(&id);
                tracing::warn!(
                    failures = b.failures,
                    "refresh did not finish before its deadline"
                );
                if Self::expired(&current, now_ms()) {
                    Err(AuthError::ProviderUnavailable(
                        "refresh took too long".into(),
                    ))
                } else {
                    Ok(Some(current))
                }
            }
        }
    }

    /// The refresh itself, with the session's lock held (or, with a grace period, after
    /// waiting the lock out).
    async fn refresh_locked(
        &self,
        session: Option<&Session>,
        id: &Id,
        current: Arc<SignedIn>,
    ) -> Result<Option<Arc<SignedIn>>, AuthError> {
        let id = *id;
        // Re-read: another request (or instance) may have refreshed while we waited.
        let Some((record, latest)) = self.store.load_signed_in(&id).await? else {
            end_request(session).await?;
            return Ok(None);
        };
        let t = now_ms();
        // Another request (or instance) refreshed while this one waited: its tokens are the
        // result, whatever the clock says now. Refreshing again would turn one expiry into one
        // refresh per waiting request (and, with rotation, race the tokens just saved).
        let refreshed_meanwhile =
            latest.verified.tokens.access_token != current.verified.tokens.access_token;
        if (refreshed_meanwhile && !Self::expired(&latest, t)) || !self.needs_refresh(&latest, t) {
            reload(session).await?;
            return Ok(Some(Arc::new(latest)));
        }
        let Some(refresh_token) = latest.verified.tokens.refresh_token.clone() else {
            return Ok(Some(Arc::new(latest)));
        };
        let Some(oidc) = self.providers.of(&latest.verified).cloned() else {
            return Err(AuthError::SessionEnded(
                "its provider is no longer configured",
            ));
        };
        match oidc.refresh(&refresh_token, &latest.verified).await {
            Ok(verified) => {
                let old_keys = index::keys(&latest.verified);
                let mut next = latest;
                next.verified = verified;
                next.last_refreshed_at = Some(now());
                if session.is_some() {
                    next.last_seen_at = now(); // a request: activity
                }
                let expiry = self.expiry_date(&next);
                self.clear_backoff(&id);
                if !self.store.save_signed_in(record, &next, expiry).await? {
                    // signed out while the provider answered: these tokens belong to nobody
                    tracing::info!("session ended during its refresh; revoking the new tokens");
                    self.revoke_in_background(&next.verified);
                    end_request(session).await?;
                    return Ok(None);
                }
                if index::keys(&next.verified) != old_keys
                    && let Err(e) =
                        index::add(&self.store, &id, &next, self.absolute_end(&next)).await
                {
                    tracing::warn!(error = %e, "could not index the refreshed claims");
                }
                reload(session).await?;
                self.metrics.refresh("success");
                self.events.publish(&id, Notice::Refreshed);
                tracing::debug!("access token refreshed");
                Ok(Some(Arc::new(next)))
            }
            // Only these end a session: the provider refused the grant, or what came back is
            // not a valid token for the same person (userinfo failures are tolerated above).
            Err(e @ (AuthError::RefreshRejected(_) | AuthError::InvalidIdToken(_))) => {
                tracing::warn!(error = %e, "refresh refused; ending the session");
                self.metrics.refresh("ended");
                self.metrics
                    .sign_out(super::signout::metric_kind(EndReason::RefreshFailed));
                self.store.delete(&id).await?;
                if let Err(e) = index::remove(&self.store, &id, &latest).await {
                    tracing::warn!(error = %e, "could not remove a session from the index");
                }
                end_request(session).await?;
                self.clear_backoff(&id);
                self.events
                    .publish(&id, Notice::Ended(EndReason::RefreshFailed));
                Ok(None)
            }
            Err(AuthError::ProviderUnavailable(detail)) => {
                let b = self.note_failure(&id);
                self.metrics.refresh("failed");
                tracing::warn!(error = %detail, failures = b.failures, "refresh failed: provider unreachable");
                if Self::expired(&latest, t) {
                    Err(AuthError::ProviderUnavailable(detail))
                } else {
                    reload(session).await?;
                    Ok(Some(Arc::new(latest)))
                }
            }
            Err(e) => {
                self.metrics.refresh("failed");
                Err(e)
            }
        }
    }

    pub(super) fn backoff_for(&self, id: &Id) -> Option<Backoff> {
        lock(&self.backoff).get(id).copied()
    }

    fn clear_backoff(&self, id: &Id) {
        lock(&self.backoff).remove(id);
    }

    fn note_failure(&self, id: &Id) -> Backoff {
        let mut map = lock(&self.backoff);
        if map.len() > 10_000 {
            let now = Instant::now();
            map.retain(|_, b| b.until > now);
        }
        let failures = map.get(id).map_or(0, |b| b.failures) + 1;
        let delay = Duration::from_millis(500u64.saturating_mul(1 << failures.min(6)))
            .min(Duration::from_secs(30));
        let b = Backoff {
            failures,
            until: Instant::now() + delay,
        };
        map.insert(*id, b);
        b
    }
}

/// Ends the request's session, if the refresh ran for one.
async fn end_request(session: Option<&Session>) -> Result<(), AuthError> {
    match session {
        Some(s) => session::end(s).await,
        None => Ok(()),
    }
}

/// Has the request's session read the record again (after a write straight to the store).
async fn reload(session: Option<&Session>) -> Result<(), AuthError> {
    match session {
        Some(s) => s.load().await.map_err(AuthError::store),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A refresh can never outlive its lock, whatever the provider timeout.
    #[test]
    fn the_refresh_deadline_is_inside_the_lock() {
        for secs in [1, 2, 5, 10, 30, 60, 120] {
            let http = Duration::from_secs(secs);
            let (deadline, ttl) = (refresh_deadline(http), lock_ttl(http));
            assert!(deadline + LOCK_MARGIN <= ttl, "{secs} s");
            // room for the token call and userinfo, each up to the HTTP timeout
            assert!(deadline >= http * 2, "{secs} s");
        }
    }
}
