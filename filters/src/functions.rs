//! Global functions (`System`, `Math`, `Json` and `Icinga` namespaces).

use std::net::IpAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{Error, Span};
use crate::eval::Env;
use crate::function::Builtin;
use crate::pattern::{self, Glob};
use crate::types::{self, TypeRef};
use crate::value::{Dict, Value};

type Res = Result<Value, Error>;

fn fail(msg: impl Into<String>) -> Error {
    Error::evaluation(msg, Span::default())
}

fn arity(args: &[Value], n: usize) -> Result<(), Error> {
    if args.len() < n {
        return Err(fail("Too few arguments for function."));
    }
    if args.len() > n {
        return Err(fail("Too many arguments for function."));
    }
    Ok(())
}

/// Builtins that take a variable number of arguments and check them themselves.
const VARIADIC: &[&str] = &[
    "System#match",
    "System#regex",
    "System#cidr_match",
    "System#range",
    "System#union",
    "System#intersection",
    "System#get_time",
    "System#log",
    "System#random",
    "Math#max",
    "Math#min",
    "Math#random",
    "Function#call",
    "Function#callv",
    "Icinga#get_service",
    "String#find",
    "String#substr",
    "Array#sort",
];

/// Icinga's `WrapFunction` check for fixed-arity builtins.
pub fn check_arity(b: &Builtin, given: usize) -> Result<(), String> {
    if VARIADIC.contains(&b.name) {
        return Ok(());
    }
    if given < b.args.len() {
        return Err("Too few arguments for function.".into());
    }
    if given > b.args.len() {
        return Err("Too many arguments for function.".into());
    }
    Ok(())
}

macro_rules! builtin {
    ($ns:literal, $name:literal, [$($arg:literal),*], $safe:expr, $f:expr) => {
        Builtin { name: concat!($ns, "#", $name), args: &[$($arg),*], safe: $safe, call: $f }
    };
}

/// `MatchAll` / `MatchAny` from an optional third argument.
fn match_any(args: &[Value]) -> Result<bool, Error> {
    match args.get(2) {
        None => Ok(false),
        Some(v) => Ok(v.to_number().map_err(fail)? as i64 == 1),
    }
}

/// Shared body of `match`, `regex` and `cidr_match` over a string or an array of strings
/// (`any`: MatchAny instead of MatchAll). The evaluator uses it too, for patterns it
/// compiled ahead.
pub(crate) fn match_values(
    name: &str,
    text: &Value,
    any: bool,
    mut test: impl FnMut(&str) -> Result<bool, Error>,
) -> Res {
    match text {
        Value::String(s) => Ok(Value::Bool(test(s)?)),
        Value::Array(a) => {
            if a.is_empty() {
                return Ok(Value::Bool(false));
            }
            for v in a.iter() {
                let r = test(&v.to_display_string())?;
                if !any && !r {
                    return Ok(Value::Bool(false));
                }
                if any && r {
                    return Ok(Value::Bool(true));
                }
            }
            Ok(Value::Bool(!any))
        }
        Value::Dict(_) => Err(fail(format!("Dictionaries are not supported by {name}()."))),
        other => Ok(Value::Bool(test(&other.to_display_string())?)),
    }
}

fn pattern_args(args: &[Value], what: &str) -> Result<(), Error> {
    if args.len() < 2 {
        return Err(fail(what.to_string()));
    }
    Ok(())
}

fn builtin_match(_: &mut Env<'_>, _: &Value, args: &[Value]) -> Res {
    pattern_args(args, "Pattern and text must be specified for match().")?;
    let glob = Glob::new(&args[0].to_display_string());
    match_values(
        "match",
        &args[1],
        match_any(args)?,
        |t| Ok(glob.is_match(t)),
    )
}

fn builtin_regex(_: &mut Env<'_>, _: &Value, args: &[Value]) -> Res {
    pattern_args(
        args,
        "Regular expression and text must be specified for regex().",
    )?;
    let re = pattern::regex(&args[0].to_display_string()).map_err(fail)?;
    match_values("regex", &args[1], match_any(args)?, |t| {
        Ok(re.is_match(t).unwrap_or(false))
    })
}

/// Parses `addr[/bits]` into an IPv6 address (IPv4 mapped) and a prefix length.
fn parse_cidr(pattern: &str) -> Result<(u128, u32), Error> {
    let invalid = || fail("Invalid IP address specified.");
    let (addr, bits) = match pattern.split_once('/') {
        Some((a, b)) => (a, Some(b.parse::<u32>().map_err(|_| invalid())?)),
        None => (pattern, None),
    };
    let ip: IpAddr = addr.parse().map_err(|_| invalid())?;
    let (v6, bits) = match ip {
        IpAddr::V4(v4) => {
            let b = bits.unwrap_or(32);
            if b > 32 {
                return Err(fail("Mask must be between 0 and 32 for IPv4 CIDR masks."));
            }
            (u128::from(v4.to_ipv6_mapped()), b + 96)
        }
        IpAddr::V6(v6) => {
            let b = bits.unwrap_or(128);
            if b > 128 {
                return Err(fail("Mask must be between 0 and 128 for IPv6 CIDR masks."));
            }
            (u128::from(v6), b)
        }
    };
    let host_mask = if bits >= 128 { 0 } else { u128::MAX >> bits };
    if v6 & host_mask != 0 {
        return Err(fail("Masked-off bits must all be zero."));
    }
    Ok((v6, bits))
}

fn parse_ip(ip: &str) -> Option<u128> {
    match ip.parse::<IpAddr>().ok()? {
        IpAddr::V4(v4) => Some(u128::from(v4.to_ipv6_mapped())),
        IpAddr::V6(v6) => Some(u128::from(v6)),
    }
}

fn builtin_cidr_match(_: &mut Env<'_>, _: &Value, args: &[Value]) -> Res {
    if args.len() < 2 {
        return Err(fail(
            "CIDR and IP address must be specified for cidr_match().",
        ));
    }
    let (net, bits) = parse_cidr(&args[0].to_display_string())?;
    let mask = if bits == 0 {
        0
    } else {
        u128::MAX << (128 - bits)
    };
    match_values("cidr_match", &args[1], match_any(args)?, |ip| {
        Ok(parse_ip(ip).is_some_and(|addr| addr & mask == net & mask))
    })
}

fn builtin_len(_: &mut Env<'_>, _: &Value, args: &[Value]) -> Res {
    arity(args, 1)?;
    Ok(Value::Number(match &args[0] {
        Value::String(s) => s.len(),
        Value::Array(a) => a.len(),
        Value::Dict(d) => d.len(),
        _ => 0,
    } as f64))
}

/// The arguments as arrays, each sorted by Icinga's `<`.
fn sorted_arrays(args: &[Value]) -> Result<Vec<Vec<Value>>, Error> {
    args.iter()
        .map(|a| {
            let Value::Array(items) = a else {
                return Err(fail(format!(
                    "Cannot convert value of type '{}' to an object.",
                    a.type_name()
                )));
            };
            let mut items = items.to_vec();
            items.sort_by(order);
            Ok(items)
        })
        .collect()
}

fn order(a: &Value, b: &Value) -> std::cmp::Ordering {
    crate::ops::compare(a, b, "<")
        .ok()
        .flatten()
        .unwrap_or(std::cmp::Ordering::Equal)
}

/// `union(…)`: the distinct members of all arrays, sorted (Icinga's `std::set`).
fn union(args: &[Value]) -> Res {
    let mut result: Vec<Value> = Vec::new();
    for items in sorted_arrays(args)? {
        for v in items {
            if !result.iter().any(|r| r.loose_eq(&v)) {
                result.push(v);
            }
        }
    }
    result.sort_by(order);
    Ok(Value::from(result))
}

/// `intersection(…)`: as Icinga's `std::set_intersection` of the sorted arrays, one after
/// the other: duplicates kept as often as every array has them; one array gives `[]`.
fn intersection(args: &[Value]) -> Res {
    let arrays = sorted_arrays(args)?;
    let Some((first, rest)) = arrays.split_first() else {
        return Ok(Value::from(Vec::<Value>::new()));
    };
    if rest.is_empty() {
        return Ok(Value::from(Vec::<Value>::new()));
    }
    let mut acc = first.clone();
    for other in rest {
        let (mut i, mut j, mut out) = (0, 0, Vec::new());
        while let (Some(a), Some(b)) = (acc.get(i), other.get(j)) {
            match order(a, b) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => {
                    out.push(a.clone());
                    i += 1;
                    j += 1;
                }
            }
        }
        acc = out;
    }
    Ok(Value::from(acc))
}

fn to_bool_fn(_: &mut Env<'_>, _: &Value, args: &[Value]) -> Res {
    arity(args, 1)?;
    Ok(Value::Bool(args[0].to_bool()))
}

fn to_number_fn(_: &mut Env<'_>, _: &Value, args: &[Value]) -> Res {
    arity(args, 1)?;
    Ok(Value::Number(args[0].to_number().map_err(fail)?))
}

fn to_string_fn(_: &mut Env<'_>, _: &Value, args: &[Value]) -> Res {
    arity(args, 1)?;
    Ok(Value::from(args[0].to_display_string()))
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

fn object_getter(env: &mut Env<'_>, type_name: &str, name: &Value) -> Res {
    Ok(env
        .scope()
        .get_object(type_name, &name.to_display_string())
        .unwrap_or_default())
}

fn type_name_arg(v: &Value) -> String {
    match v {
        Value::Type(t) => t.name().to_string(),
        other => other.to_display_string(),
    }
}

/// `boost::filesystem::path::filename()`: a trailing slash names `.`.
fn filename(p: &str) -> &str {
    if p == "/" {
        return "/";
    }
    if p.ends_with('/') {
        return ".";
    }
    p.rsplit('/').next().unwrap_or(p)
}

/// `boost::filesystem::path::parent_path()`.
fn parent_path(p: &str) -> &str {
    if p == "/" || !p.contains('/') {
        return "";
    }
    if let Some(stripped) = p.strip_suffix('/') {
        return stripped;
    }
    let i = p.rfind('/').unwrap_or(0);
    let parent = p[..i].trim_end_matches('/');
    if parent.is_empty() {
        "/"
    } else {
        parent
    }
}

fn escape_shell_arg(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// Icinga's `Utility::EscapeShellCmd` (POSIX): shell metacharacters get a backslash; a
/// quote character does only when it has no partner to pair with.
fn escape_shell_cmd(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    // The index of the quote that closes the one open, if any.
    let mut closing: Option<usize> = None;
    for (i, c) in s.char_indices() {
        let mut escape = false;
        if c == '"' || c == '\'' {
            match closing {
                None => {
                    closing = bytes[i + 1..]
                        .iter()
                        .position(|b| *b == c as u8)
                        .map(|p| i + 1 + p);
                    escape = closing.is_none();
                }
                Some(at) if at == i => closing = None,
                Some(_) => escape = true,
            }
        }
        if "#&;`|*?~<>^()[]{}$\\\n".contains(c) {
            escape = true;
        }
        if escape {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn math1(args: &[Value], f: fn(f64) -> f64) -> Res {
    arity(args, 1)?;
    Ok(Value::Number(f(args[0].to_number().map_err(fail)?)))
}

fn math2(args: &[Value], f: fn(f64, f64) -> f64) -> Res {
    arity(args, 2)?;
    Ok(Value::Number(f(
        args[0].to_number().map_err(fail)?,
        args[1].to_number().map_err(fail)?,
    )))
}

fn fold_numbers(args: &[Value], pick: fn(f64, f64) -> f64, empty: f64) -> Res {
    let mut acc: Option<f64> = None;
    for a in args {
        let n = a.to_number().map_err(fail)?;
        acc = Some(acc.map_or(n, |x| pick(x, n)));
    }
    Ok(Value::Number(acc.unwrap_or(empty)))
}

pub static SYSTEM: &[Builtin] = &[
    builtin!("System", "assert", ["value"], false, |_, _, args| {
        arity(args, 1)?;
        if args[0].to_bool() {
            Ok(Value::Null)
        } else {
            Err(fail("Assertion failed"))
        }
    }),
    builtin!("System", "basename", ["path"], true, |_, _, args| {
        Ok(Value::from(filename(&args[0].to_display_string())))
    }),
    builtin!("System", "bool", ["value"], true, to_bool_fn),
    builtin!(
        "System",
        "cidr_match",
        ["pattern", "ip", "mode"],
        true,
        builtin_cidr_match
    ),
    builtin!("System", "dirname", ["path"], true, |_, _, args| {
        Ok(Value::from(parent_path(&args[0].to_display_string())))
    }),
    builtin!("System", "escape_shell_arg", ["arg"], true, |_, _, args| {
        arity(args, 1)?;
        Ok(Value::from(escape_shell_arg(&args[0].to_display_string())))
    }),
    builtin!("System", "escape_shell_cmd", ["cmd"], true, |_, _, args| {
        arity(args, 1)?;
        Ok(Value::from(escape_shell_cmd(&args[0].to_display_string())))
    }),
    builtin!(
        "System",
        "get_object",
        ["type", "name"],
        true,
        |env, _, args| {
            arity(args, 2)?;
            object_getter(env, &type_name_arg(&args[0]), &args[1])
        }
    ),
    builtin!("System", "get_objects", ["type"], true, |env, _, args| {
        arity(args, 1)?;
        let objects = env.scope().get_objects(&type_name_arg(&args[0]));
        // A step per object: a filter that lists every service per object is charged
        // for what it walks.
        env.charge(objects.len() as u64, Span::default())?;
        Ok(Value::from(objects))
    }),
    builtin!("System", "get_time", [""], true, |_, _, _| Ok(
        Value::Number(now())
    )),
    // Icinga marks getenv side-effect free; Auspex refuses it in the sandbox so API
    // filters cannot read the daemon's environment.
    builtin!("System", "getenv", ["value"], false, |_, _, args| {
        arity(args, 1)?;
        Ok(std::env::var(args[0].to_display_string()).map_or(Value::Null, Value::from))
    }),
    builtin!("System", "intersection", [""], true, |_, _, args| {
        intersection(args)
    }),
    builtin!("System", "keys", ["value"], true, |_, _, args| {
        arity(args, 1)?;
        Ok(match &args[0] {
            Value::Dict(d) => Value::from(
                d.keys()
                    .map(|k| Value::String(k.clone()))
                    .collect::<Vec<_>>(),
            ),
            _ => Value::from(Vec::new()),
        })
    }),
    builtin!("System", "len", ["value"], true, builtin_len),
    builtin!(
        "System",
        "parse_performance_data",
        ["perfdata"],
        true,
        |_, _, args| {
            arity(args, 1)?;
            crate::perfdata::parse(&args[0].to_display_string())
                .map(Value::from)
                .map_err(fail)
        }
    ),
    // `log(message)` or `log(severity, facility, message)`: a line in the daemon's log.
    builtin!("System", "log", [""], false, |_, _, args| {
        let (severity, facility, message) = match args {
            [message] => (2, "config".to_string(), message),
            [severity, facility, message] => (
                severity.to_number().map_err(fail)? as i64,
                facility.to_display_string(),
                message,
            ),
            _ => return Err(fail("Too few arguments for function.")),
        };
        let message = message.to_display_string();
        match severity {
            // LogDebug and LogNotice, LogInformation, LogWarning, LogCritical.
            i64::MIN..=1 => tracing::debug!(facility, "{message}"),
            2 => tracing::info!(facility, "{message}"),
            3 => tracing::warn!(facility, "{message}"),
            _ => tracing::error!(facility, "{message}"),
        }
        Ok(Value::Null)
    }),
    builtin!(
        "System",
        "match",
        ["pattern", "text", "mode"],
        true,
        builtin_match
    ),
    // The install path of a Windows Installer component: none outside Windows (Icinga's
    // template library asks for NSClient++'s when it is loaded).
    builtin!(
        "System",
        "msi_get_component_path",
        ["component"],
        true,
        |_, _, args| {
            arity(args, 1)?;
            Ok(Value::from(""))
        }
    ),
    builtin!("System", "number", ["value"], true, to_number_fn),
    builtin!("System", "random", [""], true, |_, _, _| {
        Ok(Value::Number(f64::from(rand::random::<u32>() >> 1)))
    }),
    builtin!(
        "System",
        "range",
        ["start", "end", "increment"],
        false,
        |env, _, args| {
            let nums: Result<Vec<f64>, Error> =
                args.iter().map(|a| a.to_number().map_err(fail)).collect();
            let nums = nums?;
            let (start, end, step) = match nums.as_slice() {
                [end] => (0.0, *end, 1.0),
                [start, end] => (*start, *end, 1.0),
                [start, end, step] => (*start, *end, *step),
                _ => return Err(fail("Invalid number of arguments for range()")),
            };
            let mut out = Vec::new();
            let mut i = start;
            while (step > 0.0 && i < end) || (step < 0.0 && i > end) {
                env.charge(1, Span::default())?;
                out.push(Value::Number(i));
                i += step;
            }
            Ok(Value::from(out))
        }
    ),
    builtin!(
        "System",
        "regex",
        ["pattern", "text", "mode"],
        true,
        builtin_regex
    ),
    builtin!("System", "string", ["value"], true, to_string_fn),
    builtin!("System", "typeof", ["value"], true, |_, _, args| {
        arity(args, 1)?;
        Ok(Value::Type(types::of(&args[0])))
    }),
    builtin!("System", "union", [""], true, |_, _, args| union(args)),
];

pub static MATH: &[Builtin] = &[
    builtin!("Math", "abs", ["x"], true, |_, _, a| math1(a, f64::abs)),
    builtin!("Math", "acos", ["x"], true, |_, _, a| math1(a, f64::acos)),
    builtin!("Math", "asin", ["x"], true, |_, _, a| math1(a, f64::asin)),
    builtin!("Math", "atan", ["x"], true, |_, _, a| math1(a, f64::atan)),
    builtin!("Math", "atan2", ["x", "y"], true, |_, _, a| math2(
        a,
        f64::atan2
    )),
    builtin!("Math", "ceil", ["x"], true, |_, _, a| math1(a, f64::ceil)),
    builtin!("Math", "cos", ["x"], true, |_, _, a| math1(a, f64::cos)),
    builtin!("Math", "exp", ["x"], true, |_, _, a| math1(a, f64::exp)),
    builtin!("Math", "floor", ["x"], true, |_, _, a| math1(a, f64::floor)),
    builtin!("Math", "isinf", ["x"], true, |_, _, a| {
        arity(a, 1)?;
        Ok(Value::Bool(a[0].to_number().map_err(fail)?.is_infinite()))
    }),
    builtin!("Math", "isnan", ["x"], true, |_, _, a| {
        arity(a, 1)?;
        Ok(Value::Bool(a[0].to_number().map_err(fail)?.is_nan()))
    }),
    builtin!("Math", "log", ["x"], true, |_, _, a| math1(a, f64::ln)),
    builtin!("Math", "max", [], true, |_, _, a| fold_numbers(
        a,
        f64::max,
        f64::NEG_INFINITY
    )),
    builtin!("Math", "min", [], true, |_, _, a| fold_numbers(
        a,
        f64::min,
        f64::INFINITY
    )),
    builtin!("Math", "pow", ["x", "y"], true, |_, _, a| math2(
        a,
        f64::powf
    )),
    builtin!("Math", "random", [], true, |_, _, _| Ok(Value::Number(
        rand::random::<f64>()
    ))),
    builtin!("Math", "round", ["x"], true, |_, _, a| math1(a, f64::round)),
    builtin!("Math", "sign", ["x"], true, |_, _, a| {
        math1(a, |x| {
            if x > 0.0 {
                1.0
            } else if x < 0.0 {
                -1.0
            } else {
                0.0
            }
        })
    }),
    builtin!("Math", "sin", ["x"], true, |_, _, a| math1(a, f64::sin)),
    builtin!("Math", "sqrt", ["x"], true, |_, _, a| math1(a, f64::sqrt)),
    builtin!("Math", "tan", ["x"], true, |_, _, a| math1(a, f64::tan)),
];

pub static JSON: &[Builtin] = &[
    builtin!("Json", "decode", ["value"], true, |_, _, a| {
        arity(a, 1)?;
        let parsed: serde_json::Value = serde_json::from_str(&a[0].to_display_string())
            .map_err(|e| fail(format!("Invalid JSON: {e}")))?;
        Ok(Value::from_json(&parsed))
    }),
    builtin!("Json", "encode", ["value"], true, |_, _, a| {
        arity(a, 1)?;
        Ok(Value::from(a[0].to_json()))
    }),
];

macro_rules! getter {
    ($name:literal, $type:literal) => {
        builtin!("Icinga", $name, ["name"], false, |env, _, args| {
            arity(args, 1)?;
            object_getter(env, $type, &args[0])
        })
    };
}

pub static ICINGA: &[Builtin] = &[
    getter!("get_check_command", "CheckCommand"),
    getter!("get_event_command", "EventCommand"),
    getter!("get_host", "Host"),
    getter!("get_host_group", "HostGroup"),
    getter!("get_notification_command", "NotificationCommand"),
    builtin!(
        "Icinga",
        "get_service",
        ["host", "name"],
        false,
        |env, _, args| {
            match args {
                [name] => object_getter(env, "Service", name),
                [host, name] => {
                    let host = match host {
                        Value::Object(o) => o.name().to_string(),
                        other => other.to_display_string(),
                    };
                    let full = format!("{host}!{}", name.to_display_string());
                    object_getter(env, "Service", &Value::from(full))
                }
                _ => arity(args, 2).map(|()| Value::Null),
            }
        }
    ),
    getter!("get_service_group", "ServiceGroup"),
    builtin!("Icinga", "get_services", ["host"], false, |env, _, args| {
        arity(args, 1)?;
        let host = match &args[0] {
            Value::Object(o) => o.name().to_string(),
            other => other.to_display_string(),
        };
        let prefix = format!("{host}!");
        Ok(Value::from(
            env.scope()
                .get_objects("Service")
                .into_iter()
                .filter(|s| matches!(s, Value::Object(o) if o.name().starts_with(&prefix)))
                .collect::<Vec<_>>(),
        ))
    }),
    getter!("get_time_period", "TimePeriod"),
    getter!("get_user", "User"),
    getter!("get_user_group", "UserGroup"),
];

/// `Type(args)`: the constructors Icinga's types offer in scripts.
pub fn construct(t: TypeRef, args: &[Value]) -> Result<Value, String> {
    let first = args.first().cloned().unwrap_or_default();
    match t.name() {
        "String" => Ok(Value::from(first.to_display_string())),
        "Number" => first.to_number().map(Value::Number),
        "Boolean" => Ok(Value::Bool(first.to_bool())),
        "Array" => Ok(match first {
            Value::Array(a) => Value::Array(a),
            _ => Value::from(Vec::new()),
        }),
        "Dictionary" => Ok(match first {
            Value::Dict(d) => Value::Dict(d),
            _ => Value::from(Dict::new()),
        }),
        other => Err(format!("Object of type '{other}' cannot be instantiated.")),
    }
}
