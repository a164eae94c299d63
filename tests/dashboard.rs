//! `/ui` in a real headless Chromium driven over WebDriver (Debian's `chromium` and
//! `chromium-driver`): sign in, see the objects, see a result submitted through the API
//! change its row live, acknowledge from the page, filter with the DSL. Skipped without
//! `chromedriver` unless `AUSPEX_REQUIRE_BROWSER` is set (as CI sets it). With
//! `AUSPEX_SCREENSHOT_DIR` set, the page's screenshot is written there.

use fantoccini::Locator;
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

async fn submit(s: &Server, service: &str, exit: u8, output: &str) {
    let (status, res) = s
        .post(
            "/v1/actions/process-check-result",
            json!({"type": "Service", "service": service, "exit_status": exit, "plugin_output": output}),
        )
        .await;
    assert_eq!(status, 200, "{res}");
}

/// Waits until `condition` holds in the page (see [`crate::peers::page_until`]);
/// `cell(key, column)` gives a row's cell text, `null` without the row.
async fn page_until(c: &fantoccini::Client, what: &str, condition: &str) {
    let with_cell = format!(
        "((cell) => ({condition}))((k, col) => {{
           const e = document.querySelector('tr[data-key=\"' + k + '\"] td.' + col);
           return e ? e.textContent : null;
         }})"
    );
    crate::peers::page_until(c, what, &with_cell).await;
}

async fn row_text(c: &fantoccini::Client, key: &str, cell: &str) -> Option<String> {
    let css = format!("tr[data-key=\"{key}\"] td.{cell}");
    c.find(Locator::Css(&css)).await.ok()?.text().await.ok()
}

#[tokio::test(flavor = "multi_thread")]
async fn dashboard_shows_live_changes_and_acts() {
    let Some((_driver, c)) = crate::peers::browser("AUSPEX_REQUIRE_BROWSER").await else {
        return;
    };
    let s = Server::start(CONFIG).await;
    submit(&s, "web-1!http", 0, "HTTP OK: 200 in 0.012 s").await;
    submit(&s, "web-1!disk", 1, "DISK WARNING - / 86% used").await;
    submit(&s, "db-1!load", 0, "OK - load average: 0.31, 0.28, 0.25").await;

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
    page_until(&c, "the rows", "cell('web-1!disk', 'state') === 'WARNING'").await;
    page_until(
        &c,
        "the stream",
        "document.querySelector('#connection.up') !== null",
    )
    .await;

    // A result through the API changes the row, live.
    submit(&s, "db-1!disk", 2, "DISK CRITICAL - /var 98% used").await;
    page_until(
        &c,
        "the row turns critical",
        "cell('db-1!disk', 'state') === 'CRITICAL'",
    )
    .await;
    assert_eq!(
        row_text(&c, "db-1!disk", "output").await.as_deref(),
        Some("DISK CRITICAL - /var 98% used")
    );
    page_until(
        &c,
        "the summary counts it",
        "document.getElementById('count-critical').textContent === '1'",
    )
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
    s.wait_for("/v1/objects/services/db-1!disk", |a| {
        a["acknowledgement"] == json!(1)
    })
    .await;
    page_until(
        &c,
        "the badge",
        "(cell('db-1!disk', 'state') || '').includes('ack')",
    )
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
    page_until(
        &c,
        "the filtered rows",
        "cell('db-1!disk', 'state') === null && cell('web-1!http', 'state') === 'OK'",
    )
    .await;
    c.close().await.unwrap();
}
