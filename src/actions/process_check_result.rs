//! `process-check-result`: passive results for hosts and services; and
//! `process-check-results` (an extension, icinga2#3553): many results in one request, each
//! with its own result item.

use std::sync::Arc;

use serde_json::Value as Json;

use super::{targets, Action};
use crate::auth::ApiUser;
use crate::checker::output::split_perfdata;
use crate::engine::Engine;
use crate::error::Error;
use crate::objects::Object;
use crate::outcome::{aggregate_code, Outcome};
use crate::params::Params;
use crate::processor::{Change, CheckInput, Refused};

pub async fn run(
    engine: &Engine,
    user: &Arc<ApiUser>,
    params: &Params,
) -> Result<Vec<Outcome>, Error> {
    let objects = targets(
        engine,
        user,
        Action::ProcessCheckResult,
        &["Host", "Service"],
        params,
    )
    .await?;
    // All targets at once: the processor commits them together instead of one fsync each.
    let planned: Vec<_> = objects
        .iter()
        .map(|o| (o, input(engine, o, params)))
        .collect();
    Ok(submit(engine, planned).await)
}

/// A target's check result, or the code and status that refuse it.
type Planned = Result<CheckInput, (u16, String)>;

/// Submits the results in order (so that results for one object apply in the order they
/// were given) and returns the result items in the same order.
async fn submit(engine: &Engine, planned: Vec<(&Arc<Object>, Planned)>) -> Vec<Outcome> {
    let mut changes = Vec::with_capacity(planned.len());
    let mut slots = Vec::with_capacity(planned.len());
    for (o, i) in planned {
        match i {
            Ok(i) => {
                changes.push((o.clone(), Change::Result(i)));
                slots.push(Ok(o));
            }
            Err((code, status)) => slots.push(Err(Outcome::new(code, status))),
        }
    }
    let mut outcomes = engine.processor.apply_all(changes).await.into_iter();
    slots
        .into_iter()
        .map(|slot| match slot {
            Ok(o) => result_item(o, outcomes.next().unwrap_or(Err(Refused::Gone))),
            Err(item) => item,
        })
        .collect()
}

/// `process-check-results`: `{"results": [ {<process-check-result parameters>}, … ]}`.
/// Every entry is answered in order; an entry that selects nothing gets a 404 item.
pub async fn run_batch(
    engine: &Engine,
    user: &Arc<ApiUser>,
    mut params: Params,
) -> Result<Vec<Outcome>, Error> {
    let Some(Json::Array(entries)) = params.take("results") else {
        return Err(Error::invalid(
            "Parameter 'results' is required: an array of check results.",
        ));
    };
    // Select every target first, then submit all at once: the processor commits them in
    // as few transactions as it can.
    let mut pending = Vec::with_capacity(entries.len());
    for entry in entries {
        let Json::Object(map) = entry else {
            pending.push(Err(Outcome::new(400, "Each result must be an object.")));
            continue;
        };
        let p = Params::from_map(map);
        match targets(
            engine,
            user,
            Action::ProcessCheckResult,
            &["Host", "Service"],
            &p,
        )
        .await
        {
            Ok(objects) => pending.push(Ok((objects, p))),
            Err(e) => pending.push(Err(Outcome::new(e.kind.code(), e.message))),
        }
    }
    // Every result of every entry, in request order, in one submission.
    let mut planned = Vec::new();
    for (objects, p) in pending.iter().flatten() {
        planned.extend(objects.iter().map(|o| (o, input(engine, o, p))));
    }
    let mut items = submit(engine, planned).await.into_iter();
    Ok(pending
        .iter()
        .map(|p| match p {
            Err(item) => item.clone(),
            Ok((objects, _)) => {
                let mut mine: Vec<Outcome> = items.by_ref().take(objects.len()).collect();
                match mine.pop() {
                    Some(only) if mine.is_empty() => only,
                    last => {
                        mine.extend(last);
                        let code = aggregate_code(mine.iter().map(|o| o.code));
                        let results: Vec<Json> = mine.iter().map(Outcome::to_json).collect();
                        Outcome::new(code, "Processed check results for several objects.")
                            .with("results", results)
                    }
                }
            }
        })
        .collect())
}

/// The result item of one submitted result.
fn result_item(o: &Object, outcome: Result<crate::processor::Processed, Refused>) -> Outcome {
    match outcome {
        Ok(_) => Outcome::new(
            200,
            format!(
                "Successfully processed check result for object '{}'.",
                o.name
            ),
        ),
        Err(Refused::Stale) => Outcome::new(
            409,
            format!(
                "Newer check result already present. Check result for '{}' was discarded.",
                o.name
            ),
        ),
        Err(Refused::Gone) => Outcome::new(
            503,
            format!(
                "Check result for object '{}' was discarded because the object is inactive.",
                o.name
            ),
        ),
        Err(Refused::Store(e)) => Outcome::new(500, format!("Action execution failed: '{e}'.")),
        Err(Refused::Unavailable(e)) => {
            Outcome::new(503, format!("Action execution failed: '{e}'."))
        }
        Err(Refused::Rejected(code, status)) => Outcome::new(code, status),
    }
}

/// The check result the parameters describe.
fn input(engine: &Engine, o: &Object, params: &Params) -> Result<CheckInput, (u16, String)> {
    let is_host = o.type_info.name == "Host";
    if o.attr("enable_passive_checks")
        .is_some_and(|v| !v.to_bool())
    {
        return Err((
            403,
            format!("Passive checks are disabled for object '{}'.", o.name),
        ));
    }
    let exit = match params.number("exit_status") {
        Ok(Some(n)) => n,
        Ok(None) => return Err((400, "Parameter 'exit_status' is required.".into())),
        Err(e) => return Err((400, e.message)),
    };
    let Some(output) = params.string("plugin_output") else {
        return Err((400, "Parameter 'plugin_output' is required".into()));
    };
    let exit = exit as i64;
    let state_value = if is_host {
        // Icinga's passive host rule: 0 UP, 1 DOWN, anything else refused.
        match exit {
            0 => 0,
            1 => 1,
            _ => return Err((400, format!("Invalid 'exit_status' for Host {}.", o.name))),
        }
    } else {
        crate::checker::output::service_state(exit)
    };
    let performance_data: Vec<Json> = match params.raw("performance_data") {
        Some(Json::Array(a)) => a.clone(),
        Some(Json::String(s)) => split_perfdata(s).into_iter().map(Json::String).collect(),
        _ => Vec::new(),
    };
    let t = engine.clock.now();
    let num = |k: &str| params.number(k).ok().flatten();
    let execution_start = num("execution_start").unwrap_or(t);
    let execution_end = num("execution_end").unwrap_or(t);
    Ok(CheckInput {
        exit_status: exit,
        state: state_value,
        output,
        performance_data,
        command: params
            .raw("check_command")
            .cloned()
            .map_or(Json::Null, |c| match c {
                Json::Array(a) if a.len() == 1 && a[0].is_string() => a[0].clone(),
                other => other,
            }),
        schedule_start: num("schedule_start").unwrap_or(execution_start),
        schedule_end: num("schedule_end").unwrap_or(execution_end),
        execution_start,
        execution_end,
        active: false,
        check_source: params
            .string("check_source")
            .map_or_else(|| engine.checker.node_name.clone(), Arc::from),
        scheduling_source: params
            .string("scheduling_source")
            .map_or_else(|| engine.checker.node_name.clone(), Arc::from),
        ttl: num("ttl").unwrap_or(0.0),
    })
}
