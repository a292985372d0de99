//! Tunnelled packets (Suricata's PacketTunnelPktSetup): the packet a tunnel carries is
//! decoded as a packet of its own, one level deeper, borrowing the same frame.
//!
//! Accepted tunnelled packets go to the frame's packet list as their decoding ends, so a
//! packet carried inside a tunnelled packet comes before it: the order Suricata processes
//! them in. The carrier keeps its own headers for detection, but not its payload
//! (`Packet::carries_tunnel`).

use super::ctx::Ctx;
use super::packet::{Packet, PktSrc};
use super::stats::Counter;
use super::{ethernet, ipv4, ipv6};

/// What the tunnel carries (Suricata's DecodeTunnelProto).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Inner {
    Ipv4,
    Ipv6,
    /// IPv6 from Teredo: dropped when anything in it makes it invalid.
    Teredo,
    /// A VLAN tag, then what its EtherType names.
    Vlan,
    Ethernet,
}

/// Decodes `data` as a packet carried by the current one. True when it decoded and was
/// accepted (then the current packet `carries_tunnel`); false when Suricata would drop it:
/// the layer budget is spent (counted on the carrier), its first layer fails, or it is
/// Teredo and invalid. A dropped packet's layer counters stay counted, its events do not.
pub(crate) fn spawn<'a>(cx: &mut Ctx<'_, 'a>, data: &'a [u8], inner: Inner, src: PktSrc) -> bool {
    if !cx.can_spawn() {
        cx.invalid(Counter::TooManyLayers);
        return false;
    }
    let mut child = Packet::new(cx.pkt.ts, data);
    child.depth = cx.pkt.depth.saturating_add(1);
    child.src = src;
    let parent = cx.begin_child(child);
    let decoded = match inner {
        Inner::Ipv4 => ipv4::decode(cx, data),
        Inner::Ipv6 | Inner::Teredo => ipv6::decode(cx, data),
        Inner::Vlan => ethernet::decode_vlan(cx, data),
        Inner::Ethernet => ethernet::decode(cx, data),
    };
    let keep = decoded && !(inner == Inner::Teredo && cx.invalid);
    let child = cx.end_child(parent, keep);
    if !keep {
        return false;
    }
    // can_spawn left room for it
    if !cx.out.push(child) {
        cx.invalid(Counter::TooManyLayers);
        return false;
    }
    cx.pkt.carries_tunnel = true;
    true
}
