//! Config packages and stages: upload, background validation, live activation (no
//! restart), files, failures that leave the active stage alone, and restarts.

use serde_json::{json, Value as Json};

use crate::util::{Server, PASSIVE};

/// Waits until a stage has been validated; returns its `status` (0 valid).
async fn validated(s: &Server, pkg: &str, stage: &str) -> String {
    for _ in 0..200 {
        let res = s
            .client()
            .get(s.url(&format!("/v1/config/files/{pkg}/{stage}/status")))
            .basic_auth("root", Some("secret"))
            .send()
            .await
            .unwrap();
        if res.status() == 200 {
            return res.text().await.unwrap().trim().to_string();
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("stage {stage} never validated");
}

async fn upload(s: &Server, pkg: &str, files: Json) -> String {
    let (status, res) = s
        .post(
            &format!("/v1/config/stages/{pkg}"),
            json!({ "files": files }),
        )
        .await;
    assert_eq!(status, 200, "{res}");
    assert_eq!(
        res["results"][0]["status"],
        "Created stage. Reload triggered."
    );
    res["results"][0]["stage"].as_str().unwrap().to_string()
}

async fn file(s: &Server, path: &str) -> (u16, String) {
    let res = s
        .client()
        .get(s.url(path))
        .basic_auth("root", Some("secret"))
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

#[tokio::test]
async fn packages_stages_and_live_activation() {
    let s = Server::start(PASSIVE).await;
    let (status, res) = s.post("/v1/config/packages/_mine", json!({})).await;
    assert_eq!(status, 400, "{res}");
    let (status, res) = s.post("/v1/config/packages/example", json!({})).await;
    assert_eq!(status, 200, "{res}");
    assert_eq!(res["results"][0]["status"], "Created package.");
    // Runtime state and API objects must survive activations.
    let (status, _) = s
        .post(
            "/v1/actions/process-check-result",
            json!({"service": "h1!passive", "exit_status": 2, "plugin_output": "down"}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = s
        .post(
            "/v1/actions/process-check-result",
            json!({"type": "Host", "host": "h2", "exit_status": 1, "plugin_output": "down"}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = s
        .send(
            "PUT",
            "/v1/objects/hosts/api-host",
            json!({"attrs": {"check_command": "dummy"}}),
        )
        .await;
    assert_eq!(status, 200);

    let stage = upload(
        &s,
        "example",
        json!({"conf.d/hosts.conf": "object Host \"pkg-host\" {\n  check_command = \"dummy\"\n  vars.from = \"package\"\n}\nobject Service \"pkg-svc\" { host_name = \"h2\"; check_command = \"dummy\" }\n"}),
    )
    .await;
    assert_eq!(validated(&s, "example", &stage).await, "0");
    let a = s
        .wait_for("/v1/objects/hosts/pkg-host", |a| a["package"] == "example")
        .await;
    assert_eq!(a["vars"]["from"], "package");
    assert!(s
        .events("ObjectCreated")
        .iter()
        .any(|e| e["object_name"] == "pkg-host"));
    let svc = s.get("/v1/objects/services/h1!passive").await.1;
    assert_eq!(svc["results"][0]["attrs"]["state"], 2, "runtime state kept");
    // A new service reads the state its host kept (handled: the host is DOWN).
    let svc = s.get("/v1/objects/services/h2!pkg-svc").await.1;
    assert_eq!(svc["results"][0]["attrs"]["handled"], true, "{svc}");
    assert_eq!(
        s.get("/v1/objects/hosts/api-host").await.0,
        200,
        "API objects kept"
    );

    let (_, res) = s.get("/v1/config/packages").await;
    assert_eq!(res["results"][0]["name"], "_api");
    let pkg = &res["results"][1];
    assert_eq!(
        (pkg["name"].clone(), pkg["active-stage"].clone()),
        (json!("example"), json!(stage.clone()))
    );
    let (_, res) = s.get(&format!("/v1/config/stages/example/{stage}")).await;
    let names: Vec<&str> = res["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    for n in ["conf.d", "conf.d/hosts.conf", "startup.log", "status"] {
        assert!(names.contains(&n), "{n} in {names:?}");
    }
    let (status, text) = file(
        &s,
        &format!("/v1/config/files/example/{stage}/conf.d/hosts.conf"),
    )
    .await;
    assert_eq!(status, 200);
    assert!(text.starts_with("object Host \"pkg-host\""));
    assert_eq!(
        file(
            &s,
            &format!("/v1/config/files/example/{stage}/conf.d/%2E%2E/%2E%2E/active-stage")
        )
        .await
        .0,
        400
    );
    assert_eq!(
        file(
            &s,
            &format!("/v1/config/files/example/{stage}/conf.d/nope.conf")
        )
        .await
        .0,
        404
    );

    // A broken stage: validated, refused, the active stage and its objects stay.
    let broken = upload(
        &s,
        "example",
        json!({"conf.d/hosts.conf": "object Host \"pkg-host\" {\n  check_command = \n}\n"}),
    )
    .await;
    assert_eq!(validated(&s, "example", &broken).await, "1");
    let (_, log) = file(
        &s,
        &format!("/v1/config/files/example/{broken}/startup.log"),
    )
    .await;
    assert!(log.contains("critical/config"), "{log}");
    assert!(
        log.contains("hosts.conf(2)") || log.contains("hosts.conf:2"),
        "{log}"
    );
    assert!(log.contains('^'), "the error points at the line: {log}");
    let (_, res) = s.get("/v1/config/packages").await;
    assert_eq!(res["results"][1]["active-stage"], stage.as_str());
    assert_eq!(s.get("/v1/objects/hosts/pkg-host").await.0, 200);

    // The next stage replaces the package's objects: one goes, one comes.
    let next = upload(
        &s,
        "example",
        json!({"conf.d/hosts.conf": "object Host \"pkg-host2\" { check_command = \"dummy\" }\n"}),
    )
    .await;
    assert_eq!(validated(&s, "example", &next).await, "0");
    s.wait_for("/v1/objects/hosts/pkg-host2", |a| a["package"] == "example")
        .await;
    assert_eq!(s.get("/v1/objects/hosts/pkg-host").await.0, 404);
    assert!(s
        .events("ObjectDeleted")
        .iter()
        .any(|e| e["object_name"] == "pkg-host"));

    let (status, res) = s
        .send(
            "DELETE",
            &format!("/v1/config/stages/example/{next}"),
            json!({}),
        )
        .await;
    assert_eq!(status, 500, "the active stage stays: {res}");
    let (status, _) = s
        .send(
            "DELETE",
            &format!("/v1/config/stages/example/{broken}"),
            json!({}),
        )
        .await;
    assert_eq!(status, 200);

    // A restart loads the active stage.
    let s = s.restart().await;
    assert_eq!(s.get("/v1/objects/hosts/pkg-host2").await.0, 200);
    assert_eq!(s.get("/v1/objects/hosts/api-host").await.0, 200);
    let (status, res) = s
        .send("DELETE", "/v1/config/packages/example", json!({}))
        .await;
    assert_eq!(status, 200, "{res}");
    assert_eq!(s.get("/v1/objects/hosts/pkg-host2").await.0, 404);
    assert_eq!(
        s.get("/v1/config/packages").await.1["results"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

/// Uploading the same objects again changes nothing: objects whose attributes hold
/// lambdas (`{{ … }}`, `function`, closures) are not reported modified; a changed lambda
/// is.
#[tokio::test]
async fn identical_lambdas_are_unchanged() {
    let s = Server::start(PASSIVE).await;
    let (status, _) = s.post("/v1/config/packages/lambdas", json!({})).await;
    assert_eq!(status, 200);
    let hosts = "var n = 2\nobject Host \"fn-host\" {\n  check_command = \"dummy\"\n  vars.a = {{ 1 + 1 }}\n  vars.b = function(x) { return x }\n  vars.c = (y) use (n) => y * n\n}\n";
    let changed = hosts.replace("y * n", "y + n");
    for (marker, conf) in [("m1", hosts), ("m2", hosts), ("m3", changed.as_str())] {
        let files = json!({
            "conf.d/hosts.conf": conf,
            "conf.d/marker.conf": format!("object Host \"{marker}\" {{ check_command = \"dummy\" }}"),
        });
        let stage = upload(&s, "lambdas", files).await;
        assert_eq!(validated(&s, "lambdas", &stage).await, "0");
        s.wait_for(&format!("/v1/objects/hosts/{marker}"), |a| {
            a["package"] == "lambdas"
        })
        .await;
    }
    let modified: Vec<Json> = s
        .events("ObjectModified")
        .into_iter()
        .filter(|e| e["object_name"] == "fn-host")
        .collect();
    assert_eq!(modified.len(), 1, "only the changed lambda: {modified:?}");
}

/// The `_api` package shows the objects created through the API as configuration.
#[tokio::test]
async fn api_package_holds_api_objects() {
    let s = Server::start(PASSIVE).await;
    let (status, _) = s
        .send(
            "PUT",
            "/v1/objects/hosts/api-host",
            json!({"attrs": {"check_command": "dummy", "address": "192.0.2.1", "vars.role": "db"}}),
        )
        .await;
    assert_eq!(status, 200);
    let (_, res) = s.get("/v1/config/stages/_api/api").await;
    let names: Vec<&str> = res["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        vec!["conf.d", "conf.d/hosts", "conf.d/hosts/api-host.conf"]
    );
    let (status, text) = file(&s, "/v1/config/files/_api/api/conf.d/hosts/api-host.conf").await;
    assert_eq!(status, 200);
    assert!(
        text.starts_with("object Host \"api-host\" ignore_on_error {\n"),
        "{text}"
    );
    assert!(
        text.contains("\taddress = \"192.0.2.1\"\n") && text.contains("\tvars.role = \"db\"\n"),
        "{text}"
    );
    let (status, _) = s
        .post(
            "/v1/config/stages/_api",
            json!({"files": {"conf.d/x.conf": ""}}),
        )
        .await;
    assert_eq!(status, 400);
}

/// Without `config/*` permissions the endpoints do not exist for the user (Icinga's
/// generic 404).
#[tokio::test]
async fn config_permissions() {
    let s = Server::start(PASSIVE).await;
    let res = s
        .client()
        .get(s.url("/v1/config/packages"))
        .basic_auth("reader", Some("reader"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 404);
}

/// A stage as Icinga Director deploys it: a global-zone file that sets constants from
/// `current_filename`, assigns `globals`, declares constants under a condition and logs;
/// host files under `zones.d/<local zone>/` whose objects take that zone; the objects
/// read the constants. Objects of the configuration itself have no zone, objects created
/// through the API the local one (as Icinga shows them).
#[tokio::test]
async fn director_style_stage_deploys() {
    let zones = r#"
object Endpoint NodeName { host = NodeName }
object Zone ZoneName { endpoints = [ NodeName ] }
object Zone "director-global" { global = true }
object Endpoint "peer" { host = "peer.example" }
object Host "from-config" { check_command = "dummy" }
"#;
    let s = Server::start(zones).await;
    let (status, res) = s.post("/v1/config/packages/director", json!({})).await;
    assert_eq!(status, 200, "{res}");
    let basics = r#"
const StageRoot = dirname(dirname(current_filename))
globals.warnedOnce = false
globals.warnOnce = function() {
  if (globals.warnedOnce == false) {
    globals.warnedOnce = true
    log(LogWarning, "config", "a warning, once")
  }
}
const OverrideTemplate = "overrides"
if (! globals.contains(OverrideTemplate)) {
  const OverrideVars = "_override_vars"
  template Service OverrideTemplate {
    if (vars) { vars += host.vars[OverrideVars][name] } else { vars = host.vars[OverrideVars][name] }
  }
}
"#;
    let hosts = r#"
object Host "deployed" {
  check_command = "dummy"
  vars.root = StageRoot
  vars.line = current_line
  vars._override_vars = { "svc" = { "extra" = 1 } }
}
apply Service "svc" {
  import OverrideTemplate
  check_command = "dummy"
  assign where host.name == "deployed"
}
"#;
    let stage = upload(
        &s,
        "director",
        json!({
            "zones.d/director-global/001-director-basics.conf": basics,
            "zones.d/localhost/hosts.conf": hosts,
        }),
    )
    .await;
    let log = file(
        &s,
        &format!("/v1/config/files/director/{stage}/startup.log"),
    )
    .await
    .1;
    assert_eq!(validated(&s, "director", &stage).await, "0", "{log}");
    // Exactly as Icinga writes it (Director compares the whole file with "0").
    let status = file(&s, &format!("/v1/config/files/director/{stage}/status")).await;
    assert_eq!(status, (200, "0".to_string()));
    // Valid, then activated: the objects follow.
    let attrs = &s
        .wait_for("/v1/objects/hosts/deployed", |a| !a.is_null())
        .await;
    assert_eq!(attrs["zone"], "localhost", "{attrs}");
    assert_eq!(attrs["vars"]["line"], 5);
    assert!(
        attrs["vars"]["root"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/director/{stage}/zones.d")),
        "{attrs}"
    );
    let (_, svc) = s.get("/v1/objects/services/deployed!svc").await;
    assert_eq!(svc["results"][0]["attrs"]["vars"]["extra"], 1, "{svc}");
    let (_, conf) = s.get("/v1/objects/hosts/from-config?attrs=zone").await;
    assert_eq!(conf["results"][0]["attrs"]["zone"], "");
    let (status, _) = s
        .send(
            "PUT",
            "/v1/objects/hosts/from-api",
            json!({"attrs": {"check_command": "dummy"}}),
        )
        .await;
    assert_eq!(status, 200);
    let (_, api) = s.get("/v1/objects/hosts/from-api?attrs=zone").await;
    assert_eq!(api["results"][0]["attrs"]["zone"], "localhost");
    // The node's own endpoint shows where its API listens; others Icinga's default.
    let (_, endpoint) = s.get("/v1/objects/endpoints/localhost?attrs=port").await;
    assert_eq!(endpoint["results"][0]["attrs"]["port"], s.port.to_string());
    let (_, endpoint) = s.get("/v1/objects/endpoints/peer?attrs=port").await;
    assert_eq!(endpoint["results"][0]["attrs"]["port"], "5665");
}
