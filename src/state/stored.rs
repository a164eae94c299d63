//! The stored form of a [`CheckableState`]: a version byte, then the state in postcard's
//! compact positional encoding (fields in declaration order, integers as varints, `f64`
//! as eight bytes, so timestamps read back to the last bit). A service's state with a
//! check result takes about 200 bytes instead of about 930 as JSON, and reads several
//! times faster, which is what the store's commits, its verification at start and the
//! state snapshot pay for at a million services.
//!
//! States stored as JSON (always an object, so their first byte is `{`) still read.
//!
//! The encoding is positional: a field added to, removed from or reordered in a stored
//! type changes the layout. Such a change takes a new version byte, and the types of the
//! previous layout stay to read what was stored with it.

use std::cell::RefCell;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::CheckableState;

/// The first byte of a state in the current layout.
const LAYOUT_1: u8 = 1;

/// The stored bytes of `state`.
pub(super) fn encode(state: &CheckableState) -> Vec<u8> {
    // Serialising plain fields into a vector cannot fail.
    postcard::to_extend(state, vec![LAYOUT_1]).unwrap_or_default()
}

/// Reads a stored state, in the current layout or as JSON.
pub(super) fn decode(raw: &[u8]) -> Result<CheckableState, String> {
    match raw.split_first() {
        Some((&LAYOUT_1, rest)) => match postcard::take_from_bytes(rest) {
            Ok((state, [])) => Ok(state),
            Ok((_, trailing)) => Err(format!("{} bytes after the stored state", trailing.len())),
            Err(e) => Err(format!("stored state: {e}")),
        },
        Some((b'{', _)) => serde_json::from_slice(raw).map_err(|e| e.to_string()),
        Some((first, _)) => Err(format!("not a stored state (first byte {first:#04x})")),
        None => Err("empty stored state".into()),
    }
}

/// Node names a thread read last (and where the next one goes): a site has a few.
const RECENT_NAMES: usize = 4;

thread_local! {
    static NAMES: RefCell<(Vec<Arc<str>>, usize)> = const { RefCell::new((Vec::new(), 0)) };
}

/// For node names (`check_source`, `scheduling_source`): every result repeats one of a
/// site's few. A name read back is the allocation of the same name the thread read
/// recently, so a million stored results hold a handful of names instead of two
/// allocations each. Bounded: a name not among the last few is allocated and replaces
/// the oldest.
pub(super) fn shared_name<'de, D: Deserializer<'de>>(d: D) -> Result<Arc<str>, D::Error> {
    struct Name;
    impl serde::de::Visitor<'_> for Name {
        type Value = Arc<str>;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a node name")
        }

        fn visit_str<E: serde::de::Error>(self, name: &str) -> Result<Arc<str>, E> {
            Ok(NAMES.with(|names| {
                let (recent, next) = &mut *names.borrow_mut();
                if let Some(known) = recent.iter().find(|n| &***n == name) {
                    return known.clone();
                }
                let name: Arc<str> = name.into();
                if recent.len() < RECENT_NAMES {
                    recent.push(name.clone());
                } else {
                    recent[*next] = name.clone();
                    *next = (*next + 1) % RECENT_NAMES;
                }
                name
            }))
        }
    }
    d.deserialize_str(Name)
}

/// For fields holding free-form JSON (`serde_json::Value` and collections of it): shown
/// as themselves to human-readable formats (the API's JSON), and stored as JSON text by
/// compact ones, which cannot carry a value whose kind is only known when it is read.
pub(super) mod json_text {
    use super::{Deserialize, DeserializeOwned, Deserializer, Serialize, Serializer};

    pub fn serialize<T: Serialize, S: Serializer>(value: &T, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            value.serialize(s)
        } else {
            let text = serde_json::to_string(value).map_err(serde::ser::Error::custom)?;
            s.serialize_str(&text)
        }
    }

    pub fn deserialize<'de, T: DeserializeOwned, D: Deserializer<'de>>(
        d: D,
    ) -> Result<T, D::Error> {
        if d.is_human_readable() {
            T::deserialize(d)
        } else {
            let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
            serde_json::from_str(&text).map_err(serde::de::Error::custom)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::state::{
        Acknowledgement, CheckResult, CheckResultType, NoticeState, ResultVars, HARD, SOFT,
    };

    /// A state with every field away from its default, written out field by field: a
    /// field added to a stored type stops this from compiling, and one reordered or
    /// retyped changes the bytes below.
    fn every_field() -> CheckableState {
        let notice = NoticeState {
            last_notification: 1_795_599_400.25,
            next_notification: 1_795_601_200.5,
            notification_number: 3,
            last_problem_notification: 1_795_599_300.125,
            notified_problem_users: vec!["ops".into(), "oncall".into()],
            suppressed: 32,
            no_more: true,
        };
        let result = CheckResult {
            kind: CheckResultType::CheckResult,
            active: true,
            check_source: "node-1".into(),
            command: serde_json::json!(["/usr/lib/nagios/plugins/check_disk", "-w", 10]),
            execution_start: 1_795_599_439.25,
            execution_end: 1_795_599_439.75,
            exit_status: 2,
            output: "DISK CRITICAL - / at 97 %".into(),
            performance_data: vec![serde_json::json!("/=97%;90;95"), serde_json::json!(1.5)],
            previous_hard_state: 1,
            schedule_start: 1_795_599_439.0,
            schedule_end: 1_795_599_440.0,
            scheduling_source: "node-2".into(),
            state: 2,
            ttl: 60.0,
            vars_before: Some(ResultVars {
                attempt: 2,
                reachable: false,
                state: 1,
                state_type: SOFT,
            }),
            vars_after: ResultVars {
                attempt: 3,
                reachable: true,
                state: 2,
                state_type: HARD,
            },
        };
        CheckableState {
            state: 2,
            state_type: HARD,
            check_attempt: 3,
            last_state: 1,
            last_state_type: SOFT,
            last_hard_state: 2,
            last_state_change: 1_795_599_439.472_696_5,
            last_hard_state_change: 1_795_599_440.5,
            previous_state_change: 1_795_599_000.0,
            last_state_seen: [1.0, 2.0, 3.0, 4.0],
            last_reachable: false,
            last_state_unreachable: 5.0,
            last_check_result: Some(Arc::new(result)),
            next_check: 1_795_599_500.0,
            force_next_check: true,
            acknowledgement: Acknowledgement::Sticky,
            acknowledgement_expiry: 6.0,
            acknowledgement_last_change: 7.0,
            flapping: true,
            flapping_current: 42.5,
            flapping_last_change: 8.0,
            flapping_buffer: 0x0F0F,
            flapping_index: 17,
            flapping_ref_state: Some(2),
            downtime_depth: 2,
            suppressed_notifications: 96,
            state_before_suppression: 1,
            notifications: [("h!s!mail".to_string(), notice)].into(),
            executions: serde_json::json!({"id": {"exit": 0, "output": "ok"}})
                .as_object()
                .cloned()
                .unwrap_or_default(),
            soft_states_raw: 201,
            hard_states_raw: 299,
        }
    }

    /// Layout 1, byte for byte.
    const LAYOUT_1_BYTES: &str = concat!(
        "01020103010002a940de13abc1da4100002014abc1da41000000a6aac1da41000000000000f03f00",
        "0000000000004000000000000008400000000000001040000000000000001440010001066e6f6465",
        "2d312e5b222f7573722f6c69622f6e6167696f732f706c7567696e732f636865636b5f6469736b22",
        "2c222d77222c31305d0000d013abc1da410000f013abc1da4104194449534b20435249544943414c",
        "202d202f2061742039372025135b222f3d3937253b39303b3935222c312e355d010000c013abc1da",
        "4100000014abc1da41066e6f64652d32020000000000004e4001020001000301020100000023abc1",
        "da41010200000000000018400000000000001c4001000000000040454000000000000020408f1e11",
        "01020260010108682173216d61696c0000100aabc1da41000020ccacc1da4103000008f1aac1da41",
        "02036f7073066f6e63616c6c20011f7b226964223a7b2265786974223a302c226f7574707574223a",
        "226f6b227d7dc901ab02",
    );

    /// The layout is pinned: states stored by an earlier build read back the same.
    #[test]
    fn layout_1_is_pinned() -> Result<(), String> {
        let st = every_field();
        let stored = encode(&st);
        assert_eq!(hex::encode(&stored), LAYOUT_1_BYTES);
        let pinned = hex::decode(LAYOUT_1_BYTES).map_err(|e| e.to_string())?;
        assert_eq!(decode(&pinned)?, st);
        Ok(())
    }

    /// Results of the same node read back share one allocation of its name; other
    /// names keep their own, and a name read as JSON is shared the same way.
    #[test]
    fn node_names_read_back_shared() -> Result<(), String> {
        let stored = encode(&every_field());
        let (a, b) = (decode(&stored)?, decode(&stored)?);
        let source = |st: &CheckableState| {
            st.last_check_result
                .as_ref()
                .map(|r| (r.check_source.clone(), r.scheduling_source.clone()))
                .ok_or("no result")
        };
        let ((a_check, a_scheduling), (b_check, b_scheduling)) = (source(&a)?, source(&b)?);
        assert_eq!((&*a_check, &*a_scheduling), ("node-1", "node-2"));
        assert!(Arc::ptr_eq(&a_check, &b_check));
        assert!(Arc::ptr_eq(&a_scheduling, &b_scheduling));
        assert!(!Arc::ptr_eq(&a_check, &a_scheduling));
        let json = serde_json::to_vec(&every_field()).map_err(|e| e.to_string())?;
        let (c_check, _) = source(&decode(&json)?)?;
        assert!(Arc::ptr_eq(&a_check, &c_check));
        Ok(())
    }
}
