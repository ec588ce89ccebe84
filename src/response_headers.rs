//! Headers every response carries, set in one place around the whole router (outside the
//! session layer, so it sees the session cookie being set):
//!
//! - `X-Content-Type-Options: nosniff`, `X-Frame-Options: DENY`, `Referrer-Policy:
//!   same-origin` — and `no-referrer` on the callback, whose URL carries the code and `state`;
//! - `Strict-Transport-Security` when `APP_URL` is https (one year; no `includeSubDomains`,
//!   which would bind sibling sites of the deployer's domain);
//! - caching: a response to a request carrying the session cookie, or one setting a cookie,
//!   may hold a signed-in person's data — `Cache-Control: no-store, private`; other dynamic
//!   responses `no-cache, private`; both with `Vary: Cookie, Islands-Router` (a page answers
//!   the islands router's client-side navigation differently from a page load when it must
//!   leave for sign-in). Responses that chose their own `Cache-Control` (the static files
//!   under `/pkg`, the guard's sign-in answers) keep it.
//!
//! Rendered pages add their Content-Security-Policy (`crate::csp`).

use axum::{
    Router,
    extract::{Request, State},
    http::{HeaderMap, HeaderValue, header},
    middleware::{Next, from_fn_with_state},
};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::{auth::routes::DEFAULT_CALLBACK_PATH, settings::Settings, state::AppState};

const HSTS: &str = "max-age=31536000";
const PERSONAL: &str = "no-store, private";
const SHARED_NEVER: &str = "no-cache, private";

/// Wraps `router` with the headers above.
pub fn layer(router: Router<AppState>, settings: &Settings) -> Router<AppState> {
    let policy = Policy {
        cookie_prefix: format!("{}=", settings.cookie_name()),
        callback_path: settings.auth.callback_path.clone(),
        https: settings.https(),
    };
    router
        .layer(from_fn_with_state(policy, Policy::apply))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
}

#[derive(Clone)]
struct Policy {
    cookie_prefix: String,
    callback_path: String,
    https: bool,
}

impl Policy {
    async fn apply(
        State(policy): State<Self>,
        req: Request,
        next: Next,
    ) -> axum::response::Response {
        let path = req.uri().path();
        let callback = path == DEFAULT_CALLBACK_PATH || path == policy.callback_path;
        let with_session = policy.has_session_cookie(req.headers());
        let mut res = next.run(req).await;
        let h = res.headers_mut();
        if !h.contains_key(header::CACHE_CONTROL) {
            let personal = with_session || h.contains_key(header::SET_COOKIE);
            h.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static(if personal { PERSONAL } else { SHARED_NEVER }),
            );
            h.append(
                header::VARY,
                HeaderValue::from_static("Cookie, Islands-Router"),
            );
        }
        if callback {
            h.insert(
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            );
        }
        if policy.https {
            h.insert(
                header::STRICT_TRANSPORT_SECURITY,
                HeaderValue::from_static(HSTS),
            );
        }
        res
    }

    fn has_session_cookie(&self, headers: &HeaderMap) -> bool {
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .any(|c| c.trim_start().starts_with(&self.cookie_prefix))
    }
}
