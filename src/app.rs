//! The app shell and router: which pages exist and which need sign-in.
//!
//! The app renders in islands mode (ARCHITECTURE.md, "Rendering"): these components run on the
//! server only; the browser hydrates just the `#[island]`s, and the islands router turns link
//! clicks into server renders diffed into the page.
//!
//! Every route's view is wrapped in [`Guard`]: `protected=true` pages always need sign-in;
//! the others need it only when settings require sign-in everywhere and the path is not in
//! the public list. Routes render with `SsrMode::Async` so the guard's redirect can still set
//! the status and `Location` header of a full page load.

use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::{
    SsrMode,
    components::{Route, Router, Routes},
    path,
};

use crate::{
    auth::{
        guard::{Guard, provide_auth},
        policy::{ADMINS, Require},
    },
    components::nav::Nav,
    pages::{
        about::AboutPage,
        admin::AdminPage,
        auth_error::AuthErrorPage,
        home::HomePage,
        not_found::NotFound,
        profile::ProfilePage,
        reports::ReportsPage,
        sensitive::{SENSITIVE_MAX_AGE, SensitivePage},
        sign_in::SignInChooser,
    },
};

/// The HTML document around the app (server side).
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    crate::csp::send_content_security_policy(options.env == leptos::config::Env::DEV);
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light dark" />
                // live reload for `cargo leptos watch` only
                {(options.env == leptos::config::Env::DEV).then(|| view! { <AutoReload options=options.clone() /> })}
                <AppScripts options />
                <LeaveAppForms />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// Leptos' hydration scripts, with its islands loader as a cached file
/// (`crate::boot_script`) rather than inline in every page; Leptos' own inline scripts when
/// that is not available (and in the browser build, where the shell never renders).
#[component]
fn AppScripts(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(boot) = crate::boot_script::boot(&options) {
        // what `HydrationScripts` does in islands mode: only islands carry hydration keys
        if let Some(context) = Owner::current_shared_context() {
            context.set_is_hydrating(false);
        }
        let nonce = leptos::nonce::use_nonce();
        return view! {
            <link rel="modulepreload" href=boot.js_href.clone() />
            <link
                rel="preload"
                href=boot.wasm_href.clone()
                r#as="fetch"
                r#type="application/wasm"
                crossorigin=""
            />
            <script type="module" src=boot.path.clone() nonce=nonce></script>
        }
        .into_any();
    }
    view! { <HydrationScripts options islands=true islands_router=true /> }.into_any()
}

/// Forms marked `data-leave` (sign-out) submit as plain page loads: the islands router turns
/// every form submission into a `fetch`, which cannot follow the provider's cross-origin
/// redirect, and it offers no opt-out. A capturing listener on `window` runs before the
/// router's and stops the event there, so the browser's own submission goes ahead. Written by
/// hand (a few lines, carrying the page's CSP nonce) because no library does this; it works
/// from the first paint, before the WebAssembly has loaded.
#[component]
fn LeaveAppForms() -> impl IntoView {
    const SCRIPT: &str = "addEventListener('submit',e=>{if(e.target.closest('form[data-leave]'))e.stopPropagation()},true)";
    view! { <script nonce=leptos::nonce::use_nonce()>{SCRIPT}</script> }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    provide_auth();

    view! {
        <Stylesheet id="leptos" href="/pkg/signin.css" />
        <Title text="Signin — OpenID Connect for Leptos" />
        <Router>
            <Nav />
            <main class="container">
                <Routes fallback=|| view! { <NotFound /> }>
                    <Route
                        path=path!("/")
                        view=|| view! { <Guard><HomePage /></Guard> }
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=path!("/about")
                        view=|| view! { <Guard><AboutPage /></Guard> }
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=path!("/profile")
                        view=|| view! { <Guard protected=true><ProfilePage /></Guard> }
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=path!("/reports")
                        view=|| view! { <Guard protected=true><ReportsPage /></Guard> }
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=path!("/admin")
                        view=|| view! { <Guard require=Require::group(ADMINS)><AdminPage /></Guard> }
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=path!("/settings/sensitive")
                        view=|| view! {
                            <Guard require=Require::recent_sign_in(SENSITIVE_MAX_AGE)>
                                <SensitivePage />
                            </Guard>
                        }
                        ssr=SsrMode::Async
                    />
                    <Route path=path!("/auth/error") view=AuthErrorPage ssr=SsrMode::Async />
                    <Route path=path!("/auth/sign-in") view=SignInChooser ssr=SsrMode::Async />
                </Routes>
            </main>
        </Router>
    }
}
