//! Step-up (issue 15): a page or server function that needs a recent or stronger sign-in, the
//! trip to the provider that asks for one (`max_age` + `prompt=login`, `acr_values`), the
//! callback's check of what came back, and the session it lands in — the same session under
//! a new id for the same person, a new one (the old ended) for someone else.

use axum::{
    body::Body,
    http::{Request, StatusCode},
};

use crate::common::{
    Harness, Jar, Resp,
    mock_op::{Behaviour, MockOp},
};

const SENSITIVE: &str = "/settings/sensitive";
const STEP_UP: &str = "/login?return_to=/settings/sensitive&max_age=300&prompt=login";

/// Signs in at the development provider with `fields`.
async fn signed_in(h: &Harness, fields: &[(&str, &str)]) -> Jar {
    let mut jar = Jar::default();
    let r = h.0.sign_in_as(&mut jar, None, fields).await.unwrap();
    assert!(r.status.is_redirection(), "{}", r.status);
    jar
}

/// The sensitive page's server function, as a hydrated page calls it.
async fn sensitive_data(h: &Harness, jar: &mut Jar) -> Resp {
    h.send(
        jar,
        Request::post("/api/settings/sensitive")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("sec-fetch-site", "same-origin"),
        Body::empty(),
    )
    .await
}

/// Follows `/login?…` to the provider's authorization URL.
async fn to_provider(h: &Harness, jar: &mut Jar, login: &str) -> String {
    let r = h.get(jar, login).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{login}: {}", r.body);
    r.location().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recent_sign_in_is_asked_for_and_the_session_goes_on_under_a_new_id() {
    let h = Harness::dev(&[]).await;
    // single sign-on with a provider session from 10 minutes ago
    let mut jar = signed_in(&h, &[("user", "0"), ("earlier", "1")]).await;
    let id = jar.session_id().unwrap();
    let before = h.stored(&jar).await.unwrap();
    assert!(signin::util::now() - before.authenticated_at.unwrap() >= 600);

    let r = h.get(&mut jar, SENSITIVE).await;
    assert_eq!(r.status, StatusCode::FOUND, "{}", r.body);
    assert_eq!(r.location(), Some(STEP_UP));
    // the server function says the same, as JSON, never a redirect
    let r = sensitive_data(&h, &mut jar).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.body, r#"{"StepUpRequired":"max_age=300&prompt=login"}"#);
    assert!(r.location().is_none());

    // signed in already: /login asks the provider anyway, without touching the cookie
    let r = h.get(&mut jar, STEP_UP).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(r.set_cookies().is_empty(), "{:?}", r.set_cookies());
    // (pushed to the provider: the browser carries a request_uri; the page says what was
    // asked, and `the_callback_refuses_what_does_not_meet_the_ask` sees the parameters)
    let authorize = r.location().unwrap().to_string();
    let record = h.has_record(&id).await;
    assert!(record);
    let page = h.provider_page(&authorize).await;
    assert!(
        page.contains("data-testid=\"fresh-sign-in-asked\""),
        "{page}"
    );
    assert!(page.contains("within the last 5 minutes"), "{page}");
    assert!(
        !page.contains("data-testid=\"earlier-session\""),
        "no earlier session offered when a fresh sign-in is asked"
    );

    // a tab of the session is open meanwhile
    let mut tab = h.0.open_events(&jar).await.unwrap();
    tab.expect("ping", std::time::Duration::from_secs(5))
        .await
        .unwrap();
    let old_cookie = jar.clone();

    // an earlier provider session is refused even when sent anyway
    let back = h
        .decide(&authorize, &[("user", "0"), ("earlier", "1")])
        .await;
    let r = h.callback(&mut jar, &back).await;
    assert_eq!(r.location(), Some(SENSITIVE));
    // the session goes on under a new id: a copy of the old cookie gets nothing
    let new_id = jar.session_id().unwrap();
    assert_ne!(new_id, id, "a new id after the raise in privilege");
    assert!(!h.has_record(&id).await, "the old record is gone");
    let r = h.get(&mut old_cookie.clone(), "/profile").await;
    assert_eq!(r.location(), Some("/login?return_to=/profile"));
    // the tab's channel closes without "ended" (it reconnects, with the new cookie)
    loop {
        match tab.next(std::time::Duration::from_secs(5)).await {
            signin::testing::Next::Event(e) if e.event == "ping" => continue,
            signin::testing::Next::Closed => break,
            other => panic!("the old channel: {other:?}"),
        }
    }
    let mut again = h.0.open_events(&jar).await.unwrap();
    again
        .expect("ping", std::time::Duration::from_secs(5))
        .await
        .unwrap();
    let after = h.stored(&jar).await.unwrap();
    assert!(signin::util::now() - after.authenticated_at.unwrap() < 60);
    assert_eq!(
        after.signed_in_at, before.signed_in_at,
        "the session's lifetime is kept"
    );
    assert_ne!(
        after.verified.tokens.access_token.expose(),
        before.verified.tokens.access_token.expose()
    );

    let r = h.get(&mut jar, SENSITIVE).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("data-testid=\"sensitive\""));
    let r = sensitive_data(&h, &mut jar).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("authenticated_at"), "{}", r.body);
    assert!(
        !r.body
            .contains(before.verified.tokens.access_token.expose()),
        "no token in the answer"
    );

    // the replaced tokens are revoked at the provider
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while h.provider().stats().revocations < 1 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        h.provider().stats().revocations >= 1,
        "the replaced tokens are revoked"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nobody_signed_in_is_asked_once() {
    let h = Harness::dev(&[]).await;
    let mut jar = Jar::default();
    let r = h.get(&mut jar, SENSITIVE).await;
    assert_eq!(
        r.location(),
        Some(STEP_UP),
        "one trip: the ask goes with the first sign-in"
    );
    let authorize = to_provider(&h, &mut jar, STEP_UP).await;
    let back = h.decide(&authorize, &[("user", "1")]).await;
    assert_eq!(
        h.callback(&mut jar, &back).await.location(),
        Some(SENSITIVE)
    );
    assert_eq!(h.get(&mut jar, SENSITIVE).await.status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_person_at_the_step_up_ends_the_old_session() {
    let h = Harness::dev(&[]).await;
    let mut jar = signed_in(&h, &[("user", "0"), ("earlier", "1")]).await;
    let ada_session = jar.session_id().unwrap();
    let mut tab = h.0.open_events(&jar).await.unwrap();
    let authorize = to_provider(&h, &mut jar, STEP_UP).await;
    let back = h.decide(&authorize, &[("user", "1")]).await; // Grace
    assert_eq!(
        h.callback(&mut jar, &back).await.location(),
        Some(SENSITIVE)
    );

    assert!(!h.has_record(&ada_session).await, "Ada's session is gone");
    assert_ne!(
        jar.session_id().unwrap(),
        ada_session,
        "a new session for Grace"
    );
    let grace = h.stored(&jar).await.unwrap();
    assert!(
        grace
            .verified
            .user
            .name
            .as_deref()
            .unwrap_or_default()
            .contains("Grace")
    );
    assert_eq!(h.get(&mut jar, SENSITIVE).await.status, StatusCode::OK);
    // Ada's open tabs are told her session ended
    let ended = tab
        .expect("ended", std::time::Duration::from_secs(5))
        .await
        .unwrap();
    assert!(ended.data.starts_with("signed_out"), "{}", ended.data);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stronger_sign_in_is_asked_for_with_acr_values() {
    let h = Harness::dev(&[]).await;
    let mut jar = signed_in(&h, &[("user", "0")]).await;
    assert_eq!(h.stored(&jar).await.unwrap().acr, None);
    let login = "/login?return_to=/profile&acr_values=urn:okta:loa:2fa:any";
    let authorize = to_provider(&h, &mut jar, login).await;
    let page = h.provider_page(&authorize).await;
    assert!(
        page.contains("data-testid=\"stronger-sign-in-asked\""),
        "{page}"
    );
    let back = h.decide(&authorize, &[("user", "0")]).await;
    assert_eq!(
        h.callback(&mut jar, &back).await.location(),
        Some("/profile")
    );
    let id = jar.session_id().unwrap();
    let s = h.stored(&jar).await.unwrap();
    assert_eq!(s.acr.as_deref(), Some("urn:okta:loa:2fa:any"));
    assert!(
        h.get(&mut jar, "/profile")
            .await
            .body
            .contains("urn:okta:loa:2fa:any")
    );

    // a class the provider does not know: it does not claim it, and the app refuses the
    // sign-in — the session stays as it was
    let before = h.stored(&jar).await.unwrap();
    let authorize = to_provider(&h, &mut jar, "/login?acr_values=urn:example:unknown").await;
    let back = h.decide(&authorize, &[("user", "0")]).await;
    let r = h.callback(&mut jar, &back).await;
    assert_eq!(r.location(), Some("/auth/error?reason=step_up_not_met"));
    assert_eq!(jar.session_id().unwrap(), id);
    let after = h.stored(&jar).await.unwrap();
    assert_eq!(
        after.verified.tokens.access_token.expose(),
        before.verified.tokens.access_token.expose(),
        "nothing changed"
    );
    let r = h.get(&mut jar, "/auth/error?reason=step_up_not_met").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(
        r.body.contains("more recent or stronger sign-in"),
        "{}",
        r.body
    );
}

/// A provider that answers a step-up with an old authentication, none, or the wrong class:
/// each is refused at the callback, and the session is left as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_callback_refuses_what_does_not_meet_the_ask() {
    let long_ago = signin::util::now() - 3600;
    let op = MockOp::start(Behaviour {
        auth_time: Some(long_ago),
        acr: Some("urn:okta:loa:1fa:any".into()),
        ..Behaviour::default()
    })
    .await;
    let h = Harness::mock(&op, &[]).await;
    let mut jar = Jar::default();
    h.mock_sign_in(&mut jar).await;
    let id = jar.session_id().unwrap();
    assert_eq!(h.get(&mut jar, SENSITIVE).await.location(), Some(STEP_UP));

    type Case = (&'static str, fn(&mut Behaviour));
    let cases: [Case; 4] = [
        // the provider reused an authentication older than max_age
        (STEP_UP, |_| {}),
        // no auth_time, though max_age was asked
        (STEP_UP, |b| b.auth_time = None),
        // a weaker class than asked
        ("/login?acr_values=urn:okta:loa:2fa:any", |b| {
            b.auth_time = Some(signin::util::now())
        }),
        // prompt=login, answered with an authentication from before the sign-in started
        ("/login?prompt=login", |b| {
            b.auth_time = Some(signin::util::now() - 600)
        }),
    ];
    for (login, tweak) in cases {
        op.set(tweak);
        let authorize = to_provider(&h, &mut jar, login).await;
        let back = {
            let res = h.http.get(&authorize).send().await.unwrap();
            res.headers()["location"].to_str().unwrap().to_string()
        };
        let asked = op.last_authorize();
        let r = h.callback(&mut jar, &back).await;
        assert_eq!(
            r.location(),
            Some("/auth/error?reason=step_up_not_met"),
            "{login}: {asked:?}"
        );
        assert_eq!(jar.session_id().unwrap(), id, "{login}");
        assert_eq!(
            h.get(&mut jar, "/profile").await.status,
            StatusCode::OK,
            "{login}"
        );
        assert_eq!(
            h.get(&mut jar, SENSITIVE).await.status,
            StatusCode::FOUND,
            "{login}"
        );
    }
    // what the app asked the provider
    let authorize = to_provider(&h, &mut jar, STEP_UP).await;
    h.http.get(&authorize).send().await.unwrap();
    let asked = op.last_authorize();
    let get = |k: &str| asked.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(get("max_age"), Some("300"));
    assert_eq!(get("prompt"), Some("login"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_step_up_links_get_a_clear_page() {
    let h = Harness::dev(&[]).await;
    for login in [
        "/login?max_age=soon",
        "/login?max_age=-1",
        "/login?prompt=none",
        "/login?acr_values=%3Cscript%3E",
        "/login?acr_values=",
    ] {
        for jar in [
            &mut Jar::default(),
            &mut signed_in(&h, &[("user", "0")]).await,
        ] {
            let r = h.get(jar, login).await;
            assert_eq!(
                r.location(),
                Some("/auth/error?reason=bad_request"),
                "{login}"
            );
        }
    }
    let r = h
        .get(&mut Jar::default(), "/auth/error?reason=bad_request")
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("This sign-in link is not valid"));
}

/// A step-up started while signed in keeps the session's lifetime: the record is not cut to
/// the few minutes a started sign-in gets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starting_a_step_up_keeps_the_session_lifetime() {
    let h = Harness::dev(&[]).await;
    let mut jar = signed_in(&h, &[("user", "0")]).await;
    to_provider(&h, &mut jar, STEP_UP).await;
    let id: tower_sessions::session::Id = jar.session_id().unwrap().parse().unwrap();
    let record = tower_sessions::SessionStore::load(&h.state.keeper.store, &id)
        .await
        .unwrap()
        .unwrap();
    let left = record.expiry_date - time::OffsetDateTime::now_utc();
    assert!(left > time::Duration::hours(23), "{left}");
}
