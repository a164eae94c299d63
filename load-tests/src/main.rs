//! `auspex-load`: drives an Icinga 2 compatible API (Auspex, or Icinga 2 itself) for a
//! fixed time, then prints a table and writes the figures as JSON.
//!
//! Scenarios (`--scenario`):
//! - `requests` (default): keep-alive HTTPS requests over N connections.
//! - `fanout`: N event subscribers (`POST /v1/events`, Icinga's NDJSON) while results are
//!   submitted at a fixed rate or as fast as possible; delivered events/s, end-to-end
//!   latency (submit → line read by the subscriber) and losses. See [`fanout`].
//! - `bulk`: acknowledge / schedule a downtime on every service a filter selects, and
//!   undo it, in rounds; time per request. See [`bulk`].
//! - `mixed`: results, object queries, bulk acknowledgements and event streams at once.
//!   See [`mixed`].
//!
//! Traffic goes to loopback addresses only, and every run ends by itself.

mod bulk;
mod fanout;
mod mixed;
mod ws;

use std::net::ToSocketAddrs;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Parser;
use hdrhistogram::Histogram;
use serde_json::json;

#[derive(Parser, Clone)]
#[command(
    name = "auspex-load",
    version,
    about = "Drives an Icinga 2 compatible API on this machine and reports rates and latencies"
)]
struct Args {
    /// Base URL of the API, e.g. https://127.0.0.1:5665.
    #[arg(long, default_value = "https://127.0.0.1:5665")]
    url: String,
    #[arg(long, default_value = "root")]
    user: String,
    #[arg(long, env = "AUSPEX_LOAD_PASSWORD")]
    password: String,
    /// Request method.
    #[arg(long, default_value = "GET")]
    method: String,
    /// Request path, e.g. /v1/status/CIB.
    #[arg(long, default_value = "/v1/status/CIB")]
    path: String,
    /// JSON body.
    #[arg(long)]
    body: Option<String>,
    /// Connection counts to run, one after another (e.g. 1,16,64).
    #[arg(long, value_delimiter = ',', default_value = "1,16,64")]
    connections: Vec<usize>,
    /// Seconds per connection count.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Where to write the JSON results.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
    /// A label for the table and the JSON (e.g. "auspex" or "icinga2").
    #[arg(long, default_value = "target")]
    label: String,
    /// `requests`, `fanout`, `bulk` or `mixed`.
    #[arg(long, default_value = "requests")]
    scenario: String,
    /// fanout: subscriber counts to run, one after another (e.g. 1,10,100,1000).
    #[arg(long, value_delimiter = ',', default_value = "1,10,100")]
    subscribers: Vec<usize>,
    /// fanout: results submitted per second in total (0: as fast as possible).
    #[arg(long, default_value_t = 0)]
    rate: u64,
    /// fanout: the services results go to, as `host!service` with `{h}` and `{s}` counting
    /// through `--hosts` and `--services`.
    #[arg(long, default_value = "bench-host-{h}!{s}")]
    service: String,
    #[arg(long, default_value_t = 1000)]
    hosts: usize,
    #[arg(long, default_value_t = 10)]
    services: usize,
    /// fanout: `ndjson` (Icinga's stream), `sse` (Server-Sent Events) or `ws` (WebSocket);
    /// the last two are Auspex's.
    #[arg(long, default_value = "ndjson")]
    format: String,
    /// fanout: subscribers that never read (slow-reader test: the server's memory must
    /// stay bounded; give `--server-pid` to have its RSS sampled).
    #[arg(long)]
    stall: bool,
    /// fanout: the server's process id (same machine): its RSS is sampled before the
    /// subscribers connect, halfway through and at the end of submitting.
    #[arg(long)]
    server_pid: Option<u32>,
    /// fanout with `--server-pid`: fail when the server's RSS grows by more than this many
    /// MB in the second half of the run (memory must stop growing once every stalled
    /// stream's buffers are full).
    #[arg(long)]
    max_rss_growth_mb: Option<u64>,
    /// fanout: seconds to wait for the last events after submitting stops.
    #[arg(long, default_value_t = 3)]
    drain: u64,
    /// fanout: the base URLs subscribers connect to, in turn (the nodes of an Auspex
    /// cluster); `--url` when not given. Results are submitted to `--url`.
    #[arg(long, value_delimiter = ',')]
    subscribe_url: Vec<String>,
    /// fanout: each subscriber takes the events of one host only (subscriber `i` filters
    /// `event.host == <host i mod --hosts>`), as a per-host dashboard does; each must get
    /// exactly the accepted results of its host.
    #[arg(long)]
    per_host: bool,
    /// fanout: the event types subscribers take (comma-separated). Without
    /// `CheckResult` they expect nothing: the run then shows what idle subscribers cost
    /// the server (`--server-pid` reports its CPU time).
    #[arg(long, value_delimiter = ',', default_value = "CheckResult")]
    types: Vec<String>,
    /// bulk: the services the actions select (default: the harness's own bench
    /// services). Their states are restored at the end.
    #[arg(long, default_value = "match(\"bench-host-*\", host.name)")]
    filter: String,
    /// bulk: rounds of the four actions.
    #[arg(long, default_value_t = 9)]
    rounds: usize,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    ensure_loopback(&args.url)?;
    for url in &args.subscribe_url {
        ensure_loopback(url)?;
    }
    check_credentials(&args).await?;
    if args.scenario == "fanout" {
        return fanout::main(&args).await;
    }
    if args.scenario == "bulk" {
        return bulk::main(&args).await;
    }
    if args.scenario == "mixed" {
        return mixed::main(&args).await;
    }
    if args.scenario != "requests" {
        bail!(
            "unknown --scenario '{}': use requests, fanout, bulk or mixed",
            args.scenario
        );
    }
    let mut rows = Vec::new();
    println!(
        "{:<10} {:>6} {:>10} {:>9} {:>9} {:>9} {:>9} {:>7}",
        "target", "conns", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "errors"
    );
    for &n in &args.connections {
        let r = run(&args, n).await?;
        println!(
            "{:<10} {:>6} {:>10.0} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>7}",
            args.label, n, r.rate, r.p50, r.p90, r.p99, r.max, r.errors
        );
        rows.push(json!({
            "label": args.label, "method": args.method, "path": args.path, "connections": n,
            "seconds": args.seconds, "requests": r.requests, "errors": r.errors,
            "requests_per_second": r.rate, "p50_ms": r.p50, "p90_ms": r.p90,
            "p99_ms": r.p99, "max_ms": r.max,
        }));
    }
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&rows)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// A client with one pooled connection, accepting the target's (self-signed) certificate.
fn client(timeout: Option<Duration>) -> Result<reqwest::Client> {
    let mut b = reqwest::Client::builder()
        .use_rustls_tls()
        .danger_accept_invalid_certs(true)
        .pool_max_idle_per_host(1);
    if let Some(t) = timeout {
        b = b.timeout(t);
    }
    Ok(b.build()?)
}

/// Fails early, with a clear message, when the target is not reachable or refuses the
/// credentials (instead of a run where every request counts as an error).
async fn check_credentials(args: &Args) -> Result<()> {
    let url = format!("{}/v1", args.url.trim_end_matches('/'));
    let res = client(Some(Duration::from_secs(10)))?
        .get(&url)
        .basic_auth(&args.user, Some(&args.password))
        .header("Accept", "application/json")
        .send()
        .await
        .with_context(|| format!("cannot reach {url}"))?;
    match res.status().as_u16() {
        200..=299 => Ok(()),
        401 => bail!(
            "authentication failed at {url} for user '{}': check --user and --password (or AUSPEX_LOAD_PASSWORD)",
            args.user
        ),
        429 => bail!("{url} has blocked this address after failed logins (HTTP 429); retry later or unblock it"),
        code => bail!("{url} answered HTTP {code} to the credentials check"),
    }
}

/// Prints a progress line (on standard error) every second until `done`.
async fn progress(label: String, seconds: u64, done: impl Fn() -> u64) {
    let started = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let elapsed = started.elapsed().as_secs().min(seconds);
        eprint!("\r{label}: {elapsed}/{seconds} s, {} requests   ", done());
        if elapsed >= seconds {
            eprintln!();
            return;
        }
    }
}

/// Refuses targets that are not loopback addresses.
fn ensure_loopback(url: &str) -> Result<()> {
    let u = url::Url::parse(url).context("parsing --url")?;
    let host = u.host_str().context("--url has no host")?;
    let port = u.port_or_known_default().unwrap_or(5665);
    let addrs: Vec<_> = (host, port).to_socket_addrs()?.collect();
    if addrs.is_empty() || !addrs.iter().all(|a| a.ip().is_loopback()) {
        bail!("load tests only target loopback addresses; {host} is not one");
    }
    Ok(())
}

struct Outcome {
    requests: u64,
    errors: u64,
    rate: f64,
    p50: f64,
    p90: f64,
    p99: f64,
    max: f64,
}

async fn run(args: &Args, connections: usize) -> Result<Outcome> {
    let stop = Arc::new(AtomicBool::new(false));
    let method = reqwest::Method::from_bytes(args.method.as_bytes())?;
    let url = format!("{}{}", args.url.trim_end_matches('/'), args.path);
    let mut tasks = Vec::new();
    let started = Instant::now();
    let count = Arc::new(std::sync::atomic::AtomicU64::new(0));
    for _ in 0..connections {
        // One client per task, one pooled connection each: N keep-alive connections.
        let client = client(Some(Duration::from_secs(30)))?;
        let (stop, method, url, count) = (stop.clone(), method.clone(), url.clone(), count.clone());
        let (user, password, body) = (args.user.clone(), args.password.clone(), args.body.clone());
        tasks.push(tokio::spawn(async move {
            let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("bounds");
            let mut errors = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                let mut req = client
                    .request(method.clone(), &url)
                    .basic_auth(&user, Some(&password))
                    .header("Accept", "application/json");
                if let Some(b) = &body {
                    req = req
                        .header("Content-Type", "application/json")
                        .body(b.clone());
                }
                count.fetch_add(1, Ordering::Relaxed);
                match req.send().await {
                    Ok(res) if res.status().is_success() => {
                        let _ = res.bytes().await;
                        let _ = hist.record(t.elapsed().as_micros().max(1) as u64);
                    }
                    Ok(res) => {
                        let _ = res.bytes().await;
                        errors += 1;
                    }
                    Err(_) => errors += 1,
                }
            }
            (hist, errors)
        }));
    }
    let shown = count.clone();
    tokio::join!(
        tokio::time::sleep(Duration::from_secs(args.seconds)),
        progress(
            format!("{} connections", connections),
            args.seconds,
            move || shown.load(Ordering::Relaxed)
        ),
    );
    stop.store(true, Ordering::Relaxed);
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let mut errors = 0;
    for t in tasks {
        let (h, e) = t.await?;
        hist.add(h)?;
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let ms = |q: f64| hist.value_at_quantile(q) as f64 / 1000.0;
    Ok(Outcome {
        requests: hist.len(),
        errors,
        rate: hist.len() as f64 / elapsed,
        p50: ms(0.5),
        p90: ms(0.9),
        p99: ms(0.99),
        max: hist.max() as f64 / 1000.0,
    })
}
