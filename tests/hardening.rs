//! The bad-input catalogue: each malformed, oversized, hostile or nonsensical request gets
//! a clear answer in Icinga's error shape with the right status (or, below HTTP, a closed
//! connection), and the server keeps serving — checked after every case.

use std::time::{Duration, Instant};

use serde_json::{json, Value as Json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::util::{Server, PASSIVE};

/// A raw request over TLS (no HTTP client to tidy it up); returns what the server sent
/// until it closed or `wait` passed.
async fn raw_tls(s: &Server, request: &[u8], wait: Duration) -> Vec<u8> {
    let connector = s.tls_connector();
    let tcp = TcpStream::connect(("127.0.0.1", s.port)).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let tls = connector.connect(name, tcp).await.unwrap();
    // Read while writing: the server may answer (and close) before it has read it all,
    // and the answer must be caught before a reset could discard it.
    let (mut rx, mut tx) = tokio::io::split(tls);
    let request = request.to_vec();
    let writer = tokio::spawn(async move {
        let _ = tx.write_all(&request).await;
        tx
    });
    let mut out = Vec::new();
    let mut buf = [0u8; 16 << 10];
    let _ = tokio::time::timeout(wait, async {
        while let Ok(n @ 1..) = rx.read(&mut buf).await {
            out.extend_from_slice(&buf[..n]);
        }
    })
    .await;
    writer.abort();
    out
}

/// The status line and body of a raw HTTP answer.
fn parse(raw: &[u8]) -> (u16, Json) {
    let text = String::from_utf8_lossy(raw);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b)
        .and_then(|b| {
            // A chunked body: the JSON sits between the chunk sizes.
            let start = b.find('{')?;
            let end = b.rfind('}')?;
            serde_json::from_str(&b[start..=end]).ok()
        })
        .unwrap_or(Json::Null);
    (status, body)
}

async fn still_serving(s: &Server, case: &str) {
    let (status, _) = s.get("/v1/status/CIB").await;
    assert_eq!(status, 200, "the server stopped serving after: {case}");
}

/// Icinga's error shape: `error` equals the status, `status` says what is wrong.
fn error_shape(status: u16, body: &Json, case: &str) {
    assert_eq!(body["error"], status, "{case}: {body}");
    assert!(
        body["status"].as_str().is_some_and(|s| !s.is_empty()),
        "{case}: {body}"
    );
}

async fn send(s: &Server, method: &str, path: &str, body: Vec<u8>) -> (u16, Json) {
    send_as(s, ("root", "secret"), method, path, body).await
}

async fn send_as(
    s: &Server,
    (user, password): (&str, &str),
    method: &str,
    path: &str,
    body: Vec<u8>,
) -> (u16, Json) {
    let res = s
        .client()
        .request(
            reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
            s.url(path),
        )
        .basic_auth(user, Some(password))
        .header("Accept", "application/json")
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let bytes = res.bytes().await.unwrap();
    (status, serde_json::from_slice(&bytes).unwrap_or(Json::Null))
}

/// A case: name, method, path, body, expected status, text the error must contain.
type Case = (
    &'static str,
    &'static str,
    &'static str,
    Vec<u8>,
    u16,
    &'static str,
);

/// Bad requests at the HTTP level: each gets a 4xx in Icinga's shape whose text names the
/// problem; nothing takes the server down.
#[tokio::test]
async fn bad_requests_get_clear_errors() {
    let s = Server::start(PASSIVE).await;
    let deep_json = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let deep_filter = format!(
        "{{\"type\":\"Host\",\"filter\":\"{}true{}\"}}",
        "(".repeat(100_000),
        ")".repeat(100_000)
    );
    let cases: Vec<Case> = vec![
        ("malformed JSON", "POST", "/v1/actions/process-check-result", b"{\"type\": \"Service\", ".to_vec(), 400, "Invalid request body"),
        ("JSON that is not an object", "POST", "/v1/objects/hosts", b"[1, 2]".to_vec(), 400, "Invalid request body"),
        ("bad UTF-8 in the body", "POST", "/v1/objects/hosts", b"{\"filter\": \"\xff\xfe\"}".to_vec(), 400, "Invalid request body"),
        ("JSON nested 100 000 deep", "POST", "/v1/objects/hosts", deep_json.into_bytes(), 400, "Invalid request body"),
        ("filter nested 100 000 deep", "POST", "/v1/actions/reschedule-check", deep_filter.into_bytes(), 404, "No objects found."),
        ("filter with a syntax error", "GET", "/v1/objects/hosts?filter=host.name%20==", Vec::new(), 404, "No objects found."),
        ("unknown object type", "GET", "/v1/objects/gadgets", Vec::new(), 400, "Invalid type specified."),
        ("unknown action", "POST", "/v1/actions/make-coffee", Vec::new(), 404, "does not exist"),
        ("action with GET", "GET", "/v1/actions/acknowledge-problem", Vec::new(), 404, "The requested path 'v1/actions/acknowledge-problem' could not be found"),
        ("unknown path", "PATCH", "/v1/nothing/here", Vec::new(), 404, "could not be found"),
        ("action type not allowed", "POST", "/v1/actions/acknowledge-problem", json!({"type": "User", "filter": "true", "author": "a", "comment": "c"}).to_string().into_bytes(), 404, "No objects found."),
        ("filter_vars not a dictionary (verbose)", "POST", "/v1/actions/reschedule-check?verbose=1", json!({"type": "Host", "filter": "host.name == x", "filter_vars": [1]}).to_string().into_bytes(), 404, "filter_vars"),
        ("timestamp that is not a number", "POST", "/v1/actions/schedule-downtime", json!({"host": "h1", "author": "a", "comment": "c", "start_time": "soon", "end_time": 1}).to_string().into_bytes(), 400, "start_time"),
        ("events without types", "POST", "/v1/events", Vec::new(), 400, "'types' query parameter is required."),
    ];
    for (case, method, path, body, want, text) in cases {
        let (status, res) = send(&s, method, path, body).await;
        assert_eq!(status, want, "{case}: {res}");
        error_shape(status, &res, case);
        let message = format!("{} {}", res["status"], res["diagnostic_information"]);
        assert!(message.contains(text), "{case}: {res}");
        still_serving(&s, case).await;
    }

    // An object that cannot be built names its error in the result item.
    let (status, res) = send(
        &s,
        "PUT",
        "/v1/objects/hosts/odd",
        json!({"attrs": {"check_command": "dummy", "no_such_attribute": 1}})
            .to_string()
            .into_bytes(),
    )
    .await;
    assert_eq!(status, 500, "{res}");
    assert!(res["results"][0]["errors"][0]
        .as_str()
        .unwrap()
        .contains("Invalid attribute specified: no_such_attribute"));

    // Names with a NUL byte, or huge ones, are refused or kept as they are; the store's
    // keys (type NUL name) never mix them up.
    let (status, res) = send(
        &s,
        "PUT",
        "/v1/objects/hosts/a%00b",
        json!({"attrs": {"check_command": "dummy"}})
            .to_string()
            .into_bytes(),
    )
    .await;
    assert!(status == 400 || status == 500, "{status} {res}");
    let long = "x".repeat(20_000);
    let (status, _) = send(
        &s,
        "PUT",
        &format!("/v1/objects/hosts/{long}"),
        json!({"attrs": {"check_command": "dummy"}})
            .to_string()
            .into_bytes(),
    )
    .await;
    assert!(status == 200 || status == 400 || status == 431, "{status}");
    still_serving(&s, "odd names").await;
    let s = s.restart().await;
    still_serving(&s, "restart after odd names").await;
}

/// Oversized requests: a body over the user's limit (1 MiB without `config/modify`) is
/// refused before it is read, and a chunked one when it crosses the limit; headers over
/// 1 MiB end the connection.
#[tokio::test]
async fn oversized_requests() {
    let s = Server::start(PASSIVE).await;
    let huge = vec![b' '; 2 << 20];
    let (status, res) = send_as(&s, ("reader", "reader"), "POST", "/v1/objects/hosts", huge).await;
    assert_eq!(status, 400, "{res}");
    error_shape(status, &res, "2 MiB body");
    assert!(
        res["status"].as_str().unwrap().contains("too large"),
        "{res}"
    );
    still_serving(&s, "2 MiB body").await;

    // Chunked, no Content-Length: the limit applies while reading.
    let chunk = format!("{:x}\r\n{}\r\n", 1 << 20, " ".repeat(1 << 20));
    let mut request = b"POST /v1/objects/hosts HTTP/1.1\r\nHost: localhost\r\nAuthorization: Basic cmVhZGVyOnJlYWRlcg==\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n".to_vec();
    for _ in 0..3 {
        request.extend_from_slice(chunk.as_bytes());
    }
    request.extend_from_slice(b"0\r\n\r\n");
    let (status, res) = parse(&raw_tls(&s, &request, Duration::from_secs(5)).await);
    assert_eq!(status, 400, "{res}");
    still_serving(&s, "chunked 3 MiB body").await;

    let header = format!(
        "GET /v1/status HTTP/1.1\r\nHost: localhost\r\nX-Big: {}\r\n\r\n",
        "a".repeat(2 << 20)
    );
    let raw = raw_tls(&s, header.as_bytes(), Duration::from_secs(5)).await;
    let (status, _) = parse(&raw);
    assert!(status == 0 || status == 431 || status == 400, "{status}");
    still_serving(&s, "2 MiB header").await;
}

/// Below HTTP: bytes that are not TLS, plain HTTP on the TLS port, and a client that
/// sends its headers too slowly are cut off; the server goes on.
#[tokio::test]
async fn hostile_connections() {
    // Headers must be complete within a second here (10 s by default).
    let guards = auspex::app::Guards {
        idle_timeout: Duration::from_secs(1),
        ..Default::default()
    };
    let s = Server::start_guarded(PASSIVE, guards).await;
    for (case, bytes) in [
        (
            "TLS garbage",
            b"\x16\x03\x01\xff\xff garbage garbage".to_vec(),
        ),
        (
            "plain HTTP on the TLS port",
            b"GET /v1 HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
        ),
        (
            "random bytes",
            (0..4096u32).map(|i| (i * 7919 % 251) as u8).collect(),
        ),
    ] {
        // From its own loopback address: failed handshakes count toward the blocklist.
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.77:0".parse().unwrap()).unwrap();
        let mut tcp = socket
            .connect(format!("127.0.0.1:{}", s.port).parse().unwrap())
            .await
            .unwrap();
        let _ = tcp.write_all(&bytes).await;
        let mut out = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut out)).await;
        assert!(read.is_ok(), "{case}: the connection stays open");
        assert!(
            !String::from_utf8_lossy(&out).contains("results"),
            "{case}: answered as if it were a request"
        );
        still_serving(&s, case).await;
    }

    // Slowloris: headers that never finish are dropped after the header timeout.
    let started = Instant::now();
    let raw = raw_tls(
        &s,
        b"GET /v1/status HTTP/1.1\r\nHost: localhost\r\nX-Slow: ",
        Duration::from_secs(20),
    )
    .await;
    let waited = started.elapsed();
    assert!(
        waited < Duration::from_secs(15),
        "still open after {waited:?}"
    );
    let (status, _) = parse(&raw);
    assert!(status == 0 || status == 408, "{status}");
    still_serving(&s, "slowloris").await;
}
