//! Event streams (`/v1/events`): who subscribes to what, and how each subscriber walks
//! the event sequence.
//!
//! - [`subscription`]: types, filter and permissions of one subscriber;
//! - [`cursor`]: its position — live from the bus, from the journal when resuming or
//!   catching up — so that it sees every event once, in order;
//! - [`filtered`]: the cursor with the subscription applied, expensive filters on the
//!   evaluator's pool;
//! - [`Streams`]: the open streams, their positions, lag and losses (`/v1/status`).
//!
//! The bytes on the wire (newline-delimited JSON, Server-Sent Events, WebSocket) are the
//! API's: `api::event_feed` and `api::events_ws`.

pub mod cursor;
pub mod filtered;
pub mod subscription;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{json, Value as Json};

use crate::clock::Clock;

pub use cursor::{Cursor, Item};
pub use filtered::Filtered;
pub use subscription::{Refusal, Subscription};

/// One open stream, as `/v1/status` shows it.
#[derive(Debug)]
pub struct StreamInfo {
    pub id: u64,
    pub user: String,
    pub peer: String,
    /// `json` (Icinga's NDJSON), `sse` or `websocket`.
    pub format: &'static str,
    pub types: Vec<String>,
    pub filter: Option<String>,
    pub connected: f64,
    /// The id of the last event the stream passed (delivered or filtered out).
    pub position: AtomicU64,
    pub delivered: AtomicU64,
    /// Events the stream could not get any more (older than the journal's retention).
    pub lost: AtomicU64,
    pub catch_ups: AtomicU64,
}

/// The open streams.
#[derive(Default)]
pub struct Streams {
    next: AtomicU64,
    open: Mutex<BTreeMap<u64, Arc<StreamInfo>>>,
    /// Events delivered and lost by the streams that have closed, by format.
    closed: Mutex<BTreeMap<&'static str, Tally>>,
    clock: Clock,
}

/// Events delivered and lost.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub delivered: u64,
    pub lost: u64,
}

impl StreamInfo {
    /// What the stream has delivered and lost so far.
    pub fn tally(&self) -> Tally {
        Tally {
            delivered: self.delivered.load(Ordering::Relaxed),
            lost: self.lost.load(Ordering::Relaxed),
        }
    }
}

impl std::ops::AddAssign for Tally {
    fn add_assign(&mut self, other: Tally) {
        self.delivered += other.delivered;
        self.lost += other.lost;
    }
}

/// Keeps a stream listed until dropped.
pub struct Registration {
    streams: Arc<Streams>,
    pub info: Arc<StreamInfo>,
}

impl Registration {
    /// The marker this stream gets in place of events it can no longer have.
    pub fn lost_event(&self, after: u64, count: u64) -> Json {
        lost_event(after, count, self.streams.clock.now())
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.streams
            .open
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.info.id);
        *self
            .streams
            .closed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(self.info.format)
            .or_default() += self.info.tally();
    }
}

impl Streams {
    /// No streams yet; they are stamped with `clock`.
    pub fn new(clock: Clock) -> Streams {
        Streams {
            clock,
            ..Streams::default()
        }
    }

    pub fn register(
        self: &Arc<Self>,
        user: &str,
        peer: String,
        format: &'static str,
        subscription: &Subscription,
        position: u64,
    ) -> Registration {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let info = Arc::new(StreamInfo {
            id,
            user: user.to_string(),
            peer,
            format,
            types: subscription.requested.clone(),
            filter: subscription.filter.as_ref().map(|f| f.source().to_string()),
            connected: self.clock.now(),
            position: AtomicU64::new(position),
            delivered: AtomicU64::new(0),
            lost: AtomicU64::new(0),
            catch_ups: AtomicU64::new(0),
        });
        self.open
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, info.clone());
        Registration {
            streams: self.clone(),
            info,
        }
    }

    pub fn count(&self) -> usize {
        self.open.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// The open streams.
    pub fn open(&self) -> Vec<Arc<StreamInfo>> {
        self.open
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect()
    }

    /// Events delivered and lost since the start by the streams of each format, open
    /// and closed.
    pub fn totals(&self) -> BTreeMap<&'static str, Tally> {
        let mut totals = self
            .closed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        for s in self.open() {
            *totals.entry(s.format).or_default() += s.tally();
        }
        totals
    }

    /// The status document: every stream with its lag behind `last_id`.
    pub fn status(&self, last_id: u64) -> Json {
        let open = self.open();
        let streams: Vec<Json> = open
            .iter()
            .map(|s| {
                let position = s.position.load(Ordering::Relaxed);
                json!({
                    "id": s.id,
                    "user": s.user,
                    "peer": s.peer,
                    "format": s.format,
                    "types": s.types,
                    "filter": s.filter,
                    "connected": s.connected,
                    "position": position,
                    "lag": last_id.saturating_sub(position),
                    "delivered": s.delivered.load(Ordering::Relaxed),
                    "lost": s.lost.load(Ordering::Relaxed),
                    "catch_ups": s.catch_ups.load(Ordering::Relaxed),
                })
            })
            .collect();
        json!({
            "last_event_id": last_id,
            "subscribers": streams.len(),
            "streams": streams,
        })
    }
}

fn lost_event(after: u64, count: u64, now: f64) -> Json {
    json!({
        "type": "EventsLost",
        "timestamp": now,
        "after": after,
        "count": count,
        "reason": "The events are older than the journal's retention.",
    })
}
