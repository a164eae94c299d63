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

use foldhash::HashMap;
use std::cell::RefCell;
use std::sync::Arc;

use rayon::prelude::*;

use crate::ast::{DeclKind, Declaration, Expr, ExprKind, Include};
use crate::attrs::Attrs;
use crate::error::{Error, Span};
use crate::eval::{Env, Limits, Scope};
use crate::schema::{FieldLookup, Schema};
use crate::value::{Dict, Str, Value};

/// One object or template as the configuration defines it.
#[derive(Clone, Debug)]
pub struct Item {
    pub type_name: Str,
    /// The full name (`host!service` for services).
    pub name: Str,
    pub template: bool,
    /// The attributes the body set, including `name` (the short name) and `templates`.
    pub attrs: Attrs,
    /// Shared by every object a declaration builds (an apply rule's million services).
    pub location: Arc<Location>,
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
#[derive(Clone)]
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

impl std::fmt::Debug for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.render())
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
    /// Offsets where lines start, to turn spans into lines in O(log n).
    line_starts: Vec<u32>,
}

impl SourceFile {
    fn new(path: Arc<str>, source: Arc<str>, base: u32) -> SourceFile {
        let line_starts = std::iter::once(0)
            .chain(
                source
                    .bytes()
                    .enumerate()
                    .filter(|(_, b)| *b == b'\n')
                    .map(|(i, _)| i as u32 + 1),
            )
            .collect();
        SourceFile {
            path,
            source,
            base,
            line_starts,
        }
    }

    /// 1-based line and column (in bytes, as Icinga counts) of a file-local offset.
    fn line_col(&self, offset: u32) -> (usize, usize) {
        let line = self.line_starts.partition_point(|&s| s <= offset).max(1);
        let col = offset - self.line_starts[line - 1] + 1;
        (line, col as usize)
    }

    /// The location of a global span inside this file.
    fn location(&self, span: Span) -> Location {
        let start = span.start.saturating_sub(self.base);
        let end = span
            .end
            .saturating_sub(self.base)
            .saturating_sub(1)
            .max(start);
        let (first_line, first_column) = self.line_col(start);
        let (last_line, last_column) = self.line_col(end);
        Location {
            path: self.path.clone(),
            first_line,
            first_column,
            last_line,
            last_column,
        }
    }
}

struct Declared {
    decl: Arc<Declaration>,
    /// The evaluated name; `Null` for unnamed `apply … for` rules.
    name: Value,
    locals: Vec<(Str, Value)>,
    span: Span,
    /// The zone of the directory the declaration was loaded from (`zones.d/<zone>/`).
    zone: Option<Str>,
    /// Where it is written, once asked for.
    location: std::sync::OnceLock<Arc<Location>>,
}

#[derive(Default)]
struct State {
    files: Vec<SourceFile>,
    next_base: u32,
    constants: Dict,
    /// Constants defined by the host ([`Loader::define`]) that the configuration may set
    /// once with `const`, as Icinga lets `constants.conf` set `NodeName` or `PluginDir`.
    predefined: std::collections::HashSet<Str>,
    /// Names set by `globals.<name> = …`: they may be set again (a `const` may not).
    globals: std::collections::HashSet<Str>,
    /// Files loaded with [`Loader::load_defaults`]: their objects and templates give way
    /// to a later definition of the same type and name.
    defaults: std::collections::HashSet<Arc<str>>,
    declared: Vec<Declared>,
    templates: HashMap<(Str, Str), usize>,
    /// The files being loaded, innermost last.
    current: Vec<Arc<str>>,
    /// The zone objects declared now belong to (while a zone directory loads).
    zone: Option<Str>,
    /// Files loaded with [`Loader::load_fallback_library`].
    fallback: std::collections::HashSet<Arc<str>>,
    /// Whether an `include <…>` found the installation's own library: the fallback
    /// library then stands in for nothing and is left out, so the objects are exactly
    /// those Icinga would have.
    library_included: bool,
}

/// What the evaluator asks of the configuration around it: `object`/`const`/`include`
/// statements (only while loading files) and templates for `import`.
pub(crate) trait ConfigHost {
    fn declare(
        &self,
        _decl: &Arc<Declaration>,
        _name: Value,
        _locals: Locals,
        span: Span,
    ) -> Result<(), Error> {
        Err(Error::script("Objects cannot be declared here.", span))
    }

    fn constant(&self, _name: &Str, _value: Value, span: Span) -> Result<(), Error> {
        Err(Error::script("Constants cannot be defined here.", span))
    }

    fn include(&self, _include: &Include, span: Span) -> Result<(), Error> {
        Err(Error::script("'include' is not available here.", span))
    }

    /// `globals.<name> = value`: a global variable later configuration reads by name.
    fn set_global(&self, _name: &Str, _value: Value, span: Span) -> Result<(), Error> {
        Err(Error::script("Expression cannot be assigned to.", span))
    }

    /// A global variable set by `globals.<name> = …`.
    fn global(&self, _name: &str) -> Option<Value> {
        None
    }

    fn template(&self, type_name: &str, name: &str) -> Option<(Arc<Declaration>, Locals)>;

    /// Whether `type_name` has the field `field`, and what it accepts.
    fn field(&self, _type_name: &str, _field: &str) -> FieldLookup {
        FieldLookup::UnknownType
    }

    /// A field of `type_name` read before it is assigned (see [`Schema::unset`]).
    fn unset(&self, _type_name: &str, _name: &str) -> Option<Value> {
        None
    }
}

/// The type a group type's `assign where` rules take members from.
pub fn group_member(group_type: &str) -> Option<&'static str> {
    match group_type {
        "HostGroup" => Some("Host"),
        "ServiceGroup" => Some("Service"),
        "UserGroup" => Some("User"),
        _ => None,
    }
}

fn add_unique(list: &mut Vec<String>, name: String) {
    if !list.contains(&name) {
        list.push(name);
    }
}

/// Adds the groups `group` belongs to, and theirs, to a member's groups, as Icinga resolves
/// nested groups (at most 20 levels deep).
fn join_parents(
    parents: &HashMap<(&'static str, String), Vec<String>>,
    member: &'static str,
    group: &str,
    joined: &mut Vec<String>,
    depth: usize,
) {
    if depth > 20 {
        return;
    }
    for parent in parents
        .get(&(member, group.to_owned()))
        .into_iter()
        .flatten()
    {
        join_parents(parents, member, parent, joined, depth + 1);
        add_unique(joined, parent.clone());
    }
}

/// What a rule sees of the object it is evaluated for: `host`; `service` and its `host`;
/// `user`. `None` for types no rule targets.
fn rule_vars(type_name: &str, attrs: &Attrs, host: Option<&Attrs>) -> Option<Dict> {
    let mut vars = Dict::new();
    match type_name {
        "Host" => {
            vars.insert("host".into(), Value::from(attrs.to_dict()));
        }
        "Service" => {
            vars.insert("service".into(), Value::from(attrs.to_dict()));
            if let Some(h) = host {
                vars.insert("host".into(), Value::from(h.to_dict()));
            }
        }
        "User" => {
            vars.insert("user".into(), Value::from(attrs.to_dict()));
        }
        _ => return None,
    }
    Some(vars)
}

/// Makes declaration `index` importable by type and name. Icinga lets objects be imported
/// like templates; a template of the same name wins.
fn index_template(
    templates: &mut HashMap<(Str, Str), usize>,
    decl: &Declaration,
    name: &Value,
    index: usize,
) {
    let key = (decl.type_name.clone(), Str::from(name.to_display_string()));
    match decl.kind {
        DeclKind::Template => {
            templates.insert(key, index);
        }
        DeclKind::Object => {
            templates.entry(key).or_insert(index);
        }
        DeclKind::Apply { .. } => {}
    }
}

/// Leaves out the declarations of the fallback library files, keeping template indexes
/// right.
fn drop_fallback(st: &mut State) {
    let files: Vec<(u32, bool)> = st
        .files
        .iter()
        .map(|f| (f.base, st.fallback.contains(&f.path)))
        .collect();
    let from_fallback = |span: Span| {
        files
            .iter()
            .rev()
            .find(|(base, _)| *base <= span.start)
            .is_some_and(|(_, d)| *d)
    };
    st.declared.retain(|d| !from_fallback(d.span));
    let fallback = std::mem::take(&mut st.fallback);
    st.defaults.retain(|f| !fallback.contains(f));
    st.templates.clear();
    for (index, d) in st.declared.iter().enumerate() {
        index_template(&mut st.templates, &d.decl, &d.name, index);
    }
}

/// Whether an object body holds an `include` statement (at its top or inside `if`s).
fn has_include(body: &Expr) -> bool {
    match &body.kind {
        ExprKind::Include(_) => true,
        ExprKind::Block(items) => items.iter().any(has_include),
        ExprKind::If(_, then, otherwise) => {
            has_include(then) || otherwise.as_deref().is_some_and(has_include)
        }
        _ => false,
    }
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
    schema: Option<Arc<dyn Schema>>,
}

/// The scope object bodies and apply rules run in: constants, plus `host`/`service` for
/// apply rules.
struct ConfigScope<'a> {
    constants: &'a Dict,
    /// `host`, `service`, `user` of apply and group rules; borrowed by every object a
    /// rule builds for one target.
    vars: &'a Dict,
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

/// The scope of a file's top level: the loader's constants, read live.
struct LiveConstants<'a>(&'a RefCell<State>);

impl Scope for LiveConstants<'_> {
    fn variable(&self, name: &str) -> Option<Value> {
        self.0.try_borrow().ok()?.constants.get(name).cloned()
    }
}

impl Loader {
    pub fn new() -> Self {
        Loader::default()
    }

    /// Defines a constant before loading (`PluginDir`, `NodeName`, …).
    /// A predefined constant: the configuration may set it once with `const`.
    pub fn define(&self, name: &str, value: Value) {
        let mut st = self.state.borrow_mut();
        st.constants.insert(name.into(), value);
        st.predefined.insert(name.into());
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

    /// Checks every assignment in an object body against the type's fields (unknown
    /// fields are errors, values are converted to the field's kind).
    pub fn set_schema(&mut self, schema: Arc<dyn Schema>) {
        self.schema = Some(schema);
    }

    /// Parses `source` and runs its top level; includes are loaded where they stand.
    ///
    /// # Errors
    /// The first syntax or evaluation error, in this file or one it includes.
    pub fn load(&self, path: &str, source: &str) -> Result<(), ConfigError> {
        self.load_inner(path, source).map_err(|e| self.error(e))
    }

    /// [`Loader::load`] for a library of defaults: an object or template it declares is
    /// replaced by a later one of the same type and name from any other file, instead of
    /// being a redefinition (a built-in command gives way to the real template library's
    /// or the user's).
    ///
    /// # Errors
    /// As [`Loader::load`].
    pub fn load_defaults(&self, path: &str, source: &str) -> Result<(), ConfigError> {
        self.state.borrow_mut().defaults.insert(path.into());
        self.load(path, source)
    }

    /// [`Loader::load`] for a file of a zone directory: the objects it declares (and the
    /// files it includes) belong to `zone`, as those in Icinga's `zones.d/<zone>/` do.
    ///
    /// # Errors
    /// As [`Loader::load`].
    pub fn load_in_zone(&self, path: &str, source: &str, zone: &str) -> Result<(), ConfigError> {
        let saved = self.state.borrow_mut().zone.replace(zone.into());
        let result = self.load(path, source);
        self.state.borrow_mut().zone = saved;
        result
    }

    /// Whether an object (not a template) of this type and name has been declared so far.
    pub fn declares(&self, type_name: &str, name: &str) -> bool {
        self.state.borrow().declared.iter().any(|d| {
            matches!(d.decl.kind, DeclKind::Object)
                && &*d.decl.type_name == type_name
                && d.name.to_display_string() == name
        })
    }

    /// Registers a file's source and parses it (spans in the shared number space).
    fn parse_file(&self, path: &str, source: &str) -> Result<Expr, Error> {
        let path: Arc<str> = path.into();
        let source: Arc<str> = source.into();
        let base = {
            let mut st = self.state.borrow_mut();
            let base = st.next_base;
            // One spare byte so that an end-of-file span stays inside this file.
            st.next_base = base.saturating_add(source.len() as u32 + 1);
            st.files
                .push(SourceFile::new(path.clone(), source.clone(), base));
            base
        };
        let mut expr = crate::parser::parse_config(&source, base, &path)?;
        crate::compile::compile(&mut expr);
        Ok(expr)
    }

    /// The files an `include` names, through the resolver, as (path, source) pairs.
    fn resolve(&self, include: &Include, span: Span) -> Result<Vec<(String, String)>, Error> {
        let Some(resolver) = &self.resolver else {
            return Err(Error::script("'include' is not available here.", span));
        };
        if self.state.borrow().current.len() > 32 {
            return Err(Error::script("Includes nest too deeply.", span));
        }
        let from = self
            .state
            .borrow()
            .current
            .last()
            .cloned()
            .unwrap_or_else(|| "".into());
        let files = resolver(&from, include).map_err(|m| Error::script(m, span))?;
        if include.system && !files.is_empty() {
            self.state.borrow_mut().library_included = true;
        }
        Ok(files)
    }

    /// An object body with its `include` statements replaced by the statements of the
    /// files they name (Icinga runs an included file in the body's scope).
    fn expand_includes(&self, body: &Expr) -> Result<Expr, Error> {
        let kind = match &body.kind {
            ExprKind::Include(inc) => {
                let files = self.resolve(inc, body.span)?;
                let mut items = Vec::with_capacity(files.len());
                for (path, source) in files {
                    let parsed = self.parse_file(&path, &source)?;
                    self.state.borrow_mut().current.push(path.into());
                    let expanded = self.expand_includes(&parsed);
                    self.state.borrow_mut().current.pop();
                    items.push(expanded?);
                }
                ExprKind::Block(items)
            }
            ExprKind::Block(items) => ExprKind::Block(
                items
                    .iter()
                    .map(|e| self.expand_includes(e))
                    .collect::<Result<_, _>>()?,
            ),
            ExprKind::If(cond, then, otherwise) => ExprKind::If(
                cond.clone(),
                Box::new(self.expand_includes(then)?),
                match otherwise {
                    Some(o) => Some(Box::new(self.expand_includes(o)?)),
                    None => None,
                },
            ),
            _ => return Ok(body.clone()),
        };
        Ok(Expr::new(kind, body.span))
    }

    /// [`Loader::load_defaults`] for a stand-in of the installation's template library:
    /// left out entirely when an `include <…>` finds the real one.
    ///
    /// # Errors
    /// As [`Loader::load`].
    pub fn load_fallback_library(&self, path: &str, source: &str) -> Result<(), ConfigError> {
        self.state.borrow_mut().fallback.insert(path.into());
        self.load_defaults(path, source)
    }

    fn load_inner(&self, path: &str, source: &str) -> Result<(), Error> {
        let parsed = self.parse_file(path, source);
        self.state.borrow_mut().current.push(path.into());
        let result = (|| {
            let expr = parsed?;
            // Constants as they stand when read: a `const` is seen by the statements after
            // it in the same file.
            let scope = LiveConstants(&self.state);
            let mut env = Env::new(&scope, false, self.limits).with_config(self);
            env.run(&expr).map(|_| ())
        })();
        self.state.borrow_mut().current.pop();
        result
    }

    fn error(&self, error: Error) -> ConfigError {
        map_error(&self.state.borrow().files, error)
    }

    /// Runs every object body and apply rule.
    ///
    /// Returns the items and the [`Library`] (templates, apply rules, constants) that
    /// later objects — created through the API — are built from.
    ///
    /// # Errors
    /// Every error found (Icinga reports them all before giving up), unless the object was
    /// declared `ignore_on_error`.
    pub fn commit(self) -> Result<(Vec<Item>, Library), Vec<ConfigError>> {
        let mut st = self.state.into_inner();
        if st.library_included && !st.fallback.is_empty() {
            drop_fallback(&mut st);
        }
        let mut applies: HashMap<Str, Vec<usize>> = HashMap::default();
        for (i, d) in st.declared.iter().enumerate() {
            if let DeclKind::Apply { target, .. } = &d.decl.kind {
                let to = target.clone().unwrap_or_else(|| "Host".into());
                applies.entry(to).or_default().push(i);
            }
        }
        let library = Library {
            files: st.files,
            defaults: st.defaults,
            constants: st.constants,
            declared: st.declared,
            templates: st.templates,
            applies,
            limits: self.limits,
            schema: self.schema,
        };
        let mut errors = Vec::new();
        let mut out = Collected::default();
        // Objects and templates are built on every core (a body only reads the library),
        // then added in declaration order, so errors and duplicates come out the same.
        let built: Vec<(usize, Result<Item, Error>)> = (0..library.declared.len())
            .into_par_iter()
            .filter_map(|i| {
                let d = &library.declared[i];
                let template = match d.decl.kind {
                    DeclKind::Object => false,
                    DeclKind::Template => true,
                    DeclKind::Apply { .. } => return None,
                };
                let short = d.name.to_display_string();
                let item = if template {
                    // Templates are abstract: their body runs only when an object imports it.
                    Ok(Item {
                        type_name: d.decl.type_name.clone(),
                        name: short.as_str().into(),
                        template,
                        attrs: initial(&short).into(),
                        location: library.declared_location(d),
                        ignore_on_error: d.decl.ignore_on_error,
                    })
                } else {
                    let mut init = initial(&short);
                    if let Some(zone) = &d.zone {
                        init.insert(PRESET.zone.clone(), Value::String(zone.clone()));
                    }
                    library.build(d, &short, d.locals.clone(), &Dict::new(), init)
                };
                Some((i, item))
            })
            .collect();
        out.items.reserve(built.len());
        for (i, item) in built {
            let d = &library.declared[i];
            match item {
                Ok(item) => out.push(&library, item, d.span, &mut errors),
                // `ignore_on_error`: the object is dropped silently, as in Icinga.
                Err(_) if d.decl.ignore_on_error => {}
                Err(e) => errors.push(library.error(e)),
            }
        }
        // Apply rules against the objects defined so far (hosts, then services).
        let mut matched: foldhash::HashSet<u32> = Default::default();
        for target_type in ["Host", "Service"] {
            if !library.applies.contains_key(target_type) {
                continue;
            }
            let targets: Vec<usize> = (0..out.items.len())
                .filter(|&i| !out.items[i].template && &*out.items[i].type_name == target_type)
                .collect();
            // Rules are evaluated for every target in parallel (they only read), and the
            // results added in target order, so errors and duplicates come out the same.
            let applied: Vec<_> = targets
                .par_iter()
                .map(|&i| {
                    let t = &out.items[i];
                    let host = t
                        .attrs
                        .get("host_name")
                        .and_then(|h| out.get("Host", &h.to_display_string()));
                    library.apply_to(t, host.map(|h| &h.attrs))
                })
                .collect();
            out.reserve(applied.iter().flat_map(|(items, _)| items).map(|(i, _)| i));
            for (items, errs) in applied {
                errors.extend(errs);
                for (item, span) in items {
                    matched.insert(span.start);
                    out.push(&library, item, span, &mut errors);
                }
            }
        }
        // Icinga's hint for a rule that created nothing (a typo in `assign where`, …).
        for d in &library.declared {
            if let DeclKind::Apply { .. } = d.decl.kind {
                if !matched.contains(&d.span.start) {
                    let at = library.location(d.span);
                    tracing::warn!(
                        "Apply rule '{}' ({}:{}) for type '{}' does not match anywhere!",
                        d.name.to_display_string(),
                        at.path,
                        at.first_line,
                        d.decl.type_name
                    );
                }
            }
        }
        library.assign_groups(&mut out.items, &mut errors);
        if errors.is_empty() {
            Ok((out.items, library))
        } else {
            Err(errors)
        }
    }
}

impl ConfigHost for Loader {
    fn declare(
        &self,
        decl: &Arc<Declaration>,
        name: Value,
        locals: Vec<(Str, Value)>,
        span: Span,
    ) -> Result<(), Error> {
        let expanded;
        let decl = if has_include(&decl.body) {
            expanded = Arc::new(Declaration {
                body: self.expand_includes(&decl.body)?,
                ..Declaration::clone(decl)
            });
            &expanded
        } else {
            decl
        };
        let mut st = self.state.borrow_mut();
        let index = st.declared.len();
        index_template(&mut st.templates, decl, &name, index);
        if !matches!(name, Value::String(_) | Value::Null) {
            return Err(Error::script(
                format!("Object name must be a string, got {}", name.type_name()),
                span,
            ));
        }
        let zone = st.zone.clone();
        st.declared.push(Declared {
            decl: decl.clone(),
            name,
            locals,
            span,
            zone,
            location: Default::default(),
        });
        Ok(())
    }

    fn constant(&self, name: &Str, value: Value, span: Span) -> Result<(), Error> {
        let mut st = self.state.borrow_mut();
        if st.constants.contains_key(name) && !st.predefined.remove(name) {
            return Err(Error::script(
                format!("Constant '{name}' is already defined."),
                span,
            ));
        }
        st.constants.insert(name.clone(), value);
        Ok(())
    }

    fn global(&self, name: &str) -> Option<Value> {
        let st = self.state.try_borrow().ok()?;
        if !st.globals.contains(name) {
            return None;
        }
        st.constants.get(name).cloned()
    }

    fn set_global(&self, name: &Str, value: Value, span: Span) -> Result<(), Error> {
        let mut st = self.state.borrow_mut();
        let settable = !st.constants.contains_key(name)
            || st.predefined.contains(name)
            || st.globals.contains(name);
        if !settable {
            return Err(Error::script(
                format!("Constant '{name}' is already defined."),
                span,
            ));
        }
        st.globals.insert(name.clone());
        st.constants.insert(name.clone(), value);
        Ok(())
    }

    fn include(&self, include: &Include, span: Span) -> Result<(), Error> {
        let files = self.resolve(include, span)?;
        for (path, source) in files {
            self.load_inner(&path, &source)?;
        }
        Ok(())
    }

    fn template(&self, type_name: &str, name: &str) -> Option<(Arc<Declaration>, Locals)> {
        let st = self.state.borrow();
        let i = *st.templates.get(&(Str::from(type_name), Str::from(name)))?;
        let d = &st.declared[i];
        Some((d.decl.clone(), d.locals.clone()))
    }
}

/// What configuration leaves for later: templates, apply rules and constants, from which
/// objects created at runtime (through the API) are built the way configured ones were.
pub struct Library {
    files: Vec<SourceFile>,
    defaults: std::collections::HashSet<Arc<str>>,
    constants: Dict,
    declared: Vec<Declared>,
    templates: HashMap<(Str, Str), usize>,
    /// The apply rules among `declared`, by the type they target.
    applies: HashMap<Str, Vec<usize>>,
    limits: Limits,
    schema: Option<Arc<dyn Schema>>,
}

impl std::fmt::Debug for Library {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Library")
            .field("declarations", &self.declared.len())
            .finish()
    }
}

impl ConfigHost for Library {
    fn template(&self, type_name: &str, name: &str) -> Option<(Arc<Declaration>, Locals)> {
        let i = *self
            .templates
            .get(&(Str::from(type_name), Str::from(name)))?;
        let d = &self.declared[i];
        Some((d.decl.clone(), d.locals.clone()))
    }

    fn field(&self, type_name: &str, field: &str) -> FieldLookup {
        self.schema
            .as_ref()
            .map_or(FieldLookup::UnknownType, |s| s.field(type_name, field))
    }

    fn unset(&self, type_name: &str, name: &str) -> Option<Value> {
        self.schema.as_ref()?.unset(type_name, name)
    }
}

/// The names of the attributes the loader sets before a body runs, interned once.
struct Preset {
    templates: Str,
    name: Str,
    zone: Str,
    host_name: Str,
    service_name: Str,
    parent_host_name: Str,
    child_host_name: Str,
    child_service_name: Str,
}

static PRESET: std::sync::LazyLock<Preset> = std::sync::LazyLock::new(|| {
    let n = crate::intern::intern_str;
    Preset {
        templates: n("templates"),
        name: n("name"),
        zone: n("zone"),
        host_name: n("host_name"),
        service_name: n("service_name"),
        parent_host_name: n("parent_host_name"),
        child_host_name: n("child_host_name"),
        child_service_name: n("child_service_name"),
    }
});

/// The attributes an object body starts from.
fn initial(short: &str) -> Dict {
    // One string for both: a million objects keep one copy of their name instead of two.
    let name = Value::from(short);
    Dict::from([
        (PRESET.templates.clone(), Value::from(vec![name.clone()])),
        (PRESET.name.clone(), name),
    ])
}

impl Library {
    /// The constants (`NodeName`, user `const`s).
    pub fn constants(&self) -> &Dict {
        &self.constants
    }

    fn error(&self, error: Error) -> ConfigError {
        map_error(&self.files, error)
    }

    /// Where a declaration is written, shared by everything built from it.
    fn declared_location(&self, d: &Declared) -> Arc<Location> {
        d.location
            .get_or_init(|| Arc::new(self.location(d.span)))
            .clone()
    }

    fn location(&self, span: Span) -> Location {
        match self.files.iter().rev().find(|f| f.base <= span.start) {
            Some(f) => f.location(span),
            None => Location {
                path: "<config>".into(),
                first_line: 1,
                first_column: 1,
                last_line: 1,
                last_column: 1,
            },
        }
    }

    /// Runs a declaration's body on `init` and composes the full name.
    fn build(
        &self,
        d: &Declared,
        short: &str,
        locals: Locals,
        vars: &Dict,
        init: Dict,
    ) -> Result<Item, Error> {
        let decl = &d.decl;
        let scope = ConfigScope {
            constants: &self.constants,
            vars,
        };
        let mut env = Env::new(&scope, false, self.limits).with_config(self);
        let attrs = env.run_object(&decl.type_name, init, locals, &decl.body)?;
        let full = full_name(&decl.type_name, &attrs, short);
        Ok(Item {
            type_name: decl.type_name.clone(),
            name: full.into(),
            template: false,
            attrs: attrs.into(),
            location: self.declared_location(d),
            ignore_on_error: decl.ignore_on_error,
        })
    }

    /// Builds an object the way Icinga builds one created through the API: imports the
    /// `templates`, then sets each attribute (`path` split at dots: `vars.os`).
    ///
    /// # Errors
    /// An unknown template or a failing template body, rendered with the template's file.
    pub fn instantiate(
        &self,
        type_name: &str,
        short_name: &str,
        templates: &[String],
        attrs: &[(Vec<Str>, Value)],
        location: Location,
    ) -> Result<Item, ConfigError> {
        let type_name: Str = type_name.into();
        let no_vars = Dict::new();
        let scope = ConfigScope {
            constants: &self.constants,
            vars: &no_vars,
        };
        let mut env = Env::new(&scope, false, self.limits).with_config(self);
        let attrs = env
            .run_api_object(&type_name, initial(short_name), templates, attrs)
            .map_err(|e| match e.span {
                Span { start: 0, end: 0 } => ConfigError {
                    error: e,
                    path: location.path.clone(),
                    source: "".into(),
                },
                _ => self.error(e),
            })?;
        let full = full_name(&type_name, &attrs, short_name);
        Ok(Item {
            type_name,
            name: full.into(),
            template: false,
            attrs: attrs.into(),
            location: Arc::new(location),
            ignore_on_error: false,
        })
    }

    /// Group memberships, in Icinga's order: the configured `groups`, then the group
    /// objects whose `assign where` rules match, by name, then the groups those groups
    /// belong to (their own `groups`, depth first).
    fn assign_groups(&self, items: &mut [Item], errors: &mut Vec<ConfigError>) {
        // (member type, group name, declaration) of every group object with rules, by name
        // (Icinga evaluates them from a map ordered by name).
        let mut groups: Vec<(&str, Value, &Declared)> = self
            .declared
            .iter()
            .filter_map(|d| {
                let member = group_member(&d.decl.type_name)?;
                (matches!(d.decl.kind, DeclKind::Object) && !d.decl.rules.is_empty())
                    .then(|| (member, Value::from(d.name.to_display_string()), d))
            })
            .collect();
        groups.sort_by_cached_key(|g| g.1.to_display_string());
        // The groups each group belongs to, by member type and group name.
        let parents: HashMap<(&'static str, String), Vec<String>> = items
            .iter()
            .filter(|i| !i.template)
            .filter_map(|i| {
                let member = group_member(&i.type_name)?;
                let Some(Value::Array(list)) = i.attrs.get("groups") else {
                    return None;
                };
                let list: Vec<String> = list.iter().map(Value::to_display_string).collect();
                (!list.is_empty()).then(|| ((member, i.name.to_string()), list))
            })
            .collect();
        if groups.is_empty() && parents.is_empty() {
            return;
        }
        // A service's rules see its host: the hosts' attributes, taken once.
        let hosts: HashMap<Str, Attrs> = if groups.iter().any(|g| g.0 == "Service") {
            items
                .iter()
                .filter(|i| !i.template && &*i.type_name == "Host")
                .map(|i| (i.name.clone(), i.attrs.clone()))
                .collect()
        } else {
            HashMap::default()
        };
        for item in items.iter_mut().filter(|i| !i.template) {
            let Some(member) = ["Host", "Service", "User"]
                .into_iter()
                .find(|t| *t == &*item.type_name)
            else {
                continue;
            };
            let mut joined: Vec<String> = match item.attrs.get("groups") {
                Some(Value::Array(list)) => list.iter().map(Value::to_display_string).collect(),
                _ => Vec::new(),
            };
            let configured = joined.len();
            if groups.iter().any(|g| g.0 == member) {
                // One view of the member for every group's rules.
                let host = item
                    .attrs
                    .get("host_name")
                    .and_then(|h| hosts.get(&*h.to_display_string()));
                if let Some(vars) = rule_vars(&item.type_name, &item.attrs, host) {
                    let scope = ConfigScope {
                        constants: &self.constants,
                        vars: &vars,
                    };
                    for (_, group, d) in groups.iter().filter(|g| g.0 == member) {
                        match self.rule_matches(&d.decl, &scope, &d.locals) {
                            Ok(true) => add_unique(&mut joined, group.to_display_string()),
                            Ok(false) => {}
                            Err(e) => errors.push(self.error(e)),
                        }
                    }
                }
            }
            for group in joined.clone() {
                join_parents(&parents, member, &group, &mut joined, 0);
            }
            if joined.len() > configured {
                let list: Vec<Value> = joined.into_iter().map(Value::from).collect();
                item.attrs.insert("groups".into(), Value::from(list));
            }
        }
    }

    /// Evaluates every apply rule that targets `target`'s type against it. `host` is the
    /// host of a service target. Returns the items with the span of their rule.
    pub fn apply_to(
        &self,
        target: &Item,
        host: Option<&Attrs>,
    ) -> (Vec<(Item, Span)>, Vec<ConfigError>) {
        let mut items = Vec::new();
        let mut errors = Vec::new();
        let target_type = &*target.type_name;
        let Some(vars) = rule_vars(target_type, &target.attrs, host) else {
            return (items, errors);
        };
        let scope = ConfigScope {
            constants: &self.constants,
            vars: &vars,
        };
        let rules = self.applies.get(target_type).map_or(&[][..], |v| &v[..]);
        for d in rules.iter().map(|&i| &self.declared[i]) {
            let DeclKind::Apply { target: to, each } = &d.decl.kind else {
                continue;
            };
            let rule_target = to.as_deref().unwrap_or("Host");
            if rule_target != target_type {
                continue;
            }
            if &*d.decl.type_name == "Service" && rule_target != "Host" {
                errors.push(self.error(Error::script(
                    "Apply rules of type 'Service' can only target 'Host'.",
                    d.span,
                )));
                continue;
            }
            // (name suffix, extra locals) per instance of the rule.
            let instances: Vec<(Option<Str>, Locals)> = match each {
                None => vec![(None, Vec::new())],
                Some(each) => {
                    let mut env = Env::new(&scope, false, self.limits);
                    match env.run_with_locals(d.locals.clone(), &each.iterable) {
                        Ok(Value::Array(a)) if each.value.is_none() => a
                            .iter()
                            .map(|v| {
                                (
                                    Some(Str::from(v.to_display_string())),
                                    vec![(each.key.clone(), v.clone())],
                                )
                            })
                            .collect(),
                        Ok(Value::Dict(dict)) if each.value.is_some() => dict
                            .iter()
                            .map(|(k, v)| {
                                let mut l = vec![(each.key.clone(), Value::String(k.clone()))];
                                if let Some(vn) = &each.value {
                                    l.push((vn.clone(), v.clone()));
                                }
                                (Some(k.clone()), l)
                            })
                            .collect(),
                        Ok(Value::Array(_)) => {
                            errors.push(self.error(Error::script(
                                "Dictionary iterator requires value to be a dictionary.",
                                each.iterable.span,
                            )));
                            Vec::new()
                        }
                        Ok(Value::Dict(_)) => {
                            errors.push(self.error(Error::script(
                                "Array iterator requires value to be an array.",
                                each.iterable.span,
                            )));
                            Vec::new()
                        }
                        // Icinga: anything else, or a failing expression, means the rule
                        // has no instances for this target.
                        Ok(_) | Err(_) => Vec::new(),
                    }
                }
            };
            for (suffix, extra) in instances {
                let mut frame = d.locals.clone();
                frame.extend(extra);
                match self.rule_matches(&d.decl, &scope, &frame) {
                    Ok(true) => {}
                    Ok(false) => continue,
                    Err(e) => {
                        errors.push(self.error(e));
                        continue;
                    }
                }
                let prefix = match &d.name {
                    Value::Null => String::new(),
                    n => n.to_display_string(),
                };
                let short = match &suffix {
                    Some(s) => {
                        let mut short = prefix;
                        short.push_str(s);
                        short
                    }
                    None => prefix,
                };
                let mut init = initial(&short);
                // Applied objects live in their target's zone, as in Icinga.
                if let Some(zone) = target.attrs.get("zone").filter(|z| !z.is_empty()) {
                    init.insert(PRESET.zone.clone(), zone.clone());
                }
                match target_type {
                    // Icinga's dependency apply: the child is the target, the parent host
                    // defaults to the child's host.
                    _ if &*d.decl.type_name == "Dependency" => {
                        let host = match target_type {
                            "Host" => Some(Value::String(target.name.clone())),
                            _ => target.attrs.get("host_name").cloned(),
                        };
                        if let Some(h) = host {
                            init.insert(PRESET.parent_host_name.clone(), h.clone());
                            init.insert(PRESET.child_host_name.clone(), h);
                        }
                        if target_type == "Service" {
                            if let Some(n) = target.attrs.get("name") {
                                init.insert(PRESET.child_service_name.clone(), n.clone());
                            }
                        }
                    }
                    "Host" => {
                        init.insert(PRESET.host_name.clone(), Value::String(target.name.clone()));
                    }
                    _ => {
                        if let Some(h) = target.attrs.get("host_name") {
                            init.insert(PRESET.host_name.clone(), h.clone());
                        }
                        if let Some(n) = target.attrs.get("name") {
                            init.insert(PRESET.service_name.clone(), n.clone());
                        }
                    }
                }
                match self.build(d, &short, frame, scope.vars, init) {
                    Ok(mut item) => {
                        item.ignore_on_error = false;
                        items.push((item, d.span));
                    }
                    Err(e) => errors.push(self.error(e)),
                }
            }
        }
        (items, errors)
    }

    /// `assign where` any true (or none given, for `apply … for`) and `ignore where` none
    /// true.
    fn rule_matches(
        &self,
        decl: &Declaration,
        scope: &ConfigScope<'_>,
        locals: &[(Str, Value)],
    ) -> Result<bool, Error> {
        // `apply … for` rules apply to every element unless told otherwise; plain rules
        // need an `assign where`.
        let for_rule = matches!(decl.kind, DeclKind::Apply { each: Some(_), .. });
        let mut assigned = for_rule && !decl.rules.iter().any(|(assign, _)| *assign);
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

/// Maps an error's span (in the shared number space) to its file.
fn map_error(files: &[SourceFile], error: Error) -> ConfigError {
    let file = files
        .iter()
        .rev()
        .find(|f| f.base <= error.span.start)
        .or(files.last());
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

/// Icinga's name composers: services are `host!name`, notifications and scheduled
/// downtimes `host[!service]!name`, dependencies `child_host[!child_service]!name`.
fn full_name(type_name: &str, attrs: &Dict, short: &str) -> String {
    let parts: &[&str] = match type_name {
        "Service" => &["host_name"],
        "Notification" | "ScheduledDowntime" | "Downtime" | "Comment" => {
            &["host_name", "service_name"]
        }
        "Dependency" => &["child_host_name", "child_service_name"],
        _ => &[],
    };
    let mut name = String::with_capacity(short.len() + 24);
    for part in parts {
        if let Some(v) = attrs.get(*part).filter(|v| !v.is_empty()) {
            name.push_str(&v.display_str());
            name.push('!');
        }
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
    /// Type → name → position.
    index: foldhash::HashMap<Str, foldhash::HashMap<Str, usize>>,
}

impl Collected {
    fn get(&self, type_name: &str, name: &str) -> Option<&Item> {
        let i = self.index.get(type_name)?.get(name)?;
        Some(&self.items[*i])
    }

    /// Room for `items` (and their index entries) without growing on the way.
    fn reserve<'a>(&mut self, items: impl Iterator<Item = &'a Item>) {
        let mut by_type: foldhash::HashMap<&Str, usize> = Default::default();
        for item in items {
            *by_type.entry(&item.type_name).or_default() += 1;
        }
        self.items.reserve(by_type.values().sum());
        for (type_name, n) in by_type {
            self.index.entry(type_name.clone()).or_default().reserve(n);
        }
    }

    /// Adds `item`, refusing a second object (or template) of the same type and name.
    fn push(&mut self, lib: &Library, item: Item, span: Span, errors: &mut Vec<ConfigError>) {
        use std::collections::hash_map::Entry;
        let position = self.items.len();
        let by_name = match self.index.get_mut(&*item.type_name) {
            Some(by_name) => by_name,
            None => self.index.entry(item.type_name.clone()).or_default(),
        };
        let other = match by_name.entry(item.name.clone()) {
            Entry::Vacant(slot) => {
                slot.insert(position);
                self.items.push(item);
                return;
            }
            Entry::Occupied(slot) => slot,
        };
        let prev = &self.items[*other.get()];
        if prev.template == item.template
            && lib.defaults.contains(&prev.location.path)
            && !lib.defaults.contains(&item.location.path)
        {
            self.items[*other.get()] = item;
            return;
        }
        if prev.template == item.template {
            let kind = if item.template { "Template" } else { "Object" };
            errors.push(lib.error(Error::script(
                format!(
                    "{kind} '{}' of type '{}' re-defined: {}:{}",
                    item.name, item.type_name, prev.location.path, prev.location.first_line
                ),
                span,
            )));
            return;
        }
        // A template and an object may share a name; the object wins the index.
        if !item.template {
            *other.into_mut() = position;
        }
        self.items.push(item);
    }
}
