//! Opening the store file safely: a store that should be there and is not, or one that is
//! damaged, stops the start with a message instead of starting empty or crashing later.
//!
//! - **Marker.** Beside `state.redb` lies `state.created` (the time the store was first
//!   created). A marker without a store file (or with an empty one) means the store was
//!   lost: the start is refused unless the operator asks for a new store
//!   (`reinitialize`). A store without a marker (made before markers existed) gets one.
//! - **Integrity.** Every start verifies the checksums of every page (redb's integrity
//!   check) before anything is read; a store that fails it is refused (or, when
//!   reinitializing, moved aside as `state.redb.corrupt-<time>` and never deleted).
//! - **Panics.** redb answers some damage with a panic; every call into the database at
//!   startup and in the writer runs under [`guarded`], which turns a panic into an error.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::{anyhow, bail, Context, Result};
use redb::Database;

/// How the store is opened at startup.
#[derive(Debug, Clone, Copy, Default)]
pub struct Mode {
    /// Start with an empty store when the stored one is missing, empty or damaged (a
    /// damaged file is moved aside, never deleted).
    pub reinitialize: bool,
    /// The caller reads the state snapshot itself (while the store is verified): when the
    /// store vouches for one, its token is returned in [`super::Contents::snapshot`] and
    /// the states are left unread.
    pub defer_snapshot: bool,
}

/// The marker beside the store file.
pub fn marker_for(store: &Path) -> PathBuf {
    store.with_extension("created")
}

/// Runs `f`; a panic becomes an error that names the store as damaged.
pub fn guarded<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(panic) => {
            let what = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("unknown panic");
            Err(anyhow!(
                "the store file is damaged (the database failed: {what})"
            ))
        }
    }
}

/// Opens the database at `path` with the page cache `cache`, verifying it first.
///
/// # Errors
/// The store is missing while its marker says it existed, or it is damaged, and `mode`
/// does not allow starting over; or the file cannot be opened at all.
pub fn open(path: &Path, cache: usize, mode: Mode) -> Result<Database> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let marker = marker_for(path);
    let stored = std::fs::metadata(path).map(|m| m.len()).ok();
    let lost = match stored {
        None => Some("missing"),
        Some(0) => Some("empty"),
        Some(_) => None,
    };
    if let (Some(what), true) = (lost, marker.exists()) {
        if !mode.reinitialize {
            bail!(
                "The store {} is {what}, but {} shows this data directory had one: all \
                 API-created objects, runtime state and the event journal would be lost. \
                 Restore the file from a backup, or start with --reinitialize to begin \
                 with an empty store.",
                path.display(),
                marker.display()
            );
        }
        tracing::warn!(path = %path.display(), "The store is {what}; starting with an empty store as asked (--reinitialize).");
        if stored == Some(0) {
            std::fs::remove_file(path).with_context(|| format!("removing {}", path.display()))?;
        }
    }
    let db = match verified(path, cache) {
        Ok(db) => db,
        Err(e) if stored.is_some_and(|n| n > 0) && mode.reinitialize => {
            let aside = path.with_extension(format!(
                "redb.corrupt-{}",
                chrono::Utc::now().format("%Y%m%dT%H%M%SZ")
            ));
            std::fs::rename(path, &aside)
                .with_context(|| format!("moving {} aside", path.display()))?;
            tracing::warn!(error = %e, kept = %aside.display(), "The store is damaged; moved it aside and starting with an empty store as asked (--reinitialize).");
            verified(path, cache)?
        }
        Err(e) => {
            return Err(e.context(format!(
                "The store {} cannot be used. Restore it from a backup, or start with \
                 --reinitialize to move it aside and begin with an empty store",
                path.display()
            )))
        }
    };
    if lost.is_some() || !marker.exists() {
        write_marker(&marker)?;
    }
    Ok(db)
}

/// Opens (or creates) the database and checks every page's checksum. A store that was
/// not closed cleanly is repaired by redb as it opens, which walks and verifies every
/// page already; only a clean one is checked again.
fn verified(path: &Path, cache: usize) -> Result<Database> {
    guarded(|| {
        let repaired = Arc::new(AtomicBool::new(false));
        let began = std::time::Instant::now();
        let mut db = {
            let repaired = repaired.clone();
            redb::Builder::new()
                .set_cache_size(cache)
                .set_repair_callback(move |_| repaired.store(true, Ordering::Relaxed))
                .create(path)
                .with_context(|| format!("opening {}", path.display()))?
        };
        let how = if repaired.load(Ordering::Relaxed) {
            tracing::warn!(path = %path.display(), "The store was not closed cleanly; redb repaired it to its last commit.");
            "repaired"
        } else {
            let clean = db
                .check_integrity()
                .with_context(|| format!("verifying {}", path.display()))?;
            if !clean {
                tracing::warn!(path = %path.display(), "The store failed its integrity check; redb repaired it to its last intact commit.");
            }
            "checked"
        };
        tracing::info!(path = %path.display(), how, ms = began.elapsed().as_millis() as u64, "Store verified.");
        Ok(db)
    })
}

/// Records that a store exists here (synced with its directory).
fn write_marker(marker: &Path) -> Result<()> {
    let text = format!(
        "An Auspex store (state.redb) was created here at {}.\nIf state.redb goes missing, \
         the server refuses to start until it is restored or --reinitialize is given.\n",
        chrono::Utc::now().to_rfc3339()
    );
    std::fs::write(marker, text).with_context(|| format!("writing {}", marker.display()))?;
    std::fs::File::open(marker)?.sync_all()?;
    if let Some(dir) = marker.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}
