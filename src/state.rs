//! The state machine of a checkable, pure: SOFT/HARD state types, check attempts and the
//! state-change timestamps (spec §10.3, steps 4–8).

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_repr::{Deserialize_repr, Serialize_repr};

mod stored;

/// SOFT and HARD, stored and shown as Icinga numbers them (0 and 1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize_repr, Deserialize_repr)]
#[repr(u8)]
pub enum StateType {
    #[default]
    Soft = 0,
    Hard = 1,
}

pub use StateType::{Hard as HARD, Soft as SOFT};

impl From<StateType> for f64 {
    fn from(t: StateType) -> f64 {
        f64::from(t as u8)
    }
}

/// A problem's acknowledgement, stored and shown as Icinga numbers it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize_repr, Deserialize_repr)]
#[repr(u8)]
pub enum Acknowledgement {
    #[default]
    None = 0,
    Normal = 1,
    /// Kept until the object recovers, not just until its state changes.
    Sticky = 2,
}

impl From<Acknowledgement> for f64 {
    fn from(a: Acknowledgement) -> f64 {
        f64::from(a as u8)
    }
}

/// The `type` field of a check result document: always `"CheckResult"`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum CheckResultType {
    #[default]
    CheckResult,
}

/// `vars_before`/`vars_after` of a check result.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResultVars {
    pub attempt: u32,
    pub reachable: bool,
    pub state: u8,
    pub state_type: StateType,
}

/// A check result as Icinga shows it (spec §10.1), typed: built and stored without a
/// generic JSON tree.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    #[serde(rename = "type", default)]
    pub kind: CheckResultType,
    pub active: bool,
    /// The node that ran the check; shared by every result of the same node.
    #[serde(deserialize_with = "stored::shared_name")]
    pub check_source: Arc<str>,
    #[serde(with = "stored::json_text")]
    pub command: serde_json::Value,
    pub execution_start: f64,
    pub execution_end: f64,
    pub exit_status: i64,
    pub output: String,
    #[serde(with = "stored::json_text")]
    pub performance_data: Vec<serde_json::Value>,
    pub previous_hard_state: u8,
    pub schedule_start: f64,
    pub schedule_end: f64,
    #[serde(deserialize_with = "stored::shared_name")]
    pub scheduling_source: Arc<str>,
    pub state: u8,
    pub ttl: f64,
    pub vars_before: Option<ResultVars>,
    pub vars_after: ResultVars,
}

/// What a host or service remembers between results.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckableState {
    /// Hosts: 0 UP, 1 DOWN. Services: 0 OK … 3 UNKNOWN.
    pub state: u8,
    pub state_type: StateType,
    pub check_attempt: u32,
    pub last_state: u8,
    pub last_state_type: StateType,
    pub last_hard_state: u8,
    pub last_state_change: f64,
    pub last_hard_state_change: f64,
    pub previous_state_change: f64,
    /// When each state was last seen (index = state).
    #[serde(default)]
    pub last_state_seen: [f64; 4],
    pub last_reachable: bool,
    /// When a result last found the object unreachable.
    #[serde(default)]
    pub last_state_unreachable: f64,
    /// The last result as the API shows it (`null` before the first).
    /// Shared: copying a state for the next result does not copy the document.
    pub last_check_result: Option<std::sync::Arc<CheckResult>>,
    pub next_check: f64,
    pub force_next_check: bool,
    #[serde(default)]
    pub acknowledgement: Acknowledgement,
    #[serde(default)]
    pub acknowledgement_expiry: f64,
    #[serde(default)]
    pub acknowledgement_last_change: f64,
    #[serde(default)]
    pub flapping: bool,
    #[serde(default)]
    pub flapping_current: f64,
    #[serde(default)]
    pub flapping_last_change: f64,
    /// The flapping ring: a bit per slot, the next slot, the state changes compare to.
    #[serde(default)]
    pub flapping_buffer: u32,
    #[serde(default)]
    pub flapping_index: u32,
    #[serde(default)]
    pub flapping_ref_state: Option<u8>,
    /// Downtimes in effect.
    #[serde(default)]
    pub downtime_depth: u32,
    /// Notifications held back (downtime, acknowledgement, unreachable) to send when the
    /// reason ends, as Icinga's bits: 32 Problem, 64 Recovery, 128 FlappingStart,
    /// 256 FlappingEnd.
    #[serde(default)]
    pub suppressed_notifications: u32,
    /// The HARD state before the first held-back problem or recovery: one is sent later
    /// only if the state then differs.
    #[serde(default)]
    pub state_before_suppression: u8,
    /// The runtime state of the object's Notification objects.
    #[serde(default)]
    pub notifications: Notices,
    /// `execute-command` runs by id: `pending`, `deadline`, `endpoint`, then `exit`,
    /// `output`, `start`, `end`.
    #[serde(default, with = "stored::json_text")]
    pub executions: serde_json::Map<String, serde_json::Value>,
    /// The SOFT states of the last two state changes, and the HARD states of the last two
    /// HARD changes, as `current * 100 + previous` (99: none yet), as Icinga keeps them:
    /// Icinga DB shows the previous ones.
    #[serde(default = "no_states")]
    pub soft_states_raw: u16,
    #[serde(default = "no_states")]
    pub hard_states_raw: u16,
}

/// States stored as JSON left out the fields at their default; they read back as it.
fn no_states() -> u16 {
    99 * 100 + 99
}

impl CheckableState {
    /// The stored form (compact binary; numbers read back exactly; see [`stored`]).
    pub fn encode(&self) -> Vec<u8> {
        stored::encode(self)
    }

    /// Reads a stored state (the compact form, or JSON as states were stored before).
    ///
    /// # Errors
    /// The record is not a state.
    pub fn decode(raw: &[u8]) -> Result<Self, String> {
        stored::decode(raw)
    }

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
            last_state_unreachable: 0.0,
            last_check_result: None,
            next_check: 0.0,
            force_next_check: false,
            acknowledgement: Acknowledgement::None,
            acknowledgement_expiry: 0.0,
            acknowledgement_last_change: 0.0,
            flapping: false,
            flapping_current: 0.0,
            flapping_last_change: 0.0,
            flapping_buffer: 0,
            flapping_index: 0,
            flapping_ref_state: None,
            downtime_depth: 0,
            suppressed_notifications: 0,
            state_before_suppression: 0,
            notifications: Default::default(),
            executions: Default::default(),
            soft_states_raw: no_states(),
            hard_states_raw: no_states(),
        }
    }

    /// The SOFT state before the last state change (99 before the second).
    pub fn previous_soft_state(&self) -> u8 {
        (self.soft_states_raw % 100) as u8
    }

    /// The HARD state before the last HARD change (99 before the second).
    pub fn previous_hard_state(&self) -> u8 {
        (self.hard_states_raw % 100) as u8
    }

    /// Whether a result has been processed.
    pub fn has_result(&self) -> bool {
        self.last_check_result.is_some()
    }

    /// Whether the problem is acknowledged (normal or sticky).
    pub fn acknowledged(&self) -> bool {
        self.acknowledgement != Acknowledgement::None
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
    /// An acknowledgement ended with this result (normal: any state change; sticky: OK).
    pub ack_cleared: bool,
    /// A volatile object's result other than OK after OK: it counts as a hard change for
    /// the state history and the event handler, as Icinga counts it.
    pub volatile_change: bool,
    /// Icinga's rule for a problem or recovery notification: a hard change other than
    /// SOFT problem → OK, or any HARD result of a volatile object; never out of a SOFT OK
    /// (pending) state, never volatile OK → OK.
    pub notify: bool,
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
        st.hard_states_raw = st.hard_states_raw / 100 + u16::from(new_state) * 100;
    }
    if state_change {
        st.soft_states_raw = st.soft_states_raw / 100 + u16::from(new_state) * 100;
    }
    let ack_cleared = match st.acknowledgement {
        Acknowledgement::Normal => state_change,
        Acknowledgement::Sticky => new_state == 0,
        Acknowledgement::None => false,
    };
    if ack_cleared {
        st.acknowledgement = Acknowledgement::None;
        st.acknowledgement_expiry = 0.0;
        st.acknowledgement_last_change = end;
    }
    let volatile_change = volatile && !(old_ok && new_state == 0);
    let notify = ((hard_change && !(old_type == SOFT && new_state == 0))
        || (volatile && state_type == HARD))
        && !(old_state == 0 && old_type == SOFT)
        && !(volatile && old_ok && new_state == 0);
    Transition {
        state_change,
        hard_change,
        recovery: new_state == 0 && had_result && old_state != 0,
        previous_hard_state,
        ack_cleared,
        volatile_change,
        notify,
    }
}

/// The runtime state of one Notification object (kept in its checkable's state).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NoticeState {
    pub last_notification: f64,
    pub next_notification: f64,
    pub notification_number: u64,
    pub last_problem_notification: f64,
    pub notified_problem_users: Vec<String>,
    /// Problems, recoveries and flapping changes held back because they came outside the
    /// Notification's `period` (Icinga's Notification `suppressed_notifications`): sent
    /// when the period begins, if they still apply.
    #[serde(default)]
    pub suppressed: u32,
    /// A problem went out through a Notification without reminders (`interval = 0`): its
    /// reminder deadline (a `delay-notification`) sends nothing until the next
    /// notification of another kind, as Icinga's `no_more_notifications`.
    #[serde(default)]
    pub no_more: bool,
}

/// The notification states of a checkable, by Notification full name.
pub type Notices = std::collections::BTreeMap<String, NoticeState>;

#[cfg(test)]
pub(crate) fn test_result() -> CheckResult {
    let vars = ResultVars {
        attempt: 1,
        reachable: true,
        state: 0,
        state_type: HARD,
    };
    CheckResult {
        kind: CheckResultType::CheckResult,
        active: true,
        check_source: "".into(),
        command: serde_json::Value::Null,
        execution_start: 0.0,
        execution_end: 0.0,
        exit_status: 0,
        output: String::new(),
        performance_data: Vec::new(),
        previous_hard_state: 0,
        schedule_start: 0.0,
        schedule_end: 0.0,
        scheduling_source: "".into(),
        state: 0,
        ttl: 0.0,
        vars_before: None,
        vars_after: vars,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The states before the last change of each kind, as Icinga DB shows them: 99 until
    /// there is one; SOFT changes count every state change, HARD ones only HARD changes.
    #[test]
    fn previous_states() {
        let mut st = CheckableState::pending(false, 0.0);
        let result = |st: &mut CheckableState, state: u8, at: f64| {
            apply(st, state, 2, false, at);
            st.last_check_result = Some(std::sync::Arc::new(test_result()));
            (st.previous_soft_state(), st.previous_hard_state())
        };
        assert_eq!(
            (st.previous_soft_state(), st.previous_hard_state()),
            (99, 99)
        );
        assert_eq!(result(&mut st, 2, 1.0), (99, 99), "SOFT CRITICAL");
        assert_eq!(result(&mut st, 2, 2.0), (99, 99), "HARD CRITICAL");
        assert_eq!(result(&mut st, 0, 3.0), (2, 2), "HARD OK");
        assert_eq!(result(&mut st, 1, 4.0), (0, 2), "SOFT WARNING");
    }

    fn run(states: &[u8], max: u32) -> Vec<(u8, StateType, u32, bool)> {
        let mut st = CheckableState::pending(false, 0.0);
        let mut out = Vec::new();
        for (i, s) in states.iter().enumerate() {
            let t = apply(&mut st, *s, max, false, i as f64 + 1.0);
            st.last_check_result = Some(std::sync::Arc::new(test_result()));
            out.push((st.state, st.state_type, st.check_attempt, t.hard_change));
        }
        out
    }

    /// A stored state reads back equal, timestamps to the last bit, in a fraction of its
    /// JSON's size; the free-form JSON fields of a check result stay JSON in the API.
    #[test]
    fn states_round_trip() -> Result<(), String> {
        let mut st = CheckableState::pending(false, 1_795_599_439.472_696_5);
        let mut cr = test_result();
        cr.output = "CRITICAL - disk \"/\" at 97 %\nsecond line".into();
        cr.command = serde_json::json!(["/usr/lib/nagios/plugins/check_disk", "-w", 10]);
        cr.performance_data = vec![serde_json::json!("/=97%;90;95"), serde_json::json!(1.5)];
        cr.execution_end = 1_795_599_440.125;
        st.last_check_result = Some(std::sync::Arc::new(cr.clone()));
        st.notifications
            .insert("h!s!mail".into(), Default::default());
        st.executions
            .insert("id".into(), serde_json::json!({"exit": 0, "output": "ok"}));
        st.flapping_ref_state = Some(2);
        let stored = st.encode();
        assert_eq!(CheckableState::decode(&stored)?, st);
        let json = serde_json::to_vec(&st).map_err(|e| e.to_string())?;
        assert!(
            stored.len() * 2 < json.len(),
            "{} stored bytes, {} as JSON",
            stored.len(),
            json.len()
        );
        let shown = serde_json::to_value(&cr).map_err(|e| e.to_string())?;
        assert_eq!(shown["command"][2], serde_json::json!(10));
        assert_eq!(shown["performance_data"][1], serde_json::json!(1.5));

        assert!(CheckableState::decode(b"\xc1 not a state").is_err());
        assert!(CheckableState::decode(b"").is_err());
        assert!(CheckableState::decode(&stored[..stored.len() - 3]).is_err());
        let mut trailing = stored.clone();
        trailing.push(0);
        assert!(CheckableState::decode(&trailing).is_err());
        Ok(())
    }

    /// States stored as JSON still read: with every field, and with the fields at their
    /// default left out (as they were stored), which read back as their default.
    #[test]
    fn json_states_still_read() -> Result<(), String> {
        let mut st = CheckableState::pending(false, 1_795_599_439.472_696_5);
        st.last_check_result = Some(std::sync::Arc::new(test_result()));
        let json = serde_json::to_vec(&st).map_err(|e| e.to_string())?;
        assert_eq!(CheckableState::decode(&json)?, st);

        let mut full = serde_json::to_value(&st).map_err(|e| e.to_string())?;
        let fields = full.as_object_mut().ok_or("not an object")?;
        for left_out in [
            "acknowledgement",
            "flapping",
            "downtime_depth",
            "last_state_seen",
            "soft_states_raw",
            "notifications",
            "executions",
        ] {
            fields.remove(left_out).ok_or(left_out)?;
        }
        assert_eq!(CheckableState::decode(full.to_string().as_bytes())?, st);

        let fields = full.as_object_mut().ok_or("not an object")?;
        fields.insert("acknowledgement".into(), serde_json::json!(2));
        fields.insert(
            "last_state_seen".into(),
            serde_json::json!([1.0, 0.0, 0.0, 0.0]),
        );
        fields.insert("soft_states_raw".into(), serde_json::json!(199));
        let read = CheckableState::decode(full.to_string().as_bytes())?;
        assert_eq!(
            (
                read.acknowledgement,
                read.last_state_seen[0],
                read.soft_states_raw
            ),
            (Acknowledgement::Sticky, 1.0, 199)
        );
        Ok(())
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

    /// Normal acknowledgements end with any state change, sticky ones only with OK.
    #[test]
    fn acknowledgements_clear() {
        let mut st = CheckableState::pending(false, 0.0);
        apply(&mut st, 2, 1, false, 1.0);
        st.last_check_result = Some(std::sync::Arc::new(test_result()));
        st.acknowledgement = Acknowledgement::Normal;
        assert!(!apply(&mut st, 2, 1, false, 2.0).ack_cleared);
        assert!(apply(&mut st, 1, 1, false, 3.0).ack_cleared);
        assert_eq!(
            (st.acknowledgement, st.acknowledgement_last_change),
            (Acknowledgement::None, 3.0)
        );
        st.acknowledgement = Acknowledgement::Sticky;
        assert!(!apply(&mut st, 2, 1, false, 4.0).ack_cleared);
        assert!(apply(&mut st, 0, 1, false, 5.0).ack_cleared);
    }

    /// JSON keeps Icinga's numbers; the stored form reads them back.
    #[test]
    fn state_types_and_acknowledgements_are_numbers() {
        let mut st = CheckableState::pending(false, 0.0);
        st.state_type = HARD;
        st.acknowledgement = Acknowledgement::Sticky;
        let json = serde_json::to_value(&st).unwrap_or_default();
        assert_eq!(
            (&json["state_type"], &json["acknowledgement"]),
            (&serde_json::json!(1), &serde_json::json!(2))
        );
        let back = CheckableState::decode(&st.encode()).map(|b| (b.state_type, b.acknowledgement));
        assert_eq!(back, Ok((HARD, Acknowledgement::Sticky)));
        assert!(serde_json::from_str::<StateType>("2").is_err());
    }

    #[test]
    fn timestamps() {
        let mut st = CheckableState::pending(false, 0.0);
        apply(&mut st, 0, 3, false, 10.0);
        st.last_check_result = Some(std::sync::Arc::new(test_result()));
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

/// Flapping detection (spec §10.5): a 20-slot ring of "this result changed the state",
/// weighted towards the newest, with hysteresis between two thresholds.
pub mod flapping {
    use super::CheckableState;

    /// Slots in the ring.
    pub const SLOTS: u32 = 20;

    /// The flapping settings of an object.
    #[derive(Clone, Copy, Debug)]
    pub struct Settings {
        pub enabled: bool,
        pub low: f64,
        pub high: f64,
        /// Bit per state (0–3) whose results are ignored.
        pub ignore: u8,
    }

    /// Records a result in `state`; returns whether the flapping status changed.
    pub fn record(st: &mut CheckableState, state: u8, settings: Settings, end: f64) -> bool {
        if settings.ignore & (1 << state.min(7)) != 0 {
            return false;
        }
        let changed = st.flapping_ref_state != Some(state) && st.flapping_ref_state.is_some();
        st.flapping_ref_state = Some(state);
        let slot = st.flapping_index % SLOTS;
        if changed {
            st.flapping_buffer |= 1 << slot;
        } else {
            st.flapping_buffer &= !(1 << slot);
        }
        st.flapping_index = (slot + 1) % SLOTS;
        // Oldest slot is the one written next; weights rise by 0.02 per slot.
        let mut sum = 0.0;
        for i in 0..SLOTS {
            let slot = (st.flapping_index + i) % SLOTS;
            if st.flapping_buffer & (1 << slot) != 0 {
                sum += 0.8 + 0.02 * f64::from(i);
            }
        }
        st.flapping_current = 100.0 * sum / f64::from(SLOTS);
        if !settings.enabled {
            let was = st.flapping;
            st.flapping = false;
            return was;
        }
        let now_flapping = if st.flapping {
            st.flapping_current > settings.low
        } else {
            st.flapping_current > settings.high
        };
        if now_flapping != st.flapping {
            st.flapping = now_flapping;
            st.flapping_last_change = end;
            return true;
        }
        false
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        fn settings() -> Settings {
            Settings {
                enabled: true,
                low: 25.0,
                high: 30.0,
                ignore: 0,
            }
        }

        #[test]
        fn alternating_states_flap_and_calm_down() {
            let mut st = CheckableState::pending(false, 0.0);
            let mut started = None;
            for i in 0..20 {
                if record(&mut st, (i % 2) as u8 * 2, settings(), f64::from(i)) && st.flapping {
                    started.get_or_insert(i);
                }
            }
            assert!(st.flapping, "{}", st.flapping_current);
            // 7 changes of weight ≥ 0.8 exceed 30 %: flapping starts early.
            assert!(started.is_some_and(|i| i < 10), "{started:?}");
            let mut stopped = None;
            for i in 20..60 {
                if record(&mut st, 0, settings(), f64::from(i)) && !st.flapping {
                    stopped.get_or_insert(i);
                }
            }
            assert!(!st.flapping);
            assert!(stopped.is_some());
            assert_eq!(st.flapping_current, 0.0);
        }

        #[test]
        fn ignored_states_do_not_count() {
            let mut st = CheckableState::pending(false, 0.0);
            let s = Settings {
                ignore: 1 << 3,
                ..settings()
            };
            for i in 0..20 {
                record(&mut st, if i % 2 == 0 { 0 } else { 3 }, s, f64::from(i));
            }
            assert_eq!(st.flapping_current, 0.0);
            assert!(!st.flapping);
        }
    }
}
