//! The runtime state of a host or service as Icinga DB reads it (`icinga:host:state`,
//! `icinga:service:state`, and the `icinga:runtime:state` stream): Icinga 2's state
//! attributes, milliseconds for times, 99 for "no state yet".

use serde_json::{json, Map, Value as Json};

use super::config::{millis, Context};
use crate::objects::Object;
use crate::state::HARD;

/// The state row of a host or service (`None` for other objects).
pub fn serialize(ctx: &Context, o: &Object) -> Option<Map<String, Json>> {
    if !matches!(o.type_info.name, "Host" | "Service") {
        return None;
    }
    let runtime = o.runtime.as_ref()?;
    let rt = runtime.get();
    let is_service = o.type_info.name == "Service";
    let id = ctx.id(&o.name);
    let field = |name: &str| {
        o.runtime_field(&rt, name)
            .map_or(Json::Null, |v| v.to_serde())
    };
    let mut m = Map::new();
    m.insert("id".into(), json!(id));
    m.insert("environment_id".into(), json!(ctx.environment));
    let checked = rt.has_result();
    let state_type = if checked {
        rt.state_type as u8
    } else {
        HARD as u8
    };
    m.insert("state_type".into(), json!(state_type));
    let (soft, hard) = if checked {
        (rt.state, rt.last_hard_state)
    } else {
        (99, 99)
    };
    m.insert("soft_state".into(), json!(soft));
    m.insert("hard_state".into(), json!(hard));
    m.insert("severity".into(), field("severity"));
    if is_service {
        m.insert("service_id".into(), json!(id));
        m.insert("host_id".into(), json!(ctx.id(&o.string("host_name"))));
    } else {
        m.insert("host_id".into(), json!(id));
    }
    m.insert(
        "previous_soft_state".into(),
        json!(rt.previous_soft_state()),
    );
    m.insert(
        "previous_hard_state".into(),
        json!(rt.previous_hard_state()),
    );
    m.insert("check_attempt".into(), json!(rt.check_attempt));
    m.insert("is_active".into(), json!(true));
    if let Some(cr) = &rt.last_check_result {
        let (output, long) = split_output(&cr.output);
        if !output.is_empty() {
            m.insert("output".into(), json!(output));
        }
        if let Some(long) = long.filter(|l| !l.is_empty()) {
            m.insert("long_output".into(), json!(long));
        }
        let raw = perfdata(&cr.performance_data, false);
        if !raw.is_empty() {
            m.insert("performance_data".into(), json!(raw));
        }
        let normalized = perfdata(&cr.performance_data, true);
        if !normalized.is_empty() {
            m.insert("normalized_performance_data".into(), json!(normalized));
        }
        let command = command_line(&cr.command);
        if !command.is_empty() {
            m.insert("check_commandline".into(), json!(command));
        }
        let execution = (cr.execution_end - cr.execution_start).max(0.0);
        m.insert("execution_time".into(), json!(millis(execution)));
        let latency = ((cr.schedule_end - cr.schedule_start) - execution).max(0.0);
        m.insert("latency".into(), json!(millis(latency)));
        m.insert("check_source".into(), json!(cr.check_source));
        m.insert("scheduling_source".into(), json!(cr.scheduling_source));
    }
    m.insert("is_problem".into(), field("problem"));
    m.insert("is_handled".into(), field("handled"));
    m.insert("is_reachable".into(), json!(rt.last_reachable));
    m.insert("is_flapping".into(), json!(rt.flapping));
    m.insert("is_acknowledged".into(), json!(rt.acknowledgement as u8));
    if rt.acknowledged() {
        if let Some(comment) = ack_comment(ctx, o) {
            m.insert("acknowledgement_comment_id".into(), json!(ctx.id(&comment)));
        }
    }
    if let Some(comment) = last_comment(ctx, o) {
        m.insert("last_comment_id".into(), json!(ctx.id(&comment)));
    }
    m.insert("in_downtime".into(), json!(rt.downtime_depth > 0));
    let timeout = match o.attr("check_timeout").and_then(|v| v.to_number().ok()) {
        Some(t) => t,
        None => ctx
            .registry
            .get("CheckCommand", &o.string("check_command"))
            .map_or(60.0, |c| c.number("timeout", 60.0)),
    };
    m.insert("check_timeout".into(), json!(millis(timeout)));
    let last_check = millis(
        rt.last_check_result
            .as_ref()
            .map_or(-1.0, |r| r.schedule_end),
    );
    if last_check > 0 {
        m.insert("last_update".into(), json!(last_check));
    }
    m.insert(
        "last_state_change".into(),
        json!(millis(rt.last_state_change)),
    );
    let time = |name: &str| field(name).as_f64().map_or(0, millis);
    m.insert("next_check".into(), json!(time("next_check")));
    m.insert("next_update".into(), json!(time("next_update")));
    Some(m)
}

/// The first line of a plugin's output, and the rest.
pub fn split_output(output: &str) -> (&str, Option<&str>) {
    match output.split_once('\n') {
        Some((first, rest)) => (first, Some(rest)),
        None => (output, None),
    }
}

/// The acknowledgement comment of a host or service (the newest).
fn ack_comment(ctx: &Context, o: &Object) -> Option<String> {
    comments_of(ctx, o)
        .filter(|c| c.number("entry_type", 1.0) == 4.0)
        .max_by(|a, b| {
            a.number("entry_time", 0.0)
                .total_cmp(&b.number("entry_time", 0.0))
        })
        .map(|c| c.name.to_string())
}

/// The newest user comment of a host or service (Icinga's `last_comment`).
fn last_comment(ctx: &Context, o: &Object) -> Option<String> {
    comments_of(ctx, o)
        .filter(|c| c.number("entry_type", 1.0) == 1.0)
        .max_by(|a, b| {
            a.number("entry_time", 0.0)
                .total_cmp(&b.number("entry_time", 0.0))
        })
        .map(|c| c.name.to_string())
}

fn comments_of<'a>(
    ctx: &'a Context,
    o: &'a Object,
) -> impl Iterator<Item = &'a std::sync::Arc<Object>> {
    let prefix = format!("{}!", o.name);
    ctx.registry
        .with_prefix("Comment", &prefix)
        .iter()
        .filter(move |c| {
            let (host, service) = super::config::checkable_of(c);
            service.as_deref().unwrap_or(&host) == &*o.name
        })
}

/// Icinga's `FormatCommandLine`: each argument quoted, or the quoted command string.
pub fn command_line(command: &Json) -> String {
    match command {
        Json::Array(args) => args
            .iter()
            .map(|a| {
                let text = match a {
                    Json::String(s) => s.clone(),
                    Json::Number(n) => super::pack::number_text(n.as_f64().unwrap_or(0.0)),
                    other => other.to_string(),
                };
                format!("'{text}'")
            })
            .collect::<Vec<_>>()
            .join(" "),
        Json::String(s) if !s.is_empty() => format!("'{}'", s.replace('\'', "\\'")),
        _ => String::new(),
    }
}

/// Icinga's `FormatPerfdata`: the items joined by spaces; `normalized` parses each
/// and writes it in base units.
pub fn perfdata(items: &[Json], normalized: bool) -> String {
    items
        .iter()
        .map(|item| match item {
            Json::String(text) if normalized => match filters::perfdata::parse(text) {
                Ok(d) => format_point(&Json::Object(
                    d.iter()
                        .map(|(k, v)| (k.to_string(), v.to_serde()))
                        .collect(),
                )),
                Err(_) => text.clone(),
            },
            Json::String(text) => text.clone(),
            Json::Object(_) => format_point(item),
            other => other.to_string(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Icinga's `PerfdataValue::Format`.
fn format_point(p: &Json) -> String {
    let text = |k: &str| p.get(k).and_then(Json::as_str).unwrap_or_default();
    let num = |k: &str| p.get(k).and_then(Json::as_f64);
    let label = text("label");
    let mut out = if label.contains(' ') {
        format!("'{label}'")
    } else {
        label.to_string()
    };
    out.push('=');
    out.push_str(&crate::perfdata::sample::icinga_number(
        num("value").unwrap_or(0.0),
    ));
    let unit = if p.get("counter").and_then(Json::as_bool) == Some(true) {
        "c"
    } else {
        match text("unit") {
            "ampere-seconds" => "As",
            "amperes" => "A",
            "bits" => "b",
            "bytes" => "B",
            "decibel-milliwatts" => "dBm",
            "degrees-celsius" => "C",
            "degrees-fahrenheit" => "F",
            "degrees-kelvin" => "K",
            "grams" => "g",
            "liters" => "l",
            "lumens" => "lm",
            "ohms" => "O",
            "percent" => "%",
            "seconds" => "s",
            "volts" => "V",
            "watt-hours" => "Wh",
            "watts" => "W",
            _ => "",
        }
    };
    out.push_str(unit);
    for k in ["warn", "crit", "min", "max"] {
        match num(k) {
            Some(v) => {
                out.push(';');
                out.push_str(&crate::perfdata::sample::icinga_number(v));
            }
            None => break,
        }
    }
    out
}

/// The state's checksum row value.
pub fn checksum_value(state: &Map<String, Json>) -> String {
    let checksum = super::pack::hash(&Json::Object(state.clone()));
    super::pack::encode(&json!({ "checksum": checksum }))
}

/// A number field for the state stream.
pub fn stream_fields(state: &Map<String, Json>) -> Vec<(String, String)> {
    state
        .iter()
        .map(|(k, v)| (k.clone(), super::pack::stream_value(v)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_lines_as_icinga_formats_them() {
        assert_eq!(
            command_line(&json!([
                "/usr/lib/nagios/plugins/check_ping",
                "-H",
                "192.0.2.1",
                5
            ])),
            "'/usr/lib/nagios/plugins/check_ping' '-H' '192.0.2.1' '5'"
        );
        assert_eq!(command_line(&json!("dummy")), "'dummy'");
        assert_eq!(command_line(&json!("it's")), "'it\\'s'");
        assert_eq!(command_line(&json!(null)), "");
    }

    #[test]
    fn perfdata_raw_and_normalized() {
        let items = [
            json!("time=500ms;1000;2000;0"),
            json!("'used space'=3GB"),
            json!("bad"),
        ];
        assert_eq!(
            perfdata(&items, false),
            "time=500ms;1000;2000;0 'used space'=3GB bad"
        );
        assert_eq!(
            perfdata(&items, true),
            "time=0.500000s;1;2;0 'used space'=3000000000B bad"
        );
    }
}
