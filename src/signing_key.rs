//! A private key the app signs its own JWTs with: the client assertions of `private_key_jwt`
//! client authentication (RFC 7523) and DPoP proofs (RFC 9449).
//!
//! All of the JOSE work is the `jsonwebtoken` crate's (PKCS#8 parsing, signing, the public JWK
//! and its RFC 7638 thumbprint); keys are generated with the RustCrypto `p256` crate. What is
//! here is the choice of algorithm by key type (RSA → RS256; EC P-256 → ES256, P-384 → ES384)
//! and keeping the private half out of every `Debug` and log line.

use std::{fmt, path::Path};

use jsonwebtoken::{
    Algorithm, EncodingKey, Header,
    jwk::{Jwk, KeyAlgorithm, PublicKeyUse, ThumbprintHash},
};
use serde::Serialize;

/// Why a key could not be read or used (no key material in the text).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read {0}: {1}")]
    Read(String, String),
    #[error(
        "is not a PKCS#8 PEM private key (\"-----BEGIN PRIVATE KEY-----\") for RSA (2048 bits or more) or EC P-256/P-384"
    )]
    Unsupported,
    #[error("cannot create {0}: {1}")]
    Write(String, String),
    #[error("cannot sign: {0}")]
    Sign(String),
}

/// A private signing key with its public JWK. `Debug` never shows the private half.
#[derive(Clone)]
pub struct SigningKey {
    key: EncodingKey,
    alg: Algorithm,
    public: Jwk,
    thumbprint: String,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("alg", &self.alg)
            .field("kid", &self.public.common.key_id)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// A PKCS#8 PEM private key (RSA, or EC P-256 / P-384). `kid`: the key id to publish
    /// (Okta's key id, `OIDC_CLIENT_KEY_ID`); `None`: the key's RFC 7638 thumbprint.
    pub fn from_pem(pem: &str, kid: Option<&str>) -> Result<Self, KeyError> {
        let pem = pem.trim();
        if !pem.starts_with("-----BEGIN PRIVATE KEY-----") {
            return Err(KeyError::Unsupported);
        }
        let candidates = [
            (Algorithm::RS256, EncodingKey::from_rsa_pem(pem.as_bytes())),
            (Algorithm::ES256, EncodingKey::from_ec_pem(pem.as_bytes())),
            (Algorithm::ES384, EncodingKey::from_ec_pem(pem.as_bytes())),
        ];
        for (alg, key) in candidates {
            let Ok(key) = key else { continue };
            // the public half is derived with the algorithm's curve: a P-384 key fails ES256
            let Ok(mut public) = Jwk::from_encoding_key(&key, alg) else {
                continue;
            };
            let Ok(thumbprint) = public.thumbprint(ThumbprintHash::SHA256) else {
                continue;
            };
            // RSA under 2048 bits is refused (the crypto backend itself would sign with it)
            if let jsonwebtoken::jwk::AlgorithmParameters::RSA(rsa) = &public.algorithm {
                use base64::Engine;
                let modulus = base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(&rsa.n)
                    .unwrap_or_default();
                let bits =
                    modulus.len() * 8 - modulus.first().map_or(8, |b| b.leading_zeros() as usize);
                if bits < 2048 {
                    return Err(KeyError::Unsupported);
                }
            }
            public.common.key_id = Some(kid.map_or_else(|| thumbprint.clone(), str::to_string));
            public.common.public_key_use = Some(PublicKeyUse::Signature);
            public.common.key_algorithm = Some(match alg {
                Algorithm::ES256 => KeyAlgorithm::ES256,
                Algorithm::ES384 => KeyAlgorithm::ES384,
                _ => KeyAlgorithm::RS256,
            });
            let key = Self {
                key,
                alg,
                public,
                thumbprint,
            };
            // a key that parses but cannot sign is refused now
            key.sign(Header::new(alg), &serde_json::json!({}))
                .map_err(|_| KeyError::Unsupported)?;
            return Ok(key);
        }
        Err(KeyError::Unsupported)
    }

    /// Reads a PKCS#8 PEM file.
    pub fn from_file(path: &Path, kid: Option<&str>) -> Result<Self, KeyError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| KeyError::Read(path.display().to_string(), e.kind().to_string()))?;
        Self::from_pem(&text, kid)
    }

    /// A new EC P-256 key, and its PKCS#8 PEM to keep.
    pub fn generate(kid: Option<&str>) -> Result<(Self, String), KeyError> {
        use p256::{elliptic_curve::Generate, pkcs8::EncodePrivateKey};
        let secret =
            p256::SecretKey::try_generate().map_err(|e| KeyError::Sign(format!("random: {e}")))?;
        let pem = secret
            .to_pkcs8_pem(p256::pkcs8::LineEnding::LF)
            .map_err(|e| KeyError::Sign(format!("encoding: {e}")))?;
        let key = Self::from_pem(&pem, kid)?;
        Ok((key, pem.to_string()))
    }

    /// The key from `path`; when there is no such file, a new P-256 key written there first
    /// (owner-only, never over an existing file).
    pub fn load_or_generate(path: &Path, kid: Option<&str>) -> Result<Self, KeyError> {
        if path.exists() {
            return Self::from_file(path, kid);
        }
        Self::generate_into(path, kid)
    }

    /// A new P-256 key written to `path`, which must not exist (owner-only; an existing file,
    /// even one that appeared a moment ago, is an error, never read).
    pub fn generate_into(path: &Path, kid: Option<&str>) -> Result<Self, KeyError> {
        let (key, pem) = Self::generate(kid)?;
        use std::io::Write;
        crate::util::create_new_private(path)
            .and_then(|mut file| file.write_all(pem.as_bytes()))
            .map_err(|e| KeyError::Write(path.display().to_string(), e.to_string()))?;
        Ok(key)
    }

    pub fn alg(&self) -> Algorithm {
        self.alg
    }

    /// The public JWK (`kty`, key parameters, `kid`, `use: sig`, `alg`).
    pub fn public_jwk(&self) -> &Jwk {
        &self.public
    }

    /// The public JWK as JSON without `kid`, `use` and `alg` (a DPoP proof's `jwk` header).
    pub fn bare_public_jwk(&self) -> Jwk {
        let mut jwk = self.public.clone();
        jwk.common = Default::default();
        jwk
    }

    /// The RFC 7638 SHA-256 thumbprint of the public key (base64url): DPoP's `jkt`.
    pub fn thumbprint(&self) -> &str {
        &self.thumbprint
    }

    pub fn key_id(&self) -> Option<&str> {
        self.public.common.key_id.as_deref()
    }

    /// Signs `claims` under `header` (its `alg` is set to this key's).
    pub fn sign(&self, mut header: Header, claims: &impl Serialize) -> Result<String, KeyError> {
        header.alg = self.alg;
        jsonwebtoken::encode(&header, claims, &self.key).map_err(|e| KeyError::Sign(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{DecodingKey, Validation, decode, jwk::AlgorithmParameters};

    fn verify(token: &str, key: &SigningKey) -> serde_json::Value {
        let decoding = DecodingKey::from_jwk(key.public_jwk()).unwrap();
        let mut validation = Validation::new(key.alg());
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        decode::<serde_json::Value>(token, &decoding, &validation)
            .unwrap()
            .claims
    }

    #[test]
    fn a_generated_key_signs_what_its_public_jwk_verifies() {
        let (key, pem) = SigningKey::generate(None).unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        assert_eq!(key.alg(), Algorithm::ES256);
        let token = key
            .sign(Header::new(Algorithm::RS256), &serde_json::json!({"a": 1}))
            .unwrap();
        assert_eq!(verify(&token, &key)["a"], 1);
        // the key id defaults to the thumbprint; the bare JWK has no kid/use/alg
        assert_eq!(key.key_id(), Some(key.thumbprint()));
        let bare = serde_json::to_value(key.bare_public_jwk()).unwrap();
        assert_eq!(bare["kty"], "EC");
        assert!(bare.get("kid").is_none() && bare.get("alg").is_none());
        // the same PEM reads back as the same key, with the configured kid
        let again = SigningKey::from_pem(&pem, Some("k1")).unwrap();
        assert_eq!(again.thumbprint(), key.thumbprint());
        assert_eq!(again.key_id(), Some("k1"));
    }

    #[test]
    fn the_public_jwk_and_debug_never_show_the_private_half() {
        let (key, _) = SigningKey::generate(Some("k")).unwrap();
        let json = serde_json::to_value(key.public_jwk()).unwrap();
        assert!(json.get("d").is_none(), "{json}");
        assert_eq!(json["use"], "sig");
        assert_eq!(json["alg"], "ES256");
        assert!(matches!(
            key.public_jwk().algorithm,
            AlgorithmParameters::EllipticCurve(_)
        ));
        let debug = format!("{key:?}");
        assert!(
            debug.contains("ES256") && !debug.contains("content"),
            "{debug}"
        );
    }

    #[cfg(feature = "dev-provider")]
    #[test]
    fn an_rsa_pkcs8_key_signs_rs256() {
        use rsa::pkcs8::EncodePrivateKey;
        let private = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap();
        let pem = private.to_pkcs8_pem(rsa::pkcs8::LineEnding::LF).unwrap();
        let key = SigningKey::from_pem(&pem, None).unwrap();
        assert_eq!(key.alg(), Algorithm::RS256);
        let token = key
            .sign(Header::new(Algorithm::ES256), &serde_json::json!({"b": 2}))
            .unwrap();
        assert_eq!(verify(&token, &key)["b"], 2);
        assert_eq!(
            serde_json::to_value(key.public_jwk()).unwrap()["kty"],
            "RSA"
        );
        let short = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 1024).unwrap();
        let pem = short.to_pkcs8_pem(rsa::pkcs8::LineEnding::LF).unwrap();
        assert_eq!(
            SigningKey::from_pem(&pem, None).unwrap_err(),
            KeyError::Unsupported,
            "under 2048 bits"
        );
    }

    #[test]
    fn other_text_is_refused_plainly() {
        for text in [
            "",
            "not a key",
            "-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----",
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----",
        ] {
            assert_eq!(
                SigningKey::from_pem(text, None).unwrap_err(),
                KeyError::Unsupported
            );
        }
    }
}
