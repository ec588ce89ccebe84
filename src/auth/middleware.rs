//! The axum middleware that resolves "who is signed in" once per request.
//!
//! It runs inside the session layer, asks the [`SessionKeeper`](super::refresh::SessionKeeper)
//! (which refreshes tokens when due), and puts a [`CurrentAuth`] into the request's
//! extensions, where server functions and server-side rendering read it (Leptos copies the
//! request parts into its context). When settings require sign-in everywhere, it also turns
//! signed-out page loads of non-public paths into a redirect to `/login?return_to=…` — this is
//! the security boundary for whole pages; server functions check the session themselves. An
//! islands-router navigation (client-side, a `fetch`) to one of the app's pages is the one
//! exception: the page's guard answers it, with the same policy.

use std::sync::Arc;

use axum::{
    extract::{Request, State},
    http::{HeaderValue, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use tower_sessions::Session;

use super::{
    reason::ErrorReason, refresh::Resolved, return_to::login_url, session::SignedIn,
    types::ApiError,
};
use crate::state::AppState;

/// The request's authentication, as resolved by [`resolve_auth`].
#[derive(Clone, Debug)]
pub enum CurrentAuth {
    SignedOut,
    SignedIn(Arc<SignedIn>),
    /// The session ended during this request (timeout, refresh refused).
    Ended,
    /// The session store or the provider is down.
    Unavailable(ErrorReason),
}

impl CurrentAuth {
    pub fn signed_in(&self) -> Option<&Arc<SignedIn>> {
        match self {
            CurrentAuth::SignedIn(s) => Some(s),
            _ => None,
        }
    }

    /// The signed-in session, or the error a server function or page answers without one.
    pub fn require(&self) -> Result<&Arc<SignedIn>, ApiError> {
        match self {
            CurrentAuth::SignedIn(s) => Ok(s),
            CurrentAuth::Unavailable(ErrorReason::ProviderUnavailable) => {
                Err(ApiError::ProviderUnavailable)
            }
            CurrentAuth::Unavailable(_) => Err(ApiError::SessionStoreUnavailable),
            CurrentAuth::SignedOut | CurrentAuth::Ended => Err(ApiError::Unauthorized),
        }
    }
}

/// Paths that never need the session (static assets, health check, and the endpoints the
/// provider calls server-to-server, which carry no cookie).
fn skips_session(path: &str) -> bool {
    path.starts_with("/pkg/")
        || path == "/favicon.ico"
        || path == "/healthz"
        || path == super::routes::BACKCHANNEL_LOGOUT_PATH
        || path == super::routes::GLOBAL_TOKEN_REVOCATION_PATH
}

/// What [`resolve_auth`] needs: the app state and the paths of the app's pages.
#[derive(Clone)]
pub struct AuthLayer {
    pub state: AppState,
    /// The Leptos page routes, whose [`Guard`](super::guard::Guard) applies the same policy.
    pub pages: Arc<std::collections::HashSet<String>>,
}

/// A client-side navigation by the islands router: a `fetch`, which cannot follow a redirect
/// to the provider (cross-origin).
fn islands_router_navigation(req: &Request) -> bool {
    req.headers().contains_key("islands-router")
}

pub async fn resolve_auth(
    State(AuthLayer { state, pages }): State<AuthLayer>,
    mut req: Request,
    next: Next,
) -> Response {
    let path = req.uri().path();
    // The live channel reads its session itself, straight from the store: it must not count
    // as activity (no touch, no refresh) and answers a missing session itself.
    if skips_session(path) || path == super::routes::EVENTS_PATH {
        return next.run(req).await;
    }
    let session = req.extensions().get::<Session>().cloned();
    let (auth, touched) = match &session {
        None => (CurrentAuth::SignedOut, false),
        Some(session) => match state.keeper.resolve(session).await {
            Ok((Resolved::SignedOut, _)) => (CurrentAuth::SignedOut, false),
            Ok((Resolved::Ended, _)) => (CurrentAuth::Ended, false),
            Ok((Resolved::SignedIn(s), touched)) => (CurrentAuth::SignedIn(s), touched),
            Err(e) => {
                tracing::warn!(error = %e, path = %req.uri().path(), "could not resolve the session");
                (CurrentAuth::Unavailable(e.reason()), false)
            }
        },
    };

    // Signed in, or pages that do not all require sign-in: nothing to refuse (the common
    // cases, decided without looking at the path again).
    if state.settings.auth.require_auth_everywhere && !matches!(auth, CurrentAuth::SignedIn(_)) {
        let path = req.uri().path();
        // An islands-router navigation to one of the app's pages is left to the page's guard
        // (the same policy): only a page can answer that `fetch` with something the router
        // can show — the island that leaves for sign-in, or the error notice.
        let left_to_page = req.method() == axum::http::Method::GET
            && islands_router_navigation(&req)
            && pages.contains(path);
        // API routes (the registered server functions, `/api/me`) answer for themselves,
        // never with a redirect; any other path is guarded like a page
        let api = state.is_server_fn(path) || path == super::me::ME_PATH;
        if !left_to_page && !api && !state.guard_policy().is_public(path) {
            match &auth {
                CurrentAuth::SignedIn(_) => {}
                CurrentAuth::Unavailable(reason) => return unavailable(*reason),
                CurrentAuth::SignedOut | CurrentAuth::Ended => {
                    if req.method() == axum::http::Method::GET
                        || req.method() == axum::http::Method::HEAD
                    {
                        let target = req.uri().path_and_query().map_or(path, |p| p.as_str());
                        return super::redirect::response(&login_url(target));
                    }
                    return (StatusCode::UNAUTHORIZED, "Sign-in required.").into_response();
                }
            }
        }
    }

    let cookie = if touched {
        session
            .as_ref()
            .and_then(|s| s.id())
            .map(|id| crate::session_cookie::renewal(&state.settings, &id.to_string()))
    } else {
        None
    };
    req.extensions_mut().insert(auth);
    let mut response = next.run(req).await;
    if let Some(cookie) = cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

fn unavailable(reason: ErrorReason) -> Response {
    let status = StatusCode::from_u16(reason.status()).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    let body = crate::plain_page::error_page(reason);
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::RETRY_AFTER, "5"),
        ],
        body,
    )
        .into_response()
}
