//! Authorization beyond sign-in (issue 15, first step): a page for one group and its server
//! function. The development provider's demo users carry `groups`: Ada (user 0) is in
//! `Admins`, Grace (user 1) is not.

use axum::{
    body::Body,
    http::{Request, StatusCode},
};

use crate::common::{Harness, Jar, Resp, page};

async fn signed_in_as(h: &Harness, user: &str) -> Jar {
    let mut jar = Jar::default();
    let r =
        h.0.sign_in_as(&mut jar, None, &[("user", user)])
            .await
            .unwrap();
    assert!(r.status.is_redirection(), "{}", r.status);
    jar
}

/// The admin page's server function, as a hydrated page calls it.
async fn overview(h: &Harness, jar: &mut Jar) -> Resp {
    h.send(
        jar,
        Request::post("/api/admin/overview")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("sec-fetch-site", "same-origin"),
        Body::empty(),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_for_one_group() {
    let h = Harness::dev(&[]).await;
    let mut ada = signed_in_as(&h, "0").await;
    let mut grace = signed_in_as(&h, "1").await;

    let r = h.get(&mut ada, "/admin").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("data-testid=\"admin\""), "{}", r.body);
    assert!(r.body.contains("Open live session channels"));
    assert!(
        r.body.contains("href=\"/admin\""),
        "the nav shows Admin to admins"
    );

    // signed in but not allowed: 403 with a clear page, on a page load and a navigation
    let r = h.get(&mut grace, "/admin").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.body.contains("not open to you"), "{}", r.body);
    assert!(!r.body.contains("data-testid=\"admin\""));
    assert!(r.location().is_none(), "no sign-in loop");
    let r = h
        .send(
            &mut grace,
            page("/admin").header("islands-router", "true"),
            Body::empty(),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.body.contains("not open to you"));
    let r = h.get(&mut grace, "/profile").await;
    assert!(
        !r.body.contains("href=\"/admin\""),
        "no Admin link for others"
    );

    // nobody signed in: sign in first, coming back here
    let r = h.get(&mut Jar::default(), "/admin").await;
    assert_eq!(r.status, StatusCode::FOUND);
    assert_eq!(r.location(), Some("/login?return_to=/admin"));

    // the server function checks the group itself: JSON errors, never a redirect
    let r = overview(&h, &mut ada).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("open_channels"), "{}", r.body);
    let r = overview(&h, &mut grace).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.body, "\"NotAllowed\"");
    let r = overview(&h, &mut Jar::default()).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.body, "\"Unauthorized\"");
    assert!(r.location().is_none());
}

/// The groups claim is a setting (Okta's authorization server names it): with another name,
/// Ada's `groups` no longer count.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_groups_claim_is_configurable() {
    let h = Harness::dev(&[("AUTH_GROUPS_CLAIM", "roles")]).await;
    let mut ada = signed_in_as(&h, "0").await;
    assert_eq!(
        h.get(&mut ada, "/admin").await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(overview(&h, &mut ada).await.status, StatusCode::FORBIDDEN);
}

/// A person removed from a group loses it at the next refresh: a provider leaves the groups
/// claim out when no group matches any more (Okta's groups filter), and the previous list is
/// not carried over the refresh as other claims are.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_removed_at_the_provider_is_gone_after_the_refresh() {
    use crate::common::mock_op::{Behaviour, MockOp};
    let op = MockOp::start(Behaviour {
        access_ttl: 3600,
        userinfo_extra: serde_json::json!({"groups": ["Everyone", "Admins"]}),
        ..Behaviour::default()
    })
    .await;
    let h = Harness::mock(&op, &[]).await;
    let mut jar = Jar::default();
    h.mock_sign_in(&mut jar).await;
    assert_eq!(h.get(&mut jar, "/admin").await.status, StatusCode::OK);

    op.set(|b| b.userinfo_extra = serde_json::json!({}));
    h.age_access_token(&jar, std::time::Duration::from_secs(3600))
        .await;
    let r = h.get(&mut jar, "/admin").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let stored = h.stored(&jar).await.unwrap();
    assert!(stored.verified.claims.get("groups").is_none());
    assert!(
        stored.verified.claims.contains_key("email"),
        "other claims are still carried over"
    );
}
