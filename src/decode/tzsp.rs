//! TZSP (TaZmen Sniffer Protocol) version 1, as MikroTik's packet sniffer streams it to UDP
//! port 37008: a 4-byte header, tagged fields up to an END tag, then the captured frame.

/// Encapsulation numbers (Wireshark's packet-tzsp.c). Ethernet and raw IP are decoded.
pub const ENCAP_ETHERNET: u16 = 1;
/// "Raw UO" in Wireshark: a bare IPv4 or IPv6 packet (MikroTik uses it for L3 interfaces).
pub const ENCAP_RAW: u16 = 7;
pub const ENCAP_IEEE_802_11: u16 = 18;

pub const TYPE_RECEIVED: u8 = 0;
pub const TYPE_TRANSMIT: u8 = 1;

const TAG_PADDING: u8 = 0;
const TAG_END: u8 = 1;

pub const HEADER_LEN: usize = 4;

/// Why a TZSP datagram yields no frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TzspError {
    /// Too short, not version 1, tags running past the end, no END tag, or no frame.
    Malformed,
    /// A well-formed message that carries no packet (keepalive, configuration, ...).
    UnsupportedType(u8),
    /// A packet in an encapsulation other than Ethernet.
    UnknownEncapsulation(u16),
}

/// A TZSP datagram (the UDP payload).
#[derive(Debug, Clone, Copy)]
pub struct TzspPacket<'a> {
    data: &'a [u8],
    /// Where the encapsulated frame starts (after the END tag).
    frame_start: usize,
}

impl<'a> TzspPacket<'a> {
    /// Checks the header and walks the tags; never panics.
    pub fn new_checked(data: &'a [u8]) -> Result<TzspPacket<'a>, TzspError> {
        if data.len() < HEADER_LEN || data[0] != 1 {
            return Err(TzspError::Malformed);
        }
        let mut i = HEADER_LEN;
        loop {
            let Some(&tag) = data.get(i) else {
                return Err(TzspError::Malformed);
            };
            match tag {
                TAG_PADDING => i += 1,
                TAG_END => {
                    i += 1;
                    break;
                }
                _ => {
                    let Some(&len) = data.get(i + 1) else {
                        return Err(TzspError::Malformed);
                    };
                    i += 2 + usize::from(len);
                }
            }
        }
        if i > data.len() {
            return Err(TzspError::Malformed);
        }
        Ok(TzspPacket {
            data,
            frame_start: i,
        })
    }

    pub fn version(&self) -> u8 {
        self.data[0]
    }
    pub fn msg_type(&self) -> u8 {
        self.data[1]
    }
    pub fn encapsulation(&self) -> u16 {
        u16::from_be_bytes([self.data[2], self.data[3]])
    }
    /// The encapsulated frame.
    pub fn frame(&self) -> &'a [u8] {
        &self.data[self.frame_start..]
    }

    /// The Ethernet frame inside a received/transmitted-packet message.
    pub fn ethernet_frame(&self) -> Result<&'a [u8], TzspError> {
        let t = self.msg_type();
        if t != TYPE_RECEIVED && t != TYPE_TRANSMIT {
            return Err(TzspError::UnsupportedType(t));
        }
        if self.encapsulation() != ENCAP_ETHERNET {
            return Err(TzspError::UnknownEncapsulation(self.encapsulation()));
        }
        let f = self.frame();
        if f.is_empty() {
            return Err(TzspError::Malformed);
        }
        Ok(f)
    }
}

/// The link layer of the frame a TZSP packet carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encap {
    Ethernet,
    /// Bare IPv4 or IPv6.
    RawIp,
}

impl<'a> TzspPacket<'a> {
    /// The frame inside a received/transmitted-packet message, Ethernet or raw IP, with its
    /// link layer.
    pub fn packet_frame(&self) -> Result<(Encap, &'a [u8]), TzspError> {
        let t = self.msg_type();
        if t != TYPE_RECEIVED && t != TYPE_TRANSMIT {
            return Err(TzspError::UnsupportedType(t));
        }
        let encap = match self.encapsulation() {
            ENCAP_ETHERNET => Encap::Ethernet,
            ENCAP_RAW => Encap::RawIp,
            other => return Err(TzspError::UnknownEncapsulation(other)),
        };
        let f = self.frame();
        if f.is_empty() {
            return Err(TzspError::Malformed);
        }
        Ok((encap, f))
    }

    /// Where the carried frame starts in the datagram.
    pub fn frame_offset(&self) -> usize {
        self.frame_start
    }
}

/// The frame (Ethernet or raw IP) carried by a TZSP datagram.
pub fn decapsulate_any(udp_payload: &[u8]) -> Result<(Encap, &[u8]), TzspError> {
    TzspPacket::new_checked(udp_payload)?.packet_frame()
}

/// The Ethernet frame carried by a TZSP datagram.
pub fn decapsulate(udp_payload: &[u8]) -> Result<&[u8], TzspError> {
    TzspPacket::new_checked(udp_payload)?.ethernet_frame()
}
