//! Icinga's performance data writers: `GraphiteWriter` ([`graphite`]) and
//! `InfluxdbWriter`/`Influxdb2Writer` ([`influx`]), with Icinga's attributes, metric
//! names and formats.
//!
//! Each writer object runs as its own task that follows the event sequence like an event
//! stream does ([`crate::events::Cursor`]): it turns every `CheckResult` into lines and
//! sends them. A receiver that is down or slow holds the writer back, never the
//! processor; the writer reconnects with a growing pause and resumes from the journal
//! where it stopped, so nothing the journal still holds is lost (Icinga drops what it
//! cannot send). The writers follow the configuration: a reload starts, stops or
//! restarts them as their objects appear, disappear or change.

pub mod graphite;
pub mod influx;
pub mod sample;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value as Json};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use crate::bus::{Bus, EventKind};
use crate::clock::Clock;
use crate::events::{Cursor, Item};
use crate::objects::{Object, Published};
use crate::store::Store;

/// The writer types.
pub const TYPES: [&str; 3] = ["GraphiteWriter", "InfluxdbWriter", "Influxdb2Writer"];

/// The longest pause between attempts to reach a receiver.
const MAX_PAUSE: Duration = Duration::from_secs(60);
/// How long connecting or one write may take.
const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// What the writers need.
#[derive(Clone)]
pub struct Context {
    pub objects: Published,
    pub bus: Arc<Bus>,
    pub store: Store,
    pub clock: Clock,
    pub status: Arc<Status>,
}

/// One writer's figures, for `/v1/status` and `/metrics`.
#[derive(Debug)]
pub struct WriterStatus {
    pub connected: AtomicBool,
    /// The id of the last event the writer passed.
    pub position: AtomicU64,
    /// Lines waiting in the writer's buffer (InfluxDB writers).
    pub buffered: AtomicU64,
    /// Check results written since the start.
    pub written: AtomicU64,
    /// Check results written in each of the last 60 seconds.
    recent: Mutex<(i64, Vec<u32>)>,
}

impl Default for WriterStatus {
    fn default() -> Self {
        WriterStatus {
            connected: AtomicBool::new(false),
            position: AtomicU64::new(0),
            buffered: AtomicU64::new(0),
            written: AtomicU64::new(0),
            recent: Mutex::new((0, vec![0; 60])),
        }
    }
}

impl WriterStatus {
    fn count(&self, now: f64) {
        self.written.fetch_add(1, Ordering::Relaxed);
        let second = now.floor() as i64;
        let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        roll(&mut recent, second);
        let slot = second.rem_euclid(60) as usize;
        recent.1[slot] = recent.1[slot].saturating_add(1);
    }

    /// Check results written per second over the last minute.
    pub fn rate(&self, now: f64) -> f64 {
        let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        roll(&mut recent, now.floor() as i64);
        f64::from(recent.1.iter().sum::<u32>()) / 60.0
    }
}

/// Clears the seconds between the ring's last second and `second`.
fn roll((last, slots): &mut (i64, Vec<u32>), second: i64) {
    if second <= *last {
        return;
    }
    let gap = (second - *last).min(60);
    for s in second - gap + 1..=second {
        slots[s.rem_euclid(60) as usize] = 0;
    }
    *last = second;
}

/// Named figures (`PerfdataValue` label and value).
pub type Figures = Vec<(String, f64)>;

/// One `/v1/status` item: the type's name, its status, its figures.
pub type StatusItem = (&'static str, Json, Figures);

/// The running writers' figures.
#[derive(Default, Debug)]
pub struct Status {
    writers: Mutex<BTreeMap<(&'static str, String), Arc<WriterStatus>>>,
}

impl Status {
    /// `(type, name, figures)` of every running writer.
    pub fn writers(&self) -> Vec<(&'static str, String, Arc<WriterStatus>)> {
        self.writers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|((t, n), s)| (*t, n.clone(), s.clone()))
            .collect()
    }

    /// The `/v1/status` items of the writer types that run, as Icinga's stats functions
    /// give them: `status.<type in lower case>.<name>` with `work_queue_items` (results
    /// not yet written), `work_queue_item_rate` (written per second over the last minute),
    /// for Graphite `connected`, for InfluxDB `data_buffer_items`; the same as
    /// `PerfdataValue`s `<type>_<name>_<figure>` (InfluxDB's buffer as `data_queue_items`).
    pub fn items(&self, last_event: u64, now: f64) -> Vec<StatusItem> {
        let mut by_type: BTreeMap<&'static str, (serde_json::Map<String, Json>, Figures)> =
            BTreeMap::new();
        for (t, name, s) in self.writers() {
            let lower = t.to_lowercase();
            let queue = last_event.saturating_sub(s.position.load(Ordering::Relaxed)) as f64;
            let rate = s.rate(now);
            let buffered = s.buffered.load(Ordering::Relaxed) as f64;
            let entry = by_type.entry(t).or_default();
            let mut node = serde_json::Map::new();
            node.insert(
                "work_queue_items".into(),
                filters::value::json_number(queue),
            );
            node.insert(
                "work_queue_item_rate".into(),
                filters::value::json_number(rate),
            );
            entry
                .1
                .push((format!("{lower}_{name}_work_queue_items"), queue));
            entry
                .1
                .push((format!("{lower}_{name}_work_queue_item_rate"), rate));
            if t == "GraphiteWriter" {
                node.insert(
                    "connected".into(),
                    json!(s.connected.load(Ordering::Relaxed)),
                );
            } else {
                // Icinga names the figure differently in the two places.
                node.insert(
                    "data_buffer_items".into(),
                    filters::value::json_number(buffered),
                );
                entry
                    .1
                    .push((format!("{lower}_{name}_data_queue_items"), buffered));
            }
            entry.0.insert(name, Json::Object(node));
        }
        by_type
            .into_iter()
            .map(|(t, (nodes, perf))| (t, json!({ t.to_lowercase(): nodes }), perf))
            .collect()
    }
}

/// A writer's settings, by type.
#[derive(Clone, Debug, PartialEq)]
enum Settings {
    Graphite(graphite::Settings),
    Influx(influx::Settings),
}

impl Settings {
    fn of(o: &Object) -> Result<Settings, String> {
        if o.type_info.name == "GraphiteWriter" {
            graphite::Settings::of(o).map(Settings::Graphite)
        } else {
            influx::Settings::of(o).map(Settings::Influx)
        }
    }
}

/// Runs the configured writers until `shutdown`, following the published objects: every
/// time `published` fires, writers whose objects appeared, changed or disappeared are
/// started, restarted or stopped.
pub async fn run(
    ctx: Context,
    published: tokio::sync::watch::Receiver<()>,
    shutdown: CancellationToken,
) {
    type Key = (&'static str, String);
    let wanted = || {
        let reg = ctx.objects.current();
        let mut wanted: HashMap<Key, Settings> = HashMap::new();
        for t in TYPES {
            for o in reg.objects(t) {
                match Settings::of(o) {
                    Ok(s) => {
                        wanted.insert((t, o.name.to_string()), s);
                    }
                    Err(e) => tracing::error!("{e}; the writer does not run."),
                }
            }
        }
        wanted
    };
    let start = |key: &Key, settings: &Settings, stop| {
        let status = Arc::new(WriterStatus::default());
        ctx.status
            .writers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key.clone(), status.clone());
        tracing::info!(writer = %key.1, kind = key.0, "Perfdata writer started.");
        write(ctx.clone(), settings.clone(), status, stop)
    };
    let stopped = |key: &Key| {
        ctx.status
            .writers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
    };
    crate::workers::supervise(published, shutdown, wanted, start, stopped).await;
}

/// One writer: follows the events from now on and writes every check result.
async fn write(
    ctx: Context,
    settings: Settings,
    status: Arc<WriterStatus>,
    stop: CancellationToken,
) {
    let mut cursor = Cursor::live(ctx.bus.clone(), ctx.store.clone());
    status.position.store(cursor.position(), Ordering::Relaxed);
    match settings {
        Settings::Graphite(s) => {
            let mut sender = Graphite {
                settings: s,
                conn: None,
                pause: Pause::default(),
            };
            while let Some(sample) = next_sample(&ctx, &mut cursor, &status, &stop).await {
                let mut text = String::new();
                graphite::lines(&sender.settings, &sample, &mut text);
                if !sender.send(text.as_bytes(), &status, &stop).await {
                    return;
                }
                status.count(ctx.clock.now());
            }
        }
        Settings::Influx(s) => {
            let Some(mut sender) = Influx::new(s) else {
                return;
            };
            sender.run(&ctx, &mut cursor, &status, &stop).await;
        }
    }
}

/// The next check result for the writers; `None` when the writer stops.
async fn next_sample(
    ctx: &Context,
    cursor: &mut Cursor,
    status: &WriterStatus,
    stop: &CancellationToken,
) -> Option<sample::Sample> {
    loop {
        let item = tokio::select! {
            item = cursor.next() => item?,
            () = stop.cancelled() => return None,
        };
        status.position.store(cursor.position(), Ordering::Relaxed);
        let event = match item {
            Item::Event(e) if e.kind == EventKind::CheckResult => e,
            Item::Event(_) => continue,
            Item::Lost { count, .. } => {
                tracing::warn!(
                    count,
                    "Perfdata writer fell behind the journal's retention: {count} events not written."
                );
                continue;
            }
        };
        let reg = ctx.objects.current();
        if let Some(s) = sample::from_event(&reg, event.value(), ctx.clock.now()) {
            return Some(s);
        }
    }
}

/// The pause before the next attempt to reach a receiver: 1 s, doubling up to a minute.
#[derive(Default)]
struct Pause(u32);

impl Pause {
    /// Waits; `false` when the writer stops meanwhile.
    async fn wait(&mut self, stop: &CancellationToken) -> bool {
        let pause = Duration::from_secs(1 << self.0.min(6)).min(MAX_PAUSE);
        self.0 += 1;
        tokio::select! {
            () = tokio::time::sleep(pause) => true,
            () = stop.cancelled() => false,
        }
    }

    fn reset(&mut self) {
        self.0 = 0;
    }
}

/// Carbon's plaintext protocol over one TCP connection, reconnected as needed.
struct Graphite {
    settings: graphite::Settings,
    conn: Option<TcpStream>,
    pause: Pause,
}

impl Graphite {
    /// Sends `bytes`, reconnecting until they are written; `false` when the writer stops
    /// first.
    async fn send(
        &mut self,
        bytes: &[u8],
        status: &WriterStatus,
        stop: &CancellationToken,
    ) -> bool {
        loop {
            if self.conn.is_none() {
                let addr = (self.settings.host.as_str(), self.settings.port);
                let connect = tokio::time::timeout(IO_TIMEOUT, TcpStream::connect(addr));
                let connected = tokio::select! {
                    c = connect => c,
                    () = stop.cancelled() => return false,
                };
                match connected {
                    Ok(Ok(c)) => {
                        tracing::info!(host = %self.settings.host, port = self.settings.port, "GraphiteWriter connected.");
                        self.conn = Some(c);
                        status.connected.store(true, Ordering::Relaxed);
                        self.pause.reset();
                    }
                    Ok(Err(e)) => {
                        self.unreachable(&e.to_string(), status);
                        if !self.pause.wait(stop).await {
                            return false;
                        }
                        continue;
                    }
                    Err(_) => {
                        self.unreachable("connection timed out", status);
                        if !self.pause.wait(stop).await {
                            return false;
                        }
                        continue;
                    }
                }
            }
            let Some(conn) = self.conn.as_mut() else {
                continue;
            };
            // Carbon never sends: a readable end of stream means it has gone, and a write
            // would vanish into the closed connection's buffer.
            let mut probe = [0u8; 256];
            let closed = match conn.try_read(&mut probe) {
                Ok(0) => true,
                Ok(_) => false,
                Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
            };
            if closed {
                tracing::warn!(host = %self.settings.host, "GraphiteWriter lost its connection; reconnecting.");
                self.conn = None;
                status.connected.store(false, Ordering::Relaxed);
                continue;
            }
            match tokio::time::timeout(IO_TIMEOUT, conn.write_all(bytes)).await {
                Ok(Ok(())) => return true,
                _ => {
                    tracing::warn!(host = %self.settings.host, "GraphiteWriter lost its connection; reconnecting.");
                    self.conn = None;
                    status.connected.store(false, Ordering::Relaxed);
                }
            }
        }
    }

    fn unreachable(&self, why: &str, status: &WriterStatus) {
        if status.connected.swap(false, Ordering::Relaxed) || self.pause.0 == 0 {
            tracing::warn!(host = %self.settings.host, port = self.settings.port, error = why, "GraphiteWriter cannot reach Carbon; retrying.");
        }
    }
}

/// The InfluxDB HTTP API, points buffered and flushed.
struct Influx {
    settings: influx::Settings,
    client: reqwest::Client,
    url: String,
    buffer: Vec<String>,
    pause: Pause,
}

impl Influx {
    fn new(settings: influx::Settings) -> Option<Influx> {
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .timeout(IO_TIMEOUT)
            .danger_accept_invalid_certs(settings.insecure);
        if let Some(path) = &settings.ca_cert {
            match std::fs::read(path)
                .map_err(|e| e.to_string())
                .and_then(|pem| reqwest::Certificate::from_pem(&pem).map_err(|e| e.to_string()))
            {
                Ok(ca) => builder = builder.add_root_certificate(ca),
                Err(e) => tracing::error!(path, "InfluxDB writer: cannot read ssl_ca_cert: {e}"),
            }
        }
        match builder.build() {
            Ok(client) => Some(Influx {
                url: settings.url(),
                settings,
                client,
                buffer: Vec::new(),
                pause: Pause::default(),
            }),
            Err(e) => {
                tracing::error!("InfluxDB writer not started: {e}");
                None
            }
        }
    }

    async fn run(
        &mut self,
        ctx: &Context,
        cursor: &mut Cursor,
        status: &WriterStatus,
        stop: &CancellationToken,
    ) {
        let mut tick = tokio::time::interval(self.settings.flush_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                sample = next_sample(ctx, cursor, status, stop) => {
                    let Some(sample) = sample else { break };
                    influx::lines(&self.settings, &sample, &mut self.buffer);
                    status.buffered.store(self.buffer.len() as u64, Ordering::Relaxed);
                    status.count(ctx.clock.now());
                    if self.buffer.len() >= self.settings.flush_threshold && !self.flush(status, stop).await {
                        return;
                    }
                }
                _ = tick.tick() => {
                    if !self.buffer.is_empty() && !self.flush(status, stop).await {
                        return;
                    }
                }
            }
        }
        // Stopping: one last attempt for what is buffered.
        if !self.buffer.is_empty() {
            let _ = self.post().await;
        }
    }

    /// Writes the buffer, retrying while the receiver is unreachable or failing; a
    /// receiver that refuses the points (4xx) has them dropped with an error, as a retry
    /// would not help. `false` when the writer stops first.
    async fn flush(&mut self, status: &WriterStatus, stop: &CancellationToken) -> bool {
        loop {
            match self.post().await {
                Ok(()) => {
                    self.buffer.clear();
                    status.buffered.store(0, Ordering::Relaxed);
                    status.connected.store(true, Ordering::Relaxed);
                    self.pause.reset();
                    return true;
                }
                Err(Failure::Refused(why)) => {
                    tracing::error!(url = %self.url, points = self.buffer.len(), "InfluxDB refused the points: {why}");
                    self.buffer.clear();
                    status.buffered.store(0, Ordering::Relaxed);
                    status.connected.store(true, Ordering::Relaxed);
                    return true;
                }
                Err(Failure::Unreachable(why)) => {
                    if status.connected.swap(false, Ordering::Relaxed) || self.pause.0 == 0 {
                        tracing::warn!(url = %self.url, "InfluxDB unreachable, retrying: {why}");
                    }
                    if !self.pause.wait(stop).await {
                        return false;
                    }
                }
            }
        }
    }

    async fn post(&self) -> Result<(), Failure> {
        let mut req = self.client.post(&self.url).body(self.buffer.join("\n"));
        match &self.settings.api {
            influx::Api::V1 {
                username: Some(u),
                password,
                ..
            } => req = req.basic_auth(u, password.as_ref()),
            influx::Api::V1 { .. } => {}
            influx::Api::V2 { token, .. } => {
                req = req.header("Authorization", format!("Token {token}"));
            }
        }
        let res = req
            .send()
            .await
            .map_err(|e| Failure::Unreachable(e.to_string()))?;
        let code = res.status();
        if code.is_success() {
            return Ok(());
        }
        let body = res.text().await.unwrap_or_default();
        let why = format!("HTTP {code}: {}", body.trim());
        if code.is_client_error() && code.as_u16() != 429 {
            Err(Failure::Refused(why))
        } else {
            Err(Failure::Unreachable(why))
        }
    }
}

enum Failure {
    Unreachable(String),
    Refused(String),
}
