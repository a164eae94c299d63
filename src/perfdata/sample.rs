//! What a perfdata writer sends for one check result, read from its `CheckResult` event
//! and the object it is about: the performance data values (parsed as Icinga's
//! `PerfdataValue`), the metadata Icinga's writers send, the time stamp, and the object
//! for the writers' name templates.

use std::sync::Arc;

use filters::{Dict, Value};
use serde_json::Value as Json;

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

/// The sample of a `CheckResult` event, when its object exists and sends performance data
/// (its own and the application's `enable_perfdata`).
pub fn from_event(reg: &Registry, event: &Json, now: f64) -> Option<Sample> {
    if !reg.app_switch("enable_perfdata") {
        return None;
    }
    let host = event["host"].as_str()?;
    let object: &Arc<Object> = match event["service"].as_str() {
        Some(service) => reg.get("Service", &format!("{host}!{service}"))?,
        None => reg.get("Host", host)?,
    };
    if !object.flag("enable_perfdata", true) {
        return None;
    }
    let is_service = object.type_info.name == "Service";
    let cr = &event["check_result"];
    let number = |v: &Json| v.as_f64().unwrap_or(0.0);
    let execution_time = number(&cr["execution_end"]) - number(&cr["execution_start"]);
    let latency =
        ((number(&cr["schedule_end"]) - number(&cr["schedule_start"])) - execution_time).max(0.0);
    let raw_state = number(&cr["state"]) as i64;
    let after = &cr["vars_after"];
    let metadata = Metadata {
        // Results of hosts carry Icinga's service numbering: anything but OK is DOWN.
        state: if is_service {
            raw_state
        } else {
            i64::from(raw_state != 0)
        },
        current_attempt: after["attempt"].as_i64().unwrap_or(1),
        max_check_attempts: object.number("max_check_attempts", 3.0) as i64,
        state_type: after["state_type"].as_i64().unwrap_or(0),
        reachable: after["reachable"].as_bool().unwrap_or(true),
        downtime_depth: event["downtime_depth"].as_i64().unwrap_or(0),
        acknowledgement: i64::from(event["acknowledgement"].as_bool().unwrap_or(false)),
        latency,
        execution_time,
    };
    let points = cr["performance_data"]
        .as_array()
        .map(|items| items.iter().filter_map(|p| point(object, p)).collect())
        .unwrap_or_default();
    Some(Sample {
        subject: Subject::of(reg, object, now)?,
        is_service,
        points,
        metadata,
        timestamp: number(&cr["execution_end"]),
    })
}

/// A performance data item: plugin text (`label=value[unit];warn;crit;min;max`) or an
/// already parsed `PerfdataValue`; an invalid one is skipped with a warning, as Icinga's
/// writers skip it.
fn point(object: &Object, item: &Json) -> Option<Point> {
    let dict = match item {
        Json::String(text) => match filters::perfdata::parse(text) {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(object = %object.name, "Ignoring invalid perfdata: {e}");
                return None;
            }
        },
        Json::Object(_) => match Value::from_json(item) {
            Value::Dict(d) => (*d).clone(),
            _ => return None,
        },
        _ => return None,
    };
    let num = |d: &Dict, k: &str| match d.get(k) {
        Some(Value::Number(n)) => Some(*n),
        _ => None,
    };
    Some(Point {
        label: dict.get("label").map(Value::to_display_string)?,
        value: num(&dict, "value")?,
        unit: dict
            .get("unit")
            .map(Value::to_display_string)
            .unwrap_or_default(),
        warn: num(&dict, "warn"),
        crit: num(&dict, "crit"),
        min: num(&dict, "min"),
        max: num(&dict, "max"),
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
