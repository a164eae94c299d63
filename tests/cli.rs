//! The `auspex` binary: check-config, pki, console.

use std::process::Command;

fn auspex() -> Command {
    Command::new(env!("CARGO_BIN_EXE_auspex"))
}

/// `auspex check-config` on `conf`.
fn check_config(conf: &std::path::Path) -> std::process::Output {
    auspex()
        .args(["check-config", "--config"])
        .arg(conf)
        .output()
        .unwrap()
}

/// `check-config` prints each error with file, line and a caret, and exits 1; a valid
/// configuration exits 0 with counts.
#[test]
fn check_config_reports_errors_with_caret() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("etc");
    std::fs::create_dir_all(&conf).unwrap();
    std::fs::write(
        conf.join("hosts.conf"),
        "object Host \"a\" {\n  check_command = \"dummy\"\n  vars.x = undefined_thing\n}\n",
    )
    .unwrap();
    let out = check_config(&conf);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("hosts.conf:3:12"), "{err}");
    assert!(
        err.contains("undefined_thing") && err.contains('^'),
        "{err}"
    );

    std::fs::write(
        conf.join("hosts.conf"),
        "object Host \"a\" {\n  import \"generic-host\"\n}\napply Service \"s\" { check_command = \"dummy\"; assign where true }\ntemplate Host \"generic-host\" { check_command = \"hostalive\" }\n",
    )
    .unwrap();
    let out = check_config(&conf);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("1 hosts, 1 services"), "{text}");

    // Validation: a service's host must exist.
    std::fs::write(
        conf.join("hosts.conf"),
        "object Service \"s\" { host_name = \"ghost\"; check_command = \"dummy\" }\n",
    )
    .unwrap();
    let out = check_config(&conf);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("Validation failed for object 'ghost!s' of type 'Service'; Attribute 'host_name': Object 'ghost' of type 'Host' does not exist."),
        "{err}"
    );
}

/// The seed's certificate flow: new-ca, new-cert with a signing request, sign-csr; the
/// signed certificate names the CN and chains to the CA.
#[test]
fn pki_flow() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let run = |args: &[&str]| {
        let out = auspex()
            .args(args)
            .arg("--data-dir")
            .arg(&data)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&["pki", "new-ca"]);
    let key = dir.path().join("agent.key");
    let csr = dir.path().join("agent.csr");
    let crt = dir.path().join("agent.crt");
    run(&[
        "pki",
        "new-cert",
        "--cn",
        "agent1",
        "--key",
        key.to_str().unwrap(),
        "--csr",
        csr.to_str().unwrap(),
    ]);
    run(&[
        "pki",
        "sign-csr",
        "--csr",
        csr.to_str().unwrap(),
        "--cert",
        crt.to_str().unwrap(),
    ]);
    let pem = std::fs::read(&crt).unwrap();
    let der = crate::util::pem_certs(&pem).remove(0);
    assert_eq!(auspex::pki::common_name(&der).as_deref(), Some("agent1"));
    let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
    assert_eq!(cert.issuer().to_string(), "CN=Auspex CA");
    // A second new-ca refuses to overwrite the first.
    let out = auspex()
        .args(["pki", "new-ca"])
        .arg("--data-dir")
        .arg(&data)
        .output()
        .unwrap();
    assert!(!out.status.success());
}

/// `console --eval` prints what `icinga2 console --eval` prints.
#[test]
fn console_eval() {
    let out = auspex()
        .args(["console", "--eval", "[1, 2.5] + [\"x\"]"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        r#"[1.0,2.5,"x"]"#.replace("1.0", "1")
    );
}

/// A FileLogger receives the lines of its severity and above, as Icinga writes them;
/// a logger object with an unknown severity fails the configuration.
#[test]
fn file_logger_writes_its_severity() {
    let log = tempfile::tempdir().unwrap();
    let path = log.path().join("logs/auspex.log");
    let dir = crate::durability::data_dir(&format!(
        "object FileLogger \"main\" {{ path = {path:?}; severity = \"warning\" }}\n\
         object LivestatusListener \"live\" {{ }}\n"
    ));
    let mut server = crate::durability::spawn(dir.path());
    // A graceful stop writes out what the loggers hold.
    // SAFETY: signals a child process this test started.
    assert_eq!(
        unsafe { libc::kill(server.child.id() as i32, libc::SIGTERM) },
        0
    );
    assert!(server.child.wait().unwrap().success());
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let line = text
        .lines()
        .find(|l| l.contains("LivestatusListener 'live'"))
        .unwrap_or_else(|| panic!("no warning in {path:?}: {text}"));
    assert!(
        line.starts_with('[') && line.contains("] warning/"),
        "{line}"
    );
    assert!(!text.contains("information/"), "{text}");

    let conf = dir.path().join("etc");
    std::fs::write(
        conf.join("logger.conf"),
        "object FileLogger \"bad\" { path = \"/tmp/x.log\"; severity = \"loud\" }\n",
    )
    .unwrap();
    let out = check_config(&conf);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("invalid severity 'loud'"),
        "{out:?}"
    );
}

/// `check-config` names an apply rule that creates nothing, as Icinga does, and prints
/// the objects per type.
#[test]
fn check_config_warns_about_rules_that_match_nothing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("icinga2.conf"),
        "object Host \"a\" { check_command = \"dummy\" }\n\
         apply Service \"typo\" { check_command = \"dummy\"; assign where host.vars.os == \"Linx\" }\n\
         apply Service \"ok\" { check_command = \"dummy\"; assign where true }\n",
    )
    .unwrap();
    let out = check_config(dir.path());
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Apply rule 'typo'") && text.contains("does not match anywhere!"),
        "{text}"
    );
    assert!(!text.contains("Apply rule 'ok'"), "{text}");
    assert!(text.contains("Instantiated 1 Service."), "{text}");
}

/// `pki ticket` prints Icinga's ticket, with `--salt` or the configuration's `TicketSalt`.
#[test]
fn pki_ticket() {
    let out = auspex()
        .args(["pki", "ticket", "--cn", "agent1", "--salt", "s3cret"])
        .output()
        .unwrap();
    assert!(out.status.success());
    // What `icinga2 pki ticket --cn agent1 --salt s3cret` prints.
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "91b63cdca64fa67d2971a84795ad4b073b1e292e"
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("constants.conf"),
        "const TicketSalt = \"s3cret\"\n",
    )
    .unwrap();
    let out = auspex()
        .args(["pki", "ticket", "--cn", "agent1", "--config"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "91b63cdca64fa67d2971a84795ad4b073b1e292e"
    );
    std::fs::write(dir.path().join("constants.conf"), "").unwrap();
    let out = auspex()
        .args(["pki", "ticket", "--cn", "agent1", "--config"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("TicketSalt"));
}

/// Shell completions and the manual page come from the command line's own definition.
#[test]
fn completions_and_manpage() {
    let out = auspex().args(["completions", "bash"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(
        text.contains("_auspex()") && text.contains("check-config"),
        "{text}"
    );
    let out = auspex().arg("manpage").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with(".ie") || text.contains(".TH auspex"),
        "{text}"
    );
    assert!(text.contains("serve"), "{text}");
}

/// `--log-format json` writes one JSON object per line; `--log-level` filters.
#[test]
fn log_format_and_level() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("x.conf"),
        "object LivestatusListener \"live\" { }\n",
    )
    .unwrap();
    let run = |args: &[&str]| {
        let out = auspex()
            .args(args)
            .args(["check-config", "--config"])
            .arg(dir.path())
            .env_remove("RUST_LOG")
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let text = run(&["--log-format", "json"]);
    let warning: serde_json::Value = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|j| j["level"] == "WARN")
        .unwrap_or_else(|| panic!("no JSON warning in {text}"));
    assert!(
        warning["message"]
            .as_str()
            .unwrap()
            .contains("LivestatusListener 'live'"),
        "{warning}"
    );
    let text = run(&["--log-level", "error"]);
    assert!(!text.contains("LivestatusListener 'live'"), "{text}");
}

/// The manual page and completions the Debian package ships are the ones the command
/// line generates (regenerate: `auspex manpage > packaging/auspex.1`,
/// `auspex completions <shell> > packaging/completions/auspex.<shell>`).
#[test]
fn packaged_manpage_and_completions_are_current() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let generated = |args: &[&str]| auspex().args(args).output().unwrap().stdout;
    assert_eq!(
        std::fs::read(root.join("packaging/auspex.1")).unwrap(),
        generated(&["manpage"]),
        "packaging/auspex.1 is out of date"
    );
    for shell in ["bash", "zsh", "fish"] {
        assert_eq!(
            std::fs::read(root.join(format!("packaging/completions/auspex.{shell}"))).unwrap(),
            generated(&["completions", shell]),
            "packaging/completions/auspex.{shell} is out of date"
        );
    }
}
