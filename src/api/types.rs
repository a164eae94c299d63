//! `GET /v1/types[/<name>]`: type metadata, permission `types`, filter variable `type`.

use std::convert::Infallible;
use std::sync::Arc;

use serde_json::Value as Json;
use warp::reply::Response;

use super::error::ApiError;
use super::listing;
use super::request::{respond, Req};
use super::State;
use crate::objects::types;

pub async fn handle(
    name: Option<String>,
    _state: Arc<State>,
    req: Req,
) -> Result<Response, Infallible> {
    respond(req, |session, params, _| async move {
        let grant = session.user.permissions.grant("types");
        if grant.is_denied() {
            return Err(ApiError::forbidden("types"));
        }
        let wanted = name.or_else(|| params.string("type"));
        let items: Vec<Json> = types::all()
            .iter()
            .filter(|t| {
                wanted
                    .as_deref()
                    .is_none_or(|w| t.name.eq_ignore_ascii_case(w))
            })
            .map(|t| t.describe())
            .collect();
        listing::answer(
            items,
            "type",
            &grant,
            &params,
            wanted.is_some(),
            "No objects found.",
        )
    })
    .await
}
