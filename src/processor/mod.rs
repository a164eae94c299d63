//! The result processor: the single writer of checkable state and of what hangs off it
//! (acknowledgements, comments, downtimes, notification state).
//!
//! Every check result — from the checker or submitted through the API — every action on
//! hosts and services, and every timer (downtime start and end, expiry, re-notification)
//! goes through one task, in order. It takes every command waiting (up to a batch),
//! applies them, commits the new states, objects and events to the store in one
//! transaction, then makes them visible and answers. An acknowledged change is durable;
//! readers never see a state that a crash could take back.

pub mod acks;
pub mod batch;
pub mod comments;
pub mod counters;
pub mod downtimes;
pub mod handlers;
pub mod next_check;
pub mod notify;
pub mod reachability;
pub mod results;
pub mod timers;

use std::sync::Arc;
use std::time::Duration;

use filters::Str;
use serde_json::{json, Value as Json};
use tokio::sync::{mpsc, oneshot};

use crate::clock::Clock;
use crate::objects::{Object, Registry};
use crate::outcome::Outcome;
use crate::store::{self, Commit};
use batch::Batch;
use timers::{Deadline, Timers};

/// Commands waiting for the processor at most; submitters wait beyond (backpressure).
const QUEUE: usize = 16_384;
/// Commands applied in one transaction at most.
const BATCH: usize = 4096;
/// How long the processor sleeps when no timer is due.
const IDLE: Duration = Duration::from_secs(3600);

pub use crate::checker::CheckInput;

/// Why a command was not applied.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Refused {
    /// A newer result is already there (409).
    Stale,
    /// The object is gone or has no state (404/503).
    Gone,
    /// The store could not commit (500).
    Store(String),
    /// A cluster's leader could not be reached, or failed before it answered (503): the
    /// change may or may not have been applied.
    Unavailable(String),
    /// The action does not apply to this object: the result item's code and status.
    Rejected(u16, String),
}

/// What an applied command leaves: the next check time, and for actions the outcome
/// (`code`, `status`, and names of what was created).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Processed {
    pub next_check: f64,
    pub outcome: Option<Outcome>,
}

impl Processed {
    pub fn next(next_check: f64) -> Processed {
        Processed {
            next_check,
            outcome: None,
        }
    }

    pub fn outcome(outcome: Outcome) -> Processed {
        Processed {
            next_check: 0.0,
            outcome: Some(outcome),
        }
    }

    fn ok(status: String) -> Processed {
        Processed::outcome(Outcome::ok(status))
    }
}

/// What to do to an object (nothing: a barrier, see [`Processor::settle`]), and who waits
/// for the outcome.
pub struct Command {
    pub work: Option<(Arc<Object>, Change)>,
    pub reply: oneshot::Sender<Result<Processed, Refused>>,
}

/// The commands submitted to a [`Processor`], for whoever applies them: [`serve`] on a
/// standalone node or a cluster's leader, a forwarder to the leader on its followers.
pub type Inbox = mpsc::Receiver<Command>;

/// A change to a host or service (or, for removals, to a comment or downtime).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub enum Change {
    Result(CheckInput),
    Reschedule {
        next_check: f64,
        force: bool,
    },
    Acknowledge(acks::Ack),
    RemoveAcknowledgement {
        author: String,
    },
    AddComment {
        author: String,
        text: String,
        expiry: f64,
    },
    /// On a Comment: that comment; on a host or service: all of its comments.
    RemoveComment {
        author: String,
    },
    ScheduleDowntime(downtimes::Spec),
    /// On a Downtime: that downtime; on a host or service: all of its downtimes.
    RemoveDowntime {
        author: String,
    },
    CustomNotification {
        author: String,
        text: String,
        force: bool,
    },
    DelayNotification {
        until: f64,
    },
    /// Records an `execute-command` run (its start, then its outcome) under its id;
    /// entries past their deadline go.
    Execution {
        id: String,
        record: Json,
    },
}

/// What the processor works with besides its commands.
pub struct Context {
    pub store: store::Store,
    /// The object snapshot readers use; the processor publishes comment and downtime
    /// changes into it.
    pub registry: crate::objects::Published,
    /// Serialises object changes with the objects writer (`objects::writer`).
    pub writer: Arc<tokio::sync::Mutex<()>>,
    /// The scheduler's queue: every new next-check time.
    pub schedule: mpsc::UnboundedSender<(Arc<Object>, f64)>,
    /// The zone objects show when they name none.
    pub zone: Str,
    /// Check results processed, for `/v1/status` and the `icinga` check.
    pub counters: Arc<counters::CheckCounters>,
    /// The time batches are applied at and timers wait for.
    pub clock: Clock,
}

impl Context {
    fn registry(&self) -> Arc<Registry> {
        self.registry.current()
    }
}

/// The handle submitters use.
#[derive(Clone)]
pub struct Processor {
    tx: mpsc::Sender<Command>,
}

impl Processor {
    /// Starts the processor task.
    pub fn spawn(ctx: Context) -> (Processor, tokio::task::JoinHandle<()>) {
        let (processor, mut inbox) = Processor::channel();
        let handle = tokio::spawn(async move {
            serve(
                &mut inbox,
                &ctx,
                &tokio_util::sync::CancellationToken::new(),
            )
            .await;
        });
        (processor, handle)
    }

    /// A handle and the inbox its commands arrive in, for the caller to serve.
    pub fn channel() -> (Processor, Inbox) {
        let (tx, rx) = mpsc::channel(QUEUE);
        (Processor { tx }, rx)
    }

    /// Applies a result; returns once it is durable.
    pub async fn submit(
        &self,
        object: Arc<Object>,
        input: CheckInput,
    ) -> Result<Processed, Refused> {
        self.apply(object, Change::Result(input)).await
    }

    /// Applies a change; returns once it is durable.
    pub async fn apply(&self, object: Arc<Object>, change: Change) -> Result<Processed, Refused> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Command {
                work: Some((object, change)),
                reply,
            })
            .await
            .map_err(|_| Refused::Gone)?;
        answer.await.map_err(|_| Refused::Gone)?
    }
}

impl Processor {
    /// Returns once everything queued before is applied and durable, and every timer due
    /// by now has fired (tests move a manual clock, then wait for its consequences).
    pub async fn settle(&self) {
        let (reply, answer) = oneshot::channel();
        let barrier = Command { work: None, reply };
        if self.tx.send(barrier).await.is_ok() {
            let _ = answer.await;
        }
    }

    /// Queues changes in the order given — the order they are applied in — then waits
    /// for all of them (they share commits). Answers in the same order.
    pub async fn apply_all(
        &self,
        changes: Vec<(Arc<Object>, Change)>,
    ) -> Vec<Result<Processed, Refused>> {
        let mut answers = Vec::with_capacity(changes.len());
        for (object, change) in changes {
            let (reply, answer) = oneshot::channel();
            let command = Command {
                work: Some((object, change)),
                reply,
            };
            answers.push(self.tx.send(command).await.ok().map(|()| answer));
        }
        // Answers come in the order the changes were queued: awaiting them in turn finds
        // most already there (a commit answers a whole group), at no cost per change —
        // unlike polling a million futures as a set.
        let mut out = Vec::with_capacity(answers.len());
        for answer in answers {
            out.push(match answer {
                Some(a) => a.await.unwrap_or(Err(Refused::Gone)),
                None => Err(Refused::Gone),
            });
        }
        out
    }
}

/// Applies the commands of `rx` until it closes or `stop` fires (then after the batch in
/// hand; later commands stay in `rx`).
pub async fn serve(rx: &mut Inbox, ctx: &Context, stop: &tokio_util::sync::CancellationToken) {
    let mut timers = Timers::default();
    let mut legacy_ids = {
        let reg = ctx.registry();
        let now = ctx.clock.now();
        for (at, d) in timers::restored(&reg, now) {
            timers.add(at, d);
        }
        timers.add(now, Deadline::ScheduledDowntimes);
        batch::LegacyIds::after(&reg)
    };
    let mut commands = Vec::with_capacity(BATCH);
    loop {
        let wake = timers
            .next()
            .unwrap_or_else(|| ctx.clock.now() + IDLE.as_secs_f64());
        tokio::select! {
            () = stop.cancelled() => break,
            n = rx.recv_many(&mut commands, BATCH) => if n == 0 { break },
            () = ctx.clock.sleep_until(wake) => {}
        }
        let now = ctx.clock.now();
        let due = timers.due(now);
        if commands.is_empty() && due.is_empty() {
            continue;
        }
        // Object changes (comments, downtimes) are serialised with the objects writer.
        let guard = ctx.writer.clone().lock_owned().await;
        let mut b = Batch::new(ctx.registry(), ctx.zone.clone(), now, legacy_ids);
        for d in due {
            fire(&mut b, d);
        }
        let mut answers = Vec::with_capacity(commands.len());
        for Command { work, reply } in commands.drain(..) {
            let outcome = match work {
                Some((object, change)) => apply(&mut b, &object, change),
                None => Ok(Processed::next(0.0)),
            };
            answers.push((reply, outcome));
        }
        ctx.counters.record(b.now, b.checked.drain(..));
        let f = b.finish();
        legacy_ids = f.legacy_ids;
        for (at, d) in f.timers {
            timers.add(at, d);
        }
        let mut due = Vec::new();
        let mut cells = Vec::with_capacity(f.states.len());
        for (object, st, reschedule) in f.states {
            if reschedule {
                due.push((object.clone(), st.next_check));
            }
            if let Some(cell) = object.runtime.clone() {
                cells.push((cell, Arc::new(st)));
            }
        }
        // The new states and objects become visible right after the commit, before the
        // events go out.
        let (slot, registry) = (ctx.registry.clone(), f.registry);
        let then: Box<dyn FnOnce() + Send> = Box::new(move || {
            for (cell, st) in cells {
                cell.set(st);
            }
            if let Some(reg) = registry {
                slot.replace(reg);
            }
        });
        // Nothing to write (a timer with nothing due, refused commands): no transaction.
        let committed = if f.ops.is_empty() && f.events.is_empty() {
            then();
            Ok(())
        } else {
            let commit = Commit {
                ops: f.ops,
                events: f.events,
                then: Some(then),
            };
            ctx.store.commit_with(commit).await
        };
        drop(guard);
        if let Err(e) = committed {
            for (reply, _) in answers {
                let _ = reply.send(Err(Refused::Store(e.clone())));
            }
            continue;
        }
        for (object, next) in due {
            let _ = ctx.schedule.send((object, next));
        }
        for (reply, outcome) in answers {
            let _ = reply.send(outcome);
        }
        for job in f.jobs {
            tokio::spawn(notify::run(job, ctx.clock.clone()));
        }
    }
}

/// A timer's deadline.
fn fire(b: &mut Batch, d: Deadline) {
    match d {
        Deadline::AckExpiry(t, name) => acks::expire(b, t, &name),
        Deadline::CommentExpiry(name) => comments::expire(b, &name),
        Deadline::DowntimeStart(name) => downtimes::start(b, &name),
        Deadline::DowntimeEnd(name) => downtimes::expire(b, &name),
        Deadline::Renotify(name) => notify::renotify(b, &name),
        Deadline::Suppressed(t, name) => notify::release(b, t, &name),
        Deadline::ScheduledDowntimes => {
            downtimes::schedule_configured(b);
            b.timers.push((b.now + 60.0, Deadline::ScheduledDowntimes));
        }
    }
}

/// Applies one command to the batch.
fn apply(b: &mut Batch, o: &Arc<Object>, change: Change) -> Result<Processed, Refused> {
    // Comments and downtimes may have gone since the request selected them.
    let current = |b: &Batch| {
        b.get(o.type_info.name, &o.name).ok_or_else(|| {
            Refused::Rejected(
                404,
                format!("{} '{}' does not exist.", o.type_info.name, o.name),
            )
        })
    };
    match change {
        Change::Result(input) => results::apply_result(b, o, input),
        Change::Reschedule { next_check, force } => {
            let st = b.state(o).ok_or(Refused::Gone)?;
            st.next_check = next_check;
            st.force_next_check |= force;
            b.reschedule(o);
            Ok(Processed::next(next_check))
        }
        Change::Acknowledge(ack) => acks::acknowledge(b, o, ack),
        Change::RemoveAcknowledgement { author } => {
            acks::clear(b, o, &author);
            Ok(Processed::ok(format!(
                "Successfully removed acknowledgement for object '{}'.",
                o.name
            )))
        }
        Change::AddComment {
            author,
            text,
            expiry,
        } => {
            let c = comments::add(
                b,
                o,
                comments::NewComment {
                    author,
                    text,
                    entry_type: comments::USER,
                    expire_time: expiry,
                    persistent: false,
                },
            )
            .ok_or(Refused::Gone)?;
            let legacy_id = c.attr("legacy_id").map_or(Json::Null, |v| v.to_serde());
            Ok(Processed::outcome(
                Outcome::ok(format!(
                    "Successfully added comment '{}' for object '{}'.",
                    c.name, o.name
                ))
                .with("name", c.name.to_string())
                .with("legacy_id", legacy_id),
            ))
        }
        Change::RemoveComment { author } if o.type_info.name == "Comment" => {
            let c = current(b)?;
            comments::remove(b, &c, &author);
            Ok(Processed::ok(format!(
                "Successfully removed comment '{}'.",
                c.name
            )))
        }
        Change::RemoveComment { author } => {
            for c in b.attached("Comment", o) {
                comments::remove(b, &c, &author);
            }
            Ok(Processed::ok(format!(
                "Successfully removed all comments for object '{}'.",
                o.name
            )))
        }
        Change::ScheduleDowntime(spec) => downtimes::schedule(b, o, &spec),
        Change::RemoveDowntime { author } if o.type_info.name == "Downtime" => {
            match b.get("Downtime", &o.name) {
                Some(d) => downtimes::remove(b, &d, &author),
                // Removed already, with its parent earlier in the request: done, as in
                // Icinga.
                None => Ok(Processed::ok(format!(
                    "Successfully removed downtime '{}' and 0 child downtimes.",
                    o.name
                ))),
            }
        }
        Change::RemoveDowntime { author } => downtimes::remove_all(b, o, &author),
        Change::CustomNotification {
            author,
            text,
            force,
        } => {
            notify::send(
                b,
                o,
                &notify::Notice {
                    kind: notify::Kind::Custom,
                    author: &author,
                    text: &text,
                    force,
                },
            );
            Ok(Processed::ok(format!(
                "Successfully sent custom notification for object '{}'.",
                o.name
            )))
        }
        Change::Execution { id, record } => {
            let now = b.now;
            let st = b.state(o).ok_or(Refused::Gone)?;
            st.executions
                .retain(|_, e| e["deadline"].as_f64().is_none_or(|d| d + 300.0 > now));
            let entry = st.executions.entry(id).or_insert_with(|| json!({}));
            if let (Json::Object(e), Json::Object(r)) = (entry, record) {
                e.extend(r);
            }
            Ok(Processed::ok(String::new()))
        }
        Change::DelayNotification { until } => {
            notify::delay(b, o, until);
            Ok(Processed::ok(format!(
                "Successfully delayed notifications for object '{}'.",
                o.name
            )))
        }
    }
}
