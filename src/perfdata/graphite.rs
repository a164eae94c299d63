//! Icinga's `GraphiteWriter`: Carbon's plaintext protocol over TCP, one line per metric —
//! `<prefix>.perfdata.<label>.value <value> <time>` (with `.warn`, `.crit`, `.min`,
//! `.max` when `enable_send_thresholds`) and `<prefix>.metadata.<name> <value> <time>`
//! (when `enable_send_metadata`). The prefix is `host_name_template` or
//! `service_name_template` with every macro value escaped for Graphite.

use filters::Value;

use super::sample::{icinga_number, Sample};
use crate::objects::Object;

/// A `GraphiteWriter` object's settings.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    pub host: String,
    pub port: u16,
    pub host_name_template: String,
    pub service_name_template: String,
    pub thresholds: bool,
    pub metadata: bool,
}

impl Settings {
    /// # Errors
    /// A port that is not a number.
    pub fn of(o: &Object) -> Result<Settings, String> {
        let port = o.string_or_default("port");
        Ok(Settings {
            host: o.string_or_default("host"),
            port: port
                .parse()
                .map_err(|_| format!("GraphiteWriter '{}': invalid port '{port}'", o.name))?,
            host_name_template: o.string_or_default("host_name_template"),
            service_name_template: o.string_or_default("service_name_template"),
            thresholds: o.flag("enable_send_thresholds", false),
            metadata: o.flag("enable_send_metadata", false),
        })
    }
}

/// A macro value in a metric path: no dots, spaces, slashes or backslashes; arrays join
/// their escaped elements with dots.
fn escape_macro(v: &Value) -> String {
    match v {
        Value::Array(a) => a
            .iter()
            .map(|x| escape_metric(&x.to_display_string()))
            .collect::<Vec<_>>()
            .join("."),
        other => escape_metric(&other.to_display_string()),
    }
}

fn escape_metric(s: &str) -> String {
    s.replace([' ', '.', '\\', '/'], "_")
}

/// A performance data label: dots allowed (they make levels), `::` becomes a level too.
fn escape_label(s: &str) -> String {
    s.replace([' ', '\\', '/'], "_").replace("::", ".")
}

/// The lines of one sample.
pub fn lines(s: &Settings, sample: &Sample, out: &mut String) {
    let template = if sample.is_service {
        &s.service_name_template
    } else {
        &s.host_name_template
    };
    let prefix = sample.subject.resolve_text_with(template, &escape_macro).0;
    let ts = sample.timestamp as i64;
    let mut line = |path: &str, name: &str, value: f64| {
        out.push_str(&format!(
            "{prefix}.{path}.{name} {} {ts}\n",
            icinga_number(value)
        ));
    };
    if s.metadata {
        let m = &sample.metadata;
        for (name, value) in [
            ("state", m.state as f64),
            ("current_attempt", m.current_attempt as f64),
            ("max_check_attempts", m.max_check_attempts as f64),
            ("state_type", m.state_type as f64),
            ("reachable", f64::from(u8::from(m.reachable))),
            ("downtime_depth", m.downtime_depth as f64),
            ("acknowledgement", m.acknowledgement as f64),
            ("latency", m.latency),
            ("execution_time", m.execution_time),
        ] {
            line("metadata", name, value);
        }
    }
    for p in &sample.points {
        let key = escape_label(&p.label);
        line("perfdata", &format!("{key}.value"), p.value);
        if s.thresholds {
            for (suffix, v) in [
                ("crit", p.crit),
                ("warn", p.warn),
                ("min", p.min),
                ("max", p.max),
            ] {
                if let Some(v) = v {
                    line("perfdata", &format!("{key}.{suffix}"), v);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_as_icinga() {
        assert_eq!(escape_metric("web 1.example/a\\b"), "web_1_example_a_b");
        assert_eq!(escape_label("disk /var::used"), "disk__var.used");
        let arr = Value::from(vec![Value::from("a.b"), Value::from("c")]);
        assert_eq!(escape_macro(&arr), "a_b.c");
    }
}
