//! The decoded view of one packet: what the detection engine and the outputs see.
//!
//! A `Packet` borrows the frame it was decoded from and holds only plain values and slices,
//! so decoding never allocates. Everything the decoder could not make sense of is absent
//! (`None`, `L4::None`), and the reason is counted in `DecodeStats`.

use std::net::IpAddr;

use crate::capture::Timestamp;

/// IPv4 options seen in the header, as bits (`ipopts` keyword). Bit values are ravn's own.
pub mod ipopt {
    pub const RR: u16 = 1 << 0; // record route (7)
    pub const EOL: u16 = 1 << 1; // end of list (0)
    pub const NOP: u16 = 1 << 2; // no operation (1)
    pub const TS: u16 = 1 << 3; // timestamp (68)
    pub const SEC: u16 = 1 << 4; // security (130)
    pub const ESEC: u16 = 1 << 5; // extended security (133)
    pub const LSRR: u16 = 1 << 6; // loose source route (131)
    pub const SSRR: u16 = 1 << 7; // strict source route (137)
    pub const SATID: u16 = 1 << 8; // stream identifier (136)
    pub const ANY: u16 = 0xffff;
}

/// TCP flag bits as on the wire (byte 13 of the header).
pub mod tcpflag {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
    pub const URG: u8 = 0x20;
    pub const ECE: u8 = 0x40;
    pub const CWR: u8 = 0x80;
}

/// Layer-3 header fields (IPv4 or IPv6). For IPv6, `proto` is the upper-layer protocol
/// after the extension headers, and `ttl` is the hop limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpHdr {
    pub version: u8,
    pub src: IpAddr,
    pub dst: IpAddr,
    /// Upper-layer protocol number (after IPv6 extension headers).
    pub proto: u8,
    pub ttl: u8,
    pub tos: u8,
    /// IPv4 identification; IPv6 fragment identification when a fragment header is present, else 0.
    pub id: u32,
    /// IPv4 flags: bit 0x4 reserved, 0x2 DF, 0x1 MF. For IPv6, MF from the fragment header.
    pub frag_flags: u8,
    /// Fragment offset in 8-byte units.
    pub frag_offset: u16,
    /// IPv6: a fragment header was present (its offset and MF are in `frag_offset` and
    /// `frag_flags`, its identification in `id`).
    pub frag_hdr: bool,
    /// IPv4 options present (`ipopt::*` bits); 0 for IPv6.
    pub ipopts: u16,
    /// Header length in bytes (IPv4 IHL*4; IPv6 40 + extension headers).
    pub hdr_len: u16,
    /// Total length from the header (IPv4 total length; IPv6 40 + payload length).
    pub total_len: u32,
}

impl IpHdr {
    /// A fragment other than the first, or the first with more to come.
    pub fn is_fragment(&self) -> bool {
        self.frag_offset != 0 || self.frag_flags & 0x1 != 0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpHdr {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: u32,
    /// The flag byte (`tcpflag::*`).
    pub flags: u8,
    pub window: u16,
    pub hdr_len: u8,
    /// The MSS option, when present and well-formed.
    pub mss: Option<u16>,
    pub wscale: Option<u8>,
    pub sack_permitted: bool,
    /// The timestamp option (value, echo reply), when present.
    pub timestamp: Option<(u32, u32)>,
    /// A well-formed TCP Fast Open option (kind 34).
    pub tfo: bool,
    /// The checksum was checked (`DecoderConfig::tcp_checksums`) and is wrong: the stream
    /// engine leaves the segment alone, as the receiving host drops it (Suricata's
    /// StreamTcpValidateChecksum).
    pub bad_checksum: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpHdr {
    pub src_port: u16,
    pub dst_port: u16,
    pub len: u16,
}

/// ICMPv4 or ICMPv6 (which one: `IpHdr::proto`, 1 or 58).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IcmpHdr {
    pub icmp_type: u8,
    pub code: u8,
    /// Bytes 4..8 of the header as id and sequence; meaningful for echo-like types only.
    pub id: u16,
    pub seq: u16,
    /// A destination unreachable's embedded IPv4 TCP/UDP tuple (Suricata's
    /// ICMPV4_DEST_UNREACH_IS_VALID): the flow of that packet owns this one.
    pub unreach: Option<EmbeddedTuple>,
}

/// The addresses, protocol and ports of the packet an ICMP error quotes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmbeddedTuple {
    pub src: std::net::Ipv4Addr,
    pub dst: std::net::Ipv4Addr,
    pub proto: u8,
    pub sport: u16,
    pub dport: u16,
}

/// Where a packet came from (Suricata's `pkt_src`): the capture, or a tunnel decoder that
/// took it out of another packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PktSrc {
    /// Read from the capture (after TZSP decapsulation, which is part of capture here).
    #[default]
    Wire,
    /// Carried by GRE.
    Gre,
    /// IPv6 carried by IPv4 (protocol 41).
    Ipv4Tunnel,
    /// IPv4 or IPv6 carried by IPv6 (protocols 4 and 41).
    Ipv6Tunnel,
    Teredo,
    Vxlan,
    Geneve,
    /// Rebuilt from IP fragments (Suricata's PKT_SRC_DEFRAG): at the fragments' depth.
    Defrag,
}

impl PktSrc {
    /// The `pkt_src` text EVE prints.
    pub fn as_str(self) -> &'static str {
        match self {
            PktSrc::Wire => "wire/pcap",
            PktSrc::Gre => "gre tunnel",
            PktSrc::Ipv4Tunnel => "ipv4 tunnel",
            PktSrc::Ipv6Tunnel => "ipv6 tunnel",
            PktSrc::Teredo => "teredo tunnel",
            PktSrc::Vxlan => "vxlan encapsulation",
            PktSrc::Geneve => "geneve encapsulation",
            PktSrc::Defrag => "defrag",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum L4 {
    #[default]
    None,
    Tcp(TcpHdr),
    Udp(UdpHdr),
    Icmp(IcmpHdr),
}

/// One decoded packet.
#[derive(Debug, Clone, Copy)]
pub struct Packet<'a> {
    pub ts: Timestamp,
    /// The frame as captured (after TZSP decapsulation: the inner frame).
    pub frame: &'a [u8],
    /// Bytes counted for the flow and stats: the length of `frame` (Suricata's GET_PKT_LEN).
    pub len: u32,
    /// 802.1Q VLAN ids, outermost first.
    pub vlan: [u16; 3],
    pub vlan_count: u8,
    pub ip: Option<IpHdr>,
    pub l4: L4,
    /// Application payload: TCP/UDP data, or ICMP data after the 8-byte header.
    /// Empty when there is none or the packet could not be decoded that far.
    pub payload: &'a [u8],
    /// True when the frame arrived inside TZSP and was decapsulated.
    pub tzsp: bool,
    /// Tunnels around this packet (Suricata's `recursion_level`): 0 for the captured packet,
    /// 1 for a packet taken out of it by a tunnel decoder, and so on.
    pub depth: u8,
    /// Where the packet came from.
    pub src: PktSrc,
    /// The payload is a tunnelled packet, decoded and inspected on its own: rules see this
    /// packet's headers but not its payload (Suricata's `PKT_NOPAYLOAD_INSPECTION`).
    pub carries_tunnel: bool,
    /// Decoded far enough to belong to a flow (Suricata's `FlowSetupPacket`: TCP, UDP, ICMP,
    /// SCTP and ESP, and IPv4 carrying IPv6). Other packets are inspected without a flow.
    pub wants_flow: bool,
    /// An end-of-flow pseudo packet, made up to flush a stream (Suricata's
    /// PKT_IS_PSEUDOPKT): header keywords never match it.
    pub pseudo: bool,
    /// The IP header and what follows it, as decoded (empty without one): what the checksum
    /// keywords sum.
    pub l3: &'a [u8],
    /// Checksums are not checked for this packet (Suricata's PKT_IGNORE_CHECKSUM): every
    /// checksum keyword takes them as valid.
    pub checksums_ignored: bool,
}

impl<'a> Packet<'a> {
    /// A packet over `frame` with nothing decoded yet (`len` is the frame's length).
    pub fn new(ts: Timestamp, frame: &'a [u8]) -> Packet<'a> {
        Packet {
            ts,
            frame,
            len: u32::try_from(frame.len()).unwrap_or(u32::MAX),
            vlan: [0; 3],
            vlan_count: 0,
            ip: None,
            l4: L4::None,
            payload: &[],
            tzsp: false,
            depth: 0,
            src: PktSrc::Wire,
            carries_tunnel: false,
            wants_flow: false,
            pseudo: false,
            l3: &[],
            checksums_ignored: false,
        }
    }

    /// Transport ports for TCP and UDP.
    pub fn ports(&self) -> Option<(u16, u16)> {
        match self.l4 {
            L4::Tcp(t) => Some((t.src_port, t.dst_port)),
            L4::Udp(u) => Some((u.src_port, u.dst_port)),
            _ => None,
        }
    }

    /// The VLAN ids present, outermost first.
    pub fn vlans(&self) -> &[u16] {
        &self.vlan[..usize::from(self.vlan_count).min(self.vlan.len())]
    }

    pub fn udp(&self) -> Option<&UdpHdr> {
        match &self.l4 {
            L4::Udp(u) => Some(u),
            _ => None,
        }
    }

    pub fn src_port(&self) -> Option<u16> {
        match self.l4 {
            L4::Tcp(t) => Some(t.src_port),
            L4::Udp(u) => Some(u.src_port),
            _ => None,
        }
    }
    pub fn dst_port(&self) -> Option<u16> {
        match self.l4 {
            L4::Tcp(t) => Some(t.dst_port),
            L4::Udp(u) => Some(u.dst_port),
            _ => None,
        }
    }
    pub fn tcp(&self) -> Option<&TcpHdr> {
        match &self.l4 {
            L4::Tcp(t) => Some(t),
            _ => None,
        }
    }
    pub fn icmp(&self) -> Option<&IcmpHdr> {
        match &self.l4 {
            L4::Icmp(i) => Some(i),
            _ => None,
        }
    }
}
