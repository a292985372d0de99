//! Geneve (RFC 8926) on its UDP ports (Suricata's DecodeGeneve): an 8-byte header plus
//! options, then the IPv4, IPv6 or Ethernet packet its protocol type names, a tunnelled packet
//! of its own (`pkt_src` "geneve encapsulation").

use super::ctx::{be16, Ctx};
use super::ethernet::{ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETHERTYPE_TEB};
use super::packet::PktSrc;
use super::stats::Counter;
use super::tunnel::{self, Inner};

pub const HEADER_LEN: usize = 8;
const OPTION_HEADER_LEN: usize = 4;

/// A Geneve header: version and option length, flags, protocol type, VNI, options.
pub(crate) struct GeneveHeader<'a> {
    data: &'a [u8],
}

impl<'a> GeneveHeader<'a> {
    /// The fixed header is there.
    pub fn new_checked(data: &'a [u8]) -> Option<GeneveHeader<'a>> {
        (data.len() >= HEADER_LEN).then_some(GeneveHeader { data })
    }
    pub fn version(&self) -> u8 {
        self.data[0] >> 6
    }
    /// Length of the options in bytes.
    pub fn options_len(&self) -> usize {
        usize::from(self.data[0] & 0x3f) * 4
    }
    /// The header with its options.
    pub fn header_len(&self) -> usize {
        HEADER_LEN + self.options_len()
    }
    /// The six reserved flag bits (after O and C).
    pub fn reserved_flags(&self) -> u8 {
        self.data[1] & 0x3f
    }
    pub fn protocol(&self) -> u16 {
        be16(self.data, 2)
    }
    pub fn reserved(&self) -> u8 {
        self.data[7]
    }
    /// The options; the caller has checked `header_len()` against the data.
    fn options(&self) -> &'a [u8] {
        &self.data[HEADER_LEN..self.header_len()]
    }
    /// The options' own lengths add up to the header's option length (Suricata's
    /// IsHeaderLengthConsistentWithOptions). Each option is at least its 4-byte header, so
    /// the walk ends; it never reads past the options.
    fn options_consistent(&self) -> bool {
        let opts = self.options();
        let mut off = 0;
        while off < opts.len() {
            let Some(&flags_len) = opts.get(off + 3) else {
                return false;
            };
            off += OPTION_HEADER_LEN + usize::from(flags_len & 0x1f) * 4;
        }
        off == opts.len()
    }
}

/// Decodes the payload of a UDP datagram on a Geneve port; false when it is not Geneve (then
/// the datagram stays plain UDP, or may be VXLAN).
pub(crate) fn decode<'a>(cx: &mut Ctx<'_, 'a>, data: &'a [u8]) -> bool {
    let Some(h) = GeneveHeader::new_checked(data) else {
        return false;
    };
    if !cx.enter() {
        return false;
    }
    let hlen = h.header_len();
    if data.len() < hlen
        || h.version() != 0
        || h.reserved_flags() != 0
        || h.reserved() != 0
        || !h.options_consistent()
    {
        return false;
    }
    cx.stats.inc(Counter::Geneve);
    let kind = match h.protocol() {
        ETHERTYPE_IPV4 => Inner::Ipv4,
        ETHERTYPE_IPV6 => Inner::Ipv6,
        ETHERTYPE_TEB => Inner::Ethernet,
        ETHERTYPE_ARP => return true,
        _ => {
            cx.invalid(Counter::GeneveUnknownPayloadType);
            return true;
        }
    };
    tunnel::spawn(cx, &data[hlen..], kind, PktSrc::Geneve);
    true
}
