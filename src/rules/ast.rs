//! The parsed form of a Suricata rule. The parser (`rules::parse`) produces it; the detection
//! engine (`crate::detect`) compiles it. Variables are already resolved here: addresses and
//! ports are sets, not text.

use std::net::IpAddr;

/// Where a rule came from, for messages: `file:line`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Origin {
    pub file: String,
    pub line: usize,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Alert,
    Pass,
    Drop,
    Reject,
    RejectSrc,
    RejectDst,
    RejectBoth,
}

/// The protocol field of the rule header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Proto {
    /// `ip`: any packet with an IP header.
    Ip,
    Ipv4,
    Ipv6,
    /// `tcp`, `tcp-pkt`, `tcp-stream` (ravn inspects packets; the distinction is kept for later).
    Tcp,
    TcpPkt,
    TcpStream,
    Udp,
    /// `icmp`: ICMPv4 and ICMPv6.
    Icmp,
    Icmpv4,
    Icmpv6,
    Sctp,
}

/// A set of IP addresses: sorted, disjoint, inclusive ranges per family.
/// `[1.2.3.0/24,!1.2.3.4]` becomes two ranges; `any` is the full range of both families.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AddrSet {
    pub v4: Vec<(u32, u32)>,
    pub v6: Vec<(u128, u128)>,
    /// True when the text was `any` (lets the engine skip the check).
    pub any: bool,
}

impl AddrSet {
    pub fn any() -> AddrSet {
        AddrSet {
            v4: vec![(0, u32::MAX)],
            v6: vec![(0, u128::MAX)],
            any: true,
        }
    }
    pub fn contains(&self, ip: IpAddr) -> bool {
        if self.any {
            return true;
        }
        match ip {
            IpAddr::V4(a) => {
                let a = u32::from(a);
                // ranges are sorted and disjoint: binary search the last range starting <= a
                let i = self.v4.partition_point(|r| r.0 <= a);
                i > 0 && self.v4[i - 1].1 >= a
            }
            IpAddr::V6(a) => {
                let a = u128::from(a);
                let i = self.v6.partition_point(|r| r.0 <= a);
                i > 0 && self.v6[i - 1].1 >= a
            }
        }
    }
}

/// A set of ports: sorted, disjoint, inclusive ranges.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PortSet {
    pub ranges: Vec<(u16, u16)>,
    pub any: bool,
}

impl PortSet {
    pub fn any() -> PortSet {
        PortSet {
            ranges: vec![(0, u16::MAX)],
            any: true,
        }
    }
    pub fn contains(&self, p: u16) -> bool {
        if self.any {
            return true;
        }
        let i = self.ranges.partition_point(|r| r.0 <= p);
        i > 0 && self.ranges[i - 1].1 >= p
    }
}

/// A numeric comparison as Suricata's generic uint keywords parse it
/// (`N`, `=N`, `!N`, `<N`, `<=N`, `>N`, `>=N`, `N-M`, `N<>M`; ranges are exclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumCmp<T> {
    Eq(T),
    Ne(T),
    Lt(T),
    Le(T),
    Gt(T),
    Ge(T),
    /// lo < x < hi
    Range(T, T),
    /// !(lo < x < hi)
    NotRange(T, T),
}

impl<T: PartialOrd + Copy> NumCmp<T> {
    pub fn matches(&self, x: T) -> bool {
        match *self {
            NumCmp::Eq(v) => x == v,
            NumCmp::Ne(v) => x != v,
            NumCmp::Lt(v) => x < v,
            NumCmp::Le(v) => x <= v,
            NumCmp::Gt(v) => x > v,
            NumCmp::Ge(v) => x >= v,
            NumCmp::Range(lo, hi) => x > lo && x < hi,
            NumCmp::NotRange(lo, hi) => !(x > lo && x < hi),
        }
    }
}

/// `fast_pattern` on a content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FastPattern {
    pub only: bool,
    /// `fast_pattern:offset,length` (chop)
    pub chop: Option<(u16, u16)>,
}

/// One `content` with its modifiers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Content {
    /// The bytes to find, after `|hex|` and escape decoding.
    pub pattern: Vec<u8>,
    pub negated: bool,
    pub nocase: bool,
    pub rawbytes: bool,
    pub offset: Option<u32>,
    pub depth: Option<u32>,
    /// Relative to the end of the previous match; may be negative.
    pub distance: Option<i32>,
    pub within: Option<u32>,
    pub startswith: bool,
    pub endswith: bool,
    pub fast_pattern: Option<FastPattern>,
}

impl Content {
    /// Relative to the previous content match (`distance` or `within`).
    pub fn is_relative(&self) -> bool {
        self.distance.is_some() || self.within.is_some()
    }
}

/// `flags` keyword: `[modifier]flags[,ignore]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpFlagsMatch {
    /// `tcpflag::*` bits named in the keyword.
    pub flags: u8,
    /// Bits to ignore before comparing (the part after the comma).
    pub ignore: u8,
    pub mode: FlagsMode,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagsMode {
    /// no modifier: exactly these flags (after masking)
    Exact,
    /// `+`: these flags and possibly others
    Plus,
    /// `*`: any of these flags
    Any,
    /// `!`: not exactly these flags
    Not,
    /// `0`: no flags set
    None,
}

/// `fragbits` keyword.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FragBitsMatch {
    /// Bits: 0x4 R (reserved), 0x2 D (don't fragment), 0x1 M (more fragments).
    pub bits: u8,
    pub mode: FlagsMode,
}

/// `ip_proto` keyword.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpProtoMatch {
    Eq(u8),
    Ne(u8),
    Lt(u8),
    Gt(u8),
}

/// A detection option, in rule order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Match {
    Content(Content),
    /// `isdataat:[!]N[,relative][,rawbytes]`
    IsDataAt {
        n: u32,
        relative: bool,
        negated: bool,
    },
    Dsize(NumCmp<u16>),
    Itype(NumCmp<u8>),
    Icode(NumCmp<u8>),
    IcmpId(u16),
    IcmpSeq(u16),
    Flags(TcpFlagsMatch),
    Ttl(NumCmp<u8>),
    /// `ipopts:` one `ipopt::*` bit, or `ipopt::ANY`.
    IpOpts(u16),
    IpProto(IpProtoMatch),
    /// `sameip` (true) — source equals destination.
    SameIp,
    FragBits(FragBitsMatch),
    /// `window:[!]N`
    Window {
        value: u16,
        negated: bool,
    },
    Ack(u32),
    Seq(u32),
    TcpMss(NumCmp<u16>),
}

/// `target:src_ip` / `target:dest_ip`
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Src,
    Dst,
}

/// Non-detection options.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Meta {
    pub msg: String,
    pub sid: u32,
    pub rev: u32,
    pub gid: u32,
    pub classtype: Option<String>,
    /// Explicit `priority:`; otherwise the classtype's, otherwise 3.
    pub priority: Option<u8>,
    /// `metadata:` key/value pairs in order (`key value` split at the first space).
    pub metadata: Vec<(String, String)>,
    /// `reference:` (type, value) pairs.
    pub references: Vec<(String, String)>,
    pub target: Option<Target>,
}

/// Header direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// `->`
    Forward,
    /// `<>`: either way.
    Both,
}

/// A rule that parsed and whose every keyword ravn supports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub action: Action,
    pub proto: Proto,
    pub src: AddrSet,
    pub src_ports: PortSet,
    pub direction: Direction,
    pub dst: AddrSet,
    pub dst_ports: PortSet,
    pub meta: Meta,
    pub matches: Vec<Match>,
    /// The rule text as it was in the file (one logical line, continuations joined).
    pub text: String,
    pub origin: Origin,
}
