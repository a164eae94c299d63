//! Callable values: builtin functions and methods, and lambdas written in the script.

use std::sync::Arc;

use crate::ast::Lambda;
use crate::error::Error;
use crate::eval::Env;
use crate::value::{Dict, Str, Value};

/// The signature of every builtin: the evaluation environment, `this` (null for global
/// functions) and the arguments.
pub type NativeFn = fn(&mut Env<'_>, &Value, &[Value]) -> Result<Value, Error>;

/// A function or method implemented in Rust.
pub struct Builtin {
    /// Icinga's qualified name, e.g. `System#match` or `String#upper`.
    pub name: &'static str,
    pub args: &'static [&'static str],
    /// Side-effect free: callable from sandboxed filters.
    pub safe: bool,
    pub call: NativeFn,
}

/// A lambda closed over the locals of the frame that created it.
#[derive(Debug)]
pub struct Closure {
    pub lambda: Arc<Lambda>,
    pub captured: Vec<(Str, Value)>,
}

pub enum Function {
    Builtin(&'static Builtin),
    Closure(Closure),
}

impl std::fmt::Debug for Function {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Function::Builtin(b) => write!(f, "Builtin({})", b.name),
            Function::Closure(_) => f.write_str("<anonymous>"),
        }
    }
}

impl Function {
    pub fn is_safe(&self) -> bool {
        match self {
            Function::Builtin(b) => b.safe,
            Function::Closure(_) => true,
        }
    }

    /// The same builtin (Icinga's `==` on functions).
    pub fn same_as(&self, other: &Function) -> bool {
        match (self, other) {
            (Function::Builtin(a), Function::Builtin(b)) => std::ptr::eq(*a, *b),
            _ => false,
        }
    }

    /// The same builtin, or lambdas written alike (same parameters and body tokens) that
    /// closed over the same values: what tells a reloaded configuration from a changed one.
    pub fn written_alike(&self, other: &Function) -> bool {
        match (self, other) {
            (Function::Closure(a), Function::Closure(b)) => {
                (Arc::ptr_eq(&a.lambda, &b.lambda)
                    || (a.lambda.fingerprint == b.lambda.fingerprint
                        && a.lambda.params == b.lambda.params))
                    && a.captured.len() == b.captured.len()
                    && a.captured
                        .iter()
                        .zip(&b.captured)
                        .all(|((ka, va), (kb, vb))| ka == kb && va.same(vb))
            }
            _ => self.same_as(other),
        }
    }

    /// The dictionary Icinga serializes a function as.
    pub fn describe(&self) -> Value {
        let (name, args, safe): (&str, Vec<Value>, bool) = match self {
            Function::Builtin(b) => (
                b.name,
                b.args.iter().map(|a| Value::from(*a)).collect(),
                b.safe,
            ),
            Function::Closure(c) => (
                "<anonymous>",
                c.lambda
                    .params
                    .iter()
                    .map(|p| Value::String(p.clone()))
                    .collect(),
                false,
            ),
        };
        let mut d = Dict::new();
        d.insert("arguments".into(), Value::from(args));
        d.insert("deprecated".into(), Value::Bool(false));
        d.insert("name".into(), Value::from(name));
        d.insert("side_effect_free".into(), Value::Bool(safe));
        d.insert("type".into(), Value::from("Function"));
        Value::from(d)
    }
}
