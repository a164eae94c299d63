//! The other actions and switches: severity and `handled`, `generate-ticket` and
//! `execute-command`, global feature switches, on-demand checks, self-service host
//! registration, event handlers.

use crate::annotations::{attrs, result};
use crate::notifications::{lines_of, notifying};
use crate::util::{Server, PASSIVE};
use serde_json::{json, Value as Json};

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
            json!({
                "command": "load",
                "load_wload1": 1000, "load_wload5": 1000, "load_wload15": 1000,
                "load_cload1": 2000, "load_cload5": 2000, "load_cload15": 2000,
            }),
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
    // The recovery runs no handler while they are off; the problem after they are on
    // again runs one, and is the only new line.
    result(&s, "h1!handled", 0).await;
    let (status, _) = s
        .post(
            "/v1/objects/icingaapplications/app",
            json!({"attrs": {"enable_event_handlers": true}}),
        )
        .await;
    assert_eq!(status, 200);
    result(&s, "h1!handled", 2).await;
    let mut lines = lines_of(&out, 4).await;
    lines.sort();
    assert_eq!(
        lines,
        vec![
            "CRITICAL HARD 1",
            "CRITICAL SOFT 1",
            "CRITICAL SOFT 1",
            "OK HARD 1"
        ]
    );
}
