//! Addresses that failed authentication too often are refused for a while (Icinga for
//! Windows' REST API blocks a client after 6 bad attempts). The list is in memory: a
//! restart or `POST /v1/actions/unblock-address` clears it.
//!
//! What counts: wrong credentials (Basic, bearer tokens, self-service keys) and client
//! certificates that fail verification — never a connection that merely closes without
//! a handshake (probes, load balancers, browsers abandoning a connection).
//!
//! Failures are counted per address and, within it, per user name: a successful login
//! forgets the failures of that name only, so guessing root's password between valid
//! logins of another user still ends in a block. An address's counts expire once it has
//! not failed for the block duration.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{json, Value as Json};

/// Addresses tracked at most; beyond it, those without a block that failed longest ago
/// are forgotten first.
const MAX_ENTRIES: usize = 65_536;

#[derive(Debug)]
struct Entry {
    /// Failures by the user name tried (`""`: none, e.g. a bad certificate or token).
    by_user: HashMap<String, u32>,
    last_failure: Instant,
    blocked_until: Option<Instant>,
    last_reason: &'static str,
}

impl Entry {
    fn failures(&self) -> u32 {
        self.by_user.values().sum()
    }
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

    /// How long `ip` stays blocked, if it is. An expired block is lifted (and the counts
    /// reset).
    pub fn blocked_for(&self, ip: IpAddr) -> Option<Duration> {
        let mut entries = self.lock();
        let now = Instant::now();
        match entries.get(&ip).and_then(|e| e.blocked_until) {
            Some(until) if until > now => Some(until - now),
            Some(_) => {
                entries.remove(&ip);
                None
            }
            None => None,
        }
    }

    /// Whether `ip` is blocked now.
    pub fn is_blocked(&self, ip: IpAddr) -> bool {
        self.blocked_for(ip).is_some()
    }

    /// Counts a failure of `user` (`None`: no user name was given) from `ip`; returns
    /// true when this failure blocked the address.
    pub fn record_failure(&self, ip: IpAddr, user: Option<&str>, reason: &'static str) -> bool {
        let mut entries = self.lock();
        let now = Instant::now();
        if entries.len() >= MAX_ENTRIES && !entries.contains_key(&ip) {
            forget_oldest(&mut entries);
        }
        let e = entries.entry(ip).or_insert(Entry {
            by_user: HashMap::new(),
            last_failure: now,
            blocked_until: None,
            last_reason: reason,
        });
        if e.blocked_until.is_none() && now.duration_since(e.last_failure) > self.duration {
            // Quiet for a whole block duration: start counting afresh.
            e.by_user.clear();
        }
        e.last_failure = now;
        e.last_reason = reason;
        let name = user.unwrap_or_default();
        // Distinct names are bounded: the block comes at `limit` failures in all.
        match e.by_user.get_mut(name) {
            Some(n) => *n += 1,
            None => {
                e.by_user.insert(name.to_string(), 1);
            }
        }
        if e.failures() >= self.limit && e.blocked_until.is_none() {
            e.blocked_until = Some(now + self.duration);
            tracing::warn!(
                address = %ip,
                failures = e.failures(),
                reason,
                block_seconds = self.duration.as_secs(),
                "Address blocked after repeated failed attempts."
            );
            return true;
        }
        false
    }

    /// A successful login of `user` from `ip` forgets that name's failures there (not
    /// those of other names, and not a block).
    pub fn record_success(&self, ip: IpAddr, user: &str) {
        let mut entries = self.lock();
        let Some(e) = entries.get_mut(&ip) else {
            return;
        };
        if e.blocked_until.is_none() {
            e.by_user.remove(user);
            if e.by_user.is_empty() {
                entries.remove(&ip);
            }
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
                    "failures": e.failures(),
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

/// Drops the unblocked entries that failed longest ago (a tenth of the table), or the
/// oldest block when every entry is one.
fn forget_oldest(entries: &mut HashMap<IpAddr, Entry>) {
    let mut ages: Vec<(Instant, IpAddr)> = entries
        .iter()
        .filter(|(_, e)| e.blocked_until.is_none())
        .map(|(ip, e)| (e.last_failure, *ip))
        .collect();
    if ages.is_empty() {
        ages = entries
            .iter()
            .map(|(ip, e)| (e.last_failure, *ip))
            .collect();
    }
    ages.sort_unstable();
    for (_, ip) in ages.iter().take((MAX_ENTRIES / 10).max(1)) {
        entries.remove(ip);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_limit_and_clears() {
        let b = Blocklist::new(3, Duration::from_secs(60));
        let ip = IpAddr::from([192, 0, 2, 1]);
        assert!(!b.record_failure(ip, Some("root"), "auth"));
        assert!(!b.record_failure(ip, Some("root"), "auth"));
        assert!(!b.is_blocked(ip));
        assert!(b.record_failure(ip, Some("root"), "auth"));
        assert!(b.is_blocked(ip));
        assert!(b
            .blocked_for(ip)
            .is_some_and(|d| d > Duration::from_secs(59)));
        b.record_success(ip, "root");
        assert!(b.is_blocked(ip), "success does not lift a block");
        assert_eq!(b.status()["blocked"][0]["address"], "192.0.2.1");
        assert_eq!(b.clear(Some(ip)), 1);
        assert!(!b.is_blocked(ip));
    }

    #[test]
    fn another_users_login_does_not_forgive_guesses() {
        let b = Blocklist::new(6, Duration::from_secs(60));
        let ip = IpAddr::from([192, 0, 2, 2]);
        for _ in 0..5 {
            b.record_failure(ip, Some("root"), "auth");
            b.record_success(ip, "team");
        }
        assert!(b.record_failure(ip, Some("root"), "auth"), "blocked at 6");
        // The name that failed is forgiven by its own success, before a block.
        let ip = IpAddr::from([192, 0, 2, 3]);
        for _ in 0..10 {
            b.record_failure(ip, Some("team"), "auth");
            b.record_success(ip, "team");
        }
        assert!(!b.is_blocked(ip));
    }

    #[test]
    fn expired_blocks_lift() {
        let b = Blocklist::new(1, Duration::ZERO);
        let ip = IpAddr::from(std::net::Ipv6Addr::LOCALHOST);
        b.record_failure(ip, None, "tls");
        assert!(!b.is_blocked(ip));
    }
}
