//! `execute-command`: runs a host's or service's CheckCommand, EventCommand or
//! NotificationCommand now, on this node, and answers 202 at once with the execution id;
//! the object's `executions[id]` shows `pending` until the outcome (`exit`, `output`,
//! `start`, `end`) is recorded.

use std::sync::Arc;
use std::time::Duration;

use filters::{Dict, Value};
use serde_json::{json, Value as Json};

use super::{item, outcome, targets};
use crate::api::error::ApiError;
use crate::api::params::Params;
use crate::app::{now, State};
use crate::auth::ApiUser;
use crate::checker::command::{self, Program};
use crate::checker::Subject;
use crate::objects::Object;
use crate::processor::Change;

/// What to run, checked once for all targets.
struct Request {
    ttl: f64,
    command_type: &'static str,
    command: Option<String>,
    macros: Dict,
}

fn request(state: &State, params: &Params) -> Result<Result<Request, Json>, ApiError> {
    let Some(ttl) = params.number("ttl")? else {
        return Ok(Err(item(400, "Parameter ttl is required.")));
    };
    if ttl <= 0.0 {
        return Ok(Err(item(400, "Parameter ttl must be greater than 0.")));
    }
    let command_type = match params.string("command_type").as_deref() {
        None | Some("EventCommand") => "EventCommand",
        Some("CheckCommand") => "CheckCommand",
        Some("NotificationCommand") => "NotificationCommand",
        Some(other) => return Ok(Err(item(400, format!("Invalid command_type '{other}'.")))),
    };
    if let Some(e) = params
        .string("endpoint")
        .filter(|e| !e.is_empty() && *e != state.node_name)
    {
        return Ok(Err(item(
            404,
            format!(
                "Endpoint '{e}' is not this node; commands run on '{}' only.",
                state.node_name
            ),
        )));
    }
    let macros = match params.dict("macros")? {
        Some(m) => match Value::from_json(&Json::Object(m)) {
            Value::Dict(d) => (*d).clone(),
            _ => Dict::new(),
        },
        None => Dict::new(),
    };
    Ok(Ok(Request {
        ttl,
        command_type,
        command: params.string("command").filter(|c| !c.is_empty()),
        macros,
    }))
}

pub async fn run(
    state: &State,
    user: &Arc<ApiUser>,
    params: &Params,
) -> Result<Vec<Json>, ApiError> {
    let objects = targets(state, user, "execute-command", &["Host", "Service"], params).await?;
    let request = request(state, params)?;
    let mut items = Vec::with_capacity(objects.len());
    for o in &objects {
        items.push(match &request {
            Ok(r) => start(state, o, r).await,
            Err(refused) => refused.clone(),
        });
    }
    Ok(items)
}

/// Records the execution as pending (durably), then runs it in the background.
async fn start(state: &State, o: &Arc<Object>, r: &Request) -> Json {
    let reg = state.registry();
    let default_field = match r.command_type {
        "CheckCommand" => "check_command",
        "EventCommand" => "event_command",
        _ => "",
    };
    let name = r.command.clone().unwrap_or_else(|| o.string(default_field));
    let Some(command) = reg.get(r.command_type, &name).cloned() else {
        return item(404, format!("Can't find {} '{name}'.", r.command_type));
    };
    let Some(subject) = Subject::of(&reg, o) else {
        return item(404, format!("The host of '{}' does not exist.", o.name));
    };
    let macros = subject.macros(&command, Some(&r.macros));
    let program = match command::build(&command.attrs, &macros) {
        Ok(p) => p,
        Err(e) => return item(400, format!("Command '{name}' cannot run: {e}")),
    };
    let id = uuid::Uuid::new_v4().to_string();
    let deadline = now() + r.ttl;
    let pending = json!({ "pending": true, "deadline": deadline, "endpoint": state.node_name });
    let recorded = state
        .processor
        .apply(
            o.clone(),
            Change::Execution {
                id: id.clone(),
                record: pending,
            },
        )
        .await;
    if recorded.is_err() {
        return outcome(recorded);
    }
    let processor = state.processor.clone();
    let (object, ttl, execution) = (o.clone(), r.ttl, id.clone());
    tokio::spawn(async move {
        let record = match program {
            Program::Exec { argv, env } => {
                let o =
                    crate::checker::process::run(&argv, &env, Duration::from_secs_f64(ttl)).await;
                json!({ "pending": false, "exit": o.exit_code, "output": o.output, "start": o.started, "end": o.ended })
            }
            Program::Builtin(b) => {
                let t = now();
                json!({ "pending": false, "exit": 3, "output": format!("Built-in '{b}' cannot be executed on demand."), "start": t, "end": t })
            }
        };
        let _ = processor
            .apply(object, Change::Execution { id, record })
            .await;
    });
    json!({
        "code": 202,
        "status": "Accepted",
        "checkable": o.name.to_string(),
        "execution": execution,
    })
}
