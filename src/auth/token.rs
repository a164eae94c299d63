//! API tokens: bearer credentials a user issues for a dashboard, a browser or a script,
//! carrying a subset of the user's permissions and an expiry, revocable at any time.
//! Browsers need them most: `EventSource` and `WebSocket` cannot send an `Authorization`
//! header, and a page should not hold a password.
//!
//! A token is `<id>.<mac>`: a random id and the HMAC-SHA256 of it under a key kept in the
//! data directory. The record behind the id (user, permissions, expiry, name) lives in
//! the store, so tokens survive a restart and a revoked one is gone for good; the token
//! itself is stored nowhere (the store holds ids, the key file the key).

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, RwLock};

use anyhow::Result;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};

/// Longest validity a client may ask for: a year.
pub const MAX_TTL: u64 = 365 * 24 * 3600;
/// Validity of a token when the client does not say: an hour.
pub const DEFAULT_TTL: u64 = 3600;
/// Validity of an event-stream token when the client does not say.
pub const STREAM_TTL: u64 = 300;
/// Longest validity of an event-stream token.
pub const STREAM_MAX_TTL: u64 = 24 * 3600;

/// What a token stands for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TokenRecord {
    pub id: String,
    pub user: String,
    /// A label for people (`"wallboard"`).
    #[serde(default)]
    pub name: String,
    /// Permission names or globs; the token allows what these and the user's own
    /// permissions both allow.
    pub permissions: Vec<String>,
    /// Unix seconds.
    pub issued: u64,
    pub expires: u64,
}

/// Issues and checks tokens.
pub struct Tokens {
    /// The key tokens are signed with (a cluster's nodes share one).
    key: RwLock<hmac::Key>,
    records: RwLock<HashMap<String, Arc<TokenRecord>>>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tokens")
    }
}

impl Tokens {
    /// Loads the key from `path`, creating it (mode 0600) on first use.
    ///
    /// # Errors
    /// The key cannot be read or written.
    pub fn load(path: &Path) -> Result<Tokens> {
        let bytes = match std::fs::read(path) {
            Ok(b) if b.len() >= 32 => b,
            _ => {
                let b = random(32)?;
                crate::pki::write_private(path, &b)?;
                b
            }
        };
        Ok(Tokens {
            key: RwLock::new(hmac::Key::new(hmac::HMAC_SHA256, &bytes)),
            records: RwLock::default(),
        })
    }

    /// Takes the stored records (skipping any that cannot be read).
    pub fn restore(&self, stored: Vec<(String, serde_json::Value)>) {
        let mut records = self.records.write().unwrap_or_else(|e| e.into_inner());
        for (id, value) in stored {
            match serde_json::from_value::<TokenRecord>(value) {
                Ok(r) => {
                    records.insert(id, Arc::new(r));
                }
                Err(e) => tracing::warn!(id, error = %e, "Unreadable API token record skipped."),
            }
        }
    }

    /// Signs and verifies with `key` from now on (the key a cluster's nodes share).
    pub fn use_key(&self, key: &[u8]) {
        *self.key.write().unwrap_or_else(|e| e.into_inner()) =
            hmac::Key::new(hmac::HMAC_SHA256, key);
    }

    /// A record written or removed on another node of a cluster (its store's op).
    pub fn replicate(&self, op: &crate::store::Op) {
        match op {
            crate::store::Op::PutToken { key, value } => {
                self.restore(vec![(key.clone(), value.clone())]);
            }
            crate::store::Op::DeleteToken { key } => {
                self.remove(key);
            }
            _ => {}
        }
    }

    /// A new record for `user` (not yet active: store it, then [`Tokens::activate`]).
    ///
    /// # Errors
    /// No randomness for the id.
    pub fn new_record(
        &self,
        user: &str,
        name: String,
        permissions: Vec<String>,
        (issued, expires): (u64, u64),
    ) -> Result<TokenRecord> {
        Ok(TokenRecord {
            id: hex::encode(random(16)?),
            user: user.to_string(),
            name,
            permissions,
            issued,
            expires,
        })
    }

    /// Makes a stored record's token valid; returns the token.
    pub fn activate(&self, record: TokenRecord) -> String {
        let token = self.token_for(&record.id);
        self.records
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(record.id.clone(), Arc::new(record));
        token
    }

    fn token_for(&self, id: &str) -> String {
        let mac = hmac::sign(
            &self.key.read().unwrap_or_else(|e| e.into_inner()),
            id.as_bytes(),
        );
        format!("{id}.{}", B64.encode(mac.as_ref()))
    }

    /// The record of a token whose MAC is right, that was not revoked and has not
    /// expired at `now`.
    pub fn verify(&self, token: &str, now: u64) -> Option<Arc<TokenRecord>> {
        let (id, mac) = token.split_once('.')?;
        let mac = B64.decode(mac).ok()?;
        hmac::verify(
            &self.key.read().unwrap_or_else(|e| e.into_inner()),
            id.as_bytes(),
            &mac,
        )
        .ok()?;
        let record = self
            .records
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .cloned()?;
        (record.expires >= now).then_some(record)
    }

    /// The records of `user` (all users' for `None`), oldest first.
    pub fn list(&self, user: Option<&str>) -> Vec<Arc<TokenRecord>> {
        let mut out: Vec<_> = self
            .records
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .filter(|r| user.is_none_or(|u| r.user == u))
            .cloned()
            .collect();
        out.sort_by(|a, b| (a.issued, &a.id).cmp(&(b.issued, &b.id)));
        out
    }

    pub fn get(&self, id: &str) -> Option<Arc<TokenRecord>> {
        self.records
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .cloned()
    }

    /// Forgets a record (after its removal was stored): its token stops working.
    pub fn remove(&self, id: &str) -> Option<Arc<TokenRecord>> {
        self.records
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id)
    }

    /// The ids of the records expired at `now` (to remove them from the store).
    pub fn expired(&self, now: u64) -> Vec<String> {
        self.records
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .filter(|r| r.expires < now)
            .map(|r| r.id.clone())
            .collect()
    }
}

fn random(n: usize) -> Result<Vec<u8>> {
    let mut b = vec![0u8; n];
    SystemRandom::new()
        .fill(&mut b)
        .map_err(|_| anyhow::anyhow!("no randomness for API tokens"))?;
    Ok(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_until_expiry_or_removal_and_reject_tampering() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("token.key");
        let tokens = Tokens::load(&path)?;
        let record = tokens.new_record("dash.board", "wall".into(), vec!["*".into()], (0, 1000))?;
        let id = record.id.clone();
        let stored = serde_json::to_value(&record)?;
        let t = tokens.activate(record);
        assert_eq!(
            tokens.verify(&t, 999).map(|r| r.user.clone()).as_deref(),
            Some("dash.board")
        );
        assert!(tokens.verify(&t, 1000).is_some());
        assert!(tokens.verify(&t, 1001).is_none(), "expired");
        assert_eq!(tokens.expired(1001), vec![id.clone()]);
        let forged = format!("{}.{}", "0".repeat(32), t.split_once('.').unwrap().1);
        assert!(tokens.verify(&forged, 999).is_none(), "id changed");
        assert!(tokens.verify("garbage", 0).is_none());
        // The same key and the stored record after a restart: still valid.
        let again = Tokens::load(&path)?;
        assert!(again.verify(&t, 999).is_none(), "no record yet");
        again.restore(vec![(id.clone(), stored.clone())]);
        assert!(again.verify(&t, 999).is_some());
        // Another key: refused.
        let other = Tokens::load(&dir.path().join("other.key"))?;
        other.restore(vec![(id.clone(), stored)]);
        assert!(other.verify(&t, 999).is_none());
        // Removed: refused.
        again.remove(&id);
        assert!(again.verify(&t, 999).is_none());
        Ok(())
    }
}
