//! What `icinga2 console --eval` prints, so `auspex console --eval` prints the same.

use crate::eval::{EmptyScope, Scope};
use crate::Program;

/// The console's output for `source` and whether it succeeded.
///
/// On success the output is the result as JSON; on failure it is a caret line under the
/// offending span followed by the message, as Icinga prints them.
pub fn eval(source: &str, scope: &dyn Scope) -> (String, bool) {
    let result = Program::compile(source).and_then(|p| p.execute(scope));
    match result {
        Ok(v) => (v.to_json(), true),
        Err(e) => (
            format!("{}\n{}", e.console_caret(source), e.icinga_message()),
            false,
        ),
    }
}

/// [`eval`] with no variables or objects.
pub fn eval_plain(source: &str) -> (String, bool) {
    eval(source, &EmptyScope)
}
