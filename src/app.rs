//! Wiring: builds every component from the options, starts the API listener, owns the
//! tasks and stops them under a deadline.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::{Context, Result};
use http::{HeaderName, HeaderValue};
use ipnet::IpNet;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::api;
use crate::api::console::Sessions;
use crate::auth::{Blocklist, Users};
use crate::clock::Clock;
use crate::config;
use crate::objects::{Object, Registry};
use crate::pki;

/// How to start.
#[derive(Clone, Debug)]
pub struct Options {
    /// The configuration directory; `<data>/etc` when absent (written on first start).
    pub config_dir: Option<PathBuf>,
    pub data_dir: PathBuf,
    pub listen: Option<SocketAddr>,
    /// The node name (certificate CN, `NodeName`); the host name when absent.
    pub node_name: Option<String>,
    /// Events kept in the journal for resuming streams.
    pub event_retention: u64,
    /// What protects the server from expensive or hostile clients.
    pub guards: Guards,
    /// Start with an empty store when the stored one is missing, empty or damaged.
    pub reinitialize: bool,
    /// The time the engine runs on: the system clock, or a manual one in tests.
    pub clock: Clock,
}

/// The limits that keep one client (or a crowd of them) from taking the server from the
/// others; docs/security.md explains each. The defaults suit a production site.
#[derive(Clone, Debug)]
pub struct Guards {
    /// How long the filters of one request (a query, an action's selection) may evaluate
    /// before it is refused.
    pub filter_budget: Duration,
    /// How many evaluation steps the filters of one request may take together.
    pub filter_steps: u64,
    /// How long one event-stream filter may take for one event before the event is
    /// skipped for that stream.
    pub event_filter_budget: Duration,
    /// How long one console script may run.
    pub console_budget: Duration,
    /// Threads that evaluate filters and scripts (at a lower priority than the runtime).
    pub evaluator_threads: usize,
    /// Open connections at most; when all are taken, the oldest one that has not
    /// authenticated is closed for a newcomer.
    pub max_connections: usize,
    /// Open connections from one address at most.
    pub max_connections_per_address: usize,
    /// An event stream whose client has not read for this long is closed (it resumes
    /// with `Last-Event-ID` and misses nothing the journal still holds).
    pub stream_stall_timeout: Duration,
    /// A connection that sends no complete request header for this long is closed
    /// (Icinga: 10 s).
    pub idle_timeout: Duration,
    /// How long a request body may take before it must arrive at 1 KiB/s on average.
    pub body_grace: Duration,
}

impl Default for Guards {
    fn default() -> Self {
        Guards {
            filter_budget: Duration::from_secs(10),
            filter_steps: filters::Limits::default().max_steps,
            event_filter_budget: Duration::from_millis(100),
            console_budget: Duration::from_secs(300),
            evaluator_threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
            max_connections: 4096,
            max_connections_per_address: 2048,
            stream_stall_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(10),
            body_grace: Duration::from_secs(10),
        }
    }
}

/// Events kept in the journal by default (about 50 MB of check results).
pub const DEFAULT_EVENT_RETENTION: u64 = 100_000;

impl Options {
    pub fn node_name(&self) -> String {
        self.node_name.clone().unwrap_or_else(hostname)
    }

    pub fn pki_paths(&self) -> pki::Paths {
        pki::Paths::new(&self.data_dir, &self.node_name())
    }

    /// The configuration directory in effect.
    pub fn config_dir(&self) -> PathBuf {
        self.config_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("etc"))
    }

    /// What the configuration is loaded for.
    pub fn site(&self) -> config::Site {
        config::Site {
            config_dir: self.config_dir(),
            data_dir: self.data_dir.clone(),
            node_name: self.node_name(),
        }
    }
}

/// The machine's host name, or `localhost`.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// Settings of the ApiListener object.
#[derive(Debug, Default)]
pub struct ListenerSettings {
    /// Clients allowed to connect; empty means everyone.
    pub allowed_hosts: Vec<IpNet>,
    pub allow_origins: Vec<String>,
    pub response_headers: Vec<(HeaderName, HeaderValue)>,
    pub auth_failure_limit: u32,
    pub auth_block_duration: Duration,
    pub bind: Option<SocketAddr>,
}

impl ListenerSettings {
    fn from_object(o: Option<&Arc<Object>>) -> Result<ListenerSettings> {
        let mut s = ListenerSettings {
            auth_failure_limit: 6,
            auth_block_duration: Duration::from_secs(600),
            ..ListenerSettings::default()
        };
        let Some(o) = o else { return Ok(s) };
        // Icinga's attributes that Auspex accepts but does not apply: its TLS comes from
        // its own PKI and settings, and it runs no cluster protocol (yet).
        for name in [
            "cert_path",
            "key_path",
            "ca_path",
            "crl_path",
            "cipher_list",
            "tls_protocolmin",
            "tls_handshake_timeout",
            "connect_timeout",
            "accept_config",
            "accept_commands",
            "max_anonymous_clients",
            "access_control_allow_credentials",
            "access_control_allow_headers",
            "access_control_allow_methods",
        ] {
            if o.attrs.contains_key(name) {
                tracing::warn!(
                    "ApiListener '{}': attribute '{name}' is accepted but not applied by Auspex.",
                    o.name
                );
            }
        }
        let strings = |name: &str| -> Vec<String> {
            match o.attr(name) {
                Some(filters::Value::Array(a)) => a.iter().map(|v| v.to_display_string()).collect(),
                Some(v) if !v.is_empty() => vec![v.to_display_string()],
                _ => Vec::new(),
            }
        };
        for h in strings("allowed_hosts") {
            let net = h
                .parse::<IpNet>()
                .or_else(|_| h.parse::<IpAddr>().map(IpNet::from))
                .with_context(|| format!("ApiListener allowed_hosts: invalid address '{h}'"))?;
            s.allowed_hosts.push(net);
        }
        s.allow_origins = strings("access_control_allow_origin");
        if let Some(filters::Value::Dict(d)) = o.attr("http_response_headers") {
            for (k, v) in d.iter() {
                let name = HeaderName::from_bytes(k.as_bytes())
                    .with_context(|| format!("http_response_headers: invalid header '{k}'"))?;
                let value = HeaderValue::from_str(&v.to_display_string())
                    .with_context(|| format!("http_response_headers: invalid value for '{k}'"))?;
                s.response_headers.push((name, value));
            }
        }
        if let Some(n) = o
            .attr("auth_failure_limit")
            .and_then(|v| v.to_number().ok())
        {
            s.auth_failure_limit = n.max(1.0) as u32;
        }
        if let Some(n) = o
            .attr("auth_block_duration")
            .and_then(|v| v.to_number().ok())
        {
            s.auth_block_duration = Duration::from_secs_f64(n.max(0.0));
        }
        let host = o.string("bind_host");
        let port = o.string("bind_port");
        if !host.is_empty() || !port.is_empty() {
            let host = if host.is_empty() {
                "0.0.0.0".into()
            } else {
                host
            };
            let port = if port.is_empty() { "5665".into() } else { port };
            let addr = format!("{host}:{port}");
            s.bind = Some(
                addr.parse()
                    .or_else(|_| format!("[{host}]:{port}").parse())
                    .with_context(|| format!("ApiListener bind address '{addr}'"))?,
            );
        }
        Ok(s)
    }

    pub fn allows(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 @ IpAddr::V4(_) => v4,
        };
        self.allowed_hosts.is_empty() || self.allowed_hosts.iter().any(|n| n.contains(&ip))
    }

    pub fn allows_origin(&self, origin: &str) -> bool {
        self.allow_origins.iter().any(|o| o == origin || o == "*")
    }
}

/// Everything request handlers share.
pub struct State {
    pub node_name: String,
    /// The time every stamp and deadline is taken from.
    pub clock: Clock,
    pub pid: u32,
    registry: Arc<RwLock<Arc<Registry>>>,
    /// Templates, apply rules and constants (`NodeName`, `PluginDir`, user `const`s);
    /// replaced when a config package stage is activated.
    library: RwLock<Arc<filters::config::Library>>,
    /// Where the configuration and the config packages live.
    pub config_dir: PathBuf,
    /// Where state, certificates and the store live.
    pub data_dir: PathBuf,
    pub packages: crate::packages::Packages,
    /// Held while a config package update validates and activates (423 for another).
    pub package_update: Arc<tokio::sync::Mutex<()>>,
    users: Arc<RwLock<Arc<Users>>>,
    pub blocklist: Blocklist,
    pub listener: ListenerSettings,
    pub console: Sessions,
    /// The open connections: per-address caps, eviction of unauthenticated ones.
    pub connections: Arc<crate::api::conns::Connections>,
    /// The durable store.
    pub store: crate::store::Store,
    /// Serialises runtime changes to objects (see `objects::writer`); the processor takes
    /// it for its comment and downtime changes.
    writer: Arc<tokio::sync::Mutex<()>>,
    /// The single writer of check results and runtime state.
    pub processor: crate::processor::Processor,
    /// The figures of `/v1/status` and the `icinga` check.
    pub stats: Arc<crate::stats::Stats>,
    /// Runs checks (scheduled and on demand).
    pub checker: crate::checker::Checker,
    /// Where every committed change is published.
    pub bus: Arc<crate::bus::Bus>,
    /// The scheduler's queue of due times.
    pub schedule_tx: tokio::sync::mpsc::UnboundedSender<(Arc<Object>, f64)>,
    /// Open event streams.
    pub streams: Arc<crate::events::Streams>,
    /// Bearer tokens for event streams.
    pub tokens: crate::auth::token::Tokens,
    /// Fires when the server stops (long-lived streams end).
    pub shutdown: CancellationToken,
    /// Set by `shutdown-process` / `restart-process`.
    pub exit: Exit,
    /// Runs filters and console scripts off the async workers.
    pub evaluator: crate::evaluator::Evaluator,
    pub guards: Guards,
}

/// A stop asked for through the API.
#[derive(Default)]
pub struct Exit {
    pub requested: CancellationToken,
    pub restart: std::sync::atomic::AtomicBool,
}

impl State {
    /// What the configuration is loaded for.
    pub fn site(&self) -> config::Site {
        config::Site {
            config_dir: self.config_dir.clone(),
            data_dir: self.data_dir.clone(),
            node_name: self.node_name.clone(),
        }
    }

    /// The current object snapshot.
    pub fn registry(&self) -> Arc<Registry> {
        crate::objects::current(&self.registry)
    }

    /// The current templates, apply rules and constants.
    pub fn library(&self) -> Arc<filters::config::Library> {
        self.library
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Replaces the templates, apply rules and constants after a reload.
    pub fn replace_library(&self, library: filters::config::Library) {
        *self.library.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(library);
    }

    /// The current API users.
    pub fn users(&self) -> Arc<Users> {
        self.users.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Taken by whoever changes objects; readers never take it.
    pub async fn writer_lock(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.writer.lock().await
    }

    /// Publishes a new object snapshot (after its changes are durable).
    pub fn publish(&self, registry: Registry) {
        (self.installer(registry))();
    }

    /// Publishes `registry` when called: the store runs it right after the commit that
    /// makes the snapshot durable, before the commit's events go out.
    pub fn installer(&self, registry: Registry) -> Box<dyn FnOnce() + Send> {
        let (slot, users) = (self.registry.clone(), self.users.clone());
        Box::new(move || {
            // API users are read from their objects, whether configured or created
            // through the API.
            let current = users.read().unwrap_or_else(|e| e.into_inner()).clone();
            if !current.current_in(&registry) {
                match current.updated(&registry) {
                    Ok(next) => *users.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(next),
                    Err(e) => tracing::error!("API users not updated: {e}"),
                }
            }
            *slot.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(registry);
        })
    }

    pub fn open_connections(&self) -> usize {
        self.connections.open_count()
    }
}

/// The loaded configuration, before anything listens.
pub struct Loaded {
    pub registry: Registry,
    pub library: filters::config::Library,
    pub users: Users,
    pub listener: ListenerSettings,
}

/// Loads and validates the configuration in `dir` (what `check-config` runs).
///
/// # Errors
/// Every configuration error, rendered with file, line and caret.
pub fn load_config(site: &config::Site) -> Result<Loaded> {
    load_config_with(site, &[], crate::clock::system_now())
}

/// [`load_config`] with the active config package stages (package, stage directory), at
/// `now`.
///
/// # Errors
/// Configuration errors, rendered.
pub fn load_config_with(
    site: &config::Site,
    packages: &[(String, PathBuf)],
    now: f64,
) -> Result<Loaded> {
    let (items, library) = config::load_with_packages(site, packages)?;
    let registry = Registry::from_items_in(items, packages, now).map_err(config::ConfigErrors)?;
    let users = Users::from_registry(&registry).map_err(|e| config::ConfigErrors(vec![e]))?;
    let listener = ListenerSettings::from_object(registry.objects("ApiListener").next())?;
    crate::logging::validate(&registry).map_err(|e| config::ConfigErrors(vec![e]))?;
    Ok(Loaded {
        registry,
        library,
        users,
        listener,
    })
}

/// Warns about every object of a type Auspex accepts but does not act on (a feature not
/// implemented yet): once the configured loggers are in place, at startup and reload.
pub fn warn_inert(registry: &Registry) {
    for (t, _) in registry.counts().into_iter().filter(|(t, _)| t.inert) {
        for o in registry.objects(t.name) {
            tracing::warn!(
                "{} '{}' ({}:{}) is accepted but not implemented: Auspex does not act on it.",
                t.name,
                o.name,
                o.location.path,
                o.location.first_line
            );
        }
    }
}

/// First start: without a configuration directory of its own, write the defaults (an
/// ApiUser `root` with a random password, templates, the demo) and create the PKI, as
/// `api setup` does. Returns the new root password, if one was generated.
pub fn setup(opts: &Options, demo: bool) -> Result<Option<String>> {
    let mut password = None;
    if opts.config_dir.is_none() {
        let dir = opts.config_dir();
        let written = config::defaults::write(&dir, demo && !dir.exists())?;
        password = written.root_password;
    }
    if pki::ensure(&opts.pki_paths(), &opts.node_name())? {
        tracing::info!(
            ca = %opts.pki_paths().ca_cert.display(),
            cert = %opts.pki_paths().cert.display(),
            "Created the CA and the node certificate."
        );
    }
    Ok(password)
}

type States = Vec<(String, crate::state::CheckableState)>;

/// Parses stored runtime states (on every core).
fn parse_states(raw: Vec<(String, Vec<u8>)>) -> States {
    use rayon::prelude::*;
    raw.into_par_iter()
        .filter_map(|(key, value)| {
            match crate::state::CheckableState::decode(&value) {
                Ok(st) => Some((key, st)),
                Err(e) => {
                    tracing::warn!(object = %key.replace('\0', " "), error = %e, "Stored state unreadable; starting fresh.");
                    None
                }
            }
        })
        .collect()
}

/// Puts stored runtime states into the objects' cells; returns the states of objects not
/// configured now (kept: the object may come back).
fn restore_states(reg: &Registry, states: States) -> States {
    let mut orphans = Vec::new();
    for (key, st) in states {
        let cell = crate::store::split_key(&key)
            .and_then(|(t, n)| reg.get(t, n))
            .and_then(|o| o.runtime.as_ref());
        match cell {
            Some(cell) => cell.set(Arc::new(st)),
            None => orphans.push((key, st)),
        }
    }
    orphans
}

/// What the store snapshots when it closes: every checkable's state, and the stored
/// states of objects not configured (unless an object of that name has come since).
fn snapshot_states(
    registry: &RwLock<Arc<Registry>>,
    orphans: States,
) -> crate::store::snapshot::States {
    use rayon::prelude::*;
    let reg = crate::objects::current(registry);
    let mut out: crate::store::snapshot::States = ["Host", "Service"]
        .into_iter()
        .flat_map(|t| reg.objects(t))
        .collect::<Vec<_>>()
        .into_par_iter()
        .filter_map(|o| {
            let rt = o.runtime.as_ref()?;
            Some((
                crate::store::key(o.type_info.name, &o.name),
                rt.get().encode(),
            ))
        })
        .collect();
    for (key, st) in orphans {
        let configured =
            crate::store::split_key(&key).is_some_and(|(t, n)| reg.get(t, n).is_some());
        if !configured {
            out.push((key, st.encode()));
        }
    }
    out
}

/// A running server.
pub struct App {
    pub state: Arc<State>,
    pub local_addr: SocketAddr,
    shutdown: CancellationToken,
    tracker: TaskTracker,
}

impl App {
    /// Loads everything and starts listening.
    ///
    /// # Errors
    /// Configuration, certificate or bind failures.
    pub async fn start(opts: Options) -> Result<App> {
        std::fs::create_dir_all(&opts.data_dir)
            .with_context(|| format!("creating {}", opts.data_dir.display()))?;
        let started = std::time::Instant::now();
        let node_name = opts.node_name();
        let bus = Arc::new(crate::bus::Bus::new());
        // The store is read while the configuration loads (neither needs the other).
        let opening = {
            let path = opts.data_dir.join("state.redb");
            let (bus, retention) = (bus.clone(), opts.event_retention);
            let mode = crate::store::Mode {
                reinitialize: opts.reinitialize,
            };
            std::thread::Builder::new()
                .name("store-read".into())
                .spawn(move || {
                    let began = std::time::Instant::now();
                    let (store, mut contents) =
                        crate::store::Store::open_with(&path, bus, retention, mode)?;
                    let states = parse_states(std::mem::take(&mut contents.states));
                    anyhow::Ok((store, contents, states, began.elapsed()))
                })?
        };
        let packages = crate::packages::Packages::new(crate::packages::root(&opts.data_dir));
        let loaded = load_config_with(&opts.site(), &packages.active(), opts.clock.now());
        let opened = opening
            .join()
            .map_err(|_| anyhow::anyhow!("reading the store failed"))?;
        let mut loaded = loaded?;
        crate::logging::configure(&loaded.registry);
        warn_inert(&loaded.registry);
        let (store, contents, states, store_read) = opened?;
        let loaded_at = started.elapsed();
        let restored = contents.api_objects.len();
        for w in crate::objects::writer::restore(
            &mut loaded.registry,
            &loaded.library,
            contents,
            opts.clock.now(),
        ) {
            tracing::warn!("{w}");
        }
        let stored_states = states.len();
        let orphans = restore_states(&loaded.registry, states);
        // The users of the configuration and those created through the API.
        let users = loaded
            .users
            .updated(&loaded.registry)
            .map_err(anyhow::Error::msg)?;
        let (schedule_tx, schedule_rx) = tokio::sync::mpsc::unbounded_channel();
        let registry = Arc::new(RwLock::new(Arc::new(loaded.registry)));
        {
            let registry = registry.clone();
            store.snapshot_on_close(Box::new(move || snapshot_states(&registry, orphans)));
        }
        let writer = Arc::new(tokio::sync::Mutex::new(()));
        let counters = Arc::new(crate::processor::counters::CheckCounters::default());
        let (processor, _) = crate::processor::Processor::spawn(crate::processor::Context {
            store: store.clone(),
            registry: registry.clone(),
            writer: writer.clone(),
            schedule: schedule_tx.clone(),
            zone: node_name.as_str().into(),
            counters: counters.clone(),
            clock: opts.clock.clone(),
        });
        let tls = api::tls::server_config(&opts.pki_paths())?;
        let listen = opts
            .listen
            .or(loaded.listener.bind)
            .unwrap_or(SocketAddr::from(([0, 0, 0, 0], 5665)));
        let listener = TcpListener::bind(listen)
            .await
            .with_context(|| format!("binding {listen}"))?;
        let local_addr = listener.local_addr()?;
        let tokens = crate::auth::token::Tokens::load(&opts.data_dir.join("token.key"))?;
        let shutdown = CancellationToken::new();
        let program_start = opts.clock.now();
        let connections = crate::api::conns::Connections::new(crate::api::conns::Limits {
            total: opts.guards.max_connections,
            per_address: opts.guards.max_connections_per_address,
        });
        let stats = Arc::new(crate::stats::Stats::new(
            counters,
            program_start,
            connections.clone(),
        ));
        let checker = crate::checker::Checker {
            node_name: node_name.clone(),
            stats: stats.clone(),
            clock: opts.clock.clone(),
        };
        let state = Arc::new(State {
            node_name,
            checker,
            clock: opts.clock.clone(),
            pid: std::process::id(),
            blocklist: Blocklist::new(
                loaded.listener.auth_failure_limit,
                loaded.listener.auth_block_duration,
            ),
            registry,
            library: RwLock::new(Arc::new(loaded.library)),
            config_dir: opts.config_dir(),
            data_dir: opts.data_dir.clone(),
            packages,
            package_update: Arc::new(tokio::sync::Mutex::new(())),
            users: Arc::new(RwLock::new(Arc::new(users))),
            listener: loaded.listener,
            console: Sessions::default(),
            stats,
            connections,
            store,
            writer,
            processor,
            bus,
            schedule_tx,
            streams: Arc::new(crate::events::Streams::new(opts.clock.clone())),
            tokens,
            shutdown: shutdown.clone(),
            exit: Exit::default(),
            evaluator: crate::evaluator::Evaluator::new(
                opts.guards.evaluator_threads,
                shutdown.clone(),
            )?,
            guards: opts.guards.clone(),
        });
        let tracker = TaskTracker::new();
        tracker.spawn(api::serve(
            state.clone(),
            listener,
            TlsAcceptor::from(tls),
            shutdown.clone(),
            tracker.clone(),
        ));
        let scheduling = crate::scheduler::Context {
            registry: state.registry.clone(),
            checker: state.checker.clone(),
            processor: state.processor.clone(),
            schedule_tx: state.schedule_tx.clone(),
        };
        tracker.spawn(crate::scheduler::run(
            Arc::new(scheduling),
            schedule_rx,
            shutdown.clone(),
        ));
        for path in crate::command_pipe::paths(&state) {
            match crate::command_pipe::open(&path) {
                Ok(pipe) => {
                    tracker.spawn(crate::command_pipe::serve(
                        pipe,
                        path,
                        state.clone(),
                        shutdown.clone(),
                    ));
                }
                Err(e) => {
                    tracing::warn!("External command pipe '{}' not opened: {e}", path.display());
                }
            }
        }
        let reg = state.registry();
        tracing::info!(
            address = %local_addr,
            hosts = reg.count("Host"),
            services = reg.count("Service"),
            users = state.users().len(),
            api_objects = restored,
            states = stored_states,
            store_ms = store_read.as_millis() as u64,
            load_ms = loaded_at.as_millis() as u64,
            startup_ms = started.elapsed().as_millis() as u64,
            "Listening for HTTPS API requests."
        );
        Ok(App {
            state,
            local_addr,
            shutdown,
            tracker,
        })
    }

    /// Stops accepting, lets open requests finish within `grace`, then returns.
    pub async fn stop(self, grace: Duration) {
        self.shutdown.cancel();
        self.tracker.close();
        if tokio::time::timeout(grace, self.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!("Shutdown grace period over; terminating open connections.");
        } else {
            tracing::info!("Shut down gracefully.");
        }
        // The store closes when its last handle goes: wait for that, so that the next
        // start needs no repair (running checks may hold handles a little longer).
        let closed = self.state.store.closed();
        drop(self.state);
        if tokio::time::timeout(Duration::from_secs(5), closed)
            .await
            .is_err()
        {
            tracing::warn!("The store was still in use at exit.");
        }
    }
}
