//! `GET /metrics`: Prometheus figures of requests, results, events, streams, the store
//! and objects by state, for users allowed `status/query`.

use serde_json::json;

use crate::util::{read_until, Server, PASSIVE};

const USERS: &str = r#"
object ApiUser "viewer" { password = "v"; permissions = [ "objects/query/*" ] }
object ApiUser "scraper" { password = "p"; permissions = [ "status/query" ] }
"#;

/// The value of the sample `line` (name and labels as written), if present.
fn sample(text: &str, line: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(line)?.strip_prefix(' ')?.parse().ok())
}

async fn scrape(s: &Server, user: &str, password: &str) -> (u16, String, String) {
    let res = s
        .client()
        .get(s.url("/metrics"))
        .basic_auth(user, Some(password))
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let content_type = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, content_type, res.text().await.unwrap())
}

/// A passive result shows in the results, the objects by state, the events published,
/// the request counts and the store's commits; a stream's delivery in its figures.
#[tokio::test]
async fn metrics_count_what_happened() {
    let s = Server::start(&format!("{PASSIVE}{USERS}")).await;
    let mut stream = s
        .client()
        .post(s.url("/v1/events"))
        .basic_auth("root", Some("secret"))
        .json(&json!({"types": ["CheckResult"], "queue": "q"}))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    let (status, res) = s
        .post(
            "/v1/actions/process-check-result",
            json!({"type": "Service", "service": "h1!passive", "exit_status": 2, "plugin_output": "bad"}),
        )
        .await;
    assert_eq!(status, 200, "{res}");
    read_until(&mut stream, |t| t.contains('\n')).await;

    let (status, content_type, text) = scrape(&s, "scraper", "p").await;
    assert_eq!(status, 200, "{text}");
    assert!(content_type.starts_with("application/openmetrics-text"));
    assert!(text.ends_with("# EOF\n"), "{text}");
    let expect = |line: &str, value: f64| {
        assert_eq!(sample(&text, line), Some(value), "{line} in:\n{text}");
    };
    expect(
        r#"auspex_check_results_total{type="service",mode="passive"}"#,
        1.0,
    );
    expect(
        r#"auspex_check_results_total{type="service",mode="active"}"#,
        0.0,
    );
    expect(
        r#"auspex_objects_by_state{type="service",state="critical"}"#,
        1.0,
    );
    expect(
        r#"auspex_objects_by_condition{type="service",condition="pending"}"#,
        1.0,
    );
    expect(r#"auspex_objects{type="Host"}"#, 2.0);
    expect(r#"auspex_objects{type="Service"}"#, 2.0);
    expect(r#"auspex_events_published_total{type="CheckResult"}"#, 1.0);
    expect(r#"auspex_events_published_total{type="StateChange"}"#, 1.0);
    expect(
        r#"auspex_http_requests_total{method="POST",route="/v1/actions/process-check-result",code="200"}"#,
        1.0,
    );
    expect(r#"auspex_event_subscribers{format="json"}"#, 1.0);
    expect(r#"auspex_events_delivered_total{format="json"}"#, 1.0);
    let stream_line = text
        .lines()
        .find(|l| l.starts_with("auspex_event_stream_delivered_total{"))
        .unwrap_or_else(|| panic!("no stream figures in:\n{text}"));
    assert!(
        stream_line.contains(r#"user="root""#) && stream_line.ends_with(" 1"),
        "{stream_line}"
    );
    let commits = sample(&text, "auspex_store_commit_duration_seconds_count").unwrap();
    assert!(commits >= 1.0, "{text}");
    expect("auspex_store_writable", 1.0);

    // The stream's delivery stays counted after it closes.
    drop(stream);
    let closed = async {
        loop {
            let (_, _, text) = scrape(&s, "scraper", "p").await;
            if sample(&text, r#"auspex_event_subscribers{format="json"}"#).is_none() {
                break text;
            }
            tokio::task::yield_now().await;
        }
    };
    let text = tokio::time::timeout(std::time::Duration::from_secs(10), closed)
        .await
        .expect("the closed stream stays listed");
    assert_eq!(
        sample(&text, r#"auspex_events_delivered_total{format="json"}"#),
        Some(1.0),
        "{text}"
    );
}

/// Scraping needs credentials and `status/query`, as `/v1/status` does.
#[tokio::test]
async fn metrics_need_status_permission() {
    let s = Server::start(USERS).await;
    let res = s.client().get(s.url("/metrics")).send().await.unwrap();
    assert_eq!(res.status(), 401);
    let (status, _, text) = scrape(&s, "viewer", "v").await;
    assert_eq!(status, 403, "{text}");
    let body: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["error"], 403);
    let (status, _, _) = scrape(&s, "root", "secret").await;
    assert_eq!(status, 200);
}
