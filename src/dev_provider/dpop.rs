//! DPoP (RFC 9449) at the development provider, as Okta does it: a token request with a
//! `DPoP` proof gets tokens bound to the proof's key (`token_type: DPoP`); a refresh of a
//! bound family needs a proof by the same key; userinfo takes a bound token only as
//! `Authorization: DPoP` with a proof by that key naming it (`ath`). A nonce is always
//! required — the first proof without one is answered `use_dpop_nonce` with a `DPoP-Nonce`
//! header, which changes every minute (the previous one stays good for a minute more).
//!
//! Proof verification is the `jsonwebtoken` crate's; the checks of RFC 9449 §4.3 are here.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, jwk::ThumbprintHash};

use super::{Op, oauth_error};
use crate::util::{lock, now};

/// How old (or how far ahead) a proof's `iat` may be.
const IAT_WINDOW: i64 = 60;
/// How often the nonce changes.
const NONCE_EVERY: i64 = 60;

/// The provider's DPoP nonce: the current one and the one before.
#[derive(Default)]
pub(super) struct Nonce(std::sync::Mutex<Option<(String, String, i64)>>);

impl Nonce {
    /// The nonce to hand out now (rotating when due).
    fn current(&self, t: i64) -> String {
        let mut state = lock(&self.0);
        match state.as_mut() {
            Some((current, previous, at)) if t - *at >= NONCE_EVERY => {
                *previous = std::mem::replace(current, super::grants::random_token());
                *at = t;
                current.clone()
            }
            Some((current, _, _)) => current.clone(),
            None => {
                let fresh = super::grants::random_token();
                *state = Some((fresh.clone(), fresh.clone(), t));
                fresh
            }
        }
    }

    fn accepts(&self, nonce: &str, t: i64) -> bool {
        let current = self.current(t);
        let state = lock(&self.0);
        nonce == current
            || state
                .as_ref()
                .is_some_and(|(_, previous, _)| nonce == previous)
    }
}

/// Where a proof is presented: the token endpoint answers errors as OAuth JSON (400), a
/// resource (userinfo) with `WWW-Authenticate: DPoP` (401).
#[derive(Clone, Copy)]
pub(super) enum At {
    Token,
    Resource,
}

fn refuse(op: &Op, at: At, error: &str, description: &str) -> Response {
    let mut res = match at {
        At::Token => oauth_error(StatusCode::BAD_REQUEST, error, description),
        At::Resource => {
            let mut res = (StatusCode::UNAUTHORIZED, description.to_string()).into_response();
            if let Ok(v) = HeaderValue::from_str(&format!(
                "DPoP error=\"{error}\", error_description=\"{description}\", algs=\"ES256 ES384 RS256\""
            )) {
                res.headers_mut().insert(header::WWW_AUTHENTICATE, v);
            }
            res
        }
    };
    if error == "use_dpop_nonce" {
        op.grants().stats.dpop_nonce_challenges += 1;
        if let Ok(v) = HeaderValue::from_str(&op.0.dpop_nonce.current(now())) {
            res.headers_mut().insert("DPoP-Nonce", v);
        }
    }
    res
}

/// Checks the request's DPoP proof for `method` `url` (and `access_token`, at a resource).
/// `Ok(None)`: there is no proof; `Ok(Some(jkt))`: a valid proof by the key with that
/// thumbprint.
pub(super) fn check(
    op: &Op,
    headers: &HeaderMap,
    method: &str,
    url: &str,
    access_token: Option<&str>,
    at: At,
) -> Result<Option<String>, super::client_auth::Refusal> {
    let mut proofs = headers.get_all("DPoP").iter();
    let Some(proof) = proofs.next() else {
        return Ok(None);
    };
    let invalid = |why: &str| Box::new(refuse(op, at, "invalid_dpop_proof", why));
    if proofs.next().is_some() {
        return Err(invalid("One DPoP proof only."));
    }
    let proof = proof
        .to_str()
        .map_err(|_| invalid("The DPoP proof is not text."))?;
    let head =
        jsonwebtoken::decode_header(proof).map_err(|_| invalid("The DPoP proof is not a JWT."))?;
    if head.typ.as_deref() != Some("dpop+jwt") {
        return Err(invalid("typ must be dpop+jwt."));
    }
    if !matches!(
        head.alg,
        Algorithm::ES256 | Algorithm::ES384 | Algorithm::RS256
    ) {
        return Err(invalid("Unsupported algorithm."));
    }
    // RFC 9449 §4.3: the jwk header is a public key — no private members (read from the raw
    // header: the crate's Jwk type drops members it does not know)
    if has_private_members(proof) {
        return Err(invalid("The jwk header holds a private key."));
    }
    let jwk = head
        .jwk
        .ok_or_else(|| invalid("The proof carries no public key (jwk)."))?;
    let key = DecodingKey::from_jwk(&jwk).map_err(|_| invalid("Unusable jwk."))?;
    let mut validation = Validation::new(head.alg);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_aud = false;
    let claims = jsonwebtoken::decode::<serde_json::Value>(proof, &key, &validation)
        .map_err(|e| invalid(&format!("The DPoP proof does not verify: {e}.")))?
        .claims;
    let text = |name: &str| claims.get(name).and_then(|v| v.as_str());
    let t = now();
    if text("htm") != Some(method) || text("htu") != Some(url) {
        return Err(invalid("htm/htu do not match the request."));
    }
    let iat = claims.get("iat").and_then(|v| v.as_i64()).unwrap_or(0);
    if t.abs_diff(iat) > IAT_WINDOW.unsigned_abs() {
        return Err(invalid("iat is not recent."));
    }
    if let Some(token) = access_token
        && text("ath") != Some(crate::auth::oidc::dpop::access_token_hash(token).as_str())
    {
        return Err(invalid("ath does not match the access token."));
    }
    let Some(jti) = text("jti").filter(|j| !j.is_empty()) else {
        return Err(invalid("The proof has no jti."));
    };
    match text("nonce") {
        Some(n) if op.0.dpop_nonce.accepts(n, t) => {}
        _ => {
            return Err(Box::new(refuse(
                op,
                at,
                "use_dpop_nonce",
                "Authorization server requires nonce in DPoP proof.",
            )));
        }
    }
    // remembered for as long as the proof's iat keeps it acceptable
    if !op.0.seen_proofs.first_use(jti, t.max(iat) + IAT_WINDOW, t) {
        return Err(invalid("The DPoP proof was used before."));
    }
    let jkt = jwk
        .thumbprint(ThumbprintHash::SHA256)
        .map_err(|_| invalid("Unusable jwk."))?;
    op.grants().stats.dpop_proofs += 1;
    Ok(Some(jkt))
}

/// Whether the compact JWS's header `jwk` carries private-key members.
fn has_private_members(compact: &str) -> bool {
    use base64::Engine;
    let header = compact
        .split('.')
        .next()
        .and_then(|h| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(h)
                .ok()
        })
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok());
    let Some(jwk) = header
        .as_ref()
        .and_then(|h| h.get("jwk")?.as_object().cloned())
    else {
        return false;
    };
    ["d", "p", "q", "dp", "dq", "qi", "oth", "k"]
        .iter()
        .any(|m| jwk.contains_key(*m))
}

#[cfg(test)]
mod tests {
    use super::Nonce;

    #[test]
    fn a_private_key_in_the_header_is_noticed() {
        use base64::Engine;
        let enc = |v: serde_json::Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
        };
        let public =
            serde_json::json!({"typ": "dpop+jwt", "jwk": {"kty": "EC", "x": "a", "y": "b"}});
        let private = serde_json::json!({"typ": "dpop+jwt", "jwk": {"kty": "EC", "x": "a", "y": "b", "d": "c"}});
        assert!(!super::has_private_members(&format!(
            "{}.e30.sig",
            enc(public)
        )));
        assert!(super::has_private_members(&format!(
            "{}.e30.sig",
            enc(private)
        )));
    }

    #[test]
    fn the_nonce_changes_every_minute_and_the_last_one_stays_good() {
        let n = Nonce::default();
        let first = n.current(1000);
        assert!(n.accepts(&first, 1030));
        let second = n.current(1060);
        assert_ne!(first, second);
        assert!(n.accepts(&first, 1061) && n.accepts(&second, 1061));
        let third = n.current(1120);
        assert!(!n.accepts(&first, 1121));
        assert!(n.accepts(&second, 1121) && n.accepts(&third, 1121));
        assert!(!n.accepts("made-up", 1121));
    }
}
