//! The providers people may sign in with: the default one (`[oidc]` / `OIDC_*`, or the
//! development provider) first, then the `[[providers]]` of the settings. Each has its own
//! [`OidcClient`]; a session remembers which one signed it in ([`Verified::provider`]), and its
//! refresh, sign-out and revocation go to that one only.

use std::sync::Arc;

use super::{OidcClient, Verified};
use crate::{
    auth::error::AuthError,
    settings::{DEFAULT_PROVIDER, OidcSettings, Settings},
};

fn same(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

/// One provider: its id, its name on the chooser and its client.
pub struct Provider {
    pub id: String,
    pub name: String,
    pub client: Arc<OidcClient>,
}

/// All providers; never empty (the first is the default).
pub struct Providers(Vec<Provider>);

/// The default provider's name when `OIDC_DISPLAY_NAME` does not say (the development
/// provider names itself): Okta for an Okta issuer, else the issuer's host.
fn default_name(oidc: &OidcSettings) -> String {
    if let Some(name) = &oidc.display_name {
        return name.clone();
    }
    let host = oidc
        .issuer
        .as_deref()
        .and_then(|i| url::Url::parse(i).ok())
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_default();
    if [".okta.com", ".oktapreview.com", ".okta-emea.com"]
        .iter()
        .any(|suffix| host.ends_with(suffix))
    {
        "Okta".into()
    } else {
        host
    }
}

impl Providers {
    /// Clients for every provider in `settings` (the default one's issuer must be set by now).
    pub fn new(settings: &Settings) -> Result<Self, AuthError> {
        let client = |oidc: &OidcSettings, id: &str| -> Result<Arc<OidcClient>, AuthError> {
            Ok(Arc::new(
                OidcClient::new(
                    oidc,
                    settings.redirect_uri(),
                    &settings.app_base(),
                    settings.auth.clock_skew,
                    settings.auth.use_userinfo,
                )?
                .with_groups_claim(&settings.auth.groups_claim)
                .with_id(id),
            ))
        };
        let mut list = vec![Provider {
            id: DEFAULT_PROVIDER.into(),
            name: default_name(&settings.oidc),
            client: client(&settings.oidc, DEFAULT_PROVIDER)?,
        }];
        for p in &settings.providers {
            list.push(Provider {
                id: p.id.clone(),
                name: p.name.clone(),
                client: client(&p.oidc, &p.id)?,
            });
        }
        // (checked here too: the development provider's issuer is known only now)
        for (i, a) in list.iter().enumerate() {
            if list[..i]
                .iter()
                .any(|b| same(a.client.issuer(), b.client.issuer()))
            {
                return Err(AuthError::Internal(format!(
                    "provider {:?} has another provider's issuer: sign-outs and sign-ins could not tell them apart",
                    a.id
                )));
            }
        }
        Ok(Self(list))
    }

    /// The default provider's client.
    pub fn default_client(&self) -> &Arc<OidcClient> {
        &self.0[0].client
    }

    pub fn list(&self) -> &[Provider] {
        &self.0
    }

    /// More than one: sign-in starts with a choice.
    pub fn several(&self) -> bool {
        self.0.len() > 1
    }

    pub fn get(&self, id: &str) -> Option<&Provider> {
        self.0.iter().find(|p| p.id == id)
    }

    /// The provider with this issuer (a trailing `/` ignored), else the first whose Okta org
    /// it is (a dashboard tile names the org).
    pub fn by_issuer(&self, issuer: &str) -> Option<&Provider> {
        self.0
            .iter()
            .find(|p| same(p.client.issuer(), issuer))
            .or_else(|| self.0.iter().find(|p| same(&p.client.org_issuer(), issuer)))
    }

    /// The client of the provider that issued a stored sign-in — when that provider is still
    /// configured, with the same issuer and client (see [`OidcClient::issued_here`]).
    pub fn of(&self, v: &Verified) -> Option<&Arc<OidcClient>> {
        let id = if v.provider.is_empty() {
            DEFAULT_PROVIDER
        } else {
            v.provider.as_str()
        };
        self.get(id).map(|p| &p.client).filter(|c| c.issued_here(v))
    }
}
