//! Operational metrics, in the Prometheus project's own client (`prometheus-client`), encoded as
//! OpenMetrics text (which Prometheus scrapes natively) at `GET /metrics` on the listen address
//! `METRICS_ADDR` names (`crate::settings::MetricsSettings`; off unless set, so never on the
//! app's public address):
//!
//! - `signin_sign_ins_total{outcome}`: completed sign-ins (`success`) and failed callbacks by
//!   reason (the error page's reason code: `access_denied`, `state_mismatch`, …);
//! - `signin_refreshes_total{outcome}`: token refreshes at the provider — `success`, `ended`
//!   (the provider refused: the session ended), `failed` (provider unreachable or invalid
//!   answer; the session stays);
//! - `signin_sign_outs_total{kind}`: sessions ended — `user` (`POST /logout`), `provider`
//!   (back-channel logout, Okta's Universal Logout), `expired` (idle or absolute timeout, or an
//!   expired token that cannot be refreshed), `refresh_refused`, `other_provider` (signed in
//!   with an issuer or client no longer configured);
//! - `signin_sessions`: session records in the store at the time of the scrape (shared by the
//!   instances on one store: take the max, not the sum);
//! - `signin_provider_request_duration_seconds{provider,endpoint}`: how long each call to the
//!   provider took (discovery, token, refresh, userinfo, revocation, par).
//!
//! Nothing is recorded per page request: counters move on sign-in, refresh and sign-out only,
//! so serving pages costs the same with or without metrics (the benchmark shows it). A leaf
//! module: it knows nothing of the auth code, which records into it.

use std::sync::atomic::AtomicI64;

use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{
        counter::Counter,
        family::Family,
        gauge::Gauge,
        histogram::{Histogram, exponential_buckets},
    },
    registry::Registry,
};

/// The content type of [`Metrics::encode`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Outcome {
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Kind {
    pub kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Endpoint {
    pub endpoint: &'static str,
}

/// Provider call durations by endpoint, for one provider (kept by its client).
pub type ProviderLatency = Family<Endpoint, Histogram, fn() -> Histogram>;

/// 1 ms to about 16 s, doubling.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

/// A new provider-latency family (one per provider client).
pub fn provider_latency() -> ProviderLatency {
    Family::new_with_constructor(latency_histogram)
}

/// The app's metrics: one per `AppState`, shared by everything that records.
pub struct Metrics {
    registry: Registry,
    sign_ins: Family<Outcome, Counter>,
    refreshes: Family<Outcome, Counter>,
    sign_outs: Family<Kind, Counter>,
    sessions: Gauge<i64, AtomicI64>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// The metrics, with each provider's latency family (`(provider id, family)`).
    pub fn new(providers: &[(String, ProviderLatency)]) -> Self {
        let mut registry = Registry::with_prefix("signin");
        let sign_ins = Family::<Outcome, Counter>::default();
        registry.register(
            "sign_ins",
            "Sign-in callbacks by outcome: success, or the reason it failed",
            sign_ins.clone(),
        );
        let refreshes = Family::<Outcome, Counter>::default();
        registry.register(
            "refreshes",
            "Token refreshes at the provider by outcome: success, ended (refused), failed (unreachable or invalid)",
            refreshes.clone(),
        );
        let sign_outs = Family::<Kind, Counter>::default();
        registry.register(
            "sign_outs",
            "Sessions ended by kind: user, provider, expired, refresh_refused, other_provider",
            sign_outs.clone(),
        );
        let sessions = Gauge::<i64, AtomicI64>::default();
        registry.register(
            "sessions",
            "Session records in the store when scraped (shared by the instances on one store)",
            sessions.clone(),
        );
        for (id, latency) in providers {
            registry
                .sub_registry_with_label(("provider".into(), id.clone().into()))
                .register(
                    "provider_request_duration_seconds",
                    "Duration of calls to the provider by endpoint",
                    latency.clone(),
                );
        }
        Self {
            registry,
            sign_ins,
            refreshes,
            sign_outs,
            sessions,
        }
    }

    pub fn sign_in(&self, outcome: &'static str) {
        self.sign_ins.get_or_create(&Outcome { outcome }).inc();
    }

    pub fn refresh(&self, outcome: &'static str) {
        self.refreshes.get_or_create(&Outcome { outcome }).inc();
    }

    pub fn sign_out(&self, kind: &'static str) {
        self.sign_outs.get_or_create(&Kind { kind }).inc();
    }

    pub fn set_sessions(&self, n: u64) {
        self.sessions.set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    /// Everything, as OpenMetrics text ([`CONTENT_TYPE`]).
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            // writing into a String cannot fail; an encoder error would be a bug
            tracing::error!("could not encode the metrics");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_and_encodes() {
        let latency = provider_latency();
        let m = Metrics::new(&[("default".into(), latency.clone())]);
        m.sign_in("success");
        m.sign_in("success");
        m.sign_in("state_mismatch");
        m.refresh("ended");
        m.sign_out("user");
        m.set_sessions(7);
        latency
            .get_or_create(&Endpoint { endpoint: "token" })
            .observe(0.004);
        let text = m.encode();
        for line in [
            "signin_sign_ins_total{outcome=\"success\"} 2",
            "signin_sign_ins_total{outcome=\"state_mismatch\"} 1",
            "signin_refreshes_total{outcome=\"ended\"} 1",
            "signin_sign_outs_total{kind=\"user\"} 1",
            "signin_sessions 7",
            "signin_provider_request_duration_seconds_count{provider=\"default\",endpoint=\"token\"} 1",
            "# EOF",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
        }
    }
}
