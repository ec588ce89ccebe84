//! The OpenID Provider client: discovery, the authorization URL (code flow, PKCE S256, state,
//! nonce), code exchange, ID-token validation, userinfo, refresh and the end-session URL.
//!
//! All protocol and JWT/JWKS work is the `openidconnect` crate's; this module only adds what
//! it leaves to the application: an RS256 allow-list, clock skew on `exp`/`iat`, the `azp`
//! check, re-fetching the JWKS once when a token names an unknown key, and caching discovery
//! so a provider that is down at start-up is picked up later without a restart.

use std::{sync::Arc, time::Duration};

use chrono::Utc;
use openidconnect::{
    AccessToken, AccessTokenHash, AuthenticationContextClass, AuthorizationCode,
    ClaimsVerificationError, ClientId, CsrfToken, LogoutRequest, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, PkceCodeVerifier, PostLogoutRedirectUrl, RefreshToken, RequestTokenError,
    Scope, SignatureVerificationError, SubjectIdentifier, TokenResponse as _, UserInfoError,
    core::{CoreAuthPrompt, CoreAuthenticationFlow, CoreJwsSigningAlgorithm},
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

mod ask;
mod calls;
pub mod client_auth;
mod discovery;
pub mod dpop;
pub mod jwk;

use dpop::ProviderHttp;
mod metadata;
mod providers;

pub use ask::{BadAsk, SignInAsk};
pub use calls::{Call, CallCounter};
pub use client_auth::ClientAuth;
pub use jwk::Jwk;
pub use metadata::{
    DiscoveryError, ExtraProviderMetadata, IdToken, OidcTokenResponse, OtherClaims,
    ProviderMetadata, discover,
};
pub use providers::{Provider, Providers};

use self::{
    discovery::{Discovered, DiscoveryCache, Source},
    metadata::{Client, IdTokenClaims, UserInfoClaims},
};
use super::{error::AuthError, types::User};
use crate::settings::{OidcSettings, ParMode};
use crate::{
    secret::Secret,
    util::{error_chain, now, now_ms},
};

/// Claims that are protocol plumbing, not information about the person.
const HIDDEN_CLAIMS: [&str; 3] = ["nonce", "at_hash", "c_hash"];
/// Claims only the ID token speaks for: userinfo never sets or overwrites them (it describes
/// the person, not the authentication — `acr`/`amr` from userinfo would let it claim a
/// stronger sign-in than happened).
const PROTOCOL_CLAIMS: [&str; 15] = [
    "iss",
    "aud",
    "exp",
    "iat",
    "nbf",
    "sub",
    "azp",
    "auth_time",
    "sid",
    "acr",
    "amr",
    "jti",
    "nonce",
    "at_hash",
    "c_hash",
];
/// What a refreshed ID token must repeat from the original (OpenID Connect Core §12.2).
const UNCHANGING_CLAIMS: [&str; 5] = ["iss", "sub", "aud", "azp", "auth_time"];

/// What `/login` must remember until the callback: kept in the server-side session only.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PendingLogin {
    pub state: Secret,
    pub nonce: Secret,
    pub pkce_verifier: Secret,
    pub return_to: String,
    pub created_at: i64,
    /// A recent or stronger sign-in asked for (a step-up); checked at the callback.
    #[serde(default)]
    pub ask: SignInAsk,
    /// The provider asked (its id; empty in records written before several providers: the
    /// default one).
    #[serde(default)]
    pub provider: String,
}

/// Tokens of a signed-in session. Server-side only.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Tokens {
    pub access_token: Secret,
    /// Unix seconds; `None` when the provider did not say.
    pub access_expires_at: Option<i64>,
    /// The same expiry in Unix milliseconds, and the lifetime the provider gave
    /// (`expires_in`), for refresh decisions with short-lived tokens. Absent in records
    /// written by older versions.
    #[serde(default)]
    pub access_expires_at_ms: Option<i64>,
    #[serde(default)]
    pub access_lifetime_ms: Option<i64>,
    pub refresh_token: Option<Secret>,
    pub id_token: Secret,
    /// The provider bound the access token to the app's DPoP key (`token_type: DPoP`): it is
    /// presented as `Authorization: DPoP` with a proof.
    #[serde(default)]
    pub dpop_bound: bool,
}

/// A validated sign-in or refresh result.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Verified {
    pub user: User,
    /// ID-token claims (plus userinfo), without nonce/at_hash/c_hash.
    pub claims: Map<String, Value>,
    pub tokens: Tokens,
    pub id_token_expires_at: i64,
    /// The last userinfo call failed (provider hiccup): the claims are the previous ones and
    /// userinfo is asked again at the next refresh.
    #[serde(default)]
    pub userinfo_stale: bool,
    /// The provider that issued it (its id; empty in records written before several
    /// providers: the default one). Refresh and sign-out go there.
    #[serde(default)]
    pub provider: String,
}

/// Revocation at sign-out is best effort and must never hold up the person: each call gets
/// at most this long (or the configured HTTP timeout when shorter).
const REVOCATION_TIMEOUT: Duration = Duration::from_secs(3);

/// The provider, discovered lazily and cached.
pub struct OidcClient {
    /// The provider's id (`settings::DEFAULT_PROVIDER` for the `[oidc]` one).
    id: String,
    settings: OidcSettings,
    issuer: String,
    post_logout_redirect_uri: String,
    skew: Duration,
    use_userinfo: bool,
    /// The claim listing the person's groups (never carried over a refresh).
    groups_claim: String,
    http: reqwest::Client,
    /// How the app authenticates itself on back-channel calls.
    auth: ClientAuth,
    /// DPoP (`OIDC_DPOP=true`): proofs on token, refresh and userinfo requests.
    dpop: Option<dpop::Dpop>,
    discovery: DiscoveryCache,
    /// Outbound calls made (discovery counts as one per document), for benchmarks and tests.
    pub calls: Arc<CallCounter>,
}

impl OidcClient {
    /// `settings.issuer` must be set.
    pub fn new(
        settings: &OidcSettings,
        redirect_uri: String,
        app_base: &str,
        skew: Duration,
        use_userinfo: bool,
    ) -> Result<Self, AuthError> {
        let issuer = settings
            .issuer
            .clone()
            .ok_or_else(|| AuthError::Internal("no issuer configured".into()))?;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(settings.http_timeout)
            .connect_timeout(settings.http_timeout.min(Duration::from_secs(3)))
            .build()
            .map_err(|e| AuthError::Internal(format!("http client: {e}")))?;
        let calls = Arc::new(CallCounter::default());
        let discovery = DiscoveryCache::new(Source {
            settings: settings.clone(),
            issuer: issuer.clone(),
            redirect_uri,
            http: http.clone(),
            calls: calls.clone(),
        });
        Ok(Self {
            id: crate::settings::DEFAULT_PROVIDER.to_string(),
            settings: settings.clone(),
            issuer,
            post_logout_redirect_uri: format!("{app_base}/"),
            skew,
            use_userinfo,
            groups_claim: "groups".into(),
            auth: ClientAuth::new(settings),
            dpop: settings.dpop_key.clone().map(dpop::Dpop::new),
            http,
            discovery,
            calls,
        })
    }

    /// Names the provider (its `[[providers]]` id).
    pub fn with_id(mut self, id: &str) -> Self {
        self.id = id.to_string();
        self
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// Names the claim that lists the person's groups (`AUTH_GROUPS_CLAIM`).
    pub fn with_groups_claim(mut self, claim: &str) -> Self {
        self.groups_claim = claim.to_string();
        self
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn client_id(&self) -> &str {
        &self.settings.client_id
    }

    /// The Okta org behind the issuer (`OIDC_ORG_ISSUER`, or the issuer without `/oauth2/…`).
    pub fn org_issuer(&self) -> String {
        self.settings
            .org_issuer()
            .unwrap_or_else(|| self.issuer.clone())
    }

    /// The HTTP client for the provider (timeouts, no redirects).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// The discovered provider; discovers on first use, after the TTL, or when `force`d.
    async fn discovered(&self, force: bool) -> Result<Arc<Discovered>, AuthError> {
        self.discovery.get(force).await
    }

    /// Makes the cached discovery look `by` older (tests: time passing without waiting).
    #[cfg(feature = "testing")]
    pub fn age_discovery(&self, by: Duration) {
        self.discovery.age(by);
    }

    /// RFC 9207 (mix-up defence): an authorization response's `iss` must be this issuer; when
    /// the provider advertises `authorization_response_iss_parameter_supported` it must be
    /// there. A wrong `iss` is refused whatever the provider advertises. Without an `iss`, the
    /// provider's metadata decides (`error` responses are checked only when they carry one:
    /// they redeem nothing).
    pub async fn check_response_issuer(
        &self,
        iss: Option<&str>,
        is_error: bool,
    ) -> Result<(), AuthError> {
        match iss {
            // exactly the issuer as discovered (the setting is kept without a trailing `/`,
            // which some providers' issuer has)
            Some(iss) if iss == self.discovered(false).await?.issuer => Ok(()),
            Some(_) => Err(AuthError::IssuerMismatch),
            None if is_error => Ok(()),
            None if self.discovered(false).await?.response_iss => Err(AuthError::IssuerMismatch),
            None => Ok(()),
        }
    }

    /// Starts a sign-in: the provider URL to redirect to and what to remember. `ask`: a
    /// recent or stronger sign-in (`max_age`, `prompt=login`, `acr_values`); `login_hint`:
    /// who is signing in, as a third-party-initiated login said.
    pub async fn authorize(
        &self,
        return_to: String,
        ask: SignInAsk,
        login_hint: Option<&str>,
    ) -> Result<(String, PendingLogin), AuthError> {
        let d = self.discovered(false).await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = d.client.authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        );
        for scope in self.settings.scopes.iter().filter(|s| *s != "openid") {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        if let Some(age) = ask.max_age {
            request = request.set_max_age(Duration::from_secs(age));
        }
        if ask.prompt_login {
            request = request.add_prompt(CoreAuthPrompt::Login);
        }
        if let Some(hint) = login_hint {
            request = request.add_extra_param("login_hint", hint.to_string());
        }
        for class in ask.acr_values.iter().flat_map(|v| v.split(' ')) {
            request = request.add_auth_context_value(AuthenticationContextClass::new(class.into()));
        }
        let (url, state, nonce) = request.set_pkce_challenge(challenge).url();
        let use_par = match self.settings.par {
            ParMode::Always => true,
            ParMode::Auto => d.par.is_some(),
            ParMode::Never => d.par_required,
        };
        let url = if use_par {
            self.push(&d, &url).await?
        } else {
            url.to_string()
        };
        Ok((
            url,
            PendingLogin {
                state: Secret::new(state.secret().clone()),
                nonce: Secret::new(nonce.secret().clone()),
                pkce_verifier: Secret::new(verifier.secret().clone()),
                return_to,
                created_at: now(),
                ask,
                provider: self.id.clone(),
            },
        ))
    }

    /// Exchanges the code (with the PKCE verifier) and validates everything that came back.
    pub async fn exchange(
        &self,
        code: &str,
        pending: &PendingLogin,
    ) -> Result<Verified, AuthError> {
        let d = self.discovered(false).await?;
        // (a provider asking for a DPoP nonce gets the request again, built anew: a client
        // assertion is good once)
        let mut retried = false;
        let response = loop {
            let mut request = d
                .client
                .exchange_code(AuthorizationCode::new(code.to_string()))
                .map_err(|e| AuthError::Internal(format!("token endpoint: {e}")))?
                .set_pkce_verifier(PkceCodeVerifier::new(
                    pending.pkce_verifier.expose().to_string(),
                ));
            for (name, value) in self.auth.assertion_params(&d.token_endpoint)? {
                request = request.add_extra_param(name, value);
            }
            let http = ProviderHttp::token(&self.http, self.dpop.as_ref());
            let result = self
                .calls
                .timed(Call::Token, request.request_async(&http))
                .await;
            if !retried && self.dpop.is_some() && asks_for_dpop_nonce(&result) {
                retried = true;
                continue;
            }
            break result;
        }
        .map_err(|e| match e {
            RequestTokenError::ServerResponse(r) => AuthError::CodeRejected(format!(
                "{} {}",
                r.error(),
                r.error_description().map_or("", |s| s.as_str())
            )),
            RequestTokenError::Request(e) => AuthError::ProviderUnavailable(error_chain(&e)),
            // a response that does not parse (say, an ID token without `sub` or `iat`)
            // is not a refusal of the code: what came back cannot be trusted
            RequestTokenError::Parse(e, _) => AuthError::InvalidIdToken(e.to_string()),
            other => AuthError::CodeRejected(error_chain(&other)),
        })?;
        let nonce = Nonce::new(pending.nonce.expose().to_string());
        self.verify_response(response, IdTokenCheck::Login(&nonce), None)
            .await
    }

    /// Redeems a refresh token. `Ok` carries the new tokens, the ID token (when the provider
    /// sent one) validated with the same `sub`; a missing new refresh token keeps the old one.
    pub async fn refresh(
        &self,
        refresh_token: &Secret,
        previous: &Verified,
    ) -> Result<Verified, AuthError> {
        let d = self.discovered(false).await?;
        let token = RefreshToken::new(refresh_token.expose().to_string());
        let mut retried = false;
        let response = loop {
            let mut request = d
                .client
                .exchange_refresh_token(&token)
                .map_err(|e| AuthError::Internal(format!("token endpoint: {e}")))?;
            for (name, value) in self.auth.assertion_params(&d.token_endpoint)? {
                request = request.add_extra_param(name, value);
            }
            let http = ProviderHttp::token(&self.http, self.dpop.as_ref());
            let result = self
                .calls
                .timed(Call::Refresh, request.request_async(&http))
                .await;
            if !retried && self.dpop.is_some() && asks_for_dpop_nonce(&result) {
                retried = true;
                continue;
            }
            break result;
        }
        .map_err(|e| match e {
            RequestTokenError::ServerResponse(r) => {
                AuthError::RefreshRejected(r.error().to_string())
            }
            RequestTokenError::Request(e) => AuthError::ProviderUnavailable(error_chain(&e)),
            other => AuthError::ProviderUnavailable(error_chain(&other)),
        })?;
        self.verify_response(response, IdTokenCheck::Refresh, Some(previous))
            .await
    }

    async fn verify_response(
        &self,
        response: OidcTokenResponse,
        check: IdTokenCheck<'_>,
        previous: Option<&Verified>,
    ) -> Result<Verified, AuthError> {
        let access_token = response.access_token().clone();
        let dpop_bound = matches!(
            response.token_type(),
            openidconnect::core::CoreTokenType::Extension(t) if t.eq_ignore_ascii_case("DPoP")
        );
        if self.dpop.is_some() && !dpop_bound {
            tracing::warn!("DPoP is on but the provider issued a bearer token; using it as one");
        }
        let received_ms = now_ms();
        let lifetime_ms = response
            .expires_in()
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 2));
        let access_expires_at_ms = lifetime_ms.map(|l| received_ms.saturating_add(l));
        let access_expires_at = access_expires_at_ms.map(|ms| ms.div_euclid(1000));
        let refresh_token = response
            .refresh_token()
            .map(|r| Secret::new(r.secret().clone()))
            .or_else(|| previous.and_then(|p| p.tokens.refresh_token.clone()));

        let (id_token_text, mut claims, id_token_expires_at) = match response.id_token() {
            Some(id_token) => {
                let claims = self
                    .verify_id_token(id_token, &check, &access_token)
                    .await?;
                let expires_at = claims.expiration().timestamp();
                let json = claims_json(&claims)?;
                if let Some(p) = previous {
                    same_authentication(&json, claims.nonce().map(|n| n.secret().as_str()), p)?;
                }
                (id_token.to_string(), json, expires_at)
            }
            None => match previous {
                // a refresh may come without an ID token: keep the validated one
                Some(p) => (
                    p.tokens.id_token.expose().to_string(),
                    p.claims.clone(),
                    p.id_token_expires_at,
                ),
                None => {
                    return Err(AuthError::InvalidIdToken(
                        "token response has no id_token".into(),
                    ));
                }
            },
        };
        let sub = claims
            .get("sub")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if let Some(p) = previous
            && p.user.sub != sub
        {
            return Err(AuthError::InvalidIdToken(format!(
                "subject changed on refresh ({} → {sub})",
                p.user.sub
            )));
        }
        if let Some(p) = previous {
            // claims from the previous userinfo call that this ID token does not repeat — but
            // never the groups: authorization reads them, and a provider leaves the claim out
            // when the person is no longer in any matching group (Okta's groups filter), so an
            // old list must not outlive the refresh that dropped it
            for (k, v) in &p.claims {
                if *k != self.groups_claim {
                    claims.entry(k.clone()).or_insert_with(|| v.clone());
                }
            }
        }

        let tokens = Tokens {
            access_token: Secret::new(access_token.secret().clone()),
            access_expires_at,
            access_expires_at_ms,
            access_lifetime_ms: lifetime_ms,
            refresh_token,
            id_token: Secret::new(id_token_text),
            dpop_bound,
        };
        let mut verified = Verified {
            user: user_from_claims(&claims),
            claims,
            tokens,
            id_token_expires_at,
            userinfo_stale: false,
            provider: self.id.clone(),
        };
        match self.merge_userinfo(&mut verified, &access_token).await {
            Ok(()) => {}
            // On refresh the new tokens are already issued (and the old refresh token may be
            // rotated away): a userinfo hiccup must not throw them away. Keep the previous
            // claims and ask again at the next refresh. Another subject is never tolerated.
            Err(e @ (AuthError::ProviderUnavailable(_) | AuthError::UserInfo(_)))
                if previous.is_some() =>
            {
                tracing::warn!(error = %e, "userinfo failed during refresh; keeping the previous claims");
                verified.userinfo_stale = true;
            }
            Err(e) => return Err(e),
        }
        Ok(verified)
    }

    async fn verify_id_token(
        &self,
        id_token: &IdToken,
        check: &IdTokenCheck<'_>,
        access_token: &AccessToken,
    ) -> Result<IdTokenClaims, AuthError> {
        let mut attempt = 0;
        loop {
            let d = self.discovered(attempt > 0).await?;
            let verifier = self.verifier(&d.client);
            let result = match check {
                IdTokenCheck::Login(nonce) => id_token.claims(&verifier, *nonce).cloned(),
                // a refreshed ID token carries no new nonce (or the original one)
                IdTokenCheck::Refresh => id_token
                    .claims(&verifier, |_: Option<&Nonce>| Ok(()))
                    .cloned(),
            };
            match result {
                Ok(claims) => {
                    self.check_azp_and_at_hash(id_token, &claims, &verifier, access_token)?;
                    return Ok(claims);
                }
                Err(ClaimsVerificationError::SignatureVerification(
                    SignatureVerificationError::NoMatchingKey,
                )) if attempt == 0 => {
                    // the provider may have rotated its keys: fetch the JWKS again, once
                    tracing::info!("ID token names an unknown key; fetching the JWKS again");
                    attempt += 1;
                }
                Err(e) => return Err(AuthError::InvalidIdToken(e.to_string())),
            }
        }
    }

    fn verifier<'a>(&self, client: &'a Client) -> openidconnect::IdTokenVerifier<'a, Jwk> {
        let skew = chrono::Duration::from_std(self.skew).unwrap_or_default();
        client
            .id_token_verifier()
            .set_allowed_algs([CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256])
            .set_time_fn(move || Utc::now() - skew)
            .set_issue_time_verifier_fn(move |iat| {
                if iat > Utc::now() + skew {
                    Err(format!("issued in the future ({iat})"))
                } else {
                    Ok(())
                }
            })
    }

    fn check_azp_and_at_hash(
        &self,
        id_token: &IdToken,
        claims: &IdTokenClaims,
        verifier: &openidconnect::IdTokenVerifier<'_, Jwk>,
        access_token: &AccessToken,
    ) -> Result<(), AuthError> {
        match claims.authorized_party() {
            Some(azp) if azp.as_str() != self.settings.client_id => {
                return Err(AuthError::InvalidIdToken(format!(
                    "azp {} is not this client",
                    azp.as_str()
                )));
            }
            None if claims.audiences().len() > 1 => {
                return Err(AuthError::InvalidIdToken(
                    "several audiences but no azp".into(),
                ));
            }
            _ => {}
        }
        if let Some(expected) = claims.access_token_hash() {
            let alg = id_token
                .signing_alg()
                .map_err(|e| AuthError::InvalidIdToken(e.to_string()))?;
            let key = id_token
                .signing_key(verifier)
                .map_err(|e| AuthError::InvalidIdToken(e.to_string()))?;
            let actual = AccessTokenHash::from_token(access_token, alg, key)
                .map_err(|e| AuthError::InvalidIdToken(e.to_string()))?;
            if actual != *expected {
                return Err(AuthError::InvalidIdToken(
                    "at_hash does not match the access token".into(),
                ));
            }
        }
        Ok(())
    }

    async fn merge_userinfo(
        &self,
        verified: &mut Verified,
        access_token: &AccessToken,
    ) -> Result<(), AuthError> {
        if !self.use_userinfo {
            return Ok(());
        }
        let d = self.discovered(false).await?;
        let Ok(request) = d.client.user_info(
            access_token.clone(),
            Some(SubjectIdentifier::new(verified.user.sub.clone())),
        ) else {
            return Ok(()); // provider has no userinfo endpoint
        };
        let http =
            ProviderHttp::resource(&self.http, self.dpop.as_ref(), verified.tokens.dpop_bound);
        let info: UserInfoClaims = self
            .calls
            .timed(Call::Userinfo, request.request_async(&http))
            .await
            .map_err(|e| match e {
                UserInfoError::Request(e) => AuthError::ProviderUnavailable(error_chain(&e)),
                UserInfoError::ClaimsVerification(ClaimsVerificationError::InvalidSubject(e)) => {
                    AuthError::InvalidIdToken(format!("userinfo is about another subject: {e}"))
                }
                UserInfoError::ClaimsVerification(e) => AuthError::UserInfo(e.to_string()),
                other => AuthError::UserInfo(error_chain(&other)),
            })?;
        let Value::Object(map) =
            serde_json::to_value(&info).map_err(|e| AuthError::Internal(e.to_string()))?
        else {
            return Ok(());
        };
        for (k, v) in map {
            if !PROTOCOL_CLAIMS.contains(&k.as_str())
                && !HIDDEN_CLAIMS.contains(&k.as_str())
                && !v.is_null()
            {
                verified.claims.insert(k, v);
            }
        }
        verified.user = user_from_claims(&verified.claims);
        Ok(())
    }

    /// Whether a stored sign-in was issued by this provider to this client. Sessions outlive
    /// the process in SQLite or Redis, and the settings can change in between (the development
    /// provider swapped for Okta, another org or client): such a session is not honoured, and
    /// its refresh token is never sent to a provider that did not issue it.
    pub fn issued_here(&self, v: &Verified) -> bool {
        let iss = v
            .claims
            .get("iss")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let client = self.settings.client_id.as_str();
        let aud = match v.claims.get("aud") {
            Some(Value::String(a)) => a == client,
            Some(Value::Array(a)) => a.iter().any(|x| x.as_str() == Some(client)),
            _ => false,
        };
        aud && iss.trim_end_matches('/') == self.issuer.trim_end_matches('/')
    }

    /// Revokes the session's tokens at the provider (RFC 7009, client-authenticated like the
    /// token call): the refresh token first (with Okta this also ends the access tokens
    /// minted from it), then the access token. Best effort: each call is bounded by a short
    /// timeout and a failure is logged, never returned. Does nothing when the provider
    /// advertises no `revocation_endpoint`.
    ///
    /// Written as a plain form POST rather than with the oauth2 crate's `revoke_token`, which
    /// refuses any endpoint that is not https — and with it the loopback development provider
    /// (the issuer itself must be https except on loopback, see the settings).
    pub async fn revoke(&self, tokens: &Tokens) -> Revocation {
        let mut outcome = Revocation {
            refresh_token: tokens.refresh_token.as_ref().map(|_| false),
        };
        let Ok(d) = self.discovered(false).await else {
            tracing::warn!("revocation skipped: the provider cannot be reached");
            return outcome;
        };
        let Some(endpoint) = d.revocation.as_ref() else {
            return outcome;
        };
        let loopback = matches!(
            endpoint.url().host_str(),
            Some("localhost" | "127.0.0.1" | "[::1]")
        );
        if endpoint.url().scheme() != "https" && !loopback {
            tracing::warn!("revocation skipped: the revocation endpoint is not https");
            return outcome;
        }
        let mut list = Vec::new();
        if let Some(rt) = &tokens.refresh_token {
            list.push(("refresh_token", rt));
        }
        list.push(("access_token", &tokens.access_token));
        let limit = REVOCATION_TIMEOUT.min(self.settings.http_timeout);
        for (hint, token) in list {
            let mut form = vec![
                ("token".to_string(), token.expose().to_string()),
                ("token_type_hint".to_string(), hint.to_string()),
            ];
            let request = match self.auth.apply(
                self.http.post(endpoint.url().clone()).timeout(limit),
                &mut form,
                &d.token_endpoint,
            ) {
                Ok(request) => request,
                Err(e) => {
                    tracing::warn!(error = %e, "revocation skipped");
                    return outcome;
                }
            };
            let call = self
                .calls
                .timed(Call::Revocation, request.form(&form).send());
            match call.await {
                Ok(r) if r.status().is_success() => {
                    if hint == "refresh_token" {
                        outcome.refresh_token = Some(true);
                    }
                }
                Ok(r) => tracing::warn!(token = hint, status = %r.status(), "revocation refused"),
                Err(e) => {
                    tracing::warn!(token = hint, error = %error_chain(&e), "revocation failed")
                }
            }
        }
        outcome
    }

    /// RFC 9126: sends the authorization request's parameters (`authorize`'s query) to the
    /// provider's PAR endpoint with the client's authentication, and returns where the browser
    /// goes instead: the authorization endpoint with `client_id` and `request_uri` only — the
    /// state, nonce, PKCE challenge and asks never pass through the browser.
    async fn push(&self, d: &Discovered, authorize: &url::Url) -> Result<String, AuthError> {
        let endpoint = d.par.as_ref().ok_or_else(|| {
            AuthError::Par(
                "PAR is asked for (OIDC_PAR=always), but the provider has no usable pushed_authorization_request_endpoint"
                    .into(),
            )
        })?;
        let (mut base, mut form) = par_parts(d.client.auth_uri().url(), authorize);
        let request = self.auth.apply(
            self.http.post(endpoint.clone()),
            &mut form,
            &d.token_endpoint,
        )?;
        let response = self
            .calls
            .timed(Call::Par, request.form(&form).send())
            .await
            .map_err(|e| AuthError::ProviderUnavailable(error_chain(&e)))?;
        let status = response.status();
        if status.is_server_error() {
            return Err(AuthError::ProviderUnavailable(format!(
                "PAR endpoint: {status}"
            )));
        }
        let body: Value = response
            .json()
            .await
            .map_err(|e| AuthError::Par(format!("{status}, unreadable answer: {e}")))?;
        if !status.is_success() {
            // the provider's words, for the log only: bounded, no control characters
            let text = |name: &str| -> String {
                body.get(name)
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .chars()
                    .filter(|c| !c.is_control())
                    .take(200)
                    .collect()
            };
            return Err(AuthError::Par(format!(
                "{status} {} {}",
                text("error"),
                text("error_description")
            )));
        }
        let request_uri = body
            .get("request_uri")
            .and_then(Value::as_str)
            .filter(|u| !u.is_empty())
            .ok_or_else(|| AuthError::Par("the answer has no request_uri".into()))?;
        base.query_pairs_mut()
            .append_pair("client_id", &self.settings.client_id)
            .append_pair("request_uri", request_uri);
        Ok(base.to_string())
    }

    /// The provider's end-session URL with `id_token_hint` and `post_logout_redirect_uri`,
    /// when the provider has one (from cached discovery; tries discovery once if needed).
    pub async fn end_session_url(&self, id_token: Option<&Secret>) -> Option<String> {
        let d = self.discovered(false).await.ok()?;
        let endpoint = d.end_session.clone()?;
        let mut request = LogoutRequest::from(endpoint)
            .set_client_id(ClientId::new(self.settings.client_id.clone()));
        if let Ok(redirect) = PostLogoutRedirectUrl::new(self.post_logout_redirect_uri.clone()) {
            request = request.set_post_logout_redirect_uri(redirect);
        }
        if let Some(token) = id_token.and_then(|t| t.expose().parse::<IdToken>().ok()) {
            request = request.set_id_token_hint(&token);
        }
        Some(request.http_get_url().to_string())
    }
}

/// The token endpoint answered `use_dpop_nonce` (RFC 9449 §8): the nonce it sent is
/// remembered by the DPoP transport, and the request is worth sending once more.
fn asks_for_dpop_nonce<T, E: std::error::Error + 'static>(
    result: &Result<
        T,
        RequestTokenError<
            E,
            openidconnect::StandardErrorResponse<openidconnect::core::CoreErrorResponseType>,
        >,
    >,
) -> bool {
    matches!(result, Err(RequestTokenError::ServerResponse(r)) if r.error().to_string() == "use_dpop_nonce")
}

/// What a revocation achieved.
#[derive(Debug, Clone, Copy)]
pub struct Revocation {
    /// `None`: the session held no refresh token; else whether the provider accepted its
    /// revocation.
    refresh_token: Option<bool>,
}

impl Revocation {
    /// The refresh token (if any) is revoked at the provider.
    pub fn refresh_token_revoked(&self) -> bool {
        self.refresh_token != Some(false)
    }
}

/// OpenID Connect Core §12.2: a refreshed ID token speaks of the same authentication — same
/// `iss`, `sub`, `aud`, `azp` (present or absent alike) and `auth_time` (which it may leave
/// out), and a `nonce` only if it is the original one. `claims` are the new token's (nonce
/// removed, see [`HIDDEN_CLAIMS`]); the original's are in `previous`, protected from userinfo.
fn same_authentication(
    claims: &Map<String, Value>,
    nonce: Option<&str>,
    previous: &Verified,
) -> Result<(), AuthError> {
    let audiences = |v: Option<&Value>| -> Vec<String> {
        let mut list: Vec<String> = match v {
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|i| i.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        };
        list.sort();
        list
    };
    for claim in UNCHANGING_CLAIMS {
        let (before, after) = (previous.claims.get(claim), claims.get(claim));
        let same = match claim {
            "aud" => audiences(before) == audiences(after),
            "auth_time" => after.is_none() || before == after,
            _ => before == after,
        };
        if !same {
            return Err(AuthError::InvalidIdToken(format!(
                "the refreshed ID token changed {claim}"
            )));
        }
    }
    if let Some(nonce) = nonce
        && original_nonce(&previous.tokens.id_token).as_deref() != Some(nonce)
    {
        return Err(AuthError::InvalidIdToken(
            "the refreshed ID token carries another nonce".into(),
        ));
    }
    Ok(())
}

/// The `nonce` of an ID token this app verified when it was issued (the payload of the stored
/// compact JWT; no signature is checked here, it was then).
fn original_nonce(id_token: &Secret) -> Option<String> {
    use base64::Engine;
    let payload = id_token.expose().split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    let claims: Map<String, Value> = serde_json::from_slice(&bytes).ok()?;
    claims.get("nonce")?.as_str().map(str::to_string)
}

enum IdTokenCheck<'a> {
    Login(&'a Nonce),
    Refresh,
}

fn claims_json(claims: &IdTokenClaims) -> Result<Map<String, Value>, AuthError> {
    match serde_json::to_value(claims) {
        Ok(Value::Object(mut map)) => {
            for hidden in HIDDEN_CLAIMS {
                map.remove(hidden);
            }
            map.retain(|_, v| !v.is_null());
            Ok(map)
        }
        Ok(_) => Err(AuthError::Internal("claims are not an object".into())),
        Err(e) => Err(AuthError::Internal(e.to_string())),
    }
}

/// The display claims of the person.
pub fn user_from_claims(claims: &Map<String, Value>) -> User {
    let text = |k: &str| claims.get(k).and_then(Value::as_str).map(str::to_string);
    User {
        sub: text("sub").unwrap_or_default(),
        name: text("name"),
        email: text("email"),
        preferred_username: text("preferred_username"),
    }
}

/// Splits an authorization request URL for PAR: the authorization endpoint as the browser
/// will get it — its own query kept (Azure AD B2C's `?p=policy`; RFC 6749 §3.1) — and the
/// request's parameters, the rest, which are pushed.
fn par_parts(endpoint: &url::Url, authorize: &url::Url) -> (url::Url, Vec<(String, String)>) {
    let own: Vec<(String, String)> = endpoint.query_pairs().into_owned().collect();
    let form = authorize
        .query_pairs()
        .into_owned()
        .filter(|pair| !own.contains(pair))
        .collect();
    (endpoint.clone(), form)
}

#[cfg(test)]
mod par_tests {
    use super::par_parts;

    #[test]
    fn the_endpoints_own_query_stays_in_the_browser_url() {
        let endpoint = url::Url::parse("https://op.example/authorize?p=b2c_1_signin").unwrap();
        let request = url::Url::parse(
            "https://op.example/authorize?p=b2c_1_signin&response_type=code&client_id=c&state=s%20t",
        )
        .unwrap();
        let (base, form) = par_parts(&endpoint, &request);
        assert_eq!(base.as_str(), "https://op.example/authorize?p=b2c_1_signin");
        let names: Vec<&str> = form.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["response_type", "client_id", "state"]);
        assert!(form.contains(&("state".into(), "s t".into())));
        let (base, form) = par_parts(
            &url::Url::parse("https://op.example/authorize").unwrap(),
            &url::Url::parse("https://op.example/authorize?response_type=code").unwrap(),
        );
        assert_eq!(base.query(), None);
        assert_eq!(form.len(), 1);
    }
}
