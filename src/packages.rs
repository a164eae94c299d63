//! Config packages and stages on disk (Icinga's `/var/lib/icinga2/api/packages`):
//! `<data>/packages/<package>/<stage>/{conf.d,zones.d}/…` plus each stage's `status`
//! (validation exit code) and `startup.log`, and the package's `active-stage`. Every
//! write is synced before it counts.

use std::fs;
use std::io::Write;
use std::path::{Component, Path, PathBuf};

use anyhow::{bail, Context, Result};

/// The packages directory of a data directory.
pub fn root(data_dir: &Path) -> PathBuf {
    data_dir.join("packages")
}

/// A package or stage name: letters, digits, `-`, `_` (not starting with `_`, which
/// Icinga reserves for `_api`, `_etc`, `_cluster`).
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('_')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// A relative path inside a stage: no `..`, no absolute path, no empty parts.
pub fn valid_path(path: &str) -> bool {
    let p = Path::new(path);
    !path.is_empty()
        && p.components().all(|c| matches!(c, Component::Normal(_)))
        && !path.contains('\0')
}

/// Writes a file and syncs it and its directory.
fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("tmp~");
    let mut f = fs::File::create(&tmp).with_context(|| format!("writing {}", tmp.display()))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// A package as `/v1/config/packages` lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct Package {
    pub name: String,
    pub active_stage: Option<String>,
    pub stages: Vec<String>,
}

pub struct Packages {
    root: PathBuf,
}

impl Packages {
    pub fn new(root: PathBuf) -> Packages {
        Packages { root }
    }

    fn dir(&self, package: &str) -> PathBuf {
        self.root.join(package)
    }

    pub fn exists(&self, package: &str) -> bool {
        valid_name(package) && self.dir(package).is_dir()
    }

    /// Every package, by name.
    pub fn list(&self) -> Result<Vec<Package>> {
        let mut out = Vec::new();
        let Ok(entries) = fs::read_dir(&self.root) else {
            return Ok(out);
        };
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.path().is_dir())
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| valid_name(n))
            .collect();
        names.sort();
        for name in names {
            out.push(self.get(&name)?);
        }
        Ok(out)
    }

    pub fn get(&self, package: &str) -> Result<Package> {
        let dir = self.dir(package);
        let mut stages: Vec<String> = fs::read_dir(&dir)?
            .filter_map(|e| e.ok())
            .filter(|e| e.path().is_dir())
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        stages.sort();
        Ok(Package {
            name: package.to_string(),
            active_stage: self.active_stage(package),
            stages,
        })
    }

    pub fn active_stage(&self, package: &str) -> Option<String> {
        fs::read_to_string(self.dir(package).join("active-stage"))
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    }

    pub fn create(&self, package: &str) -> Result<()> {
        fs::create_dir_all(self.dir(package))?;
        fs::File::open(&self.root)?.sync_all()?;
        Ok(())
    }

    pub fn delete(&self, package: &str) -> Result<()> {
        fs::remove_dir_all(self.dir(package))?;
        fs::File::open(&self.root)?.sync_all()?;
        Ok(())
    }

    /// Writes a new stage with `files` (relative paths under `conf.d/` or `zones.d/`);
    /// returns its name.
    pub fn create_stage(&self, package: &str, files: &[(String, String)]) -> Result<String> {
        for (path, _) in files {
            if !valid_path(path) || !(path.starts_with("conf.d/") || path.starts_with("zones.d/")) {
                bail!("Invalid file path '{path}': it must lie below conf.d/ or zones.d/.");
            }
        }
        let stage = format!(
            "{}-{}",
            chrono::Utc::now().format("%Y%m%d%H%M%S"),
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        let dir = self.dir(package).join(&stage);
        for (path, text) in files {
            write_synced(&dir.join(path), text.as_bytes())?;
        }
        fs::create_dir_all(&dir)?;
        Ok(stage)
    }

    pub fn stage_dir(&self, package: &str, stage: &str) -> Option<PathBuf> {
        let dir = self.dir(package).join(stage);
        (valid_name(package) && valid_path(stage) && dir.is_dir()).then_some(dir)
    }

    /// A stage's files and directories, relative, sorted (`(is_dir, path)`).
    pub fn stage_entries(&self, package: &str, stage: &str) -> Result<Vec<(bool, String)>> {
        let dir = self.stage_dir(package, stage).context("no such stage")?;
        let mut out = Vec::new();
        walk(&dir, &dir, &mut out)?;
        out.sort_by(|a, b| a.1.cmp(&b.1));
        Ok(out)
    }

    pub fn delete_stage(&self, package: &str, stage: &str) -> Result<()> {
        let dir = self.stage_dir(package, stage).context("no such stage")?;
        fs::remove_dir_all(dir)?;
        Ok(())
    }

    /// A file of a stage, `None` when missing.
    pub fn read_file(&self, package: &str, stage: &str, path: &str) -> Option<Vec<u8>> {
        let dir = self.stage_dir(package, stage)?;
        if !valid_path(path) {
            return None;
        }
        fs::read(dir.join(path)).ok()
    }

    /// Records a stage's validation outcome: `status` (0 valid, 1 not) and `startup.log`.
    pub fn record_validation(&self, package: &str, stage: &str, ok: bool, log: &str) -> Result<()> {
        let dir = self.dir(package).join(stage);
        write_synced(&dir.join("startup.log"), log.as_bytes())?;
        write_synced(&dir.join("status"), if ok { b"0" } else { b"1" })
    }

    pub fn activate(&self, package: &str, stage: &str) -> Result<()> {
        write_synced(&self.dir(package).join("active-stage"), stage.as_bytes())
    }

    /// The active stages to load, as (package, stage directory).
    pub fn active(&self) -> Vec<(String, PathBuf)> {
        self.list()
            .unwrap_or_default()
            .into_iter()
            .filter_map(|p| {
                let stage = p.active_stage?;
                Some((p.name.clone(), self.dir(&p.name).join(stage)))
            })
            .filter(|(_, d)| d.is_dir())
            .collect()
    }
}

fn walk(base: &Path, dir: &Path, out: &mut Vec<(bool, String)>) -> Result<()> {
    for e in fs::read_dir(dir)? {
        let e = e?;
        let path = e.path();
        let rel = path
            .strip_prefix(base)
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        if path.is_dir() {
            out.push((true, rel));
            walk(base, &path, out)?;
        } else {
            out.push((false, rel));
        }
    }
    Ok(())
}

/// The `*.conf` files of a stage, sorted, as Icinga's `include_recursive` loads them.
pub fn conf_files(stage_dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut entries = Vec::new();
    let _ = walk(stage_dir, stage_dir, &mut entries);
    for (is_dir, rel) in entries {
        // Icinga includes `*.conf`, matched case-sensitively as file names are.
        #[expect(clippy::case_sensitive_file_extension_comparisons)]
        let conf = rel.ends_with(".conf");
        if !is_dir && conf {
            out.push(stage_dir.join(rel));
        }
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_paths() {
        assert!(valid_name("my-pkg_1"));
        assert!(!valid_name("_api") && !valid_name("a/b") && !valid_name("..") && !valid_name(""));
        assert!(valid_path("conf.d/hosts.conf"));
        assert!(
            !valid_path("../etc/passwd")
                && !valid_path("/etc/passwd")
                && !valid_path("conf.d/../../x")
        );
    }

    #[test]
    fn stages_round_trip() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let p = Packages::new(dir.path().join("packages"));
        p.create("pkg")?;
        let files = vec![(
            "conf.d/a.conf".to_string(),
            "object Host \"x\" {}".to_string(),
        )];
        let stage = p.create_stage("pkg", &files)?;
        assert!(p
            .create_stage("pkg", &[("../x.conf".into(), String::new())])
            .is_err());
        assert_eq!(
            p.read_file("pkg", &stage, "conf.d/a.conf").as_deref(),
            Some(&b"object Host \"x\" {}"[..])
        );
        assert_eq!(p.read_file("pkg", &stage, "../active-stage"), None);
        p.record_validation("pkg", &stage, true, "ok")?;
        p.activate("pkg", &stage)?;
        let listed = p.list()?;
        assert_eq!(listed[0].active_stage.as_deref(), Some(stage.as_str()));
        assert_eq!(p.active().len(), 1);
        assert_eq!(conf_files(&p.active()[0].1).len(), 1);
        let entries = p.stage_entries("pkg", &stage)?;
        assert!(entries.contains(&(false, "status".to_string())));
        Ok(())
    }
}

/// The stage name of the `_api` package (API-created objects, as Icinga keeps them).
pub const API_STAGE: &str = "api";

/// An API-created object as Icinga writes it into the `_api` package
/// (`conf.d/<plural>/<name>.conf`): its templates, then its attributes.
pub fn render_object(type_name: &str, name: &str, record: &serde_json::Value) -> String {
    let mut out = format!(
        "object {type_name} {} ignore_on_error {{\n",
        literal(&name.into())
    );
    if let Some(templates) = record["templates"].as_array() {
        for t in templates.iter().filter_map(|t| t.as_str()) {
            out.push_str(&format!("\timport {}\n", literal(&t.into())));
        }
        if !templates.is_empty() {
            out.push('\n');
        }
    }
    if let Some(attrs) = record["attrs"].as_object() {
        for (k, v) in attrs {
            out.push_str(&format!("\t{k} = {}\n", literal(v)));
        }
    }
    out.push_str("}\n");
    out
}

/// A JSON value as an Icinga DSL literal.
fn literal(v: &serde_json::Value) -> String {
    filters::Value::from_json(v).to_config_literal()
}

#[cfg(test)]
mod render_tests {
    /// The rendered object is configuration the loader reads back to the same values.
    #[test]
    fn api_objects_render_as_config() -> Result<(), String> {
        let record = serde_json::json!({
            "templates": ["generic-host"],
            "attrs": {"address": "10.0.0.1", "vars.notes": "say \"hi\"\n$x", "vars.ports": [80, 443], "max_check_attempts": 5}
        });
        let text = super::render_object("Host", "web \"1\"", &record);
        assert!(
            text.starts_with(
                "object Host \"web \\\"1\\\"\" ignore_on_error {\n\timport \"generic-host\"\n"
            ),
            "{text}"
        );
        let src = format!("template Host \"generic-host\" {{ check_command = \"dummy\" }}\nobject CheckCommand \"dummy\" {{ command = [\"true\"] }}\n{text}");
        let loader = filters::config::Loader::new();
        loader.load("x.conf", &src).map_err(|e| e.render())?;
        let (items, _) = loader.commit().map_err(|e| format!("{}", e.len()))?;
        let host = items
            .iter()
            .find(|i| &*i.type_name == "Host" && !i.template)
            .ok_or("no host")?;
        assert_eq!(&*host.name, "web \"1\"");
        let vars = host.attrs.get("vars").ok_or("no vars")?.to_serde();
        assert_eq!(vars["notes"], "say \"hi\"\n$x");
        assert_eq!(vars["ports"], serde_json::json!([80, 443]));
        assert_eq!(
            host.attrs.get("address").ok_or("no address")?.to_serde(),
            "10.0.0.1"
        );
        Ok(())
    }
}
