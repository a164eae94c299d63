//! One batch of processor commands and everything they change: checkable states,
//! comment and downtime objects, store operations, events, timers and notification jobs.
//! A batch is committed as one transaction, then made visible at once.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use filters::Str;

use super::notify::Job;
use super::timers::Deadline;
use crate::bus::{EventKind, Pending};
use crate::objects::{Object, Registry};
use crate::state::CheckableState;
use crate::store::{self, Op};

/// The changes of one batch, not yet committed.
pub struct Batch {
    pub now: f64,
    base: Arc<Registry>,
    /// Objects written (`Some`) or removed (`None`) by this batch, by type, then name
    /// (ordered: a host's or service's comments and downtimes are a range).
    objects: HashMap<&'static str, BTreeMap<Str, Option<Arc<Object>>>>,
    /// States by runtime cell; `true` when the scheduler must learn the next check.
    states: HashMap<usize, (Arc<Object>, CheckableState, bool)>,
    pub ops: Vec<Op>,
    pub events: Vec<Pending>,
    pub timers: Vec<(f64, Deadline)>,
    pub jobs: Vec<Job>,
    /// The zone objects show when they name none.
    pub zone: Str,
    /// The next `legacy_id` of comments and of downtimes.
    pub legacy_ids: LegacyIds,
    /// The check results this batch processed, for the check counters.
    pub checked: Vec<super::counters::Checked>,
}

/// Comments and downtimes are numbered separately, as in Icinga: each counter starts
/// after the highest number its objects hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LegacyIds {
    comment: u64,
    downtime: u64,
}

impl LegacyIds {
    /// The counters after the comments and downtimes of `reg`.
    pub fn after(reg: &Registry) -> LegacyIds {
        let next = |type_name| {
            reg.objects(type_name)
                .filter_map(|o| o.attr("legacy_id").and_then(|v| v.to_number().ok()))
                .fold(0.0_f64, f64::max) as u64
                + 1
        };
        LegacyIds {
            comment: next("Comment"),
            downtime: next("Downtime"),
        }
    }

    /// Takes the next number for a comment (`Comment`) or a downtime (any other type).
    pub fn take(&mut self, type_name: &str) -> u64 {
        let counter = match type_name {
            "Comment" => &mut self.comment,
            _ => &mut self.downtime,
        };
        *counter += 1;
        *counter - 1
    }
}

/// What a batch leaves to commit and publish.
pub struct Finished {
    pub ops: Vec<Op>,
    pub events: Vec<Pending>,
    pub timers: Vec<(f64, Deadline)>,
    pub jobs: Vec<Job>,
    pub states: Vec<(Arc<Object>, CheckableState, bool)>,
    /// The new object snapshot, when objects changed.
    pub registry: Option<Registry>,
    pub legacy_ids: LegacyIds,
}

impl Batch {
    pub fn new(base: Arc<Registry>, zone: Str, now: f64, legacy_ids: LegacyIds) -> Batch {
        Batch {
            now,
            base,
            objects: HashMap::new(),
            states: HashMap::new(),
            ops: Vec::new(),
            events: Vec::new(),
            timers: Vec::new(),
            jobs: Vec::new(),
            zone,
            legacy_ids,
            checked: Vec::new(),
        }
    }

    /// The snapshot the batch started from.
    pub fn base(&self) -> &Registry {
        &self.base
    }

    /// An object as this batch sees it.
    pub fn get(&self, type_name: &str, name: &str) -> Option<Arc<Object>> {
        match self.objects.get(type_name).and_then(|t| t.get(name)) {
            Some(o) => o.clone(),
            None => self.base.get(type_name, name).cloned(),
        }
    }

    /// The state of a host or service for changing; `None` for other objects.
    pub fn state(&mut self, o: &Arc<Object>) -> Option<&mut CheckableState> {
        let cell = o.runtime.as_ref()?;
        let key = Arc::as_ptr(cell) as usize;
        let entry = self
            .states
            .entry(key)
            .or_insert_with(|| (o.clone(), (*cell.get()).clone(), false));
        Some(&mut entry.1)
    }

    /// Replaces the state of a host or service.
    pub fn set_state(&mut self, o: &Arc<Object>, st: CheckableState) {
        let Some(cell) = o.runtime.as_ref() else {
            return;
        };
        match self.states.entry(Arc::as_ptr(cell) as usize) {
            std::collections::hash_map::Entry::Occupied(mut e) => e.get_mut().1 = st,
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert((o.clone(), st, false));
            }
        }
    }

    /// The state of a host or service as this batch sees it, without marking it changed.
    pub fn peek_state(&self, o: &Object) -> Option<Arc<CheckableState>> {
        let cell = o.runtime.as_ref()?;
        match self.states.get(&(Arc::as_ptr(cell) as usize)) {
            Some((_, st, _)) => Some(Arc::new(st.clone())),
            None => Some(cell.get()),
        }
    }

    /// Whether `o` is reachable for `purpose` on the states as this batch sees them.
    pub fn reachable(&self, o: &Object, purpose: super::reachability::Purpose) -> bool {
        let state_of = |x: &Object| self.standing(x);
        super::reachability::reachable(self.base(), o, purpose, self.now, &state_of)
    }

    /// What reachability reads of a state, without copying the state.
    fn standing(&self, o: &Object) -> Option<super::reachability::Standing> {
        let cell = o.runtime.as_ref()?;
        match self.states.get(&(Arc::as_ptr(cell) as usize)) {
            Some((_, st, _)) => Some(st.into()),
            None => Some((&*cell.get()).into()),
        }
    }

    /// Marks a state's next check as one the scheduler must learn.
    pub fn reschedule(&mut self, o: &Arc<Object>) {
        if let Some(cell) = o.runtime.as_ref() {
            if let Some(entry) = self.states.get_mut(&(Arc::as_ptr(cell) as usize)) {
                entry.2 = true;
            }
        }
    }

    /// Writes an object created or changed at runtime (comments, downtimes) and returns
    /// it shared.
    pub fn put(&mut self, object: Object) -> Arc<Object> {
        let record = Record {
            templates: [],
            attrs: &object.attrs,
        };
        self.ops.push(Op::PutObjectBytes {
            key: store::key(object.type_info.name, &object.name),
            value: serde_json::to_vec(&record).unwrap_or_default(),
        });
        let object = Arc::new(object);
        self.objects
            .entry(object.type_info.name)
            .or_default()
            .insert(object.name.clone(), Some(object.clone()));
        object
    }

    /// Removes an object.
    pub fn remove(&mut self, object: &Object) {
        self.ops.push(Op::DeleteObject {
            key: store::key(object.type_info.name, &object.name),
        });
        self.objects
            .entry(object.type_info.name)
            .or_default()
            .insert(object.name.clone(), None);
    }

    /// The objects of `type_name` (Comment, Downtime, Notification) that belong to a host
    /// or service, as this batch sees them.
    pub fn attached(&self, type_name: &'static str, checkable: &Object) -> Vec<Arc<Object>> {
        let overlay = self.objects.get(type_name);
        // The common case on the result path: none of this type anywhere.
        if self.base.count(type_name) == 0 && overlay.is_none() {
            return Vec::new();
        }
        let prefix = format!("{}!", checkable.name);
        let (host, service) = owner(checkable);
        let belongs = |o: &Object| {
            o.string("host_name") == host
                && o.string("service_name") == service.as_deref().unwrap_or("")
        };
        let mut found: Vec<Arc<Object>> = self
            .base
            .with_prefix(type_name, &prefix)
            .iter()
            .filter(|o| overlay.is_none_or(|t| !t.contains_key(&o.name)))
            .filter(|o| belongs(o))
            .cloned()
            .collect();
        if let Some(t) = overlay {
            found.extend(
                t.range::<str, _>((
                    std::ops::Bound::Included(prefix.as_str()),
                    std::ops::Bound::Unbounded,
                ))
                .take_while(|(n, _)| n.starts_with(&prefix))
                .filter_map(|(_, o)| o.clone())
                .filter(|o| belongs(o)),
            );
        }
        found.sort_by(|a, b| a.name.cmp(&b.name));
        found
    }

    /// Adds an event to the batch's commit.
    pub fn event(&mut self, kind: EventKind, body: &impl serde::Serialize) {
        if let Ok(b) = serde_json::to_vec(body) {
            self.events.push((kind, bytes::Bytes::from(b)));
        }
    }

    /// Adds an event carrying a whole object (`CommentAdded`: `comment`, `Downtime*`:
    /// `downtime`), serialised straight from the object.
    pub fn object_event(&mut self, kind: EventKind, key: &'static str, object: &Object) {
        let view = self.object_json(object);
        self.object_event_from(kind, key, &view);
    }

    /// An object serialised as events carry it, for [`Batch::object_event_from`] (several
    /// events of one unchanged object share it).
    pub fn object_json(&self, object: &Object) -> Vec<u8> {
        let view = crate::objects::query::AttrsView {
            object,
            zone: &self.zone,
        };
        serde_json::to_vec(&view).unwrap_or_default()
    }

    /// `{"<key>": <object>, "timestamp": …, "type": "<kind>"}` around an object already
    /// serialised by [`Batch::object_json`].
    pub fn object_event_from(&mut self, kind: EventKind, key: &'static str, object: &[u8]) {
        let mut out = Vec::with_capacity(object.len() + 64);
        out.extend_from_slice(b"{\"");
        out.extend_from_slice(key.as_bytes());
        out.extend_from_slice(b"\":");
        out.extend_from_slice(object);
        out.extend_from_slice(b",\"timestamp\":");
        if serde_json::to_writer(&mut out, &self.now).is_err() {
            return;
        }
        out.extend_from_slice(b",\"type\":\"");
        out.extend_from_slice(kind.name().as_bytes());
        out.extend_from_slice(b"\"}");
        self.events.push((kind, bytes::Bytes::from(out)));
    }
}

/// A stored object record, serialised from the attributes as they are.
#[derive(serde::Serialize)]
struct Record<'a> {
    templates: [&'a str; 0],
    attrs: &'a crate::objects::Attrs,
}

impl Batch {
    pub fn finish(self) -> Finished {
        let registry = (!self.objects.is_empty()).then(|| {
            let mut next = (*self.base).clone();
            let mut removed: HashMap<&'static str, HashSet<Str>> = HashMap::new();
            let mut put = Vec::new();
            for (t, objects) in self.objects {
                for (name, o) in objects {
                    match o {
                        Some(o) => put.push(o),
                        None => {
                            removed.entry(t).or_default().insert(name);
                        }
                    }
                }
            }
            next.insert_many(put);
            for (t, names) in removed {
                next.remove_many(t, &names);
            }
            next
        });
        let mut ops = self.ops;
        let states: Vec<_> = self.states.into_values().collect();
        for (o, st, _) in &states {
            ops.push(Op::PutState {
                key: store::key(o.type_info.name, &o.name),
                value: st.encode(),
            });
        }
        Finished {
            ops,
            events: self.events,
            timers: self.timers,
            jobs: self.jobs,
            states,
            registry,
            legacy_ids: self.legacy_ids,
        }
    }
}

/// A checkable's host name and, for services, short service name.
pub fn owner(checkable: &Object) -> (String, Option<String>) {
    if checkable.type_info.name == "Service" {
        (
            checkable.string("host_name"),
            Some(checkable.string("name")),
        )
    } else {
        (checkable.name.to_string(), None)
    }
}
