//! `/v1/actions/<name>`: one file per action, dispatched by name.
//!
//! Common to all actions on objects: the targets are selected as `/v1/objects` selects
//! them (names, `type` + `filter`), narrowed by the `actions/<name>` permission's filters;
//! nothing selected is a 404 `No objects found.`; each target gets its own result item,
//! and the HTTP status aggregates their codes (spec §3.4).

pub mod acknowledgements;
pub mod comments;
pub mod downtimes;
pub mod execute_command;
pub mod notifications;
pub mod process;
pub mod process_check_result;
pub mod reschedule_check;

use std::sync::Arc;

use serde_json::{json, Value as Json};

use crate::app::State;
use crate::auth::ApiUser;
use crate::error::Error;
use crate::objects::types::{self, TypeInfo};
use crate::objects::Object;
use crate::params::Params;
use crate::processor::{Change, Refused};

/// The actions on objects selected by type, name and filter.
pub const TYPED: &[&str] = &[
    "process-check-result",
    "process-check-results",
    "reschedule-check",
    "acknowledge-problem",
    "remove-acknowledgement",
    "add-comment",
    "remove-comment",
    "schedule-downtime",
    "remove-downtime",
    "send-custom-notification",
    "delay-notification",
    "execute-command",
];

/// One result item: `{"code": …, "status": "…"}` plus extras.
pub fn item(code: u16, status: impl Into<String>) -> Json {
    json!({ "code": code, "status": status.into() })
}

/// Selects an action's targets among `allowed` types.
///
/// # Errors
/// 404 `No objects found.` (with the reason as diagnostic information) when the type is
/// missing, invalid or not allowed, a named object is missing, or nothing matched.
pub async fn targets(
    state: &State,
    user: &Arc<ApiUser>,
    action: &str,
    allowed: &[&str],
    params: &Params,
) -> Result<Vec<Arc<Object>>, Error> {
    let not_found = |why: &str| Error::not_found("No objects found.").with_diagnostic(why);
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
    let permission = format!("actions/{action}");
    let objects = crate::evaluator::select(state, user, &permission, ti, params, None).await?;
    if objects.is_empty() {
        return Err(not_found("No objects matched."));
    }
    Ok(objects)
}

/// Runs one of the [`TYPED`] actions but the batch one (the caller has checked the
/// permission for it): the result items.
///
/// # Errors
/// What the action answers as a whole (no targets, bad parameters).
pub async fn run(
    state: &State,
    user: &Arc<ApiUser>,
    name: &str,
    params: &Params,
) -> Result<Vec<Json>, Error> {
    Ok(match name {
        "process-check-result" => process_check_result::run(state, user, params).await?,
        "reschedule-check" => reschedule_check::run(state, user, params).await?,
        "acknowledge-problem" => acknowledgements::acknowledge(state, user, params).await?,
        "remove-acknowledgement" => acknowledgements::remove(state, user, params).await?,
        "add-comment" => comments::add(state, user, params).await?,
        "remove-comment" => comments::remove(state, user, params).await?,
        "schedule-downtime" => downtimes::schedule(state, user, params).await?,
        "remove-downtime" => downtimes::remove(state, user, params).await?,
        "send-custom-notification" => notifications::custom(state, user, params).await?,
        "delay-notification" => notifications::delay(state, user, params).await?,
        "execute-command" => execute_command::run(state, user, params).await?,
        other => return Err(unknown(other)),
    })
}

/// The error for an unknown action.
pub fn unknown(name: &str) -> Error {
    Error::not_found(format!("Action '{name}' does not exist."))
}

/// Applies a change to every target at once (queued in target order; the processor
/// commits them together) and returns their result items in order. `change` gives the
/// change for a target, or the target's result item when the parameters rule it out.
pub async fn apply_each(
    state: &State,
    objects: &[Arc<Object>],
    change: impl Fn(&Arc<Object>) -> Result<Change, Json>,
) -> Vec<Json> {
    let planned: Vec<Result<Change, Json>> = objects.iter().map(change).collect();
    let changes = objects
        .iter()
        .zip(&planned)
        .filter_map(|(o, c)| c.as_ref().ok().map(|c| (o.clone(), c.clone())))
        .collect();
    let mut outcomes = state.processor.apply_all(changes).await.into_iter();
    planned
        .into_iter()
        .map(|p| match p {
            Ok(_) => outcome(outcomes.next().unwrap_or(Err(Refused::Gone))),
            Err(item) => item,
        })
        .collect()
}

/// A processor outcome as a result item.
pub fn outcome(r: Result<crate::processor::Processed, Refused>) -> Json {
    match r {
        Ok(p) => p.item,
        Err(Refused::Rejected(code, status)) => item(code, status),
        Err(Refused::Store(e)) => item(500, format!("Action execution failed: '{e}'.")),
        Err(Refused::Gone | Refused::Stale) => {
            item(500, "Action execution failed: 'The object is not active.'.")
        }
    }
}

/// A text parameter that must be present (it may be empty).
pub fn required(params: &Params, key: &str) -> Option<String> {
    params
        .contains(key)
        .then(|| params.string(key).unwrap_or_default())
}
