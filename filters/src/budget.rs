//! How long the evaluations of one request may run, and the way to stop them early.
//!
//! A [`Budget`] is shared by every evaluation a request makes (one per object of a query,
//! on as many threads as the scan uses). The evaluator looks at it every
//! [`CHECK_EVERY`] steps and before each call, so a runaway script stops within a few
//! microseconds of its deadline or of [`Budget::cancel`] (the client went away, the
//! server is stopping), on whatever thread it runs.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Steps between two looks at the clock and the cancel flag.
pub const CHECK_EVERY: u64 = 256;

/// A deadline and a cancel flag.
#[derive(Debug, Default)]
pub struct Budget {
    /// When it runs out, and the time it allowed (for the message).
    deadline: Option<(Instant, Duration)>,
    cancelled: AtomicBool,
}

/// Why a budget stopped an evaluation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exhausted {
    /// The deadline passed.
    Deadline(Duration),
    /// [`Budget::cancel`] was called.
    Cancelled,
}

impl std::fmt::Display for Exhausted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Exhausted::Deadline(d) => write!(
                f,
                "Evaluation exceeded its time budget of {} ms",
                d.as_millis()
            ),
            Exhausted::Cancelled => f.write_str("Evaluation was cancelled"),
        }
    }
}

impl Budget {
    /// No deadline; only [`Budget::cancel`] stops it.
    pub fn unlimited() -> Budget {
        Budget::default()
    }

    /// Until `allowed` from now.
    pub fn within(allowed: Duration) -> Budget {
        Budget {
            deadline: Instant::now().checked_add(allowed).map(|at| (at, allowed)),
            cancelled: AtomicBool::new(false),
        }
    }

    /// Stops every evaluation under this budget at its next look.
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::Relaxed);
    }

    /// Whether the budget is spent: cancelled, or past its deadline.
    pub fn exhausted(&self) -> Option<Exhausted> {
        if self.cancelled.load(Ordering::Relaxed) {
            return Some(Exhausted::Cancelled);
        }
        self.deadline
            .filter(|(at, _)| Instant::now() >= *at)
            .map(|(_, allowed)| Exhausted::Deadline(allowed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cancelled_budget_is_exhausted_and_a_fresh_one_is_not() {
        let b = Budget::within(Duration::from_secs(3600));
        assert_eq!(b.exhausted(), None);
        b.cancel();
        assert_eq!(b.exhausted(), Some(Exhausted::Cancelled));
        let past = Budget::within(Duration::ZERO);
        assert_eq!(past.exhausted(), Some(Exhausted::Deadline(Duration::ZERO)));
    }
}
