//! Small server-side primitives used across the crate, each in one place: the clock, hex
//! encoding, a constant-time comparison, lock helpers and owner-only files.

use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Unix seconds now.
pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Unix milliseconds now.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
}

/// Whether `a` and `b` are equal, in time that does not depend on where they differ (for
/// secrets: `state`, client secrets). From the `subtle` crate.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.ct_eq(b).into()
}

/// Opens `path` for writing (truncated), creating it readable and writable by the owner only
/// (0600 on Unix) — created so, never widened and narrowed afterwards. A symbolic link is
/// refused (never followed), and an existing file readable by others is narrowed first.
/// Files that hold secrets or sessions (the SQLite database, the development provider's key
/// and grants, the development session key) use this.
pub fn create_private(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    ensure_private(path)?;
    private_options().truncate(true).open(path)
}

/// Creates `path` owner-only as [`create_private`] does, failing with `AlreadyExists` when it
/// is there (of two processes creating it at once, exactly one succeeds).
pub fn create_new_private(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    private_options().create_new(true).open(path)
}

/// Write, create, owner-only (0600), never through a symbolic link.
fn private_options() -> std::fs::OpenOptions {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    }
    options
}

/// Narrows an existing file or directory that others may read to owner-only (0600 / 0700),
/// with a warning; nothing when it does not exist. A symbolic link is an error.
pub fn ensure_private(path: &std::path::Path) -> std::io::Result<()> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if meta.file_type().is_symlink() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{} is a symbolic link", path.display()),
        ));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode();
        if mode & 0o077 != 0 {
            let private = if meta.is_dir() { 0o700 } else { 0o600 };
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(private))?;
            tracing::warn!(path = %path.display(), "was readable by others; now owner-only");
        }
    }
    Ok(())
}

/// Creates directory `path` (and its parents) readable by the owner only (0700 on Unix); an
/// existing one that others may read is narrowed.
pub fn create_private_dir(path: &std::path::Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(path)?;
    ensure_private(path)
}

/// An error and its sources on one line (reqwest hides the useful part in `source()`).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Locks `m`. A panic while it was held cannot leave our maps half-updated (every update is a
/// single insert, remove or assignment), so a poisoned lock is used as it is.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Reads `l` (see [`lock`] on poisoning).
pub fn read<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|e| e.into_inner())
}

/// Writes `l` (see [`lock`] on poisoning).
pub fn write<T>(l: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|e| e.into_inner())
}

/// Form-urlencodes `s` (as `client_secret_basic` wants the id and secret before Base64,
/// RFC 6749 §2.3.1).
pub fn form_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_and_comparison() {
        assert_eq!(hex(&[0, 15, 255]), "000fff");
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
