//! `POST /v1/console/<method>`: the DSL console over the API (permission `console`).
//! Sessions keep their variables for 30 minutes of idleness; one request per session at a
//! time.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use filters::{Program, Str, Value};
use http::StatusCode;
use serde_json::json;
use warp::reply::Response;

use super::error::ApiError;
use super::reply;
use super::request::{respond, Req};
use super::State;
use crate::outcome::Outcome;

const SESSION_IDLE: Duration = Duration::from_secs(30 * 60);

struct Session {
    locals: Vec<(Str, Value)>,
    last_used: Instant,
    in_use: bool,
}

/// Console sessions by id.
#[derive(Default)]
pub struct Sessions(Mutex<HashMap<String, Session>>);

impl Sessions {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes a session's variables for one request (`None`: the session is busy).
    fn checkout(&self, id: &str) -> Option<Vec<(Str, Value)>> {
        let mut map = self.lock();
        let now = Instant::now();
        map.retain(|_, s| s.in_use || now - s.last_used < SESSION_IDLE);
        let s = map.entry(id.to_string()).or_insert(Session {
            locals: Vec::new(),
            last_used: now,
            in_use: false,
        });
        if s.in_use {
            return None;
        }
        s.in_use = true;
        Some(std::mem::take(&mut s.locals))
    }

    fn checkin(&self, id: &str, locals: Vec<(Str, Value)>) {
        if let Some(s) = self.lock().get_mut(id) {
            s.locals = locals;
            s.in_use = false;
            s.last_used = Instant::now();
        }
    }
}

pub async fn handle(method: String, state: Arc<State>, req: Req) -> Result<Response, Infallible> {
    respond(req, |session, params, p| async move {
        if !session.user.permissions.has_unfiltered("console") {
            // Icinga checks this permission outside the handler: the generic 404.
            return Err(ApiError::no_route(&format!("v1/console/{method}")));
        }
        let Some(command) = params.string("command") else {
            return Err(ApiError::bad_request("Parameter 'command' is required."));
        };
        let session_id = params.string("session");
        let result = match method.as_str() {
            "execute-script" | "evaluate-command" => {
                let sandboxed = params.flag("sandboxed");
                execute(&state, session_id, command, sandboxed).await?
            }
            "auto-complete-script" => {
                let locals = session_id
                    .as_deref()
                    .and_then(|id| {
                        let l = state.console.checkout(id)?;
                        let names: Vec<String> = l.iter().map(|(k, _)| k.to_string()).collect();
                        state.console.checkin(id, l);
                        Some(names)
                    })
                    .unwrap_or_default();
                Outcome::ok("Auto-completed successfully.")
                    .with("suggestions", complete(&command, &locals))
            }
            other => {
                return Err(ApiError::bad_request(format!(
                    "Invalid method specified: {other}"
                )))
            }
        };
        Ok(reply::results(vec![result], p.pretty))
    })
    .await
}

async fn execute(
    state: &Arc<State>,
    session_id: Option<String>,
    command: String,
    sandboxed: bool,
) -> Result<Outcome, ApiError> {
    let mut locals = match &session_id {
        Some(id) => state.console.checkout(id).ok_or_else(|| {
            ApiError::new(
                StatusCode::CONFLICT,
                "Session is currently in use by another request.",
            )
        })?,
        None => Vec::new(),
    };
    // A request that goes away mid-script leaves its session usable (without the
    // variables, which went with the script).
    let mut held = Held {
        sessions: &state.console,
        id: session_id.as_deref(),
    };
    let scope = ScriptScope {
        registry: state.engine.registry(),
        library: state.engine.library(),
    };
    // Scripts may loop for a while: on the evaluator's pool, under the console budget,
    // stopped when the client goes away or the server stops.
    let ran = state
        .engine
        .evaluator
        .run(
            filters::Budget::within(state.guards.console_budget),
            move |budget| {
                let outcome = match Program::compile(&command) {
                    Ok(program) => program
                        .execute_in_within(&scope, &mut locals, sandboxed, budget)
                        .map_err(|e| (e, command.clone())),
                    Err(e) => Err((e, command.clone())),
                };
                (outcome, locals)
            },
        )
        .await;
    let (outcome, locals) =
        ran.map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string()))?;
    if let Some(id) = held.id.take() {
        state.console.checkin(id, locals);
    }
    Ok(match outcome {
        Ok(v) => Outcome::ok("Executed successfully.").with("result", v.to_serde()),
        Err((e, source)) => {
            let (first_line, first_column) = e.span.line_col(&source);
            let end = filters::Span {
                start: e.span.end.saturating_sub(1).max(e.span.start),
                end: e.span.end,
            };
            let (last_line, last_column) = end.line_col(&source);
            let incomplete =
                e.kind == filters::ErrorKind::Syntax && e.message.contains("end of file");
            Outcome::new(500, e.to_string())
                .with("incomplete_expression", incomplete)
                .with(
                    "debug_info",
                    json!({
                        "path": "<console>",
                        "first_line": first_line,
                        "first_column": first_column,
                        "last_line": last_line,
                        "last_column": last_column,
                    }),
                )
        }
    })
}

/// A checked-out session: checked in empty if the request ends before the script does.
struct Held<'a> {
    sessions: &'a Sessions,
    id: Option<&'a str>,
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        if let Some(id) = self.id.take() {
            self.sessions.checkin(id, Vec::new());
        }
    }
}

/// What console scripts see: the configuration's constants and its objects.
struct ScriptScope {
    registry: Arc<crate::objects::Registry>,
    library: Arc<filters::config::Library>,
}

impl filters::Scope for ScriptScope {
    fn variable(&self, name: &str) -> Option<Value> {
        self.library.constants().get(name).cloned()
    }
    fn variable_ref(&self, name: &str) -> Option<&Value> {
        self.library.constants().get(name)
    }
    fn get_object(&self, type_name: &str, name: &str) -> Option<Value> {
        self.registry.get_object(type_name, name)
    }
    fn get_objects(&self, type_name: &str) -> Vec<Value> {
        self.registry.get_objects(type_name)
    }
}

/// Names that start with the last word of `command`: keywords, globals, session locals.
fn complete(command: &str, locals: &[String]) -> Vec<String> {
    let start = command
        .rfind(|c: char| !(c.is_alphanumeric() || c == '_'))
        .map_or(0, |i| i + 1);
    let (head, word) = command.split_at(start);
    let mut names: Vec<String> = filters::globals_names()
        .into_iter()
        .chain(locals.iter().cloned())
        .filter(|n| n.starts_with(word))
        .map(|n| format!("{head}{n}"))
        .collect();
    names.sort();
    names.dedup();
    names
}
