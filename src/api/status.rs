//! `GET /v1/status[/<name>]`: the stats functions (IcingaApplication, CIB, ApiListener,
//! CheckerComponent), permission `status/query`, filter variable `status`.

use std::convert::Infallible;
use std::sync::Arc;

use serde_json::{json, Value as Json};
use warp::reply::Response;

use super::error::ApiError;
use super::listing;
use super::request::{respond, Req};
use super::State;
use crate::stats;

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
    let now = state.engine.clock.now();
    let reg = state.engine.registry();
    let stats = &state.engine.stats;
    let perfdata =
        |figures: &[stats::Figure]| -> Json { figures.iter().map(stats::perfdata_value).collect() };
    let api = stats.api_listener();
    let checker = stats.checker(&reg);
    let idle = stats::Stats::checker_idle(&reg);
    let mut writers: std::collections::BTreeMap<&str, Json> = state
        .engine
        .perfdata
        .items(state.engine.bus.last_id(), now)
        .into_iter()
        .map(|(name, status, figures)| {
            (
                name,
                json!({ "name": name, "perfdata": perfdata(&figures), "status": status }),
            )
        })
        .collect();
    // Icinga lists every feature's stats function, with its objects (`{"<name>": 1}`),
    // also where there are none.
    let features = FEATURES.iter().map(|&t| {
        writers.remove(t).unwrap_or_else(|| {
            let objects: serde_json::Map<String, Json> = reg
                .objects(t)
                .map(|o| (o.name.to_string(), json!(1)))
                .collect();
            json!({ "name": t, "perfdata": [], "status": { t.to_lowercase(): objects } })
        })
    });
    // The other nodes, as Icinga's API listener counts endpoints.
    let (endpoints, connected) = crate::checker::cluster::endpoints(
        &reg,
        &state.engine.node_name,
        stats
            .cluster
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref(),
    );
    let not_connected: Vec<&String> = endpoints
        .iter()
        .filter(|e| !connected.contains(e))
        .collect();
    let mut items = vec![
        json!({
            "name": "ApiListener",
            "perfdata": perfdata(&api),
            "status": { "api": {
                "identity": state.engine.node_name,
                "num_endpoints": endpoints.len(),
                "num_conn_endpoints": connected.len(),
                "num_not_conn_endpoints": not_connected.len(),
                "conn_endpoints": connected,
                "not_conn_endpoints": not_connected,
                "zones": {},
                "http": { "clients": state.open_connections() },
                "json_rpc": {
                    "anonymous_clients": 0,
                    "relay_queue_item_rate": 0,
                    "relay_queue_items": 0,
                    "sync_queue_item_rate": 0,
                    "sync_queue_items": 0,
                    "work_queue_item_rate": 0,
                },
                "blocklist": state.blocklist.status(),
            }},
        }),
        json!({ "name": "CIB", "perfdata": [], "status": stats::object(stats.cib(&reg, now)) }),
        json!({
            "name": "CheckerComponent",
            "perfdata": perfdata(&checker),
            "status": { "checkercomponent": { "checker": { "idle": idle, "pending": 0 } } },
        }),
        json!({
            "name": "Store",
            "perfdata": [],
            "status": { "store": state.engine.store.health() },
        }),
        json!({
            "name": "EventStreams",
            "perfdata": [],
            "status": { "event_streams": state.engine.streams.status(state.engine.bus.last_id()) },
        }),
        json!({
            "name": "IcingaDB",
            "perfdata": [],
            "status": state.engine.icingadb.item(state.engine.bus.last_id()),
        }),
        json!({
            "name": "IcingaApplication",
            "perfdata": [],
            "status": { "icingaapplication": { "app": app_status(state) }},
        }),
    ];
    if let Some(node) = &state.cluster {
        items.push(json!({
            "name": "Cluster",
            "perfdata": [],
            "status": { "cluster": node.status(state.engine.store.log_position()) },
        }));
    }
    items.extend(features);
    items.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    items
}

/// The features whose stats functions Icinga 2.13 lists besides the API listener, the
/// CIB, the checker and the application.
const FEATURES: [&str; 17] = [
    "CheckResultReader",
    "CompatLogger",
    "ElasticsearchWriter",
    "ExternalCommandListener",
    "FileLogger",
    "GelfWriter",
    "GraphiteWriter",
    "IdoMysqlConnection",
    "IdoPgsqlConnection",
    "Influxdb2Writer",
    "InfluxdbWriter",
    "LivestatusListener",
    "NotificationComponent",
    "OpenTsdbWriter",
    "PerfdataWriter",
    "StatusDataWriter",
    "SyslogLogger",
];

/// The global switches as the `app` object has them now.
fn app_status(state: &State) -> Json {
    let reg = state.engine.registry();
    let app = reg.objects("IcingaApplication").next();

    let mut status = json!({
        "node_name": state.engine.node_name,
        "environment": app.map(|a| a.string("environment")).unwrap_or_default(),
        "pid": state.engine.pid,
        "program_start": state.engine.stats.program_start,
        "version": crate::VERSION_STRING,
    });
    for name in crate::stats::APP_SWITCHES {
        status[name] = json!(reg.app_switch(name));
    }
    status
}
