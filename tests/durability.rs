//! Crash safety with the real binary: a write answered 2xx is on disk, whatever happens
//! to the process after.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::json;

struct Process {
    child: Child,
    port: u16,
}

type Lines = std::io::Lines<BufReader<std::process::ChildStdout>>;

/// Starts `auspex serve` and waits for its "Listening" line.
fn spawn(dir: &std::path::Path) -> Process {
    let (child, port, lines) = spawn_logged(dir);
    // Keep draining the log so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Process { child, port }
}

/// Starts `auspex serve`; returns its port and the rest of its log.
fn spawn_logged(dir: &std::path::Path) -> (Child, u16, Lines) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_auspex"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--node-name",
            "localhost",
        ])
        .arg("--config")
        .arg(dir.join("etc"))
        .arg("--data-dir")
        .arg(dir.join("data"))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let port = listening(&mut lines);
    (child, port, lines)
}

/// Reads the log up to the next "Listening" line; returns its port.
fn listening(lines: &mut Lines) -> u16 {
    loop {
        let line = lines
            .next()
            .expect("server exited before listening")
            .unwrap();
        if line.contains("Listening for HTTPS API requests") {
            let addr = line
                .split_whitespace()
                .find_map(|w| w.strip_prefix("address="))
                .unwrap();
            return addr.rsplit(':').next().unwrap().parse().unwrap();
        }
    }
}

fn client(dir: &std::path::Path) -> reqwest::Client {
    let ca = std::fs::read(dir.join("data/ca/ca.crt")).unwrap();
    reqwest::Client::builder()
        .use_rustls_tls()
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// Concurrent creates and modifies, `kill -9` right after the last answer, restart:
/// every acknowledged write is there.
#[tokio::test]
async fn kill_9_after_2xx_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("etc")).unwrap();
    std::fs::write(
        dir.path().join("etc/users.conf"),
        crate::util::USERS.to_string() + "\nobject Host \"base\" { check_command = \"dummy\" }\n",
    )
    .unwrap();
    let mut p = spawn(dir.path());
    let c = client(dir.path());
    let base = format!("https://localhost:{}", p.port);
    let mut tasks = Vec::new();
    for t in 0..8 {
        let (c, base) = (c.clone(), base.clone());
        tasks.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            for i in 0..15 {
                let name = format!("h{t}-{i}");
                let res = c
                    .put(format!("{base}/v1/objects/hosts/{name}"))
                    .basic_auth("root", Some("secret"))
                    .json(&json!({"attrs": {"check_command": "dummy", "vars.n": i}}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status(), 200);
                acked.push(name);
            }
            acked
        }));
    }
    let res = c
        .post(format!("{base}/v1/objects/hosts/base"))
        .basic_auth("root", Some("secret"))
        .json(&json!({"attrs": {"address": "192.0.2.7"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let mut acked = Vec::new();
    for t in tasks {
        acked.extend(t.await.unwrap());
    }
    p.child.kill().unwrap(); // SIGKILL
    p.child.wait().unwrap();

    let mut p = spawn(dir.path());
    let base = format!("https://localhost:{}", p.port);
    let res = c
        .get(format!("{base}/v1/objects/hosts?attrs=name&attrs=address"))
        .basic_auth("root", Some("secret"))
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = res.json().await.unwrap();
    let results = body["results"].as_array().unwrap();
    for name in &acked {
        assert!(
            results.iter().any(|r| r["name"] == name.as_str()),
            "acknowledged {name} lost"
        );
    }
    let base_host = results.iter().find(|r| r["name"] == "base").unwrap();
    assert_eq!(base_host["attrs"]["address"], "192.0.2.7");
    assert_eq!(results.len(), acked.len() + 1);
    p.child.kill().unwrap();
    p.child.wait().unwrap();
}

/// Acknowledgements, downtimes and comments answered 2xx survive `restart-process` (the
/// same process, started again) and a `kill -9`; `shutdown-process` ends the process
/// cleanly.
#[tokio::test]
async fn restart_kill_and_shutdown_keep_annotations() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("etc")).unwrap();
    std::fs::write(
        dir.path().join("etc/users.conf"),
        crate::util::USERS.to_string() + crate::util::PASSIVE,
    )
    .unwrap();
    let (mut child, port, mut lines) = spawn_logged(dir.path());
    let c = client(dir.path());
    let post = |port: u16, path: &str, body: serde_json::Value| {
        c.post(format!("https://localhost:{port}{path}"))
            .basic_auth("root", Some("secret"))
            .header("Accept", "application/json")
            .json(&body)
            .send()
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    for (path, body) in [
        (
            "/v1/actions/process-check-result",
            json!({"service": "h1!passive", "exit_status": 2, "plugin_output": "down"}),
        ),
        (
            "/v1/actions/acknowledge-problem",
            json!({"service": "h1!passive", "author": "a", "comment": "c"}),
        ),
        (
            "/v1/actions/schedule-downtime",
            json!({"host": "h2", "author": "a", "comment": "c", "start_time": now - 1.0, "end_time": now + 3600.0}),
        ),
        (
            "/v1/actions/add-comment",
            json!({"host": "h2", "author": "a", "comment": "note"}),
        ),
    ] {
        let res = post(port, path, body).await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
    }
    let check = |port: u16| {
        let c = c.clone();
        async move {
            let get = |path: &str| {
                let req = c
                    .get(format!("https://localhost:{port}{path}"))
                    .basic_auth("root", Some("secret"));
                async move {
                    let body: serde_json::Value = req.send().await.unwrap().json().await.unwrap();
                    body["results"].clone()
                }
            };
            let svc = get("/v1/objects/services/h1!passive").await;
            assert_eq!(svc[0]["attrs"]["acknowledgement"], 1);
            let host = get("/v1/objects/hosts/h2").await;
            assert_eq!(host[0]["attrs"]["downtime_depth"], 1);
            let comments = get("/v1/objects/comments").await;
            assert_eq!(comments.as_array().unwrap().len(), 2);
        }
    };
    check(port).await;

    let res = post(port, "/v1/actions/restart-process", json!({}))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["results"][0]["status"], "Restarting Icinga 2.");
    let pid = child.id();
    let port = listening(&mut lines);
    std::thread::spawn(move || for _ in lines {});
    assert!(
        child.try_wait().unwrap().is_none(),
        "the same process runs again"
    );
    assert_eq!(child.id(), pid);
    check(port).await;

    child.kill().unwrap();
    child.wait().unwrap();
    let mut p = spawn(dir.path());
    check(p.port).await;
    let res = post(p.port, "/v1/actions/shutdown-process", json!({}))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let status = tokio::task::spawn_blocking(move || p.child.wait().unwrap())
        .await
        .unwrap();
    assert!(status.success(), "{status:?}");
}
