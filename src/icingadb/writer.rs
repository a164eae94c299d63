//! One `IcingaDB` writer: its connection to Redis, the dump, the heartbeat, and the
//! runtime updates and history it writes for every event.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use filters::Value;
use futures_util::FutureExt;
use redis::aio::MultiplexedConnection;
use serde_json::{json, Value as Json};
use tokio_util::sync::CancellationToken;

use super::config::{self, type_key, Row, GLOBAL_KEYS, TYPES};
use super::history::{self, Entry};
use super::pack::{encode, stream_value};
use super::{state, Context, Settings, WriterStatus};
use crate::bus::{Event, EventKind};
use crate::checker::icingadb::{DaemonHeartbeat, IcingadbReport};
use crate::events::{Cursor, Item};
use crate::objects::{Object, Registry};

/// The longest pause between attempts to reach Redis.
const MAX_PAUSE: Duration = Duration::from_secs(30);
/// The `MAXLEN ~` of the runtime streams, as Icinga trims them.
const RUNTIME_MAXLEN: &str = "1000000";
/// Field pairs per `HSET` in a dump.
const CHUNK: usize = 500;
/// Events written in one round trip at most.
const BATCH: usize = 1000;

/// The rows the writer has written for an object (relations too), so that a change or
/// removal deletes the rows that are gone.
type Written = HashMap<(&'static str, String), Vec<(String, String, bool)>>;

/// Runs one writer until `stop`.
pub async fn run(
    ctx: Context,
    name: String,
    settings: Settings,
    status: Arc<WriterStatus>,
    stop: CancellationToken,
) {
    let mut cursor = Cursor::live(ctx.bus.clone(), ctx.store.clone());
    status.position.store(cursor.position(), Ordering::Relaxed);
    let mut w = Writer {
        ctx,
        settings,
        status,
        written: HashMap::new(),
        ack_set: HashMap::new(),
        flapping_since: HashMap::new(),
        touched: HashMap::new(),
        pending: VecDeque::new(),
        name,
        report: IcingadbReport::default(),
        stats_position: "0-0".into(),
    };
    let mut failures = 0u32;
    loop {
        let connected = tokio::select! {
            c = w.connect() => c,
            () = stop.cancelled() => return,
        };
        let outcome = match connected {
            Ok(mut conn) => {
                w.status.connected.store(true, Ordering::Relaxed);
                match w.dump(&mut conn).await {
                    Ok(()) => {
                        failures = 0;
                        w.follow(&mut conn, &mut cursor, &stop).await
                    }
                    Err(e) => Err(e),
                }
            }
            Err(e) => Err(e),
        };
        w.status.connected.store(false, Ordering::Relaxed);
        w.report.connected = false;
        w.report.dump_since = 0.0;
        w.publish_report();
        match outcome {
            Ok(()) => return,
            Err(e) => {
                tracing::warn!(
                    host = %w.settings.host,
                    port = w.settings.port,
                    "IcingaDB: Redis is not reachable or failed ({e}); retrying."
                );
            }
        }
        let pause = Duration::from_secs(1 << failures.min(5)).min(MAX_PAUSE);
        failures += 1;
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            () = stop.cancelled() => return,
        }
    }
}

struct Writer {
    ctx: Context,
    settings: Settings,
    status: Arc<WriterStatus>,
    written: Written,
    /// When the acknowledgement of each acknowledged object was set, and when each
    /// flapping object began to flap (the history of their end names the start).
    ack_set: HashMap<String, f64>,
    flapping_since: HashMap<String, f64>,
    /// The hosts and services a batch of events changed: their state is written once
    /// per batch (with the runtime update when any event asked for it), and their next
    /// update when a result or change asked for it.
    touched: HashMap<String, (Arc<Object>, bool, bool)>,
    /// Events read but not yet written (kept across a reconnection).
    pending: VecDeque<Arc<Event>>,
    /// The `IcingaDB` object's name, and what its `icingadb` check reports.
    name: String,
    report: IcingadbReport,
    /// Where the reading of the daemon's `icingadb:telemetry:stats` stands.
    stats_position: String,
}

impl Writer {
    async fn connect(&self) -> redis::RedisResult<MultiplexedConnection> {
        let s = &self.settings;
        let addr = if !s.path.is_empty() {
            redis::ConnectionAddr::Unix(s.path.clone().into())
        } else if let Some(tls) = &s.tls {
            redis::ConnectionAddr::TcpTls {
                host: s.host.clone(),
                port: s.port,
                insecure: tls.insecure_noverify,
                tls_params: None,
            }
        } else {
            redis::ConnectionAddr::Tcp(s.host.clone(), s.port)
        };
        let info = redis::ConnectionInfo {
            addr,
            redis: redis::RedisConnectionInfo {
                db: s.db_index,
                username: None,
                password: (!s.password.is_empty()).then(|| s.password.clone()),
                protocol: redis::ProtocolVersion::RESP2,
            },
        };
        let client = match &s.tls {
            Some(tls)
                if !s.path.is_empty() || tls.ca_path.is_empty() && tls.cert_path.is_empty() =>
            {
                redis::Client::open(info)?
            }
            Some(tls) => {
                let _ = rustls::crypto::ring::default_provider().install_default();
                let read = |p: &str| std::fs::read(p).map_err(redis::RedisError::from);
                let client_tls = if tls.cert_path.is_empty() {
                    None
                } else {
                    Some(redis::ClientTlsConfig {
                        client_cert: read(&tls.cert_path)?,
                        client_key: read(&tls.key_path)?,
                    })
                };
                let root_cert = if tls.ca_path.is_empty() {
                    None
                } else {
                    Some(read(&tls.ca_path)?)
                };
                redis::Client::build_with_tls(
                    info,
                    redis::TlsCertificates {
                        client_tls,
                        root_cert,
                    },
                )?
            }
            None => redis::Client::open(info)?,
        };
        let timeout = Duration::from_secs_f64(s.connect_timeout);
        match tokio::time::timeout(timeout, client.get_multiplexed_async_connection()).await {
            Ok(c) => c,
            Err(_) => Err(redis::RedisError::from(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "connection timed out",
            ))),
        }
    }

    /// The context rows are built in, over `reg`.
    fn cx<'a>(&'a self, reg: &'a Registry) -> config::Context<'a> {
        let node = self.ctx.node_name.as_str();
        config::Context {
            environment: &self.ctx.environment,
            registry: reg,
            local_zone: node,
            local_endpoint: reg.get("Endpoint", node).map(|_| node),
            now: self.ctx.clock.now(),
        }
    }

    /// The initial dump, as Icinga writes it: the schema version, `icinga:dump` marked
    /// in progress, every type's rows (only changed ones of the object hashes), each
    /// key reported done, the state of every host and service, their next updates.
    async fn dump(&mut self, conn: &mut MultiplexedConnection) -> redis::RedisResult<()> {
        let started = Instant::now();
        tracing::info!("IcingaDB: Starting initial config/status dump");
        redis::cmd("XADD")
            .arg(&["icinga:schema", "MAXLEN", "1", "*", "version", "5"])
            .query_async::<()>(conn)
            .await?;
        self.report.dump_since = self.ctx.clock.now();
        self.heartbeat(conn, true).await?;
        let mut p = redis::pipe();
        p.cmd("XADD")
            .arg(&[
                "icinga:dump",
                "MAXLEN",
                "1",
                "*",
                "key",
                "*",
                "state",
                "wip",
            ])
            .ignore();
        p.cmd("DEL")
            .arg(&GLOBAL_KEYS)
            .arg(&["icinga:nextupdate:host", "icinga:nextupdate:service"])
            .ignore();
        p.query_async::<()>(conn).await?;
        let reg = self.ctx.objects.current();
        let mut written = Written::new();
        let mut seen = BTreeSet::new();
        for t in TYPES {
            let (ours, rest, zadds) = self.type_rows(&reg, t, &mut seen, &mut written);
            let mut p = redis::pipe();
            p.cmd("DEL").arg(config::overwrite_keys(t)).ignore();
            for (key, entries) in &rest {
                for chunk in entries.chunks(CHUNK) {
                    let cmd = p.cmd("HSET").arg(key);
                    for (id, value) in chunk {
                        cmd.arg(id).arg(value);
                    }
                    cmd.ignore();
                }
            }
            for (key, entries) in &zadds {
                for chunk in entries.chunks(CHUNK) {
                    let cmd = p.cmd("ZADD").arg(key);
                    for (score, id) in chunk {
                        cmd.arg(*score).arg(id);
                    }
                    cmd.ignore();
                }
            }
            p.query_async::<()>(conn).await?;
            self.sync_objects(conn, t, &ours).await?;
            let mut p = redis::pipe();
            for key in config::dump_signal_keys(t) {
                p.cmd("XADD")
                    .arg(&["icinga:dump", "*", "key", &key, "state", "done"])
                    .ignore();
            }
            p.query_async::<()>(conn).await?;
        }
        let mut p = redis::pipe();
        for key in GLOBAL_KEYS.iter().chain(&["*"]) {
            p.cmd("XADD")
                .arg(&["icinga:dump", "*", "key", key, "state", "done"])
                .ignore();
        }
        p.query_async::<()>(conn).await?;
        self.written = written;
        // What the history of an acknowledgement's or a flapping's end will name.
        for o in reg.objects("Host").chain(reg.objects("Service")) {
            let Some(rt) = o.runtime.as_ref().map(|r| r.get()) else {
                continue;
            };
            if rt.acknowledged() {
                self.ack_set
                    .insert(o.name.to_string(), rt.acknowledgement_last_change);
            }
            if rt.flapping {
                self.flapping_since
                    .insert(o.name.to_string(), rt.flapping_last_change);
            }
        }
        let took = started.elapsed().as_secs_f64();
        self.report.dump_since = 0.0;
        self.report.lastdump_took = took;
        self.report.lastdump_end = self.ctx.clock.now();
        *self
            .status
            .lastdump_took
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = took;
        *self
            .status
            .lastdump_end
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = self.ctx.clock.now();
        self.heartbeat(conn, false).await?;
        tracing::info!("IcingaDB: Initial config/status dump finished in {took:.3} seconds.");
        Ok(())
    }

    /// A type's rows for the dump: the object hash's rows with their checksums, the
    /// other hashes' rows, the next updates.
    #[allow(clippy::type_complexity)]
    fn type_rows(
        &self,
        reg: &Registry,
        t: &'static str,
        seen: &mut BTreeSet<String>,
        written: &mut Written,
    ) -> (
        BTreeMap<String, (String, String)>,
        BTreeMap<String, Vec<(String, String)>>,
        BTreeMap<&'static str, Vec<(f64, String)>>,
    ) {
        let main = format!("icinga:{}", type_key(t));
        let mut ours = BTreeMap::new();
        let mut rest: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
        let mut zadds: BTreeMap<&'static str, Vec<(f64, String)>> = BTreeMap::new();
        {
            let cx = self.cx(reg);
            for o in reg.objects(t) {
                let rows = cx.rows(o, Some(seen));
                let mut refs = Vec::with_capacity(rows.len());
                for row in rows {
                    let value = encode(&Json::Object(row.data));
                    let checksum = row.checksum.map(|c| encode(&json!({ "checksum": c })));
                    if row.key == main {
                        ours.insert(row.id.clone(), (value, checksum.unwrap_or_default()));
                        refs.push((row.key, row.id, true));
                        continue;
                    }
                    if !GLOBAL_KEYS.contains(&row.key.as_str()) {
                        refs.push((row.key.clone(), row.id.clone(), checksum.is_some()));
                    }
                    if let Some(c) = checksum {
                        rest.entry(checksum_key(&row.key))
                            .or_default()
                            .push((row.id.clone(), c));
                    }
                    rest.entry(row.key).or_default().push((row.id, value));
                }
                if let Some(st) = state::serialize(&cx, o) {
                    let key = format!("{main}:state");
                    let id = cx.id(&o.name);
                    rest.entry(checksum_key(&key))
                        .or_default()
                        .push((id.clone(), state::checksum_value(&st)));
                    rest.entry(key)
                        .or_default()
                        .push((id.clone(), encode(&Json::Object(st.clone()))));
                    if o.flag("enable_active_checks", true) {
                        let next = st.get("next_update").and_then(Json::as_f64).unwrap_or(0.0);
                        zadds
                            .entry(next_update_key(t))
                            .or_default()
                            .push((next / 1000.0, id));
                    }
                }
                written.insert((t, o.name.to_string()), refs);
            }
        }
        (ours, rest, zadds)
    }

    /// Writes the object hash's rows that differ from what Redis holds (by checksum) and
    /// deletes those Redis holds for objects that are gone.
    async fn sync_objects(
        &self,
        conn: &mut MultiplexedConnection,
        t: &str,
        ours: &BTreeMap<String, (String, String)>,
    ) -> redis::RedisResult<()> {
        let key = format!("icinga:{}", type_key(t));
        let sums_key = checksum_key(&key);
        let theirs: HashMap<String, String> = redis::cmd("HGETALL")
            .arg(&sums_key)
            .query_async(conn)
            .await?;
        let changed: Vec<(&String, &(String, String))> = ours
            .iter()
            .filter(|(id, (_, sum))| theirs.get(*id) != Some(sum))
            .collect();
        let gone: Vec<&String> = theirs.keys().filter(|id| !ours.contains_key(*id)).collect();
        let mut p = redis::pipe();
        for chunk in changed.chunks(CHUNK) {
            let mut objects = redis::cmd("HSET");
            objects.arg(&key);
            let mut sums = redis::cmd("HSET");
            sums.arg(&sums_key);
            for (id, (value, sum)) in chunk {
                objects.arg(*id).arg(value);
                sums.arg(*id).arg(sum);
            }
            p.add_command(sums).ignore();
            p.add_command(objects).ignore();
        }
        for chunk in gone.chunks(CHUNK) {
            p.cmd("HDEL").arg(&sums_key).arg(chunk).ignore();
            p.cmd("HDEL").arg(&key).arg(chunk).ignore();
        }
        p.query_async::<()>(conn).await
    }

    /// Follows the events until `stop` (`Ok`) or a Redis failure (`Err`), with the
    /// heartbeat every second.
    async fn follow(
        &mut self,
        conn: &mut MultiplexedConnection,
        cursor: &mut Cursor,
        stop: &CancellationToken,
    ) -> redis::RedisResult<()> {
        let mut beat = tokio::time::interval(Duration::from_secs(1));
        beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            if !self.pending.is_empty() {
                // Everything waiting goes in one round trip (kept pending until written).
                let reg = self.ctx.objects.current();
                let events: Vec<Arc<Event>> = self.pending.iter().cloned().collect();
                let mut p = redis::pipe();
                for event in &events {
                    self.add(&mut p, &reg, event);
                }
                for (_, (o, full, next)) in std::mem::take(&mut self.touched) {
                    self.state(&mut p, &reg, &o, full);
                    if next {
                        self.next_update(&mut p, &o);
                    }
                }
                let queries = p.cmd_iter().count();
                p.query_async::<()>(conn).await?;
                self.count_written(queries as u64, &events);
                self.pending.clear();
                if let Some(last) = events.last() {
                    self.status.position.store(last.id, Ordering::Relaxed);
                }
                self.status
                    .written
                    .fetch_add(events.len() as u64, Ordering::Relaxed);
                continue;
            }
            let mut lost = 0;
            tokio::select! {
                _ = beat.tick() => {
                    self.heartbeat(conn, false).await?;
                    self.telemetry(conn).await?;
                }
                item = cursor.next() => {
                    let mut item = item;
                    loop {
                        match item {
                            None => return Ok(()),
                            Some(Item::Event(e)) => self.pending.push_back(e),
                            Some(Item::Lost { count, .. }) => lost += count,
                        }
                        if self.pending.len() >= BATCH {
                            break;
                        }
                        match cursor.next().now_or_never() {
                            Some(next) => item = next,
                            None => break,
                        }
                    }
                },
                () = stop.cancelled() => return Ok(()),
            }
            if lost > 0 {
                tracing::warn!(
                    lost,
                    "IcingaDB fell behind the journal's retention: {lost} events lost; dumping again."
                );
                self.dump(conn).await?;
            }
        }
    }

    /// Looks at Redis and at the `icingadb` daemon's telemetry for the `icingadb` check:
    /// Redis's clock, the daemon's heartbeat, the oldest entries of the streams it has
    /// not processed, its per-second statistics.
    async fn telemetry(&mut self, conn: &mut MultiplexedConnection) -> redis::RedisResult<()> {
        let history: Vec<String> = [
            "acknowledgement",
            "comment",
            "downtime",
            "flapping",
            "notification",
            "state",
        ]
        .iter()
        .map(|k| format!("icinga:history:stream:{k}"))
        .collect();
        let mut p = redis::pipe();
        p.cmd("TIME");
        p.cmd("XREVRANGE")
            .arg(&["icingadb:telemetry:heartbeat", "+", "-", "COUNT", "1"]);
        p.cmd("XREAD").arg(&[
            "COUNT",
            "1",
            "STREAMS",
            "icinga:runtime",
            "icinga:runtime:state",
            "0-0",
            "0-0",
        ]);
        let cmd = p.cmd("XREAD").arg(&["COUNT", "1", "STREAMS"]);
        cmd.arg(&history);
        for _ in &history {
            cmd.arg("0-0");
        }
        p.cmd("XREAD")
            .arg(&["STREAMS", "icingadb:telemetry:stats", &self.stats_position]);
        type Read = Option<redis::streams::StreamReadReply>;
        let (time, heartbeat, runtime, history, stats): (
            (u64, u64),
            redis::streams::StreamRangeReply,
            Read,
            Read,
            Read,
        ) = p.query_async(conn).await?;
        let r = &mut self.report;
        r.connected = true;
        r.redis_now = time.0 as f64 + time.1 as f64 / 1e6;
        r.heartbeat = heartbeat.ids.first().map(daemon_heartbeat);
        let oldest = |reply: Option<redis::streams::StreamReadReply>| {
            reply
                .into_iter()
                .flat_map(|r| r.keys)
                .filter_map(|k| k.ids.first().map(|e| id_time(&e.id)))
                .fold(0.0, |min: f64, t| if min == 0.0 { t } else { min.min(t) })
        };
        r.runtime_oldest = oldest(runtime);
        r.history_oldest = oldest(history);
        let now = self.ctx.clock.now();
        for entry in stats.into_iter().flat_map(|r| r.keys).flat_map(|k| k.ids) {
            let at = id_time(&entry.id);
            for (op, v) in &entry.map {
                if let Ok(n) = redis::from_redis_value::<i64>(v) {
                    r.daemon_stats.push((at, op.clone(), n));
                }
            }
            self.stats_position = entry.id;
        }
        r.daemon_stats.retain(|(at, _, _)| now - at < 900.0);
        r.written.retain(|w| now - w.0 < 900.0);
        r.backlog_since = self
            .pending
            .front()
            .and_then(|e| member(e.value(), "timestamp").and_then(|t| t.to_number().ok()))
            .unwrap_or(0.0);
        self.publish_report();
        Ok(())
    }

    /// Counts the queries of a round trip and what they wrote (per second, for the
    /// `icingadb` check).
    fn count_written(&mut self, queries: u64, events: &[Arc<Event>]) {
        let second = self.ctx.clock.now().floor();
        let history = events
            .iter()
            .filter(|e| {
                matches!(
                    e.kind,
                    EventKind::StateChange
                        | EventKind::AcknowledgementSet
                        | EventKind::AcknowledgementCleared
                        | EventKind::Flapping
                        | EventKind::Notification
                        | EventKind::CommentAdded
                        | EventKind::CommentRemoved
                        | EventKind::DowntimeStarted
                        | EventKind::DowntimeTriggered
                        | EventKind::DowntimeRemoved
                )
            })
            .count() as u64;
        let config = events
            .iter()
            .filter(|e| {
                matches!(
                    e.kind,
                    EventKind::ObjectCreated | EventKind::ObjectModified | EventKind::ObjectDeleted
                )
            })
            .count() as u64;
        let states = events.len() as u64 - history - config;
        match self.report.written.last_mut() {
            Some(w) if w.0 == second => {
                w.1 += queries;
                w.2 += config;
                w.3 += states;
                w.4 += history;
            }
            _ => self
                .report
                .written
                .push((second, queries, config, states, history)),
        }
    }

    /// Makes the report visible to the `icingadb` check.
    fn publish_report(&self) {
        self.ctx
            .stats
            .icingadb
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(self.name.clone(), self.report.clone());
    }

    /// `icinga:stats`: every stats function's status, the dump flag, the time and the
    /// environment.
    async fn heartbeat(
        &self,
        conn: &mut MultiplexedConnection,
        dumping: bool,
    ) -> redis::RedisResult<()> {
        let items = {
            let provider = self
                .ctx
                .status_items
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone();
            provider.map(|f| f()).unwrap_or_default()
        };
        let reg = self.ctx.objects.current();
        let now = self.ctx.clock.now();
        let mut fields: BTreeMap<String, String> = BTreeMap::new();
        for mut item in items {
            let Some(name) = item["name"].as_str().map(str::to_string) else {
                continue;
            };
            if name == "IcingaApplication" {
                self.app_status(&reg, &mut item);
            }
            let body = json!({ "perfdata": item["perfdata"], "status": item["status"] });
            fields.insert(name, encode(&body));
        }
        if !fields.contains_key("IcingaApplication") {
            let mut item =
                json!({ "perfdata": [], "status": { "icingaapplication": { "app": {} } } });
            self.app_status(&reg, &mut item);
            fields.insert("IcingaApplication".into(), encode(&item));
        }
        fields.insert("config_dump_in_progress".into(), dumping.to_string());
        fields.insert("timestamp".into(), config::millis(now).to_string());
        fields.insert(
            "icingadb_environment".into(),
            encode(&json!(self.ctx.environment)),
        );
        let mut cmd = redis::cmd("XADD");
        cmd.arg(&["icinga:stats", "MAXLEN", "1", "*"]);
        for (k, v) in &fields {
            cmd.arg(k).arg(v);
        }
        cmd.query_async::<()>(conn).await
    }

    /// The application status as Icinga DB reads it: the global switches, the node, the
    /// start in milliseconds and the local endpoint's id.
    fn app_status(&self, reg: &Registry, item: &mut Json) {
        let app = &mut item["status"]["icingaapplication"]["app"];
        if !app.is_object() {
            *app = json!({});
        }
        let application = reg.objects("IcingaApplication").next();
        if app.get("node_name").is_none() {
            app["node_name"] = json!(self.ctx.node_name);
            app["environment"] = json!(application
                .map(|a| a.string("environment"))
                .unwrap_or_default());
            app["version"] = json!(crate::VERSION_STRING);
            for name in crate::stats::APP_SWITCHES {
                app[name] = json!(reg.app_switch(name));
            }
        }
        app["program_start"] = json!(config::millis(self.ctx.program_start));
        if reg.get("Endpoint", &self.ctx.node_name).is_some() {
            app["endpoint_id"] = json!(super::pack::object_id(
                &self.ctx.environment,
                &self.ctx.node_name
            ));
        }
    }

    /// Adds what one event changes to the pipeline.
    fn add(&mut self, p: &mut redis::Pipeline, reg: &Registry, event: &Event) {
        let mut entries: Vec<Entry> = Vec::new();
        let v = event.value();
        let text = |key: &str| {
            member(v, key)
                .map(Value::to_display_string)
                .unwrap_or_default()
        };
        let checkable = || -> Option<Arc<Object>> {
            let host = text("host");
            match member(v, "service").map(Value::to_display_string) {
                Some(s) => reg.get("Service", &format!("{host}!{s}")).cloned(),
                None => reg.get("Host", &host).cloned(),
            }
        };
        match event.kind {
            EventKind::CheckResult => {
                if let Some(o) = checkable() {
                    self.touch(&o, false, true);
                }
            }
            EventKind::StateChange => {
                if let Some(o) = checkable() {
                    self.touch(&o, true, false);
                    if let Some(e) = self.state_history(reg, &o, v) {
                        entries.push(e);
                    }
                }
            }
            EventKind::AcknowledgementSet | EventKind::AcknowledgementCleared => {
                if let Some(o) = checkable() {
                    self.touch(&o, true, false);
                    entries.push(self.ack_history(reg, &o, event.kind, v));
                }
            }
            EventKind::Flapping => {
                if let Some(o) = checkable() {
                    self.touch(&o, true, false);
                    entries.push(self.flapping_history(reg, &o, v));
                }
            }
            EventKind::CommentAdded
            | EventKind::CommentRemoved
            | EventKind::DowntimeAdded
            | EventKind::DowntimeStarted
            | EventKind::DowntimeTriggered
            | EventKind::DowntimeRemoved => {
                let (type_name, key) = match event.kind {
                    EventKind::CommentAdded | EventKind::CommentRemoved => ("Comment", "comment"),
                    _ => ("Downtime", "downtime"),
                };
                let Some(mut o) = object_from(type_name, member(v, key)) else {
                    return;
                };
                if event.kind == EventKind::CommentRemoved {
                    // The removal's time is the event's (a comment's `remove_time` is not
                    // shown, so events do not carry it).
                    let at = member(v, "timestamp").cloned().unwrap_or(Value::Null);
                    let mut attrs = o.attrs.to_dict();
                    attrs.insert("remove_time".into(), at);
                    o = o.with_attrs(attrs, o.original.clone(), o.version);
                }
                let removed = matches!(
                    event.kind,
                    EventKind::CommentRemoved | EventKind::DowntimeRemoved
                );
                if removed {
                    self.delete(p, type_name, &o.name);
                } else {
                    let current = reg.get(type_name, &o.name).cloned();
                    self.upsert(p, reg, current.as_deref().unwrap_or(&o));
                }
                let now = self.ctx.clock.now();
                let cx = self.cx(reg);
                let entry = match event.kind {
                    EventKind::CommentAdded => history::comment(&cx, &o, true, now),
                    EventKind::CommentRemoved => history::comment(&cx, &o, false, now),
                    // Icinga's history has the start when a downtime is triggered.
                    EventKind::DowntimeTriggered => history::downtime(&cx, &o, true),
                    EventKind::DowntimeRemoved => history::downtime(&cx, &o, false),
                    _ => None,
                };
                entries.extend(entry);
                let (host, service) = config::checkable_of(&o);
                let owner = match &service {
                    Some(s) => reg.get("Service", s),
                    None => reg.get("Host", &host),
                };
                if let Some(owner) = owner.cloned() {
                    self.touch(&owner, true, false);
                }
            }
            EventKind::ObjectCreated | EventKind::ObjectModified | EventKind::ObjectDeleted => {
                let type_name = text("object_type");
                let name = text("object_name");
                let Some(t) = TYPES.iter().find(|t| **t == type_name) else {
                    return;
                };
                match reg.get(t, &name).cloned() {
                    Some(o) if event.kind != EventKind::ObjectDeleted => {
                        self.upsert(p, reg, &o);
                        if o.runtime.is_some() {
                            self.touch(&o, true, true);
                        }
                    }
                    _ => self.delete(p, t, &name),
                }
            }
            EventKind::Notification => {
                if let Some(o) = checkable() {
                    entries.extend(self.notification_history(reg, &o, v));
                }
            }
        }
        for e in &entries {
            let cmd = p.cmd("XADD").arg(e.key()).arg("*");
            for (k, v) in &e.fields {
                cmd.arg(k).arg(v);
            }
            cmd.ignore();
        }
    }

    /// Marks a host's or service's state (and next update) to be written with the batch.
    fn touch(&mut self, o: &Arc<Object>, full: bool, next: bool) {
        let entry = self
            .touched
            .entry(o.name.to_string())
            .or_insert_with(|| (o.clone(), false, false));
        entry.0 = o.clone();
        entry.1 |= full;
        entry.2 |= next;
    }

    /// A host's or service's state row; with `full`, also the runtime update that the
    /// `icingadb` daemon writes through to the database.
    fn state(&self, p: &mut redis::Pipeline, reg: &Registry, o: &Object, full: bool) {
        let Some(st) = state::serialize(&self.cx(reg), o) else {
            return;
        };
        let key = format!("icinga:{}:state", type_key(o.type_info.name));
        let id = super::pack::object_id(&self.ctx.environment, &o.name);
        let fields = full.then(|| state::stream_fields(&st));
        let st = Json::Object(st);
        let checksum = super::pack::hash(&st);
        p.cmd("HSET").arg(&key).arg(&id).arg(encode(&st)).ignore();
        p.cmd("HSET")
            .arg(checksum_key(&key))
            .arg(&id)
            .arg(encode(&json!({ "checksum": checksum })))
            .ignore();
        if let Some(fields) = fields {
            let cmd = p.cmd("XADD").arg(&[
                "icinga:runtime:state",
                "MAXLEN",
                "~",
                RUNTIME_MAXLEN,
                "*",
                "runtime_type",
                "upsert",
                "redis_key",
                &key,
                "checksum",
                &checksum,
            ]);
            for (k, v) in fields {
                cmd.arg(k).arg(v);
            }
            cmd.ignore();
        }
    }

    /// The host's or service's next update in `icinga:nextupdate:<type>` (removed when
    /// active checks are off).
    fn next_update(&self, p: &mut redis::Pipeline, o: &Object) {
        let key = next_update_key(o.type_info.name);
        let id = super::pack::object_id(&self.ctx.environment, &o.name);
        if o.flag("enable_active_checks", true) {
            let next = o
                .runtime_value("next_update")
                .and_then(|v| v.to_number().ok())
                .unwrap_or(0.0);
            p.cmd("ZADD").arg(key).arg(next).arg(id).ignore();
        } else {
            p.cmd("ZREM").arg(key).arg(id).ignore();
        }
    }

    /// An object's rows written as a runtime update; rows it no longer has are deleted.
    fn upsert(&mut self, p: &mut redis::Pipeline, reg: &Registry, o: &Object) {
        let rows = self.cx(reg).rows(o, None);
        let Some(t) = TYPES.iter().find(|t| **t == o.type_info.name) else {
            return;
        };
        let mut refs = Vec::with_capacity(rows.len());
        for row in &rows {
            write_row(p, row);
            if !GLOBAL_KEYS.contains(&row.key.as_str()) {
                refs.push((row.key.clone(), row.id.clone(), row.checksum.is_some()));
            }
        }
        if let Some(old) = self.written.insert((t, o.name.to_string()), refs.clone()) {
            for (key, id, has_checksum) in old {
                if !refs.iter().any(|(k, i, _)| *k == key && *i == id) {
                    delete_row(p, &key, &id, has_checksum);
                }
            }
        }
    }

    /// Deletes an object's rows (and its state and next update).
    fn delete(&mut self, p: &mut redis::Pipeline, type_name: &str, name: &str) {
        let Some(t) = TYPES.iter().find(|t| **t == type_name) else {
            return;
        };
        let id = super::pack::object_id(&self.ctx.environment, name);
        let main = format!("icinga:{}", type_key(t));
        let rows = self
            .written
            .remove(&(*t, name.to_string()))
            .unwrap_or_else(|| vec![(main.clone(), id.clone(), true)]);
        for (key, row_id, has_checksum) in rows {
            delete_row(p, &key, &row_id, has_checksum);
        }
        if matches!(type_name, "Host" | "Service") {
            self.touched.remove(name);
            let state = format!("{main}:state");
            p.cmd("HDEL").arg(&state).arg(&id).ignore();
            p.cmd("HDEL").arg(checksum_key(&state)).arg(&id).ignore();
            p.cmd("ZREM")
                .arg(next_update_key(type_name))
                .arg(&id)
                .ignore();
        }
    }

    fn state_history(&self, reg: &Registry, o: &Object, v: &Value) -> Option<Entry> {
        let cr = member(v, "check_result")?;
        let rt = o.runtime.as_ref()?.get();
        let num = |val: Option<&Value>| val.and_then(|x| x.to_number().ok()).unwrap_or(0.0);
        let state_type = num(member(v, "state_type")) as u8;
        let soft = num(member(v, "state")) as u8;
        let hard = if state_type == 1 {
            soft
        } else {
            num(member(cr, "previous_hard_state")) as u8
        };
        let after = member(cr, "vars_after");
        let (host, service) = names(o);
        let output = member(cr, "output")
            .map(Value::to_display_string)
            .unwrap_or_default();
        let check_source = member(cr, "check_source")
            .map(Value::to_display_string)
            .unwrap_or_default();
        let scheduling_source = member(cr, "scheduling_source")
            .map(Value::to_display_string)
            .unwrap_or_default();
        let change = history::StateChange {
            host: &host,
            service: service.as_deref(),
            state_type,
            soft_state: soft,
            hard_state: hard,
            attempt: after.map_or(1.0, |a| num(member(a, "attempt"))) as u32,
            previous_soft_state: rt.previous_soft_state(),
            previous_hard_state: rt.previous_hard_state(),
            max_check_attempts: o.number("max_check_attempts", 3.0),
            execution_end: num(member(cr, "execution_end")),
            output: &output,
            check_source: &check_source,
            scheduling_source: &scheduling_source,
        };
        Some(history::state_change(&self.cx(reg), &change))
    }

    fn ack_history(&mut self, reg: &Registry, o: &Object, kind: EventKind, v: &Value) -> Entry {
        let rt = o.runtime.as_ref().map(|r| r.get());
        let (host, service) = names(o);
        let text = |k: &str| {
            member(v, k)
                .map(Value::to_display_string)
                .unwrap_or_default()
        };
        let num = |k: &str| member(v, k).and_then(|x| x.to_number().ok()).unwrap_or(0.0);
        let set = kind == EventKind::AcknowledgementSet;
        let (author, comment) = (text("author"), text("comment"));
        let change = rt
            .as_ref()
            .map_or(num("timestamp"), |r| r.acknowledgement_last_change);
        let ack = history::Ack {
            host: &host,
            service: service.as_deref(),
            set,
            author: &author,
            comment: &comment,
            sticky: num("acknowledgement_type") == 2.0,
            persistent: member(v, "persistent").is_some_and(Value::to_bool),
            expiry: num("expiry"),
            set_time: if set {
                self.ack_set.insert(o.name.to_string(), change);
                change
            } else {
                self.ack_set.remove(&*o.name).unwrap_or(0.0)
            },
            clear_time: num("timestamp"),
            cleared_by: "",
        };
        history::acknowledgement(&self.cx(reg), &ack)
    }

    fn flapping_history(&mut self, reg: &Registry, o: &Object, v: &Value) -> Entry {
        let (host, service) = names(o);
        let num = |k: &str| member(v, k).and_then(|x| x.to_number().ok()).unwrap_or(0.0);
        let flapping = member(v, "is_flapping").is_some_and(Value::to_bool);
        let change_time = num("timestamp");
        let last_change = if flapping {
            self.flapping_since.insert(o.name.to_string(), change_time);
            change_time
        } else {
            self.flapping_since.remove(&*o.name).unwrap_or(0.0)
        };
        let f = history::Flapping {
            host: &host,
            service: service.as_deref(),
            flapping,
            current: num("flapping_current"),
            low: num("threshold_low"),
            high: num("threshold_high"),
            change_time,
            last_change,
        };
        history::flapping(&self.cx(reg), &f)
    }
}

impl Writer {
    /// The history of a notification: the Notification object is the checkable's one
    /// with the event's command (the event does not name it).
    fn notification_history(&self, reg: &Registry, o: &Object, v: &Value) -> Option<Entry> {
        let text_of = |k: &str| {
            member(v, k)
                .map(Value::to_display_string)
                .unwrap_or_default()
        };
        let command = text_of("command");
        let prefix = format!("{}!", o.name);
        let notification = reg
            .with_prefix("Notification", &prefix)
            .iter()
            .find(|n| n.string("command") == command && !n.name[prefix.len()..].contains('!'))?;
        let users: Vec<String> = match member(v, "users") {
            Some(Value::Array(u)) => u.iter().map(Value::to_display_string).collect(),
            _ => Vec::new(),
        };
        let cr = member(v, "check_result");
        let num = |x: Option<&Value>| x.and_then(|x| x.to_number().ok()).unwrap_or(99.0) as u8;
        let (host, service) = names(o);
        let mut text = text_of("text");
        if text.is_empty() {
            text = cr
                .and_then(|cr| member(cr, "output"))
                .map(Value::to_display_string)
                .unwrap_or_default();
        }
        let (author, kind) = (text_of("author"), text_of("notification_type"));
        history::notification(
            &self.cx(reg),
            &history::Notification {
                notification: &notification.name,
                host: &host,
                service: service.as_deref(),
                kind: &kind,
                // A result's state is the plugin's; a host is UP for OK and WARNING.
                state: match cr.map(|cr| num(member(cr, "state"))) {
                    None => 99,
                    Some(s) if o.type_info.name == "Host" => u8::from(s > 1),
                    Some(s) => s,
                },
                previous_hard_state: cr.map_or(99, |cr| num(member(cr, "previous_hard_state"))),
                author: &author,
                text: &text,
                users: &users,
                send_time: member(v, "timestamp")
                    .and_then(|t| t.to_number().ok())
                    .unwrap_or(0.0),
            },
        )
    }
}

/// The time (seconds) of a stream entry's id (`<milliseconds>-<sequence>`).
fn id_time(id: &str) -> f64 {
    id.split('-')
        .next()
        .and_then(|ms| ms.parse::<f64>().ok())
        .map_or(0.0, |ms| ms / 1000.0)
}

/// The `icingadb` daemon's heartbeat entry.
fn daemon_heartbeat(e: &redis::streams::StreamId) -> DaemonHeartbeat {
    let text = |k: &str| e.get::<String>(k).unwrap_or_default();
    let seconds = |k: &str| text(k).parse::<f64>().map_or(0.0, |ms| ms / 1000.0);
    let flag = |k: &str| text(k) == "1";
    DaemonHeartbeat {
        at: id_time(&e.id),
        version: text("version"),
        time: seconds("time"),
        start_time: seconds("start-time"),
        error: text("error"),
        error_since: seconds("error-since"),
        performance_data: text("performance-data"),
        last_heartbeat_received: seconds("last-heartbeat-received"),
        responsible: flag("ha-responsible"),
        responsible_since: seconds("ha-responsible-ts"),
        other_responsible: flag("ha-other-responsible"),
        sync_ongoing_since: seconds("sync-ongoing-since"),
        sync_success_finish: seconds("sync-success-finish"),
        sync_success_duration: seconds("sync-success-duration"),
    }
}

/// A row written as Icinga writes a runtime update: the hash, its checksum, and an
/// `upsert` entry of `icinga:runtime` with the row's attributes.
fn write_row(p: &mut redis::Pipeline, row: &Row) {
    p.cmd("HSET")
        .arg(&row.key)
        .arg(&row.id)
        .arg(serde_json::to_string(&row.data).unwrap_or_default())
        .ignore();
    if let Some(c) = &row.checksum {
        p.cmd("HSET")
            .arg(checksum_key(&row.key))
            .arg(&row.id)
            .arg(encode(&json!({ "checksum": c })))
            .ignore();
    }
    let cmd = p
        .cmd("XADD")
        .arg(&["icinga:runtime", "MAXLEN", "~", RUNTIME_MAXLEN, "*"]);
    for (k, v) in &row.data {
        let value = stream_value(v);
        if !value.is_empty() {
            cmd.arg(k).arg(value);
        }
    }
    if let Some(c) = &row.checksum {
        cmd.arg("checksum").arg(c);
    }
    cmd.arg("id").arg(&row.id);
    cmd.arg("redis_key").arg(&row.key);
    cmd.arg("runtime_type").arg("upsert").ignore();
}

/// A row deleted as Icinga deletes one at runtime.
fn delete_row(p: &mut redis::Pipeline, key: &str, id: &str, has_checksum: bool) {
    if has_checksum {
        p.cmd("HDEL").arg(checksum_key(key)).arg(id).ignore();
    }
    p.cmd("HDEL").arg(key).arg(id).ignore();
    p.cmd("XADD")
        .arg(&[
            "icinga:runtime",
            "MAXLEN",
            "~",
            RUNTIME_MAXLEN,
            "*",
            "redis_key",
            key,
            "id",
            id,
            "runtime_type",
            "delete",
        ])
        .ignore();
}

/// `icinga:checksum:<rest>` beside `icinga:<rest>`.
fn checksum_key(key: &str) -> String {
    format!(
        "icinga:checksum:{}",
        key.strip_prefix("icinga:").unwrap_or(key)
    )
}

fn next_update_key(type_name: &str) -> &'static str {
    if type_name == "Service" {
        "icinga:nextupdate:service"
    } else {
        "icinga:nextupdate:host"
    }
}

/// A member of an event.
fn member<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    match v {
        Value::Dict(d) => d.get(key).filter(|x| !matches!(x, Value::Null)),
        _ => None,
    }
}

/// The host's name and the service's full name of a checkable.
fn names(o: &Object) -> (String, Option<String>) {
    if o.type_info.name == "Service" {
        (o.string("host_name"), Some(o.name.to_string()))
    } else {
        (o.name.to_string(), None)
    }
}

/// A comment or downtime as its event carries it.
fn object_from(type_name: &str, attrs: Option<&Value>) -> Option<Object> {
    let Some(Value::Dict(d)) = attrs else {
        return None;
    };
    let name = d.get("__name").map(Value::to_display_string)?;
    let ti = crate::objects::types::by_name(type_name)?;
    Some(crate::objects::runtime_object(ti, &name, (**d).clone()))
}
