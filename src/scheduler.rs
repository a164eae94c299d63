//! The scheduler: runs each host's and service's active check when it is due.
//!
//! A min-heap of (due time, object) plus the due time each object currently has; an
//! entry whose time no longer matches is stale and skipped (reschedules never search the
//! heap). Checks run as tasks, at most `MAX_CONCURRENT_CHECKS` at once; each ends by
//! submitting its result to the processor, whose answer feeds the next due time back
//! through the channel. New objects are picked up by a periodic scan of the registry.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, Semaphore};
use tokio_util::sync::CancellationToken;

use crate::checker::Checker;
use crate::objects::Object;
use crate::objects::Registry;
use crate::processor::Processor;

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

/// Which checks this node runs: in a cluster its share of its zone's, else all.
pub type Share = Arc<dyn Fn(&Object) -> bool + Send + Sync>;

/// A share that runs every check (a standalone node's).
pub fn everything() -> Share {
    Arc::new(|_: &Object| true)
}

/// A share that runs no check (a cluster node's until it knows the other nodes).
pub fn nothing() -> Share {
    Arc::new(|_: &Object| false)
}

/// What the scheduler works with.
pub struct Context {
    /// The current object snapshot.
    pub registry: crate::objects::Published,
    pub checker: Checker,
    pub processor: Processor,
    /// Where a check whose result was not processed is queued again.
    pub schedule_tx: mpsc::UnboundedSender<(Arc<Object>, f64)>,
    /// The checks this node runs; when it changes (a cluster node came or went), every
    /// object is planned anew.
    pub share: tokio::sync::watch::Receiver<Share>,
}

impl Context {
    fn registry(&self) -> Arc<Registry> {
        self.registry.current()
    }
}

/// Runs until `shutdown`.
pub async fn run(
    state: Arc<Context>,
    mut due_rx: mpsc::UnboundedReceiver<(Arc<Object>, f64)>,
    shutdown: CancellationToken,
) {
    let slots = Arc::new(Semaphore::new(MAX_CONCURRENT_CHECKS));
    let mut queue = Queue::default();
    let mut scan = tokio::time::interval(SCAN);
    let clock = state.checker.clock.clone();
    let now = || clock.now();
    let mut share_rx = state.share.clone();
    let mut share = share_rx.borrow_and_update().clone();
    // The version of each checkable type last scanned: every object of it is queued, so
    // the next scan plans only the objects added since (a walk of a million objects
    // after every change would stall this worker for a quarter of a second).
    let mut scanned: [Option<u64>; 2] = [None, None];
    loop {
        let next = queue.heap.peek().map(|Reverse((t, _))| *t);
        let wake = next.map_or(f64::INFINITY, |t| t as f64 / 1000.0);
        tokio::select! {
            () = shutdown.cancelled() => return,
            Ok(()) = share_rx.changed() => {
                share = share_rx.borrow_and_update().clone();
                // Checks that moved here are planned from their state's next check.
                queue = Queue::default();
                scanned = [None, None];
                scan.reset_immediately();
            }
            _ = scan.tick() => {
                let reg = state.registry();
                for (t, seen) in ["Host", "Service"].into_iter().zip(&mut scanned) {
                    let version = reg.version(t);
                    if *seen == Some(version) {
                        continue;
                    }
                    match seen.and_then(|v| reg.added_since(t, v)) {
                        Some(added) => {
                            for o in added.iter().filter_map(|o| reg.get(t, &o.name)) {
                                queue.plan_new(o, now());
                            }
                        }
                        None => {
                            for o in reg.objects(t) {
                                queue.plan_new(o, now());
                            }
                        }
                    }
                    *seen = Some(version);
                }
            }
            Some((object, at)) = due_rx.recv() => queue.plan(key(&object), &object, at),
            () = clock.sleep_until(wake), if next.is_some() => {
                let now_s = now();
                let t_now = ms(now_s);
                let reg = state.registry();
                while let Some(k) = queue.pop_due(t_now) {
                    let Some(object) = reg.get(k.0, &k.1).cloned() else {
                        queue.due.remove(&k);
                        continue;
                    };
                    // Another node of the cluster runs it; its result comes with the log.
                    if !share(&object) {
                        queue.plan(k, &object, now_s + interval(&object));
                        continue;
                    }
                    let forced = object.runtime.as_ref().is_some_and(|r| r.get().force_next_check);
                    let switch = if k.0 == "Host" { "enable_host_checks" } else { "enable_service_checks" };
                    let active = reg.app_switch(switch) && object.flag("enable_active_checks", true);
                    if !active && !forced {
                        queue.plan(k, &object, now_s + interval(&object));
                        continue;
                    }
                    // A failed dependency with `disable_checks` skips the check.
                    if !forced {
                        let purpose = crate::processor::reachability::Purpose::CheckExecution;
                        if !crate::processor::reachability::reachable_now(&reg, &object, purpose, now_s) {
                            tracing::debug!(object = %object.name, "Check skipped: dependency failed.");
                            queue.plan(k, &object, now_s + interval(&object));
                            continue;
                        }
                    }
                    // Outside its check_period a check waits for the period to begin.
                    if !forced {
                        if let Some(wait_until) = outside_period(&reg, &object, now_s) {
                            queue.plan(k, &object, wait_until);
                            continue;
                        }
                    }
                    // Marked as running: nothing re-queues it until its result is in.
                    queue.due.insert(k, i64::MAX);
                    let Ok(permit) = slots.clone().acquire_owned().await else { return };
                    let state = state.clone();
                    let clock = clock.clone();
                    tokio::spawn(async move {
                        let _permit = permit;
                        let reg = state.registry();
                        let input = state.checker.check(&reg, &object).await;
                        if let Err(e) = state.processor.submit(object.clone(), input).await {
                            tracing::warn!(object = %object.name, error = ?e, "Check result not processed.");
                            let again = clock.now() + interval(&object);
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
fn outside_period(reg: &crate::objects::Registry, object: &Object, t: f64) -> Option<f64> {
    let name = object.string("check_period");
    if name.is_empty() {
        return None;
    }
    reg.get("TimePeriod", &name)?;
    if crate::timeperiod::period_allows(reg, &name, t) {
        return None;
    }
    Some(crate::timeperiod::next_active(reg, &name, t + 60.0).unwrap_or(t + interval(object)))
}

/// Due times: a min-heap of (time, object) and each object's current time; heap entries
/// whose time no longer matches were superseded and are skipped.
#[derive(Default)]
struct Queue {
    heap: BinaryHeap<Reverse<(i64, Key)>>,
    /// foldhash: a walk of all objects (a start, a reload, a bulk change) looks every
    /// checkable up here.
    due: foldhash::HashMap<Key, i64>,
}

impl Queue {
    fn set(&mut self, k: Key, at: i64) {
        self.due.insert(k.clone(), at);
        self.heap.push(Reverse((at, k)));
    }

    /// Queues `object`'s next check at `at` (Unix seconds), which its `next_check`
    /// shows while its state has none.
    fn plan(&mut self, k: Key, object: &Object, at: f64) {
        if let Some(cell) = &object.runtime {
            cell.plan(at);
        }
        self.set(k, ms(at));
    }

    /// Queues `object` at its first due time unless it is queued already.
    fn plan_new(&mut self, object: &Object, t_now: f64) {
        let k = key(object);
        if !self.due.contains_key(&k) {
            self.plan(k, object, first_due(object, t_now));
        }
    }

    /// The next object due at `t_now`, skipping superseded entries.
    fn pop_due(&mut self, t_now: i64) -> Option<Key> {
        while let Some(Reverse((t, _))) = self.heap.peek() {
            if *t > t_now {
                return None;
            }
            let Reverse((t, k)) = self.heap.pop()?;
            if self.due.get(&k) == Some(&t) {
                return Some(k);
            }
        }
        None
    }
}

fn interval(o: &Object) -> f64 {
    o.attr("check_interval")
        .and_then(|v| v.to_number().ok())
        .filter(|n| *n >= 1.0)
        .unwrap_or(300.0)
}

/// The first due time: the stored next check, or soon (spread over the first minute, as
/// Icinga spreads checks at startup).
fn first_due(o: &Object, t_now: f64) -> f64 {
    let stored = o.runtime.as_ref().map_or(0.0, |r| r.get().next_check);
    if stored > t_now + 60.0_f64.min(interval(o)) {
        return stored;
    }
    let spread = interval(o).min(60.0);
    t_now + rand::random::<f64>() * spread
}
