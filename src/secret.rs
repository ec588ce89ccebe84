//! [`Secret`]: a string that never shows itself.
//!
//! Tokens and the client secret are held in this type. Its `Debug` prints `[redacted]`, it has
//! no `Display`, and the only way to read it is [`Secret::expose`], which is easy to grep for.
//! It is `Serialize` only because the server-side session store must persist it; the type lives
//! in a server-only module, so it cannot end up in a server-function response or in the WASM
//! build.

use serde::{Deserialize, Serialize};

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret value. Call only where it is sent to the provider.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let s = Secret::new("eyJhbGciOi.secret");
        assert_eq!(format!("{s:?}"), "Secret([redacted])");
        assert_eq!(format!("{:?}", Some(&s)), "Some(Secret([redacted]))");
        assert_eq!(s.expose(), "eyJhbGciOi.secret");
    }
}
