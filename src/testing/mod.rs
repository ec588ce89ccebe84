//! Test support shared by the integration tests (`tests/it`) and the benchmark
//! (`src/bin/bench`): cargo feature `testing`, never in the app's build.
//!
//! - [`TestApp`] / [`TestAppBuilder`]: `app(state)` built in-process from an environment map
//!   (nothing read from the process environment), against the embedded development provider
//!   or any issuer, as crates.io's `TestApp`;
//! - [`Jar`] / [`Resp`]: one browser's cookie and a response with its body read;
//! - [`EventStream`]: a live channel (`/auth/events`) read event by event;
//! - [`complete_sign_in`]: drives the development provider's sign-in page as a browser would.
//!
//! Errors are plain `String`s: they are read by a person looking at a failed test or bench.

mod app;
mod client;
mod dev_sign_in;
mod events;

pub use app::{APP_URL, TestApp, TestAppBuilder, leptos_options, page, settings_from};
pub use client::{Jar, Resp, session_id};
pub use dev_sign_in::{complete_sign_in, shared_key_pem};
pub use events::{EventStream, Next, Sse};

/// What the helpers here return on failure: words for a person.
pub type TestResult<T> = Result<T, String>;
