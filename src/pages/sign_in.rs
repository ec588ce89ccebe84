//! `/auth/sign-in`: with several providers (`[[providers]]`), where a person chooses one.
//! `/login` sends them here when no provider is named; each choice is a plain link to
//! `/login?provider=<id>&return_to=…` (with a step-up's asks passed on), so it works
//! without JavaScript. With one provider this page only offers that one.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

/// The providers to offer: (id, name), the default first. Read on the server (islands: pages
/// render there only).
#[cfg(feature = "ssr")]
fn choices() -> Vec<(String, String)> {
    use_context::<crate::state::AppState>()
        .map(|state| {
            state
                .providers()
                .list()
                .iter()
                .map(|p| (p.id.clone(), p.name.clone()))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(not(feature = "ssr"))]
fn choices() -> Vec<(String, String)> {
    Vec::new()
}

/// `/login?provider=<id>` with the page's own `return_to` and step-up asks (only those `/login`
/// reads; it checks them again).
fn login_link(id: &str, query: &leptos_router::params::ParamsMap) -> String {
    let mut link = format!(
        "/login?provider={}",
        crate::auth::return_to::encode_component(id)
    );
    for name in ["return_to", "max_age", "prompt", "acr_values"] {
        if let Some(value) = query.get(name) {
            link.push('&');
            link.push_str(name);
            link.push('=');
            link.push_str(&crate::auth::return_to::encode_component(&value));
        }
    }
    link
}

#[component]
pub fn SignInChooser() -> impl IntoView {
    let query = use_query_map();
    let links: Vec<(String, String, String)> = query.with_untracked(|q| {
        choices()
            .into_iter()
            .map(|(id, name)| {
                let href = login_link(&id, q);
                (id, name, href)
            })
            .collect()
    });
    view! {
        <section class="card" data-testid="sign-in-chooser">
            <h1>"Sign in"</h1>
            <p>"Choose where you have an account."</p>
            <ul class="choices">
                {links
                    .into_iter()
                    .map(|(id, name, href)| {
                        view! {
                            <li>
                                <a class="button" href=href rel="external" data-provider=id>
                                    {format!("Sign in with {name}")}
                                </a>
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
        </section>
    }
}
