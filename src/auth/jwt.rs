//! Signed JWTs a provider sends the app by itself (back-channel logout tokens, Okta's Global
//! Token Revocation requests): the signature checked with the provider's published keys, and
//! the claims handed back for the caller's rules.
//!
//! The cryptography is the openidconnect crate's ([`JsonWebKey::verify_signature`], with keys
//! from its discovery and JWKS types; RSA checked by `ring`, `super::oidc::jwk`). What is written here is
//! only what that crate leaves out for tokens that are not ID tokens: splitting the compact
//! serialization, the algorithm allow-list (no `none`, no HMAC — the client secret must never
//! be able to sign a sign-out), choosing the key by `kid`, and fetching the keys again once,
//! at most every [`REFETCH_EVERY`], when a token names a key we do not have.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use base64::Engine;
use openidconnect::{JsonWebKey, JsonWebKeySet, core::CoreJwsSigningAlgorithm};

use super::oidc::Jwk;
use serde_json::{Map, Value};

use crate::util::{error_chain, read, write};

/// How often the keys may be fetched again because a token named an unknown key.
pub const REFETCH_EVERY: Duration = Duration::from_secs(10);
/// How long fetched keys are trusted before they are fetched again anyway.
const KEYS_TTL: Duration = Duration::from_secs(3600);

/// Why a token was refused (said to the sender in `error_description`; no secrets in it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    #[error("the token is not a signed JWT")]
    Malformed,
    #[error("signing algorithm {0} is not accepted")]
    Algorithm(String),
    #[error("the token is signed with an unknown key")]
    UnknownKey,
    #[error("the signature is invalid")]
    Signature,
    #[error("{0}")]
    Claims(String),
    #[error("the provider's keys cannot be fetched: {0}")]
    KeysUnavailable(String),
}

/// A verified token: its header and claims.
#[derive(Debug, Clone)]
pub struct Verified {
    pub header: Map<String, Value>,
    pub claims: Map<String, Value>,
}

/// The signing keys of one issuer (from its discovery document's `jwks_uri`), cached, with the
/// same policy as the ID-token keys (`auth::oidc::discovery`): keys older than [`KEYS_TTL`]
/// are used at once while one background task renews them; callers that wait for a fetch take
/// its outcome (concurrent misses share one fetch); a failure is not remembered beyond that,
/// and a failed renewal keeps the last good keys. A token naming an unknown key waits for the
/// next allowed refetch (every [`REFETCH_EVERY`]) rather than failing — so tokens with made-up
/// `kid`s can neither hammer the provider nor stop the app from picking up rotated keys.
#[derive(Clone)]
pub struct KeyCache(Arc<Inner>);

struct Inner {
    issuer: String,
    http: reqwest::Client,
    keys: std::sync::RwLock<Option<(JsonWebKeySet<Jwk>, Instant)>>,
    /// Held while fetching: when the last fetch started, and its error if it failed.
    fetching: tokio::sync::Mutex<Option<(Instant, Option<JwtError>)>>,
    /// Fetches finished so far.
    finished: AtomicU64,
    /// A background renewal is running.
    refreshing: AtomicBool,
}

impl KeyCache {
    pub fn new(issuer: String, http: reqwest::Client) -> Self {
        Self(Arc::new(Inner {
            issuer,
            http,
            keys: std::sync::RwLock::new(None),
            fetching: tokio::sync::Mutex::new(None),
            finished: AtomicU64::new(0),
            refreshing: AtomicBool::new(false),
        }))
    }

    pub fn issuer(&self) -> &str {
        &self.0.issuer
    }

    fn cached(&self) -> Option<(JsonWebKeySet<Jwk>, Instant)> {
        read(&self.0.keys).clone()
    }

    /// The keys: cached ones (renewed in the background when old); fetched when missing or —
    /// `unknown_kid` — again when the cached ones lack the token's key.
    async fn keys(&self, unknown_kid: bool) -> Result<JsonWebKeySet<Jwk>, JwtError> {
        let seen = self.0.finished.load(Ordering::Acquire);
        if !unknown_kid && let Some((keys, at)) = self.cached() {
            if at.elapsed() >= KEYS_TTL {
                self.renew_in_background();
            }
            return Ok(keys);
        }
        let mut last = self.0.fetching.lock().await;
        if self.0.finished.load(Ordering::Acquire) > seen {
            return self.outcome_of_last(&last);
        }
        if unknown_kid
            && let Some((at, _)) = *last
            && at.elapsed() < REFETCH_EVERY
        {
            // wait for the next allowed refetch without holding the lock (other callers,
            // and the background renewal, go on meanwhile)
            let pause = REFETCH_EVERY - at.elapsed();
            drop(last);
            tokio::time::sleep(pause).await;
            let seen = self.0.finished.load(Ordering::Acquire);
            last = self.0.fetching.lock().await;
            if self.0.finished.load(Ordering::Acquire) > seen
                || last
                    .as_ref()
                    .is_some_and(|(at, _)| at.elapsed() < REFETCH_EVERY)
            {
                return self.outcome_of_last(&last);
            }
        }
        match self.fetch_and_store(&mut last).await {
            Ok(keys) => Ok(keys),
            Err(e) => match self.cached() {
                // the last good keys, until the provider answers again
                Some((keys, _)) if !unknown_kid => Ok(keys),
                _ => Err(e),
            },
        }
    }

    /// A fetch finished while this caller waited: its outcome is this caller's.
    fn outcome_of_last(
        &self,
        last: &Option<(Instant, Option<JwtError>)>,
    ) -> Result<JsonWebKeySet<Jwk>, JwtError> {
        match (self.cached(), last.as_ref()) {
            (Some((keys, _)), _) => Ok(keys),
            (None, Some((_, Some(e)))) => Err(e.clone()),
            (None, _) => Err(JwtError::KeysUnavailable("no keys yet".into())),
        }
    }

    /// One background renewal at a time; the old keys serve meanwhile (and stay on failure).
    fn renew_in_background(&self) {
        if self.0.refreshing.swap(true, Ordering::AcqRel) {
            return;
        }
        let this = self.clone();
        tokio::spawn(async move {
            let mut last = this.0.fetching.lock().await;
            let _ = this.fetch_and_store(&mut last).await;
            drop(last);
            this.0.refreshing.store(false, Ordering::Release);
        });
    }

    /// Fetches (the caller holds `fetching`), stores good keys, records the outcome.
    async fn fetch_and_store(
        &self,
        last: &mut Option<(Instant, Option<JwtError>)>,
    ) -> Result<JsonWebKeySet<Jwk>, JwtError> {
        let started = Instant::now();
        let fetched = self.fetch().await;
        if let Ok(keys) = &fetched {
            *write(&self.0.keys) = Some((keys.clone(), Instant::now()));
        }
        *last = Some((started, fetched.as_ref().err().cloned()));
        self.0.finished.fetch_add(1, Ordering::Release);
        fetched
    }

    /// Makes the cached keys look `by` older (tests: time passing without waiting for it).
    #[cfg(feature = "testing")]
    pub fn age(&self, by: Duration) {
        if let Some((_, at)) = write(&self.0.keys).as_mut() {
            *at = at.checked_sub(by).unwrap_or(*at);
        }
    }

    async fn fetch(&self) -> Result<JsonWebKeySet<Jwk>, JwtError> {
        let metadata = super::oidc::discover(&self.0.issuer, &self.0.http)
            .await
            .map_err(|e| JwtError::KeysUnavailable(error_chain(&e)))?;
        Ok(metadata.jwks().clone())
    }

    /// Checks the signature of compact JWT `token` against this issuer's keys, with an
    /// algorithm from `allowed`. Claims are not checked here.
    pub async fn verify(
        &self,
        token: &str,
        allowed: &[CoreJwsSigningAlgorithm],
    ) -> Result<Verified, JwtError> {
        let (header, claims, signing_input, signature) = split(token)?;
        let alg: CoreJwsSigningAlgorithm = header
            .get("alg")
            .cloned()
            .and_then(|a| serde_json::from_value(a).ok())
            .ok_or(JwtError::Malformed)?;
        if !allowed.contains(&alg) || !asymmetric(&alg) {
            let name = header.get("alg").and_then(Value::as_str).unwrap_or("?");
            return Err(JwtError::Algorithm(name.chars().take(16).collect()));
        }
        if header.contains_key("crit") {
            // RFC 7515 §4.1.11: no header extension is understood here
            return Err(JwtError::Claims(
                "crit header extensions are not supported".into(),
            ));
        }
        let kid = header.get("kid").and_then(Value::as_str);
        let mut refetched = false;
        loop {
            let keys = self.keys(refetched).await?;
            let candidates: Vec<&Jwk> = keys
                .keys()
                .iter()
                .filter(|k| match (kid, k.key_id()) {
                    (Some(kid), Some(id)) => id.as_str() == kid,
                    (Some(_), None) => false,
                    (None, _) => true,
                })
                .collect();
            if candidates.is_empty() {
                if refetched {
                    return Err(JwtError::UnknownKey);
                }
                refetched = true;
                continue;
            }
            return if candidates.iter().any(|k| {
                k.verify_signature(&alg, signing_input.as_bytes(), &signature)
                    .is_ok()
            }) {
                Ok(Verified { header, claims })
            } else {
                Err(JwtError::Signature)
            };
        }
    }
}

fn asymmetric(alg: &CoreJwsSigningAlgorithm) -> bool {
    use CoreJwsSigningAlgorithm as A;
    matches!(
        alg,
        A::RsaSsaPkcs1V15Sha256
            | A::RsaSsaPkcs1V15Sha384
            | A::RsaSsaPkcs1V15Sha512
            | A::RsaSsaPssSha256
            | A::RsaSsaPssSha384
            | A::RsaSsaPssSha512
            | A::EcdsaP256Sha256
            | A::EcdsaP384Sha384
            | A::EcdsaP521Sha512
    )
}

type Parts = (Map<String, Value>, Map<String, Value>, String, Vec<u8>);

/// Splits a compact JWS into its header, claims, signing input and signature.
/// The header and claims of compact JWT `token`, **unverified**: only to turn away a token
/// that could not pass the rules anyway before any key is looked up (see `super::me`).
pub fn unverified(token: &str) -> Result<Unverified, JwtError> {
    let (header, claims, _, _) = split(token)?;
    Ok(Unverified { header, claims })
}

/// A token's header and claims as sent, signature not checked.
pub struct Unverified {
    pub header: Map<String, Value>,
    pub claims: Map<String, Value>,
}

fn split(token: &str) -> Result<Parts, JwtError> {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut parts = token.trim().split('.');
    let (Some(h), Some(c), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed);
    };
    let object = |part: &str| -> Result<Map<String, Value>, JwtError> {
        let bytes = b64.decode(part).map_err(|_| JwtError::Malformed)?;
        match serde_json::from_slice(&bytes) {
            Ok(Value::Object(map)) => Ok(map),
            _ => Err(JwtError::Malformed),
        }
    };
    let header = object(h)?;
    let claims = object(c)?;
    let signature = b64.decode(s).map_err(|_| JwtError::Malformed)?;
    Ok((header, claims, format!("{h}.{c}"), signature))
}

/// Claim helpers shared by the token rules.
pub mod claims {
    use serde_json::{Map, Value};

    use super::JwtError;

    pub fn string<'a>(c: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
        c.get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    }

    pub fn required<'a>(c: &'a Map<String, Value>, name: &str) -> Result<&'a str, JwtError> {
        string(c, name).ok_or_else(|| JwtError::Claims(format!("{name} is missing")))
    }

    /// A NumericDate (RFC 7519: seconds, possibly fractional), in whole seconds.
    pub fn number(c: &Map<String, Value>, name: &str) -> Option<i64> {
        let v = c.get(name)?;
        v.as_i64().or_else(|| {
            v.as_f64()
                .filter(|f| f.is_finite())
                .map(|f| f.floor() as i64)
        })
    }

    /// `aud` (a string or an array of strings) contains `expected`.
    pub fn audience_has(c: &Map<String, Value>, expected: &str) -> bool {
        match c.get("aud") {
            Some(Value::String(a)) => a == expected,
            Some(Value::Array(a)) => a.iter().any(|x| x.as_str() == Some(expected)),
            _ => false,
        }
    }

    /// The `typ` header, compared as RFC 7515 says (case-insensitive, `application/` optional).
    pub fn typ_is(header: &Map<String, Value>, expected: &str) -> Option<bool> {
        let typ = header
            .get("typ")?
            .as_str()
            .unwrap_or_default()
            .to_ascii_lowercase();
        let typ = typ.strip_prefix("application/").unwrap_or(&typ).to_string();
        Some(typ == expected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_refuses_what_is_not_a_compact_jws() {
        for bad in ["", "a.b", "a.b.c.d", "!!.e30.e30", "e30.W10.e30"] {
            assert!(split(bad).is_err(), "{bad}");
        }
        assert!(
            split("e30.e30.").is_ok(),
            "structure fine (signature checked later)"
        );
    }

    #[test]
    fn typ_comparison() {
        let h = |t: &str| {
            let mut m = Map::new();
            m.insert("typ".into(), Value::String(t.into()));
            m
        };
        assert_eq!(claims::typ_is(&h("logout+jwt"), "logout+jwt"), Some(true));
        assert_eq!(
            claims::typ_is(&h("application/Logout+JWT"), "logout+jwt"),
            Some(true)
        );
        assert_eq!(claims::typ_is(&h("JWT"), "logout+jwt"), Some(false));
        assert_eq!(claims::typ_is(&Map::new(), "logout+jwt"), None);
    }
}
