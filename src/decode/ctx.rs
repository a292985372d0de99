//! Per-packet decoding state shared by the protocol decoders: the packet being filled in,
//! its decoder events, the layer budget and the "invalid" mark, plus the tunnelled packets
//! found so far.
//!
//! Counters come in two kinds, as in Suricata. Layer counters (`decoder.ipv4`, ...) count at
//! once (`layer`). Events (`decoder.event.*`) belong to the packet (`event`, `invalid`): at
//! most 15 are kept per packet, and they are counted when the packet is processed: always
//! for the captured packet, only when accepted for a tunnelled one (a tunnelled packet that
//! fails to decode is dropped with its events, as Suricata drops it).

use std::mem::MaybeUninit;

use super::packet::Packet;
use super::stats::{Counter, DecodeStats};
use super::DecoderConfig;
use crate::defrag::Session;

/// Layer counters remembered per packet, so that a TZSP transport can be un-counted.
const TRAIL: usize = 32;

/// Events kept per packet (Suricata's `PACKET_ENGINE_EVENT_MAX`).
pub(crate) const MAX_EVENTS: usize = 15;

/// The packets of one frame at most, the captured one included. Eight is what the default
/// layer budget (16) allows: a captured IPv6 packet and seven levels of IPv6 in IPv6, each
/// level costing two layers.
pub const MAX_PACKETS: usize = 8;
const MAX_TUNNELLED: usize = MAX_PACKETS - 1;

/// The tunnelled packets of a frame, as they are accepted: a fixed-capacity list whose unused
/// places are left uninitialised. (A `heapless::Vec` of packets is created by zeroing all of
/// it, a 1 KB memset per frame.)
#[derive(Clone, Copy)]
pub(crate) struct PacketList<'a> {
    buf: [MaybeUninit<Packet<'a>>; MAX_TUNNELLED],
    len: usize,
}

impl<'a> PacketList<'a> {
    #[inline]
    pub fn new() -> PacketList<'a> {
        PacketList {
            // SAFETY: an array of `MaybeUninit` is valid uninitialised.
            buf: unsafe { MaybeUninit::uninit().assume_init() },
            len: 0,
        }
    }

    /// Appends `p`; false when the list is full.
    #[inline]
    pub fn push(&mut self, p: Packet<'a>) -> bool {
        match self.buf.get_mut(self.len) {
            Some(slot) => {
                slot.write(p);
                self.len += 1;
                true
            }
            None => false,
        }
    }

    pub fn clear(&mut self) {
        self.len = 0;
    }
}

impl<'a> std::ops::Deref for PacketList<'a> {
    type Target = [Packet<'a>];

    #[inline]
    fn deref(&self) -> &[Packet<'a>] {
        // SAFETY: the first `len` places were written by `push` (`len` only grows there, and
        // never past the array); `MaybeUninit<T>` has `T`'s layout.
        unsafe { std::slice::from_raw_parts(self.buf.as_ptr().cast::<Packet<'a>>(), self.len) }
    }
}

impl std::fmt::Debug for PacketList<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// The decoder events of one packet.
#[derive(Clone, Copy)]
pub(crate) struct Events {
    list: [Counter; MAX_EVENTS],
    n: u8,
}

impl Events {
    const NONE: Events = Events {
        list: [Counter::Pkts; MAX_EVENTS],
        n: 0,
    };

    fn push(&mut self, c: Counter) {
        if usize::from(self.n) < MAX_EVENTS {
            self.list[usize::from(self.n)] = c;
            self.n += 1;
        }
    }

    fn count(&self, stats: &mut DecodeStats) {
        for &c in &self.list[..usize::from(self.n)] {
            stats.inc(c);
        }
    }
}

/// What a tunnelled packet's decoding puts aside of its parent's state.
pub(crate) struct Parent<'a> {
    pkt: Packet<'a>,
    invalid: bool,
    layers: u8,
    events: Events,
}

pub(crate) struct Ctx<'s, 'a> {
    pub stats: &'s mut DecodeStats,
    pub cfg: &'s DecoderConfig,
    /// The packet being decoded: the captured packet's place, which holds a tunnelled packet
    /// while that is decoded (its carrier set aside in `Parent`).
    pub pkt: &'s mut Packet<'a>,
    /// Some event that makes the packet invalid was seen (Suricata's PKT_IS_INVALID).
    pub invalid: bool,
    /// Tunnelled and reassembled packets accepted so far, in the order Suricata processes
    /// them.
    pub out: &'s mut PacketList<'a>,
    /// IP defragmentation: the fragments go there, rebuilt packets come back (borrowing its
    /// output buffers for `'a`).
    pub defrag: Session<'s, 'a>,
    layers: u8,
    events: Events,
    trail: [Counter; TRAIL],
    trail_len: usize,
}

impl<'s, 'a> Ctx<'s, 'a> {
    pub fn new(
        stats: &'s mut DecodeStats,
        cfg: &'s DecoderConfig,
        out: &'s mut PacketList<'a>,
        pkt: &'s mut Packet<'a>,
        defrag: Session<'s, 'a>,
    ) -> Ctx<'s, 'a> {
        Ctx {
            stats,
            cfg,
            pkt,
            invalid: false,
            out,
            defrag,
            layers: 0,
            events: Events::NONE,
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

    /// Records an event that does not make the packet invalid.
    #[inline]
    pub fn event(&mut self, c: Counter) {
        self.events.push(c);
    }

    /// Records an event that makes the packet invalid.
    #[inline]
    pub fn invalid(&mut self, c: Counter) {
        self.events.push(c);
        self.invalid = true;
    }

    /// Enters one more decoding layer (Suricata's PacketIncreaseCheckLayers); false, with
    /// `decoder.too_many_layers` recorded, once the budget is spent.
    #[inline]
    pub fn enter(&mut self) -> bool {
        self.layers = self.layers.saturating_add(1);
        if self.layers >= self.cfg.max_layers {
            self.invalid(Counter::TooManyLayers);
            return false;
        }
        true
    }

    /// Whether one more packet may be taken out of this one: Suricata checks the layer
    /// budget before it sets up a tunnel packet. The list must also keep room for the new
    /// packet and the tunnelled carriers still being decoded (one per level of depth below
    /// the captured packet); within the default budget of 16 layers it always does.
    pub fn can_spawn(&self) -> bool {
        self.layers.saturating_add(1) < self.cfg.max_layers && self.has_room()
    }

    /// Whether the packet list has room for one more packet, keeping a place for each
    /// carrier still being decoded.
    pub fn has_room(&self) -> bool {
        self.out.len() + usize::from(self.pkt.depth) < MAX_TUNNELLED
    }

    /// Starts decoding `child`, a packet carried by the current one; the current packet's
    /// state is set aside until `end_child`.
    pub fn begin_child(&mut self, child: Packet<'a>) -> Parent<'a> {
        let parent = Parent {
            pkt: std::mem::replace(self.pkt, child),
            invalid: std::mem::replace(&mut self.invalid, false),
            layers: self.layers,
            events: std::mem::replace(&mut self.events, Events::NONE),
        };
        self.layers = parent.layers.saturating_add(1);
        parent
    }

    /// Starts decoding `child`, a packet rebuilt from fragments of the current one: like
    /// `begin_child`, but with a layer budget of its own (Suricata decodes it as a new
    /// packet).
    pub fn begin_reassembled(&mut self, child: Packet<'a>) -> Parent<'a> {
        let parent = self.begin_child(child);
        self.layers = 0;
        parent
    }

    /// Ends a child's decoding: the parent's state comes back; the child's events are
    /// counted when it is `kept`. Returns the child.
    pub fn end_child(&mut self, parent: Parent<'a>, kept: bool) -> Packet<'a> {
        let child = std::mem::replace(self.pkt, parent.pkt);
        let events = std::mem::replace(&mut self.events, parent.events);
        if kept {
            events.count(self.stats);
        }
        self.invalid = parent.invalid;
        self.layers = parent.layers;
        child
    }

    /// Counts the current packet's events (the captured packet, when decoding is done).
    pub fn count_events(&mut self) {
        let events = std::mem::replace(&mut self.events, Events::NONE);
        events.count(self.stats);
    }

    /// Takes back the layer counters counted so far, forgets the events and tunnelled
    /// packets, and starts over with `pkt` (used when the packet so far was only the
    /// transport of the real one, e.g. TZSP).
    pub fn restart(&mut self, pkt: Packet<'a>) {
        for &c in &self.trail[..self.trail_len] {
            self.stats.dec(c);
        }
        self.trail_len = 0;
        self.layers = 0;
        self.invalid = false;
        self.events = Events::NONE;
        self.out.clear();
        *self.pkt = pkt;
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
