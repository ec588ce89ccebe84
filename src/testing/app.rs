//! [`TestApp`]: the app's `Router` and state built in-process, the way `main` builds them but
//! from an environment map, with a builder for what a test or the benchmark varies.
//!
//! ```ignore
//! let app = TestApp::builder().env("SESSION_STORE", "sqlite::memory:").build().await?;
//! let mut jar = Jar::default();
//! let resp = app.request(&mut jar, Request::get("/profile")).await?;
//! ```

use std::{collections::BTreeMap, path::Path};

use axum::{
    Router,
    body::Body,
    http::{Request, header, request::Builder},
};
use http_body_util::BodyExt;
use leptos::config::{Env, LeptosOptions};
use tower::ServiceExt;

use super::{Jar, Resp, TestResult, dev_sign_in::install_key};
use crate::{
    dev_provider::{self, DevProvider},
    server::app,
    settings::Settings,
    startup::build_store,
    state::AppState,
};

/// Where the app believes it is served (requests go in-process, never to this address; a
/// loopback URL, as the development provider requires).
pub const APP_URL: &str = "http://localhost:3000";

/// Settings from an environment map over the defaults tests need (`APP_URL`, the development
/// provider on a free port with its state under `dir`, no rate limits); nothing is read from
/// the process environment or a settings file.
pub fn settings_from(env: &[(&str, &str)], dir: &Path) -> TestResult<Settings> {
    let mut map: BTreeMap<String, String> = BTreeMap::from([
        ("APP_URL".into(), APP_URL.into()),
        ("DEV_PROVIDER_PORT".into(), "0".into()),
        (
            "DEV_PROVIDER_STATE_DIR".into(),
            dir.join("dev-provider").display().to_string(),
        ),
        (
            "SESSION_KEY_FILE".into(),
            dir.join("session-key").display().to_string(),
        ),
        // one key for every app a test starts (they may share a store); "" for none
        (
            "SESSION_ENCRYPTION_KEY".into(),
            "dGVzdC1vbmx5LXNlc3Npb24ta2V5LTMyLWJ5dGVzISE=".into(),
        ),
        // every in-process request comes from one "client": tests that are about rate
        // limits set their own
        ("LIMITS_SIGN_IN_PER_MINUTE".into(), "0".into()),
        ("LIMITS_PROVIDER_PER_MINUTE".into(), "0".into()),
    ]);
    for (k, v) in env {
        map.insert(k.to_string(), v.to_string());
    }
    Settings::from_sources("", "test", |k| map.get(k).cloned()).map_err(|e| e.to_string())
}

/// Leptos options for in-process rendering (the site root `cargo leptos build` writes).
pub fn leptos_options(env: Env) -> LeptosOptions {
    LeptosOptions::builder()
        .output_name("signin")
        .site_root("target/site")
        .env(env)
        .build()
}

/// Which OpenID Provider the app is pointed at.
enum Provider {
    /// Start the embedded development provider (with the process's shared key).
    Dev,
    /// The issuer the settings already name (`OIDC_ISSUER` in the map, or given settings).
    External,
    /// A development provider started by the caller.
    Given(DevProvider),
}

/// Builds a [`TestApp`]; see the module documentation.
pub struct TestAppBuilder {
    env: Vec<(String, String)>,
    settings: Option<Settings>,
    provider: Provider,
    leptos_env: Env,
    router: fn(AppState) -> Router,
}

impl TestAppBuilder {
    /// One environment variable (later ones win).
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Several environment variables.
    pub fn envs(mut self, vars: &[(&str, &str)]) -> Self {
        self.env
            .extend(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        self
    }

    /// Uses the issuer named in the settings instead of starting a development provider.
    pub fn external_provider(mut self) -> Self {
        self.provider = Provider::External;
        self
    }

    /// Uses these settings as they are (the environment map is then ignored) with this
    /// development provider, if any (for restarts and configuration changes).
    pub fn settings(mut self, settings: Settings, provider: Option<DevProvider>) -> Self {
        self.settings = Some(settings);
        self.provider = provider.map_or(Provider::External, Provider::Given);
        self
    }

    /// Renders as a release build does (Leptos' `Env::PROD`: no live-reload script). The
    /// settings stay non-production: the development provider never runs in production.
    pub fn prod_rendering(mut self) -> Self {
        self.leptos_env = Env::PROD;
        self
    }

    /// Composes the router with `router` instead of `app` (the benchmark's twin routes).
    pub fn router(mut self, router: fn(AppState) -> Router) -> Self {
        self.router = router;
        self
    }

    pub async fn build(self) -> TestResult<TestApp> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let mut settings = match self.settings {
            Some(s) => s,
            None => {
                let env: Vec<(&str, &str)> = self
                    .env
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                settings_from(&env, dir.path())?
            }
        };
        let provider = match self.provider {
            Provider::Dev => {
                install_key(&settings.dev_provider.state_dir)?;
                let p = dev_provider::start(&settings).await?;
                p.configure(&mut settings);
                Some(p)
            }
            Provider::Given(p) => Some(p),
            Provider::External => None,
        };
        let (store, locks) = build_store(&settings.session)
            .await
            .map_err(|e| e.to_string())?;
        let state = AppState::new(leptos_options(self.leptos_env), settings, store, locks)
            .map_err(|e| e.to_string())?;
        crate::stores::connect_relay(&state.settings.session, state.keeper.events.clone())
            .await
            .map_err(|e| e.to_string())?;
        Ok(TestApp {
            router: (self.router)(state.clone()),
            state,
            provider,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .map_err(|e| e.to_string())?,
            dir,
        })
    }
}

/// The app in-process, its state, its provider and a client for the provider's side.
pub struct TestApp {
    pub router: Router,
    pub state: AppState,
    /// The development provider, when the app uses one this process started.
    pub provider: Option<DevProvider>,
    /// A client that does not follow redirects (for the provider's pages).
    pub http: reqwest::Client,
    /// Scratch space (the provider's state, SQLite files); removed on drop.
    pub dir: tempfile::TempDir,
}

impl TestApp {
    /// The development provider on a free port, the memory store, `app(state)`.
    pub fn builder() -> TestAppBuilder {
        TestAppBuilder {
            env: Vec::new(),
            settings: None,
            provider: Provider::Dev,
            leptos_env: Env::DEV,
            router: app,
        }
    }

    /// Sends `req` with the jar's cookie through the router; the jar keeps what it sets.
    pub async fn request(&self, jar: &mut Jar, req: Builder) -> TestResult<Resp> {
        self.request_with_body(jar, req, Body::empty()).await
    }

    pub async fn request_with_body(
        &self,
        jar: &mut Jar,
        req: Builder,
        body: Body,
    ) -> TestResult<Resp> {
        let (parts, body) = self.send(jar, req, body).await?.into_parts();
        let bytes = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
        let resp = Resp {
            status: parts.status,
            headers: parts.headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        };
        jar.absorb(&resp);
        Ok(resp)
    }

    /// Sends `req` with the jar's cookie through the router; the body is left unread.
    async fn send(
        &self,
        jar: &Jar,
        mut req: Builder,
        body: Body,
    ) -> TestResult<axum::response::Response> {
        if let Some(c) = &jar.cookie {
            req = req.header(header::COOKIE, c);
        }
        let req = req.body(body).map_err(|e| e.to_string())?;
        self.router
            .clone()
            .oneshot(req)
            .await
            .map_err(|e| e.to_string())
    }

    /// Opens the live channel with the jar's cookie; the stream is read as it arrives.
    pub async fn open_events(&self, jar: &Jar) -> TestResult<super::EventStream> {
        let req = Request::get(crate::auth::routes::EVENTS_PATH)
            .header(header::ACCEPT, "text/event-stream");
        let (parts, body) = self.send(jar, req, Body::empty()).await?.into_parts();
        let chunks = futures::StreamExt::map(body.into_data_stream(), |c| {
            c.map(|b| b.to_vec()).map_err(|e| e.to_string())
        });
        Ok(super::EventStream::new(
            parts.status,
            parts.headers,
            Box::pin(chunks),
        ))
    }

    /// `/login` (with `return_to`) → the provider's authorization URL.
    pub async fn start_login(&self, jar: &mut Jar, return_to: Option<&str>) -> TestResult<String> {
        let path = match return_to {
            Some(r) => format!(
                "/login?return_to={}",
                crate::auth::return_to::encode_component(r)
            ),
            None => "/login".into(),
        };
        let resp = self.request(jar, page(&path)).await?;
        resp.location()
            .filter(|_| resp.status.is_redirection())
            .map(str::to_string)
            .ok_or_else(|| format!("login answered {} without a redirect", resp.status))
    }

    /// The provider's redirect back into the app (the callback), followed in-process.
    pub async fn callback(&self, jar: &mut Jar, redirect: &str) -> TestResult<Resp> {
        let path = redirect
            .strip_prefix(&self.state.settings.app_base())
            .ok_or_else(|| format!("{redirect} does not lead back to the app"))?;
        self.request(jar, page(path)).await
    }

    /// A whole sign-in at the development provider with its decision `fields`; returns the
    /// callback's response.
    pub async fn sign_in_as(
        &self,
        jar: &mut Jar,
        return_to: Option<&str>,
        fields: &[(&str, &str)],
    ) -> TestResult<Resp> {
        let auth = self.start_login(jar, return_to).await?;
        let back = super::complete_sign_in(&self.http, &auth, fields).await?;
        self.callback(jar, &back).await
    }
    /// Moves the access token's expiry of the jar's session `by` closer, as if that much time
    /// had passed (for lifetimes too long to wait for).
    pub async fn age_access_token(&self, jar: &Jar, by: std::time::Duration) -> TestResult<()> {
        let id: tower_sessions::session::Id = jar
            .session_id()
            .ok_or("no session cookie")?
            .parse()
            .map_err(|_| "bad session cookie")?;
        let store = &self.state.keeper.store;
        let (record, mut s) = store
            .load_signed_in(&id)
            .await
            .map_err(|e| e.to_string())?
            .ok_or("the session is not in the store")?;
        let by_ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        let t = &mut s.verified.tokens;
        t.access_expires_at_ms = t.access_expires_at_ms.map(|e| e - by_ms);
        t.access_expires_at = t.access_expires_at.map(|e| e - by_ms / 1000);
        let expiry = record.expiry_date;
        store
            .save_signed_in(record, &s, expiry)
            .await
            .map_err(|e| e.to_string())?;
        Ok(())
    }
}

/// A page load, with the `Accept` header a browser sends.
pub fn page(path: &str) -> Builder {
    Request::get(path).header(header::ACCEPT, "text/html,application/xhtml+xml")
}
