//! Envelopes, routing and parameters as Icinga 2 clients rely on them.

use serde_json::json;

use crate::util::Server;

/// Unknown paths and wrong methods answer Icinga's generic 404 envelope.
#[tokio::test]
async fn unknown_path_is_a_404_envelope() {
    let s = Server::start("").await;
    let (status, body) = s.get("/v1/nope").await;
    assert_eq!(status, 404);
    assert_eq!(
        body,
        json!({"error": 404, "status": "The requested path 'v1/nope' could not be found or the request method is not valid for this path."})
    );
    // /v1/status exists, but not for DELETE.
    let res = s
        .client()
        .delete(s.url("/v1/status"))
        .basic_auth("root", Some("secret"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"], 404);
}

/// `GET /` redirects to `/v1`, which tells the user who they are.
#[tokio::test]
async fn root_redirects_and_v1_describes_the_user() {
    let s = Server::start("").await;
    let res = s
        .builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(s.url("/"))
        .basic_auth("root", Some("secret"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 302);
    assert_eq!(res.headers()["location"], "/v1");
    let (status, body) = s.get("/v1").await;
    assert_eq!(status, 200);
    assert_eq!(body["results"][0]["user"], "root");
    assert_eq!(body["results"][0]["permissions"], json!(["*"]));
}

/// Real clients send `X-HTTP-Method-Override`, lower-case methods and doubled slashes;
/// query parameters merge over the body.
#[tokio::test]
async fn methods_paths_and_parameters_as_clients_send_them() {
    let s = Server::start("").await;
    let c = s.client();
    // POST with override GET reaches the GET handler, with the body's parameters.
    let res = c
        .post(s.url("/v1/types"))
        .basic_auth("root", Some("secret"))
        .header("X-HTTP-Method-Override", "GET")
        .body(r#"{"type":"Host"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["results"].as_array().unwrap().len(), 1);
    assert_eq!(body["results"][0]["name"], "Host");
    assert_eq!(body["results"][0]["base"], "Checkable");

    // A lower-case method and a doubled slash.
    let res = c
        .request(
            reqwest::Method::from_bytes(b"get").unwrap(),
            s.url("//v1//types/Service"),
        )
        .basic_auth("root", Some("secret"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["results"][0]["name"], "Service");

    // The query string overrides the body: type=Service wins over type=Host.
    let res = c
        .post(s.url("/v1/types?type=Service"))
        .basic_auth("root", Some("secret"))
        .header("X-HTTP-Method-Override", "GET")
        .body(r#"{"type":"Host"}"#)
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["results"][0]["name"], "Service");
}

/// A body that is not a JSON object is a 400 with Icinga's wording, whatever the
/// Content-Type; `pretty` indents.
#[tokio::test]
async fn bad_bodies_and_pretty_output() {
    let s = Server::start("").await;
    let res = s
        .client()
        .post(s.url("/v1/console/execute-script"))
        .basic_auth("root", Some("secret"))
        .header("Content-Type", "text/plain")
        .body("[1, 2")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"], 400);
    assert!(body["status"]
        .as_str()
        .unwrap()
        .starts_with("Invalid request body"));

    let text = s.text("/v1/status/CIB?pretty=1").await;
    assert!(text.starts_with("{\n    \"results\": ["), "{text}");
}

/// Status lists the stats functions; an unknown one is 404 `No objects found.`
#[tokio::test]
async fn status_endpoints() {
    let s = Server::start("").await;
    let (status, body) = s.get("/v1/status").await;
    assert_eq!(status, 200);
    let names: Vec<&str> = body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    for n in ["ApiListener", "CIB", "IcingaApplication"] {
        assert!(names.contains(&n), "{names:?}");
    }
    // Every feature Icinga 2.13 lists, in Icinga's (sorted) order, with its objects.
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names, sorted);
    for n in [
        "GraphiteWriter",
        "InfluxdbWriter",
        "FileLogger",
        "NotificationComponent",
    ] {
        assert!(names.contains(&n), "{names:?}");
    }
    let (_, body) = s.get("/v1/status/GraphiteWriter").await;
    assert_eq!(
        body["results"][0],
        serde_json::json!({"name": "GraphiteWriter", "perfdata": [], "status": {"graphitewriter": {}}})
    );
    let (status, body) = s.get("/v1/status/IcingaApplication").await;
    assert_eq!(status, 200);
    let app = &body["results"][0]["status"]["icingaapplication"]["app"];
    assert_eq!(app["node_name"], "localhost");
    assert_eq!(app["pid"], std::process::id());
    let (status, body) = s.get("/v1/status/Nope").await;
    assert_eq!(status, 404);
    assert_eq!(body["status"], "No objects found.");
}

/// The console evaluates with the configuration's constants and objects, keeps session
/// variables, and reports script errors inside a 200 with Icinga's fields.
#[tokio::test]
async fn console_sessions_and_errors() {
    let s = Server::start(
        r#"object Host "web1" { check_command = "dummy"; address = "10.0.0.1"; vars.os = "Linux" }"#,
    )
    .await;
    let (status, body) = s
        .post(
            "/v1/console/execute-script",
            json!({"command": "var h = get_object(Host, \"web1\"); h.vars.os + \" on \" + NodeName", "session": "s1"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["results"][0],
        json!({"code": 200, "status": "Executed successfully.", "result": "Linux on localhost"})
    );
    let (_, body) = s
        .post(
            "/v1/console/execute-script",
            json!({"command": "h.address", "session": "s1"}),
        )
        .await;
    assert_eq!(body["results"][0]["result"], "10.0.0.1");

    let (status, body) = s
        .post("/v1/console/execute-script", json!({"command": "1 +"}))
        .await;
    assert_eq!(status, 200);
    let r = &body["results"][0];
    assert_eq!(r["code"], 500);
    assert_eq!(r["incomplete_expression"], true);
    assert_eq!(r["debug_info"]["path"], "<console>");

    let (_, body) = s
        .post(
            "/v1/console/auto-complete-script",
            json!({"command": "get_ob"}),
        )
        .await;
    let suggestions = body["results"][0]["suggestions"].as_array().unwrap();
    assert!(
        suggestions.contains(&json!("get_object")),
        "{suggestions:?}"
    );
    assert!(
        suggestions.contains(&json!("get_objects")),
        "{suggestions:?}"
    );
}

/// Health and readiness probes answer without credentials, and only to GET and HEAD.
#[tokio::test]
async fn probes_answer_without_credentials() {
    let s = Server::start("").await;
    let c = s.client();
    for (path, text) in [("/-/healthy", "Healthy.\n"), ("/-/ready", "Ready.\n")] {
        let res = c.get(s.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
        assert_eq!(res.text().await.unwrap(), text);
        let res = c.post(s.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 404, "{path} refuses POST");
    }
    // Everything else still needs credentials.
    let res = c.get(s.url("/v1/status")).send().await.unwrap();
    assert_eq!(res.status(), 401);
}

/// Probes can require credentials, or be switched off (then they are unknown paths).
#[tokio::test]
async fn probes_can_require_credentials_or_be_off() {
    use auspex::api::settings::{EdgeSettings, Probes};
    let s = Server::start_edge(
        "",
        EdgeSettings {
            probes: Probes::Authenticated,
            ..Default::default()
        },
    )
    .await;
    let c = s.client();
    let res = c.get(s.url("/-/ready")).send().await.unwrap();
    assert_eq!(res.status(), 401);
    let res = c
        .get(s.url("/-/ready"))
        .basic_auth("root", Some("secret"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), "Ready.\n");

    let s = Server::start_edge(
        "",
        EdgeSettings {
            probes: Probes::Off,
            ..Default::default()
        },
    )
    .await;
    let res = s.client().get(s.url("/-/healthy")).send().await.unwrap();
    assert_eq!(res.status(), 401);
    let (status, body) = s.get("/-/healthy").await;
    assert_eq!(status, 404, "{body}");
}

/// Behind a trusted proxy the client is the address `X-Forwarded-For` names: failed
/// logins block that address (and only it), not the proxy's; an untrusted peer's header
/// is ignored.
#[tokio::test]
async fn trusted_proxies_forward_the_client_address() {
    use auspex::api::settings::EdgeSettings;
    let s = Server::start_edge(
        "",
        EdgeSettings {
            trusted_proxies: vec!["127.0.0.1/32".parse().unwrap()],
            ..Default::default()
        },
    )
    .await;
    let proxy = s.client_from("127.0.0.1");
    let attempt = |client: &reqwest::Client, forwarded: &str, password: &str| {
        client
            .get(s.url("/v1"))
            .header("X-Forwarded-For", forwarded)
            .basic_auth("root", Some(password.to_string()))
            .send()
    };
    for _ in 0..6 {
        // The spoofed left-most entry is not the client: the proxy appended the real one.
        let res = attempt(&proxy, "198.51.100.1, 203.0.113.7", "guess")
            .await
            .unwrap();
        assert_eq!(res.status(), 401);
    }
    let res = attempt(&proxy, "203.0.113.7", "secret").await.unwrap();
    assert_eq!(res.status(), 429, "the forwarded client is blocked");
    let res = attempt(&proxy, "198.51.100.1", "secret").await.unwrap();
    assert_eq!(res.status(), 200, "another forwarded client is not");
    let (_, status) = s.get("/v1/status/ApiListener").await;
    let blocked = &status["results"][0]["status"]["api"]["blocklist"]["blocked"];
    let addresses: Vec<&str> = blocked
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|b| b["address"].as_str())
        .collect();
    assert_eq!(addresses, vec!["203.0.113.7"], "{blocked}");

    // 127.0.0.2 is no trusted proxy: its header is ignored, it is blocked itself.
    let direct = s.client_from("127.0.0.2");
    for _ in 0..6 {
        attempt(&direct, "192.0.2.9", "guess").await.unwrap();
    }
    let res = attempt(&direct, "192.0.2.10", "secret").await.unwrap();
    assert_eq!(res.status(), 429);
}
