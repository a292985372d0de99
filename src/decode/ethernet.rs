//! Ethernet II and 802.1Q / 802.1ad (QinQ) VLAN tags, and the EtherType dispatch that the
//! other link layers (SLL) and the carriers of Ethernet (GRE, VXLAN, Geneve, NSH, MPLS)
//! share.

use smoltcp::wire::EthernetFrame;

use super::ctx::{be16, Ctx};
use super::stats::Counter;
use super::{ipv4, ipv6, mpls, nsh};

pub const ETHERTYPE_IPV4: u16 = 0x0800;
pub const ETHERTYPE_ARP: u16 = 0x0806;
pub const ETHERTYPE_IPV6: u16 = 0x86dd;
pub const ETHERTYPE_VLAN: u16 = 0x8100;
pub const ETHERTYPE_8021AD: u16 = 0x88a8;
pub const ETHERTYPE_QINQ: u16 = 0x9100;
/// Transparent Ethernet bridging (Ethernet inside GRE and Geneve).
pub const ETHERTYPE_TEB: u16 = 0x6558;
pub const ETHERTYPE_MPLS_UNICAST: u16 = 0x8847;
pub const ETHERTYPE_MPLS_MULTICAST: u16 = 0x8848;
/// Network Service Header (RFC 8300).
pub const ETHERTYPE_NSH: u16 = 0x894f;

/// A 4-byte VLAN tag followed by the payload.
pub(crate) struct VlanTag<'a> {
    data: &'a [u8],
}

impl<'a> VlanTag<'a> {
    pub const LEN: usize = 4;

    pub fn new_checked(data: &'a [u8]) -> Option<VlanTag<'a>> {
        (data.len() >= Self::LEN).then_some(VlanTag { data })
    }
    pub fn vid(&self) -> u16 {
        be16(self.data, 0) & 0x0fff
    }
    pub fn ethertype(&self) -> u16 {
        be16(self.data, 2)
    }
    pub fn payload(&self) -> &'a [u8] {
        &self.data[Self::LEN..]
    }
}

/// Ethernet II; false when the header is short or the layer budget is spent (Suricata's
/// DecodeEthernet failing, which drops a tunnelled packet).
pub(crate) fn decode<'a>(cx: &mut Ctx<'_, 'a>, data: &'a [u8]) -> bool {
    cx.layer(Counter::Ethernet);
    let Ok(eth) = EthernetFrame::new_checked(data) else {
        cx.invalid(Counter::EthernetPktTooSmall);
        return false;
    };
    if !cx.enter() {
        return false;
    }
    let ethertype = u16::from(eth.ethertype());
    decode_ethertype(cx, ethertype, eth.payload());
    true
}

/// Decodes `data` as the protocol `ethertype` names (Suricata's DecodeNetworkLayer); false
/// when the type is unknown (counted in `decoder.unknown_ethertype`).
pub(crate) fn decode_ethertype<'a>(cx: &mut Ctx<'_, 'a>, ethertype: u16, data: &'a [u8]) -> bool {
    match ethertype {
        ETHERTYPE_IPV4 => {
            ipv4::decode(cx, data);
        }
        ETHERTYPE_IPV6 => {
            ipv6::decode(cx, data);
        }
        ETHERTYPE_VLAN | ETHERTYPE_8021AD | ETHERTYPE_QINQ => {
            if usize::from(cx.pkt.vlan_count) >= MAX_VLANS {
                cx.event(Counter::VlanTooManyLayers);
            } else {
                decode_vlan(cx, data);
            }
        }
        ETHERTYPE_ARP => cx.stats.inc(Counter::Arp),
        ETHERTYPE_MPLS_UNICAST | ETHERTYPE_MPLS_MULTICAST => {
            mpls::decode(cx, data);
        }
        ETHERTYPE_NSH => {
            nsh::decode(cx, data);
        }
        _ => {
            cx.stats.inc(Counter::UnknownEthertype);
            return false;
        }
    }
    true
}

/// VLAN tags recorded per packet (Suricata's VLAN_MAX_LAYERS).
const MAX_VLANS: usize = 3;

/// One VLAN tag (up to three are recorded in `Packet::vlan`); false where Suricata's
/// DecodeVLAN fails.
pub(crate) fn decode_vlan<'a>(cx: &mut Ctx<'_, 'a>, data: &'a [u8]) -> bool {
    let idx = usize::from(cx.pkt.vlan_count);
    match idx {
        0 => cx.layer(Counter::Vlan),
        1 => cx.layer(Counter::VlanQinq),
        2 => cx.layer(Counter::VlanQinqinq),
        _ => {}
    }
    let Some(tag) = VlanTag::new_checked(data) else {
        cx.invalid(Counter::VlanHeaderTooSmall);
        return false;
    };
    if !cx.enter() {
        return false;
    }
    if idx >= MAX_VLANS {
        cx.event(Counter::VlanTooManyLayers);
        return false;
    }
    cx.pkt.vlan[idx] = tag.vid();
    cx.pkt.vlan_count += 1;
    if !decode_ethertype(cx, tag.ethertype(), tag.payload()) {
        cx.invalid(Counter::VlanUnknownType);
        return false;
    }
    true
}
