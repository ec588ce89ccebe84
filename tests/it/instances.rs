//! The real app binary: two processes on different ports sharing one Redis (shared sign-in,
//! shared sign-out, single-flight refresh across instances with and without a rotation grace
//! period), a restart that keeps people signed in (SQLite and Redis), and start-up failures.

use std::{
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use crate::common::{
    mock_op::{Behaviour, MockOp},
    redis::{RedisServer, free_port},
};

const APP_URL: &str = "http://localhost:3000";

struct Instance {
    port: u16,
    child: Child,
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn spawn(op: &MockOp, redis: &RedisServer, grace: &str) -> Instance {
    let mut env: Vec<(String, String)> = vec![
        ("SESSION_STORE".into(), redis.url()),
        ("AUTH_ROTATION_GRACE_SECS".into(), grace.into()),
    ];
    env.extend(op.env().into_iter().map(|(k, v)| (k.to_string(), v)));
    spawn_with(free_port(), &env).await
}

/// Starts the app binary on `port` with `env` (and nothing else from this environment).
async fn spawn_with(port: u16, env: &[(String, String)]) -> Instance {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_signin"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", "warn")
        .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
        .env("LEPTOS_SITE_ROOT", "target/site")
        .env("APP_URL", APP_URL)
        // one key for every instance (they share the store)
        .env(
            "SESSION_ENCRYPTION_KEY",
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        )
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let child = cmd.spawn().expect("app binary");
    let instance = Instance { port, child };
    let deadline = Instant::now() + Duration::from_secs(30);
    let client = reqwest::Client::new();
    loop {
        if let Ok(r) = client
            .get(format!("http://127.0.0.1:{port}/healthz"))
            .send()
            .await
            && r.status() == 200
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "instance on {port} did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    instance
}

impl Instance {
    /// Stops the process as a deploy would (SIGTERM, graceful shutdown), and waits.
    fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn get(port: u16, path: &str, cookie: &str) -> reqwest::Response {
    client()
        .get(format!("http://127.0.0.1:{port}{path}"))
        .header("accept", "text/html")
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
}

/// The profile server function, as the hydrated app calls it; returns the status.
async fn api_profile(port: u16, cookie: &str) -> u16 {
    client()
        .post(format!("http://127.0.0.1:{port}/api/profile"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("sec-fetch-site", "same-origin")
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn set_cookie(r: &reqwest::Response) -> Option<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap().to_string())
        .next_back()
}

/// Signs in through instance `port`; returns the session cookie.
async fn sign_in(port: u16) -> String {
    let r = get(port, "/login", "").await;
    assert_eq!(r.status(), 303);
    let cookie = set_cookie(&r).expect("pending-login cookie");
    let auth = r.headers()["location"].to_str().unwrap().to_string();
    let back = client().get(&auth).send().await.unwrap();
    let callback = back.headers()["location"]
        .to_str()
        .unwrap()
        .strip_prefix(APP_URL)
        .unwrap()
        .to_string();
    let r = get(port, &callback, &cookie).await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/profile");
    set_cookie(&r).expect("signed-in cookie")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_sign_in_and_sign_out() {
    let op = MockOp::start(Behaviour::default()).await;
    let redis = RedisServer::start().await;
    let a = spawn(&op, &redis, "30").await;
    let b = spawn(&op, &redis, "30").await;

    let cookie = sign_in(a.port).await;
    let on_b = get(b.port, "/profile", &cookie).await;
    assert_eq!(on_b.status(), 200, "signed in on A → signed in on B");
    assert!(on_b.text().await.unwrap().contains("Mock Person"));

    let out = client()
        .post(format!("http://127.0.0.1:{}/logout", b.port))
        .header("accept", "text/html")
        .header("origin", APP_URL)
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 303);
    assert_eq!(
        get(a.port, "/profile", &cookie).await.status(),
        302,
        "signed out on B → signed out on A"
    );
    assert_eq!(get(b.port, "/profile", &cookie).await.status(), 302);
}

/// Two instances on one Redis, access tokens shorter than the refresh margin (30 s): each
/// expiry is refreshed exactly once across both instances, with rotation grace 0 (strict: a
/// second refresh would revoke the family) and 30.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn single_flight_refresh_across_instances() {
    for (ttl, grace) in [(2u64, "0"), (2, "30"), (10, "0")] {
        let op = MockOp::start(Behaviour {
            access_ttl: ttl,
            refresh_delay: Duration::from_millis(300),
            strict_rotation: grace == "0",
            ..Default::default()
        })
        .await;
        let redis = RedisServer::start().await;
        let a = spawn(&op, &redis, grace).await;
        let b = spawn(&op, &redis, grace).await;
        let cookie = sign_in(a.port).await;
        let case = format!("ttl {ttl}s, grace {grace}");
        for expiry in 1..=2u64 {
            // into the refresh window (half the lifetime)
            tokio::time::sleep(Duration::from_millis(ttl * 500 + 150)).await;
            let requests = (0..100).map(|i| {
                let port = if i % 2 == 0 { a.port } else { b.port };
                let cookie = cookie.clone();
                async move { api_profile(port, &cookie).await }
            });
            let statuses = futures::future::join_all(requests).await;
            assert!(statuses.iter().all(|s| *s == 200), "{case}: {statuses:?}");
            assert_eq!(
                op.refresh_calls(),
                expiry,
                "{case}: exactly one refresh across both instances for expiry {expiry}"
            );
        }
        assert_eq!(op.families_revoked(), 0, "{case}");
    }
}

/// An unknown store scheme or a store that cannot be reached stops start-up with one clear
/// line and a non-zero exit.
#[test]
fn bad_store_stops_start_up() {
    let closed = free_port();
    for (store, expected) in [
        (
            format!("redis://127.0.0.1:{closed}"),
            "SESSION_STORE redis://127.0.0.1",
        ),
        (
            "mongodb://db:27017".to_string(),
            "SESSION_STORE must be memory",
        ),
        (
            "sqlite:///nonexistent-dir/x/sessions.db".to_string(),
            "SESSION_STORE sqlite://",
        ),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_signin"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{}", free_port()))
            .env("OIDC_ISSUER", "http://127.0.0.1:9")
            .env("OIDC_CLIENT_ID", "x")
            .env("OIDC_CLIENT_SECRET", "y")
            .env("SESSION_STORE", &store)
            .env("RUST_LOG", "off")
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("app binary");
        assert!(!out.status.success(), "{store}: must not start");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "{store}: one line, got {stderr:?}");
        assert!(lines[0].contains(expected), "{store}: {}", lines[0]);
    }
}

/// The development provider signs anyone in as any email: without an issuer, production in
/// any of Leptos' spellings, a public `APP_URL` or a non-loopback provider address stops
/// start-up with one line saying what to set (and nothing listens).
#[test]
fn production_never_runs_the_development_provider() {
    for (env, expected) in [
        (vec![("LEPTOS_ENV", "production")], "OIDC_ISSUER"),
        (vec![("LEPTOS_ENV", "Prod")], "OIDC_ISSUER"),
        (
            vec![("APP_URL", "https://app.example.com")],
            "APP_URL (https://app.example.com/) is not plain http on loopback",
        ),
        (
            vec![("APP_URL", "http://app.example.com")],
            "is not plain http on loopback",
        ),
        (vec![("DEV_PROVIDER_HOST", "0.0.0.0")], "DEV_PROVIDER_HOST"),
        (
            vec![
                ("LEPTOS_ENV", "production"),
                ("APP_URL", "http://app.example.com"),
            ],
            "APP_URL must be https in production",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_signin"));
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{}", free_port()))
            .env("APP_URL", "http://localhost:3000")
            .env("DEV_PROVIDER_PORT", free_port().to_string())
            .env(
                "DEV_PROVIDER_STATE_DIR",
                dir.path().join("dev").display().to_string(),
            )
            .env("SESSION_STORE", "memory")
            .env("RUST_LOG", "off")
            .current_dir(env!("CARGO_MANIFEST_DIR"));
        for (k, v) in &env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("app binary");
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while child.try_wait().unwrap().is_none() {
            if std::time::Instant::now() > deadline {
                child.kill().unwrap();
                panic!("{env:?}: the app started (it must stop at once)");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let out = child.wait_with_output().unwrap();
        assert!(!out.status.success(), "{env:?}: must not start");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "{env:?}: one line, got {stderr:?}");
        assert!(lines[0].contains(expected), "{env:?}: {}", lines[0]);
        assert!(
            !dir.path().join("dev").exists(),
            "{env:?}: the provider did not start"
        );
    }
}

/// Sign in, restart the server process (and with it the embedded development provider), and
/// still be signed in — with the SQLite file and with Redis.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_keeps_people_signed_in() {
    for kind in ["sqlite", "redis"] {
        let dir = tempfile::tempdir().unwrap();
        let redis = match kind {
            "redis" => Some(RedisServer::start().await),
            _ => None,
        };
        let store = match &redis {
            Some(r) => r.url(),
            None => format!("sqlite://{}", dir.path().join("sessions.db").display()),
        };
        let env: Vec<(String, String)> = vec![
            ("SESSION_STORE".into(), store),
            ("DEV_PROVIDER_PORT".into(), free_port().to_string()),
            (
                "DEV_PROVIDER_STATE_DIR".into(),
                dir.path().join("dev-provider").display().to_string(),
            ),
        ];
        let port = free_port();
        let first = spawn_with(port, &env).await;
        let r = get(port, "/login", "").await;
        let cookie = set_cookie(&r).unwrap();
        let back = signin::testing::complete_sign_in(&client(), &location(&r), &[("user", "0")])
            .await
            .unwrap();
        let r = get(port, back.strip_prefix(APP_URL).unwrap(), &cookie).await;
        assert_eq!(r.status(), 303, "{kind}");
        let cookie = set_cookie(&r).unwrap();
        assert_eq!(get(port, "/profile", &cookie).await.status(), 200, "{kind}");

        first.stop();
        let second = spawn_with(port, &env).await;
        let page = get(port, "/profile", &cookie).await;
        assert_eq!(
            page.status(),
            200,
            "{kind}: still signed in after a restart"
        );
        assert!(page.text().await.unwrap().contains("Ada Lovelace"));
        drop(second);
    }
}

fn location(r: &reqwest::Response) -> String {
    r.headers()["location"].to_str().unwrap().to_string()
}

/// The real server closes a connection whose request headers do not arrive within
/// `LIMITS_HEADER_TIMEOUT_SECS` — trickled, never sent, or the start of an HTTP/2 preface (a
/// slow client cannot hold it), answers a complete request on another connection meanwhile,
/// and stops gracefully on SIGTERM.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_headers_are_cut_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let instance = spawn_with(
        port,
        &[
            ("LIMITS_HEADER_TIMEOUT_SECS".into(), "1".into()),
            ("OIDC_ISSUER".into(), "http://127.0.0.1:9".into()),
            ("OIDC_CLIENT_ID".into(), "x".into()),
            ("OIDC_CLIENT_SECRET".into(), "y".into()),
            (
                "DEV_PROVIDER_STATE_DIR".into(),
                dir.path().display().to_string(),
            ),
        ],
    )
    .await;
    let mut slow = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    // and one that connects and says nothing at all, and one that starts an HTTP/2 preface
    let mut silent = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let mut http2 = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    http2.write_all(b"PRI * HTTP/2").await.unwrap();
    let started = Instant::now();
    assert_eq!(
        client()
            .get(format!("http://127.0.0.1:{port}/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let mut buf = [0u8; 256];
    let read = tokio::time::timeout(Duration::from_secs(5), slow.read(&mut buf)).await;
    let elapsed = started.elapsed();
    match read {
        Ok(Ok(n)) => assert!(
            n == 0 || String::from_utf8_lossy(&buf[..n]).contains("408"),
            "closed, not answered: {:?}",
            String::from_utf8_lossy(&buf[..n])
        ),
        Ok(Err(_)) => {} // reset: closed too
        Err(_) => panic!("the slow connection was still open after 5 s"),
    }
    assert!(elapsed >= Duration::from_millis(900), "{elapsed:?}");
    for (name, conn) in [
        ("silent", &mut silent),
        ("half an HTTP/2 preface", &mut http2),
    ] {
        let read = tokio::time::timeout(Duration::from_secs(5), conn.read(&mut buf)).await;
        assert!(
            matches!(read, Ok(Ok(_)) | Ok(Err(_))),
            "the {name} connection was still open after 5 s"
        );
    }
    instance.stop();
}

/// `METRICS_ADDR`: `/metrics` on that address (OpenMetrics text), not on the app's; the app's
/// own address as `METRICS_ADDR` stops start-up with one line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_on_their_own_address() {
    let op = MockOp::start(Behaviour::default()).await;
    // two calls of free_port may give the same port: the app would refuse it as METRICS_ADDR
    let app_port = free_port();
    let metrics_port = std::iter::repeat_with(free_port)
        .find(|p| *p != app_port)
        .unwrap();
    let mut env: Vec<(String, String)> =
        vec![("METRICS_ADDR".into(), format!("127.0.0.1:{metrics_port}"))];
    env.extend(op.env().into_iter().map(|(k, v)| (k.to_string(), v)));
    let app = spawn_with(app_port, &env).await;
    let cookie = sign_in(app.port).await;
    let r = client()
        .get(format!("http://127.0.0.1:{metrics_port}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    let text = r.text().await.unwrap();
    assert!(
        text.contains("signin_sign_ins_total{outcome=\"success\"} 1"),
        "{text}"
    );
    let on_app = get(app.port, "/metrics", &cookie).await;
    assert!(
        !on_app
            .text()
            .await
            .unwrap()
            .contains("signin_sign_ins_total")
    );

    let port = free_port();
    let out = Command::new(env!("CARGO_BIN_EXE_signin"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
        .env("METRICS_ADDR", format!("127.0.0.1:{port}"))
        .env("OIDC_ISSUER", "http://127.0.0.1:9")
        .env("OIDC_CLIENT_ID", "x")
        .env("OIDC_CLIENT_SECRET", "y")
        .env("RUST_LOG", "off")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("app binary");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(lines[0].contains("METRICS_ADDR"), "{}", lines[0]);
}
