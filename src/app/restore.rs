//! Stored runtime states at startup and shutdown: parsed on every core, put into the
//! objects' cells, and the states of objects no longer configured kept for their return.

use std::sync::Arc;

use crate::objects::{Published, Registry};

pub(super) type States = Vec<(String, crate::state::CheckableState)>;

/// Parses stored runtime states (on every core).
pub(super) fn parse_states(raw: Vec<(String, Vec<u8>)>) -> States {
    use rayon::prelude::*;
    raw.into_par_iter()
        .filter_map(|(key, value)| {
            match crate::state::CheckableState::decode(&value) {
                Ok(st) => Some((key, st)),
                Err(e) => {
                    tracing::warn!(object = %key.replace('\0', " "), error = %e, "Stored state unreadable; starting fresh.");
                    None
                }
            }
        })
        .collect()
}

/// Puts stored runtime states into the objects' cells; returns the states of objects not
/// configured now (kept: the object may come back).
pub(super) fn restore_states(reg: &Registry, states: States) -> States {
    let mut orphans = Vec::new();
    for (key, st) in states {
        let cell = crate::store::split_key(&key)
            .and_then(|(t, n)| reg.get(t, n))
            .and_then(|o| o.runtime.as_ref());
        match cell {
            Some(cell) => cell.set(Arc::new(st)),
            None => orphans.push((key, st)),
        }
    }
    orphans
}

/// What the store snapshots when it closes: every checkable's state, and the stored
/// states of objects not configured (unless an object of that name has come since).
pub(super) fn snapshot_states(
    registry: &Published,
    orphans: States,
) -> crate::store::snapshot::States {
    use rayon::prelude::*;
    let reg = registry.current();
    let mut out: crate::store::snapshot::States = ["Host", "Service"]
        .into_iter()
        .flat_map(|t| reg.objects(t))
        .collect::<Vec<_>>()
        .into_par_iter()
        .filter_map(|o| {
            let rt = o.runtime.as_ref()?;
            Some((
                crate::store::key(o.type_info.name, &o.name),
                rt.get().encode(),
            ))
        })
        .collect();
    for (key, st) in orphans {
        let configured =
            crate::store::split_key(&key).is_some_and(|(t, n)| reg.get(t, n).is_some());
        if !configured {
            out.push((key, st.encode()));
        }
    }
    out
}
