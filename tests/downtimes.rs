//! Downtimes: fixed and flexible, with services and children, their timers, and
//! ScheduledDowntime objects.

use crate::annotations::{attrs, result};
use crate::util::{now, Server, PASSIVE};
use serde_json::json;

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
    // The startup pass is the processor's: committed once it has settled.
    s.settle().await;
    let res = s.get("/v1/objects/downtimes").await.1["results"]
        .as_array()
        .cloned()
        .unwrap_or_default();
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
