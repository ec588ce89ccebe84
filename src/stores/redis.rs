//! `SESSION_STORE=redis://HOST:PORT`: sessions as Redis keys (each expiring with its session;
//! tower-sessions-redis-store reads and deletes them), plus, under the `signin:` prefix:
//! - `signin:lock:<session>`: the cross-instance refresh lock (`SET NX PX`, released by a
//!   compare-and-delete script);
//! - `signin:idx:<key>`: the session index, a set of session ids per key, expiring with the
//!   longest-lived session in it (members of ended sessions are dropped on lookup);
//! - `signin:used:<key>`: the replay cache (`SET NX EXAT`);
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
        Builder, ClientLike, Config, EventInterface, Expiration, KeysInterface, LuaInterface, Pool,
        PubsubInterface, ReconnectPolicy, SetOptions, SetsInterface,
    },
    types::ExpireOptions,
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
    store::{SessionBackend, StoreError},
};

#[derive(Debug)]
pub struct RedisStore {
    records: RecordStore<Pool>,
    pool: Pool,
}

/// `timeout`: how long a command may take before the request gives up (`SESSION_STORE_TIMEOUT_SECS`).
pub async fn connect(
    url: &str,
    timeout: std::time::Duration,
) -> Result<(RedisStore, RedisLock), StoreError> {
    let config =
        Config::from_url(url).map_err(|e| StoreError(format!("invalid redis URL: {e}")))?;
    let pool = Builder::from_config(config)
        .with_connection_config(|c| {
            c.connection_timeout = timeout;
            c.internal_command_timeout = timeout;
            c.max_command_attempts = 1;
        })
        .with_performance_config(|p| {
            p.default_command_timeout = timeout;
        })
        .set_policy(ReconnectPolicy::new_exponential(0, 100, 2000, 2))
        .build_pool(4)
        .map_err(|e| StoreError(format!("cannot configure the redis client: {e}")))?;
    match tokio::time::timeout(timeout * 2, pool.init()).await {
        Ok(Ok(_task)) => {}
        Ok(Err(e)) => return Err(StoreError(format!("cannot connect: {e}"))),
        Err(_) => return Err(StoreError("cannot connect: timed out".into())),
    }
    Ok((
        RedisStore {
            records: RecordStore::new(pool.clone()),
            pool: pool.clone(),
        },
        RedisLock { pool },
    ))
}

fn index_key(key: &str) -> String {
    format!("signin:idx:{key}")
}

/// The expiry of `record` to the millisecond (`EXAT`, which the record store uses, rounds
/// down to the second: a record could vanish up to a second early).
fn expires(record: &Record) -> Expiration {
    Expiration::PXAT((record.expiry_date.unix_timestamp_nanos() / 1_000_000) as i64)
}

impl RedisStore {
    /// `SET id record PXAT … NX|XX`, encoded exactly as the record store decodes it; `false`
    /// when the condition failed (Redis answers nil — which fred will not turn into a `bool`,
    /// so the record store's own `create`/`save` failed there with a bare 500).
    async fn set_record(&self, record: &Record, only: SetOptions) -> Result<bool, StoreError> {
        let data = rmp_serde::to_vec(record).map_err(StoreError::new)?;
        let set: Option<String> = self
            .pool
            .set(
                record.id.to_string(),
                data.as_slice(),
                Some(expires(record)),
                Some(only),
                false,
            )
            .await
            .map_err(StoreError::new)?;
        Ok(set.is_some())
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
    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        self.records.load(id).await
    }
    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.records.delete(id).await
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
