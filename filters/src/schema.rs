//! What the configuration compiler knows of object types: which fields a type has and
//! what each accepts. Assignments in object bodies are checked and converted against it
//! as Icinga's compiler does (`adress = …` is an error where it is written;
//! `max_check_attempts = "3"` stores the number 3).

use crate::value::Value;

/// What a field accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldKind {
    /// Numbers and timestamps: strings are parsed, booleans are 0 or 1.
    Number,
    /// Numbers are true when not 0, strings must hold a number.
    Boolean,
    /// Numbers and booleans are written as strings; anything else is kept.
    String,
    /// An array (or nothing).
    Array,
    /// A dictionary (or nothing).
    Dictionary,
    /// Any value (functions, check timeouts, command lines).
    Any,
}

/// The answer to "does type T have field F".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldLookup {
    /// The type is not known: nothing is checked here (the type itself is reported when
    /// the object is committed).
    UnknownType,
    /// The type is known and has no such field.
    NoField,
    Field(FieldKind),
}

/// The object types a configuration may declare.
pub trait Schema: Send + Sync {
    fn field(&self, type_name: &str, field: &str) -> FieldLookup;

    /// What reading `name` in a body of `type_name` gives before anything is assigned to
    /// it: the field's default (`null` without one), also for a navigation name (`host`
    /// of a service, `null` while the object is built); `None` when the type has no such
    /// field.
    fn unset(&self, _type_name: &str, _name: &str) -> Option<Value> {
        None
    }
}

/// Converts `value` for a field of `kind`, with Icinga's error messages.
///
/// # Errors
/// A value the field cannot hold.
pub fn convert(kind: FieldKind, value: Value) -> Result<Value, String> {
    match (kind, value) {
        (_, Value::Null) => Ok(Value::Null),
        (FieldKind::Any, v) => Ok(v),
        (FieldKind::Number, v @ Value::Number(_)) => Ok(v),
        (FieldKind::Number, v) => v.to_number().map(Value::Number),
        (FieldKind::Boolean, v @ Value::Bool(_)) => Ok(v),
        (FieldKind::Boolean, v) => v.to_number().map(|n| Value::Bool(n != 0.0)),
        (FieldKind::String, v @ (Value::Number(_) | Value::Bool(_))) => {
            Ok(Value::from(v.to_display_string()))
        }
        (FieldKind::String, v) => Ok(v),
        (FieldKind::Array | FieldKind::Dictionary, v @ (Value::Array(_) | Value::Dict(_))) => Ok(v),
        (FieldKind::Array | FieldKind::Dictionary, v @ (Value::Function(_) | Value::Object(_))) => {
            Ok(v)
        }
        (FieldKind::Array | FieldKind::Dictionary, v) => Err(format!(
            "Cannot convert value of type '{}' to an object.",
            v.type_name()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The converted value as JSON, or the error.
    fn conv(kind: FieldKind, v: Value) -> Result<String, String> {
        convert(kind, v).map(|v| v.to_json())
    }

    #[test]
    fn conversions_follow_icinga() {
        assert_eq!(conv(FieldKind::Number, Value::from("3")), Ok("3".into()));
        assert_eq!(
            conv(FieldKind::Number, Value::from("three")),
            Err("Can't convert 'three' to a floating point number.".into())
        );
        assert_eq!(
            conv(FieldKind::Boolean, Value::Number(2.0)),
            Ok("true".into())
        );
        assert!(conv(FieldKind::Boolean, Value::from("yes")).is_err());
        assert_eq!(
            conv(FieldKind::String, Value::Number(5665.0)),
            Ok("\"5665\"".into())
        );
        assert_eq!(
            conv(FieldKind::Array, Value::from("x")),
            Err("Cannot convert value of type 'String' to an object.".into())
        );
        assert_eq!(conv(FieldKind::Dictionary, Value::Null), Ok("null".into()));
    }
}
