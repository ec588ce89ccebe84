//! The navigation bar: brand, links, and who is signed in (with Sign in / Sign out).

use leptos::either::Either;
use leptos::prelude::*;
use leptos_router::components::A;

use crate::auth::{api::Logout, guard::use_auth};

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
                    {move || match auth.user.get() {
                        Some(user) => Either::Left(view! {
                            <span class="user" data-testid="nav-user">{user.display_name().to_string()}</span>
                            <SignOutButton />
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

/// POSTs to `/logout`. Works before hydration (a plain form) and after (a server action,
/// followed by the redirect to the provider's end-session endpoint).
#[component]
pub fn SignOutButton() -> impl IntoView {
    let auth = use_auth();
    let logout = ServerAction::<Logout>::new();
    Effect::new(move |_| {
        if logout.version().get() > 0 {
            auth.user.set(None);
        }
    });
    view! {
        <ActionForm action=logout attr:class="inline">
            <button type="submit" class="button secondary" data-testid="sign-out">
                "Sign out"
            </button>
        </ActionForm>
    }
}
