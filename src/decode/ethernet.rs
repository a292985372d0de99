//! Ethernet II and 802.1Q / 802.1ad (QinQ) VLAN tags, and the EtherType dispatch that the
//! other link layers (SLL, GRE) share.

use smoltcp::wire::EthernetFrame;

use super::ctx::{be16, Ctx};
use super::stats::Counter;
use super::{ipv4, ipv6};

pub const ETHERTYPE_IPV4: u16 = 0x0800;
pub const ETHERTYPE_ARP: u16 = 0x0806;
pub const ETHERTYPE_IPV6: u16 = 0x86dd;
pub const ETHERTYPE_VLAN: u16 = 0x8100;
pub const ETHERTYPE_8021AD: u16 = 0x88a8;
pub const ETHERTYPE_QINQ: u16 = 0x9100;
/// Transparent Ethernet bridging (Ethernet inside GRE).
pub const ETHERTYPE_TEB: u16 = 0x6558;

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

pub(crate) fn decode<'a>(cx: &mut Ctx<'_, 'a>, data: &'a [u8]) {
    cx.layer(Counter::Ethernet);
    let Ok(eth) = EthernetFrame::new_checked(data) else {
        cx.invalid(Counter::EthernetPktTooSmall);
        return;
    };
    if !cx.enter() {
        return;
    }
    let ethertype = u16::from(eth.ethertype());
    decode_ethertype(cx, ethertype, eth.payload());
}

/// Decodes `data` as the protocol `ethertype` names; false when the type is unknown
/// (counted in `decoder.unknown_ethertype`).
pub(crate) fn decode_ethertype<'a>(cx: &mut Ctx<'_, 'a>, ethertype: u16, data: &'a [u8]) -> bool {
    match ethertype {
        ETHERTYPE_IPV4 => ipv4::decode(cx, data),
        ETHERTYPE_IPV6 => ipv6::decode(cx, data),
        ETHERTYPE_VLAN | ETHERTYPE_8021AD | ETHERTYPE_QINQ => decode_vlan(cx, data),
        ETHERTYPE_ARP => cx.stats.inc(Counter::Arp),
        _ => {
            cx.stats.inc(Counter::UnknownEthertype);
            return false;
        }
    }
    true
}

/// One VLAN tag (up to three are recorded in `Packet::vlan`).
pub(crate) fn decode_vlan<'a>(cx: &mut Ctx<'_, 'a>, data: &'a [u8]) {
    let idx = usize::from(cx.pkt.vlan_count);
    match idx {
        0 => cx.layer(Counter::Vlan),
        1 => cx.layer(Counter::VlanQinq),
        2 => cx.layer(Counter::VlanQinqinq),
        _ => {
            cx.event(Counter::VlanTooManyLayers);
            return;
        }
    }
    let Some(tag) = VlanTag::new_checked(data) else {
        cx.invalid(Counter::VlanHeaderTooSmall);
        return;
    };
    if !cx.enter() {
        return;
    }
    cx.pkt.vlan[idx] = tag.vid();
    cx.pkt.vlan_count += 1;
    if !decode_ethertype(cx, tag.ethertype(), tag.payload()) {
        cx.invalid(Counter::VlanUnknownType);
    }
}
