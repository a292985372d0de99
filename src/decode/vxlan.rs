//! VXLAN (RFC 7348) on its UDP ports (Suricata's DecodeVXLAN): an 8-byte header, then an
//! Ethernet frame whose IPv4, IPv6 or VLAN-tagged payload is a tunnelled packet of its own
//! (`pkt_src` "vxlan encapsulation"). The inner Ethernet header is skipped, not decoded: it
//! is not counted in `decoder.ethernet`, as in Suricata.

use super::ctx::{be16, Ctx};
use super::ethernet::{
    ETHERTYPE_8021AD, ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETHERTYPE_QINQ, ETHERTYPE_VLAN,
};
use super::packet::PktSrc;
use super::stats::Counter;
use super::tunnel::{self, Inner};

pub const HEADER_LEN: usize = 8;
const ETHERNET_LEN: usize = 14;
/// The "I" flag: a valid VNI is present.
const FLAG_VNI: u8 = 0x08;

/// A VXLAN header followed by an Ethernet frame.
pub(crate) struct VxlanHeader<'a> {
    data: &'a [u8],
}

impl<'a> VxlanHeader<'a> {
    /// Room for the header and an Ethernet header, as Suricata requires.
    pub fn new_checked(data: &'a [u8]) -> Option<VxlanHeader<'a>> {
        (data.len() >= HEADER_LEN + ETHERNET_LEN).then_some(VxlanHeader { data })
    }
    pub fn flags(&self) -> u8 {
        self.data[0]
    }
    /// The last byte, reserved.
    pub fn reserved(&self) -> u8 {
        self.data[7]
    }
    /// The inner frame's EtherType.
    pub fn ethertype(&self) -> u16 {
        be16(self.data, HEADER_LEN + 12)
    }
    /// What follows the inner Ethernet header.
    pub fn inner(&self) -> &'a [u8] {
        &self.data[HEADER_LEN + ETHERNET_LEN..]
    }
}

/// Decodes the payload of a UDP datagram on a VXLAN port; false when it is not VXLAN (then
/// the datagram stays plain UDP).
pub(crate) fn decode<'a>(cx: &mut Ctx<'_, 'a>, data: &'a [u8]) -> bool {
    let Some(h) = VxlanHeader::new_checked(data) else {
        return false;
    };
    if !cx.enter() {
        return false;
    }
    if h.flags() & FLAG_VNI == 0 || h.reserved() != 0 {
        return false;
    }
    cx.stats.inc(Counter::Vxlan);
    let kind = match h.ethertype() {
        ETHERTYPE_ARP => return true,
        ETHERTYPE_IPV4 => Inner::Ipv4,
        ETHERTYPE_IPV6 => Inner::Ipv6,
        ETHERTYPE_VLAN | ETHERTYPE_8021AD | ETHERTYPE_QINQ => Inner::Vlan,
        _ => {
            cx.invalid(Counter::VxlanUnknownPayloadType);
            return true;
        }
    };
    tunnel::spawn(cx, h.inner(), kind, PktSrc::Vxlan);
    true
}
