//! Test harness: [`Harness`] is the shared [`signin::testing::TestApp`] (built with its
//! builder) plus assertions-as-helpers for the tests: each helper panics with the reason, so
//! a test reads as the steps a browser takes. [`mock_op`] is a scriptable provider for failure
//! cases, [`redis`] a throw-away Redis server.

pub mod mock_op;
pub mod redis;

use std::ops::{Deref, DerefMut};

use axum::{
    body::Body,
    http::{Request, header},
};
use signin::{
    dev_provider::DevProvider,
    settings::Settings,
    testing::{TestApp, TestAppBuilder},
};

pub use signin::testing::{APP_URL, Jar, Resp, page, shared_key_pem};

/// Settings from an environment map (nothing read from the process environment).
pub fn settings(env: &[(&str, &str)], dir: &std::path::Path) -> Settings {
    signin::testing::settings_from(env, dir).expect("test settings")
}

/// The app in-process (see [`TestApp`]) with panicking helpers.
pub struct Harness(pub TestApp);

impl Deref for Harness {
    type Target = TestApp;
    fn deref(&self) -> &TestApp {
        &self.0
    }
}

impl DerefMut for Harness {
    fn deref_mut(&mut self) -> &mut TestApp {
        &mut self.0
    }
}

impl Harness {
    /// Builds from a [`TestApp::builder`] configured by the test.
    pub async fn build(builder: TestAppBuilder) -> Self {
        Self(builder.build().await.expect("test app"))
    }

    /// The app with the embedded development provider and these settings.
    pub async fn dev(env: &[(&str, &str)]) -> Self {
        Self::build(TestApp::builder().envs(env)).await
    }

    /// The app with these settings as they are, and this development provider if any.
    pub async fn with_settings(s: Settings, provider: Option<DevProvider>) -> Self {
        Self::build(TestApp::builder().settings(s, provider)).await
    }

    /// The app against the scriptable provider `op`, with `extra` settings.
    pub async fn mock(op: &mock_op::MockOp, extra: &[(&str, &str)]) -> Self {
        let env = op.env();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        Self::build(
            TestApp::builder()
                .external_provider()
                .envs(&env)
                .envs(extra),
        )
        .await
    }

    /// Takes the harness apart (to restart the app on the same provider state).
    pub fn into_inner(self) -> TestApp {
        self.0
    }

    /// A complete sign-in at the scriptable provider (it signs in at once).
    pub async fn mock_sign_in(&self, jar: &mut Jar) {
        let auth = self.start_login(jar, None).await;
        let res = self.http.get(&auth).send().await.unwrap();
        let back = res.headers()["location"].to_str().unwrap().to_string();
        assert_eq!(self.callback(jar, &back).await.location(), Some("/profile"));
    }

    pub fn provider(&self) -> &DevProvider {
        self.provider.as_ref().expect("dev provider")
    }

    pub async fn send(&self, jar: &mut Jar, req: axum::http::request::Builder, body: Body) -> Resp {
        let what = format!("{:?} {:?}", req.method_ref(), req.uri_ref());
        tokio::time::timeout(
            std::time::Duration::from_secs(20),
            self.0.request_with_body(jar, req, body),
        )
        .await
        .unwrap_or_else(|_| panic!("request hung: {what}"))
        .unwrap_or_else(|e| panic!("{what}: {e}"))
    }

    /// A page load (as a browser sends it).
    pub async fn get(&self, jar: &mut Jar, path: &str) -> Resp {
        self.send(jar, page(path), Body::empty()).await
    }

    /// The sign-out form, posted from the app's own origin.
    pub async fn logout(&self, jar: &mut Jar, origin: Option<&str>) -> Resp {
        let mut req = Request::post("/logout")
            .header(header::ACCEPT, "text/html")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(o) = origin {
            req = req.header(header::ORIGIN, o);
        }
        self.send(jar, req, Body::empty()).await
    }

    /// `/login?return_to=…` → the provider's authorization URL.
    pub async fn start_login(&self, jar: &mut Jar, return_to: Option<&str>) -> String {
        self.0.start_login(jar, return_to).await.expect("login")
    }

    /// On the development provider's page: the decision form's fields → the redirect back.
    pub async fn decide(&self, authorize_url: &str, fields: &[(&str, &str)]) -> String {
        signin::testing::complete_sign_in(&self.http, authorize_url, fields)
            .await
            .expect("sign-in page")
    }

    /// The provider's page at `url` (its sign-in page, with what the app asked), as text.
    pub async fn provider_page(&self, url: &str) -> String {
        self.http
            .get(url)
            .send()
            .await
            .expect("provider reachable")
            .text()
            .await
            .expect("a page")
    }

    /// Follows the provider's redirect back into the app (the callback).
    pub async fn callback(&self, jar: &mut Jar, redirect: &str) -> Resp {
        self.0.callback(jar, redirect).await.expect("callback")
    }

    /// A complete sign-in as the first demo user; returns the callback's response.
    pub async fn sign_in(&self, jar: &mut Jar, return_to: Option<&str>) -> Resp {
        self.0
            .sign_in_as(jar, return_to, &[("user", "0")])
            .await
            .expect("sign-in")
    }

    /// Whether the store still holds a record under session id `id`.
    pub async fn has_record(&self, id: &str) -> bool {
        let id: tower_sessions::session::Id = id.parse().expect("a session id");
        tower_sessions::SessionStore::load(&self.state.keeper.store, &id)
            .await
            .expect("store reachable")
            .is_some()
    }

    /// Moves the access token's expiry `by` closer, as if that much time had passed (for
    /// lifetimes too long to wait for in a test).
    pub async fn age_access_token(&self, jar: &Jar, by: std::time::Duration) {
        self.0.age_access_token(jar, by).await.expect("aged");
    }

    /// The signed-in state of the jar's session, read from the store.
    pub async fn stored(&self, jar: &Jar) -> Option<signin::auth::session::SignedIn> {
        let id: tower_sessions::session::Id = jar.session_id()?.parse().ok()?;
        self.state
            .keeper
            .store
            .load_signed_in(&id)
            .await
            .ok()?
            .map(|(_, s)| s)
    }
}

/// Runs the app binary (`signin <args>`) in `dir` — not the crate's directory: a developer's
/// `.env` must not take part — with only `PATH` and `env` in its environment: its exit code,
/// stdout and stderr.
pub fn run_signin(
    args: &[&str],
    env: &[(&str, &str)],
    dir: &std::path::Path,
) -> (Option<i32>, String, String) {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_signin"));
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .current_dir(dir);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("app binary");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

pub fn urlencode(s: &str) -> String {
    signin::auth::return_to::encode_component(s)
}
