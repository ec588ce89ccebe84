//! Sign-outs the provider starts: OpenID Connect Back-Channel Logout (`POST
//! /backchannel-logout`) and Okta Universal Logout (`POST /global-token-revocation`). Every
//! rule is its own refused case that leaves the session alive; valid requests end every
//! matching session, also across two instances sharing SQLite or Redis.

use crate::common::{
    APP_URL, Harness, Jar, Resp,
    mock_op::{Behaviour, CLIENT_ID, MockOp, Signer},
    redis::RedisServer,
    urlencode,
};
use axum::{
    body::Body,
    http::{Request, StatusCode, header},
};
use serde_json::{Value, json};

const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn jti() -> String {
    format!("jti-{}", rand::random::<u64>())
}

/// A valid logout token's header and claims for the mock's person and provider session.
fn logout_claims(op: &MockOp) -> (Value, Value) {
    (
        json!({"typ": "logout+jwt"}),
        json!({
            "iss": op.issuer(),
            "aud": CLIENT_ID,
            "iat": now(),
            "exp": now() + 120,
            "jti": jti(),
            "events": { EVENT: {} },
            "sub": "mock-user-1",
            "sid": "mock-sid-1",
        }),
    )
}

async fn backchannel(h: &Harness, body: String) -> Resp {
    h.send(
        &mut Jar::default(),
        Request::post("/backchannel-logout")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded"),
        Body::from(body),
    )
    .await
}

async fn send_logout_token(h: &Harness, token: &str) -> Resp {
    backchannel(h, format!("logout_token={}", urlencode(token))).await
}

/// A valid back-channel logout for the mock's person (every session of `mock-user-1`'s
/// provider session), sent to `h`.
pub async fn send_valid_logout_token(h: &Harness, op: &MockOp) -> Resp {
    let (header, claims) = logout_claims(op);
    send_logout_token(h, &op.jwt(header, claims, Signer::Good)).await
}

async fn signed_in(h: &Harness, jar: &Jar) -> bool {
    let mut jar = jar.clone();
    h.get(&mut jar, "/profile").await.status == StatusCode::OK
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_logout_token_rule_is_enforced() {
    let op = MockOp::start(Behaviour::default()).await;
    let h = Harness::mock(&op, &[]).await;
    let mut jar = Jar::default();
    h.mock_sign_in(&mut jar).await;

    type Tweak = fn(&MockOp, &mut Value, &mut Value, &mut Signer);
    let cases: Vec<(&str, Tweak)> = vec![
        ("signed with another key", |_, _, _, s| {
            *s = Signer::OtherKey
        }),
        ("alg none", |_, _, _, s| *s = Signer::Unsigned),
        ("HS256 with the client secret", |_, _, _, s| {
            *s = Signer::ClientSecretHs256
        }),
        ("unknown kid", |_, h, _, _| h["kid"] = "rotated-away".into()),
        ("typ JWT", |_, h, _, _| h["typ"] = "JWT".into()),
        ("crit header", |_, h, _, _| h["crit"] = json!(["exp"])),
        ("wrong iss", |_, _, c, _| {
            c["iss"] = "https://evil.example.com".into()
        }),
        ("iss missing", |_, _, c, _| {
            drop(c.as_object_mut().unwrap().remove("iss"))
        }),
        ("wrong aud", |_, _, c, _| c["aud"] = "someone-else".into()),
        ("aud missing", |_, _, c, _| {
            drop(c.as_object_mut().unwrap().remove("aud"))
        }),
        ("iat missing", |_, _, c, _| {
            drop(c.as_object_mut().unwrap().remove("iat"))
        }),
        ("iat old", |_, _, c, _| c["iat"] = (now() - 3600).into()),
        ("iat in the future", |_, _, c, _| {
            c["iat"] = (now() + 3600).into()
        }),
        ("expired", |_, _, c, _| c["exp"] = (now() - 3600).into()),
        ("exp not a number", |_, _, c, _| c["exp"] = "soon".into()),
        ("jti missing", |_, _, c, _| {
            drop(c.as_object_mut().unwrap().remove("jti"))
        }),
        ("events missing", |_, _, c, _| {
            drop(c.as_object_mut().unwrap().remove("events"))
        }),
        ("event member not an object", |_, _, c, _| {
            c["events"] = json!({ EVENT: "yes" })
        }),
        ("another event", |_, _, c, _| {
            c["events"] = json!({"http://schemas.openid.net/event/other": {}})
        }),
        ("neither sid nor sub", |_, _, c, _| {
            let m = c.as_object_mut().unwrap();
            m.remove("sid");
            m.remove("sub");
        }),
        ("nonce present", |_, _, c, _| c["nonce"] = "n".into()),
    ];
    for (name, tweak) in cases {
        let (mut header, mut claims) = logout_claims(&op);
        let mut signer = Signer::Good;
        tweak(&op, &mut header, &mut claims, &mut signer);
        let r = send_logout_token(&h, &op.jwt(header, claims, signer)).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{name}: {}", r.body);
        let body: Value = serde_json::from_str(&r.body).expect("a JSON error");
        assert_eq!(body["error"], "invalid_request", "{name}");
        assert!(signed_in(&h, &jar).await, "{name}: nothing changed");
    }
    for (name, body) in [
        ("no logout_token", String::new()),
        ("not a JWT", "logout_token=hello".to_string()),
        ("three garbage parts", "logout_token=a.b.c".to_string()),
    ] {
        let r = backchannel(&h, body).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{name}");
        assert!(signed_in(&h, &jar).await, "{name}");
    }
    let r = backchannel(&h, format!("logout_token={}", "a".repeat(64 * 1024))).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);

    // typ may be absent; exp may be absent
    let (_, mut claims) = logout_claims(&op);
    claims.as_object_mut().unwrap().remove("exp");
    let token = op.jwt(json!({}), claims, Signer::Good);
    let r = send_logout_token(&h, &token).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.headers[header::CACHE_CONTROL], "no-store");
    assert!(!signed_in(&h, &jar).await, "the session ended");
    assert!(h.stored(&jar).await.is_none());

    // the same token again is a replay
    let r = send_logout_token(&h, &token).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("used before"), "{}", r.body);
}

/// `sid` ends the sessions of that provider session; `sub` alone ends all of the person's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_by_sid_and_by_sub() {
    let op = MockOp::start(Behaviour::default()).await;
    let h = Harness::mock(&op, &[]).await;
    let (mut a, mut b, mut other) = (Jar::default(), Jar::default(), Jar::default());
    h.mock_sign_in(&mut a).await;
    op.set(|b| b.sid = Some("mock-sid-2".into()));
    h.mock_sign_in(&mut b).await;
    op.set(|b| {
        b.sub = "mock-user-2".into();
        b.sid = Some("mock-sid-3".into());
    });
    h.mock_sign_in(&mut other).await;

    let (header, mut claims) = logout_claims(&op);
    claims.as_object_mut().unwrap().remove("sub"); // sid only: mock-sid-1
    let r = send_logout_token(&h, &op.jwt(header, claims, Signer::Good)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(!signed_in(&h, &a).await, "sid 1 ended");
    assert!(
        signed_in(&h, &b).await,
        "another provider session of the person stays"
    );

    let (header, mut claims) = logout_claims(&op);
    claims.as_object_mut().unwrap().remove("sid"); // every session of mock-user-1
    let r = send_logout_token(&h, &op.jwt(header, claims, Signer::Good)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        !signed_in(&h, &b).await,
        "all of the person's sessions ended"
    );
    assert!(signed_in(&h, &other).await, "someone else stays signed in");
    assert!(
        op.wait_revoked(2, std::time::Duration::from_secs(5))
            .await
            .len()
            >= 2,
        "ended sessions' tokens are revoked"
    );
}

/// Two instances sharing SQLite, and two sharing Redis: a back-channel logout received by
/// one ends the session on the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_reaches_every_instance() {
    let redis = RedisServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let sqlite = format!("sqlite://{}", dir.path().join("shared.db").display());
    for store in [sqlite, redis.url()] {
        let op = MockOp::start(Behaviour::default()).await;
        let a = Harness::mock(&op, &[("SESSION_STORE", &store)]).await;
        let b = Harness::mock(&op, &[("SESSION_STORE", &store)]).await;
        let mut jar = Jar::default();
        a.mock_sign_in(&mut jar).await;
        assert!(signed_in(&b, &jar).await, "{store}: shared");
        let (header, claims) = logout_claims(&op);
        let r = send_logout_token(&b, &op.jwt(header.clone(), claims.clone(), Signer::Good)).await;
        assert_eq!(r.status, StatusCode::OK, "{store}");
        assert!(
            !signed_in(&a, &jar).await,
            "{store}: ended on the other instance"
        );
        let r = send_logout_token(&a, &op.jwt(header, claims, Signer::Good)).await;
        assert_eq!(
            r.status,
            StatusCode::BAD_REQUEST,
            "{store}: replay seen by the other instance"
        );
    }
}

/// Every instance caches the sessions it has seen (`signin::auth::state_cache`): a sign-out,
/// a back-channel logout and a Universal Logout received by one instance end the session on
/// the other too — with SQLite within the change watcher's period, with Redis as soon as
/// client tracking's invalidation arrives — and at once on the one that received it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_end_reaches_the_other_instances_cache() {
    let redis = RedisServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let sqlite = format!("sqlite://{}", dir.path().join("shared.db").display());
    for store in [sqlite, redis.url()] {
        for end in ["sign-out", "back-channel", "universal logout"] {
            let case = format!("{store}, {end}");
            let op = MockOp::start(Behaviour::default()).await;
            let a = Harness::mock(&op, &[("SESSION_STORE", &store)]).await;
            let b = Harness::mock(&op, &[("SESSION_STORE", &store)]).await;
            let mut jar = Jar::default();
            a.mock_sign_in(&mut jar).await;
            for h in [&a, &a, &b, &b] {
                assert!(signed_in(h, &jar).await, "{case}: signed in everywhere");
            }
            match end {
                "sign-out" => {
                    let origin = a.state.settings.app_origin();
                    let r = a.logout(&mut jar.clone(), Some(&origin)).await;
                    assert!(r.status.is_redirection(), "{case}");
                }
                "back-channel" => {
                    assert_eq!(
                        send_valid_logout_token(&a, &op).await.status,
                        StatusCode::OK
                    )
                }
                _ => assert_eq!(
                    send_valid_universal_logout(&a, &op).await.status,
                    StatusCode::NO_CONTENT,
                    "{case}"
                ),
            }
            let ended = std::time::Instant::now();
            assert!(
                !signed_in(&a, &jar).await,
                "{case}: at once where it arrived"
            );
            // many watcher periods for SQLite (its cache has no lifetime of its own); for
            // Redis below TRACKED_TTL, the lifetime that would hide broken client tracking
            let within = if case.starts_with("sqlite") {
                std::time::Duration::from_secs(2)
            } else {
                signin::auth::state_cache::TRACKED_TTL / 2
            };
            while signed_in(&b, &jar).await {
                assert!(
                    ended.elapsed() < within,
                    "{case}: still signed in on the other instance after {:?}",
                    ended.elapsed()
                );
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            }
        }
    }
}

fn revocation_claims(op: &MockOp) -> (Value, Value) {
    (
        json!({"typ": "global-token-revocation+jwt"}),
        json!({
            "iss": op.issuer(),
            "aud": format!("{APP_URL}/global-token-revocation"),
            "iat": now(),
            "exp": now() + 300,
            "jti": jti(),
        }),
    )
}

/// A valid Universal Logout of the mock's person (by email), sent to `h`.
pub async fn send_valid_universal_logout(h: &Harness, op: &MockOp) -> Resp {
    let (header, claims) = revocation_claims(op);
    revoke_globally(h, Some(&op.jwt(header, claims, Signer::Good)), BY_EMAIL).await
}

async fn revoke_globally(h: &Harness, bearer: Option<&str>, body: &str) -> Resp {
    let mut req =
        Request::post("/global-token-revocation").header(header::CONTENT_TYPE, "application/json");
    if let Some(b) = bearer {
        req = req.header(header::AUTHORIZATION, format!("Bearer {b}"));
    }
    h.send(&mut Jar::default(), req, Body::from(body.to_string()))
        .await
}

const BY_EMAIL: &str = r#"{"sub_id":{"format":"email","email":"Mock-User-1@mock.test"}}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_universal_logout_rule_is_enforced() {
    let op = MockOp::start(Behaviour::default()).await;
    let h = Harness::mock(&op, &[]).await;
    let mut jar = Jar::default();
    h.mock_sign_in(&mut jar).await;

    type Tweak = fn(&mut Value, &mut Value, &mut Signer);
    let cases: Vec<(&str, Tweak)> = vec![
        ("signed with another key", |_, _, s| *s = Signer::OtherKey),
        ("alg none", |_, _, s| *s = Signer::Unsigned),
        ("HS256", |_, _, s| *s = Signer::ClientSecretHs256),
        ("RS384 (RS256 only)", |h, _, _| h["alg"] = "RS384".into()),
        ("typ missing", |h, _, _| {
            drop(h.as_object_mut().unwrap().remove("typ"))
        }),
        ("typ JWT", |h, _, _| h["typ"] = "JWT".into()),
        ("wrong iss", |_, c, _| {
            c["iss"] = "https://evil.example.com".into()
        }),
        ("wrong aud", |_, c, _| {
            c["aud"] = "https://app.test/other".into()
        }),
        ("expired", |_, c, _| c["exp"] = (now() - 3600).into()),
        ("exp missing", |_, c, _| {
            drop(c.as_object_mut().unwrap().remove("exp"))
        }),
        ("iat missing", |_, c, _| {
            drop(c.as_object_mut().unwrap().remove("iat"))
        }),
        ("iat in the future", |_, c, _| {
            c["iat"] = (now() + 3600).into()
        }),
        ("jti missing", |_, c, _| {
            drop(c.as_object_mut().unwrap().remove("jti"))
        }),
    ];
    for (name, tweak) in cases {
        let (mut header, mut claims) = revocation_claims(&op);
        let mut signer = Signer::Good;
        tweak(&mut header, &mut claims, &mut signer);
        let r = revoke_globally(&h, Some(&op.jwt(header, claims, signer)), BY_EMAIL).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{name}: {}", r.body);
        assert!(signed_in(&h, &jar).await, "{name}: nothing changed");
    }
    let r = revoke_globally(&h, None, BY_EMAIL).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "no Authorization");

    let token = || {
        let (header, claims) = revocation_claims(&op);
        op.jwt(header, claims, Signer::Good)
    };
    for body in [
        "not json",
        "{}",
        r#"{"sub_id":{"format":"email"}}"#,
        r#"{"sub_id":{"format":"phone","phone":"1"}}"#,
        r#"{"sub_id":{"format":"iss_sub","sub":"x"}}"#,
    ] {
        let r = revoke_globally(&h, Some(&token()), body).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}");
        assert!(signed_in(&h, &jar).await, "{body}");
    }
    let r = revoke_globally(
        &h,
        Some(&token()),
        r#"{"sub_id":{"format":"email","email":"nobody@mock.test"}}"#,
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "unknown person");

    let valid = token();
    let r = revoke_globally(&h, Some(&valid), BY_EMAIL).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    assert!(!signed_in(&h, &jar).await, "the session ended");
    let r = revoke_globally(&h, Some(&valid), BY_EMAIL).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "replay");
}

/// Universal Logout by `iss_sub` ends every session of the person in every browser and
/// revokes their refresh tokens; when the provider will not revoke, the answer is 422.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn universal_logout_ends_every_session_and_revokes() {
    let op = MockOp::start(Behaviour::default()).await;
    let h = Harness::mock(&op, &[]).await;
    let (mut a, mut b) = (Jar::default(), Jar::default());
    h.mock_sign_in(&mut a).await;
    h.mock_sign_in(&mut b).await;
    let rts: Vec<String> = [&a, &b]
        .iter()
        .map(|j| futures::executor::block_on(h.stored(j)))
        .map(|s| {
            s.unwrap()
                .verified
                .tokens
                .refresh_token
                .unwrap()
                .expose()
                .to_string()
        })
        .collect();
    let (header, claims) = revocation_claims(&op);
    let body = json!({"sub_id": {"format": "iss_sub", "iss": op.issuer(), "sub": "mock-user-1"}});
    let r = revoke_globally(
        &h,
        Some(&op.jwt(header, claims, Signer::Good)),
        &body.to_string(),
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    assert!(!signed_in(&h, &a).await && !signed_in(&h, &b).await);
    let revoked = op.revoked();
    for rt in &rts {
        assert!(
            revoked.contains(rt),
            "refresh token revoked before answering"
        );
    }

    op.set(|b| b.revocation_status = Some(503));
    h.mock_sign_in(&mut a).await;
    let (header, claims) = revocation_claims(&op);
    let r = revoke_globally(&h, Some(&op.jwt(header, claims, Signer::Good)), BY_EMAIL).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(!signed_in(&h, &a).await, "the session ended all the same");
}

/// The value of the first `name="<field>" value="…"` input on a page.
fn field(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page.find(&marker).expect(name) + marker.len();
    page[start..].split('"').next().unwrap().to_string()
}

/// The development provider's sessions page.
async fn sessions_page(h: &Harness, provider: &str) -> String {
    let r = h.http.get(format!("{provider}/sessions")).send().await;
    r.unwrap().text().await.unwrap()
}

/// The development provider with zero set-up: revocation at sign-out, and its sessions page
/// signing people out of the app by back-channel logout and by Universal Logout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_development_provider_shows_every_sign_out() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let app_url = format!("http://{}", listener.local_addr().unwrap());
    let h = Harness::dev(&[("APP_URL", &app_url)]).await;
    let router = h.router.clone();
    tokio::spawn(async move { axum::serve(listener, router).await });
    let provider = h.provider().issuer.clone();

    // sign-out revokes at the provider
    let mut jar = Jar::default();
    let auth = h.start_login(&mut jar, None).await;
    let back = h.decide(&auth, &[("user", "0")]).await;
    h.callback(&mut jar, &back).await;
    h.logout(&mut jar, Some(&app_url)).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while h.provider().stats().revocations < 1 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // the refresh token's revocation ends its family, the access token with it (the second
    // call is then for a token the provider no longer knows, which RFC 7009 ignores)
    assert_eq!(h.provider().stats().revocations, 1);
    assert_eq!(
        h.provider().stats().families_revoked,
        1,
        "the token family ended"
    );

    // "Sign out" on the provider's sessions page: back-channel logout
    let (mut a, mut b) = (Jar::default(), Jar::default());
    for jar in [&mut a, &mut b] {
        let auth = h.start_login(jar, None).await;
        let back = h.decide(&auth, &[("user", "0")]).await;
        assert_eq!(h.callback(jar, &back).await.status, StatusCode::SEE_OTHER);
    }
    let page = sessions_page(&h, &provider).await;
    assert_eq!(page.matches("data-testid=\"session\"").count(), 2, "{page}");
    let r = h
        .http
        .post(format!("{provider}/sessions/logout"))
        .form(&[("sid", field(&page, "sid"))])
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["location"], "/sessions?done=logout");
    assert_eq!(h.provider().stats().backchannel_logouts_sent, 1);
    assert_eq!(
        [signed_in(&h, &a).await, signed_in(&h, &b).await]
            .iter()
            .filter(|s| **s)
            .count(),
        1,
        "exactly the session of that provider session ended"
    );

    // "Universal Logout": every session of the person
    let page = sessions_page(&h, &provider).await;
    let r = h
        .http
        .post(format!("{provider}/sessions/universal-logout"))
        .form(&[("sub", field(&page, "sub"))])
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["location"], "/sessions?done=universal");
    assert!(!signed_in(&h, &a).await && !signed_in(&h, &b).await);
    assert_eq!(h.provider().stats().universal_logouts_sent, 1);
    let page = sessions_page(&h, &provider).await;
    assert!(page.contains("Nobody is signed in"), "{page}");
}

/// The issuer's keys, once older than their lifetime, are used at once while one background
/// fetch renews them (a slow provider does not hold up its own logout call), and kept when
/// the renewal fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_logout_keys_are_renewed_in_the_background() {
    use std::time::{Duration, Instant};
    let op = MockOp::start(Behaviour::default()).await;
    let h = Harness::mock(&op, &[]).await;
    let (mut a, mut b) = (Jar::default(), Jar::default());
    h.mock_sign_in(&mut a).await;
    op.set(|b| b.sid = Some("mock-sid-2".into()));
    h.mock_sign_in(&mut b).await;
    // the keys are fetched and cached by a first (refused) token
    let (header, mut claims) = logout_claims(&op);
    claims["aud"] = "someone-else".into();
    let r = send_logout_token(&h, &op.jwt(header, claims, Signer::Good)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    h.state
        .provider_logout
        .0
        .age_keys(Duration::from_secs(2 * 3600));
    op.set(|b| b.discovery_delay = Duration::from_secs(3));
    let (header, mut claims) = logout_claims(&op);
    claims.as_object_mut().unwrap().remove("sub");
    let started = Instant::now();
    let r = send_logout_token(&h, &op.jwt(header, claims, Signer::Good)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(!signed_in(&h, &a).await);

    // a failed renewal keeps the last good keys
    tokio::time::sleep(Duration::from_millis(3200)).await;
    h.state
        .provider_logout
        .0
        .age_keys(Duration::from_secs(2 * 3600));
    op.set(|b| {
        b.discovery_delay = Duration::ZERO;
        b.discovery_fails = true;
    });
    let (header, mut claims) = logout_claims(&op);
    claims["sid"] = "mock-sid-2".into();
    claims.as_object_mut().unwrap().remove("sub");
    let _ = send_logout_token(&h, &op.jwt(header.clone(), claims.clone(), Signer::Good)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    claims["jti"] = jti().into();
    let r = send_logout_token(&h, &op.jwt(header, claims, Signer::Good)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(!signed_in(&h, &b).await);
}

/// A provider whose issuer ends with `/` (Auth0: `https://TENANT.auth0.com/`), configured with
/// or without the `/`: discovery accepts the issuer it announces, the ID token's `iss` is
/// checked against exactly that, and its back-channel logout tokens end the session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_issuer_ending_with_a_slash_signs_in_and_out() {
    let op = MockOp::start(Behaviour {
        issuer_trailing_slash: true,
        ..Default::default()
    })
    .await;
    assert!(op.issuer().ends_with('/'));
    // RFC 9207: the redirect back names the issuer exactly as it is
    let iss = op.issuer().to_string();
    op.set(|b| {
        b.response_iss = Some(iss);
        b.advertise_response_iss = true;
    });
    for configured in [
        op.issuer().to_string(),
        op.issuer().trim_end_matches('/').to_string(),
    ] {
        let h = Harness::mock(&op, &[("OIDC_ISSUER", configured.as_str())]).await;
        let mut jar = Jar::default();
        h.mock_sign_in(&mut jar).await;
        assert!(signed_in(&h, &jar).await, "configured as {configured}");
        assert_eq!(
            send_valid_logout_token(&h, &op).await.status,
            StatusCode::OK
        );
        assert!(!signed_in(&h, &jar).await, "configured as {configured}");
    }
}
