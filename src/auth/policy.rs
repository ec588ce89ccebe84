//! What a page or a server function requires of the signed-in person beyond being signed in:
//! the policies of [`Guard`](super::guard::Guard) (pages) and of `super::require` (server
//! functions). Decided on the server from the session's validated claims.
//!
//! Groups come from the claim `AUTH_GROUPS_CLAIM` names (`groups` by default — Okta's groups
//! claim as configured in the authorization server; the development provider's demo users
//! carry it: Ada is in `Admins`, Grace is not).

use serde_json::{Map, Value};

/// A requirement on the signed-in person.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Require {
    /// Anyone signed in.
    SignedIn,
    /// A member of this group.
    Group(String),
    /// This claim with this value (for a list, one of its items).
    Claim(String, String),
}

impl Require {
    pub fn group(name: impl Into<String>) -> Self {
        Require::Group(name.into())
    }

    pub fn claim(name: impl Into<String>, value: impl Into<String>) -> Self {
        Require::Claim(name.into(), value.into())
    }

    /// Whether the person with `claims` meets it; `groups_claim` names the claim listing
    /// their groups. Exact, case-sensitive comparison: group names are identifiers.
    pub fn allows(&self, claims: &Map<String, Value>, groups_claim: &str) -> bool {
        match self {
            Require::SignedIn => true,
            Require::Group(group) => holds(claims.get(groups_claim), group),
            Require::Claim(name, value) => holds(claims.get(name), value),
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

    #[test]
    fn groups_and_claims() {
        let ada = claims(
            json!({"groups": ["Everyone", "Admins"], "department": "Math", "level": 3, "mfa": true}),
        );
        let grace = claims(json!({"groups": ["Everyone"], "department": ["Navy", "Math"]}));
        let nobody = claims(json!({}));
        let admins = Require::group("Admins");
        assert!(admins.allows(&ada, "groups"));
        assert!(!admins.allows(&grace, "groups"));
        assert!(!admins.allows(&nobody, "groups"));
        assert!(
            !Require::group("admins").allows(&ada, "groups"),
            "case-sensitive"
        );
        assert!(!admins.allows(&ada, "roles"), "another groups claim");
        let one = claims(json!({"roles": "Admins"}));
        assert!(admins.allows(&one, "roles"), "a single group as a string");
        assert!(Require::claim("department", "Math").allows(&ada, "groups"));
        assert!(Require::claim("department", "Math").allows(&grace, "groups"));
        assert!(!Require::claim("department", "Navy").allows(&ada, "groups"));
        assert!(Require::claim("level", "3").allows(&ada, "groups"));
        assert!(Require::claim("mfa", "true").allows(&ada, "groups"));
        assert!(!Require::claim("mfa", "true").allows(&grace, "groups"));
        assert!(Require::SignedIn.allows(&nobody, "groups"));
        let nested = claims(json!({"groups": [["Admins"]], "x": {"Admins": 1}}));
        assert!(admins.allows(&nested, "groups"), "nested lists are lists");
        assert!(
            !Require::claim("x", "Admins").allows(&nested, "groups"),
            "objects never hold"
        );
    }
}
