//! The server's shape: [`app`], the one `Router` used by `main` and by the in-process tests,
//! over an [`AppState`](crate::state::AppState).
//!
//! Layers, outermost first: security headers → session (tower-sessions; cookie `sid`, or
//! `__Host-sid` over https) → [`resolve_auth`](crate::auth::middleware::resolve_auth) (who is
//! signed in, refresh when due, require-sign-in-everywhere) → routes: `/healthz`, the Leptos
//! pages and server functions (login, callback, logout, auth status, profile), the live
//! session channel `/auth/events`, the provider-facing `/backchannel-logout` and `/global-token-revocation`, static files.

use std::{path::PathBuf, sync::Arc};

use axum::{
    Router,
    body::Body,
    extract::{DefaultBodyLimit, Request, State},
    http::{HeaderMap, HeaderValue, Uri, header},
    middleware::{Next, from_fn_with_state},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use leptos::prelude::*;
use leptos_axum::{LeptosRoutes, generate_route_list};
use tower_http::services::ServeDir;

use crate::{
    app::{App, shell},
    auth::{
        api::ssr::Query,
        live,
        me::{ME_PATH, me},
        middleware::{AuthLayer, resolve_auth},
        provider_logout::{self, backchannel_logout, global_token_revocation},
        redirect::response as see_other,
        routes::{
            BACKCHANNEL_LOGOUT_PATH, DEFAULT_CALLBACK_PATH, EVENTS_PATH,
            GLOBAL_TOKEN_REVOCATION_PATH,
        },
    },
    csrf::Csrf,
    limits, path_check, response_headers, session_cookie,
    state::AppState,
};

/// The app's routes, generated once per process. Generating them runs the app with resource
/// loading suppressed through a process-global flag (leptos issue #4773): a page rendered in
/// that window would hang, so it must not happen while other requests are served — which
/// matters when several `app()`s live in one process, as in the tests.
fn route_list() -> Vec<leptos_axum::AxumRouteListing> {
    static ROUTES: std::sync::OnceLock<Vec<leptos_axum::AxumRouteListing>> =
        std::sync::OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}

/// The paths of the app's pages (its Leptos routes).
pub fn page_paths() -> Vec<String> {
    route_list().iter().map(|r| r.path().to_string()).collect()
}

/// The whole application as one `Router`.
pub fn app(state: AppState) -> Router {
    let sessions = session_cookie::layer(&state.settings, state.keeper.store.clone());
    let auth = AuthLayer {
        state: state.clone(),
        pages: Arc::new(page_paths().into_iter().collect()),
    };
    layered(&state, move |routes| {
        routes
            .layer(from_fn_with_state(auth, resolve_auth))
            .layer(sessions)
    })
}

/// Every route with every layer, the session check being what `session_check` adds (the
/// session layer and [`resolve_auth`]; the benchmark's twin puts a stand-in there, so the two
/// differ by exactly that).
fn layered(
    state: &AppState,
    session_check: impl FnOnce(Router<AppState>) -> Router<AppState>,
) -> Router {
    let csrf = Csrf {
        app_origin: state.settings.app_origin(),
    };
    let inner = routes(state)
        .layer(from_fn_with_state(state.clone(), repeated_params))
        // (before the one above) a third-party-initiated login from an unknown issuer, or
        // naming two, gets a page of its own: no redirect at all
        .layer(from_fn_with_state(
            state.clone(),
            crate::auth::initiate::refuse_unknown_issuer,
        ));
    let guarded = session_check(inner).layer(from_fn_with_state(csrf, Csrf::apply));
    let checked = limits::layer(guarded, &state.settings)
        .layer(axum::middleware::from_fn(path_check::refuse_unnormalized));
    response_headers::layer(checked, &state.settings).with_state(state.clone())
}

/// The application plus the benchmark's unguarded twin of every route under
/// `/__bench/unguarded/…`: the same routes and layers, with the session layer and the auth
/// middleware replaced by a stand-in handing every request a remembered session (see
/// `bench_support`), composed here so the auth code knows nothing of it.
#[cfg(feature = "bench")]
pub fn app_for_bench(state: AppState) -> Router {
    let unguarded = layered(&state, |routes| {
        routes.layer(axum::middleware::map_request(
            crate::bench_support::signed_in,
        ))
    });
    app(state).nest_service("/__bench/unguarded", unguarded)
}

/// `GET /metrics` alone (`crate::metrics`), for the listener `METRICS_ADDR` names: never on
/// the app's own address. Each scrape counts the store's sessions first.
pub fn metrics_app(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .with_state(state)
}

async fn metrics(State(state): State<AppState>) -> Response {
    let keeper = &state.keeper;
    match keeper.store.0.count_sessions().await {
        Ok(n) => keeper.metrics.set_sessions(n),
        // the other metrics are still worth having; the gauge keeps its last value
        Err(e) => tracing::warn!(error = %e, "metrics: could not count the sessions"),
    }
    (
        [(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)],
        keeper.metrics.encode(),
    )
        .into_response()
}

/// Every route, without the layers.
fn routes(state: &AppState) -> Router<AppState> {
    let routes = route_list();
    let context = {
        let state = state.clone();
        move || provide_context(state.clone())
    };
    let settings = state.settings.clone();
    let site_root = PathBuf::from(state.leptos_options.site_root.as_ref());
    let pkg_dir = site_root.join(state.leptos_options.site_pkg_dir.as_ref());

    let mut router = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(EVENTS_PATH, get(live::events))
        .route(ME_PATH, get(me))
        .route(
            BACKCHANNEL_LOGOUT_PATH,
            post(backchannel_logout).layer(DefaultBodyLimit::max(provider_logout::MAX_BODY)),
        )
        .route(
            GLOBAL_TOKEN_REVOCATION_PATH,
            post(global_token_revocation).layer(DefaultBodyLimit::max(provider_logout::MAX_BODY)),
        );
    #[cfg(feature = "bench")]
    {
        router = router.route(
            "/__bench/noop",
            get(|| async { axum::http::StatusCode::NO_CONTENT }),
        );
    }
    router = router.leptos_routes_with_context(state, routes, context.clone(), {
        let options = state.leptos_options.clone();
        move || shell(options.clone())
    });
    if settings.auth.callback_path != DEFAULT_CALLBACK_PATH {
        // The callback server function lives at the default path; serve it at the
        // configured one too (server-function paths are fixed at compile time).
        let context = context.clone();
        router = router.route(
            &settings.auth.callback_path,
            get(move |uri: Uri, req: Request<Body>| {
                let context = context.clone();
                async move {
                    let mut req = req;
                    let target = match uri.query() {
                        Some(q) => format!("{DEFAULT_CALLBACK_PATH}?{q}"),
                        None => DEFAULT_CALLBACK_PATH.to_string(),
                    };
                    if let Ok(u) = target.parse() {
                        *req.uri_mut() = u;
                    }
                    leptos_axum::handle_server_fns_with_context(context, req).await
                }
            }),
        );
    }
    if let Some(boot) = crate::boot_script::boot(&state.leptos_options) {
        let path = boot.path.clone();
        router = router.route(
            &path,
            get(move |headers: HeaderMap| {
                let boot = boot.clone();
                async move { boot.response(&headers) }
            }),
        );
    }
    router
        .nest_service(
            "/pkg",
            tower::ServiceBuilder::new()
                .map_response(pkg_cache_control)
                .service(
                    ServeDir::new(pkg_dir)
                        .precompressed_br()
                        .precompressed_gzip(),
                ),
        )
        .fallback(leptos_axum::file_and_error_handler_with_context::<
            AppState,
            _,
        >(context, shell))
}

/// Files under `/pkg/` are kept an hour (the loader's hashed name for ever: it sets its own);
/// anything else — a file this version does not have, asked for by a page of another version
/// during a rolling deploy — must not be kept at all.
fn pkg_cache_control<B>(mut res: axum::http::Response<B>) -> axum::http::Response<B> {
    let status = res.status();
    let value = if status.is_success() || status == axum::http::StatusCode::NOT_MODIFIED {
        "public, max-age=3600"
    } else {
        "no-store"
    };
    if !res.headers().contains_key(header::CACHE_CONTROL) {
        res.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static(value));
    }
    res
}

/// `/login` and the callback are server functions whose query string is decoded before our
/// code runs; a repeated parameter would fail there with an unfriendly decoding error. This
/// plain middleware answers such requests first: a callback with repeated parameters goes to
/// the error page (RFC 6749 forbids them), a login loses its query.
async fn repeated_params(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let is_callback = path == DEFAULT_CALLBACK_PATH || path == state.settings.auth.callback_path;
    if !(is_callback || path == "/login") {
        return next.run(req).await;
    }
    let repeated = Query::parse(req.uri().query().unwrap_or_default()).repeated;
    if !repeated {
        return next.run(req).await;
    }
    if is_callback {
        see_other("/auth/error?reason=state_mismatch")
    } else {
        see_other("/login")
    }
}
