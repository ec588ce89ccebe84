//! `/admin`: a page for one group, the `Admins` (README: "Add a page for one group"). The
//! route's `Guard require=Require::group(ADMINS)` decides what renders — a 403 page for
//! anyone else signed in — and the page's server function, [`get_admin_overview`], checks the
//! group again itself: the server function is the boundary, the guard is UX.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::auth::{guard::use_user, types::ApiError};

/// What the admin page shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminOverview {
    /// Live session channels open in this process (the open tabs of signed-in people).
    pub open_channels: usize,
}

/// The admin page's data: for the `Admins` group only (401 signed out, 403 otherwise, as JSON).
#[server(endpoint = "admin/overview", output = crate::auth::types::JsonTextOutput)]
pub async fn get_admin_overview() -> Result<AdminOverview, ApiError> {
    crate::auth::require::require_group(crate::auth::policy::ADMINS)?;
    admin_overview()
}

#[cfg(feature = "ssr")]
fn admin_overview() -> Result<AdminOverview, ApiError> {
    let state = use_context::<crate::state::AppState>().ok_or(ApiError::Internal)?;
    Ok(AdminOverview {
        open_channels: state.keeper.events.open_streams(),
    })
}

#[component]
pub fn AdminPage() -> impl IntoView {
    let name = use_user()
        .get_untracked()
        .map(|u| u.display_name().to_string())
        .unwrap_or_default();
    // rendered on the server: read the data directly (the server function's own check runs too)
    let overview = server_overview();
    view! {
        <section class="card" data-testid="admin">
            <h1>"Admin"</h1>
            <p>"Only the Admins group sees this page. Signed in as " <strong>{name}</strong> "."</p>
            {match overview {
                Ok(o) => view! {
                    <p data-testid="open-channels">
                        {format!("Open live session channels in this process: {}", o.open_channels)}
                    </p>
                }
                .into_any(),
                Err(e) => view! { <p class="muted">{e.to_string()}</p> }.into_any(),
            }}
        </section>
    }
}

#[cfg(feature = "ssr")]
fn server_overview() -> Result<AdminOverview, ApiError> {
    crate::auth::require::require_group(crate::auth::policy::ADMINS)?;
    admin_overview()
}

/// Pages render on the server only (islands mode).
#[cfg(not(feature = "ssr"))]
fn server_overview() -> Result<AdminOverview, ApiError> {
    Err(ApiError::Internal)
}
