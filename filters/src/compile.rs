//! The compiler: resolves builtin names and precompiles literal patterns, once, so that
//! evaluating a filter per object does no name or pattern work that could be done ahead.

use std::sync::Arc;

use crate::ast::{Expr, ExprKind, Lambda};
use crate::globals;
use crate::pattern::{self, Glob, Pattern};
use crate::value::Value;

/// Annotates `e` in place.
pub fn compile(e: &mut Expr) {
    match &mut e.kind {
        ExprKind::Var(v) => v.global = globals::lookup(&v.name),
        ExprKind::Call(callee, args, slot) => {
            compile(callee);
            args.iter_mut().for_each(compile);
            *slot = literal_pattern(callee, args);
        }
        ExprKind::Lambda(l) => match Arc::get_mut(l) {
            // A freshly parsed lambda is not shared: compile it in place.
            Some(lambda) => compile(&mut lambda.body),
            None => {
                let mut body = l.body.clone();
                compile(&mut body);
                *l = Arc::new(Lambda {
                    params: l.params.clone(),
                    body,
                    fingerprint: l.fingerprint,
                });
            }
        },
        ExprKind::Declare(d) => {
            // Freshly parsed, so not shared.
            if let Some(d) = Arc::get_mut(d) {
                if let Some(name) = &mut d.name {
                    compile(name);
                }
                compile(&mut d.body);
                d.rules.iter_mut().for_each(|(_, e)| compile(e));
                if let crate::ast::DeclKind::Apply {
                    each: Some(each), ..
                } = &mut d.kind
                {
                    compile(&mut each.iterable);
                }
            }
        }
        ExprKind::Import(a) | ExprKind::Const(_, a) | ExprKind::Where(_, a) => compile(a),
        ExprKind::Include(_) => {}
        ExprKind::Literal(_)
        | ExprKind::Break
        | ExprKind::Continue
        | ExprKind::Locals
        | ExprKind::Globals
        | ExprKind::This
        | ExprKind::Return(None) => {}
        ExprKind::Array(items) | ExprKind::Block(items) => items.iter_mut().for_each(compile),
        ExprKind::Dict(items) => items.iter_mut().for_each(|(_, _, v)| compile(v)),
        ExprKind::Member(a, _)
        | ExprKind::Unary(_, a)
        | ExprKind::Return(Some(a))
        | ExprKind::Throw(a)
        | ExprKind::VarDecl(_, Some(a)) => compile(a),
        ExprKind::VarDecl(_, None) => {}
        ExprKind::Index(a, b)
        | ExprKind::Binary(_, a, b)
        | ExprKind::And(a, b)
        | ExprKind::Or(a, b)
        | ExprKind::Assign(_, a, b)
        | ExprKind::While(a, b)
        | ExprKind::Try(a, b)
        | ExprKind::For(_, _, a, b)
        | ExprKind::If(a, b, None) => {
            compile(a);
            compile(b);
        }
        ExprKind::Ternary(a, b, c) | ExprKind::If(a, b, Some(c)) => {
            compile(a);
            compile(b);
            compile(c);
        }
    }
}

/// `match("lit", x)` and `regex("lit", x)` get their pattern compiled now.
fn literal_pattern(callee: &Expr, args: &[Expr]) -> Option<Arc<Pattern>> {
    let ExprKind::Var(var) = &callee.kind else {
        return None;
    };
    if args.len() != 2 || var.global.is_none() {
        return None;
    }
    let ExprKind::Literal(Value::String(p)) = &args[0].kind else {
        return None;
    };
    match &*var.name {
        "match" => Some(Arc::new(Pattern::Glob(Glob::new(p)))),
        // An invalid regex stays uncompiled so the call reports it when evaluated.
        "regex" => pattern::regex(p)
            .ok()
            .map(|r| Arc::new(Pattern::Regex(Box::new(r)))),
        _ => None,
    }
}
