//! Configuration: the built-in template library, then the user's `conf.d`-style files,
//! loaded through the DSL's configuration loader into configuration items.
//!
//! A configuration directory is read the way Icinga reads `/etc/icinga2`: when it holds
//! `icinga2.conf` (or `auspex.conf`), that file is the entry point and its `include`s pull
//! in the rest; otherwise every `*.conf` below it is loaded in path order.

pub mod defaults;

use std::fs;
use std::path::{Path, PathBuf};

use filters::ast::Include;
use filters::config::{Item, Library, Loader};
use filters::Value;

/// The template library every configuration starts from.
const ITL: &str = include_str!("itl.conf");

/// Where Debian's monitoring-plugins live.
pub const PLUGIN_DIR: &str = "/usr/lib/nagios/plugins";

/// Configuration errors, each rendered with file, line and a caret.
#[derive(Debug)]
pub struct ConfigErrors(pub Vec<String>);

impl std::fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "critical/config: {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// Loads the built-in library and the files of `dir`; returns the items and the library
/// (templates, apply rules, constants) later objects are built from.
///
/// # Errors
/// Every syntax, evaluation and definition error found, rendered.
pub fn load(dir: &Path, node_name: &str) -> Result<(Vec<Item>, Library), ConfigErrors> {
    load_with_packages(dir, node_name, &[])
}

/// [`load`], then the `*.conf` files of each active package stage (package, stage
/// directory), as Icinga includes `packages/*/include.conf`.
///
/// # Errors
/// As [`load`].
pub fn load_with_packages(
    dir: &Path,
    node_name: &str,
    packages: &[(String, PathBuf)],
) -> Result<(Vec<Item>, Library), ConfigErrors> {
    let mut loader = Loader::new();
    define_constants(&loader, node_name);
    loader.set_resolver(resolve_include);
    loader
        .load("<itl>/auspex.conf", ITL)
        .map_err(|e| ConfigErrors(vec![e.render()]))?;
    for file in entry_files(dir).map_err(|e| ConfigErrors(vec![e]))? {
        let source = fs::read_to_string(&file)
            .map_err(|e| ConfigErrors(vec![format!("{}: {e}", file.display())]))?;
        loader
            .load(&file.to_string_lossy(), &source)
            .map_err(|e| ConfigErrors(vec![e.render()]))?;
    }
    for (_, stage) in packages {
        for file in crate::packages::conf_files(stage) {
            let source = fs::read_to_string(&file)
                .map_err(|e| ConfigErrors(vec![format!("{}: {e}", file.display())]))?;
            loader
                .load(&file.to_string_lossy(), &source)
                .map_err(|e| ConfigErrors(vec![e.render()]))?;
        }
    }
    loader
        .commit()
        .map_err(|errs| ConfigErrors(errs.iter().map(|e| e.render()).collect()))
}

/// The constants every configuration sees (`NodeName`, `PluginDir`, the built-in check
/// names).
pub fn define_constants(loader: &Loader, node_name: &str) {
    let s = |v: &str| Value::from(v);
    loader.define("NodeName", s(node_name));
    loader.define("ZoneName", s(node_name));
    loader.define("PluginDir", s(PLUGIN_DIR));
    loader.define("PluginContribDir", s(PLUGIN_DIR));
    loader.define("ManubulonPluginDir", s(PLUGIN_DIR));
    loader.define("ConfigDir", s("/etc/icinga2"));
    // The built-in check implementations, referenced by `execute = …`.
    for f in [
        "DummyCheck",
        "RandomCheck",
        "IcingaCheck",
        "ClusterCheck",
        "ClusterZoneCheck",
        "NullCheck",
        "ExceptionCheck",
        "IfwApiCheck",
        "PluginCheck",
        "PluginEvent",
        "PluginNotification",
    ] {
        loader.define(f, s(f));
    }
}

/// The files loaded first: the entry file, or every `*.conf` below `dir`.
fn entry_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    for entry in ["auspex.conf", "icinga2.conf"] {
        let p = dir.join(entry);
        if p.is_file() {
            return Ok(vec![p]);
        }
    }
    let mut files = Vec::new();
    collect_conf(dir, &mut files)?;
    files.sort();
    Ok(files)
}

fn collect_conf(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), String> {
    let entries = fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.is_dir() {
            collect_conf(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "conf") {
            out.push(path);
        }
    }
    Ok(())
}

/// `include "file"` (relative to the including file, `*` allowed in the file name),
/// `include_recursive "dir"`, and `include <itl>`-style library includes, which are built
/// in and load nothing.
fn resolve_include(from: &str, inc: &Include) -> Result<Vec<(String, String)>, String> {
    if inc.system {
        return Ok(Vec::new());
    }
    let base = Path::new(from).parent().unwrap_or(Path::new("."));
    let target = base.join(&*inc.path);
    let mut files = Vec::new();
    if inc.recursive {
        collect_conf(&target, &mut files)?;
        files.sort();
    } else if target.to_string_lossy().contains('*') {
        let dir = target.parent().unwrap_or(Path::new("."));
        let pattern = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let glob = filters::pattern::Glob::new(&pattern);
        let entries = fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if entry.path().is_file() && glob.is_match(&name) {
                files.push(entry.path());
            }
        }
        files.sort();
    } else {
        files.push(target);
    }
    files
        .into_iter()
        .map(|p| {
            fs::read_to_string(&p)
                .map(|s| (p.to_string_lossy().into_owned(), s))
                .map_err(|e| format!("Include file '{}' does not exist: {e}", p.display()))
        })
        .collect()
}
