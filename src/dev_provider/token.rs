//! `/token`: authorization_code (PKCE S256) and refresh_token (rotation, grace period, family
//! revocation — see [`super::grants`]) with client authentication ([`super::client_auth`]).

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

use crate::util::now;

use super::client_auth::{ClientCredentials, authenticate};
use super::dpop;
use super::grants::{GrantError, Issued};
use super::{CLIENT_ID, DevClaims, DevIdToken, DevIdTokenFields, ID_TOKEN_TTL, Op, no_store};

#[derive(Deserialize)]
pub(super) struct TokenForm {
    grant_type: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
    refresh_token: Option<String>,
    #[serde(flatten)]
    client: ClientCredentials,
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

pub(super) async fn token(
    State(op): State<Op>,
    headers: HeaderMap,
    Form(form): Form<TokenForm>,
) -> Response {
    let endpoint = format!("{}/token", op.0.issuer);
    let client_id = match authenticate(&op, &headers, &form.client, &endpoint) {
        Ok(id) => id,
        Err(refusal) => return *refusal,
    };
    // DPoP: a valid proof binds what is issued to its key
    let jkt = match dpop::check(&op, &headers, "POST", &endpoint, None, dpop::At::Token) {
        Ok(jkt) => jkt,
        Err(refusal) => return *refusal,
    };
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
            let mut grants = op.grants();
            grants
                .redeem_code(code, &client_id, redirect_uri, verifier, t, &op.0.life)
                .map(|mut issued| {
                    if let Some(jkt) = &jkt {
                        grants.bind(&issued.family, jkt);
                        issued.jkt = Some(jkt.clone());
                    }
                    issued
                })
        }
        Some("refresh_token") => {
            let Some(refresh) = &form.refresh_token else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "refresh_token is required.",
                );
            };
            let mut grants = op.grants();
            // a bound family is refreshed only with a proof by the same key
            if let Some(bound) = grants.refresh_binding(refresh)
                && jkt.as_deref() != Some(bound.as_str())
            {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_dpop_proof",
                    "This refresh token is bound to another DPoP key.",
                );
            }
            grants.redeem_refresh(refresh, &client_id, t, &op.0.life)
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
            match issued.jkt {
                Some(_) => CoreTokenType::Extension("DPoP".into()),
                None => CoreTokenType::Bearer,
            },
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
