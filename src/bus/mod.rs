//! The event bus: every change the processor or the object writer commits is published
//! here once, serialised once, with a monotonically increasing id; subscribers share the
//! bytes.
//!
//! Ids are assigned by the store's writer thread when it appends the events to the
//! durable journal, and it publishes them after the commit, in id order: a subscriber
//! never sees an event that a crash could take back, and ids have no gaps or reordering.
//! The journal ([`crate::store::Store::events_after`]) serves resumes and subscribers that
//! fell behind.
//!
//! The broadcast channel is bounded: a subscriber that falls behind by more than
//! [`CAPACITY`] events sees `Lagged(n)` and catches up from the journal; publishing never
//! waits for a subscriber.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use serde_json::Value as Json;

use tokio::sync::broadcast;

pub mod inbox;
pub use inbox::{Interest, Received};

/// Events kept in memory for slow subscribers before they lag.
pub const CAPACITY: usize = 16_384;

/// Every event type Icinga's `/v1/events` streams. The discriminant is how the journal
/// stores the type and how subscriptions test it (a bit per type): never reorder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum EventKind {
    AcknowledgementCleared = 0,
    AcknowledgementSet = 1,
    CheckResult = 2,
    CommentAdded = 3,
    CommentRemoved = 4,
    DowntimeAdded = 5,
    DowntimeRemoved = 6,
    DowntimeStarted = 7,
    DowntimeTriggered = 8,
    Flapping = 9,
    Notification = 10,
    ObjectCreated = 11,
    ObjectDeleted = 12,
    ObjectModified = 13,
    StateChange = 14,
}

impl EventKind {
    pub const ALL: [EventKind; 15] = [
        EventKind::AcknowledgementCleared,
        EventKind::AcknowledgementSet,
        EventKind::CheckResult,
        EventKind::CommentAdded,
        EventKind::CommentRemoved,
        EventKind::DowntimeAdded,
        EventKind::DowntimeRemoved,
        EventKind::DowntimeStarted,
        EventKind::DowntimeTriggered,
        EventKind::Flapping,
        EventKind::Notification,
        EventKind::ObjectCreated,
        EventKind::ObjectDeleted,
        EventKind::ObjectModified,
        EventKind::StateChange,
    ];

    /// The type's name in events (`type`) and subscriptions (`types`).
    pub fn name(self) -> &'static str {
        match self {
            EventKind::AcknowledgementCleared => "AcknowledgementCleared",
            EventKind::AcknowledgementSet => "AcknowledgementSet",
            EventKind::CheckResult => "CheckResult",
            EventKind::CommentAdded => "CommentAdded",
            EventKind::CommentRemoved => "CommentRemoved",
            EventKind::DowntimeAdded => "DowntimeAdded",
            EventKind::DowntimeRemoved => "DowntimeRemoved",
            EventKind::DowntimeStarted => "DowntimeStarted",
            EventKind::DowntimeTriggered => "DowntimeTriggered",
            EventKind::Flapping => "Flapping",
            EventKind::Notification => "Notification",
            EventKind::ObjectCreated => "ObjectCreated",
            EventKind::ObjectDeleted => "ObjectDeleted",
            EventKind::ObjectModified => "ObjectModified",
            EventKind::StateChange => "StateChange",
        }
    }

    pub fn from_name(name: &str) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The journal's and the subscriptions' number for the type.
    pub fn index(self) -> u8 {
        self as u8
    }

    pub fn from_index(index: u8) -> Option<EventKind> {
        EventKind::ALL.get(usize::from(index)).copied()
    }
}

/// One published event.
#[derive(Debug)]
pub struct Event {
    /// Monotonically increasing, starting at 1, never reused (also across restarts).
    pub id: u64,
    /// The Icinga event type (`CheckResult`, `StateChange`, …).
    pub kind: EventKind,
    /// `kind` as its [`EventKind::index`].
    pub index: u8,
    /// The event as compact JSON (no trailing newline), shared by every subscriber.
    pub json: Bytes,
    /// The event as a filter value (`event` in `/v1/events` filters): built on first use,
    /// then shared.
    value: OnceLock<filters::Value>,
    /// The event as each stream format sends it: built on first use, then shared by every
    /// subscriber of that format.
    ndjson: OnceLock<Bytes>,
    sse: OnceLock<Bytes>,
    ws: OnceLock<Bytes>,
}

impl Event {
    pub fn new(id: u64, kind: EventKind, json: Bytes) -> Event {
        Event {
            id,
            kind,
            index: kind.index(),
            json,
            value: OnceLock::new(),
            ndjson: OnceLock::new(),
            sse: OnceLock::new(),
            ws: OnceLock::new(),
        }
    }

    /// Icinga's stream line: the JSON with the event's `id` added as its last member
    /// (what `since=` resumes after), and a newline.
    pub fn ndjson(&self) -> Bytes {
        self.ndjson
            .get_or_init(|| {
                let mut b = Vec::with_capacity(self.json.len() + 24);
                match self.json.strip_suffix(b"}") {
                    Some(open) if self.json.starts_with(b"{") => {
                        b.extend_from_slice(open);
                        if open.len() > 1 {
                            b.push(b',');
                        }
                        b.extend_from_slice(format!("\"id\":{}}}", self.id).as_bytes());
                    }
                    _ => b.extend_from_slice(&self.json),
                }
                b.push(b'\n');
                b.into()
            })
            .clone()
    }

    /// A Server-Sent Events message: `id`, `event` (the type) and `data` (the JSON).
    pub fn sse(&self) -> Bytes {
        self.sse
            .get_or_init(|| {
                format!(
                    "id: {}\nevent: {}\ndata: {}\n\n",
                    self.id,
                    self.kind.name(),
                    String::from_utf8_lossy(&self.json)
                )
                .into()
            })
            .clone()
    }

    /// A WebSocket text message: `{"id":…,"event":{…}}`.
    pub fn ws(&self) -> Bytes {
        self.ws
            .get_or_init(|| {
                let mut b = Vec::with_capacity(self.json.len() + 32);
                b.extend_from_slice(format!("{{\"id\":{},\"event\":", self.id).as_bytes());
                b.extend_from_slice(&self.json);
                b.push(b'}');
                b.into()
            })
            .clone()
    }

    /// The event as the DSL sees it.
    pub fn value(&self) -> &filters::Value {
        self.value.get_or_init(|| {
            serde_json::from_slice::<Json>(&self.json)
                .map(|j| filters::Value::from_json(&j))
                .unwrap_or_default()
        })
    }
}

/// An event waiting for its commit: the id comes with the journal append.
pub type Pending = (EventKind, Bytes);

/// The bus.
pub struct Bus {
    tx: broadcast::Sender<Arc<Event>>,
    last_id: AtomicU64,
    /// Events published since the start, by type (index: [`EventKind::index`]).
    published: [AtomicU64; EventKind::ALL.len()],
    /// Subscribers of a few hosts (see [`inbox`]).
    inboxes: inbox::Inboxes,
    /// Events the ring holds: also how far behind an inbox may fall.
    capacity: usize,
}

impl Default for Bus {
    fn default() -> Self {
        Bus::new()
    }
}

impl Bus {
    pub fn new() -> Self {
        Bus::with_capacity(CAPACITY)
    }

    /// A bus whose ring holds `capacity` events.
    pub fn with_capacity(capacity: usize) -> Self {
        let (tx, _) = broadcast::channel(capacity.max(1));
        Bus {
            tx,
            last_id: AtomicU64::new(0),
            published: std::array::from_fn(|_| AtomicU64::new(0)),
            inboxes: inbox::Inboxes::default(),
            capacity: capacity.max(1),
        }
    }

    /// Publishes a committed event; only the store's writer calls this, in id order.
    pub(crate) fn publish(&self, event: Arc<Event>) {
        self.last_id.store(event.id, Ordering::Release);
        if let Some(n) = self.published.get(usize::from(event.kind.index())) {
            n.fetch_add(1, Ordering::Relaxed);
        }
        // No subscribers is fine: nobody is listening.
        let _ = self.tx.send(event);
    }

    /// Sets the last id at startup (from the journal).
    pub(crate) fn start_after(&self, id: u64) {
        self.last_id.store(id, Ordering::Release);
    }

    /// The id of the last published event (0 before the first).
    pub fn last_id(&self) -> u64 {
        self.last_id.load(Ordering::Acquire)
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.tx.subscribe()
    }

    /// An inbox that gets the events of `interest` (see [`inbox`]); it leaves the bus
    /// when the registration is dropped.
    pub fn register(&self, interest: &Interest) -> inbox::Registration {
        self.inboxes
            .register(interest, self.capacity as u64, || self.tx.subscribe())
    }

    /// Events of each type published since the start.
    pub fn published(&self) -> impl Iterator<Item = (EventKind, u64)> + '_ {
        EventKind::ALL
            .into_iter()
            .zip(&self.published)
            .map(|(k, n)| (k, n.load(Ordering::Relaxed)))
    }

    /// Subscribers currently attached.
    pub fn subscribers(&self) -> usize {
        self.tx.receiver_count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The journal stores a type as its index: names and indexes round-trip, and the
    /// numbering is the one stored journals were written with.
    /// NDJSON lines end with the event id as the object's last member.
    #[test]
    fn ndjson_lines_carry_the_id() {
        let e = Event::new(
            7,
            EventKind::CheckResult,
            Bytes::from_static(br#"{"type":"CheckResult"}"#),
        );
        assert_eq!(
            &e.ndjson()[..],
            &b"{\"type\":\"CheckResult\",\"id\":7}\n"[..]
        );
        let empty = Event::new(8, EventKind::CheckResult, Bytes::from_static(b"{}"));
        assert_eq!(&empty.ndjson()[..], &b"{\"id\":8}\n"[..]);
    }

    #[test]
    fn event_kinds_round_trip_and_keep_their_numbers() {
        for (i, k) in EventKind::ALL.into_iter().enumerate() {
            assert_eq!(usize::from(k.index()), i);
            assert_eq!(EventKind::from_index(k.index()), Some(k));
            assert_eq!(EventKind::from_name(k.name()), Some(k));
        }
        assert_eq!(EventKind::CheckResult.index(), 2);
        assert_eq!(EventKind::StateChange.index(), 14);
        assert_eq!(EventKind::from_index(15), None);
        assert_eq!(EventKind::from_name("checkresult"), None);
    }
}
