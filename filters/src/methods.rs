//! Prototype methods: `"x".upper()`, `[1, 2].join(",")`, `{a = 1}.keys()`, …
//!
//! Names, argument lists and sandbox safety are Icinga 2 r2.13's; methods that mutate
//! (`add`, `set`, `remove`, …) are marked unsafe, so sandboxed filters cannot call them.

use std::sync::Arc;

use crate::error::{Error, Span};
use crate::eval::Env;
use crate::function::{Builtin, Function};
use crate::ops;
use crate::value::{Dict, Value};

type Res = Result<Value, Error>;

fn fail(msg: impl Into<String>) -> Error {
    Error::evaluation(msg, Span::default())
}

macro_rules! method {
    ($owner:literal, $name:literal, [$($arg:literal),*], $safe:expr, $f:expr) => {
        Builtin {
            name: concat!($owner, "#", $name),
            args: &[$($arg),*],
            safe: $safe,
            call: $f,
        }
    };
}

fn arg(args: &[Value], i: usize) -> Value {
    args.get(i).cloned().unwrap_or_default()
}

fn string_of(this: &Value) -> String {
    this.to_display_string()
}

pub static OBJECT: &[Builtin] = &[
    method!("Object", "clone", [], true, |_, this, _| Ok(this.clone())),
    method!(
        "Object",
        "notify_attribute",
        ["attribute"],
        false,
        |_, _, _| Ok(Value::Null)
    ),
    method!("Object", "to_string", [], true, |_, this, _| Ok(
        Value::from(string_of(this))
    )),
];

pub static NUMBER: &[Builtin] = &[method!("Number", "to_string", [], true, |_, this, _| Ok(
    Value::from(string_of(this))
))];

pub static BOOLEAN: &[Builtin] = &[method!("Boolean", "to_string", [], true, |_, this, _| Ok(
    Value::from(string_of(this))
))];

pub static FUNCTION: &[Builtin] = &[
    method!("Function", "call", [], false, |env, this, args| {
        let Value::Function(f) = this else {
            return Err(fail("Not a function"));
        };
        let (self_arg, rest) = args
            .split_first()
            .map_or((Value::Null, &[][..]), |(a, r)| (a.clone(), r));
        env.call_function(f, &self_arg, rest, Span::default())
    }),
    method!("Function", "callv", [], false, |env, this, args| {
        let Value::Function(f) = this else {
            return Err(fail("Not a function"));
        };
        let list = match args.get(1) {
            Some(Value::Array(a)) => a.as_ref().clone(),
            _ => Vec::new(),
        };
        env.call_function(f, &arg(args, 0), &list, Span::default())
    }),
];

pub static TYPE: &[Builtin] = &[method!(
    "Type",
    "register_attribute_handler",
    ["field", "callback"],
    false,
    |_, _, _| Ok(Value::Null)
)];

pub static CONFIG_OBJECT: &[Builtin] = &[
    method!(
        "ConfigObject",
        "modify_attribute",
        ["attr", "value"],
        false,
        |_, _, _| { Err(fail("Objects cannot be modified from expressions.")) }
    ),
    method!(
        "ConfigObject",
        "restore_attribute",
        ["attr", "value"],
        false,
        |_, _, _| { Err(fail("Objects cannot be modified from expressions.")) }
    ),
];

pub static CHECKABLE: &[Builtin] = &[method!(
    "Checkable",
    "process_check_result",
    ["cr"],
    false,
    |_, _, _| Err(fail("Check results cannot be processed from expressions."))
)];

pub static STRING: &[Builtin] = &[
    method!("String", "contains", ["str"], true, |_, this, args| {
        Ok(Value::Bool(
            this.display_str()
                .contains(&*arg(args, 0).to_display_string()),
        ))
    }),
    method!("String", "find", ["str", "start"], true, |_, this, args| {
        let s = this.display_str();
        let needle = arg(args, 0).to_display_string();
        let start = match args.get(1) {
            Some(v) => {
                let n = v.to_number().map_err(fail)?;
                if n < 0.0 {
                    return Err(fail("String index is out of range"));
                }
                n as usize
            }
            None => 0,
        };
        if start > s.len() {
            return Ok(Value::Number(-1.0));
        }
        if needle.is_empty() {
            // An empty string is found where the search starts.
            return Ok(Value::Number(start as f64));
        }
        Ok(Value::Number(
            s.as_bytes()[start..]
                .windows(needle.len())
                .position(|w| w == needle.as_bytes())
                .map_or(-1.0, |p| (p + start) as f64),
        ))
    }),
    method!("String", "len", [], true, |_, this, _| Ok(Value::Number(
        this.display_str().len() as f64
    ))),
    method!("String", "lower", [], true, |_, this, _| {
        Ok(Value::from(this.display_str().to_ascii_lowercase()))
    }),
    method!(
        "String",
        "replace",
        ["search", "replacement"],
        true,
        |_, this, args| {
            let search = arg(args, 0).to_display_string();
            let repl = arg(args, 1).to_display_string();
            let s = this.display_str();
            if search.is_empty() {
                return Ok(Value::String(s));
            }
            Ok(Value::from(s.replace(&search, &repl)))
        }
    ),
    method!("String", "reverse", [], true, |_, this, _| {
        let mut b = this.display_str().as_bytes().to_vec();
        b.reverse();
        Ok(Value::from(String::from_utf8_lossy(&b).into_owned()))
    }),
    method!("String", "split", ["delims"], true, |_, this, args| {
        let s = this.display_str();
        let delims = arg(args, 0).to_display_string();
        let parts: Vec<Value> = if delims.is_empty() {
            vec![Value::String(s)]
        } else {
            s.split(|c| delims.contains(c)).map(Value::from).collect()
        };
        Ok(Value::from(parts))
    }),
    method!(
        "String",
        "substr",
        ["start", "len"],
        true,
        |_, this, args| {
            let s = this.display_str();
            let start = arg(args, 0).to_number().map_err(fail)?;
            if start < 0.0
                || start as usize >= s.len().max(1) && !(start as usize == 0 && s.is_empty())
            {
                return Err(fail("String index is out of range"));
            }
            let start = start as usize;
            let end = match args.get(1) {
                Some(l) => {
                    let l = l.to_number().map_err(fail)?;
                    if l < 0.0 {
                        return Err(fail("String index is out of range"));
                    }
                    (start + l as usize).min(s.len())
                }
                None => s.len(),
            };
            let bytes = &s.as_bytes()[start..end];
            Ok(Value::from(String::from_utf8_lossy(bytes).into_owned()))
        }
    ),
    method!("String", "to_string", [], true, |_, this, _| Ok(
        Value::String(this.display_str())
    )),
    method!("String", "trim", [], true, |_, this, _| {
        Ok(Value::from(
            this.display_str()
                .trim_matches(|c: char| c.is_ascii_whitespace()),
        ))
    }),
    method!("String", "upper", [], true, |_, this, _| {
        Ok(Value::from(this.display_str().to_ascii_uppercase()))
    }),
];

fn this_array(this: &Value) -> Arc<Vec<Value>> {
    match this {
        Value::Array(a) => a.clone(),
        _ => Arc::new(Vec::new()),
    }
}

fn callable(v: &Value) -> Result<Arc<Function>, Error> {
    match v {
        Value::Function(f) => Ok(f.clone()),
        _ => Err(fail("Argument must be a function.")),
    }
}

fn sandbox_check(env: &Env<'_>, f: &Function) -> Result<(), Error> {
    if env.sandboxed() && !f.is_safe() {
        return Err(Error::script(
            "Sort function must be side-effect free.",
            Span::default(),
        ));
    }
    Ok(())
}

fn each_bool(env: &mut Env<'_>, args: &[Value], arr: &[Value], all: bool) -> Res {
    let f = callable(&arg(args, 0))?;
    sandbox_check(env, &f)?;
    for v in arr {
        let r = env.call_function(&f, &Value::Null, std::slice::from_ref(v), Span::default())?;
        if r.to_bool() != all {
            return Ok(Value::Bool(!all));
        }
    }
    Ok(Value::Bool(all))
}

fn sort_values(a: &mut [Value]) -> Result<(), Error> {
    let mut err = None;
    a.sort_by(|x, y| match ops::compare(x, y, "<") {
        Ok(Some(o)) => o,
        Ok(None) => std::cmp::Ordering::Equal,
        Err(e) => {
            err.get_or_insert(e);
            std::cmp::Ordering::Equal
        }
    });
    err.map_or(Ok(()), |e| Err(fail(e)))
}

/// How a mutator changes its container in place.
type Mutation = fn(&mut Value, &[Value]) -> Result<(), Error>;

/// The methods that change their container, and how. The evaluator applies them to the
/// container where it lives (`a.add(1)` updates `a`), without a copy unless it is shared.
fn mutation(name: &str) -> Option<Mutation> {
    Some(match name {
        "Array#add" => |v, args| {
            if let Value::Array(a) = v {
                Arc::make_mut(a).push(arg(args, 0));
            }
            Ok(())
        },
        "Array#clear" => |v, _| {
            if let Value::Array(a) = v {
                Arc::make_mut(a).clear();
            }
            Ok(())
        },
        "Array#remove" => |v, args| {
            if let Value::Array(a) = v {
                let i = array_index(&arg(args, 0), a.len())?;
                Arc::make_mut(a).remove(i);
            }
            Ok(())
        },
        "Array#set" => |v, args| {
            if let Value::Array(a) = v {
                let i = array_index(&arg(args, 0), a.len())?;
                Arc::make_mut(a)[i] = arg(args, 1);
            }
            Ok(())
        },
        "Dictionary#clear" => |v, _| {
            if let Value::Dict(d) = v {
                Arc::make_mut(d).clear();
            }
            Ok(())
        },
        "Dictionary#remove" => |v, args| {
            if let Value::Dict(d) = v {
                Arc::make_mut(d).remove(&*arg(args, 0).to_display_string());
            }
            Ok(())
        },
        "Dictionary#set" => |v, args| {
            if let Value::Dict(d) = v {
                Arc::make_mut(d).insert(arg(args, 0).display_str(), arg(args, 1));
            }
            Ok(())
        },
        _ => return None,
    })
}

/// Whether `b` changes its container (see [`mutate_in_place`]).
pub fn is_mutator(b: &Builtin) -> bool {
    mutation(b.name).is_some()
}

/// Applies the mutator `b` to the container `target` where it lives: no copy unless the
/// container is shared. Anything but the mutator's own container type is left alone.
///
/// # Errors
/// An index out of range.
pub fn mutate_in_place(b: &Builtin, target: &mut Value, args: &[Value]) -> Result<(), Error> {
    mutation(b.name).map_or(Ok(()), |m| m(target, args))
}

/// A mutator called as a plain function value: returns the changed copy.
fn changed(name: &'static str, this: &Value, args: &[Value]) -> Res {
    let mut v = this.clone();
    if let Some(m) = mutation(name) {
        m(&mut v, args)?;
    }
    Ok(v)
}

fn array_index(v: &Value, len: usize) -> Result<usize, Error> {
    let i = v.to_number().map_err(fail)?;
    if i < 0.0 || i as usize >= len {
        return Err(fail("Index out of range"));
    }
    Ok(i as usize)
}

pub static ARRAY: &[Builtin] = &[
    method!("Array", "add", ["value"], false, |_, this, args| {
        changed("Array#add", this, args)
    }),
    method!("Array", "all", ["func"], true, |env, this, args| {
        each_bool(env, args, &this_array(this), true)
    }),
    method!("Array", "any", ["func"], true, |env, this, args| {
        each_bool(env, args, &this_array(this), false)
    }),
    method!("Array", "clear", [], false, |_, this, args| changed(
        "Array#clear",
        this,
        args
    )),
    method!("Array", "contains", ["value"], true, |_, this, args| {
        let needle = arg(args, 0);
        Ok(Value::Bool(
            this_array(this).iter().any(|v| v.loose_eq(&needle)),
        ))
    }),
    method!("Array", "filter", ["func"], true, |env, this, args| {
        let f = callable(&arg(args, 0))?;
        sandbox_check(env, &f)?;
        let mut out = Vec::new();
        for v in this_array(this).iter() {
            if env
                .call_function(&f, &Value::Null, std::slice::from_ref(v), Span::default())?
                .to_bool()
            {
                out.push(v.clone());
            }
        }
        Ok(Value::from(out))
    }),
    method!("Array", "freeze", [], false, |_, _, _| Ok(Value::Null)),
    method!("Array", "get", ["index"], false, |_, this, args| {
        let a = this_array(this);
        let i = arg(args, 0).to_number().map_err(fail)?;
        a.get(i as usize)
            .filter(|_| i >= 0.0)
            .cloned()
            .ok_or_else(|| fail("Index out of range"))
    }),
    method!("Array", "join", ["separator"], true, |_, this, args| {
        // Icinga folds with operator+, so types matter: [1, 2].join(0) is 3.
        let sep = arg(args, 0);
        let mut result = Value::Null;
        for (i, item) in this_array(this).iter().enumerate() {
            if i > 0 {
                result = ops::binary(crate::ast::BinaryOp::Add, &result, &sep).map_err(fail)?;
            }
            result = ops::binary(crate::ast::BinaryOp::Add, &result, item).map_err(fail)?;
        }
        Ok(result)
    }),
    method!("Array", "len", [], true, |_, this, _| Ok(Value::Number(
        this_array(this).len() as f64
    ))),
    method!("Array", "map", ["func"], true, |env, this, args| {
        let f = callable(&arg(args, 0))?;
        sandbox_check(env, &f)?;
        let mut out = Vec::new();
        for v in this_array(this).iter() {
            out.push(env.call_function(
                &f,
                &Value::Null,
                std::slice::from_ref(v),
                Span::default(),
            )?);
        }
        Ok(Value::from(out))
    }),
    method!("Array", "reduce", ["reduce"], true, |env, this, args| {
        let f = callable(&arg(args, 0))?;
        sandbox_check(env, &f)?;
        let a = this_array(this);
        let Some(first) = a.first() else {
            return Ok(Value::Null);
        };
        let mut acc = first.clone();
        for v in &a[1..] {
            acc = env.call_function(&f, &Value::Null, &[acc, v.clone()], Span::default())?;
        }
        Ok(acc)
    }),
    method!(
        "Array",
        "remove",
        ["index"],
        false,
        |_, this, args| changed("Array#remove", this, args)
    ),
    method!("Array", "reverse", [], true, |_, this, _| {
        let mut v = this_array(this).as_ref().clone();
        v.reverse();
        Ok(Value::from(v))
    }),
    method!(
        "Array",
        "set",
        ["index", "value"],
        false,
        |_, this, args| changed("Array#set", this, args)
    ),
    method!("Array", "shallow_clone", [], true, |_, this, _| {
        Ok(Value::from(this_array(this).as_ref().clone()))
    }),
    method!("Array", "sort", ["less_cmp"], true, |env, this, args| {
        let mut v = this_array(this).as_ref().clone();
        match args.first() {
            None => sort_values(&mut v)?,
            Some(cmp) => {
                let f = callable(cmp)?;
                sandbox_check(env, &f)?;
                let mut err = None;
                v.sort_by(|a, b| {
                    if err.is_some() {
                        return std::cmp::Ordering::Equal;
                    }
                    let less = |x: &Value, y: &Value, env: &mut Env<'_>| {
                        env.call_function(
                            &f,
                            &Value::Null,
                            &[x.clone(), y.clone()],
                            Span::default(),
                        )
                        .map(|r| r.to_bool())
                    };
                    match (less(a, b, env), less(b, a, env)) {
                        (Ok(true), _) => std::cmp::Ordering::Less,
                        (Ok(false), Ok(true)) => std::cmp::Ordering::Greater,
                        (Ok(false), Ok(false)) => std::cmp::Ordering::Equal,
                        (Err(e), _) | (_, Err(e)) => {
                            err = Some(e);
                            std::cmp::Ordering::Equal
                        }
                    }
                });
                if let Some(e) = err {
                    return Err(e);
                }
            }
        }
        Ok(Value::from(v))
    }),
    method!("Array", "unique", [], true, |_, this, _| {
        // Icinga builds a std::set: sorted and deduplicated.
        let mut v = this_array(this).as_ref().clone();
        sort_values(&mut v)?;
        v.dedup_by(|a, b| a.loose_eq(b));
        Ok(Value::from(v))
    }),
];

fn this_dict(this: &Value) -> Arc<Dict> {
    match this {
        Value::Dict(d) => d.clone(),
        _ => Arc::new(Dict::new()),
    }
}

pub static DICTIONARY: &[Builtin] = &[
    method!("Dictionary", "clear", [], false, |_, this, args| changed(
        "Dictionary#clear",
        this,
        args
    )),
    method!("Dictionary", "contains", ["key"], true, |_, this, args| {
        Ok(Value::Bool(
            this_dict(this).contains_key(&*arg(args, 0).to_display_string()),
        ))
    }),
    method!("Dictionary", "freeze", [], false, |_, _, _| Ok(Value::Null)),
    method!("Dictionary", "get", ["key"], false, |_, this, args| {
        Ok(this_dict(this)
            .get(&*arg(args, 0).to_display_string())
            .cloned()
            .unwrap_or_default())
    }),
    method!("Dictionary", "keys", [], true, |_, this, _| {
        Ok(Value::from(
            this_dict(this)
                .keys()
                .map(|k| Value::String(k.clone()))
                .collect::<Vec<_>>(),
        ))
    }),
    method!("Dictionary", "len", [], true, |_, this, _| Ok(
        Value::Number(this_dict(this).len() as f64)
    )),
    method!("Dictionary", "remove", ["key"], false, |_, this, args| {
        changed("Dictionary#remove", this, args)
    }),
    method!(
        "Dictionary",
        "set",
        ["key", "value"],
        false,
        |_, this, args| changed("Dictionary#set", this, args)
    ),
    method!("Dictionary", "shallow_clone", [], true, |_, this, _| {
        Ok(Value::from(this_dict(this).as_ref().clone()))
    }),
    method!("Dictionary", "values", [], true, |_, this, _| {
        Ok(Value::from(
            this_dict(this).values().cloned().collect::<Vec<_>>(),
        ))
    }),
];
