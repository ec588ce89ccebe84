//! Third-party-initiated login (issue 16; OpenID Connect Core §4, Okta's "Initiate login
//! URI"): `/login?iss=…&target_link_uri=…[&login_hint=…]`.

use axum::http::StatusCode;

use crate::common::{Harness, Jar};

fn enc(s: &str) -> String {
    signin::auth::return_to::encode_component(s)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_provider_starts_a_sign_in_that_lands_on_the_target() {
    let h = Harness::dev(&[]).await;
    let iss = h.state.oidc().issuer().to_string();
    let app = h.state.settings.app_base();
    let mut jar = Jar::default();
    let login = format!(
        "/login?iss={}&target_link_uri={}&login_hint={}",
        enc(&iss),
        enc(&format!("{app}/reports?tab=week")),
        enc("grace@example.com")
    );
    let r = h.get(&mut jar, &login).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let authorize = r.location().unwrap().to_string();
    assert!(authorize.starts_with(&iss), "{authorize}");
    // the provider got the hint (pushed with the request): its email field starts with it
    let page = h.provider_page(&authorize).await;
    assert!(page.contains("value=\"grace@example.com\""), "{page}");
    let back = h.decide(&authorize, &[("user", "1")]).await;
    assert_eq!(
        h.callback(&mut jar, &back).await.location(),
        Some("/reports?tab=week")
    );

    // the issuer with a trailing slash is the same issuer
    let r = h
        .get(
            &mut Jar::default(),
            &format!(
                "/login?iss={}%2F&target_link_uri={}",
                enc(&iss),
                enc(&format!("{app}/profile"))
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_elsewhere_lands_on_the_default_page() {
    let h = Harness::dev(&[]).await;
    let iss = h.state.oidc().issuer().to_string();
    for target in [
        "https://evil.example/profile",
        "http://evil.example",
        "javascript:alert(1)",
        "/relative",
        "",
    ] {
        let mut jar = Jar::default();
        let login = format!("/login?iss={}&target_link_uri={}", enc(&iss), enc(target));
        let r = h.get(&mut jar, &login).await;
        let authorize = r.location().unwrap().to_string();
        let back = h.decide(&authorize, &[("user", "0")]).await;
        assert_eq!(
            h.callback(&mut jar, &back).await.location(),
            Some(h.state.settings.auth.default_return_to.as_str()),
            "{target}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_issuer_gets_a_page_and_no_redirect() {
    let h = Harness::dev(&[]).await;
    let app = h.state.settings.app_base();
    for iss in [
        "https://evil.example",
        "https://evil.example/oauth2/default",
        "",
        "%00",
    ] {
        let mut jar = Jar::default();
        let r = h
            .get(
                &mut jar,
                &format!(
                    "/login?iss={}&target_link_uri={}",
                    enc(iss),
                    enc(&format!("{app}/profile"))
                ),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{iss}");
        assert!(r.location().is_none(), "{iss}: no redirect");
        assert!(r.body.contains("names another provider"), "{}", r.body);
        assert!(r.body.contains("unknown_issuer"));
        assert!(!r.body.contains("<script"), "a plain page");
        assert!(r.set_cookies().is_empty(), "{iss}: no session started");
    }
    // the right issuer twice is refused the same way (no redirect, not even to /login)
    let iss = signin::auth::return_to::encode_component(h.state.oidc().issuer());
    let r = h
        .get(&mut Jar::default(), &format!("/login?iss={iss}&iss={iss}"))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.location().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_hint_is_bounded() {
    let h = Harness::dev(&[]).await;
    let long = "x".repeat(300);
    for (hint, passed) in [
        ("ada@example.com", true),
        (long.as_str(), false),
        ("a\u{7}b", false),
    ] {
        let r = h
            .get(
                &mut Jar::default(),
                &format!("/login?login_hint={}", enc(hint)),
            )
            .await;
        let authorize = r.location().unwrap();
        let page = h.provider_page(authorize).await;
        assert_eq!(
            page.contains("data-testid=\"login-hint\""),
            passed,
            "{hint}: {page}"
        );
    }
}
