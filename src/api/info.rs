//! `GET /v1`: who you are, what you may do, and (Icinga for Windows seed) the endpoints.

use std::convert::Infallible;
use std::sync::Arc;

use serde_json::json;
use warp::reply::Response;

use super::reply;
use super::request::{respond, Req};
use super::State;

/// The endpoint families this server answers.
const ENDPOINTS: &[&str] = &[
    "/v1/actions",
    "/v1/checker",
    "/v1/config",
    "/v1/console",
    "/v1/events",
    "/v1/objects",
    "/v1/status",
    "/v1/templates",
    "/v1/types",
    "/v1/variables",
];

pub async fn handle(_state: Arc<State>, req: Req) -> Result<Response, Infallible> {
    respond(req, |session, _params, p| async move {
        let user = &session.user;
        Ok(reply::results(
            vec![json!({
                "user": user.name,
                "permissions": user.permissions.describe(),
                "version": crate::VERSION_STRING,
                "info": "More information about API requests is available in the documentation at https://icinga.com/docs/icinga2/latest/",
                "endpoints": ENDPOINTS,
            })],
            p.pretty,
        ))
    })
    .await
}
