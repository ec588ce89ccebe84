//! `/`: what the app is, and a way in (or a greeting). The greeting is an island that reads
//! `use_user()`: it says so at once when the session ends while the page is open (the live
//! session channel), without a reload.

use leptos::either::Either;
use leptos::prelude::*;
use leptos_router::components::A;

use crate::{
    auth::guard::{use_auth, use_user},
    components::nav::SignInLink,
};

#[component]
pub fn HomePage() -> impl IntoView {
    let auth = use_auth();
    view! {
        <section class="hero">
            <h1>"Sign-in done right, in Rust"</h1>
            <p class="lead">
                "A Leptos app that signs people in with OpenID Connect — Okta or any standard provider. "
                "Tokens never leave the server; pages render your profile on the server and stay live in the browser."
            </p>
            {match auth.user {
                Some(_) => Either::Left(view! {
                    <div class="card welcome">
                        <Greeting />
                        <p>
                            <A href="/profile" attr:class="button">"See your profile"</A>
                            " "
                            <A href="/reports" attr:class="button secondary">"Open reports"</A>
                        </p>
                    </div>
                }),
                None => Either::Right(view! {
                    <div class="card">
                        <p>"You are not signed in."</p>
                        <SignInLink />
                    </div>
                }),
            }}
        </section>
        <section class="grid">
            <article class="card">
                <h2>"Authorization code + PKCE"</h2>
                <p>"State, nonce and PKCE verifier live in the server-side session; the callback checks them all."</p>
            </article>
            <article class="card">
                <h2>"Validated ID tokens"</h2>
                <p>"Signature (RS256), issuer, audience, authorized party, expiry and nonce — by the openidconnect crate."</p>
            </article>
            <article class="card">
                <h2>"Sessions on the server"</h2>
                <p>"The browser holds only a session id in an HttpOnly cookie. Sign-out ends the session here and at the provider."</p>
            </article>
        </section>
    }
}

/// "Welcome back, Ada!" — or, once the session ended while the page is open, that it did.
#[island]
fn Greeting() -> impl IntoView {
    let user = use_user();
    view! {
        <p class="greeting" data-testid="greeting">
            {move || match user.get() {
                Some(u) => format!("Welcome back, {}!", u.display_name()),
                None => "You are signed out.".to_string(),
            }}
        </p>
    }
}
