//! Configuration trees under `tests/configs/`, each loaded by `auspex check-config` and —
//! where Icinga 2 is installed — by `icinga2 daemon -C`: both must report the objects per
//! type written in the tree's `expected` file, or both must fail with the error written
//! there. The stock `/etc/icinga2` of an Icinga installation is compared the same way.
//!
//! `.ci/run` installs Icinga 2 and sets `AUSPEX_REQUIRE_ICINGA2`, so there the comparison
//! cannot be skipped.

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// What loading a tree gives: the `Instantiated N Types.` lines, or the failure output.
#[derive(Debug)]
enum Outcome {
    Counts(BTreeSet<String>),
    Failed(String),
}

impl Outcome {
    fn of(out: &Output) -> Outcome {
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if !out.status.success() {
            return Outcome::Failed(text);
        }
        Outcome::Counts(
            text.lines()
                .filter_map(|l| l.find("Instantiated ").map(|i| l[i..].trim().to_string()))
                .collect(),
        )
    }
}

/// A tree's `expected` file: `Instantiated …` lines, or one `error: <message>` line.
enum Expected {
    Counts(BTreeSet<String>),
    Error(String),
}

fn expected(tree: &Path) -> Result<Expected, String> {
    let path = tree.join("expected");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    if let Some(message) = lines.iter().find_map(|l| l.strip_prefix("error: ")) {
        return Ok(Expected::Error(message.to_string()));
    }
    Ok(Expected::Counts(
        lines.iter().map(|l| l.to_string()).collect(),
    ))
}

fn check(who: &str, tree: &Path, outcome: &Outcome, want: &Expected) -> Result<(), String> {
    let fail = |detail: String| Err(format!("{who} on {}: {detail}", tree.display()));
    match (outcome, want) {
        (Outcome::Counts(got), Expected::Counts(want)) if got == want => Ok(()),
        (Outcome::Counts(got), Expected::Counts(want)) => fail(format!(
            "objects differ\n  only reported: {:?}\n  only expected: {:?}",
            got.difference(want).collect::<Vec<_>>(),
            want.difference(got).collect::<Vec<_>>()
        )),
        (Outcome::Failed(text), Expected::Error(message)) if text.contains(message.as_str()) => {
            Ok(())
        }
        (Outcome::Failed(text), _) => fail(format!("failed:\n{text}")),
        (Outcome::Counts(got), Expected::Error(message)) => fail(format!(
            "loaded ({got:?}) where it should fail with '{message}'"
        )),
    }
}

fn auspex(config_dir: &Path) -> Result<Outcome, String> {
    Command::new(env!("CARGO_BIN_EXE_auspex"))
        .args(["check-config", "--config"])
        .arg(config_dir)
        .env_remove("AUSPEX_INCLUDE_DIR")
        .output()
        .map(|o| Outcome::of(&o))
        .map_err(|e| format!("auspex: {e}"))
}

/// `icinga2 daemon -C` on a tree's `icinga2.conf`, its zone directories read from the
/// tree (`None` when Icinga 2 is not installed).
///
/// Icinga also loads what its data directory holds — the config packages objects created
/// through its API live in, and the modified attributes — so a site that ran the daemon
/// would count those too. Its data directory is an empty one here, holding only the
/// installation's certificates (which an enabled `api` feature reads).
fn icinga2(entry: &Path, zones_dir: &Path) -> Option<Outcome> {
    let data = tempfile::tempdir().ok()?;
    // `daemon -C` drops to Icinga's own user, which creates the package directory.
    std::fs::set_permissions(data.path(), std::fs::Permissions::from_mode(0o777)).ok()?;
    let certs = Path::new("/var/lib/icinga2/certs");
    if certs.is_dir() {
        std::os::unix::fs::symlink(certs, data.path().join("certs")).ok()?;
    }
    let out = icinga2_command()
        .args(["daemon", "-C", "-c"])
        .arg(entry)
        .arg(format!("-DZonesDir={}", zones_dir.display()))
        .arg(format!("-DDataDir={}", data.path().display()))
        .output()
        .ok()?;
    Some(Outcome::of(&out))
}

/// `icinga2`, through `sudo -n` unless running as root: `daemon -C` runs only as root
/// (or as its own user).
pub fn icinga2_command() -> Command {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        Command::new("icinga2")
    } else {
        let mut sudo = Command::new("sudo");
        sudo.args(["-n", "icinga2"]);
        sudo
    }
}

pub fn icinga2_installed() -> bool {
    let installed = Command::new("icinga2")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
        && Path::new("/usr/share/icinga2/include/itl").is_file();
    assert!(
        installed || std::env::var_os("AUSPEX_REQUIRE_ICINGA2").is_none(),
        "AUSPEX_REQUIRE_ICINGA2 is set but icinga2 and its template library are not installed"
    );
    installed
}

fn trees() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/configs");
    let mut trees: Vec<PathBuf> = std::fs::read_dir(&root)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    trees.retain(|t| t.join("icinga2.conf").is_file());
    trees.sort();
    trees
}

#[test]
fn trees_load_as_icinga_loads_them() -> Result<(), String> {
    let trees = trees();
    assert!(
        trees.len() >= 5,
        "the configuration trees are missing: {trees:?}"
    );
    if !icinga2_installed() {
        // The trees include Icinga's template library: without it they cannot load.
        eprintln!("skipped: Icinga 2 and its template library are not installed");
        return Ok(());
    }
    let mut failures = Vec::new();
    for tree in &trees {
        let want = expected(tree)?;
        if let Err(e) = check("auspex", tree, &auspex(tree)?, &want) {
            failures.push(e);
        }
        let theirs = icinga2(&tree.join("icinga2.conf"), &tree.join("zones.d"))
            .ok_or("icinga2 did not run")?;
        if let Err(e) = check("icinga2", tree, &theirs, &want) {
            failures.push(e);
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("\n\n"))
    }
}

#[test]
fn stock_configuration_loads_as_icinga_loads_it() -> Result<(), String> {
    let stock = Path::new("/etc/icinga2");
    if !icinga2_installed() || !stock.join("icinga2.conf").is_file() {
        eprintln!("skipped: no Icinga 2 installation with its stock configuration");
        return Ok(());
    }
    let theirs = icinga2(&stock.join("icinga2.conf"), &stock.join("zones.d"))
        .ok_or("icinga2 did not run")?;
    let Outcome::Counts(want) = theirs else {
        return Err(format!("icinga2 rejects its own configuration: {theirs:?}"));
    };
    assert!(want.iter().any(|l| l.contains("CheckCommands")), "{want:?}");
    check("auspex", stock, &auspex(stock)?, &Expected::Counts(want))
}
