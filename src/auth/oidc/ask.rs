//! What a sign-in asks the provider for beyond who the person is: a recent authentication
//! (`max_age`, `prompt=login`) or a given authentication context class (`acr_values`) — a
//! step-up — and the check that the ID token that came back meets it (OpenID Connect Core
//! 3.1.2.1 and 3.1.3.7: `auth_time` must be present when `max_age` was asked, `acr` is only
//! a request the provider may ignore, so the app checks it itself).
//!
//! The asks come from `/login`'s query string (attacker-controlled, so bounded): they can
//! only make the person's own sign-in stricter.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The longest `max_age` a sign-in may ask for (a year).
pub const MAX_AGE_LIMIT: u64 = 366 * 24 * 3600;
/// The longest `acr_values` a sign-in may ask for.
pub const ACR_VALUES_LIMIT: usize = 256;

/// What one sign-in asks for. Remembered with the pending sign-in until the callback.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignInAsk {
    /// Authenticated at most this many seconds before the callback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age: Option<u64>,
    /// Authenticated anew, after the sign-in started.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub prompt_login: bool,
    /// With one of these classes (space-separated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr_values: Option<String>,
}

/// A step-up parameter of `/login` that is not acceptable.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BadAsk {
    #[error("max_age must be a whole number of seconds, at most a year")]
    MaxAge,
    #[error("prompt may only be login")]
    Prompt,
    #[error("acr_values must be space-separated URIs, at most {ACR_VALUES_LIMIT} characters")]
    AcrValues,
}

impl SignInAsk {
    /// Reads `/login`'s `max_age`, `prompt` and `acr_values`.
    pub fn from_query(
        max_age: Option<&str>,
        prompt: Option<&str>,
        acr_values: Option<&str>,
    ) -> Result<Self, BadAsk> {
        let max_age = match max_age {
            None => None,
            Some(v) if v.bytes().all(|b| b.is_ascii_digit()) => match v.parse::<u64>() {
                Ok(age) if age <= MAX_AGE_LIMIT => Some(age),
                _ => return Err(BadAsk::MaxAge),
            },
            Some(_) => return Err(BadAsk::MaxAge),
        };
        let prompt_login = match prompt {
            None => false,
            Some("login") => true,
            Some(_) => return Err(BadAsk::Prompt),
        };
        let acr_values = match acr_values {
            None => None,
            Some(v) => {
                let classes: Vec<&str> = v.split(' ').filter(|c| !c.is_empty()).collect();
                let uri_chars = |c: &str| {
                    c.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b":/._-~#?=&%+@!$,;*()'".contains(&b))
                };
                if classes.is_empty()
                    || v.len() > ACR_VALUES_LIMIT
                    || !classes.iter().all(|c| uri_chars(c))
                {
                    return Err(BadAsk::AcrValues);
                }
                Some(classes.join(" "))
            }
        };
        Ok(Self {
            max_age,
            prompt_login,
            acr_values,
        })
    }

    /// Asks for anything beyond a plain sign-in.
    pub fn is_step_up(&self) -> bool {
        self.max_age.is_some() || self.prompt_login || self.acr_values.is_some()
    }

    /// `/login`'s parameters that ask for it again (what [`Self::from_query`] reads).
    pub fn query_pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = Vec::new();
        if let Some(age) = self.max_age {
            pairs.push(("max_age", age.to_string()));
        }
        if self.prompt_login {
            pairs.push(("prompt", "login".to_string()));
        }
        if let Some(acr) = &self.acr_values {
            pairs.push(("acr_values", acr.clone()));
        }
        pairs
    }

    /// Whether the validated ID-token `claims` meet it, for a sign-in started at `started_at`
    /// and completed `now` (Unix seconds), tolerating `skew` seconds of clock difference.
    /// `Err` says what is missing (for the log).
    pub fn check(
        &self,
        claims: &Map<String, Value>,
        started_at: i64,
        now: i64,
        skew: i64,
    ) -> Result<(), String> {
        let auth_time = claims.get("auth_time").and_then(Value::as_i64);
        if (self.max_age.is_some() || self.prompt_login)
            && auth_time.is_some_and(|at| at > now.saturating_add(skew))
        {
            return Err("auth_time is in the future".into());
        }
        if let Some(age) = self.max_age {
            let at = auth_time.ok_or("no auth_time, though max_age was asked")?;
            let limit = i64::try_from(age).unwrap_or(i64::MAX).saturating_add(skew);
            let ago = now.saturating_sub(at);
            if ago > limit {
                return Err(format!("authenticated {ago}s ago, max_age was {age}"));
            }
        }
        if self.prompt_login {
            let at = auth_time.ok_or("no auth_time, though a new sign-in was asked")?;
            if at < started_at.saturating_sub(skew) {
                return Err("not authenticated anew, though prompt=login was asked".into());
            }
        }
        if let Some(asked) = &self.acr_values {
            let acr = claims.get("acr").and_then(Value::as_str);
            if !acr.is_some_and(|got| asked.split(' ').any(|a| a == got)) {
                return Err(format!("acr {acr:?} is not one of {asked}"));
            }
        }
        Ok(())
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

    #[test]
    fn reads_the_query_strictly() {
        let ask = SignInAsk::from_query(
            Some("300"),
            Some("login"),
            Some(" urn:okta:loa:2fa:any  phr "),
        );
        assert_eq!(
            ask,
            Ok(SignInAsk {
                max_age: Some(300),
                prompt_login: true,
                acr_values: Some("urn:okta:loa:2fa:any phr".into()),
            })
        );
        assert!(
            !SignInAsk::from_query(None, None, None)
                .unwrap()
                .is_step_up()
        );
        for bad in ["-1", "+5", "1e3", "", "99999999999", " 5"] {
            assert_eq!(
                SignInAsk::from_query(Some(bad), None, None),
                Err(BadAsk::MaxAge),
                "{bad:?}"
            );
        }
        for bad in ["none", "consent", "login consent", ""] {
            assert_eq!(
                SignInAsk::from_query(None, Some(bad), None),
                Err(BadAsk::Prompt)
            );
        }
        for bad in ["", "   ", "a\"b", "<x>", "a\tb", &"x".repeat(300)] {
            assert_eq!(
                SignInAsk::from_query(None, None, Some(bad)),
                Err(BadAsk::AcrValues),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn checks_what_came_back() {
        let now = 1_000_000;
        let recent = SignInAsk {
            max_age: Some(300),
            ..Default::default()
        };
        let at = |t: i64| claims(json!({ "auth_time": t }));
        assert!(recent.check(&at(now - 300), now - 10, now, 0).is_ok());
        assert!(recent.check(&at(now - 301), now - 10, now, 0).is_err());
        assert!(recent.check(&at(now - 330), now - 10, now, 60).is_ok());
        assert!(
            recent.check(&claims(json!({})), now - 10, now, 60).is_err(),
            "no auth_time"
        );
        assert!(
            recent
                .check(&claims(json!({"auth_time": "999990"})), now, now, 60)
                .is_err(),
            "a string is not a time"
        );

        let anew = SignInAsk {
            prompt_login: true,
            ..Default::default()
        };
        assert!(anew.check(&at(now - 5), now - 20, now, 0).is_ok());
        assert!(
            anew.check(&at(now - 50), now - 20, now, 0).is_err(),
            "an earlier sign-in reused"
        );
        assert!(
            anew.check(&at(now - 50), now - 20, now, 60).is_ok(),
            "within the skew"
        );
        assert!(anew.check(&claims(json!({})), now - 20, now, 60).is_err());

        let strong = SignInAsk {
            acr_values: Some("urn:okta:loa:2fa:any phr".into()),
            ..Default::default()
        };
        let acr = |v: Value| claims(json!({ "acr": v }));
        assert!(strong.check(&acr(json!("phr")), now, now, 0).is_ok());
        assert!(
            strong
                .check(&acr(json!("urn:okta:loa:2fa:any")), now, now, 0)
                .is_ok()
        );
        assert!(
            strong
                .check(&acr(json!("urn:okta:loa:1fa:any")), now, now, 0)
                .is_err()
        );
        assert!(
            strong.check(&acr(json!(["phr"])), now, now, 0).is_err(),
            "not a string"
        );
        assert!(strong.check(&claims(json!({})), now, now, 0).is_err());
        assert!(
            SignInAsk::default()
                .check(&claims(json!({})), now, now, 0)
                .is_ok(),
            "a plain sign-in asks nothing"
        );
    }
}
