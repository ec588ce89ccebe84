//! Bench-only plumbing (cargo feature `bench`, never in the default build): a way to render a
//! page *without* the session check, for the benchmark's "auth overhead" ratio.
//!
//! [`app_for_bench`](crate::server::app_for_bench) serves `/__bench/unguarded/<path>` as
//! `/<path>` with a [`Unguarded`] marker; the auth middleware then skips the session layer's
//! store read and the session keeper, and uses the last session it resolved (same page, same
//! content: the first session it resolved). `/__bench/noop` is a handler that does nothing, behind the full auth stack.

use std::sync::{Arc, OnceLock};

use axum::{extract::Request, http::Uri};

use crate::auth::session::SignedIn;

/// Marks a request that must skip the session check.
#[derive(Clone, Copy, Debug)]
pub struct Unguarded;

static SNAPSHOT: OnceLock<Arc<SignedIn>> = OnceLock::new();

/// Remembers the first resolved session (called by the auth middleware in bench builds;
/// lock-free after the first call, so it does not slow the guarded path it is compared with).
pub fn remember(signed_in: &Arc<SignedIn>) {
    if SNAPSHOT.get().is_none() {
        let _ = SNAPSHOT.set(signed_in.clone());
    }
}

pub fn snapshot() -> Option<Arc<SignedIn>> {
    SNAPSHOT.get().cloned()
}

/// `/__bench/unguarded/<rest>` → `/<rest>`, marked [`Unguarded`].
pub fn rewrite(mut req: Request) -> Request {
    let Some(rest) = req.uri().path().strip_prefix("/__bench/unguarded") else {
        return req;
    };
    let target = match req.uri().query() {
        Some(q) => format!("{rest}?{q}"),
        None => rest.to_string(),
    };
    if let Ok(uri) = target.parse::<Uri>() {
        *req.uri_mut() = uri;
        req.extensions_mut().insert(Unguarded);
    }
    req
}
