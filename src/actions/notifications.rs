//! `send-custom-notification` and `delay-notification` on hosts and services.

use std::sync::Arc;

use super::{apply_each, required, targets, Action};
use crate::auth::ApiUser;
use crate::engine::Engine;
use crate::error::Error;
use crate::outcome::Outcome;
use crate::params::Params;
use crate::processor::Change;

const TYPES: &[&str] = &["Host", "Service"];

pub async fn custom(
    engine: &Engine,
    user: &Arc<ApiUser>,
    params: &Params,
) -> Result<Vec<Outcome>, Error> {
    let objects = targets(engine, user, Action::SendCustomNotification, TYPES, params).await?;
    let message = required(params, "author").zip(required(params, "comment"));
    let force = params.flag("force");
    Ok(apply_each(engine, &objects, |_| match &message {
        Some((author, text)) => Ok(Change::CustomNotification {
            author: author.clone(),
            text: text.clone(),
            force,
        }),
        None => Err(Outcome::new(
            400,
            "Parameters 'author' and 'comment' are required.",
        )),
    })
    .await)
}

pub async fn delay(
    engine: &Engine,
    user: &Arc<ApiUser>,
    params: &Params,
) -> Result<Vec<Outcome>, Error> {
    let objects = targets(engine, user, Action::DelayNotification, TYPES, params).await?;
    let until = params.number("timestamp")?;
    Ok(apply_each(engine, &objects, |_| match until {
        Some(until) => Ok(Change::DelayNotification { until }),
        None => Err(Outcome::new(
            400,
            "A timestamp is required to delay notifications",
        )),
    })
    .await)
}
