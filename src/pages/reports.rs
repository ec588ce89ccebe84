//! `/reports`: a second protected page. Its data is read from the request's session while the
//! page renders, and is also a server function (`/api/reports`) that checks the session
//! itself (the route guard is only UX).

use leptos::either::EitherOf3;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::auth::{
    guard::{ErrorNotice, current_path, go_to_login},
    types::ApiError,
};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub title: String,
    pub value: String,
}

/// Reports for the signed-in person. `Unauthorized` without a session.
#[server(endpoint = "reports")]
pub async fn get_reports() -> Result<Vec<Report>, ApiError> {
    reports_now()
}

/// The reports from the request's resolved session (server only).
#[cfg(feature = "ssr")]
fn reports_now() -> Result<Vec<Report>, ApiError> {
    use crate::util::now;
    let signed_in = crate::auth::require::require_user()?;
    let minutes = (now() - signed_in.signed_in_at) / 60;
    Ok(vec![
        Report {
            title: "Signed in as".into(),
            value: signed_in.verified.user.display_name().to_string(),
        },
        Report {
            title: "Minutes in this session".into(),
            value: minutes.to_string(),
        },
        Report {
            title: "Claims received".into(),
            value: signed_in.verified.claims.len().to_string(),
        },
    ])
}

/// Pages render on the server only (islands mode).
#[cfg(not(feature = "ssr"))]
fn reports_now() -> Result<Vec<Report>, ApiError> {
    Err(ApiError::Internal)
}

/// Rendered by the server, with the data at hand (no round trip); only the details toggle is
/// an island.
#[component]
pub fn ReportsPage() -> impl IntoView {
    let rows = match reports_now() {
        Ok(rows) => EitherOf3::A(view! {
            <table class="claims" data-testid="reports">
                <tbody>
                    {rows.into_iter().map(|r| view! {
                        <tr><th>{r.title}</th><td>{r.value}</td></tr>
                    }).collect_view()}
                </tbody>
            </table>
        }),
        Err(ApiError::Unauthorized) => EitherOf3::B(go_to_login(&current_path())),
        Err(error) => EitherOf3::C(view! { <ErrorNotice error /> }),
    };
    view! {
        <section class="card">
            <h1>"Reports"</h1>
            <p class="muted">"Only signed-in people can see this page."</p>
            {rows}
            <DetailsToggle />
        </section>
    }
}

/// Shows or hides a note about where the figures come from.
#[island]
fn DetailsToggle() -> impl IntoView {
    let (open, set_open) = signal(false);
    view! {
        <button class="button secondary" on:click=move |_| set_open.update(|o| *o = !*o) data-testid="details-toggle">
            {move || if open.get() { "Hide details" } else { "Show details" }}
        </button>
        <p data-testid="details" hidden=move || !open.get()>
            "These figures come from your server-side session; no token was sent to this page."
        </p>
    }
}
