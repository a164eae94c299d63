//! Event handlers: a host's or service's `event_command` runs after every SOFT result,
//! every state change and every hard change (Icinga's rule), when the object's
//! `enable_event_handler` and the global `enable_event_handlers` allow it. The command
//! runs after the batch is committed, with `$service.state$`, `$service.state_type$`,
//! `$service.check_attempt$` and the other runtime macros.

use std::sync::Arc;

use filters::Dict;

use super::batch::Batch;
use super::notify::{runtime_macros, Job};
use super::state::{Transition, SOFT};
use crate::checker::command::{self, Macros};
use crate::objects::Object;

fn switch(o: &Object, name: &str) -> bool {
    o.attr(name).is_none_or(|v| v.to_bool())
}

/// Queues the event handler of `o` if this result calls for it.
pub fn after_result(b: &mut Batch, o: &Arc<Object>, t: &Transition) {
    let command_name = o.string("event_command");
    if command_name.is_empty() || !switch(o, "enable_event_handler") {
        return;
    }
    let global = b
        .base()
        .objects("IcingaApplication")
        .next()
        .is_none_or(|app| switch(app, "enable_event_handlers"));
    let Some(st) = b.peek_state(o) else {
        return;
    };
    if !global || !(t.state_change || t.hard_change || st.state_type == SOFT) {
        return;
    }
    let Some(command) = b.base().get("EventCommand", &command_name).cloned() else {
        tracing::warn!(object = %o.name, command = %command_name, "Event command does not exist.");
        return;
    };
    let is_host = o.type_info.name == "Host";
    let host = if is_host {
        Some(o.clone())
    } else {
        b.base().get("Host", &o.string("host_name")).cloned()
    };
    let Some(host) = host else {
        return;
    };
    let service = (!is_host).then_some(o);
    let service_short = service.map(|s| s.string("name"));
    let mut extra = Dict::new();
    extra.insert(
        if is_host { "host" } else { "service" }.into(),
        runtime_macros(is_host, &st),
    );
    let macros = Macros {
        service: service.map(|s| &s.attrs),
        host: &host.attrs,
        command: &command.attrs,
        host_name: &host.name,
        service_name: service_short.as_deref(),
        extra: Some(&extra),
    };
    let timeout = command
        .attr("timeout")
        .and_then(|v| v.to_number().ok())
        .unwrap_or(60.0);
    match command::build(&command.attrs, &macros) {
        Ok(program) => b.jobs.push(Job {
            label: format!("event handler '{command_name}' of '{}'", o.name),
            program,
            timeout,
        }),
        Err(e) => {
            tracing::warn!(object = %o.name, command = %command_name, error = %e, "Event command cannot be built.")
        }
    }
}
