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
    /// `offset`/`depth` were made from the first content's `distance`/`within`: Suricata
    /// turns them into absolute ones after deciding which signatures need the packet (a
    /// content with depth or offset does), so these do not count there.
    pub absolute_from_relative: bool,
    /// Modifiers given a byte_extract/byte_math variable: its index here, and, as Suricata
    /// stores it, the same index in the modifier's number field (so checks made at load
    /// time see what Suricata's see).
    pub vars: ModVars,
}

/// The byte_extract/byte_math variables (by index) that content modifiers take their value
/// from at match time (Suricata's DETECT_CONTENT_*_VAR).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ModVars {
    pub offset: Option<u8>,
    pub depth: Option<u8>,
    pub distance: Option<u8>,
    pub within: Option<u8>,
}

impl ModVars {
    pub fn any(&self) -> bool {
        self.offset.is_some()
            || self.depth.is_some()
            || self.distance.is_some()
            || self.within.is_some()
    }
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

/// Which checksum a `*-csum` keyword checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CsumKind {
    Ipv4,
    Tcpv4,
    Tcpv6,
    Udpv4,
    Udpv6,
    Icmpv4,
    Icmpv6,
}

/// A detection option, in rule order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Match {
    Content(Content),
    /// `isdataat:[!]N[,relative][,rawbytes]`; with `var`, `n` is the index of the
    /// byte_extract/byte_math variable given instead of N.
    IsDataAt {
        n: u32,
        relative: bool,
        negated: bool,
        var: bool,
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
    /// `id:N` — the IPv4 identification.
    Id(u16),
    /// `tos:[!]N` — the IPv4 type of service.
    Tos {
        value: u8,
        negated: bool,
    },
    /// `fragoffset:[<|>]N` — the IPv4 fragment offset (8-byte units), or an IPv6 fragment
    /// header's (bytes).
    FragOffset(NumCmp<u16>),
    /// `ipv4-csum`, `tcpv4-csum`, ... `:valid|invalid`.
    Csum {
        kind: CsumKind,
        valid: bool,
    },
    /// `window:[!]N`
    Window {
        value: u16,
        negated: bool,
    },
    Ack(u32),
    Seq(u32),
    TcpMss(NumCmp<u16>),
    /// `flow:` (stateful; the detection engine evaluates it against the flow).
    Flow(FlowMatch),
    /// `flowbits:` — one command per keyword occurrence, kept in rule order.
    Flowbits(Flowbits),
    /// `pcre:` — a payload keyword (relative matching with the contents around it).
    Pcre(Pcre),
    /// `byte_test:` (payload keyword).
    ByteTest(ByteTest),
    /// `byte_jump:` (payload keyword).
    ByteJump(ByteJump),
    /// `byte_extract:` (payload keyword; defines a variable).
    ByteExtract(ByteExtract),
    /// `byte_math:` (payload keyword; defines a variable).
    ByteMath(ByteMath),
    /// `bsize:` (payload keyword: size of the inspected buffer).
    Bsize(NumCmp<u64>),
    /// `stream_size:`
    StreamSize(StreamSize),
    /// `hostbits:` / `xbits:` — bits kept per host or per IP pair.
    Xbits(Xbits),
    /// `tag:` — log the packets that follow the alert (Suricata's post-alert list).
    Tag(Tag),
}

impl Match {
    /// Suricata's `SIGMATCH_IPONLY_COMPAT` as `SignatureIsIPOnly` applies it: a rule whose
    /// keywords are all such stays an IP-only rule (`flowbits` only with `set`; `hostbits`,
    /// `xbits` and `tag` always; `noalert` is a rule flag).
    pub fn is_iponly_compat(&self) -> bool {
        match self {
            Match::Flowbits(f) => matches!(f.cmd, FlowbitsCmd::Set | FlowbitsCmd::NoAlert),
            Match::Xbits(_) | Match::Tag(_) => true,
            _ => false,
        }
    }
}

/// `flow:` options. Suricata's semantics: every given option must hold (`stateless` always
/// holds). A flow that is only a direction (`flow:to_server;`) restricts the rule to that
/// direction; when a rule's flows name both directions (`flow:to_server; flow:established;`,
/// which Suricata accepts), the direction-only ones are dropped by the parser, as Suricata then
/// inspects both directions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FlowMatch {
    /// `to_server` / `from_client`
    pub to_server: bool,
    /// `to_client` / `from_server`
    pub to_client: bool,
    pub established: bool,
    pub not_established: bool,
    pub stateless: bool,
    pub only_stream: bool,
    pub no_stream: bool,
    pub only_frag: bool,
    pub no_frag: bool,
}

/// `flowbits:` command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowbitsCmd {
    Set,
    Unset,
    Toggle,
    IsSet,
    IsNotSet,
    /// `flowbits:noalert;` — the rule never alerts (it only sets bits).
    NoAlert,
}

/// `flowbits:cmd,name` with Suricata 7's groups: `isset:a|b` (any of them set),
/// `isnotset:a|b` (any of them not set) — `names` holds the group members in order.
/// Suricata 7.0.10 has no `&` operator: `set,a&b` is one bit named `a&b`. It accepts `|` with
/// `set`/`unset`/`toggle` too, but then acts on an unnamed bit (its index 0) that no `isset`
/// can see: such commands have no visible effect. `set`/`unset`/`toggle` run only after the
/// whole rule matched (Suricata's post-match list); `noalert` has no name and only stops the
/// rule from alerting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flowbits {
    pub cmd: FlowbitsCmd,
    pub names: Vec<String>,
    /// True when the names were joined with `|` (OR); false for a single name.
    pub or: bool,
}

/// `pcre:"/re/flags"`, with Suricata's flags decoded.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Pcre {
    /// The pattern between the slashes, verbatim: Suricata does no unescaping (`\;`, `\"`,
    /// `\/` reach PCRE2 as written). Compile it without UTF/UCP, with `PCRE2_NO_AUTO_CAPTURE`
    /// unless that fails with error 115 — see `rules::keywords::pcre::compile`.
    pub pattern: String,
    pub negated: bool,
    /// `i` caseless, `s` dotall, `m` multiline, `x` extended, `A` anchored,
    /// `E` dollar-endonly, `G` ungreedy.
    pub caseless: bool,
    pub dotall: bool,
    pub multiline: bool,
    pub extended: bool,
    pub anchored: bool,
    pub dollar_endonly: bool,
    pub ungreedy: bool,
    /// `R`: relative to the end of the previous payload match.
    pub relative: bool,
    /// `B`: rawbytes (a no-op for packet payloads).
    pub rawbytes: bool,
    /// `O`: override the match limits.
    pub no_match_limit: bool,
}

/// A number or a `byte_extract`/`byte_math` variable (by index into the rule's variables,
/// in definition order: the `var` of the `ByteExtract`/`ByteMath` that defined it). A name
/// refers to the first byte_extract of that name, else the first byte_math. `byte_test`'s
/// value is a u64 stored bit for bit (`Lit(-1)` is `u64::MAX`): compare as `u64`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueRef {
    Lit(i64),
    Var(u8),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Endian {
    #[default]
    Big,
    Little,
    /// `dce`: from the DCERPC header (ravn: unsupported buffer, rules are skipped).
    Dce,
}

/// `string,hex|dec|oct`: the bytes are ASCII digits in this base. (byte_test/byte_jump rules
/// with `string` but no base, which Suricata reads with strtoull base 0, or with several bases,
/// which it ORs together, are skipped as unsupported.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumBase {
    Hex,
    Dec,
    Oct,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteTestOp {
    Lt,
    Gt,
    Eq,
    Le,
    Ge,
    /// `&`: (value & operand) != 0
    And,
    /// `^`: (value ^ operand) != 0
    Xor,
}

/// `byte_test:nbytes,[!]op,value,offset[,relative][,endian][,string,base][,dce][,bitmask N]`
/// (`dce` rules are skipped, so `endian` is Big or Little; it is irrelevant with `string`).
/// A literal `nbytes` is 0..=255 as Suricata stores it (a u8; a huge value like 4294967295
/// passes its check as -1): more than 8 (binary) or 23 (string) bytes never match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteTest {
    pub nbytes: ValueRef,
    pub op: ByteTestOp,
    pub negated: bool,
    pub value: ValueRef,
    pub offset: ValueRef,
    pub relative: bool,
    pub endian: Endian,
    pub string: Option<NumBase>,
    pub bitmask: Option<u64>,
}

/// `byte_jump:nbytes,offset[,relative][,multiplier N][,endian][,string,base][,align]
/// [,from_beginning|from_end][,post_offset N][,dce][,bitmask N]`
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteJump {
    pub nbytes: ValueRef,
    pub offset: ValueRef,
    pub relative: bool,
    pub multiplier: u32,
    pub endian: Endian,
    pub string: Option<NumBase>,
    pub align: bool,
    pub from_beginning: bool,
    pub from_end: bool,
    pub post_offset: i32,
    /// Always `None` for Suricata 7.0.10 rules: its byte_jump has no `bitmask` (an error).
    pub bitmask: Option<u64>,
}

/// `byte_extract:nbytes,offset,name[,relative][,multiplier N][,endian][,string,base]
/// [,align N][,dce][,bitmask N]`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ByteExtract {
    pub nbytes: u8,
    pub offset: i32,
    /// Index of the variable it defines (definition order within the rule).
    pub var: u8,
    pub name: String,
    pub relative: bool,
    pub multiplier: u32,
    pub endian: Endian,
    pub string: Option<NumBase>,
    /// Round the extracted value up to a multiple of 2 or 4 (0 = none).
    pub align: u8,
    /// Always `None` for Suricata 7.0.10 rules: its byte_extract has no `bitmask` (an error).
    pub bitmask: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteMathOp {
    Add,
    Sub,
    Mul,
    Div,
    Shl,
    Shr,
}

/// `byte_math:bytes N,offset N,oper OP,rvalue V,result NAME[,relative][,endian E]
/// [,string BASE][,dce][,bitmask N]`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ByteMath {
    pub nbytes: ValueRef,
    pub offset: i32,
    pub op: ByteMathOp,
    pub rvalue: ValueRef,
    /// Index of the variable it defines.
    pub var: u8,
    pub name: String,
    pub relative: bool,
    pub endian: Endian,
    pub string: Option<NumBase>,
    pub bitmask: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamSide {
    Server,
    Client,
    /// both sides must satisfy the comparison
    Both,
    /// either side
    Either,
}

/// `hostbits:` / `xbits:` command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XbitsCmd {
    Set,
    Unset,
    Toggle,
    IsSet,
    IsNotSet,
}

/// Whose bit: the packet's source host, its destination host, or the (unordered) pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XbitTrack {
    IpSrc,
    IpDst,
    IpPair,
}

/// Which keyword wrote the bit command: Suricata's rule ordering counts `hostbits` setters and
/// `xbits` readers only (see `detect::Signature`'s ordering ranks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XbitsKeyword {
    Hostbits,
    Xbits,
}

/// `hostbits:cmd,name[,src|dst]` (expire fixed at 300 s) or
/// `xbits:cmd,name,track ip_src|ip_dst|ip_pair[,expire N]` (default 30 s). Host bits of both
/// keywords share one namespace; pair bits have their own. A bit set at time `t` (seconds)
/// with expiry `e` is seen until the packet time's seconds exceed `t + e`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Xbits {
    pub cmd: XbitsCmd,
    pub name: String,
    pub track: XbitTrack,
    /// Seconds.
    pub expire: u32,
    pub keyword: XbitsKeyword,
}

/// `tag:` type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagKind {
    Session,
    Host,
}

/// `tag:` metric: what `count` counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagMetric {
    Packets,
    Seconds,
    Bytes,
}

/// `tag:session|host[,count,packets|seconds|bytes[,src|dst]]` (default 256 packets, `dst`;
/// a packet count is capped at 256).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tag {
    pub kind: TagKind,
    pub count: u32,
    pub metric: TagMetric,
    /// For host tags: tag the source (true) or the destination host.
    pub src: bool,
}

/// `stream_size:side,op,value`
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamSize {
    pub side: StreamSide,
    pub cmp: NumCmp<u32>,
}

/// `threshold:` / `detection_filter:` tracking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Track {
    BySrc,
    ByDst,
    ByRule,
    ByBoth,
    ByFlow,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThresholdKind {
    Limit,
    Threshold,
    Both,
    /// `detection_filter:` (alert on every match after `count` within `seconds`).
    DetectionFilter,
}

/// `threshold:type T,track K,count N,seconds S` or `detection_filter:track K,count N,seconds S`
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Threshold {
    pub kind: ThresholdKind,
    pub track: Track,
    pub count: u32,
    pub seconds: u32,
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
    /// `threshold:` or `detection_filter:` — at most one of the two per rule (Suricata rejects
    /// a second one and the combination). `threshold` has kind Limit/Threshold/Both and track
    /// BySrc/ByDst/ByRule/ByBoth; `detection_filter` has kind DetectionFilter and track
    /// BySrc/ByDst, count and seconds > 0. `ByFlow` does not exist in Suricata 7.0.10.
    pub threshold: Option<Threshold>,
    pub detection_filter: Option<Threshold>,
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
