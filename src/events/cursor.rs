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
//! A cursor narrowed to some hosts ([`Cursor::narrow`]) is live from its own inbox
//! instead of the ring (see [`crate::bus::inbox`]): it wakes only for those hosts' events,
//! and goes to the journal when the inbox overflowed. In the journal it sees every event;
//! its subscription's filter decides, as always.
//!
//! Memory per subscriber is bounded by one journal chunk (and a narrowed one's inbox);
//! the bus's ring is shared.

use std::collections::VecDeque;
use std::sync::Arc;

use tokio::sync::broadcast::{self, error::RecvError};

use crate::bus::inbox::Registration;
use crate::bus::{Bus, Event, Interest, Received};
use crate::store::Store;

/// Events read from the journal at a time: what a stalled subscriber holds at most (its
/// copies are its own), so small — 256 held ~360 KB per stalled subscriber.
const CHUNK: usize = 32;

/// What the cursor yields.
#[derive(Clone, Debug)]
pub enum Item {
    Event(Arc<Event>),
    /// `count` events after id `after` are no longer in the journal.
    Lost {
        after: u64,
        count: u64,
    },
}

/// Where the cursor's live events come from.
enum Source {
    /// The bus's ring; `None` while catching up from the journal.
    Ring(Option<broadcast::Receiver<Arc<Event>>>),
    /// An inbox of the subscriber's interest; `live` is false while catching up.
    Inbox {
        registration: Registration,
        live: bool,
    },
}

pub struct Cursor {
    bus: Arc<Bus>,
    store: Store,
    /// The last id delivered (or skipped).
    last: u64,
    source: Source,
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
        let source = Source::Ring(Some(bus.subscribe()));
        Cursor {
            bus,
            store,
            last,
            source,
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
            source: Source::Ring(None),
            backlog: VecDeque::new(),
            catch_ups: 0,
        }
    }

    /// From now on only events of `interest` come live (from an inbox, not the ring); the
    /// journal still yields every event. The caller filters as before: this only spares
    /// waking for events it would drop.
    pub fn narrow(&mut self, interest: &Interest) {
        let registration = self.bus.register(interest);
        let live = matches!(self.source, Source::Ring(Some(_)));
        if live {
            // Registered first: whatever comes after this position reaches the inbox.
            self.last = self.last.max(self.bus.last_id());
        }
        self.source = Source::Inbox { registration, live };
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
            match &mut self.source {
                Source::Ring(Some(rx)) => match rx.recv().await {
                    Ok(e) if e.id <= self.last => {}
                    Ok(e) if e.id == self.last + 1 => {
                        self.last = e.id;
                        return Some(Item::Event(e));
                    }
                    // A gap: fell behind, or just resumed. The journal has the rest.
                    Ok(_) | Err(RecvError::Lagged(_)) => {
                        self.source = Source::Ring(None);
                        self.catch_ups += 1;
                    }
                    Err(RecvError::Closed) => return None,
                },
                Source::Inbox {
                    registration,
                    live: live @ true,
                } => {
                    if let Some(upto) = registration.inbox.caught_up_to() {
                        // Nothing of ours up to there: the position moves on.
                        self.last = self.last.max(upto);
                    }
                    match registration.inbox.recv().await {
                        Received::Event(e) if e.id <= self.last => {}
                        Received::Event(e) => {
                            self.last = e.id;
                            return Some(Item::Event(e));
                        }
                        Received::Overflowed => {
                            *live = false;
                            self.catch_ups += 1;
                        }
                        Received::Closed => return None,
                    }
                }
                Source::Ring(None) | Source::Inbox { live: false, .. } => {
                    if let Some(lost) = self.read_journal().await {
                        return Some(lost);
                    }
                }
            }
        }
    }

    /// Reads the next chunk after the position into the backlog; goes live again once the
    /// journal has nothing more. Returns the loss report when the journal no longer holds
    /// the next event.
    async fn read_journal(&mut self) -> Option<Item> {
        // Subscribed before reading: whatever is published meanwhile is on the receiver
        // (or in the inbox).
        let rx = match &self.source {
            Source::Inbox { registration, .. } => {
                registration.inbox.reset();
                None
            }
            Source::Ring(_) => Some(self.bus.subscribe()),
        };
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
            match &mut self.source {
                Source::Inbox { live, .. } => *live = true,
                Source::Ring(ring) => *ring = rx,
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Commit;
    use anyhow::{Context, Result};
    use futures_util::FutureExt;

    fn store(retention: u64, ring: usize) -> Result<(tempfile::TempDir, Store, Arc<Bus>)> {
        let dir = tempfile::tempdir()?;
        let bus = Arc::new(Bus::with_capacity(ring));
        let (store, _) = Store::open(&dir.path().join("s.redb"), bus.clone(), retention)?;
        Ok((dir, store, bus))
    }

    /// Commits one event of `kind`.
    async fn commit(store: &Store, kind: crate::bus::EventKind, json: String) -> Result<()> {
        store
            .commit_with(Commit {
                events: vec![(kind, json.into())],
                ..Commit::default()
            })
            .await
            .map_err(anyhow::Error::msg)
    }

    async fn publish(store: &Store, n: usize) -> Result<()> {
        for i in 0..n {
            commit(
                store,
                crate::bus::EventKind::CheckResult,
                format!("{{\"n\":{i}}}"),
            )
            .await?;
        }
        Ok(())
    }

    async fn ids(cursor: &mut Cursor, n: usize) -> Result<Vec<u64>> {
        let mut out = Vec::new();
        while out.len() < n {
            match cursor.next().await.context("the bus closed")? {
                Item::Event(e) => out.push(e.id),
                Item::Lost { after, count } => anyhow::bail!("lost {count} after {after}"),
            }
        }
        Ok(out)
    }

    async fn publish_for(store: &Store, hosts: &[&str]) -> Result<()> {
        for host in hosts {
            let json = format!("{{\"host\":\"{host}\"}}");
            commit(store, crate::bus::EventKind::CheckResult, json).await?;
        }
        Ok(())
    }

    fn interest(hosts: &[&str]) -> Interest {
        Interest {
            types: 1 << crate::bus::EventKind::CheckResult.index(),
            hosts: Some(hosts.iter().map(|h| Box::from(*h)).collect()),
        }
    }

    #[tokio::test]
    async fn a_narrowed_cursor_gets_its_hosts_events_live_and_no_others() -> Result<()> {
        let (_dir, store, bus) = store(10_000, 1024)?;
        publish(&store, 3).await?;
        let mut cursor = Cursor::live(bus.clone(), store.clone());
        cursor.narrow(&interest(&["a", "c"]));
        publish_for(&store, &["b", "a", "b", "b", "c", "d", "a"]).await?;
        assert_eq!(ids(&mut cursor, 3).await?, vec![5, 8, 10]);
        assert_eq!(cursor.catch_ups, 0, "all of it came live");
        // Other types of the same host are not for it either.
        commit(
            &store,
            crate::bus::EventKind::StateChange,
            r#"{"host":"a"}"#.into(),
        )
        .await?;
        publish_for(&store, &["c"]).await?;
        assert_eq!(ids(&mut cursor, 1).await?, vec![12]);
        Ok(())
    }

    #[tokio::test]
    async fn a_narrowed_reader_whose_inbox_overflowed_gets_everything_from_the_journal(
    ) -> Result<()> {
        let (_dir, store, bus) = store(100_000, 1024)?;
        let mut cursor = Cursor::live(bus.clone(), store.clone());
        cursor.narrow(&interest(&["a"]));
        let n = crate::bus::inbox::INBOX_CAPACITY + 100;
        publish_for(&store, &vec!["a"; n]).await?;
        // From the journal every event comes (the subscription's filter decides).
        assert_eq!(
            ids(&mut cursor, n).await?,
            (1..=n as u64).collect::<Vec<_>>()
        );
        assert!(cursor.catch_ups >= 1, "the inbox overflowed");
        // And then live from the inbox again, its host only.
        publish_for(&store, &["b", "a"]).await?;
        assert_eq!(ids(&mut cursor, 1).await?, vec![n as u64 + 2]);
        Ok(())
    }

    #[tokio::test]
    async fn a_narrowed_resume_reads_the_journal_then_goes_live_for_its_host() -> Result<()> {
        let (_dir, store, bus) = store(10_000, 1024)?;
        publish_for(&store, &["a", "b", "a", "b"]).await?;
        let mut cursor = Cursor::after(bus.clone(), store.clone(), 1);
        cursor.narrow(&interest(&["a"]));
        assert_eq!(ids(&mut cursor, 3).await?, vec![2, 3, 4]);
        publish_for(&store, &["b", "b", "a"]).await?;
        assert_eq!(ids(&mut cursor, 1).await?, vec![7]);
        Ok(())
    }

    #[tokio::test]
    async fn an_idle_narrowed_cursor_moves_past_other_hosts_events() -> Result<()> {
        let (_dir, store, bus) = store(10_000, 1024)?;
        let mut cursor = Cursor::live(bus.clone(), store.clone());
        cursor.narrow(&interest(&["a"]));
        publish_for(&store, &["b"; 5]).await?;
        // The dispatcher runs on this runtime: let it hand the five over.
        let mut polls = 0;
        while cursor.position() < 5 && polls < 10_000 {
            assert!(cursor.next().now_or_never().is_none(), "nothing for host a");
            tokio::task::yield_now().await;
            polls += 1;
        }
        assert_eq!(cursor.position(), 5, "after {polls} polls");
        Ok(())
    }

    #[tokio::test]
    async fn a_reader_far_behind_the_ring_gets_every_event_in_order_from_the_journal() -> Result<()>
    {
        let (_dir, store, bus) = store(10_000, 4)?;
        let mut cursor = Cursor::live(bus.clone(), store.clone());
        // 50 events while the reader does not read: the ring of 4 overflows.
        publish(&store, 50).await?;
        assert_eq!(ids(&mut cursor, 50).await?, (1..=50).collect::<Vec<_>>());
        assert!(cursor.catch_ups >= 1, "it lagged and caught up");
        // And then it is live again.
        publish(&store, 3).await?;
        assert_eq!(ids(&mut cursor, 3).await?, vec![51, 52, 53]);
        Ok(())
    }

    #[tokio::test]
    async fn resuming_continues_after_the_id_with_no_gap_and_no_duplicate() -> Result<()> {
        let (_dir, store, bus) = store(10_000, 1024)?;
        publish(&store, 20).await?;
        let mut cursor = Cursor::after(bus.clone(), store.clone(), 7);
        let (a, b) = tokio::join!(ids(&mut cursor, 23), publish(&store, 10));
        b?;
        assert_eq!(a?, (8..=30).collect::<Vec<_>>());
        Ok(())
    }

    #[tokio::test]
    async fn a_resume_older_than_the_retention_says_how_many_are_lost() -> Result<()> {
        // Retention 5 with one event per commit: the journal keeps ids 16..=20.
        let (_dir, store, bus) = store(5, 1024)?;
        publish(&store, 20).await?;
        let mut cursor = Cursor::after(bus, store.clone(), 3);
        match cursor.next().await.context("the bus closed")? {
            Item::Lost { after, count } => {
                assert_eq!(after, 3);
                let first = 3 + count + 1;
                assert!(
                    (15..=16).contains(&first),
                    "resumes at the oldest kept ({first})"
                );
            }
            Item::Event(e) => panic!("expected a loss report, got event {}", e.id),
        }
        let rest = ids(&mut cursor, 1).await?;
        assert_eq!(rest[0], cursor.position());
        assert!(rest[0] >= 15);
        Ok(())
    }
}
