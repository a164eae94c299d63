//! Request parameters as Icinga merges them: the JSON body first, then every query-string
//! key overwriting it with the array of all its values (`?attrs=a&attrs=b`).

use serde_json::{Map, Value as Json};

use crate::error::Error;

/// The merged parameters of one request.
#[derive(Debug, Default, Clone)]
pub struct Params(Map<String, Json>);

impl Params {
    /// Merges `query` (raw, undecoded) over `body`. The body must be empty, JSON `null`
    /// (no body, as Icinga reads it) or a JSON object, whatever the Content-Type says.
    ///
    /// # Errors
    /// [`Kind::Invalid`](crate::error::Kind::Invalid): `Invalid request body: …` for a body that is not a JSON object.
    pub fn parse(query: Option<&str>, body: &[u8]) -> Result<Params, Error> {
        let mut map = if body.iter().all(u8::is_ascii_whitespace) {
            Map::new()
        } else {
            match serde_json::from_slice::<Json>(body) {
                Ok(Json::Object(m)) => m,
                Ok(Json::Null) => Map::new(),
                Ok(other) => {
                    return Err(Error::invalid(format!(
                        "Invalid request body: Error: Request body must be a JSON object, got {}.",
                        type_name(&other)
                    )))
                }
                Err(e) => return Err(Error::invalid(format!("Invalid request body: Error: {e}"))),
            }
        };
        if let Some(q) = query {
            let mut from_query: Map<String, Json> = Map::new();
            for (k, v) in form_urlencoded::parse(q.as_bytes()) {
                let entry = from_query
                    .entry(k.into_owned())
                    .or_insert_with(|| Json::Array(Vec::new()));
                if let Json::Array(a) = entry {
                    a.push(Json::String(v.into_owned()));
                }
            }
            map.extend(from_query);
        }
        Ok(Params(map))
    }

    pub fn from_map(map: Map<String, Json>) -> Params {
        Params(map)
    }

    /// Removes a parameter and returns it.
    pub fn take(&mut self, key: &str) -> Option<Json> {
        self.0.remove(key)
    }

    /// Every parameter name.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    pub fn contains(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }

    /// The value as given (an array for query-string keys).
    pub fn raw(&self, key: &str) -> Option<&Json> {
        self.0.get(key)
    }

    /// A scalar: the last element when the value is an array ("last wins").
    pub fn scalar(&self, key: &str) -> Option<&Json> {
        match self.0.get(key)? {
            Json::Array(a) => a.last(),
            v => Some(v),
        }
    }

    pub fn string(&self, key: &str) -> Option<String> {
        match self.scalar(key)? {
            Json::String(s) => Some(s.clone()),
            Json::Null => None,
            v => Some(v.to_string()),
        }
    }

    /// A boolean with the DSL's truthiness, except that the strings `0`, `false`, `no`
    /// and `off` (and the empty string) are false. [DECIDE] In Icinga every non-empty
    /// string is true, so `?cascade=0` meant true; that is plainly a bug (docs/api.md).
    pub fn bool(&self, key: &str) -> Option<bool> {
        Some(match self.scalar(key)? {
            Json::Bool(b) => *b,
            Json::Null => false,
            Json::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
            Json::String(s) => !matches!(
                s.trim().to_ascii_lowercase().as_str(),
                "" | "0" | "false" | "no" | "off"
            ),
            Json::Array(a) => !a.is_empty(),
            Json::Object(o) => !o.is_empty(),
        })
    }

    pub fn flag(&self, key: &str) -> bool {
        self.bool(key).unwrap_or(false)
    }

    /// A number; strings are converted (`exit_status=2` from a query string).
    ///
    /// # Errors
    /// [`Kind::Invalid`](crate::error::Kind::Invalid) when present but not a number.
    pub fn number(&self, key: &str) -> Result<Option<f64>, Error> {
        match self.scalar(key) {
            None | Some(Json::Null) => Ok(None),
            Some(Json::Number(n)) => Ok(n.as_f64()),
            Some(Json::Bool(b)) => Ok(Some(f64::from(u8::from(*b)))),
            Some(Json::String(s)) => s.trim().parse::<f64>().map(Some).map_err(|_| {
                Error::invalid(format!("Invalid number for parameter '{key}': '{s}'"))
            }),
            Some(other) => Err(Error::invalid(format!(
                "Invalid type for parameter '{key}': {}",
                type_name(other)
            ))),
        }
    }

    /// An array parameter (`attrs`, `joins`, `types`); a scalar is refused with Icinga's
    /// message.
    ///
    /// # Errors
    /// [`Kind::Invalid`](crate::error::Kind::Invalid): `Invalid type for '<key>' attribute specified. Array type is required.`
    pub fn array(&self, key: &str) -> Result<Option<Vec<Json>>, Error> {
        match self.0.get(key) {
            None | Some(Json::Null) => Ok(None),
            Some(Json::Array(a)) => Ok(Some(a.clone())),
            Some(_) => Err(Error::invalid(format!(
                "Invalid type for '{key}' attribute specified. Array type is required."
            ))),
        }
    }

    /// An array of strings (`templates`, `restore_attrs`).
    ///
    /// # Errors
    /// [`Kind::Invalid`](crate::error::Kind::Invalid) for a non-array, or an array with other elements.
    pub fn string_list(&self, key: &str) -> Result<Option<Vec<String>>, Error> {
        let Some(items) = self.array(key)? else {
            return Ok(None);
        };
        items
            .iter()
            .map(|v| v.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .map(Some)
            .ok_or_else(|| {
                Error::invalid(format!(
                    "Invalid type for '{key}': an array of strings is required."
                ))
            })
    }

    /// A dictionary parameter (`attrs`, `filter_vars`); in a query string, a JSON object
    /// (what pagination links carry).
    ///
    /// # Errors
    /// [`Kind::Invalid`](crate::error::Kind::Invalid): `Invalid type for '<key>' attribute specified. Dictionary type is required.`
    pub fn dict(&self, key: &str) -> Result<Option<Map<String, Json>>, Error> {
        let from_query = || match self.scalar(key) {
            Some(Json::String(s)) => serde_json::from_str::<Map<String, Json>>(s).ok(),
            _ => None,
        };
        match self.0.get(key) {
            None | Some(Json::Null) => Ok(None),
            Some(Json::Object(m)) => Ok(Some(m.clone())),
            Some(_) => from_query().map(Some).ok_or_else(|| {
                Error::invalid(format!(
                    "Invalid type for '{key}' attribute specified. Dictionary type is required."
                ))
            }),
        }
    }

    /// Every parameter but `skip` as a query string (body parameters too): values as
    /// given, arrays as repeated keys, dictionaries as JSON.
    pub fn to_query(&self, skip: &[&str]) -> String {
        let text = |v: &Json| match v {
            Json::String(s) => s.clone(),
            v => v.to_string(),
        };
        let mut out = form_urlencoded::Serializer::new(String::new());
        for (key, value) in self.0.iter().filter(|(k, _)| !skip.contains(&k.as_str())) {
            match value {
                Json::Null => {}
                Json::Array(items) => {
                    for item in items {
                        out.append_pair(key, &text(item));
                    }
                }
                v => {
                    out.append_pair(key, &text(v));
                }
            }
        }
        out.finish()
    }

    /// An array of strings, or a single string as a one-element array.
    pub fn strings(&self, key: &str) -> Vec<String> {
        match self.0.get(key) {
            Some(Json::Array(a)) => a
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            Some(Json::String(s)) => vec![s.clone()],
            _ => Vec::new(),
        }
    }
}

fn type_name(v: &Json) -> &'static str {
    match v {
        Json::Null => "Empty",
        Json::Bool(_) => "Boolean",
        Json::Number(_) => "Number",
        Json::String(_) => "String",
        Json::Array(_) => "Array",
        Json::Object(_) => "Dictionary",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Timestamps come back exactly as sent: JSON numbers are parsed to the nearest
    /// double (serde_json's `float_roundtrip`), not one unit off as its fast path may be.
    #[test]
    fn timestamps_parse_exactly() -> Result<(), serde_json::Error> {
        for text in ["1795599439.4726965", "1732540000.123456", "0.1", "1e-7"] {
            let parsed: f64 = serde_json::from_str(text)?;
            assert_eq!(Some(parsed), text.parse().ok(), "{text}");
        }
        Ok(())
    }

    #[test]
    fn query_overwrites_body_with_arrays() -> Result<(), Error> {
        let p = Params::parse(
            Some("attrs=name&attrs=state&force=0&exit_status=2&x=%20a%2Bb"),
            br#"{"attrs":["other"],"pretty":true,"force":true}"#,
        )?;
        assert_eq!(p.strings("attrs"), ["name", "state"]);
        assert_eq!(p.bool("pretty"), Some(true));
        assert_eq!(p.bool("force"), Some(false));
        assert_eq!(p.number("exit_status")?, Some(2.0));
        assert_eq!(p.string("x").as_deref(), Some(" a+b"));
        Ok(())
    }

    #[test]
    fn bad_bodies_are_invalid() {
        for body in [&b"[1]"[..], b"{", b"\"x\"", b"{\"a\":}"] {
            let e = Params::parse(None, body).unwrap_err();
            assert_eq!(e.kind, crate::error::Kind::Invalid);
            assert!(
                e.message.starts_with("Invalid request body"),
                "{}",
                e.message
            );
        }
        assert!(Params::parse(None, b"  ").is_ok());
    }

    /// A query string rebuilt from the parameters reads back as the same parameters.
    #[test]
    fn parameters_round_trip_through_a_query() -> Result<(), Error> {
        let p = Params::parse(
            Some("attrs=name&attrs=state&limit=2"),
            br#"{"filter":"host.vars.x == y && 1 < 2","filter_vars":{"y":"a b"},"joins":["host.name"],"pretty":true}"#,
        )?;
        let q = Params::parse(Some(&p.to_query(&["limit"])), b"")?;
        assert_eq!(q.strings("attrs"), ["name", "state"]);
        assert_eq!(q.string("filter"), p.string("filter"));
        assert_eq!(q.dict("filter_vars")?, p.dict("filter_vars")?);
        assert_eq!(q.strings("joins"), ["host.name"]);
        assert_eq!(q.bool("pretty"), Some(true));
        assert!(!q.contains("limit"));
        Ok(())
    }

    /// A JSON `null` body is no body, as Icinga reads it (aiohttp clients send one).
    #[test]
    fn null_body_is_no_body() -> Result<(), Error> {
        let p = Params::parse(Some("attrs=name"), b" null\n")?;
        assert_eq!(p.keys().collect::<Vec<_>>(), ["attrs"]);
        assert_eq!(p.strings("attrs"), ["name"]);
        Ok(())
    }

    #[test]
    fn scalars_take_the_last_value() -> Result<(), Error> {
        let p = Params::parse(Some("force=0&force=1"), b"")?;
        assert_eq!(p.bool("force"), Some(true));
        assert!(Params::parse(None, br#"{"attrs":"name"}"#)?
            .array("attrs")
            .is_err());
        Ok(())
    }

    proptest::proptest! {
        /// Whatever arrives as query string and body, parsing answers (an invalid-request error at worst)
        /// and never panics.
        #[test]
        fn parsing_never_panics(
            query in "[ -~%&=\\[\\]]{0,200}",
            body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512),
        ) {
            let _ = Params::parse(Some(&query), &body);
            let _ = Params::parse(None, &body);
        }

        /// A JSON object body comes back key by key; the same keys in the query string
        /// win, as arrays of their values.
        #[test]
        fn bodies_and_queries_round_trip(
            map in proptest::collection::btree_map("[a-z_]{1,8}", -1_000_000i64..1_000_000, 0..8),
        ) {
            let body = serde_json::to_vec(&map).map_err(|e| proptest::test_runner::TestCaseError::fail(e.to_string()))?;
            let p = Params::parse(None, &body).map_err(|e| proptest::test_runner::TestCaseError::fail(e.message))?;
            for (k, v) in &map {
                proptest::prop_assert_eq!(p.raw(k), Some(&Json::from(*v)));
            }
            let query: Vec<String> = map.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let p = Params::parse(Some(&query.join("&")), &body).map_err(|e| proptest::test_runner::TestCaseError::fail(e.message))?;
            for (k, v) in &map {
                proptest::prop_assert_eq!(p.raw(k), Some(&Json::from(vec![Json::from(v.to_string())])));
            }
        }
    }
}
