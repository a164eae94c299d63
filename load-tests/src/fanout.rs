//! The fanout scenario: N subscribers on `POST /v1/events?types=CheckResult` (the NDJSON
//! stream every Icinga client uses, so the same run works against Icinga 2), and
//! submitters posting `process-check-result` with the send time in the plugin output.
//! Each subscriber reads its stream, finds the send time in each line and records the
//! latency; at the end every subscriber should have seen every accepted result.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use futures_util::{StreamExt, TryStreamExt};
use hdrhistogram::Histogram;
use serde_json::json;

use crate::{client, Args};

/// Connections submitting results.
const SUBMITTERS: usize = 16;
/// The marker the subscriber looks for in a line: `"output":"lt <micros>`.
const MARKER: &[u8] = b"\"output\":\"lt ";

fn micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

pub async fn main(args: &Args) -> Result<()> {
    println!(
        "{:<10} {:>6} {:>10} {:>12} {:>10} {:>9} {:>9} {:>9}",
        "target", "subs", "results/s", "delivered/s", "lost", "p50 ms", "p99 ms", "max ms"
    );
    let mut rows = Vec::new();
    for &n in &args.subscribers {
        let r = run(args, n).await?;
        println!(
            "{:<10} {:>6} {:>10.0} {:>12.0} {:>10} {:>9.2} {:>9.2} {:>9.2}",
            args.label, n, r.submitted_rate, r.delivered_rate, r.lost, r.p50, r.p99, r.max
        );
        if let Some(cpu) = r.cpu_seconds {
            println!("server CPU: {cpu:.2} s while results were submitted");
        }
        if let [before, half, end] = r.rss_mb[..] {
            println!("server RSS: {before} MB before, {half} MB halfway, {end} MB at the end");
            if let Some(limit) = args.max_rss_growth_mb {
                anyhow::ensure!(
                    end <= half + limit,
                    "server RSS grew by {} MB in the second half (limit {limit} MB)",
                    end.saturating_sub(half)
                );
            }
        }
        rows.push(json!({
            "label": args.label, "scenario": "fanout", "subscribers": n,
            "rate_asked": args.rate, "seconds": args.seconds,
            "submitted": r.submitted, "submitted_per_second": r.submitted_rate,
            "delivered": r.delivered, "delivered_per_second": r.delivered_rate,
            "lost": r.lost, "p50_ms": r.p50, "p99_ms": r.p99, "max_ms": r.max,
            "server_rss_mb": r.rss_mb, "server_cpu_seconds": r.cpu_seconds,
        }));
    }
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&rows)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

struct Outcome {
    submitted: u64,
    submitted_rate: f64,
    delivered: u64,
    delivered_rate: f64,
    lost: u64,
    p50: f64,
    p99: f64,
    max: f64,
    /// The server's RSS (MB) before, halfway and at the end, with `--server-pid`.
    rss_mb: Vec<u64>,
    /// The server's CPU time (user + system) while results were submitted.
    cpu_seconds: Option<f64>,
}

/// A process's CPU time so far, user and system (Linux; clock ticks of 10 ms).
fn cpu_seconds(pid: u32) -> Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("reading the stat of process {pid}"))?;
    // The fields after the command name (which may hold spaces) in parentheses.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok());
    let (user, system) = (ticks(11).context("utime")?, ticks(12).context("stime")?);
    Ok((user + system) as f64 / 100.0)
}

/// A process's resident set in MB (Linux).
fn rss_mb(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading the status of process {pid}"))?;
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .context("no VmRSS")?;
    Ok(kb / 1024)
}

async fn run(args: &Args, subscribers: usize) -> Result<Outcome> {
    let base = args.url.trim_end_matches('/').to_string();
    // Subscribers first; each counts what it reads and records latencies.
    let stop_reading = Arc::new(AtomicBool::new(false));
    let mut rss = Vec::new();
    if let Some(pid) = args.server_pid {
        rss.push(rss_mb(pid)?);
    }
    let bases: Vec<String> = if args.subscribe_url.is_empty() {
        vec![base.clone()]
    } else {
        args.subscribe_url
            .iter()
            .map(|u| u.trim_end_matches('/').to_string())
            .collect()
    };
    anyhow::ensure!(
        !((args.per_host || args.types != ["CheckResult"]) && args.format == "ws"),
        "--per-host and --types work with the ndjson and sse formats"
    );
    let hosts = args.hosts.max(1);
    // One client: each open stream holds a connection of its own.
    let http = client(None)?;
    // Subscribing is a TLS handshake each: many at once.
    let subscribing = futures_util::stream::iter(0..subscribers).map(|i| {
        let node = bases[i % bases.len()].clone();
        let (stop_reading, http) = (stop_reading.clone(), http.clone());
        async move {
            let host = args.per_host.then(|| host_name(&args.service, i % hosts));
            let reader = subscribe(args, &http, &node, host.as_deref(), stop_reading).await?;
            anyhow::Ok((i % hosts, reader))
        }
    });
    let readers: Vec<_> = subscribing.buffered(64).try_collect().await?;
    // Let the streams settle (Icinga registers its inbox asynchronously).
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stop = Arc::new(AtomicBool::new(false));
    let accepted = Arc::new(AtomicU64::new(0));
    // Accepted results per host, for the per-host subscribers.
    let per_host: Arc<Vec<AtomicU64>> = Arc::new((0..hosts).map(|_| AtomicU64::new(0)).collect());
    let seq = Arc::new(AtomicU64::new(0));
    let cpu_before = args.server_pid.map(cpu_seconds).transpose()?;
    let started = Instant::now();
    let per_submitter = (args.rate > 0).then(|| args.rate as f64 / SUBMITTERS as f64);
    let mut submitters = Vec::new();
    for _ in 0..SUBMITTERS {
        let client = client(Some(Duration::from_secs(30)))?;
        let (stop, accepted, seq) = (stop.clone(), accepted.clone(), seq.clone());
        let per_host = per_host.clone();
        let url = format!("{base}/v1/actions/process-check-result");
        let (user, password) = (args.user.clone(), args.password.clone());
        let (pattern, services) = (args.service.clone(), args.services.max(1));
        submitters.push(tokio::spawn(async move {
            let t0 = Instant::now();
            let mut sent = 0u64;
            while !stop.load(Ordering::Relaxed) {
                if let Some(rate) = per_submitter {
                    let due = t0 + Duration::from_secs_f64(sent as f64 / rate);
                    tokio::time::sleep_until(due.into()).await;
                }
                let i = seq.fetch_add(1, Ordering::Relaxed) as usize;
                let name = pattern
                    .replace("{h}", &((i / services) % hosts).to_string())
                    .replace("{s}", &(i % services).to_string());
                let body = json!({
                    "type": "Service", "service": name, "exit_status": (i % 3) as u8,
                    "plugin_output": format!("lt {} load test", micros()),
                });
                sent += 1;
                if let Ok(res) = client
                    .post(&url)
                    .basic_auth(&user, Some(&password))
                    .header("Accept", "application/json")
                    .header("Content-Type", "application/json")
                    .body(body.to_string())
                    .send()
                    .await
                {
                    if res.status().is_success() {
                        accepted.fetch_add(1, Ordering::Relaxed);
                        per_host[(i / services) % hosts].fetch_add(1, Ordering::Relaxed);
                    }
                    let _ = res.bytes().await;
                }
            }
        }));
    }
    let half = Duration::from_secs_f64(args.seconds as f64 / 2.0);
    tokio::time::sleep(half).await;
    if let Some(pid) = args.server_pid {
        rss.push(rss_mb(pid)?);
    }
    tokio::time::sleep(half).await;
    if let Some(pid) = args.server_pid {
        rss.push(rss_mb(pid)?);
    }
    stop.store(true, Ordering::Relaxed);
    for s in submitters {
        s.await?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = match (args.server_pid, cpu_before) {
        (Some(pid), Some(before)) => Some(cpu_seconds(pid)? - before),
        _ => None,
    };
    let submitted = accepted.load(Ordering::Relaxed);
    // Wait for the stragglers (Icinga delivers in bursts).
    tokio::time::sleep(Duration::from_secs(args.drain)).await;
    stop_reading.store(true, Ordering::Relaxed);
    let mut hist = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3)?;
    let mut delivered = 0u64;
    let mut lost = 0u64;
    for (host, r) in readers {
        let (h, n) = r.await?;
        delivered += n;
        if !args.stall {
            let expected = if !args.types.iter().any(|t| t == "CheckResult") {
                0
            } else if args.per_host {
                per_host[host].load(Ordering::Relaxed)
            } else {
                submitted
            };
            lost += expected.saturating_sub(n);
        }
        hist.add(h)?;
    }
    let ms = |q: f64| hist.value_at_quantile(q) as f64 / 1000.0;
    Ok(Outcome {
        submitted,
        submitted_rate: submitted as f64 / elapsed,
        delivered,
        delivered_rate: delivered as f64 / elapsed,
        lost,
        p50: ms(0.5),
        p99: ms(0.99),
        max: hist.max() as f64 / 1000.0,
        rss_mb: rss,
        cpu_seconds: cpu,
    })
}

/// The host part of the `--service` pattern for host number `h`.
fn host_name(pattern: &str, h: usize) -> String {
    let host = pattern.split('!').next().unwrap_or(pattern);
    host.replace("{h}", &h.to_string())
}

/// Opens one subscription (all CheckResults, or one host's) and starts its reader.
async fn subscribe(
    args: &Args,
    http: &reqwest::Client,
    node: &str,
    host: Option<&str>,
    stop_reading: Arc<AtomicBool>,
) -> Result<tokio::task::JoinHandle<(Histogram<u64>, u64)>> {
    if args.format == "ws" {
        let events = crate::ws::subscribe(node, &args.user, &args.password, "CheckResult")
            .await
            .context("subscribing over WebSocket")?;
        return Ok(tokio::spawn(read_ws(events, stop_reading, args.stall)));
    }
    let accept = match args.format.as_str() {
        "sse" => "text/event-stream",
        _ => "application/json",
    };
    let mut body = json!({"types": args.types, "queue": "auspex-load"});
    if let Some(host) = host {
        body["filter"] = json!(format!("event.host == {}", json!(host)));
    }
    let res = http
        .post(format!("{node}/v1/events"))
        .basic_auth(&args.user, Some(&args.password))
        .header("Accept", accept)
        .header("Content-Type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .context("subscribing")?;
    anyhow::ensure!(res.status().is_success(), "subscribe: {}", res.status());
    Ok(tokio::spawn(read(res, stop_reading, args.stall)))
}

/// Reads one stream until told to stop; returns the latencies and the events counted.
async fn read(
    mut res: reqwest::Response,
    stop: Arc<AtomicBool>,
    stall: bool,
) -> (Histogram<u64>, u64) {
    let mut hist = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3).expect("bounds");
    if stall {
        while !stop.load(Ordering::Relaxed) {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        return (hist, 0);
    }
    let mut count = 0u64;
    let mut buf: Vec<u8> = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let chunk = match tokio::time::timeout(Duration::from_millis(200), res.chunk()).await {
            Ok(Ok(Some(c))) => c,
            Ok(_) => break,
            Err(_) => continue,
        };
        let now = micros();
        buf.extend_from_slice(&chunk);
        let mut start = 0;
        while let Some(nl) = buf[start..].iter().position(|b| *b == b'\n') {
            let line = &buf[start..start + nl];
            if let Some(sent) = sent_at(line) {
                count += 1;
                let _ = hist.record(now.saturating_sub(sent).max(1));
            }
            start += nl + 1;
        }
        buf.drain(..start);
    }
    (hist, count)
}

/// Reads a WebSocket subscription until told to stop (one event per message).
async fn read_ws(
    mut events: crate::ws::Events,
    stop: Arc<AtomicBool>,
    stall: bool,
) -> (Histogram<u64>, u64) {
    use futures_util::StreamExt;
    let mut hist = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3).expect("bounds");
    let mut count = 0u64;
    while !stop.load(Ordering::Relaxed) {
        if stall {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        match tokio::time::timeout(Duration::from_millis(200), events.next()).await {
            Ok(Some(Ok(text))) => {
                if let Some(sent) = sent_at(text.as_bytes()) {
                    count += 1;
                    let _ = hist.record(micros().saturating_sub(sent).max(1));
                }
            }
            Ok(_) => break,
            Err(_) => {}
        }
    }
    (hist, count)
}

/// The send time in a CheckResult line of this load test.
fn sent_at(line: &[u8]) -> Option<u64> {
    let at = line.windows(MARKER.len()).position(|w| w == MARKER)? + MARKER.len();
    let digits = line[at..].iter().take_while(|b| b.is_ascii_digit()).count();
    std::str::from_utf8(&line[at..at + digits])
        .ok()?
        .parse()
        .ok()
}
