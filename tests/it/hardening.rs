//! Hardening (issue 12): what is refused, bounded or hidden whatever the request or settings.

use std::os::unix::fs::PermissionsExt;

use crate::common::{Harness, settings};

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// The SQLite database (and its WAL), the development provider's key, client secret and grants
/// are created readable by the owner only, whatever the umask.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_files_are_owner_only() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("sessions.db");
    let h = Harness::dev(&[("SESSION_STORE", &format!("sqlite://{}", db.display()))]).await;
    let mut jar = crate::common::Jar::default();
    h.sign_in(&mut jar, None).await;
    assert_eq!(mode(&db), 0o600, "sessions.db");
    let wal = dir.path().join("sessions.db-wal");
    if wal.exists() {
        assert_eq!(mode(&wal), 0o600, "sessions.db-wal");
    }
    let state = std::path::PathBuf::from(&h.state.settings.dev_provider.state_dir);
    h.provider().save();
    assert_eq!(mode(&state.join("grants.json")), 0o600, "grants.json");

    // a provider starting on an empty state directory creates its key and client secret
    let fresh = tempfile::tempdir().unwrap();
    let s = settings(&[], fresh.path());
    let provider = signin::dev_provider::start(&s).await.unwrap();
    let state = std::path::PathBuf::from(&s.dev_provider.state_dir);
    assert_eq!(mode(&state), 0o700, "the provider's state directory");
    for file in ["key.pem", "client_secret"] {
        assert_eq!(mode(&state.join(file)), 0o600, "{file}");
    }
    drop(provider);
}

/// A Redis URL's password appears neither in the settings' `Debug` output nor in the error
/// when the store cannot be reached.
#[tokio::test]
async fn redis_password_never_printed() {
    let dir = tempfile::tempdir().unwrap();
    let port = crate::common::redis::free_port();
    let url = format!("redis://:hunter2-secret@127.0.0.1:{port}");
    let s = settings(&[("SESSION_STORE", &url)], dir.path());
    let debug = format!("{s:?}");
    assert!(!debug.contains("hunter2"), "{debug}");
    assert!(
        debug.contains(&format!("redis://127.0.0.1:{port}")),
        "{debug}"
    );
    let err = match signin::startup::build_store(&s.session.store).await {
        Ok(_) => panic!("nothing listens on {port}"),
        Err(e) => format!("{e} {e:?}"),
    };
    assert!(!err.contains("hunter2"), "{err}");
}
