//! The outcome of an operation on one object: an entry of an answer's `results`, in
//! Icinga's shape `{"code": …, "status": "…", …}`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

/// One entry of `results`: a code (200 for success; 4xx/5xx as Icinga answers them), a
/// human status, and what the operation adds (`name`, `legacy_id`, `errors`, …).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub code: u16,
    pub status: String,
    #[serde(flatten)]
    pub extra: Map<String, Json>,
}

impl Outcome {
    pub fn new(code: u16, status: impl Into<String>) -> Outcome {
        Outcome {
            code,
            status: status.into(),
            extra: Map::new(),
        }
    }

    /// Success (200).
    pub fn ok(status: impl Into<String>) -> Outcome {
        Outcome::new(200, status)
    }

    /// Adds a field.
    #[must_use]
    pub fn with(mut self, key: &str, value: impl Into<Json>) -> Outcome {
        self.extra.insert(key.to_string(), value.into());
        self
    }

    /// Success: a 2xx code.
    pub fn succeeded(&self) -> bool {
        (200..300).contains(&self.code)
    }

    /// As JSON (for answers that mix outcomes with other items).
    pub fn to_json(&self) -> Json {
        serde_json::to_value(self).unwrap_or(Json::Null)
    }
}

/// The code of an answer made of several outcomes, as Icinga aggregates them: one
/// distinct 2xx code and no failure → that code; exactly one distinct failure code → it;
/// several 2xx codes → 200; otherwise (several failure codes, or nothing) → 500.
pub fn aggregate_code(codes: impl IntoIterator<Item = u16>) -> u16 {
    let mut ok = Vec::new();
    let mut failed = Vec::new();
    for c in codes {
        let list = if (200..300).contains(&c) {
            &mut ok
        } else {
            &mut failed
        };
        if !list.contains(&c) {
            list.push(c);
        }
    }
    match (ok.len(), failed.len()) {
        (_, 1) => failed[0],
        (1, 0) => ok[0],
        (n, 0) if n > 1 => 200,
        _ => 500,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregation_follows_icinga() {
        assert_eq!(aggregate_code([202, 202]), 202);
        assert_eq!(aggregate_code([200, 409, 200]), 409);
        assert_eq!(aggregate_code([200, 201]), 200);
        assert_eq!(aggregate_code([400, 409]), 500);
        assert_eq!(aggregate_code([]), 500);
    }

    #[test]
    fn serialises_as_icinga_result_items() {
        let o = Outcome::ok("Done.")
            .with("name", "h!c-1")
            .with("legacy_id", 7);
        assert_eq!(
            o.to_json(),
            serde_json::json!({"code": 200, "status": "Done.", "name": "h!c-1", "legacy_id": 7})
        );
        assert!(o.succeeded());
        assert!(!Outcome::new(404, "No.").succeeded());
    }
}
