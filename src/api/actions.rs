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
use super::State;
use crate::actions::{self, Action};
use crate::outcome::Outcome;

pub async fn handle(name: String, state: Arc<State>, req: Req) -> Result<Response, Infallible> {
    respond(req, |session, params, p| async move {
        let user = &session.user;
        let results = match Action::from_name(&name) {
            // Process-wide actions act on no object: only an unfiltered grant allows them.
            None if name == "unblock-address" => {
                if !user.permissions.has_unfiltered("actions/unblock-address") {
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
                vec![Outcome::ok(format!("Lifted {n} block(s)."))]
            }
            None => return Err(actions::unknown(&name).into()),
            Some(action) => {
                let permission = action.permission();
                if action.on_objects() {
                    if !user.permissions.has(&permission) {
                        return Err(ApiError::forbidden(&permission));
                    }
                } else if !user.permissions.has_unfiltered(&permission) {
                    return Err(ApiError::no_route(&format!("v1/actions/{name}")));
                }
                actions::run(&state.engine, user, action, params).await?
            }
        };
        let status = reply::aggregate_status(&results);
        Ok(reply::json_response(
            status,
            &json!({ "results": results }),
            p.pretty,
        ))
    })
    .await
}
