//! The perfdata writers against real receivers: Graphite's `carbon-cache` (whisper files
//! read back with `whisper-fetch`) and InfluxDB 1.x (`influxd`, read back with InfluxQL),
//! both from Debian and started by the test on free loopback ports. Without them the
//! tests are skipped, unless `AUSPEX_REQUIRE_RECEIVERS` is set (as CI sets it). The
//! InfluxDB 2 API is not in Debian: its writer's requests are checked at the socket.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value as Json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::peers::{free_port, installed, Daemon};
use crate::util::{Server, PASSIVE};

const REQUIRE: &str = "AUSPEX_REQUIRE_RECEIVERS";

/// `carbon-cache` in the foreground, on its own directory and ports.
struct Carbon {
    dir: PathBuf,
    port: u16,
    daemon: Option<Daemon>,
}

impl Carbon {
    fn new(dir: &Path) -> Carbon {
        let port = free_port();
        let conf = dir.join("conf");
        std::fs::create_dir_all(&conf).unwrap();
        let d = dir.display();
        std::fs::write(
            conf.join("carbon.conf"),
            format!(
                "[cache]\nSTORAGE_DIR = {d}/storage/\nLOCAL_DATA_DIR = {d}/storage/whisper/\n\
                 CONF_DIR = {d}/conf/\nLOG_DIR = {d}/log/\nPID_DIR = {d}/run/\nDATABASE = whisper\n\
                 ENABLE_TAGS = False\nMAX_CACHE_SIZE = inf\nMAX_UPDATES_PER_SECOND = 100000\n\
                 MAX_CREATES_PER_MINUTE = 100000\nWHISPER_AUTOFLUSH = True\nLOG_UPDATES = True\n\
                 LINE_RECEIVER_INTERFACE = 127.0.0.1\nLINE_RECEIVER_PORT = {port}\n\
                 ENABLE_UDP_LISTENER = False\nPICKLE_RECEIVER_INTERFACE = 127.0.0.1\n\
                 PICKLE_RECEIVER_PORT = {}\nCACHE_QUERY_INTERFACE = 127.0.0.1\nCACHE_QUERY_PORT = {}\n",
                free_port(),
                free_port()
            ),
        )
        .unwrap();
        std::fs::write(
            conf.join("storage-schemas.conf"),
            "[default]\npattern = .*\nretentions = 1s:1h\n",
        )
        .unwrap();
        Carbon {
            dir: dir.to_path_buf(),
            port,
            daemon: None,
        }
    }

    async fn start(&mut self) {
        let mut daemon = Daemon::spawn(
            Command::new("carbon-cache")
                .arg(format!("--config={}/conf/carbon.conf", self.dir.display()))
                .args(["--nodaemon", "start"]),
        );
        let listening = format!("CarbonReceiverFactory starting on {}", self.port);
        daemon
            .logged("carbon listens", |l| l.contains(&listening))
            .await;
        self.daemon = Some(daemon);
    }

    /// Waits until Carbon has written each of `metrics` (its update log says so).
    async fn written(&mut self, metrics: &[String]) {
        let daemon = self.daemon.as_mut().expect("carbon runs");
        let mut missing: std::collections::HashSet<&str> =
            metrics.iter().map(String::as_str).collect();
        while !missing.is_empty() {
            let line = daemon
                .logged("Carbon writes the metrics", |l| {
                    l.contains("[updates] wrote")
                })
                .await;
            missing.retain(|m| !line.contains(&format!(" for {m} in ")));
        }
    }

    fn stop(&mut self) {
        self.daemon = None;
    }

    /// The value whisper holds for `metric` at second `at`.
    fn value(&self, metric: &str, at: i64) -> Option<f64> {
        let file = self
            .dir
            .join("storage/whisper")
            .join(format!("{}.wsp", metric.replace('.', "/")));
        if !file.exists() {
            return None;
        }
        let out = Command::new("whisper-fetch")
            .arg(format!("--from={}", at - 1))
            .arg(format!("--until={}", at + 1))
            .arg(&file)
            .output()
            .ok()?;
        String::from_utf8_lossy(&out.stdout).lines().find_map(|l| {
            let (t, v) = l.split_once('\t')?;
            (t.parse::<i64>().ok()? == at)
                .then(|| v.parse().ok())
                .flatten()
        })
    }
}

async fn submit(s: &Server, exit: u8, perfdata: &str) -> i64 {
    let (status, res) = s
        .post(
            "/v1/actions/process-check-result",
            json!({"type": "Service", "service": "h1!passive", "exit_status": exit,
                   "plugin_output": "out", "performance_data": perfdata}),
        )
        .await;
    assert_eq!(status, 200, "{res}");
    let (_, obj) = s.get("/v1/objects/services/h1!passive").await;
    obj["results"][0]["attrs"]["last_check_result"]["execution_end"]
        .as_f64()
        .unwrap() as i64
}

/// Icinga's metric names and values reach Carbon; a Carbon restart loses nothing: the
/// result submitted while it was down arrives once it is back.
#[tokio::test(flavor = "multi_thread")]
async fn graphite_writer_feeds_carbon_and_survives_its_restart() {
    if !installed("carbon-cache", REQUIRE) || !installed("whisper-fetch", REQUIRE) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut carbon = Carbon::new(dir.path());
    carbon.start().await;
    let s = Server::start(&format!(
        "{PASSIVE}\nobject GraphiteWriter \"graphite\" {{ port = {}; enable_send_thresholds = true; enable_send_metadata = true }}",
        carbon.port
    ))
    .await;
    let at = submit(&s, 1, "'disk /'=2KiB;1;2;0;4 load=0.5").await;
    let prefix = "icinga2.h1.services.passive.passive";
    let expected = [
        ("perfdata.disk__.value", 2048.0),
        ("perfdata.disk__.warn", 1024.0),
        ("perfdata.disk__.crit", 2048.0),
        ("perfdata.disk__.min", 0.0),
        ("perfdata.disk__.max", 4096.0),
        ("perfdata.load.value", 0.5),
        ("metadata.state", 1.0),
        ("metadata.current_attempt", 1.0),
        ("metadata.max_check_attempts", 2.0),
        ("metadata.reachable", 1.0),
        ("metadata.acknowledgement", 0.0),
    ];
    let names: Vec<String> = expected
        .iter()
        .map(|(metric, _)| format!("{prefix}.{metric}"))
        .collect();
    carbon.written(&names).await;
    for (name, (_, want)) in names.iter().zip(expected) {
        assert_eq!(carbon.value(name, at), Some(want), "{name}");
    }
    let status = s.get("/v1/status/GraphiteWriter").await.1;
    let node = &status["results"][0]["status"]["graphitewriter"]["graphite"];
    assert_eq!(node["connected"], true, "{status}");
    assert_eq!(
        status["results"][0]["perfdata"][0]["label"],
        "graphitewriter_graphite_work_queue_items"
    );

    let metrics = s
        .client()
        .get(s.url("/metrics"))
        .basic_auth("root", Some("secret"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics
            .contains(r#"auspex_perfdata_written_total{type="GraphiteWriter",name="graphite"} 1"#),
        "{metrics}"
    );

    carbon.stop();
    let at = submit(&s, 2, "load=7").await;
    carbon.start().await;
    let name = format!("{prefix}.perfdata.load.value");
    // Written by the restarted Carbon: the writer resent what it could not deliver.
    carbon.written(std::slice::from_ref(&name)).await;
    assert_eq!(carbon.value(&name, at), Some(7.0));
}

/// `influxd` on its own directory and ports, with the database `icinga2`.
struct Influx {
    port: u16,
    daemon: Daemon,
}

impl Influx {
    async fn start(dir: &Path) -> Influx {
        let port = free_port();
        let d = dir.display();
        let conf = dir.join("influxdb.conf");
        std::fs::write(
            &conf,
            format!(
                "reporting-disabled = true\nbind-address = \"127.0.0.1:{}\"\n\
                 [meta]\n  dir = \"{d}/meta\"\n[data]\n  dir = \"{d}/data\"\n  wal-dir = \"{d}/wal\"\n\
                 [http]\n  bind-address = \"127.0.0.1:{port}\"\n  log-enabled = true\n\
                 [monitor]\n  store-enabled = false\n",
                free_port()
            ),
        )
        .unwrap();
        let mut daemon = Daemon::spawn(Command::new("influxd").arg("-config").arg(&conf));
        let listening = format!("addr=127.0.0.1:{port}");
        daemon
            .logged("influxd listens", |l| {
                l.contains("Listening on HTTP") && l.contains(&listening)
            })
            .await;
        let created = reqwest::Client::new()
            .post(format!("http://127.0.0.1:{port}/query"))
            .form(&[("q", "CREATE DATABASE icinga2")])
            .send()
            .await
            .unwrap();
        assert!(created.status().is_success());
        Influx { port, daemon }
    }

    async fn query(&self, q: &str) -> Json {
        reqwest::Client::new()
            .get(format!("http://127.0.0.1:{}/query", self.port))
            .query(&[("db", "icinga2"), ("q", q)])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// The rows of a query as column → value maps (empty while nothing matches).
    async fn rows(&self, q: &str) -> Vec<serde_json::Map<String, Json>> {
        let r = self.query(q).await;
        let Some(series) = r["results"][0]["series"][0].as_object().cloned() else {
            return Vec::new();
        };
        let columns: Vec<String> = series["columns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap().to_string())
            .collect();
        series["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|row| {
                columns
                    .iter()
                    .cloned()
                    .zip(row.as_array().unwrap().iter().cloned())
                    .collect()
            })
            .collect()
    }
}

/// Points with Icinga's measurement, tags, fields and metadata reach InfluxDB 1.x.
#[tokio::test(flavor = "multi_thread")]
async fn influxdb_writer_feeds_influxdb() {
    if !installed("influxd", REQUIRE) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut influx = Influx::start(dir.path()).await;
    let s = Server::start(&format!(
        "{PASSIVE}\nobject InfluxdbWriter \"influx\" {{ port = {}; flush_threshold = 1; enable_send_thresholds = true; enable_send_metadata = true }}",
        influx.port
    ))
    .await;
    submit(&s, 1, "'disk /'=2KiB;1;2;0;4").await;
    // InfluxDB's access log tells when the writer's points were accepted.
    influx
        .daemon
        .logged("the points are written", |l| {
            l.contains("POST /write?db=icinga2") && l.contains(" 204 ")
        })
        .await;
    let rows = influx.rows("SELECT * FROM \"passive\"").await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    let point = rows
        .iter()
        .find(|r| r["metric"] == "disk /")
        .expect("the perfdata point");
    assert_eq!(point["hostname"], "h1");
    assert_eq!(point["service"], "passive");
    for (field, want) in [
        ("value", 2048.0),
        ("warn", 1024.0),
        ("crit", 2048.0),
        ("min", 0.0),
        ("max", 4096.0),
    ] {
        assert_eq!(point[field].as_f64(), Some(want), "{field}: {point:?}");
    }
    assert_eq!(point["unit"], "bytes");
    let meta = rows
        .iter()
        .find(|r| r["metric"].is_null())
        .expect("the metadata point");
    assert_eq!(meta["state"], 1);
    assert_eq!(meta["max_check_attempts"], 2);
    assert_eq!(meta["reachable"], true);
    assert_eq!(meta["hostname"], "h1");
    let (_, status) = s.get("/v1/status/InfluxdbWriter").await;
    let labels: Vec<&str> = status["results"][0]["perfdata"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["label"].as_str().unwrap())
        .collect();
    assert_eq!(
        labels,
        [
            "influxdbwriter_influx_work_queue_items",
            "influxdbwriter_influx_work_queue_item_rate",
            "influxdbwriter_influx_data_queue_items"
        ]
    );
    let node = &status["results"][0]["status"]["influxdbwriter"]["influx"];
    assert!(node["data_buffer_items"].is_number(), "{status}");
}

/// The InfluxDB 2 writer posts the same points to `/api/v2/write` with the organization,
/// bucket and token.
#[tokio::test]
async fn influxdb2_writer_posts_to_the_v2_api() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let s = Server::start(&format!(
        "{PASSIVE}\nobject Influxdb2Writer \"influx2\" {{ port = {port}; organization = \"monitoring\"; bucket = \"icinga2\"; auth_token = \"s3cret\"; flush_threshold = 1 }}"
    ))
    .await;
    submit(&s, 0, "load=0.25").await;
    let (mut conn, _) = tokio::time::timeout(Duration::from_secs(10), listener.accept())
        .await
        .expect("the writer connects")
        .unwrap();
    let mut request = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&request).contains("value=0.250000 1") {
        let n = tokio::time::timeout(Duration::from_secs(10), conn.read(&mut buf))
            .await
            .expect("the request arrives")
            .unwrap();
        assert!(n > 0, "closed early: {}", String::from_utf8_lossy(&request));
        request.extend_from_slice(&buf[..n]);
    }
    conn.write_all(b"HTTP/1.1 204 No Content\r\n\r\n")
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&request).to_lowercase();
    assert!(
        text.starts_with("post /api/v2/write?org=monitoring&bucket=icinga2&precision=s "),
        "{text}"
    );
    assert!(text.contains("authorization: token s3cret"), "{text}");
    assert!(
        text.contains("passive,hostname=h1,service=passive,metric=load value=0.250000 "),
        "{text}"
    );
}
