//! The result processor: the single writer of checkable state.
//!
//! Every check result — from the checker or submitted through the API — and every
//! reschedule goes through one task, in order. It takes every command waiting (up to a
//! batch), applies them to the hosts' and services' state, commits the new states to the
//! store in one transaction, then publishes them to the objects' runtime cells and
//! answers. An acknowledged result is durable; readers never see a state that a crash
//! could take back.

pub mod state;

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{json, Value as Json};
use tokio::sync::{mpsc, oneshot};

use crate::app::now;
use crate::bus::Pending;
use crate::objects::Object;
use crate::store::{self, Commit, Op};
use state::{CheckableState, HARD, SOFT};

/// Commands waiting for the processor at most; submitters wait beyond (backpressure).
const QUEUE: usize = 16_384;
/// Commands applied in one transaction at most.
const BATCH: usize = 4096;

/// A check result to apply.
#[derive(Debug, Clone)]
pub struct CheckInput {
    /// The plugin's exit code (or the submitted `exit_status`).
    pub exit_status: i64,
    /// The resulting state: hosts 0 UP / 1 DOWN, services 0–3.
    pub state: u8,
    pub output: String,
    pub performance_data: Vec<Json>,
    pub command: Json,
    pub schedule_start: f64,
    pub schedule_end: f64,
    pub execution_start: f64,
    pub execution_end: f64,
    pub active: bool,
    pub check_source: String,
    pub scheduling_source: String,
    pub ttl: f64,
}

/// Why a result was not applied.
#[derive(Debug, Clone, PartialEq)]
pub enum Refused {
    /// A newer result is already there (409).
    Stale,
    /// The object is gone or has no state (404/503).
    Gone,
    /// The store could not commit (500).
    Store(String),
}

/// What a processed command leaves: the next check time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Processed {
    pub next_check: f64,
}

type Reply = oneshot::Sender<Result<Processed, Refused>>;

/// What to do to an object's state, and who waits for the outcome.
struct Command {
    object: Arc<Object>,
    change: Change,
    reply: Reply,
}

enum Change {
    Result(CheckInput),
    Reschedule { next_check: f64, force: bool },
}

/// The handle submitters use.
#[derive(Clone)]
pub struct Processor {
    tx: mpsc::Sender<Command>,
}

impl Processor {
    /// Starts the processor task. `schedule` receives every new next-check time (the
    /// scheduler's queue).
    pub fn spawn(
        store: store::Store,
        schedule: mpsc::UnboundedSender<(Arc<Object>, f64)>,
    ) -> (Processor, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(QUEUE);
        let handle = tokio::spawn(run(rx, store, schedule));
        (Processor { tx }, handle)
    }

    /// Applies a result; returns once it is durable.
    pub async fn submit(
        &self,
        object: Arc<Object>,
        input: CheckInput,
    ) -> Result<Processed, Refused> {
        self.send(object, Change::Result(input)).await
    }

    /// Sets the next check (`reschedule-check`).
    pub async fn reschedule(
        &self,
        object: Arc<Object>,
        next_check: f64,
        force: bool,
    ) -> Result<Processed, Refused> {
        self.send(object, Change::Reschedule { next_check, force })
            .await
    }

    async fn send(&self, object: Arc<Object>, change: Change) -> Result<Processed, Refused> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Command {
                object,
                change,
                reply,
            })
            .await
            .map_err(|_| Refused::Gone)?;
        answer.await.map_err(|_| Refused::Gone)?
    }
}

async fn run(
    mut rx: mpsc::Receiver<Command>,
    store: store::Store,
    schedule: mpsc::UnboundedSender<(Arc<Object>, f64)>,
) {
    let mut batch = Vec::with_capacity(BATCH);
    while rx.recv_many(&mut batch, BATCH).await > 0 {
        // New states by object (the latest wins within a batch), and the answers.
        // Keyed by the runtime cell's address: one entry per object.
        let mut changed: HashMap<usize, (Arc<Object>, CheckableState)> = HashMap::new();
        let mut answers: Vec<(Reply, Result<Processed, Refused>)> = Vec::new();
        // Events in the order their results were applied, published after the commit.
        let mut events: Vec<Pending> = Vec::new();
        for Command {
            object,
            change,
            reply,
        } in batch.drain(..)
        {
            let Some(cell) = object.runtime.clone() else {
                answers.push((reply, Err(Refused::Gone)));
                continue;
            };
            let key = Arc::as_ptr(&cell) as usize;
            let mut st = match changed.get(&key) {
                Some((_, s)) => s.clone(),
                None => (*cell.get()).clone(),
            };
            let outcome = match change {
                Change::Result(input) => apply_result(&object, &mut st, input, &mut events),
                Change::Reschedule { next_check, force } => {
                    st.next_check = next_check;
                    st.force_next_check |= force;
                    Ok(Processed { next_check })
                }
            };
            if outcome.is_ok() {
                changed.insert(key, (object, st));
            }
            answers.push((reply, outcome));
        }
        let ops: Vec<Op> = changed
            .values()
            .map(|(o, s)| Op::PutState {
                key: store::key(o.type_info.name, &o.name),
                value: serde_json::to_vec(s).unwrap_or_default(),
            })
            .collect();
        let mut due = Vec::with_capacity(changed.len());
        let mut cells = Vec::with_capacity(changed.len());
        for (object, st) in changed.into_values() {
            due.push((object.clone(), st.next_check));
            if let Some(cell) = object.runtime.clone() {
                cells.push((cell, Arc::new(st)));
            }
        }
        // The new states become visible right after the commit, before the events.
        let then = Box::new(move || {
            for (cell, st) in cells {
                cell.set(st);
            }
        });
        let commit = Commit {
            ops,
            events,
            then: Some(then),
        };
        if let Err(e) = store.commit_with(commit).await {
            for (reply, _) in answers {
                let _ = reply.send(Err(Refused::Store(e.clone())));
            }
            continue;
        }
        for (object, next) in due {
            let _ = schedule.send((object, next));
        }
        for (reply, outcome) in answers {
            let _ = reply.send(outcome);
        }
    }
}

fn number(o: &Object, field: &str, default: f64) -> f64 {
    o.attr(field)
        .and_then(|v| v.to_number().ok())
        .filter(|n| n.is_finite())
        .unwrap_or(default)
}

fn flag(o: &Object, field: &str, default: bool) -> bool {
    o.attr(field).map_or(default, |v| v.to_bool())
}

/// The fields every checkable event starts with.
#[derive(serde::Serialize)]
struct Head<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    timestamp: f64,
    host: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    service: Option<&'a str>,
}

/// `CheckResult` and `StateChange` events.
#[derive(serde::Serialize)]
struct ResultEvent<'a> {
    #[serde(flatten)]
    head: Head<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    state: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    state_type: Option<u8>,
    check_result: Option<&'a state::CheckResult>,
    downtime_depth: u32,
    acknowledgement: bool,
}

/// The events one result causes, with Icinga's field names (spec §8.3), serialised
/// straight to bytes.
fn emit(
    o: &Object,
    st: &CheckableState,
    t: &state::Transition,
    flapping_changed: bool,
    settings: state::flapping::Settings,
    events: &mut Vec<Pending>,
) {
    let ts = now();
    let host_name = o.string("host_name");
    let short = o.string("name");
    let (host, service) = if o.type_info.name == "Service" {
        (host_name.as_str(), Some(short.as_str()))
    } else {
        (&*o.name, None)
    };
    let head = |kind| Head {
        kind,
        timestamp: ts,
        host,
        service,
    };
    let cr = st.last_check_result.as_deref();
    let acked = st.acknowledgement != 0;
    let mut push = |kind: &'static str, bytes: serde_json::Result<Vec<u8>>| {
        if let Ok(b) = bytes {
            events.push((kind, bytes::Bytes::from(b)));
        }
    };
    push(
        "CheckResult",
        serde_json::to_vec(&ResultEvent {
            head: head("CheckResult"),
            state: None,
            state_type: None,
            check_result: cr,
            downtime_depth: 0,
            acknowledgement: acked,
        }),
    );
    // Every hard change, state change and SOFT result (Icinga emits one per SOFT attempt).
    if t.hard_change || t.state_change || st.state_type == state::SOFT {
        push(
            "StateChange",
            serde_json::to_vec(&ResultEvent {
                head: head("StateChange"),
                state: Some(st.state),
                state_type: Some(st.state_type),
                check_result: cr,
                downtime_depth: 0,
                acknowledgement: acked,
            }),
        );
    }
    let with = |kind: &'static str, extra: Json| {
        let mut v = serde_json::to_value(head(kind)).unwrap_or_default();
        if let (Json::Object(m), Json::Object(e)) = (&mut v, extra) {
            m.extend(e);
        }
        serde_json::to_vec(&v)
    };
    if flapping_changed {
        push(
            "Flapping",
            with(
                "Flapping",
                json!({"state": st.state, "state_type": st.state_type, "is_flapping": st.flapping,
                       "flapping_current": st.flapping_current,
                       "threshold_low": settings.low, "threshold_high": settings.high}),
            ),
        );
    }
    if t.ack_cleared {
        push(
            "AcknowledgementCleared",
            with(
                "AcknowledgementCleared",
                json!({"state": st.state, "state_type": st.state_type, "acknowledgement_type": 0}),
            ),
        );
    }
}

/// `flapping_ignore_states` as a bit per state (`["Unknown"]`, `["Down"]`, …).
fn ignored_states(o: &Object) -> u8 {
    let is_host = o.type_info.name == "Host";
    let Some(filters::Value::Array(names)) = o.attr("flapping_ignore_states") else {
        return 0;
    };
    names.iter().fold(0, |bits, n| {
        let bit = match (is_host, n.to_display_string().to_lowercase().as_str()) {
            (false, "ok") | (true, "up") => 1 << 0,
            (false, "warning") | (true, "down") => 1 << 1,
            (false, "critical") => 1 << 2,
            (false, "unknown") => 1 << 3,
            _ => 0,
        };
        bits | bit
    })
}

/// Applies one result to `st` (spec §10.3): stale guard, state machine, check result
/// document, next check.
fn apply_result(
    o: &Object,
    st: &mut CheckableState,
    input: CheckInput,
    events: &mut Vec<Pending>,
) -> Result<Processed, Refused> {
    let t_now = now();
    if let Some(prev) = &st.last_check_result {
        let prev_start = prev.execution_start;
        if prev_start <= t_now && input.execution_start < prev_start {
            return Err(Refused::Stale);
        }
    }
    let vars_before = st.last_check_result.as_ref().map(|r| r.vars_after);
    let max = number(o, "max_check_attempts", 3.0).max(1.0) as u32;
    let volatile = flag(o, "volatile", false);
    let t = state::apply(st, input.state, max, volatile, input.execution_end);
    let settings = state::flapping::Settings {
        enabled: flag(o, "enable_flapping", false),
        low: number(o, "flapping_threshold_low", 25.0),
        high: number(o, "flapping_threshold_high", 30.0),
        ignore: ignored_states(o),
    };
    let flapping_changed = state::flapping::record(st, input.state, settings, input.execution_end);
    let raw_state = if o.type_info.name == "Host" {
        // Hosts keep Icinga's service numbering in the result: UP = OK, DOWN = CRITICAL.
        if input.state == 0 {
            0
        } else {
            2
        }
    } else {
        input.state
    };
    st.last_check_result = Some(Arc::new(state::CheckResult {
        kind: state::CheckResultType::CheckResult,
        active: input.active,
        check_source: input.check_source,
        command: input.command,
        execution_start: input.execution_start,
        execution_end: input.execution_end,
        exit_status: input.exit_status,
        output: input.output,
        performance_data: input.performance_data,
        previous_hard_state: t.previous_hard_state,
        schedule_start: input.schedule_start,
        schedule_end: input.schedule_end,
        scheduling_source: input.scheduling_source,
        state: raw_state,
        ttl: input.ttl,
        vars_before,
        vars_after: state::ResultVars {
            attempt: st.check_attempt,
            reachable: st.last_reachable,
            state: raw_state,
            state_type: st.state_type,
        },
    }));
    let check_interval = number(o, "check_interval", 300.0).max(1.0);
    let retry_interval = number(o, "retry_interval", 60.0).max(1.0);
    emit(o, st, &t, flapping_changed, settings, events);
    if input.active {
        // The forced check has run.
        st.force_next_check = false;
    }
    st.next_check = if input.active {
        let interval = if st.state_type == SOFT && st.state != 0 {
            retry_interval
        } else {
            check_interval
        };
        t_now + interval
    } else if input.ttl > 0.0 {
        t_now + input.ttl
    } else {
        t_now + check_interval
    };
    debug_assert!(st.state_type == SOFT || st.state_type == HARD);
    Ok(Processed {
        next_check: st.next_check,
    })
}
