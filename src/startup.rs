//! Start-up: settings, logging, the development provider (when no issuer is configured), the
//! session store, the listener. Every failure is one clear line on stderr and a non-zero exit.

use std::{path::Path, process::ExitCode};

use leptos::config::get_configuration;

use crate::{server::app, settings::Settings, state::AppState};

/// Reads `.env` and the Okta CLI's `.okta.env` (both git-ignored) into the environment;
/// variables already set win.
pub fn load_dotenv() {
    for file in [".env", ".okta.env"] {
        if Path::new(file).exists()
            && let Err(e) = dotenvy::from_filename(file)
        {
            eprintln!("warning: could not read {file}: {e}");
        }
    }
}

/// Logs to stderr; `RUST_LOG` overrides the default filter.
pub fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,tower_sessions=warn,tower_sessions_core=warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .try_init();
}

/// Builds the session store named by `SESSION_STORE`, and the lock that goes with it.
pub use crate::stores::build as build_store;

fn fail(line: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {line}");
    ExitCode::FAILURE
}

/// `signin jwk`: prints the public JWK of the client key (`OIDC_CLIENT_PRIVATE_KEY_FILE`) to
/// paste into the provider's app settings (Okta: General → Client Credentials → Public key
/// / Private key → Add key). `signin jwk --generate FILE`: makes a new EC P-256 key there
/// first (owner-only; never over an existing file) and says which settings to set.
pub fn jwk(args: &[std::ffi::OsString]) -> ExitCode {
    use crate::signing_key::SigningKey;
    let print = |key: &SigningKey| match serde_json::to_string_pretty(key.public_jwk()) {
        Ok(json) => {
            println!("{json}");
            ExitCode::SUCCESS
        }
        Err(e) => fail(format!("jwk: {e}")),
    };
    match args {
        [] => {
            load_dotenv();
            let settings = match Settings::load(Path::new(&crate::settings::file_path())) {
                Ok(s) => s,
                Err(e) => return fail(e),
            };
            match &settings.oidc.client_key {
                Some(key) => print(key),
                None => fail(
                    "no client key: set OIDC_TOKEN_AUTH_METHOD=private_key_jwt and OIDC_CLIENT_PRIVATE_KEY_FILE (or make one with `signin jwk --generate FILE`)",
                ),
            }
        }
        [flag, file] if flag == "--generate" => {
            let path = Path::new(file);
            if path.exists() {
                return fail(format!(
                    "{} exists; it is left as it is (`signin jwk` prints its public key)",
                    path.display()
                ));
            }
            match SigningKey::generate_into(path, None) {
                Ok(key) => {
                    eprintln!(
                        "wrote a new EC P-256 private key to {}; set OIDC_TOKEN_AUTH_METHOD=private_key_jwt and OIDC_CLIENT_PRIVATE_KEY_FILE={}, and give the provider this public key:",
                        path.display(),
                        path.display()
                    );
                    print(&key)
                }
                Err(e) => fail(e),
            }
        }
        _ => fail("usage: signin jwk [--generate FILE]"),
    }
}

/// `signin doctor`: the provider set-up checked the way sign-in will use it, one line per
/// finding on stdout (`crate::doctor`); exit status 1 when one is an error. Without an issuer
/// it checks the development provider (when compiled in).
pub async fn doctor() -> ExitCode {
    load_dotenv();
    let settings_path = crate::settings::file_path();
    #[allow(unused_mut)]
    let mut settings = match Settings::load(Path::new(&settings_path)) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    #[cfg(feature = "dev-provider")]
    let _dev = if settings.oidc.issuer.is_none() {
        match crate::dev_provider::start(&settings).await {
            Ok(dev) => {
                dev.configure(&mut settings);
                println!("(no OIDC_ISSUER: checking the embedded development provider)");
                Some(dev)
            }
            Err(e) => return fail(format!("development provider: {e}")),
        }
    } else {
        None
    };
    let report = crate::doctor::check(&settings).await;
    for finding in &report.0 {
        println!("{finding}");
    }
    let mut errors = report.has_errors();
    // every [[providers]] entry, checked the same way (its secret: PROVIDER_<ID>_CLIENT_SECRET)
    for p in &settings.providers {
        println!();
        println!(
            "(provider {:?}, {}: secret in {})",
            p.id,
            p.name,
            crate::settings::secret_variable(&p.id)
        );
        let mut one = settings.clone();
        one.oidc = p.oidc.clone();
        let report = crate::doctor::check(&one).await;
        for finding in &report.0 {
            println!("{finding}");
        }
        errors |= report.has_errors();
    }
    if errors {
        println!("sign-in will not work until the errors above are fixed");
        ExitCode::FAILURE
    } else {
        println!("no errors");
        ExitCode::SUCCESS
    }
}

pub async fn run() -> ExitCode {
    load_dotenv();
    init_tracing();

    let settings_path = crate::settings::file_path();
    let conf = if Path::new(&settings_path).exists() {
        get_configuration(Some(&settings_path))
    } else {
        get_configuration(None)
    };
    let leptos_options = match conf {
        Ok(c) => c.leptos_options,
        Err(e) => return fail(format!("settings: Leptos options in {settings_path}: {e}")),
    };
    let mut settings = match Settings::load(Path::new(&settings_path)) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    // Leptos' own options (its file or LEPTOS_ENV) may say production too.
    settings.app.production |= leptos_options.env == leptos::config::Env::PROD;
    if settings.app.production
        && let Err(e) = settings.require_for_production()
    {
        return fail(e);
    }

    #[cfg(feature = "dev-provider")]
    let _dev = if settings.oidc.issuer.is_none() {
        match crate::dev_provider::start(&settings).await {
            Ok(dev) => {
                dev.configure(&mut settings);
                tracing::warn!(
                    "*** DEVELOPMENT PROVIDER: no OIDC_ISSUER is set, so sign-in uses the embedded development \
                     OpenID Provider at {} (demo users, no passwords). To use Okta, set OIDC_ISSUER, OIDC_CLIENT_ID \
                     and OIDC_CLIENT_SECRET (or run `okta apps create web` and keep its .okta.env here). ***",
                    dev.issuer
                );
                Some(dev)
            }
            Err(e) => return fail(format!("development provider: {e}")),
        }
    } else {
        None
    };
    #[cfg(not(feature = "dev-provider"))]
    if settings.oidc.issuer.is_none() {
        return fail(
            "settings: OIDC_ISSUER is not set (and the development provider is compiled out)",
        );
    }

    let (store, locks) = match build_store(&settings.session).await {
        Ok(s) => s,
        Err(e) => return fail(format!("SESSION_STORE {}: {e}", settings.session.store)),
    };
    let addr = leptos_options.site_addr;
    let store_name = settings.session.store.to_string();
    let issuer = settings.oidc.issuer.clone().unwrap_or_default();
    let app_url = settings.app_base();
    let state = match AppState::new(leptos_options, settings, store, locks) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    if let Err(e) =
        crate::stores::connect_relay(&state.settings.session, state.keeper.events.clone()).await
    {
        return fail(format!("SESSION_STORE {store_name} (session events): {e}"));
    }
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => return fail(format!("cannot listen on {addr} (LEPTOS_SITE_ADDR): {e}")),
    };
    if let Some(metrics_addr) = state.settings.metrics.addr {
        if metrics_addr == addr {
            return fail(format!(
                "METRICS_ADDR {metrics_addr} is the app's own address (LEPTOS_SITE_ADDR): give /metrics an address of its own"
            ));
        }
        let metrics_listener = match tokio::net::TcpListener::bind(metrics_addr).await {
            Ok(l) => l,
            Err(e) => {
                return fail(format!(
                    "cannot listen on {metrics_addr} (METRICS_ADDR): {e}"
                ));
            }
        };
        tracing::info!(%metrics_addr, "serving /metrics");
        let router = crate::server::metrics_app(state.clone());
        // the same header timeout and connection limit as the app's listener
        let limits = crate::serve::ConnectionLimits {
            header_timeout: state.settings.limits.header_timeout,
            max_connections: 64,
        };
        tokio::spawn(async move {
            let forever = std::future::pending::<()>();
            if let Err(e) = crate::serve::serve(metrics_listener, router, limits, forever).await {
                tracing::error!(error = %e, "the /metrics listener stopped");
            }
        });
    }
    tracing::info!(%addr, %app_url, %issuer, store = %store_name, "listening");
    let limits = crate::serve::ConnectionLimits {
        header_timeout: state.settings.limits.header_timeout,
        max_connections: state.settings.limits.max_connections,
    };
    let events = state.keeper.events.clone();
    let stop = async move {
        shutdown_signal().await;
        events.close_all(); // open live channels end now, so the graceful stop need not wait
    };
    let served = crate::serve::serve(listener, app(state), limits, stop).await;
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(format!("server: {e}")),
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
