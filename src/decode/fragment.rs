//! The decoder's side of IP defragmentation (Suricata's DecodeIPV4/DecodeIPV6 handing a
//! fragment to Defrag()): a fragment is not decoded past its IP header; it goes to the
//! defragmenter (`crate::defrag`), its decoder events come back, and when it completes a
//! packet, the rebuilt packet is decoded from its IP header as a packet of its own: same
//! tunnel depth and VLANs as the fragment, `pkt_src` "defrag", processed before the fragment
//! (Suricata queues it on the decoder's packet queue, as it does tunnelled packets).

use super::ctx::Ctx;
use super::packet::{Packet, PktSrc};
use super::stats::Counter;
use super::{ipv4, ipv6};
use crate::defrag::Fragment;

/// `packet`'s bytes from its first byte and the offset of `ip` in them (`ip` is a view into
/// the packet's frame; anything else is taken on its own).
pub(crate) fn locate<'p>(frame: &'p [u8], ip: &'p [u8]) -> (&'p [u8], usize) {
    let (f, i) = (frame.as_ptr() as usize, ip.as_ptr() as usize);
    match i.checked_sub(f) {
        Some(off) if off + ip.len() <= frame.len() => (frame, off),
        _ => (ip, 0),
    }
}

/// Hands fragment `f` of the current packet to the defragmenter; decodes the rebuilt packet
/// when there is one.
pub(crate) fn handle<'a>(cx: &mut Ctx<'_, 'a>, f: &Fragment<'_>) {
    let o = cx.defrag.insert(f);
    let (overlap, too_large, ignored) = if f.v6 {
        (
            Counter::Ipv6FragOverlap,
            Counter::Ipv6FragPktTooLarge,
            Counter::Ipv6FragIgnored,
        )
    } else {
        (
            Counter::Ipv4FragOverlap,
            Counter::Ipv4FragPktTooLarge,
            Counter::Ipv4FragIgnored,
        )
    };
    if o.too_large {
        cx.event(too_large);
    }
    if o.ignored {
        cx.event(ignored);
    }
    if let Some(r) = o.reassembled {
        decode_reassembled(cx, r.data, r.ip_offset, r.ip_len, f.v6);
    }
    // Suricata sets the overlap event last, once the fragment is in
    if o.overlap {
        cx.event(overlap);
    }
}

fn decode_reassembled<'a>(
    cx: &mut Ctx<'_, 'a>,
    data: &'a [u8],
    ip_offset: usize,
    ip_len: usize,
    v6: bool,
) {
    let Some(ip) = ip_offset
        .checked_add(ip_len)
        .and_then(|end| data.get(ip_offset..end))
    else {
        return;
    };
    if !cx.has_room() {
        cx.invalid(Counter::TooManyLayers);
        return;
    }
    let mut child = Packet::new(cx.pkt.ts, data);
    child.depth = cx.pkt.depth;
    child.src = PktSrc::Defrag;
    child.vlan = cx.pkt.vlan;
    child.vlan_count = cx.pkt.vlan_count;
    child.tzsp = cx.pkt.tzsp;
    let parent = cx.begin_reassembled(child);
    let decoded = if v6 {
        ipv6::decode(cx, ip)
    } else {
        ipv4::decode(cx, ip)
    };
    let child = cx.end_child(parent, decoded);
    if decoded && !cx.out.push(child) {
        cx.invalid(Counter::TooManyLayers);
    }
}
