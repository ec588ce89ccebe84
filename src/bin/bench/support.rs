//! What every row uses: processes and ports, an HTTP cookie jar for signing in over the wire
//! (the app or the peer), the app built in-process from the shared test support, and medians.

use std::{
    collections::BTreeMap,
    process::{Child, Command, Stdio},
    sync::Arc,
    time::{Duration, Instant},
};

use axum::http::{StatusCode, header};

use crate::Opts;
use signin::{
    auth::session::SignedIn,
    server::app_for_bench,
    testing::{Jar, TestApp, complete_sign_in, page},
};

pub type Res<T> = Result<T, String>;

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

/// `N` different free ports (all bound at once, then released: two calls of [`free_port`]
/// may give the same one).
pub fn free_ports<const N: usize>() -> [u16; N] {
    let listeners: Vec<_> = (0..N)
        .filter_map(|_| std::net::TcpListener::bind("127.0.0.1:0").ok())
        .collect();
    let mut ports = [0; N];
    for (p, l) in ports.iter_mut().zip(&listeners) {
        *p = l.local_addr().map(|a| a.port()).unwrap_or(0);
    }
    ports
}

/// A child process, killed when dropped.
pub struct Proc(pub Child);
impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub async fn wait_http(url: &str, timeout: Duration) -> Res<()> {
    let deadline = Instant::now() + timeout;
    let client = reqwest::Client::new();
    loop {
        if let Ok(r) = client.get(url).send().await
            && r.status().is_success()
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("{url} did not come up"));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_default()
}

/// A minimal cookie jar for one origin.
#[derive(Default, Clone)]
pub struct Cookies(BTreeMap<String, String>);
impl Cookies {
    pub fn absorb(&mut self, headers: &reqwest::header::HeaderMap) {
        for v in headers.get_all(reqwest::header::SET_COOKIE) {
            let Ok(v) = v.to_str() else { continue };
            let pair = v.split(';').next().unwrap_or_default();
            if let Some((k, val)) = pair.split_once('=') {
                if v.contains("Max-Age=0") || v.contains("Expires=Thu, 01 Jan 1970") {
                    self.0.remove(k);
                } else {
                    self.0.insert(k.to_string(), val.to_string());
                }
            }
        }
    }
    pub fn header(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// The app in-process, built as the tests build it but rendering as a release build does and
/// composed with the bench-only unguarded twin routes.
pub async fn bench_app(env: &[(&str, &str)]) -> Res<TestApp> {
    TestApp::builder()
        .prod_rendering()
        .router(app_for_bench)
        .envs(env)
        .build()
        .await
}

/// The record and signed-in state of the session behind `cookie` (a `Cookie` header with
/// `sid=…`), read from `app`'s store.
pub async fn stored_session(
    app: &TestApp,
    cookie: &str,
) -> Res<(tower_sessions::session::Record, SignedIn)> {
    let id: tower_sessions::session::Id = cookie
        .split(';')
        .find_map(|c| c.trim().strip_prefix("sid="))
        .ok_or("no session cookie")?
        .parse()
        .map_err(|_| "bad session cookie")?;
    app.state
        .keeper
        .store
        .load_signed_in(&id)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| "the session is not in the store".to_string())
}

/// Hands the session behind `cookie` to the unguarded twin routes.
pub async fn remember_session(app: &TestApp, cookie: &str) -> Res<()> {
    let (_, signed_in) = stored_session(app, cookie).await?;
    signin::bench_support::remember(Arc::new(signed_in));
    Ok(())
}

/// The release server with this process's development provider, `/metrics` on its own port.
pub struct Server {
    _proc: Proc,
    pub pid: u32,
    pub base: String,
    pub metrics: String,
    _op: TestApp,
}

/// Starts it with `env` on top, and waits for it to answer.
pub async fn spawn_server(o: &Opts, env: &[(&str, &str)]) -> Res<Server> {
    let op = bench_app(&[]).await?;
    let provider = op.provider.as_ref().ok_or("no provider")?;
    let [port, metrics_port] = free_ports::<2>();
    let base = format!("http://127.0.0.1:{port}");
    let mut cmd = Command::new(&o.server);
    cmd.env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
        .env("LEPTOS_SITE_ROOT", &o.site_root)
        .env("LEPTOS_ENV", "PROD")
        .env("APP_URL", &base)
        .env("OIDC_ISSUER", &provider.issuer)
        .env("OIDC_CLIENT_ID", &provider.client_id)
        .env("OIDC_CLIENT_SECRET", provider.client_secret.expose())
        .env("SESSION_STORE", "memory")
        .env("METRICS_ADDR", format!("127.0.0.1:{metrics_port}"))
        .env("LIMITS_SIGN_IN_PER_MINUTE", "1000000")
        .env("LIMITS_SIGN_IN_BURST", "1000000")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let child = cmd
        .spawn()
        .map_err(|e| format!("{}: {e}", o.server.display()))?;
    let pid = child.id();
    let proc = Proc(child);
    wait_http(&format!("{base}/healthz"), Duration::from_secs(20)).await?;
    Ok(Server {
        _proc: proc,
        pid,
        base,
        metrics: format!("http://127.0.0.1:{metrics_port}/metrics"),
        _op: op,
    })
}

/// A sign-in in-process, timed.
pub struct SignIn {
    pub jar: Jar,
    /// Server time for `/login` and the callback, outbound calls excluded, in µs.
    pub server_us: f64,
    pub token_calls: u64,
    pub outbound_calls: u64,
}

/// Signs in in-process as the first demo user.
pub async fn sign_in_in_process(app: &TestApp) -> Res<SignIn> {
    let calls = &app.state.oidc().calls;
    let (tok0, out0, ns0) = (
        calls.token_count(),
        calls.outbound_count(),
        calls.outbound_nanos(),
    );
    let mut jar = Jar::default();
    let t = Instant::now();
    let login = app.request(&mut jar, page("/login")).await?;
    let login_time = t.elapsed();
    if login.status != StatusCode::SEE_OTHER {
        return Err(format!("login answered {}", login.status));
    }
    let auth = login.location().ok_or("no location")?.to_string();
    let back = complete_sign_in(&app.http, &auth, &[("user", "0")]).await?;
    let t = Instant::now();
    let callback = app.callback(&mut jar, &back).await?;
    let callback_time = t.elapsed();
    if callback.status != StatusCode::SEE_OTHER {
        return Err(format!("callback answered {}", callback.status));
    }
    let outbound = Duration::from_nanos(calls.outbound_nanos() - ns0);
    let server = (login_time + callback_time).saturating_sub(outbound);
    Ok(SignIn {
        jar,
        server_us: server.as_secs_f64() * 1e6,
        token_calls: calls.token_count() - tok0,
        outbound_calls: calls.outbound_count() - out0,
    })
}

/// Signs in at an app (ours or the peer) served on `base`, through the development provider.
pub async fn sign_in_over_http(base: &str, login_path: &str) -> Res<Cookies> {
    let http = no_redirects();
    let mut jar = Cookies::default();
    let r = http
        .get(format!("{base}{login_path}"))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    jar.absorb(r.headers());
    let auth = location(&r)?;
    let back = complete_sign_in(&http, &auth, &[("user", "0")]).await?;
    let r = http
        .get(&back)
        .header(header::COOKIE.as_str(), jar.header())
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if !r.status().is_redirection() {
        return Err(format!("callback answered {}", r.status()));
    }
    jar.absorb(r.headers());
    Ok(jar)
}

pub fn location(r: &reqwest::Response) -> Res<String> {
    r.headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .ok_or_else(|| format!("no redirect from {} ({})", r.url(), r.status()))
}

/// A Redis server of its own (no persistence), stopped when dropped.
pub struct Redis {
    _proc: Proc,
    pub port: u16,
    _dir: tempfile::TempDir,
}

pub fn start_redis() -> Res<Redis> {
    let port = free_port();
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let child = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--dir",
        ])
        .arg(dir.path())
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| format!("redis-server: {e}"))?;
    Ok(Redis {
        _proc: Proc(child),
        port,
        _dir: dir,
    })
}

pub fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

pub fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i.min(v.len() - 1)]
}
