//! Stored runtime states at startup and shutdown: parsed on every core, put into the
//! objects' cells, and the states of objects no longer configured kept for their return.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::objects::{Published, Registry};

/// Stored states by store key, parsed and shared (allocated while the store is read, off
/// the start's critical path).
pub(super) type States = Vec<(String, Arc<crate::state::CheckableState>)>;

/// Parses stored runtime states (on every core).
pub(super) fn parse_states(raw: Vec<(String, Vec<u8>)>) -> States {
    use rayon::prelude::*;
    raw.into_par_iter()
        .filter_map(|(key, value)| {
            let state = parse_state(&key, &value)?;
            Some((key, state))
        })
        .collect()
}

/// One stored state; an unreadable one is logged and left out (the object starts fresh).
fn parse_state(key: &str, value: &[u8]) -> Option<Arc<crate::state::CheckableState>> {
    match crate::state::CheckableState::decode(value) {
        Ok(st) => Some(Arc::new(st)),
        Err(e) => {
            tracing::warn!(object = %key.replace('\0', " "), error = %e, "Stored state unreadable; starting fresh.");
            None
        }
    }
}

/// Reads and parses the snapshot at `path` a chunk at a time (each chunk's states on
/// every core); `None` once `cancelled` is set, or if the snapshot is damaged or a state
/// in it does not parse (then it is not the whole snapshot).
fn read_snapshot(path: &Path, cancelled: &AtomicBool) -> Option<(u64, States)> {
    use rayon::prelude::*;
    let reader = crate::store::snapshot::Reader::open(path)?;
    let token = reader.token;
    let mut states = Vec::with_capacity(reader.capacity_hint());
    reader.for_each_chunk(|records| {
        if cancelled.load(Ordering::Relaxed) {
            return false;
        }
        let before = states.len();
        states.par_extend(
            records
                .par_iter()
                .filter_map(|(key, value)| Some(((*key).to_owned(), parse_state(key, value)?))),
        );
        states.len() - before == records.len()
    })?;
    Some((token, states))
}

/// The state snapshot beside a store, read and parsed on a thread of its own while the
/// store is opened and verified.
pub(super) struct Prefetch {
    thread: std::thread::JoinHandle<Option<(u64, States)>>,
    cancelled: Arc<AtomicBool>,
}

/// Starts reading the snapshot beside the store at `store`.
pub(super) fn prefetch_snapshot(store: &Path) -> std::io::Result<Prefetch> {
    let path = crate::store::snapshot::path_for(store);
    let cancelled = Arc::new(AtomicBool::new(false));
    let stop = cancelled.clone();
    let thread = std::thread::Builder::new()
        .name("snapshot-read".into())
        .spawn(move || read_snapshot(&path, &stop))?;
    Ok(Prefetch { thread, cancelled })
}

impl Prefetch {
    /// The snapshot's states if it is the one with `token` and every state parsed.
    pub(super) fn take(self, token: u64) -> Option<States> {
        let (t, states) = self.thread.join().ok()??;
        (t == token).then_some(states)
    }

    /// The store vouches for no snapshot: the thread stops parsing (it is not waited for).
    pub(super) fn cancel(self) {
        self.cancelled.store(true, Ordering::Relaxed);
    }
}

/// Puts stored runtime states into the objects' cells (on every core: a million states
/// took 0.7 s on one); returns the states of objects not configured now (kept: the
/// object may come back).
///
/// States come in the order the objects were snapshotted (each type's objects by name),
/// the order of the registry's lists: each part of the work looks its first object up by
/// name and then expects the next state to be the next object's, looking up only those
/// that are not (objects added or removed since, another order).
pub(super) fn restore_states(reg: &Registry, states: States) -> States {
    use rayon::prelude::*;
    /// The object stored under `key`, tried first at `cursor` (the type and position
    /// after the last object found), which then moves past it.
    fn find<'r>(
        reg: &'r Registry,
        cursor: &mut Option<(&'static str, usize)>,
        key: &str,
    ) -> Option<&'r crate::objects::Object> {
        let (t, n) = crate::store::split_key(key)?;
        let list = reg.objects(t).as_slice();
        let at = match *cursor {
            Some((ct, i)) if ct == t && list.get(i).is_some_and(|o| &*o.name == n) => i,
            _ => reg.position(t, n)?,
        };
        let object = list.get(at)?;
        *cursor = Some((object.type_info.name, at + 1));
        Some(object)
    }
    states
        .into_par_iter()
        .fold(
            || (None, Vec::new()),
            |(mut cursor, mut orphans), (key, st)| {
                match find(reg, &mut cursor, &key).and_then(|o| o.runtime.as_ref()) {
                    Some(cell) => cell.set(st),
                    None => orphans.push((key, st)),
                }
                (cursor, orphans)
            },
        )
        .map(|(_, orphans)| orphans)
        .reduce(Vec::new, |mut a, mut b| {
            a.append(&mut b);
            a
        })
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::CheckableState;

    fn write(dir: &Path, token: u64, states: &[(&str, Vec<u8>)]) -> std::io::Result<()> {
        let states: Vec<(String, Vec<u8>)> = states
            .iter()
            .map(|(k, v)| ((*k).to_string(), v.clone()))
            .collect();
        let path = crate::store::snapshot::path_for(&dir.join("state.redb"));
        crate::store::snapshot::write(&path, token, &states)
    }

    #[test]
    fn a_prefetched_snapshot_is_used_only_with_the_token_the_store_vouches_for(
    ) -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let store = dir.path().join("state.redb");
        let mut state = CheckableState::pending(false, 0.0);
        state.state = 2;
        write(dir.path(), 7, &[("Host\0h1", state.encode())])?;
        let states = prefetch_snapshot(&store)?
            .take(7)
            .expect("token 7 vouched for");
        assert_eq!(states.len(), 1);
        assert_eq!(states[0].0, "Host\0h1");
        assert_eq!(states[0].1.state, 2);
        assert!(
            prefetch_snapshot(&store)?.take(8).is_none(),
            "another token"
        );
        // One state that does not parse: the snapshot is not taken whole (the table is
        // read instead).
        write(
            dir.path(),
            7,
            &[("Host\0h1", state.encode()), ("Host\0h2", b"{".to_vec())],
        )?;
        assert!(prefetch_snapshot(&store)?.take(7).is_none());
        std::fs::remove_file(crate::store::snapshot::path_for(&store))?;
        assert!(prefetch_snapshot(&store)?.take(7).is_none(), "no file");
        Ok(())
    }

    /// Every state reaches its object whatever the order it comes in (the registry's, or
    /// not); states of objects not configured come back as orphans.
    #[test]
    fn states_reach_their_objects_in_any_order() -> anyhow::Result<()> {
        let reg = crate::app::registry_of(
            "for (i in range(40)) { object Host \"h\" + i { check_command = \"dummy\" } }\n\
             apply Service \"s\" { check_command = \"dummy\"; assign where true }\n\
             object CheckCommand \"dummy\" { command = [\"true\"] }\n",
        )?;
        let mut keys: Vec<String> = ["Host", "Service"]
            .into_iter()
            .flat_map(|t| reg.objects(t))
            .map(|o| crate::store::key(o.type_info.name, &o.name))
            .collect();
        assert_eq!(keys.len(), 80);
        keys.insert(30, crate::store::key("Host", "gone"));
        keys.push(crate::store::key("Service", "h1!gone"));
        for order in ["registry", "reversed", "interleaved"] {
            let mut ordered = keys.clone();
            match order {
                "reversed" => ordered.reverse(),
                "interleaved" => ordered.sort_by_key(|k| (k.len() % 3, k.clone())),
                _ => {}
            }
            let states: States = ordered
                .iter()
                .enumerate()
                .map(|(i, k)| {
                    let mut st = CheckableState::pending(false, 0.0);
                    st.check_attempt = i as u32;
                    (k.clone(), Arc::new(st))
                })
                .collect();
            let orphans = restore_states(&reg, states);
            let mut orphans: Vec<_> = orphans.into_iter().map(|(k, _)| k).collect();
            orphans.sort();
            assert_eq!(orphans, ["Host\0gone", "Service\0h1!gone"], "{order}");
            for (i, k) in ordered.iter().enumerate() {
                let Some((t, n)) = crate::store::split_key(k) else {
                    unreachable!()
                };
                if let Some(o) = reg.get(t, n) {
                    let st = o.runtime.as_ref().expect("a checkable").get();
                    assert_eq!(st.check_attempt, i as u32, "{order}: {k}");
                }
            }
        }
        Ok(())
    }
}
