//! Attacks by restricted users and by clients without credentials: none may read a secret,
//! run what its permissions do not grant, take the server from others, or lock a user out
//! by guessing between valid logins.

use std::time::Duration;

use serde_json::{json, Value as Json};

use crate::util::{Server, PASSIVE};

/// Users with narrow permissions next to the harness's `root` and `reader`.
const TEAM: &str = r#"
object ApiUser "hostreader" {
  password = "hostreader"
  permissions = [ "objects/query/Host" ]
}
object ApiUser "team" {
  password = "team"
  permissions = [
    "objects/query/*",
    { permission = "actions/*", filter = {{ host.name == "h1" }} },
    { permission = "console", filter = {{ host.name == "h1" }} },
  ]
}
"#;

/// A request as one of the users above (their password is their name).
async fn as_user(s: &Server, user: &str, method: &str, path: &str, body: Json) -> (u16, Json) {
    s.send_as((user, user), method, path, body).await
}

async fn count(s: &Server, user: &str, filter: &str) -> usize {
    let (status, body) = as_user(
        s,
        user,
        "GET",
        "/v1/objects/hosts",
        json!({"attrs": ["name"], "filter": filter, "verbose": true}),
    )
    .await;
    assert_eq!(status, 200, "{filter}: {body}");
    body["results"].as_array().map_or(0, Vec::len)
}

/// A filter reaches other objects only as far as the user may query them, and no filter
/// reads a password — the guess that was right answers as the one that was wrong.
#[tokio::test]
async fn filters_are_no_password_oracle() {
    let s = Server::start(&format!("{PASSIVE}{TEAM}")).await;
    let right = r#"get_object(ApiUser, "root").password == "secret""#;
    let wrong = r#"get_object(ApiUser, "root").password == "guess""#;
    // Only Host may be queried: ApiUser objects are out of reach.
    assert_eq!(count(&s, "hostreader", "true").await, 2);
    assert_eq!(count(&s, "hostreader", right).await, 0);
    assert_eq!(count(&s, "hostreader", wrong).await, 0);
    assert_eq!(
        count(&s, "hostreader", r#"get_object(ApiUser, "root") != null"#).await,
        0
    );
    assert_eq!(
        count(&s, "hostreader", "len(get_objects(ApiUser)) == 0").await,
        2
    );
    // ApiUsers may be queried: still no password, through any path.
    assert_eq!(
        count(&s, "reader", r#"get_object(ApiUser, "root") != null"#).await,
        2
    );
    assert_eq!(count(&s, "reader", right).await, 0);
    assert_eq!(
        count(
            &s,
            "reader",
            r#"get_objects(ApiUser).any(u => u.password == "secret")"#
        )
        .await,
        0
    );
    let (_, body) = as_user(
        &s,
        "reader",
        "GET",
        "/v1/objects/apiusers/root",
        json!({"attrs": ["password"]}),
    )
    .await;
    assert!(
        body["results"][0]["attrs"].get("password").is_none(),
        "{body}"
    );
    // Not even the console shows it.
    let (status, body) = s
        .post(
            "/v1/console/execute-script",
            json!({"command": r#"get_object(ApiUser, "root").password"#}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["results"][0]["result"], Json::Null, "{body}");
}

/// A filtered grant covers objects: it cannot grant what acts on no object.
#[tokio::test]
async fn process_wide_actions_need_an_unfiltered_grant() {
    let s = Server::start(&format!("{PASSIVE}{TEAM}")).await;
    for action in [
        "generate-ticket",
        "unblock-address",
        "shutdown-process",
        "restart-process",
    ] {
        let (status, body) = as_user(
            &s,
            "team",
            "POST",
            &format!("/v1/actions/{action}"),
            json!({"cn": "x"}),
        )
        .await;
        assert_eq!(status, 404, "{action}: {body}");
    }
    let (status, _) = as_user(
        &s,
        "team",
        "POST",
        "/v1/console/execute-script",
        json!({"command": "1"}),
    )
    .await;
    assert_eq!(status, 404, "a filtered console grant");
    // The grant still works on its objects, and the server is still up.
    let (status, body) = as_user(
        &s,
        "team",
        "POST",
        "/v1/actions/process-check-result",
        json!({"type": "Host", "filter": "true", "exit_status": 0, "plugin_output": "ok"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["results"].as_array().map(Vec::len),
        Some(1),
        "only h1: {body}"
    );
    assert_eq!(s.get("/v1/status/CIB").await.0, 200);
}

/// Guessing root's password between valid logins of another user is still blocked.
#[tokio::test]
async fn valid_logins_of_another_user_do_not_hide_guesses() {
    let s = Server::start(TEAM).await;
    let c = s.client_from("127.0.0.9");
    let mut guesses = 0;
    let blocked = loop {
        let res = c
            .get(s.url("/v1"))
            .basic_auth("root", Some(format!("guess{guesses}")))
            .send()
            .await
            .unwrap();
        guesses += 1;
        if res.status() == 429 {
            break true;
        }
        assert_eq!(res.status(), 401);
        let ok = c
            .get(s.url("/v1"))
            .basic_auth("team", Some("team"))
            .send()
            .await
            .unwrap();
        if ok.status() == 429 {
            break true;
        }
        assert_eq!(ok.status(), 200);
        if guesses > 20 {
            break false;
        }
    };
    assert!(
        blocked,
        "60 guesses interleaved with valid logins were never blocked"
    );
    assert!(guesses <= 7, "blocked after {guesses} guesses");
}

/// Adding to an array in a loop takes time in proportion to the elements (it was
/// quadratic: 80 000 adds took 32 s).
#[tokio::test]
async fn console_arrays_grow_in_place() {
    let s = Server::start("").await;
    // Linear growth takes seconds at most even in a debug build on a busy machine;
    // copying the container per call (2·10¹⁰ element copies) takes far longer than the
    // two minutes this request is given.
    let res = s
        .client()
        .post(s.url("/v1/console/execute-script"))
        .timeout(Duration::from_secs(120))
        .basic_auth("root", Some("secret"))
        .header("Accept", "application/json")
        .json(&json!({"command": "var a = []; for (i in range(200000)) { a.add(i) }; var d = {}; for (i in range(50000)) { d.set(string(i), i) }; [len(a), len(d)]"}))
        .send()
        .await
        .expect("the script ends within two minutes");
    let status = res.status().as_u16();
    let body: Json = res.json().await.unwrap_or_default();
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["results"][0]["result"],
        json!([200000, 50000]),
        "{body}"
    );
}

/// A script that never ends is stopped by the console budget, and its session stays
/// usable.
#[tokio::test]
async fn a_runaway_console_script_is_stopped() {
    let guards = auspex::app::Guards {
        console_budget: Duration::from_millis(300),
        ..Default::default()
    };
    let s = Server::start_guarded("", guards).await;
    let (status, body) = s
        .post(
            "/v1/console/execute-script",
            json!({"command": "var n = 0; while (true) { n += 1 }", "session": "s1"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let r = &body["results"][0];
    assert_eq!(r["code"], 500, "{body}");
    assert!(
        r["status"]
            .as_str()
            .is_some_and(|m| m.contains("time budget")),
        "{body}"
    );
    let (status, body) = s
        .post(
            "/v1/console/execute-script",
            json!({"command": "1 + 1", "session": "s1"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["results"][0]["result"], 2, "{body}");
}

/// A filter that would take long is stopped by the request's budget with a clear 400,
/// and the server keeps answering others meanwhile.
#[tokio::test]
async fn an_expensive_filter_is_stopped_by_its_budget() {
    let guards = auspex::app::Guards {
        filter_budget: Duration::from_millis(200),
        ..Default::default()
    };
    let hosts = r#"for (i in range(1000)) { object Host "many-" + i { check_command = "dummy"; enable_active_checks = false } }"#;
    let s = Server::start_guarded(&format!("{PASSIVE}{hosts}"), guards).await;
    // Every host compared with every host, per host: 10⁹ steps.
    let heavy = "get_objects(Host).filter(h => get_objects(Host).any(g => g.name == h.name + host.name)).len() > 0";
    let (status, body) = as_user(
        &s,
        "reader",
        "GET",
        "/v1/objects/hosts",
        json!({"filter": heavy, "verbose": true}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["status"]
            .as_str()
            .is_some_and(|m| m.contains("time budget")),
        "{body}"
    );
    // The same on an action's selection.
    let (status, body) = s
        .post(
            "/v1/actions/reschedule-check",
            json!({"type": "Host", "filter": heavy}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(s.get("/v1").await.0, 200);
}

/// The step limit holds for a request's filter evaluations together: a filter cheap
/// enough for a few objects is refused when it runs for many, whatever the time it took.
#[tokio::test]
async fn filter_steps_are_limited_per_request() {
    let guards = auspex::app::Guards {
        filter_steps: 200_000,
        ..Default::default()
    };
    let hosts = r#"for (i in range(100)) { object Host "many-" + i { check_command = "dummy"; enable_active_checks = false } }"#;
    let s = Server::start_guarded(&format!("{PASSIVE}{hosts}"), guards).await;
    // A nested loop over a list the request brings: some 10 000 steps per host.
    let body = |filter: &str| json!({"filter": filter, "filter_vars": {"xs": (0..50).collect::<Vec<u32>>()}});
    let loops = "xs.map(a => xs.filter(b => b == a).len()).len() > 0";
    let (status, res) = s
        .send(
            "GET",
            "/v1/objects/hosts?attrs=name",
            body(&format!("match(\"many-1?\", host.name) && {loops}")),
        )
        .await;
    assert_eq!(status, 200, "{res}");
    assert_eq!(res["results"].as_array().map(Vec::len), Some(10));
    let (status, res) = s
        .send("GET", "/v1/objects/hosts?attrs=name", body(loops))
        .await;
    assert_eq!(status, 400, "{res}");
    assert_eq!(
        res["status"],
        "Evaluation exceeded the limit of 200000 steps for the request while filtering objects of type 'Host'. Narrow the filter."
    );
}

/// A TLS connection that sends `request` and then never reads.
async fn silent_tls(
    s: &Server,
    from: &str,
    request: &[u8],
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    use tokio::io::AsyncWriteExt;
    let connector = s.tls_connector();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
    let tcp = socket
        .connect(format!("127.0.0.1:{}", s.port).parse().unwrap())
        .await
        .unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = connector.connect(name, tcp).await.unwrap();
    tls.write_all(request).await.unwrap();
    tls.flush().await.unwrap();
    tls
}

/// A TCP connection from `from` that never speaks; whether the server closed it at once.
async fn idle_tcp(s: &Server, from: &str) -> (tokio::net::TcpStream, bool) {
    use tokio::io::AsyncReadExt;
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
    let mut tcp = socket
        .connect(format!("127.0.0.1:{}", s.port).parse().unwrap())
        .await
        .unwrap();
    let mut buf = [0u8; 16];
    let closed = matches!(
        tokio::time::timeout(Duration::from_millis(300), tcp.read(&mut buf)).await,
        Ok(Ok(0) | Err(_))
    );
    (tcp, closed)
}

/// Connections that never authenticate cannot keep others out: one address holds at most
/// its share, and when every slot is taken the oldest unauthenticated connection makes
/// room for a newcomer.
#[tokio::test]
async fn idle_connections_cannot_lock_others_out() {
    let guards = auspex::app::Guards {
        max_connections: 8,
        max_connections_per_address: 6,
        ..Default::default()
    };
    let s = Server::start_guarded("", guards).await;
    let mut held = Vec::new();
    for _ in 0..6 {
        let (tcp, closed) = idle_tcp(&s, "127.0.0.21").await;
        assert!(!closed, "within the address's share");
        held.push(tcp);
    }
    let (_extra, closed) = idle_tcp(&s, "127.0.0.21").await;
    assert!(closed, "a seventh from one address is refused");
    for _ in 0..2 {
        held.push(idle_tcp(&s, "127.0.0.22").await.0);
    }
    // Every slot is taken by idle connections: an authenticated client still gets in,
    // well before any handshake timeout.
    let started = std::time::Instant::now();
    let c = s
        .builder()
        .local_address("127.0.0.23".parse::<std::net::IpAddr>().unwrap())
        .timeout(Duration::from_secs(8))
        .build()
        .unwrap();
    let res = c
        .get(s.url("/v1"))
        .basic_auth("root", Some("secret"))
        .send()
        .await
        .expect("served");
    assert_eq!(res.status(), 200);
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );
}

/// A body trickling in (a few bytes a second, no credentials needed) is cut off with 408
/// once it falls below the minimum rate after the grace period (1 s here, 10 s by
/// default).
#[tokio::test]
async fn a_trickling_body_is_cut_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let guards = auspex::app::Guards {
        body_grace: Duration::from_secs(1),
        ..Default::default()
    };
    let s = Server::start_guarded("", guards).await;
    let mut tls = silent_tls(
        &s,
        "127.0.0.31",
        b"POST /v1/self-service/register-host HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{",
    )
    .await;
    let started = std::time::Instant::now();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let mut tick = tokio::time::interval(Duration::from_millis(300));
    tick.tick().await;
    loop {
        tokio::select! {
            _ = tick.tick() => { let _ = tls.write_all(b" ").await; }
            n = tls.read(&mut buf) => match n {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            },
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "still reading the body"
        );
    }
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("too slowly"), "{text}");
}

/// Bodies are bounded by what the endpoint needs: 16 MiB outside configuration uploads,
/// even for a user who may upload configuration.
#[tokio::test]
async fn bodies_are_bounded_by_the_endpoint() {
    let s = Server::start(PASSIVE).await;
    let output = "x".repeat(20 << 20);
    let (status, body) = s
        .post(
            "/v1/actions/process-check-result",
            json!({"type": "Host", "filter": "true", "exit_status": 0, "plugin_output": output}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["status"]
            .as_str()
            .is_some_and(|m| m.contains("too large")),
        "{body}"
    );
    // The same size is a configuration upload's right.
    let (status, body) = s.post("/v1/config/packages/big", json!({})).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = s
        .post(
            "/v1/config/stages/big",
            json!({"files": {"conf.d/big.conf": format!("/* {output} */")}, "reload": false}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

/// An event stream whose client stops reading is closed after the stall timeout, and
/// its resources go with it.
#[tokio::test]
async fn a_stalled_stream_is_dropped() {
    let guards = auspex::app::Guards {
        stream_stall_timeout: Duration::from_secs(1),
        ..Default::default()
    };
    let s = Server::start_guarded(PASSIVE, guards).await;
    let auth = base64_basic("root", "secret");
    let _stream = silent_tls(
        &s,
        "127.0.0.41",
        format!("POST /v1/events?types=CheckResult&queue=q HTTP/1.1\r\nHost: localhost\r\nAuthorization: Basic {auth}\r\nAccept: application/json\r\nContent-Length: 0\r\n\r\n").as_bytes(),
    )
    .await;
    for _ in 0..50 {
        if s.state().engine.streams.count() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(s.state().engine.streams.count(), 1, "the stream opened");
    // Far more than the socket buffers hold: 200 results of 100 KB.
    let output = "y".repeat(100_000);
    for _ in 0..100 {
        let (status, _) = s
            .post(
                "/v1/actions/process-check-result",
                json!({"type": "Host", "filter": "true", "exit_status": 1, "plugin_output": output}),
            )
            .await;
        assert_eq!(status, 200);
        if s.state().engine.streams.count() == 0 {
            break;
        }
    }
    for _ in 0..200 {
        if s.state().engine.streams.count() == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the stalled stream is still open");
}

fn base64_basic(user: &str, password: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
}
