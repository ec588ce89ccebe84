//! Settings: loaded once at start into a typed, validated [`Settings`] struct.
//!
//! One file per section, each listing its variables and validating them: [`app`], [`oidc`],
//! [`auth`], [`session`], [`limits`], [`events`], [`metrics`], [`dev_provider`]; [`source`] merges where they come from.
//!
//! Sources, later ones winning:
//! 1. built-in defaults (each section's `Default`),
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

mod app;
mod auth;
mod dev_provider;
mod events;
mod limits;
mod metrics;
mod oidc;
mod providers;
mod session;
mod source;

use std::{path::Path, time::Duration};

use serde::{Deserialize, Serialize};

pub use app::AppSettings;
pub use auth::AuthSettings;
pub use dev_provider::{DemoUser, DevProviderSettings};
pub use events::EventSettings;
pub use limits::{LimitSettings, Rate};
pub use metrics::MetricsSettings;
pub use oidc::{OidcSettings, ParMode, TokenAuthMethod};
pub use providers::{DEFAULT_PROVIDER, ProviderSettings, secret_variable};
pub use session::{SessionKeys, SessionSettings, StoreKind, decode_key};

use crate::secret::Secret;
use source::apply_env;

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

/// Whether `host` (a host name or IP address, IPv6 with or without brackets) is this machine:
/// `localhost`, `127.0.0.0/8` or `::1`.
pub fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Whether a provider endpoint may receive the client's credentials: https, or plain http on
/// this machine (the development provider, tests).
pub fn secure_endpoint(url: &url::Url) -> bool {
    url.scheme() == "https"
        || url.scheme() == "http" && url.host_str().is_some_and(is_loopback_host)
}

/// `LEPTOS_ENV` as Leptos reads it (`dev`/`development`, `prod`/`production`, any case):
/// `Some(true)` in production, `None` for a value Leptos would refuse.
fn leptos_production(value: Option<&str>) -> Option<bool> {
    match value.map(str::to_lowercase).as_deref() {
        None | Some("dev" | "development") => Some(false),
        Some("prod" | "production") => Some(true),
        Some(_) => None,
    }
}

fn invalid(key: &str, problem: impl Into<String>) -> SettingsError {
    SettingsError::Invalid {
        key: key.to_string(),
        problem: problem.into(),
    }
}

/// All settings, validated.
#[derive(Clone, Debug)]
pub struct Settings {
    pub app: AppSettings,
    pub auth: AuthSettings,
    pub oidc: OidcSettings,
    /// `[[providers]]`: more providers beside the default one (`oidc`).
    pub providers: Vec<ProviderSettings>,
    pub session: SessionSettings,
    pub limits: LimitSettings,
    pub events: EventSettings,
    pub metrics: MetricsSettings,
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

    /// What production requires beyond valid values: an https `APP_URL` (loopback excepted)
    /// and, for sessions kept in SQLite or Redis, a key sealing them and (with DPoP) the DPoP
    /// key file every instance shares. Checked at load when `LEPTOS_ENV`
    /// says production, and by start-up when Leptos' own options do.
    pub fn require_for_production(&self) -> Result<(), SettingsError> {
        self.app.require_https_in_production()?;
        self.session.require_key_in_production()?;
        if self.oidc.dpop
            && self.oidc.dpop_key_file.is_none()
            && self.session.store != StoreKind::Memory
        {
            return Err(invalid(
                "OIDC_DPOP_KEY_FILE",
                "is required in production with SQLite or Redis sessions (every instance must sign DPoP proofs with the same key; `signin jwk --generate FILE` makes one)",
            ));
        }
        Ok(())
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
        let mut file: toml::Table =
            toml::from_str(file_text).map_err(|e| SettingsError::Parse {
                path: file_name.to_string(),
                reason: e.message().to_string(),
            })?;
        // [[providers]] is a list, not a section with environment overrides
        let providers = file.remove("providers");
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
        let production = leptos_production(env("LEPTOS_ENV").as_deref()).ok_or_else(|| {
            invalid(
                "LEPTOS_ENV",
                "must be DEV or PROD (or development / production)",
            )
        })?;
        let dev_secret = env("DEV_PROVIDER_CLIENT_SECRET")
            .filter(|s| !s.is_empty())
            .map(Secret::new);
        let mut settings = Settings {
            app: raw.app.validate(production)?,
            oidc: raw.oidc.validate(secret)?,
            providers: Vec::new(),
            auth: raw.auth.validate()?,
            session: raw
                .session
                .validate(env("SESSION_ENCRYPTION_KEY").filter(|s| !s.is_empty()))?,
            limits: raw.limits.validate()?,
            events: raw.events.validate()?,
            metrics: raw.metrics.validate()?,
            dev_provider: raw.dev_provider.validate(dev_secret)?,
        };
        if production {
            settings.require_for_production()?;
        }
        let persistent = settings.session.store != StoreKind::Memory;
        settings.oidc.resolve_dpop_key(persistent, production)?;
        settings.providers = providers::validate(providers, &settings.oidc, &env)?;
        for p in &mut settings.providers {
            p.oidc.dpop_key = settings.oidc.dpop_key.clone();
        }
        if settings.auth.api_audience == settings.oidc.client_id {
            return Err(invalid(
                "AUTH_API_AUDIENCE",
                "must not be the client id (that is the audience of ID tokens)",
            ));
        }
        Ok(settings)
    }
}

/// The settings as written in the file / environment, before validation.
#[derive(Debug, Serialize, Deserialize, Default)]
#[serde(default)]
struct Raw {
    app: app::RawApp,
    auth: auth::RawAuth,
    oidc: oidc::RawOidc,
    session: session::RawSession,
    limits: limits::RawLimits,
    events: events::RawEvents,
    metrics: metrics::RawMetrics,
    dev_provider: dev_provider::RawDev,
}

fn defaults_table() -> toml::Table {
    match toml::Value::try_from(Raw::default()) {
        Ok(toml::Value::Table(t)) => t,
        _ => toml::Table::new(),
    }
}

/// A duration setting in whole seconds, between `min` and `max`.
fn secs(key: &str, value: i64, min: i64, max: i64) -> Result<Duration, SettingsError> {
    if value < min || value > max {
        return Err(invalid(
            key,
            format!("must be between {min} and {max} seconds, got {value}"),
        ));
    }
    Ok(Duration::from_secs(value as u64))
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

    /// Production is production in every spelling Leptos accepts; an unknown value stops
    /// start-up; in production `APP_URL` must be https unless it is loopback.
    #[test]
    fn production_in_every_spelling_and_https() {
        for v in ["PROD", "prod", "Production", "PRODUCTION"] {
            let s = load(
                "",
                &[("LEPTOS_ENV", v), ("APP_URL", "https://app.example.com")],
            );
            assert!(s.unwrap().app.production, "{v}");
        }
        for v in ["DEV", "development"] {
            assert!(
                !load("", &[("LEPTOS_ENV", v)]).unwrap().app.production,
                "{v}"
            );
        }
        let e = load("", &[("LEPTOS_ENV", "staging")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("LEPTOS_ENV"), "{e}");
        let e = load(
            "",
            &[
                ("LEPTOS_ENV", "production"),
                ("APP_URL", "http://app.example.com"),
            ],
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("APP_URL") && e.contains("https"), "{e}");
        for loopback in [
            "http://localhost:3000",
            "http://127.0.0.1:3000",
            "http://[::1]:3000",
        ] {
            let s = load("", &[("LEPTOS_ENV", "PROD"), ("APP_URL", loopback)]);
            assert!(s.is_ok(), "{loopback}");
        }
    }

    /// The API audience must not be the client id: ID tokens carry that audience.
    #[test]
    fn the_api_audience_is_not_the_client_id() {
        let e = load(
            "",
            &[("OIDC_CLIENT_ID", "app"), ("AUTH_API_AUDIENCE", "app")],
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("AUTH_API_AUDIENCE"), "{e}");
        let s = load("", &[("OIDC_CLIENT_ID", "app")]).unwrap();
        assert_eq!(s.auth.api_audience, "api://default");
        let s = load("", &[("AUTH_API_CLIENT_IDS", "app, cli-tool")]).unwrap();
        assert_eq!(s.auth.api_client_ids, ["app", "cli-tool"]);
    }

    #[test]
    fn loopback_hosts() {
        for h in [
            "localhost",
            "LOCALHOST",
            "127.0.0.1",
            "127.1.2.3",
            "::1",
            "[::1]",
        ] {
            assert!(is_loopback_host(h), "{h}");
        }
        for h in [
            "0.0.0.0",
            "example.com",
            "localhost.example.com",
            "10.0.0.1",
            "::",
        ] {
            assert!(!is_loopback_host(h), "{h}");
        }
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
            client_key: None,
            client_key_file: None,
            dpop_key: None,
            dpop: false,
            dpop_key_file: None,
            display_name: None,
            scopes: vec![],
            token_auth_method: TokenAuthMethod::ClientSecretBasic,
            http_timeout: Duration::from_secs(1),
            par: ParMode::Auto,
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
        let s = load(include_str!("../../Leptos.toml"), &[]).unwrap();
        assert_eq!(s.session.store, StoreKind::Sqlite("sessions.db".into()));
        assert!(s.oidc.issuer.is_none(), "development provider by default");
        let s = load(
            include_str!("../../Leptos.toml"),
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
    fn more_providers_come_from_the_file_and_their_secrets_from_the_environment() {
        let file = r#"
[[providers]]
id = "corp-sso"
name = "Corp SSO"
issuer = "https://sso.example.com/"
client_id = "app"
scopes = "openid email"

[[providers]]
id = "google"
name = "Google"
issuer = "https://accounts.google.com"
client_id = "g"
token_auth_method = "client_secret_post"
"#;
        let env = [
            ("PROVIDER_CORP_SSO_CLIENT_SECRET", "s1"),
            ("PROVIDER_GOOGLE_CLIENT_SECRET", "s2"),
        ];
        let s = load(file, &env).unwrap();
        assert_eq!(s.providers.len(), 2);
        let corp = &s.providers[0];
        assert_eq!(
            (corp.id.as_str(), corp.name.as_str()),
            ("corp-sso", "Corp SSO")
        );
        assert_eq!(corp.oidc.issuer.as_deref(), Some("https://sso.example.com"));
        assert_eq!(corp.oidc.client_secret.as_ref().unwrap().expose(), "s1");
        assert_eq!(corp.oidc.scopes, ["openid", "email"]);
        assert_eq!(
            s.providers[1].oidc.token_auth_method,
            TokenAuthMethod::ClientSecretPost
        );
        // each error names what to fix
        let bad = |file: &str, env: &[(&str, &str)], key: &str| {
            let err = load(file, env).unwrap_err().to_string();
            assert!(err.contains(key), "{err} should name {key}");
        };
        bad(file, &env[..1], "PROVIDER_GOOGLE_CLIENT_SECRET");
        let one = "[[providers]]\nid = \"x\"\nname = \"X\"\nissuer = \"https://x.example\"\nclient_id = \"c\"\n";
        let secret = [("PROVIDER_X_CLIENT_SECRET", "s")];
        bad(&format!("{one}{one}"), &secret, "providers.x.id");
        bad(&one.replace("\"x\"", "\"X Y\""), &secret, "providers.id");
        bad(
            &one.replace("\"x\"", "\"default\""),
            &secret,
            "providers.default.id",
        );
        bad(
            &one.replace("https://x.example", "http://x.example"),
            &secret,
            "providers.x.issuer",
        );
        bad(
            &format!("{one}client_secret = \"no\"\n"),
            &secret,
            "providers",
        );
        bad(
            one,
            &[
                ("PROVIDER_X_CLIENT_SECRET", "s"),
                ("OIDC_ISSUER", "https://x.example"),
                ("OIDC_CLIENT_ID", "c"),
                ("OIDC_CLIENT_SECRET", "s"),
            ],
            "providers.x.issuer",
        );
    }

    #[test]
    fn private_key_jwt_needs_a_key_and_no_secret() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("client.pem");
        let (key, pem) = crate::signing_key::SigningKey::generate(None).unwrap();
        std::fs::write(&file, pem).unwrap();
        let file = file.to_str().unwrap();
        let s = load(
            "",
            &[
                ("OIDC_ISSUER", "https://x.okta.com/oauth2/default"),
                ("OIDC_CLIENT_ID", "0oa1"),
                ("OIDC_TOKEN_AUTH_METHOD", "private_key_jwt"),
                ("OIDC_CLIENT_PRIVATE_KEY_FILE", file),
                ("OIDC_CLIENT_KEY_ID", "okta-kid"),
            ],
        )
        .unwrap();
        let loaded = s.oidc.client_key.unwrap();
        assert_eq!(loaded.thumbprint(), key.thumbprint());
        assert_eq!(loaded.key_id(), Some("okta-kid"));
        // not a key: refused with the variable's name, and no key text in the message
        std::fs::write(
            dir.path().join("bad.pem"),
            "-----BEGIN PRIVATE KEY-----\nsecretstuff\n",
        )
        .unwrap();
        let err = load(
            "",
            &[
                ("OIDC_TOKEN_AUTH_METHOD", "private_key_jwt"),
                (
                    "OIDC_CLIENT_PRIVATE_KEY_FILE",
                    dir.path().join("bad.pem").to_str().unwrap(),
                ),
            ],
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("OIDC_CLIENT_PRIVATE_KEY_FILE") && !err.contains("secretstuff"),
            "{err}"
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
            (
                "",
                &[("OIDC_TOKEN_AUTH_METHOD", "private_key_jwt")],
                "OIDC_CLIENT_PRIVATE_KEY_FILE",
            ),
            (
                "",
                &[("OIDC_CLIENT_PRIVATE_KEY_FILE", "client.pem")],
                "OIDC_CLIENT_PRIVATE_KEY_FILE",
            ),
            (
                "",
                &[
                    ("OIDC_TOKEN_AUTH_METHOD", "private_key_jwt"),
                    ("OIDC_CLIENT_PRIVATE_KEY_FILE", "/nonexistent/client.pem"),
                ],
                "OIDC_CLIENT_PRIVATE_KEY_FILE",
            ),
            (
                "",
                &[("OIDC_TOKEN_AUTH_METHOD", "jwt")],
                "OIDC_TOKEN_AUTH_METHOD",
            ),
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
            session::parse_store("sqlite://s.db").unwrap(),
            StoreKind::Sqlite("s.db".into())
        );
        assert!(matches!(
            session::parse_store("redis://127.0.0.1:6379").unwrap(),
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
