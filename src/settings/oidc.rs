//! `[oidc]`: the OpenID Provider and this app's client registration there.
//!
//! | variable | default | |
//! |---|---|---|
//! | `OIDC_ISSUER` (`OKTA_OAUTH2_ISSUER`) | *(empty: development provider)* | https, or http on loopback |
//! | `OIDC_CLIENT_ID` (`OKTA_OAUTH2_CLIENT_ID`) | | required with an issuer |
//! | `OIDC_CLIENT_SECRET` (`OKTA_OAUTH2_CLIENT_SECRET`) | | environment only; required with an issuer |
//! | `OIDC_SCOPES` | `openid profile email offline_access` | must include `openid` |
//! | `OIDC_TOKEN_AUTH_METHOD` | `client_secret_basic` | or `client_secret_post`, or `private_key_jwt` (RFC 7523 client assertions; no secret then) |
//! | `OIDC_CLIENT_PRIVATE_KEY_FILE` | | with `private_key_jwt`: the client's PKCS#8 PEM private key (RSA, EC P-256/P-384); `signin jwk` prints its public JWK |
//! | `OIDC_CLIENT_KEY_ID` | *(the key's RFC 7638 thumbprint)* | the `kid` the provider knows the key by |
//! | `OIDC_DPOP` | `false` | DPoP (RFC 9449): token, refresh and userinfo requests carry proofs; the provider binds the tokens to the DPoP key |
//! | `OIDC_DPOP_KEY_FILE` | *(memory sessions: a key per process; SQLite/Redis outside production: `.dpop-key.pem`, generated)* | the DPoP key, PKCS#8 PEM (RSA, EC P-256/P-384), the same file on every instance; required in production with SQLite or Redis |
//! | `OIDC_HTTP_TIMEOUT_SECS` | `10` | 1–120 |
//! | `OIDC_PAR` | `auto` | pushed authorization requests (RFC 9126): `auto` (when the provider offers them), `always`, `never` (but for a provider that requires them: sign-in could not work otherwise) |
//! | `OIDC_DISPLAY_NAME` | *(Okta, the development provider, or the issuer's host)* | the provider's name on the sign-in chooser (with `[[providers]]`) |
//! | `OIDC_ORG_ISSUER` | *(issuer without `/oauth2/…`)* | the Okta org signing Universal Logout requests |

use std::{path::PathBuf, sync::Arc, time::Duration};

use serde::{Deserialize, Serialize};
use url::Url;

use super::{SettingsError, invalid, secs};
use crate::{secret::Secret, signing_key::SigningKey};

/// How the app authenticates itself at the provider's token endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenAuthMethod {
    ClientSecretBasic,
    ClientSecretPost,
    /// A JWT signed with the client's private key (RFC 7523), [`OidcSettings::client_key`].
    PrivateKeyJwt,
}

impl TokenAuthMethod {
    /// The method's name in discovery and registrations.
    pub fn name(self) -> &'static str {
        match self {
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
            Self::PrivateKeyJwt => "private_key_jwt",
        }
    }
}

/// When sign-in uses pushed authorization requests (RFC 9126): the parameters go to the
/// provider's PAR endpoint over the back channel, the browser carries only `client_id` and
/// `request_uri`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParMode {
    /// When discovery advertises a PAR endpoint (and always when the provider requires it).
    Auto,
    /// Always; a provider without a PAR endpoint is an error at sign-in.
    Always,
    /// Never (unless the provider requires it: then sign-in would fail without).
    Never,
}

#[derive(Clone, Debug)]
pub struct OidcSettings {
    /// `None`: no provider configured (the development provider takes over when compiled in).
    /// Kept exactly as configured minus a trailing `/`: discovery compares it byte for byte
    /// with the `issuer` the provider announces.
    pub issuer: Option<String>,
    pub client_id: String,
    pub client_secret: Option<Secret>,
    /// `private_key_jwt`: the key client assertions are signed with
    /// (`OIDC_CLIENT_PRIVATE_KEY_FILE`, `OIDC_CLIENT_KEY_ID`).
    pub client_key: Option<Arc<SigningKey>>,
    /// The file the client key came from (for `signin jwk --generate` and messages).
    pub client_key_file: Option<PathBuf>,
    /// DPoP (`OIDC_DPOP=true`): the key proofs are signed with — the same on every instance,
    /// never the client key. Resolved by [`Self::resolve_dpop_key`].
    pub dpop_key: Option<Arc<SigningKey>>,
    /// `OIDC_DISPLAY_NAME`: the name on the sign-in chooser (`None`: derived from the issuer).
    pub display_name: Option<String>,
    /// `OIDC_DPOP`, and `OIDC_DPOP_KEY_FILE` as configured.
    pub dpop: bool,
    pub dpop_key_file: Option<PathBuf>,
    pub scopes: Vec<String>,
    pub token_auth_method: TokenAuthMethod,
    pub http_timeout: Duration,
    pub par: ParMode,
    /// The issuer that signs Okta's Universal Logout (Global Token Revocation) requests — the
    /// Okta org (`OIDC_ORG_ISSUER`). `None`: derived from the issuer, see [`Self::org_issuer`].
    pub org_issuer: Option<String>,
}

/// Where the DPoP key is generated outside production when sessions outlive the process and
/// no `OIDC_DPOP_KEY_FILE` is set (git-ignored).
pub const DEV_DPOP_KEY_FILE: &str = ".dpop-key.pem";

impl OidcSettings {
    /// Sets [`Self::dpop_key`] when DPoP is on: the configured file; else, with sessions in
    /// memory (they die with the process, and so may the key), a new key; else outside
    /// production a key generated into [`DEV_DPOP_KEY_FILE`] (the tokens in SQLite or Redis
    /// stay usable across restarts). In production a shared store needs the file: every
    /// instance must sign with the same key, or a token bound by one cannot be refreshed by
    /// another.
    pub(super) fn resolve_dpop_key(
        &mut self,
        persistent_store: bool,
        production: bool,
    ) -> Result<(), SettingsError> {
        if !self.dpop {
            return Ok(());
        }
        let key = match (&self.dpop_key_file, persistent_store) {
            (Some(file), _) => SigningKey::from_file(file, None),
            (None, false) => SigningKey::generate(None).map(|(key, _)| key),
            (None, true) if production => {
                return Err(invalid(
                    "OIDC_DPOP_KEY_FILE",
                    "is required in production with SQLite or Redis sessions (every instance must sign DPoP proofs with the same key; `signin jwk --generate FILE` makes one)",
                ));
            }
            (None, true) => {
                SigningKey::load_or_generate(std::path::Path::new(DEV_DPOP_KEY_FILE), None)
            }
        }
        .map_err(|e| invalid("OIDC_DPOP_KEY_FILE", e.to_string()))?;
        if self
            .client_key
            .as_ref()
            .is_some_and(|c| c.thumbprint() == key.thumbprint())
        {
            return Err(invalid(
                "OIDC_DPOP_KEY_FILE",
                "must not be the client key (OIDC_CLIENT_PRIVATE_KEY_FILE): DPoP needs a key of its own",
            ));
        }
        self.dpop_key = Some(Arc::new(key));
        Ok(())
    }

    pub fn offline_access(&self) -> bool {
        self.scopes.iter().any(|s| s == "offline_access")
    }

    /// The Okta org behind the issuer: the configured `OIDC_ORG_ISSUER`, else the issuer with
    /// any `/oauth2/…` path removed (`https://x.okta.com/oauth2/default` → `https://x.okta.com`).
    pub fn org_issuer(&self) -> Option<String> {
        if let Some(org) = &self.org_issuer {
            return Some(org.clone());
        }
        let issuer = self.issuer.as_deref()?;
        Some(
            match issuer
                .find("/oauth2/")
                .or_else(|| issuer.strip_suffix("/oauth2").map(str::len))
            {
                Some(at) => issuer[..at].to_string(),
                None => issuer.to_string(),
            },
        )
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(default)]
pub(super) struct RawOidc {
    issuer: String,
    org_issuer: String,
    client_id: String,
    scopes: String,
    token_auth_method: String,
    client_private_key_file: String,
    client_key_id: String,
    dpop: bool,
    dpop_key_file: String,
    display_name: String,
    http_timeout_secs: i64,
    par: String,
}

impl Default for RawOidc {
    fn default() -> Self {
        Self {
            issuer: String::new(),
            org_issuer: String::new(),
            client_id: String::new(),
            scopes: "openid profile email offline_access".into(),
            token_auth_method: "client_secret_basic".into(),
            client_private_key_file: String::new(),
            client_key_id: String::new(),
            dpop: false,
            dpop_key_file: String::new(),
            display_name: String::new(),
            http_timeout_secs: 10,
            par: "auto".into(),
        }
    }
}

impl RawOidc {
    pub(super) fn validate(&self, secret: Option<String>) -> Result<OidcSettings, SettingsError> {
        let issuer = provider_url("OIDC_ISSUER", &self.issuer)?;
        let client_id = self.client_id.trim().to_string();
        if issuer.is_some() && client_id.is_empty() {
            return Err(invalid(
                "OIDC_CLIENT_ID",
                "is required when OIDC_ISSUER is set",
            ));
        }
        let token_auth_method = match self.token_auth_method.trim() {
            "client_secret_basic" => TokenAuthMethod::ClientSecretBasic,
            "client_secret_post" => TokenAuthMethod::ClientSecretPost,
            "private_key_jwt" => TokenAuthMethod::PrivateKeyJwt,
            other => {
                return Err(invalid(
                    "OIDC_TOKEN_AUTH_METHOD",
                    format!(
                        "must be client_secret_basic, client_secret_post or private_key_jwt, got {other:?}"
                    ),
                ));
            }
        };
        let key_file = Some(self.client_private_key_file.trim())
            .filter(|f| !f.is_empty())
            .map(PathBuf::from);
        let key_id = Some(self.client_key_id.trim()).filter(|k| !k.is_empty());
        let client_key = match (token_auth_method, &key_file) {
            (TokenAuthMethod::PrivateKeyJwt, None) => {
                return Err(invalid(
                    "OIDC_CLIENT_PRIVATE_KEY_FILE",
                    "is required with OIDC_TOKEN_AUTH_METHOD=private_key_jwt (a PKCS#8 PEM file; `signin jwk --generate` makes one)",
                ));
            }
            (TokenAuthMethod::PrivateKeyJwt, Some(file)) => Some(Arc::new(
                SigningKey::from_file(file, key_id)
                    .map_err(|e| invalid("OIDC_CLIENT_PRIVATE_KEY_FILE", e.to_string()))?,
            )),
            (_, Some(_)) => {
                return Err(invalid(
                    "OIDC_CLIENT_PRIVATE_KEY_FILE",
                    "is set but OIDC_TOKEN_AUTH_METHOD is not private_key_jwt: set both, or neither",
                ));
            }
            (_, None) => None,
        };
        let dpop_key_file = Some(self.dpop_key_file.trim())
            .filter(|f| !f.is_empty())
            .map(PathBuf::from);
        if dpop_key_file.is_some() && !self.dpop {
            return Err(invalid(
                "OIDC_DPOP_KEY_FILE",
                "is set but OIDC_DPOP is not true: set both, or neither",
            ));
        }
        if issuer.is_some() && secret.is_none() && client_key.is_none() {
            return Err(invalid(
                "OIDC_CLIENT_SECRET",
                "is required (a Web Application integration has a client secret; or use OIDC_TOKEN_AUTH_METHOD=private_key_jwt); set it in the environment or .env",
            ));
        }
        let par = match self.par.trim() {
            "auto" => ParMode::Auto,
            "always" => ParMode::Always,
            "never" => ParMode::Never,
            other => {
                return Err(invalid(
                    "OIDC_PAR",
                    format!("must be auto, always or never, got {other:?}"),
                ));
            }
        };
        let scopes: Vec<String> = self
            .scopes
            .split([' ', ','])
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        if !scopes.iter().any(|s| s == "openid") {
            return Err(invalid("OIDC_SCOPES", "must include openid"));
        }
        Ok(OidcSettings {
            issuer,
            client_id,
            client_secret: secret.map(Secret::new),
            client_key,
            client_key_file: key_file,
            dpop_key: None,
            dpop: self.dpop,
            dpop_key_file,
            display_name: Some(self.display_name.trim())
                .filter(|n| !n.is_empty())
                .map(|n| n.chars().take(60).collect()),
            scopes,
            token_auth_method,
            http_timeout: secs("OIDC_HTTP_TIMEOUT_SECS", self.http_timeout_secs, 1, 120)?,
            par,
            org_issuer: provider_url("OIDC_ORG_ISSUER", &self.org_issuer)?,
        })
    }
}

/// An issuer URL setting: empty is `None`; https, or plain http on loopback; no trailing `/`
/// (discovery compares it byte for byte with the `issuer` the provider announces).
pub(super) fn provider_url(key: &str, text: &str) -> Result<Option<String>, SettingsError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let url =
        Url::parse(text).map_err(|e| invalid(key, format!("is not a URL ({e}): {text:?}")))?;
    let loopback = url.host_str().is_some_and(super::is_loopback_host);
    if url.scheme() != "https" && !(url.scheme() == "http" && loopback) {
        return Err(invalid(
            key,
            "must use https (plain http is allowed only on localhost)",
        ));
    }
    Ok(Some(text.trim_end_matches('/').to_string()))
}
