//! Counters shared between the daemon's threads, and the stats they add up to.
//!
//! The capture thread counts in atomics (`CaptureCounters`); the matcher owns its decoder,
//! flow and detection counters and publishes a copy (`ProcessorStats`) a few times a second
//! and at exit. `collect` assembles both into the EVE stats event's counters.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use super::process::ProcessorStats;
use crate::output::stats::Counters;

macro_rules! capture_counters {
    ($($field:ident => $name:literal,)*) => {
        /// What the capture side saw. Names are the EVE stats names (under `capture.`).
        #[derive(Debug, Default)]
        pub struct CaptureCounters {
            $(pub $field: AtomicU64,)*
        }

        impl CaptureCounters {
            /// Every counter with its stats name, in output order.
            pub fn for_each(&self, mut f: impl FnMut(&'static str, u64)) {
                $(f($name, self.$field.load(Relaxed));)*
            }
        }
    };
}

capture_counters! {
    kernel_packets => "capture.kernel_packets",
    kernel_drops => "capture.kernel_drops",
    ring_drops => "capture.ring_drops",
    oversize => "capture.oversize",
    tzsp_datagrams => "capture.tzsp.datagrams",
    tzsp_packets => "capture.tzsp.packets",
    tzsp_sender_denied => "capture.tzsp.sender_denied",
    tzsp_garbage => "capture.tzsp.garbage",
    tzsp_truncated => "capture.tzsp.truncated",
    tzsp_unknown_encapsulation => "capture.tzsp.unknown_encapsulation",
    tzsp_unsupported_type => "capture.tzsp.unsupported_type",
    tzsp_oversize => "capture.tzsp.oversize",
}

impl CaptureCounters {
    #[inline]
    pub fn add(c: &AtomicU64, n: u64) {
        // One writer (the capture thread): a plain load + store is enough and cheaper than a
        // locked add.
        c.store(c.load(Relaxed).wrapping_add(n), Relaxed);
    }
    #[inline]
    pub fn inc(c: &AtomicU64) {
        Self::add(c, 1);
    }
    #[inline]
    pub fn set(c: &AtomicU64, v: u64) {
        c.store(v, Relaxed);
    }
}

/// The stats event's counters: capture first (as Suricata), then the decoder, flow and
/// detect counters.
pub fn collect(capture: &CaptureCounters, processor: &ProcessorStats) -> Counters {
    let mut c = Counters::default();
    capture.for_each(|n, v| c.push(n, v));
    processor.push_counters(&mut c);
    c
}
