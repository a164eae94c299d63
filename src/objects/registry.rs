//! The registry: objects and templates by type and name, an immutable snapshot that
//! writers copy (cheaply), change and publish.

use std::collections::HashMap;
use std::sync::Arc;

use filters::config::Item;
use filters::{Dict, Str, Value};
use rayon::prelude::*;

use super::runtime::{link_runtime, Pending, Runtime};
use super::types;
use super::{checkable_name, checkable_ref, dict_str, intern_keys, Object};

/// Tables at least this long are sorted and indexed on every core.
const PARALLEL: usize = 10_000;
/// New or removed objects at most that a table takes in place (shifting the objects after
/// them) instead of being sorted and indexed whole.
const IN_PLACE: usize = 64;
/// Changes a table remembers what they added for (see [`Version`]).
const REMEMBERED: usize = 64;

/// A table's version, and what the changes that led to it added: a reader who saw an
/// older version finds the objects added since without walking the whole table (the
/// scheduler plans new checkables this way). A change that adds many objects (a start,
/// a reload, a bulk create) starts a new line, and a line remembers [`REMEMBERED`]
/// changes; beyond either, the reader walks the table.
#[derive(Debug)]
struct Version {
    id: u64,
    /// The version this one changed, while remembered.
    parent: Option<Arc<Version>>,
    /// The objects with names new in this version.
    added: Vec<Arc<Object>>,
    /// Changes remembered before this one.
    depth: usize,
}

impl Version {
    fn next_id() -> u64 {
        static IDS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        IDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }

    /// A version nothing is remembered before.
    fn first() -> Arc<Version> {
        Arc::new(Version::default())
    }

    /// The version after `parent` that added `added`.
    fn after(parent: &Arc<Version>, added: Vec<Arc<Object>>) -> Arc<Version> {
        let kept = parent.depth + 1 < REMEMBERED;
        Arc::new(Version {
            id: Version::next_id(),
            parent: kept.then(|| parent.clone()),
            added,
            depth: if kept { parent.depth + 1 } else { 0 },
        })
    }

    /// The objects added since version `seen`, if it is remembered (the newest first).
    fn added_since(&self, seen: u64) -> Option<Vec<Arc<Object>>> {
        let mut added = Vec::new();
        let mut v = self;
        while v.id != seen {
            added.extend(v.added.iter().cloned());
            v = v.parent.as_deref()?;
        }
        Some(added)
    }
}

impl Default for Version {
    fn default() -> Version {
        Version {
            id: Version::next_id(),
            parent: None,
            added: Vec::new(),
            depth: 0,
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
    index: Positions,
    /// Dependency objects only: the list by parent (full name), built on first use and
    /// dropped by every change of the table.
    by_parent: std::sync::OnceLock<foldhash::HashMap<String, Vec<Arc<Object>>>>,
    version: Arc<Version>,
}

impl Table {
    /// Adds or replaces objects. A few new objects go into place, the positions after
    /// them shifted in the index; a new table or many new objects are sorted and indexed
    /// once for the whole batch. Of objects with one name, the one given last is kept.
    fn upsert(&mut self, objects: impl IntoIterator<Item = Arc<Object>>) {
        self.by_parent = Default::default();
        let mut added = Vec::new();
        if self.list.is_empty() {
            added.extend(objects);
        } else {
            for o in objects {
                match self.index.get(&self.list, &o.name) {
                    Some(i) => {
                        self.values[i] = value(&o);
                        self.list[i] = o;
                    }
                    None => added.push(o),
                }
            }
        }
        if self.list.is_empty() || added.len() > IN_PLACE {
            self.version = Version::first();
            if !added.is_empty() {
                self.list.append(&mut added);
                by_name(&mut self.list);
                self.reindex();
            }
            return;
        }
        by_name(&mut added);
        self.version = Version::after(&self.version, added.clone());
        // Where each new object goes in the list as it is: an object there moves past
        // the new ones placed at or before it (one pass over the index, no lookups).
        let places: Vec<usize> = added
            .iter()
            .map(|o| self.list.partition_point(|x| x.name < o.name))
            .collect();
        for at in self.index.positions_mut() {
            *at += places.partition_point(|&p| p <= *at);
        }
        let placed: Vec<usize> = (0..added.len()).map(|j| places[j] + j).collect();
        for (o, &i) in added.into_iter().zip(&placed) {
            self.values.insert(i, value(&o));
            self.list.insert(i, o);
        }
        for i in placed {
            self.index.insert(&self.list, i);
        }
    }

    fn remove(&mut self, name: &str) -> Option<Arc<Object>> {
        self.by_parent = Default::default();
        let i = self.index.remove(&self.list, name)?;
        self.version = Version::after(&self.version, Vec::new());
        self.values.remove(i);
        let o = self.list.remove(i);
        self.closed_up(&[i]);
        Some(o)
    }

    /// Removes many objects: a few from their places, the positions after them shifted in
    /// the index; more, in one pass and one re-index.
    fn remove_many(&mut self, names: &std::collections::HashSet<Str>) {
        self.by_parent = Default::default();
        self.version = Version::after(&self.version, Vec::new());
        if names.len() > IN_PLACE {
            let before = self.list.len();
            self.list.retain(|o| !names.contains(&o.name));
            if self.list.len() != before {
                self.reindex();
            }
            return;
        }
        let mut places: Vec<usize> = names
            .iter()
            .filter_map(|n| self.index.remove(&self.list, n))
            .collect();
        places.sort_unstable();
        for &i in places.iter().rev() {
            self.values.remove(i);
            self.list.remove(i);
        }
        self.closed_up(&places);
    }

    /// The objects whose names start with `prefix` (a range of the sorted list).
    fn with_prefix(&self, prefix: &str) -> &[Arc<Object>] {
        let start = self.list.partition_point(|o| &*o.name < prefix);
        let len = self.list[start..].partition_point(|o| o.name.starts_with(prefix));
        &self.list[start..start + len]
    }

    fn reindex(&mut self) {
        let index = || Positions::of(&self.list);
        // A large table (a start, a reload) builds its index on one core while the
        // others make the values.
        (self.index, self.values) = if self.list.len() >= PARALLEL {
            rayon::join(index, || self.list.par_iter().map(value).collect())
        } else {
            (index(), self.list.iter().map(value).collect())
        };
    }

    /// Brings the index up to date after the objects at `removed` (their former
    /// positions, sorted) left the list: every later object moved up by as many as left
    /// before it (one pass over the index, no lookups).
    fn closed_up(&mut self, removed: &[usize]) {
        if removed.is_empty() {
            return;
        }
        for at in self.index.positions_mut() {
            *at -= removed.partition_point(|&r| r < *at);
        }
    }
}

/// Each object's position in a table's list, found by name. Only the positions are
/// stored (the names are the list's objects'), so copying a table to change it copies
/// plain numbers instead of raising a name's reference count per object.
#[derive(Clone, Default)]
struct Positions {
    table: hashbrown::HashTable<usize>,
    /// foldhash, seeded per table: names come from clients.
    hasher: foldhash::fast::RandomState,
}

impl std::fmt::Debug for Positions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Positions({})", self.table.len())
    }
}

impl Positions {
    /// Every object of `list` at its position.
    fn of(list: &[Arc<Object>]) -> Positions {
        let mut p = Positions {
            table: hashbrown::HashTable::with_capacity(list.len()),
            ..Positions::default()
        };
        for i in 0..list.len() {
            p.insert(list, i);
        }
        p
    }

    fn hash(hasher: &foldhash::fast::RandomState, name: &str) -> u64 {
        use std::hash::BuildHasher;
        hasher.hash_one(name)
    }

    fn get(&self, list: &[Arc<Object>], name: &str) -> Option<usize> {
        self.table
            .find(Self::hash(&self.hasher, name), |&i| *list[i].name == *name)
            .copied()
    }

    fn contains(&self, list: &[Arc<Object>], name: &str) -> bool {
        self.get(list, name).is_some()
    }

    /// Adds the object at position `i` of `list` (whose name is not indexed yet); `list`
    /// is the list with it, every indexed position already its object's.
    fn insert(&mut self, list: &[Arc<Object>], i: usize) {
        let hasher = &self.hasher;
        let rehash = |&p: &usize| Self::hash(hasher, &list[p].name);
        self.table.insert_unique(rehash(&i), i, rehash);
    }

    /// Removes `name` (while `list` still holds it), returning where it was.
    fn remove(&mut self, list: &[Arc<Object>], name: &str) -> Option<usize> {
        let entry = self
            .table
            .find_entry(Self::hash(&self.hasher, name), |&i| *list[i].name == *name)
            .ok()?;
        Some(entry.remove().0)
    }

    fn positions_mut(&mut self) -> impl Iterator<Item = &mut usize> {
        self.table.iter_mut()
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.table.len()
    }
}

/// An object as a filter value.
fn value(o: &Arc<Object>) -> Value {
    let o: Arc<dyn filters::Object> = o.clone();
    Value::Object(o)
}

/// Sorts objects by name (on every core when there are many); of objects with one name,
/// the one that came last is kept (the sort is stable).
fn by_name(list: &mut Vec<Arc<Object>>) {
    if list.len() >= PARALLEL {
        list.par_sort_by(|a, b| a.name.cmp(&b.name));
    } else {
        list.sort_by(|a, b| a.name.cmp(&b.name));
    }
    list.dedup_by(|later, kept| {
        let same = later.name == kept.name;
        if same {
            std::mem::swap(later, kept);
        }
        same
    });
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
        let etc = Str::from("_etc");
        let package_of = |path: &str| -> Str {
            packages
                .iter()
                .find(|(_, d)| path.starts_with(d.as_str()))
                .map_or_else(|| etc.clone(), |(p, _)| p.clone())
        };
        let mut reg = Registry::default();
        let mut errors = Vec::new();
        let mut objects: foldhash::HashMap<&'static str, Vec<Arc<Object>>> = Default::default();
        let mut templates: foldhash::HashMap<&'static str, Vec<Arc<Object>>> = Default::default();
        let pending = Pending::at(t_now);
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
                    runtime: pending.runtime_for(ti),
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
            // Both are sorted by name: one pass finds the value of every checked field.
            let mut attrs = object.attrs.iter().peekable();
            for f in ti.checked_fields() {
                while attrs.next_if(|(k, _)| &***k < f.name).is_some() {}
                let v = attrs
                    .peek()
                    .filter(|(k, _)| &***k == f.name)
                    .map(|(_, v)| *v);
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
        t.index.get(&t.list, name).map(|i| &t.list[i])
    }

    /// The version of a type's objects: another after every change of them (0 while the
    /// type has none).
    pub fn version(&self, type_name: &str) -> u64 {
        self.objects.get(type_name).map_or(0, |t| t.version.id)
    }

    /// The objects of a type with names new since its [`Registry::version`] `seen` (the
    /// newest first; an object since replaced or removed as it was then), or `None` when
    /// that version is not remembered: then only a walk of all of them tells.
    pub fn added_since(&self, type_name: &str, seen: u64) -> Option<Vec<Arc<Object>>> {
        match self.objects.get(type_name) {
            Some(t) => t.version.added_since(seen),
            None => (seen == 0).then(Vec::new),
        }
    }

    /// Where an object stands in [`Registry::objects`] of its type.
    pub fn position(&self, type_name: &str, name: &str) -> Option<usize> {
        let t = self.objects.get(type_name)?;
        t.index.get(&t.list, name)
    }

    /// An object's filter value (`Value::Object`), by reference.
    pub fn get_value(&self, type_name: &str, name: &str) -> Option<&Value> {
        let t = self.objects.get(type_name)?;
        t.index.get(&t.list, name).map(|i| &t.values[i])
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

    /// The node's own endpoint is where its API listens: when the configuration sets no
    /// `port` for it, it gets the listener's (Icinga's default, 5665, is where Icinga's
    /// listener binds unless told otherwise). Clients such as Icinga Director connect to
    /// the endpoint's host and port.
    pub fn default_endpoint_port(&mut self, node_name: &str, port: u16) {
        let Some(endpoint) = self.get("Endpoint", node_name) else {
            return;
        };
        if endpoint.attrs.get("port").is_some_and(|p| !p.is_empty()) {
            return;
        }
        let mut attrs = endpoint.attrs.to_dict();
        attrs.insert("port".into(), Value::from(port.to_string()));
        let object = endpoint.with_attrs(attrs, endpoint.original.clone(), endpoint.version);
        self.insert(Arc::new(object));
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
        if !table.index.contains(&table.list, name) {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn comment(name: &str, text: &str) -> Arc<Object> {
        let ti = types::by_name("Comment").unwrap_or_else(|| panic!("no Comment type"));
        let attrs = Dict::from([(Str::from("text"), Value::from(text))]);
        Arc::new(super::super::runtime_object(ti, name, attrs))
    }

    fn texts(t: &Table) -> Vec<(String, String)> {
        t.list
            .iter()
            .map(|o| (o.name.to_string(), o.string("text")))
            .collect()
    }

    /// A new table and a table with objects end the same: sorted by name, indexed, and of
    /// two objects with one name the one given last kept.
    #[test]
    fn upsert_sorts_indexes_and_keeps_the_last_of_a_name() {
        let batch = || {
            vec![
                comment("c", "first c"),
                comment("a", "a"),
                comment("c", "second c"),
                comment("b", "b"),
            ]
        };
        let mut fresh = Table::default();
        fresh.upsert(batch());
        let mut filled = Table::default();
        filled.upsert([comment("b", "old b")]);
        filled.upsert(batch());
        for t in [&fresh, &filled] {
            assert_eq!(
                texts(t),
                [("a", "a"), ("b", "b"), ("c", "second c")]
                    .map(|(n, x)| (n.to_string(), x.to_string()))
            );
            consistent(t);
            assert_eq!(t.values.len(), 3);
        }
    }

    /// The list is sorted by name, the index holds every position, and each value is
    /// its object.
    fn consistent(t: &Table) {
        assert!(t.list.windows(2).all(|w| w[0].name < w[1].name));
        assert_eq!(t.index.len(), t.list.len());
        assert_eq!(t.values.len(), t.list.len());
        for (i, o) in t.list.iter().enumerate() {
            assert_eq!(t.index.get(&t.list, &o.name), Some(i));
            let Value::Object(v) = &t.values[i] else {
                panic!("not an object value")
            };
            assert!(std::ptr::addr_eq(Arc::as_ptr(v), Arc::as_ptr(o)));
        }
    }

    /// Names `c0000`, `c0001`, … (sorting as their numbers).
    fn names(range: std::ops::Range<usize>) -> impl Iterator<Item = String> {
        range.map(|i| format!("c{i:04}"))
    }

    /// A few objects added or removed go into place; many are sorted in; either way the
    /// table ends the same as one built from scratch.
    #[test]
    fn changes_in_place_and_in_bulk_keep_the_table_consistent() {
        let mut t = Table::default();
        t.upsert(names(0..200).step_by(2).map(|n| comment(&n, "old")));
        consistent(&t);
        // In place: three new (one twice, the later kept), one replaced.
        t.upsert([
            comment("c0001", "new"),
            comment("c0199", "first"),
            comment("c0100", "replaced"),
            comment("c0199", "second"),
            comment("b", "new"),
        ]);
        consistent(&t);
        assert_eq!(t.list.len(), 103);
        let text = |t: &Table, n: &str| t.index.get(&t.list, n).map(|i| t.list[i].string("text"));
        assert_eq!(text(&t, "c0199").as_deref(), Some("second"));
        assert_eq!(text(&t, "c0100").as_deref(), Some("replaced"));
        assert!(t.remove("c0001").is_some());
        assert!(t.remove("c0001").is_none());
        t.remove_many(&["b", "c0198", "missing"].map(Str::from).into());
        consistent(&t);
        assert_eq!(t.list.len(), 100);
        // In bulk: more than a batch in place.
        t.upsert(names(0..200).skip(1).step_by(2).map(|n| comment(&n, "odd")));
        consistent(&t);
        assert_eq!(t.list.len(), 199, "all but c0198");
        t.remove_many(&names(0..100).map(|n| Str::from(n.as_str())).collect());
        consistent(&t);
        assert_eq!(t.list.len(), 99);
        assert_eq!(t.list[0].name.as_ref(), "c0100");
    }

    /// A table's versions tell what was added since an earlier one: in-place changes are
    /// remembered (newest first), a bulk change or too many changes are not.
    #[test]
    fn versions_tell_what_was_added_since() {
        let mut t = Table::default();
        t.upsert(names(0..100).map(|n| comment(&n, "first")));
        let v0 = t.version.id;
        let since = |t: &Table, v: u64| {
            t.version
                .added_since(v)
                .map(|a| a.iter().map(|o| o.name.to_string()).collect::<Vec<_>>())
        };
        assert_eq!(since(&t, v0), Some(vec![]));
        t.upsert([comment("new1", "x"), comment("c0001", "replaced")]);
        let v1 = t.version.id;
        assert_ne!(v1, v0);
        assert!(t.remove("c0002").is_some());
        t.remove_many(&["c0003"].map(Str::from).into());
        t.upsert([comment("new2", "x")]);
        assert_eq!(since(&t, v0), Some(vec!["new2".into(), "new1".into()]));
        assert_eq!(since(&t, v1), Some(vec!["new2".into()]));
        assert_eq!(since(&t, 0), None, "a version never seen");
        // A clone is the same version; a change of the clone is not the original's.
        let mut copy = t.clone();
        assert_eq!(copy.version.id, t.version.id);
        copy.upsert([comment("new3", "x")]);
        assert_eq!(since(&copy, t.version.id), Some(vec!["new3".into()]));
        assert_eq!(since(&t, copy.version.id), None);
        // Many at once: a new line.
        t.upsert(names(200..300).map(|n| comment(&n, "bulk")));
        assert_eq!(since(&t, v1), None);
        // A line remembers a bounded number of changes.
        let v2 = t.version.id;
        for i in 0..REMEMBERED {
            t.upsert([comment(&format!("z{i:03}"), "x")]);
        }
        assert_eq!(since(&t, v2), None);
        let v3 = t.version.id;
        t.upsert([comment("zz", "x")]);
        assert_eq!(since(&t, v3), Some(vec!["zz".into()]));
    }
}
