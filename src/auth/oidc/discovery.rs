//! The provider's metadata and keys (OpenID Connect Discovery + JWKS), fetched lazily and
//! cached:
//!
//! - a fresh copy is used as it is; a copy older than [`DISCOVERY_TTL`] is still used at once
//!   while one background task fetches a new one (a request never waits for a routine
//!   refresh);
//! - without a copy (the provider was down until now), or when a token names an unknown key
//!   (`force`), the caller fetches — one fetch at a time: requests that waited for a fetch
//!   take its result, success or failure, instead of fetching again. A failure is not
//!   remembered beyond that: the next request tries again, so sign-in works the moment the
//!   provider is back;
//! - a failed refetch keeps the last good metadata and keys.
//!
//! Written by hand because the `openidconnect` crate fetches but does not cache.

use std::{
    sync::{
        Arc, RwLock,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use super::ClientAuth;
use openidconnect::{AuthType, ClientId, ClientSecret, RedirectUrl, RevocationUrl};

use super::{
    calls::{Call, CallCounter},
    metadata::Client,
};
use crate::{
    auth::error::AuthError,
    settings::{OidcSettings, TokenAuthMethod},
    util::{error_chain, read, write},
};

/// How long discovery (metadata + JWKS) is used before it is fetched again (in the background).
pub const DISCOVERY_TTL: Duration = Duration::from_secs(3600);
/// A forced refetch (unknown key) within this long of the last fetch uses that fetch.
const FORCED_MIN_INTERVAL: Duration = Duration::from_secs(1);
/// After a failed fetch, background renewal of a (still usable) stale copy waits this long:
/// a provider refusing connections must not get one renewal per incoming request.
const RENEWAL_PAUSE: Duration = Duration::from_secs(30);

/// What discovery found, and the client built from it.
pub struct Discovered {
    pub client: Client,
    /// The issuer exactly as the provider names it (the setting is kept without a trailing
    /// `/`; some providers' issuer has one).
    pub issuer: String,
    /// RFC 9207: the provider puts `iss` in every authorization response.
    pub response_iss: bool,
    /// RFC 7009 revocation endpoint, when the provider has one.
    pub revocation: Option<RevocationUrl>,
    pub end_session: Option<openidconnect::EndSessionUrl>,
    /// RFC 9126: the PAR endpoint, and whether the provider takes authorization requests only
    /// that way.
    pub par: Option<url::Url>,
    pub par_required: bool,
    /// The token endpoint (the audience of `private_key_jwt` assertions).
    pub token_endpoint: String,
}

/// What a fetch needs.
pub struct Source {
    pub settings: OidcSettings,
    pub issuer: String,
    pub redirect_uri: String,
    pub http: reqwest::Client,
    pub calls: Arc<CallCounter>,
}

/// The cache; cheap to clone (shared).
#[derive(Clone)]
pub struct DiscoveryCache(Arc<Inner>);

struct Inner {
    source: Source,
    /// The last good fetch and when it was made.
    current: RwLock<Option<(Arc<Discovered>, Instant)>>,
    /// Held while fetching; holds the last fetch's error, if it failed.
    fetching: tokio::sync::Mutex<Option<String>>,
    /// Fetches finished so far.
    finished: AtomicU64,
    /// A background refresh is running.
    refreshing: AtomicBool,
    /// When the last fetch failed.
    failed_at: RwLock<Option<Instant>>,
}

impl DiscoveryCache {
    pub fn new(source: Source) -> Self {
        Self(Arc::new(Inner {
            source,
            current: RwLock::new(None),
            fetching: tokio::sync::Mutex::new(None),
            finished: AtomicU64::new(0),
            refreshing: AtomicBool::new(false),
            failed_at: RwLock::new(None),
        }))
    }

    fn current(&self) -> Option<Arc<Discovered>> {
        read(&self.0.current).as_ref().map(|(d, _)| d.clone())
    }

    fn current_with_age(&self) -> Option<(Arc<Discovered>, Duration)> {
        read(&self.0.current)
            .as_ref()
            .map(|(d, at)| (d.clone(), at.elapsed()))
    }

    /// The provider's metadata and keys; `force`: fetched again (a token names an unknown key).
    pub async fn get(&self, force: bool) -> Result<Arc<Discovered>, AuthError> {
        let seen = self.0.finished.load(Ordering::Acquire);
        if let Some((d, age)) = self.current_with_age() {
            if !force {
                if age >= DISCOVERY_TTL {
                    self.refresh_in_background();
                }
                return Ok(d);
            }
            if age < FORCED_MIN_INTERVAL {
                return Ok(d);
            }
        }
        let mut last_error = self.0.fetching.lock().await;
        if self.0.finished.load(Ordering::Acquire) > seen {
            // a fetch finished while this request waited: its outcome is this request's
            return match (self.current(), last_error.as_ref()) {
                (Some(d), _) => Ok(d),
                (None, Some(e)) => Err(AuthError::ProviderUnavailable(e.clone())),
                (None, None) => Err(AuthError::ProviderUnavailable("discovery failed".into())),
            };
        }
        let outcome = self.fetch().await;
        self.0.finished.fetch_add(1, Ordering::Release);
        match outcome {
            Ok(d) => {
                *last_error = None;
                Ok(d)
            }
            Err(e) => {
                *last_error = Some(e.to_string());
                match self.current() {
                    Some(d) => {
                        tracing::warn!(error = %e, "re-discovery failed; keeping the cached provider metadata and keys");
                        Ok(d)
                    }
                    None => Err(e),
                }
            }
        }
    }

    /// One background fetch at a time; the stale copy serves meanwhile.
    fn refresh_in_background(&self) {
        if read(&self.0.failed_at).is_some_and(|at| at.elapsed() < RENEWAL_PAUSE) {
            return;
        }
        if self.0.refreshing.swap(true, Ordering::AcqRel) {
            return;
        }
        let this = self.clone();
        tokio::spawn(async move {
            let _ = this.get(true).await;
            this.0.refreshing.store(false, Ordering::Release);
        });
    }

    /// Fetches and, when it worked, stores.
    async fn fetch(&self) -> Result<Arc<Discovered>, AuthError> {
        let d = match discover(&self.0.source).await {
            Ok(d) => Arc::new(d),
            Err(e) => {
                *write(&self.0.failed_at) = Some(Instant::now());
                return Err(e);
            }
        };
        *write(&self.0.current) = Some((d.clone(), Instant::now()));
        *write(&self.0.failed_at) = None;
        Ok(d)
    }

    /// Makes the cached copy look `by` older (tests: time passing without waiting for it).
    #[cfg(feature = "testing")]
    pub fn age(&self, by: Duration) {
        if let Some((_, at)) = write(&self.0.current).as_mut() {
            *at = at.checked_sub(by).unwrap_or(*at);
        }
    }
}

async fn discover(src: &Source) -> Result<Discovered, AuthError> {
    let metadata = src
        .calls
        .timed(Call::Discovery, super::metadata::discover(&src.issuer, &src.http))
        .await
        .map_err(|e| {
            let detail = error_chain(&e);
            tracing::warn!(issuer = %src.issuer, error = %detail, "OpenID Provider discovery failed");
            AuthError::ProviderUnavailable(detail)
        })?;
    let issuer = metadata.issuer().as_str().to_string();
    let end_session = metadata.additional_metadata().end_session_endpoint.clone();
    let token_endpoint = metadata
        .token_endpoint()
        .map(|t| t.as_str().to_string())
        .unwrap_or_default();
    let extra = &metadata.additional_metadata().additional_metadata;
    let revocation = extra.revocation_endpoint.clone();
    let response_iss = extra
        .authorization_response_iss_parameter_supported
        .unwrap_or(false);
    // The client's credentials go there with every sign-in: https only (or this machine).
    let par = extra
        .pushed_authorization_request_endpoint
        .as_deref()
        .and_then(|u| match url::Url::parse(u) {
            Ok(url) if crate::settings::secure_endpoint(&url) => Some(url),
            _ => {
                tracing::warn!(endpoint = %u, "the provider's PAR endpoint is not an https URL; not used");
                None
            }
        });
    let par_required = extra.require_pushed_authorization_requests.unwrap_or(false);
    let redirect = RedirectUrl::new(src.redirect_uri.clone())
        .map_err(|e| AuthError::Internal(format!("redirect URI: {e}")))?;
    let client: Client = openidconnect::Client::from_provider_metadata(
        metadata,
        ClientId::new(src.settings.client_id.clone()),
        // private_key_jwt: no secret, so the form carries the client id (and the requests
        // add the assertion, see `client_auth`)
        ClientAuth::new(&src.settings)
            .secret_for_client()
            .map(|s| ClientSecret::new(s.expose().to_string())),
    )
    .set_redirect_uri(redirect)
    .set_auth_type(match src.settings.token_auth_method {
        TokenAuthMethod::ClientSecretBasic => AuthType::BasicAuth,
        TokenAuthMethod::ClientSecretPost | TokenAuthMethod::PrivateKeyJwt => AuthType::RequestBody,
    });
    tracing::info!(issuer = %src.issuer, "OpenID Provider discovered");
    Ok(Discovered {
        revocation,
        response_iss,
        client,
        issuer,
        end_session,
        par,
        par_required,
        token_endpoint,
    })
}
