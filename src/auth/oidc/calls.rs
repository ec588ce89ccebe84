//! Outbound calls to the provider, counted by kind with the time spent waiting for them (for
//! the benchmark's "server time excluding the provider" figure and for tests), and each call's
//! duration in the provider-latency histogram `/metrics` shows (`crate::metrics`).

use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::Instant,
};

use crate::metrics::{Endpoint, ProviderLatency, provider_latency};

/// The kinds of outbound call.
#[derive(Clone, Copy, Debug)]
pub enum Call {
    Discovery,
    Token,
    Refresh,
    Userinfo,
    Revocation,
    Par,
}

impl Call {
    fn name(self) -> &'static str {
        match self {
            Call::Discovery => "discovery",
            Call::Token => "token",
            Call::Refresh => "refresh",
            Call::Userinfo => "userinfo",
            Call::Revocation => "revocation",
            Call::Par => "par",
        }
    }
}

/// Counts outbound calls by kind, and the time spent waiting for them (for the benchmark's
/// "server time excluding the provider" figure and for tests).
#[derive(Debug)]
pub struct CallCounter {
    pub discovery: AtomicU64,
    pub token: AtomicU64,
    pub refresh: AtomicU64,
    pub userinfo: AtomicU64,
    pub revocation: AtomicU64,
    /// Pushed authorization requests (RFC 9126).
    pub par: AtomicU64,
    nanos: AtomicU64,
    /// Each call's duration by kind (registered in the app's metrics).
    pub latency: ProviderLatency,
}

impl Default for CallCounter {
    fn default() -> Self {
        Self {
            discovery: AtomicU64::default(),
            token: AtomicU64::default(),
            refresh: AtomicU64::default(),
            userinfo: AtomicU64::default(),
            revocation: AtomicU64::default(),
            par: AtomicU64::default(),
            nanos: AtomicU64::default(),
            latency: provider_latency(),
        }
    }
}

impl CallCounter {
    /// Counts one call of kind `kind` and the time `call` takes.
    pub(super) async fn timed<F: std::future::Future>(&self, kind: Call, call: F) -> F::Output {
        let counter = match kind {
            Call::Discovery => &self.discovery,
            Call::Token => &self.token,
            Call::Refresh => &self.refresh,
            Call::Userinfo => &self.userinfo,
            Call::Revocation => &self.revocation,
            Call::Par => &self.par,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        let out = call.await;
        let took = started.elapsed();
        self.nanos
            .fetch_add(took.as_nanos() as u64, Ordering::Relaxed);
        self.latency
            .get_or_create(&Endpoint {
                endpoint: kind.name(),
            })
            .observe(took.as_secs_f64());
        out
    }

    pub fn token_count(&self) -> u64 {
        self.token.load(Ordering::Relaxed)
    }

    /// All outbound calls so far.
    pub fn outbound_count(&self) -> u64 {
        [
            &self.discovery,
            &self.token,
            &self.refresh,
            &self.userinfo,
            &self.revocation,
            &self.par,
        ]
        .iter()
        .map(|c| c.load(Ordering::Relaxed))
        .sum()
    }

    /// Nanoseconds spent waiting for outbound calls.
    pub fn outbound_nanos(&self) -> u64 {
        self.nanos.load(Ordering::Relaxed)
    }
}
