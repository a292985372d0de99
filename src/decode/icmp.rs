//! ICMPv4 and ICMPv6: type, code, id/sequence and the data after the 8-byte header; error
//! messages have the embedded IP header checked as Suricata does.

use super::ctx::{be16, Ctx};
use super::packet::{IcmpHdr, L4};
use super::stats::Counter;

pub const HEADER_LEN: usize = 8;

/// The fixed 8 bytes of an ICMP or ICMPv6 message, then its data.
pub(crate) struct IcmpMessage<'a> {
    data: &'a [u8],
}

impl<'a> IcmpMessage<'a> {
    pub fn new_checked(data: &'a [u8]) -> Option<IcmpMessage<'a>> {
        (data.len() >= HEADER_LEN).then_some(IcmpMessage { data })
    }
    pub fn msg_type(&self) -> u8 {
        self.data[0]
    }
    pub fn code(&self) -> u8 {
        self.data[1]
    }
    pub fn id(&self) -> u16 {
        be16(self.data, 4)
    }
    pub fn seq(&self) -> u16 {
        be16(self.data, 6)
    }
    pub fn payload(&self) -> &'a [u8] {
        &self.data[HEADER_LEN..]
    }
    fn header(&self) -> IcmpHdr {
        IcmpHdr {
            icmp_type: self.msg_type(),
            code: self.code(),
            id: self.id(),
            seq: self.seq(),
            unreach: None,
        }
    }
}

/// The TCP/UDP tuple of the IPv4 packet a destination unreachable quotes, read as
/// Suricata's DecodePartialIPV4 reads it: the ports right after a 20-byte header, only
/// when the quote holds a whole TCP (20) or UDP (8) header.
fn embedded_tuple(inner: &[u8]) -> Option<super::packet::EmbeddedTuple> {
    if inner.len() < 20 || inner[0] >> 4 != 4 {
        return None;
    }
    let proto = inner[9];
    let need = match proto {
        6 => 40,
        17 => 28,
        _ => return None,
    };
    if inner.len() < need {
        return None;
    }
    let addr =
        |i: usize| std::net::Ipv4Addr::new(inner[i], inner[i + 1], inner[i + 2], inner[i + 3]);
    Some(super::packet::EmbeddedTuple {
        src: addr(12),
        dst: addr(16),
        proto,
        sport: be16(inner, 20),
        dport: be16(inner, 22),
    })
}

pub(crate) fn decode_v4<'a>(cx: &mut Ctx<'_, 'a>, data: &'a [u8]) {
    cx.layer(Counter::Icmpv4);
    let Some(m) = IcmpMessage::new_checked(data) else {
        cx.invalid(Counter::Icmpv4PktTooSmall);
        return;
    };
    // Highest code per known type; None for unknown types.
    let max_code = match m.msg_type() {
        0 | 8 | 13..=18 => Some(0),
        3 => Some(15),
        4 => Some(0),
        5 => Some(3),
        9 => Some(16),
        10 => Some(0),
        11 => Some(1),
        12 => Some(2),
        _ => None,
    };
    match max_code {
        None => cx.event(Counter::Icmpv4UnknownType),
        Some(max) if m.code() > max => cx.event(Counter::Icmpv4UnknownCode),
        Some(_) => {
            if matches!(m.msg_type(), 3 | 4 | 5 | 11 | 12) {
                // Error messages carry the offending IPv4 header.
                let inner = m.payload();
                if inner.len() < 20 {
                    cx.event(Counter::Icmpv4Ipv4TruncPkt);
                } else if inner[0] >> 4 != 4 {
                    cx.event(Counter::Icmpv4Ipv4UnknownVer);
                }
            }
        }
    }
    let mut h = m.header();
    if m.msg_type() == 3 && max_code.is_some_and(|max| m.code() <= max) {
        h.unreach = embedded_tuple(m.payload());
    }
    cx.pkt.l4 = L4::Icmp(h);
    cx.pkt.payload = m.payload();
    cx.pkt.wants_flow = true;
}

pub(crate) fn decode_v6<'a>(cx: &mut Ctx<'_, 'a>, data: &'a [u8]) {
    cx.layer(Counter::Icmpv6);
    let Some(m) = IcmpMessage::new_checked(data) else {
        cx.invalid(Counter::Icmpv6PktTooSmall);
        return;
    };
    let t = m.msg_type();
    let max_code = match t {
        1 => Some(7),
        2 => Some(0),
        3 => Some(1),
        4 => Some(3),
        128 | 129 => Some(0),
        130..=137 => Some(0),
        138 => Some(255),
        139 | 140 => Some(2),
        141..=162 => Some(255),
        _ => None,
    };
    match max_code {
        None => {
            if matches!(t, 100 | 101 | 200 | 201) {
                cx.event(Counter::Icmpv6ExperimentationType);
            } else if matches!(t, 5..=99 | 102..=126 | 163..=199 | 202..=254) {
                cx.event(Counter::Icmpv6UnassignedType);
            } else {
                cx.event(Counter::Icmpv6UnknownType);
            }
        }
        Some(max) if m.code() > max => cx.event(Counter::Icmpv6UnknownCode),
        Some(_) => {
            if (1..=4).contains(&t) {
                let inner = m.payload();
                if inner.len() < 40 {
                    cx.event(Counter::Icmpv6Ipv6TruncPkt);
                } else if inner[0] >> 4 != 6 {
                    cx.event(Counter::Icmpv6Ipv6UnknownVersion);
                }
            }
            if (130..=132).contains(&t) || t == 143 {
                // MLD messages must have a hop limit of 1.
                if cx.pkt.ip.is_some_and(|ip| ip.ttl != 1) {
                    cx.event(Counter::Icmpv6MldMessageWithInvalidHl);
                }
            }
        }
    }
    cx.pkt.l4 = L4::Icmp(m.header());
    cx.pkt.payload = m.payload();
    cx.pkt.wants_flow = true;
}
