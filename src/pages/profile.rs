//! `/profile`: the person's claims and the session's token times, rendered on the server and
//! kept live after hydration (the countdown ticks; when the access token's expiry passes the
//! page asks the server again, which refreshes the token on that request if it is due).

use std::time::Duration;

use leptos::either::EitherOf4;
use leptos::prelude::*;
use leptos::server::SharedValue;

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

/// The profile as the server knows it for this request (server rendering only).
#[cfg(feature = "ssr")]
fn profile_now() -> Option<Result<Profile, ApiError>> {
    Some(crate::auth::api::ssr::profile())
}

/// In the browser outside hydration (client-side navigation) the server is asked instead.
#[cfg(not(feature = "ssr"))]
fn profile_now() -> Option<Result<Profile, ApiError>> {
    None
}

#[component]
pub fn ProfilePage() -> impl IntoView {
    // Server rendering: from the request's already-resolved session, at once (no resource, no
    // suspense). Hydration: the same value, sent with the page. Client-side navigation: asked
    // from the server by the effect below.
    let data = RwSignal::new(SharedValue::new(profile_now).into_inner());
    let now = RwSignal::new(unix_now());
    let last_fetch = StoredValue::new(0i64);
    let fetch = move || {
        last_fetch.set_value(unix_now());
        leptos::task::spawn_local(async move { data.set(Some(get_profile().await)) });
    };

    // Tick every second in the browser (effects do not run on the server).
    Effect::new(move |_| {
        if data.with_untracked(Option::is_none) {
            fetch();
        }
        if let Ok(handle) =
            set_interval_with_handle(move || now.set(unix_now()), Duration::from_secs(1))
        {
            on_cleanup(move || handle.clear());
        }
    });
    // When the access token's expiry has passed, ask the server again (at most every 3 s); the
    // server refreshes the token on that request when it is due.
    Effect::new(move |_| {
        let t = now.get();
        let due = data.with_untracked(
            |d| matches!(d, Some(Ok(p)) if p.access_token_expires_at.is_some_and(|exp| t >= exp)),
        );
        if due && t - last_fetch.get_value() >= 3 {
            fetch();
        }
    });

    // What is shown changes only between these; the profile itself updates in place.
    let phase = Memo::new(move |_| {
        data.with(|d| match d {
            None => Phase::Loading,
            Some(Ok(_)) => Phase::Ready,
            Some(Err(e)) => Phase::Failed(e.clone()),
        })
    });
    let profile = Current(data);
    move || match phase.get() {
        Phase::Loading => EitherOf4::A(view! { <p class="muted">"Loading your profile…"</p> }),
        Phase::Ready => EitherOf4::B(view! { <ProfileView profile now /> }),
        Phase::Failed(ApiError::Unauthorized) => {
            go_to_login(&current_path());
            EitherOf4::C(view! { <p>"Redirecting to sign-in…"</p> })
        }
        Phase::Failed(error) => EitherOf4::D(view! { <ErrorNotice error /> }),
    }
}

#[derive(Clone, PartialEq)]
enum Phase {
    Loading,
    Ready,
    Failed(ApiError),
}

/// The page's current profile, read in place (no copy per read).
#[derive(Clone, Copy)]
struct Current(RwSignal<Option<Result<Profile, ApiError>>>);

impl Current {
    fn with<T>(&self, f: impl FnOnce(Option<&Profile>) -> T) -> T {
        self.0.with(|d| f(d.as_ref().and_then(|r| r.as_ref().ok())))
    }
}

/// Shown while `profile` holds a value (the page only renders it then).
#[component]
fn ProfileView(profile: Current, now: RwSignal<i64>) -> impl IntoView {
    let filter = RwSignal::new(String::new());
    // Reads one field of the current profile.
    let field =
        move |f: fn(&Profile) -> String| move || profile.with(|p| p.map(f).unwrap_or_default());
    let visible = move || {
        let f = filter.get().to_lowercase();
        profile.with(|p| {
            p.into_iter()
                .flat_map(|p| p.claims.iter())
                .filter(|c| {
                    f.is_empty()
                        || c.name.to_lowercase().contains(&f)
                        || c.value.to_lowercase().contains(&f)
                })
                .cloned()
                .collect::<Vec<_>>()
        })
    };
    let total = move || profile.with(|p| p.map_or(0, |p| p.claims.len()));
    let when = move |ts: Option<i64>| match ts {
        Some(ts) => format!("{} ({})", utc(ts), relative(ts - now.get())),
        None => "—".to_string(),
    };
    let time = move |f: fn(&Profile) -> Option<i64>| move || when(profile.with(|p| p.and_then(f)));
    view! {
        <section class="card profile">
            <div class="profile-head">
                <div class="avatar" aria-hidden="true">
                    {field(|p| p.user.display_name().chars().next().unwrap_or('?').to_uppercase().to_string())}
                </div>
                <div>
                    <h1 data-testid="profile-name">{field(|p| p.user.display_name().to_string())}</h1>
                    <p class="muted" data-testid="profile-email">{field(|p| p.user.email.clone().unwrap_or_default())}</p>
                </div>
            </div>
            <dl class="facts">
                <dt>"Subject"</dt>
                <dd><code data-testid="profile-sub">{field(|p| p.user.sub.clone())}</code></dd>
                <dt>"Username"</dt>
                <dd data-testid="profile-username">{field(|p| p.user.preferred_username.clone().unwrap_or_default())}</dd>
                <dt>"Signed in"</dt>
                <dd>{time(|p| Some(p.signed_in_at))}</dd>
                <dt>"Access token expires"</dt>
                <dd data-testid="access-expires">{time(|p| p.access_token_expires_at)}</dd>
                <dt>"Last refreshed"</dt>
                <dd data-testid="last-refreshed">
                    {move || match profile.with(|p| p.and_then(|p| p.last_refreshed_at)) {
                        Some(ts) => when(Some(ts)),
                        None => "not yet".to_string(),
                    }}
                </dd>
                <dt>"ID token expires"</dt>
                <dd>{time(|p| Some(p.id_token_expires_at))}</dd>
                <dt>"Session ends at the latest"</dt>
                <dd>{time(|p| Some(p.session_expires_at))}</dd>
                <dt>"Automatic refresh"</dt>
                <dd>
                    {field(|p| {
                        if p.can_refresh { "on (refresh token held on the server)" } else { "off" }.to_string()
                    })}
                </dd>
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
                    <For each=visible key=|c| (c.name.clone(), c.value.clone()) let:claim>
                        <tr data-claim=claim.name.clone()>
                            <th><code>{claim.name.clone()}</code></th>
                            <td>{claim.value.clone()}</td>
                        </tr>
                    </For>
                </tbody>
            </table>
            <p class="muted" data-testid="claims-count">
                {move || format!("{} of {} claims shown", visible().len(), total())}
            </p>
        </section>
    }
}
