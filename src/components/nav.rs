//! The navigation bar: brand, links, and who is signed in (with Sign in / Sign out). Rendered
//! by the server on every page and navigation; for a signed-in person the [`SessionLive`]
//! island beside the name listens to the live session channel and switches the bar to the
//! signed-out state when the session ends.

use leptos::either::Either;
use leptos::prelude::*;
use leptos_router::components::A;

use crate::{
    auth::{
        guard::{allowed, use_auth},
        policy::{ADMINS, Require},
    },
    components::session_live::SessionLive,
};

#[component]
pub fn Nav() -> impl IntoView {
    let auth = use_auth();
    view! {
        <header class="nav">
            <div class="container nav-inner">
                <A href="/" attr:class="brand">
                    <span class="logo" aria-hidden="true">"◆"</span>
                    " Signin"
                </A>
                <nav class="links">
                    <A href="/profile">"Profile"</A>
                    <A href="/reports">"Reports"</A>
                    // shown to those it is open to (the page checks again)
                    {allowed(&Require::group(ADMINS)).then(|| view! { <A href="/admin">"Admin"</A> })}
                    <A href="/about">"About"</A>
                </nav>
                <div class="who">
                    {match auth.user {
                        Some(user) => Either::Left(view! {
                            // the person, for the islands' `use_user()`
                            <span
                                class="signed-in"
                                data-sub=user.sub.clone()
                                data-name=user.name.clone()
                                data-email=user.email.clone()
                                data-username=user.preferred_username.clone()
                            >
                                <span class="user" data-testid="nav-user">{user.display_name().to_string()}</span>
                                <SignOutButton />
                            </span>
                            <SessionLive />
                        }),
                        None => Either::Right(view! { <SignInLink /> }),
                    }}
                </div>
            </div>
        </header>
    }
}

/// A link to `/login` (a full page load: sign-in leaves the app).
#[component]
pub fn SignInLink(#[prop(optional, into)] class: Option<String>) -> impl IntoView {
    view! {
        <a href="/login" rel="external" class=class.unwrap_or_else(|| "button".into())>
            "Sign in"
        </a>
    }
}

/// A plain form that POSTs to `/logout`, which ends the session and redirects (303) to the
/// provider's end-session endpoint. `data-leave` keeps the islands router from turning it into
/// a `fetch` (see `app::LeaveAppForms`), so it behaves the same with or without JavaScript.
#[component]
pub fn SignOutButton() -> impl IntoView {
    view! {
        <form method="post" action="/logout" class="inline" data-leave="">
            <button type="submit" class="button secondary" data-testid="sign-out">
                "Sign out"
            </button>
        </form>
    }
}
