//! What a perfdata writer sends for one check result, read from its `CheckResult` event
//! and the object it is about: the performance data values (parsed as Icinga's
//! `PerfdataValue`), the metadata Icinga's writers send, the time stamp, and the object
//! for the writers' name templates.

use std::sync::Arc;

use filters::{Dict, Value};

use crate::checker::Subject;
use crate::objects::{Object, Registry};

/// One performance data value.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    pub label: String,
    pub value: f64,
    pub unit: String,
    pub warn: Option<f64>,
    pub crit: Option<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
}

/// Icinga's metadata of a result (`enable_send_metadata`).
#[derive(Clone, Debug, PartialEq)]
pub struct Metadata {
    pub state: i64,
    pub current_attempt: i64,
    pub max_check_attempts: i64,
    pub state_type: i64,
    pub reachable: bool,
    pub downtime_depth: i64,
    pub acknowledgement: i64,
    pub latency: f64,
    pub execution_time: f64,
}

/// A check result as the writers see it.
pub struct Sample {
    /// The host or service, for the name templates.
    pub subject: Subject,
    pub is_service: bool,
    pub points: Vec<Point>,
    pub metadata: Metadata,
    /// The end of the check's execution (Unix seconds).
    pub timestamp: f64,
}

/// A member of a dictionary value (`null` when missing or not a dictionary).
fn member<'v>(v: &'v Value, key: &str) -> &'v Value {
    static NULL: Value = Value::Null;
    match v {
        Value::Dict(d) => d.get(key).unwrap_or(&NULL),
        _ => &NULL,
    }
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => Some(*n),
        _ => None,
    }
}

fn text(v: &Value) -> Option<&str> {
    match v {
        Value::String(s) => Some(s),
        _ => None,
    }
}

/// The sample of a `CheckResult` event (its value, parsed once and shared by every
/// reader of the event), when its object exists and sends performance data (its own and
/// the application's `enable_perfdata`).
pub fn from_event(reg: &Registry, event: &Value, now: f64) -> Option<Sample> {
    if !reg.app_switch("enable_perfdata") {
        return None;
    }
    let host = text(member(event, "host"))?;
    let object: &Arc<Object> = match text(member(event, "service")) {
        Some(service) => reg.get("Service", &format!("{host}!{service}"))?,
        None => reg.get("Host", host)?,
    };
    if !object.flag("enable_perfdata", true) {
        return None;
    }
    let is_service = object.type_info.name == "Service";
    let cr = member(event, "check_result");
    let at = |k: &str| number(member(cr, k)).unwrap_or(0.0);
    let execution_time = at("execution_end") - at("execution_start");
    let latency = ((at("schedule_end") - at("schedule_start")) - execution_time).max(0.0);
    let raw_state = at("state") as i64;
    let after = member(cr, "vars_after");
    let int = |v: &Value, default: i64| number(v).map_or(default, |n| n as i64);
    let metadata = Metadata {
        // Results of hosts carry Icinga's service numbering: anything but OK is DOWN.
        state: if is_service {
            raw_state
        } else {
            i64::from(raw_state != 0)
        },
        current_attempt: int(member(after, "attempt"), 1),
        max_check_attempts: object.number("max_check_attempts", 3.0) as i64,
        state_type: int(member(after, "state_type"), 0),
        reachable: match member(after, "reachable") {
            Value::Bool(b) => *b,
            _ => true,
        },
        downtime_depth: int(member(event, "downtime_depth"), 0),
        acknowledgement: i64::from(member(event, "acknowledgement").to_bool()),
        latency,
        execution_time,
    };
    let points = match member(cr, "performance_data") {
        Value::Array(items) => items.iter().filter_map(|p| point(object, p)).collect(),
        _ => Vec::new(),
    };
    Some(Sample {
        subject: Subject::of(reg, object, now)?,
        is_service,
        points,
        metadata,
        timestamp: at("execution_end"),
    })
}

/// A performance data item: plugin text (`label=value[unit];warn;crit;min;max`) or an
/// already parsed `PerfdataValue`; an invalid one is skipped with a warning, as Icinga's
/// writers skip it.
fn point(object: &Object, item: &Value) -> Option<Point> {
    let parsed;
    let dict: &Dict = match item {
        Value::String(text) => match filters::perfdata::parse(text) {
            Ok(d) => {
                parsed = d;
                &parsed
            }
            Err(e) => {
                tracing::warn!(object = %object.name, "Ignoring invalid perfdata: {e}");
                return None;
            }
        },
        Value::Dict(d) => d,
        _ => return None,
    };
    let num = |k: &str| dict.get(k).and_then(number);
    Some(Point {
        label: dict.get("label").map(Value::to_display_string)?,
        value: num("value")?,
        unit: dict
            .get("unit")
            .map(Value::to_display_string)
            .unwrap_or_default(),
        warn: num("warn"),
        crit: num("crit"),
        min: num("min"),
        max: num("max"),
    })
}

/// A number as Icinga's writers print it: whole numbers without a fraction, others with
/// six decimals (`Convert::ToString`).
pub fn icinga_number(v: f64) -> String {
    if v.fract() == 0.0 && v.is_finite() {
        format!("{v:.0}")
    } else {
        format!("{v:.6}")
    }
}
