//! Link-layer dispatch by capture link type, and the two trivial link layers: BSD null /
//! loopback (a 4-byte address family) and raw IP (version nibble).

use crate::capture::LinkType;

use super::ctx::Ctx;
use super::stats::Counter;
use super::{ethernet, ipv4, ipv6, sll};

pub(crate) fn decode<'a>(cx: &mut Ctx<'_, 'a>, link: LinkType, data: &'a [u8]) {
    match link {
        LinkType::Ethernet => {
            ethernet::decode(cx, data);
        }
        LinkType::Sll => sll::decode(cx, data, false),
        LinkType::Sll2 => sll::decode(cx, data, true),
        LinkType::Null => decode_null(cx, data),
        LinkType::Raw => decode_raw(cx, data),
        LinkType::Ipv4 => {
            ipv4::decode(cx, data);
        }
        LinkType::Ipv6 => {
            ipv6::decode(cx, data);
        }
        LinkType::Other(_) => {}
    }
}

/// BSD loopback: the address family in the capturing host's byte order.
fn decode_null<'a>(cx: &mut Ctx<'_, 'a>, data: &'a [u8]) {
    cx.layer(Counter::Null);
    let Some(head) = data.get(..4) else {
        cx.invalid(Counter::LtnullPktTooSmall);
        return;
    };
    let mut family = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
    if family > 0xffff {
        family = family.swap_bytes();
    }
    let rest = &data[4..];
    match family {
        2 => {
            ipv4::decode(cx, rest);
        }
        // AF_INET6 on Linux, Windows, BSDs, Solaris, FreeBSD, Darwin.
        10 | 23 | 24 | 26 | 28 | 30 => {
            ipv6::decode(cx, rest);
        }
        _ => cx.invalid(Counter::LtnullUnsupportedType),
    }
}

fn decode_raw<'a>(cx: &mut Ctx<'_, 'a>, data: &'a [u8]) {
    cx.layer(Counter::Raw);
    if data.len() < 20 {
        cx.invalid(Counter::Ipv4PktTooSmall);
        return;
    }
    match data[0] >> 4 {
        4 => {
            ipv4::decode(cx, data);
        }
        6 => {
            ipv6::decode(cx, data);
        }
        _ => cx.event(Counter::IprawInvalidIpVersion),
    }
}
