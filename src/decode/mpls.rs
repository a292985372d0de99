//! MPLS label stacks, EtherTypes 0x8847/0x8848 (Suricata's DecodeMPLS): labels up to the
//! bottom of the stack, then IPv4 or IPv6 (by the explicit-null labels, else by the version
//! nibble) or an Ethernet pseudowire behind its 4-byte control word. A layer of the packet,
//! not a tunnel.

use super::ctx::{be32, Ctx};
use super::stats::Counter;
use super::{ethernet, ipv4, ipv6};

pub const HEADER_LEN: usize = 4;
/// The pseudowire control word before an Ethernet frame.
const PW_LEN: usize = 4;
const LABEL_IPV4: u32 = 0;
const LABEL_ROUTER_ALERT: u32 = 1;
const LABEL_IPV6: u32 = 2;
const LABEL_NULL: u32 = 3;
const MAX_RESERVED_LABEL: u32 = 15;

/// False where Suricata's DecodeMPLS fails.
pub(crate) fn decode<'a>(cx: &mut Ctx<'_, 'a>, data: &'a [u8]) -> bool {
    cx.layer(Counter::Mpls);
    if !cx.enter() {
        return false;
    }
    let mut rest = data;
    let shim = loop {
        if rest.len() < HEADER_LEN {
            cx.invalid(Counter::MplsHeaderTooSmall);
            return false;
        }
        let shim = be32(rest, 0);
        rest = &rest[HEADER_LEN..];
        if (shim >> 8) & 1 == 1 {
            break shim;
        }
    };
    let event = match shim >> 12 {
        LABEL_IPV4 => return ipv4::decode(cx, rest),
        LABEL_IPV6 => return ipv6::decode(cx, rest),
        LABEL_ROUTER_ALERT => Some(Counter::MplsBadLabelRouterAlert),
        LABEL_NULL => Some(Counter::MplsBadLabelImplicitNull),
        l if l < MAX_RESERVED_LABEL => Some(Counter::MplsBadLabelReserved),
        _ => None,
    };
    if let Some(e) = event {
        // Not valid at the bottom of the stack: noted, and nothing decoded behind it.
        cx.event(e);
        return true;
    }
    if rest.len() < PW_LEN {
        cx.invalid(Counter::MplsPktTooSmall);
        return false;
    }
    match rest[0] >> 4 {
        4 => {
            ipv4::decode(cx, rest);
        }
        6 => {
            ipv6::decode(cx, rest);
        }
        0 => {
            ethernet::decode(cx, &rest[PW_LEN..]);
        }
        _ => cx.invalid(Counter::MplsUnknownPayloadType),
    }
    true
}
