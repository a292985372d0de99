//! Capture sources: where frames come from (files today; sockets in `ravn run` later).
//!
//! Every source yields `Frame`s: a timestamp, a link type and the bytes. Decoding is not
//! the source's business (see `crate::decode`).

pub mod pcap;
pub mod pcapng;

/// A capture timestamp (Unix epoch).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Hash)]
pub struct Timestamp {
    pub secs: i64,
    pub nanos: u32,
}

impl Timestamp {
    pub fn micros(&self) -> u32 {
        self.nanos / 1000
    }
}

/// Link-layer types (LINKTYPE_* numbers from tcpdump.org).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkType {
    Ethernet,
    /// LINKTYPE_RAW (101), DLT_RAW (12 / 14): bare IPv4 or IPv6.
    Raw,
    Ipv4,
    Ipv6,
    /// Linux cooked capture v1 (113).
    Sll,
    /// Linux cooked capture v2 (276).
    Sll2,
    /// BSD loopback / null (0).
    Null,
    Other(u32),
}

impl LinkType {
    pub fn from_u32(v: u32) -> LinkType {
        match v {
            1 => LinkType::Ethernet,
            101 | 12 | 14 => LinkType::Raw,
            228 => LinkType::Ipv4,
            229 => LinkType::Ipv6,
            113 => LinkType::Sll,
            276 => LinkType::Sll2,
            0 => LinkType::Null,
            o => LinkType::Other(o),
        }
    }
}

/// One captured frame, borrowed from the reader's buffer.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    pub ts: Timestamp,
    pub link: LinkType,
    /// Captured bytes (may be shorter than `orig_len` when the snap length cut it).
    pub data: &'a [u8],
    pub orig_len: u32,
}
