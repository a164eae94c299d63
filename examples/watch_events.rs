//! Watches an event stream as a dashboard would: Server-Sent Events, reconnecting after a
//! dropped connection or a server restart and resuming after the last event it printed
//! (`Last-Event-ID`), so nothing is missed and nothing printed twice.
//!
//! ```sh
//! cargo run --release -- serve      # first terminal: prints the root password once
//! cargo run --example watch_events -- --password <root password> \
//!     --ca data/ca/ca.crt --types CheckResult,StateChange --filter 'event.state != 0'
//! ```

use std::time::Duration;

use anyhow::{Context, Result};
use clap::Parser;
use serde_json::Value as Json;

#[derive(Parser)]
struct Args {
    #[arg(long, default_value = "https://localhost:5665")]
    url: String,
    #[arg(long, default_value = "root")]
    user: String,
    #[arg(long, env = "AUSPEX_PASSWORD")]
    password: String,
    /// The CA certificate to trust (`<data>/ca/ca.crt`).
    #[arg(long, default_value = "data/ca/ca.crt")]
    ca: std::path::PathBuf,
    #[arg(long, value_delimiter = ',', default_value = "CheckResult,StateChange")]
    types: Vec<String>,
    #[arg(long)]
    filter: Option<String>,
    /// Start after this event id (default: from now on).
    #[arg(long)]
    since: Option<u64>,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let ca = std::fs::read(&args.ca).with_context(|| format!("reading {}", args.ca.display()))?;
    let client = reqwest::Client::builder()
        .use_rustls_tls()
        .add_root_certificate(reqwest::Certificate::from_pem(&ca)?)
        .build()?;
    let mut query: Vec<(&str, String)> = args.types.iter().map(|t| ("types", t.clone())).collect();
    if let Some(f) = &args.filter {
        query.push(("filter", f.clone()));
    }
    let mut last = args.since;
    loop {
        let mut req = client
            .get(format!("{}/v1/events", args.url.trim_end_matches('/')))
            .query(&query)
            .basic_auth(&args.user, Some(&args.password))
            .header("Accept", "text/event-stream");
        if let Some(id) = last {
            req = req.header("Last-Event-ID", id.to_string());
        }
        match req.send().await {
            Ok(res) if res.status().is_success() => {
                match last {
                    Some(id) => eprintln!("-- connected, resuming after event {id}"),
                    None => eprintln!("-- connected, from now on"),
                }
                if let Err(e) = follow(res, &mut last).await {
                    eprintln!("-- stream ended: {e}");
                }
            }
            Ok(res) => {
                // A refusal (bad filter, no permission) will not fix itself.
                anyhow::bail!("{}: {}", res.status(), res.text().await.unwrap_or_default());
            }
            Err(e) => eprintln!("-- cannot connect: {e}"),
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// Prints events until the stream ends; keeps `last` at the last id printed.
async fn follow(mut res: reqwest::Response, last: &mut Option<u64>) -> Result<()> {
    let mut buf = String::new();
    while let Some(chunk) = res.chunk().await? {
        buf.push_str(&String::from_utf8_lossy(&chunk));
        // SSE messages end with a blank line.
        while let Some(end) = buf.find("\n\n") {
            let message: String = buf.drain(..end + 2).collect();
            let mut id = None;
            let mut data = None;
            for line in message.lines() {
                if let Some(v) = line.strip_prefix("id: ") {
                    id = v.parse::<u64>().ok();
                } else if let Some(v) = line.strip_prefix("data: ") {
                    data = serde_json::from_str::<Json>(v).ok();
                }
            }
            if let (Some(id), Some(event)) = (id, data) {
                print_event(id, &event);
                *last = Some(id);
            }
        }
    }
    Ok(())
}

fn print_event(id: u64, e: &Json) {
    let object = match e["service"].as_str() {
        Some(s) => format!("{}!{s}", e["host"].as_str().unwrap_or("")),
        None => e["host"]
            .as_str()
            .or(e["object_name"].as_str())
            .unwrap_or("")
            .to_string(),
    };
    let output = e["check_result"]["output"].as_str().unwrap_or("");
    let state = e["state"]
        .as_i64()
        .or(e["check_result"]["state"].as_i64())
        .map_or(String::new(), |s| format!("state={s} "));
    println!(
        "{id:>8} {:<16} {object} {state}{}",
        e["type"].as_str().unwrap_or("?"),
        output.lines().next().unwrap_or("")
    );
}
