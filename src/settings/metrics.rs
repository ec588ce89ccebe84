//! `[metrics]`: the Prometheus endpoint (`GET /metrics`), served on a listen address of its own
//! so it is never reachable through the app's public address. Off unless set.
//!
//! | variable | default | |
//! |---|---|---|
//! | `METRICS_ADDR` | (off) | `host:port` to serve `/metrics` on, for example `127.0.0.1:9464`; must differ from the app's `LEPTOS_SITE_ADDR` |

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use super::{SettingsError, invalid};

#[derive(Clone, Debug, Default)]
pub struct MetricsSettings {
    /// Where `/metrics` is served; `None`: not at all.
    pub addr: Option<SocketAddr>,
}

#[derive(Debug, Serialize, Deserialize, Default)]
#[serde(default)]
pub(super) struct RawMetrics {
    addr: String,
}

impl RawMetrics {
    pub(super) fn validate(&self) -> Result<MetricsSettings, SettingsError> {
        let addr = self.addr.trim();
        if addr.is_empty() {
            return Ok(MetricsSettings { addr: None });
        }
        let addr = addr.parse::<SocketAddr>().map_err(|_| {
            invalid(
                "METRICS_ADDR",
                format!("must be host:port with an IP address, like 127.0.0.1:9464, got {addr:?}"),
            )
        })?;
        Ok(MetricsSettings { addr: Some(addr) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(addr: &str) -> RawMetrics {
        RawMetrics { addr: addr.into() }
    }

    #[test]
    fn off_unless_an_address_is_given() {
        assert!(raw("").validate().unwrap().addr.is_none());
        assert_eq!(
            raw("127.0.0.1:9464").validate().unwrap().addr,
            Some("127.0.0.1:9464".parse().unwrap())
        );
        let e = raw("localhost").validate().unwrap_err().to_string();
        assert!(e.contains("METRICS_ADDR"), "{e}");
    }
}
