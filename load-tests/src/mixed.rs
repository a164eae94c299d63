//! `--scenario mixed`: what a busy installation sees at once, for `--seconds`:
//! - 8 connections submitting `process-check-result` to the `--service` pattern;
//! - 4 connections querying `/v1/objects/services` with a filter (the 100 services of
//!   ten hosts, state and last result);
//! - 1 connection acknowledging and un-acknowledging the problems of one service name
//!   across all hosts (`service.name == "0"`: `--hosts` targets per request);
//! - `--subscribers` NDJSON event streams reading everything.
//!
//! Per kind: requests/s, p50/p99 latency, errors; events read per second.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use hdrhistogram::Histogram;
use serde_json::{json, Value as Json};

use crate::{client, Args};

/// One kind of request, repeated by `connections` loops.
struct Kind {
    name: &'static str,
    connections: usize,
    /// The request for the i-th iteration: method, path, body.
    request: Arc<dyn Fn(u64) -> (reqwest::Method, String, Json) + Send + Sync>,
}

async fn hammer(
    args: &Args,
    kind: &Kind,
    stop: Arc<AtomicBool>,
) -> Result<(Histogram<u64>, u64, u64)> {
    let mut tasks = Vec::new();
    for c in 0..kind.connections {
        let client = client(Some(Duration::from_secs(30)))?;
        let (stop, request) = (stop.clone(), kind.request.clone());
        let (base, user, password) = (args.url.clone(), args.user.clone(), args.password.clone());
        tasks.push(tokio::spawn(async move {
            let mut hist = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3).expect("bounds");
            let (mut ok, mut errors) = (0u64, 0u64);
            let mut i = c as u64;
            while !stop.load(Ordering::Relaxed) {
                let (method, path, body) = request(i);
                i += 1000;
                let started = Instant::now();
                let res = client
                    .request(method, format!("{base}{path}"))
                    .basic_auth(&user, Some(&password))
                    .header("Accept", "application/json")
                    .header("Content-Type", "application/json")
                    .body(body.to_string())
                    .send()
                    .await;
                match res {
                    Ok(r) => {
                        let success = r.status().is_success() || r.status().as_u16() == 409;
                        let _ = r.bytes().await;
                        if success {
                            ok += 1;
                            let _ = hist.record(started.elapsed().as_micros().max(1) as u64);
                        } else {
                            errors += 1;
                        }
                    }
                    Err(_) => errors += 1,
                }
            }
            (hist, ok, errors)
        }));
    }
    let mut hist = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3)?;
    let (mut ok, mut errors) = (0, 0);
    for t in tasks {
        let (h, o, e) = t.await?;
        hist.add(h)?;
        ok += o;
        errors += e;
    }
    Ok((hist, ok, errors))
}

pub async fn main(args: &Args) -> Result<()> {
    let (pattern, hosts, services) = (
        args.service.clone(),
        args.hosts.max(1),
        args.services.max(1),
    );
    let service_name = move |i: u64| {
        let i = i as usize;
        pattern
            .replace("{h}", &((i / services) % hosts).to_string())
            .replace("{s}", &(i % services).to_string())
    };
    let kinds = [
        Kind {
            name: "process-check-result",
            connections: 8,
            request: Arc::new(move |i| {
                let body = json!({"type": "Service", "service": service_name(i), "exit_status": i % 3,
                                  "plugin_output": format!("mixed {i}")});
                (
                    reqwest::Method::POST,
                    "/v1/actions/process-check-result".into(),
                    body,
                )
            }),
        },
        Kind {
            name: "objects query",
            connections: 4,
            request: Arc::new(|i| {
                let body = json!({"filter": format!("match(\"bench-host-{}?\", host.name)", i % 100),
                                  "attrs": ["state", "last_check_result"]});
                (reqwest::Method::GET, "/v1/objects/services".into(), body)
            }),
        },
        Kind {
            name: "ack/unack on all hosts",
            connections: 1,
            request: Arc::new(|i| {
                let select = json!({"type": "Service", "filter": "service.name == \"0\" && service.state != 0",
                                    "author": "mixed", "comment": "load"});
                let action = if i % 2000 < 1000 {
                    "acknowledge-problem"
                } else {
                    "remove-acknowledgement"
                };
                (
                    reqwest::Method::POST,
                    format!("/v1/actions/{action}"),
                    select,
                )
            }),
        },
    ];
    // Subscribers: count what they read.
    let stop = Arc::new(AtomicBool::new(false));
    let read = Arc::new(AtomicU64::new(0));
    let mut readers = Vec::new();
    for _ in 0..args.subscribers.first().copied().unwrap_or(10) {
        let res = client(None)?
            .post(format!("{}/v1/events?types=CheckResult&types=StateChange&types=AcknowledgementSet&queue=mixed", args.url))
            .basic_auth(&args.user, Some(&args.password))
            .header("Accept", "application/json")
            .send()
            .await?;
        anyhow::ensure!(res.status().is_success(), "subscribe: {}", res.status());
        let (stop, read) = (stop.clone(), read.clone());
        readers.push(tokio::spawn(async move {
            let mut res = res;
            while !stop.load(Ordering::Relaxed) {
                match tokio::time::timeout(Duration::from_millis(200), res.chunk()).await {
                    Ok(Ok(Some(c))) => {
                        read.fetch_add(
                            c.iter().filter(|b| **b == b'\n').count() as u64,
                            Ordering::Relaxed,
                        );
                    }
                    Ok(_) => break,
                    Err(_) => {}
                }
            }
        }));
    }
    let started = Instant::now();
    let runs: Vec<_> = kinds
        .iter()
        .map(|k| hammer(args, k, stop.clone()))
        .collect();
    let timer = async {
        tokio::time::sleep(Duration::from_secs(args.seconds)).await;
        stop.store(true, Ordering::Relaxed);
    };
    let (results, ()) = tokio::join!(futures_util::future::join_all(runs), timer);
    let elapsed = started.elapsed().as_secs_f64();
    for r in readers {
        let _ = r.await;
    }
    println!(
        "{:<10} {:<24} {:>6} {:>10} {:>9} {:>9} {:>7}",
        "target", "kind", "conns", "req/s", "p50 ms", "p99 ms", "errors"
    );
    let mut rows = Vec::new();
    for (k, r) in kinds.iter().zip(results) {
        let (hist, ok, errors) = r?;
        let ms = |q: f64| hist.value_at_quantile(q) as f64 / 1000.0;
        println!(
            "{:<10} {:<24} {:>6} {:>10.0} {:>9.2} {:>9.2} {:>7}",
            args.label,
            k.name,
            k.connections,
            ok as f64 / elapsed,
            ms(0.5),
            ms(0.99),
            errors
        );
        rows.push(
            json!({"label": args.label, "kind": k.name, "connections": k.connections,
                         "requests_per_second": ok as f64 / elapsed, "p50_ms": ms(0.5),
                         "p99_ms": ms(0.99), "errors": errors}),
        );
    }
    let events = read.load(Ordering::Relaxed) as f64 / elapsed;
    println!(
        "{:<10} {:<24} {:>6} {:>10.0} events/s read",
        args.label,
        "event streams",
        args.subscribers.first().copied().unwrap_or(10),
        events
    );
    rows.push(json!({"label": args.label, "kind": "event streams", "events_per_second": events}));
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&rows)?)?;
    }
    Ok(())
}
