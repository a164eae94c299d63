//! `reschedule-check`: sets the next check of hosts or services (`next_check`, default
//! now; `force` runs it even when active checks are disabled).

use std::sync::Arc;

use super::{targets, Action};
use crate::auth::ApiUser;
use crate::engine::Engine;
use crate::error::Error;
use crate::outcome::Outcome;
use crate::params::Params;

pub async fn run(
    engine: &Engine,
    user: &Arc<ApiUser>,
    params: &Params,
) -> Result<Vec<Outcome>, Error> {
    let objects = targets(
        engine,
        user,
        Action::RescheduleCheck,
        &["Host", "Service"],
        params,
    )
    .await?;
    let next_check = params
        .number("next_check")?
        .unwrap_or_else(|| engine.clock.now());
    let force = params.flag("force");
    // All targets at once: one commit for the lot instead of one fsync each.
    let changes = objects
        .iter()
        .map(|o| {
            (
                o.clone(),
                crate::processor::Change::Reschedule { next_check, force },
            )
        })
        .collect();
    let answers = engine.processor.apply_all(changes).await;
    Ok(objects
        .iter()
        .zip(answers)
        .map(|(o, answer)| match answer {
            Ok(_) => Outcome::new(
                200,
                format!("Successfully rescheduled check for object '{}'.", o.name),
            ),
            Err(e) => Outcome::new(500, format!("Action execution failed: '{e:?}'.")),
        })
        .collect())
}
