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
//!   (state, state type, attempt, last check result, next check, …) in its compact
//!   binary form (`state::CheckableState::encode`), written with every processed result
//!   before it is acknowledged.
//! - `events`: the event journal in segments, one per commit (or per [`SEGMENT_BYTES`]
//!   of a larger one): id of its first event (u64) → its events, each
//!   `[type index u8][length u32 LE][json]`. The writer thread assigns
//!   each committed event the next id, appends the segment in the same transaction as the
//!   change that caused it, and after the commit publishes the events on the bus. Whole
//!   segments older than the newest `retention` events are trimmed in the same
//!   transaction. (One record per event cost 45 % of the batch throughput; one per
//!   commit is a single sequential write.)
//! - `meta`: `"snapshot"` → the token of the state snapshot written at the last clean
//!   close, present only while no commit has followed it (see [`snapshot`]).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender, TrySendError};
use redb::{Database, ReadableTable, ReadableTableMetadata, TableDefinition};
use serde_json::Value as Json;
use tokio::sync::oneshot;

use crate::bus::{Bus, Event, EventKind, Pending};

mod compact;
mod health;
pub mod open;
pub mod record;
pub mod replication;
pub mod snapshot;

pub use health::Health;
use health::Shared;
pub use open::Mode;
pub use replication::{Log, Replica, Role};

const API_OBJECTS: TableDefinition<&str, &[u8]> = TableDefinition::new("api_objects");
const MODIFIED: TableDefinition<&str, &[u8]> = TableDefinition::new("modified_attributes");
const TOKENS: TableDefinition<&str, &[u8]> = TableDefinition::new("api_tokens");
const STATES: TableDefinition<&str, &[u8]> = TableDefinition::new("checkable_state");
const EVENTS: TableDefinition<u64, &[u8]> = TableDefinition::new("events");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const SNAPSHOT: &str = "snapshot";
/// Written by the probe commit that proves a reopened store writable.
const PROBE: &str = "probe";
/// The sequence number of the last record of the cluster's log this store holds.
const LOG_POSITION: &str = "log_position";

/// Batches waiting for the writer at most; beyond, writers wait (backpressure).
const QUEUE: usize = 4096;
/// redb's page cache. The store is read once at startup and written after; a large cache
/// only holds pages nobody reads again (and each new page costs a zeroed page of memory:
/// with the default 1 GiB, reading 77 000 states took 0.5–0.7 s and 335 MB).
const CACHE: usize = 16 << 20;
/// Batches committed in one transaction at most.
const GROUP: usize = 1024;

/// One change.
#[derive(Debug, Clone)]
pub enum Op {
    PutObject {
        key: String,
        value: Json,
    },
    /// An object record already serialised (`{"templates": …, "attrs": …}`).
    PutObjectBytes {
        key: String,
        value: Vec<u8>,
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
    /// An API token's record (its id as key; the token itself is never stored).
    PutToken {
        key: String,
        value: Json,
    },
    DeleteToken {
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

/// A change to commit: records, the events it causes, and what makes it visible.
#[derive(Default)]
pub struct Commit {
    pub ops: Vec<Op>,
    /// Appended to the journal in the same transaction, published after it.
    pub events: Vec<Pending>,
    /// Runs after the commit and before the events are published: makes the change
    /// visible to readers (a subscriber reacting to an event finds the new state).
    pub then: Option<Box<dyn FnOnce() + Send>>,
}

impl Commit {
    pub fn ops(ops: Vec<Op>) -> Commit {
        Commit {
            ops,
            ..Commit::default()
        }
    }
}

struct Job {
    commit: Commit,
    /// A record read from the cluster's log (a follower's commit), with its position.
    replica: Option<Replica>,
    done: oneshot::Sender<Result<(), String>>,
}

/// What the store holds, read at startup.
#[derive(Debug, Default)]
pub struct Contents {
    pub api_objects: Vec<(String, Json)>,
    pub modified: Vec<(String, Json)>,
    /// Serialised states, parsed by their owner (the processor's state type).
    pub states: Vec<(String, Vec<u8>)>,
    /// API token records by id.
    pub tokens: Vec<(String, Json)>,
    /// With [`Mode::defer_snapshot`]: the token of the state snapshot the store vouches
    /// for, whose states the caller reads (`states` is then empty; if the snapshot turns
    /// out unusable, [`Store::read_states`] reads the table).
    pub snapshot: Option<u64>,
}

/// A handle to the store; clones share the writer.
#[derive(Clone)]
pub struct Store {
    tx: Sender<Job>,
    /// The database (read by journal readers, MVCC: never blocks the writer) and the
    /// writer's health.
    shared: Arc<Shared>,
    /// Fires when the writer thread has closed the database (every handle dropped).
    closed: tokio::sync::watch::Receiver<bool>,
    /// What the writer thread snapshots when it closes.
    snapshot: Arc<std::sync::Mutex<Option<snapshot::Source>>>,
}

impl Store {
    /// Opens (or creates) the database and starts the writer thread, which publishes
    /// committed events on `bus` and keeps the newest `retention` of them. Returns the
    /// handle and everything stored.
    ///
    /// # Errors
    /// The file cannot be opened or read.
    pub fn open(path: &Path, bus: Arc<Bus>, retention: u64) -> Result<(Store, Contents)> {
        Store::open_with(path, bus, retention, Mode::default())
    }

    /// The states table, row by row: for a caller whose deferred snapshot
    /// ([`Mode::defer_snapshot`]) turned out unusable.
    ///
    /// # Errors
    /// The store is closed or cannot be read.
    pub fn read_states(&self) -> Result<snapshot::States> {
        let db = self.shared.db()?;
        let snapshot_path = snapshot::path_for(&self.shared.path);
        open::guarded(|| states_instead_of_snapshot(&db.begin_read()?, &snapshot_path))
    }

    /// [`Store::open`], refusing a lost or damaged store unless `mode` says to start over
    /// (see [`open`]).
    ///
    /// # Errors
    /// The store is lost or damaged, or cannot be opened or read.
    pub fn open_with(
        path: &Path,
        bus: Arc<Bus>,
        retention: u64,
        mode: Mode,
    ) -> Result<(Store, Contents)> {
        let db = open::open(path, CACHE, mode)?;
        let snapshot_path = snapshot::path_for(path);
        let (contents, marked, last_id, position) = open::guarded(|| {
            // Create the tables so that reads of a fresh store succeed.
            let txn = db.begin_write()?;
            for name in [API_OBJECTS, MODIFIED, STATES, TOKENS] {
                txn.open_table(name)?;
            }
            txn.open_table(EVENTS)?;
            txn.open_table(META)?;
            txn.commit()?;
            let (contents, marked) = read(&db, &snapshot_path, mode.defer_snapshot)?;
            Ok((contents, marked, last_event_id(&db)?, log_position(&db)?))
        })
        .with_context(|| format!("reading the store {}", path.display()))?;
        if !marked {
            // A snapshot the store does not vouch for is out of date: no start reads it.
            remove_snapshot(&snapshot_path);
        }
        bus.start_after(last_id);
        let db = Arc::new(db);
        let journal = Journal {
            bus,
            next_id: last_id + 1,
            retention: retention.max(1),
            segments: None,
            snapshot_marked: marked.then(|| snapshot_path.clone()),
        };
        let shared = Arc::new(Shared {
            path: path.to_path_buf(),
            db: RwLock::new(Some(db.clone())),
            health: Mutex::new(Health::default()),
            commit_seconds: crate::metrics::fast_seconds(),
            replication: replication::Replication::default(),
        });
        shared.replication.set_position(position);
        let (tx, rx) = bounded(QUEUE);
        let (closed_tx, closed) = tokio::sync::watch::channel(false);
        let source = Arc::new(std::sync::Mutex::new(None));
        let on_close = source.clone();
        let writer_shared = shared.clone();
        thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || {
                let db = writer(&writer_shared, db, rx, journal);
                let source = on_close.lock().ok().and_then(|mut s| s.take());
                if let (Some(source), Some(db)) = (source, &db) {
                    write_snapshot(db, &snapshot_path, source);
                }
                writer_shared.release();
                if let Some(db) = db {
                    // Dropped there: the last `Arc<Database>` closes the file cleanly
                    // (no repair at next open).
                    compact::at_close(db, &writer_shared.path);
                }
                let _ = closed_tx.send(true);
            })
            .context("starting the store writer")?;
        Ok((
            Store {
                tx,
                shared,
                closed,
                snapshot: source,
            },
            contents,
        ))
    }

    /// Whether the store takes writes, and since when it does not.
    pub fn health(&self) -> Health {
        self.shared.health()
    }

    /// How long group commits take (a shared handle to the writer's histogram).
    pub fn commit_seconds(&self) -> prometheus_client::metrics::histogram::Histogram {
        self.shared.commit_seconds.clone()
    }

    /// Has the writer thread snapshot the states `source` gives when it closes (after
    /// the last commit), for a faster next start.
    pub fn snapshot_on_close(&self, source: snapshot::Source) {
        if let Ok(mut s) = self.snapshot.lock() {
            *s = Some(source);
        }
    }

    /// What the store holds now (API objects, modified attributes, states), for a live
    /// reload of the configuration. States are left out (the objects keep theirs).
    ///
    /// # Errors
    /// Read failures.
    pub fn contents(&self) -> Result<Contents> {
        let db = self.shared.db()?;
        open::guarded(|| {
            let mut c = Contents::default();
            read_records(&db.begin_read()?, &mut c)?;
            Ok(c)
        })
    }

    /// Up to `limit` journal events with ids above `after`, oldest first, and the id of
    /// the oldest event still kept (0 when the journal is empty).
    ///
    /// # Errors
    /// The journal cannot be read.
    pub fn events_after(&self, after: u64, limit: usize) -> Result<(Vec<Arc<Event>>, u64)> {
        let db = self.shared.db()?;
        open::guarded(|| journal_after(&db, after, limit))
    }

    /// Resolves once every handle is gone and the database is closed.
    pub fn closed(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut rx = self.closed.clone();
        async move {
            let _ = rx.wait_for(|c| *c).await;
        }
    }

    /// Sets what the store does with commits (see [`Role`]).
    pub fn set_role(&self, role: Role) {
        self.shared.replication.set_role(role);
    }

    /// The sequence number of the last record of the cluster's log this store holds (0:
    /// none).
    pub fn log_position(&self) -> u64 {
        self.shared.replication.position()
    }

    /// The id of the newest journaled event (0 when none).
    ///
    /// # Errors
    /// The journal cannot be read.
    pub fn last_event_id(&self) -> Result<u64> {
        let db = self.shared.db()?;
        open::guarded(|| last_event_id(&db))
    }

    /// A follower's commit of a record read from the log: committed with the leader's
    /// event ids and its position; records at or before the position held are skipped.
    /// The record is queued before this returns (records are committed in the order
    /// they are passed, whenever their futures are awaited); a full queue blocks the
    /// caller until the writer takes from it.
    ///
    /// # Errors
    /// The commit failed, or this node is not a follower.
    pub fn replicate(
        &self,
        replica: Replica,
        commit: Commit,
    ) -> impl std::future::Future<Output = Result<(), String>> + Send + 'static {
        let (done, answer) = oneshot::channel();
        let job = Job {
            commit,
            replica: Some(replica),
            done,
        };
        let sent = self.tx.send(job).is_ok();
        async move {
            if !sent {
                return Err("the store writer has stopped".to_string());
            }
            answer
                .await
                .map_err(|_| "the store writer has stopped".to_string())?
        }
    }

    /// Commits `ops` durably; returns once they are on disk.
    ///
    /// # Errors
    /// The commit failed (the change must then not be acknowledged).
    pub async fn commit(&self, ops: Vec<Op>) -> Result<(), String> {
        self.commit_with(Commit::ops(ops)).await
    }

    /// Commits a change with its events; returns once it is on disk, visible and its
    /// events are published.
    ///
    /// # Errors
    /// The commit failed (nothing ran, nothing was published).
    pub async fn commit_with(&self, commit: Commit) -> Result<(), String> {
        if commit.ops.is_empty() && commit.events.is_empty() {
            if let Some(then) = commit.then {
                then();
            }
            return Ok(());
        }
        let (done, answer) = oneshot::channel();
        let job = Job {
            commit,
            replica: None,
            done,
        };
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

/// Up to `limit` journal events with ids above `after`, and the oldest id kept.
fn journal_after(db: &Database, after: u64, limit: usize) -> Result<(Vec<Arc<Event>>, u64)> {
    let txn = db.begin_read()?;
    let table = txn.open_table(EVENTS)?;
    let oldest = table.first()?.map_or(0, |(k, _)| k.value());
    let want = after.saturating_add(1);
    // The segment holding `want` starts at or before it.
    let start = table
        .range(..=want)?
        .next_back()
        .transpose()?
        .map_or(0, |(k, _)| k.value());
    let mut out = Vec::new();
    for row in table.range(start..)? {
        let (k, v) = row?;
        for (i, (kind, json)) in segment(v.value()).enumerate() {
            let id = k.value() + i as u64;
            if id >= want {
                let json = bytes::Bytes::copy_from_slice(json);
                out.push(Arc::new(Event::new(id, kind, json)));
            }
        }
        if out.len() >= limit {
            break;
        }
    }
    out.truncate(limit);
    Ok((out, oldest))
}

/// The log position the store holds (0 when none).
fn log_position(db: &Database) -> Result<u64> {
    let txn = db.begin_read()?;
    let position = txn
        .open_table(META)?
        .get(LOG_POSITION)?
        .map_or(0, |v| v.value());
    Ok(position)
}

/// The id of the newest journaled event (0 when none).
fn last_event_id(db: &Database) -> Result<u64> {
    let txn = db.begin_read()?;
    let events = txn.open_table(EVENTS)?;
    let last = match events.last()? {
        Some((k, v)) => k.value() + segment(v.value()).count() as u64 - 1,
        None => 0,
    };
    Ok(last)
}

/// Everything stored; the states from the snapshot when the store vouches for it (then
/// also `true`: the snapshot's token is still to be removed by the next commit), or only
/// its token when the caller reads it (`defer`).
fn read(db: &Database, snapshot_path: &Path, defer: bool) -> Result<(Contents, bool)> {
    let txn = db.begin_read()?;
    let mut contents = Contents::default();
    let token = txn.open_table(META)?.get(SNAPSHOT)?.map(|t| t.value());
    match token {
        Some(t) if defer => contents.snapshot = Some(t),
        Some(t) => match snapshot::read(snapshot_path, t) {
            Some(states) => contents.states = states,
            None => contents.states = states_instead_of_snapshot(&txn, snapshot_path)?,
        },
        None => contents.states = read_state_table(&txn)?,
    }
    read_records(&txn, &mut contents)?;
    Ok((contents, token.is_some()))
}

/// The states table, read because the snapshot the store vouches for is unusable.
fn states_instead_of_snapshot(
    txn: &redb::ReadTransaction,
    snapshot_path: &Path,
) -> Result<snapshot::States> {
    tracing::warn!(path = %snapshot_path.display(), "State snapshot unusable; reading the states table.");
    read_state_table(txn)
}

/// Every row of the states table.
fn read_state_table(txn: &redb::ReadTransaction) -> Result<snapshot::States> {
    let table = txn.open_table(STATES)?;
    let mut states = Vec::with_capacity(usize::try_from(table.len()?).unwrap_or(0));
    for row in table.iter()? {
        let (k, v) = row?;
        states.push((k.value().to_string(), v.value().to_vec()));
    }
    Ok(states)
}

/// API objects, modified attributes and tokens.
fn read_records(txn: &redb::ReadTransaction, contents: &mut Contents) -> Result<()> {
    for (def, out) in [
        (API_OBJECTS, &mut contents.api_objects),
        (MODIFIED, &mut contents.modified),
        (TOKENS, &mut contents.tokens),
    ] {
        let table = txn.open_table(def)?;
        for row in table.iter()? {
            let (k, v) = row?;
            let value: Json = serde_json::from_slice(v.value())
                .with_context(|| format!("corrupt record {:?}", k.value()))?;
            out.push((k.value().to_string(), value));
        }
    }
    Ok(())
}

/// Removes a snapshot file no token vouches for any more (it is never read again; a
/// failure to remove it costs the next start a read it discards).
fn remove_snapshot(path: &Path) {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "Out-of-date state snapshot not removed.");
        }
    }
}

/// At a clean close: the states to the snapshot file, then its token to the store.
fn write_snapshot(db: &Database, path: &Path, source: snapshot::Source) {
    let began = std::time::Instant::now();
    let states = source();
    let token = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
        | 1;
    let marked = snapshot::write(path, token, &states)
        .map_err(anyhow::Error::from)
        .and_then(|()| {
            let txn = db.begin_write()?;
            txn.open_table(META)?.insert(SNAPSHOT, token)?;
            txn.commit()?;
            Ok(())
        });
    match marked {
        Ok(()) => tracing::info!(
            states = states.len(),
            ms = began.elapsed().as_millis() as u64,
            "State snapshot written."
        ),
        Err(e) => {
            tracing::warn!(error = %e, "State snapshot not written; the next start reads the states table.");
        }
    }
}

/// A commit's events are journaled in segments of at most this size (unless one event is
/// larger): the journal is trimmed in whole segments, and a reader resuming a stream reads
/// a whole segment, so a bulk action's million events in one segment would be kept (and
/// read) whole however short the retention. Just under 256 KiB, so that a segment with
/// redb's page header fits a 256 KiB page.
const SEGMENT_BYTES: usize = (256 << 10) - 1024;

/// The events of a journal segment, oldest first.
fn segment(raw: &[u8]) -> impl Iterator<Item = (EventKind, &[u8])> {
    let mut rest = raw;
    std::iter::from_fn(move || {
        let (&index, tail) = rest.split_first()?;
        let len = u32::from_le_bytes(tail.get(..4)?.try_into().ok()?) as usize;
        let json = tail.get(4..4 + len)?;
        rest = &tail[4 + len..];
        // Only the writer below fills the journal, with known types.
        Some((EventKind::from_index(index)?, json))
    })
}

/// The writer thread's view of the journal.
struct Journal {
    bus: Arc<Bus>,
    next_id: u64,
    retention: u64,
    /// The first ids of the stored segments, oldest first: read once, when the journal
    /// first needs trimming, then kept up to date, so that trimming never scans (a scan
    /// reads every segment's pages).
    segments: Option<std::collections::VecDeque<u64>>,
    /// The store still holds a snapshot token: the next commit removes it, then the
    /// snapshot file at this path (so that a start after a crash does not read it).
    snapshot_marked: Option<PathBuf>,
}

/// The pause before reopening the store after a failed commit; it doubles with every
/// further failure up to [`RETRY_MAX`], so a lasting fault (a full disk under steady
/// traffic) costs one reopen per pause, not one per write.
const RETRY_FIRST: Duration = Duration::from_secs(1);
const RETRY_MAX: Duration = Duration::from_secs(30);
/// How long the writer waits for readers to let go of a failed handle.
const RELEASE_WAIT: Duration = Duration::from_secs(5);

/// The writer thread: group commit of every waiting batch. After a failed commit it
/// closes the database, fails writes at once while it is closed, and reopens it after a
/// pause (proved writable by a probe commit). The fault is over when a commit succeeds
/// again. Returns the open database at the end.
fn writer(
    shared: &Shared,
    db: Arc<Database>,
    rx: Receiver<Job>,
    mut journal: Journal,
) -> Option<Arc<Database>> {
    let mut db = Some(db);
    let mut retry_at = Instant::now();
    // Commits failed in a row (0: healthy).
    let mut failures = 0u32;
    loop {
        let first = if db.is_some() {
            match rx.recv() {
                Ok(j) => Some(j),
                Err(_) => break,
            }
        } else {
            match rx.recv_deadline(retry_at) {
                Ok(j) => Some(j),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => break,
            }
        };
        if db.is_none() && Instant::now() >= retry_at {
            match reopen(shared, &mut journal) {
                Ok(reopened) => {
                    tracing::info!(path = %shared.path.display(), "Store reopened after a failure.");
                    shared.install(reopened.clone());
                    db = Some(reopened);
                }
                Err(e) => {
                    failures += 1;
                    let pause = retry_pause(failures);
                    tracing::error!(path = %shared.path.display(), error = %format!("{e:#}"), retry_in_s = pause.as_secs(), "The store cannot be reopened.");
                    retry_at = Instant::now() + pause;
                }
            }
        }
        let Some(first) = first else { continue };
        let mut jobs = vec![first];
        while jobs.len() < GROUP {
            match rx.try_recv() {
                Ok(j) => jobs.push(j),
                Err(_) => break,
            }
        }
        let jobs = admit(&shared.replication, jobs);
        if jobs.is_empty() {
            continue;
        }
        let Some(current) = db.as_ref() else {
            let error = shared.unavailable();
            for job in jobs {
                let _ = job.done.send(Err(error.clone()));
            }
            continue;
        };
        let began = Instant::now();
        match open::guarded(|| apply(current, &jobs, &mut journal, &shared.replication)) {
            Ok(Err(refused)) => {
                // The log did not take the commit: nothing was committed here.
                let error = format!("the cluster's log did not take the commit: {refused}");
                tracing::warn!(error = %error, batches = jobs.len(), "Commit not appended to the cluster's log.");
                for job in jobs {
                    let _ = job.done.send(Err(error.clone()));
                }
            }
            Ok(Ok(events)) => {
                shared.commit_seconds.observe(began.elapsed().as_secs_f64());
                if failures > 0 {
                    failures = 0;
                    shared.recovered();
                    tracing::warn!(path = %shared.path.display(), "The store takes writes again.");
                }
                // In commit order: make each change visible, publish its events, answer.
                let mut events = events.into_iter();
                for job in jobs {
                    if let Some(then) = job.commit.then {
                        then();
                    }
                    for event in events.by_ref().take(job.commit.events.len()) {
                        journal.bus.publish(event);
                    }
                    let _ = job.done.send(Ok(()));
                }
            }
            Err(e) => {
                let error = format!("{e:#}");
                failures += 1;
                let pause = retry_pause(failures);
                tracing::error!(path = %shared.path.display(), error = %error, batches = jobs.len(), retry_in_s = pause.as_secs(), "Store commit failed; writes are refused until the store is reopened.");
                shared.failed(&error);
                for job in jobs {
                    let _ = job.done.send(Err(error.clone()));
                }
                // redb refuses every later write on this handle: let it go and reopen.
                shared.release();
                if let Some(failed) = db.take() {
                    let began = Instant::now();
                    while Arc::strong_count(&failed) > 1 && began.elapsed() < RELEASE_WAIT {
                        thread::sleep(Duration::from_millis(5));
                    }
                }
                retry_at = Instant::now() + pause;
            }
        }
    }
    db
}

/// The pause after `failures` failures in a row.
fn retry_pause(failures: u32) -> Duration {
    RETRY_FIRST
        .saturating_mul(1 << failures.saturating_sub(1).min(16))
        .min(RETRY_MAX)
}

/// Opens the store file again after a fault and proves it writable with a probe commit;
/// the journal's view is read again from the file (a failed commit may have landed).
fn reopen(shared: &Shared, journal: &mut Journal) -> Result<Arc<Database>> {
    let db = open::open(&shared.path, CACHE, Mode::default())?;
    let last = open::guarded(|| {
        let txn = db.begin_write()?;
        txn.open_table(META)?
            .insert(PROBE, crate::clock::system_now() as u64)?;
        txn.commit()?;
        last_event_id(&db)
    })?;
    if last >= journal.next_id {
        journal.next_id = last + 1;
    }
    shared.replication.set_position(log_position(&db)?);
    journal.segments = None;
    Ok(Arc::new(db))
}

/// The jobs this node's role lets it commit: a follower commits only records of the log
/// (and skips those it holds already), others only their own changes. The rest are
/// answered here.
fn admit(replication: &replication::Replication, jobs: Vec<Job>) -> Vec<Job> {
    let follower = matches!(replication.role(), Role::Follower);
    let position = replication.position();
    let mut kept = Vec::with_capacity(jobs.len());
    for job in jobs {
        match (job.replica, follower) {
            (None, true) => {
                let _ = job.done.send(Err(replication::NOT_LEADER.into()));
            }
            (Some(_), false) => {
                let _ = job.done.send(Err(
                    "this node writes the cluster's log: it does not follow it".into(),
                ));
            }
            (Some(r), true) if r.seq <= position => {
                let _ = job.done.send(Ok(()));
            }
            _ => kept.push(job),
        }
    }
    kept
}

/// Applies every job in one transaction; returns the journaled events in order, or
/// (inner error) why the cluster's log refused the commit — nothing is committed then.
fn apply(
    db: &Database,
    jobs: &[Job],
    journal: &mut Journal,
    replication: &replication::Replication,
) -> Result<Result<Vec<Arc<Event>>, String>> {
    let txn = db.begin_write()?;
    let mut published = Vec::new();
    let local_first = journal.next_id;
    let mut next = journal.next_id;
    let mut position = None;
    {
        let mut events = txn.open_table(EVENTS)?;
        // The first id the journal keeps after this commit.
        let keep_from = {
            let mut last = next;
            for job in jobs {
                if let Some(r) = job.replica {
                    last = r.first_id;
                }
                last += job.commit.events.len() as u64;
            }
            last.saturating_sub(journal.retention)
        };
        // A leader's or standalone node's group shares segments; each record of the log
        // starts a segment at the ids the leader gave it.
        let mut open_segment: Option<(u64, Vec<u8>)> = None;
        for job in jobs {
            if let Some(r) = job.replica {
                if let Some((first, record)) = open_segment.take() {
                    put_segment(&mut events, journal, first, &record)?;
                }
                if r.first_id < next {
                    tracing::warn!(
                        seq = r.seq,
                        first_id = r.first_id,
                        expected = next,
                        "A record of the log reuses event ids this store holds; they are replaced."
                    );
                }
                next = r.first_id;
                position = Some(r.seq);
            }
            for (kind, json) in &job.commit.events {
                let event = Event::new(next, *kind, json.clone());
                // Events this commit would trim again are not journaled (redb would keep
                // their pages until the commit).
                if next >= keep_from {
                    // Type index, length, document.
                    let size = 1 + 4 + json.len();
                    let full = open_segment
                        .as_ref()
                        .is_some_and(|(_, record)| record.len() + size > SEGMENT_BYTES);
                    if full {
                        if let Some((first, record)) = open_segment.take() {
                            put_segment(&mut events, journal, first, &record)?;
                        }
                    }
                    let (_, record) = open_segment.get_or_insert_with(|| (next, Vec::new()));
                    record.push(event.index);
                    record.extend_from_slice(&(json.len() as u32).to_le_bytes());
                    record.extend_from_slice(json);
                }
                published.push(Arc::new(event));
                next += 1;
            }
            if job.replica.is_some() {
                if let Some((first, record)) = open_segment.take() {
                    put_segment(&mut events, journal, first, &record)?;
                }
            }
        }
        if let Some((first, record)) = open_segment.take() {
            put_segment(&mut events, journal, first, &record)?;
        }
    }
    {
        let mut objects = txn.open_table(API_OBJECTS)?;
        let mut modified = txn.open_table(MODIFIED)?;
        let mut states = txn.open_table(STATES)?;
        let mut tokens = txn.open_table(TOKENS)?;
        for op in jobs.iter().flat_map(|j| &j.commit.ops) {
            match op {
                Op::PutObject { key, value } => {
                    objects.insert(key.as_str(), serde_json::to_vec(value)?.as_slice())?;
                }
                Op::PutObjectBytes { key, value } => {
                    objects.insert(key.as_str(), value.as_slice())?;
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
                Op::PutToken { key, value } => {
                    tokens.insert(key.as_str(), serde_json::to_vec(value)?.as_slice())?;
                }
                Op::DeleteToken { key } => {
                    tokens.remove(key.as_str())?;
                }
            }
        }
    }
    if let Role::Leader(log) = replication.role() {
        // The log first: a commit the log refused is not committed here either.
        let record = record::encode(
            local_first,
            jobs.iter().flat_map(|j| &j.commit.events),
            jobs.iter().flat_map(|j| &j.commit.ops),
        )?;
        match log.append(record) {
            Ok(seq) => position = Some(seq),
            Err(refused) => return Ok(Err(refused)),
        }
    }
    let mut meta = txn.open_table(META)?;
    if journal.snapshot_marked.is_some() {
        // From this commit on the snapshot is out of date.
        meta.remove(SNAPSHOT)?;
    }
    if let Some(seq) = position {
        meta.insert(LOG_POSITION, seq)?;
    }
    drop(meta);
    txn.commit()?;
    if let Some(path) = journal.snapshot_marked.take() {
        remove_snapshot(&path);
    }
    journal.next_id = next;
    if let Some(seq) = position {
        replication.set_position(seq);
    }
    Ok(Ok(published))
}

/// Journals a segment of events starting at id `first`, and drops whole segments older
/// than the newest `retention` events (a segment ends where the next one begins).
fn put_segment(
    events: &mut redb::Table<u64, &[u8]>,
    journal: &mut Journal,
    first: u64,
    record: &[u8],
) -> Result<()> {
    if record.is_empty() {
        return Ok(());
    }
    let count = segment(record).count() as u64;
    events.insert(first, record)?;
    let keep_from = (first + count).saturating_sub(journal.retention);
    let segments = match journal.segments.as_mut() {
        Some(s) => {
            s.push_back(first);
            s
        }
        None => {
            let mut all = std::collections::VecDeque::new();
            for row in events.range::<u64>(..)? {
                all.push_back(row?.0.value());
            }
            journal.segments.insert(all)
        }
    };
    let mut doomed = Vec::new();
    while segments.len() > 1 && segments[1] <= keep_from {
        doomed.extend(segments.pop_front());
    }
    for key in doomed {
        events.remove(key)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::anyhow;
    use serde_json::json;

    /// Opens the store again once the previous writer thread has let go of the file.
    async fn reopen(path: &Path, retention: u64) -> Result<(Store, Contents, Arc<Bus>)> {
        for _ in 0..100 {
            let bus = Arc::new(Bus::new());
            if let Ok((s, c)) = Store::open(path, bus.clone(), retention) {
                return Ok((s, c, bus));
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        Err(anyhow!("the store could not be reopened"))
    }

    /// A clean close leaves a snapshot the next open reads instead of the table; the
    /// first commit after that makes it stale (and removes the file), and the open after
    /// reads the table.
    #[tokio::test]
    async fn snapshot_is_used_until_the_next_commit() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("state.redb");
        let put = |name: &str, value: &str| Op::PutState {
            key: key("Service", name),
            value: value.as_bytes().to_vec(),
        };
        let sorted = |mut states: Vec<(String, Vec<u8>)>| {
            states.sort();
            states
        };
        {
            let (store, contents) = Store::open(&path, Arc::new(Bus::new()), 10)?;
            assert!(contents.states.is_empty());
            store
                .commit(vec![put("a", "table")])
                .await
                .map_err(anyhow::Error::msg)?;
            // Which copy the next open reads shows in the value.
            store.snapshot_on_close(Box::new(|| {
                vec![(key("Service", "a"), b"snapshot".to_vec())]
            }));
            let closed = store.closed();
            drop(store);
            closed.await;
        }
        let (store, contents, _) = reopen(&path, 10).await?;
        assert_eq!(
            contents.states,
            vec![(key("Service", "a"), b"snapshot".to_vec())]
        );
        let file = snapshot::path_for(&path);
        assert!(file.exists());
        store
            .commit(vec![put("b", "later")])
            .await
            .map_err(anyhow::Error::msg)?;
        // The out-of-date file goes with the token: a start after a crash does not read it.
        assert!(!file.exists());
        // Closed without a snapshot (as a crash would leave it): the table is read, and
        // a snapshot file nothing vouches for is removed.
        let closed = store.closed();
        drop(store);
        closed.await;
        std::fs::write(&file, b"left over")?;
        let (_, contents, _) = reopen(&path, 10).await?;
        assert!(!file.exists());
        assert_eq!(
            sorted(contents.states),
            vec![
                (key("Service", "a"), b"table".to_vec()),
                (key("Service", "b"), b"later".to_vec())
            ]
        );
        Ok(())
    }

    #[tokio::test]
    async fn commits_survive_reopen() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("state.redb");
        {
            let (store, contents) = Store::open(&path, Arc::new(Bus::new()), 10)?;
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
                w.await?.map_err(anyhow::Error::msg)?;
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
                .map_err(anyhow::Error::msg)?;
        }
        let (_, contents, _) = reopen(&path, 10).await?;
        assert_eq!(contents.api_objects.len(), 49);
        assert_eq!(contents.modified.len(), 1);
        assert_eq!(split_key(&contents.modified[0].0), Some(("Host", "h1")));
        Ok(())
    }

    /// A commit with more events than the journal keeps (a bulk action) journals only
    /// the newest `retention` of them, in segments of at most [`SEGMENT_BYTES`]; the ids
    /// kept are consecutive up to the newest, and a later commit trims whole segments.
    #[tokio::test]
    async fn a_bulk_commit_keeps_its_newest_events_in_bounded_segments() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("state.redb");
        let (store, _) = Store::open(&path, Arc::new(Bus::new()), 3000)?;
        let json = bytes::Bytes::from(format!("{{\"output\":\"{}\"}}", "x".repeat(180)));
        let commit = |n: usize| Commit {
            events: vec![(EventKind::CheckResult, json.clone()); n],
            ..Commit::default()
        };
        store
            .commit_with(commit(5000))
            .await
            .map_err(anyhow::Error::msg)?;
        let (kept, oldest) = store.events_after(0, 10_000)?;
        assert_eq!((kept.len(), oldest), (3000, 2001));
        assert_eq!(kept.last().map(|e| e.id), Some(5000));
        assert!(kept.windows(2).all(|w| w[1].id == w[0].id + 1));
        let mut segments = Vec::new();
        {
            let db = store.shared.db()?;
            let txn = db.begin_read()?;
            for row in txn.open_table(EVENTS)?.iter()? {
                segments.push(row?.1.value().len());
            }
        }
        // 3000 events of 199 bytes: three segments, the last one partly filled.
        assert_eq!(segments.len(), 3, "{segments:?}");
        assert!(segments.iter().all(|&n| n <= SEGMENT_BYTES), "{segments:?}");
        // One more full segment's worth: the oldest segment goes whole.
        let per_segment = SEGMENT_BYTES / (1 + 4 + json.len());
        store
            .commit_with(commit(per_segment))
            .await
            .map_err(anyhow::Error::msg)?;
        let (kept, oldest) = store.events_after(0, 10_000)?;
        assert_eq!(oldest, 2001 + per_segment as u64);
        assert!(kept.len() >= 3000 && kept.len() < 3000 + per_segment);
        assert_eq!(store.events_after(4990, 10_000)?.0.len(), 10 + per_segment);
        Ok(())
    }

    #[tokio::test]
    async fn journal_numbers_publishes_trims_and_resumes_after_reopen() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("state.redb");
        let ev = |n: u32| {
            (
                crate::bus::EventKind::CheckResult,
                bytes::Bytes::from(format!("{{\"n\":{n}}}")),
            )
        };
        {
            let bus = Arc::new(Bus::new());
            let mut rx = bus.subscribe();
            let (store, _) = Store::open(&path, bus.clone(), 5)?;
            for n in 0..4 {
                store
                    .commit_with(Commit {
                        events: vec![ev(2 * n), ev(2 * n + 1)],
                        ..Commit::default()
                    })
                    .await
                    .map_err(anyhow::Error::msg)?;
            }
            let mut seen = Vec::new();
            while let Ok(e) = rx.try_recv() {
                seen.push((e.id, e.json.clone()));
            }
            assert_eq!(seen.len(), 8);
            assert!(seen
                .iter()
                .enumerate()
                .all(|(i, (id, json))| *id == i as u64 + 1 && json == &format!("{{\"n\":{i}}}")));
            assert_eq!(bus.last_id(), 8);
            // The newest five are kept, in whole segments (one per commit): 3..=8.
            let (kept, oldest) = store.events_after(0, 100)?;
            assert_eq!(oldest, 3);
            assert_eq!(
                kept.iter().map(|e| e.id).collect::<Vec<_>>(),
                [3, 4, 5, 6, 7, 8]
            );
            assert_eq!(kept[0].kind, crate::bus::EventKind::CheckResult);
            assert_eq!(&kept[0].json[..], b"{\"n\":2}");
            let (after, _) = store.events_after(6, 1)?;
            assert_eq!(after.iter().map(|e| e.id).collect::<Vec<_>>(), [7]);
        }
        let (store, _, bus) = reopen(&path, 5).await?;
        assert_eq!(bus.last_id(), 8);
        store
            .commit_with(Commit {
                events: vec![ev(8)],
                ..Commit::default()
            })
            .await
            .map_err(anyhow::Error::msg)?;
        let (after, _) = store.events_after(8, 10)?;
        assert_eq!(after.len(), 1);
        assert_eq!(after[0].id, 9, "ids continue after a restart");
        Ok(())
    }
}
