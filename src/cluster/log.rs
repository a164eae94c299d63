//! The shared log: a JetStream stream every node reads and only the leader appends to.
//!
//! A record (one group commit, see [`crate::store::record`]) that exceeds the server's
//! largest message is appended in parts, each carrying `Auspex-Part: i/n`. A record is
//! complete with its last part; a reader drops the parts of a record that another
//! record's first part follows (its leader died while appending: nothing of it was
//! acknowledged or committed anywhere).
//!
//! Appends are fenced: each part is published with the sequence number the leader
//! expects the stream to end at, so a node that lost leadership without noticing cannot
//! append after its successor has.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use anyhow::{anyhow, Context as _, Result};
use async_nats::jetstream::{self, context::PublishErrorKind};
use bytes::Bytes;
use tokio_util::sync::CancellationToken;

/// The header naming a part of a record.
const PART: &str = "Auspex-Part";
/// Room left in a message for the headers and the protocol.
const OVERHEAD: usize = 1024;

/// The stream's name and subject for a cluster.
pub struct Names {
    pub stream: String,
    pub subject: String,
}

impl Names {
    pub fn new(cluster: &str) -> Names {
        Names {
            stream: format!("AUSPEX_{}", cluster.to_uppercase().replace(['.', '-'], "_")),
            subject: format!("auspex.{cluster}.log"),
        }
    }
}

/// Creates the stream (or finds it), replicated over `replicas` servers.
///
/// # Errors
/// JetStream is unavailable or refuses the stream.
pub async fn ensure(
    js: &jetstream::Context,
    names: &Names,
    replicas: usize,
    retention: std::time::Duration,
) -> Result<jetstream::stream::Stream> {
    js.get_or_create_stream(jetstream::stream::Config {
        name: names.stream.clone(),
        subjects: vec![names.subject.clone()],
        storage: jetstream::stream::StorageType::File,
        num_replicas: replicas.max(1),
        max_age: retention,
        description: Some("Auspex: the cluster's ordered log of committed changes".into()),
        ..Default::default()
    })
    .await
    .map_err(|e| anyhow!("{e}"))
    .with_context(|| format!("creating the JetStream stream {}", names.stream))
}

/// The leader's end of the log: implements [`crate::store::Log`] on the store's writer
/// thread.
pub struct Appender {
    js: jetstream::Context,
    subject: String,
    runtime: tokio::runtime::Handle,
    /// The stream's last sequence number as this leader knows it.
    last: AtomicU64,
    /// The largest part.
    max_part: usize,
    /// Fired when another node appended first: this node is no longer the leader.
    lost: CancellationToken,
}

impl Appender {
    pub fn new(
        js: jetstream::Context,
        subject: String,
        last: u64,
        max_payload: usize,
        lost: CancellationToken,
    ) -> Appender {
        Appender {
            js,
            subject,
            runtime: tokio::runtime::Handle::current(),
            last: AtomicU64::new(last),
            max_part: max_payload.saturating_sub(OVERHEAD).max(4096),
            lost,
        }
    }

    async fn publish(&self, record: Vec<u8>) -> Result<u64, String> {
        let record = Bytes::from(record);
        let parts = record.len().div_ceil(self.max_part).max(1);
        let mut last = self.last.load(Ordering::Acquire);
        for i in 0..parts {
            let part = record.slice(i * self.max_part..((i + 1) * self.max_part).min(record.len()));
            let mut message = jetstream::message::PublishMessage::build()
                .payload(part)
                .expected_last_sequence(last);
            if parts > 1 {
                message = message.header(PART, format!("{}/{parts}", i + 1).as_str());
            }
            let acked = match self.js.send_publish(self.subject.clone(), message).await {
                Ok(ack) => ack.await,
                Err(e) => Err(e),
            };
            match acked {
                Ok(ack) => last = ack.sequence,
                Err(e) if e.kind() == PublishErrorKind::WrongLastSequence => {
                    self.lost.cancel();
                    return Err(
                        "another node appended to the log: this node is no longer the leader"
                            .into(),
                    );
                }
                Err(e) => return Err(format!("appending to the log: {e}")),
            }
        }
        self.last.store(last, Ordering::Release);
        Ok(last)
    }
}

impl crate::store::Log for Appender {
    fn append(&self, record: Vec<u8>) -> Result<u64, String> {
        if self.lost.is_cancelled() {
            return Err("this node is no longer the leader".into());
        }
        self.runtime.block_on(self.publish(record))
    }
}

/// Reassembles records from the messages of the stream, in order.
#[derive(Default)]
pub struct Assembler {
    parts: Vec<Bytes>,
}

impl Assembler {
    /// Takes the message at `seq`; returns a complete record.
    pub fn push(&mut self, seq: u64, message: &async_nats::Message) -> Option<Bytes> {
        let part = message
            .headers
            .as_ref()
            .and_then(|h| h.get(PART))
            .and_then(|v| parse_part(v.as_str()));
        match part {
            None => {
                self.drop_incomplete(seq);
                Some(message.payload.clone())
            }
            Some((i, n)) => {
                if i == 1 {
                    self.drop_incomplete(seq);
                }
                if i != self.parts.len() + 1 {
                    tracing::warn!(
                        seq,
                        part = i,
                        "A part of a record without its predecessors in the log; dropped."
                    );
                    self.parts.clear();
                    return None;
                }
                self.parts.push(message.payload.clone());
                (i == n).then(|| {
                    let whole: Vec<u8> = self.parts.drain(..).flatten().collect();
                    Bytes::from(whole)
                })
            }
        }
    }

    fn drop_incomplete(&mut self, seq: u64) {
        if !self.parts.is_empty() {
            tracing::warn!(
                seq,
                parts = self.parts.len(),
                "An incomplete record in the log (its leader stopped while appending); dropped."
            );
            self.parts.clear();
        }
    }
}

fn parse_part(v: &str) -> Option<(usize, usize)> {
    let (i, n) = v.split_once('/')?;
    Some((i.parse().ok()?, n.parse().ok()?))
}

/// The stream's last sequence number.
///
/// # Errors
/// JetStream cannot be asked.
pub async fn last_sequence(stream: &jetstream::stream::Stream) -> Result<u64> {
    let info = stream.get_info().await.map_err(|e| anyhow!("{e}"))?;
    Ok(info.state.last_sequence)
}

/// The stream's position counter shared by the follower and whoever waits for it.
pub type Position = Arc<tokio::sync::watch::Sender<u64>>;

#[cfg(test)]
mod tests {
    use super::*;

    fn message(payload: &'static [u8], part: Option<&str>) -> async_nats::Message {
        let headers = part.map(|p| {
            let mut h = async_nats::HeaderMap::new();
            h.insert(PART, p);
            h
        });
        async_nats::Message {
            subject: "s".into(),
            reply: None,
            payload: Bytes::from_static(payload),
            headers,
            status: None,
            description: None,
            length: payload.len(),
        }
    }

    #[test]
    fn parts_are_joined_and_orphans_dropped() {
        let mut a = Assembler::default();
        assert_eq!(
            a.push(1, &message(b"whole", None)).as_deref(),
            Some(&b"whole"[..])
        );
        assert!(a.push(2, &message(b"ab", Some("1/2"))).is_none());
        assert_eq!(
            a.push(3, &message(b"cd", Some("2/2"))).as_deref(),
            Some(&b"abcd"[..])
        );
        // A leader died after the first of three parts; the next record replaces it.
        assert!(a.push(4, &message(b"xx", Some("1/3"))).is_none());
        assert_eq!(
            a.push(5, &message(b"next", None)).as_deref(),
            Some(&b"next"[..])
        );
        // A part without its first one is dropped.
        assert!(a.push(6, &message(b"yy", Some("2/2"))).is_none());
        assert!(a.push(7, &message(b"p", Some("1/2"))).is_none());
        assert!(a.push(8, &message(b"q", Some("1/1"))).is_some());
    }
}
