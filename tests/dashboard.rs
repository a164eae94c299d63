//! `/ui` in a real headless Chromium driven over WebDriver (Debian's `chromium` and
//! `chromium-driver`): sign in, see the objects, see a result submitted through the API
//! change its row live, acknowledge from the page, filter with the DSL. Skipped without
//! `chromedriver` unless `AUSPEX_REQUIRE_BROWSER` is set (as CI sets it). With
//! `AUSPEX_SCREENSHOT_DIR` set, the page's screenshot is written there.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{ClientBuilder, Locator};
use serde_json::{json, Value as Json};

use crate::util::Server;

const CONFIG: &str = r#"
object Host "web-1" { check_command = "dummy"; enable_active_checks = false }
object Host "db-1" { check_command = "dummy"; enable_active_checks = false }
apply Service for (name in [ "http", "disk", "load" ]) {
  check_command = "passive"
  enable_active_checks = false
  max_check_attempts = 1
  assign where true
}
"#;

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn chromedriver() -> Option<(Driver, u16)> {
    let found = Command::new("sh")
        .args(["-c", "command -v chromedriver"])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(
            std::env::var_os("AUSPEX_REQUIRE_BROWSER").is_none(),
            "chromedriver is required (AUSPEX_REQUIRE_BROWSER is set)"
        );
        eprintln!("chromedriver not installed: test skipped");
        return None;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Some((Driver(child), port))
}

async fn submit(s: &Server, service: &str, exit: u8, output: &str) {
    let (status, res) = s
        .post(
            "/v1/actions/process-check-result",
            json!({"type": "Service", "service": service, "exit_status": exit, "plugin_output": output}),
        )
        .await;
    assert_eq!(status, 200, "{res}");
}

/// Polls the page until `check` holds (20 s at most): the page updates on its own.
async fn until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn row_text(c: &fantoccini::Client, key: &str, cell: &str) -> Option<String> {
    let css = format!("tr[data-key=\"{key}\"] td.{cell}");
    c.find(Locator::Css(&css)).await.ok()?.text().await.ok()
}

#[tokio::test(flavor = "multi_thread")]
async fn dashboard_shows_live_changes_and_acts() {
    let Some((_driver, port)) = chromedriver() else {
        return;
    };
    let s = Server::start(CONFIG).await;
    submit(&s, "web-1!http", 0, "HTTP OK: 200 in 0.012 s").await;
    submit(&s, "web-1!disk", 1, "DISK WARNING - / 86% used").await;
    submit(&s, "db-1!load", 0, "OK - load average: 0.31, 0.28, 0.25").await;

    let mut caps = serde_json::Map::new();
    caps.insert("acceptInsecureCerts".into(), json!(true));
    caps.insert(
        "goog:chromeOptions".into(),
        json!({"args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                        "--disable-dev-shm-usage", "--window-size=1280,860"]}),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let mut builder = ClientBuilder::new(connector);
    builder.capabilities(caps);
    let webdriver = format!("http://127.0.0.1:{port}");
    let c = {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            match builder.connect(&webdriver).await {
                Ok(c) => break c,
                Err(e) => {
                    assert!(
                        tokio::time::Instant::now() < deadline,
                        "no WebDriver session: {e}"
                    );
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    };

    c.goto(&s.url("/ui")).await.unwrap();
    let user = c
        .wait()
        .for_element(Locator::Css("input[name=user]"))
        .await
        .unwrap();
    user.send_keys("root").await.unwrap();
    c.find(Locator::Css("input[name=password]"))
        .await
        .unwrap()
        .send_keys("secret")
        .await
        .unwrap();
    c.find(Locator::Css("#login-form button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    until("the rows", || async {
        row_text(&c, "web-1!disk", "state").await.as_deref() == Some("WARNING")
    })
    .await;
    until("the stream", || async {
        c.find(Locator::Css("#connection.up")).await.is_ok()
    })
    .await;

    // A result through the API changes the row, live.
    submit(&s, "db-1!disk", 2, "DISK CRITICAL - /var 98% used").await;
    until("the row turns critical", || async {
        row_text(&c, "db-1!disk", "state").await.as_deref() == Some("CRITICAL")
    })
    .await;
    assert_eq!(
        row_text(&c, "db-1!disk", "output").await.as_deref(),
        Some("DISK CRITICAL - /var 98% used")
    );
    until("the summary counts it", || async {
        match c.find(Locator::Id("count-critical")).await {
            Ok(e) => e.text().await.ok().as_deref() == Some("1"),
            Err(_) => false,
        }
    })
    .await;

    // Acknowledge from the page: the API shows it, the row shows it.
    c.find(Locator::Css(
        "tr[data-key=\"db-1!disk\"] button[name=acknowledge]",
    ))
    .await
    .unwrap()
    .click()
    .await
    .unwrap();
    until("the acknowledgement", || async {
        let (_, body) = s.get("/v1/objects/services/db-1!disk").await;
        body["results"][0]["attrs"]["acknowledgement"] == json!(1)
    })
    .await;
    until("the badge", || async {
        row_text(&c, "db-1!disk", "state")
            .await
            .is_some_and(|t| t.contains("ack"))
    })
    .await;
    let (_, comments) = s.get("/v1/objects/comments").await;
    let authors: Vec<&Json> = comments["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["attrs"]["author"])
        .collect();
    assert_eq!(authors, vec![&json!("root")], "{comments}");

    if let Some(dir) = std::env::var_os("AUSPEX_SCREENSHOT_DIR") {
        let png = c.screenshot().await.unwrap();
        std::fs::write(std::path::Path::new(&dir).join("dashboard.png"), png).unwrap();
    }

    // The browser's own WebSocket reaches the stream with the page's token (the server
    // asks for a client certificate, which the browser has none of).
    let opened = c
        .execute(
            "const token = sessionStorage.getItem('auspex.token');
             return new Promise((resolve) => {
               const ws = new WebSocket('wss://' + location.host +
                 '/v1/events/ws?types=CheckResult&access_token=' + encodeURIComponent(token));
               ws.onmessage = (m) => { ws.close(); resolve(m.data); };
               ws.onerror = () => resolve('error');
               setTimeout(() => resolve('timeout'), 10000);
             });",
            vec![],
        )
        .await
        .unwrap();
    let first: Json = serde_json::from_str(opened.as_str().unwrap_or("null"))
        .unwrap_or_else(|_| panic!("WebSocket in the browser: {opened}"));
    assert_eq!(
        first["subscribed"]["types"],
        json!(["CheckResult"]),
        "{first}"
    );

    // The filter box takes the DSL.
    let filter = c.find(Locator::Id("filter")).await.unwrap();
    filter.send_keys("service.state == 0").await.unwrap();
    c.find(Locator::Css("#filter-form button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    until("the filtered rows", || async {
        row_text(&c, "db-1!disk", "state").await.is_none()
            && row_text(&c, "web-1!http", "state").await.as_deref() == Some("OK")
    })
    .await;
    c.close().await.unwrap();
}
