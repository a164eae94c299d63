//! Leadership: a lease in a JetStream key-value bucket whose entries expire after the
//! lease time. A node becomes leader by creating the key (only possible while nobody
//! holds it), keeps it by updating it at the revision it last wrote, and loses it when
//! an update fails — then another node may create it once the entry expired.

use std::time::Duration;

use anyhow::{anyhow, Result};
use async_nats::jetstream::{self, kv};
use bytes::Bytes;
use tokio_util::sync::CancellationToken;

const KEY: &str = "leader";

/// The lease bucket of a cluster.
#[derive(Clone)]
pub struct Lease {
    kv: kv::Store,
    /// How long a lease lasts without renewal.
    pub term: Duration,
}

impl Lease {
    /// Creates (or finds) the bucket.
    ///
    /// # Errors
    /// JetStream refuses the bucket.
    pub async fn open(
        js: &jetstream::Context,
        cluster: &str,
        term: Duration,
        replicas: usize,
    ) -> Result<Lease> {
        let bucket = format!("auspex_{}_leader", bucket_name(cluster));
        let kv = bucket_of(js, &bucket, term, replicas).await?;
        Ok(Lease { kv, term })
    }

    /// Takes the lease for `node` if nobody holds it; its revision when taken.
    pub async fn try_take(&self, node: &str) -> Option<u64> {
        self.kv
            .create(KEY, Bytes::from(node.to_string()))
            .await
            .ok()
    }

    /// Who holds the lease now.
    pub async fn holder(&self) -> Option<String> {
        let value = self.kv.get(KEY).await.ok()??;
        Some(String::from_utf8_lossy(&value).into_owned())
    }

    /// Renews the lease every third of its term until `stop`; fires `lost` when a renewal
    /// fails (another node holds it, or the log's server cannot confirm it in time).
    pub async fn keep(
        &self,
        node: String,
        mut revision: u64,
        lost: CancellationToken,
        stop: CancellationToken,
    ) {
        let every = self.term / 3;
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                () = lost.cancelled() => return,
                () = tokio::time::sleep(every) => {}
            }
            let renewed = tokio::time::timeout(
                every,
                self.kv.update(KEY, Bytes::from(node.clone()), revision),
            )
            .await;
            match renewed {
                Ok(Ok(r)) => revision = r,
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "The cluster lease was not renewed: stepping down.");
                    lost.cancel();
                    return;
                }
                Err(_) => {
                    tracing::warn!(
                        "The cluster lease could not be renewed in time: stepping down."
                    );
                    lost.cancel();
                    return;
                }
            }
        }
    }

    /// Gives the lease up (a clean stop): another node takes over at once.
    pub async fn release(&self, node: &str) {
        if self.holder().await.as_deref() == Some(node) {
            let _ = self.kv.delete(KEY).await;
        }
    }
}

/// A key-value bucket keeping one value per key for `max_age`. Its stream is created as
/// the key-value API lays it out (`KV_<bucket>`, subjects `$KV.<bucket>.>`), with only
/// the settings every JetStream server since 2.9 knows.
///
/// # Errors
/// JetStream refuses the stream.
pub async fn bucket_of(
    js: &jetstream::Context,
    bucket: &str,
    max_age: Duration,
    replicas: usize,
) -> Result<kv::Store> {
    js.get_or_create_stream(jetstream::stream::Config {
        name: format!("KV_{bucket}"),
        subjects: vec![format!("$KV.{bucket}.>")],
        max_messages_per_subject: 1,
        max_age,
        allow_rollup: true,
        deny_delete: true,
        allow_direct: true,
        discard: jetstream::stream::DiscardPolicy::New,
        num_replicas: replicas.max(1),
        ..Default::default()
    })
    .await
    .map_err(|e| anyhow!("creating the bucket {bucket}: {e}"))?;
    js.get_key_value(bucket)
        .await
        .map_err(|e| anyhow!("opening the bucket {bucket}: {e}"))
}

/// A cluster name as a bucket name allows it.
pub fn bucket_name(cluster: &str) -> String {
    cluster
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}
