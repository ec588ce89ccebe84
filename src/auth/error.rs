//! Server-side authentication errors, with the details the log needs. Each maps to an
//! [`ErrorReason`] (what the person is told) and an [`ApiError`] (what a server function
//! returns). Details never leave the server.

use super::{reason::ErrorReason, store::StoreError, types::ApiError};

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("provider unavailable: {0}")]
    ProviderUnavailable(String),
    #[error("session store unavailable: {0}")]
    Store(#[from] StoreError),
    #[error("callback state matches no pending sign-in")]
    StateMismatch,
    #[error("provider redirected back with error {code:?}")]
    ProviderRedirectError { code: String },
    #[error("callback without code or error")]
    MissingCode,
    #[error(
        "authorization response from another issuer, or without the iss it must carry (RFC 9207)"
    )]
    IssuerMismatch,
    #[error("token endpoint refused the authorization code: {0}")]
    CodeRejected(String),
    #[error("ID token rejected: {0}")]
    InvalidIdToken(String),
    #[error("userinfo rejected: {0}")]
    UserInfo(String),
    #[error("pushed authorization request refused: {0}")]
    Par(String),
    #[error("the sign-in does not meet the step-up asked for: {0}")]
    StepUpNotMet(String),
    #[error("bad sign-in request: {0}")]
    BadAsk(#[from] super::oidc::BadAsk),
    #[error("refresh refused by the provider: {0}")]
    RefreshRejected(String),
    #[error("session ended: {0}")]
    SessionEnded(&'static str),
    #[error("internal: {0}")]
    Internal(String),
}

impl AuthError {
    pub fn reason(&self) -> ErrorReason {
        match self {
            AuthError::ProviderUnavailable(_) => ErrorReason::ProviderUnavailable,
            AuthError::Store(_) => ErrorReason::SessionUnavailable,
            AuthError::StateMismatch | AuthError::MissingCode => ErrorReason::StateMismatch,
            AuthError::ProviderRedirectError { code } if code == "access_denied" => {
                ErrorReason::AccessDenied
            }
            // OpenID Connect Core 3.1.2.6 / Okta: the provider could not authenticate the
            // person as strongly as asked
            AuthError::ProviderRedirectError { code }
                if code == "unmet_authentication_requirements" =>
            {
                ErrorReason::StepUpNotMet
            }
            AuthError::ProviderRedirectError { .. } | AuthError::Par(_) => {
                ErrorReason::ProviderError
            }
            AuthError::StepUpNotMet(_) => ErrorReason::StepUpNotMet,
            AuthError::BadAsk(_) => ErrorReason::BadRequest,
            AuthError::CodeRejected(_) => ErrorReason::CodeRejected,
            AuthError::InvalidIdToken(_) | AuthError::UserInfo(_) | AuthError::IssuerMismatch => {
                ErrorReason::TokenInvalid
            }
            AuthError::RefreshRejected(_) | AuthError::SessionEnded(_) => ErrorReason::SessionEnded,
            AuthError::Internal(_) => ErrorReason::Unknown,
        }
    }

    /// What the client may see of this error. Logs the details once, here at the boundary
    /// (never token values: no variant carries one).
    pub fn to_api(&self) -> ApiError {
        tracing::warn!(error = %self, "request failed");
        match self {
            AuthError::ProviderUnavailable(_) => ApiError::ProviderUnavailable,
            AuthError::Store(_) => ApiError::SessionStoreUnavailable,
            AuthError::Internal(_) => ApiError::Internal,
            _ => ApiError::Unauthorized,
        }
    }

    /// A session-store failure (tower-sessions' errors, or the backends' own).
    pub fn store(e: impl std::fmt::Display) -> Self {
        AuthError::Store(StoreError::new(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_and_statuses() {
        let denied = AuthError::ProviderRedirectError {
            code: "access_denied".into(),
        };
        assert_eq!(denied.reason(), ErrorReason::AccessDenied);
        assert!(denied.reason().status() < 500);
        assert_eq!(AuthError::StateMismatch.reason().status(), 400);
        assert_eq!(
            AuthError::ProviderUnavailable("x".into()).to_api(),
            ApiError::ProviderUnavailable
        );
        assert_eq!(AuthError::store("x").reason().status(), 503);
    }
}
