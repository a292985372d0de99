//! IPv6 and its extension headers (hop-by-hop, routing, fragment, destination options, AH,
//! mobility, HIP, shim6; "no next header" = 59). A fragment (a fragment header with an
//! offset or more to come) stops at its fragment header and goes to the defragmenter.

use std::net::IpAddr;

use smoltcp::wire::Ipv6Packet;

use super::ctx::{be16, be32, Ctx};
use super::packet::IpHdr;
use super::stats::Counter;
use super::{fragment, ip};
use crate::defrag::Fragment;

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
        frag_hdr: false,
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
    // The length of the extension header before the current one.
    let mut prev_len = 0usize;
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
                prev_len = len;
            }
            NH_FRAGMENT => {
                if rest.len() < 8 {
                    cx.invalid(Counter::Ipv6TruncExthdr);
                    break;
                }
                if rest[1] != 0 {
                    cx.event(Counter::Ipv6FhNonZeroReservedField);
                }
                if fh {
                    cx.event(Counter::Ipv6ExthdrDuplFh);
                    nh = rest[0];
                    off += 8;
                    prev_len = 8;
                    continue;
                }
                fh = true;
                hdr.frag_hdr = true;
                let fo = be16(rest, 2);
                hdr.frag_offset = fo >> 3;
                hdr.frag_flags = (fo & 1) as u8;
                hdr.id = be32(rest, 4);
                if hdr.frag_offset == 0 && hdr.frag_flags == 0 {
                    cx.event(Counter::Ipv6ExthdrUselessFh);
                    nh = rest[0];
                    off += 8;
                    prev_len = 8;
                    continue;
                }
                // Suricata's DecodeIPV6ExtHdrs: the rest is decoded upon reassembly
                if hdr.frag_flags != 0 && rest.len() % 8 != 0 {
                    cx.event(Counter::Ipv6FragInvalidLength);
                }
                cx.pkt.ip = Some(hdr);
                cx.pkt.l3 = data;
                cx.pkt.checksums_ignored = cx.cfg.checksums_ignored;
                let (packet, at) = fragment::locate(cx.pkt.frame, data);
                let fh_at = at + HEADER_LEN + off;
                let f = Fragment {
                    v6: true,
                    src: hdr.src,
                    dst: hdr.dst,
                    id: hdr.id,
                    proto: NH_FRAGMENT,
                    vlan: cx.pkt.vlan,
                    ts: cx.pkt.ts,
                    packet,
                    ip_hdr_offset: at,
                    hlen: 0,
                    frag_hdr_offset: fh_at,
                    data_offset: fh_at + 8,
                    data_len: rest.len() - 8,
                    frag_offset: usize::from(fo & 0xfff8),
                    more_frags: hdr.frag_flags != 0,
                    nh_fix: (off > 0 && prev_len > 0).then(|| (fh_at - prev_len, rest[0])),
                };
                fragment::handle(cx, &f);
                return true;
            }
            NH_NONE => {
                if !rest.is_empty() {
                    cx.event(Counter::Ipv6DataAfterNoneHeader);
                }
                break;
            }
            _ => {
                cx.pkt.ip = Some(hdr);
                cx.pkt.l3 = data;
                cx.pkt.checksums_ignored = cx.cfg.checksums_ignored;
                ip::decode_upper_v6(cx, nh, rest, off > 0);
                return true;
            }
        }
    }
    cx.pkt.ip = Some(hdr);
    cx.pkt.l3 = data;
    cx.pkt.checksums_ignored = cx.cfg.checksums_ignored;
    true
}
