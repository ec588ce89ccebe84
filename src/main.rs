//! Server entry point (the `ssr` build). All the work is in [`signin::startup`].

// Server-side rendering allocates a lot from both worker threads; mimalloc keeps that from
// contending the way glibc's allocator does (see the benchmark in the README).
#[cfg(feature = "ssr")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[cfg(feature = "ssr")]
#[tokio::main]
async fn main() -> std::process::ExitCode {
    signin::startup::run().await
}

#[cfg(not(feature = "ssr"))]
fn main() {
    // The browser build starts in `lib.rs` (`hydrate`).
}
