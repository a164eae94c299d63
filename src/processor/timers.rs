//! Deadlines the processor keeps: acknowledgement and comment expiry, downtime start and
//! end, re-notification. A min-heap of (time, deadline); an entry is checked against the
//! current state when it fires, so changes never search the heap (a removed downtime's
//! end simply finds nothing to end).

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use filters::Str;

use crate::objects::Registry;

/// What is due.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Deadline {
    /// A host's or service's acknowledgement expires (type, full name).
    AckExpiry(&'static str, Str),
    CommentExpiry(Str),
    DowntimeStart(Str),
    DowntimeEnd(Str),
    /// A notification's next re-notification.
    Renotify(Str),
    /// The minutely pass that gives ScheduledDowntime objects their next downtime.
    ScheduledDowntimes,
    /// A host or service holds back notifications: send them once the reason ends
    /// (type, full name).
    Suppressed(&'static str, Str),
}

#[derive(Debug, PartialEq)]
struct Entry {
    at: f64,
    deadline: Deadline,
}

impl Eq for Entry {}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        self.at
            .total_cmp(&other.at)
            .then_with(|| self.deadline.cmp(&other.deadline))
    }
}

#[derive(Default)]
pub struct Timers {
    heap: BinaryHeap<Reverse<Entry>>,
}

impl Timers {
    pub fn add(&mut self, at: f64, deadline: Deadline) {
        if at.is_finite() {
            self.heap.push(Reverse(Entry { at, deadline }));
        }
    }

    /// When the next deadline is due.
    pub fn next(&self) -> Option<f64> {
        self.heap.peek().map(|Reverse(e)| e.at)
    }

    /// Takes every deadline due at `now`, once each: the same deadline set twice for the
    /// same time (by two paths of one batch) is due once.
    pub fn due(&mut self, now: f64) -> Vec<Deadline> {
        let mut out: Vec<Deadline> = Vec::new();
        let mut last_at = f64::NAN;
        while self.heap.peek().is_some_and(|Reverse(e)| e.at <= now) {
            if let Some(Reverse(e)) = self.heap.pop() {
                if e.at == last_at && out.last() == Some(&e.deadline) {
                    continue;
                }
                last_at = e.at;
                out.push(e.deadline);
            }
        }
        out
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

/// The deadlines of what the store restored: held-back notifications and reminders,
/// expiring acknowledgements and comments, downtimes to start and end.
pub fn restored(reg: &Registry, now: f64) -> Vec<(f64, Deadline)> {
    let mut out = Vec::new();
    for t in ["Host", "Service"] {
        for o in reg.objects(t) {
            if let Some(cell) = &o.runtime {
                let st = cell.get();
                if super::notify::holds_any(&st) {
                    let at = super::notify::suppressed_retry_at(now);
                    out.push((at, Deadline::Suppressed(o.type_info.name, o.name.clone())));
                }
                for (name, ns) in &st.notifications {
                    if ns.next_notification > 0.0 {
                        out.push((
                            ns.next_notification,
                            Deadline::Renotify(name.as_str().into()),
                        ));
                    }
                }
                if st.acknowledged() && st.acknowledgement_expiry > 0.0 {
                    out.push((
                        st.acknowledgement_expiry,
                        Deadline::AckExpiry(o.type_info.name, o.name.clone()),
                    ));
                }
            }
        }
    }
    for c in reg.objects("Comment") {
        let expiry = c.number("expire_time", 0.0);
        if expiry > 0.0 {
            out.push((expiry, Deadline::CommentExpiry(c.name.clone())));
        }
    }
    for d in reg.objects("Downtime") {
        out.push((
            d.number("start_time", 0.0),
            Deadline::DowntimeStart(d.name.clone()),
        ));
        out.push((
            super::downtimes::effective_end(d),
            Deadline::DowntimeEnd(d.name.clone()),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_in_time_order() {
        let mut t = Timers::default();
        t.add(3.0, Deadline::CommentExpiry("c".into()));
        t.add(1.0, Deadline::DowntimeStart("d".into()));
        t.add(f64::NAN, Deadline::DowntimeEnd("never".into()));
        t.add(2.0, Deadline::DowntimeEnd("d".into()));
        t.add(2.0, Deadline::DowntimeEnd("d".into()));
        assert_eq!(t.len(), 4);
        assert_eq!(t.next(), Some(1.0));
        assert_eq!(
            t.due(2.0),
            vec![
                Deadline::DowntimeStart("d".into()),
                Deadline::DowntimeEnd("d".into())
            ]
        );
        assert_eq!(t.next(), Some(3.0));
        assert!(t.due(2.5).is_empty());
    }
}
