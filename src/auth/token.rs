//! Short-lived bearer tokens for event streams in browsers: `EventSource` and `WebSocket`
//! cannot send an `Authorization` header, so an authenticated user asks for a token
//! (`POST /v1/events/token`) and passes it as `access_token=` (or `Authorization: Bearer`).
//!
//! A token is `<user>.<expiry>.<mac>` (user name base64url, expiry in Unix seconds, the
//! HMAC-SHA256 of both under a key kept in the data directory), so tokens need no server
//! state, survive a restart (an `EventSource` reconnecting after one keeps working) and
//! die at their expiry. A token is good for the event streams only.

use std::path::Path;

use anyhow::Result;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};

/// Longest validity a client may ask for.
pub const MAX_TTL: u64 = 24 * 3600;
/// Validity when the client does not say.
pub const DEFAULT_TTL: u64 = 300;

/// Issues and checks tokens.
pub struct Tokens {
    key: hmac::Key,
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
                let mut b = vec![0u8; 32];
                SystemRandom::new()
                    .fill(&mut b)
                    .map_err(|_| anyhow::anyhow!("no randomness for the token key"))?;
                crate::pki::write_private(path, &b)?;
                b
            }
        };
        Ok(Tokens {
            key: hmac::Key::new(hmac::HMAC_SHA256, &bytes),
        })
    }

    /// A token for `user` valid until `expires` (Unix seconds).
    pub fn issue(&self, user: &str, expires: u64) -> String {
        let body = format!("{}.{expires}", B64.encode(user));
        let mac = hmac::sign(&self.key, body.as_bytes());
        format!("{body}.{}", B64.encode(mac.as_ref()))
    }

    /// The user a token names, when its MAC is right and it has not expired at `now`.
    pub fn verify(&self, token: &str, now: u64) -> Option<String> {
        let (body, mac) = token.rsplit_once('.')?;
        let mac = B64.decode(mac).ok()?;
        hmac::verify(&self.key, body.as_bytes(), &mac).ok()?;
        let (user, expires) = body.split_once('.')?;
        if expires.parse::<u64>().ok()? < now {
            return None;
        }
        String::from_utf8(B64.decode(user).ok()?).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_until_expiry_and_reject_tampering() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("token.key");
        let tokens = Tokens::load(&path)?;
        let t = tokens.issue("dash.board", 1000);
        assert_eq!(tokens.verify(&t, 999).as_deref(), Some("dash.board"));
        assert_eq!(tokens.verify(&t, 1000).as_deref(), Some("dash.board"));
        assert_eq!(tokens.verify(&t, 1001), None, "expired");
        let forged = t.replacen("1000", "9999", 1);
        assert_eq!(tokens.verify(&forged, 999), None, "expiry changed");
        assert_eq!(tokens.verify("garbage", 0), None);
        // The same key after a restart: the token stays valid.
        let again = Tokens::load(&path)?;
        assert_eq!(again.verify(&t, 999).as_deref(), Some("dash.board"));
        // Another key: refused.
        let other = Tokens::load(&dir.path().join("other.key"))?;
        assert_eq!(other.verify(&t, 999), None);
        Ok(())
    }
}
