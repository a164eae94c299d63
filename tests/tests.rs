//! The integration suite: one binary (one link step on a cold cache), one module per
//! area. Every test runs a real server on 127.0.0.1:0 with real TLS and talks to it with a
//! real HTTP client.
//!
//! - `util`: the harness (temporary data and config directories, clients).
//! - `actions`: passive results (single and batch), rescheduling.
//! - `edge`: envelopes, routing, parameters, methods as Icinga's clients send them.
//! - `auth`: Basic and certificate authentication, permissions, blocklist, rate limits.
//! - `objects`: `/v1/objects`, templates, variables, and durability across restarts.
//! - `events`: `/v1/events` as NDJSON, SSE (resume, restart) and WebSocket; tokens.
//! - `durability`: `kill -9` of the real binary after acknowledged writes.
//! - `checks`: active checks with real plugins, SOFT/HARD states, durability.
//! - `cli`: the `auspex` binary: check-config, pki (tickets too), console, completions,
//!   the manual page, log formats.
//! - `reachability`: dependencies and the implicit host dependency of services.
//! - `store_faults`: a lost or damaged store at startup, failed writes at runtime.
//! - `icinga_configs`: configuration trees loaded by Auspex and by Icinga 2, compared.
//! - `security`: restricted users and clients without credentials against secrets,
//!   permissions, budgets and the blocklist.
//! - `hardening`: hostile and malformed requests, slow clients, resource limits.
//! - `packages`: config packages and stages, their validation and activation.
//! - `annotations`: acknowledgements and comments; `downtimes`: downtimes and
//!   ScheduledDowntime objects; `notifications`: who is notified of what, and when;
//!   `commands`: severity, tickets, `execute-command`, feature switches, on-demand
//!   checks, self-service registration, event handlers.
//! - `metrics`: `/metrics` for Prometheus; `tokens`: API tokens, CORS; `protocols`:
//!   HTTP/2, WebSocket over HTTP/2, the client-certificate request, certificate renewal.
//! - `perfdata`: the Graphite and InfluxDB writers against real receivers; `dashboard`:
//!   `/ui` in a real headless Chromium; `director`: Icinga Director deploying to Auspex;
//!   `icingadb`: the `IcingaDB` feature feeding the real `icingadb` daemon; `icingaweb`:
//!   Icinga Web 2 with Icinga DB Web on Auspex, in Chromium.
//! - `cluster`: three `auspex` processes on a real `nats-server -js` — one log on every
//!   node, streams resumed on another node, the leader killed under load, shared checks.
//! - `peers`: the real programs tests run beside Auspex (receivers, browsers, MariaDB).

mod actions;
mod annotations;
mod auth;
mod checks;
mod cli;
mod cluster;
mod commands;
mod dashboard;
mod director;
mod downtimes;
mod durability;
mod edge;
mod events;
mod hardening;
mod icinga_configs;
mod icingadb;
mod icingaweb;
mod metrics;
mod notifications;
mod objects;
mod packages;
mod peers;
mod perfdata;
mod protocols;
mod reachability;
mod security;
mod store_faults;
mod tokens;
mod util;
