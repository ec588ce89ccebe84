//! Why a sign-in did not work, in plain words. Shared: the server picks the reason, the error
//! page (rendered on the server and hydrated in the browser) explains it.

/// A sign-in problem the person can be told about. Carried in the `reason` query parameter of
/// `/auth/error`, so it holds no details, only the kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorReason {
    /// The person (or a policy at the provider) refused the sign-in.
    AccessDenied,
    /// The provider reported some other error on the redirect back.
    ProviderError,
    /// The callback's `state` matches no sign-in started in this browser.
    StateMismatch,
    /// The provider refused the authorization code (used twice, expired, …).
    CodeRejected,
    /// The ID token (or userinfo) did not pass validation.
    TokenInvalid,
    /// The provider could not be reached.
    ProviderUnavailable,
    /// The session store could not be reached.
    SessionUnavailable,
    /// The session ended (refresh refused, timed out).
    SessionEnded,
    /// The sign-in was not as recent or as strong as the page asked for (a step-up).
    StepUpNotMet,
    /// `/login` was asked for something it cannot ask the provider.
    BadRequest,
    /// A third-party-initiated login named a provider this app does not use.
    UnknownIssuer,
    /// Anything else.
    Unknown,
}

impl ErrorReason {
    pub const ALL: [ErrorReason; 12] = [
        Self::AccessDenied,
        Self::ProviderError,
        Self::StateMismatch,
        Self::CodeRejected,
        Self::TokenInvalid,
        Self::ProviderUnavailable,
        Self::SessionUnavailable,
        Self::SessionEnded,
        Self::StepUpNotMet,
        Self::BadRequest,
        Self::UnknownIssuer,
        Self::Unknown,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Self::AccessDenied => "access_denied",
            Self::ProviderError => "provider_error",
            Self::StateMismatch => "state_mismatch",
            Self::CodeRejected => "code_rejected",
            Self::TokenInvalid => "token_invalid",
            Self::ProviderUnavailable => "provider_unavailable",
            Self::SessionUnavailable => "session_unavailable",
            Self::SessionEnded => "session_ended",
            Self::StepUpNotMet => "step_up_not_met",
            Self::BadRequest => "bad_request",
            Self::UnknownIssuer => "unknown_issuer",
            Self::Unknown => "unknown",
        }
    }

    pub fn from_code(code: &str) -> Self {
        Self::ALL
            .into_iter()
            .find(|r| r.code() == code)
            .unwrap_or(Self::Unknown)
    }

    pub fn title(self) -> &'static str {
        match self {
            Self::AccessDenied => "Sign-in was cancelled",
            Self::ProviderError => "The sign-in provider reported a problem",
            Self::StateMismatch => "This sign-in link has expired",
            Self::CodeRejected => "This sign-in could not be completed",
            Self::TokenInvalid => "We could not verify your sign-in",
            Self::ProviderUnavailable => "The sign-in provider is unavailable",
            Self::SessionUnavailable => "Sign-in is temporarily unavailable",
            Self::SessionEnded => "Your session has ended",
            Self::StepUpNotMet => "This page needs a more recent or stronger sign-in",
            Self::BadRequest => "This sign-in link is not valid",
            Self::UnknownIssuer => "This sign-in link names another provider",
            Self::Unknown => "Sign-in did not work",
        }
    }

    pub fn explanation(self) -> &'static str {
        match self {
            Self::AccessDenied => {
                "You (or your organisation's policy) declined to sign in to this app. Nothing was shared with us."
            }
            Self::ProviderError => {
                "The sign-in provider sent you back with an error. Trying again usually helps; if it keeps happening, contact the administrator."
            }
            Self::StateMismatch => {
                "We could not match this response to a sign-in started in this browser. It may have been opened in another browser, used twice, or waited too long."
            }
            Self::CodeRejected => {
                "The sign-in provider refused to complete this sign-in, for example because the page was reloaded or the link was used twice."
            }
            Self::TokenInvalid => {
                "The sign-in provider's answer did not pass our security checks, so we did not sign you in."
            }
            Self::ProviderUnavailable => {
                "We cannot reach the sign-in provider right now. Please try again in a moment."
            }
            Self::SessionUnavailable => {
                "We cannot reach our session store right now. Please try again in a moment."
            }
            Self::SessionEnded => "For your security you were signed out. Please sign in again.",
            Self::StepUpNotMet => {
                "The page you opened asks for a sign-in that is recent, or that used a stronger method (such as a second factor), and the sign-in provider did not confirm one, so nothing about your sign-in changed. Try again; if it keeps happening, your account or the provider may not support this kind of sign-in."
            }
            Self::BadRequest => {
                "The link asked the sign-in provider for something it cannot ask for. Go back and try again from the app."
            }
            Self::UnknownIssuer => {
                "The link that brought you here says it comes from a sign-in provider this app does not use, so we did not send you anywhere. Start again from the app or your organisation's dashboard."
            }
            Self::Unknown => "Something went wrong while signing you in. Please try again.",
        }
    }

    /// HTTP status of the error page (always below 500 for problems of the request, 503 when
    /// a dependency is down).
    pub fn status(self) -> u16 {
        match self {
            Self::AccessDenied => 403,
            Self::ProviderUnavailable | Self::SessionUnavailable => 503,
            Self::SessionEnded | Self::StepUpNotMet => 401,
            _ => 400,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for r in ErrorReason::ALL {
            assert_eq!(ErrorReason::from_code(r.code()), r);
            assert!(!r.explanation().is_empty());
        }
        assert_eq!(ErrorReason::from_code("<script>"), ErrorReason::Unknown);
    }
}
