//! `execute-command`: runs a host's or service's CheckCommand, EventCommand or
//! NotificationCommand now, on this node, and answers 202 at once with the execution id;
//! the object's `executions[id]` shows `pending` until the outcome (`exit`, `output`,
//! `start`, `end`) is recorded.

use std::sync::Arc;
use std::time::Duration;

use filters::{Dict, Value};
use serde_json::{json, Value as Json};

use super::{outcome, targets, Action};
use crate::auth::ApiUser;
use crate::checker::command::{self, Program};
use crate::checker::Subject;
use crate::engine::Engine;
use crate::error::Error;
use crate::objects::Object;
use crate::outcome::Outcome;
use crate::params::Params;
use crate::processor::Change;

/// What to run, checked once for all targets.
struct Request {
    ttl: f64,
    command_type: &'static str,
    command: Option<String>,
    /// A NotificationCommand's recipient and notification (macro strings).
    user: Option<String>,
    notification: Option<String>,
    macros: Dict,
}

fn request(engine: &Engine, params: &Params) -> Result<Result<Request, Outcome>, Error> {
    let Some(ttl) = params.number("ttl")? else {
        return Ok(Err(Outcome::new(400, "Parameter ttl is required.")));
    };
    if ttl <= 0.0 {
        return Ok(Err(Outcome::new(
            400,
            "Parameter ttl must be greater than 0.",
        )));
    }
    let command_type = match params.string("command_type").as_deref() {
        None | Some("EventCommand") => "EventCommand",
        Some("CheckCommand") => "CheckCommand",
        Some("NotificationCommand") => "NotificationCommand",
        Some(other) => {
            return Ok(Err(Outcome::new(
                400,
                format!("Invalid command_type '{other}'."),
            )))
        }
    };
    if let Some(e) = params
        .string("endpoint")
        .filter(|e| !e.is_empty() && *e != engine.node_name)
    {
        return Ok(Err(Outcome::new(
            404,
            format!(
                "Endpoint '{e}' is not this node; commands run on '{}' only.",
                engine.node_name
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
        user: params.string("user"),
        notification: params.string("notification"),
        macros,
    }))
}

pub async fn run(
    engine: &Engine,
    user: &Arc<ApiUser>,
    params: &Params,
) -> Result<Vec<Outcome>, Error> {
    let objects = targets(
        engine,
        user,
        Action::ExecuteCommand,
        &["Host", "Service"],
        params,
    )
    .await?;
    let request = request(engine, params)?;
    let mut items = Vec::with_capacity(objects.len());
    for o in &objects {
        items.push(match &request {
            Ok(r) => start(engine, user, o, r).await,
            Err(refused) => refused.clone(),
        });
    }
    Ok(items)
}

/// Records the execution as pending (durably), then runs it in the background. The
/// command, and a NotificationCommand's `user` and `notification`, are named by macro
/// strings resolved for the object, and must be visible to the requesting user.
async fn start(engine: &Engine, user: &ApiUser, o: &Arc<Object>, r: &Request) -> Outcome {
    let reg = engine.registry();
    let Some(subject) = Subject::of(&reg, o, engine.clock.now()) else {
        return Outcome::new(404, format!("The host of '{}' does not exist.", o.name));
    };
    let resolve = |text: &str| subject.resolve_text(text, Some(&r.macros));
    let find = |type_name: &str, name: &str| {
        crate::objects::query::visible_object(&user.permissions, &reg, type_name, name)
    };
    let name = match (&r.command, r.command_type) {
        (Some(c), _) => resolve(c),
        (None, "CheckCommand") => o.string("check_command"),
        (None, "EventCommand") => o.string("event_command"),
        (None, _) => resolve("$notification_command$"),
    };
    let Some(command) = find(r.command_type, &name) else {
        return Outcome::new(
            404,
            format!("Can't find a valid {} for '{name}'.", r.command_type),
        );
    };
    let mut extra = r.macros.clone();
    if r.command_type == "NotificationCommand" {
        let recipient = resolve(r.user.as_deref().unwrap_or_default());
        let Some(recipient) = find("User", &recipient) else {
            return Outcome::new(404, format!("Can't find a valid user for '{recipient}'."));
        };
        let notification = resolve(r.notification.as_deref().unwrap_or_default());
        let Some(notification) = find("Notification", &notification) else {
            return Outcome::new(
                404,
                format!("Can't find a valid notification for '{notification}'."),
            );
        };
        // The request's macros first, then the recipient's (Icinga's override resolver).
        let kind = crate::processor::notify::Kind::Custom.name();
        let recipient_macros = crate::processor::notify::recipient_macros(
            &notification,
            &recipient,
            kind,
            &user.name,
            "",
        );
        for (k, v) in &recipient_macros {
            extra.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    let macros = subject.macros(&command, Some(&extra));
    let program = match command::build(&command.attrs, &macros) {
        Ok(p) => p,
        Err(e) => return Outcome::new(400, format!("Command '{name}' cannot run: {e}")),
    };
    let id = uuid::Uuid::new_v4().to_string();
    let deadline = engine.clock.now() + r.ttl;
    let pending = json!({ "pending": true, "deadline": deadline, "endpoint": engine.node_name });
    let recorded = engine
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
    let (processor, clock) = (engine.processor.clone(), engine.clock.clone());
    let (object, ttl, execution) = (o.clone(), r.ttl, id.clone());
    tokio::spawn(async move {
        let record = match program {
            Program::Exec { argv, env } => {
                let o =
                    crate::checker::process::run(&argv, &env, Duration::from_secs_f64(ttl), &clock)
                        .await;
                json!({ "pending": false, "exit": o.exit_code, "output": o.output, "start": o.started, "end": o.ended })
            }
            Program::Builtin(b) => {
                let t = clock.now();
                json!({ "pending": false, "exit": 3, "output": format!("Built-in '{b}' cannot be executed on demand."), "start": t, "end": t })
            }
        };
        let _ = processor
            .apply(object, Change::Execution { id, record })
            .await;
    });
    Outcome::new(202, "Accepted")
        .with("checkable", o.name.to_string())
        .with("execution", execution)
}
