//! `[limits]`: what one client may cost the server.
//!
//! | variable | default | |
//! |---|---|---|
//! | `LIMITS_BODY_BYTES` | `16384` | largest request body (server functions, sign-out, provider calls); 413 beyond |
//! | `LIMITS_REQUEST_TIMEOUT_SECS` | `30` | a request (body included) that takes longer is answered 408 |
//! | `LIMITS_HEADER_TIMEOUT_SECS` | `10` | a connection that does not send its request headers within this is closed |
//! | `LIMITS_MAX_CONNECTIONS` | `4096` | open connections at once; more wait to be accepted |
//! | `LIMITS_SIGN_IN_PER_MINUTE`, `LIMITS_SIGN_IN_BURST` | `60`, `20` | `/login` and the callback, per client address; `0`: no limit |
//! | `LIMITS_PROVIDER_PER_MINUTE`, `LIMITS_PROVIDER_BURST` | `600`, `100` | back-channel logout and Universal Logout, per client address; `0`: no limit |
//! | `LIMITS_TRUSTED_PROXIES` | *(none)* | addresses or CIDR ranges of reverse proxies whose `X-Forwarded-For` is believed |

use std::time::Duration;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use super::{SettingsError, invalid, secs};

/// A per-client rate: `per_minute` requests a minute on average, `burst` at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    pub per_minute: u32,
    pub burst: u32,
}

#[derive(Clone, Debug)]
pub struct LimitSettings {
    pub body_bytes: usize,
    pub request_timeout: Duration,
    pub header_timeout: Duration,
    pub max_connections: usize,
    /// `None`: no limit.
    pub sign_in: Option<Rate>,
    pub provider: Option<Rate>,
    pub trusted_proxies: Vec<IpNet>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(default)]
pub(super) struct RawLimits {
    body_bytes: i64,
    request_timeout_secs: i64,
    header_timeout_secs: i64,
    max_connections: i64,
    sign_in_per_minute: i64,
    sign_in_burst: i64,
    provider_per_minute: i64,
    provider_burst: i64,
    trusted_proxies: Vec<String>,
}

impl Default for RawLimits {
    fn default() -> Self {
        Self {
            body_bytes: 16 * 1024,
            request_timeout_secs: 30,
            header_timeout_secs: 10,
            max_connections: 4096,
            sign_in_per_minute: 60,
            sign_in_burst: 20,
            provider_per_minute: 600,
            provider_burst: 100,
            trusted_proxies: Vec::new(),
        }
    }
}

fn rate(name: &str, per_minute: i64, burst: i64) -> Result<Option<Rate>, SettingsError> {
    let key = format!("LIMITS_{name}_PER_MINUTE");
    let per_minute = u32::try_from(per_minute)
        .ok()
        .filter(|n| *n <= 1_000_000)
        .ok_or_else(|| invalid(&key, "must be between 0 (no limit) and 1000000"))?;
    let burst = u32::try_from(burst)
        .ok()
        .filter(|n| (1..=1_000_000).contains(n))
        .ok_or_else(|| {
            invalid(
                &format!("LIMITS_{name}_BURST"),
                "must be between 1 and 1000000",
            )
        })?;
    Ok((per_minute > 0).then_some(Rate { per_minute, burst }))
}

impl RawLimits {
    pub(super) fn validate(&self) -> Result<LimitSettings, SettingsError> {
        let body_bytes = usize::try_from(self.body_bytes)
            .ok()
            .filter(|n| (1024..=1024 * 1024).contains(n))
            .ok_or_else(|| invalid("LIMITS_BODY_BYTES", "must be between 1024 and 1048576"))?;
        let trusted_proxies = self
            .trusted_proxies
            .iter()
            .map(|p| {
                let p = p.trim();
                p.parse::<IpNet>()
                    .or_else(|_| p.parse::<std::net::IpAddr>().map(IpNet::from))
                    .map_err(|_| {
                        invalid(
                            "LIMITS_TRUSTED_PROXIES",
                            format!("must be IP addresses or CIDR ranges, got {p:?}"),
                        )
                    })
            })
            .collect::<Result<_, _>>()?;
        Ok(LimitSettings {
            body_bytes,
            request_timeout: secs(
                "LIMITS_REQUEST_TIMEOUT_SECS",
                self.request_timeout_secs,
                1,
                600,
            )?,
            header_timeout: secs(
                "LIMITS_HEADER_TIMEOUT_SECS",
                self.header_timeout_secs,
                1,
                600,
            )?,
            max_connections: usize::try_from(self.max_connections)
                .ok()
                .filter(|n| (1..=1_000_000).contains(n))
                .ok_or_else(|| {
                    invalid("LIMITS_MAX_CONNECTIONS", "must be between 1 and 1000000")
                })?,
            sign_in: rate("SIGN_IN", self.sign_in_per_minute, self.sign_in_burst)?,
            provider: rate("PROVIDER", self.provider_per_minute, self.provider_burst)?,
            trusted_proxies,
        })
    }
}
