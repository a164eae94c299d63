//! Target selection and object output, shared by `/v1/objects` and `/v1/actions`:
//! names from the URL or parameters, a filter with `filter_vars`, permission filters, and
//! the JSON an object is shown as (`attrs`, `joins`, `meta`).

use std::collections::HashMap;
use std::sync::Arc;

use filters::{Budget, Dict, Program, Scope, Str, Value};
use serde_json::{json, Map, Value as Json};

use super::types::{navigation_name, Field, TypeInfo};
use super::{Object, Registry};
use crate::error::Error;
use crate::params::Params;
use crate::permissions::{Grant, Permissions};
use crate::state::CheckableState;

/// What a filter over objects of one type sees: the object as `<type>` and `obj`, its
/// navigation targets (`host`, `check_command`, …), the `filter_vars`, and
/// `get_object()` over the registry.
pub struct ObjectScope<'a> {
    pub registry: &'a Registry,
    pub object: &'a Arc<Object>,
    /// The object as a value: filters read it by reference.
    pub value: std::borrow::Cow<'a, Value>,
    /// The type's variable name: `host`, `service`, `checkcommand`, …
    pub var_name: &'a str,
    pub vars: &'a Dict,
    /// Whose query this is: `get_object`/`get_objects` reach only the objects these
    /// permissions let the user query. `None` for permission filters themselves (written
    /// by the administrator, they see every object).
    pub viewer: Option<&'a Permissions>,
}

impl<'a> ObjectScope<'a> {
    pub fn new(
        registry: &'a Registry,
        object: &'a Arc<Object>,
        var_name: &'a str,
        vars: &'a Dict,
    ) -> Self {
        let o: Arc<dyn filters::Object> = object.clone();
        ObjectScope {
            registry,
            object,
            value: std::borrow::Cow::Owned(Value::Object(o)),
            var_name,
            vars,
            viewer: None,
        }
    }

    /// A scope over a registry table entry, borrowing its prepared value.
    pub fn borrowed(
        registry: &'a Registry,
        object: &'a Arc<Object>,
        value: &'a Value,
        var_name: &'a str,
        vars: &'a Dict,
    ) -> Self {
        ObjectScope {
            registry,
            object,
            value: std::borrow::Cow::Borrowed(value),
            var_name,
            vars,
            viewer: None,
        }
    }

    /// The same scope with `get_object`/`get_objects` limited to what `viewer` may query.
    pub fn seen_by(mut self, viewer: &'a Permissions) -> Self {
        self.viewer = Some(viewer);
        self
    }
}

impl Scope for ObjectScope<'_> {
    fn variable(&self, name: &str) -> Option<Value> {
        if name == self.var_name || name == "obj" {
            let o: Arc<dyn filters::Object> = self.object.clone();
            return Some(Value::Object(o));
        }
        if let Some(v) = self.vars.get(name) {
            return Some(v.clone());
        }
        navigate(self.registry, self.object, name).map(|o| {
            let o: Arc<dyn filters::Object> = o;
            Value::Object(o)
        })
    }

    fn variable_ref(&self, name: &str) -> Option<&Value> {
        if name == self.var_name || name == "obj" {
            return Some(&self.value);
        }
        if let Some(v) = self.vars.get(name) {
            return Some(v);
        }
        let (target, full) = navigation_target(self.object, name)?;
        self.registry.get_value(target, &full)
    }

    fn get_object(&self, type_name: &str, name: &str) -> Option<Value> {
        let object = self.registry.get(type_name, name)?;
        if let Some(viewer) = self.viewer {
            if !can_view(viewer, self.registry, object) {
                return None;
            }
        }
        let o: Arc<dyn filters::Object> = object.clone();
        Some(Value::Object(o))
    }

    fn get_objects(&self, type_name: &str) -> Vec<Value> {
        match self.viewer {
            None => self.registry.get_objects(type_name),
            Some(viewer) => visible_objects(viewer, self.registry, type_name),
        }
    }
}

/// Whether `viewer` may query `object` (`objects/query/<Type>` with its filters): what
/// `get_object` in a user's filter, joins and event filters may reach.
pub fn can_view(viewer: &Permissions, reg: &Registry, object: &Arc<Object>) -> bool {
    let grant = viewer.grant(&format!("objects/query/{}", object.type_info.name));
    grant_covers(&grant, reg, object)
}

/// `get_objects(type)` as `viewer` sees it: only the objects it may query.
pub fn visible_objects(viewer: &Permissions, reg: &Registry, type_name: &str) -> Vec<Value> {
    let Some(ti) = super::types::by_name(type_name) else {
        return Vec::new();
    };
    let grant = viewer.grant(&format!("objects/query/{}", ti.name));
    reg.objects(ti.name)
        .filter(|o| grant_covers(&grant, reg, o))
        .map(|o| {
            let o: Arc<dyn filters::Object> = o.clone();
            Value::Object(o)
        })
        .collect()
}

/// The object `type_name` named `name` if `viewer` may query it (`None` either way
/// otherwise, as Icinga looks up the objects an action names).
pub fn visible_object(
    viewer: &Permissions,
    reg: &Registry,
    type_name: &str,
    name: &str,
) -> Option<Arc<Object>> {
    let object = reg.get(type_name, name)?;
    let grant = viewer.grant(&format!("objects/query/{}", object.type_info.name));
    grant_covers(&grant, reg, object).then(|| object.clone())
}

/// Whether `grant` covers `object`; the permission filters run only for a filtered grant.
fn grant_covers(grant: &Grant<'_>, reg: &Registry, object: &Arc<Object>) -> bool {
    match grant {
        Grant::All => true,
        Grant::Denied => false,
        Grant::Filtered(_) => {
            let var = object.type_info.name.to_lowercase();
            grant.allows(&permission_scope(reg, object, &var, &Dict::new()))
        }
    }
}

/// The object a navigation name (`host`, `check_command`, `child_host`, …) leads to.
pub fn navigate(reg: &Registry, object: &Object, join: &str) -> Option<Arc<Object>> {
    let (target, full) = navigation_target(object, join)?;
    reg.get(target, &full).cloned()
}

/// The type and full name a navigation name of `object` refers to.
fn navigation_target(object: &Object, join: &str) -> Option<(&'static str, String)> {
    let field = object
        .type_info
        .lineage()
        .flat_map(|t| t.fields.iter())
        .find(|f| f.navigation && navigation_name(f.name) == join)?;
    let target = field.ref_type?;
    let name = match object.attrs.get(field.name) {
        Some(Value::String(s)) if !s.is_empty() => s,
        _ => return None,
    };
    // A service reference is `host!service`, composed from the host field next to it.
    let full = if target == "Service" {
        let host_field = super::types::host_field_beside(field.name);
        format!("{}!{name}", object.string(&host_field))
    } else {
        name.to_string()
    };
    Some((target, full))
}

/// The scope a permission filter sees for `object`.
pub fn permission_scope<'a>(
    reg: &'a Registry,
    object: &'a Arc<Object>,
    var_name: &'a str,
    empty: &'a Dict,
) -> ObjectScope<'a> {
    ObjectScope::new(reg, object, var_name, empty)
}

/// Selects the objects of `ti` a request names or filters (spec §5): `<type>=name`,
/// `<plural>=[names]`, the name in the URL, `filter` with `filter_vars`; nothing at all
/// selects every object of the type. Only objects `grant` allows are returned, and the
/// filter reaches other objects (`get_object`, `get_objects`) only where `viewer` may
/// query them.
///
/// # Errors
/// 404 `No objects found.` for a missing or forbidden named object, a filter that does not
/// compile or fails for an object (the reason goes to `diagnostic_information`).
pub fn select(
    reg: &Registry,
    ti: &'static TypeInfo,
    selection: &Selection,
    grant: &Grant<'_>,
    viewer: &Permissions,
    budget: &Budget,
) -> Result<Vec<Arc<Object>>, Error> {
    let var_name = ti.name.to_lowercase();
    let empty = Dict::new();
    let Selection {
        names,
        filter,
        filter_vars: vars,
    } = selection;
    let mut out = Vec::new();
    for name in names {
        let object = reg.get(ti.name, name).ok_or_else(|| {
            not_found(format!(
                "Object '{name}' of type '{}' does not exist.",
                ti.name
            ))
        })?;
        if !grant.allows(&permission_scope(reg, object, &var_name, &empty)) {
            return Err(not_found(format!(
                "Access denied to object '{name}' of type '{}'",
                ti.name
            )));
        }
        out.push(object.clone());
    }
    if filter.is_none() && !names.is_empty() {
        return Ok(out);
    }
    let program = match filter {
        Some(src) => Some(
            Program::compile(src)
                .map_err(|e| not_found(format!("Invalid filter: {}", e.render(src, "<filter>"))))?,
        ),
        None => None,
    };
    let (objects, values) = reg.objects_with_values(ti.name);
    let unrestricted = matches!(grant, Grant::All);
    // One object's verdict: kept, dropped, or the error that fails the whole query.
    let judge = |i: usize| -> Result<bool, Refusal> {
        // A scan of cheap filters never reaches the evaluator's own looks at the budget.
        if i % 1024 == 0 {
            if let Some(why) = budget.exhausted() {
                return Err(Refusal::Interrupted(why.to_string()));
            }
        }
        let (object, value) = (&objects[i], &values[i]);
        let scope = ObjectScope::borrowed(reg, object, value, &var_name, vars).seen_by(viewer);
        if !unrestricted
            && !grant.allows(&ObjectScope::borrowed(
                reg, object, value, &var_name, &empty,
            ))
        {
            return Ok(false);
        }
        match &program {
            None => Ok(true),
            Some(p) => p.matches_within(&scope, budget).map_err(|e| {
                if e.kind == filters::ErrorKind::Interrupted {
                    return Refusal::Interrupted(e.message);
                }
                Refusal::Failed(format!(
                    "Error while evaluating the filter for object '{}': {}",
                    object.name,
                    p.render_error(&e)
                ))
            }),
        }
    };
    // Large scans run on every core; the order of the results stays the table's.
    let kept: Result<Vec<usize>, Refusal> = if objects.len() >= PARALLEL_SCAN {
        use rayon::prelude::*;
        (0..objects.len())
            .into_par_iter()
            .filter_map(|i| match judge(i) {
                Ok(true) => Some(Ok(i)),
                Ok(false) => None,
                Err(e) => Some(Err(e)),
            })
            .collect()
    } else {
        (0..objects.len())
            .filter_map(|i| match judge(i) {
                Ok(true) => Some(Ok(i)),
                Ok(false) => None,
                Err(e) => Some(Err(e)),
            })
            .collect()
    };
    let kept = kept.map_err(|r| match r {
        Refusal::Failed(why) => not_found(why),
        Refusal::Interrupted(why) => Error::invalid(format!(
            "{why} while filtering objects of type '{}'. Narrow the filter.",
            ti.name
        )),
    })?;
    out.extend(kept.into_iter().map(|i| objects[i].clone()));
    Ok(out)
}

/// Why a selection's scan stopped.
enum Refusal {
    /// The filter failed for an object (Icinga: 404 with the reason).
    Failed(String),
    /// The request's budget ran out, or the request went away.
    Interrupted(String),
}

/// Tables at least this large are scanned in parallel.
const PARALLEL_SCAN: usize = 4096;

/// The answer to a selection that found nothing, with the reason for `verbose`.
fn not_found(why: String) -> Error {
    Error::not_found("No objects found.").with_diagnostic(why)
}

/// What a request selects among the objects of one type: names, and a filter with its
/// variables.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// From the URL, `<type>=` and `<types>=` (e.g. `host=a`, `hosts=a&hosts=b`).
    pub names: Vec<String>,
    /// The filter expression, never blank.
    pub filter: Option<String>,
    /// `filter_vars`: variables the filter sees (JSON types kept).
    pub filter_vars: Dict,
}

impl Selection {
    /// The selection `params` make for objects of `ti`, with the name from the URL.
    ///
    /// # Errors
    /// 404 `No objects found.` for malformed `filter_vars` when a filter runs.
    pub fn from_params(
        ti: &'static TypeInfo,
        params: &Params,
        url_name: Option<&str>,
    ) -> Result<Selection, Error> {
        let mut names: Vec<String> = url_name.map(str::to_string).into_iter().collect();
        names.extend(params.string(&ti.name.to_lowercase()));
        names.extend(params.strings(&ti.plural.to_lowercase()));
        let filter = params.string("filter").filter(|f| !f.trim().is_empty());
        // Only a filter reads the variables (names alone do not).
        let filter_vars = if filter.is_some() || names.is_empty() {
            // From a query string, a JSON text.
            let vars = params
                .dict("filter_vars")
                .map_err(|e| not_found(e.message))?;
            vars.iter()
                .flatten()
                .map(|(k, v)| (Str::from(k.as_str()), Value::from_json(v)))
                .collect()
        } else {
            Dict::new()
        };
        Ok(Selection {
            names,
            filter,
            filter_vars,
        })
    }
}

/// How objects are shown: which attributes, joins and meta.
#[derive(Debug, Default)]
pub struct Shape {
    /// `None`: every attribute.
    pub attrs: Option<Vec<String>>,
    /// Join name → `None` for every attribute of the joined object, or the selected ones.
    pub joins: Vec<(String, Option<Vec<String>>)>,
    pub used_by: bool,
    pub location: bool,
}

impl Shape {
    /// Reads `attrs`, `joins`, `all_joins` and `meta`.
    ///
    /// # Errors
    /// 400 for parameters of the wrong type or unknown joins and meta.
    pub fn from_params(ti: &'static TypeInfo, params: &Params) -> Result<Shape, Error> {
        let mut shape = Shape::default();
        if let Some(attrs) = params.array("attrs")? {
            let mut names = Vec::new();
            for a in attrs {
                // `host.name` style is accepted as `name` for the queried type.
                let a = a.as_str().unwrap_or_default().to_string();
                let a = match a.split_once('.') {
                    Some((prefix, rest)) if prefix.eq_ignore_ascii_case(ti.name) => rest.into(),
                    _ => a,
                };
                names.push(a);
            }
            shape.attrs = Some(names);
        }
        let mut joins: Vec<String> = params
            .array("joins")?
            .unwrap_or_default()
            .iter()
            .filter_map(|j| j.as_str().map(str::to_string))
            .collect();
        if params.flag("all_joins") {
            for f in ti
                .lineage()
                .flat_map(|t| t.fields.iter())
                .filter(|f| f.navigation)
            {
                joins.push(navigation_name(f.name).to_string());
            }
        }
        let mut grouped: Vec<(String, Option<Vec<String>>)> = Vec::new();
        for j in joins {
            let (join, attr) = match j.split_once('.') {
                Some((a, b)) => (a.to_string(), Some(b.to_string())),
                None => (j.clone(), None),
            };
            let valid = ti
                .lineage()
                .flat_map(|t| t.fields.iter())
                .any(|f| f.navigation && navigation_name(f.name) == join);
            if !valid {
                return Err(Error::invalid(format!(
                    "Invalid field specified for join: {join}"
                )));
            }
            match grouped.iter_mut().find(|(n, _)| *n == join) {
                Some((_, sel)) => match (sel.as_mut(), attr) {
                    (Some(list), Some(a)) => list.push(a),
                    (_, None) => *sel = None,
                    (None, Some(_)) => {}
                },
                None => grouped.push((join, attr.map(|a| vec![a]))),
            }
        }
        shape.joins = grouped;
        for m in params.array("meta")?.unwrap_or_default() {
            match m.as_str() {
                Some("used_by") => shape.used_by = true,
                Some("location") => shape.location = true,
                other => {
                    return Err(Error::invalid(format!(
                        "Invalid field specified for meta: {}",
                        other.unwrap_or_default()
                    )))
                }
            }
        }
        Ok(shape)
    }
}

/// Who refers to whom: object → the objects whose navigation fields name it.
pub type UsedBy = HashMap<(&'static str, Str), Vec<(&'static str, Str)>>;

/// Builds the `used_by` index with one pass over the registry.
pub fn used_by_index(reg: &Registry) -> UsedBy {
    let mut index: UsedBy = HashMap::new();
    for o in reg.iter_all() {
        for f in o.type_info.lineage().flat_map(|t| t.fields.iter()) {
            if !f.navigation {
                continue;
            }
            if let Some(target) = navigate(reg, o, navigation_name(f.name)) {
                index
                    .entry((target.type_info.name, target.name.clone()))
                    .or_default()
                    .push((o.type_info.name, o.name.clone()));
            }
        }
        // Group memberships count as uses, as in Icinga.
        if let Some(Value::Array(groups)) = o.attrs.get("groups") {
            let group_type = match o.type_info.name {
                "Host" => "HostGroup",
                "Service" => "ServiceGroup",
                "User" => "UserGroup",
                _ => continue,
            };
            for g in groups.iter() {
                index
                    .entry((group_type, Str::from(g.to_display_string())))
                    .or_default()
                    .push((o.type_info.name, o.name.clone()));
            }
        }
    }
    index
}

/// The context object output needs.
pub struct Output<'a> {
    pub registry: &'a Registry,
    /// The zone objects are in when they name none (the node's zone).
    pub zone: &'a str,
    /// Whether the user may see joined objects of a type (permission filters apply).
    pub can_join: &'a dyn Fn(&Arc<Object>) -> bool,
    pub used_by: Option<&'a UsedBy>,
}

impl Output<'_> {
    /// The result item of one object.
    pub fn item(&self, object: &Arc<Object>, shape: &Shape) -> Json {
        let attrs = match &shape.attrs {
            None => Json::Object(all_attrs(object, self.zone)),
            Some(names) => {
                let rt = runtime(object);
                let mut m = Map::new();
                for n in names {
                    match attr_in(object, n, self.zone, rt.as_deref()) {
                        Some(v) => {
                            m.insert(n.clone(), v);
                        }
                        None => {
                            return json!({
                                "type": object.type_info.name,
                                "name": object.name.to_string(),
                                "code": 400,
                                "status": format!("Invalid field specified: {n}"),
                            })
                        }
                    }
                }
                Json::Object(m)
            }
        };
        let mut joins = Map::new();
        for (join, sel) in &shape.joins {
            let Some(target) = navigate(self.registry, object, join) else {
                continue;
            };
            if !(self.can_join)(&target) {
                continue;
            }
            let value = match sel {
                None => Json::Object(all_attrs(&target, self.zone)),
                Some(names) => {
                    let rt = runtime(&target);
                    Json::Object(
                        names
                            .iter()
                            .filter_map(|n| {
                                Some((n.clone(), attr_in(&target, n, self.zone, rt.as_deref())?))
                            })
                            .collect(),
                    )
                }
            };
            joins.insert(join.clone(), value);
        }
        let mut meta = Map::new();
        if shape.used_by {
            let users: Vec<Json> = self
                .used_by
                .and_then(|u| u.get(&(object.type_info.name, object.name.clone())))
                .map(|v| {
                    v.iter()
                        .map(|(t, n)| json!({"type": t, "name": n.to_string()}))
                        .collect()
                })
                .unwrap_or_default();
            meta.insert("used_by".into(), Json::Array(users));
        }
        if shape.location {
            meta.insert("location".into(), location(object));
        }
        json!({
            "name": object.name.to_string(),
            "type": object.type_info.name,
            "attrs": attrs,
            "joins": joins,
            "meta": meta,
        })
    }
}

fn location(object: &Object) -> Json {
    let l = &object.location;
    json!({
        "path": l.path.to_string(),
        "first_line": l.first_line,
        "first_column": l.first_column,
        "last_line": l.last_line,
        "last_column": l.last_column,
    })
}

/// The runtime state of an object, read once for all the attributes shown.
fn runtime(object: &Object) -> Option<Arc<CheckableState>> {
    object.runtime.as_ref().map(|r| r.get())
}

/// Every user-visible attribute of an object.
pub fn all_attrs(object: &Object, zone: &str) -> Map<String, Json> {
    let rt = runtime(object);
    let mut m = Map::new();
    for t in object.type_info.lineage() {
        for f in &t.fields {
            if !f.no_user_view {
                m.insert(
                    f.name.to_string(),
                    field_value(object, f, zone, rt.as_deref()),
                );
            }
        }
    }
    m.insert("type".into(), json!(object.type_info.name));
    m
}

/// Every user-visible attribute of an object, serialised straight from the object in
/// the order [`all_attrs`] gives them (by name) — for events, which need the bytes, not
/// a tree.
pub struct AttrsView<'a> {
    pub object: &'a Object,
    pub zone: &'a str,
}

impl serde::Serialize for AttrsView<'_> {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let o = self.object;
        let rt = runtime(o);
        let fields = o.type_info.viewed_fields();
        let mut map = ser.serialize_map(Some(fields.len() + 1))?;
        let mut typed = false;
        for f in fields {
            if !typed && f.name > "type" {
                map.serialize_entry("type", o.type_info.name)?;
                typed = true;
            }
            // Configured values serialise as they are; the rest as the API shows them.
            match o.attrs.get(f.name) {
                Some(v) if !SHOWN_SPECIALLY.contains(&f.name) => map.serialize_entry(f.name, v)?,
                _ => map.serialize_entry(f.name, &field_value(o, f, self.zone, rt.as_deref()))?,
            }
        }
        if !typed {
            map.serialize_entry("type", o.type_info.name)?;
        }
        map.end()
    }
}

/// Fields whose shown value is not simply the configured one (see [`field_value`]).
const SHOWN_SPECIALLY: &[&str] = &[
    "__name",
    "package",
    "version",
    "source_location",
    "original_attributes",
    "zone",
    "display_name",
];

/// One attribute as the API shows it; `None` when the type has no such field (or the
/// field is hidden).
fn attr_in(object: &Object, name: &str, zone: &str, rt: Option<&CheckableState>) -> Option<Json> {
    if name == "type" {
        return Some(json!(object.type_info.name));
    }
    let field = object.type_info.field(name)?;
    (!field.no_user_view).then(|| field_value(object, field, zone, rt))
}

/// The value of a field: the object's own attributes, its runtime state, the type's
/// default.
fn field_value(object: &Object, field: &Field, zone: &str, rt: Option<&CheckableState>) -> Json {
    match field.name {
        "__name" => json!(object.name.to_string()),
        "package" => json!(object.package.to_string()),
        "version" => json!(object.version),
        "source_location" => location(object),
        "original_attributes" if object.original.is_empty() => Json::Null,
        "original_attributes" => Value::from(object.original.clone()).to_serde(),
        // As Icinga: a configured zone (`zones.d/<zone>/`, or the attribute), the local
        // zone for objects created through the API, none for the others.
        "zone" => json!(object.zone(zone).unwrap_or("")),
        "display_name" => match object.attrs.get("display_name") {
            Some(d) if !d.is_empty() => d.to_serde(),
            _ => json!(object.string("name")),
        },
        name => match (object.attrs.get(name), rt) {
            (Some(v), _) => v.to_serde(),
            // The check result document serialises straight from its typed form.
            (None, Some(rt)) if name == "last_check_result" => rt
                .last_check_result
                .as_ref()
                .and_then(|r| serde_json::to_value(&**r).ok())
                .unwrap_or(Json::Null),
            (None, Some(rt)) => object
                .runtime_field(rt, name)
                .map_or_else(|| field.default.clone(), |v| v.to_serde()),
            (None, None) => field.default.clone(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The streamed view serialises exactly as the attribute map does.
    #[test]
    fn attrs_view_matches_all_attrs() -> Result<(), String> {
        let ti = crate::objects::types::by_name("Downtime").ok_or("no Downtime type")?;
        let mut attrs = filters::Dict::new();
        attrs.insert("author".into(), filters::Value::from("ops"));
        attrs.insert("start_time".into(), filters::Value::Number(1.5));
        let o = crate::objects::runtime_object(ti, "h!s!x", attrs);
        let view = serde_json::to_value(AttrsView {
            object: &o,
            zone: "z",
        })
        .map_err(|e| e.to_string())?;
        assert_eq!(view, Json::Object(all_attrs(&o, "z")));
        let text = serde_json::to_string(&AttrsView {
            object: &o,
            zone: "z",
        })
        .map_err(|e| e.to_string())?;
        assert_eq!(text, Json::Object(all_attrs(&o, "z")).to_string());
        Ok(())
    }
}
