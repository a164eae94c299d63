//! Auspex: a monitoring engine that speaks the Icinga 2 REST API.
//!
//! # Layout
//! - [`app`]: wiring — options, configuration, the listener; start and stop.
//! - [`clock`]: the one source of time (the system clock, or a manual one in tests).
//! - [`config`]: the built-in template library, the user's `conf.d` files, first-start
//!   defaults (the DSL itself lives in the `filters` crate).
//! - [`objects`]: the object registry and the type table behind `/v1/types`.
//! - [`scheduler`] → [`checker`] → [`processor`]: due checks run as plugin processes (or
//!   built-in checks); their results, and results submitted through the API, change state
//!   in one writer task that commits before it answers.
//! - [`state`]: the runtime state of a host or service — its record, its transitions
//!   (SOFT/HARD, attempts, flapping) and its stored encoding.
//! - [`stats`]: the figures of `/v1/status` and the built-in `icinga` check.
//! - [`timeperiod`]: TimePeriods (Icinga's day definitions, includes, excludes) for
//!   check, notification and dependency periods and scheduled downtimes.
//! - [`logging`]: the configured loggers (`FileLogger`, `SyslogLogger`, `JournaldLogger`).
//! - [`actions`]: `/v1/actions/<name>`, one module per action; [`command_pipe`]: Icinga's
//!   external command pipe, each command run as its action.
//! - [`bus`]: events, serialised once, journaled with the change that caused them,
//!   broadcast to subscribers.
//! - [`evaluator`]: filters and console scripts off the async workers — a bounded pool,
//!   deadlines, cancellation when the client goes away.
//! - [`events`]: event streams — subscriptions, cursors over bus and journal, the stream
//!   formats (`/v1/events`).
//! - [`auth`]: API users, Basic and client-certificate authentication, permissions, the
//!   blocklist.
//! - [`api`]: the HTTPS server — accept loop, TLS, the request edge, routes, handlers.
//! - [`store`]: the durable store (redb, one writer thread, group commit).
//! - [`pki`]: the CA, certificates and signing requests (`auspex pki`, `api setup`).

pub mod actions;
pub mod api;
pub mod app;
pub mod auth;
pub mod bus;
pub mod checker;
pub mod clock;
pub mod command_pipe;
pub mod config;
pub mod engine;
pub mod error;
pub mod evaluator;
pub mod events;
pub mod logging;
pub mod objects;
pub mod outcome;
pub mod packages;
pub mod params;
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

/// The Icinga 2 API level Auspex implements, reported where Icinga reports its version
/// (clients compare it to enable features).
pub const VERSION_STRING: &str = "v2.14.0";

/// Auspex's own version.
pub const AUSPEX_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The `Server` header.
pub const SERVER_HEADER: &str = concat!("Auspex/", env!("CARGO_PKG_VERSION"));
