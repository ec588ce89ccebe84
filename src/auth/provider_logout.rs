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
//! every instance. The rules and keys are in [`super::logout_request`]; these are the adapters.

use axum::{
    Json,
    body::Bytes,
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

use crate::util::now;

use openidconnect::core::CoreJwsSigningAlgorithm as Alg;

use super::{
    error::AuthError,
    index::Who,
    jwt::JwtError,
    logout_request::{
        LOGOUT_ALGS, ProviderLogout, ProviderLogoutState, check_logout_token,
        check_revocation_request, replay_key, subject_of,
    },
};

/// Largest body either endpoint reads (a logout token or a `sub_id` object is far smaller).
pub const MAX_BODY: usize = 16 * 1024;

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
    let (issuer, client_id, keys) = p.signer_for(&token);
    let request = match keys.verify(&token, &LOGOUT_ALGS).await {
        Ok(t) => check_logout_token(&t, issuer, client_id, now(), p.skew),
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
    let replay = replay_key("bcl", issuer, &request.jti);
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
        p.keeper.revoke_in_background(&s.verified);
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
    let (issuers, org_keys) = p.org_signers_for(&bearer);
    let org = org_keys.issuer().to_string();
    let checked = match org_keys.verify(&bearer, &[Alg::RsaSsaPkcs1V15Sha256]).await {
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
    // the person at each provider of that org
    let whos: Option<Vec<Option<Who>>> = issuers
        .iter()
        .map(|issuer| subject_of(&body, issuer, &org))
        .collect();
    let Some(whos) = whos else {
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
    let mut ended = Vec::new();
    let mut failed = None;
    for who in whos.iter().flatten() {
        let (some, failure) = p.keeper.end_sessions_of(who, |_| true).await;
        ended.extend(some);
        failed = failed.or(failure);
    }
    if let Some(e) = failed {
        for s in ended {
            p.keeper.revoke_in_background(&s.verified);
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
        let Some(oidc) = p.keeper.providers.of(&s.verified) else {
            continue;
        };
        let outcome = oidc.revoke(&s.verified.tokens).await;
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
