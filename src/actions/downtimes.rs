//! `schedule-downtime` on hosts and services (with `all_services` and `child_options`);
//! `remove-downtime` on downtimes, or on hosts and services (all their downtimes).

use serde_json::Value as Json;
use std::sync::Arc;

use super::{apply_each, required, targets, Action};
use crate::auth::ApiUser;
use crate::engine::Engine;
use crate::error::Error;
use crate::outcome::Outcome;
use crate::params::Params;
use crate::processor::downtimes::Spec;
use crate::processor::Change;

/// `child_options`: a name or 0/1/2.
fn child_options(params: &Params) -> Result<u8, ()> {
    let Some(v) = params.scalar("child_options") else {
        return Ok(0);
    };
    let text = match v {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    };
    match text.as_str() {
        "0" | "DowntimeNoChildren" => Ok(0),
        "1" | "DowntimeTriggeredChildren" => Ok(1),
        "2" | "DowntimeNonTriggeredChildren" => Ok(2),
        _ => Err(()),
    }
}

/// The downtime the parameters describe, or the result item that refuses them.
fn spec(params: &Params) -> Result<Result<Spec, Outcome>, Error> {
    let (start, end) = (params.number("start_time")?, params.number("end_time")?);
    let (author, comment) = (required(params, "author"), required(params, "comment"));
    let (Some(start_time), Some(end_time), Some(author), Some(comment)) =
        (start, end, author, comment)
    else {
        return Ok(Err(Outcome::new(
            400,
            "Options 'start_time', 'end_time', 'author' and 'comment' are required",
        )));
    };
    let fixed = params.bool("fixed").unwrap_or(true);
    let duration = params.number("duration")?;
    if !fixed && duration.is_none() {
        return Ok(Err(Outcome::new(
            400,
            "Option 'duration' is required for flexible downtime",
        )));
    }
    let Ok(child_options) = child_options(params) else {
        return Ok(Err(Outcome::new(
            400,
            "Option 'child_options' provided an invalid value.",
        )));
    };
    if end_time < start_time {
        return Ok(Err(Outcome::new(
            400,
            "Option 'end_time' must not be before 'start_time'.",
        )));
    }
    Ok(Ok(Spec {
        author,
        comment,
        start_time,
        end_time,
        fixed,
        // As Icinga: a fixed downtime without a duration has 0.
        duration: duration.unwrap_or(0.0),
        trigger_name: params.string("trigger_name").filter(|t| !t.is_empty()),
        child_options,
        all_services: params.flag("all_services"),
        owner: None,
    }))
}

pub async fn schedule(
    engine: &Engine,
    user: &Arc<ApiUser>,
    params: &Params,
) -> Result<Vec<Outcome>, Error> {
    let objects = targets(
        engine,
        user,
        Action::ScheduleDowntime,
        &["Host", "Service"],
        params,
    )
    .await?;
    let spec = spec(params)?;
    Ok(apply_each(engine, &objects, |_| match &spec {
        Ok(s) => Ok(Change::ScheduleDowntime(s.clone())),
        Err(refused) => Err(refused.clone()),
    })
    .await)
}

pub async fn remove(
    engine: &Engine,
    user: &Arc<ApiUser>,
    params: &Params,
) -> Result<Vec<Outcome>, Error> {
    let objects = targets(
        engine,
        user,
        Action::RemoveDowntime,
        &["Host", "Service", "Downtime"],
        params,
    )
    .await?;
    let author = params.string("author").unwrap_or_default();
    Ok(apply_each(engine, &objects, |_| {
        Ok(Change::RemoveDowntime {
            author: author.clone(),
        })
    })
    .await)
}
