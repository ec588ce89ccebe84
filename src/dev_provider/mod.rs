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

pub mod grants;
pub mod page;
mod sessions;

use std::{
    collections::HashMap,
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Form, Json, Router,
    extract::{Query, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Redirect, Response},
    routing::{get, post},
};
use chrono::{TimeZone, Utc};
use openidconnect::{
    AccessToken, AdditionalClaims, Audience, AuthUrl, ClientId, EmptyAdditionalProviderMetadata,
    EmptyExtraTokenFields, EndSessionUrl, EndUserEmail, EndUserName, EndUserUsername, IssuerUrl,
    JsonWebKeyId, JsonWebKeySet, JsonWebKeySetUrl, LogoutProviderMetadata, Nonce,
    PrivateSigningKey, ProviderMetadataWithLogout, RefreshToken, ResponseTypes, Scope,
    StandardClaims, StandardTokenResponse, SubjectIdentifier, TokenUrl, UserInfoUrl,
    core::{
        CoreClaimName, CoreClientAuthMethod, CoreGenderClaim, CoreGrantType,
        CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm, CoreResponseType,
        CoreRsaPrivateSigningKey, CoreSubjectIdentifierType, CoreTokenType,
    },
};
use serde::{Deserialize, Serialize};

use crate::{
    secret::Secret,
    settings::{DemoUser, Settings},
    util::{constant_time_eq, hex, lock, now},
};
use grants::{CodeGrant, GrantError, Grants, Identity, Issued, Lifetimes, Stats, random_token};

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
}

struct Inner {
    issuer: String,
    client_secret: Secret,
    redirect_uris: Vec<String>,
    post_logout_uris: Vec<String>,
    key: CoreRsaPrivateSigningKey,
    kid: String,
    jwks: JsonWebKeySet<openidconnect::core::CoreJsonWebKey>,
    /// The app's `APP_URL` (no trailing slash): back-channel and Universal Logout go there.
    app_base: String,
    /// For calls to the app (back-channel logout, Universal Logout).
    http: reqwest::Client,
    discovery: serde_json::Value,
    users: Vec<DemoUser>,
    life: Lifetimes,
    grants: Mutex<Grants>,
    interactions: Mutex<HashMap<String, AuthRequest>>,
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

/// Starts the provider for the app described by `settings` (whose issuer is unset).
pub async fn start(settings: &Settings) -> Result<DevProvider, String> {
    let dev = &settings.dev_provider;
    let dir = PathBuf::from(&dev.state_dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
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
    let discovery = discovery_document(&issuer)?;
    let grants_file = dir.join("grants.json");
    let grants = std::fs::read_to_string(&grants_file)
        .ok()
        .and_then(|t| serde_json::from_str::<Grants>(&t).ok())
        .unwrap_or_default();
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
        grants_file,
        dirty: std::sync::atomic::AtomicBool::new(false),
    }));
    // persist grants at most once a second, so a restart keeps refresh tokens valid
    let persister = op.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            if Arc::strong_count(&persister.0) == 1 {
                break;
            }
            persister.persist();
        }
    });
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

fn load_or_create_key(path: &Path) -> Result<String, String> {
    if let Ok(pem) = std::fs::read_to_string(path) {
        return Ok(pem);
    }
    use rsa::pkcs1::EncodeRsaPrivateKey;
    let key = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048)
        .map_err(|e| format!("RSA key: {e}"))?;
    let pem = key
        .to_pkcs1_pem(rsa::pkcs1::LineEnding::LF)
        .map_err(|e| format!("RSA key: {e}"))?
        .to_string();
    write_private(path, &pem)?;
    Ok(pem)
}

fn load_or_create_secret(path: &Path) -> Result<String, String> {
    if let Ok(s) = std::fs::read_to_string(path) {
        let s = s.trim().to_string();
        if !s.is_empty() {
            return Ok(s);
        }
    }
    let secret = random_token();
    write_private(path, &secret)?;
    Ok(secret)
}

fn write_private(path: &Path, contents: &str) -> Result<(), String> {
    std::fs::write(path, contents).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
    }
    Ok(())
}

/// A stable key id: the first bytes of the SHA-256 of the PEM.
fn key_id(pem: &str) -> String {
    use sha2::Digest;
    hex(&sha2::Sha256::digest(pem.as_bytes())[..8])
}

fn discovery_document(issuer: &str) -> Result<serde_json::Value, String> {
    let url = |path: &str| format!("{issuer}{path}");
    let e = |e: openidconnect::url::ParseError| e.to_string();
    let metadata = ProviderMetadataWithLogout::new(
        IssuerUrl::new(issuer.to_string()).map_err(e)?,
        AuthUrl::new(url("/authorize")).map_err(e)?,
        JsonWebKeySetUrl::new(url("/jwks")).map_err(e)?,
        vec![ResponseTypes::new(vec![CoreResponseType::Code])],
        vec![CoreSubjectIdentifierType::Public],
        vec![CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256],
        LogoutProviderMetadata {
            end_session_endpoint: Some(EndSessionUrl::new(url("/logout")).map_err(e)?),
            additional_metadata: EmptyAdditionalProviderMetadata {},
        },
    )
    .set_token_endpoint(Some(TokenUrl::new(url("/token")).map_err(e)?))
    .set_userinfo_endpoint(Some(UserInfoUrl::new(url("/userinfo")).map_err(e)?))
    .set_scopes_supported(Some(
        ["openid", "profile", "email", "offline_access"]
            .map(|s| Scope::new(s.into()))
            .to_vec(),
    ))
    .set_grant_types_supported(Some(vec![
        CoreGrantType::AuthorizationCode,
        CoreGrantType::RefreshToken,
    ]))
    .set_token_endpoint_auth_methods_supported(Some(vec![
        CoreClientAuthMethod::ClientSecretBasic,
        CoreClientAuthMethod::ClientSecretPost,
    ]))
    .set_claims_supported(Some(
        [
            "sub",
            "iss",
            "aud",
            "exp",
            "iat",
            "auth_time",
            "nonce",
            "name",
            "email",
            "email_verified",
            "preferred_username",
            "sid",
        ]
        .map(|c| CoreClaimName::new(c.into()))
        .to_vec(),
    ));
    let mut json = serde_json::to_value(&metadata).map_err(|e| e.to_string())?;
    if let Some(obj) = json.as_object_mut() {
        obj.insert(
            "code_challenge_methods_supported".into(),
            serde_json::json!(["S256"]),
        );
        obj.insert("revocation_endpoint".into(), url("/revoke").into());
        obj.insert(
            "revocation_endpoint_auth_methods_supported".into(),
            serde_json::json!(["client_secret_basic", "client_secret_post"]),
        );
        obj.insert("backchannel_logout_supported".into(), true.into());
        obj.insert("backchannel_logout_session_supported".into(), true.into());
    }
    Ok(json)
}

impl Op {
    fn grants(&self) -> std::sync::MutexGuard<'_, Grants> {
        lock(&self.0.grants)
    }

    fn changed(&self) {
        self.0
            .dirty
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    fn persist(&self) {
        if !self
            .0
            .dirty
            .swap(false, std::sync::atomic::Ordering::Relaxed)
        {
            return;
        }
        let text = match serde_json::to_string(&*self.grants()) {
            Ok(t) => t,
            Err(_) => return,
        };
        if let Err(e) = write_private(&self.0.grants_file, &text) {
            tracing::warn!(error = %e, "development provider: could not save grants");
        }
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

async fn discovery(State(op): State<Op>) -> Json<serde_json::Value> {
    Json(op.0.discovery.clone())
}

async fn jwks(State(op): State<Op>) -> Response {
    Json(op.0.jwks.clone()).into_response()
}

#[derive(Deserialize)]
struct AuthorizeQuery {
    response_type: Option<String>,
    client_id: Option<String>,
    redirect_uri: Option<String>,
    scope: Option<String>,
    state: Option<String>,
    nonce: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
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

async fn authorize(State(op): State<Op>, Query(q): Query<AuthorizeQuery>) -> Response {
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
    no_store(Html(page::sign_in_page(&interaction, "Signin", &buttons)).into_response())
}

#[derive(Deserialize)]
struct DecisionForm {
    interaction: String,
    user: Option<String>,
    email: Option<String>,
    action: Option<String>,
}

/// A stable subject for an email address.
fn subject_for(email: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(email.trim().to_lowercase().as_bytes());
    format!("dev|{}", hex(&digest[..8]))
}

fn identity_of(user: &DemoUser) -> Identity {
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

async fn decision(State(op): State<Op>, Form(form): Form<DecisionForm>) -> Response {
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
    let code = op.grants().add_code(CodeGrant {
        client_id: CLIENT_ID.into(),
        redirect_uri: request.redirect_uri.clone(),
        nonce: request.nonce.clone(),
        code_challenge: request.code_challenge.clone(),
        scope: request.scope.clone(),
        identity,
        auth_time: t,
        sid: random_token()[..16].to_string(),
        created_at: t,
        redeemed_family: None,
    });
    op.changed();
    with_state(vec![("code", code)])
}

#[derive(Deserialize)]
struct TokenForm {
    grant_type: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
    refresh_token: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
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
fn client_credentials(
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

async fn token(State(op): State<Op>, headers: HeaderMap, Form(form): Form<TokenForm>) -> Response {
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

fn token_response(op: &Op, issued: &Issued) -> Result<serde_json::Value, String> {
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

async fn userinfo(State(op): State<Op>, headers: HeaderMap) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    let grants = op.grants();
    let Some((family, _)) = grants.access(token, now()) else {
        let mut res = (StatusCode::UNAUTHORIZED, "invalid token").into_response();
        res.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer error=\"invalid_token\""),
        );
        return res;
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
struct LogoutQuery {
    id_token_hint: Option<String>,
    post_logout_redirect_uri: Option<String>,
    state: Option<String>,
}

async fn logout(State(op): State<Op>, Query(q): Query<LogoutQuery>) -> Response {
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

/// Drives this provider's sign-in page as a browser would: opens `authorize_url`, submits the
/// decision form with `fields` (e.g. `[("user", "0")]`, `[("action", "deny")]`) and returns
/// where the provider redirects (the app's callback URL). For tests and benchmarks.
pub async fn complete_sign_in(
    http: &reqwest::Client,
    authorize_url: &str,
    fields: &[(&str, &str)],
) -> Result<String, String> {
    let page = http
        .get(authorize_url)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if page.status() != StatusCode::OK {
        return Err(format!("authorize page answered {}", page.status()));
    }
    let html = page.text().await.map_err(|e| e.to_string())?;
    let interaction = html
        .split("name=\"interaction\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .ok_or("no interaction id on the sign-in page")?
        .to_string();
    let mut form: Vec<(&str, &str)> = vec![("interaction", &interaction)];
    form.extend_from_slice(fields);
    let base = authorize_url
        .split("/authorize")
        .next()
        .unwrap_or(authorize_url);
    let res = http
        .post(format!("{base}/authorize/decision"))
        .form(&form)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    res.headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .ok_or_else(|| format!("decision answered {} without a redirect", res.status()))
}
