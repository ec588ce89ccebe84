//! `/metrics` (issue 17): what it counts — sign-ins and failed callbacks by reason, refreshes by
//! outcome, sign-outs by kind, the sessions in the store, provider call durations — and that
//! the app's own address never serves it (the real binary, in `instances`, serves it on
//! `METRICS_ADDR`).

use std::time::Duration;

use axum::{body::Body, http::Request};
use http_body_util::BodyExt;
use tower::ServiceExt;

use crate::common::{Harness, Jar};

async fn scrape(h: &Harness) -> String {
    let resp = signin::server::metrics_app(h.state.clone())
        .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-type"],
        signin::metrics::CONTENT_TYPE,
        "OpenMetrics text"
    );
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// The value of the sample whose name and labels are `series` (0 when absent).
fn value(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0.0, |v| v.trim().parse().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counts_sign_ins_refreshes_sign_outs_and_provider_calls() {
    let h = Harness::dev(&[
        ("DEV_PROVIDER_ACCESS_TOKEN_TTL_SECS", "1"),
        ("AUTH_REFRESH_MARGIN_SECS", "0"),
    ])
    .await;
    let before = scrape(&h).await;
    assert_eq!(value(&before, "signin_sessions"), 0.0, "{before}");

    let mut jar = Jar::default();
    h.sign_in(&mut jar, None).await;
    // a callback that matches no started sign-in
    let mut other = Jar::default();
    let iss = signin::auth::return_to::encode_component(h.state.oidc().issuer());
    let r = h
        .get(
            &mut other,
            &format!("/authorization-code/callback?code=x&state=unknown&iss={iss}"),
        )
        .await;
    assert_eq!(r.location(), Some("/auth/error?reason=state_mismatch"));

    let after_sign_in = scrape(&h).await;
    assert_eq!(
        value(&after_sign_in, "signin_sign_ins_total{outcome=\"success\"}"),
        1.0,
        "{after_sign_in}"
    );
    assert_eq!(
        value(
            &after_sign_in,
            "signin_sign_ins_total{outcome=\"state_mismatch\"}"
        ),
        1.0
    );
    assert_eq!(value(&after_sign_in, "signin_sessions"), 1.0);
    assert_eq!(
        value(
            &after_sign_in,
            "signin_provider_request_duration_seconds_count{provider=\"default\",endpoint=\"token\"}"
        ),
        1.0,
        "{after_sign_in}"
    );

    // the access token expires: the next page refreshes it
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(h.get(&mut jar, "/profile").await.status, 200);
    let after_refresh = scrape(&h).await;
    assert_eq!(
        value(
            &after_refresh,
            "signin_refreshes_total{outcome=\"success\"}"
        ),
        1.0,
        "{after_refresh}"
    );
    assert_eq!(
        value(
            &after_refresh,
            "signin_provider_request_duration_seconds_count{provider=\"default\",endpoint=\"refresh\"}"
        ),
        1.0
    );

    h.logout(&mut jar, Some(&h.state.settings.app_origin()))
        .await;
    let after_sign_out = scrape(&h).await;
    assert_eq!(
        value(&after_sign_out, "signin_sign_outs_total{kind=\"user\"}"),
        1.0,
        "{after_sign_out}"
    );
    assert_eq!(value(&after_sign_out, "signin_sessions"), 0.0);
}

/// The app's own address has no `/metrics`: it is served only on `METRICS_ADDR`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_served_on_the_app_address() {
    let h = Harness::dev(&[]).await;
    let mut jar = Jar::default();
    h.sign_in(&mut jar, None).await;
    let r = h.get(&mut jar, "/metrics").await;
    assert!(
        !r.body.contains("signin_sign_ins_total"),
        "{}: {}",
        r.status,
        r.body
    );
}
