//! The `tag` keyword's state, as Suricata 7.0.10's `detect-engine-tag.c` keeps it: tag
//! entries on a flow (`tag:session`) or on a host (`tag:host`), each counting the packets,
//! bytes or seconds since the alert that set it; every later packet of the flow, or to or from
//! the host, is "tagged" (logged as an EVE `packet` event when `tagged-packets` is on) until
//! the count is exceeded.
//!
//! Semantics reproduced (checked against Suricata on crafted pcaps):
//! - tags are set for every match that passes thresholds, including `noalert` rules and
//!   suppressed ones whose action still applies; then the packet itself is handled, so the
//!   alerting packet is counted but not tagged (the entry's "skipped first");
//! - a rule matching again on an entry of its own (same sid and gid) resets that entry's
//!   counters and start time (at most `MATCH_LIMIT` times), so that packet is tagged too;
//! - an entry expires once `packets > count`, `bytes > count` (frame length) or
//!   `last - first > count` seconds, checked on the packets that reach it;
//! - a host tag counts every packet with the host as source and again as destination;
//! - at most `MAX_TAGS` entries per flow or host.
//!
//! Memory is fixed: one pool of `capacity` entries. New tags are dropped (and counted) when it
//! is full. Entries of flows that ended and of hosts not seen for a while are reclaimed when
//! they have been idle longer than a flow or a host can live without traffic. The pool is only
//! walked when it holds entries.

use std::net::IpAddr;

use super::threshold::Subject;
use crate::rules::ast::{Tag, TagKind, TagMetric};

/// `DETECT_TAG_MATCH_LIMIT`
pub const MATCH_LIMIT: u32 = 10;
/// `DETECT_TAG_MAX_TAGS`
pub const MAX_TAGS: usize = 50;
/// Host tag entries idle this long are dropped (`TAG_MAX_LAST_TIME_SEEN`).
const HOST_IDLE_SECS: u32 = 600;
/// Session tag entries idle this long belong to a flow that has timed out.
const FLOW_IDLE_SECS: u32 = 3600;
/// Entries in the pool.
pub const DEFAULT_CAPACITY: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owner {
    Flow(u64),
    Host(IpAddr),
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    owner: Owner,
    sid: u32,
    gid: u32,
    metric: TagMetric,
    count: u32,
    packets: u32,
    bytes: u64,
    first_ts: u32,
    last_ts: u32,
    cnt_match: u32,
    skipped_first: bool,
}

/// The tag entries of one engine.
pub struct Tags {
    entries: Vec<Entry>,
    capacity: usize,
    /// Tags not set because the pool was full.
    pub dropped: u64,
}

impl Default for Tags {
    fn default() -> Self {
        Tags::with_capacity(DEFAULT_CAPACITY)
    }
}

/// Packet time in seconds, as Suricata's `SCTIME_SECS` (u32).
fn secs(ts: crate::capture::Timestamp) -> u32 {
    ts.secs as u32
}

impl Tags {
    pub fn with_capacity(capacity: usize) -> Tags {
        Tags {
            entries: Vec::with_capacity(capacity),
            capacity,
            dropped: 0,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// A matching signature's `tag` keyword (Suricata's `DetectTagMatch`).
    pub fn add(&mut self, t: &Tag, sid: u32, gid: u32, pkt: &Subject) {
        let owner = match t.kind {
            TagKind::Session => match pkt.flow_id {
                Some(id) => Owner::Flow(id),
                None => return,
            },
            TagKind::Host => Owner::Host(if t.src { pkt.src } else { pkt.dst }),
        };
        let now = secs(pkt.ts);
        let mut n = 0;
        for e in self.entries.iter_mut().filter(|e| e.owner == owner) {
            n += 1;
            if e.sid == sid && e.gid == gid {
                e.cnt_match += 1;
                if e.cnt_match < MATCH_LIMIT {
                    e.first_ts = now;
                    e.last_ts = now;
                    e.packets = 0;
                    e.bytes = 0;
                }
                return;
            }
        }
        if n >= MAX_TAGS {
            return;
        }
        if self.entries.len() >= self.capacity {
            self.reclaim(now);
            if self.entries.len() >= self.capacity {
                self.dropped += 1;
                return;
            }
        }
        self.entries.push(Entry {
            owner,
            sid,
            gid,
            metric: t.metric,
            count: t.count,
            packets: 0,
            bytes: 0,
            first_ts: now,
            last_ts: now,
            cnt_match: 0,
            skipped_first: false,
        });
    }

    /// Drop entries idle longer than their owner can live.
    fn reclaim(&mut self, now: u32) {
        self.entries.retain(|e| {
            let idle = now.wrapping_sub(e.last_ts);
            match e.owner {
                Owner::Flow(_) => idle <= FLOW_IDLE_SECS,
                Owner::Host(_) => idle <= HOST_IDLE_SECS,
            }
        });
    }

    /// Suricata's `TagHandlePacket`: update the entries this packet reaches (its flow's, then
    /// its source host's, then its destination host's) and say whether it is tagged.
    pub fn handle(
        &mut self,
        src: IpAddr,
        dst: IpAddr,
        flow_id: Option<u64>,
        ts: crate::capture::Timestamp,
        len: u32,
    ) -> bool {
        if self.entries.is_empty() {
            return false;
        }
        let now = secs(ts);
        let mut tagged = false;
        if let Some(id) = flow_id {
            tagged |= self.handle_owner(Owner::Flow(id), now, len);
        }
        tagged |= self.handle_owner(Owner::Host(src), now, len);
        tagged |= self.handle_owner(Owner::Host(dst), now, len);
        tagged
    }

    fn handle_owner(&mut self, owner: Owner, now: u32, len: u32) -> bool {
        let mut tagged = false;
        let mut i = 0;
        while i < self.entries.len() {
            let e = &mut self.entries[i];
            if e.owner != owner {
                i += 1;
                continue;
            }
            e.last_ts = now;
            match e.metric {
                TagMetric::Packets => e.packets = e.packets.wrapping_add(1),
                TagMetric::Bytes => e.bytes += len as u64,
                TagMetric::Seconds => {}
            }
            if !e.skipped_first {
                e.skipped_first = true;
                i += 1;
                continue;
            }
            let expired = match e.metric {
                TagMetric::Packets => e.packets > e.count,
                TagMetric::Bytes => e.bytes > e.count as u64,
                TagMetric::Seconds => e.last_ts.wrapping_sub(e.first_ts) > e.count,
            };
            if expired {
                // order among entries does not matter: swap_remove keeps this O(1)
                self.entries.swap_remove(i);
                continue;
            }
            tagged = true;
            i += 1;
        }
        tagged
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::Timestamp;

    fn ts(s: i64) -> Timestamp {
        Timestamp { secs: s, nanos: 0 }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn subj(src: IpAddr, dst: IpAddr, flow_id: Option<u64>, ts: Timestamp) -> Subject {
        Subject {
            src,
            dst,
            flow_id,
            ts,
        }
    }

    fn session(count: u32, metric: TagMetric) -> Tag {
        Tag {
            kind: TagKind::Session,
            count,
            metric,
            src: false,
        }
    }

    /// `tag:session,3,packets` on T x x T x x x x: Suricata 7.0.10 tags packets 2, 3, then
    /// (the rule matched again and reset the entry) 4, 5, 6.
    #[test]
    fn session_packets_with_a_reset() {
        let (a, b) = (ip("10.0.0.1"), ip("10.0.0.2"));
        let mut t = Tags::default();
        let mut got = Vec::new();
        for (i, c) in b"TxxTxxxx".iter().enumerate() {
            if *c == b'T' {
                t.add(
                    &session(3, TagMetric::Packets),
                    1,
                    1,
                    &subj(a, b, Some(7), ts(i as i64)),
                );
            }
            if t.handle(a, b, Some(7), ts(i as i64), 60) {
                got.push(i + 1);
            }
        }
        assert_eq!(got, vec![2, 3, 4, 5, 6]);
        assert!(t.is_empty(), "the entry expired");
    }

    /// `tag:session,25,bytes` with 43- then 52-byte frames: nothing is tagged.
    #[test]
    fn session_bytes() {
        let (a, b) = (ip("10.0.0.1"), ip("10.0.0.2"));
        let mut t = Tags::default();
        t.add(
            &session(25, TagMetric::Bytes),
            1,
            1,
            &subj(a, b, Some(1), ts(0)),
        );
        assert!(!t.handle(a, b, Some(1), ts(0), 43));
        assert!(!t.handle(a, b, Some(1), ts(1), 52));
        assert!(t.is_empty());
    }

    /// `tag:session,2,seconds`, packets every half second from 1000.0: tagged through 1002.5.
    #[test]
    fn session_seconds() {
        let (a, b) = (ip("10.0.0.1"), ip("10.0.0.2"));
        let mut t = Tags::default();
        t.add(
            &session(2, TagMetric::Seconds),
            1,
            1,
            &subj(a, b, Some(1), ts(1000)),
        );
        let mut got = Vec::new();
        for i in 0..9 {
            let when = Timestamp {
                secs: 1000 + i / 2,
                nanos: if i % 2 == 1 { 500_000_000 } else { 0 },
            };
            if t.handle(a, b, Some(1), when, 60) {
                got.push(i + 1);
            }
        }
        assert_eq!(got, vec![2, 3, 4, 5, 6]);
    }

    /// `tag:host,3,packets,src` then traffic of other flows: as Suricata 7.0.10 (packets 2
    /// and 4 tagged; 5, from the host to itself, counts twice and expires the entry).
    #[test]
    fn host_tag_counts_both_sides() {
        let (h1, h2, h3, h9) = (
            ip("10.0.0.1"),
            ip("10.0.0.2"),
            ip("10.0.0.3"),
            ip("10.0.0.9"),
        );
        let tag = Tag {
            kind: TagKind::Host,
            count: 3,
            metric: TagMetric::Packets,
            src: true,
        };
        let mut t = Tags::default();
        t.add(&tag, 1, 1, &subj(h1, h2, Some(1), ts(1000)));
        let pkts = [(h1, h2), (h3, h1), (h2, h9), (h1, h2), (h1, h1), (h1, h2)];
        let mut got = Vec::new();
        for (i, (s, d)) in pkts.iter().enumerate() {
            if t.handle(*s, *d, None, ts(1000 + i as i64), 60) {
                got.push(i + 1);
            }
        }
        assert_eq!(got, vec![2, 4]);
    }

    #[test]
    fn pool_is_bounded() {
        let (a, b) = (ip("10.0.0.1"), ip("10.0.0.2"));
        let mut t = Tags::with_capacity(4);
        for f in 0..10 {
            t.add(
                &session(5, TagMetric::Packets),
                1,
                1,
                &subj(a, b, Some(f), ts(0)),
            );
        }
        assert_eq!(t.len(), 4);
        assert_eq!(t.dropped, 6);
        assert_eq!(t.entries.capacity(), 4);
        // a flow idle for longer than any flow lives is reclaimed
        t.add(
            &session(5, TagMetric::Packets),
            1,
            1,
            &subj(a, b, Some(99), ts(4000)),
        );
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn per_owner_limit() {
        let (a, b) = (ip("10.0.0.1"), ip("10.0.0.2"));
        let mut t = Tags::default();
        for sid in 0..60 {
            t.add(
                &session(5, TagMetric::Packets),
                sid,
                1,
                &subj(a, b, Some(1), ts(0)),
            );
        }
        assert_eq!(t.len(), MAX_TAGS);
    }
}
