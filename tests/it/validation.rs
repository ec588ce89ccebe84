//! ID-token (and userinfo) validation failures: each bad token from the provider double ends
//! on the friendly "could not verify" page, and nobody is signed in.

use crate::common::{
    Harness, Jar,
    mock_op::{Behaviour, MockOp, Tweak},
};
use axum::http::StatusCode;

/// Signs in through the double (it answers /authorize with a code at once).
async fn sign_in(h: &Harness, jar: &mut Jar) -> crate::common::Resp {
    let auth = h.start_login(jar, None).await;
    let res = h.http.get(&auth).send().await.unwrap();
    let back = res.headers()["location"].to_str().unwrap().to_string();
    h.callback(jar, &back).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_good_token_signs_in() {
    let op = MockOp::start(Behaviour::default()).await;
    let h = Harness::mock(&op, &[]).await;
    let mut jar = Jar::default();
    let r = sign_in(&h, &mut jar).await;
    assert_eq!(r.location(), Some("/profile"));
    let page = h.get(&mut jar, "/profile").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("Mock Person"),
        "name from userinfo merged"
    );
    assert!(page.body.contains("fr-FR"), "extra userinfo claim merged");
    assert_eq!(op.token_calls(), 1, "exactly one token call per sign-in");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_id_tokens_are_refused() {
    let op = MockOp::start(Behaviour::default()).await;
    let h = Harness::mock(&op, &[]).await;
    for tweak in [
        Tweak::OtherKey,
        Tweak::WrongAud,
        Tweak::WrongIss,
        Tweak::Expired,
        Tweak::WrongNonce,
        Tweak::NoNonce,
        Tweak::WrongAzp,
        Tweak::ExtraAudNoAzp,
        Tweak::Hs256,
        Tweak::FutureIat,
        Tweak::NoIdToken,
    ] {
        op.set(|b| b.id_token = tweak);
        let mut jar = Jar::default();
        let r = sign_in(&h, &mut jar).await;
        assert_eq!(
            r.location(),
            Some("/auth/error?reason=token_invalid"),
            "{tweak:?}"
        );
        assert!(h.stored(&jar).await.is_none(), "{tweak:?}: not signed in");
        let profile = h.get(&mut jar, "/profile").await;
        assert_eq!(profile.status, StatusCode::FOUND, "{tweak:?}");
    }
    let page = h
        .get(&mut Jar::default(), "/auth/error?reason=token_invalid")
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.body.contains("security checks"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn userinfo_for_someone_else_is_refused() {
    let op = MockOp::start(Behaviour {
        userinfo_sub: Some("another-person".into()),
        ..Behaviour::default()
    })
    .await;
    let h = Harness::mock(&op, &[]).await;
    let mut jar = Jar::default();
    let r = sign_in(&h, &mut jar).await;
    assert_eq!(r.location(), Some("/auth/error?reason=token_invalid"));

    // with userinfo turned off, the ID token alone signs in
    let h = Harness::mock(&op, &[("AUTH_USE_USERINFO", "false")]).await;
    let mut jar = Jar::default();
    let r = sign_in(&h, &mut jar).await;
    assert_eq!(r.location(), Some("/profile"));
    let page = h.get(&mut jar, "/profile").await;
    assert!(!page.body.contains("Mock Person"));
}

/// RFC 9207 (mix-up defence): the authorization response's `iss` must be the issuer — refused
/// when it names another, whatever the provider advertises, and required when the provider
/// advertises `authorization_response_iss_parameter_supported`. No token call is made for a
/// refused response, and nobody is signed in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorization_response_issuer() {
    let op = MockOp::start(Behaviour::default()).await;
    let issuer = op.issuer().to_string();
    for (advertise, iss, signs_in) in [
        (false, None, true),
        (false, Some(issuer.clone()), true),
        (false, Some("https://attacker.example".to_string()), false),
        (false, Some(format!("{issuer}/")), false),
        (true, Some(issuer.clone()), true),
        (true, None, false),
        (true, Some("https://attacker.example".to_string()), false),
    ] {
        op.set(|b| {
            b.advertise_response_iss = advertise;
            b.response_iss = iss.clone();
        });
        // a fresh app, so it discovers what the provider now advertises
        let h = Harness::mock(&op, &[]).await;
        let mut jar = Jar::default();
        let calls = op.token_calls();
        let auth = h.start_login(&mut jar, None).await;
        let res = h.http.get(&auth).send().await.unwrap();
        let back = res.headers()["location"].to_str().unwrap().to_string();
        let r = h.callback(&mut jar, &back).await;
        let case = format!("advertised {advertise}, iss {iss:?}");
        if signs_in {
            assert_eq!(r.location(), Some("/profile"), "{case}");
        } else {
            assert_eq!(
                r.location(),
                Some("/auth/error?reason=token_invalid"),
                "{case}"
            );
            assert_eq!(op.token_calls(), calls, "{case}: no token call");
            let again = h.callback(&mut jar, &back).await;
            assert!(
                again
                    .location()
                    .unwrap_or_default()
                    .starts_with("/auth/error"),
                "{case}: a replay is refused too"
            );
            let page = h.get(&mut jar, "/profile").await;
            assert_eq!(page.status, StatusCode::FOUND, "{case}: not signed in");
        }
    }
}
