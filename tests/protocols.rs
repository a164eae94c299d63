//! HTTP/2 beside HTTP/1.1 (by ALPN), event streams multiplexed on one connection,
//! WebSocket over HTTP/2 (RFC 8441), and the client-certificate request switched off.

use std::sync::Arc;

use futures_util::StreamExt;
use http_body_util::Empty;
use hyper::body::Bytes;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{json, Value as Json};
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::Message;

use crate::util::{pem_certs, read_until, Server, PASSIVE};

async fn submit(s: &Server, exit: u8) {
    let (status, res) = s
        .post(
            "/v1/actions/process-check-result",
            json!({"type": "Service", "service": "h1!passive", "exit_status": exit, "plugin_output": "x"}),
        )
        .await;
    assert_eq!(status, 200, "{res}");
}

/// Clients offering `h2` get HTTP/2, others HTTP/1.1; over HTTP/2 many Server-Sent Event
/// streams (more than a browser's six HTTP/1.1 connections) share one connection and
/// each gets every event.
#[tokio::test]
async fn http2_multiplexes_event_streams() {
    let s = Server::start(PASSIVE).await;
    let h1 = s.builder().http1_only().build().unwrap();
    let res = h1
        .get(s.url("/v1"))
        .basic_auth("root", Some("secret"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.version(), reqwest::Version::HTTP_11);
    drop(h1);

    let c = s.client();
    let res = c
        .get(s.url("/v1"))
        .basic_auth("root", Some("secret"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        (res.status().as_u16(), res.version()),
        (200, reqwest::Version::HTTP_2)
    );
    let mut streams = Vec::new();
    for _ in 0..8 {
        let res = c
            .get(s.url("/v1/events?types=CheckResult"))
            .header("Accept", "text/event-stream")
            .basic_auth("root", Some("secret"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.version(), reqwest::Version::HTTP_2);
        streams.push(res);
    }
    submit(&s, 2).await;
    for res in &mut streams {
        let text = read_until(res, |t| {
            t.contains("event: CheckResult") && t.ends_with("\n\n")
        })
        .await;
        assert!(text.contains("\"service\":\"passive\""), "{text}");
    }
    // One connection carried them all (the submission used another client).
    let status = s.get("/v1/status/ApiListener").await.1;
    let clients = &status["results"][0]["status"]["api"]["http"]["clients"];
    assert_eq!(clients, 2, "{status}");
}

/// A WebSocket opened with HTTP/2's extended CONNECT streams events as over HTTP/1.1.
#[tokio::test]
async fn websocket_over_http2() {
    let s = Server::start(PASSIVE).await;
    let mut roots = rustls::RootCertStore::empty();
    for cert in pem_certs(s.ca_pem.as_bytes()) {
        roots.add(cert).unwrap();
    }
    let mut config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", s.port))
        .await
        .unwrap();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect("localhost".try_into().unwrap(), tcp)
        .await
        .unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
            .await
            .unwrap();
    tokio::spawn(conn);
    let mut req = http::Request::builder()
        .method(http::Method::CONNECT)
        .uri(s.url("/v1/events/ws?types=CheckResult"))
        .header("sec-websocket-version", "13")
        .header(
            "authorization",
            format!("Basic {}", base64_encode("root:secret")),
        )
        .body(Empty::<Bytes>::new())
        .unwrap();
    req.extensions_mut()
        .insert(hyper::ext::Protocol::from_static("websocket"));
    let mut res = sender.send_request(req).await.unwrap();
    assert_eq!(res.status(), 200);
    let upgraded = hyper::upgrade::on(&mut res).await.unwrap();
    let mut ws = tokio_tungstenite::WebSocketStream::from_raw_socket(
        TokioIo::new(upgraded),
        Role::Client,
        None,
    )
    .await;
    let first = next_json(&mut ws).await;
    assert_eq!(
        first["subscribed"]["types"],
        json!(["CheckResult"]),
        "{first}"
    );
    submit(&s, 1).await;
    let event = next_json(&mut ws).await;
    assert_eq!(event["event"]["type"], "CheckResult", "{event}");
    assert_eq!(event["event"]["service"], "passive");
}

async fn next_json<S>(ws: &mut tokio_tungstenite::WebSocketStream<S>) -> Json
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let deadline = std::time::Duration::from_secs(10);
    loop {
        let msg = tokio::time::timeout(deadline, ws.next())
            .await
            .expect("no message")
            .expect("socket ended")
            .unwrap();
        if let Message::Text(t) = msg {
            return serde_json::from_str(&t).unwrap();
        }
    }
}

fn base64_encode(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// With the certificate request off, a certificate user's client sends none and must
/// authenticate otherwise.
#[tokio::test]
async fn client_certificate_request_off() {
    let edge = auspex::api::settings::EdgeSettings {
        client_certificates: auspex::api::settings::ClientCertificates::Off,
        ..Default::default()
    };
    let s = Server::start_edge(
        r#"object ApiUser "agent" { client_cn = "agent.example"; permissions = [ "*" ] }"#,
        edge,
    )
    .await;
    let ca = s.authority();
    let (cert, key) = ca.issue("agent.example").unwrap();
    let c = s.client_with_identity(&cert, &key);
    assert_eq!(c.get(s.url("/v1")).send().await.unwrap().status(), 401);
    let res = c
        .get(s.url("/v1"))
        .basic_auth("root", Some("secret"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

/// A node certificate that expires within 30 days is renewed (same key) when the server
/// starts, and the new one is what clients see.
#[tokio::test]
async fn node_certificate_is_renewed_before_expiry() {
    let s = Server::start("").await;
    let paths = auspex::pki::Paths::new(&s.data_dir, "localhost");
    let ca = s.authority();
    let key = std::fs::read_to_string(&paths.key).unwrap();
    let short = ca
        .issue_with_key("localhost", &key, time::Duration::days(10))
        .unwrap();
    std::fs::write(&paths.cert, short).unwrap();
    let days_left = |p: &std::path::Path| {
        (auspex::pki::not_after(p).unwrap() - time::OffsetDateTime::now_utc()).whole_days()
    };
    assert!(days_left(&paths.cert) <= 10);

    let s = s.restart().await;
    assert!(days_left(&paths.cert) > 300, "not renewed on disk");
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", s.port))
        .await
        .unwrap();
    let tls = s
        .tls_connector()
        .connect("localhost".try_into().unwrap(), tcp)
        .await
        .unwrap();
    let der = tls.get_ref().1.peer_certificates().unwrap()[0].clone();
    let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
    let left =
        cert.validity().not_after.timestamp() - time::OffsetDateTime::now_utc().unix_timestamp();
    assert!(
        left > 300 * 86_400,
        "the server presents the old certificate"
    );
    // The key stayed: what was pinned by key still matches.
    assert_eq!(std::fs::read_to_string(&paths.key).unwrap(), key);
}
