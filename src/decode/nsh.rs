//! NSH, the Network Service Header (RFC 8300), EtherType 0x894F (Suricata's DecodeNSH): a
//! base header and service path header, MD type 1 (fixed 24-byte header) or 2 (variable),
//! then IPv4, IPv6, Ethernet or MPLS. A layer of the packet, not a tunnel.

use super::ctx::{be16, Ctx};
use super::stats::Counter;
use super::{ethernet, ipv4, ipv6, mpls};

pub const HEADER_LEN: usize = 8;

const MD_TYPE_1: u8 = 1;
const MD_TYPE_2: u8 = 2;
const MD_TYPE_1_LEN: usize = 24;
const NEXT_IPV4: u8 = 1;
const NEXT_IPV6: u8 = 2;
const NEXT_ETHERNET: u8 = 3;
const NEXT_MPLS: u8 = 5;

/// The 8-byte base and service path header.
pub(crate) struct NshHeader<'a> {
    data: &'a [u8],
}

impl<'a> NshHeader<'a> {
    pub fn new_checked(data: &'a [u8]) -> Option<NshHeader<'a>> {
        (data.len() >= HEADER_LEN).then_some(NshHeader { data })
    }
    pub fn version(&self) -> u8 {
        (be16(self.data, 0) >> 14) as u8
    }
    /// The whole header's length in bytes (the 6-bit length counts 4-byte words).
    pub fn len(&self) -> usize {
        usize::from(be16(self.data, 0) & 0x3f) * 4
    }
    pub fn md_type(&self) -> u8 {
        self.data[2]
    }
    pub fn next_protocol(&self) -> u8 {
        self.data[3]
    }
}

/// False where Suricata's DecodeNSH fails.
pub(crate) fn decode<'a>(cx: &mut Ctx<'_, 'a>, data: &'a [u8]) -> bool {
    cx.layer(Counter::Nsh);
    let Some(h) = NshHeader::new_checked(data) else {
        cx.invalid(Counter::NshHeaderTooSmall);
        return false;
    };
    if !cx.enter() {
        return false;
    }
    if h.version() != 0 {
        cx.event(Counter::NshUnsupportedVersion);
        return true;
    }
    let len = h.len();
    if len >= data.len() {
        cx.invalid(Counter::NshBadHeaderLength);
        return false;
    }
    match h.md_type() {
        0 | 0xf => {
            // Reserved: silently ignored.
            cx.event(Counter::NshReservedType);
            return true;
        }
        MD_TYPE_1 if len != MD_TYPE_1_LEN => {
            cx.invalid(Counter::NshBadHeaderLength);
            return false;
        }
        MD_TYPE_1 | MD_TYPE_2 => {}
        _ => {
            cx.event(Counter::NshUnsupportedType);
            return true;
        }
    }
    let rest = &data[len..];
    match h.next_protocol() {
        NEXT_IPV4 => ipv4::decode(cx, rest),
        NEXT_IPV6 => ipv6::decode(cx, rest),
        NEXT_ETHERNET => ethernet::decode(cx, rest),
        NEXT_MPLS => mpls::decode(cx, rest),
        _ => {
            cx.event(Counter::NshUnknownPayload);
            true
        }
    }
}
