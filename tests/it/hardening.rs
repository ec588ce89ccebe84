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
    let err = match signin::startup::build_store(&s.session.store).await {
        Ok(_) => panic!("nothing listens on {port}"),
        Err(e) => format!("{e} {e:?}"),
    };
    assert!(!err.contains("hunter2"), "{err}");
}

fn header<'a>(r: &'a crate::common::Resp, name: &str) -> &'a str {
    r.headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

/// Nothing a signed-in person sees is kept by a cache: pages and server functions answered to
/// a session are `no-store, private`, every dynamic response `private` with `Vary: Cookie`; the
/// callback sends no referrer; static files keep their own caching.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caches_never_keep_personal_responses() {
    let h = Harness::dev(&[]).await;
    let mut jar = crate::common::Jar::default();
    let home = h.get(&mut jar, "/").await;
    assert_eq!(header(&home, "cache-control"), "no-cache, private");
    assert_eq!(header(&home, "vary"), "Cookie");

    let auth = h.start_login(&mut jar, Some("/profile")).await;
    let back = h.decide(&auth, &[("user", "0")]).await;
    let callback = h.callback(&mut jar, &back).await;
    assert_eq!(header(&callback, "referrer-policy"), "no-referrer");
    assert!(header(&callback, "cache-control").contains("no-store"));

    for path in ["/profile", "/", "/api/profile"] {
        let r = if path.starts_with("/api") {
            h.send(
                &mut jar,
                axum::http::Request::post(path)
                    .header("content-type", "application/x-www-form-urlencoded"),
                axum::body::Body::empty(),
            )
            .await
        } else {
            h.get(&mut jar, path).await
        };
        assert!(r.status.is_success(), "{path}: {}", r.status);
        assert_eq!(header(&r, "cache-control"), "no-store, private", "{path}");
        assert!(header(&r, "vary").contains("Cookie"), "{path}");
        assert_eq!(header(&r, "referrer-policy"), "same-origin", "{path}");
        assert_eq!(
            header(&r, "strict-transport-security"),
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
            header(&r, "strict-transport-security"),
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
