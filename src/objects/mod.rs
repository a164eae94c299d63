//! The object model: configuration objects and templates by type and name.
//!
//! A [`Registry`] is an immutable snapshot; writers build a new one and swap it in, so
//! readers (queries, filters, permission checks) never wait for a writer.

mod periods;
pub mod query;
mod registry;
mod runtime;
pub mod types;
pub mod writer;

use std::sync::Arc;

use filters::config::Location;
use filters::{Dict, Str, Value};

use types::TypeInfo;

pub use filters::{Attrs, Lookup};
pub use registry::{Published, Registry};
pub use runtime::{runtime_for, Runtime};

/// A configuration object or template.
#[derive(Debug)]
pub struct Object {
    pub type_info: &'static TypeInfo,
    /// The full name (`host!service` for services).
    pub name: Str,
    /// Attributes as configured, including `name` (the short name) and `templates`.
    pub attrs: Attrs,
    /// Shared with the other objects of its declaration.
    pub location: Arc<Location>,
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

/// The full name of the host or service a notification, comment or downtime belongs to.
pub fn checkable_name<D: Lookup + ?Sized>(attrs: &D) -> String {
    checkable_ref(attrs, "host_name", "service_name")
        .1
        .into_owned()
}

/// The host or service that a pair of attributes names (`host_name`/`service_name`,
/// `parent_host_name`/`parent_service_name`, …): its type and full name (borrowed for a
/// host).
pub fn checkable_ref<'a, D: Lookup + ?Sized>(
    attrs: &'a D,
    host_key: &str,
    service_key: &str,
) -> (&'static str, std::borrow::Cow<'a, str>) {
    let host = dict_str(attrs, host_key).unwrap_or("");
    match dict_str(attrs, service_key).unwrap_or("") {
        "" => ("Host", host.into()),
        s => ("Service", format!("{host}!{s}").into()),
    }
}

impl Object {
    pub fn type_name(&self) -> &'static str {
        self.type_info.name
    }

    pub fn attr(&self, name: &str) -> Option<&Value> {
        self.attrs.get(name)
    }

    /// An attribute, or its type's default when it is not set.
    pub fn attr_or_default(&self, name: &str) -> Option<Value> {
        self.attrs.get(name).cloned().or_else(|| {
            self.type_info
                .field(name)
                .map(|f| Value::from_json(&f.default))
                .filter(|v| !matches!(v, Value::Null))
        })
    }

    /// A string attribute, or its type's default.
    pub fn string_or_default(&self, name: &str) -> String {
        self.attr_or_default(name)
            .filter(|v| !v.is_empty())
            .map(|v| v.to_display_string())
            .unwrap_or_default()
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

    /// The object's zone as Icinga gives it: a configured zone (`zones.d/<zone>/`, or
    /// the attribute), the local zone for objects created through the API, none for the
    /// others.
    pub fn zone<'a>(&'a self, local: &'a str) -> Option<&'a str> {
        match self.attrs.get("zone") {
            Some(Value::String(z)) if !z.is_empty() => Some(z),
            _ if &*self.package == "_api" => Some(local),
            _ => None,
        }
    }

    /// An attribute as a string, empty when missing.
    pub fn string(&self, name: &str) -> String {
        match self.attrs.get(name) {
            Some(v) if !v.is_empty() => v.to_display_string(),
            _ => String::new(),
        }
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
            attrs: intern_keys(attrs.into()),
            location: self.location.clone(),
            package: self.package.clone(),
            original,
            version,
            runtime: self.runtime.clone(),
        }
    }
}

/// An object's attributes from a dictionary, with one shared allocation per distinct
/// attribute name (at every depth): objects built from configuration would otherwise
/// each carry their own copy of `check_command`, `vars`, …, and every key comparison of
/// a filter would touch cold memory.
pub fn intern_keys(attrs: Attrs) -> Attrs {
    use filters::intern::intern;
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
    // In place: interning keeps every name (and so the order), and the configuration's
    // attributes become the object's without a copy.
    let mut entries = attrs.into_entries();
    for (k, v) in &mut entries {
        *k = intern(k.clone());
        *v = value(std::mem::take(v));
    }
    Attrs::from_sorted(entries)
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
        // Fields only a host's or service's state holds are read there at once: looking
        // them up in the attribute table first costs a filter over a million services
        // more than the rest of its evaluation.
        if self.runtime.is_some() && runtime::state_only(field) {
            if let Some(v) = self.runtime_value(field) {
                return Some(v);
            }
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

/// A dictionary value's string field.
pub fn dict_str<'a, D: Lookup + ?Sized>(d: &'a D, key: &str) -> Option<&'a str> {
    match d.lookup(key) {
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
        attrs: intern_keys(attrs.into()),
        location: Arc::new(Location {
            path: format!("_api/conf.d/{dir}/{name}.conf").into(),
            first_line: 1,
            first_column: 1,
            last_line: 1,
            last_column: 1,
        }),
        package: "_api".into(),
        original: Dict::new(),
        version: 0.0,
        runtime: None,
    }
}
