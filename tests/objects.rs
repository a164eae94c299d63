//! `/v1/objects`, `/v1/templates`, `/v1/variables`, and durability across restarts.

use serde_json::{json, Value as Json};

use crate::util::Server;

const CONFIG: &str = r#"
template Host "generic-host" { check_command = "hostalive"; max_check_attempts = 3 }
object Host "web1" { import "generic-host"; address = "10.0.0.1"; vars.os = "Linux"; groups = [ "web" ] }
object Host "db1" { import "generic-host"; address = "10.0.0.2"; vars.os = "Windows" }
object HostGroup "web" { }
apply Service "ping" { check_command = "ping4"; assign where host.address }
const Team = "ops"
"#;

fn names(body: &Json) -> Vec<String> {
    let mut v: Vec<String> = body["results"]
        .as_array()
        .unwrap_or(&Vec::new())
        .iter()
        .map(|r| r["name"].as_str().unwrap_or_default().to_string())
        .collect();
    v.sort();
    v
}

/// Queries: all objects, selected attributes (an unknown one is a per-item 400), joins,
/// meta, filters with `filter_vars`, and Icinga's status codes for the edge cases.
#[tokio::test]
async fn queries() {
    let s = Server::start(CONFIG).await;
    let (status, body) = s.get("/v1/objects/hosts").await;
    assert_eq!(status, 200);
    assert_eq!(names(&body), ["db1", "web1"]);
    let web1 = body["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "web1")
        .unwrap();
    let attrs = &web1["attrs"];
    assert_eq!(attrs["address"], "10.0.0.1");
    assert_eq!(attrs["check_command"], "hostalive");
    assert_eq!(attrs["check_interval"], 300, "the type's default");
    assert_eq!(attrs["enable_active_checks"], true);
    assert_eq!(attrs["templates"], json!(["web1", "generic-host"]));
    assert_eq!(attrs["display_name"], "web1");
    assert_eq!(attrs["package"], "_etc");
    assert_eq!(attrs["type"], "Host");
    assert!(attrs.get("password").is_none());

    let (_, body) = s
        .get("/v1/objects/services?attrs=name&attrs=host_name&joins=host.address&meta=location")
        .await;
    let first = &body["results"][0];
    assert_eq!(first["attrs"].as_object().unwrap().len(), 2);
    assert!(first["joins"]["host"]["address"].is_string());
    assert_eq!(first["meta"]["location"]["first_line"], 6);

    // An unknown attribute: per-item 400, the request stays 200.
    let (status, body) = s.get("/v1/objects/hosts/web1?attrs=foo").await;
    assert_eq!(status, 200);
    assert_eq!(body["results"][0]["code"], 400);
    assert_eq!(body["results"][0]["status"], "Invalid field specified: foo");

    // Filters, with variables of the body.
    let (status, body) = s
        .post(
            "/v1/objects/hosts",
            json!({"filter": "host.vars.os == os && \"web\" in host.groups", "filter_vars": {"os": "Linux"}}),
        )
        .await;
    assert_eq!(status, 400, "POST without override is a modify: {body}");
    let res = s
        .client()
        .post(s.url("/v1/objects/hosts"))
        .basic_auth("root", Some("secret"))
        .header("X-HTTP-Method-Override", "GET")
        .json(&json!({"filter": "host.vars.os == os && \"web\" in host.groups", "filter_vars": {"os": "Linux"}, "attrs": ["name"]}))
        .send()
        .await
        .unwrap();
    let body: Json = res.json().await.unwrap();
    assert_eq!(names(&body), ["web1"]);
    let (_, body) = s
        .get("/v1/objects/services?filter=service.host_name%3D%3D%22db1%22&attrs=name")
        .await;
    assert_eq!(names(&body), ["db1!ping"]);
    // A display name never set reads as the (short) name, in filters as in answers.
    let (_, body) = s
        .get("/v1/objects/services?filter=service.display_name%3D%3Dservice.name%20%26%26%20host.display_name%3D%3Dhost.name&attrs=name")
        .await;
    assert_eq!(names(&body), ["db1!ping", "web1!ping"]);

    // Nothing matches: 200 and no results. A failing filter, a missing name: 404.
    let (status, body) = s
        .get("/v1/objects/hosts?filter=host.name%3D%3D%22x%22")
        .await;
    assert_eq!((status, body), (200, json!({"results": []})));
    let (status, body) = s
        .get("/v1/objects/hosts?filter=host.nosuchfield%20%3D%3D%201")
        .await;
    assert_eq!(status, 404);
    assert_eq!(body["status"], "No objects found.");
    let (status, _) = s.get("/v1/objects/hosts/nope").await;
    assert_eq!(status, 404);
    let (status, body) = s.get("/v1/objects/nopes").await;
    assert_eq!(
        (status, body["status"].clone()),
        (400, json!("Invalid type specified."))
    );
    let (status, body) = s.get("/v1/objects/hosts?attrs=name&joins=nope").await;
    assert_eq!(status, 400, "{body}");

    // Templates and variables.
    let (_, body) = s.get("/v1/templates/hosts").await;
    assert_eq!(names(&body), ["generic-host"]);
    let (status, _) = s.get("/v1/templates/hosts/nope").await;
    assert_eq!(status, 404);
    let (_, body) = s.get("/v1/variables/Team").await;
    assert_eq!(
        body["results"][0],
        json!({"name": "Team", "type": "String", "value": "ops"})
    );
}

/// Pagination: `limit` and `offset` with `Link` and `X-Total-Count`.
#[tokio::test]
async fn pagination() {
    let s = Server::start(
        "for (i in range(25)) { object Host \"h\" + i { check_command = \"dummy\" } }",
    )
    .await;
    let res = s
        .client()
        .get(s.url("/v1/objects/hosts?limit=10&offset=10&attrs=name"))
        .basic_auth("root", Some("secret"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-total-count"], "25");
    let link = res.headers()["link"].to_str().unwrap().to_string();
    assert!(link.contains("offset=20&limit=10>; rel=\"next\""), "{link}");
    assert!(link.contains("offset=0&limit=10>; rel=\"prev\""), "{link}");
    let body: Json = res.json().await.unwrap();
    assert_eq!(body["results"].as_array().unwrap().len(), 10);

    // Following `next` keeps the query: filter, filter_vars (from the body), attrs.
    let mut next = Some(
        "/v1/objects/hosts?limit=2&attrs=name&filter=match(prefix%2B%22*%22,host.name)".to_string(),
    );
    let mut seen = Vec::new();
    while let Some(path) = next.take() {
        // Only the first request has a body; the links carry its parameters.
        let request = if seen.is_empty() {
            s.client()
                .post(s.url(&path))
                .header("X-HTTP-Method-Override", "GET")
                .json(&json!({"filter_vars": {"prefix": "h1"}}))
        } else {
            s.client().get(s.url(&path))
        };
        let res = request
            .basic_auth("root", Some("secret"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.headers()["x-total-count"], "11", "{path}");
        next = res.headers().get("link").and_then(|l| {
            let l = l.to_str().ok()?;
            let next = l.split(", ").find(|p| p.ends_with("rel=\"next\""))?;
            Some(next.split(['<', '>']).nth(1)?.to_string())
        });
        let body: Json = res.json().await.unwrap();
        for r in body["results"].as_array().unwrap() {
            assert_eq!(r["attrs"].as_object().unwrap().len(), 1, "{r}");
            seen.push(r["name"].as_str().unwrap().to_string());
        }
    }
    seen.sort();
    assert_eq!(
        seen,
        ["h1", "h10", "h11", "h12", "h13", "h14", "h15", "h16", "h17", "h18", "h19"]
    );
}

/// A large dump streams in chunks (no Content-Length; HTTP/1.1 chunked encoding) and is
/// complete, valid JSON.
#[tokio::test]
async fn large_dumps_stream() {
    let s = Server::start(
        "for (i in range(20000)) { object Host \"host-\" + i use (i) { check_command = \"dummy\"; enable_active_checks = false; vars.i = i } }",
    )
    .await;
    let res = s
        .builder()
        .timeout(std::time::Duration::from_secs(120))
        .http1_only()
        .build()
        .unwrap()
        .get(s.url("/v1/objects/hosts?attrs=name&attrs=vars&attrs=check_command"))
        .basic_auth("root", Some("secret"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers().get("content-length").is_none());
    assert_eq!(res.headers()["transfer-encoding"], "chunked");
    let body: Json = res.json().await.unwrap();
    assert_eq!(body["results"].as_array().unwrap().len(), 20000);
}

/// Create, modify, delete with Icinga's result items and codes.
#[tokio::test]
async fn create_modify_delete() {
    let s = Server::start(CONFIG).await;
    let (status, body) = s
        .send(
            "PUT",
            "/v1/objects/hosts/api1",
            json!({"templates": ["generic-host"], "attrs": {"address": "10.1.1.1", "vars.os": "Linux", "check_interval": "30"}}),
        )
        .await;
    assert_eq!(
        (status, body),
        (
            200,
            json!({"results": [{"code": 200, "status": "Object was created"}]})
        )
    );
    let (_, body) = s.get("/v1/objects/hosts/api1").await;
    let a = &body["results"][0]["attrs"];
    assert_eq!(a["check_interval"], 30);
    assert_eq!(a["package"], "_api");
    assert_eq!(a["vars"]["os"], "Linux");
    // Array attributes Icinga defaults to an empty array read as one.
    assert_eq!(a["groups"], json!([]));
    // The apply rule created the host's service.
    let (status, _) = s.get("/v1/objects/services/api1!ping").await;
    assert_eq!(status, 200);

    for (path, body, error) in [
        ("/v1/objects/hosts/api1", json!({"templates": ["generic-host"]}), "Error: Object 'api1' of type 'Host' already exists."),
        ("/v1/objects/hosts/x1", json!({"attrs": {"address": "1"}}), "Error: Validation failed for object 'x1' of type 'Host'; Attribute 'check_command': Attribute must not be empty."),
        ("/v1/objects/hosts/x2", json!({"attrs": {"foo": 1, "check_command": "dummy"}}), "Error: Invalid attribute specified: foo"),
        ("/v1/objects/hosts/x3", json!({"templates": ["nope"], "attrs": {"check_command": "dummy"}}), "Error: Import references unknown template: 'nope'"),
        ("/v1/objects/services/ghost!s", json!({"attrs": {"check_command": "dummy"}}), "Error: Validation failed for object 'ghost!s' of type 'Service'; Attribute 'host_name': Object 'ghost' of type 'Host' does not exist."),
        ("/v1/objects/hosts/x4", json!({"attrs": {"check_command": "dummy", "name": "y"}}), "Error: Attribute is marked for internal use only and may not be set: name"),
    ] {
        let (status, body) = s.send("PUT", path, body).await;
        assert_eq!(status, 500, "{path}: {body}");
        assert_eq!(body["results"][0]["status"], "Object could not be created.");
        assert_eq!(body["results"][0]["errors"][0], error, "{path}");
    }

    // Modify: changed, then a no-op, then restore.
    let (status, body) = s
        .post(
            "/v1/objects/hosts/api1",
            json!({"attrs": {"address": "10.1.1.2", "vars.team": "db"}}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["results"][0]["status"], "Attributes updated.");
    assert_eq!(body["results"][0]["changed"], true);
    let (_, body) = s
        .post(
            "/v1/objects/hosts/api1",
            json!({"attrs": {"address": "10.1.1.2"}}),
        )
        .await;
    assert_eq!(body["results"][0]["changed"], false);
    let (_, body) = s
        .get("/v1/objects/hosts/api1?attrs=address&attrs=vars&attrs=original_attributes")
        .await;
    let a = &body["results"][0]["attrs"];
    assert_eq!(a["address"], "10.1.1.2");
    assert_eq!(a["vars"], json!({"os": "Linux", "team": "db"}));
    assert_eq!(a["original_attributes"]["address"], "10.1.1.1");
    let (_, body) = s
        .post(
            "/v1/objects/hosts/api1",
            json!({"restore_attrs": ["address"]}),
        )
        .await;
    assert_eq!(body["results"][0]["changed"], true);
    let (_, body) = s.get("/v1/objects/hosts/api1?attrs=address").await;
    assert_eq!(body["results"][0]["attrs"]["address"], "10.1.1.1");
    let (_, body) = s
        .post("/v1/objects/hosts/api1", json!({"attrs": {"name": "x"}}))
        .await;
    assert_eq!(body["results"][0]["code"], 500);
    // What Ansible's host module sends: every attribute that can be set is, the one that
    // cannot is reported (Icinga 2.13.6 answers exactly this).
    let (status, body) = s
        .post(
            "/v1/objects/hosts/api1",
            json!({"attrs": {"address": "192.0.2.2", "check_command": "dummy", "display_name": "api1", "zone": null, "vars.made_by": "ansible", "max_check_attempts": "many"}}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["results"][0]["code"], 500, "{body}");
    assert_eq!(
        body["results"][0]["status"],
        "Attribute 'max_check_attempts' could not be set: Error: Can't convert 'many' to a floating point number."
    );
    assert_eq!(body["results"][0]["changed"], true);
    let (_, body) = s
        .get("/v1/objects/hosts/api1?attrs=address&attrs=check_command&attrs=vars&attrs=max_check_attempts")
        .await;
    let a = &body["results"][0]["attrs"];
    assert_eq!(
        (
            &a["address"],
            &a["check_command"],
            &a["vars"]["made_by"],
            &a["max_check_attempts"]
        ),
        (
            &json!("192.0.2.2"),
            &json!("dummy"),
            &json!("ansible"),
            &json!(3)
        )
    );
    let (_, body) = s
        .post(
            "/v1/objects/hosts/api1",
            json!({"attrs": {"zone": null, "nonexistent": 1}}),
        )
        .await;
    assert_eq!(
        (
            &body["results"][0]["status"],
            &body["results"][0]["changed"]
        ),
        (
            &json!("Attribute 'nonexistent' could not be set: Error: Invalid field ID."),
            &json!(false)
        )
    );
    let (status, body) = s.post("/v1/objects/hosts/api1", json!({})).await;
    assert_eq!(status, 400);
    assert!(body["status"]
        .as_str()
        .unwrap()
        .starts_with("Missing both 'attrs' and 'restore_attrs'"));

    // Delete: config objects refuse; dependants need cascade.
    let (status, body) = s.send("DELETE", "/v1/objects/hosts/web1", json!({})).await;
    assert_eq!(status, 500);
    assert_eq!(
        body["results"][0]["errors"][0],
        "Object cannot be deleted because it was not created using the API."
    );
    let (status, body) = s.send("DELETE", "/v1/objects/hosts/api1", json!({})).await;
    assert_eq!(status, 500);
    assert!(body["results"][0]["errors"][0]
        .as_str()
        .unwrap()
        .contains("Use cascading delete"));
    let (status, body) = s
        .send("DELETE", "/v1/objects/hosts/api1?cascade=1", json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["results"][0]["status"], "Object was deleted.");
    assert_eq!(s.get("/v1/objects/hosts/api1").await.0, 404);
    assert_eq!(s.get("/v1/objects/services/api1!ping").await.0, 404);
}

/// Permission filters narrow queries; named objects outside them are 404.
#[tokio::test]
async fn permission_filters_narrow_queries() {
    let s = Server::start(&format!(
        "{CONFIG}\nobject ApiUser \"linux\" {{ password = \"l\"; permissions = [ {{ permission = \"objects/query/Host\", filter = {{{{ host.vars.os == \"Linux\" }}}} }} ] }}"
    ))
    .await;
    let get = |path: &str| {
        s.client()
            .get(s.url(path))
            .basic_auth("linux", Some("l"))
            .send()
    };
    let body: Json = get("/v1/objects/hosts")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(names(&body), ["web1"]);
    assert_eq!(get("/v1/objects/hosts/db1").await.unwrap().status(), 404);
    assert_eq!(get("/v1/objects/services").await.unwrap().status(), 403);
}

/// Everything a 2xx acknowledged survives a restart: API objects, their applied services,
/// modified attributes, deletions.
#[tokio::test]
async fn changes_survive_restart() {
    let s = Server::start(CONFIG).await;
    let (status, _) = s
        .send(
            "PUT",
            "/v1/objects/hosts/keep",
            json!({"templates": ["generic-host"], "attrs": {"address": "10.9.9.9"}}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = s
        .send(
            "PUT",
            "/v1/objects/hosts/gone",
            json!({"attrs": {"check_command": "dummy"}}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = s.send("DELETE", "/v1/objects/hosts/gone", json!({})).await;
    assert_eq!(status, 200);
    let (status, _) = s
        .post(
            "/v1/objects/hosts/web1",
            json!({"attrs": {"vars.os": "BSD"}}),
        )
        .await;
    assert_eq!(status, 200);

    let s = s.restart().await;
    let (status, body) = s
        .get("/v1/objects/hosts/keep?attrs=address&attrs=package")
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        body["results"][0]["attrs"],
        json!({"address": "10.9.9.9", "package": "_api"})
    );
    assert_eq!(s.get("/v1/objects/services/keep!ping").await.0, 200);
    assert_eq!(s.get("/v1/objects/hosts/gone").await.0, 404);
    let (_, body) = s
        .get("/v1/objects/hosts/web1?attrs=vars&attrs=original_attributes")
        .await;
    assert_eq!(body["results"][0]["attrs"]["vars"]["os"], "BSD");
    assert_eq!(
        body["results"][0]["attrs"]["original_attributes"]["vars"]["os"],
        "Linux"
    );
}

/// The next ObjectCreated/Modified/Deleted event: (type, object_type, object_name).
async fn next_object_event(
    rx: &mut tokio::sync::broadcast::Receiver<std::sync::Arc<auspex::bus::Event>>,
) -> (String, String, String) {
    loop {
        let e = tokio::time::timeout(std::time::Duration::from_secs(5), rx.recv())
            .await
            .expect("an event")
            .unwrap();
        if e.kind.name().starts_with("Object") {
            let body: Json = serde_json::from_slice(&e.json).unwrap();
            return (
                body["type"].as_str().unwrap().to_string(),
                body["object_type"].as_str().unwrap().to_string(),
                body["object_name"].as_str().unwrap().to_string(),
            );
        }
    }
}

/// Creating, modifying and deleting objects publishes ObjectCreated, ObjectModified and
/// ObjectDeleted (applied services included).
#[tokio::test]
async fn object_changes_publish_events() {
    let s = Server::start(CONFIG).await;
    let mut bus = s.state().engine.bus.subscribe();
    let (status, _) = s
        .send(
            "PUT",
            "/v1/objects/hosts/ev1",
            json!({"templates": ["generic-host"], "attrs": {"address": "10.7.7.7"}}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        next_object_event(&mut bus).await,
        ("ObjectCreated".into(), "Host".into(), "ev1".into())
    );
    assert_eq!(
        next_object_event(&mut bus).await,
        ("ObjectCreated".into(), "Service".into(), "ev1!ping".into())
    );
    s.post(
        "/v1/objects/hosts/ev1",
        json!({"attrs": {"address": "10.7.7.8"}}),
    )
    .await;
    assert_eq!(
        next_object_event(&mut bus).await,
        ("ObjectModified".into(), "Host".into(), "ev1".into())
    );
    s.send("DELETE", "/v1/objects/hosts/ev1?cascade=1", json!({}))
        .await;
    let mut deleted = vec![
        next_object_event(&mut bus).await,
        next_object_event(&mut bus).await,
    ];
    deleted.sort();
    assert_eq!(
        deleted,
        [
            (
                "ObjectDeleted".to_string(),
                "Host".to_string(),
                "ev1".to_string()
            ),
            (
                "ObjectDeleted".to_string(),
                "Service".to_string(),
                "ev1!ping".to_string()
            ),
        ]
    );
}
