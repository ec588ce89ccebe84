//! `GET /api/me` for API clients (issue 15): a JWT access token checked against the
//! provider's keys — each failure its own case — or the session cookie; 401/403 with RFC 6750
//! challenges, never a redirect.

use axum::{
    body::Body,
    http::{Request, StatusCode},
};
use serde_json::{Value, json};

use crate::common::{
    Harness, Jar, Resp,
    mock_op::{Behaviour, MockOp, Signer},
};

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// A valid access token's header and claims for the mock provider.
fn access_token(op: &MockOp) -> (Value, Value) {
    (
        json!({"typ": "at+jwt"}),
        json!({
            "iss": op.issuer(),
            "aud": "api://default",
            "sub": "mock-user-1",
            "iat": now(),
            "exp": now() + 300,
            "scp": ["openid", "profile"],
            "cid": crate::common::mock_op::CLIENT_ID,
            "email": "mock-user-1@mock.test",
        }),
    )
}

async fn me(h: &Harness, authorization: Option<&str>, jar: &mut Jar) -> Resp {
    let mut req = Request::get("/api/me");
    if let Some(a) = authorization {
        req = req.header("authorization", a);
    }
    h.send(jar, req, Body::empty()).await
}

async fn with_token(h: &Harness, token: &str) -> Resp {
    me(h, Some(&format!("Bearer {token}")), &mut Jar::default()).await
}

/// The challenge carries `error` (when there were credentials) and nothing is a redirect.
fn challenged(r: &Resp, status: StatusCode, error: Option<&str>) {
    assert_eq!(r.status, status, "{}", r.body);
    assert!(r.location().is_none(), "never a redirect");
    let challenge = r.header("www-authenticate");
    assert!(challenge.starts_with("Bearer realm="), "{challenge}");
    match error {
        Some(e) => {
            assert!(challenge.contains(&format!("error=\"{e}\"")), "{challenge}");
            assert!(r.body.contains(e), "{}", r.body);
        }
        None => assert!(!challenge.contains("error="), "{challenge}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bearer_rule_is_enforced() {
    let op = MockOp::start(Behaviour::default()).await;
    // sign-in required everywhere: the API still answers 401, not a redirect
    let h = Harness::mock(&op, &[("AUTH_REQUIRE_AUTH_EVERYWHERE", "true")]).await;

    let (header, claims) = access_token(&op);
    let r = with_token(&h, &op.jwt(header.clone(), claims.clone(), Signer::Good)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let body: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(body["sub"], "mock-user-1");
    assert_eq!(body["via"], "bearer");
    assert_eq!(body["email"], "mock-user-1@mock.test");

    let edit = |f: &dyn Fn(&mut serde_json::Map<String, Value>)| {
        let mut c = claims.clone();
        f(c.as_object_mut().unwrap());
        c
    };
    for (case, claims) in [
        (
            "wrong audience",
            edit(&|c| {
                c.insert("aud".into(), json!("api://other"));
            }),
        ),
        (
            "wrong issuer",
            edit(&|c| {
                c.insert("iss".into(), json!("https://evil.example"));
            }),
        ),
        (
            "expired",
            edit(&|c| {
                c.insert("exp".into(), json!(now() - 3600));
            }),
        ),
        (
            "not yet valid",
            edit(&|c| {
                c.insert("nbf".into(), json!(now() + 3600));
            }),
        ),
        (
            "no exp",
            edit(&|c| {
                c.remove("exp");
            }),
        ),
        (
            "no sub",
            edit(&|c| {
                c.remove("sub");
            }),
        ),
        (
            "another app's token",
            edit(&|c| {
                c.insert("cid".into(), json!("another-app"));
            }),
        ),
        (
            "an ID token (no client, the client id as audience)",
            edit(&|c| {
                c.remove("cid");
                c.insert("aud".into(), json!(crate::common::mock_op::CLIENT_ID));
            }),
        ),
    ] {
        let r = with_token(&h, &op.jwt(header.clone(), claims, Signer::Good)).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{case}");
        challenged(&r, StatusCode::UNAUTHORIZED, Some("invalid_token"));
    }
    for (case, signer) in [
        ("bad signature", Signer::OtherKey),
        ("alg none", Signer::Unsigned),
        ("HS256 with the client secret", Signer::ClientSecretHs256),
    ] {
        let r = with_token(&h, &op.jwt(header.clone(), claims.clone(), signer)).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{case}");
        challenged(&r, StatusCode::UNAUTHORIZED, Some("invalid_token"));
    }
    let r = with_token(
        &h,
        &op.jwt(json!({"typ": "logout+jwt"}), claims.clone(), Signer::Good),
    )
    .await;
    challenged(&r, StatusCode::UNAUTHORIZED, Some("invalid_token"));
    // a made-up key id on an implausible token: refused at once, no wait for a key refetch
    let started = std::time::Instant::now();
    let r = with_token(
        &h,
        &op.jwt(
            json!({"kid": "made-up"}),
            edit(&|c| {
                c.insert("aud".into(), json!("api://other"));
            }),
            Signer::Good,
        ),
    )
    .await;
    challenged(&r, StatusCode::UNAUTHORIZED, Some("invalid_token"));
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    let r = with_token(&h, "not-a-jwt").await;
    challenged(&r, StatusCode::UNAUTHORIZED, Some("invalid_token"));

    // a valid token without the route's scope
    let no_profile = edit(&|c| {
        c.insert("scp".into(), json!(["openid"]));
    });
    let r = with_token(&h, &op.jwt(header.clone(), no_profile, Signer::Good)).await;
    challenged(&r, StatusCode::FORBIDDEN, Some("insufficient_scope"));
    assert!(r.header("www-authenticate").contains("scope=\"profile\""));

    // no credentials: a bare challenge; another scheme: invalid_request
    let r = me(&h, None, &mut Jar::default()).await;
    challenged(&r, StatusCode::UNAUTHORIZED, None);
    let r = me(&h, Some("Basic bW9jazpzZWNyZXQ="), &mut Jar::default()).await;
    challenged(&r, StatusCode::UNAUTHORIZED, Some("invalid_request"));
}

/// The app's own pages ask with the session cookie.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_cookie_works_too() {
    let h = Harness::dev(&[]).await;
    let mut jar = Jar::default();
    h.sign_in(&mut jar, None).await;
    let r = me(&h, None, &mut jar).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let body: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(body["via"], "session");
    assert_eq!(body["name"], "Ada Lovelace");
    let stored = h.stored(&jar).await.unwrap();
    assert!(
        !r.body
            .contains(stored.verified.tokens.access_token.expose())
    );
}
