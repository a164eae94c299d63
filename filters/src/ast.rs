//! The syntax tree. Every node carries the span of the source it came from.
//!
//! The compiler annotates the tree in place (resolved globals, precompiled patterns), so
//! the evaluator walks exactly what the parser built.

use std::sync::Arc;

use crate::error::Span;
use crate::lexer::AssignOp;
use crate::pattern::Pattern;
use crate::value::{Str, Value};

#[derive(Clone, Debug)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnaryOp {
    Not,
    Negate,
    Minus,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Shl,
    Shr,
    Lt,
    Gt,
    Le,
    Ge,
    Eq,
    Ne,
    In,
    NotIn,
    BitAnd,
    BitXor,
    BitOr,
}

impl BinaryOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Mod => "%",
            BinaryOp::Shl => "<<",
            BinaryOp::Shr => ">>",
            BinaryOp::Lt => "<",
            BinaryOp::Gt => ">",
            BinaryOp::Le => "<=",
            BinaryOp::Ge => ">=",
            BinaryOp::Eq => "==",
            BinaryOp::Ne => "!=",
            BinaryOp::In => "in",
            BinaryOp::NotIn => "!in",
            BinaryOp::BitAnd => "&",
            BinaryOp::BitXor => "^",
            BinaryOp::BitOr => "|",
        }
    }
}

/// A variable reference; `global` is filled in by the compiler when the name is a builtin.
#[derive(Clone, Debug)]
pub struct Var {
    pub name: Str,
    pub global: Option<Value>,
}

/// A function literal: `(a, b) => expr`, `function (a) { … }` or `{{ … }}`.
#[derive(Debug)]
pub struct Lambda {
    pub params: Vec<Str>,
    pub body: Expr,
    /// A hash of the body's tokens: two lambdas written alike (in any file, at any place)
    /// have the same one.
    pub fingerprint: u64,
}

#[derive(Clone, Debug)]
pub enum ExprKind {
    Literal(Value),
    Array(Vec<Expr>),
    /// A dictionary literal: `key = value` items evaluated in order.
    Dict(Vec<(Str, AssignOp, Expr)>),
    Var(Var),
    Member(Box<Expr>, Str),
    Index(Box<Expr>, Box<Expr>),
    /// A call; `pattern` holds a glob or regex compiled ahead when the first argument of
    /// `match`/`regex` is a literal.
    Call(Box<Expr>, Vec<Expr>, Option<Arc<Pattern>>),
    Unary(UnaryOp, Box<Expr>),
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Ternary(Box<Expr>, Box<Expr>, Box<Expr>),
    If(Box<Expr>, Box<Expr>, Option<Box<Expr>>),
    /// A statement list; its value is the last statement's.
    Block(Vec<Expr>),
    Lambda(Arc<Lambda>),
    /// `var x = …` / `local x = …`.
    VarDecl(Str, Option<Box<Expr>>),
    Assign(AssignOp, Box<Expr>, Box<Expr>),
    Return(Option<Box<Expr>>),
    Break,
    Continue,
    Throw(Box<Expr>),
    /// `for (k => v in x)` or `for (v in x)`.
    For(Str, Option<Str>, Box<Expr>, Box<Expr>),
    While(Box<Expr>, Box<Expr>),
    /// `try { … } except { … }`: the second block runs when the first fails.
    Try(Box<Expr>, Box<Expr>),
    Locals,
    Globals,
    This,
    /// Configuration only: `object`, `template` or `apply`.
    Declare(Arc<Declaration>),
    /// Configuration only: `import "template"` inside an object body.
    Import(Box<Expr>),
    /// Configuration only: `const Name = value`.
    Const(Str, Box<Expr>),
    /// Configuration only: `include "file"`, `include <itl>`, `include_recursive "dir"`.
    Include(Include),
    /// Configuration only: `assign where …` (true) or `ignore where …` (false). The parser
    /// lifts these out of apply bodies; one met anywhere else is an error when evaluated.
    Where(bool, Box<Expr>),
}

/// What an `include` statement names.
#[derive(Clone, Debug)]
pub struct Include {
    pub path: Str,
    /// `include <name>`: a library of the installation (`itl`, `plugins`, …).
    pub system: bool,
    /// `include_recursive "dir"`: every `*.conf` below the directory.
    pub recursive: bool,
}

/// A configuration declaration.
#[derive(Clone, Debug)]
pub struct Declaration {
    pub kind: DeclKind,
    pub type_name: Str,
    /// The name expression; `None` for `apply … for (…)` rules without a name prefix.
    pub name: Option<Expr>,
    pub ignore_on_error: bool,
    pub body: Expr,
    /// `assign where` (true) and `ignore where` (false) conditions of an apply rule.
    pub rules: Vec<(bool, Expr)>,
    /// `use (a, b = expr)`: the variables the body (and an apply rule's conditions) see,
    /// evaluated where the declaration stands. Without it they see none of the file's
    /// local variables, as in Icinga.
    pub closed: Vec<(Str, Expr)>,
}

#[derive(Clone, Debug)]
pub enum DeclKind {
    Object,
    Template,
    /// `apply Type "name" [to Target] [for (k [=> v] in expr)]`.
    Apply {
        target: Option<Str>,
        each: Option<ApplyFor>,
    },
}

/// The `for (key => value in iterable)` clause of an apply rule.
#[derive(Clone, Debug)]
pub struct ApplyFor {
    pub key: Str,
    pub value: Option<Str>,
    pub iterable: Expr,
}

impl Expr {
    pub fn new(kind: ExprKind, span: Span) -> Self {
        Expr { kind, span }
    }

    /// Whether evaluating the expression can have an effect; Icinga refuses statements
    /// without one ("Value computed is not used.").
    pub fn has_side_effect(&self) -> bool {
        matches!(
            self.kind,
            ExprKind::Call(..)
                | ExprKind::If(..)
                | ExprKind::VarDecl(..)
                | ExprKind::Assign(..)
                | ExprKind::Return(_)
                | ExprKind::Break
                | ExprKind::Continue
                | ExprKind::Throw(_)
                | ExprKind::For(..)
                | ExprKind::While(..)
                | ExprKind::Try(..)
                | ExprKind::Declare(_)
                | ExprKind::Import(_)
                | ExprKind::Const(..)
                | ExprKind::Include(_)
                | ExprKind::Where(..)
        )
    }
}

impl Expr {
    /// The strings `var.member` must equal for the expression to be true, when the
    /// expression says so plainly: `v.m == "a"`, `"a" == v.m`, `v.m in ["a", "b"]`, and
    /// `&&` / `||` of such terms (any other term in an `&&` may narrow further, which is
    /// allowed). `vars` are the names that hold the value (e.g. `event` and its alias
    /// `obj`). `None` when no such set follows from the expression alone; an empty
    /// string never counts (it equals a missing member).
    pub fn required_strings(&self, vars: &[&str], member: &str) -> Option<Vec<Str>> {
        use ExprKind as K;
        let is_member = |e: &Expr| match &e.kind {
            K::Member(base, m) => {
                &**m == member
                    && matches!(&base.kind, K::Var(v) if v.global.is_none() && vars.contains(&&*v.name))
            }
            _ => false,
        };
        let nonempty = |v: &Value| match v {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            _ => None,
        };
        let string = |e: &Expr| match &e.kind {
            K::Literal(v) => nonempty(v),
            _ => None,
        };
        match &self.kind {
            K::Binary(BinaryOp::Eq, a, b) if is_member(a) => string(b).map(|s| vec![s]),
            K::Binary(BinaryOp::Eq, a, b) if is_member(b) => string(a).map(|s| vec![s]),
            K::Binary(BinaryOp::In, a, b) if is_member(a) => match &b.kind {
                K::Array(items) => items.iter().map(string).collect(),
                K::Literal(Value::Array(items)) => items.iter().map(nonempty).collect(),
                _ => None,
            },
            K::And(a, b) => a
                .required_strings(vars, member)
                .or_else(|| b.required_strings(vars, member)),
            K::Or(a, b) => {
                let mut both = a.required_strings(vars, member)?;
                both.extend(b.required_strings(vars, member)?);
                Some(both)
            }
            _ => None,
        }
    }
}

impl Expr {
    /// Whether evaluating the expression costs about its size: no loops, no functions
    /// defined or called (but for `match()` against a glob compiled ahead), no access to
    /// other objects. Such an expression can be evaluated wherever it is needed; any
    /// other may take arbitrary time.
    pub fn is_simple(&self) -> bool {
        use ExprKind as K;
        match &self.kind {
            K::Literal(_) | K::Var(_) | K::Locals | K::Globals | K::This => true,
            K::Array(items) => items.iter().all(Expr::is_simple),
            K::Dict(items) => items.iter().all(|(_, _, e)| e.is_simple()),
            K::Member(e, _) | K::Unary(_, e) => e.is_simple(),
            K::Index(a, b) | K::Binary(_, a, b) | K::And(a, b) | K::Or(a, b) => {
                a.is_simple() && b.is_simple()
            }
            K::Ternary(a, b, c) => a.is_simple() && b.is_simple() && c.is_simple(),
            K::If(a, b, c) => {
                a.is_simple() && b.is_simple() && c.as_ref().is_none_or(|c| c.is_simple())
            }
            K::Block(items) => items.iter().all(Expr::is_simple),
            K::Call(_, args, Some(pattern)) => {
                matches!(**pattern, crate::pattern::Pattern::Glob(_))
                    && args.iter().skip(1).all(Expr::is_simple)
            }
            _ => false,
        }
    }
}
