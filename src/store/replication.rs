//! The store's part in a cluster: a node is standalone, the leader (each group commit is
//! appended to the shared log before it is committed here) or a follower (only records
//! read from the log are committed here, with the leader's event ids).
//!
//! The position in the log — the sequence number of the last record this store holds —
//! is kept in the `meta` table in the same transaction as the record's changes, so a
//! restarted node resumes the log exactly where its store stands.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

/// The shared, ordered log a leader appends its commits to.
pub trait Log: Send + Sync {
    /// Appends `record` unless another node has appended since this node's last record,
    /// and returns the record's position once the log holds it durably. Called on the
    /// store's writer thread: it blocks.
    ///
    /// # Errors
    /// The log is unreachable, or another node appended first (this node is no longer
    /// the leader).
    fn append(&self, record: Vec<u8>) -> Result<u64, String>;
}

/// What the store does with a commit.
#[derive(Clone, Default)]
pub enum Role {
    /// Commits locally: no cluster.
    #[default]
    Standalone,
    /// Appends every group commit to the log, then commits locally.
    Leader(Arc<dyn Log>),
    /// Commits only records read from the log; local writes are refused.
    Follower,
}

/// A commit read from the log: its sequence number and its first event's id.
#[derive(Debug, Clone, Copy)]
pub struct Replica {
    pub seq: u64,
    pub first_id: u64,
}

/// The role and the log position, shared by the handles and the writer thread.
#[derive(Default)]
pub(super) struct Replication {
    role: RwLock<Role>,
    position: AtomicU64,
}

impl Replication {
    pub(super) fn role(&self) -> Role {
        self.role.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub(super) fn set_role(&self, role: Role) {
        *self.role.write().unwrap_or_else(|e| e.into_inner()) = role;
    }

    pub(super) fn position(&self) -> u64 {
        self.position.load(Ordering::Acquire)
    }

    pub(super) fn set_position(&self, seq: u64) {
        self.position.store(seq, Ordering::Release);
    }
}

/// The error a follower answers local writes with.
pub const NOT_LEADER: &str = "this node is a follower: writes go to the cluster's leader";
