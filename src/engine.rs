//! The engine: the handles every part of the monitoring core shares — the objects and
//! their writer, the API users, the store, the processor, the checker, the bus, the event
//! streams and the evaluator — and the loading of a configuration into objects.
//!
//! It knows nothing of HTTP: the API wraps it with its own state (listener settings,
//! connections, the blocklist, console sessions, tokens).

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use anyhow::Result;
use tokio_util::sync::CancellationToken;

use crate::auth::Users;
use crate::clock::Clock;
use crate::config;
use crate::objects::writer::Writer;
use crate::objects::{Object, Registry};

pub struct Engine {
    pub node_name: String,
    /// The time every stamp and deadline is taken from.
    pub clock: Clock,
    pub pid: u32,
    /// The objects, their templates and apply rules, and the one writer that changes them.
    pub writer: Writer,
    /// Where the configuration and the config packages live.
    pub config_dir: PathBuf,
    /// Where state, certificates and the store live.
    pub data_dir: PathBuf,
    /// The port the API listens on.
    pub api_port: u16,
    pub packages: crate::packages::Packages,
    /// Held while a config package update validates and activates (423 for another).
    pub package_update: Arc<tokio::sync::Mutex<()>>,
    /// What a configuration must pass besides the objects' own validation (the API
    /// listener's settings), at startup and on reload.
    pub config_check: fn(&Registry) -> Result<()>,
    /// The API users (read them with [`Engine::users`]); [`users_following`] keeps them
    /// current with the objects.
    pub users: Arc<RwLock<Arc<Users>>>,
    /// The durable store.
    pub store: crate::store::Store,
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
    /// The running perfdata writers' figures.
    pub perfdata: Arc<crate::perfdata::Status>,
    /// The running IcingaDB writers' figures, and the `/v1/status` items their
    /// heartbeat carries (set once the API runs).
    pub icingadb: Arc<crate::icingadb::Status>,
    pub status_items: Arc<std::sync::Mutex<Option<crate::icingadb::StatusItems>>>,
    /// Runs filters and console scripts off the async workers.
    pub evaluator: Arc<crate::evaluator::Evaluator>,
    /// Fires when the server stops (long-lived streams end).
    pub shutdown: CancellationToken,
    /// Set by `shutdown-process` / `restart-process`.
    pub exit: Exit,
}

/// A stop asked for through the API.
#[derive(Default)]
pub struct Exit {
    pub requested: CancellationToken,
    pub restart: std::sync::atomic::AtomicBool,
}

impl Engine {
    /// What the configuration is loaded for.
    pub fn site(&self) -> config::Site {
        config::Site {
            config_dir: self.config_dir.clone(),
            data_dir: self.data_dir.clone(),
            node_name: self.node_name.clone(),
            api_port: Some(self.api_port),
        }
    }

    /// The current object snapshot.
    pub fn registry(&self) -> Arc<Registry> {
        self.writer.registry()
    }

    /// The current templates, apply rules and constants.
    pub fn library(&self) -> Arc<filters::config::Library> {
        self.writer.library()
    }

    /// The current API users.
    pub fn users(&self) -> Arc<Users> {
        self.users.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Loads and validates the configuration with the config package stages `packages`.
    ///
    /// # Errors
    /// Configuration errors, rendered.
    pub fn load(&self, packages: &[(String, PathBuf)]) -> Result<Loaded> {
        let loaded = load(&self.site(), packages, self.clock.now())?;
        (self.config_check)(&loaded.registry)?;
        Ok(loaded)
    }
}

/// The API users, kept current with the published objects: they are read from their
/// objects, whether configured or created through the API.
pub fn users_following(users: &Arc<RwLock<Arc<Users>>>) -> crate::objects::writer::PublishHook {
    let users = users.clone();
    Arc::new(move |registry: &Registry| {
        let current = users.read().unwrap_or_else(|e| e.into_inner()).clone();
        if !current.current_in(registry) {
            match current.updated(registry) {
                Ok(next) => *users.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(next),
                Err(e) => tracing::error!("API users not updated: {e}"),
            }
        }
    })
}

/// A loaded configuration.
pub struct Loaded {
    pub registry: Registry,
    pub library: filters::config::Library,
    pub users: Users,
}

/// Loads and validates the configuration of `site` with the active config package
/// stages (package, stage directory), at `now`.
///
/// # Errors
/// Configuration errors, rendered with file, line and caret.
pub fn load(site: &config::Site, packages: &[(String, PathBuf)], now: f64) -> Result<Loaded> {
    let began = std::time::Instant::now();
    let (items, library) = config::load_with_packages(site, packages)?;
    let evaluated = began.elapsed();
    let mut registry =
        Registry::from_items_in(items, packages, now).map_err(config::ConfigErrors)?;
    if let Some(port) = site.api_port {
        registry.default_endpoint_port(&site.node_name, port);
    }
    tracing::debug!(
        evaluate_ms = evaluated.as_millis() as u64,
        build_ms = (began.elapsed() - evaluated).as_millis() as u64,
        "Configuration objects built."
    );
    let users = Users::from_registry(&registry).map_err(|e| config::ConfigErrors(vec![e]))?;
    crate::logging::validate(&registry).map_err(|e| config::ConfigErrors(vec![e]))?;
    Ok(Loaded {
        registry,
        library,
        users,
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
