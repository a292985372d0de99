//! What comes after an IP header (Suricata's protocol switches in DecodeIPV4 and
//! DecodeIPV6): TCP, UDP, ICMP, SCTP, ESP, GRE, and IP carried in IP, whose inner packet is a
//! tunnelled packet of its own.

use super::ctx::Ctx;
use super::packet::PktSrc;
use super::stats::Counter;
use super::tunnel::{self, Inner};
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

/// The upper-layer protocol of an IPv4 packet. IPv4 in IPv4 (protocol 4) is not
/// decapsulated: Suricata 7 leaves it as the outer packet, without a flow.
pub(crate) fn decode_upper_v4<'a>(cx: &mut Ctx<'_, 'a>, proto: u8, data: &'a [u8]) {
    match proto {
        PROTO_TCP => tcp::decode(cx, data),
        PROTO_UDP => udp::decode(cx, data),
        PROTO_ICMP => icmp::decode_v4(cx, data),
        PROTO_GRE => gre::decode(cx, data),
        PROTO_SCTP => sctp(cx, data),
        PROTO_ESP => esp(cx, data),
        PROTO_IPV6 => {
            tunnel::spawn(cx, data, Inner::Ipv6, PktSrc::Ipv4Tunnel);
            // The carrier is a flow of its own, whether or not the inner packet decoded.
            cx.pkt.wants_flow = true;
        }
        PROTO_ICMPV6 => cx.invalid(Counter::Ipv4Icmpv6),
        _ => {}
    }
}

/// The upper-layer protocol of an IPv6 packet, `nh` found directly after the fixed header or
/// (`after_ext`) after extension headers, where Suricata decodes fewer protocols.
pub(crate) fn decode_upper_v6<'a>(cx: &mut Ctx<'_, 'a>, nh: u8, data: &'a [u8], after_ext: bool) {
    match nh {
        PROTO_TCP => tcp::decode(cx, data),
        PROTO_UDP => udp::decode(cx, data),
        PROTO_ICMPV6 => icmp::decode_v6(cx, data),
        PROTO_SCTP => sctp(cx, data),
        PROTO_ESP => esp(cx, data),
        PROTO_IPIP => ipv4_in_ipv6(cx, data),
        PROTO_IPV6 if !after_ext => ipv6_in_ipv6(cx, data),
        PROTO_GRE if !after_ext => gre::decode(cx, data),
        PROTO_ICMP => cx.event(Counter::Ipv6Icmpv4),
        _ => cx.event(Counter::Ipv6UnknownNextHeader),
    }
}

/// Suricata's DecodeIPv4inIPv6.
fn ipv4_in_ipv6<'a>(cx: &mut Ctx<'_, 'a>, data: &'a [u8]) {
    if data.len() < ipv4::HEADER_LEN {
        cx.invalid(Counter::Ipv6Ipv4InIpv6TooSmall);
        return;
    }
    if data[0] >> 4 != 4 {
        cx.event(Counter::Ipv6Ipv4InIpv6WrongVersion);
        return;
    }
    if tunnel::spawn(cx, data, Inner::Ipv4, PktSrc::Ipv6Tunnel) {
        cx.stats.inc(Counter::Ipv4InIpv6);
    }
}

/// Suricata's DecodeIP6inIP6.
fn ipv6_in_ipv6<'a>(cx: &mut Ctx<'_, 'a>, data: &'a [u8]) {
    if data.len() < ipv6::HEADER_LEN {
        cx.invalid(Counter::Ipv6Ipv6InIpv6TooSmall);
        return;
    }
    if data[0] >> 4 != 6 {
        cx.event(Counter::Ipv6Ipv6InIpv6WrongVersion);
        return;
    }
    if tunnel::spawn(cx, data, Inner::Ipv6, PktSrc::Ipv6Tunnel) {
        cx.stats.inc(Counter::Ipv6InIpv6);
    }
}

/// SCTP: counted and checked for its common header; a flow of its own.
fn sctp(cx: &mut Ctx<'_, '_>, data: &[u8]) {
    cx.stats.inc(Counter::Sctp);
    if data.len() < 12 {
        cx.invalid(Counter::SctpPktTooSmall);
        return;
    }
    cx.pkt.wants_flow = true;
}

/// ESP: counted and checked for its header (SPI, sequence); a flow of its own.
fn esp(cx: &mut Ctx<'_, '_>, data: &[u8]) {
    cx.stats.inc(Counter::Esp);
    if !cx.enter() {
        return;
    }
    if data.len() < 8 {
        cx.invalid(Counter::EspPktTooSmall);
        return;
    }
    cx.pkt.wants_flow = true;
}
