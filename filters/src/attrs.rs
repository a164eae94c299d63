//! An object's attributes as a built object keeps them: one sorted slice, sized to fit.
//!
//! Objects never change in place (a change builds a new object), so they need a map to
//! read, not one to grow. A `BTreeMap` node holds room for eleven entries whatever it
//! holds: a service of five attributes took a 512-byte node; as a slice it takes the
//! 200 bytes of its five entries. Lookups are a binary search over names that are
//! interned and mostly short; iteration is in name order, as the `BTreeMap`'s.

use crate::{Dict, Str, Value};

/// Read access by attribute name, for helpers that read an object's attributes as well
/// as a dictionary being built (configuration items, request bodies).
pub trait Lookup: Sync {
    fn lookup(&self, key: &str) -> Option<&Value>;
}

impl Lookup for Dict {
    fn lookup(&self, key: &str) -> Option<&Value> {
        self.get(key)
    }
}

/// The attributes of an object, sorted by name.
#[derive(Clone, Default)]
pub struct Attrs(Box<[(Str, Value)]>);

impl Attrs {
    /// From entries already in name order, each name once (a map's entries).
    pub fn from_sorted(entries: Box<[(Str, Value)]>) -> Attrs {
        debug_assert!(entries.windows(2).all(|w| w[0].0 < w[1].0));
        Attrs(entries)
    }

    /// Where `key` is, or where it would go.
    fn position(&self, key: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(k, _)| (**k).cmp(key))
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.position(key).ok().map(|i| &self.0[i].1)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Name and value, in name order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&Str, &Value)> + Clone + '_ {
        self.0.iter().map(|(k, v)| (k, v))
    }

    pub fn keys(&self) -> impl Iterator<Item = &Str> + '_ {
        self.0.iter().map(|(k, _)| k)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Sets one attribute (of an object not shared yet: shared objects are replaced).
    pub fn insert(&mut self, key: Str, value: Value) {
        match self.position(&key) {
            Ok(i) => self.0[i].1 = value,
            Err(i) => {
                let mut entries = std::mem::take(&mut self.0).into_vec();
                entries.insert(i, (key, value));
                self.0 = entries.into_boxed_slice();
            }
        }
    }

    /// The entries, in name order, to change in place and give back through
    /// [`Attrs::from_sorted`].
    pub fn into_entries(self) -> Box<[(Str, Value)]> {
        self.0
    }

    /// A dictionary to change (the attributes of a new version of the object).
    pub fn to_dict(&self) -> Dict {
        self.0.iter().cloned().collect()
    }
}

impl Lookup for Attrs {
    fn lookup(&self, key: &str) -> Option<&Value> {
        self.get(key)
    }
}

impl From<Dict> for Attrs {
    fn from(d: Dict) -> Attrs {
        // A map iterates in key order: the slice comes out sorted.
        Attrs(d.into_iter().collect())
    }
}

impl<'a> IntoIterator for &'a Attrs {
    type Item = (&'a Str, &'a Value);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'a, (Str, Value)>,
        fn(&'a (Str, Value)) -> (&'a Str, &'a Value),
    >;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|(k, v)| (k, v))
    }
}

impl serde::Serialize for Attrs {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.iter().map(|(k, v)| (&**k, v)))
    }
}

impl std::fmt::Debug for Attrs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lookups find every attribute and nothing else; iteration keeps the map's order;
    /// a round trip through a dictionary is the same.
    #[test]
    fn reads_as_the_map() {
        let d: Dict = [
            ("vars", Value::from("v")),
            ("check_command", Value::from("dummy")),
            ("name", Value::from("web")),
            ("address", Value::from("192.0.2.1")),
        ]
        .into_iter()
        .map(|(k, v)| (Str::from(k), v))
        .collect();
        let a = Attrs::from(d.clone());
        for (k, v) in &d {
            assert_eq!(a.get(k).map(Value::to_json), Some(v.to_json()), "{k}");
        }
        for missing in ["", "a", "checks", "zone", "vars2"] {
            assert!(a.get(missing).is_none(), "{missing}");
        }
        assert_eq!(
            a.keys().map(|k| &**k).collect::<Vec<_>>(),
            ["address", "check_command", "name", "vars"]
        );
        assert_eq!((a.len(), a.is_empty()), (4, false));
        assert_eq!(a.to_dict().len(), d.len());
        assert!(a.to_dict().iter().zip(&d).all(|(x, y)| x.0 == y.0));
        assert!(Attrs::default().get("name").is_none());

        let mut changed = a.clone();
        changed.insert("zone".into(), Value::from("z"));
        changed.insert("name".into(), Value::from("db"));
        changed.insert("a".into(), Value::from(1.0));
        assert_eq!(
            changed.keys().map(|k| &**k).collect::<Vec<_>>(),
            ["a", "address", "check_command", "name", "vars", "zone"]
        );
        assert_eq!(
            changed.get("name").map(Value::to_json),
            Some("\"db\"".into())
        );
        assert_eq!(
            serde_json::to_string(&changed).ok().as_deref(),
            Some(
                r#"{"a":1,"address":"192.0.2.1","check_command":"dummy","name":"db","vars":"v","zone":"z"}"#
            )
        );
    }
}
