//! `GET /api/me`: who is asking, as JSON — the person's `sub` and display claims — for the
//! session cookie (the app's own pages) or an `Authorization: Bearer` JWT access token (API
//! clients, `super::bearer`: RS256 with the issuer's keys, `iss`, `aud` = `AUTH_API_AUDIENCE`,
//! `exp`/`nbf` with the clock skew, a client from `AUTH_API_CLIENT_IDS` (by default this app's
//! own), and the scope `profile`).
//!
//! An API route answers for itself, never with a redirect (the auth middleware leaves it alone
//! even when sign-in is required everywhere): no credentials → 401 with
//! `WWW-Authenticate: Bearer realm=…`; a bad token → 401 `error="invalid_token"`; a header that
//! is not `Bearer` → 401 `error="invalid_request"`; a token without the scope → 403
//! `error="insufficient_scope"` (RFC 6750 §3). A bearer token wins over a cookie.

use axum::{
    Json,
    extract::{Request, State},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use openidconnect::core::CoreJwsSigningAlgorithm as Alg;
use serde_json::{Map, Value, json};

use super::{
    bearer::{BearerError, Rules, check, check_header},
    jwt,
    middleware::CurrentAuth,
};
use crate::{state::AppState, util::now};

pub const ME_PATH: &str = "/api/me";

/// The scopes a bearer token needs for `/api/me`.
const ME_SCOPES: &[&str] = &["profile"];

pub async fn me(State(state): State<AppState>, req: Request) -> Response {
    let Some(authorization) = req.headers().get(header::AUTHORIZATION) else {
        return match req.extensions().get::<CurrentAuth>() {
            Some(CurrentAuth::SignedIn(s)) => {
                let user = &s.verified.user;
                answer(json!({
                    "sub": user.sub,
                    "name": user.name,
                    "email": user.email,
                    "preferred_username": user.preferred_username,
                    "via": "session",
                }))
            }
            Some(CurrentAuth::Unavailable(_)) => unavailable(),
            // RFC 6750 §3.1: no error code when the request carried no credentials
            _ => challenge(&state, StatusCode::UNAUTHORIZED, None, None),
        };
    };
    let token = authorization
        .to_str()
        .ok()
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|t| !t.is_empty());
    let Some(token) = token else {
        return challenge(
            &state,
            StatusCode::UNAUTHORIZED,
            Some((
                "invalid_request",
                "use Authorization: Bearer <access token>",
            )),
            None,
        );
    };
    let skew = i64::try_from(state.settings.auth.clock_skew.as_secs()).unwrap_or(60);
    // by default only this app's own tokens (the development provider sets the client id at
    // start, after the settings were read)
    let clients = match state.settings.auth.api_client_ids.as_slice() {
        [] => vec![state.settings.oidc.client_id.clone()],
        listed => listed.to_vec(),
    };
    let rules = Rules {
        issuer: state.oidc().issuer(),
        audience: &state.settings.auth.api_audience,
        clients: &clients,
        now: now(),
        skew,
    };
    // A token that could not pass the rules is refused before any key is looked up: a made-up
    // `kid` waits for the next allowed key refetch, which only plausible tokens may cause.
    let plausible = jwt::unverified(token)
        .map_err(BearerError::from)
        .and_then(|t| {
            check_header(&t.header)?;
            check(&t.claims, &rules, &[])
        });
    let accepted = match plausible {
        Err(e) => Err(e),
        Ok(_) => match state
            .bearer_keys
            .verify(token, &[Alg::RsaSsaPkcs1V15Sha256])
            .await
        {
            Ok(verified) => check_header(&verified.header)
                .and_then(|()| check(&verified.claims, &rules, ME_SCOPES)),
            Err(e) => Err(BearerError::from(e)),
        },
    };
    match accepted {
        Ok(principal) => {
            let display = |name: &str| principal.claims.get(name).cloned().unwrap_or(Value::Null);
            answer(json!({
                "sub": principal.sub,
                "name": display("name"),
                "email": display("email"),
                "preferred_username": display("preferred_username"),
                "scopes": principal.scopes,
                "via": "bearer",
            }))
        }
        Err(BearerError::InvalidToken(why)) => {
            tracing::debug!(reason = %why, "bearer token refused");
            challenge(
                &state,
                StatusCode::UNAUTHORIZED,
                Some(("invalid_token", &why)),
                None,
            )
        }
        Err(BearerError::InsufficientScope(scopes)) => challenge(
            &state,
            StatusCode::FORBIDDEN,
            Some(("insufficient_scope", "the token lacks a required scope")),
            Some(&scopes),
        ),
        Err(BearerError::KeysUnavailable) => unavailable(),
    }
}

fn answer(body: Value) -> Response {
    let mut r = Json(body).into_response();
    no_store(&mut r);
    r
}

fn no_store(r: &mut Response) {
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

/// 401/403 with the RFC 6750 challenge, and the same error as JSON.
fn challenge(
    state: &AppState,
    status: StatusCode,
    error: Option<(&str, &str)>,
    scope: Option<&str>,
) -> Response {
    // quoted-string values: our own words, with nothing that needs escaping
    let clean = |s: &str| s.replace(['"', '\\'], "'");
    let mut value = format!("Bearer realm=\"{}\"", clean(&state.settings.app_origin()));
    let mut body = Map::new();
    if let Some((code, description)) = error {
        value.push_str(&format!(
            ", error=\"{code}\", error_description=\"{}\"",
            clean(description)
        ));
        body.insert("error".into(), json!(code));
        body.insert("error_description".into(), json!(description));
    } else {
        body.insert("error".into(), json!("unauthorized"));
    }
    if let Some(scope) = scope {
        value.push_str(&format!(", scope=\"{}\"", clean(scope)));
        body.insert("scope".into(), json!(scope));
    }
    let mut r = (status, Json(Value::Object(body))).into_response();
    if let Ok(v) = HeaderValue::from_str(&value) {
        r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    no_store(&mut r);
    r
}

fn unavailable() -> Response {
    let mut r = (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::RETRY_AFTER, "5")],
        Json(json!({"error": "temporarily_unavailable"})),
    )
        .into_response();
    no_store(&mut r);
    r
}
