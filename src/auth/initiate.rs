//! Third-party-initiated login (OpenID Connect Core §4; Okta's "Initiate login URI"): the
//! provider, or a portal such as the Okta dashboard, sends the browser to
//! `/login?iss=…&target_link_uri=…[&login_hint=…]`.
//!
//! - `iss` must be this app's provider, exactly (a trailing `/` aside) — the configured issuer
//!   or the Okta org behind it: anything else, or `iss` given twice, gets a 400 page here,
//!   and no redirect anywhere. (This is hygiene, not authentication: anyone can write the
//!   right `iss` into a link; it only starts a sign-in at this app's own provider.)
//! - `target_link_uri` becomes the return path when it is on this app's origin; otherwise the
//!   default page;
//! - `login_hint` (who is signing in) is passed on to the provider, bounded.
//!
//! The checks are plain functions; [`refuse_unknown_issuer`] is the middleware in front of
//! `/login` (a server function cannot answer with a page of its own).

use axum::{
    extract::{Request, State},
    http::{HeaderValue, StatusCode, header},
    middleware::Next,
    response::{Html, IntoResponse, Response},
};

use super::{reason::ErrorReason, return_to::safe_return_to};
use crate::state::AppState;

/// The longest `login_hint` passed on.
pub const MAX_LOGIN_HINT: usize = 254;

/// Whether `iss` names `issuer` (the configured one): equal, or equal but for a trailing `/`.
pub fn same_issuer(iss: &str, issuer: &str) -> bool {
    iss == issuer || iss.trim_end_matches('/') == issuer.trim_end_matches('/') && !iss.is_empty()
}

/// Whether `iss` names this app's provider: the configured issuer, or the Okta org behind it
/// (the dashboard's login may name the org even when the app uses a custom authorization
/// server; `OIDC_ORG_ISSUER`, else the issuer without `/oauth2/…`).
pub fn known_issuer(iss: &str, issuer: &str, org: Option<&str>) -> bool {
    same_issuer(iss, issuer) || org.is_some_and(|org| same_issuer(iss, org))
}

/// The return path in `target_link_uri`, when it is on `origin` (`scheme://host[:port]`, as
/// `APP_URL` gives it) and a safe path; `None` otherwise (the default page then).
pub fn target_path(target_link_uri: &str, origin: &str) -> Option<String> {
    let url = url::Url::parse(target_link_uri).ok()?;
    let ours = url::Url::parse(origin).ok()?;
    if url.origin() != ours.origin() || !url.username().is_empty() || url.password().is_some() {
        return None;
    }
    let path = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    };
    safe_return_to(&path).map(str::to_string)
}

/// A `login_hint` worth passing on: an identifier (an email, a username), not control
/// characters, at most [`MAX_LOGIN_HINT`] long; anything else is dropped.
pub fn login_hint(hint: &str) -> Option<&str> {
    let hint = hint.trim();
    (!hint.is_empty() && hint.len() <= MAX_LOGIN_HINT && !hint.chars().any(char::is_control))
        .then_some(hint)
}

/// In front of `/login`: a third-party-initiated login naming another issuer gets a 400 page
/// (the reason in plain words, a link home) — no redirect, not even to the app's error page.
pub async fn refuse_unknown_issuer(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    if req.uri().path() != "/login" {
        return next.run(req).await;
    }
    let given: Vec<String> =
        url::form_urlencoded::parse(req.uri().query().unwrap_or_default().as_bytes())
            .filter(|(k, _)| k == "iss")
            .map(|(_, v)| v.into_owned())
            .collect();
    let org = state.settings.oidc.org_issuer();
    // the default provider (or its Okta org), or any other configured provider (or its org)
    let known = |iss: &String| {
        known_issuer(iss, state.oidc().issuer(), org.as_deref())
            || state.providers().by_issuer(iss).is_some()
    };
    match given.as_slice() {
        [] => next.run(req).await,
        [iss] if known(iss) => next.run(req).await,
        _ => {
            tracing::info!("third-party-initiated login from an unknown issuer refused");
            error_page(ErrorReason::UnknownIssuer)
        }
    }
}

/// A page of its own (the app's stylesheet, the error card), for answers that must not
/// redirect.
fn error_page(reason: ErrorReason) -> Response {
    let html = crate::plain_page::error_page(reason);
    let status = StatusCode::from_u16(reason.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let mut res = (status, Html(html)).into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuers() {
        let okta = "https://dev-1.okta.com/oauth2/default";
        assert!(same_issuer(okta, okta));
        assert!(same_issuer("https://dev-1.okta.com/oauth2/default/", okta));
        assert!(same_issuer(okta, "https://dev-1.okta.com/oauth2/default/"));
        assert!(
            !same_issuer("https://dev-1.okta.com", okta),
            "the org server is another issuer"
        );
        assert!(!same_issuer("https://dev-1.okta.com/oauth2/default2", okta));
        assert!(!same_issuer("https://evil.example/oauth2/default", okta));
        assert!(!same_issuer("", "/"));
        assert!(
            !same_issuer("HTTPS://dev-1.okta.com/oauth2/default", okta),
            "exact"
        );
    }

    #[test]
    fn targets() {
        let origin = "https://app.example";
        let t = |u: &str| target_path(u, origin);
        assert_eq!(
            t("https://app.example/reports?tab=week").as_deref(),
            Some("/reports?tab=week")
        );
        assert_eq!(t("https://app.example").as_deref(), Some("/"));
        assert_eq!(
            t("https://app.example:443/profile").as_deref(),
            Some("/profile")
        );
        assert_eq!(t("http://app.example/profile"), None, "another scheme");
        assert_eq!(t("https://app.example.evil/profile"), None);
        assert_eq!(t("https://evil.example/https://app.example/"), None);
        assert_eq!(t("https://user@app.example/profile"), None);
        assert_eq!(t("/profile"), None, "not a URI");
        assert_eq!(t("javascript:alert(1)"), None);
        assert_eq!(
            t("https://app.example//evil.example"),
            None,
            "protocol-relative path"
        );
        assert_eq!(
            target_path("http://localhost:3000/a", "http://localhost:3000").as_deref(),
            Some("/a")
        );
    }

    #[test]
    fn hints() {
        assert_eq!(login_hint(" ada@example.com "), Some("ada@example.com"));
        assert_eq!(login_hint(""), None);
        assert_eq!(login_hint("a\nb"), None);
        assert_eq!(login_hint(&"x".repeat(255)), None);
    }
}
