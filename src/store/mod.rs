//! The durable store: an embedded redb database written by one thread.
//!
//! Design:
//! - Writers hand a batch of [`Op`]s to the writer thread over a bounded channel and await
//!   its answer; the thread takes every batch waiting, applies them in **one** write
//!   transaction and commits (fsync) before answering any of them (group commit). A write
//!   is acknowledged only after its commit, so a `kill -9` after a 2xx loses nothing.
//! - Readers never touch the database at runtime: the in-memory registry is the read
//!   model; the store is read once, at startup.
//!
//! Tables:
//! - `api_objects`: `"<Type>\0<name>"` → the creation request of an API-created object
//!   (JSON: `templates`, `attrs`), rebuilt against the configuration at startup as Icinga
//!   rebuilds its `_api` package.
//! - `modified_attributes`: `"<Type>\0<name>"` → JSON object of attribute → value set at
//!   runtime, applied over the configured value at startup.
//! - `checkable_state`: `"<Type>\0<name>"` → the runtime state of a host or service
//!   (state, state type, attempt, last check result, next check, …), written with every
//!   processed result before it is acknowledged.

use std::path::Path;
use std::thread;

use anyhow::{Context, Result};
use crossbeam_channel::{bounded, Receiver, Sender, TrySendError};
use redb::{Database, ReadableTable, TableDefinition};
use serde_json::Value as Json;
use tokio::sync::oneshot;

const API_OBJECTS: TableDefinition<&str, &[u8]> = TableDefinition::new("api_objects");
const MODIFIED: TableDefinition<&str, &[u8]> = TableDefinition::new("modified_attributes");
const STATES: TableDefinition<&str, &[u8]> = TableDefinition::new("checkable_state");

/// Batches waiting for the writer at most; beyond, writers wait (backpressure).
const QUEUE: usize = 4096;
/// Batches committed in one transaction at most.
const GROUP: usize = 1024;

/// One change.
#[derive(Debug, Clone)]
pub enum Op {
    PutObject {
        key: String,
        value: Json,
    },
    DeleteObject {
        key: String,
    },
    PutModified {
        key: String,
        value: Json,
    },
    DeleteModified {
        key: String,
    },
    /// A state already serialised (the processor writes many per commit).
    PutState {
        key: String,
        value: Vec<u8>,
    },
    DeleteState {
        key: String,
    },
}

/// The key of an object: type and full name.
pub fn key(type_name: &str, name: &str) -> String {
    format!("{type_name}\0{name}")
}

/// Splits a key back into type and name.
pub fn split_key(key: &str) -> Option<(&str, &str)> {
    key.split_once('\0')
}

struct Job {
    ops: Vec<Op>,
    done: oneshot::Sender<Result<(), String>>,
}

/// What the store holds, read at startup.
#[derive(Debug, Default)]
pub struct Contents {
    pub api_objects: Vec<(String, Json)>,
    pub modified: Vec<(String, Json)>,
    /// Serialised states, parsed by their owner (the processor's state type).
    pub states: Vec<(String, Vec<u8>)>,
}

/// A handle to the store; clones share the writer.
#[derive(Clone)]
pub struct Store {
    tx: Sender<Job>,
    /// Fires when the writer thread has closed the database (every handle dropped).
    closed: tokio::sync::watch::Receiver<bool>,
}

impl Store {
    /// Opens (or creates) the database and starts the writer thread. Returns the handle
    /// and everything stored.
    ///
    /// # Errors
    /// The file cannot be opened or read.
    pub fn open(path: &Path) -> Result<(Store, Contents)> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let db = Database::create(path).with_context(|| format!("opening {}", path.display()))?;
        {
            // Create the tables so that reads of a fresh store succeed.
            let txn = db.begin_write()?;
            txn.open_table(API_OBJECTS)?;
            txn.open_table(MODIFIED)?;
            txn.open_table(STATES)?;
            txn.commit()?;
        }
        let contents = read(&db)?;
        let (tx, rx) = bounded(QUEUE);
        let (closed_tx, closed) = tokio::sync::watch::channel(false);
        thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || {
                writer(db, rx);
                // `db` is dropped: the file is closed cleanly (no repair at next open).
                let _ = closed_tx.send(true);
            })
            .context("starting the store writer")?;
        Ok((Store { tx, closed }, contents))
    }

    /// Resolves once every handle is gone and the database is closed.
    pub fn closed(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut rx = self.closed.clone();
        async move {
            let _ = rx.wait_for(|c| *c).await;
        }
    }

    /// Commits `ops` durably; returns once they are on disk.
    ///
    /// # Errors
    /// The commit failed (the change must then not be acknowledged).
    pub async fn commit(&self, ops: Vec<Op>) -> Result<(), String> {
        if ops.is_empty() {
            return Ok(());
        }
        let (done, answer) = oneshot::channel();
        let job = Job { ops, done };
        match self.tx.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(job)) => {
                let tx = self.tx.clone();
                tokio::task::spawn_blocking(move || tx.send(job))
                    .await
                    .map_err(|e| e.to_string())?
                    .map_err(|_| "the store writer has stopped".to_string())?;
            }
            Err(TrySendError::Disconnected(_)) => {
                return Err("the store writer has stopped".into());
            }
        }
        answer
            .await
            .map_err(|_| "the store writer has stopped".to_string())?
    }
}

fn read(db: &Database) -> Result<Contents> {
    let txn = db.begin_read()?;
    let mut contents = Contents::default();
    for row in txn.open_table(STATES)?.iter()? {
        let (k, v) = row?;
        contents
            .states
            .push((k.value().to_string(), v.value().to_vec()));
    }
    for (def, out) in [
        (API_OBJECTS, &mut contents.api_objects),
        (MODIFIED, &mut contents.modified),
    ] {
        let table = txn.open_table(def)?;
        for row in table.iter()? {
            let (k, v) = row?;
            let value: Json = serde_json::from_slice(v.value())
                .with_context(|| format!("corrupt record {:?}", k.value()))?;
            out.push((k.value().to_string(), value));
        }
    }
    Ok(contents)
}

/// The writer thread: group commit of every waiting batch.
fn writer(db: Database, rx: Receiver<Job>) {
    while let Ok(first) = rx.recv() {
        let mut jobs = vec![first];
        while jobs.len() < GROUP {
            match rx.try_recv() {
                Ok(j) => jobs.push(j),
                Err(_) => break,
            }
        }
        let result = apply(&db, &jobs).map_err(|e| {
            tracing::error!(error = %e, batches = jobs.len(), "Store commit failed.");
            e.to_string()
        });
        for job in jobs {
            let _ = job.done.send(result.clone());
        }
    }
}

fn apply(db: &Database, jobs: &[Job]) -> Result<()> {
    let txn = db.begin_write()?;
    {
        let mut objects = txn.open_table(API_OBJECTS)?;
        let mut modified = txn.open_table(MODIFIED)?;
        let mut states = txn.open_table(STATES)?;
        for op in jobs.iter().flat_map(|j| &j.ops) {
            match op {
                Op::PutObject { key, value } => {
                    objects.insert(key.as_str(), serde_json::to_vec(value)?.as_slice())?;
                }
                Op::DeleteObject { key } => {
                    objects.remove(key.as_str())?;
                }
                Op::PutModified { key, value } => {
                    modified.insert(key.as_str(), serde_json::to_vec(value)?.as_slice())?;
                }
                Op::DeleteModified { key } => {
                    modified.remove(key.as_str())?;
                }
                Op::PutState { key, value } => {
                    states.insert(key.as_str(), value.as_slice())?;
                }
                Op::DeleteState { key } => {
                    states.remove(key.as_str())?;
                }
            }
        }
    }
    txn.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[tokio::test]
    async fn commits_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.redb");
        {
            let (store, contents) = Store::open(&path).unwrap();
            assert!(contents.api_objects.is_empty());
            let mut waits = Vec::new();
            for i in 0..50 {
                let s = store.clone();
                waits.push(tokio::spawn(async move {
                    s.commit(vec![Op::PutObject {
                        key: key("Host", &format!("h{i}")),
                        value: json!({"attrs": {"address": i}}),
                    }])
                    .await
                }));
            }
            for w in waits {
                w.await.unwrap().unwrap();
            }
            store
                .commit(vec![
                    Op::DeleteObject {
                        key: key("Host", "h0"),
                    },
                    Op::PutModified {
                        key: key("Host", "h1"),
                        value: json!({"address": "x"}),
                    },
                ])
                .await
                .unwrap();
        }
        // The writer thread of the first handle may still hold the file; wait for it.
        let mut reopened = None;
        for _ in 0..100 {
            match Store::open(&path) {
                Ok(r) => {
                    reopened = Some(r);
                    break;
                }
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
            }
        }
        let (_, contents) = reopened.expect("reopen");
        assert_eq!(contents.api_objects.len(), 49);
        assert_eq!(contents.modified.len(), 1);
        assert_eq!(split_key(&contents.modified[0].0), Some(("Host", "h1")));
    }
}
