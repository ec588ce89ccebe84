//! Client authentication at the development provider's back-channel endpoints (`/token`,
//! `/par`, `/revoke`), as Okta does it for a web app: the client's one registered method.
//!
//! - With a client secret: HTTP Basic (both parts form-urlencoded) or the form body.
//! - With `private_key_jwt` (the app runs with `OIDC_TOKEN_AUTH_METHOD=private_key_jwt`: its
//!   public key is registered here at start, as one pastes it into Okta): only a client
//!   assertion (RFC 7523) is accepted — signed by that key with its algorithm, `iss` = `sub` =
//!   the client id, `aud` the token endpoint, the issuer or the endpoint called (as
//!   node-oidc-provider accepts), unexpired, at most an hour long (Okta's limit), and its
//!   `jti` never seen before. The secret is refused then, so a test cannot pass by falling
//!   back to it.
//!
//! Verification is the `jsonwebtoken` crate's; what is written here is the policy.

use std::collections::HashMap;

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use jsonwebtoken::{
    Algorithm, DecodingKey, Validation,
    jwk::{Jwk, KeyAlgorithm},
};
use serde::Deserialize;

use super::{CLIENT_ID, Op, oauth_error};
use crate::auth::oidc::client_auth::ASSERTION_TYPE;
use crate::util::{constant_time_eq, lock, now};

/// The longest assertion accepted (Okta's limit).
const MAX_ASSERTION_LIFETIME: i64 = 3600;
/// Clock leeway on an assertion's `exp`.
const LEEWAY: u64 = 5;
/// Identifiers remembered at most (a flood of self-signed proofs must not grow it forever).
const MAX_SEEN: usize = 100_000;

/// What a client may send to authenticate, from the form.
#[derive(Clone, Debug, Default, Deserialize)]
pub(super) struct ClientCredentials {
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub client_assertion_type: Option<String>,
    pub client_assertion: Option<String>,
}

/// The `jti`s of accepted assertions (and DPoP proofs), until they expire.
#[derive(Default)]
pub(super) struct SeenIds(std::sync::Mutex<HashMap<String, i64>>);

impl SeenIds {
    /// Records `jti` (good until `exp`); `false` when it was seen already.
    pub(super) fn first_use(&self, jti: &str, exp: i64, now: i64) -> bool {
        let mut seen = lock(&self.0);
        seen.retain(|_, until| *until >= now);
        if seen.contains_key(jti) || seen.len() >= MAX_SEEN {
            return false;
        }
        seen.insert(jti.to_string(), exp);
        true
    }
}

/// A refusal (boxed: a `Response` is large to carry in every `Result`).
pub(super) type Refusal = Box<Response>;

fn refused(description: &str) -> Refusal {
    Box::new(oauth_error(
        StatusCode::UNAUTHORIZED,
        "invalid_client",
        description,
    ))
}

/// Authenticates the client calling `endpoint` (its full URL); `Ok`: the client id.
pub(super) fn authenticate(
    op: &Op,
    headers: &HeaderMap,
    creds: &ClientCredentials,
    endpoint: &str,
) -> Result<String, Refusal> {
    if let Some(jwk) = &op.0.client_jwk {
        return check_assertion(op, jwk, creds, endpoint);
    }
    let (id, secret) = secret_credentials(headers, creds)
        .ok_or_else(|| refused("Client authentication is required."))?;
    if id != CLIENT_ID
        || !constant_time_eq(secret.as_bytes(), op.0.client_secret.expose().as_bytes())
    {
        return Err(refused("Unknown client or wrong secret."));
    }
    Ok(id)
}

/// Client credentials from `Authorization: Basic` or the form body.
fn secret_credentials(headers: &HeaderMap, creds: &ClientCredentials) -> Option<(String, String)> {
    if let Some(basic) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
    {
        use base64::Engine;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(basic.trim())
            .ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let (id, secret) = text.split_once(':')?;
        let unescape = |s: &str| {
            url::form_urlencoded::parse(format!("x={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
        };
        return Some((unescape(id)?, unescape(secret)?));
    }
    Some((creds.client_id.clone()?, creds.client_secret.clone()?))
}

fn check_assertion(
    op: &Op,
    jwk: &Jwk,
    creds: &ClientCredentials,
    endpoint: &str,
) -> Result<String, Refusal> {
    if creds.client_secret.is_some() {
        return Err(refused(
            "This client authenticates with private_key_jwt, not a secret.",
        ));
    }
    let (Some(ASSERTION_TYPE), Some(assertion)) = (
        creds.client_assertion_type.as_deref(),
        creds.client_assertion.as_deref(),
    ) else {
        return Err(refused("A client assertion (private_key_jwt) is required."));
    };
    if creds.client_id.as_deref().is_some_and(|id| id != CLIENT_ID) {
        return Err(refused("client_id is not the assertion's client."));
    }
    let alg = match jwk.common.key_algorithm {
        Some(KeyAlgorithm::RS256) => Some(Algorithm::RS256),
        Some(KeyAlgorithm::ES256) => Some(Algorithm::ES256),
        Some(KeyAlgorithm::ES384) => Some(Algorithm::ES384),
        _ => None,
    };
    let Some(alg) = alg else {
        return Err(refused("The registered key has no usable algorithm."));
    };
    let key = DecodingKey::from_jwk(jwk).map_err(|_| refused("The registered key is unusable."))?;
    let mut validation = Validation::new(alg);
    validation.leeway = LEEWAY;
    validation.set_issuer(&[CLIENT_ID]);
    validation.sub = Some(CLIENT_ID.into());
    let token_endpoint = format!("{}/token", op.0.issuer);
    validation.set_audience(&[token_endpoint.as_str(), op.0.issuer.as_str(), endpoint]);
    validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
    let claims = jsonwebtoken::decode::<serde_json::Value>(assertion, &key, &validation)
        .map_err(|e| refused(&format!("The client assertion is not valid: {e}.")))?
        .claims;
    let t = now();
    let exp = claims.get("exp").and_then(|v| v.as_i64()).unwrap_or(0);
    if exp > t + MAX_ASSERTION_LIFETIME {
        return Err(refused("The client assertion lives longer than an hour."));
    }
    let Some(jti) = claims.get("jti").and_then(|v| v.as_str()) else {
        return Err(refused("The client assertion has no jti."));
    };
    // remembered as long as the assertion is accepted (its exp plus the leeway)
    if !op.0.seen_assertions.first_use(jti, exp + LEEWAY as i64, t) {
        return Err(refused("The client assertion was used before."));
    }
    Ok(CLIENT_ID.to_string())
}

#[cfg(test)]
mod tests {
    use super::SeenIds;

    #[test]
    fn a_jti_is_good_once_until_it_expires() {
        let seen = SeenIds::default();
        assert!(seen.first_use("a", 100, 50));
        assert!(!seen.first_use("a", 100, 60));
        assert!(seen.first_use("b", 100, 60));
        // forgotten once expired (the assertion itself is refused by then)
        assert!(seen.first_use("a", 200, 101));
    }
}
