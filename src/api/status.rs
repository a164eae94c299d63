//! `GET /v1/status[/<name>]`: the stats functions (IcingaApplication, CIB, ApiListener,
//! CheckerComponent), permission `status/query`, filter variable `status`.

use std::convert::Infallible;
use std::sync::Arc;

use serde_json::{json, Value as Json};
use warp::reply::Response;

use super::error::ApiError;
use super::listing;
use super::request::{respond, Req};
use crate::app::State;

pub async fn handle(
    name: Option<String>,
    state: Arc<State>,
    req: Req,
) -> Result<Response, Infallible> {
    respond(req, |session, params, _| async move {
        let grant = session.user.permissions.grant("status/query");
        if grant.is_denied() {
            return Err(ApiError::forbidden("status/query"));
        }
        let wanted = name.or_else(|| params.string("status"));
        let items: Vec<Json> = collect(&state)
            .into_iter()
            .filter(|item| wanted.as_deref().is_none_or(|w| item["name"] == w))
            .collect();
        listing::answer(
            items,
            "status",
            &grant,
            &params,
            wanted.is_some(),
            "No objects found.",
        )
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
        json!({ "name": "CIB", "perfdata": [], "status": cib(&reg, uptime) }),
        json!({
            "name": "CheckerComponent",
            "perfdata": [],
            "status": { "checkercomponent": { "checker": { "idle": hosts + services, "pending": 0 } } },
        }),
        json!({
            "name": "Store",
            "perfdata": [],
            "status": { "store": state.store.health() },
        }),
        json!({
            "name": "EventStreams",
            "perfdata": [],
            "status": { "event_streams": state.streams.status(state.bus.last_id()) },
        }),
        json!({
            "name": "IcingaApplication",
            "perfdata": [],
            "status": { "icingaapplication": { "app": app_status(state) }},
        }),
    ]
}

/// The global switches as the `app` object has them now.
fn app_status(state: &State) -> Json {
    let reg = state.registry();
    let app = reg.objects("IcingaApplication").next();

    let mut status = json!({
        "node_name": state.node_name,
        "environment": app.map(|a| a.string("environment")).unwrap_or_default(),
        "pid": state.pid,
        "program_start": state.program_start,
        "version": crate::VERSION_STRING,
    });
    for name in [
        "enable_notifications",
        "enable_event_handlers",
        "enable_flapping",
        "enable_host_checks",
        "enable_service_checks",
        "enable_perfdata",
    ] {
        status[name] = json!(reg.app_switch(name));
    }
    status
}

/// The CIB counters, counted from the hosts' and services' runtime state. (Check rates
/// and latencies are not tracked yet and read 0.)
fn cib(reg: &crate::objects::Registry, uptime: f64) -> Json {
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
    for (type_name, kind, names) in [
        ("Host", "hosts", &["up", "down"][..]),
        (
            "Service",
            "services",
            &["ok", "warning", "critical", "unknown"][..],
        ),
    ] {
        let mut by_state = vec![0u64; names.len()];
        let (mut pending, mut flapping, mut acked, mut problem) = (0u64, 0u64, 0u64, 0u64);
        let (mut handled, mut unreachable, mut in_downtime) = (0u64, 0u64, 0u64);
        for o in reg.objects(type_name) {
            let Some(rt) = o.runtime.as_ref().map(|r| r.get()) else {
                continue;
            };
            let purpose = crate::processor::reachability::Purpose::State;
            unreachable += u64::from(!crate::processor::reachability::reachable_now(
                reg, o, purpose,
            ));
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
            acked += u64::from(rt.acknowledgement != 0);
            problem += u64::from(rt.state != 0);
        }
        for (name, n) in names.iter().zip(by_state) {
            m.insert(format!("num_{kind}_{name}"), json!(n));
        }
        m.insert(format!("num_{kind}_pending"), json!(pending));
        m.insert(format!("num_{kind}_flapping"), json!(flapping));
        m.insert(format!("num_{kind}_acknowledged"), json!(acked));
        m.insert(format!("num_{kind}_problem"), json!(problem));
        m.insert(format!("num_{kind}_handled"), json!(handled));
        m.insert(format!("num_{kind}_unreachable"), json!(unreachable));
        m.insert(format!("num_{kind}_in_downtime"), json!(in_downtime));
    }
    m.insert("uptime".into(), json!(uptime));
    Json::Object(m)
}
