//! What one client may cost the server (`[limits]` settings), as layers around the router:
//!
//! - [`body`]: request bodies beyond `LIMITS_BODY_BYTES` are refused with 413 before anything
//!   past the limit is read; a body that does not arrive within the request timeout is 408;
//! - [`rate`]: per-client rate limits (the `governor` crate's GCRA) on `/login`, the callback
//!   and the provider-facing endpoints — 429 with `Retry-After`, a page for people, JSON for
//!   providers;
//! - [`client_ip`]: who "one client" is — the socket's address, or `X-Forwarded-For` only
//!   from a configured trusted proxy;
//! - the whole request is bounded by `LIMITS_REQUEST_TIMEOUT_SECS` (408), and the connection's
//!   request headers by `LIMITS_HEADER_TIMEOUT_SECS` (`crate::serve`).

pub mod body;
pub mod client_ip;
pub mod rate;
mod refusal;

pub use refusal::refusal;

use axum::{Router, http::StatusCode, middleware::from_fn_with_state};
use tower_http::timeout::TimeoutLayer;

use crate::{settings::Settings, state::AppState};

/// Wraps `router` with the limits above.
pub fn layer(router: Router<AppState>, settings: &Settings) -> Router<AppState> {
    let limits = &settings.limits;
    let bodies = body::BodyLimit {
        max: limits.body_bytes,
        timeout: limits.request_timeout,
    };
    let rates = rate::RateLimits::new(settings);
    router
        .layer(from_fn_with_state(bodies, body::BodyLimit::apply))
        .layer(from_fn_with_state(rates, rate::RateLimits::apply))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            limits.request_timeout,
        ))
}
