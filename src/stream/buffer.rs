//! One direction's reassembled data (Suricata's `TcpStream` segment tree and streaming
//! buffer, reduced to what raw stream inspection needs): the bytes received, by stream
//! offset (0 = the byte after the ISN), in pool blocks; which ranges are covered; the raw
//! inspection progress; and the ACK the other side sent.
//!
//! Overlaps: the data received first wins (Suricata 7 keeps the segment data it already
//! has and only fills holes). Data before the raw progress is released and never kept
//! again (ravn has no app-layer that would still need it).

use super::pool::{BlockPool, BLOCK, NONE};
use super::StreamStats;
use crate::applayer::http::HttpFramer;
use crate::applayer::tls::TlsFramer;

/// Disjoint covered ranges kept per stream: more holes than this and the segment that
/// would add one is dropped (counted with `tcp.segment_memcap_drop`).
pub const MAX_RANGES: usize = 8;

/// Contiguous pieces one raw inspection may see (data around gaps).
pub const MAX_CHUNKS: usize = MAX_RANGES;

#[derive(Debug, Clone, Copy)]
pub struct StreamBuf {
    /// Sequence number of stream offset 0 (ISN + 1).
    pub base_seq: u32,
    /// Highest sequence number seen (after data and FIN).
    pub next_seq: u32,
    /// What the other side acknowledged.
    pub last_ack: u32,
    /// One past the highest stream offset of the data received (Suricata's
    /// `segs_right_edge`, relative).
    pub right_edge: u64,
    /// Data before this offset was inspected (Suricata's `STREAM_RAW_PROGRESS`).
    pub raw_progress: u64,
    /// First block of the chain (ascending offsets), `NONE` when empty.
    head: u32,
    ranges: [(u64, u64); MAX_RANGES],
    nranges: u8,
    /// `stream.reassembly.depth` was reached (inspect what is there at once).
    pub depth_reached: bool,
    /// No more data is added (Suricata's STREAMTCP_STREAM_FLAG_NOREASSEMBLY).
    pub no_reassembly: bool,
    /// Any data was ever stored.
    pub has_data: bool,
    /// Data before this offset went through the app-layer parser.
    pub app_progress: u64,
    /// The app-layer asked for raw inspection now (Suricata's
    /// STREAMTCP_STREAM_FLAG_TRIGGER_RAW).
    pub trigger_raw: bool,
    /// HTTP message framing of this direction (when the session is HTTP).
    pub http: HttpFramer,
    /// TLS record framing of this direction (when the session is TLS).
    pub tls: TlsFramer,
    /// No more raw inspection (Suricata's STREAMTCP_STREAM_FLAG_DISABLE_RAW), and its
    /// announcement, which takes effect once the stream's next raw inspection is done
    /// (STREAMTCP_STREAM_FLAG_NEW_RAW_DISABLED, turned into the former by
    /// StreamReassembleRawUpdateProgress).
    pub raw_disabled: bool,
    pub new_raw_disabled: bool,
}

/// What happened to a segment offered to the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Insert {
    /// Taken (or already there): the packet counts as added to the stream.
    Added,
    /// Not taken, and the packet is not added (memory, or nothing left to reassemble).
    Refused,
}

/// The data of one raw inspection: pieces of `scratch` and the progress after it.
#[derive(Debug, Clone, Copy, Default)]
pub struct RawChunks {
    /// (start, end) in the scratch buffer.
    pub pieces: [(u32, u32); MAX_CHUNKS],
    pub n: u8,
    /// The raw progress once these were inspected.
    pub progress: u64,
    /// Gaps skipped on the way.
    pub gaps: u8,
}

impl RawChunks {
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }
}

impl Default for StreamBuf {
    /// An empty stream (no block: the chain's end is `NONE`, not block 0).
    fn default() -> Self {
        StreamBuf {
            base_seq: 0,
            next_seq: 0,
            last_ack: 0,
            right_edge: 0,
            raw_progress: 0,
            head: NONE,
            ranges: [(0, 0); MAX_RANGES],
            nranges: 0,
            depth_reached: false,
            no_reassembly: false,
            has_data: false,
            app_progress: 0,
            trigger_raw: false,
            http: HttpFramer::default(),
            tls: TlsFramer::default(),
            raw_disabled: false,
            new_raw_disabled: false,
        }
    }
}

impl StreamBuf {
    pub fn new(isn: u32) -> StreamBuf {
        let base = isn.wrapping_add(1);
        StreamBuf {
            base_seq: base,
            next_seq: base,
            last_ack: base,
            ..Default::default()
        }
    }

    /// Start over at `isn` (its blocks back to the pool first).
    pub fn reset(&mut self, pool: &mut BlockPool, isn: u32) {
        self.clear(pool);
        *self = StreamBuf::new(isn);
    }

    /// The stream offset of `seq` (negative: before the stream's start).
    pub fn rel(&self, seq: u32) -> i64 {
        i64::from(seq.wrapping_sub(self.base_seq) as i32)
    }

    /// The acknowledged offset (Suricata's GetAbsLastAck).
    pub fn last_ack_abs(&self) -> u64 {
        self.rel(self.last_ack).max(0) as u64
    }

    pub fn update_ack(&mut self, ack: u32) {
        if (ack.wrapping_sub(self.last_ack) as i32) > 0 {
            self.last_ack = ack;
        }
    }

    pub fn update_next_seq(&mut self, end: u32) {
        if (end.wrapping_sub(self.next_seq) as i32) > 0 {
            self.next_seq = end;
        }
    }

    /// Received data not inspected yet (Suricata: raw progress short of the right edge).
    pub fn has_uninspected(&self) -> bool {
        self.has_data && self.raw_progress < self.right_edge
    }

    /// Offer a segment's payload (`seq`, `data`) with `depth` (0: unlimited). Suricata's
    /// StreamTcpReassembleHandleSegmentHandleData: depth check, then insert.
    pub fn insert(
        &mut self,
        pool: &mut BlockPool,
        stats: &mut StreamStats,
        seq: u32,
        data: &[u8],
        depth: u32,
    ) -> Insert {
        if self.no_reassembly {
            return Insert::Refused;
        }
        let mut start = self.rel(seq);
        let mut end = start + data.len() as i64;
        // the depth (offsets stay below 2^31 either way)
        let limit = if depth == 0 {
            i32::MAX as i64
        } else {
            i64::from(depth)
        };
        if self.depth_reached {
            // Suricata: no data past depth; the stream stops taking any (this packet
            // still counts as added, as there).
            self.no_reassembly = true;
            return Insert::Added;
        }
        if end > limit {
            self.depth_reached = true;
            stats.depth_reached += 1;
            end = limit;
            if start >= limit {
                self.no_reassembly = true;
                return Insert::Added;
            }
        }
        let skip = (self.raw_progress as i64).max(0) - start;
        let mut data = data;
        if skip > 0 {
            // before what was inspected and released: a retransmission
            if start + data.len() as i64 <= self.raw_progress as i64 {
                return Insert::Added;
            }
            data = &data[skip as usize..];
            start += skip;
        }
        if end <= start {
            return Insert::Added;
        }
        let (start, end) = (start as u64, end as u64);
        let data = &data[..(end - start) as usize];
        // the parts not covered yet (first data wins)
        let mut holes = [(0u64, 0u64); MAX_RANGES + 1];
        let mut nh = 0;
        let mut at = start;
        let mut overlapped = false;
        for &(s, e) in &self.ranges[..self.nranges as usize] {
            if e <= at {
                continue;
            }
            if s >= end {
                break;
            }
            overlapped = true;
            if s > at {
                holes[nh] = (at, s.min(end));
                nh += 1;
            }
            at = at.max(e);
            if at >= end {
                break;
            }
        }
        if at < end && nh < holes.len() {
            holes[nh] = (at, end);
            nh += 1;
        }
        if overlapped {
            stats.overlap += 1;
        }
        if nh == 0 {
            return Insert::Added;
        }
        // room for the new ranges (merging may reduce the count; check the worst case
        // after merging below, before writing anything)
        let mut merged = self.ranges;
        let mut nm = self.nranges as usize;
        for &(s, e) in &holes[..nh] {
            match add_range(&mut merged, &mut nm, s, e) {
                true => {}
                false => {
                    stats.ranges_drop += 1;
                    return Insert::Refused;
                }
            }
        }
        // blocks needed
        let mut need = 0;
        for &(s, e) in &holes[..nh] {
            let mut b = s / BLOCK as u64;
            while b * (BLOCK as u64) < e {
                if self.find_block(pool, b * BLOCK as u64).is_none() {
                    need += 1;
                }
                b += 1;
            }
        }
        if need > pool.available() {
            stats.memcap_drop += 1;
            return Insert::Refused;
        }
        for &(s, e) in &holes[..nh] {
            self.write(pool, s, &data[(s - start) as usize..(e - start) as usize]);
        }
        self.ranges = merged;
        self.nranges = nm as u8;
        self.right_edge = self.right_edge.max(end);
        self.has_data = true;
        Insert::Added
    }

    /// Where the block at `off` is in the chain: (the block before it or `NONE`, the block
    /// at `off` or the first one after it or `NONE`, whether it is there).
    fn locate(&self, pool: &BlockPool, off: u64) -> (u32, u32, bool) {
        let mut prev = NONE;
        let mut b = self.head;
        while b != NONE {
            let o = pool.offset(b);
            if o >= off {
                return (prev, b, o == off);
            }
            prev = b;
            b = pool.next(b);
        }
        (prev, NONE, false)
    }

    fn find_block(&self, pool: &BlockPool, off: u64) -> Option<u32> {
        let (_, b, found) = self.locate(pool, off);
        found.then_some(b)
    }

    /// The block at `off` (a multiple of BLOCK), created in order if missing. Callers
    /// checked that the pool has enough blocks.
    fn block_at(&mut self, pool: &mut BlockPool, off: u64) -> Option<u32> {
        let (prev, b, found) = self.locate(pool, off);
        if found {
            return Some(b);
        }
        let nb = pool.alloc(off, b)?;
        if prev == NONE {
            self.head = nb;
        } else {
            pool.set_next(prev, nb);
        }
        Some(nb)
    }

    fn write(&mut self, pool: &mut BlockPool, mut off: u64, mut data: &[u8]) {
        while !data.is_empty() {
            let boff = off - off % BLOCK as u64;
            let Some(b) = self.block_at(pool, boff) else {
                return;
            };
            let at = (off - boff) as usize;
            let n = (BLOCK - at).min(data.len());
            pool.bytes_mut(b)[at..at + n].copy_from_slice(&data[..n]);
            data = &data[n..];
            off += n as u64;
        }
    }

    /// The end of the received data that continues without a hole from `off`.
    pub fn contiguous_end(&self, off: u64) -> u64 {
        self.ranges[..self.nranges as usize]
            .iter()
            .find(|&&(s, e)| s <= off && off < e)
            .map_or(off, |&(_, e)| e)
    }

    /// Copy the stored bytes from `off` into `out` (callers read covered ranges).
    pub fn read(&self, pool: &BlockPool, mut off: u64, out: &mut [u8]) {
        let mut done = 0;
        let mut b = self.head;
        while done < out.len() && b != NONE {
            let boff = pool.offset(b);
            if boff + (BLOCK as u64) <= off {
                b = pool.next(b);
                continue;
            }
            if boff > off {
                return; // not stored (callers read covered ranges only)
            }
            let at = (off - boff) as usize;
            let n = (BLOCK - at).min(out.len() - done);
            out[done..done + n].copy_from_slice(&pool.bytes(b)[at..at + n]);
            done += n;
            off += n as u64;
            b = pool.next(b);
        }
    }

    /// Raw inspection's data: the covered pieces from the raw progress up to the
    /// acknowledged offset (at the end of the flow, `eof`, everything received), copied
    /// into `scratch` (as much as fits). Suricata's StreamReassembleRawDo: the progress
    /// jumps over a gap the receiver acknowledged.
    pub fn raw_chunks(&self, pool: &BlockPool, eof: bool, scratch: &mut [u8]) -> RawChunks {
        let mut out = RawChunks {
            progress: self.raw_progress,
            ..Default::default()
        };
        let ack = self.last_ack_abs();
        let re = if eof {
            self.right_edge
        } else {
            ack.min(self.right_edge)
        };
        let mut used = 0usize;
        for &(s, e) in &self.ranges[..self.nranges as usize] {
            if e <= self.raw_progress {
                continue;
            }
            let from = s.max(self.raw_progress);
            if from >= re {
                break;
            }
            let to = e.min(re);
            let room = scratch.len() - used;
            let len = ((to - from) as usize).min(room);
            if len == 0 {
                break;
            }
            self.read(pool, from, &mut scratch[used..used + len]);
            out.pieces[out.n as usize] = (used as u32, (used + len) as u32);
            out.n += 1;
            used += len;
            if from == out.progress {
                out.progress = from + len as u64;
            } else if from > out.progress && from < ack {
                // a gap the receiver acknowledged: Suricata moves the progress to where the
                // data resumes (not past it, so that data is inspected again next time)
                out.progress = from;
                out.gaps += 1;
            }
            if out.n as usize == MAX_CHUNKS || len < (to - from) as usize {
                break;
            }
        }
        out
    }

    /// After detection ran on the stream: move the raw progress and release what is
    /// behind it (Suricata's StreamReassembleRawUpdateProgress).
    pub fn set_raw_progress(&mut self, pool: &mut BlockPool, progress: u64) {
        self.raw_disabled |= self.new_raw_disabled;
        if progress == 0 {
            self.trigger_raw = false;
        }
        if progress <= self.raw_progress {
            return;
        }
        self.trigger_raw = false;
        self.release_before(pool, progress);
    }

    /// With raw inspection over (`raw_disabled`), only the app layer still reads the
    /// stream: what it has parsed (`app_progress`, or all that was acknowledged once it
    /// stopped: `app_active` false) is released, as Suricata prunes by the app progress
    /// alone then. Without this the data would pile up to the stream's depth.
    pub fn release_uninspected(&mut self, pool: &mut BlockPool, app_active: bool) {
        if !self.raw_disabled {
            return;
        }
        let upto = if app_active {
            self.app_progress
        } else {
            self.last_ack_abs().min(self.right_edge)
        };
        if upto > self.raw_progress {
            self.release_before(pool, upto);
        }
    }

    /// Moves the raw progress to `progress` and releases the blocks and forgets the ranges
    /// wholly before it.
    fn release_before(&mut self, pool: &mut BlockPool, progress: u64) {
        self.raw_progress = progress;
        while self.head != NONE && pool.offset(self.head) + BLOCK as u64 <= progress {
            let b = self.head;
            self.head = pool.next(b);
            pool.release(b);
        }
        let mut k = 0;
        for i in 0..self.nranges as usize {
            if self.ranges[i].1 > progress {
                self.ranges[k] = self.ranges[i];
                k += 1;
            }
        }
        self.nranges = k as u8;
    }

    /// Return every block to the pool (the flow ends).
    pub fn clear(&mut self, pool: &mut BlockPool) {
        let mut b = self.head;
        while b != NONE {
            let n = pool.next(b);
            pool.release(b);
            b = n;
        }
        self.head = NONE;
        self.nranges = 0;
    }
}

/// Add [s, e) to the sorted disjoint ranges, merging neighbours; false when full.
fn add_range(r: &mut [(u64, u64); MAX_RANGES], n: &mut usize, s: u64, e: u64) -> bool {
    // position of the first range ending at or after s
    let mut i = 0;
    while i < *n && r[i].1 < s {
        i += 1;
    }
    if i < *n && r[i].0 <= e {
        // overlaps or touches r[i]: extend, then swallow following ones
        r[i].0 = r[i].0.min(s);
        r[i].1 = r[i].1.max(e);
        let mut j = i + 1;
        while j < *n && r[j].0 <= r[i].1 {
            r[i].1 = r[i].1.max(r[j].1);
            j += 1;
        }
        let removed = j - (i + 1);
        if removed > 0 {
            for k in i + 1..*n - removed {
                r[k] = r[k + removed];
            }
            *n -= removed;
        }
        return true;
    }
    if *n == MAX_RANGES {
        return false;
    }
    for k in (i..*n).rev() {
        r[k + 1] = r[k];
    }
    r[i] = (s, e);
    *n += 1;
    true
}
