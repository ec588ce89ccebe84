//! The signed-in part of the navigation bar, live: the [`SessionLive`] island listens to the
//! session's live channel (`GET /auth/events`, Server-Sent Events; see `crate::auth::live`).
//!
//! - `ended`: the bar switches to the signed-out state and a non-blocking notice says so, with
//!   "Sign in again" back to this very page. Nothing else on the page changes: what the person
//!   typed or opened stays. The notice is a live region (`role="alert"`), and its link is in
//!   the tab order.
//! - `refreshed`: the new profile (display claims and times) goes to the page's other islands
//!   through [`live`] — the profile page updates without asking.
//! - `ping`: the heartbeat. After 70 s without a word the channel is opened again.
//!
//! The browser's own reconnection is not used: on an error the channel is closed and opened
//! again after 1 s, 2 s, 4 s … up to 60 s (with jitter), and [`Live::connected`] tells the
//! other islands whether it is up — without it, the profile page asks the server itself when
//! its access token expires (the behaviour before the channel existed). The island stops for
//! good once the session ended, the person signs out here, or a navigation took it away.

use leptos::either::Either;
use leptos::prelude::*;

use crate::auth::{
    guard::current_path,
    return_to::login_url,
    types::{EndReason, Profile},
};

/// What the live channel has said so far on this page, shared by its islands (contexts do not
/// reach from one island to another).
#[derive(Clone, Debug, Default)]
pub struct Live {
    pub connected: bool,
    pub ended: Option<EndReason>,
    /// The newest profile the server pushed.
    pub profile: Option<Profile>,
}

thread_local! {
    static LIVE: ArcRwSignal<Live> = ArcRwSignal::new(Live::default());
}

/// The page's live state (read it in effects: only the browser fills it).
pub fn live() -> ArcRwSignal<Live> {
    LIVE.with(Clone::clone)
}

/// The person's name and the sign-out button; after the session ended, the sign-in link and
/// the notice.
#[island]
pub fn SessionLive(name: String) -> impl IntoView {
    let ended = RwSignal::new(None::<EndReason>);
    let root = NodeRef::<leptos::html::Span>::new();
    let leaving = StoredValue::new(false);
    Effect::new(move |_| {
        #[cfg(feature = "hydrate")]
        browser::start(root, ended, leaving);
    });
    let sign_in = move || login_url(&current_path());
    view! {
        <span class="session-live" node_ref=root>
            {move || match ended.get() {
                // Sign-out is a plain form POST to `/logout`, which ends the session and
                // redirects (303) to the provider's end-session endpoint; `data-leave` keeps the
                // islands router from turning it into a `fetch` (`app::LeaveAppForms`), so it
                // works the same with or without JavaScript.
                None => Either::Left(view! {
                    <span class="user" data-testid="nav-user">{name.clone()}</span>
                    <form method="post" action="/logout" class="inline" data-leave="">
                        <button
                            type="submit"
                            class="button secondary"
                            data-testid="sign-out"
                            on:click=move |_| {
                                leaving.set_value(true);
                                #[cfg(feature = "hydrate")]
                                browser::stop();
                            }
                        >
                            "Sign out"
                        </button>
                    </form>
                }),
                Some(_) => Either::Right(view! {
                    <a href=sign_in() rel="external" class="button" data-testid="nav-sign-in">
                        "Sign in"
                    </a>
                }),
            }}
            <div class="session-notice" role="alert" data-testid="session-notice">
                {move || ended.get().map(|why| view! {
                    <p>{why.message()}</p>
                    <a href=sign_in() rel="external" class="button" data-testid="sign-in-again">
                        "Sign in again"
                    </a>
                })}
            </div>
        </span>
    }
}

/// The channel itself (browser only): one `EventSource` at a time, reopened with back-off.
#[cfg(feature = "hydrate")]
mod browser {
    use std::{cell::RefCell, time::Duration};

    use leptos::prelude::*;
    use leptos::web_sys::{EventSource, MessageEvent, js_sys};
    use wasm_bindgen::{JsCast, closure::Closure};

    use super::{Live, live};
    use crate::auth::{
        routes::EVENTS_PATH,
        types::{EndReason, Profile},
    };

    /// Silence after which the channel is taken for dead (the server's heartbeat is at most
    /// 30 s).
    const SILENCE_MS: f64 = 70_000.0;
    const MAX_DELAY_MS: f64 = 60_000.0;

    /// The page's one channel, owned by the newest `SessionLive` island (`generation`): after
    /// the islands router replaced the island, the old one's timers leave it alone.
    #[derive(Default)]
    struct Channel {
        generation: u32,
        source: Option<EventSource>,
        attempts: u32,
        last_heard: f64,
        stopped: bool,
        on_message: Option<Closure<dyn FnMut(MessageEvent)>>,
        on_open: Option<Closure<dyn FnMut()>>,
        on_error: Option<Closure<dyn FnMut()>>,
    }

    thread_local! {
        static CHANNEL: RefCell<Channel> = RefCell::default();
    }

    fn now() -> f64 {
        js_sys::Date::now()
    }

    fn update(f: impl FnOnce(&mut Live)) {
        live().update(f);
    }

    pub fn start(
        root: NodeRef<leptos::html::Span>,
        ended: RwSignal<Option<EndReason>>,
        leaving: StoredValue<bool>,
    ) {
        let generation = CHANNEL.with_borrow_mut(|c| {
            if let Some(s) = c.source.take() {
                s.close();
            }
            c.generation = c.generation.wrapping_add(1);
            c.stopped = false;
            c.attempts = 0;
            c.generation
        });
        // a new island: what the channel told an earlier one is over
        live().set(Live::default());
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |ev: MessageEvent| {
            // heard from the server: the back-off starts again from its shortest delay (an
            // answer that opens and closes at once does not reset it)
            CHANNEL.with_borrow_mut(|c| {
                c.last_heard = now();
                c.attempts = 0;
            });
            let data = ev.data().as_string().unwrap_or_default();
            match ev.type_().as_str() {
                "ended" => {
                    if !leaving.get_value() {
                        let why = EndReason::parse(&data).unwrap_or(EndReason::SignedOut);
                        update(|l| l.ended = Some(why));
                        ended.set(Some(why));
                    }
                    stop();
                }
                "refreshed" => {
                    // the same deserializer `JsonText` uses (one copy in the wasm)
                    if let Ok(profile) = serde_json::from_str::<Profile>(&data) {
                        update(|l| l.profile = Some(profile));
                    }
                }
                _ => {}
            }
        });
        let on_open = Closure::<dyn FnMut()>::new(move || {
            CHANNEL.with_borrow_mut(|c| c.last_heard = now());
            update(|l| l.connected = true);
        });
        let on_error = Closure::<dyn FnMut()>::new(reopen_later);
        CHANNEL.with_borrow_mut(|c| {
            c.on_message = Some(on_message);
            c.on_open = Some(on_open);
            c.on_error = Some(on_error);
        });
        open();

        // The watchdog: a channel gone silent is reopened; an island a navigation took away
        // stops (Leptos never disposes a hydrated island).
        let watchdog = StoredValue::new(None::<IntervalHandle>);
        let handle = set_interval_with_handle(
            move || {
                let gone = root.get_untracked().is_some_and(|el| !el.is_connected());
                let (stopped, replaced) =
                    CHANNEL.with_borrow(|c| (c.stopped, c.generation != generation));
                if gone || stopped || replaced {
                    if !replaced {
                        stop();
                    }
                    if let Some(h) = watchdog.get_value() {
                        h.clear();
                    }
                } else if CHANNEL
                    .with_borrow(|c| c.source.is_some() && now() - c.last_heard > SILENCE_MS)
                {
                    reopen_later();
                }
            },
            Duration::from_secs(5),
        );
        if let Ok(h) = handle {
            watchdog.set_value(Some(h));
        }
    }

    fn open() {
        CHANNEL.with_borrow_mut(|c| {
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
            source.set_onopen(c.on_open.as_ref().map(|f| f.as_ref().unchecked_ref()));
            source.set_onerror(c.on_error.as_ref().map(|f| f.as_ref().unchecked_ref()));
            c.last_heard = now();
            c.source = Some(source);
        });
    }

    /// Closes the channel and opens it again after a growing, jittered delay.
    fn reopen_later() {
        let delay = CHANNEL.with_borrow_mut(|c| {
            if let Some(s) = c.source.take() {
                s.close();
            }
            let base = (1000.0 * 2f64.powi(c.attempts.min(16) as i32)).min(MAX_DELAY_MS);
            c.attempts += 1;
            base * (0.5 + js_sys::Math::random() / 2.0)
        });
        update(|l| l.connected = false);
        set_timeout(open, Duration::from_millis(delay as u64));
    }

    /// Closes the channel for good.
    pub fn stop() {
        CHANNEL.with_borrow_mut(|c| {
            c.stopped = true;
            if let Some(s) = c.source.take() {
                s.close();
            }
        });
        update(|l| l.connected = false);
    }
}
