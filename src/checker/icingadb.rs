//! Icinga's `icingadb` check (`IcingadbCheck`): how an `IcingaDB` writer and the Icinga DB
//! daemon behind it are doing — the daemon's heartbeat and errors, which instance is
//! responsible, clock drift between Auspex, Redis and the daemon, dumps and syncs that
//! take too long, backlogs — with Icinga's messages, thresholds and performance data.
//! The writer keeps an [`IcingadbReport`] current (once a second); the check reads it.

use serde_json::{json, Value as Json};

/// What the `icingadb` daemon last said about itself (`icingadb:telemetry:heartbeat`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DaemonHeartbeat {
    /// When Redis received it (seconds).
    pub at: f64,
    pub version: String,
    /// The daemon's clock when it sent it, its start, since when an error lasts, when it
    /// last received Auspex's heartbeat, since when it is responsible, since when a
    /// full sync runs and when the last one ended (all seconds; 0: never).
    pub time: f64,
    pub start_time: f64,
    pub error: String,
    pub error_since: f64,
    pub performance_data: String,
    pub last_heartbeat_received: f64,
    pub responsible: bool,
    pub responsible_since: f64,
    pub other_responsible: bool,
    pub sync_ongoing_since: f64,
    pub sync_success_finish: f64,
    pub sync_success_duration: f64,
}

/// One `IcingaDB` writer's state, as its check needs it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct IcingadbReport {
    pub connected: bool,
    /// Redis's clock at the last look (seconds).
    pub redis_now: f64,
    /// A dump running since (0: none); the last dump's end and duration.
    pub dump_since: f64,
    pub lastdump_end: f64,
    pub lastdump_took: f64,
    /// Since when events wait to be written (0: none).
    pub backlog_since: f64,
    pub heartbeat: Option<DaemonHeartbeat>,
    /// The oldest unprocessed entry of the history streams and of the runtime streams
    /// (seconds; 0: none).
    pub history_oldest: f64,
    pub runtime_oldest: f64,
    /// The daemon's per-second item counts by operation (`icingadb:telemetry:stats`)
    /// of the last 15 minutes: (second, operation, items).
    pub daemon_stats: Vec<(f64, String, i64)>,
    /// The writer's own per-second counts of the last 15 minutes: (second, round trips,
    /// configuration rows, state rows, history entries).
    pub written: Vec<(f64, u64, u64, u64, u64)>,
}

/// The check's thresholds (seconds), each optional: `icingadb_full_dump_duration_*`,
/// `icingadb_full_sync_duration_*`, `icingadb_redis_backlog_*`,
/// `icingadb_database_backlog_*`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Thresholds {
    pub dump: (Option<f64>, Option<f64>),
    pub sync: (Option<f64>, Option<f64>),
    pub redis_backlog: (Option<f64>, Option<f64>),
    pub database_backlog: (Option<f64>, Option<f64>),
}

/// A performance data value as the check result shows it.
fn value(
    label: &str,
    v: f64,
    unit: &str,
    warn: Option<f64>,
    crit: Option<f64>,
    min: Option<f64>,
    max: Option<f64>,
) -> Json {
    json!({
        "type": "PerfdataValue",
        "label": label,
        "value": filters::value::json_number(v),
        "counter": false,
        "unit": unit,
        "warn": warn.map(filters::value::json_number),
        "crit": crit.map(filters::value::json_number),
        "min": min.map(filters::value::json_number),
        "max": max.map(filters::value::json_number),
    })
}

/// A duration without thresholds.
fn seconds(label: &str, v: f64) -> Json {
    value(label, v, "seconds", None, None, Some(0.0), None)
}

/// A count without thresholds.
fn count(label: &str, v: f64) -> Json {
    value(label, v, "", None, None, Some(0.0), None)
}

/// The check of one writer at `now`: exit status, output, performance data.
pub fn check(r: &IcingadbReport, t: &Thresholds, now: f64) -> (i64, String, Vec<Json>) {
    use super::format_duration as dur;
    if !r.connected {
        return (
            2,
            "Icinga DB CRITICAL: Not connected to Redis.".into(),
            Vec::new(),
        );
    }
    let Some(hb) = &r.heartbeat else {
        return (
            2,
            "Icinga DB CRITICAL: The Icinga DB daemon seems to have never run. (Missing heartbeat)"
                .into(),
            Vec::new(),
        );
    };
    let (mut i2ok, mut idbok, mut warn, mut crit) =
        (String::new(), String::new(), String::new(), String::new());
    let mut perf = Vec::new();
    let redis_now = r.redis_now;
    let idb_now = hb.time + (redis_now - hb.at);
    let down_for = redis_now - hb.at;
    let down = down_for > 10.0;
    if down {
        crit.push_str(&format!(
            " Last seen {} ago, greater than CRITICAL threshold ({})!",
            dur(down_for),
            dur(10.0)
        ));
    } else {
        idbok.push_str(&format!("\n* Last seen: {} ago", dur(down_for)));
    }
    perf.push(value(
        "icingadb_heartbeat_age",
        down_for,
        "seconds",
        None,
        Some(10.0),
        Some(0.0),
        None,
    ));
    if !hb.error.is_empty() {
        let err_for = idb_now - hb.error_since;
        if err_for > 10.0 {
            crit.push_str(&format!(" ERROR: {}!", hb.error));
        }
        perf.push(value(
            "error_for",
            err_for,
            "seconds",
            None,
            Some(10.0),
            Some(0.0),
            None,
        ));
    }
    if !down {
        let lag_warning = 6.0;
        let lag = (idb_now - hb.last_heartbeat_received).min(600.0);
        if hb.last_heartbeat_received == 0.0 {
            crit.push_str(" Lost Icinga 2 heartbeat!");
        } else if lag > lag_warning {
            warn.push_str(&format!(
                " Icinga 2 heartbeat lag: {}, greater than WARNING threshold ({}).",
                dur(lag),
                dur(lag_warning)
            ));
        }
        perf.push(value(
            "icinga2_heartbeat_age",
            lag,
            "seconds",
            Some(lag_warning),
            None,
            Some(0.0),
            None,
        ));
    }
    if hb.responsible {
        idbok.push_str("\n* Responsible");
    } else if hb.other_responsible {
        idbok.push_str("\n* Not responsible, but another instance is");
    } else {
        crit.push_str(" No instance is responsible!");
    }
    perf.push(value(
        "icingadb_responsible_instances",
        f64::from(u8::from(hb.responsible || hb.other_responsible)),
        "",
        None,
        None,
        Some(0.0),
        Some(1.0),
    ));
    let drift = [
        (now - redis_now).abs(),
        (redis_now - idb_now).abs(),
        (idb_now - now).abs(),
    ]
    .into_iter()
    .fold(0.0, f64::max);
    if drift > 30.0 {
        crit.push_str(&format!(
            " Icinga 2/Redis/Icinga DB clock drift: {}, greater than CRITICAL threshold ({})!",
            dur(drift),
            dur(30.0)
        ));
    } else if drift > 5.0 {
        warn.push_str(&format!(
            " Icinga 2/Redis/Icinga DB clock drift: {}, greater than WARNING threshold ({}).",
            dur(drift),
            dur(5.0)
        ));
    }
    perf.push(value(
        "clock_drift",
        drift,
        "seconds",
        Some(5.0),
        Some(30.0),
        Some(0.0),
        None,
    ));
    let mut judge = |what: &str,
                     took: f64,
                     (w, c): (Option<f64>, Option<f64>),
                     ok: &mut String,
                     ok_text: Option<String>| {
        if c.is_some_and(|c| took > c) {
            crit.push_str(&format!(
                " {what}: {}, greater than CRITICAL threshold ({})!",
                dur(took),
                dur(c.unwrap_or_default())
            ));
        } else if w.is_some_and(|w| took > w) {
            warn.push_str(&format!(
                " {what}: {}, greater than WARNING threshold ({}).",
                dur(took),
                dur(w.unwrap_or_default())
            ));
        } else if let Some(text) = ok_text {
            ok.push_str(&text);
        }
    };
    if r.dump_since > 0.0 {
        let takes = now - r.dump_since;
        judge(
            "Current Icinga 2 full dump already takes",
            takes,
            t.dump,
            &mut i2ok,
            Some(format!("\n* Current full dump running for {}", dur(takes))),
        );
        perf.push(value(
            "icinga2_current_full_dump_duration",
            takes,
            "seconds",
            t.dump.0,
            t.dump.1,
            Some(0.0),
            None,
        ));
    }
    if !down && hb.sync_ongoing_since > 0.0 {
        let takes = idb_now - hb.sync_ongoing_since;
        judge(
            "Current full sync already takes",
            takes,
            t.sync,
            &mut idbok,
            Some(format!("\n* Current full sync running for {}", dur(takes))),
        );
        perf.push(value(
            "icingadb_current_full_sync_duration",
            takes,
            "seconds",
            t.sync.0,
            t.sync.1,
            Some(0.0),
            None,
        ));
    }
    let redis_backlog = if r.backlog_since > 0.0 {
        now - r.backlog_since
    } else {
        0.0
    };
    judge(
        "Icinga 2 Redis query backlog",
        redis_backlog,
        t.redis_backlog,
        &mut i2ok,
        None,
    );
    perf.push(value(
        "icinga2_redis_query_backlog",
        redis_backlog,
        "seconds",
        t.redis_backlog.0,
        t.redis_backlog.1,
        Some(0.0),
        None,
    ));
    if !down {
        let age = |oldest: f64| {
            if oldest > 0.0 {
                redis_now - oldest
            } else {
                0.0
            }
        };
        let history = age(r.history_oldest);
        judge(
            "History backlog",
            history,
            t.database_backlog,
            &mut idbok,
            None,
        );
        perf.push(value(
            "icingadb_history_backlog",
            history,
            "seconds",
            t.database_backlog.0,
            t.database_backlog.1,
            Some(0.0),
            None,
        ));
        let mut runtime = 0.0;
        if hb.responsible && hb.sync_ongoing_since == 0.0 {
            runtime = age(r.runtime_oldest);
            judge(
                "Runtime update backlog",
                runtime,
                t.database_backlog,
                &mut idbok,
                None,
            );
        }
        perf.push(value(
            "icingadb_runtime_update_backlog",
            runtime,
            "seconds",
            t.database_backlog.0,
            t.database_backlog.1,
            Some(0.0),
            None,
        ));
    }
    let dump_ago = now - r.lastdump_end;
    if r.lastdump_end > 0.0 {
        perf.push(seconds("icinga2_last_full_dump_ago", dump_ago));
    }
    if r.lastdump_took > 0.0 {
        perf.push(seconds("icinga2_last_full_dump_duration", r.lastdump_took));
    }
    if r.lastdump_end > 0.0 && r.lastdump_took > 0.0 {
        i2ok.push_str(&format!(
            "\n* Last full dump: {} ago, took {}",
            dur(dump_ago),
            dur(r.lastdump_took)
        ));
    }
    let uptime = idb_now - hb.start_time;
    if !down {
        perf.push(seconds("icingadb_uptime", uptime));
    }
    for item in hb.performance_data.split_whitespace() {
        if let Ok(d) = filters::perfdata::parse(item) {
            let mut v = filters::Value::Dict(d.into()).to_serde();
            v["type"] = json!("PerfdataValue");
            perf.push(v);
        }
    }
    if hb.responsible_since > 0.0 {
        let sign = if hb.responsible { 1.0 } else { -1.0 };
        perf.push(value(
            "icingadb_responsible_for",
            sign * (idb_now - hb.responsible_since),
            "seconds",
            None,
            None,
            None,
            None,
        ));
    }
    let sync_ago = idb_now - hb.sync_success_finish;
    if hb.sync_success_finish > 0.0 {
        perf.push(seconds("icingadb_last_full_sync_ago", sync_ago));
    }
    if hb.sync_success_duration > 0.0 {
        perf.push(seconds(
            "icingadb_last_full_sync_duration",
            hb.sync_success_duration,
        ));
    }
    if hb.sync_success_finish > 0.0 && hb.sync_success_duration > 0.0 {
        idbok.push_str(&format!(
            "\n* Last full sync: {} ago, took {}",
            dur(sync_ago),
            dur(hb.sync_success_duration)
        ));
    }
    let mut ops: Vec<String> = [
        "config_sync",
        "state_sync",
        "history_sync",
        "overdue_sync",
        "history_cleanup",
    ]
    .iter()
    .map(|s| (*s).to_string())
    .collect();
    for (_, op, _) in &r.daemon_stats {
        if !ops.contains(op) {
            ops.push(op.clone());
        }
    }
    ops.sort();
    let windows = [("1min", 60.0), ("5mins", 300.0), ("15mins", 900.0)];
    for op in &ops {
        for (name, span) in windows {
            let items: i64 = r
                .daemon_stats
                .iter()
                .filter(|(at, o, _)| o == op && now - at < span)
                .map(|(_, _, n)| n)
                .sum();
            perf.push(count(&format!("icingadb_{op}_items_{name}"), items as f64));
        }
    }
    let sum = |span: f64, pick: fn(&(f64, u64, u64, u64, u64)) -> u64| -> f64 {
        r.written
            .iter()
            .filter(|w| now - w.0 < span)
            .map(pick)
            .sum::<u64>() as f64
    };
    for (name, span) in windows {
        perf.push(value(
            &format!("icinga2_redis_queries_{name}"),
            sum(span, |w| w.1),
            "",
            None,
            None,
            Some(0.0),
            None,
        ));
    }
    perf.push(count("icinga2_redis_pending_queries", 0.0));
    for (subject, pick) in [
        (
            "config_dump",
            (|w: &(f64, u64, u64, u64, u64)| w.2) as fn(&_) -> u64,
        ),
        ("state_dump", |w| w.3),
        ("history_dump", |w| w.4),
    ] {
        for (name, span) in windows {
            perf.push(value(
                &format!("icinga2_{subject}_items_{name}"),
                sum(span, pick),
                "",
                None,
                None,
                Some(0.0),
                None,
            ));
        }
    }
    let (state, mut text) = if !crit.is_empty() {
        let mut text = format!("Icinga DB CRITICAL:{crit}");
        if !warn.is_empty() {
            text.push_str(&format!("\n\nWARNING:{warn}"));
        }
        (2, text)
    } else if !warn.is_empty() {
        (1, format!("Icinga DB WARNING:{warn}"))
    } else {
        (
            0,
            format!(
                "Icinga DB OK: Uptime: {}. Version: {}.",
                dur(uptime),
                hb.version
            ),
        )
    };
    if !i2ok.is_empty() {
        text.push_str(&format!("\n\nIcinga 2:\n{i2ok}"));
    }
    if !idbok.is_empty() {
        text.push_str(&format!("\n\nIcinga DB:\n{idbok}"));
    }
    (state, text, perf)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn healthy(now: f64) -> IcingadbReport {
        IcingadbReport {
            connected: true,
            redis_now: now,
            lastdump_end: now - 60.0,
            lastdump_took: 0.2,
            heartbeat: Some(DaemonHeartbeat {
                at: now - 1.0,
                version: "v1.1.0".into(),
                time: now - 1.0,
                start_time: now - 3600.0,
                last_heartbeat_received: now - 2.0,
                responsible: true,
                responsible_since: now - 3000.0,
                sync_success_finish: now - 50.0,
                sync_success_duration: 0.1,
                ..DaemonHeartbeat::default()
            }),
            ..IcingadbReport::default()
        }
    }

    #[test]
    fn states_and_messages() {
        let now = 1_800_000_000.0;
        let t = Thresholds {
            database_backlog: (Some(300.0), Some(900.0)),
            ..Thresholds::default()
        };
        let (state, text, perf) = check(&healthy(now), &t, now);
        assert_eq!(state, 0, "{text}");
        assert!(
            text.starts_with("Icinga DB OK: Uptime: 1 hour. Version: v1.1.0."),
            "{text}"
        );
        assert!(text.contains("\n* Responsible"), "{text}");
        assert!(perf
            .iter()
            .any(|p| p["label"] == "icingadb_config_sync_items_1min"));

        let mut late = healthy(now);
        late.history_oldest = now - 400.0;
        let (state, text, _) = check(&late, &t, now);
        assert_eq!(state, 1, "{text}");
        assert!(text.contains("History backlog: 6 minutes and 40 seconds, greater than WARNING threshold (5 minutes)."), "{text}");

        let mut gone = healthy(now);
        if let Some(hb) = gone.heartbeat.as_mut() {
            hb.at = now - 60.0;
        }
        let (state, text, _) = check(&gone, &t, now);
        assert_eq!(state, 2, "{text}");
        assert!(
            text.starts_with("Icinga DB CRITICAL: Last seen 1 minute ago"),
            "{text}"
        );

        let never = IcingadbReport {
            connected: true,
            ..IcingadbReport::default()
        };
        assert_eq!(check(&never, &t, now).0, 2);
        assert_eq!(
            check(&IcingadbReport::default(), &t, now).1,
            "Icinga DB CRITICAL: Not connected to Redis."
        );
    }
}
