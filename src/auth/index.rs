//! The session index: every session of a person, found without scanning all sessions — by
//! `(iss, sub)`, by the provider's session id `(iss, sid)`, or by email — for sign-outs the
//! provider starts (back-channel logout, Okta Universal Logout).
//!
//! Each signed-in session is indexed under the keys of its claims when it signs in and when a
//! refresh brings new claims, until its absolute end; its keys are removed when it signs out.
//! Keys are SHA-256 hashes (no email or subject in Redis key names or SQLite rows). An entry
//! can outlive its session (idle expiry, a changed email), so [`sessions_of`] loads each
//! session it finds, keeps only those whose claims still match, and drops the other entries.

use serde_json::Value;
use sha2::{Digest, Sha256};
use tower_sessions::session::Id;

use super::{
    error::AuthError,
    oidc::Verified,
    session::{SharedStore, SignedIn},
};

/// A person (or one of their provider sessions), as a provider names them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Who {
    /// `iss` + `sub`: every session of this person.
    Subject { iss: String, sub: String },
    /// `iss` + `sid`: the sessions started in this provider session.
    ProviderSession { iss: String, sid: String },
    /// Every session whose `email` claim is this address (compared case-insensitively),
    /// signed in at `iss` — the same address at another provider is another account. (The
    /// index key is the address alone, as before several providers; the issuer is checked
    /// on every match.)
    Email { iss: String, email: String },
}

impl Who {
    fn key(&self) -> String {
        let (kind, parts): (&str, Vec<&str>) = match self {
            Who::Subject { iss, sub } => ("sub", vec![iss.trim_end_matches('/'), sub]),
            Who::ProviderSession { iss, sid } => ("sid", vec![iss.trim_end_matches('/'), sid]),
            Who::Email { email, .. } => ("email", vec![email.as_str()]),
        };
        let mut hash = Sha256::new();
        for part in parts {
            // length-prefixed, so no two different pairs hash alike
            hash.update((part.len() as u64).to_be_bytes());
            if kind == "email" {
                hash.update(part.to_lowercase().as_bytes());
            } else {
                hash.update(part.as_bytes());
            }
        }
        format!("{kind}:{}", crate::util::hex(&hash.finalize()))
    }

    /// Whether the signed-in session `v` is this person's (or this provider session's).
    pub fn matches(&self, v: &Verified) -> bool {
        let claim = |k: &str| v.claims.get(k).and_then(Value::as_str).unwrap_or_default();
        let same_issuer =
            |iss: &str| claim("iss").trim_end_matches('/') == iss.trim_end_matches('/');
        match self {
            Who::Subject { iss, sub } => same_issuer(iss) && claim("sub") == sub,
            Who::ProviderSession { iss, sid } => same_issuer(iss) && claim("sid") == sid,
            Who::Email { iss, email } => {
                let own = claim("email");
                same_issuer(iss)
                    && !own.is_empty()
                    && own.to_lowercase() == email.to_lowercase()
                    && email_usable(v)
            }
        }
    }

    /// The index keys of a signed-in session.
    pub fn all_of(v: &Verified) -> Vec<Who> {
        let claim = |k: &str| {
            v.claims
                .get(k)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let iss = claim("iss").unwrap_or_default();
        let mut all = vec![Who::Subject {
            iss: iss.clone(),
            sub: v.user.sub.clone(),
        }];
        if let Some(sid) = claim("sid") {
            all.push(Who::ProviderSession {
                iss: iss.clone(),
                sid,
            });
        }
        if let Some(email) = claim("email").filter(|_| email_usable(v)) {
            all.push(Who::Email { iss, email });
        }
        all
    }
}

/// An email the provider says is unverified does not name the person (another account could
/// claim the same address); absent `email_verified` is taken as the provider's word.
fn email_usable(v: &Verified) -> bool {
    v.claims.get("email_verified") != Some(&Value::Bool(false))
}

/// The index keys of a signed-in session.
pub fn keys(v: &Verified) -> Vec<String> {
    Who::all_of(v).iter().map(Who::key).collect()
}

/// Indexes session `id` under the keys of `s` until its absolute end.
pub async fn add(store: &SharedStore, id: &Id, s: &SignedIn, until: i64) -> Result<(), AuthError> {
    store
        .0
        .index_add(&keys(&s.verified), id, until)
        .await
        .map_err(AuthError::from)
}

/// Removes session `id` from the keys of `s`.
pub async fn remove(store: &SharedStore, id: &Id, s: &SignedIn) -> Result<(), AuthError> {
    store
        .0
        .index_remove(&keys(&s.verified), id)
        .await
        .map_err(AuthError::from)
}

/// The live sessions of `who`, read from the store (entries of sessions that have ended or no
/// longer match are dropped from the index on the way).
pub async fn sessions_of(store: &SharedStore, who: &Who) -> Result<Vec<(Id, SignedIn)>, AuthError> {
    let key = who.key();
    let ids = store.0.index_lookup(&key).await.map_err(AuthError::from)?;
    let mut found = Vec::new();
    for id in ids {
        match store.load_signed_in(&id).await? {
            Some((_, s)) if who.matches(&s.verified) => found.push((id, s)),
            // indexed under this key but another provider's (the same email address): not
            // stale — that provider may ask for it next
            Some((_, s)) if keys(&s.verified).contains(&key) => {}
            _ => {
                if let Err(e) = store.0.index_remove(std::slice::from_ref(&key), &id).await {
                    tracing::warn!(error = %e, "could not drop a stale session-index entry");
                }
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_hashed_and_distinct() {
        let a = Who::Subject {
            iss: "https://x/".into(),
            sub: "a".into(),
        };
        let same = Who::Subject {
            iss: "https://x".into(),
            sub: "a".into(),
        };
        let other = Who::ProviderSession {
            iss: "https://x".into(),
            sid: "a".into(),
        };
        assert_eq!(a.key(), same.key(), "trailing slash of the issuer ignored");
        assert_ne!(a.key(), other.key());
        assert!(a.key().starts_with("sub:") && a.key().len() == 4 + 64);
        assert_eq!(
            email("https://x", "Ada@Example.com").key(),
            email("https://y", "ada@example.com").key()
        );
    }

    fn email(iss: &str, email: &str) -> Who {
        Who::Email {
            iss: iss.into(),
            email: email.into(),
        }
    }

    fn verified(claims: serde_json::Value) -> Verified {
        let Value::Object(claims) = claims else {
            unreachable!()
        };
        Verified {
            user: crate::auth::oidc::user_from_claims(&claims),
            claims,
            tokens: crate::auth::oidc::Tokens {
                access_token: crate::secret::Secret::new("a"),
                access_expires_at: None,
                access_expires_at_ms: None,
                access_lifetime_ms: None,
                refresh_token: None,
                id_token: crate::secret::Secret::new("i"),
                dpop_bound: false,
            },
            id_token_expires_at: 0,
            userinfo_stale: false,
            provider: String::new(),
        }
    }

    #[test]
    fn an_unverified_email_names_nobody() {
        let base = serde_json::json!({"iss": "https://x", "sub": "s", "email": "ÅDA@x.org"});
        let v = verified(base.clone());
        assert_eq!(Who::all_of(&v).len(), 2, "sub and email");
        assert!(
            email("https://x/", "åda@X.org").matches(&v),
            "one case folding for key and match"
        );
        assert!(
            !email("https://another", "ÅDA@x.org").matches(&v),
            "the same address at another provider is another account"
        );
        let mut unverified = base;
        unverified["email_verified"] = false.into();
        let v = verified(unverified);
        assert_eq!(Who::all_of(&v).len(), 1, "sub only");
        assert!(!email("https://x", "ÅDA@x.org").matches(&v));
    }
}
