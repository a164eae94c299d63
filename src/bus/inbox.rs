//! Inboxes for subscribers that want the events of a few hosts, or a few rare types.
//!
//! A subscriber on the broadcast ring wakes for every event, wanted or not: ten thousand
//! per-host dashboards at a thousand events a second would be ten million wake-ups a
//! second for ten thousand deliveries. A subscription whose filter names its hosts
//! (`event.host == "web1"`, `event.host in [...]`) instead registers an [`Inbox`] under
//! each host; one dispatcher task reads the ring and puts each event into the inboxes of
//! its host (and type), so a subscriber wakes only for events it may want. Its filter
//! still decides; the inbox only spares it the others. A subscription of any host whose
//! types leave out `CheckResult` (one event per check result, by far the most frequent)
//! gets an inbox of its types the same way: a dashboard of state changes and
//! acknowledgements does not wake for every check result.
//!
//! An inbox is bounded, in count and in age: it overflows when it holds
//! [`INBOX_CAPACITY`] events, or when its oldest is more than the ring's length behind
//! the newest, so all inboxes together keep no event the ring would not keep. When it
//! overflows, or the dispatcher itself fell behind the ring, its subscriber catches up
//! from the journal, as a ring subscriber does after lagging: nothing is lost, nothing
//! grows without bound.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use tokio::sync::broadcast::{self, error::RecvError};
use tokio::sync::Notify;

use super::Event;

/// Events an inbox holds before it overflows (its subscriber then reads the journal).
pub const INBOX_CAPACITY: usize = 1024;

/// What a subscriber wants: event types (bits over [`super::EventKind::index`]) of some
/// hosts, or (`None`) of any host or none.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interest {
    pub types: u16,
    pub hosts: Option<Vec<Box<str>>>,
}

/// What [`Inbox::recv`] yields.
#[derive(Debug)]
pub enum Received {
    Event(Arc<Event>),
    /// Events were dropped (full inbox, or the dispatcher lagged): read the journal.
    Overflowed,
    /// The bus is gone.
    Closed,
}

/// One subscriber's inbox.
pub struct Inbox {
    types: u16,
    /// How many ids the oldest queued event may lag the newest (the ring's length).
    window: u64,
    state: Mutex<InboxState>,
    notify: Notify,
    /// The index's dispatch position, for [`Inbox::caught_up_to`].
    dispatched: Arc<AtomicU64>,
}

#[derive(Default)]
struct InboxState {
    queue: VecDeque<Arc<Event>>,
    overflowed: bool,
    closed: bool,
}

impl InboxState {
    /// Drops what is queued (its memory too): the subscriber reads the journal.
    fn overflow(&mut self) {
        self.queue = VecDeque::new();
        self.overflowed = true;
    }
}

impl Inbox {
    fn lock(&self) -> MutexGuard<'_, InboxState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn push(&self, event: &Arc<Event>) {
        {
            let mut state = self.lock();
            if state.overflowed || state.closed {
                return;
            }
            let too_old = state
                .queue
                .front()
                .is_some_and(|oldest| event.id.saturating_sub(oldest.id) >= self.window);
            if state.queue.len() >= INBOX_CAPACITY || too_old {
                state.overflow();
            } else {
                state.queue.push_back(event.clone());
            }
        }
        self.notify.notify_one();
    }

    fn overflow(&self) {
        self.lock().overflow();
        self.notify.notify_one();
    }

    fn close(&self) {
        self.lock().closed = true;
        self.notify.notify_one();
    }

    /// The next event put in this inbox. Cancel-safe: nothing is taken until it returns.
    pub async fn recv(&self) -> Received {
        loop {
            {
                let mut state = self.lock();
                if state.overflowed {
                    return Received::Overflowed;
                }
                if let Some(e) = state.queue.pop_front() {
                    return Received::Event(e);
                }
                if state.closed {
                    return Received::Closed;
                }
            }
            // A push after the check left a permit: no wake-up is missed.
            self.notify.notified().await;
        }
    }

    /// Empties the inbox and clears an overflow: called before the subscriber reads the
    /// journal, so that whatever arrives meanwhile is here afterwards.
    pub fn reset(&self) {
        let mut state = self.lock();
        state.queue.clear();
        state.overflowed = false;
    }

    /// When the inbox is empty and not overflowed: the id up to which every event of the
    /// inbox's hosts and types has been handed over (a subscriber may move its position
    /// there). `None` otherwise.
    pub fn caught_up_to(&self) -> Option<u64> {
        let state = self.lock();
        // Read under the lock: every event up to this id was pushed before it was stored,
        // and a push takes this lock, so it is in the (empty) queue's past.
        (state.queue.is_empty() && !state.overflowed)
            .then(|| self.dispatched.load(Ordering::Acquire))
    }
}

/// The inboxes by host (and of any host), and the dispatcher that fills them.
#[derive(Default)]
pub struct Inboxes {
    inner: Arc<Index>,
    /// Set once the dispatcher runs.
    dispatcher: std::sync::OnceLock<()>,
}

#[derive(Default)]
struct Index {
    lists: Mutex<Lists>,
    /// The types some inbox by host takes: events of other types are not looked into
    /// for their host.
    host_types: AtomicU16,
    /// The types some inbox of any host takes.
    any_types: AtomicU16,
    /// The id of the last event the dispatcher handled.
    dispatched: Arc<AtomicU64>,
}

impl Drop for Index {
    /// The bus is gone: its subscribers' streams end.
    fn drop(&mut self) {
        self.each(Inbox::close);
    }
}

#[derive(Default)]
struct Lists {
    by_host: HashMap<Box<str>, Vec<Arc<Inbox>>>,
    any_host: Vec<Arc<Inbox>>,
    /// Registered inboxes taking each type (by [`super::EventKind::index`]), by host and
    /// of any host: registering and leaving cost the same with ten thousand inboxes.
    host_counts: TypeCounts,
    any_counts: TypeCounts,
}

impl Lists {
    fn all(&self) -> impl Iterator<Item = &Arc<Inbox>> {
        self.by_host.values().flatten().chain(&self.any_host)
    }
}

/// How many inboxes take each type.
#[derive(Default)]
struct TypeCounts([u32; 16]);

impl TypeCounts {
    /// Counts `types` in (`add`) or out; returns the types some inbox still takes.
    fn count(&mut self, types: u16, add: bool) -> u16 {
        let mut taken = 0;
        for (bit, n) in self.0.iter_mut().enumerate() {
            if types & (1 << bit) != 0 {
                *n = if add { *n + 1 } else { n.saturating_sub(1) };
            }
            if *n > 0 {
                taken |= 1 << bit;
            }
        }
        taken
    }
}

impl Index {
    fn lock(&self) -> MutexGuard<'_, Lists> {
        self.lists
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Counts an inbox of `types` in or out of the by-host (`by_host`) or any-host types.
    fn count(&self, lists: &mut Lists, by_host: bool, types: u16, add: bool) {
        if by_host {
            let taken = lists.host_counts.count(types, add);
            self.host_types.store(taken, Ordering::Relaxed);
        } else {
            let taken = lists.any_counts.count(types, add);
            self.any_types.store(taken, Ordering::Relaxed);
        }
    }

    fn dispatch(&self, event: &Arc<Event>) {
        let bit = 1 << event.index;
        let any = self.any_types.load(Ordering::Relaxed) & bit != 0;
        // The host, only when an inbox by host takes the type (it parses the event).
        let host = (self.host_types.load(Ordering::Relaxed) & bit != 0)
            .then(|| match event.value() {
                filters::Value::Dict(d) => match d.get("host") {
                    Some(filters::Value::String(h)) => Some(h.clone()),
                    _ => None,
                },
                _ => None,
            })
            .flatten();
        if any || host.is_some() {
            let lists = self.lock();
            let of_host = host.and_then(|h| lists.by_host.get(&*h));
            let any_host = if any { &lists.any_host[..] } else { &[] };
            for inbox in any_host.iter().chain(of_host.into_iter().flatten()) {
                if inbox.types & bit != 0 {
                    inbox.push(event);
                }
            }
        }
        self.dispatched.store(event.id, Ordering::Release);
    }

    fn each(&self, f: impl Fn(&Inbox)) {
        self.lock().all().for_each(|i| f(i));
    }
}

/// An inbox's place in the index; leaving it when dropped.
pub struct Registration {
    pub inbox: Arc<Inbox>,
    /// `None`: any host.
    hosts: Option<Vec<Box<str>>>,
    index: Weak<Index>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let Some(index) = self.index.upgrade() else {
            return;
        };
        let mut lists = index.lock();
        let ours = |i: &Arc<Inbox>| !Arc::ptr_eq(i, &self.inbox);
        match &self.hosts {
            Some(hosts) => {
                for host in hosts {
                    if let Some(list) = lists.by_host.get_mut(host) {
                        list.retain(ours);
                        if list.is_empty() {
                            lists.by_host.remove(host);
                        }
                    }
                }
            }
            None => lists.any_host.retain(ours),
        }
        index.count(&mut lists, self.hosts.is_some(), self.inbox.types, false);
    }
}

impl Inboxes {
    /// Registers an inbox for `interest` whose oldest event may lag the newest by fewer
    /// than `window` ids; the dispatcher starts with the first one and reads `ring` (a
    /// receiver of the bus's ring) until the bus is gone.
    pub fn register(
        &self,
        interest: &Interest,
        window: u64,
        ring: impl FnOnce() -> broadcast::Receiver<Arc<Event>>,
    ) -> Registration {
        self.dispatcher.get_or_init(|| {
            let index = Arc::downgrade(&self.inner);
            tokio::spawn(dispatch(index, ring()));
        });
        let inbox = Arc::new(Inbox {
            types: interest.types,
            window,
            state: Mutex::default(),
            notify: Notify::new(),
            dispatched: self.inner.dispatched.clone(),
        });
        let mut hosts = interest.hosts.clone();
        {
            let mut lists = self.inner.lock();
            match &mut hosts {
                Some(hosts) => {
                    hosts.sort();
                    hosts.dedup();
                    for host in hosts.iter() {
                        let list = lists.by_host.entry(host.clone()).or_default();
                        list.push(inbox.clone());
                    }
                }
                None => lists.any_host.push(inbox.clone()),
            }
            let by_host = hosts.is_some();
            self.inner.count(&mut lists, by_host, interest.types, true);
        }
        Registration {
            inbox,
            hosts,
            index: Arc::downgrade(&self.inner),
        }
    }
}

/// The dispatcher: every event of the ring, in order, into the inboxes of its host.
async fn dispatch(index: Weak<Index>, mut ring: broadcast::Receiver<Arc<Event>>) {
    loop {
        let received = ring.recv().await;
        let Some(index) = index.upgrade() else {
            return;
        };
        match received {
            Ok(event) => index.dispatch(&event),
            // Events went by unseen: every inbox may miss some.
            Err(RecvError::Lagged(_)) => index.each(Inbox::overflow),
            Err(RecvError::Closed) => {
                index.each(Inbox::close);
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bus::EventKind;
    use futures_util::FutureExt;

    fn event(id: u64, host: &str) -> Arc<Event> {
        let json = format!("{{\"host\":\"{host}\"}}");
        Arc::new(Event::new(id, EventKind::CheckResult, json.into()))
    }

    fn interest(host: &str) -> Interest {
        Interest {
            types: 1 << EventKind::CheckResult.index(),
            hosts: Some(vec![host.into()]),
        }
    }

    /// Events are handed to the index directly (the ring stays silent).
    fn inboxes() -> (Inboxes, broadcast::Sender<Arc<Event>>) {
        let (tx, _) = broadcast::channel(16);
        (Inboxes::default(), tx)
    }

    #[tokio::test]
    async fn an_inbox_gets_its_hosts_events_in_order_and_no_others() {
        let (inboxes, tx) = inboxes();
        let a = inboxes.register(&interest("a"), 100, || tx.subscribe());
        let b = inboxes.register(&interest("b"), 100, || tx.subscribe());
        for (id, host) in [(1, "a"), (2, "b"), (3, "c"), (4, "a")] {
            inboxes.inner.dispatch(&event(id, host));
        }
        let mut got = Vec::new();
        while let Some(Received::Event(e)) = a.inbox.recv().now_or_never() {
            got.push(e.id);
        }
        assert_eq!(got, [1, 4]);
        assert!(matches!(b.inbox.recv().now_or_never(), Some(Received::Event(e)) if e.id == 2));
        assert!(
            b.inbox.recv().now_or_never().is_none(),
            "nothing more for b"
        );
        assert_eq!(
            b.inbox.caught_up_to(),
            Some(4),
            "b has seen everything up to 4"
        );
    }

    #[tokio::test]
    async fn an_inbox_of_any_host_gets_its_types_only() {
        let (inboxes, tx) = inboxes();
        let changes = Interest {
            types: 1 << EventKind::StateChange.index(),
            hosts: None,
        };
        let a = inboxes.register(&changes, 100, || tx.subscribe());
        inboxes.inner.dispatch(&event(1, "a"));
        let change =
            |id, json: &'static str| Arc::new(Event::new(id, EventKind::StateChange, json.into()));
        inboxes.inner.dispatch(&change(2, r#"{"host":"b"}"#));
        inboxes.inner.dispatch(&event(3, "b"));
        // Without a host too.
        inboxes.inner.dispatch(&change(4, "{}"));
        let mut got = Vec::new();
        while let Some(Received::Event(e)) = a.inbox.recv().now_or_never() {
            got.push(e.id);
        }
        assert_eq!(got, [2, 4]);
        drop(a);
        assert!(inboxes.inner.lock().any_host.is_empty());
        assert_eq!(inboxes.inner.any_types.load(Ordering::Relaxed), 0);
    }

    #[tokio::test]
    async fn an_inbox_overflows_when_its_oldest_event_is_a_ring_behind() {
        let (inboxes, tx) = inboxes();
        let a = inboxes.register(&interest("a"), 4, || tx.subscribe());
        inboxes.inner.dispatch(&event(1, "a"));
        for id in 2..=3 {
            inboxes.inner.dispatch(&event(id, "b"));
        }
        // Three ids behind the oldest: still kept.
        inboxes.inner.dispatch(&event(4, "a"));
        inboxes.inner.dispatch(&event(5, "a"));
        assert!(matches!(
            a.inbox.recv().now_or_never(),
            Some(Received::Overflowed)
        ));
        assert_eq!(
            a.inbox.caught_up_to(),
            None,
            "overflowed: no position to trust"
        );
        a.inbox.reset();
        inboxes.inner.dispatch(&event(6, "a"));
        assert!(matches!(a.inbox.recv().now_or_never(), Some(Received::Event(e)) if e.id == 6));
    }

    #[tokio::test]
    async fn an_inbox_holds_a_bounded_number_of_events() {
        let (inboxes, tx) = inboxes();
        let a = inboxes.register(&interest("a"), u64::MAX, || tx.subscribe());
        for id in 1..=INBOX_CAPACITY as u64 + 1 {
            inboxes.inner.dispatch(&event(id, "a"));
        }
        assert!(matches!(
            a.inbox.recv().now_or_never(),
            Some(Received::Overflowed)
        ));
    }

    #[tokio::test]
    async fn a_dropped_registration_leaves_the_index_and_a_dropped_bus_closes_inboxes() {
        let (inboxes, tx) = inboxes();
        let a = inboxes.register(&interest("a"), 100, || tx.subscribe());
        let b = inboxes.register(&interest("b"), 100, || tx.subscribe());
        drop(b);
        assert_eq!(inboxes.inner.lock().by_host.len(), 1, "only host a is left");
        let inbox = a.inbox.clone();
        drop(inboxes);
        assert!(matches!(
            inbox.recv().now_or_never(),
            Some(Received::Closed)
        ));
    }
}
