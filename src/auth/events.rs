//! Live session events: telling the open tabs of a session, on every instance, that it ended
//! or was refreshed (the channel itself is `super::live`, `GET /auth/events`).
//!
//! - [`EventHub`] is this process's fan-out: one `tokio::sync::broadcast` channel per session
//!   that has an open tab here, created by the first tab's [`Subscription`] and dropped with
//!   the last one. It also counts the open channels (a few per session, a cap per process).
//! - [`EventRelay`] carries a notice to the other instances: Redis pub/sub when sessions are
//!   in Redis (`crate::stores::redis`), nothing for memory and SQLite (one process). A notice
//!   names the session by [`ChannelKey`], a hash of its id, and holds no claim and no token:
//!   an instance that must show new claims reads them from the session store.
//! - Published by the session keeper where a session ends (sign-out, provider sign-out,
//!   expiry, a refused refresh) or is refreshed — see `super::signout` and `super::refresh`.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
};

use sha2::{Digest, Sha256};
use tokio::sync::{broadcast, watch};
use tower_sessions::session::Id;

use super::{store::StoreError, types::EndReason};
use crate::{settings::EventSettings, util::lock};

/// What happened to a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Notice {
    Ended(EndReason),
    /// New tokens (and maybe claims) are in the store.
    Refreshed,
    /// The session continues under a new id (a step-up renewed it): its channels close without
    /// `ended`, and the tabs open them again with the new cookie.
    Moved,
}

impl Notice {
    fn as_str(self) -> &'static str {
        match self {
            Notice::Refreshed => "refreshed",
            Notice::Moved => "moved",
            Notice::Ended(r) => r.as_str(),
        }
    }

    fn parse(s: &str) -> Option<Notice> {
        match s {
            "refreshed" => Some(Notice::Refreshed),
            "moved" => Some(Notice::Moved),
            other => EndReason::parse(other).map(Notice::Ended),
        }
    }
}

/// A session as the event channels name it: the first 16 bytes of a SHA-256 of its id, so
/// relayed messages and logs never carry a session id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ChannelKey([u8; 16]);

impl ChannelKey {
    pub fn of(id: &Id) -> Self {
        let digest = Sha256::new()
            .chain_update(b"signin-events\0")
            .chain_update(id.to_string().as_bytes())
            .finalize();
        let mut key = [0u8; 16];
        key.copy_from_slice(&digest[..16]);
        ChannelKey(key)
    }

    fn hex(&self) -> String {
        crate::util::hex(&self.0)
    }

    fn from_hex(s: &str) -> Option<Self> {
        if s.len() != 32 || !s.is_ascii() {
            return None;
        }
        let mut key = [0u8; 16];
        for (i, b) in key.iter_mut().enumerate() {
            *b = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(ChannelKey(key))
    }
}

/// Carries notices to the other instances sharing the session store.
#[async_trait::async_trait]
pub trait EventRelay: Send + Sync {
    /// Sends `message` (from [`EventHub`]) to every instance; each hands it to
    /// [`EventHub::deliver_relayed`].
    async fn publish(&self, message: String) -> Result<(), StoreError>;
}

/// Why a channel was not opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("too many open channels for this session")]
    Session,
    #[error("too many open channels in this process")]
    Process,
}

struct Channel {
    tx: broadcast::Sender<Notice>,
    streams: usize,
    /// The task that watches the session's deadlines while tabs are open (`super::watch`).
    watcher: Option<tokio::task::AbortHandle>,
}

/// This process's session-event fan-out. One per process (in the session keeper).
pub struct EventHub {
    instance: String,
    channels: Mutex<HashMap<ChannelKey, Channel>>,
    open: AtomicUsize,
    per_session: usize,
    max_streams: usize,
    relay: std::sync::OnceLock<Arc<dyn EventRelay>>,
    closing: watch::Sender<bool>,
}

/// One open channel (a tab). Dropping it closes the channel's share of the session.
pub struct Subscription {
    hub: Arc<EventHub>,
    key: ChannelKey,
    pub notices: broadcast::Receiver<Notice>,
    /// Turns `true` when the process is stopping.
    pub closing: watch::Receiver<bool>,
    /// Whether the session has no running watcher in this process (its first channel here,
    /// or the watcher stopped): the caller starts one.
    pub needs_watcher: bool,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.hub.leave(&self.key);
    }
}

impl EventHub {
    pub fn new(settings: &EventSettings) -> Self {
        use rand::RngCore;
        let mut b = [0u8; 8];
        rand::rngs::OsRng.fill_bytes(&mut b);
        Self {
            instance: crate::util::hex(&b),
            channels: Mutex::default(),
            open: AtomicUsize::new(0),
            per_session: settings.per_session,
            max_streams: settings.max_streams,
            relay: std::sync::OnceLock::new(),
            closing: watch::Sender::new(false),
        }
    }

    /// Sends notices to other instances through `relay` from now on (set once, at start-up).
    pub fn set_relay(&self, relay: Arc<dyn EventRelay>) {
        if self.relay.set(relay).is_err() {
            tracing::warn!("an event relay was already set; keeping the first");
        }
    }

    /// Opens a channel for session `key`, within the limits.
    pub fn subscribe(self: &Arc<Self>, key: ChannelKey) -> Result<Subscription, Refused> {
        let mut channels = lock(&self.channels);
        if self.open.load(Ordering::Relaxed) >= self.max_streams {
            return Err(Refused::Process);
        }
        let channel = channels.entry(key).or_insert_with(|| Channel {
            tx: broadcast::Sender::new(16),
            streams: 0,
            watcher: None,
        });
        if channel.streams >= self.per_session {
            return Err(Refused::Session);
        }
        channel.streams += 1;
        self.open.fetch_add(1, Ordering::Relaxed);
        Ok(Subscription {
            hub: self.clone(),
            key,
            notices: channel.tx.subscribe(),
            closing: self.closing.subscribe(),
            needs_watcher: channel.watcher.as_ref().is_none_or(|w| w.is_finished()),
        })
    }

    /// Keeps `watcher` running while session `key` has open channels here (aborted with the
    /// last one, or at once when there is none any more).
    pub fn set_watcher(&self, key: &ChannelKey, watcher: tokio::task::AbortHandle) {
        let mut channels = lock(&self.channels);
        match channels.get_mut(key) {
            Some(c) => {
                if let Some(old) = c.watcher.replace(watcher) {
                    old.abort();
                }
            }
            None => watcher.abort(),
        }
    }

    /// Hears the notices of session `key` without counting as an open channel (its watcher);
    /// `None` when the session has no open channel here.
    pub fn listen(&self, key: &ChannelKey) -> Option<broadcast::Receiver<Notice>> {
        lock(&self.channels).get(key).map(|c| c.tx.subscribe())
    }

    fn leave(&self, key: &ChannelKey) {
        let mut channels = lock(&self.channels);
        self.open.fetch_sub(1, Ordering::Relaxed);
        if let Some(c) = channels.get_mut(key) {
            c.streams = c.streams.saturating_sub(1);
            if c.streams == 0
                && let Some(c) = channels.remove(key)
                && let Some(w) = c.watcher
            {
                w.abort();
            }
        }
    }

    /// Open channels in this process.
    pub fn open_streams(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    /// Tells this process's open channels of session `key` (no relay).
    pub fn publish_local(&self, key: &ChannelKey, notice: Notice) {
        if notice == Notice::Moved {
            return self.retire_local(key);
        }
        if let Some(c) = lock(&self.channels).get(key) {
            let _ = c.tx.send(notice); // no receiver left: nobody to tell
        }
    }

    /// Session `id` continues under another id (a step-up renewed it): everywhere, its
    /// channels close without `ended` (the tabs open them again, with the new cookie) and its
    /// watcher stops. Nothing is published for the old id afterwards here: its channel is gone.
    pub fn retire(&self, id: &Id) {
        self.publish(id, Notice::Moved);
    }

    /// Closes session `key`'s channels here with [`Notice::Moved`] and stops its watcher.
    fn retire_local(&self, key: &ChannelKey) {
        if let Some(c) = lock(&self.channels).remove(key) {
            let _ = c.tx.send(Notice::Moved);
            if let Some(w) = c.watcher {
                w.abort();
            }
        }
    }

    /// Tells the open channels of session `id` here and, through the relay, everywhere. The
    /// relay is sent to in the background: a slow or unavailable store never holds up the
    /// sign-out or refresh that caused the notice (the other instances' watchers re-read the
    /// session at their next heartbeat).
    pub fn publish(&self, id: &Id, notice: Notice) {
        let key = ChannelKey::of(id);
        self.publish_local(&key, notice);
        if let Some(relay) = self.relay.get() {
            let relay = relay.clone();
            let message = format!("{} {} {}", self.instance, key.hex(), notice.as_str());
            tokio::spawn(async move {
                if let Err(e) = relay.publish(message).await {
                    tracing::warn!(error = %e, "could not relay a session event to the other instances");
                }
            });
        }
    }

    /// A message another instance published (through the relay); this instance's own are
    /// ignored (they were delivered here already), as is anything malformed.
    pub fn deliver_relayed(&self, message: &str) {
        let mut parts = message.split(' ');
        let (Some(instance), Some(key), Some(notice), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return;
        };
        if instance == self.instance {
            return;
        }
        if let (Some(key), Some(notice)) = (ChannelKey::from_hex(key), Notice::parse(notice)) {
            self.publish_local(&key, notice);
        }
    }

    /// Ends every open channel (the process is stopping, so the graceful stop need not wait
    /// for them).
    pub fn close_all(&self) {
        self.closing.send_replace(true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn hub(per_session: usize, max_streams: usize) -> Arc<EventHub> {
        Arc::new(EventHub::new(&EventSettings {
            heartbeat: Duration::from_secs(15),
            per_session,
            max_streams,
        }))
    }

    #[tokio::test]
    async fn limits_per_session_and_per_process_and_release_on_drop() {
        let hub = hub(2, 3);
        let (a, b) = (ChannelKey::of(&Id(1)), ChannelKey::of(&Id(2)));
        let a1 = hub.subscribe(a).unwrap();
        assert!(a1.needs_watcher);
        let watcher = tokio::spawn(std::future::pending::<()>());
        hub.set_watcher(&a, watcher.abort_handle());
        let a2 = hub.subscribe(a).unwrap();
        assert!(!a2.needs_watcher, "one watcher per session");
        watcher.abort();
        let _ = watcher.await;
        let a3 = hub.subscribe(a);
        assert_eq!(a3.err(), Some(Refused::Session));
        drop(a2);
        assert!(
            hub.subscribe(a).unwrap().needs_watcher,
            "a stopped watcher is started again"
        );
        let a2 = hub.subscribe(a).unwrap();
        assert_eq!(hub.subscribe(a).err(), Some(Refused::Session));
        let _b1 = hub.subscribe(b).unwrap();
        assert_eq!(hub.subscribe(b).err(), Some(Refused::Process));
        drop(a1);
        assert_eq!(hub.open_streams(), 2);
        let _b2 = hub.subscribe(b).unwrap();
        drop(a2);
        assert!(
            hub.subscribe(a).unwrap().needs_watcher,
            "the channel was dropped with its last tab"
        );
    }

    #[tokio::test]
    async fn relayed_messages_reach_the_right_session_and_never_echo() {
        let (here, there) = (hub(4, 10), hub(4, 10));
        let id = Id(42);
        let mut sub = there.subscribe(ChannelKey::of(&id)).unwrap();
        let mut other = there.subscribe(ChannelKey::of(&Id(43))).unwrap();
        let message = format!(
            "{} {} {}",
            here.instance,
            ChannelKey::of(&id).hex(),
            Notice::Ended(EndReason::Provider).as_str()
        );
        there.deliver_relayed(&message);
        assert_eq!(
            sub.notices.try_recv().unwrap(),
            Notice::Ended(EndReason::Provider)
        );
        assert!(other.notices.try_recv().is_err());
        // its own message, or garbage: nothing
        let own = message.replacen(&here.instance, &there.instance, 1);
        for m in [own.as_str(), "x", "a b c d", "a zz refreshed", ""] {
            there.deliver_relayed(m);
        }
        assert!(sub.notices.try_recv().is_err());
    }
}
