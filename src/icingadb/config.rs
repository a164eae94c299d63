//! The configuration objects as Icinga DB reads them from Redis: one row per object in
//! `icinga:<type>` (with its checksum in `icinga:checksum:<type>`), and the rows of its
//! relations — custom variables, group members, command arguments and environment,
//! time period ranges, includes and excludes, notification recipients, URLs and icons —
//! each with the ids and attributes Icinga 2 writes.

use std::collections::BTreeSet;

use serde_json::{json, Map, Value as Json};

use super::pack::{hash, hash_strs, number, object_id, sha1_hex};
use crate::objects::{Object, Registry};

/// The types Icinga DB reads, in the order Icinga dumps them (states first).
pub const TYPES: [&str; 15] = [
    "Host",
    "Service",
    "Downtime",
    "Comment",
    "HostGroup",
    "ServiceGroup",
    "CheckCommand",
    "Endpoint",
    "EventCommand",
    "Notification",
    "NotificationCommand",
    "TimePeriod",
    "User",
    "UserGroup",
    "Zone",
];

/// The keys shared by all types (written once per distinct row).
pub const GLOBAL_KEYS: [&str; 4] = [
    "icinga:customvar",
    "icinga:action:url",
    "icinga:notes:url",
    "icinga:icon:image",
];

/// One row of a Redis hash.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// The hash (`icinga:host`, `icinga:host:customvar`, …).
    pub key: String,
    pub id: String,
    pub data: Map<String, Json>,
    /// For hashes with a checksum hash beside them (`icinga:checksum:…`): the row's
    /// checksum.
    pub checksum: Option<String>,
}

impl Row {
    fn new(key: String, id: String, data: Map<String, Json>) -> Row {
        Row {
            key,
            id,
            data,
            checksum: None,
        }
    }
}

/// The lower-case type name Icinga DB uses in keys.
pub fn type_key(type_name: &str) -> String {
    type_name.to_ascii_lowercase()
}

/// The hashes of a type's relations (`icinga:<type><suffix>`), each with whether a
/// checksum hash stands beside it.
fn relations(type_name: &str) -> &'static [(&'static str, bool)] {
    match type_name {
        "Host" | "Service" => &[("group:member", false), (":state", true)],
        "User" => &[("group:member", false)],
        "TimePeriod" => &[
            (":override:include", false),
            (":override:exclude", false),
            (":range", false),
        ],
        "Notification" => &[
            (":user", false),
            (":usergroup", false),
            (":recipient", false),
        ],
        "CheckCommand" | "NotificationCommand" | "EventCommand" => {
            &[(":envvar", true), (":argument", true)]
        }
        _ => &[],
    }
}

/// The keys a type's dump rewrites whole (deleted first), besides its own hash: its
/// custom variables and relations, with their checksums.
pub fn overwrite_keys(type_name: &str) -> Vec<String> {
    let t = type_key(type_name);
    let mut keys = vec![format!("icinga:{t}:customvar")];
    for (suffix, checksum) in relations(type_name) {
        keys.push(format!("icinga:{t}{suffix}"));
        if *checksum {
            keys.push(format!("icinga:checksum:{t}{suffix}"));
        }
    }
    keys
}

/// The keys whose dump the `icinga:dump` stream reports done for a type.
pub fn dump_signal_keys(type_name: &str) -> Vec<String> {
    let t = type_key(type_name);
    let mut keys = vec![format!("icinga:{t}")];
    if has_vars(type_name) {
        keys.push(format!("icinga:{t}:customvar"));
    }
    keys.extend(
        relations(type_name)
            .iter()
            .map(|(suffix, _)| format!("icinga:{t}{suffix}")),
    );
    keys
}

/// Whether objects of the type have custom variables (Icinga's `CustomVarObject`).
pub fn has_vars(type_name: &str) -> bool {
    crate::objects::types::by_name(type_name).is_some_and(|t| t.field("vars").is_some())
}

/// What rows are built from: the environment and the objects.
pub struct Context<'a> {
    pub environment: &'a str,
    pub registry: &'a Registry,
    /// The node's zone (objects created through the API are in it).
    pub local_zone: &'a str,
    /// The node's own endpoint, when the configuration declares it.
    pub local_endpoint: Option<&'a str>,
    /// Now (whether downtimes are in effect).
    pub now: f64,
}

impl Context<'_> {
    pub fn id(&self, name: &str) -> String {
        object_id(self.environment, name)
    }

    fn base(&self, o: &Object) -> Map<String, Json> {
        let mut m = Map::new();
        m.insert("name_checksum".into(), json!(sha1_hex(o.name.as_bytes())));
        m.insert("environment_id".into(), json!(self.environment));
        m.insert("name".into(), json!(o.name.to_string()));
        let zone = if o.type_info.name == "Endpoint" {
            self.registry
                .objects("Zone")
                .find(|z| {
                    matches!(z.attr("endpoints"), Some(filters::Value::Array(eps))
                        if eps.iter().any(|e| e.to_display_string() == *o.name))
                })
                .map(|z| z.name.to_string())
        } else {
            o.zone(self.local_zone)
                .filter(|z| self.registry.get("Zone", z).is_some())
                .map(str::to_string)
        };
        if let Some(zone) = zone {
            m.insert("zone_id".into(), json!(self.id(&zone)));
            m.insert("zone_name".into(), json!(zone));
        }
        m
    }

    /// The object's own row and the rows of its relations. Globals (custom variables,
    /// URLs, icons) come once per distinct row when `seen` is given (the dump), always
    /// without (a runtime update).
    pub fn rows(&self, o: &Object, mut seen: Option<&mut BTreeSet<String>>) -> Vec<Row> {
        let t = type_key(o.type_info.name);
        let mut rows = Vec::new();
        let mut attrs = self.base(o);
        self.relations(o, &t, &mut rows, &mut seen);
        self.attributes(o, &mut attrs);
        let checksum = hash(&Json::Object(attrs.clone()));
        rows.insert(
            0,
            Row {
                key: format!("icinga:{t}"),
                id: self.id(&o.name),
                data: attrs,
                checksum: Some(checksum),
            },
        );
        rows
    }

    /// Icinga's type-specific attributes of the object's own row.
    fn attributes(&self, o: &Object, m: &mut Map<String, Json>) {
        let attr = |name: &str| o.attr_or_default(name).map_or(Json::Null, |v| v.to_serde());
        let text = |name: &str| json!(o.string_or_default(name));
        let num = |name: &str, default: f64| number(o.number(name, default));
        let flag = |name: &str, default: bool| json!(o.flag(name, default));
        let link =
            |m: &mut Map<String, Json>, attr_name: &str, id_key: &str, name_key: Option<&str>| {
                let target = o.string(attr_name);
                if !target.is_empty() {
                    m.insert(id_key.into(), json!(self.id(&target)));
                    if let Some(k) = name_key {
                        m.insert(k.into(), json!(target));
                    }
                }
            };
        match o.type_info.name {
            "Zone" => {
                m.insert("is_global".into(), flag("global", false));
                link(m, "parent", "parent_id", None);
                let mut depth = 0;
                let mut parent = o.string("parent");
                let mut seen = BTreeSet::new();
                while !parent.is_empty() && seen.insert(parent.clone()) {
                    depth += 1;
                    parent = self
                        .registry
                        .get("Zone", &parent)
                        .map(|z| z.string("parent"))
                        .unwrap_or_default();
                }
                m.insert("depth".into(), json!(depth));
            }
            "Host" | "Service" => {
                let command = o.string("check_command");
                m.insert("checkcommand_name".into(), json!(command));
                m.insert("max_check_attempts".into(), num("max_check_attempts", 3.0));
                m.insert("check_timeout".into(), attr("check_timeout"));
                m.insert("check_interval".into(), num("check_interval", 300.0));
                m.insert("check_retry_interval".into(), num("retry_interval", 60.0));
                m.insert(
                    "active_checks_enabled".into(),
                    flag("enable_active_checks", true),
                );
                m.insert(
                    "passive_checks_enabled".into(),
                    flag("enable_passive_checks", true),
                );
                m.insert(
                    "event_handler_enabled".into(),
                    flag("enable_event_handler", true),
                );
                m.insert(
                    "notifications_enabled".into(),
                    flag("enable_notifications", true),
                );
                m.insert("flapping_enabled".into(), flag("enable_flapping", false));
                m.insert(
                    "flapping_threshold_low".into(),
                    num("flapping_threshold_low", 25.0),
                );
                m.insert(
                    "flapping_threshold_high".into(),
                    num("flapping_threshold_high", 30.0),
                );
                m.insert("perfdata_enabled".into(), flag("enable_perfdata", true));
                m.insert("is_volatile".into(), flag("volatile", false));
                m.insert("notes".into(), text("notes"));
                m.insert("icon_image_alt".into(), text("icon_image_alt"));
                m.insert("checkcommand_id".into(), json!(self.id(&command)));
                link(
                    m,
                    "command_endpoint",
                    "command_endpoint_id",
                    Some("command_endpoint_name"),
                );
                link(
                    m,
                    "check_period",
                    "check_timeperiod_id",
                    Some("check_timeperiod_name"),
                );
                link(
                    m,
                    "event_command",
                    "eventcommand_id",
                    Some("eventcommand_name"),
                );
                for (field, key) in [
                    ("action_url", "action_url_id"),
                    ("notes_url", "notes_url_id"),
                    ("icon_image", "icon_image_id"),
                ] {
                    let url = o.string(field);
                    if !url.is_empty() {
                        m.insert(key.into(), json!(hash_strs(&[self.environment, &url])));
                    }
                }
                if o.type_info.name == "Service" {
                    let host = o.string("host_name");
                    let short = o.string("name");
                    m.insert("host_id".into(), json!(self.id(&host)));
                    m.insert("display_name".into(), json!(display_name(o, &short)));
                    m.insert("name".into(), json!(short));
                } else {
                    m.insert("display_name".into(), json!(display_name(o, &o.name)));
                    m.insert("address".into(), text("address"));
                    m.insert("address6".into(), text("address6"));
                }
            }
            "User" => {
                m.insert("display_name".into(), json!(display_name(o, &o.name)));
                m.insert("email".into(), text("email"));
                m.insert("pager".into(), text("pager"));
                m.insert(
                    "notifications_enabled".into(),
                    flag("enable_notifications", true),
                );
                m.insert("states".into(), attr("states"));
                m.insert("types".into(), attr("types"));
                link(m, "period", "timeperiod_id", None);
            }
            "TimePeriod" => {
                m.insert("display_name".into(), json!(display_name(o, &o.name)));
                m.insert("prefer_includes".into(), flag("prefer_includes", true));
            }
            "Notification" => {
                m.insert(
                    "notificationcommand_id".into(),
                    json!(self.id(&o.string("command"))),
                );
                let (host, service) = checkable_of(o);
                m.insert("host_id".into(), json!(self.id(&host)));
                if let Some(service) = service {
                    m.insert("service_id".into(), json!(self.id(&service)));
                }
                link(m, "period", "timeperiod_id", None);
                if let Some(filters::Value::Dict(times)) = o.attr("times") {
                    let get = |k: &str| times.get(k).map_or(Json::Null, |v| v.to_serde());
                    m.insert("times_begin".into(), get("begin"));
                    m.insert("times_end".into(), get("end"));
                }
                m.insert("notification_interval".into(), num("interval", 1800.0));
                m.insert("states".into(), attr("states"));
                m.insert("types".into(), attr("types"));
            }
            "Comment" => {
                m.insert("author".into(), text("author"));
                m.insert("text".into(), text("text"));
                m.insert("entry_type".into(), num("entry_type", 1.0));
                m.insert(
                    "entry_time".into(),
                    json!(millis(o.number("entry_time", 0.0))),
                );
                m.insert("is_persistent".into(), flag("persistent", false));
                m.insert("is_sticky".into(), flag("sticky", false));
                self.object_of(o, m);
                let expire = o.number("expire_time", 0.0);
                if expire > 0.0 {
                    m.insert("expire_time".into(), json!(millis(expire)));
                }
            }
            "Downtime" => self.downtime(o, m),
            "UserGroup" | "HostGroup" | "ServiceGroup" => {
                m.insert("display_name".into(), json!(display_name(o, &o.name)));
            }
            "CheckCommand" | "NotificationCommand" | "EventCommand" => {
                m.insert(
                    "command".into(),
                    json!(super::pack::encode(&attr("command"))),
                );
                m.insert("timeout".into(), num("timeout", 60.0));
            }
            _ => {}
        }
    }

    /// `host_id`, `object_type` and `service_id` of a comment or downtime.
    fn object_of(&self, o: &Object, m: &mut Map<String, Json>) {
        let (host, service) = checkable_of(o);
        m.insert("host_id".into(), json!(self.id(&host)));
        match service {
            Some(service) => {
                m.insert("object_type".into(), json!("service"));
                m.insert("service_id".into(), json!(self.id(&service)));
            }
            None => {
                m.insert("object_type".into(), json!("host"));
            }
        }
    }

    fn downtime(&self, o: &Object, m: &mut Map<String, Json>) {
        let start = o.number("start_time", 0.0);
        let end = o.number("end_time", 0.0);
        let fixed = o.flag("fixed", true);
        let duration = o.number("duration", 0.0);
        let trigger = o.number("trigger_time", 0.0);
        m.insert("author".into(), json!(o.string("author")));
        m.insert("comment".into(), json!(o.string("comment")));
        m.insert(
            "entry_time".into(),
            json!(millis(o.number("entry_time", 0.0))),
        );
        m.insert("scheduled_start_time".into(), json!(millis(start)));
        m.insert("scheduled_end_time".into(), json!(millis(end)));
        m.insert("scheduled_duration".into(), json!(millis(end - start)));
        m.insert("flexible_duration".into(), json!(millis(duration)));
        m.insert("is_flexible".into(), json!(!fixed));
        let in_effect = downtime_in_effect(o, self.now);
        m.insert("is_in_effect".into(), json!(in_effect));
        if in_effect {
            m.insert("start_time".into(), json!(millis(trigger)));
            let until = if fixed { end } else { trigger + duration };
            m.insert("end_time".into(), json!(millis(until)));
        }
        let span = if fixed { end - start } else { duration };
        m.insert("duration".into(), json!(millis(span)));
        self.object_of(o, m);
        let by = o.string("triggered_by");
        if !by.is_empty() && self.registry.get("Downtime", &by).is_some() {
            m.insert("triggered_by_id".into(), json!(self.id(&by)));
        }
        let scheduled_by = o.string("scheduled_by");
        if !scheduled_by.is_empty() {
            m.insert("scheduled_by".into(), json!(scheduled_by));
        }
        let parent = o.string("parent");
        if !parent.is_empty() && self.registry.get("Downtime", &parent).is_some() {
            m.insert("parent_id".into(), json!(self.id(&parent)));
        }
    }

    /// The rows of the object's relations.
    fn relations(
        &self,
        o: &Object,
        t: &str,
        rows: &mut Vec<Row>,
        seen: &mut Option<&mut BTreeSet<String>>,
    ) {
        let env = self.environment;
        let own_key = format!("{t}_id");
        let own_id = self.id(&o.name);
        let mut global = |rows: &mut Vec<Row>, key: &str, id: String, data: Map<String, Json>| {
            let new = seen
                .as_deref_mut()
                .is_none_or(|s| s.insert(format!("{key} {id}")));
            if new {
                rows.push(Row::new(key.into(), id, data));
            }
        };
        if let Some(filters::Value::Dict(vars)) = o.attr("vars") {
            for (name, value) in vars.iter() {
                let var_id = hash(&json!([env, name.to_string(), packed(value)]));
                let mut data = Map::new();
                data.insert("environment_id".into(), json!(env));
                data.insert("name_checksum".into(), json!(sha1_hex(name.as_bytes())));
                data.insert("name".into(), json!(name.to_string()));
                data.insert("value".into(), json!(super::pack::encode(&encoded(value))));
                global(rows, "icinga:customvar", var_id.clone(), data);
                let mut link = Map::new();
                link.insert(own_key.clone(), json!(own_id));
                link.insert("environment_id".into(), json!(env));
                link.insert("customvar_id".into(), json!(var_id));
                rows.push(Row::new(
                    format!("icinga:{t}:customvar"),
                    hash_strs(&[env, &var_id, &o.name]),
                    link,
                ));
            }
        }
        match o.type_info.name {
            "Host" | "Service" => {
                for (field, key, value_key) in [
                    ("action_url", "icinga:action:url", "action_url"),
                    ("notes_url", "icinga:notes:url", "notes_url"),
                    ("icon_image", "icinga:icon:image", "icon_image"),
                ] {
                    let url = o.string(field);
                    if !url.is_empty() {
                        let mut data = Map::new();
                        data.insert("environment_id".into(), json!(env));
                        data.insert(value_key.into(), json!(url));
                        global(rows, key, hash_strs(&[env, &url]), data);
                    }
                }
                let group_type = format!("{}Group", o.type_info.name);
                for group in string_list(o, "groups") {
                    if self.registry.get(&group_type, &group).is_none() {
                        continue;
                    }
                    let mut data = Map::new();
                    data.insert(own_key.clone(), json!(own_id));
                    data.insert("environment_id".into(), json!(env));
                    data.insert(format!("{t}group_id"), json!(self.id(&group)));
                    rows.push(Row::new(
                        format!("icinga:{t}group:member"),
                        hash_strs(&[env, &group, &o.name]),
                        data,
                    ));
                }
            }
            "TimePeriod" => {
                if let Some(filters::Value::Dict(ranges)) = o.attr("ranges") {
                    for (k, v) in ranges.iter() {
                        let v = v.to_serde();
                        let mut data = Map::new();
                        data.insert("environment_id".into(), json!(env));
                        data.insert("timeperiod_id".into(), json!(own_id));
                        data.insert("range_key".into(), json!(k.to_string()));
                        data.insert("range_value".into(), v.clone());
                        rows.push(Row::new(
                            format!("icinga:{t}:range"),
                            hash(&json!([env, k.to_string(), v, o.name.to_string()])),
                            data,
                        ));
                    }
                }
                for (field, suffix, id_key) in [
                    ("includes", "override:include", "include_id"),
                    ("excludes", "override:exclude", "exclude_id"),
                ] {
                    for other in string_list(o, field) {
                        let mut data = Map::new();
                        data.insert("environment_id".into(), json!(env));
                        data.insert("timeperiod_id".into(), json!(own_id));
                        data.insert(id_key.into(), json!(self.id(&other)));
                        rows.push(Row::new(
                            format!("icinga:{t}:{suffix}"),
                            hash_strs(&[env, &other, &o.name]),
                            data,
                        ));
                    }
                }
            }
            "User" => {
                for group in string_list(o, "groups") {
                    if self.registry.get("UserGroup", &group).is_none() {
                        continue;
                    }
                    let mut data = Map::new();
                    data.insert("user_id".into(), json!(own_id));
                    data.insert("environment_id".into(), json!(env));
                    data.insert("usergroup_id".into(), json!(self.id(&group)));
                    rows.push(Row::new(
                        format!("icinga:{t}group:member"),
                        hash_strs(&[env, &group, &o.name]),
                        data,
                    ));
                }
            }
            "Notification" => self.recipients(o, t, &own_id, rows),
            "CheckCommand" | "NotificationCommand" | "EventCommand" => {
                self.command_rows(o, t, &own_key, &own_id, rows);
            }
            _ => {}
        }
    }

    /// A notification's users, user groups, and every recipient (users, groups, and the
    /// groups' members).
    fn recipients(&self, o: &Object, t: &str, own_id: &str, rows: &mut Vec<Row>) {
        let env = self.environment;
        let base = |m: &mut Map<String, Json>| {
            m.insert("notification_id".into(), json!(own_id));
            m.insert("environment_id".into(), json!(env));
        };
        let users: BTreeSet<String> = string_list(o, "users")
            .into_iter()
            .filter(|u| self.registry.get("User", u).is_some())
            .collect();
        for user in &users {
            let mut data = Map::new();
            base(&mut data);
            data.insert("user_id".into(), json!(self.id(user)));
            let id = hash_strs(&[env, "user", user, &o.name]);
            rows.push(Row::new(
                format!("icinga:{t}:user"),
                id.clone(),
                data.clone(),
            ));
            rows.push(Row::new(format!("icinga:{t}:recipient"), id, data));
        }
        let groups: BTreeSet<String> = string_list(o, "user_groups")
            .into_iter()
            .filter(|g| self.registry.get("UserGroup", g).is_some())
            .collect();
        for group in &groups {
            let group_id = self.id(group);
            let mut data = Map::new();
            base(&mut data);
            data.insert("usergroup_id".into(), json!(group_id));
            let id = hash_strs(&[env, "usergroup", group, &o.name]);
            rows.push(Row::new(
                format!("icinga:{t}:usergroup"),
                id.clone(),
                data.clone(),
            ));
            rows.push(Row::new(format!("icinga:{t}:recipient"), id, data));
            for member in self.registry.objects("User") {
                if !string_list(member, "groups").contains(group) {
                    continue;
                }
                let mut data = Map::new();
                base(&mut data);
                data.insert("user_id".into(), json!(self.id(&member.name)));
                data.insert("usergroup_id".into(), json!(group_id));
                rows.push(Row::new(
                    format!("icinga:{t}:recipient"),
                    hash_strs(&[env, "usergroupuser", &member.name, group, &o.name]),
                    data,
                ));
            }
        }
    }

    /// A command's arguments and environment variables, each with its checksum.
    fn command_rows(&self, o: &Object, t: &str, own_key: &str, own_id: &str, rows: &mut Vec<Row>) {
        let env = self.environment;
        for (field, suffix, key_name) in [
            ("arguments", "argument", "argument_key"),
            ("env", "envvar", "envvar_key"),
        ] {
            let Some(filters::Value::Dict(entries)) = o.attr(field) else {
                continue;
            };
            for (k, raw) in entries.iter() {
                let mut values = match raw {
                    filters::Value::Dict(d) => {
                        d.iter().map(|(k, v)| (k.to_string(), encoded(v))).collect()
                    }
                    filters::Value::Array(_) => {
                        let mut m = Map::new();
                        m.insert("value".into(), json!(super::pack::encode(&encoded(raw))));
                        m
                    }
                    other => {
                        let mut m = Map::new();
                        m.insert("value".into(), encoded(other));
                        m
                    }
                };
                if suffix == "argument" {
                    for a in ["value", "set_if", "separator"] {
                        if let Some(v) = values.get_mut(a) {
                            if !matches!(v, Json::String(_) | Json::Null) {
                                *v = json!(super::pack::encode(v));
                            }
                        }
                    }
                    if let Some(order) = values.get_mut("order") {
                        let n = order.as_f64().unwrap_or(0.0).trunc();
                        *order = number(n);
                    }
                } else if let Some(v) = values.get_mut("value") {
                    *v = json!(super::pack::encode(v));
                }
                values.insert(own_key.into(), json!(own_id));
                values.insert(key_name.into(), json!(k.to_string()));
                values.insert("environment_id".into(), json!(env));
                rows.push(Row {
                    key: format!("icinga:{t}:{suffix}"),
                    id: hash_strs(&[env, k, &o.name]),
                    data: values,
                    checksum: Some(hash(&packed(raw))),
                });
            }
        }
    }
}

/// A value as Icinga encodes it into JSON: functions (and other objects) as their
/// description `Object of type '…'`.
fn encoded(v: &filters::Value) -> Json {
    match v {
        filters::Value::Function(_) => json!("Object of type 'Function'"),
        filters::Value::Type(_) => json!("Object of type 'Type'"),
        filters::Value::Array(items) => items.iter().map(encoded).collect(),
        filters::Value::Dict(d) => {
            Json::Object(d.iter().map(|(k, v)| (k.to_string(), encoded(v))).collect())
        }
        other => other.to_serde(),
    }
}

/// A value as Icinga packs it for a hash: functions (and other objects) as null.
fn packed(v: &filters::Value) -> Json {
    match v {
        filters::Value::Function(_) | filters::Value::Type(_) | filters::Value::Object(_) => {
            Json::Null
        }
        filters::Value::Array(items) => items.iter().map(packed).collect(),
        filters::Value::Dict(d) => {
            Json::Object(d.iter().map(|(k, v)| (k.to_string(), packed(v))).collect())
        }
        other => other.to_serde(),
    }
}

/// A display name, or the name when it is not set.
fn display_name(o: &Object, name: &str) -> String {
    match o.string("display_name") {
        d if d.is_empty() => name.to_string(),
        d => d,
    }
}

/// A list attribute's items as strings.
pub fn string_list(o: &Object, field: &str) -> Vec<String> {
    match o.attr(field) {
        Some(filters::Value::Array(items)) => items
            .iter()
            .map(filters::Value::to_display_string)
            .collect(),
        _ => Vec::new(),
    }
}

/// The host and (for services) the full service name an object belongs to.
pub fn checkable_of(o: &Object) -> (String, Option<String>) {
    let host = o.string("host_name");
    match o.string("service_name") {
        s if s.is_empty() => (host, None),
        s => (host.clone(), Some(format!("{host}!{s}"))),
    }
}

/// Icinga's `TimestampToMilliseconds`.
pub fn millis(t: f64) -> i64 {
    (t * 1000.0) as i64
}

/// Whether a downtime is in effect at `now`: within its window, and for a flexible one
/// triggered and within its duration.
pub fn downtime_in_effect(o: &Object, now: f64) -> bool {
    let (start, end) = (o.number("start_time", 0.0), o.number("end_time", 0.0));
    if now < start || now > end {
        return false;
    }
    if o.flag("fixed", true) {
        return true;
    }
    let trigger = o.number("trigger_time", 0.0);
    trigger != 0.0 && now < trigger + o.number("duration", 0.0)
}
