//! `[events]`: the live session channel (`GET /auth/events`, Server-Sent Events).
//!
//! | variable | default | |
//! |---|---|---|
//! | `EVENTS_HEARTBEAT_SECS` | `15` | a `ping` event this often on every open channel (1–30; the browser reconnects after 70 s of silence) |
//! | `EVENTS_PER_SESSION` | `4` | open channels per session in one process (its tabs); one more is answered 429 |
//! | `EVENTS_MAX_STREAMS` | `1024` | open channels in one process; one more is answered 429 (each holds a connection, counted by `LIMITS_MAX_CONNECTIONS`) |

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{SettingsError, invalid, secs};

#[derive(Clone, Debug)]
pub struct EventSettings {
    pub heartbeat: Duration,
    pub per_session: usize,
    pub max_streams: usize,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(default)]
pub(super) struct RawEvents {
    heartbeat_secs: i64,
    per_session: i64,
    max_streams: i64,
}

impl Default for RawEvents {
    fn default() -> Self {
        Self {
            heartbeat_secs: 15,
            per_session: 4,
            max_streams: 1024,
        }
    }
}

fn count(key: &str, value: i64, max: usize) -> Result<usize, SettingsError> {
    usize::try_from(value)
        .ok()
        .filter(|n| (1..=max).contains(n))
        .ok_or_else(|| invalid(key, format!("must be between 1 and {max}")))
}

impl RawEvents {
    pub(super) fn validate(&self) -> Result<EventSettings, SettingsError> {
        Ok(EventSettings {
            heartbeat: secs("EVENTS_HEARTBEAT_SECS", self.heartbeat_secs, 1, 30)?,
            per_session: count("EVENTS_PER_SESSION", self.per_session, 32)?,
            max_streams: count("EVENTS_MAX_STREAMS", self.max_streams, 1_000_000)?,
        })
    }
}
