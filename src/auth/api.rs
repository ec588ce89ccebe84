//! The authentication server functions. They run on the server only; the browser calls them
//! over HTTP (or navigates to them, for login and the callback).
//!
//! - `GET /login[?return_to=/path]` — starts the authorization code flow (PKCE S256, state,
//!   nonce kept in the server-side session) and redirects to the provider. Also the Okta
//!   "Initiate login URI". With `max_age=N`, `prompt=login` or `acr_values=…` it asks the
//!   provider for a recent or stronger sign-in (a step-up; the guard builds these links),
//!   also for a person already signed in, and the callback checks the answer meets it.
//! - `GET /authorization-code/callback` — checks state, exchanges the code, validates the ID
//!   token and userinfo, rotates the session id, stores the tokens in the session only, and
//!   redirects (303) to the saved return path. Any problem: 303 to `/auth/error?reason=…`.
//! - `POST /logout` — same-origin only; destroys the session, then RP-initiated logout at the
//!   provider when it has an end-session endpoint.
//! - `auth_status` / `get_profile` — what the UI may know; both check the session themselves.

use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;

use super::types::{ApiError, AuthStatus, Profile};

// The callback is mounted at `routes::DEFAULT_CALLBACK_PATH` (a configured other path is
// routed to it in `server.rs`).
// `login` and `callback` read their query string themselves (see `ssr::query`): no argument
// decoding can fail before our code runs. Repeated parameters are turned away even earlier,
// by a middleware in `server.rs`.

/// `GET /login[?return_to=/path][&max_age=N][&prompt=login][&acr_values=…][&login_hint=…]`,
/// and the third-party-initiated form `GET /login?iss=…&target_link_uri=…[&login_hint=…]`
/// (`super::initiate`).
#[server(prefix = "", endpoint = "login", input = GetUrl)]
pub async fn login() -> Result<(), ApiError> {
    let q = ssr::query()?;
    ssr::login(ssr::LoginParams {
        return_to: q.get("return_to"),
        iss: q.get("iss"),
        target_link_uri: q.get("target_link_uri"),
        login_hint: q.get("login_hint"),
        max_age: q.get("max_age"),
        prompt: q.get("prompt"),
        acr_values: q.get("acr_values"),
        provider: q.get("provider"),
    })
    .await
}

/// `GET /authorization-code/callback?code=…&state=…` (or `?error=…`).
#[server(prefix = "", endpoint = "authorization-code/callback", input = GetUrl)]
pub async fn callback() -> Result<(), ApiError> {
    let q = ssr::query()?;
    ssr::callback(ssr::CallbackParams {
        code: q.get("code"),
        state: q.get("state"),
        iss: q.get("iss"),
        error: q.get("error"),
        error_description: q.get("error_description"),
        repeated: q.repeated,
    })
    .await
}

#[server(prefix = "", endpoint = "logout")]
pub async fn logout() -> Result<(), ApiError> {
    ssr::logout().await
}

/// Who is signed in, and the guard policy. Never fails for a signed-out visitor.
#[server(endpoint = "auth_status")]
pub async fn get_auth_status() -> Result<AuthStatus, ApiError> {
    ssr::auth_status()
}

/// The profile page's data; `Unauthorized` without a signed-in session.
#[server(endpoint = "profile", output = super::types::JsonTextOutput)]
pub async fn get_profile() -> Result<Profile, ApiError> {
    ssr::profile()
}

#[cfg(feature = "ssr")]
pub mod ssr {
    //! The bodies of the server functions.

    use axum::http::{StatusCode, request::Parts};
    use leptos::prelude::*;
    use leptos_axum::ResponseOptions;
    use serde_json::Value;
    use tower_sessions::Session;

    use crate::{
        auth::{
            error::AuthError,
            index, initiate,
            middleware::CurrentAuth,
            oidc::SignInAsk,
            reason::ErrorReason,
            redirect::{see_other, see_other_or_header},
            return_to::return_to_or,
            session::{self, SignedIn},
            types::{ApiError, AuthStatus, Claim, EndReason, Profile},
        },
        state::AppState,
        util::now,
    };

    /// The request's query parameters; a parameter given twice is recorded, not guessed.
    pub struct Query {
        values: std::collections::HashMap<String, String>,
        pub repeated: bool,
    }

    impl Query {
        /// Parses a raw (still percent-encoded) query string.
        pub fn parse(raw: &str) -> Self {
            let mut values = std::collections::HashMap::new();
            let mut repeated = false;
            for (k, v) in url::form_urlencoded::parse(raw.as_bytes()) {
                if values.insert(k.into_owned(), v.into_owned()).is_some() {
                    repeated = true;
                }
            }
            Query { values, repeated }
        }

        pub fn get(&self, key: &str) -> Option<String> {
            self.values.get(key).cloned()
        }
    }

    pub fn query() -> Result<Query, ApiError> {
        Ok(Query::parse(parts()?.uri.query().unwrap_or_default()))
    }

    fn state() -> Result<AppState, ApiError> {
        use_context::<AppState>().ok_or_else(|| {
            tracing::error!("AppState missing from the Leptos context");
            ApiError::Internal
        })
    }

    fn parts() -> Result<Parts, ApiError> {
        use_context::<Parts>().ok_or(ApiError::Internal)
    }

    fn session() -> Result<Session, ApiError> {
        parts()?
            .extensions
            .get::<Session>()
            .cloned()
            .ok_or_else(|| {
                tracing::error!("no session on the request: is the session layer installed?");
                ApiError::Internal
            })
    }

    /// The request's resolved authentication (set by the auth middleware).
    pub fn current_auth() -> CurrentAuth {
        use_context::<Parts>()
            .and_then(|p| p.extensions.get::<CurrentAuth>().cloned())
            .unwrap_or(CurrentAuth::SignedOut)
    }

    /// Sets the response status of `error` (see [`ApiError::status`]) and returns it.
    pub fn failed(error: ApiError) -> ApiError {
        if let (Some(res), Ok(status)) = (
            use_context::<ResponseOptions>(),
            StatusCode::from_u16(error.status()),
        ) {
            res.set_status(status);
        }
        error
    }

    fn error_page(reason: ErrorReason) {
        see_other(&format!("/auth/error?reason={}", reason.code()));
    }

    /// `/login`'s parameters.
    pub struct LoginParams {
        pub return_to: Option<String>,
        /// Third-party-initiated login: the provider that sent the browser (checked against
        /// the configured one by `initiate::refuse_unknown_issuer` before this runs).
        pub iss: Option<String>,
        pub target_link_uri: Option<String>,
        pub login_hint: Option<String>,
        pub max_age: Option<String>,
        pub prompt: Option<String>,
        pub acr_values: Option<String>,
        /// With several providers: which one (`[[providers]]` id, or `default`); without,
        /// the chooser.
        pub provider: Option<String>,
    }

    pub async fn login(params: LoginParams) -> Result<(), ApiError> {
        let LoginParams {
            return_to,
            iss,
            target_link_uri,
            login_hint,
            max_age,
            prompt,
            acr_values,
            provider,
        } = params;
        let state = state()?;
        let default = &state.settings.auth.default_return_to;
        let target = match (&iss, target_link_uri.as_deref()) {
            // third-party-initiated: a target on this app's origin, else the default page
            (Some(_), Some(uri)) => initiate::target_path(uri, &state.settings.app_origin())
                .unwrap_or_else(|| default.clone()),
            _ => return_to_or(return_to.as_deref(), default).to_string(),
        };
        let login_hint = login_hint.as_deref().and_then(initiate::login_hint);
        let ask = match SignInAsk::from_query(
            max_age.as_deref(),
            prompt.as_deref(),
            acr_values.as_deref(),
        ) {
            Ok(ask) => ask,
            Err(e) => {
                tracing::info!(error = %e, "sign-in link refused");
                error_page(AuthError::from(e).reason());
                return Ok(());
            }
        };
        let (signed_in, session_provider) = match current_auth() {
            CurrentAuth::SignedIn(_) if !ask.is_step_up() => {
                see_other(&target);
                return Ok(());
            }
            CurrentAuth::SignedIn(s) => (true, state.providers().of(&s.verified).cloned()),
            CurrentAuth::Unavailable(reason) => {
                error_page(reason);
                return Ok(());
            }
            _ => (false, None),
        };
        // Which provider: a step-up goes to the session's own, a third-party-initiated login
        // to the one that sent it, else the one chosen — or, with several and none chosen,
        // the chooser first.
        let providers = state.providers();
        let provider = provider.filter(|p| !p.is_empty());
        let oidc = match (session_provider, &iss, provider.as_deref()) {
            (Some(own), _, _) => own,
            (None, Some(iss), _) => match providers.by_issuer(iss) {
                Some(p) => p.client.clone(),
                None => providers.default_client().clone(),
            },
            (None, None, Some(id)) => match providers.get(id) {
                Some(p) => p.client.clone(),
                None => {
                    tracing::info!("sign-in with an unknown provider refused");
                    error_page(ErrorReason::BadRequest);
                    return Ok(());
                }
            },
            (None, None, None) if providers.several() => {
                see_other(&chooser_url(&target, &ask));
                return Ok(());
            }
            (None, None, None) => providers.default_client().clone(),
        };
        let result = async {
            let (url, pending) = oidc.authorize(target, ask, login_hint).await?;
            let session = session().map_err(|_| AuthError::Internal("no session".into()))?;
            if signed_in {
                // a step-up: the record is the signed-in session's, written under its lock
                if !state.keeper.push_step_up(&session, pending).await? {
                    return Err(AuthError::SessionEnded(
                        "signed out before the step-up began",
                    ));
                }
            } else {
                session::push_pending(&session, pending, state.settings.session.pending_timeout)
                    .await?;
            }
            Ok::<_, AuthError>(url)
        }
        .await;
        match result {
            Ok(url) => see_other(&url),
            Err(e) => {
                tracing::warn!(error = %e, "sign-in could not start");
                error_page(e.reason());
            }
        }
        Ok(())
    }

    /// The sign-in chooser for `target`, passing a step-up's asks on.
    fn chooser_url(target: &str, ask: &SignInAsk) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        query.append_pair("return_to", target);
        for (k, v) in ask.query_pairs() {
            query.append_pair(k, &v);
        }
        format!(
            "{}?{}",
            crate::auth::routes::SIGN_IN_CHOOSER_PATH,
            query.finish()
        )
    }

    /// The authorization response's parameters.
    pub struct CallbackParams {
        pub code: Option<String>,
        pub state: Option<String>,
        /// RFC 9207: the issuer that sent the response.
        pub iss: Option<String>,
        pub error: Option<String>,
        pub error_description: Option<String>,
        /// A parameter was given twice (RFC 6749 forbids it).
        pub repeated: bool,
    }

    pub async fn callback(params: CallbackParams) -> Result<(), ApiError> {
        let state = state()?;
        let session = session()?;
        let result = if params.repeated {
            Err(AuthError::MissingCode) // RFC 6749: parameters must not repeat
        } else {
            complete_sign_in(&state, &session, params).await
        };
        match result {
            Ok(return_to) => {
                state.keeper.metrics.sign_in("success");
                see_other(&return_to)
            }
            Err(e) => {
                tracing::warn!(error = %e, "sign-in callback failed");
                let reason = e.reason();
                state.keeper.metrics.sign_in(reason.code());
                error_page(reason);
            }
        }
        Ok(())
    }

    async fn complete_sign_in(
        state: &AppState,
        session: &Session,
        params: CallbackParams,
    ) -> Result<String, AuthError> {
        let CallbackParams {
            code,
            state: state_param,
            iss,
            error,
            error_description,
            ..
        } = params;
        // Consume the pending sign-in first, whatever happens next: a state is good once. A
        // signed-in session's (a step-up) is taken under its lock.
        let current = current_auth().signed_in().cloned();
        let pending = match state_param.as_deref() {
            Some(s) if !s.is_empty() => match current {
                Some(_) => state.keeper.take_step_up(session, s).await?,
                None => {
                    session::take_pending(session, s, state.settings.session.pending_timeout)
                        .await?
                }
            },
            _ => None,
        };
        // The provider the sign-in went to (without a pending sign-in: the one `iss` names,
        // else the default), and the mix-up defence before anything else is believed (RFC
        // 9207): the response must come from that provider.
        let providers = state.providers();
        let oidc = match (&pending, iss.as_deref()) {
            (Some(p), _) => {
                let id = if p.provider.is_empty() {
                    crate::settings::DEFAULT_PROVIDER
                } else {
                    p.provider.as_str()
                };
                providers
                    .get(id)
                    .map(|p| p.client.clone())
                    .ok_or(AuthError::StateMismatch)?
            }
            (None, Some(iss)) => providers
                .by_issuer(iss)
                .map(|p| p.client.clone())
                .unwrap_or_else(|| providers.default_client().clone()),
            (None, None) => providers.default_client().clone(),
        };
        oidc.check_response_issuer(iss.as_deref(), error.is_some())
            .await?;
        if let Some(code) = error {
            let code: String = code
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                .take(64)
                .collect();
            let description: String = error_description
                .unwrap_or_default()
                .chars()
                .take(200)
                .collect();
            tracing::info!(error = %code, description = %description, "provider returned an error");
            return Err(AuthError::ProviderRedirectError { code });
        }
        let Some(pending) = pending else {
            // Back button to an already used callback while signed in: nothing to do.
            if current.is_some() {
                return Ok(state.settings.auth.default_return_to.clone());
            }
            return Err(AuthError::StateMismatch);
        };
        let code = code
            .filter(|c| !c.is_empty())
            .ok_or(AuthError::MissingCode)?;
        let verified = oidc.exchange(&code, &pending).await?;
        let skew = i64::try_from(state.settings.auth.clock_skew.as_secs()).unwrap_or(0);
        if let Err(why) = pending
            .ask
            .check(&verified.claims, pending.created_at, now(), skew)
        {
            // tokens issued for a sign-in that is not used
            state.keeper.revoke_in_background(&verified);
            return Err(AuthError::StepUpNotMet(why));
        }
        if let Some(current) = current {
            if current.verified.user.sub == verified.user.sub
                && current.verified.provider == verified.provider
            {
                state.keeper.complete_step_up(session, verified).await?;
                return Ok(pending.return_to);
            }
            // Someone else signed in at the provider: the old session ends (as a sign-out,
            // its tabs told, its tokens revoked) before the new one begins.
            if let Some(id) = session.id() {
                tracing::info!("another person signed in at a step-up; ending the old session");
                if let Some(old) = state.keeper.end_session(&id, EndReason::SignedOut).await? {
                    state.keeper.revoke_in_background(&old.verified);
                }
            }
        }
        let signed_in = SignedIn::new(verified);
        session::establish(
            session,
            &state.keeper.store,
            &signed_in,
            state.settings.session.idle_timeout,
        )
        .await?;
        // findable for provider-initiated sign-out, or not signed in at all
        let id = session
            .id()
            .ok_or_else(|| AuthError::Internal("no session id after sign-in".into()))?;
        let until = state.keeper.absolute_end(&signed_in);
        if let Err(e) = index::add(&state.keeper.store, &id, &signed_in, until).await {
            session::end(session).await?;
            return Err(e);
        }
        tracing::info!(sub = %signed_in.verified.user.sub, "signed in");
        Ok(pending.return_to)
    }

    pub async fn logout() -> Result<(), ApiError> {
        // Cross-site posts never get here: `crate::csrf` refuses them for every
        // state-changing request.
        let state = state()?;
        let session = session()?;
        let cached = session::signed_in(&session, &state.keeper.store)
            .await
            .ok()
            .flatten();
        // under the session's lock, with the newest tokens (a refresh may just have rotated them)
        let ended = match session.id() {
            Some(id) => {
                state
                    .keeper
                    .end_session(&id, crate::auth::types::EndReason::SignedOut)
                    .await
            }
            None => Ok(None),
        };
        // A sign-out that cannot finish (the store is down) is explained on the error page,
        // with a way back; the session stays as it was.
        let ended = match ended {
            Ok(latest) => latest.or_else(|| cached.map(|c| SignedIn::clone(&c))),
            Err(e) => {
                tracing::warn!(error = %e, "sign-out could not end the session");
                error_page(e.reason());
                return Ok(());
            }
        };
        if let Err(e) = session::end(&session).await {
            tracing::warn!(error = %e, "sign-out could not remove the session");
            error_page(e.reason());
            return Ok(());
        }
        let target = match ended {
            Some(s) => {
                state.keeper.revoke_in_background(&s.verified);
                match state.keeper.providers.of(&s.verified) {
                    Some(oidc) => {
                        oidc.end_session_url(Some(&s.verified.tokens.id_token))
                            .await
                    }
                    None => None,
                }
            }
            None => None,
        };
        see_other_or_header(target.as_deref().unwrap_or("/"));
        Ok(())
    }

    /// The request's Origin (or, without one, Referer) must be the app's own.
    pub fn auth_status() -> Result<AuthStatus, ApiError> {
        let state = state()?;
        let (user, unavailable) = match current_auth().require() {
            Ok(s) => (Some(s.verified.user.clone()), None),
            Err(ApiError::Unauthorized) => (None, None),
            Err(e) => (None, Some(e)),
        };
        Ok(AuthStatus {
            user,
            policy: state.guard_policy().clone(),
            unavailable,
        })
    }

    pub fn profile() -> Result<Profile, ApiError> {
        let state = state()?;
        let auth = current_auth();
        let signed_in = auth.require().map_err(failed)?;
        Ok(profile_of(signed_in, &state.settings))
    }

    /// Claims holding times (Unix seconds) in OpenID Connect Core and RFC 7519.
    const TIME_CLAIMS: [&str; 5] = ["iat", "exp", "nbf", "auth_time", "updated_at"];
    /// Identifiers people copy (to look a person or a session up at the provider).
    const ID_CLAIMS: [&str; 6] = ["sub", "sid", "uid", "oid", "tid", "jti"];

    /// How a claim's value is best shown.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub enum ClaimShape {
        /// As it is (strings, numbers, objects as JSON), wrapped when long.
        Text,
        /// A time in Unix seconds (`iat`, `exp`, `auth_time`, …): a date, the raw value on
        /// hover.
        Time(i64),
        /// A list of strings or numbers (`groups`, `amr`, `aud`): one chip each.
        List(Vec<String>),
        /// An identifier people copy (`sub`, `sid`, …): with a copy button (its clicks are
        /// handled by the profile island, `crate::pages::profile`).
        Id,
    }

    /// The HTML of a claim's value in `shape`; every piece of the claim is escaped.
    fn claim_html(name: &str, text: &str, shape: &ClaimShape) -> String {
        use crate::{
            components::time::{iso, utc},
            plain_page::esc,
        };
        match shape {
            ClaimShape::Time(ts) => format!(
                "<time datetime=\"{}\" title=\"{}: {ts} (Unix time)\">{}</time>",
                iso(*ts),
                esc(name),
                utc(*ts)
            ),
            ClaimShape::List(items) => {
                let chips: String = items
                    .iter()
                    .map(|i| format!("<li>{}</li>", esc(i)))
                    .collect();
                format!("<ul class=\"chips\">{chips}</ul>")
            }
            ClaimShape::Id => format!(
                "<span class=\"id\"><code>{v}</code><button type=\"button\" class=\"copy\" \
                 data-copy=\"{v}\" aria-label=\"Copy {n}\">Copy</button></span>",
                v = esc(text),
                n = esc(name)
            ),
            ClaimShape::Text => esc(text),
        }
    }

    /// One claim, with the shape the page shows it in.
    pub fn claim(name: &str, value: &Value) -> Claim {
        let (text, shape) = claim_shape(name, value);
        Claim {
            name: name.to_string(),
            html: format!(
                "<tr data-claim=\"{n}\"><th><code>{n}</code></th><td>{}</td></tr>",
                claim_html(name, &text, &shape),
                n = crate::plain_page::esc(name),
            ),
            value: text,
        }
    }

    /// The claim's text (what the filter searches) and its shape.
    pub fn claim_shape(name: &str, value: &Value) -> (String, ClaimShape) {
        let text = match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let scalar = |v: &Value| match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        };
        let shape = match value {
            Value::Number(n) if TIME_CLAIMS.contains(&name) => {
                n.as_i64().map_or(ClaimShape::Text, ClaimShape::Time)
            }
            Value::Array(items) => items
                .iter()
                .map(scalar)
                .collect::<Option<Vec<_>>>()
                .map_or(ClaimShape::Text, ClaimShape::List),
            Value::String(_) if ID_CLAIMS.contains(&name) => ClaimShape::Id,
            _ => ClaimShape::Text,
        };
        (text, shape)
    }

    /// What the profile page shows of `signed_in` (claims and times, never a token).
    pub fn profile_of(signed_in: &SignedIn, settings: &crate::settings::Settings) -> Profile {
        let v = &signed_in.verified;
        let claims = v
            .claims
            .iter()
            .map(|(name, value)| claim(name, value))
            .collect::<Vec<Claim>>();
        let session_expires_at = (signed_in.last_seen_at
            + settings.session.idle_timeout.as_secs() as i64)
            .min(signed_in.signed_in_at + settings.session.absolute_timeout.as_secs() as i64);
        Profile {
            user: v.user.clone(),
            claims,
            signed_in_at: signed_in.signed_in_at,
            access_token_expires_at: v.tokens.access_expires_at,
            last_refreshed_at: signed_in.last_refreshed_at,
            id_token_expires_at: v.id_token_expires_at,
            session_expires_at,
            can_refresh: settings.auth.refresh && v.tokens.refresh_token.is_some(),
            server_time: now(),
        }
    }

    #[cfg(test)]
    mod claim_shapes {
        use super::{ClaimShape, claim, claim_shape};
        use serde_json::json;

        fn shape(name: &str, value: serde_json::Value) -> ClaimShape {
            claim_shape(name, &value).1
        }

        #[test]
        fn the_html_escapes_every_piece() {
            let evil = claim("sub", &json!("<img src=x onerror=alert(1)>\"'"));
            assert!(!evil.html.contains("<img"), "{}", evil.html);
            assert!(
                evil.html
                    .contains("data-copy=\"&lt;img src=x onerror=alert(1)&gt;&quot;&#39;\"")
            );
            let list = claim("groups", &json!(["<b>", "a&b"]));
            assert!(
                list.html.contains(
                    "<td><ul class=\"chips\"><li>&lt;b&gt;</li><li>a&amp;b</li></ul></td>"
                )
            );
            let text = claim("name", &json!("<script>"));
            assert!(
                text.html.ends_with("<td>&lt;script&gt;</td></tr>"),
                "{}",
                text.html
            );
            let name = claim("<x>", &json!(1));
            assert!(
                name.html
                    .starts_with("<tr data-claim=\"&lt;x&gt;\"><th><code>&lt;x&gt;</code>")
            );
            let time = claim("iat", &json!(1_764_000_000));
            assert!(
                time.html.contains("datetime=\"2025-11-24T16:00:00Z\""),
                "{}",
                time.html
            );
            assert!(time.html.contains("title=\"iat: 1764000000 (Unix time)\""));
        }

        #[test]
        fn times_lists_and_identifiers() {
            assert_eq!(
                shape("iat", json!(1_764_000_000)),
                ClaimShape::Time(1_764_000_000)
            );
            assert_eq!(shape("iat", json!("soon")), ClaimShape::Text);
            assert_eq!(shape("count", json!(3)), ClaimShape::Text);
            assert_eq!(
                shape("groups", json!(["Everyone", "Admins"])),
                ClaimShape::List(vec!["Everyone".into(), "Admins".into()])
            );
            let groups = claim("groups", &json!(["Everyone", "Admins"]));
            assert_eq!(
                groups.value, r#"["Everyone","Admins"]"#,
                "the filter searches this"
            );
            assert_eq!(
                shape("amr", json!(["pwd", 2])),
                ClaimShape::List(vec!["pwd".into(), "2".into()])
            );
            assert_eq!(shape("odd", json!([{"a": 1}])), ClaimShape::Text);
            assert_eq!(shape("sub", json!("00u1")), ClaimShape::Id);
            assert_eq!(shape("email", json!("a@b.c")), ClaimShape::Text);
        }
    }

    /// Property tests: the parser gives back what was encoded, and notices any repetition.
    #[cfg(test)]
    mod properties {
        use super::Query;
        use proptest::prelude::*;

        fn encode(pairs: &[(String, String)]) -> String {
            let mut s = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in pairs {
                s.append_pair(k, v);
            }
            s.finish()
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2000))]

            #[test]
            fn round_trip(map in proptest::collection::btree_map("\\PC{1,8}", "\\PC{0,12}", 0..6)) {
                let pairs: Vec<(String, String)> = map.clone().into_iter().collect();
                let q = Query::parse(&encode(&pairs));
                prop_assert!(!q.repeated);
                for (k, v) in &map {
                    let got = q.get(k);
                    prop_assert_eq!(got.as_deref(), Some(v.as_str()));
                }
            }

            #[test]
            fn repetition_is_noticed(
                map in proptest::collection::btree_map("[a-z_]{1,8}", "\\PC{0,12}", 1..6),
                pick in any::<prop::sample::Index>(),
                other in "\\PC{0,12}",
            ) {
                let mut pairs: Vec<(String, String)> = map.into_iter().collect();
                let (k, _) = pairs[pick.index(pairs.len())].clone();
                pairs.push((k, other));
                prop_assert!(Query::parse(&encode(&pairs)).repeated);
            }

            #[test]
            fn never_panics(raw in "\\PC{0,60}") {
                let _ = Query::parse(&raw);
            }
        }
    }
}
