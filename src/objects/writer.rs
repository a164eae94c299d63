//! Runtime changes to objects: create (PUT), modify (POST), delete (DELETE), and the
//! restore of those changes at startup.
//!
//! One change at a time: the writer takes the lock, copies the registry (cheap, the maps
//! are persistent), applies the change to the copy, commits it to the store and only then
//! publishes the copy and answers. Readers keep reading the previous snapshot meanwhile.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};

use filters::config::{Library, Location};
use filters::{Dict, Str, Value};
use serde_json::{json, Map, Value as Json};

use super::types::TypeInfo;
use super::{Object, Published, Registry};
use crate::bus::{EventKind, Pending};
use crate::clock::Clock;
use crate::outcome::Outcome;
use crate::store::{self, Commit, Contents, Op, Store};

/// Called with every registry about to be published (before readers see it).
pub type PublishHook = Arc<dyn Fn(&Registry) + Send + Sync>;

/// The writer of objects: what creates, modifies and deletes objects at runtime and
/// switches the configuration on reload. It serialises those changes (the processor takes
/// the same lock for its comments and downtimes), makes each durable, then publishes it.
/// Clones share everything.
#[derive(Clone)]
pub struct Writer {
    /// The object snapshot readers use.
    pub objects: Published,
    /// Templates, apply rules and constants (`NodeName`, `PluginDir`, user `const`s);
    /// replaced when a config package stage is activated.
    library: Arc<RwLock<Arc<Library>>>,
    lock: Arc<tokio::sync::Mutex<()>>,
    pub store: Store,
    /// The time stamped on changes and their events.
    pub clock: Clock,
    on_publish: PublishHook,
}

impl Writer {
    pub fn new(
        objects: Published,
        library: Library,
        store: Store,
        clock: Clock,
        on_publish: PublishHook,
    ) -> Writer {
        Writer {
            objects,
            library: Arc::new(RwLock::new(Arc::new(library))),
            lock: Arc::default(),
            store,
            clock,
            on_publish,
        }
    }

    /// The current object snapshot.
    pub fn registry(&self) -> Arc<Registry> {
        self.objects.current()
    }

    /// The current templates, apply rules and constants.
    pub fn library(&self) -> Arc<Library> {
        self.library
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Replaces the templates, apply rules and constants after a reload.
    pub fn replace_library(&self, library: Library) {
        *self.library.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(library);
    }

    /// The lock every object change is made under, for another writer to share it.
    pub fn lock_handle(&self) -> Arc<tokio::sync::Mutex<()>> {
        self.lock.clone()
    }

    /// Taken by whoever changes objects; readers never take it.
    pub async fn lock(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.lock.lock().await
    }

    /// Publishes `registry` when called: the store runs it right after the commit that
    /// makes the snapshot durable, before the commit's events go out.
    pub fn installer(&self, registry: Registry) -> Box<dyn FnOnce() + Send> {
        let (objects, hook) = (self.objects.clone(), self.on_publish.clone());
        Box::new(move || {
            hook(&registry);
            objects.replace(registry);
        })
    }
}

/// Attributes the API never sets: they describe the object itself.
const INTERNAL: &[&str] = &[
    "__name",
    "name",
    "type",
    "package",
    "templates",
    "source_location",
    "active",
    "paused",
    "original_attributes",
    "version",
];

/// What a PUT asks for.
pub struct Create {
    pub type_info: &'static TypeInfo,
    pub name: String,
    pub templates: Vec<String>,
    pub attrs: Map<String, Json>,
}

/// What API-created objects are built against: the objects there are, the templates
/// and apply rules, and the time stamped on them.
#[derive(Clone, Copy)]
pub struct Against<'a> {
    pub reg: &'a Registry,
    pub library: &'a Library,
    pub now: f64,
}

/// Builds an API-created object against the configuration's library, as Icinga compiles
/// the `_api` package's generated file. Returns the object and the objects apply rules
/// create for it.
///
/// # Errors
/// Messages as Icinga puts them into `errors`.
pub fn build(
    against: Against<'_>,
    ti: &'static TypeInfo,
    full_name: &str,
    templates: &[String],
    attrs: &Map<String, Json>,
) -> Result<(Object, Vec<Object>), String> {
    if full_name.is_empty() || full_name.chars().any(char::is_control) {
        return Err("Error: Object names must not be empty or contain control characters.".into());
    }
    let mut paths = attribute_paths(ti, attrs)?;
    for (field, value) in implied_owner(ti, full_name) {
        if !attrs.contains_key(field) {
            paths.insert(0, (vec![Str::from(field)], Value::from(value)));
        }
    }
    let object = instantiate(against, ti, full_name, templates, &paths)?;
    against
        .reg
        .validate(&object)
        .map_err(|e| format!("Error: {e}"))?;
    let applied = applied_to(against, &object)?;
    Ok((object, applied))
}

/// The attributes of a request as assignments (`vars.a.b` → `["vars", "a", "b"]`),
/// each checked against the type's fields and coerced to the field's type.
fn attribute_paths(
    ti: &'static TypeInfo,
    attrs: &Map<String, Json>,
) -> Result<Vec<(Vec<Str>, Value)>, String> {
    let mut paths = Vec::with_capacity(attrs.len());
    for (key, value) in attrs {
        let path: Vec<Str> = key.split('.').map(Str::from).collect();
        let top = &*path[0];
        if INTERNAL.contains(&top) {
            return Err(format!(
                "Error: Attribute is marked for internal use only and may not be set: {key}"
            ));
        }
        let Some(field) = ti.field(top) else {
            return Err(format!("Error: Invalid attribute specified: {key}"));
        };
        let value = coerce(field.type_name, path.len() == 1, Value::from_json(value))
            .map_err(|m| format!("Error: Error while evaluating expression: {m}"))?;
        paths.push((path, value));
    }
    Ok(paths)
}

/// Services, notifications and scheduled downtimes are named `host[!service]!name`: the
/// host (and service) their name implies, used unless the request gives them.
fn implied_owner<'n>(ti: &TypeInfo, full_name: &'n str) -> Vec<(&'static str, &'n str)> {
    let parts: Vec<&str> = full_name.split('!').collect();
    match (ti.name, parts.as_slice()) {
        ("Service" | "Notification" | "ScheduledDowntime", [host, _]) => {
            vec![("host_name", host)]
        }
        ("Notification" | "ScheduledDowntime", [host, service, _]) => {
            vec![("host_name", host), ("service_name", service)]
        }
        _ => Vec::new(),
    }
}

/// The object the templates and assignments make, as the `_api` package's generated file
/// would declare it, with its runtime cell linked to its host's (or, for a notification,
/// its checkable's).
fn instantiate(
    Against { reg, library, now }: Against<'_>,
    ti: &'static TypeInfo,
    full_name: &str,
    templates: &[String],
    paths: &[(Vec<Str>, Value)],
) -> Result<Object, String> {
    let short = full_name.rsplit('!').next().unwrap_or(full_name);
    let location = Location {
        path: format!("_api/conf.d/{}/{full_name}.conf", ti.plural.to_lowercase()).into(),
        first_line: 1,
        first_column: 1,
        last_line: 1,
        last_column: 1,
    };
    let item = library
        .instantiate(ti.name, short, templates, paths, location)
        .map_err(|e| format!("Error: {}", e.error.message))?;
    if &*item.name != full_name {
        return Err(format!(
            "Error: The object name '{full_name}' does not match the composed name '{}'.",
            item.name
        ));
    }
    let mut attrs = item.attrs.clone();
    if let Some(Value::Array(groups)) = attrs.get("groups") {
        let mut unique: Vec<Value> = Vec::new();
        for g in groups.iter() {
            if !unique.iter().any(|u| u.loose_eq(g)) {
                unique.push(g.clone());
            }
        }
        attrs.insert("groups".into(), Value::from(unique));
    }
    let mut object = Object {
        type_info: ti,
        name: item.name.clone(),
        attrs: super::intern_keys(attrs),
        location: item.location.clone(),
        package: "_api".into(),
        original: Dict::new(),
        version: now,
        runtime: super::runtime_for(ti, now),
    };
    if ti.name == "Notification" {
        let owner = super::checkable_name(&object.attrs);
        object.runtime = ["Host", "Service"]
            .iter()
            .find_map(|t| reg.get(t, &owner))
            .and_then(|o| o.runtime.clone());
    }
    if ti.name == "Service" {
        let host = reg.get("Host", &object.string("host_name"));
        if let (Some(cell), Some(host)) = (&object.runtime, host.and_then(|h| h.runtime.as_ref())) {
            cell.link_host(host);
        }
    }
    Ok(object)
}

/// The objects the library's apply rules create for a new host or service (services,
/// notifications, dependencies, …), sharing or linking its runtime cell.
fn applied_to(
    Against { reg, library, now }: Against<'_>,
    object: &Object,
) -> Result<Vec<Object>, String> {
    if !matches!(object.type_info.name, "Host" | "Service") {
        return Ok(Vec::new());
    }
    let host = match object.type_info.name {
        "Service" => reg
            .get("Host", &object.string("host_name"))
            .map(|h| h.attrs.clone()),
        _ => None,
    };
    let target = filters::config::Item {
        type_name: object.type_info.name.into(),
        name: object.name.clone(),
        template: false,
        attrs: object.attrs.clone(),
        location: object.location.clone(),
        ignore_on_error: false,
    };
    let (items, errors) = library.apply_to(&target, host.as_ref());
    if let Some(e) = errors.first() {
        return Err(format!("Error: {}", e.error.message));
    }
    let mut applied = Vec::new();
    for (item, _) in items {
        let Some(ti) = super::types::by_name(&item.type_name) else {
            continue;
        };
        let attrs = super::intern_keys(item.attrs);
        // Notifications applied to the new object share its state.
        let runtime = match ti.name {
            "Notification" if super::checkable_name(&attrs) == *object.name => {
                object.runtime.clone()
            }
            _ => super::runtime_for(ti, now),
        };
        // Services applied to a new host read its state.
        if ti.name == "Service" {
            if let (Some(cell), Some(host)) = (&runtime, &object.runtime) {
                cell.link_host(host);
            }
        }
        applied.push(Object {
            type_info: ti,
            name: item.name,
            attrs,
            location: item.location,
            package: "_etc".into(),
            original: Dict::new(),
            version: 0.0,
            runtime,
        });
    }
    Ok(applied)
}

/// Converts a JSON value to the field's type where Icinga's conversion would (numbers in
/// strings); `whole` is false for values set below the field (`vars.x`).
fn coerce(type_name: &str, whole: bool, value: Value) -> Result<Value, String> {
    if !whole {
        return Ok(value);
    }
    match (type_name, &value) {
        ("Number" | "Timestamp", Value::String(s)) => s
            .trim()
            .parse::<f64>()
            .map(Value::Number)
            .map_err(|_| format!("Can't convert '{s}' to a floating point number.")),
        ("Number" | "Timestamp", Value::Bool(b)) => Ok(Value::Number(f64::from(u8::from(*b)))),
        _ => Ok(value),
    }
}

/// `PUT /v1/objects/<type>/<name>`.
///
/// # Errors
/// The messages for the result item's `errors`.
pub async fn create(writer: &Writer, req: Create) -> Result<(), Vec<String>> {
    let _lock = writer.lock().await;
    let current = writer.registry();
    if current.get(req.type_info.name, &req.name).is_some() {
        return Err(vec![format!(
            "Error: Object '{}' of type '{}' already exists.",
            req.name, req.type_info.name
        )]);
    }
    let now = writer.clock.now();
    let against = Against {
        reg: &current,
        library: &writer.library(),
        now,
    };
    let (object, applied) = build(
        against,
        req.type_info,
        &req.name,
        &req.templates,
        &req.attrs,
    )
    .map_err(|e| vec![e])?;
    let record = json!({ "templates": req.templates, "attrs": req.attrs });
    let mut next = (*current).clone();
    let mut events = vec![object_event(
        EventKind::ObjectCreated,
        object.type_info.name,
        &object.name,
        now,
    )];
    next.insert(Arc::new(object));
    for a in applied {
        if next.get(a.type_info.name, &a.name).is_none() {
            events.push(object_event(
                EventKind::ObjectCreated,
                a.type_info.name,
                &a.name,
                now,
            ));
            next.insert(Arc::new(a));
        }
    }
    writer
        .store
        .commit_with(Commit {
            ops: vec![Op::PutObject {
                key: store::key(req.type_info.name, &req.name),
                value: record,
            }],
            events,
            then: Some(writer.installer(next)),
        })
        .await
        .map_err(|e| vec![format!("Error: The object could not be stored: {e}")])?;
    Ok(())
}

/// `ObjectCreated`, `ObjectModified`, `ObjectDeleted` (spec §8.3): type and full name.
pub fn object_event(kind: EventKind, type_name: &str, name: &str, now: f64) -> Pending {
    let body = json!({
        "type": kind.name(),
        "timestamp": now,
        "object_type": type_name,
        "object_name": name,
    });
    (
        kind,
        bytes::Bytes::from(serde_json::to_vec(&body).unwrap_or_default()),
    )
}

/// `POST /v1/objects/<type>[/<name>]` for each selected object; returns the result items.
/// Every attribute that can be set is applied; an item names the first one (in key order)
/// that could not be, with code 500, as Icinga reports it. All changes of the request are
/// stored in one commit.
pub async fn modify(
    writer: &Writer,
    objects: Vec<Arc<Object>>,
    attrs: &Map<String, Json>,
    restore: &[String],
) -> Vec<Outcome> {
    let _lock = writer.lock().await;
    let now = writer.clock.now();
    let current = writer.registry();
    let mut next = (*current).clone();
    let mut ops = Vec::new();
    let mut results = Vec::new();
    let mut changed_objects = Vec::new();
    for object in objects {
        // Re-read: an earlier item of this request may have changed it.
        let Some(object) = next.get(object.type_info.name, &object.name).cloned() else {
            continue;
        };
        let (changed, failure) = change(&next, &object, (attrs, restore), now);
        let outcome = match &failure {
            None => Outcome::ok("Attributes updated."),
            Some(e) => Outcome::new(500, e.as_str()),
        };
        // `changed` (an Auspex addition) tells whether the object changed at all.
        results.push((
            outcome
                .with("type", object.type_info.name)
                .with("name", object.name.to_string()),
            changed.is_some(),
        ));
        let Some(changed) = changed else {
            continue;
        };
        let key = store::key(object.type_info.name, &object.name);
        ops.push(if changed.original.is_empty() {
            Op::DeleteModified { key }
        } else {
            let modified: Map<String, Json> = changed
                .original
                .keys()
                .map(|k| {
                    let v = changed.attrs.get(k).map_or(Json::Null, |v| v.to_serde());
                    (k.to_string(), v)
                })
                .collect();
            Op::PutModified {
                key,
                value: Json::Object(modified),
            }
        });
        changed_objects.push((object.type_info.name, object.name.clone()));
        next.insert(Arc::new(changed));
    }
    let events = changed_objects
        .iter()
        .map(|(t, n)| object_event(EventKind::ObjectModified, t, n, now))
        .collect();
    let then = (!changed_objects.is_empty()).then(|| writer.installer(next));
    let stored = writer.store.commit_with(Commit { ops, events, then }).await;
    results
        .into_iter()
        .map(|(mut outcome, changed)| {
            // Nothing was applied when the commit failed: every changed item fails.
            if let (true, Err(e)) = (changed, &stored) {
                outcome.code = 500;
                outcome.status = format!("Attributes could not be stored: {e}");
            }
            outcome.with("changed", changed && stored.is_ok())
        })
        .collect()
}

/// Applies `restore_attrs` then `attrs` to one object, one attribute at a time: one that
/// cannot be set is skipped and the first such one reported. Returns the changed object
/// (`None` when nothing changes) and the failure.
fn change(
    reg: &Registry,
    object: &Object,
    (attrs, restore): (&Map<String, Json>, &[String]),
    now: f64,
) -> (Option<Object>, Option<String>) {
    let mut values = object.attrs.to_dict();
    let mut original = object.original.clone();
    for key in restore {
        let path: Vec<&str> = key.split('.').collect();
        let top = path[0];
        let Some(orig) = original.get(top).cloned() else {
            continue;
        };
        if path.len() == 1 {
            set_or_remove(&mut values, top, orig);
            original.remove(top);
        } else {
            let orig_sub = lookup(&orig, &path[1..]);
            let mut cur = values.get(top).cloned().unwrap_or_default();
            set_path(&mut cur, &path[1..], orig_sub);
            let same = cur.same(&orig);
            values.insert(top.into(), cur);
            if same {
                original.remove(top);
            }
        }
    }
    let mut failure = None;
    for (key, value) in attrs {
        let mut next_values = values.clone();
        let mut next_original = original.clone();
        let set = set_attr(
            object,
            &mut next_values,
            &mut next_original,
            key,
            Value::from_json(value),
        )
        .and_then(|()| {
            let candidate = object.with_attrs(next_values.clone(), next_original.clone(), 0.0);
            reg.validate(&candidate).map_err(|e| {
                let attr = e
                    .split("Attribute '")
                    .nth(1)
                    .and_then(|r| r.split('\'').next())
                    .unwrap_or(key);
                format!("Attribute '{attr}' could not be set: Error: {e}")
            })
        });
        match set {
            Ok(()) => {
                values = next_values;
                original = next_original;
            }
            Err(e) => {
                failure.get_or_insert(e);
            }
        }
    }
    if same_dict(&values, &object.attrs) && original.len() == object.original.len() {
        return (None, failure);
    }
    let next = object.with_attrs(values, original, now);
    // Restoring an attribute may leave the object invalid (a referenced object gone).
    match reg.validate(&next) {
        Ok(()) => (Some(next), failure),
        Err(e) => (
            None,
            Some(format!("Attributes could not be restored: Error: {e}")),
        ),
    }
}

/// Sets one attribute (`vars.x` sets a key below `vars`), recording the configured value
/// in `original` the first time it changes.
fn set_attr(
    object: &Object,
    values: &mut Dict,
    original: &mut Dict,
    key: &str,
    value: Value,
) -> Result<(), String> {
    let path: Vec<&str> = key.split('.').collect();
    let top = path[0];
    let Some(field) = object.type_info.field(top) else {
        return Err(format!(
            "Attribute '{key}' could not be set: Error: Invalid field ID."
        ));
    };
    if field.no_user_modify || INTERNAL.contains(&top) {
        return Err(format!(
            "Attribute '{key}' could not be set: Error: Attribute cannot be modified."
        ));
    }
    let value = coerce(field.type_name, path.len() == 1, value)
        .map_err(|m| format!("Attribute '{key}' could not be set: Error: {m}"))?;
    if !original.contains_key(top) {
        original.insert(
            top.into(),
            object.attrs.get(top).cloned().unwrap_or_default(),
        );
    }
    if path.len() == 1 {
        values.insert(top.into(), value);
    } else {
        let mut cur = values.get(top).cloned().unwrap_or_default();
        set_path(&mut cur, &path[1..], value);
        values.insert(top.into(), cur);
    }
    Ok(())
}

/// Whether two sets of attributes (maps or an object's) hold the same names and values.
pub(crate) fn same_dict<'a, 'b>(
    a: impl IntoIterator<Item = (&'a Str, &'a Value)>,
    b: impl IntoIterator<Item = (&'b Str, &'b Value)>,
) -> bool {
    let (mut a, mut b) = (a.into_iter(), b.into_iter());
    loop {
        match (a.next(), b.next()) {
            (None, None) => return true,
            (Some((ka, va)), Some((kb, vb))) if ka == kb && va.same(vb) => {}
            _ => return false,
        }
    }
}

fn set_or_remove(d: &mut Dict, key: &str, v: Value) {
    if matches!(v, Value::Null) {
        d.remove(key);
    } else {
        d.insert(key.into(), v);
    }
}

fn lookup(v: &Value, path: &[&str]) -> Value {
    let mut cur = v.clone();
    for p in path {
        cur = match &cur {
            Value::Dict(d) => d.get(*p).cloned().unwrap_or_default(),
            _ => Value::Null,
        };
    }
    cur
}

fn set_path(root: &mut Value, path: &[&str], value: Value) {
    let Some((first, rest)) = path.split_first() else {
        *root = value;
        return;
    };
    let mut dict = match root {
        Value::Dict(d) => (**d).clone(),
        _ => Dict::new(),
    };
    let mut child = dict.get(*first).cloned().unwrap_or_default();
    set_path(&mut child, rest, value);
    if rest.is_empty() && matches!(child, Value::Null) {
        dict.remove(*first);
    } else {
        dict.insert((*first).into(), child);
    }
    *root = Value::from(dict);
}

/// `DELETE /v1/objects/<type>[/<name>]`; returns the result items.
pub async fn delete(writer: &Writer, objects: Vec<Arc<Object>>, cascade: bool) -> Vec<Outcome> {
    let _lock = writer.lock().await;
    let now = writer.clock.now();
    let mut deleted = Vec::new();
    let current = writer.registry();
    let mut next = (*current).clone();
    let mut ops = Vec::new();
    let mut results = Vec::new();
    // Deleted so far; removed from `next` at the end, each type's table once.
    let mut gone = Gone::default();
    for object in objects {
        if next.get(object.type_info.name, &object.name).is_none() || gone.contains(&object) {
            continue;
        }
        let item = |code: u16, status: &str, errors: Vec<String>| {
            Outcome::new(code, status)
                .with("type", object.type_info.name)
                .with("name", object.name.to_string())
                .with("errors", errors)
        };
        if &*object.package != "_api" {
            results.push(item(
                500,
                "Object could not be deleted.",
                vec!["Object cannot be deleted because it was not created using the API.".into()],
            ));
            continue;
        }
        let mut found: Vec<Arc<Object>> = dependents_of(&next, &object)
            .into_iter()
            .filter(|d| !gone.contains(d))
            .collect();
        if !found.is_empty() && !cascade {
            results.push(item(
                500,
                "Object could not be deleted.",
                vec![format!(
                    "Object '{}' of type '{}' cannot be deleted because other objects depend on it. Use cascading delete to delete it anyway.",
                    object.name, object.type_info.name
                )],
            ));
            continue;
        }
        gone.insert(&object);
        // The object's own dependents are known already; theirs are found in turn.
        let mut doomed = vec![object.clone()];
        let mut i = 0;
        loop {
            for d in found {
                if gone.insert(&d) {
                    doomed.push(d);
                }
            }
            i += 1;
            let Some(next_doomed) = doomed.get(i) else {
                break;
            };
            found = dependents_of(&next, next_doomed);
        }
        for d in doomed {
            deleted.push((d.type_info.name, d.name.clone()));
            let key = store::key(d.type_info.name, &d.name);
            if &*d.package == "_api" {
                ops.push(Op::DeleteObject { key: key.clone() });
            }
            ops.push(Op::DeleteModified { key });
        }
        results.push(item(200, "Object was deleted.", Vec::new()));
    }
    for (t, names) in gone.0 {
        next.remove_many(t, &names);
    }
    let events = deleted
        .iter()
        .map(|(t, n)| object_event(EventKind::ObjectDeleted, t, n, now))
        .collect();
    let commit = Commit {
        ops,
        events,
        then: Some(writer.installer(next)),
    };
    if let Err(e) = writer.store.commit_with(commit).await {
        for r in results.iter_mut().filter(|r| r.code == 200) {
            r.code = 500;
            r.status = "Object could not be deleted.".into();
            r.extra.insert(
                "errors".into(),
                json!([format!("The deletion could not be stored: {e}")]),
            );
        }
        return results;
    }
    results
}

/// The objects a delete takes, by type (as [`Registry::remove_many`] removes them).
#[derive(Default)]
struct Gone(HashMap<&'static str, HashSet<Str>>);

impl Gone {
    fn contains(&self, o: &Object) -> bool {
        self.0
            .get(o.type_info.name)
            .is_some_and(|names| names.contains(&o.name))
    }

    /// Takes `o`; `false` if it was taken already.
    fn insert(&mut self, o: &Object) -> bool {
        self.0
            .entry(o.type_info.name)
            .or_default()
            .insert(o.name.clone())
    }
}

/// Objects whose navigation fields name `object` (services of a host, …): per type, the
/// fields that can name an object of its type, compared with its name in place (a
/// million objects are scanned for every object deleted, so without a lookup or an
/// allocation each).
fn dependents_of(reg: &Registry, object: &Object) -> Vec<Arc<Object>> {
    let target = object.type_info.name;
    let mut dependents = Vec::new();
    for (ti, _) in reg.counts() {
        let fields: Vec<&super::types::Field> = ti
            .lineage()
            .flat_map(|t| t.fields.iter())
            .filter(|f| f.navigation && f.ref_type == Some(target))
            .collect();
        if fields.is_empty() {
            continue;
        }
        dependents.extend(
            reg.objects(ti.name)
                .filter(|o| fields.iter().any(|f| names(o, f, object)))
                .cloned(),
        );
    }
    dependents
}

/// Whether field `f` of `o` names `object` (as [`super::query::navigate`] resolves it: a
/// service by `host!service`, the host from the field beside it).
fn names(o: &Object, f: &super::types::Field, object: &Object) -> bool {
    let name = match o.attrs.get(f.name) {
        Some(Value::String(s)) if !s.is_empty() => s,
        _ => return false,
    };
    if f.ref_type != Some("Service") {
        return **name == *object.name;
    }
    object
        .name
        .strip_suffix(&**name)
        .and_then(|host| host.strip_suffix('!'))
        .is_some_and(|host| o.string(&super::types::host_field_beside(f.name)) == host)
}

/// Replays the store over the configured registry at startup: API-created objects (hosts
/// first, so that their services and apply rules find them), then modified attributes.
/// Records that no longer build (a template was removed from the configuration) are
/// reported and skipped, not deleted.
pub fn restore(reg: &mut Registry, library: &Library, contents: Contents, now: f64) -> Vec<String> {
    let mut warnings = Vec::new();
    let mut records = contents.api_objects;
    let rank = |k: &str| match store::split_key(k).map(|(t, _)| t) {
        Some("Zone" | "Endpoint") => 0,
        Some("CheckCommand" | "EventCommand" | "NotificationCommand") => 1,
        Some("TimePeriod" | "HostGroup" | "ServiceGroup" | "UserGroup") => 2,
        Some("Host") => 3,
        Some("Service") => 4,
        _ => 5,
    };
    records.sort_by_key(|(k, _)| rank(k));
    // Build rank by rank, inserting each rank at once (one sort per type), so that later
    // ranks (services) find earlier ones (hosts).
    let mut pending: Vec<Arc<Object>> = Vec::new();
    let mut pending_rank = None;
    for (key, record) in records {
        let r = rank(&key);
        if pending_rank != Some(r) {
            reg.insert_many(std::mem::take(&mut pending));
            pending_rank = Some(r);
        }
        let Some((type_name, name)) = store::split_key(&key) else {
            continue;
        };
        let Some(ti) = super::types::by_name(type_name) else {
            warnings.push(format!(
                "Stored object '{name}' has unknown type '{type_name}'."
            ));
            continue;
        };
        let templates: Vec<String> = record["templates"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|t| t.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let attrs = record["attrs"].as_object().cloned().unwrap_or_default();
        // Comments and downtimes are restored as they were stored.
        if matches!(ti.name, "Comment" | "Downtime") {
            let attrs = match Value::from_json(&Json::Object(attrs)) {
                Value::Dict(d) => (*d).clone(),
                _ => Dict::new(),
            };
            pending.push(Arc::new(super::runtime_object(ti, name, attrs)));
            continue;
        }
        let against = Against { reg, library, now };
        match build(against, ti, name, &templates, &attrs) {
            Ok((object, applied)) => {
                pending.push(Arc::new(object));
                pending.extend(applied.into_iter().map(Arc::new));
            }
            Err(e) => warnings.push(format!(
                "Stored object '{name}' of type '{type_name}' could not be restored: {e}"
            )),
        }
    }
    // Objects from apply rules never replace configured ones.
    pending.retain(|o| &*o.package == "_api" || reg.get(o.type_info.name, &o.name).is_none());
    reg.insert_many(pending);
    let mut changed = Vec::new();
    for (key, modified) in contents.modified {
        let Some((type_name, name)) = store::split_key(&key) else {
            continue;
        };
        let Some(object) = reg.get(type_name, name).cloned() else {
            continue;
        };
        let Some(m) = modified.as_object() else {
            continue;
        };
        let mut values = object.attrs.to_dict();
        let mut original = Dict::new();
        for (k, v) in m {
            original.insert(
                Str::from(k.as_str()),
                object.attrs.get(k.as_str()).cloned().unwrap_or_default(),
            );
            set_or_remove(&mut values, k, Value::from_json(v));
        }
        changed.push(Arc::new(object.with_attrs(values, original, now)));
    }
    reg.insert_many(changed);
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names_of(objects: Vec<Arc<Object>>) -> Vec<String> {
        let mut names: Vec<String> = objects
            .iter()
            .map(|o| format!("{} {}", o.type_info.name, o.name))
            .collect();
        names.sort();
        names
    }

    /// A host's dependents are what names it (its services, a dependency on either
    /// side); a service's are what names it by `host!service`, not what names another
    /// service of the same short name or only its host.
    #[test]
    fn dependents_are_the_objects_naming_it() -> anyhow::Result<()> {
        let reg = crate::app::registry_of(
            r#"
object CheckCommand "c" { command = [ "/bin/true" ] }
object Host "a" { check_command = "c" }
object Host "b" { check_command = "c" }
object Service "s" { host_name = "a"; check_command = "c" }
object Service "s" { host_name = "b"; check_command = "c" }
object Service "t" { host_name = "a"; check_command = "c" }
object Dependency "d" {
  parent_host_name = "b"; parent_service_name = "s"
  child_host_name = "a"; child_service_name = "t"
}
"#,
        )?;
        let get = |t: &str, n: &str| {
            reg.get(t, n)
                .cloned()
                .ok_or_else(|| anyhow::anyhow!("no {t} {n}"))
        };
        assert_eq!(
            names_of(dependents_of(&reg, &*get("Host", "a")?)),
            ["Dependency a!t!d", "Service a!s", "Service a!t"]
        );
        assert_eq!(
            names_of(dependents_of(&reg, &*get("Service", "b!s")?)),
            ["Dependency a!t!d"]
        );
        assert!(dependents_of(&reg, &*get("Service", "a!s")?).is_empty());
        assert_eq!(
            names_of(dependents_of(&reg, &*get("CheckCommand", "c")?)),
            [
                "Host a",
                "Host b",
                "Service a!s",
                "Service a!t",
                "Service b!s"
            ]
        );
        Ok(())
    }
}
