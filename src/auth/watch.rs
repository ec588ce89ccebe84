//! The watcher of a session with open tabs: while at least one tab of the session holds a live
//! channel in this process (`super::events`), one task per session here keeps an eye on it:
//!
//! - at the idle timeout or the absolute lifetime it ends the session (the tabs hear
//!   "expired" at once, not at their next click);
//! - when the access token comes due it refreshes it (single flight, as a request would), so
//!   the profile page's times update without the page asking; an access token that cannot be
//!   refreshed ends the session when it expires;
//! - every heartbeat it reads the session again, which catches what no notice told this
//!   process: a session ended or refreshed by another instance when no relay carries notices
//!   (SQLite shared by several processes), or a relayed notice lost while Redis reconnected.
//!
//! None of this counts as activity: "last seen" never moves, so an open tab does not keep an
//! idle session alive. Closed tabs stop it: the task is aborted with the last channel.

use std::{sync::Arc, time::Duration};

use tokio::sync::broadcast::error::RecvError;
use tower_sessions::session::Id;

use super::{
    events::{ChannelKey, Notice, Refused, Subscription},
    refresh::SessionKeeper,
    session::SignedIn,
    types::EndReason,
};
use crate::util::now_ms;

/// The least time between two refresh attempts of the watcher (another instance holds the
/// lock, or the provider is backing off).
const RETRY: Duration = Duration::from_secs(1);

impl SessionKeeper {
    /// Opens a live channel on session `id` (within the limits), starting the session's
    /// watcher in this process with its first channel (or again, should it have stopped).
    pub fn subscribe(self: &Arc<Self>, id: Id) -> Result<Subscription, Refused> {
        let key = ChannelKey::of(&id);
        let subscription = self.events.subscribe(key)?;
        if subscription.needs_watcher {
            let keeper = self.clone();
            let task = tokio::spawn(async move { keeper.watch(id, key).await });
            self.events.set_watcher(&key, task.abort_handle());
        }
        Ok(subscription)
    }

    async fn watch(self: Arc<Self>, id: Id, key: ChannelKey) {
        let Some(mut notices) = self.events.listen(&key) else {
            return;
        };
        // Whichever way the watch ends, the tabs hear that the session is over (again, when a
        // notice told them already: a channel stops at the first).
        if let Some(why) = self.watch_until_ended(id, key, &mut notices).await {
            self.events.publish_local(&key, Notice::Ended(why));
        }
    }

    /// Watches session `id` until it ends. `None`: a notice said so (the tabs heard it).
    async fn watch_until_ended(
        self: &Arc<Self>,
        id: Id,
        key: ChannelKey,
        notices: &mut tokio::sync::broadcast::Receiver<Notice>,
    ) -> Option<EndReason> {
        let heartbeat = self.settings.events.heartbeat;
        let idle = self.settings.session.idle_timeout.as_millis() as i64;
        let mut last: Option<SignedIn> = None;
        let mut heard_refresh = false;
        loop {
            let mut wait = heartbeat;
            let mut wait_at_least = Duration::ZERO;
            match self.store.load_signed_in(&id).await {
                Ok(None) => {
                    // gone without a notice reaching this process
                    let expired = last
                        .as_ref()
                        .is_some_and(|s| now_ms() >= self.end_ms(s, idle));
                    return Some(if expired {
                        EndReason::Expired
                    } else {
                        EndReason::SignedOut
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "session watcher: the store is unavailable");
                }
                Ok(Some((_, state))) => {
                    if let Some(prev) = &last
                        && !heard_refresh
                        && prev.verified.tokens.access_token != state.verified.tokens.access_token
                    {
                        self.events.publish_local(&key, Notice::Refreshed);
                    }
                    heard_refresh = false;
                    let t = now_ms();
                    let can_refresh = self.can_refresh(&state);
                    let due = if can_refresh {
                        self.refresh_due_at_ms(&state)
                    } else {
                        access_expiry_ms(&state)
                    };
                    let over = |s: &SignedIn| {
                        let t = now_ms();
                        self.providers.of(&s.verified).is_none()
                            || t >= self.end_ms(s, idle)
                            || (!self.can_refresh(s) && access_expiry_ms(s).is_some_and(|e| t >= e))
                    };
                    if over(&state) {
                        // checked again under the session's lock: a request may have just used it
                        match self.end_session_if(&id, EndReason::Expired, over).await {
                            Ok(Some(_)) => {
                                tracing::info!(
                                    "session reached its time limit with tabs open; signed out"
                                );
                                return None; // announced by `end_session_if`
                            }
                            Ok(None) => {} // used meanwhile, or gone: read again
                            Err(e) => {
                                tracing::warn!(error = %e, "session watcher: could not end an expired session");
                                wait_at_least = RETRY;
                            }
                        }
                    } else if can_refresh && due.is_some_and(|due| t >= due) {
                        match self.refresh_unattended(id, Arc::new(state.clone())).await {
                            Ok(Some(fresh)) => {
                                heard_refresh = fresh.verified.tokens.access_token
                                    != state.verified.tokens.access_token;
                            }
                            Ok(None) => {} // ended: the next read says how
                            Err(e) => {
                                tracing::debug!(error = %e, "session watcher: refresh failed")
                            }
                        }
                        // another instance holds the lock, or the provider is backing off
                        let backing_off = self
                            .backoff_for(&id)
                            .map(|b| b.until.saturating_duration_since(std::time::Instant::now()))
                            .unwrap_or_default();
                        wait_at_least = RETRY.max(backing_off);
                    }
                    let t = now_ms();
                    wait = [Some(self.end_ms(&state, idle)), due]
                        .into_iter()
                        .flatten()
                        .map(|at| Duration::from_millis(u64::try_from(at - t).unwrap_or(0)))
                        .fold(heartbeat, Duration::min);
                    last = Some(state);
                }
            }
            tokio::select! {
                () = tokio::time::sleep(wait.max(wait_at_least)) => {}
                notice = notices.recv() => match notice {
                    Ok(Notice::Ended(_) | Notice::Moved) | Err(RecvError::Closed) => return None,
                    Ok(Notice::Refreshed) => heard_refresh = true,
                    Err(RecvError::Lagged(_)) => {}
                },
            }
        }
    }

    /// When session `s` ends by the clock (Unix ms): idle timeout or absolute lifetime.
    fn end_ms(&self, s: &SignedIn, idle_ms: i64) -> i64 {
        (s.last_seen_at.saturating_mul(1000) + idle_ms)
            .min(self.absolute_end(s).saturating_mul(1000))
    }
}

fn access_expiry_ms(s: &SignedIn) -> Option<i64> {
    let tokens = &s.verified.tokens;
    tokens
        .access_expires_at_ms
        .or(tokens.access_expires_at.map(|t| t.saturating_mul(1000)))
}
