//! A cursor with its subscription applied: the items a subscriber gets, in order.
//!
//! A simple filter (see [`filters::Program::is_simple`]) is evaluated right here, in the
//! stream's task. Any other filter may take long (`get_objects(…)`, loops, regexes), so its
//! events are judged on the evaluator's pool, in batches of what is ready, each event
//! within the event filter budget: the async workers — where the result processor and
//! every request run — never wait for a subscriber's filter, and a stream whose filter is
//! slow only falls behind (and catches up from the journal) on its own.

use std::collections::VecDeque;
use std::sync::Arc;

use futures_util::FutureExt;

use super::{Cursor, Item, Subscription};
use crate::app::State;

/// Events judged in one trip to the pool at most.
const BATCH: usize = 64;

pub struct Filtered {
    pub cursor: Cursor,
    pub subscription: Arc<Subscription>,
    state: Arc<State>,
    /// Taken from the cursor, not judged yet: kept across a cancelled trip to the pool
    /// (the cursor has moved past them), judged again on the next call.
    parked: Vec<Item>,
    /// Judged and wanted, not handed out yet.
    kept: VecDeque<Item>,
}

impl Filtered {
    pub fn new(state: Arc<State>, subscription: Subscription, cursor: Cursor) -> Filtered {
        Filtered {
            cursor,
            subscription: Arc::new(subscription),
            state,
            parked: Vec::new(),
            kept: VecDeque::new(),
        }
    }

    /// The next item the subscriber gets; `None` once the bus is gone. Cancel-safe.
    pub async fn next(&mut self) -> Option<Item> {
        loop {
            if let Some(item) = self.kept.pop_front() {
                return Some(item);
            }
            if self.parked.is_empty() {
                let item = self.cursor.next().await?;
                if self.subscription.is_simple() {
                    if self.wanted(&item) {
                        return Some(item);
                    }
                    continue;
                }
                self.parked.push(item);
                while self.parked.len() < BATCH {
                    match self.cursor.next().now_or_never() {
                        Some(Some(item)) => self.parked.push(item),
                        _ => break,
                    }
                }
            }
            let batch: Vec<Item> = self.parked.clone();
            let subscription = self.subscription.clone();
            let verdicts = self
                .state
                .evaluator
                .run(None, move |_| {
                    batch
                        .iter()
                        .map(|item| match item {
                            Item::Event(e) => subscription.wants(e),
                            Item::Lost { .. } => true,
                        })
                        .collect::<Vec<bool>>()
                })
                .await
                .ok()?;
            for (item, keep) in self.parked.drain(..).zip(verdicts) {
                if keep {
                    self.kept.push_back(item);
                }
            }
        }
    }

    fn wanted(&self, item: &Item) -> bool {
        match item {
            Item::Event(e) => self.subscription.wants(e),
            Item::Lost { .. } => true,
        }
    }
}
