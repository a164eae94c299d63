//! The actions without targets: `shutdown-process`, `restart-process` (a clean stop,
//! then the same program again in the same process) and `generate-ticket`.

use std::num::NonZeroU32;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::engine::Engine;
use crate::error::Error;
use crate::outcome::Outcome;
use crate::params::Params;

/// Answers, then stops (and restarts) the server once the answer is out.
pub fn stop(engine: &Engine, restart: bool) -> Outcome {
    engine.exit.restart.store(restart, Ordering::SeqCst);
    let requested = engine.exit.requested.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        requested.cancel();
    });
    let status = if restart {
        "Restarting Icinga 2."
    } else {
        "Shutting down Icinga 2."
    };
    Outcome::ok(status)
}

/// The PKI ticket of a common name: PBKDF2-HMAC-SHA1 of `cn` with `TicketSalt`, 50 000
/// rounds, hex — what `icinga2 pki ticket` prints.
pub fn ticket_for(cn: &str, salt: &str) -> String {
    let mut out = [0u8; 20];
    let rounds = NonZeroU32::new(50_000).unwrap_or(NonZeroU32::MIN);
    ring::pbkdf2::derive(
        ring::pbkdf2::PBKDF2_HMAC_SHA1,
        rounds,
        salt.as_bytes(),
        cn.as_bytes(),
        &mut out,
    );
    hex::encode(out)
}

pub fn ticket(engine: &Engine, params: &Params) -> Result<Outcome, Error> {
    let Some(cn) = params.string("cn").filter(|c| !c.is_empty()) else {
        return Err(Error::invalid("Parameter 'cn' is required."));
    };
    let salt = engine
        .library()
        .constants()
        .get("TicketSalt")
        .map(|v| v.to_display_string())
        .filter(|s| !s.is_empty());
    let Some(salt) = salt else {
        return Ok(Outcome::new(
            500,
            "Ticket salt is not configured in ApiListener object",
        ));
    };
    let ticket = ticket_for(&cn, &salt);
    Ok(Outcome::ok(format!(
        "Generated PKI ticket '{ticket}' for common name '{cn}'."
    ))
    .with("ticket", ticket))
}

#[cfg(test)]
mod tests {
    /// RFC 6070's vector for the primitive, and the ticket Icinga 2 r2.13.6 prints for
    /// `icinga2 pki ticket --cn agent1 --salt s3cret`.
    #[test]
    fn ticket_is_pbkdf2_sha1() {
        let mut out = [0u8; 20];
        ring::pbkdf2::derive(
            ring::pbkdf2::PBKDF2_HMAC_SHA1,
            std::num::NonZeroU32::new(1).unwrap_or(std::num::NonZeroU32::MIN),
            b"salt",
            b"password",
            &mut out,
        );
        let hex = hex::encode(out);
        assert_eq!(hex, "0c60c80f961f0e71f3a9b524af6012062fe037a6");
        assert_eq!(
            super::ticket_for("agent1", "s3cret"),
            "91b63cdca64fa67d2971a84795ad4b073b1e292e"
        );
    }
}
