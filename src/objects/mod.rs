//! The object model: configuration objects and templates by type and name.
//!
//! A [`Registry`] is an immutable snapshot; writers build a new one and swap it in, so
//! readers (queries, filters, permission checks) never wait for a writer.

mod periods;
pub mod query;
pub mod types;
pub mod writer;

use std::collections::HashMap;
use std::sync::Arc;

use filters::config::{Item, Location};
use filters::{Dict, Str, Value};
use rayon::prelude::*;

use crate::state::CheckableState;
use types::TypeInfo;

/// A configuration object or template.
#[derive(Debug)]
pub struct Object {
    pub type_info: &'static TypeInfo,
    /// The full name (`host!service` for services).
    pub name: Str,
    /// Attributes as configured, including `name` (the short name) and `templates`.
    pub attrs: Dict,
    pub location: Location,
    /// `_etc` for objects from configuration files, `_api` for objects created through
    /// the API.
    pub package: Str,
    /// Configured values of attributes changed at runtime (Icinga's
    /// `original_attributes`), by top-level attribute name.
    pub original: Dict,
    /// Bumped by every runtime change (Unix time), 0 when never changed.
    pub version: f64,
    /// Hosts and services: the runtime state the processor writes, shared by every
    /// version of the object (modifications keep it).
    pub runtime: Option<Arc<Runtime>>,
}

/// The runtime state cell of a checkable. Written by the processor only; read by queries
/// and filters under a short read lock (never held across an await).
#[derive(Debug)]
pub struct Runtime {
    state: std::sync::RwLock<Arc<CheckableState>>,
    /// A service's host's cell: a service's `severity` and `handled` depend on its
    /// host's state. Set once, when the service is built; a reload keeps both cells.
    host: std::sync::OnceLock<Arc<Runtime>>,
    /// When the scheduler plans the next check (f64 bits; 0 before it has), shown as
    /// `next_check` until the state has one of its own (pending objects).
    planned: std::sync::atomic::AtomicU64,
}

impl Runtime {
    pub fn new(state: CheckableState) -> Arc<Runtime> {
        Arc::new(Runtime {
            state: std::sync::RwLock::new(Arc::new(state)),
            host: std::sync::OnceLock::new(),
            planned: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// Records when the scheduler plans the next check.
    pub fn plan(&self, at: f64) {
        self.planned
            .store(at.to_bits(), std::sync::atomic::Ordering::Relaxed);
    }

    /// `next_check` as shown: the state's, or else when the scheduler plans it.
    pub fn next_check(&self, st: &CheckableState) -> f64 {
        if st.next_check > 0.0 {
            return st.next_check;
        }
        f64::from_bits(self.planned.load(std::sync::atomic::Ordering::Relaxed))
    }

    pub fn get(&self) -> Arc<CheckableState> {
        self.state.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn set(&self, state: Arc<CheckableState>) {
        *self.state.write().unwrap_or_else(|e| e.into_inner()) = state;
    }

    /// Links a service's cell to its host's.
    pub fn link_host(&self, host: &Arc<Runtime>) {
        // A cell adopted by a reload is linked already, to the same host cell.
        let _ = self.host.set(host.clone());
    }

    /// Whether a service's cell is linked to this host cell.
    pub fn linked_to(&self, host: &Arc<Runtime>) -> bool {
        self.host.get().is_some_and(|h| Arc::ptr_eq(h, host))
    }

    /// A service's host's state.
    pub fn host(&self) -> Option<Arc<CheckableState>> {
        self.host.get().map(|h| h.get())
    }
}

/// Links runtime cells after a build: notifications show their runtime state
/// (`last_notification`, …) from their host's or service's state, where the processor
/// keeps it (they share its cell); services read their host's.
fn link_runtime(objects: &mut HashMap<&'static str, Vec<Arc<Object>>>) {
    let mut notifications = objects.remove("Notification").unwrap_or_default();
    let cells: HashMap<&str, &Arc<Runtime>> = ["Host", "Service"]
        .iter()
        .flat_map(|t| objects.get(t).into_iter().flatten())
        .filter_map(|o| Some((&*o.name, o.runtime.as_ref()?)))
        .collect();
    for service in objects.get("Service").into_iter().flatten() {
        let host = dict_str(&service.attrs, "host_name").and_then(|h| cells.get(h));
        if let (Some(cell), Some(host)) = (&service.runtime, host) {
            cell.link_host(host);
        }
    }
    if notifications.is_empty() {
        return;
    }
    for n in &mut notifications {
        let owner = checkable_name(&n.attrs);
        if let (Some(cell), Some(n)) = (cells.get(owner.as_str()), Arc::get_mut(n)) {
            n.runtime = Some((*cell).clone());
        }
    }
    objects.insert("Notification", notifications);
}

/// The full name of the host or service a notification, comment or downtime belongs to.
pub fn checkable_name(attrs: &Dict) -> String {
    checkable_ref(attrs, "host_name", "service_name")
        .1
        .into_owned()
}

/// The host or service that a pair of attributes names (`host_name`/`service_name`,
/// `parent_host_name`/`parent_service_name`, …): its type and full name (borrowed for a
/// host).
pub fn checkable_ref<'a>(
    attrs: &'a Dict,
    host_key: &str,
    service_key: &str,
) -> (&'static str, std::borrow::Cow<'a, str>) {
    let host = dict_str(attrs, host_key).unwrap_or("");
    match dict_str(attrs, service_key).unwrap_or("") {
        "" => ("Host", host.into()),
        s => ("Service", format!("{host}!{s}").into()),
    }
}

/// A runtime cell for types that have one.
pub fn runtime_for(ti: &TypeInfo, start: f64) -> Option<Arc<Runtime>> {
    match ti.name {
        "Host" => Some(Runtime::new(CheckableState::pending(true, start))),
        "Service" => Some(Runtime::new(CheckableState::pending(false, start))),
        _ => None,
    }
}

impl Object {
    pub fn type_name(&self) -> &'static str {
        self.type_info.name
    }

    pub fn attr(&self, name: &str) -> Option<&Value> {
        self.attrs.get(name)
    }

    /// A boolean attribute, `default` when missing.
    pub fn flag(&self, name: &str, default: bool) -> bool {
        self.attrs.get(name).map_or(default, |v| v.to_bool())
    }

    /// A finite number attribute, `default` when missing or not a number.
    pub fn number(&self, name: &str, default: f64) -> f64 {
        self.attrs
            .get(name)
            .and_then(|v| v.to_number().ok())
            .filter(|n| n.is_finite())
            .unwrap_or(default)
    }

    /// An attribute as a string, empty when missing.
    pub fn string(&self, name: &str) -> String {
        match self.attrs.get(name) {
            Some(v) if !v.is_empty() => v.to_display_string(),
            _ => String::new(),
        }
    }
}

/// The objects of one type: a list sorted by name (what queries scan) and an index into
/// it (what lookups use).
#[derive(Default, Debug, Clone)]
struct Table {
    list: Vec<Arc<Object>>,
    /// `list` as filter values (`Value::Object`), so that a scan hands each filter a
    /// reference instead of a new reference count.
    values: Vec<Value>,
    /// foldhash: every lookup by name hashes it; SipHash was ~5 % of a startup.
    index: foldhash::HashMap<Str, usize>,
    /// Dependency objects only: the list by parent (full name), built on first use and
    /// dropped by every change of the table.
    by_parent: std::sync::OnceLock<foldhash::HashMap<String, Vec<Arc<Object>>>>,
}

impl Table {
    /// Adds or replaces objects; sorts and re-indexes once for the whole batch.
    fn upsert(&mut self, objects: impl IntoIterator<Item = Arc<Object>>) {
        self.by_parent = Default::default();
        let mut appended = false;
        for o in objects {
            match self.index.get(&o.name) {
                Some(&i) => {
                    let v: Arc<dyn filters::Object> = o.clone();
                    self.values[i] = Value::Object(v);
                    self.list[i] = o;
                }
                None => {
                    self.index.insert(o.name.clone(), self.list.len());
                    self.list.push(o);
                    appended = true;
                }
            }
        }
        if appended {
            self.list.sort_by(|a, b| a.name.cmp(&b.name));
            self.reindex();
        }
    }

    fn remove(&mut self, name: &str) -> Option<Arc<Object>> {
        self.by_parent = Default::default();
        let i = self.index.remove(name)?;
        let o = self.list.remove(i);
        self.reindex();
        Some(o)
    }

    /// Removes many objects, re-indexing once.
    fn remove_many(&mut self, names: &std::collections::HashSet<Str>) {
        self.by_parent = Default::default();
        let before = self.list.len();
        self.list.retain(|o| !names.contains(&o.name));
        if self.list.len() != before {
            self.reindex();
        }
    }

    /// The objects whose names start with `prefix` (a range of the sorted list).
    fn with_prefix(&self, prefix: &str) -> &[Arc<Object>] {
        let start = self.list.partition_point(|o| &*o.name < prefix);
        let len = self.list[start..].partition_point(|o| o.name.starts_with(prefix));
        &self.list[start..start + len]
    }

    fn reindex(&mut self) {
        self.index = self
            .list
            .iter()
            .enumerate()
            .map(|(i, o)| (o.name.clone(), i))
            .collect();
        self.values = self
            .list
            .iter()
            .map(|o| {
                let o: Arc<dyn filters::Object> = o.clone();
                Value::Object(o)
            })
            .collect();
    }
}

/// The published object snapshot, one for the whole engine: readers take the current
/// [`Registry`] (an `Arc`) and are never blocked by a writer that replaces it. Clones
/// share the snapshot.
#[derive(Clone, Default)]
pub struct Published(Arc<std::sync::RwLock<Arc<Registry>>>);

impl Published {
    pub fn new(registry: Registry) -> Published {
        Published(Arc::new(std::sync::RwLock::new(Arc::new(registry))))
    }

    /// The registry published at the moment.
    pub fn current(&self) -> Arc<Registry> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Publishes `registry` (after its changes are durable).
    pub fn replace(&self, registry: Registry) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(registry);
    }
}

/// Objects and templates by type, then by name.
///
/// Each type's table sits behind an `Arc`: cloning the registry is cheap, and a writer
/// copies only the tables of the types it changes (copy on write), then publishes the
/// new registry while readers keep the old one.
#[derive(Default, Debug, Clone)]
pub struct Registry {
    objects: foldhash::HashMap<&'static str, Arc<Table>>,
    templates: foldhash::HashMap<&'static str, Arc<Table>>,
}

impl Registry {
    /// Builds the registry from configuration items, validating types and required
    /// attributes as Icinga's config compiler does, now.
    ///
    /// # Errors
    /// One message per invalid object, rendered like Icinga's validation errors.
    pub fn from_items(items: Vec<Item>) -> Result<Registry, Vec<String>> {
        Registry::from_items_in(items, &[], crate::clock::system_now())
    }

    /// [`Registry::from_items`] at `now` (the version of every object, the start of
    /// pending states), where objects defined in a package stage's directory (package,
    /// directory) belong to that package instead of `_etc`.
    ///
    /// # Errors
    /// As [`Registry::from_items`].
    pub fn from_items_in(
        items: Vec<Item>,
        packages: &[(String, std::path::PathBuf)],
        t_now: f64,
    ) -> Result<Registry, Vec<String>> {
        let packages: Vec<(Str, String)> = packages
            .iter()
            .map(|(p, d)| (Str::from(p.as_str()), format!("{}/", d.display())))
            .collect();
        let package_of = |path: &str| -> Str {
            packages
                .iter()
                .find(|(_, d)| path.starts_with(d.as_str()))
                .map_or_else(|| Str::from("_etc"), |(p, _)| p.clone())
        };
        let mut reg = Registry::default();
        let mut errors = Vec::new();
        let mut objects: HashMap<&'static str, Vec<Arc<Object>>> = HashMap::new();
        let mut templates: HashMap<&'static str, Vec<Arc<Object>>> = HashMap::new();
        // Objects are built on every core (each is independent), then indexed in order.
        let built: Vec<Result<(bool, Arc<Object>), String>> = items
            .into_par_iter()
            .map(|item| {
                let ti = types::by_name(&item.type_name)
                    .filter(|t| t.name == &*item.type_name)
                    .ok_or_else(|| {
                        format!(
                            "{}:{}: Type '{}' does not exist.",
                            item.location.path, item.location.first_line, item.type_name
                        )
                    })?;
                if ti.is_abstract {
                    return Err(format!(
                        "{}:{}: Type '{}' is abstract and cannot be instantiated.",
                        item.location.path, item.location.first_line, item.type_name
                    ));
                }
                let object = Object {
                    type_info: ti,
                    name: item.name.clone(),
                    attrs: intern_keys(item.attrs),
                    package: package_of(&item.location.path),
                    location: item.location,
                    original: Dict::new(),
                    version: 0.0,
                    runtime: runtime_for(ti, t_now),
                };
                Ok((item.template, Arc::new(object)))
            })
            .collect();
        for b in built {
            match b {
                Ok((template, object)) => {
                    let map = if template {
                        &mut templates
                    } else {
                        &mut objects
                    };
                    map.entry(object.type_info.name).or_default().push(object);
                }
                Err(e) => errors.push(e),
            }
        }
        link_runtime(&mut objects);
        for (t, list) in objects {
            Arc::make_mut(reg.objects.entry(t).or_default()).upsert(list);
        }
        for (t, list) in templates {
            Arc::make_mut(reg.templates.entry(t).or_default()).upsert(list);
        }
        let all: Vec<&Arc<Object>> = reg.iter_all().collect();
        errors.extend(
            all.par_iter()
                .filter_map(|object| {
                    reg.validate(object).err().map(|e| {
                        format!(
                            "{}:{}: {e}",
                            object.location.path, object.location.first_line
                        )
                    })
                })
                .collect::<Vec<_>>(),
        );
        if errors.is_empty() {
            Ok(reg)
        } else {
            Err(errors)
        }
    }

    /// Checks required attributes and references, with Icinga's wording.
    pub fn validate(&self, object: &Object) -> Result<(), String> {
        let ti = object.type_info;
        let fail = |attr: &str, msg: String| {
            Err(format!(
                "Validation failed for object '{}' of type '{}'; Attribute '{attr}': {msg}",
                object.name, ti.name
            ))
        };
        {
            for f in ti.checked_fields() {
                let v = object.attrs.get(f.name);
                if f.required && v.is_none_or(|v| v.is_empty()) && !f.has_default() {
                    // `execute` is implied by `command` for plugin commands.
                    if f.name == "execute" && object.attrs.contains_key("command") {
                        continue;
                    }
                    return fail(f.name, "Attribute must not be empty.".into());
                }
                if let (Some(r), Some(Value::String(name))) = (f.ref_type, v) {
                    // Services are referenced by short name next to their host's.
                    let full = match f.name.strip_suffix("service_name") {
                        Some(side) if r == "Service" => {
                            format!("{}!{name}", object.string(&format!("{side}host_name")))
                        }
                        _ => name.to_string(),
                    };
                    if f.type_name == "String" && !name.is_empty() && self.get(r, &full).is_none() {
                        return fail(
                            f.name,
                            format!("Object '{name}' of type '{r}' does not exist."),
                        );
                    }
                }
                // Arrays of references (`groups`, `users`, `includes`): every name exists.
                if let (Some(r), Some(Value::Array(names))) = (f.ref_type, v) {
                    for name in names.iter().map(Value::to_display_string) {
                        if self.get(r, &name).is_none() {
                            return fail(
                                f.name,
                                format!("Object '{name}' of type '{r}' does not exist."),
                            );
                        }
                    }
                }
            }
        }
        if matches!(ti.name, "TimePeriod" | "ScheduledDowntime") {
            if let Some(ranges) = object.attrs.get("ranges") {
                crate::timeperiod::validate(ranges).or_else(|e| fail("ranges", e))?;
            }
        }
        if ti.name == "ApiUser" {
            use crate::{permissions::Permissions, quota};
            if let Err(e) = Permissions::parse(object.attrs.get("permissions")) {
                return fail("permissions", e);
            }
            for (rate, burst) in [
                ("request_rate", "request_burst"),
                ("event_rate", "event_burst"),
            ] {
                if let Err(e) = quota::parse(&object.attrs, rate, burst) {
                    return fail(rate, e);
                }
            }
        }
        Ok(())
    }

    /// An object by type and full name.
    pub fn get(&self, type_name: &str, name: &str) -> Option<&Arc<Object>> {
        let t = self.objects.get(type_name)?;
        t.index.get(name).map(|&i| &t.list[i])
    }

    /// An object's filter value (`Value::Object`), by reference.
    pub fn get_value(&self, type_name: &str, name: &str) -> Option<&Value> {
        let t = self.objects.get(type_name)?;
        t.index.get(name).map(|&i| &t.values[i])
    }

    /// All objects of a type, by name.
    pub fn objects(&self, type_name: &str) -> std::slice::Iter<'_, Arc<Object>> {
        self.objects
            .get(type_name)
            .map_or([].iter(), |t| t.list.iter())
    }

    /// All objects of a type with their filter values, by name.
    pub fn objects_with_values(&self, type_name: &str) -> (&[Arc<Object>], &[Value]) {
        self.objects
            .get(type_name)
            .map_or((&[], &[]), |t| (&t.list[..], &t.values[..]))
    }

    /// All templates of a type, by name.
    pub fn templates(&self, type_name: &str) -> std::slice::Iter<'_, Arc<Object>> {
        self.templates
            .get(type_name)
            .map_or([].iter(), |t| t.list.iter())
    }

    pub fn count(&self, type_name: &str) -> usize {
        self.objects.get(type_name).map_or(0, |t| t.list.len())
    }

    /// How many objects of each type there are (types without objects left out), in the
    /// order of the type table.
    pub fn counts(&self) -> Vec<(&'static types::TypeInfo, usize)> {
        types::all()
            .iter()
            .map(|t| (t, self.count(t.name)))
            .filter(|(_, n)| *n > 0)
            .collect()
    }

    /// Adds or replaces an object.
    pub fn insert(&mut self, object: Arc<Object>) {
        self.insert_many(vec![object]);
    }

    /// Adds or replaces objects (of any types), re-sorting each changed type once.
    pub fn insert_many(&mut self, objects: Vec<Arc<Object>>) {
        let mut by_type: HashMap<&'static str, Vec<Arc<Object>>> = HashMap::new();
        for o in objects {
            by_type.entry(o.type_info.name).or_default().push(o);
        }
        for (t, list) in by_type {
            Arc::make_mut(self.objects.entry(t).or_default()).upsert(list);
        }
    }

    /// Removes an object.
    pub fn remove(&mut self, type_name: &str, name: &str) -> Option<Arc<Object>> {
        let table = self.objects.get_mut(type_name)?;
        if !table.index.contains_key(name) {
            return None;
        }
        Arc::make_mut(table).remove(name)
    }

    /// Removes objects of one type by name.
    pub fn remove_many(&mut self, type_name: &str, names: &std::collections::HashSet<Str>) {
        if let Some(table) = self.objects.get_mut(type_name) {
            Arc::make_mut(table).remove_many(names);
        }
    }

    /// The Dependency objects whose parent is the host or service named `parent` (full
    /// name): indexed once per version of the Dependency table, not searched.
    pub fn dependencies_on(&self, parent: &str) -> &[Arc<Object>] {
        let Some(table) = self.objects.get("Dependency") else {
            return &[];
        };
        let index = table.by_parent.get_or_init(|| {
            let mut index: foldhash::HashMap<String, Vec<Arc<Object>>> = Default::default();
            for d in &table.list {
                let (_, parent) =
                    checkable_ref(&d.attrs, "parent_host_name", "parent_service_name");
                index
                    .entry(parent.into_owned())
                    .or_default()
                    .push(d.clone());
            }
            index
        });
        index.get(parent).map_or(&[], |v| v)
    }

    /// The objects of a type whose full names start with `prefix` (`host!` finds a
    /// host's services, comments, downtimes and notifications): a binary search.
    pub fn with_prefix(&self, type_name: &str, prefix: &str) -> &[Arc<Object>] {
        self.objects
            .get(type_name)
            .map_or(&[], |t| t.with_prefix(prefix))
    }

    /// After a reload: every host and service that existed before keeps its runtime
    /// cell (its state, and what the processor and scheduler hold), and notifications
    /// follow their checkable's cell.
    pub fn adopt_runtime(&mut self, old: &Registry) {
        let mut adopted: Vec<Arc<Object>> = Vec::new();
        let mut cells: HashMap<Str, Arc<Runtime>> = HashMap::new();
        for t in ["Host", "Service"] {
            for o in self.objects(t) {
                let previous = old.get(t, &o.name).and_then(|p| p.runtime.clone());
                match previous {
                    Some(cell) => {
                        cells.insert(o.name.clone(), cell.clone());
                        adopted.push(Arc::new(o.with_runtime(Some(cell))));
                    }
                    None => {
                        let Some(mut cell) = o.runtime.clone() else {
                            continue;
                        };
                        // A new service of a host that kept its cell reads that cell, not
                        // the one the build linked it to.
                        let kept_host = match t {
                            "Service" => dict_str(&o.attrs, "host_name")
                                .and_then(|h| cells.get(h))
                                .filter(|host| !cell.linked_to(host))
                                .cloned(),
                            _ => None,
                        };
                        if let Some(host) = kept_host {
                            cell = Runtime::new((*cell.get()).clone());
                            cell.link_host(&host);
                            adopted.push(Arc::new(o.with_runtime(Some(cell.clone()))));
                        }
                        cells.insert(o.name.clone(), cell);
                    }
                }
            }
        }
        for n in self.objects("Notification") {
            let cell = cells.get(checkable_name(&n.attrs).as_str()).cloned();
            adopted.push(Arc::new(n.with_runtime(cell)));
        }
        self.insert_many(adopted);
    }

    /// A global switch of the `app` object (`enable_notifications`, …); on when unset.
    pub fn app_switch(&self, name: &str) -> bool {
        self.objects("IcingaApplication")
            .next()
            .is_none_or(|app| app.flag(name, true))
    }

    /// Every object, of every type.
    pub fn iter_all(&self) -> impl Iterator<Item = &Arc<Object>> {
        self.objects.values().flat_map(|t| t.list.iter())
    }
}

impl Object {
    /// A copy with another runtime cell.
    pub fn with_runtime(&self, runtime: Option<Arc<Runtime>>) -> Object {
        Object {
            type_info: self.type_info,
            name: self.name.clone(),
            attrs: self.attrs.clone(),
            location: self.location.clone(),
            package: self.package.clone(),
            original: self.original.clone(),
            version: self.version,
            runtime,
        }
    }

    /// A copy with other attributes (the runtime-change path).
    pub fn with_attrs(&self, attrs: Dict, original: Dict, version: f64) -> Object {
        Object {
            type_info: self.type_info,
            name: self.name.clone(),
            attrs: intern_keys(attrs),
            location: self.location.clone(),
            package: self.package.clone(),
            original,
            version,
            runtime: self.runtime.clone(),
        }
    }
}

/// One shared allocation per distinct attribute name: objects built from configuration
/// would otherwise each carry their own copy of `check_command`, `vars`, …, and every key
/// comparison of a filter would touch cold memory.
pub fn intern_keys(d: Dict) -> Dict {
    use std::sync::{LazyLock, RwLock};
    // Read-mostly: after the first objects every name is known, and readers share it.
    static NAMES: LazyLock<RwLock<foldhash::HashSet<Str>>> =
        LazyLock::new(|| RwLock::new(foldhash::HashSet::default()));
    fn intern(k: Str) -> Str {
        if let Some(shared) = NAMES.read().unwrap_or_else(|e| e.into_inner()).get(&k) {
            return shared.clone();
        }
        let mut names = NAMES.write().unwrap_or_else(|e| e.into_inner());
        match names.get(&k) {
            Some(shared) => shared.clone(),
            None => {
                names.insert(k.clone());
                k
            }
        }
    }
    fn value(v: Value) -> Value {
        match v {
            Value::Dict(d) => Value::from(dict((*d).clone())),
            Value::Array(a) if a.iter().any(|x| matches!(x, Value::Dict(_))) => {
                Value::from(a.iter().cloned().map(value).collect::<Vec<_>>())
            }
            other => other,
        }
    }
    fn dict(d: Dict) -> Dict {
        d.into_iter().map(|(k, v)| (intern(k), value(v))).collect()
    }
    dict(d)
}

impl Object {
    /// A runtime attribute of a host or service (`state`, `last_check_result`, …).
    pub fn runtime_value(&self, field: &str) -> Option<Value> {
        let rt = self.runtime.as_ref()?.get();
        self.runtime_field(&rt, field)
    }

    /// The interval to a host's or service's next check as Icinga picks it:
    /// `retry_interval` in a SOFT problem (after a result), else `check_interval` (each at
    /// least 1 s).
    pub fn next_interval(&self, st: &CheckableState) -> f64 {
        let soft_problem = st.has_result() && st.state_type == 0 && st.state != 0;
        if soft_problem {
            self.number("retry_interval", 60.0).max(1.0)
        } else {
            self.number("check_interval", 300.0).max(1.0)
        }
    }

    /// Icinga's `handled` for this host or service in state `rt` (see [`handled`]).
    pub fn handled(&self, rt: &CheckableState) -> bool {
        handled(rt, self.host_state().as_deref())
    }

    /// `next_check` as shown (see [`Runtime::next_check`]).
    fn next_check(&self, rt: &CheckableState) -> f64 {
        self.runtime
            .as_ref()
            .map_or(rt.next_check, |c| c.next_check(rt))
    }

    /// A service's host's state (`None` for hosts).
    fn host_state(&self) -> Option<Arc<CheckableState>> {
        self.runtime.as_ref().and_then(|c| c.host())
    }

    /// A runtime attribute from a state already read (one read per object when many
    /// attributes are shown).
    pub fn runtime_field(&self, rt: &CheckableState, field: &str) -> Option<Value> {
        let is_host = self.type_info.name == "Host";
        let n = |x: f64| Some(Value::Number(x));
        if self.type_info.name == "Notification" {
            let ns = rt
                .notifications
                .get(&*self.name)
                .cloned()
                .unwrap_or_default();
            return match field {
                "last_notification" => n(ns.last_notification),
                "next_notification" => n(ns.next_notification),
                "notification_number" => n(ns.notification_number as f64),
                "last_problem_notification" => n(ns.last_problem_notification),
                "notified_problem_users" => Some(Value::from(
                    ns.notified_problem_users
                        .into_iter()
                        .map(Value::from)
                        .collect::<Vec<_>>(),
                )),
                _ => None,
            };
        }
        match field {
            "state" => n(f64::from(rt.state)),
            "state_type" => n(f64::from(rt.state_type)),
            "check_attempt" => n(f64::from(rt.check_attempt)),
            "last_state" => n(f64::from(rt.last_state)),
            "last_state_type" => n(f64::from(rt.last_state_type)),
            "last_hard_state" => n(f64::from(rt.last_hard_state)),
            "last_state_change" => n(rt.last_state_change),
            "last_hard_state_change" => n(rt.last_hard_state_change),
            "previous_state_change" => n(rt.previous_state_change),
            "last_reachable" => Some(Value::Bool(rt.last_reachable)),
            "last_state_unreachable" => n(rt.last_state_unreachable),
            "next_check" => n(self.next_check(rt)),
            // When a result is overdue (UIs mark the object late): a check interval after
            // the next check, or two after the last passive result.
            "next_update" => {
                let interval = self.next_interval(rt);
                if self.flag("enable_active_checks", true) {
                    n(self.next_check(rt) + interval)
                } else {
                    n(rt.last_check_result
                        .as_ref()
                        .map_or(0.0, |r| r.execution_end + 2.0 * interval))
                }
            }
            "force_next_check" => Some(Value::Bool(rt.force_next_check)),
            "last_check_result" => Some(rt.last_check_result.as_ref().map_or(Value::Null, |r| {
                Value::from_json(&serde_json::to_value(&**r).unwrap_or_default())
            })),
            "last_check" => n(rt
                .last_check_result
                .as_ref()
                .map_or(-1.0, |r| r.schedule_end)),
            "problem" => Some(Value::Bool(rt.has_result() && rt.state != 0)),
            "handled" => Some(Value::Bool(self.handled(rt))),
            "severity" => n(f64::from(severity(
                is_host,
                rt,
                self.host_state().as_deref(),
            ))),
            "downtime_depth" => n(f64::from(rt.downtime_depth)),
            "executions" if rt.executions.is_empty() => Some(Value::Null),
            "executions" => Some(Value::from_json(&serde_json::Value::Object(
                rt.executions.clone(),
            ))),
            "acknowledgement" => n(f64::from(rt.acknowledgement)),
            "acknowledgement_expiry" => n(rt.acknowledgement_expiry),
            "acknowledgement_last_change" => n(rt.acknowledgement_last_change),
            "flapping" => Some(Value::Bool(rt.flapping)),
            "flapping_current" => n(rt.flapping_current),
            "flapping_last_change" => n(rt.flapping_last_change),
            "last_state_up" if is_host => n(rt.last_state_seen[0]),
            "last_state_down" if is_host => n(rt.last_state_seen[1]),
            "last_state_ok" if !is_host => n(rt.last_state_seen[0]),
            "last_state_warning" if !is_host => n(rt.last_state_seen[1]),
            "last_state_critical" if !is_host => n(rt.last_state_seen[2]),
            "last_state_unknown" if !is_host => n(rt.last_state_seen[3]),
            _ => None,
        }
    }
}

/// Icinga's `handled`: a problem in a downtime or acknowledged; for a service also any
/// state while its host has a problem (checked on Icinga 2.13.6: a service on a DOWN
/// host, SOFT or HARD, is handled even when OK).
fn handled(rt: &CheckableState, host: Option<&CheckableState>) -> bool {
    let problem = |st: &CheckableState| st.has_result() && st.state != 0;
    (problem(rt) && (rt.acknowledgement != 0 || rt.downtime_depth > 0)) || host.is_some_and(problem)
}

/// Icinga 2.13's `severity`, by which UIs sort problems: 0 OK/UP, 16 pending; a service
/// problem's state weight (WARNING 32, UNKNOWN 64, CRITICAL 128) plus 1024 when its host
/// is not UP, else 512 acknowledged, 256 in downtime, 2048 unhandled; a DOWN host 64
/// (32 unreachable) plus 512 / 256 / 2048 alike. Checked against Icinga 2.13.6's API.
fn severity(is_host: bool, rt: &CheckableState, host: Option<&CheckableState>) -> u32 {
    if !rt.has_result() {
        return 16;
    }
    if rt.state == 0 {
        return 0;
    }
    let base = match (is_host, rt.state) {
        (true, _) if rt.last_reachable => 64,
        (true, _) => 32,
        (false, 1) => 32,
        (false, 3) => 64,
        (false, 2) => 128,
        _ => 256,
    };
    let handling = if host.is_some_and(|h| h.state != 0) {
        1024
    } else if rt.acknowledgement != 0 {
        512
    } else if rt.downtime_depth > 0 {
        256
    } else {
        2048
    };
    base + handling
}

/// What filters, event streams and console scripts read of an object: every attribute but
/// the secret ones (`password`, `ticket_salt`), which no expression can see.
impl filters::Object for Object {
    fn get_field_ref(&self, field: &str) -> Option<&Value> {
        if self.type_info.is_secret(field) {
            return None;
        }
        match self.attrs.get(field) {
            // An empty display name reads as the name (see `get_field`).
            Some(v) if field == "display_name" && v.is_empty() => None,
            v => v,
        }
    }

    fn type_name(&self) -> &str {
        self.type_info.name
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn get_field(&self, field: &str) -> Option<Value> {
        if self.type_info.is_secret(field) {
            // Reads as unset, whatever it holds.
            return Some(Value::Null);
        }
        // Configured attributes first: they are what filters read most.
        if let Some(v) = self.get_field_ref(field) {
            return Some(v.clone());
        }
        if let Some(v) = self.runtime_value(field) {
            return Some(v);
        }
        match field {
            "__name" => Some(Value::String(self.name.clone())),
            "type" => Some(Value::from(self.type_info.name)),
            "package" => Some(Value::String(self.package.clone())),
            // Icinga's display name getter falls back to the (short) name.
            "display_name" if self.type_info.field(field).is_some() => {
                self.attrs.get("name").cloned()
            }
            _ => self
                .type_info
                .field(field)
                .map(|f| Value::from_json(&f.default)),
        }
    }
}

/// Scripts and filters reach objects through `get_object`/`get_objects`.
impl filters::Scope for Registry {
    fn variable(&self, _name: &str) -> Option<Value> {
        None
    }

    fn get_object(&self, type_name: &str, name: &str) -> Option<Value> {
        let o: Arc<dyn filters::Object> = self.get(type_name, name)?.clone();
        Some(Value::Object(o))
    }

    fn get_objects(&self, type_name: &str) -> Vec<Value> {
        self.objects(type_name)
            .map(|o| {
                let o: Arc<dyn filters::Object> = o.clone();
                Value::Object(o)
            })
            .collect()
    }
}

/// A dictionary value's string field.
pub fn dict_str<'a>(d: &'a Dict, key: &str) -> Option<&'a str> {
    match d.get(key) {
        Some(Value::String(s)) => Some(s),
        _ => None,
    }
}

/// A comment or downtime: created at runtime, kept in the `_api` package, restored from
/// its stored attributes as they are (no templates, no apply rules).
pub fn runtime_object(ti: &'static TypeInfo, name: &str, attrs: Dict) -> Object {
    let dir = ti.plural.to_lowercase();
    Object {
        type_info: ti,
        name: name.into(),
        attrs: intern_keys(attrs),
        location: Location {
            path: format!("_api/conf.d/{dir}/{name}.conf").into(),
            first_line: 1,
            first_column: 1,
            last_line: 1,
            last_column: 1,
        },
        package: "_api".into(),
        original: Dict::new(),
        version: 0.0,
        runtime: None,
    }
}
