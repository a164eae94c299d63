//! The runtime state of hosts and services as objects carry it: the cell the processor
//! writes, and the runtime attributes (`state`, `last_check_result`, `severity`, …)
//! queries and filters read from it.

use std::sync::Arc;

use filters::Value;

use super::types::TypeInfo;
use super::{checkable_name, dict_str, Object};
use crate::state::{CheckableState, StateType};

/// The runtime state cell of a checkable. Written by the processor only; read by queries
/// and filters under a short read lock (never held across an await).
#[derive(Debug)]
pub struct Runtime {
    state: std::sync::RwLock<Arc<CheckableState>>,
    /// A service's host's cell: a service's `severity` and `handled` depend on its
    /// host's state. Set once, when the service is built; a reload keeps both cells.
    host: std::sync::OnceLock<Arc<Runtime>>,
    /// When the scheduler plans the next check (f64 bits; 0 before it has), shown as
    /// `next_check` until the state has one of its own (pending objects).
    planned: std::sync::atomic::AtomicU64,
}

impl Runtime {
    pub fn new(state: CheckableState) -> Arc<Runtime> {
        Runtime::shared(Arc::new(state))
    }

    /// A cell starting from a state other cells may hold too.
    pub fn shared(state: Arc<CheckableState>) -> Arc<Runtime> {
        Arc::new(Runtime {
            state: std::sync::RwLock::new(state),
            host: std::sync::OnceLock::new(),
            planned: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// Records when the scheduler plans the next check.
    pub fn plan(&self, at: f64) {
        self.planned
            .store(at.to_bits(), std::sync::atomic::Ordering::Relaxed);
    }

    /// `next_check` as shown: the state's, or else when the scheduler plans it.
    pub fn next_check(&self, st: &CheckableState) -> f64 {
        if st.next_check > 0.0 {
            return st.next_check;
        }
        f64::from_bits(self.planned.load(std::sync::atomic::Ordering::Relaxed))
    }

    pub fn get(&self) -> Arc<CheckableState> {
        self.state.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn set(&self, state: Arc<CheckableState>) {
        *self.state.write().unwrap_or_else(|e| e.into_inner()) = state;
    }

    /// Links a service's cell to its host's.
    pub fn link_host(&self, host: &Arc<Runtime>) {
        // A cell adopted by a reload is linked already, to the same host cell.
        let _ = self.host.set(host.clone());
    }

    /// Whether a service's cell is linked to this host cell.
    pub fn linked_to(&self, host: &Arc<Runtime>) -> bool {
        self.host.get().is_some_and(|h| Arc::ptr_eq(h, host))
    }

    /// A service's host's state.
    pub fn host(&self) -> Option<Arc<CheckableState>> {
        self.host.get().map(|h| h.get())
    }
}

/// Links runtime cells after a build: notifications show their runtime state
/// (`last_notification`, …) from their host's or service's state, where the processor
/// keeps it (they share its cell); services read their host's.
pub(super) fn link_runtime(objects: &mut foldhash::HashMap<&'static str, Vec<Arc<Object>>>) {
    use rayon::prelude::*;
    let notifications = objects.remove("Notification");
    let cells = |t: &str| -> foldhash::HashMap<&str, &Arc<Runtime>> {
        objects
            .get(t)
            .into_iter()
            .flatten()
            .filter_map(|o| Some((&*o.name, o.runtime.as_ref()?)))
            .collect()
    };
    let hosts = cells("Host");
    let services = objects.get("Service").map_or(&[][..], |v| &v[..]);
    services.par_iter().for_each(|service| {
        let host = dict_str(&service.attrs, "host_name").and_then(|h| hosts.get(h));
        if let (Some(cell), Some(host)) = (&service.runtime, host) {
            cell.link_host(host);
        }
    });
    let Some(mut notifications) = notifications else {
        return;
    };
    // Notifications belong to hosts or services: both by name.
    let mut cells = cells("Service");
    cells.extend(hosts);
    for n in &mut notifications {
        let owner = checkable_name(&n.attrs);
        if let (Some(cell), Some(n)) = (cells.get(owner.as_str()), Arc::get_mut(n)) {
            n.runtime = Some((*cell).clone());
        }
    }
    objects.insert("Notification", notifications);
}

/// Whether objects of type `ti` have a runtime cell, and for which kind of checkable.
fn checkable_kind(ti: &TypeInfo) -> Option<bool> {
    match ti.name {
        "Host" => Some(true),
        "Service" => Some(false),
        _ => None,
    }
}

/// A runtime cell for types that have one.
pub fn runtime_for(ti: &TypeInfo, start: f64) -> Option<Arc<Runtime>> {
    checkable_kind(ti).map(|is_host| Runtime::new(CheckableState::pending(is_host, start)))
}

/// The pending states of hosts and services as of one moment, shared by the cells of
/// every object built then: a state is replaced, never changed in place, so a million
/// objects that have not had a result yet hold two states between them, not a million.
pub struct Pending {
    host: Arc<CheckableState>,
    service: Arc<CheckableState>,
}

impl Pending {
    pub fn at(start: f64) -> Pending {
        Pending {
            host: Arc::new(CheckableState::pending(true, start)),
            service: Arc::new(CheckableState::pending(false, start)),
        }
    }

    /// A new cell for an object of type `ti`, if its type has one.
    pub fn runtime_for(&self, ti: &TypeInfo) -> Option<Arc<Runtime>> {
        checkable_kind(ti).map(|is_host| {
            Runtime::shared(if is_host { &self.host } else { &self.service }.clone())
        })
    }
}

impl Object {
    /// A runtime attribute of a host or service (`state`, `last_check_result`, …).
    pub fn runtime_value(&self, field: &str) -> Option<Value> {
        let rt = self.runtime.as_ref()?.get();
        self.runtime_field(&rt, field)
    }

    /// The interval to a host's or service's next check as Icinga picks it:
    /// `retry_interval` in a SOFT problem (after a result), else `check_interval` (each at
    /// least 1 s).
    pub fn next_interval(&self, st: &CheckableState) -> f64 {
        let soft_problem = st.has_result() && st.state_type == StateType::Soft && st.state != 0;
        if soft_problem {
            self.number("retry_interval", 60.0).max(1.0)
        } else {
            self.number("check_interval", 300.0).max(1.0)
        }
    }

    /// Icinga's `handled` for this host or service in state `rt` (see [`handled`]).
    pub fn handled(&self, rt: &CheckableState) -> bool {
        handled(rt, self.host_state().as_deref())
    }

    /// `next_check` as shown (see [`Runtime::next_check`]).
    fn next_check(&self, rt: &CheckableState) -> f64 {
        self.runtime
            .as_ref()
            .map_or(rt.next_check, |c| c.next_check(rt))
    }

    /// A service's host's state (`None` for hosts).
    fn host_state(&self) -> Option<Arc<CheckableState>> {
        self.runtime.as_ref().and_then(|c| c.host())
    }

    /// A runtime attribute from a state already read (one read per object when many
    /// attributes are shown).
    pub fn runtime_field(&self, rt: &CheckableState, field: &str) -> Option<Value> {
        let is_host = self.type_info.name == "Host";
        let n = |x: f64| Some(Value::Number(x));
        if self.type_info.name == "Notification" {
            let ns = rt
                .notifications
                .get(&*self.name)
                .cloned()
                .unwrap_or_default();
            return match field {
                "last_notification" => n(ns.last_notification),
                "next_notification" => n(ns.next_notification),
                "notification_number" => n(ns.notification_number as f64),
                "last_problem_notification" => n(ns.last_problem_notification),
                "notified_problem_users" => Some(Value::from(
                    ns.notified_problem_users
                        .into_iter()
                        .map(Value::from)
                        .collect::<Vec<_>>(),
                )),
                _ => None,
            };
        }
        match field {
            "state" => n(f64::from(rt.state)),
            "state_type" => n(f64::from(rt.state_type)),
            "check_attempt" => n(f64::from(rt.check_attempt)),
            "last_state" => n(f64::from(rt.last_state)),
            "last_state_type" => n(f64::from(rt.last_state_type)),
            "last_hard_state" => n(f64::from(rt.last_hard_state)),
            "last_state_change" => n(rt.last_state_change),
            "last_hard_state_change" => n(rt.last_hard_state_change),
            "previous_state_change" => n(rt.previous_state_change),
            "last_reachable" => Some(Value::Bool(rt.last_reachable)),
            "last_state_unreachable" => n(rt.last_state_unreachable),
            "next_check" => n(self.next_check(rt)),
            // When a result is overdue (UIs mark the object late): a check interval after
            // the next check, or two after the last passive result.
            "next_update" => {
                let interval = self.next_interval(rt);
                if self.flag("enable_active_checks", true) {
                    n(self.next_check(rt) + interval)
                } else {
                    n(rt.last_check_result
                        .as_ref()
                        .map_or(0.0, |r| r.execution_end + 2.0 * interval))
                }
            }
            "force_next_check" => Some(Value::Bool(rt.force_next_check)),
            "last_check_result" => Some(rt.last_check_result.as_ref().map_or(Value::Null, |r| {
                Value::from_json(&serde_json::to_value(&**r).unwrap_or_default())
            })),
            "last_check" => n(rt
                .last_check_result
                .as_ref()
                .map_or(-1.0, |r| r.schedule_end)),
            "problem" => Some(Value::Bool(rt.has_result() && rt.state != 0)),
            "handled" => Some(Value::Bool(self.handled(rt))),
            "severity" => n(f64::from(severity(
                is_host,
                rt,
                self.host_state().as_deref(),
            ))),
            "downtime_depth" => n(f64::from(rt.downtime_depth)),
            "executions" if rt.executions.is_empty() => Some(Value::Null),
            "executions" => Some(Value::from_json(&serde_json::Value::Object(
                rt.executions.clone(),
            ))),
            "acknowledgement" => n(f64::from(rt.acknowledgement)),
            "acknowledgement_expiry" => n(rt.acknowledgement_expiry),
            "acknowledgement_last_change" => n(rt.acknowledgement_last_change),
            "flapping" => Some(Value::Bool(rt.flapping)),
            "flapping_current" => n(rt.flapping_current),
            "flapping_last_change" => n(rt.flapping_last_change),
            "last_state_up" if is_host => n(rt.last_state_seen[0]),
            "last_state_down" if is_host => n(rt.last_state_seen[1]),
            "last_state_ok" if !is_host => n(rt.last_state_seen[0]),
            "last_state_warning" if !is_host => n(rt.last_state_seen[1]),
            "last_state_critical" if !is_host => n(rt.last_state_seen[2]),
            "last_state_unknown" if !is_host => n(rt.last_state_seen[3]),
            _ => None,
        }
    }
}

/// Icinga's `handled`: a problem in a downtime or acknowledged; for a service also any
/// state while its host has a problem (checked on Icinga 2.13.6: a service on a DOWN
/// host, SOFT or HARD, is handled even when OK).
fn handled(rt: &CheckableState, host: Option<&CheckableState>) -> bool {
    let problem = |st: &CheckableState| st.has_result() && st.state != 0;
    (problem(rt) && (rt.acknowledged() || rt.downtime_depth > 0)) || host.is_some_and(problem)
}

/// Icinga 2.13's `severity`, by which UIs sort problems: 0 OK/UP, 16 pending; a service
/// problem's state weight (WARNING 32, UNKNOWN 64, CRITICAL 128) plus 1024 when its host
/// is not UP, else 512 acknowledged, 256 in downtime, 2048 unhandled; a DOWN host 64
/// (32 unreachable) plus 512 / 256 / 2048 alike. Checked against Icinga 2.13.6's API.
fn severity(is_host: bool, rt: &CheckableState, host: Option<&CheckableState>) -> u32 {
    if !rt.has_result() {
        return 16;
    }
    if rt.state == 0 {
        return 0;
    }
    let base = match (is_host, rt.state) {
        (true, _) if rt.last_reachable => 64,
        (true, _) => 32,
        (false, 1) => 32,
        (false, 3) => 64,
        (false, 2) => 128,
        _ => 256,
    };
    let handling = if host.is_some_and(|h| h.state != 0) {
        1024
    } else if rt.acknowledged() {
        512
    } else if rt.downtime_depth > 0 {
        256
    } else {
        2048
    };
    base + handling
}

/// The fields only a checkable's state holds (no configuration sets them): those filters
/// over states read most.
const STATE_ONLY: [&str; 17] = [
    "state",
    "state_type",
    "check_attempt",
    "last_state",
    "last_state_type",
    "last_hard_state",
    "last_state_change",
    "last_hard_state_change",
    "last_check_result",
    "last_check",
    "last_reachable",
    "problem",
    "handled",
    "severity",
    "downtime_depth",
    "acknowledgement",
    "flapping",
];

/// Whether `field` is one of [`STATE_ONLY`].
pub fn state_only(field: &str) -> bool {
    STATE_ONLY.contains(&field)
}

#[cfg(test)]
mod tests {
    use super::*;
    use filters::Object as _;

    /// The fields read from the state first are ones no configuration sets, and the state
    /// answers each of them; configured attributes still read from the configuration.
    #[test]
    fn state_only_fields_come_from_the_state() -> Result<(), String> {
        for type_name in ["Host", "Service"] {
            let ti = crate::objects::types::by_name(type_name).ok_or("no type")?;
            for field in ti.lineage().flat_map(|t| t.fields.iter()) {
                assert!(
                    !(state_only(field.name) && field.config),
                    "{type_name}.{} is configurable",
                    field.name
                );
            }
            let mut attrs = filters::Dict::new();
            attrs.insert("check_interval".into(), Value::Number(42.0));
            let mut o = crate::objects::runtime_object(ti, "h!s", attrs);
            o.runtime = runtime_for(ti, 5.0);
            for field in STATE_ONLY {
                let direct = o.runtime_value(field);
                assert!(direct.is_some(), "{type_name}.{field} has no state value");
                assert_eq!(
                    format!("{:?}", o.get_field(field)),
                    format!("{direct:?}"),
                    "{type_name}.{field}"
                );
            }
            assert!(!state_only("check_interval"));
            assert_eq!(
                format!("{:?}", o.get_field("check_interval")),
                format!("{:?}", Some(Value::Number(42.0)))
            );
        }
        Ok(())
    }
}
