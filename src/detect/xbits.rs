//! Host bits and IP-pair bits (`hostbits`, `xbits`) with Suricata 7.0.10's semantics
//! (`host-bit.c`, `ippair-bit.c`, `detect-hostbits.c`, `detect-xbits.c`):
//!
//! - a bit is present with an expiry time in whole seconds (`packet secs + expire`); `isset`
//!   and `isnotset` see an expired bit as unset and remove it (`expire < packet secs`);
//!   `toggle` removes a present bit (expired or not) or adds it, `set` adds it or renews its
//!   expiry, `unset` removes it;
//! - `set` and `toggle` create the host (or pair) entry, `isset`, `isnotset` and `unset` only
//!   look it up (no entry: not set);
//! - pairs are unordered: (a, b) and (b, a) are the same entry.
//!
//! Memory is fixed when the engine is built: `capacity` entries per table, each with one
//! expiry slot per bit name the rules use, and an index reserved for `capacity` keys. When a
//! table is full, an entry is evicted (one whose bits have all expired if the next few
//! candidates hold one, else the next under a moving hand) and counted, like Suricata's host
//! table recycling a host when its memcap is reached. No allocation per packet.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;

use crate::rules::ast::{XbitTrack, XbitsCmd};

/// No bit: the expiry slot's value.
const ABSENT: i64 = i64::MIN;

/// How many slots past the hand eviction looks at for one with nothing live.
const EVICT_SCAN: usize = 8;

/// Suricata's host table default (`host.hash-size` 4096, `prealloc` 1000, 32 MiB memcap)
/// holds far more hosts than a sensor sees; ravn keeps this many per table.
pub const DEFAULT_CAPACITY: usize = 16_384;

/// One table of bits keyed by host or by pair.
pub struct BitTable<K> {
    index: HashMap<K, u32>,
    keys: Vec<Option<K>>,
    /// `keys.len() * nbits` expiry slots (secs), `ABSENT` when the bit is not present.
    bits: Vec<i64>,
    nbits: usize,
    capacity: usize,
    hand: usize,
    pub evictions: u64,
}

impl<K: Copy + Eq + Hash> BitTable<K> {
    /// A table for `nbits` bit names; nothing is allocated when `nbits` is 0.
    pub fn new(nbits: usize, capacity: usize) -> BitTable<K> {
        let capacity = if nbits == 0 { 0 } else { capacity.max(1) };
        BitTable {
            index: HashMap::with_capacity(capacity),
            keys: Vec::with_capacity(capacity),
            bits: Vec::with_capacity(capacity * nbits),
            nbits,
            capacity,
            hand: 0,
            evictions: 0,
        }
    }

    /// Entries in use.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    fn slot_bits(&mut self, slot: u32) -> &mut [i64] {
        let s = slot as usize * self.nbits;
        &mut self.bits[s..s + self.nbits]
    }

    fn lookup(&self, k: &K) -> Option<u32> {
        self.index.get(k).copied()
    }

    /// The entry for `k`, created (evicting one when full) if absent.
    fn get_or_create(&mut self, k: K, now: i64) -> u32 {
        if let Some(s) = self.lookup(&k) {
            return s;
        }
        let slot = if self.keys.len() < self.capacity {
            self.keys.push(None);
            self.bits.extend(std::iter::repeat_n(ABSENT, self.nbits));
            (self.keys.len() - 1) as u32
        } else {
            let slot = self.victim(now);
            if let Some(old) = self.keys[slot as usize].take() {
                self.index.remove(&old);
                self.evictions += 1;
            }
            self.slot_bits(slot).fill(ABSENT);
            slot
        };
        self.keys[slot as usize] = Some(k);
        self.index.insert(k, slot);
        slot
    }

    /// The slot to reuse: a free one, else one with nothing live among the next few under
    /// the hand, else the one under the hand.
    fn victim(&mut self, now: i64) -> u32 {
        let n = self.keys.len();
        for step in 0..EVICT_SCAN.min(n) {
            let i = (self.hand + step) % n;
            let free = self.keys[i].is_none();
            let s = i * self.nbits;
            let dead = self.bits[s..s + self.nbits]
                .iter()
                .all(|&e| e == ABSENT || e < now);
            if free || dead {
                self.hand = (i + 1) % n;
                return i as u32;
            }
        }
        let i = self.hand;
        self.hand = (i + 1) % n;
        i as u32
    }

    /// Apply a command to bit `bit` of entry `k` at packet time `now` (seconds). For `isset`
    /// and `isnotset` the result is the condition; the other commands return true.
    pub fn apply(&mut self, k: K, bit: u16, cmd: XbitsCmd, now: i64, expire: u32) -> bool {
        let b = bit as usize;
        if b >= self.nbits {
            return matches!(cmd, XbitsCmd::IsNotSet | XbitsCmd::Unset);
        }
        let until = now.saturating_add(expire as i64);
        match cmd {
            XbitsCmd::IsSet | XbitsCmd::IsNotSet => {
                let Some(slot) = self.lookup(&k) else {
                    return cmd == XbitsCmd::IsNotSet;
                };
                let e = &mut self.slot_bits(slot)[b];
                let set = if *e == ABSENT {
                    false
                } else if *e < now {
                    *e = ABSENT;
                    false
                } else {
                    true
                };
                set == (cmd == XbitsCmd::IsSet)
            }
            XbitsCmd::Unset => {
                if let Some(slot) = self.lookup(&k) {
                    self.slot_bits(slot)[b] = ABSENT;
                }
                true
            }
            XbitsCmd::Set => {
                let slot = self.get_or_create(k, now);
                self.slot_bits(slot)[b] = until;
                true
            }
            XbitsCmd::Toggle => {
                let slot = self.get_or_create(k, now);
                let e = &mut self.slot_bits(slot)[b];
                *e = if *e == ABSENT { until } else { ABSENT };
                true
            }
        }
    }
}

/// The unordered pair key.
fn pair(a: IpAddr, b: IpAddr) -> (IpAddr, IpAddr) {
    if a <= b {
        (a, b)
    } else {
        (b, a)
    }
}

/// One compiled `hostbits`/`xbits` command: what to do to which bit of whose entry.
#[derive(Debug, Clone, Copy)]
pub struct Op {
    pub cmd: XbitsCmd,
    /// The bit's index in its namespace (host or pair).
    pub bit: u16,
    pub track: XbitTrack,
    /// Seconds (for `set` and `toggle`).
    pub expire: u32,
}

/// Host bits and pair bits of one engine.
pub struct XbitTables {
    pub hosts: BitTable<IpAddr>,
    pub pairs: BitTable<(IpAddr, IpAddr)>,
}

impl XbitTables {
    pub fn new(host_bits: usize, pair_bits: usize, capacity: usize) -> XbitTables {
        XbitTables {
            hosts: BitTable::new(host_bits, capacity),
            pairs: BitTable::new(pair_bits, capacity),
        }
    }

    /// Run one `hostbits`/`xbits` command for a packet from `src` to `dst` at `now` (secs).
    pub fn apply(&mut self, op: Op, src: IpAddr, dst: IpAddr, now: i64) -> bool {
        let Op {
            cmd,
            bit,
            track,
            expire,
        } = op;
        match track {
            XbitTrack::IpSrc => self.hosts.apply(src, bit, cmd, now, expire),
            XbitTrack::IpDst => self.hosts.apply(dst, bit, cmd, now, expire),
            XbitTrack::IpPair => self.pairs.apply(pair(src, dst), bit, cmd, now, expire),
        }
    }

    /// Entries evicted because a table was full.
    pub fn evictions(&self) -> u64 {
        self.hosts.evictions + self.pairs.evictions
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use XbitsCmd::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn op(track: XbitTrack, bit: u16, cmd: XbitsCmd, expire: u32) -> Op {
        Op {
            cmd,
            bit,
            track,
            expire,
        }
    }

    #[test]
    fn expiry_in_whole_seconds_as_suricata() {
        // measured with Suricata 7.0.10: set at 1000.5 with expire 30 is seen at 1030.x
        // (secs 1030) and gone at 1031.x
        let mut t = XbitTables::new(1, 0, 4);
        let a = ip("10.0.0.1");
        t.apply(op(XbitTrack::IpSrc, 0, Set, 30), a, a, 1000);
        assert!(t.apply(op(XbitTrack::IpSrc, 0, IsSet, 0), a, a, 1030));
        assert!(!t.apply(op(XbitTrack::IpSrc, 0, IsSet, 0), a, a, 1031));
        // the expired bit was removed by isset: toggle now adds it
        t.apply(op(XbitTrack::IpSrc, 0, Toggle, 30), a, a, 1031);
        assert!(t.apply(op(XbitTrack::IpSrc, 0, IsSet, 0), a, a, 1031));
    }

    #[test]
    fn toggle_removes_an_expired_but_present_bit() {
        let mut t = XbitTables::new(1, 0, 4);
        let a = ip("10.0.0.1");
        t.apply(op(XbitTrack::IpSrc, 0, Set, 30), a, a, 1000);
        t.apply(op(XbitTrack::IpSrc, 0, Toggle, 30), a, a, 2000);
        assert!(t.apply(op(XbitTrack::IpSrc, 0, IsNotSet, 0), a, a, 2000));
    }

    #[test]
    fn src_dst_and_unordered_pairs() {
        let mut t = XbitTables::new(1, 1, 4);
        let (a, b) = (ip("10.0.0.1"), ip("10.0.0.2"));
        t.apply(op(XbitTrack::IpDst, 0, Set, 300), a, b, 0);
        assert!(t.apply(op(XbitTrack::IpSrc, 0, IsSet, 0), b, a, 0));
        assert!(t.apply(op(XbitTrack::IpSrc, 0, IsNotSet, 0), a, b, 0));
        t.apply(op(XbitTrack::IpPair, 0, Set, 300), a, b, 0);
        assert!(t.apply(op(XbitTrack::IpPair, 0, IsSet, 0), b, a, 0));
        t.apply(op(XbitTrack::IpPair, 0, Unset, 0), b, a, 0);
        assert!(t.apply(op(XbitTrack::IpPair, 0, IsNotSet, 0), a, b, 0));
        // unset and isset never create an entry
        let c = ip("10.0.0.3");
        t.apply(op(XbitTrack::IpSrc, 0, Unset, 0), c, c, 0);
        assert!(!t.apply(op(XbitTrack::IpSrc, 0, IsSet, 0), c, c, 0));
        assert_eq!(t.hosts.len(), 1);
    }

    #[test]
    fn full_table_evicts_and_counts_without_growing() {
        let mut t = XbitTables::new(2, 0, 8);
        for i in 0..100u32 {
            let h = IpAddr::from(i.to_be_bytes());
            t.apply(op(XbitTrack::IpSrc, 1, Set, 300), h, h, 0);
            assert!(t.hosts.len() <= 8);
        }
        assert_eq!(t.evictions(), 92);
        assert_eq!(t.hosts.keys.capacity(), 8);
        assert_eq!(t.hosts.bits.capacity(), 16);
        // the latest host is still there
        let last = IpAddr::from(99u32.to_be_bytes());
        assert!(t.apply(op(XbitTrack::IpSrc, 1, IsSet, 0), last, last, 0));
    }

    #[test]
    fn eviction_prefers_entries_with_nothing_live() {
        let mut t = XbitTables::new(1, 0, 2);
        let (a, b, c) = (ip("10.0.0.1"), ip("10.0.0.2"), ip("10.0.0.3"));
        t.apply(op(XbitTrack::IpSrc, 0, Set, 1000), a, a, 0);
        t.apply(op(XbitTrack::IpSrc, 0, Set, 10), b, b, 0);
        // at t=100 b's bit has expired: c takes b's slot, a survives
        t.apply(op(XbitTrack::IpSrc, 0, Set, 10), c, c, 100);
        assert!(t.apply(op(XbitTrack::IpSrc, 0, IsSet, 0), a, a, 100));
        assert!(t.apply(op(XbitTrack::IpSrc, 0, IsSet, 0), c, c, 100));
    }
}
