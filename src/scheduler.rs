//! The scheduler: runs each host's and service's active check when it is due.
//!
//! A min-heap of (due time, object) plus the due time each object currently has; an
//! entry whose time no longer matches is stale and skipped (reschedules never search the
//! heap). Checks run as tasks, at most `MAX_CONCURRENT_CHECKS` at once; each ends by
//! submitting its result to the processor, whose answer feeds the next due time back
//! through the channel. New objects are picked up by a periodic scan of the registry.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, Semaphore};
use tokio_util::sync::CancellationToken;

use crate::app::{now, State};
use crate::objects::Object;

/// Checks running at once at most (Icinga's `MaxConcurrentChecks`).
pub const MAX_CONCURRENT_CHECKS: usize = 512;
/// How often the registry is scanned for objects to schedule.
const SCAN: Duration = Duration::from_secs(2);

/// Due times in milliseconds, for the heap.
fn ms(t: f64) -> i64 {
    (t * 1000.0) as i64
}

type Key = (&'static str, filters::Str);

fn key(o: &Object) -> Key {
    (o.type_info.name, o.name.clone())
}

/// Runs until `shutdown`.
pub async fn run(
    state: Arc<State>,
    mut due_rx: mpsc::UnboundedReceiver<(Arc<Object>, f64)>,
    shutdown: CancellationToken,
) {
    let slots = Arc::new(Semaphore::new(MAX_CONCURRENT_CHECKS));
    let mut heap: BinaryHeap<Reverse<(i64, Key)>> = BinaryHeap::new();
    let mut due: HashMap<Key, i64> = HashMap::new();
    let mut scan = tokio::time::interval(SCAN);
    loop {
        let next = heap.peek().map(|Reverse((t, _))| *t);
        let sleep = match next {
            Some(t) => Duration::from_millis((t - ms(now())).max(0) as u64),
            None => Duration::from_secs(3600),
        };
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = scan.tick() => {
                let reg = state.registry();
                for t in ["Host", "Service"] {
                    for o in reg.objects(t) {
                        let k = key(o);
                        if due.contains_key(&k) {
                            continue;
                        }
                        let at = first_due(o);
                        due.insert(k.clone(), ms(at));
                        heap.push(Reverse((ms(at), k)));
                    }
                }
            }
            Some((object, at)) = due_rx.recv() => {
                let k = key(&object);
                due.insert(k.clone(), ms(at));
                heap.push(Reverse((ms(at), k)));
            }
            _ = tokio::time::sleep(sleep), if next.is_some() => {
                let t_now = ms(now());
                while let Some(Reverse((t, k))) = heap.peek().cloned() {
                    if t > t_now {
                        break;
                    }
                    heap.pop();
                    if due.get(&k) != Some(&t) {
                        continue; // rescheduled meanwhile
                    }
                    let reg = state.registry();
                    let Some(object) = reg.get(k.0, &k.1).cloned() else {
                        due.remove(&k);
                        continue;
                    };
                    let forced = object.runtime.as_ref().is_some_and(|r| r.get().force_next_check);
                    let active = object.attr("enable_active_checks").is_none_or(|v| v.to_bool());
                    if !active && !forced {
                        let again = t_now as f64 / 1000.0 + interval(&object);
                        due.insert(k.clone(), ms(again));
                        heap.push(Reverse((ms(again), k)));
                        continue;
                    }
                    // Outside its check_period a check waits for the period to begin.
                    if !forced {
                        if let Some(wait_until) = outside_period(&reg, &object) {
                            due.insert(k.clone(), ms(wait_until));
                            heap.push(Reverse((ms(wait_until), k)));
                            continue;
                        }
                    }
                    // Marked as running: nothing re-queues it until its result is in.
                    due.insert(k.clone(), i64::MAX);
                    let Ok(permit) = slots.clone().acquire_owned().await else { return };
                    let state = state.clone();
                    tokio::spawn(async move {
                        let _permit = permit;
                        let reg = state.registry();
                        let input = crate::checker::check(&reg, &object, &state.node_name).await;
                        if let Err(e) = state.processor.submit(object.clone(), input).await {
                            tracing::warn!(object = %object.name, error = ?e, "Check result not processed.");
                            let again = now() + interval(&object);
                            let _ = state.schedule_tx.send((object, again));
                        }
                    });
                }
            }
        }
    }
}

/// When `object` is outside its `check_period`: the time the period next begins (or a
/// check interval from now when it never does).
fn outside_period(reg: &crate::objects::Registry, object: &Object) -> Option<f64> {
    let name = object.string("check_period");
    if name.is_empty() {
        return None;
    }
    let period = reg.get("TimePeriod", &name)?;
    let t = now();
    if crate::timeperiod::period_allows(Some(&period.attrs), t) {
        return None;
    }
    let ranges = match period.attr("ranges") {
        Some(filters::Value::Dict(r)) => r.clone(),
        _ => return None,
    };
    Some(crate::timeperiod::next_inside(&ranges, t + 60.0).unwrap_or(t + interval(object)))
}

fn interval(o: &Object) -> f64 {
    o.attr("check_interval")
        .and_then(|v| v.to_number().ok())
        .filter(|n| *n >= 1.0)
        .unwrap_or(300.0)
}

/// The first due time: the stored next check, or soon (spread over the first minute, as
/// Icinga spreads checks at startup).
fn first_due(o: &Object) -> f64 {
    let t_now = now();
    let stored = o.runtime.as_ref().map_or(0.0, |r| r.get().next_check);
    if stored > t_now + 60.0_f64.min(interval(o)) {
        return stored;
    }
    let spread = interval(o).min(60.0);
    t_now + rand::random::<f64>() * spread
}
