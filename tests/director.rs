//! Icinga Director (Debian's `icingaweb2-module-director`, driven by `icingacli`) manages
//! Auspex's configuration through the config-package API, as it manages Icinga 2's: its
//! database on a MariaDB of the test's own, kickstart against Auspex, objects created,
//! deployed, changed, removed, deployed again, and Director's own health check. Skipped
//! without `icingacli` and MariaDB unless `AUSPEX_REQUIRE_DIRECTOR` is set (as CI sets it).

use std::path::{Path, PathBuf};

use serde_json::Value as Json;

use crate::peers::{installed, MariaDb};
use crate::util::{Server, USERS};

const REQUIRE: &str = "AUSPEX_REQUIRE_DIRECTOR";
const MODULES: &str = "/usr/share/icingaweb2/modules";

/// `icingacli` with an Icinga Web 2 configuration of the test's own.
struct Director {
    config: PathBuf,
}

impl Director {
    /// Writes the Icinga Web 2 configuration: the Director database resource, Director's
    /// kickstart settings (the endpoint, Auspex's address, the API user), and the enabled
    /// modules.
    async fn configure(dir: &Path, db: &MariaDb, node: &str, api_port: u16) -> Director {
        let config = dir.join("icingaweb2");
        let module = config.join("modules/director");
        std::fs::create_dir_all(&module).unwrap();
        std::fs::write(config.join("config.ini"), "[logging]\nlog = \"none\"\n").unwrap();
        std::fs::write(
            config.join("resources.ini"),
            format!(
                "[director_db]\ntype = \"db\"\ndb = \"mysql\"\nhost = \"127.0.0.1\"\nport = \"{}\"\n\
                 dbname = \"director\"\nusername = \"director\"\npassword = \"director\"\n\
                 charset = \"utf8\"\n",
                db.port
            ),
        )
        .unwrap();
        std::fs::write(
            module.join("config.ini"),
            "[db]\nresource = \"director_db\"\n",
        )
        .unwrap();
        std::fs::write(
            module.join("kickstart.ini"),
            format!(
                "[config]\nendpoint = \"{node}\"\nhost = \"127.0.0.1\"\nport = \"{api_port}\"\n\
                 username = \"root\"\npassword = \"secret\"\n"
            ),
        )
        .unwrap();
        let director = Director { config };
        director.run(&["module", "enable", "incubator"]).await;
        director.run(&["module", "enable", "director"]).await;
        director
    }

    /// Runs `icingacli` with `args`; its standard output. It must succeed.
    async fn run(&self, args: &[&str]) -> String {
        let (ok, out) = self.try_run(args).await;
        assert!(ok, "icingacli {}: {out}", args.join(" "));
        out
    }

    /// Runs `icingacli` with `args`: whether it succeeded, and what it printed.
    async fn try_run(&self, args: &[&str]) -> (bool, String) {
        let out = tokio::process::Command::new("icingacli")
            .args(args)
            .env("ICINGAWEB_CONFIGDIR", &self.config)
            .output()
            .await
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    }

    /// Deploys, and waits until Auspex has activated the stage (`activated` holds).
    async fn deploy(&self, s: &Server, path: &str, activated: impl Fn(&Json) -> bool) -> String {
        let out = self.run(&["director", "config", "deploy"]).await;
        s.wait_for(path, activated).await;
        out
    }

    /// Director's health check of its deployments: it collects the stage's status and
    /// startup log first, as its background daemon does.
    async fn deployment_health(&self) -> String {
        self.run(&["director", "config", "deploymentstatus"]).await;
        self.run(&["director", "health", "check", "--check", "deployment"])
            .await
    }
}

#[tokio::test]
async fn director_kickstarts_deploys_changes_and_removes() {
    if !installed("icingacli", REQUIRE)
        || !MariaDb::installed(REQUIRE)
        || !Path::new(MODULES).join("director").exists()
    {
        assert!(
            std::env::var_os(REQUIRE).is_none(),
            "icingaweb2-module-director is required ({REQUIRE} is set)"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = MariaDb::start(&dir.path().join("mariadb")).await;
    db.sql(
        "",
        "CREATE DATABASE director CHARACTER SET 'utf8';\
         CREATE USER director@'127.0.0.1' IDENTIFIED BY 'director';\
         GRANT ALL ON director.* TO director@'127.0.0.1';",
    )
    .await;
    // The configuration `api setup` writes (the node's Endpoint and Zone, the global
    // zones), with the test's API users.
    let server_dir = tempfile::tempdir().unwrap();
    let conf = server_dir.path().join("etc");
    auspex::config::defaults::write(&conf, false).unwrap();
    std::fs::remove_file(conf.join("api-users.conf")).unwrap();
    std::fs::write(conf.join("users.conf"), USERS).unwrap();
    let s = Server::start_in(server_dir, conf).await;

    let director = Director::configure(dir.path(), &db, "localhost", s.port).await;
    director.run(&["director", "migration", "run"]).await;
    let (pending, _) = director
        .try_run(&["director", "migration", "pending"])
        .await;
    assert!(!pending, "the Director schema is current");
    director.run(&["director", "kickstart", "run"]).await;
    // Kickstart found the node's endpoint where its API listens, and the zones.
    let endpoint = db
        .sql(
            "director",
            "SELECT host, port FROM icinga_endpoint WHERE object_name = 'localhost'",
        )
        .await;
    assert_eq!(endpoint.trim(), format!("localhost\t{}", s.port));
    let zones = db
        .sql(
            "director",
            "SELECT object_name FROM icinga_zone ORDER BY object_name",
        )
        .await;
    assert_eq!(zones, "director-global\nglobal-templates\nlocalhost\n");

    for args in [
        &[
            "host",
            "create",
            "director-host",
            "--object_type",
            "template",
            "--check_command",
            "dummy",
            "--check_interval",
            "300",
        ][..],
        &[
            "host",
            "create",
            "web1",
            "--imports",
            "director-host",
            "--address",
            "127.0.0.1",
            "--display_name",
            "Web 1",
            "--vars.env",
            "prod",
        ],
        &[
            "host",
            "create",
            "web2",
            "--imports",
            "director-host",
            "--address",
            "127.0.0.2",
            "--vars.env",
            "prod",
        ],
        &[
            "service",
            "create",
            "prod-ping",
            "--object_type",
            "apply",
            "--check_command",
            "dummy",
            "--assign_filter",
            "host.vars.env=\"prod\"",
            "--vars.dummy_text",
            "from Director",
        ],
    ] {
        director.run(&[&["director"][..], args].concat()).await;
    }
    let out = director
        .deploy(&s, "/v1/objects/hosts/web2", |a| !a.is_null())
        .await;
    assert!(out.contains("has been deployed"), "{out}");
    let health = director.deployment_health().await;
    assert!(
        health.contains("The last Deployment was successful"),
        "{health}"
    );

    // The hosts and services as Director rendered them, in the node's zone.
    let web1 = s.wait_for("/v1/objects/hosts/web1", |a| !a.is_null()).await;
    assert_eq!(web1["address"], "127.0.0.1");
    assert_eq!(web1["display_name"], "Web 1");
    assert_eq!(web1["check_interval"], 300.0);
    assert_eq!(web1["vars"]["env"], "prod");
    assert_eq!(web1["package"], "director");
    assert_eq!(web1["zone"], "localhost");
    assert_eq!(
        web1["templates"],
        serde_json::json!(["web1", "director-host"])
    );
    let (_, services) = s.get("/v1/objects/services?attrs=vars").await;
    let mut names: Vec<&str> = services["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["web1!prod-ping", "web2!prod-ping"], "{services}");
    assert_eq!(
        services["results"][0]["attrs"]["vars"]["dummy_text"],
        "from Director"
    );

    // A change and a removal deploy too.
    director
        .run(&["director", "host", "set", "web1", "--address", "10.0.0.1"])
        .await;
    director.run(&["director", "host", "delete", "web2"]).await;
    director
        .deploy(&s, "/v1/objects/hosts/web1", |a| a["address"] == "10.0.0.1")
        .await;
    let (status, _) = s.get("/v1/objects/hosts/web2").await;
    assert_eq!(status, 404, "the removed host is gone");
    let (status, _) = s.get("/v1/objects/services/web2!prod-ping").await;
    assert_eq!(status, 404, "and its service");
    let health = director.deployment_health().await;
    assert!(
        health.contains("The last Deployment was successful")
            && health.contains("There are 0 un-deployed changes"),
        "{health}"
    );

    // Nothing changed: no deployment, no new stage.
    let (_, before) = s.get("/v1/config/packages").await;
    let out = director.run(&["director", "config", "deploy"]).await;
    assert!(out.contains("Config matches last deployed one"), "{out}");
    let (_, after) = s.get("/v1/config/packages").await;
    let director_package = |packages: &Json| {
        packages["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "director")
            .cloned()
            .unwrap()
    };
    let (before, after) = (director_package(&before), director_package(&after));
    assert_eq!(before["active-stage"], after["active-stage"]);
    // (Director removes the stages it has collected.)
    let stages = before["stages"].as_array().unwrap();
    assert!(
        after["stages"]
            .as_array()
            .unwrap()
            .iter()
            .all(|st| stages.contains(st)),
        "{before} {after}"
    );
    // Director's whole health check passes (it exits non-zero on any warning).
    let health = director.run(&["director", "health", "check"]).await;
    assert!(health.contains("everything is fine"), "{health}");
}
