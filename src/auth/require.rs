//! Authorization in server functions: call one of these first. The server is the boundary —
//! a page's [`Guard`](super::guard::Guard) only decides what to render — so every server
//! function that reads or changes something of the person checks here itself.
//!
//! Each returns the signed-in session or an [`ApiError`] with its status set on the response:
//! 401 `Unauthorized` (nobody signed in: a hydrated page can send the person to sign in), 401
//! `StepUpRequired` (signed in, but not recently or strongly enough: it carries the `/login`
//! query that asks for such a sign-in), 403 `NotAllowed` (signed in, but not in the group /
//! without the claim), 503 when sessions or the provider are unavailable. Server functions
//! answer these as JSON, never as a redirect.
//!
//! ```ignore
//! #[server]
//! pub async fn delete_report(id: u64) -> Result<(), ApiError> {
//!     let admin = require_group("Admins")?;
//!     // … admin.verified.user.sub did it
//! }
//! ```

use std::sync::Arc;

use leptos::prelude::*;

use super::{
    api::ssr::{current_auth, failed},
    policy::{Facts, Require, Verdict},
    session::SignedIn,
    types::ApiError,
};

/// The signed-in person, or 401.
pub fn require_user() -> Result<Arc<SignedIn>, ApiError> {
    require(&Require::SignedIn)
}

/// The signed-in person meeting `requirement`, or 401 / 403.
pub fn require(requirement: &Require) -> Result<Arc<SignedIn>, ApiError> {
    require_quietly(requirement).map_err(failed)
}

/// [`require`] without setting the response status (for a page deciding what to render).
pub fn require_quietly(requirement: &Require) -> Result<Arc<SignedIn>, ApiError> {
    let signed_in = current_auth().require()?.clone();
    let state = use_context::<crate::state::AppState>().ok_or(ApiError::Internal)?;
    let auth = &state.settings.auth;
    let facts = Facts {
        claims: &signed_in.verified.claims,
        groups_claim: &auth.groups_claim,
        authenticated_at: signed_in.authenticated_at,
        acr: signed_in.acr.as_deref(),
        now: crate::util::now(),
        skew: i64::try_from(auth.clock_skew.as_secs()).unwrap_or(0),
    };
    match requirement.check(&facts) {
        Verdict::Allowed => Ok(signed_in),
        Verdict::NotAllowed => Err(ApiError::NotAllowed),
        Verdict::StepUp(ask) => Err(ApiError::StepUpRequired(ask.query())),
    }
}

/// The signed-in person, a member of `group`; or 401 / 403.
pub fn require_group(group: &str) -> Result<Arc<SignedIn>, ApiError> {
    require(&Require::group(group))
}

/// The signed-in person with claim `name` = `value` (or holding it, for a list); or 401 / 403.
pub fn require_claim(name: &str, value: &str) -> Result<Arc<SignedIn>, ApiError> {
    require(&Require::claim(name, value))
}

/// The signed-in person, authenticated at the provider within `max_age`; or 401 — with
/// [`ApiError::StepUpRequired`] (what to ask `/login` for) when they are signed in, but
/// longer ago.
pub fn require_recent_sign_in(max_age: std::time::Duration) -> Result<Arc<SignedIn>, ApiError> {
    require(&Require::recent_sign_in(max_age))
}

/// The signed-in person, authenticated with class `acr` (e.g. `urn:okta:loa:2fa:any`); or 401
/// ([`ApiError::StepUpRequired`] when signed in otherwise).
pub fn require_acr(acr: &str) -> Result<Arc<SignedIn>, ApiError> {
    require(&Require::acr(acr))
}
