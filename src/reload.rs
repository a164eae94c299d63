//! Live reload: the configuration, with the config package stages now active, replaces
//! the running one without a restart. API-created objects and modified attributes are
//! restored on top from the store, every host and service keeps its runtime state, and
//! the difference is published as `ObjectCreated`, `ObjectModified` and `ObjectDeleted`
//! events in one commit with the switch.

use std::collections::HashSet;
use std::sync::Arc;

use filters::Str;

use crate::bus::EventKind;
use crate::bus::Pending;
use crate::engine::Engine;
use crate::objects::Registry;
use crate::store::Commit;

/// What a reload changed.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Summary {
    pub created: usize,
    pub modified: usize,
    pub deleted: usize,
}

/// Validates the configuration as it would be with `packages` active; the rendered
/// errors when it is not valid.
pub fn validate(
    engine: &Engine,
    packages: &[(String, std::path::PathBuf)],
) -> Result<(), Vec<String>> {
    engine
        .load(packages)
        .map(|_| ())
        .map_err(|e| e.to_string().lines().map(str::to_string).collect())
}

/// Loads the configuration with the active package stages and switches to it.
///
/// # Errors
/// The configuration's errors (nothing changes then), or a store failure.
pub async fn reload(engine: &Engine) -> Result<Summary, Vec<String>> {
    let _lock = engine.writer.lock().await;
    let now = engine.clock.now();
    let (loaded, (events, summary)) = assemble(engine, move |previous, next| {
        differences(previous, next, now)
    })
    .await?;
    crate::logging::configure(&loaded.registry);
    crate::engine::warn_inert(&loaded.registry);
    engine
        .store
        .commit_with(Commit {
            ops: Vec::new(),
            events,
            then: Some(engine.writer.installer(loaded.registry)),
        })
        .await
        .map_err(|e| vec![format!("The reload could not be stored: {e}")])?;
    engine.writer.replace_library(loaded.library);
    tracing::info!(
        created = summary.created,
        modified = summary.modified,
        deleted = summary.deleted,
        "Configuration reloaded."
    );
    Ok(summary)
}

/// Builds the objects again from the configuration and what the store holds, and
/// switches to them without events: a cluster's follower does so when the log changed
/// objects (the leader's events of the change come with the log).
///
/// # Errors
/// The configuration's errors (nothing changes then), or a store failure.
pub async fn rebuild(engine: &Engine) -> Result<(), Vec<String>> {
    let _lock = engine.writer.lock().await;
    let (loaded, ()) = assemble(engine, |_, _| ()).await?;
    engine.writer.installer(loaded.registry)();
    engine.writer.replace_library(loaded.library);
    Ok(())
}

/// The configuration with the active package stages, the API-created objects and
/// modified attributes the store holds on top, every host and service keeping its
/// runtime state; `compare` runs on the previous and the new objects. Built off the
/// async workers (a large configuration takes a while).
async fn assemble<T: Send + 'static>(
    engine: &Engine,
    compare: impl FnOnce(&Registry, &Registry) -> T + Send + 'static,
) -> Result<(crate::engine::Loaded, T), Vec<String>> {
    let packages = engine.packages.active();
    let contents = engine.store.contents().map_err(|e| vec![e.to_string()])?;
    let (site, previous, check) = (engine.site(), engine.registry(), engine.config_check);
    let now = engine.clock.now();
    tokio::task::spawn_blocking(move || {
        let loaded = crate::engine::load(&site, &packages, now)
            .and_then(|loaded| check(&loaded.registry).map(|()| loaded));
        let mut loaded = loaded.map_err(|e| {
            e.to_string()
                .lines()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })?;
        for w in
            crate::objects::writer::restore(&mut loaded.registry, &loaded.library, contents, now)
        {
            tracing::warn!("{w}");
        }
        loaded.registry.adopt_runtime(&previous);
        let compared = compare(&previous, &loaded.registry);
        Ok((loaded, compared))
    })
    .await
    .map_err(|e| vec![format!("The reload failed: {e}")])?
}

/// The objects created, modified and deleted between two registries.
fn differences(old: &Registry, new: &Registry, now: f64) -> (Vec<Pending>, Summary) {
    let event = |kind, type_name: &str, name: &str| {
        crate::objects::writer::object_event(kind, type_name, name, now)
    };
    let mut events = Vec::new();
    let mut summary = Summary::default();
    let mut seen: HashSet<(&'static str, Str)> = HashSet::new();
    for o in new.iter_all() {
        seen.insert((o.type_info.name, o.name.clone()));
        match old.get(o.type_info.name, &o.name) {
            None => {
                summary.created += 1;
                events.push(event(EventKind::ObjectCreated, o.type_info.name, &o.name));
            }
            Some(before)
                if !Arc::ptr_eq(before, o)
                    && !crate::objects::writer::same_dict(&before.attrs, &o.attrs) =>
            {
                summary.modified += 1;
                events.push(event(EventKind::ObjectModified, o.type_info.name, &o.name));
            }
            Some(_) => {}
        }
    }
    for o in old.iter_all() {
        if !seen.contains(&(o.type_info.name, o.name.clone())) {
            summary.deleted += 1;
            events.push(event(EventKind::ObjectDeleted, o.type_info.name, &o.name));
        }
    }
    (events, summary)
}
