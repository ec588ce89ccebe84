//! Server entry point (the `ssr` build). All the work is in [`signin::startup`]: `signin`
//! serves the app; `signin doctor` checks the provider set-up (`signin::doctor`).

// Server-side rendering allocates a lot from both worker threads; mimalloc keeps that from
// contending the way glibc's allocator does (see the benchmark in the README).
#[cfg(feature = "ssr")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[cfg(feature = "ssr")]
#[tokio::main]
async fn main() -> std::process::ExitCode {
    match std::env::args().nth(1).as_deref() {
        None => signin::startup::run().await,
        Some("doctor") => signin::startup::doctor().await,
        Some(other) => {
            eprintln!(
                "error: unknown command {other:?} (commands: doctor; none starts the server)"
            );
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(not(feature = "ssr"))]
fn main() {
    // The browser build starts in `lib.rs` (`hydrate`).
}
