//! Test harness: the app's `Router` driven in-process with `oneshot`, against a real
//! OpenID Provider on a loopback socket (the embedded development provider, or the
//! [`mock_op`] double for failure cases).

pub mod mock_op;
pub mod redis;

use std::{collections::HashMap, path::PathBuf, sync::OnceLock};

use axum::{
    Router,
    body::Body,
    http::{HeaderMap, Request, StatusCode, header},
};
use http_body_util::BodyExt;
use leptos::config::LeptosOptions;
use signin::{
    dev_provider::{self, DevProvider},
    server::app,
    settings::Settings,
    startup::build_store,
    state::AppState,
};
use tower::ServiceExt;

pub const APP_URL: &str = "http://app.test";

/// A response with its body read.
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Resp {
    pub fn location(&self) -> Option<&str> {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
    }
    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_string))
            .collect()
    }
}

/// One browser's cookie for the app.
#[derive(Default, Clone, Debug)]
pub struct Jar {
    pub cookie: Option<String>,
}

impl Jar {
    fn absorb(&mut self, resp: &Resp) {
        for c in resp.set_cookies() {
            let pair = c.split(';').next().unwrap_or_default().to_string();
            if c.contains("Max-Age=0") {
                self.cookie = None;
            } else {
                self.cookie = Some(pair);
            }
        }
    }
    pub fn session_id(&self) -> Option<String> {
        self.cookie
            .as_ref()
            .and_then(|c| c.split_once('='))
            .map(|(_, v)| v.to_string())
    }
}

/// A directory with a ready RSA key, so each test does not generate one.
fn key_template() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("signin-test-key-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("key.pem");
        if !path.exists() {
            use rsa::pkcs1::EncodeRsaPrivateKey;
            let key = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).unwrap();
            std::fs::write(
                &path,
                key.to_pkcs1_pem(rsa::pkcs1::LineEnding::LF)
                    .unwrap()
                    .as_bytes(),
            )
            .unwrap();
        }
        dir
    })
    .clone()
}

pub fn shared_key_pem() -> String {
    std::fs::read_to_string(key_template().join("key.pem")).unwrap()
}

pub struct Harness {
    pub router: Router,
    pub state: AppState,
    pub provider: Option<DevProvider>,
    pub http: reqwest::Client,
    pub dir: tempfile::TempDir,
}

/// Settings from an environment map (nothing read from the process environment).
pub fn settings(env: &[(&str, &str)], dir: &std::path::Path) -> Settings {
    let mut map: HashMap<String, String> = HashMap::from([
        ("APP_URL".into(), APP_URL.into()),
        ("DEV_PROVIDER_PORT".into(), "0".into()),
        (
            "DEV_PROVIDER_STATE_DIR".into(),
            dir.join("dev-provider").display().to_string(),
        ),
    ]);
    for (k, v) in env {
        map.insert(k.to_string(), v.to_string());
    }
    Settings::from_sources("", "test", |k| map.get(k).cloned()).expect("test settings")
}

pub fn leptos_options() -> LeptosOptions {
    LeptosOptions::builder()
        .output_name("signin")
        .site_root("target/site")
        .build()
}

impl Harness {
    /// The app with the embedded development provider.
    pub async fn dev(env: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut s = settings(env, dir.path());
        std::fs::create_dir_all(&s.dev_provider.state_dir).unwrap();
        std::fs::copy(
            key_template().join("key.pem"),
            PathBuf::from(&s.dev_provider.state_dir).join("key.pem"),
        )
        .unwrap();
        let provider = dev_provider::start(&s).await.expect("dev provider");
        provider.configure(&mut s);
        Self::with_settings(s, Some(provider), dir).await
    }

    /// The app against an already configured issuer.
    pub async fn with_settings(
        s: Settings,
        provider: Option<DevProvider>,
        dir: tempfile::TempDir,
    ) -> Self {
        let (store, locks) = build_store(&s.session.store).await.expect("store");
        let state = AppState::new(leptos_options(), s, store, locks).expect("state");
        Self {
            router: app(state.clone()),
            state,
            provider,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            dir,
        }
    }

    /// The app against the scriptable provider `op`, with `extra` settings.
    pub async fn mock(op: &mock_op::MockOp, extra: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let env = op.env();
        let mut all: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        all.extend_from_slice(extra);
        let s = settings(&all, dir.path());
        Self::with_settings(s, None, dir).await
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
        let mut req = req;
        if let Some(c) = &jar.cookie {
            req = req.header(header::COOKIE, c);
        }
        let req = req.body(body).unwrap();
        let what = format!("{} {}", req.method(), req.uri());
        let res = tokio::time::timeout(
            std::time::Duration::from_secs(20),
            self.router.clone().oneshot(req),
        )
        .await
        .unwrap_or_else(|_| panic!("request hung: {what}"))
        .unwrap();
        let (parts, body) = res.into_parts();
        let bytes = body.collect().await.unwrap().to_bytes();
        let resp = Resp {
            status: parts.status,
            headers: parts.headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        };
        jar.absorb(&resp);
        resp
    }

    /// A page load (as a browser sends it).
    pub async fn get(&self, jar: &mut Jar, path: &str) -> Resp {
        self.send(
            jar,
            Request::get(path).header(header::ACCEPT, "text/html,application/xhtml+xml"),
            Body::empty(),
        )
        .await
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
        let path = match return_to {
            Some(r) => format!("/login?return_to={}", urlencode(r)),
            None => "/login".into(),
        };
        let resp = self.get(jar, &path).await;
        assert_eq!(resp.status, StatusCode::SEE_OTHER, "login: {resp:?}");
        resp.location().expect("login redirect").to_string()
    }

    /// On the development provider's page: the decision form's fields → the redirect back.
    pub async fn decide(&self, authorize_url: &str, fields: &[(&str, &str)]) -> String {
        dev_provider::complete_sign_in(&self.http, authorize_url, fields)
            .await
            .expect("sign-in page")
    }

    /// Follows the provider's redirect back into the app (the callback).
    pub async fn callback(&self, jar: &mut Jar, redirect: &str) -> Resp {
        let path = redirect.strip_prefix(APP_URL).expect("redirect to the app");
        self.get(jar, path).await
    }

    /// A complete sign-in as the first demo user; returns the callback's response.
    pub async fn sign_in(&self, jar: &mut Jar, return_to: Option<&str>) -> Resp {
        let auth = self.start_login(jar, return_to).await;
        let back = self.decide(&auth, &[("user", "0")]).await;
        self.callback(jar, &back).await
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
        let id: tower_sessions::session::Id = jar.session_id().unwrap().parse().unwrap();
        let store = &self.state.keeper.store;
        let (record, mut s) = store.load_signed_in(&id).await.unwrap().unwrap();
        let by_ms = by.as_millis() as i64;
        let t = &mut s.verified.tokens;
        t.access_expires_at_ms = t.access_expires_at_ms.map(|e| e - by_ms);
        t.access_expires_at = t.access_expires_at.map(|e| e - by_ms / 1000);
        let expiry = record.expiry_date;
        store.save_signed_in(record, &s, expiry).await.unwrap();
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

pub fn urlencode(s: &str) -> String {
    signin::auth::return_to::encode_component(s)
}
