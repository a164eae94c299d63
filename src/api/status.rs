//! `GET /v1/status[/<name>]`: the stats functions (IcingaApplication, CIB, ApiListener,
//! CheckerComponent), permission `status/query`, filter variable `status`.

use std::convert::Infallible;
use std::sync::Arc;

use filters::{Dict, Value};
use serde_json::{json, Value as Json};
use warp::reply::Response;

use super::error::ApiError;
use super::reply;
use super::request::{respond, Req};
use crate::app::State;

pub async fn handle(
    name: Option<String>,
    state: Arc<State>,
    req: Req,
) -> Result<Response, Infallible> {
    respond(req, |session, params, p| async move {
        let grant = session.user.permissions.grant("status/query");
        if grant.is_denied() {
            return Err(ApiError::forbidden("status/query"));
        }
        let wanted = name.or_else(|| params.string("status"));
        let items: Vec<Json> = collect(&state)
            .into_iter()
            .filter(|item| wanted.as_deref().is_none_or(|w| item["name"] == w))
            .filter(|item| {
                let scope = Dict::from([("status".into(), Value::from_json(item))]);
                grant.allows(&scope)
            })
            .collect();
        if wanted.is_some() && items.is_empty() {
            return Err(ApiError::not_found("No objects found."));
        }
        Ok(reply::results(items, p.pretty))
    })
    .await
}

/// Every stats function's item.
pub fn collect(state: &State) -> Vec<Json> {
    let now = crate::app::now();
    let reg = state.registry();
    let uptime = now - state.program_start;
    let hosts = reg.count("Host");
    let services = reg.count("Service");
    vec![
        json!({
            "name": "ApiListener",
            "perfdata": [],
            "status": { "api": {
                "identity": state.node_name,
                "num_endpoints": 0,
                "num_conn_endpoints": 0,
                "num_not_conn_endpoints": 0,
                "conn_endpoints": [],
                "not_conn_endpoints": [],
                "zones": {},
                "http": { "clients": state.open_connections() },
                "blocklist": state.blocklist.status(),
            }},
        }),
        json!({ "name": "CIB", "perfdata": [], "status": cib(hosts, services, uptime) }),
        json!({
            "name": "CheckerComponent",
            "perfdata": [],
            "status": { "checkercomponent": { "checker": { "idle": hosts + services, "pending": 0 } } },
        }),
        json!({
            "name": "IcingaApplication",
            "perfdata": [],
            "status": { "icingaapplication": { "app": {
                "node_name": state.node_name,
                "enable_notifications": true,
                "enable_event_handlers": true,
                "enable_flapping": true,
                "enable_host_checks": true,
                "enable_service_checks": true,
                "enable_perfdata": true,
                "environment": "",
                "pid": state.pid,
                "program_start": state.program_start,
                "version": crate::VERSION_STRING,
            }}},
        }),
    ]
}

/// The CIB counters. Until the checker runs, every object is pending.
fn cib(hosts: usize, services: usize, uptime: f64) -> Json {
    let mut m = serde_json::Map::new();
    for kind in ["host", "service"] {
        for mode in ["active", "passive"] {
            for suffix in ["", "_1min", "_5min", "_15min"] {
                m.insert(format!("{mode}_{kind}_checks{suffix}"), json!(0));
            }
        }
    }
    for k in [
        "remote_check_queue",
        "current_pending_callbacks",
        "current_concurrent_checks",
        "min_latency",
        "max_latency",
        "avg_latency",
        "min_execution_time",
        "max_execution_time",
        "avg_execution_time",
    ] {
        m.insert(k.into(), json!(0));
    }
    let host_states = [
        "up",
        "down",
        "unreachable",
        "flapping",
        "in_downtime",
        "acknowledged",
        "handled",
        "problem",
    ];
    for s in host_states {
        m.insert(format!("num_hosts_{s}"), json!(0));
    }
    m.insert("num_hosts_pending".into(), json!(hosts));
    let service_states = [
        "ok",
        "warning",
        "critical",
        "unknown",
        "unreachable",
        "flapping",
        "in_downtime",
        "acknowledged",
        "handled",
        "problem",
    ];
    for s in service_states {
        m.insert(format!("num_services_{s}"), json!(0));
    }
    m.insert("num_services_pending".into(), json!(services));
    m.insert("uptime".into(), json!(uptime));
    Json::Object(m)
}
