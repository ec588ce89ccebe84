//! `/.well-known/openid-configuration`: the discovery document.

use axum::Json;
use axum::extract::State;
use openidconnect::core::{
    CoreClaimName, CoreClientAuthMethod, CoreGrantType, CoreJwsSigningAlgorithm, CoreResponseType,
    CoreSubjectIdentifierType,
};
use openidconnect::{
    AuthUrl, EmptyAdditionalProviderMetadata, EndSessionUrl, IssuerUrl, JsonWebKeySetUrl,
    LogoutProviderMetadata, ProviderMetadataWithLogout, ResponseTypes, Scope, TokenUrl,
    UserInfoUrl,
};

use super::Op;

/// `private_key_jwt`: the app registered a key, and that is the client's one method (as a
/// client's single method is at Okta).
pub(super) fn discovery_document(
    issuer: &str,
    private_key_jwt: bool,
) -> Result<serde_json::Value, String> {
    let url = |path: &str| format!("{issuer}{path}");
    let auth_methods = if private_key_jwt {
        vec![CoreClientAuthMethod::PrivateKeyJwt]
    } else {
        vec![
            CoreClientAuthMethod::ClientSecretBasic,
            CoreClientAuthMethod::ClientSecretPost,
        ]
    };
    let e = |e: openidconnect::url::ParseError| e.to_string();
    let metadata = ProviderMetadataWithLogout::new(
        IssuerUrl::new(issuer.to_string()).map_err(e)?,
        AuthUrl::new(url("/authorize")).map_err(e)?,
        JsonWebKeySetUrl::new(url("/jwks")).map_err(e)?,
        vec![ResponseTypes::new(vec![CoreResponseType::Code])],
        vec![CoreSubjectIdentifierType::Public],
        vec![CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256],
        LogoutProviderMetadata {
            end_session_endpoint: Some(EndSessionUrl::new(url("/logout")).map_err(e)?),
            additional_metadata: EmptyAdditionalProviderMetadata {},
        },
    )
    .set_token_endpoint(Some(TokenUrl::new(url("/token")).map_err(e)?))
    .set_userinfo_endpoint(Some(UserInfoUrl::new(url("/userinfo")).map_err(e)?))
    .set_scopes_supported(Some(
        ["openid", "profile", "email", "offline_access"]
            .map(|s| Scope::new(s.into()))
            .to_vec(),
    ))
    .set_grant_types_supported(Some(vec![
        CoreGrantType::AuthorizationCode,
        CoreGrantType::RefreshToken,
    ]))
    .set_token_endpoint_auth_methods_supported(Some(auth_methods.clone()))
    .set_claims_supported(Some(
        [
            "sub",
            "iss",
            "aud",
            "exp",
            "iat",
            "auth_time",
            "acr",
            "nonce",
            "name",
            "email",
            "email_verified",
            "preferred_username",
            "sid",
        ]
        .map(|c| CoreClaimName::new(c.into()))
        .to_vec(),
    ));
    let mut json = serde_json::to_value(&metadata).map_err(|e| e.to_string())?;
    if let Some(obj) = json.as_object_mut() {
        obj.insert(
            "code_challenge_methods_supported".into(),
            serde_json::json!(["S256"]),
        );
        obj.insert("revocation_endpoint".into(), url("/revoke").into());
        obj.insert(
            "revocation_endpoint_auth_methods_supported".into(),
            serde_json::to_value(&auth_methods).map_err(|e| e.to_string())?,
        );
        obj.insert("backchannel_logout_supported".into(), true.into());
        obj.insert(
            "authorization_response_iss_parameter_supported".into(),
            true.into(),
        );
        obj.insert("backchannel_logout_session_supported".into(), true.into());
        obj.insert(
            "pushed_authorization_request_endpoint".into(),
            url("/par").into(),
        );
        obj.insert(
            "dpop_signing_alg_values_supported".into(),
            serde_json::json!(["ES256", "ES384", "RS256"]),
        );
        obj.insert(
            "token_endpoint_auth_signing_alg_values_supported".into(),
            serde_json::json!(["RS256", "ES256", "ES384"]),
        );
        obj.insert(
            "acr_values_supported".into(),
            serde_json::json!(super::authorize::ACR_CLASSES),
        );
    }
    Ok(json)
}

pub(super) async fn discovery(State(op): State<Op>) -> Json<serde_json::Value> {
    Json(op.0.discovery.clone())
}
