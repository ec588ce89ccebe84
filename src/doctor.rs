//! `signin doctor`: checks the provider set-up the way sign-in will use it, and says what to
//! change in one line per finding — the first thing to run when sign-in does not work.
//!
//! It reads the same settings as the server (`Leptos.toml`, the environment, `.env`), fetches
//! the provider's discovery document and keys, and checks:
//!
//! - the issuer's form (an Okta org or a custom authorization server; a trailing `/`);
//! - discovery reachable, and its `issuer` exactly the configured one;
//! - the endpoints the app uses (token, keys, userinfo, end-session, revocation, PAR);
//! - grant types and scopes (`authorization_code`, `refresh_token`, `offline_access`);
//! - PKCE (`S256`), the token-endpoint authentication method, RS256 signing keys;
//! - the redirect URI and the cookie's `Secure` flag against `APP_URL`, and whether the
//!   provider accepts that redirect URI for this client (an authorization request it is not
//!   followed through) and the client's credentials (a token request with a made-up code:
//!   `invalid_grant` means the credentials passed, `invalid_client` that they did not);
//! - the clock against the provider's `Date` header;
//! - what the provider offers beyond that (DPoP, PAR, RFC 9207 `iss`).
//!
//! Exit status: 0 when nothing is an error (warnings allowed), 1 otherwise.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::{
    auth::oidc::ClientAuth,
    settings::{ParMode, Settings},
};

/// How bad a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Ok,
    Info,
    Warn,
    Error,
}

/// One line of the report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub level: Level,
    /// What was checked (`discovery`, `pkce`, …).
    pub topic: &'static str,
    /// What was found and, when something is wrong, what to do.
    pub text: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let level = match self.level {
            Level::Ok => "ok   ",
            Level::Info => "info ",
            Level::Warn => "warn ",
            Level::Error => "ERROR",
        };
        write!(f, "{level} {:<12} {}", self.topic, self.text)
    }
}

/// The findings, in the order checked.
#[derive(Debug, Default)]
pub struct Report(pub Vec<Finding>);

impl Report {
    fn add(&mut self, level: Level, topic: &'static str, text: impl Into<String>) {
        // what the provider sent is printed too: no control characters (terminal escapes,
        // forged lines)
        let text: String = text
            .into()
            .chars()
            .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
            .collect();
        self.0.push(Finding { level, topic, text });
    }

    pub fn has_errors(&self) -> bool {
        self.0.iter().any(|f| f.level == Level::Error)
    }

    /// The findings about `topic`.
    pub fn about(&self, topic: &str) -> Vec<&Finding> {
        self.0.iter().filter(|f| f.topic == topic).collect()
    }
}

/// Runs every check against the provider `settings` name.
pub async fn check(settings: &Settings) -> Report {
    let mut r = Report::default();
    let Some(issuer) = settings.oidc.issuer.clone() else {
        r.add(
            Level::Error,
            "issuer",
            "OIDC_ISSUER is not set: set it to your provider's issuer (Okta: https://{yourOktaDomain}/oauth2/default)",
        );
        return r;
    };
    issuer_form(&mut r, &issuer);
    app_url(&mut r, settings);

    let http = match reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(settings.oidc.http_timeout)
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            r.add(Level::Error, "discovery", format!("no HTTP client: {e}"));
            return r;
        }
    };
    let url = format!("{issuer}/.well-known/openid-configuration");
    let started = Instant::now();
    let response = match http.get(&url).send().await {
        Ok(res) => res,
        Err(e) => {
            r.add(
                Level::Error,
                "discovery",
                format!(
                    "{url} cannot be reached ({}): check OIDC_ISSUER and that this machine reaches the provider",
                    crate::util::error_chain(&e)
                ),
            );
            return r;
        }
    };
    let elapsed = started.elapsed();
    let status = response.status();
    let date = response
        .headers()
        .get(reqwest::header::DATE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    // a cached answer (a CDN in front of discovery) is `Age` seconds older than its `Date`
    let age = response
        .headers()
        .get(reqwest::header::AGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map_or(Duration::ZERO, Duration::from_secs);
    if !status.is_success() {
        let hint = if status.is_redirection() {
            "a redirect: OIDC_ISSUER is probably not the exact issuer"
        } else {
            "check OIDC_ISSUER (Okta: …/oauth2/default for the default custom authorization server)"
        };
        r.add(
            Level::Error,
            "discovery",
            format!("{url} answered {status}: {hint}"),
        );
        return r;
    }
    let doc: Value = match response.json().await {
        Ok(v) => v,
        Err(e) => {
            r.add(
                Level::Error,
                "discovery",
                format!("{url} is not a JSON discovery document: {e}"),
            );
            return r;
        }
    };
    r.add(
        Level::Ok,
        "discovery",
        format!("{url} answered in {} ms", elapsed.as_millis()),
    );
    clock(
        &mut r,
        date.as_deref(),
        age,
        settings.auth.clock_skew,
        elapsed,
    );
    let issuer_ok = announced_issuer(&mut r, &issuer, &doc);
    endpoints(&mut r, &doc);
    grants_and_scopes(&mut r, settings, &doc);
    pkce_and_auth(&mut r, settings, &doc);
    extras(&mut r, settings, &doc);
    keys(&mut r, &http, &doc).await;
    // the probes send the client's id (and, to the token endpoint, its secret): only to the
    // provider the app would talk to — the exact issuer, endpoints over https
    if !issuer_ok {
        r.add(
            Level::Info,
            "credentials",
            "not tried: the discovery document is not this issuer's (the client secret is not sent to it)",
        );
        return r;
    }
    redirect_registered(&mut r, settings, &http, &doc).await;
    credentials(&mut r, settings, &http, &doc).await;
    r
}

/// Whether the app would send credentials to `url` (as it decides for the PAR endpoint).
fn safe_endpoint(url: &str) -> bool {
    url::Url::parse(url).is_ok_and(|u| crate::settings::secure_endpoint(&u))
}

/// Starts an authorization request as sign-in would (never finished): a provider refuses an
/// unregistered redirect URI or an unknown client on its own page (4xx), and answers a good
/// one with its sign-in page or a redirect.
async fn redirect_registered(
    r: &mut Report,
    settings: &Settings,
    http: &reqwest::Client,
    doc: &Value,
) {
    let Some(authorize) = endpoint(doc, "authorization_endpoint") else {
        return;
    };
    let redirect = settings.redirect_uri();
    let Ok(mut url) = url::Url::parse(&authorize) else {
        r.add(
            Level::Error,
            "redirect",
            format!("authorization_endpoint {authorize} is not a URL"),
        );
        return;
    };
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &settings.oidc.client_id)
        .append_pair("redirect_uri", &redirect)
        .append_pair("scope", "openid")
        .append_pair("state", "signin-doctor")
        .append_pair("nonce", "signin-doctor")
        .append_pair(
            "code_challenge",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        )
        .append_pair("code_challenge_method", "S256");
    match http.get(url).send().await {
        Ok(res) if res.status().is_client_error() => r.add(
            Level::Error,
            "redirect",
            format!(
                "the provider refused an authorization request ({}) for client {} with redirect URI {redirect}: register that sign-in redirect URI for this client (and check OIDC_CLIENT_ID, APP_URL)",
                res.status(),
                settings.oidc.client_id
            ),
        ),
        Ok(res) if res.status().is_server_error() => r.add(
            Level::Warn,
            "redirect",
            format!(
                "the authorization endpoint answered {}: try again later",
                res.status()
            ),
        ),
        Ok(res) => {
            let location = res
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string();
            match location.strip_prefix(&redirect).and_then(|q| {
                url::form_urlencoded::parse(q.trim_start_matches('?').as_bytes())
                    .find(|(k, _)| k == "error")
                    .map(|(_, v)| v.into_owned())
            }) {
                Some(error) => r.add(
                    Level::Warn,
                    "redirect",
                    format!("the provider accepts {redirect} but answered the request with {error}"),
                ),
                None => r.add(
                    Level::Ok,
                    "redirect",
                    format!("the provider accepts {redirect} for client {}", settings.oidc.client_id),
                ),
            }
        }
        Err(e) => r.add(
            Level::Warn,
            "redirect",
            format!("the authorization endpoint cannot be reached: {}", crate::util::error_chain(&e)),
        ),
    }
}

/// A token request with a made-up code and the app's client authentication: the provider
/// checks the client first, so `invalid_grant` means the credentials passed.
async fn credentials(r: &mut Report, settings: &Settings, http: &reqwest::Client, doc: &Value) {
    let Some(token) = endpoint(doc, "token_endpoint") else {
        return;
    };
    if !safe_endpoint(&token) {
        r.add(
            Level::Error,
            "credentials",
            format!(
                "token_endpoint {token} is not https: the client secret would travel unencrypted"
            ),
        );
        return;
    }
    let redirect = settings.redirect_uri();
    let mut form: Vec<(String, String)> = [
        ("grant_type", "authorization_code"),
        ("code", "signin-doctor-made-up-code"),
        ("redirect_uri", redirect.as_str()),
        (
            "code_verifier",
            "signin-doctor-made-up-verifier-signin-doctor-made-up",
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    // as the app authenticates (without a secret: the client id in the form)
    let request = match ClientAuth::new(&settings.oidc).apply(http.post(&token), &mut form, &token)
    {
        Ok(request) => request,
        Err(e) => {
            r.add(Level::Error, "credentials", e.to_string());
            return;
        }
    };
    let answer = match request.form(&form).send().await {
        Ok(res) => res.json::<Value>().await.ok(),
        Err(e) => {
            r.add(
                Level::Warn,
                "credentials",
                format!(
                    "the token endpoint cannot be reached: {}",
                    crate::util::error_chain(&e)
                ),
            );
            return;
        }
    };
    match answer.as_ref().and_then(|v| v.get("error")).and_then(Value::as_str) {
        Some("invalid_client") => r.add(
            Level::Error,
            "credentials",
            if settings.oidc.token_auth_method == crate::settings::TokenAuthMethod::PrivateKeyJwt {
                "the provider refused this client's assertion: check OIDC_CLIENT_ID, that the provider has this key's public JWK (`signin jwk` prints it) and OIDC_CLIENT_KEY_ID"
            } else {
                "the provider refused this client's credentials: check OIDC_CLIENT_ID and OIDC_CLIENT_SECRET (and OIDC_TOKEN_AUTH_METHOD)"
            },
        ),
        Some("unauthorized_client") => r.add(
            Level::Error,
            "credentials",
            "the provider does not allow this client the authorization code grant: enable it for the app (Okta: Grant type → Authorization Code)",
        ),
        Some("invalid_grant") => r.add(
            Level::Ok,
            "credentials",
            "the provider accepts this client's credentials (a made-up code was refused, as it should be)",
        ),
        Some(other) => r.add(
            Level::Info,
            "credentials",
            format!("a made-up code got {other:?}: the credentials could not be told apart"),
        ),
        None => r.add(
            Level::Info,
            "credentials",
            "the token endpoint's answer to a made-up code was not an OAuth error",
        ),
    }
}

fn issuer_form(r: &mut Report, issuer: &str) {
    let Ok(url) = url::Url::parse(issuer) else {
        r.add(Level::Error, "issuer", format!("{issuer} is not a URL"));
        return;
    };
    let host = url.host_str().unwrap_or_default();
    let okta = [
        "okta.com",
        "oktapreview.com",
        "okta-emea.com",
        "okta-gov.com",
    ]
    .iter()
    .any(|d| host == *d || host.ends_with(&format!(".{d}")));
    let path = url.path().trim_end_matches('/');
    if okta {
        if path.is_empty() {
            r.add(
                Level::Info,
                "issuer",
                format!(
                    "{issuer} is the Okta org authorization server: sign-in works; access tokens for your own APIs (/api/me) need a custom one, e.g. {issuer}/oauth2/default"
                ),
            );
        } else if let Some(id) = path.strip_prefix("/oauth2/") {
            r.add(
                Level::Ok,
                "issuer",
                format!("{issuer} is an Okta custom authorization server ({id})"),
            );
        } else {
            r.add(
                Level::Warn,
                "issuer",
                format!(
                    "{issuer} is neither an Okta org (https://{host}) nor a custom authorization server (https://{host}/oauth2/…)"
                ),
            );
        }
    } else {
        r.add(Level::Ok, "issuer", issuer.to_string());
    }
}

fn app_url(r: &mut Report, settings: &Settings) {
    let redirect = settings.redirect_uri();
    r.add(
        Level::Info,
        "register",
        format!(
            "register {redirect} as a sign-in redirect URI and {}/ as a sign-out redirect URI at the provider",
            settings.app_base()
        ),
    );
    let loopback = settings
        .app
        .url
        .host_str()
        .is_some_and(crate::settings::is_loopback_host);
    if settings.https() {
        r.add(
            Level::Ok,
            "cookie",
            format!(
                "APP_URL is https: the session cookie is {}; Secure",
                settings.cookie_name()
            ),
        );
    } else if loopback {
        r.add(
            Level::Info,
            "cookie",
            "APP_URL is plain http on this machine: the session cookie is not Secure (fine for development only)",
        );
    } else {
        r.add(
            Level::Error,
            "cookie",
            format!(
                "APP_URL {} is plain http on another host: the session cookie would travel unencrypted; use https",
                settings.app_base()
            ),
        );
    }
}

fn clock(r: &mut Report, date: Option<&str>, age: Duration, skew: Duration, elapsed: Duration) {
    let Some(date) = date else {
        r.add(
            Level::Info,
            "clock",
            "the provider sent no Date header: the clock cannot be compared",
        );
        return;
    };
    let Ok(theirs) = chrono::DateTime::parse_from_rfc2822(date) else {
        r.add(
            Level::Info,
            "clock",
            format!("the provider's Date header {date:?} cannot be read"),
        );
        return;
    };
    // the Date header has whole seconds, and the answer took `elapsed`
    let offset = (chrono::Utc::now() - theirs.with_timezone(&chrono::Utc)).num_seconds()
        - age.as_secs() as i64;
    let tolerance = 1 + elapsed.as_secs() as i64;
    let skew = skew.as_secs() as i64;
    let text = format!("this machine's clock is {offset:+} s from the provider's");
    if offset.abs() <= tolerance.max(5) {
        r.add(Level::Ok, "clock", text);
    } else if offset.abs() <= skew {
        r.add(
            Level::Warn,
            "clock",
            format!("{text} (within AUTH_CLOCK_SKEW_SECS={skew}); synchronise it (NTP)"),
        );
    } else {
        r.add(
            Level::Error,
            "clock",
            format!(
                "{text}, beyond AUTH_CLOCK_SKEW_SECS={skew}: ID tokens will be refused; synchronise the clock (NTP)"
            ),
        );
    }
}

/// `true` when discovery announces exactly `issuer`.
fn announced_issuer(r: &mut Report, issuer: &str, doc: &Value) -> bool {
    match doc.get("issuer").and_then(Value::as_str) {
        Some(announced) if announced == issuer => {
            r.add(
                Level::Ok,
                "issuer",
                "discovery announces exactly this issuer",
            );
            return true;
        }
        Some(announced) if announced.strip_suffix('/') == Some(issuer) => {
            // (the app keeps OIDC_ISSUER without its `/` and uses the announced form:
            // `auth::oidc::discover`)
            r.add(
                Level::Ok,
                "issuer",
                format!("discovery announces {announced:?}, with a trailing slash: used exactly as announced"),
            );
            return true;
        }
        Some(announced) => r.add(
            Level::Error,
            "issuer",
            format!(
                "discovery announces {announced:?}, not {issuer:?}: set OIDC_ISSUER={announced}"
            ),
        ),
        None => r.add(
            Level::Error,
            "issuer",
            "the discovery document has no issuer",
        ),
    }
    false
}

fn endpoint(doc: &Value, name: &str) -> Option<String> {
    doc.get(name).and_then(Value::as_str).map(str::to_string)
}

fn endpoints(r: &mut Report, doc: &Value) {
    for (name, required, what) in [
        ("authorization_endpoint", true, "sign-in"),
        ("token_endpoint", true, "the code exchange and refresh"),
        ("jwks_uri", true, "ID-token signatures"),
        (
            "userinfo_endpoint",
            false,
            "profile claims beyond the ID token",
        ),
        (
            "end_session_endpoint",
            false,
            "signing out at the provider too (RP-initiated logout)",
        ),
        (
            "revocation_endpoint",
            false,
            "revoking the session's tokens at sign-out",
        ),
    ] {
        match (endpoint(doc, name), required) {
            (Some(url), _) => r.add(Level::Ok, "endpoints", format!("{name}: {url}")),
            (None, true) => r.add(
                Level::Error,
                "endpoints",
                format!("no {name}: {what} cannot work"),
            ),
            (None, false) => r.add(Level::Warn, "endpoints", format!("no {name}: no {what}")),
        }
    }
}

fn list<'a>(doc: &'a Value, name: &str) -> Option<Vec<&'a str>> {
    doc.get(name)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
}

fn grants_and_scopes(r: &mut Report, settings: &Settings, doc: &Value) {
    // absent grant_types_supported means ["authorization_code", "implicit"] (RFC 8414)
    let grants = list(doc, "grant_types_supported")
        .unwrap_or_else(|| vec!["authorization_code", "implicit"]);
    if !grants.contains(&"authorization_code") {
        r.add(
            Level::Error,
            "grants",
            "the provider does not offer the authorization code grant",
        );
    }
    let wants_refresh = settings.oidc.offline_access() && settings.auth.refresh;
    match (grants.contains(&"refresh_token"), wants_refresh) {
        (true, _) => r.add(Level::Ok, "grants", "authorization_code and refresh_token"),
        (false, true) => r.add(
            Level::Warn,
            "grants",
            "the provider does not list refresh_token: sessions will end when the first access token expires (Okta: Grant type → Refresh Token)",
        ),
        (false, false) => r.add(Level::Ok, "grants", "authorization_code"),
    }
    if let Some(scopes) = list(doc, "scopes_supported") {
        let missing: Vec<&str> = settings
            .oidc
            .scopes
            .iter()
            .map(String::as_str)
            .filter(|s| !scopes.contains(s))
            .collect();
        if missing.is_empty() {
            r.add(
                Level::Ok,
                "scopes",
                format!("{} all supported", settings.oidc.scopes.join(" ")),
            );
        } else {
            r.add(
                Level::Warn,
                "scopes",
                format!(
                    "the provider does not list {}: remove from OIDC_SCOPES or enable at the provider{}",
                    missing.join(", "),
                    if missing.contains(&"offline_access") {
                        " (without offline_access there is no refresh token)"
                    } else {
                        ""
                    }
                ),
            );
        }
    }
}

fn pkce_and_auth(r: &mut Report, settings: &Settings, doc: &Value) {
    match list(doc, "code_challenge_methods_supported") {
        Some(m) if m.contains(&"S256") => r.add(Level::Ok, "pkce", "S256"),
        Some(m) => r.add(
            Level::Error,
            "pkce",
            format!(
                "the provider offers PKCE {m:?} but not S256, which this app always sends"
            ),
        ),
        None => r.add(
            Level::Warn,
            "pkce",
            "the provider does not say it supports PKCE (code_challenge_methods_supported); this app always sends S256",
        ),
    }
    let method = settings.oidc.token_auth_method.name();
    // absent means client_secret_basic (OpenID Connect Discovery)
    let methods = list(doc, "token_endpoint_auth_methods_supported")
        .unwrap_or_else(|| vec!["client_secret_basic"]);
    if methods.contains(&method) {
        r.add(Level::Ok, "client auth", method);
    } else {
        r.add(
            Level::Error,
            "client auth",
            format!(
                "OIDC_TOKEN_AUTH_METHOD={method} is not offered (the provider offers {}): set one of those",
                methods.join(", ")
            ),
        );
    }
}

fn extras(r: &mut Report, settings: &Settings, doc: &Value) {
    let flag = |name: &str| doc.get(name).and_then(Value::as_bool).unwrap_or(false);
    let (level, text) = match (
        flag("authorization_response_iss_parameter_supported"),
        settings.providers.is_empty(),
    ) {
        (true, _) => (
            Level::Info,
            "the provider names itself in the redirect back (iss): checked, against mix-up attacks",
        ),
        (false, true) => (
            Level::Info,
            "the provider does not send iss in the redirect back (optional with one provider)",
        ),
        // several providers share the callback: without `iss` a response cannot prove which
        // one sent it (the pending sign-in still decides where the code goes)
        (false, false) => (
            Level::Warn,
            "the provider does not send iss in the redirect back (RFC 9207): with several providers sharing the callback, a malicious one could pass off another's response (mix-up); prefer providers that send it",
        ),
    };
    r.add(level, "rfc 9207", text);
    let par = endpoint(doc, "pushed_authorization_request_endpoint");
    let required = flag("require_pushed_authorization_requests");
    let (level, text) = match (par.is_some(), required, settings.oidc.par) {
        (true, _, ParMode::Auto | ParMode::Always) => (
            Level::Ok,
            "the provider offers pushed authorization requests: used (OIDC_PAR)",
        ),
        (true, true, ParMode::Never) => (
            Level::Ok,
            "the provider requires pushed authorization requests: used despite OIDC_PAR=never",
        ),
        (true, false, ParMode::Never) => (
            Level::Info,
            "the provider offers pushed authorization requests; OIDC_PAR=never does not use them",
        ),
        (false, _, ParMode::Always) => (
            Level::Error,
            "OIDC_PAR=always, but the provider has no pushed_authorization_request_endpoint: sign-in will fail (set OIDC_PAR=auto)",
        ),
        (false, _, _) => (Level::Info, "no pushed authorization requests"),
    };
    r.add(level, "par", text);
    let offered = list(doc, "dpop_signing_alg_values_supported").unwrap_or_default();
    let (level, text) = match (&settings.oidc.dpop_key, offered.is_empty()) {
        (Some(key), false) => {
            let alg = format!("{:?}", key.alg());
            if offered.contains(&alg.as_str()) {
                (Level::Ok, format!("DPoP proofs signed {alg}, which the provider accepts"))
            } else {
                (
                    Level::Error,
                    format!(
                        "the DPoP key signs {alg}, but the provider accepts {}: use another key (OIDC_DPOP_KEY_FILE)",
                        offered.join(", ")
                    ),
                )
            }
        }
        (Some(_), true) => (
            Level::Warn,
            "OIDC_DPOP=true, but the provider does not advertise DPoP (dpop_signing_alg_values_supported): its tokens will be plain bearer tokens".to_string(),
        ),
        (None, false) => (
            Level::Info,
            "the provider offers DPoP; OIDC_DPOP=true binds tokens to a key of this app (needed when Okta's \"Require DPoP header\" is on)".to_string(),
        ),
        (None, true) => (Level::Info, "no DPoP".to_string()),
    };
    r.add(level, "dpop", text);
}

async fn keys(r: &mut Report, http: &reqwest::Client, doc: &Value) {
    let Some(uri) = endpoint(doc, "jwks_uri") else {
        return;
    };
    let set: Value = match http.get(&uri).send().await {
        Ok(res) if res.status().is_success() => match res.json().await {
            Ok(v) => v,
            Err(e) => {
                r.add(Level::Error, "keys", format!("{uri} is not a key set: {e}"));
                return;
            }
        },
        Ok(res) => {
            r.add(
                Level::Error,
                "keys",
                format!("{uri} answered {}", res.status()),
            );
            return;
        }
        Err(e) => {
            r.add(
                Level::Error,
                "keys",
                format!("{uri} cannot be reached: {}", crate::util::error_chain(&e)),
            );
            return;
        }
    };
    let rsa = set
        .get("keys")
        .and_then(Value::as_array)
        .map(|keys| {
            keys.iter()
                .filter(|k| k.get("kty").and_then(Value::as_str) == Some("RSA"))
                .filter(|k| {
                    k.get("use")
                        .and_then(Value::as_str)
                        .is_none_or(|u| u == "sig")
                })
                .count()
        })
        .unwrap_or(0);
    if rsa == 0 {
        r.add(
            Level::Error,
            "keys",
            "no RSA signing key: this app accepts RS256 ID tokens only",
        );
    } else {
        r.add(
            Level::Ok,
            "keys",
            format!("{rsa} RSA signing key(s) for RS256"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clocks() {
        let at = |offset: i64| {
            let mut r = Report::default();
            let theirs = chrono::Utc::now() - chrono::Duration::seconds(offset);
            clock(
                &mut r,
                Some(&theirs.to_rfc2822().replace("+0000", "GMT")),
                Duration::ZERO,
                Duration::from_secs(60),
                Duration::ZERO,
            );
            r.0[0].level
        };
        assert_eq!(at(0), Level::Ok);
        assert_eq!(at(30), Level::Warn);
        assert_eq!(at(-30), Level::Warn);
        assert_eq!(at(120), Level::Error);
        let mut r = Report::default();
        clock(
            &mut r,
            Some("yesterday"),
            Duration::ZERO,
            Duration::from_secs(60),
            Duration::ZERO,
        );
        assert_eq!(r.0[0].level, Level::Info);
        // a cached discovery answer: its Date is Age seconds old, not the clock
        let mut r = Report::default();
        let cached = chrono::Utc::now() - chrono::Duration::seconds(300);
        clock(
            &mut r,
            Some(&cached.to_rfc2822().replace("+0000", "GMT")),
            Duration::from_secs(300),
            Duration::from_secs(60),
            Duration::ZERO,
        );
        assert_eq!(r.0[0].level, Level::Ok, "{:?}", r.0);
    }

    #[test]
    fn okta_issuers() {
        let level = |issuer: &str| {
            let mut r = Report::default();
            issuer_form(&mut r, issuer);
            (r.0[0].level, r.0[0].text.clone())
        };
        assert_eq!(level("https://dev-1.okta.com").0, Level::Info);
        assert!(
            level("https://dev-1.okta.com")
                .1
                .contains("org authorization server")
        );
        assert_eq!(level("https://dev-1.okta.com/oauth2/default").0, Level::Ok);
        assert_eq!(level("https://dev-1.okta.com/other").0, Level::Warn);
        assert_eq!(level("https://login.example.com").0, Level::Ok);
        assert_eq!(
            level("https://notokta.com").0,
            Level::Ok,
            "not an Okta host"
        );
    }

    #[test]
    fn issuers_compared_exactly() {
        let at = |announced: &str| {
            let mut r = Report::default();
            announced_issuer(
                &mut r,
                "https://op.example",
                &serde_json::json!({ "issuer": announced }),
            );
            r.0[0].level
        };
        assert_eq!(at("https://op.example"), Level::Ok);
        // the app uses an issuer with a trailing `/` as announced (Auth0)
        assert_eq!(at("https://op.example/"), Level::Ok);
        assert_eq!(at("https://op.example//"), Level::Error);
        assert_eq!(at("https://other.example"), Level::Error);
    }
}
