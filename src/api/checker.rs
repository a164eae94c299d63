//! `GET|POST /v1/checker?command=<CheckCommand>`: runs a check on this node now and
//! answers with its result (the on-demand checker of Icinga for Windows' REST API). Other
//! parameters override the command's macros (`?command=disk&disk_partitions=/`); macros
//! otherwise resolve against this node's Host object (`NodeName`), if there is one.
//! Permission `checker`; nothing is stored or published.

use std::convert::Infallible;
use std::sync::Arc;

use filters::{Dict, Str, Value};
use serde_json::json;
use warp::reply::Response;

use super::error::ApiError;
use super::reply;
use super::request::{respond, Req};
use super::State;
use crate::objects::{types, Object};

/// Parameters that are not macros.
const RESERVED: &[&str] = &["command", "pretty", "verbose"];

pub async fn handle(state: Arc<State>, req: Req) -> Result<Response, Infallible> {
    respond(req, |session, params, p| async move {
        if !session.user.permissions.has_unfiltered("checker") {
            return Err(ApiError::forbidden("checker"));
        }
        let Some(name) = params.string("command").filter(|c| !c.is_empty()) else {
            return Err(ApiError::bad_request("Parameter 'command' is required."));
        };
        let reg = state.engine.registry();
        if reg.get("CheckCommand", &name).is_none() {
            return Err(ApiError::not_found(format!(
                "Check command '{name}' does not exist."
            )));
        }
        let node = reg.get("Host", &state.engine.node_name);
        let mut attrs = node.map_or_else(
            || Dict::from([(Str::from("address"), Value::from("127.0.0.1"))]),
            |h| h.attrs.to_dict(),
        );
        let mut vars = match attrs.get("vars") {
            Some(Value::Dict(v)) => (**v).clone(),
            _ => Dict::new(),
        };
        for key in params.keys().filter(|k| !RESERVED.contains(k)) {
            if let Some(v) = params.raw(key) {
                // Query parameters arrive as arrays of their values: one value is a scalar.
                let v = match v {
                    serde_json::Value::Array(a) if a.len() == 1 => a[0].clone(),
                    other => other.clone(),
                };
                vars.insert(key.into(), Value::from_json(&v));
            }
        }
        attrs.insert("vars".into(), Value::from(vars));
        attrs.insert("check_command".into(), Value::from(name.as_str()));
        let host = types::by_name("Host")
            .map(|ti| crate::objects::runtime_object(ti, &state.engine.node_name, attrs))
            .ok_or_else(|| ApiError::not_found("No Host type."))?;
        let host: Arc<Object> = Arc::new(host);
        let cr = state.engine.checker.check(&reg, &host).await;
        let result = json!({
            "command": name,
            "exit_status": cr.exit_status,
            "state": crate::checker::output::service_state(cr.exit_status),
            "output": cr.output,
            "performance_data": cr.performance_data,
            "execution_start": cr.execution_start,
            "execution_end": cr.execution_end,
            "check_source": state.engine.node_name,
        });
        Ok(reply::json_response(
            http::StatusCode::OK,
            &json!({ "results": [result] }),
            p.pretty,
        ))
    })
    .await
}
