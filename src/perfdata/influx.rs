//! Icinga's `InfluxdbWriter` (InfluxDB 1.x, `POST /write?db=…&precision=s`) and
//! `Influxdb2Writer` (InfluxDB 2.x, `POST /api/v2/write?org=…&bucket=…&precision=s` with
//! `Authorization: Token …`): the line protocol, one point per performance data value —
//! measurement and tags from `host_template`/`service_template` (a tag whose macros do
//! not resolve is left out), a `metric` tag with the label, fields `value` (and `crit`,
//! `max`, `min`, `warn` with `enable_send_thresholds`, `unit` when there is one) — and,
//! with `enable_send_metadata`, one point with the metadata fields and no `metric` tag.
//! Keys and fields in Icinga's (sorted) order; points are buffered and sent every
//! `flush_interval` seconds or when `flush_threshold` are waiting.

use std::collections::BTreeMap;
use std::time::Duration;

use filters::Value;

use super::sample::{icinga_number, Sample};
use crate::objects::Object;

/// Where and how points are written.
#[derive(Clone, Debug, PartialEq)]
pub enum Api {
    /// InfluxDB 1.x: database and optional credentials.
    V1 {
        database: String,
        username: Option<String>,
        password: Option<String>,
    },
    /// InfluxDB 2.x: organization, bucket and token.
    V2 {
        organization: String,
        bucket: String,
        token: String,
    },
}

/// An `InfluxdbWriter` or `Influxdb2Writer` object's settings.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    pub host: String,
    pub port: u16,
    pub tls: bool,
    pub insecure: bool,
    pub ca_cert: Option<String>,
    pub api: Api,
    /// `(measurement, tags)` templates.
    pub host_template: (String, BTreeMap<String, String>),
    pub service_template: (String, BTreeMap<String, String>),
    pub thresholds: bool,
    pub metadata: bool,
    pub flush_interval: Duration,
    pub flush_threshold: usize,
}

fn template(o: &Object, name: &str) -> (String, BTreeMap<String, String>) {
    let Some(Value::Dict(d)) = o.attr_or_default(name) else {
        return (String::new(), BTreeMap::new());
    };
    let measurement = d
        .get("measurement")
        .map(Value::to_display_string)
        .unwrap_or_default();
    let tags = match d.get("tags") {
        Some(Value::Dict(t)) => t
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_display_string()))
            .collect(),
        _ => BTreeMap::new(),
    };
    (measurement, tags)
}

impl Settings {
    /// # Errors
    /// A port that is not a number.
    pub fn of(o: &Object) -> Result<Settings, String> {
        let port = o.string_or_default("port");
        let text = |name: &str| Some(o.string(name)).filter(|s| !s.is_empty());
        let api = if o.type_info.name == "Influxdb2Writer" {
            Api::V2 {
                organization: o.string_or_default("organization"),
                bucket: o.string_or_default("bucket"),
                token: o.string_or_default("auth_token"),
            }
        } else {
            let basic = match o.attr("basic_auth") {
                Some(Value::Dict(d)) => Some((
                    d.get("username").map(Value::to_display_string),
                    d.get("password").map(Value::to_display_string),
                )),
                _ => None,
            };
            let (username, password) =
                basic.unwrap_or_else(|| (text("username"), text("password")));
            Api::V1 {
                database: o.string_or_default("database"),
                username,
                password,
            }
        };
        Ok(Settings {
            host: o.string_or_default("host"),
            port: port
                .parse()
                .map_err(|_| format!("{} '{}': invalid port '{port}'", o.type_info.name, o.name))?,
            tls: o.flag("ssl_enable", false),
            insecure: o.flag("ssl_insecure_noverify", false),
            ca_cert: text("ssl_ca_cert"),
            api,
            host_template: template(o, "host_template"),
            service_template: template(o, "service_template"),
            thresholds: o.flag("enable_send_thresholds", false),
            metadata: o.flag("enable_send_metadata", false),
            flush_interval: Duration::from_secs_f64(o.number("flush_interval", 10.0).max(0.1)),
            flush_threshold: o.number("flush_threshold", 1024.0).max(1.0) as usize,
        })
    }

    /// The write URL.
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        let base = format!("{scheme}://{}:{}", self.host, self.port);
        let q = |pairs: &[(&str, &str)]| {
            form_urlencoded::Serializer::new(String::new())
                .extend_pairs(pairs)
                .finish()
        };
        match &self.api {
            Api::V1 { database, .. } => {
                format!(
                    "{base}/write?{}",
                    q(&[("db", database), ("precision", "s")])
                )
            }
            Api::V2 {
                organization,
                bucket,
                ..
            } => format!(
                "{base}/api/v2/write?{}",
                q(&[
                    ("org", organization),
                    ("bucket", bucket),
                    ("precision", "s")
                ])
            ),
        }
    }
}

/// Keys, tag values and string fields as the line protocol needs them escaped; a
/// trailing backslash becomes `_` (it would escape what follows).
fn escape(s: &str) -> String {
    let mut out = s
        .replace('"', "\\\"")
        .replace('=', "\\=")
        .replace(',', "\\,")
        .replace(' ', "\\ ");
    if out.ends_with('\\') {
        out.pop();
        out.push('_');
    }
    out
}

/// A field value: `1i` integers, `true`/`false`, quoted strings, numbers as Icinga
/// prints them.
enum Field {
    Int(i64),
    Bool(bool),
    Float(f64),
    Text(String),
}

impl Field {
    fn render(&self) -> String {
        match self {
            Field::Int(i) => format!("{i}i"),
            Field::Bool(b) => b.to_string(),
            Field::Float(f) => icinga_number(*f),
            Field::Text(s) => format!("\"{}\"", escape(s)),
        }
    }
}

/// The points of one sample, one line each.
pub fn lines(s: &Settings, sample: &Sample, out: &mut Vec<String>) {
    let (measurement, tags) = if sample.is_service {
        &s.service_template
    } else {
        &s.host_template
    };
    let mut head = escape(&sample.subject.resolve_text_with(measurement, &plain).0);
    for (key, value) in tags {
        let (value, missing) = sample.subject.resolve_text_with(value, &plain);
        if missing.is_empty() && !value.is_empty() {
            head.push_str(&format!(",{}={}", escape(key), escape(&value)));
        }
    }
    let ts = sample.timestamp as u64;
    let mut point = |label: Option<&str>, fields: BTreeMap<&str, Field>| {
        let mut line = head.clone();
        if let Some(label) = label.filter(|l| !l.is_empty()) {
            line.push_str(&format!(",metric={}", escape(label)));
        }
        let fields: Vec<String> = fields
            .iter()
            .map(|(k, v)| format!("{}={}", escape(k), v.render()))
            .collect();
        out.push(format!("{line} {} {ts}", fields.join(",")));
    };
    for p in &sample.points {
        let mut fields = BTreeMap::from([("value", Field::Float(p.value))]);
        if s.thresholds {
            for (k, v) in [
                ("crit", p.crit),
                ("warn", p.warn),
                ("min", p.min),
                ("max", p.max),
            ] {
                if let Some(v) = v {
                    fields.insert(k, Field::Float(v));
                }
            }
        }
        if !p.unit.is_empty() {
            fields.insert("unit", Field::Text(p.unit.clone()));
        }
        point(Some(&p.label), fields);
    }
    if s.metadata {
        let m = &sample.metadata;
        point(
            None,
            BTreeMap::from([
                ("state", Field::Int(m.state)),
                ("current_attempt", Field::Int(m.current_attempt)),
                ("max_check_attempts", Field::Int(m.max_check_attempts)),
                ("state_type", Field::Int(m.state_type)),
                ("reachable", Field::Bool(m.reachable)),
                ("downtime_depth", Field::Int(m.downtime_depth)),
                ("acknowledgement", Field::Int(m.acknowledgement)),
                ("latency", Field::Float(m.latency)),
                ("execution_time", Field::Float(m.execution_time)),
            ]),
        );
    }
}

/// Macro values as they are (the line protocol escapes afterwards).
fn plain(v: &Value) -> String {
    match v {
        Value::Array(a) => a
            .iter()
            .map(Value::to_display_string)
            .collect::<Vec<_>>()
            .join(","),
        other => other.to_display_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_and_fields() {
        assert_eq!(escape("a b,c=d\"e"), "a\\ b\\,c\\=d\\\"e");
        assert_eq!(escape("C:\\"), "C:_");
        assert_eq!(Field::Int(3).render(), "3i");
        assert_eq!(Field::Float(0.5).render(), "0.500000");
        assert_eq!(Field::Float(2.0).render(), "2");
        assert_eq!(Field::Text("bytes".into()).render(), "\"bytes\"");
    }
}
