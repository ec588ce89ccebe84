//! Per-client rate limits on the endpoints that cost the most when abused: `/login` and the
//! callback (each writes a session and calls or redirects to the provider), and the
//! provider-facing back-channel and Universal Logout endpoints (each verifies a signature and
//! may fetch keys). The `governor` crate keeps one GCRA state per client address
//! ([`super::client_ip`]); what is written here is only which paths count and the answer:
//! 429 with `Retry-After`, a page for a browser and JSON for a provider. IPv6 clients count
//! per /64. Idle client states are dropped every minute by a background task, so a scan
//! from many addresses cannot grow memory for long.

use std::{net::IpAddr, num::NonZeroU32, sync::Arc};

use axum::{
    extract::{Request, State},
    http::{HeaderValue, StatusCode, header},
    middleware::Next,
    response::Response,
};
use governor::{DefaultKeyedRateLimiter, Quota, clock::Clock};
use ipnet::IpNet;

use super::{
    client_ip::{client_ip, rate_key},
    refusal::refusal,
};
use crate::{
    auth::routes::{BACKCHANNEL_LOGOUT_PATH, DEFAULT_CALLBACK_PATH, GLOBAL_TOKEN_REVOCATION_PATH},
    settings::{Rate, Settings},
};

/// How often idle client states are dropped.
const SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

#[derive(Clone)]
pub struct RateLimits(Arc<Inner>);

struct Inner {
    sign_in: Option<DefaultKeyedRateLimiter<IpAddr>>,
    provider: Option<DefaultKeyedRateLimiter<IpAddr>>,
    callback_path: String,
    trusted: Vec<IpNet>,
}

fn limiter(rate: Option<Rate>) -> Option<DefaultKeyedRateLimiter<IpAddr>> {
    let rate = rate?;
    let per_minute = NonZeroU32::new(rate.per_minute)?;
    let burst = NonZeroU32::new(rate.burst)?;
    Some(DefaultKeyedRateLimiter::keyed(
        Quota::per_minute(per_minute).allow_burst(burst),
    ))
}

enum Kind {
    SignIn,
    Provider,
}

impl RateLimits {
    pub fn new(settings: &Settings) -> Self {
        let limits = Self(Arc::new(Inner {
            sign_in: limiter(settings.limits.sign_in),
            provider: limiter(settings.limits.provider),
            callback_path: settings.auth.callback_path.clone(),
            trusted: settings.limits.trusted_proxies.clone(),
        }));
        limits.sweep_in_background();
        limits
    }

    /// Drops idle client states every [`SWEEP_EVERY`], for as long as the limits are in use
    /// (the task holds only a weak reference). Outside a Tokio runtime nothing is swept.
    fn sweep_in_background(&self) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let weak = Arc::downgrade(&self.0);
        runtime.spawn(async move {
            let mut tick = tokio::time::interval(SWEEP_EVERY);
            tick.tick().await;
            loop {
                tick.tick().await;
                let Some(inner) = weak.upgrade() else { break };
                for l in [&inner.sign_in, &inner.provider].into_iter().flatten() {
                    l.retain_recent();
                    l.shrink_to_fit();
                }
            }
        });
    }

    fn kind(&self, path: &str) -> Option<Kind> {
        if path == "/login" || path == DEFAULT_CALLBACK_PATH || path == self.0.callback_path {
            Some(Kind::SignIn)
        } else if path == BACKCHANNEL_LOGOUT_PATH || path == GLOBAL_TOKEN_REVOCATION_PATH {
            Some(Kind::Provider)
        } else {
            None
        }
    }

    pub async fn apply(State(limits): State<Self>, req: Request, next: Next) -> Response {
        let Some(kind) = limits.kind(req.uri().path()) else {
            return next.run(req).await;
        };
        let limiter = match kind {
            Kind::SignIn => &limits.0.sign_in,
            Kind::Provider => &limits.0.provider,
        };
        let Some(limiter) = limiter else {
            return next.run(req).await;
        };
        let ip = client_ip(&req, &limits.0.trusted);
        let Err(not_until) = limiter.check_key(&rate_key(ip)) else {
            return next.run(req).await;
        };
        let wait = not_until.wait_time_from(governor::clock::DefaultClock::default().now());
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        tracing::debug!(client = %ip, path = %req.uri().path(), "rate limited");
        let mut res = match kind {
            Kind::SignIn => refusal(
                req.headers(),
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_requests",
                &format!(
                    "Too many sign-in attempts from your network. Please wait {secs} seconds and try again."
                ),
            ),
            Kind::Provider => refusal(
                req.headers(),
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_requests",
                "Too many requests; retry later.",
            ),
        };
        if let Ok(v) = HeaderValue::from_str(&secs.max(1).to_string()) {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
        res
    }
}
