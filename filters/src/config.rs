//! The configuration language: `object`, `template`, `apply`, `import`, `const` and
//! `include` on top of the expression language, loaded the way Icinga 2 loads `conf.d`.
//!
//! Loading happens in two phases, as in Icinga:
//! 1. [`Loader::load`] parses a file and runs its top level. Declarations are *recorded*
//!    (their body is not run yet), constants are defined, and included files are loaded in
//!    place through a resolver the caller provides (it owns the file system).
//! 2. [`Loader::commit`] runs every object body (templates are imported by running their
//!    body on the object under construction, so they may be declared in any file and any
//!    order), then evaluates every apply rule against the objects it targets.
//!
//! Spans of all files share one number space (each file starts after the previous one), so
//! an error anywhere — also inside a template imported from another file — maps back to
//! its file, line and column.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::ast::{DeclKind, Declaration, Include};
use crate::error::{Error, Span};
use crate::eval::{Env, Limits, Scope};
use crate::value::{Dict, Str, Value};

/// One object or template as the configuration defines it.
#[derive(Clone, Debug)]
pub struct Item {
    pub type_name: Str,
    /// The full name (`host!service` for services).
    pub name: Str,
    pub template: bool,
    /// The attributes the body set, including `name` (the short name) and `templates`.
    pub attrs: Dict,
    pub location: Location,
    pub ignore_on_error: bool,
}

/// Where a declaration is written: Icinga's `debug_info`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    pub path: Arc<str>,
    pub first_line: usize,
    pub first_column: usize,
    pub last_line: usize,
    pub last_column: usize,
}

/// An error with the file it happened in, ready to render as Icinga does.
#[derive(Clone, Debug)]
pub struct ConfigError {
    pub error: Error,
    pub path: Arc<str>,
    source: Arc<str>,
}

impl ConfigError {
    /// `file:line:col: message`, the source line and a caret.
    pub fn render(&self) -> String {
        self.error.render(&self.source, &self.path)
    }

    pub fn location(&self) -> Location {
        location(&self.path, &self.source, self.error.span)
    }
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.render())
    }
}

struct SourceFile {
    path: Arc<str>,
    source: Arc<str>,
    base: u32,
}

struct Declared {
    decl: Arc<Declaration>,
    /// The evaluated name; `Null` for unnamed `apply … for` rules.
    name: Value,
    locals: Vec<(Str, Value)>,
    span: Span,
}

#[derive(Default)]
struct State {
    files: Vec<SourceFile>,
    next_base: u32,
    constants: Dict,
    declared: Vec<Declared>,
    templates: HashMap<(Str, Str), usize>,
    /// The files being loaded, innermost last.
    current: Vec<Arc<str>>,
}

/// Local variables of a frame, newest last.
type Locals = Vec<(Str, Value)>;

/// Reads the files an `include` names.
type Resolver = Box<dyn Fn(&str, &Include) -> Result<Vec<(String, String)>, String>>;

/// Loads configuration files into [`Item`]s.
#[derive(Default)]
pub struct Loader {
    state: RefCell<State>,
    limits: Limits,
    resolver: Option<Resolver>,
}

/// The scope object bodies and apply rules run in: constants, plus `host`/`service` for
/// apply rules.
struct ConfigScope<'a> {
    constants: &'a Dict,
    vars: Dict,
}

impl Scope for ConfigScope<'_> {
    fn variable(&self, name: &str) -> Option<Value> {
        self.vars
            .get(name)
            .or_else(|| self.constants.get(name))
            .cloned()
    }
    fn variable_ref(&self, name: &str) -> Option<&Value> {
        self.vars.get(name).or_else(|| self.constants.get(name))
    }
}

impl Loader {
    pub fn new() -> Self {
        Loader::default()
    }

    /// Defines a constant before loading (`PluginDir`, `NodeName`, …).
    pub fn define(&self, name: &str, value: Value) {
        self.state.borrow_mut().constants.insert(name.into(), value);
    }

    /// The constants defined so far.
    pub fn constants(&self) -> Dict {
        self.state.borrow().constants.clone()
    }

    /// Lets `include` statements read files: the resolver gets the including file's path
    /// and the statement, and returns the files to load, as (path, source) pairs, in order.
    pub fn set_resolver(
        &mut self,
        resolver: impl Fn(&str, &Include) -> Result<Vec<(String, String)>, String> + 'static,
    ) {
        self.resolver = Some(Box::new(resolver));
    }

    /// Parses `source` and runs its top level; includes are loaded where they stand.
    ///
    /// # Errors
    /// The first syntax or evaluation error, in this file or one it includes.
    pub fn load(&self, path: &str, source: &str) -> Result<(), ConfigError> {
        self.load_inner(path, source).map_err(|e| self.error(e))
    }

    fn load_inner(&self, path: &str, source: &str) -> Result<(), Error> {
        let path: Arc<str> = path.into();
        let source: Arc<str> = source.into();
        let base = {
            let mut st = self.state.borrow_mut();
            let base = st.next_base;
            // One spare byte so that an end-of-file span stays inside this file.
            st.next_base = base.saturating_add(source.len() as u32 + 1);
            st.files.push(SourceFile {
                path: path.clone(),
                source: source.clone(),
                base,
            });
            st.current.push(path.clone());
            base
        };
        let result = (|| {
            let mut expr = crate::parser::parse_config(&source, base)?;
            crate::compile::compile(&mut expr);
            let constants = self.constants();
            let scope = ConfigScope {
                constants: &constants,
                vars: Dict::new(),
            };
            let mut env = Env::new(&scope, false, self.limits).with_config(self);
            env.run(&expr).map(|_| ())
        })();
        self.state.borrow_mut().current.pop();
        result
    }

    pub(crate) fn declare(
        &self,
        decl: &Arc<Declaration>,
        name: Value,
        locals: Vec<(Str, Value)>,
        span: Span,
    ) -> Result<(), Error> {
        let mut st = self.state.borrow_mut();
        // Icinga lets objects be imported like templates; a template of the same name wins.
        let key = (decl.type_name.clone(), Str::from(name.to_display_string()));
        let index = st.declared.len();
        match decl.kind {
            DeclKind::Template => {
                st.templates.insert(key, index);
            }
            DeclKind::Object => {
                st.templates.entry(key).or_insert(index);
            }
            DeclKind::Apply { .. } => {}
        }
        if !matches!(name, Value::String(_) | Value::Null) {
            return Err(Error::script(
                format!("Object name must be a string, got {}", name.type_name()),
                span,
            ));
        }
        st.declared.push(Declared {
            decl: decl.clone(),
            name,
            locals,
            span,
        });
        Ok(())
    }

    pub(crate) fn constant(&self, name: &Str, value: Value, span: Span) -> Result<(), Error> {
        let mut st = self.state.borrow_mut();
        if st.constants.contains_key(name) {
            return Err(Error::script(
                format!("Constant '{name}' is already defined."),
                span,
            ));
        }
        st.constants.insert(name.clone(), value);
        Ok(())
    }

    pub(crate) fn include(&self, include: &Include, span: Span) -> Result<(), Error> {
        let Some(resolver) = &self.resolver else {
            return Err(Error::script("'include' is not available here.", span));
        };
        let from = self
            .state
            .borrow()
            .current
            .last()
            .cloned()
            .unwrap_or_else(|| "".into());
        let files = resolver(&from, include).map_err(|m| Error::script(m, span))?;
        if self.state.borrow().current.len() > 32 {
            return Err(Error::script("Includes nest too deeply.", span));
        }
        for (path, source) in files {
            self.load_inner(&path, &source)?;
        }
        Ok(())
    }

    pub(crate) fn template(
        &self,
        type_name: &str,
        name: &str,
    ) -> Option<(Arc<Declaration>, Locals)> {
        let st = self.state.borrow();
        let i = *st.templates.get(&(Str::from(type_name), Str::from(name)))?;
        let d = &st.declared[i];
        Some((d.decl.clone(), d.locals.clone()))
    }

    /// Maps an error's span to its file.
    fn error(&self, error: Error) -> ConfigError {
        let st = self.state.borrow();
        let file = st
            .files
            .iter()
            .rev()
            .find(|f| f.base <= error.span.start)
            .or(st.files.last());
        match file {
            Some(f) => {
                let mut error = error;
                error.span.start -= f.base;
                error.span.end = error.span.end.saturating_sub(f.base);
                ConfigError {
                    error,
                    path: f.path.clone(),
                    source: f.source.clone(),
                }
            }
            None => ConfigError {
                error,
                path: "<config>".into(),
                source: "".into(),
            },
        }
    }

    fn location(&self, span: Span) -> Location {
        let e = self.error(Error::script("", span));
        location(&e.path, &e.source, e.error.span)
    }

    /// Runs every object body and apply rule.
    ///
    /// # Errors
    /// Every error found (Icinga reports them all before giving up), unless the object was
    /// declared `ignore_on_error`.
    pub fn commit(self) -> Result<Vec<Item>, Vec<ConfigError>> {
        let st = std::mem::take(&mut *self.state.borrow_mut());
        let mut errors = Vec::new();
        let mut out = Collected::default();
        // Put the state back so that imports can find templates.
        let declared_len = st.declared.len();
        *self.state.borrow_mut() = State {
            files: st.files,
            next_base: st.next_base,
            constants: st.constants.clone(),
            declared: st.declared,
            templates: st.templates,
            current: Vec::new(),
        };
        let constants = st.constants;
        // Objects and templates, in declaration order.
        for i in 0..declared_len {
            let (decl, name, locals, span) = {
                let st = self.state.borrow();
                let d = &st.declared[i];
                (d.decl.clone(), d.name.clone(), d.locals.clone(), d.span)
            };
            let template = match decl.kind {
                DeclKind::Object => false,
                DeclKind::Template => true,
                DeclKind::Apply { .. } => continue,
            };
            let short = name.to_display_string();
            let scope = ConfigScope {
                constants: &constants,
                vars: Dict::new(),
            };
            let init = Dict::from([
                ("name".into(), Value::from(short.as_str())),
                (
                    "templates".into(),
                    Value::from(vec![Value::from(short.as_str())]),
                ),
            ]);
            if template {
                // Templates are abstract: their body runs only when an object imports it.
                out.push(
                    &self,
                    Item {
                        type_name: decl.type_name.clone(),
                        name: short.as_str().into(),
                        template,
                        attrs: init,
                        location: self.location(span),
                        ignore_on_error: decl.ignore_on_error,
                    },
                    span,
                    &mut errors,
                );
                continue;
            }
            let mut env = Env::new(&scope, false, self.limits).with_config(&self);
            match env.run_object(&decl.type_name, init, locals, &decl.body) {
                Ok(attrs) => {
                    let full = full_name(&decl.type_name, &attrs, &short);
                    out.push(
                        &self,
                        Item {
                            type_name: decl.type_name.clone(),
                            name: full.into(),
                            template,
                            attrs,
                            location: self.location(span),
                            ignore_on_error: decl.ignore_on_error,
                        },
                        span,
                        &mut errors,
                    );
                }
                // `ignore_on_error`: the object is dropped silently, as in Icinga.
                Err(_) if decl.ignore_on_error => {}
                Err(e) => errors.push(self.error(e)),
            }
        }

        // Apply rules against the objects defined so far (hosts, then services).
        for target_type in ["Host", "Service"] {
            let targets: Vec<Item> = out
                .items
                .iter()
                .filter(|it| !it.template && &*it.type_name == target_type)
                .cloned()
                .collect();
            for i in 0..declared_len {
                let (decl, name, locals, span) = {
                    let st = self.state.borrow();
                    let d = &st.declared[i];
                    (d.decl.clone(), d.name.clone(), d.locals.clone(), d.span)
                };
                let DeclKind::Apply { target, each } = &decl.kind else {
                    continue;
                };
                let rule_target = target.as_deref().unwrap_or("Host");
                if rule_target != target_type {
                    continue;
                }
                if &*decl.type_name == "Service" && rule_target != "Host" {
                    errors.push(self.error(Error::script(
                        "Apply rules of type 'Service' can only target 'Host'.",
                        span,
                    )));
                    continue;
                }
                for t in &targets {
                    let mut vars = Dict::new();
                    match target_type {
                        "Host" => {
                            vars.insert("host".into(), Value::from(t.attrs.clone()));
                        }
                        _ => {
                            vars.insert("service".into(), Value::from(t.attrs.clone()));
                            if let Some(h) = t
                                .attrs
                                .get("host_name")
                                .and_then(|h| out.get("Host", &h.to_display_string()))
                            {
                                vars.insert("host".into(), Value::from(h.attrs.clone()));
                            }
                        }
                    }
                    let scope = ConfigScope {
                        constants: &constants,
                        vars,
                    };
                    // (name suffix, extra locals) per instance of the rule.
                    let instances: Vec<(Option<Str>, Locals)> = match each {
                        None => vec![(None, Vec::new())],
                        Some(each) => {
                            let mut env = Env::new(&scope, false, self.limits);
                            match env.run_with_locals(locals.clone(), &each.iterable) {
                                Ok(Value::Array(a)) if each.value.is_none() => a
                                    .iter()
                                    .map(|v| {
                                        (
                                            Some(Str::from(v.to_display_string())),
                                            vec![(each.key.clone(), v.clone())],
                                        )
                                    })
                                    .collect(),
                                Ok(Value::Dict(d)) if each.value.is_some() => d
                                    .iter()
                                    .map(|(k, v)| {
                                        let mut l =
                                            vec![(each.key.clone(), Value::String(k.clone()))];
                                        if let Some(vn) = &each.value {
                                            l.push((vn.clone(), v.clone()));
                                        }
                                        (Some(k.clone()), l)
                                    })
                                    .collect(),
                                Ok(Value::Null) => Vec::new(),
                                Ok(other) => {
                                    errors.push(self.error(Error::script(
                                        format!(
                                            "Invalid type in for expression of apply rule: {}",
                                            other.type_name()
                                        ),
                                        each.iterable.span,
                                    )));
                                    Vec::new()
                                }
                                Err(e) => {
                                    errors.push(self.error(e));
                                    Vec::new()
                                }
                            }
                        }
                    };
                    for (suffix, extra) in instances {
                        let mut frame = locals.clone();
                        frame.extend(extra);
                        match self.rule_matches(&decl, &scope, &frame) {
                            Ok(true) => {}
                            Ok(false) => continue,
                            Err(e) => {
                                errors.push(self.error(e));
                                continue;
                            }
                        }
                        let prefix = match &name {
                            Value::Null => String::new(),
                            n => n.to_display_string(),
                        };
                        let short = match &suffix {
                            Some(s) => format!("{prefix}{s}"),
                            None => prefix,
                        };
                        let mut init = Dict::from([
                            ("name".into(), Value::from(short.as_str())),
                            (
                                "templates".into(),
                                Value::from(vec![Value::from(short.as_str())]),
                            ),
                        ]);
                        match target_type {
                            "Host" => {
                                init.insert("host_name".into(), Value::from(&*t.name));
                            }
                            _ => {
                                if let Some(h) = t.attrs.get("host_name") {
                                    init.insert("host_name".into(), h.clone());
                                }
                                if let Some(n) = t.attrs.get("name") {
                                    init.insert("service_name".into(), n.clone());
                                }
                            }
                        }
                        let mut env = Env::new(&scope, false, self.limits).with_config(&self);
                        match env.run_object(&decl.type_name, init, frame, &decl.body) {
                            Ok(attrs) => {
                                let full = full_name(&decl.type_name, &attrs, &short);
                                out.push(
                                    &self,
                                    Item {
                                        type_name: decl.type_name.clone(),
                                        name: full.into(),
                                        template: false,
                                        attrs,
                                        location: self.location(span),
                                        ignore_on_error: false,
                                    },
                                    span,
                                    &mut errors,
                                );
                            }
                            Err(e) => errors.push(self.error(e)),
                        }
                    }
                }
            }
        }
        if errors.is_empty() {
            Ok(out.items)
        } else {
            Err(errors)
        }
    }

    /// `assign where` any true and `ignore where` none true.
    fn rule_matches(
        &self,
        decl: &Declaration,
        scope: &ConfigScope<'_>,
        locals: &[(Str, Value)],
    ) -> Result<bool, Error> {
        let mut assigned = false;
        for (assign, cond) in &decl.rules {
            let mut env = Env::new(scope, false, self.limits);
            let hit = env.run_with_locals(locals.to_vec(), cond)?.to_bool();
            if *assign {
                assigned |= hit;
            } else if hit {
                return Ok(false);
            }
        }
        Ok(assigned)
    }
}

/// Icinga's name composers: services are `host!name`, notifications and scheduled
/// downtimes `host[!service]!name`, dependencies `child_host[!child_service]!name`.
fn full_name(type_name: &str, attrs: &Dict, short: &str) -> String {
    let field = |k: &str| {
        attrs
            .get(k)
            .filter(|v| !v.is_empty())
            .map(|v| v.to_display_string())
    };
    let parts = match type_name {
        "Service" => vec![field("host_name")],
        "Notification" | "ScheduledDowntime" | "Downtime" | "Comment" => {
            vec![field("host_name"), field("service_name")]
        }
        "Dependency" => vec![field("child_host_name"), field("child_service_name")],
        _ => Vec::new(),
    };
    let mut name = String::new();
    for p in parts.into_iter().flatten() {
        name.push_str(&p);
        name.push('!');
    }
    name.push_str(short);
    name
}

fn location(path: &Arc<str>, source: &str, span: Span) -> Location {
    let (first_line, first_column) = span.line_col(source);
    let end = Span {
        start: span.end.saturating_sub(1).max(span.start),
        end: span.end,
    };
    let (last_line, last_column) = end.line_col(source);
    Location {
        path: path.clone(),
        first_line,
        first_column,
        last_line,
        last_column,
    }
}

/// The items committed so far, indexed by type and name.
#[derive(Default)]
struct Collected {
    items: Vec<Item>,
    index: BTreeMap<(Str, Str), usize>,
}

impl Collected {
    fn get(&self, type_name: &str, name: &str) -> Option<&Item> {
        let i = self.index.get(&(Str::from(type_name), Str::from(name)))?;
        Some(&self.items[*i])
    }

    /// Adds `item`, refusing a second object (or template) of the same type and name.
    fn push(&mut self, loader: &Loader, item: Item, span: Span, errors: &mut Vec<ConfigError>) {
        let key = (item.type_name.clone(), item.name.clone());
        if let Some(&other) = self.index.get(&key) {
            let prev = &self.items[other];
            if prev.template == item.template {
                let kind = if item.template { "Template" } else { "Object" };
                errors.push(loader.error(Error::script(
                    format!(
                        "{kind} '{}' of type '{}' re-defined: {}:{}",
                        item.name, item.type_name, prev.location.path, prev.location.first_line
                    ),
                    span,
                )));
                return;
            }
            // A template and an object may share a name; the object wins the index.
            if item.template {
                self.items.push(item);
                return;
            }
        }
        self.index.insert(key, self.items.len());
        self.items.push(item);
    }
}
