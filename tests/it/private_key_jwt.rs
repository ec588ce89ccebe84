//! private_key_jwt client authentication (issue 16; RFC 7523): with
//! `OIDC_TOKEN_AUTH_METHOD=private_key_jwt` every client-authenticated call — PAR, the code
//! exchange, refresh, revocation — carries a fresh client assertion signed with the client's
//! key, and no secret. The development provider registers the app's public key and then takes
//! nothing else, so these tests cannot pass on a secret.

use std::{path::PathBuf, time::Duration};

use axum::http::StatusCode;
use serde_json::{Value, json};
use signin::{
    auth::oidc::client_auth::ASSERTION_TYPE, dev_provider::CLIENT_ID, signing_key::SigningKey,
};

use crate::common::{Harness, Jar};

/// A client key in a temporary directory (kept alive by the returned guard).
fn key_file() -> (tempfile::TempDir, PathBuf, SigningKey) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("client.pem");
    let (key, pem) = SigningKey::generate(None).unwrap();
    std::fs::write(&path, pem).unwrap();
    (dir, path, key)
}

async fn harness(path: &std::path::Path) -> Harness {
    Harness::dev(&[
        ("OIDC_TOKEN_AUTH_METHOD", "private_key_jwt"),
        ("OIDC_CLIENT_PRIVATE_KEY_FILE", path.to_str().unwrap()),
    ])
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_refresh_and_sign_out_authenticate_with_assertions() {
    let (_dir, path, _) = key_file();
    let h = harness(&path).await;
    let issuer = h.provider().issuer.clone();
    let doc: Value = h
        .http
        .get(format!("{issuer}/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        doc["token_endpoint_auth_methods_supported"],
        json!(["private_key_jwt"])
    );

    // sign-in: PAR (client-authenticated) and the code exchange
    let mut jar = Jar::default();
    let r = h.sign_in(&mut jar, Some("/profile")).await;
    assert_eq!(r.location(), Some("/profile"));
    let calls = &h.state.oidc().calls;
    assert_eq!(calls.par.load(std::sync::atomic::Ordering::Relaxed), 1);
    assert_eq!(h.provider().stats().token_calls, 1);

    // refresh
    h.age_access_token(&jar, Duration::from_secs(24 * 3600))
        .await;
    assert_eq!(h.get(&mut jar, "/profile").await.status, StatusCode::OK);
    assert_eq!(h.provider().stats().refresh_calls, 1);

    // sign-out revokes
    h.logout(&mut jar, Some(signin::testing::APP_URL)).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while h.provider().stats().revocations < 1 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(h.provider().stats().revocations, 1);
}

/// The development provider checks assertions as Okta does: the registered key only, this
/// client, its token endpoint, unexpired, and each one once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_provider_takes_only_fresh_assertions_by_the_registered_key() {
    let (_dir, path, key) = key_file();
    let h = harness(&path).await;
    let issuer = h.provider().issuer.clone();
    let token_endpoint = format!("{issuer}/token");
    let now = signin::util::now();
    let assertion = |key: &SigningKey, claims: Value| {
        let mut header = jsonwebtoken::Header::new(key.alg());
        header.kid = key.key_id().map(str::to_string);
        key.sign(header, &claims).unwrap()
    };
    let claims = |aud: &str, exp: i64, jti: &str| json!({"iss": CLIENT_ID, "sub": CLIENT_ID, "aud": aud, "iat": now, "exp": exp, "jti": jti});
    let post = |form: Vec<(&'static str, String)>| {
        let h = &h;
        let url = token_endpoint.clone();
        async move {
            let mut form = form;
            form.push(("grant_type", "refresh_token".into()));
            form.push(("refresh_token", "not-a-real-one".into()));
            let r = h.http.post(url).form(&form).send().await.unwrap();
            let status = r.status();
            let body: Value = r.json().await.unwrap();
            (
                status,
                body["error"].as_str().unwrap_or_default().to_string(),
            )
        }
    };
    let with = |jwt: String| {
        vec![
            ("client_id", CLIENT_ID.to_string()),
            ("client_assertion_type", ASSERTION_TYPE.to_string()),
            ("client_assertion", jwt),
        ]
    };
    let good = assertion(&key, claims(&token_endpoint, now + 60, "one"));
    // accepted as the client (the grant itself is made up) — once
    assert_eq!(
        post(with(good.clone())).await,
        (StatusCode::BAD_REQUEST, "invalid_grant".into())
    );
    assert_eq!(
        post(with(good)).await,
        (StatusCode::UNAUTHORIZED, "invalid_client".into()),
        "a replayed assertion"
    );
    let (other, _) = SigningKey::generate(None).unwrap();
    let refused = [
        (
            "another key",
            assertion(&other, claims(&token_endpoint, now + 60, "two")),
        ),
        (
            "another audience",
            assertion(
                &key,
                claims("https://elsewhere.example/token", now + 60, "three"),
            ),
        ),
        (
            "expired",
            assertion(&key, claims(&token_endpoint, now - 60, "four")),
        ),
        (
            "too long-lived",
            assertion(&key, claims(&token_endpoint, now + 7200, "five")),
        ),
        (
            "another client",
            assertion(
                &key,
                json!({"iss": "x", "sub": "x", "aud": token_endpoint, "exp": now + 60, "jti": "six"}),
            ),
        ),
    ];
    for (case, jwt) in refused {
        assert_eq!(
            post(with(jwt)).await,
            (StatusCode::UNAUTHORIZED, "invalid_client".into()),
            "{case}"
        );
    }
    // the secret is not this client's way any more
    let secret = h.provider().client_secret.expose().to_string();
    assert_eq!(
        post(vec![
            ("client_id", CLIENT_ID.to_string()),
            ("client_secret", secret)
        ])
        .await,
        (StatusCode::UNAUTHORIZED, "invalid_client".into())
    );
}

/// `signin jwk --generate FILE` makes a key (owner-only) and prints its public JWK; `signin
/// jwk` prints the configured key's; neither ever prints the private part.
#[test]
fn the_jwk_command_prints_the_public_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("client.pem");
    let run = |args: &[&str], env: &[(&str, &str)]| {
        let args: Vec<&str> = ["jwk"].into_iter().chain(args.iter().copied()).collect();
        crate::common::run_signin(&args, env, dir.path())
    };
    let (code, out, err) = run(&["--generate", file.to_str().unwrap()], &[]);
    assert_eq!(code, Some(0), "{err}");
    let jwk: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(jwk["kty"], "EC");
    assert_eq!(jwk["use"], "sig");
    assert!(jwk.get("d").is_none(), "{out}");
    assert!(err.contains("OIDC_CLIENT_PRIVATE_KEY_FILE"), "{err}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "owner-only");
    }
    let key = SigningKey::from_file(&file, None).unwrap();
    assert_eq!(jwk["kid"], key.thumbprint());

    // never over an existing file
    let before = std::fs::read(&file).unwrap();
    let (code, _, err) = run(&["--generate", file.to_str().unwrap()], &[]);
    assert_eq!(code, Some(1));
    assert!(err.contains("exists"), "{err}");
    assert_eq!(std::fs::read(&file).unwrap(), before);

    // the configured key, with its key id
    let (code, out, err) = run(
        &[],
        &[
            ("OIDC_TOKEN_AUTH_METHOD", "private_key_jwt"),
            ("OIDC_CLIENT_PRIVATE_KEY_FILE", file.to_str().unwrap()),
            ("OIDC_CLIENT_KEY_ID", "k-2026"),
        ],
    );
    assert_eq!(code, Some(0), "{err}");
    let printed: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(printed["kid"], "k-2026");
    assert_eq!(printed["x"], jwk["x"]);
    // without a key: one line saying what to set
    let (code, _, err) = run(&[], &[]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("OIDC_TOKEN_AUTH_METHOD=private_key_jwt"),
        "{err}"
    );
}
