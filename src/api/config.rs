//! `/v1/config/packages`, `/v1/config/stages`, `/v1/config/files`: config packages as
//! Icinga manages them (spec §6.8–6.10). A new stage is validated in the background; a
//! valid one becomes the package's active stage and, with `reload`, the running
//! configuration — live, without a restart (`crate::reload`). An invalid one leaves the
//! active stage as it was and says why in its `startup.log`.

use std::convert::Infallible;
use std::sync::Arc;

use http::StatusCode;
use serde_json::{json, Value as Json};
use warp::reply::Response;

use super::error::ApiError;
use super::reply;
use super::request::{respond, Req};
use super::State;
use crate::outcome::Outcome;
use crate::packages::{valid_name, valid_path, API_STAGE};

/// The `_api` package's files: every API-created object (also comments and downtimes)
/// as configuration, `conf.d/<plural>/<name>.conf`, as Icinga keeps them.
fn api_files(state: &State) -> Result<Vec<(String, String)>, ApiError> {
    let contents = state
        .engine
        .store
        .contents()
        .map_err(|e| internal("Could not read the API objects.", e))?;
    let mut files: Vec<(String, String)> = contents
        .api_objects
        .iter()
        .filter_map(|(key, record)| {
            let (type_name, name) = crate::store::split_key(key)?;
            let ti = crate::objects::types::by_name(type_name)?;
            let path = format!("conf.d/{}/{name}.conf", ti.plural.to_lowercase());
            Some((
                path,
                crate::packages::render_object(type_name, name, record),
            ))
        })
        .collect();
    files.sort();
    Ok(files)
}

fn require(session: &super::edge::Session, permission: &str, path: &str) -> Result<(), ApiError> {
    if session.user.permissions.has_unfiltered(permission) {
        Ok(())
    } else {
        // Icinga checks these permissions outside the handler: the generic 404.
        Err(ApiError::no_route(path))
    }
}

fn internal(status: &str, e: impl std::fmt::Display) -> ApiError {
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, status).with_diagnostic(e.to_string())
}

/// `/v1/config/packages[/<package>]`: GET lists, POST creates, DELETE deletes.
pub async fn packages(
    name: Option<String>,
    method: http::Method,
    state: Arc<State>,
    req: Req,
) -> Result<Response, Infallible> {
    respond(req, |session, _params, p| async move {
        let path = "v1/config/packages";
        match (method, name) {
            (http::Method::GET, None) => {
                require(&session, "config/query", path)?;
                let list = state.engine.packages.list().map_err(|e| internal("Could not list packages.", e))?;
                let mut items: Vec<Json> = vec![json!({"name": "_api", "active-stage": API_STAGE, "stages": [API_STAGE]})];
                items.extend(list.into_iter().map(|p| {
                    json!({"name": p.name, "active-stage": p.active_stage.unwrap_or_default(), "stages": p.stages})
                }));
                Ok(reply::results(items, p.pretty))
            }
            (http::Method::POST, Some(pkg)) => {
                require(&session, "config/modify", path)?;
                if !valid_name(&pkg) {
                    return Err(ApiError::bad_request(format!("Invalid package name '{pkg}'.")));
                }
                state
                    .engine.packages
                    .create(&pkg)
                    .map_err(|e| internal(&format!("Could not create package '{pkg}'."), e))?;
                Ok(reply::results(
                    vec![Outcome::ok("Created package.").with("package", pkg)],
                    p.pretty,
                ))
            }
            (http::Method::DELETE, Some(pkg)) => {
                require(&session, "config/modify", path)?;
                if !state.engine.packages.exists(&pkg) {
                    return Err(ApiError::not_found(format!("Package '{pkg}' does not exist.")));
                }
                let Ok(_update) = state.engine.package_update.try_lock() else {
                    return Err(conflict());
                };
                let was_active = state.engine.packages.active_stage(&pkg).is_some();
                state
                    .engine.packages
                    .delete(&pkg)
                    .map_err(|e| internal(&format!("Failed to delete package '{pkg}'."), e))?;
                if was_active {
                    crate::reload::reload(&state.engine)
                        .await
                        .map_err(|e| internal("The package was deleted; the reload failed.", e.join("\n")))?;
                }
                Ok(reply::results(
                    vec![Outcome::ok("Deleted package.").with("package", pkg)],
                    p.pretty,
                ))
            }
            _ => Err(ApiError::no_route(path)),
        }
    })
    .await
}

fn conflict() -> ApiError {
    ApiError::new(
        StatusCode::LOCKED,
        "Conflicting request, there is already an ongoing package update in progress. Please try it again later.",
    )
}

/// `/v1/config/stages/<package>[/<stage>]`: POST uploads a stage, GET lists its files,
/// DELETE removes it.
pub async fn stages(
    pkg: String,
    stage: Option<String>,
    method: http::Method,
    state: Arc<State>,
    req: Req,
) -> Result<Response, Infallible> {
    respond(req, |session, params, p| async move {
        let path = format!("v1/config/stages/{pkg}");
        if pkg == "_api" {
            require(&session, "config/query", &path)?;
            if method != http::Method::GET || stage.as_deref() != Some(API_STAGE) {
                return Err(ApiError::bad_request(
                    "Package '_api' holds the objects created through /v1/objects; change them there.",
                ));
            }
            let mut items: Vec<Json> = Vec::new();
            let mut dirs: Vec<String> = Vec::new();
            for (file, _) in api_files(&state)? {
                let dir = file.rsplit_once('/').map(|(d, _)| d.to_string()).unwrap_or_default();
                if !dirs.contains(&dir) {
                    if dirs.is_empty() {
                        items.push(json!({"type": "directory", "name": "conf.d"}));
                    }
                    items.push(json!({"type": "directory", "name": dir}));
                    dirs.push(dir);
                }
                items.push(json!({"type": "file", "name": file}));
            }
            return Ok(reply::results(items, p.pretty));
        }
        if !state.engine.packages.exists(&pkg) {
            require(&session, "config/query", &path)?;
            return Err(ApiError::bad_request(format!("Package '{pkg}' does not exist.")));
        }
        match (method, stage) {
            (http::Method::POST, None) => {
                require(&session, "config/modify", &path)?;
                let activate = params.bool("activate").unwrap_or(true);
                let reload = params.bool("reload").unwrap_or(true);
                if reload && !activate {
                    return Err(ApiError::bad_request(
                        "Parameter 'reload' must be false when 'activate' is false.",
                    ));
                }
                let files: Vec<(String, String)> = match params.raw("files") {
                    Some(Json::Object(m)) => m
                        .iter()
                        .map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_string)))
                        .collect(),
                    _ => return Err(internal("Stage creation failed.", "Parameter 'files' must be a dictionary of path → text.")),
                };
                let Ok(update) = state.engine.package_update.clone().try_lock_owned() else {
                    return Err(conflict());
                };
                let stage = state
                    .engine.packages
                    .create_stage(&pkg, &files)
                    .map_err(|e| internal("Stage creation failed.", e))?;
                tokio::spawn(validate_and_activate(state.clone(), pkg.clone(), stage.clone(), activate, reload, update));
                let status = if reload { "Created stage. Reload triggered." } else { "Created stage. Reload skipped." };
                Ok(reply::results(
                    vec![Outcome::ok(status).with("package", pkg).with("stage", stage)],
                    p.pretty,
                ))
            }
            (http::Method::GET, Some(stage)) => {
                require(&session, "config/query", &path)?;
                let entries = state
                    .engine.packages
                    .stage_entries(&pkg, &stage)
                    .map_err(|_| ApiError::not_found("Stage not found."))?;
                let items = entries
                    .into_iter()
                    .map(|(dir, name)| json!({"type": if dir { "directory" } else { "file" }, "name": name}))
                    .collect();
                Ok(reply::results(items, p.pretty))
            }
            (http::Method::DELETE, Some(stage)) => {
                require(&session, "config/modify", &path)?;
                if state.engine.packages.active_stage(&pkg).as_deref() == Some(stage.as_str()) {
                    return Err(internal("Stage deletion failed.", "The active stage cannot be deleted."));
                }
                state
                    .engine.packages
                    .delete_stage(&pkg, &stage)
                    .map_err(|_| ApiError::not_found("Stage not found."))?;
                Ok(reply::results(
                    vec![Outcome::ok("Stage deleted.").with("package", pkg).with("stage", stage)],
                    p.pretty,
                ))
            }
            _ => Err(ApiError::no_route(&path)),
        }
    })
    .await
}

/// Validates a new stage in the background; activates (and reloads) when it is valid.
async fn validate_and_activate(
    state: Arc<State>,
    pkg: String,
    stage: String,
    activate: bool,
    reload: bool,
    _update: tokio::sync::OwnedMutexGuard<()>,
) {
    let mut packages: Vec<(String, std::path::PathBuf)> = state
        .engine
        .packages
        .active()
        .into_iter()
        .filter(|(p, _)| *p != pkg)
        .collect();
    if let Some(dir) = state.engine.packages.stage_dir(&pkg, &stage) {
        packages.push((pkg.clone(), dir));
    }
    let checking = state.clone();
    let outcome =
        tokio::task::spawn_blocking(move || crate::reload::validate(&checking.engine, &packages))
            .await
            .unwrap_or_else(|e| Err(vec![format!("Validation failed: {e}")]));
    let stamp = chrono::Local::now().format("[%Y-%m-%d %H:%M:%S %z]");
    let mut log =
        format!("{stamp} information/cli: Validating config package '{pkg}' stage '{stage}'.\n");
    match &outcome {
        Ok(()) => log.push_str(&format!(
            "{stamp} information/cli: Finished validating the configuration file(s).\n"
        )),
        Err(errors) => {
            for e in errors {
                let e = e.strip_prefix("critical/config: ").unwrap_or(e);
                log.push_str(&format!("{stamp} critical/config: {e}\n"));
            }
            log.push_str(&format!("{stamp} critical/cli: Config validation failed. The active stage stays as it was.\n"));
        }
    }
    if let Err(e) = state
        .engine
        .packages
        .record_validation(&pkg, &stage, outcome.is_ok(), &log)
    {
        tracing::error!(package = %pkg, stage = %stage, error = %e, "Could not record the validation.");
        return;
    }
    if outcome.is_err() || !activate {
        tracing::info!(package = %pkg, stage = %stage, valid = outcome.is_ok(), "Config stage validated.");
        return;
    }
    if let Err(e) = state.engine.packages.activate(&pkg, &stage) {
        tracing::error!(package = %pkg, stage = %stage, error = %e, "Could not activate the stage.");
        return;
    }
    if reload {
        match crate::reload::reload(&state.engine).await {
            Ok(s) => {
                tracing::info!(package = %pkg, stage = %stage, created = s.created, modified = s.modified, deleted = s.deleted, "Config stage activated.");
            }
            Err(e) => {
                tracing::error!(package = %pkg, stage = %stage, errors = ?e, "Activation reload failed.");
            }
        }
    }
}

/// `GET /v1/config/files/<package>/<stage>/<path…>`: the file as it is.
pub async fn files(tail: String, state: Arc<State>, req: Req) -> Result<Response, Infallible> {
    respond(req, |session, _params, _p| async move {
        require(&session, "config/query", "v1/config/files")?;
        let tail = super::routes::decode(&tail);
        let mut parts = tail.splitn(3, '/');
        let (Some(pkg), Some(stage), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(ApiError::bad_request(
                "A package, a stage and a path are required.",
            ));
        };
        if tail.split('/').any(|p| p == "..") || !valid_path(path) {
            return Err(ApiError::bad_request("Path contains '..' (not allowed)."));
        }
        let bytes = if pkg == "_api" && stage == API_STAGE {
            api_files(&state)?
                .into_iter()
                .find(|(f, _)| f == path)
                .map(|(_, text)| text.into_bytes())
        } else {
            state.engine.packages.read_file(pkg, stage, path)
        }
        .ok_or_else(|| ApiError::not_found("Path not found."))?;
        let mut res = Response::new(bytes.into());
        res.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/octet-stream"),
        );
        Ok(res)
    })
    .await
}
