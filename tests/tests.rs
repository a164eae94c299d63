//! The integration suite: one binary (one link step on a cold cache), one module per
//! area. Every test runs a real server on 127.0.0.1:0 with real TLS and talks to it with a
//! real HTTP client.
//!
//! - `util`: the harness (temporary data and config directories, clients).
//! - `edge`: envelopes, routing, parameters, methods as Icinga's clients send them.
//! - `auth`: Basic and certificate authentication, permissions, blocklist, rate limits.
//! - `cli`: the `auspex` binary: check-config, pki, console.

mod auth;
mod cli;
mod edge;
mod util;
