//! A scriptable OpenID Provider double for failure cases: it signs whatever ID token a test
//! asks for (wrong audience, other key, expired, …), counts token calls, and can misbehave on
//! refresh. Tokens are built with the openidconnect crate's types.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex, OnceLock,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use axum::{
    Form, Json, Router,
    extract::{Query, State},
    http::{StatusCode, header},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use chrono::{TimeZone, Utc};
use openidconnect::{
    AccessToken, AdditionalClaims, Audience, AuthUrl, ClientId, EmptyAdditionalProviderMetadata,
    EndSessionUrl, EndUserEmail, IssuerUrl, JsonWebKeyId, JsonWebKeySetUrl, LogoutProviderMetadata,
    Nonce, PrivateSigningKey, ProviderMetadataWithLogout, ResponseTypes, StandardClaims,
    SubjectIdentifier, TokenUrl, UserInfoUrl,
    core::{
        CoreGenderClaim, CoreHmacKey, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm,
        CoreResponseType, CoreRsaPrivateSigningKey, CoreSubjectIdentifierType,
    },
};
use serde::Deserialize;

pub const CLIENT_ID: &str = "mock-client";

/// The provider session id (`sid`) in the mock's ID tokens.
#[derive(Clone, Debug, Default, serde::Serialize, Deserialize)]
pub struct SessionClaim {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
}
impl AdditionalClaims for SessionClaim {}
type MockIdTokenClaims = openidconnect::IdTokenClaims<SessionClaim, CoreGenderClaim>;
type MockIdToken = openidconnect::IdToken<
    SessionClaim,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;

/// How [`MockOp::jwt`] signs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Signer {
    /// The provider's published key (RS256 unless the header says otherwise).
    Good,
    /// A key the provider never published (same `kid`).
    OtherKey,
    /// HS256 with the client secret.
    ClientSecretHs256,
    /// `alg: none`, empty signature.
    Unsigned,
    /// The key published after a rotation (`kid` `mock-key-2`).
    Rotated,
}

/// An ID token written claim by claim (for cases the typed builder cannot express, such as a
/// missing `sub` or `iat`): `edit` changes the header and claims of a valid token.
#[derive(Clone, Copy, Debug)]
pub struct RawIdToken {
    pub edit: fn(&mut serde_json::Value, &mut serde_json::Value),
    pub signer: Signer,
}

/// A token request as received: its `Authorization` header and form fields.
pub type TokenRequest = (Option<String>, Vec<(String, String)>);

/// What the JWKS endpoint publishes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Jwks {
    /// The signing key, with its `kid`.
    #[default]
    Current,
    /// The signing key without a `kid`.
    CurrentWithoutKid,
    /// The signing key and another, neither with a `kid`.
    TwoWithoutKid,
    /// The signing key and the rotated one (`mock-key-2`).
    Rotated,
}
pub const CLIENT_SECRET: &str = "mock-secret-0123456789abcdef0123456789abcdef";

/// What the next ID tokens look like.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub enum Tweak {
    #[default]
    Good,
    OtherKey,
    WrongAud,
    WrongIss,
    Expired,
    WrongNonce,
    NoNonce,
    WrongAzp,
    ExtraAudNoAzp,
    /// One audience, no `azp`.
    NoAzp,
    Hs256,
    FutureIat,
    NoIdToken,
}

/// What a refreshed ID token changes from the original (OpenID Connect Core §12.2: none of
/// these may change).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefreshChange {
    /// `auth_time` moves on.
    AuthTime,
    /// `azp` disappears.
    NoAzp,
    /// A `nonce` other than the original one.
    OtherNonce,
    /// The original `nonce` repeated (allowed).
    SameNonce,
}

#[derive(Clone, Debug)]
pub struct Behaviour {
    pub id_token: Tweak,
    /// `auth_time` of the ID tokens (unix seconds).
    pub auth_time: Option<i64>,
    /// `acr` of the ID tokens.
    pub acr: Option<String>,
    /// How a refreshed ID token differs from the first one.
    pub refresh_change: Option<RefreshChange>,
    /// Extra members of userinfo's answer (e.g. an `acr` it must not be believed about).
    pub userinfo_extra: serde_json::Value,
    pub access_ttl: u64,
    pub refresh_token: bool,
    pub refresh_omits_refresh_token: bool,
    pub refresh_changes_sub: bool,
    pub refresh_invalid_grant: bool,
    pub refresh_delay: Duration,
    /// The refresh answer is sent this long after the rotation happened.
    pub refresh_answer_delay: Duration,
    pub refresh_sends_id_token: bool,
    pub userinfo_sub: Option<String>,
    /// The `sid` claim of ID tokens.
    pub sid: Option<String>,
    /// Userinfo answers with this status (and no claims) instead of the claims.
    pub userinfo_status: Option<u16>,
    pub userinfo_delay: Duration,
    /// Okta's rotation with grace 0: only the newest refresh token is accepted; using an
    /// older one is `invalid_grant` and revokes the whole family.
    pub strict_rotation: bool,
    /// Revocation answers with this status instead of 200.
    pub revocation_status: Option<u16>,
    /// DPoP: every token request with a proof is answered `use_dpop_nonce` (a provider
    /// that keeps asking).
    pub dpop_nonce_always: bool,
    pub revocation_delay: Duration,
    pub sub: String,
    /// RFC 9207: the `iss` put into the redirect back (`None`: none).
    pub response_iss: Option<String>,
    /// RFC 9207: advertise `authorization_response_iss_parameter_supported`.
    pub advertise_response_iss: bool,
    /// Discovery answers after this long.
    pub discovery_delay: Duration,
    /// Discovery answers 503.
    pub discovery_fails: bool,
    /// The `issuer` discovery announces, when not its own.
    pub discovery_issuer: Option<String>,
    /// Its issuer ends with `/` (as Auth0's does), in discovery and in every token; read at
    /// start.
    pub issuer_trailing_slash: bool,
    /// Code-grant ID tokens written claim by claim.
    pub raw_id_token: Option<RawIdToken>,
    pub jwks: Jwks,
}

impl Default for Behaviour {
    fn default() -> Self {
        Self {
            id_token: Tweak::Good,
            auth_time: None,
            acr: None,
            refresh_change: None,
            userinfo_extra: serde_json::json!({}),
            access_ttl: 300,
            refresh_token: true,
            refresh_omits_refresh_token: false,
            refresh_changes_sub: false,
            refresh_invalid_grant: false,
            refresh_delay: Duration::ZERO,
            refresh_answer_delay: Duration::ZERO,
            refresh_sends_id_token: true,
            userinfo_sub: None,
            sid: Some("mock-sid-1".into()),
            userinfo_status: None,
            userinfo_delay: Duration::ZERO,
            strict_rotation: false,
            revocation_status: None,
            revocation_delay: Duration::ZERO,
            dpop_nonce_always: false,
            sub: "mock-user-1".into(),
            response_iss: None,
            advertise_response_iss: false,
            discovery_delay: Duration::ZERO,
            discovery_fails: false,
            discovery_issuer: None,
            issuer_trailing_slash: false,
            raw_id_token: None,
            jwks: Jwks::Current,
        }
    }
}

struct Inner {
    issuer: String,
    key: CoreRsaPrivateSigningKey,
    other_key: CoreRsaPrivateSigningKey,
    /// `other_key` published as `mock-key-2` after a rotation.
    rotated_key: CoreRsaPrivateSigningKey,
    behaviour: Mutex<Behaviour>,
    /// The last authorization request's query parameters.
    last_authorize: Mutex<Vec<(String, String)>>,
    /// The last token request: its `Authorization` header and form.
    last_token_request: Mutex<Option<TokenRequest>>,
    nonces: Mutex<HashMap<String, Option<String>>>,
    /// The nonce of the last authorization-code ID token.
    first_nonce: Mutex<Option<String>>,
    token_calls: AtomicU64,
    refresh_calls: AtomicU64,
    refresh_seq: AtomicU64,
    userinfo_calls: AtomicU64,
    /// The newest refresh token of the family (strict rotation); `None` once revoked.
    newest_refresh: Mutex<Option<String>>,
    families_revoked: AtomicU64,
    /// Tokens revoked at the revocation endpoint (with a correctly authenticated client).
    revoked: Mutex<Vec<String>>,
    revocation_calls: AtomicU64,
}

#[derive(Clone)]
pub struct MockOp(Arc<Inner>);

fn other_key_pem() -> &'static str {
    static PEM: OnceLock<String> = OnceLock::new();
    PEM.get_or_init(|| {
        use rsa::pkcs1::EncodeRsaPrivateKey;
        let key = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).unwrap();
        key.to_pkcs1_pem(rsa::pkcs1::LineEnding::LF)
            .unwrap()
            .to_string()
    })
}

impl MockOp {
    pub async fn start(behaviour: Behaviour) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let slash = if behaviour.issuer_trailing_slash {
            "/"
        } else {
            ""
        };
        let issuer = format!("http://{}{slash}", listener.local_addr().unwrap());
        let kid = Some(JsonWebKeyId::new("mock-key".into()));
        let op = MockOp(Arc::new(Inner {
            issuer,
            key: CoreRsaPrivateSigningKey::from_pem(&super::shared_key_pem().unwrap(), kid.clone())
                .unwrap(),
            other_key: CoreRsaPrivateSigningKey::from_pem(other_key_pem(), kid).unwrap(),
            rotated_key: CoreRsaPrivateSigningKey::from_pem(
                other_key_pem(),
                Some(JsonWebKeyId::new("mock-key-2".into())),
            )
            .unwrap(),
            behaviour: Mutex::new(behaviour),
            last_authorize: Mutex::default(),
            last_token_request: Mutex::default(),
            nonces: Mutex::default(),
            first_nonce: Mutex::default(),
            token_calls: AtomicU64::new(0),
            refresh_calls: AtomicU64::new(0),
            refresh_seq: AtomicU64::new(0),
            userinfo_calls: AtomicU64::new(0),
            newest_refresh: Mutex::default(),
            families_revoked: AtomicU64::new(0),
            revoked: Mutex::default(),
            revocation_calls: AtomicU64::new(0),
        }));
        let router = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .route("/userinfo", get(userinfo))
            .route("/revoke", post(revoke))
            .with_state(op.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        op
    }

    pub fn issuer(&self) -> &str {
        &self.0.issuer
    }

    /// The last authorization request's query parameters.
    pub fn last_authorize(&self) -> Vec<(String, String)> {
        self.0.last_authorize.lock().unwrap().clone()
    }

    /// The last token request: its `Authorization` header and form fields.
    pub fn last_token_request(&self) -> Option<TokenRequest> {
        self.0.last_token_request.lock().unwrap().clone()
    }

    pub fn set(&self, f: impl FnOnce(&mut Behaviour)) {
        f(&mut self.0.behaviour.lock().unwrap());
    }

    pub fn token_calls(&self) -> u64 {
        self.0.token_calls.load(Ordering::SeqCst)
    }

    pub fn refresh_calls(&self) -> u64 {
        self.0.refresh_calls.load(Ordering::SeqCst)
    }

    pub fn userinfo_calls(&self) -> u64 {
        self.0.userinfo_calls.load(Ordering::SeqCst)
    }

    /// Tokens revoked so far, in order.
    pub fn revoked(&self) -> Vec<String> {
        self.0.revoked.lock().unwrap().clone()
    }

    pub fn revocation_calls(&self) -> u64 {
        self.0.revocation_calls.load(Ordering::SeqCst)
    }

    /// Waits up to `wait` until `n` tokens have been revoked.
    pub async fn wait_revoked(&self, n: usize, wait: Duration) -> Vec<String> {
        let deadline = tokio::time::Instant::now() + wait;
        while self.revoked().len() < n && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.revoked()
    }

    pub fn families_revoked(&self) -> u64 {
        self.0.families_revoked.load(Ordering::SeqCst)
    }

    /// A new refresh token; under strict rotation it becomes the only valid one.
    fn next_refresh_token(&self) -> String {
        let token = format!(
            "mock-rt-{}",
            self.0.refresh_seq.fetch_add(1, Ordering::SeqCst)
        );
        *self.0.newest_refresh.lock().unwrap() = Some(token.clone());
        token
    }

    /// A compact JWT with `header` (merged over `{"alg":"RS256","kid":"mock-key"}`) and
    /// `claims`, signed as `signer` says.
    pub fn jwt(
        &self,
        header: serde_json::Value,
        claims: serde_json::Value,
        signer: Signer,
    ) -> String {
        use base64::Engine;
        use openidconnect::PrivateSigningKey;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let mut h = serde_json::json!({"alg": "RS256", "kid": "mock-key"});
        if let serde_json::Value::Object(extra) = header {
            for (k, v) in extra {
                h[k] = v;
            }
        }
        // a member set to null is left out (e.g. no `kid`)
        h.as_object_mut().unwrap().retain(|_, v| !v.is_null());
        if signer == Signer::Unsigned {
            h["alg"] = "none".into();
        }
        if signer == Signer::ClientSecretHs256 {
            h["alg"] = "HS256".into();
        }
        if signer == Signer::Rotated && h.get("kid").is_some() {
            h["kid"] = "mock-key-2".into();
        }
        let input = format!(
            "{}.{}",
            b64.encode(h.to_string()),
            b64.encode(claims.to_string())
        );
        let alg: CoreJwsSigningAlgorithm = serde_json::from_value(h["alg"].clone()).unwrap();
        let signature = match signer {
            Signer::Good => self.0.key.sign(&alg, input.as_bytes()).unwrap(),
            Signer::OtherKey => self.0.other_key.sign(&alg, input.as_bytes()).unwrap(),
            Signer::ClientSecretHs256 => CoreHmacKey::new(CLIENT_SECRET.as_bytes())
                .sign(&alg, input.as_bytes())
                .unwrap(),
            Signer::Rotated => self.0.rotated_key.sign(&alg, input.as_bytes()).unwrap(),
            Signer::Unsigned => Vec::new(),
        };
        format!("{input}.{}", b64.encode(signature))
    }

    /// Settings pointing the app at this provider.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("OIDC_ISSUER", self.0.issuer.clone()),
            ("OIDC_CLIENT_ID", CLIENT_ID.into()),
            ("OIDC_CLIENT_SECRET", CLIENT_SECRET.into()),
        ]
    }

    fn id_token(
        &self,
        b: &Behaviour,
        sub: &str,
        nonce: Option<String>,
        access: &AccessToken,
    ) -> Option<String> {
        let now = Utc::now();
        let (iss, aud, exp, iat) = match b.id_token {
            Tweak::WrongIss => (
                "https://evil.example.com".to_string(),
                vec![CLIENT_ID.to_string()],
                now + chrono::Duration::minutes(5),
                now,
            ),
            Tweak::WrongAud => (
                self.0.issuer.clone(),
                vec!["someone-else".to_string()],
                now + chrono::Duration::minutes(5),
                now,
            ),
            Tweak::ExtraAudNoAzp => (
                self.0.issuer.clone(),
                vec![CLIENT_ID.to_string(), "someone-else".to_string()],
                now + chrono::Duration::minutes(5),
                now,
            ),
            Tweak::Expired => (
                self.0.issuer.clone(),
                vec![CLIENT_ID.to_string()],
                now - chrono::Duration::minutes(10),
                now - chrono::Duration::minutes(20),
            ),
            Tweak::FutureIat => (
                self.0.issuer.clone(),
                vec![CLIENT_ID.to_string()],
                now + chrono::Duration::minutes(30),
                now + chrono::Duration::minutes(10),
            ),
            _ => (
                self.0.issuer.clone(),
                vec![CLIENT_ID.to_string()],
                now + chrono::Duration::minutes(5),
                now,
            ),
        };
        let nonce = match b.id_token {
            Tweak::WrongNonce => Some("not-the-nonce".to_string()),
            Tweak::NoNonce => None,
            _ => nonce,
        };
        let azp = match b.id_token {
            Tweak::WrongAzp => Some("someone-else".to_string()),
            Tweak::ExtraAudNoAzp | Tweak::NoAzp => None,
            _ => Some(CLIENT_ID.to_string()),
        };
        let claims = MockIdTokenClaims::new(
            IssuerUrl::new(iss).unwrap(),
            aud.into_iter().map(Audience::new).collect(),
            exp,
            iat,
            StandardClaims::new(SubjectIdentifier::new(sub.into()))
                .set_email(Some(EndUserEmail::new(format!("{sub}@mock.test")))),
            SessionClaim { sid: b.sid.clone() },
        )
        .set_nonce(nonce.map(Nonce::new))
        .set_authorized_party(azp.map(ClientId::new))
        .set_auth_time(b.auth_time.and_then(|t| Utc.timestamp_opt(t, 0).single()))
        .set_auth_context_ref(
            b.acr
                .clone()
                .map(openidconnect::AuthenticationContextClass::new),
        );
        let token = match b.id_token {
            Tweak::NoIdToken => return None,
            Tweak::OtherKey => MockIdToken::new(
                claims,
                &self.0.other_key,
                CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
                Some(access),
                None,
            ),
            Tweak::Hs256 => MockIdToken::new(
                claims,
                &CoreHmacKey::new(CLIENT_SECRET.as_bytes()),
                CoreJwsSigningAlgorithm::HmacSha256,
                Some(access),
                None,
            ),
            _ => MockIdToken::new(
                claims,
                &self.0.key,
                CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
                Some(access),
                None,
            ),
        };
        Some(token.unwrap().to_string())
    }
}

async fn discovery(State(op): State<MockOp>) -> Response {
    let (delay, fails) = {
        let b = op.0.behaviour.lock().unwrap();
        (b.discovery_delay, b.discovery_fails)
    };
    tokio::time::sleep(delay).await;
    if fails {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let url = |p: &str| format!("{}{p}", op.0.issuer.trim_end_matches('/'));
    let metadata = ProviderMetadataWithLogout::new(
        IssuerUrl::new(op.0.issuer.clone()).unwrap(),
        AuthUrl::new(url("/authorize")).unwrap(),
        JsonWebKeySetUrl::new(url("/jwks")).unwrap(),
        vec![ResponseTypes::new(vec![CoreResponseType::Code])],
        vec![CoreSubjectIdentifierType::Public],
        vec![
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
            CoreJwsSigningAlgorithm::HmacSha256,
        ],
        LogoutProviderMetadata {
            end_session_endpoint: Some(EndSessionUrl::new(url("/logout")).unwrap()),
            additional_metadata: EmptyAdditionalProviderMetadata {},
        },
    )
    .set_token_endpoint(Some(TokenUrl::new(url("/token")).unwrap()))
    .set_userinfo_endpoint(Some(UserInfoUrl::new(url("/userinfo")).unwrap()));
    let mut json = serde_json::to_value(metadata).unwrap();
    json["revocation_endpoint"] = url("/revoke").into();
    if let Some(iss) = op.0.behaviour.lock().unwrap().discovery_issuer.clone() {
        json["issuer"] = iss.into();
    }
    if op.0.behaviour.lock().unwrap().advertise_response_iss {
        json["authorization_response_iss_parameter_supported"] = true.into();
    }
    Json(json).into_response()
}

async fn jwks(State(op): State<MockOp>) -> Response {
    let without_kid = |k: &CoreRsaPrivateSigningKey| {
        let mut v = serde_json::to_value(k.as_verification_key()).unwrap();
        v.as_object_mut().unwrap().remove("kid");
        v
    };
    let keys = match op.0.behaviour.lock().unwrap().jwks {
        Jwks::Current => vec![serde_json::to_value(op.0.key.as_verification_key()).unwrap()],
        Jwks::CurrentWithoutKid => vec![without_kid(&op.0.key)],
        Jwks::TwoWithoutKid => vec![without_kid(&op.0.other_key), without_kid(&op.0.key)],
        Jwks::Rotated => vec![
            serde_json::to_value(op.0.key.as_verification_key()).unwrap(),
            serde_json::to_value(op.0.rotated_key.as_verification_key()).unwrap(),
        ],
    };
    Json(serde_json::json!({ "keys": keys })).into_response()
}

#[derive(Deserialize)]
struct AuthorizeQuery {
    redirect_uri: String,
    state: Option<String>,
    nonce: Option<String>,
}

/// Signs in at once (no page): straight back with a code.
async fn authorize(
    State(op): State<MockOp>,
    Query(q): Query<AuthorizeQuery>,
    Query(all): Query<Vec<(String, String)>>,
) -> Response {
    *op.0.last_authorize.lock().unwrap() = all;
    let code = format!(
        "code-{}",
        op.0.token_calls.load(Ordering::SeqCst) + rand_suffix()
    );
    op.0.nonces.lock().unwrap().insert(code.clone(), q.nonce);
    let mut url = url::Url::parse(&q.redirect_uri).unwrap();
    url.query_pairs_mut().append_pair("code", &code);
    if let Some(s) = q.state {
        url.query_pairs_mut().append_pair("state", &s);
    }
    if let Some(iss) = op.0.behaviour.lock().unwrap().response_iss.clone() {
        url.query_pairs_mut().append_pair("iss", &iss);
    }
    Redirect::to(url.as_str()).into_response()
}

fn rand_suffix() -> u64 {
    use rand::RngCore;
    rand::rngs::OsRng.next_u64()
}

struct TokenForm {
    grant_type: String,
    code: Option<String>,
    refresh_token: Option<String>,
}

async fn token(State(op): State<MockOp>, headers: axum::http::HeaderMap, body: String) -> Response {
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    *op.0.last_token_request.lock().unwrap() = Some((auth, pairs.clone()));
    let field = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let form = TokenForm {
        grant_type: field("grant_type").unwrap_or_default(),
        code: field("code"),
        refresh_token: field("refresh_token"),
    };
    let b = op.0.behaviour.lock().unwrap().clone();
    if b.dpop_nonce_always && headers.contains_key("DPoP") {
        op.0.token_calls.fetch_add(1, Ordering::SeqCst);
        let mut r = (
            StatusCode::BAD_REQUEST,
            Json(serde_json::json!({"error": "use_dpop_nonce"})),
        )
            .into_response();
        r.headers_mut().insert(
            "DPoP-Nonce",
            axum::http::HeaderValue::from_str(&rand_suffix().to_string()).unwrap(),
        );
        return r;
    }
    let access = AccessToken::new(format!("mock-at-{}", rand_suffix()));
    let mut body = serde_json::json!({
        "access_token": access.secret(),
        "token_type": "Bearer",
        "expires_in": b.access_ttl,
    });
    match form.grant_type.as_str() {
        "authorization_code" => {
            op.0.token_calls.fetch_add(1, Ordering::SeqCst);
            let Some(nonce) = form
                .code
                .and_then(|c| op.0.nonces.lock().unwrap().remove(&c))
            else {
                return (
                    StatusCode::BAD_REQUEST,
                    Json(serde_json::json!({"error": "invalid_grant"})),
                )
                    .into_response();
            };
            op.0.first_nonce.lock().unwrap().clone_from(&nonce);
            if let Some(raw) = b.raw_id_token {
                let now = Utc::now().timestamp();
                let mut header = serde_json::json!({"alg": "RS256", "kid": "mock-key"});
                let mut claims = serde_json::json!({
                    "iss": op.0.issuer, "sub": b.sub, "aud": CLIENT_ID, "azp": CLIENT_ID,
                    "iat": now, "exp": now + 300, "nonce": nonce,
                });
                (raw.edit)(&mut header, &mut claims);
                body["id_token"] = op.jwt(header, claims, raw.signer).into();
            } else if let Some(t) = op.id_token(&b, &b.sub, nonce, &access) {
                body["id_token"] = t.into();
            }
            if b.refresh_token {
                body["refresh_token"] = op.next_refresh_token().into();
            }
        }
        "refresh_token" => {
            op.0.refresh_calls.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(b.refresh_delay).await;
            let reused = b.strict_rotation && {
                let mut newest = op.0.newest_refresh.lock().unwrap();
                let ok = newest.is_some() && *newest == form.refresh_token;
                if !ok && newest.take().is_some() {
                    op.0.families_revoked.fetch_add(1, Ordering::SeqCst);
                }
                !ok
            };
            if b.refresh_invalid_grant || form.refresh_token.is_none() || reused {
                return (
                    StatusCode::BAD_REQUEST,
                    Json(serde_json::json!({"error": "invalid_grant"})),
                )
                    .into_response();
            }
            let sub = if b.refresh_changes_sub {
                format!("{}-changed", b.sub)
            } else {
                b.sub.clone()
            };
            let mut refreshed = Behaviour {
                id_token: Tweak::NoNonce,
                ..b.clone()
            };
            let mut nonce = None;
            match b.refresh_change {
                Some(RefreshChange::AuthTime) => {
                    refreshed.auth_time = Some(b.auth_time.unwrap_or(0) + 3600)
                }
                Some(RefreshChange::NoAzp) => refreshed.id_token = Tweak::NoAzp,
                Some(RefreshChange::OtherNonce) => {
                    refreshed.id_token = Tweak::Good;
                    nonce = Some("another-nonce".to_string());
                }
                Some(RefreshChange::SameNonce) => {
                    refreshed.id_token = Tweak::Good;
                    nonce = op.0.first_nonce.lock().unwrap().clone();
                }
                None => {}
            }
            if b.refresh_sends_id_token
                && let Some(t) = op.id_token(&refreshed, &sub, nonce, &access)
            {
                body["id_token"] = t.into();
            }
            if !b.refresh_omits_refresh_token {
                body["refresh_token"] = op.next_refresh_token().into();
            }
            // the rotation is done; the answer takes its time
            tokio::time::sleep(b.refresh_answer_delay).await;
        }
        _ => {
            return (
                StatusCode::BAD_REQUEST,
                Json(serde_json::json!({"error": "unsupported_grant_type"})),
            )
                .into_response();
        }
    }
    ([(header::CACHE_CONTROL, "no-store")], Json(body)).into_response()
}

async fn userinfo(State(op): State<MockOp>) -> Response {
    op.0.userinfo_calls.fetch_add(1, Ordering::SeqCst);
    let b = op.0.behaviour.lock().unwrap().clone();
    tokio::time::sleep(b.userinfo_delay).await;
    if let Some(status) = b.userinfo_status {
        let status = StatusCode::from_u16(status).unwrap();
        return (status, "userinfo is having a moment").into_response();
    }
    let sub = b.userinfo_sub.unwrap_or(b.sub);
    let mut claims = serde_json::json!({ "sub": sub, "name": "Mock Person", "locale": "fr-FR" });
    if let (Some(c), Some(extra)) = (claims.as_object_mut(), b.userinfo_extra.as_object()) {
        c.extend(extra.clone());
    }
    Json(claims).into_response()
}

#[derive(Deserialize)]
struct RevokeForm {
    token: String,
}

/// RFC 7009: the client authenticates as at the token endpoint (client_secret_basic); a
/// revoked refresh token ends its family.
async fn revoke(
    State(op): State<MockOp>,
    headers: axum::http::HeaderMap,
    Form(form): Form<RevokeForm>,
) -> Response {
    op.0.revocation_calls.fetch_add(1, Ordering::SeqCst);
    let b = op.0.behaviour.lock().unwrap().clone();
    tokio::time::sleep(b.revocation_delay).await;
    if let Some(status) = b.revocation_status {
        return StatusCode::from_u16(status).unwrap().into_response();
    }
    use base64::Engine;
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"))
    );
    if headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        != Some(&expected)
    {
        return (
            StatusCode::UNAUTHORIZED,
            Json(serde_json::json!({"error": "invalid_client"})),
        )
            .into_response();
    }
    {
        let mut newest = op.0.newest_refresh.lock().unwrap();
        if newest.as_deref() == Some(form.token.as_str()) {
            *newest = None;
        }
    }
    op.0.revoked.lock().unwrap().push(form.token);
    StatusCode::OK.into_response()
}
