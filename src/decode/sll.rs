//! Linux "cooked" captures: SLL (LINKTYPE_LINUX_SLL, 113) and SLL2 (LINKTYPE_LINUX_SLL2, 276).

use super::ctx::{be16, Ctx};
use super::ethernet::decode_ethertype;
use super::stats::Counter;

/// An SLL or SLL2 header followed by the payload.
pub(crate) struct SllHeader<'a> {
    data: &'a [u8],
    v2: bool,
}

impl<'a> SllHeader<'a> {
    pub const V1_LEN: usize = 16;
    pub const V2_LEN: usize = 20;

    pub fn new_checked(data: &'a [u8], v2: bool) -> Option<SllHeader<'a>> {
        let need = if v2 { Self::V2_LEN } else { Self::V1_LEN };
        (data.len() >= need).then_some(SllHeader { data, v2 })
    }
    /// The protocol (an EtherType for IP, ARP and VLAN).
    pub fn protocol(&self) -> u16 {
        if self.v2 {
            be16(self.data, 0)
        } else {
            be16(self.data, 14)
        }
    }
    pub fn payload(&self) -> &'a [u8] {
        &self.data[if self.v2 { Self::V2_LEN } else { Self::V1_LEN }..]
    }
}

pub(crate) fn decode<'a>(cx: &mut Ctx<'_, 'a>, data: &'a [u8], v2: bool) {
    // Suricata 7 has no separate counter for SLL2: both count as decoder.sll.
    cx.layer(Counter::Sll);
    let Some(h) = SllHeader::new_checked(data, v2) else {
        cx.invalid(Counter::SllPktTooSmall);
        return;
    };
    if !cx.enter() {
        return;
    }
    decode_ethertype(cx, h.protocol(), h.payload());
}
