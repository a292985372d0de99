//! Teredo (RFC 4380): IPv6 in UDP, found by Suricata's heuristics (DecodeTeredo), since
//! nothing in the datagram says "Teredo": an optional origin indication, then something that
//! looks like exactly one IPv6 packet. The IPv6 packet is a tunnelled packet of its own
//! (`pkt_src` "teredo tunnel"), kept only if nothing in it is invalid.

use super::ctx::{be16, Ctx};
use super::ipv6;
use super::packet::PktSrc;
use super::stats::Counter;
use super::tunnel::{self, Inner};

/// The origin indication: 0x0000, port, address.
const ORIGIN_INDICATION_LEN: usize = 8;

/// Where the IPv6 packet of a Teredo datagram starts, if the datagram looks like Teredo.
pub(crate) fn ipv6_start(data: &[u8]) -> Option<usize> {
    if data.len() < ipv6::HEADER_LEN {
        return None;
    }
    let start = if data[0] == 0 {
        // An origin indication is compatible with a tunnelled packet; an authentication
        // header (0x0001) means negotiation, not traffic.
        if data[1] != 0 || data.len() < ORIGIN_INDICATION_LEN + ipv6::HEADER_LEN {
            return None;
        }
        ORIGIN_INDICATION_LEN
    } else {
        0
    };
    let ip = &data[start..];
    if ip[0] >> 4 != 6 {
        return None;
    }
    // Hop limit 0 is most likely bad detection; a hop-by-hop header needs 8 bytes.
    let (plen, nh, hlim) = (usize::from(be16(ip, 4)), ip[6], ip[7]);
    if hlim == 0 || (nh == 0 && plen < 8) {
        return None;
    }
    (data.len() == start + ipv6::HEADER_LEN + plen).then_some(start)
}

/// Decodes the payload of a UDP datagram on a Teredo port; false when it is not Teredo or
/// its IPv6 packet was dropped (then the datagram stays plain UDP, or may be Geneve/VXLAN).
pub(crate) fn decode<'a>(cx: &mut Ctx<'_, 'a>, data: &'a [u8]) -> bool {
    let Some(start) = ipv6_start(data) else {
        return false;
    };
    if !tunnel::spawn(cx, &data[start..], Inner::Teredo, PktSrc::Teredo) {
        return false;
    }
    cx.stats.inc(Counter::Teredo);
    true
}
