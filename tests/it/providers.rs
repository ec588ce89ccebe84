//! Several providers at once (issue 16): the development provider as the default one and a
//! second development provider as a `[[providers]]` entry. `/login` offers a chooser, the
//! session remembers its provider, and refresh, sign-out and revocation go to that one only.

use std::time::Duration;

use axum::http::StatusCode;
use signin::{
    dev_provider::DevProvider,
    settings::{ProviderSettings, Settings},
};

use crate::common::{Harness, Jar, settings, shared_key_pem};

/// The app with the development provider as the default and `second` (another development
/// provider) beside it; `second` is returned to read its counters.
async fn two_providers(env: &[(&str, &str)]) -> (Harness, DevProvider, tempfile::TempDir) {
    let app_url = env
        .iter()
        .find(|(k, _)| *k == "APP_URL")
        .map(|(_, v)| v.to_string());
    let dir = tempfile::tempdir().unwrap();
    let second_dir = dir.path().join("second");
    std::fs::create_dir_all(second_dir.join("dev-provider")).unwrap();
    std::fs::write(
        second_dir.join("dev-provider").join("key.pem"),
        shared_key_pem().unwrap(),
    )
    .unwrap();
    let second_env: Vec<(&str, &str)> = app_url.iter().map(|u| ("APP_URL", u.as_str())).collect();
    let second = signin::dev_provider::start(&settings(&second_env, &second_dir))
        .await
        .unwrap();

    let first_dir = dir.path().join("first");
    std::fs::create_dir_all(first_dir.join("dev-provider")).unwrap();
    std::fs::write(
        first_dir.join("dev-provider").join("key.pem"),
        shared_key_pem().unwrap(),
    )
    .unwrap();
    let mut s: Settings = settings(env, &first_dir);
    let first = signin::dev_provider::start(&s).await.unwrap();
    first.configure(&mut s);
    let mut other = s.oidc.clone();
    other.issuer = Some(second.issuer.clone());
    other.client_id = second.client_id.clone();
    other.client_secret = Some(second.client_secret.clone());
    other.display_name = None;
    s.providers.push(ProviderSettings {
        id: "second".into(),
        name: "Second provider".into(),
        oidc: other,
    });
    (Harness::with_settings(s, Some(first)).await, second, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chooser_then_the_chosen_provider_for_everything() {
    let (h, second, _dir) = two_providers(&[]).await;
    let mut jar = Jar::default();

    // no provider named: the chooser, with the return path
    let r = h.get(&mut jar, "/login?return_to=/reports").await;
    let chooser = r.location().unwrap().to_string();
    assert_eq!(chooser, "/auth/sign-in?return_to=%2Freports");
    let page = h.get(&mut jar, &chooser).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("Sign in with Development provider"),
        "{}",
        page.body
    );
    assert!(page.body.contains("Sign in with Second provider"));
    assert!(
        page.body
            .contains("href=\"/login?provider=second&amp;return_to=/reports\""),
        "{}",
        page.body
    );

    // the second one: its sign-in page, its tokens
    let authorize = h
        .get(&mut jar, "/login?provider=second&return_to=/reports")
        .await
        .location()
        .unwrap()
        .to_string();
    assert!(authorize.starts_with(&second.issuer), "{authorize}");
    let back = h.decide(&authorize, &[("user", "0")]).await;
    assert_eq!(
        h.callback(&mut jar, &back).await.location(),
        Some("/reports")
    );
    let stored = h.stored(&jar).await.unwrap();
    assert_eq!(stored.verified.provider, "second");
    assert_eq!(second.stats().token_calls, 1);
    assert_eq!(h.provider().stats().token_calls, 0);

    // refresh at the second provider
    h.age_access_token(&jar, Duration::from_secs(24 * 3600))
        .await;
    assert_eq!(h.get(&mut jar, "/reports").await.status, StatusCode::OK);
    assert_eq!(second.stats().refresh_calls, 1);
    assert_eq!(h.provider().stats().refresh_calls, 0);

    // sign-out: the second provider's end-session endpoint, and its revocation
    let out = h.logout(&mut jar, Some(signin::testing::APP_URL)).await;
    assert!(
        out.location()
            .unwrap_or_default()
            .starts_with(&second.issuer),
        "{:?}",
        out.location()
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while second.stats().revocations < 1 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(second.stats().revocations, 1);
    assert_eq!(h.provider().stats().revocations, 0);

    // and the default one still works, chosen by its id
    let mut other = Jar::default();
    let authorize = h
        .get(&mut other, "/login?provider=default")
        .await
        .location()
        .unwrap()
        .to_string();
    assert!(authorize.starts_with(&h.provider().issuer), "{authorize}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_provider_or_another_providers_answer_is_refused() {
    let (h, second, _dir) = two_providers(&[("OIDC_PAR", "never")]).await;
    let mut jar = Jar::default();
    assert_eq!(
        h.get(&mut jar, "/login?provider=nope").await.location(),
        Some("/auth/error?reason=bad_request")
    );
    // an empty choice is no choice: the chooser
    assert_eq!(
        h.get(&mut jar, "/login?provider=").await.location(),
        Some("/auth/sign-in?return_to=%2Fprofile")
    );

    // a sign-in started at the default provider, answered as if by the second (mix-up)
    let authorize = h
        .get(&mut jar, "/login?provider=default")
        .await
        .location()
        .unwrap()
        .to_string();
    let back = h.decide(&authorize, &[("user", "0")]).await;
    let mut forged = url::Url::parse(&back).unwrap();
    let pairs: Vec<(String, String)> = forged
        .query_pairs()
        .map(|(k, v)| match k.as_ref() {
            "iss" => (k.into_owned(), second.issuer.clone()),
            _ => (k.into_owned(), v.into_owned()),
        })
        .collect();
    forged.query_pairs_mut().clear().extend_pairs(&pairs);
    let forged = forged.to_string();
    assert_ne!(forged, back, "{back}");
    let r = h.callback(&mut jar, &forged).await;
    // refused before the code is redeemed anywhere
    assert_eq!(r.location(), Some("/auth/error?reason=token_invalid"));
    assert!(h.stored(&jar).await.is_none());
    assert_eq!(h.provider().stats().token_calls, 0);
    assert_eq!(second.stats().token_calls, 0);
}

fn field(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page.find(&marker).expect(name) + marker.len();
    page[start..].split('"').next().unwrap().to_string()
}

/// Back-channel logout and Universal Logout from the second provider reach the sessions it
/// signed in (checked with its own keys), and only those.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_second_providers_sign_outs_reach_its_sessions() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let app_url = format!("http://{}", listener.local_addr().unwrap());
    let (h, second, _dir) = two_providers(&[("APP_URL", &app_url)]).await;
    let router = h.router.clone();
    tokio::spawn(async move { axum::serve(listener, router).await });
    let signed_in = |jar: &Jar| {
        let mut jar = jar.clone();
        let h = &h;
        async move { h.get(&mut jar, "/profile").await.status == StatusCode::OK }
    };
    let sign_in = |provider: &'static str| {
        let h = &h;
        async move {
            let mut jar = Jar::default();
            let authorize = h
                .get(&mut jar, &format!("/login?provider={provider}"))
                .await
                .location()
                .unwrap()
                .to_string();
            let back = h.decide(&authorize, &[("user", "0")]).await;
            h.callback(&mut jar, &back).await;
            jar
        }
    };
    // the same person (the same demo user) at both providers
    let (at_default, at_second, again_second) = (
        sign_in("default").await,
        sign_in("second").await,
        sign_in("second").await,
    );
    let page = |issuer: String| {
        let h = &h;
        async move {
            h.http
                .get(format!("{issuer}/sessions"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        }
    };

    // back-channel logout of one provider session at the second provider
    let sessions = page(second.issuer.clone()).await;
    let r = h
        .http
        .post(format!("{}/sessions/logout", second.issuer))
        .form(&[("sid", field(&sessions, "sid"))])
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["location"], "/sessions?done=logout");
    assert_eq!(second.stats().backchannel_logouts_sent, 1);
    let still = [signed_in(&at_second).await, signed_in(&again_second).await];
    assert_eq!(still.iter().filter(|s| **s).count(), 1, "{still:?}");
    assert!(
        signed_in(&at_default).await,
        "the default provider's session stays"
    );

    // Universal Logout from the second provider: its sessions of the person, not the
    // default provider's (another issuer: another account)
    let sessions = page(second.issuer.clone()).await;
    let r = h
        .http
        .post(format!("{}/sessions/universal-logout", second.issuer))
        .form(&[("sub", field(&sessions, "sub"))])
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["location"], "/sessions?done=universal");
    assert_eq!(second.stats().universal_logouts_sent, 1);
    assert!(!signed_in(&at_second).await && !signed_in(&again_second).await);
    assert!(signed_in(&at_default).await);
}

/// The same address at two providers: asking for one provider's sessions by email leaves the
/// other's in the index (it used to drop them as stale, so the other provider's Universal
/// Logout by email then found nobody).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_email_lookup_for_one_provider_keeps_the_others_indexed() {
    use signin::auth::index::{Who, sessions_of};
    let (h, second, _dir) = two_providers(&[]).await;
    for provider in ["default", "second"] {
        let mut jar = Jar::default();
        let authorize = h
            .get(&mut jar, &format!("/login?provider={provider}"))
            .await
            .location()
            .unwrap()
            .to_string();
        let back = h.decide(&authorize, &[("user", "0")]).await;
        h.callback(&mut jar, &back).await;
    }
    // the first demo user at both
    let email = "ada@example.com".to_string();
    let who = |iss: &str| Who::Email {
        iss: iss.to_string(),
        email: email.clone(),
    };
    let store = &h.state.keeper.store;
    for _ in 0..2 {
        let at_second = sessions_of(store, &who(&second.issuer)).await.unwrap();
        assert_eq!(at_second.len(), 1);
        assert_eq!(at_second[0].1.verified.provider, "second");
        let at_default = sessions_of(store, &who(&h.provider().issuer))
            .await
            .unwrap();
        assert_eq!(at_default.len(), 1, "still indexed");
        assert_eq!(at_default[0].1.verified.provider, "default");
    }
}

/// Two providers with one issuer could not be told apart (sign-outs are routed by issuer):
/// the app does not start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_providers_with_one_issuer_do_not_start() {
    let (h, _second, _dir) = two_providers(&[]).await;
    let mut s = (*h.state.settings).clone();
    s.providers[0].oidc.issuer = s.oidc.issuer.clone();
    let built = signin::testing::TestApp::builder()
        .settings(s, None)
        .build()
        .await;
    let Err(e) = built else {
        panic!("started with two providers of one issuer")
    };
    assert!(e.contains("another provider's issuer"), "{e}");
}
