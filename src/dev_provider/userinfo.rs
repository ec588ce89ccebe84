//! `/userinfo` and RP-initiated logout (`/logout`, which also sends the app a back-channel
//! logout token).

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use chrono::{TimeZone, Utc};
use openidconnect::{ClientId, IssuerUrl, Nonce};
use serde::Deserialize;

use crate::util::now;

use super::{CLIENT_ID, DevIdToken, Op, no_store, page, redirect_with, sessions};

/// `GET /userinfo`: a bearer token as `Authorization: Bearer`; a DPoP-bound one only as
/// `Authorization: DPoP` with a proof by its key naming it ([`super::dpop`]).
pub(super) async fn userinfo(
    State(op): State<Op>,
    method: axum::http::Method,
    headers: HeaderMap,
    uri: axum::http::Uri,
) -> Response {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let (token, scheme_dpop) = match authorization.split_once(' ') {
        Some(("Bearer", t)) => (t, false),
        Some(("DPoP", t)) => (t, true),
        _ => ("", false),
    };
    let invalid = || {
        let mut res = (StatusCode::UNAUTHORIZED, "invalid token").into_response();
        res.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer error=\"invalid_token\""),
        );
        res
    };
    let bound = match op.grants().access(token, now()) {
        Some((family, _)) => family.jkt.clone(),
        None => return invalid(),
    };
    if let Some(jkt) = bound {
        if !scheme_dpop {
            return invalid();
        }
        let url = format!("{}{}", op.0.issuer, uri.path());
        match super::dpop::check(
            &op,
            &headers,
            method.as_str(),
            &url,
            Some(token),
            super::dpop::At::Resource,
        ) {
            Ok(Some(proven)) if proven == jkt => {}
            Ok(_) => return invalid(),
            Err(refusal) => return *refusal,
        }
    } else if scheme_dpop {
        return invalid();
    }
    let grants = op.grants();
    let Some((family, _)) = grants.access(token, now()) else {
        return invalid();
    };
    let id = &family.identity;
    let mut body = serde_json::json!({
        "sub": id.sub,
        "name": id.name,
        "email": id.email,
        "email_verified": true,
        "preferred_username": id.preferred_username,
    });
    if let Some(obj) = body.as_object_mut() {
        for (k, v) in &id.extra {
            obj.entry(k.clone()).or_insert(v.clone());
        }
    }
    no_store(Json(body).into_response())
}

#[derive(Deserialize)]
pub(super) struct LogoutQuery {
    id_token_hint: Option<String>,
    post_logout_redirect_uri: Option<String>,
    state: Option<String>,
}

pub(super) async fn logout(State(op): State<Op>, Query(q): Query<LogoutQuery>) -> Response {
    // The hint may have expired; only its signature and issuer matter here.
    let ended = q.id_token_hint.as_deref().and_then(|hint| {
        let token: DevIdToken = hint.parse().ok()?;
        let verifier = openidconnect::IdTokenVerifier::new_public_client(
            ClientId::new(CLIENT_ID.into()),
            IssuerUrl::new(op.0.issuer.clone()).ok()?,
            op.0.jwks.clone(),
        )
        .set_time_fn(|| Utc.timestamp_opt(0, 0).single().unwrap_or_default());
        let claims = token.claims(&verifier, |_: Option<&Nonce>| Ok(())).ok()?;
        let sid = claims.additional_claims().sid.clone()?;
        Some((sid, claims.subject().to_string()))
    });
    let sid = ended.as_ref().map(|(sid, _)| sid.clone());
    if let Some((sid, sub)) = ended {
        // every client of the ended session hears of it (the app has already signed out)
        let op = op.clone();
        tokio::spawn(async move {
            sessions::send_backchannel_logout(&op, &sid, &sub).await;
        });
    }
    {
        let mut grants = op.grants();
        match &sid {
            Some(sid) => grants.end_session(sid),
            None => grants.stats.end_session_calls += 1,
        }
    }
    op.changed();
    match q.post_logout_redirect_uri {
        Some(uri) if sid.is_some() && op.redirect_allowed(&uri, &op.0.post_logout_uris) => {
            let params: Vec<(&str, &str)> = q
                .state
                .as_deref()
                .map(|s| vec![("state", s)])
                .unwrap_or_default();
            redirect_with(&uri, &params)
        }
        _ => no_store(Html(page::signed_out()).into_response()),
    }
}
