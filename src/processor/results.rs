//! Check results (spec §10.3): the stale-result guard, the state machine, the check
//! result document, the next check, and the events and consequences of a result.

use std::sync::Arc;

use serde_json::{json, Value as Json};

use super::batch::Batch;
use super::notify::{self, Kind, Notice};
use super::reachability::{self, Purpose};
use super::{acks, downtimes, handlers, CheckInput, Processed, Refused};
use crate::bus::{EventKind, Pending};
use crate::objects::Object;
use crate::state::{self, CheckableState, HARD, SOFT};

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
    state_type: Option<state::StateType>,
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
    (flapping_changed, settings): (bool, state::flapping::Settings),
    (ts, events): (f64, &mut Vec<Pending>),
) {
    let host_name = o.string("host_name");
    let short = o.string("name");
    let (host, service) = if o.type_info.name == "Service" {
        (host_name.as_str(), Some(short.as_str()))
    } else {
        (&*o.name, None)
    };
    let head = |kind: EventKind| Head {
        kind: kind.name(),
        timestamp: ts,
        host,
        service,
    };
    let cr = st.last_check_result.as_deref();
    let acked = st.acknowledged();
    let mut push = |kind: EventKind, bytes: serde_json::Result<Vec<u8>>| {
        if let Ok(b) = bytes {
            events.push((kind, bytes::Bytes::from(b)));
        }
    };
    push(
        EventKind::CheckResult,
        serde_json::to_vec(&ResultEvent {
            head: head(EventKind::CheckResult),
            state: None,
            state_type: None,
            check_result: cr,
            downtime_depth: st.downtime_depth,
            acknowledgement: acked,
        }),
    );
    // Every hard change, state change and SOFT result (Icinga emits one per SOFT attempt).
    if t.hard_change || t.state_change || t.volatile_change || st.state_type == state::SOFT {
        push(
            EventKind::StateChange,
            serde_json::to_vec(&ResultEvent {
                head: head(EventKind::StateChange),
                state: Some(st.state),
                state_type: Some(st.state_type),
                check_result: cr,
                downtime_depth: 0,
                acknowledgement: acked,
            }),
        );
    }
    let with = |kind: EventKind, extra: Json| {
        let mut v = serde_json::to_value(head(kind)).unwrap_or_default();
        if let (Json::Object(m), Json::Object(e)) = (&mut v, extra) {
            m.extend(e);
        }
        serde_json::to_vec(&v)
    };
    if flapping_changed {
        push(
            EventKind::Flapping,
            with(
                EventKind::Flapping,
                json!({"state": st.state, "state_type": st.state_type, "is_flapping": st.flapping,
                       "flapping_current": st.flapping_current,
                       "threshold_low": settings.low, "threshold_high": settings.high}),
            ),
        );
    }
    if t.ack_cleared {
        push(
            EventKind::AcknowledgementCleared,
            with(
                EventKind::AcknowledgementCleared,
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
pub fn apply_result(
    b: &mut Batch,
    o: &Arc<Object>,
    input: CheckInput,
) -> Result<Processed, Refused> {
    let t_now = b.now;
    let mut st = match b.peek_state(o) {
        Some(st) => (*st).clone(),
        None => return Err(Refused::Gone),
    };
    let st = &mut st;
    if let Some(prev) = &st.last_check_result {
        let prev_start = prev.execution_start;
        if prev_start <= t_now && input.execution_start < prev_start {
            return Err(Refused::Stale);
        }
    }
    let vars_before = st.last_check_result.as_ref().map(|r| r.vars_after);
    // Reachability is decided on the states before this result (as Icinga does).
    let reachable = b.reachable(o, Purpose::State);
    // Reachable implies notifiable (a dependency fails notifications only when it fails).
    let notifiable = reachable || b.reachable(o, Purpose::Notification);
    st.last_reachable = reachable;
    if !reachable {
        st.last_state_unreachable = input.execution_end;
    }
    let max = o.number("max_check_attempts", 3.0).max(1.0) as u32;
    let volatile = o.flag("volatile", false);
    let t = state::apply(st, input.state, max, volatile, input.execution_end);
    let app_flapping = b.base().app_switch("enable_flapping");
    let settings = state::flapping::Settings {
        enabled: app_flapping && o.flag("enable_flapping", false),
        low: o.number("flapping_threshold_low", 25.0),
        high: o.number("flapping_threshold_high", 30.0),
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
    emit(
        o,
        st,
        &t,
        (flapping_changed, settings),
        (b.now, &mut b.events),
    );
    b.checked.push(super::counters::Checked {
        host: o.type_info.name == "Host",
        active: input.active,
        at: input.schedule_end,
        latency: (input.schedule_end - input.schedule_start)
            - (input.execution_end - input.execution_start),
        execution: input.execution_end - input.execution_start,
    });
    if input.active {
        // The forced check has run.
        st.force_next_check = false;
    }
    st.next_check = if input.active {
        super::next_check::next_check_after(o, t_now, o.next_interval(st))
    } else if input.ttl > 0.0 {
        t_now + input.ttl
    } else {
        t_now + o.number("check_interval", 300.0).max(1.0)
    };
    debug_assert!(st.state_type == SOFT || st.state_type == HARD);
    let next_check = st.next_check;
    let (state, flapping) = (st.state, st.flapping);
    b.set_state(
        o,
        std::mem::replace(st, CheckableState::pending(false, 0.0)),
    );
    b.reschedule(o);
    consequences(
        b,
        o,
        &t,
        state,
        flapping_changed.then_some(flapping),
        notifiable,
    );
    check_relatives(b, o, &t);
    Ok(Processed::next(next_check))
}

/// Icinga's nudges along dependencies: on a recovery, children in a problem state are
/// checked within a minute (if that is sooner); on a state change, parents whose next
/// check is further away than their retry interval are checked now.
fn check_relatives(b: &mut Batch, o: &Arc<Object>, t: &state::Transition) {
    if b.base().count("Dependency") == 0 {
        return;
    }
    let mut moves = Vec::new();
    if t.recovery {
        for child in reachability::children(b.base(), o) {
            let Some(st) = b.peek_state(&child) else {
                continue;
            };
            let next = b.now + f64::from(rand::random::<u32>() % 60);
            if st.has_result() && st.state != 0 && next < st.next_check {
                moves.push((child, next));
            }
        }
    }
    if t.state_change {
        for parent in reachability::parents(b.base(), o) {
            let Some(st) = b.peek_state(&parent) else {
                continue;
            };
            let retry = parent.number("retry_interval", 60.0);
            if !Arc::ptr_eq(&parent, o) && st.next_check >= b.now + retry {
                moves.push((parent, b.now));
            }
        }
    }
    for (x, next) in moves {
        if !x.flag("enable_active_checks", true) {
            continue;
        }
        if let Some(st) = b.state(&x) {
            st.next_check = next;
        }
        b.reschedule(&x);
    }
}

/// What a result leads to beyond the state: acknowledgement comments removed,
/// flexible downtimes triggered, notifications.
fn consequences(
    b: &mut Batch,
    o: &Arc<Object>,
    t: &state::Transition,
    state: u8,
    flapping: Option<bool>,
    notifiable: bool,
) {
    if t.ack_cleared {
        acks::remove_comments(b, o, "");
    }
    handlers::after_result(b, o, t);
    if state != 0 {
        downtimes::problem(b, o);
    }
    let kind = match (t.notify, t.recovery) {
        (false, _) => None,
        (true, false) => Some(Kind::Problem),
        (true, true) => Some(Kind::Recovery),
    };
    // Most results notify nothing: the state is only read (copied) when one might.
    if kind.is_none() && flapping.is_none() {
        return;
    }
    let Some(st) = b.peek_state(o) else {
        return;
    };
    // Never while flapping; held back while in downtime, acknowledged or unreachable (or
    // behind one held back before), to be sent when that ends.
    match kind {
        Some(_) if st.flapping => {}
        Some(kind) if notify::held_back(&st, notifiable) || notify::state_pending(&st) => {
            notify::hold(b, o, kind);
        }
        Some(kind) => notify::send(b, o, &Notice::of(kind)),
        None => {}
    }
    let kind = match flapping {
        Some(true) => Kind::FlappingStart,
        Some(false) => Kind::FlappingEnd,
        None => return,
    };
    if st.downtime_depth > 0 {
        notify::hold(b, o, kind);
    } else {
        notify::send(b, o, &Notice::of(kind));
    }
}
