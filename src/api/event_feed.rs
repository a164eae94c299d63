//! A subscription turned into response bytes: Icinga's newline-delimited JSON, or
//! Server-Sent Events.
//!
//! Each stream runs as its own task that walks its [`Cursor`](crate::events::Cursor), keeps what its
//! [`Subscription`](crate::events::Subscription) wants, waits for its rate limit, and hands chunks to the response body
//! over a channel of two: a client that does not read stops its task (the body is not
//! polled), which stops moving its cursor; once it is more than the bus's ring behind, it
//! catches up from the journal. Events that are ready together go out as one chunk.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::FutureExt;
use governor::{DefaultDirectRateLimiter, RateLimiter};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::Peer;
use crate::events::{Filtered, Item, Registration};

/// A chunk grows to about this size when events are ready together.
const CHUNK_BYTES: usize = 16 * 1024;

/// The wire format.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Format {
    /// Icinga's: one JSON object and `\n` per event.
    Json,
    /// `text/event-stream`.
    Sse,
}

/// One stream's state.
pub struct Feed {
    /// The events the subscriber gets.
    pub events: Filtered,
    pub registration: Registration,
    pub format: Format,
    /// Idle time after which a keep-alive is sent (SSE comment, or an empty line for JSON
    /// streams that asked for it with `heartbeat=`).
    pub heartbeat: Option<Duration>,
    pub shutdown: CancellationToken,
    /// A rendered event waiting for the rate limit (kept across a cancelled wait).
    pub pending: Option<Bytes>,
    /// The connection: its send buffer is bounded, and it is closed when the client
    /// stops reading for longer than `stall_timeout`.
    pub peer: Arc<Peer>,
    pub stall_timeout: Duration,
}

impl Feed {
    /// Runs the stream into a response body.
    pub fn into_body(self, first: Option<Bytes>) -> warp::reply::Response {
        let (tx, rx) = mpsc::channel::<Result<Bytes, Infallible>>(2);
        self.peer.limit_send_buffer();
        tokio::spawn(self.run(tx, first));
        let body = tokio_stream::wrappers::ReceiverStream::new(rx);
        warp::reply::Reply::into_response(warp::reply::stream(body))
    }

    async fn run(mut self, tx: mpsc::Sender<Result<Bytes, Infallible>>, first: Option<Bytes>) {
        if let Some(b) = first {
            if tx.send(Ok(b)).await.is_err() {
                return;
            }
        }
        let limiter = self
            .events
            .subscription
            .user
            .event_quota
            .map(RateLimiter::direct);
        let mut next_beat = self.heartbeat.map(|d| Instant::now() + d);
        let shutdown = self.shutdown.clone();
        let keep_alive = match self.format {
            Format::Sse => Bytes::from_static(b": keep-alive\n\n"),
            Format::Json => Bytes::from_static(b"\n"),
        };
        loop {
            let beat = async {
                match next_beat {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            let chunk = tokio::select! {
                () = shutdown.cancelled() => return,
                () = tx.closed() => return,
                () = beat => Some(keep_alive.clone()),
                chunk = self.next_chunk(limiter.as_ref()) => chunk,
            };
            let Some(chunk) = chunk else { return };
            // The body is not polled while the socket is full: the client stopped reading.
            match tokio::time::timeout(self.stall_timeout, tx.send(Ok(chunk))).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return,
                Err(_) => {
                    self.stalled();
                    return;
                }
            }
            next_beat = self.heartbeat.map(|d| Instant::now() + d);
        }
    }

    /// Closes the connection of a client that stopped reading: its buffers are freed, and
    /// it resumes from its last event id like any reconnecting client.
    fn stalled(&self) {
        tracing::info!(
            peer = %self.peer.addr,
            stream = self.registration.info.id,
            position = self.events.cursor.position(),
            seconds = self.stall_timeout.as_secs(),
            "Event stream closed: the client stopped reading."
        );
        self.peer.abort();
    }

    /// The next events the subscriber wants, as one chunk: waits for the first, then takes
    /// whatever else is ready at once. `None` when the bus is gone.
    async fn next_chunk(&mut self, limiter: Option<&DefaultDirectRateLimiter>) -> Option<Bytes> {
        // Cancel-safe: the cursor loses nothing when dropped mid-wait, and a rendered event
        // is parked in `pending` before the rate limit is awaited.
        while self.pending.is_none() {
            let item = self.events.next().await?;
            self.pending = self.render(&item);
        }
        if let Some(l) = limiter {
            l.until_ready().await;
        }
        let first = self.pending.take()?;
        let mut out: Option<BytesMut> = None;
        while out.as_ref().map_or(first.len(), |b| b.len()) < CHUNK_BYTES {
            if limiter.is_some_and(|l| l.check().is_err()) {
                break;
            }
            // Only what is ready now: the stream never waits to fill a chunk.
            let Some(Some(item)) = self.events.next().now_or_never() else {
                break;
            };
            if let Some(bytes) = self.render(&item) {
                out.get_or_insert_with(|| BytesMut::from(&first[..]))
                    .extend_from_slice(&bytes);
            }
        }
        Some(out.map_or(first, BytesMut::freeze))
    }

    /// The bytes of one item.
    fn render(&self, item: &Item) -> Option<Bytes> {
        match item {
            Item::Event(e) => Some(match self.format {
                Format::Json => e.ndjson(),
                Format::Sse => e.sse(),
            }),
            Item::Lost { after, count } => {
                let json = self.registration.lost_event(*after, *count).to_string();
                Some(match self.format {
                    Format::Json => format!("{json}\n").into(),
                    Format::Sse => {
                        format!("id: {}\nevent: EventsLost\ndata: {json}\n\n", after + count).into()
                    }
                })
            }
        }
    }
}
