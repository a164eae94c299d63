//! Faults in the data directory with the real binary: a lost or damaged store stops the
//! start with a message (until `--reinitialize`), and a failed write makes the store
//! refuse writes loudly until the fault is gone, then take them again.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::{json, Value as Json};

use crate::durability::{client, data_dir, serve, spawn, spawn_command, spawn_watching, Process};

/// Runs `command` until it exits; its exit code and everything it printed.
fn run_to_exit(mut command: Command) -> (Option<i32>, String) {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let readers: Vec<_> = [
        Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>,
        Box::new(child.stderr.take().unwrap()),
    ]
    .into_iter()
    .map(|mut pipe| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    })
    .collect();
    let code = child.wait().unwrap().code();
    let text = readers.into_iter().map(|r| r.join().unwrap()).collect();
    (code, text)
}

async fn put_host(p: &Process, c: &reqwest::Client, name: &str, attrs: Json) -> (u16, Json) {
    let res = c
        .put(format!(
            "https://localhost:{}/v1/objects/hosts/{name}",
            p.port
        ))
        .basic_auth("root", Some("secret"))
        .json(&json!({ "attrs": attrs }))
        .send()
        .await
        .unwrap();
    (
        res.status().as_u16(),
        res.json().await.unwrap_or(Json::Null),
    )
}

async fn get(p: &Process, c: &reqwest::Client, path: &str) -> (u16, Json) {
    let res = c
        .get(format!("https://localhost:{}{path}", p.port))
        .basic_auth("root", Some("secret"))
        .send()
        .await
        .unwrap();
    (
        res.status().as_u16(),
        res.json().await.unwrap_or(Json::Null),
    )
}

fn stop(mut p: Process) {
    p.child.kill().unwrap();
    p.child.wait().unwrap();
}

/// A data directory that has run once and holds the API-created host `kept`.
async fn used_data_dir() -> tempfile::TempDir {
    let dir = data_dir("");
    let p = spawn(dir.path());
    let c = client(dir.path());
    let (code, _) = put_host(&p, &c, "kept", json!({"check_command": "dummy"})).await;
    assert_eq!(code, 200);
    stop(p);
    dir
}

fn store(dir: &Path) -> std::path::PathBuf {
    dir.join("data/state.redb")
}

#[tokio::test]
async fn a_lost_store_refuses_to_start_until_reinitialized() {
    let dir = used_data_dir().await;
    for lose in ["delete", "truncate"] {
        match lose {
            "delete" => std::fs::remove_file(store(dir.path())).unwrap(),
            _ => std::fs::write(store(dir.path()), b"").unwrap(),
        }
        let (code, log) = run_to_exit(serve(dir.path()));
        assert_eq!(code, Some(1), "{lose}: {log}");
        assert!(log.contains("--reinitialize"), "{lose}: {log}");
        assert!(!log.contains("Listening"), "{lose}: {log}");
    }
    // Asked to, it starts over with an empty store, and later starts need nothing more.
    let mut command = serve(dir.path());
    command.arg("--reinitialize");
    let p = spawn_command(command);
    let c = client(dir.path());
    assert_eq!(get(&p, &c, "/v1/objects/hosts/kept").await.0, 404);
    stop(p);
    let p = spawn(dir.path());
    assert_eq!(get(&p, &c, "/v1/objects/hosts/kept").await.0, 404);
}

#[tokio::test]
async fn a_damaged_store_is_refused_and_kept_aside_on_reinitialize() {
    let dir = used_data_dir().await;
    // Everything after the file header overwritten with noise.
    let path = store(dir.path());
    let mut bytes = std::fs::read(&path).unwrap();
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    for b in &mut bytes[4096..] {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    std::fs::write(&path, &bytes).unwrap();

    let (code, log) = run_to_exit(serve(dir.path()));
    assert_eq!(code, Some(1), "{log}");
    assert!(log.contains("cannot be used"), "{log}");
    assert!(log.contains("--reinitialize"), "{log}");
    // One message (and at most one panic report), not a loop.
    assert!(log.matches("panicked").count() <= 1, "{log}");
    assert!(log.lines().count() < 100, "{log}");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        bytes,
        "the file is left alone"
    );

    let mut command = serve(dir.path());
    command.arg("--reinitialize");
    let p = spawn_command(command);
    let c = client(dir.path());
    assert_eq!(get(&p, &c, "/v1/objects/hosts/kept").await.0, 404);
    let (code, _) = put_host(&p, &c, "new", json!({"check_command": "dummy"})).await;
    assert_eq!(code, 200);
    let aside: Vec<_> = std::fs::read_dir(dir.path().join("data"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains("state.redb.corrupt-"))
        .collect();
    assert_eq!(aside.len(), 1, "{aside:?}");
    assert_eq!(
        std::fs::read(&aside[0]).unwrap(),
        bytes,
        "the damaged file is kept"
    );
}

/// Sets the soft file size limit of process `pid` (the hard limit stays).
fn limit_file_size(pid: u32, bytes: u64) {
    let limit = libc::rlimit {
        rlim_cur: bytes,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: prlimit reads `limit` and writes nothing (the old-limit pointer is null).
    let rc = unsafe {
        libc::prlimit(
            pid as libc::pid_t,
            libc::RLIMIT_FSIZE,
            &raw const limit,
            std::ptr::null_mut(),
        )
    };
    assert_eq!(rc, 0, "prlimit: {}", std::io::Error::last_os_error());
}

/// A write the file system refuses (the store file may not grow: as on a full disk)
/// fails that write and the ones after it with the fault, `/v1/status` reports it, reads
/// go on; once the file may grow again, writes succeed again without a restart, and
/// every acknowledged write is there after one.
#[tokio::test]
async fn a_failed_write_is_reported_and_the_store_recovers() {
    let dir = data_dir("");
    let (p, mut reopened) = spawn_watching(dir.path(), "Store reopened after a failure.");
    let c = client(dir.path());
    assert_eq!(
        put_host(&p, &c, "first", json!({"check_command": "dummy"}))
            .await
            .0,
        200
    );
    let size = std::fs::metadata(store(dir.path())).unwrap().len();
    limit_file_size(p.child.id(), size);

    let pad = "x".repeat(60_000);
    let mut acked = vec!["first".to_string()];
    let mut failed = None;
    for i in 0..400 {
        let name = format!("pad{i}");
        let (code, body) = put_host(
            &p,
            &c,
            &name,
            json!({"check_command": "dummy", "vars.pad": pad}),
        )
        .await;
        if code == 200 {
            acked.push(name);
        } else {
            failed = Some((name, code, body));
            break;
        }
    }
    let (failed, code, body) = failed.expect("the store file never needed to grow");
    assert_eq!(code, 500, "{body}");
    assert!(
        body.to_string().contains("File too large"),
        "the answer names the fault: {body}"
    );
    // Every write is refused while the fault lasts, with the reason.
    let (code, body) = put_host(&p, &c, "during", json!({"check_command": "dummy"})).await;
    assert_eq!(code, 500, "{body}");
    let (_, status) = get(&p, &c, "/v1/status/Store").await;
    let health = &status["results"][0]["status"]["store"];
    assert!(
        health["fault"]
            .as_str()
            .is_some_and(|f| f.contains("File too large")),
        "{status}"
    );
    assert!(health["failed_commits"].as_u64() >= Some(1), "{status}");
    assert_eq!(get(&p, &c, "/v1/objects/hosts/first").await.0, 200);
    // Not ready while the store takes no writes (reads still work).
    let ready = |p: &Process| format!("https://localhost:{}/-/ready", p.port);
    let res = c.get(ready(&p)).send().await.unwrap();
    assert_eq!(res.status(), 503);
    let why = res.text().await.unwrap();
    assert!(why.contains("File too large"), "{why}");

    limit_file_size(p.child.id(), libc::RLIM_INFINITY);
    // A write succeeds once the store is open again: at once if it already is, else after
    // the writer's next reopen (which, the limit lifted, succeeds).
    loop {
        let (code, body) = put_host(&p, &c, "after", json!({"check_command": "dummy"})).await;
        if code == 200 {
            break;
        }
        reopened
            .recv()
            .await
            .unwrap_or_else(|| panic!("the store was never reopened: {body}"));
    }
    acked.push("after".into());
    let (_, status) = get(&p, &c, "/v1/status/Store").await;
    let health = &status["results"][0]["status"]["store"];
    assert_eq!(health["fault"], Json::Null, "{status}");
    assert!(health["recoveries"].as_u64() >= Some(1), "{status}");
    assert_eq!(c.get(ready(&p)).send().await.unwrap().status(), 200);

    stop(p);
    let p = spawn(dir.path());
    for name in &acked {
        let path = format!("/v1/objects/hosts/{name}");
        assert_eq!(get(&p, &c, &path).await.0, 200, "{name} was acknowledged");
    }
    for name in [failed.as_str(), "during"] {
        let path = format!("/v1/objects/hosts/{name}");
        assert_eq!(get(&p, &c, &path).await.0, 404, "{name} was refused");
    }
}
