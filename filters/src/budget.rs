//! How long the evaluations of one request may run, and the way to stop them early.
//!
//! A [`Budget`] is shared by every evaluation a request makes (one per object of a query,
//! on as many threads as the scan uses). The evaluator looks at it every
//! [`CHECK_EVERY`] steps and before each call, so a runaway script stops within a few
//! microseconds of its deadline or of [`Budget::cancel`] (the client went away, the
//! server is stopping), on whatever thread it runs. A budget may also limit the steps of
//! all its evaluations together (counted [`CHECK_EVERY`] steps at a time), so that a
//! costly filter is refused once for the request, not allowed its steps per object.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Steps between two looks at the clock and the cancel flag.
pub const CHECK_EVERY: u64 = 256;

/// A deadline, a step limit and a cancel flag.
#[derive(Debug)]
pub struct Budget {
    /// When it runs out, and the time it allowed (for the message).
    deadline: Option<(Instant, Duration)>,
    cancelled: AtomicBool,
    /// Steps spent by all evaluations under the budget, and how many they may spend.
    steps: AtomicU64,
    max_steps: u64,
}

impl Default for Budget {
    fn default() -> Self {
        Budget {
            deadline: None,
            cancelled: AtomicBool::new(false),
            steps: AtomicU64::new(0),
            max_steps: u64::MAX,
        }
    }
}

/// Why a budget stopped an evaluation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exhausted {
    /// The deadline passed.
    Deadline(Duration),
    /// [`Budget::cancel`] was called.
    Cancelled,
    /// The evaluations together took more steps than allowed.
    Steps(u64),
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
            Exhausted::Steps(n) => write!(
                f,
                "Evaluation exceeded the limit of {n} steps for the request"
            ),
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
            ..Budget::default()
        }
    }

    /// The same budget, with at most `max_steps` steps for all its evaluations together.
    #[must_use]
    pub fn with_steps(mut self, max_steps: u64) -> Budget {
        self.max_steps = max_steps;
        self
    }

    /// Counts `n` more steps; whether the budget is spent (steps, deadline or cancel).
    pub fn spend(&self, n: u64) -> Option<Exhausted> {
        if self.max_steps != u64::MAX {
            let total = self.steps.fetch_add(n, Ordering::Relaxed).saturating_add(n);
            if total > self.max_steps {
                return Some(Exhausted::Steps(self.max_steps));
            }
        }
        self.exhausted()
    }

    /// Stops every evaluation under this budget at its next look.
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::Relaxed);
    }

    /// Whether the budget is spent: cancelled, past its deadline, or out of steps.
    pub fn exhausted(&self) -> Option<Exhausted> {
        if self.steps.load(Ordering::Relaxed) > self.max_steps {
            return Some(Exhausted::Steps(self.max_steps));
        }
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

    #[test]
    fn steps_add_up_across_evaluations() {
        let b = Budget::unlimited().with_steps(1000);
        assert_eq!(b.spend(600), None);
        assert_eq!(b.spend(400), None);
        assert_eq!(b.spend(1), Some(Exhausted::Steps(1000)));
        assert_eq!(b.exhausted(), Some(Exhausted::Steps(1000)));
        assert_eq!(Budget::unlimited().spend(u64::MAX), None);
    }
}
