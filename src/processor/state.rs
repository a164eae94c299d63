//! The state machine of a checkable, pure: SOFT/HARD state types, check attempts and the
//! state-change timestamps (spec §10.3, steps 4–8).

use serde::{Deserialize, Serialize};

/// SOFT and HARD, as Icinga numbers them.
pub const SOFT: u8 = 0;
pub const HARD: u8 = 1;

/// What a host or service remembers between results.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckableState {
    /// Hosts: 0 UP, 1 DOWN. Services: 0 OK … 3 UNKNOWN.
    pub state: u8,
    pub state_type: u8,
    pub check_attempt: u32,
    pub last_state: u8,
    pub last_state_type: u8,
    pub last_hard_state: u8,
    pub last_state_change: f64,
    pub last_hard_state_change: f64,
    pub previous_state_change: f64,
    /// When each state was last seen (index = state).
    pub last_state_seen: [f64; 4],
    pub last_reachable: bool,
    /// The last result as the API shows it (`null` before the first).
    /// Shared: copying a state for the next result does not copy the document.
    pub last_check_result: Option<std::sync::Arc<serde_json::Value>>,
    pub next_check: f64,
    pub force_next_check: bool,
}

impl CheckableState {
    /// Before the first result: pending (UNKNOWN for services, DOWN for hosts), SOFT,
    /// attempt 1, last change at `start`.
    pub fn pending(is_host: bool, start: f64) -> Self {
        let state = if is_host { 1 } else { 3 };
        CheckableState {
            state,
            state_type: SOFT,
            check_attempt: 1,
            last_state: state,
            last_state_type: SOFT,
            last_hard_state: state,
            last_state_change: start,
            last_hard_state_change: start,
            previous_state_change: start,
            last_state_seen: [0.0; 4],
            last_reachable: true,
            last_check_result: None,
            next_check: 0.0,
            force_next_check: false,
        }
    }

    /// Whether a result has been processed.
    pub fn has_result(&self) -> bool {
        self.last_check_result.is_some()
    }
}

/// What one result changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transition {
    pub state_change: bool,
    pub hard_change: bool,
    /// From a problem to OK/UP.
    pub recovery: bool,
    pub previous_hard_state: u8,
}

/// Applies a result in `new_state` (host or service numbering) that ended at `end`.
pub fn apply(
    st: &mut CheckableState,
    new_state: u8,
    max_check_attempts: u32,
    volatile: bool,
    end: f64,
) -> Transition {
    let had_result = st.has_result();
    let (old_state, old_type, old_attempt) = (st.state, st.state_type, st.check_attempt);
    // Pending counts as OK: the first problem starts at attempt 1.
    let old_ok = old_state == 0 || !had_result;
    st.last_state = old_state;
    st.last_state_type = old_type;
    let (state_type, attempt) = if new_state == 0 {
        (HARD, 1)
    } else if old_ok {
        (SOFT, 1)
    } else if old_type == SOFT {
        (SOFT, old_attempt + 1)
    } else {
        (HARD, 1)
    };
    let (state_type, attempt) = if state_type == SOFT && attempt >= max_check_attempts.max(1) {
        (HARD, 1)
    } else {
        (state_type, attempt)
    };
    st.state = new_state;
    st.state_type = state_type;
    st.check_attempt = attempt;
    if let Some(slot) = st.last_state_seen.get_mut(new_state as usize) {
        *slot = end;
    }
    let state_change = new_state != old_state || !had_result;
    st.previous_state_change = st.last_state_change;
    if state_change {
        st.last_state_change = end;
    }
    let hard_change = (state_type == HARD && old_type == SOFT)
        || (state_change && old_type == HARD && state_type == HARD);
    let previous_hard_state = st.last_hard_state;
    if hard_change || volatile {
        st.last_hard_state = new_state;
        st.last_hard_state_change = end;
    }
    Transition {
        state_change,
        hard_change,
        recovery: new_state == 0 && had_result && old_state != 0,
        previous_hard_state,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(states: &[u8], max: u32) -> Vec<(u8, u8, u32, bool)> {
        let mut st = CheckableState::pending(false, 0.0);
        let mut out = Vec::new();
        for (i, s) in states.iter().enumerate() {
            let t = apply(&mut st, *s, max, false, i as f64 + 1.0);
            st.last_check_result = Some(std::sync::Arc::new(serde_json::json!({})));
            out.push((st.state, st.state_type, st.check_attempt, t.hard_change));
        }
        out
    }

    /// OK → CRIT(S,1) → CRIT(S,2) → CRIT(H,1) → CRIT(H,1) → OK(H,1), with max 3.
    #[test]
    fn soft_then_hard() {
        assert_eq!(
            run(&[0, 2, 2, 2, 2, 0], 3),
            vec![
                (0, HARD, 1, true),
                (2, SOFT, 1, false),
                (2, SOFT, 2, false),
                (2, HARD, 1, true),
                (2, HARD, 1, false),
                (0, HARD, 1, true),
            ]
        );
    }

    /// A HARD problem changing state is a hard change; with max 1 the first problem is
    /// HARD; a SOFT recovery is not a hard change.
    #[test]
    fn hard_changes() {
        assert_eq!(run(&[2], 1), vec![(2, HARD, 1, true)]);
        let r = run(&[0, 1, 1, 1, 2], 3);
        assert_eq!(r[4], (2, HARD, 1, true));
        let r = run(&[0, 2, 0], 3);
        assert_eq!(r[2], (0, HARD, 1, true), "SOFT → OK(HARD) is a type change");
    }

    #[test]
    fn timestamps() {
        let mut st = CheckableState::pending(false, 0.0);
        apply(&mut st, 0, 3, false, 10.0);
        st.last_check_result = Some(std::sync::Arc::new(serde_json::json!({})));
        apply(&mut st, 0, 3, false, 20.0);
        assert_eq!(st.last_state_change, 10.0);
        assert_eq!(st.previous_state_change, 10.0);
        apply(&mut st, 2, 3, false, 30.0);
        assert_eq!(st.last_state_change, 30.0);
        assert_eq!(st.previous_state_change, 10.0);
        assert_eq!(st.last_state_seen[2], 30.0);
        assert_eq!(st.last_hard_state, 0);
    }
}
