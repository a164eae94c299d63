//! Addresses that failed authentication or the TLS handshake too often are refused for a
//! while (seed: Icinga for Windows REST blocks a client after 6 bad attempts). The list is
//! in memory: a restart or `POST /v1/actions/unblock-address` clears it.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{json, Value as Json};

#[derive(Debug)]
struct Entry {
    failures: u32,
    blocked_until: Option<Instant>,
    last_reason: &'static str,
}

/// Failure counts and blocks per address.
///
/// A std `Mutex`: every critical section is a map lookup, nothing awaits under it.
#[derive(Debug)]
pub struct Blocklist {
    limit: u32,
    duration: Duration,
    entries: Mutex<HashMap<IpAddr, Entry>>,
}

impl Blocklist {
    pub fn new(limit: u32, duration: Duration) -> Self {
        Blocklist {
            limit: limit.max(1),
            duration,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, Entry>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether `ip` is blocked now. An expired block is lifted (and the count reset).
    pub fn is_blocked(&self, ip: IpAddr) -> bool {
        let mut entries = self.lock();
        match entries.get(&ip).and_then(|e| e.blocked_until) {
            Some(until) if until > Instant::now() => true,
            Some(_) => {
                entries.remove(&ip);
                false
            }
            None => false,
        }
    }

    /// Counts a failure; returns true when this failure blocked the address.
    pub fn record_failure(&self, ip: IpAddr, reason: &'static str) -> bool {
        let mut entries = self.lock();
        let e = entries.entry(ip).or_insert(Entry {
            failures: 0,
            blocked_until: None,
            last_reason: reason,
        });
        e.failures += 1;
        e.last_reason = reason;
        if e.failures >= self.limit && e.blocked_until.is_none() {
            e.blocked_until = Some(Instant::now() + self.duration);
            tracing::warn!(
                address = %ip,
                failures = e.failures,
                reason,
                block_seconds = self.duration.as_secs(),
                "Address blocked after repeated failed attempts."
            );
            return true;
        }
        false
    }

    /// A successful authentication forgets earlier failures.
    pub fn record_success(&self, ip: IpAddr) {
        let mut entries = self.lock();
        if entries.get(&ip).is_some_and(|e| e.blocked_until.is_none()) {
            entries.remove(&ip);
        }
    }

    /// Lifts the block of one address, or of all; returns how many were lifted.
    pub fn clear(&self, ip: Option<IpAddr>) -> usize {
        let mut entries = self.lock();
        match ip {
            Some(ip) => entries.remove(&ip).map_or(0, |_| 1),
            None => {
                let n = entries.len();
                entries.clear();
                n
            }
        }
    }

    /// For `/v1/status/ApiListener`.
    pub fn status(&self) -> Json {
        let now = Instant::now();
        let entries = self.lock();
        let blocked: Vec<Json> = entries
            .iter()
            .filter_map(|(ip, e)| {
                let until = e.blocked_until.filter(|u| *u > now)?;
                Some(json!({
                    "address": ip.to_string(),
                    "failures": e.failures,
                    "reason": e.last_reason,
                    "remaining_seconds": (until - now).as_secs_f64(),
                }))
            })
            .collect();
        json!({
            "auth_failure_limit": self.limit,
            "auth_block_duration": self.duration.as_secs_f64(),
            "blocked": blocked,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_limit_and_clears() {
        let b = Blocklist::new(3, Duration::from_secs(60));
        let ip = IpAddr::from([192, 0, 2, 1]);
        assert!(!b.record_failure(ip, "auth"));
        assert!(!b.record_failure(ip, "auth"));
        assert!(!b.is_blocked(ip));
        assert!(b.record_failure(ip, "auth"));
        assert!(b.is_blocked(ip));
        b.record_success(ip);
        assert!(b.is_blocked(ip), "success does not lift a block");
        assert_eq!(b.status()["blocked"][0]["address"], "192.0.2.1");
        assert_eq!(b.clear(Some(ip)), 1);
        assert!(!b.is_blocked(ip));
    }

    #[test]
    fn expired_blocks_lift() {
        let b = Blocklist::new(1, Duration::ZERO);
        let ip = IpAddr::from(std::net::Ipv6Addr::LOCALHOST);
        b.record_failure(ip, "tls");
        assert!(!b.is_blocked(ip));
    }
}
