//! Wiring: builds every component from the options, starts the API listener, owns the
//! tasks and stops them under a deadline.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::api::console::Sessions;
use crate::api::{self, ListenerSettings, State};
use crate::auth::Blocklist;
use crate::clock::Clock;
use crate::config;
use crate::engine::{self, Engine};
use crate::objects::Published;
use crate::pki;

pub use crate::api::Guards;

mod restore;
use restore::{parse_states, restore_states, snapshot_states};

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
    /// Client certificates, probes, trusted proxies.
    pub edge: crate::api::settings::EdgeSettings,
    /// Start with an empty store when the stored one is missing, empty or damaged.
    pub reinitialize: bool,
    /// The time the engine runs on: the system clock, or a manual one in tests.
    pub clock: Clock,
    /// The cluster to join; standalone when absent.
    pub cluster: Option<crate::cluster::Options>,
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
            api_port: None,
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

/// Loads and validates the configuration of `site` (what `check-config` runs).
///
/// # Errors
/// Every configuration error, rendered with file, line and caret.
pub fn load_config(site: &config::Site) -> Result<engine::Loaded> {
    let loaded = engine::load(site, &[], crate::clock::system_now())?;
    ListenerSettings::check(&loaded.registry)?;
    Ok(loaded)
}

/// The objects of a configuration given as text (one file, node `node`), for tests.
#[cfg(test)]
pub(crate) fn registry_of(config: &str) -> Result<crate::objects::Registry> {
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("test.conf"), config)?;
    Ok(load_config(&config::Site {
        config_dir: dir.path().into(),
        data_dir: dir.path().join("data"),
        node_name: "node".into(),
        api_port: None,
    })?
    .registry)
}

/// `api setup`: the PKI, and the defaults (an ApiUser `root` with a random password,
/// templates, with `demo` the checks of this machine) in the configuration directory —
/// the given one too (a package's `/etc/auspex`) — unless it holds files already. Returns
/// the new root password, if one was generated.
pub fn setup_into(opts: &Options, demo: bool) -> Result<Option<String>> {
    let dir = opts.config_dir();
    let empty = std::fs::read_dir(&dir).map_or(true, |mut entries| entries.next().is_none());
    let password = if opts.config_dir.is_none() || empty {
        config::defaults::write(&dir, demo && empty)?.root_password
    } else {
        None
    };
    setup(opts, false).map(|p| p.or(password))
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

/// Renews the node certificate when it expires within [`pki::RENEW_BEFORE`] (as Icinga
/// renews its own); `true` when it did.
fn renew_node_certificate(paths: &pki::Paths, node_name: &str) -> bool {
    match pki::renew_if_due(paths, node_name, pki::RENEW_BEFORE) {
        Ok(Some(expires)) => {
            tracing::info!(cert = %paths.cert.display(), %expires, "Renewed the node certificate.");
            true
        }
        Ok(None) => false,
        Err(e) => {
            tracing::warn!(cert = %paths.cert.display(), "The node certificate could not be checked or renewed: {e:#}");
            false
        }
    }
}

/// Checks the node certificate twice a day while serving; a renewed one is presented to
/// the next handshakes without a restart.
async fn renew_periodically(
    paths: pki::Paths,
    node_name: String,
    cert: Arc<api::tls::NodeCert>,
    shutdown: CancellationToken,
) {
    const EVERY: std::time::Duration = std::time::Duration::from_secs(12 * 3600);
    loop {
        tokio::select! {
            () = tokio::time::sleep(EVERY) => {}
            () = shutdown.cancelled() => return,
        }
        let (p, n) = (paths.clone(), node_name.clone());
        let renewed = tokio::task::spawn_blocking(move || renew_node_certificate(&p, &n))
            .await
            .unwrap_or(false);
        if renewed {
            if let Err(e) = cert.reload(&paths) {
                tracing::error!("The renewed node certificate is not in use: {e:#}");
            }
        }
    }
}

/// A running server.
pub struct App {
    pub state: Arc<State>,
    pub local_addr: SocketAddr,
    shutdown: CancellationToken,
    tracker: TaskTracker,
}

/// How long a stop waits for the store to close after the first five seconds.
const STORE_CLOSE: Duration = Duration::from_secs(60);

impl App {
    /// Loads everything and starts listening.
    ///
    /// # Errors
    /// Configuration, certificate or bind failures.
    pub async fn start(opts: Options) -> Result<App> {
        std::fs::create_dir_all(&opts.data_dir)
            .with_context(|| format!("creating {}", opts.data_dir.display()))?;
        let started = std::time::Instant::now();
        let start = crate::allocator::Start::begin();
        let node_name = opts.node_name();
        let bus = Arc::new(crate::bus::Bus::new());
        // The store is read while the configuration loads (neither needs the other).
        let opening = {
            let path = opts.data_dir.join("state.redb");
            let (bus, retention) = (bus.clone(), opts.event_retention);
            let mode = crate::store::Mode {
                reinitialize: opts.reinitialize,
                defer_snapshot: true,
            };
            std::thread::Builder::new()
                .name("store-read".into())
                .spawn(move || {
                    let began = std::time::Instant::now();
                    // The snapshot is read and parsed while the store is verified; used
                    // only if the store vouches for it.
                    let prefetch = restore::prefetch_snapshot(&path)?;
                    let (store, mut contents) =
                        crate::store::Store::open_with(&path, bus, retention, mode)?;
                    let states = match contents.snapshot {
                        Some(token) => match prefetch.take(token) {
                            Some(states) => states,
                            None => parse_states(store.read_states()?),
                        },
                        None => {
                            prefetch.cancel();
                            parse_states(std::mem::take(&mut contents.states))
                        }
                    };
                    anyhow::Ok((store, contents, states, began.elapsed()))
                })?
        };
        let packages = crate::packages::Packages::new(crate::packages::root(&opts.data_dir));
        let loaded = engine::load(&opts.site(), &packages.active(), opts.clock.now());
        let opened = opening
            .join()
            .map_err(|_| anyhow::anyhow!("reading the store failed"))?;
        let mut loaded = loaded?;
        let listener_settings = ListenerSettings::from_registry(&loaded.registry)?;
        let listen = opts
            .listen
            .or(listener_settings.bind)
            .unwrap_or(SocketAddr::from(([0, 0, 0, 0], 5665)));
        let listener = TcpListener::bind(listen)
            .await
            .with_context(|| format!("binding {listen}"))?;
        let local_addr = listener.local_addr()?;
        loaded
            .registry
            .default_endpoint_port(&node_name, local_addr.port());
        crate::logging::configure(&loaded.registry);
        engine::warn_inert(&loaded.registry);
        let (store, mut contents, states, store_read) = opened?;
        let stored_tokens = std::mem::take(&mut contents.tokens);
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
        let users = Arc::new(RwLock::new(Arc::new(users)));
        let (schedule_tx, schedule_rx) = tokio::sync::mpsc::unbounded_channel();
        let objects = Published::new(loaded.registry);
        {
            let objects = objects.clone();
            store.snapshot_on_close(Box::new(move || snapshot_states(&objects, orphans)));
        }
        // Every publish keeps the API users current and tells the perfdata writers.
        let (published_tx, published_rx) = tokio::sync::watch::channel(());
        let on_publish: crate::objects::writer::PublishHook = {
            let users = engine::users_following(&users);
            Arc::new(move |registry: &crate::objects::Registry| {
                users(registry);
                published_tx.send_replace(());
            })
        };
        let writer = crate::objects::writer::Writer::new(
            objects.clone(),
            loaded.library,
            store.clone(),
            opts.clock.clone(),
            on_publish,
        );
        let counters = Arc::new(crate::processor::counters::CheckCounters::default());
        let processing = crate::processor::Context {
            store: store.clone(),
            registry: objects.clone(),
            writer: writer.lock_handle(),
            schedule: schedule_tx.clone(),
            zone: node_name.as_str().into(),
            counters: counters.clone(),
            clock: opts.clock.clone(),
        };
        // In a cluster the node serves the processor's commands: itself when it leads,
        // by forwarding to the leader when it follows.
        let (processor, inbox) = crate::processor::Processor::channel();
        let processing = match opts.cluster {
            Some(_) => Some((inbox, processing)),
            None => {
                let mut inbox = inbox;
                tokio::spawn(async move {
                    let never = CancellationToken::new();
                    crate::processor::serve(&mut inbox, &processing, &never).await;
                });
                None
            }
        };
        renew_node_certificate(&opts.pki_paths(), &opts.node_name());
        let tls = api::tls::server_config(&opts.pki_paths(), opts.edge.client_certificates)?;
        let node_cert = tls.node_cert.clone();
        let tokens = Arc::new(crate::auth::token::Tokens::load(
            &opts.data_dir.join("token.key"),
        )?);
        tokens.restore(stored_tokens);
        let shutdown = CancellationToken::new();
        let program_start = opts.clock.now();
        let connections = crate::api::conns::Connections::new(crate::api::conns::Limits {
            total: opts.guards.max_connections,
            per_address: opts.guards.max_connections_per_address,
        });
        let stats = Arc::new(crate::stats::Stats::new(counters, program_start, {
            let connections = connections.clone();
            move || connections.open_count()
        }));
        let checker = crate::checker::Checker {
            node_name: node_name.as_str().into(),
            running: stats.running_checks.clone(),
            stats: stats.clone(),
            clock: opts.clock.clone(),
        };
        let guards = &opts.guards;
        let engine = Arc::new(Engine {
            node_name,
            clock: opts.clock.clone(),
            pid: std::process::id(),
            writer,
            config_dir: opts.config_dir(),
            data_dir: opts.data_dir.clone(),
            api_port: local_addr.port(),
            packages,
            package_update: Arc::default(),
            config_check: ListenerSettings::check,
            users,
            store,
            processor,
            stats,
            checker,
            bus,
            schedule_tx,
            streams: Arc::new(crate::events::Streams::new(opts.clock.clone())),
            perfdata: Arc::default(),
            icingadb: Arc::default(),
            status_items: Arc::default(),
            evaluator: Arc::new(crate::evaluator::Evaluator::new(
                guards.evaluator_threads,
                crate::evaluator::FilterLimits {
                    budget: guards.filter_budget,
                    steps: guards.filter_steps,
                },
                shutdown.clone(),
            )?),
            shutdown: shutdown.clone(),
            exit: engine::Exit::default(),
        });
        let (share_tx, share) = tokio::sync::watch::channel(if opts.cluster.is_some() {
            crate::scheduler::nothing()
        } else {
            crate::scheduler::everything()
        });
        let mut cluster_tasks = Vec::new();
        let cluster = match (opts.cluster.clone(), processing) {
            (Some(options), Some((inbox, processing))) => {
                let (node, tasks) = crate::cluster::start(
                    engine.clone(),
                    options,
                    inbox,
                    processing,
                    share_tx,
                    tokens.clone(),
                    shutdown.clone(),
                )
                .await?;
                cluster_tasks = tasks;
                Some(node)
            }
            _ => None,
        };
        let state = Arc::new(State {
            cluster: cluster.clone(),
            engine: engine.clone(),
            blocklist: Blocklist::new(
                listener_settings.auth_failure_limit,
                listener_settings.auth_block_duration,
            ),
            listener: listener_settings,
            console: Sessions::default(),
            connections,
            tokens,
            guards: opts.guards.clone(),
            edge: opts.edge.clone(),
            metrics: crate::api::metrics::HttpMetrics::default(),
        });
        let tracker = TaskTracker::new();
        // A stop waits for the node to leave its cluster cleanly.
        for task in cluster_tasks {
            tracker.spawn(async move {
                let _ = task.await;
            });
        }
        tracker.spawn(api::serve(
            state.clone(),
            listener,
            tls,
            shutdown.clone(),
            tracker.clone(),
        ));
        tracker.spawn(api::forward::serve(state.clone(), shutdown.clone()));
        tracker.spawn(crate::perfdata::run(
            crate::perfdata::Context {
                objects: engine.writer.objects.clone(),
                bus: engine.bus.clone(),
                store: engine.store.clone(),
                clock: engine.clock.clone(),
                status: engine.perfdata.clone(),
            },
            published_rx.clone(),
            shutdown.clone(),
        ));
        {
            let state = Arc::downgrade(&state);
            let items: crate::icingadb::StatusItems = Arc::new(move || {
                state
                    .upgrade()
                    .map(|s| crate::api::status::collect(&s))
                    .unwrap_or_default()
            });
            *engine
                .status_items
                .lock()
                .unwrap_or_else(|e| e.into_inner()) = Some(items);
        }
        tracker.spawn(crate::icingadb::run(
            crate::icingadb::Context {
                objects: engine.writer.objects.clone(),
                bus: engine.bus.clone(),
                store: engine.store.clone(),
                clock: engine.clock.clone(),
                node_name: engine.node_name.clone(),
                data_dir: opts.data_dir.clone(),
                ca_cert: opts.pki_paths().ca_cert,
                environment: String::new(),
                program_start: engine.stats.program_start,
                status_items: engine.status_items.clone(),
                status: engine.icingadb.clone(),
                stats: engine.stats.clone(),
            },
            published_rx,
            shutdown.clone(),
        ));
        tracker.spawn(renew_periodically(
            opts.pki_paths(),
            opts.node_name(),
            node_cert,
            shutdown.clone(),
        ));
        let scheduling = crate::scheduler::Context {
            registry: objects,
            checker: engine.checker.clone(),
            processor: engine.processor.clone(),
            schedule_tx: engine.schedule_tx.clone(),
            share,
        };
        tracker.spawn(crate::scheduler::run(
            Arc::new(scheduling),
            schedule_rx,
            shutdown.clone(),
        ));
        for path in crate::command_pipe::paths(&engine) {
            match crate::command_pipe::open(&path) {
                Ok(pipe) => {
                    tracker.spawn(crate::command_pipe::serve(
                        pipe,
                        path,
                        engine.clone(),
                        shutdown.clone(),
                    ));
                }
                Err(e) => {
                    tracing::warn!("External command pipe '{}' not opened: {e}", path.display());
                }
            }
        }
        let reg = engine.registry();
        tracing::info!(
            address = %local_addr,
            hosts = reg.count("Host"),
            services = reg.count("Service"),
            users = engine.users().len(),
            api_objects = restored,
            states = stored_states,
            store_ms = store_read.as_millis() as u64,
            load_ms = loaded_at.as_millis() as u64,
            startup_ms = started.elapsed().as_millis() as u64,
            "Listening for HTTPS API requests."
        );
        drop(start);
        Ok(App {
            state,
            local_addr,
            shutdown,
            tracker,
        })
    }

    /// Stops accepting, lets open requests finish within `grace`, then waits for the
    /// store to close (at most [`STORE_CLOSE`] more).
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
        // A large site's state snapshot takes seconds to write; an exit before it ends
        // costs the next start a repair and a read of every state.
        let mut closed = std::pin::pin!(self.state.engine.store.closed());
        drop(self.state);
        if tokio::time::timeout(Duration::from_secs(5), &mut closed)
            .await
            .is_err()
        {
            tracing::info!("Waiting for the store to close (writing the state snapshot).");
            if tokio::time::timeout(STORE_CLOSE, closed).await.is_err() {
                tracing::warn!("The store was still in use at exit.");
            }
        }
    }
}
