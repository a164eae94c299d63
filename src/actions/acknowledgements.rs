//! `acknowledge-problem` and `remove-acknowledgement` on hosts and services.

use std::sync::Arc;

use super::{apply_each, required, targets, Action};
use crate::auth::ApiUser;
use crate::engine::Engine;
use crate::error::Error;
use crate::outcome::Outcome;
use crate::params::Params;
use crate::processor::acks::Ack;
use crate::processor::Change;

const TYPES: &[&str] = &["Host", "Service"];

pub async fn acknowledge(
    engine: &Engine,
    user: &Arc<ApiUser>,
    params: &Params,
) -> Result<Vec<Outcome>, Error> {
    let objects = targets(engine, user, Action::AcknowledgeProblem, TYPES, params).await?;
    let ack = match (required(params, "author"), required(params, "comment")) {
        (Some(author), Some(comment)) => Some(Ack {
            author,
            comment,
            sticky: params.flag("sticky"),
            notify: params.flag("notify"),
            persistent: params.flag("persistent"),
            expiry: params.number("expiry")?.unwrap_or(0.0),
        }),
        _ => None,
    };
    Ok(apply_each(engine, &objects, |_| match &ack {
        Some(a) => Ok(Change::Acknowledge(a.clone())),
        None => Err(Outcome::new(
            400,
            "Acknowledgements require author and comment.",
        )),
    })
    .await)
}

pub async fn remove(
    engine: &Engine,
    user: &Arc<ApiUser>,
    params: &Params,
) -> Result<Vec<Outcome>, Error> {
    let objects = targets(engine, user, Action::RemoveAcknowledgement, TYPES, params).await?;
    let author = params.string("author").unwrap_or_default();
    Ok(apply_each(engine, &objects, |_| {
        Ok(Change::RemoveAcknowledgement {
            author: author.clone(),
        })
    })
    .await)
}
