//! The matcher's side: the alerts of the heartbeat sids, verified (with a key) and counted.
//! Atomics only, one writer (the matcher), read by the health thread: no allocation and no
//! lock on the packet path.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use super::auth::{Verdict, Verifier};
use super::MAX_SIDS;

macro_rules! hb_counters {
    ($($field:ident => $name:literal,)*) => {
        /// What the matcher counted (names as in `ravn stats` and the status file).
        #[derive(Debug, Default)]
        pub struct HeartbeatCounters {
            $(pub $field: AtomicU64,)*
            /// The last accepted heartbeat's packet time (µs since the epoch).
            pub last_ts_us: AtomicU64,
            /// The last accepted counter (authenticated heartbeats).
            pub last_counter: AtomicU64,
            /// The capture stopped with an error.
            pub capture_failed: AtomicBool,
        }

        impl HeartbeatCounters {
            pub fn for_each(&self, mut f: impl FnMut(&'static str, u64)) {
                $(f($name, self.$field.load(Relaxed));)*
            }
        }
    };
}

hb_counters! {
    packets => "heartbeat.packets_seen",
    accepted => "heartbeat.accepted",
    unauthenticated => "heartbeat.rejected.unauthenticated",
    bad_tag => "heartbeat.rejected.bad_tag",
    replayed => "heartbeat.rejected.replayed",
    stale => "heartbeat.rejected.stale",
    malformed => "heartbeat.rejected.malformed",
}

#[inline]
fn bump(c: &AtomicU64, n: u64) {
    // one writer: load + store is enough
    c.store(c.load(Relaxed).wrapping_add(n), Relaxed);
}

impl HeartbeatCounters {
    /// The matcher received `n` more packets.
    #[inline]
    pub fn add_packets(&self, n: u64) {
        bump(&self.packets, n);
    }

    pub fn rejected(&self) -> u64 {
        self.unauthenticated.load(Relaxed)
            + self.bad_tag.load(Relaxed)
            + self.replayed.load(Relaxed)
            + self.stale.load(Relaxed)
            + self.malformed.load(Relaxed)
    }
}

/// Lives in the matcher's `Processor`.
pub struct HeartbeatWatch {
    sids: [u32; MAX_SIDS],
    n: usize,
    verifier: Verifier,
    pub counters: Arc<HeartbeatCounters>,
}

impl HeartbeatWatch {
    pub fn new(sids: &[u32], verifier: Verifier, counters: Arc<HeartbeatCounters>) -> Self {
        let mut a = [0u32; MAX_SIDS];
        let n = sids.len().min(MAX_SIDS);
        a[..n].copy_from_slice(&sids[..n]);
        counters
            .last_counter
            .store(verifier.last_counter(), Relaxed);
        HeartbeatWatch {
            sids: a,
            n,
            verifier,
            counters,
        }
    }

    #[inline]
    pub fn is_heartbeat(&self, sid: u32) -> bool {
        self.sids[..self.n].contains(&sid)
    }

    /// A heartbeat sid alerted on a packet with `payload` at `ts_us`.
    pub fn seen(&mut self, payload: &[u8], ts_us: u64) -> Verdict {
        let v = self.verifier.verify(payload, ts_us);
        let c = &self.counters;
        match v {
            Verdict::Accepted(counter) => {
                bump(&c.accepted, 1);
                c.last_ts_us.store(ts_us, Relaxed);
                c.last_counter.store(counter, Relaxed);
            }
            Verdict::Unauthenticated => bump(&c.unauthenticated, 1),
            Verdict::BadTag => bump(&c.bad_tag, 1),
            Verdict::Replayed => bump(&c.replayed, 1),
            Verdict::Stale => bump(&c.stale, 1),
            Verdict::Malformed => bump(&c.malformed, 1),
        }
        if !matches!(v, Verdict::Accepted(_)) {
            log::debug!("heartbeat rejected: {}", v.reason());
        }
        v
    }
}
