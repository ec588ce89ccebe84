//! Token lifecycle: refresh before expiry, single flight under concurrency, rotation with and
//! without a grace period, reuse → invalid_grant → clean sign-out, provider down during
//! refresh, a refresh without a new refresh token, and a changed subject.

use std::time::Duration;

use crate::common::{
    Harness, Jar,
    mock_op::{Behaviour, MockOp},
};
use axum::{
    body::Body,
    http::{Request, StatusCode, header},
};

/// The profile server function, as the hydrated app calls it.
async fn api_profile(h: &Harness, jar: &Jar) -> StatusCode {
    let mut jar = jar.clone();
    h.send(
        &mut jar,
        Request::post("/api/profile")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header("sec-fetch-site", "same-origin"),
        Body::empty(),
    )
    .await
    .status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refreshes_shortly_before_expiry() {
    let op = MockOp::start(Behaviour {
        access_ttl: 3,
        ..Default::default()
    })
    .await;
    let h = Harness::mock(&op, &[("AUTH_REFRESH_MARGIN_SECS", "2")]).await;
    let mut jar = Jar::default();
    h.mock_sign_in(&mut jar).await;
    assert_eq!(h.get(&mut jar, "/profile").await.status, StatusCode::OK);
    assert_eq!(op.refresh_calls(), 0, "not yet due");
    // the 2 s margin is capped at half the 3 s lifetime: due after 1.5 s
    tokio::time::sleep(Duration::from_millis(1700)).await;
    let before = h
        .stored(&jar)
        .await
        .unwrap()
        .verified
        .tokens
        .access_expires_at
        .unwrap();
    assert_eq!(api_profile(&h, &jar).await, StatusCode::OK);
    assert_eq!(
        op.refresh_calls(),
        1,
        "refreshed on the first request inside the margin"
    );
    let after = h.stored(&jar).await.unwrap();
    assert!(after.verified.tokens.access_expires_at.unwrap() > before);
    assert!(after.last_refreshed_at.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hundred_concurrent_requests_make_one_refresh_call() {
    let op = MockOp::start(Behaviour {
        access_ttl: 5,
        refresh_delay: Duration::from_millis(300),
        ..Default::default()
    })
    .await;
    let h = Harness::mock(&op, &[("AUTH_REFRESH_MARGIN_SECS", "0")]).await;
    let mut jar = Jar::default();
    h.mock_sign_in(&mut jar).await;
    tokio::time::sleep(Duration::from_millis(5100)).await; // the access token has expired
    let rt_before = h
        .stored(&jar)
        .await
        .unwrap()
        .verified
        .tokens
        .refresh_token
        .unwrap();

    let requests = (0..100).map(|i| {
        let h = &h;
        let jar = jar.clone();
        async move {
            if i % 2 == 0 {
                api_profile(h, &jar).await
            } else {
                let mut jar = jar;
                h.get(&mut jar, "/profile").await.status
            }
        }
    });
    let statuses = futures::future::join_all(requests).await;
    assert!(
        statuses.iter().all(|s| *s == StatusCode::OK),
        "{statuses:?}"
    );
    assert_eq!(op.refresh_calls(), 1, "single flight");
    let after = h.stored(&jar).await.unwrap();
    assert_ne!(
        after.verified.tokens.refresh_token.unwrap(),
        rt_before,
        "the rotated token was saved"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_without_new_refresh_token_keeps_the_old_one() {
    let op = MockOp::start(Behaviour {
        access_ttl: 1,
        refresh_omits_refresh_token: true,
        refresh_sends_id_token: false,
        ..Default::default()
    })
    .await;
    let h = Harness::mock(&op, &[("AUTH_REFRESH_MARGIN_SECS", "0")]).await;
    let mut jar = Jar::default();
    h.mock_sign_in(&mut jar).await;
    let rt = h
        .stored(&jar)
        .await
        .unwrap()
        .verified
        .tokens
        .refresh_token
        .unwrap();
    for round in 1..=2 {
        tokio::time::sleep(Duration::from_millis(1100)).await;
        assert_eq!(api_profile(&h, &jar).await, StatusCode::OK);
        assert_eq!(op.refresh_calls(), round);
        let now = h.stored(&jar).await.unwrap();
        assert_eq!(
            now.verified.tokens.refresh_token.as_ref(),
            Some(&rt),
            "old refresh token kept"
        );
        assert_eq!(now.verified.user.sub, "mock-user-1");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_subject_ends_the_session() {
    let op = MockOp::start(Behaviour {
        access_ttl: 1,
        refresh_changes_sub: true,
        ..Default::default()
    })
    .await;
    let h = Harness::mock(&op, &[("AUTH_REFRESH_MARGIN_SECS", "0")]).await;
    let mut jar = Jar::default();
    h.mock_sign_in(&mut jar).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let r = h.get(&mut jar, "/profile").await;
    assert_eq!(r.status, StatusCode::FOUND);
    assert_eq!(r.location(), Some("/login?return_to=/profile"));
    assert!(h.stored(&jar).await.is_none());
    assert_eq!(op.refresh_calls(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_grant_signs_out_cleanly() {
    let op = MockOp::start(Behaviour {
        access_ttl: 1,
        refresh_invalid_grant: true,
        ..Default::default()
    })
    .await;
    let h = Harness::mock(&op, &[("AUTH_REFRESH_MARGIN_SECS", "0")]).await;
    let mut jar = Jar::default();
    h.mock_sign_in(&mut jar).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(api_profile(&h, &jar).await, StatusCode::UNAUTHORIZED);
    let r = h.get(&mut jar, "/reports").await;
    assert_eq!(
        r.location(),
        Some("/login?return_to=/reports"),
        "next page load goes to sign-in"
    );
    assert_eq!(op.refresh_calls(), 1, "no retry storm");
    for _ in 0..5 {
        h.get(&mut jar, "/profile").await;
    }
    assert_eq!(op.refresh_calls(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_refresh_the_session_ends_with_the_access_token() {
    let op = MockOp::start(Behaviour {
        access_ttl: 1,
        ..Default::default()
    })
    .await;
    let h = Harness::mock(
        &op,
        &[("AUTH_REFRESH", "false"), ("AUTH_REFRESH_MARGIN_SECS", "0")],
    )
    .await;
    let mut jar = Jar::default();
    h.mock_sign_in(&mut jar).await;
    assert_eq!(h.get(&mut jar, "/profile").await.status, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(h.get(&mut jar, "/profile").await.status, StatusCode::FOUND);
    assert_eq!(op.refresh_calls(), 0);
}

/// Okta-like rotation at the development provider: a stolen, already-rotated refresh token
/// used after the grace period revokes the family; the app then gets `invalid_grant` and
/// signs the person out cleanly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reuse_after_grace_revokes_and_signs_out() {
    for grace in ["0", "30"] {
        let h = Harness::dev(&[
            ("DEV_PROVIDER_ACCESS_TOKEN_TTL_SECS", "2"),
            ("DEV_PROVIDER_ROTATION_GRACE_SECS", grace),
            ("AUTH_ROTATION_GRACE_SECS", grace),
            ("AUTH_REFRESH_MARGIN_SECS", "1"),
        ])
        .await;
        let mut jar = Jar::default();
        h.sign_in(&mut jar, None).await;
        let stolen = h
            .stored(&jar)
            .await
            .unwrap()
            .verified
            .tokens
            .refresh_token
            .unwrap();
        tokio::time::sleep(Duration::from_millis(1100)).await;
        assert_eq!(
            h.get(&mut jar, "/profile").await.status,
            StatusCode::OK,
            "grace {grace}"
        );
        assert_eq!(h.provider().stats().refresh_calls, 1);

        // the old token again, straight at the provider
        let token_url = format!("{}/token", h.provider().issuer);
        let redeem = || {
            h.http
                .post(&token_url)
                .basic_auth(
                    &h.provider().client_id,
                    Some(h.provider().client_secret.expose()),
                )
                .form(&[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", stolen.expose()),
                ])
                .send()
        };
        let within = redeem().await.unwrap();
        if grace == "30" {
            assert_eq!(
                within.status(),
                200,
                "inside the grace period the old token still works"
            );
            assert_eq!(
                h.get(&mut jar, "/profile").await.status,
                StatusCode::OK,
                "family intact"
            );
            continue;
        }
        assert_eq!(within.status(), 400, "grace 0: reuse is refused");
        let body: serde_json::Value = within.json().await.unwrap();
        assert_eq!(body["error"], "invalid_grant");
        assert_eq!(h.provider().stats().families_revoked, 1);

        // the app's next refresh fails with invalid_grant → signed out, back to sign-in
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let r = h.get(&mut jar, "/profile").await;
        assert_eq!(r.status, StatusCode::FOUND);
        assert_eq!(r.location(), Some("/login?return_to=/profile"));
        assert!(h.stored(&jar).await.is_none());
        assert!(jar.cookie.is_none(), "cookie removed");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_down_during_refresh() {
    let mut h = Harness::dev(&[
        ("DEV_PROVIDER_ACCESS_TOKEN_TTL_SECS", "3"),
        ("AUTH_REFRESH_MARGIN_SECS", "2"),
    ])
    .await;
    let mut jar = Jar::default();
    h.sign_in(&mut jar, None).await;
    let first = h.stored(&jar).await.unwrap().verified.tokens.access_token;
    h.provider().stop();
    // the 2 s margin is capped at half the 3 s lifetime: due after 1.5 s
    tokio::time::sleep(Duration::from_millis(1700)).await;

    // inside the margin, token still valid: keep serving
    let r = h.get(&mut jar, "/profile").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        h.stored(&jar).await.unwrap().verified.tokens.access_token,
        first
    );

    // expired and the provider still down: a clear "provider unavailable" page, session kept
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let r = h.get(&mut jar, "/profile").await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.body);
    assert!(r.body.contains("cannot be reached"), "{}", r.body);
    assert!(h.stored(&jar).await.is_some(), "the session is not lost");
    let home = h.get(&mut jar, "/").await;
    assert_eq!(home.status, StatusCode::OK, "public pages keep working");

    // provider back: the next request after the back-off refreshes
    h.provider.as_mut().unwrap().restart().await.unwrap();
    let mut ok = false;
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        if h.get(&mut jar, "/profile").await.status == StatusCode::OK {
            ok = true;
            break;
        }
    }
    assert!(ok, "recovers without a restart");
    assert_ne!(
        h.stored(&jar).await.unwrap().verified.tokens.access_token,
        first
    );
}

/// `n` concurrent requests with the jar's cookie (half page loads, half server-function
/// calls); returns their statuses.
async fn burst(h: &Harness, jar: &Jar, n: usize) -> Vec<StatusCode> {
    let requests = (0..n).map(|i| {
        let jar = jar.clone();
        async move {
            if i % 2 == 0 {
                api_profile(h, &jar).await
            } else {
                let mut jar = jar;
                h.get(&mut jar, "/profile").await.status
            }
        }
    });
    futures::future::join_all(requests).await
}

/// Access tokens that live no longer than the refresh margin (30 s by default): each expiry
/// is refreshed exactly once, however many requests arrive, and a freshly refreshed token is
/// not refreshed again. With rotation grace 0 a second refresh would also revoke the family.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn short_lived_tokens_refresh_once_per_expiry() {
    for (ttl, grace) in [
        (2u64, "0"),
        (2, "30"),
        (10, "0"),
        (10, "30"),
        (300, "0"),
        (300, "30"),
    ] {
        let op = MockOp::start(Behaviour {
            access_ttl: ttl,
            refresh_delay: Duration::from_millis(200),
            strict_rotation: grace == "0",
            ..Default::default()
        })
        .await;
        let h = Harness::mock(&op, &[("AUTH_ROTATION_GRACE_SECS", grace)]).await;
        let case = format!("ttl {ttl}s, grace {grace}");
        let mut jar = Jar::default();
        h.mock_sign_in(&mut jar).await;

        let statuses = burst(&h, &jar, 60).await;
        assert!(
            statuses.iter().all(|s| *s == StatusCode::OK),
            "{case}: {statuses:?}"
        );
        assert_eq!(op.refresh_calls(), 0, "{case}: a new token is not due");

        for expiry in 1..=2u64 {
            // into the refresh window: half the lifetime for short tokens, the margin for long ones
            if ttl <= 10 {
                tokio::time::sleep(Duration::from_millis(ttl * 500 + 150)).await;
            } else {
                h.age_access_token(&jar, Duration::from_secs(ttl - 20))
                    .await;
            }
            let statuses = burst(&h, &jar, 100).await;
            assert!(
                statuses.iter().all(|s| *s == StatusCode::OK),
                "{case}: {statuses:?}"
            );
            assert_eq!(
                op.refresh_calls(),
                expiry,
                "{case}: one refresh for expiry {expiry}"
            );
            let statuses = burst(&h, &jar, 40).await;
            assert!(
                statuses.iter().all(|s| *s == StatusCode::OK),
                "{case}: {statuses:?}"
            );
            assert_eq!(
                op.refresh_calls(),
                expiry,
                "{case}: fresh tokens are not refreshed again"
            );
        }
        assert_eq!(op.families_revoked(), 0, "{case}");
        assert!(h.stored(&jar).await.is_some(), "{case}: still signed in");
    }
}

/// A 5xx, a 429 or a timeout from userinfo during a refresh keeps the person signed in with the
/// new tokens (the rotated refresh token is not lost) and the previous claims; userinfo is
/// asked again at the next refresh.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_userinfo_hiccup_during_refresh_keeps_the_session() {
    for hiccup in ["500", "429", "timeout"] {
        let op = MockOp::start(Behaviour {
            access_ttl: 2,
            strict_rotation: true,
            ..Default::default()
        })
        .await;
        let h = Harness::mock(
            &op,
            &[
                ("AUTH_ROTATION_GRACE_SECS", "0"),
                ("OIDC_HTTP_TIMEOUT_SECS", "1"),
            ],
        )
        .await;
        let mut jar = Jar::default();
        h.mock_sign_in(&mut jar).await;
        let before = h.stored(&jar).await.unwrap();
        assert_eq!(before.verified.user.name.as_deref(), Some("Mock Person"));

        op.set(|b| match hiccup {
            "timeout" => b.userinfo_delay = Duration::from_secs(3),
            code => b.userinfo_status = Some(code.parse().unwrap()),
        });
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let r = h.get(&mut jar, "/profile").await;
        assert_eq!(r.status, StatusCode::OK, "{hiccup}: still signed in");
        assert!(
            r.body.contains("Mock Person"),
            "{hiccup}: previous claims kept"
        );
        assert_eq!(op.refresh_calls(), 1, "{hiccup}");
        let after = h.stored(&jar).await.expect("session kept");
        assert_ne!(
            after.verified.tokens.refresh_token, before.verified.tokens.refresh_token,
            "{hiccup}: the rotated refresh token was saved"
        );
        assert!(after.verified.userinfo_stale, "{hiccup}");

        // userinfo back: the next refresh asks again and clears the flag
        op.set(|b| {
            b.userinfo_status = None;
            b.userinfo_delay = Duration::ZERO;
        });
        let calls = op.userinfo_calls();
        tokio::time::sleep(Duration::from_millis(1100)).await;
        assert_eq!(
            h.get(&mut jar, "/profile").await.status,
            StatusCode::OK,
            "{hiccup}"
        );
        assert_eq!(op.refresh_calls(), 2, "{hiccup}: the rotated token worked");
        assert_eq!(op.userinfo_calls(), calls + 1, "{hiccup}");
        assert!(
            !h.stored(&jar).await.unwrap().verified.userinfo_stale,
            "{hiccup}"
        );
        assert_eq!(op.families_revoked(), 0, "{hiccup}");
    }
}

/// Userinfo about another person during a refresh ends the session (as a changed `sub` does).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn userinfo_about_another_subject_ends_the_session() {
    let op = MockOp::start(Behaviour {
        access_ttl: 1,
        ..Default::default()
    })
    .await;
    let h = Harness::mock(&op, &[]).await;
    let mut jar = Jar::default();
    h.mock_sign_in(&mut jar).await;
    op.set(|b| b.userinfo_sub = Some("someone-else".into()));
    tokio::time::sleep(Duration::from_millis(600)).await;
    let r = h.get(&mut jar, "/profile").await;
    assert_eq!(r.location(), Some("/login?return_to=/profile"));
    assert!(h.stored(&jar).await.is_none());
}

/// Two instances (each with its own in-process locks and caches) sharing one Redis, access
/// tokens of 2, 10 and 300 s, rotation grace 0 and 30: requests spread over both instances
/// refresh each expiry exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_on_redis_refresh_once_per_expiry() {
    let redis = crate::common::redis::RedisServer::start().await;
    let url = redis.url();
    let mut cases = Vec::new();
    for ttl in [2u64, 10, 300] {
        for grace in ["0", "30"] {
            cases.push((ttl, grace));
        }
    }
    let runs = cases.into_iter().map(|(ttl, grace)| {
        let url = url.clone();
        async move {
            let op = MockOp::start(Behaviour {
                access_ttl: ttl,
                refresh_delay: Duration::from_millis(200),
                strict_rotation: grace == "0",
                ..Default::default()
            })
            .await;
            let env = [
                ("AUTH_ROTATION_GRACE_SECS", grace),
                ("SESSION_STORE", url.as_str()),
            ];
            let a = Harness::mock(&op, &env).await;
            let b = Harness::mock(&op, &env).await;
            let case = format!("ttl {ttl}s, grace {grace}");
            let mut jar = Jar::default();
            a.mock_sign_in(&mut jar).await;
            for expiry in 1..=2u64 {
                if ttl <= 10 {
                    tokio::time::sleep(Duration::from_millis(ttl * 500 + 150)).await;
                } else {
                    a.age_access_token(&jar, Duration::from_secs(ttl - 20))
                        .await;
                }
                let (x, y) = tokio::join!(burst(&a, &jar, 50), burst(&b, &jar, 50));
                assert!(
                    x.iter().chain(&y).all(|s| *s == StatusCode::OK),
                    "{case}: {x:?} {y:?}"
                );
                assert_eq!(
                    op.refresh_calls(),
                    expiry,
                    "{case}: one refresh for expiry {expiry}"
                );
            }
            assert_eq!(op.families_revoked(), 0, "{case}");
        }
    });
    futures::future::join_all(runs).await;
}

/// OpenID Connect Core §12.2: a refreshed ID token must speak of the same authentication —
/// a moved `auth_time`, a vanished `azp` or a `nonce` other than the original ends the
/// session like any invalid ID token; repeating the original `nonce` is fine.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refreshed_id_token_must_match_the_original() {
    use crate::common::mock_op::RefreshChange;
    for (change, kept) in [
        (RefreshChange::AuthTime, false),
        (RefreshChange::NoAzp, false),
        (RefreshChange::OtherNonce, false),
        (RefreshChange::SameNonce, true),
    ] {
        let op = MockOp::start(Behaviour {
            access_ttl: 1,
            auth_time: Some(chrono::Utc::now().timestamp() - 60),
            refresh_change: Some(change),
            ..Default::default()
        })
        .await;
        let h = Harness::mock(&op, &[("AUTH_REFRESH_MARGIN_SECS", "0")]).await;
        let mut jar = Jar::default();
        h.mock_sign_in(&mut jar).await;
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let r = h.get(&mut jar, "/profile").await;
        assert_eq!(op.refresh_calls(), 1, "{change:?}");
        if kept {
            assert_eq!(r.status, StatusCode::OK, "{change:?}");
            assert!(h.stored(&jar).await.unwrap().last_refreshed_at.is_some());
        } else {
            assert_eq!(
                r.location(),
                Some("/login?return_to=/profile"),
                "{change:?}"
            );
            assert!(h.stored(&jar).await.is_none(), "{change:?}");
        }
    }
}

/// Userinfo describes the person, not the sign-in: it cannot set or overwrite `acr`, `amr`,
/// `auth_time` or other protocol claims.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn userinfo_cannot_claim_a_stronger_sign_in() {
    let op = MockOp::start(Behaviour {
        userinfo_extra: serde_json::json!({
            "acr": "urn:okta:loa:2fa:any",
            "amr": ["mfa", "hwk"],
            "auth_time": 1,
            "iss": "https://evil.example.com",
            "nickname": "Mocky",
        }),
        ..Default::default()
    })
    .await;
    let h = Harness::mock(&op, &[]).await;
    let mut jar = Jar::default();
    h.mock_sign_in(&mut jar).await;
    let claims = h.stored(&jar).await.unwrap().verified.claims.clone();
    assert_eq!(
        claims.get("nickname").and_then(|v| v.as_str()),
        Some("Mocky")
    );
    for protocol in ["acr", "amr", "auth_time"] {
        assert!(claims.get(protocol).is_none(), "{protocol}: {claims:?}");
    }
    assert_eq!(
        claims.get("iss").and_then(|v| v.as_str()),
        Some(op.issuer())
    );
}

/// A request that finds the refresh lock busy while its access token is still valid uses
/// that token at once instead of waiting for the other request's (slow) refresh.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_lock_does_not_hold_up_a_valid_token() {
    let op = MockOp::start(Behaviour {
        access_ttl: 6,
        refresh_delay: Duration::from_secs(3),
        ..Default::default()
    })
    .await;
    // margin 30 s, capped at half the 6 s lifetime: due after 3 s, valid until 6 s
    let h = std::sync::Arc::new(Harness::mock(&op, &[]).await);
    let mut jar = Jar::default();
    h.mock_sign_in(&mut jar).await;
    tokio::time::sleep(Duration::from_millis(3200)).await;
    let first = {
        let (h, mut jar) = (h.clone(), jar.clone());
        tokio::spawn(async move { h.get(&mut jar, "/profile").await.status })
    };
    tokio::time::sleep(Duration::from_millis(300)).await; // the first holds the lock now
    let started = std::time::Instant::now();
    let r = h.get(&mut jar.clone(), "/profile").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "waited {:?} for the other refresh",
        started.elapsed()
    );
    assert_eq!(first.await.unwrap(), StatusCode::OK);
    assert_eq!(op.refresh_calls(), 1);
}

/// A request cancelled while its refresh is in flight (the browser went away, the request
/// timed out) does not cancel the refresh: the rotated tokens are saved all the same, so
/// the next request does not present a refresh token the provider (strict rotation) has
/// already replaced — which would end the grant.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_request_does_not_lose_the_rotated_tokens() {
    let op = MockOp::start(Behaviour {
        access_ttl: 1,
        strict_rotation: true,
        refresh_answer_delay: Duration::from_millis(800),
        ..Default::default()
    })
    .await;
    let h = Harness::mock(
        &op,
        &[
            ("AUTH_REFRESH_MARGIN_SECS", "0"),
            ("AUTH_ROTATION_GRACE_SECS", "0"),
        ],
    )
    .await;
    let mut jar = Jar::default();
    h.mock_sign_in(&mut jar).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let cancelled = tokio::time::timeout(
        Duration::from_millis(300),
        h.get(&mut jar.clone(), "/profile"),
    )
    .await;
    assert!(cancelled.is_err(), "the request was cancelled mid-refresh");
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let s = h.stored(&jar).await.expect("still signed in");
    assert!(
        s.last_refreshed_at.is_some(),
        "the rotated tokens were saved"
    );
    assert_eq!(h.get(&mut jar, "/profile").await.status, StatusCode::OK);
    assert_eq!(op.refresh_calls(), 1);
    assert_eq!(op.families_revoked(), 0);
}
