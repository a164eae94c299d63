//! `GET /v1/types[/<name>]`: type metadata, permission `types`, filter variable `type`.

use std::convert::Infallible;
use std::sync::Arc;

use filters::{Dict, Value};
use serde_json::Value as Json;
use warp::reply::Response;

use super::error::ApiError;
use super::reply;
use super::request::{respond, Req};
use crate::app::State;
use crate::objects::types;

pub async fn handle(
    name: Option<String>,
    _state: Arc<State>,
    req: Req,
) -> Result<Response, Infallible> {
    respond(req, |session, params, p| async move {
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
            .filter(|item| {
                let scope = Dict::from([("type".into(), Value::from_json(item))]);
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
