//! How the app authenticates itself on every back-channel call that needs it (token, refresh,
//! revocation, PAR; and `signin doctor`'s probe), as `OIDC_TOKEN_AUTH_METHOD` says:
//!
//! - `client_secret_basic`: HTTP Basic, both parts form-urlencoded first (RFC 6749 §2.3.1);
//! - `client_secret_post`: `client_id` and `client_secret` in the form;
//! - `private_key_jwt`: `client_id`, `client_assertion_type` and a `client_assertion` JWT
//!   (RFC 7523 §2.2, OpenID Connect Core §9) signed with the client's key — `iss` = `sub` = the
//!   client id, `aud` = the token endpoint (for every call: RFC 7523 and RFC 9126 §2 name it,
//!   and Okta and node-oidc-provider accept it), a 60-second `exp` and a random `jti`, so an
//!   assertion seen once cannot be replayed later.

use std::sync::Arc;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::Header;
use rand::RngCore;
use serde::Serialize;

use crate::{
    auth::error::AuthError,
    secret::Secret,
    settings::{OidcSettings, TokenAuthMethod},
    signing_key::SigningKey,
    util::{form_encode, now},
};

/// RFC 7523 §2.2.
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// How long an assertion is good for.
pub const ASSERTION_LIFETIME_SECS: i64 = 60;

/// The client's credentials and how to present them.
#[derive(Clone, Debug)]
pub struct ClientAuth {
    method: TokenAuthMethod,
    client_id: String,
    secret: Option<Secret>,
    key: Option<Arc<SigningKey>>,
}

#[derive(Serialize)]
struct AssertionClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
    jti: String,
}

/// 128 random bits, base64url: a `jti`.
pub fn random_jti() -> String {
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

impl ClientAuth {
    pub fn new(settings: &OidcSettings) -> Self {
        Self {
            method: settings.token_auth_method,
            client_id: settings.client_id.clone(),
            secret: settings.client_secret.clone(),
            key: settings.client_key.clone(),
        }
    }

    pub fn method(&self) -> TokenAuthMethod {
        self.method
    }

    /// The secret to configure the openidconnect client with (`None` for private_key_jwt:
    /// its requests then carry the client id in the form, and the assertion is added).
    pub fn secret_for_client(&self) -> Option<&Secret> {
        match self.method {
            TokenAuthMethod::PrivateKeyJwt => None,
            _ => self.secret.as_ref(),
        }
    }

    /// `private_key_jwt`: the form parameters carrying a fresh assertion for `token_endpoint`;
    /// none for the other methods.
    pub fn assertion_params(
        &self,
        token_endpoint: &str,
    ) -> Result<Vec<(&'static str, String)>, AuthError> {
        let (TokenAuthMethod::PrivateKeyJwt, Some(key)) = (self.method, &self.key) else {
            return Ok(Vec::new());
        };
        if token_endpoint.is_empty() {
            return Err(AuthError::Internal(
                "client assertion: the provider announces no token_endpoint".into(),
            ));
        }
        let iat = now();
        let claims = AssertionClaims {
            iss: &self.client_id,
            sub: &self.client_id,
            aud: token_endpoint,
            iat,
            exp: iat + ASSERTION_LIFETIME_SECS,
            jti: random_jti(),
        };
        let mut header = Header::new(key.alg());
        header.kid = key.key_id().map(str::to_string);
        header.typ = Some("JWT".into());
        let jwt = key
            .sign(header, &claims)
            .map_err(|e| AuthError::Internal(format!("client assertion: {e}")))?;
        Ok(vec![
            ("client_assertion_type", ASSERTION_TYPE.to_string()),
            ("client_assertion", jwt),
        ])
    }

    /// Adds the client's authentication to a back-channel form POST. `form`'s `client_id`, if
    /// any, is kept where the method puts it (a PAR request has one, as the authorization
    /// request does).
    pub fn apply(
        &self,
        request: reqwest::RequestBuilder,
        form: &mut Vec<(String, String)>,
        token_endpoint: &str,
    ) -> Result<reqwest::RequestBuilder, AuthError> {
        let id = self.client_id.as_str();
        match (self.method, self.secret.as_ref()) {
            (TokenAuthMethod::ClientSecretBasic, Some(secret)) => {
                Ok(request.basic_auth(form_encode(id), Some(form_encode(secret.expose()))))
            }
            (method, secret) => {
                form.retain(|(k, _)| k != "client_id");
                form.push(("client_id".into(), id.into()));
                if method == TokenAuthMethod::PrivateKeyJwt {
                    for (k, v) in self.assertion_params(token_endpoint)? {
                        form.push((k.into(), v));
                    }
                } else if let Some(secret) = secret {
                    form.push(("client_secret".into(), secret.expose().into()));
                }
                Ok(request)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{DecodingKey, Validation, decode};

    fn settings(method: TokenAuthMethod, key: Option<SigningKey>) -> OidcSettings {
        OidcSettings {
            issuer: Some("https://op.example".into()),
            client_id: "app".into(),
            client_secret: Some(Secret::new("s3cret".to_string())),
            client_key: key.map(Arc::new),
            client_key_file: None,
            dpop_key: None,
            dpop: false,
            dpop_key_file: None,
            display_name: None,
            scopes: vec!["openid".into()],
            token_auth_method: method,
            http_timeout: std::time::Duration::from_secs(1),
            par: crate::settings::ParMode::Auto,
            org_issuer: None,
        }
    }

    #[test]
    fn an_assertion_names_the_client_the_token_endpoint_and_is_short_and_unique() {
        let (key, _) = SigningKey::generate(Some("k1")).unwrap();
        let auth = ClientAuth::new(&settings(TokenAuthMethod::PrivateKeyJwt, Some(key.clone())));
        let first = auth.assertion_params("https://op.example/token").unwrap();
        let second = auth.assertion_params("https://op.example/token").unwrap();
        assert_eq!(first[0], ("client_assertion_type", ASSERTION_TYPE.into()));
        let mut validation = Validation::new(key.alg());
        validation.set_audience(&["https://op.example/token"]);
        validation.set_issuer(&["app"]);
        validation.sub = Some("app".into());
        let decoded = decode::<serde_json::Value>(
            &first[1].1,
            &DecodingKey::from_jwk(key.public_jwk()).unwrap(),
            &validation,
        )
        .unwrap();
        let c = decoded.claims;
        assert_eq!(decoded.header.kid.as_deref(), Some("k1"));
        assert_eq!(
            c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(),
            ASSERTION_LIFETIME_SECS
        );
        let other = decode::<serde_json::Value>(
            &second[1].1,
            &DecodingKey::from_jwk(key.public_jwk()).unwrap(),
            &validation,
        )
        .unwrap()
        .claims;
        assert_ne!(c["jti"], other["jti"]);
        // the secret is never sent with private_key_jwt
        assert!(auth.secret_for_client().is_none());
        let mut form = vec![("client_id".to_string(), "app".to_string())];
        let _ = auth
            .apply(
                reqwest::Client::new().post("https://op.example/revoke"),
                &mut form,
                "https://op.example/token",
            )
            .unwrap();
        let names: Vec<&str> = form.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            names,
            ["client_id", "client_assertion_type", "client_assertion"]
        );
        assert!(!form.iter().any(|(_, v)| v == "s3cret"));
    }

    #[test]
    fn secret_methods_add_no_assertion() {
        for method in [
            TokenAuthMethod::ClientSecretBasic,
            TokenAuthMethod::ClientSecretPost,
        ] {
            let auth = ClientAuth::new(&settings(method, None));
            assert!(auth.assertion_params("t").unwrap().is_empty());
            assert_eq!(auth.secret_for_client().unwrap().expose(), "s3cret");
        }
    }
}
