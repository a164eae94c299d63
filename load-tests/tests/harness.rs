//! The `auspex-load` command against a real Auspex server: its version, a clear refusal
//! of wrong credentials, and a bulk run that leaves the services as it found them.

use std::process::{Command, Output};
use std::time::Duration;

use auspex::app::{self, App, Options};
use serde_json::Value as Json;

const CONFIG: &str = r#"
object ApiUser "root" { password = "secret"; permissions = [ "*" ] }
object Host "bench-host-0" { check_command = "dummy"; enable_active_checks = false }
object Host "production" { check_command = "dummy"; enable_active_checks = false }
apply Service "s" {
  check_command = "passive"
  enable_active_checks = false
  assign where true
}
"#;

struct Server {
    app: App,
    _dir: tempfile::TempDir,
}

impl Server {
    async fn start() -> Server {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("etc");
        std::fs::create_dir_all(&conf).unwrap();
        std::fs::write(conf.join("site.conf"), CONFIG).unwrap();
        let opts = Options {
            config_dir: Some(conf),
            data_dir: dir.path().join("data"),
            listen: Some("127.0.0.1:0".parse().unwrap()),
            node_name: Some("localhost".into()),
            event_retention: 1000,
            guards: app::Guards::default(),
            edge: Default::default(),
            reinitialize: false,
            clock: auspex::clock::Clock::system(),
            cluster: None,
        };
        app::setup(&opts, false).unwrap();
        let app = App::start(opts).await.unwrap();
        Server { app, _dir: dir }
    }

    fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.app.local_addr.port())
    }

    /// The `state` and last output of `host!s`.
    async fn service(&self, host: &str) -> (Json, Json) {
        let c = reqwest::Client::builder()
            .danger_accept_invalid_certs(true)
            .build()
            .unwrap();
        let bytes = c
            .get(format!("{}/v1/objects/services/{host}!s", self.url()))
            .basic_auth("root", Some("secret"))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let body: Json = serde_json::from_slice(&bytes).unwrap();
        let attrs = &body["results"][0]["attrs"];
        (
            attrs["state"].clone(),
            attrs["last_check_result"]["output"].clone(),
        )
    }

    async fn submit(&self, host: &str, exit: u8) {
        let c = reqwest::Client::builder()
            .danger_accept_invalid_certs(true)
            .build()
            .unwrap();
        let res = c
            .post(format!("{}/v1/actions/process-check-result", self.url()))
            .basic_auth("root", Some("secret"))
            .header("Accept", "application/json")
            .body(format!(
                r#"{{"type":"Service","service":"{host}!s","exit_status":{exit},"plugin_output":"before"}}"#
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }
}

async fn load(args: &[&str]) -> Output {
    let args: Vec<String> = args.iter().map(ToString::to_string).collect();
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_auspex-load"))
            .args(&args)
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn version_and_wrong_credentials() {
    let out = load(&["--version"]).await;
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("auspex-load "));

    let s = Server::start().await;
    let out = load(&["--url", &s.url(), "--password", "wrong", "--seconds", "1"]).await;
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("authentication failed"), "{err}");
    assert!(err.contains("--password"), "{err}");
}

/// The bulk scenario touches only the bench services by default and restores their
/// states; other services keep theirs.
#[tokio::test(flavor = "multi_thread")]
async fn bulk_restores_what_it_changed() {
    let s = Server::start().await;
    s.submit("bench-host-0", 1).await;
    s.submit("production", 0).await;
    let out = load(&[
        "--url",
        &s.url(),
        "--password",
        "secret",
        "--scenario",
        "bulk",
        "--rounds",
        "1",
    ])
    .await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("bulk: 1 services"), "{err}");
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("acknowledge-problem"), "{table}");
    let (state, output) = s.service("bench-host-0").await;
    assert_eq!(state, 1, "the bench service's warning is back");
    assert_eq!(output, "State restored after the bulk benchmark.");
    let (state, output) = s.service("production").await;
    assert_eq!((state, output), (Json::from(0), Json::from("before")));
    tokio::time::timeout(Duration::from_secs(10), s.app.stop(Duration::from_secs(5)))
        .await
        .unwrap();
}
