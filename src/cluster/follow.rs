//! A follower reads the log from where its store stands and commits each record with the
//! leader's event ids; the records' states go into the objects' cells, and object
//! changes (API objects, comments, downtimes, modified attributes) rebuild the objects.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::{anyhow, Result};
use async_nats::jetstream;
use futures_util::StreamExt;
use tokio::sync::{mpsc, watch, Notify};
use tokio_util::sync::CancellationToken;

use super::log::Assembler;
use crate::objects::{Object, Published};
use crate::state::CheckableState;
use crate::store::{record, Commit, Op, Replica, Store};

/// Records committed at once at most while the follower catches up.
const IN_FLIGHT: usize = 256;

/// How far behind the log the follower is: messages still to read, and when the last
/// one read was appended.
#[derive(Default)]
pub struct Behind {
    pending: AtomicU64,
    published: AtomicU64,
}

impl Behind {
    /// Seconds behind the log at `now` (0 when nothing waits to be read).
    pub fn seconds(&self, now: f64) -> f64 {
        if self.pending.load(Ordering::Relaxed) == 0 {
            return 0.0;
        }
        (now - f64::from_bits(self.published.load(Ordering::Relaxed))).max(0.0)
    }

    fn read(&self, pending: u64, published: f64) {
        self.pending.store(pending, Ordering::Relaxed);
        self.published.store(published.to_bits(), Ordering::Relaxed);
    }
}

/// What a follower needs.
#[derive(Clone)]
pub struct Context {
    pub stream: jetstream::stream::Stream,
    pub store: Store,
    pub objects: Published,
    /// The scheduler's queue: the next check of every state the log brings.
    pub schedule: mpsc::UnboundedSender<(Arc<Object>, f64)>,
    /// Woken when records changed objects (a rebuild follows).
    pub rebuild: Arc<Notify>,
    /// The last record committed that changed objects, and the last such record the
    /// objects are rebuilt from.
    pub changed: Arc<AtomicU64>,
    pub rebuilt: Arc<AtomicU64>,
    /// The last record committed.
    pub committed: Arc<AtomicU64>,
    /// States of objects this node does not have yet (created in the same record): set
    /// after the rebuild.
    pub waiting: Arc<Mutex<HashMap<String, Arc<CheckableState>>>>,
    /// The sequence number of the last message read (parts of records included).
    pub read: Arc<watch::Sender<u64>>,
    /// How far behind the log this node is.
    pub behind: Arc<Behind>,
    /// The API tokens: records of the log add and revoke them.
    pub tokens: Arc<crate::auth::token::Tokens>,
    /// The position readers of this node see: the last record committed whose objects
    /// are rebuilt (forwarded writes wait for it: a client reads its own write).
    pub applied: Arc<watch::Sender<u64>>,
}

/// Follows the log until `stop`; returns once every record read is committed.
///
/// # Errors
/// The log cannot be read, or a record cannot be decoded or committed (the follower
/// stops where its store stands: nothing is skipped).
pub async fn follow(ctx: Context, stop: CancellationToken) -> Result<()> {
    let from = ctx.store.log_position() + 1;
    let first = ctx
        .stream
        .get_info()
        .await
        .map_err(|e| anyhow!("reading the log: {e}"))?
        .state
        .first_sequence;
    if first > from {
        return Err(anyhow!(
            "the log no longer holds the records after this node's position {} (it begins at {first}): \
             start this node from a copy of another node's stopped store",
            from - 1
        ));
    }
    let consumer = ctx
        .stream
        .create_consumer(jetstream::consumer::pull::OrderedConfig {
            deliver_policy: jetstream::consumer::DeliverPolicy::ByStartSequence {
                start_sequence: from,
            },
            ..Default::default()
        })
        .await
        .map_err(|e| anyhow!("reading the log: {e}"))?;
    let mut messages = consumer
        .messages()
        .await
        .map_err(|e| anyhow!("reading the log: {e}"))?;
    let mut assembler = Assembler::default();
    let mut pending: VecDeque<(u64, tokio::task::JoinHandle<Result<(), String>>)> = VecDeque::new();
    let outcome = loop {
        let next = tokio::select! {
            () = stop.cancelled() => break Ok(()),
            // The oldest commit in flight finished: its waiters learn at once.
            done = async { (&mut pending.front_mut()?.1).await.ok() }, if !pending.is_empty() => {
                let seq = pending.pop_front().map_or(0, |(seq, _)| seq);
                match done {
                    Some(Ok(())) => { committed(&ctx, seq); continue; }
                    Some(Err(e)) => break Err(anyhow!("record {seq} of the log not committed: {e}")),
                    None => break Err(anyhow!("record {seq} of the log not committed")),
                }
            }
            next = messages.next() => next,
        };
        let message = match next {
            Some(Ok(m)) => m,
            Some(Err(e)) => break Err(anyhow!("reading the log: {e}")),
            None => break Err(anyhow!("the log's consumer ended")),
        };
        let seq = match message.info() {
            Ok(info) => {
                let published = info.published.unix_timestamp_nanos() as f64 / 1e9;
                ctx.behind.read(info.pending, published);
                info.stream_sequence
            }
            Err(e) => break Err(anyhow!("a message of the log without its position: {e}")),
        };
        if let Some(raw) = assembler.push(seq, &message) {
            let decoded = match record::decode(&raw) {
                Ok(r) => r,
                Err(e) => break Err(anyhow!("record {seq} of the log: {e:#}")),
            };
            let commit = commit_of(&ctx, seq, decoded.ops, decoded.events);
            let replica = Replica {
                seq,
                first_id: decoded.first_id,
            };
            let committing = ctx.store.replicate(replica, commit);
            pending.push_back((seq, tokio::spawn(committing)));
            while pending.len() >= IN_FLIGHT {
                settle(&ctx, &mut pending).await?;
            }
        }
        ctx.read.send_replace(seq);
    };
    while !pending.is_empty() {
        settle(&ctx, &mut pending).await?;
    }
    outcome
}

/// Waits for the oldest commit in flight.
async fn settle(
    ctx: &Context,
    pending: &mut VecDeque<(u64, tokio::task::JoinHandle<Result<(), String>>)>,
) -> Result<()> {
    let Some((seq, handle)) = pending.pop_front() else {
        return Ok(());
    };
    match handle.await {
        Ok(Ok(())) => {
            committed(ctx, seq);
            Ok(())
        }
        Ok(Err(e)) => Err(anyhow!("record {seq} of the log not committed: {e}")),
        Err(e) => Err(anyhow!("record {seq} of the log not committed: {e}")),
    }
}

/// Record `seq` is committed: visible at once unless objects wait for their rebuild.
fn committed(ctx: &Context, seq: u64) {
    ctx.committed.store(seq, Ordering::Release);
    reveal(ctx);
}

/// The objects are rebuilt from the records up to `upto` that changed them.
pub fn rebuilt(ctx: &Context, upto: u64) {
    ctx.rebuilt.fetch_max(upto, Ordering::AcqRel);
    reveal(ctx);
}

/// Advances what readers see to the last record committed, once no object change
/// waits for its rebuild.
fn reveal(ctx: &Context) {
    if ctx.rebuilt.load(Ordering::Acquire) >= ctx.changed.load(Ordering::Acquire) {
        let seq = ctx.committed.load(Ordering::Acquire);
        ctx.applied.send_if_modified(|p| {
            let advanced = seq > *p;
            *p = (*p).max(seq);
            advanced
        });
    }
}

/// The commit of a record, and what makes it visible here.
fn commit_of(ctx: &Context, seq: u64, ops: Vec<Op>, events: Vec<crate::bus::Pending>) -> Commit {
    let mut states = Vec::new();
    let mut tokens = Vec::new();
    // A reload on the leader changes objects without records of them: this node reads
    // its own configuration again.
    let mut objects_changed = events.iter().any(|(kind, _)| {
        matches!(
            kind,
            crate::bus::EventKind::ObjectCreated
                | crate::bus::EventKind::ObjectModified
                | crate::bus::EventKind::ObjectDeleted
        )
    });
    for op in &ops {
        match op {
            Op::PutState { key, value } => match CheckableState::decode(value) {
                Ok(st) => states.push((key.clone(), Arc::new(st))),
                Err(e) => {
                    tracing::warn!(object = %key.replace('\0', " "), error = %e, "A state in the log is unreadable.");
                }
            },
            Op::PutToken { .. } | Op::DeleteToken { .. } => tokens.push(op.clone()),
            Op::DeleteState { .. } => {}
            _ => objects_changed = true,
        }
    }
    let token_table = ctx.tokens.clone();
    let (objects, schedule, rebuild, changed, waiting) = (
        ctx.objects.clone(),
        ctx.schedule.clone(),
        ctx.rebuild.clone(),
        ctx.changed.clone(),
        ctx.waiting.clone(),
    );
    let then: Box<dyn FnOnce() + Send> = Box::new(move || {
        let reg = objects.current();
        for (key, st) in states {
            let found = crate::store::split_key(&key).and_then(|(t, n)| reg.get(t, n));
            match found.and_then(|o| o.runtime.as_ref().map(|c| (o, c))) {
                Some((o, cell)) => {
                    let next = st.next_check;
                    let before = cell.get().next_check;
                    cell.set(st);
                    if next != before {
                        let _ = schedule.send((o.clone(), next));
                    }
                }
                None => {
                    waiting
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(key, st);
                }
            }
        }
        for op in &tokens {
            token_table.replicate(op);
        }
        if objects_changed {
            changed.fetch_max(seq, Ordering::AcqRel);
            rebuild.notify_one();
        }
    });
    Commit {
        ops,
        events,
        then: Some(then),
    }
}

/// Sets the states that waited for their objects.
pub fn place_waiting(ctx: &Context) {
    let reg = ctx.objects.current();
    let mut waiting = ctx.waiting.lock().unwrap_or_else(|e| e.into_inner());
    waiting.retain(|key, st| {
        let found = crate::store::split_key(key).and_then(|(t, n)| reg.get(t, n));
        match found.and_then(|o| o.runtime.as_ref().map(|c| (o, c))) {
            Some((o, cell)) => {
                cell.set(st.clone());
                let _ = ctx.schedule.send((o.clone(), st.next_check));
                false
            }
            // Gone for good when it is still missing after a rebuild (deleted later).
            None => false,
        }
    });
}
