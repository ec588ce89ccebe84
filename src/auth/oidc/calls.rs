//! Outbound calls to the provider, counted by kind with the time spent waiting for them (for
//! the benchmark's "server time excluding the provider" figure and for tests).

use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::Instant,
};

/// Counts outbound calls by kind, and the time spent waiting for them (for the benchmark's
/// "server time excluding the provider" figure and for tests).
#[derive(Default, Debug)]
pub struct CallCounter {
    pub discovery: AtomicU64,
    pub token: AtomicU64,
    pub refresh: AtomicU64,
    pub userinfo: AtomicU64,
    pub revocation: AtomicU64,
    /// Pushed authorization requests (RFC 9126).
    pub par: AtomicU64,
    nanos: AtomicU64,
}

impl CallCounter {
    /// Counts one call of kind `counter` and the time `call` takes.
    pub(super) async fn timed<F: std::future::Future>(
        &self,
        counter: &AtomicU64,
        call: F,
    ) -> F::Output {
        counter.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        let out = call.await;
        self.nanos
            .fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
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
