//! `/token`: authorization_code (PKCE S256) and refresh_token (rotation, grace period, family
//! revocation — see [`super::grants`]) with client authentication (Basic or form).

use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use chrono::{TimeZone, Utc};
use openidconnect::core::{CoreJwsSigningAlgorithm, CoreTokenType};
use openidconnect::{
    AccessToken, Audience, ClientId, EmptyExtraTokenFields, EndUserEmail, EndUserName,
    EndUserUsername, IssuerUrl, Nonce, RefreshToken, Scope, StandardClaims, StandardTokenResponse,
    SubjectIdentifier,
};
use serde::Deserialize;

use crate::util::{constant_time_eq, now};

use super::grants::{GrantError, Issued};
use super::{CLIENT_ID, DevClaims, DevIdToken, DevIdTokenFields, ID_TOKEN_TTL, Op, no_store};

#[derive(Deserialize)]
pub(super) struct TokenForm {
    grant_type: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
    refresh_token: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

pub(super) fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let mut res = (
        status,
        Json(serde_json::json!({ "error": error, "error_description": description })),
    )
        .into_response();
    if status == StatusCode::UNAUTHORIZED {
        res.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"dev-provider\""),
        );
    }
    no_store(res)
}

/// Client credentials from `Authorization: Basic` or the form body.
pub(super) fn client_credentials(
    headers: &HeaderMap,
    form_id: Option<String>,
    form_secret: Option<String>,
) -> Option<(String, String)> {
    if let Some(basic) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
    {
        use base64::Engine;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(basic.trim())
            .ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let (id, secret) = text.split_once(':')?;
        let unescape = |s: &str| {
            url::form_urlencoded::parse(format!("x={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
        };
        return Some((unescape(id)?, unescape(secret)?));
    }
    Some((form_id?, form_secret?))
}

pub(super) async fn token(
    State(op): State<Op>,
    headers: HeaderMap,
    Form(form): Form<TokenForm>,
) -> Response {
    let Some((client_id, secret)) =
        client_credentials(&headers, form.client_id.clone(), form.client_secret.clone())
    else {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client authentication is required.",
        );
    };
    if client_id != CLIENT_ID
        || !constant_time_eq(secret.as_bytes(), op.0.client_secret.expose().as_bytes())
    {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Unknown client or wrong secret.",
        );
    }
    let t = now();
    let result = match form.grant_type.as_deref() {
        Some("authorization_code") => {
            let (Some(code), Some(redirect_uri), Some(verifier)) =
                (&form.code, &form.redirect_uri, &form.code_verifier)
            else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "code, redirect_uri and code_verifier are required.",
                );
            };
            op.grants()
                .redeem_code(code, &client_id, redirect_uri, verifier, t, &op.0.life)
        }
        Some("refresh_token") => {
            let Some(refresh) = &form.refresh_token else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "refresh_token is required.",
                );
            };
            op.grants()
                .redeem_refresh(refresh, &client_id, t, &op.0.life)
        }
        _ => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "Use authorization_code or refresh_token.",
            );
        }
    };
    op.changed();
    match result {
        Ok(issued) => match token_response(&op, &issued) {
            Ok(body) => no_store(Json(body).into_response()),
            Err(e) => {
                tracing::error!(error = %e, "development provider could not sign a token");
                oauth_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "server_error",
                    "Could not issue tokens.",
                )
            }
        },
        Err(e @ (GrantError::RefreshReused | GrantError::CodeReused)) => {
            tracing::warn!(error = %e, "development provider: token reuse detected");
            oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", &e.to_string())
        }
        Err(e) => oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", &e.to_string()),
    }
}

pub(super) fn token_response(op: &Op, issued: &Issued) -> Result<serde_json::Value, String> {
    let t = now();
    let id = &issued.identity;
    let standard = StandardClaims::new(SubjectIdentifier::new(id.sub.clone()))
        .set_email(Some(EndUserEmail::new(id.email.clone())))
        .set_email_verified(Some(true))
        .set_name(Some(EndUserName::new(id.name.clone()).into()))
        .set_preferred_username(Some(EndUserUsername::new(id.preferred_username.clone())));
    let issuer = IssuerUrl::new(op.0.issuer.clone()).map_err(|e| e.to_string())?;
    let claims = openidconnect::IdTokenClaims::new(
        issuer,
        vec![Audience::new(CLIENT_ID.into())],
        Utc.timestamp_opt(t + ID_TOKEN_TTL, 0)
            .single()
            .ok_or("time")?,
        Utc.timestamp_opt(t, 0).single().ok_or("time")?,
        standard,
        DevClaims {
            sid: Some(issued.sid.clone()),
            extra: id.extra.clone(),
        },
    )
    .set_nonce(issued.nonce.clone().map(Nonce::new))
    .set_auth_time(Utc.timestamp_opt(issued.auth_time, 0).single())
    .set_auth_context_ref(
        issued
            .acr
            .clone()
            .map(openidconnect::AuthenticationContextClass::new),
    )
    .set_authorized_party(Some(ClientId::new(CLIENT_ID.into())));
    let access_token = AccessToken::new(issued.access_token.clone());
    let id_token = DevIdToken::new(
        claims,
        &op.0.key,
        CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        Some(&access_token),
        None,
    )
    .map_err(|e| e.to_string())?;
    let mut response: StandardTokenResponse<DevIdTokenFields, CoreTokenType> =
        StandardTokenResponse::new(
            access_token,
            CoreTokenType::Bearer,
            openidconnect::IdTokenFields::new(Some(id_token), EmptyExtraTokenFields {}),
        );
    response.set_expires_in(Some(&Duration::from_secs(op.0.life.access as u64)));
    response.set_refresh_token(issued.refresh_token.clone().map(RefreshToken::new));
    response.set_scopes(Some(
        issued
            .scope
            .split(' ')
            .map(|s| Scope::new(s.into()))
            .collect(),
    ));
    serde_json::to_value(&response).map_err(|e| e.to_string())
}
