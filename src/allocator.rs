//! The allocator (mimalloc) around the start.
//!
//! Loading a configuration and a store builds and drops many transient structures (the
//! configuration's items before they become objects, the stored states before they are
//! parsed). mimalloc hands memory freed this way back to the kernel once it has been
//! unused for its purge delay (a second by default); the start then touches fresh memory
//! again and the kernel zeroes every page anew. At a million objects that was 1.8 GiB
//! handed back and 40 000 page faults during a five-second `check-config`.
//!
//! [`Start`] lengthens the delay while the start runs and, when it ends, hands back at
//! once everything freed meanwhile: a start faults its memory in once, and what it freed
//! does not stay resident after it. A delay set in the environment
//! (`MIMALLOC_PURGE_DELAY`) of 0 (at once) or below (never) is left as it is.

use libmimalloc_sys::{mi_collect, mi_option_get, mi_option_set, mi_option_t};

/// `mi_option_purge_delay` of `mimalloc.h` (the same in mimalloc 2 and 3; the Rust
/// bindings do not name it). Milliseconds.
const PURGE_DELAY: mi_option_t = 15;

/// The delay while a start runs: longer than any start.
const DURING_START_MS: std::ffi::c_long = 600_000;

/// Keeps freed memory for the length of a start (until dropped).
#[must_use = "the start ends when this is dropped"]
pub struct Start {
    /// The delay before, restored at the end; `None` when left alone.
    previous: Option<std::ffi::c_long>,
}

impl Start {
    pub fn begin() -> Start {
        // SAFETY: reading and setting an option of the allocator is thread-safe and
        // valid at any time, for any option index below `_mi_option_last`.
        let previous = unsafe { mi_option_get(PURGE_DELAY) };
        if previous <= 0 {
            return Start { previous: None };
        }
        unsafe { mi_option_set(PURGE_DELAY, DURING_START_MS) };
        Start {
            previous: Some(previous),
        }
    }
}

impl Drop for Start {
    fn drop(&mut self) {
        if let Some(previous) = self.previous {
            // SAFETY: as above; a forced collection hands back every range waiting for
            // its delay and is valid from any thread.
            unsafe {
                mi_option_set(PURGE_DELAY, previous);
                mi_collect(true);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The option index is the purge delay: it reads as mimalloc's default (or the
    /// environment's), and a start sets and restores it.
    #[test]
    fn purge_delay_is_set_for_the_start_and_restored() {
        let configured = std::env::var("MIMALLOC_PURGE_DELAY")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1000);
        let read = || unsafe { mi_option_get(PURGE_DELAY) };
        assert_eq!(read(), configured);
        let start = Start::begin();
        if configured > 0 {
            assert_eq!(read(), DURING_START_MS);
        }
        drop(start);
        assert_eq!(read(), configured);
    }
}
