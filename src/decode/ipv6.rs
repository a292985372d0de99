//! IPv6 and its extension headers (hop-by-hop, routing, fragment, destination options, AH,
//! mobility, HIP, shim6; "no next header" = 59). A fragment with a non-zero offset has no
//! layer 4.

use std::net::IpAddr;

use smoltcp::wire::Ipv6Packet;

use super::ctx::{be16, be32, Ctx};
use super::ip;
use super::packet::IpHdr;
use super::stats::Counter;

pub const HEADER_LEN: usize = 40;

const NH_HOP: u8 = 0;
const NH_ROUTING: u8 = 43;
const NH_FRAGMENT: u8 = 44;
const NH_AH: u8 = 51;
const NH_NONE: u8 = 59;
const NH_DSTOPTS: u8 = 60;
const NH_MH: u8 = 135;
const NH_HIP: u8 = 139;
const NH_SHIM6: u8 = 140;

/// IPv6; false where Suricata's DecodeIPV6 fails (layer budget, fixed-header checks), which
/// drops a tunnelled packet.
pub(crate) fn decode<'a>(cx: &mut Ctx<'_, 'a>, data: &'a [u8]) -> bool {
    cx.layer(Counter::Ipv6);
    if !cx.enter() {
        return false;
    }
    if data.len() < HEADER_LEN {
        cx.invalid(Counter::Ipv6PktTooSmall);
        return false;
    }
    if data[0] >> 4 != 6 {
        cx.invalid(Counter::Ipv6WrongIpVersion);
        return false;
    }
    let total = HEADER_LEN + usize::from(be16(data, 4));
    if data.len() < total {
        cx.invalid(Counter::Ipv6TruncPkt);
        return false;
    }
    let Ok(pkt) = Ipv6Packet::new_checked(&data[..total]) else {
        cx.invalid(Counter::Ipv6TruncPkt);
        return false;
    };
    let mut hdr = IpHdr {
        version: 6,
        src: IpAddr::V6(pkt.src_addr()),
        dst: IpAddr::V6(pkt.dst_addr()),
        proto: data[6],
        ttl: pkt.hop_limit(),
        tos: pkt.traffic_class(),
        id: 0,
        frag_flags: 0,
        frag_offset: 0,
        ipopts: 0,
        hdr_len: HEADER_LEN as u16,
        total_len: total as u32,
    };
    cx.pkt.l4 = Default::default();
    cx.pkt.payload = &[];
    let payload = pkt.payload();
    let mut nh = hdr.proto;
    let mut off = 0usize;
    // Extension headers seen, for duplicate events.
    let (mut hop, mut rh, mut fh, mut ah, mut dst) = (false, false, false, false, 0u8);
    loop {
        let rest = &payload[off..];
        hdr.proto = nh;
        hdr.hdr_len = (HEADER_LEN + off) as u16;
        match nh {
            NH_HOP | NH_ROUTING | NH_DSTOPTS | NH_MH | NH_HIP | NH_SHIM6 | NH_AH => {
                if rest.len() < 2 {
                    cx.invalid(Counter::Ipv6TruncExthdr);
                    break;
                }
                let len = if nh == NH_AH {
                    (usize::from(rest[1]) + 2) * 4
                } else {
                    (usize::from(rest[1]) + 1) * 8
                };
                if len > rest.len() {
                    cx.invalid(Counter::Ipv6TruncExthdr);
                    break;
                }
                match nh {
                    NH_HOP => {
                        if hop {
                            cx.event(Counter::Ipv6ExthdrDuplHh);
                        }
                        hop = true;
                    }
                    NH_ROUTING => {
                        if rh {
                            cx.event(Counter::Ipv6ExthdrDuplRh);
                        }
                        rh = true;
                        if rest[2] == 0 {
                            cx.event(Counter::Ipv6RhType0);
                        }
                    }
                    NH_DSTOPTS => {
                        // Allowed twice: before a routing header and at the end.
                        if dst >= 2 {
                            cx.event(Counter::Ipv6ExthdrDuplDh);
                        }
                        dst = dst.saturating_add(1);
                    }
                    NH_AH => {
                        if ah {
                            cx.event(Counter::Ipv6ExthdrDuplAh);
                        }
                        ah = true;
                        if len >= 4 && be16(rest, 2) != 0 {
                            cx.event(Counter::Ipv6ExthdrAhResNotNull);
                        }
                    }
                    _ => {}
                }
                nh = rest[0];
                off += len;
            }
            NH_FRAGMENT => {
                if rest.len() < 8 {
                    cx.invalid(Counter::Ipv6TruncExthdr);
                    break;
                }
                if fh {
                    cx.event(Counter::Ipv6ExthdrDuplFh);
                }
                fh = true;
                if rest[1] != 0 {
                    cx.event(Counter::Ipv6FhNonZeroReservedField);
                }
                let fo = be16(rest, 2);
                hdr.frag_offset = fo >> 3;
                hdr.frag_flags = (fo & 1) as u8;
                hdr.id = be32(rest, 4);
                if hdr.frag_offset == 0 && hdr.frag_flags == 0 {
                    cx.event(Counter::Ipv6ExthdrUselessFh);
                }
                nh = rest[0];
                off += 8;
                if hdr.frag_offset != 0 {
                    hdr.proto = nh;
                    hdr.hdr_len = (HEADER_LEN + off) as u16;
                    break;
                }
            }
            NH_NONE => {
                if !rest.is_empty() {
                    cx.event(Counter::Ipv6DataAfterNoneHeader);
                }
                break;
            }
            _ => {
                cx.pkt.ip = Some(hdr);
                cx.first_fragment = hdr.frag_flags & 1 != 0;
                ip::decode_upper_v6(cx, nh, rest, off > 0);
                return true;
            }
        }
    }
    cx.pkt.ip = Some(hdr);
    true
}
