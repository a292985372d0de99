//! IP defragmentation as Suricata 7.0.10 does it (its `defrag.c` and `defrag-hash.c`):
//! IPv4 and IPv6 fragments are kept per tracker (addresses either way round, IP id, protocol,
//! VLAN ids, address family), overlaps are resolved by the reassembly policy (Windows for IPv4 and
//! BSD for IPv6, the policies Suricata's suricata.yaml gives every host), and once the last fragment has been seen and nothing is missing the packet is
//! rebuilt: the first fragment's link and IP headers, then the data, with the IP length (and,
//! for IPv4, the offset and checksum) fixed up. The decoder decodes the rebuilt packet as a
//! packet of its own (`pkt_src` "defrag"), the fragments themselves stop at their IP header.
//!
//! Memory is fixed when the decoder is built: `defrag.trackers` trackers, `defrag.max-frags`
//! fragment records, `defrag.memcap` bytes of fragment data cut into blocks (zero-allocated:
//! pages become resident as blocks are first used), and a few output buffers of Suricata's
//! largest packet, which rebuilt packets borrow (`Session`). A full tracker table evicts the
//! tracker under a moving hand (Suricata reuses a tracker from its hash the same way); a
//! fragment that finds no record or no data blocks is ignored (Suricata's `frag_ignored`
//! event). Trackers expire `defrag.timeout` seconds (whole seconds, as Suricata keeps them)
//! after their last fragment.
//!
//! Differences from Suricata that cannot show in alerts: Suricata's `defrag.memcap` bounds its
//! trackers while fragment copies are allocated freely up to `max-frags`; here it bounds the
//! fragment data. Suricata frees expired trackers from its flow manager thread (at moments
//! that depend on wall-clock time in offline runs); here an expired tracker is never matched
//! again and is reclaimed when its slot or its memory is needed.

#[cfg(test)]
mod tests;

use std::hash::BuildHasher;
use std::net::IpAddr;

use crate::capture::Timestamp;
use crate::flow::BuildFastHasher;

/// Suricata's largest packet (`MAX_PAYLOAD_SIZE`: an IPv6 header, 64 KiB and 28 bytes): a
/// rebuilt packet that would not fit is dropped with its tracker.
pub const MAX_PACKET: usize = 40 + 65536 + 28;

/// Bytes per data block.
const BLOCK: usize = 512;
const NONE: u32 = u32::MAX;

/// Rebuilt packets one frame can produce (a reassembled packet carrying a tunnel carrying
/// fragments...): as many as a frame has packets besides the captured one.
const OUT_SLOTS: usize = crate::decode::MAX_PACKETS - 1;

/// Trackers inspected per new tracker for expiry (bounded work per fragment).
const SWEEP_STEP: usize = 2;
/// Trackers inspected for expiry when fragment memory is short.
const RECLAIM_STEP: usize = 64;

/// `defrag.*` settings; the defaults are those of Suricata's suricata.yaml.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DefragConfig {
    /// Bytes of fragment data held at once (`defrag.memcap`).
    pub memcap: u64,
    /// Fragmented packets tracked at once (`defrag.trackers`).
    pub trackers: u32,
    /// Fragments held at once (`defrag.max-frags`).
    pub max_frags: u32,
    /// Seconds a tracker lives after its last fragment (`defrag.timeout`, 1 to 86400).
    pub timeout: u32,
    /// How overlapping fragments are resolved. Suricata picks it per destination from
    /// `host-os-policy`; its suricata.yaml names `windows` for 0.0.0.0/0, which leaves IPv6
    /// to the built-in default, BSD. These are those defaults.
    pub policy_v4: Policy,
    pub policy_v6: Policy,
}

impl Default for DefragConfig {
    fn default() -> Self {
        DefragConfig {
            memcap: 32 << 20,
            trackers: 65_535,
            max_frags: 65_535,
            timeout: 60,
            policy_v4: Policy::Windows,
            policy_v6: Policy::Bsd,
        }
    }
}

/// Suricata's reassembly policies (its `defrag_policies`; BSD-right is not implemented there
/// either: it resolves no overlap).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    First,
    Last,
    Bsd,
    Linux,
    Windows,
    Solaris,
}

/// Counters, with Suricata's names where it has them (`push_counters`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DefragStats {
    pub ipv4_fragments: u64,
    pub ipv4_reassembled: u64,
    pub ipv6_fragments: u64,
    pub ipv6_reassembled: u64,
    /// A fragment for which no tracker could be had.
    pub max_frag_hits: u64,
    /// Trackers that expired with fragments still held.
    pub timeouts: u64,
    /// Trackers evicted because the table was full.
    pub evicted: u64,
    /// Fragments refused for lack of fragment records or data blocks.
    pub memcap_drop: u64,
}

impl DefragStats {
    /// Suricata's `defrag.*` counters, in its order.
    pub fn for_each_suricata(&self, mut f: impl FnMut(&'static str, u64)) {
        f("defrag.ipv4.fragments", self.ipv4_fragments);
        f("defrag.ipv4.reassembled", self.ipv4_reassembled);
        f("defrag.ipv6.fragments", self.ipv6_fragments);
        f("defrag.ipv6.reassembled", self.ipv6_reassembled);
        f("defrag.max_frag_hits", self.max_frag_hits);
    }

    pub fn merge(&mut self, o: &DefragStats) {
        self.ipv4_fragments += o.ipv4_fragments;
        self.ipv4_reassembled += o.ipv4_reassembled;
        self.ipv6_fragments += o.ipv6_fragments;
        self.ipv6_reassembled += o.ipv6_reassembled;
        self.max_frag_hits += o.max_frag_hits;
        self.timeouts += o.timeouts;
        self.evicted += o.evicted;
        self.memcap_drop += o.memcap_drop;
    }
}

/// One fragment as the decoder hands it over.
#[derive(Debug, Clone, Copy)]
pub struct Fragment<'p> {
    pub v6: bool,
    pub src: IpAddr,
    pub dst: IpAddr,
    /// IPv4 identification or the IPv6 fragment header's identification.
    pub id: u32,
    /// The packet's protocol (IPv4's protocol field; 44 for IPv6 fragments).
    pub proto: u8,
    pub vlan: [u16; 3],
    pub ts: Timestamp,
    /// The packet from its first byte (a captured packet: from its link header).
    pub packet: &'p [u8],
    pub ip_hdr_offset: usize,
    /// IPv4 header length.
    pub hlen: usize,
    /// IPv6: where the fragment header is.
    pub frag_hdr_offset: usize,
    /// Where the fragment's data starts, and its length.
    pub data_offset: usize,
    pub data_len: usize,
    /// Fragment offset in bytes.
    pub frag_offset: usize,
    pub more_frags: bool,
    /// IPv6 with extension headers before the fragment header: the place of the
    /// next-header byte that names the fragment header, and what it must name instead.
    pub nh_fix: Option<(usize, u8)>,
}

/// What a fragment did: Suricata's decoder events on the fragment, and the rebuilt packet.
#[derive(Debug, Default)]
pub struct Outcome<'o> {
    /// Counted in `defrag.ipv*.fragments` (an IPv6 "fragment" header with offset 0 and no
    /// more fragments is not a fragment).
    pub counted: bool,
    /// `ipv4.frag_overlap` / `ipv6.frag_overlap`.
    pub overlap: bool,
    /// `ipv4.frag_pkt_too_large` / `ipv6.frag_pkt_too_large`.
    pub too_large: bool,
    /// `ipv4.frag_ignored` / `ipv6.frag_ignored`.
    pub ignored: bool,
    pub reassembled: Option<Reassembled<'o>>,
}

/// A rebuilt packet: the first fragment's headers from its first byte, then the data.
#[derive(Debug, Clone, Copy)]
pub struct Reassembled<'o> {
    pub data: &'o [u8],
    /// Where the IP header is in `data`, and the IP packet's length.
    pub ip_offset: usize,
    pub ip_len: usize,
}

/// A tracker's identity; addresses in a fixed order, so both directions are one tracker (as
/// Suricata's tracker compare has it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    lo: IpAddr,
    hi: IpAddr,
    id: u32,
    proto: u8,
    v6: bool,
    vlan: [u16; 3],
}

impl Key {
    fn of(f: &Fragment<'_>) -> Key {
        let (lo, hi) = if f.src <= f.dst {
            (f.src, f.dst)
        } else {
            (f.dst, f.src)
        };
        Key {
            lo,
            hi,
            id: f.id,
            proto: f.proto,
            v6: f.v6,
            vlan: f.vlan,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Tracker {
    key: Key,
    in_use: bool,
    seen_last: bool,
    policy: Policy,
    /// Expires at this second (Suricata: the last fragment's whole seconds + timeout).
    timeout: i64,
    /// First fragment record, in offset order.
    head: u32,
}

/// Suricata's `Frag`, its fields as wide as there (offsets and lengths are `uint16_t`).
#[derive(Debug, Clone, Copy)]
struct Frag {
    offset: u16,
    data_len: u16,
    ltrim: u16,
    /// Stored bytes: the whole packet for a fragment at offset 0, else its data.
    len: u32,
    hlen: u8,
    more_frags: bool,
    skip: bool,
    ip_hdr_offset: u16,
    frag_hdr_offset: u16,
    first_block: u32,
    /// Next record of the tracker, by offset.
    next: u32,
}

/// One rebuilt packet's buffer.
type OutSlot = [u8; MAX_PACKET];

/// The defragmenter: trackers, fragment records, data blocks, output buffers.
pub struct Defrag {
    table: Table,
    out: Vec<OutSlot>,
}

/// Everything but the output buffers.
struct Table {
    cfg: DefragConfig,
    pub stats: DefragStats,
    trackers: Vec<Tracker>,
    free_trackers: Vec<u32>,
    index: hashbrown::HashTable<u32>,
    /// The eviction and expiry hand over the tracker slots.
    hand: usize,
    frags: Vec<Frag>,
    free_frags: Vec<u32>,
    blocks: Vec<u8>,
    block_next: Vec<u32>,
    free_blocks: Vec<u32>,
    fresh_blocks: u32,
}

impl std::fmt::Debug for Defrag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Defrag")
            .field("cfg", &self.table.cfg)
            .field("stats", &self.table.stats)
            .finish_non_exhaustive()
    }
}

impl Default for Defrag {
    fn default() -> Self {
        Defrag::new(DefragConfig::default())
    }
}

/// A frame's use of the defragmenter: the tables, and the output buffers its rebuilt packets
/// borrow for `'o`.
pub struct Session<'t, 'o> {
    table: &'t mut Table,
    slots: std::slice::IterMut<'o, OutSlot>,
}

impl Defrag {
    pub fn new(cfg: DefragConfig) -> Defrag {
        let trackers = cfg.trackers.clamp(1, u32::MAX - 1) as usize;
        let max_frags = cfg.max_frags.clamp(1, u32::MAX - 1) as usize;
        let nblocks = (cfg.memcap / BLOCK as u64).clamp(1, u32::MAX as u64 - 1) as usize;
        let mut out = Vec::with_capacity(OUT_SLOTS);
        for _ in 0..OUT_SLOTS {
            out.push([0u8; MAX_PACKET]);
        }
        Defrag {
            table: Table {
                cfg,
                stats: DefragStats::default(),
                trackers: Vec::with_capacity(trackers),
                free_trackers: Vec::with_capacity(trackers),
                index: hashbrown::HashTable::with_capacity(trackers),
                hand: 0,
                frags: Vec::with_capacity(max_frags),
                free_frags: Vec::with_capacity(max_frags),
                blocks: vec![0; nblocks * BLOCK],
                block_next: vec![0; nblocks],
                free_blocks: Vec::with_capacity(nblocks),
                fresh_blocks: 0,
            },
            out,
        }
    }

    pub fn config(&self) -> &DefragConfig {
        &self.table.cfg
    }

    pub fn stats(&self) -> &DefragStats {
        &self.table.stats
    }

    /// Trackers holding fragments now.
    pub fn active(&self) -> usize {
        self.table.index.len()
    }

    /// Bytes of fragment data held now.
    pub fn memuse(&self) -> u64 {
        let t = &self.table;
        (t.fresh_blocks as u64 - t.free_blocks.len() as u64) * BLOCK as u64
    }

    /// A session whose rebuilt packets borrow the output buffers.
    pub fn session(&mut self) -> Session<'_, '_> {
        Session {
            table: &mut self.table,
            slots: self.out.iter_mut(),
        }
    }

    /// A session without output buffers, for any lifetime: fragments are tracked, but a
    /// complete set is dropped instead of rebuilt (for callers that keep packets past the
    /// decoder's next use).
    pub fn session_without_output<'o>(&mut self) -> Session<'_, 'o> {
        Session {
            table: &mut self.table,
            slots: [].iter_mut(),
        }
    }
}

impl<'o> Session<'_, 'o> {
    /// Suricata's Defrag(): tracks `f`, and rebuilds the packet when `f` completes it.
    pub fn insert(&mut self, f: &Fragment<'_>) -> Outcome<'o> {
        let mut out = Outcome::default();
        if f.frag_offset == 0 && !f.more_frags {
            return out;
        }
        out.counted = true;
        let t = &mut *self.table;
        if f.v6 {
            t.stats.ipv6_fragments += 1;
        } else {
            t.stats.ipv4_fragments += 1;
        }
        let Some(tr) = t.tracker(f) else {
            t.stats.max_frag_hits += 1;
            return out;
        };
        t.insert_frag(tr, f, &mut out, &mut self.slots);
        out
    }

    pub fn stats(&self) -> &DefragStats {
        &self.table.stats
    }
}

impl Table {
    fn expired(&self, tr: usize, now: Timestamp) -> bool {
        let t = &self.trackers[tr];
        Timestamp {
            secs: t.timeout,
            nanos: 0,
        } <= now
    }

    /// The live tracker of `f`, or a new one (an expired one is released first).
    fn tracker(&mut self, f: &Fragment<'_>) -> Option<usize> {
        let key = Key::of(f);
        let h = BuildFastHasher.hash_one(key);
        let trackers = &self.trackers;
        let found = self
            .index
            .find(h, |&s| trackers[s as usize].key == key)
            .copied();
        if let Some(s) = found {
            let s = s as usize;
            if !self.expired(s, f.ts) {
                return Some(s);
            }
            self.stats.timeouts += 1;
            self.release(s);
        }
        self.sweep(f.ts, SWEEP_STEP);
        let slot = match self.free_trackers.pop() {
            Some(s) => s as usize,
            None if self.trackers.len() < self.trackers.capacity() => {
                self.trackers.push(Tracker {
                    key,
                    in_use: false,
                    seen_last: false,
                    policy: Policy::Bsd,
                    timeout: 0,
                    head: NONE,
                });
                self.trackers.len() - 1
            }
            None => {
                // full (and nothing expired under the hand): the tracker under the hand goes
                let victim = self.hand % self.trackers.len();
                self.hand = victim + 1;
                if !self.trackers[victim].in_use {
                    return None;
                }
                self.stats.evicted += 1;
                self.release(victim);
                self.free_trackers.pop()? as usize
            }
        };
        self.trackers[slot] = Tracker {
            key,
            in_use: true,
            seen_last: false,
            policy: if f.v6 {
                self.cfg.policy_v6
            } else {
                self.cfg.policy_v4
            },
            timeout: f.ts.secs.saturating_add(i64::from(self.cfg.timeout)),
            head: NONE,
        };
        let trackers = &self.trackers;
        self.index.insert_unique(h, slot as u32, |&s| {
            BuildFastHasher.hash_one(trackers[s as usize].key)
        });
        Some(slot)
    }

    /// Releases expired trackers among the next `n` slots under the hand.
    fn sweep(&mut self, now: Timestamp, n: usize) {
        let len = self.trackers.len();
        if len == 0 {
            return;
        }
        for _ in 0..n.min(len) {
            let s = self.hand % len;
            self.hand = s + 1;
            if self.trackers[s].in_use && self.expired(s, now) {
                if self.trackers[s].head != NONE {
                    self.stats.timeouts += 1;
                }
                self.release(s);
            }
        }
    }

    /// Frees a tracker and its fragments.
    fn release(&mut self, s: usize) {
        if !self.trackers[s].in_use {
            return;
        }
        let key = self.trackers[s].key;
        let h = BuildFastHasher.hash_one(key);
        if let Ok(e) = self.index.find_entry(h, |&x| x as usize == s) {
            e.remove();
        }
        let mut fr = self.trackers[s].head;
        while fr != NONE {
            let next = self.frags[fr as usize].next;
            self.free_frag(fr);
            fr = next;
        }
        self.trackers[s].head = NONE;
        self.trackers[s].in_use = false;
        self.free_trackers.push(s as u32);
    }

    fn free_frag(&mut self, fr: u32) {
        let mut b = self.frags[fr as usize].first_block;
        while b != NONE {
            let next = self.block_next[b as usize];
            self.free_blocks.push(b);
            b = next;
        }
        self.frags[fr as usize].first_block = NONE;
        self.free_frags.push(fr);
    }

    fn available_blocks(&self) -> usize {
        self.free_blocks.len() + (self.block_next.len() - self.fresh_blocks as usize)
    }

    fn alloc_block(&mut self) -> Option<u32> {
        match self.free_blocks.pop() {
            Some(b) => Some(b),
            None if (self.fresh_blocks as usize) < self.block_next.len() => {
                self.fresh_blocks += 1;
                Some(self.fresh_blocks - 1)
            }
            None => None,
        }
    }

    /// A fragment record holding `bytes` (with `fix` applied), or None when the records or
    /// the blocks are spent. Expired trackers are released to make room.
    fn store(&mut self, bytes: &[u8], fix: Option<(usize, u8)>, now: Timestamp) -> Option<u32> {
        let need = bytes.len().div_ceil(BLOCK);
        let room = |t: &Table| {
            t.available_blocks() >= need
                && (!t.free_frags.is_empty() || t.frags.len() < t.frags.capacity())
        };
        if !room(self) {
            // reclaim expired trackers under the hand (the one being filled is not expired:
            // its timeout was just renewed)
            self.sweep(now, RECLAIM_STEP);
            if !room(self) {
                return None;
            }
        }
        let rec = Frag {
            offset: 0,
            data_len: 0,
            ltrim: 0,
            len: bytes.len() as u32,
            hlen: 0,
            more_frags: false,
            skip: false,
            ip_hdr_offset: 0,
            frag_hdr_offset: 0,
            first_block: NONE,
            next: NONE,
        };
        let fr = match self.free_frags.pop() {
            Some(fr) => {
                self.frags[fr as usize] = rec;
                fr
            }
            None => {
                self.frags.push(rec);
                (self.frags.len() - 1) as u32
            }
        };
        let mut last = NONE;
        for (i, chunk) in bytes.chunks(BLOCK).enumerate() {
            // room() checked there are enough blocks
            let b = self.alloc_block()?;
            self.block_next[b as usize] = NONE;
            let at = b as usize * BLOCK;
            let dst = &mut self.blocks[at..at + chunk.len()];
            dst.copy_from_slice(chunk);
            if let Some((pos, v)) = fix {
                if pos / BLOCK == i {
                    if let Some(x) = dst.get_mut(pos % BLOCK) {
                        *x = v;
                    }
                }
            }
            if last == NONE {
                self.frags[fr as usize].first_block = b;
            } else {
                self.block_next[last as usize] = b;
            }
            last = b;
        }
        Some(fr)
    }

    /// Copies `len` stored bytes of record `fr` from `from` into `out` at `at`; false when
    /// that would pass the end of `out` (Suricata's PacketCopyDataOffset failing).
    fn copy_out(&self, fr: u32, from: usize, len: usize, out: &mut [u8], at: usize) -> bool {
        let Some(dst) = at.checked_add(len).and_then(|end| out.get_mut(at..end)) else {
            return false;
        };
        let f = &self.frags[fr as usize];
        if from + len > f.len as usize {
            return false;
        }
        let mut b = f.first_block;
        let mut skip = from;
        while skip >= BLOCK && b != NONE {
            skip -= BLOCK;
            b = self.block_next[b as usize];
        }
        let mut done = 0;
        while done < len && b != NONE {
            let at = b as usize * BLOCK + skip;
            let n = (BLOCK - skip).min(len - done);
            dst[done..done + n].copy_from_slice(&self.blocks[at..at + n]);
            done += n;
            skip = 0;
            b = self.block_next[b as usize];
        }
        done == len
    }

    fn stored_byte(&self, fr: u32, pos: usize) -> Option<u8> {
        let mut b = self.frags[fr as usize].first_block;
        if pos >= self.frags[fr as usize].len as usize {
            return None;
        }
        let mut skip = pos;
        while skip >= BLOCK && b != NONE {
            skip -= BLOCK;
            b = self.block_next[b as usize];
        }
        (b != NONE).then(|| self.blocks[b as usize * BLOCK + skip])
    }

    /// Suricata's DefragInsertFrag.
    fn insert_frag<'o>(
        &mut self,
        tr: usize,
        f: &Fragment<'_>,
        out: &mut Outcome<'o>,
        slots: &mut std::slice::IterMut<'o, OutSlot>,
    ) {
        let data_len_full = f.data_len;
        if (!f.v6 && 20 + f.frag_offset + f.data_len > 65535)
            || (f.v6 && f.frag_offset + f.data_len > 65535)
        {
            out.too_large = true;
            return;
        }
        // both fit 16 bits now
        let frag_offset = f.frag_offset as u16;
        let data_len = f.data_len as u16;
        let frag_end = frag_offset + data_len;
        self.trackers[tr].timeout = f.ts.secs.saturating_add(i64::from(self.cfg.timeout));

        let policy = self.trackers[tr].policy;
        let mut ltrim: u16 = 0;
        let head = self.trackers[tr].head;
        let mut inserted_over: Option<u32> = None;
        let mut dropped = false;
        if head != NONE {
            // RB_NFIND(offset - 1): the first record past frag_offset - 1 (16-bit
            // arithmetic: nothing for offset 0), its predecessor first.
            let key = frag_offset.wrapping_sub(1);
            let mut before = NONE;
            let mut cur = head;
            while cur != NONE && self.frags[cur as usize].offset <= key {
                before = cur;
                cur = self.frags[cur as usize].next;
            }
            let mut prev = if cur == NONE || before == NONE {
                if cur == NONE {
                    head
                } else {
                    cur
                }
            } else {
                before
            };
            while prev != NONE {
                let next = self.frags[prev as usize].next;
                let p = self.frags[prev as usize];
                if p.skip {
                    prev = next;
                    continue;
                }
                let (po, pl, plt) = (
                    i32::from(p.offset),
                    i32::from(p.data_len),
                    i32::from(p.ltrim),
                );
                let (fo, fe, lt) = (
                    i32::from(frag_offset),
                    i32::from(frag_end),
                    i32::from(ltrim),
                );
                if fo < po + pl && po < fe {
                    out.overlap = true;
                }
                let next_off = (next != NONE).then(|| i32::from(self.frags[next as usize].offset));
                let set_next_ltrim = |t: &mut Table| {
                    if let Some(no) = next_off {
                        if fe > no {
                            t.frags[next as usize].ltrim = (fe - no) as u16;
                        }
                    }
                };
                enum Step {
                    Next,
                    Insert,
                    Done,
                }
                let step = match policy {
                    Policy::Bsd => {
                        if fo < po + pl {
                            if po <= fo {
                                let prev_end = (po + pl) as u16;
                                if prev_end > frag_end {
                                    Step::Done
                                } else {
                                    ltrim = prev_end.wrapping_sub(frag_offset);
                                    set_next_ltrim(self);
                                    Step::Insert
                                }
                            } else {
                                if fo <= po && fe > po + plt {
                                    let prev_ltrim = (fe - po) as u16;
                                    if prev_ltrim > p.ltrim {
                                        self.frags[prev as usize].ltrim = prev_ltrim;
                                    }
                                }
                                set_next_ltrim(self);
                                Step::Insert
                            }
                        } else {
                            Step::Next
                        }
                    }
                    Policy::Linux => {
                        let mut lt = lt;
                        if po + plt < fo + lt && po + pl > fo + lt {
                            lt += po + pl - fo;
                            ltrim = lt as u16;
                        }
                        let lt = i32::from(ltrim);
                        if fo + lt < po + plt && fe > po + plt {
                            self.frags[prev as usize].ltrim = (plt + (fe - (po + plt))) as u16;
                            Step::Insert
                        } else if fo + lt <= po + plt && fe >= po + pl {
                            self.frags[prev as usize].skip = true;
                            Step::Insert
                        } else {
                            Step::Next
                        }
                    }
                    Policy::Windows => {
                        if fo + lt >= po + lt && fe <= po + pl {
                            Step::Done
                        } else if fo + lt < po + lt && fe > po + pl {
                            self.frags[prev as usize].skip = true;
                            Step::Insert
                        } else if (fo + lt > po + plt && fo + lt < po + pl)
                            || (fo + lt == po + lt && fe > po + pl)
                        {
                            // overlaps the end of the previous one, or starts with it and
                            // ends after it: trimmed
                            ltrim = (lt + po + pl - fo) as u16;
                            Step::Insert
                        } else {
                            Step::Next
                        }
                    }
                    Policy::Solaris => {
                        if fo < po + pl {
                            if fo >= po {
                                ltrim = (po + pl - fo) as u16;
                            }
                            if fo < po && fe >= po + pl {
                                self.frags[prev as usize].skip = true;
                            }
                            Step::Insert
                        } else {
                            Step::Next
                        }
                    }
                    Policy::First => {
                        if fo >= po && fe <= po + pl {
                            Step::Done
                        } else if fo < po {
                            Step::Insert
                        } else if fo < po + pl {
                            ltrim = (po + pl - fo) as u16;
                            Step::Insert
                        } else {
                            Step::Next
                        }
                    }
                    Policy::Last => {
                        if fo <= po {
                            if fe > po {
                                self.frags[prev as usize].ltrim = (fe - po) as u16;
                            }
                            Step::Insert
                        } else {
                            Step::Next
                        }
                    }
                };
                match step {
                    Step::Next => prev = next,
                    Step::Done => {
                        dropped = true;
                        break;
                    }
                    Step::Insert => {
                        inserted_over = Some(prev);
                        break;
                    }
                }
            }
        }
        if let Some(prev) = inserted_over {
            // a record trimmed away completely goes now
            let p = self.frags[prev as usize];
            if p.skip || p.ltrim >= p.data_len {
                self.unlink(tr, prev);
                self.free_frag(prev);
            }
        }
        if dropped || ltrim >= data_len {
            return;
        }

        // store: the whole packet for the offset-0 record, else the data after ltrim
        let whole = frag_offset == 0 && ltrim == 0;
        let bytes = if whole {
            f.packet
        } else {
            let from = f.data_offset + usize::from(ltrim);
            match f.packet.get(from..f.data_offset + data_len_full) {
                Some(b) => b,
                None => {
                    out.ignored = true;
                    return;
                }
            }
        };
        let fix = if whole { f.nh_fix } else { None };
        let Some(fr) = self.store(bytes, fix, f.ts) else {
            self.stats.memcap_drop += 1;
            out.ignored = true;
            return;
        };
        {
            let r = &mut self.frags[fr as usize];
            r.hlen = f.hlen as u8;
            r.offset = frag_offset + ltrim;
            r.data_len = data_len - ltrim;
            r.ip_hdr_offset = f.ip_hdr_offset as u16;
            r.frag_hdr_offset = f.frag_hdr_offset as u16;
            r.more_frags = f.more_frags;
        }
        self.link(tr, fr);
        if !f.more_frags {
            self.trackers[tr].seen_last = true;
        }
        if self.trackers[tr].seen_last {
            let r = if f.v6 {
                self.reassemble6(tr, f, slots)
            } else {
                self.reassemble4(tr, slots)
            };
            if let Some(r) = r {
                if f.v6 {
                    self.stats.ipv6_reassembled += 1;
                } else {
                    self.stats.ipv4_reassembled += 1;
                }
                out.reassembled = Some(r);
            }
        }
    }

    /// Inserts record `fr` after every record whose offset is not greater (Suricata's tree
    /// order: equal offsets keep their arrival order).
    fn link(&mut self, tr: usize, fr: u32) {
        let off = self.frags[fr as usize].offset;
        let mut before = NONE;
        let mut cur = self.trackers[tr].head;
        while cur != NONE && self.frags[cur as usize].offset <= off {
            before = cur;
            cur = self.frags[cur as usize].next;
        }
        self.frags[fr as usize].next = cur;
        if before == NONE {
            self.trackers[tr].head = fr;
        } else {
            self.frags[before as usize].next = fr;
        }
    }

    fn unlink(&mut self, tr: usize, fr: u32) {
        let next = self.frags[fr as usize].next;
        if self.trackers[tr].head == fr {
            self.trackers[tr].head = next;
            return;
        }
        let mut cur = self.trackers[tr].head;
        while cur != NONE {
            if self.frags[cur as usize].next == fr {
                self.frags[cur as usize].next = next;
                return;
            }
            cur = self.frags[cur as usize].next;
        }
    }

    fn records(&self, tr: usize) -> impl Iterator<Item = u32> + '_ {
        let mut cur = self.trackers[tr].head;
        std::iter::from_fn(move || {
            if cur == NONE {
                return None;
            }
            let r = cur;
            cur = self.frags[cur as usize].next;
            Some(r)
        })
    }

    /// Suricata's Defrag4Reassemble.
    fn reassemble4<'o>(
        &mut self,
        tr: usize,
        slots: &mut std::slice::IterMut<'o, OutSlot>,
    ) -> Option<Reassembled<'o>> {
        let first = self.trackers[tr].head;
        if first == NONE || self.frags[first as usize].offset != 0 {
            return None;
        }
        if self.frags[first as usize].len < 20 {
            self.release(tr);
            return None;
        }
        let mut len = 0usize;
        for fr in self.records(tr) {
            let f = &self.frags[fr as usize];
            if usize::from(f.offset) > len {
                return None; // a hole
            }
            len = len.max(usize::from(f.offset) + usize::from(f.data_len));
        }
        let Some(slot) = slots.next() else {
            self.release(tr);
            return None;
        };
        let mut fragmentable_offset = 0usize;
        let mut fragmentable_len: u16 = 0;
        let mut hlen = 0usize;
        let mut ip_hdr_offset = 0usize;
        let mut prev_offset: u16 = 0;
        let mut more_frags = true;
        let mut ok = true;
        for fr in self.records(tr) {
            let f = self.frags[fr as usize];
            if !more_frags && f.offset > prev_offset {
                break;
            }
            if f.skip || f.ltrim >= f.data_len {
                continue;
            }
            if f.offset == 0 {
                if !self.copy_out(fr, 0, f.len as usize, &mut slot[..], 0) {
                    ok = false;
                    break;
                }
                hlen = usize::from(f.hlen);
                ip_hdr_offset = usize::from(f.ip_hdr_offset);
                fragmentable_offset = ip_hdr_offset + hlen;
                fragmentable_len = f.data_len;
            } else {
                let pkt_end = fragmentable_offset + usize::from(f.offset) + usize::from(f.data_len);
                let lt = usize::from(f.ltrim);
                if pkt_end > MAX_PACKET
                    || !self.copy_out(
                        fr,
                        lt,
                        usize::from(f.data_len) - lt,
                        &mut slot[..],
                        fragmentable_offset + usize::from(f.offset) + lt,
                    )
                    || f.offset > u16::MAX - f.data_len
                {
                    ok = false;
                    break;
                }
                fragmentable_len = grow(fragmentable_len, f.offset, f.data_len);
            }
            more_frags = f.more_frags;
            prev_offset = f.offset;
        }
        let end = ip_hdr_offset + hlen + usize::from(fragmentable_len);
        self.release(tr);
        if !ok || end > MAX_PACKET || ip_hdr_offset + 20 > MAX_PACKET {
            return None;
        }
        // ip_len, ip_off and the checksum, as Suricata fixes them (raw 16-bit words added as
        // a little-endian host reads them)
        let h = ip_hdr_offset;
        let rd = |s: &[u8], at: usize| u16::from_le_bytes([s[at], s[at + 1]]);
        let old = rd(&slot[..], h + 2).wrapping_add(rd(&slot[..], h + 6));
        let new_len = (usize::from(fragmentable_len) + hlen) as u16;
        slot[h + 2..h + 4].copy_from_slice(&new_len.to_be_bytes());
        slot[h + 6..h + 8].copy_from_slice(&[0, 0]);
        let new = rd(&slot[..], h + 2).wrapping_add(rd(&slot[..], h + 6));
        let csum = fix_checksum(rd(&slot[..], h + 10), old, new);
        slot[h + 10..h + 12].copy_from_slice(&csum.to_le_bytes());
        let data: &'o [u8] = slot;
        Some(Reassembled {
            data: &data[..end],
            ip_offset: ip_hdr_offset,
            ip_len: hlen + usize::from(fragmentable_len),
        })
    }

    /// Suricata's Defrag6Reassemble (`f`: the fragment that completed the set).
    fn reassemble6<'o>(
        &mut self,
        tr: usize,
        f: &Fragment<'_>,
        slots: &mut std::slice::IterMut<'o, OutSlot>,
    ) -> Option<Reassembled<'o>> {
        let first = self.trackers[tr].head;
        if first == NONE || self.frags[first as usize].offset != 0 {
            return None;
        }
        if self.frags[first as usize].len < 40 {
            self.release(tr);
            return None;
        }
        let mut len = 0usize;
        for fr in self.records(tr) {
            let r = &self.frags[fr as usize];
            if r.skip {
                continue;
            }
            if fr == first {
                len = usize::from(r.data_len);
            } else if usize::from(r.offset) > len {
                return None;
            } else {
                len = len.max(usize::from(r.offset) + usize::from(r.data_len));
            }
        }
        let Some(slot) = slots.next() else {
            self.release(tr);
            return None;
        };
        // Suricata starts the packet as a copy of the completing fragment's IPv6 packet
        let ip = f.packet.get(f.ip_hdr_offset..).unwrap_or(&[]);
        let n = ip.len().min(MAX_PACKET);
        slot[..n].copy_from_slice(&ip[..n]);
        let mut unfragmentable_len = 0usize;
        let mut fragmentable_offset = 0usize;
        let mut fragmentable_len: u16 = 0;
        let mut ip_hdr_offset = 0usize;
        let mut next_hdr = 0u8;
        let mut prev_offset: u16 = 0;
        let mut more_frags = true;
        let mut ok = true;
        for fr in self.records(tr) {
            let r = self.frags[fr as usize];
            if !more_frags && r.offset > prev_offset {
                break;
            }
            if r.skip || r.ltrim >= r.data_len {
                continue;
            }
            if r.offset == 0 {
                let fho = usize::from(r.frag_hdr_offset);
                next_hdr = self.stored_byte(fr, fho).unwrap_or(0);
                if !self.copy_out(fr, 0, fho, &mut slot[..], 0)
                    || !self.copy_out(fr, fho + 8, usize::from(r.data_len), &mut slot[..], fho)
                {
                    ok = false;
                    break;
                }
                ip_hdr_offset = usize::from(r.ip_hdr_offset);
                fragmentable_offset = fho;
                fragmentable_len = r.data_len;
                let Some(u) = fragmentable_offset.checked_sub(ip_hdr_offset + 40) else {
                    ok = false;
                    break;
                };
                unfragmentable_len = u;
                if unfragmentable_len >= fragmentable_offset {
                    ok = false;
                    break;
                }
            } else {
                let lt = usize::from(r.ltrim);
                if !self.copy_out(
                    fr,
                    lt,
                    usize::from(r.data_len) - lt,
                    &mut slot[..],
                    fragmentable_offset + usize::from(r.offset) + lt,
                ) {
                    ok = false;
                    break;
                }
                fragmentable_len = grow(fragmentable_len, r.offset, r.data_len);
            }
            more_frags = r.more_frags;
            prev_offset = r.offset;
        }
        self.release(tr);
        let end = ip_hdr_offset + 40 + unfragmentable_len + usize::from(fragmentable_len);
        if !ok || end > MAX_PACKET {
            return None;
        }
        let h = ip_hdr_offset;
        let plen = (usize::from(fragmentable_len) + unfragmentable_len) as u16;
        slot[h + 4..h + 6].copy_from_slice(&plen.to_be_bytes());
        if unfragmentable_len == 0 {
            slot[h + 6] = next_hdr;
        }
        let data: &'o [u8] = slot;
        Some(Reassembled {
            data: &data[..end],
            ip_offset: ip_hdr_offset,
            ip_len: 40 + usize::from(plen),
        })
    }
}

/// Suricata's FixChecksum: the incremental update of a checksum for one changed word.
fn fix_checksum(sum: u16, old: u16, new: u16) -> u16 {
    let s = u32::from(sum)
        .wrapping_add(u32::from(old))
        .wrapping_sub(u32::from(new));
    let s = (s & 0xffff).wrapping_add(s >> 16);
    (s & 0xffff) as u16
}

/// `if (offset + data_len > len) len = offset + data_len;` with Suricata's 16-bit `len`.
fn grow(len: u16, offset: u16, data_len: u16) -> u16 {
    let end = u32::from(offset) + u32::from(data_len);
    if end > u32::from(len) {
        end as u16
    } else {
        len
    }
}
