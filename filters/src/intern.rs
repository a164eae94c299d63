//! One shared allocation per distinct attribute name.
//!
//! A million objects built from one configuration name the same few dozen attributes; an
//! interned name is one `Arc<str>` that every object, dictionary and parsed expression
//! holds, so the names cost nothing per object and key comparisons touch warm memory.
//! The configuration parser interns the names it reads (fields, dictionary keys,
//! variables), so attributes evaluated from it come out interned already and
//! [`intern`] recognises them by address.

use std::cell::RefCell;
use std::sync::{Arc, LazyLock, RwLock};

use crate::value::Str;

/// Every interned name. Read-mostly: after the first objects every name is known.
static NAMES: LazyLock<RwLock<foldhash::HashSet<Str>>> =
    LazyLock::new(|| RwLock::new(foldhash::HashSet::default()));

/// Names this thread has seen, in front of the shared set: a million objects of seventy
/// attributes would otherwise take and release the shared lock 70 million times.
/// Bounded: a thread that meets very many distinct names starts over.
const LOCAL_NAMES: usize = 1 << 14;

/// Interned names by address, in front of the hash lookup: a name that already is the
/// shared allocation is known by one comparison. Direct-mapped; a slot holds an interned
/// name, so its address cannot be reused by another string while it is cached.
const RECENT: usize = 64;

struct Local {
    names: foldhash::HashSet<Str>,
    recent: [Option<Str>; RECENT],
}

thread_local! {
    static LOCAL: RefCell<Local> = RefCell::new(Local {
        names: foldhash::HashSet::default(),
        recent: [const { None }; RECENT],
    });
}

fn slot(name: &Str) -> usize {
    // Allocations are at least 8-byte aligned; the bits above tell names apart.
    (Arc::as_ptr(name).cast::<u8>() as usize >> 3) % RECENT
}

fn shared(name: Str) -> Str {
    if let Some(known) = NAMES.read().unwrap_or_else(|e| e.into_inner()).get(&name) {
        return known.clone();
    }
    let mut names = NAMES.write().unwrap_or_else(|e| e.into_inner());
    match names.get(&name) {
        Some(known) => known.clone(),
        None => {
            names.insert(name.clone());
            name
        }
    }
}

/// The shared allocation of `name`.
pub fn intern(name: Str) -> Str {
    LOCAL.with(|local| {
        let mut local = local.borrow_mut();
        let i = slot(&name);
        if local.recent[i]
            .as_ref()
            .is_some_and(|known| Arc::ptr_eq(known, &name))
        {
            return name;
        }
        let known = match local.names.get(&name) {
            Some(known) => known.clone(),
            None => {
                let known = shared(name);
                if local.names.len() >= LOCAL_NAMES {
                    local.names.clear();
                }
                local.names.insert(known.clone());
                known
            }
        };
        local.recent[slot(&known)] = Some(known.clone());
        known
    })
}

/// The shared allocation of `name`, from a borrowed string.
pub fn intern_str(name: &str) -> Str {
    LOCAL.with(|local| {
        if let Some(known) = local.borrow().names.get(name) {
            return known.clone();
        }
        intern(Str::from(name))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_names_share_one_allocation() {
        let a = intern(Str::from("check_command"));
        let b = intern(Str::from("check_command"));
        let c = intern_str("check_command");
        assert!(Arc::ptr_eq(&a, &b) && Arc::ptr_eq(&a, &c));
        // Already interned: handed back as it is.
        assert!(Arc::ptr_eq(&intern(a.clone()), &a));
        assert!(!Arc::ptr_eq(&a, &intern_str("check_interval")));
    }

    #[test]
    fn other_threads_get_the_same_allocation() {
        let here = intern_str("retry_interval");
        let there = std::thread::spawn(|| intern_str("retry_interval"))
            .join()
            .unwrap();
        assert!(Arc::ptr_eq(&here, &there));
    }
}
