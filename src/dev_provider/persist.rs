//! The grants (codes, token families, refresh and access tokens) saved to
//! `grants.json` in the state directory — at most once a second, and when the provider stops —
//! so a restart keeps refresh tokens valid. Written with owner-only permissions.

use std::{
    path::Path,
    sync::{Arc, atomic::Ordering},
    time::Duration,
};

use super::{Op, grants::Grants, keys::write_private};

/// The saved grants, or none (missing or unreadable file).
pub(super) fn load(path: &Path) -> Grants {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_json::from_str::<Grants>(&t).ok())
        .unwrap_or_default()
}

/// Saves the grants once a second while they change, until the provider is dropped.
pub(super) fn every_second(op: &Op) {
    let op = op.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            if Arc::strong_count(&op.0) == 1 {
                break;
            }
            op.persist();
        }
    });
}

impl Op {
    /// Marks the grants as changed (saved by the next tick).
    pub(super) fn changed(&self) {
        self.0.dirty.store(true, Ordering::Relaxed);
    }

    /// Saves the grants if they changed.
    pub(super) fn persist(&self) {
        if !self.0.dirty.swap(false, Ordering::Relaxed) {
            return;
        }
        let text = match serde_json::to_string(&*self.grants()) {
            Ok(t) => t,
            Err(_) => return,
        };
        if let Err(e) = write_private(&self.0.grants_file, &text) {
            tracing::warn!(error = %e, "development provider: could not save grants");
        }
    }
}
