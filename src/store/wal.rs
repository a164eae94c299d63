//! The write-ahead log: what makes a commit durable between checkpoints.
//!
//! A durable redb commit syncs every page it touched, scattered over the file; an append
//! to one file and a single `fdatasync` cost a fraction of that. So the writer commits to
//! redb without syncing ([`redb::Durability::None`]: visible at once, persisted by the
//! next durable commit), appends the same change here and syncs it before it answers.
//! About once a second (and at a clean close) it makes one redb commit durable — a
//! checkpoint — and empties this file.
//!
//! After a crash redb opens at its last checkpoint; the entries here with a sequence
//! number above the one that checkpoint recorded (`meta.wal_seq`) are applied again, in
//! order, before anything is read.
//!
//! ```text
//! entry   := len:u32  crc32:u32  body               (crc32 of body; len = body length)
//! body    := seq:u64  position:u64  segments:u32  (first_id:u64 len:u32 bytes)*  record
//! ```
//! `position` is the cluster log position the change holds (0: none); the segments are
//! the event journal's, as the writer stored them; `record` carries the ops (see
//! [`super::record`], its events left empty). A torn or damaged tail (a crash in the
//! middle of an append, never acknowledged) ends the log.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use super::Op;

/// How long changes wait in the log for a checkpoint at most.
pub const CHECKPOINT_AFTER: Duration = Duration::from_secs(1);
/// The size at which the log asks for a checkpoint whatever its age.
const CHECKPOINT_SIZE: u64 = 64 << 20;
/// Entries larger than this are taken as damage.
const MAX_ENTRY: usize = 1 << 30;

/// A change as the log holds it.
#[derive(Debug, Default)]
pub struct Entry {
    pub seq: u64,
    /// The cluster log position it brings the store to.
    pub position: Option<u64>,
    /// Journal segments: first event id, encoded events.
    pub segments: Vec<(u64, Vec<u8>)>,
    pub ops: Vec<Op>,
}

/// The open log.
pub struct Wal {
    path: PathBuf,
    file: File,
    /// Bytes of whole entries in the file.
    len: u64,
    /// The sequence number of the last entry written (or checkpointed).
    last_seq: u64,
    /// When the oldest entry not yet checkpointed was written.
    since: Option<Instant>,
}

/// The log beside the store file `store`.
pub fn path_for(store: &Path) -> PathBuf {
    store.with_extension("wal")
}

impl Wal {
    /// Opens the log at `path` and returns the entries after `checkpointed` (the sequence
    /// number the store's last durable commit holds), oldest first. The caller applies
    /// them, makes that durable, and calls [`Wal::checkpointed`] before appending.
    ///
    /// # Errors
    /// The file cannot be opened or read.
    pub fn open(path: &Path, checkpointed: u64) -> Result<(Wal, Vec<Entry>)> {
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .with_context(|| format!("opening {}", path.display()))?;
        let mut raw = Vec::new();
        file.read_to_end(&mut raw)
            .with_context(|| format!("reading {}", path.display()))?;
        let mut entries = Vec::new();
        let mut last_seq = checkpointed;
        let mut rest = raw.as_slice();
        while let Some((body, tail)) = next_entry(rest) {
            let Ok(entry) = decode(body) else { break };
            rest = tail;
            if entry.seq <= checkpointed {
                continue;
            }
            // Entries follow each other without gaps; anything else is left from before
            // an emptying of the file.
            if entry.seq != last_seq + 1 {
                break;
            }
            last_seq = entry.seq;
            entries.push(entry);
        }
        let wal = Wal {
            path: path.to_path_buf(),
            file,
            len: 0,
            last_seq,
            since: None,
        };
        Ok((wal, entries))
    }

    /// The sequence number of the last entry.
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// Whether the writer's next commit should be a checkpoint.
    pub fn checkpoint_due(&self) -> bool {
        self.len >= CHECKPOINT_SIZE || self.since.is_some_and(|t| t.elapsed() >= CHECKPOINT_AFTER)
    }

    /// Whether entries wait for a checkpoint, and until when at most.
    pub fn deadline(&self) -> Option<Instant> {
        self.since.map(|t| t + CHECKPOINT_AFTER)
    }

    /// Appends a change and syncs it; returns its sequence number.
    ///
    /// # Errors
    /// The write or the sync failed (the file is cut back to its previous length).
    pub fn append<'a>(
        &mut self,
        position: Option<u64>,
        segments: &[(u64, Vec<u8>)],
        ops: impl Iterator<Item = &'a Op> + Clone,
    ) -> Result<u64> {
        let seq = self.last_seq + 1;
        let body = encode(seq, position, segments, ops)?;
        let mut entry = Vec::with_capacity(8 + body.len());
        entry.extend_from_slice(&u32::try_from(body.len())?.to_le_bytes());
        entry.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
        entry.extend_from_slice(&body);
        let written = self
            .file
            .write_all(&entry)
            .and_then(|()| self.file.sync_data());
        if let Err(e) = written {
            let _ = self.file.set_len(self.len);
            return Err(e).with_context(|| format!("writing {}", self.path.display()));
        }
        self.len += entry.len() as u64;
        self.last_seq = seq;
        self.since.get_or_insert_with(Instant::now);
        Ok(seq)
    }

    /// Takes back the last entry (its change was not committed after all).
    pub fn undo(&mut self, len_before: u64, seq_before: u64) {
        if self.file.set_len(len_before).is_ok() {
            self.len = len_before;
            self.last_seq = seq_before;
        }
    }

    /// Where the log stands: its length and last sequence number (for [`Wal::undo`]).
    pub fn mark(&self) -> (u64, u64) {
        (self.len, self.last_seq)
    }

    /// Empties the log after a durable commit holding everything in it. Entries left by
    /// a failed emptying are skipped at the next open (their numbers are checkpointed).
    pub fn checkpointed(&mut self) {
        if let Err(e) = self.file.set_len(0) {
            tracing::warn!(path = %self.path.display(), error = %e, "The write-ahead log could not be emptied.");
            return;
        }
        self.len = 0;
        self.since = None;
    }
}

/// The body of the first whole, intact entry of `raw`, and what follows it.
fn next_entry(raw: &[u8]) -> Option<(&[u8], &[u8])> {
    let len = u32::from_le_bytes(raw.get(..4)?.try_into().ok()?) as usize;
    let crc = u32::from_le_bytes(raw.get(4..8)?.try_into().ok()?);
    if len > MAX_ENTRY {
        return None;
    }
    let body = raw.get(8..8 + len)?;
    (crc32fast::hash(body) == crc).then(|| (body, &raw[8 + len..]))
}

fn encode<'a>(
    seq: u64,
    position: Option<u64>,
    segments: &[(u64, Vec<u8>)],
    ops: impl Iterator<Item = &'a Op> + Clone,
) -> Result<Vec<u8>> {
    let record = super::record::encode(0, std::iter::empty(), ops)?;
    let size: usize = segments.iter().map(|(_, s)| 12 + s.len()).sum();
    let mut out = Vec::with_capacity(20 + size + record.len());
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(&position.unwrap_or(0).to_le_bytes());
    out.extend_from_slice(&u32::try_from(segments.len())?.to_le_bytes());
    for (first, bytes) in segments {
        out.extend_from_slice(&first.to_le_bytes());
        out.extend_from_slice(&u32::try_from(bytes.len())?.to_le_bytes());
        out.extend_from_slice(bytes);
    }
    out.extend_from_slice(&record);
    Ok(out)
}

fn decode(body: &[u8]) -> Result<Entry> {
    fn take<'a>(rest: &mut &'a [u8], n: usize) -> Result<&'a [u8]> {
        if rest.len() < n {
            bail!("entry cut short");
        }
        let (head, tail) = rest.split_at(n);
        *rest = tail;
        Ok(head)
    }
    fn u64_of(rest: &mut &[u8]) -> Result<u64> {
        Ok(u64::from_le_bytes(take(rest, 8)?.try_into()?))
    }
    fn u32_of(rest: &mut &[u8]) -> Result<usize> {
        Ok(u32::from_le_bytes(take(rest, 4)?.try_into()?) as usize)
    }
    let mut rest = body;
    let seq = u64_of(&mut rest)?;
    let position = Some(u64_of(&mut rest)?).filter(|p| *p > 0);
    let count = u32_of(&mut rest)?;
    let mut segments = Vec::with_capacity(count.min(1024));
    for _ in 0..count {
        let first = u64_of(&mut rest)?;
        let len = u32_of(&mut rest)?;
        segments.push((first, take(&mut rest, len)?.to_vec()));
    }
    let record = super::record::decode(rest)?;
    Ok(Entry {
        seq,
        position,
        segments,
        ops: record.ops,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(key: &str, value: &str) -> Op {
        Op::PutState {
            key: key.into(),
            value: value.as_bytes().to_vec(),
        }
    }

    #[test]
    fn entries_come_back_after_the_checkpoint_and_a_torn_tail_ends_the_log() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("state.wal");
        let (mut wal, entries) = Wal::open(&path, 0)?;
        assert!(entries.is_empty());
        for i in 1..=3u64 {
            let seq = wal.append(
                (i == 2).then_some(40),
                &[(i * 10, vec![i as u8; 3])],
                [state(&format!("Host\0h{i}"), "up")].iter(),
            )?;
            assert_eq!(seq, i);
        }
        drop(wal);
        // A crash in the middle of a fourth append.
        let mut f = OpenOptions::new().append(true).open(&path)?;
        f.write_all(&[200, 0, 0, 0, 1, 2, 3])?;
        drop(f);

        let (wal, entries) = Wal::open(&path, 1)?;
        let seqs: Vec<u64> = entries.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, [2, 3]);
        assert_eq!(entries[0].position, Some(40));
        assert_eq!(entries[1].position, None);
        assert_eq!(entries[1].segments, [(30, vec![3u8; 3])]);
        assert!(
            matches!(&entries[1].ops[0], Op::PutState { key, value } if key == "Host\0h3" && value == b"up")
        );
        assert_eq!(wal.last_seq(), 3);
        Ok(())
    }

    #[test]
    fn an_emptied_log_goes_on_numbering_and_skips_what_was_checkpointed() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("state.wal");
        let (mut wal, _) = Wal::open(&path, 7)?;
        assert_eq!(wal.append(None, &[], [state("k", "a")].iter())?, 8);
        let (len, seq) = wal.mark();
        assert_eq!(wal.append(None, &[], [state("k", "b")].iter())?, 9);
        wal.undo(len, seq);
        assert_eq!(wal.last_seq(), 8);
        wal.checkpointed();
        assert_eq!(wal.append(None, &[], [state("k", "c")].iter())?, 9);
        drop(wal);
        let (_, entries) = Wal::open(&path, 8)?;
        assert_eq!(entries.len(), 1);
        assert!(matches!(&entries[0].ops[0], Op::PutState { value, .. } if value == b"c"));
        // Entries below the checkpoint are skipped.
        let (_, entries) = Wal::open(&path, 9)?;
        assert!(entries.is_empty());
        Ok(())
    }
}
