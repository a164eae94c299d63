//! Notifications: who gets what and when — problems and recoveries, volatile services,
//! delays, downtimes holding them back, escalations, periods and reminders.

use crate::annotations::{attrs, result};
use crate::util::{now, Server, PASSIVE, PERIODS};
use serde_json::{json, Value as Json};

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
pub(crate) async fn notifying() -> (Server, tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sent.txt");
    let s = Server::start(&notify_config(&out)).await;
    (s, dir, out)
}

fn notify_config(out: &std::path::Path) -> String {
    format!("const OutFile = \"{}\"\n{PASSIVE}{NOTIFY}", out.display())
}

pub(crate) async fn lines_of(path: &std::path::Path, n: usize) -> Vec<String> {
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
