//! `[oidc]`: the OpenID Provider and this app's client registration there.
//!
//! | variable | default | |
//! |---|---|---|
//! | `OIDC_ISSUER` (`OKTA_OAUTH2_ISSUER`) | *(empty: development provider)* | https, or http on loopback |
//! | `OIDC_CLIENT_ID` (`OKTA_OAUTH2_CLIENT_ID`) | | required with an issuer |
//! | `OIDC_CLIENT_SECRET` (`OKTA_OAUTH2_CLIENT_SECRET`) | | environment only; required with an issuer |
//! | `OIDC_SCOPES` | `openid profile email offline_access` | must include `openid` |
//! | `OIDC_TOKEN_AUTH_METHOD` | `client_secret_basic` | or `client_secret_post` |
//! | `OIDC_HTTP_TIMEOUT_SECS` | `10` | 1–120 |
//! | `OIDC_PAR` | `auto` | pushed authorization requests (RFC 9126): `auto` (when the provider offers them), `always`, `never` (but for a provider that requires them: sign-in could not work otherwise) |
//! | `OIDC_ORG_ISSUER` | *(issuer without `/oauth2/…`)* | the Okta org signing Universal Logout requests |

use std::time::Duration;

use serde::{Deserialize, Serialize};
use url::Url;

use super::{SettingsError, invalid, secs};
use crate::secret::Secret;

/// How the app authenticates itself at the provider's token endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenAuthMethod {
    ClientSecretBasic,
    ClientSecretPost,
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
    pub scopes: Vec<String>,
    pub token_auth_method: TokenAuthMethod,
    pub http_timeout: Duration,
    pub par: ParMode,
    /// The issuer that signs Okta's Universal Logout (Global Token Revocation) requests — the
    /// Okta org (`OIDC_ORG_ISSUER`). `None`: derived from the issuer, see [`Self::org_issuer`].
    pub org_issuer: Option<String>,
}

impl OidcSettings {
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
            other => {
                return Err(invalid(
                    "OIDC_TOKEN_AUTH_METHOD",
                    format!("must be client_secret_basic or client_secret_post, got {other:?}"),
                ));
            }
        };
        if issuer.is_some() && secret.is_none() {
            return Err(invalid(
                "OIDC_CLIENT_SECRET",
                "is required (a Web Application integration has a client secret); set it in the environment or .env",
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
fn provider_url(key: &str, text: &str) -> Result<Option<String>, SettingsError> {
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
