//! Crash safety with the real binary: a write answered 2xx is on disk, whatever happens
//! to the process after.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::json;

pub(crate) struct Process {
    pub(crate) child: Child,
    pub(crate) port: u16,
}

/// A failing test must not leave its server running.
impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

type Lines = std::io::Lines<BufReader<std::process::ChildStdout>>;

/// A data directory whose configuration holds the test users and `objects`.
pub(crate) fn data_dir(objects: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("etc")).unwrap();
    std::fs::write(
        dir.path().join("etc/users.conf"),
        crate::util::USERS.to_string() + objects,
    )
    .unwrap();
    dir
}

/// Starts `auspex serve` and waits for its "Listening" line.
pub(crate) fn spawn(dir: &std::path::Path) -> Process {
    let (child, port, lines) = spawn_logged(dir);
    // Keep draining the log so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Process { child, port }
}

/// Starts `auspex serve` as [`spawn`] does; the log lines that contain `needle` arrive on
/// the receiver as the server writes them.
pub(crate) fn spawn_watching(
    dir: &std::path::Path,
    needle: &'static str,
) -> (Process, tokio::sync::mpsc::UnboundedReceiver<String>) {
    let (child, port, lines) = spawn_logged(dir);
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            if line.contains(needle) {
                let _ = tx.send(line);
            }
        }
    });
    (Process { child, port }, rx)
}

/// Starts `auspex serve`; returns its port and the rest of its log.
fn spawn_logged(dir: &std::path::Path) -> (Child, u16, Lines) {
    let mut child = serve(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let port = listening(&mut lines);
    (child, port, lines)
}

/// `auspex serve` on the test's directories (add arguments, then spawn).
pub(crate) fn serve(dir: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_auspex"));
    command
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
        .arg(dir.join("data"));
    command
}

/// Starts `command` (a [`serve`]) and waits for its "Listening" line.
pub(crate) fn spawn_command(mut command: Command) -> Process {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let port = listening(&mut lines);
    std::thread::spawn(move || for _ in lines {});
    Process { child, port }
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

pub(crate) fn client(dir: &std::path::Path) -> reqwest::Client {
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
    let dir = data_dir("\nobject Host \"base\" { check_command = \"dummy\" }\n");
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
    let dir = data_dir(crate::util::PASSIVE);
    let (child, port, mut lines) = spawn_logged(dir.path());
    let mut first = Process { child, port };
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
    let pid = first.child.id();
    let port = listening(&mut lines);
    std::thread::spawn(move || for _ in lines {});
    assert!(
        first.child.try_wait().unwrap().is_none(),
        "the same process runs again"
    );
    assert_eq!(first.child.id(), pid);
    check(port).await;
    drop(first); // kill -9
    let p = spawn(dir.path());
    check(p.port).await;
    let res = post(p.port, "/v1/actions/shutdown-process", json!({}))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let status = tokio::task::spawn_blocking(move || {
        let mut p = p;
        p.child.wait().unwrap()
    })
    .await
    .unwrap();
    assert!(status.success(), "{status:?}");
}

/// `kill -9` in the middle of mixed load — objects created, results submitted, comments
/// and downtimes added, all at once — then a restart: every write answered 2xx before the
/// kill is there (a result may have been superseded by a newer one, never by an older).
#[tokio::test]
async fn kill_9_under_mixed_load_loses_nothing() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};

    let dir = data_dir(crate::util::PASSIVE);
    let mut p = spawn(dir.path());
    let c = client(dir.path());
    let base = format!("https://localhost:{}", p.port);
    let stop = Arc::new(AtomicBool::new(false));
    // What the server acknowledged, per kind.
    let hosts = Arc::new(Mutex::new(Vec::<String>::new()));
    let results = Arc::new(Mutex::new(std::collections::HashMap::<String, u64>::new()));
    let names = Arc::new(Mutex::new(Vec::<(String, String)>::new()));
    let post = {
        let (c, base) = (c.clone(), base.clone());
        move |method: reqwest::Method, path: String, body: serde_json::Value| {
            c.request(method, format!("{base}{path}"))
                .basic_auth("root", Some("secret"))
                .header("Accept", "application/json")
                .json(&body)
                .send()
        }
    };
    let mut tasks = Vec::new();
    for worker in 0..2 {
        let (post, stop, hosts) = (post.clone(), stop.clone(), hosts.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0.. {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let name = format!("m{worker}-{i}");
                let body = json!({"attrs": {"check_command": "dummy"}});
                match post(
                    reqwest::Method::PUT,
                    format!("/v1/objects/hosts/{name}"),
                    body,
                )
                .await
                {
                    Ok(r) if r.status() == 200 => hosts.lock().unwrap().push(name),
                    _ => break,
                }
            }
        }));
    }
    for service in ["h1!passive", "h2!passive"] {
        let (post, stop, results) = (post.clone(), stop.clone(), results.clone());
        tasks.push(tokio::spawn(async move {
            for i in 1u64.. {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let body = json!({"service": service, "exit_status": i % 3, "plugin_output": format!("r{i}"),
                                  "execution_start": i as f64, "execution_end": i as f64});
                match post(reqwest::Method::POST, "/v1/actions/process-check-result".into(), body).await {
                    Ok(r) if r.status() == 200 => {
                        results.lock().unwrap().insert(service.to_string(), i);
                    }
                    _ => break,
                }
            }
        }));
    }
    for (action, kind) in [
        ("add-comment", "Comment"),
        ("schedule-downtime", "Downtime"),
    ] {
        let (post, stop, names) = (post.clone(), stop.clone(), names.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0.. {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let body = json!({"host": "h2", "author": "load", "comment": format!("{kind} {i}"),
                                  "start_time": 4.0e9, "end_time": 4.1e9});
                let res = post(reqwest::Method::POST, format!("/v1/actions/{action}"), body).await;
                let Ok(res) = res else { break };
                if res.status() != 200 {
                    break;
                }
                let Ok(body) = res.json::<serde_json::Value>().await else {
                    break;
                };
                let name = body["results"][0]["name"].as_str().unwrap().to_string();
                names.lock().unwrap().push((kind.to_string(), name));
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    p.child.kill().unwrap(); // SIGKILL, in the middle of it all
    p.child.wait().unwrap();
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
    let hosts = hosts.lock().unwrap().clone();
    let results = results.lock().unwrap().clone();
    let names = names.lock().unwrap().clone();
    assert!(
        hosts.len() > 10 && names.len() > 10,
        "too little load: {} {}",
        hosts.len(),
        names.len()
    );

    let mut p = spawn(dir.path());
    let base = format!("https://localhost:{}", p.port);
    let get = |path: String| {
        let c = c.clone();
        let url = format!("{base}{path}");
        async move {
            let body: serde_json::Value = c
                .get(url)
                .basic_auth("root", Some("secret"))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            body["results"].as_array().unwrap().clone()
        }
    };
    let stored_hosts = get("/v1/objects/hosts?attrs=name".into()).await;
    for h in &hosts {
        assert!(
            stored_hosts.iter().any(|r| r["name"] == h.as_str()),
            "host {h} lost"
        );
    }
    for (service, acked) in &results {
        let svc = get(format!("/v1/objects/services/{service}")).await;
        let start = svc[0]["attrs"]["last_check_result"]["execution_start"]
            .as_f64()
            .unwrap();
        assert!(
            start >= *acked as f64,
            "{service}: result {acked} acknowledged, {start} stored"
        );
    }
    let comments = get("/v1/objects/comments?attrs=name".into()).await;
    let downtimes = get("/v1/objects/downtimes?attrs=name".into()).await;
    for (kind, name) in &names {
        let list = if kind == "Comment" {
            &comments
        } else {
            &downtimes
        };
        assert!(
            list.iter().any(|r| r["name"] == name.as_str()),
            "{kind} {name} lost"
        );
    }
    p.child.kill().unwrap();
    p.child.wait().unwrap();
}

/// `kill -HUP` reloads the configuration as Icinga's `reload` does: a new object appears
/// without a restart; an invalid configuration is refused and the running one stays.
#[tokio::test]
async fn sighup_reloads_the_configuration() {
    let dir = data_dir("\nobject Host \"a\" { check_command = \"dummy\" }\n");
    let (p, mut log) = spawn_watching(dir.path(), "eload");
    let c = client(dir.path());
    let url = |path: &str| format!("https://localhost:{}{path}", p.port);
    let hangup = || {
        let status = Command::new("kill")
            .args(["-HUP", &p.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    };
    // Waits for the next log line about a reload that contains `what`.
    let mut logged = async |what: &str| loop {
        let line = tokio::time::timeout(Duration::from_secs(30), log.recv())
            .await
            .expect("no reload logged")
            .expect("the server's log ended");
        if line.contains(what) {
            return line;
        }
    };
    let host = async |name: &str| {
        c.get(url(&format!("/v1/objects/hosts/{name}")))
            .basic_auth("root", Some("secret"))
            .send()
            .await
            .unwrap()
            .status()
    };
    assert_eq!(host("b").await, 404);

    std::fs::write(
        dir.path().join("etc/more.conf"),
        "object Host \"b\" { check_command = \"dummy\" }\n",
    )
    .unwrap();
    hangup();
    let line = logged("Configuration reloaded").await;
    assert!(line.contains("created=1"), "{line}");
    assert_eq!(host("b").await, 200);

    std::fs::write(dir.path().join("etc/broken.conf"), "object Host {\n").unwrap();
    hangup();
    logged("Reload failed").await;
    assert_eq!(host("a").await, 200, "the running configuration stays");
    assert_eq!(host("b").await, 200);
}
