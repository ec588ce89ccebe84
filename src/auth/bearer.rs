//! Access tokens presented by API clients (`Authorization: Bearer`, RFC 6750): the rules a
//! JWT access token must meet for this app's API, checked after its signature
//! (`super::jwt::KeyCache::verify`, RS256 only, with the issuer's published keys).
//!
//! - `iss` is the configured issuer; `aud` holds the API audience (`AUTH_API_AUDIENCE`,
//!   default `api://default`, as Okta's default custom authorization server issues);
//! - `exp` is required and in the future, `nbf` (when present) in the past, both with the
//!   configured clock skew; `sub` is required;
//! - the client it was issued to (`cid` at Okta, `client_id` in RFC 9068) is one the app
//!   accepts (`AUTH_API_CLIENT_IDS`, by default only this app's own client id): on Okta's
//!   default authorization server every app's tokens carry `aud=api://default`, so the
//!   audience alone would let another app's token in. ID tokens name no such client;
//! - a `typ` header, when present, is `at+jwt` or `JWT` (no logout or ID token by mistake);
//! - the route's required scopes are all in `scp` (Okta: an array) or `scope` (RFC 8693 /
//!   RFC 9068: a space-separated string).
//!
//! A refusal is [`BearerError`]: `invalid_token` (401) or `insufficient_scope` (403), the RFC
//! 6750 error codes the adapter puts into `WWW-Authenticate`.

use serde_json::{Map, Value};

use super::jwt::{
    JwtError,
    claims::{audience_has, number, required, string},
};

/// Why a bearer token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BearerError {
    /// Malformed, badly signed, expired, for another audience or issuer (RFC 6750 §3.1).
    #[error("{0}")]
    InvalidToken(String),
    /// Valid, but without a required scope (the scopes it needs).
    #[error("the token lacks the scope {0}")]
    InsufficientScope(String),
    /// The provider's keys cannot be fetched: try again later.
    #[error("the provider's keys cannot be fetched")]
    KeysUnavailable,
}

impl From<JwtError> for BearerError {
    fn from(e: JwtError) -> Self {
        match e {
            JwtError::KeysUnavailable(_) => BearerError::KeysUnavailable,
            other => BearerError::InvalidToken(other.to_string()),
        }
    }
}

/// What the API learns from an accepted token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub sub: String,
    pub scopes: Vec<String>,
    pub claims: Map<String, Value>,
}

/// What an access token must be for this app.
pub struct Rules<'a> {
    pub issuer: &'a str,
    pub audience: &'a str,
    /// The clients whose tokens are accepted.
    pub clients: &'a [String],
    pub now: i64,
    pub skew: i64,
}

/// Applies the rules and the route's `required` scopes to a token's verified `claims`.
pub fn check(
    claims: &Map<String, Value>,
    rules: &Rules<'_>,
    required_scopes: &[&str],
) -> Result<Principal, BearerError> {
    let invalid = |why: &str| BearerError::InvalidToken(why.to_string());
    if string(claims, "iss") != Some(rules.issuer) {
        return Err(invalid("the token is from another issuer"));
    }
    if !audience_has(claims, rules.audience) {
        return Err(invalid("the token is for another audience"));
    }
    let exp = number(claims, "exp").ok_or_else(|| invalid("exp is missing"))?;
    if rules.now >= exp.saturating_add(rules.skew) {
        return Err(invalid("the token has expired"));
    }
    if let Some(nbf) = number(claims, "nbf")
        && rules.now < nbf.saturating_sub(rules.skew)
    {
        return Err(invalid("the token is not valid yet"));
    }
    // RFC 9449 §7.2: a DPoP-bound token (`cnf.jkt`) presented as a bearer token is refused —
    // whoever holds it without the key must not be able to use it here
    if claims.contains_key("cnf") {
        return Err(invalid(
            "a DPoP-bound token cannot be used as a bearer token",
        ));
    }
    let client = string(claims, "cid").or_else(|| string(claims, "client_id"));
    match client {
        Some(c) if rules.clients.iter().any(|allowed| allowed == c) => {}
        Some(_) => return Err(invalid("the token was issued to another client")),
        None => return Err(invalid("the token names no client (cid or client_id)")),
    }
    let sub = required(claims, "sub")
        .map_err(|e| BearerError::InvalidToken(e.to_string()))?
        .to_string();
    let scopes = scopes_of(claims);
    let missing: Vec<&str> = required_scopes
        .iter()
        .copied()
        .filter(|s| !scopes.iter().any(|have| have == s))
        .collect();
    if !missing.is_empty() {
        return Err(BearerError::InsufficientScope(missing.join(" ")));
    }
    Ok(Principal {
        sub,
        scopes,
        claims: claims.clone(),
    })
}

/// The `typ` header, when there is one, says access token (RFC 9068) or plain JWT.
pub fn check_header(header: &Map<String, Value>) -> Result<(), BearerError> {
    use super::jwt::claims::typ_is;
    match (typ_is(header, "at+jwt"), typ_is(header, "jwt")) {
        (None, _) | (Some(true), _) | (_, Some(true)) => Ok(()),
        _ => Err(BearerError::InvalidToken(
            "the token is not an access token".into(),
        )),
    }
}

/// `scp` (an array, or a space-separated string) or else `scope` (space-separated).
fn scopes_of(claims: &Map<String, Value>) -> Vec<String> {
    let split = |s: &str| {
        s.split(' ')
            .filter(|x| !x.is_empty())
            .map(str::to_string)
            .collect()
    };
    match claims.get("scp").or_else(|| claims.get("scope")) {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        Some(Value::String(s)) => split(s),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    fn rules() -> Rules<'static> {
        static CLIENTS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
        Rules {
            issuer: "https://op.example",
            audience: "api://default",
            clients: CLIENTS.get_or_init(|| vec!["app".to_string()]),
            now: 1_000_000,
            skew: 60,
        }
    }

    fn token() -> Value {
        json!({"iss": "https://op.example", "aud": "api://default", "sub": "u1", "cid": "app",
               "exp": 1_000_300, "iat": 999_900, "scp": ["openid", "profile"]})
    }

    fn with(edit: impl FnOnce(&mut Map<String, Value>)) -> Map<String, Value> {
        let mut c = claims(token());
        edit(&mut c);
        c
    }

    #[test]
    fn every_rule() {
        let ok = check(&claims(token()), &rules(), &["profile"]).unwrap();
        assert_eq!(ok.sub, "u1");
        assert_eq!(ok.scopes, ["openid", "profile"]);
        let refused =
            |c: Map<String, Value>, scopes: &[&str]| check(&c, &rules(), scopes).unwrap_err();
        assert!(matches!(
            refused(
                with(|c| {
                    c.insert("iss".into(), json!("https://evil"));
                }),
                &[]
            ),
            BearerError::InvalidToken(_)
        ));
        assert!(matches!(
            refused(
                with(|c| {
                    c.insert("aud".into(), json!("other"));
                }),
                &[]
            ),
            BearerError::InvalidToken(_)
        ));
        assert!(
            check(
                &with(|c| {
                    c.insert("aud".into(), json!(["x", "api://default"]));
                }),
                &rules(),
                &[]
            )
            .is_ok()
        );
        assert!(matches!(
            refused(
                with(|c| {
                    c.remove("exp");
                }),
                &[]
            ),
            BearerError::InvalidToken(_)
        ));
        assert!(
            matches!(
                refused(
                    with(|c| {
                        c.insert("exp".into(), json!(999_900));
                    }),
                    &[]
                ),
                BearerError::InvalidToken(_)
            ),
            "expired beyond the skew"
        );
        assert!(
            check(
                &with(|c| {
                    c.insert("exp".into(), json!(999_990));
                }),
                &rules(),
                &[]
            )
            .is_ok(),
            "within the skew"
        );
        assert!(matches!(
            refused(
                with(|c| {
                    c.insert("nbf".into(), json!(1_000_100));
                }),
                &[]
            ),
            BearerError::InvalidToken(_)
        ));
        assert!(matches!(
            refused(
                with(|c| {
                    c.remove("sub");
                }),
                &[]
            ),
            BearerError::InvalidToken(_)
        ));
        assert_eq!(
            refused(claims(token()), &["profile", "admin"]),
            BearerError::InsufficientScope("admin".into())
        );
        let spaced = with(|c| {
            c.remove("scp");
            c.insert("scope".into(), json!("openid  profile"));
        });
        assert!(check(&spaced, &rules(), &["profile"]).is_ok());
        assert!(matches!(
            refused(
                with(|c| {
                    c.remove("scp");
                }),
                &["profile"]
            ),
            BearerError::InsufficientScope(_)
        ));
    }

    #[test]
    fn the_client_and_the_typ() {
        let refused = |c: Map<String, Value>| check(&c, &rules(), &[]).is_err();
        assert!(refused(with(|c| {
            c.insert("cid".into(), json!("another-app"));
        })));
        assert!(
            refused(with(|c| {
                c.insert(
                    "cnf".into(),
                    json!({"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}),
                );
            })),
            "a DPoP-bound token as a bearer token"
        );
        assert!(
            refused(with(|c| {
                c.remove("cid");
            })),
            "an ID token names no client"
        );
        let rfc9068 = with(|c| {
            c.remove("cid");
            c.insert("client_id".into(), json!("app"));
        });
        assert!(check(&rfc9068, &rules(), &[]).is_ok());
        for (typ, ok) in [
            (None, true),
            (Some("at+jwt"), true),
            (Some("application/at+JWT"), true),
            (Some("JWT"), true),
            (Some("logout+jwt"), false),
            (Some("id+jwt"), false),
        ] {
            let header = claims(match typ {
                Some(t) => json!({"alg": "RS256", "typ": t}),
                None => json!({"alg": "RS256"}),
            });
            assert_eq!(check_header(&header).is_ok(), ok, "{typ:?}");
        }
    }
}
