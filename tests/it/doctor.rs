//! `signin doctor` (issue 16): the provider set-up checked the way sign-in uses it — against
//! the development provider, the scriptable one made to misbehave, and as the real binary
//! (its exit status). node-oidc-provider is checked from Playwright (`doctor.spec.ts`).

use std::process::Command;

use signin::doctor::{Level, Report, check};

use crate::common::{
    Harness,
    mock_op::{Behaviour, MockOp},
    redis::free_port,
};

fn level(report: &Report, topic: &str) -> Level {
    report
        .about(topic)
        .iter()
        .map(|f| f.level)
        .max_by_key(|l| *l as u8)
        .unwrap_or_else(|| panic!("no finding about {topic}: {report:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_development_provider_is_ready() {
    let h = Harness::dev(&[]).await;
    let report = check(&h.state.settings).await;
    assert!(!report.has_errors(), "{report:#?}");
    for topic in [
        "discovery",
        "clock",
        "endpoints",
        "grants",
        "scopes",
        "pkce",
        "client auth",
        "keys",
        "redirect",
        "credentials",
    ] {
        assert_eq!(level(&report, topic), Level::Ok, "{topic}: {report:#?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_and_an_unregistered_redirect_are_errors() {
    let h = Harness::dev(&[]).await;
    let mut settings = (*h.state.settings).clone();
    settings.oidc.client_secret = Some(signin::secret::Secret::new("not-the-secret"));
    let report = check(&settings).await;
    assert_eq!(level(&report, "credentials"), Level::Error, "{report:#?}");
    assert!(report.has_errors());

    let mut settings = (*h.state.settings).clone();
    settings.app.url = url::Url::parse("https://app.example").unwrap();
    let report = check(&settings).await;
    assert_eq!(level(&report, "redirect"), Level::Error, "{report:#?}");
    assert_eq!(level(&report, "cookie"), Level::Ok, "https: Secure");

    let mut settings = (*h.state.settings).clone();
    settings.app.url = url::Url::parse("http://app.example").unwrap();
    let report = check(&settings).await;
    assert_eq!(
        level(&report, "cookie"),
        Level::Error,
        "plain http off this machine"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_that_announces_another_issuer_or_is_down() {
    let op = MockOp::start(Behaviour {
        discovery_issuer: Some("https://someone-else.example".into()),
        ..Behaviour::default()
    })
    .await;
    let h = Harness::mock(&op, &[]).await;
    let report = check(&h.state.settings).await;
    let issuer = report.about("issuer");
    assert!(
        issuer.iter().any(|f| f.level == Level::Error
            && f.text
                .contains("set OIDC_ISSUER=https://someone-else.example")),
        "{report:#?}"
    );
    assert!(
        report.about("redirect").is_empty()
            && report.about("credentials")[0].text.contains("not tried"),
        "no credentials sent to another issuer's endpoints: {report:#?}"
    );

    op.set(|b| {
        b.discovery_issuer = None;
        b.discovery_fails = true;
    });
    let report = check(&h.state.settings).await;
    assert_eq!(level(&report, "discovery"), Level::Error, "{report:#?}");
}

/// An issuer that ends with `/` (Auth0) is fine: the app uses it as announced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_issuer_with_a_trailing_slash_is_fine() {
    let op = MockOp::start(Behaviour {
        issuer_trailing_slash: true,
        ..Behaviour::default()
    })
    .await;
    let h = Harness::mock(&op, &[]).await;
    let report = check(&h.state.settings).await;
    assert_eq!(level(&report, "issuer"), Level::Ok, "{report:#?}");
    assert!(
        !report.about("credentials")[0].text.contains("not tried"),
        "{report:#?}"
    );
}

/// The binary: `signin doctor` prints one line per finding and exits 1 on an error.
#[test]
fn the_binary_exits_non_zero_on_an_error() {
    let closed = free_port();
    let run = |env: &[(&str, String)]| {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port().to_string();
        let state = dir.path().display().to_string();
        let mut all: Vec<(&str, &str)> = vec![
            ("RUST_LOG", "off"),
            ("DEV_PROVIDER_PORT", &port),
            ("DEV_PROVIDER_STATE_DIR", &state),
        ];
        all.extend(env.iter().map(|(k, v)| (*k, v.as_str())));
        let (code, out, _) = crate::common::run_signin(&["doctor"], &all, dir.path());
        (code, out)
    };
    let (code, out) = run(&[
        ("OIDC_ISSUER", format!("http://127.0.0.1:{closed}")),
        ("OIDC_CLIENT_ID", "x".into()),
        ("OIDC_CLIENT_SECRET", "y".into()),
    ]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("ERROR discovery") && l.contains("cannot be reached")),
        "{out}"
    );
    // without an issuer: the development provider, ready
    let (code, out) = run(&[]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("development provider"), "{out}");
    assert!(out.trim_end().ends_with("no errors"), "{out}");

    let out = Command::new(env!("CARGO_BIN_EXE_signin"))
        .arg("docter")
        .output()
        .unwrap();
    assert!(!out.status.success(), "an unknown command");
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown command"));
}
