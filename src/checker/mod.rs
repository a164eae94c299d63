//! The checker: runs the check of a host or service — a plugin process or a built-in
//! check — and turns the outcome into a check result for the processor.

pub mod cluster;
pub mod command;
pub mod icingadb;
pub mod output;
pub mod process;

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value as Json};

use crate::clock::Clock;
use crate::objects::{Object, Registry};
use crate::state::CheckableState;
use command::{Macros, Program};

/// A check result: what a check produced, or what a client submitted, for the processor
/// to apply.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct CheckInput {
    /// The plugin's exit code (or the submitted `exit_status`).
    pub exit_status: i64,
    /// The resulting state: hosts 0 UP / 1 DOWN, services 0–3.
    pub state: u8,
    pub output: String,
    pub performance_data: Vec<Json>,
    pub command: Json,
    pub schedule_start: f64,
    pub schedule_end: f64,
    pub execution_start: f64,
    pub execution_end: f64,
    pub active: bool,
    pub check_source: Arc<str>,
    pub scheduling_source: Arc<str>,
    pub ttl: f64,
}

/// A host or service with the objects and runtime states its commands' macros resolve
/// against.
pub struct Subject {
    pub host: Arc<Object>,
    pub service: Option<Arc<Object>>,
    service_short: Option<String>,
    host_state: Option<Arc<CheckableState>>,
    service_state: Option<Arc<CheckableState>>,
    /// The time runtime macros (`$icinga.timet$`, durations) are resolved at.
    now: f64,
}

impl Subject {
    /// `o` itself for hosts; a service and its host. `None` when the host is missing.
    /// Runtime macros read the states as last committed, at `now`.
    pub fn of(reg: &Registry, o: &Arc<Object>, now: f64) -> Option<Subject> {
        let committed = |o: &Object| o.runtime.as_ref().map(|r| r.get());
        if o.type_info.name == "Host" {
            return Some(Subject {
                host: o.clone(),
                service: None,
                service_short: None,
                host_state: committed(o),
                service_state: None,
                now,
            });
        }
        let host = reg.get("Host", &o.string("host_name"))?.clone();
        Some(Subject {
            host_state: committed(&host),
            host,
            service: Some(o.clone()),
            service_short: Some(o.string("name")),
            service_state: committed(o),
            now,
        })
    }

    /// Runtime macros read these states instead (the processor's, not yet committed);
    /// `None` keeps a state as it is.
    #[must_use]
    pub fn with_states(
        mut self,
        host: Option<Arc<CheckableState>>,
        service: Option<Arc<CheckableState>>,
    ) -> Subject {
        self.host_state = host.or(self.host_state);
        self.service_state = service.or(self.service_state);
        self
    }

    /// The macros of a command run for this subject; `extra` is looked up first.
    pub fn macros<'a>(
        &'a self,
        command: &'a Object,
        extra: Option<&'a filters::Dict>,
    ) -> Macros<'a> {
        self.macros_with(&command.attrs, extra)
    }

    /// Resolves the macros in `text` for this subject, outside any command, `extra`
    /// looked up first (missing macros resolve empty).
    pub fn resolve_text(&self, text: &str, extra: Option<&filters::Dict>) -> String {
        if !text.contains('$') {
            return text.to_string();
        }
        let no_command = filters::Dict::new();
        let macros = self.macros_with(&no_command, extra);
        macros
            .resolve(&filters::Value::from(text), &mut Vec::new())
            .to_display_string()
    }

    /// Resolves the macros in `text`, each value rendered by `render` (a writer's
    /// escaping); returns the text and the names of the macros that did not resolve
    /// (they become empty).
    pub fn resolve_text_with(
        &self,
        text: &str,
        render: &dyn Fn(&filters::Value) -> String,
    ) -> (String, Vec<String>) {
        let no_command = filters::Dict::new();
        let macros = self.macros_with(&no_command, None);
        let mut missing = Vec::new();
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find('$') {
            out.push_str(&rest[..start]);
            let after = &rest[start + 1..];
            let Some(end) = after.find('$') else {
                out.push_str(&rest[start..]);
                return (out, missing);
            };
            let name = &after[..end];
            match macros.lookup(name) {
                _ if name.is_empty() => out.push('$'),
                Some(v) if !matches!(v, filters::Value::Null) => out.push_str(&render(&v)),
                _ => missing.push(name.to_string()),
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        (out, missing)
    }

    fn macros_with<'a>(
        &'a self,
        command: &'a dyn crate::objects::Lookup,
        extra: Option<&'a filters::Dict>,
    ) -> Macros<'a> {
        Macros {
            service: self
                .service
                .as_ref()
                .map(|s| &s.attrs as &dyn crate::objects::Lookup),
            host: &self.host.attrs,
            command,
            host_name: &self.host.name,
            service_name: self.service_short.as_deref(),
            host_state: self.host_state.as_deref(),
            service_state: self.service_state.as_deref(),
            now: self.now,
            extra,
        }
    }
}

/// What runs checks: the node they run on (their check source), the figures built-in
/// checks report, the clock results are stamped with.
#[derive(Clone)]
pub struct Checker {
    /// Shared by every result this node's checks produce (their `check_source`).
    pub node_name: Arc<str>,
    /// Checks running now.
    pub running: Arc<std::sync::atomic::AtomicUsize>,
    pub stats: Arc<dyn SelfReport>,
    pub clock: Clock,
}

/// Counts one running check until dropped (also when the check's future is dropped).
struct Running<'a>(&'a std::sync::atomic::AtomicUsize);

impl<'a> Running<'a> {
    fn count(n: &'a std::sync::atomic::AtomicUsize) -> Running<'a> {
        n.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Running(n)
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// What the built-in `icinga` check reports about the running process.
pub trait SelfReport: Send + Sync {
    /// Seconds since the process started.
    fn uptime(&self, now: f64) -> f64;
    /// The check's performance data values at `now` (`PerfdataValue` objects).
    fn perfdata(&self, reg: &Registry, now: f64) -> Vec<Json>;
    /// The state of the `IcingaDB` writer `name`, while it runs.
    fn icingadb(&self, name: &str) -> Option<icingadb::IcingadbReport> {
        let _ = name;
        None
    }
    /// What this node knows of its cluster, when it is in one.
    fn cluster(&self) -> Option<cluster::ClusterReport> {
        None
    }
}

impl Checker {
    /// Runs the check of `object` (a Host or Service) as configured in `reg`.
    pub async fn check(&self, reg: &Registry, object: &Arc<Object>) -> CheckInput {
        let _running = Running::count(&self.running);
        check(reg, object, self).await
    }
}

async fn check(reg: &Registry, object: &Arc<Object>, checker: &Checker) -> CheckInput {
    let (node_name, clock) = (&checker.node_name, &checker.clock);
    let now = || clock.now();
    let schedule_start = now();
    let is_host = object.type_info.name == "Host";
    let Some(subject) = Subject::of(reg, object, schedule_start) else {
        return failed(
            object,
            (schedule_start, now()),
            node_name,
            "<The service's host does not exist.>".into(),
        );
    };
    let command_name = object.string("check_command");
    let Some(command) = reg.get("CheckCommand", &command_name).cloned() else {
        return failed(
            object,
            (schedule_start, now()),
            node_name,
            format!("<Check command '{command_name}' does not exist.>"),
        );
    };
    let macros = subject.macros(&command, None);
    let timeout = object
        .attr("check_timeout")
        .or_else(|| command.attr("timeout"))
        .and_then(|v| v.to_number().ok())
        .filter(|t| *t > 0.0)
        .unwrap_or(60.0);
    let mut values = Vec::new();
    let (exit, output, command_json, started, ended) = match command::build(&command.attrs, &macros)
    {
        Ok(Program::Builtin(name)) => {
            let started = now();
            let (exit, text, perfdata) =
                builtin(&name, &macros, reg, checker.stats.as_ref(), node_name);
            values = perfdata;
            (exit, text, json!(command_name), started, now())
        }
        Ok(Program::Exec { argv, env }) => {
            let o = process::run(&argv, &env, Duration::from_secs_f64(timeout), clock).await;
            (o.exit_code, o.output, json!(argv), o.started, o.ended)
        }
        Err(e) => {
            let t = now();
            (3, e, json!(command_name), t, t)
        }
    };
    let (text, perf) = output::parse_output(&output);
    let performance_data = perf.into_iter().map(Json::String).chain(values).collect();
    let service_state = output::service_state(exit);
    CheckInput {
        exit_status: exit,
        state: if is_host {
            output::host_state(service_state)
        } else {
            service_state
        },
        output: text,
        performance_data,
        command: command_json,
        schedule_start,
        schedule_end: now(),
        execution_start: started,
        execution_end: ended,
        active: true,
        check_source: node_name.clone(),
        scheduling_source: node_name.clone(),
        ttl: 0.0,
    }
}

/// A check that could not run: scheduled at `start`, given up at `t`.
fn failed(object: &Object, (start, t): (f64, f64), node: &Arc<str>, text: String) -> CheckInput {
    CheckInput {
        exit_status: 3,
        state: if object.type_info.name == "Host" {
            1
        } else {
            3
        },
        output: text,
        performance_data: Vec::new(),
        command: Json::Null,
        schedule_start: start,
        schedule_end: t,
        execution_start: t,
        execution_end: t,
        active: true,
        check_source: node.clone(),
        scheduling_source: node.clone(),
        ttl: 0.0,
    }
}

/// The built-in checks: `DummyCheck` (state and text from `dummy_state`/`dummy_text`),
/// `RandomCheck`, `NullCheck`, `IcingaCheck` (with the CIB as performance data values),
/// the database and cluster checks.
fn builtin(
    name: &str,
    macros: &Macros<'_>,
    reg: &Registry,
    stats: &dyn SelfReport,
    node_name: &str,
) -> (i64, String, Vec<Json>) {
    let mut missing = Vec::new();
    match name {
        "DummyCheck" => {
            let state = macros
                .lookup("dummy_state")
                .map(|v| macros.resolve(&v, &mut missing))
                .and_then(|v| v.to_number().ok())
                .unwrap_or(0.0) as i64;
            let text = macros
                .lookup("dummy_text")
                .map(|v| macros.resolve(&v, &mut missing).to_display_string())
                .unwrap_or_default();
            (state, text, Vec::new())
        }
        "RandomCheck" => {
            let state = rand::random::<u8>() % 4;
            (
                i64::from(state),
                format!("Hello from {}", macros.host_name),
                Vec::new(),
            )
        }
        "NullCheck" => (0, "Hello from Auspex".into(), Vec::new()),
        "IcingaCheck" => {
            let uptime = stats.uptime(macros.now);
            let mut text = format!(
                "Auspex has been running for {}. Version: {} (Icinga 2 API {})",
                format_duration(uptime),
                crate::AUSPEX_VERSION,
                crate::VERSION_STRING,
            );
            let min = macros
                .lookup("icinga_min_version")
                .map(|v| macros.resolve(&v, &mut missing).to_display_string())
                .filter(|v| !v.is_empty());
            let values = stats.perfdata(reg, macros.now);
            match min {
                Some(min) if version_below(crate::VERSION_STRING, &min) => {
                    text.push_str(&format!("; Minimum version {min} is not installed."));
                    (2, text, values)
                }
                _ => (0, text, values),
            }
        }
        "IcingadbCheck" => {
            let mut text = |name: &str| {
                macros
                    .lookup(name)
                    .map(|v| macros.resolve(&v, &mut missing).to_display_string())
                    .unwrap_or_default()
            };
            let name = text("icingadb_name");
            if name.is_empty() {
                return (
                    3,
                    "Icinga DB UNKNOWN: Attribute 'icingadb_name' must be set.".into(),
                    Vec::new(),
                );
            }
            if reg.get("IcingaDB", &name).is_none() {
                return (
                    3,
                    format!("Icinga DB UNKNOWN: Icinga DB connection '{name}' does not exist."),
                    Vec::new(),
                );
            }
            let mut pair = |w: &str, c: &str| {
                let mut number = |key: &str| {
                    let v = text(&format!("icingadb_{key}"));
                    filters::value::parse_number(&v).filter(|_| !v.is_empty())
                };
                (number(w), number(c))
            };
            let thresholds = icingadb::Thresholds {
                dump: pair("full_dump_duration_warning", "full_dump_duration_critical"),
                sync: pair("full_sync_duration_warning", "full_sync_duration_critical"),
                redis_backlog: pair("redis_backlog_warning", "redis_backlog_critical"),
                database_backlog: pair("database_backlog_warning", "database_backlog_critical"),
            };
            let report = stats.icingadb(&name).unwrap_or_default();
            icingadb::check(&report, &thresholds, macros.now)
        }
        "ClusterCheck" => {
            let (state, text) = cluster::cluster(reg, node_name, stats.cluster().as_ref());
            (state, text, stats.perfdata(reg, macros.now))
        }
        "ClusterZoneCheck" => {
            let mut text = |name: &str| {
                macros
                    .lookup(name)
                    .map(|v| macros.resolve(&v, &mut missing).to_display_string())
                    .unwrap_or_default()
            };
            let zone = text("cluster_zone");
            let mut threshold = |name: &str| {
                let v = text(name);
                filters::value::parse_number(&v).filter(|_| !v.is_empty())
            };
            let (warning, critical) = (
                threshold("cluster_lag_warning"),
                threshold("cluster_lag_critical"),
            );
            cluster::zone(
                reg,
                node_name,
                stats.cluster().as_ref(),
                &zone,
                warning,
                critical,
            )
        }
        "IdoCheck" => {
            let mut text = |name: &str| {
                macros
                    .lookup(name)
                    .map(|v| macros.resolve(&v, &mut missing).to_display_string())
                    .unwrap_or_default()
            };
            let (kind, name) = (text("ido_type"), text("ido_name"));
            let message = if kind.is_empty() {
                "Attribute 'ido_type' must be set.".to_string()
            } else if name.is_empty() {
                "Attribute 'ido_name' must be set.".to_string()
            } else if !matches!(kind.as_str(), "IdoMysqlConnection" | "IdoPgsqlConnection") {
                format!("DB IDO type '{kind}' is invalid.")
            } else if reg.get(&kind, &name).is_none() {
                format!("DB IDO connection '{name}' does not exist.")
            } else {
                format!(
                    "DB IDO connection '{name}' is not written to: Auspex does not implement \
                     the IDO (it feeds Icinga DB, see the IcingaDB feature)."
                )
            };
            (3, message, Vec::new())
        }
        other => (
            3,
            format!("<Built-in check '{other}' is not supported.>"),
            Vec::new(),
        ),
    }
}

/// A duration in words, as Icinga writes uptimes: "1 day, 2 hours and 5 seconds",
/// milliseconds under a second.
pub fn format_duration(seconds: f64) -> String {
    let whole = seconds.max(0.0) as u64;
    let counts = [
        ("day", whole / 86_400),
        ("hour", whole % 86_400 / 3_600),
        ("minute", whole % 3_600 / 60),
        ("second", whole % 60),
    ];
    let mut parts: Vec<String> = counts
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(unit, n)| format!("{n} {unit}{}", if *n == 1 { "" } else { "s" }))
        .collect();
    if parts.is_empty() {
        let ms = (seconds.max(0.0) * 1000.0).floor() as u64;
        parts.push(match ms {
            0 => "less than 1 millisecond".into(),
            1 => "1 millisecond".into(),
            n => format!("{n} milliseconds"),
        });
    }
    match parts.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => parts.concat(),
    }
}

/// Whether version `ours` ("v2.14.0", "r2.13.6-1") is below `min` ("2.13.0"), compared
/// number by number.
fn version_below(ours: &str, min: &str) -> bool {
    let numbers = |v: &str| -> Vec<u64> {
        v.trim_start_matches(['v', 'r'])
            .split(['.', '-'])
            .map_while(|p| p.parse().ok())
            .collect()
    };
    numbers(ours) < numbers(min)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_icinga_writes_them() {
        assert_eq!(format_duration(36.4), "36 seconds");
        assert_eq!(format_duration(61.0), "1 minute and 1 second");
        assert_eq!(
            format_duration(2.0 * 86_400.0 + 3_600.0 + 5.0),
            "2 days, 1 hour and 5 seconds"
        );
        assert_eq!(format_duration(0.25), "250 milliseconds");
        assert_eq!(format_duration(0.0), "less than 1 millisecond");
    }

    #[test]
    fn versions_compare_number_by_number() {
        assert!(version_below("v2.14.0", "2.15"));
        assert!(version_below("v2.14.0", "2.14.1"));
        assert!(!version_below("v2.14.0", "2.9.0"));
        assert!(!version_below("v2.14.0", "2.14.0"));
        assert!(!version_below("r2.13.6-1", "2.13"));
    }
}
