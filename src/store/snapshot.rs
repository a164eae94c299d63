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
    let reader = Reader::open(path).filter(|r| r.token == token)?;
    let mut states = Vec::with_capacity(reader.capacity_hint());
    reader.for_each_chunk(|records| {
        states.extend(records.iter().map(|(k, v)| ((*k).to_owned(), v.to_vec())));
        true
    })?;
    Some(states)
}

/// How much of the file a [`Reader`] holds at a time (more when one record is larger).
const CHUNK: usize = 8 << 20;

/// A snapshot read a chunk at a time: the records of each chunk are handed out where they
/// lie in one reused buffer, so that reading a large snapshot (a million states: 270 MB)
/// neither needs the whole file in memory nor an allocation per record.
pub struct Reader {
    file: std::fs::File,
    /// The file's length.
    len: u64,
    /// The buffer's size.
    chunk: usize,
    /// Which snapshot this is (the store says which one it vouches for).
    pub token: u64,
    /// The records the file says it holds.
    pub count: u64,
}

impl Reader {
    /// Opens the snapshot at `path` and reads its header; `None` if it is missing or not
    /// a snapshot.
    pub fn open(path: &Path) -> Option<Reader> {
        use std::io::Read;
        let mut file = std::fs::File::open(path).ok()?;
        let mut head = [0u8; 24];
        file.read_exact(&mut head).ok()?;
        if &head[..8] != MAGIC {
            return None;
        }
        Some(Reader {
            len: file.metadata().ok()?.len(),
            chunk: CHUNK,
            file,
            token: u64::from_le_bytes(head[8..16].try_into().ok()?),
            count: u64::from_le_bytes(head[16..24].try_into().ok()?),
        })
    }

    /// The records to expect, bounded (the header is read before anything vouches for
    /// it).
    pub fn capacity_hint(&self) -> usize {
        usize::try_from(self.count).map_or(0, |n| n.min(1 << 24))
    }

    /// Hands every record (key, value) to `each`, a chunk's records at a time in file
    /// order. `None` if the file is damaged or cut short, or `each` returns `false` (it
    /// wants no more).
    pub fn for_each_chunk(mut self, mut each: impl FnMut(&[(&str, &[u8])]) -> bool) -> Option<()> {
        use std::io::Read;
        let mut buf = vec![0u8; self.chunk];
        let mut filled = 0;
        let mut seen = 0u64;
        loop {
            let mut end = false;
            while filled < buf.len() {
                match self.file.read(&mut buf[filled..]) {
                    Ok(0) => {
                        end = true;
                        break;
                    }
                    Ok(n) => filled += n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(_) => return None,
                }
            }
            let mut records = Vec::new();
            let mut at = 0;
            while let Some((key, value, next)) = record(&buf[..filled], at) {
                records.push((std::str::from_utf8(key).ok()?, value));
                at = next;
            }
            seen += records.len() as u64;
            if seen > self.count || (!records.is_empty() && !each(&records)) {
                return None;
            }
            if end {
                return (at == filled && seen == self.count).then_some(());
            }
            buf.copy_within(at..filled, 0);
            filled -= at;
            if at == 0 {
                // One record larger than the buffer (a length beyond the file's is damage).
                if buf.len() as u64 >= self.len {
                    return None;
                }
                buf.resize(buf.len() * 2, 0);
            }
        }
    }
}

/// The record at `at` in `buf` (its key, its value, where the next begins), if it lies
/// there whole.
fn record(buf: &[u8], at: usize) -> Option<(&[u8], &[u8], usize)> {
    let mut rest = buf.get(at..)?;
    let mut take = || -> Option<&[u8]> {
        let (len, tail) = rest.split_at_checked(4)?;
        let len = u32::from_le_bytes(len.try_into().ok()?) as usize;
        let (part, tail) = tail.split_at_checked(len)?;
        rest = tail;
        Some(part)
    };
    let key = take()?;
    let value = take()?;
    Some((key, value, buf.len() - rest.len()))
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

    /// Records read through a buffer smaller than some of them come back whole and in
    /// order, the chunks splitting them anywhere; a length beyond the file is damage.
    #[test]
    fn records_across_chunks_read_back_whole() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = path_for(&dir.path().join("state.redb"));
        let states: States = (0..200)
            .map(|i| (format!("Service\0h!s{i}"), vec![i as u8; i * 3]))
            .collect();
        write(&path, 3, &states)?;
        for chunk in [16, 100, 1000, 1 << 20] {
            let mut reader = Reader::open(&path).expect("a snapshot");
            reader.chunk = chunk;
            assert_eq!((reader.token, reader.count), (3, 200));
            let mut back = Vec::new();
            let mut calls = 0;
            reader.for_each_chunk(|records| {
                calls += 1;
                back.extend(records.iter().map(|(k, v)| ((*k).to_owned(), v.to_vec())));
                true
            });
            assert_eq!(back, states, "chunk {chunk}");
            assert!(
                calls > 1 || chunk == 1 << 20,
                "chunk {chunk}: {calls} calls"
            );
        }
        // A caller that wants no more stops the read.
        let reader = Reader::open(&path).expect("a snapshot");
        assert_eq!(reader.for_each_chunk(|_| false), None);
        // The first record's key length damaged to 4 GiB: refused without growing the
        // buffer to it.
        let mut raw = std::fs::read(&path)?;
        raw[24..28].copy_from_slice(&u32::MAX.to_le_bytes());
        std::fs::write(&path, &raw)?;
        let mut reader = Reader::open(&path).expect("a header");
        reader.chunk = 64;
        assert_eq!(reader.for_each_chunk(|_| true), None);
        Ok(())
    }
}
