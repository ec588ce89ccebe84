//! One rule against cross-site request forgery, for every state-changing request (anything
//! but GET, HEAD and OPTIONS): the browser must say it comes from this app —
//! `Sec-Fetch-Site: same-origin` (or `none`: typed or bookmarked), or an `Origin` equal to
//! `APP_URL`'s origin. Otherwise 403, before any session is read. `SameSite=Lax` cookies
//! already keep most cross-site posts signed out; this also refuses same-site siblings
//! (`Sec-Fetch-Site: same-site`) and browsers that send neither header.
//!
//! Exempt, because they carry no cookies and so cannot ride on a person's session: the
//! endpoints the provider calls server-to-server (back-channel logout, Universal Logout), and
//! calls with `Authorization: Bearer` and no `Cookie` header.

use axum::{
    extract::{Request, State},
    http::{HeaderMap, Method, StatusCode, header},
    middleware::Next,
    response::Response,
};

use crate::{
    auth::routes::{BACKCHANNEL_LOGOUT_PATH, GLOBAL_TOKEN_REVOCATION_PATH},
    limits::refusal,
};

#[derive(Clone)]
pub struct Csrf {
    /// `APP_URL`'s origin, `scheme://host[:port]`.
    pub app_origin: String,
}

impl Csrf {
    pub async fn apply(State(csrf): State<Self>, req: Request, next: Next) -> Response {
        if csrf.allows(req.method(), req.uri().path(), req.headers()) {
            return next.run(req).await;
        }
        tracing::debug!(path = %req.uri().path(), "cross-site request refused");
        refusal(
            req.headers(),
            StatusCode::FORBIDDEN,
            "cross_site_request",
            "This request did not come from this app's own pages, so it was refused.",
        )
    }

    fn allows(&self, method: &Method, path: &str, headers: &HeaderMap) -> bool {
        if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
            return true;
        }
        if path == BACKCHANNEL_LOGOUT_PATH || path == GLOBAL_TOKEN_REVOCATION_PATH {
            return true;
        }
        let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let bearer = text(header::AUTHORIZATION.as_str()).is_some_and(|a| {
            a.get(..7)
                .is_some_and(|scheme| scheme.eq_ignore_ascii_case("bearer "))
        });
        if bearer && !headers.contains_key(header::COOKIE) {
            return true;
        }
        matches!(text("sec-fetch-site"), Some("same-origin" | "none"))
            || text(header::ORIGIN.as_str()) == Some(self.app_origin.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    #[test]
    fn the_rule() {
        let c = Csrf {
            app_origin: "https://app.example.com".into(),
        };
        let post = |pairs: &[(&str, &str)]| c.allows(&Method::POST, "/api/x", &headers(pairs));
        assert!(c.allows(&Method::GET, "/api/x", &headers(&[])));
        assert!(post(&[("sec-fetch-site", "same-origin")]));
        assert!(post(&[("sec-fetch-site", "none")]));
        assert!(post(&[("origin", "https://app.example.com")]));
        assert!(!post(&[]));
        assert!(!post(&[("sec-fetch-site", "same-site")]));
        assert!(!post(&[("sec-fetch-site", "cross-site")]));
        assert!(!post(&[("origin", "https://evil.example.com")]));
        assert!(!post(&[("origin", "null")]));
        assert!(!post(&[("origin", "https://app.example.com.evil.com")]));
        assert!(!post(&[("referer", "https://app.example.com/profile")]));
        // bearer calls carry no cookies; with a cookie they are browsers again
        assert!(post(&[("authorization", "Bearer abc")]));
        assert!(!post(&[
            ("authorization", "Bearer abc"),
            ("cookie", "sid=x")
        ]));
        assert!(!post(&[("authorization", "Basic abc")]));
        // the provider's server-to-server endpoints
        assert!(c.allows(&Method::POST, "/backchannel-logout", &headers(&[])));
        assert!(c.allows(&Method::POST, "/global-token-revocation", &headers(&[])));
        for m in [Method::PUT, Method::DELETE, Method::PATCH] {
            assert!(!c.allows(&m, "/api/x", &headers(&[])), "{m}");
        }
    }
}
