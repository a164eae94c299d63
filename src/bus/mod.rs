//! The event bus: every state change the processor commits is published here once,
//! serialised once, with a monotonically increasing id; subscribers share the bytes.
//!
//! The broadcast channel is bounded: a subscriber that falls behind by more than
//! [`CAPACITY`] events sees `Lagged(n)` and decides what to tell its client (the streams
//! of `/v1/events` do that); publishing never waits for a subscriber.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

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
    /// The event as a filter value (`event` in `/v1/events` filters): built on first use,
    /// then shared.
    value: OnceLock<filters::Value>,
}

impl Event {
    /// The event as the DSL sees it.
    pub fn value(&self) -> &filters::Value {
        self.value.get_or_init(|| {
            serde_json::from_slice::<Json>(&self.json)
                .map(|j| filters::Value::from_json(&j))
                .unwrap_or_default()
        })
    }
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

    /// Publishes an event already serialised (an object with `type` and `timestamp`).
    pub fn publish(&self, kind: &'static str, json: Bytes) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let event = Arc::new(Event {
            id,
            kind,
            json,
            value: OnceLock::new(),
        });
        // No subscribers is fine: nobody is listening.
        let _ = self.tx.send(event);
        id
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.tx.subscribe()
    }
}
