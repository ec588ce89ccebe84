//! Bench-only plumbing (cargo feature `bench`, never in the default build): a way to render a
//! page *without* the session check, for the benchmark's "auth overhead" ratio.
//!
//! [`app_for_bench`](crate::server::app_for_bench) serves every route a second time under
//! `/__bench/unguarded/…`, without the session layer and the auth middleware; [`signed_in`]
//! gives those requests the session the benchmark [`remember`]ed (same page, same content, no
//! store read, no session rules). `/__bench/noop` is a handler that does nothing.

use std::sync::{Arc, OnceLock};

use axum::extract::Request;

use crate::auth::{middleware::CurrentAuth, session::SignedIn};

static SNAPSHOT: OnceLock<Arc<SignedIn>> = OnceLock::new();

/// Remembers a signed-in session for the unguarded routes (the first one wins; lock-free
/// afterwards, so it does not slow the path it is compared with).
pub fn remember(signed_in: Arc<SignedIn>) {
    let _ = SNAPSHOT.set(signed_in);
}

/// Gives an unguarded request the remembered session (signed out before there is one).
pub async fn signed_in(mut req: Request) -> Request {
    let auth = SNAPSHOT
        .get()
        .cloned()
        .map(CurrentAuth::SignedIn)
        .unwrap_or(CurrentAuth::SignedOut);
    req.extensions_mut().insert(auth);
    req
}
