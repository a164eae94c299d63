//! Active checks end to end: the scheduler runs real plugins from monitoring-plugins-basic
//! and built-in checks, the processor turns results into SOFT/HARD state, and the state
//! survives a restart.

use std::time::{Duration, Instant};

use serde_json::Value as Json;

use crate::util::{Server, PERIODS};

const CONFIG: &str = r#"
object CheckCommand "plugin-dummy" {
  command = [ PluginDir + "/check_dummy", "$dummy_exit$", "$dummy_output$" ]
}
object Host "h1" {
  check_command = "dummy"
  check_interval = 1s
  vars.dummy_text = "host $host.name$ fine"
}
object Service "crit" {
  host_name = "h1"
  check_command = "plugin-dummy"
  check_interval = 1s
  retry_interval = 1s
  max_check_attempts = 2
  vars.dummy_exit = 2
  vars.dummy_output = "boom|load=5;1;2"
}
object Service "refused" {
  host_name = "h1"
  check_command = "plugin-dummy"
  check_interval = 1s
  vars.dummy_exit = "not-a-number"
}
"#;

/// Polls `path` until `done` holds for its first result (at most 20 s).
async fn wait_for(s: &Server, path: &str, done: impl Fn(&Json) -> bool) -> Json {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, body) = s.get(path).await;
        let item = body["results"][0].clone();
        if done(&item["attrs"]) {
            return item;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting on {path}: {item}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The first check result of `path` once there is one.
async fn last_result(s: &Server, path: &str) -> Json {
    let item = wait_for(s, path, |a| !a["last_check_result"].is_null()).await;
    item["attrs"]["last_check_result"].clone()
}

/// A real plugin's CRITICAL goes SOFT 1 → HARD after max_check_attempts; output and
/// performance data are split; the built-in dummy check resolves macros.
#[tokio::test]
async fn plugins_run_and_states_harden() {
    let s = Server::start(CONFIG).await;
    let svc = wait_for(&s, "/v1/objects/services/h1!crit", |a| a["state_type"] == 1).await;
    let a = &svc["attrs"];
    assert_eq!(a["state"], 2);
    assert_eq!(a["check_attempt"], 1);
    assert_eq!(a["last_hard_state"], 2);
    let cr = &a["last_check_result"];
    assert_eq!(cr["output"], "CRITICAL: boom");
    assert_eq!(cr["performance_data"], serde_json::json!(["load=5;1;2"]));
    assert_eq!(cr["exit_status"], 2);
    assert_eq!(cr["vars_after"]["state_type"], 1);
    assert!(cr["command"][0].as_str().unwrap().ends_with("/check_dummy"));
    assert!(a["last_state_critical"].as_f64().unwrap() > 0.0);

    let host = wait_for(&s, "/v1/objects/hosts/h1", |a| {
        !a["last_check_result"].is_null()
    })
    .await;
    assert_eq!(host["attrs"]["state"], 0);
    assert_eq!(host["attrs"]["last_check_result"]["output"], "host h1 fine");

    // check_dummy refuses a non-numeric state with UNKNOWN.
    let t = wait_for(&s, "/v1/objects/services/h1!refused", |a| {
        !a["last_check_result"].is_null()
    })
    .await;
    assert_eq!(t["attrs"]["state"], 3);

    // The CIB counts states.
    let (_, body) = s.get("/v1/status/CIB").await;
    let cib = &body["results"][0]["status"];
    assert!(cib["num_services_critical"].as_u64().unwrap() >= 1, "{cib}");
    assert_eq!(cib["num_hosts_up"], 1, "{cib}");
    // ... and the checks run in the last minute, with their execution times.
    assert!(
        cib["active_service_checks_1min"].as_u64().unwrap() >= 2,
        "{cib}"
    );
    assert!(
        cib["active_host_checks_1min"].as_u64().unwrap() >= 1,
        "{cib}"
    );
    assert!(
        cib["active_service_checks"].as_f64().unwrap() > 0.0,
        "{cib}"
    );
    assert!(cib["max_execution_time"].as_f64().unwrap() > 0.0, "{cib}");
    assert_eq!(cib["passive_service_checks_1min"], 0, "{cib}");
    let (_, body) = s
        .post(
            "/v1/actions/process-check-result",
            serde_json::json!({"type": "Service", "service": "h1!refused", "exit_status": 1, "plugin_output": "passive"}),
        )
        .await;
    assert_eq!(body["results"][0]["code"], 200, "{body}");
    let (_, body) = s.get("/v1/status/CIB").await;
    let cib = &body["results"][0]["status"];
    assert_eq!(cib["passive_service_checks_1min"], 1, "{cib}");
    assert_eq!(cib["passive_service_checks_15min"], 1, "{cib}");
    let (_, body) = s.get("/v1/status/CheckerComponent").await;
    let perfdata = &body["results"][0]["perfdata"];
    assert_eq!(
        perfdata[0]["label"], "checkercomponent_checker_idle",
        "{body}"
    );
    assert_eq!(perfdata[0]["value"], 3, "{body}");

    // Filters see runtime state.
    let (_, body) = s
        .get("/v1/objects/services?filter=service.state%3D%3D2&attrs=name")
        .await;
    assert_eq!(body["results"][0]["name"], "h1!crit", "{body}");

    // State is durable: right after a restart the last result is there.
    let before = svc["attrs"]["last_check_result"]["execution_end"]
        .as_f64()
        .unwrap();
    let s = s.restart().await;
    let (_, body) = s
        .get("/v1/objects/services/h1!crit?attrs=last_check_result&attrs=state_type")
        .await;
    let a = &body["results"][0]["attrs"];
    assert!(a["last_check_result"]["execution_end"].as_f64().unwrap() >= before);
    assert_eq!(a["state_type"], 1);
}

/// The built-in `icinga` check reports the uptime and the CIB as performance data values;
/// below `icinga_min_version` it is CRITICAL.
#[tokio::test]
async fn icinga_check_reports_the_cib() {
    let s = Server::start(
        r#"
object Host "h" { check_command = "dummy"; check_interval = 1s }
object Service "icinga" { host_name = "h"; check_command = "icinga"; check_interval = 1s }
object Service "too-old" {
  host_name = "h"
  check_command = "icinga"
  check_interval = 1s
  vars.icinga_min_version = "99.0.0"
}
"#,
    )
    .await;
    let cr = &last_result(&s, "/v1/objects/services/h!icinga").await;
    assert_eq!(cr["exit_status"], 0, "{cr}");
    assert!(
        cr["output"]
            .as_str()
            .unwrap()
            .contains("has been running for"),
        "{cr}"
    );
    let values = cr["performance_data"].as_array().unwrap();
    let value = |label: &str| {
        values
            .iter()
            .find(|v| v["label"] == label)
            .unwrap_or_else(|| panic!("no {label} in {cr}"))
            .clone()
    };
    assert_eq!(value("num_services_pending")["type"], "PerfdataValue");
    assert!(value("uptime")["value"].as_f64().unwrap() > 0.0, "{cr}");
    assert_eq!(value("checkercomponent_checker_idle")["value"], 3, "{cr}");
    for label in [
        "active_service_checks_1min",
        "api_num_http_clients",
        "max_execution_time",
    ] {
        assert!(value(label)["value"].is_number(), "{cr}");
    }

    let cr = &last_result(&s, "/v1/objects/services/h!too-old").await;
    assert_eq!(cr["exit_status"], 2, "{cr}");
    assert!(
        cr["output"]
            .as_str()
            .unwrap()
            .ends_with("; Minimum version 99.0.0 is not installed."),
        "{cr}"
    );
}

/// Outside its `check_period` a check does not run, unless forced by `reschedule-check`.
#[tokio::test]
async fn check_period_holds_checks() {
    let s = Server::start_manual(&format!(
        r#"{PERIODS}
object Host "h" {{ check_command = "dummy"; check_interval = 1s; check_period = "always" }}
object Service "held" {{ host_name = "h"; check_command = "dummy"; check_interval = 1s; check_period = "never" }}
"#,
    ))
    .await;
    // The scheduler has planned the host's first check.
    wait_for(&s, "/v1/objects/hosts/h", |a| {
        a["next_check"].as_f64().is_some_and(|t| t > 0.0)
    })
    .await;
    // Three rounds of two check intervals: the host is checked in each, the held service
    // never.
    for _ in 0..3 {
        s.advance(2.0).await;
        let t = s.now();
        wait_for(&s, "/v1/objects/hosts/h", |a| {
            a["last_check_result"]["execution_end"]
                .as_f64()
                .is_some_and(|end| end >= t)
        })
        .await;
    }
    let (_, body) = s
        .get("/v1/objects/services/h!held?attrs=last_check_result")
        .await;
    assert!(
        body["results"][0]["attrs"]["last_check_result"].is_null(),
        "{body}"
    );

    let (status, _) = s
        .post(
            "/v1/actions/reschedule-check",
            serde_json::json!({"service": "h!held", "force": true}),
        )
        .await;
    assert_eq!(status, 200);
    let held = wait_for(&s, "/v1/objects/services/h!held", |a| {
        !a["last_check_result"].is_null()
    })
    .await;
    assert_eq!(
        held["attrs"]["force_next_check"], false,
        "the forced check consumed the force"
    );
}

/// Before its first result, an object shows when the scheduler plans its first check
/// (as Icinga does from the start), not 0; with active checks off, the next planned
/// look a check interval on.
#[tokio::test]
async fn pending_objects_show_their_planned_check() {
    let start = crate::util::now();
    let s = Server::start(
        r#"
object Host "h" { check_command = "dummy"; enable_active_checks = false; check_interval = 30m }
object Service "s" { host_name = "h"; check_command = "dummy"; check_interval = 10m }
"#,
    )
    .await;
    for path in ["/v1/objects/hosts/h", "/v1/objects/services/h!s"] {
        let a = s
            .wait_for(path, |a| a["next_check"].as_f64().is_some_and(|t| t > 0.0))
            .await;
        let next = a["next_check"].as_f64().unwrap_or(0.0);
        // Spread over the first minute after the start.
        assert!(
            next >= start && next <= crate::util::now() + 60.0,
            "{path}: {a}"
        );
        assert!(a["last_check_result"].is_null(), "{path}: {a}");
    }
}

/// A plugin that cannot be started, or that a signal kills, is logged (Icinga logs both);
/// the check result tells the same.
#[tokio::test]
async fn plugin_failures_are_logged() {
    let dir = crate::durability::data_dir(
        r#"
object CheckCommand "missing" { command = [ "/nonexistent/check_missing" ] }
object CheckCommand "killed" { command = [ "/bin/sh", "-c", "kill -9 $$$$" ] }
"#,
    );
    // Both lines name the process ("Couldn't create process", "Process '…'").
    let (p, mut logged) = crate::durability::spawn_watching(dir.path(), "rocess");
    let c = crate::durability::client(dir.path());
    for (command, line) in [
        (
            "missing",
            "Couldn't create process '/nonexistent/check_missing'",
        ),
        ("killed", "Process '/bin/sh' (PID "),
    ] {
        let res: Json = c
            .get(format!(
                "https://localhost:{}/v1/checker?command={command}",
                p.port
            ))
            .basic_auth("root", Some("secret"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(res["results"][0]["exit_status"], 128, "{res}");
        // Other lines may mention a process too; the failure's line comes.
        let wait = async {
            while let Some(got) = logged.recv().await {
                if got.contains(line) {
                    return true;
                }
            }
            false
        };
        let seen = tokio::time::timeout(Duration::from_secs(30), wait).await;
        assert_eq!(seen, Ok(true), "{line}");
    }
}

/// Objects created through the API after the start are planned and checked: one alone,
/// then several at once, then a host (the scheduler plans what was added since it last
/// looked, not only what the configuration had).
#[tokio::test]
async fn objects_created_at_runtime_are_checked() {
    let s = Server::start(
        r#"object Host "h" { check_command = "dummy"; enable_active_checks = false }"#,
    )
    .await;
    let attrs = serde_json::json!({"attrs": {
        "check_command": "dummy", "check_interval": 1, "vars": {"dummy_state": 1}
    }});
    // A host's exit status 1 is UP: the exit status tells that the check ran.
    let checked = |a: &Json| a["last_check_result"]["exit_status"] == 1;
    let (code, body) = s
        .send("PUT", "/v1/objects/services/h!a", attrs.clone())
        .await;
    assert_eq!(code, 200, "{body}");
    s.wait_for("/v1/objects/services/h!a", checked).await;
    for name in ["b", "c", "d"] {
        let (code, body) = s
            .send(
                "PUT",
                &format!("/v1/objects/services/h!{name}"),
                attrs.clone(),
            )
            .await;
        assert_eq!(code, 200, "{body}");
    }
    for name in ["b", "c", "d"] {
        s.wait_for(&format!("/v1/objects/services/h!{name}"), checked)
            .await;
    }
    let (code, body) = s.send("PUT", "/v1/objects/hosts/h2", attrs).await;
    assert_eq!(code, 200, "{body}");
    s.wait_for("/v1/objects/hosts/h2", checked).await;
}
