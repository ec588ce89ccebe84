//! The signed-in part of the navigation bar, live: the [`SessionLive`] island listens to the
//! session's live channel (`GET /auth/events`, Server-Sent Events; see `crate::auth::live`).
//!
//! - `ended`: the bar switches to the signed-out state and a non-blocking notice says so, with
//!   "Sign in again" back to this very page. Nothing else on the page changes: what the person
//!   typed or opened stays. The notice is a live region (`role="alert"`), and its link is in
//!   the tab order.
//! - `refreshed`: the new profile (display claims and times) goes to the profile page's
//!   island through [`on_profile`] — it updates without asking — and the person to the
//!   islands' `use_user()` (`crate::auth::guard`), which `ended` sets to `None`.
//! - `ping`: the heartbeat. After 70 s without a word the channel is opened again.
//!
//! The browser's own reconnection is not used: on an error the channel is closed and opened
//! again after 1 s, 2 s, 4 s … up to 60 s (with jitter), and [`channel_up`] tells the other
//! islands whether it is up — without it, the profile page asks the server itself when
//! its access token expires (the behaviour before the channel existed). The island stops for
//! good once the session ended, the person signs out here, or a navigation took it away.

use leptos::prelude::*;

/// The live part of a signed-in person's navigation bar: the notice, a live region that stays
/// empty until the session ends. The island has no props and no reactive view: the browser
/// code changes the bar in place once, when the session ends (this keeps it small in the
/// WebAssembly). The name and the sign-out form beside it are plain server HTML
/// (`crate::components::nav`), marked `.signed-in`.
#[island]
pub fn SessionLive() -> impl IntoView {
    #[cfg(feature = "hydrate")]
    browser::start();
    view! { <div class="session-notice" role="alert" data-testid="session-notice"></div> }
}

/// Whether the live channel is connected now (always `false` on the server).
pub fn channel_up() -> bool {
    #[cfg(feature = "hydrate")]
    return browser::with(|c| c.connected);
    #[cfg(not(feature = "hydrate"))]
    false
}

/// Whether the channel said the session ended.
pub fn session_ended() -> bool {
    #[cfg(feature = "hydrate")]
    return browser::with(|c| c.ended);
    #[cfg(not(feature = "hydrate"))]
    false
}

/// Where the profile the server pushes goes from now on: `into`, when it is newer than the
/// one there (one sink: the page's profile island; a newer island replaces it).
pub fn on_profile(into: ProfileSink) {
    #[cfg(feature = "hydrate")]
    browser::with(move |c| c.on_profile = Some(into));
    #[cfg(not(feature = "hydrate"))]
    let _ = into;
}

/// The profile island's state, which a pushed profile replaces.
pub type ProfileSink = RwSignal<Result<crate::auth::types::Profile, crate::auth::types::ApiError>>;

/// The channel itself (browser only): one `EventSource` at a time, reopened with back-off.
#[cfg(feature = "hydrate")]
mod browser {
    use std::{cell::RefCell, time::Duration};

    use leptos::prelude::*;
    use leptos::web_sys::{Element, EventSource, MessageEvent, js_sys};
    use wasm_bindgen::{JsCast, closure::Closure};

    use crate::auth::{routes::EVENTS_PATH, types::Profile};

    /// Silence after which the channel is taken for dead (the server's heartbeat is at most
    /// 30 s).
    const SILENCE_MS: f64 = 70_000.0;
    const MAX_DELAY_MS: f64 = 60_000.0;

    /// The page's one channel, owned by the newest `SessionLive` island (`generation`): after
    /// the islands router replaced the island, the old one's timers leave it alone.
    #[derive(Default)]
    pub struct Channel {
        generation: u32,
        source: Option<EventSource>,
        attempts: u32,
        last_heard: f64,
        stopped: bool,
        pub connected: bool,
        pub ended: bool,
        pub on_profile: Option<super::ProfileSink>,
        on_message: Option<Closure<dyn FnMut(MessageEvent)>>,
        on_error: Option<Closure<dyn FnMut()>>,
        on_sign_out: Option<Closure<dyn FnMut()>>,
    }

    thread_local! {
        static CHANNEL: RefCell<Channel> = RefCell::default();
    }

    pub fn with<T>(f: impl FnOnce(&mut Channel) -> T) -> T {
        CHANNEL.with_borrow_mut(f)
    }

    fn now() -> f64 {
        js_sys::Date::now()
    }

    fn find(selector: &str) -> Option<Element> {
        document().query_selector(selector).ok().flatten()
    }

    pub fn start() {
        let generation = with(|c| {
            if let Some(s) = c.source.take() {
                s.close();
            }
            c.generation = c.generation.wrapping_add(1);
            c.stopped = false;
            c.ended = false;
            c.connected = false;
            c.attempts = 0;
            c.on_message = Some(Closure::new(on_message));
            c.on_error = Some(Closure::new(reopen_later));
            // Signing out in this tab stops the channel first: no notice for one's own sign-out.
            let on_sign_out = Closure::<dyn FnMut()>::new(stop);
            if let Some(button) = find("[data-testid=sign-out]") {
                let _ = button.add_event_listener_with_callback(
                    "click",
                    on_sign_out.as_ref().unchecked_ref(),
                );
            }
            c.on_sign_out = Some(on_sign_out);
            c.generation
        });
        open();

        // The watchdog: a channel gone silent is reopened; once a navigation took the island
        // away it stops (Leptos never disposes a hydrated island).
        let watchdog = StoredValue::new(None::<IntervalHandle>);
        let handle = set_interval_with_handle(
            move || {
                let (stopped, replaced, silent) = with(|c| {
                    (
                        c.stopped,
                        c.generation != generation,
                        c.source.is_some() && now() - c.last_heard > SILENCE_MS,
                    )
                });
                if stopped || replaced || find(".session-notice").is_none() {
                    if !replaced {
                        stop();
                    }
                    if let Some(h) = watchdog.get_value() {
                        h.clear();
                    }
                } else if silent {
                    reopen_later();
                }
            },
            Duration::from_secs(5),
        );
        if let Ok(h) = handle {
            watchdog.set_value(Some(h));
        }
    }

    fn on_message(ev: MessageEvent) {
        // heard from the server: the back-off starts again from its shortest delay (an
        // answer that opens and closes at once does not reset it)
        let stopped = with(|c| {
            c.last_heard = now();
            c.attempts = 0;
            c.connected = true;
            c.stopped
        });
        if stopped {
            return;
        }
        let data = ev.data().as_string().unwrap_or_default();
        match ev.type_().as_str() {
            "ended" => {
                // "reason\nwhat to tell the person" (the words come from the server)
                let message = data
                    .split_once('\n')
                    .map_or("You have been signed out.", |(_, m)| m);
                stop();
                with(|c| c.ended = true);
                crate::auth::guard::user_changed(None);
                super::show_ended(message);
            }
            "refreshed" => {
                // the same deserializer `JsonText` uses (one copy in the wasm)
                let Ok(pushed) = serde_json::from_str::<Profile>(&data) else {
                    return;
                };
                crate::auth::guard::user_changed(Some(pushed.user.clone()));
                if let Some(sink) = with(|c| c.on_profile) {
                    // newer only: a push may predate the page
                    let newer = sink.with_untracked(|d| {
                        d.as_ref()
                            .is_ok_and(|p| pushed.server_time >= p.server_time)
                    });
                    if newer {
                        sink.set(Ok(pushed));
                    }
                }
            }
            _ => {}
        }
    }

    fn open() {
        with(|c| {
            if c.stopped || c.source.is_some() {
                return;
            }
            let Ok(source) = EventSource::new(EVENTS_PATH) else {
                return;
            };
            if let Some(f) = &c.on_message {
                for name in ["ended", "refreshed", "ping"] {
                    let _ =
                        source.add_event_listener_with_callback(name, f.as_ref().unchecked_ref());
                }
            }
            source.set_onerror(c.on_error.as_ref().map(|f| f.as_ref().unchecked_ref()));
            c.last_heard = now();
            c.source = Some(source);
        });
    }

    /// Closes the channel and opens it again after a growing, jittered delay.
    fn reopen_later() {
        let delay = with(|c| {
            if let Some(s) = c.source.take() {
                s.close();
            }
            c.connected = false;
            let base = f64::from(1000u32 << c.attempts.min(6)).min(MAX_DELAY_MS);
            c.attempts += 1;
            base * (0.5 + js_sys::Math::random() / 2.0)
        });
        set_timeout(open, Duration::from_millis(delay as u64));
    }

    /// Closes the channel for good.
    pub fn stop() {
        with(|c| {
            c.stopped = true;
            c.connected = false;
            if let Some(s) = c.source.take() {
                s.close();
            }
        });
    }
}

/// Switches the navigation bar to "signed out" and fills the notice (browser only; once).
#[cfg(feature = "hydrate")]
fn show_ended(message: &str) -> Option<()> {
    let href = crate::auth::return_to::login_url(&crate::auth::guard::current_path());
    let document = document();
    let link = |testid: &str, text: &str| -> Option<leptos::web_sys::Node> {
        let a = document.create_element("a").ok()?;
        for (name, value) in [
            ("href", href.as_str()),
            ("rel", "external"),
            ("class", "button"),
            ("data-testid", testid),
        ] {
            a.set_attribute(name, value).ok()?;
        }
        a.set_text_content(Some(text));
        Some(a.into())
    };
    let signed_in = document.query_selector(".signed-in").ok()??;
    signed_in
        .replace_with_with_node_1(&link("nav-sign-in", "Sign in")?)
        .ok()?;
    let notice = document.query_selector(".session-notice").ok()??;
    let text = document.create_element("p").ok()?;
    text.set_text_content(Some(message));
    notice.append_child(&text).ok()?;
    notice
        .append_child(&link("sign-in-again", "Sign in again")?)
        .ok()?;
    Some(())
}
