//! UDP, and the tunnels found by UDP port (Suricata's DecodeUDP): Teredo, then Geneve, then
//! VXLAN, each where its `decoder.*` settings say. A datagram to the TZSP port of the
//! captured packet is left to TZSP decapsulation.

use super::ctx::{be16, Ctx};
use super::packet::{UdpHdr, L4};
use super::stats::Counter;
use super::{geneve, teredo, vxlan};

pub const HEADER_LEN: usize = 8;

pub(crate) fn decode<'a>(cx: &mut Ctx<'_, 'a>, data: &'a [u8]) {
    cx.layer(Counter::Udp);
    if data.len() < HEADER_LEN {
        cx.invalid(Counter::UdpHlenTooSmall);
        return;
    }
    let ulen = usize::from(be16(data, 4));
    if data.len() < ulen {
        cx.invalid(Counter::UdpPktTooSmall);
        return;
    }
    if ulen < HEADER_LEN {
        cx.invalid(Counter::UdpLenInvalid);
        return;
    }
    if data.len() != ulen {
        // Still decoded; only an event.
        cx.event(Counter::UdpHlenInvalid);
    }
    let end = ulen;
    // HEADER_LEN <= end <= data.len() from here on.
    let dgram = &data[..end];
    let (sp, dp) = (be16(dgram, 0), be16(dgram, 2));
    cx.pkt.l4 = L4::Udp(UdpHdr {
        src_port: sp,
        dst_port: dp,
        len: ulen as u16,
    });
    let payload = &dgram[HEADER_LEN..];
    cx.pkt.payload = payload;
    cx.pkt.wants_flow = true;

    let cfg = cx.cfg;
    if cfg.tzsp && cx.pkt.depth == 0 && !cx.pkt.tzsp && dp == cfg.tzsp_port {
        return;
    }
    // Each decoder that takes the datagram ends the search; one that does not leaves it to
    // the next (and to the application layer).
    let _ = (cfg.teredo.applies(sp, dp) && teredo::decode(cx, payload))
        || (cfg.geneve.applies(sp, dp) && geneve::decode(cx, payload))
        || (cfg.vxlan.applies(sp, dp) && vxlan::decode(cx, payload));
}
