//! Downtimes (spec §10.8): fixed ones are in effect from `start_time` to `end_time`,
//! flexible ones for `duration` from the first problem inside that window. Each is a
//! `Downtime` object in the `_api` package; `downtime_depth` of its host or service counts
//! the ones in effect. Start and end are timers at the exact times.

use std::collections::HashSet;
use std::sync::Arc;

use filters::{Dict, Str, Value};
use serde_json::{json, Value as Json};

use super::batch::Batch;
use super::comments::{base_attrs, unique_name};
use super::notify::{self, Kind, Notice};
use super::timers::Deadline;
use super::{Processed, Refused};
use crate::bus::EventKind;
use crate::objects::{runtime_object, types, Object};
use crate::outcome::Outcome;

/// What `schedule-downtime` asks for.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Spec {
    pub author: String,
    pub comment: String,
    pub start_time: f64,
    pub end_time: f64,
    pub fixed: bool,
    pub duration: f64,
    pub trigger_name: Option<String>,
    /// 0 none, 1 triggered downtimes for all children, 2 independent ones.
    pub child_options: u8,
    pub all_services: bool,
    /// The ScheduledDowntime that made it (`config_owner`, `scheduled_by`): users cannot
    /// remove such downtimes.
    pub owner: Option<String>,
}

fn number(o: &Object, field: &str) -> f64 {
    o.number(field, 0.0)
}

/// `legacy_id` as Icinga prints it (an integer).
fn legacy_id(o: &Object) -> Json {
    o.attr("legacy_id").map_or(Json::Null, |v| v.to_serde())
}

fn fixed(o: &Object) -> bool {
    o.attr("fixed").is_none_or(|v| v.to_bool())
}

/// When a downtime ends: fixed at `end_time`; flexible `duration` after its trigger, or
/// at `end_time` if never triggered.
pub fn effective_end(d: &Object) -> f64 {
    let trigger = number(d, "trigger_time");
    if !fixed(d) && trigger > 0.0 {
        trigger + number(d, "duration")
    } else {
        number(d, "end_time")
    }
}

/// The host or service a downtime (or comment) belongs to.
pub fn checkable_of(b: &Batch, d: &Object) -> Option<Arc<Object>> {
    let host = d.string("host_name");
    match d.string("service_name") {
        s if s.is_empty() => b.get("Host", &host),
        s => b.get("Service", &format!("{host}!{s}")),
    }
}

/// Schedules a downtime on a host or service (and its services and children as asked).
pub fn schedule(b: &mut Batch, o: &Arc<Object>, spec: &Spec) -> Result<Processed, Refused> {
    if let Some(t) = &spec.trigger_name {
        if b.get("Downtime", t).is_none() {
            return Err(Refused::Rejected(
                404,
                "Won't schedule downtime with non-existent trigger downtime.".into(),
            ));
        }
    }
    let d = add(b, o, spec, spec.trigger_name.as_deref(), None).ok_or(Refused::Gone)?;
    let mut result = Outcome::ok(format!(
        "Successfully scheduled downtime '{}' for object '{}'.",
        d.name, o.name
    ))
    .with("name", d.name.to_string())
    .with("legacy_id", legacy_id(&d));
    if spec.all_services && o.type_info.name == "Host" {
        result = result.with("service_downtimes", services_downtimes(b, o, spec, &d));
    }
    if spec.child_options != 0 {
        let mut children = Vec::new();
        for child in descendants(b, o) {
            let trigger = if spec.child_options == 1 {
                Some(d.name.to_string())
            } else {
                spec.trigger_name.clone()
            };
            let Some(cd) = add(b, &child, spec, trigger.as_deref(), None) else {
                continue;
            };
            let mut item = json!({"name": cd.name.to_string(), "legacy_id": legacy_id(&cd)});
            if spec.all_services && child.type_info.name == "Host" {
                item["service_downtimes"] = json!(services_downtimes(b, &child, spec, &cd));
            }
            children.push(item);
        }
        result = result.with("child_downtimes", children);
    }
    Ok(Processed::outcome(result))
}

/// One downtime per service of `host`, owned by the host's downtime `parent`.
fn services_downtimes(b: &mut Batch, host: &Object, spec: &Spec, parent: &Object) -> Vec<Json> {
    let services: Vec<Arc<Object>> = b
        .base()
        .with_prefix("Service", &format!("{}!", host.name))
        .iter()
        .filter(|s| s.string("host_name") == *host.name)
        .cloned()
        .collect();
    services
        .iter()
        .filter_map(|s| add(b, s, spec, spec.trigger_name.as_deref(), Some(&parent.name)))
        .map(|d| json!({"name": d.name.to_string(), "legacy_id": legacy_id(&d)}))
        .collect()
}

/// Every host and service below `o` through Dependency objects (children, their
/// children, …), each once.
fn descendants(b: &Batch, o: &Object) -> Vec<Arc<Object>> {
    let mut seen: HashSet<String> = HashSet::from([o.name.to_string()]);
    let mut queue = vec![o.name.to_string()];
    let mut out = Vec::new();
    while let Some(name) = queue.pop() {
        for d in b.base().dependencies_on(&name) {
            let (t, child) = super::reachability::child(d);
            let child = child.into_owned();
            if !seen.insert(child.clone()) {
                continue;
            }
            if let Some(c) = b.get(t, &child) {
                out.push(c);
                queue.push(child);
            }
        }
    }
    out
}

/// Adds one downtime; starts or triggers it when it is already due.
fn add(
    b: &mut Batch,
    o: &Arc<Object>,
    spec: &Spec,
    trigger: Option<&str>,
    parent: Option<&str>,
) -> Option<Arc<Object>> {
    let ti = types::by_name("Downtime")?;
    let name = unique_name(o);
    let mut a = base_attrs(b, "Downtime", o, &name);
    let s = |v: &str| Value::from(v);
    a.insert("author".into(), s(&spec.author));
    a.insert("comment".into(), s(&spec.comment));
    a.insert("start_time".into(), Value::Number(spec.start_time));
    a.insert("end_time".into(), Value::Number(spec.end_time));
    a.insert("duration".into(), Value::Number(spec.duration));
    a.insert("fixed".into(), Value::Bool(spec.fixed));
    a.insert("triggered_by".into(), s(trigger.unwrap_or("")));
    a.insert("parent".into(), s(parent.unwrap_or("")));
    let owner = spec.owner.as_deref().unwrap_or("");
    a.insert("scheduled_by".into(), s(owner));
    a.insert("config_owner".into(), s(owner));
    a.insert("authoritative_zone".into(), s(""));
    a.insert("triggers".into(), Value::from(Vec::<Value>::new()));
    a.insert("trigger_time".into(), Value::Number(0.0));
    a.insert("remove_time".into(), Value::Number(0.0));
    a.insert("was_cancelled".into(), Value::Bool(false));
    a.insert("removed_by".into(), s(""));
    let mut d = runtime_object(ti, &name, a);
    let added = b.object_json(&d);
    b.object_event_from(EventKind::DowntimeAdded, "downtime", &added);
    let now = b.now;
    let in_window = spec.start_time <= now && now < spec.end_time;
    // A fixed downtime inside its window starts at once: one write, not two.
    if spec.fixed && in_window {
        b.object_event_from(EventKind::DowntimeStarted, "downtime", &added);
        let at = spec.start_time.max(now);
        d.attrs.insert("trigger_time".into(), Value::Number(at));
        took_effect(b, &d);
    }
    let d = b.put(d);
    if let Some(t) = trigger.and_then(|t| b.get("Downtime", t)) {
        let mut triggers: Vec<Value> = match t.attr("triggers") {
            Some(Value::Array(list)) => list.iter().cloned().collect(),
            _ => Vec::new(),
        };
        triggers.push(Value::from(&*d.name));
        update(b, &t, &[("triggers", Value::from(triggers))]);
    }
    b.timers
        .push((spec.end_time, Deadline::DowntimeEnd(d.name.clone())));
    if spec.fixed && now < spec.start_time {
        b.timers
            .push((spec.start_time, Deadline::DowntimeStart(d.name.clone())));
    } else if !spec.fixed && in_window && trigger.is_none() {
        let problem = b
            .peek_state(o)
            .is_some_and(|st| st.has_result() && st.state != 0);
        if problem {
            trigger_downtime(b, &d.name, now);
        }
    }
    Some(d)
}

/// What a downtime taking effect does (its trigger time already set): the depth of its
/// host or service, the DOWNTIMESTART notification, `DowntimeTriggered`, the end timer.
fn took_effect(b: &mut Batch, d: &Object) {
    if let Some(o) = checkable_of(b, d) {
        if let Some(st) = b.state(&o) {
            st.downtime_depth += 1;
        }
        let (author, comment) = (d.string("author"), d.string("comment"));
        notify::send(b, &o, &Notice::by(Kind::DowntimeStart, &author, &comment));
    }
    event(b, EventKind::DowntimeTriggered, d);
    b.timers
        .push((effective_end(d), Deadline::DowntimeEnd(d.name.clone())));
}

/// A copy of a downtime with some attributes changed, written back.
fn update(b: &mut Batch, d: &Object, changes: &[(&str, Value)]) -> Arc<Object> {
    let mut attrs = d.attrs.to_dict();
    for (k, v) in changes {
        attrs.insert(Str::from(*k), v.clone());
    }
    b.put(d.with_attrs(attrs, Dict::new(), d.version))
}

/// `DowntimeAdded`, `DowntimeStarted`, `DowntimeTriggered`, `DowntimeRemoved`.
fn event(b: &mut Batch, kind: EventKind, d: &Object) {
    b.object_event(kind, "downtime", d);
}

/// A fixed downtime's start (timer, or creation inside its window).
pub fn start(b: &mut Batch, name: &str) {
    let Some(d) = b.get("Downtime", name) else {
        return;
    };
    let now = b.now;
    let (s, e) = (number(&d, "start_time"), number(&d, "end_time"));
    if !fixed(&d) || number(&d, "trigger_time") > 0.0 || now < s || now >= e {
        return;
    }
    event(b, EventKind::DowntimeStarted, &d);
    trigger_downtime(b, name, s.max(number(&d, "entry_time")));
}

/// Puts a downtime into effect at `at` (once), and the downtimes it triggers.
pub fn trigger_downtime(b: &mut Batch, name: &str, at: f64) {
    let Some(d) = b.get("Downtime", name) else {
        return;
    };
    if number(&d, "trigger_time") > 0.0 || b.now >= number(&d, "end_time") && fixed(&d) {
        return;
    }
    let d = update(b, &d, &[("trigger_time", Value::Number(at))]);
    took_effect(b, &d);
    if let Some(Value::Array(children)) = d.attr("triggers") {
        for c in children.iter() {
            trigger_downtime(b, &c.to_display_string(), at);
        }
    }
}

/// Triggers the downtimes of `o` waiting for a problem (a NOT-OK result arrived).
pub fn problem(b: &mut Batch, o: &Object) {
    let now = b.now;
    for d in b.attached("Downtime", o) {
        if number(&d, "trigger_time") == 0.0
            && number(&d, "start_time") <= now
            && now < number(&d, "end_time")
        {
            trigger_downtime(b, &d.name, now);
        }
    }
}

/// Ends a downtime: expired (`cancelled` false) or removed by a user. Returns how many
/// child downtimes (`all_services`) went with it.
pub fn end(b: &mut Batch, d: &Object, cancelled: bool, removed_by: &str) -> usize {
    let in_effect = number(d, "trigger_time") > 0.0;
    let gone = d.with_attrs(
        {
            let mut a = d.attrs.to_dict();
            a.insert("remove_time".into(), Value::Number(b.now));
            a.insert("was_cancelled".into(), Value::Bool(cancelled));
            a.insert("removed_by".into(), Value::from(removed_by));
            a
        },
        Dict::new(),
        d.version,
    );
    b.remove(d);
    if let Some(o) = checkable_of(b, d) {
        if in_effect {
            if let Some(st) = b.state(&o) {
                st.downtime_depth = st.downtime_depth.saturating_sub(1);
            }
            let kind = if cancelled {
                Kind::DowntimeRemoved
            } else {
                Kind::DowntimeEnd
            };
            let (author, comment) = (d.string("author"), d.string("comment"));
            notify::send(b, &o, &Notice::by(kind, &author, &comment));
        }
    }
    event(b, EventKind::DowntimeRemoved, &gone);
    if !cancelled {
        return 0;
    }
    // Downtimes created for the services of a host downtime go with it.
    let host = d.string("host_name");
    let children: Vec<Arc<Object>> = b
        .base()
        .with_prefix("Downtime", &format!("{host}!"))
        .iter()
        .filter(|c| c.string("parent") == *d.name)
        .filter_map(|c| b.get("Downtime", &c.name))
        .collect();
    children
        .iter()
        .map(|c| 1 + end(b, c, cancelled, removed_by))
        .sum()
}

/// The downtime timer: ends it if it is due.
pub fn expire(b: &mut Batch, name: &str) {
    if let Some(d) = b.get("Downtime", name) {
        if effective_end(&d) <= b.now {
            end(b, &d, false, "");
        }
    }
}

/// `remove-downtime` on a downtime.
pub fn remove(b: &mut Batch, d: &Object, author: &str) -> Result<Processed, Refused> {
    let owner = d.string("config_owner");
    if !owner.is_empty() {
        return Err(Refused::Rejected(
            400,
            format!(
                "Cannot remove downtime '{}'. It is owned by scheduled downtime object '{owner}'",
                d.name
            ),
        ));
    }
    let children = end(b, d, true, author);
    Ok(Processed::outcome(Outcome::ok(format!(
        "Successfully removed downtime '{}' and {children} child downtimes.",
        d.name
    ))))
}

/// `remove-downtime` on a host or service: all its downtimes.
pub fn remove_all(b: &mut Batch, o: &Object, author: &str) -> Result<Processed, Refused> {
    let mut children = 0;
    for d in b.attached("Downtime", o) {
        // Already gone with a parent removed before it.
        if let Some(d) = b.get("Downtime", &d.name) {
            if d.string("config_owner").is_empty() {
                children += end(b, &d, true, author);
            }
        }
    }
    Ok(Processed::outcome(Outcome::ok(format!(
        "Successfully removed all downtimes for object '{}' and {children} child downtimes.",
        o.name
    ))))
}

/// Every minute (and at startup): each `ScheduledDowntime` gets a downtime for its running
/// segment of `ranges` not yet covered, or else its next one, unless one of its downtimes
/// has not begun yet — so the next day's downtime is there before today's ends (Icinga's
/// `CreateNextDowntime`).
pub fn schedule_configured(b: &mut Batch) {
    let now = b.now;
    let configured: Vec<Arc<Object>> = b.base().objects("ScheduledDowntime").cloned().collect();
    for sd in configured {
        let Some(o) = checkable_of(b, &sd) else {
            continue;
        };
        // One downtime not yet begun is enough; the others' ends are covered already.
        let own: Vec<(f64, f64)> = b
            .attached("Downtime", &o)
            .iter()
            .filter(|d| d.string("scheduled_by") == *sd.name)
            .map(|d| (number(d, "start_time"), number(d, "end_time")))
            .collect();
        if own.iter().any(|&(start, _)| start >= now) {
            continue;
        }
        let min_end = own.iter().map(|&(_, end)| end).fold(0.0, f64::max);
        let Some(Value::Dict(ranges)) = sd.attr("ranges") else {
            continue;
        };
        let Some((start_time, end_time)) =
            crate::timeperiod::downtime_segment(ranges, now, min_end)
        else {
            continue;
        };
        let fixed = fixed(&sd);
        let child_options = match sd.attr("child_options").map(|v| v.to_display_string()) {
            Some(c) if c == "1" || c == "DowntimeTriggeredChildren" => 1,
            Some(c) if c == "2" || c == "DowntimeNonTriggeredChildren" => 2,
            _ => 0,
        };
        let spec = Spec {
            author: sd.string("author"),
            comment: sd.string("comment"),
            start_time,
            end_time,
            fixed,
            duration: match number(&sd, "duration") {
                d if d > 0.0 => d,
                _ => end_time - start_time,
            },
            trigger_name: None,
            child_options,
            all_services: false,
            owner: Some(sd.name.to_string()),
        };
        if let Err(e) = schedule(b, &o, &spec) {
            tracing::warn!(scheduled_downtime = %sd.name, error = ?e, "Scheduled downtime not created.");
        }
    }
}
