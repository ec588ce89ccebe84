//! `/reports`: a second protected page. Its data comes from a server function that checks
//! the session itself (the route guard is only UX).

use leptos::either::Either;
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
    use crate::{auth::api::ssr::current_auth, util::now};
    let auth = current_auth();
    let signed_in = auth.require().map_err(crate::auth::api::ssr::failed)?;
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

#[component]
pub fn ReportsPage() -> impl IntoView {
    let reports = Resource::new(|| (), |_| get_reports());
    let (open, set_open) = signal(false);
    view! {
        <section class="card">
            <h1>"Reports"</h1>
            <p class="muted">"Only signed-in people can see this page."</p>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match reports.await {
                        Ok(rows) => Either::Left(view! {
                            <table class="claims" data-testid="reports">
                                <tbody>
                                    {rows.into_iter().map(|r| view! {
                                        <tr><th>{r.title}</th><td>{r.value}</td></tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        }),
                        Err(ApiError::Unauthorized) => {
                            go_to_login(&current_path());
                            Either::Right(Either::Left(view! { <p>"Redirecting to sign-in…"</p> }))
                        }
                        Err(error) => Either::Right(Either::Right(view! { <ErrorNotice error /> })),
                    }
                })}
            </Suspense>
            <button class="button secondary" on:click=move |_| set_open.update(|o| *o = !*o) data-testid="details-toggle">
                {move || if open.get() { "Hide details" } else { "Show details" }}
            </button>
            <Show when=move || open.get()>
                <p data-testid="details">"These figures come from your server-side session; no token was sent to this page."</p>
            </Show>
        </section>
    }
}
