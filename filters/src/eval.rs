//! The evaluator: walks a compiled tree against a [`Scope`].
//!
//! Variables resolve as in Icinga's `VariableExpression`: the frame's locals first, then
//! the scope the application provides (`host`, `service`, `event`, `filter_vars`…), then
//! the builtin globals the compiler resolved ahead of time.

use std::sync::Arc;

use crate::ast::{BinaryOp, Expr, ExprKind, UnaryOp};
use crate::config::ConfigHost;
use crate::error::{Error, ErrorKind, Span};
use crate::function::{Closure, Function};
use crate::lexer::AssignOp;
use crate::ops;
use crate::types;
use crate::value::{Dict, Str, Value};

/// What a filter can see of the application: variables and configuration objects.
pub trait Scope {
    /// A variable of the filter frame (`host`, `service`, a `filter_vars` key, …).
    fn variable(&self, name: &str) -> Option<Value>;

    /// The same variable by reference, when the scope holds it: lets `host.name` read the
    /// field without cloning `host`. `None` falls back to [`Scope::variable`].
    fn variable_ref(&self, _name: &str) -> Option<&Value> {
        None
    }

    /// `get_object(type, name)` and friends; `None` when there is no such object.
    fn get_object(&self, _type_name: &str, _name: &str) -> Option<Value> {
        None
    }

    /// `get_objects(type)`.
    fn get_objects(&self, _type_name: &str) -> Vec<Value> {
        Vec::new()
    }
}

/// A scope without variables or objects.
pub struct EmptyScope;

impl Scope for EmptyScope {
    fn variable(&self, _: &str) -> Option<Value> {
        None
    }
}

impl Scope for Dict {
    fn variable(&self, name: &str) -> Option<Value> {
        self.get(name).cloned()
    }
    fn variable_ref(&self, name: &str) -> Option<&Value> {
        self.get(name)
    }
}

impl<S: Scope + ?Sized> Scope for &S {
    fn variable(&self, name: &str) -> Option<Value> {
        (**self).variable(name)
    }
    fn variable_ref(&self, name: &str) -> Option<&Value> {
        (**self).variable_ref(name)
    }
    fn get_object(&self, t: &str, n: &str) -> Option<Value> {
        (**self).get_object(t, n)
    }
    fn get_objects(&self, t: &str) -> Vec<Value> {
        (**self).get_objects(t)
    }
}

/// Limits that keep a hostile expression from hanging or exhausting the process.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Nested function calls.
    pub max_call_depth: u32,
    /// Loop iterations plus function calls over the whole evaluation.
    pub max_steps: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_call_depth: 64,
            max_steps: 10_000_000,
        }
    }
}

/// Non-local control flow, carried through `Result`'s error side.
pub(crate) enum Flow {
    Error(Error),
    Return(Value, Span),
    Break(Span),
    Continue(Span),
}

impl From<Error> for Flow {
    fn from(e: Error) -> Self {
        Flow::Error(e)
    }
}

type R = Result<Value, Flow>;

/// One evaluation's state: the frame's locals and the application scope.
pub struct Env<'a> {
    scope: &'a dyn Scope,
    sandboxed: bool,
    locals: Vec<(Str, Value)>,
    /// Dictionaries under construction: keys set earlier are visible to later items.
    this: Vec<Dict>,
    calls: u32,
    steps: u64,
    limits: Limits,
    /// Looked at every [`crate::budget::CHECK_EVERY`] steps: the request's deadline and
    /// cancellation.
    budget: Option<&'a crate::Budget>,
    /// The step count at which the budget is looked at next, and the count it was last
    /// given (its steps are shared by the request's evaluations).
    next_look: u64,
    reported: u64,
    /// The configuration loader, when evaluating configuration files.
    config: Option<&'a dyn ConfigHost>,
    /// The type of the object whose body is running: bare-name assignments set its
    /// fields, and `import` looks templates up under it.
    object_type: Option<Str>,
}

impl<'a> Env<'a> {
    pub fn new(scope: &'a dyn Scope, sandboxed: bool, limits: Limits) -> Self {
        Env {
            scope,
            sandboxed,
            locals: Vec::new(),
            this: Vec::new(),
            calls: 0,
            steps: 0,
            limits,
            budget: None,
            next_look: 0,
            reported: 0,
            config: None,
            object_type: None,
        }
    }

    /// The same environment, stopped when `budget` is spent.
    pub fn with_budget(mut self, budget: &'a crate::Budget) -> Self {
        self.budget = Some(budget);
        self
    }

    /// An environment that evaluates configuration statements through `loader`.
    pub(crate) fn with_config(mut self, loader: &'a dyn ConfigHost) -> Self {
        self.config = Some(loader);
        self
    }

    /// Runs an object body: `this` starts as `init`, the body sees `locals` (those of the
    /// file that declared it), and the built attributes are returned.
    pub(crate) fn run_object(
        &mut self,
        type_name: &Str,
        init: Dict,
        locals: Vec<(Str, Value)>,
        body: &Expr,
    ) -> Result<Dict, Error> {
        self.locals = locals;
        self.object_type = Some(type_name.clone());
        self.this.push(init);
        let result = self.run(body);
        let this = self.this.pop().unwrap_or_default();
        result.map(|_| this)
    }

    /// Builds an object as the API creates one: imports, then attribute assignments by
    /// path (`["vars", "os"]`).
    pub(crate) fn run_api_object(
        &mut self,
        type_name: &Str,
        init: Dict,
        templates: &[String],
        attrs: &[(Vec<Str>, Value)],
    ) -> Result<Dict, Error> {
        self.object_type = Some(type_name.clone());
        self.this.push(init);
        let result = (|| {
            for t in templates {
                let name = Expr::new(ExprKind::Literal(Value::from(t.as_str())), Span::default());
                self.import(&name, Span::default())?;
            }
            for (path, value) in attrs {
                let Some((first, rest)) = path.split_first() else {
                    continue;
                };
                let mut target = Expr::new(
                    ExprKind::Var(crate::ast::Var {
                        name: first.clone(),
                        global: None,
                    }),
                    Span::default(),
                );
                for part in rest {
                    target = Expr::new(
                        ExprKind::Member(Box::new(target), part.clone()),
                        Span::default(),
                    );
                }
                self.assign(AssignOp::Set, &target, value.clone(), Span::default())?;
            }
            Ok(())
        })();
        let this = self.this.pop().unwrap_or_default();
        match result {
            Ok(()) => Ok(this),
            Err(Flow::Error(e)) => Err(e),
            Err(_) => Err(Error::script(
                "Invalid flow control statement.",
                Span::default(),
            )),
        }
    }

    /// Runs `e` with the given locals (an apply rule's condition sees its file's locals and
    /// the `for` variables).
    pub(crate) fn run_with_locals(
        &mut self,
        locals: Vec<(Str, Value)>,
        e: &Expr,
    ) -> Result<Value, Error> {
        self.locals = locals;
        self.run(e)
    }

    /// The frame's locals, leaving it empty.
    pub(crate) fn take_locals(&mut self) -> Vec<(Str, Value)> {
        std::mem::take(&mut self.locals)
    }

    /// `import "name"`: runs the template's body on the object under construction.
    fn import(&mut self, name: &Expr, span: Span) -> R {
        let name = self.eval(name)?.to_display_string();
        let (Some(loader), Some(type_name)) = (self.config, self.object_type.clone()) else {
            return Err(Error::script("'import' is only allowed in object bodies.", span).into());
        };
        let Some((template, locals)) = loader.template(&type_name, &name) else {
            return Err(Error::script(
                format!("Import references unknown template: '{name}'"),
                span,
            )
            .into());
        };
        if self.calls >= self.limits.max_call_depth {
            return Err(Error::script("Too many nested template imports.", span).into());
        }
        if let Some(this) = self.this.last_mut() {
            let mut templates = match this.get("templates") {
                Some(Value::Array(a)) => a.as_ref().clone(),
                _ => Vec::new(),
            };
            templates.push(Value::from(name.as_str()));
            this.insert("templates".into(), Value::from(templates));
        }
        self.calls += 1;
        let saved = std::mem::replace(&mut self.locals, locals);
        let result = self.eval(&template.body);
        self.locals = saved;
        self.calls -= 1;
        result.map(|_| Value::Null)
    }

    /// `object`, `template`, `apply`, `const` and `include` at the top of a file.
    fn declare(&mut self, e: &Expr) -> R {
        let Some(loader) = self.config else {
            return Err(
                Error::script("Configuration statements are not allowed here.", e.span).into(),
            );
        };
        if self.object_type.is_some() {
            return Err(Error::script("Objects cannot be declared inside objects.", e.span).into());
        }
        match &e.kind {
            ExprKind::Declare(decl) => {
                let name = match &decl.name {
                    Some(n) => self.eval(n)?,
                    None => Value::Null,
                };
                // The body sees what `use (…)` closes over, and nothing else of this frame.
                let mut closed = Vec::with_capacity(decl.closed.len());
                for (var, value) in &decl.closed {
                    closed.push((var.clone(), self.eval(value)?));
                }
                loader.declare(decl, name, closed, e.span)?;
            }
            ExprKind::Const(name, value) => {
                let v = self.eval(value)?;
                loader.constant(name, v, e.span)?;
            }
            ExprKind::Include(inc) => loader.include(inc, e.span)?,
            _ => {}
        }
        Ok(Value::Null)
    }

    pub fn scope(&self) -> &dyn Scope {
        self.scope
    }

    pub fn sandboxed(&self) -> bool {
        self.sandboxed
    }

    /// Evaluates a script. Flow control outside a function or loop is an error, as in
    /// Icinga.
    pub fn run(&mut self, e: &Expr) -> Result<Value, Error> {
        match self.eval(e) {
            Ok(v) => Ok(v),
            Err(Flow::Error(e)) => Err(e),
            Err(Flow::Return(_, span) | Flow::Break(span) | Flow::Continue(span)) => {
                Err(Error::script("Invalid flow control statement.", span))
            }
        }
    }

    /// The variables visible as `locals`, newest binding winning.
    pub fn locals(&self) -> Dict {
        self.locals
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    fn step(&mut self, span: Span) -> Result<(), Error> {
        self.charge(1, span)
    }

    /// Counts `n` units of work against [`Limits::max_steps`].
    pub(crate) fn charge(&mut self, n: u64, span: Span) -> Result<(), Error> {
        self.steps += n;
        if self.steps >= self.next_look {
            self.next_look = self.steps + crate::budget::CHECK_EVERY;
            let spent = self.steps - self.reported;
            self.reported = self.steps;
            if let Some(why) = self.budget.and_then(|b| b.spend(spent)) {
                return Err(Error::interrupted(why, span));
            }
        }
        if self.steps > self.limits.max_steps {
            return Err(Error::script(
                format!(
                    "Evaluation exceeded the limit of {} steps",
                    self.limits.max_steps
                ),
                span,
            ));
        }
        Ok(())
    }

    fn lookup(&self, name: &str) -> Option<Value> {
        if let Some((_, v)) = self.locals.iter().rev().find(|(k, _)| &**k == name) {
            return Some(v.clone());
        }
        if let Some(v) = self.this.last().and_then(|d| d.get(name)) {
            return Some(v.clone());
        }
        // A global set while this file loads (`globals.x = …`) is not in the scope's
        // snapshot of the constants yet.
        if let Some(v) = self.config.and_then(|c| c.global(name)) {
            return Some(v);
        }
        self.scope.variable(name)
    }

    fn set_local(&mut self, name: &Str, value: Value, declare: bool) {
        if !declare {
            if let Some(slot) = self.locals.iter_mut().rev().find(|(k, _)| k == name) {
                slot.1 = value;
                return;
            }
        }
        self.locals.push((name.clone(), value));
    }

    pub(crate) fn eval(&mut self, e: &Expr) -> R {
        match &e.kind {
            ExprKind::Literal(v) => Ok(v.clone()),
            ExprKind::Var(var) => match self.lookup(&var.name) {
                Some(v) => Ok(v),
                None => match &var.global {
                    Some(g) => Ok(g.clone()),
                    None => self
                        .unset_field(&var.name)
                        .ok_or_else(|| undefined(&var.name, e.span).into()),
                },
            },
            ExprKind::Member(obj, name) => {
                // `var.a.b` with `var` from the scope: walk by reference, copy only the end.
                if self.locals.is_empty() && self.this.is_empty() {
                    if let Some(base) = self.member_ref(obj) {
                        return Ok(get_field(base, name, e.span)?);
                    }
                }
                let v = self.eval(obj)?;
                Ok(get_field(&v, name, e.span)?)
            }
            ExprKind::Index(obj, index) => {
                let v = self.eval(obj)?;
                let i = self.eval(index)?;
                Ok(get_index(&v, &i, e.span)?)
            }
            ExprKind::Binary(BinaryOp::In, a, b) => self.in_op(a, b, e.span).map(Value::Bool),
            ExprKind::Binary(BinaryOp::NotIn, a, b) => {
                self.in_op(a, b, e.span).map(|r| Value::Bool(!r))
            }
            ExprKind::Binary(op, a, b) => {
                let a = self.eval(a)?;
                let b = self.eval(b)?;
                // Fast paths for the comparisons filters use most.
                match (op, &a, &b) {
                    (BinaryOp::Eq, Value::Number(x), Value::Number(y)) => {
                        return Ok(Value::Bool(x == y))
                    }
                    (BinaryOp::Ne, Value::Number(x), Value::Number(y)) => {
                        return Ok(Value::Bool(x != y))
                    }
                    (BinaryOp::Eq, Value::String(x), Value::String(y)) => {
                        return Ok(Value::Bool(x == y))
                    }
                    _ => {}
                }
                ops::binary(*op, &a, &b).map_err(|m| Error::evaluation(m, e.span).into())
            }
            ExprKind::And(a, b) => {
                let l = self.eval(a)?;
                if !l.to_bool() {
                    return Ok(l);
                }
                self.eval(b)
            }
            ExprKind::Or(a, b) => {
                let l = self.eval(a)?;
                if l.to_bool() {
                    return Ok(l);
                }
                self.eval(b)
            }
            ExprKind::Unary(op, a) => {
                let v = self.eval(a)?;
                match op {
                    UnaryOp::Not => Ok(Value::Bool(!v.to_bool())),
                    UnaryOp::Negate => {
                        let n = v.to_number().map_err(|m| Error::evaluation(m, e.span))?;
                        Ok(Value::Number(!ops::to_i64(n) as f64))
                    }
                    UnaryOp::Minus => ops::binary(BinaryOp::Sub, &Value::Number(0.0), &v)
                        .map_err(|m| Error::evaluation(m, e.span).into()),
                }
            }
            ExprKind::Ternary(c, a, b) | ExprKind::If(c, a, Some(b)) => {
                if self.eval(c)?.to_bool() {
                    self.eval(a)
                } else {
                    self.eval(b)
                }
            }
            ExprKind::If(c, a, None) => {
                if self.eval(c)?.to_bool() {
                    self.eval(a)
                } else {
                    Ok(Value::Null)
                }
            }
            ExprKind::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    out.push(self.eval(item)?);
                }
                Ok(Value::from(out))
            }
            ExprKind::Dict(items) => self.dictionary(items),
            ExprKind::Call(callee, args, pattern) => {
                if let Some(p) = pattern {
                    if let Some(v) = self.call_with_pattern(callee, args, p, e.span)? {
                        return Ok(v);
                    }
                }
                self.call(callee, args, e.span)
            }
            ExprKind::Block(items) => {
                let mut last = Value::Null;
                for item in items {
                    last = self.eval(item)?;
                }
                Ok(last)
            }
            ExprKind::Lambda(l) => Ok(Value::Function(Arc::new(Function::Closure(Closure {
                lambda: l.clone(),
                captured: self.locals.clone(),
            })))),
            ExprKind::VarDecl(name, value) => {
                self.refuse_in_sandbox(e.span)?;
                let v = match value {
                    Some(v) => self.eval(v)?,
                    None => Value::Null,
                };
                self.set_local(name, v, true);
                Ok(Value::Null)
            }
            ExprKind::Assign(op, target, value) => {
                self.refuse_in_sandbox(e.span)?;
                let v = self.eval(value)?;
                self.assign(*op, target, v, e.span)?;
                Ok(Value::Null)
            }
            ExprKind::Return(v) => {
                let v = match v {
                    Some(v) => self.eval(v)?,
                    None => Value::Null,
                };
                Err(Flow::Return(v, e.span))
            }
            ExprKind::Break => Err(Flow::Break(e.span)),
            ExprKind::Continue => Err(Flow::Continue(e.span)),
            ExprKind::Throw(v) => {
                let v = self.eval(v)?;
                Err(Error::script(v.to_display_string(), e.span).into())
            }
            ExprKind::For(k, v, iter, body) => self.for_loop(k, v.as_ref(), iter, body, e.span),
            ExprKind::While(cond, body) => {
                while self.eval(cond)?.to_bool() {
                    self.step(e.span)?;
                    match self.eval(body) {
                        Ok(_) | Err(Flow::Continue(_)) => {}
                        Err(Flow::Break(_)) => break,
                        Err(other) => return Err(other),
                    }
                }
                Ok(Value::Null)
            }
            ExprKind::Try(body, except) => match self.eval(body) {
                // Neither a spent budget nor the step limit can be caught: the except
                // block would only run into them again.
                Err(Flow::Error(err))
                    if err.kind != ErrorKind::Interrupted
                        && self.steps <= self.limits.max_steps =>
                {
                    self.eval(except).map(|_| Value::Null)
                }
                Ok(_) => Ok(Value::Null),
                Err(other) => Err(other),
            },
            ExprKind::Locals => Ok(Value::from(self.locals())),
            ExprKind::Globals => Ok(crate::globals::globals_dict()),
            ExprKind::This => Ok(Value::from(self.this.last().cloned().unwrap_or_default())),
            ExprKind::Declare(_) | ExprKind::Const(..) | ExprKind::Include(_) => self.declare(e),
            ExprKind::Import(name) => self.import(name, e.span),
            ExprKind::Where(..) => Err(Error::script(
                "'assign where' and 'ignore where' are only allowed in apply rules.",
                e.span,
            )
            .into()),
        }
    }

    /// A member chain rooted in a scope variable, by reference; `None` whenever any step
    /// would need the general path (prototypes, missing keys, computed values).
    fn member_ref(&self, e: &Expr) -> Option<&'a Value> {
        match &e.kind {
            ExprKind::Var(var) => self.scope.variable_ref(&var.name),
            ExprKind::Member(obj, name) => match self.member_ref(obj)? {
                Value::Dict(d) => d.get(&**name),
                Value::Object(o) => o.get_field_ref(name),
                _ => None,
            },
            _ => None,
        }
    }

    fn refuse_in_sandbox(&self, span: Span) -> Result<(), Error> {
        if self.sandboxed {
            return Err(Error::script(
                "Assignments are not allowed in sandbox mode.",
                span,
            ));
        }
        Ok(())
    }

    fn in_op(&mut self, a: &Expr, b: &Expr, span: Span) -> Result<bool, Flow> {
        let haystack = self.eval(b)?;
        let arr = match &haystack {
            v if v.is_empty() => return Ok(false),
            Value::Array(arr) => arr.clone(),
            other => {
                return Err(Error::script(
                    format!(
                        "Invalid right side argument for 'in' operator: {}",
                        other.to_json()
                    ),
                    span,
                )
                .into())
            }
        };
        let needle = self.eval(a)?;
        Ok(arr.iter().any(|v| v.loose_eq(&needle)))
    }

    fn dictionary(&mut self, items: &[(Str, AssignOp, Expr)]) -> R {
        self.this.push(Dict::new());
        let result = (|| {
            for (key, op, value) in items {
                let v = self.eval(value)?;
                let v = match op {
                    AssignOp::Set => v,
                    op => {
                        let old = self.this.last().and_then(|d| d.get(key)).cloned();
                        compound(*op, old.unwrap_or_default(), v, value.span)?
                    }
                };
                if let Some(d) = self.this.last_mut() {
                    d.insert(key.clone(), v);
                }
            }
            Ok(())
        })();
        let dict = self.this.pop().unwrap_or_default();
        result.map(|()| Value::from(dict))
    }

    fn for_loop(&mut self, k: &Str, v: Option<&Str>, iter: &Expr, body: &Expr, span: Span) -> R {
        let container = self.eval(iter)?;
        let pairs: Vec<(Value, Value)> = match (&container, v) {
            (Value::Array(a), None) => a.iter().map(|x| (x.clone(), Value::Null)).collect(),
            (Value::Dict(d), Some(_)) => d
                .iter()
                .map(|(k, v)| (Value::String(k.clone()), v.clone()))
                .collect(),
            (Value::Array(_), Some(_)) => {
                return Err(
                    Error::script("Cannot use dictionary iterator for array.", iter.span).into(),
                )
            }
            (Value::Dict(_), None) => {
                return Err(
                    Error::script("Cannot use array iterator for dictionary.", iter.span).into(),
                )
            }
            (other, _) => {
                return Err(Error::script(
                    format!("Invalid type in for expression: {}", other.type_name()),
                    iter.span,
                )
                .into())
            }
        };
        for (a, b) in pairs {
            self.step(span)?;
            self.set_local(k, a, false);
            if let Some(v) = v {
                self.set_local(v, b, false);
            }
            match self.eval(body) {
                Ok(_) | Err(Flow::Continue(_)) => {}
                Err(Flow::Break(_)) => break,
                Err(other) => return Err(other),
            }
        }
        Ok(Value::Null)
    }

    /// The variable a place expression starts from and the path of fields/indexes below
    /// it (`a.b[1]` → `a`, `["b", 1]`).
    fn place<'e>(&mut self, target: &'e Expr, span: Span) -> Result<(&'e Str, Vec<Value>), Flow> {
        let mut path = Vec::new();
        let mut cur = target;
        loop {
            match &cur.kind {
                ExprKind::Var(var) => {
                    path.reverse();
                    return Ok((&var.name, path));
                }
                ExprKind::Member(obj, name) => {
                    path.push(Value::String(name.clone()));
                    cur = obj;
                }
                ExprKind::Index(obj, idx) => {
                    path.push(self.eval(idx)?);
                    cur = obj;
                }
                _ => return Err(Error::script("Expression cannot be assigned to.", span).into()),
            }
        }
    }

    /// Whether a bare name is written as a field of the object under construction (in an
    /// object body, a name that is not a local).
    fn is_object_field(&self, name: &Str) -> bool {
        self.object_type.is_some()
            && self.this.len() == 1
            && !self.locals.iter().any(|(k, _)| k == name)
    }

    /// A field of the object under construction that nothing has set yet, read as Icinga
    /// reads it from the new object: its default, or `null`.
    fn unset_field(&self, name: &str) -> Option<Value> {
        if self.this.len() != 1 {
            return None;
        }
        let (config, type_name) = (self.config?, self.object_type.as_deref()?);
        config.unset(type_name, name)
    }

    /// What the field `name` of the object under construction accepts, when its type is
    /// known; an error when the type has no such field.
    fn field_kind(&self, name: &str, span: Span) -> Result<Option<crate::schema::FieldKind>, Flow> {
        let (Some(config), Some(type_name)) = (self.config, self.object_type.as_deref()) else {
            return Ok(None);
        };
        match config.field(type_name, name) {
            crate::schema::FieldLookup::UnknownType => Ok(None),
            crate::schema::FieldLookup::Field(kind) => Ok(Some(kind)),
            crate::schema::FieldLookup::NoField => {
                Err(Error::script(format!("Attribute '{name}' does not exist."), span).into())
            }
        }
    }

    /// Takes a variable's value out of its place (a local, or a field of the object under
    /// construction), leaving `null` there, so that a change to the container it holds
    /// does not copy it; [`Env::put_back`] returns it. Anything else is looked up.
    fn take_root(&mut self, name: &Str, field: bool) -> Option<Value> {
        let slot = if field {
            self.this.last_mut().and_then(|this| this.get_mut(name))
        } else {
            self.locals
                .iter_mut()
                .rev()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v)
        };
        match slot {
            Some(v) => Some(std::mem::take(v)),
            None => self.lookup(name),
        }
    }

    fn put_back(&mut self, name: &Str, field: bool, value: Value) {
        if field {
            if let Some(this) = self.this.last_mut() {
                this.insert(name.clone(), value);
            }
        } else {
            self.set_local(name, value, false);
        }
    }

    /// Writes `value` through `target`: a variable, or a path of fields/indexes below one.
    fn assign(&mut self, op: AssignOp, target: &Expr, value: Value, span: Span) -> R {
        if let (ExprKind::Member(root, name), Some(loader), AssignOp::Set) =
            (&target.kind, self.config, op)
        {
            if matches!(root.kind, ExprKind::Globals) {
                loader.set_global(name, value.clone(), span)?;
                return Ok(value);
            }
        }
        let (name, path) = self.place(target, span)?;
        let field = self.is_object_field(name);
        let kind = if field {
            self.field_kind(name, span)?
        } else {
            None
        };
        // A field's value in the field's type.
        let converted = |v: Value| match kind {
            Some(kind) => {
                crate::schema::convert(kind, v).map_err(|m| Flow::Error(Error::script(m, span)))
            }
            None => Ok(v),
        };
        if path.is_empty() && op == AssignOp::Set {
            // A plain `name = value` does not read the old value: no lookup of the name
            // (locals, constants, a field's default), and a value the field refuses leaves
            // the old one in place.
            let new = converted(value)?;
            self.put_back(name, field, new.clone());
            return Ok(new);
        }
        let root = self.take_root(name, field);
        if path.is_empty() {
            let new =
                compound(op, root.clone().unwrap_or_default(), value, span).and_then(converted);
            let stored = match &new {
                Ok(v) => v.clone(),
                Err(_) => root.unwrap_or_default(),
            };
            self.put_back(name, field, stored);
            return new;
        }
        let mut root = root.unwrap_or_else(|| Value::from(Dict::new()));
        let result = set_path(&mut root, &path, op, value, span);
        self.put_back(name, field, root);
        result
    }

    /// `a.add(x)` and friends: the container is changed where it lives, without a copy
    /// when nothing else shares it (a loop of `add`s is linear, not quadratic).
    fn call_mutator(
        &mut self,
        b: &'static crate::function::Builtin,
        receiver: &Expr,
        this: Value,
        args: &[Value],
        span: Span,
    ) -> R {
        if self.sandboxed {
            return Err(
                Error::script("Function is not marked as safe for sandbox mode.", span).into(),
            );
        }
        if !matches!(
            receiver.kind,
            ExprKind::Var(_) | ExprKind::Member(..) | ExprKind::Index(..)
        ) {
            // A temporary (`[1].add(2)`): changed and thrown away.
            let mut temp = this;
            crate::methods::mutate_in_place(b, &mut temp, args).map_err(|e| locate(e, span))?;
            return Ok(Value::Null);
        }
        // The receiver's value is the container itself: let go of this copy so that the
        // place holds the only reference.
        drop(this);
        let (name, path) = self.place(receiver, span)?;
        let field = self.is_object_field(name);
        if field {
            self.field_kind(name, span)?;
        }
        let mut root = self.take_root(name, field).unwrap_or_default();
        let result = match leaf_mut(&mut root, &path) {
            Some(leaf) => crate::methods::mutate_in_place(b, leaf, args),
            None => Err(Error::script("Expression cannot be assigned to.", span)),
        };
        self.put_back(name, field, root);
        result.map_err(|e| locate(e, span))?;
        Ok(Value::Null)
    }

    fn call_with_pattern(
        &mut self,
        callee: &Expr,
        args: &[Expr],
        pattern: &crate::pattern::Pattern,
        span: Span,
    ) -> Result<Option<Value>, Flow> {
        // Only when the name still means the builtin (no local shadows it).
        let ExprKind::Var(var) = &callee.kind else {
            return Ok(None);
        };
        if self.lookup(&var.name).is_some() || args.len() != 2 {
            return Ok(None);
        }
        let text = self.eval(&args[1])?;
        let result =
            crate::functions::match_values(&var.name, &text, false, |t| Ok(pattern.is_match(t)));
        Ok(Some(result.map_err(|e| locate(e, span))?))
    }

    fn call(&mut self, callee: &Expr, args: &[Expr], span: Span) -> R {
        let (this, func) = match &callee.kind {
            ExprKind::Member(obj, name) => {
                let this = self.eval(obj)?;
                let f = get_field(&this, name, callee.span)?;
                (this, f)
            }
            ExprKind::Index(obj, idx) => {
                let this = self.eval(obj)?;
                let i = self.eval(idx)?;
                let f = get_index(&this, &i, callee.span)?;
                (this, f)
            }
            ExprKind::Var(var) => {
                let f = self
                    .lookup(&var.name)
                    .or_else(|| var.global.clone())
                    .unwrap_or_default();
                (Value::Null, f)
            }
            _ => (Value::Null, self.eval(callee)?),
        };
        let mut values = Vec::with_capacity(args.len());
        for a in args {
            values.push(self.eval(a)?);
        }
        match func {
            Value::Function(f) => {
                if self.sandboxed && !f.is_safe() {
                    return Err(Error::script(
                        "Function is not marked as safe for sandbox mode.",
                        span,
                    )
                    .into());
                }
                if let (Function::Builtin(b), ExprKind::Member(obj, _)) = (&*f, &callee.kind) {
                    if crate::methods::is_mutator(b) {
                        return self.call_mutator(b, obj, this, &values, span);
                    }
                }
                Ok(self.call_function(&f, &this, &values, span)?)
            }
            Value::Type(t) => {
                Ok(crate::functions::construct(t, &values)
                    .map_err(|m| Error::evaluation(m, span))?)
            }
            _ => Err(Error::script("Argument is not a callable object.", span).into()),
        }
    }

    /// Calls a function value; builtins use this to call lambdas they were given.
    pub fn call_function(
        &mut self,
        f: &Function,
        this: &Value,
        args: &[Value],
        span: Span,
    ) -> Result<Value, Error> {
        self.step(span)?;
        match f {
            Function::Builtin(b) => {
                crate::functions::check_arity(b, args.len())
                    .map_err(|m| Error::evaluation(m, span))?;
                (b.call)(self, this, args).map_err(|e| locate(e, span))
            }
            Function::Closure(c) => {
                if args.len() < c.lambda.params.len() {
                    return Err(Error::evaluation("Too few arguments for function", span));
                }
                if self.calls >= self.limits.max_call_depth {
                    return Err(Error::script(
                        "Stack overflow while evaluating expression: Recursion level too deep.",
                        span,
                    ));
                }
                // Names resolve to parameters, then the defining frame, then the caller's
                // frame (so named functions can call themselves and each other).
                let mut locals = self.locals.clone();
                locals.extend(c.captured.iter().cloned());
                locals.extend(c.lambda.params.iter().cloned().zip(args.iter().cloned()));
                let saved = std::mem::replace(&mut self.locals, locals);
                self.calls += 1;
                let result =
                    stacker::maybe_grow(64 * 1024, 2 * 1024 * 1024, || self.eval(&c.lambda.body));
                self.calls -= 1;
                self.locals = saved;
                match result {
                    Ok(v) | Err(Flow::Return(v, _)) => Ok(v),
                    Err(Flow::Error(e)) => Err(e),
                    Err(Flow::Break(s) | Flow::Continue(s)) => {
                        Err(Error::script("Invalid flow control statement.", s))
                    }
                }
            }
        }
    }
}

/// Builtins raise errors without a span; they belong to the call that failed.
fn locate(mut e: Error, span: Span) -> Error {
    if e.span == Span::default() {
        e.span = span;
    }
    e
}

fn undefined(name: &str, span: Span) -> Error {
    Error::evaluation(
        format!("Tried to access undefined script variable '{name}'"),
        span,
    )
}

fn compound(op: AssignOp, old: Value, new: Value, span: Span) -> Result<Value, Flow> {
    let bop = match op {
        AssignOp::Set => return Ok(new),
        AssignOp::Add => BinaryOp::Add,
        AssignOp::Sub => BinaryOp::Sub,
        AssignOp::Mul => BinaryOp::Mul,
        AssignOp::Div => BinaryOp::Div,
        AssignOp::Mod => BinaryOp::Mod,
        AssignOp::BitXor => BinaryOp::BitXor,
        AssignOp::BitAnd => BinaryOp::BitAnd,
        AssignOp::BitOr => BinaryOp::BitOr,
    };
    ops::binary(bop, &old, &new).map_err(|m| Error::evaluation(m, span).into())
}

fn set_path(root: &mut Value, path: &[Value], op: AssignOp, value: Value, span: Span) -> R {
    let Some((key, rest)) = path.split_first() else {
        return Err(Error::script("Expression cannot be assigned to.", span).into());
    };
    match root {
        Value::Dict(d) => {
            let d = Arc::make_mut(d);
            // A name from the tree (`vars.os`) is kept as it is: interned in configuration.
            let k = key.display_str();
            if rest.is_empty() {
                let new = compound(op, d.get(&k).cloned().unwrap_or_default(), value, span)?;
                d.insert(k, new.clone());
                Ok(new)
            } else {
                let slot = d.entry(k).or_insert_with(|| Value::from(Dict::new()));
                set_path(slot, rest, op, value, span)
            }
        }
        Value::Array(a) => {
            let len = a.len();
            let i = index_of(key).filter(|i| *i < len).ok_or_else(|| {
                Error::script(
                    format!(
                        "Array index '{}' is out of bounds.",
                        key.to_display_string()
                    ),
                    span,
                )
            })?;
            let a = Arc::make_mut(a);
            if rest.is_empty() {
                let new = compound(op, a[i].clone(), value, span)?;
                a[i] = new.clone();
                Ok(new)
            } else {
                set_path(&mut a[i], rest, op, value, span)
            }
        }
        other => Err(Error::script(
            format!("Cannot set field on value of type '{}'", other.type_name()),
            span,
        )
        .into()),
    }
}

/// The value at `path` below `root`, for changing in place; containers on the way are
/// unshared first (a copy only where something else still holds them).
fn leaf_mut<'v>(root: &'v mut Value, path: &[Value]) -> Option<&'v mut Value> {
    let Some((key, rest)) = path.split_first() else {
        return Some(root);
    };
    let next = match root {
        Value::Dict(d) => Arc::make_mut(d).get_mut(&*key.to_display_string())?,
        Value::Array(a) => {
            let i = index_of(key).filter(|i| *i < a.len())?;
            &mut Arc::make_mut(a)[i]
        }
        _ => return None,
    };
    leaf_mut(next, rest)
}

fn index_of(key: &Value) -> Option<usize> {
    match key {
        Value::Number(n) if n.fract() == 0.0 && *n >= 0.0 => Some(*n as usize),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// `VMOps::GetField`: `value.name`.
pub fn get_field(v: &Value, name: &str, span: Span) -> Result<Value, Error> {
    match v {
        Value::Null => Ok(Value::Null),
        Value::Dict(d) => Ok(match d.get(name) {
            Some(v) => v.clone(),
            None => prototype(v, name).unwrap_or_default(),
        }),
        Value::Array(a) => {
            if let Ok(i) = name.parse::<i64>() {
                return usize::try_from(i)
                    .ok()
                    .and_then(|i| a.get(i))
                    .cloned()
                    .ok_or_else(|| {
                        Error::script(format!("Array index '{i}' is out of bounds."), span)
                    });
            }
            prototype(v, name).ok_or_else(|| invalid_field(v, name, span))
        }
        Value::Type(t) => match name {
            "name" => Ok(Value::from(t.name())),
            "base" => Ok(t
                .0
                .base
                .map_or(Value::Null, |b| Value::Type(types::TypeRef(b)))),
            "prototype" => Ok(t.describe_prototype()),
            _ => prototype(v, name).ok_or_else(|| invalid_field(v, name, span)),
        },
        Value::Object(o) => match o.get_field(name) {
            Some(v) => Ok(v),
            None => prototype(v, name).ok_or_else(|| invalid_field(v, name, span)),
        },
        _ => prototype(v, name).ok_or_else(|| invalid_field(v, name, span)),
    }
}

/// `value[index]`: arrays take numbers, everything else a field name.
pub fn get_index(v: &Value, index: &Value, span: Span) -> Result<Value, Error> {
    if let (Value::Array(a), Value::Number(n)) = (v, index) {
        if n.fract() == 0.0 {
            return a
                .get(*n as usize)
                .filter(|_| *n >= 0.0)
                .cloned()
                .ok_or_else(|| {
                    Error::script(
                        format!("Array index '{}' is out of bounds.", ops::to_i64(*n)),
                        span,
                    )
                });
        }
    }
    get_field(v, &index.to_display_string(), span)
}

fn prototype(v: &Value, name: &str) -> Option<Value> {
    types::of(v)
        .method(name)
        .map(|m| Value::Function(Arc::new(Function::Builtin(m))))
}

fn invalid_field(v: &Value, name: &str, span: Span) -> Error {
    Error::script(
        format!(
            "Invalid field access (for value of type '{}'): '{name}'",
            types::of(v).name()
        ),
        span,
    )
}
