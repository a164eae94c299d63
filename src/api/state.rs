//! What request handlers share: the engine, and the API's own parts.

use std::sync::Arc;

use super::console::Sessions;
use super::settings::{EdgeSettings, Guards, ListenerSettings};
use crate::auth::Blocklist;
use crate::engine::Engine;

/// Everything request handlers share.
pub struct State {
    /// The monitoring core.
    pub engine: Arc<Engine>,
    pub blocklist: Blocklist,
    pub listener: ListenerSettings,
    pub console: Sessions,
    /// The open connections: per-address caps, eviction of unauthenticated ones.
    pub connections: Arc<super::conns::Connections>,
    /// Bearer tokens for event streams.
    pub tokens: Arc<crate::auth::token::Tokens>,
    pub guards: Guards,
    /// Client certificates, probes, trusted proxies.
    pub edge: EdgeSettings,
    /// Requests answered, for `/metrics`.
    pub metrics: super::metrics::HttpMetrics,
    /// The cluster this node belongs to, if any.
    pub cluster: Option<Arc<crate::cluster::Node>>,
}

impl State {
    pub fn open_connections(&self) -> usize {
        self.connections.open_count()
    }
}
