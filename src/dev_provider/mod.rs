//! The embedded development OpenID Provider.
//!
//! Started by `main` only when no issuer is configured, on its own loopback listener (its own
//! origin, so the browser really leaves the app and comes back, as with Okta). The app knows
//! nothing about it beyond its issuer URL and the generated client credentials: it discovers
//! and validates it exactly as it does Okta.
//!
//! It is a real (small) provider: discovery, JWKS (an RSA key kept in a git-ignored file so
//! restarts keep sessions valid), an authorization endpoint with a sign-in page (demo users,
//! anyone by email, Deny → `error=access_denied`), a token endpoint (authorization_code with
//! PKCE S256 checked; refresh_token with Okta-like rotation, grace period and family
//! revocation — see [`grants`]), userinfo and RP-initiated logout. ID tokens are built and
//! signed (RS256) with the openidconnect crate's own types.

mod authorize;
mod client_auth;
mod discovery;
mod dpop;
pub mod grants;
mod keys;
pub mod page;
mod persist;
mod sessions;
mod token;
mod userinfo;

use authorize::{authorize, decision, pushed};
use discovery::{discovery, discovery_document};
use keys::{jwks, key_id, load_or_create_key, load_or_create_secret};
use token::{oauth_error, token};
use userinfo::{logout, userinfo};

use std::{
    collections::HashMap,
    net::SocketAddr,
    path::PathBuf,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Router,
    http::{HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Redirect, Response},
    routing::{get, post},
};
use openidconnect::{
    AdditionalClaims, EmptyExtraTokenFields, JsonWebKeyId, JsonWebKeySet, PrivateSigningKey,
    core::{
        CoreGenderClaim, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm,
        CoreRsaPrivateSigningKey,
    },
};
use serde::{Deserialize, Serialize};

use crate::{
    secret::Secret,
    settings::{DemoUser, Settings, is_loopback_host},
    util::lock,
};
use grants::{Grants, Lifetimes, Stats};

/// The client the app is registered as.
pub const CLIENT_ID: &str = "signin-dev";
const ID_TOKEN_TTL: i64 = 3600;
const INTERACTION_TTL: i64 = 600;

/// A demo user button on the sign-in page.
pub struct DemoButton {
    pub name: String,
    pub email: String,
}

/// Claims beyond the standard ones: the provider session id and a demo user's extras.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct DevClaims {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sid: Option<String>,
    #[serde(flatten)]
    extra: serde_json::Map<String, serde_json::Value>,
}
impl AdditionalClaims for DevClaims {}

type DevIdToken = openidconnect::IdToken<
    DevClaims,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;
type DevIdTokenFields = openidconnect::IdTokenFields<
    DevClaims,
    EmptyExtraTokenFields,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;

#[derive(Clone, Debug)]
struct AuthRequest {
    redirect_uri: String,
    state: Option<String>,
    nonce: Option<String>,
    code_challenge: String,
    scope: String,
    created_at: i64,
    /// What the app asked of the sign-in (`max_age`, `prompt=login`, `acr_values`).
    asked: authorize::Asked,
}

struct Inner {
    issuer: String,
    client_secret: Secret,
    redirect_uris: Vec<String>,
    post_logout_uris: Vec<String>,
    key: CoreRsaPrivateSigningKey,
    kid: String,
    jwks: JsonWebKeySet<openidconnect::core::CoreJsonWebKey>,
    /// The app's public key when it authenticates with `private_key_jwt` (registered at start,
    /// as one pastes it into Okta); then only client assertions are accepted.
    client_jwk: Option<jsonwebtoken::jwk::Jwk>,
    seen_assertions: client_auth::SeenIds,
    /// DPoP: proofs seen (by `jti`) and the nonce the provider asks for.
    seen_proofs: client_auth::SeenIds,
    dpop_nonce: dpop::Nonce,
    /// The app's `APP_URL` (no trailing slash): back-channel and Universal Logout go there.
    app_base: String,
    /// For calls to the app (back-channel logout, Universal Logout).
    http: reqwest::Client,
    discovery: serde_json::Value,
    users: Vec<DemoUser>,
    life: Lifetimes,
    grants: Mutex<Grants>,
    interactions: Mutex<HashMap<String, AuthRequest>>,
    /// Pushed authorization requests (RFC 9126) by `request_uri`, each usable once.
    pushed: Mutex<HashMap<String, authorize::Pushed>>,
    grants_file: PathBuf,
    dirty: std::sync::atomic::AtomicBool,
}

#[derive(Clone)]
struct Op(Arc<Inner>);

/// A running development provider.
pub struct DevProvider {
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Secret,
    pub addr: SocketAddr,
    op: Op,
    server: tokio::task::JoinHandle<()>,
}

impl DevProvider {
    /// Points `settings` at this provider (issuer and the generated client), as start-up, the
    /// tests and the benchmark do.
    pub fn configure(&self, settings: &mut Settings) {
        settings.oidc.issuer = Some(self.issuer.clone());
        settings.oidc.client_id = self.client_id.clone();
        settings.oidc.client_secret = Some(self.client_secret.clone());
        if settings.oidc.display_name.is_none() {
            settings.oidc.display_name = Some("Development provider".into());
        }
    }

    /// Saves the grants now if they changed (they are saved every second anyway).
    pub fn save(&self) {
        self.op.persist();
    }

    /// Counters of what the provider has seen (token calls, refreshes, revocations, …).
    pub fn stats(&self) -> Stats {
        self.op.grants().stats.clone()
    }

    /// Stops answering (the port is closed): the provider is "down".
    pub fn stop(&self) {
        self.server.abort();
    }

    /// Starts answering again on the same address, with the same grants.
    pub async fn restart(&mut self) -> Result<(), String> {
        self.server.abort();
        let mut last = String::new();
        for _ in 0..50 {
            match tokio::net::TcpListener::bind(self.addr).await {
                Ok(listener) => {
                    self.server = tokio::spawn(serve(self.op.clone(), listener));
                    return Ok(());
                }
                Err(e) => {
                    last = e.to_string();
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
        Err(format!("cannot listen on {} again: {last}", self.addr))
    }
}

impl Drop for DevProvider {
    fn drop(&mut self) {
        self.server.abort();
        self.op.persist();
    }
}

async fn serve(op: Op, listener: tokio::net::TcpListener) {
    if let Err(e) = axum::serve(listener, router(op)).await {
        tracing::error!(error = %e, "development provider stopped");
    }
}

/// Whether the development provider may run for these settings. It signs anyone in as any
/// email, so it runs only when *every* one of these holds: no issuer is configured, `APP_URL`
/// is plain http on loopback, the provider binds a loopback address, and Leptos' environment
/// is not production. Otherwise: one line saying what to set.
pub fn check_allowed(settings: &Settings) -> Result<(), String> {
    const SET_ISSUER: &str =
        "set OIDC_ISSUER, OIDC_CLIENT_ID and OIDC_CLIENT_SECRET to use a real provider";
    if settings.oidc.issuer.is_some() {
        return Err(
            "an issuer is configured (OIDC_ISSUER): the development provider is not used".into(),
        );
    }
    if settings.app.production {
        return Err(format!(
            "OIDC_ISSUER is not set and LEPTOS_ENV is production: the development provider never runs in production; {SET_ISSUER}"
        ));
    }
    let url = &settings.app.url;
    if url.scheme() != "http" || !url.host_str().is_some_and(is_loopback_host) {
        return Err(format!(
            "OIDC_ISSUER is not set and APP_URL ({url}) is not plain http on loopback: the development provider runs only for a local app; {SET_ISSUER}"
        ));
    }
    if !is_loopback_host(&settings.dev_provider.host) {
        return Err(format!(
            "DEV_PROVIDER_HOST ({}) is not a loopback address: the development provider listens only on this machine (use 127.0.0.1)",
            settings.dev_provider.host
        ));
    }
    Ok(())
}

/// Starts the provider for the app described by `settings`, when [`check_allowed`] allows it.
pub async fn start(settings: &Settings) -> Result<DevProvider, String> {
    check_allowed(settings)?;
    let dev = &settings.dev_provider;
    let dir = PathBuf::from(&dev.state_dir);
    crate::util::create_private_dir(&dir)
        .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let pem = load_or_create_key(&dir.join("key.pem"))?;
    let client_secret = match &dev.client_secret {
        Some(s) => s.expose().to_string(),
        None => load_or_create_secret(&dir.join("client_secret"))?,
    };

    let listener = tokio::net::TcpListener::bind((dev.host.as_str(), dev.port))
        .await
        .map_err(|e| {
            format!(
                "cannot listen on {}:{} (DEV_PROVIDER_PORT): {e}",
                dev.host, dev.port
            )
        })?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let host = if addr.ip().is_loopback() && dev.host == "localhost" {
        "localhost".to_string()
    } else {
        addr.ip().to_string()
    };
    let issuer = format!("http://{host}:{}", addr.port());

    let kid = key_id(&pem);
    let key = CoreRsaPrivateSigningKey::from_pem(&pem, Some(JsonWebKeyId::new(kid.clone())))
        .map_err(|e| format!("key.pem: {e}"))?;
    let jwks = JsonWebKeySet::new(vec![key.as_verification_key()]);
    let discovery = discovery_document(&issuer, settings.oidc.client_key.is_some())?;
    let grants_file = dir.join("grants.json");
    let grants = persist::load(&grants_file);
    let users = if dev.users.is_empty() {
        default_users()
    } else {
        dev.users.clone()
    };

    let op = Op(Arc::new(Inner {
        issuer: issuer.clone(),
        client_secret: Secret::new(client_secret.clone()),
        redirect_uris: vec![settings.redirect_uri()],
        post_logout_uris: vec![format!("{}/", settings.app_base())],
        key,
        kid,
        jwks,
        client_jwk: settings
            .oidc
            .client_key
            .as_ref()
            .map(|k| k.public_jwk().clone()),
        seen_assertions: Default::default(),
        seen_proofs: Default::default(),
        dpop_nonce: Default::default(),
        app_base: settings.app_base(),
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| format!("http client: {e}"))?,
        discovery,
        users,
        life: Lifetimes {
            access: dev.access_token_ttl.as_secs() as i64,
            refresh: dev.refresh_token_ttl.as_secs() as i64,
            grace: dev.rotation_grace.as_secs() as i64,
        },
        grants: Mutex::new(grants),
        interactions: Mutex::default(),
        pushed: Mutex::default(),
        grants_file,
        dirty: std::sync::atomic::AtomicBool::new(false),
    }));
    persist::every_second(&op);
    let server = tokio::spawn(serve(op.clone(), listener));
    Ok(DevProvider {
        issuer,
        client_id: CLIENT_ID.to_string(),
        client_secret: Secret::new(client_secret),
        addr,
        op,
        server,
    })
}

fn default_users() -> Vec<DemoUser> {
    let user = |name: &str, email: &str, username: &str, groups: &[&str]| DemoUser {
        name: name.into(),
        email: email.into(),
        preferred_username: Some(username.into()),
        claims: [("groups".to_string(), serde_json::json!(groups))]
            .into_iter()
            .collect(),
    };
    vec![
        user(
            "Ada Lovelace",
            "ada@example.com",
            "ada",
            &["Everyone", "Admins"],
        ),
        user("Grace Hopper", "grace@example.com", "grace", &["Everyone"]),
    ]
}

impl Op {
    fn grants(&self) -> std::sync::MutexGuard<'_, Grants> {
        lock(&self.0.grants)
    }

    /// Loopback redirect URIs are accepted too (several app instances on one machine).
    fn redirect_allowed(&self, uri: &str, registered: &[String]) -> bool {
        if registered.iter().any(|r| r == uri) {
            return true;
        }
        match url::Url::parse(uri) {
            Ok(u) => {
                u.scheme() == "http"
                    && matches!(u.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"))
            }
            Err(_) => false,
        }
    }
}

fn router(op: Op) -> Router {
    Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/jwks", get(jwks))
        .route("/authorize", get(authorize))
        .route("/authorize/decision", post(decision))
        .route("/par", post(pushed))
        .route("/token", post(token))
        .route("/userinfo", get(userinfo).post(userinfo))
        .route("/logout", get(logout))
        .route("/revoke", post(sessions::revoke))
        .route("/sessions", get(sessions::sessions_page))
        .route("/sessions/logout", post(sessions::sign_out_session))
        .route(
            "/sessions/universal-logout",
            post(sessions::universal_logout),
        )
        .with_state(op)
}

fn no_store(mut res: Response) -> Response {
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

fn redirect_with(redirect_uri: &str, params: &[(&str, &str)]) -> Response {
    match url::Url::parse(redirect_uri) {
        Ok(mut u) => {
            if !params.is_empty() {
                let mut q = u.query_pairs_mut();
                for (k, v) in params {
                    q.append_pair(k, v);
                }
            }
            no_store(Redirect::to(u.as_str()).into_response())
        }
        Err(_) => (
            StatusCode::BAD_REQUEST,
            Html(page::error("Invalid redirect URI.")),
        )
            .into_response(),
    }
}
