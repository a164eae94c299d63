//! `POST /v1/actions/<name>`: actions on objects (issue 7 fills this in) and the admin
//! actions of the server itself.

use std::convert::Infallible;
use std::net::IpAddr;
use std::sync::Arc;

use serde_json::json;
use warp::reply::Response;

use super::error::ApiError;
use super::reply;
use super::request::{respond, Req};
use crate::app::State;

pub async fn handle(name: String, state: Arc<State>, req: Req) -> Result<Response, Infallible> {
    respond(req, |session, params, p| async move {
        let permission = format!("actions/{name}");
        match name.as_str() {
            "unblock-address" => {
                if !session.user.permissions.has(&permission) {
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
                tracing::info!(
                    user = session.user.name,
                    ?address,
                    lifted = n,
                    "Blocks lifted."
                );
                Ok(reply::results(
                    vec![json!({
                        "code": 200,
                        "status": format!("Lifted {n} block(s)."),
                    })],
                    p.pretty,
                ))
            }
            _ => Err(ApiError::not_found(format!(
                "Action '{name}' does not exist."
            ))),
        }
    })
    .await
}
