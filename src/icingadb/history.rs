//! History entries for Icinga DB's streams (`icinga:history:stream:<kind>`): state
//! changes, acknowledgements, comments, downtimes, flapping and notifications, with
//! Icinga 2's fields and deterministic ids.

use serde_json::{json, Value as Json};

use super::config::{checkable_of, millis, Context};
use super::pack::{hash, number_text};
use crate::objects::Object;

/// One stream entry: the stream's kind and its fields.
pub struct Entry {
    pub stream: &'static str,
    pub fields: Vec<(String, String)>,
}

impl Entry {
    fn new(stream: &'static str) -> Entry {
        Entry {
            stream,
            fields: Vec::with_capacity(24),
        }
    }

    fn add(&mut self, key: &str, value: impl Into<String>) -> &mut Self {
        self.fields.push((key.into(), value.into()));
        self
    }

    pub fn key(&self) -> String {
        format!("icinga:history:stream:{}", self.stream)
    }
}

/// Icinga's `CalcEventID`: the hash of `[environment, kind, name(, time in ms)]`.
fn event_id(ctx: &Context, kind: &str, name: &str, time_ms: Option<f64>) -> String {
    let mut raw = vec![json!(ctx.environment), json!(kind), json!(name)];
    if let Some(t) = time_ms {
        raw.push(json!(t));
    }
    hash(&Json::Array(raw))
}

/// `object_type`, `service_id` (for services) and the local `endpoint_id`.
fn owner(ctx: &Context, e: &mut Entry, service: Option<&str>) {
    match service {
        Some(s) => {
            e.add("object_type", "service").add("service_id", ctx.id(s));
        }
        None => {
            e.add("object_type", "host");
        }
    }
    if let Some(endpoint) = ctx.local_endpoint {
        e.add("endpoint_id", ctx.id(endpoint));
    }
}

/// What a state change entry needs from the result.
pub struct StateChange<'a> {
    pub host: &'a str,
    pub service: Option<&'a str>,
    pub state_type: u8,
    pub soft_state: u8,
    pub hard_state: u8,
    pub attempt: u32,
    pub previous_soft_state: u8,
    pub previous_hard_state: u8,
    pub max_check_attempts: f64,
    pub execution_end: f64,
    pub output: &'a str,
    pub check_source: &'a str,
    pub scheduling_source: &'a str,
}

pub fn state_change(ctx: &Context, s: &StateChange) -> Entry {
    let name = s.service.unwrap_or(s.host);
    let time = millis(s.execution_end);
    let mut e = Entry::new("state");
    e.add("id", hash(&json!([ctx.environment, name, time])))
        .add("environment_id", ctx.environment)
        .add("host_id", ctx.id(s.host))
        .add("state_type", s.state_type.to_string())
        .add("soft_state", s.soft_state.to_string())
        .add("hard_state", s.hard_state.to_string())
        .add("check_attempt", s.attempt.to_string())
        .add("previous_soft_state", s.previous_soft_state.to_string())
        .add("previous_hard_state", s.previous_hard_state.to_string())
        .add("max_check_attempts", number_text(s.max_check_attempts))
        .add("event_time", time.to_string())
        .add(
            "event_id",
            event_id(ctx, "state_change", name, Some(time as f64)),
        )
        .add("event_type", "state_change");
    let (output, long) = super::state::split_output(s.output);
    if let Some(long) = long {
        e.add("long_output", long);
    }
    e.add("output", output)
        .add("check_source", s.check_source)
        .add("scheduling_source", s.scheduling_source);
    owner(ctx, &mut e, s.service);
    e
}

/// An acknowledgement set (`set_time` its change) or cleared.
pub struct Ack<'a> {
    pub host: &'a str,
    pub service: Option<&'a str>,
    pub set: bool,
    pub author: &'a str,
    pub comment: &'a str,
    pub sticky: bool,
    pub persistent: bool,
    pub expiry: f64,
    /// When it was set (for a clear: when the cleared acknowledgement was set).
    pub set_time: f64,
    pub clear_time: f64,
    pub cleared_by: &'a str,
}

pub fn acknowledgement(ctx: &Context, a: &Ack) -> Entry {
    let name = a.service.unwrap_or(a.host);
    let mut e = Entry::new("acknowledgement");
    e.add("environment_id", ctx.environment)
        .add("host_id", ctx.id(a.host));
    let kind = if a.set { "ack_set" } else { "ack_clear" };
    if a.set {
        e.add("event_type", kind)
            .add("author", a.author)
            .add("comment", a.comment)
            .add("is_sticky", u8::from(a.sticky).to_string())
            .add("is_persistent", u8::from(a.persistent).to_string());
    } else {
        e.add("clear_time", millis(a.clear_time).to_string())
            .add("event_type", kind);
    }
    owner(ctx, &mut e, a.service);
    if a.set && a.expiry > 0.0 {
        e.add("expire_time", millis(a.expiry).to_string());
    }
    let set_time = millis(a.set_time);
    // Icinga passes the time in milliseconds where seconds are expected: the event id
    // hashes it multiplied once more.
    e.add("set_time", set_time.to_string())
        .add(
            "event_id",
            event_id(ctx, kind, name, Some((set_time * 1000) as f64)),
        )
        .add("id", hash(&json!([ctx.environment, name, set_time])));
    if !a.set && !a.cleared_by.is_empty() {
        e.add("cleared_by", a.cleared_by);
    }
    e
}

/// A flapping start (`flapping`) or end.
pub struct Flapping<'a> {
    pub host: &'a str,
    pub service: Option<&'a str>,
    pub flapping: bool,
    pub current: f64,
    pub low: f64,
    pub high: f64,
    pub change_time: f64,
    /// When the flapping that ends began.
    pub last_change: f64,
}

pub fn flapping(ctx: &Context, f: &Flapping) -> Entry {
    let name = f.service.unwrap_or(f.host);
    let mut e = Entry::new("flapping");
    e.add("environment_id", ctx.environment)
        .add("host_id", ctx.id(f.host))
        .add("flapping_threshold_low", number_text(f.low))
        .add("flapping_threshold_high", number_text(f.high));
    owner(ctx, &mut e, f.service);
    let start = if f.flapping {
        e.add("event_type", "flapping_start")
            .add("percent_state_change_start", number_text(f.current));
        millis(f.change_time)
    } else {
        e.add("event_type", "flapping_end")
            .add("end_time", millis(f.change_time).to_string())
            .add("percent_state_change_end", number_text(f.current));
        millis(f.last_change)
    };
    let kind = if f.flapping {
        "flapping_start"
    } else {
        "flapping_end"
    };
    e.add("start_time", start.to_string())
        .add(
            "event_id",
            event_id(ctx, kind, name, Some((start * 1000) as f64)),
        )
        .add("id", hash(&json!([ctx.environment, name, start])));
    e
}

/// A user comment added or removed (other comments have no history).
pub fn comment(ctx: &Context, c: &Object, added: bool, now: f64) -> Option<Entry> {
    if c.number("entry_type", 1.0) != 1.0 {
        return None;
    }
    let remove_time = c.number("remove_time", 0.0);
    let expire_time = c.number("expire_time", 0.0);
    let removed = remove_time > 0.0;
    let expired = expire_time > 0.0 && expire_time <= now;
    if !(added || removed || expired) {
        return None;
    }
    let (host, service) = checkable_of(c);
    let kind = if added {
        "comment_add"
    } else {
        "comment_remove"
    };
    let mut e = Entry::new("comment");
    e.add("comment_id", ctx.id(&c.name))
        .add("environment_id", ctx.environment)
        .add("host_id", ctx.id(&host))
        .add(
            "entry_time",
            millis(c.number("entry_time", 0.0)).to_string(),
        )
        .add("author", c.string("author"))
        .add("comment", c.string("text"))
        .add("entry_type", "1")
        .add(
            "is_persistent",
            u8::from(c.flag("persistent", false)).to_string(),
        )
        .add("is_sticky", u8::from(c.flag("sticky", false)).to_string())
        .add("event_id", event_id(ctx, kind, &c.name, None))
        .add("event_type", kind);
    owner(ctx, &mut e, service.as_deref());
    if !added {
        if removed {
            e.add("remove_time", millis(remove_time).to_string())
                .add("has_been_removed", "1")
                .add("removed_by", c.string("removed_by"));
        } else {
            e.add("has_been_removed", "0");
        }
    }
    if expire_time > 0.0 {
        e.add("expire_time", millis(expire_time).to_string());
    }
    Some(e)
}

/// A downtime's start or end (a downtime never triggered has no end).
pub fn downtime(ctx: &Context, d: &Object, started: bool) -> Option<Entry> {
    let trigger = d.number("trigger_time", 0.0);
    if !started && trigger == 0.0 {
        return None;
    }
    let (host, service) = checkable_of(d);
    let fixed = d.flag("fixed", true);
    let (start, end) = (d.number("start_time", 0.0), d.number("end_time", 0.0));
    let duration = d.number("duration", 0.0);
    let kind = if started {
        "downtime_start"
    } else {
        "downtime_end"
    };
    let mut e = Entry::new("downtime");
    e.add("downtime_id", ctx.id(&d.name))
        .add("environment_id", ctx.environment)
        .add("host_id", ctx.id(&host))
        .add(
            "entry_time",
            millis(d.number("entry_time", 0.0)).to_string(),
        )
        .add("author", d.string("author"));
    if !started {
        e.add("cancelled_by", d.string("removed_by"));
    }
    e.add("comment", d.string("comment"))
        .add("is_flexible", u8::from(!fixed).to_string())
        .add("flexible_duration", millis(duration).to_string())
        .add("scheduled_start_time", millis(start).to_string())
        .add("scheduled_end_time", millis(end).to_string())
        .add(
            "has_been_cancelled",
            u8::from(d.flag("was_cancelled", false)).to_string(),
        )
        .add("trigger_time", millis(trigger).to_string());
    if !started {
        e.add(
            "cancel_time",
            millis(d.number("remove_time", 0.0)).to_string(),
        );
    }
    e.add("event_id", event_id(ctx, kind, &d.name, None))
        .add("event_type", kind);
    owner(ctx, &mut e, service.as_deref());
    let by = d.string("triggered_by");
    if !by.is_empty() {
        e.add("triggered_by_id", ctx.id(&by));
    }
    let (from, until) = if fixed {
        (start, end)
    } else {
        (trigger, trigger + duration)
    };
    e.add("start_time", millis(from).to_string())
        .add("end_time", millis(until).to_string());
    let parent = d.string("parent");
    if !parent.is_empty() {
        e.add("parent_id", ctx.id(&parent));
    }
    let scheduled_by = d.string("scheduled_by");
    if !scheduled_by.is_empty() {
        e.add("scheduled_by", scheduled_by);
    }
    Some(e)
}

/// A notification sent to its users.
pub struct Notification<'a> {
    pub notification: &'a str,
    pub host: &'a str,
    pub service: Option<&'a str>,
    /// The type as the event names it (`PROBLEM`, `DOWNTIMECANCELLED`, …).
    pub kind: &'a str,
    pub state: u8,
    pub previous_hard_state: u8,
    pub author: &'a str,
    pub text: &'a str,
    pub users: &'a [String],
    pub send_time: f64,
}

/// Icinga's number and Icinga DB's name of a notification type.
fn notification_type(kind: &str) -> Option<(u32, &'static str)> {
    Some(match kind {
        "DOWNTIMESTART" => (1, "downtime_start"),
        "DOWNTIMEEND" => (2, "downtime_end"),
        "DOWNTIMECANCELLED" => (4, "downtime_removed"),
        "CUSTOM" => (8, "custom"),
        "ACKNOWLEDGEMENT" => (16, "acknowledgement"),
        "PROBLEM" => (32, "problem"),
        "RECOVERY" => (64, "recovery"),
        "FLAPPINGSTART" => (128, "flapping_start"),
        "FLAPPINGEND" => (256, "flapping_end"),
        _ => return None,
    })
}

pub fn notification(ctx: &Context, n: &Notification) -> Option<Entry> {
    let (number, name) = notification_type(n.kind)?;
    let send = millis(n.send_time);
    let mut e = Entry::new("notification");
    e.add(
        "id",
        hash(&json!([ctx.environment, n.notification, name, send])),
    )
    .add("environment_id", ctx.environment)
    .add("notification_id", ctx.id(n.notification))
    .add("host_id", ctx.id(n.host))
    .add("type", number.to_string())
    .add("state", n.state.to_string())
    .add("previous_hard_state", n.previous_hard_state.to_string())
    .add("author", n.author)
    .add("text", n.text)
    .add("users_notified", n.users.len().to_string())
    .add("send_time", send.to_string())
    .add(
        "event_id",
        hash(&json!([
            ctx.environment,
            "notification",
            n.notification,
            name,
            send
        ])),
    )
    .add("event_type", "notification");
    owner(ctx, &mut e, n.service);
    if !n.users.is_empty() {
        let ids: Vec<String> = n.users.iter().map(|u| ctx.id(u)).collect();
        e.add("users_notified_ids", super::pack::encode(&json!(ids)));
    }
    Some(e)
}
