//! The development provider's grant book-keeping: authorization codes, access tokens and
//! refresh-token families, with Okta's rotation semantics.
//!
//! - A code is good once, for 60 s; a second use fails and revokes what the first issued.
//! - Every refresh returns a new refresh token. The previous one stays usable for the grace
//!   period (it then returns the family's newest token); used after the grace period, it is
//!   treated as stolen: the whole family (refresh and access tokens) is revoked and the call
//!   fails with `invalid_grant`.
//!
//! Pure logic over a clock value, so it is tested without sleeping.

use std::collections::HashMap;

use rand::{RngCore, rngs::OsRng};
use serde::{Deserialize, Serialize};

/// Who signed in at the development provider.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Identity {
    pub sub: String,
    pub name: String,
    pub email: String,
    pub preferred_username: String,
    pub extra: serde_json::Map<String, serde_json::Value>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CodeGrant {
    pub client_id: String,
    pub redirect_uri: String,
    pub nonce: Option<String>,
    pub code_challenge: String,
    pub scope: String,
    pub identity: Identity,
    pub auth_time: i64,
    /// The authentication context class honoured (`acr`), when one was asked for.
    #[serde(default)]
    pub acr: Option<String>,
    pub sid: String,
    pub created_at: i64,
    /// Set on first redemption: the family it created (revoked on replay).
    pub redeemed_family: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Family {
    pub client_id: String,
    pub scope: String,
    pub identity: Identity,
    pub auth_time: i64,
    #[serde(default)]
    pub acr: Option<String>,
    pub sid: String,
    pub revoked: bool,
    pub created_at: i64,
    /// The newest refresh token of the family.
    pub newest: Option<String>,
    /// DPoP: the thumbprint of the key the family's tokens are bound to.
    #[serde(default)]
    pub jkt: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RefreshRecord {
    pub family: String,
    pub issued_at: i64,
    /// When this token was used (and a successor issued).
    pub rotated_at: Option<i64>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AccessRecord {
    pub family: String,
    pub expires_at: i64,
}

/// Why a grant failed (`invalid_grant` in OAuth terms).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum GrantError {
    #[error("unknown or expired code")]
    UnknownCode,
    #[error("code already used")]
    CodeReused,
    #[error("redirect_uri does not match the authorization request")]
    RedirectMismatch,
    #[error("PKCE verification failed")]
    PkceFailed,
    #[error("code was issued to another client")]
    WrongClient,
    #[error("unknown, expired or revoked refresh token")]
    UnknownRefreshToken,
    #[error("refresh token reused after the grace period; token family revoked")]
    RefreshReused,
}

/// Tokens handed out by one grant.
#[derive(Clone, Debug)]
pub struct Issued {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub family: String,
    pub identity: Identity,
    pub nonce: Option<String>,
    pub auth_time: i64,
    pub acr: Option<String>,
    pub sid: String,
    pub scope: String,
    /// DPoP: the key the access token is bound to (`token_type: DPoP`).
    pub jkt: Option<String>,
}

/// All grants. Serializable so the provider can persist it across restarts.
#[derive(Default, Debug, Serialize, Deserialize)]
pub struct Grants {
    codes: HashMap<String, CodeGrant>,
    families: HashMap<String, Family>,
    refresh: HashMap<String, RefreshRecord>,
    access: HashMap<String, AccessRecord>,
    /// Counters, for tests and benchmarks.
    #[serde(default)]
    pub stats: Stats,
}

#[derive(Default, Debug, Clone, Serialize, Deserialize)]
pub struct Stats {
    pub token_calls: u64,
    pub refresh_calls: u64,
    pub refresh_reuse_in_grace: u64,
    pub families_revoked: u64,
    pub end_session_calls: u64,
    /// Tokens revoked at the revocation endpoint (RFC 7009).
    #[serde(default)]
    pub revocations: u64,
    /// Back-channel logout tokens and Universal Logout requests sent to the app.
    #[serde(default)]
    pub backchannel_logouts_sent: u64,
    #[serde(default)]
    pub universal_logouts_sent: u64,
    /// DPoP: requests answered with `use_dpop_nonce`, and proofs accepted.
    #[serde(default)]
    pub dpop_nonce_challenges: u64,
    #[serde(default)]
    pub dpop_proofs: u64,
}

/// One person's live provider session, for the sessions page.
#[derive(Clone, Debug, PartialEq)]
pub struct LiveSession {
    pub sid: String,
    pub identity: Identity,
    pub started_at: i64,
}

pub const CODE_TTL: i64 = 60;

pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    crate::util::hex(&bytes)
}

/// base64url(SHA-256(verifier)) — the S256 code challenge.
pub fn s256(verifier: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()))
}

pub struct Lifetimes {
    pub access: i64,
    pub refresh: i64,
    pub grace: i64,
}

impl Grants {
    pub fn add_code(&mut self, grant: CodeGrant) -> String {
        let code = random_token();
        self.codes.insert(code.clone(), grant);
        code
    }

    /// Redeems an authorization code.
    pub fn redeem_code(
        &mut self,
        code: &str,
        client_id: &str,
        redirect_uri: &str,
        verifier: &str,
        now: i64,
        life: &Lifetimes,
    ) -> Result<Issued, GrantError> {
        self.stats.token_calls += 1;
        let grant = self
            .codes
            .get(code)
            .cloned()
            .ok_or(GrantError::UnknownCode)?;
        if let Some(family) = &grant.redeemed_family {
            // RFC 6749 §4.1.2: a reused code revokes what it issued
            let family = family.clone();
            self.revoke_family(&family);
            return Err(GrantError::CodeReused);
        }
        if now - grant.created_at > CODE_TTL {
            self.codes.remove(code);
            return Err(GrantError::UnknownCode);
        }
        if grant.client_id != client_id {
            return Err(GrantError::WrongClient);
        }
        if grant.redirect_uri != redirect_uri {
            return Err(GrantError::RedirectMismatch);
        }
        if verifier.len() < 43 || verifier.len() > 128 || s256(verifier) != grant.code_challenge {
            return Err(GrantError::PkceFailed);
        }
        let family_id = random_token();
        if let Some(g) = self.codes.get_mut(code) {
            g.redeemed_family = Some(family_id.clone());
        }
        self.families.insert(
            family_id.clone(),
            Family {
                client_id: grant.client_id.clone(),
                scope: grant.scope.clone(),
                identity: grant.identity.clone(),
                auth_time: grant.auth_time,
                acr: grant.acr.clone(),
                sid: grant.sid.clone(),
                revoked: false,
                created_at: now,
                newest: None,
                jkt: None,
            },
        );
        let offline = grant.scope.split(' ').any(|s| s == "offline_access");
        let refresh_token = offline.then(|| self.new_refresh(&family_id, now));
        let access_token = self.new_access(&family_id, now, life);
        self.gc(now, life);
        Ok(Issued {
            access_token,
            refresh_token,
            family: family_id,
            identity: grant.identity,
            nonce: grant.nonce,
            auth_time: grant.auth_time,
            acr: grant.acr,
            sid: grant.sid,
            scope: grant.scope,
            jkt: None,
        })
    }

    /// Redeems a refresh token with rotation, grace period and reuse detection.
    pub fn redeem_refresh(
        &mut self,
        token: &str,
        client_id: &str,
        now: i64,
        life: &Lifetimes,
    ) -> Result<Issued, GrantError> {
        self.stats.refresh_calls += 1;
        let record = self
            .refresh
            .get(token)
            .cloned()
            .ok_or(GrantError::UnknownRefreshToken)?;
        let family = self
            .families
            .get(&record.family)
            .cloned()
            .ok_or(GrantError::UnknownRefreshToken)?;
        if family.revoked || family.client_id != client_id || now - record.issued_at > life.refresh
        {
            return Err(GrantError::UnknownRefreshToken);
        }
        let refresh_token = match record.rotated_at {
            None => {
                if let Some(r) = self.refresh.get_mut(token) {
                    r.rotated_at = Some(now);
                }
                self.new_refresh(&record.family, now)
            }
            Some(at) if life.grace > 0 && now - at <= life.grace => {
                // within the grace period: the client may not have stored the new token yet
                self.stats.refresh_reuse_in_grace += 1;
                family
                    .newest
                    .clone()
                    .ok_or(GrantError::UnknownRefreshToken)?
            }
            Some(_) => {
                self.revoke_family(&record.family);
                return Err(GrantError::RefreshReused);
            }
        };
        let access_token = self.new_access(&record.family, now, life);
        Ok(Issued {
            access_token,
            refresh_token: Some(refresh_token),
            family: record.family.clone(),
            identity: family.identity,
            nonce: None,
            auth_time: family.auth_time,
            acr: family.acr,
            sid: family.sid,
            scope: family.scope,
            jkt: family.jkt,
        })
    }

    /// DPoP: binds a new family's tokens to the key with thumbprint `jkt`.
    pub fn bind(&mut self, family: &str, jkt: &str) {
        if let Some(f) = self.families.get_mut(family) {
            f.jkt = Some(jkt.to_string());
        }
    }

    /// DPoP: the key a refresh token's family is bound to (`None`: unknown token or unbound).
    pub fn refresh_binding(&self, token: &str) -> Option<String> {
        let record = self.refresh.get(token)?;
        self.families.get(&record.family)?.jkt.clone()
    }

    /// The identity behind a valid access token.
    pub fn access(&self, token: &str, now: i64) -> Option<(&Family, &AccessRecord)> {
        let record = self.access.get(token)?;
        let family = self.families.get(&record.family)?;
        (!family.revoked && now < record.expires_at).then_some((family, record))
    }

    /// RFC 7009: revokes a refresh token (its whole family) or an access token issued to
    /// `client_id`. Unknown tokens are ignored, as the RFC says.
    pub fn revoke_token(&mut self, token: &str, client_id: &str) {
        if let Some(family) = self.refresh.get(token).map(|r| r.family.clone()) {
            if self
                .families
                .get(&family)
                .is_some_and(|f| f.client_id == client_id)
            {
                self.stats.revocations += 1;
                self.revoke_family(&family);
            }
            return;
        }
        let owned = self
            .access
            .get(token)
            .and_then(|a| self.families.get(&a.family))
            .is_some_and(|f| f.client_id == client_id);
        if owned {
            self.stats.revocations += 1;
            self.access.remove(token);
        }
    }

    /// The provider sessions with a live (unrevoked) token family, one per `sid`, newest first.
    pub fn live_sessions(&self) -> Vec<LiveSession> {
        let mut seen = std::collections::HashSet::new();
        let mut live: Vec<LiveSession> = self
            .families
            .values()
            .filter(|f| !f.revoked)
            .map(|f| LiveSession {
                sid: f.sid.clone(),
                identity: f.identity.clone(),
                started_at: f.auth_time,
            })
            .collect();
        live.sort_by_key(|s| std::cmp::Reverse(s.started_at));
        live.retain(|s| seen.insert(s.sid.clone()));
        live
    }

    /// Ends every provider session of the person `sub`; returns the `sid`s ended.
    pub fn end_person(&mut self, sub: &str) -> Vec<String> {
        let sids: Vec<String> = self
            .live_sessions()
            .into_iter()
            .filter(|s| s.identity.sub == sub)
            .map(|s| s.sid)
            .collect();
        for sid in &sids {
            self.end_session(sid);
        }
        sids
    }

    /// Ends the provider session `sid` (RP-initiated logout): its families are revoked.
    pub fn end_session(&mut self, sid: &str) {
        self.stats.end_session_calls += 1;
        let ids: Vec<String> = self
            .families
            .iter()
            .filter(|(_, f)| f.sid == sid && !f.revoked)
            .map(|(id, _)| id.clone())
            .collect();
        for id in ids {
            self.revoke_family(&id);
        }
    }

    fn revoke_family(&mut self, family: &str) {
        if let Some(f) = self.families.get_mut(family)
            && !f.revoked
        {
            f.revoked = true;
            self.stats.families_revoked += 1;
        }
        self.refresh.retain(|_, r| r.family != family);
        self.access.retain(|_, a| a.family != family);
    }

    fn new_refresh(&mut self, family: &str, now: i64) -> String {
        let token = random_token();
        self.refresh.insert(
            token.clone(),
            RefreshRecord {
                family: family.to_string(),
                issued_at: now,
                rotated_at: None,
            },
        );
        if let Some(f) = self.families.get_mut(family) {
            f.newest = Some(token.clone());
        }
        token
    }

    fn new_access(&mut self, family: &str, now: i64, life: &Lifetimes) -> String {
        let token = random_token();
        self.access.insert(
            token.clone(),
            AccessRecord {
                family: family.to_string(),
                expires_at: now + life.access,
            },
        );
        token
    }

    /// Drops what can no longer be used.
    fn gc(&mut self, now: i64, life: &Lifetimes) {
        self.codes
            .retain(|_, c| now - c.created_at <= CODE_TTL * 10);
        self.access.retain(|_, a| a.expires_at > now);
        self.refresh
            .retain(|_, r| now - r.issued_at <= life.refresh);
        let live: std::collections::HashSet<&String> =
            self.refresh.values().map(|r| &r.family).collect();
        let access_families: std::collections::HashSet<&String> =
            self.access.values().map(|a| &a.family).collect();
        let keep: std::collections::HashSet<String> = self
            .families
            .iter()
            .filter(|(id, f)| {
                live.contains(id)
                    || access_families.contains(id)
                    || (f.revoked && now - f.created_at < 3600)
            })
            .map(|(id, _)| id.clone())
            .collect();
        self.families.retain(|id, _| keep.contains(id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIFE: Lifetimes = Lifetimes {
        access: 300,
        refresh: 86400,
        grace: 30,
    };
    const VERIFIER: &str = "0123456789abcdef0123456789abcdef0123456789abcdef";

    fn identity() -> Identity {
        Identity {
            sub: "dev|1".into(),
            name: "Ada".into(),
            email: "ada@example.com".into(),
            preferred_username: "ada".into(),
            extra: Default::default(),
        }
    }

    fn code(grants: &mut Grants, scope: &str) -> String {
        grants.add_code(CodeGrant {
            client_id: "c".into(),
            redirect_uri: "http://app/cb".into(),
            nonce: Some("n".into()),
            code_challenge: s256(VERIFIER),
            scope: scope.into(),
            identity: identity(),
            auth_time: 1000,
            acr: None,
            sid: "sid1".into(),
            created_at: 1000,
            redeemed_family: None,
        })
    }

    #[test]
    fn code_checks() {
        let mut g = Grants::default();
        let c = code(&mut g, "openid");
        assert_eq!(
            g.redeem_code(
                &c,
                "c",
                "http://app/cb",
                "wrong-verifier-wrong-verifier-wrong-verifier-x",
                1001,
                &LIFE
            )
            .unwrap_err(),
            GrantError::PkceFailed
        );
        assert_eq!(
            g.redeem_code(&c, "c", "http://app/other", VERIFIER, 1001, &LIFE)
                .unwrap_err(),
            GrantError::RedirectMismatch
        );
        assert_eq!(
            g.redeem_code(&c, "d", "http://app/cb", VERIFIER, 1001, &LIFE)
                .unwrap_err(),
            GrantError::WrongClient
        );
        let issued = g
            .redeem_code(&c, "c", "http://app/cb", VERIFIER, 1001, &LIFE)
            .unwrap();
        assert!(
            issued.refresh_token.is_none(),
            "no offline_access, no refresh token"
        );
        assert!(g.access(&issued.access_token, 1002).is_some());
        assert_eq!(
            g.redeem_code(&c, "c", "http://app/cb", VERIFIER, 1002, &LIFE)
                .unwrap_err(),
            GrantError::CodeReused
        );
        assert!(
            g.access(&issued.access_token, 1002).is_none(),
            "replay revokes the first tokens"
        );
        let late = code(&mut g, "openid");
        assert_eq!(
            g.redeem_code(
                &late,
                "c",
                "http://app/cb",
                VERIFIER,
                1000 + CODE_TTL + 1,
                &LIFE
            )
            .unwrap_err(),
            GrantError::UnknownCode
        );
    }

    #[test]
    fn rotation_grace_and_reuse() {
        let mut g = Grants::default();
        let c = code(&mut g, "openid offline_access");
        let first = g
            .redeem_code(&c, "c", "http://app/cb", VERIFIER, 1000, &LIFE)
            .unwrap();
        let rt1 = first.refresh_token.unwrap();
        let second = g.redeem_refresh(&rt1, "c", 1100, &LIFE).unwrap();
        let rt2 = second.refresh_token.unwrap();
        assert_ne!(rt1, rt2, "rotated");
        // old token within the grace period: still good, answers with the newest token
        let again = g
            .redeem_refresh(&rt1, "c", 1100 + LIFE.grace, &LIFE)
            .unwrap();
        assert_eq!(again.refresh_token.as_deref(), Some(rt2.as_str()));
        // after the grace period: family revoked
        assert_eq!(
            g.redeem_refresh(&rt1, "c", 1100 + LIFE.grace + 1, &LIFE)
                .unwrap_err(),
            GrantError::RefreshReused
        );
        assert_eq!(
            g.redeem_refresh(&rt2, "c", 1100 + LIFE.grace + 2, &LIFE)
                .unwrap_err(),
            GrantError::UnknownRefreshToken
        );
        assert!(g.access(&second.access_token, 1200).is_none());
        assert_eq!(g.stats.families_revoked, 1);
    }

    #[test]
    fn zero_grace_is_strict() {
        let life = Lifetimes { grace: 0, ..LIFE };
        let mut g = Grants::default();
        let c = code(&mut g, "openid offline_access");
        let rt1 = g
            .redeem_code(&c, "c", "http://app/cb", VERIFIER, 1000, &life)
            .unwrap()
            .refresh_token
            .unwrap();
        g.redeem_refresh(&rt1, "c", 1010, &life).unwrap();
        assert_eq!(
            g.redeem_refresh(&rt1, "c", 1011, &life).unwrap_err(),
            GrantError::RefreshReused
        );
    }

    #[test]
    fn end_session_revokes() {
        let mut g = Grants::default();
        let c = code(&mut g, "openid offline_access");
        let issued = g
            .redeem_code(&c, "c", "http://app/cb", VERIFIER, 1000, &LIFE)
            .unwrap();
        g.end_session("sid1");
        assert!(g.access(&issued.access_token, 1001).is_none());
        assert!(
            g.redeem_refresh(&issued.refresh_token.unwrap(), "c", 1001, &LIFE)
                .is_err()
        );
    }
}
