//! DPoP (RFC 9449), as Okta offers it for web apps ("Require Demonstrating Proof of
//! Possession (DPoP) header in token requests"): with `OIDC_DPOP=true` the token and refresh
//! requests carry a proof signed with a key kept on the server (`OIDC_DPOP_KEY_FILE`, the same
//! file on every instance, separate from the client-authentication key), so the provider binds
//! the access token to that key; userinfo is then called with `Authorization: DPoP` and a
//! proof naming the token (`ath`).
//!
//! Proofs are built and signed by the `jsonwebtoken` crate ([`SigningKey`]). What is written
//! here is the transport: an HTTP client for the openidconnect crate's requests that adds a
//! fresh proof to each request and remembers the provider's `DPoP-Nonce` per endpoint (RFC
//! 9449 §8, §9) — the openidconnect crate has no hook for either. When a resource server
//! (userinfo) answers `401` with `WWW-Authenticate: DPoP error="use_dpop_nonce"`, the request
//! is sent once more here with the nonce; the token endpoint's `400 use_dpop_nonce` is retried
//! by the caller, which builds the request anew (its client assertion is good once).

use std::{collections::HashMap, future::Future, pin::Pin, sync::Arc};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::Header;
use openidconnect::{AsyncHttpClient, HttpClientError, HttpRequest, HttpResponse, http};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::client_auth::random_jti;
use crate::{
    signing_key::SigningKey,
    util::{lock, now},
};

/// Nonces remembered, at most (one per provider endpoint in practice).
const MAX_NONCES: usize = 16;

/// The DPoP key and the provider's latest nonces.
#[derive(Debug)]
pub struct Dpop {
    key: Arc<SigningKey>,
    nonces: std::sync::Mutex<HashMap<String, String>>,
}

#[derive(Serialize)]
struct ProofClaims<'a> {
    jti: String,
    htm: &'a str,
    htu: &'a str,
    iat: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ath: Option<String>,
}

/// `htu`: the request URI without query and fragment (RFC 9449 §4.2).
fn target_uri(uri: &str) -> String {
    let end = uri.find(['?', '#']).unwrap_or(uri.len());
    uri[..end].to_string()
}

/// `ath`: base64url(SHA-256(access token)).
pub fn access_token_hash(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()))
}

impl Dpop {
    pub fn new(key: Arc<SigningKey>) -> Self {
        Self {
            key,
            nonces: Default::default(),
        }
    }

    /// The key's RFC 7638 thumbprint (what the provider binds tokens to: `cnf.jkt`).
    pub fn thumbprint(&self) -> &str {
        self.key.thumbprint()
    }

    /// A proof for `method` `uri`; `access_token`: the token it accompanies (adds `ath`).
    pub fn proof(
        &self,
        method: &str,
        uri: &str,
        access_token: Option<&str>,
    ) -> Result<String, String> {
        let htu = target_uri(uri);
        let nonce = lock(&self.nonces).get(&htu).cloned();
        let claims = ProofClaims {
            jti: random_jti(),
            htm: method,
            htu: &htu,
            iat: now(),
            nonce,
            ath: access_token.map(access_token_hash),
        };
        let mut header = Header::new(self.key.alg());
        header.typ = Some("dpop+jwt".into());
        header.jwk = Some(self.key.bare_public_jwk());
        self.key.sign(header, &claims).map_err(|e| e.to_string())
    }

    fn remember_nonce(&self, uri: &str, nonce: &str) {
        let mut nonces = lock(&self.nonces);
        if nonces.len() >= MAX_NONCES {
            nonces.clear();
        }
        nonces.insert(target_uri(uri), nonce.to_string());
    }
}

/// Whether the provider asks for a nonce: an authorization server's `400 {"error":
/// "use_dpop_nonce"}` or a resource server's `401` with `WWW-Authenticate: DPoP
/// error="use_dpop_nonce"`.
fn asks_for_nonce(response: &HttpResponse) -> bool {
    match response.status().as_u16() {
        400 => serde_json::from_slice::<serde_json::Value>(response.body())
            .ok()
            .and_then(|v| v.get("error")?.as_str().map(|e| e == "use_dpop_nonce"))
            .unwrap_or(false),
        401 => response
            .headers()
            .get_all(reqwest::header::WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.contains("use_dpop_nonce")),
        _ => false,
    }
}

/// The HTTP client the openidconnect crate's requests to the provider go through: with DPoP
/// (when it is on) as described above, else as the plain `reqwest` client.
pub struct ProviderHttp<'a> {
    dpop: Option<&'a Dpop>,
    http: &'a reqwest::Client,
    bound_token: bool,
}

impl<'a> ProviderHttp<'a> {
    /// For the token and refresh requests.
    pub fn token(http: &'a reqwest::Client, dpop: Option<&'a Dpop>) -> Self {
        Self {
            dpop,
            http,
            bound_token: false,
        }
    }

    /// For a request made with an access token (userinfo). A DPoP-bound one (`bound`) goes
    /// as `Authorization: DPoP` with a proof naming it; a bearer token as it is.
    pub fn resource(http: &'a reqwest::Client, dpop: Option<&'a Dpop>, bound: bool) -> Self {
        Self {
            dpop: dpop.filter(|_| bound),
            http,
            bound_token: true,
        }
    }
}

type Failure = HttpClientError<reqwest::Error>;

impl ProviderHttp<'_> {
    async fn send(&self, dpop: &Dpop, request: &HttpRequest) -> Result<HttpResponse, Failure> {
        let method = request.method().as_str();
        let uri = request.uri().to_string();
        let mut headers = request.headers().clone();
        let mut token = None;
        if self.bound_token
            && let Some(value) = headers.get(reqwest::header::AUTHORIZATION)
        {
            let text = value.to_str().unwrap_or_default();
            if let Some(t) = text.strip_prefix("Bearer ") {
                token = Some(t.to_string());
            }
        }
        if let Some(t) = &token {
            let value = reqwest::header::HeaderValue::from_str(&format!("DPoP {t}"))
                .map_err(|e| Failure::Other(format!("authorization header: {e}")))?;
            headers.insert(reqwest::header::AUTHORIZATION, value);
        }
        let proof = dpop
            .proof(method, &uri, token.as_deref())
            .map_err(|e| Failure::Other(format!("DPoP proof: {e}")))?;
        headers.insert(
            "DPoP",
            reqwest::header::HeaderValue::from_str(&proof)
                .map_err(|e| Failure::Other(format!("DPoP header: {e}")))?,
        );
        let response = self
            .http
            .request(request.method().clone(), uri.as_str())
            .headers(headers)
            .body(request.body().clone())
            .send()
            .await
            .map_err(|e| Failure::Reqwest(Box::new(e)))?;
        if let Some(nonce) = response
            .headers()
            .get("DPoP-Nonce")
            .and_then(|v| v.to_str().ok())
        {
            dpop.remember_nonce(&uri, nonce);
        }
        let mut builder = http::Response::builder().status(response.status());
        for (name, value) in response.headers() {
            builder = builder.header(name, value);
        }
        let body = response
            .bytes()
            .await
            .map_err(|e| Failure::Reqwest(Box::new(e)))?;
        builder.body(body.to_vec()).map_err(Failure::Http)
    }
}

impl<'c> AsyncHttpClient<'c> for ProviderHttp<'_> {
    type Error = Failure;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, Failure>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let Some(dpop) = self.dpop else {
                return self.http.call(request).await;
            };
            let response = self.send(dpop, &request).await?;
            // once: a provider that keeps asking is answered with its own error (a token
            // request is retried by the caller instead, see the module doc)
            if self.bound_token
                && asks_for_nonce(&response)
                && response.headers().contains_key("DPoP-Nonce")
            {
                return self.send(dpop, &request).await;
            }
            Ok(response)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{DecodingKey, Validation, decode, decode_header};

    #[test]
    fn a_proof_carries_the_public_key_method_target_nonce_and_token_hash() {
        let (key, _) = SigningKey::generate(None).unwrap();
        let dpop = Dpop::new(Arc::new(key));
        let first = dpop
            .proof("POST", "https://op.example/token?x=1#f", None)
            .unwrap();
        dpop.remember_nonce("https://op.example/token", "n-1");
        let second = dpop
            .proof("GET", "https://op.example/token", Some("at"))
            .unwrap();
        let header = decode_header(&first).unwrap();
        assert_eq!(header.typ.as_deref(), Some("dpop+jwt"));
        let jwk = header.jwk.unwrap();
        assert!(jwk.common.key_id.is_none());
        assert_eq!(
            jwk.thumbprint(jsonwebtoken::jwk::ThumbprintHash::SHA256)
                .unwrap(),
            dpop.thumbprint()
        );
        let mut v = Validation::new(header.alg);
        v.required_spec_claims.clear();
        v.validate_exp = false;
        let key = DecodingKey::from_jwk(&jwk).unwrap();
        let a = decode::<serde_json::Value>(&first, &key, &v)
            .unwrap()
            .claims;
        let b = decode::<serde_json::Value>(&second, &key, &v)
            .unwrap()
            .claims;
        assert_eq!(a["htm"], "POST");
        assert_eq!(a["htu"], "https://op.example/token");
        assert!(a.get("nonce").is_none() && a.get("ath").is_none());
        assert_eq!(b["nonce"], "n-1");
        assert_eq!(b["ath"], access_token_hash("at"));
        assert_ne!(a["jti"], b["jti"]);
    }

    #[test]
    fn nonce_requests_are_recognised() {
        let response = |status: u16, header: Option<&str>, body: &str| {
            let mut b = http::Response::builder().status(status);
            if let Some(h) = header {
                b = b.header("WWW-Authenticate", h);
            }
            b.body(body.as_bytes().to_vec()).unwrap()
        };
        assert!(asks_for_nonce(&response(
            400,
            None,
            r#"{"error":"use_dpop_nonce"}"#
        )));
        assert!(asks_for_nonce(&response(
            401,
            Some(r#"DPoP error="use_dpop_nonce", error_description="x""#),
            ""
        )));
        assert!(!asks_for_nonce(&response(
            400,
            None,
            r#"{"error":"invalid_grant"}"#
        )));
        assert!(!asks_for_nonce(&response(
            401,
            Some(r#"DPoP error="invalid_token""#),
            ""
        )));
    }
}
