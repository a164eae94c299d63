//! The Icinga 2 DSL expression language, as API filters, permission filters and the console
//! use it: parse once, evaluate many.
//!
//! ```
//! use filters::{Program, Value, Dict};
//!
//! let filter = Program::compile(r#"match("web*", host.name) && host.vars.os == "Linux""#).unwrap();
//! let host: Dict = [
//!     ("name".into(), Value::from("web01")),
//!     ("vars".into(), Value::from(Dict::from([("os".into(), Value::from("Linux"))]))),
//! ].into();
//! let scope = Dict::from([("host".into(), Value::from(host))]);
//! assert!(filter.matches(&scope).unwrap());
//! ```
//!
//! # Layout
//! - [`lexer`]: source text → tokens (newline rules of Icinga's lexer).
//! - [`parser`]: tokens → [`ast::Expr`] with spans; nesting depth is bounded.
//! - `compile`: resolves builtin names and precompiles literal glob/regex patterns in place.
//! - [`eval`]: walks the tree against a [`Scope`] the application implements.
//! - [`value`], `ops`: values and Icinga's operator semantics; [`Attrs`]: a built
//!   object's attributes, compact and read-only.
//! - `functions`, `methods`, `globals`, [`types`]: the builtin library.
//! - [`error`]: errors with spans, rendered with a caret.
//! - [`intern`]: one shared allocation per attribute name.
//! - [`budget`]: deadlines and cancellation shared by one request's evaluations.
//! - [`config`]: the configuration language (`object`, `template`, `apply`, …) and its loader.
//! - [`console`]: the output format of `icinga2 console --eval`.

pub mod ast;
mod attrs;
pub mod budget;
mod compile;
pub mod config;
pub mod console;
pub mod error;
pub mod eval;
pub mod function;
mod functions;
mod globals;
pub mod intern;
pub mod lexer;
mod methods;
mod ops;
pub mod parser;
pub mod pattern;
pub mod perfdata;
pub mod schema;
pub mod types;
pub mod value;

use std::sync::Arc;

pub use attrs::{Attrs, Lookup};
pub use budget::{Budget, Exhausted};
pub use error::{Error, ErrorKind, Span};
pub use eval::{EmptyScope, Env, Limits, Scope};
pub use value::{Dict, Object, Str, Value};

/// The names of every global and keyword, for auto-completion.
pub fn globals_names() -> Vec<String> {
    let mut names = globals::names();
    names.extend(
        [
            "var", "local", "if", "else", "for", "while", "function", "return", "break",
            "continue", "throw", "in", "globals", "locals", "this", "true", "false", "null",
        ]
        .iter()
        .map(|k| k.to_string()),
    );
    names
}

/// A compiled expression or script.
#[derive(Clone, Debug)]
pub struct Program {
    source: Arc<str>,
    expr: Arc<ast::Expr>,
    limits: Limits,
}

impl Program {
    /// Parses and compiles `source`.
    ///
    /// # Errors
    /// A syntax error with the span of the offending token.
    pub fn compile(source: &str) -> Result<Program, Error> {
        let mut expr = parser::parse(source)?;
        compile::compile(&mut expr);
        Ok(Program {
            source: source.into(),
            expr: Arc::new(expr),
            limits: Limits::default(),
        })
    }

    /// The same program with other evaluation limits.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether the program costs about its size to evaluate (see [`ast::Expr::is_simple`]).
    pub fn is_simple(&self) -> bool {
        self.expr.is_simple()
    }

    /// The strings `var.member` must equal whenever the program is true (see
    /// [`ast::Expr::required_strings`]); `None` unless the program is simple and says so
    /// plainly. Lets a caller skip evaluating it for values outside the set.
    pub fn required_strings(&self, vars: &[&str], member: &str) -> Option<Vec<Str>> {
        if !self.is_simple() {
            return None;
        }
        self.expr.required_strings(vars, member)
    }

    /// Evaluates in sandbox mode, as API filters run: no assignments, only side-effect free
    /// functions.
    pub fn evaluate(&self, scope: &dyn Scope) -> Result<Value, Error> {
        Env::new(scope, true, self.limits).run(&self.expr)
    }

    /// As [`Program::evaluate`], stopped when `budget` is spent (an error of kind
    /// [`ErrorKind::Interrupted`]).
    pub fn evaluate_within(&self, scope: &dyn Scope, budget: &Budget) -> Result<Value, Error> {
        Env::new(scope, true, self.limits)
            .with_budget(budget)
            .run(&self.expr)
    }

    /// As [`Program::matches`], stopped when `budget` is spent.
    pub fn matches_within(&self, scope: &dyn Scope, budget: &Budget) -> Result<bool, Error> {
        self.evaluate_within(scope, budget).map(|v| v.to_bool())
    }

    /// Evaluates without the sandbox, as the console and configuration do.
    pub fn execute(&self, scope: &dyn Scope) -> Result<Value, Error> {
        Env::new(scope, false, self.limits).run(&self.expr)
    }

    /// Runs as a console session does: `locals` carries variables from one call to the
    /// next (`var x = 1`, then `x` in a later call).
    pub fn execute_in(
        &self,
        scope: &dyn Scope,
        locals: &mut Vec<(Str, Value)>,
        sandboxed: bool,
    ) -> Result<Value, Error> {
        self.execute_in_within(scope, locals, sandboxed, &Budget::unlimited())
    }

    /// As [`Program::execute_in`], stopped when `budget` is spent.
    pub fn execute_in_within(
        &self,
        scope: &dyn Scope,
        locals: &mut Vec<(Str, Value)>,
        sandboxed: bool,
        budget: &Budget,
    ) -> Result<Value, Error> {
        let mut env = Env::new(scope, sandboxed, self.limits).with_budget(budget);
        let result = env.run_with_locals(std::mem::take(locals), &self.expr);
        *locals = env.take_locals();
        result
    }

    /// Evaluates in sandbox mode and applies Icinga's truthiness to the result.
    pub fn matches(&self, scope: &dyn Scope) -> Result<bool, Error> {
        self.evaluate(scope).map(|v| v.to_bool())
    }

    /// Renders an error of this program with the source line and a caret.
    pub fn render_error(&self, error: &Error) -> String {
        error.render(&self.source, "<filter>")
    }
}
