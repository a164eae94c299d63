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
const METHODS: &str = include_str!("methods.conf");

/// Where Debian's monitoring-plugins live.
pub const PLUGIN_DIR: &str = "/usr/lib/nagios/plugins";

/// Where Icinga 2 installs its template library (`include <itl>`, `<plugins>`, …): used
/// when it exists, else the built-in subset stands in. `AUSPEX_INCLUDE_DIR` overrides it.
pub const INCLUDE_DIR: &str = "/usr/share/icinga2/include";

/// The template library directory in use, if there is one.
pub fn include_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("AUSPEX_INCLUDE_DIR")
        .map_or_else(|| PathBuf::from(INCLUDE_DIR), PathBuf::from);
    dir.is_dir().then_some(dir)
}

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

/// What a configuration is loaded for: where it is, where the node keeps its state
/// (Icinga's path constants point there), and the node's name.
#[derive(Clone, Debug)]
pub struct Site {
    pub config_dir: PathBuf,
    pub data_dir: PathBuf,
    pub node_name: String,
    /// The port the API listens on, once bound: the node's own `Endpoint` shows it when
    /// its configuration sets no `port`.
    pub api_port: Option<u16>,
}

/// Loads the built-in library and the files of the site's configuration directory;
/// returns the items and the library (templates, apply rules, constants) later objects
/// are built from.
///
/// # Errors
/// Every syntax, evaluation and definition error found, rendered.
pub fn load(site: &Site) -> Result<(Vec<Item>, Library), ConfigErrors> {
    load_with_packages(site, &[])
}

/// [`load`], then the `*.conf` files of each active package stage (package, stage
/// directory), as Icinga includes `packages/*/include.conf`.
///
/// # Errors
/// As [`load`].
pub fn load_with_packages(
    site: &Site,
    packages: &[(String, PathBuf)],
) -> Result<(Vec<Item>, Library), ConfigErrors> {
    load_from(site, packages, include_dir())
}

/// [`load_with_packages`] with library includes read from `include_dir` (none: the
/// built-in library only).
///
/// # Errors
/// As [`load`].
pub fn load_from(
    site: &Site,
    packages: &[(String, PathBuf)],
    include_dir: Option<PathBuf>,
) -> Result<(Vec<Item>, Library), ConfigErrors> {
    let dir = site.config_dir.as_path();
    let mut loader = Loader::new();
    loader.set_schema(std::sync::Arc::new(crate::objects::types::ConfigSchema));
    define_constants(&loader, &site.node_name);
    define_paths(&loader, site, include_dir.as_deref());
    loader.set_resolver(move |from: &str, inc: &Include| {
        resolve_include(include_dir.as_deref(), from, inc)
    });
    loader
        .load_defaults("<methods>/auspex.conf", METHODS)
        .map_err(|e| ConfigErrors(vec![e.render()]))?;
    loader
        .load_fallback_library("<itl>/auspex.conf", ITL)
        .map_err(|e| ConfigErrors(vec![e.render()]))?;
    for file in entry_files(dir).map_err(|e| ConfigErrors(vec![e]))? {
        load_file(&loader, &file, None)?;
    }
    load_zone_dirs(&loader, &dir.join("zones.d"))?;
    for (_, stage) in packages {
        for file in crate::packages::conf_files(stage) {
            // `zones.d/<zone>/…`: the first directory below `zones.d` names the zone.
            let zone = file
                .strip_prefix(stage.join("zones.d"))
                .ok()
                .and_then(|rel| rel.parent())
                .and_then(|dir| dir.components().next())
                .map(|c| c.as_os_str().to_string_lossy().into_owned());
            load_file(&loader, &file, zone.as_deref())?;
        }
    }
    loader
        .commit()
        .map_err(|errs| ConfigErrors(errs.iter().map(|e| e.render()).collect()))
}

fn load_file(loader: &Loader, file: &Path, zone: Option<&str>) -> Result<(), ConfigErrors> {
    let source = fs::read_to_string(file)
        .map_err(|e| ConfigErrors(vec![format!("{}: {e}", file.display())]))?;
    let path = file.to_string_lossy();
    match zone {
        Some(zone) => loader.load_in_zone(&path, &source, zone),
        None => loader.load(&path, &source),
    }
    .map_err(|e| ConfigErrors(vec![e.render()]))
}

/// Icinga's zone directories: `zones.d/<zone>/` is loaded (every `*.conf` below it, its
/// objects in that zone) once a `Zone` of that name is declared — by the main
/// configuration or by a zone directory loaded before. Directories of zones never
/// declared are skipped with a warning.
fn load_zone_dirs(loader: &Loader, zones_dir: &Path) -> Result<(), ConfigErrors> {
    let Ok(entries) = fs::read_dir(zones_dir) else {
        return Ok(());
    };
    let mut pending: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    pending.sort();
    let zone_of = |p: &Path| p.file_name().map(|n| n.to_string_lossy().into_owned());
    while let Some(i) = pending
        .iter()
        .position(|p| zone_of(p).is_some_and(|z| loader.declares("Zone", &z)))
    {
        let dir = pending.remove(i);
        let zone = zone_of(&dir).unwrap_or_default();
        let mut files = Vec::new();
        collect_conf(&dir, &mut files).map_err(|e| ConfigErrors(vec![e]))?;
        files.sort();
        for file in files {
            load_file(loader, &file, Some(&zone))?;
        }
    }
    for dir in pending {
        tracing::warn!(
            "Ignoring directory '{}' for unknown zone '{}'.",
            dir.display(),
            zone_of(&dir).unwrap_or_default()
        );
    }
    Ok(())
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
    // The built-in check implementations, referenced by `execute = …`.
    for f in [
        "DummyCheck",
        "RandomCheck",
        "IcingaCheck",
        "IcingadbCheck",
        "IdoCheck",
        "ClusterCheck",
        "ClusterZoneCheck",
        "NullCheck",
        "ExceptionCheck",
        "IfwApiCheck",
        "PluginCheck",
        "PluginEvent",
        "PluginNotification",
        "SleepCheck",
        "ClrCheck",
        "LegacyTimePeriod",
        "EmptyTimePeriod",
        "EvenMinutesTimePeriod",
    ] {
        loader.define(f, s(f));
    }
}

/// Icinga's path constants that configurations use: where the configuration is; where
/// this node keeps state, logs, caches and spool files (below the data directory, where
/// Icinga uses `/var/lib/icinga2`, `/var/log/icinga2`, …); and where Icinga's installed
/// layout puts programs and the template library (`PrefixDir + "/bin/icingacli"`).
fn define_paths(loader: &Loader, site: &Site, include_dir: Option<&Path>) {
    let p = |v: &Path| Value::from(&*v.to_string_lossy());
    let (config, data) = (&site.config_dir, &site.data_dir);
    loader.define("ConfigDir", p(config));
    loader.define("ZonesDir", p(&config.join("zones.d")));
    loader.define("DataDir", p(data));
    loader.define("LocalStateDir", p(data));
    loader.define("LogDir", p(&data.join("log")));
    loader.define("CacheDir", p(&data.join("cache")));
    loader.define("SpoolDir", p(&data.join("spool")));
    loader.define("RunDir", p(&data.join("run")));
    loader.define("InitRunDir", p(&data.join("run")));
    loader.define("StatePath", p(&data.join("icinga2.state")));
    loader.define("PidPath", p(&data.join("run/icinga2.pid")));
    let s = |v: &str| Value::from(v);
    loader.define("PrefixDir", s("/usr"));
    loader.define("SysconfDir", s("/etc"));
    loader.define("PkgDataDir", s("/usr/share/icinga2"));
    let include = include_dir.map_or_else(|| INCLUDE_DIR.into(), |d| d.to_string_lossy());
    loader.define("IncludeConfDir", s(&include));
}

/// The files loaded first: the entry file, or every `*.conf` below `dir`.
fn entry_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    for entry in ["auspex.conf", "icinga2.conf"] {
        let p = dir.join(entry);
        if p.is_file() {
            return Ok(vec![p]);
        }
    }
    // Without an entry file, every `*.conf` is loaded — but for the zone directories,
    // which load by their own rule.
    let mut files = Vec::new();
    collect_conf(dir, &mut files)?;
    let zones = dir.join("zones.d");
    files.retain(|f| !f.starts_with(&zones));
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
/// `include_recursive "dir"`, and library includes (`include <itl>`): the file of that
/// name in Icinga's template library directory when it is installed; without it the
/// built-in library (always loaded, its definitions giving way to real ones) stands in.
fn resolve_include(
    include_dir: Option<&Path>,
    from: &str,
    inc: &Include,
) -> Result<Vec<(String, String)>, String> {
    if inc.system {
        let Some(file) = include_dir
            .map(|d| d.join(&*inc.path))
            .filter(|f| f.is_file())
        else {
            return Ok(Vec::new());
        };
        return fs::read_to_string(&file)
            .map(|s| vec![(file.to_string_lossy().into_owned(), s)])
            .map_err(|e| format!("{}: {e}", file.display()));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(items: &[Item], type_name: &str, name: &str, key: &str) -> Option<String> {
        let item = items
            .iter()
            .find(|i| &*i.type_name == type_name && &*i.name == name && !i.template)?;
        let mut v = Value::from(item.attrs.to_dict());
        for part in key.split('.') {
            v = match v {
                Value::Dict(d) => d.get(part).cloned().unwrap_or(Value::Null),
                _ => Value::Null,
            };
        }
        Some(v.to_display_string())
    }

    /// Library includes read the installed template library (its definitions replace
    /// the built-in ones, its includes are relative to it); a library name it does not
    /// have, or no library directory at all, falls back to the built-in library.
    #[test]
    fn library_includes_read_the_installed_library() -> std::io::Result<()> {
        let lib = tempfile::tempdir()?;
        fs::write(lib.path().join("itl"), "include \"command-test.conf\"\n")?;
        fs::write(
            lib.path().join("command-test.conf"),
            "globals.LibPath = PrefixDir + \"/lib\"\n\
             object CheckCommand \"dummy\" {\n  import \"dummy-check-command\"\n  vars.dummy_text = \"from the library\"\n}\n",
        )?;
        let conf = tempfile::tempdir()?;
        fs::write(
            conf.path().join("icinga2.conf"),
            "const NodeName = \"n1\"\n\
             include <itl>\n\
             include <plugins-contrib>\n\
             object IcingaApplication \"app\" { }\n\
             object Host \"h\" { check_command = \"dummy\"; vars.lib = LibPath; vars.node = NodeName; vars.conf = ConfigDir; vars.log = LogDir }\n",
        )?;
        let site = Site {
            config_dir: conf.path().into(),
            data_dir: "/srv/auspex".into(),
            node_name: "host".into(),
            api_port: None,
        };
        let (items, _) =
            load_from(&site, &[], Some(lib.path().into())).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            attr(&items, "CheckCommand", "dummy", "vars.dummy_text").as_deref(),
            Some("from the library")
        );
        assert_eq!(
            attr(&items, "CheckCommand", "dummy", "execute").as_deref(),
            Some("DummyCheck")
        );
        let conf_dir = conf.path().to_string_lossy();
        for (var, want) in [
            ("vars.lib", "/usr/lib"),
            ("vars.node", "n1"),
            ("vars.log", "/srv/auspex/log"),
            ("vars.conf", &*conf_dir),
        ] {
            assert_eq!(
                attr(&items, "Host", "h", var).as_deref(),
                Some(want),
                "{var}"
            );
        }
        // The installation's library replaces the built-in one: built-in commands it
        // does not define are left out, as Icinga would not have them.
        assert!(attr(&items, "CheckCommand", "ping4", "command").is_none());
        let apps = items
            .iter()
            .filter(|i| &*i.type_name == "IcingaApplication")
            .count();
        assert_eq!(apps, 1);

        // Without the directory: the built-in library alone.
        fs::write(
            conf.path().join("icinga2.conf"),
            "include <itl>\ninclude <plugins>\nobject Host \"h\" { check_command = \"dummy\" }\n",
        )?;
        let (items, _) = load_from(&site, &[], None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            attr(&items, "CheckCommand", "dummy", "vars.dummy_text").as_deref(),
            Some("Check was successful.")
        );
        Ok(())
    }

    /// `zones.d/<zone>/` loads once its zone is declared (also by a zone directory loaded
    /// before), its objects in that zone and applied objects in their host's; other
    /// directories are skipped. Package stages take the zone from `zones.d/<zone>/` too.
    #[test]
    fn zone_directories_load_in_their_zone() -> std::io::Result<()> {
        let conf = tempfile::tempdir()?;
        let zones = conf.path().join("zones.d");
        for dir in ["master", "satellite", "unknown"] {
            fs::create_dir_all(zones.join(dir))?;
        }
        fs::write(
            conf.path().join("icinga2.conf"),
            "object Zone \"master\" { }\n\
             apply Service \"ping\" { check_command = \"dummy\"; assign where true }\n",
        )?;
        fs::write(
            zones.join("master/hosts.conf"),
            "object Host \"m1\" { check_command = \"dummy\" }\n\
             object Zone \"satellite\" { parent = \"master\" }\n",
        )?;
        fs::write(
            zones.join("satellite/hosts.conf"),
            "object Host \"s1\" { check_command = \"dummy\" }\n\
             object Host \"s2\" { check_command = \"dummy\"; zone = \"master\" }\n",
        )?;
        fs::write(
            zones.join("unknown/hosts.conf"),
            "object Host \"u1\" { check_command = \"dummy\" }\n",
        )?;
        let stage = tempfile::tempdir()?;
        fs::create_dir_all(stage.path().join("zones.d/satellite"))?;
        fs::write(
            stage.path().join("zones.d/satellite/director.conf"),
            "object Host \"d1\" { check_command = \"dummy\" }\n",
        )?;
        let site = Site {
            config_dir: conf.path().into(),
            data_dir: "/srv/auspex".into(),
            node_name: "node".into(),
            api_port: None,
        };
        let packages = [("director".to_string(), stage.path().to_path_buf())];
        let (items, _) = load_from(&site, &packages, None).map_err(std::io::Error::other)?;
        let zone = |t: &str, n: &str| attr(&items, t, n, "zone");
        assert_eq!(zone("Host", "m1").as_deref(), Some("master"));
        assert_eq!(zone("Host", "s1").as_deref(), Some("satellite"));
        assert_eq!(zone("Host", "s2").as_deref(), Some("master"));
        assert_eq!(zone("Host", "d1").as_deref(), Some("satellite"));
        assert_eq!(zone("Service", "s1!ping").as_deref(), Some("satellite"));
        assert_eq!(zone("Zone", "master").as_deref(), Some(""));
        assert_eq!(zone("Host", "u1"), None);
        Ok(())
    }
}
