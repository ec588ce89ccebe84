//! `/settings/sensitive`: a page that asks for a recent sign-in — within the last
//! [`SENSITIVE_MAX_AGE`] — as an app would before showing recovery codes or changing an email
//! address. The route's `Guard require=Require::recent_sign_in(..)` sends a person whose
//! sign-in is older to the provider for a fresh one (a step-up: `max_age` and `prompt=login`)
//! and back here; the page's server function, [`get_sensitive_settings`], checks the same
//! itself and answers 401 with `StepUpRequired` (never a redirect) when it is not met.

use std::time::Duration;

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::{
    auth::types::ApiError,
    components::time::{relative, utc},
};

/// How recent a sign-in this page needs.
pub const SENSITIVE_MAX_AGE: Duration = Duration::from_secs(5 * 60);

/// What the page shows: how and when the person last authenticated at the provider.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SensitiveSettings {
    /// Unix seconds (the ID token's `auth_time`).
    pub authenticated_at: i64,
    /// The authentication context class (`acr`), when the provider said.
    pub acr: Option<String>,
    /// When the page stops being open without another sign-in (Unix seconds).
    pub open_until: i64,
    pub server_time: i64,
}

/// The page's data: for a sign-in within [`SENSITIVE_MAX_AGE`] only (401 `Unauthorized`
/// signed out, 401 `StepUpRequired` otherwise, as JSON).
#[server(endpoint = "settings/sensitive", output = crate::auth::types::JsonTextOutput)]
pub async fn get_sensitive_settings() -> Result<SensitiveSettings, ApiError> {
    let signed_in = crate::auth::require::require_recent_sign_in(SENSITIVE_MAX_AGE)?;
    Ok(settings_of(&signed_in))
}

#[cfg(feature = "ssr")]
fn settings_of(signed_in: &crate::auth::session::SignedIn) -> SensitiveSettings {
    let authenticated_at = signed_in.authenticated_at.unwrap_or_default();
    SensitiveSettings {
        authenticated_at,
        acr: signed_in.acr.clone(),
        open_until: authenticated_at + SENSITIVE_MAX_AGE.as_secs() as i64,
        server_time: crate::util::now(),
    }
}

#[component]
pub fn SensitivePage() -> impl IntoView {
    view! {
        <section class="card" data-testid="sensitive">
            <h1>"Sensitive settings"</h1>
            <p>
                "This page opens only within "
                {SENSITIVE_MAX_AGE.as_secs() / 60}
                " minutes of a sign-in at the provider; after that it asks you to sign in again."
            </p>
            {match server_settings() {
                Ok(s) => view! {
                    <dl class="facts">
                        <dt>"Signed in at the provider"</dt>
                        <dd data-testid="authenticated-at">
                            {format!("{} ({})", utc(s.authenticated_at), ago(s.server_time - s.authenticated_at))}
                        </dd>
                        <dt>"Open until"</dt>
                        <dd>{utc(s.open_until)}</dd>
                        <dt>"How (acr)"</dt>
                        <dd data-testid="acr">{s.acr.unwrap_or_else(|| "not stated".into())}</dd>
                    </dl>
                }
                .into_any(),
                Err(e) => view! { <p class="muted">{e.to_string()}</p> }.into_any(),
            }}
        </section>
    }
}

/// "just now", "12 s ago".
fn ago(seconds: i64) -> String {
    if seconds <= 0 {
        "just now".into()
    } else {
        relative(-seconds)
    }
}

/// Rendered on the server: the same check as the server function.
#[cfg(feature = "ssr")]
fn server_settings() -> Result<SensitiveSettings, ApiError> {
    let signed_in = crate::auth::require::require_recent_sign_in(SENSITIVE_MAX_AGE)?;
    Ok(settings_of(&signed_in))
}

/// Pages render on the server only (islands mode).
#[cfg(not(feature = "ssr"))]
fn server_settings() -> Result<SensitiveSettings, ApiError> {
    Err(ApiError::Internal)
}
