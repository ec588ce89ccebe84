//! [`AppState`]: everything a request handler may need, built once at start-up from the
//! validated settings and the session store, shared by the middleware, the server functions,
//! the pages (through Leptos' context) and the provider-facing endpoints.
//!
//! Layers (each uses only those before it): settings, secret → auth core (provider client,
//! session contents, refresh, sign-out) → **state** → adapters (middleware, server
//! functions, pages, provider endpoints) → server (`fn app(state) -> Router`) → startup.

use std::sync::Arc;

use axum::extract::FromRef;
use leptos::config::LeptosOptions;

use crate::{
    auth::{
        error::AuthError,
        logout_request::{ProviderLogout, ProviderLogoutState, Signer},
        oidc::{OidcClient, Providers},
        refresh::{SessionKeeper, SessionLocks},
        routes::ALWAYS_PUBLIC,
        session::SharedStore,
        types::GuardPolicy,
    },
    settings::Settings,
};

/// Everything a request handler may need. Cloned into every request's context, so a clone is
/// one reference-count increment (fields are reached through `Deref`).
#[derive(Clone)]
pub struct AppState(Arc<AppStateInner>);

pub struct AppStateInner {
    pub leptos_options: LeptosOptions,
    pub settings: Arc<Settings>,
    pub keeper: Arc<SessionKeeper>,
    pub provider_logout: ProviderLogoutState,
    /// The issuer's signing keys, for API clients' access tokens (`auth::me`).
    pub bearer_keys: crate::auth::jwt::KeyCache,
    guard_policy: GuardPolicy,
    /// The registered server functions' paths (they check the session themselves).
    server_fn_paths: std::collections::HashSet<&'static str>,
}

impl std::ops::Deref for AppState {
    type Target = AppStateInner;
    fn deref(&self) -> &AppStateInner {
        &self.0
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

impl FromRef<AppState> for ProviderLogoutState {
    fn from_ref(state: &AppState) -> Self {
        state.provider_logout.clone()
    }
}

impl AppState {
    /// Builds the state from validated settings (the issuer must be set by now) and a store.
    pub fn new(
        leptos_options: LeptosOptions,
        settings: Settings,
        store: SharedStore,
        locks: SessionLocks,
    ) -> Result<Self, AuthError> {
        let providers = Arc::new(Providers::new(&settings)?);
        let http = providers.default_client().http().clone();
        let issuer = providers.default_client().issuer().to_string();
        let settings = Arc::new(settings);
        let keeper = Arc::new(SessionKeeper::new(
            store,
            providers,
            locks,
            settings.clone(),
        ));
        let bearer_keys = crate::auth::jwt::KeyCache::new(issuer.clone(), http.clone());
        // the other providers' back-channel logout tokens, each checked with its own keys
        let others = keeper
            .providers
            .list()
            .iter()
            .skip(1)
            .zip(&settings.providers)
            .map(|(p, s)| {
                let issuer = p.client.issuer().to_string();
                let org = s.oidc.org_issuer().unwrap_or_else(|| issuer.clone());
                Signer {
                    client_id: p.client.client_id().to_string(),
                    keys: crate::auth::jwt::KeyCache::new(issuer.clone(), http.clone()),
                    org_keys: crate::auth::jwt::KeyCache::new(org, http.clone()),
                    issuer,
                }
            })
            .collect();
        let provider_logout = ProviderLogoutState(Arc::new(
            ProviderLogout::new(
                keeper.clone(),
                issuer.clone(),
                settings.oidc.org_issuer().unwrap_or(issuer),
                settings.oidc.client_id.clone(),
                &settings.app_base(),
                settings.auth.clock_skew,
                http,
            )
            .with_others(others),
        ));
        let mut public_paths = settings.auth.public_paths.clone();
        for path in ALWAYS_PUBLIC
            .iter()
            .map(|p| p.to_string())
            .chain([settings.auth.callback_path.clone()])
        {
            if !public_paths.contains(&path) {
                public_paths.push(path);
            }
        }
        let guard_policy = GuardPolicy {
            require_all: settings.auth.require_auth_everywhere,
            public_paths,
        };
        Ok(Self(Arc::new(AppStateInner {
            leptos_options,
            settings,
            keeper,
            provider_logout,
            bearer_keys,
            guard_policy,
            server_fn_paths: leptos::server_fn::axum::server_fn_paths()
                .map(|(path, _)| path)
                .collect(),
        })))
    }

    /// Which routes need sign-in (built once from the settings).
    pub fn guard_policy(&self) -> &GuardPolicy {
        &self.guard_policy
    }

    /// Whether `path` is a registered server function (exactly; not any path under `/api/`).
    pub fn is_server_fn(&self, path: &str) -> bool {
        self.server_fn_paths.contains(path)
    }

    /// The default provider's client.
    pub fn oidc(&self) -> &OidcClient {
        self.keeper.providers.default_client()
    }

    /// Every provider (the default one first).
    pub fn providers(&self) -> &Providers {
        &self.keeper.providers
    }
}
