//! IPv4: header checks in Suricata's order, options (recorded as `ipopt` bits); a fragment
//! (an offset or more to come) stops at its IP header and goes to the defragmenter.

use std::net::IpAddr;

use smoltcp::wire::Ipv4Packet;

use super::ctx::{be16, Ctx};
use super::packet::{ipopt, IpHdr};
use super::stats::Counter;
use super::{fragment, ip};
use crate::defrag::Fragment;

pub const HEADER_LEN: usize = 20;

/// IPv4; false where Suricata's DecodeIPV4 fails (layer budget, header checks), which
/// drops a tunnelled packet.
pub(crate) fn decode<'a>(cx: &mut Ctx<'_, 'a>, data: &'a [u8]) -> bool {
    cx.layer(Counter::Ipv4);
    if !cx.enter() {
        return false;
    }
    if data.len() < HEADER_LEN {
        cx.invalid(Counter::Ipv4PktTooSmall);
        return false;
    }
    if data[0] >> 4 != 4 {
        cx.invalid(Counter::Ipv4WrongIpVersion);
        return false;
    }
    let hlen = usize::from(data[0] & 0x0f) * 4;
    if hlen < HEADER_LEN {
        cx.invalid(Counter::Ipv4HlenTooSmall);
        return false;
    }
    let iplen = usize::from(be16(data, 2));
    if iplen < hlen {
        cx.invalid(Counter::Ipv4IplenSmallerThanHlen);
        return false;
    }
    if data.len() < iplen {
        cx.invalid(Counter::Ipv4TruncPkt);
        return false;
    }
    // Anything after the total length is link-layer padding.
    let Ok(pkt) = Ipv4Packet::new_checked(&data[..iplen]) else {
        cx.invalid(Counter::Ipv4TruncPkt);
        return false;
    };
    let ipopts = if hlen > HEADER_LEN {
        match options(cx, &data[HEADER_LEN..hlen]) {
            Some(bits) => bits,
            None => return false,
        }
    } else {
        0
    };
    let flags_frag = be16(data, 6);
    let hdr = IpHdr {
        version: 4,
        src: IpAddr::V4(pkt.src_addr()),
        dst: IpAddr::V4(pkt.dst_addr()),
        proto: data[9],
        ttl: pkt.hop_limit(),
        tos: data[1],
        id: u32::from(pkt.ident()),
        frag_flags: (flags_frag >> 13) as u8,
        frag_offset: flags_frag & 0x1fff,
        frag_hdr: false,
        ipopts,
        hdr_len: hlen as u16,
        total_len: iplen as u32,
    };
    cx.pkt.ip = Some(hdr);
    cx.pkt.l3 = data;
    cx.pkt.checksums_ignored = cx.cfg.checksums_ignored;
    cx.pkt.l4 = Default::default();
    cx.pkt.payload = &[];
    if hdr.is_fragment() {
        // Suricata's DecodeIPV4: the rest is decoded upon reassembly
        let (packet, at) = fragment::locate(cx.pkt.frame, data);
        let f = Fragment {
            v6: false,
            src: hdr.src,
            dst: hdr.dst,
            id: hdr.id,
            proto: hdr.proto,
            vlan: cx.pkt.vlan,
            ts: cx.pkt.ts,
            packet,
            ip_hdr_offset: at,
            hlen,
            frag_hdr_offset: 0,
            data_offset: at + hlen,
            data_len: iplen - hlen,
            frag_offset: usize::from(hdr.frag_offset) * 8,
            more_frags: hdr.frag_flags & 1 != 0,
            nh_fix: None,
        };
        fragment::handle(cx, &f);
        return true;
    }
    ip::decode_upper_v4(cx, hdr.proto, pkt.payload());
    true
}

const OPT_EOL: u8 = 0;
const OPT_NOP: u8 = 1;
const OPT_RR: u8 = 7;
const OPT_QS: u8 = 25;
const OPT_TS: u8 = 68;
const OPT_SEC: u8 = 130;
const OPT_LSRR: u8 = 131;
const OPT_ESEC: u8 = 133;
const OPT_CIPSO: u8 = 134;
const OPT_SID: u8 = 136;
const OPT_SSRR: u8 = 137;
const OPT_RTRALT: u8 = 148;

/// Walks the options like Suricata's DecodeIPV4Options; the `ipopt` bits of the valid ones,
/// or None when an option length makes the header unusable (`ipv4.opt_invalid_len`).
fn options(cx: &mut Ctx<'_, '_>, opts: &[u8]) -> Option<u16> {
    if opts.len() % 8 != 0 {
        cx.event(Counter::Ipv4OptPadRequired);
    }
    let mut bits = 0u16;
    // Options seen, for duplicates (by the bit below, including those ravn has no bit for).
    let mut seen = 0u32;
    let mut i = 0;
    while i < opts.len() {
        let t = opts[i];
        if t == OPT_EOL {
            bits |= ipopt::EOL;
            break;
        }
        if t == OPT_NOP {
            bits |= ipopt::NOP;
            i += 1;
            continue;
        }
        let rem = opts.len() - i;
        if rem < 2 {
            cx.event(Counter::Ipv4OptEolRequired);
            break;
        }
        let len = usize::from(opts[i + 1]);
        if len > rem || len < 2 {
            cx.invalid(Counter::Ipv4OptInvalidLen);
            return None;
        }
        let o = &opts[i..i + len];
        let (seen_bit, bit, verdict) = match t {
            OPT_RR => (1, ipopt::RR, route(o)),
            OPT_LSRR => (2, ipopt::LSRR, route(o)),
            OPT_SSRR => (4, ipopt::SSRR, route(o)),
            OPT_TS => (8, ipopt::TS, timestamp(o)),
            OPT_SEC => (16, ipopt::SEC, exact(o, 11)),
            OPT_SID => (32, ipopt::SATID, exact(o, 4)),
            OPT_RTRALT => (64, 0, exact(o, 4)),
            OPT_QS => (128, 0, at_least(o, 8)),
            OPT_CIPSO => (256, 0, at_least(o, 10)),
            OPT_ESEC => (512, ipopt::ESEC, at_least(o, 3)),
            _ => {
                cx.event(Counter::Ipv4OptInvalid);
                i += len;
                continue;
            }
        };
        if seen & seen_bit != 0 {
            cx.event(Counter::Ipv4OptDuplicate);
        } else {
            match verdict {
                Opt::Ok => {
                    seen |= seen_bit;
                    bits |= bit;
                }
                Opt::BadLen => cx.invalid(Counter::Ipv4OptInvalidLen),
                Opt::Malformed => cx.invalid(Counter::Ipv4OptMalformed),
            }
        }
        i += len;
    }
    Some(bits)
}

enum Opt {
    Ok,
    BadLen,
    Malformed,
}

/// Record route, loose and strict source route: type, len, pointer, addresses.
fn route(o: &[u8]) -> Opt {
    if o.len() < 3 {
        return Opt::BadLen;
    }
    let ptr = usize::from(o[2]);
    if ptr < 4 || ptr % 4 != 0 || ptr > o.len() + 1 {
        return Opt::Malformed;
    }
    Opt::Ok
}

/// Timestamp: type, len, pointer, overflow/flag, records of 4 or 8 bytes.
fn timestamp(o: &[u8]) -> Opt {
    if o.len() < 5 {
        return Opt::BadLen;
    }
    let ptr = usize::from(o[2]);
    if ptr < 5 {
        return Opt::Malformed;
    }
    let flag = o[3] & 0x0f;
    let rec = if flag == 1 || flag == 3 { 8 } else { 4 };
    if (ptr - 5) % rec != 0 || ptr > o.len() + 1 {
        return Opt::Malformed;
    }
    Opt::Ok
}

fn exact(o: &[u8], len: usize) -> Opt {
    if o.len() == len {
        Opt::Ok
    } else {
        Opt::BadLen
    }
}

fn at_least(o: &[u8], len: usize) -> Opt {
    if o.len() >= len {
        Opt::Ok
    } else {
        Opt::BadLen
    }
}
