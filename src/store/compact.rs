//! Giving back the store file's free space when it closes cleanly.
//!
//! redb copies every page it changes and reuses freed pages, but gives back only free
//! space at the file's end: a file keeps about the size of the most it ever held at once
//! (before a table was emptied, while a large commit's old and new pages coexisted). Every start verifies every page
//! of the file ([`super::open`]), so a file that is half free space costs every start
//! twice the reading it needs. When the file is more than [`SPARSE`] times what its pages
//! hold, the clean close compacts it: redb moves the pages down in ordinary durable
//! commits and cuts the file, so a crash or `kill -9` meanwhile leaves a store that opens
//! at its last commit.

use std::path::Path;
use std::sync::Arc;

use redb::Database;

/// Compacted when the file is this many times the bytes its pages hold.
const SPARSE: u64 = 2;
/// Nor below this much free space: a small file is verified quickly either way.
const SLACK: u64 = 64 << 20;

/// Compacts the database at `path` if it is sparse and nothing else still holds it.
/// Failures are logged: the store stays as it was, valid.
pub(super) fn at_close(db: Arc<Database>, path: &Path) {
    if_sparse(db, path, SLACK);
}

/// [`at_close`] with `slack`, the free space below which a file is left as it is.
fn if_sparse(db: Arc<Database>, path: &Path, slack: u64) {
    let Ok(mut db) = Arc::try_unwrap(db) else {
        tracing::debug!("The store is still read elsewhere; not compacted.");
        return;
    };
    let file = std::fs::metadata(path).map_or(0, |m| m.len());
    let used = match used_bytes(&db) {
        Ok(used) => used,
        Err(e) => {
            tracing::warn!(error = %e, "The store's free space is unknown; not compacted.");
            return;
        }
    };
    if file < used.saturating_mul(SPARSE) || file - used < slack {
        tracing::debug!(file, used, "The store is not sparse; not compacted.");
        return;
    }
    let began = std::time::Instant::now();
    match super::open::guarded(|| db.compact().map_err(anyhow::Error::from)) {
        Ok(_) => tracing::info!(
            before = file,
            after = std::fs::metadata(path).map_or(0, |m| m.len()),
            ms = began.elapsed().as_millis() as u64,
            "Store compacted."
        ),
        Err(e) => tracing::warn!(error = %e, "The store was not compacted; it stays as it was."),
    }
}

/// The bytes of the file's allocated pages.
fn used_bytes(db: &Database) -> anyhow::Result<u64> {
    let txn = db.begin_write()?;
    let stats = txn.stats()?;
    let used = stats.allocated_pages() * stats.page_size() as u64;
    txn.abort()?;
    Ok(used)
}

#[cfg(test)]
mod tests {
    use super::*;
    use redb::{ReadableTableMetadata, TableDefinition};

    const TABLE: TableDefinition<u64, &[u8]> = TableDefinition::new("t");

    fn fill(db: &Database, rows: std::ops::Range<u64>) -> anyhow::Result<()> {
        let txn = db.begin_write()?;
        {
            let mut t = txn.open_table(TABLE)?;
            for i in rows {
                t.insert(i, vec![7u8; 16 << 10].as_slice())?;
            }
        }
        txn.commit()?;
        Ok(())
    }

    /// A file mostly free after deletions is cut to what it holds, which stays readable;
    /// a file without that much free space is left alone.
    #[test]
    fn a_sparse_file_is_compacted_and_a_full_one_left_alone() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("state.redb");
        let db = Database::create(&path)?;
        fill(&db, 0..512)?;
        let txn = db.begin_write()?;
        txn.open_table(TABLE)?.retain(|k, _| k % 16 == 0)?;
        txn.commit()?;
        // Freed pages are reusable (and the file compactable) after the next commits.
        fill(&db, 0..0)?;
        fill(&db, 0..0)?;
        let before = std::fs::metadata(&path)?.len();
        if_sparse(Arc::new(db), &path, 1 << 20);
        let after = std::fs::metadata(&path)?.len();
        assert!(after * 3 < before, "{before} -> {after} bytes");
        let db = Database::open(&path)?;
        let txn = db.begin_read()?;
        let t = txn.open_table(TABLE)?;
        assert_eq!(t.len()?, 32);
        assert_eq!(t.get(496)?.map(|v| v.value().len()), Some(16 << 10));
        drop((t, txn));

        fill(&db, 512..640)?;
        let full = std::fs::metadata(&path)?.len();
        if_sparse(Arc::new(db), &path, 1 << 20);
        assert_eq!(
            std::fs::metadata(&path)?.len(),
            full,
            "not sparse: left as it is"
        );
        Ok(())
    }
}
