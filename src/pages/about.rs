//! `/about`: a public page (unless sign-in is required everywhere and it is not listed as
//! public) explaining how the app is configured.

use leptos::prelude::*;

#[component]
pub fn AboutPage() -> impl IntoView {
    view! {
        <section class="card prose">
            <h1>"About this app"</h1>
            <p>
                "Point it at your provider with " <code>"OIDC_ISSUER"</code> ", " <code>"OIDC_CLIENT_ID"</code>
                " and " <code>"OIDC_CLIENT_SECRET"</code> " (or the Okta CLI's " <code>".okta.env"</code>
                "). Register " <code>"APP_URL/authorization-code/callback"</code>
                " as the sign-in redirect URI, " <code>"APP_URL/"</code> " as the sign-out redirect URI and "
                <code>"APP_URL/login"</code> " as the initiate login URI."
            </p>
            <p>
                "Without a provider it runs against its embedded development provider, so you can try it with nothing to register."
            </p>
        </section>
    }
}
