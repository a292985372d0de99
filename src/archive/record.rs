//! The on-disk record: a postcard payload framed with a magic, its length and a CRC32.
//!
//! ```text
//! magic  A7 'R' 'V' 01   (4 bytes; the last byte is the format version)
//! len    u32 LE          payload length, 1 ..= MAX_PAYLOAD
//! crc    u32 LE          CRC-32 (IEEE) of the 4 length bytes followed by the payload
//! payload                postcard-encoded `Payload`
//! ```
//!
//! Chunks start at page boundaries and end with zero padding, so a segment holds records,
//! zeros, and after a crash possibly a torn record. [`scan`] returns every record whose frame
//! and CRC check and whose payload decodes, and reports (never returns) anything else: it
//! resynchronises by searching for the next magic.

use serde::{Deserialize, Serialize};

pub const MAGIC: [u8; 4] = [0xA7, b'R', b'V', 0x01];
pub const HEADER: usize = 12;
/// The largest payload a record may have.
pub const MAX_PAYLOAD: usize = 256 * 1024;
/// Alignment of chunk writes.
pub const PAGE: usize = 4096;

/// One logged event: the lines exactly as written live, plus what `logs export` filters on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event<'a> {
    /// Event time (the packet's for alerts), seconds and microseconds since the epoch.
    pub ts_secs: i64,
    pub ts_usecs: u32,
    /// EVE `event_type`: `alert`, `stats`, ...
    pub event_type: &'a str,
    pub gid: u32,
    pub sid: u32,
    /// Suricata's severity (the rule priority, 1 highest); 0 when not an alert.
    pub severity: u8,
    /// The eve.json line, with its newline.
    pub eve: &'a str,
    /// The fast.log line, with its newline; empty for events fast.log does not carry.
    pub fast: &'a str,
}

/// Counters as of the end of a flush, written as the last record of its chunk so that
/// `ravn logs stats` can report them without a separate (metadata-churning) state file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlushMark {
    pub unix_secs: i64,
    /// Bytes written to storage, all time, including this chunk.
    pub bytes_total: u64,
    /// UTC day number (unix days) and the bytes written on it, including this chunk.
    pub day: i64,
    pub bytes_today: u64,
    pub flushes: u64,
    pub failed_flushes: u64,
    /// Event records archived, all time.
    pub records: u64,
    /// Bytes of eve lines archived (the logical data), all time.
    pub line_bytes: u64,
    /// Low-priority records dropped by the daily budget.
    pub dropped_budget: u64,
    /// Records dropped because storage failed and the RAM buffer was full.
    pub dropped_overflow: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Payload<'a> {
    #[serde(borrow)]
    Event(Event<'a>),
    Flush(FlushMark),
}

/// An upper bound of a framed `FlushMark` (postcard varints: at most 10 bytes per u64).
pub const MARK_MAX: usize = HEADER + 1 + 10 * 10;

/// Append `p` framed to `buf`. Returns the framed length, or None (and `buf` unchanged)
/// when the payload is larger than `MAX_PAYLOAD`. Allocates only if `buf` must grow.
pub fn append(buf: &mut Vec<u8>, p: &Payload<'_>) -> Option<usize> {
    let start = buf.len();
    let need = payload_len(p)?;
    buf.resize(start + HEADER + need, 0);
    let body = &mut buf[start + HEADER..];
    if postcard::to_slice(p, body).is_err() {
        buf.truncate(start);
        return None;
    }
    let len = (need as u32).to_le_bytes();
    let mut h = crc32fast::Hasher::new();
    h.update(&len);
    h.update(&buf[start + HEADER..]);
    let crc = h.finalize().to_le_bytes();
    buf[start..start + 4].copy_from_slice(&MAGIC);
    buf[start + 4..start + 8].copy_from_slice(&len);
    buf[start + 8..start + 12].copy_from_slice(&crc);
    Some(HEADER + need)
}

/// The postcard-encoded size of `p`, if within `MAX_PAYLOAD`.
pub fn payload_len(p: &Payload<'_>) -> Option<usize> {
    let n = postcard::experimental::serialized_size(p).ok()?;
    (n > 0 && n <= MAX_PAYLOAD).then_some(n)
}

/// Something in a segment that is not a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Damage {
    /// Offset of the first byte that did not form a valid record.
    pub offset: usize,
    /// Bytes skipped until the next valid record (or the end of data), zeros excluded.
    pub len: usize,
}

/// What `scan` found.
#[derive(Debug, Default)]
pub struct ScanResult<'a> {
    /// Records with their offsets, in file order.
    pub records: Vec<(usize, Payload<'a>)>,
    /// Damaged regions, in file order.
    pub damage: Vec<Damage>,
    /// Offset just past the last valid record (0 when there is none).
    pub end: usize,
}

/// Check the frame at `pos`: the payload range if magic, length and CRC are valid.
fn frame_at(data: &[u8], pos: usize) -> Option<(usize, usize)> {
    let h = data.get(pos..pos.checked_add(HEADER)?)?;
    if h[0..4] != MAGIC {
        return None;
    }
    let len_b: [u8; 4] = h[4..8].try_into().ok()?;
    let crc_b: [u8; 4] = h[8..12].try_into().ok()?;
    let len = u32::from_le_bytes(len_b) as usize;
    if len == 0 || len > MAX_PAYLOAD {
        return None;
    }
    let start = pos + HEADER;
    let body = data.get(start..start.checked_add(len)?)?;
    let mut hs = crc32fast::Hasher::new();
    hs.update(&len_b);
    hs.update(body);
    (hs.finalize() == u32::from_le_bytes(crc_b)).then_some((start, start + len))
}

/// Every valid record in `data` (a segment's bytes), and the damage between them.
pub fn scan(data: &[u8]) -> ScanResult<'_> {
    let mut out = ScanResult::default();
    let mut pos = 0usize;
    // start of a damaged region not yet closed by a valid record
    let mut bad: Option<usize> = None;
    let close = |out: &mut ScanResult<'_>, bad: &mut Option<usize>, upto: usize| {
        if let Some(b) = bad.take() {
            let len = data[b..upto].iter().filter(|&&x| x != 0).count();
            if len > 0 {
                out.damage.push(Damage { offset: b, len });
            }
        }
    };
    let finder = memchr::memmem::Finder::new(&MAGIC);
    while pos < data.len() {
        if let Some((s, e)) = frame_at(data, pos) {
            if let Ok(p) = postcard::from_bytes::<Payload<'_>>(&data[s..e]) {
                close(&mut out, &mut bad, pos);
                out.records.push((pos, p));
                out.end = e;
                pos = e;
                continue;
            }
        }
        // Not a record here: zeros (padding, unwritten space) or damage.
        if data[pos] != 0 && bad.is_none() {
            bad = Some(pos);
        }
        match finder.find(&data[pos + 1..]) {
            Some(i) => {
                let next = pos + 1 + i;
                if bad.is_none() && data[pos..next].iter().any(|&x| x != 0) {
                    bad = Some(pos);
                }
                pos = next;
            }
            None => {
                if bad.is_none() && data[pos..].iter().any(|&x| x != 0) {
                    bad = Some(pos);
                }
                pos = data.len();
            }
        }
    }
    close(&mut out, &mut bad, data.len());
    out
}

/// `n` rounded up to a multiple of `PAGE`.
pub fn page_up(n: usize) -> usize {
    n.div_ceil(PAGE) * PAGE
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(line: &str) -> Payload<'_> {
        Payload::Event(Event {
            ts_secs: 1_700_000_000,
            ts_usecs: 5,
            event_type: "alert",
            gid: 1,
            sid: 42,
            severity: 2,
            eve: line,
            fast: "fast\n",
        })
    }

    #[test]
    fn roundtrip_and_padding() {
        let mut buf = Vec::new();
        let n1 = append(&mut buf, &ev("{\"a\":1}\n")).unwrap();
        let n2 = append(&mut buf, &ev("{\"b\":2}\n")).unwrap();
        assert_eq!(buf.len(), n1 + n2);
        buf.resize(page_up(buf.len()), 0);
        append(&mut buf, &ev("{\"c\":3}\n")).unwrap();
        buf.resize(3 * PAGE, 0);
        let r = scan(&buf);
        assert!(r.damage.is_empty(), "{:?}", r.damage);
        assert_eq!(r.records.len(), 3);
        assert_eq!(r.records[2].0, PAGE);
        assert_eq!(r.records[1].1, ev("{\"b\":2}\n"));
    }

    #[test]
    fn torn_and_flipped_records_are_reported_not_returned() {
        let mut buf = Vec::new();
        for i in 0..3 {
            append(&mut buf, &ev(&format!("{{\"n\":{i}}}\n"))).unwrap();
        }
        let whole = buf.len();
        // torn tail
        let r = scan(&buf[..whole - 3]);
        assert_eq!(r.records.len(), 2);
        assert_eq!(r.damage.len(), 1);
        // flipped byte in the middle record's payload
        let mid = scan(&buf).records[1].0;
        buf[mid + HEADER + 4] ^= 0x40;
        let r = scan(&buf);
        assert_eq!(r.records.len(), 2);
        assert_eq!(r.damage.len(), 1);
        assert_eq!(r.damage[0].offset, mid);
        assert_eq!(r.end, whole);
    }

    #[test]
    fn oversize_payload_refused() {
        let big = "x".repeat(MAX_PAYLOAD);
        let mut buf = vec![1u8];
        assert!(append(&mut buf, &ev(&big)).is_none());
        assert_eq!(buf, vec![1u8]);
    }
}
