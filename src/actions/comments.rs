//! `add-comment` on hosts and services; `remove-comment` on comments, or on hosts and
//! services (all their comments).

use std::sync::Arc;

use super::{apply_each, required, targets, Action};
use crate::auth::ApiUser;
use crate::engine::Engine;
use crate::error::Error;
use crate::outcome::Outcome;
use crate::params::Params;
use crate::processor::Change;

pub async fn add(
    engine: &Engine,
    user: &Arc<ApiUser>,
    params: &Params,
) -> Result<Vec<Outcome>, Error> {
    let objects = targets(
        engine,
        user,
        Action::AddComment,
        &["Host", "Service"],
        params,
    )
    .await?;
    let expiry = params.number("expiry")?.unwrap_or(0.0);
    let comment = required(params, "author").zip(required(params, "comment"));
    Ok(apply_each(engine, &objects, |_| match &comment {
        Some((author, text)) => Ok(Change::AddComment {
            author: author.clone(),
            text: text.clone(),
            expiry,
        }),
        None => Err(Outcome::new(400, "Comments require author and text.")),
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
        Action::RemoveComment,
        &["Host", "Service", "Comment"],
        params,
    )
    .await?;
    let author = params.string("author").unwrap_or_default();
    Ok(apply_each(engine, &objects, |_| {
        Ok(Change::RemoveComment {
            author: author.clone(),
        })
    })
    .await)
}
