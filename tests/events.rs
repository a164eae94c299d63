//! `/v1/events`: Icinga's NDJSON stream, Server-Sent Events with resume, WebSocket,
//! tokens, permissions and the journal across a restart.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value as Json};
use tokio_tungstenite::tungstenite::Message;

use crate::util::{read_until, Server, PASSIVE};

fn config() -> String {
    format!("{PASSIVE}{EXTRA}")
}

/// Beyond [`PASSIVE`].
const EXTRA: &str = r#"
object ApiUser "cr-only" { password = "c"; permissions = [ "events/CheckResult" ] }
object ApiUser "h1-only" {
  password = "h"
  permissions = [ { permission = "events/*", filter = {{ host.name == "h1" }} } ]
}
"#;

/// Reads a streamed response until `done` says the text so far is enough.
/// `POST <path>` as `user`: an event stream, or its refusal.
async fn post_stream(s: &Server, user: &str, password: &str, path: &str) -> reqwest::Response {
    s.client()
        .post(s.url(path))
        .basic_auth(user, Some(password))
        .send()
        .await
        .unwrap()
}

async fn submit(s: &Server, host: &str, exit: u8) {
    let (status, res) = s
        .post(
            "/v1/actions/process-check-result",
            json!({"type": "Service", "service": format!("{host}!passive"), "exit_status": exit, "plugin_output": format!("out {exit}")}),
        )
        .await;
    assert_eq!(status, 200, "{res}");
}

fn lines(text: &str) -> Vec<Json> {
    text.lines()
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// An Icinga client: POST, types and a filter; one JSON object per line with Icinga's
/// field names; only what the filter selects.
#[tokio::test]
async fn ndjson_stream_as_icinga_clients_read_it() {
    let s = Server::start(&config()).await;
    let mut res = s
        .client()
        .post(s.url("/v1/events"))
        .basic_auth("root", Some("secret"))
        .header("Accept", "application/json")
        .json(&json!({"types": ["CheckResult", "StateChange"], "filter": "event.host == \"h1\"", "queue": "legacy"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/json");
    submit(&s, "h2", 2).await; // filtered out
    submit(&s, "h1", 2).await;
    let text = read_until(&mut res, |t| t.matches('\n').count() >= 2).await;
    let events = lines(&text);
    assert_eq!(events.len(), 2, "{text}");
    let cr = &events[0];
    assert_eq!(cr["type"], "CheckResult");
    assert_eq!(cr["host"], "h1");
    assert_eq!(cr["service"], "passive");
    assert_eq!(cr["acknowledgement"], false);
    assert_eq!(cr["downtime_depth"], 0);
    assert_eq!(cr["check_result"]["output"], "out 2");
    assert_eq!(cr["check_result"]["state"], 2);
    assert!(cr["timestamp"].as_f64().unwrap() > 1.7e9);
    let sc = &events[1];
    assert_eq!(sc["type"], "StateChange");
    assert_eq!(sc["state"], 2);
    assert_eq!(sc["state_type"], 0);
}

/// NDJSON lines carry the event id, and `since=` resumes after it in that format too.
#[tokio::test]
async fn ndjson_lines_carry_ids_for_resuming() {
    let s = Server::start(&config()).await;
    let mut res = post_stream(&s, "root", "secret", "/v1/events?types=CheckResult").await;
    submit(&s, "h1", 1).await;
    submit(&s, "h1", 2).await;
    let text = read_until(&mut res, |t| t.matches('\n').count() >= 2).await;
    let events = lines(&text);
    let first = events[0]["id"].as_u64().expect("an id");
    assert!(events[1]["id"].as_u64().unwrap() > first, "{text}");
    assert_eq!(events[1]["check_result"]["state"], 2);
    let mut again = post_stream(
        &s,
        "root",
        "secret",
        &format!("/v1/events?types=CheckResult&since={first}"),
    )
    .await;
    let text = read_until(&mut again, |t| t.contains('\n')).await;
    let resumed = lines(&text);
    assert_eq!(resumed[0], events[1], "{text}");
}

/// Icinga's refusals: no types 400, a type without permission and a bad filter 404,
/// HTTP GET without SSE 404.
#[tokio::test]
async fn refusals_keep_icingas_codes() {
    let s = Server::start(&config()).await;
    let c = s.client();
    let post = |user: &'static str, pass: &'static str, body: Json| {
        c.post(s.url("/v1/events"))
            .basic_auth(user, Some(pass))
            .header("Accept", "application/json")
            .json(&body)
            .send()
    };
    let res = post("root", "secret", json!({})).await.unwrap();
    assert_eq!(res.status(), 400);
    let body: Json = res.json().await.unwrap();
    assert_eq!(body["status"], "'types' query parameter is required.");
    let res = post("cr-only", "c", json!({"types": ["StateChange"]}))
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let res = post(
        "root",
        "secret",
        json!({"types": ["CheckResult"], "filter": "event.host =="}),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 404);
    let body: Json = res.json().await.unwrap();
    assert!(
        body["status"].as_str().unwrap().contains("Invalid filter"),
        "{body}"
    );
    let res = c
        .get(s.url("/v1/events?types=CheckResult"))
        .basic_auth("root", Some("secret"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
}

/// Permission filters on `events/*` are applied per event (Icinga ignores them).
#[tokio::test]
async fn permission_filters_select_events() {
    let s = Server::start(&config()).await;
    let mut res = post_stream(&s, "h1-only", "h", "/v1/events?types=CheckResult").await;
    assert_eq!(res.status(), 200);
    submit(&s, "h2", 1).await;
    submit(&s, "h1", 1).await;
    submit(&s, "h2", 0).await;
    submit(&s, "h1", 0).await;
    let text = read_until(&mut res, |t| t.matches('\n').count() >= 2).await;
    let hosts: Vec<Json> = lines(&text).iter().map(|e| e["host"].clone()).collect();
    assert_eq!(hosts, vec![json!("h1"), json!("h1")]);
}

fn sse_ids(text: &str) -> Vec<u64> {
    text.lines()
        .filter_map(|l| l.strip_prefix("id: "))
        .map(|id| id.parse().unwrap())
        .collect()
}

/// SSE carries ids; a client reconnecting with Last-Event-ID (or `since`) gets exactly
/// the events after it — also across a server restart (the journal is durable).
#[tokio::test]
async fn sse_resumes_without_gap_or_duplicate_across_a_restart() {
    let s = Server::start(&config()).await;
    let sse = |s: &Server, last: Option<u64>| {
        let mut r = s
            .client()
            .get(s.url("/v1/events?types=CheckResult"))
            .basic_auth("root", Some("secret"))
            .header("Accept", "text/event-stream");
        if let Some(id) = last {
            r = r.header("Last-Event-ID", id.to_string());
        }
        r.send()
    };
    let mut res = sse(&s, None).await.unwrap();
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    for exit in [0, 1, 2] {
        submit(&s, "h1", exit).await;
    }
    let text = read_until(&mut res, |t| sse_ids(t).len() >= 3).await;
    assert!(
        text.contains("event: CheckResult\ndata: {\"type\":\"CheckResult\""),
        "{text}"
    );
    let ids = sse_ids(&text);
    drop(res);
    // Three more while disconnected, then a restart.
    for exit in [3, 0, 1] {
        submit(&s, "h2", exit).await;
    }
    let s = s.restart().await;
    submit(&s, "h1", 2).await;
    let mut res = sse(&s, Some(ids[0])).await.unwrap();
    let text = read_until(&mut res, |t| sse_ids(t).len() >= 6).await;
    let resumed = sse_ids(&text);
    assert_eq!(
        resumed[..2],
        ids[1..3],
        "continues right after the given id"
    );
    assert!(
        resumed.windows(2).all(|w| w[0] < w[1]),
        "in order, once: {resumed:?}"
    );
    let outputs: Vec<String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(|d| {
            serde_json::from_str::<Json>(d).unwrap()["check_result"]["output"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        outputs,
        ["out 1", "out 2", "out 3", "out 0", "out 1", "out 2"]
    );
    // `since` means the same for every format.
    let path = format!("/v1/events?types=CheckResult&since={}", resumed[4]);
    let mut res = post_stream(&s, "root", "secret", &path).await;
    let text = read_until(&mut res, |t| t.contains('\n')).await;
    assert_eq!(lines(&text)[0]["check_result"]["output"], "out 2");
}

/// A stream filtered to one host (served from an inbox of that host, not the shared
/// ring) gets that host's events only, and resumes after its last id with no gap while
/// other hosts' events went by.
#[tokio::test]
async fn a_host_filtered_stream_gets_its_host_and_resumes_past_others() {
    let s = Server::start(&config()).await;
    let sse = |last: Option<u64>| {
        let mut r = s
            .client()
            .get(s.url("/v1/events"))
            .query(&[
                ("types", "CheckResult"),
                ("types", "StateChange"),
                (
                    "filter",
                    r#"event.host in ["h1"] && event.type == "CheckResult""#,
                ),
            ])
            .basic_auth("root", Some("secret"))
            .header("Accept", "text/event-stream");
        if let Some(id) = last {
            r = r.header("Last-Event-ID", id.to_string());
        }
        r.send()
    };
    let mut res = sse(None).await.unwrap();
    assert_eq!(res.status(), 200);
    submit(&s, "h2", 1).await;
    submit(&s, "h1", 1).await;
    submit(&s, "h2", 2).await;
    submit(&s, "h1", 2).await;
    let text = read_until(&mut res, |t| sse_ids(t).len() >= 2).await;
    let outputs = |text: &str| -> Vec<(String, String)> {
        text.lines()
            .filter_map(|l| l.strip_prefix("data: "))
            .map(|d| {
                let e: Json = serde_json::from_str(d).unwrap();
                let out = e["check_result"]["output"].as_str().unwrap().to_string();
                (e["host"].as_str().unwrap().to_string(), out)
            })
            .collect()
    };
    let first = sse_ids(&text);
    assert_eq!(
        outputs(&text),
        [("h1".into(), "out 1".into()), ("h1".into(), "out 2".into())]
    );
    drop(res);
    for (host, exit) in [("h2", 0), ("h1", 3), ("h2", 3), ("h1", 0)] {
        submit(&s, host, exit).await;
    }
    let mut res = sse(Some(first[0])).await.unwrap();
    let text = read_until(&mut res, |t| sse_ids(t).len() >= 3).await;
    assert_eq!(
        outputs(&text),
        [
            ("h1".into(), "out 2".into()),
            ("h1".into(), "out 3".into()),
            ("h1".into(), "out 0".into())
        ]
    );
    // Live again after catching up: the next one of h1 only.
    submit(&s, "h2", 1).await;
    submit(&s, "h1", 1).await;
    let more = read_until(&mut res, |t| !sse_ids(t).is_empty()).await;
    assert_eq!(outputs(&more), [("h1".into(), "out 1".into())]);
    assert!(sse_ids(&more)[0] > sse_ids(&text)[2]);
}

/// Stream tokens: issued to an authenticated user, accepted as `access_token` on the
/// streams and good for nothing else; forged tokens get 401.
#[tokio::test]
async fn bearer_tokens_for_browsers() {
    let s = Server::start(&config()).await;
    let (status, body) = s.post("/v1/events/token", json!({"ttl": 60})).await;
    assert_eq!(status, 200, "{body}");
    let token = body["results"][0]["token"].as_str().unwrap().to_string();
    assert_eq!(body["results"][0]["user"], "root");
    let c = s.client();
    let mut res = c
        .get(s.url(&format!(
            "/v1/events?types=CheckResult&access_token={token}"
        )))
        .header("Accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    submit(&s, "h1", 1).await;
    read_until(&mut res, |t| t.contains("event: CheckResult")).await;
    // Good for the streams only.
    let res = c
        .get(s.url("/v1/objects/hosts"))
        .bearer_auth(&token)
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let forged = format!("{}x", &token[..token.len() - 1]);
    let res = c
        .get(s.url(&format!(
            "/v1/events?types=CheckResult&access_token={forged}"
        )))
        .header("Accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let body: Json = res.json().await.unwrap();
    assert_eq!(body["error"], 401);
}

fn tls_client(ca_pem: &str) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    for cert in crate::util::pem_certs(ca_pem.as_bytes()) {
        roots.add(cert).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

/// WebSocket: subscribe by message, get `{"id","event"}` frames, unsubscribe; bad
/// messages get an error and the socket stays usable.
#[tokio::test]
async fn websocket_subscribe_and_unsubscribe() {
    use base64::Engine;
    let s = Server::start(&config()).await;
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", s.port))
        .await
        .unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let tls = tls_client(&s.ca_pem).connect(name, tcp).await.unwrap();
    let auth = base64::engine::general_purpose::STANDARD.encode("root:secret");
    let request = http::Request::builder()
        .uri(format!("wss://localhost:{}/v1/events/ws", s.port))
        .header("Host", format!("localhost:{}", s.port))
        .header("Authorization", format!("Basic {auth}"))
        .header("Connection", "Upgrade")
        .header("Upgrade", "websocket")
        .header("Sec-WebSocket-Version", "13")
        .header(
            "Sec-WebSocket-Key",
            tokio_tungstenite::tungstenite::handshake::client::generate_key(),
        )
        .body(())
        .unwrap();
    let (mut ws, response) = tokio_tungstenite::client_async(request, tls).await.unwrap();
    assert_eq!(response.status(), 101);
    let send = |m: Json| Message::Text(m.to_string().into());
    ws.send(send(json!({"action": "dance"}))).await.unwrap();
    let reply = recv(&mut ws).await;
    assert_eq!(reply["error"]["code"], 400, "{reply}");
    ws.send(send(
        json!({"action": "subscribe", "types": ["StateChange"], "filter": "event.host == \"h2\""}),
    ))
    .await
    .unwrap();
    let reply = recv(&mut ws).await;
    assert_eq!(
        reply["subscribed"]["types"],
        json!(["StateChange"]),
        "{reply}"
    );
    submit(&s, "h1", 2).await;
    submit(&s, "h2", 2).await;
    let event = recv(&mut ws).await;
    assert!(event["id"].as_u64().unwrap() > 0);
    assert_eq!(event["event"]["type"], "StateChange");
    assert_eq!(event["event"]["host"], "h2");
    ws.send(send(json!({"action": "unsubscribe"})))
        .await
        .unwrap();
    assert_eq!(recv(&mut ws).await["unsubscribed"], true);
    let (_, status) = s.get("/v1/status/EventStreams").await;
    assert_eq!(
        status["results"][0]["status"]["event_streams"]["subscribers"],
        0
    );
}

async fn recv<S>(ws: &mut tokio_tungstenite::WebSocketStream<S>) -> Json
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        if let Message::Text(t) = msg {
            return serde_json::from_str(t.as_str()).unwrap();
        }
    }
}

/// Open streams are listed with their position, lag and deliveries.
#[tokio::test]
async fn status_lists_streams() {
    let s = Server::start(&config()).await;
    let mut res = post_stream(&s, "cr-only", "c", "/v1/events?types=CheckResult").await;
    submit(&s, "h1", 1).await;
    read_until(&mut res, |t| t.contains('\n')).await;
    let (_, body) = s.get("/v1/status/EventStreams").await;
    let st = &body["results"][0]["status"]["event_streams"];
    assert_eq!(st["subscribers"], 1, "{st}");
    let stream = &st["streams"][0];
    assert_eq!(stream["user"], "cr-only");
    assert_eq!(stream["format"], "json");
    assert_eq!(stream["delivered"], 1);
    assert_eq!(stream["types"], json!(["CheckResult"]));
    assert!(st["last_event_id"].as_u64().unwrap() >= stream["position"].as_u64().unwrap());
}

/// Bad resume points and a plain GET on the WebSocket endpoint get clear 400s.
#[tokio::test]
async fn bad_stream_requests_get_clear_errors() {
    let s = Server::start(&config()).await;
    let c = s.client();
    let res = post_stream(
        &s,
        "root",
        "secret",
        "/v1/events?types=CheckResult&since=-3",
    )
    .await;
    assert_eq!(res.status(), 400);
    let body: Json = res.json().await.unwrap();
    assert!(body["status"].as_str().unwrap().contains("since"), "{body}");
    let res = c
        .get(s.url("/v1/events?types=CheckResult"))
        .basic_auth("root", Some("secret"))
        .header("Accept", "text/event-stream")
        .header("Last-Event-ID", "yesterday")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let body: Json = res.json().await.unwrap();
    assert!(
        body["status"].as_str().unwrap().contains("Last-Event-ID"),
        "{body}"
    );
    let res = c
        .get(s.url("/v1/events/ws"))
        .basic_auth("root", Some("secret"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let body: Json = res.json().await.unwrap();
    assert_eq!(body["error"], 400);
    // Without credentials the WebSocket endpoint is closed like every other.
    let res = c.get(s.url("/v1/events/ws")).send().await.unwrap();
    assert_eq!(res.status(), 401);
    // The server keeps serving.
    assert_eq!(s.get("/v1/status/EventStreams").await.0, 200);
}
