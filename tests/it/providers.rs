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
    let dir = tempfile::tempdir().unwrap();
    let second_dir = dir.path().join("second");
    std::fs::create_dir_all(second_dir.join("dev-provider")).unwrap();
    std::fs::write(
        second_dir.join("dev-provider").join("key.pem"),
        shared_key_pem().unwrap(),
    )
    .unwrap();
    let second = signin::dev_provider::start(&settings(&[], &second_dir))
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
