//! `SESSION_STORE=redis://HOST:PORT`: sessions as Redis keys (each expiring with its session;
//! tower-sessions-redis-store reads and deletes them), plus, under the `signin:` prefix:
//! - `signin:lock:<session>`: the cross-instance refresh lock (`SET NX PX`, released by a
//!   compare-and-delete script);
//! - `signin:idx:<key>`: the session index, a set of session ids per key, expiring with the
//!   longest-lived session in it (members of ended sessions are dropped on lookup);
//! - `signin:used:<key>`: the replay cache (`SET NX EXAT`);
//! - `signin:sessions`: every record's id scored by its expiry (milliseconds), kept with each
//!   write and delete, so `/metrics` counts sessions without scanning the keyspace (expired
//!   members are trimmed on every write);
//! - `signin:events`: the pub/sub channel carrying session events between instances
//!   ([`relay`]).
//!
//! Records are written here, not by the record store (which only reads and deletes them):
//! `SET … NX` to create, `SET … XX` for every write of an existing record — the auth code's
//! conditional write and the session layer's `save` — with the record encoded exactly as the
//! store encodes it (MessagePack of the `Record`) and its expiry to the millisecond (`PXAT`),
//! so a record deleted by a sign-out, or expired, is never re-created.

use std::{sync::Arc, time::Duration};

use fred::{
    prelude::{
        Builder, Client, ClientLike, Config, EventInterface, Expiration, KeysInterface,
        LuaInterface, Pool, PubsubInterface, ReconnectPolicy, SetOptions, SetsInterface,
        SortedSetsInterface, TrackingInterface, Value,
    },
    types::{ExpireOptions, RespVersion},
};
use tower_sessions::{
    SessionStore,
    session::{Id, Record},
    session_store,
};
use tower_sessions_redis_store::RedisStore as RecordStore;

use super::{Release, lock_token, poll_until};
use crate::auth::{
    error::AuthError,
    events::{EventHub, EventRelay},
    refresh::RemoteLock,
    state_cache::{StateCache, TRACKED_TTL},
    store::{SessionBackend, StoreError},
};

#[derive(Debug)]
pub struct RedisStore {
    records: RecordStore<Pool>,
    pool: Pool,
    /// Reads records, with RESP3 client tracking on ([`track`]).
    tracked: Client,
}

/// A client for `url` (speaking `version` when given): every command (and the connection)
/// given at most `timeout`, tried once, reconnecting with backoff.
fn builder(
    url: &str,
    timeout: Duration,
    version: Option<RespVersion>,
) -> Result<Builder, StoreError> {
    let mut config =
        Config::from_url(url).map_err(|e| StoreError(format!("invalid redis URL: {e}")))?;
    if let Some(version) = version {
        config.version = version;
    }
    let mut builder = Builder::from_config(config);
    builder
        .with_connection_config(|c| {
            c.connection_timeout = timeout;
            c.internal_command_timeout = timeout;
            c.max_command_attempts = 1;
        })
        .with_performance_config(|p| {
            p.default_command_timeout = timeout;
        })
        .set_policy(ReconnectPolicy::new_exponential(0, 100, 2000, 2));
    Ok(builder)
}

/// `timeout`: how long a command may take before the request gives up
/// (`SESSION_STORE_TIMEOUT_SECS`). Records are read on a connection of their own with client
/// tracking, which keeps `cache` right ([`track`]).
pub async fn connect(
    url: &str,
    timeout: std::time::Duration,
    cache: &Arc<StateCache>,
) -> Result<(RedisStore, RedisLock), StoreError> {
    let pool = builder(url, timeout, None)?
        .build_pool(4)
        .map_err(|e| StoreError(format!("cannot configure the redis client: {e}")))?;
    match tokio::time::timeout(timeout * 2, pool.init()).await {
        Ok(Ok(_task)) => {}
        Ok(Err(e)) => return Err(StoreError(format!("cannot connect: {e}"))),
        Err(_) => return Err(StoreError("cannot connect: timed out".into())),
    }
    let tracked = track(url, timeout, cache).await?;
    Ok((
        RedisStore {
            records: RecordStore::new(pool.clone()),
            pool: pool.clone(),
            tracked,
        },
        RedisLock { pool },
    ))
}

/// Turns tracking on for the current connection, then the (emptied) cache; `false` when it
/// could not (the cache stays off).
async fn retrack(client: &Client, cache: &StateCache) -> bool {
    match client
        .start_tracking(Vec::<String>::new(), false, false, false, false)
        .await
    {
        Ok(()) => {
            cache.set_enabled(true);
            true
        }
        Err(e) => {
            tracing::warn!(error = %e, "redis: client tracking could not be turned on again; sessions are not cached");
            false
        }
    }
}

/// A RESP3 connection with client tracking (Redis' server-assisted client-side caching): Redis
/// remembers the keys read on it and, when any client changes or deletes one (another
/// instance's sign-out, refresh, touch; an expiry), pushes an invalidation naming it, which
/// drops that session from `cache`. An invalidation without keys (a flush) empties it. Lost
/// connection: the cache is off until the connection is back and tracking again (a reconnect
/// does not restore tracking by itself), then starts empty.
async fn track(
    url: &str,
    timeout: Duration,
    cache: &Arc<StateCache>,
) -> Result<Client, StoreError> {
    let client = builder(url, timeout, Some(RespVersion::RESP3))?
        .build()
        .map_err(|e| StoreError(format!("cannot configure the redis client: {e}")))?;
    // listen before anything is read, so no invalidation is missed
    let mut invalidations = client.invalidation_rx();
    let mut reconnects = client.reconnect_rx();
    let mut errors = client.error_rx();
    match tokio::time::timeout(timeout * 2, client.init()).await {
        Ok(Ok(_task)) => {}
        Ok(Err(e)) => return Err(StoreError(format!("cannot connect: {e}"))),
        Err(_) => return Err(StoreError("cannot connect: timed out".into())),
    }
    client
        .start_tracking(Vec::<String>::new(), false, false, false, false)
        .await
        .map_err(|e| {
            StoreError(format!(
                "cannot turn on client tracking (Redis 6 or newer is needed): {e}"
            ))
        })?;
    cache.set_enabled(true);
    let (weak, tracker) = (Arc::downgrade(cache), client.clone());
    tokio::spawn(async move {
        use tokio::sync::broadcast::error::RecvError;
        let mut alive = tokio::time::interval(TRACKED_TTL);
        // whether the connection tracks now (the cache is on only then)
        let mut tracking = true;
        loop {
            tokio::select! {
                // errors first: an error and the reconnect after it, both pending, must
                // leave the cache on (the reconnect turns tracking on again), not off
                biased;
                got = errors.recv() => {
                    let Some(cache) = weak.upgrade() else { break };
                    if matches!(got, Err(RecvError::Closed)) {
                        break;
                    }
                    tracking = false;
                    cache.set_enabled(false);
                }
                got = invalidations.recv() => {
                    let Some(cache) = weak.upgrade() else { break };
                    match got {
                        Ok(invalidation) if invalidation.keys.is_empty() => cache.invalidate_all(),
                        Ok(invalidation) => {
                            for key in &invalidation.keys {
                                // keys that are not session ids are not cached
                                if let Some(id) = key.as_str().and_then(|k| k.parse::<Id>().ok()) {
                                    cache.invalidate(&id);
                                }
                            }
                        }
                        Err(RecvError::Lagged(_)) => cache.invalidate_all(),
                        Err(RecvError::Closed) => break,
                    }
                }
                got = reconnects.recv() => {
                    let Some(cache) = weak.upgrade() else { break };
                    if matches!(got, Err(RecvError::Closed)) {
                        break;
                    }
                    // the new connection tracks nothing yet: tracking on again, then the
                    // (emptied) cache
                    cache.set_enabled(false);
                    tracking = retrack(&tracker, &cache).await;
                }
                _ = alive.tick() => {
                    let Some(cache) = weak.upgrade() else { break };
                    // an error after the reconnect that followed it, or a failed attempt:
                    // try again while connected
                    if !tracking && tracker.is_connected() {
                        tracking = retrack(&tracker, &cache).await;
                    }
                }
            }
        }
        let _ = tracker.quit().await;
    });
    Ok(client)
}

fn index_key(key: &str) -> String {
    format!("signin:idx:{key}")
}

/// The expiry of `record` to the millisecond (`EXAT`, which the record store uses, rounds
/// down to the second: a record could vanish up to a second early).
fn expires(record: &Record) -> Expiration {
    Expiration::PXAT((record.expiry_date.unix_timestamp_nanos() / 1_000_000) as i64)
}

/// The sorted set of session ids by expiry (see the module documentation).
const SESSIONS: &str = "signin:sessions";

/// `SET` the record (`NX` or `XX`, `PXAT`) and, when it was written, score it in
/// [`SESSIONS`]; expired members are trimmed. One round trip, atomic.
const SET_RECORD: &str = "\
local ok = redis.call('SET', KEYS[1], ARGV[1], 'PXAT', ARGV[2], ARGV[3]) \
if not ok then return 0 end \
redis.call('ZADD', KEYS[2], ARGV[2], KEYS[1]) \
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[4]) \
return 1";

impl RedisStore {
    /// `SET id record PXAT … NX|XX`, encoded exactly as the record store decodes it; `false`
    /// when the condition failed (Redis answers nil — which fred will not turn into a `bool`,
    /// so the record store's own `create`/`save` failed there with a bare 500).
    async fn set_record(&self, record: &Record, only: SetOptions) -> Result<bool, StoreError> {
        let data = rmp_serde::to_vec(record).map_err(StoreError::new)?;
        let Expiration::PXAT(at) = expires(record) else {
            return Err(StoreError("unexpected expiry form".into()));
        };
        let only = match only {
            SetOptions::NX => "NX",
            SetOptions::XX => "XX",
        };
        let set: i64 = self
            .pool
            .eval(
                SET_RECORD,
                vec![record.id.to_string(), SESSIONS.to_string()],
                vec![
                    Value::Bytes(data.into()),
                    Value::Integer(at),
                    Value::from(only),
                    Value::Integer(crate::util::now_ms()),
                ],
            )
            .await
            .map_err(StoreError::new)?;
        Ok(set == 1)
    }
}

#[async_trait::async_trait]
impl SessionStore for RedisStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        // a taken id (never in practice: 128 random bits) gets a new one
        while !self.set_record(record, SetOptions::NX).await? {
            record.id = Id::default();
        }
        Ok(())
    }
    /// Updates the record only if it still exists: one deleted meanwhile (a sign-out) or
    /// expired is not written back.
    async fn save(&self, record: &Record) -> session_store::Result<()> {
        Ok(self.set_record(record, SetOptions::XX).await.map(drop)?)
    }
    /// Read on the tracking connection (so a change by anyone invalidates what this process
    /// cached), decoded as the record store decodes it.
    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let data: Option<Vec<u8>> = self
            .tracked
            .get(id.to_string())
            .await
            .map_err(StoreError::new)?;
        match data {
            Some(data) => Ok(Some(rmp_serde::from_slice(&data).map_err(StoreError::new)?)),
            None => Ok(None),
        }
    }
    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.records.delete(id).await?;
        let _: i64 = self
            .pool
            .zrem(SESSIONS, id.to_string())
            .await
            .map_err(StoreError::new)?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl SessionBackend for RedisStore {
    async fn save_existing(&self, record: &Record) -> Result<bool, StoreError> {
        self.set_record(record, SetOptions::XX).await
    }

    async fn index_add(&self, keys: &[String], id: &Id, until: i64) -> Result<(), StoreError> {
        for key in keys {
            let key = index_key(key);
            let _: i64 = self
                .pool
                .sadd(&key, id.to_string())
                .await
                .map_err(StoreError::new)?;
            // the set lives as long as its longest-lived member (GT: never shortened; NX: a
            // set without expiry yet gets one)
            for option in [ExpireOptions::NX, ExpireOptions::GT] {
                let _: i64 = self
                    .pool
                    .expire_at(&key, until, Some(option))
                    .await
                    .map_err(StoreError::new)?;
            }
        }
        Ok(())
    }

    async fn index_remove(&self, keys: &[String], id: &Id) -> Result<(), StoreError> {
        for key in keys {
            let _: i64 = self
                .pool
                .srem(index_key(key), id.to_string())
                .await
                .map_err(StoreError::new)?;
        }
        Ok(())
    }

    async fn index_lookup(&self, key: &str) -> Result<Vec<Id>, StoreError> {
        let ids: Vec<String> = self
            .pool
            .smembers(index_key(key))
            .await
            .map_err(StoreError::new)?;
        Ok(ids.into_iter().filter_map(|id| id.parse().ok()).collect())
    }

    async fn first_use(&self, key: &str, until: i64) -> Result<bool, StoreError> {
        let set: Option<String> = self
            .pool
            .set(
                format!("signin:used:{key}"),
                "1",
                Some(Expiration::EXAT(until)),
                Some(SetOptions::NX),
                false,
            )
            .await
            .map_err(StoreError::new)?;
        Ok(set.is_some())
    }

    async fn release_use(&self, key: &str) -> Result<(), StoreError> {
        let _: i64 = self
            .pool
            .del(format!("signin:used:{key}"))
            .await
            .map_err(StoreError::new)?;
        Ok(())
    }

    async fn count_sessions(&self) -> Result<u64, StoreError> {
        let now = crate::util::now_ms();
        let n: u64 = self
            .pool
            .zcount(SESSIONS, (now + 1) as f64, f64::INFINITY)
            .await
            .map_err(StoreError::new)?;
        Ok(n)
    }
}

/// The refresh lock: `SET key token NX PX ttl`, released only by its holder.
pub struct RedisLock {
    pool: Pool,
}

const RELEASE: &str = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

#[async_trait::async_trait]
impl RemoteLock for RedisLock {
    async fn acquire(
        &self,
        key: &str,
        ttl: Duration,
        wait: Duration,
    ) -> Result<Option<Box<dyn Send + Sync>>, AuthError> {
        let token = lock_token();
        let got = poll_until(wait, || async {
            let set: Option<String> = self
                .pool
                .set(
                    key,
                    token.as_str(),
                    Some(Expiration::PX(ttl.as_millis() as i64)),
                    Some(SetOptions::NX),
                    false,
                )
                .await
                .map_err(AuthError::store)?;
            Ok(set.is_some())
        })
        .await?;
        let (pool, key) = (self.pool.clone(), key.to_string());
        Ok(got.then(|| {
            // only if still ours
            Release::with(move || async move {
                let released: Result<i64, _> = pool.eval(RELEASE, vec![key], vec![token]).await;
                released.map(drop).map_err(StoreError::new)
            })
        }))
    }
}

/// The pub/sub channel that carries session events between instances (`crate::auth::events`).
const EVENTS_CHANNEL: &str = "signin:events";

/// Session events between instances over Redis pub/sub: published by a client of its own,
/// received by a subscriber connection of its own (fred's `SubscriberClient`, which subscribes
/// again after a reconnect; a notice published while it was away is caught by the session
/// watchers' heartbeat re-read).
pub struct RedisRelay {
    publisher: fred::prelude::Client,
}

#[async_trait::async_trait]
impl EventRelay for RedisRelay {
    async fn publish(&self, message: String) -> Result<(), StoreError> {
        let _: i64 = self
            .publisher
            .publish(EVENTS_CHANNEL, message)
            .await
            .map_err(StoreError::new)?;
        Ok(())
    }
}

/// Connects the relay for `hub`: a subscriber that hands every message to the hub, and a
/// publisher (a subscribed connection cannot publish).
pub async fn relay(url: &str, timeout: Duration, hub: Arc<EventHub>) -> Result<(), StoreError> {
    let config =
        Config::from_url(url).map_err(|e| StoreError(format!("invalid redis URL: {e}")))?;
    let builder = {
        let mut b = Builder::from_config(config);
        b.with_connection_config(|c| {
            c.connection_timeout = timeout;
            c.internal_command_timeout = timeout;
        })
        .with_performance_config(|p| {
            p.default_command_timeout = timeout;
        })
        .set_policy(ReconnectPolicy::new_exponential(0, 100, 2000, 2));
        b
    };
    let subscriber = builder
        .build_subscriber_client()
        .map_err(|e| StoreError(format!("cannot configure the redis subscriber: {e}")))?;
    let publisher = builder
        .build()
        .map_err(|e| StoreError(format!("cannot configure the redis publisher: {e}")))?;
    for connected in [
        tokio::time::timeout(timeout * 2, subscriber.init()).await,
        tokio::time::timeout(timeout * 2, publisher.init()).await,
    ] {
        match connected {
            Ok(Ok(_task)) => {}
            Ok(Err(e)) => return Err(StoreError(format!("cannot connect for events: {e}"))),
            Err(_) => return Err(StoreError("cannot connect for events: timed out".into())),
        }
    }
    let _resubscribe = subscriber.manage_subscriptions();
    let mut messages = subscriber.message_rx();
    subscriber
        .subscribe(EVENTS_CHANNEL)
        .await
        .map_err(|e| StoreError(format!("cannot subscribe to {EVENTS_CHANNEL}: {e}")))?;
    hub.set_relay(Arc::new(RedisRelay { publisher }));
    tokio::spawn(async move {
        let _subscriber = subscriber; // lives as long as this task
        loop {
            match messages.recv().await {
                Ok(message) => {
                    if let Some(text) = message.value.as_str() {
                        hub.deliver_relayed(&text);
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!(missed = n, "session events: relayed messages were dropped");
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            }
        }
    });
    Ok(())
}
