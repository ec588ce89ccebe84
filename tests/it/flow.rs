//! The whole sign-in flow in-process (no browser): login → the development provider's
//! authorize page → callback → profile → refresh → logout, plus the callback's error cases,
//! return paths, cookies, CSRF on sign-out and a provider that is down.

use std::time::Duration;

use crate::common::{APP_URL, Harness, Jar, settings};
use axum::http::StatusCode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_profile_refresh_logout() {
    let h = Harness::dev(&[
        ("DEV_PROVIDER_ACCESS_TOKEN_TTL_SECS", "3"),
        ("AUTH_REFRESH_MARGIN_SECS", "1"),
        // the classic authorization request, whose parameters this test reads in the URL
        // (pushed ones are `par.rs`'s)
        ("OIDC_PAR", "never"),
    ])
    .await;
    let mut jar = Jar::default();

    // a protected page sends a signed-out visitor to sign-in, remembering where they were
    let r = h.get(&mut jar, "/profile").await;
    assert_eq!(r.status, StatusCode::FOUND);
    assert_eq!(r.location(), Some("/login?return_to=/profile"));

    let auth = h.start_login(&mut jar, Some("/profile")).await;
    let provider = h.provider().issuer.clone();
    assert!(
        auth.starts_with(&format!("{provider}/authorize?")),
        "{auth}"
    );
    for param in [
        "response_type=code",
        "code_challenge_method=S256",
        "code_challenge=",
        "state=",
        "nonce=",
        "offline_access",
    ] {
        assert!(auth.contains(param), "{param} in {auth}");
    }
    let anonymous_id = jar
        .session_id()
        .expect("a session holds the pending sign-in");

    let back = h.decide(&auth, &[("user", "0")]).await;
    assert!(back.starts_with(&format!("{APP_URL}/authorization-code/callback?code=")));
    let r = h.callback(&mut jar, &back).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location(), Some("/profile"));
    let signed_in_id = jar.session_id().expect("session cookie");
    assert_ne!(
        anonymous_id, signed_in_id,
        "the session id is rotated at sign-in"
    );
    assert!(
        !h.has_record(&anonymous_id).await,
        "the pre-sign-in id is dead in the store"
    );

    let page = h.get(&mut jar, "/profile").await;
    assert_eq!(page.status, StatusCode::OK);
    for text in [
        "Ada Lovelace",
        "ada@example.com",
        "data-claim=\"groups\"",
        "data-claim=\"sid\"",
        "Admins",
    ] {
        assert!(page.body.contains(text), "{text} in the profile page");
    }
    assert!(!page.body.contains("data-claim=\"nonce\""));

    // no token in the page or its hydration data
    let stored = h.stored(&jar).await.expect("signed in");
    let tokens = &stored.verified.tokens;
    for secret in [
        tokens.access_token.expose(),
        tokens.id_token.expose(),
        tokens.refresh_token.as_ref().unwrap().expose(),
    ] {
        assert!(!page.body.contains(secret), "a token leaked into the page");
    }
    let first_access = tokens.access_token.expose().to_string();

    // wait for the access token to come within the refresh margin; the next request refreshes
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let page = h.get(&mut jar, "/profile").await;
    assert_eq!(page.status, StatusCode::OK);
    let stored = h.stored(&jar).await.expect("still signed in");
    assert_ne!(
        stored.verified.tokens.access_token.expose(),
        first_access,
        "refreshed"
    );
    assert!(stored.last_refreshed_at.is_some());
    assert_eq!(h.provider().stats().refresh_calls, 1);
    assert!(page.body.contains("Ada Lovelace"));

    // sign out: session gone here, RP-initiated logout at the provider
    let r = h.logout(&mut jar, Some(APP_URL)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let end = r.location().unwrap().to_string();
    assert!(end.starts_with(&format!("{provider}/logout?")), "{end}");
    assert!(end.contains("id_token_hint="));
    assert!(end.contains(&format!(
        "post_logout_redirect_uri={}",
        crate::common::urlencode(&format!("{APP_URL}/")).replace('/', "%2F")
    )));
    assert!(jar.cookie.is_none(), "the cookie is removed");
    let ended = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(&end)
        .send()
        .await
        .unwrap();
    assert_eq!(ended.status(), 303);
    assert_eq!(ended.headers()["location"], format!("{APP_URL}/").as_str());
    assert_eq!(h.provider().stats().end_session_calls, 1);
    assert_eq!(
        h.provider().stats().families_revoked,
        1,
        "the provider ended its session too"
    );
    assert!(
        h.stored(&Jar {
            cookie: Some(format!("sid={signed_in_id}"))
        })
        .await
        .is_none()
    );
    let r = h.get(&mut jar, "/profile").await;
    assert_eq!(r.status, StatusCode::FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callback_problems_are_friendly_pages() {
    // the classic authorization request: the attacker below reads its state in the URL
    let h = Harness::dev(&[("OIDC_PAR", "never")]).await;

    // the person clicks Deny
    let mut jar = Jar::default();
    let auth = h.start_login(&mut jar, None).await;
    let back = h.decide(&auth, &[("action", "deny")]).await;
    assert!(back.contains("error=access_denied"));
    let r = h.callback(&mut jar, &back).await;
    assert_eq!(r.location(), Some("/auth/error?reason=access_denied"));
    let page = h.get(&mut jar, "/auth/error?reason=access_denied").await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(page.body.contains("Sign-in was cancelled"));
    assert!(page.body.contains("href=\"/login\""), "a way back");

    // a replayed callback (state already used)
    let mut jar = Jar::default();
    let auth = h.start_login(&mut jar, None).await;
    let back = h.decide(&auth, &[("user", "1")]).await;
    assert_eq!(
        h.callback(&mut jar, &back).await.location(),
        Some("/profile")
    );
    let mut other = Jar::default();
    let r = h.callback(&mut other, &back).await;
    assert_eq!(
        r.location(),
        Some("/auth/error?reason=state_mismatch"),
        "a callback from another browser"
    );
    let r = h.callback(&mut jar, &back).await;
    assert_eq!(
        r.location(),
        Some("/profile"),
        "already signed in: harmless"
    );

    // the right state with a code the provider refuses (replayed code)
    let mut jar = Jar::default();
    let auth = h.start_login(&mut jar, None).await;
    let back = h.decide(&auth, &[("user", "0")]).await;
    let mut attacker = Jar::default();
    let auth2 = h.start_login(&mut attacker, None).await;
    let state2 = auth2
        .split("state=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    let code = back
        .split("code=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    assert_eq!(
        h.callback(&mut jar, &back).await.location(),
        Some("/profile")
    );
    let iss = crate::common::urlencode(&h.provider().issuer).replace('/', "%2F");
    let replay =
        format!("{APP_URL}/authorization-code/callback?code={code}&state={state2}&iss={iss}");
    let r = h.callback(&mut attacker, &replay).await;
    assert_eq!(r.location(), Some("/auth/error?reason=code_rejected"));
    let page = h
        .get(&mut attacker, "/auth/error?reason=code_rejected")
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);

    // garbage
    for path in [
        "/authorization-code/callback",
        "/authorization-code/callback?state=",
        "/authorization-code/callback?code=x&state=%00%ff",
        "/authorization-code/callback?error=server_error&error_description=%3Cscript%3E",
        "/authorization-code/callback?code=a&code=b&state=c",
    ] {
        let r = h.get(&mut Jar::default(), path).await;
        assert!(
            r.status.is_redirection() || r.status.is_client_error(),
            "{path}: {r:?}"
        );
        if let Some(l) = r.location() {
            assert!(l.starts_with("/auth/error?reason="), "{path} → {l}");
        }
    }
    let page = h
        .get(
            &mut Jar::default(),
            "/auth/error?reason=%3Cscript%3Ealert(1)",
        )
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(!page.body.contains("<script>alert"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn return_to_is_same_origin_only() {
    let h = Harness::dev(&[]).await;
    for (asked, landed) in [
        ("/reports?tab=week", "/reports?tab=week"),
        ("https://evil.example.com/", "/profile"),
        ("//evil.example.com/x", "/profile"),
        ("/\\evil.example.com", "/profile"),
        ("javascript:alert(1)", "/profile"),
    ] {
        let mut jar = Jar::default();
        let r = h.sign_in(&mut jar, Some(asked)).await;
        assert_eq!(r.location(), Some(landed), "return_to={asked}");
    }
    // already signed in: /login goes straight to the return path
    let mut jar = Jar::default();
    h.sign_in(&mut jar, None).await;
    let r = h.get(&mut jar, "/login?return_to=/reports").await;
    assert_eq!(r.location(), Some("/reports"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_out_rejects_foreign_origins() {
    let h = Harness::dev(&[]).await;
    let mut jar = Jar::default();
    h.sign_in(&mut jar, None).await;
    for origin in [Some("https://evil.example.com"), Some("null"), None] {
        let r = h.logout(&mut jar, origin).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "origin {origin:?}");
        assert!(
            h.stored(&jar).await.is_some(),
            "still signed in after {origin:?}"
        );
    }
    let r = h.logout(&mut jar, Some(APP_URL)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(h.stored(&jar).await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookie_attributes() {
    let h = Harness::dev(&[]).await;
    let mut jar = Jar::default();
    let r = h.sign_in(&mut jar, None).await;
    let cookie = r.set_cookies().pop().unwrap();
    for attr in ["sid=", "HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(attr), "{attr} in {cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain http in this test");
    assert!(cookie.len() < 100, "cookie stays small: {cookie}");

    // an https app (the development provider refuses one: a real provider stands in)
    let op = crate::common::mock_op::MockOp::start(Default::default()).await;
    let h = Harness::mock(&op, &[("APP_URL", "https://app.test")]).await;
    let r = h.get(&mut Jar::default(), "/login").await;
    let cookie = r.set_cookies().pop().unwrap();
    assert!(cookie.starts_with("__Host-sid="), "{cookie}");
    assert!(cookie.contains("Secure"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_down_at_start_then_back() {
    let mut h = Harness::dev(&[]).await;
    h.provider.as_ref().unwrap().stop();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut jar = Jar::default();
    let home = h.get(&mut jar, "/").await;
    assert_eq!(
        home.status,
        StatusCode::OK,
        "public pages work without the provider"
    );
    assert_eq!(h.get(&mut jar, "/healthz").await.status, StatusCode::OK);
    let r = h.get(&mut jar, "/login").await;
    assert_eq!(
        r.location(),
        Some("/auth/error?reason=provider_unavailable")
    );
    let page = h
        .get(&mut jar, "/auth/error?reason=provider_unavailable")
        .await;
    assert_eq!(page.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(page.body.contains("cannot reach the sign-in provider"));

    // the failure is not remembered: sign-in works the moment the provider is back
    h.provider.as_mut().unwrap().restart().await.unwrap();
    let r = h.sign_in(&mut jar, None).await;
    assert_eq!(
        r.location(),
        Some("/profile"),
        "works again at once, without a restart"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn require_sign_in_everywhere() {
    let h = Harness::dev(&[("AUTH_REQUIRE_AUTH_EVERYWHERE", "true")]).await;
    let mut jar = Jar::default();
    assert_eq!(
        h.get(&mut jar, "/").await.status,
        StatusCode::OK,
        "home is public"
    );
    assert_eq!(h.get(&mut jar, "/healthz").await.status, StatusCode::OK);
    let r = h.get(&mut jar, "/about?x=1").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location(), Some("/login?return_to=/about%3Fx%3D1"));
    assert_ne!(
        h.get(&mut jar, "/pkg/signin.css").await.status,
        StatusCode::SEE_OTHER
    );
    let r = h.sign_in(&mut jar, Some("/about")).await;
    assert_eq!(r.location(), Some("/about"));
    let page = h.get(&mut jar, "/about").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("About this app"));
}

/// With sign-in required everywhere and a public list that names none of them, the sign-in,
/// callback, sign-out and error routes still work (they used to redirect to sign-in).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_routes_are_always_public() {
    let h = Harness::dev(&[
        ("AUTH_REQUIRE_AUTH_EVERYWHERE", "true"),
        ("AUTH_PUBLIC_PATHS", "/"),
    ])
    .await;
    let mut jar = Jar::default();
    let r = h.get(&mut jar, "/login?return_to=/about").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let auth = r.location().unwrap().to_string();
    assert!(
        auth.starts_with(&h.provider().issuer),
        "/login goes to the provider, not to itself: {auth}"
    );
    let r = h.get(&mut jar, "/auth/error?reason=access_denied").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "the error page is shown");
    let back = h.decide(&auth, &[("user", "0")]).await;
    assert_eq!(h.callback(&mut jar, &back).await.location(), Some("/about"));
    let r = h.logout(&mut jar, Some(APP_URL)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let r = h.logout(&mut Jar::default(), Some(APP_URL)).await;
    assert_eq!(
        r.status,
        StatusCode::SEE_OTHER,
        "sign-out without a session"
    );
    assert!(
        h.state.guard_policy().is_public("/login"),
        "the browser's guard knows it too"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configurable_callback_and_client_secret_post() {
    let h = Harness::dev(&[
        ("AUTH_CALLBACK_PATH", "/oidc/return"),
        ("OIDC_TOKEN_AUTH_METHOD", "client_secret_post"),
    ])
    .await;
    let mut jar = Jar::default();
    // (pushed to the provider with client_secret_post: the redirect back says which
    // redirect_uri it got)
    let auth = h.start_login(&mut jar, Some("/reports")).await;
    let back = h
        .decide(
            &auth,
            &[("action", "email"), ("email", "sam.smith@example.org")],
        )
        .await;
    assert!(back.starts_with(&format!("{APP_URL}/oidc/return?")));
    let r = h.callback(&mut jar, &back).await;
    assert_eq!(r.location(), Some("/reports"));
    let page = h.get(&mut jar, "/profile").await;
    assert!(page.body.contains("sam.smith@example.org"));
}

#[tokio::test]
async fn settings_reject_dev_provider_assumptions() {
    // the harness's own settings are valid; an https issuer requirement holds for non-loopback
    let dir = tempfile::tempdir().unwrap();
    let s = settings(&[], dir.path());
    assert!(s.oidc.issuer.is_none());
    assert_eq!(
        s.redirect_uri(),
        format!("{APP_URL}/authorization-code/callback")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn precompressed_assets_are_served() {
    let site = tempfile::tempdir().unwrap();
    let pkg = site.path().join("pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    std::fs::write(pkg.join("app.js"), "console.log('plain')").unwrap();
    std::fs::write(pkg.join("app.js.br"), b"brotli bytes").unwrap();
    std::fs::write(pkg.join("app.js.gz"), b"gzip bytes").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut s = settings(&[], dir.path());
    s.oidc.issuer = Some("http://127.0.0.1:9".into());
    s.oidc.client_id = "x".into();
    s.oidc.client_secret = Some(signin::secret::Secret::new("y"));
    let (store, locks) = signin::startup::build_store(&s.session).await.unwrap();
    let options = leptos::config::LeptosOptions::builder()
        .output_name("signin")
        .site_root(site.path().display().to_string())
        .build();
    let state = signin::state::AppState::new(options, s, store, locks).unwrap();
    let router = signin::server::app(state);
    drop(dir);
    for (encoding, body) in [
        ("br", "brotli bytes"),
        ("gzip", "gzip bytes"),
        ("identity", "console.log('plain')"),
    ] {
        use tower::ServiceExt;
        let res = router
            .clone()
            .oneshot(
                axum::http::Request::get("/pkg/app.js")
                    .header("accept-encoding", encoding)
                    .body(axum::body::Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let headers = res.headers().clone();
        assert!(
            headers["content-type"]
                .to_str()
                .unwrap()
                .contains("javascript")
        );
        if encoding != "identity" {
            assert_eq!(headers["content-encoding"], encoding);
        }
        assert!(
            headers["cache-control"]
                .to_str()
                .unwrap()
                .contains("max-age")
        );
        let bytes = http_body_util::BodyExt::collect(res.into_body())
            .await
            .unwrap()
            .to_bytes();
        assert_eq!(bytes, body.as_bytes());
    }
}

/// Every rendered page carries a Content-Security-Policy whose nonce is the one on the page's
/// inline scripts (a fresh one per response), and no `unsafe-inline`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_carry_a_nonce_content_security_policy() {
    let h = Harness::dev(&[]).await;
    let mut nonces = Vec::new();
    for path in [
        "/",
        "/about",
        "/auth/error?reason=access_denied",
        "/no-such-page",
    ] {
        let r = h.get(&mut Jar::default(), path).await;
        let csp = r
            .headers
            .get("content-security-policy")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("{path}: no CSP"))
            .to_string();
        let nonce = csp
            .split("'nonce-")
            .nth(1)
            .and_then(|rest| rest.split('\'').next())
            .unwrap_or_else(|| panic!("{path}: no nonce in {csp}"))
            .to_string();
        assert!(nonce.len() >= 16, "{path}: {nonce}");
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        let scripts = r.body.matches("<script").count();
        assert!(scripts > 0, "{path}");
        assert_eq!(
            r.body.matches(&format!("nonce=\"{nonce}\"")).count(),
            scripts,
            "{path}: every inline script carries the header's nonce"
        );
        nonces.push(nonce);
    }
    nonces.sort();
    nonces.dedup();
    assert_eq!(nonces.len(), 4, "a fresh nonce per response");
}
