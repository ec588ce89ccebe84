//! Authentication: everything about signing people in and keeping them signed in.
//!
//! Shared by server and browser: [`types`] (what the browser may know), [`policy`] (who may
//! see what), [`return_to`],
//! [`reason`] (error kinds in plain words), [`routes`] (contract paths), [`api`] (server
//! functions) and [`guard`] (route guards). Server only (`ssr`): [`oidc`] (the provider client), [`session`] (session
//! contents), [`sealing`] (the signed-in state encrypted at rest), [`store`] (what a session store must do beyond tower-sessions), [`index`] (all
//! sessions of a person), [`refresh`] (session rules and single-flight refresh), [`step_up`] (a
//! recent or stronger sign-in for a signed-in session), [`signout`]
//! (ending sessions, revocation), [`events`] and [`watch`] (live session events and the
//! watcher of sessions with open tabs), [`live`] (the live channel, `GET /auth/events`), [`jwt`], [`logout_request`] and [`provider_logout`]
//! (back-channel logout, Okta Universal Logout), [`initiate`] (third-party-initiated login),
//! [`middleware`] (resolves the session once per request) and
//! [`error`]; [`require`] is authorization for server functions; [`bearer`] and [`me`]
//! (`GET /api/me`) accept API clients' access tokens.

pub mod api;
pub mod guard;
pub mod policy;
pub mod reason;
pub mod return_to;
pub mod routes;
pub mod types;

#[cfg(feature = "ssr")]
pub mod bearer;
#[cfg(feature = "ssr")]
pub mod error;
#[cfg(feature = "ssr")]
pub mod events;
#[cfg(feature = "ssr")]
pub mod index;
#[cfg(feature = "ssr")]
pub mod initiate;
#[cfg(feature = "ssr")]
pub mod jwt;
#[cfg(feature = "ssr")]
pub mod live;
#[cfg(feature = "ssr")]
pub mod logout_request;
#[cfg(feature = "ssr")]
pub mod me;
#[cfg(feature = "ssr")]
pub mod middleware;
#[cfg(feature = "ssr")]
pub mod oidc;
#[cfg(feature = "ssr")]
pub mod provider_logout;
#[cfg(feature = "ssr")]
pub mod redirect;
#[cfg(feature = "ssr")]
pub mod refresh;
#[cfg(feature = "ssr")]
pub mod require;
#[cfg(feature = "ssr")]
pub mod sealing;
#[cfg(feature = "ssr")]
pub mod session;
#[cfg(feature = "ssr")]
pub mod signout;
#[cfg(feature = "ssr")]
pub mod state_cache;
#[cfg(feature = "ssr")]
pub mod step_up;
#[cfg(feature = "ssr")]
pub mod store;
#[cfg(feature = "ssr")]
pub mod watch;
