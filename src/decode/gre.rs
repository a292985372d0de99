//! GRE (RFC 1701/2784/2890 version 0): the IPv4, IPv6, VLAN-tagged or Ethernet packet
//! inside is a tunnelled packet of its own (`pkt_src` "gre tunnel"); the GRE packet itself
//! has no flow. Version 1 (PPTP) is checked and counted but its PPP payload is not decoded,
//! nor is ERSPAN.

use super::ctx::{be16, Ctx};
use super::ethernet::{ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETHERTYPE_TEB, ETHERTYPE_VLAN};
use super::packet::PktSrc;
use super::stats::Counter;
use super::tunnel::{self, Inner};

pub const HEADER_LEN: usize = 4;

const F_CSUM: u8 = 0x80;
const F_ROUTE: u8 = 0x40;
const F_KEY: u8 = 0x20;
const F_SEQ: u8 = 0x10;
const F_SSR: u8 = 0x08;
const RECUR_MASK: u8 = 0x07;
const ACK_FLAG: u8 = 0x80;
const FLAGS_MASK: u8 = 0x78;
const PROTO_PPP: u16 = 0x880b;

/// The 4 fixed bytes of a GRE header.
pub(crate) struct GreHeader<'a> {
    data: &'a [u8],
}

impl<'a> GreHeader<'a> {
    pub fn new_checked(data: &'a [u8]) -> Option<GreHeader<'a>> {
        (data.len() >= HEADER_LEN).then_some(GreHeader { data })
    }
    pub fn flags(&self) -> u8 {
        self.data[0]
    }
    pub fn version(&self) -> u8 {
        self.data[1] & 0x07
    }
    pub fn flags2(&self) -> u8 {
        self.data[1]
    }
    pub fn protocol(&self) -> u16 {
        be16(self.data, 2)
    }
}

pub(crate) fn decode<'a>(cx: &mut Ctx<'_, 'a>, data: &'a [u8]) {
    cx.layer(Counter::Gre);
    let Some(h) = GreHeader::new_checked(data) else {
        cx.invalid(Counter::GrePktTooSmall);
        return;
    };
    if !cx.enter() {
        return;
    }
    let f = h.flags();
    let mut hlen = HEADER_LEN;
    match h.version() {
        0 => {
            if f & RECUR_MASK != 0 {
                cx.invalid(Counter::GreVersion0Recur);
                return;
            }
            if h.flags2() & FLAGS_MASK != 0 {
                cx.invalid(Counter::GreVersion0Flags);
                return;
            }
            if f & F_KEY != 0 {
                hlen += 4;
            }
            if f & F_SEQ != 0 {
                hlen += 4;
            }
            if f & (F_CSUM | F_ROUTE) != 0 {
                hlen += 4;
            }
            if hlen > data.len() {
                cx.invalid(Counter::GreVersion0HdrTooBig);
                return;
            }
            if f & F_ROUTE != 0 {
                // Source route entries: af (2), offset (1), length (1), data; ends with 0/0.
                loop {
                    if hlen + 4 > data.len() {
                        cx.invalid(Counter::GreVersion0MalformedSreHdr);
                        return;
                    }
                    let af = be16(data, hlen);
                    let sre_len = usize::from(data[hlen + 3]);
                    hlen += 4;
                    if af == 0 && sre_len == 0 {
                        break;
                    }
                    hlen += sre_len;
                    if hlen > data.len() {
                        cx.invalid(Counter::GreVersion0MalformedSreHdr);
                        return;
                    }
                }
            }
        }
        1 => {
            // In Suricata's order.
            let problem = if f & F_CSUM != 0 {
                Some(Counter::GreVersion1Chksum)
            } else if f & F_ROUTE != 0 {
                Some(Counter::GreVersion1Route)
            } else if f & F_SSR != 0 {
                Some(Counter::GreVersion1Ssr)
            } else if f & RECUR_MASK != 0 {
                Some(Counter::GreVersion1Recur)
            } else if h.flags2() & FLAGS_MASK != 0 {
                Some(Counter::GreVersion1Flags)
            } else if h.protocol() != PROTO_PPP {
                Some(Counter::GreVersion1WrongProtocol)
            } else if f & F_KEY == 0 {
                Some(Counter::GreVersion1NoKey)
            } else {
                None
            };
            if let Some(c) = problem {
                cx.invalid(c);
                return;
            }
            hlen += 4;
            if f & F_SEQ != 0 {
                hlen += 4;
            }
            if h.flags2() & ACK_FLAG != 0 {
                hlen += 4;
            }
            if hlen > data.len() {
                cx.invalid(Counter::GreVersion1HdrTooBig);
            }
            // PPP inside PPTP is not decoded.
            return;
        }
        _ => {
            cx.invalid(Counter::GreWrongVersion);
            return;
        }
    }
    let inner = &data[hlen..];
    let kind = match h.protocol() {
        ETHERTYPE_IPV4 => Inner::Ipv4,
        ETHERTYPE_IPV6 => Inner::Ipv6,
        ETHERTYPE_TEB => Inner::Ethernet,
        // Only 802.1Q: Suricata's GRE does not take 802.1ad or QinQ tags.
        ETHERTYPE_VLAN => Inner::Vlan,
        _ => return,
    };
    tunnel::spawn(cx, inner, kind, PktSrc::Gre);
}
