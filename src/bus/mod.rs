//! The event bus: every state change the processor commits is published here once,
//! serialised once, with a monotonically increasing id; subscribers share the bytes.
//!
//! The broadcast channel is bounded: a subscriber that falls behind by more than
//! [`CAPACITY`] events sees `Lagged(n)` and decides what to tell its client (the streams
//! of `/v1/events` do that); publishing never waits for a subscriber.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use serde_json::Value as Json;
use tokio::sync::broadcast;

/// Events kept for slow subscribers before they lag.
pub const CAPACITY: usize = 65_536;

/// One published event.
#[derive(Debug)]
pub struct Event {
    /// Monotonically increasing, starting at 1.
    pub id: u64,
    /// The Icinga event type (`CheckResult`, `StateChange`, …).
    pub kind: &'static str,
    /// The event as compact JSON (no trailing newline), shared by every subscriber.
    pub json: Bytes,
    /// The event as a filter value (`event` in `/v1/events` filters), built once.
    pub value: filters::Value,
}

/// The bus.
pub struct Bus {
    tx: broadcast::Sender<Arc<Event>>,
    next_id: AtomicU64,
}

impl Default for Bus {
    fn default() -> Self {
        Bus::new()
    }
}

impl Bus {
    pub fn new() -> Self {
        let (tx, _) = broadcast::channel(CAPACITY);
        Bus {
            tx,
            next_id: AtomicU64::new(1),
        }
    }

    /// Publishes an event; `body` is the event object (with `type` and `timestamp`).
    pub fn publish(&self, kind: &'static str, body: Json) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let json = Bytes::from(serde_json::to_vec(&body).unwrap_or_default());
        let event = Arc::new(Event {
            id,
            kind,
            json,
            value: filters::Value::from_json(&body),
        });
        // No subscribers is fine: nobody is listening.
        let _ = self.tx.send(event);
        id
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.tx.subscribe()
    }
}
