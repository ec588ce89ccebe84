//! `[app]`: the app itself.
//!
//! | variable | default | |
//! |---|---|---|
//! | `APP_URL` | `http://localhost:3000` | public base URL (http or https, a host, no query or fragment); redirect URIs are built from it |
//! | `LEPTOS_ENV` | | `PROD` marks production (Leptos' own variable) |

use serde::{Deserialize, Serialize};
use url::Url;

use super::{SettingsError, invalid};

#[derive(Clone, Debug)]
pub struct AppSettings {
    /// Public base URL (`APP_URL`), without trailing slash. Redirect URIs are built from it,
    /// never from the request's Host header.
    pub url: Url,
    /// `LEPTOS_ENV=PROD` (production mode).
    pub production: bool,
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
