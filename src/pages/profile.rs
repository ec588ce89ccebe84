//! `/profile`: the person's claims and the session's token times, rendered on the server and
//! kept live after hydration by one island, [`ProfileLive`]: the countdown ticks, and the
//! profile the server pushes after each refresh (the live channel, see
//! `crate::components::session_live`) replaces the one shown. Without the channel it asks the
//! server itself once the access token's expiry has passed, which refreshes the token on that
//! request if it is due.

use std::time::Duration;

use leptos::either::EitherOf3;
use leptos::prelude::*;

use crate::{
    auth::{
        api::get_profile,
        guard::{ErrorNotice, current_path, go_to_login, leave_for_sign_in},
        types::{ApiError, Profile},
    },
    components::{
        session_live,
        time::{relative, utc},
    },
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
    match profile_now() {
        Ok(profile) => EitherOf3::A(view! {
            <ProfileLive profile />
            <CopyButtons />
            <p class="muted">
                <a href="/settings/sensitive" data-testid="sensitive-link">"Sensitive settings"</a>
                " — asks for a sign-in within the last 5 minutes"
            </p>
        }),
        Err(ApiError::Unauthorized) => EitherOf3::B(go_to_login(&current_path())),
        Err(error) => EitherOf3::C(view! { <ErrorNotice error /> }),
    }
}

/// The profile as the server knows it for this request (from its resolved session).
#[cfg(feature = "ssr")]
fn profile_now() -> Result<Profile, ApiError> {
    crate::auth::api::ssr::profile()
}

/// Pages render on the server only (islands mode).
#[cfg(not(feature = "ssr"))]
fn profile_now() -> Result<Profile, ApiError> {
    Err(ApiError::Internal)
}

/// The profile, live: rendered by the server with the claims, then hydrated with the same
/// profile (its props). The countdown ticks every second; a profile pushed by the live channel
/// after a refresh replaces this one in place. While the channel is down, once the access
/// token's expiry has passed it asks the server again (at most every 3 s), which refreshes
/// the token on that request when it is due. When the session has ended it stops, leaving
/// the page as it is (the navigation bar says what happened).
#[island]
fn ProfileLive(profile: Profile) -> impl IntoView {
    let data = RwSignal::new(Ok::<Profile, ApiError>(profile));
    let now = RwSignal::new(unix_now());
    let last_fetch = StoredValue::new(unix_now());
    // Leptos never disposes a hydrated island, and the islands router only swaps the DOM: once
    // a navigation has taken this page away, the island must stop on its own (no more ticks,
    // no more profile requests keeping the session busy).
    let root = NodeRef::<leptos::html::Div>::new();
    let gone = move || root.get_untracked().is_some_and(|el| !el.is_connected());

    // Tick every second in the browser (effects do not run on the server), and take the
    // profiles the live channel pushes.
    Effect::new(move |_| {
        session_live::on_profile(data);
        let ticker = StoredValue::new(None::<IntervalHandle>);
        let handle = set_interval_with_handle(
            move || {
                if gone() || session_live::session_ended() {
                    if let Some(h) = ticker.get_value() {
                        h.clear();
                    }
                } else {
                    now.set(unix_now());
                }
            },
            Duration::from_secs(1),
        );
        if let Ok(handle) = handle {
            ticker.set_value(Some(handle));
            on_cleanup(move || handle.clear());
        }
    });
    Effect::new(move |_| {
        let t = now.get();
        // the live channel pushes each refresh; without it, ask (as before the channel)
        if session_live::channel_up() || session_live::session_ended() {
            return;
        }
        let due = data.with_untracked(
            |d| matches!(d, Ok(p) if p.access_token_expires_at.is_some_and(|exp| t >= exp)),
        );
        if due && t - last_fetch.get_value() >= 3 && !gone() {
            last_fetch.set_value(t);
            leptos::task::spawn_local(async move { data.set(get_profile().await) });
        }
    });

    // What is shown changes only between these; the profile itself updates in place.
    let phase = Memo::new(move |_| data.with(|d| d.as_ref().err().cloned()));
    let profile = Current(data);
    view! {
        <div class="live" node_ref=root>
            {move || match phase.get() {
                None => EitherOf3::A(view! { <ProfileView profile now /> }),
                Some(ApiError::Unauthorized) => EitherOf3::B(leave_for_sign_in()),
                Some(error) => EitherOf3::C(view! { <ErrorNotice error /> }),
            }}
        </div>
    }
}

/// The page's current profile, read in place (no copy per read).
#[derive(Clone, Copy)]
struct Current(RwSignal<Result<Profile, ApiError>>);

impl Current {
    fn with<T>(&self, f: impl FnOnce(Option<&Profile>) -> T) -> T {
        self.0.with(|d| f(d.as_ref().ok()))
    }
}

/// Lower case for the claims filter: in the browser through the browser's own Unicode tables
/// (`String.prototype.toLowerCase`), which keeps Rust's case tables out of the WebAssembly.
fn lower(s: &str) -> String {
    #[cfg(not(feature = "ssr"))]
    {
        String::from(leptos::web_sys::js_sys::JsString::from(s).to_lower_case())
    }
    #[cfg(feature = "ssr")]
    {
        s.to_lowercase()
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
        let f = lower(&filter.get());
        profile.with(|p| {
            p.into_iter()
                .flat_map(|p| p.claims.iter())
                .filter(|c| {
                    f.is_empty() || lower(&c.name).contains(&f) || lower(&c.value).contains(&f)
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
                // the visible claims' rows: server-made HTML from escaped text (`Claim::html`)
                <tbody inner_html=move || {
                    visible().iter().map(|c| c.html.as_str()).collect::<String>()
                }></tbody>
            </table>
            <p class="muted" data-testid="claims-count">
                {move || format!("{} of {} claims shown", visible().len(), total())}
            </p>
        </section>
    }
}

/// What makes the page's copy buttons work (`data-copy`: the text; `aria-label`: "Copy
/// <what>"), the claims' among them being server-made HTML: a few lines of JavaScript with
/// the page's CSP nonce rather than WebAssembly (the same in wasm cost 2 KB of the first
/// page's budget), working from the first paint. The clipboard exists only in secure
/// contexts (https, or this machine); elsewhere the buttons do nothing. A status region tells
/// screen readers what was copied.
#[component]
fn CopyButtons() -> impl IntoView {
    const SCRIPT: &str = "addEventListener('click',e=>{const b=e.target.closest&&e.target.closest('[data-copy]');\
        if(!b||!navigator.clipboard)return;navigator.clipboard.writeText(b.dataset.copy).then(()=>{\
        b.textContent='Copied';document.getElementById('copy-status').textContent=\
        b.getAttribute('aria-label').replace(/^Copy /,'')+' copied'},()=>{})})";
    view! {
        <span id="copy-status" class="visually-hidden" role="status"></span>
        <script nonce=leptos::nonce::use_nonce()>{SCRIPT}</script>
    }
}
