//! The Content-Security-Policy of rendered pages, with the response's nonce (Leptos puts it on
//! its inline hydration scripts), set while the shell renders.

use axum::http::{HeaderValue, header};
use leptos::prelude::*;

/// The Content-Security-Policy of a rendered page: scripts only from this origin or carrying
/// this response's nonce (Leptos puts it on its hydration scripts), wasm instantiation allowed,
/// no plugins, no `<base>` rewriting, no framing. In development (`cargo leptos watch`) the
/// live-reload websocket may connect too.
pub fn content_security_policy(nonce: &str, dev: bool) -> String {
    let connect = if dev { "'self' ws: wss:" } else { "'self'" };
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data:; connect-src {connect}; object-src 'none'; \
         base-uri 'none'; frame-ancestors 'none'"
    )
}

/// Sets the page's `Content-Security-Policy` header with this response's nonce (called while
/// the shell renders; every page route renders with `SsrMode::Async`, so headers still apply).
pub fn send_content_security_policy(dev: bool) {
    let (Some(nonce), Some(res)) = (
        leptos::nonce::use_nonce(),
        use_context::<leptos_axum::ResponseOptions>(),
    ) else {
        return;
    };
    if let Ok(value) = HeaderValue::from_str(&content_security_policy(&nonce, dev)) {
        res.insert_header(header::CONTENT_SECURITY_POLICY, value);
    }
}
