//! The object model: configuration objects and templates by type and name.
//!
//! A [`Registry`] is an immutable snapshot; writers build a new one and swap it in, so
//! readers (queries, filters, permission checks) never wait for a writer.

pub mod query;
pub mod types;
pub mod writer;

use std::collections::HashMap;
use std::sync::Arc;

use imbl::OrdMap;

use filters::config::{Item, Location};
use filters::{Dict, Str, Value};

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
}

impl Object {
    pub fn type_name(&self) -> &'static str {
        self.type_info.name
    }

    pub fn attr(&self, name: &str) -> Option<&Value> {
        self.attrs.get(name)
    }

    /// An attribute as a string, empty when missing.
    pub fn string(&self, name: &str) -> String {
        match self.attrs.get(name) {
            Some(v) if !v.is_empty() => v.to_display_string(),
            _ => String::new(),
        }
    }
}

/// Objects and templates by type, then by name.
///
/// The maps are persistent (`imbl`): a clone shares structure, so a writer can copy the
/// registry, change it and publish the copy in O(log n) per change.
#[derive(Default, Debug, Clone)]
pub struct Registry {
    objects: HashMap<&'static str, OrdMap<Str, Arc<Object>>>,
    templates: HashMap<&'static str, OrdMap<Str, Arc<Object>>>,
}

impl Registry {
    /// Builds the registry from configuration items, validating types and required
    /// attributes as Icinga's config compiler does.
    ///
    /// # Errors
    /// One message per invalid object, rendered like Icinga's validation errors.
    pub fn from_items(items: Vec<Item>) -> Result<Registry, Vec<String>> {
        let mut reg = Registry::default();
        let mut errors = Vec::new();
        for item in items {
            let Some(ti) = types::by_name(&item.type_name).filter(|t| t.name == &*item.type_name)
            else {
                errors.push(format!(
                    "{}:{}: Type '{}' does not exist.",
                    item.location.path, item.location.first_line, item.type_name
                ));
                continue;
            };
            if ti.is_abstract {
                errors.push(format!(
                    "{}:{}: Type '{}' is abstract and cannot be instantiated.",
                    item.location.path, item.location.first_line, item.type_name
                ));
                continue;
            }
            let object = Object {
                type_info: ti,
                name: item.name.clone(),
                attrs: item.attrs,
                location: item.location,
                package: "_etc".into(),
                original: Dict::new(),
                version: 0.0,
            };
            let map = if item.template {
                &mut reg.templates
            } else {
                &mut reg.objects
            };
            map.entry(ti.name)
                .or_default()
                .insert(item.name, Arc::new(object));
        }
        for object in reg.iter_all() {
            if let Err(e) = reg.validate(object) {
                errors.push(format!(
                    "{}:{}: {e}",
                    object.location.path, object.location.first_line
                ));
            }
        }
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
        for t in ti.lineage() {
            for f in &t.fields {
                let v = object.attrs.get(f.name);
                if f.required && v.is_none_or(|v| v.is_empty()) {
                    // `execute` is implied by `command` for plugin commands.
                    if f.name == "execute" && object.attrs.contains_key("command") {
                        continue;
                    }
                    return fail(f.name, "Attribute must not be empty.".into());
                }
                if let (Some(r), Some(Value::String(name))) = (f.ref_type, v) {
                    if f.type_name == "String" && !name.is_empty() && self.get(r, name).is_none() {
                        return fail(
                            f.name,
                            format!("Object '{name}' of type '{r}' does not exist."),
                        );
                    }
                }
            }
        }
        Ok(())
    }

    /// An object by type and full name.
    pub fn get(&self, type_name: &str, name: &str) -> Option<&Arc<Object>> {
        self.objects.get(type_name)?.get(name)
    }

    /// A template by type and name.
    pub fn template(&self, type_name: &str, name: &str) -> Option<&Arc<Object>> {
        self.templates.get(type_name)?.get(name)
    }

    /// All objects of a type, by name.
    pub fn objects(&self, type_name: &str) -> impl Iterator<Item = &Arc<Object>> {
        self.objects
            .get(type_name)
            .into_iter()
            .flat_map(|m| m.values())
    }

    /// All templates of a type, by name.
    pub fn templates(&self, type_name: &str) -> impl Iterator<Item = &Arc<Object>> {
        self.templates
            .get(type_name)
            .into_iter()
            .flat_map(|m| m.values())
    }

    pub fn count(&self, type_name: &str) -> usize {
        self.objects.get(type_name).map_or(0, |m| m.len())
    }

    /// Adds or replaces an object.
    pub fn insert(&mut self, object: Arc<Object>) {
        self.objects
            .entry(object.type_info.name)
            .or_default()
            .insert(object.name.clone(), object);
    }

    /// Removes an object.
    pub fn remove(&mut self, type_name: &str, name: &str) -> Option<Arc<Object>> {
        self.objects.get_mut(type_name)?.remove(name)
    }

    /// Every object, of every type.
    pub fn iter_all(&self) -> impl Iterator<Item = &Arc<Object>> {
        self.objects.values().flat_map(|m| m.values())
    }
}

impl Object {
    /// A copy with other attributes (the runtime-change path).
    pub fn with_attrs(&self, attrs: Dict, original: Dict, version: f64) -> Object {
        Object {
            type_info: self.type_info,
            name: self.name.clone(),
            attrs,
            location: self.location.clone(),
            package: self.package.clone(),
            original,
            version,
        }
    }
}

impl filters::Object for Object {
    fn type_name(&self) -> &str {
        self.type_info.name
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn get_field(&self, field: &str) -> Option<Value> {
        match field {
            "__name" => Some(Value::String(self.name.clone())),
            "type" => Some(Value::from(self.type_info.name)),
            "package" => Some(Value::String(self.package.clone())),
            _ => match self.attrs.get(field) {
                Some(v) => Some(v.clone()),
                None => self.type_info.field(field).map(|_| Value::Null),
            },
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
