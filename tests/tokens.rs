//! API tokens: a subset of the user's permissions, an expiry, revocation, persistence;
//! accepted on every endpoint and on the streams; CORS for browser pages.

use serde_json::{json, Value as Json};

use crate::util::{read_until, Server, PASSIVE};

const USERS: &str = r#"
object ApiUser "viewer" { password = "v"; permissions = [ "objects/query/*", "events/*" ] }
object ApiListener "api" { access_control_allow_origin = [ "https://dash.example" ] }
"#;

fn config() -> String {
    format!("{PASSIVE}{USERS}")
}

async fn issue(s: &Server, user: &str, password: &str, body: Json) -> (u16, Json) {
    let res = s
        .client()
        .post(s.url("/v1/tokens"))
        .basic_auth(user, Some(password))
        .json(&body)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

async fn get_with(s: &Server, token: &str, path: &str) -> u16 {
    s.client()
        .get(s.url(path))
        .bearer_auth(token)
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// A token allows what both it and its user allow, on any endpoint; it cannot carry a
/// permission its user lacks; a token issues tokens only within its own scope.
#[tokio::test]
async fn tokens_carry_a_subset_of_permissions() {
    let s = Server::start(&config()).await;
    let (status, body) = issue(
        &s,
        "root",
        "secret",
        json!({"permissions": ["objects/query/Host"], "name": "wall", "ttl": 600}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let item = &body["results"][0];
    assert_eq!(item["user"], "root");
    assert_eq!(item["permissions"], json!(["objects/query/Host"]));
    assert_eq!(item["ttl"], 600);
    let token = item["token"].as_str().unwrap().to_string();
    assert_eq!(get_with(&s, &token, "/v1/objects/hosts").await, 200);
    assert_eq!(get_with(&s, &token, "/v1/objects/services").await, 403);
    assert_eq!(get_with(&s, &token, "/v1/status").await, 403);
    let res = s
        .client()
        .get(s.url("/v1"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let v1: Json = res.json().await.unwrap();
    assert_eq!(v1["results"][0]["user"], "root");

    // Not beyond the user.
    let (status, body) = issue(&s, "viewer", "v", json!({"permissions": ["actions/*"]})).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["status"].as_str().unwrap().contains("actions/*"),
        "{body}"
    );

    // A token's token: no more than the first token's scope.
    let ask = |body: Json| {
        s.client()
            .post(s.url("/v1/tokens"))
            .bearer_auth(&token)
            .json(&body)
            .send()
    };
    let res = ask(json!({"permissions": ["*"]})).await.unwrap();
    assert_eq!(res.status(), 400);
    let res = ask(json!({})).await.unwrap();
    assert_eq!(res.status(), 200);
    let body: Json = res.json().await.unwrap();
    assert_eq!(
        body["results"][0]["permissions"],
        json!(["objects/query/Host"])
    );
    let inner = body["results"][0]["token"].as_str().unwrap().to_string();
    assert_eq!(get_with(&s, &inner, "/v1/objects/hosts").await, 200);
    assert_eq!(get_with(&s, &inner, "/v1/objects/services").await, 403);
    assert_eq!(get_with(&s, &inner, "/v1/status").await, 403);
}

/// Revoked tokens stop at once, listed ones are the caller's; records survive a restart.
#[tokio::test]
async fn tokens_are_listed_revoked_and_survive_restarts() {
    let s = Server::start(&config()).await;
    let (_, a) = issue(&s, "viewer", "v", json!({"name": "a"})).await;
    let (_, b) = issue(&s, "viewer", "v", json!({"name": "b"})).await;
    issue(&s, "root", "secret", json!({"name": "root's"})).await;
    let (token_a, id_a) = (
        a["results"][0]["token"].as_str().unwrap().to_string(),
        a["results"][0]["id"].as_str().unwrap().to_string(),
    );
    let token_b = b["results"][0]["token"].as_str().unwrap().to_string();
    assert_eq!(get_with(&s, &token_a, "/v1/objects/hosts").await, 200);

    let list: Json = s
        .client()
        .get(s.url("/v1/tokens"))
        .bearer_auth(&token_b)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut names: Vec<&str> = list["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    assert_eq!(names, vec!["a", "b"], "{list}");
    assert!(
        !list.to_string().contains(&token_a),
        "tokens are never listed"
    );

    // root cannot revoke viewer's token; viewer can.
    let (status, _) = s
        .send("DELETE", &format!("/v1/tokens/{id_a}"), json!({}))
        .await;
    assert_eq!(status, 404);
    let res = s
        .client()
        .delete(s.url(&format!("/v1/tokens/{id_a}")))
        .basic_auth("viewer", Some("v"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(get_with(&s, &token_a, "/v1/objects/hosts").await, 401);

    let s = s.restart().await;
    assert_eq!(get_with(&s, &token_b, "/v1/objects/hosts").await, 200);
    assert_eq!(get_with(&s, &token_a, "/v1/objects/hosts").await, 401);
}

/// A token expires with the server's clock.
#[tokio::test]
async fn tokens_expire() {
    let s = Server::start_manual(&config()).await;
    let (_, body) = issue(&s, "viewer", "v", json!({"ttl": 10})).await;
    let token = body["results"][0]["token"].as_str().unwrap().to_string();
    assert_eq!(get_with(&s, &token, "/v1/objects/hosts").await, 200);
    s.advance(12.0).await;
    assert_eq!(get_with(&s, &token, "/v1/objects/hosts").await, 401);
}

/// A browser page on an allowed origin: the preflight allows the token header, answers
/// carry the origin, and the stream takes the token in the query string.
#[tokio::test]
async fn browsers_use_tokens_across_origins() {
    let s = Server::start(&config()).await;
    let (_, body) = issue(&s, "viewer", "v", json!({})).await;
    let token = body["results"][0]["token"].as_str().unwrap().to_string();
    let c = s.client();
    let res = c
        .request(reqwest::Method::OPTIONS, s.url("/v1/objects/hosts"))
        .header("Origin", "https://dash.example")
        .header("Access-Control-Request-Method", "GET")
        .header("Access-Control-Request-Headers", "authorization")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let allowed = res.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(allowed.contains("authorization") && allowed.contains("last-event-id"));
    assert_eq!(
        res.headers()["access-control-allow-origin"],
        "https://dash.example"
    );

    let res = c
        .get(s.url("/v1/objects/hosts"))
        .header("Origin", "https://dash.example")
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["access-control-allow-origin"],
        "https://dash.example"
    );
    let res = c
        .get(s.url("/v1/objects/hosts"))
        .header("Origin", "https://evil.example")
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert!(res.headers().get("access-control-allow-origin").is_none());

    let mut stream = c
        .get(s.url(&format!(
            "/v1/events?types=CheckResult&access_token={token}"
        )))
        .header("Accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    let (status, _) = s
        .post(
            "/v1/actions/process-check-result",
            json!({"type": "Service", "service": "h1!passive", "exit_status": 1, "plugin_output": "w"}),
        )
        .await;
    assert_eq!(status, 200);
    read_until(&mut stream, |t| t.contains("event: CheckResult")).await;
    // The query string carries tokens on the streams only.
    let status = c
        .get(s.url(&format!("/v1/objects/hosts?access_token={token}")))
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 401);
}
