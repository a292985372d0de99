//! Candidate selection: which signatures a packet can possibly match.
//!
//! Signatures are grouped by protocol bucket, flow direction and port (the dst port set, or
//! the src port set when the destination is `any`); each group has one Aho-Corasick
//! automaton over its signatures' fast patterns and a list of signatures without one.
//! A packet visits the groups for its protocol, its direction and its ports (found by
//! binary search over port intervals), runs each automaton once over the payload, and
//! gets back candidate signatures in signature order. A fast pattern is always a necessary
//! condition of its signature (a positive content, or an explicit `fast_pattern`), so
//! verification of the candidates gives exactly the result of checking every signature.
//!
//! IP-only signatures are indexed by address (`AddrIndex`): sorted address intervals, each
//! with the signatures covering it — the flattened form of a prefix trie.

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
    /// The dst port set when it is not `any`, else the src port set when not `any`.
    pub port_key: Option<(Side, PortSet)>,
    /// The fast pattern (already chopped) and whether it is case-insensitive.
    pub fast_pattern: Option<(Vec<u8>, bool)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Side {
    Dst = 0,
    Src = 1,
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

/// A pattern searched on its own (SIMD memmem / memchr), stopping at the first hit.
struct Single {
    /// Lowercased when `nocase`.
    pat: Vec<u8>,
    nocase: bool,
    finder: memchr::memmem::Finder<'static>,
    sigs: Vec<u32>,
}

impl Single {
    fn found(&self, hay: &[u8]) -> bool {
        if self.nocase {
            super::payload::find_nocase(hay, &self.pat).is_some()
        } else {
            self.finder.find(hay).is_some()
        }
    }
}

/// A signature with its fast pattern (pattern, nocase), as a group member.
type Member = (u32, Option<(Vec<u8>, bool)>);

/// A multi-pattern matcher for small and medium groups: a 65536-bit table of the patterns'
/// first two bytes (case-folded) rejects almost every position with one bit test; at the
/// rare positions that pass, the patterns sharing that pair are compared in place.
struct Bigram {
    /// SIMD search (Teddy) for the patterns' 3-byte prefixes, in every case variant the
    /// pattern admits, when there are few enough of them: it finds the positions where
    /// some pattern may start far faster than the bit-table loop.
    teddy: Vec<aho_corasick::packed::Searcher>,
    bits: Box<[u64; 1024]>,
    /// (pair, first index into `order`, end)
    heads: Vec<(u16, u32, u32)>,
    /// Pattern indexes grouped by pair.
    order: Vec<u32>,
    /// (pattern, nocase, signatures)
    pats: Vec<(Vec<u8>, bool, Vec<u32>)>,
}

#[inline]
fn fold(b: u8) -> u8 {
    b.to_ascii_lowercase()
}

impl Bigram {
    fn build(
        pats: Vec<(Vec<u8>, bool, Vec<u32>)>,
        teddy: Vec<aho_corasick::packed::Searcher>,
    ) -> Bigram {
        let mut bits = Box::new([0u64; 1024]);
        let mut keyed: Vec<(u16, u32)> = pats
            .iter()
            .enumerate()
            .map(|(i, (p, _, _))| (((fold(p[0]) as u16) << 8) | fold(p[1]) as u16, i as u32))
            .collect();
        keyed.sort_unstable();
        let mut heads: Vec<(u16, u32, u32)> = Vec::new();
        let mut order = Vec::with_capacity(keyed.len());
        for (k, i) in keyed {
            bits[(k >> 6) as usize] |= 1u64 << (k & 63);
            let pos = order.len() as u32;
            order.push(i);
            match heads.last_mut() {
                Some(h) if h.0 == k => h.2 = pos + 1,
                _ => heads.push((k, pos, pos + 1)),
            }
        }
        Bigram {
            teddy,
            bits,
            heads,
            order,
            pats,
        }
    }

    fn scan(
        &self,
        hay: &[u8],
        stamp: &mut [u32],
        epoch: u32,
        accept: &impl Fn(u32) -> bool,
        out: &mut Vec<u32>,
    ) {
        if hay.len() < 2 {
            return;
        }
        if !self.teddy.is_empty() {
            // every position where a prefix occurs, in order: leftmost search from just
            // after the previous hit, then all patterns sharing the pair there are compared
            for t in &self.teddy {
                let mut at = 0;
                while at + 1 < hay.len() {
                    let Some(m) = t.find_in(hay, aho_corasick::Span::from(at..hay.len())) else {
                        break;
                    };
                    let p = m.start();
                    let k = ((FOLD[hay[p] as usize] as u16) << 8)
                        | FOLD[hay.get(p + 1).copied().unwrap_or(0) as usize] as u16;
                    self.verify(hay, p, k, stamp, epoch, accept, out);
                    at = p + 1;
                }
            }
            return;
        }
        let bits: &[u64; 1024] = &self.bits;
        let mut prev = FOLD[hay[0] as usize] as usize;
        for (i, &c) in hay.iter().enumerate().skip(1) {
            let cur = FOLD[c as usize] as usize;
            let k = (prev << 8) | cur;
            prev = cur;
            if bits[k >> 6] & (1u64 << (k & 63)) != 0 {
                self.verify(hay, i - 1, k as u16, stamp, epoch, accept, out);
            }
        }
    }

    /// The pair at `at` passed the bit table: compare the patterns starting with it.
    #[inline(never)]
    #[allow(clippy::too_many_arguments)]
    fn verify(
        &self,
        hay: &[u8],
        at: usize,
        k: u16,
        stamp: &mut [u32],
        epoch: u32,
        accept: &impl Fn(u32) -> bool,
        out: &mut Vec<u32>,
    ) {
        let Ok(h) = self.heads.binary_search_by_key(&k, |h| h.0) else {
            return;
        };
        let (_, a, b) = self.heads[h];
        for &pi in &self.order[a as usize..b as usize] {
            let (pat, nocase, sigs) = &self.pats[pi as usize];
            if sigs.iter().all(|&s| stamp[s as usize] == epoch) {
                continue;
            }
            let Some(w) = hay.get(at..at + pat.len()) else {
                continue;
            };
            let eq = if *nocase {
                w.iter().zip(pat).all(|(x, y)| fold(*x) == *y)
            } else {
                w == pat.as_slice()
            };
            if eq {
                for &s in sigs {
                    if stamp[s as usize] != epoch && accept(s) {
                        stamp[s as usize] = epoch;
                        out.push(s);
                    }
                }
            }
        }
    }
}

/// Most needles a Teddy searcher gets (its SIMD buckets work best up to 64).
const TEDDY_MAX_NEEDLES: usize = 64;

/// Most Teddy searchers (passes over the payload) a group uses before the bit-table loop
/// is the cheaper way.
const TEDDY_MAX_PASSES: usize = 3;

/// Teddy searchers over the 3-byte prefixes of `pats` (each ≥ 4 bytes; nocase ones
/// lowercased) in every case variant, at most `TEDDY_MAX_NEEDLES` each; empty when that
/// would take more than `TEDDY_MAX_PASSES` or the CPU has no Teddy (it needs SSSE3/AVX2 on
/// x86_64 or NEON on aarch64).
fn teddy_for(pats: &[(Vec<u8>, bool, Vec<u32>)]) -> Vec<aho_corasick::packed::Searcher> {
    let mut needles: std::collections::BTreeSet<Vec<u8>> = std::collections::BTreeSet::new();
    for (p, nocase, _) in pats {
        let Some(prefix) = p.get(..3) else {
            return Vec::new();
        };
        let mut variants: Vec<Vec<u8>> = vec![Vec::new()];
        for &b in prefix {
            let alts: &[u8] = if *nocase && b.is_ascii_alphabetic() {
                &[b.to_ascii_lowercase(), b.to_ascii_uppercase()]
            } else {
                std::slice::from_ref(&b)
            };
            variants = variants
                .iter()
                .flat_map(|v| {
                    alts.iter().map(move |&a| {
                        let mut v = v.clone();
                        v.push(a);
                        v
                    })
                })
                .collect();
        }
        needles.extend(variants);
        if needles.len() > TEDDY_MAX_NEEDLES * TEDDY_MAX_PASSES {
            return Vec::new();
        }
    }
    let needles: Vec<Vec<u8>> = needles.into_iter().collect();
    let mut out = Vec::new();
    for chunk in needles.chunks(TEDDY_MAX_NEEDLES) {
        let mut b = aho_corasick::packed::Config::new()
            .match_kind(aho_corasick::packed::MatchKind::LeftmostFirst)
            .builder();
        for n in chunk {
            b.add(n);
        }
        match b.build() {
            Some(s) => out.push(s),
            None => return Vec::new(),
        }
    }
    out
}

/// ASCII case folding as a table (one load per byte in the scan loop).
static FOLD: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = (i as u8).to_ascii_lowercase();
        i += 1;
    }
    t
};

/// Groups with more distinct patterns than this use Aho-Corasick instead of `Bigram`: the
/// 8 KiB bit table stays in L1 where a DFA over ET Open's ~700 any-port TCP patterns does
/// not (ET Open replay of mixed-1m: about 13% less CPU than with Aho-Corasick above 512).
const BIGRAM_MAX: usize = 4096;

/// Groups with at most this many distinct patterns search them one by one.
const SINGLES_MAX: usize = 2;
/// Patterns this short go to single searches even in big groups: in an overlapping
/// automaton they would report a match at nearly every byte.
const SHORT_PATTERN: usize = 3;

struct Group {
    /// Automaton over the distinct fast patterns (all case-insensitive; verification
    /// checks case later), or None when no signature has one.
    ac: Option<AhoCorasick>,
    bigram: Option<Bigram>,
    singles: Vec<Single>,
    /// For each automaton pattern: the signatures having it, ascending.
    pattern_sigs: Vec<Vec<u32>>,
    /// Signatures without a fast pattern, ascending.
    always: Vec<u32>,
}

impl Group {
    fn build(mut members: Vec<Member>) -> Group {
        members.sort_by_key(|m| m.0);
        let mut always = Vec::new();
        // distinct (pattern, nocase) -> signatures
        let mut distinct: std::collections::BTreeMap<(Vec<u8>, bool), Vec<u32>> =
            std::collections::BTreeMap::new();
        for (sig, fp) in members {
            match fp {
                Some((p, nocase)) if !p.is_empty() => {
                    let key: Vec<u8> = if nocase {
                        p.iter().map(|b| b.to_ascii_lowercase()).collect()
                    } else {
                        p
                    };
                    distinct.entry((key, nocase)).or_default().push(sig);
                }
                _ => always.push(sig),
            }
        }
        let few = distinct.len() <= SINGLES_MAX;
        let use_bigram = distinct.len() <= BIGRAM_MAX;
        // Teddy (a few SIMD passes) finds where the longer patterns may start; the short
        // ones would make it match nearly everywhere, so they stay single searches.
        let teddy = if few || !use_bigram {
            Vec::new()
        } else {
            let all: Vec<(Vec<u8>, bool, Vec<u32>)> = distinct
                .iter()
                .filter(|((p, _), _)| p.len() > SHORT_PATTERN)
                .map(|((p, n), s)| (p.clone(), *n, s.clone()))
                .collect();
            teddy_for(&all)
        };
        let mut bigram_pats: Vec<(Vec<u8>, bool, Vec<u32>)> = Vec::new();
        let mut singles = Vec::new();
        let mut patterns: Vec<Vec<u8>> = Vec::new();
        let mut pattern_sigs: Vec<Vec<u32>> = Vec::new();
        for ((pat, nocase), sigs) in distinct {
            if few || pat.len() <= SHORT_PATTERN {
                singles.push(Single {
                    finder: memchr::memmem::Finder::new(&pat).into_owned(),
                    pat,
                    nocase,
                    sigs,
                });
            } else if use_bigram {
                bigram_pats.push((pat, nocase, sigs));
            } else {
                patterns.push(pat);
                pattern_sigs.push(sigs);
            }
        }
        let bigram = if bigram_pats.is_empty() {
            None
        } else {
            Some(Bigram::build(bigram_pats, teddy))
        };
        let ac = if patterns.is_empty() {
            None
        } else {
            AhoCorasickBuilder::new()
                .match_kind(MatchKind::Standard)
                .ascii_case_insensitive(true)
                .kind(Some(if patterns.len() <= 2000 {
                    AhoCorasickKind::DFA
                } else {
                    AhoCorasickKind::ContiguousNFA
                }))
                .build(&patterns)
                .ok()
        };
        if ac.is_none() {
            // could not build: every member becomes an always-candidate
            for s in pattern_sigs.drain(..).flatten() {
                always.push(s);
            }
            always.sort_unstable();
        }
        Group {
            ac,
            bigram,
            singles,
            pattern_sigs,
            always,
        }
    }
}

/// Sorted port intervals, each with the groups whose port set covers it.
#[derive(Default)]
struct PortTable {
    /// Start of each elementary interval (ascending, first is 0).
    starts: Vec<u16>,
    /// For each interval: index into `lists`.
    list_of: Vec<u32>,
    lists: Vec<Vec<u32>>,
}

impl PortTable {
    fn build(entries: &[(PortSet, u32)]) -> PortTable {
        let mut bounds: Vec<u32> = vec![0];
        for (ps, _) in entries {
            for &(lo, hi) in &ps.ranges {
                bounds.push(lo as u32);
                bounds.push(hi as u32 + 1);
            }
        }
        bounds.sort_unstable();
        bounds.dedup();
        bounds.retain(|&b| b <= u16::MAX as u32);
        let mut starts = Vec::with_capacity(bounds.len());
        let mut list_of = Vec::with_capacity(bounds.len());
        let mut lists: Vec<Vec<u32>> = Vec::new();
        let mut dedup: std::collections::HashMap<Vec<u32>, u32> = std::collections::HashMap::new();
        for &b in &bounds {
            let p = b as u16;
            let mut gs: Vec<u32> = entries
                .iter()
                .filter(|(ps, _)| ps.contains(p))
                .map(|(_, g)| *g)
                .collect();
            gs.sort_unstable();
            gs.dedup();
            let id = *dedup.entry(gs.clone()).or_insert_with(|| {
                lists.push(gs);
                (lists.len() - 1) as u32
            });
            starts.push(p);
            list_of.push(id);
        }
        PortTable {
            starts,
            list_of,
            lists,
        }
    }

    fn lookup(&self, port: u16) -> &[u32] {
        let i = self.starts.partition_point(|&s| s <= port);
        if i == 0 {
            return &[];
        }
        &self.lists[self.list_of[i - 1] as usize]
    }
}

/// Groups for packets of one bucket and one direction.
#[derive(Default)]
struct DirGroups {
    any: Option<u32>,
    dst: PortTable,
    src: PortTable,
}

pub struct Prefilter {
    groups: Vec<Group>,
    /// [bucket][dir class]
    table: Vec<[DirGroups; 3]>,
    /// Per-signature stamp of the last packet that made it a candidate.
    stamp: Vec<u32>,
    epoch: u32,
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
        use std::collections::BTreeMap;
        // group key: (bucket, dir, side/portset or any)
        #[derive(PartialEq, Eq, PartialOrd, Ord)]
        struct Key(usize, DirClass, Option<(Side, Vec<(u16, u16)>)>);
        let mut members: BTreeMap<Key, Vec<Member>> = BTreeMap::new();
        let mut port_sets: BTreeMap<Key, PortSet> = BTreeMap::new();
        for s in sigs {
            let k = Key(
                s.bucket,
                s.dir,
                s.port_key
                    .as_ref()
                    .map(|(side, ps)| (*side, ps.ranges.clone())),
            );
            if let Some((_, ps)) = &s.port_key {
                port_sets.insert(
                    Key(
                        s.bucket,
                        s.dir,
                        s.port_key
                            .as_ref()
                            .map(|(side, ps)| (*side, ps.ranges.clone())),
                    ),
                    ps.clone(),
                );
            }
            members.entry(k).or_default().push((s.sig, s.fast_pattern));
        }
        let debug = std::env::var_os("RAVN_DEBUG_PREFILTER").is_some();
        // Per packet direction (0: no flow, 1: to_server, 2: to_client) the groups of the
        // classes that apply (Both plus that direction) are merged, so a packet runs one
        // matcher for the any-port signatures and one per port side.
        let mut groups: Vec<Group> = Vec::new();
        let mut table: Vec<[DirGroups; 3]> = (0..BUCKETS).map(|_| Default::default()).collect();
        for (b, row) in table.iter_mut().enumerate() {
            for (pd, dg) in row.iter_mut().enumerate() {
                let classes: &[DirClass] = match pd {
                    1 => &[DirClass::Both, DirClass::ToServer],
                    2 => &[DirClass::Both, DirClass::ToClient],
                    _ => &[DirClass::Both],
                };
                let mut any: Vec<Member> = Vec::new();
                let mut sides: [Vec<(PortSet, &Vec<Member>)>; 2] = [Vec::new(), Vec::new()];
                for (k, m) in &members {
                    if k.0 != b || !classes.contains(&k.1) {
                        continue;
                    }
                    match &k.2 {
                        None => any.extend(m.iter().cloned()),
                        Some((side, _)) => {
                            let ps = port_sets.get(k).cloned().unwrap_or_default();
                            sides[*side as usize].push((ps, m));
                        }
                    }
                }
                if !any.is_empty() {
                    if debug {
                        eprintln!(
                            "prefilter: bucket {b} dir {pd} any-port group {}: {} sigs",
                            groups.len(),
                            any.len()
                        );
                    }
                    dg.any = Some(groups.len() as u32);
                    groups.push(Group::build(any));
                }
                for (si, entries) in sides.iter().enumerate() {
                    if entries.is_empty() {
                        continue;
                    }
                    let idx: Vec<(PortSet, u32)> = entries
                        .iter()
                        .enumerate()
                        .map(|(i, (ps, _))| (ps.clone(), i as u32))
                        .collect();
                    let mut t = PortTable::build(&idx);
                    // each distinct list of entries becomes one merged group
                    for list in t.lists.iter_mut() {
                        if list.is_empty() {
                            continue;
                        }
                        let mut merged: Vec<Member> = Vec::new();
                        for &e in list.iter() {
                            merged.extend(entries[e as usize].1.iter().cloned());
                        }
                        merged.sort_by_key(|m| m.0);
                        merged.dedup_by_key(|m| m.0);
                        if debug {
                            eprintln!(
                                "prefilter: bucket {b} dir {pd} side {si} port group {}: {} entries, {} sigs",
                                groups.len(),
                                list.len(),
                                merged.len()
                            );
                        }
                        let gid = groups.len() as u32;
                        groups.push(Group::build(merged));
                        *list = vec![gid];
                    }
                    if si == Side::Dst as usize {
                        dg.dst = t;
                    } else {
                        dg.src = t;
                    }
                }
            }
        }
        if debug {
            for (i, g) in groups.iter().enumerate() {
                eprintln!("prefilter: group {i}: {}", Self::describe(g));
            }
        }
        Prefilter {
            groups,
            table,
            stamp: vec![0; nsigs],
            epoch: 0,
        }
    }

    /// Fill `out` with the candidate signatures for this packet, ascending.
    pub fn candidates(&mut self, k: &PacketKey<'_>, out: &mut Vec<u32>) {
        self.candidates_stream(k, &[], |_| true, out)
    }

    /// Candidates for a packet with stream data: every signature whose fast pattern is in
    /// one of `stream` (or without a fast pattern), plus those whose fast pattern is in
    /// the packet's payload and that `keep_from_packet` accepts. Ascending.
    pub fn candidates_stream(
        &mut self,
        k: &PacketKey<'_>,
        stream: &[&[u8]],
        keep_from_packet: impl Fn(u32) -> bool,
        out: &mut Vec<u32>,
    ) {
        out.clear();
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            self.stamp.iter_mut().for_each(|s| *s = 0);
            self.epoch = 1;
        }
        let b = bucket_of(k.proto);
        let pd = match k.to_server {
            Some(true) => 1,
            Some(false) => 2,
            None => 0,
        };
        let dg = &self.table[b][pd];
        let mut groups = [u32::MAX; 3];
        let mut ng = 0;
        if let Some(g) = dg.any {
            groups[ng] = g;
            ng += 1;
        }
        let (dst, src): (&[u32], &[u32]) = match k.ports {
            Some((sp, dp)) => (dg.dst.lookup(dp), dg.src.lookup(sp)),
            None => (&[], &[]),
        };
        let all = groups[..ng].iter().chain(dst).chain(src);
        let accept_all = |_: u32| true;
        for &g in all.clone() {
            let g = &self.groups[g as usize];
            for buf in stream {
                Self::visit(g, buf, &mut self.stamp, self.epoch, &accept_all, out);
            }
        }
        for &g in all {
            let g = &self.groups[g as usize];
            Self::visit(
                g,
                k.payload,
                &mut self.stamp,
                self.epoch,
                &keep_from_packet,
                out,
            );
        }
        out.sort_unstable();
    }

    /// One line per group: its matchers (for `RAVN_DEBUG_PREFILTER`).
    fn describe(g: &Group) -> String {
        format!(
            "{} singles, {} teddy passes, {} bigram patterns, {} AC patterns, {} always",
            g.singles.len(),
            g.bigram.as_ref().map_or(0, |b| b.teddy.len()),
            g.bigram.as_ref().map_or(0, |b| b.pats.len()),
            if g.ac.is_some() {
                g.pattern_sigs.len()
            } else {
                0
            },
            g.always.len()
        )
    }

    fn visit(
        g: &Group,
        payload: &[u8],
        stamp: &mut [u32],
        epoch: u32,
        accept: &impl Fn(u32) -> bool,
        out: &mut Vec<u32>,
    ) {
        let take = |s: u32, stamp: &mut [u32], out: &mut Vec<u32>| {
            if stamp[s as usize] != epoch && accept(s) {
                stamp[s as usize] = epoch;
                out.push(s);
            }
        };
        for &s in &g.always {
            take(s, stamp, out);
        }
        if payload.is_empty() {
            return;
        }
        for single in &g.singles {
            if single.sigs.iter().all(|&s| stamp[s as usize] == epoch) {
                continue;
            }
            if single.found(payload) {
                for &s in &single.sigs {
                    take(s, stamp, out);
                }
            }
        }
        if let Some(b) = &g.bigram {
            b.scan(payload, stamp, epoch, accept, out);
        }
        if let Some(ac) = &g.ac {
            for m in ac.find_overlapping_iter(payload) {
                for &s in &g.pattern_sigs[m.pattern().as_usize()] {
                    take(s, stamp, out);
                }
            }
        }
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
        let mut b4: Vec<u64> = vec![0];
        for (a, _) in entries {
            for &(lo, hi) in &a.v4 {
                b4.push(lo as u64);
                b4.push(hi as u64 + 1);
            }
        }
        b4.sort_unstable();
        b4.dedup();
        b4.retain(|&b| b <= u32::MAX as u64);
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
                port_key: Some((Side::Dst, ps(&[(80, 80)]))),
                fast_pattern: Some((b"GET".to_vec(), false)),
            },
            PrefilterSig {
                sig: 1,
                bucket: 0,
                dir: DirClass::ToServer,
                port_key: None,
                fast_pattern: Some((b"evil".to_vec(), true)),
            },
            PrefilterSig {
                sig: 2,
                bucket: 0,
                dir: DirClass::Both,
                port_key: None,
                fast_pattern: None,
            },
            PrefilterSig {
                sig: 3,
                bucket: 1,
                dir: DirClass::Both,
                port_key: None,
                fast_pattern: None,
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
        pf.candidates(&key(b"GET /EVIL", 81, Some(false)), &mut out);
        assert_eq!(out, vec![2]);
        pf.candidates(&key(b"", 80, Some(true)), &mut out);
        assert_eq!(out, vec![2]);
    }

    /// Groups of every matcher kind (singles, Teddy passes, the bit-table loop, Aho-Corasick)
    /// name every signature whose pattern occurs (exactly those, but for Aho-Corasick, which
    /// folds case for all and leaves the case check to verification).
    #[test]
    fn every_matcher_kind_agrees_with_brute_force() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let alphabet = b"aAbBcC\x00|";
        for count in [2usize, 5, 40, 150, 700, 9000] {
            let mut fps: Vec<(Vec<u8>, bool)> = Vec::new();
            let sigs: Vec<PrefilterSig> = (0..count as u32)
                .map(|i| {
                    let len = 2 + (next() % 6) as usize;
                    let p: Vec<u8> = (0..len)
                        .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                        .collect();
                    let nocase = next() % 2 == 0;
                    fps.push((p.clone(), nocase));
                    PrefilterSig {
                        sig: i,
                        bucket: 0,
                        dir: DirClass::Both,
                        port_key: None,
                        fast_pattern: Some((p, nocase)),
                    }
                })
                .collect();
            let mut pf = Prefilter::build(count, sigs);
            let mut out = Vec::new();
            for _ in 0..200 {
                let len = (next() % 64) as usize;
                let hay: Vec<u8> = (0..len)
                    .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                    .collect();
                let hay: &'static [u8] = Box::leak(hay.into_boxed_slice());
                pf.candidates(
                    &PacketKey {
                        proto: 6,
                        to_server: None,
                        ports: Some((1, 2)),
                        payload: hay,
                    },
                    &mut out,
                );
                let want: Vec<u32> = fps
                    .iter()
                    .enumerate()
                    .filter(|(_, (p, nocase))| {
                        hay.windows(p.len()).any(|w| {
                            if *nocase {
                                w.eq_ignore_ascii_case(p)
                            } else {
                                w == p.as_slice()
                            }
                        })
                    })
                    .map(|(i, _)| i as u32)
                    .collect();
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
