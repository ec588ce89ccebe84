//! Settings: loaded once at start into a typed, validated [`Settings`] struct.
//!
//! Sources, later ones winning:
//! 1. built-in defaults (this file),
//! 2. `Leptos.toml` (the app's own settings file; sections `[app]`, `[auth]`, `[oidc]`,
//!    `[session]`, `[dev_provider]`),
//! 3. environment variables — every scalar key `key` of section `[section]` is overridden by
//!    `SECTION_KEY` (for example `[oidc] issuer` ← `OIDC_ISSUER`, `[session] store` ←
//!    `SESSION_STORE`, `[app] url` ← `APP_URL`). A git-ignored `.env` (and the `.okta.env` the
//!    Okta CLI writes) are read into the environment first; the Okta CLI names
//!    `OKTA_OAUTH2_ISSUER`, `OKTA_OAUTH2_CLIENT_ID` and `OKTA_OAUTH2_CLIENT_SECRET` are accepted
//!    as aliases.
//!
//! Secrets (`OIDC_CLIENT_SECRET`, and `DEV_PROVIDER_CLIENT_SECRET` to pin the development
//! provider's generated one) come only from the environment; a secret in the committed file is
//! a start-up error. Any bad value stops start-up with one line naming the key. The settings
//! file is `Leptos.toml` in the working directory, or the one `SIGNIN_SETTINGS` names
//! ([`file_path`]). No other module reads the environment.

use std::{collections::BTreeMap, fmt, path::Path, time::Duration};

use serde::{Deserialize, Serialize};
use url::Url;

use crate::secret::Secret;

/// The settings file: `SIGNIN_SETTINGS`, else `Leptos.toml` (in the working directory).
pub fn file_path() -> String {
    std::env::var("SIGNIN_SETTINGS").unwrap_or_else(|_| "Leptos.toml".into())
}

/// Why settings could not be loaded. Displayed as one line at start-up.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("settings: cannot read {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("settings: {path} is not valid TOML: {reason}")]
    Parse { path: String, reason: String },
    #[error("settings: {key} {problem}")]
    Invalid { key: String, problem: String },
}

fn invalid(key: &str, problem: impl Into<String>) -> SettingsError {
    SettingsError::Invalid {
        key: key.to_string(),
        problem: problem.into(),
    }
}

/// How the app authenticates itself at the provider's token endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenAuthMethod {
    ClientSecretBasic,
    ClientSecretPost,
}

/// Where sessions live.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreKind {
    Memory,
    /// Path of the SQLite database file.
    Sqlite(String),
    /// `redis://host:port[/db]`.
    Redis(String),
}

impl fmt::Display for StoreKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreKind::Memory => f.write_str("memory"),
            StoreKind::Sqlite(path) => write!(f, "sqlite://{path}"),
            // the URL may carry a password: print host only
            StoreKind::Redis(url) => match Url::parse(url) {
                Ok(u) => write!(
                    f,
                    "redis://{}:{}",
                    u.host_str().unwrap_or("?"),
                    u.port().unwrap_or(6379)
                ),
                Err(_) => f.write_str("redis://?"),
            },
        }
    }
}

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
pub struct AppSettings {
    /// Public base URL (`APP_URL`), without trailing slash. Redirect URIs are built from it,
    /// never from the request's Host header.
    pub url: Url,
    /// `LEPTOS_ENV=PROD` (production mode).
    pub production: bool,
}

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

#[derive(Clone, Debug)]
pub struct SessionSettings {
    pub store: StoreKind,
    pub idle_timeout: Duration,
    pub absolute_timeout: Duration,
    /// How long a started sign-in stays valid, and how long a session holding nothing but
    /// started sign-ins is kept (cookie and store): at most 15 minutes.
    pub pending_timeout: Duration,
}

#[derive(Clone, Debug)]
pub struct DevProviderSettings {
    pub enabled_in_production: bool,
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

/// All settings, validated.
#[derive(Clone, Debug)]
pub struct Settings {
    pub app: AppSettings,
    pub auth: AuthSettings,
    pub oidc: OidcSettings,
    pub session: SessionSettings,
    pub dev_provider: DevProviderSettings,
}

impl Settings {
    /// The redirect URI registered at the provider: `APP_URL` + callback path.
    pub fn redirect_uri(&self) -> String {
        format!("{}{}", self.app_base(), self.auth.callback_path)
    }

    /// `APP_URL` without trailing slash.
    pub fn app_base(&self) -> String {
        self.app.url.as_str().trim_end_matches('/').to_string()
    }

    /// The origin of `APP_URL` (scheme://host[:port]), for Origin checks.
    pub fn app_origin(&self) -> String {
        self.app.url.origin().ascii_serialization()
    }

    pub fn https(&self) -> bool {
        self.app.url.scheme() == "https"
    }

    /// Name of the session cookie: `__Host-` prefixed when served over https.
    pub fn cookie_name(&self) -> &'static str {
        if self.https() { "__Host-sid" } else { "sid" }
    }

    /// Loads `path` (when it exists), the environment, and validates.
    pub fn load(path: &Path) -> Result<Self, SettingsError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => {
                return Err(SettingsError::Read {
                    path: path.display().to_string(),
                    reason: e.to_string(),
                });
            }
        };
        Self::from_sources(&text, &path.display().to_string(), |k| {
            std::env::var(k).ok()
        })
    }

    /// Builds settings from file text and an environment lookup (testable without touching
    /// the process environment).
    pub fn from_sources(
        file_text: &str,
        file_name: &str,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, SettingsError> {
        let file: toml::Table = toml::from_str(file_text).map_err(|e| SettingsError::Parse {
            path: file_name.to_string(),
            reason: e.message().to_string(),
        })?;
        if file
            .get("oidc")
            .and_then(|o| o.as_table())
            .is_some_and(|o| o.contains_key("client_secret"))
        {
            return Err(invalid(
                "oidc.client_secret",
                "must not be in a committed file: set OIDC_CLIENT_SECRET in the environment or .env",
            ));
        }
        let mut merged = defaults_table();
        for (section, value) in file {
            if section == "package" {
                continue; // [package.metadata.leptos] belongs to Leptos itself
            }
            let Some(defaults) = merged.get_mut(&section).and_then(|d| d.as_table_mut()) else {
                return Err(invalid(&section, "is not a known settings section"));
            };
            let toml::Value::Table(values) = value else {
                return Err(invalid(&section, "must be a table"));
            };
            for (key, v) in values {
                if !defaults.contains_key(&key) {
                    return Err(invalid(
                        &format!("{section}.{key}"),
                        "is not a known setting",
                    ));
                }
                defaults.insert(key, v);
            }
        }
        apply_env(&mut merged, &env)?;
        let raw: Raw = toml::Value::Table(merged)
            .try_into()
            .map_err(|e: toml::de::Error| invalid("settings", e.message().to_string()))?;
        let secret = env("OIDC_CLIENT_SECRET")
            .or_else(|| env("OKTA_OAUTH2_CLIENT_SECRET"))
            .filter(|s| !s.is_empty());
        let production = env("LEPTOS_ENV").is_some_and(|v| v.eq_ignore_ascii_case("prod"));
        let mut settings = raw.validate(secret, production)?;
        settings.dev_provider.client_secret = env("DEV_PROVIDER_CLIENT_SECRET")
            .filter(|s| !s.is_empty())
            .map(Secret::new);
        Ok(settings)
    }
}

/// Applies `SECTION_KEY` environment overrides (and the Okta CLI aliases) to scalar keys.
fn apply_env(
    merged: &mut toml::Table,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<(), SettingsError> {
    let aliases: [(&str, &str, &str); 2] = [
        ("oidc", "issuer", "OKTA_OAUTH2_ISSUER"),
        ("oidc", "client_id", "OKTA_OAUTH2_CLIENT_ID"),
    ];
    for (section, table) in merged.iter_mut() {
        let Some(table) = table.as_table_mut() else {
            continue;
        };
        for (key, value) in table.iter_mut() {
            let name = format!("{section}_{key}").to_ascii_uppercase();
            let alias = aliases
                .iter()
                .find(|(s, k, _)| s == section && k == key)
                .map(|(_, _, a)| *a);
            let Some(text) = env(&name).or_else(|| alias.and_then(env)) else {
                continue;
            };
            *value = match value {
                toml::Value::String(_) => toml::Value::String(text),
                toml::Value::Integer(_) => {
                    toml::Value::Integer(text.trim().parse().map_err(|_| {
                        invalid(&name, format!("must be a whole number, got {text:?}"))
                    })?)
                }
                toml::Value::Boolean(_) => {
                    toml::Value::Boolean(parse_bool(&text).ok_or_else(|| {
                        invalid(&name, format!("must be true or false, got {text:?}"))
                    })?)
                }
                toml::Value::Array(items) if items.iter().all(|i| i.is_str()) => {
                    toml::Value::Array(
                        text.split([',', ' '])
                            .map(str::trim)
                            .filter(|s| !s.is_empty())
                            .map(|s| toml::Value::String(s.to_string()))
                            .collect(),
                    )
                }
                _ => return Err(invalid(&name, "cannot be set from the environment")),
            };
        }
    }
    Ok(())
}

fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// The settings as written in the file / environment, before validation.
#[derive(Debug, Serialize, Deserialize, Default)]
#[serde(default)]
struct Raw {
    app: RawApp,
    auth: RawAuth,
    oidc: RawOidc,
    session: RawSession,
    dev_provider: RawDev,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(default)]
struct RawApp {
    url: String,
}

impl Default for RawApp {
    fn default() -> Self {
        Self {
            url: "http://localhost:3000".into(),
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(default)]
struct RawAuth {
    callback_path: String,
    require_auth_everywhere: bool,
    public_paths: Vec<String>,
    default_return_to: String,
    clock_skew_secs: i64,
    use_userinfo: bool,
    refresh: bool,
    refresh_margin_secs: i64,
    rotation_grace_secs: i64,
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
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(default)]
struct RawOidc {
    issuer: String,
    org_issuer: String,
    client_id: String,
    scopes: String,
    token_auth_method: String,
    http_timeout_secs: i64,
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
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(default)]
struct RawSession {
    store: String,
    idle_timeout_secs: i64,
    absolute_timeout_secs: i64,
    pending_timeout_secs: i64,
}

impl Default for RawSession {
    fn default() -> Self {
        Self {
            store: "memory".into(),
            idle_timeout_secs: 24 * 3600,
            absolute_timeout_secs: 7 * 24 * 3600,
            pending_timeout_secs: 600,
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(default)]
struct RawDev {
    enabled_in_production: bool,
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
            enabled_in_production: false,
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

fn defaults_table() -> toml::Table {
    match toml::Value::try_from(Raw::default()) {
        Ok(toml::Value::Table(t)) => t,
        _ => toml::Table::new(),
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
    let loopback = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    if url.scheme() != "https" && !(url.scheme() == "http" && loopback) {
        return Err(invalid(
            key,
            "must use https (plain http is allowed only on localhost)",
        ));
    }
    Ok(Some(text.trim_end_matches('/').to_string()))
}

fn secs(key: &str, value: i64, min: i64, max: i64) -> Result<Duration, SettingsError> {
    if value < min || value > max {
        return Err(invalid(
            key,
            format!("must be between {min} and {max} seconds, got {value}"),
        ));
    }
    Ok(Duration::from_secs(value as u64))
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

impl Raw {
    fn validate(self, secret: Option<String>, production: bool) -> Result<Settings, SettingsError> {
        let app_url = Url::parse(self.app.url.trim())
            .map_err(|e| invalid("APP_URL", format!("is not a URL ({e}): {:?}", self.app.url)))?;
        if !matches!(app_url.scheme(), "http" | "https") || app_url.host_str().is_none() {
            return Err(invalid("APP_URL", "must be an http(s) URL with a host"));
        }
        if app_url.query().is_some() || app_url.fragment().is_some() {
            return Err(invalid("APP_URL", "must not have a query or fragment"));
        }

        let issuer = provider_url("OIDC_ISSUER", &self.oidc.issuer)?;
        let client_id = self.oidc.client_id.trim().to_string();
        if issuer.is_some() && client_id.is_empty() {
            return Err(invalid(
                "OIDC_CLIENT_ID",
                "is required when OIDC_ISSUER is set",
            ));
        }
        let token_auth_method = match self.oidc.token_auth_method.trim() {
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
        let scopes: Vec<String> = self
            .oidc
            .scopes
            .split([' ', ','])
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        if !scopes.iter().any(|s| s == "openid") {
            return Err(invalid("OIDC_SCOPES", "must include openid"));
        }

        let callback_path = path_setting("AUTH_CALLBACK_PATH", &self.auth.callback_path)?;
        let default_return_to =
            path_setting("AUTH_DEFAULT_RETURN_TO", &self.auth.default_return_to)?;
        let mut public_paths = Vec::new();
        for p in &self.auth.public_paths {
            public_paths.push(path_setting("AUTH_PUBLIC_PATHS", p)?);
        }

        let store = parse_store(self.session.store.trim())?;

        let rotation_grace = secs(
            "AUTH_ROTATION_GRACE_SECS",
            self.auth.rotation_grace_secs,
            0,
            60,
        )?;
        let dev_grace = secs(
            "DEV_PROVIDER_ROTATION_GRACE_SECS",
            self.dev_provider.rotation_grace_secs,
            0,
            60,
        )?;
        let port = u16::try_from(self.dev_provider.port)
            .map_err(|_| invalid("DEV_PROVIDER_PORT", "must be a port number (0-65535)"))?;
        for (i, u) in self.dev_provider.users.iter().enumerate() {
            if u.email.trim().is_empty() || !u.email.contains('@') {
                return Err(invalid(
                    &format!("dev_provider.users[{i}].email"),
                    "must be an email address",
                ));
            }
        }

        Ok(Settings {
            app: AppSettings {
                url: app_url,
                production,
            },
            auth: AuthSettings {
                callback_path,
                require_auth_everywhere: self.auth.require_auth_everywhere,
                public_paths,
                default_return_to,
                clock_skew: secs("AUTH_CLOCK_SKEW_SECS", self.auth.clock_skew_secs, 0, 600)?,
                use_userinfo: self.auth.use_userinfo,
                refresh: self.auth.refresh,
                refresh_margin: secs(
                    "AUTH_REFRESH_MARGIN_SECS",
                    self.auth.refresh_margin_secs,
                    0,
                    3600,
                )?,
                rotation_grace,
            },
            oidc: OidcSettings {
                issuer,
                client_id,
                client_secret: secret.map(Secret::new),
                scopes,
                token_auth_method,
                http_timeout: secs(
                    "OIDC_HTTP_TIMEOUT_SECS",
                    self.oidc.http_timeout_secs,
                    1,
                    120,
                )?,
                org_issuer: provider_url("OIDC_ORG_ISSUER", &self.oidc.org_issuer)?,
            },
            session: SessionSettings {
                store,
                idle_timeout: secs(
                    "SESSION_IDLE_TIMEOUT_SECS",
                    self.session.idle_timeout_secs,
                    1,
                    365 * 24 * 3600,
                )?,
                absolute_timeout: secs(
                    "SESSION_ABSOLUTE_TIMEOUT_SECS",
                    self.session.absolute_timeout_secs,
                    1,
                    365 * 24 * 3600,
                )?,
                pending_timeout: secs(
                    "SESSION_PENDING_TIMEOUT_SECS",
                    self.session.pending_timeout_secs,
                    1,
                    900,
                )?,
            },
            dev_provider: DevProviderSettings {
                enabled_in_production: self.dev_provider.enabled_in_production,
                host: self.dev_provider.host.clone(),
                port,
                access_token_ttl: secs(
                    "DEV_PROVIDER_ACCESS_TOKEN_TTL_SECS",
                    self.dev_provider.access_token_ttl_secs,
                    1,
                    24 * 3600,
                )?,
                refresh_token_ttl: secs(
                    "DEV_PROVIDER_REFRESH_TOKEN_TTL_SECS",
                    self.dev_provider.refresh_token_ttl_secs,
                    1,
                    365 * 24 * 3600,
                )?,
                rotation_grace: dev_grace,
                state_dir: self.dev_provider.state_dir.clone(),
                users: self.dev_provider.users,
                client_secret: None,
            },
        })
    }
}

fn parse_store(text: &str) -> Result<StoreKind, SettingsError> {
    if text == "memory" {
        return Ok(StoreKind::Memory);
    }
    if let Some(path) = text.strip_prefix("sqlite://") {
        if path.is_empty() {
            return Err(invalid(
                "SESSION_STORE",
                "sqlite:// needs a file path, e.g. sqlite://sessions.db",
            ));
        }
        return Ok(StoreKind::Sqlite(path.to_string()));
    }
    if text.starts_with("redis://") || text.starts_with("rediss://") {
        let url = Url::parse(text)
            .map_err(|e| invalid("SESSION_STORE", format!("is not a valid redis URL: {e}")))?;
        if url.host_str().is_none() {
            return Err(invalid("SESSION_STORE", "redis URL needs a host"));
        }
        return Ok(StoreKind::Redis(text.to_string()));
    }
    Err(invalid(
        "SESSION_STORE",
        format!("must be memory, sqlite://PATH or redis://HOST:PORT, got {text:?}"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn load(file: &str, env: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_sources(file, "Leptos.toml", |k| env.get(k).cloned())
    }

    const OKTA: &[(&str, &str)] = &[
        ("OIDC_ISSUER", "https://dev-1.okta.com/oauth2/default"),
        ("OIDC_CLIENT_ID", "0oa1"),
        ("OIDC_CLIENT_SECRET", "shh"),
    ];

    /// The committed settings file is valid and the run command keeps sessions in SQLite.
    #[test]
    fn the_development_providers_secret_comes_through_settings() {
        let s = load("", &[("DEV_PROVIDER_CLIENT_SECRET", "pinned")]).unwrap();
        assert_eq!(s.dev_provider.client_secret.unwrap().expose(), "pinned");
        assert!(load("", &[]).unwrap().dev_provider.client_secret.is_none());
    }

    #[test]
    fn org_issuer_is_derived_from_an_okta_issuer() {
        let mut o = OidcSettings {
            issuer: Some("https://x.okta.com/oauth2/default".into()),
            client_id: "c".into(),
            client_secret: None,
            scopes: vec![],
            token_auth_method: TokenAuthMethod::ClientSecretBasic,
            http_timeout: Duration::from_secs(1),
            org_issuer: None,
        };
        assert_eq!(o.org_issuer().as_deref(), Some("https://x.okta.com"));
        o.issuer = Some("https://x.okta.com".into());
        assert_eq!(o.org_issuer().as_deref(), Some("https://x.okta.com"));
        o.org_issuer = Some("https://org.example".into());
        assert_eq!(o.org_issuer().as_deref(), Some("https://org.example"));
    }

    #[test]
    fn committed_settings_file() {
        let s = load(include_str!("../Leptos.toml"), &[]).unwrap();
        assert_eq!(s.session.store, StoreKind::Sqlite("sessions.db".into()));
        assert!(s.oidc.issuer.is_none(), "development provider by default");
        let s = load(
            include_str!("../Leptos.toml"),
            &[("SESSION_STORE", "memory")],
        )
        .unwrap();
        assert_eq!(s.session.store, StoreKind::Memory);
    }

    #[test]
    fn defaults_without_provider() {
        let s = load("", &[]).unwrap();
        assert!(s.oidc.issuer.is_none());
        assert_eq!(
            s.redirect_uri(),
            "http://localhost:3000/authorization-code/callback"
        );
        assert_eq!(s.session.store, StoreKind::Memory);
        assert!(s.oidc.offline_access());
        assert_eq!(s.cookie_name(), "sid");
    }

    #[test]
    fn env_overrides_file() {
        let s = load(
            "[app]\nurl = \"http://file:1\"\n[auth]\nrefresh_margin_secs = 10\n",
            &[
                ("APP_URL", "https://app.example.com"),
                ("AUTH_REFRESH_MARGIN_SECS", "45"),
            ],
        )
        .unwrap();
        assert_eq!(s.app_base(), "https://app.example.com");
        assert_eq!(s.auth.refresh_margin, Duration::from_secs(45));
        assert_eq!(s.cookie_name(), "__Host-sid");
    }

    #[test]
    fn okta_cli_names_are_accepted() {
        let s = load(
            "",
            &[
                ("OKTA_OAUTH2_ISSUER", "https://dev-1.okta.com"),
                ("OKTA_OAUTH2_CLIENT_ID", "abc"),
                ("OKTA_OAUTH2_CLIENT_SECRET", "s"),
            ],
        )
        .unwrap();
        assert_eq!(s.oidc.issuer.as_deref(), Some("https://dev-1.okta.com"));
        assert_eq!(s.oidc.client_id, "abc");
        assert_eq!(s.oidc.client_secret.unwrap().expose(), "s");
    }

    #[test]
    fn okta_config_with_secret() {
        let s = load("", OKTA).unwrap();
        assert_eq!(s.oidc.client_id, "0oa1");
        assert_eq!(
            format!("{:?}", s.oidc.client_secret),
            "Some(Secret([redacted]))"
        );
    }

    #[test]
    fn errors_name_the_key() {
        /// (Leptos.toml text, environment, key the error must name)
        type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);
        let cases: &[Case] = &[
            ("", &[("APP_URL", "not a url")], "APP_URL"),
            (
                "",
                &[
                    ("OIDC_ISSUER", "http://evil.example.com"),
                    ("OIDC_CLIENT_ID", "x"),
                    ("OIDC_CLIENT_SECRET", "y"),
                ],
                "OIDC_ISSUER",
            ),
            (
                "",
                &[("OIDC_ISSUER", "https://x.okta.com")],
                "OIDC_CLIENT_ID",
            ),
            (
                "",
                &[
                    ("OIDC_ISSUER", "https://x.okta.com"),
                    ("OIDC_CLIENT_ID", "a"),
                ],
                "OIDC_CLIENT_SECRET",
            ),
            ("", &[("SESSION_STORE", "mongodb://x")], "SESSION_STORE"),
            (
                "",
                &[("AUTH_ROTATION_GRACE_SECS", "61")],
                "AUTH_ROTATION_GRACE_SECS",
            ),
            ("", &[("AUTH_REFRESH", "maybe")], "AUTH_REFRESH"),
            (
                "",
                &[("AUTH_CALLBACK_PATH", "https://x/cb")],
                "AUTH_CALLBACK_PATH",
            ),
            ("", &[("OIDC_SCOPES", "profile")], "OIDC_SCOPES"),
            ("[oidc]\nclient_secret = \"x\"\n", &[], "oidc.client_secret"),
            ("[auth]\nunknown = 1\n", &[], "auth.unknown"),
            ("[nope]\n", &[], "nope"),
        ];
        for (file, env, key) in cases {
            let err = load(file, env).unwrap_err().to_string();
            assert!(err.contains(key), "{err} should name {key}");
            assert!(!err.contains('\n'), "one line: {err}");
        }
        assert!(matches!(
            load("[app", &[]),
            Err(SettingsError::Parse { .. })
        ));
    }

    #[test]
    fn stores_parse() {
        assert_eq!(
            parse_store("sqlite://s.db").unwrap(),
            StoreKind::Sqlite("s.db".into())
        );
        assert!(matches!(
            parse_store("redis://127.0.0.1:6379").unwrap(),
            StoreKind::Redis(_)
        ));
        assert_eq!(
            StoreKind::Redis("redis://user:pw@h:1".into()).to_string(),
            "redis://h:1",
            "no password in logs"
        );
    }

    #[test]
    fn public_paths_from_env_list() {
        let s = load("", &[("AUTH_PUBLIC_PATHS", "/, /about,/pkg/")]).unwrap();
        // (the sign-in routes are added where the guard policy is built: AppState::new)
        assert_eq!(s.auth.public_paths, vec!["/", "/about", "/pkg/"]);
    }
}
