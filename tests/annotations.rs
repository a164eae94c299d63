//! Acknowledgements, comments, downtimes, notifications and the other actions: what each
//! does to the objects, the events it emits, and that it survives a restart.

use serde_json::{json, Value as Json};

use crate::util::{now, Server, PASSIVE, PERIODS};

async fn attrs(s: &Server, path: &str) -> Json {
    s.get(path).await.1["results"][0]["attrs"].clone()
}

async fn result(s: &Server, service: &str, exit: u8) {
    let (status, res) = s
        .post(
            "/v1/actions/process-check-result",
            json!({"type": "Service", "service": service, "exit_status": exit, "plugin_output": format!("out {exit}")}),
        )
        .await;
    assert_eq!(status, 200, "{res}");
}

/// Acknowledging: refused on OK and without author/comment, set on a problem with an
/// acknowledgement comment, refused twice, removed by remove-acknowledgement; every step
/// durable and evented.
#[tokio::test]
async fn acknowledge_and_remove() {
    let s = Server::start(PASSIVE).await;
    result(&s, "h1!passive", 0).await;
    let ack =
        json!({"type": "Service", "service": "h1!passive", "author": "ops", "comment": "on it"});
    let (status, res) = s.post("/v1/actions/acknowledge-problem", ack.clone()).await;
    assert_eq!(status, 409, "{res}");
    assert_eq!(res["results"][0]["status"], "Service h1!passive is OK.");

    result(&s, "h1!passive", 2).await;
    let (status, res) = s
        .post(
            "/v1/actions/acknowledge-problem",
            json!({"type": "Service", "service": "h1!passive", "author": "ops"}),
        )
        .await;
    assert_eq!(status, 400, "{res}");
    assert_eq!(
        res["results"][0]["status"],
        "Acknowledgements require author and comment."
    );
    let (status, res) = s
        .post(
            "/v1/actions/acknowledge-problem",
            json!({"type": "Service", "service": "h1!passive", "author": "ops", "comment": "on it", "sticky": true, "expiry": now() - 10.0}),
        )
        .await;
    assert_eq!(status, 409, "{res}");

    let (status, res) = s
        .post(
            "/v1/actions/acknowledge-problem",
            json!({"type": "Service", "service": "h1!passive", "author": "ops", "comment": "on it", "sticky": true}),
        )
        .await;
    assert_eq!(status, 200, "{res}");
    assert_eq!(
        res["results"][0]["status"],
        "Successfully acknowledged problem for object 'h1!passive'."
    );
    let (status, res) = s.post("/v1/actions/acknowledge-problem", ack.clone()).await;
    assert_eq!(status, 409);
    assert_eq!(
        res["results"][0]["status"],
        "Service h1!passive is already acknowledged."
    );
    let a = attrs(&s, "/v1/objects/services/h1!passive").await;
    assert_eq!(
        (a["acknowledgement"].clone(), a["handled"].clone()),
        (json!(2), json!(true))
    );
    let comments = s.get("/v1/objects/comments").await.1;
    let c = &comments["results"][0]["attrs"];
    assert_eq!(
        (
            c["entry_type"].clone(),
            c["author"].clone(),
            c["text"].clone(),
            c["host_name"].clone(),
            c["service_name"].clone()
        ),
        (
            json!(4),
            json!("ops"),
            json!("on it"),
            json!("h1"),
            json!("passive")
        )
    );
    let set = s.events("AcknowledgementSet");
    assert_eq!(set.len(), 1);
    assert_eq!(
        (
            set[0]["host"].clone(),
            set[0]["service"].clone(),
            set[0]["acknowledgement_type"].clone(),
            set[0]["author"].clone()
        ),
        (json!("h1"), json!("passive"), json!(2), json!("ops"))
    );
    assert_eq!(s.events("CommentAdded")[0]["comment"]["entry_type"], 4);

    // A sticky acknowledgement outlives a change between problem states, and a restart.
    result(&s, "h1!passive", 1).await;
    let s = s.restart().await;
    let a = attrs(&s, "/v1/objects/services/h1!passive").await;
    assert_eq!(a["acknowledgement"], 2);
    assert_eq!(
        s.get("/v1/objects/comments").await.1["results"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let (status, res) = s
        .post(
            "/v1/actions/remove-acknowledgement",
            json!({"type": "Service", "filter": "service.name == \"passive\"", "author": "lead"}),
        )
        .await;
    assert_eq!(status, 200, "{res}");
    assert_eq!(res["results"].as_array().unwrap().len(), 2);
    let a = attrs(&s, "/v1/objects/services/h1!passive").await;
    assert_eq!(a["acknowledgement"], 0);
    assert_eq!(s.get("/v1/objects/comments").await.1["results"], json!([]));
    let cleared = s.events("AcknowledgementCleared");
    assert_eq!(
        cleared.len(),
        1,
        "only the acknowledged service clears: {cleared:?}"
    );
    let removed = s.events("CommentRemoved");
    assert_eq!(removed[0]["comment"]["removed_by"], "lead");
}

/// A normal acknowledgement ends with a state change; one with an expiry ends at that
/// time, by itself (Icinga leaves it until something reads it, #10485).
#[tokio::test]
async fn acknowledgements_end() {
    let s = Server::start(PASSIVE).await;
    result(&s, "h1!passive", 2).await;
    result(&s, "h2!passive", 2).await;
    let (status, _) = s
        .post(
            "/v1/actions/acknowledge-problem",
            json!({"type": "Service", "service": "h1!passive", "author": "a", "comment": "c"}),
        )
        .await;
    assert_eq!(status, 200);
    result(&s, "h1!passive", 1).await;
    assert_eq!(
        attrs(&s, "/v1/objects/services/h1!passive").await["acknowledgement"],
        0
    );

    let (status, _) = s
        .post(
            "/v1/actions/acknowledge-problem",
            json!({"type": "Service", "service": "h2!passive", "author": "a", "comment": "c", "expiry": now() + 1.0, "persistent": true}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        attrs(&s, "/v1/objects/services/h2!passive").await["acknowledgement"],
        1
    );
    s.wait_for("/v1/objects/services/h2!passive", |a| {
        a["acknowledgement"] == 0
    })
    .await;
    let cleared = s.events("AcknowledgementCleared");
    assert_eq!(cleared.len(), 2);
    assert_eq!(cleared[1]["host"], "h2");
}

/// Comments: added with a name and legacy id, queried and filtered as objects, removed
/// by name or all at once, expired by their expiry, kept across a restart.
#[tokio::test]
async fn comments() {
    let s = Server::start(PASSIVE).await;
    let (status, res) = s
        .post(
            "/v1/actions/add-comment",
            json!({"type": "Host", "filter": "true", "author": "ops", "comment": "maintenance window next week"}),
        )
        .await;
    assert_eq!(status, 200, "{res}");
    let items = res["results"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    let name = items[0]["name"].as_str().unwrap().to_string();
    assert!(name.starts_with("h1!"), "{name}");
    assert_eq!(
        items[0]["status"],
        format!("Successfully added comment '{name}' for object 'h1'.")
    );
    assert_ne!(items[0]["legacy_id"], items[1]["legacy_id"]);
    assert!(items[0]["legacy_id"].is_u64(), "{}", items[0]);
    let (status, res) = s
        .post(
            "/v1/actions/add-comment",
            json!({"type": "Service", "service": "h1!passive", "author": "ops"}),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        res["results"][0]["status"],
        "Comments require author and text."
    );
    let (status, _) = s
        .post(
            "/v1/actions/add-comment",
            json!({"service": "h1!passive", "author": "ops", "comment": "short-lived", "expiry": now() + 1.0}),
        )
        .await;
    assert_eq!(status, 200);

    let s = s.restart().await;
    let (_, res) = s
        .get("/v1/objects/comments?filter=host.name==%22h1%22&attrs=text")
        .await;
    assert_eq!(res["results"].as_array().unwrap().len(), 2, "{res}");
    let (_, one) = s.get(&format!("/v1/objects/comments/{name}")).await;
    assert_eq!(
        one["results"][0]["attrs"]["text"],
        "maintenance window next week"
    );
    assert_eq!(one["results"][0]["attrs"]["package"], "_api");

    // The short-lived one expires by itself.
    for _ in 0..100 {
        if s.get("/v1/objects/comments").await.1["results"]
            .as_array()
            .unwrap()
            .len()
            == 2
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        s.get("/v1/objects/comments").await.1["results"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    let (status, res) = s
        .post(
            "/v1/actions/remove-comment",
            json!({"comment": name, "author": "ops"}),
        )
        .await;
    assert_eq!(status, 200, "{res}");
    assert_eq!(
        res["results"][0]["status"],
        format!("Successfully removed comment '{name}'.")
    );
    let (status, res) = s
        .post(
            "/v1/actions/remove-comment",
            json!({"type": "Host", "host": "h2"}),
        )
        .await;
    assert_eq!(status, 200, "{res}");
    assert_eq!(
        res["results"][0]["status"],
        "Successfully removed all comments for object 'h2'."
    );
    assert_eq!(s.get("/v1/objects/comments").await.1["results"], json!([]));
    let (status, _) = s
        .post("/v1/actions/remove-comment", json!({"comment": name}))
        .await;
    assert_eq!(status, 404, "a removed comment is not found");
    assert_eq!(s.events("CommentRemoved").len(), 3);
}

/// Comments and downtimes are numbered separately, each from 1, and go on after a
/// restart where they left off (Icinga's counters).
#[tokio::test]
async fn legacy_ids_count_per_kind() {
    let s = Server::start(PASSIVE).await;
    let t = now();
    async fn add(s: &Server, action: &str, t: f64) -> Json {
        let body = match action {
            "add-comment" => json!({"host": "h1", "author": "a", "comment": "c"}),
            _ => {
                json!({"host": "h1", "author": "a", "comment": "c", "start_time": t, "end_time": t + 600.0})
            }
        };
        let (status, res) = s.post(&format!("/v1/actions/{action}"), body).await;
        assert_eq!(status, 200, "{res}");
        res["results"][0]["legacy_id"].clone()
    }
    assert_eq!(add(&s, "add-comment", t).await, 1);
    assert_eq!(add(&s, "schedule-downtime", t).await, 1);
    assert_eq!(add(&s, "add-comment", t).await, 2);
    let s = s.restart().await;
    assert_eq!(add(&s, "schedule-downtime", t).await, 2);
    assert_eq!(add(&s, "add-comment", t).await, 3);
}

/// A fixed downtime on a host with all its services: in effect at once (depth 1 on the
/// host and the service), evented, and removed with its service downtimes.
#[tokio::test]
async fn fixed_downtime_with_services() {
    let s = Server::start(PASSIVE).await;
    let t = now();
    let (status, res) = s
        .post(
            "/v1/actions/schedule-downtime",
            json!({"type": "Host", "host": "h1", "author": "ops", "comment": "patching",
                   "start_time": t - 1.0, "end_time": t + 600.0, "all_services": true}),
        )
        .await;
    assert_eq!(status, 200, "{res}");
    let r = &res["results"][0];
    let name = r["name"].as_str().unwrap().to_string();
    assert!(r["legacy_id"].is_u64(), "{r}");
    assert_eq!(r["service_downtimes"].as_array().unwrap().len(), 1, "{r}");
    assert_eq!(attrs(&s, "/v1/objects/hosts/h1").await["downtime_depth"], 1);
    assert_eq!(
        attrs(&s, "/v1/objects/services/h1!passive").await["downtime_depth"],
        1
    );
    let d = attrs(&s, &format!("/v1/objects/downtimes/{name}")).await;
    assert!(d["trigger_time"].as_f64().unwrap() > 0.0, "{d}");
    assert_eq!(
        (d["fixed"].clone(), d["author"].clone()),
        (json!(true), json!("ops"))
    );
    for kind in ["DowntimeAdded", "DowntimeStarted", "DowntimeTriggered"] {
        assert_eq!(s.events(kind).len(), 2, "{kind}");
    }
    let check = s.events("StateChange");
    assert!(check.is_empty());
    result(&s, "h1!passive", 2).await;
    assert_eq!(s.events("CheckResult")[0]["downtime_depth"], 1);

    let s = s.restart().await;
    assert_eq!(attrs(&s, "/v1/objects/hosts/h1").await["downtime_depth"], 1);
    // A filter selecting the host downtime and its service downtime: the child goes
    // with its parent and still answers 200, as in Icinga.
    let child = r["service_downtimes"][0]["name"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, res) = s
        .post(
            "/v1/actions/remove-downtime",
            json!({"type": "Downtime", "filter": "downtime.host_name == \"h1\"", "author": "ops"}),
        )
        .await;
    assert_eq!(status, 200, "{res}");
    assert_eq!(
        res["results"],
        json!([
            {"code": 200, "status": format!("Successfully removed downtime '{name}' and 1 child downtimes.")},
            {"code": 200, "status": format!("Successfully removed downtime '{child}' and 0 child downtimes.")},
        ])
    );
    assert_eq!(attrs(&s, "/v1/objects/hosts/h1").await["downtime_depth"], 0);
    assert_eq!(
        attrs(&s, "/v1/objects/services/h1!passive").await["downtime_depth"],
        0
    );
    assert_eq!(s.get("/v1/objects/downtimes").await.1["results"], json!([]));
    let removed = s.events("DowntimeRemoved");
    assert_eq!(removed.len(), 2);
    assert_eq!(removed[0]["downtime"]["was_cancelled"], true);

    // DELETE on a downtime is its removal: depth and events as remove-downtime.
    let (_, res) = s
        .post(
            "/v1/actions/schedule-downtime",
            json!({"service": "h1!passive", "author": "a", "comment": "c", "start_time": t - 1.0, "end_time": t + 60.0}),
        )
        .await;
    let name = res["results"][0]["name"].as_str().unwrap().to_string();
    assert_eq!(
        attrs(&s, "/v1/objects/services/h1!passive").await["downtime_depth"],
        1
    );
    let (status, res) = s
        .send(
            "DELETE",
            &format!("/v1/objects/downtimes/{name}"),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{res}");
    assert_eq!(res["results"][0]["status"], "Object was deleted.");
    assert_eq!(
        attrs(&s, "/v1/objects/services/h1!passive").await["downtime_depth"],
        0
    );
    assert_eq!(s.events("DowntimeRemoved").len(), 3);
}

/// Downtimes start and end by their timers; a flexible one waits for a problem and lasts
/// `duration` from then; bad parameters get Icinga's messages.
#[tokio::test]
async fn downtime_timers_and_flexible() {
    let s = Server::start_manual(PASSIVE).await;
    let t = s.now();
    let (status, _) = s
        .post(
            "/v1/actions/schedule-downtime",
            json!({"type": "Host", "host": "h2", "author": "a", "comment": "c",
                   "start_time": t + 0.5, "end_time": t + 1.5}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(attrs(&s, "/v1/objects/hosts/h2").await["downtime_depth"], 0);
    s.advance(0.4).await;
    assert_eq!(attrs(&s, "/v1/objects/hosts/h2").await["downtime_depth"], 0);
    s.advance(0.2).await;
    assert_eq!(attrs(&s, "/v1/objects/hosts/h2").await["downtime_depth"], 1);
    assert!(s.events("DowntimeRemoved").is_empty());
    s.advance(1.0).await;
    assert_eq!(attrs(&s, "/v1/objects/hosts/h2").await["downtime_depth"], 0);
    let removed = s.events("DowntimeRemoved");
    assert_eq!(removed.len(), 1);
    assert_eq!(removed[0]["downtime"]["was_cancelled"], false);

    result(&s, "h1!passive", 0).await;
    let (status, res) = s
        .post(
            "/v1/actions/schedule-downtime",
            json!({"type": "Service", "service": "h1!passive", "author": "a", "comment": "c",
                   "start_time": t, "end_time": t + 600.0, "fixed": false, "duration": 1.0}),
        )
        .await;
    assert_eq!(status, 200, "{res}");
    let name = res["results"][0]["name"].as_str().unwrap().to_string();
    let d = attrs(&s, &format!("/v1/objects/downtimes/{name}")).await;
    assert_eq!(d["trigger_time"], 0, "not triggered while OK");
    result(&s, "h1!passive", 2).await;
    let a = attrs(&s, "/v1/objects/services/h1!passive").await;
    assert_eq!(a["downtime_depth"], 1);
    // A flexible downtime lasts its duration from when it was triggered.
    s.advance(0.75).await;
    let a = attrs(&s, "/v1/objects/services/h1!passive").await;
    assert_eq!(a["downtime_depth"], 1);
    s.advance(0.5).await;
    let a = attrs(&s, "/v1/objects/services/h1!passive").await;
    assert_eq!(a["downtime_depth"], 0);

    for (body, message) in [
        (
            json!({"author": "a", "comment": "c", "start_time": t}),
            "Options 'start_time', 'end_time', 'author' and 'comment' are required",
        ),
        (
            json!({"author": "a", "comment": "c", "start_time": t, "end_time": t + 1.0, "fixed": false}),
            "Option 'duration' is required for flexible downtime",
        ),
        (
            json!({"author": "a", "comment": "c", "start_time": t, "end_time": t + 1.0, "child_options": "Sometimes"}),
            "Option 'child_options' provided an invalid value.",
        ),
    ] {
        let mut body = body;
        body["host"] = json!("h1");
        let (status, res) = s.post("/v1/actions/schedule-downtime", body).await;
        assert_eq!(
            (status, res["results"][0]["status"].clone()),
            (400, json!(message))
        );
    }
    let (status, res) = s
        .post(
            "/v1/actions/schedule-downtime",
            json!({"host": "h1", "author": "a", "comment": "c", "start_time": t, "end_time": t + 9.0, "trigger_name": "nope"}),
        )
        .await;
    assert_eq!(status, 404);
    assert_eq!(
        res["results"][0]["status"],
        "Won't schedule downtime with non-existent trigger downtime."
    );
}

/// Child options: triggered downtimes for the hosts that depend on this one.
#[tokio::test]
async fn downtime_children() {
    let s = Server::start(&format!(
        "{PASSIVE}
object Host \"h3\" {{ check_command = \"dummy\"; enable_active_checks = false }}
object Dependency \"up\" {{ parent_host_name = \"h1\"; child_host_name = \"h2\" }}
object Dependency \"up2\" {{ parent_host_name = \"h2\"; child_host_name = \"h3\" }}
"
    ))
    .await;
    let t = now();
    let (status, res) = s
        .post(
            "/v1/actions/schedule-downtime",
            json!({"host": "h1", "author": "a", "comment": "c", "start_time": t - 1.0, "end_time": t + 60.0,
                   "child_options": "DowntimeTriggeredChildren"}),
        )
        .await;
    assert_eq!(status, 200, "{res}");
    let parent = res["results"][0]["name"].as_str().unwrap();
    let children = res["results"][0]["child_downtimes"].as_array().unwrap();
    assert_eq!(children.len(), 2, "{res}");
    for h in ["h1", "h2", "h3"] {
        assert_eq!(
            attrs(&s, &format!("/v1/objects/hosts/{h}")).await["downtime_depth"],
            1,
            "{h}"
        );
    }
    let child = attrs(
        &s,
        &format!(
            "/v1/objects/downtimes/{}",
            children[0]["name"].as_str().unwrap()
        ),
    )
    .await;
    assert_eq!(child["triggered_by"], parent);
    let (status, res) = s
        .post(
            "/v1/actions/remove-downtime",
            json!({"type": "Host", "filter": "true"}),
        )
        .await;
    assert_eq!(status, 200, "{res}");
    for h in ["h1", "h2", "h3"] {
        assert_eq!(
            attrs(&s, &format!("/v1/objects/hosts/{h}")).await["downtime_depth"],
            0,
            "{h}"
        );
    }
}

const NOTIFY: &str = r#"
object User "alice" { email = "alice@example.com"; groups = [ "ops" ] }
object User "bob" { email = "bob@example.com"; enable_notifications = false }
object UserGroup "ops" { }
object NotificationCommand "to-file" {
  command = [ "/bin/sh", "-c", "echo \"$notification.type$ $user.name$ $user.email$ $service.state$ $notification.comment$\" >> \"$out$\"" ]
}
apply Notification "mail" to Service {
  command = "to-file"
  user_groups = [ "ops" ]
  users = [ "bob" ]
  vars.out = OutFile
  interval = 0
  assign where service.name == "passive"
}
"#;

/// A server with [`NOTIFY`]: its commands append to the returned file (in the returned
/// directory).
async fn notifying() -> (Server, tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sent.txt");
    let s = Server::start(&notify_config(&out)).await;
    (s, dir, out)
}

fn notify_config(out: &std::path::Path) -> String {
    format!("const OutFile = \"{}\"\n{PASSIVE}{NOTIFY}", out.display())
}

async fn lines_of(path: &std::path::Path, n: usize) -> Vec<String> {
    for _ in 0..200 {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let lines: Vec<String> = text.lines().map(str::to_string).collect();
        if lines.len() >= n {
            return lines;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("{} never had {n} lines", path.display());
}

/// Notifications: a hard problem and its recovery run the NotificationCommand for each
/// user who wants them (not bob, who disabled his), and emit Notification events; a
/// problem inside a downtime is held back; custom and acknowledgement notifications go
/// out with their author and text.
#[tokio::test]
async fn notifications() {
    let (s, _dir, out) = notifying().await;
    result(&s, "h1!passive", 0).await;
    result(&s, "h1!passive", 2).await;
    assert!(
        s.events("Notification").is_empty(),
        "SOFT problems notify nobody"
    );
    result(&s, "h1!passive", 2).await;
    let lines = lines_of(&out, 1).await;
    assert_eq!(lines[0], "PROBLEM alice alice@example.com CRITICAL ");
    let n = &s.events("Notification")[0];
    assert_eq!(
        (
            n["notification_type"].clone(),
            n["users"].clone(),
            n["command"].clone(),
            n["service"].clone()
        ),
        (
            json!("PROBLEM"),
            json!(["alice"]),
            json!("to-file"),
            json!("passive")
        )
    );
    assert_eq!(n["check_result"]["state"], 2);
    let a = attrs(&s, "/v1/objects/notifications/h1!passive!mail").await;
    assert_eq!(a["notification_number"], 1);
    assert_eq!(a["notified_problem_users"], json!(["alice"]));

    let (status, _) = s
        .post(
            "/v1/actions/acknowledge-problem",
            json!({"service": "h1!passive", "author": "ops", "comment": "looking", "notify": true}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, res) = s
        .post(
            "/v1/actions/send-custom-notification",
            json!({"service": "h1!passive", "author": "ops", "comment": "heads up"}),
        )
        .await;
    assert_eq!(status, 200, "{res}");
    result(&s, "h1!passive", 0).await;
    // The commands run as processes of their own: their lines may interleave.
    let mut lines = lines_of(&out, 4).await;
    lines.sort();
    assert_eq!(
        lines,
        vec![
            "ACKNOWLEDGEMENT alice alice@example.com CRITICAL looking",
            "CUSTOM alice alice@example.com CRITICAL heads up",
            "PROBLEM alice alice@example.com CRITICAL ",
            "RECOVERY alice alice@example.com OK ",
        ]
    );

    // In downtime: the problem is held back.
    downtime(&s).await;
    let t = now();
    result(&s, "h1!passive", 2).await;
    result(&s, "h1!passive", 2).await;
    let kinds: Vec<Json> = s
        .events("Notification")
        .iter()
        .map(|n| n["notification_type"].clone())
        .collect();
    assert_eq!(
        kinds,
        vec![
            json!("PROBLEM"),
            json!("ACKNOWLEDGEMENT"),
            json!("CUSTOM"),
            json!("RECOVERY"),
            json!("DOWNTIMESTART")
        ]
    );
    let (status, res) = s
        .post(
            "/v1/actions/delay-notification",
            json!({"service": "h1!passive", "timestamp": t + 3600.0}),
        )
        .await;
    assert_eq!(status, 200, "{res}");
    let a = attrs(&s, "/v1/objects/notifications/h1!passive!mail").await;
    assert_eq!(a["next_notification"], t + 3600.0);
}

/// A volatile service (Icinga's rule): every HARD problem result notifies and is a state
/// change, however often it repeats; SOFT results and OK after OK notify nothing.
#[tokio::test]
async fn volatile_services_notify_every_problem() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sent.txt");
    let s = Server::start(&format!(
        r#"const OutFile = "{}"
object Host "h1" {{ check_command = "dummy"; enable_active_checks = false }}
object Service "passive" {{
  host_name = "h1"
  check_command = "passive"
  enable_active_checks = false
  max_check_attempts = 2
  volatile = true
}}
{NOTIFY}"#,
        out.display()
    ))
    .await;
    let changes = |s: &Server| {
        s.events("StateChange")
            .iter()
            .map(|e| format!("{}/{}", e["state"], e["state_type"]))
            .collect::<Vec<_>>()
    };
    result(&s, "h1!passive", 0).await;
    result(&s, "h1!passive", 0).await;
    assert_eq!(changes(&s), ["0/1"], "pending → OK, then nothing");
    result(&s, "h1!passive", 1).await;
    assert!(sent_kinds(&s).is_empty(), "SOFT: {:?}", sent_kinds(&s));
    for _ in 0..3 {
        result(&s, "h1!passive", 1).await;
    }
    assert_eq!(sent_kinds(&s), ["PROBLEM"; 3]);
    assert_eq!(changes(&s), ["0/1", "1/0", "1/1", "1/1", "1/1"]);
    result(&s, "h1!passive", 0).await;
    result(&s, "h1!passive", 0).await;
    assert_eq!(
        sent_kinds(&s),
        ["PROBLEM", "PROBLEM", "PROBLEM", "RECOVERY"]
    );
    assert_eq!(changes(&s), ["0/1", "1/0", "1/1", "1/1", "1/1", "0/1"]);
    let lines = lines_of(&out, 4).await;
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.starts_with("PROBLEM alice"))
            .count(),
        3,
        "{lines:?}"
    );
    let a = attrs(&s, "/v1/objects/notifications/h1!passive!mail").await;
    assert_eq!(a["notification_number"], 0, "reset by the recovery");
}

/// `delay-notification` moves the next reminder: when the delay ends, a Notification
/// with reminders sends one; one without (`interval = 0`) that has sent its problem sends
/// nothing more, as in Icinga.
#[tokio::test]
async fn delayed_notifications_send_no_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sent.txt");
    let s = Server::start(&format!(
        r#"const OutFile = "{}"
{PASSIVE}{NOTIFY}
apply Notification "page" to Service {{
  command = "to-file"
  users = [ "alice" ]
  vars.out = OutFile
  interval = 3600
  assign where service.name == "passive"
}}"#,
        out.display()
    ))
    .await;
    result(&s, "h1!passive", 2).await;
    result(&s, "h1!passive", 2).await;
    assert_eq!(sent_kinds(&s), ["PROBLEM", "PROBLEM"]);
    let (status, res) = s
        .post(
            "/v1/actions/delay-notification",
            json!({"service": "h1!passive", "timestamp": now() + 1.0}),
        )
        .await;
    assert_eq!(status, 200, "{res}");
    // Both delays end in one pass: the reminder of "page" is the sign it has ended.
    s.events_at_least("Notification", 3).await;
    assert_eq!(sent_kinds(&s), ["PROBLEM"; 3]);
    let number = |name: &'static str| {
        let s = &s;
        async move {
            attrs(s, &format!("/v1/objects/notifications/h1!passive!{name}")).await
                ["notification_number"]
                .clone()
        }
    };
    assert_eq!(number("page").await, 2);
    assert_eq!(number("mail").await, 1);
}

/// The Notification events' types so far.
fn sent_kinds(s: &Server) -> Vec<String> {
    s.events("Notification")
        .iter()
        .map(|n| n["notification_type"].as_str().unwrap_or("").to_string())
        .collect()
}

async fn downtime(s: &Server) {
    let t = s.now();
    let (status, res) = s
        .post(
            "/v1/actions/schedule-downtime",
            json!({"service": "h1!passive", "author": "a", "comment": "c", "start_time": t - 1.0, "end_time": t + 600.0}),
        )
        .await;
    assert_eq!(status, 200, "{res}");
}

async fn end_downtime(s: &Server) {
    let (status, res) = s
        .post(
            "/v1/actions/remove-downtime",
            json!({"type": "Service", "filter": "true"}),
        )
        .await;
    assert_eq!(status, 200, "{res}");
}

/// Held-back notifications, as Icinga's suppressed notifications: a problem that went
/// HARD in a downtime is sent when the downtime ends; so is a recovery during the next
/// one; a problem that recovered before its downtime ended is dropped.
#[tokio::test]
async fn held_back_notifications_follow_when_the_downtime_ends() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sent.txt");
    let s = Server::start_manual(&notify_config(&out)).await;
    let downtime_kinds = ["DOWNTIMESTART", "DOWNTIMEEND", "DOWNTIMECANCELLED"];
    let state_kinds = |s: &Server| -> Vec<String> {
        sent_kinds(s)
            .into_iter()
            .filter(|k| !downtime_kinds.contains(&k.as_str()))
            .collect()
    };
    result(&s, "h1!passive", 0).await;
    downtime(&s).await;
    result(&s, "h1!passive", 2).await;
    result(&s, "h1!passive", 2).await;
    assert!(state_kinds(&s).is_empty(), "{:?}", sent_kinds(&s));
    end_downtime(&s).await;
    // Held-back notifications are looked at again on the next 5 s mark at least 5 s
    // away.
    s.advance(10.0).await;
    assert_eq!(state_kinds(&s), ["PROBLEM"]);
    // The command ran too (after the downtime's own notifications).
    let lines = lines_of(&out, 3).await;
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.starts_with("PROBLEM"))
            .collect::<Vec<_>>(),
        ["PROBLEM alice alice@example.com CRITICAL "]
    );

    // Recovered in the next downtime: the recovery follows its end.
    downtime(&s).await;
    result(&s, "h1!passive", 0).await;
    assert_eq!(state_kinds(&s), ["PROBLEM"]);
    end_downtime(&s).await;
    s.advance(10.0).await;
    assert_eq!(state_kinds(&s), ["PROBLEM", "RECOVERY"]);

    // Failed and recovered within one downtime: nothing to tell afterwards.
    downtime(&s).await;
    result(&s, "h1!passive", 2).await;
    result(&s, "h1!passive", 2).await;
    result(&s, "h1!passive", 0).await;
    end_downtime(&s).await;
    s.advance(10.0).await;
    s.advance(10.0).await;
    assert_eq!(state_kinds(&s), ["PROBLEM", "RECOVERY"]);
    let a = attrs(&s, "/v1/objects/notifications/h1!passive!mail").await;
    assert_eq!(a["notification_number"], 0);
}

/// Escalations: a Notification with `times.begin` sends its first problem notification
/// that long after the HARD state change (by a timer), and only its own; the recovery goes
/// to everyone who heard of the problem.
#[tokio::test]
async fn escalation_waits_for_times_begin() {
    let s = Server::start_manual(&format!(
        r#"{PASSIVE}
object User "alice" {{ }}
object User "boss" {{ }}
object NotificationCommand "nothing" {{ command = [ "/bin/true" ] }}
apply Notification "mail" to Service {{
  command = "nothing"
  users = [ "alice" ]
  interval = 0
  assign where host.name == "h1"
}}
apply Notification "escalate" to Service {{
  command = "nothing"
  users = [ "boss" ]
  interval = 0
  times = {{ begin = 2s, end = 1h }}
  assign where host.name == "h1"
}}
"#
    ))
    .await;
    let sent = |s: &Server| -> Vec<(String, Json)> {
        s.events("Notification")
            .iter()
            .map(|n| {
                (
                    n["notification_type"].as_str().unwrap_or("").to_string(),
                    n["users"].clone(),
                )
            })
            .collect()
    };
    result(&s, "h1!passive", 0).await;
    result(&s, "h1!passive", 2).await;
    result(&s, "h1!passive", 2).await;
    assert_eq!(sent(&s), [("PROBLEM".to_string(), json!(["alice"]))]);
    let a = attrs(&s, "/v1/objects/notifications/h1!passive!escalate").await;
    let hard_change = attrs(&s, "/v1/objects/services/h1!passive").await["last_hard_state_change"]
        .as_f64()
        .unwrap();
    assert_eq!(a["next_notification"], hard_change + 3.0);
    assert_eq!(a["notification_number"], 0);
    // Not before its time.
    s.advance(2.5).await;
    assert_eq!(sent(&s).len(), 1);
    // The escalation follows, once; "mail" (interval 0) is not sent again.
    s.advance(0.5).await;
    s.advance(60.0).await;
    assert_eq!(
        sent(&s),
        [
            ("PROBLEM".to_string(), json!(["alice"])),
            ("PROBLEM".to_string(), json!(["boss"]))
        ]
    );
    let a = attrs(&s, "/v1/objects/notifications/h1!passive!escalate").await;
    assert_eq!(a["notification_number"], 1);
    result(&s, "h1!passive", 0).await;
    let recoveries: Vec<Json> = sent(&s)
        .into_iter()
        .filter(|(k, _)| k == "RECOVERY")
        .map(|(_, u)| u)
        .collect();
    assert_eq!(recoveries.len(), 2, "{recoveries:?}");
    assert!(recoveries.contains(&json!(["alice"])) && recoveries.contains(&json!(["boss"])));
}

const ALWAYS: &str = r#"
object User "alice" { }
object NotificationCommand "nothing" { command = [ "/bin/true" ] }
"#;

/// A problem outside its Notification's `period` is held back, not dropped: it goes out
/// when the period begins (here: when the Notification is changed to another period), as
/// Icinga's stashed notifications; a recovery outside the period drops the held problem.
#[tokio::test]
async fn period_holds_notifications_until_it_begins() {
    let s = Server::start_manual(&format!(
        r#"{PASSIVE}{PERIODS}{ALWAYS}
apply Notification "mail" to Service {{
  command = "nothing"
  users = [ "alice" ]
  period = "never"
  interval = 0
  assign where true
}}
"#
    ))
    .await;
    result(&s, "h1!passive", 0).await;
    result(&s, "h1!passive", 2).await;
    result(&s, "h1!passive", 2).await;
    // h2's problem recovers while still held: nothing to tell about it afterwards.
    result(&s, "h2!passive", 2).await;
    result(&s, "h2!passive", 2).await;
    result(&s, "h2!passive", 0).await;
    assert!(sent_kinds(&s).is_empty(), "{:?}", sent_kinds(&s));
    for host in ["h1", "h2"] {
        let (status, res) = s
            .post(
                &format!("/v1/objects/notifications/{host}!passive!mail"),
                json!({"attrs": {"period": "always"}}),
            )
            .await;
        assert_eq!(status, 200, "{res}");
    }
    s.advance(10.0).await;
    let sent = s.events("Notification");
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["notification_type"], "PROBLEM");
    assert_eq!(sent[0]["host"], "h1");
    assert_eq!(sent[0]["users"], json!(["alice"]));
    // Looked at again later: still only the one.
    s.advance(10.0).await;
    assert_eq!(sent_kinds(&s), ["PROBLEM"]);
    let a = attrs(&s, "/v1/objects/notifications/h1!passive!mail").await;
    assert_eq!(a["notification_number"], 1);
}

/// Reminders (`interval`) skip a downtime and resume after it, and go on after a
/// restart, as Icinga's: the next reminder is set whether or not one goes out.
#[tokio::test]
async fn reminders_resume_after_a_downtime_and_a_restart() {
    let s = Server::start_manual(&format!(
        r#"{PASSIVE}{PERIODS}{ALWAYS}
apply Notification "mail" to Service {{
  command = "nothing"
  users = [ "alice" ]
  interval = 1s
  assign where host.name == "h1"
}}
"#
    ))
    .await;
    result(&s, "h1!passive", 0).await;
    result(&s, "h1!passive", 2).await;
    result(&s, "h1!passive", 2).await;
    s.advance(1.0).await;
    assert_eq!(sent_kinds(&s), ["PROBLEM", "PROBLEM"]);
    let problems = |s: &Server| {
        sent_kinds(s)
            .iter()
            .filter(|k| k.as_str() == "PROBLEM")
            .count()
    };
    downtime(&s).await;
    let in_downtime = problems(&s);
    for _ in 0..3 {
        s.advance(1.0).await;
    }
    assert_eq!(problems(&s), in_downtime, "no reminders in a downtime");
    end_downtime(&s).await;
    s.advance(1.0).await;
    assert_eq!(problems(&s), in_downtime + 1, "{:?}", sent_kinds(&s));

    let s = s.restart().await;
    let after_restart = problems(&s);
    s.advance(1.0).await;
    assert_eq!(problems(&s), after_restart + 1, "{:?}", sent_kinds(&s));
}

async fn shown(s: &Server, path: &str) -> (Json, Json) {
    let a = attrs(s, path).await;
    (a["severity"].clone(), a["handled"].clone())
}

/// `severity` and `handled` as Icinga 2.13.6 computes them (the figures were read off its
/// API for the same states): pending 16, OK 0; a service problem's weight plus 2048
/// unhandled, 512 acknowledged, 1024 on a host that is not UP (then handled, even OK); a
/// DOWN host 64 + 2048, acknowledged 64 + 512. `/v1/status/CIB` counts the same.
#[tokio::test]
async fn severity_and_handled_as_icinga() {
    let s = Server::start(PASSIVE).await;
    let h1 = "/v1/objects/services/h1!passive";
    let h2 = "/v1/objects/services/h2!passive";
    assert_eq!(shown(&s, h1).await, (json!(16), json!(false)));
    let host = |name: &'static str, exit: u8| {
        s.post(
            "/v1/actions/process-check-result",
            json!({"type": "Host", "host": name, "exit_status": exit, "plugin_output": "x"}),
        )
    };
    assert_eq!(host("h1", 0).await.0, 200);
    assert_eq!(host("h2", 1).await.0, 200);
    result(&s, "h1!passive", 1).await;
    result(&s, "h1!passive", 1).await;
    assert_eq!(shown(&s, h1).await, (json!(2080), json!(false)));
    let (status, res) = s
        .post(
            "/v1/actions/acknowledge-problem",
            json!({"service": "h1!passive", "author": "a", "comment": "c"}),
        )
        .await;
    assert_eq!(status, 200, "{res}");
    assert_eq!(shown(&s, h1).await, (json!(544), json!(true)));
    result(&s, "h2!passive", 0).await;
    assert_eq!(shown(&s, h2).await, (json!(0), json!(true)));
    result(&s, "h2!passive", 2).await;
    result(&s, "h2!passive", 2).await;
    assert_eq!(shown(&s, h2).await, (json!(1152), json!(true)));
    assert_eq!(
        shown(&s, "/v1/objects/hosts/h2").await,
        (json!(2112), json!(false))
    );
    let (status, res) = s
        .post(
            "/v1/actions/acknowledge-problem",
            json!({"type": "Host", "host": "h2", "author": "a", "comment": "c"}),
        )
        .await;
    assert_eq!(status, 200, "{res}");
    assert_eq!(
        shown(&s, "/v1/objects/hosts/h2").await,
        (json!(576), json!(true))
    );
    // Filters read them too.
    let (status, body) = s
        .get("/v1/objects/services?filter=service.handled%20%26%26%20service.severity%20%3E%201000&attrs=name")
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["results"].as_array().map(Vec::len), Some(1), "{body}");
    assert_eq!(body["results"][0]["name"], "h2!passive");
    // The CIB counts what `handled` says (Icinga: a service of a host with a problem too).
    let (_, cib) = s.get("/v1/status/CIB").await;
    let status = &cib["results"][0]["status"];
    assert_eq!(
        (
            status["num_services_handled"].clone(),
            status["num_hosts_handled"].clone()
        ),
        (json!(2), json!(1)),
        "{status}"
    );
}

/// Runs `execute-command` with `body` on the object at `path`: its answer item (202) and
/// the execution's outcome once recorded.
async fn executed(s: &Server, path: &str, body: Json) -> (Json, Json) {
    let (status, res) = s.post("/v1/actions/execute-command", body).await;
    assert_eq!(status, 202, "{res}");
    let item = res["results"][0].clone();
    let id = item["execution"].as_str().unwrap().to_string();
    let a = s
        .wait_for(path, |a| a["executions"][&id]["pending"] == false)
        .await;
    (item, a["executions"][&id].clone())
}

/// generate-ticket derives the agent ticket from the configured salt; execute-command
/// answers 202 and records the outcome under the execution id.
#[tokio::test]
async fn ticket_and_execute_command() {
    let s = Server::start(&format!(
        "const TicketSalt = \"s3cret\"\n{PASSIVE}
object EventCommand \"greet\" {{ command = [ \"/bin/echo\", \"$greeting$\", \"$host.name$\" ] }}
object NotificationCommand \"page\" {{ command = [ \"/bin/echo\", \"$notification.type$ by $notification.author$ to $user.name$ <$user.email$> $pager$ $greeting$\" ] }}
object User \"u1\" {{ email = \"u1@example.com\"; vars.pager = \"555\" }}
object Notification \"n1\" {{ host_name = \"h1\"; command = \"page\"; users = [ \"u1\" ] }}
object EventCommand \"report\" {{ command = [ \"/bin/echo\", \"$service.state$/$service.last_state$/$service.state_type$/$host.state$/$service.output$/$service.check_attempt$/$service.state_id$/$service.last_state_type$/$host.state_id$/$service.downtime_depth$/$service.perfdata$\" ] }}
"
    ))
    .await;
    let (status, res) = s
        .post("/v1/actions/generate-ticket", json!({"cn": "agent1"}))
        .await;
    assert_eq!(status, 200, "{res}");
    let ticket = res["results"][0]["ticket"].as_str().unwrap();
    assert_eq!(ticket.len(), 40);
    assert_eq!(
        res["results"][0]["status"],
        format!("Generated PKI ticket '{ticket}' for common name 'agent1'.")
    );

    let (item, e) = executed(
        &s,
        "/v1/objects/hosts/h1",
        json!({"type": "Host", "host": "h1", "command": "greet", "ttl": 30, "macros": {"greeting": "hello"}}),
    )
    .await;
    assert_eq!(item["checkable"], "h1");
    assert_eq!(
        (e["exit"].clone(), e["output"].clone()),
        (json!(0), json!("hello h1"))
    );
    // Runtime macros resolve as in Icinga (the same sequence on Icinga 2.13.6 gives the
    // same line but HARD: it counts the pending state as the first problem attempt).
    let (status, _) = s
        .post(
            "/v1/actions/process-check-result",
            json!({"service": "h1!passive", "exit_status": 2, "plugin_output": "out 2", "performance_data": ["a=1;2;3", "b=2s"]}),
        )
        .await;
    assert_eq!(status, 200);
    let (_, e) = executed(
        &s,
        "/v1/objects/services/h1!passive",
        json!({"type": "Service", "service": "h1!passive", "command": "report", "ttl": 30}),
    )
    .await;
    assert_eq!(
        e["output"],
        "CRITICAL/UNKNOWN/SOFT/DOWN/out 2/1/2/SOFT/1/0/a=1;2;3 b=2s"
    );
    let (status, res) = s
        .post(
            "/v1/actions/execute-command",
            json!({"host": "h1", "command": "greet"}),
        )
        .await;
    assert_eq!(
        (status, res["results"][0]["status"].clone()),
        (400, json!("Parameter ttl is required."))
    );

    // A NotificationCommand runs for a user and a notification, both named (as macro
    // strings) and both existing, as in Icinga.
    let page = |extra: Json| {
        let mut body = json!({"type": "Host", "host": "h1", "command_type": "NotificationCommand", "command": "page", "ttl": 30});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    for (extra, status_text) in [
        (
            json!({"user": "nobody", "notification": "h1!n1"}),
            "Can't find a valid user for 'nobody'.",
        ),
        (
            json!({"notification": "h1!n1"}),
            "Can't find a valid user for ''.",
        ),
        (
            json!({"user": "u1"}),
            "Can't find a valid notification for ''.",
        ),
        (
            json!({"user": "u1", "notification": "h1!n1", "command": "nope"}),
            "Can't find a valid NotificationCommand for 'nope'.",
        ),
    ] {
        let (status, res) = s.post("/v1/actions/execute-command", page(extra)).await;
        assert_eq!(
            (status, res["results"][0]["status"].clone()),
            (404, json!(status_text))
        );
    }
    let (_, e) = executed(
        &s,
        "/v1/objects/hosts/h1",
        page(json!({"user": "$who$", "notification": "h1!n1", "macros": {"who": "u1", "greeting": "hi"}})),
    )
    .await;
    assert_eq!(e["output"], "CUSTOM by root to u1 <u1@example.com> 555 hi");
    // A user it may not query is not found for a requester without that permission.
    let (status, res) = s
        .send(
            "PUT",
            "/v1/objects/apiusers/runner",
            json!({"attrs": {"password": "pw", "permissions": ["actions/execute-command", "objects/query/Host", "objects/query/Notification*"]}}),
        )
        .await;
    assert_eq!(status, 200, "{res}");
    let (status, res) = s
        .send_as(
            ("runner", "pw"),
            "POST",
            "/v1/actions/execute-command",
            page(json!({"user": "u1", "notification": "h1!n1"})),
        )
        .await;
    assert_eq!(
        (status, res["results"][0]["status"].clone()),
        (404, json!("Can't find a valid user for 'u1'.")),
        "{res}"
    );
}

/// The global switches live on the `app` object: turning notifications off through
/// `/v1/objects/icingaapplications/app` stops them (and shows in the status), and the
/// change survives a restart.
#[tokio::test]
async fn global_switches() {
    let (s, _dir, out) = notifying().await;
    let (status, res) = s
        .post(
            "/v1/objects/icingaapplications/app",
            json!({"attrs": {"enable_notifications": false}}),
        )
        .await;
    assert_eq!(status, 200, "{res}");
    let s = s.restart().await;
    let (_, status) = s.get("/v1/status/IcingaApplication").await;
    assert_eq!(
        status["results"][0]["status"]["icingaapplication"]["app"]["enable_notifications"],
        false
    );
    result(&s, "h1!passive", 2).await;
    result(&s, "h1!passive", 2).await;
    assert_eq!(
        attrs(&s, "/v1/objects/services/h1!passive").await["state_type"],
        1
    );
    assert!(s.events("Notification").is_empty());
    assert!(!out.exists());
}

/// `/v1/checker` runs a CheckCommand now (Icinga for Windows' on-demand checker): other
/// parameters are its macros; a real plugin runs as a real process.
#[tokio::test]
async fn on_demand_checker() {
    let s = Server::start(PASSIVE).await;
    let (status, res) = s
        .get("/v1/checker?command=dummy&dummy_state=2&dummy_text=on%20demand")
        .await;
    assert_eq!(status, 200, "{res}");
    let r = &res["results"][0];
    assert_eq!(
        (
            r["exit_status"].clone(),
            r["state"].clone(),
            r["output"].clone()
        ),
        (json!(2), json!(2), json!("on demand"))
    );
    let (status, res) = s
        .post(
            "/v1/checker",
            json!({"command": "load", "load_wload1": 1000, "load_cload1": 2000}),
        )
        .await;
    assert_eq!(status, 200, "{res}");
    let r = &res["results"][0];
    assert_eq!(r["exit_status"], 0, "{r}");
    assert!(r["output"].as_str().unwrap().starts_with("LOAD OK"), "{r}");
    assert!(!r["performance_data"].as_array().unwrap().is_empty(), "{r}");

    let (status, res) = s.get("/v1/checker?command=nope").await;
    assert_eq!(
        (status, res["status"].clone()),
        (404, json!("Check command 'nope' does not exist."))
    );
    let (status, _) = s.get("/v1/checker").await;
    assert_eq!(status, 400);
    let res = s
        .client()
        .get(s.url("/v1/checker?command=dummy"))
        .basic_auth("reader", Some("reader"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 403);
}

/// Director-style self-service: a node registers with a Host template's API key (no
/// user), gets its own host key once, and the host is a durable API object from that
/// template; wrong keys, repeated registration and extra properties are refused.
#[tokio::test]
async fn self_service_registration() {
    let s = Server::start(&format!(
        "{PASSIVE}
template Host \"agent\" {{ check_command = \"dummy\"; enable_active_checks = false; vars.self_service_api_key = \"tmpl-key-1\" }}
"
    ))
    .await;
    let register = |key: &str, body: Json| {
        s.client()
            .post(s.url(&format!(
                "/v1/self-service/register-host?name=node1.example.com&key={key}"
            )))
            .json(&body)
            .send()
    };
    let res = register("wrong", json!({})).await.unwrap();
    assert_eq!(res.status().as_u16(), 403);
    let res = register("tmpl-key-1", json!({"check_command": "evil"}))
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 400, "{}", res.text().await.unwrap());
    let res = register(
        "tmpl-key-1",
        json!({"address": "10.0.0.5", "display_name": "Node 1"}),
    )
    .await
    .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let host_key: String = res.json().await.unwrap();
    assert_eq!(host_key.len(), 40);
    let res = register("tmpl-key-1", json!({})).await.unwrap();
    assert_eq!(res.status().as_u16(), 409);

    let s = s.restart().await;
    let a = attrs(&s, "/v1/objects/hosts/node1.example.com").await;
    assert_eq!(
        (
            a["address"].clone(),
            a["display_name"].clone(),
            a["templates"].clone(),
            a["package"].clone()
        ),
        (
            json!("10.0.0.5"),
            json!("Node 1"),
            json!(["node1.example.com", "agent"]),
            json!("_api")
        )
    );
    let stored = a["vars"]["self_service_key_sha256"].as_str().unwrap();
    assert_eq!(stored.len(), 64);
    assert_ne!(stored, host_key, "only a hash of the key is kept");
}

/// Event handlers run on SOFT results, state changes and hard changes, with the runtime
/// macros; `enable_event_handlers` on the `app` object turns them all off.
#[tokio::test]
async fn event_handlers() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("handled.txt");
    let s = Server::start(&format!(
        "{PASSIVE}
object EventCommand \"restart-it\" {{
  command = [ \"/bin/sh\", \"-c\", \"echo \\\"$service.state$ $service.state_type$ $service.check_attempt$\\\" >> '{}'\" ]
}}
object Service \"handled\" {{
  host_name = \"h1\"
  check_command = \"passive\"
  enable_active_checks = false
  max_check_attempts = 2
  event_command = \"restart-it\"
}}
",
        out.display()
    ))
    .await;
    result(&s, "h1!handled", 0).await;
    result(&s, "h1!handled", 0).await;
    result(&s, "h1!handled", 2).await;
    result(&s, "h1!handled", 2).await;
    result(&s, "h1!handled", 2).await;
    // The handlers run as processes of their own: their lines may interleave.
    let mut lines = lines_of(&out, 3).await;
    lines.sort();
    assert_eq!(
        lines,
        vec!["CRITICAL HARD 1", "CRITICAL SOFT 1", "OK HARD 1"]
    );
    let (status, _) = s
        .post(
            "/v1/objects/icingaapplications/app",
            json!({"attrs": {"enable_event_handlers": false}}),
        )
        .await;
    assert_eq!(status, 200);
    result(&s, "h1!handled", 0).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(std::fs::read_to_string(&out).unwrap().lines().count(), 3);
}

/// A ScheduledDowntime gets a downtime for its running segment at once: in effect,
/// owned by it (users cannot remove it), made once.
#[tokio::test]
async fn scheduled_downtimes() {
    let days = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ]
    .map(|d| format!("{d} = \"00:00-24:00\""))
    .join("; ");
    let s = Server::start(&format!(
        "{PASSIVE}
apply ScheduledDowntime \"all-day\" to Host {{
  author = \"ops\"
  comment = \"maintenance day\"
  ranges = {{ {days} }}
  assign where host.name == \"h1\"
}}
"
    ))
    .await;
    let a = s
        .wait_for("/v1/objects/hosts/h1", |a| a["downtime_depth"] == 1)
        .await;
    assert_eq!(a["downtime_depth"], 1);
    let (_, res) = s.get("/v1/objects/downtimes").await;
    let list = res["results"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{res}");
    let d = &list[0]["attrs"];
    assert_eq!(
        (
            d["config_owner"].clone(),
            d["scheduled_by"].clone(),
            d["comment"].clone()
        ),
        (
            json!("h1!all-day"),
            json!("h1!all-day"),
            json!("maintenance day")
        )
    );
    let name = list[0]["name"].as_str().unwrap();
    let (status, res) = s
        .post("/v1/actions/remove-downtime", json!({"downtime": name}))
        .await;
    assert_eq!(status, 400, "{res}");
    assert_eq!(
        res["results"][0]["status"],
        format!("Cannot remove downtime '{name}'. It is owned by scheduled downtime object 'h1!all-day'")
    );
    // Today's segment only: one day, not the week the ranges cover together.
    let span = d["end_time"].as_f64().unwrap() - d["start_time"].as_f64().unwrap();
    assert!((82_800.0..=90_000.0).contains(&span), "{d}");
    // The next pass (here: the start) adds tomorrow's before today's ends, as Icinga's.
    let s = s.restart().await;
    let mut res = Vec::new();
    for _ in 0..200 {
        res = s.get("/v1/objects/downtimes").await.1["results"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if res.len() == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(res.len(), 2, "{res:?}");
    let ends: Vec<f64> = res
        .iter()
        .map(|d| d["attrs"]["end_time"].as_f64().unwrap())
        .collect();
    let starts: Vec<f64> = res
        .iter()
        .map(|d| d["attrs"]["start_time"].as_f64().unwrap())
        .collect();
    assert!(
        starts.contains(&d["end_time"].as_f64().unwrap()) && ends.len() == 2,
        "{res:?}"
    );
    assert_eq!(attrs(&s, "/v1/objects/hosts/h1").await["downtime_depth"], 1);
}
