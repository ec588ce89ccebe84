//! What a page or a server function requires of the signed-in person beyond being signed in:
//! the policies of [`Guard`](super::guard::Guard) (pages) and of `super::require` (server
//! functions). Decided on the server from the session's validated claims and from how the
//! person signed in (when, and how strongly: the ID token's `auth_time` and `acr` at sign-in).
//!
//! Groups come from the claim `AUTH_GROUPS_CLAIM` names (`groups` by default — Okta's groups
//! claim as configured in the authorization server; the development provider's demo users
//! carry it: Ada is in `Admins`, Grace is not).
//!
//! A requirement the person could meet by signing in again — a recent sign-in, a stronger
//! one — is a [`StepUp`]: the guard sends them to the provider asking for it (`max_age`,
//! `prompt=login`, `acr_values`), and the callback checks the answer meets it. Group and claim
//! requirements are not: signing in again would not change them (403).

use serde_json::{Map, Value};

/// The group of the app's administrators (the `/admin` page; the development provider's Ada).
pub const ADMINS: &str = "Admins";

/// A requirement on the signed-in person.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Require {
    /// Anyone signed in.
    SignedIn,
    /// A member of this group.
    Group(String),
    /// This claim with this value (for a list, one of its items).
    Claim(String, String),
    /// Authenticated at the provider within this many seconds (the ID token's `auth_time`).
    RecentSignIn(u64),
    /// Authenticated with this authentication context class (the ID token's `acr`), e.g.
    /// Okta's `urn:okta:loa:2fa:any`.
    Acr(String),
    /// All of these.
    All(Vec<Require>),
}

/// How the person signed in, as the policies read it.
#[derive(Clone, Copy, Debug)]
pub struct Facts<'a> {
    /// The validated claims of the session.
    pub claims: &'a Map<String, Value>,
    /// The claim listing the person's groups.
    pub groups_claim: &'a str,
    /// When the person last authenticated at the provider (`auth_time` at sign-in).
    pub authenticated_at: Option<i64>,
    /// The authentication context class of that sign-in (`acr`).
    pub acr: Option<&'a str>,
    /// Now, Unix seconds.
    pub now: i64,
    /// Seconds of clock difference with the provider tolerated (as the callback does, so a
    /// sign-in the callback accepted is not sent back for another).
    pub skew: i64,
}

/// What a requirement says about a person.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    /// Signing in again would not help (a group, a claim): 403.
    NotAllowed,
    /// A sign-in of this kind would.
    StepUp(StepUp),
}

/// The sign-in a requirement asks for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StepUp {
    /// At most this many seconds ago (`max_age`, sent with `prompt=login`).
    pub max_age: Option<u64>,
    /// With this authentication context class (`acr_values`).
    pub acr: Option<String>,
}

impl StepUp {
    /// Both asks: the shorter age, the one class. `None` when one sign-in cannot meet both
    /// (two different classes: a sign-in has one `acr`).
    fn and(self, other: StepUp) -> Option<StepUp> {
        let acr = match (self.acr, other.acr) {
            (Some(a), Some(b)) if a != b => return None,
            (a, b) => a.or(b),
        };
        Some(StepUp {
            max_age: match (self.max_age, other.max_age) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            },
            acr,
        })
    }

    /// The query parameters of `/login` that ask for it (after `return_to`):
    /// `max_age=300&prompt=login`, `acr_values=…`.
    pub fn query(&self) -> String {
        let mut parts = Vec::new();
        if let Some(age) = self.max_age {
            parts.push(format!("max_age={age}&prompt=login"));
        }
        if let Some(acr) = &self.acr {
            parts.push(format!(
                "acr_values={}",
                super::return_to::encode_component(acr)
            ));
        }
        parts.join("&")
    }

    /// The sign-in URL asking for it, coming back to `path` afterwards.
    pub fn login_url(&self, path: &str) -> String {
        super::return_to::login_url_with(path, &self.query())
    }

    /// Whether a sign-in at `authenticated_at` with class `acr` meets it at `now` (`skew`:
    /// seconds of clock difference tolerated). `acr` must be one of the asked classes.
    pub fn met_by(
        &self,
        authenticated_at: Option<i64>,
        acr: Option<&str>,
        now: i64,
        skew: i64,
    ) -> bool {
        let recent = match self.max_age {
            None => true,
            // (an authentication in the future is a broken clock, not a recent one)
            Some(age) => authenticated_at.is_some_and(|at| {
                let limit = i64::try_from(age).unwrap_or(i64::MAX).saturating_add(skew);
                at <= now.saturating_add(skew) && now.saturating_sub(at) <= limit
            }),
        };
        let strong = match &self.acr {
            None => true,
            Some(asked) => acr.is_some_and(|got| asked.split(' ').any(|a| a == got)),
        };
        recent && strong
    }
}

impl Require {
    pub fn group(name: impl Into<String>) -> Self {
        Require::Group(name.into())
    }

    pub fn claim(name: impl Into<String>, value: impl Into<String>) -> Self {
        Require::Claim(name.into(), value.into())
    }

    /// Signed in at the provider within `max_age` (whole seconds).
    pub fn recent_sign_in(max_age: std::time::Duration) -> Self {
        Require::RecentSignIn(max_age.as_secs())
    }

    pub fn acr(class: impl Into<String>) -> Self {
        Require::Acr(class.into())
    }

    /// This and `other`.
    pub fn and(self, other: Require) -> Self {
        match self {
            Require::All(mut list) => {
                list.push(other);
                Require::All(list)
            }
            one => Require::All(vec![one, other]),
        }
    }

    /// What a sign-in must be asked for to meet it (for a person not signed in yet: one trip
    /// to the provider rather than two).
    pub fn sign_in_ask(&self) -> StepUp {
        match self {
            Require::RecentSignIn(age) => StepUp {
                max_age: Some(*age),
                acr: None,
            },
            Require::Acr(class) => StepUp {
                max_age: None,
                acr: Some(class.clone()),
            },
            // (a conflict is refused by `check` whatever the sign-in: ask for the first)
            Require::All(list) => list.iter().fold(StepUp::default(), |ask, r| {
                let more = r.sign_in_ask();
                ask.clone().and(more).unwrap_or(ask)
            }),
            _ => StepUp::default(),
        }
    }

    /// What it says about the person of `facts`. Exact, case-sensitive comparison: group
    /// names, claim values and classes are identifiers. A "not allowed" wins over a step-up
    /// (no point signing in again).
    pub fn check(&self, facts: &Facts<'_>) -> Verdict {
        let step = |s: StepUp| {
            if s.met_by(facts.authenticated_at, facts.acr, facts.now, facts.skew) {
                Verdict::Allowed
            } else {
                Verdict::StepUp(s)
            }
        };
        let yes_no = |ok: bool| {
            if ok {
                Verdict::Allowed
            } else {
                Verdict::NotAllowed
            }
        };
        match self {
            Require::SignedIn => Verdict::Allowed,
            Require::Group(group) => yes_no(holds(facts.claims.get(facts.groups_claim), group)),
            Require::Claim(name, value) => yes_no(holds(facts.claims.get(name), value)),
            Require::RecentSignIn(age) => step(StepUp {
                max_age: Some(*age),
                acr: None,
            }),
            Require::Acr(class) => step(StepUp {
                max_age: None,
                acr: Some(class.clone()),
            }),
            Require::All(list) => {
                let mut wanted: Option<StepUp> = None;
                for r in list {
                    match r.check(facts) {
                        Verdict::Allowed => {}
                        Verdict::NotAllowed => return Verdict::NotAllowed,
                        Verdict::StepUp(s) => {
                            wanted = match wanted {
                                None => Some(s),
                                // no one sign-in meets both: signing in again cannot help
                                Some(w) => Some(match w.and(s) {
                                    Some(both) => both,
                                    None => return Verdict::NotAllowed,
                                }),
                            }
                        }
                    }
                }
                wanted.map_or(Verdict::Allowed, Verdict::StepUp)
            }
        }
    }
}

/// A claim value "holds" `wanted`: equal to it, or a list with it among its items.
fn holds(value: Option<&Value>, wanted: &str) -> bool {
    match value {
        Some(Value::String(s)) => s == wanted,
        Some(Value::Array(items)) => items.iter().any(|item| holds(Some(item), wanted)),
        Some(Value::Bool(b)) => wanted == if *b { "true" } else { "false" },
        Some(Value::Number(n)) => n.to_string() == wanted,
        _ => false,
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

    fn facts<'a>(claims: &'a Map<String, Value>, groups_claim: &'a str) -> Facts<'a> {
        Facts {
            claims,
            groups_claim,
            authenticated_at: None,
            acr: None,
            now: 1_000_000,
            skew: 0,
        }
    }

    fn allows(r: &Require, claims: &Map<String, Value>, groups_claim: &str) -> bool {
        r.check(&facts(claims, groups_claim)) == Verdict::Allowed
    }

    #[test]
    fn groups_and_claims() {
        let ada = claims(
            json!({"groups": ["Everyone", "Admins"], "department": "Math", "level": 3, "mfa": true}),
        );
        let grace = claims(json!({"groups": ["Everyone"], "department": ["Navy", "Math"]}));
        let nobody = claims(json!({}));
        let admins = Require::group(ADMINS);
        assert!(allows(&admins, &ada, "groups"));
        assert!(!allows(&admins, &grace, "groups"));
        assert_eq!(
            admins.check(&facts(&grace, "groups")),
            Verdict::NotAllowed,
            "not a step-up: signing in again changes nothing"
        );
        assert!(!allows(&admins, &nobody, "groups"));
        assert!(
            !allows(&Require::group("admins"), &ada, "groups"),
            "case-sensitive"
        );
        assert!(!allows(&admins, &ada, "roles"), "another groups claim");
        let one = claims(json!({"roles": "Admins"}));
        assert!(allows(&admins, &one, "roles"), "a single group as a string");
        assert!(allows(
            &Require::claim("department", "Math"),
            &ada,
            "groups"
        ));
        assert!(allows(
            &Require::claim("department", "Math"),
            &grace,
            "groups"
        ));
        assert!(!allows(
            &Require::claim("department", "Navy"),
            &ada,
            "groups"
        ));
        assert!(allows(&Require::claim("level", "3"), &ada, "groups"));
        assert!(allows(&Require::claim("mfa", "true"), &ada, "groups"));
        assert!(!allows(&Require::claim("mfa", "true"), &grace, "groups"));
        assert!(allows(&Require::SignedIn, &nobody, "groups"));
        let nested = claims(json!({"groups": [["Admins"]], "x": {"Admins": 1}}));
        assert!(allows(&admins, &nested, "groups"), "nested lists are lists");
        assert!(
            !allows(&Require::claim("x", "Admins"), &nested, "groups"),
            "objects never hold"
        );
    }

    #[test]
    fn recent_sign_in() {
        let none = claims(json!({}));
        let five_minutes = Require::recent_sign_in(std::time::Duration::from_secs(300));
        let at = |authenticated_at: Option<i64>, skew: i64| Facts {
            authenticated_at,
            skew,
            ..facts(&none, "groups")
        };
        let ask = Verdict::StepUp(StepUp {
            max_age: Some(300),
            acr: None,
        });
        assert_eq!(
            five_minutes.check(&at(Some(1_000_000 - 300), 0)),
            Verdict::Allowed
        );
        assert_eq!(five_minutes.check(&at(Some(1_000_000 - 301), 0)), ask);
        assert_eq!(
            five_minutes.check(&at(Some(1_000_000 - 330), 30)),
            Verdict::Allowed
        );
        assert_eq!(
            five_minutes.check(&at(None, 0)),
            ask,
            "no auth_time: not known to be recent"
        );
        assert_eq!(
            five_minutes.check(&at(Some(2_000_000), 0)),
            ask,
            "a sign-in in the future is a broken clock"
        );
    }

    #[test]
    fn authentication_class() {
        let none = claims(json!({}));
        let two_factor = Require::acr("urn:okta:loa:2fa:any");
        let with = |acr: Option<&'static str>| Facts {
            acr,
            ..facts(&none, "groups")
        };
        let ask = Verdict::StepUp(StepUp {
            max_age: None,
            acr: Some("urn:okta:loa:2fa:any".into()),
        });
        assert_eq!(
            two_factor.check(&with(Some("urn:okta:loa:2fa:any"))),
            Verdict::Allowed
        );
        assert_eq!(two_factor.check(&with(Some("urn:okta:loa:1fa:any"))), ask);
        assert_eq!(
            two_factor.check(&with(Some("urn:okta:loa:2fa:any:ifpossible"))),
            ask
        );
        assert_eq!(two_factor.check(&with(None)), ask);
    }

    #[test]
    fn all_of_them() {
        let ada = claims(json!({"groups": ["Admins"]}));
        let grace = claims(json!({"groups": []}));
        let strict = Require::group(ADMINS)
            .and(Require::recent_sign_in(std::time::Duration::from_secs(600)))
            .and(Require::recent_sign_in(std::time::Duration::from_secs(60)))
            .and(Require::acr("phr"));
        let old = |c| Facts {
            authenticated_at: Some(1_000_000 - 3600),
            ..facts(c, "groups")
        };
        assert_eq!(
            strict.check(&old(&ada)),
            Verdict::StepUp(StepUp {
                max_age: Some(60),
                acr: Some("phr".into())
            }),
            "one sign-in that meets every ask"
        );
        assert_eq!(strict.check(&old(&grace)), Verdict::NotAllowed);
        let two_classes = Require::acr("phr").and(Require::acr("urn:okta:loa:2fa:any"));
        assert_eq!(
            two_classes.check(&old(&ada)),
            Verdict::NotAllowed,
            "no one sign-in has two classes: no step-up loop"
        );
        let fresh = Facts {
            authenticated_at: Some(1_000_000 - 10),
            acr: Some("phr"),
            ..facts(&ada, "groups")
        };
        assert_eq!(strict.check(&fresh), Verdict::Allowed);
        assert_eq!(
            strict.sign_in_ask(),
            StepUp {
                max_age: Some(60),
                acr: Some("phr".into())
            }
        );
        assert_eq!(Require::group(ADMINS).sign_in_ask(), StepUp::default());
    }

    #[test]
    fn step_up_query() {
        assert_eq!(
            StepUp {
                max_age: Some(300),
                acr: Some("urn:okta:loa:2fa:any phr".into())
            }
            .query(),
            "max_age=300&prompt=login&acr_values=urn%3Aokta%3Aloa%3A2fa%3Aany%20phr"
        );
        assert_eq!(StepUp::default().query(), "");
        let recent = StepUp {
            max_age: Some(60),
            acr: None,
        };
        assert_eq!(
            recent.login_url("/settings/sensitive"),
            "/login?return_to=/settings/sensitive&max_age=60&prompt=login"
        );
        assert_eq!(recent.login_url("/"), "/login?max_age=60&prompt=login");
        assert_eq!(StepUp::default().login_url("/a"), "/login?return_to=/a");
    }
}
