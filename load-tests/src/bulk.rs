//! `--scenario bulk`: bulk actions on every service a filter selects (`--filter`,
//! default the harness's own `bench-host-*` services): puts them into a problem state,
//! then runs `--rounds` × (acknowledge-problem, remove-acknowledgement,
//! schedule-downtime, remove-downtime), one request each, and reports per action the
//! targets and the request time (median, fastest, slowest). Each request is answered
//! only once every change is durable, so the time is the whole cost. At the end every
//! service gets its state from before the run back (a service without a result before
//! gets OK).

use std::time::Instant;

use std::collections::BTreeMap;

use anyhow::{bail, Result};
use serde_json::{json, Value as Json};

use crate::Args;

async fn post(c: &reqwest::Client, args: &Args, action: &str, body: &Json) -> Result<(f64, usize)> {
    let started = Instant::now();
    let res = c
        .post(format!("{}/v1/actions/{action}", args.url))
        .basic_auth(&args.user, Some(&args.password))
        .header("Accept", "application/json")
        .header("Content-Type", "application/json")
        .body(serde_json::to_vec(body)?)
        .send()
        .await?;
    let status = res.status();
    let body: Json = serde_json::from_slice(&res.bytes().await?)?;
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    if !status.is_success() {
        bail!("{action}: HTTP {status}: {body}");
    }
    Ok((ms, body["results"].as_array().map_or(0, Vec::len)))
}

/// The selected services by state before the run (`None`: no result yet).
async fn states_before(
    c: &reqwest::Client,
    args: &Args,
) -> Result<BTreeMap<Option<u64>, Vec<String>>> {
    let res = c
        .post(format!("{}/v1/objects/services", args.url))
        .basic_auth(&args.user, Some(&args.password))
        .header("Accept", "application/json")
        .header("X-HTTP-Method-Override", "GET")
        .header("Content-Type", "application/json")
        .body(serde_json::to_vec(
            &json!({"filter": args.filter, "attrs": ["state", "last_check_result"]}),
        )?)
        .send()
        .await?;
    let status = res.status();
    let body: Json = serde_json::from_slice(&res.bytes().await?)?;
    if !status.is_success() {
        bail!("querying the services: HTTP {status}: {body}");
    }
    let mut by_state: BTreeMap<Option<u64>, Vec<String>> = BTreeMap::new();
    for item in body["results"].as_array().into_iter().flatten() {
        let attrs = &item["attrs"];
        let state = (!attrs["last_check_result"].is_null())
            .then(|| attrs["state"].as_f64().map(|s| s as u64))
            .flatten();
        if let Some(name) = item["name"].as_str() {
            by_state.entry(state).or_default().push(name.to_string());
        }
    }
    Ok(by_state)
}

/// Gives every service its state from before the run back.
async fn restore(
    c: &reqwest::Client,
    args: &Args,
    before: BTreeMap<Option<u64>, Vec<String>>,
) -> Result<()> {
    for (state, names) in before {
        let body = json!({
            "type": "Service",
            "filter": "service.__name in names",
            "filter_vars": {"names": names},
            "exit_status": state.unwrap_or(0),
            "plugin_output": "State restored after the bulk benchmark.",
        });
        post(c, args, "process-check-result", &body).await?;
    }
    Ok(())
}

pub async fn main(args: &Args) -> Result<()> {
    let c = crate::client(Some(std::time::Duration::from_secs(120)))?;
    let before = states_before(&c, args).await?;
    let selected: usize = before.values().map(Vec::len).sum();
    if selected == 0 {
        bail!(
            "--filter '{}' selects no service (create the bench services first, or give another filter)",
            args.filter
        );
    }
    eprintln!("bulk: {selected} services; their states are restored at the end");
    let select = json!({"type": "Service", "filter": args.filter});
    let with = |extra: Json| {
        let mut b = select.clone();
        if let (Json::Object(m), Json::Object(e)) = (&mut b, extra) {
            m.extend(e);
        }
        b
    };
    let (_, targets) = post(
        &c,
        args,
        "process-check-result",
        &with(json!({"exit_status": 2, "plugin_output": "bulk bench"})),
    )
    .await?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs_f64();
    let steps = [
        (
            "acknowledge-problem",
            with(json!({"author": "bench", "comment": "bulk"})),
        ),
        ("remove-acknowledgement", select.clone()),
        (
            "schedule-downtime",
            with(
                json!({"author": "bench", "comment": "bulk", "start_time": now, "end_time": now + 86400.0}),
            ),
        ),
        ("remove-downtime", select.clone()),
    ];
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); steps.len()];
    let rounds = run_rounds(&c, args, &steps, targets, &mut times).await;
    restore(&c, args, before).await?;
    rounds?;
    println!(
        "{:<10} {:<24} {:>8} {:>9} {:>9} {:>9}",
        "target", "action", "targets", "p50 ms", "min ms", "max ms"
    );
    let mut rows = Vec::new();
    for ((action, _), mut t) in steps.iter().zip(times) {
        t.sort_by(f64::total_cmp);
        let (p50, min, max) = (t[t.len() / 2], t[0], t[t.len() - 1]);
        println!(
            "{:<10} {:<24} {:>8} {:>9.1} {:>9.1} {:>9.1}",
            args.label, action, targets, p50, min, max
        );
        rows.push(
            json!({"label": args.label, "action": action, "targets": targets,
                         "rounds": args.rounds, "p50_ms": p50, "min_ms": min, "max_ms": max}),
        );
    }
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&rows)?)?;
    }
    Ok(())
}

async fn run_rounds(
    c: &reqwest::Client,
    args: &Args,
    steps: &[(&str, Json)],
    targets: usize,
    times: &mut [Vec<f64>],
) -> Result<()> {
    for round in 0..args.rounds {
        eprint!("\rbulk: round {}/{}   ", round + 1, args.rounds);
        for (i, (action, body)) in steps.iter().enumerate() {
            let (ms, n) = post(c, args, action, body).await?;
            if n != targets {
                bail!("{action}: {n} result items for {targets} targets");
            }
            times[i].push(ms);
        }
    }
    eprintln!();
    Ok(())
}
