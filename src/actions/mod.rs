//! `/v1/actions/<name>`: one file per action, dispatched by name.
//!
//! Common to all actions on objects: the targets are selected as `/v1/objects` selects
//! them (names, `type` + `filter`), narrowed by the `actions/<name>` permission's filters;
//! nothing selected is a 404 `No objects found.`; each target gets its own result item,
//! and the HTTP status aggregates their codes (spec §3.4).

pub mod acknowledgements;
mod action;
pub mod comments;
pub mod downtimes;
pub mod execute_command;
pub mod notifications;
pub mod process;
pub mod process_check_result;
pub mod reschedule_check;

use std::sync::Arc;

use crate::auth::ApiUser;
use crate::engine::Engine;
use crate::error::Error;
use crate::objects::query::Selection;
use crate::objects::types::{self, TypeInfo};
use crate::objects::Object;
use crate::outcome::Outcome;
use crate::params::Params;
use crate::processor::{Change, Refused};

pub use action::Action;

/// Selects an action's targets among `allowed` types.
///
/// # Errors
/// 404 `No objects found.` (with the reason as diagnostic information) when the type is
/// missing, invalid or not allowed, a named object is missing, or nothing matched.
pub async fn targets(
    engine: &Engine,
    user: &Arc<ApiUser>,
    action: Action,
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
    let permission = action.permission();
    let objects = crate::evaluator::select(
        &engine.evaluator,
        engine.registry(),
        user,
        &permission,
        ti,
        Selection::from_params(ti, params, None)?,
    )
    .await?;
    if objects.is_empty() {
        return Err(not_found("No objects matched."));
    }
    Ok(objects)
}

/// Runs an action (the caller has checked the permission for it): its outcomes, one per
/// target.
///
/// # Errors
/// What the action answers as a whole (no targets, bad parameters).
pub async fn run(
    engine: &Engine,
    user: &Arc<ApiUser>,
    action: Action,
    params: Params,
) -> Result<Vec<Outcome>, Error> {
    Ok(match action {
        Action::ProcessCheckResult => process_check_result::run(engine, user, &params).await?,
        Action::ProcessCheckResults => {
            process_check_result::run_batch(engine, user, params).await?
        }
        Action::RescheduleCheck => reschedule_check::run(engine, user, &params).await?,
        Action::AcknowledgeProblem => acknowledgements::acknowledge(engine, user, &params).await?,
        Action::RemoveAcknowledgement => acknowledgements::remove(engine, user, &params).await?,
        Action::AddComment => comments::add(engine, user, &params).await?,
        Action::RemoveComment => comments::remove(engine, user, &params).await?,
        Action::ScheduleDowntime => downtimes::schedule(engine, user, &params).await?,
        Action::RemoveDowntime => downtimes::remove(engine, user, &params).await?,
        Action::SendCustomNotification => notifications::custom(engine, user, &params).await?,
        Action::DelayNotification => notifications::delay(engine, user, &params).await?,
        Action::ExecuteCommand => execute_command::run(engine, user, &params).await?,
        Action::ShutdownProcess => vec![process::stop(engine, false)],
        Action::RestartProcess => vec![process::stop(engine, true)],
        Action::GenerateTicket => vec![process::ticket(engine, &params)?],
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
    engine: &Engine,
    objects: &[Arc<Object>],
    change: impl Fn(&Arc<Object>) -> Result<Change, Outcome>,
) -> Vec<Outcome> {
    let planned: Vec<Result<Change, Outcome>> = objects.iter().map(change).collect();
    let changes = objects
        .iter()
        .zip(&planned)
        .filter_map(|(o, c)| c.as_ref().ok().map(|c| (o.clone(), c.clone())))
        .collect();
    let mut outcomes = engine.processor.apply_all(changes).await.into_iter();
    planned
        .into_iter()
        .map(|p| match p {
            Ok(_) => outcome(outcomes.next().unwrap_or(Err(Refused::Gone))),
            Err(item) => item,
        })
        .collect()
}

/// What the processor did, as an action's outcome.
pub fn outcome(r: Result<crate::processor::Processed, Refused>) -> Outcome {
    match r {
        Ok(p) => p
            .outcome
            .unwrap_or_else(|| Outcome::ok("Successfully applied.")),
        Err(Refused::Rejected(code, status)) => Outcome::new(code, status),
        Err(Refused::Store(e)) => Outcome::new(500, format!("Action execution failed: '{e}'.")),
        Err(Refused::Unavailable(e)) => {
            Outcome::new(503, format!("Action execution failed: '{e}'."))
        }
        Err(Refused::Gone | Refused::Stale) => {
            Outcome::new(500, "Action execution failed: 'The object is not active.'.")
        }
    }
}

/// A text parameter that must be present (it may be empty).
pub fn required(params: &Params, key: &str) -> Option<String> {
    params
        .contains(key)
        .then(|| params.string(key).unwrap_or_default())
}
