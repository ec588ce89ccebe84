//! Types shared by the server and the browser: what the browser may know about the person.
//!
//! Nothing here holds a token. [`User`] carries display claims only; [`Profile`] adds the
//! ID-token claims (minus `nonce`, `at_hash`, `c_hash`) and the token *times* for the profile
//! page. [`ApiError`] is the error every server function returns: plain words for the person,
//! internals stay in the server log.

use serde::{Deserialize, Serialize};

/// The signed-in person, as shown in the UI.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub sub: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub preferred_username: Option<String>,
}

impl User {
    /// The best name to greet the person with.
    pub fn display_name(&self) -> &str {
        self.name
            .as_deref()
            .or(self.preferred_username.as_deref())
            .or(self.email.as_deref())
            .unwrap_or(&self.sub)
    }
}

/// Which routes need a signed-in person (from settings), for the client-side guard.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct GuardPolicy {
    /// Sign-in required everywhere except `public_paths`.
    pub require_all: bool,
    /// Entries ending in `/` are prefixes.
    pub public_paths: Vec<String>,
}

impl GuardPolicy {
    pub fn is_public(&self, path: &str) -> bool {
        self.public_paths.iter().any(|p| {
            if p.ends_with('/') && p.len() > 1 {
                path.starts_with(p.as_str())
            } else {
                path == p
            }
        })
    }

    /// Does `path` need sign-in, given the route's own flag?
    pub fn requires_sign_in(&self, path: &str, route_protected: bool) -> bool {
        route_protected || (self.require_all && !self.is_public(path))
    }
}

/// Who is signed in (if anyone) and the guard policy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthStatus {
    pub user: Option<User>,
    pub policy: GuardPolicy,
    /// Set when the session could not be checked (session store or provider down): pages
    /// that need sign-in show this error; public pages render as signed out.
    pub unavailable: Option<ApiError>,
}

/// One claim, ready to render.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    pub name: String,
    /// JSON text for non-string values, the string itself otherwise (what the filter searches).
    pub value: String,
    /// The claim's table row as the page shows it, HTML made on the server from escaped text
    /// (`crate::auth::api::ssr::claim`): the name, and the value as a date, chips, an
    /// identifier with a copy button, or the text. Made there so the browser's WebAssembly
    /// carries no code for it (no keyed list, no view per shape).
    pub html: String,
}

/// Everything the profile page shows. Times are Unix seconds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    pub user: User,
    pub claims: Vec<Claim>,
    pub signed_in_at: i64,
    pub access_token_expires_at: Option<i64>,
    pub last_refreshed_at: Option<i64>,
    pub id_token_expires_at: i64,
    pub session_expires_at: i64,
    pub can_refresh: bool,
    pub server_time: i64,
}

/// The error of every server function: safe to show, never carries internals. In JSON as
/// serde writes an enum: `"Unauthorized"`, `{"StepUpRequired":"max_age=300&prompt=login"}`.
/// (A new variant is also added to its hand-written `Deserialize` and to the round-trip test.)
#[derive(Clone, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
pub enum ApiError {
    #[error("You need to sign in to see this.")]
    Unauthorized,
    #[error("This request was refused (it did not come from this site).")]
    Forbidden,
    /// Signed in, but without what this needs (a group, a claim).
    #[error("You are signed in, but this is not open to you.")]
    NotAllowed,
    /// Signed in, but not recently or strongly enough for this: signing in again (a step-up)
    /// would do. Carries the query that asks for it at `/login` (after `return_to`), e.g.
    /// `max_age=300&prompt=login` (see `policy::StepUp`).
    #[error("This needs a more recent or stronger sign-in. Please sign in again.")]
    StepUpRequired(String),
    #[error("The sign-in provider cannot be reached right now. Please try again in a moment.")]
    ProviderUnavailable,
    #[error("Sign-in sessions are unavailable right now. Please try again in a moment.")]
    SessionStoreUnavailable,
    #[error("Something went wrong on our side.")]
    Internal,
    /// The request itself could not be carried out (it could not be sent, decoded or
    /// answered); the framework's own words stay out of the message.
    #[error("The request could not be completed. Please try again.")]
    Request,
}

impl ApiError {
    /// The HTTP status of this error: the one mapping, used by server functions and pages.
    pub fn status(&self) -> u16 {
        match self {
            ApiError::Unauthorized | ApiError::StepUpRequired(_) => 401,
            ApiError::Forbidden | ApiError::NotAllowed => 403,
            ApiError::ProviderUnavailable | ApiError::SessionStoreUnavailable => 503,
            ApiError::Request => 400,
            ApiError::Internal => 500,
        }
    }
}

impl ApiError {
    /// The unit variants, by name.
    fn named(name: &str) -> Option<Self> {
        Some(match name {
            "Unauthorized" => ApiError::Unauthorized,
            "Forbidden" => ApiError::Forbidden,
            "NotAllowed" => ApiError::NotAllowed,
            "ProviderUnavailable" => ApiError::ProviderUnavailable,
            "SessionStoreUnavailable" => ApiError::SessionStoreUnavailable,
            "Internal" => ApiError::Internal,
            "Request" => ApiError::Request,
            _ => return None,
        })
    }
}

/// Read by hand, in the shape `Serialize` writes: serde's derive for an enum with a variant
/// that carries data brings its whole enum machinery into the WebAssembly, about 0.3 KB more
/// than this (the first page's budget is spent; ARCHITECTURE.md, "Rendering").
impl<'de> Deserialize<'de> for ApiError {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = ApiError;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an ApiError")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ApiError, E> {
                ApiError::named(v).ok_or_else(|| E::custom("unknown ApiError"))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<ApiError, A::Error> {
                use serde::de::Error;
                match map.next_key::<String>()?.as_deref() {
                    Some("StepUpRequired") => {
                        let query: String = map.next_value()?;
                        match map.next_key::<String>()? {
                            None => Ok(ApiError::StepUpRequired(query)),
                            Some(_) => Err(A::Error::custom("one key only")),
                        }
                    }
                    _ => Err(A::Error::custom("unknown ApiError")),
                }
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// JSON for server functions, read from text in the browser (`serde_json::from_str`) — as
/// Leptos reads island props — where the stock `JsonEncoding` reads bytes (`from_slice`): one
/// serde_json deserializer in the WebAssembly instead of two. Written here because server_fn
/// has no text-reading JSON codec; the wire format is the same `application/json`.
pub struct JsonText;

impl leptos::server_fn::ContentType for JsonText {
    const CONTENT_TYPE: &'static str = "application/json";
}

impl leptos::server_fn::FormatType for JsonText {
    const FORMAT_TYPE: leptos::server_fn::Format = leptos::server_fn::Format::Text;
}

impl<T: Serialize> leptos::server_fn::Encodes<T> for JsonText {
    type Error = serde_json::Error;

    fn encode(output: &T) -> Result<leptos::server_fn::Bytes, Self::Error> {
        serde_json::to_vec(output).map(leptos::server_fn::Bytes::from)
    }
}

impl<T: serde::de::DeserializeOwned> leptos::server_fn::Decodes<T> for JsonText {
    type Error = Unreadable;

    fn decode(bytes: leptos::server_fn::Bytes) -> Result<T, Self::Error> {
        let text = std::str::from_utf8(&bytes).map_err(Unreadable::from)?;
        serde_json::from_str(text).map_err(Unreadable::from)
    }
}

/// A [`JsonText`] answer that could not be read. The browser keeps no details (it becomes
/// [`ApiError::Request`] either way): formatting serde_json's error there would pull its
/// messages, and the standard library's I/O error texts, into the WebAssembly. The server,
/// which logs it, keeps the words.
#[derive(Debug)]
pub struct Unreadable(#[cfg(feature = "ssr")] String);

impl Unreadable {
    fn from(e: impl std::fmt::Display) -> Self {
        #[cfg(feature = "ssr")]
        return Unreadable(e.to_string());
        #[cfg(not(feature = "ssr"))]
        {
            let _ = e;
            Unreadable()
        }
    }
}

impl std::fmt::Display for Unreadable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        #[cfg(feature = "ssr")]
        return write!(f, "unreadable JSON answer: {}", self.0);
        #[cfg(not(feature = "ssr"))]
        f.write_str("unreadable JSON answer")
    }
}

/// Server-function answers in [`JsonText`].
pub type JsonTextOutput = leptos::server_fn::codec::Post<JsonText>;

impl leptos::server_fn::error::FromServerFnError for ApiError {
    type Encoder = JsonText;

    fn from_server_fn_error(value: leptos::server_fn::error::ServerFnErrorErr) -> Self {
        #[cfg(feature = "ssr")]
        tracing::warn!(error = %value, "server function request failed");
        #[cfg(not(feature = "ssr"))]
        let _ = value;
        ApiError::Request
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_name_falls_back() {
        let mut u = User {
            sub: "s".into(),
            name: None,
            email: Some("e@x".into()),
            preferred_username: None,
        };
        assert_eq!(u.display_name(), "e@x");
        u.name = Some("Ada".into());
        assert_eq!(u.display_name(), "Ada");
    }

    #[test]
    fn json_text_round_trips_and_refuses_bad_text() {
        use leptos::server_fn::{Bytes, Decodes, Encodes};
        let error = ApiError::ProviderUnavailable;
        let bytes = <JsonText as Encodes<ApiError>>::encode(&error).unwrap();
        assert_eq!(&bytes[..], br#""ProviderUnavailable""#);
        let back: ApiError = <JsonText as Decodes<ApiError>>::decode(bytes).unwrap();
        assert_eq!(back, error);
        for error in [
            ApiError::Unauthorized,
            ApiError::Forbidden,
            ApiError::NotAllowed,
            ApiError::StepUpRequired("max_age=300&prompt=login".into()),
            ApiError::ProviderUnavailable,
            ApiError::SessionStoreUnavailable,
            ApiError::Internal,
            ApiError::Request,
        ] {
            let bytes = <JsonText as Encodes<ApiError>>::encode(&error).unwrap();
            let back: ApiError = <JsonText as Decodes<ApiError>>::decode(bytes).unwrap();
            assert_eq!(
                back, error,
                "the hand-written reader matches serde's writer"
            );
        }
        assert_eq!(
            &<JsonText as Encodes<ApiError>>::encode(&ApiError::StepUpRequired("q".into()))
                .unwrap()[..],
            br#"{"StepUpRequired":"q"}"#
        );
        for bad in [
            &br#""Nope""#[..],
            br#"{"Nope":"x"}"#,
            br#"{"StepUpRequired":"q","x":1}"#,
            b"1",
            b"{}",
        ] {
            assert!(
                <JsonText as Decodes<ApiError>>::decode(Bytes::copy_from_slice(bad)).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        let bad = <JsonText as Decodes<ApiError>>::decode(Bytes::from_static(b"\"\xff\""));
        assert!(bad.is_err(), "invalid UTF-8 is an error, not a panic");
    }

    #[test]
    fn api_errors_carry_no_internals_and_one_status_each() {
        use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
        let e = ApiError::from_server_fn_error(ServerFnErrorErr::Deserialization(
            "expected `,` at line 1 column 7 in internal::Type".into(),
        ));
        assert_eq!(e, ApiError::Request);
        assert!(!e.to_string().contains("internal::Type"));
        assert_eq!(ApiError::Unauthorized.status(), 401);
        assert_eq!(ApiError::StepUpRequired(String::new()).status(), 401);
        assert_eq!(ApiError::NotAllowed.status(), 403);
        assert_eq!(ApiError::SessionStoreUnavailable.status(), 503);
        assert_eq!(ApiError::Internal.status(), 500);
    }

    #[test]
    fn policy_matching() {
        let p = GuardPolicy {
            require_all: true,
            public_paths: vec!["/".into(), "/pkg/".into(), "/login".into()],
        };
        assert!(p.is_public("/"));
        assert!(p.is_public("/pkg/app.wasm"));
        assert!(!p.is_public("/loginx"));
        assert!(p.requires_sign_in("/reports", false));
        assert!(!p.requires_sign_in("/", false));
        assert!(p.requires_sign_in("/", true));
        let off = GuardPolicy::default();
        assert!(!off.requires_sign_in("/reports", false));
    }
}

/// Why a session ended, as the live channel (`GET /auth/events`, event `ended`) tells the open
/// tabs of that session. On the wire it is [`EndReason::as_str`], plain text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndReason {
    /// The person signed out (in another tab or window).
    SignedOut,
    /// The provider ended it (back-channel logout, Universal Logout).
    Provider,
    /// The idle timeout or the absolute lifetime was reached, or the access token expired
    /// without a way to refresh it.
    Expired,
    /// The provider refused to refresh the tokens (revoked, expired grant).
    RefreshFailed,
}

impl EndReason {
    pub const ALL: [EndReason; 4] = [
        EndReason::SignedOut,
        EndReason::Provider,
        EndReason::Expired,
        EndReason::RefreshFailed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::SignedOut => "signed_out",
            EndReason::Provider => "provider",
            EndReason::Expired => "expired",
            EndReason::RefreshFailed => "refresh_failed",
        }
    }

    pub fn parse(s: &str) -> Option<EndReason> {
        EndReason::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// What the open page tells the person.
    pub fn message(self) -> &'static str {
        match self {
            EndReason::SignedOut => "You have been signed out (in another tab or window).",
            EndReason::Provider => "You have been signed out by your sign-in provider.",
            EndReason::Expired => "You have been signed out: your session expired.",
            EndReason::RefreshFailed => {
                "You have been signed out: your sign-in could not be renewed."
            }
        }
    }
}

#[cfg(test)]
mod end_reason_tests {
    use super::EndReason;

    #[test]
    fn end_reasons_round_trip_as_text() {
        for r in EndReason::ALL {
            assert_eq!(EndReason::parse(r.as_str()), Some(r));
            assert!(r.message().starts_with("You have been signed out"));
        }
        assert_eq!(EndReason::parse("nonsense"), None);
    }
}
