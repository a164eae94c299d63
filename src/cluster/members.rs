//! Membership: every node writes its entry to a key-value bucket each second; entries
//! expire when a node stops writing. The live nodes of a zone share its checks: an
//! object goes to the node at the position its name's hash gives among them, sorted by
//! name — every node computes the same assignment from the same entries.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Result};
use async_nats::jetstream::{self, kv};
use bytes::Bytes;
use futures_util::TryStreamExt;
use serde::{Deserialize, Serialize};
use sha1::{Digest, Sha1};

use crate::objects::Object;

/// How often a node writes its entry.
pub const HEARTBEAT: Duration = Duration::from_secs(1);
/// How long an entry lives without a heartbeat.
pub const EXPIRY: Duration = Duration::from_secs(4);

/// A node as the others see it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Member {
    pub name: String,
    pub zone: String,
    /// Whether it may lead (agents only run checks).
    pub leader_eligible: bool,
    /// Whether it leads now.
    pub leader: bool,
    /// Its log position.
    pub position: u64,
    /// Seconds its store is behind the log.
    #[serde(default)]
    pub lag: f64,
    /// The port its API listens on.
    pub api_port: u16,
    /// When it started (Unix seconds).
    pub started: f64,
    /// How many hosts and services it runs the checks of.
    #[serde(default)]
    pub checks: usize,
}

/// The membership bucket.
#[derive(Clone)]
pub struct Members {
    kv: kv::Store,
}

impl Members {
    /// Creates (or finds) the bucket.
    ///
    /// # Errors
    /// JetStream refuses the bucket.
    pub async fn open(js: &jetstream::Context, cluster: &str, replicas: usize) -> Result<Members> {
        let bucket = format!("auspex_{}_nodes", super::lease::bucket_name(cluster));
        let kv = super::lease::bucket_of(js, &bucket, EXPIRY, replicas).await?;
        Ok(Members { kv })
    }

    /// Writes this node's entry.
    ///
    /// # Errors
    /// JetStream did not take it.
    pub async fn announce(&self, me: &Member) -> Result<()> {
        let body = serde_json::to_vec(me)?;
        self.kv
            .put(key(&me.name), Bytes::from(body))
            .await
            .map_err(|e| anyhow!("{e}"))?;
        Ok(())
    }

    /// Removes this node's entry (a clean stop: its checks move at once).
    pub async fn leave(&self, name: &str) {
        let _ = self.kv.purge(key(name)).await;
    }

    /// The live nodes, sorted by name.
    ///
    /// # Errors
    /// JetStream cannot be read.
    pub async fn list(&self) -> Result<Vec<Member>> {
        let keys: Vec<String> = self
            .kv
            .keys()
            .await
            .map_err(|e| anyhow!("{e}"))?
            .try_collect()
            .await
            .map_err(|e| anyhow!("{e}"))?;
        let mut members = Vec::with_capacity(keys.len());
        for k in keys {
            if let Ok(Some(v)) = self.kv.get(k).await {
                if let Ok(m) = serde_json::from_slice::<Member>(&v) {
                    members.push(m);
                }
            }
        }
        members.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(members)
    }
}

/// A node name as a key allows it (hex when it holds other characters).
fn key(name: &str) -> String {
    if name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        name.to_string()
    } else {
        format!("x{}", hex::encode(name))
    }
}

/// Which node of `members` runs `object`'s check: the object's zone's nodes when any
/// live, else those of `default_zone`.
pub fn runner<'a>(
    members: &'a [Member],
    default_zone: &str,
    object: &Object,
) -> Option<&'a Member> {
    let zone = object.string("zone");
    let in_zone = |z: &str| -> Vec<&'a Member> { members.iter().filter(|m| m.zone == z).collect() };
    let mut candidates = if zone.is_empty() {
        Vec::new()
    } else {
        in_zone(&zone)
    };
    if candidates.is_empty() {
        candidates = in_zone(default_zone);
    }
    if candidates.is_empty() {
        return None;
    }
    let digest = Sha1::new()
        .chain_update(object.type_info.name.as_bytes())
        .chain_update([0])
        .chain_update(object.name.as_bytes())
        .finalize();
    let h = u64::from_le_bytes(digest[..8].try_into().unwrap_or_default());
    Some(candidates[(h % candidates.len() as u64) as usize])
}

/// The scheduler's share for node `me` among `members`.
pub fn share(members: Vec<Member>, default_zone: String, me: String) -> crate::scheduler::Share {
    let members = Arc::new(members);
    Arc::new(move |o: &Object| runner(&members, &default_zone, o).is_some_and(|m| m.name == me))
}

/// How many hosts and services of `registry` `share` gives its node.
pub fn count(registry: &crate::objects::Registry, share: &crate::scheduler::Share) -> usize {
    ["Host", "Service"]
        .iter()
        .map(|t| registry.objects(t).filter(|o| share(o)).count())
        .sum()
}
