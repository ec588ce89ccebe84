//! What a provider-initiated sign-out asks for, and whether to believe it: the rules of
//! OpenID Connect Back-Channel Logout 1.0 §2.6 for a logout token ([`check_logout_token`]) and
//! of an Okta Global Token Revocation request ([`check_revocation_request`], [`subject_of`]),
//! applied to JWTs whose signatures [`super::jwt`] has checked, and [`ProviderLogout`], what
//! the endpoints (`super::provider_logout`) share: the keys of the issuer and of the org, and
//! the session keeper.

use std::{sync::Arc, time::Duration};

use openidconnect::core::CoreJwsSigningAlgorithm as Alg;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::util::hex;

use super::{
    index::Who,
    jwt::{self, JwtError, KeyCache, claims},
    refresh::SessionKeeper,
    routes::GLOBAL_TOKEN_REVOCATION_PATH,
};

/// The `events` member that makes a JWT a logout token.
const LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// A logout token or revocation request older than this (by `iat`) is refused.
const MAX_AGE_SECS: i64 = 300;
/// Algorithms accepted for logout tokens: asymmetric only (the ID tokens' RS256, and what
/// else a provider may sign logout tokens with). Universal Logout: RS256 only.
pub const LOGOUT_ALGS: [Alg; 6] = [
    Alg::RsaSsaPkcs1V15Sha256,
    Alg::RsaSsaPkcs1V15Sha384,
    Alg::RsaSsaPkcs1V15Sha512,
    Alg::RsaSsaPssSha256,
    Alg::EcdsaP256Sha256,
    Alg::EcdsaP384Sha384,
];

/// What the two endpoints need, built once with the app state.
pub struct ProviderLogout {
    pub(super) keeper: Arc<SessionKeeper>,
    pub(super) issuer: String,
    pub(super) client_id: String,
    /// `APP_URL` + [`GLOBAL_TOKEN_REVOCATION_PATH`]: the `aud` of a revocation request.
    pub(super) revocation_audience: String,
    pub(super) skew: i64,
    pub(super) issuer_keys: KeyCache,
    pub(super) org_keys: KeyCache,
    /// The other providers (`[[providers]]`): their logout tokens are checked with their own
    /// keys, issuer and client id.
    pub(super) others: Vec<Signer>,
}

/// A provider that may send back-channel logout tokens (signed by `keys`, its issuer's) and
/// Universal Logout requests (signed by `org_keys`, its Okta org's).
pub struct Signer {
    pub issuer: String,
    pub client_id: String,
    pub keys: KeyCache,
    pub org_keys: KeyCache,
}

impl ProviderLogout {
    /// Adds the other providers.
    pub fn with_others(mut self, others: Vec<Signer>) -> Self {
        self.others = others;
        self
    }

    /// Who signed a logout token, by its (not yet verified) `iss`: another provider with
    /// that issuer, else the default one (whose checks then refuse a foreign issuer).
    pub(super) fn signer_for(&self, token: &str) -> (&str, &str, &KeyCache) {
        let iss = unverified_issuer(token);
        match iss
            .as_deref()
            .and_then(|iss| self.others.iter().find(|s| same_issuer(&s.issuer, iss)))
        {
            Some(s) => (&s.issuer, &s.client_id, &s.keys),
            None => (&self.issuer, &self.client_id, &self.issuer_keys),
        }
    }

    /// Whose org signed a Universal Logout request, by its (not yet verified) `iss`: the org's
    /// keys, and the issuers of every provider of that org (two authorization servers of one
    /// Okta org serve the same people: the request names sessions at each). An org no
    /// provider has: the default's keys, whose check then refuses it.
    pub(super) fn org_signers_for(&self, token: &str) -> (Vec<&str>, &KeyCache) {
        let iss = unverified_issuer(token).unwrap_or_default();
        let mut issuers = Vec::new();
        let mut keys = None;
        if same_issuer(self.org_keys.issuer(), &iss) {
            issuers.push(self.issuer.as_str());
            keys = Some(&self.org_keys);
        }
        for s in &self.others {
            if same_issuer(s.org_keys.issuer(), &iss) {
                issuers.push(s.issuer.as_str());
                keys.get_or_insert(&s.org_keys);
            }
        }
        match keys {
            Some(keys) => (issuers, keys),
            None => (vec![self.issuer.as_str()], &self.org_keys),
        }
    }
}

/// The endpoints' axum state (cheap to clone).
#[derive(Clone)]
pub struct ProviderLogoutState(pub Arc<ProviderLogout>);

impl ProviderLogout {
    pub fn new(
        keeper: Arc<SessionKeeper>,
        issuer: String,
        org_issuer: String,
        client_id: String,
        app_base: &str,
        skew: Duration,
        http: reqwest::Client,
    ) -> Self {
        Self {
            keeper,
            issuer_keys: KeyCache::new(issuer.clone(), http.clone()),
            org_keys: KeyCache::new(org_issuer, http),
            issuer,
            client_id,
            others: Vec::new(),
            revocation_audience: format!("{app_base}{GLOBAL_TOKEN_REVOCATION_PATH}"),
            skew: i64::try_from(skew.as_secs()).unwrap_or(60),
        }
    }
}

impl ProviderLogout {
    /// Makes the cached keys look `by` older (tests: time passing without waiting for it).
    #[cfg(feature = "testing")]
    pub fn age_keys(&self, by: Duration) {
        self.issuer_keys.age(by);
        self.org_keys.age(by);
    }
}

/// A JWT's `iss` as sent (signature not checked: only to choose whose keys check it).
fn unverified_issuer(token: &str) -> Option<String> {
    jwt::unverified(token)
        .ok()
        .and_then(|u| u.claims.get("iss")?.as_str().map(str::to_string))
}

fn same_issuer(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

/// What a valid logout token asks for.
#[derive(Debug, PartialEq, Eq)]
pub struct LogoutRequest {
    pub who: Who,
    /// With both `sid` and `sub`: only sessions of that provider session *and* person.
    pub also_sub: Option<String>,
    pub jti: String,
    /// Until when the `jti` must be remembered.
    pub remember_until: i64,
}

/// The rules of OpenID Connect Back-Channel Logout 1.0 §2.6 for a token whose signature has
/// been checked: `typ` (when present), `iss`, `aud`, `iat` recent, `exp` (when present), `jti`,
/// `events`, `sid` and/or `sub`, no `nonce`.
pub fn check_logout_token(
    t: &jwt::Verified,
    issuer: &str,
    client_id: &str,
    now: i64,
    skew: i64,
) -> Result<LogoutRequest, JwtError> {
    let fail = |why: &str| Err(JwtError::Claims(why.to_string()));
    let c = &t.claims;
    if claims::typ_is(&t.header, "logout+jwt") == Some(false) {
        return fail("typ must be logout+jwt");
    }
    if claims::required(c, "iss")?.trim_end_matches('/') != issuer.trim_end_matches('/') {
        return fail("iss is not the issuer");
    }
    if !claims::audience_has(c, client_id) {
        return fail("aud does not contain this client");
    }
    let Some(iat) = claims::number(c, "iat") else {
        return fail("iat is missing");
    };
    if iat > now + skew || iat < now - MAX_AGE_SECS - skew {
        return fail("iat is not recent");
    }
    let exp = match (c.get("exp"), claims::number(c, "exp")) {
        (None, _) => None,
        (Some(_), Some(exp)) if now < exp + skew => Some(exp),
        (Some(_), Some(_)) => return fail("the token has expired"),
        (Some(_), None) => return fail("exp is not a number"),
    };
    let jti = claims::required(c, "jti")?.to_string();
    match c.get("events").and_then(Value::as_object) {
        Some(events) if events.get(LOGOUT_EVENT).is_some_and(Value::is_object) => {}
        _ => return fail("events does not hold the back-channel logout event"),
    }
    if c.contains_key("nonce") {
        return fail("a logout token must not contain a nonce");
    }
    let iss = issuer.to_string();
    let sub = claims::string(c, "sub").map(str::to_string);
    let (who, also_sub) = match (claims::string(c, "sid"), sub) {
        (Some(sid), sub) => (
            Who::ProviderSession {
                iss,
                sid: sid.to_string(),
            },
            sub,
        ),
        (None, Some(sub)) => (Who::Subject { iss, sub }, None),
        (None, None) => return fail("sid or sub is required"),
    };
    Ok(LogoutRequest {
        who,
        also_sub,
        jti,
        remember_until: exp.unwrap_or(iat + MAX_AGE_SECS).max(iat + MAX_AGE_SECS) + skew,
    })
}

/// The rules of a Global Token Revocation request's bearer JWT (whose RS256 signature by the
/// org has been checked): `typ` `global-token-revocation+jwt`, `iss` the org, `aud` this
/// endpoint's URL, `exp` and `iat`, `jti`. Returns the `jti` and until when to remember it.
pub fn check_revocation_request(
    t: &jwt::Verified,
    org: &str,
    audience: &str,
    now: i64,
    skew: i64,
) -> Result<(String, i64), JwtError> {
    let fail = |why: &str| Err(JwtError::Claims(why.to_string()));
    let c = &t.claims;
    if claims::typ_is(&t.header, "global-token-revocation+jwt") != Some(true) {
        return fail("typ must be global-token-revocation+jwt");
    }
    if claims::required(c, "iss")?.trim_end_matches('/') != org.trim_end_matches('/') {
        return fail("iss is not the org");
    }
    if !claims::audience_has(c, audience) {
        return fail("aud is not this endpoint");
    }
    let (Some(exp), Some(iat)) = (claims::number(c, "exp"), claims::number(c, "iat")) else {
        return fail("exp and iat are required");
    };
    if now >= exp + skew {
        return fail("the token has expired");
    }
    if iat > now + skew {
        return fail("iat is in the future");
    }
    if iat < now - MAX_AGE_SECS - skew {
        return fail("iat is not recent");
    }
    let jti = claims::required(c, "jti")?.to_string();
    Ok((jti, exp.max(iat + MAX_AGE_SECS) + skew))
}

/// The person a Global Token Revocation body names. `None`: the body is malformed.
pub fn subject_of(body: &[u8], issuer: &str, org: &str) -> Option<Option<Who>> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let sub_id = value.get("sub_id")?.as_object()?;
    let text = |k: &str| {
        sub_id
            .get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    match text("format")? {
        "email" => Some(Some(Who::Email {
            iss: issuer.to_string(),
            email: text("email")?.to_string(),
        })),
        "iss_sub" => {
            let (iss, sub) = (text("iss")?.trim_end_matches('/'), text("sub")?);
            // Okta names its users by the org's issuer; the app's sessions carry the
            // authorization server's — the same user id either way.
            let known = iss == issuer.trim_end_matches('/') || iss == org.trim_end_matches('/');
            Some(known.then(|| Who::Subject {
                iss: issuer.to_string(),
                sub: sub.to_string(),
            }))
        }
        _ => None,
    }
}

/// The replay-cache key of a token id (`kind`: `bcl` or `gtr`).
pub fn replay_key(kind: &str, iss: &str, jti: &str) -> String {
    let mut hash = Sha256::new();
    hash.update(iss.as_bytes());
    hash.update([0]);
    hash.update(jti.as_bytes());
    format!("{kind}:{}", hex(&hash.finalize()))
}
