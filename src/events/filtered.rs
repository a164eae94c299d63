//! A cursor with its subscription applied: the items a subscriber gets, in order.
//!
//! A simple filter (see [`filters::Program::is_simple`]) is evaluated right here, in the
//! stream's task. Any other filter may take long (`get_objects(…)`, loops, regexes), so its
//! events are judged on the evaluator's pool, in batches of what is ready, each event
//! within the event filter budget: the async workers — where the result processor and
//! every request run — never wait for a subscriber's filter, and a stream whose filter is
//! slow only falls behind (and catches up from the journal) on its own.
//!
//! It also keeps the stream's figures in `/v1/status`: the position passed (delivered or
//! filtered out), catch-ups, deliveries and losses.

use std::collections::VecDeque;
use std::sync::Arc;

use futures_util::FutureExt;

use super::{Cursor, Item, StreamInfo, Subscription};
use crate::evaluator::Evaluator;

/// Events judged in one trip to the pool at most.
const BATCH: usize = 64;

pub struct Filtered {
    pub cursor: Cursor,
    pub subscription: Arc<Subscription>,
    /// Where filters that are not simple run.
    evaluator: Arc<Evaluator>,
    /// Taken from the cursor, not judged yet: kept across a cancelled trip to the pool
    /// (the cursor has moved past them), judged again on the next call.
    parked: Vec<Item>,
    /// Judged and wanted, not handed out yet.
    kept: VecDeque<Item>,
    /// The stream's figures.
    info: Arc<StreamInfo>,
}

impl Filtered {
    pub fn new(
        evaluator: Arc<Evaluator>,
        subscription: Subscription,
        mut cursor: Cursor,
        info: Arc<StreamInfo>,
    ) -> Filtered {
        if let Some(interest) = subscription.interest() {
            cursor.narrow(interest);
        }
        Filtered {
            cursor,
            subscription: Arc::new(subscription),
            evaluator,
            parked: Vec::new(),
            kept: VecDeque::new(),
            info,
        }
    }

    /// The next item the subscriber gets; `None` once the bus is gone. Cancel-safe.
    pub async fn next(&mut self) -> Option<Item> {
        let item = self.next_kept().await?;
        use std::sync::atomic::Ordering::Relaxed;
        match &item {
            Item::Event(_) => self.info.delivered.fetch_add(1, Relaxed),
            Item::Lost { count, .. } => self.info.lost.fetch_add(*count, Relaxed),
        };
        Some(item)
    }

    async fn next_kept(&mut self) -> Option<Item> {
        loop {
            if let Some(item) = self.kept.pop_front() {
                return Some(item);
            }
            if self.parked.is_empty() {
                let item = self.pass().await?;
                if self.subscription.is_simple() {
                    if self.subscription.wants_item(&item) {
                        return Some(item);
                    }
                    continue;
                }
                self.parked.push(item);
                while self.parked.len() < BATCH {
                    match self.pass().now_or_never() {
                        Some(Some(item)) => self.parked.push(item),
                        _ => break,
                    }
                }
            }
            let batch: Vec<Item> = self.parked.clone();
            let subscription = self.subscription.clone();
            let verdicts = self
                .evaluator
                .run(filters::Budget::unlimited(), move |_| {
                    batch
                        .iter()
                        .map(|item| subscription.wants_item(item))
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

    /// The cursor's next item, with the stream's position and catch-ups updated.
    async fn pass(&mut self) -> Option<Item> {
        use std::sync::atomic::Ordering::Relaxed;
        let item = self.cursor.next().await?;
        self.info.position.store(self.cursor.position(), Relaxed);
        self.info.catch_ups.store(self.cursor.catch_ups, Relaxed);
        Some(item)
    }
}
