//! A commit as one self-contained record: the form in which a cluster's leader appends
//! its commits to the shared log and followers apply them.
//!
//! ```text
//! record := version:u8  first_id:u64  events:u32  event*  ops:u32  op*
//! event  := type:u8  len:u32  json
//! op     := tag:u8  key_len:u32  key  [value_len:u32  value]
//! ```
//! Integers are little-endian. Event ids are `first_id`, `first_id + 1`, …; values of
//! JSON records (objects, modified attributes, tokens) are their JSON text, states their
//! stored encoding.

use anyhow::{anyhow, bail, Context, Result};
use bytes::Bytes;

use super::Op;
use crate::bus::{EventKind, Pending};

const VERSION: u8 = 1;

/// A decoded record.
#[derive(Debug, Default)]
pub struct Record {
    /// The id of the first event (the next id when there are none).
    pub first_id: u64,
    pub events: Vec<Pending>,
    pub ops: Vec<Op>,
}

/// Encodes a commit whose first event has id `first_id`.
pub fn encode<'a>(
    first_id: u64,
    events: impl Iterator<Item = &'a Pending> + Clone,
    ops: impl Iterator<Item = &'a Op> + Clone,
) -> Result<Vec<u8>> {
    let size: usize = events.clone().map(|(_, j)| 5 + j.len()).sum::<usize>()
        + ops.clone().map(|o| 16 + op_parts(o).0.len()).sum::<usize>();
    let mut out = Vec::with_capacity(17 + size);
    out.push(VERSION);
    out.extend_from_slice(&first_id.to_le_bytes());
    put_count(&mut out, events.clone().count())?;
    for (kind, json) in events {
        out.push(kind.index());
        put_bytes(&mut out, json)?;
    }
    put_count(&mut out, ops.clone().count())?;
    for op in ops {
        let (key, tag) = op_parts(op);
        out.push(tag);
        put_bytes(&mut out, key.as_bytes())?;
        match op {
            Op::PutObject { value, .. }
            | Op::PutModified { value, .. }
            | Op::PutToken { value, .. } => {
                put_bytes(&mut out, &serde_json::to_vec(value)?)?;
            }
            Op::PutObjectBytes { value, .. } | Op::PutState { value, .. } => {
                put_bytes(&mut out, value)?;
            }
            Op::DeleteObject { .. }
            | Op::DeleteModified { .. }
            | Op::DeleteState { .. }
            | Op::DeleteToken { .. } => {}
        }
    }
    Ok(out)
}

/// The key and tag of an op.
fn op_parts(op: &Op) -> (&str, u8) {
    match op {
        Op::PutObject { key, .. } => (key, 1),
        Op::PutObjectBytes { key, .. } => (key, 2),
        Op::DeleteObject { key } => (key, 3),
        Op::PutModified { key, .. } => (key, 4),
        Op::DeleteModified { key } => (key, 5),
        Op::PutState { key, .. } => (key, 6),
        Op::DeleteState { key } => (key, 7),
        Op::PutToken { key, .. } => (key, 8),
        Op::DeleteToken { key } => (key, 9),
    }
}

fn put_count(out: &mut Vec<u8>, n: usize) -> Result<()> {
    let n = u32::try_from(n).context("too many entries for one record")?;
    out.extend_from_slice(&n.to_le_bytes());
    Ok(())
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) -> Result<()> {
    put_count(out, b.len())?;
    out.extend_from_slice(b);
    Ok(())
}

/// Reads a record.
///
/// # Errors
/// The record is truncated, of an unknown version, or holds an unknown type or tag.
pub fn decode(raw: &[u8]) -> Result<Record> {
    let mut r = Reader { rest: raw };
    let version = r.u8()?;
    if version != VERSION {
        bail!("record version {version} is not known (this node reads {VERSION})");
    }
    let first_id = u64::from_le_bytes(r.take(8)?.try_into()?);
    let n = r.u32()?;
    let mut events = Vec::with_capacity(n.min(1 << 16) as usize);
    for _ in 0..n {
        let index = r.u8()?;
        let kind =
            EventKind::from_index(index).ok_or_else(|| anyhow!("unknown event type {index}"))?;
        events.push((kind, Bytes::copy_from_slice(r.bytes()?)));
    }
    let n = r.u32()?;
    let mut ops = Vec::with_capacity(n.min(1 << 16) as usize);
    for _ in 0..n {
        let tag = r.u8()?;
        let key = std::str::from_utf8(r.bytes()?)?.to_string();
        let json = |r: &mut Reader| -> Result<serde_json::Value> {
            Ok(serde_json::from_slice(r.bytes()?)?)
        };
        ops.push(match tag {
            1 | 2 => Op::PutObjectBytes {
                key,
                value: r.bytes()?.to_vec(),
            },
            3 => Op::DeleteObject { key },
            4 => Op::PutModified {
                key,
                value: json(&mut r)?,
            },
            5 => Op::DeleteModified { key },
            6 => Op::PutState {
                key,
                value: r.bytes()?.to_vec(),
            },
            7 => Op::DeleteState { key },
            8 => Op::PutToken {
                key,
                value: json(&mut r)?,
            },
            9 => Op::DeleteToken { key },
            t => bail!("unknown operation {t}"),
        });
    }
    if !r.rest.is_empty() {
        bail!("{} bytes after the record", r.rest.len());
    }
    Ok(Record {
        first_id,
        events,
        ops,
    })
}

struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.rest.len() < n {
            bail!("record truncated");
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into()?))
    }

    fn bytes(&mut self) -> Result<&'a [u8]> {
        let n = self.u32()? as usize;
        self.take(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn records_round_trip() {
        let events: Vec<Pending> = vec![
            (EventKind::CheckResult, Bytes::from_static(b"{\"a\":1}")),
            (EventKind::StateChange, Bytes::from_static(b"{}")),
        ];
        let ops = [
            Op::PutObject {
                key: "Comment\0h!c".into(),
                value: json!({"attrs": {"text": "x"}}),
            },
            Op::PutState {
                key: "Host\0h".into(),
                value: vec![0, 1, 2],
            },
            Op::DeleteToken { key: "t".into() },
            Op::PutModified {
                key: "Host\0h".into(),
                value: json!({"vars": {"x": 1}}),
            },
        ];
        let raw = encode(41, events.iter(), ops.iter()).unwrap();
        let back = decode(&raw).unwrap();
        assert_eq!(back.first_id, 41);
        assert_eq!(back.events, events);
        assert_eq!(back.ops.len(), 4);
        match &back.ops[0] {
            Op::PutObjectBytes { key, value } => {
                assert_eq!(key, "Comment\0h!c");
                assert_eq!(
                    serde_json::from_slice::<serde_json::Value>(value).unwrap(),
                    json!({"attrs": {"text": "x"}})
                );
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(matches!(&back.ops[1], Op::PutState { value, .. } if value == &vec![0, 1, 2]));
        assert!(matches!(&back.ops[2], Op::DeleteToken { key } if key == "t"));
        assert!(
            matches!(&back.ops[3], Op::PutModified { value, .. } if value == &json!({"vars": {"x": 1}}))
        );
    }

    #[test]
    fn damaged_records_are_refused() {
        let raw = encode(1, std::iter::empty(), std::iter::empty()).unwrap();
        assert!(decode(&raw).is_ok());
        assert!(decode(&raw[..raw.len() - 1]).is_err());
        let mut wrong = raw.clone();
        wrong[0] = 9;
        assert!(decode(&wrong)
            .unwrap_err()
            .to_string()
            .contains("version 9"));
        let mut long = raw;
        long.push(0);
        assert!(decode(&long).is_err());
    }
}
