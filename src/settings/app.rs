//! `[app]`: the app itself.
//!
//! | variable | default | |
//! |---|---|---|
//! | `APP_URL` | `http://localhost:3000` | public base URL (http or https, a host, no query or fragment); redirect URIs are built from it; https in production unless loopback |
//! | `LEPTOS_ENV` | `DEV` | `PROD` / `production` (any case) marks production (Leptos' own variable) |

use serde::{Deserialize, Serialize};
use url::Url;

use super::{SettingsError, invalid, is_loopback_host};

#[derive(Clone, Debug)]
pub struct AppSettings {
    /// Public base URL (`APP_URL`), without trailing slash. Redirect URIs are built from it,
    /// never from the request's Host header.
    pub url: Url,
    /// `LEPTOS_ENV` is `prod` or `production` (any case), or Leptos' options say `PROD`.
    pub production: bool,
}

impl AppSettings {
    /// In production `APP_URL` must be https (plain http only on loopback).
    pub fn require_https_in_production(&self) -> Result<(), SettingsError> {
        let loopback = self.url.host_str().is_some_and(is_loopback_host);
        if self.url.scheme() != "https" && !loopback {
            return Err(invalid(
                "APP_URL",
                "must be https in production (LEPTOS_ENV=PROD); plain http only on loopback",
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(default)]
pub(super) struct RawApp {
    url: String,
}

impl Default for RawApp {
    fn default() -> Self {
        Self {
            url: "http://localhost:3000".into(),
        }
    }
}

impl RawApp {
    pub(super) fn validate(&self, production: bool) -> Result<AppSettings, SettingsError> {
        let url = Url::parse(self.url.trim())
            .map_err(|e| invalid("APP_URL", format!("is not a URL ({e}): {:?}", self.url)))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(invalid("APP_URL", "must be an http(s) URL with a host"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(invalid("APP_URL", "must not have a query or fragment"));
        }
        Ok(AppSettings { url, production })
    }
}
