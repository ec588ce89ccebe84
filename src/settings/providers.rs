//! `[[providers]]`: more OpenID Providers beside the default one (`[oidc]`, `OIDC_*`), each a
//! table in `Leptos.toml`:
//!
//! ```toml
//! [[providers]]
//! id = "google"                 # a–z, 0–9, `-`; its secret is PROVIDER_GOOGLE_CLIENT_SECRET
//! name = "Google"               # on the sign-in chooser
//! issuer = "https://accounts.google.com"
//! client_id = "1234.apps.googleusercontent.com"
//! # optional: scopes, token_auth_method (client_secret_basic | client_secret_post), par
//! ```
//!
//! Secrets come only from the environment: `PROVIDER_<ID>_CLIENT_SECRET` (the id upper-cased,
//! `-` as `_`). Everything not named here (HTTP timeout, DPoP) is the default provider's.
//! With more than one provider, `/login` offers a chooser (`/auth/sign-in`).

use serde::Deserialize;

use super::{OidcSettings, ParMode, SettingsError, TokenAuthMethod, invalid, oidc::provider_url};
use crate::secret::Secret;

/// The default provider's id (the `[oidc]` one, or the development provider).
pub const DEFAULT_PROVIDER: &str = "default";

/// One provider: who it is on the chooser, and the client settings for it.
#[derive(Clone, Debug)]
pub struct ProviderSettings {
    pub id: String,
    pub name: String,
    pub oidc: OidcSettings,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawProvider {
    id: String,
    name: String,
    issuer: String,
    client_id: String,
    scopes: Option<String>,
    token_auth_method: Option<String>,
    par: Option<String>,
}

/// The name of a provider's secret variable.
pub fn secret_variable(id: &str) -> String {
    format!(
        "PROVIDER_{}_CLIENT_SECRET",
        id.to_ascii_uppercase().replace('-', "_")
    )
}

/// Validates the `[[providers]]` tables against the default provider (`base`, whose shared
/// settings they take) and each other.
pub(super) fn validate(
    value: Option<toml::Value>,
    base: &OidcSettings,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<Vec<ProviderSettings>, SettingsError> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    let raw: Vec<RawProvider> = value.try_into().map_err(|e: toml::de::Error| {
        invalid(
            "providers",
            format!(
                "must be [[providers]] tables with id, name, issuer and client_id: {}",
                e.message()
            ),
        )
    })?;
    let mut out: Vec<ProviderSettings> = Vec::new();
    for p in raw {
        let id = p.id.trim().to_string();
        let key = |field: &str| format!("providers.{id}.{field}");
        if id.is_empty()
            || id.len() > 32
            || !id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err(invalid(
                "providers.id",
                format!("{id:?} must be 1–32 characters a–z, 0–9 or -"),
            ));
        }
        if id == DEFAULT_PROVIDER || out.iter().any(|o| o.id == id) {
            return Err(invalid(
                &key("id"),
                "is used twice (\"default\" is the [oidc] provider's)",
            ));
        }
        let issuer = provider_url(&key("issuer"), &p.issuer)?
            .ok_or_else(|| invalid(&key("issuer"), "is required"))?;
        if base.issuer.as_deref() == Some(issuer.as_str())
            || out
                .iter()
                .any(|o| o.oidc.issuer.as_deref() == Some(issuer.as_str()))
        {
            // sign-out requests from a provider are routed by their issuer
            return Err(invalid(&key("issuer"), "is another provider's issuer too"));
        }
        let client_id = p.client_id.trim().to_string();
        if client_id.is_empty() {
            return Err(invalid(&key("client_id"), "is required"));
        }
        let name = p.name.trim().to_string();
        if name.is_empty() || name.chars().count() > 60 {
            return Err(invalid(&key("name"), "must be 1–60 characters"));
        }
        let variable = secret_variable(&id);
        let secret = env(&variable).filter(|s| !s.is_empty()).ok_or_else(|| {
            invalid(
                &variable,
                format!("is required for provider {id:?} (environment only)"),
            )
        })?;
        let token_auth_method = match p.token_auth_method.as_deref().map(str::trim) {
            None | Some("client_secret_basic") => TokenAuthMethod::ClientSecretBasic,
            Some("client_secret_post") => TokenAuthMethod::ClientSecretPost,
            Some(other) => {
                return Err(invalid(
                    &key("token_auth_method"),
                    format!("must be client_secret_basic or client_secret_post, got {other:?}"),
                ));
            }
        };
        let par = match p.par.as_deref().map(str::trim) {
            None => base.par,
            Some("auto") => ParMode::Auto,
            Some("always") => ParMode::Always,
            Some("never") => ParMode::Never,
            Some(other) => {
                return Err(invalid(
                    &key("par"),
                    format!("must be auto, always or never, got {other:?}"),
                ));
            }
        };
        let scopes = match p.scopes {
            Some(text) => {
                let scopes: Vec<String> = text
                    .split([' ', ','])
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect();
                if !scopes.iter().any(|s| s == "openid") {
                    return Err(invalid(&key("scopes"), "must include openid"));
                }
                scopes
            }
            None => base.scopes.clone(),
        };
        out.push(ProviderSettings {
            name,
            oidc: OidcSettings {
                issuer: Some(issuer),
                client_id,
                client_secret: Some(Secret::new(secret)),
                client_key: None,
                client_key_file: None,
                // the DPoP key is shared (it is the app's); the client key is the default's
                dpop_key: None,
                dpop: base.dpop,
                dpop_key_file: base.dpop_key_file.clone(),
                display_name: None,
                scopes,
                token_auth_method,
                http_timeout: base.http_timeout,
                par,
                org_issuer: None,
            },
            id,
        });
    }
    Ok(out)
}
