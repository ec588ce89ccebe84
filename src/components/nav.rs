//! The navigation bar: brand, links, and who is signed in (with Sign in / Sign out). Rendered
//! by the server on every page and navigation; for a signed-in person the "who" part is the
//! [`SessionLive`] island, which switches to the signed-out state when the session ends.

use leptos::either::Either;
use leptos::prelude::*;
use leptos_router::components::A;

use crate::{auth::guard::use_auth, components::session_live::SessionLive};

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
                    <A href="/about">"About"</A>
                </nav>
                <div class="who">
                    {match auth.user {
                        Some(user) => Either::Left(view! {
                            <SessionLive name=user.display_name().to_string() />
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
