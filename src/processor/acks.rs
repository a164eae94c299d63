//! Acknowledgements (spec §10.7): set on a problem with an acknowledgement comment,
//! cleared by a state change (normal) or recovery (sticky), by `remove-acknowledgement`,
//! or at `expiry` — by a timer at that very time, not lazily as Icinga does (#10485).

use std::sync::Arc;

use serde_json::json;

use super::batch::{owner, Batch};
use super::comments::{self, NewComment};
use super::notify::{self, Kind};
use super::timers::Deadline;
use super::{Processed, Refused};
use crate::bus::EventKind;
use crate::objects::Object;
use crate::outcome::Outcome;
use crate::state::Acknowledgement;

/// What `acknowledge-problem` asks for.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Ack {
    pub author: String,
    pub comment: String,
    pub sticky: bool,
    pub notify: bool,
    pub persistent: bool,
    /// 0: never expires.
    pub expiry: f64,
}

fn kind_name(o: &Object) -> &'static str {
    o.type_info.name
}

/// Acknowledges the problem of a host or service.
pub fn acknowledge(b: &mut Batch, o: &Arc<Object>, ack: Ack) -> Result<Processed, Refused> {
    let now = b.now;
    let st = b.state(o).ok_or(Refused::Gone)?;
    if st.state == 0 {
        let ok = if o.type_info.name == "Host" {
            "UP"
        } else {
            "OK"
        };
        return Err(Refused::Rejected(
            409,
            format!("{} {} is {ok}.", kind_name(o), o.name),
        ));
    }
    if st.acknowledgement != Acknowledgement::None {
        return Err(Refused::Rejected(
            409,
            format!("{} {} is already acknowledged.", kind_name(o), o.name),
        ));
    }
    if ack.expiry != 0.0 && ack.expiry <= now {
        return Err(Refused::Rejected(
            409,
            format!(
                "Acknowledgement 'expiry' timestamp must be in the future for object {}",
                o.name
            ),
        ));
    }
    st.acknowledgement = if ack.sticky {
        Acknowledgement::Sticky
    } else {
        Acknowledgement::Normal
    };
    st.acknowledgement_expiry = ack.expiry;
    st.acknowledgement_last_change = now;
    let (state, state_type) = (st.state, st.state_type);
    comments::add(
        b,
        o,
        NewComment {
            author: ack.author.clone(),
            text: ack.comment.clone(),
            entry_type: comments::ACKNOWLEDGEMENT,
            expire_time: ack.expiry,
            persistent: ack.persistent,
        },
    )
    .ok_or(Refused::Gone)?;
    if ack.expiry > 0.0 {
        b.timers.push((
            ack.expiry,
            Deadline::AckExpiry(o.type_info.name, o.name.clone()),
        ));
    }
    let mut body = head(b, EventKind::AcknowledgementSet, o);
    body["state"] = json!(state);
    body["state_type"] = json!(state_type);
    body["author"] = json!(ack.author);
    body["comment"] = json!(ack.comment);
    body["acknowledgement_type"] = json!(if ack.sticky { 2 } else { 1 });
    body["notify"] = json!(ack.notify);
    body["persistent"] = json!(ack.persistent);
    body["expiry"] = json!(ack.expiry);
    b.event(EventKind::AcknowledgementSet, &body);
    if ack.notify {
        notify::send(
            b,
            o,
            &notify::Notice::by(Kind::Acknowledgement, &ack.author, &ack.comment),
        );
    }
    Ok(Processed::outcome(Outcome::ok(format!(
        "Successfully acknowledged problem for object '{}'.",
        o.name
    ))))
}

/// `type`, `timestamp`, `host`, `service` of a checkable's event.
pub fn head(b: &Batch, kind: EventKind, o: &Object) -> serde_json::Value {
    let (host, service) = owner(o);
    let mut body = json!({ "type": kind.name(), "timestamp": b.now, "host": host });
    if let Some(s) = service {
        body["service"] = json!(s);
    }
    body
}

/// Clears an acknowledgement (if one is set): `AcknowledgementCleared`, and the
/// acknowledgement comments go unless they are persistent.
pub fn clear(b: &mut Batch, o: &Arc<Object>, removed_by: &str) {
    let now = b.now;
    let Some(st) = b.state(o) else {
        return;
    };
    if st.acknowledgement == Acknowledgement::None {
        return;
    }
    st.acknowledgement = Acknowledgement::None;
    st.acknowledgement_expiry = 0.0;
    st.acknowledgement_last_change = now;
    let (state, state_type) = (st.state, st.state_type);
    let mut body = head(b, EventKind::AcknowledgementCleared, o);
    body["state"] = json!(state);
    body["state_type"] = json!(state_type);
    body["acknowledgement_type"] = json!(0);
    b.event(EventKind::AcknowledgementCleared, &body);
    remove_comments(b, o, removed_by);
}

/// Removes the non-persistent acknowledgement comments of an object whose
/// acknowledgement ended.
pub fn remove_comments(b: &mut Batch, o: &Object, removed_by: &str) {
    for c in b.attached("Comment", o) {
        let is_ack = c
            .attr("entry_type")
            .and_then(|v| v.to_number().ok())
            .is_some_and(|t| t == comments::ACKNOWLEDGEMENT);
        let persistent = c.attr("persistent").is_some_and(|v| v.to_bool());
        if is_ack && !persistent {
            comments::remove(b, &c, removed_by);
        }
    }
}

/// An acknowledgement's expiry: clears it if it is still the one that expires now.
pub fn expire(b: &mut Batch, type_name: &str, name: &str) {
    let Some(o) = b.get(type_name, name) else {
        return;
    };
    let Some(st) = b.peek_state(&o) else {
        return;
    };
    if st.acknowledgement != Acknowledgement::None
        && st.acknowledgement_expiry > 0.0
        && st.acknowledgement_expiry <= b.now
    {
        clear(b, &o, "");
    }
}
