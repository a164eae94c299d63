//! A precedence-climbing parser for Icinga's expression grammar
//! (`lib/config/config_parser.yy`): statements, operators with Icinga's precedence and
//! associativity, literals, lambdas and control flow.

use std::sync::Arc;

use crate::ast::{
    ApplyFor, BinaryOp, DeclKind, Declaration, Expr, ExprKind, Include, Lambda, UnaryOp, Var,
};
use crate::error::{Error, Span};
use crate::lexer::{tokenize, AssignOp, Tok, Token};
use crate::value::{Str, Value};

/// How deeply brackets, calls and unary operators may nest before the parser refuses.
pub const MAX_NESTING: usize = 128;

/// Parses a whole script (a statement list) into one expression.
pub fn parse(src: &str) -> Result<Expr, Error> {
    parse_with(src, 0, false, "<1>")
}

/// Parses a configuration file: statements plus `object`, `template`, `apply`, `import`,
/// `const`, `include` and `assign`/`ignore where`. Every span is shifted by `base`, so that
/// spans of several files can share one number space.
pub fn parse_config(src: &str, base: u32, path: &str) -> Result<Expr, Error> {
    parse_with(src, base, true, path)
}

fn parse_with(src: &str, base: u32, config: bool, path: &str) -> Result<Expr, Error> {
    let shift = |mut span: Span| {
        span.start += base;
        span.end += base;
        span
    };
    let mut tokens = tokenize(src).map_err(|mut e| {
        e.span = shift(e.span);
        e
    })?;
    for t in &mut tokens {
        t.span = shift(t.span);
    }
    let line_starts = std::iter::once(base)
        .chain(
            src.match_indices('\n')
                .map(|(i, _)| base.saturating_add(i as u32 + 1)),
        )
        .collect();
    let mut p = Parser {
        tokens,
        pos: 0,
        depth: 0,
        config,
        file: path.into(),
        line_starts,
    };
    let body = p.statements(&[Tok::Eof], false)?;
    p.expect(&Tok::Eof)?;
    Ok(body)
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
    /// Whether the configuration statements are allowed.
    config: bool,
    /// The file being parsed, for `current_filename`.
    file: Arc<str>,
    /// Where each line starts (in the shared span numbering), for `current_line`.
    line_starts: Vec<u32>,
}

/// Reserved words that stand for a value where an expression may stand.
fn is_value_keyword(word: &str) -> bool {
    matches!(word, "current_filename" | "current_line")
}

/// Binding power of a binary operator token (higher binds tighter) and whether chaining it
/// is refused (Icinga's `%nonassoc`).
fn binary_power(tok: &Tok) -> Option<(u8, BinaryOp, bool)> {
    Some(match tok {
        Tok::BitOr => (5, BinaryOp::BitOr, false),
        Tok::BitXor => (6, BinaryOp::BitXor, false),
        Tok::BitAnd => (7, BinaryOp::BitAnd, false),
        Tok::Eq => (8, BinaryOp::Eq, true),
        Tok::Ne => (8, BinaryOp::Ne, true),
        Tok::In => (9, BinaryOp::In, false),
        Tok::NotIn => (9, BinaryOp::NotIn, false),
        Tok::Lt => (10, BinaryOp::Lt, true),
        Tok::Gt => (10, BinaryOp::Gt, true),
        Tok::Le => (10, BinaryOp::Le, true),
        Tok::Ge => (10, BinaryOp::Ge, true),
        Tok::Shl => (11, BinaryOp::Shl, false),
        Tok::Shr => (11, BinaryOp::Shr, false),
        Tok::Plus => (12, BinaryOp::Add, false),
        Tok::Minus => (12, BinaryOp::Sub, false),
        Tok::Star => (13, BinaryOp::Mul, false),
        Tok::Slash => (13, BinaryOp::Div, false),
        Tok::Percent => (13, BinaryOp::Mod, false),
        _ => return None,
    })
}

const TERNARY_POWER: u8 = 2;
const OR_POWER: u8 = 3;
const AND_POWER: u8 = 4;

/// How Icinga's parser names a token in "syntax error, unexpected …".
fn describe(tok: &Tok) -> String {
    let s = match tok {
        Tok::Number(_) => "number (T_NUMBER)",
        Tok::String(_) => "string (T_STRING)",
        Tok::Ident(_) => "identifier (T_IDENTIFIER)",
        Tok::Newline => "new-line",
        Tok::Eof => "end of file",
        Tok::Eq => "== (T_EQUAL)",
        Tok::Ne => "!= (T_NOT_EQUAL)",
        Tok::Lt => "< (T_LESS_THAN)",
        Tok::Gt => "> (T_GREATER_THAN)",
        Tok::Le => "<= (T_LESS_THAN_OR_EQUAL)",
        Tok::Ge => ">= (T_GREATER_THAN_OR_EQUAL)",
        Tok::And => "&& (T_LOGICAL_AND)",
        Tok::Or => "|| (T_LOGICAL_OR)",
        Tok::In => "in (T_IN)",
        Tok::NotIn => "!in (T_NOT_IN)",
        Tok::Arrow => "=> (T_FOLLOWS)",
        Tok::Assign(_) => "= (T_SET)",
        Tok::RParen => "')'",
        Tok::LParen => "'('",
        Tok::RBracket => "']'",
        Tok::LBracket => "'['",
        Tok::RBrace => "'}'",
        Tok::NullaryLambdaEnd => "}} (T_NULLARY_LAMBDA_END)",
        Tok::LBrace => "'{'",
        Tok::Comma => "','",
        Tok::Semicolon => "';'",
        Tok::Colon => "':'",
        Tok::Question => "'?'",
        Tok::Dot => "'.'",
        Tok::Reserved(w) => return w.to_string(),
        other => return format!("{other:?}").to_lowercase(),
    };
    s.to_string()
}

/// The `assign where` / `ignore where` statements of a body, and the rest of it.
fn split_rules(body: Expr) -> (Vec<(bool, Expr)>, Expr) {
    let span = body.span;
    let items = match body.kind {
        ExprKind::Block(items) => items,
        other => vec![Expr::new(other, span)],
    };
    let mut rules = Vec::new();
    let mut kept = Vec::new();
    for e in items {
        match e.kind {
            ExprKind::Where(assign, cond) => rules.push((assign, *cond)),
            _ => kept.push(e),
        }
    }
    (rules, Expr::new(ExprKind::Block(kept), span))
}

impl Parser {
    /// A name (variable, field, dictionary key) as the tree keeps it: interned in
    /// configuration, whose names become the attribute names of every object built from
    /// it. Other scripts (filters, console input) are not: their names come from requests.
    fn name(&self, name: String) -> Str {
        if self.config {
            crate::intern::intern(name.into())
        } else {
            name.into()
        }
    }

    fn peek(&self) -> &Tok {
        &self.tokens[self.pos].tok
    }

    fn peek_at(&self, off: usize) -> &Tok {
        let i = (self.pos + off).min(self.tokens.len() - 1);
        &self.tokens[i].tok
    }

    fn span(&self) -> Span {
        self.tokens[self.pos].span
    }

    fn prev_span(&self) -> Span {
        self.tokens[self.pos.saturating_sub(1)].span
    }

    fn bump(&mut self) -> Token {
        let t = self.tokens[self.pos].clone();
        if self.pos < self.tokens.len() - 1 {
            self.pos += 1;
        }
        t
    }

    fn eat(&mut self, tok: &Tok) -> bool {
        if self.peek() == tok {
            self.bump();
            true
        } else {
            false
        }
    }

    /// The name of a system include after its `<`, up to and including the `>`: words
    /// joined by `-` or `.` with no space between (`<plugins-contrib>`).
    fn library_name(&mut self) -> Result<String, Error> {
        let mut name = String::new();
        let mut end = self.prev_span();
        loop {
            let token = self.tokens[self.pos].clone();
            if token.span.start != end.end {
                return Err(self.unexpected());
            }
            match token.tok {
                Tok::Gt if !name.is_empty() => {
                    self.bump();
                    return Ok(name);
                }
                Tok::Ident(word) => name.push_str(&word),
                Tok::Minus if !name.is_empty() => name.push('-'),
                Tok::Dot if !name.is_empty() => name.push('.'),
                _ => return Err(self.unexpected()),
            }
            end = token.span;
            self.bump();
        }
    }

    fn unexpected(&self) -> Error {
        Error::syntax(
            format!("syntax error, unexpected {}", describe(self.peek())),
            self.span(),
        )
    }

    fn expect(&mut self, tok: &Tok) -> Result<Span, Error> {
        if self.peek() == tok {
            Ok(self.bump().span)
        } else {
            Err(self.unexpected())
        }
    }

    fn skip_newlines(&mut self) {
        while self.eat(&Tok::Newline) {}
    }

    fn enter(&mut self) -> Result<(), Error> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(Error::syntax(
                format!("Expression nesting exceeds the limit of {MAX_NESTING} levels"),
                self.span(),
            ));
        }
        Ok(())
    }

    /// A statement list up to one of `end` (not consumed). With `require_effect`, every
    /// statement must have a side effect (loop and function bodies); otherwise all but the
    /// last.
    fn statements(&mut self, end: &[Tok], require_effect: bool) -> Result<Expr, Error> {
        let start = self.span();
        let mut items = Vec::new();
        // Statements are separated by newlines, `;` or `,` (Icinga's `sep`).
        let separator = |t: &Tok| matches!(t, Tok::Newline | Tok::Semicolon | Tok::Comma);
        loop {
            while matches!(self.peek(), Tok::Newline | Tok::Semicolon) {
                self.bump();
            }
            if end.contains(self.peek()) {
                break;
            }
            items.push(self.statement()?);
            if !separator(self.peek()) && !end.contains(self.peek()) {
                return Err(self.unexpected());
            }
            if *self.peek() == Tok::Comma {
                self.bump();
            }
        }
        let last = items.len().saturating_sub(1);
        for (i, item) in items.iter().enumerate() {
            if (require_effect || i != last) && !item.has_side_effect() {
                return Err(Error::syntax("Value computed is not used.", item.span));
            }
        }
        let span = match (items.first(), items.last()) {
            (Some(a), Some(b)) => a.span.to(b.span),
            _ => start,
        };
        Ok(if items.len() == 1 {
            items
                .pop()
                .unwrap_or_else(|| Expr::new(ExprKind::Literal(Value::Null), span))
        } else {
            Expr::new(ExprKind::Block(items), span)
        })
    }

    fn statement(&mut self) -> Result<Expr, Error> {
        let start = self.span();
        match self.peek().clone() {
            Tok::Var | Tok::Local => {
                self.bump();
                let name = self.identifier()?;
                let value = if self.eat(&Tok::Assign(AssignOp::Set)) {
                    Some(Box::new(self.expression()?))
                } else {
                    None
                };
                Ok(Expr::new(
                    ExprKind::VarDecl(name, value),
                    start.to(self.prev_span()),
                ))
            }
            Tok::Return => {
                self.bump();
                let value = if self.at_statement_end() {
                    None
                } else {
                    Some(Box::new(self.expression()?))
                };
                Ok(Expr::new(
                    ExprKind::Return(value),
                    start.to(self.prev_span()),
                ))
            }
            Tok::Break => {
                self.bump();
                Ok(Expr::new(ExprKind::Break, start))
            }
            Tok::Continue => {
                self.bump();
                Ok(Expr::new(ExprKind::Continue, start))
            }
            Tok::Throw => {
                self.bump();
                let value = self.expression()?;
                Ok(Expr::new(
                    ExprKind::Throw(Box::new(value)),
                    start.to(self.prev_span()),
                ))
            }
            Tok::For => self.for_loop(),
            Tok::While => {
                self.bump();
                self.expect(&Tok::LParen)?;
                let cond = self.expression()?;
                self.expect(&Tok::RParen)?;
                let body = self.block(true)?;
                Ok(Expr::new(
                    ExprKind::While(Box::new(cond), Box::new(body)),
                    start.to(self.prev_span()),
                ))
            }
            Tok::Reserved("try") => {
                self.bump();
                let body = self.block(false)?;
                self.skip_newlines();
                if !self.eat(&Tok::Reserved("except")) {
                    return Err(self.unexpected());
                }
                let except = self.block(false)?;
                Ok(Expr::new(
                    ExprKind::Try(Box::new(body), Box::new(except)),
                    start.to(self.prev_span()),
                ))
            }
            Tok::Reserved(word) if self.config && !is_value_keyword(word) => {
                self.config_statement(word)
            }
            Tok::Reserved(word) if !is_value_keyword(word) => Err(self.unexpected()),
            _ => {
                let target = self.expression()?;
                if let Tok::Assign(op) = *self.peek() {
                    // Non-lvalues fail when evaluated, as in Icinga.
                    self.bump();
                    let value = self.expression()?;
                    let span = target.span.to(value.span);
                    return Ok(Expr::new(
                        ExprKind::Assign(op, Box::new(target), Box::new(value)),
                        span,
                    ));
                }
                Ok(target)
            }
        }
    }

    /// The statements only configuration files have.
    fn config_statement(&mut self, word: &'static str) -> Result<Expr, Error> {
        let start = self.bump().span;
        let kind = match word {
            "object" | "template" => {
                let type_name = self.identifier()?;
                let name = self.expression()?;
                let closed = self.use_list()?;
                let ignore_on_error = self.eat(&Tok::Reserved("ignore_on_error"));
                let mut body = self.block(false)?;
                let kind = if word == "object" {
                    DeclKind::Object
                } else {
                    DeclKind::Template
                };
                // Group objects take members by rule (`assign where host.vars.os == …`).
                let rules = if word == "object" && crate::config::group_member(&type_name).is_some()
                {
                    let (rules, kept) = split_rules(body);
                    body = kept;
                    rules
                } else {
                    Vec::new()
                };
                ExprKind::Declare(Arc::new(Declaration {
                    kind,
                    type_name,
                    name: Some(name),
                    ignore_on_error,
                    body,
                    rules,
                    closed,
                }))
            }
            "apply" => return self.apply(start),
            "import" => ExprKind::Import(Box::new(self.expression()?)),
            "const" => {
                let name = self.identifier()?;
                self.expect(&Tok::Assign(AssignOp::Set))?;
                ExprKind::Const(name, Box::new(self.expression()?))
            }
            "include" | "include_recursive" => {
                let system = self.eat(&Tok::Lt);
                let path: Str = if system {
                    self.library_name()?.into()
                } else {
                    match self.bump().tok {
                        Tok::String(s) => s.into(),
                        _ => return Err(Error::syntax("syntax error", self.prev_span())),
                    }
                };
                ExprKind::Include(Include {
                    path,
                    system,
                    recursive: word == "include_recursive",
                })
            }
            "library" => {
                // Icinga loads shared libraries; ours are built in. The statement only
                // leaves a note in the log, as Icinga's does.
                let name = self.expression()?;
                let span = start.to(self.prev_span());
                let text = |s: &str| Expr::new(ExprKind::Literal(Value::from(s)), span);
                let message = Expr::new(
                    ExprKind::Binary(
                        crate::ast::BinaryOp::Add,
                        Box::new(text("Ignoring explicit load request for library ")),
                        Box::new(name),
                    ),
                    span,
                );
                let log = Expr::new(
                    ExprKind::Var(crate::ast::Var {
                        name: "log".into(),
                        global: None,
                    }),
                    span,
                );
                ExprKind::Call(
                    Box::new(log),
                    vec![
                        Expr::new(ExprKind::Literal(Value::Number(1.0)), span),
                        text("config"),
                        message,
                    ],
                    None,
                )
            }
            "assign" | "ignore" => {
                if !self.eat(&Tok::Reserved("where")) {
                    return Err(self.unexpected());
                }
                ExprKind::Where(word == "assign", Box::new(self.expression()?))
            }
            _ => {
                return Err(Error::syntax(
                    format!("syntax error, unexpected {word}"),
                    start,
                ))
            }
        };
        Ok(Expr::new(kind, start.to(self.prev_span())))
    }

    /// `apply Type ["name"] [to Target] [for (k [=> v] in expr)] { … assign where … }`
    fn apply(&mut self, start: Span) -> Result<Expr, Error> {
        let type_name = self.identifier()?;
        let name = match self.peek() {
            Tok::For | Tok::LBrace | Tok::Reserved("to") => None,
            _ => Some(self.expression()?),
        };
        // Icinga writes `for (…)` before `to Type`; the other order is accepted too.
        let mut target = if self.eat(&Tok::Reserved("to")) {
            Some(self.identifier()?)
        } else {
            None
        };
        let each = if self.eat(&Tok::For) {
            self.expect(&Tok::LParen)?;
            self.eat(&Tok::Var);
            let key = self.identifier()?;
            let value = if self.eat(&Tok::Arrow) {
                self.eat(&Tok::Var);
                Some(self.identifier()?)
            } else {
                None
            };
            self.expect(&Tok::In)?;
            let iterable = self.expression()?;
            self.expect(&Tok::RParen)?;
            Some(ApplyFor {
                key,
                value,
                iterable,
            })
        } else {
            None
        };
        if target.is_none() && self.eat(&Tok::Reserved("to")) {
            target = Some(self.identifier()?);
        }
        let closed = self.use_list()?;
        let ignore_on_error = self.eat(&Tok::Reserved("ignore_on_error"));
        let (rules, body) = split_rules(self.block(false)?);
        Ok(Expr::new(
            ExprKind::Declare(Arc::new(Declaration {
                kind: DeclKind::Apply { target, each },
                type_name,
                name,
                ignore_on_error,
                body,
                rules,
                closed,
            })),
            start.to(self.prev_span()),
        ))
    }

    fn at_statement_end(&self) -> bool {
        matches!(
            self.peek(),
            Tok::Newline | Tok::Semicolon | Tok::RBrace | Tok::Eof
        )
    }

    fn for_loop(&mut self) -> Result<Expr, Error> {
        let start = self.bump().span;
        self.expect(&Tok::LParen)?;
        // `for (var k => var v in …)`: `var` is optional, the loop variables are local.
        self.eat(&Tok::Var);
        let first = self.identifier()?;
        let second = if self.eat(&Tok::Arrow) {
            self.eat(&Tok::Var);
            Some(self.identifier()?)
        } else {
            None
        };
        self.expect(&Tok::In)?;
        let iter = self.expression()?;
        self.expect(&Tok::RParen)?;
        let body = self.block(true)?;
        let (key, value) = match second {
            Some(v) => (first, Some(v)),
            None => (first, None),
        };
        Ok(Expr::new(
            ExprKind::For(key, value, Box::new(iter), Box::new(body)),
            start.to(self.prev_span()),
        ))
    }

    /// `{ statements }`
    fn block(&mut self, require_effect: bool) -> Result<Expr, Error> {
        self.skip_newlines();
        self.expect(&Tok::LBrace)?;
        self.enter()?;
        let body = self.statements(&[Tok::RBrace], require_effect)?;
        self.depth -= 1;
        self.expect(&Tok::RBrace)?;
        Ok(body)
    }

    fn identifier(&mut self) -> Result<Str, Error> {
        match self.peek().clone() {
            Tok::Ident(name) => {
                self.bump();
                Ok(self.name(name))
            }
            _ => Err(self.unexpected()),
        }
    }

    pub fn expression(&mut self) -> Result<Expr, Error> {
        self.binary(0)
    }

    fn binary(&mut self, min_power: u8) -> Result<Expr, Error> {
        self.enter()?;
        let base = self.depth;
        let mut lhs = self.unary()?;
        let mut last_nonassoc: Option<u8> = None;
        loop {
            let tok = self.peek().clone();
            if tok == Tok::Question && min_power <= TERNARY_POWER {
                self.bump();
                self.enter()?;
                let then = self.binary(TERNARY_POWER)?;
                self.skip_newlines();
                self.expect(&Tok::Colon)?;
                let otherwise = self.binary(TERNARY_POWER)?;
                let span = lhs.span.to(otherwise.span);
                lhs = Expr::new(
                    ExprKind::Ternary(Box::new(lhs), Box::new(then), Box::new(otherwise)),
                    span,
                );
                continue;
            }
            let (power, op) = match tok {
                Tok::Or => (OR_POWER, None),
                Tok::And => (AND_POWER, None),
                _ => match binary_power(&tok) {
                    Some((power, op, nonassoc)) => (power, Some((op, nonassoc))),
                    None => break,
                },
            };
            if power <= min_power {
                break;
            }
            if matches!(op, Some((_, true))) && last_nonassoc == Some(power) {
                return Err(self.unexpected());
            }
            self.bump();
            // Each operator of a chain deepens the tree the evaluator walks.
            self.enter()?;
            let rhs = self.binary(power)?;
            let span = lhs.span.to(rhs.span);
            lhs = match (tok, op) {
                (Tok::Or, _) => Expr::new(ExprKind::Or(Box::new(lhs), Box::new(rhs)), span),
                (Tok::And, _) => Expr::new(ExprKind::And(Box::new(lhs), Box::new(rhs)), span),
                (_, Some((op, nonassoc))) => {
                    last_nonassoc = nonassoc.then_some(power);
                    Expr::new(ExprKind::Binary(op, Box::new(lhs), Box::new(rhs)), span)
                }
                _ => unreachable!("binary operators have an op"),
            };
        }
        self.depth = base - 1;
        Ok(lhs)
    }

    fn unary(&mut self) -> Result<Expr, Error> {
        let start = self.span();
        let op = match self.peek() {
            Tok::Not => Some(UnaryOp::Not),
            Tok::Tilde => Some(UnaryOp::Negate),
            Tok::Minus => Some(UnaryOp::Minus),
            Tok::Plus => {
                self.bump();
                self.enter()?;
                let e = self.unary()?;
                self.depth -= 1;
                return Ok(Expr::new(e.kind, start.to(e.span)));
            }
            _ => None,
        };
        if let Some(op) = op {
            self.bump();
            self.enter()?;
            let operand = self.unary()?;
            self.depth -= 1;
            let span = start.to(operand.span);
            return Ok(Expr::new(ExprKind::Unary(op, Box::new(operand)), span));
        }
        self.postfix()
    }

    fn postfix(&mut self) -> Result<Expr, Error> {
        let base = self.depth;
        let mut e = self.primary()?;
        loop {
            if matches!(self.peek(), Tok::Dot | Tok::LBracket | Tok::LParen) {
                self.enter()?;
            }
            match self.peek() {
                Tok::Dot => {
                    self.bump();
                    let name: Str = match self.peek().clone() {
                        Tok::Ident(n) => self.name(n),
                        _ => return Err(self.unexpected()),
                    };
                    let end = self.bump().span;
                    let span = e.span.to(end);
                    e = Expr::new(ExprKind::Member(Box::new(e), name), span);
                }
                Tok::LBracket => {
                    self.bump();
                    self.enter()?;
                    let index = self.expression()?;
                    self.depth -= 1;
                    let end = self.expect(&Tok::RBracket)?;
                    let span = e.span.to(end);
                    e = Expr::new(ExprKind::Index(Box::new(e), Box::new(index)), span);
                }
                Tok::LParen => {
                    self.bump();
                    self.enter()?;
                    let args = self.list(&Tok::RParen)?;
                    self.depth -= 1;
                    let end = self.expect(&Tok::RParen)?;
                    let span = e.span.to(end);
                    e = Expr::new(ExprKind::Call(Box::new(e), args, None), span);
                }
                _ => {
                    self.depth = base;
                    return Ok(e);
                }
            }
        }
    }

    /// Comma-separated expressions up to `end` (not consumed); a trailing comma is allowed.
    fn list(&mut self, end: &Tok) -> Result<Vec<Expr>, Error> {
        let mut items = Vec::new();
        loop {
            self.skip_newlines();
            if self.peek() == end {
                return Ok(items);
            }
            items.push(self.expression()?);
            self.skip_newlines();
            if !self.eat(&Tok::Comma) {
                return Ok(items);
            }
        }
    }

    /// Whether the tokens at the cursor (`(` …) form a lambda parameter list.
    fn lambda_ahead(&self) -> bool {
        let mut i = 1;
        if *self.peek_at(i) == Tok::RParen {
            return *self.peek_at(i + 1) == Tok::Arrow || *self.peek_at(i + 1) == Tok::Use;
        }
        loop {
            if !matches!(self.peek_at(i), Tok::Ident(_)) {
                return false;
            }
            i += 1;
            match self.peek_at(i) {
                Tok::Comma => i += 1,
                Tok::RParen => {
                    return matches!(self.peek_at(i + 1), Tok::Arrow | Tok::Use);
                }
                _ => return false,
            }
        }
    }

    fn params(&mut self) -> Result<Vec<Str>, Error> {
        self.expect(&Tok::LParen)?;
        let mut params = Vec::new();
        if !self.eat(&Tok::RParen) {
            loop {
                params.push(self.identifier()?);
                if self.eat(&Tok::RParen) {
                    break;
                }
                self.expect(&Tok::Comma)?;
            }
        }
        // `use (a, b)`: closures see the defining frame anyway, so the list only parses.
        self.use_list()?;
        Ok(params)
    }

    /// `use (a, b = expr)`, or nothing: the names a body closes over and their values.
    fn use_list(&mut self) -> Result<Vec<(Str, Expr)>, Error> {
        let mut closed = Vec::new();
        if !self.eat(&Tok::Use) {
            return Ok(closed);
        }
        self.expect(&Tok::LParen)?;
        if self.eat(&Tok::RParen) {
            return Ok(closed);
        }
        loop {
            let span = self.span();
            let name = self.identifier()?;
            let value = if self.eat(&Tok::Assign(AssignOp::Set)) {
                self.expression()?
            } else {
                Expr::new(
                    ExprKind::Var(crate::ast::Var {
                        name: name.clone(),
                        global: None,
                    }),
                    span,
                )
            };
            closed.push((name, value));
            if self.eat(&Tok::RParen) {
                return Ok(closed);
            }
            self.expect(&Tok::Comma)?;
        }
    }

    fn lambda_body(&mut self, params: Vec<Str>, start: Span) -> Result<Expr, Error> {
        let from = self.pos;
        let body = if *self.peek() == Tok::LBrace {
            self.block(false)?
        } else {
            self.expression()?
        };
        let span = start.to(self.prev_span());
        Ok(Expr::new(
            ExprKind::Lambda(Arc::new(self.lambda(params, body, from))),
            span,
        ))
    }

    /// A lambda whose body is the tokens from `from` to here, with their fingerprint.
    fn lambda(&self, params: Vec<Str>, body: Expr, from: usize) -> Lambda {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        for token in self.tokens.get(from..self.pos).unwrap_or_default() {
            format!("{:?}", token.tok).hash(&mut hasher);
        }
        Lambda {
            params,
            body,
            fingerprint: hasher.finish(),
        }
    }

    fn primary(&mut self) -> Result<Expr, Error> {
        let start = self.span();
        let tok = self.peek().clone();
        let lit = |v: Value| Ok(Expr::new(ExprKind::Literal(v), start));
        match tok {
            Tok::Number(n) => {
                self.bump();
                lit(Value::Number(n))
            }
            Tok::String(s) => {
                self.bump();
                lit(Value::String(s.into()))
            }
            Tok::True => {
                self.bump();
                lit(Value::Bool(true))
            }
            Tok::False => {
                self.bump();
                lit(Value::Bool(false))
            }
            Tok::Null => {
                self.bump();
                lit(Value::Null)
            }
            Tok::Locals => {
                self.bump();
                Ok(Expr::new(ExprKind::Locals, start))
            }
            Tok::Globals => {
                self.bump();
                Ok(Expr::new(ExprKind::Globals, start))
            }
            Tok::Reserved("current_filename") => {
                self.bump();
                lit(Value::from(&*self.file))
            }
            Tok::Reserved("current_line") => {
                self.bump();
                let line = self.line_starts.partition_point(|&s| s <= start.start);
                lit(Value::Number(line as f64))
            }
            Tok::This => {
                self.bump();
                Ok(Expr::new(ExprKind::This, start))
            }
            Tok::Ident(name) => {
                self.bump();
                if *self.peek() == Tok::Arrow {
                    self.bump();
                    return self.lambda_body(vec![name.into()], start);
                }
                Ok(Expr::new(
                    ExprKind::Var(Var {
                        name: self.name(name),
                        global: None,
                    }),
                    start,
                ))
            }
            Tok::LParen => {
                if self.lambda_ahead() {
                    let params = self.params()?;
                    self.expect(&Tok::Arrow)?;
                    return self.lambda_body(params, start);
                }
                self.bump();
                self.enter()?;
                let inner = self.expression()?;
                self.depth -= 1;
                let end = self.expect(&Tok::RParen)?;
                Ok(Expr::new(inner.kind, start.to(end)))
            }
            Tok::LBracket => {
                self.bump();
                self.enter()?;
                let items = self.list(&Tok::RBracket)?;
                self.depth -= 1;
                let end = self.expect(&Tok::RBracket)?;
                Ok(Expr::new(ExprKind::Array(items), start.to(end)))
            }
            Tok::LBrace => self.dictionary(),
            Tok::NullaryLambdaBegin => {
                self.bump();
                self.enter()?;
                let from = self.pos;
                let body = self.statements(&[Tok::NullaryLambdaEnd], false)?;
                self.depth -= 1;
                self.expect(&Tok::NullaryLambdaEnd)?;
                let span = start.to(self.prev_span());
                Ok(Expr::new(
                    ExprKind::Lambda(Arc::new(self.lambda(Vec::new(), body, from))),
                    span,
                ))
            }
            Tok::Function => {
                self.bump();
                let name = match self.peek().clone() {
                    Tok::Ident(n) => {
                        self.bump();
                        Some(Str::from(n))
                    }
                    _ => None,
                };
                let params = self.params()?;
                let from = self.pos;
                // The last statement's value is the function's result.
                let body = self.block(false)?;
                let span = start.to(self.prev_span());
                let lambda = Expr::new(
                    ExprKind::Lambda(Arc::new(self.lambda(params, body, from))),
                    span,
                );
                Ok(match name {
                    Some(name) => Expr::new(
                        ExprKind::Assign(
                            AssignOp::Set,
                            Box::new(Expr::new(ExprKind::Var(Var { name, global: None }), span)),
                            Box::new(lambda),
                        ),
                        span,
                    ),
                    None => lambda,
                })
            }
            Tok::If => self.if_expression(),
            _ => Err(self.unexpected()),
        }
    }

    fn if_expression(&mut self) -> Result<Expr, Error> {
        let start = self.bump().span;
        self.expect(&Tok::LParen)?;
        let cond = self.expression()?;
        self.expect(&Tok::RParen)?;
        let then = self.block(false)?;
        // `else` may follow on the next line.
        let save = self.pos;
        self.skip_newlines();
        let otherwise = if self.eat(&Tok::Else) {
            self.skip_newlines();
            if *self.peek() == Tok::If {
                Some(Box::new(self.if_expression()?))
            } else {
                Some(Box::new(self.block(false)?))
            }
        } else {
            self.pos = save;
            None
        };
        Ok(Expr::new(
            ExprKind::If(Box::new(cond), Box::new(then), otherwise),
            start.to(self.prev_span()),
        ))
    }

    /// `{ key = value, "other key" += value … }` separated by commas, semicolons or newlines.
    fn dictionary(&mut self) -> Result<Expr, Error> {
        let start = self.bump().span;
        self.enter()?;
        let mut items = Vec::new();
        loop {
            while matches!(self.peek(), Tok::Newline | Tok::Semicolon | Tok::Comma) {
                self.bump();
            }
            if *self.peek() == Tok::RBrace {
                break;
            }
            let key_span = self.span();
            let key: Str = match self.peek().clone() {
                Tok::Ident(k) | Tok::String(k) => self.name(k),
                _ => {
                    // Anything else in a dictionary body is a value nobody uses.
                    let e = self.expression()?;
                    return Err(if e.has_side_effect() {
                        Error::syntax("syntax error, unexpected '}'", e.span)
                    } else {
                        Error::syntax("Value computed is not used.", e.span)
                    });
                }
            };
            self.bump();
            let Tok::Assign(op) = *self.peek() else {
                if matches!(
                    self.peek(),
                    Tok::RBrace | Tok::Comma | Tok::Newline | Tok::Semicolon
                ) {
                    return Err(Error::syntax("Value computed is not used.", key_span));
                }
                return Err(self.unexpected());
            };
            self.bump();
            let value = self.expression()?;
            items.push((key, op, value));
            if !matches!(
                self.peek(),
                Tok::Newline | Tok::Semicolon | Tok::Comma | Tok::RBrace
            ) {
                return Err(self.unexpected());
            }
        }
        self.depth -= 1;
        let end = self.expect(&Tok::RBrace)?;
        Ok(Expr::new(ExprKind::Dict(items), start.to(end)))
    }
}
