//! `threshold`, `detection_filter` and threshold.config suppression, with the counting rules
//! of Suricata 7's `ThresholdHandlePacket`: per tracked entity (source, destination, both,
//! the rule, or the flow) a counter and a window start; windows are measured in packet time.
//!
//! Memory is bounded: at most `MAX_ENTRIES` tracked entities; when full, entries whose window
//! has expired are dropped first, then the oldest.

use std::collections::HashMap;
use std::net::IpAddr;

use crate::capture::Timestamp;
use crate::rules::ast::{Action, Threshold, ThresholdKind, Track};
use crate::rules::threshold_config::{RateAction, RateFilter};

pub const MAX_ENTRIES: usize = 65_536;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Entity {
    Addr(IpAddr),
    Pair(IpAddr, IpAddr),
    Rule,
    Flow(u64),
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    count: u32,
    start: Timestamp,
}

/// A `rate_filter`'s state for one tracked entity: the window as for thresholds, and the
/// second (packet time) the new action was switched on, 0 when it is off.
#[derive(Debug, Clone, Copy)]
struct RateEntry {
    count: u32,
    start: Timestamp,
    since: i64,
}

/// Per-engine thresholding state, keyed by (signature number, tracked entity).
pub struct Thresholds {
    table: HashMap<(u32, Entity), Entry>,
    rates: HashMap<(u32, Entity), RateEntry>,
    pub suppressed: u64,
}

/// Entries reserved up front, so tracking does not allocate on the packet path.
const RESERVED: usize = 4096;

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            table: HashMap::with_capacity(RESERVED),
            rates: HashMap::new(),
            suppressed: 0,
        }
    }
}

/// What the packet offers for tracking.
#[derive(Debug, Clone, Copy)]
pub struct Subject {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub flow_id: Option<u64>,
    pub ts: Timestamp,
}

fn within(ts: Timestamp, start: Timestamp, seconds: u32) -> bool {
    // ts <= start + seconds, at full precision
    let end = (start.secs + seconds as i64, start.nanos);
    (ts.secs, ts.nanos) <= end
}

fn entity(track: Track, s: &Subject) -> Option<Entity> {
    Some(match track {
        Track::BySrc => Entity::Addr(s.src),
        Track::ByDst => Entity::Addr(s.dst),
        // an IP pair either way round, as Suricata's IPPair
        Track::ByBoth if s.src <= s.dst => Entity::Pair(s.src, s.dst),
        Track::ByBoth => Entity::Pair(s.dst, s.src),
        Track::ByRule => Entity::Rule,
        Track::ByFlow => Entity::Flow(s.flow_id?),
    })
}

impl Thresholds {
    /// The action of an alert of signature `sig` under its `rate_filter` (Suricata 7's
    /// `IsThresholdReached`): the alert is always raised; once more than `count` matches
    /// fall within `seconds` of the window's first, its action is `new_action` until
    /// `timeout` seconds have passed. `log` and `sdrop` leave the action, as in Suricata.
    /// None while the filter is not reached; Some(action) when it is (Suricata's
    /// PACKET_ALERT_RATE_FILTER_MODIFIED, which EVE shows).
    pub fn rate_action(
        &mut self,
        sig: u32,
        rf: &RateFilter,
        s: &Subject,
        action: Action,
    ) -> Option<Action> {
        let entity = entity(rf.track, s)?;
        let reached = match self.rates.get_mut(&(sig, entity)) {
            Some(e) if e.since != 0 => {
                if s.ts.secs - e.since > i64::from(rf.timeout) {
                    e.since = 0;
                    false
                } else {
                    true
                }
            }
            Some(e) => {
                if within(s.ts, e.start, rf.seconds) {
                    e.count = e.count.saturating_add(1);
                    if e.count > rf.count {
                        e.since = s.ts.secs;
                        true
                    } else {
                        false
                    }
                } else {
                    e.start = s.ts;
                    e.count = 1;
                    false
                }
            }
            None => {
                if self.rates.len() >= MAX_ENTRIES {
                    let now = s.ts.secs;
                    self.rates
                        .retain(|_, e| now - e.start.secs < 3600 || e.since != 0);
                }
                if self.rates.len() < MAX_ENTRIES {
                    self.rates.insert(
                        (sig, entity),
                        RateEntry {
                            count: 1,
                            start: s.ts,
                            since: 0,
                        },
                    );
                }
                false
            }
        };
        if !reached {
            return None;
        }
        Some(match rf.new_action {
            RateAction::Alert => Action::Alert,
            RateAction::Drop => Action::Drop,
            RateAction::Reject => Action::Reject,
            RateAction::Pass => Action::Pass,
            RateAction::Log | RateAction::Sdrop => action,
        })
    }

    /// Decide whether a match of signature `sig` raises an alert.
    pub fn allow(&mut self, sig: u32, t: &Threshold, s: &Subject) -> bool {
        let Some(entity) = entity(t.track, s) else {
            return true;
        };
        let key = (sig, entity);
        let ok = match self.table.get_mut(&key) {
            Some(e) => {
                if within(s.ts, e.start, t.seconds) {
                    e.count = e.count.saturating_add(1);
                    match t.kind {
                        ThresholdKind::Limit => e.count <= t.count,
                        ThresholdKind::Threshold => {
                            if e.count >= t.count {
                                e.count = 0;
                                true
                            } else {
                                false
                            }
                        }
                        ThresholdKind::Both => e.count == t.count,
                        ThresholdKind::DetectionFilter => e.count > t.count,
                    }
                } else {
                    e.start = s.ts;
                    e.count = 1;
                    match t.kind {
                        ThresholdKind::Limit => true,
                        ThresholdKind::Threshold => false,
                        ThresholdKind::Both => t.count == 1,
                        ThresholdKind::DetectionFilter => false,
                    }
                }
            }
            None => {
                let first = match t.kind {
                    ThresholdKind::Limit => true,
                    ThresholdKind::Threshold => t.count == 1,
                    ThresholdKind::Both => t.count == 1,
                    ThresholdKind::DetectionFilter => t.count == 0,
                };
                // Suricata does not store an entry for `threshold` with count 1.
                if !(t.kind == ThresholdKind::Threshold && t.count == 1) {
                    self.make_room(s.ts);
                    self.table.insert(
                        key,
                        Entry {
                            count: 1,
                            start: s.ts,
                        },
                    );
                }
                first
            }
        };
        if !ok {
            self.suppressed += 1;
        }
        ok
    }

    fn make_room(&mut self, now: Timestamp) {
        if self.table.len() < MAX_ENTRIES {
            return;
        }
        // drop entries idle for more than an hour of packet time, else the oldest half
        self.table.retain(|_, e| now.secs - e.start.secs < 3600);
        if self.table.len() >= MAX_ENTRIES {
            let mut starts: Vec<i64> = self.table.values().map(|e| e.start.secs).collect();
            starts.sort_unstable();
            let cut = starts[starts.len() / 2];
            self.table.retain(|_, e| e.start.secs > cut);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subj(secs: i64) -> Subject {
        Subject {
            src: "10.0.0.1".parse().unwrap(),
            dst: "10.0.0.2".parse().unwrap(),
            flow_id: Some(1),
            ts: Timestamp { secs, nanos: 0 },
        }
    }

    fn run(kind: ThresholdKind, count: u32, seconds: u32, times: &[i64]) -> Vec<bool> {
        let mut t = Thresholds::default();
        let th = Threshold {
            kind,
            track: Track::BySrc,
            count,
            seconds,
        };
        times.iter().map(|&s| t.allow(0, &th, &subj(s))).collect()
    }

    #[test]
    fn limit() {
        assert_eq!(
            run(ThresholdKind::Limit, 2, 60, &[0, 1, 2, 3, 61, 62, 63]),
            [true, true, false, false, true, true, false]
        );
    }

    #[test]
    fn threshold_every_nth() {
        assert_eq!(
            run(ThresholdKind::Threshold, 3, 60, &[0, 1, 2, 3, 4, 5, 6]),
            [false, false, true, false, false, true, false]
        );
    }

    #[test]
    fn both_once_per_window() {
        assert_eq!(
            run(ThresholdKind::Both, 2, 60, &[0, 1, 2, 3, 70, 71]),
            [false, true, false, false, false, true]
        );
    }

    #[test]
    fn detection_filter_after_count() {
        assert_eq!(
            run(
                ThresholdKind::DetectionFilter,
                2,
                60,
                &[0, 1, 2, 3, 100, 101, 102]
            ),
            [false, false, true, true, false, false, true]
        );
    }
}
