//! `POST /v1/actions/<name>`: the HTTP side of [`crate::actions`], plus the server's own
//! admin action `unblock-address`.

use std::convert::Infallible;
use std::net::IpAddr;
use std::sync::Arc;

use serde_json::json;
use warp::reply::Response;

use super::error::ApiError;
use super::reply;
use super::request::{respond, Req};
use crate::actions;
use crate::app::State;

pub async fn handle(name: String, state: Arc<State>, req: Req) -> Result<Response, Infallible> {
    respond(req, |session, params, p| async move {
        let user = &session.user;
        // The batch endpoint needs the permission of the single one.
        let permission = match name.as_str() {
            "process-check-results" => "actions/process-check-result".to_string(),
            n => format!("actions/{n}"),
        };
        let results = match name.as_str() {
            "unblock-address" => {
                if !user.permissions.has(&permission) {
                    return Err(ApiError::no_route(&format!("v1/actions/{name}")));
                }
                let address =
                    match params.string("address") {
                        Some(a) => Some(a.parse::<IpAddr>().map_err(|_| {
                            ApiError::bad_request(format!("Invalid address '{a}'."))
                        })?),
                        None => None,
                    };
                let n = state.blocklist.clear(address);
                tracing::info!(user = user.name, ?address, lifted = n, "Blocks lifted.");
                vec![json!({ "code": 200, "status": format!("Lifted {n} block(s).") })]
            }
            "process-check-result" | "process-check-results" | "reschedule-check" => {
                if !user.permissions.has(&permission) {
                    return Err(ApiError::forbidden(&permission));
                }
                match name.as_str() {
                    "process-check-result" => {
                        actions::process_check_result::run(&state, user, &params).await?
                    }
                    "process-check-results" => {
                        actions::process_check_result::run_batch(&state, user, params).await?
                    }
                    _ => actions::reschedule_check::run(&state, user, &params).await?,
                }
            }
            _ => return Err(actions::unknown(&name)),
        };
        let codes = results
            .iter()
            .filter_map(|r| r["code"].as_u64())
            .map(|c| c as u16);
        let status = reply::aggregate_status(codes);
        Ok(reply::json_response(
            status,
            &json!({ "results": results }),
            p.pretty,
        ))
    })
    .await
}
