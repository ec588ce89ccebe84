//! The integration tests: one binary (one link step), modules by subject, one harness
//! ([`common::Harness`]) driving `app(state)` in-process against a real OpenID Provider on a
//! loopback socket — the embedded development provider, or the scriptable [`common::mock_op`].
//!
//! - [`authorization`]: pages and server functions for one group (issue 15);
//! - [`bearer`]: `GET /api/me` with access tokens (issue 15);
//! - [`conformance`]: the OpenID Foundation's RP certification cases, one test each;
//! - [`doctor`]: `signin doctor` (issue 16);
//! - [`flow`]: the whole sign-in flow, callback errors, pages, headers;
//! - [`validation`]: ID-token validation failures;
//! - [`refresh`]: refresh timing, single flight, rotation, userinfo failures;
//! - [`sessions`]: session rules against every store (memory, SQLite, Redis);
//! - [`provider_logout`]: back-channel logout and Okta Universal Logout;
//! - [`hardening`]: what is refused, bounded or hidden (issue 12);
//! - [`initiate`]: third-party-initiated login (issue 16);
//! - [`rendering`]: islands rendering and the islands router's navigations (issue 13);
//! - [`live`]: the live session channel and its events (issue 14);
//! - [`metrics`]: `/metrics` (issue 17);
//! - [`par`]: pushed authorization requests (issue 16);
//! - [`step_up`]: recent and stronger sign-ins (issue 15);
//! - [`instances`]: the real binary — several processes, restarts, start-up failures.

// A failed assumption in a test is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod authorization;
mod bearer;
mod common;
mod conformance;
mod doctor;
mod dpop;
mod flow;
mod hardening;
mod initiate;
mod instances;
mod live;
mod metrics;
mod par;
mod private_key_jwt;
mod provider_logout;
mod providers;
mod refresh;
mod rendering;
mod sessions;
mod step_up;
mod validation;
