//! What comes after an IP header: TCP, UDP, ICMP, and the tunnels (GRE, IP-in-IP), whose
//! inner packet becomes the packet.

use super::ctx::Ctx;
use super::stats::Counter;
use super::{gre, icmp, ipv4, ipv6, tcp, udp};

pub const PROTO_ICMP: u8 = 1;
pub const PROTO_IPIP: u8 = 4;
pub const PROTO_TCP: u8 = 6;
pub const PROTO_UDP: u8 = 17;
pub const PROTO_IPV6: u8 = 41;
pub const PROTO_GRE: u8 = 47;
pub const PROTO_ESP: u8 = 50;
pub const PROTO_ICMPV6: u8 = 58;
pub const PROTO_SCTP: u8 = 132;

/// Decodes the upper-layer protocol `proto` carried by an IP packet of `version`.
pub(crate) fn decode_upper<'a>(cx: &mut Ctx<'_, 'a>, version: u8, proto: u8, data: &'a [u8]) {
    match proto {
        PROTO_TCP => tcp::decode(cx, data),
        PROTO_UDP => udp::decode(cx, data),
        PROTO_ICMP if version == 4 => icmp::decode_v4(cx, data),
        PROTO_ICMP => cx.invalid(Counter::Ipv6Icmpv4),
        PROTO_ICMPV6 if version == 6 => icmp::decode_v6(cx, data),
        PROTO_ICMPV6 => cx.invalid(Counter::Ipv4Icmpv6),
        PROTO_GRE => gre::decode(cx, data),
        PROTO_IPIP => {
            if version == 6 {
                if data.len() < ipv4::HEADER_LEN {
                    cx.invalid(Counter::Ipv6Ipv4InIpv6TooSmall);
                    return;
                }
                if data[0] >> 4 != 4 {
                    cx.invalid(Counter::Ipv6Ipv4InIpv6WrongVersion);
                    return;
                }
                cx.layer(Counter::Ipv4InIpv6);
            }
            ipv4::decode(cx, data);
        }
        PROTO_IPV6 => {
            if version == 6 {
                if data.len() < ipv6::HEADER_LEN {
                    cx.invalid(Counter::Ipv6Ipv6InIpv6TooSmall);
                    return;
                }
                if data[0] >> 4 != 6 {
                    cx.invalid(Counter::Ipv6Ipv6InIpv6WrongVersion);
                    return;
                }
                cx.layer(Counter::Ipv6InIpv6);
            }
            ipv6::decode(cx, data);
        }
        PROTO_ESP => {
            cx.stats.inc(Counter::Esp);
            if data.len() < 8 {
                cx.invalid(Counter::EspPktTooSmall);
            }
        }
        PROTO_SCTP => {
            cx.stats.inc(Counter::Sctp);
            if data.len() < 12 {
                cx.invalid(Counter::SctpPktTooSmall);
            }
        }
        _ => {}
    }
}
