//! `/profile`: the person's claims and the session's token times, rendered on the server and
//! kept live after hydration (the countdown ticks; when the access token's expiry passes the
//! page asks the server again, which refreshes the token on that request if it is due).

use std::time::Duration;

use leptos::either::Either;
use leptos::prelude::*;

use crate::{
    auth::{
        api::get_profile,
        guard::{ErrorNotice, current_path, go_to_login},
        types::{ApiError, Profile},
    },
    components::time::{relative, utc},
};

/// Unix seconds now (browser clock after hydration, server clock while rendering).
fn unix_now() -> i64 {
    #[cfg(not(feature = "ssr"))]
    {
        (leptos::web_sys::js_sys::Date::now() / 1000.0) as i64
    }
    #[cfg(feature = "ssr")]
    {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or_default()
    }
}

#[component]
pub fn ProfilePage() -> impl IntoView {
    let profile = Resource::new(|| (), |_| get_profile());
    let now = RwSignal::new(unix_now());
    let last_refetch = StoredValue::new(0i64);

    // Tick every second in the browser (effects do not run on the server).
    Effect::new(move |_| {
        if let Ok(handle) =
            set_interval_with_handle(move || now.set(unix_now()), Duration::from_secs(1))
        {
            on_cleanup(move || handle.clear());
        }
    });
    // When the access token's expiry has passed, fetch the profile again (at most every 3 s).
    Effect::new(move |_| {
        let t = now.get();
        let due = profile
            .get()
            .and_then(|p| p.ok())
            .and_then(|p| p.access_token_expires_at.map(|exp| (exp, p.server_time)))
            .is_some_and(|(exp, _)| t >= exp);
        if due && t - last_refetch.get_value() >= 3 {
            last_refetch.set_value(t);
            profile.refetch();
        }
    });

    view! {
        <Transition fallback=|| view! { <p class="muted">"Loading your profile…"</p> }>
            {move || Suspend::new(async move {
                match profile.await {
                    Ok(p) => Either::Left(view! { <ProfileView profile=p now /> }),
                    Err(ApiError::Unauthorized) => {
                        go_to_login(&current_path());
                        Either::Right(Either::Left(view! { <p>"Redirecting to sign-in…"</p> }))
                    }
                    Err(error) => Either::Right(Either::Right(view! { <ErrorNotice error /> })),
                }
            })}
        </Transition>
    }
}

#[component]
fn ProfileView(profile: Profile, now: RwSignal<i64>) -> impl IntoView {
    let filter = RwSignal::new(String::new());
    let claims = StoredValue::new(profile.claims.clone());
    let user = profile.user.clone();
    let p = StoredValue::new(profile);
    let visible = move || {
        let f = filter.get().to_lowercase();
        claims
            .get_value()
            .into_iter()
            .filter(|c| {
                f.is_empty()
                    || c.name.to_lowercase().contains(&f)
                    || c.value.to_lowercase().contains(&f)
            })
            .collect::<Vec<_>>()
    };
    let when = move |ts: Option<i64>| match ts {
        Some(ts) => format!("{} ({})", utc(ts), relative(ts - now.get())),
        None => "—".to_string(),
    };
    view! {
        <section class="card profile">
            <div class="profile-head">
                <div class="avatar" aria-hidden="true">
                    {user.display_name().chars().next().unwrap_or('?').to_uppercase().to_string()}
                </div>
                <div>
                    <h1 data-testid="profile-name">{user.display_name().to_string()}</h1>
                    <p class="muted" data-testid="profile-email">{user.email.clone().unwrap_or_default()}</p>
                </div>
            </div>
            <dl class="facts">
                <dt>"Subject"</dt>
                <dd><code data-testid="profile-sub">{user.sub.clone()}</code></dd>
                <dt>"Username"</dt>
                <dd data-testid="profile-username">{user.preferred_username.clone().unwrap_or_default()}</dd>
                <dt>"Signed in"</dt>
                <dd>{move || when(Some(p.get_value().signed_in_at))}</dd>
                <dt>"Access token expires"</dt>
                <dd data-testid="access-expires">{move || when(p.get_value().access_token_expires_at)}</dd>
                <dt>"Last refreshed"</dt>
                <dd data-testid="last-refreshed">
                    {move || match p.get_value().last_refreshed_at {
                        Some(ts) => when(Some(ts)),
                        None => "not yet".to_string(),
                    }}
                </dd>
                <dt>"ID token expires"</dt>
                <dd>{move || when(Some(p.get_value().id_token_expires_at))}</dd>
                <dt>"Session ends at the latest"</dt>
                <dd>{move || when(Some(p.get_value().session_expires_at))}</dd>
                <dt>"Automatic refresh"</dt>
                <dd>{if p.get_value().can_refresh { "on (refresh token held on the server)" } else { "off" }}</dd>
            </dl>
        </section>
        <section class="card">
            <div class="claims-head">
                <h2>"Your claims"</h2>
                <input
                    type="search"
                    placeholder="Filter claims"
                    aria-label="Filter claims"
                    data-testid="claims-filter"
                    prop:value=move || filter.get()
                    on:input=move |ev| filter.set(event_target_value(&ev))
                />
            </div>
            <table class="claims" data-testid="claims">
                <thead><tr><th>"Claim"</th><th>"Value"</th></tr></thead>
                <tbody>
                    <For each=visible key=|c| c.name.clone() let:claim>
                        <tr data-claim=claim.name.clone()>
                            <th><code>{claim.name.clone()}</code></th>
                            <td>{claim.value.clone()}</td>
                        </tr>
                    </For>
                </tbody>
            </table>
            <p class="muted" data-testid="claims-count">
                {move || format!("{} of {} claims shown", visible().len(), claims.get_value().len())}
            </p>
        </section>
    }
}
