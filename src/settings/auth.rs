//! `[auth]`: how sign-in behaves in this app.
//!
//! | variable | default | |
//! |---|---|---|
//! | `AUTH_CALLBACK_PATH` | `/authorization-code/callback` | |
//! | `AUTH_REQUIRE_AUTH_EVERYWHERE` | `false` | every page needs sign-in except the public paths |
//! | `AUTH_PUBLIC_PATHS` | `/, /login, /logout, /healthz, /auth/error, /pkg/, /favicon.ico` | a trailing `/` makes a prefix |
//! | `AUTH_DEFAULT_RETURN_TO` | `/profile` | |
//! | `AUTH_CLOCK_SKEW_SECS` | `60` | 0–600 |
//! | `AUTH_USE_USERINFO` | `true` | |
//! | `AUTH_REFRESH` | `true` | |
//! | `AUTH_REFRESH_MARGIN_SECS` | `30` | 0–3600 (at most half a token's lifetime in use) |
//! | `AUTH_ROTATION_GRACE_SECS` | `30` | 0–60 |
//! | `AUTH_API_AUDIENCE` | `api://default` | the `aud` an API client's access token must carry (`GET /api/me`) |
//! | `AUTH_API_CLIENT_IDS` | *(this app's client id)* | comma list: the clients (`cid` / `client_id`) whose access tokens the API accepts |
//! | `AUTH_GROUPS_CLAIM` | `groups` | the claim holding the person's groups (Okta's groups claim, as named in the authorization server) |

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{SettingsError, invalid, secs};

#[derive(Clone, Debug)]
pub struct AuthSettings {
    pub callback_path: String,
    pub require_auth_everywhere: bool,
    /// Paths that stay public when `require_auth_everywhere` is on. An entry ending in `/`
    /// is a prefix.
    pub public_paths: Vec<String>,
    pub default_return_to: String,
    pub clock_skew: Duration,
    pub use_userinfo: bool,
    /// Refresh the access token (needs `offline_access`).
    pub refresh: bool,
    /// Refresh this long before the access token expires.
    pub refresh_margin: Duration,
    /// The provider's refresh-token rotation grace period (Okta: 0–60 s, default 30). With 0,
    /// refreshes of one session are strictly serialized across instances.
    pub rotation_grace: Duration,
    /// The claim that lists the person's groups.
    pub groups_claim: String,
    /// The audience of access tokens presented to the app's API.
    pub api_audience: String,
    /// The clients whose access tokens the API accepts; empty: this app's own client id.
    pub api_client_ids: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(default)]
pub(super) struct RawAuth {
    callback_path: String,
    require_auth_everywhere: bool,
    public_paths: Vec<String>,
    default_return_to: String,
    clock_skew_secs: i64,
    use_userinfo: bool,
    refresh: bool,
    refresh_margin_secs: i64,
    rotation_grace_secs: i64,
    groups_claim: String,
    api_audience: String,
    api_client_ids: Vec<String>,
}

impl Default for RawAuth {
    fn default() -> Self {
        Self {
            callback_path: "/authorization-code/callback".into(),
            require_auth_everywhere: false,
            public_paths: vec![
                "/".into(),
                "/login".into(),
                "/logout".into(),
                "/healthz".into(),
                "/auth/error".into(),
                "/pkg/".into(),
                "/favicon.ico".into(),
            ],
            default_return_to: "/profile".into(),
            clock_skew_secs: 60,
            use_userinfo: true,
            refresh: true,
            refresh_margin_secs: 30,
            rotation_grace_secs: 30,
            groups_claim: "groups".into(),
            api_audience: "api://default".into(),
            api_client_ids: Vec::new(),
        }
    }
}

impl RawAuth {
    pub(super) fn validate(&self) -> Result<AuthSettings, SettingsError> {
        let mut public_paths = Vec::new();
        for p in &self.public_paths {
            public_paths.push(path_setting("AUTH_PUBLIC_PATHS", p)?);
        }
        Ok(AuthSettings {
            callback_path: path_setting("AUTH_CALLBACK_PATH", &self.callback_path)?,
            require_auth_everywhere: self.require_auth_everywhere,
            public_paths,
            default_return_to: path_setting("AUTH_DEFAULT_RETURN_TO", &self.default_return_to)?,
            clock_skew: secs("AUTH_CLOCK_SKEW_SECS", self.clock_skew_secs, 0, 600)?,
            use_userinfo: self.use_userinfo,
            refresh: self.refresh,
            refresh_margin: secs(
                "AUTH_REFRESH_MARGIN_SECS",
                self.refresh_margin_secs,
                0,
                3600,
            )?,
            rotation_grace: secs("AUTH_ROTATION_GRACE_SECS", self.rotation_grace_secs, 0, 60)?,
            groups_claim: {
                let name = self.groups_claim.trim();
                if name.is_empty() || name.len() > 100 {
                    return Err(invalid("AUTH_GROUPS_CLAIM", "must be a claim name"));
                }
                name.to_string()
            },
            api_audience: {
                let aud = self.api_audience.trim();
                if aud.is_empty() {
                    return Err(invalid("AUTH_API_AUDIENCE", "must not be empty"));
                }
                aud.to_string()
            },
            api_client_ids: self
                .api_client_ids
                .iter()
                .map(|c| c.trim().to_string())
                .filter(|c| !c.is_empty())
                .collect(),
        })
    }
}

fn path_setting(key: &str, value: &str) -> Result<String, SettingsError> {
    if !value.starts_with('/') || value.starts_with("//") || value.contains(['?', '#', ' ']) {
        return Err(invalid(
            key,
            format!("must be a plain absolute path like /x, got {value:?}"),
        ));
    }
    Ok(value.to_string())
}
