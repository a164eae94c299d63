//! Reachability, as Icinga decides it (`Checkable::IsReachable`): a host or service is
//! unreachable when a parent it depends on has failed. A service depends on its host
//! implicitly (a host in a HARD non-UP state makes its services unreachable); `Dependency`
//! objects add parents, each failing when the parent's state is outside the dependency's
//! `states`. Results record it (`last_reachable`, `vars_after.reachable`), notifications of
//! unreachable objects are held back, and checks are skipped when a failed dependency has
//! `disable_checks`.

use std::sync::Arc;

use filters::Value;

use super::state::{CheckableState, SOFT};
use crate::objects::{Object, Registry};

/// What reachability is asked for: each `Dependency` flag applies to one purpose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// The state a result records (every failed dependency counts).
    State,
    /// Whether notifications go out (`disable_notifications`, default true).
    Notification,
    /// Whether a scheduled check runs (`disable_checks`, default false).
    CheckExecution,
}

/// Deeper chains than this are treated as failed (Icinga's limit).
const MAX_DEPTH: usize = 256;

/// Whether `o` is reachable for `purpose`, with states read through `state_of` (the
/// processor's batch, or the objects' cells).
pub fn reachable(
    reg: &Registry,
    o: &Object,
    purpose: Purpose,
    state_of: &dyn Fn(&Object) -> Option<Arc<CheckableState>>,
) -> bool {
    walk(reg, o, purpose, state_of, 0)
}

fn walk(
    reg: &Registry,
    o: &Object,
    purpose: Purpose,
    state_of: &dyn Fn(&Object) -> Option<Arc<CheckableState>>,
    depth: usize,
) -> bool {
    if depth > MAX_DEPTH {
        tracing::warn!(object = %o.name, "Too many nested dependencies (> {MAX_DEPTH}): dependency failed.");
        return false;
    }
    let is_service = o.type_info.name == "Service";
    let host_name = if is_service {
        o.string("host_name")
    } else {
        o.name.to_string()
    };
    if is_service && purpose != Purpose::CheckExecution {
        let host_failed = reg
            .get("Host", &host_name)
            .and_then(|h| state_of(h))
            .is_some_and(|h| h.has_result() && h.state != 0 && h.state_type != SOFT);
        if host_failed {
            return false;
        }
    }
    let deps = dependencies(reg, o);
    // Parents first: an unreachable parent makes its children unreachable.
    for d in &deps {
        if let Some(parent) = parent(reg, d) {
            if !walk(reg, parent, purpose, state_of, depth + 1) {
                return false;
            }
        }
    }
    // Dependencies of one `redundancy_group` fail together: the group holds while any
    // of them is available.
    let mut groups: Vec<(String, bool)> = Vec::new();
    for d in &deps {
        let available = available(reg, d, purpose, state_of);
        let group = d.string("redundancy_group");
        if group.is_empty() {
            if !available {
                return false;
            }
        } else if let Some(g) = groups.iter_mut().find(|(name, _)| *name == group) {
            g.1 |= available;
        } else {
            groups.push((group, available));
        }
    }
    groups.iter().all(|(_, available)| *available)
}

/// The parent host or service of a dependency.
fn parent<'a>(reg: &'a Registry, d: &Object) -> Option<&'a Arc<Object>> {
    let host = d.string("parent_host_name");
    match d.string("parent_service_name") {
        s if s.is_empty() => reg.get("Host", &host),
        s => reg.get("Service", &format!("{host}!{s}")),
    }
}

/// `Dependency::IsAvailable`: the parent is pending, SOFT (with `ignore_soft_states`), in
/// one of `states`, outside `period`, or the dependency does not disable what is asked.
fn available(
    reg: &Registry,
    d: &Object,
    purpose: Purpose,
    state_of: &dyn Fn(&Object) -> Option<Arc<CheckableState>>,
) -> bool {
    let Some(parent) = parent(reg, d) else {
        return true;
    };
    let Some(st) = state_of(parent).filter(|st| st.has_result()) else {
        return true;
    };
    if d.flag("ignore_soft_states", true) && st.state_type == SOFT {
        return true;
    }
    let parent_is_host = parent.type_info.name == "Host";
    let state = super::notify::state_name(parent_is_host, st.state);
    let passing = match d.attr("states") {
        Some(Value::Array(list)) => list
            .iter()
            .any(|v| v.to_display_string().eq_ignore_ascii_case(state)),
        // Icinga's defaults: a host parent must be UP, a service parent OK or WARNING.
        _ if parent_is_host => st.state == 0,
        _ => st.state <= 1,
    };
    if passing {
        return true;
    }
    let period = d.string("period");
    if !period.is_empty()
        && !crate::timeperiod::period_allows(
            reg.get("TimePeriod", &period).map(|p| &p.attrs),
            crate::app::now(),
        )
    {
        return true;
    }
    match purpose {
        Purpose::State => false,
        Purpose::Notification => !d.flag("disable_notifications", true),
        Purpose::CheckExecution => !d.flag("disable_checks", false),
    }
}

/// The hosts and services that depend on `o` through Dependency objects (its direct
/// children).
pub fn children(reg: &Registry, o: &Object) -> Vec<Arc<Object>> {
    reg.objects("Dependency")
        .filter(|d| parent(reg, d).is_some_and(|p| std::ptr::eq(&**p, o)))
        .filter_map(|d| {
            let host = d.string("child_host_name");
            match d.string("child_service_name") {
                s if s.is_empty() => reg.get("Host", &host),
                s => reg.get("Service", &format!("{host}!{s}")),
            }
        })
        .cloned()
        .collect()
}

/// The hosts and services `o` depends on through Dependency objects (its direct parents).
pub fn parents(reg: &Registry, o: &Object) -> Vec<Arc<Object>> {
    dependencies(reg, o)
        .into_iter()
        .filter_map(|d| parent(reg, d))
        .cloned()
        .collect()
}

/// The Dependency objects whose child is `o` (named `<child>!<name>`: a prefix search).
fn dependencies<'a>(reg: &'a Registry, o: &Object) -> Vec<&'a Arc<Object>> {
    if reg.count("Dependency") == 0 {
        return Vec::new();
    }
    let (host, service) = super::batch::owner(o);
    let service = service.unwrap_or_default();
    reg.with_prefix("Dependency", &format!("{}!", o.name))
        .iter()
        .filter(|d| d.string("child_host_name") == host)
        .filter(|d| d.string("child_service_name") == service)
        .collect()
}
