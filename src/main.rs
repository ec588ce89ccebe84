//! Server entry point (the `ssr` build). All the work is in [`signin::startup`]: `signin`
//! serves the app; `signin doctor` checks the provider set-up (`signin::doctor`); `signin jwk`
//! prints the client key's public JWK (`signin::startup::jwk`).

// Server-side rendering allocates a lot from both worker threads; mimalloc keeps that from
// contending the way glibc's allocator does (see the benchmark in the README).
#[cfg(feature = "ssr")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[cfg(feature = "ssr")]
#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    match args.first().map(|c| c.to_str()) {
        None => signin::startup::run().await,
        Some(Some("doctor")) => signin::startup::doctor().await,
        Some(Some("jwk")) => signin::startup::jwk(&args[1..]),
        Some(other) => {
            eprintln!(
                "error: unknown command {:?} (commands: doctor, jwk; none starts the server)",
                other.unwrap_or("?")
            );
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(not(feature = "ssr"))]
fn main() {
    // The browser build starts in `lib.rs` (`hydrate`).
}
