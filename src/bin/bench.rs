//! The benchmark: what sign-in costs, measured in one run on this machine, as ratios where
//! absolute figures drift. Run by `scripts/bench` (release) and, as a smoke check with
//! `--quick`, by `scripts/test` (debug; the figures then mean nothing, only that every row
//! still runs). Prints a table and writes it as JSON.
//!
//! Rows: (1) auth overhead over loopback (wrk) and in-process per-request cost of the auth
//! layer; (2) req/s against express-openid-connect; (3) server time per sign-in and outbound
//! calls; (4) a refresh burst; (5) sizes; (6) start-up time with the provider down.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::{Child, Command, ExitCode, Stdio},
    sync::Arc,
    time::{Duration, Instant},
};

use axum::{
    Router,
    body::Body,
    http::{Request, StatusCode, header},
};
use http_body_util::BodyExt;
use leptos::config::LeptosOptions;
use serde::Serialize;
use signin::{
    dev_provider::{self, DevProvider},
    server::app_for_bench,
    settings::Settings,
    startup::build_store,
    state::AppState,
};
use tower::ServiceExt;

type Res<T> = Result<T, String>;

// the same allocator as the app's server binary (src/main.rs)
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Serialize, Clone)]
struct Row {
    id: &'static str,
    name: String,
    value: f64,
    unit: &'static str,
    goal: String,
    pass: Option<bool>,
    note: String,
}

fn row(
    id: &'static str,
    name: &str,
    value: f64,
    unit: &'static str,
    goal: &str,
    pass: Option<bool>,
    note: String,
) -> Row {
    Row {
        id,
        name: name.into(),
        value,
        unit,
        goal: goal.into(),
        pass,
        note,
    }
}

struct Opts {
    quick: bool,
    /// Only serve (signed in) and print how to reach it: for profiling by hand.
    serve: bool,
    server: PathBuf,
    site_root: PathBuf,
    out: PathBuf,
    peer: PathBuf,
}

fn parse_args() -> Res<Opts> {
    let mut o = Opts {
        quick: false,
        serve: false,
        server: "target/release/signin".into(),
        site_root: "target/site".into(),
        out: "bench/results/latest.json".into(),
        peer: "bench/peer/server.mjs".into(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match a.as_str() {
            "--quick" => o.quick = true,
            "--serve" => o.serve = true,
            "--server" => o.server = value("--server")?.into(),
            "--site-root" => o.site_root = value("--site-root")?.into(),
            "--out" => o.out = value("--out")?.into(),
            "--peer" => o.peer = value("--peer")?.into(),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(o)
}

#[tokio::main]
async fn main() -> ExitCode {
    let opts = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    match run(&opts).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(o: &Opts) -> Res<()> {
    if o.serve {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        // for profiling by hand: BENCH_SERVE_STORE=redis://… picks another store
        let store = std::env::var("BENCH_SERVE_STORE").unwrap_or_else(|_| "memory".into());
        let (base, _provider, _state) = serve_in_process(&store, dir.path(), free_port()).await?;
        let jar = sign_in_over_http(&base, "/login").await?;
        println!("{base} {}", jar.header());
        tokio::time::sleep(Duration::from_secs(3600)).await;
        return Ok(());
    }
    let mut rows = Vec::new();
    eprintln!("== (1, 2) load over loopback: guarded vs unguarded profile page, and the peer");
    rows.extend(http_load(o).await?);
    eprintln!("== (1) in-process cost of the auth layer");
    rows.push(auth_layer_cost(o).await?);
    eprintln!("== (3) sign-in cost");
    rows.extend(sign_in_cost(o).await?);
    eprintln!("== (4) refresh burst");
    rows.extend(refresh_burst(o).await?);
    eprintln!("== (5) sizes");
    rows.extend(sizes(o).await?);
    eprintln!("== (6) start-up");
    rows.push(startup(o).await?);
    print_table(&rows, o.quick);
    write_json(&rows, o)?;
    Ok(())
}

// ---------------------------------------------------------------- helpers

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

struct Proc(Child);
impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn wait_http(url: &str, timeout: Duration) -> Res<()> {
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

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_default()
}

/// A minimal cookie jar for one origin.
#[derive(Default, Clone)]
struct Cookies(BTreeMap<String, String>);
impl Cookies {
    fn absorb(&mut self, headers: &reqwest::header::HeaderMap) {
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
    fn header(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// Hands the session behind `cookie` (`sid=…`) to the unguarded twin routes.
async fn remember_session(state: &AppState, cookie: &str) -> Res<()> {
    let id = cookie
        .split(';')
        .find_map(|c| c.trim().strip_prefix("sid="))
        .ok_or("no session cookie")?;
    let id: tower_sessions::session::Id = id.parse().map_err(|_| "bad session cookie")?;
    let (_, signed_in) = state
        .keeper
        .store
        .load_signed_in(&id)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("the session is not in the store")?;
    signin::bench_support::remember(Arc::new(signed_in));
    Ok(())
}

/// Signs in at an app (ours or the peer) served on `base`, through the development provider.
async fn sign_in_over_http(base: &str, login_path: &str) -> Res<Cookies> {
    let http = no_redirects();
    let mut jar = Cookies::default();
    let r = http
        .get(format!("{base}{login_path}"))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    jar.absorb(r.headers());
    let auth = location(&r)?;
    let back = dev_provider::complete_sign_in(&http, &auth, &[("user", "0")]).await?;
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

fn location(r: &reqwest::Response) -> Res<String> {
    r.headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .ok_or_else(|| format!("no redirect from {} ({})", r.url(), r.status()))
}

/// `wrk` for `secs` seconds; returns requests/second (non-2xx responses make it an error).
fn wrk(url: &str, cookie: Option<&str>, secs: u32, connections: u32) -> Res<f64> {
    let mut cmd = Command::new("wrk");
    cmd.args(["-t2", &format!("-c{connections}"), &format!("-d{secs}s")]);
    if let Some(c) = cookie {
        cmd.args(["-H", &format!("Cookie: {c}")]);
    }
    let out = cmd
        .arg(url)
        .output()
        .map_err(|e| format!("wrk: {e} (scripts/bench installs it)"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    if text.contains("Non-2xx") {
        return Err(format!("wrk saw errors for {url}:\n{text}"));
    }
    text.lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| format!("cannot read wrk output:\n{text}"))
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i.min(v.len() - 1)]
}

// ---------------------------------------------------------------- (1, 2) load

struct Redis {
    _proc: Proc,
    port: u16,
    _dir: tempfile::TempDir,
}

fn start_redis() -> Res<Redis> {
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

/// Runs the app's request handling in this process on a real socket (so the bench-only
/// unguarded route exists), with the given store; returns its base URL.
async fn serve_in_process(
    store: &str,
    dir: &Path,
    dev_port: u16,
) -> Res<(String, DevProvider, AppState)> {
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let (state, provider) = state_with_provider(
        &[
            ("APP_URL", base.as_str()),
            ("SESSION_STORE", store),
            ("DEV_PROVIDER_PORT", &dev_port.to_string()),
        ],
        dir,
    )
    .await?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| e.to_string())?;
    let router = app_for_bench(state.clone());
    // a runtime of its own, so the server has its two workers as in production
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build();
        if let Ok(rt) = rt {
            rt.block_on(async move {
                let std_listener = listener.into_std();
                if let Ok(l) = std_listener.and_then(|l| tokio::net::TcpListener::from_std(l)) {
                    let _ = axum::serve(l, router).await;
                }
            });
        }
    });
    wait_http(&format!("{base}/healthz"), Duration::from_secs(10)).await?;
    Ok((base, provider, state))
}

async fn state_with_provider(env: &[(&str, &str)], dir: &Path) -> Res<(AppState, DevProvider)> {
    let mut map: BTreeMap<String, String> = BTreeMap::from([
        ("APP_URL".into(), "http://bench.test".into()),
        ("DEV_PROVIDER_PORT".into(), "0".into()),
        (
            "DEV_PROVIDER_STATE_DIR".into(),
            dir.join("dev-provider").display().to_string(),
        ),
        ("LEPTOS_ENV".into(), "PROD".into()),
    ]);
    for (k, v) in env {
        map.insert(k.to_string(), v.to_string());
    }
    let mut s =
        Settings::from_sources("", "bench", |k| map.get(k).cloned()).map_err(|e| e.to_string())?;
    let provider = dev_provider::start(&s).await?;
    provider.configure(&mut s);
    let (store, locks) = build_store(&s.session.store)
        .await
        .map_err(|e| e.to_string())?;
    let options = LeptosOptions::builder()
        .output_name("signin")
        .site_root("target/site")
        .env(leptos::config::Env::PROD)
        .build();
    let state = AppState::new(options, s, store, locks).map_err(|e| e.to_string())?;
    Ok((state, provider))
}

async fn http_load(o: &Opts) -> Res<Vec<Row>> {
    // Alternating guarded/unguarded runs; the ratio is the median of the per-pair ratios, which
    // cancels most of the drift this shared machine shows from one run to the next.
    let secs = if o.quick { 1 } else { 6 };
    let rounds = if o.quick { 1 } else { 5 };
    let connections = 32;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let redis = start_redis()?;
    let mut rows = Vec::new();
    let mut ours_memory = 0.0;
    let mut provider_keep = None;
    for (label, store, goal) in [
        ("memory", "memory".to_string(), 0.95),
        ("redis", format!("redis://127.0.0.1:{}", redis.port), 0.85),
    ] {
        let dev_port = free_port();
        let (base, provider, state) = serve_in_process(&store, dir.path(), dev_port).await?;
        let jar = sign_in_over_http(&base, "/login").await?;
        let cookie = jar.header();
        remember_session(&state, &cookie).await?;
        // warm up
        wrk(&format!("{base}/profile"), Some(&cookie), 1, 4)?;
        wrk(&format!("{base}/__bench/unguarded/profile"), None, 1, 4)?;
        let (mut guarded, mut unguarded) = (vec![], vec![]);
        for _ in 0..rounds {
            guarded.push(wrk(
                &format!("{base}/profile"),
                Some(&cookie),
                secs,
                connections,
            )?);
            unguarded.push(wrk(
                &format!("{base}/__bench/unguarded/profile"),
                None,
                secs,
                connections,
            )?);
        }
        let mut ratios: Vec<f64> = guarded.iter().zip(&unguarded).map(|(g, u)| g / u).collect();
        let ratio = median(&mut ratios);
        let g = median(&mut guarded);
        let u = median(&mut unguarded);
        rows.push(row(
            "auth_overhead",
            &format!("Profile page req/s with session ÷ without session check ({label} store)"),
            ratio,
            "ratio",
            &format!("≥ {goal}"),
            Some(ratio >= goal),
            format!(
                "{g:.0} vs {u:.0} req/s (medians), wrk -c{connections} {secs}s, median ratio of {rounds} alternating pairs"
            ),
        ));
        if label == "memory" {
            ours_memory = g;
            provider_keep = Some((base.clone(), provider, state));
        }
    }

    // (2) the peer, against the same provider, same load
    let (_, provider, _) = provider_keep.as_ref().ok_or("no server")?;
    let peer_port = free_port();
    let peer = Command::new("node")
        .arg(&o.peer)
        .env("PEER_PORT", peer_port.to_string())
        .env("PEER_ISSUER", &provider.issuer)
        .env("PEER_CLIENT_ID", &provider.client_id)
        .env("PEER_CLIENT_SECRET", provider.client_secret.expose())
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| format!("node: {e}"))?;
    let _peer = Proc(peer);
    let peer_base = format!("http://127.0.0.1:{peer_port}");
    wait_http(&format!("{peer_base}/healthz"), Duration::from_secs(20)).await?;
    let peer_jar = sign_in_over_http(&peer_base, "/login").await?;
    let peer_cookie = peer_jar.header();
    wrk(&format!("{peer_base}/profile"), Some(&peer_cookie), 1, 4)?;
    let mut theirs = vec![];
    for _ in 0..rounds {
        theirs.push(wrk(
            &format!("{peer_base}/profile"),
            Some(&peer_cookie),
            secs,
            connections,
        )?);
    }
    let t = median(&mut theirs);
    let ratio = ours_memory / t;
    rows.push(row(
        "peer_ratio",
        "Profile page req/s: this app ÷ express-openid-connect",
        ratio,
        "ratio",
        "≥ 5",
        Some(ratio >= 5.0),
        format!("{ours_memory:.0} vs {t:.0} req/s (memory store vs its encrypted-cookie session)"),
    ));
    drop(redis);
    Ok(rows)
}

// ---------------------------------------------------------------- (1) in-process

async fn oneshot(
    router: &Router,
    path: &str,
    cookie: Option<&str>,
) -> Res<(StatusCode, axum::http::HeaderMap, String)> {
    let mut req = Request::get(path).header(header::ACCEPT, "text/html");
    if let Some(c) = cookie {
        req = req.header(header::COOKIE, c);
    }
    let res = router
        .clone()
        .oneshot(req.body(Body::empty()).map_err(|e| e.to_string())?)
        .await
        .map_err(|e| e.to_string())?;
    let (parts, body) = res.into_parts();
    let body = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
    Ok((
        parts.status,
        parts.headers,
        String::from_utf8_lossy(&body).into_owned(),
    ))
}

fn set_cookie(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or_default().to_string())
        .next_back()
}

/// Signs in in-process; returns (cookie, server time in µs excluding outbound calls).
async fn sign_in_in_process(router: &Router, state: &AppState) -> Res<(String, f64, u64, u64)> {
    let calls = &state.oidc().calls;
    let (tok0, out0, ns0) = (
        calls.token_count(),
        calls.outbound_count(),
        calls.outbound_nanos(),
    );
    let t = Instant::now();
    let (status, headers, _) = oneshot(router, "/login", None).await?;
    let login_time = t.elapsed();
    if status != StatusCode::SEE_OTHER {
        return Err(format!("login answered {status}"));
    }
    let cookie = set_cookie(&headers).ok_or("no cookie")?;
    let auth = headers
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .ok_or("no location")?
        .to_string();
    let back = dev_provider::complete_sign_in(&no_redirects(), &auth, &[("user", "0")]).await?;
    let path = back
        .strip_prefix(&state.settings.app_base())
        .ok_or("callback elsewhere")?
        .to_string();
    let t = Instant::now();
    let (status, headers, _) = oneshot(router, &path, Some(&cookie)).await?;
    let callback_time = t.elapsed();
    if status != StatusCode::SEE_OTHER {
        return Err(format!("callback answered {status}"));
    }
    let outbound = Duration::from_nanos(calls.outbound_nanos() - ns0);
    let server = (login_time + callback_time).saturating_sub(outbound);
    let cookie = set_cookie(&headers).ok_or("no session cookie")?;
    Ok((
        cookie,
        server.as_secs_f64() * 1e6,
        calls.token_count() - tok0,
        calls.outbound_count() - out0,
    ))
}

async fn auth_layer_cost(o: &Opts) -> Res<Row> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let (state, _provider) = state_with_provider(&[], dir.path()).await?;
    let router = app_for_bench(state.clone());
    let (cookie, _, _, _) = sign_in_in_process(&router, &state).await?;
    remember_session(&state, &cookie).await?;
    let (guarded_path, unguarded_path) = ("/__bench/noop", "/__bench/unguarded/__bench/noop");
    let (status, _, _) = oneshot(&router, guarded_path, Some(&cookie)).await?;
    if status != StatusCode::NO_CONTENT {
        return Err(format!("noop answered {status}"));
    }
    let n = if o.quick { 200 } else { 20_000 };
    let blocks = if o.quick { 2 } else { 10 };
    let (mut a, mut b) = (vec![], vec![]);
    for _ in 0..blocks {
        let t = Instant::now();
        for _ in 0..n {
            oneshot(&router, guarded_path, Some(&cookie)).await?;
        }
        a.push(t.elapsed().as_secs_f64() * 1e9 / n as f64);
        let t = Instant::now();
        for _ in 0..n {
            oneshot(&router, unguarded_path, None).await?;
        }
        b.push(t.elapsed().as_secs_f64() * 1e9 / n as f64);
    }
    let (ga, ub) = (median(&mut a), median(&mut b));
    let cost = (ga - ub).max(0.0) / 1000.0;
    Ok(row(
        "auth_layer_cpu",
        "In-process cost of session + auth layer per request (memory store)",
        cost,
        "µs",
        "≤ 2 µs",
        Some(cost <= 2.0),
        format!(
            "{:.2} µs vs {:.2} µs per oneshot, median of {blocks}×{n}",
            ga / 1000.0,
            ub / 1000.0
        ),
    ))
}

// ---------------------------------------------------------------- (3) sign-in

async fn sign_in_cost(o: &Opts) -> Res<Vec<Row>> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let (state, _provider) = state_with_provider(&[], dir.path()).await?;
    let router = app_for_bench(state.clone());
    sign_in_in_process(&router, &state).await?; // discovery and JWKS fetched and cached here
    let n = if o.quick { 5 } else { 1000 };
    let (mut times, mut tokens, mut outbound) = (vec![], 0, 0);
    for _ in 0..n {
        let (_, us, t, out) = sign_in_in_process(&router, &state).await?;
        times.push(us);
        tokens += t;
        outbound += out;
    }
    let p50 = percentile(&mut times, 0.5);
    let p99 = percentile(&mut times, 0.99);
    let per_token = tokens as f64 / n as f64;
    let per_out = outbound as f64 / n as f64;
    Ok(vec![
        row(
            "signin_p50",
            "Server time per sign-in (login + callback, provider time excluded), p50",
            p50,
            "µs",
            "—",
            None,
            format!("{n} sign-ins"),
        ),
        row(
            "signin_p99",
            "Server time per sign-in, p99",
            p99,
            "µs",
            "≤ 500 µs",
            Some(p99 <= 500.0),
            format!("{n} sign-ins; RS256 verification included"),
        ),
        row(
            "signin_token_calls",
            "Token calls per sign-in (discovery and JWKS cached)",
            per_token,
            "calls",
            "= 1",
            Some((per_token - 1.0).abs() < f64::EPSILON),
            format!("{per_out:.1} outbound calls in all (token + userinfo)"),
        ),
    ])
}

// ---------------------------------------------------------------- (4) refresh burst

async fn refresh_burst(o: &Opts) -> Res<Vec<Row>> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let (state, provider) = state_with_provider(
        &[
            ("DEV_PROVIDER_ACCESS_TOKEN_TTL_SECS", "2"),
            ("AUTH_REFRESH_MARGIN_SECS", "0"),
        ],
        dir.path(),
    )
    .await?;
    let router = app_for_bench(state.clone());
    let (cookie, _, _, _) = sign_in_in_process(&router, &state).await?;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let before = provider.stats().refresh_calls;
    let n = 100;
    let requests = (0..n).map(|_| {
        let router = router.clone();
        let cookie = cookie.clone();
        async move {
            oneshot(&router, "/profile", Some(&cookie))
                .await
                .map(|r| r.0)
        }
    });
    let results = futures::future::join_all(requests).await;
    let failed = results
        .iter()
        .filter(|r| !matches!(r, Ok(StatusCode::OK)))
        .count();
    let calls = provider.stats().refresh_calls - before;
    let _ = o;
    Ok(vec![
        row(
            "refresh_calls",
            "Refresh calls at the provider for 100 concurrent requests on an expired token",
            calls as f64,
            "calls",
            "= 1",
            Some(calls == 1),
            String::new(),
        ),
        row(
            "refresh_failures",
            "Requests that failed in that burst",
            failed as f64,
            "requests",
            "= 0",
            Some(failed == 0),
            String::new(),
        ),
    ])
}

// ---------------------------------------------------------------- (5) sizes

fn compressed_len(path: &Path, tool: &str, args: &[&str]) -> Res<u64> {
    let out = Command::new(tool)
        .args(args)
        .arg(path)
        .output()
        .map_err(|e| format!("{tool}: {e} (scripts/bench installs it)"))?;
    if !out.status.success() {
        return Err(format!("{tool} failed on {}", path.display()));
    }
    Ok(out.stdout.len() as u64)
}

async fn sizes(o: &Opts) -> Res<Vec<Row>> {
    let pkg = o.site_root.join("pkg");
    let mut total_br = 0u64;
    let mut rows = vec![];
    for (id, file) in [("size_wasm", "signin.wasm"), ("size_js", "signin.js")] {
        let path = pkg.join(file);
        let raw = std::fs::metadata(&path)
            .map_err(|e| format!("{}: {e}", path.display()))?
            .len();
        let gz = compressed_len(&path, "gzip", &["-9", "-c"])?;
        let br = compressed_len(&path, "brotli", &["-q", "11", "-c"])?;
        total_br += br;
        rows.push(row(
            id,
            &format!("{file}: raw / gzip / brotli"),
            br as f64 / 1024.0,
            "KB br",
            "—",
            None,
            format!(
                "{:.1} / {:.1} / {:.1} KB",
                raw as f64 / 1024.0,
                gz as f64 / 1024.0,
                br as f64 / 1024.0
            ),
        ));
    }
    let kb = total_br as f64 / 1024.0;
    rows.push(row(
        "size_total_br",
        "wasm + JS for the signed-in pages, brotli",
        kb,
        "KB",
        "≤ 120 KB",
        Some(kb <= 120.0),
        String::new(),
    ));

    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let (state, _provider) = state_with_provider(&[], dir.path()).await?;
    let router = app_for_bench(state.clone());
    let (cookie, _, _, _) = sign_in_in_process(&router, &state).await?;
    rows.push(row(
        "cookie_len",
        "Session cookie (name=value)",
        cookie.len() as f64,
        "B",
        "≤ 100 B",
        Some(cookie.len() <= 100),
        cookie.split('=').next().unwrap_or_default().to_string(),
    ));
    let id: tower_sessions::session::Id = cookie
        .split_once('=')
        .map(|(_, v)| v)
        .unwrap_or_default()
        .parse()
        .map_err(|_| "bad id")?;
    let record = tower_sessions::SessionStore::load(&state.keeper.store, &id)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("no record")?;
    let bytes = serde_json::to_vec(&record)
        .map_err(|e| e.to_string())?
        .len();
    rows.push(row(
        "session_bytes",
        "Bytes stored per signed-in session (JSON record)",
        bytes as f64,
        "B",
        "—",
        None,
        "tokens + claims + times".into(),
    ));
    Ok(rows)
}

// ---------------------------------------------------------------- (6) start-up

async fn startup(o: &Opts) -> Res<Row> {
    let runs = if o.quick { 1 } else { 7 };
    let mut times = vec![];
    for _ in 0..runs {
        let port = free_port();
        let closed = free_port(); // nothing listens there: the provider is down
        let t = Instant::now();
        let child = Command::new(&o.server)
            .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
            .env("LEPTOS_SITE_ROOT", &o.site_root)
            .env("OIDC_ISSUER", format!("http://127.0.0.1:{closed}"))
            .env("OIDC_CLIENT_ID", "bench")
            .env("OIDC_CLIENT_SECRET", "bench")
            .env("SESSION_STORE", "memory")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("{}: {e}", o.server.display()))?;
        let _p = Proc(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if healthz(port).await {
                break;
            }
            if Instant::now() > deadline {
                return Err("the server did not answer /healthz".into());
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let ms = median(&mut times);
    Ok(row(
        "startup",
        "Process start → first 200 on /healthz, provider down",
        ms,
        "ms",
        "≤ 200 ms",
        Some(ms <= 200.0),
        format!("median of {runs}"),
    ))
}

async fn healthz(port: u16) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(mut s) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
        return false;
    };
    if s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .is_err()
    {
        return false;
    }
    let mut buf = [0u8; 16];
    matches!(s.read(&mut buf).await, Ok(n) if n >= 12 && &buf[9..12] == b"200")
}

// ---------------------------------------------------------------- output

fn print_table(rows: &[Row], quick: bool) {
    println!();
    if quick {
        println!("(quick smoke run on a debug build: the figures below are not measurements)");
    }
    println!("| # | measurement | value | goal | result | notes |");
    println!("|---|---|---|---|---|---|");
    for r in rows {
        let result = match r.pass {
            Some(true) => "PASS",
            Some(false) => "MISS",
            None => "",
        };
        let value = if r.unit == "ratio" {
            format!("{:.3}", r.value)
        } else if r.value.fract() == 0.0 || r.value >= 100.0 {
            format!("{:.0} {}", r.value, r.unit)
        } else {
            format!("{:.2} {}", r.value, r.unit)
        };
        println!(
            "| {} | {} | {} | {} | {} | {} |",
            r.id, r.name, value, r.goal, result, r.note
        );
    }
}

fn write_json(rows: &[Row], o: &Opts) -> Res<()> {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or_default().trim().to_string())
        })
        .unwrap_or_default();
    let doc = serde_json::json!({
        "date": chrono::Utc::now().to_rfc3339(),
        "quick": o.quick,
        "machine": { "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0), "cpu": cpu },
        "rows": rows,
    });
    if let Some(parent) = o.out.parent() {
        std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
    }
    std::fs::write(
        &o.out,
        serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())?;
    eprintln!("wrote {}", o.out.display());
    let _ = Arc::new(());
    Ok(())
}
