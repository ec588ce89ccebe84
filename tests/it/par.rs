//! Pushed authorization requests (issue 16; RFC 9126): with `OIDC_PAR=auto` (the default) and
//! a provider that offers them — the development provider does — the authorization request
//! goes over the back channel and the browser carries only `client_id` and `request_uri`.

use axum::http::StatusCode;

use crate::common::{
    Harness, Jar,
    mock_op::{Behaviour, MockOp},
};

fn params(url: &str) -> Vec<String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .map(|(k, _)| k.into_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_browser_carries_only_a_request_uri() {
    let h = Harness::dev(&[]).await;
    let mut jar = Jar::default();
    let authorize = h.0.start_login(&mut jar, Some("/reports")).await.unwrap();
    assert_eq!(
        params(&authorize),
        ["client_id", "request_uri"],
        "{authorize}"
    );
    assert!(authorize.contains("request_uri=urn%3Aietf%3Aparams%3Aoauth%3Arequest_uri%3A"));
    let back = h.decide(&authorize, &[("user", "0")]).await;
    assert_eq!(
        h.callback(&mut jar, &back).await.location(),
        Some("/reports")
    );
    assert_eq!(
        h.state
            .oidc()
            .calls
            .par
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );

    // a request_uri is this client's, and made-up ones lead nowhere
    let other = authorize.replace("client_id=signin-dev", "client_id=someone-else");
    for url in [
        other,
        authorize.replace("request_uri%3A", "request_uri%3A00"),
    ] {
        let r = h.http.get(&url).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{url}");
        assert!(
            r.text()
                .await
                .unwrap()
                .contains("This sign-in request has expired or is not")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn never_keeps_the_parameters_in_the_url() {
    let h = Harness::dev(&[("OIDC_PAR", "never")]).await;
    let authorize = h.0.start_login(&mut Jar::default(), None).await.unwrap();
    let p = params(&authorize);
    for name in ["code_challenge", "state", "nonce", "redirect_uri"] {
        assert!(p.iter().any(|n| n == name), "{name} in {authorize}");
    }
    assert!(!p.iter().any(|n| n == "request_uri"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn always_without_a_par_endpoint_is_explained() {
    let op = MockOp::start(Behaviour::default()).await;
    let h = Harness::mock(&op, &[("OIDC_PAR", "always")]).await;
    let r = h.get(&mut Jar::default(), "/login").await;
    assert_eq!(r.location(), Some("/auth/error?reason=provider_error"));
    // auto with a provider that has none: the classic request
    let h = Harness::mock(&op, &[]).await;
    let authorize = h.0.start_login(&mut Jar::default(), None).await.unwrap();
    assert!(params(&authorize).iter().any(|n| n == "code_challenge"));
}

/// The development provider's PAR endpoint authenticates the client, as `/token` does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_par_endpoint_wants_the_client() {
    let h = Harness::dev(&[]).await;
    let par = format!("{}/par", h.state.oidc().issuer());
    let redirect = h.state.settings.redirect_uri();
    let form = [
        ("client_id", "signin-dev"),
        ("response_type", "code"),
        ("redirect_uri", redirect.as_str()),
        ("scope", "openid"),
        (
            "code_challenge",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        ),
        ("code_challenge_method", "S256"),
    ];
    let r = h.http.post(&par).form(&form).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = h
        .http
        .post(&par)
        .basic_auth("signin-dev", Some("wrong"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}
