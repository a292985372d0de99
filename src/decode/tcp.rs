//! TCP header and options (MSS, window scale, SACK permitted, SACK, timestamp).

use smoltcp::wire::TcpPacket;

use super::checksum;
use super::ctx::{be16, be32, Ctx};
use super::packet::{TcpHdr, L4};
use super::stats::Counter;

pub const HEADER_LEN: usize = 20;

const OPT_EOL: u8 = 0;
const OPT_NOP: u8 = 1;
const OPT_MSS: u8 = 2;
const OPT_WS: u8 = 3;
const OPT_SACKOK: u8 = 4;
const OPT_SACK: u8 = 5;
const OPT_TS: u8 = 8;
const OPT_TFO: u8 = 34;
const OPT_EXP1: u8 = 253;
const OPT_EXP2: u8 = 254;

pub(crate) fn decode<'a>(cx: &mut Ctx<'_, 'a>, data: &'a [u8]) {
    cx.layer(Counter::Tcp);
    if data.len() < HEADER_LEN {
        cx.invalid(Counter::TcpPktTooSmall);
        return;
    }
    let hlen = usize::from(data[12] >> 4) * 4;
    if data.len() < hlen {
        cx.invalid(Counter::TcpHlenTooSmall);
        return;
    }
    // Suricata computes the option length as a u8 and rejects it above 40: a data offset
    // below 5 ends up here.
    if hlen < HEADER_LEN {
        cx.invalid(Counter::TcpInvalidOptlen);
        return;
    }
    let Ok(tcp) = TcpPacket::new_checked(data) else {
        cx.invalid(Counter::TcpHlenTooSmall);
        return;
    };
    let mut hdr = TcpHdr {
        src_port: tcp.src_port(),
        dst_port: tcp.dst_port(),
        seq: be32(data, 4),
        ack: be32(data, 8),
        flags: data[13],
        window: tcp.window_len(),
        hdr_len: hlen as u8,
        mss: None,
        wscale: None,
        sack_permitted: false,
        tfo: false,
        timestamp: None,
        bad_checksum: false,
    };
    if cx.cfg.tcp_checksums {
        if let Some(ip) = cx.pkt.ip {
            hdr.bad_checksum = !checksum::tcp_ok(ip.src, ip.dst, data);
        }
    }
    options(cx, &data[HEADER_LEN..hlen], &mut hdr);
    cx.pkt.l4 = L4::Tcp(hdr);
    cx.pkt.payload = tcp.payload();
    cx.pkt.wants_flow = true;
}

/// Walks the options like Suricata's DecodeTCPOptions (problems are events, not invalid).
fn options(cx: &mut Ctx<'_, '_>, opts: &[u8], hdr: &mut TcpHdr) {
    let mut sack_seen = false;
    let mut i = 0;
    while i < opts.len() {
        match opts[i] {
            OPT_EOL => break,
            OPT_NOP => {
                i += 1;
                continue;
            }
            _ => {}
        }
        let rem = opts.len() - i;
        if rem < 2 {
            break;
        }
        let kind = opts[i];
        let len = usize::from(opts[i + 1]);
        if len > rem || len < 2 {
            cx.event(Counter::TcpOptInvalidLen);
            return;
        }
        let o = &opts[i..i + len];
        let dup = match kind {
            OPT_MSS if len == 4 => keep_first(&mut hdr.mss, be16(o, 2)),
            OPT_WS if len == 3 => keep_first(&mut hdr.wscale, o[2]),
            OPT_SACKOK if len == 2 => std::mem::replace(&mut hdr.sack_permitted, true),
            OPT_TS if len == 10 => keep_first(&mut hdr.timestamp, (be32(o, 2), be32(o, 6))),
            OPT_SACK if (10..=34).contains(&len) && (len - 2) % 8 == 0 => {
                std::mem::replace(&mut sack_seen, true)
            }
            // Suricata: no cookie (a request), or an even 4 to 16 byte one
            OPT_TFO if len == 2 || ((6..=18).contains(&len) && len % 2 == 0) => {
                std::mem::replace(&mut hdr.tfo, true)
            }
            // the experimental TFO option (magic 0xF989), same cookie lengths
            OPT_EXP1 | OPT_EXP2
                if len >= 4
                    && be16(o, 2) == 0xf989
                    && (len == 4 || ((8..=20).contains(&len) && len % 2 == 0)) =>
            {
                std::mem::replace(&mut hdr.tfo, true)
            }
            OPT_MSS | OPT_WS | OPT_SACKOK | OPT_TS | OPT_SACK | OPT_TFO => {
                cx.event(Counter::TcpOptInvalidLen);
                false
            }
            _ => false,
        };
        if dup {
            cx.event(Counter::TcpOptDuplicate);
        }
        i += len;
    }
}

/// Sets `slot` unless already set; true for a duplicate.
fn keep_first<T>(slot: &mut Option<T>, v: T) -> bool {
    if slot.is_some() {
        return true;
    }
    *slot = Some(v);
    false
}
