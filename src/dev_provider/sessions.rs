//! The development provider's session management, so every provider-initiated sign-out can
//! be tried with zero set-up:
//!
//! - `POST /revoke` — RFC 7009 token revocation (client-authenticated like `/token`);
//! - `GET /sessions` — a page listing the live provider sessions, each with "Sign out"
//!   (ends that provider session and sends the app an OpenID Connect back-channel logout
//!   token) and "Universal Logout" (ends all of the person's sessions and sends the app a
//!   signed Okta Global Token Revocation request);
//! - RP-initiated logout (`/logout`) also sends the back-channel logout token, as a provider
//!   does for every client of the ended session.
//!
//! Tokens are signed with the provider's RS256 key (the openidconnect crate's signing key).

use axum::{
    Form,
    extract::{Query, State},
    http::{HeaderMap, StatusCode},
    response::{Html, IntoResponse, Redirect, Response},
};
use openidconnect::{PrivateSigningKey, core::CoreJwsSigningAlgorithm};
use serde::Deserialize;

use super::client_auth::{ClientCredentials, authenticate};
use super::{CLIENT_ID, Op, oauth_error, page};
use crate::auth::routes::{BACKCHANNEL_LOGOUT_PATH, GLOBAL_TOKEN_REVOCATION_PATH};
use crate::util::now;

#[derive(Deserialize)]
pub(super) struct RevokeForm {
    token: Option<String>,
    #[serde(flatten)]
    client: ClientCredentials,
}

/// `POST /revoke` (RFC 7009): always 200 for an authenticated client, known token or not.
pub(super) async fn revoke(
    State(op): State<Op>,
    headers: HeaderMap,
    Form(form): Form<RevokeForm>,
) -> Response {
    let endpoint = format!("{}/revoke", op.0.issuer);
    if let Err(refusal) = authenticate(&op, &headers, &form.client, &endpoint) {
        return *refusal;
    }
    let Some(token) = form.token.filter(|t| !t.is_empty()) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "token is missing",
        );
    };
    op.grants().revoke_token(&token, CLIENT_ID);
    op.changed();
    StatusCode::OK.into_response()
}

#[derive(Deserialize)]
pub(super) struct PageQuery {
    done: Option<String>,
}

/// `GET /sessions`.
pub(super) async fn sessions_page(State(op): State<Op>, Query(q): Query<PageQuery>) -> Response {
    let live = op.grants().live_sessions();
    let notice = match q.done.as_deref() {
        Some("logout") => Some("Signed out: the app was sent a back-channel logout token."),
        Some("universal") => {
            Some("Universal Logout: the app was sent a Global Token Revocation request.")
        }
        Some("failed") => Some("The app could not be reached; see the provider's log."),
        _ => None,
    };
    super::no_store(Html(page::sessions(&live, notice)).into_response())
}

#[derive(Deserialize)]
pub(super) struct SidForm {
    sid: String,
}

/// `POST /sessions/logout`: ends provider session `sid`, tells the app (back-channel).
pub(super) async fn sign_out_session(State(op): State<Op>, Form(form): Form<SidForm>) -> Response {
    let person = op
        .grants()
        .live_sessions()
        .into_iter()
        .find(|s| s.sid == form.sid)
        .map(|s| s.identity.sub);
    let Some(sub) = person else {
        return Redirect::to("/sessions").into_response();
    };
    op.grants().end_session(&form.sid);
    op.changed();
    let done = if send_backchannel_logout(&op, &form.sid, &sub).await {
        "logout"
    } else {
        "failed"
    };
    Redirect::to(&format!("/sessions?done={done}")).into_response()
}

#[derive(Deserialize)]
pub(super) struct PersonForm {
    sub: String,
}

/// `POST /sessions/universal-logout`: ends all of the person's provider sessions and sends
/// the app a Global Token Revocation request naming them by email.
pub(super) async fn universal_logout(
    State(op): State<Op>,
    Form(form): Form<PersonForm>,
) -> Response {
    let email = op
        .grants()
        .live_sessions()
        .into_iter()
        .find(|s| s.identity.sub == form.sub)
        .map(|s| s.identity.email);
    let Some(email) = email else {
        return Redirect::to("/sessions").into_response();
    };
    // tell the app first: it revokes the refresh tokens at this provider itself
    let sent = send_universal_logout(&op, &email).await;
    op.grants().end_person(&form.sub);
    op.changed();
    let done = if sent { "universal" } else { "failed" };
    Redirect::to(&format!("/sessions?done={done}")).into_response()
}

/// Signs `claims` with `header` (plus `alg` RS256 and the key's `kid`) as a compact JWT.
fn sign(op: &Op, header: serde_json::Value, claims: serde_json::Value) -> Option<String> {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut h = serde_json::json!({ "alg": "RS256", "kid": op.0.kid });
    if let (Some(h), serde_json::Value::Object(extra)) = (h.as_object_mut(), header) {
        h.extend(extra);
    }
    let input = format!(
        "{}.{}",
        b64.encode(h.to_string()),
        b64.encode(claims.to_string())
    );
    let signature =
        op.0.key
            .sign(
                &CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
                input.as_bytes(),
            )
            .ok()?;
    Some(format!("{input}.{}", b64.encode(signature)))
}

/// Sends the app a back-channel logout token for provider session `sid` of `sub`.
pub(super) async fn send_backchannel_logout(op: &Op, sid: &str, sub: &str) -> bool {
    let t = now();
    let claims = serde_json::json!({
        "iss": op.0.issuer,
        "aud": CLIENT_ID,
        "iat": t,
        "exp": t + 120,
        "jti": super::grants::random_token(),
        "events": { "http://schemas.openid.net/event/backchannel-logout": {} },
        "sub": sub,
        "sid": sid,
    });
    let Some(token) = sign(op, serde_json::json!({ "typ": "logout+jwt" }), claims) else {
        return false;
    };
    let url = format!("{}{BACKCHANNEL_LOGOUT_PATH}", op.0.app_base);
    let sent =
        op.0.http
            .post(&url)
            .form(&[("logout_token", token)])
            .send()
            .await;
    op.grants().stats.backchannel_logouts_sent += 1;
    report("back-channel logout", &url, sent)
}

/// Sends the app an Okta Global Token Revocation request for the person with `email`.
async fn send_universal_logout(op: &Op, email: &str) -> bool {
    let t = now();
    let url = format!("{}{GLOBAL_TOKEN_REVOCATION_PATH}", op.0.app_base);
    let claims = serde_json::json!({
        "iss": op.0.issuer,
        "aud": url,
        "iat": t,
        "exp": t + 300,
        "jti": super::grants::random_token(),
    });
    let Some(token) = sign(
        op,
        serde_json::json!({ "typ": "global-token-revocation+jwt" }),
        claims,
    ) else {
        return false;
    };
    let body = serde_json::json!({ "sub_id": { "format": "email", "email": email } });
    let sent =
        op.0.http
            .post(&url)
            .bearer_auth(token)
            .json(&body)
            .send()
            .await;
    op.grants().stats.universal_logouts_sent += 1;
    report("universal logout", &url, sent)
}

fn report(what: &str, url: &str, sent: Result<reqwest::Response, reqwest::Error>) -> bool {
    match sent {
        Ok(r) if r.status().is_success() => {
            tracing::info!(%url, status = %r.status(), "development provider: {what} sent");
            true
        }
        Ok(r) => {
            tracing::warn!(%url, status = %r.status(), "development provider: the app refused the {what}");
            false
        }
        Err(e) => {
            tracing::warn!(%url, error = %e, "development provider: could not send the {what}");
            false
        }
    }
}
