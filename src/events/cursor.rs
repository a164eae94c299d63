//! A subscriber's position in the event sequence: live from the bus while it keeps up,
//! from the durable journal when it resumes (`Last-Event-ID`, `since`) or fell behind.
//!
//! Every event is delivered once, in id order, without gaps: the cursor remembers the last
//! id it delivered, skips anything at or below it, and whenever the next live event is not
//! the very next id (the subscriber lagged, or it is resuming) it reads the journal from
//! its position until it is caught up, then switches back to the bus. Only events older
//! than the journal's retention can be missed; the cursor then reports how many
//! ([`Item::Lost`]) and continues with the oldest it still has.
//!
//! Memory per subscriber is bounded by one journal chunk; the bus's ring is shared.

use std::collections::VecDeque;
use std::sync::Arc;

use tokio::sync::broadcast::{self, error::RecvError};

use crate::bus::{Bus, Event};
use crate::store::Store;

/// Events read from the journal at a time.
const CHUNK: usize = 256;

/// What the cursor yields.
#[derive(Debug)]
pub enum Item {
    Event(Arc<Event>),
    /// `count` events after id `after` are no longer in the journal.
    Lost {
        after: u64,
        count: u64,
    },
}

pub struct Cursor {
    bus: Arc<Bus>,
    store: Store,
    /// The last id delivered (or skipped).
    last: u64,
    /// `None` while catching up from the journal.
    rx: Option<broadcast::Receiver<Arc<Event>>>,
    backlog: VecDeque<Arc<Event>>,
    /// Times the cursor went back to the journal after falling behind.
    pub catch_ups: u64,
}

impl Cursor {
    /// From the next event on.
    pub fn live(bus: Arc<Bus>, store: Store) -> Cursor {
        // The position first: anything published before subscribing is found in the
        // journal (the next live event is then not `last + 1`).
        let last = bus.last_id();
        let rx = Some(bus.subscribe());
        Cursor {
            bus,
            store,
            last,
            rx,
            backlog: VecDeque::new(),
            catch_ups: 0,
        }
    }

    /// From the event after `id` (a resume).
    pub fn after(bus: Arc<Bus>, store: Store, id: u64) -> Cursor {
        let last = id.min(bus.last_id());
        Cursor {
            bus,
            store,
            last,
            rx: None,
            backlog: VecDeque::new(),
            catch_ups: 0,
        }
    }

    /// The id of the last event delivered.
    pub fn position(&self) -> u64 {
        self.last
    }

    /// The next event; `None` once the bus is gone (shutdown). Cancel-safe: dropping the
    /// future loses nothing.
    pub async fn next(&mut self) -> Option<Item> {
        loop {
            while let Some(e) = self.backlog.pop_front() {
                if e.id > self.last {
                    self.last = e.id;
                    return Some(Item::Event(e));
                }
            }
            let Some(rx) = &mut self.rx else {
                if let Some(lost) = self.read_journal().await {
                    return Some(lost);
                }
                continue;
            };
            match rx.recv().await {
                Ok(e) if e.id <= self.last => {}
                Ok(e) if e.id == self.last + 1 => {
                    self.last = e.id;
                    return Some(Item::Event(e));
                }
                // A gap: fell behind, or just resumed. The journal has the rest.
                Ok(_) | Err(RecvError::Lagged(_)) => {
                    self.rx = None;
                    self.catch_ups += 1;
                }
                Err(RecvError::Closed) => return None,
            }
        }
    }

    /// Reads the next chunk after the position into the backlog; goes live again once the
    /// journal has nothing more. Returns the loss report when the journal no longer holds
    /// the next event.
    async fn read_journal(&mut self) -> Option<Item> {
        // Subscribed before reading: whatever is published meanwhile is on the receiver.
        let rx = self.bus.subscribe();
        let store = self.store.clone();
        let after = self.last;
        let read = tokio::task::spawn_blocking(move || store.events_after(after, CHUNK)).await;
        let chunk = match read {
            Ok(Ok((chunk, _))) => chunk,
            Ok(Err(e)) => {
                tracing::error!(error = %e, "Reading the event journal failed.");
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                return None;
            }
            Err(_) => return None,
        };
        if chunk.len() < CHUNK {
            self.rx = Some(rx);
        }
        let lost = match chunk.first() {
            Some(first) if first.id > after + 1 => {
                self.last = first.id - 1;
                Some(Item::Lost {
                    after,
                    count: first.id - after - 1,
                })
            }
            _ => None,
        };
        self.backlog.extend(chunk);
        lost
    }
}
