//! The global names a script can use without declaring them: functions of the `System`
//! and `Icinga` namespaces, constants, types and the namespaces themselves.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use crate::function::{Builtin, Function};
use crate::functions;
use crate::types::{self, TypeRef};
use crate::value::{Dict, Value};

fn functions_of(list: &'static [Builtin]) -> impl Iterator<Item = (&'static str, Value)> {
    list.iter().map(|b| {
        let short = b.name.rsplit('#').next().unwrap_or(b.name);
        (short, Value::Function(Arc::new(Function::Builtin(b))))
    })
}

fn namespace(entries: impl Iterator<Item = (&'static str, Value)>) -> Value {
    Value::from(entries.map(|(k, v)| (k.into(), v)).collect::<Dict>())
}

const ICINGA_CONSTANTS: &[(&str, f64)] = &[
    ("ServiceOK", 0.0),
    ("ServiceWarning", 1.0),
    ("ServiceCritical", 2.0),
    ("ServiceUnknown", 3.0),
    ("HostUp", 0.0),
    ("HostDown", 1.0),
];

const ICINGA_NAMES: &[&str] = &[
    "Acknowledgement",
    "Critical",
    "Custom",
    "Down",
    "DowntimeEnd",
    "DowntimeNoChildren",
    "DowntimeNonTriggeredChildren",
    "DowntimeRemoved",
    "DowntimeStart",
    "DowntimeTriggeredChildren",
    "FlappingEnd",
    "FlappingStart",
    "OK",
    "Problem",
    "Recovery",
    "Unknown",
    "Up",
    "Warning",
];

const SYSTEM_CONSTANTS: &[(&str, f64)] = &[
    ("MatchAll", 0.0),
    ("MatchAny", 1.0),
    ("GlobFile", 1.0),
    ("GlobDirectory", 2.0),
    ("LogDebug", 0.0),
    ("LogNotice", 1.0),
    ("LogInformation", 2.0),
    ("LogWarning", 3.0),
    ("LogCritical", 4.0),
];

fn icinga_namespace() -> impl Iterator<Item = (&'static str, Value)> {
    ICINGA_CONSTANTS
        .iter()
        .map(|(k, v)| (*k, Value::Number(*v)))
        .chain(ICINGA_NAMES.iter().map(|k| (*k, Value::from(*k))))
        .chain(functions_of(functions::ICINGA))
}

fn system_namespace() -> impl Iterator<Item = (&'static str, Value)> {
    SYSTEM_CONSTANTS
        .iter()
        .map(|(k, v)| (*k, Value::Number(*v)))
        .chain(functions_of(functions::SYSTEM))
}

fn math_namespace() -> Value {
    let constants = [
        ("E", std::f64::consts::E),
        ("LN10", std::f64::consts::LN_10),
        ("LN2", std::f64::consts::LN_2),
        ("LOG10E", std::f64::consts::LOG10_E),
        ("LOG2E", std::f64::consts::LOG2_E),
        ("PI", std::f64::consts::PI),
        ("SQRT1_2", std::f64::consts::FRAC_1_SQRT_2),
        ("SQRT2", std::f64::consts::SQRT_2),
    ];
    namespace(
        constants
            .into_iter()
            .map(|(k, v)| (k, Value::Number(v)))
            .chain(functions_of(functions::MATH)),
    )
}

fn types_namespace() -> Value {
    namespace(types::ALL.iter().map(|t| (t.name, Value::Type(TypeRef(t)))))
}

fn table() -> &'static HashMap<&'static str, Value> {
    static TABLE: OnceLock<HashMap<&'static str, Value>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut m: HashMap<&'static str, Value> = HashMap::new();
        m.extend(types::ALL.iter().map(|t| (t.name, Value::Type(TypeRef(t)))));
        m.extend(system_namespace());
        m.extend(icinga_namespace());
        m.insert("System", namespace(system_namespace()));
        m.insert("Icinga", namespace(icinga_namespace()));
        m.insert("Types", types_namespace());
        m.insert("Math", math_namespace());
        m.insert("Json", namespace(functions_of(functions::JSON)));
        m
    })
}

/// A global by name.
pub fn lookup(name: &str) -> Option<Value> {
    table().get(name).cloned()
}

/// The `globals` namespace.
pub fn globals_dict() -> Value {
    namespace(
        ["System", "Icinga", "Types"]
            .into_iter()
            .filter_map(|k| Some((k, lookup(k)?))),
    )
}

/// The names of every global, for auto-completion.
pub fn names() -> Vec<String> {
    table().keys().map(|k| k.to_string()).collect()
}
