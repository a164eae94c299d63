//! Reachability, as Icinga decides it (`Checkable::IsReachable`): a host or service is
//! unreachable when a parent it depends on has failed. A service depends on its host
//! implicitly (a host in a HARD non-UP state makes its services unreachable); `Dependency`
//! objects add parents, each failing when the parent's state is outside the dependency's
//! `states`. Results record it (`last_reachable`, `vars_after.reachable`), notifications of
//! unreachable objects are held back, and checks are skipped when a failed dependency has
//! `disable_checks`.

use std::borrow::Cow;
use std::sync::Arc;

use filters::Value;

use crate::objects::{checkable_ref, Object, Registry};
use crate::state::{CheckableState, StateType, SOFT};

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

/// What the walk reads of a parent's state (copied out, not the whole state).
#[derive(Clone, Copy, Debug)]
pub struct Standing {
    pub checked: bool,
    pub state: u8,
    pub state_type: StateType,
}

impl From<&CheckableState> for Standing {
    fn from(st: &CheckableState) -> Standing {
        Standing {
            checked: st.has_result(),
            state: st.state,
            state_type: st.state_type,
        }
    }
}

/// Reads the standing of a host or service (from the processor's batch, or the cells).
pub type StateOf<'a> = &'a dyn Fn(&Object) -> Option<Standing>;

/// Whether `o` is reachable for `purpose`, with states read through `state_of`. The
/// processor asks through `Batch::reachable`.
pub fn reachable(
    reg: &Registry,
    o: &Object,
    purpose: Purpose,
    now: f64,
    state_of: StateOf,
) -> bool {
    walk(reg, o, Ask { purpose, now }, state_of, 0)
}

/// What a walk asks: reachable for which purpose, at which time (dependency periods).
#[derive(Clone, Copy)]
struct Ask {
    purpose: Purpose,
    now: f64,
}

/// [`reachable`] on the committed states (the objects' cells): the scheduler, the status.
pub fn reachable_now(reg: &Registry, o: &Object, purpose: Purpose, now: f64) -> bool {
    let state_of = |x: &Object| x.runtime.as_ref().map(|r| Standing::from(&*r.get()));
    reachable(reg, o, purpose, now, &state_of)
}

fn walk(reg: &Registry, o: &Object, ask: Ask, state_of: StateOf, depth: usize) -> bool {
    if depth > MAX_DEPTH {
        tracing::warn!(object = %o.name, "Too many nested dependencies (> {MAX_DEPTH}): dependency failed.");
        return false;
    }
    if o.type_info.name == "Service" && ask.purpose != Purpose::CheckExecution {
        let host_failed = reg
            .get("Host", text(o, "host_name"))
            .and_then(|h| state_of(h))
            .is_some_and(|h| h.checked && h.state != 0 && h.state_type != SOFT);
        if host_failed {
            return false;
        }
    }
    let deps = dependencies(reg, o);
    // Parents first: an unreachable parent makes its children unreachable.
    for d in &deps {
        if let Some(parent) = parent(reg, d) {
            if !walk(reg, parent, ask, state_of, depth + 1) {
                return false;
            }
        }
    }
    // Dependencies of one `redundancy_group` fail together: the group holds while any
    // of them is available.
    let mut groups: Vec<(&str, bool)> = Vec::new();
    for d in &deps {
        let available = available(reg, d, ask, state_of);
        let group = text(d, "redundancy_group");
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
    let (t, name) = checkable_ref(&d.attrs, "parent_host_name", "parent_service_name");
    reg.get(t, &name)
}

/// The type and full name of a dependency's child.
pub fn child(d: &Object) -> (&'static str, Cow<'_, str>) {
    checkable_ref(&d.attrs, "child_host_name", "child_service_name")
}

/// A string attribute, borrowed ("" when absent): the walk runs for every result, and
/// allocates nothing per dependency.
fn text<'a>(o: &'a Object, key: &str) -> &'a str {
    crate::objects::dict_str(&o.attrs, key).unwrap_or("")
}

/// `Dependency::IsAvailable`: the parent is pending, SOFT (with `ignore_soft_states`), in
/// one of `states`, outside `period`, or the dependency does not disable what is asked.
fn available(reg: &Registry, d: &Object, ask: Ask, state_of: StateOf) -> bool {
    let Some(parent) = parent(reg, d) else {
        return true;
    };
    let Some(st) = state_of(parent).filter(|st| st.checked) else {
        return true;
    };
    if d.flag("ignore_soft_states", true) && st.state_type == SOFT {
        return true;
    }
    let parent_is_host = parent.type_info.name == "Host";
    let state = crate::checker::command::state_name(parent_is_host, st.state);
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
    if !period.is_empty() && !crate::timeperiod::period_allows(reg, &period, ask.now) {
        return true;
    }
    match ask.purpose {
        Purpose::State => false,
        Purpose::Notification => !d.flag("disable_notifications", true),
        Purpose::CheckExecution => !d.flag("disable_checks", false),
    }
}

/// The hosts and services that depend on `o` through Dependency objects (its direct
/// children).
pub fn children(reg: &Registry, o: &Object) -> Vec<Arc<Object>> {
    reg.dependencies_on(&o.name)
        .iter()
        .filter_map(|d| {
            let (t, name) = child(d);
            reg.get(t, &name)
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
    let (host, service) = match o.type_info.name {
        "Service" => (text(o, "host_name"), text(o, "name")),
        _ => (&*o.name, ""),
    };
    reg.with_prefix("Dependency", &format!("{}!", o.name))
        .iter()
        .filter(|d| text(d, "child_host_name") == host && text(d, "child_service_name") == service)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{CheckResult, CheckResultType, ResultVars, HARD};

    type Result = std::result::Result<(), Box<dyn std::error::Error>>;

    /// Gives a host a result in `state` (0 UP, 1 DOWN), HARD or SOFT.
    fn set(reg: &Registry, host: &str, state: u8, state_type: StateType) {
        let mut st = CheckableState::pending(true, 0.0);
        st.state = state;
        st.state_type = state_type;
        let vars = ResultVars {
            attempt: 1,
            reachable: true,
            state,
            state_type,
        };
        st.last_check_result = Some(Arc::new(CheckResult {
            kind: CheckResultType::CheckResult,
            active: false,
            check_source: "".into(),
            command: serde_json::Value::Null,
            execution_start: 1.0,
            execution_end: 1.0,
            exit_status: i64::from(state),
            output: String::new(),
            performance_data: Vec::new(),
            previous_hard_state: 0,
            schedule_start: 1.0,
            schedule_end: 1.0,
            scheduling_source: "".into(),
            state,
            ttl: 0.0,
            vars_before: None,
            vars_after: vars,
        }));
        if let Some(cell) = reg.get("Host", host).and_then(|o| o.runtime.as_ref()) {
            cell.set(Arc::new(st));
        }
    }

    fn is_reachable(reg: &Registry, host: &str, purpose: Purpose) -> bool {
        reg.get("Host", host)
            .is_some_and(|o| reachable_now(reg, o, purpose, 1_800_000_000.0))
    }

    const HOSTS: &str = r#"
template Host "h" { check_command = "dummy"; enable_active_checks = false }
object Host "core" { import "h" }
object Host "a" { import "h" }
object Host "b" { import "h" }
object Host "child" { import "h" }
object Host "leaf" { import "h" }
object Dependency "core" { parent_host_name = "core"; child_host_name = "child" }
object Dependency "up" { parent_host_name = "child"; child_host_name = "leaf" }
object Dependency "a" { parent_host_name = "a"; child_host_name = "leaf"; redundancy_group = "uplinks" }
object Dependency "b" { parent_host_name = "b"; child_host_name = "leaf"; redundancy_group = "uplinks" }
"#;

    #[test]
    fn parents_decide_through_chains_and_redundancy_groups() -> Result {
        let reg = crate::app::registry_of(HOSTS)?;
        // Everything pending: reachable.
        assert!(is_reachable(&reg, "leaf", Purpose::State));
        // One uplink of the group down: the group holds.
        set(&reg, "a", 1, HARD);
        assert!(is_reachable(&reg, "leaf", Purpose::State));
        // Both down: the group fails.
        set(&reg, "b", 1, HARD);
        assert!(!is_reachable(&reg, "leaf", Purpose::State));
        set(&reg, "a", 0, HARD);
        assert!(is_reachable(&reg, "leaf", Purpose::State));
        // A SOFT problem of a parent is ignored (ignore_soft_states defaults to true).
        set(&reg, "core", 1, SOFT);
        assert!(is_reachable(&reg, "child", Purpose::State));
        // HARD: the child fails, and the leaf behind it (its parent is unreachable,
        // though UP itself).
        set(&reg, "core", 1, HARD);
        set(&reg, "child", 0, HARD);
        assert!(!is_reachable(&reg, "child", Purpose::State));
        assert!(!is_reachable(&reg, "leaf", Purpose::State));
        // Notifications: disable_notifications defaults to true; checks: disable_checks
        // defaults to false.
        assert!(!is_reachable(&reg, "child", Purpose::Notification));
        assert!(is_reachable(&reg, "child", Purpose::CheckExecution));
        assert!(is_reachable(&reg, "core", Purpose::State));
        Ok(())
    }

    #[test]
    fn dependency_flags_and_states() -> Result {
        let reg = crate::app::registry_of(
            r#"
template Host "h" { check_command = "dummy"; enable_active_checks = false }
object Host "p" { import "h" }
object Host "tolerant" { import "h" }
object Host "strict" { import "h" }
object Host "quiet" { import "h" }
object Dependency "d" { parent_host_name = "p"; child_host_name = "tolerant"; states = [ Up, Down ] }
object Dependency "d" { parent_host_name = "p"; child_host_name = "strict"; ignore_soft_states = false; disable_checks = true }
object Dependency "d" { parent_host_name = "p"; child_host_name = "quiet"; disable_notifications = false }
"#,
        )?;
        set(&reg, "p", 1, SOFT);
        assert!(is_reachable(&reg, "tolerant", Purpose::State));
        assert!(!is_reachable(&reg, "strict", Purpose::State));
        assert!(!is_reachable(&reg, "strict", Purpose::CheckExecution));
        assert!(is_reachable(&reg, "quiet", Purpose::State), "SOFT ignored");
        set(&reg, "p", 1, HARD);
        assert!(
            is_reachable(&reg, "tolerant", Purpose::State),
            "Down is in its states"
        );
        assert!(!is_reachable(&reg, "quiet", Purpose::State));
        assert!(is_reachable(&reg, "quiet", Purpose::Notification));
        let p = reg.get("Host", "p").ok_or("no p")?;
        let mut kids: Vec<String> = children(&reg, p)
            .iter()
            .map(|c| c.name.to_string())
            .collect();
        kids.sort();
        assert_eq!(kids, ["quiet", "strict", "tolerant"]);
        let strict = reg.get("Host", "strict").ok_or("no strict")?;
        assert_eq!(parents(&reg, strict).len(), 1);
        // The parent index follows changes of the Dependency table (a copy on write);
        // the old registry keeps its own.
        let mut changed = reg.clone();
        changed
            .remove("Dependency", "quiet!d")
            .ok_or("no quiet!d")?;
        let names = |r: &Registry| -> Vec<String> {
            let mut v: Vec<String> = children(r, p).iter().map(|c| c.name.to_string()).collect();
            v.sort();
            v
        };
        assert_eq!(names(&changed), ["strict", "tolerant"]);
        assert_eq!(names(&reg), ["quiet", "strict", "tolerant"]);
        Ok(())
    }
}
