//! Auspex: a monitoring engine that speaks the Icinga 2 REST API.
//!
//! # Layout
//! Listed from the bottom up: a module imports only modules above it in this list (and
//! never one that imports it back).
//!
//! Foundations:
//! - [`clock`]: the one source of time (the system clock, or a manual one in tests);
//!   [`allocator`]: the allocator's behaviour around the start.
//! - [`error`]: engine errors by kind; [`outcome`]: the per-object result items of an
//!   answer (`{"code", "status", …}`); [`params`]: a request's parameters as Icinga
//!   merges body and query string; [`metrics`]: the shapes of the Prometheus figures.
//! - [`pki`]: the CA, certificates and signing requests (`auspex pki`, `api setup`).
//! - [`permissions`]: `ApiUser` permissions (globs narrowed by filters); [`quota`]:
//!   per-user request and event rates.
//! - [`timeperiod`]: Icinga's day definitions, includes and excludes, for check,
//!   notification and dependency periods and scheduled downtimes.
//! - [`state`]: the runtime state of a host or service — its record, its transitions
//!   (SOFT/HARD, attempts, flapping) and its stored encoding.
//! - [`bus`]: events (typed by [`bus::EventKind`]), serialised once, journaled with the
//!   change that caused them, broadcast to subscribers.
//! - [`store`]: the durable store (redb, one writer thread, group commit).
//!
//! Objects and configuration:
//! - [`objects`]: the object registry, the type table behind `/v1/types`, selection
//!   and output of objects, and the writer that changes them at runtime.
//! - [`auth`]: API users, Basic and client-certificate authentication, tokens, the
//!   blocklist.
//! - [`logging`]: the configured loggers (`FileLogger`, `SyslogLogger`, `JournaldLogger`).
//! - [`packages`]: config packages and stages; [`config`]: the built-in template
//!   library, the user's `conf.d` files, first-start defaults (the DSL itself lives in
//!   the `filters` crate).
//!
//! The monitoring core:
//! - [`checker`] → [`processor`] ← [`scheduler`]: due checks run as plugin processes (or
//!   built-in checks); their results, and results submitted through the API, change
//!   state in one writer task that commits before it answers.
//! - [`stats`]: the figures of `/v1/status` and the built-in `icinga` check.
//! - [`evaluator`]: filters and console scripts off the async workers — a bounded pool,
//!   deadlines, cancellation when the client goes away.
//! - [`events`]: event streams — subscriptions, cursors over bus and journal.
//! - [`workers`]: tasks per configuration object, started, restarted and stopped with it.
//! - [`perfdata`]: Icinga's performance data writers (Graphite, InfluxDB 1 and 2), each
//!   following the events as a stream does.
//! - [`icingadb`]: Icinga's `IcingaDB` feature — configuration, state and history kept in
//!   Redis for the `icingadb` daemon and Icinga DB Web, following the events likewise.
//! - [`engine`]: the handles the core shares, and the loading of a configuration.
//! - [`actions`]: Icinga's actions ([`actions::Action`]), one module per action;
//!   [`command_pipe`]: Icinga's external command pipe, each command run as its action;
//!   [`reload`]: a new configuration switched in live.
//! - [`cluster`]: several nodes on NATS JetStream — one shared log of every commit,
//!   a leader elected by lease, writes forwarded to it, checks shared among the nodes.
//!
//! Edges:
//! - [`api`]: the HTTPS server — accept loop, TLS, the request edge, routes, handlers,
//!   the stream formats; the only module that speaks HTTP.
//! - [`app`]: wiring — options, startup and restore, the listener; start and stop.

pub mod actions;
pub mod allocator;
pub mod api;
pub mod app;
pub mod auth;
pub mod bus;
pub mod checker;
pub mod clock;
pub mod cluster;
pub mod command_pipe;
pub mod config;
pub mod engine;
pub mod error;
pub mod evaluator;
pub mod events;
pub mod icingadb;
pub mod logging;
pub mod metrics;
pub mod objects;
pub mod outcome;
pub mod packages;
pub mod params;
pub mod perfdata;
pub mod permissions;
pub mod pki;
pub mod processor;
pub mod quota;
pub mod reload;
pub mod scheduler;
pub mod state;
pub mod stats;
pub mod store;
pub mod timeperiod;
pub mod workers;

/// The Icinga 2 API level Auspex implements, reported where Icinga reports its version
/// (clients compare it to enable features).
pub const VERSION_STRING: &str = "v2.14.0";

/// Auspex's own version.
pub const AUSPEX_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The `Server` header.
pub const SERVER_HEADER: &str = concat!("Auspex/", env!("CARGO_PKG_VERSION"));
