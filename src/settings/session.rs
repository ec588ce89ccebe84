//! `[session]`: where sessions live and how long.
//!
//! | variable | default | |
//! |---|---|---|
//! | `SESSION_STORE` | `memory` (`Leptos.toml`: `sqlite://sessions.db`) | `memory`, `sqlite://PATH` or `redis://HOST:PORT[/DB]` |
//! | `SESSION_IDLE_TIMEOUT_SECS` | `86400` | |
//! | `SESSION_ABSOLUTE_TIMEOUT_SECS` | `604800` | |
//! | `SESSION_PENDING_TIMEOUT_SECS` | `600` | at most 900 |

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

#[derive(Clone, Debug)]
pub struct SessionSettings {
    pub store: StoreKind,
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
}

impl Default for RawSession {
    fn default() -> Self {
        Self {
            store: "memory".into(),
            idle_timeout_secs: 24 * 3600,
            absolute_timeout_secs: 7 * 24 * 3600,
            pending_timeout_secs: 600,
        }
    }
}

impl RawSession {
    pub(super) fn validate(&self) -> Result<SessionSettings, SettingsError> {
        const YEAR: i64 = 365 * 24 * 3600;
        Ok(SessionSettings {
            store: parse_store(self.store.trim())?,
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
