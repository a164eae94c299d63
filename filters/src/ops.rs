//! Binary operators with Icinga's type rules (`lib/base/value-operators.cpp`).
//!
//! Errors are plain messages; the evaluator attaches the span and Icinga's prefix.

use std::cmp::Ordering;

use crate::ast::BinaryOp;
use crate::value::Value;

type OpResult = Result<Value, String>;

/// The largest string or array an operator may build: bounds memory under hostile input.
pub const MAX_SIZE: usize = 16 << 20;

fn check_size(len: usize) -> Result<(), String> {
    if len > MAX_SIZE {
        return Err(format!("Result exceeds the size limit of {MAX_SIZE}"));
    }
    Ok(())
}

fn cannot(op: &str, a: &Value, b: &Value) -> String {
    format!(
        "Operator {op} cannot be applied to values of type '{}' and '{}'",
        a.type_name(),
        b.type_name()
    )
}

/// Number or Icinga-empty (null or ""): the operand class of arithmetic operators.
fn num_or_empty(v: &Value) -> bool {
    matches!(v, Value::Number(_)) || v.is_empty()
}

fn both_empty(a: &Value, b: &Value) -> bool {
    a.is_empty() && b.is_empty()
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
            if num_or_empty(a) && num_or_empty(b) && !both_empty(a, b) {
                Ok(Value::Number(num(a) * num(b)))
            } else {
                Err(cannot("*", a, b))
            }
        }
        BinaryOp::Div => {
            if b.is_empty() {
                return Err("Right-hand side argument for operator / is Empty.".into());
            }
            if num_or_empty(a) && matches!(b, Value::Number(_)) {
                if num(b) == 0.0 {
                    return Err("Right-hand side argument for operator / is 0.".into());
                }
                Ok(Value::Number(num(a) / num(b)))
            } else {
                Err(cannot("/", a, b))
            }
        }
        BinaryOp::Mod => {
            if b.is_empty() {
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
            if !(num_or_empty(a) && num_or_empty(b) && !both_empty(a, b)) {
                // Icinga's operator^ reports itself as '&'.
                let symbol = if op == BinaryOp::BitXor {
                    "&"
                } else {
                    op.symbol()
                };
                return Err(cannot(symbol, a, b));
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
        BinaryOp::Le => compare_scalar(a, b, "<=")
            .map(|o| Value::Bool(matches!(o, Some(Ordering::Less | Ordering::Equal)))),
        BinaryOp::Ge => compare_scalar(a, b, ">=")
            .map(|o| Value::Bool(matches!(o, Some(Ordering::Greater | Ordering::Equal)))),
        BinaryOp::In | BinaryOp::NotIn => unreachable!("the evaluator handles 'in'"),
    }
}

/// Ordering for `<=` and `>=`, which Icinga defines for strings and numbers only.
fn compare_scalar(a: &Value, b: &Value, op: &str) -> Result<Option<Ordering>, String> {
    match (a, b) {
        (Value::String(x), Value::String(y)) => Ok(Some(x.as_bytes().cmp(y.as_bytes()))),
        _ if num_or_empty(a) && num_or_empty(b) && !both_empty(a, b) => {
            Ok(num(a).partial_cmp(&num(b)))
        }
        _ => Err(cannot(op, a, b)),
    }
}

/// Ordering for `<` and `>` (arrays compare element-wise); `None` means unordered (NaN).
pub fn compare(a: &Value, b: &Value, op: &str) -> Result<Option<Ordering>, String> {
    match (a, b) {
        (Value::String(x), Value::String(y)) => Ok(Some(x.as_bytes().cmp(y.as_bytes()))),
        _ if num_or_empty(a) && num_or_empty(b) && !both_empty(a, b) => {
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
        (Number(_) | Null, Number(_) | Null) if !(a.is_null() && b.is_null()) => {
            Ok(Number(num(a) + num(b)))
        }
        (String(_) | Number(_) | Null, String(_) | Number(_) | Null)
            if !(a.is_null() && b.is_null()) =>
        {
            let mut s = a.to_display_string();
            let t = b.to_display_string();
            check_size(s.len() + t.len())?;
            s.push_str(&t);
            Ok(Value::from(s))
        }
        (Array(x), Array(y)) => {
            check_size(x.len() + y.len())?;
            let mut v = Vec::with_capacity(x.len() + y.len());
            v.extend(x.iter().cloned());
            v.extend(y.iter().cloned());
            Ok(Value::from(v))
        }
        (Array(x), e) | (e, Array(x)) if e.is_empty() => Ok(Array(x.clone())),
        (Dict(x), Dict(y)) => {
            let mut d: crate::value::Dict = x.as_ref().clone();
            d.extend(y.iter().map(|(k, v)| (k.clone(), v.clone())));
            Ok(Value::from(d))
        }
        (Dict(x), e) | (e, Dict(x)) if e.is_empty() => Ok(Dict(x.clone())),
        _ => Err(cannot("+", a, b)),
    }
}

fn sub(a: &Value, b: &Value) -> OpResult {
    use Value::*;
    match (a, b) {
        (Number(x), Number(y)) => Ok(Number(x - y)),
        (Number(_) | Null, Number(_) | Null) if !(a.is_null() && b.is_null()) => {
            Ok(Number(num(a) - num(b)))
        }
        (Array(x), Array(y)) => Ok(Value::from(
            x.iter()
                .filter(|v| !y.iter().any(|r| v.loose_eq(r)))
                .cloned()
                .collect::<Vec<_>>(),
        )),
        (e, Array(_)) if e.is_empty() => Ok(Value::from(Vec::new())),
        // Icinga crashes on `array - null`; an error is the better answer.
        (Array(x), Null) if x.is_empty() => Ok(Value::from(Vec::new())),
        (Array(_), e) if e.is_empty() => Err(format!(
            "Cannot convert value of type '{}' to an object.",
            b.type_name()
        )),
        _ => Err(cannot("-", a, b)),
    }
}
