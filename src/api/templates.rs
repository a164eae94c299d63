//! `GET /v1/templates/<type>[/<name>]` (permission `templates/query/<Type>`, filter
//! variable `tmpl`) and `GET /v1/variables[/<name>]` (permission `variables`, filter
//! variable `variable`).

use std::convert::Infallible;
use std::sync::Arc;

use serde_json::{json, Value as Json};
use warp::reply::Response;

use super::error::ApiError;
use super::listing;
use super::request::{respond, Req};
use super::State;
use crate::objects::types;

pub async fn templates(
    plural: String,
    name: Option<String>,
    state: Arc<State>,
    req: Req,
) -> Result<Response, Infallible> {
    respond(req, |session, params, _| async move {
        let Some(ti) = types::by_plural(&plural) else {
            return Err(ApiError::bad_request("Invalid type specified."));
        };
        let permissions = &session.user.permissions;
        // Icinga's code checks `templates/query/<Type>`, its docs say `templates/<type>`.
        let mut grant = permissions.grant(&format!("templates/query/{}", ti.name));
        if grant.is_denied() {
            grant = permissions.grant(&format!("templates/{}", ti.name));
        }
        if grant.is_denied() {
            return Err(ApiError::forbidden(&format!("templates/query/{}", ti.name)));
        }
        let reg = state.engine.registry();
        let wanted = name.or_else(|| params.string(&ti.name.to_lowercase()));
        let items: Vec<Json> = reg
            .templates(ti.name)
            .filter(|t| wanted.as_deref().is_none_or(|w| *t.name == *w))
            .map(|t| {
                let l = &t.location;
                json!({
                    "name": t.name.to_string(),
                    "type": ti.name,
                    "location": {
                        "path": l.path.to_string(),
                        "first_line": l.first_line,
                        "first_column": l.first_column,
                        "last_line": l.last_line,
                        "last_column": l.last_column,
                    },
                })
            })
            .collect();
        listing::answer(
            items,
            "tmpl",
            &grant,
            &params,
            wanted.is_some(),
            "No templates found.",
        )
    })
    .await
}

pub async fn variables(
    name: Option<String>,
    state: Arc<State>,
    req: Req,
) -> Result<Response, Infallible> {
    respond(req, |session, params, _| async move {
        let grant = session.user.permissions.grant("variables");
        if grant.is_denied() {
            return Err(ApiError::forbidden("variables"));
        }
        let wanted = name.or_else(|| params.string("variable"));
        let items: Vec<Json> = state
            .engine.library()
            .constants()
            .iter()
            // The ticket salt is a secret.
            .filter(|(k, _)| &***k != "TicketSalt")
            .filter(|(k, _)| wanted.as_deref().is_none_or(|w| &***k == w))
            .map(|(k, v)| json!({ "name": k.to_string(), "type": v.type_name(), "value": v.to_serde() }))
            .collect();
        listing::answer(items, "variable", &grant, &params, wanted.is_some(), "No objects found.")
    })
    .await
}
