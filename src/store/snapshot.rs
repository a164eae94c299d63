//! The state snapshot: every runtime state in one sequential file, written when the store
//! closes cleanly, so that the next start reads one file instead of scanning the B-tree
//! (110 000 states: a scan of 4 KiB pages took ~1 s, most of a start).
//!
//! It is only a faster copy of the `checkable_state` table, never the only one: the writer
//! thread writes the file (synced, then renamed), then commits its token to the store's
//! `meta` table; the first commit after the next start removes the token in the same
//! transaction as its changes, then the file. So a token in the store means "no state
//! changed since the snapshot with this token"; without it (a crash, a failed write, a
//! later commit) the table is read as before, and a file left over is removed.
//!
//! Format: `AUSPEXS1`, the token (u64 LE), the count (u64 LE), then per state the key
//! and the value, each a u32 LE length and its bytes.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Stored states: the store key and the serialised state.
pub type States = Vec<(String, Vec<u8>)>;

/// What the writer thread calls when it closes: every state to keep.
pub type Source = Box<dyn FnOnce() -> States + Send>;

const MAGIC: &[u8; 8] = b"AUSPEXS1";

/// The snapshot file beside the store file.
pub fn path_for(store: &Path) -> PathBuf {
    store.with_extension("snapshot")
}

/// Writes the states durably (a temporary file, synced, renamed, the directory synced).
pub fn write(path: &Path, token: u64, states: &States) -> std::io::Result<()> {
    let tmp = path.with_extension("snapshot.tmp");
    {
        let file = std::fs::File::create(&tmp)?;
        let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
        out.write_all(MAGIC)?;
        out.write_all(&token.to_le_bytes())?;
        out.write_all(&(states.len() as u64).to_le_bytes())?;
        for (key, value) in states {
            for part in [key.as_bytes(), value.as_slice()] {
                let len = u32::try_from(part.len())
                    .map_err(|_| std::io::Error::other("record too large"))?;
                out.write_all(&len.to_le_bytes())?;
                out.write_all(part)?;
            }
        }
        out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// The states of the snapshot with `token`; `None` if the file is missing, from another
/// snapshot or damaged (the caller then reads the table).
pub fn read(path: &Path, token: u64) -> Option<States> {
    read_any(path).and_then(|(t, states)| (t == token).then_some(states))
}

/// The snapshot's token and states, whichever snapshot it is (read before the store says
/// which one it vouches for); `None` if the file is missing or damaged.
pub fn read_any(path: &Path) -> Option<(u64, States)> {
    let raw = std::fs::read(path).ok()?;
    let (head, mut rest) = raw.split_at_checked(24)?;
    if &head[..8] != MAGIC {
        return None;
    }
    let token = u64::from_le_bytes(head[8..16].try_into().ok()?);
    let count = u64::from_le_bytes(head[16..24].try_into().ok()?);
    let mut take = || -> Option<&[u8]> {
        let (len, tail) = rest.split_at_checked(4)?;
        let len = u32::from_le_bytes(len.try_into().ok()?) as usize;
        let (part, tail) = tail.split_at_checked(len)?;
        rest = tail;
        Some(part)
    };
    let mut states = Vec::with_capacity(usize::try_from(count).ok()?.min(1 << 24));
    for _ in 0..count {
        let key = String::from_utf8(take()?.to_vec()).ok()?;
        states.push((key, take()?.to_vec()));
    }
    rest.is_empty().then_some((token, states))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_states_read_back_only_with_their_token() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = path_for(&dir.path().join("state.redb"));
        let states: States = vec![
            ("Host\0h1".into(), b"{\"state\":0}".to_vec()),
            ("Service\0h1!s".into(), Vec::new()),
        ];
        write(&path, 7, &states)?;
        assert_eq!(read(&path, 7), Some(states));
        assert_eq!(read(&path, 8), None, "another snapshot's token");
        // Cut short: refused, not half read.
        let raw = std::fs::read(&path)?;
        std::fs::write(&path, &raw[..raw.len() - 3])?;
        assert_eq!(read(&path, 7), None);
        assert_eq!(read(&dir.path().join("missing"), 7), None);
        Ok(())
    }
}
