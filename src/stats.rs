//! The figures behind `/v1/status` and the built-in `icinga` check, as Icinga's stats
//! functions and CIB compute them: checks processed in the last minutes, latency and
//! execution time, hosts and services by state, and the API listener's and checker's
//! performance data.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use filters::value::json_number;
use serde_json::{json, Value as Json};

use crate::objects::Registry;
use crate::processor::counters::CheckCounters;
use crate::processor::reachability::{reachable_now, Purpose};

impl crate::checker::SelfReport for Stats {
    fn uptime(&self, now: f64) -> f64 {
        Stats::uptime(self, now)
    }

    fn perfdata(&self, reg: &Registry, now: f64) -> Vec<Json> {
        self.icinga_check(reg, now)
            .iter()
            .map(perfdata_value)
            .collect()
    }

    fn icingadb(&self, name: &str) -> Option<crate::checker::icingadb::IcingadbReport> {
        self.icingadb
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
    }

    fn cluster(&self) -> Option<crate::checker::cluster::ClusterReport> {
        self.cluster
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// A named figure.
pub type Figure = (String, f64);

/// The global switches of the application (`IcingaApplication`), as its status shows
/// them.
pub const APP_SWITCHES: [&str; 6] = [
    "enable_notifications",
    "enable_event_handlers",
    "enable_flapping",
    "enable_host_checks",
    "enable_service_checks",
    "enable_perfdata",
];

/// What the figures are counted from besides the registry.
pub struct Stats {
    /// Check results processed in the last 15 minutes.
    pub counters: Arc<CheckCounters>,
    /// When the process started (seconds since the epoch).
    pub program_start: f64,
    /// How many clients are connected now.
    open_connections: Box<dyn Fn() -> usize + Send + Sync>,
    /// Checks running now (the checker counts them).
    pub running_checks: Arc<AtomicUsize>,
    /// What each running `IcingaDB` writer reports for its check, by object name.
    pub icingadb: std::sync::Mutex<
        std::collections::HashMap<String, crate::checker::icingadb::IcingadbReport>,
    >,
    /// What the cluster's heartbeat knows of the nodes, in a cluster.
    pub cluster: std::sync::Mutex<Option<crate::checker::cluster::ClusterReport>>,
}

impl Stats {
    pub fn new(
        counters: Arc<CheckCounters>,
        program_start: f64,
        open_connections: impl Fn() -> usize + Send + Sync + 'static,
    ) -> Stats {
        Stats {
            counters,
            program_start,
            open_connections: Box::new(open_connections),
            running_checks: Arc::default(),
            icingadb: std::sync::Mutex::default(),
            cluster: std::sync::Mutex::default(),
        }
    }

    pub fn uptime(&self, now: f64) -> f64 {
        (now - self.program_start).max(0.0)
    }

    /// The CIB at `now`, in the order of the `icinga` check's performance data.
    pub fn cib(&self, reg: &Registry, now: f64) -> Vec<Figure> {
        let mut out = self.counters.figures(now, self.uptime(now));
        out.push(("current_pending_callbacks".into(), 0.0));
        out.push((
            "current_concurrent_checks".into(),
            self.running_checks.load(Ordering::Relaxed) as f64,
        ));
        out.push(("remote_check_queue".into(), 0.0));
        out.extend(check_times(reg).map(|(n, v)| (n.to_string(), v)));
        out.extend(by_state(reg, "Service", now));
        out.push(("uptime".into(), self.uptime(now)));
        out.extend(by_state(reg, "Host", now));
        out
    }

    /// The API listener's performance data (no cluster endpoints, no JSON-RPC clients).
    pub fn api_listener(&self) -> Vec<Figure> {
        let clients = (self.open_connections)() as f64;
        [
            ("api_num_conn_endpoints", 0.0),
            ("api_num_endpoints", 0.0),
            ("api_num_http_clients", clients),
            ("api_num_json_rpc_anonymous_clients", 0.0),
            ("api_num_json_rpc_relay_queue_item_rate", 0.0),
            ("api_num_json_rpc_relay_queue_items", 0.0),
            ("api_num_json_rpc_sync_queue_item_rate", 0.0),
            ("api_num_json_rpc_sync_queue_items", 0.0),
            ("api_num_json_rpc_work_queue_item_rate", 0.0),
            ("api_num_not_conn_endpoints", 0.0),
        ]
        .into_iter()
        .map(|(n, v)| (n.to_string(), v))
        .collect()
    }

    /// The checker's idle hosts and services: all of them between checks.
    pub fn checker_idle(reg: &Registry) -> usize {
        reg.count("Host") + reg.count("Service")
    }

    /// The checker's performance data.
    pub fn checker(&self, reg: &Registry) -> Vec<Figure> {
        vec![
            (
                "checkercomponent_checker_idle".into(),
                Stats::checker_idle(reg) as f64,
            ),
            ("checkercomponent_checker_pending".into(), 0.0),
        ]
    }

    /// The built-in `icinga` check's performance data: the features' (API listener,
    /// checker), the CIB's and the cluster's message rates (none without a cluster).
    pub fn icinga_check(&self, reg: &Registry, now: f64) -> Vec<Figure> {
        let mut out = self.api_listener();
        out.extend(self.checker(reg));
        out.extend(self.cib(reg, now));
        for name in [
            "last_messages_sent",
            "last_messages_received",
            "sum_messages_sent_per_second",
            "sum_messages_received_per_second",
            "sum_bytes_sent_per_second",
            "sum_bytes_received_per_second",
        ] {
            out.push((name.into(), 0.0));
        }
        out
    }
}

/// A figure as a performance data value in Icinga's JSON shape.
pub fn perfdata_value((label, value): &Figure) -> Json {
    json!({
        "type": "PerfdataValue",
        "label": label,
        "value": json_number(*value),
        "counter": false,
        "crit": null,
        "warn": null,
        "min": null,
        "max": null,
        "unit": "",
    })
}

/// Figures as a JSON object.
pub fn object(figures: Vec<Figure>) -> Json {
    Json::Object(
        figures
            .into_iter()
            .map(|(n, v)| (n, json_number(v)))
            .collect(),
    )
}

/// `min/max/avg_latency` and `min/max/avg_execution_time` over the services' last check
/// results (0 without any).
fn check_times(reg: &Registry) -> [(&'static str, f64); 6] {
    let (mut lat, mut exec) = (Spread::default(), Spread::default());
    for o in reg.objects("Service") {
        let Some(rt) = o.runtime.as_ref().map(|r| r.get()) else {
            continue;
        };
        let Some(cr) = rt.last_check_result.as_deref() else {
            continue;
        };
        let execution = cr.execution_end - cr.execution_start;
        lat.add(((cr.schedule_end - cr.schedule_start) - execution).max(0.0));
        exec.add(execution);
    }
    [
        ("min_latency", lat.min),
        ("max_latency", lat.max),
        ("avg_latency", lat.avg()),
        ("min_execution_time", exec.min),
        ("max_execution_time", exec.max),
        ("avg_execution_time", exec.avg()),
    ]
}

/// Whether a `num_hosts_*`/`num_services_*` suffix names a state (the others count
/// conditions: pending, unreachable, flapping, …).
pub fn is_state_name(suffix: &str) -> bool {
    matches!(
        suffix,
        "up" | "down" | "ok" | "warning" | "critical" | "unknown"
    )
}

/// `num_services_*` or `num_hosts_*`: by state (a host's state is up or down), pending
/// (no result yet), unreachable, flapping, in downtime, acknowledged, handled, problem.
pub fn by_state(reg: &Registry, type_name: &str, now: f64) -> Vec<Figure> {
    let (kind, names) = if type_name == "Host" {
        ("hosts", &["up", "down"][..])
    } else {
        ("services", &["ok", "warning", "critical", "unknown"][..])
    };
    let mut by_state = vec![0u64; names.len()];
    let (mut pending, mut flapping, mut acked, mut problem) = (0u64, 0u64, 0u64, 0u64);
    let (mut handled, mut unreachable, mut in_downtime) = (0u64, 0u64, 0u64);
    for o in reg.objects(type_name) {
        let Some(rt) = o.runtime.as_ref().map(|r| r.get()) else {
            continue;
        };
        unreachable += u64::from(!reachable_now(reg, o, Purpose::State, now));
        in_downtime += u64::from(rt.downtime_depth > 0);
        handled += u64::from(o.handled(&rt));
        if !rt.has_result() {
            pending += 1;
            continue;
        }
        if let Some(n) = by_state.get_mut(rt.state as usize) {
            *n += 1;
        }
        flapping += u64::from(rt.flapping);
        acked += u64::from(rt.acknowledged());
        problem += u64::from(rt.state != 0);
    }
    let mut out: Vec<Figure> = names
        .iter()
        .zip(by_state)
        .map(|(name, n)| (format!("num_{kind}_{name}"), n as f64))
        .collect();
    for (name, n) in [
        ("pending", pending),
        ("unreachable", unreachable),
        ("flapping", flapping),
        ("in_downtime", in_downtime),
        ("acknowledged", acked),
        ("handled", handled),
        ("problem", problem),
    ] {
        out.push((format!("num_{kind}_{name}"), n as f64));
    }
    out
}

#[derive(Default)]
struct Spread {
    min: f64,
    max: f64,
    sum: f64,
    n: u64,
}

impl Spread {
    fn add(&mut self, v: f64) {
        if self.n == 0 || v < self.min {
            self.min = v;
        }
        self.max = self.max.max(v);
        self.sum += v;
        self.n += 1;
    }

    fn avg(&self) -> f64 {
        if self.n == 0 {
            0.0
        } else {
            self.sum / self.n as f64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_of_nothing_is_zero() {
        let mut s = Spread::default();
        assert_eq!((s.min, s.max, s.avg()), (0.0, 0.0, 0.0));
        for v in [2.0, 1.0, 3.0] {
            s.add(v);
        }
        assert_eq!((s.min, s.max, s.avg()), (1.0, 3.0, 2.0));
    }
}
