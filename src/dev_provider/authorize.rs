//! `/authorize` (the sign-in page: demo users, anyone by email, Deny) and
//! `/authorize/decision`, which issues the code (`crate::testing::complete_sign_in` drives the
//! page for tests and the benchmark). `POST /par` takes a pushed authorization request
//! (RFC 9126, client-authenticated) and answers a `request_uri`, good for 60 s, which
//! `/authorize` then reads the request from.
//!
//! Step-up, with zero set-up: the page says when the app asked for a fresh sign-in
//! (`max_age`, `prompt=login`) or a stronger one (`acr_values`). Every sign-in here is new
//! (`auth_time` = now) unless the person picks "a provider session from 10 minutes ago" — what
//! single sign-on with an earlier provider session looks like — which is not offered when a
//! fresh sign-in was asked. The first asked class this provider knows ([`ACR_CLASSES`]) goes
//! into the ID token's `acr` (a real provider would ask for the second factor here).

use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use crate::settings::DemoUser;
use crate::util::{hex, lock, now};

use super::grants::{CodeGrant, Identity, random_token};
use super::{
    AuthRequest, CLIENT_ID, DemoButton, INTERACTION_TTL, Op, no_store, page, redirect_with,
};

#[derive(Clone, Deserialize)]
pub(super) struct AuthorizeQuery {
    response_type: Option<String>,
    client_id: Option<String>,
    redirect_uri: Option<String>,
    scope: Option<String>,
    state: Option<String>,
    nonce: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    max_age: Option<String>,
    prompt: Option<String>,
    acr_values: Option<String>,
    /// Who is signing in, as the app was told (third-party-initiated login): the email field
    /// starts with it.
    login_hint: Option<String>,
    /// RFC 9126: the request was pushed; the rest comes from `/par`.
    request_uri: Option<String>,
}

/// A pushed authorization request, waiting for the browser.
pub(super) struct Pushed {
    query: AuthorizeQuery,
    /// The client that authenticated the push (the browser's `client_id` must be it).
    client_id: String,
    created_at: i64,
}

/// How long a `request_uri` is good for.
const PUSHED_TTL: i64 = 60;

/// The form of `POST /par`: the authorization request, and the client's credentials when
/// they come in the body.
#[derive(Deserialize)]
pub(super) struct PushedForm {
    #[serde(flatten)]
    query: AuthorizeQuery,
    client_secret: Option<String>,
    client_assertion_type: Option<String>,
    client_assertion: Option<String>,
}

/// `POST /par` (RFC 9126): the client authenticates as at `/token`; the request is checked as
/// `/authorize` would (client, redirect URI) and kept under a fresh `request_uri`.
pub(super) async fn pushed(
    State(op): State<Op>,
    headers: axum::http::HeaderMap,
    Form(form): Form<PushedForm>,
) -> Response {
    let credentials = super::client_auth::ClientCredentials {
        client_id: form.query.client_id.clone(),
        client_secret: form.client_secret,
        client_assertion_type: form.client_assertion_type,
        client_assertion: form.client_assertion,
    };
    let endpoint = format!("{}/par", op.0.issuer);
    let client_id = match super::client_auth::authenticate(&op, &headers, &credentials, &endpoint) {
        Ok(id) => id,
        Err(refusal) => return *refusal,
    };
    let query = form.query;
    if query.client_id.as_deref().is_some_and(|c| c != CLIENT_ID) || query.request_uri.is_some() {
        return super::oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "client_id must be the authenticated client's; request_uri is not allowed here.",
        );
    }
    if !query
        .redirect_uri
        .as_deref()
        .is_some_and(|r| op.redirect_allowed(r, &op.0.redirect_uris))
    {
        return super::oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "This redirect_uri is not registered for the client.",
        );
    }
    let request_uri = format!("urn:ietf:params:oauth:request_uri:{}", random_token());
    {
        let mut map = lock(&op.0.pushed);
        let t = now();
        map.retain(|_, p| t - p.created_at < PUSHED_TTL);
        map.insert(
            request_uri.clone(),
            Pushed {
                query,
                client_id,
                created_at: t,
            },
        );
    }
    (
        StatusCode::CREATED,
        axum::Json(serde_json::json!({ "request_uri": request_uri, "expires_in": PUSHED_TTL })),
    )
        .into_response()
}

/// The authentication context classes this provider can honour (Okta's).
pub const ACR_CLASSES: [&str; 6] = [
    "urn:okta:loa:1fa:any",
    "urn:okta:loa:1fa:pwd",
    "urn:okta:loa:2fa:any",
    "urn:okta:loa:2fa:any:ifpossible",
    "phr",
    "phrh",
];

/// How long ago "a provider session from earlier" signed in.
pub const EARLIER_SIGN_IN_SECS: i64 = 600;

/// What the app asked of a sign-in.
#[derive(Clone, Debug, Default)]
pub(super) struct Asked {
    /// `max_age`, when given.
    pub max_age: Option<i64>,
    pub prompt_login: bool,
    /// The class honoured: the first asked one this provider knows.
    pub acr: Option<String>,
    /// `acr_values` as asked (for the page).
    pub acr_values: Option<String>,
    /// `login_hint`, for the email field.
    pub login_hint: Option<String>,
}

impl Asked {
    fn from_query(q: &AuthorizeQuery) -> Self {
        let acr_values = q.acr_values.clone().filter(|v| !v.trim().is_empty());
        Asked {
            max_age: q.max_age.as_deref().and_then(|v| v.parse().ok()),
            prompt_login: q
                .prompt
                .as_deref()
                .is_some_and(|p| p.split(' ').any(|p| p == "login")),
            acr: acr_values.as_deref().and_then(|v| {
                v.split(' ')
                    .find(|c| ACR_CLASSES.contains(c))
                    .map(str::to_string)
            }),
            acr_values,
            login_hint: q.login_hint.clone().filter(|h| h.len() <= 254),
        }
    }

    /// An earlier provider session would do (no fresh sign-in asked, or one older than it).
    pub fn earlier_session_allowed(&self) -> bool {
        !self.prompt_login && self.max_age.is_none_or(|age| age >= EARLIER_SIGN_IN_SECS)
    }
}

pub(super) async fn authorize(State(op): State<Op>, Query(q): Query<AuthorizeQuery>) -> Response {
    // RFC 9126: a pushed request, for the same client, once
    let q = match q.request_uri.as_deref() {
        None => q,
        Some(uri) => {
            // (a reload of the sign-in page may use it again within its lifetime, as RFC 9126
            // allows; the code it leads to is good once)
            let pushed = lock(&op.0.pushed)
                .get(uri)
                .filter(|p| now() - p.created_at < PUSHED_TTL)
                .map(|p| (p.client_id.clone(), p.query.clone()));
            match pushed {
                Some((client_id, mut query)) if q.client_id.as_deref() == Some(&client_id) => {
                    query.client_id = Some(client_id);
                    query
                }
                _ => {
                    return (
                        StatusCode::BAD_REQUEST,
                        Html(page::error(
                            "This sign-in request has expired or is not this app's. Go back to the app and start again.",
                        )),
                    )
                        .into_response();
                }
            }
        }
    };
    let asked = Asked::from_query(&q);
    // Problems with the client or redirect URI are shown here, never redirected.
    if q.client_id.as_deref() != Some(CLIENT_ID) {
        return (
            StatusCode::BAD_REQUEST,
            Html(page::error("Unknown client_id.")),
        )
            .into_response();
    }
    let Some(redirect_uri) = q
        .redirect_uri
        .filter(|r| op.redirect_allowed(r, &op.0.redirect_uris))
    else {
        return (
            StatusCode::BAD_REQUEST,
            Html(page::error(
                "This redirect_uri is not registered for the client.",
            )),
        )
            .into_response();
    };
    let state = q.state.clone();
    let fail = |error: &str, description: &str| {
        let mut params = vec![("error", error), ("error_description", description)];
        if let Some(s) = state.as_deref() {
            params.push(("state", s));
        }
        params.push(("iss", op.0.issuer.as_str())); // RFC 9207
        redirect_with(&redirect_uri, &params)
    };
    if q.response_type.as_deref() != Some("code") {
        return fail(
            "unsupported_response_type",
            "Only the authorization code flow is supported.",
        );
    }
    let scope = q.scope.unwrap_or_default();
    if !scope.split(' ').any(|s| s == "openid") {
        return fail("invalid_scope", "The openid scope is required.");
    }
    let (Some(challenge), Some("S256")) =
        (q.code_challenge.clone(), q.code_challenge_method.as_deref())
    else {
        return fail(
            "invalid_request",
            "PKCE with code_challenge_method=S256 is required.",
        );
    };
    let interaction = random_token();
    {
        let mut map = lock(&op.0.interactions);
        let t = now();
        map.retain(|_, r| t - r.created_at < INTERACTION_TTL);
        map.insert(
            interaction.clone(),
            AuthRequest {
                redirect_uri: redirect_uri.clone(),
                state: q.state,
                nonce: q.nonce,
                code_challenge: challenge,
                scope,
                created_at: t,
                asked: asked.clone(),
            },
        );
    }
    let buttons: Vec<DemoButton> =
        op.0.users
            .iter()
            .map(|u| DemoButton {
                name: u.name.clone(),
                email: u.email.clone(),
            })
            .collect();
    no_store(Html(page::sign_in_page(&interaction, "Signin", &buttons, &asked)).into_response())
}

#[derive(Deserialize)]
pub(super) struct DecisionForm {
    interaction: String,
    user: Option<String>,
    email: Option<String>,
    action: Option<String>,
    /// "1": continue with a provider session from [`EARLIER_SIGN_IN_SECS`] ago.
    earlier: Option<String>,
}

/// A stable subject for an email address.
pub(super) fn subject_for(email: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(email.trim().to_lowercase().as_bytes());
    format!("dev|{}", hex(&digest[..8]))
}

pub(super) fn identity_of(user: &DemoUser) -> Identity {
    let username = user
        .preferred_username
        .clone()
        .unwrap_or_else(|| user.email.split('@').next().unwrap_or_default().to_string());
    Identity {
        sub: subject_for(&user.email),
        name: user.name.clone(),
        email: user.email.clone(),
        preferred_username: username,
        extra: user.claims.clone().into_iter().collect(),
    }
}

pub(super) async fn decision(State(op): State<Op>, Form(form): Form<DecisionForm>) -> Response {
    let request = lock(&op.0.interactions).remove(&form.interaction);
    let Some(request) = request.filter(|r| now() - r.created_at < INTERACTION_TTL) else {
        return (
            StatusCode::BAD_REQUEST,
            Html(page::error(
                "This sign-in page has expired. Go back to the app and start again.",
            )),
        )
            .into_response();
    };
    let with_state = |mut params: Vec<(&'static str, String)>| {
        if let Some(s) = &request.state {
            params.push(("state", s.clone()));
        }
        params.push(("iss", op.0.issuer.clone())); // RFC 9207
        let refs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        redirect_with(&request.redirect_uri, &refs)
    };
    if form.action.as_deref() == Some("deny") {
        return with_state(vec![
            ("error", "access_denied".into()),
            ("error_description", "The user denied the request.".into()),
        ]);
    }
    let identity = if let Some(i) = form.user.as_deref().and_then(|u| u.parse::<usize>().ok()) {
        match op.0.users.get(i) {
            Some(u) => identity_of(u),
            None => {
                return (
                    StatusCode::BAD_REQUEST,
                    Html(page::error("Unknown demo user.")),
                )
                    .into_response();
            }
        }
    } else {
        let email = form.email.unwrap_or_default().trim().to_string();
        let valid = email.len() <= 254
            && email
                .split_once('@')
                .is_some_and(|(a, b)| !a.is_empty() && b.contains('.'));
        if !valid {
            return (
                StatusCode::BAD_REQUEST,
                Html(page::error("Please enter a valid email address.")),
            )
                .into_response();
        }
        let local = email.split('@').next().unwrap_or_default().to_string();
        let mut name = local.replace(['.', '_', '-'], " ");
        if let Some(first) = name.get(0..1) {
            name = first.to_uppercase() + &name[1..];
        }
        identity_of(&DemoUser {
            name,
            email: email.clone(),
            preferred_username: Some(local),
            claims: Default::default(),
        })
    };
    let t = now();
    let earlier = form.earlier.as_deref() == Some("1") && request.asked.earlier_session_allowed();
    let code = op.grants().add_code(CodeGrant {
        client_id: CLIENT_ID.into(),
        redirect_uri: request.redirect_uri.clone(),
        nonce: request.nonce.clone(),
        code_challenge: request.code_challenge.clone(),
        scope: request.scope.clone(),
        identity,
        auth_time: if earlier { t - EARLIER_SIGN_IN_SECS } else { t },
        acr: request.asked.acr.clone(),
        sid: random_token()[..16].to_string(),
        created_at: t,
        redeemed_family: None,
    });
    op.changed();
    with_state(vec![("code", code)])
}
