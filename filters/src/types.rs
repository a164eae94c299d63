//! Type objects (`Number`, `String`, `Host`, …): what `typeof()` returns and where method
//! lookup finds prototypes.

use std::fmt;

use crate::function::Builtin;
use crate::methods;
use crate::value::{Dict, Value};

/// A type: its name, base type and prototype methods.
pub struct TypeInfo {
    pub name: &'static str,
    pub base: Option<&'static TypeInfo>,
    pub prototype: &'static [Builtin],
}

/// A reference to a static type; equality is identity.
#[derive(Clone, Copy)]
pub struct TypeRef(pub &'static TypeInfo);

impl PartialEq for TypeRef {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self.0, other.0)
    }
}

impl fmt::Debug for TypeRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "type '{}'", self.0.name)
    }
}

impl TypeRef {
    pub fn name(&self) -> &'static str {
        self.0.name
    }

    /// A prototype method by name, searching base types.
    pub fn method(&self, name: &str) -> Option<&'static Builtin> {
        let mut t = Some(self.0);
        while let Some(ty) = t {
            if let Some(m) = ty
                .prototype
                .iter()
                .find(|m| m.name.rsplit('#').next() == Some(name))
            {
                return Some(m);
            }
            t = ty.base;
        }
        None
    }

    /// The dictionary Icinga serializes a type as.
    pub fn describe(&self) -> Value {
        describe(self.0)
    }

    /// The `prototype` field: a dictionary of the type's own methods, or null.
    pub fn describe_prototype(&self) -> Value {
        match describe(self.0) {
            Value::Dict(d) => d.get("prototype").cloned().unwrap_or_default(),
            _ => Value::Null,
        }
    }
}

fn describe(t: &'static TypeInfo) -> Value {
    let mut d = Dict::new();
    d.insert("base".into(), t.base.map_or(Value::Null, describe));
    d.insert("name".into(), Value::from(t.name));
    let prototype = if t.prototype.is_empty() {
        Value::Null
    } else {
        let mut p = Dict::new();
        for m in t.prototype {
            let short = m.name.rsplit('#').next().unwrap_or(m.name);
            p.insert(
                short.into(),
                crate::function::Function::Builtin(m).describe(),
            );
        }
        Value::from(p)
    };
    d.insert("prototype".into(), prototype);
    d.insert("type".into(), Value::from("Type"));
    Value::from(d)
}

macro_rules! types {
    ($($id:ident = $name:literal : $base:expr, $proto:expr;)*) => {
        $(pub static $id: TypeInfo = TypeInfo { name: $name, base: $base, prototype: $proto };)*
        /// Every type by name, as in Icinga's `Types` namespace.
        pub static ALL: &[&TypeInfo] = &[$(&$id),*];
    };
}

types! {
    OBJECT = "Object": None, methods::OBJECT;
    NUMBER = "Number": None, methods::NUMBER;
    STRING = "String": None, methods::STRING;
    BOOLEAN = "Boolean": None, methods::BOOLEAN;
    ARRAY = "Array": Some(&OBJECT), methods::ARRAY;
    DICTIONARY = "Dictionary": Some(&OBJECT), methods::DICTIONARY;
    FUNCTION = "Function": Some(&OBJECT), methods::FUNCTION;
    TYPE = "Type": Some(&OBJECT), methods::TYPE;
    NAMESPACE = "Namespace": Some(&OBJECT), &[];
    CONFIG_OBJECT = "ConfigObject": Some(&OBJECT), methods::CONFIG_OBJECT;
    CUSTOM_VAR_OBJECT = "CustomVarObject": Some(&CONFIG_OBJECT), &[];
    CHECKABLE = "Checkable": Some(&CUSTOM_VAR_OBJECT), methods::CHECKABLE;
    HOST = "Host": Some(&CHECKABLE), &[];
    SERVICE = "Service": Some(&CHECKABLE), &[];
    COMMAND = "Command": Some(&CUSTOM_VAR_OBJECT), &[];
    CHECK_COMMAND = "CheckCommand": Some(&COMMAND), &[];
    EVENT_COMMAND = "EventCommand": Some(&COMMAND), &[];
    NOTIFICATION_COMMAND = "NotificationCommand": Some(&COMMAND), &[];
    HOST_GROUP = "HostGroup": Some(&CUSTOM_VAR_OBJECT), &[];
    SERVICE_GROUP = "ServiceGroup": Some(&CUSTOM_VAR_OBJECT), &[];
    USER = "User": Some(&CUSTOM_VAR_OBJECT), &[];
    USER_GROUP = "UserGroup": Some(&CUSTOM_VAR_OBJECT), &[];
    NOTIFICATION = "Notification": Some(&CUSTOM_VAR_OBJECT), &[];
    DEPENDENCY = "Dependency": Some(&CUSTOM_VAR_OBJECT), &[];
    TIME_PERIOD = "TimePeriod": Some(&CUSTOM_VAR_OBJECT), &[];
    SCHEDULED_DOWNTIME = "ScheduledDowntime": Some(&CUSTOM_VAR_OBJECT), &[];
    ZONE = "Zone": Some(&CONFIG_OBJECT), &[];
    ENDPOINT = "Endpoint": Some(&CONFIG_OBJECT), &[];
    API_USER = "ApiUser": Some(&CONFIG_OBJECT), &[];
    DOWNTIME = "Downtime": Some(&CONFIG_OBJECT), &[];
    COMMENT = "Comment": Some(&CONFIG_OBJECT), &[];
    ICINGA_APPLICATION = "IcingaApplication": Some(&CONFIG_OBJECT), &[];
}

/// A type by its name.
pub fn by_name(name: &str) -> Option<TypeRef> {
    ALL.iter().find(|t| t.name == name).map(|t| TypeRef(t))
}

/// The type of a value, as `typeof()` answers (null is an `Object`, as in Icinga).
pub fn of(v: &Value) -> TypeRef {
    TypeRef(match v {
        Value::Null => &OBJECT,
        Value::Bool(_) => &BOOLEAN,
        Value::Number(_) => &NUMBER,
        Value::String(_) => &STRING,
        Value::Array(_) => &ARRAY,
        Value::Dict(_) => &DICTIONARY,
        Value::Function(_) => &FUNCTION,
        Value::Type(_) => &TYPE,
        Value::Object(o) => return by_name(o.type_name()).unwrap_or(TypeRef(&CONFIG_OBJECT)),
    })
}
