//! TimePeriod objects as the day-definition evaluator (`timeperiod`) reads them.

use filters::Value;

use super::Registry;
use crate::timeperiod::{Definition, Periods};

impl Periods for Registry {
    fn definition(&self, name: &str) -> Option<Definition> {
        let object = self.get("TimePeriod", name)?;
        let names = |attr: &str| -> Vec<String> {
            match object.attr(attr) {
                Some(Value::Array(a)) => a.iter().map(Value::to_display_string).collect(),
                _ => Vec::new(),
            }
        };
        Some(Definition {
            ranges: object.attr("ranges").cloned(),
            includes: names("includes"),
            excludes: names("excludes"),
            prefer_includes: !matches!(object.attr("prefer_includes"), Some(Value::Bool(false))),
        })
    }
}
