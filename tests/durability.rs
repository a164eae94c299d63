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

/// Starts `auspex serve` and waits for its "Listening" line.
fn spawn(dir: &std::path::Path) -> Process {
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
    let port = loop {
        let line = lines
            .next()
            .expect("server exited before listening")
            .unwrap();
        if line.contains("Listening for HTTPS API requests") {
            let addr = line
                .split_whitespace()
                .find_map(|w| w.strip_prefix("address="))
                .unwrap();
            break addr.rsplit(':').next().unwrap().parse().unwrap();
        }
    };
    // Keep draining the log so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Process { child, port }
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
