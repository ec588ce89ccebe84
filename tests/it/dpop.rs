//! DPoP (issue 16; RFC 9449) against the development provider, which behaves as Okta with
//! "Require DPoP header": a nonce is always asked for first, tokens are bound to the proof's
//! key, a bound refresh needs the same key, and userinfo takes a bound token only as
//! `Authorization: DPoP` with a proof naming it.

use std::{sync::Arc, time::Duration};

use axum::http::StatusCode;
use signin::signing_key::SigningKey;

use crate::common::{
    Harness, Jar,
    mock_op::{Behaviour, MockOp},
};

fn key_file(dir: &std::path::Path, name: &str) -> String {
    let path = dir.join(name);
    let (_, pem) = SigningKey::generate(None).unwrap();
    std::fs::write(&path, pem).unwrap();
    path.display().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_bound_to_the_key_and_used_with_proofs() {
    let dir = tempfile::tempdir().unwrap();
    let key = key_file(dir.path(), "dpop.pem");
    // short-lived tokens: a refresh of a bound family, and again, as the provider's extremes
    let h = Harness::dev(&[
        ("OIDC_DPOP", "true"),
        ("OIDC_DPOP_KEY_FILE", &key),
        ("DEV_PROVIDER_ACCESS_TOKEN_TTL_SECS", "2"),
        ("DEV_PROVIDER_ROTATION_GRACE_SECS", "0"),
        ("AUTH_ROTATION_GRACE_SECS", "0"),
    ])
    .await;
    let mut jar = Jar::default();
    assert_eq!(
        h.sign_in(&mut jar, Some("/profile")).await.location(),
        Some("/profile")
    );
    let stored = h.stored(&jar).await.unwrap();
    assert!(stored.verified.tokens.dpop_bound, "token_type DPoP");
    // userinfo answered through DPoP: its claims are there
    assert!(stored.verified.claims.contains_key("email_verified"));
    let stats = h.provider().stats();
    // the token endpoint and userinfo each asked for a nonce once, and were asked again
    assert_eq!(stats.dpop_nonce_challenges, 2, "{stats:?}");
    assert_eq!(stats.dpop_proofs, 2, "{stats:?}");

    // refreshes (bound: the same key must sign), each with the nonce it already has
    for round in 1..=2 {
        tokio::time::sleep(Duration::from_millis(2100)).await;
        let r = h.get(&mut jar, "/profile").await;
        assert_eq!(r.status, StatusCode::OK, "round {round}");
        let stats = h.provider().stats();
        assert_eq!(stats.refresh_calls, round, "{stats:?}");
        assert!(h.stored(&jar).await.unwrap().verified.tokens.dpop_bound);
    }
    assert_eq!(
        h.provider().stats().dpop_nonce_challenges,
        2,
        "no new challenge"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_dpop_tokens_stay_bearer_tokens() {
    let h = Harness::dev(&[]).await;
    let mut jar = Jar::default();
    h.sign_in(&mut jar, None).await;
    assert!(!h.stored(&jar).await.unwrap().verified.tokens.dpop_bound);
    let stats = h.provider().stats();
    assert_eq!((stats.dpop_proofs, stats.dpop_nonce_challenges), (0, 0));
}

/// Two instances sharing a store must share the DPoP key: a token one instance had bound is
/// refreshed by the other. With another key the provider refuses the refresh, and the person
/// is asked to sign in again — never shown an error page or left with a broken session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_sharing_a_store_share_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let key = key_file(dir.path(), "dpop.pem");
    let store = format!("sqlite://{}", dir.path().join("sessions.db").display());
    let a = Harness::dev(&[
        ("OIDC_DPOP", "true"),
        ("OIDC_DPOP_KEY_FILE", &key),
        ("SESSION_STORE", &store),
    ])
    .await;
    let same = Harness::with_settings((*a.state.settings).clone(), None).await;
    let mut other_settings = (*a.state.settings).clone();
    let other_key = key_file(dir.path(), "other.pem");
    other_settings.oidc.dpop_key = Some(Arc::new(
        SigningKey::from_file(std::path::Path::new(&other_key), None).unwrap(),
    ));
    let other = Harness::with_settings(other_settings, None).await;

    let mut jar = Jar::default();
    a.sign_in(&mut jar, Some("/profile")).await;
    same.age_access_token(&jar, Duration::from_secs(24 * 3600))
        .await;
    assert_eq!(same.get(&mut jar, "/profile").await.status, StatusCode::OK);
    assert_eq!(a.provider().stats().refresh_calls, 1);

    other
        .age_access_token(&jar, Duration::from_secs(24 * 3600))
        .await;
    let r = other.get(&mut jar, "/profile").await;
    assert_eq!(
        a.provider().stats().refresh_calls,
        1,
        "refused before redeeming"
    );
    assert_eq!(r.status, StatusCode::FOUND, "sign in again");
    assert!(
        r.location().unwrap_or_default().starts_with("/login"),
        "{:?}",
        r.location()
    );
}

/// A provider that asks for a nonce again and again gets the request twice, then the person
/// gets the error page — never a loop, never a panic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_that_keeps_asking_for_a_nonce_gets_two_tries() {
    let op = MockOp::start(Behaviour {
        dpop_nonce_always: true,
        ..Behaviour::default()
    })
    .await;
    let h = Harness::mock(&op, &[("OIDC_DPOP", "true")]).await;
    let mut jar = Jar::default();
    let authorize = h.start_login(&mut jar, None).await;
    let res = h.http.get(&authorize).send().await.unwrap();
    let back = res.headers()["location"].to_str().unwrap().to_string();
    let r = h.callback(&mut jar, &back).await;
    // the provider's refusal, explained on the error page
    assert_eq!(r.location(), Some("/auth/error?reason=code_rejected"));
    assert_eq!(op.token_calls(), 2);
}
