//! The stored form of a [`CheckableState`]: a version byte, then the state in postcard's
//! compact positional encoding (fields in declaration order, integers as varints, `f64`
//! as eight bytes, so timestamps read back to the last bit). A service's state with a
//! check result takes about 200 bytes instead of about 930 as JSON, and reads several
//! times faster, which is what the store's commits, its verification at start and the
//! state snapshot pay for at a million services.
//!
//! States stored as JSON (always an object, so their first byte is `{`) still read.
//!
//! The encoding is positional: a field added to, removed from or reordered in a stored
//! type changes the layout. Such a change takes a new version byte, and the types of the
//! previous layout stay to read what was stored with it.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::CheckableState;

/// The first byte of a state in the current layout.
const LAYOUT_1: u8 = 1;

/// The stored bytes of `state`.
pub(super) fn encode(state: &CheckableState) -> Vec<u8> {
    // Serialising plain fields into a vector cannot fail.
    postcard::to_extend(state, vec![LAYOUT_1]).unwrap_or_default()
}

/// Reads a stored state, in the current layout or as JSON.
pub(super) fn decode(raw: &[u8]) -> Result<CheckableState, String> {
    match raw.split_first() {
        Some((&LAYOUT_1, rest)) => match postcard::take_from_bytes(rest) {
            Ok((state, [])) => Ok(state),
            Ok((_, trailing)) => Err(format!("{} bytes after the stored state", trailing.len())),
            Err(e) => Err(format!("stored state: {e}")),
        },
        Some((b'{', _)) => serde_json::from_slice(raw).map_err(|e| e.to_string()),
        Some((first, _)) => Err(format!("not a stored state (first byte {first:#04x})")),
        None => Err("empty stored state".into()),
    }
}

/// For fields holding free-form JSON (`serde_json::Value` and collections of it): shown
/// as themselves to human-readable formats (the API's JSON), and stored as JSON text by
/// compact ones, which cannot carry a value whose kind is only known when it is read.
pub(super) mod json_text {
    use super::{Deserialize, DeserializeOwned, Deserializer, Serialize, Serializer};

    pub fn serialize<T: Serialize, S: Serializer>(value: &T, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            value.serialize(s)
        } else {
            let text = serde_json::to_string(value).map_err(serde::ser::Error::custom)?;
            s.serialize_str(&text)
        }
    }

    pub fn deserialize<'de, T: DeserializeOwned, D: Deserializer<'de>>(
        d: D,
    ) -> Result<T, D::Error> {
        if d.is_human_readable() {
            T::deserialize(d)
        } else {
            let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
            serde_json::from_str(&text).map_err(serde::de::Error::custom)
        }
    }
}
