//! `send-custom-notification` and `delay-notification` on hosts and services.

use serde_json::Value as Json;
use std::sync::Arc;

use super::{apply_each, item, required, targets};
use crate::app::State;
use crate::auth::ApiUser;
use crate::error::Error;
use crate::params::Params;
use crate::processor::Change;

const TYPES: &[&str] = &["Host", "Service"];

pub async fn custom(
    state: &State,
    user: &Arc<ApiUser>,
    params: &Params,
) -> Result<Vec<Json>, Error> {
    let objects = targets(state, user, "send-custom-notification", TYPES, params).await?;
    let message = required(params, "author").zip(required(params, "comment"));
    let force = params.flag("force");
    Ok(apply_each(state, &objects, |_| match &message {
        Some((author, text)) => Ok(Change::CustomNotification {
            author: author.clone(),
            text: text.clone(),
            force,
        }),
        None => Err(item(400, "Parameters 'author' and 'comment' are required.")),
    })
    .await)
}

pub async fn delay(
    state: &State,
    user: &Arc<ApiUser>,
    params: &Params,
) -> Result<Vec<Json>, Error> {
    let objects = targets(state, user, "delay-notification", TYPES, params).await?;
    let until = params.number("timestamp")?;
    Ok(apply_each(state, &objects, |_| match until {
        Some(until) => Ok(Change::DelayNotification { until }),
        None => Err(item(400, "A timestamp is required to delay notifications")),
    })
    .await)
}
