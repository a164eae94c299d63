//! Runtime values and Icinga's conversion rules between them.
//!
//! `Value` is cheap to clone: strings, arrays and dictionaries are reference counted and
//! copied on write. Numbers are `f64`, as in Icinga, and every conversion below follows
//! `lib/base/value.cpp` and `lib/base/convert.cpp` of Icinga 2 r2.13.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::sync::Arc;

use crate::function::Function;
use crate::types::TypeRef;

/// An immutable, reference-counted string.
pub type Str = Arc<str>;

/// Icinga dictionaries are ordered by key (a `std::map` in Icinga).
pub type Dict = BTreeMap<Str, Value>;

/// A configuration object (Host, Service, …) owned by the embedding application.
///
/// The server implements this for its objects; the expression language only reads them.
pub trait Object: Send + Sync + fmt::Debug {
    /// The Icinga type name, e.g. `Host`.
    fn type_name(&self) -> &str;
    /// The object's full name (`host!service` for services).
    fn name(&self) -> &str;
    /// An attribute by its API name; `None` when the type has no such attribute.
    fn get_field(&self, field: &str) -> Option<Value>;
    /// The attribute by reference, when the object stores it as a [`Value`]: lets a
    /// filter walk `service.vars.os` without copying (or touching the reference counts
    /// of) the containers on the way. `None` falls back to [`Object::get_field`].
    fn get_field_ref(&self, _field: &str) -> Option<&Value> {
        None
    }
}

/// A value of the Icinga DSL.
#[derive(Clone, Default)]
pub enum Value {
    /// Icinga's `Empty`, written `null`.
    #[default]
    Null,
    Bool(bool),
    Number(f64),
    String(Str),
    Array(Arc<Vec<Value>>),
    Dict(Arc<Dict>),
    Function(Arc<Function>),
    Type(TypeRef),
    Object(Arc<dyn Object>),
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_json())
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Number(v)
    }
}
impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Number(v as f64)
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::String(v.into())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::String(v.into())
    }
}
impl From<Vec<Value>> for Value {
    fn from(v: Vec<Value>) -> Self {
        Value::Array(Arc::new(v))
    }
}
impl From<Dict> for Value {
    fn from(v: Dict) -> Self {
        Value::Dict(Arc::new(v))
    }
}

impl Value {
    /// The type name Icinga uses in operator error messages (`Empty` for null).
    pub fn type_name(&self) -> &str {
        match self {
            Value::Null => "Empty",
            Value::Bool(_) => "Boolean",
            Value::Number(_) => "Number",
            Value::String(_) => "String",
            Value::Array(_) => "Array",
            Value::Dict(_) => "Dictionary",
            Value::Function(_) => "Function",
            Value::Type(_) => "Type",
            Value::Object(o) => o.type_name(),
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// Icinga's `IsEmpty()`: null or the empty string.
    pub fn is_empty(&self) -> bool {
        match self {
            Value::Null => true,
            Value::String(s) => s.is_empty(),
            _ => false,
        }
    }

    /// Icinga's truthiness: null, 0, false, "" and empty containers are false.
    pub fn to_bool(&self) -> bool {
        match self {
            Value::Null => false,
            Value::Bool(b) => *b,
            Value::Number(n) => *n != 0.0,
            Value::String(s) => !s.is_empty(),
            Value::Array(a) => !a.is_empty(),
            Value::Dict(d) => !d.is_empty(),
            _ => true,
        }
    }

    /// `static_cast<double>(value)`: strings are parsed, anything else is an error.
    pub fn to_number(&self) -> Result<f64, String> {
        match self {
            Value::Null => Ok(0.0),
            Value::Bool(b) => Ok(f64::from(u8::from(*b))),
            Value::Number(n) => Ok(*n),
            Value::String(s) => parse_number(s)
                .ok_or_else(|| format!("Can't convert '{s}' to a floating point number.")),
            other => Err(format!(
                "Can't convert '{}' to a floating point number.",
                other.to_display_string()
            )),
        }
    }

    /// [`Value::to_display_string`] as a shared string: a string value is handed back as
    /// it is (no copy; an interned name stays interned).
    pub fn display_str(&self) -> Str {
        match self {
            Value::String(s) => s.clone(),
            other => other.to_display_string().into(),
        }
    }

    /// `static_cast<String>(value)`: Icinga's string conversion.
    pub fn to_display_string(&self) -> String {
        match self {
            Value::Null => String::new(),
            Value::Bool(true) => "true".into(),
            Value::Bool(false) => "false".into(),
            Value::Number(n) => format_number(*n),
            Value::String(s) => s.to_string(),
            Value::Array(_) | Value::Dict(_) => {
                let mut out = String::new();
                write_config(&mut out, self, 1);
                out
            }
            Value::Function(_) => "Object of type 'Function'".into(),
            Value::Type(t) => format!("type '{}'", t.name()),
            Value::Object(o) => o.name().to_string(),
        }
    }

    /// The value as a configuration literal, as Icinga's `ConfigWriter::EmitValue` writes
    /// it (strings quoted and escaped, numbers fixed to six places, dictionaries one key a
    /// line): what the `_api` package's object files hold.
    pub fn to_config_literal(&self) -> String {
        let mut out = String::new();
        write_config(&mut out, self, 1);
        out
    }

    /// Exact structural equality: same variant and same contents (`null` and `""` differ,
    /// `1` and `true` differ); lambdas written alike are the same, other functions, types
    /// and objects by identity. What change detection needs, as opposed to the
    /// language's [`Value::loose_eq`].
    pub fn same(&self, other: &Value) -> bool {
        use Value::*;
        match (self, other) {
            (Null, Null) => true,
            (Bool(a), Bool(b)) => a == b,
            (Number(a), Number(b)) => a == b,
            (String(a), String(b)) => a == b,
            (Array(a), Array(b)) => {
                Arc::ptr_eq(a, b)
                    || (a.len() == b.len() && a.iter().zip(b.iter()).all(|(x, y)| x.same(y)))
            }
            (Dict(a), Dict(b)) => {
                Arc::ptr_eq(a, b)
                    || (a.len() == b.len()
                        && a.iter()
                            .zip(b.iter())
                            .all(|((ka, va), (kb, vb))| ka == kb && va.same(vb)))
            }
            (Function(a), Function(b)) => Arc::ptr_eq(a, b) || a.written_alike(b),
            (Type(a), Type(b)) => std::ptr::eq(a.0, b.0),
            (Object(a), Object(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }

    /// Icinga's `operator==`.
    pub fn loose_eq(&self, other: &Value) -> bool {
        use Value::*;
        match (self, other) {
            (Number(a), Number(b)) => a == b,
            (Number(_) | Bool(_), Number(_) | Bool(_)) => {
                self.to_number().ok() == other.to_number().ok()
            }
            (String(a), String(b)) => a == b,
            (String(s), Null) | (Null, String(s)) => s.is_empty(),
            (Null, Null) => true,
            (Array(a), Array(b)) => {
                Arc::ptr_eq(a, b)
                    || (a.len() == b.len() && a.iter().zip(b.iter()).all(|(x, y)| x.loose_eq(y)))
            }
            (Dict(a), Dict(b)) => Arc::ptr_eq(a, b),
            (Function(a), Function(b)) => Arc::ptr_eq(a, b) || a.same_as(b),
            (Type(a), Type(b)) => a == b,
            (Object(a), Object(b)) => {
                Arc::ptr_eq(a, b) || (a.type_name() == b.type_name() && a.name() == b.name())
            }
            _ => false,
        }
    }

    /// JSON as Icinga's `JsonEncode` writes it (keys sorted, integers without `.0`).
    pub fn to_json(&self) -> String {
        let mut out = String::new();
        write_json(&mut out, self);
        out
    }

    /// Converts parsed JSON (request bodies, `filter_vars`) into a value.
    pub fn from_json(json: &serde_json::Value) -> Value {
        match json {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => Value::Number(n.as_f64().unwrap_or(f64::NAN)),
            serde_json::Value::String(s) => Value::String(s.as_str().into()),
            serde_json::Value::Array(a) => {
                Value::from(a.iter().map(Value::from_json).collect::<Vec<_>>())
            }
            serde_json::Value::Object(o) => Value::from(
                o.iter()
                    .map(|(k, v)| (Str::from(k.as_str()), Value::from_json(v)))
                    .collect::<Dict>(),
            ),
        }
    }

    /// Converts to `serde_json::Value` (for API responses).
    pub fn to_serde(&self) -> serde_json::Value {
        match self {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => (*b).into(),
            Value::Number(n) => json_number(*n),
            Value::String(s) => serde_json::Value::String(s.to_string()),
            Value::Array(a) => a.iter().map(Value::to_serde).collect(),
            Value::Dict(d) => serde_json::Value::Object(
                d.iter()
                    .map(|(k, v)| (k.to_string(), v.to_serde()))
                    .collect(),
            ),
            Value::Function(f) => f.describe().to_serde(),
            Value::Type(t) => t.describe().to_serde(),
            Value::Object(o) => serde_json::Value::String(o.name().to_string()),
        }
    }
}

/// Serialises as [`Value::to_serde`] converts, without building the JSON tree.
impl serde::Serialize for Value {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match self {
            Value::Null => ser.serialize_unit(),
            Value::Bool(b) => ser.serialize_bool(*b),
            Value::Number(n) if n.fract() == 0.0 && n.abs() < 9.2e18 => {
                ser.serialize_i64(*n as i64)
            }
            Value::Number(n) if n.is_finite() => ser.serialize_f64(*n),
            Value::Number(_) => ser.serialize_unit(),
            Value::String(s) => ser.serialize_str(s),
            Value::Array(a) => {
                let mut seq = ser.serialize_seq(Some(a.len()))?;
                for v in a.iter() {
                    seq.serialize_element(v)?;
                }
                seq.end()
            }
            Value::Dict(d) => {
                let mut map = ser.serialize_map(Some(d.len()))?;
                for (k, v) in d.iter() {
                    map.serialize_entry(&**k, v)?;
                }
                map.end()
            }
            other => other.to_serde().serialize(ser),
        }
    }
}

/// A JSON number that prints integers without a fraction, as Icinga does.
pub fn json_number(n: f64) -> serde_json::Value {
    if n.fract() == 0.0 && n.abs() < 9.2e18 {
        serde_json::Value::from(n as i64)
    } else {
        serde_json::Number::from_f64(n).map_or(serde_json::Value::Null, serde_json::Value::Number)
    }
}

/// `Convert::ToDouble` on a string: a decimal number, optionally signed and padded.
pub fn parse_number(s: &str) -> Option<f64> {
    let t = s;
    if t.is_empty() {
        return Some(0.0);
    }
    let lower = t.to_ascii_lowercase();
    let body = lower.trim_start_matches(['+', '-']);
    if body.starts_with("inf") || body.starts_with("nan") {
        return t.parse().ok();
    }
    if !t
        .bytes()
        .all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b))
    {
        return None;
    }
    t.parse().ok()
}

/// `Convert::ToString(double)`: integers without a fraction, others with six decimals.
pub fn format_number(n: f64) -> String {
    if n.is_nan() {
        return if n.is_sign_negative() { "-nan" } else { "nan" }.into();
    }
    if n.is_infinite() {
        return if n < 0.0 { "-inf" } else { "inf" }.into();
    }
    if n.fract() == 0.0 && n.abs() < 9.007_199_254_740_992e15 {
        // Whole numbers within i64's exact range print as integers (`{:.0}` takes the
        // slow exact float formatter; names like `"host-" + i` hit this in every loop).
        let mut buf = itoa::Buffer::new();
        if n == 0.0 && n.is_sign_negative() {
            return "-0".into();
        }
        buf.format(n as i64).to_string()
    } else if n.fract() == 0.0 {
        format!("{n:.0}")
    } else {
        format!("{n:.6}")
    }
}

/// A double as nlohmann::json prints it: shortest round-trip digits, exponent outside
/// `1e-5 ..= 1e15`.
fn format_json_double(n: f64) -> String {
    if !n.is_finite() {
        return "null".into();
    }
    let sci = format!("{:e}", n.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let k = digits.len() as i32;
    let e10 = exp + 1; // position of the decimal point relative to the digits
    let mut out = String::new();
    if n < 0.0 {
        out.push('-');
    }
    if k <= e10 && e10 <= 15 {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n('0', (e10 - k) as usize));
        out.push_str(".0");
    } else if 0 < e10 && e10 <= 15 {
        out.push_str(&digits[..e10 as usize]);
        out.push('.');
        out.push_str(&digits[e10 as usize..]);
    } else if -4 < e10 && e10 <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-e10) as usize));
        out.push_str(&digits);
    } else {
        out.push_str(&digits[..1]);
        if k > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let e = e10 - 1;
        let _ = write!(out, "e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs());
    }
    out
}

pub(crate) fn write_json_number(out: &mut String, n: f64) {
    if n.fract() == 0.0 && n.abs() < 9.2e18 {
        let _ = write!(out, "{}", n as i64);
    } else {
        out.push_str(&format_json_double(n));
    }
}

pub(crate) fn write_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if c.is_ascii() => out.push(c),
            c => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{u:04x}");
                }
            }
        }
    }
    out.push('"');
}

fn write_json(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => write_json_number(out, *n),
        Value::String(s) => write_json_string(out, s),
        Value::Array(a) => {
            out.push('[');
            for (i, item) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(out, item);
            }
            out.push(']');
        }
        Value::Dict(d) => write_json_dict(out, d.iter()),
        Value::Function(f) => write_json(out, &f.describe()),
        Value::Type(t) => write_json(out, &t.describe()),
        Value::Object(o) => write_json_string(out, o.name()),
    }
}

fn write_json_dict<'a>(out: &mut String, entries: impl Iterator<Item = (&'a Str, &'a Value)>) {
    out.push('{');
    for (i, (k, v)) in entries.enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_json_string(out, k);
        out.push(':');
        write_json(out, v);
    }
    out.push('}');
}

/// Icinga's `ConfigWriter::EmitValue`, used when arrays and dictionaries become strings.
fn write_config(out: &mut String, v: &Value, indent: usize) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            let _ = write!(out, "{n:.6}");
        }
        Value::String(s) => write_config_string(out, s),
        Value::Array(a) => {
            out.push('[');
            for (i, item) in a.iter().enumerate() {
                out.push_str(if i > 0 { ", " } else { " " });
                write_config(out, item, indent);
            }
            out.push_str(" ]");
        }
        Value::Dict(d) => {
            out.push_str("{\n");
            for (k, item) in d.iter() {
                out.extend(std::iter::repeat_n('\t', indent));
                if is_identifier(k) {
                    out.push_str(k);
                } else {
                    write_config_string(out, k);
                }
                out.push_str(" = ");
                write_config(out, item, indent + 1);
                out.push('\n');
            }
            out.extend(std::iter::repeat_n('\t', indent - 1));
            out.push('}');
        }
        Value::Function(_) | Value::Type(_) | Value::Object(_) => {
            write_config_string(out, &v.to_display_string());
        }
    }
}

fn write_config_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c => out.push(c),
        }
    }
    out.push('"');
}

pub(crate) fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !crate::lexer::is_keyword(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_doubles_follow_nlohmann() {
        let cases = [
            (2.5, "2.5"),
            (0.1 + 0.2, "0.30000000000000004"),
            (1e20, "1e+20"),
            (1.0 / 3.0, "0.3333333333333333"),
            (0.01, "0.01"),
            (1.5e-7, "1.5e-07"),
            (-2.25, "-2.25"),
        ];
        for (n, want) in cases {
            let mut out = String::new();
            write_json_number(&mut out, n);
            assert_eq!(out, want, "{n}");
        }
    }

    #[test]
    fn numbers_in_string_context() {
        assert_eq!(format_number(2.5), "2.500000");
        assert_eq!(format_number(3.0), "3");
        assert_eq!(format_number(1e20), "100000000000000000000");
    }
}

#[cfg(test)]
mod serialize_tests {
    use super::*;

    #[test]
    fn whole_numbers_have_no_fraction() {
        assert_eq!(json_number(3.0).to_string(), "3");
        assert_eq!(json_number(0.5).to_string(), "0.5");
        assert_eq!(json_number(-2.0).to_string(), "-2");
    }

    /// Serialising directly gives exactly what the JSON tree conversion gives.
    #[test]
    fn serialize_matches_to_serde() -> Result<(), serde_json::Error> {
        let json = serde_json::json!({"b": [1, 2.5, "x", null, true], "a": {"z": -3, "y": 1e300}});
        let v = Value::from_json(&json);
        assert_eq!(serde_json::to_string(&v)?, v.to_serde().to_string());
        assert_eq!(serde_json::to_string(&Value::Number(f64::NAN))?, "null");
        Ok(())
    }
}
