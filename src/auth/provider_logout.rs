//! Sign-outs the provider starts, as two plain axum endpoints (the provider calls them
//! server-to-server; no cookies, no browser):
//!
//! - `POST /backchannel-logout` — OpenID Connect Back-Channel Logout 1.0. Form field
//!   `logout_token`: a JWT signed by the issuer, checked exactly as the spec says
//!   ([`check_logout_token`]). Every session of that provider session (`sid`) or person
//!   (`sub`) ends, on every instance. 200 with `Cache-Control: no-store`; anything wrong is a
//!   400 with an OAuth-style JSON error and changes nothing.
//! - `POST /global-token-revocation` — Okta Universal Logout (Global Token Revocation):
//!   `Authorization: Bearer <JWT>` signed by the Okta org ([`check_revocation_request`]), a
//!   JSON body naming the person by email or by `iss` + `sub`. Every session of the person
//!   ends and their refresh tokens are revoked at the provider: 204. 400 malformed body, 401
//!   bad or missing authentication (nothing changes), 404 unknown person, 422 could not
//!   revoke.
//!
//! A token id (`jti`) is accepted once: the replay cache lives in the session store, shared by
//! every instance.

use std::{sync::Arc, time::Duration};

use axum::{
    Json,
    body::Bytes,
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use openidconnect::core::CoreJwsSigningAlgorithm as Alg;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::util::{hex, now};

use super::{
    error::AuthError,
    index::Who,
    jwt::{self, JwtError, KeyCache, claims},
    refresh::SessionKeeper,
};

pub const BACKCHANNEL_LOGOUT_PATH: &str = "/backchannel-logout";
pub const GLOBAL_TOKEN_REVOCATION_PATH: &str = "/global-token-revocation";
/// Largest body either endpoint reads (a logout token or a `sub_id` object is far smaller).
pub const MAX_BODY: usize = 16 * 1024;

/// The `events` member that makes a JWT a logout token.
const LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// A logout token or revocation request older than this (by `iat`) is refused.
const MAX_AGE_SECS: i64 = 300;
/// Algorithms accepted for logout tokens: asymmetric only (the ID tokens' RS256, and what
/// else a provider may sign logout tokens with). Universal Logout: RS256 only.
const LOGOUT_ALGS: [Alg; 6] = [
    Alg::RsaSsaPkcs1V15Sha256,
    Alg::RsaSsaPkcs1V15Sha384,
    Alg::RsaSsaPkcs1V15Sha512,
    Alg::RsaSsaPssSha256,
    Alg::EcdsaP256Sha256,
    Alg::EcdsaP384Sha384,
];

/// What the two endpoints need, built once with the app state.
pub struct ProviderLogout {
    keeper: Arc<SessionKeeper>,
    issuer: String,
    client_id: String,
    /// `APP_URL` + [`GLOBAL_TOKEN_REVOCATION_PATH`]: the `aud` of a revocation request.
    revocation_audience: String,
    skew: i64,
    issuer_keys: KeyCache,
    org_keys: KeyCache,
}

/// The endpoints' axum state (cheap to clone).
#[derive(Clone)]
pub struct ProviderLogoutState(pub Arc<ProviderLogout>);

impl ProviderLogout {
    pub fn new(
        keeper: Arc<SessionKeeper>,
        issuer: String,
        org_issuer: String,
        client_id: String,
        app_base: &str,
        skew: Duration,
        http: reqwest::Client,
    ) -> Self {
        Self {
            keeper,
            issuer_keys: KeyCache::new(issuer.clone(), http.clone()),
            org_keys: KeyCache::new(org_issuer, http),
            issuer,
            client_id,
            revocation_audience: format!("{app_base}{GLOBAL_TOKEN_REVOCATION_PATH}"),
            skew: i64::try_from(skew.as_secs()).unwrap_or(60),
        }
    }
}

/// What a valid logout token asks for.
#[derive(Debug, PartialEq, Eq)]
pub struct LogoutRequest {
    pub who: Who,
    /// With both `sid` and `sub`: only sessions of that provider session *and* person.
    pub also_sub: Option<String>,
    pub jti: String,
    /// Until when the `jti` must be remembered.
    pub remember_until: i64,
}

/// The rules of OpenID Connect Back-Channel Logout 1.0 §2.6 for a token whose signature has
/// been checked: `typ` (when present), `iss`, `aud`, `iat` recent, `exp` (when present), `jti`,
/// `events`, `sid` and/or `sub`, no `nonce`.
pub fn check_logout_token(
    t: &jwt::Verified,
    issuer: &str,
    client_id: &str,
    now: i64,
    skew: i64,
) -> Result<LogoutRequest, JwtError> {
    let fail = |why: &str| Err(JwtError::Claims(why.to_string()));
    let c = &t.claims;
    if claims::typ_is(&t.header, "logout+jwt") == Some(false) {
        return fail("typ must be logout+jwt");
    }
    if claims::required(c, "iss")?.trim_end_matches('/') != issuer.trim_end_matches('/') {
        return fail("iss is not the issuer");
    }
    if !claims::audience_has(c, client_id) {
        return fail("aud does not contain this client");
    }
    let Some(iat) = claims::number(c, "iat") else {
        return fail("iat is missing");
    };
    if iat > now + skew || iat < now - MAX_AGE_SECS - skew {
        return fail("iat is not recent");
    }
    let exp = match (c.get("exp"), claims::number(c, "exp")) {
        (None, _) => None,
        (Some(_), Some(exp)) if now < exp + skew => Some(exp),
        (Some(_), Some(_)) => return fail("the token has expired"),
        (Some(_), None) => return fail("exp is not a number"),
    };
    let jti = claims::required(c, "jti")?.to_string();
    match c.get("events").and_then(Value::as_object) {
        Some(events) if events.get(LOGOUT_EVENT).is_some_and(Value::is_object) => {}
        _ => return fail("events does not hold the back-channel logout event"),
    }
    if c.contains_key("nonce") {
        return fail("a logout token must not contain a nonce");
    }
    let iss = issuer.to_string();
    let sub = claims::string(c, "sub").map(str::to_string);
    let (who, also_sub) = match (claims::string(c, "sid"), sub) {
        (Some(sid), sub) => (
            Who::ProviderSession {
                iss,
                sid: sid.to_string(),
            },
            sub,
        ),
        (None, Some(sub)) => (Who::Subject { iss, sub }, None),
        (None, None) => return fail("sid or sub is required"),
    };
    Ok(LogoutRequest {
        who,
        also_sub,
        jti,
        remember_until: exp.unwrap_or(iat + MAX_AGE_SECS).max(iat + MAX_AGE_SECS) + skew,
    })
}

/// The rules of a Global Token Revocation request's bearer JWT (whose RS256 signature by the
/// org has been checked): `typ` `global-token-revocation+jwt`, `iss` the org, `aud` this
/// endpoint's URL, `exp` and `iat`, `jti`. Returns the `jti` and until when to remember it.
pub fn check_revocation_request(
    t: &jwt::Verified,
    org: &str,
    audience: &str,
    now: i64,
    skew: i64,
) -> Result<(String, i64), JwtError> {
    let fail = |why: &str| Err(JwtError::Claims(why.to_string()));
    let c = &t.claims;
    if claims::typ_is(&t.header, "global-token-revocation+jwt") != Some(true) {
        return fail("typ must be global-token-revocation+jwt");
    }
    if claims::required(c, "iss")?.trim_end_matches('/') != org.trim_end_matches('/') {
        return fail("iss is not the org");
    }
    if !claims::audience_has(c, audience) {
        return fail("aud is not this endpoint");
    }
    let (Some(exp), Some(iat)) = (claims::number(c, "exp"), claims::number(c, "iat")) else {
        return fail("exp and iat are required");
    };
    if now >= exp + skew {
        return fail("the token has expired");
    }
    if iat > now + skew {
        return fail("iat is in the future");
    }
    if iat < now - MAX_AGE_SECS - skew {
        return fail("iat is not recent");
    }
    let jti = claims::required(c, "jti")?.to_string();
    Ok((jti, exp.max(iat + MAX_AGE_SECS) + skew))
}

/// The person a Global Token Revocation body names. `None`: the body is malformed.
pub fn subject_of(body: &[u8], issuer: &str, org: &str) -> Option<Option<Who>> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let sub_id = value.get("sub_id")?.as_object()?;
    let text = |k: &str| {
        sub_id
            .get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    match text("format")? {
        "email" => Some(Some(Who::Email(text("email")?.to_string()))),
        "iss_sub" => {
            let (iss, sub) = (text("iss")?.trim_end_matches('/'), text("sub")?);
            // Okta names its users by the org's issuer; the app's sessions carry the
            // authorization server's — the same user id either way.
            let known = iss == issuer.trim_end_matches('/') || iss == org.trim_end_matches('/');
            Some(known.then(|| Who::Subject {
                iss: issuer.to_string(),
                sub: sub.to_string(),
            }))
        }
        _ => None,
    }
}

fn replay_key(kind: &str, iss: &str, jti: &str) -> String {
    let mut hash = Sha256::new();
    hash.update(iss.as_bytes());
    hash.update([0]);
    hash.update(jti.as_bytes());
    format!("{kind}:{}", hex(&hash.finalize()))
}

fn json_error(status: StatusCode, error: &str, description: &str) -> Response {
    let mut r = (
        status,
        Json(serde_json::json!({ "error": error, "error_description": description })),
    )
        .into_response();
    no_store(&mut r);
    r
}

fn no_store(r: &mut Response) {
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

/// `POST /backchannel-logout` (form field `logout_token`).
pub async fn backchannel_logout(State(p): State<ProviderLogoutState>, body: Bytes) -> Response {
    let p = &p.0;
    let token = url::form_urlencoded::parse(&body)
        .find(|(k, _)| k == "logout_token")
        .map(|(_, v)| v.into_owned());
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return json_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "logout_token is missing",
        );
    };
    let request = match p.issuer_keys.verify(&token, &LOGOUT_ALGS).await {
        Ok(t) => check_logout_token(&t, &p.issuer, &p.client_id, now(), p.skew),
        Err(e) => Err(e),
    };
    let request = match request {
        Ok(r) => r,
        Err(JwtError::KeysUnavailable(detail)) => return keys_unavailable(&detail),
        Err(e) => {
            tracing::warn!(error = %e, "back-channel logout refused");
            return json_error(StatusCode::BAD_REQUEST, "invalid_request", &e.to_string());
        }
    };
    let replay = replay_key("bcl", &p.issuer, &request.jti);
    match p
        .keeper
        .store
        .0
        .first_use(&replay, request.remember_until)
        .await
    {
        Ok(true) => {}
        Ok(false) => {
            tracing::warn!("back-channel logout refused: jti seen before");
            return json_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "the token was used before",
            );
        }
        Err(e) => return store_down(&e),
    }
    let also_sub = request.also_sub.clone();
    let (ended, failed) = p
        .keeper
        .end_sessions_of(&request.who, |s| {
            also_sub
                .as_deref()
                .is_none_or(|sub| s.verified.user.sub == sub)
        })
        .await;
    tracing::info!(sessions = ended.len(), "back-channel logout");
    for s in ended {
        p.keeper.revoke_in_background(s.verified.tokens);
    }
    if let Some(e) = failed {
        return retry_later(p, &replay, e).await;
    }
    let mut r = StatusCode::OK.into_response();
    no_store(&mut r);
    r
}

/// The signer's keys cannot be fetched: the sender should retry.
fn keys_unavailable(detail: &str) -> Response {
    tracing::warn!(error = %detail, "provider-initiated sign-out: the signer's keys cannot be fetched");
    json_error(
        StatusCode::SERVICE_UNAVAILABLE,
        "temporarily_unavailable",
        "the signer's keys cannot be fetched",
    )
}

fn store_down(e: &dyn std::fmt::Display) -> Response {
    tracing::warn!(error = %e, "provider-initiated sign-out: the session store is unavailable");
    json_error(
        StatusCode::SERVICE_UNAVAILABLE,
        "temporarily_unavailable",
        "sessions are unavailable right now",
    )
}

/// Some sessions could not be ended (the store failed): forget the token id so the sender's
/// retry is accepted, and ask for one.
async fn retry_later(p: &ProviderLogout, replay: &str, e: AuthError) -> Response {
    if let Err(e) = p.keeper.store.0.release_use(replay).await {
        tracing::warn!(error = %e, "could not forget a token id after a failed sign-out");
    }
    store_down(&e)
}

/// `POST /global-token-revocation` (Okta Universal Logout).
pub async fn global_token_revocation(
    State(p): State<ProviderLogoutState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let p = &p.0;
    let unauthorized = |why: &str| {
        let mut r = json_error(StatusCode::UNAUTHORIZED, "invalid_token", why);
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer error=\"invalid_token\""),
        );
        r
    };
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.split_once(' ')
                .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        })
        .map(|(_, t)| t.trim().to_string());
    let Some(bearer) = bearer.filter(|t| !t.is_empty()) else {
        return unauthorized("a bearer token is required");
    };
    let org = p.org_keys.issuer().to_string();
    let checked = match p
        .org_keys
        .verify(&bearer, &[Alg::RsaSsaPkcs1V15Sha256])
        .await
    {
        Ok(t) => check_revocation_request(&t, &org, &p.revocation_audience, now(), p.skew),
        Err(e) => Err(e),
    };
    let (jti, until) = match checked {
        Ok(ok) => ok,
        Err(JwtError::KeysUnavailable(detail)) => return keys_unavailable(&detail),
        Err(e) => {
            tracing::warn!(error = %e, "universal logout refused");
            return unauthorized(&e.to_string());
        }
    };
    let Some(who) = subject_of(&body, &p.issuer, &org) else {
        return json_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the body must be {\"sub_id\": {\"format\": \"email\" | \"iss_sub\", …}}",
        );
    };
    let replay = replay_key("gtr", &org, &jti);
    match p.keeper.store.0.first_use(&replay, until).await {
        Ok(true) => {}
        Ok(false) => return unauthorized("the token was used before"),
        Err(e) => return store_down(&e),
    }
    let (ended, failed) = match &who {
        Some(who) => p.keeper.end_sessions_of(who, |_| true).await,
        None => (Vec::new(), None),
    };
    if let Some(e) = failed {
        for s in ended {
            p.keeper.revoke_in_background(s.verified.tokens);
        }
        return retry_later(p, &replay, e).await;
    }
    if ended.is_empty() {
        return json_error(
            StatusCode::NOT_FOUND,
            "invalid_request",
            "no sessions of that person",
        );
    }
    let mut failed = 0;
    for s in &ended {
        let outcome = p.keeper.oidc.revoke(&s.verified.tokens).await;
        if !outcome.refresh_token_revoked() {
            failed += 1;
        }
    }
    tracing::info!(sessions = ended.len(), failed, "universal logout");
    if failed > 0 {
        return json_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "revocation_failed",
            "the sessions ended, but some refresh tokens could not be revoked at the provider",
        );
    }
    let mut r = StatusCode::NO_CONTENT.into_response();
    no_store(&mut r);
    r
}
