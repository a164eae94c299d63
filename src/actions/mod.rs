//! `/v1/actions/<name>`: one file per action, dispatched by name.
//!
//! Common to all actions on objects: the targets are selected as `/v1/objects` selects
//! them (names, `type` + `filter`), narrowed by the `actions/<name>` permission's filters;
//! nothing selected is a 404 `No objects found.`; each target gets its own result item,
//! and the HTTP status aggregates their codes (spec §3.4).

pub mod process_check_result;
pub mod reschedule_check;

use std::sync::Arc;

use serde_json::{json, Value as Json};

use crate::api::error::ApiError;
use crate::api::params::Params;
use crate::app::State;
use crate::auth::ApiUser;
use crate::objects::types::{self, TypeInfo};
use crate::objects::{query, Object};

/// One result item: `{"code": …, "status": "…"}` plus extras.
pub fn item(code: u16, status: impl Into<String>) -> Json {
    json!({ "code": code, "status": status.into() })
}

/// Selects an action's targets among `allowed` types.
///
/// # Errors
/// 404 `No objects found.` (with the reason as diagnostic information) when the type is
/// missing, invalid or not allowed, a named object is missing, or nothing matched.
pub fn targets(
    state: &State,
    user: &ApiUser,
    action: &str,
    allowed: &[&str],
    params: &Params,
) -> Result<Vec<Arc<Object>>, ApiError> {
    let not_found = |why: &str| ApiError::not_found("No objects found.").with_diagnostic(why);
    let ti: &'static TypeInfo = match params.string("type") {
        Some(t) => types::by_name(&t).ok_or_else(|| not_found("Invalid type specified."))?,
        None => {
            // A name parameter implies the type (`host=…`, `service=…`).
            let named = allowed.iter().copied().find(|t| {
                let lower = t.to_lowercase();
                params.contains(&lower)
                    || types::by_name(t)
                        .is_some_and(|ti| params.contains(&ti.plural.to_lowercase()))
            });
            match named.and_then(types::by_name) {
                Some(ti) => ti,
                None if params.contains("filter") => {
                    return Err(not_found("Type must be specified when using a filter."))
                }
                None => return Err(not_found("Type must be specified.")),
            }
        }
    };
    if !allowed.contains(&ti.name) {
        return Err(not_found("Invalid type specified for this action."));
    }
    let grant = user.permissions.grant(&format!("actions/{action}"));
    let reg = state.registry();
    let objects = query::select(&reg, ti, params, None, &grant)?;
    if objects.is_empty() {
        return Err(not_found("No objects matched."));
    }
    Ok(objects)
}

/// The error for an unknown action.
pub fn unknown(name: &str) -> ApiError {
    ApiError::not_found(format!("Action '{name}' does not exist."))
}
