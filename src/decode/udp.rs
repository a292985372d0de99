//! UDP.

use super::ctx::{be16, Ctx};
use super::packet::{UdpHdr, L4};
use super::stats::Counter;

pub const HEADER_LEN: usize = 8;

pub(crate) fn decode<'a>(cx: &mut Ctx<'_, 'a>, data: &'a [u8]) {
    cx.layer(Counter::Udp);
    if data.len() < HEADER_LEN {
        cx.invalid(Counter::UdpHlenTooSmall);
        return;
    }
    let ulen = usize::from(be16(data, 4));
    let end = if cx.first_fragment && ulen > data.len() {
        // A first fragment holds only the start of the datagram: take what is there.
        data.len()
    } else {
        if data.len() < ulen {
            cx.invalid(Counter::UdpPktTooSmall);
            return;
        }
        if ulen < HEADER_LEN {
            cx.invalid(Counter::UdpLenInvalid);
            return;
        }
        if data.len() != ulen {
            // Still decoded; only an event.
            cx.event(Counter::UdpHlenInvalid);
        }
        ulen
    };
    // HEADER_LEN <= end <= data.len() from here on.
    let dgram = &data[..end];
    cx.pkt.l4 = L4::Udp(UdpHdr {
        src_port: be16(dgram, 0),
        dst_port: be16(dgram, 2),
        len: ulen as u16,
    });
    cx.pkt.payload = &dgram[HEADER_LEN..];
}
