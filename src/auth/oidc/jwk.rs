//! The provider's public keys as `openidconnect` uses them ([`Jwk`]), with RSA PKCS #1 v1.5
//! signatures (RS256/384/512, what Okta and nearly every provider sign ID tokens with) checked
//! by `ring` instead of the pure-Rust `rsa` crate `openidconnect` uses: the same check, about
//! fifteen times cheaper — it was a sixth of the server's CPU per sign-in.
//!
//! Everything else is `openidconnect`'s own `CoreJsonWebKey`, which this wraps: parsing, key
//! selection by `kid`, other algorithms (PS*, ES*, EdDSA) and keys outside 2048–4096 bits
//! (shorter ones `ring` does not take; longer ones `openidconnect` refuses). What is written here is only the hand-over: the key checks
//! `openidconnect` makes before any signature check (use, key type, `alg`), repeated, then
//! `ring`'s verification with the key's `n` and `e`.

use std::sync::Arc;

use base64::Engine;
use openidconnect::{
    JsonWebKey, JsonWebKeyAlgorithm, JsonWebKeyId, JsonWebKeyUse, JwsSigningAlgorithm,
    SignatureVerificationError,
    core::{CoreJsonWebKey, CoreJsonWebKeyType, CoreJsonWebKeyUse, CoreJwsSigningAlgorithm},
};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// A provider's public key: `openidconnect`'s, with its RSA modulus and exponent kept for
/// `ring`.
#[derive(Clone, Debug, Serialize)]
#[serde(transparent)]
pub struct Jwk {
    inner: CoreJsonWebKey,
    #[serde(skip)]
    rsa: Option<Arc<RsaComponents>>,
}

#[derive(Debug)]
struct RsaComponents {
    n: Vec<u8>,
    e: Vec<u8>,
}

/// Moduli checked by `ring`: from its minimum, 2048 bits, to the `rsa` crate's maximum, 4096
/// bits (what `openidconnect` alone accepts; beyond, it refuses, and so do we).
const RING_BITS: std::ops::RangeInclusive<usize> = 2048..=4096;

fn bits(n: &[u8]) -> usize {
    n.first()
        .map_or(0, |top| n.len() * 8 - top.leading_zeros() as usize)
}

/// A base64url (unpadded) unsigned integer, without leading zero bytes.
fn uint(value: Option<&Value>) -> Option<Vec<u8>> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(value?.as_str()?)
        .ok()?;
    let first = bytes.iter().position(|b| *b != 0)?;
    Some(bytes[first..].to_vec())
}

impl<'de> Deserialize<'de> for Jwk {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        let rsa = (value.get("kty").and_then(Value::as_str) == Some("RSA"))
            .then(|| {
                Some(RsaComponents {
                    n: uint(value.get("n"))?,
                    e: uint(value.get("e"))?,
                })
            })
            .flatten()
            .filter(|k| RING_BITS.contains(&bits(&k.n)))
            .map(Arc::new);
        let inner = CoreJsonWebKey::deserialize(value).map_err(serde::de::Error::custom)?;
        Ok(Self { inner, rsa })
    }
}

impl Jwk {
    /// What `openidconnect` checks of a key before a signature (`check_key_compatibility`,
    /// not public there).
    fn compatible(&self, alg: &CoreJwsSigningAlgorithm) -> Result<(), &'static str> {
        if let Some(use_) = self.inner.key_use()
            && !use_.allows_signature()
        {
            return Err("key usage not permitted for digital signatures");
        }
        if alg.key_type().as_ref() != Some(self.inner.key_type()) {
            return Err("key type does not match signature algorithm");
        }
        match self.inner.signing_alg() {
            JsonWebKeyAlgorithm::Unspecified => Ok(()),
            JsonWebKeyAlgorithm::Unsupported => Err("key algorithm is not a signing algorithm"),
            JsonWebKeyAlgorithm::Algorithm(key_alg) if key_alg == alg => Ok(()),
            JsonWebKeyAlgorithm::Algorithm(_) => Err("incompatible key algorithm"),
        }
    }
}

impl JsonWebKey for Jwk {
    type KeyUse = CoreJsonWebKeyUse;
    type SigningAlgorithm = CoreJwsSigningAlgorithm;

    fn key_id(&self) -> Option<&JsonWebKeyId> {
        self.inner.key_id()
    }
    fn key_type(&self) -> &CoreJsonWebKeyType {
        self.inner.key_type()
    }
    fn key_use(&self) -> Option<&CoreJsonWebKeyUse> {
        self.inner.key_use()
    }
    fn signing_alg(&self) -> JsonWebKeyAlgorithm<&CoreJwsSigningAlgorithm> {
        self.inner.signing_alg()
    }
    fn new_symmetric(key: Vec<u8>) -> Self {
        Self {
            inner: CoreJsonWebKey::new_symmetric(key),
            rsa: None,
        }
    }

    fn verify_signature(
        &self,
        alg: &CoreJwsSigningAlgorithm,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), SignatureVerificationError> {
        let params: &'static ring::signature::RsaParameters = match alg {
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256 => {
                &ring::signature::RSA_PKCS1_2048_8192_SHA256
            }
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384 => {
                &ring::signature::RSA_PKCS1_2048_8192_SHA384
            }
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512 => {
                &ring::signature::RSA_PKCS1_2048_8192_SHA512
            }
            _ => return self.inner.verify_signature(alg, message, signature),
        };
        let Some(rsa) = &self.rsa else {
            return self.inner.verify_signature(alg, message, signature);
        };
        self.compatible(alg)
            .map_err(|e| SignatureVerificationError::InvalidKey(e.to_string()))?;
        ring::signature::RsaPublicKeyComponents {
            n: &rsa.n,
            e: &rsa.e,
        }
        .verify(params, message, signature)
        .map_err(|_| SignatureVerificationError::CryptoError("bad signature".to_string()))
    }

    fn hash_bytes(&self, bytes: &[u8], alg: &CoreJwsSigningAlgorithm) -> Result<Vec<u8>, String> {
        self.inner.hash_bytes(bytes, alg)
    }
}

#[cfg(test)]
#[cfg(feature = "dev-provider")]
mod tests {
    use super::*;
    use rsa::{RsaPrivateKey, pkcs1v15::Pkcs1v15Sign, traits::PublicKeyParts};
    use sha2::Digest;

    fn b64(b: &[u8]) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
    }

    fn key(bits: usize) -> RsaPrivateKey {
        RsaPrivateKey::new(&mut rand::thread_rng(), bits).unwrap()
    }

    fn jwk(key: &RsaPrivateKey, extra: Value) -> Jwk {
        let mut v = serde_json::json!({
            "kty": "RSA",
            "kid": "k1",
            "n": b64(&key.n().to_bytes_be()),
            "e": b64(&key.e().to_bytes_be()),
        });
        if let (Value::Object(v), Value::Object(extra)) = (&mut v, extra) {
            v.extend(extra);
        }
        serde_json::from_value(v).unwrap()
    }

    fn sign(key: &RsaPrivateKey, msg: &[u8]) -> Vec<u8> {
        let digest = sha2::Sha256::digest(msg);
        key.sign(Pkcs1v15Sign::new::<sha2::Sha256>(), &digest)
            .unwrap()
    }

    const RS256: CoreJwsSigningAlgorithm = CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256;

    /// `ring`'s answer is `openidconnect`'s own for the same key, message and signature.
    #[test]
    fn ring_agrees_with_openidconnect() {
        let k = key(2048);
        let j = jwk(&k, serde_json::json!({"use": "sig", "alg": "RS256"}));
        assert!(j.rsa.is_some(), "checked by ring");
        let msg = b"header.payload";
        let good = sign(&k, msg);
        let mut flipped = good.clone();
        flipped[10] ^= 1;
        let other = sign(&key(2048), msg);
        for (sig, m, ok) in [
            (&good, &msg[..], true),
            (&good, &b"header.payloaD"[..], false),
            (&flipped, &msg[..], false),
            (&other, &msg[..], false),
            (&good[..100].to_vec(), &msg[..], false),
        ] {
            let ours = j.verify_signature(&RS256, m, sig).is_ok();
            let theirs = j.inner.verify_signature(&RS256, m, sig).is_ok();
            assert_eq!(ours, ok);
            assert_eq!(ours, theirs);
        }
    }

    /// The key checks `openidconnect` makes come first: an encryption key, a key for another
    /// algorithm, or an EC algorithm with an RSA key verify nothing.
    #[test]
    fn incompatible_keys_verify_nothing() {
        let k = key(2048);
        let msg = b"m";
        let sig = sign(&k, msg);
        for extra in [
            serde_json::json!({"use": "enc"}),
            serde_json::json!({"alg": "RS384"}),
        ] {
            let j = jwk(&k, extra.clone());
            assert!(
                matches!(
                    j.verify_signature(&RS256, msg, &sig),
                    Err(SignatureVerificationError::InvalidKey(_))
                ),
                "{extra}"
            );
        }
        let j = jwk(&k, serde_json::json!({}));
        assert!(j.verify_signature(&RS256, msg, &sig).is_ok());
        assert!(
            j.verify_signature(&CoreJwsSigningAlgorithm::EcdsaP256Sha256, msg, &sig)
                .is_err()
        );
    }

    #[test]
    fn modulus_sizes_are_counted_in_bits() {
        assert_eq!(bits(&[0x80; 256]), 2048);
        let mut n = vec![0x7f];
        n.extend([0u8; 255]);
        assert_eq!(
            bits(&n),
            2047,
            "a 2047-bit modulus is left to openidconnect"
        );
        assert!(!RING_BITS.contains(&bits(&n)));
        assert!(!RING_BITS.contains(&bits(&[0xff; 513])));
    }

    /// Keys `ring` does not take (under 2048 bits) are still checked, by `openidconnect`.
    #[test]
    fn short_keys_are_left_to_openidconnect() {
        let k = key(1024);
        let j = jwk(&k, serde_json::json!({}));
        assert!(j.rsa.is_none());
        let sig = sign(&k, b"m");
        assert!(j.verify_signature(&RS256, b"m", &sig).is_ok());
        assert!(j.verify_signature(&RS256, b"n", &sig).is_err());
    }
}
