//! `/auth/error?reason=…`: a sign-in problem explained in plain words, with a way back.
//! The status code (4xx, or 503 when a dependency is down) is set during server rendering.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::auth::reason::ErrorReason;

#[component]
pub fn AuthErrorPage() -> impl IntoView {
    let query = use_query_map();
    let reason = move || ErrorReason::from_code(&query.read().get("reason").unwrap_or_default());
    #[cfg(feature = "ssr")]
    if let Some(res) = use_context::<leptos_axum::ResponseOptions>() {
        let status = axum::http::StatusCode::from_u16(reason().status())
            .unwrap_or(axum::http::StatusCode::BAD_REQUEST);
        res.set_status(status);
    }
    view! {
        <section class="card error" role="alert" data-testid="auth-error">
            <h1>{move || reason().title()}</h1>
            <p>{move || reason().explanation()}</p>
            <p class="muted">"Reference: " <code>{move || reason().code()}</code></p>
            <p>
                <a class="button" href="/login" rel="external">"Try signing in again"</a>
                " "
                <a class="button secondary" href="/" rel="external">"Back to the home page"</a>
            </p>
        </section>
    }
}
