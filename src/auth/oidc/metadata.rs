//! The `openidconnect` crate's generic types, fixed once for this app: the extra claims kept
//! for display, the provider metadata (with RP-initiated logout, RFC 7009 revocation and RFC
//! 9207) and the client built from it.

use std::collections::BTreeMap;

use openidconnect::{
    AdditionalClaims, AdditionalProviderMetadata, EmptyExtraTokenFields, EndpointMaybeSet,
    EndpointNotSet, EndpointSet, LogoutProviderMetadata, RevocationUrl, StandardErrorResponse,
    StandardTokenResponse,
    core::{
        CoreAuthDisplay, CoreAuthPrompt, CoreClaimName, CoreClaimType, CoreClientAuthMethod,
        CoreErrorResponseType, CoreGenderClaim, CoreGrantType, CoreJweContentEncryptionAlgorithm,
        CoreJweKeyManagementAlgorithm, CoreJwsSigningAlgorithm, CoreResponseMode, CoreResponseType,
        CoreRevocableToken, CoreRevocationErrorResponse, CoreSubjectIdentifierType,
        CoreTokenIntrospectionResponse, CoreTokenType,
    },
};
use serde::{Deserialize, Serialize};

use super::jwk::Jwk;
use serde_json::Value;

/// Claims beyond the standard ones (Okta's `ver`, `idp`, `groups`, …), kept for display.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct OtherClaims {
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}
impl AdditionalClaims for OtherClaims {}

pub type IdTokenFields = openidconnect::IdTokenFields<
    OtherClaims,
    EmptyExtraTokenFields,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;
pub type OidcTokenResponse = StandardTokenResponse<IdTokenFields, CoreTokenType>;
pub type IdToken = openidconnect::IdToken<
    OtherClaims,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;
pub type IdTokenClaims = openidconnect::IdTokenClaims<OtherClaims, CoreGenderClaim>;
pub type UserInfoClaims = openidconnect::UserInfoClaims<OtherClaims, CoreGenderClaim>;
pub type Client = openidconnect::Client<
    OtherClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    Jwk,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    OidcTokenResponse,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// Discovery fields beyond OpenID Connect Discovery and RP-initiated logout: the RFC 7009
/// revocation endpoint (RFC 8414 metadata, advertised by Okta and most providers), RFC
/// 9207's promise to name itself in authorization responses, and RFC 9126's PAR endpoint.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct ExtraProviderMetadata {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation_endpoint: Option<RevocationUrl>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_response_iss_parameter_supported: Option<bool>,
    /// RFC 9126 pushed authorization requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pushed_authorization_request_endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_pushed_authorization_requests: Option<bool>,
}
impl AdditionalProviderMetadata for ExtraProviderMetadata {}

pub type ProviderMetadata = openidconnect::ProviderMetadata<
    LogoutProviderMetadata<ExtraProviderMetadata>,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    Jwk,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

/// What discovery fails with.
pub type DiscoveryError =
    openidconnect::DiscoveryError<openidconnect::HttpClientError<reqwest::Error>>;

/// Fetches and checks `issuer`'s discovery document (OpenID Connect Discovery 1.0: the
/// document must name exactly the issuer it was fetched for).
///
/// The issuer setting is kept without a trailing `/`, but some providers' issuer has one
/// (Auth0: `https://TENANT.auth0.com/`). When the document names another issuer, the same one
/// with a `/` is tried: that document must then name exactly that, and tokens are checked
/// against exactly what it names. Otherwise the first answer stands.
pub async fn discover(
    issuer: &str,
    http: &reqwest::Client,
) -> Result<ProviderMetadata, DiscoveryError> {
    let fetch = async |issuer: String| {
        let issuer = openidconnect::IssuerUrl::new(issuer)
            .map_err(openidconnect::DiscoveryError::UrlParse)?;
        ProviderMetadata::discover_async(issuer, http).await
    };
    let first = fetch(issuer.to_string()).await;
    if matches!(first, Err(openidconnect::DiscoveryError::Validation(_)))
        && !issuer.ends_with('/')
        && let Ok(with_slash) = fetch(format!("{issuer}/")).await
    {
        return Ok(with_slash);
    }
    first
}
