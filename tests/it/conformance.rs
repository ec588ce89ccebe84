//! The OpenID Foundation's Relying Party certification cases (profiles Basic and Config, plus
//! refresh, RP-initiated and back-channel logout), one test each, named after the case
//! (`rp-id_token-iss` → `rp_id_token_iss`), against the scriptable provider. A case whose ID
//! token must be refused checks that the person is not signed in and sees the error page —
//! never a 500. Run them alone with
//!
//! ```text
//! cargo test --features ssr --test it conformance::
//! ```

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::common::{
    APP_URL, Harness, Jar,
    mock_op::{Behaviour, CLIENT_ID, CLIENT_SECRET, Jwks, MockOp, RawIdToken, Signer},
};

/// Signs in at the mock; the callback's `Location`.
async fn attempt(h: &Harness, jar: &mut Jar) -> String {
    let auth = h.start_login(jar, None).await;
    let res = h.http.get(&auth).send().await.unwrap();
    let back = res.headers()["location"].to_str().unwrap().to_string();
    let r = h.callback(jar, &back).await;
    assert!(
        r.status.is_redirection(),
        "the callback answers with a redirect, got {}",
        r.status
    );
    r.location().unwrap_or_default().to_string()
}

async fn signed_in(h: &Harness, jar: &Jar) -> bool {
    h.get(&mut jar.clone(), "/profile").await.status == StatusCode::OK
}

/// The ID token written claim by claim, with `edit` applied and signed by `signer`.
async fn with_id_token(
    edit: fn(&mut Value, &mut Value),
    signer: Signer,
    jwks: Jwks,
) -> (MockOp, Harness) {
    let op = MockOp::start(Behaviour {
        raw_id_token: Some(RawIdToken { edit, signer }),
        jwks,
        ..Default::default()
    })
    .await;
    let h = Harness::mock(&op, &[]).await;
    (op, h)
}

async fn accepted(edit: fn(&mut Value, &mut Value), signer: Signer, jwks: Jwks) {
    let (_op, h) = with_id_token(edit, signer, jwks).await;
    let mut jar = Jar::default();
    assert_eq!(attempt(&h, &mut jar).await, "/profile");
    assert!(signed_in(&h, &jar).await);
}

async fn refused(edit: fn(&mut Value, &mut Value), signer: Signer, jwks: Jwks) {
    let (_op, h) = with_id_token(edit, signer, jwks).await;
    let mut jar = Jar::default();
    assert_eq!(
        attempt(&h, &mut jar).await,
        "/auth/error?reason=token_invalid"
    );
    assert!(!signed_in(&h, &jar).await);
    let page = h.get(&mut jar, "/auth/error?reason=token_invalid").await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
}

fn unchanged(_: &mut Value, _: &mut Value) {}

// ---------------------------------------------------------------- Basic

/// rp-response_type-code: the authorization request asks for `code` (with PKCE S256, `state`
/// and `nonce`), and a good response signs in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rp_response_type_code() {
    let (op, h) = with_id_token(unchanged, Signer::Good, Jwks::Current).await;
    let mut jar = Jar::default();
    assert_eq!(attempt(&h, &mut jar).await, "/profile");
    let q = op.last_authorize();
    let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(get("response_type"), Some("code"));
    assert_eq!(get("client_id"), Some(CLIENT_ID));
    assert_eq!(get("code_challenge_method"), Some("S256"));
    assert!(get("state").is_some_and(|s| s.len() >= 16));
    assert!(get("nonce").is_some_and(|s| s.len() >= 16));
    assert_eq!(
        get("redirect_uri"),
        Some(format!("{APP_URL}/authorization-code/callback").as_str())
    );
}

/// rp-id_token-iss: an ID token from another issuer is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rp_id_token_iss() {
    refused(
        |_, c| c["iss"] = "https://other.example.com".into(),
        Signer::Good,
        Jwks::Current,
    )
    .await;
}

/// rp-id_token-sub: an ID token without `sub` is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rp_id_token_sub() {
    refused(
        |_, c| {
            c.as_object_mut().unwrap().remove("sub");
        },
        Signer::Good,
        Jwks::Current,
    )
    .await;
}

/// rp-id_token-aud: an ID token for another client is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rp_id_token_aud() {
    refused(
        |_, c| {
            c["aud"] = "another-client".into();
            c.as_object_mut().unwrap().remove("azp");
        },
        Signer::Good,
        Jwks::Current,
    )
    .await;
}

/// rp-id_token-iat: an ID token without `iat` is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rp_id_token_iat() {
    refused(
        |_, c| {
            c.as_object_mut().unwrap().remove("iat");
        },
        Signer::Good,
        Jwks::Current,
    )
    .await;
}

/// rp-id_token-kid-absent-single-jwks: no `kid`, one key published: that key verifies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rp_id_token_kid_absent_single_jwks() {
    accepted(
        |h, _| h["kid"] = Value::Null,
        Signer::Good,
        Jwks::CurrentWithoutKid,
    )
    .await;
}

/// rp-id_token-kid-absent-multiple-jwks: no `kid`, several keys published. The case allows
/// refusing or trying every key; either way the answer is a clean one, never an error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rp_id_token_kid_absent_multiple_jwks() {
    let (_op, h) = with_id_token(
        |h, _| h["kid"] = Value::Null,
        Signer::Good,
        Jwks::TwoWithoutKid,
    )
    .await;
    let mut jar = Jar::default();
    let landed = attempt(&h, &mut jar).await;
    match landed.as_str() {
        "/profile" => assert!(signed_in(&h, &jar).await),
        "/auth/error?reason=token_invalid" => assert!(!signed_in(&h, &jar).await),
        other => panic!("unexpected outcome {other}"),
    }
}

/// rp-id_token-sig-rs256: an RS256-signed ID token signs in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rp_id_token_sig_rs256() {
    accepted(unchanged, Signer::Good, Jwks::Current).await;
}

/// rp-id_token-sig-none: an unsigned ID token (`alg: none`) is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rp_id_token_sig_none() {
    refused(unchanged, Signer::Unsigned, Jwks::Current).await;
}

/// rp-id_token-bad-sig-rs256: an RS256 signature by a key the provider never published is
/// refused (and an HS256 one made with the client secret too).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rp_id_token_bad_sig_rs256() {
    refused(unchanged, Signer::OtherKey, Jwks::Current).await;
    refused(unchanged, Signer::ClientSecretHs256, Jwks::Current).await;
}

/// rp-userinfo-bad-sub-claim: userinfo about another `sub` is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rp_userinfo_bad_sub_claim() {
    let op = MockOp::start(Behaviour {
        userinfo_sub: Some("someone-else".into()),
        ..Default::default()
    })
    .await;
    let h = Harness::mock(&op, &[]).await;
    let mut jar = Jar::default();
    assert_eq!(
        attempt(&h, &mut jar).await,
        "/auth/error?reason=token_invalid"
    );
    assert!(!signed_in(&h, &jar).await);
}

/// rp-nonce-invalid: an ID token whose `nonce` is not the one sent is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rp_nonce_invalid() {
    refused(
        |_, c| c["nonce"] = "not-the-nonce-we-sent".into(),
        Signer::Good,
        Jwks::Current,
    )
    .await;
    refused(
        |_, c| {
            c.as_object_mut().unwrap().remove("nonce");
        },
        Signer::Good,
        Jwks::Current,
    )
    .await;
}

/// rp-scope-userinfo-claims: `profile` and `email` are requested, and the userinfo claims
/// they release reach the profile page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rp_scope_userinfo_claims() {
    let op = MockOp::start(Behaviour::default()).await;
    let h = Harness::mock(&op, &[]).await;
    let mut jar = Jar::default();
    assert_eq!(attempt(&h, &mut jar).await, "/profile");
    let q = op.last_authorize();
    let scope = q
        .iter()
        .find(|(n, _)| n == "scope")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    for s in ["openid", "profile", "email"] {
        assert!(scope.split(' ').any(|x| x == s), "{s} in {scope}");
    }
    let page = h.get(&mut jar, "/profile").await;
    assert!(page.body.contains("Mock Person"), "name from userinfo");
    assert!(page.body.contains("fr-FR"), "locale from userinfo");
}

/// rp-token_endpoint-client_secret_basic: the code is redeemed with HTTP Basic client
/// authentication (and the PKCE verifier), the secret never in the form.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rp_token_endpoint_client_secret_basic() {
    use base64::Engine;
    let op = MockOp::start(Behaviour::default()).await;
    let h = Harness::mock(&op, &[]).await;
    let mut jar = Jar::default();
    assert_eq!(attempt(&h, &mut jar).await, "/profile");
    let (auth, form) = op.last_token_request().unwrap();
    let expected =
        base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"));
    assert_eq!(auth, Some(format!("Basic {expected}")));
    assert!(!form.iter().any(|(k, _)| k == "client_secret"));
    assert!(
        form.iter()
            .any(|(k, v)| k == "grant_type" && v == "authorization_code")
    );
    assert!(
        form.iter()
            .any(|(k, v)| k == "code_verifier" && v.len() >= 43)
    );
}

// ---------------------------------------------------------------- Config

/// rp-discovery-openid-configuration: the provider is found through its discovery document
/// (endpoints from there, nothing configured but the issuer).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rp_discovery_openid_configuration() {
    let op = MockOp::start(Behaviour::default()).await;
    let h = Harness::mock(&op, &[]).await;
    let mut jar = Jar::default();
    let auth = h.start_login(&mut jar, None).await;
    assert!(
        auth.starts_with(&format!("{}/authorize?", op.issuer())),
        "{auth}"
    );
    assert_eq!(
        h.state
            .oidc()
            .calls
            .discovery
            .load(std::sync::atomic::Ordering::SeqCst),
        1
    );
}

/// rp-discovery-jwks_uri-keys: the keys come from `jwks_uri` and verify the ID token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rp_discovery_jwks_uri_keys() {
    accepted(unchanged, Signer::Good, Jwks::Current).await;
}

/// rp-discovery-issuer-not-matching-config: a discovery document naming another issuer is
/// not used — sign-in answers "provider unavailable", nothing is signed in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rp_discovery_issuer_not_matching_config() {
    let op = MockOp::start(Behaviour {
        discovery_issuer: Some("https://impostor.example.com".into()),
        ..Default::default()
    })
    .await;
    let h = Harness::mock(&op, &[]).await;
    let r = h.get(&mut Jar::default(), "/login").await;
    assert_eq!(
        r.location(),
        Some("/auth/error?reason=provider_unavailable")
    );
}

/// rp-key-rotation-op-sign-key: the provider starts signing with a new key (published in its
/// JWKS) after this app cached the old set; the app fetches the keys again and signs in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rp_key_rotation_op_sign_key() {
    let op = MockOp::start(Behaviour::default()).await;
    let h = Harness::mock(&op, &[]).await;
    let mut jar = Jar::default();
    assert_eq!(attempt(&h, &mut jar).await, "/profile", "old key cached");
    // "just before signing": the new key appears, and the very next token uses it
    op.set(|b| {
        b.jwks = Jwks::Rotated;
        b.raw_id_token = Some(RawIdToken {
            edit: unchanged,
            signer: Signer::Rotated,
        });
    });
    tokio::time::sleep(Duration::from_millis(1100)).await; // past the forced-refetch floor
    let mut jar = Jar::default();
    assert_eq!(attempt(&h, &mut jar).await, "/profile", "new key fetched");
    assert!(signed_in(&h, &jar).await);
}

// ---------------------------------------------------------------- sessions

/// rp-refresh-token: the refresh token is redeemed (grant `refresh_token`, client
/// authenticated) when the access token is due, and the new tokens are used.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rp_refresh_token() {
    let op = MockOp::start(Behaviour {
        access_ttl: 2,
        ..Default::default()
    })
    .await;
    let h = Harness::mock(&op, &[]).await;
    let mut jar = Jar::default();
    assert_eq!(attempt(&h, &mut jar).await, "/profile");
    let before = h
        .stored(&jar)
        .await
        .unwrap()
        .verified
        .tokens
        .access_token
        .clone();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(signed_in(&h, &jar).await);
    assert_eq!(op.refresh_calls(), 1);
    let (auth, form) = op.last_token_request().unwrap();
    assert!(auth.is_some_and(|a| a.starts_with("Basic ")));
    assert!(
        form.iter()
            .any(|(k, v)| k == "grant_type" && v == "refresh_token")
    );
    let after = h
        .stored(&jar)
        .await
        .unwrap()
        .verified
        .tokens
        .access_token
        .clone();
    assert_ne!(before.expose(), after.expose());
}

/// rp-init-logout: sign-out sends the browser to the provider's `end_session_endpoint` with
/// `id_token_hint`, `client_id` and `post_logout_redirect_uri`, and ends the app session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rp_init_logout() {
    let op = MockOp::start(Behaviour::default()).await;
    let h = Harness::mock(&op, &[]).await;
    let mut jar = Jar::default();
    assert_eq!(attempt(&h, &mut jar).await, "/profile");
    let id_token = h
        .stored(&jar)
        .await
        .unwrap()
        .verified
        .tokens
        .id_token
        .clone();
    let r = h.logout(&mut jar, Some(APP_URL)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let to = url::Url::parse(r.location().unwrap()).unwrap();
    assert_eq!(
        format!("{}{}", to.origin().ascii_serialization(), to.path()),
        format!("{}/logout", op.issuer())
    );
    let q: Vec<(String, String)> = to.query_pairs().into_owned().collect();
    let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(get("id_token_hint"), Some(id_token.expose()));
    assert_eq!(get("client_id"), Some(CLIENT_ID));
    assert_eq!(
        get("post_logout_redirect_uri"),
        Some(format!("{APP_URL}/").as_str())
    );
    assert!(!signed_in(&h, &jar).await);
}

/// rp-backchannel-rpinitlogout: a logout token from the provider ends the session it names.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rp_backchannel_rpinitlogout() {
    let op = MockOp::start(Behaviour::default()).await;
    let h = Harness::mock(&op, &[]).await;
    let mut jar = Jar::default();
    assert_eq!(attempt(&h, &mut jar).await, "/profile");
    let now = chrono::Utc::now().timestamp();
    let token = op.jwt(
        json!({"typ": "logout+jwt"}),
        json!({
            "iss": op.issuer(), "aud": CLIENT_ID, "iat": now, "exp": now + 120,
            "jti": format!("jti-{}", rand::random::<u64>()),
            "events": { "http://schemas.openid.net/event/backchannel-logout": {} },
            "sid": "mock-sid-1",
        }),
        Signer::Good,
    );
    let r = h
        .send(
            &mut Jar::default(),
            axum::http::Request::post("/backchannel-logout")
                .header("content-type", "application/x-www-form-urlencoded"),
            axum::body::Body::from(format!("logout_token={}", crate::common::urlencode(&token))),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(!signed_in(&h, &jar).await);
}
