//! A cluster of three `auspex` processes on a real `nats-server -js`: one log read on
//! every node, streams resumed on another node, a leader killed with `kill -9` under
//! load, checks shared among the nodes and moved when one stops.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value as Json};

use crate::peers::{free_port, Daemon};
use crate::util::{eventually, pem_certs, read_until};

const REQUIRE: &str = "AUSPEX_REQUIRE_NATS";
/// The lease term the nodes run with (seconds).
const LEASE: f64 = 2.0;

/// The NATS server, from Debian's `nats-server` (in `/usr/sbin`).
fn nats_server() -> Option<PathBuf> {
    let found = ["/usr/sbin/nats-server", "/usr/bin/nats-server"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists());
    if found.is_none() {
        assert!(
            std::env::var_os(REQUIRE).is_none(),
            "nats-server is required ({REQUIRE} is set)"
        );
        eprintln!("nats-server not installed: test skipped");
    }
    found
}

/// A JetStream server of its own: a free loopback port, a temporary store.
struct Nats {
    port: u16,
    _daemon: Daemon,
}

impl Nats {
    async fn start(program: &Path, dir: &Path) -> Nats {
        let port = free_port();
        let store = dir.join("jetstream");
        let mut daemon = Daemon::spawn(
            Command::new(program)
                .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
                .arg(&store),
        );
        daemon
            .logged("NATS ready", |l| l.contains("Server is ready"))
            .await;
        Nats {
            port,
            _daemon: daemon,
        }
    }
}

/// One `auspex serve` of the cluster.
struct Node {
    name: String,
    port: u16,
    client: reqwest::Client,
    daemon: Option<Daemon>,
}

impl Node {
    async fn start(dir: &Path, conf: &Path, name: &str, nats: u16) -> Node {
        let data = dir.join(name);
        let mut daemon = Daemon::spawn(
            Command::new(env!("CARGO_BIN_EXE_auspex"))
                .args(["serve", "--listen", "127.0.0.1:0", "--node-name", name])
                .arg("--config")
                .arg(conf)
                .arg("--data-dir")
                .arg(&data)
                .args(["--cluster", &format!("nats://127.0.0.1:{nats}")])
                .args(["--cluster-lease", &LEASE.to_string()]),
        );
        let line = daemon
            .logged("listening", |l| {
                l.contains("Listening for HTTPS API requests")
            })
            .await;
        let port = line
            .split("address=127.0.0.1:")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in: {line}"));
        let ca = std::fs::read(data.join("ca/ca.crt")).unwrap();
        let mut builder = reqwest::Client::builder().use_rustls_tls();
        for cert in pem_certs(&ca) {
            builder = builder.add_root_certificate(reqwest::Certificate::from_der(&cert).unwrap());
        }
        Node {
            name: name.to_string(),
            port,
            client: builder.build().unwrap(),
            daemon: Some(daemon),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.port)
    }

    async fn get(&self, path: &str) -> Result<Json, String> {
        let res = self
            .client
            .get(self.url(path))
            .basic_auth("root", Some("secret"))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        res.json().await.map_err(|e| e.to_string())
    }

    async fn post(&self, path: &str, body: Json) -> Result<(u16, Json), String> {
        let res = self
            .client
            .post(self.url(path))
            .basic_auth("root", Some("secret"))
            .header("Accept", "application/json")
            .json(&body)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = res.status().as_u16();
        Ok((status, res.json().await.map_err(|e| e.to_string())?))
    }

    async fn result(&self, service: &str, output: &str) -> Result<(u16, Json), String> {
        self.post(
            "/v1/actions/process-check-result",
            json!({"type": "Service", "service": service, "exit_status": 1, "plugin_output": output}),
        )
        .await
    }

    async fn cluster(&self) -> Result<Json, String> {
        let status = self.get("/v1/status/Cluster").await?;
        Ok(status["results"][0]["status"]["cluster"].clone())
    }

    async fn delete(&self, path: &str) -> Result<u16, String> {
        let res = self
            .client
            .delete(self.url(path))
            .basic_auth("root", Some("secret"))
            .header("Accept", "application/json")
            .send()
            .await
            .map_err(|e| e.to_string())?;
        Ok(res.status().as_u16())
    }

    /// `GET /v1/status` with a bearer token: the status code.
    async fn status_with(&self, token: &str) -> Result<u16, String> {
        let res = self
            .client
            .get(self.url("/v1/status/CIB"))
            .bearer_auth(token)
            .header("Accept", "application/json")
            .send()
            .await
            .map_err(|e| e.to_string())?;
        Ok(res.status().as_u16())
    }

    /// Icinga's NDJSON stream of check results (`query` added to the URL).
    async fn stream(&self, query: &str) -> reqwest::Response {
        let res = self
            .client
            .post(self.url(&format!("/v1/events?queue=q&types=CheckResult&{query}")))
            .basic_auth("root", Some("secret"))
            .header("Accept", "application/json")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        res
    }

    /// `kill -9`.
    fn kill(&mut self) {
        self.daemon = None;
    }
}

/// Three nodes on one NATS server sharing `extra` (besides the root user), once they all
/// see each other and a leader.
async fn cluster(dir: &Path, extra: &str) -> (Nats, Vec<Node>) {
    let program = nats_server().expect("checked by the caller");
    let nats = Nats::start(&program, dir).await;
    let conf = dir.join("etc");
    std::fs::create_dir_all(&conf).unwrap();
    std::fs::write(conf.join("users.conf"), crate::util::USERS).unwrap();
    std::fs::write(conf.join("extra.conf"), extra).unwrap();
    let mut nodes = Vec::new();
    for name in ["node1", "node2", "node3"] {
        nodes.push(Node::start(dir, &conf, name, nats.port).await);
    }
    for n in &nodes {
        eventually("every node sees three nodes and a leader", || async {
            let c = n.cluster().await?;
            let seen = c["nodes"].as_array().map_or(0, Vec::len);
            if seen == 3 && c["leader"].is_string() {
                Ok(())
            } else {
                Err(c.to_string())
            }
        })
        .await;
    }
    (nats, nodes)
}

async fn leader_of(nodes: &[Node]) -> String {
    let live = nodes.iter().find(|n| n.daemon.is_some()).unwrap();
    eventually("a leader", || async {
        let c = live.cluster().await?;
        c["leader"]
            .as_str()
            .map(str::to_string)
            .ok_or(c.to_string())
    })
    .await
}

const SERVICES: &str = r#"
object Host "h1" { check_command = "dummy"; enable_active_checks = false }
object Service "s1" { host_name = "h1"; check_command = "dummy"; enable_active_checks = false }
object Service "cluster" { host_name = "h1"; check_command = "cluster"; check_interval = 1 }
apply Service "p" for (n in range(4)) {
  check_command = "dummy"
  enable_active_checks = false
  assign where host.name == "h1"
}
"#;

/// An event posted to one node reaches subscribers of the others; a subscriber that
/// moves to another node with `Last-Event-ID` gets every event once, in order.
#[tokio::test]
async fn one_log_on_every_node_and_streams_resume_on_another() {
    if nats_server().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (_nats, nodes) = cluster(dir.path(), SERVICES).await;
    let leader = leader_of(&nodes).await;
    let followers: Vec<&Node> = nodes.iter().filter(|n| n.name != leader).collect();
    let sse = |n: &Node, last: Option<u64>| {
        let mut r = n
            .client
            // Only `s1`'s results: the cluster check beside it runs every second.
            .get(n.url("/v1/events?types=CheckResult&filter=event.service%3D%3D%22s1%22"))
            .basic_auth("root", Some("secret"))
            .header("Accept", "text/event-stream");
        if let Some(id) = last {
            r = r.header("Last-Event-ID", id.to_string());
        }
        r.send()
    };
    // A subscriber on one follower; results posted to the other and to the leader.
    let mut first = sse(followers[0], None).await.unwrap();
    let leader_node = nodes.iter().find(|n| n.name == leader).unwrap();
    for (i, node) in [followers[1], leader_node, followers[1]].iter().enumerate() {
        let (status, body) = node.result("h1!s1", &format!("out {i}")).await.unwrap();
        assert_eq!(status, 200, "{body}");
    }
    let text = read_until(&mut first, |t| sse_ids(t).len() >= 3).await;
    assert_eq!(outputs(&text), ["out 0", "out 1", "out 2"]);
    let seen = sse_ids(&text);
    drop(first);
    // Three more while away; the subscriber comes back on the other follower.
    for i in 3..6 {
        let (status, _) = followers[0]
            .result("h1!s1", &format!("out {i}"))
            .await
            .unwrap();
        assert_eq!(status, 200);
    }
    let mut second = sse(followers[1], Some(seen[0])).await.unwrap();
    let text = read_until(&mut second, |t| sse_ids(t).len() >= 5).await;
    let resumed = sse_ids(&text);
    assert_eq!(
        resumed[..2],
        seen[1..3],
        "continues right after the given id"
    );
    assert!(
        resumed.windows(2).all(|w| w[0] < w[1]),
        "every id once, in order: {resumed:?}"
    );
    assert_eq!(
        outputs(&text),
        ["out 1", "out 2", "out 3", "out 4", "out 5"]
    );
    // Every node holds the same state and the same journal.
    for n in &nodes {
        let svc = n.get("/v1/objects/services/h1!s1").await.unwrap();
        assert_eq!(
            svc["results"][0]["attrs"]["last_check_result"]["output"], "out 5",
            "on {}",
            n.name
        );
        let c = n.cluster().await.unwrap();
        assert_eq!(c["leader"], leader.as_str(), "on {}", n.name);
    }
    // Icinga's cluster check and API listener see the other two nodes.
    eventually("the cluster check", || async {
        let svc = nodes[0].get("/v1/objects/services/h1!cluster").await?;
        let out = &svc["results"][0]["attrs"]["last_check_result"]["output"];
        (out.as_str()
            .is_some_and(|o| o.starts_with("Icinga 2 Cluster OK: 2 endpoints are connected.")))
        .then_some(())
        .ok_or(out.to_string())
    })
    .await;
    let listener = followers[1].get("/v1/status/ApiListener").await.unwrap();
    assert_eq!(
        listener["results"][0]["status"]["api"]["num_conn_endpoints"], 2,
        "{listener}"
    );
    // A token issued on a follower (by the leader) is valid on every node, and its
    // revocation too.
    let (status, issued) = followers[0]
        .post(
            "/v1/tokens",
            json!({"permissions": ["status/query"], "name": "wall", "ttl": 600}),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{issued}");
    let token = issued["results"][0]["token"].as_str().unwrap().to_string();
    let id = issued["results"][0]["id"].as_str().unwrap();
    token_answers(&nodes, &token, 200).await;
    let revoked = followers[1].delete(&format!("/v1/tokens/{id}")).await;
    assert_eq!(revoked, Ok(200));
    token_answers(&nodes, &token, 401).await;
    // Object writes on a follower are forwarded; the change is on every node.
    let created = followers[0]
        .client
        .put(followers[0].url("/v1/objects/hosts/h9"))
        .basic_auth("root", Some("secret"))
        .header("Accept", "application/json")
        .json(&json!({"attrs": {"check_command": "dummy", "address": "192.0.2.9"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 200);
    let host = followers[0].get("/v1/objects/hosts/h9").await.unwrap();
    assert_eq!(
        host["results"][0]["attrs"]["address"], "192.0.2.9",
        "read on the node written to"
    );
    for n in &nodes {
        eventually("the new host on every node", || async {
            let h = n.get("/v1/objects/hosts/h9").await?;
            (h["results"][0]["attrs"]["address"] == "192.0.2.9")
                .then_some(())
                .ok_or(h.to_string())
        })
        .await;
    }
}

/// Where a poster sends results.
#[derive(Clone)]
struct Target {
    name: String,
    port: u16,
    client: reqwest::Client,
}

/// What the posters saw: results acknowledged, refused, and when the first answer came
/// after the kill.
#[derive(Default)]
struct Tally {
    acknowledged: Vec<String>,
    refused: Vec<String>,
    dead: Option<String>,
    killed_at: Option<Instant>,
    first_after_kill: Option<Duration>,
}

/// `kill -9` of the leader under a steady stream of results from four concurrent
/// clients (a service each): a follower takes over within the bound, and every acknowledged result is in
/// the log exactly once.
#[tokio::test]
async fn leader_killed_under_load_loses_no_acknowledged_result() {
    if nats_server().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (_nats, mut nodes) = cluster(dir.path(), SERVICES).await;
    let leader = leader_of(&nodes).await;
    let targets: Vec<Target> = nodes
        .iter()
        .map(|n| Target {
            name: n.name.clone(),
            port: n.port,
            client: n.client.clone(),
        })
        .collect();
    let tally = std::sync::Arc::new(std::sync::Mutex::new(Tally::default()));
    let (count_tx, mut count) = tokio::sync::watch::channel(0usize);
    let count_tx = std::sync::Arc::new(count_tx);
    let stop = tokio_util::sync::CancellationToken::new();
    let mut posters = Vec::new();
    for w in 0..4 {
        let (targets, tally, count_tx, stop) = (
            targets.clone(),
            tally.clone(),
            count_tx.clone(),
            stop.clone(),
        );
        posters.push(tokio::spawn(async move {
            let mut n = 0usize;
            while !stop.is_cancelled() {
                let dead = tally.lock().unwrap().dead.clone();
                let live: Vec<&Target> = targets.iter().filter(|t| Some(&t.name) != dead.as_ref()).collect();
                let t = live[(n + w) % live.len()];
                let output = format!("w{w}-{n}");
                n += 1;
                let began = Instant::now();
                let sent = t
                    .client
                    .post(format!("https://localhost:{}/v1/actions/process-check-result", t.port))
                    .basic_auth("root", Some("secret"))
                    .header("Accept", "application/json")
                    .json(&json!({"type": "Service", "service": format!("h1!p{w}"), "exit_status": 1, "plugin_output": output}))
                    .send()
                    .await;
                let status = match sent {
                    Ok(r) => r.status().as_u16().to_string(),
                    Err(e) => e.to_string(),
                };
                let mut tally = tally.lock().unwrap();
                if status == "200" {
                    tally.acknowledged.push(output);
                    // Asked after the kill: answered by the new leader.
                    if let (Some(at), None) = (tally.killed_at, tally.first_after_kill) {
                        if began > at {
                            tally.first_after_kill = Some(at.elapsed());
                        }
                    }
                    count_tx.send_replace(tally.acknowledged.len());
                } else {
                    tally.refused.push(status);
                }
            }
        }));
    }
    count.wait_for(|n| *n >= 40).await.unwrap();
    let i = nodes.iter().position(|n| n.name == leader).unwrap();
    {
        let mut t = tally.lock().unwrap();
        t.dead = Some(leader.clone());
        t.killed_at = Some(Instant::now());
    }
    nodes[i].kill();
    let after = *count.borrow();
    tokio::time::timeout(
        Duration::from_secs(60),
        count.wait_for(|n| *n >= after + 120),
    )
    .await
    .expect("results acknowledged after the takeover")
    .unwrap();
    stop.cancel();
    for p in posters {
        p.await.unwrap();
    }
    let survivor = nodes.iter().find(|n| n.daemon.is_some()).unwrap();
    eventually("another leader", || async {
        let c = survivor.cluster().await?;
        (c["leader"].is_string() && c["leader"] != leader.as_str())
            .then_some(())
            .ok_or(c.to_string())
    })
    .await;
    let tally = std::mem::take(&mut *tally.lock().unwrap());
    // The first answer after the kill comes within the lease and the takeover.
    let took = tally.first_after_kill.unwrap();
    assert!(
        took < Duration::from_secs_f64(LEASE * 2.0 + 4.0),
        "first answer {took:?} after the kill"
    );
    // Every acknowledged result is in the log, once.
    let mut res = survivor.stream("since=0").await;
    let text = read_until(&mut res, |t| {
        tally
            .acknowledged
            .iter()
            .rev()
            .take(4)
            .all(|out| t.contains(&format!("\"output\":\"{out}\"")))
    })
    .await;
    let mut counts: HashMap<String, usize> = HashMap::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        let e: Json = serde_json::from_str(line).unwrap();
        if let Some(out) = e["check_result"]["output"].as_str() {
            *counts.entry(out.to_string()).or_default() += 1;
        }
    }
    for out in &tally.acknowledged {
        assert_eq!(
            counts.get(out),
            Some(&1),
            "{out}: acknowledged, so in the log once"
        );
    }
    eprintln!(
        "{} acknowledged, {} refused around the takeover ({:?}); first answer {took:?} after the kill",
        tally.acknowledged.len(),
        tally.refused.len(),
        tally.refused.iter().collect::<std::collections::BTreeSet<_>>()
    );
}

const CHECKED: &str = r#"
object Host "h1" { check_command = "dummy"; enable_active_checks = false }
apply Service "c" for (n in range(12)) {
  check_command = "dummy"
  check_interval = 1
  retry_interval = 1
  assign where host.name == "h1"
}
"#;

/// Who ran each service's latest result, as one node sees it.
async fn sources(node: &Node) -> Result<BTreeMap<String, (String, f64)>, String> {
    let services = node
        .get("/v1/objects/services?attrs=last_check_result")
        .await?;
    let mut out = BTreeMap::new();
    for s in services["results"].as_array().ok_or(services.to_string())? {
        let r = &s["attrs"]["last_check_result"];
        if let (Some(source), Some(at)) = (r["check_source"].as_str(), r["execution_end"].as_f64())
        {
            out.insert(
                s["name"].as_str().unwrap_or_default().to_string(),
                (source.to_string(), at),
            );
        }
    }
    Ok(out)
}

/// Each check runs on one node per interval, spread over the nodes; a stopped node's
/// checks move to the others.
#[tokio::test]
async fn checks_are_shared_and_move_when_a_node_stops() {
    if nats_server().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (_nats, mut nodes) = cluster(dir.path(), CHECKED).await;
    let watcher = 0;
    // Every service checked, by runners spread over all three nodes.
    let first = eventually("every service checked, on every node", || async {
        let s = sources(&nodes[watcher]).await?;
        let runners: std::collections::BTreeSet<&str> =
            s.values().map(|(n, _)| n.as_str()).collect();
        (s.len() == 12 && runners.len() == 3)
            .then_some(s.clone())
            .ok_or(format!("{s:?}"))
    })
    .await;
    // The status shows the assignment: 13 checkables (the host and its 12 services)
    // split over the three nodes.
    assert_eq!(
        assignment(&nodes[watcher], 3).await.values().sum::<u64>(),
        13
    );
    // One runner per service and one result per interval: over a stream of results,
    // each service's come from one node, about a second apart.
    let mut res = nodes[watcher].stream("").await;
    let text = read_until(&mut res, |t| t.lines().count() >= 60).await;
    drop(res);
    let mut by_service: HashMap<String, Vec<(String, f64)>> = HashMap::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        let e: Json = serde_json::from_str(line).unwrap();
        let name = format!(
            "{}!{}",
            e["host"].as_str().unwrap(),
            e["service"].as_str().unwrap()
        );
        let r = &e["check_result"];
        by_service.entry(name).or_default().push((
            r["check_source"].as_str().unwrap().to_string(),
            r["schedule_start"].as_f64().unwrap(),
        ));
    }
    for (service, results) in &by_service {
        let nodes_running: std::collections::BTreeSet<&String> =
            results.iter().map(|(n, _)| n).collect();
        assert_eq!(
            nodes_running.len(),
            1,
            "{service} run by one node: {results:?}"
        );
        for w in results.windows(2) {
            assert!(
                w[1].1 - w[0].1 > 0.5,
                "{service} checked twice in one interval: {results:?}"
            );
        }
    }
    // A node stops: its services get results from the others.
    let gone = "node2";
    let moved: Vec<String> = first
        .iter()
        .filter(|(_, (n, _))| n == gone)
        .map(|(s, _)| s.clone())
        .collect();
    let i = nodes.iter().position(|n| n.name == gone).unwrap();
    nodes[i].kill();
    let stopped = crate::util::now();
    eventually("the stopped node's checks run elsewhere", || async {
        let s = sources(&nodes[watcher]).await?;
        let pending: Vec<&String> = moved
            .iter()
            .filter(|m| s.get(*m).is_none_or(|(n, at)| n == gone || *at < stopped))
            .collect();
        pending
            .is_empty()
            .then_some(())
            .ok_or(format!("{pending:?}"))
    })
    .await;
    let after = assignment(&nodes[watcher], 2).await;
    assert!(!after.contains_key(gone), "{after:?}");
}

/// Waits until every node answers a request with `token` with `code`.
async fn token_answers(nodes: &[Node], token: &str, code: u16) {
    for n in nodes {
        eventually("the token's standing on every node", || async {
            let got = n.status_with(token).await?;
            (got == code).then_some(()).ok_or(got.to_string())
        })
        .await;
    }
}

/// The checks each node runs, as `/v1/status/Cluster` on `node` shows them once it
/// lists `count` nodes whose counts add up to every checkable.
async fn assignment(node: &Node, count: usize) -> BTreeMap<String, u64> {
    eventually("the status lists the assignment", || async {
        let cluster = node.cluster().await?;
        let nodes = cluster["nodes"].as_array().ok_or(cluster.to_string())?;
        let checks: BTreeMap<String, u64> = nodes
            .iter()
            .map(|n| {
                (
                    n["name"].as_str().unwrap_or_default().to_string(),
                    n["checks"].as_u64().unwrap_or_default(),
                )
            })
            .collect();
        (checks.len() == count
            && checks.values().all(|c| *c > 0)
            && checks.values().sum::<u64>() == 13)
            .then_some(checks.clone())
            .ok_or(format!("{cluster}"))
    })
    .await
}

fn sse_ids(text: &str) -> Vec<u64> {
    text.lines()
        .filter_map(|l| l.strip_prefix("id: "))
        .map(|id| id.parse().unwrap())
        .collect()
}

fn outputs(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(|d| {
            serde_json::from_str::<Json>(d).unwrap()["check_result"]["output"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}
