//! Route guards for the reactive router.
//!
//! [`Guard`] wraps a route's view. When the route needs sign-in and nobody is signed in, it
//! sends the browser to `/login?return_to=<this page>`: a 302 during server rendering (the
//! request's session is already resolved, so this is decided at once), a full navigation in
//! the browser after client-side navigation (it asks the `get_auth_status` server function;
//! sign-in leaves the app for the provider). The guard is UX; the security boundary is the
//! server functions, which check the session themselves.

use leptos::either::{EitherOf3, EitherOf4};
use leptos::prelude::*;
use leptos::server::SharedValue;
use leptos_router::hooks::use_location;
use serde::{Deserialize, Serialize};

use super::{
    api::get_auth_status,
    return_to::login_url,
    types::{ApiError, User},
};

/// The app-wide view of who is signed in (navigation bar, home page).
///
/// Known at once during server rendering (the request's session is resolved) and handed to
/// the browser with the page; updated when the guard asks the server after client-side
/// navigation and when the person signs out.
#[derive(Clone, Copy)]
pub struct AuthContext {
    pub user: RwSignal<Option<User>>,
}

/// Provides [`AuthContext`]; call once in the app root.
pub fn provide_auth() -> AuthContext {
    let user = SharedValue::new(user_now).into_inner();
    let ctx = AuthContext {
        user: RwSignal::new(user),
    };
    provide_context(ctx);
    ctx
}

#[cfg(feature = "ssr")]
fn user_now() -> Option<User> {
    super::api::ssr::current_auth()
        .signed_in()
        .map(|s| s.verified.user.clone())
}

/// Only reached in the browser outside hydration, which the app root never is.
#[cfg(not(feature = "ssr"))]
fn user_now() -> Option<User> {
    None
}

pub fn use_auth() -> AuthContext {
    use_context::<AuthContext>().unwrap_or_else(provide_auth)
}

/// Sends the browser to sign-in, coming back to `path` afterwards.
pub fn go_to_login(path: &str) {
    let url = login_url(path);
    // During server rendering this is always a page load: a plain 302.
    #[cfg(feature = "ssr")]
    if let Some(res) = use_context::<leptos_axum::ResponseOptions>()
        && let Ok(value) = axum::http::HeaderValue::from_str(&url)
    {
        res.insert_header(axum::http::header::LOCATION, value);
        res.set_status(axum::http::StatusCode::FOUND);
    }
    #[cfg(not(feature = "ssr"))]
    {
        let _ = window().location().set_href(&url);
    }
}

/// The current path with its query string.
pub fn current_path() -> String {
    let location = use_location();
    let path = location.pathname.get_untracked();
    let search = location.search.get_untracked();
    if search.is_empty() {
        path
    } else {
        format!("{path}?{}", search.trim_start_matches('?'))
    }
}

/// What the guard decided for this page.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
enum Decision {
    Allowed,
    SignIn,
    Unavailable(ApiError),
    /// Client-side navigation: ask the server.
    Ask,
}

/// Renders `children` only for a signed-in person when the route needs it (`protected`, or
/// sign-in required everywhere by settings and the path is not public).
///
/// During server rendering the request's session is already resolved, so the decision is
/// made at once and shared with the browser (a [`SharedValue`]), which hydrates exactly what
/// the server rendered. After client-side navigation the browser asks the server.
#[component]
pub fn Guard(#[prop(optional)] protected: bool, children: ChildrenFn) -> impl IntoView {
    let path = current_path();
    let bare_path = use_location().pathname.get_untracked();
    let decision = SharedValue::new({
        let bare_path = bare_path.clone();
        move || decide_now(&bare_path, protected)
    })
    .into_inner();
    match decision {
        Decision::Allowed => EitherOf4::A(children()),
        Decision::SignIn => {
            go_to_login(&path);
            EitherOf4::B(view! { <p class="muted">"Redirecting to sign-in…"</p> })
        }
        Decision::Unavailable(error) => EitherOf4::C(view! { <ErrorNotice error /> }),
        Decision::Ask => EitherOf4::D(view! { <AskServer protected path bare_path children /> }),
    }
}

/// The decision from the request's resolved session (server rendering).
#[cfg(feature = "ssr")]
fn decide_now(path: &str, protected: bool) -> Decision {
    use super::api::ssr::current_auth;
    let Some(state) = use_context::<crate::state::AppState>() else {
        return Decision::Unavailable(ApiError::Internal);
    };
    if !state.guard_policy().requires_sign_in(path, protected) {
        return Decision::Allowed;
    }
    match current_auth().require() {
        Ok(_) => Decision::Allowed,
        Err(ApiError::Unauthorized) => Decision::SignIn,
        Err(e) => Decision::Unavailable(e),
    }
}

/// In the browser outside hydration there is no request to look at: ask the server.
#[cfg(not(feature = "ssr"))]
fn decide_now(_path: &str, _protected: bool) -> Decision {
    Decision::Ask
}

/// The guard after client-side navigation: a fresh check with the server.
#[component]
fn AskServer(
    protected: bool,
    path: String,
    bare_path: String,
    children: ChildrenFn,
) -> impl IntoView {
    let check = Resource::new(|| (), |_| get_auth_status());
    let children = StoredValue::new(children);
    let auth = use_auth();
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Checking your session…"</p> }>
            {move || {
                let path = path.clone();
                let bare_path = bare_path.clone();
                Suspend::new(async move {
                    let status = check.await;
                    if let Ok(status) = &status {
                        auth.user.set(status.user.clone());
                    }
                    match status {
                        Ok(status) if status.policy.requires_sign_in(&bare_path, protected) => {
                            match (status.user, status.unavailable) {
                                (Some(_), _) => EitherOf3::B(children.read_value()()),
                                (None, Some(error)) => EitherOf3::C(view! { <ErrorNotice error /> }),
                                (None, None) => {
                                    go_to_login(&path);
                                    EitherOf3::A(view! { <p class="muted">"Redirecting to sign-in…"</p> })
                                }
                            }
                        }
                        Ok(_) => EitherOf3::B(children.read_value()()),
                        Err(error) => EitherOf3::C(view! { <ErrorNotice error /> }),
                    }
                })
            }}
        </Suspense>
    }
}

/// A server-function error in plain words, with a way back.
#[component]
pub fn ErrorNotice(error: ApiError) -> impl IntoView {
    #[cfg(feature = "ssr")]
    {
        super::api::ssr::failed(error.clone());
    }
    view! {
        <section class="card error" role="alert">
            <h1>"We could not load this page"</h1>
            <p>{error.to_string()}</p>
            <p>
                <a class="button" href=current_path() rel="external">"Try again"</a>
                " "
                <a class="button secondary" href="/">"Home"</a>
            </p>
        </section>
    }
}
