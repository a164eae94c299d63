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
            // Process-wide actions act on no object: only an unfiltered grant allows them.
            "unblock-address" => {
                if !user.permissions.has_unfiltered(&permission) {
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
            "shutdown-process" | "restart-process" | "generate-ticket" => {
                if !user.permissions.has_unfiltered(&permission) {
                    return Err(ApiError::no_route(&format!("v1/actions/{name}")));
                }
                match name.as_str() {
                    "generate-ticket" => vec![actions::process::ticket(&state, &params)?],
                    n => vec![actions::process::stop(&state, n == "restart-process")],
                }
            }
            n if actions::TYPED.contains(&n) => {
                if !user.permissions.has(&permission) {
                    return Err(ApiError::forbidden(&permission));
                }
                match n {
                    "process-check-results" => {
                        actions::process_check_result::run_batch(&state, user, params).await?
                    }
                    n => actions::run(&state, user, n, &params).await?,
                }
            }
            _ => return Err(actions::unknown(&name).into()),
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
