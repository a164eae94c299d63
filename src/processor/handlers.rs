//! Event handlers: a host's or service's `event_command` runs after every SOFT result,
//! every state change, every hard change and every problem result of a volatile object
//! (Icinga's rule), when the object's `enable_event_handler` and the global
//! `enable_event_handlers` allow it. The command runs after the batch is committed, with
//! `$service.state$`, `$service.state_type$`, `$service.check_attempt$` and the other
//! runtime macros.

use std::sync::Arc;

use super::batch::Batch;
use super::notify::{subject_in, Job};
use crate::checker::command;
use crate::objects::Object;
use crate::state::{Transition, SOFT};

/// Queues the event handler of `o` if this result calls for it.
pub fn after_result(b: &mut Batch, o: &Arc<Object>, t: &Transition) {
    let command_name = o.string("event_command");
    if command_name.is_empty() || !o.flag("enable_event_handler", true) {
        return;
    }
    let global = b.base().app_switch("enable_event_handlers");
    let Some(st) = b.peek_state(o) else {
        return;
    };
    if !global || !(t.state_change || t.hard_change || t.volatile_change || st.state_type == SOFT) {
        return;
    }
    let Some(command) = b.base().get("EventCommand", &command_name).cloned() else {
        tracing::warn!(object = %o.name, command = %command_name, "Event command does not exist.");
        return;
    };
    let Some(subject) = subject_in(b, o) else {
        return;
    };
    let macros = subject.macros(&command, None);
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
            tracing::warn!(object = %o.name, command = %command_name, error = %e, "Event command cannot be built.");
        }
    }
}
