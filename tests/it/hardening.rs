//! Hardening (issue 12): what is refused, bounded or hidden whatever the request or settings.

use std::os::unix::fs::PermissionsExt;

use crate::common::{Harness, settings};

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// The SQLite database (and its WAL), the development provider's key, client secret and grants
/// are created readable by the owner only, whatever the umask.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_files_are_owner_only() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("sessions.db");
    let h = Harness::dev(&[("SESSION_STORE", &format!("sqlite://{}", db.display()))]).await;
    let mut jar = crate::common::Jar::default();
    h.sign_in(&mut jar, None).await;
    assert_eq!(mode(&db), 0o600, "sessions.db");
    let wal = dir.path().join("sessions.db-wal");
    if wal.exists() {
        assert_eq!(mode(&wal), 0o600, "sessions.db-wal");
    }
    let state = std::path::PathBuf::from(&h.state.settings.dev_provider.state_dir);
    h.provider().save();
    assert_eq!(mode(&state.join("grants.json")), 0o600, "grants.json");

    // a provider starting on an empty state directory creates its key and client secret
    let fresh = tempfile::tempdir().unwrap();
    let s = settings(&[], fresh.path());
    let provider = signin::dev_provider::start(&s).await.unwrap();
    let state = std::path::PathBuf::from(&s.dev_provider.state_dir);
    assert_eq!(mode(&state), 0o700, "the provider's state directory");
    for file in ["key.pem", "client_secret"] {
        assert_eq!(mode(&state.join(file)), 0o600, "{file}");
    }
    drop(provider);
}

/// A Redis URL's password appears neither in the settings' `Debug` output nor in the error
/// when the store cannot be reached.
#[tokio::test]
async fn redis_password_never_printed() {
    let dir = tempfile::tempdir().unwrap();
    let port = crate::common::redis::free_port();
    let url = format!("redis://:hunter2-secret@127.0.0.1:{port}");
    let s = settings(&[("SESSION_STORE", &url)], dir.path());
    let debug = format!("{s:?}");
    assert!(!debug.contains("hunter2"), "{debug}");
    assert!(
        debug.contains(&format!("redis://127.0.0.1:{port}")),
        "{debug}"
    );
    let err = match signin::startup::build_store(&s.session).await {
        Ok(_) => panic!("nothing listens on {port}"),
        Err(e) => format!("{e} {e:?}"),
    };
    assert!(!err.contains("hunter2"), "{err}");
}

/// Nothing a signed-in person sees is kept by a cache: pages and server functions answered to
/// a session are `no-store, private`, every dynamic response `private` with `Vary: Cookie,
/// Islands-Router`; the
/// callback sends no referrer; static files keep their own caching.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caches_never_keep_personal_responses() {
    let h = Harness::dev(&[]).await;
    let mut jar = crate::common::Jar::default();
    let home = h.get(&mut jar, "/").await;
    assert_eq!(home.header("cache-control"), "no-cache, private");
    assert_eq!(home.header("vary"), "Cookie, Islands-Router");

    let auth = h.start_login(&mut jar, Some("/profile")).await;
    let back = h.decide(&auth, &[("user", "0")]).await;
    let callback = h.callback(&mut jar, &back).await;
    assert_eq!(callback.header("referrer-policy"), "no-referrer");
    assert!(callback.header("cache-control").contains("no-store"));

    for path in ["/profile", "/", "/api/profile"] {
        let r = if path.starts_with("/api") {
            h.send(
                &mut jar,
                axum::http::Request::post(path)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .header("sec-fetch-site", "same-origin"),
                axum::body::Body::empty(),
            )
            .await
        } else {
            h.get(&mut jar, path).await
        };
        assert!(r.status.is_success(), "{path}: {}", r.status);
        assert_eq!(r.header("cache-control"), "no-store, private", "{path}");
        assert!(r.header("vary").contains("Cookie"), "{path}");
        assert_eq!(r.header("referrer-policy"), "same-origin", "{path}");
        assert_eq!(
            r.header("strict-transport-security"),
            "",
            "{path}: plain http"
        );
    }
}

/// Over https every response carries HSTS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hsts_over_https() {
    let op = crate::common::mock_op::MockOp::start(Default::default()).await;
    let h = Harness::mock(&op, &[("APP_URL", "https://app.example.com")]).await;
    for path in ["/", "/login", "/healthz"] {
        let r = h.get(&mut crate::common::Jar::default(), path).await;
        assert_eq!(
            r.header("strict-transport-security"),
            "max-age=31536000",
            "{path}"
        );
    }
}

/// Discovery older than its lifetime is used at once while one background fetch renews it: a
/// slow provider never holds up a request, and a failed renewal keeps the last good copy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_discovery_is_renewed_in_the_background() {
    use std::{sync::atomic::Ordering, time::Duration};
    let op = crate::common::mock_op::MockOp::start(Default::default()).await;
    let h = Harness::mock(&op, &[]).await;
    let mut jar = crate::common::Jar::default();
    h.mock_sign_in(&mut jar).await;
    let calls = &h.state.oidc().calls.discovery;
    let before = calls.load(Ordering::SeqCst);

    op.set(|b| b.discovery_delay = Duration::from_secs(3));
    h.state.oidc().age_discovery(Duration::from_secs(2 * 3600));
    let started = std::time::Instant::now();
    for _ in 0..5 {
        let r = h.get(&mut crate::common::Jar::default(), "/login").await;
        assert_eq!(r.status, axum::http::StatusCode::SEE_OTHER, "{r:?}");
        assert!(r.location().unwrap().starts_with(op.issuer()));
    }
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "requests waited for the slow provider: {:?}",
        started.elapsed()
    );
    tokio::time::sleep(Duration::from_millis(3500)).await;
    assert_eq!(
        calls.load(Ordering::SeqCst) - before,
        1,
        "one background renewal for five requests"
    );

    // renewed: no further fetch; and a failed renewal keeps the last good copy
    h.state.oidc().age_discovery(Duration::from_secs(2 * 3600));
    op.set(|b| {
        b.discovery_delay = Duration::ZERO;
        b.discovery_fails = true;
    });
    let r = h.get(&mut crate::common::Jar::default(), "/login").await;
    assert_eq!(
        r.status,
        axum::http::StatusCode::SEE_OTHER,
        "stale copy used"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let r = h.get(&mut crate::common::Jar::default(), "/login").await;
    assert_eq!(
        r.status,
        axum::http::StatusCode::SEE_OTHER,
        "kept after a failed renewal"
    );
}

/// Requests that arrive while the provider is failing share one discovery attempt (a hanging
/// provider is not asked twenty times); the failure is not remembered, so the first request
/// after the provider recovers signs in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_attempts_are_shared_and_failures_not_kept() {
    use std::{sync::atomic::Ordering, time::Duration};
    let op = crate::common::mock_op::MockOp::start(Default::default()).await;
    op.set(|b| {
        b.discovery_fails = true;
        b.discovery_delay = Duration::from_millis(500);
    });
    let h = Harness::mock(&op, &[]).await;
    let calls = &h.state.oidc().calls.discovery;
    let logins =
        (0..20).map(|_| async { h.get(&mut crate::common::Jar::default(), "/login").await });
    for r in futures::future::join_all(logins).await {
        assert_eq!(
            r.location(),
            Some("/auth/error?reason=provider_unavailable")
        );
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "one attempt for 20 requests"
    );

    op.set(|b| {
        b.discovery_fails = false;
        b.discovery_delay = Duration::ZERO;
    });
    let mut jar = crate::common::Jar::default();
    h.mock_sign_in(&mut jar).await;
}

fn post(path: &str) -> axum::http::request::Builder {
    axum::http::Request::post(path)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "text/html")
        .header("origin", crate::common::APP_URL)
}

/// Bodies beyond `LIMITS_BODY_BYTES` are refused with 413 — declared or streamed without a
/// length — without being read past the limit; a body that never finishes is 408 after the
/// request timeout; the session survives all of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_bodies_are_bounded() {
    use axum::{body::Body, http::StatusCode};
    let h = Harness::dev(&[
        ("LIMITS_BODY_BYTES", "2048"),
        ("LIMITS_REQUEST_TIMEOUT_SECS", "1"),
    ])
    .await;
    let mut jar = crate::common::Jar::default();
    h.sign_in(&mut jar, None).await;

    let big = "x=".to_string() + &"a".repeat(4096);
    for path in ["/logout", "/api/profile", "/backchannel-logout"] {
        let r = h.send(&mut jar, post(path), Body::from(big.clone())).await;
        assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{path}");
    }
    // streamed, no Content-Length: stopped at the limit
    let read = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = read.clone();
    let chunks = futures::stream::iter((0..1000).map(move |_| {
        counted.fetch_add(1024, std::sync::atomic::Ordering::SeqCst);
        Ok::<_, std::io::Error>(vec![b'a'; 1024])
    }));
    let r = h
        .send(&mut jar, post("/logout"), Body::from_stream(chunks))
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        read.load(std::sync::atomic::Ordering::SeqCst) <= 4096,
        "read only up to the limit"
    );
    // a body that never ends
    let endless = futures::stream::pending::<Result<Vec<u8>, std::io::Error>>();
    let started = std::time::Instant::now();
    let r = h
        .send(&mut jar, post("/logout"), Body::from_stream(endless))
        .await;
    assert_eq!(r.status, StatusCode::REQUEST_TIMEOUT);
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    // still signed in; a small body still works
    assert_eq!(h.get(&mut jar, "/profile").await.status, StatusCode::OK);
    let r = h.logout(&mut jar, Some(crate::common::APP_URL)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
}

fn from(addr: &str) -> axum::extract::ConnectInfo<std::net::SocketAddr> {
    axum::extract::ConnectInfo(addr.parse().unwrap())
}

/// `/login` and the callback are rate limited per client address: past the burst, 429 with
/// `Retry-After` and a page saying what to do; other clients are not affected, and other
/// pages neither. `X-Forwarded-For` names the client only behind a trusted proxy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_is_rate_limited_per_client() {
    use axum::{body::Body, http::StatusCode};
    let h = Harness::dev(&[
        ("LIMITS_SIGN_IN_PER_MINUTE", "6"),
        ("LIMITS_SIGN_IN_BURST", "3"),
        ("LIMITS_TRUSTED_PROXIES", "10.0.0.0/8"),
    ])
    .await;
    let login = |client: &str, xff: Option<&str>| {
        let mut b = crate::common::page("/login").extension(from(client));
        if let Some(x) = xff {
            b = b.header("x-forwarded-for", x);
        }
        b
    };
    for _ in 0..3 {
        let r = h
            .send(
                &mut crate::common::Jar::default(),
                login("203.0.113.1:1000", None),
                Body::empty(),
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
    }
    let r = h
        .send(
            &mut crate::common::Jar::default(),
            login("203.0.113.1:1001", None),
            Body::empty(),
        )
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = r.header("retry-after").parse().unwrap();
    assert!((1..=10).contains(&retry), "{retry}");
    assert!(r.body.contains("Too many sign-in attempts"), "{}", r.body);
    assert!(r.body.contains("href=\"/\""), "a way back");
    assert_eq!(r.header("cache-control"), "no-store");
    // the callback counts too; other pages do not
    let r = h
        .send(
            &mut crate::common::Jar::default(),
            crate::common::page("/authorization-code/callback?code=x&state=y")
                .extension(from("203.0.113.1:1002")),
            Body::empty(),
        )
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    let r = h
        .send(
            &mut crate::common::Jar::default(),
            crate::common::page("/").extension(from("203.0.113.1:1003")),
            Body::empty(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    // another client is not affected
    let r = h
        .send(
            &mut crate::common::Jar::default(),
            login("203.0.113.2:1000", None),
            Body::empty(),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    // a header from an untrusted client changes nothing
    let r = h
        .send(
            &mut crate::common::Jar::default(),
            login("203.0.113.1:1004", Some("198.51.100.1")),
            Body::empty(),
        )
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    // behind the trusted proxy, each forwarded client has its own budget
    for client in ["198.51.100.7", "198.51.100.8"] {
        for _ in 0..3 {
            let r = h
                .send(
                    &mut crate::common::Jar::default(),
                    login("10.1.2.3:80", Some(client)),
                    Body::empty(),
                )
                .await;
            assert_eq!(r.status, StatusCode::SEE_OTHER, "{client}");
        }
    }
    let r = h
        .send(
            &mut crate::common::Jar::default(),
            login("10.1.2.3:80", Some("198.51.100.7")),
            Body::empty(),
        )
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
}

/// The provider-facing endpoints have their own per-client limit, answered in JSON.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_endpoints_are_rate_limited() {
    use axum::{body::Body, http::StatusCode};
    let h = Harness::dev(&[
        ("LIMITS_PROVIDER_PER_MINUTE", "6"),
        ("LIMITS_PROVIDER_BURST", "2"),
    ])
    .await;
    let call = || {
        axum::http::Request::post("/backchannel-logout")
            .header("content-type", "application/x-www-form-urlencoded")
            .extension(from("192.0.2.1:443"))
    };
    for _ in 0..2 {
        let r = h
            .send(
                &mut crate::common::Jar::default(),
                call(),
                Body::from("logout_token=x"),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
    }
    let r = h
        .send(
            &mut crate::common::Jar::default(),
            call(),
            Body::from("logout_token=x"),
        )
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        r.body.contains("\"error\":\"too_many_requests\""),
        "{}",
        r.body
    );
    assert!(r.header("retry-after").parse::<u64>().is_ok());
}

/// One CSRF rule for every state-changing request, not only sign-out: a server function
/// posted from another site (or a same-site sibling, or without `Origin` and
/// `Sec-Fetch-Site`) is refused with 403 before the session is used.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_site_posts_are_refused() {
    use axum::{body::Body, http::StatusCode};
    let h = Harness::dev(&[]).await;
    let mut jar = crate::common::Jar::default();
    h.sign_in(&mut jar, None).await;
    let api = |pairs: &[(&str, &str)]| {
        let mut b = axum::http::Request::post("/api/profile")
            .header("content-type", "application/x-www-form-urlencoded");
        for (k, v) in pairs {
            b = b.header(*k, *v);
        }
        b
    };
    for refused in [
        vec![],
        vec![("origin", "https://evil.example.com")],
        vec![("sec-fetch-site", "cross-site")],
        vec![
            ("sec-fetch-site", "same-site"),
            ("origin", "http://sub.localhost:3000"),
        ],
        vec![("referer", "http://localhost:3000/profile")],
    ] {
        let r = h.send(&mut jar, api(&refused), Body::empty()).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{refused:?}");
        assert!(r.body.contains("cross_site_request"), "{}", r.body);
    }
    for allowed in [
        vec![("sec-fetch-site", "same-origin")],
        vec![("origin", crate::common::APP_URL)],
    ] {
        let r = h.send(&mut jar, api(&allowed), Body::empty()).await;
        assert_eq!(r.status, StatusCode::OK, "{allowed:?}");
    }
    assert!(h.stored(&jar).await.is_some(), "the session survived");
}

/// Paths not in normal form are refused with 400 before routing (no layer can read them
/// differently from another); under "sign-in everywhere", only registered server functions
/// skip the guard — not every path under `/api/`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unnormalized_paths_and_unknown_api_paths() {
    use axum::http::StatusCode;
    let h = Harness::dev(&[("AUTH_REQUIRE_AUTH_EVERYWHERE", "true")]).await;
    let mut jar = crate::common::Jar::default();
    for path in [
        "/pkg/../Cargo.toml",
        "/pkg/%2e%2e/Cargo.toml",
        "/profile/.",
        "//profile",
        "/pkg%2fsignin.js",
        "/api/..%5cprofile",
    ] {
        let r = h.get(&mut jar, path).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{path}");
    }
    let r = h.get(&mut jar, "/api/not-a-server-function").await;
    assert!(
        r.status.is_redirection(),
        "guarded like any page: {}",
        r.status
    );
    assert!(r.location().unwrap_or_default().starts_with("/login"));
    // a registered server function answers for itself
    let r = h
        .send(
            &mut jar,
            axum::http::Request::post("/api/auth_status")
                .header("content-type", "application/x-www-form-urlencoded")
                .header("sec-fetch-site", "same-origin"),
            axum::body::Body::empty(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

const KEY_1: &str = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";
const KEY_2: &str = "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=";

/// What the store holds for a signed-in session contains none of its tokens, nor the
/// person's email: SQLite's files and Redis' values are sealed with `SESSION_ENCRYPTION_KEY`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_encrypted_at_rest() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("sessions.db");
    let redis = crate::common::redis::RedisServer::start().await;
    for store in [format!("sqlite://{}", db.display()), redis.url()] {
        let h = Harness::dev(&[("SESSION_STORE", &store), ("SESSION_ENCRYPTION_KEY", KEY_1)]).await;
        let mut jar = crate::common::Jar::default();
        h.sign_in(&mut jar, None).await;
        let s = h.stored(&jar).await.expect("signed in");
        let t = &s.verified.tokens;
        let secrets = [
            t.access_token.expose().to_string(),
            t.refresh_token.as_ref().unwrap().expose().to_string(),
            t.id_token.expose().to_string(),
            s.verified.user.email.clone().unwrap_or_default(),
        ];
        let raw: Vec<u8> = if store.starts_with("sqlite") {
            let mut raw = std::fs::read(&db).unwrap();
            raw.extend(std::fs::read(dir.path().join("sessions.db-wal")).unwrap_or_default());
            raw
        } else {
            let out = std::process::Command::new("redis-cli")
                .args(["-p", &redis.port.to_string(), "--scan"])
                .output()
                .unwrap();
            let mut raw = Vec::new();
            for key in String::from_utf8_lossy(&out.stdout).lines() {
                let v = std::process::Command::new("redis-cli")
                    .args(["-p", &redis.port.to_string(), "--raw", "GET", key])
                    .output()
                    .unwrap();
                raw.extend(v.stdout);
            }
            raw
        };
        assert!(raw.len() > 100, "{store}: something was stored");
        let text = String::from_utf8_lossy(&raw);
        for secret in &secrets {
            assert!(!secret.is_empty());
            assert!(
                !text.contains(secret.as_str()),
                "{store}: a secret in the store"
            );
        }
    }
}

/// Several keys rotate: sessions sealed with the old key open while it is listed second, and
/// end (sign in again) once it is removed. A persistent store needs a key in production; a bad
/// key stops start-up; outside production one is generated into an owner-only file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encryption_keys_rotate_and_are_required_in_production() {
    use axum::http::StatusCode;
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite://{}", dir.path().join("s.db").display());
    let h = Harness::dev(&[("SESSION_STORE", &store), ("SESSION_ENCRYPTION_KEY", KEY_1)]).await;
    let mut jar = crate::common::Jar::default();
    h.sign_in(&mut jar, None).await;
    let settings = (*h.state.settings).clone();
    let with_keys = |keys: &str| {
        let mut s = settings.clone();
        let parsed = crate::common::settings(
            &[("SESSION_STORE", &store), ("SESSION_ENCRYPTION_KEY", keys)],
            dir.path(),
        );
        s.session = parsed.session;
        s
    };
    let rotated = Harness::with_settings(with_keys(&format!("{KEY_2},{KEY_1}")), None).await;
    assert_eq!(
        rotated.get(&mut jar, "/profile").await.status,
        StatusCode::OK
    );
    let retired = Harness::with_settings(with_keys(KEY_2), None).await;
    let r = retired.get(&mut jar.clone(), "/profile").await;
    assert!(
        r.status.is_redirection(),
        "the old key is gone: {}",
        r.status
    );

    let env_dir = tempfile::tempdir().unwrap();
    let load =
        |env: &[(&str, &str)]| signin::testing::settings_from(env, env_dir.path()).map(|_| ());
    let e = load(&[
        ("LEPTOS_ENV", "production"),
        ("APP_URL", "https://app.example.com"),
        ("SESSION_STORE", &store),
        ("SESSION_ENCRYPTION_KEY", ""),
    ])
    .unwrap_err();
    assert!(e.contains("SESSION_ENCRYPTION_KEY"), "{e}");
    assert!(
        load(&[
            ("LEPTOS_ENV", "production"),
            ("APP_URL", "https://app.example.com"),
            ("SESSION_STORE", &store),
            ("SESSION_ENCRYPTION_KEY", KEY_1),
        ])
        .is_ok()
    );
    for bad in ["short", "AAAA", "not base64 at all!"] {
        let e = load(&[("SESSION_ENCRYPTION_KEY", bad)]).unwrap_err();
        assert!(e.contains("SESSION_ENCRYPTION_KEY"), "{bad}: {e}");
    }

    // development: a key generated into an owner-only file, and used again next time
    let dev = Harness::dev(&[("SESSION_STORE", &store), ("SESSION_ENCRYPTION_KEY", "")]).await;
    let key_file = std::path::PathBuf::from(&dev.state.settings.session.key_file);
    assert_eq!(mode(&key_file), 0o600);
    let mut jar = crate::common::Jar::default();
    dev.sign_in(&mut jar, None).await;
    let again = Harness::with_settings((*dev.state.settings).clone(), None).await;
    assert_eq!(again.get(&mut jar, "/profile").await.status, StatusCode::OK);
}

/// Files created by an older version, or by hand, readable by others are narrowed to the
/// owner; a symbolic link where a secret file goes is refused rather than followed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loose_secret_files_are_narrowed_and_links_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("old.db");
    std::fs::write(&db, b"").unwrap();
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    let key_file = dir.path().join("session-key");
    std::fs::write(&key_file, "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=").unwrap();
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let store = format!("sqlite://{}", db.display());
    let key_path = key_file.display().to_string();
    let _h = Harness::dev(&[
        ("SESSION_STORE", &store),
        ("SESSION_ENCRYPTION_KEY", ""),
        ("SESSION_KEY_FILE", &key_path),
    ])
    .await;
    assert_eq!(mode(&db), 0o600);
    assert_eq!(mode(&key_file), 0o600);

    let target = dir.path().join("elsewhere");
    std::fs::write(&target, "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=").unwrap();
    let link = dir.path().join("linked-key");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let s = settings(
        &[
            ("SESSION_STORE", &store),
            ("SESSION_ENCRYPTION_KEY", ""),
            ("SESSION_KEY_FILE", &link.display().to_string()),
        ],
        dir.path(),
    );
    let err = match signin::startup::build_store(&s.session).await {
        Ok(_) => panic!("a linked key file must be refused"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("symbolic link"), "{err}");
}
