//! The session cookie, in one place: the tower-sessions layer that sets and removes it, and
//! the renewal the auth middleware sends after a "touch" (which writes the record straight to
//! the store, so the layer does not know to send it). Name `sid`, or `__Host-sid` over https
//! (with `Secure`); always `HttpOnly`, `SameSite=Lax`, `Path=/`; lifetime the idle timeout.

use tower_sessions::{
    Expiry, SessionManagerLayer,
    cookie::{Cookie, SameSite},
};

use crate::{auth::session::SharedStore, settings::Settings};

fn idle(settings: &Settings) -> time::Duration {
    time::Duration::try_from(settings.session.idle_timeout).unwrap_or(time::Duration::DAY)
}

/// The session layer over `store`.
pub fn layer(settings: &Settings, store: SharedStore) -> SessionManagerLayer<SharedStore> {
    SessionManagerLayer::new(store)
        .with_name(settings.cookie_name())
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(settings.https())
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(idle(settings)))
}

/// A `Set-Cookie` value renewing session `id` for another idle timeout.
pub fn renewal(settings: &Settings, id: &str) -> String {
    Cookie::build((settings.cookie_name(), id.to_string()))
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(settings.https())
        .path("/")
        .max_age(idle(settings))
        .build()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(app_url: &str) -> Settings {
        Settings::from_sources("", "test", |k| {
            (k == "APP_URL").then(|| app_url.to_string())
        })
        .unwrap()
    }

    #[test]
    fn renewal_has_the_layers_attributes() {
        let plain = renewal(&settings("http://localhost:3000"), "abc");
        for part in [
            "sid=abc",
            "HttpOnly",
            "SameSite=Lax",
            "Path=/",
            "Max-Age=86400",
        ] {
            assert!(plain.contains(part), "{plain}");
        }
        assert!(!plain.contains("Secure"));
        let tls = renewal(&settings("https://app.example.com"), "abc");
        assert!(
            tls.starts_with("__Host-sid=abc") && tls.contains("Secure"),
            "{tls}"
        );
    }
}
