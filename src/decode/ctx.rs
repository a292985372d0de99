//! Per-packet decoding state shared by the protocol decoders: the packet being filled in,
//! the counters, the layer budget and the "invalid" mark.

use super::packet::Packet;
use super::stats::{Counter, DecodeStats};

/// Layer counters remembered per packet, so that a TZSP transport can be un-counted.
const TRAIL: usize = 32;

pub(crate) struct Ctx<'s, 'a> {
    pub stats: &'s mut DecodeStats,
    pub pkt: Packet<'a>,
    /// Some event that makes the packet invalid was seen (Suricata's PKT_IS_INVALID).
    pub invalid: bool,
    /// The innermost IP packet is a first fragment (more fragments follow): its layer 4
    /// may be cut short by the fragment's end.
    pub first_fragment: bool,
    layers: u8,
    max_layers: u8,
    trail: [Counter; TRAIL],
    trail_len: usize,
}

impl<'s, 'a> Ctx<'s, 'a> {
    pub fn new(stats: &'s mut DecodeStats, pkt: Packet<'a>, max_layers: u8) -> Ctx<'s, 'a> {
        Ctx {
            stats,
            pkt,
            invalid: false,
            first_fragment: false,
            layers: 0,
            max_layers,
            trail: [Counter::Pkts; TRAIL],
            trail_len: 0,
        }
    }

    /// Counts a protocol layer (decoder.ethernet, decoder.ipv4, ...).
    #[inline]
    pub fn layer(&mut self, c: Counter) {
        self.stats.inc(c);
        if self.trail_len < TRAIL {
            self.trail[self.trail_len] = c;
            self.trail_len += 1;
        }
    }

    /// Counts an event that does not make the packet invalid.
    #[inline]
    pub fn event(&mut self, c: Counter) {
        self.stats.inc(c);
    }

    /// Counts an event that makes the packet invalid.
    #[inline]
    pub fn invalid(&mut self, c: Counter) {
        self.stats.inc(c);
        self.invalid = true;
    }

    /// Enters one more decoding layer (Suricata's PacketIncreaseCheckLayers); false, with
    /// `decoder.too_many_layers` counted, once the budget is spent.
    #[inline]
    pub fn enter(&mut self) -> bool {
        self.layers = self.layers.saturating_add(1);
        if self.layers >= self.max_layers {
            self.invalid(Counter::TooManyLayers);
            return false;
        }
        true
    }

    /// Takes back the layer counters counted so far and starts over with `pkt` (used when
    /// the packet so far was only the transport of the real one, e.g. TZSP).
    pub fn restart(&mut self, pkt: Packet<'a>) {
        for &c in &self.trail[..self.trail_len] {
            self.stats.dec(c);
        }
        self.trail_len = 0;
        self.layers = 0;
        self.first_fragment = false;
        self.pkt = pkt;
    }
}

/// Big-endian u16 at `off`; the caller has checked the length.
#[inline]
pub(crate) fn be16(d: &[u8], off: usize) -> u16 {
    u16::from_be_bytes([d[off], d[off + 1]])
}

/// Big-endian u32 at `off`; the caller has checked the length.
#[inline]
pub(crate) fn be32(d: &[u8], off: usize) -> u32 {
    u32::from_be_bytes([d[off], d[off + 1], d[off + 2], d[off + 3]])
}
