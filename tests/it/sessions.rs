//! Session rules, run against every store (memory, SQLite, Redis — real servers): id rotation,
//! cookies only when the session changed, bad cookies, idle and absolute timeouts, restarts,
//! and Redis going down mid-run.

use std::time::Duration;

use crate::common::{
    Harness, Jar,
    mock_op::{Behaviour, MockOp},
    redis::RedisServer,
};
use axum::http::{StatusCode, header};

#[derive(Clone, Copy, Debug)]
enum Store {
    Memory,
    Sqlite,
    Redis,
}

struct Ctx {
    h: Harness,
    redis: Option<RedisServer>,
    _dir: tempfile::TempDir,
    store_url: String,
}

/// A store of kind `store` (a Redis server of its own for `Redis`): its URL, the server and
/// the directory holding a SQLite file.
async fn store_for(store: Store) -> (String, Option<RedisServer>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let redis = match store {
        Store::Redis => Some(RedisServer::start().await),
        _ => None,
    };
    let store_url = match store {
        Store::Memory => "memory".to_string(),
        Store::Sqlite => format!("sqlite://{}", dir.path().join("sessions.db").display()),
        Store::Redis => redis.as_ref().unwrap().url(),
    };
    (store_url, redis, dir)
}

async fn start(store: Store, env: &[(&str, &str)]) -> Ctx {
    let (store_url, redis, dir) = store_for(store).await;
    let mut all = vec![("SESSION_STORE", store_url.as_str())];
    all.extend_from_slice(env);
    Ctx {
        h: Harness::dev(&all).await,
        redis,
        _dir: dir,
        store_url,
    }
}

macro_rules! per_store {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn memory() { super::$name(super::Store::Memory).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() { super::$name(super::Store::Sqlite).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn redis() { super::$name(super::Store::Redis).await }
        }
    )*};
}

per_store!(
    rotation_and_quiet_cookies,
    bad_cookies_are_no_session,
    idle_timeout,
    absolute_lifetime,
    sign_out_deletes,
    a_slow_refresh_cannot_bring_back_a_deleted_session,
    sign_out_takes_the_session_lock,
    sign_out_amid_touches,
    no_write_brings_back_a_deleted_session,
    the_session_layer_never_writes_back_a_vanished_record,
    records_live_to_the_millisecond,
    started_sign_ins_expire_quickly,
    sign_out_revokes_the_newest_tokens
);

/// The app in front of the scriptable provider, on `store`.
async fn start_mock(store: Store, op: &MockOp, env: &[(&str, &str)]) -> Ctx {
    let (store_url, redis, dir) = store_for(store).await;
    let mut all = vec![("SESSION_STORE", store_url.as_str())];
    all.extend_from_slice(env);
    Ctx {
        h: Harness::mock(op, &all).await,
        redis,
        _dir: dir,
        store_url,
    }
}

/// A session deleted while its refresh waits on a slow provider (a sign-out elsewhere) stays
/// deleted: the refresh's write is refused, the request ends signed out, the tokens it just
/// obtained are revoked, and the old cookie stays signed out — right away and seconds later.
async fn a_slow_refresh_cannot_bring_back_a_deleted_session(store: Store) {
    let op = MockOp::start(Behaviour {
        access_ttl: 2,
        refresh_delay: Duration::from_millis(1500),
        ..Default::default()
    })
    .await;
    let c = start_mock(store, &op, &[]).await;
    let h = &c.h;
    let mut jar = Jar::default();
    h.mock_sign_in(&mut jar).await;
    let id = jar.session_id().unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await; // refresh due

    let refreshing = {
        let mut jar = jar.clone();
        async move { h.get(&mut jar, "/profile").await }
    };
    let deleting = async {
        // the refresh is in flight: the provider has it and holds the answer (1.5 s); waiting
        // for that rather than a fixed time, which a loaded machine could overrun
        let asked = std::time::Instant::now();
        while op.refresh_calls() == 0 {
            assert!(
                asked.elapsed() < Duration::from_secs(10),
                "{store:?}: no refresh"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        h.state
            .keeper
            .store
            .delete(&id.parse().unwrap())
            .await
            .unwrap();
    };
    let (r, ()) = tokio::join!(refreshing, deleting);
    assert_eq!(op.refresh_calls(), 1, "{store:?}");
    assert_eq!(r.location(), Some("/login?return_to=/profile"), "{store:?}");
    assert_eq!(
        op.wait_revoked(2, Duration::from_secs(5)).await.len(),
        2,
        "{store:?}: the orphaned new tokens are revoked"
    );
    for wait in [0, 2000] {
        tokio::time::sleep(Duration::from_millis(wait)).await;
        let mut old = jar.clone();
        let r = h.get(&mut old, "/profile").await;
        assert_eq!(
            r.location(),
            Some("/login?return_to=/profile"),
            "{store:?}: the old cookie is signed out ({wait} ms later)"
        );
        assert!(
            !h.has_record(&id).await,
            "{store:?}: no record ({wait} ms later)"
        );
    }
}

/// Sign-out takes the session's lock (in-process and in the shared store): it waits for a
/// refresh or touch that holds it, then deletes.
async fn sign_out_takes_the_session_lock(store: Store) {
    let c = start(store, &[]).await;
    let h = &c.h;
    let mut jar = Jar::default();
    h.sign_in(&mut jar, None).await;
    let id: tower_sessions::session::Id = jar.session_id().unwrap().parse().unwrap();
    let held = h
        .state
        .keeper
        .locks
        .lock(&id, Duration::from_secs(30), Duration::from_secs(1))
        .await
        .unwrap()
        .expect("lock");
    let mut out_jar = jar.clone();
    let sign_out = h.logout(&mut out_jar, Some(crate::common::APP_URL));
    tokio::pin!(sign_out);
    assert!(
        tokio::time::timeout(Duration::from_millis(700), &mut sign_out)
            .await
            .is_err(),
        "{store:?}: sign-out waits while the lock is held"
    );
    assert!(h.has_record(&id.to_string()).await, "{store:?}");
    drop(held);
    // generous for a loaded machine, yet well below the 30 s after which the held lock would
    // expire on its own (a sign-out that missed the release would finish only then)
    let r = tokio::time::timeout(Duration::from_secs(15), sign_out)
        .await
        .expect("sign-out completes once the lock is free");
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{store:?}");
    assert!(!h.has_record(&id.to_string()).await, "{store:?}");
}

/// A sign-out amid requests that each "touch" the session (last seen, store expiry: due every
/// second with a 24 s idle timeout): the old cookie stays signed out, also seconds later.
async fn sign_out_amid_touches(store: Store) {
    let c = start(store, &[("SESSION_IDLE_TIMEOUT_SECS", "24")]).await;
    let h = &c.h;
    for round in 0..3 {
        let mut jar = Jar::default();
        h.sign_in(&mut jar, None).await;
        let id = jar.session_id().unwrap();
        tokio::time::sleep(Duration::from_millis(1100)).await; // touch due
        let touches = (0..20).map(|_| {
            let mut jar = jar.clone();
            async move { h.get(&mut jar, "/profile").await.status }
        });
        let sign_out = async {
            let mut jar = jar.clone();
            h.logout(&mut jar, Some(crate::common::APP_URL))
                .await
                .status
        };
        let (_, out) = tokio::join!(futures::future::join_all(touches), sign_out);
        assert_eq!(out, StatusCode::SEE_OTHER, "{store:?} round {round}");
        for wait in [0, 1500] {
            tokio::time::sleep(Duration::from_millis(wait)).await;
            let mut old = jar.clone();
            assert_eq!(
                h.get(&mut old, "/profile").await.location(),
                Some("/login?return_to=/profile"),
                "{store:?} round {round}: signed out ({wait} ms later)"
            );
            assert!(!h.has_record(&id).await, "{store:?} round {round}");
        }
    }
}

/// Refresh and "touch" write a record only while it exists: once deleted, no write brings it
/// back, in any store.
async fn no_write_brings_back_a_deleted_session(store: Store) {
    let c = start(store, &[]).await;
    let h = &c.h;
    let mut jar = Jar::default();
    h.sign_in(&mut jar, None).await;
    let id: tower_sessions::session::Id = jar.session_id().unwrap().parse().unwrap();
    let keeper = &h.state.keeper;
    let (record, signed_in) = keeper.store.load_signed_in(&id).await.unwrap().unwrap();
    let expiry = record.expiry_date;
    assert!(
        keeper
            .store
            .save_signed_in(record.clone(), &signed_in, expiry)
            .await
            .unwrap(),
        "{store:?}: an existing record is written"
    );
    keeper.store.delete(&id).await.unwrap();
    assert!(
        !keeper
            .store
            .save_signed_in(record, &signed_in, expiry)
            .await
            .unwrap(),
        "{store:?}: a deleted record is not written"
    );
    assert!(!h.has_record(&id.to_string()).await, "{store:?}");
}

/// The session layer's end-of-request save of a record that is gone meanwhile (deleted by a
/// sign-out, or expired) is neither an error (it was a bare 500 on Redis) nor a new record.
async fn the_session_layer_never_writes_back_a_vanished_record(store: Store) {
    use tower_sessions::{SessionStore, session::Record};
    let c = start(store, &[]).await;
    let records = &c.h.state.keeper.store;
    let mut record = Record {
        id: Default::default(),
        data: Default::default(),
        expiry_date: time::OffsetDateTime::now_utc() + time::Duration::minutes(10),
    };
    records.create(&mut record).await.unwrap();
    assert!(c.h.has_record(&record.id.to_string()).await, "{store:?}");
    records.delete(&record.id).await.unwrap();
    records
        .save(&record)
        .await
        .unwrap_or_else(|e| panic!("{store:?}: saving a vanished record: {e}"));
    assert!(
        !c.h.has_record(&record.id.to_string()).await,
        "{store:?}: not written back"
    );
}

/// A record expires when its expiry date says, not up to a second early (Redis's `EXAT`
/// rounds down to the second: a 1 s pending sign-in could vanish before its own request ended).
async fn records_live_to_the_millisecond(store: Store) {
    use tower_sessions::{SessionStore, session::Record};
    let c = start(store, &[]).await;
    let records = &c.h.state.keeper.store;
    let now = time::OffsetDateTime::now_utc();
    let next_second = now.replace_nanosecond(0).unwrap() + time::Duration::SECOND;
    let mut record = Record {
        id: Default::default(),
        data: [("k".to_string(), serde_json::json!(1))].into(),
        expiry_date: next_second + time::Duration::milliseconds(700),
    };
    records.create(&mut record).await.unwrap();
    let wait = next_second + time::Duration::milliseconds(200) - time::OffsetDateTime::now_utc();
    tokio::time::sleep(wait.try_into().unwrap()).await;
    assert!(
        records.load(&record.id).await.unwrap().is_some(),
        "{store:?}: still there 500 ms before its expiry date"
    );
}

/// A visitor who only clicked "Sign in" gets a short-lived session (cookie and store), however
/// many times anyone calls `/login`; from sign-in on the idle timeout applies.
async fn started_sign_ins_expire_quickly(store: Store) {
    // the default: at most 15 minutes
    let c = start(store, &[]).await;
    let h = &c.h;
    let mut jar = Jar::default();
    let auth = h.start_login(&mut jar, None).await;
    let cookie = h
        .get(&mut Jar::default(), "/login")
        .await
        .set_cookies()
        .join(";");
    assert!(cookie.contains("Max-Age=600"), "{store:?}: {cookie}");
    let id: tower_sessions::session::Id = jar.session_id().unwrap().parse().unwrap();
    let record = tower_sessions::SessionStore::load(&h.state.keeper.store, &id)
        .await
        .unwrap()
        .unwrap();
    let left = record.expiry_date - time::OffsetDateTime::now_utc();
    assert!(left <= time::Duration::minutes(15), "{store:?}: {left}");
    // signed in: the idle timeout (24 h) from now on
    let back = h.decide(&auth, &[("user", "0")]).await;
    let r = h.callback(&mut jar, &back).await;
    assert!(
        r.set_cookies().join(";").contains("Max-Age=86400"),
        "{store:?}: {:?}",
        r.set_cookies()
    );
    let id: tower_sessions::session::Id = jar.session_id().unwrap().parse().unwrap();
    let record = tower_sessions::SessionStore::load(&h.state.keeper.store, &id)
        .await
        .unwrap()
        .unwrap();
    assert!(record.expiry_date - time::OffsetDateTime::now_utc() > time::Duration::hours(23));
    drop(c);

    // a flood of cookieless /login requests: every session they create is gone after the
    // pending timeout (here 2 s), from the store itself
    // a loaded 2-core CI machine can take more than the default 2 s for one store command
    let c = start(
        store,
        &[
            ("SESSION_PENDING_TIMEOUT_SECS", "2"),
            ("SESSION_STORE_TIMEOUT_SECS", "10"),
        ],
    )
    .await;
    let h = &c.h;
    h.get(&mut Jar::default(), "/login").await; // the provider discovered once
    // 100 requests, 20 at a time
    let mut ids: Vec<String> = Vec::new();
    for _ in 0..5 {
        let flood = (0..20).map(|_| async {
            let mut jar = Jar::default();
            let r = h.get(&mut jar, "/login").await;
            jar.session_id().ok_or(r.status)
        });
        ids.extend(
            futures::future::join_all(flood)
                .await
                .into_iter()
                .collect::<Result<Vec<_>, _>>()
                .unwrap_or_else(|status| panic!("{store:?}: a /login without a session: {status}")),
        );
    }
    assert_eq!(
        ids.iter().collect::<std::collections::HashSet<_>>().len(),
        100
    );
    // one more, on its own, is in the store (the flood's first may already have expired:
    // on a loaded machine 100 requests can take longer than the timeout) ...
    let mut jar = Jar::default();
    h.get(&mut jar, "/login").await;
    let newest = jar.session_id().expect("a session");
    assert!(h.has_record(&newest).await, "{store:?}");
    ids.push(newest);
    // ... and a timeout after it, none is
    tokio::time::sleep(Duration::from_millis(2300)).await;
    for id in &ids {
        assert!(!h.has_record(id).await, "{store:?}: expired in the store");
    }
}

/// Sign-out revokes the session's newest refresh and access tokens at the provider
/// (RFC 7009), after a refresh rotated them; a provider that is down or slow to revoke
/// neither delays nor prevents the sign-out.
async fn sign_out_revokes_the_newest_tokens(store: Store) {
    let op = MockOp::start(Behaviour {
        access_ttl: 2,
        ..Default::default()
    })
    .await;
    let c = start_mock(store, &op, &[]).await;
    let h = &c.h;
    let mut jar = Jar::default();
    h.mock_sign_in(&mut jar).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(h.get(&mut jar, "/profile").await.status, StatusCode::OK);
    assert_eq!(op.refresh_calls(), 1, "{store:?}");
    let tokens = h.stored(&jar).await.unwrap().verified.tokens;
    let r = h.logout(&mut jar, Some(crate::common::APP_URL)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{store:?}");
    let revoked = op.wait_revoked(2, Duration::from_secs(5)).await;
    assert_eq!(
        revoked,
        vec![
            tokens.refresh_token.unwrap().expose().to_string(),
            tokens.access_token.expose().to_string()
        ],
        "{store:?}: the rotated refresh token, then the access token ({} calls)",
        op.revocation_calls()
    );

    for (what, behaviour) in [
        (
            "failing",
            Behaviour {
                revocation_status: Some(503),
                ..Default::default()
            },
        ),
        (
            "hanging",
            Behaviour {
                revocation_delay: Duration::from_secs(30),
                ..Default::default()
            },
        ),
    ] {
        op.set(|b| *b = behaviour.clone());
        let mut jar = Jar::default();
        h.mock_sign_in(&mut jar).await;
        let id = jar.session_id().unwrap();
        let started = std::time::Instant::now();
        let r = h.logout(&mut jar, Some(crate::common::APP_URL)).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{store:?}, {what}");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{store:?}, {what}: sign-out did not wait for the provider ({:?})",
            started.elapsed()
        );
        assert!(!h.has_record(&id).await, "{store:?}, {what}");
        assert!(jar.cookie.is_none(), "{store:?}, {what}: cookie removed");
    }
}

async fn rotation_and_quiet_cookies(store: Store) {
    let c = start(store, &[]).await;
    let h = &c.h;
    let mut jar = Jar::default();
    let auth = h.start_login(&mut jar, None).await;
    let before = jar.session_id().unwrap();
    let back = h.decide(&auth, &[("user", "0")]).await;
    let r = h.callback(&mut jar, &back).await;
    assert_eq!(r.location(), Some("/profile"), "{store:?}");
    let after = jar.session_id().unwrap();
    assert_ne!(before, after, "{store:?}: id rotated");
    assert!(
        !h.has_record(&before).await,
        "{store:?}: the old id is dead"
    );
    // nothing changes on plain page views: no Set-Cookie
    for path in ["/profile", "/", "/reports"] {
        let r = h.get(&mut jar, path).await;
        assert_eq!(r.status, StatusCode::OK, "{store:?} {path}");
        assert!(
            r.set_cookies().is_empty(),
            "{store:?} {path}: {:?}",
            r.set_cookies()
        );
    }
    // the cookie is an id, never tokens
    assert!(jar.cookie.as_ref().unwrap().len() < 40);
}

async fn bad_cookies_are_no_session(store: Store) {
    let c = start(store, &[]).await;
    let h = &c.h;
    let huge = format!("sid={}", "A".repeat(12_000));
    for cookie in [
        "sid=AAAAAAAAAAAAAAAAAAAAAA",          // well-formed, unknown
        "sid=not-a-session-id!!",              // malformed
        "sid=",                                // empty
        huge.as_str(),                         // huge
        "sid=%ZZ; sid=AAAAAAAAAAAAAAAAAAAAAA", // doubled and broken
    ] {
        for path in ["/", "/profile", "/login", "/api/auth_status"] {
            let mut jar = Jar {
                cookie: Some(cookie.to_string()),
            };
            let r = if path.starts_with("/api") {
                h.send(
                    &mut jar,
                    axum::http::Request::post(path)
                        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                        .header("sec-fetch-site", "same-origin"),
                    axum::body::Body::empty(),
                )
                .await
            } else {
                h.get(&mut jar, path).await
            };
            assert!(
                !r.status.is_server_error(),
                "{store:?} {path} with {}…: {}",
                &cookie[..20.min(cookie.len())],
                r.status
            );
            for set in r.set_cookies() {
                let value = set.split(';').next().unwrap();
                assert!(
                    !cookie.starts_with(value) || value == "sid=",
                    "{store:?}: the bad cookie was adopted: {set}"
                );
            }
        }
    }
}

async fn idle_timeout(store: Store) {
    let c = start(store, &[("SESSION_IDLE_TIMEOUT_SECS", "2")]).await;
    let h = &c.h;
    let mut jar = Jar::default();
    h.sign_in(&mut jar, None).await;
    let id = jar.session_id().unwrap();
    // activity keeps it alive past the idle timeout
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(700)).await;
        assert_eq!(
            h.get(&mut jar, "/profile").await.status,
            StatusCode::OK,
            "{store:?}"
        );
    }
    tokio::time::sleep(Duration::from_millis(2300)).await;
    let r = h.get(&mut jar, "/profile").await;
    assert_eq!(r.status, StatusCode::FOUND, "{store:?}: idle session ended");
    assert!(
        !h.has_record(&id).await,
        "{store:?}: removed from the store"
    );
}

async fn absolute_lifetime(store: Store) {
    let c = start(store, &[("SESSION_ABSOLUTE_TIMEOUT_SECS", "3")]).await;
    let h = &c.h;
    let mut jar = Jar::default();
    h.sign_in(&mut jar, None).await;
    let mut statuses = vec![];
    for _ in 0..8 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        statuses.push(h.get(&mut jar, "/profile").await.status);
    }
    assert_eq!(statuses.first(), Some(&StatusCode::OK), "{store:?}");
    assert_eq!(
        statuses.last(),
        Some(&StatusCode::FOUND),
        "{store:?}: ended at the absolute limit despite activity"
    );
}

async fn sign_out_deletes(store: Store) {
    let c = start(store, &[]).await;
    let h = &c.h;
    let mut jar = Jar::default();
    h.sign_in(&mut jar, None).await;
    let id = jar.session_id().unwrap();
    let r = h.logout(&mut jar, Some(crate::common::APP_URL)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(!h.has_record(&id).await, "{store:?}");
}

/// Sign in, restart the server (a new app state from the same settings, a new development
/// provider on the same port and state directory), still signed in — and refresh still works.
async fn restart_keeps_sessions(store: Store) {
    let port = crate::common::redis::free_port().to_string();
    let c = start(
        store,
        &[
            ("DEV_PROVIDER_PORT", &port),
            ("DEV_PROVIDER_ACCESS_TOKEN_TTL_SECS", "2"),
            ("AUTH_REFRESH_MARGIN_SECS", "1"),
        ],
    )
    .await;
    let mut jar = Jar::default();
    c.h.sign_in(&mut jar, None).await;
    let settings = (*c.h.state.settings).clone();
    let Ctx { h, redis, _dir, .. } = c;
    // the old server and its provider are gone; the provider's state directory stays
    let signin::testing::TestApp {
        dir: provider_dir,
        provider,
        router,
        state,
        ..
    } = h.into_inner();
    drop((provider, router, state));
    tokio::time::sleep(Duration::from_millis(100)).await;

    let mut fresh = settings.clone();
    fresh.oidc.issuer = None;
    let provider = signin::dev_provider::start(&fresh)
        .await
        .expect("provider restarts on its port");
    let h = Harness::with_settings(settings, Some(provider)).await;
    let page = h.get(&mut jar, "/profile").await;
    assert_eq!(
        page.status,
        StatusCode::OK,
        "{store:?}: still signed in after a restart"
    );
    assert!(page.body.contains("Ada Lovelace"));
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(
        h.get(&mut jar, "/profile").await.status,
        StatusCode::OK,
        "{store:?}: refresh after restart"
    );
    assert!(h.stored(&jar).await.unwrap().last_refreshed_at.is_some());
    drop((redis, provider_dir));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_sqlite() {
    restart_keeps_sessions(Store::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_redis() {
    restart_keeps_sessions(Store::Redis).await
}

/// Stores outlive configuration: a session signed in with one provider or client is not
/// honoured once the app points at another (its refresh token is never sent there); the
/// person signs in again and the record is removed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_of_another_issuer_or_client_are_not_honoured() {
    for change in ["client", "issuer"] {
        let c = start(Store::Sqlite, &[]).await;
        let mut jar = Jar::default();
        c.h.sign_in(&mut jar, None).await;
        assert_eq!(c.h.get(&mut jar, "/profile").await.status, StatusCode::OK);
        let id = jar.session_id().unwrap();

        let mut other = (*c.h.state.settings).clone();
        match change {
            "client" => other.oidc.client_id = "another-client".into(),
            _ => other.oidc.issuer = Some("http://127.0.0.1:9/another-issuer".into()),
        }
        let h = Harness::with_settings(other, None).await;
        let r = h.get(&mut jar, "/profile").await;
        assert_eq!(r.status, StatusCode::FOUND, "{change}: sent to sign-in");
        assert!(
            r.location().unwrap_or_default().starts_with("/login"),
            "{change}: {:?}",
            r.location()
        );
        assert!(!h.has_record(&id).await, "{change}: removed from the store");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_mid_run() {
    let mut c = start(Store::Redis, &[]).await;
    let mut jar = Jar::default();
    c.h.sign_in(&mut jar, None).await;
    assert_eq!(c.h.get(&mut jar, "/profile").await.status, StatusCode::OK);

    c.redis.as_mut().unwrap().stop().await;
    let h = &c.h;
    let home = h.get(&mut jar, "/").await;
    assert_eq!(home.status, StatusCode::OK, "public pages keep working");
    let mut anonymous = Jar::default();
    assert_eq!(h.get(&mut anonymous, "/about").await.status, StatusCode::OK);
    let profile = h.get(&mut jar, "/profile").await;
    assert_eq!(profile.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        profile.body.contains("Sign-in sessions are unavailable"),
        "{}",
        profile.body
    );
    assert!(jar.cookie.is_some(), "the cookie is kept");
    // sign-out cannot finish: explained on the error page, not a silent bounce
    let out = h.logout(&mut jar, Some(crate::common::APP_URL)).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER, "{}", out.body);
    assert_eq!(
        out.location(),
        Some("/auth/error?reason=session_unavailable")
    );
    assert!(jar.cookie.is_some(), "the cookie is kept");
    let login = h.get(&mut anonymous, "/login").await;
    assert_eq!(
        login.location(),
        Some("/auth/error?reason=session_unavailable")
    );
    assert_eq!(
        h.get(&mut anonymous, "/auth/error?reason=session_unavailable")
            .await
            .status,
        StatusCode::SERVICE_UNAVAILABLE
    );

    c.redis.as_mut().unwrap().resume().await;
    let mut recovered = false;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        if c.h.get(&mut jar, "/profile").await.status == StatusCode::OK {
            recovered = true;
            break;
        }
    }
    assert!(recovered, "recovers by itself, still signed in");
    let again = c.h.sign_in(&mut Jar::default(), None).await;
    assert_eq!(
        again.location(),
        Some("/profile"),
        "new sign-ins work again"
    );
    let _ = c.store_url;
}

/// Two processes sharing one SQLite file, each caching the sessions it has seen
/// (`signin::auth::state_cache`): a sign-out on one reaches the other within the watcher's
/// period (`PRAGMA data_version`, every `WATCH_EVERY`) — also for a session the other has just
/// used and cached.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_cache_sees_a_sign_out_by_another_process() {
    use signin::stores::sqlite::WATCH_EVERY;
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite://{}", dir.path().join("shared.db").display());
    let op = MockOp::start(Behaviour::default()).await;
    let a = Harness::mock(&op, &[("SESSION_STORE", &store)]).await;
    let b = Harness::mock(&op, &[("SESSION_STORE", &store)]).await;
    let mut jar = Jar::default();
    a.mock_sign_in(&mut jar).await;
    for h in [&a, &b, &b] {
        assert_eq!(h.get(&mut jar.clone(), "/profile").await.status, 200);
    }
    let origin = a.state.settings.app_origin();
    assert!(
        a.logout(&mut jar.clone(), Some(&origin))
            .await
            .status
            .is_redirection()
    );
    let signed_out = std::time::Instant::now();
    // the process that signed out refuses at once
    let r = a.get(&mut jar.clone(), "/profile").await;
    assert_eq!(r.location(), Some("/login?return_to=/profile"));
    loop {
        let r = b.get(&mut jar.clone(), "/profile").await;
        if r.location() == Some("/login?return_to=/profile") {
            break;
        }
        assert_eq!(r.status, StatusCode::OK);
        // a watched cache has no lifetime of its own: without the watcher b would stay
        // signed in for good; the bound is many periods for a loaded CI machine
        assert!(
            signed_out.elapsed() < WATCH_EVERY * 100,
            "still signed in on the other process after {:?}",
            signed_out.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}
