//! Comments: user comments (`add-comment`) and acknowledgement comments, as `Comment`
//! objects named `host[!service]!<uuid>` in the `_api` package; `CommentAdded` and
//! `CommentRemoved` carry the whole object.

use std::sync::Arc;

use filters::{Dict, Value};

use super::batch::{owner, Batch};
use super::timers::Deadline;
use crate::bus::EventKind;
use crate::objects::{runtime_object, types, Object};

/// `entry_type` of user comments and acknowledgement comments.
pub const USER: f64 = 1.0;
pub const ACKNOWLEDGEMENT: f64 = 4.0;

/// A new comment.
pub struct NewComment {
    pub author: String,
    pub text: String,
    pub entry_type: f64,
    /// 0: never expires.
    pub expire_time: f64,
    pub persistent: bool,
}

/// A new unique short name for a comment or downtime.
pub fn unique_name(checkable: &Object) -> String {
    format!("{}!{}", checkable.name, uuid::Uuid::new_v4())
}

/// The attributes every comment and downtime starts with: names and owner.
pub fn base_attrs(b: &mut Batch, type_name: &str, checkable: &Object, full: &str) -> Dict {
    let (host, service) = owner(checkable);
    let legacy_id = b.legacy_ids.take(type_name);
    let mut d = Dict::new();
    let short = full.rsplit('!').next().unwrap_or(full);
    d.insert("name".into(), Value::from(short));
    d.insert("host_name".into(), Value::from(host));
    d.insert(
        "service_name".into(),
        Value::from(service.unwrap_or_default()),
    );
    d.insert("legacy_id".into(), Value::Number(legacy_id as f64));
    d.insert("entry_time".into(), Value::Number(b.now));
    d
}

/// Adds a comment to a host or service; returns it.
pub fn add(b: &mut Batch, checkable: &Object, c: NewComment) -> Option<Arc<Object>> {
    let ti = types::by_name("Comment")?;
    let name = unique_name(checkable);
    let mut attrs = base_attrs(b, "Comment", checkable, &name);
    attrs.insert("author".into(), Value::from(c.author));
    attrs.insert("text".into(), Value::from(c.text));
    attrs.insert("entry_type".into(), Value::Number(c.entry_type));
    attrs.insert("expire_time".into(), Value::Number(c.expire_time));
    attrs.insert("persistent".into(), Value::Bool(c.persistent));
    let comment = b.put(runtime_object(ti, &name, attrs));
    if c.expire_time > 0.0 {
        b.timers
            .push((c.expire_time, Deadline::CommentExpiry(comment.name.clone())));
    }
    event(b, EventKind::CommentAdded, &comment);
    Some(comment)
}

/// Removes a comment, recording who removed it.
pub fn remove(b: &mut Batch, comment: &Object, removed_by: &str) {
    let mut attrs = comment.attrs.to_dict();
    attrs.insert("removed_by".into(), Value::from(removed_by));
    let gone = comment.with_attrs(attrs, Dict::new(), comment.version);
    b.remove(comment);
    event(b, EventKind::CommentRemoved, &gone);
}

/// `CommentAdded` / `CommentRemoved`.
fn event(b: &mut Batch, kind: EventKind, comment: &Object) {
    b.object_event(kind, "comment", comment);
}

/// A comment's expiry: removes it if it is still there and due.
pub fn expire(b: &mut Batch, name: &str) {
    let Some(c) = b.get("Comment", name) else {
        return;
    };
    let at = c.attr("expire_time").and_then(|v| v.to_number().ok());
    if at.is_some_and(|t| t > 0.0 && t <= b.now) {
        remove(b, &c, "");
    }
}
