//! `[dev_provider]`: the embedded development OpenID Provider (used only without an issuer,
//! never in production: see `crate::dev_provider::check_allowed`).
//!
//! | variable | default | |
//! |---|---|---|
//! | `DEV_PROVIDER_HOST`, `DEV_PROVIDER_PORT` | `127.0.0.1`, `3900` | loopback only |
//! | `DEV_PROVIDER_ACCESS_TOKEN_TTL_SECS` | `300` | |
//! | `DEV_PROVIDER_REFRESH_TOKEN_TTL_SECS` | `604800` | |
//! | `DEV_PROVIDER_ROTATION_GRACE_SECS` | `30` | 0–60 |
//! | `DEV_PROVIDER_STATE_DIR` | `.dev-provider` | key, client secret and grants |
//! | `DEV_PROVIDER_CLIENT_SECRET` | *(generated)* | environment only |
//! | `[[dev_provider.users]]` | two demo users | file only |

use std::{collections::BTreeMap, time::Duration};

use serde::{Deserialize, Serialize};

use super::{SettingsError, invalid, secs};
use crate::secret::Secret;

/// A demo user of the embedded development provider.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct DemoUser {
    pub name: String,
    pub email: String,
    #[serde(default)]
    pub preferred_username: Option<String>,
    /// Extra claims put into the ID token and userinfo (for example `groups`).
    #[serde(default)]
    pub claims: BTreeMap<String, serde_json::Value>,
}

#[derive(Clone, Debug)]
pub struct DevProviderSettings {
    pub host: String,
    pub port: u16,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    pub rotation_grace: Duration,
    pub state_dir: String,
    pub users: Vec<DemoUser>,
    /// `DEV_PROVIDER_CLIENT_SECRET` (environment only); `None`: generated and kept in the
    /// state directory.
    pub client_secret: Option<Secret>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(default)]
pub(super) struct RawDev {
    host: String,
    port: i64,
    access_token_ttl_secs: i64,
    refresh_token_ttl_secs: i64,
    rotation_grace_secs: i64,
    state_dir: String,
    users: Vec<DemoUser>,
}

impl Default for RawDev {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 3900,
            access_token_ttl_secs: 300,
            refresh_token_ttl_secs: 7 * 24 * 3600,
            rotation_grace_secs: 30,
            state_dir: ".dev-provider".into(),
            users: Vec::new(),
        }
    }
}

impl RawDev {
    pub(super) fn validate(
        self,
        client_secret: Option<Secret>,
    ) -> Result<DevProviderSettings, SettingsError> {
        let port = u16::try_from(self.port)
            .map_err(|_| invalid("DEV_PROVIDER_PORT", "must be a port number (0-65535)"))?;
        for (i, u) in self.users.iter().enumerate() {
            if u.email.trim().is_empty() || !u.email.contains('@') {
                return Err(invalid(
                    &format!("dev_provider.users[{i}].email"),
                    "must be an email address",
                ));
            }
        }
        Ok(DevProviderSettings {
            host: self.host,
            port,
            access_token_ttl: secs(
                "DEV_PROVIDER_ACCESS_TOKEN_TTL_SECS",
                self.access_token_ttl_secs,
                1,
                24 * 3600,
            )?,
            refresh_token_ttl: secs(
                "DEV_PROVIDER_REFRESH_TOKEN_TTL_SECS",
                self.refresh_token_ttl_secs,
                1,
                365 * 24 * 3600,
            )?,
            rotation_grace: secs(
                "DEV_PROVIDER_ROTATION_GRACE_SECS",
                self.rotation_grace_secs,
                0,
                60,
            )?,
            state_dir: self.state_dir,
            users: self.users,
            client_secret,
        })
    }
}
