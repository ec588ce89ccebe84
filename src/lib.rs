//! Signin: a Leptos full-stack app that signs people in through OpenID Connect.
//!
//! One crate, two builds: `ssr` (the axum server, with everything that touches tokens) and
//! `hydrate` (the WASM app, which only ever sees display claims). See `ARCHITECTURE.md`.

// The typed view trees of islands inside guarded routes nest deeper than rustc's default
// query depth in release builds (debug builds erase component types and stay shallow).
#![recursion_limit = "256"]

pub mod app;
pub mod auth;
pub mod components;
pub mod pages;

#[cfg(feature = "ssr")]
pub mod boot_script;
#[cfg(feature = "ssr")]
pub mod csp;
#[cfg(feature = "ssr")]
pub mod csrf;
#[cfg(feature = "ssr")]
pub mod doctor;
#[cfg(feature = "ssr")]
pub mod limits;
#[cfg(feature = "ssr")]
pub mod metrics;
#[cfg(feature = "ssr")]
pub mod path_check;
#[cfg(feature = "ssr")]
pub mod plain_page;
#[cfg(feature = "ssr")]
pub mod response_headers;
#[cfg(feature = "ssr")]
pub mod secret;
#[cfg(feature = "ssr")]
pub mod serve;
#[cfg(feature = "ssr")]
pub mod server;
#[cfg(feature = "ssr")]
pub mod session_cookie;
#[cfg(feature = "ssr")]
pub mod settings;
#[cfg(feature = "ssr")]
pub mod signing_key;
#[cfg(feature = "ssr")]
pub mod startup;
#[cfg(feature = "ssr")]
pub mod state;
#[cfg(feature = "ssr")]
pub mod stores;
#[cfg(feature = "ssr")]
pub mod util;

#[cfg(all(feature = "ssr", feature = "dev-provider"))]
pub mod dev_provider;

#[cfg(feature = "bench")]
pub mod bench_support;

#[cfg(all(feature = "ssr", feature = "testing"))]
pub mod testing;

/// Called by Leptos' island script once the WebAssembly has loaded; the script then hydrates
/// each `<leptos-island>` on the page (and the islands router those of later navigations).
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    // Panic messages in the browser console in debug builds; release builds leave the hook
    // (and the formatting code it pulls in) out of the WebAssembly.
    #[cfg(debug_assertions)]
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_islands();
    // Marks the page as interactive once the islands on it have hydrated (the script hydrates
    // them right after this call, before the next task); the end-to-end tests wait for it.
    leptos::prelude::set_timeout(
        || {
            if let Some(body) = leptos::prelude::document().body() {
                let _ = body.set_attribute("data-hydrated", "true");
            }
        },
        std::time::Duration::ZERO,
    );
}
