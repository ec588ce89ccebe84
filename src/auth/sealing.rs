//! The signed-in state (tokens and claims) is sealed before it reaches the session store:
//! XChaCha20-Poly1305 (the RustCrypto `chacha20poly1305` crate) with a random 192-bit nonce
//! per write, keyed by `SESSION_ENCRYPTION_KEY`. Several keys may be given for rotation: the
//! first seals, every one opens (each sealed value names its key by a short id).
//!
//! Sealed form: `v1.<key id>.<base64url(nonce ‖ ciphertext ‖ tag)>`. A value that does not
//! open (another key, tampered, or written unsealed by an older version) is no session: the
//! person signs in again.
//!
//! Without a configured key: the memory store uses a random key per process (its sessions
//! die with it anyway); SQLite and Redis, outside production, use a key generated into
//! `SESSION_KEY_FILE` (`.session-key`, git-ignored, owner-only). In production a persistent
//! store without a key is a start-up error (see the settings).

use std::path::Path;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chacha20poly1305::{
    Key, KeyInit, XChaCha20Poly1305, XNonce,
    aead::{Aead, Payload},
};
use sha2::{Digest, Sha256};

use crate::{
    settings::{SessionSettings, StoreKind, decode_key},
    util::{create_new_private, ensure_private, hex},
};

const VERSION: &str = "v1";
/// Bound into every seal: a sealed value is the signed-in state of this app, nothing else.
const AAD: &[u8] = b"signin/oidc.auth/v1";

struct SealKey {
    id: String,
    cipher: XChaCha20Poly1305,
}

/// Seals and opens the signed-in state.
pub struct Sealer {
    /// Seals, and opens.
    current: SealKey,
    /// Only open (keys being rotated out).
    previous: Vec<SealKey>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.keys().map(|k| k.id.as_str()).collect();
        f.debug_struct("Sealer").field("key_ids", &ids).finish()
    }
}

fn seal_key(k: &[u8; 32]) -> SealKey {
    SealKey {
        id: hex(&Sha256::digest(k)[..4]),
        cipher: XChaCha20Poly1305::new(Key::from_slice(k)),
    }
}

impl Sealer {
    /// A sealer over `keys` (32 bytes each; the first seals). `None` without a key.
    pub fn new(keys: &[[u8; 32]]) -> Option<Self> {
        let (first, rest) = keys.split_first()?;
        Some(Self::with(first, rest))
    }

    fn with(first: &[u8; 32], rest: &[[u8; 32]]) -> Self {
        Self {
            current: seal_key(first),
            previous: rest.iter().map(seal_key).collect(),
        }
    }

    fn keys(&self) -> impl Iterator<Item = &SealKey> {
        std::iter::once(&self.current).chain(&self.previous)
    }

    /// A sealer with a fresh random key (nothing sealed with it survives the process).
    pub fn random() -> Self {
        let mut key = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut key);
        Self::with(&key, &[])
    }

    /// The sealer the settings ask for (see the module documentation); `Err` is one line.
    pub fn from_settings(session: &SessionSettings) -> Result<Self, String> {
        if let Some(s) = Self::new(session.encryption_keys.expose()) {
            return Ok(s);
        }
        match session.store {
            StoreKind::Memory => Ok(Self::random()),
            _ => {
                let key = load_or_create_key(Path::new(&session.key_file))?;
                Ok(Self::with(&key, &[]))
            }
        }
    }

    /// `plain`, sealed with the first key.
    pub fn seal(&self, plain: &str) -> String {
        let key = &self.current;
        let mut nonce = [0u8; 24];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut nonce);
        let payload = Payload {
            msg: plain.as_bytes(),
            aad: AAD,
        };
        // Encryption with a valid key and nonce cannot fail for a message this size.
        let sealed = key
            .cipher
            .encrypt(XNonce::from_slice(&nonce), payload)
            .unwrap_or_default();
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        format!("{VERSION}.{}.{}", key.id, URL_SAFE_NO_PAD.encode(bytes))
    }

    /// The plain text of a value [`seal`](Self::seal) produced with any of the keys.
    pub fn open(&self, sealed: &str) -> Option<String> {
        let mut parts = sealed.splitn(3, '.');
        let (Some(VERSION), Some(id), Some(data)) = (parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        let key = self.keys().find(|k| k.id == id)?;
        let bytes = URL_SAFE_NO_PAD.decode(data).ok()?;
        if bytes.len() < 24 {
            return None;
        }
        let (nonce, ciphertext) = bytes.split_at(24);
        let plain = key
            .cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: AAD,
                },
            )
            .ok()?;
        String::from_utf8(plain).ok()
    }
}

/// The development key file: read, or created owner-only with a random key.
fn load_or_create_key(path: &Path) -> Result<[u8; 32], String> {
    if let Some(key) = read_key(path)? {
        return Ok(key);
    }
    let mut key = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut key);
    let encoded = base64::engine::general_purpose::STANDARD.encode(key);
    let written = create_new_private(path)
        .and_then(|mut f| std::io::Write::write_all(&mut f, encoded.as_bytes()));
    match written {
        Ok(()) => {}
        // of two instances starting at once, one writes the key, the other reads it
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return read_key(path)?.ok_or_else(|| key_file_error(path, "vanished"));
        }
        Err(e) => return Err(key_file_error(path, e)),
    }
    tracing::warn!(
        file = %path.display(),
        "no SESSION_ENCRYPTION_KEY: sessions are sealed with a key generated into this file (development only)"
    );
    Ok(key)
}

/// The key in `path`; `None` only when the file does not exist — any other failure must not
/// lead to a new key silently replacing it (that would sign everyone out).
fn read_key(path: &Path) -> Result<Option<[u8; 32]>, String> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            ensure_private(path).map_err(|e| key_file_error(path, e))?;
            decode_key(text.trim())
                .map(Some)
                .map_err(|e| key_file_error(path, e))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(key_file_error(path, e)),
    }
}

fn key_file_error(path: &Path, e: impl std::fmt::Display) -> String {
    format!("session key file {}: {e}", path.display())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_rotate_tamper() {
        let (a, b) = ([1u8; 32], [2u8; 32]);
        let old = Sealer::new(&[a]).unwrap();
        let sealed = old.seal("{\"tokens\":\"secret\"}");
        assert!(!sealed.contains("secret"));
        assert_ne!(
            sealed,
            old.seal("{\"tokens\":\"secret\"}"),
            "a fresh nonce each time"
        );
        assert_eq!(
            old.open(&sealed).as_deref(),
            Some("{\"tokens\":\"secret\"}")
        );
        // rotation: the new key seals, the old one still opens
        let rotated = Sealer::new(&[b, a]).unwrap();
        assert_eq!(
            rotated.open(&sealed).as_deref(),
            Some("{\"tokens\":\"secret\"}")
        );
        let resealed = rotated.seal("x");
        assert!(
            old.open(&resealed).is_none(),
            "the old key alone cannot open new seals"
        );
        assert!(
            Sealer::new(&[b]).unwrap().open(&sealed).is_none(),
            "retired key"
        );
        // tampering, truncation, plain text
        let mut bytes = sealed.clone().into_bytes();
        let last = bytes.len() - 2;
        bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
        assert!(old.open(&String::from_utf8(bytes).unwrap()).is_none());
        assert!(old.open(&sealed[..sealed.len() - 4]).is_none());
        assert!(old.open("{\"tokens\":\"secret\"}").is_none());
        assert!(old.open("v1.zz.AAAA").is_none());
        assert!(format!("{old:?}").contains("key_ids"));
    }
}
