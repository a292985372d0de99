//! Candidate selection: which signatures a packet can possibly match.
//!
//! Signatures are grouped as Suricata groups them (its SGHs): by protocol bucket, flow
//! direction and the packet's port on one side (the destination port for packets to the
//! server and packets without a flow, the source port, the server's, for packets to the
//! client). A signature with a port set on that side is in the groups of the intervals
//! its set covers; one with `any` there is in every group of the bucket and direction.
//! So a packet looks up exactly one group (binary search over port intervals) and
//! searches each of its buffers once with that group's matchers. The other side's ports
//! are left to verification.
//!
//! A group has two sets of matchers: one for the packet payload and one for the
//! reassembled stream, so that neither buffer is searched for patterns whose signatures
//! would not look at it. A fast pattern is always a necessary condition of its signature
//! (a positive content, or an explicit `fast_pattern`), so verification of the candidates
//! gives exactly the result of checking every signature.
//!
//! Every distinct fast pattern is stored once (`Pattern`); groups refer to patterns by
//! index. Buffers are lowercased once per packet (`Hay`) for all matchers: Teddy and
//! the bit tables search the folded bytes, and a case-sensitive pattern is compared with
//! the bytes as captured.
//!
//! IP-only signatures are indexed by address (`AddrIndex`): sorted address intervals, each
//! with the signatures covering it — the flattened form of a prefix trie.

use std::sync::Arc;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};

use crate::rules::ast::{AddrSet, PortSet};

/// Which flow direction a signature is restricted to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DirClass {
    Both = 0,
    ToServer = 1,
    ToClient = 2,
}

/// What the prefilter needs to know about one signature.
#[derive(Debug, Clone)]
pub struct PrefilterSig {
    pub sig: u32,
    pub bucket: usize,
    pub dir: DirClass,
    /// The source and destination port sets; None for `any` (and for both sides of a
    /// bidirectional signature).
    pub sp: Option<PortSet>,
    pub dp: Option<PortSet>,
    /// The fast pattern (already chopped) and whether it is case-insensitive.
    pub fast_pattern: Option<(Vec<u8>, bool)>,
    /// In a buffer the signature inspects (the packet payload, or a piece of stream data)
    /// the fast pattern ends at or before this offset (a content with offset and depth);
    /// None when it can be anywhere.
    pub fp_end: Option<u32>,
    /// The one offset the fast pattern can be at in such a buffer, if it has one.
    pub fp_at: Option<u32>,
    /// The longest packet payload the signature can match (dsize); None for any.
    pub payload_max: Option<u32>,
    /// Where the signature's payload keywords look when the packet's data is part of a
    /// TCP stream: the reassembled stream (Suricata's SIG_FLAG_REQUIRE_STREAM), the
    /// packet (not a stream signature, or SIG_FLAG_REQUIRE_PACKET), or both.
    pub in_stream: bool,
    pub in_packet: bool,
}

/// Protocol buckets: tcp, udp, icmpv4, icmpv6, other.
pub const BUCKETS: usize = 5;

pub fn bucket_of(proto: u8) -> usize {
    match proto {
        6 => 0,
        17 => 1,
        1 => 2,
        58 => 3,
        _ => 4,
    }
}

/// A distinct fast pattern: lowercased when `nocase`.
struct Pattern {
    bytes: Box<[u8]>,
    nocase: bool,
}

/// A buffer to search, as captured and ASCII-lowercased (the same length).
#[derive(Clone, Copy)]
struct Hay<'a> {
    orig: &'a [u8],
    folded: &'a [u8],
}

impl Hay<'_> {
    /// Pattern `p` occurs at `at`.
    #[inline]
    fn has_at(&self, at: usize, p: &Pattern) -> bool {
        let buf = if p.nocase { self.folded } else { self.orig };
        buf.get(at..at + p.bytes.len()) == Some(&p.bytes[..])
    }
}

/// ASCII lowercase, branch-free (so that a loop over a buffer vectorises).
#[inline(always)]
fn fold(c: u8) -> u8 {
    c | (((c.wrapping_sub(b'A') < 26) as u8) << 5)
}

/// A pattern's place in a group: the pattern and its signatures (`Matchers::sigs[start..end]`).
#[derive(Clone, Copy)]
struct Slot {
    pat: u32,
    start: u32,
    end: u32,
}

/// A pattern searched on its own (SIMD memmem), stopping at the first hit.
struct Single {
    slot: u32,
    nocase: bool,
    /// Over the pattern (lowercased when `nocase`): searches the folded haystack when
    /// `nocase`, else the original.
    finder: memchr::memmem::Finder<'static>,
}

impl Single {
    fn new(slot: u32, p: &Pattern) -> Single {
        Single {
            slot,
            nocase: p.nocase,
            finder: memchr::memmem::Finder::new(&p.bytes[..]).into_owned(),
        }
    }
}

/// The positions where some pattern of a group may start, from one Teddy pass
/// (aho-corasick's packed SIMD searcher) over the folded haystack for the lowercased
/// patterns. At a position found, the slots whose pattern starts with the two bytes there
/// are compared in place.
struct Bigram {
    teddy: aho_corasick::packed::Searcher,
    /// (first two bytes, first index into `order`, end), sorted.
    heads: Vec<(u32, u32, u32)>,
    /// Slot indexes grouped by pair.
    order: Vec<u32>,
}

/// `keyed`, sorted so that equal keys are neighbours, as runs: each key once with its
/// range of the returned values, (key, first, end), and the values in order.
fn runs_by_key<T>(
    keyed: impl ExactSizeIterator<Item = (u32, T)>,
) -> (Vec<(u32, u32, u32)>, Vec<T>) {
    let mut heads: Vec<(u32, u32, u32)> = Vec::new();
    let mut order = Vec::with_capacity(keyed.len());
    for (k, v) in keyed {
        let pos = order.len() as u32;
        order.push(v);
        match heads.last_mut() {
            Some(h) if h.0 == k => h.2 = pos + 1,
            _ => heads.push((k, pos, pos + 1)),
        }
    }
    (heads, order)
}

/// Four bytes at `at` as a little-endian u32 (0 past the end).
#[inline]
fn quad(b: &[u8], at: usize) -> u32 {
    match b.get(at..at + 4) {
        Some(w) => u32::from_le_bytes([w[0], w[1], w[2], w[3]]),
        None => 0,
    }
}

/// The bit of a four-byte key in a table of `1 << (32 - shift)` bits.
#[inline(always)]
fn quad_hash(k: u32, shift: u32) -> usize {
    (k.wrapping_mul(0x9E37_79B1) >> shift) as usize
}

/// The `shift` of a table for `keys` keys: 64 bits a key (so about 1.5% of them set, and
/// as few positions hit by chance), from 4,096 bits (512 bytes) to 65,536 (8 KiB). Sized
/// to its keys, a group's table stays small, in cache and out of the RSS budget: ET Open
/// has some 200 distinct tables, most over a few dozen patterns. (256 bits a key took as
/// many instructions on the ET Open replay of mixed-1m's first 100,000 packets; 65,536
/// bits for every table took 4 MB more RSS.)
fn table_shift(keys: usize) -> u32 {
    let bits = (keys.max(1) * 64)
        .next_power_of_two()
        .clamp(1 << 12, 1 << 16);
    32 - bits.trailing_zeros()
}

/// The bits of `quad_hash` over the keys, and for each set bit the heads with that hash,
/// found by the bit's rank (a popcount) rather than by a search.
struct QuadTable {
    shift: u32,
    bits: Box<[u64]>,
    /// Set bits in the words before each word (at most 65,472: the table has no more
    /// than 65,536 bits).
    base: Box<[u16]>,
    /// The heads of the set bit of rank r are `heads[first[r]..first[r + 1]]`.
    first: Vec<u32>,
}

impl QuadTable {
    /// `hashes`: the hash (`quad_hash` with `shift`) of each head, ascending.
    fn build(shift: u32, hashes: &[usize]) -> QuadTable {
        let words = (1usize << (32 - shift)) / 64;
        let mut t = QuadTable {
            shift,
            bits: vec![0; words].into_boxed_slice(),
            base: vec![0; words].into_boxed_slice(),
            first: Vec::new(),
        };
        for (i, &h) in hashes.iter().enumerate() {
            if t.bits[h >> 6] & (1u64 << (h & 63)) == 0 {
                t.bits[h >> 6] |= 1u64 << (h & 63);
                t.first.push(i as u32);
            }
        }
        t.first.push(hashes.len() as u32);
        let mut n = 0u32;
        for (b, w) in t.base.iter_mut().zip(&t.bits) {
            *b = n as u16;
            n += w.count_ones();
        }
        t
    }

    fn memory_usage(&self) -> usize {
        self.bits.len() * 10 + self.first.capacity() * 4
    }

    #[inline(always)]
    fn hash(&self, k: u32) -> usize {
        quad_hash(k, self.shift)
    }

    #[inline(always)]
    fn hit(&self, h: usize) -> bool {
        self.bits[h >> 6] & (1u64 << (h & 63)) != 0
    }

    /// The heads with hash `h` (a set bit).
    #[inline]
    fn heads(&self, h: usize) -> std::ops::Range<usize> {
        let below = self.bits[h >> 6] & ((1u64 << (h & 63)) - 1);
        let r = self.base[h >> 6] as usize + below.count_ones() as usize;
        self.first[r] as usize..self.first[r + 1] as usize
    }
}

impl Bigram {
    /// Over `idx` (slot indexes whose patterns have ≥ 2 bytes); None when Teddy cannot be
    /// built.
    fn build(idx: &[u32], slots: &[Slot], patterns: &[Pattern]) -> Option<Bigram> {
        let pat = |i: u32| &patterns[slots[i as usize].pat as usize].bytes;
        let teddy = teddy_for(idx.iter().map(|&i| &pat(i)[..]))?;
        let mut keyed: Vec<(u32, u32)> = idx
            .iter()
            .map(|&i| {
                let b = pat(i);
                let k = ((fold(b[0]) as u32) << 8) | fold(b[1]) as u32;
                (k, i)
            })
            .collect();
        keyed.sort_unstable();
        let (heads, order) = runs_by_key(keyed.into_iter());
        Some(Bigram {
            teddy,
            heads,
            order,
        })
    }
}

/// Patterns found by testing one position in `stride` (Wu and Manber's sampling, over
/// four-byte keys): a pattern of at least `stride + 3` bytes has a key at each of its
/// offsets `0..stride`, so every occurrence puts one of them at a multiple of `stride`.
/// The table holds the hashes of all those keys, and rejects almost every position with
/// one bit test; at a tested position whose key is in it, each pattern with that key at
/// offset `j` is compared `j` bytes back. With stride 1 it is the plain bit table of the
/// patterns' first four bytes, tested at every position.
struct Sampled {
    stride: usize,
    bits: Box<QuadTable>,
    /// (key, first index into `order`, end), sorted by the key's hash, then the key.
    heads: Vec<(u32, u32, u32)>,
    /// (slot, offset of the key in its pattern), grouped by key.
    order: Vec<(u32, u32)>,
}

impl Sampled {
    /// Over `idx` (slot indexes whose patterns have at least `stride + 3` bytes).
    fn build(idx: &[u32], slots: &[Slot], patterns: &[Pattern], stride: usize) -> Sampled {
        let mut keyed: Vec<(usize, u32, u32, u32)> = Vec::new();
        let shift = table_shift(idx.len() * stride);
        for &i in idx {
            let b = patterns[slots[i as usize].pat as usize]
                .bytes
                .to_ascii_lowercase();
            for j in 0..stride {
                let k = quad(&b, j);
                keyed.push((quad_hash(k, shift), k, i, j as u32));
            }
        }
        keyed.sort_unstable();
        keyed.dedup();
        let (heads, order) = runs_by_key(keyed.into_iter().map(|(_, k, i, j)| (k, (i, j))));
        let hashes: Vec<usize> = heads.iter().map(|h| quad_hash(h.0, shift)).collect();
        Sampled {
            stride,
            bits: Box::new(QuadTable::build(shift, &hashes)),
            heads,
            order,
        }
    }

    /// How many patterns it holds.
    fn patterns(&self) -> usize {
        let mut slots: Vec<u32> = self.order.iter().map(|o| o.0).collect();
        slots.sort_unstable();
        slots.dedup();
        slots.len()
    }

    fn memory_usage(&self) -> usize {
        self.bits.memory_usage() + self.heads.capacity() * 12 + self.order.capacity() * 8
    }
}

/// Per-byte costs of a pass, relative to a bit-table test at every byte: Slim Teddy (up
/// to 32 patterns), Fat Teddy (up to 128), one memmem search. From the ET Open replay of
/// mixed-1m (x86_64, AVX2): the bit table took 0.1% of the run per MB searched, Teddy
/// 0.04% (Slim and Fat together). Slim at 0.25 or 0.5, or Fat at 0.45 or 0.8, moved the
/// replay by less than the noise; taking Teddy for as dear as the table (so that every
/// group with long patterns is sampled) made it 14% slower.
const COST_TABLE: f32 = 1.0;
const COST_SLIM: f32 = 0.35;
const COST_FAT: f32 = 0.6;
const COST_SINGLE: f32 = 0.1;
/// The longest sampling stride: a pattern puts `stride` keys into the table, so a longer
/// stride fills the table more and hits more often. On the ET Open replay of the first
/// 100,000 packets of mixed-1m, 8 took 1.2% fewer instructions than 4 or 16.
const STRIDE_MAX: usize = 8;

/// The cost per byte of searching `n` patterns of 4 bytes or more in one pass (`n` ≤
/// `BIGRAM_MAX`): memmem each, Teddy, or the bit table.
fn pass_cost(n: usize) -> f32 {
    match n {
        0 => 0.0,
        1..=SINGLES_MAX => n as f32 * COST_SINGLE,
        _ if n <= 32 => COST_SLIM,
        _ if n <= TEDDY_MAX_NEEDLES => COST_FAT,
        _ => COST_TABLE,
    }
}

/// The shortest length `l` of the patterns a `Sampled` table takes (stride `l - 3`; the
/// shorter ones get a pass of their own), or None when one pass over all `lens` (≥ 4 each)
/// costs less.
fn sampling_split(lens: &[usize]) -> Option<usize> {
    let mut best = (pass_cost(lens.len()), None);
    for l in 5..=STRIDE_MAX + 3 {
        let short = lens.iter().filter(|&&n| n < l).count();
        if short == lens.len() {
            break;
        }
        let cost = pass_cost(short) + COST_TABLE / (l - 3) as f32;
        if cost < best.0 {
            best = (cost, Some(l));
        }
    }
    best.1
}

/// Most needles a Teddy searcher gets (the most aho-corasick's packed searcher takes);
/// bigger groups use the bit table. On ET Open's to-client stream groups (92–152 patterns)
/// one Fat Teddy pass up to 128 patterns, and the bit table above, took 11–16% less CPU
/// for the whole mixed-1m replay than Teddy passes of at most 64 patterns (two or three
/// per group: fewer patterns per bucket, but every byte read again); the bit table from
/// 100 patterns up took 13% more.
const TEDDY_MAX_NEEDLES: usize = 128;

/// Groups with more distinct patterns than this use Aho-Corasick instead of `Bigram`: the
/// 8 KiB bit table stays in L1 where a DFA over ET Open's ~700 any-port TCP patterns does
/// not (ET Open replay of mixed-1m: about 13% less CPU than with Aho-Corasick above 512).
const BIGRAM_MAX: usize = 4096;

/// Groups with at most this many distinct patterns search them one by one.
const SINGLES_MAX: usize = 2;
/// Patterns this short go to single searches even in big groups: in Teddy or the bit
/// table they would report a candidate at nearly every byte.
const SHORT_PATTERN: usize = 3;

/// Most port groups per protocol bucket and direction (Suricata's detect profile "medium"
/// keeps 25 to-server groups): the intervals beyond share one group, which bounds the
/// memory a ruleset with many distinct port sets takes.
const MAX_PORT_GROUPS: usize = 24;
/// Ports that get a group of their own first (Suricata's `detect.grouping` defaults).
const TCP_WHITELIST: &[u16] = &[53, 80, 139, 443, 445, 1433, 3306, 3389, 6666, 6667, 8080];
const UDP_WHITELIST: &[u16] = &[53, 135, 5060];

/// The starts of the elementary intervals that the inclusive ranges `(lo, hi)` (within
/// `0..=max`) cut `0..=max` into: 0, every `lo` and every `hi + 1` up to `max`, ascending.
fn interval_starts(ranges: impl Iterator<Item = (u64, u64)>, max: u64) -> Vec<u64> {
    let mut b: Vec<u64> = std::iter::once(0)
        .chain(ranges.flat_map(|(lo, hi)| [lo, hi + 1]))
        .filter(|&x| x <= max)
        .collect();
    b.sort_unstable();
    b.dedup();
    b
}

/// The keyed list of the interval containing `port`.
fn lists_of<'a>(bounds: &[u64], lists: &'a [Vec<u32>], port: u16) -> Option<&'a Vec<u32>> {
    let i = bounds.partition_point(|&s| s <= port as u64);
    i.checked_sub(1).map(|i| &lists[i])
}

/// Bytes of folded buffers the prefilter holds from the start (a 64 KiB packet and its
/// stream chunks), so that steady state never grows it.
const FOLD_CAPACITY: usize = 128 << 10;

/// A Teddy searcher over the lowercased `needles` (each ≥ 2 bytes); None when there are
/// more than `TEDDY_MAX_NEEDLES` or the CPU has no Teddy (it needs SSSE3/AVX2 on x86_64
/// or NEON on aarch64).
fn teddy_for<'a>(
    needles: impl Iterator<Item = &'a [u8]>,
) -> Option<aho_corasick::packed::Searcher> {
    let needles: std::collections::BTreeSet<Vec<u8>> =
        needles.map(|p| p.to_ascii_lowercase()).collect();
    if needles.len() > TEDDY_MAX_NEEDLES || needles.iter().any(|n| n.len() < 2) {
        return None;
    }
    let mut b = aho_corasick::packed::Config::new()
        .match_kind(aho_corasick::packed::MatchKind::LeftmostFirst)
        .heuristic_pattern_limits(false)
        .builder();
    for n in &needles {
        b.add(n);
    }
    b.build()
}

/// The candidates found for the packet being looked at: a signature is stamped with the
/// packet's `epoch` when it is pushed to `out`, so it is pushed once.
struct Found<'a> {
    stamp: &'a mut [u32],
    epoch: u32,
    out: &'a mut Vec<u32>,
}

impl Found<'_> {
    /// Signature `sig` is a candidate: pushed unless it already was.
    #[inline]
    fn take(&mut self, sig: u32) {
        if self.stamp[sig as usize] != self.epoch {
            self.stamp[sig as usize] = self.epoch;
            self.out.push(sig);
        }
    }

    /// Whether `sig` is a candidate already.
    #[inline]
    fn has(&self, sig: u32) -> bool {
        self.stamp[sig as usize] == self.epoch
    }
}

/// The matchers over one set of signatures' fast patterns.
struct Matchers {
    /// Signatures without a fast pattern, ascending.
    always: Vec<u32>,
    singles: Vec<Single>,
    bigram: Option<Bigram>,
    /// Bit tables: over the long patterns when sampling them costs less than one pass
    /// over them all, and over the others (every position) when Teddy cannot take them.
    tables: Vec<Sampled>,
    /// Teddy over the short patterns (2 or 3 bytes), when there are several.
    short: Option<Bigram>,
    /// Over the slots' patterns (case folded; verification checks case later).
    ac: Option<AhoCorasick>,
    /// For `ac`: its pattern index → slot.
    ac_slots: Vec<u32>,
    slots: Vec<Slot>,
    /// Signatures of each slot (ascending within a slot).
    sigs: Vec<u32>,
}

impl Matchers {
    /// `members`: (signature, pattern index or None), sorted.
    fn build(members: &[(u32, Option<u32>)], patterns: &[Pattern]) -> Matchers {
        let mut always = Vec::new();
        let mut by_pat: std::collections::BTreeMap<u32, Vec<u32>> = Default::default();
        for &(sig, p) in members {
            match p {
                Some(p) => by_pat.entry(p).or_default().push(sig),
                None => always.push(sig),
            }
        }
        let mut slots = Vec::with_capacity(by_pat.len());
        let mut sigs = Vec::new();
        for (p, s) in by_pat {
            let start = sigs.len() as u32;
            sigs.extend(s);
            slots.push(Slot {
                pat: p,
                start,
                end: sigs.len() as u32,
            });
        }
        let few = slots.len() <= SINGLES_MAX;
        let pat = |s: &Slot| &patterns[s.pat as usize];
        let mut singles = Vec::new();
        let mut rest: Vec<u32> = Vec::new();
        for (i, s) in slots.iter().enumerate() {
            let p = pat(s);
            if few || p.bytes.len() <= SHORT_PATTERN {
                singles.push(Single::new(i as u32, p));
            } else {
                rest.push(i as u32);
            }
        }
        let (mut bigram, mut tables, mut ac, mut ac_slots) = (None, Vec::new(), None, Vec::new());
        if rest.len() > BIGRAM_MAX {
            let pats: Vec<&[u8]> = rest
                .iter()
                .map(|&i| &pat(&slots[i as usize]).bytes[..])
                .collect();
            ac = AhoCorasickBuilder::new()
                .match_kind(MatchKind::Standard)
                .ascii_case_insensitive(true)
                .kind(Some(AhoCorasickKind::ContiguousNFA))
                .build(&pats)
                .ok();
            if ac.is_some() {
                ac_slots = rest;
            } else {
                // could not build: every signature of these slots becomes an always-candidate
                for &i in &rest {
                    let s = slots[i as usize];
                    always.extend_from_slice(&sigs[s.start as usize..s.end as usize]);
                }
                always.sort_unstable();
                always.dedup();
            }
        } else if !rest.is_empty() {
            let len = |i: &u32| pat(&slots[*i as usize]).bytes.len();
            let lens: Vec<usize> = rest.iter().map(len).collect();
            if let Some(l) = sampling_split(&lens) {
                let (long, short): (Vec<u32>, Vec<u32>) = rest.iter().partition(|i| len(i) >= l);
                tables.push(Sampled::build(&long, &slots, patterns, l - 3));
                rest = short;
            }
            if rest.len() <= SINGLES_MAX {
                singles.extend(
                    rest.iter()
                        .map(|&i| Single::new(i, pat(&slots[i as usize]))),
                );
            } else {
                bigram = Bigram::build(&rest, &slots, patterns);
                if bigram.is_none() {
                    // no Teddy here (or too many patterns): the bit table at every position
                    tables.push(Sampled::build(&rest, &slots, patterns, 1));
                }
            }
        }
        // the short patterns in one Teddy pass of their own rather than one search each
        let shorts: Vec<u32> = singles
            .iter()
            .map(|s| s.slot)
            .filter(|&i| !few && (2..=SHORT_PATTERN).contains(&pat(&slots[i as usize]).bytes.len()))
            .collect();
        let mut short = None;
        if shorts.len() >= 2 {
            short = Bigram::build(&shorts, &slots, patterns);
            if short.is_some() {
                singles.retain(|s| !shorts.contains(&s.slot));
            }
        }
        Matchers {
            always,
            singles,
            bigram,
            tables,
            short,
            ac,
            ac_slots,
            slots,
            sigs,
        }
    }

    fn is_empty(&self) -> bool {
        self.always.is_empty() && self.slots.is_empty()
    }

    /// Stamp and push the not yet stamped signatures of slot `i`.
    #[inline]
    fn take_slot(&self, i: u32, found: &mut Found<'_>) {
        let s = self.slots[i as usize];
        for &sig in &self.sigs[s.start as usize..s.end as usize] {
            found.take(sig);
        }
    }

    /// Every slot with a signature not stamped yet.
    #[inline]
    fn slot_open(&self, i: u32, found: &Found<'_>) -> bool {
        let s = self.slots[i as usize];
        self.sigs[s.start as usize..s.end as usize]
            .iter()
            .any(|&sig| !found.has(sig))
    }

    /// Every signature whose fast pattern is in `hay` (and every one without a fast
    /// pattern) that is not stamped yet: stamped and pushed to `out`.
    fn visit(&self, hay: Hay<'_>, patterns: &[Pattern], found: &mut Found<'_>) {
        for &s in &self.always {
            found.take(s);
        }
        if hay.orig.is_empty() {
            return;
        }
        for single in &self.singles {
            if !self.slot_open(single.slot, found) {
                continue;
            }
            let buf = if single.nocase { hay.folded } else { hay.orig };
            if single.finder.find(buf).is_some() {
                self.take_slot(single.slot, found);
            }
        }
        if let Some(b) = &self.bigram {
            self.scan(b, hay, patterns, found);
        }
        for t in &self.tables {
            self.scan_sampled(t, hay, patterns, found);
        }
        if let Some(b) = &self.short {
            self.scan(b, hay, patterns, found);
        }
        if let Some(ac) = &self.ac {
            for m in ac.find_overlapping_iter(hay.orig) {
                let i = self.ac_slots[m.pattern().as_usize()];
                let p = &patterns[self.slots[i as usize].pat as usize];
                if hay.has_at(m.start(), p) {
                    self.take_slot(i, found);
                }
            }
        }
    }

    /// Every position where some pattern occurs, in order: leftmost search from just
    /// after the previous hit, then all patterns sharing the pair there are compared (a
    /// leftmost match hides others starting at the same place).
    fn scan(&self, b: &Bigram, hay: Hay<'_>, patterns: &[Pattern], found: &mut Found<'_>) {
        let f = hay.folded;
        let mut at = 0;
        while at + 1 < f.len() {
            let Some(m) = b.teddy.find_in(f, aho_corasick::Span::from(at..f.len())) else {
                break;
            };
            let p = m.start();
            let k = ((f[p] as u32) << 8) | f.get(p + 1).copied().unwrap_or(0) as u32;
            if let Ok(h) = b.heads.binary_search_by_key(&k, |h| h.0) {
                let (_, lo, hi) = b.heads[h];
                for &i in &b.order[lo as usize..hi as usize] {
                    if self.slot_open(i, found)
                        && hay.has_at(p, &patterns[self.slots[i as usize].pat as usize])
                    {
                        self.take_slot(i, found);
                    }
                }
            }
            at = p + 1;
        }
    }

    fn scan_sampled(&self, t: &Sampled, hay: Hay<'_>, patterns: &[Pattern], found: &mut Found<'_>) {
        let f = hay.folded;
        let mut at = 0;
        while let Some(w) = f.get(at..at + 4) {
            let k = u32::from_le_bytes([w[0], w[1], w[2], w[3]]);
            let h = t.bits.hash(k);
            if t.bits.hit(h) {
                self.verify_sampled(t, t.bits.heads(h), hay, at, k, patterns, found);
            }
            at += t.stride;
        }
    }

    /// The key `k` at `at` is in `t`'s table: compare the patterns with that key (at
    /// their offset of it) among `heads`.
    #[inline(never)]
    #[allow(clippy::too_many_arguments)]
    fn verify_sampled(
        &self,
        t: &Sampled,
        heads: std::ops::Range<usize>,
        hay: Hay<'_>,
        at: usize,
        k: u32,
        patterns: &[Pattern],
        found: &mut Found<'_>,
    ) {
        for &(key, lo, hi) in &t.heads[heads] {
            if key != k {
                continue;
            }
            for &(i, j) in &t.order[lo as usize..hi as usize] {
                let Some(start) = at.checked_sub(j as usize) else {
                    continue;
                };
                if self.slot_open(i, found)
                    && hay.has_at(start, &patterns[self.slots[i as usize].pat as usize])
                {
                    self.take_slot(i, found);
                }
            }
        }
    }

    fn describe(&self) -> String {
        // the patterns of the tables tested at every position, and of the sampled ones
        let (every, sampled): (Vec<&Sampled>, Vec<&Sampled>) =
            self.tables.iter().partition(|t| t.stride == 1);
        let count = |ts: &[&Sampled]| ts.iter().map(|t| t.patterns()).sum::<usize>();
        format!(
            "{} patterns ({} singles, {} short, {} teddy, {} bit table, {} sampled every {}, {} AC), {} always",
            self.slots.len(),
            self.singles.len(),
            self.short.as_ref().map_or(0, |b| b.order.len()),
            self.bigram.as_ref().map_or(0, |b| b.order.len()),
            count(&every),
            count(&sampled),
            sampled.first().map_or(0, |t| t.stride),
            self.ac_slots.len(),
            self.always.len()
        )
    }
}

/// A signature as a group member.
#[derive(Debug, Clone, Copy)]
struct Entry {
    sig: u32,
    /// Its fast pattern's index.
    pat: Option<u32>,
    in_stream: bool,
    in_packet: bool,
    /// In a buffer the fast pattern ends by this offset (`u32::MAX`: anywhere).
    end: u32,
    /// The one offset it can start at in a buffer, if any.
    at: Option<u32>,
    /// The longest packet payload the signature matches (`u32::MAX`: any).
    payload_max: u32,
}

/// Signatures whose fast pattern ends within this many bytes of a buffer go to a side's
/// `head` matchers, which search no further.
const HEAD_MAX: u32 = 256;

/// The signatures of one (protocol bucket, direction, port interval): the matchers for
/// the packet payload and those for the stream data.
struct Group {
    packet: Side,
    stream: Side,
}

impl Group {
    fn build(entries: &[Entry], patterns: &[Pattern], built: &mut Built) -> Group {
        Group {
            packet: Side::build(
                entries.iter().filter(|e| e.in_packet),
                patterns,
                true,
                built,
            ),
            stream: Side::build(
                entries.iter().filter(|e| e.in_stream),
                patterns,
                false,
                built,
            ),
        }
    }
}

/// Matchers and anchored sets already built, by their members: groups of neighbouring
/// ports, and the packet and stream sides of a group, often have the same ones (on ET
/// Open, some 2 MB of tables, Teddy masks and anchor lists that would otherwise be
/// repeated).
#[derive(Default)]
struct Built {
    matchers: std::collections::HashMap<Vec<(u32, Option<u32>)>, Arc<Matchers>>,
    anchored: std::collections::HashMap<Vec<(u32, u32, u32)>, Arc<Anchored>>,
}

impl Built {
    fn matchers(
        &mut self,
        mut members: Vec<(u32, Option<u32>)>,
        patterns: &[Pattern],
    ) -> Arc<Matchers> {
        members.sort_unstable();
        members.dedup();
        self.matchers
            .entry(members)
            .or_insert_with_key(|m| Arc::new(Matchers::build(m, patterns)))
            .clone()
    }

    fn anchored(&mut self, mut fixed: Vec<(u32, u32, u32)>, patterns: &[Pattern]) -> Arc<Anchored> {
        fixed.sort_unstable();
        fixed.dedup();
        self.anchored
            .entry(fixed)
            .or_insert_with_key(|f| Arc::new(Anchored::build(f, patterns)))
            .clone()
    }
}

/// The matchers over one kind of buffer (a packet's payload, or each piece of stream
/// data), split by where in the buffer a signature's fast pattern can be. Content
/// offset and depth count from the start of the buffer inspected, a stream piece as much
/// as a payload (Suricata 7.0 passes no stream offset to its content inspection), and
/// dsize bounds the payload. So: at one offset (`anchored`, compared there), within the
/// first `head_len` bytes (`head`, searched that far), or anywhere (`anywhere`).
struct Side {
    anywhere: Arc<Matchers>,
    head: Arc<Matchers>,
    head_len: usize,
    anchored: Arc<Anchored>,
}

impl Side {
    /// `packet`: the buffers are packet payloads, which dsize bounds.
    fn build<'a>(
        entries: impl Iterator<Item = &'a Entry>,
        patterns: &[Pattern],
        packet: bool,
        built: &mut Built,
    ) -> Side {
        let (mut anywhere, mut head, mut fixed) = (Vec::new(), Vec::new(), Vec::new());
        let mut head_len = 0;
        for e in entries {
            let end = if packet {
                e.end.min(e.payload_max)
            } else {
                e.end
            };
            match (e.pat, e.at) {
                (Some(pat), Some(at)) => fixed.push((at, pat, e.sig)),
                (Some(_), None) if end <= HEAD_MAX => {
                    head.push((e.sig, e.pat));
                    head_len = head_len.max(end as usize);
                }
                _ => anywhere.push((e.sig, e.pat)),
            }
        }
        Side {
            anywhere: built.matchers(anywhere, patterns),
            head: built.matchers(head, patterns),
            head_len,
            anchored: built.anchored(fixed, patterns),
        }
    }

    fn is_empty(&self) -> bool {
        self.anywhere.is_empty() && self.head.is_empty() && self.anchored.items.is_empty()
    }

    /// Every signature whose fast pattern is where it can be in `hay` (and every one
    /// without a fast pattern) that is not stamped yet: stamped and pushed to `out`.
    fn visit(&self, hay: Hay<'_>, patterns: &[Pattern], found: &mut Found<'_>) {
        self.anywhere.visit(hay, patterns, found);
        let n = hay.orig.len().min(self.head_len);
        let head = Hay {
            orig: &hay.orig[..n],
            folded: &hay.folded[..n],
        };
        self.head.visit(head, patterns, found);
        self.anchored.visit(hay, patterns, found);
    }

    fn describe(&self) -> String {
        format!(
            "{}; head ({} bytes): {}; anchored: {}",
            self.anywhere.describe(),
            self.head_len,
            self.head.describe(),
            self.anchored.items.len()
        )
    }
}

/// Fast patterns that can be at one payload offset only (`content:"..."; depth:<its
/// length>`, `startswith`): compared at that offset, with no search. Sorted by offset,
/// then by the pattern's first byte (folded), so a payload costs a bit test per distinct
/// offset, and a short binary search where a pattern starts with the byte there.
#[derive(Default)]
struct Anchored {
    /// (offset, first byte folded, pattern index, signature), sorted.
    items: Vec<(u32, u8, u32, u32)>,
    /// Per distinct offset, ascending: the offset, its range of `items`, and which first
    /// bytes its patterns have (a 256-bit set), so most offsets cost one bit test.
    offsets: Vec<AnchorOffset>,
}

struct AnchorOffset {
    at: u32,
    lo: u32,
    hi: u32,
    firsts: [u64; 4],
}

impl Anchored {
    /// `fixed`: (offset, pattern index, signature).
    fn build(fixed: &[(u32, u32, u32)], patterns: &[Pattern]) -> Anchored {
        let mut items: Vec<(u32, u8, u32, u32)> = fixed
            .iter()
            .map(|&(at, pat, sig)| (at, fold(patterns[pat as usize].bytes[0]), pat, sig))
            .collect();
        items.sort_unstable();
        items.dedup();
        let mut offsets: Vec<AnchorOffset> = Vec::new();
        for (i, it) in items.iter().enumerate() {
            let o = match offsets.last_mut() {
                Some(o) if o.at == it.0 => o,
                _ => {
                    offsets.push(AnchorOffset {
                        at: it.0,
                        lo: i as u32,
                        hi: i as u32,
                        firsts: [0; 4],
                    });
                    offsets.last_mut().expect("just pushed")
                }
            };
            o.hi = i as u32 + 1;
            o.firsts[usize::from(it.1 >> 6)] |= 1 << (it.1 & 63);
        }
        Anchored { items, offsets }
    }

    /// Every signature whose pattern is at its offset in `hay`, not stamped yet: stamped
    /// and pushed to `out`.
    fn visit(&self, hay: Hay<'_>, patterns: &[Pattern], found: &mut Found<'_>) {
        for o in &self.offsets {
            let Some(&c) = hay.folded.get(o.at as usize) else {
                break;
            };
            if o.firsts[usize::from(c >> 6)] & (1 << (c & 63)) == 0 {
                continue;
            }
            let (at, items) = (o.at, &self.items[o.lo as usize..o.hi as usize]);
            let from = items.partition_point(|it| it.1 < c);
            for &(_, first, pat, sig) in &items[from..] {
                if first != c {
                    break;
                }
                if !found.has(sig) && hay.has_at(at as usize, &patterns[pat as usize]) {
                    found.take(sig);
                }
            }
        }
    }
}

/// Sorted port intervals of one side, each with its group.
#[derive(Default)]
struct PortTable {
    /// Start of each elementary interval (ascending, first is 0).
    starts: Vec<u16>,
    /// For each interval: its group.
    group: Vec<u32>,
}

impl PortTable {
    /// The group of `port`, if any.
    fn lookup(&self, port: u16) -> Option<u32> {
        let i = self.starts.partition_point(|&s| s <= port);
        i.checked_sub(1).map(|i| self.group[i])
    }
}

/// Groups for packets of one bucket and one direction.
#[derive(Default)]
struct DirGroups {
    /// The group for packets without ports (and for every port when no signature of the
    /// bucket and direction names a port on the keyed side).
    portless: Option<u32>,
    /// The groups by the keyed side's port (empty when no signature names one).
    by_port: PortTable,
}

pub struct Prefilter {
    patterns: Vec<Pattern>,
    groups: Vec<Group>,
    /// [bucket][packet direction: none, to server, to client]
    table: Vec<[DirGroups; 3]>,
    /// Per-signature stamp of the last packet that made it a candidate.
    stamp: Vec<u32>,
    epoch: u32,
    /// The buffers of the packet being looked at, lowercased (reused, grown rarely).
    folded: Vec<u8>,
}

/// What the caller knows about the packet.
#[derive(Debug, Clone, Copy)]
pub struct PacketKey<'a> {
    pub proto: u8,
    /// None when the packet has no flow direction (no flow).
    pub to_server: Option<bool>,
    pub ports: Option<(u16, u16)>,
    pub payload: &'a [u8],
}

impl Prefilter {
    pub fn build(nsigs: usize, sigs: Vec<PrefilterSig>) -> Prefilter {
        // every distinct fast pattern once
        let mut patterns: Vec<Pattern> = Vec::new();
        let mut pat_ids: std::collections::HashMap<(Vec<u8>, bool), u32> = Default::default();
        let mut entries: Vec<(PrefilterSig, Entry)> = Vec::with_capacity(sigs.len());
        for s in sigs {
            let pid = match &s.fast_pattern {
                Some((p, nocase)) if !p.is_empty() => {
                    let key = if *nocase {
                        p.to_ascii_lowercase()
                    } else {
                        p.clone()
                    };
                    Some(*pat_ids.entry((key.clone(), *nocase)).or_insert_with(|| {
                        patterns.push(Pattern {
                            bytes: key.into_boxed_slice(),
                            nocase: *nocase,
                        });
                        (patterns.len() - 1) as u32
                    }))
                }
                _ => None,
            };
            let e = Entry {
                sig: s.sig,
                pat: pid,
                in_stream: s.in_stream,
                in_packet: s.in_packet,
                end: s.fp_end.unwrap_or(u32::MAX),
                at: s.fp_at,
                payload_max: s.payload_max.unwrap_or(u32::MAX),
            };
            entries.push((s, e));
        }
        let debug = std::env::var_os("RAVN_DEBUG_PREFILTER").is_some();
        let mut groups: Vec<Group> = Vec::new();
        let mut built = Built::default();
        let mut table: Vec<[DirGroups; 3]> = (0..BUCKETS).map(|_| Default::default()).collect();
        for (b, row) in table.iter_mut().enumerate() {
            for (pd, dg) in row.iter_mut().enumerate() {
                let classes: &[DirClass] = match pd {
                    1 => &[DirClass::Both, DirClass::ToServer],
                    2 => &[DirClass::Both, DirClass::ToClient],
                    _ => &[DirClass::Both],
                };
                // the keyed side: the server's port
                let keyed_src = pd == 2;
                let mut unkeyed: Vec<Entry> = Vec::new();
                let mut keyed: Vec<(&PortSet, Entry)> = Vec::new();
                for (s, e) in &entries {
                    if s.bucket != b || !classes.contains(&s.dir) {
                        continue;
                    }
                    let ps = if keyed_src { &s.sp } else { &s.dp };
                    match ps {
                        Some(ps) if b <= 1 => keyed.push((ps, *e)),
                        _ => unkeyed.push(*e),
                    }
                }
                if unkeyed.is_empty() && keyed.is_empty() {
                    continue;
                }
                let mut dedup: std::collections::HashMap<Vec<u32>, u32> = Default::default();
                let built = &mut built;
                let mut add_group = |members: Vec<Entry>, groups: &mut Vec<Group>| -> u32 {
                    let ids: Vec<u32> = members.iter().map(|e| e.sig).collect();
                    *dedup.entry(ids).or_insert_with(|| {
                        if debug {
                            eprintln!(
                                "prefilter: bucket {b} dir {pd} group {}: {} sigs",
                                groups.len(),
                                members.len()
                            );
                        }
                        groups.push(Group::build(&members, &patterns, built));
                        (groups.len() - 1) as u32
                    })
                };
                let portless = add_group(unkeyed.clone(), &mut groups);
                dg.portless = Some(portless);
                if keyed.is_empty() {
                    continue;
                }
                // elementary intervals of the keyed port sets
                let bounds = interval_starts(
                    keyed
                        .iter()
                        .flat_map(|(ps, _)| ps.ranges.iter())
                        .map(|&(lo, hi)| (lo as u64, hi as u64)),
                    u16::MAX as u64,
                );
                // each interval's keyed signatures (indexes into `keyed`)
                let lists: Vec<Vec<u32>> = bounds
                    .iter()
                    .map(|&x| {
                        (0..keyed.len() as u32)
                            .filter(|&i| keyed[i as usize].0.contains(x as u16))
                            .collect()
                    })
                    .collect();
                // Suricata's port grouping: the whitelisted ports' lists first, then the
                // lists with most signatures, get a group each, up to `MAX_PORT_GROUPS`;
                // the other intervals share one group with all their signatures
                let whitelist: &[u16] = if b == 0 { TCP_WHITELIST } else { UDP_WHITELIST };
                let mut ranked: Vec<(bool, usize, &Vec<u32>)> = Vec::new();
                for l in &lists {
                    if l.is_empty() {
                        continue;
                    }
                    let white = whitelist
                        .iter()
                        .any(|&w| lists_of(&bounds, &lists, w) == Some(l));
                    if !ranked.iter().any(|r| r.2 == l) {
                        ranked.push((white, l.len(), l));
                    }
                }
                ranked.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)));
                let own: Vec<&Vec<u32>> =
                    ranked.iter().take(MAX_PORT_GROUPS).map(|r| r.2).collect();
                let mut rest: Vec<u32> = ranked
                    .iter()
                    .skip(MAX_PORT_GROUPS)
                    .flat_map(|r| r.2.iter().copied())
                    .collect();
                rest.sort_unstable();
                rest.dedup();
                let mut starts = Vec::with_capacity(bounds.len());
                let mut group = Vec::with_capacity(bounds.len());
                // the group of each keyed list, built once however many intervals share it
                let mut group_of: std::collections::HashMap<&Vec<u32>, u32> = Default::default();
                for (&x, l) in bounds.iter().zip(&lists) {
                    let g = if l.is_empty() {
                        portless
                    } else {
                        let ids = if own.contains(&l) { l } else { &rest };
                        *group_of.entry(ids).or_insert_with(|| {
                            let mut members = unkeyed.clone();
                            members.extend(ids.iter().map(|&i| keyed[i as usize].1));
                            members.sort_unstable_by_key(|e| e.sig);
                            members.dedup_by_key(|e| e.sig);
                            add_group(members, &mut groups)
                        })
                    };
                    // merge neighbouring intervals of the same group
                    if group.last() != Some(&g) {
                        starts.push(x as u16);
                        group.push(g);
                    }
                }
                dg.by_port = PortTable { starts, group };
            }
        }
        if debug {
            for (i, g) in groups.iter().enumerate() {
                eprintln!("prefilter: group {i}: {}", Self::describe(g));
            }
            let mem = |m: &Matchers| -> usize {
                m.always.capacity() * 4
                    + m.slots.capacity() * 12
                    + m.sigs.capacity() * 4
                    + m.singles.iter().map(|_| 64).sum::<usize>()
                    + [&m.bigram, &m.short]
                        .iter()
                        .filter_map(|b| b.as_ref())
                        .map(|b| {
                            b.teddy.memory_usage()
                                + b.heads.capacity() * 12
                                + b.order.capacity() * 4
                        })
                        .sum::<usize>()
                    + m.ac.as_ref().map_or(0, |a| a.memory_usage())
                    + m.tables.iter().map(Sampled::memory_usage).sum::<usize>()
            };
            // each shared matcher and anchored set once
            let total: usize = built.matchers.values().map(|m| mem(m)).sum::<usize>()
                + built
                    .anchored
                    .values()
                    .map(|a| a.items.capacity() * 16 + a.offsets.capacity() * 44)
                    .sum::<usize>();
            let teddy: usize = built
                .matchers
                .values()
                .flat_map(|m| [&m.bigram, &m.short])
                .filter_map(|b| b.as_ref())
                .map(|b| b.teddy.memory_usage())
                .sum();
            eprintln!(
                "prefilter: {} groups, {} distinct matchers, about {} bytes ({} in Teddy)",
                groups.len(),
                built.matchers.len(),
                total,
                teddy
            );
        }
        Prefilter {
            patterns,
            groups,
            table,
            stamp: vec![0; nsigs],
            epoch: 0,
            folded: Vec::with_capacity(FOLD_CAPACITY),
        }
    }

    /// Whether any signature is a candidate for some packet of `bucket` (`bucket_of`):
    /// without one, a packet of that protocol has no candidates whatever its direction,
    /// ports and payload (Suricata: no signature group head for it).
    pub fn covers(&self, bucket: usize) -> bool {
        self.table.get(bucket).is_some_and(|row| {
            row.iter()
                .any(|dg| dg.portless.is_some() || !dg.by_port.starts.is_empty())
        })
    }

    /// Candidates for a packet whose payload is not part of a TCP stream: every signature
    /// whose fast pattern is in the payload (or that has none). Ascending.
    pub fn candidates(&mut self, k: &PacketKey<'_>, out: &mut Vec<u32>) {
        self.collect(k, None, out)
    }

    /// Candidates for a packet whose payload went into the TCP stream (or that has stream
    /// data ready): the stream signatures whose fast pattern is in one of `stream`, and
    /// the packet signatures whose fast pattern is in the packet's payload (Suricata's
    /// PrefilterPktStream and PrefilterPktPayload). Ascending.
    pub fn candidates_stream(&mut self, k: &PacketKey<'_>, stream: &[&[u8]], out: &mut Vec<u32>) {
        self.collect(k, Some(stream), out)
    }

    fn collect(&mut self, k: &PacketKey<'_>, stream: Option<&[&[u8]]>, out: &mut Vec<u32>) {
        out.clear();
        let b = bucket_of(k.proto);
        let pd = match k.to_server {
            Some(true) => 1,
            Some(false) => 2,
            None => 0,
        };
        let dg = &self.table[b][pd];
        let g = match k.ports {
            Some((sp, dp)) => dg
                .by_port
                .lookup(if pd == 2 { sp } else { dp })
                .or(dg.portless),
            None => dg.portless,
        };
        let Some(g) = g else { return };
        let g = &self.groups[g as usize];
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            self.stamp.iter_mut().for_each(|s| *s = 0);
            self.epoch = 1;
        }
        // fold every buffer once: the payload first, then the stream pieces
        let bufs = stream.unwrap_or(&[]);
        let scan_stream = !g.stream.is_empty();
        let total = k.payload.len()
            + if scan_stream {
                bufs.iter().map(|b| b.len()).sum::<usize>()
            } else {
                0
            };
        self.folded.clear();
        if self.folded.capacity() < total {
            self.folded.reserve(total);
        }
        self.folded.extend(k.payload.iter().map(|&c| fold(c)));
        if let (Some(bufs), true) = (stream, scan_stream) {
            for b in bufs {
                self.folded.extend(b.iter().map(|&c| fold(c)));
            }
        }
        let (fp, mut rest) = self.folded.split_at(k.payload.len());
        let payload = Hay {
            orig: k.payload,
            folded: fp,
        };
        let pats = &self.patterns;
        let mut found = Found {
            stamp: &mut self.stamp,
            epoch: self.epoch,
            out,
        };
        match stream {
            Some(bufs) if scan_stream => {
                // stream data ready but empty (nothing acknowledged past the progress):
                // still the signatures without a fast pattern
                if bufs.is_empty() {
                    let none = Hay {
                        orig: &[],
                        folded: &[],
                    };
                    g.stream.visit(none, pats, &mut found);
                }
                for b in bufs {
                    let (f, r) = rest.split_at(b.len());
                    rest = r;
                    let piece = Hay { orig: b, folded: f };
                    g.stream.visit(piece, pats, &mut found);
                }
            }
            Some(_) => {}
            None => g.stream.visit(payload, pats, &mut found),
        }
        g.packet.visit(payload, pats, &mut found);
        out.sort_unstable();
    }

    /// One line per group: its matchers (for `RAVN_DEBUG_PREFILTER`).
    fn describe(g: &Group) -> String {
        format!(
            "packet: {}; stream: {}",
            g.packet.describe(),
            g.stream.describe()
        )
    }

    pub fn group_count(&self) -> usize {
        self.groups.len()
    }
}

/// Signatures indexed by the addresses they require (IP-only signatures).
#[derive(Default)]
pub struct AddrIndex {
    v4_starts: Vec<u32>,
    v4_lists: Vec<u32>,
    v6_starts: Vec<u128>,
    v6_lists: Vec<u32>,
    lists: Vec<Vec<u32>>,
}

impl AddrIndex {
    pub fn build(entries: &[(&AddrSet, u32)]) -> AddrIndex {
        let mut idx = AddrIndex::default();
        let mut dedup: std::collections::HashMap<Vec<u32>, u32> = std::collections::HashMap::new();
        let mut list_id = |gs: Vec<u32>, lists: &mut Vec<Vec<u32>>| -> u32 {
            *dedup.entry(gs.clone()).or_insert_with(|| {
                lists.push(gs);
                (lists.len() - 1) as u32
            })
        };
        // v4
        let b4 = interval_starts(
            entries
                .iter()
                .flat_map(|(a, _)| a.v4.iter())
                .map(|&(lo, hi)| (lo as u64, hi as u64)),
            u32::MAX as u64,
        );
        // sweep: sort range events to build covering lists without O(n*m) scans
        let mut ev4: Vec<(u32, u32, u32)> = Vec::new(); // (lo, hi, sig)
        for (a, s) in entries {
            for &(lo, hi) in &a.v4 {
                ev4.push((lo, hi, *s));
            }
        }
        ev4.sort_unstable();
        let mut active: Vec<(u32, u32)> = Vec::new(); // (hi, sig)
        let mut next = 0usize;
        for &b in &b4 {
            let p = b as u32;
            while next < ev4.len() && ev4[next].0 <= p {
                active.push((ev4[next].1, ev4[next].2));
                next += 1;
            }
            active.retain(|&(hi, _)| hi >= p);
            let mut gs: Vec<u32> = active.iter().map(|&(_, s)| s).collect();
            gs.sort_unstable();
            gs.dedup();
            let id = list_id(gs, &mut idx.lists);
            idx.v4_starts.push(p);
            idx.v4_lists.push(id);
        }
        // v6
        let mut ev6: Vec<(u128, u128, u32)> = Vec::new();
        let mut b6: Vec<u128> = vec![0];
        for (a, s) in entries {
            for &(lo, hi) in &a.v6 {
                ev6.push((lo, hi, *s));
                b6.push(lo);
                if hi < u128::MAX {
                    b6.push(hi + 1);
                }
            }
        }
        b6.sort_unstable();
        b6.dedup();
        ev6.sort_unstable();
        let mut active6: Vec<(u128, u32)> = Vec::new();
        let mut next = 0usize;
        for &p in &b6 {
            while next < ev6.len() && ev6[next].0 <= p {
                active6.push((ev6[next].1, ev6[next].2));
                next += 1;
            }
            active6.retain(|&(hi, _)| hi >= p);
            let mut gs: Vec<u32> = active6.iter().map(|&(_, s)| s).collect();
            gs.sort_unstable();
            gs.dedup();
            let id = list_id(gs, &mut idx.lists);
            idx.v6_starts.push(p);
            idx.v6_lists.push(id);
        }
        idx
    }

    pub fn lookup(&self, ip: std::net::IpAddr) -> &[u32] {
        match ip {
            std::net::IpAddr::V4(a) => {
                let a = u32::from(a);
                let i = self.v4_starts.partition_point(|&s| s <= a);
                if i == 0 {
                    return &[];
                }
                &self.lists[self.v4_lists[i - 1] as usize]
            }
            std::net::IpAddr::V6(a) => {
                let a = u128::from(a);
                let i = self.v6_starts.partition_point(|&s| s <= a);
                if i == 0 {
                    return &[];
                }
                &self.lists[self.v6_lists[i - 1] as usize]
            }
        }
    }
}

/// Number of addresses a set covers (IPv4 and IPv6 weighted alike), for choosing the
/// narrower side of an IP-only signature.
pub fn addr_weight(a: &AddrSet) -> f64 {
    if a.any {
        return f64::INFINITY;
    }
    let v4: f64 = a.v4.iter().map(|&(l, h)| (h - l) as f64 + 1.0).sum();
    let v6: f64 =
        a.v6.iter()
            .map(|&(l, h)| ((h - l) as f64 + 1.0) / 2f64.powi(96))
            .sum();
    v4 + v6
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ps(r: &[(u16, u16)]) -> PortSet {
        PortSet {
            ranges: r.to_vec(),
            any: false,
        }
    }

    #[test]
    fn candidates_by_pattern_and_port() {
        let sigs = vec![
            PrefilterSig {
                sig: 0,
                bucket: 0,
                dir: DirClass::Both,
                sp: None,
                dp: Some(ps(&[(80, 80)])),
                fast_pattern: Some((b"GET".to_vec(), false)),
                fp_end: None,
                fp_at: None,
                payload_max: None,
                in_stream: true,
                in_packet: true,
            },
            PrefilterSig {
                sig: 1,
                bucket: 0,
                dir: DirClass::ToServer,
                sp: None,
                dp: None,
                fast_pattern: Some((b"evil".to_vec(), true)),
                fp_end: None,
                fp_at: None,
                payload_max: None,
                in_stream: true,
                in_packet: true,
            },
            PrefilterSig {
                sig: 2,
                bucket: 0,
                dir: DirClass::Both,
                sp: None,
                dp: None,
                fast_pattern: None,
                fp_end: None,
                fp_at: None,
                payload_max: None,
                in_stream: true,
                in_packet: true,
            },
            PrefilterSig {
                sig: 3,
                bucket: 1,
                dir: DirClass::Both,
                sp: None,
                dp: None,
                fast_pattern: None,
                fp_end: None,
                fp_at: None,
                payload_max: None,
                in_stream: true,
                in_packet: true,
            },
        ];
        let mut pf = Prefilter::build(4, sigs);
        let mut out = Vec::new();
        let key = |payload: &'static [u8], dp: u16, ts: Option<bool>| PacketKey {
            proto: 6,
            to_server: ts,
            ports: Some((1234, dp)),
            payload,
        };
        pf.candidates(&key(b"GET /EVIL", 80, Some(true)), &mut out);
        assert_eq!(out, vec![0, 1, 2]);
        // to the server the destination port is the key: sig 0 is not in port 81's group
        pf.candidates(&key(b"GET /EVIL", 81, Some(true)), &mut out);
        assert_eq!(out, vec![1, 2]);
        // to the client the source port is: sig 0's destination port is left to
        // verification, sig 1 is for the other direction
        pf.candidates(&key(b"GET /EVIL", 81, Some(false)), &mut out);
        assert_eq!(out, vec![0, 2]);
        pf.candidates(&key(b"get /EVIL", 80, Some(true)), &mut out);
        assert_eq!(out, vec![1, 2]);
        pf.candidates(&key(b"", 80, Some(true)), &mut out);
        assert_eq!(out, vec![2]);
    }

    /// Stream signatures are found in the stream data, packet signatures in the payload;
    /// without stream data both in the payload.
    #[test]
    fn stream_and_packet_buffers() {
        let sig = |sig: u32, pat: &[u8], in_stream: bool, in_packet: bool| PrefilterSig {
            sig,
            bucket: 0,
            dir: DirClass::Both,
            sp: None,
            dp: None,
            fast_pattern: Some((pat.to_vec(), false)),
            fp_end: None,
            fp_at: None,
            payload_max: None,
            in_stream,
            in_packet,
        };
        let mut pf = Prefilter::build(
            3,
            vec![
                sig(0, b"abcd", true, false),
                sig(1, b"wxyz", false, true),
                sig(2, b"both", true, true),
            ],
        );
        let key = |payload: &'static [u8]| PacketKey {
            proto: 6,
            to_server: Some(true),
            ports: Some((1234, 80)),
            payload,
        };
        let mut out = Vec::new();
        pf.candidates_stream(&key(b"wxyz"), &[b"..abcd..", b"both"], &mut out);
        assert_eq!(out, vec![0, 1, 2]);
        pf.candidates_stream(&key(b"abcd both"), &[b"wxyz"], &mut out);
        assert_eq!(out, vec![2]);
        pf.candidates_stream(&key(b"abcd"), &[], &mut out);
        assert_eq!(out, Vec::<u32>::new());
        pf.candidates(&key(b"abcd wxyz"), &mut out);
        assert_eq!(out, vec![0, 1]);
    }

    /// A xorshift generator: the random tests are the same on every run.
    fn xorshift(mut x: u64) -> impl FnMut() -> u64 {
        move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        }
    }

    /// `len` bytes drawn from `alphabet`.
    fn draw(next: &mut impl FnMut() -> u64, alphabet: &[u8], len: usize) -> Vec<u8> {
        (0..len)
            .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
            .collect()
    }

    /// A TCP signature of either direction and any ports with fast pattern `p`.
    fn any_port_sig(
        sig: u32,
        p: Vec<u8>,
        nocase: bool,
        window: (Option<u32>, Option<u32>),
        in_stream: bool,
    ) -> PrefilterSig {
        PrefilterSig {
            sig,
            bucket: 0,
            dir: DirClass::Both,
            sp: None,
            dp: None,
            fast_pattern: Some((p, nocase)),
            fp_at: window.0,
            fp_end: window.1,
            payload_max: None,
            in_stream,
            in_packet: true,
        }
    }

    /// The candidates for a TCP packet without a flow carrying `payload`.
    fn candidates_for(pf: &mut Prefilter, payload: &[u8], out: &mut Vec<u32>) {
        let payload: &'static [u8] = Box::leak(payload.to_vec().into_boxed_slice());
        let key = PacketKey {
            proto: 6,
            to_server: None,
            ports: Some((1, 2)),
            payload,
        };
        pf.candidates(&key, out);
    }

    /// Whether `p` is in `hay` at `at` (ignoring ASCII case when `nocase`).
    fn occurs_at(hay: &[u8], p: &[u8], nocase: bool, at: usize) -> bool {
        hay.get(at..at + p.len()).is_some_and(|w| {
            if nocase {
                w.eq_ignore_ascii_case(p)
            } else {
                w == p
            }
        })
    }

    /// The indexes of the patterns of `fps` (pattern, nocase) that occur in `hay`.
    fn occurring(fps: &[(Vec<u8>, bool)], hay: &[u8]) -> Vec<u32> {
        let occurs = |p: &[u8], nocase: bool| (0..hay.len()).any(|s| occurs_at(hay, p, nocase, s));
        (0..fps.len() as u32)
            .filter(|&i| occurs(&fps[i as usize].0, fps[i as usize].1))
            .collect()
    }

    /// Groups of every matcher kind (singles, Teddy passes, the bit-table loop, Aho-Corasick)
    /// name every signature whose pattern occurs (exactly those, but for Aho-Corasick, which
    /// folds case for all and leaves the case check to verification).
    #[test]
    fn every_matcher_kind_agrees_with_brute_force() {
        let mut next = xorshift(0x9e37_79b9_7f4a_7c15);
        let alphabet = b"aAbBcC\x00|";
        for count in [2usize, 5, 40, 150, 700, 9000] {
            let mut fps: Vec<(Vec<u8>, bool)> = Vec::new();
            let sigs: Vec<PrefilterSig> = (0..count as u32)
                .map(|i| {
                    let len = 2 + (next() % 6) as usize;
                    let p = draw(&mut next, alphabet, len);
                    let nocase = next() % 2 == 0;
                    fps.push((p.clone(), nocase));
                    any_port_sig(i, p, nocase, (None, None), true)
                })
                .collect();
            let mut pf = Prefilter::build(count, sigs);
            let mut out = Vec::new();
            for _ in 0..200 {
                let len = (next() % 64) as usize;
                let hay = draw(&mut next, alphabet, len);
                candidates_for(&mut pf, &hay, &mut out);
                let want = occurring(&fps, &hay);
                if count > BIGRAM_MAX {
                    // Aho-Corasick folds case for every pattern: a superset, verified later
                    assert!(
                        want.iter().all(|w| out.contains(w)),
                        "{count} patterns, payload {hay:?}"
                    );
                } else {
                    assert_eq!(out, want, "{count} patterns, payload {hay:?}");
                }
            }
        }
    }

    /// Groups of long patterns, which a `Sampled` table finds by testing every stride-th
    /// position only (with Teddy, singles or nothing for their shorter ones), name every
    /// signature whose pattern occurs, wherever it starts, and no other.
    #[test]
    fn sampled_patterns_agree_with_brute_force() {
        let mut next = xorshift(0x5851_f42d_4c95_7f2d);
        let alphabet = b"aAbBcC\x00|";
        for count in [3usize, 20, 60, 200, 1000] {
            let mut fps: Vec<(Vec<u8>, bool)> = Vec::new();
            let sigs: Vec<PrefilterSig> = (0..count as u32)
                .map(|i| {
                    // mostly long, as ET Open's are
                    let len = if next() % 8 == 0 {
                        4 + (next() % 4) as usize
                    } else {
                        8 + (next() % 16) as usize
                    };
                    let p = draw(&mut next, alphabet, len);
                    let nocase = next() % 2 == 0;
                    fps.push((p.clone(), nocase));
                    any_port_sig(i, p, nocase, (None, None), true)
                })
                .collect();
            let mut pf = Prefilter::build(count, sigs);
            let strides: Vec<usize> = pf
                .groups
                .iter()
                .flat_map(|g| g.stream.anywhere.tables.iter())
                .map(|t| t.stride)
                .collect();
            // (with fewer patterns, one Teddy pass can cost less)
            assert!(
                count < 60 || strides.iter().any(|&s| s > 1),
                "{count} patterns: not sampled"
            );
            let mut out = Vec::new();
            for _ in 0..300 {
                let len = (next() % 300) as usize;
                let mut hay = draw(&mut next, alphabet, len);
                // plant some patterns (case flipped at random) at any offset
                for _ in 0..next() % 4 {
                    let (p, _) = &fps[(next() % count as u64) as usize];
                    if p.len() <= hay.len() {
                        let at = (next() % (hay.len() - p.len() + 1) as u64) as usize;
                        for (h, &c) in hay[at..].iter_mut().zip(p) {
                            *h = if next() % 2 == 0 && c.is_ascii_alphabetic() {
                                c ^ 0x20
                            } else {
                                c
                            };
                        }
                    }
                }
                candidates_for(&mut pf, &hay, &mut out);
                let want = occurring(&fps, &hay);
                assert_eq!(out, want, "{count} patterns, payload {hay:?}");
            }
        }
    }

    /// Signatures whose fast pattern has a window (offset/depth) or one offset, some with
    /// a longest payload (dsize): a packet signature is a candidate whenever its pattern
    /// is in its window of a payload dsize admits, a stream signature whenever it is in its
    /// window of any stream piece (dsize says nothing about stream data); and none is
    /// whose pattern does not occur in its buffers at all. Over every group size, so
    /// windows meet every matcher kind.
    #[test]
    fn windows_and_anchors_agree_with_brute_force() {
        let mut next = xorshift(0x2545_f491_4f6c_dd1d);
        let alphabet = b"aAbB\x00|";
        for count in [2usize, 5, 40, 150, 700] {
            // (pattern, nocase, earliest start, latest end, longest payload, stream)
            let mut fps: Vec<(Vec<u8>, bool, usize, usize, usize, bool)> = Vec::new();
            let sigs: Vec<PrefilterSig> = (0..count as u32)
                .map(|i| {
                    let len = 1 + (next() % 5) as usize;
                    let p = draw(&mut next, alphabet, len);
                    let nocase = next() % 2 == 0;
                    let window = match next() % 3 {
                        0 => (None, None),
                        1 => (None, Some(len as u32 + (next() % 300) as u32)),
                        _ => {
                            let at = (next() % 40) as u32;
                            (Some(at), Some(at + len as u32))
                        }
                    };
                    let payload_max = (next() % 4 == 0).then(|| (next() % 300) as u32);
                    let stream = next() % 2 == 0;
                    fps.push((
                        p.clone(),
                        nocase,
                        window.0.unwrap_or(0) as usize,
                        window.1.map_or(usize::MAX, |e| e as usize),
                        payload_max.map_or(usize::MAX, |m| m as usize),
                        stream,
                    ));
                    PrefilterSig {
                        payload_max,
                        in_stream: stream,
                        in_packet: !stream,
                        ..any_port_sig(i, p, nocase, window, stream)
                    }
                })
                .collect();
            let mut pf = Prefilter::build(count, sigs);
            let mut out = Vec::new();
            for _ in 0..300 {
                let bufs: Vec<Vec<u8>> = (0..3)
                    .map(|_| {
                        let len = (next() % 400) as usize;
                        draw(&mut next, alphabet, len)
                    })
                    .collect();
                let payload: &'static [u8] = Box::leak(bufs[0].clone().into_boxed_slice());
                let key = PacketKey {
                    proto: 6,
                    to_server: None,
                    ports: Some((1, 2)),
                    payload,
                };
                pf.candidates_stream(&key, &[&bufs[1], &bufs[2]], &mut out);
                for (i, (p, nocase, lo, hi, max, stream)) in fps.iter().enumerate() {
                    let hays: &[Vec<u8>] = if *stream { &bufs[1..] } else { &bufs[..1] };
                    let mut anywhere = false;
                    let mut in_window = false;
                    for hay in hays {
                        let at = |s: usize| occurs_at(hay, p, *nocase, s);
                        anywhere |= (0..hay.len()).any(at);
                        in_window |= (*stream || hay.len() <= *max)
                            && (*lo..hay.len()).filter(|s| s + p.len() <= *hi).any(at);
                    }
                    let got = out.contains(&(i as u32));
                    assert!(
                        !in_window || got,
                        "{count} patterns: sig {i} {p:?} in [{lo}, {hi}) missed"
                    );
                    assert!(
                        !got || anywhere,
                        "{count} patterns: sig {i} {p:?} not there"
                    );
                }
            }
        }
    }

    #[test]
    fn addr_index_lookup() {
        let a = AddrSet {
            v4: vec![(10, 20)],
            v6: vec![],
            any: false,
        };
        let b = AddrSet {
            v4: vec![(15, 30)],
            v6: vec![(5, 5)],
            any: false,
        };
        let idx = AddrIndex::build(&[(&a, 0), (&b, 1)]);
        let ip = |n: u32| std::net::IpAddr::V4(n.into());
        assert_eq!(idx.lookup(ip(9)), &[] as &[u32]);
        assert_eq!(idx.lookup(ip(12)), &[0]);
        assert_eq!(idx.lookup(ip(17)), &[0, 1]);
        assert_eq!(idx.lookup(ip(30)), &[1]);
        assert_eq!(idx.lookup(ip(31)), &[] as &[u32]);
        assert_eq!(idx.lookup(std::net::IpAddr::V6(5u128.into())), &[1]);
    }
}
