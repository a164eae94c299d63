//! Binary operators with Icinga's type rules (`lib/base/value-operators.cpp`).
//!
//! Errors are plain messages; the evaluator attaches the span and Icinga's prefix.

use std::cmp::Ordering;
use std::sync::Arc;

use crate::ast::BinaryOp;
use crate::value::Value;

type OpResult = Result<Value, String>;

fn cannot(op: &str, a: &Value, b: &Value) -> String {
    format!(
        "Operator {op} cannot be applied to values of type '{}' and '{}'",
        a.type_name(),
        b.type_name()
    )
}

fn num_or_null(v: &Value) -> bool {
    matches!(v, Value::Number(_) | Value::Null)
}

fn both_null(a: &Value, b: &Value) -> bool {
    a.is_null() && b.is_null()
}

/// `static_cast<int>(double)` as x86 performs it: truncation, out of range gives INT_MIN.
pub fn to_i32(n: f64) -> i32 {
    if n.is_finite() && n > -2147483649.0 && n < 2147483648.0 {
        n as i32
    } else {
        i32::MIN
    }
}

/// `(long)double` on x86-64.
pub fn to_i64(n: f64) -> i64 {
    if n.is_finite() && n > -9.223372036854776e18 && n < 9.223372036854776e18 {
        n as i64
    } else {
        i64::MIN
    }
}

fn num(v: &Value) -> f64 {
    match v {
        Value::Number(n) => *n,
        Value::Bool(true) => 1.0,
        _ => 0.0,
    }
}

/// Applies a binary operator other than `in`, `!in`, `&&` and `||`.
pub fn binary(op: BinaryOp, a: &Value, b: &Value) -> OpResult {
    match op {
        BinaryOp::Add => add(a, b),
        BinaryOp::Sub => sub(a, b),
        BinaryOp::Mul => {
            if num_or_null(a) && num_or_null(b) && !both_null(a, b) {
                Ok(Value::Number(num(a) * num(b)))
            } else {
                Err(cannot("*", a, b))
            }
        }
        BinaryOp::Div => {
            if b.is_null() {
                return Err("Right-hand side argument for operator / is Empty.".into());
            }
            if num_or_null(a) && matches!(b, Value::Number(_)) {
                if num(b) == 0.0 {
                    return Err("Right-hand side argument for operator / is 0.".into());
                }
                Ok(Value::Number(num(a) / num(b)))
            } else {
                Err(cannot("/", a, b))
            }
        }
        BinaryOp::Mod => {
            if b.is_null() {
                return Err("Right-hand side argument for operator % is Empty.".into());
            }
            if let Value::Number(rn) = b {
                if *rn == 0.0 {
                    return Err("Right-hand side argument for operator % is 0.".into());
                }
                let l = to_i32(a.to_number()?);
                let r = to_i32(*rn);
                if r == 0 {
                    return Err("Right-hand side argument for operator % is 0.".into());
                }
                Ok(Value::Number(f64::from(l.wrapping_rem(r))))
            } else {
                Err(cannot("%", a, b))
            }
        }
        BinaryOp::BitAnd | BinaryOp::BitOr | BinaryOp::BitXor | BinaryOp::Shl | BinaryOp::Shr => {
            if !(num_or_null(a) && num_or_null(b) && !both_null(a, b)) {
                return Err(cannot(op.symbol(), a, b));
            }
            let (l, r) = (to_i32(num(a)), to_i32(num(b)));
            let v = match op {
                BinaryOp::BitAnd => l & r,
                BinaryOp::BitOr => l | r,
                BinaryOp::BitXor => l ^ r,
                BinaryOp::Shl => l.wrapping_shl(r as u32),
                _ => l.wrapping_shr(r as u32),
            };
            Ok(Value::Number(f64::from(v)))
        }
        BinaryOp::Eq => Ok(Value::Bool(a.loose_eq(b))),
        BinaryOp::Ne => Ok(Value::Bool(!a.loose_eq(b))),
        BinaryOp::Lt => compare(a, b, "<").map(|o| Value::Bool(o == Some(Ordering::Less))),
        BinaryOp::Gt => compare(a, b, ">").map(|o| Value::Bool(o == Some(Ordering::Greater))),
        BinaryOp::Le => compare(a, b, "<=")
            .map(|o| Value::Bool(matches!(o, Some(Ordering::Less | Ordering::Equal)))),
        BinaryOp::Ge => compare(a, b, ">=")
            .map(|o| Value::Bool(matches!(o, Some(Ordering::Greater | Ordering::Equal)))),
        BinaryOp::In | BinaryOp::NotIn => unreachable!("the evaluator handles 'in'"),
    }
}

/// Ordering for `<`, `>`, `<=`, `>=`; `None` means unordered (NaN).
pub fn compare(a: &Value, b: &Value, op: &str) -> Result<Option<Ordering>, String> {
    match (a, b) {
        (Value::String(x), Value::String(y)) => Ok(Some(x.as_bytes().cmp(y.as_bytes()))),
        _ if num_or_null(a) && num_or_null(b) && !both_null(a, b) => {
            Ok(num(a).partial_cmp(&num(b)))
        }
        (Value::Array(x), Value::Array(y)) => {
            for i in 0..x.len().max(y.len()) {
                let l = x.get(i).cloned().unwrap_or_default();
                let r = y.get(i).cloned().unwrap_or_default();
                match compare(&l, &r, op)? {
                    Some(Ordering::Equal) | None => {}
                    other => return Ok(other),
                }
            }
            Ok(Some(Ordering::Equal))
        }
        _ => Err(cannot(op, a, b)),
    }
}

fn add(a: &Value, b: &Value) -> OpResult {
    use Value::*;
    match (a, b) {
        (Number(x), Number(y)) => Ok(Number(x + y)),
        (Number(_) | Null, Number(_) | Null) if !both_null(a, b) => Ok(Number(num(a) + num(b))),
        (String(_) | Number(_) | Null, String(_) | Number(_) | Null) if !both_null(a, b) => {
            let mut s = a.to_display_string();
            s.push_str(&b.to_display_string());
            Ok(Value::from(s))
        }
        (Array(x), Array(y)) => {
            let mut v = Vec::with_capacity(x.len() + y.len());
            v.extend(x.iter().cloned());
            v.extend(y.iter().cloned());
            Ok(Value::from(v))
        }
        (Array(x), Null) | (Null, Array(x)) => Ok(Array(Arc::new(x.as_ref().clone()))),
        (Dict(x), Dict(y)) => {
            let mut d: crate::value::Dict = x.as_ref().clone();
            d.extend(y.iter().map(|(k, v)| (k.clone(), v.clone())));
            Ok(Value::from(d))
        }
        (Dict(x), Null) | (Null, Dict(x)) => Ok(Dict(Arc::new(x.as_ref().clone()))),
        _ => Err(cannot("+", a, b)),
    }
}

fn sub(a: &Value, b: &Value) -> OpResult {
    use Value::*;
    match (a, b) {
        (Number(x), Number(y)) => Ok(Number(x - y)),
        (Number(_) | Null, Number(_) | Null) if !both_null(a, b) => Ok(Number(num(a) - num(b))),
        (Array(x), Array(y)) => Ok(Value::from(
            x.iter()
                .filter(|v| !y.iter().any(|r| v.loose_eq(r)))
                .cloned()
                .collect::<Vec<_>>(),
        )),
        (Null, Array(_)) => Ok(Value::from(Vec::new())),
        _ => Err(cannot("-", a, b)),
    }
}
