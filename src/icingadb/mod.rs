//! Icinga's `IcingaDB` feature: Auspex keeps Redis as Icinga 2 keeps it for the
//! `icingadb` daemon, which moves it into MariaDB/MySQL or PostgreSQL for Icinga DB Web.
//!
//! - [`pack`]: Icinga's canonical packing, the SHA-1 ids and checksums, its JSON.
//! - [`config`]: the configuration objects' rows (`icinga:<type>` and their relations);
//!   [`state`]: the hosts' and services' state rows; [`history`]: the history streams'
//!   entries.
//! - [`writer`]: the connection to Redis — the dump (with the `icinga:dump` signals), the
//!   heartbeat (`icinga:stats`), and the runtime updates and history, following the
//!   event journal as an event stream does.
//!
//! The writer runs beside the processor and never holds it back: it follows the journal
//! with its own cursor, so a slow or unreachable Redis only makes it fall behind. After a
//! lost connection it reconnects, dumps again (only changed rows are written; the
//! `icingadb` daemon resynchronises on the new dump) and resumes the history from where
//! it stopped.

pub mod config;
pub mod history;
pub mod pack;
pub mod state;
pub mod writer;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{json, Value as Json};
use tokio_util::sync::CancellationToken;

use crate::bus::Bus;
use crate::clock::Clock;
use crate::objects::{Object, Published};
use crate::store::Store;

/// The `IcingaDB` object's connection settings.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    pub host: String,
    pub port: u16,
    /// A Unix socket, used instead of host and port when set.
    pub path: String,
    pub password: String,
    pub db_index: i64,
    pub tls: Option<Tls>,
    pub connect_timeout: f64,
}

/// TLS to Redis (`enable_tls`).
#[derive(Clone, Debug, PartialEq)]
pub struct Tls {
    pub insecure_noverify: bool,
    pub cert_path: String,
    pub key_path: String,
    pub ca_path: String,
}

impl Settings {
    /// The settings of an `IcingaDB` object, with Icinga's defaults.
    ///
    /// # Errors
    /// Icinga's validation errors: a certificate without its key (or the reverse), a
    /// port out of range, a connect timeout not above zero.
    pub fn of(o: &Object) -> Result<Settings, String> {
        let port = o.number("port", 6380.0);
        if !(1.0..=65535.0).contains(&port) {
            return Err(format!("IcingaDB '{}': invalid port {port}", o.name));
        }
        let connect_timeout = o.number("connect_timeout", 15.0);
        if connect_timeout <= 0.0 {
            return Err(format!(
                "IcingaDB '{}': connect_timeout: Value must be greater than 0.",
                o.name
            ));
        }
        let tls = o.flag("enable_tls", false).then(|| Tls {
            insecure_noverify: o.flag("insecure_noverify", false),
            cert_path: o.string("cert_path"),
            key_path: o.string("key_path"),
            ca_path: o.string("ca_path"),
        });
        if let Some(t) = &tls {
            if t.cert_path.is_empty() != t.key_path.is_empty() {
                return Err(format!(
                    "IcingaDB '{}': Validation failed: Either both a client certificate \
                     (cert_path) and its private key (key_path) or none of them must be given.",
                    o.name
                ));
            }
        }
        Ok(Settings {
            host: o.string_or_default("host"),
            port: port as u16,
            path: o.string("path"),
            password: o.string("password"),
            db_index: o.number("db_index", 0.0) as i64,
            tls,
            connect_timeout,
        })
    }
}

/// The `/v1/status` items of the running features, for the heartbeat.
pub type StatusItems = Arc<dyn Fn() -> Vec<Json> + Send + Sync>;

/// What the writers need.
#[derive(Clone)]
pub struct Context {
    pub objects: Published,
    pub bus: Arc<Bus>,
    pub store: Store,
    pub clock: Clock,
    pub node_name: String,
    /// Where `icingadb.env` is kept, and the CA certificate the environment id is
    /// derived from (see [`environment_id`]).
    pub data_dir: PathBuf,
    pub ca_cert: PathBuf,
    /// Icinga's environment id, once a writer needed it.
    pub environment: String,
    /// When the node started (for the heartbeat's `program_start`).
    pub program_start: f64,
    /// The stats functions' items (`/v1/status`), filled in by the API once it runs.
    pub status_items: Arc<Mutex<Option<StatusItems>>>,
    pub status: Arc<Status>,
    /// Where the writers leave what their `icingadb` checks report.
    pub stats: Arc<crate::stats::Stats>,
}

/// One writer's figures, for `/v1/status` and `/metrics`.
#[derive(Debug, Default)]
pub struct WriterStatus {
    pub connected: AtomicBool,
    /// The id of the last event written.
    pub position: AtomicU64,
    /// Rows and entries written since the start.
    pub written: AtomicU64,
    /// The last dump: when it ended and how long it took (seconds).
    pub lastdump_end: Mutex<f64>,
    pub lastdump_took: Mutex<f64>,
}

/// The running writers' figures.
#[derive(Debug, Default)]
pub struct Status {
    writers: Mutex<std::collections::BTreeMap<String, Arc<WriterStatus>>>,
}

impl Status {
    /// `(name, figures)` of every running writer.
    pub fn writers(&self) -> Vec<(String, Arc<WriterStatus>)> {
        self.writers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(n, s)| (n.clone(), s.clone()))
            .collect()
    }

    /// The `/v1/status` item's status: for each writer whether it is connected, how far
    /// it lags behind the events, and its last dump.
    pub fn item(&self, last_event: u64) -> Json {
        let writers: serde_json::Map<String, Json> = self
            .writers()
            .into_iter()
            .map(|(name, s)| {
                let lag = last_event.saturating_sub(s.position.load(Ordering::Relaxed));
                let end = *s.lastdump_end.lock().unwrap_or_else(|e| e.into_inner());
                let took = *s.lastdump_took.lock().unwrap_or_else(|e| e.into_inner());
                (
                    name,
                    json!({
                        "connected": s.connected.load(Ordering::Relaxed),
                        "events_behind": lag,
                        "written": s.written.load(Ordering::Relaxed),
                        "lastdump_end": pack::number(end),
                        "lastdump_took": pack::number(took),
                    }),
                )
            })
            .collect();
        json!({ "icingadb": writers })
    }
}

/// Icinga's environment id: the one kept in `<data>/icingadb.env` (a JSON string), else
/// the SHA-1 of the CA certificate's public key (as Icinga derives it), kept there from
/// then on.
///
/// # Errors
/// A damaged `icingadb.env`, or no CA certificate to derive the id from.
pub fn environment_id(data_dir: &Path, ca_cert: &Path) -> Result<String, String> {
    let path: PathBuf = data_dir.join("icingadb.env");
    if let Ok(text) = std::fs::read_to_string(&path) {
        let id: String = serde_json::from_str(&text).map_err(|e| {
            format!(
                "environment ID stored at {} is corrupt: {e}",
                path.display()
            )
        })?;
        if id.len() != 40 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!(
                "environment ID stored at {} is corrupt: not 40 hex digits.",
                path.display()
            ));
        }
        return Ok(id.to_ascii_lowercase());
    }
    let pem = std::fs::read(ca_cert).map_err(|e| {
        format!(
            "Cannot find the CA certificate at '{}': {e}",
            ca_cert.display()
        )
    })?;
    let (_, pem) = x509_parser::pem::parse_x509_pem(&pem)
        .map_err(|e| format!("{}: {e}", ca_cert.display()))?;
    let cert = pem
        .parse_x509()
        .map_err(|e| format!("{}: {e}", ca_cert.display()))?;
    let id = pack::sha1_hex(&cert.public_key().subject_public_key.data);
    let text = serde_json::to_string(&id).unwrap_or_default();
    crate::pki::write_private(&path, &text).map_err(|e| e.to_string())?;
    Ok(id)
}

/// Runs the configured `IcingaDB` writers until `shutdown`, following the published
/// objects: writers whose objects appear, change or disappear are started, restarted or
/// stopped.
pub async fn run(
    mut ctx: Context,
    published: tokio::sync::watch::Receiver<()>,
    shutdown: CancellationToken,
) {
    let status = ctx.status.clone();
    let reports = ctx.stats.clone();
    let objects = ctx.objects.clone();
    let (data_dir, ca_cert) = (ctx.data_dir.clone(), ctx.ca_cert.clone());
    let mut environment = String::new();
    let wanted = move || {
        let reg = objects.current();
        let mut wanted: HashMap<String, (Settings, String)> = HashMap::new();
        for o in reg.objects("IcingaDB") {
            match Settings::of(o) {
                Ok(s) => {
                    wanted.insert(o.name.to_string(), (s, String::new()));
                }
                Err(e) => tracing::error!("{e}; the writer does not run."),
            }
        }
        if !wanted.is_empty() && environment.is_empty() {
            match environment_id(&data_dir, &ca_cert) {
                Ok(id) => environment = id,
                Err(e) => {
                    tracing::error!("IcingaDB: {e}; the writers do not run.");
                    wanted.clear();
                }
            }
        }
        for (_, env) in wanted.values_mut() {
            env.clone_from(&environment);
        }
        wanted
    };
    let start = |name: &String, (settings, env): &(Settings, String), stop| {
        let writer = Arc::new(WriterStatus::default());
        status
            .writers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.clone(), writer.clone());
        tracing::info!(writer = %name, "IcingaDB '{name}' started.");
        ctx.environment.clone_from(env);
        writer::run(ctx.clone(), name.clone(), settings.clone(), writer, stop)
    };
    let stopped = |name: &String| {
        status
            .writers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(name);
        reports
            .icingadb
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(name);
    };
    crate::workers::supervise(published, shutdown, wanted, start, stopped).await;
}
