//! Redirects, in one place: always `303 See Other` (the browser then GETs the target, also
//! after a POST) with `Cache-Control: no-store` (a redirect that depends on the session must
//! not be cached).
//!
//! Why not `leptos_axum::redirect`: it answers `302 Found` and always adds the server-function
//! redirect header; the sign-in routes are page loads that need a real 303, while the sign-out
//! action, which the hydrated app may call with `fetch`, needs the header only for such calls.
//!
//! - [`response`]: a plain axum response, for middleware that answers before Leptos runs;
//! - [`see_other`]: from inside a server function or page, always a 303;
//! - [`see_other_or_header`]: a 303 for page loads, the server-function redirect header
//!   (followed by the hydrated app) for `fetch` calls.

use axum::{
    body::Body,
    http::{HeaderValue, StatusCode, header, request::Parts},
    response::{IntoResponse, Response},
};
use leptos::prelude::use_context;
use leptos_axum::ResponseOptions;

const NO_STORE: HeaderValue = HeaderValue::from_static("no-store");

/// A 303 to `location` (a same-site path or the provider's URL).
pub fn response(location: &str) -> Response {
    Response::builder()
        .status(StatusCode::SEE_OTHER)
        .header(header::LOCATION, location)
        .header(header::CACHE_CONTROL, NO_STORE)
        .body(Body::empty())
        .unwrap_or_else(|_| StatusCode::SEE_OTHER.into_response())
}

/// From a server function or page: answer with a 303 to `location`.
pub fn see_other(location: &str) {
    redirect(location, true)
}

/// From a server function the hydrated app may also call: a 303 for page loads, else the
/// server-function redirect header.
pub fn see_other_or_header(location: &str) {
    redirect(location, false)
}

fn redirect(location: &str, always_http: bool) {
    let Some(res) = use_context::<ResponseOptions>() else {
        return;
    };
    let Ok(value) = HeaderValue::from_str(location) else {
        tracing::error!("redirect target is not a valid header value");
        return;
    };
    res.insert_header(header::LOCATION, value);
    res.insert_header(header::CACHE_CONTROL, NO_STORE);
    let page_load = use_context::<Parts>()
        .and_then(|p| {
            p.headers
                .get(header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .map(|a| a.contains("text/html"))
        })
        .unwrap_or(false);
    if always_http || page_load {
        res.set_status(StatusCode::SEE_OTHER);
    } else {
        res.insert_header(
            header::HeaderName::from_static(leptos::server_fn::redirect::REDIRECT_HEADER),
            HeaderValue::from_static(""),
        );
    }
}
