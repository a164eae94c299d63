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

/// Keeps freed memory for the length of a start (until dropped). Starts may overlap
/// (tests start several servers in one process): the first sets the delay, the last to
/// end restores it.
#[must_use = "the start ends when this is dropped"]
pub struct Start(());

/// The starts under way, and the delay to restore when the last ends (`None`: left
/// alone, as configured).
static STARTS: std::sync::Mutex<(usize, Option<std::ffi::c_long>)> =
    std::sync::Mutex::new((0, None));

impl Start {
    pub fn begin() -> Start {
        let mut starts = STARTS.lock().unwrap_or_else(|e| e.into_inner());
        if starts.0 == 0 {
            // SAFETY: reading and setting an option of the allocator is thread-safe and
            // valid at any time, for any option index below `_mi_option_last`.
            let configured = unsafe { mi_option_get(PURGE_DELAY) };
            starts.1 = (configured > 0).then_some(configured);
            if starts.1.is_some() {
                unsafe { mi_option_set(PURGE_DELAY, DURING_START_MS) };
            }
        }
        starts.0 += 1;
        Start(())
    }
}

impl Drop for Start {
    fn drop(&mut self) {
        let mut starts = STARTS.lock().unwrap_or_else(|e| e.into_inner());
        starts.0 -= 1;
        if starts.0 > 0 {
            return;
        }
        if let Some(configured) = starts.1.take() {
            // SAFETY: as above; a forced collection hands back every range waiting for
            // its delay and is valid from any thread.
            unsafe {
                mi_option_set(PURGE_DELAY, configured);
                mi_collect(true);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The option index is the purge delay: it reads as mimalloc's default (or the
    /// environment's); a start sets it, and the last of overlapping starts restores it.
    #[test]
    fn purge_delay_is_set_for_the_start_and_restored() {
        let configured = std::env::var("MIMALLOC_PURGE_DELAY")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1000);
        let read = || unsafe { mi_option_get(PURGE_DELAY) };
        assert_eq!(read(), configured);
        let start = Start::begin();
        let overlapping = Start::begin();
        let during = if configured > 0 {
            DURING_START_MS
        } else {
            configured
        };
        assert_eq!(read(), during);
        drop(start);
        assert_eq!(read(), during, "another start is still under way");
        drop(overlapping);
        assert_eq!(read(), configured);
    }
}
