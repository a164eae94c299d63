//! Reachability: a service of a HARD DOWN host, and a host behind a failed `Dependency`,
//! are unreachable — recorded in their results, counted by `/v1/status/CIB`, and their
//! problems notify nobody until the parent is back.

use serde_json::{json, Value as Json};

use crate::util::{now, Server, PASSIVE};

async fn submit(s: &Server, kind: &str, name: &str, exit: u8) -> Json {
    let key = if kind == "Host" { "host" } else { "service" };
    let (status, res) = s
        .post(
            "/v1/actions/process-check-result",
            json!({"type": kind, key: name, "exit_status": exit, "plugin_output": format!("out {exit}")}),
        )
        .await;
    assert_eq!(status, 200, "{res}");
    res
}

async fn attrs(s: &Server, path: &str) -> Json {
    let (status, res) = s.get(path).await;
    assert_eq!(status, 200, "{res}");
    res["results"][0]["attrs"].clone()
}

async fn cib(s: &Server) -> Json {
    let (status, res) = s.get("/v1/status/CIB").await;
    assert_eq!(status, 200, "{res}");
    res["results"][0]["status"].clone()
}

const CONFIG: &str = r#"
object User "alice" { }
object NotificationCommand "nothing" { command = [ "/bin/true" ] }
apply Notification "mail" to Service {
  command = "nothing"
  users = [ "alice" ]
  interval = 0
  assign where true
}
apply Dependency "uplink" to Host {
  parent_host_name = "h1"
  assign where host.name == "h2"
}
"#;

#[tokio::test]
async fn unreachable_objects_are_recorded_counted_and_silent() {
    let s = Server::start_manual(&format!("{PASSIVE}{CONFIG}")).await;
    // The applied dependency is named and linked as Icinga's `apply Dependency` does.
    let dep = attrs(&s, "/v1/objects/dependencies/h2!uplink").await;
    assert_eq!(
        (
            dep["child_host_name"].clone(),
            dep["parent_host_name"].clone()
        ),
        (json!("h2"), json!("h1"))
    );
    let before = cib(&s).await;
    assert_eq!(
        (
            before["num_hosts_unreachable"].clone(),
            before["num_services_unreachable"].clone()
        ),
        (json!(0), json!(0))
    );

    // h1 goes HARD DOWN (three attempts by default).
    for _ in 0..3 {
        submit(&s, "Host", "h1", 1).await;
    }
    let h1 = attrs(&s, "/v1/objects/hosts/h1").await;
    assert_eq!(
        (h1["state"].clone(), h1["state_type"].clone()),
        (json!(1), json!(1))
    );
    assert_eq!(h1["last_reachable"], true, "h1 has no parent");

    // Its service fails HARD: unreachable (the host is down), no notification.
    submit(&s, "Service", "h1!passive", 2).await;
    submit(&s, "Service", "h1!passive", 2).await;
    let svc = attrs(&s, "/v1/objects/services/h1!passive").await;
    assert_eq!(
        (svc["state"].clone(), svc["state_type"].clone()),
        (json!(2), json!(1))
    );
    assert_eq!(svc["last_reachable"], false);
    assert!(
        svc["last_state_unreachable"].as_f64().unwrap_or(0.0) > 0.0,
        "{svc}"
    );
    assert_eq!(svc["last_check_result"]["vars_after"]["reachable"], false);
    assert!(
        s.events("Notification").is_empty(),
        "{:?}",
        s.events("Notification")
    );

    // h2 depends on h1: its own failure is unreachable too; its service is reachable
    // (only its host counts for it, and h2 is not HARD DOWN yet).
    submit(&s, "Host", "h2", 1).await;
    assert_eq!(
        attrs(&s, "/v1/objects/hosts/h2").await["last_reachable"],
        false
    );
    submit(&s, "Service", "h2!passive", 0).await;
    assert_eq!(
        attrs(&s, "/v1/objects/services/h2!passive").await["last_reachable"],
        true
    );
    let during = cib(&s).await;
    assert_eq!(
        (
            during["num_hosts_unreachable"].clone(),
            during["num_services_unreachable"].clone()
        ),
        (json!(1), json!(1))
    );

    // h1 is back, its service recovers and fails again: reachable now. The problem held
    // back while unreachable is still pending, so the new one joins it and goes out when
    // the held-back notifications are looked at again (every 5 s) — once.
    submit(&s, "Host", "h1", 0).await;
    submit(&s, "Service", "h1!passive", 0).await;
    assert!(
        s.events("Notification").is_empty(),
        "no recovery for a problem nobody heard of"
    );
    submit(&s, "Service", "h1!passive", 2).await;
    submit(&s, "Service", "h1!passive", 2).await;
    let svc = attrs(&s, "/v1/objects/services/h1!passive").await;
    assert_eq!(svc["last_reachable"], true);
    // The next look is on a 5 s mark at least 5 s away.
    s.advance(10.0).await;
    let sent = s.events("Notification");
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["notification_type"], "PROBLEM");
    assert_eq!(sent[0]["service"], "passive");
    assert_eq!(sent[0]["host"], "h1");
    s.advance(10.0).await;
    assert_eq!(s.events("Notification").len(), 1, "sent once");
    let after = cib(&s).await;
    assert_eq!(
        (
            after["num_hosts_unreachable"].clone(),
            after["num_services_unreachable"].clone()
        ),
        (json!(0), json!(0))
    );
}

/// A dependency with `disable_checks` stops its child's scheduled checks while the
/// parent is down; a forced check still runs, and an unrelated host goes on being checked.
#[tokio::test]
async fn failed_dependency_with_disable_checks_skips_checks() {
    let s = Server::start_manual(
        r#"
object Host "parent" { check_command = "dummy"; enable_active_checks = false; max_check_attempts = 1 }
object Host "child" { check_command = "dummy"; check_interval = 1s }
object Host "free" { check_command = "dummy"; check_interval = 1s }
object Dependency "gate" { parent_host_name = "parent"; child_host_name = "child"; disable_checks = true }
"#,
    )
    .await;
    let last = |a: &Json| {
        a["last_check_result"]["execution_end"]
            .as_f64()
            .unwrap_or(0.0)
    };
    // Both are checked while the parent is pending (once the scheduler has planned them).
    for h in ["child", "free"] {
        s.wait_for(&format!("/v1/objects/hosts/{h}"), |a| {
            a["next_check"].as_f64().is_some_and(|t| t > 0.0)
        })
        .await;
    }
    s.advance(2.0).await;
    let t = s.now();
    for h in ["child", "free"] {
        s.wait_for(&format!("/v1/objects/hosts/{h}"), |a| last(a) >= t)
            .await;
    }
    submit(&s, "Host", "parent", 1).await;
    let child_before = last(&attrs(&s, "/v1/objects/hosts/child").await);
    // Three rounds of two check intervals: the free host is checked in each, the child
    // never.
    for _ in 0..3 {
        s.advance(2.0).await;
        let t = s.now();
        s.wait_for("/v1/objects/hosts/free", |a| last(a) >= t).await;
    }
    let free = attrs(&s, "/v1/objects/hosts/free").await;
    assert_eq!(free["last_reachable"], true);
    let child = attrs(&s, "/v1/objects/hosts/child").await;
    assert_eq!(
        last(&child),
        child_before,
        "child checked while its parent is down"
    );
    // A forced check is not held back.
    let (status, res) = s
        .post(
            "/v1/actions/reschedule-check",
            json!({"type": "Host", "host": "child", "force": true}),
        )
        .await;
    assert_eq!(status, 200, "{res}");
    let child = s
        .wait_for("/v1/objects/hosts/child", |a| last(a) > child_before)
        .await;
    assert_eq!(child["last_reachable"], false, "its parent is still down");
}

/// Along dependencies, as Icinga does: a child's state change has its parent checked now
/// (its next check was an hour away); the parent's recovery brings its failed child's
/// next check within a minute.
#[tokio::test]
async fn dependencies_move_checks_of_parents_and_children() {
    let s = Server::start(
        r#"
object Host "p" { check_command = "dummy"; check_interval = 1h; retry_interval = 1m; max_check_attempts = 1 }
object Host "c" { check_command = "dummy"; check_interval = 1h; max_check_attempts = 1 }
object Dependency "up" { parent_host_name = "p"; child_host_name = "c" }
"#,
    )
    .await;
    // The child's first result is a state change (from pending): the parent, its next
    // check an hour away after a passive result, is checked now.
    submit(&s, "Host", "p", 0).await;
    submit(&s, "Host", "c", 0).await;
    s.wait_for("/v1/objects/hosts/p", |a| {
        a["last_check_result"]["active"] == true
    })
    .await;
    // A passive result for the parent: its next check is an hour away.
    submit(&s, "Host", "p", 0).await;
    let p = attrs(&s, "/v1/objects/hosts/p").await;
    assert_eq!(p["last_check_result"]["active"], false);
    let hour = now() + 3000.0;
    assert!(p["next_check"].as_f64().unwrap() > hour, "{p}");

    // The child fails: the parent is checked now (the dummy check runs: an active result).
    submit(&s, "Host", "c", 1).await;
    let p = s
        .wait_for("/v1/objects/hosts/p", |a| {
            a["last_check_result"]["active"] == true
        })
        .await;
    assert_eq!(p["state"], 0);

    // The parent goes down and recovers: the failed child is due within a minute.
    let c = attrs(&s, "/v1/objects/hosts/c").await;
    assert!(c["next_check"].as_f64().unwrap() > hour, "{c}");
    submit(&s, "Host", "p", 1).await;
    submit(&s, "Host", "p", 0).await;
    let c = attrs(&s, "/v1/objects/hosts/c").await;
    // (Due at once, it may even have been checked already.)
    let next = c["next_check"].as_f64().unwrap();
    assert!(
        next <= now() + 60.0 || c["last_check_result"]["active"] == true,
        "{c}"
    );
}
