//! Icinga's identifiers and checksums for Icinga DB: values packed into Icinga's
//! canonical binary form and hashed with SHA-1, and JSON encoded as Icinga encodes it.
//!
//! The packed form (Icinga's `PackObject`): null `00`, false `01`, true `02`, a number
//! `03` and its IEEE 754 binary64 big-endian, a string `04`, its length as a big-endian
//! u64 and its bytes, an array `05`, its length and its items, a dictionary `06`, its
//! length and its entries sorted by key (each key as a string without the tag, then the
//! value). Object ids are the hash of `[environment, name]`; the `icingadb` daemon and
//! Icinga DB Web compare them across Icinga's and Auspex's writes, so they must match
//! Icinga's byte for byte.

use serde_json::Value as Json;
use sha1::{Digest, Sha1};

/// Appends the packed form of `value`.
pub fn pack(value: &Json, out: &mut Vec<u8>) {
    match value {
        Json::Null => out.push(0),
        Json::Bool(false) => out.push(1),
        Json::Bool(true) => out.push(2),
        Json::Number(n) => {
            out.push(3);
            out.extend_from_slice(&n.as_f64().unwrap_or(0.0).to_be_bytes());
        }
        Json::String(s) => {
            out.push(4);
            pack_str(s, out);
        }
        Json::Array(items) => {
            out.push(5);
            out.extend_from_slice(&(items.len() as u64).to_be_bytes());
            for item in items {
                pack(item, out);
            }
        }
        // `serde_json::Map` keeps its keys sorted (no `preserve_order`), as Icinga's
        // dictionaries do.
        Json::Object(map) => {
            out.push(6);
            out.extend_from_slice(&(map.len() as u64).to_be_bytes());
            for (k, v) in map {
                pack_str(k, out);
                pack(v, out);
            }
        }
    }
}

fn pack_str(s: &str, out: &mut Vec<u8>) {
    out.extend_from_slice(&(s.len() as u64).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// The SHA-1 of `bytes`, in lower-case hex.
pub fn sha1_hex(bytes: &[u8]) -> String {
    let digest = Sha1::digest(bytes);
    let mut hex = String::with_capacity(40);
    for b in digest {
        use std::fmt::Write;
        let _ = write!(hex, "{b:02x}");
    }
    hex
}

/// Icinga's `HashValue`: the SHA-1 of the packed value.
pub fn hash(value: &Json) -> String {
    let mut bytes = Vec::with_capacity(128);
    pack(value, &mut bytes);
    sha1_hex(&bytes)
}

/// The hash of an array of strings (most ids: `[environment, name, …]`).
pub fn hash_strs(parts: &[&str]) -> String {
    let mut bytes = Vec::with_capacity(128);
    bytes.push(5);
    bytes.extend_from_slice(&(parts.len() as u64).to_be_bytes());
    for p in parts {
        bytes.push(4);
        pack_str(p, &mut bytes);
    }
    sha1_hex(&bytes)
}

/// An object's id: the hash of `[environment, full name]`.
pub fn object_id(environment: &str, name: &str) -> String {
    hash_strs(&[environment, name])
}

/// A number as Icinga's JSON encoder writes it: integral values without a fraction.
pub fn number(n: f64) -> Json {
    filters::value::json_number(n)
}

/// JSON as Icinga encodes it: keys sorted, integral numbers without a fraction.
pub fn encode(value: &Json) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// A value as Icinga writes it into a stream field: booleans as `0`/`1`, strings as
/// they are, numbers in Icinga's number format, null as the empty string, the rest as
/// JSON.
pub fn stream_value(value: &Json) -> String {
    match value {
        Json::Bool(b) => u8::from(*b).to_string(),
        Json::String(s) => s.clone(),
        Json::Null => String::new(),
        Json::Number(n) => number_text(n.as_f64().unwrap_or(0.0)),
        other => encode(other),
    }
}

/// Icinga's `Convert::ToString` of a number: integers without a fraction, others with
/// up to 17 significant digits.
pub fn number_text(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 9.2e18 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ENV: &str = "0123456789abcdef0123456789abcdef01234567";

    /// Ids and checksums Icinga 2 r2.13.6 wrote into Redis for the same input.
    #[test]
    fn ids_match_icinga() {
        assert_eq!(
            object_id(ENV, "web-1"),
            "49e73bfc6f4d943036d74643201832184e558e6f"
        );
        assert_eq!(
            object_id(ENV, "db-1"),
            "707386bc3963535a1498ddfcbadb889be98469f3"
        );
        assert_eq!(
            sha1_hex(b"web-1"),
            "ba92dbab2801178bcb56af5f2562eda9d2a3cf41"
        );
        // A custom variable: [environment, name, value].
        assert_eq!(
            hash(&json!([ENV, "os", "Linux"])),
            "dc5772926ee6b206e40cf2d8609157e60c576c85"
        );
        // A time period range: [environment, key, value, period].
        assert_eq!(
            hash_strs(&[ENV, "monday", "09:00-17:00", "work"]),
            "3e63c5c3bcf0d219b21ff25d8eb66f57b123d697"
        );
    }

    #[test]
    fn encoding_is_icingas() {
        assert_eq!(
            encode(&json!({"b": number(300.0), "a": number(1.5), "c": null})),
            r#"{"a":1.5,"b":300,"c":null}"#
        );
        assert_eq!(stream_value(&json!(true)), "1");
        assert_eq!(stream_value(&json!(null)), "");
        assert_eq!(stream_value(&number(4.0)), "4");
    }
}
