//! Route guards, decided on the server.
//!
//! The app renders in islands mode: every page, including every client-side navigation made
//! by the islands router, is rendered by the server, so the guard is a server decision on the
//! request's already-resolved session. [`Guard`] wraps a route's view. When the route needs
//! sign-in and nobody is signed in it sends the browser to `/login?return_to=<this page>`:
//!
//! - a page load gets a plain 302;
//! - a navigation by the islands router (a `fetch`, which cannot follow the provider's
//!   cross-origin redirect) gets the page with the [`LeaveForSignIn`] island, which makes the
//!   browser load `/login` itself.
//!
//! A route can require more than sign-in — a group, a claim ([`Require`]): a person who is
//! signed in but not allowed gets a clear page with status 403 (on a page load and a
//! navigation alike), never a sign-in loop. A route can require a recent or stronger sign-in
//! (`Require::recent_sign_in`, `Require::acr`): a person whose sign-in is older or weaker is
//! sent to sign in again the same way, to `/login?return_to=…&max_age=…&prompt=login` or
//! `…&acr_values=…` (a step-up), and comes back to the page.
//!
//! The guard is UX; the security boundary is the server functions, which check the session
//! themselves (`super::require`), and the auth middleware when settings require sign-in
//! everywhere.

use leptos::either::EitherOf4;
use leptos::prelude::*;

use super::{
    policy::Require,
    return_to::login_url,
    types::{ApiError, User},
};

/// Who is signed in, for the server-rendered parts of the page (navigation bar, home page).
#[derive(Clone)]
pub struct AuthContext {
    pub user: Option<User>,
}

/// Provides [`AuthContext`] from the request's resolved session; call once in the app root.
pub fn provide_auth() -> AuthContext {
    let ctx = AuthContext { user: user_now() };
    provide_context(ctx.clone());
    ctx
}

#[cfg(feature = "ssr")]
fn user_now() -> Option<User> {
    super::api::ssr::current_auth()
        .signed_in()
        .map(|s| s.verified.user.clone())
}

/// Never called in the browser: only islands run there.
#[cfg(not(feature = "ssr"))]
fn user_now() -> Option<User> {
    None
}

pub fn use_auth() -> AuthContext {
    use_context::<AuthContext>().unwrap_or_else(provide_auth)
}

/// The signed-in person (display claims), or `None` — reactive, in any component:
///
/// - rendered on the server, from the request's session (it does not change while the page
///   renders);
/// - in an island, from the page (the navigation bar carries the person: `data-sub`, …), then
///   kept current by the live session channel: the new claims after a refresh, `None` once
///   the session ended (`crate::components::session_live`).
///
/// ```ignore
/// let user = use_user();
/// view! { <p>{move || user.get().map(|u| u.display_name().to_string())}</p> }
/// ```
///
/// What it shows is UX: a server function checks the session itself (`super::require`).
pub fn use_user() -> ReadSignal<Option<User>> {
    #[cfg(feature = "ssr")]
    return signal(use_auth().user).0;
    #[cfg(not(feature = "ssr"))]
    return browser_user::signal().read_only().into();
}

/// The signed-in person as the page knows it, in the browser (islands).
#[cfg(not(feature = "ssr"))]
mod browser_user {
    use std::cell::OnceCell;

    use leptos::prelude::*;

    use crate::auth::types::User;

    thread_local! {
        static USER: OnceCell<ArcRwSignal<Option<User>>> = const { OnceCell::new() };
    }

    /// One signal per page, read from the navigation bar the first time an island asks.
    pub fn signal() -> ArcRwSignal<Option<User>> {
        USER.with(|u| u.get_or_init(|| ArcRwSignal::new(from_page())).clone())
    }

    fn from_page() -> Option<User> {
        let bar = document().query_selector(".signed-in[data-sub]").ok()??;
        Some(User {
            sub: bar.get_attribute("data-sub")?,
            name: bar.get_attribute("data-name"),
            email: bar.get_attribute("data-email"),
            preferred_username: bar.get_attribute("data-username"),
        })
    }

    /// What the live channel learned; nothing to do when no island asked.
    pub fn changed(user: Option<User>) {
        USER.with(|u| {
            if let Some(s) = u.get() {
                s.set(user);
            }
        });
    }
}

/// The live session channel's news for [`use_user`] in the browser: the person after a
/// refresh, `None` once the session ended.
#[cfg(not(feature = "ssr"))]
pub fn user_changed(user: Option<User>) {
    browser_user::changed(user);
}

/// Whether the person viewing this page meets `requirement` (server-rendered components: to
/// show a link or a section only to those it is open to; the page or server function behind
/// it checks again). `false` when nobody is signed in.
pub fn allowed(requirement: &Require) -> bool {
    #[cfg(feature = "ssr")]
    return super::require::require_quietly(requirement).is_ok();
    #[cfg(not(feature = "ssr"))]
    {
        let _ = requirement;
        false
    }
}

/// The current path with its query string: the router's location on the server, the
/// window's in the browser (islands have no router).
pub fn current_path() -> String {
    #[cfg(feature = "ssr")]
    let (path, search) = {
        let location = leptos_router::hooks::use_location();
        (
            location.pathname.get_untracked(),
            location.search.get_untracked(),
        )
    };
    #[cfg(not(feature = "ssr"))]
    let (path, search) = {
        let location = window().location();
        (
            location.pathname().unwrap_or_default(),
            location.search().unwrap_or_default(),
        )
    };
    if search.is_empty() {
        path
    } else {
        format!("{path}?{}", search.trim_start_matches('?'))
    }
}

/// Was this request made by the islands router (client-side navigation)?
#[cfg(feature = "ssr")]
fn islands_router_navigation() -> bool {
    use_context::<leptos::hydration::IslandsRouterNavigation>().is_some()
}

/// Sends the browser to sign-in, coming back to `path` afterwards, from a server-rendered page:
/// a 302 for a page load, the [`LeaveForSignIn`] island for an islands-router navigation.
/// (Islands use [`leave_for_sign_in`].)
pub fn go_to_login(path: &str) -> impl IntoView + use<> {
    go_to_sign_in(login_url(path))
}

/// [`go_to_login`] to a sign-in URL of its own (`/login?…`, e.g. asking for a step-up).
fn go_to_sign_in(url: String) -> impl IntoView + use<> {
    #[cfg(feature = "ssr")]
    if let Some(res) = use_context::<leptos_axum::ResponseOptions>() {
        use axum::http::{HeaderValue, StatusCode, header};
        // Either answer depends on the session: never reuse it (as `auth::redirect` does).
        res.insert_header(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if !islands_router_navigation()
            && let Ok(value) = HeaderValue::from_str(&url)
        {
            res.insert_header(header::LOCATION, value);
            res.set_status(StatusCode::FOUND);
        }
    }
    view! { <LeaveForSignIn url /> }
}

/// Loads `url` (the app's `/login?return_to=…`) as a full page as soon as it hydrates: sign-in
/// leaves the app for the provider, which a client-side navigation cannot follow. Before (or
/// without) JavaScript it is a plain link.
#[island]
pub fn LeaveForSignIn(url: String) -> impl IntoView {
    #[cfg(not(feature = "ssr"))]
    {
        let url = url.clone();
        Effect::new(move |_| {
            let _ = window().location().set_href(&url);
        });
    }
    view! {
        <p class="muted">
            "Redirecting to sign-in… "
            <a href=url rel="external">"Continue"</a>
        </p>
    }
}

/// Sends the browser to sign-in from an island (a full page load), coming back here.
pub fn leave_for_sign_in() -> impl IntoView {
    #[cfg(not(feature = "ssr"))]
    {
        let _ = window().location().set_href(&login_url(&current_path()));
    }
    view! { <p class="muted">"Redirecting to sign-in…"</p> }
}

/// What the guard decided for this page (only ever decided on the server).
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(not(feature = "ssr"), allow(dead_code))]
enum Decision {
    Allowed,
    /// To this sign-in URL: nobody signed in, or a step-up.
    SignIn(String),
    NotAllowed,
    Unavailable(ApiError),
}

/// Renders `children` only for a signed-in person when the route needs it (`protected`, a
/// `require`ment, or sign-in required everywhere by settings and the path is not public), and
/// only to a person who meets `require` (403 otherwise).
///
/// ```ignore
/// <Route path=path!("/admin") view=|| view! {
///     <Guard require=Require::group("Admins")><AdminPage /></Guard>
/// } ssr=SsrMode::Async />
/// ```
#[component]
pub fn Guard(
    #[prop(optional)] protected: bool,
    #[prop(optional, into)] require: Option<Require>,
    children: ChildrenFn,
) -> impl IntoView {
    let bare_path = leptos_router::hooks::use_location()
        .pathname
        .get_untracked();
    match decide_now(&bare_path, protected, require.as_ref()) {
        Decision::Allowed => EitherOf4::A(children()),
        Decision::SignIn(url) => EitherOf4::B(go_to_sign_in(url)),
        Decision::NotAllowed => EitherOf4::C(view! { <ErrorNotice error=ApiError::NotAllowed /> }),
        Decision::Unavailable(error) => EitherOf4::D(view! { <ErrorNotice error /> }),
    }
}

/// The decision from the request's resolved session.
#[cfg(feature = "ssr")]
fn decide_now(path: &str, protected: bool, require: Option<&Require>) -> Decision {
    let Some(state) = use_context::<crate::state::AppState>() else {
        return Decision::Unavailable(ApiError::Internal);
    };
    let protected = protected || require.is_some();
    if !state.guard_policy().requires_sign_in(path, protected) {
        return Decision::Allowed;
    }
    let require = require.unwrap_or(&Require::SignedIn);
    let here = current_path();
    match super::require::require_quietly(require) {
        Ok(_) => Decision::Allowed,
        Err(ApiError::Unauthorized) => Decision::SignIn(require.sign_in_ask().login_url(&here)),
        Err(ApiError::StepUpRequired(query)) => {
            Decision::SignIn(super::return_to::login_url_with(&here, &query))
        }
        Err(ApiError::NotAllowed) => Decision::NotAllowed,
        Err(e) => Decision::Unavailable(e),
    }
}

/// Pages are rendered by the server only (islands mode); this is never called in the browser.
#[cfg(not(feature = "ssr"))]
fn decide_now(_path: &str, _protected: bool, _require: Option<&Require>) -> Decision {
    Decision::Unavailable(ApiError::Internal)
}

/// A server-function error in plain words, with a way back. Used by pages on the server and
/// by islands in the browser.
#[component]
pub fn ErrorNotice(error: ApiError) -> impl IntoView {
    #[cfg(feature = "ssr")]
    {
        super::api::ssr::failed(error.clone());
    }
    let title = match error {
        ApiError::NotAllowed => "This page is not open to you",
        _ => "We could not load this page",
    };
    view! {
        <section class="card error" role="alert" data-testid="error-notice">
            <h1>{title}</h1>
            <p>{error.to_string()}</p>
            <p>
                <a class="button" href=current_path() rel="external">"Try again"</a>
                " "
                <a class="button secondary" href="/" rel="external">"Home"</a>
            </p>
        </section>
    }
}
