//! `/v1/actions`: passive results (single and batch) and rescheduling.

use serde_json::{json, Value as Json};

use crate::util::{Server, PASSIVE};

fn config() -> String {
    format!("{PASSIVE}{EXTRA}")
}

/// Beyond [`PASSIVE`].
const EXTRA: &str = r#"
object Service "nopassive" { host_name = "h1"; check_command = "dummy"; enable_passive_checks = false; enable_active_checks = false }
object ApiUser "viewer" { password = "v"; permissions = [ "objects/query/*" ] }
"#;

async fn attrs(s: &Server, path: &str) -> Json {
    s.get(path).await.1["results"][0]["attrs"].clone()
}

/// A passive result changes state (SOFT, then HARD at max_check_attempts) and is shown
/// as Icinga shows it; the exit status is kept.
#[tokio::test]
async fn process_check_result() {
    let s = Server::start(&config()).await;
    let body = json!({
        "type": "Service",
        "filter": "host.name == \"h1\" && service.name == \"passive\"",
        "exit_status": 2,
        "plugin_output": "DISK CRITICAL - /var full",
        "performance_data": "/var=99%;80;90 'free space'=1MB",
        "check_source": "script-1",
    });
    let (status, res) = s
        .post("/v1/actions/process-check-result", body.clone())
        .await;
    assert_eq!(status, 200, "{res}");
    assert_eq!(
        res["results"][0],
        json!({"code": 200, "status": "Successfully processed check result for object 'h1!passive'."})
    );
    let a = attrs(&s, "/v1/objects/services/h1!passive").await;
    assert_eq!(
        (a["state"].clone(), a["state_type"].clone()),
        (json!(2), json!(0))
    );
    let cr = &a["last_check_result"];
    assert_eq!(cr["output"], "DISK CRITICAL - /var full");
    assert_eq!(
        cr["performance_data"],
        json!(["/var=99%;80;90", "'free space'=1MB"])
    );
    assert_eq!(cr["exit_status"], 2);
    assert_eq!(cr["active"], false);
    assert_eq!(cr["check_source"], "script-1");
    // Passive: overdue two intervals after the result (a SOFT problem: the retry
    // interval, 60 s by default).
    assert_eq!(
        a["next_update"].as_f64(),
        cr["execution_end"].as_f64().map(|end| end + 120.0)
    );

    // The query-string form, as scripts send it.
    let res = s
        .client()
        .post(s.url("/v1/actions/process-check-result?service=h1!passive"))
        .basic_auth("root", Some("secret"))
        .json(&json!({"exit_status": 2, "plugin_output": "still"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let a = attrs(&s, "/v1/objects/services/h1!passive").await;
    assert_eq!(
        (a["state"].clone(), a["state_type"].clone()),
        (json!(2), json!(1)),
        "HARD after 2 attempts"
    );

    // Hosts: 0 UP, 1 DOWN, anything else refused.
    let (status, res) = s
        .post(
            "/v1/actions/process-check-result",
            json!({"host": "h2", "exit_status": 1, "plugin_output": "down"}),
        )
        .await;
    assert_eq!(status, 200, "{res}");
    assert_eq!(attrs(&s, "/v1/objects/hosts/h2").await["state"], 1);
    let (status, res) = s
        .post(
            "/v1/actions/process-check-result",
            json!({"host": "h2", "exit_status": 2, "plugin_output": "x"}),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        res["results"][0]["status"],
        "Invalid 'exit_status' for Host h2."
    );

    // Missing parameters, disabled passive checks, nothing selected.
    let (status, res) = s
        .post(
            "/v1/actions/process-check-result",
            json!({"host": "h2", "exit_status": 0}),
        )
        .await;
    assert_eq!(
        (status, res["results"][0]["status"].clone()),
        (400, json!("Parameter 'plugin_output' is required"))
    );
    let (status, res) = s
        .post(
            "/v1/actions/process-check-result",
            json!({"service": "h1!nopassive", "exit_status": 0, "plugin_output": "x"}),
        )
        .await;
    assert_eq!(status, 403);
    assert_eq!(
        res["results"][0]["status"],
        "Passive checks are disabled for object 'h1!nopassive'."
    );
    let (status, res) = s
        .post("/v1/actions/process-check-result", json!({"type": "Service", "filter": "service.name == \"none\"", "exit_status": 0, "plugin_output": "x"}))
        .await;
    assert_eq!(
        (status, res["status"].clone()),
        (404, json!("No objects found."))
    );
    let (status, _) = s
        .post(
            "/v1/actions/process-check-result",
            json!({"filter": "true", "exit_status": 0, "plugin_output": "x"}),
        )
        .await;
    assert_eq!(status, 404);
    let (status, res) = s.post("/v1/actions/no-such-action", json!({})).await;
    assert_eq!(
        (status, res["status"].clone()),
        (404, json!("Action 'no-such-action' does not exist."))
    );

    // A result older than the last one is refused with 409.
    let (status, res) = s
        .post("/v1/actions/process-check-result", json!({"service": "h1!passive", "exit_status": 0, "plugin_output": "old", "execution_start": 1000, "execution_end": 1001}))
        .await;
    assert_eq!(status, 409, "{res}");
    assert_eq!(
        res["results"][0]["status"],
        "Newer check result already present. Check result for 'h1!passive' was discarded."
    );

    // Without the permission: 403 naming it.
    let res = s
        .client()
        .post(s.url("/v1/actions/process-check-result"))
        .basic_auth("viewer", Some("v"))
        .json(&json!({"host": "h1", "exit_status": 0, "plugin_output": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let body: Json = res.json().await.unwrap();
    assert_eq!(
        body["status"],
        "Missing permission: actions/process-check-result"
    );
}

/// Many results in one request, each answered in order with its own code.
#[tokio::test]
async fn batch_results() {
    let s = Server::start(&config()).await;
    let (status, res) = s
        .post(
            "/v1/actions/process-check-results",
            json!({"results": [
                {"service": "h1!passive", "exit_status": 1, "plugin_output": "warn"},
                {"service": "h2!passive", "exit_status": 0, "plugin_output": "ok"},
                {"service": "nope!passive", "exit_status": 0, "plugin_output": "x"},
                {"host": "h1", "exit_status": 3, "plugin_output": "x"},
            ]}),
        )
        .await;
    assert_eq!(status, 500, "two different failure codes: {res}");
    let codes: Vec<u64> = res["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_u64().unwrap())
        .collect();
    assert_eq!(codes, [200, 200, 404, 400]);
    assert_eq!(
        attrs(&s, "/v1/objects/services/h1!passive").await["state"],
        1
    );
    assert_eq!(
        attrs(&s, "/v1/objects/services/h2!passive").await["state"],
        0
    );
}

/// `reschedule-check` sets the next check.
#[tokio::test]
async fn reschedule_check() {
    let s = Server::start(&config()).await;
    let (status, res) = s
        .post(
            "/v1/actions/reschedule-check",
            json!({"type": "Host", "next_check": 4102444800u64}),
        )
        .await;
    assert_eq!(status, 200, "{res}");
    assert_eq!(res["results"].as_array().unwrap().len(), 2);
    assert_eq!(
        res["results"][0]["status"],
        "Successfully rescheduled check for object 'h1'."
    );
    assert_eq!(
        attrs(&s, "/v1/objects/hosts/h2").await["next_check"],
        4102444800u64
    );
}

/// Every committed result is published on the bus once: CheckResult, then StateChange
/// for SOFT results and state changes, with Icinga's field names and rising ids.
#[tokio::test]
async fn results_publish_events() {
    let s = Server::start(&config()).await;
    let mut events = s.state().engine.bus.subscribe();
    let (status, _) = s
        .post(
            "/v1/actions/process-check-result",
            json!({"service": "h2!passive", "exit_status": 2, "plugin_output": "bad"}),
        )
        .await;
    assert_eq!(status, 200);
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let e = tokio::time::timeout(std::time::Duration::from_secs(5), events.recv())
            .await
            .expect("an event")
            .unwrap();
        let body: Json = serde_json::from_slice(&e.json).unwrap();
        if body["service"] == "passive" && body["host"] == "h2" {
            seen.push((e.id, e.kind, body));
        }
    }
    let (id1, kind1, cr) = &seen[0];
    let (id2, kind2, sc) = &seen[1];
    assert_eq!(
        (*kind1, *kind2),
        (
            auspex::bus::EventKind::CheckResult,
            auspex::bus::EventKind::StateChange
        )
    );
    assert!(id2 > id1);
    assert_eq!(cr["type"], "CheckResult");
    assert_eq!(cr["check_result"]["output"], "bad");
    assert_eq!(cr["acknowledgement"], false);
    assert_eq!(cr["downtime_depth"], 0);
    assert!(cr["timestamp"].as_f64().unwrap() > 0.0);
    assert_eq!(
        (sc["state"].clone(), sc["state_type"].clone()),
        (json!(2), json!(0))
    );
}

/// Results for one object in one batch apply in the order given: every one is accepted
/// and the last one is the state.
#[tokio::test]
async fn batch_results_apply_in_order() {
    let s = Server::start(&config()).await;
    let results: Vec<Json> = (0..300)
        .map(|i| json!({"service": "h1!passive", "exit_status": i % 3, "plugin_output": format!("r{i}")}))
        .collect();
    let (status, res) = s
        .post(
            "/v1/actions/process-check-results",
            json!({ "results": results }),
        )
        .await;
    let items = res["results"].as_array().unwrap();
    let refused = items.iter().filter(|i| i["code"] != 200).count();
    assert_eq!((status, items.len(), refused), (200, 300, 0));
    let a = attrs(&s, "/v1/objects/services/h1!passive").await;
    assert_eq!(a["last_check_result"]["output"], "r299");
}

/// Icinga's external command pipe: commands written to it run as their actions, in
/// order; a malformed line is skipped without stopping the pipe.
#[tokio::test]
async fn external_command_pipe() {
    let s = Server::start(&format!(
        "{PASSIVE}\nobject ExternalCommandListener \"command\" {{ }}\n"
    ))
    .await;
    let pipe = s.data_dir.join("run/cmd/icinga2.cmd");
    let meta = std::fs::metadata(&pipe).unwrap();
    assert!(std::os::unix::fs::FileTypeExt::is_fifo(&meta.file_type()));
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o777,
        0o660
    );
    let mut events = s.state().engine.bus.subscribe();
    let lines = "[1700000000] NO_SUCH_COMMAND;h1\n\
                 [1700000000] PROCESS_SERVICE_CHECK_RESULT;h1;passive;2;CRITICAL - /var full|used=99%\n\
                 [1700000000] ACKNOWLEDGE_SVC_PROBLEM;h1;passive;2;0;1;alice;on it\n";
    tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new().write(true).open(&pipe).unwrap();
        f.write_all(lines.as_bytes()).unwrap();
    })
    .await
    .unwrap();
    // The commands run in order: the acknowledgement's event comes after the result's.
    while events.recv().await.unwrap().kind != auspex::bus::EventKind::AcknowledgementSet {}
    let service = attrs(&s, "/v1/objects/services/h1!passive").await;
    assert_eq!(
        service["last_check_result"]["output"],
        "CRITICAL - /var full"
    );
    assert_eq!(
        service["last_check_result"]["performance_data"],
        json!(["used=99%"])
    );
    assert_eq!(service["state"], 2);
    assert_eq!(service["acknowledgement"], 2, "{service}");
}
