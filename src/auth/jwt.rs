//! Signed JWTs a provider sends the app by itself (back-channel logout tokens, Okta's Global
//! Token Revocation requests): the signature checked with the provider's published keys, and
//! the claims handed back for the caller's rules.
//!
//! The cryptography is the openidconnect crate's ([`JsonWebKey::verify_signature`] on its
//! `CoreJsonWebKey`, with keys from its discovery and JWKS types). What is written here is
//! only what that crate leaves out for tokens that are not ID tokens: splitting the compact
//! serialization, the algorithm allow-list (no `none`, no HMAC — the client secret must never
//! be able to sign a sign-out), choosing the key by `kid`, and fetching the keys again once,
//! at most every [`REFETCH_EVERY`], when a token names a key we do not have.

use std::{
    sync::Mutex,
    time::{Duration, Instant},
};

use base64::Engine;
use openidconnect::{
    IssuerUrl, JsonWebKey, JsonWebKeySet,
    core::{CoreJsonWebKey, CoreJwsSigningAlgorithm, CoreProviderMetadata},
};
use serde_json::{Map, Value};
use tokio::sync::RwLock;

use super::oidc::error_chain;

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

/// The signing keys of one issuer (from its discovery document's `jwks_uri`), cached.
pub struct KeyCache {
    issuer: String,
    http: reqwest::Client,
    keys: RwLock<Option<(JsonWebKeySet<CoreJsonWebKey>, Instant)>>,
    last_refetch: Mutex<Option<Instant>>,
}

impl KeyCache {
    pub fn new(issuer: String, http: reqwest::Client) -> Self {
        Self {
            issuer,
            http,
            keys: RwLock::new(None),
            last_refetch: Mutex::new(None),
        }
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    async fn fetch(&self) -> Result<JsonWebKeySet<CoreJsonWebKey>, JwtError> {
        let issuer = IssuerUrl::new(self.issuer.clone())
            .map_err(|e| JwtError::KeysUnavailable(e.to_string()))?;
        let metadata = CoreProviderMetadata::discover_async(issuer, &self.http)
            .await
            .map_err(|e| JwtError::KeysUnavailable(error_chain(&e)))?;
        let keys = metadata.jwks().clone();
        *self.keys.write().await = Some((keys.clone(), Instant::now()));
        Ok(keys)
    }

    /// The keys; fetched when missing or old, or when `unknown_kid` and the last such refetch
    /// was more than [`REFETCH_EVERY`] ago.
    async fn keys(&self, unknown_kid: bool) -> Result<JsonWebKeySet<CoreJsonWebKey>, JwtError> {
        if let Some((keys, at)) = self.keys.read().await.as_ref()
            && at.elapsed() < KEYS_TTL
            && !unknown_kid
        {
            return Ok(keys.clone());
        }
        if unknown_kid {
            let mut last = self.last_refetch.lock().unwrap_or_else(|e| e.into_inner());
            if last.is_some_and(|t| t.elapsed() < REFETCH_EVERY) {
                return Err(JwtError::UnknownKey);
            }
            *last = Some(Instant::now());
        }
        self.fetch().await
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
        let kid = header.get("kid").and_then(Value::as_str);
        let mut refetched = false;
        loop {
            let keys = self.keys(refetched).await?;
            let candidates: Vec<&CoreJsonWebKey> = keys
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

    pub fn number(c: &Map<String, Value>, name: &str) -> Option<i64> {
        c.get(name).and_then(Value::as_i64)
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
