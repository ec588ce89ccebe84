//! Server entry point (the `ssr` build). All the work is in [`signin::startup`].

#[cfg(feature = "ssr")]
#[tokio::main]
async fn main() -> std::process::ExitCode {
    signin::startup::run().await
}

#[cfg(not(feature = "ssr"))]
fn main() {
    // The browser build starts in `lib.rs` (`hydrate`).
}
