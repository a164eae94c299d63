//! Authentication, permissions, the blocklist and rate limits.

use serde_json::{json, Value as Json};

use crate::util::Server;

fn status_of(res: Result<reqwest::Response, reqwest::Error>) -> Option<u16> {
    res.ok().map(|r| r.status().as_u16())
}

/// Wrong or missing credentials: 401 with the Basic challenge (clients such as
/// PowerShell only send credentials after it); empty passwords never authenticate.
#[tokio::test]
async fn wrong_password_is_401_with_challenge() {
    let s = Server::start("").await;
    for (user, password) in [("root", "wrong"), ("nobody", "x"), ("nopass", "")] {
        let res = s
            .client()
            .get(s.url("/v1/status"))
            .basic_auth(user, Some(password))
            .header("Accept", "application/json")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401, "{user}");
        assert_eq!(
            res.headers()["www-authenticate"],
            "Basic realm=\"Icinga 2\""
        );
        let body: Json = res.json().await.unwrap();
        assert_eq!(
            body,
            json!({"error": 401, "status": "Unauthorized. Please check your user credentials."})
        );
    }
    let res = s.client().get(s.url("/v1")).send().await.unwrap();
    assert_eq!(res.status(), 401);
    assert!(res.headers().contains_key("www-authenticate"));
}

/// A missing permission is a 403 naming it where Icinga says so, and the generic 404 where
/// Icinga hides the endpoint.
#[tokio::test]
async fn permissions_are_enforced() {
    let s = Server::start("").await;
    let c = s.client();
    let res = c
        .get(s.url("/v1/status"))
        .basic_auth("reader", Some("reader"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let body: Json = res.json().await.unwrap();
    assert_eq!(body["status"], "Missing permission: status/query");

    let res = c
        .get(s.url("/v1/types/Host"))
        .basic_auth("reader", Some("reader"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    let res = c
        .post(s.url("/v1/console/execute-script"))
        .basic_auth("reader", Some("reader"))
        .json(&json!({"command": "1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
}

/// ApiUsers created through the API log in at once and after a restart; a changed
/// password takes effect, a deleted user is gone, invalid permissions are refused.
#[tokio::test]
async fn api_created_users_log_in() {
    let s = Server::start("").await;
    let (status, body) = s
        .send(
            "PUT",
            "/v1/objects/apiusers/bot",
            json!({"attrs": {"password": "pw", "permissions": ["objects/query/*"]}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let bot = |s: &Server, password: &'static str| {
        let url = s.url("/v1/objects/hosts");
        let c = s.client();
        async move {
            let (status, ()) = (c.get(url).basic_auth("bot", Some(password)).send().await)
                .map(|r| (r.status().as_u16(), ()))
                .unwrap();
            status
        }
    };
    assert_eq!(bot(&s, "pw").await, 200);
    let (status, _) = s
        .send_as(("bot", "pw"), "GET", "/v1/status", json!({}))
        .await;
    assert_eq!(status, 403, "only the granted permissions");
    let s = s.restart().await;
    assert_eq!(bot(&s, "pw").await, 200);
    let (status, _) = s
        .post(
            "/v1/objects/apiusers/bot",
            json!({"attrs": {"password": "new"}}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!((bot(&s, "pw").await, bot(&s, "new").await), (401, 200));
    let (status, body) = s
        .send(
            "PUT",
            "/v1/objects/apiusers/bad",
            json!({"attrs": {"password": "pw", "permissions": [{"filter": "x"}]}}),
        )
        .await;
    assert_eq!(status, 500, "{body}");
    assert_eq!(
        body["results"][0]["errors"][0],
        "Error: Validation failed for object 'bad' of type 'ApiUser'; Attribute 'permissions': Permission must be a string or a dictionary with a 'permission' key."
    );
    let (status, _) = s
        .send("DELETE", "/v1/objects/apiusers/bot", json!({}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(bot(&s, "new").await, 401);
}

/// A client certificate signed by our CA whose CN names an ApiUser authenticates the
/// connection (a Basic header is then ignored); a certificate of another CA names nobody,
/// as with Icinga: the handshake completes and the client authenticates with Basic, and
/// nothing counts against its address.
#[tokio::test]
async fn client_certificates() {
    let s = Server::start(
        r#"object ApiUser "agent" { client_cn = "agent.example"; permissions = [ "status/query" ] }"#,
    )
    .await;
    let ca = s.authority();
    let (cert, key) = ca.issue("agent.example").unwrap();
    let c = s.client_with_identity(&cert, &key);
    let res = c
        .get(s.url("/v1"))
        .basic_auth("root", Some("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Json = res.json().await.unwrap();
    assert_eq!(body["results"][0]["user"], "agent");
    assert_eq!(
        c.get(s.url("/v1/status/CIB"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    // A verified certificate without a matching user falls back to Basic auth.
    let (cert, key) = ca.issue("someone-else").unwrap();
    let c = s.client_with_identity(&cert, &key);
    assert_eq!(c.get(s.url("/v1")).send().await.unwrap().status(), 401);
    let res = c
        .get(s.url("/v1"))
        .basic_auth("root", Some("secret"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    // Another CA's certificate, though its CN names a user: no identity, Basic works.
    let other = tempfile::tempdir().unwrap();
    let foreign =
        auspex::pki::Authority::create(&other.path().join("ca.crt"), &other.path().join("ca.key"))
            .unwrap();
    let (cert, key) = foreign.issue("agent.example").unwrap();
    let c = s.client_with_identity(&cert, &key);
    for _ in 0..8 {
        let res = c.get(s.url("/v1")).send().await.unwrap();
        assert_eq!(res.status(), 401, "a foreign certificate authenticated");
    }
    let res = c
        .get(s.url("/v1"))
        .basic_auth("root", Some("secret"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        200,
        "blocked or refused after foreign handshakes"
    );
    let body: Json = res.json().await.unwrap();
    assert_eq!(body["results"][0]["user"], "root");
}

/// After 6 failed attempts an address is blocked (429 with `Retry-After`, also with good
/// credentials); the block shows in /v1/status and an admin lifts it.
#[tokio::test]
async fn blocklist_after_six_failures() {
    let s = Server::start("").await;
    let attacker = s.client_from("127.0.0.1");
    for i in 0..6 {
        let res = attacker
            .get(s.url("/v1"))
            .basic_auth("root", Some("guess"))
            .send()
            .await;
        assert_eq!(status_of(res), Some(401), "attempt {i}");
    }
    let res = attacker
        .get(s.url("/v1"))
        .basic_auth("root", Some("secret"))
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429, "a blocked address is told so");
    let wait: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((500..=600).contains(&wait), "Retry-After {wait}");
    let body: Json = res.json().await.unwrap();
    assert_eq!(body["error"], 429, "{body}");

    // Another address sees the block and lifts it.
    let admin = s.client_from("127.0.0.2");
    let res = admin
        .get(s.url("/v1/status/ApiListener"))
        .basic_auth("root", Some("secret"))
        .send()
        .await
        .unwrap();
    let body: Json = res.json().await.unwrap();
    let blocked = &body["results"][0]["status"]["api"]["blocklist"]["blocked"];
    assert_eq!(blocked[0]["address"], "127.0.0.1", "{body}");
    assert_eq!(blocked[0]["failures"], 6);

    let res = admin
        .post(s.url("/v1/actions/unblock-address"))
        .basic_auth("root", Some("secret"))
        .json(&json!({"address": "127.0.0.1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = attacker
        .get(s.url("/v1"))
        .basic_auth("root", Some("secret"))
        .send()
        .await;
    assert_eq!(status_of(res), Some(200));
}

/// A user over its request rate gets 429 with Retry-After, in the error envelope.
#[tokio::test]
async fn rate_limit_is_429() {
    let s = Server::start(
        r#"object ApiUser "limited" { password = "x"; permissions = [ "*" ]; request_rate = 1; request_burst = 3 }"#,
    )
    .await;
    let c = s.client();
    let mut codes = Vec::new();
    let mut limited = None;
    for _ in 0..6 {
        let res = c
            .get(s.url("/v1"))
            .basic_auth("limited", Some("x"))
            .send()
            .await
            .unwrap();
        codes.push(res.status().as_u16());
        if res.status() == 429 && limited.is_none() {
            let retry = res.headers()["retry-after"].to_str().unwrap().to_string();
            limited = Some((retry, res.json::<Json>().await.unwrap()));
        }
    }
    assert_eq!(&codes[..3], &[200, 200, 200], "{codes:?}");
    assert!(codes[3..].contains(&429), "{codes:?}");
    let (retry, body) = limited.unwrap();
    assert!(retry.parse::<u64>().unwrap() >= 1);
    assert_eq!(body["error"], 429);
    // Other users are not affected.
    let (status, _) = s.get("/v1").await;
    assert_eq!(status, 200);
}

/// `allowed_hosts` refuses other addresses at accept.
#[tokio::test]
async fn allowed_hosts_refuse_other_addresses() {
    let s =
        Server::start(r#"object ApiListener "api" { allowed_hosts = [ "127.0.0.2/32" ] }"#).await;
    let res = s
        .client_from("127.0.0.1")
        .get(s.url("/v1"))
        .basic_auth("root", Some("secret"))
        .send()
        .await;
    assert!(res.is_err());
    let res = s
        .client_from("127.0.0.2")
        .get(s.url("/v1"))
        .basic_auth("root", Some("secret"))
        .send()
        .await;
    assert_eq!(status_of(res), Some(200));
}

/// `pki save-cert` fetches the certificate the server presents.
#[tokio::test]
async fn save_cert_fetches_the_server_certificate() {
    let s = Server::start("").await;
    let out_dir = tempfile::tempdir().unwrap();
    let out = out_dir.path().join("trusted.crt");
    let port = s.port.to_string();
    let out2 = out.clone();
    let status = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_auspex"))
            .args([
                "pki",
                "save-cert",
                "--host",
                "127.0.0.1",
                "--port",
                &port,
                "--trustedcert",
            ])
            .arg(&out2)
            .status()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(status.success());
    let saved = std::fs::read_to_string(&out).unwrap();
    let served = std::fs::read_to_string(s.data_dir.join("certs/localhost.crt")).unwrap();
    let der = |pem: &str| crate::util::pem_certs(pem.as_bytes()).remove(0).to_vec();
    assert_eq!(der(&saved), der(&served));
}
