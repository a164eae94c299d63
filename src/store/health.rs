//! What the store's handles share with its writer thread: the open database (absent while
//! the writer recovers from a fault) and the writer's health.
//!
//! After a failed commit redb refuses every later write on the same handle ("previous
//! I/O error"), so the writer gives the handle up and opens the file again once the
//! fault may be gone (see the writer's recovery). Meanwhile writes fail at once with the
//! fault, reads of the journal fail with it, and [`Health`] tells operators (and
//! `/v1/status`) that the store takes no writes.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};

use anyhow::{anyhow, Result};
use redb::Database;
use serde::Serialize;

/// The writer's health as operators see it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Health {
    /// Why the store takes no writes now (`None`: it does).
    pub fault: Option<String>,
    /// When the current fault began (Unix seconds).
    pub fault_since: Option<f64>,
    /// Commits that failed since the start.
    pub failed_commits: u64,
    /// Times the writer reopened the store after a fault.
    pub recoveries: u64,
}

pub(super) struct Shared {
    pub(super) path: PathBuf,
    pub(super) db: RwLock<Option<Arc<Database>>>,
    pub(super) health: Mutex<Health>,
    /// How long each group commit took (transaction and fsync), for `/metrics`.
    pub(super) commit_seconds: prometheus_client::metrics::histogram::Histogram,
    /// The node's part in a cluster and its position in the log.
    pub(super) replication: super::replication::Replication,
}

impl Shared {
    /// The open database, or the fault that closed it.
    pub(super) fn db(&self) -> Result<Arc<Database>> {
        if let Some(db) = self.db.read().unwrap_or_else(|e| e.into_inner()).as_ref() {
            return Ok(db.clone());
        }
        Err(anyhow!("{}", self.unavailable()))
    }

    /// Readers get no new handle; those in use finish on their own.
    pub(super) fn release(&self) {
        *self.db.write().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// Publishes a reopened database.
    pub(super) fn install(&self, db: Arc<Database>) {
        *self.db.write().unwrap_or_else(|e| e.into_inner()) = Some(db);
    }

    pub(super) fn health(&self) -> Health {
        self.health
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// A commit failed: records the fault (the first one's time is kept).
    pub(super) fn failed(&self, error: &str) {
        let mut h = self.health.lock().unwrap_or_else(|e| e.into_inner());
        h.failed_commits += 1;
        if h.fault.is_none() {
            h.fault_since = Some(crate::clock::system_now());
        }
        h.fault = Some(error.to_string());
    }

    /// A reopened store took a write again.
    pub(super) fn recovered(&self) {
        let mut h = self.health.lock().unwrap_or_else(|e| e.into_inner());
        h.recoveries += 1;
        h.fault = None;
        h.fault_since = None;
    }

    /// The answer to a write or read while the store is closed by a fault.
    pub(super) fn unavailable(&self) -> String {
        let h = self.health.lock().unwrap_or_else(|e| e.into_inner());
        format!(
            "the store {} takes no writes since a failure ({}); retrying",
            self.path.display(),
            h.fault.as_deref().unwrap_or("closed")
        )
    }
}
