//! Icinga's `cluster` (`ClusterCheck`) and `cluster-zone` (`ClusterZoneCheck`) checks,
//! on what a node knows of its cluster: the other endpoints (configured `Endpoint`
//! objects and every node seen) and which of them are live, and the zones' nodes with
//! how far behind the log each is.

use serde_json::{json, Value as Json};

use super::format_duration;
use crate::objects::Registry;

/// A live node of the cluster.
#[derive(Debug, Clone, Default)]
pub struct ClusterNode {
    pub name: String,
    pub zone: String,
    /// Seconds its store is behind the log.
    pub lag: f64,
}

/// What the cluster's heartbeat leaves for the checks.
#[derive(Debug, Clone, Default)]
pub struct ClusterReport {
    /// The live nodes, this one included.
    pub live: Vec<ClusterNode>,
    /// Every node seen since this one started.
    pub seen: Vec<String>,
}

/// The endpoints other than `me`, and those of them connected (live).
pub fn endpoints(
    reg: &Registry,
    me: &str,
    report: Option<&ClusterReport>,
) -> (Vec<String>, Vec<String>) {
    let mut all: std::collections::BTreeSet<String> = reg
        .objects("Endpoint")
        .map(|e| e.name.to_string())
        .filter(|n| n != me)
        .collect();
    let mut connected = Vec::new();
    if let Some(r) = report {
        all.extend(r.seen.iter().filter(|n| *n != me).cloned());
        connected = r
            .live
            .iter()
            .map(|n| n.name.clone())
            .filter(|n| n != me)
            .collect();
    }
    (all.into_iter().collect(), connected)
}

/// `ClusterCheck`: critical while an endpoint is not connected.
pub fn cluster(reg: &Registry, me: &str, report: Option<&ClusterReport>) -> (i64, String) {
    let (all, connected) = endpoints(reg, me, report);
    let missing: Vec<&String> = all.iter().filter(|e| !connected.contains(e)).collect();
    if missing.is_empty() {
        (
            0,
            format!(
                "Icinga 2 Cluster OK: {} endpoints are connected.\n({})",
                connected.len(),
                connected.join(", ")
            ),
        )
    } else {
        (
            2,
            format!(
                "Icinga 2 Cluster Problem: {} endpoints are not connected.\n({})",
                missing.len(),
                missing
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
    }
}

/// `ClusterZoneCheck` for `zone` (`cluster_zone`), with the lag thresholds
/// (`cluster_lag_warning`, `cluster_lag_critical`, seconds).
pub fn zone(
    reg: &Registry,
    me: &str,
    report: Option<&ClusterReport>,
    zone: &str,
    warning: Option<f64>,
    critical: Option<f64>,
) -> (i64, String, Vec<Json>) {
    if zone.is_empty() {
        return (3, "Macro 'cluster_zone' must be set.".into(), Vec::new());
    }
    let live: Vec<&ClusterNode> = report
        .map(|r| r.live.iter().filter(|n| n.zone == zone).collect())
        .unwrap_or_default();
    let configured = reg.get("Zone", zone);
    if configured.is_none() && live.is_empty() {
        return (3, format!("Zone '{zone}' does not exist."), Vec::new());
    }
    // A configured zone this node is an endpoint of is connected (it is this node).
    let local = configured.is_some_and(|z| {
        matches!(z.attr("endpoints"), Some(filters::Value::Array(a))
            if a.iter().any(|v| v.to_display_string() == me))
    });
    let connected = local || !live.is_empty();
    let lag = live.iter().map(|n| n.lag).fold(0.0, f64::max);
    let (state, output) = if !connected {
        (
            2,
            format!(
                "Zone '{zone}' is not connected. Log lag: {}",
                format_duration(lag)
            ),
        )
    } else if critical.is_some_and(|c| lag > c) {
        (
            2,
            format!(
                "Zone '{zone}' is connected. Log lag: {} greater than critical threshold: {}",
                format_duration(lag),
                format_duration(critical.unwrap_or_default())
            ),
        )
    } else if warning.is_some_and(|w| lag > w) {
        (
            1,
            format!(
                "Zone '{zone}' is connected. Log lag: {} greater than warning threshold: {}",
                format_duration(lag),
                format_duration(warning.unwrap_or_default())
            ),
        )
    } else {
        (
            0,
            format!(
                "Zone '{zone}' is connected. Log lag: {}",
                format_duration(lag)
            ),
        )
    };
    let perf = vec![json!({
        "type": "PerfdataValue",
        "label": "slave_lag",
        "value": filters::value::json_number(lag),
        "counter": false,
        "unit": "s",
        "warn": warning.map(filters::value::json_number),
        "crit": critical.map(filters::value::json_number),
        "min": null,
        "max": null,
    })];
    (state, output, perf)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry(conf: &str) -> Registry {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("test.conf"), conf).unwrap();
        crate::app::load_config(&crate::config::Site {
            config_dir: dir.path().into(),
            data_dir: dir.path().join("data"),
            node_name: "a".into(),
            api_port: None,
        })
        .unwrap()
        .registry
    }

    fn report() -> ClusterReport {
        ClusterReport {
            live: vec![
                ClusterNode {
                    name: "a".into(),
                    zone: "master".into(),
                    lag: 0.0,
                },
                ClusterNode {
                    name: "b".into(),
                    zone: "master".into(),
                    lag: 12.0,
                },
            ],
            seen: vec!["a".into(), "b".into(), "c".into()],
        }
    }

    #[test]
    fn cluster_counts_endpoints_not_connected() {
        let reg = registry("object Endpoint \"a\" {}\nobject Endpoint \"d\" {}\n");
        let (state, text) = cluster(&reg, "a", Some(&report()));
        assert_eq!(state, 2);
        assert_eq!(
            text,
            "Icinga 2 Cluster Problem: 2 endpoints are not connected.\n(c, d)"
        );
        let (state, text) = cluster(&registry(""), "a", None);
        assert_eq!(
            (state, text.as_str()),
            (0, "Icinga 2 Cluster OK: 0 endpoints are connected.\n()")
        );
        let live = ClusterReport {
            seen: vec!["a".into(), "b".into()],
            ..report()
        };
        let (state, text) = cluster(&registry(""), "a", Some(&live));
        assert_eq!(
            (state, text.as_str()),
            (0, "Icinga 2 Cluster OK: 1 endpoints are connected.\n(b)")
        );
    }

    #[test]
    fn zone_reports_connection_and_lag() {
        let reg = registry(
            "object Endpoint \"x\" {}\nobject Zone \"remote\" { endpoints = [ \"x\" ] }\n",
        );
        let r = report();
        let (state, text, perf) = zone(&reg, "a", Some(&r), "master", Some(10.0), Some(60.0));
        assert_eq!(state, 1);
        assert_eq!(
            text,
            "Zone 'master' is connected. Log lag: 12 seconds greater than warning threshold: 10 seconds"
        );
        assert_eq!(perf[0]["value"], 12.0);
        let (state, text, _) = zone(&reg, "a", Some(&r), "remote", None, None);
        assert_eq!(
            (state, text.as_str()),
            (
                2,
                "Zone 'remote' is not connected. Log lag: less than 1 millisecond"
            )
        );
        let (state, text, _) = zone(&reg, "a", Some(&r), "nowhere", None, None);
        assert_eq!(
            (state, text.as_str()),
            (3, "Zone 'nowhere' does not exist.")
        );
        assert_eq!(zone(&reg, "a", None, "", None, None).0, 3);
    }
}
