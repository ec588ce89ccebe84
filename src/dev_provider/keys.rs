//! The provider's signing key and client secret (created once, kept in the state directory
//! with owner-only permissions so restarts keep tokens valid), and the JWKS endpoint.

use std::path::Path;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};

use crate::util::hex;

use super::Op;
use super::grants::random_token;

pub(super) fn load_or_create_key(path: &Path) -> Result<String, String> {
    if let Ok(pem) = std::fs::read_to_string(path) {
        return Ok(pem);
    }
    use rsa::pkcs1::EncodeRsaPrivateKey;
    let key = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048)
        .map_err(|e| format!("RSA key: {e}"))?;
    let pem = key
        .to_pkcs1_pem(rsa::pkcs1::LineEnding::LF)
        .map_err(|e| format!("RSA key: {e}"))?
        .to_string();
    write_private(path, &pem)?;
    Ok(pem)
}

pub(super) fn load_or_create_secret(path: &Path) -> Result<String, String> {
    if let Ok(s) = std::fs::read_to_string(path) {
        let s = s.trim().to_string();
        if !s.is_empty() {
            return Ok(s);
        }
    }
    let secret = random_token();
    write_private(path, &secret)?;
    Ok(secret)
}

pub(super) fn write_private(path: &Path, contents: &str) -> Result<(), String> {
    use std::io::Write;
    crate::util::create_private(path)
        .and_then(|mut f| f.write_all(contents.as_bytes()))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// A stable key id: the first bytes of the SHA-256 of the PEM.
pub(super) fn key_id(pem: &str) -> String {
    use sha2::Digest;
    hex(&sha2::Sha256::digest(pem.as_bytes())[..8])
}

pub(super) async fn jwks(State(op): State<Op>) -> Response {
    Json(op.0.jwks.clone()).into_response()
}
