//! `[session]`: where sessions live and how long.
//!
//! | variable | default | |
//! |---|---|---|
//! | `SESSION_STORE` | `memory` (`Leptos.toml`: `sqlite://sessions.db`) | `memory`, `sqlite://PATH` or `redis://HOST:PORT[/DB]` |
//! | `SESSION_IDLE_TIMEOUT_SECS` | `86400` | |
//! | `SESSION_ABSOLUTE_TIMEOUT_SECS` | `604800` | |
//! | `SESSION_PENDING_TIMEOUT_SECS` | `600` | at most 900 |
//! | `SESSION_ENCRYPTION_KEY` | | environment only: base64 32-byte keys, comma-separated; the first seals, all open (rotation). Required in production with SQLite or Redis |
//! | `SESSION_STORE_TIMEOUT_SECS` | `2` | a store command taking longer fails the request (503) instead of hanging it |
//! | `SESSION_KEY_FILE` | `.session-key` | without a key, outside production, SQLite/Redis sessions use a key generated here |

use std::{fmt, time::Duration};

use serde::{Deserialize, Serialize};
use url::Url;

use super::{SettingsError, invalid, secs};

/// Where sessions live. `Debug` prints what `Display` prints: a Redis URL's password never
/// appears in logs or errors.
#[derive(Clone, PartialEq, Eq)]
pub enum StoreKind {
    Memory,
    /// Path of the SQLite database file.
    Sqlite(String),
    /// `redis://host:port[/db]`.
    Redis(String),
}

impl fmt::Debug for StoreKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for StoreKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreKind::Memory => f.write_str("memory"),
            StoreKind::Sqlite(path) => write!(f, "sqlite://{path}"),
            // the URL may carry a password: print host only
            StoreKind::Redis(url) => match Url::parse(url) {
                Ok(u) => write!(
                    f,
                    "redis://{}:{}",
                    u.host_str().unwrap_or("?"),
                    u.port().unwrap_or(6379)
                ),
                Err(_) => f.write_str("redis://?"),
            },
        }
    }
}

/// Keys that seal the signed-in state at rest (`crate::auth::sealing`); `Debug` shows how
/// many, never the keys.
#[derive(Clone, Default)]
pub struct SessionKeys(Vec<[u8; 32]>);

impl SessionKeys {
    pub fn expose(&self) -> &[[u8; 32]] {
        &self.0
    }
}

impl fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[redacted: {} key(s)]", self.0.len())
    }
}

/// A 32-byte key in base64 (standard or URL-safe, padded or not).
pub fn decode_key(text: &str) -> Result<[u8; 32], String> {
    use base64::Engine;
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let text = text.trim();
    let bytes = [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|e| e.decode(text).ok())
        .ok_or("is not base64")?;
    <[u8; 32]>::try_from(bytes.as_slice())
        .map_err(|_| format!("must be 32 bytes, got {}", bytes.len()))
}

#[derive(Clone, Debug)]
pub struct SessionSettings {
    pub store: StoreKind,
    /// `SESSION_ENCRYPTION_KEY` (environment only).
    pub encryption_keys: SessionKeys,
    /// `SESSION_KEY_FILE`: the development key, when no key is set.
    pub key_file: String,
    /// `SESSION_STORE_TIMEOUT_SECS`: how long a store command may take.
    pub store_timeout: Duration,
    pub idle_timeout: Duration,
    pub absolute_timeout: Duration,
    /// How long a started sign-in stays valid, and how long a session holding nothing but
    /// started sign-ins is kept (cookie and store): at most 15 minutes.
    pub pending_timeout: Duration,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(default)]
pub(super) struct RawSession {
    store: String,
    idle_timeout_secs: i64,
    absolute_timeout_secs: i64,
    pending_timeout_secs: i64,
    key_file: String,
    store_timeout_secs: i64,
}

impl Default for RawSession {
    fn default() -> Self {
        Self {
            store: "memory".into(),
            idle_timeout_secs: 24 * 3600,
            absolute_timeout_secs: 7 * 24 * 3600,
            pending_timeout_secs: 600,
            key_file: ".session-key".into(),
            store_timeout_secs: 2,
        }
    }
}

impl RawSession {
    pub(super) fn validate(&self, keys: Option<String>) -> Result<SessionSettings, SettingsError> {
        const YEAR: i64 = 365 * 24 * 3600;
        let encryption_keys = keys
            .iter()
            .flat_map(|k| k.split(','))
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .enumerate()
            .map(|(i, k)| {
                decode_key(k).map_err(|e| {
                    invalid(
                        "SESSION_ENCRYPTION_KEY",
                        format!(
                            "key {}: {e} (make one with `openssl rand -base64 32`)",
                            i + 1
                        ),
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(SessionSettings {
            store: parse_store(self.store.trim())?,
            encryption_keys: SessionKeys(encryption_keys),
            key_file: self.key_file.clone(),
            store_timeout: secs("SESSION_STORE_TIMEOUT_SECS", self.store_timeout_secs, 1, 60)?,
            idle_timeout: secs("SESSION_IDLE_TIMEOUT_SECS", self.idle_timeout_secs, 1, YEAR)?,
            absolute_timeout: secs(
                "SESSION_ABSOLUTE_TIMEOUT_SECS",
                self.absolute_timeout_secs,
                1,
                YEAR,
            )?,
            pending_timeout: secs(
                "SESSION_PENDING_TIMEOUT_SECS",
                self.pending_timeout_secs,
                1,
                900,
            )?,
        })
    }
}

impl SessionSettings {
    /// In production, sessions kept in SQLite or Redis must be sealed with a configured key.
    pub fn require_key_in_production(&self) -> Result<(), SettingsError> {
        if self.store != StoreKind::Memory && self.encryption_keys.expose().is_empty() {
            return Err(invalid(
                "SESSION_ENCRYPTION_KEY",
                "is required in production with SESSION_STORE=sqlite:// or redis:// (make one with `openssl rand -base64 32`)",
            ));
        }
        Ok(())
    }
}

pub(super) fn parse_store(text: &str) -> Result<StoreKind, SettingsError> {
    if text == "memory" {
        return Ok(StoreKind::Memory);
    }
    if let Some(path) = text.strip_prefix("sqlite://") {
        if path.is_empty() {
            return Err(invalid(
                "SESSION_STORE",
                "sqlite:// needs a file path, e.g. sqlite://sessions.db",
            ));
        }
        return Ok(StoreKind::Sqlite(path.to_string()));
    }
    if text.starts_with("redis://") || text.starts_with("rediss://") {
        let url = Url::parse(text)
            .map_err(|e| invalid("SESSION_STORE", format!("is not a valid redis URL: {e}")))?;
        if url.host_str().is_none() {
            return Err(invalid("SESSION_STORE", "redis URL needs a host"));
        }
        return Ok(StoreKind::Redis(text.to_string()));
    }
    Err(invalid(
        "SESSION_STORE",
        format!("must be memory, sqlite://PATH or redis://HOST:PORT, got {text:?}"),
    ))
}
