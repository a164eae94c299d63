//! Acknowledgements and comments: what each action does to the objects, the events it
//! emits, and that it survives a restart.

use crate::util::{now, Server, PASSIVE};
use serde_json::{json, Value as Json};

pub(crate) async fn attrs(s: &Server, path: &str) -> Json {
    s.get(path).await.1["results"][0]["attrs"].clone()
}

pub(crate) async fn result(s: &Server, service: &str, exit: u8) {
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
