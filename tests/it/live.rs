//! The live session channel (`GET /auth/events`, issue 14): every cause of a session's end
//! reaches its open tabs within 2 s — on every store, and on another instance sharing Redis —
//! refreshes are pushed with the new profile, and the channel is bounded, marked for proxies,
//! never activity, and carries no token.

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use signin::testing::{EventStream, Next};

use crate::common::{
    APP_URL, Harness, Jar,
    mock_op::{Behaviour, MockOp},
    redis::RedisServer,
};

/// How soon the tabs must hear of a cause (the promise).
const PROMPT: Duration = Duration::from_secs(2);

#[derive(Clone, Copy, Debug)]
enum Store {
    Memory,
    Sqlite,
    Redis,
}

async fn store_url(store: Store, dir: &tempfile::TempDir) -> (String, Option<RedisServer>) {
    match store {
        Store::Memory => ("memory".into(), None),
        Store::Sqlite => (
            format!("sqlite://{}", dir.path().join("sessions.db").display()),
            None,
        ),
        Store::Redis => {
            let r = RedisServer::start().await;
            (r.url(), Some(r))
        }
    }
}

/// Opens a channel, which says `ping` at once (the browser then knows it is up).
async fn open(h: &Harness, jar: &Jar) -> EventStream {
    let mut events = h.open_events(jar).await.unwrap();
    assert_eq!(events.status, StatusCode::OK);
    events.expect("ping", PROMPT).await.unwrap();
    events
}

/// The stream says `ended` with `why` within [`PROMPT`], then closes.
async fn expect_ended(events: &mut EventStream, why: &str) {
    let ended = events.expect("ended", PROMPT).await.unwrap();
    let (reason, words) = ended.data.split_once('\n').unwrap();
    assert_eq!(reason, why);
    assert!(words.starts_with("You have been signed out"), "{words}");
    assert_eq!(
        events.next(PROMPT).await,
        Next::Closed,
        "closed after `ended`"
    );
}

/// Two tabs of one person: sign out in a third → both hear it at once, and the channels close.
async fn sign_out_reaches_every_tab(store: Store) {
    let dir = tempfile::tempdir().unwrap();
    let (url, _redis) = store_url(store, &dir).await;
    let h = Harness::dev(&[("SESSION_STORE", &url)]).await;
    let mut jar = Jar::default();
    h.sign_in(&mut jar, None).await;
    let (mut one, mut two) = (open(&h, &jar).await, open(&h, &jar).await);
    let mut someone_else = Jar::default();
    h.sign_in(&mut someone_else, None).await;
    let mut theirs = open(&h, &someone_else).await;

    let started = Instant::now();
    let out = h.logout(&mut jar, Some(APP_URL)).await;
    assert!(out.status.is_redirection(), "{}", out.status);
    expect_ended(&mut one, "signed_out").await;
    expect_ended(&mut two, "signed_out").await;
    assert!(
        started.elapsed() < PROMPT,
        "{store:?}: {:?}",
        started.elapsed()
    );
    assert_eq!(
        theirs.next(Duration::from_millis(300)).await,
        Next::TimedOut,
        "{store:?}: another person's tab hears nothing"
    );
}

mod sign_out_reaches_every_tab {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn memory() {
        super::sign_out_reaches_every_tab(super::Store::Memory).await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::sign_out_reaches_every_tab(super::Store::Sqlite).await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn redis() {
        super::sign_out_reaches_every_tab(super::Store::Redis).await
    }
}

/// Two instances on one Redis: a tab open on B hears a sign-out on A, a back-channel logout
/// received by A, and a refresh made by A (with the new profile, read from the store).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_redis() {
    let redis = RedisServer::start().await;
    let op = MockOp::start(Behaviour {
        access_ttl: 3600,
        ..Behaviour::default()
    })
    .await;
    let env = [("SESSION_STORE", redis.url())];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let a = Harness::mock(&op, &env).await;
    let b = Harness::mock(&op, &env).await;

    // a refresh on A is pushed to the tab on B
    let mut jar = Jar::default();
    a.mock_sign_in(&mut jar).await;
    let mut on_b = open(&b, &jar).await;
    let before = a.stored(&jar).await.unwrap();
    a.age_access_token(&jar, Duration::from_secs(3600)).await;
    let started = Instant::now();
    assert_eq!(a.get(&mut jar, "/profile").await.status, StatusCode::OK);
    let refreshed = on_b.expect("refreshed", PROMPT).await.unwrap();
    assert!(started.elapsed() < PROMPT);
    let profile: signin::auth::types::Profile = serde_json::from_str(&refreshed.data).unwrap();
    let after = a.stored(&jar).await.unwrap();
    assert_ne!(
        after.verified.tokens.access_token,
        before.verified.tokens.access_token
    );
    assert_eq!(profile.last_refreshed_at, after.last_refreshed_at);
    assert_eq!(profile.user.sub, "mock-user-1");
    for token in [
        after.verified.tokens.access_token.expose(),
        after.verified.tokens.id_token.expose(),
    ] {
        assert!(!refreshed.data.contains(token), "no token in the channel");
    }

    // a sign-out on A ends the tab on B
    let started = Instant::now();
    let out = a.logout(&mut jar, Some(APP_URL)).await;
    assert!(out.status.is_redirection(), "{}", out.status);
    expect_ended(&mut on_b, "signed_out").await;
    assert!(started.elapsed() < PROMPT);

    // a back-channel logout received by A ends the tab on B
    let mut jar = Jar::default();
    b.mock_sign_in(&mut jar).await;
    let mut on_b = open(&b, &jar).await;
    let started = Instant::now();
    let r = crate::provider_logout::send_valid_logout_token(&a, &op).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    expect_ended(&mut on_b, "provider").await;
    assert!(started.elapsed() < PROMPT);

    // and so does a Universal Logout received by A
    let mut jar = Jar::default();
    b.mock_sign_in(&mut jar).await;
    let mut on_b = open(&b, &jar).await;
    let started = Instant::now();
    let r = crate::provider_logout::send_valid_universal_logout(&a, &op).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    expect_ended(&mut on_b, "provider").await;
    assert!(started.elapsed() < PROMPT);
}

/// The absolute lifetime ends a session in use, and its open tab hears it on time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_absolute_lifetime_ends_the_tabs() {
    let h = Harness::dev(&[("SESSION_ABSOLUTE_TIMEOUT_SECS", "4")]).await;
    let mut jar = Jar::default();
    h.sign_in(&mut jar, None).await;
    let end = h.stored(&jar).await.unwrap().signed_in_at + 4;
    let mut tab = open(&h, &jar).await;
    let ended = tab.expect("ended", Duration::from_secs(8)).await.unwrap();
    let now = chrono::Utc::now().timestamp();
    assert!(ended.data.starts_with("expired\n"), "{}", ended.data);
    assert!(
        now >= end && now <= end + 2,
        "ended {now}, lifetime ends {end}"
    );
}

/// A stopping process ends its open channels (so the graceful stop need not wait for them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_closes_the_channels() {
    let h = Harness::dev(&[]).await;
    let mut jar = Jar::default();
    h.sign_in(&mut jar, None).await;
    let mut tab = open(&h, &jar).await;
    h.state.keeper.events.close_all();
    assert_eq!(tab.next(PROMPT).await, Next::Closed);
    assert_eq!(h.state.keeper.events.open_streams(), 0);
}

/// The provider refuses the refresh for good: the tab hears `refresh_failed`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_refresh_ends_the_tabs() {
    let op = MockOp::start(Behaviour {
        access_ttl: 3600,
        ..Behaviour::default()
    })
    .await;
    let h = Harness::mock(&op, &[]).await;
    let mut jar = Jar::default();
    h.mock_sign_in(&mut jar).await;
    let mut tab = open(&h, &jar).await;
    op.set(|b| b.refresh_invalid_grant = true);
    h.age_access_token(&jar, Duration::from_secs(3600)).await;
    // the watcher finds the token due at its next look (the heartbeat), or a request does
    let mut other = jar.clone();
    h.get(&mut other, "/").await;
    expect_ended(&mut tab, "refresh_failed").await;
}

/// With access tokens of 2 s and no request at all, the open tab gets each refresh pushed
/// (the session's watcher refreshes on time), and the idle timeout still ends the session:
/// the channel is not activity.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refreshes_are_pushed_and_the_channel_is_not_activity() {
    let h = Harness::dev(&[
        ("DEV_PROVIDER_ACCESS_TOKEN_TTL_SECS", "2"),
        ("AUTH_REFRESH_MARGIN_SECS", "1"),
        ("SESSION_IDLE_TIMEOUT_SECS", "6"),
        ("EVENTS_HEARTBEAT_SECS", "1"),
    ])
    .await;
    let mut jar = Jar::default();
    h.sign_in(&mut jar, None).await;
    let signed_in = h.stored(&jar).await.unwrap();
    let mut tab = open(&h, &jar).await;
    let mut expiries = Vec::new();
    let mut pings = 0;
    let ended = loop {
        match tab.next(Duration::from_secs(10)).await {
            Next::Event(e) if e.event == "refreshed" => {
                let p: signin::auth::types::Profile = serde_json::from_str(&e.data).unwrap();
                expiries.push(p.access_token_expires_at);
            }
            Next::Event(e) if e.event == "ping" => pings += 1,
            Next::Event(e) if e.event == "ended" => break e,
            other => panic!("{other:?} (refreshes {expiries:?})"),
        }
    };
    let idle_end = signed_in.last_seen_at + 6;
    let now = chrono::Utc::now().timestamp();
    assert!(ended.data.starts_with("expired\n"), "{}", ended.data);
    assert!(
        now >= idle_end && now <= idle_end + 2,
        "ended {now}, idle end {idle_end}"
    );
    assert!(expiries.len() >= 2, "refreshes pushed: {expiries:?}");
    assert!(
        expiries.windows(2).all(|w| w[0] < w[1]) || expiries.len() < 2,
        "{expiries:?}"
    );
    assert!(pings >= 2, "heartbeats: {pings}");
    assert_eq!(tab.next(PROMPT).await, Next::Closed);
    assert!(h.stored(&jar).await.is_none(), "the session is gone");
}

/// Limits: a few channels per session, a cap per process, room again when one closes; the
/// response is marked for proxies; no session → `ended` at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_channel_is_bounded_and_marked_for_proxies() {
    let h = Harness::dev(&[("EVENTS_PER_SESSION", "2"), ("EVENTS_MAX_STREAMS", "3")]).await;
    let (mut a, mut b) = (Jar::default(), Jar::default());
    h.sign_in(&mut a, None).await;
    h.sign_in(&mut b, None).await;

    let a1 = open(&h, &a).await;
    let headers = &a1.headers;
    assert_eq!(headers["content-type"], "text/event-stream");
    let cache = headers["cache-control"].to_str().unwrap();
    assert!(
        cache.contains("no-store") && cache.contains("no-transform"),
        "{cache}"
    );
    assert_eq!(headers["x-accel-buffering"], "no");
    assert!(headers.get("content-encoding").is_none());
    assert!(
        headers.get("set-cookie").is_none(),
        "the channel writes no cookie"
    );

    let _a2 = open(&h, &a).await;
    let refused = h.open_events(&a).await.unwrap();
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS, "per session");
    assert!(refused.headers.contains_key("retry-after"));
    let _b1 = open(&h, &b).await;
    let refused = h.open_events(&b).await.unwrap();
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS, "per process");
    drop(a1);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let _b2 = open(&h, &b).await;
    assert_eq!(h.state.keeper.events.open_streams(), 3);

    // no session (or an unknown one): told at once, and closed
    let mut nobody = h.open_events(&Jar::default()).await.unwrap();
    expect_ended(&mut nobody, "signed_out").await;
    let forged = Jar {
        cookie: Some("sid=AAAAAAAAAAAAAAAAAAAAAA".into()),
    };
    let mut forged = h.open_events(&forged).await.unwrap();
    expect_ended(&mut forged, "signed_out").await;
}

/// A session that vanishes from the store with no notice (another process sharing a SQLite
/// file, a store's own expiry): the session's watcher notices at its next heartbeat and the
/// tab hears it — it is never left looking signed in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_gone_without_a_notice_is_noticed_at_the_heartbeat() {
    let h = Harness::dev(&[("EVENTS_HEARTBEAT_SECS", "1")]).await;
    let mut jar = Jar::default();
    h.sign_in(&mut jar, None).await;
    let mut tab = open(&h, &jar).await;
    let id: tower_sessions::session::Id = jar.session_id().unwrap().parse().unwrap();
    h.state.keeper.store.delete(&id).await.unwrap();
    let ended = tab
        .expect("ended", Duration::from_secs(1) + PROMPT)
        .await
        .unwrap();
    assert!(ended.data.starts_with("signed_out\n"), "{}", ended.data);
}
