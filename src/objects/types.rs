//! Object type metadata: what `/v1/types` reports and what the registry validates
//! against. The table is written in `types.txt` and parsed once.

use std::sync::LazyLock;

use serde_json::{json, Value as Json};

/// One field of a type.
#[derive(Debug)]
pub struct Field {
    pub name: &'static str,
    pub type_name: &'static str,
    pub ref_type: Option<&'static str>,
    pub config: bool,
    pub state: bool,
    pub required: bool,
    pub navigation: bool,
    pub no_user_modify: bool,
    pub no_user_view: bool,
    pub deprecated: bool,
    /// The value before anything sets it.
    pub default: Json,
}

/// An object type.
#[derive(Debug)]
pub struct TypeInfo {
    pub name: &'static str,
    pub plural: &'static str,
    pub base: Option<&'static str>,
    pub is_abstract: bool,
    /// Accepted and validated, but nothing in Auspex acts on objects of this type yet.
    pub inert: bool,
    /// The fields this type declares itself (not inherited).
    pub fields: Vec<Field>,
    /// Every user-visible field, inherited ones too, by name (computed once).
    viewed: std::sync::OnceLock<Vec<&'static Field>>,
    /// The fields validation checks, inherited ones too, by name (computed once).
    checked: std::sync::OnceLock<Vec<&'static Field>>,
    /// The names of the fields no user may read (`password`, `ticket_salt`), inherited
    /// ones too (computed once; empty for nearly every type).
    secrets: std::sync::OnceLock<Vec<&'static str>>,
}

static TYPES: LazyLock<Vec<TypeInfo>> = LazyLock::new(|| parse(include_str!("types.txt")));

fn parse(text: &'static str) -> Vec<TypeInfo> {
    let mut types: Vec<TypeInfo> = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let words: Vec<&'static str> = line.split_whitespace().collect();
        if words[0] == "type" {
            types.push(TypeInfo {
                name: words[1],
                plural: words[2],
                base: (words[3] != "-").then_some(words[3]),
                is_abstract: words.get(4) == Some(&"abstract"),
                inert: words.get(4) == Some(&"inert"),
                fields: Vec::new(),
                viewed: std::sync::OnceLock::new(),
                checked: std::sync::OnceLock::new(),
                secrets: std::sync::OnceLock::new(),
            });
            continue;
        }
        let (type_name, ref_type) = match words[1].split_once("->") {
            Some((t, r)) => (t, Some(r)),
            None => (words[1], None),
        };
        let flags = words.get(2).copied().unwrap_or("-");
        let default = match words.get(3).and_then(|w| w.strip_prefix('=')) {
            Some(j) => serde_json::from_str(j).expect("valid default in types.txt"),
            None => match type_name {
                "String" => json!(""),
                "Number" | "Timestamp" => json!(0),
                "Boolean" => json!(false),
                _ => Json::Null,
            },
        };
        let has = |f: &str| flags.split(',').any(|x| x == f);
        let field = Field {
            name: words[0],
            type_name,
            ref_type,
            config: has("c"),
            state: has("s"),
            required: has("r"),
            navigation: has("n"),
            no_user_modify: has("m"),
            no_user_view: has("v"),
            deprecated: has("d"),
            default,
        };
        if let Some(t) = types.last_mut() {
            t.fields.push(field);
        }
    }
    types
}

/// Every type, in table order.
pub fn all() -> &'static [TypeInfo] {
    &TYPES
}

/// A type by name, case-insensitively (`host`, `Host`).
pub fn by_name(name: &str) -> Option<&'static TypeInfo> {
    TYPES.iter().find(|t| t.name.eq_ignore_ascii_case(name))
}

/// A type by its URL plural (`hosts`, `services`, `dependencies`), case-insensitively.
pub fn by_plural(plural: &str) -> Option<&'static TypeInfo> {
    TYPES.iter().find(|t| t.plural.eq_ignore_ascii_case(plural))
}

impl Field {
    /// Whether the field has a value of its own before anything sets it (a required
    /// field with one is satisfied by it).
    pub fn has_default(&self) -> bool {
        match &self.default {
            Json::Null => false,
            Json::String(s) => !s.is_empty(),
            Json::Array(a) => !a.is_empty(),
            _ => true,
        }
    }
}

impl TypeInfo {
    /// The type and its bases, most derived first.
    pub fn lineage(&'static self) -> impl Iterator<Item = &'static TypeInfo> {
        std::iter::successors(Some(self), |t| t.base.and_then(by_name))
    }

    /// A field of the type or one of its bases.
    pub fn field(&'static self, name: &str) -> Option<&'static Field> {
        self.lineage()
            .find_map(|t| t.fields.iter().find(|f| f.name == name))
    }

    /// The fields of the type and its bases that validation checks (required ones and
    /// references), by name, computed once.
    pub fn checked_fields(&'static self) -> &'static [&'static Field] {
        self.checked
            .get_or_init(|| self.fields_by_name(|f| f.required || f.ref_type.is_some()))
    }

    /// Every user-visible field of the type and its bases, sorted by name.
    pub fn viewed_fields(&'static self) -> &'static [&'static Field] {
        self.viewed
            .get_or_init(|| self.fields_by_name(|f| !f.no_user_view))
    }

    /// The fields of the type and its bases that `keep` keeps, by name. Stable: of a field
    /// declared twice, the type's own (first in the lineage) is kept.
    fn fields_by_name(&'static self, keep: impl Fn(&Field) -> bool) -> Vec<&'static Field> {
        let mut fields: Vec<&'static Field> = self
            .lineage()
            .flat_map(|t| t.fields.iter())
            .filter(|f| keep(f))
            .collect();
        fields.sort_by(|a, b| a.name.cmp(b.name));
        fields.dedup_by(|later, kept| later.name == kept.name);
        fields
    }

    /// Whether `field` is one no user may read (`no_user_view`): queries leave it out,
    /// and filters, event streams and the console cannot read it either.
    pub fn is_secret(&'static self, field: &str) -> bool {
        let secrets = self.secrets.get_or_init(|| {
            self.lineage()
                .flat_map(|t| t.fields.iter())
                .filter(|f| f.no_user_view)
                .map(|f| f.name)
                .collect()
        });
        !secrets.is_empty() && secrets.contains(&field)
    }

    /// Whether `self` is `other` or derives from it.
    pub fn is(&'static self, other: &str) -> bool {
        self.lineage().any(|t| t.name == other)
    }

    /// The `/v1/types` item.
    pub fn describe(&self) -> Json {
        let fields: serde_json::Map<String, Json> = self
            .fields
            .iter()
            .enumerate()
            .map(|(id, f)| {
                let mut d = json!({
                    "id": id,
                    "type": f.type_name,
                    "array_rank": i32::from(f.type_name == "Array"),
                    "attributes": {
                        "config": f.config,
                        "state": f.state,
                        "required": f.required,
                        "navigation": f.navigation,
                        "no_user_modify": f.no_user_modify,
                        "no_user_view": f.no_user_view,
                        "deprecated": f.deprecated,
                    },
                });
                if let Some(r) = f.ref_type {
                    d["ref_type"] = json!(r);
                }
                if f.navigation {
                    d["navigation_name"] = json!(navigation_name(f.name));
                }
                (f.name.to_string(), d)
            })
            .collect();
        let mut item = json!({
            "name": self.name,
            "plural_name": self.plural,
            "abstract": self.is_abstract,
            "fields": fields,
            "prototype_keys": prototype_keys(self.name),
        });
        if let Some(base) = self.base {
            item["base"] = json!(base);
        }
        item
    }
}

/// The type table as the configuration compiler sees it: object bodies may set the fields
/// of their type (and its bases), converted to the field's kind.
pub struct ConfigSchema;

/// Every type's fields (inherited ones too) with what they accept, by type and field
/// name: one lookup per assignment while configuration loads.
type FieldKinds =
    foldhash::HashMap<&'static str, foldhash::HashMap<&'static str, filters::schema::FieldKind>>;

static FIELD_KINDS: LazyLock<FieldKinds> = LazyLock::new(|| {
    use filters::schema::FieldKind;
    TYPES
        .iter()
        .map(|t| {
            // Bases first, so that a field a type declares again is the type's own.
            let lineage: Vec<&TypeInfo> = t.lineage().collect();
            let fields = lineage
                .into_iter()
                .rev()
                .flat_map(|l| l.fields.iter())
                .map(|f| {
                    let kind = match f.type_name {
                        "Number" | "Timestamp" => FieldKind::Number,
                        "Boolean" => FieldKind::Boolean,
                        "String" => FieldKind::String,
                        "Array" => FieldKind::Array,
                        "Dictionary" => FieldKind::Dictionary,
                        _ => FieldKind::Any,
                    };
                    (f.name, kind)
                })
                .collect();
            (t.name, fields)
        })
        .collect()
});

impl filters::schema::Schema for ConfigSchema {
    fn field(&self, type_name: &str, field: &str) -> filters::schema::FieldLookup {
        use filters::schema::FieldLookup;
        match FIELD_KINDS.get(type_name) {
            None => FieldLookup::UnknownType,
            Some(fields) => fields
                .get(field)
                .map_or(FieldLookup::NoField, |k| FieldLookup::Field(*k)),
        }
    }

    fn unset(&self, type_name: &str, name: &str) -> Option<filters::Value> {
        let t = by_name(type_name)?;
        if let Some(f) = t.field(name) {
            return Some(filters::Value::from_json(&f.default));
        }
        // `host` of a service: the object it names is not resolved while it is built.
        t.field(&format!("{name}_name"))
            .filter(|f| f.navigation)
            .map(|_| filters::Value::Null)
    }
}

/// `check_command` → `check_command`, `host_name` → `host`, `child_host_name` → `child_host`.
pub fn navigation_name(field: &str) -> &str {
    field.strip_suffix("_name").unwrap_or(field)
}

/// The host field beside a service reference (`parent_service_name` → `parent_host_name`):
/// a service is named `host!service`, its host from there.
pub fn host_field_beside(service_field: &str) -> String {
    service_field.replace("service_name", "host_name")
}

fn prototype_keys(type_name: &str) -> Vec<&'static str> {
    match type_name {
        "ConfigObject" => vec!["modify_attribute", "restore_attribute"],
        "Checkable" => vec!["process_check_result"],
        "Command" => vec!["execute"],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_parses_and_links() {
        let host = by_plural("HOSTS");
        assert_eq!(host.map(|t| t.name), Some("Host"));
        assert!(host.is_some_and(|h| h.is("Checkable") && h.is("ConfigObject")));
        assert!(host
            .and_then(|h| h.field("check_command"))
            .is_some_and(|f| f.required));
        assert!(by_name("apiuser")
            .and_then(|t| t.field("password"))
            .is_some_and(|f| f.no_user_view));
        assert_eq!(
            by_plural("dependencies").map(|t| t.name),
            Some("Dependency")
        );
        for t in all() {
            if let Some(b) = t.base {
                assert!(by_name(b).is_some(), "{} has unknown base {b}", t.name);
            }
        }
    }
}
