//! `GET /auth/events`: the live session channel, Server-Sent Events to each signed-in tab.
//!
//! Events (the hydrated app's `SessionLive` island listens, `crate::components::session_live`):
//! - `ended` — data: two lines, why ([`EndReason::as_str`]) and what to tell the person
//!   ([`EndReason::message`]); the last event, the stream closes after it;
//! - `refreshed` — data: the [`Profile`](super::types::Profile) as JSON (display claims and
//!   times, never a token);
//! - `ping` — at once, then every `EVENTS_HEARTBEAT_SECS`, so the browser knows the channel
//!   is alive.
//!
//! The channel is not activity: the session is read straight from the store (no "touch", no
//! refresh, no cookie), so an open tab never keeps an idle session alive — the session's
//! watcher (`super::watch`) ends it on time and this channel says so. It is bounded
//! (`EVENTS_PER_SESSION` per session and `EVENTS_MAX_STREAMS` per process, 429 beyond), closed
//! when the session ends and when the process stops, and marked for proxies: no caching, no
//! transformation, no buffering (`X-Accel-Buffering: no`).

use std::{convert::Infallible, time::Duration};

use axum::{
    extract::State,
    http::{HeaderValue, StatusCode, header},
    response::{
        IntoResponse, Response,
        sse::{Event, Sse},
    },
};
use futures::stream::{self, Stream};
use tokio::sync::broadcast::error::RecvError;
use tower_sessions::{Session, session::Id};

use super::{
    api::ssr::profile_of,
    events::{Notice, Refused, Subscription},
    types::EndReason,
};
use crate::state::AppState;

/// How long a refused browser should wait before trying again (seconds).
const RETRY_AFTER: &str = "30";

pub async fn events(State(state): State<AppState>, session: Session) -> Response {
    let Some(id) = session.id() else {
        return ended(EndReason::SignedOut);
    };
    match state.keeper.store.load_signed_in(&id).await {
        Ok(Some((_, s))) if state.providers().of(&s.verified).is_some() => {}
        Ok(_) => return ended(EndReason::SignedOut),
        Err(e) => {
            tracing::warn!(error = %e, "live channel: the session store is unavailable");
            return refuse(StatusCode::SERVICE_UNAVAILABLE, "5");
        }
    }
    let subscription = match state.keeper.subscribe(id) {
        Ok(s) => s,
        Err(e @ (Refused::Session | Refused::Process)) => {
            tracing::debug!(error = %e, "live channel refused");
            return refuse(StatusCode::TOO_MANY_REQUESTS, RETRY_AFTER);
        }
    };
    let heartbeat = state.settings.events.heartbeat;
    stream_response(updates(state, id, subscription, heartbeat))
}

/// What one open channel sends, until the session ends, the browser goes or the process stops.
fn updates(
    state: AppState,
    id: Id,
    subscription: Subscription,
    heartbeat: Duration,
) -> impl Stream<Item = Result<Event, Infallible>> {
    // the first `ping` goes out at once: the browser knows the channel is up
    let mut ticks = tokio::time::interval(heartbeat);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let open = Open {
        state,
        id,
        subscription,
        ticks,
        done: false,
    };
    stream::unfold(open, |mut open| async move {
        let event = open.next().await?;
        Some((Ok(event), open))
    })
}

struct Open {
    state: AppState,
    id: Id,
    subscription: Subscription,
    ticks: tokio::time::Interval,
    done: bool,
}

impl Open {
    async fn next(&mut self) -> Option<Event> {
        if self.done || *self.subscription.closing.borrow() {
            return None;
        }
        loop {
            tokio::select! {
                notice = self.subscription.notices.recv() => match notice {
                    Ok(Notice::Ended(why)) => return Some(self.end(why)),
                    Ok(Notice::Refreshed) | Err(RecvError::Lagged(_)) => {
                        match self.state.keeper.store.load_signed_in(&self.id).await {
                            Ok(Some((_, s))) => {
                                let profile = profile_of(&s, &self.state.settings);
                                match serde_json::to_string(&profile) {
                                    Ok(json) => return Some(Event::default().event("refreshed").data(json)),
                                    Err(e) => tracing::warn!(error = %e, "live channel: profile not serializable"),
                                }
                            }
                            Ok(None) => return Some(self.end(EndReason::SignedOut)),
                            Err(e) => tracing::warn!(error = %e, "live channel: the session store is unavailable"),
                        }
                    }
                    // a step-up renewed the session's id: the tab opens its channel again
                    Ok(Notice::Moved) | Err(RecvError::Closed) => return None,
                },
                _ = self.ticks.tick() => return Some(Event::default().event("ping").data("")),
                _ = self.subscription.closing.changed() => return None,
            }
        }
    }

    fn end(&mut self, why: EndReason) -> Event {
        self.done = true;
        ended_event(why)
    }
}

/// The channel's response: an event stream nobody between here and the browser may cache,
/// transform or buffer.
fn stream_response(
    events: impl Stream<Item = Result<Event, Infallible>> + Send + 'static,
) -> Response {
    let mut response = Sse::new(events).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store, no-transform"),
    );
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

/// A channel that has only this to say: the session is over (or never was).
fn ended(why: EndReason) -> Response {
    stream_response(stream::iter([Ok(ended_event(why))]))
}

/// `ended`: why, then the words for the person (two data lines).
fn ended_event(why: EndReason) -> Event {
    Event::default()
        .event("ended")
        .data(format!("{}\n{}", why.as_str(), why.message()))
}

fn refuse(status: StatusCode, retry_after: &'static str) -> Response {
    let mut response = (
        status,
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(serde_json::json!({
            "error": if status == StatusCode::TOO_MANY_REQUESTS { "too_many_channels" } else { "temporarily_unavailable" },
        })),
    )
        .into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static(retry_after));
    response
}
