//! Who holds the server's connection slots, and who gives one up when they run out.
//!
//! Design constraints:
//! - One address holds at most [`Limits::per_address`] connections: a single client
//!   cannot take every slot.
//! - A connection that has not authenticated yet (in its TLS handshake, sending its first
//!   request, or only ever calling the endpoints that take no credentials) holds its slot
//!   on probation: when every slot is taken, the oldest such connection is closed to make
//!   room. Authenticated clients therefore always get in, whatever a crowd of idle or
//!   trickling connections does; they also cannot hold a slot for long, since handshakes,
//!   headers and bodies have deadlines.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

/// The limits of the connection table.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Open connections at most.
    pub total: usize,
    /// Open connections from one address at most.
    pub per_address: usize,
}

/// What the table knows of one connection.
#[derive(Debug, Default)]
pub struct Standing {
    id: u64,
    /// Set once a request on the connection authenticated.
    authenticated: AtomicBool,
    /// Closes the connection at once (eviction, a stalled event stream).
    pub abort: CancellationToken,
}

impl Standing {
    pub fn is_authenticated(&self) -> bool {
        self.authenticated.load(Ordering::Relaxed)
    }
}

/// How long a newcomer waits for an evicted connection to give up its slot.
const EVICTION_WAIT: Duration = Duration::from_secs(5);

/// The open connections.
#[derive(Debug)]
pub struct Connections {
    limits: Limits,
    /// One permit per slot ([`Limits::total`]); each [`Place`] holds one.
    slots: Arc<Semaphore>,
    next: AtomicU64,
    /// A std `Mutex`: map updates only, nothing awaits under it.
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    per_address: HashMap<IpAddr, usize>,
    /// Connections not authenticated yet, oldest first.
    probation: BTreeMap<u64, Weak<Standing>>,
}

/// A connection's place in the table; dropping it frees the place and its slot.
pub struct Place {
    table: Arc<Connections>,
    ip: IpAddr,
    pub standing: Arc<Standing>,
    /// The slot, once one was free.
    slot: Option<OwnedSemaphorePermit>,
}

impl Connections {
    pub fn new(limits: Limits) -> Arc<Connections> {
        Arc::new(Connections {
            limits,
            slots: Arc::new(Semaphore::new(limits.total)),
            next: AtomicU64::new(0),
            inner: Mutex::new(Inner::default()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A place and a slot for a new connection from `ip`, on probation. When every slot is
    /// taken, the oldest connection on probation is closed and its slot awaited. `None`
    /// when the address has all it may have, or no slot came free.
    pub async fn open(self: &Arc<Self>, ip: IpAddr) -> Option<Place> {
        let mut place = self.reserve(ip)?;
        let slot = match self.slots.clone().try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                self.evict_one();
                let freed = self.slots.clone().acquire_owned();
                tokio::time::timeout(EVICTION_WAIT, freed)
                    .await
                    .ok()?
                    .ok()?
            }
        };
        place.slot = Some(slot);
        Some(place)
    }

    /// The address's share of a place (no slot yet).
    fn reserve(self: &Arc<Self>, ip: IpAddr) -> Option<Place> {
        let mut inner = self.lock();
        let n = inner.per_address.entry(ip).or_insert(0);
        if *n >= self.limits.per_address {
            return None;
        }
        *n += 1;
        let standing = Arc::new(Standing {
            id: self.next.fetch_add(1, Ordering::Relaxed),
            ..Standing::default()
        });
        inner
            .probation
            .insert(standing.id, Arc::downgrade(&standing));
        Some(Place {
            table: self.clone(),
            ip,
            standing,
            slot: None,
        })
    }

    /// Marks a connection as authenticated: it is no longer evicted.
    pub fn authenticated(&self, standing: &Standing) {
        if !standing.authenticated.swap(true, Ordering::Relaxed) {
            self.lock().probation.remove(&standing.id);
        }
    }

    /// Closes the oldest connection on probation; false when there is none.
    pub fn evict_one(&self) -> bool {
        let mut inner = self.lock();
        while let Some((_, weak)) = inner.probation.pop_first() {
            if let Some(standing) = weak.upgrade() {
                standing.abort.cancel();
                tracing::debug!(
                    connection = standing.id,
                    "Closed an unauthenticated connection to make room."
                );
                return true;
            }
        }
        false
    }

    /// Open connections.
    pub fn open_count(&self) -> usize {
        self.lock().per_address.values().sum()
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        let mut inner = self.table.lock();
        inner.probation.remove(&self.standing.id);
        if let Some(n) = inner.per_address.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                inner.per_address.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_address_gets_its_share_and_the_oldest_unauthenticated_goes_first() {
        let table = Connections::new(Limits {
            total: 10,
            per_address: 2,
        });
        let ip = IpAddr::from([192, 0, 2, 1]);
        let a = table.open(ip).await.expect("first");
        let b = table.open(ip).await.expect("second");
        assert!(table.open(ip).await.is_none(), "a third from one address");
        assert!(table.open(IpAddr::from([192, 0, 2, 2])).await.is_some());
        table.authenticated(&a.standing);
        assert!(table.evict_one());
        assert!(!a.standing.abort.is_cancelled(), "authenticated: kept");
        assert!(b.standing.abort.is_cancelled(), "the oldest on probation");
        drop(b);
        assert!(table.open(ip).await.is_some(), "the place was freed");
    }
}
