//! The detection engine: compiled signatures, matched against decoded packets.
//!
//! `Engine::new` turns parsed rules into `Signature`s in Suricata's order (action, then
//! priority, then load order), so alerts on one packet come out as Suricata orders them.
//! `Engine::inspect` runs one packet: IP-only signatures once per flow direction, all others
//! on every packet, then applies pass rules and the per-packet alert limit.

pub mod header;
pub mod payload;
pub mod prefilter;
pub mod tag;
pub mod threshold;
pub mod xbits;

use crate::decode::{Packet, L4};
use crate::flow::{Direction, Flow};
use crate::rules::ast::{self, Action, AddrSet, Match, PortSet, Proto, Rule};
use crate::rules::classification::Classifications;
use payload::{PayloadKeyword, PayloadProgram};
use prefilter::{AddrIndex, DirClass, PacketKey, Prefilter, PrefilterSig};

/// Suricata's default `packet-alert-max`.
pub const PACKET_ALERT_MAX: usize = 15;

/// What the outputs need to know about a signature.
#[derive(Debug, Clone)]
pub struct SigInfo {
    pub gid: u32,
    pub sid: u32,
    pub rev: u32,
    /// None when the rule had no `msg` (fast.log prints "(null)", EVE "").
    pub msg: Option<String>,
    /// The classification's description, when the rule had a classtype.
    pub class_desc: Option<String>,
    pub priority: u8,
    pub action: Action,
    /// `metadata` grouped as Suricata logs it: keys sorted, values newest first.
    pub metadata: Vec<(String, Vec<String>)>,
    pub target: Option<ast::Target>,
}

/// Which packets a signature's protocol field admits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ProtoFilter {
    Any,
    Ipv4,
    Ipv6,
    /// An upper-layer protocol (and, for ICMP, its v6 twin).
    L4(u8, Option<u8>),
}

impl ProtoFilter {
    fn of(p: &Proto) -> ProtoFilter {
        match p {
            Proto::Ip => ProtoFilter::Any,
            Proto::Ipv4 => ProtoFilter::Ipv4,
            Proto::Ipv6 => ProtoFilter::Ipv6,
            Proto::Tcp | Proto::TcpPkt | Proto::TcpStream => ProtoFilter::L4(6, None),
            Proto::Udp => ProtoFilter::L4(17, None),
            Proto::Icmp => ProtoFilter::L4(1, Some(58)),
            Proto::Icmpv4 => ProtoFilter::L4(1, None),
            Proto::Icmpv6 => ProtoFilter::L4(58, None),
            Proto::Sctp => ProtoFilter::L4(132, None),
        }
    }

    fn admits(self, version: u8, proto: u8) -> bool {
        match self {
            ProtoFilter::Any => true,
            ProtoFilter::Ipv4 => version == 4,
            ProtoFilter::Ipv6 => version == 6,
            ProtoFilter::L4(a, b) => proto == a || Some(proto) == b,
        }
    }
}

/// A compiled rule.
#[derive(Debug, Clone)]
pub struct Signature {
    pub info: SigInfo,
    proto: ProtoFilter,
    src: AddrSet,
    dst: AddrSet,
    sp: PortSet,
    dp: PortSet,
    bidirectional: bool,
    header: Vec<Match>,
    payload: PayloadProgram,
    /// Only a packet with a payload can match (Suricata's SIG_MASK_REQUIRE_PAYLOAD: payload
    /// keywords, or a dsize that excludes 0).
    needs_payload: bool,
    /// No detection keywords at all: Suricata inspects it once per flow direction.
    pub ip_only: bool,
    /// Suricata's SIG_FLAG_REQUIRE_STREAM: the payload keywords inspect the reassembled
    /// stream when there is stream data (and not the packet, when the packet's data went
    /// into the stream, unless `req_packet`).
    req_stream: bool,
    /// Suricata's SIG_FLAG_REQUIRE_PACKET: the payload keywords inspect the packet too.
    req_packet: bool,
    /// The prefilter pattern: the explicit `fast_pattern` (chopped), else the longest
    /// positive content. Always a necessary condition of the signature.
    fast_pattern: Option<(Vec<u8>, bool)>,
    /// In a buffer the payload keywords inspect (the packet payload, or a piece of stream
    /// data) the fast pattern ends at or before this offset (`fp_window`); None when it can
    /// be anywhere.
    fp_end: Option<u32>,
    /// The one offset the fast pattern can be at in such a buffer, if it has one.
    fp_at: Option<u32>,
    /// The longest packet payload the signature can match (`dsize_max`).
    payload_max: Option<u32>,
    /// Restricted to one flow direction (`flow:to_server` / `to_client`).
    dir_class: DirClass,
    flow_kw: Option<ast::FlowMatch>,
    /// `flowbits:isset/isnotset` conditions: (negated, bits, any-of).
    bit_conds: Vec<(bool, Vec<u16>, bool)>,
    /// `flowbits:set/unset/toggle` actions, applied when the signature matches.
    bit_actions: Vec<(ast::FlowbitsCmd, Vec<u16>)>,
    /// `flowbits:noalert`
    pub noalert: bool,
    stream_size: Vec<ast::StreamSize>,
    pub threshold: Option<ast::Threshold>,
    pub detection_filter: Option<ast::Threshold>,
    /// Suricata's flowbits ordering class: 3 set, 2 set+read, 1 read, 0 none.
    flowbits_rank: u8,
    /// The same classes for host bits and for IP-pair bits (see [`xbits_ranks`]).
    hostbits_rank: u8,
    ippair_rank: u8,
    /// `hostbits`/`xbits` conditions (`isset`/`isnotset`), in rule order, each with the number
    /// of header keywords before it (Suricata evaluates its match list in rule order, and an
    /// `isset` on an expired bit removes it).
    xbit_conds: Vec<(xbits::Op, usize)>,
    /// `hostbits`/`xbits` `set`/`unset`/`toggle`, applied when the signature matches.
    xbit_actions: Vec<xbits::Op>,
    /// `tag` keywords, applied when the match passes thresholds.
    tags: Vec<ast::Tag>,
    /// threshold.config `suppress` entries that apply to this signature.
    suppress: Vec<crate::rules::threshold_config::Suppress>,
    /// threshold.config `rate_filter` for this signature.
    pub rate_filter: Option<crate::rules::threshold_config::RateFilter>,
}

/// Bit name → index, per namespace: host bits (`hostbits`, `xbits` with `ip_src`/`ip_dst`)
/// and pair bits (`xbits` with `ip_pair`).
#[derive(Default)]
struct XbitNames {
    host: std::collections::HashMap<String, u16>,
    pair: std::collections::HashMap<String, u16>,
}

/// Suricata's `SCSigGetXbitsType` for host bits and pair bits, quirk included: reads are
/// counted only for `xbits` (`isset`/`isnotset`), writes only for `hostbits`
/// (`set`/`unset`/`toggle`). So `hostbits` setters go first, `xbits` readers next, and
/// `hostbits` readers and `xbits` setters are ordered as rules without bits. Ranks as
/// `flowbits_rank`: 3 set, 2 set+read, 1 read, 0 none.
fn xbits_ranks(matches: &[Match]) -> (u8, u8) {
    let rank = |pair: bool| {
        let (mut read, mut write) = (false, false);
        for m in matches {
            let Match::Xbits(x) = m else { continue };
            if (x.track == ast::XbitTrack::IpPair) != pair {
                continue;
            }
            match (x.cmd, x.keyword) {
                (ast::XbitsCmd::IsSet | ast::XbitsCmd::IsNotSet, ast::XbitsKeyword::Xbits) => {
                    read = true
                }
                (
                    ast::XbitsCmd::Set | ast::XbitsCmd::Unset | ast::XbitsCmd::Toggle,
                    ast::XbitsKeyword::Hostbits,
                ) => write = true,
                _ => {}
            }
        }
        match (write, read) {
            (true, false) => 3,
            (true, true) => 2,
            (false, true) => 1,
            (false, false) => 0,
        }
    };
    (rank(false), rank(true))
}

/// Flow-level facts a signature may test.
#[derive(Clone, Copy)]
pub struct FlowView<'f> {
    pub flow: &'f Flow,
    pub dir: Direction,
    pub established: bool,
}

impl Signature {
    fn compile(
        rule: Rule,
        classes: &Classifications,
        bit_names: &mut std::collections::HashMap<String, u16>,
        xbit_names: &mut XbitNames,
    ) -> Result<Signature, (ast::Origin, String)> {
        let mut bit_id = |n: &str| -> u16 {
            let next = bit_names.len() as u16;
            *bit_names.entry(n.to_string()).or_insert(next)
        };
        let mut xbit_conds = Vec::new();
        let mut xbit_actions = Vec::new();
        let mut tags = Vec::new();
        let mut headers_seen = 0;
        let mut flow_kw = None;
        let mut bit_conds = Vec::new();
        let mut bit_actions = Vec::new();
        let mut noalert = false;
        let mut stream_size = Vec::new();
        for m in &rule.matches {
            match m {
                Match::Flow(f) => flow_kw = Some(*f),
                Match::Flowbits(fb) => {
                    let ids: Vec<u16> = fb.names.iter().map(|n| bit_id(n)).collect();
                    match fb.cmd {
                        ast::FlowbitsCmd::IsSet => bit_conds.push((false, ids, fb.or)),
                        ast::FlowbitsCmd::IsNotSet => bit_conds.push((true, ids, fb.or)),
                        ast::FlowbitsCmd::NoAlert => noalert = true,
                        cmd => bit_actions.push((cmd, ids)),
                    }
                }
                Match::StreamSize(ss) => stream_size.push(*ss),
                Match::Xbits(x) => {
                    let names = match x.track {
                        ast::XbitTrack::IpPair => &mut xbit_names.pair,
                        _ => &mut xbit_names.host,
                    };
                    let next = names.len().min(u16::MAX as usize) as u16;
                    let op = xbits::Op {
                        cmd: x.cmd,
                        bit: *names.entry(x.name.clone()).or_insert(next),
                        track: x.track,
                        expire: x.expire,
                    };
                    match x.cmd {
                        ast::XbitsCmd::IsSet | ast::XbitsCmd::IsNotSet => {
                            xbit_conds.push((op, headers_seen))
                        }
                        _ => xbit_actions.push(op),
                    }
                }
                Match::Tag(t) => tags.push(*t),
                m if is_header_keyword(m) => headers_seen += 1,
                _ => {}
            }
        }
        let (hostbits_rank, ippair_rank) = xbits_ranks(&rule.matches);
        let flowbits_rank = match (!bit_actions.is_empty(), !bit_conds.is_empty()) {
            (true, false) => 3,
            (true, true) => 2,
            (false, true) => 1,
            (false, false) => 0,
        };
        let dir_class = match flow_kw {
            Some(f) if f.to_server => DirClass::ToServer,
            Some(f) if f.to_client => DirClass::ToClient,
            _ => DirClass::Both,
        };
        let mut header = Vec::new();
        let mut pkws: Vec<PayloadKeyword<'_>> = Vec::new();
        for m in &rule.matches {
            match m {
                Match::Content(c) => pkws.push(PayloadKeyword::Content(c)),
                Match::IsDataAt {
                    n,
                    relative,
                    negated,
                    var,
                } => pkws.push(PayloadKeyword::IsDataAt {
                    n: *n,
                    relative: *relative,
                    negated: *negated,
                    var: *var,
                }),
                Match::Pcre(p) => pkws.push(PayloadKeyword::Pcre(p)),
                Match::ByteTest(b) => pkws.push(PayloadKeyword::ByteTest(b)),
                Match::ByteJump(b) => pkws.push(PayloadKeyword::ByteJump(b)),
                Match::ByteExtract(b) => pkws.push(PayloadKeyword::ByteExtract(b)),
                Match::ByteMath(b) => pkws.push(PayloadKeyword::ByteMath(b)),
                Match::Bsize(c) => pkws.push(PayloadKeyword::Bsize(*c)),
                m if !is_header_keyword(m) => {}
                other => header.push(other.clone()),
            }
        }
        let payload = PayloadProgram::try_compile(&pkws).map_err(|e| (rule.origin.clone(), e))?;
        let needs_payload = !payload.is_empty()
            || header
                .iter()
                .any(|m| matches!(m, Match::Dsize(c) if dsize_needs_payload(c)));
        let (req_stream, req_packet) = stream_flags(&rule, &payload, &header, flow_kw);
        let fp_content = fast_pattern_content(&rule.matches);
        let fast_pattern = fp_content.map(fast_pattern_bytes);
        // a match of the fast pattern lies in its content's offset/depth window, and in a
        // packet payload no longer than dsize admits
        let payload_max = header.iter().find_map(|m| match m {
            Match::Dsize(c) => dsize_max(c),
            _ => None,
        });
        let fp_window = fp_content.and_then(fp_window);
        let fp_end = fp_window.map(|w| w.1);
        let fp_at = fp_window.and_then(|(start, end)| {
            let len = fast_pattern.as_ref().map_or(0, |f| f.0.len() as u32);
            (end.checked_sub(start) == Some(len)).then_some(start)
        });
        let class = rule.meta.classtype.as_deref().and_then(|c| classes.get(c));
        let priority = rule
            .meta
            .priority
            .or(class.map(|c| c.priority.min(255) as u8))
            .unwrap_or(3);
        let info = SigInfo {
            gid: rule.meta.gid,
            sid: rule.meta.sid,
            rev: rule.meta.rev,
            msg: if rule.meta.msg.is_empty() {
                None
            } else {
                Some(rule.meta.msg.clone())
            },
            class_desc: class.map(|c| c.description.clone()),
            priority,
            action: rule.action,
            metadata: group_metadata(&rule.meta.metadata),
            target: rule.meta.target,
        };
        // Suricata: no detection keywords, or only IP-only compatible ones (`flowbits:set`,
        // `hostbits`, `xbits`, `tag`).
        let ip_only = rule.matches.iter().all(Match::is_iponly_compat);
        Ok(Signature {
            info,
            proto: ProtoFilter::of(&rule.proto),
            src: rule.src,
            dst: rule.dst,
            sp: rule.src_ports,
            dp: rule.dst_ports,
            bidirectional: rule.direction == ast::Direction::Both,
            header,
            payload,
            needs_payload,
            ip_only,
            req_stream,
            req_packet,
            fast_pattern,
            fp_end,
            fp_at,
            payload_max,
            dir_class,
            flow_kw,
            bit_conds,
            bit_actions,
            noalert,
            stream_size,
            threshold: rule.meta.threshold,
            detection_filter: rule.meta.detection_filter,
            flowbits_rank,
            hostbits_rank,
            ippair_rank,
            xbit_conds,
            xbit_actions,
            tags,
            suppress: Vec::new(),
            rate_filter: None,
        })
    }

    fn addresses_match(&self, p: &Packet<'_>) -> bool {
        let Some(ip) = p.ip else { return false };
        let ports = match p.l4 {
            L4::Tcp(t) => Some((t.src_port, t.dst_port)),
            L4::Udp(u) => Some((u.src_port, u.dst_port)),
            _ => None,
        };
        let fwd = |src, dst, sp: Option<u16>, dp: Option<u16>| -> bool {
            self.src.contains(src)
                && self.dst.contains(dst)
                && port_ok(&self.sp, sp)
                && port_ok(&self.dp, dp)
        };
        let (sp, dp) = match ports {
            Some((a, b)) => (Some(a), Some(b)),
            None => (None, None),
        };
        fwd(ip.src, ip.dst, sp, dp) || (self.bidirectional && fwd(ip.dst, ip.src, dp, sp))
    }

    /// The flow-level conditions (flow, flowbits, stream_size) hold; `rebuilt`: the packet
    /// was reassembled from IP fragments (Suricata's PKT_REBUILT_FRAGMENT).
    fn flow_conditions(&self, fv: Option<FlowView<'_>>, rebuilt: bool) -> bool {
        if let Some(fk) = &self.flow_kw {
            let (dir, est, stream) = match fv {
                Some(v) => (
                    Some(v.dir),
                    v.established,
                    v.flow.tcp >= crate::flow::TcpState::Established,
                ),
                None => (None, false, false),
            };
            if fk.to_server && dir != Some(Direction::ToServer) {
                return false;
            }
            if fk.to_client && dir != Some(Direction::ToClient) {
                return false;
            }
            if fk.established && !est {
                return false;
            }
            if fk.not_established && est {
                return false;
            }
            if fk.only_stream && !(stream && est) {
                return false;
            }
            if fk.only_frag && !rebuilt || fk.no_frag && rebuilt {
                return false;
            }
        }
        for (negated, ids, or) in &self.bit_conds {
            let bits = fv.map(|v| v.flow.bits);
            let is_set = |id: u16| bits.is_some_and(|b| b.get(id));
            let ok = match (negated, or) {
                (false, false) => ids.iter().all(|&i| is_set(i)),
                (false, true) => ids.iter().any(|&i| is_set(i)),
                (true, false) => ids.iter().all(|&i| !is_set(i)),
                (true, true) => ids.iter().any(|&i| !is_set(i)),
            };
            if !ok {
                return false;
            }
        }
        for ss in &self.stream_size {
            let Some(v) = fv else { return false };
            if v.flow.tcp == crate::flow::TcpState::None {
                return false;
            }
            let (srv, cli) = (v.flow.tcp_server.size(), v.flow.tcp_client.size());
            let ok = match ss.side {
                ast::StreamSide::Server => ss.cmp.matches(srv),
                ast::StreamSide::Client => ss.cmp.matches(cli),
                ast::StreamSide::Both => ss.cmp.matches(srv) && ss.cmp.matches(cli),
                ast::StreamSide::Either => ss.cmp.matches(srv) || ss.cmp.matches(cli),
            };
            if !ok {
                return false;
            }
        }
        true
    }

    /// Apply `hostbits`/`xbits` `set/unset/toggle` after a match.
    fn apply_xbit_actions(&self, p: &Packet<'_>, xb: &mut xbits::XbitTables) {
        let Some(ip) = p.ip else { return };
        for op in &self.xbit_actions {
            xb.apply(*op, ip.src, ip.dst, p.ts.secs);
        }
    }

    /// Apply `flowbits:set/unset/toggle` after a match.
    fn apply_actions(&self, flow: &mut Flow) {
        for (cmd, ids) in &self.bit_actions {
            for &i in ids {
                match cmd {
                    ast::FlowbitsCmd::Set => flow.bits.set(i, true),
                    ast::FlowbitsCmd::Unset => flow.bits.set(i, false),
                    ast::FlowbitsCmd::Toggle => {
                        let v = flow.bits.get(i);
                        flow.bits.set(i, !v)
                    }
                    _ => {}
                }
            }
        }
    }

    /// Every condition of the signature holds for this packet.
    fn matches(
        &self,
        p: &Packet<'_>,
        fv: Option<FlowView<'_>>,
        xb: &mut xbits::XbitTables,
        sv: StreamView<'_>,
    ) -> bool {
        if sv.pseudo && self.payload.is_empty() {
            return false;
        }
        if !self.flow_conditions(fv, p.src == crate::decode::PktSrc::Defrag) {
            return false;
        }
        if self.xbit_conds.is_empty() {
            return self.packet_matches(p, sv);
        }
        self.packet_matches_with_xbits(p, xb, sv)
    }

    /// The payload keywords hold, and with `flow:only_stream` they held in the stream data:
    /// Suricata's FlowMatch counts `only_stream` only when this signature's payload
    /// inspection matched there (DETECT_ENGINE_THREAD_CTX_STREAM_CONTENT_MATCH), so a
    /// signature without payload keywords never has it.
    fn payload_ok(&self, p: &Packet<'_>, sv: StreamView<'_>) -> bool {
        let only_stream = self.flow_kw.is_some_and(|f| f.only_stream);
        if self.payload.is_empty() {
            return !only_stream;
        }
        match self.payload_match(p, sv) {
            None => false,
            Some(in_stream) => in_stream || !only_stream,
        }
    }

    /// Suricata's DetectEngineInspectRulePayloadMatches: a stream signature inspects the
    /// stream data first; without a match there, the packet, unless the packet's data
    /// went into the stream and the signature does not require the packet. Some(true) for
    /// a match in the stream data, Some(false) for one in the packet.
    fn payload_match(&self, p: &Packet<'_>, sv: StreamView<'_>) -> Option<bool> {
        if self.req_stream {
            if let Some(sd) = sv.data {
                if sd.pieces().any(|c| self.payload.matches(c)) {
                    return Some(true);
                }
            }
            if !self.req_packet && sv.added {
                return None;
            }
        }
        // Suricata's DetectEngineInspectPacketPayload runs on an empty payload too (a
        // signature gets here with stream data ready): negated contents match it
        self.payload.matches(sv.payload(p)).then_some(false)
    }

    /// As Suricata runs a signature with `isset`/`isnotset` host or pair bits: header
    /// (protocol, addresses), payload, then the match list in rule order, stopping at the
    /// first keyword that fails — so an expired bit is removed exactly when Suricata does.
    fn packet_matches_with_xbits(
        &self,
        p: &Packet<'_>,
        xb: &mut xbits::XbitTables,
        sv: StreamView<'_>,
    ) -> bool {
        let Some(ip) = p.ip else { return false };
        if !self.proto.admits(ip.version, ip.proto) || !self.addresses_match(p) {
            return false;
        }
        if !self.payload_ok(p, sv) {
            return false;
        }
        let mut h = 0;
        for (op, before) in &self.xbit_conds {
            let upto = (*before).min(self.header.len());
            if !self.header[h..upto].iter().all(|m| header::matches(m, p)) {
                return false;
            }
            h = upto;
            if !xb.apply(*op, ip.src, ip.dst, p.ts.secs) {
                return false;
            }
        }
        self.header[h..].iter().all(|m| header::matches(m, p))
    }

    fn packet_matches(&self, p: &Packet<'_>, sv: StreamView<'_>) -> bool {
        let Some(ip) = p.ip else { return false };
        if !self.proto.admits(ip.version, ip.proto) {
            return false;
        }
        if !self.addresses_match(p) {
            return false;
        }
        // A tunnel's carrier, or a flow past its TLS handshake, is inspected for its
        // headers only (PKT_NOPAYLOAD_INSPECTION); stream data counts as payload
        // (Suricata's packet mask).
        if self.needs_payload && sv.payload(p).is_empty() && sv.data.is_none() {
            return false;
        }
        if !self.header.iter().all(|m| header::matches(m, p)) {
            return false;
        }
        self.payload_ok(p, sv)
    }
}

/// Suricata's SIG_FLAG_REQUIRE_STREAM / SIG_FLAG_REQUIRE_PACKET for a signature: set by
/// `tcp-stream` / `tcp-pkt`, `flow:only_stream` / `no_stream` and the packet keywords
/// (dsize, ttl, flags, ...); else every TCP signature with payload keywords inspects the
/// stream, and also the packet when a content has `depth`/`offset` or it uses
/// `stream_size` (SigValidate).
fn stream_flags(
    rule: &Rule,
    payload: &PayloadProgram,
    header: &[Match],
    flow_kw: Option<ast::FlowMatch>,
) -> (bool, bool) {
    let mut req_stream = matches!(rule.proto, Proto::TcpStream);
    let mut req_packet = matches!(rule.proto, Proto::TcpPkt);
    if let Some(f) = flow_kw {
        req_stream |= f.only_stream;
        req_packet |= f.no_stream;
    }
    req_packet |= header
        .iter()
        .any(|m| !matches!(m, Match::IpProto(_) | Match::SameIp));
    let tcp = ProtoFilter::of(&rule.proto).admits(4, 6);
    if tcp && !payload.is_empty() && !req_stream && !req_packet {
        req_stream = true;
        req_packet = rule.matches.iter().any(|m| match m {
            Match::Content(c) => {
                (c.depth.is_some() || c.offset.is_some()) && !c.absolute_from_relative
                    || c.startswith
            }
            Match::StreamSize(_) => true,
            _ => false,
        });
    }
    (req_stream, req_packet)
}

/// Keywords evaluated by `header::matches` (the packet-header predicates); the others are
/// payload, flow-state or post-match keywords the engine handles itself.
fn is_header_keyword(m: &Match) -> bool {
    !matches!(
        m,
        Match::Content(_)
            | Match::IsDataAt { .. }
            | Match::Pcre(_)
            | Match::ByteTest(_)
            | Match::ByteJump(_)
            | Match::ByteExtract(_)
            | Match::ByteMath(_)
            | Match::Bsize(_)
            | Match::Flow(_)
            | Match::Flowbits(_)
            | Match::StreamSize(_)
            | Match::Xbits(_)
            | Match::Tag(_)
    )
}

/// Suricata's dsize modes that set SIG_MASK_REQUIRE_PAYLOAD: ranges, >, >=, != and = n > 0.
fn dsize_needs_payload(c: &ast::NumCmp<u16>) -> bool {
    use ast::NumCmp::*;
    match *c {
        Range(..) | Gt(_) | Ge(_) | Ne(_) => true,
        Eq(n) => n > 0,
        Lt(_) | Le(_) | NotRange(..) => false,
    }
}

/// Suricata's fast pattern choice, reduced to what matters for correctness: the content
/// with an explicit `fast_pattern` wins, else the longest positive content.
fn fast_pattern_content(ms: &[Match]) -> Option<&ast::Content> {
    let contents = ms.iter().filter_map(|m| match m {
        Match::Content(c) if !c.negated && !c.pattern.is_empty() => Some(c),
        _ => None,
    });
    let mut best: Option<&ast::Content> = None;
    for c in contents {
        if c.fast_pattern.is_some() {
            return Some(c);
        }
        if best.is_none_or(|b| c.pattern.len() > b.pattern.len()) {
            best = Some(c);
        }
    }
    best
}

/// The fast pattern of content `c` (with its `fast_pattern` chop) and its nocase.
fn fast_pattern_bytes(c: &ast::Content) -> (Vec<u8>, bool) {
    let (o, l) = fp_chop(c);
    (c.pattern[o..o + l].to_vec(), c.nocase)
}

/// Where in content `c` its fast pattern is: (start, length), the whole content unless
/// `fast_pattern` chops it.
fn fp_chop(c: &ast::Content) -> (usize, usize) {
    match c.fast_pattern.and_then(|fp| fp.chop) {
        Some((off, len)) if (off as usize) + (len as usize) <= c.pattern.len() => {
            (off as usize, len as usize)
        }
        _ => (0, c.pattern.len()),
    }
}

/// Where the fast pattern of content `c` can be in a packet payload, as `payload` applies
/// offset and depth: (earliest start, latest end) for a content that is neither relative
/// nor given a variable and has a depth (`startswith`: depth = its length). None when it
/// can be anywhere. The start equals end − length when the pattern has one place only.
fn fp_window(c: &ast::Content) -> Option<(u32, u32)> {
    if c.is_relative() || c.vars.any() {
        return None;
    }
    let (offset, depth) = if c.startswith {
        (0, c.pattern.len() as u32)
    } else {
        match c.depth {
            Some(d) if d != 0 => (c.offset.unwrap_or(0), d),
            _ => return None,
        }
    };
    let (o, l) = fp_chop(c);
    let after = (c.pattern.len() - o - l) as u32;
    let end = offset.saturating_add(depth).checked_sub(after)?;
    Some((offset.saturating_add(o as u32), end))
}

/// The longest packet payload a `dsize` condition admits; None when unbounded.
fn dsize_max(c: &ast::NumCmp<u16>) -> Option<u32> {
    use ast::NumCmp::*;
    match *c {
        Eq(n) | Le(n) | Range(_, n) => Some(u32::from(n)),
        Lt(n) => Some(u32::from(n.saturating_sub(1))),
        Ne(_) | Gt(_) | Ge(_) | NotRange(..) => None,
    }
}

fn port_ok(set: &PortSet, port: Option<u16>) -> bool {
    match port {
        Some(p) => set.contains(p),
        None => set.any,
    }
}

/// Suricata logs metadata grouped by key, keys sorted, each key's values newest first.
fn group_metadata(kv: &[(String, String)]) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for (k, v) in kv.iter().rev() {
        match out.iter_mut().find(|(ok, _)| ok == k) {
            Some((_, vs)) => vs.push(v.clone()),
            None => out.push((k.clone(), vec![v.clone()])),
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Suricata's `action-order`: the rank of each action's rules (lower is inspected first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActionOrder {
    /// Ranks of pass, drop, reject, alert.
    ranks: [u8; 4],
}

impl Default for ActionOrder {
    /// Suricata's default: pass, drop, reject, alert.
    fn default() -> Self {
        ActionOrder {
            ranks: [0, 1, 2, 3],
        }
    }
}

impl ActionOrder {
    /// Parse the configured list: each of pass, drop, reject and alert exactly once.
    pub fn parse<S: AsRef<str>>(names: &[S]) -> Result<ActionOrder, String> {
        let mut ranks = [u8::MAX; 4];
        for (rank, n) in names.iter().enumerate() {
            let slot = match n.as_ref() {
                "pass" => 0,
                "drop" => 1,
                "reject" => 2,
                "alert" => 3,
                other => {
                    return Err(format!(
                        "\"{other}\" is not an action (pass, drop, reject, alert)"
                    ))
                }
            };
            if ranks[slot] != u8::MAX {
                return Err(format!("\"{}\" is listed twice", n.as_ref()));
            }
            ranks[slot] = rank as u8;
        }
        if ranks.contains(&u8::MAX) {
            return Err("must list each of pass, drop, reject and alert once".into());
        }
        Ok(ActionOrder { ranks })
    }

    fn rank(&self, a: Action) -> u8 {
        self.ranks[match a {
            Action::Pass => 0,
            Action::Drop => 1,
            Action::Reject | Action::RejectSrc | Action::RejectDst | Action::RejectBoth => 2,
            Action::Alert => 3,
        }]
    }
}

/// How the engine is run (from the config and the command line).
#[derive(Debug, Clone, Copy)]
pub struct EngineOptions {
    pub action_order: ActionOrder,
    /// Suricata's `packet-alert-max`.
    pub packet_alert_max: usize,
    /// IPS mode (`--simulate-ips`): drop and reject rules block.
    pub ips: bool,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            action_order: ActionOrder::default(),
            packet_alert_max: PACKET_ALERT_MAX,
            ips: false,
        }
    }
}

/// One alert raised on a packet (an index into `Engine::sigs`), with its action: the
/// rule's, or what a threshold.config `rate_filter` made of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    pub sig: u32,
    pub action: Action,
    /// A `rate_filter` set the action (EVE then reports the packet's action).
    pub rate_modified: bool,
}

/// What detection decided for one packet: the alerts to log (at most `packet-alert-max`,
/// in Suricata's order) and the packet's verdict.
#[derive(Debug, Default)]
pub struct PacketAlerts {
    /// While inspecting: every match (noalert ones too); after: the alerts to log.
    hits: Vec<u32>,
    /// After inspection: each logged alert's action, and whether a rate_filter set it
    /// (parallel to `hits`).
    actions: Vec<(Action, bool)>,
    /// A drop or reject rule applied to this packet (IPS: it is dropped).
    pub drop: bool,
    /// The packet's actions for EVE's `verdict` ([`verdict`] bits: reject kinds, pass).
    pub verdict: u8,
    /// The packet is tagged (`tag` keyword): EVE logs it as a `packet` event when
    /// `tagged-packets` is on.
    pub tagged: bool,
    /// Alerts not logged because the packet already had `packet-alert-max`.
    pub overflow: u64,
}

/// Bits of [`PacketAlerts::verdict`], as Suricata's packet action bits.
pub mod verdict {
    /// `reject` / `rejectsrc`: reset or ICMP unreachable to the client.
    pub const REJECT: u8 = 1;
    /// `rejectdst`
    pub const REJECT_DST: u8 = 2;
    /// `rejectboth`
    pub const REJECT_BOTH: u8 = 4;
    /// A pass rule ended the packet's alert list (Suricata: the slot after the last alert
    /// holds the pass).
    pub const PASS: u8 = 8;
}

impl PacketAlerts {
    pub fn new() -> PacketAlerts {
        PacketAlerts {
            hits: Vec::with_capacity(64),
            actions: Vec::with_capacity(64),
            drop: false,
            verdict: 0,
            tagged: false,
            overflow: 0,
        }
    }
    fn clear(&mut self) {
        self.hits.clear();
        self.actions.clear();
        self.drop = false;
        self.verdict = 0;
        self.tagged = false;
    }
    pub fn iter(&self) -> impl Iterator<Item = Hit> + '_ {
        self.hits
            .iter()
            .zip(&self.actions)
            .map(|(&sig, &(action, rate_modified))| Hit {
                sig,
                action,
                rate_modified,
            })
    }
    pub fn len(&self) -> usize {
        self.hits.len()
    }
    pub fn is_empty(&self) -> bool {
        self.hits.is_empty()
    }
}

/// Detection counters.
#[derive(Debug, Default, Clone, Copy)]
pub struct DetectStats {
    pub alerts: u64,
    pub alert_queue_overflow: u64,
}

pub struct Engine {
    sigs: Vec<Signature>,
    /// Some signature reads the TCP stream (see `uses_stream`).
    uses_stream: bool,
    /// By protocol bucket (`prefilter::bucket_of`): some signature may match a packet of
    /// it (an IP-only one, or a prefilter candidate). Heartbeat rules only: the TCP and UDP
    /// packets that are most of the traffic skip detection at once.
    inspects: [bool; prefilter::BUCKETS],
    prefilter: Prefilter,
    /// IP-only signatures by the narrower of their address sides.
    iponly_by_src: AddrIndex,
    iponly_by_dst: AddrIndex,
    /// IP-only signatures with both sides broad (checked on every first packet).
    iponly_always: Vec<u32>,
    /// Scratch: candidates of the current packet.
    cand: Vec<u32>,
    thresholds: threshold::Thresholds,
    /// Host and IP-pair bits (`hostbits`, `xbits`).
    pub xbits: xbits::XbitTables,
    /// `tag` entries.
    pub tags: tag::Tags,
    opts: EngineOptions,
    /// Rules that parsed but could not be compiled (file:line, reason).
    pub failed: Vec<(ast::Origin, String)>,
    pub stats: DetectStats,
}

/// What detection knows about the packet's flow.
pub struct FlowCtx<'f> {
    pub flow: &'f mut Flow,
    pub dir: Direction,
    /// Suricata's FLOW_PKT_ESTABLISHED.
    pub established: bool,
    /// An exception policy passed or dropped this packet: no inspection.
    pub no_inspect: bool,
    /// What the stream engine says about this packet.
    pub stream: StreamView<'f>,
}

/// The reassembled stream data a packet's detection run inspects (Suricata's
/// PKT_DETECT_HAS_STREAMDATA and the chunks StreamReassembleRaw hands over).
#[derive(Clone, Copy)]
pub struct StreamData<'a> {
    pub buf: &'a [u8],
    pub chunks: &'a crate::stream::RawChunks,
}

impl<'a> StreamData<'a> {
    pub fn pieces(self) -> impl Iterator<Item = &'a [u8]> {
        let buf = self.buf;
        self.chunks.pieces[..usize::from(self.chunks.n)]
            .iter()
            .filter_map(move |&(a, b)| buf.get(a as usize..b as usize))
    }
}

/// A packet's relation to its TCP stream.
#[derive(Clone, Copy, Default)]
pub struct StreamView<'a> {
    /// Stream data to inspect with this packet.
    pub data: Option<StreamData<'a>>,
    /// The packet's payload was added to the stream (Suricata's PKT_STREAM_ADD).
    pub added: bool,
    /// An end-of-flow pseudo packet: only signatures with payload keywords run on it
    /// (the others carry Suricata's SIG_MASK_REQUIRE_REAL_PKT).
    pub pseudo: bool,
    /// The flow's payloads are no longer inspected (Suricata's PKT_NOPAYLOAD_INSPECTION
    /// from FLOW_NOPAYLOAD_INSPECTION): the packet's payload is not, stream data still is.
    pub no_payload: bool,
}

impl StreamView<'_> {
    /// The packet's payload as payload inspection sees it: none for a tunnel's carrier or
    /// a flow whose payloads are no longer inspected (both PKT_NOPAYLOAD_INSPECTION).
    pub fn payload<'p>(&self, p: &Packet<'p>) -> &'p [u8] {
        if p.carries_tunnel || self.no_payload {
            &[]
        } else {
            p.payload
        }
    }
}

fn buckets_for(p: ProtoFilter) -> &'static [usize] {
    match p {
        ProtoFilter::Any | ProtoFilter::Ipv4 | ProtoFilter::Ipv6 => &[0, 1, 2, 3, 4],
        ProtoFilter::L4(1, Some(58)) => &[2, 3],
        ProtoFilter::L4(a, _) => match prefilter::bucket_of(a) {
            0 => &[0],
            1 => &[1],
            2 => &[2],
            3 => &[3],
            _ => &[4],
        },
    }
}

impl Engine {
    /// Compile rules (in load order) into an engine with Suricata's default options.
    pub fn new(rules: Vec<Rule>, classes: &Classifications) -> Engine {
        Engine::with_options(rules, classes, EngineOptions::default())
    }

    /// Compile rules (in load order) into an engine.
    pub fn with_options(
        rules: Vec<Rule>,
        classes: &Classifications,
        opts: EngineOptions,
    ) -> Engine {
        let mut bit_names = std::collections::HashMap::new();
        let mut xbit_names = XbitNames::default();
        let mut failed = Vec::new();
        let mut sigs: Vec<(usize, Signature)> = Vec::with_capacity(rules.len());
        for (i, r) in rules.into_iter().enumerate() {
            match Signature::compile(r, classes, &mut bit_names, &mut xbit_names) {
                Ok(s) => sigs.push((i, s)),
                Err(f) => failed.push(f),
            }
        }
        if bit_names.len() > crate::flow::FlowBits::CAPACITY {
            log::warn!(
                "{} distinct flowbits; only the first {} are tracked",
                bit_names.len(),
                crate::flow::FlowBits::CAPACITY
            );
        }
        // Suricata's order (`SCSigOrderSignatures`): action, flowbits (setters first), host
        // bits, pair bits, priority, then the sid (`SCSigLessThan`'s final decider; gid and
        // load order break ties between equal sids).
        sigs.sort_by_key(|(i, s)| {
            (
                opts.action_order.rank(s.info.action),
                std::cmp::Reverse(s.flowbits_rank),
                std::cmp::Reverse(s.hostbits_rank),
                std::cmp::Reverse(s.ippair_rank),
                s.info.priority,
                s.info.sid,
                s.info.gid,
                *i,
            )
        });
        let sigs: Vec<Signature> = sigs.into_iter().map(|(_, s)| s).collect();
        let mut pf_sigs = Vec::new();
        let mut by_src: Vec<(&AddrSet, u32)> = Vec::new();
        let mut by_dst: Vec<(&AddrSet, u32)> = Vec::new();
        let mut iponly_always = Vec::new();
        for (i, s) in sigs.iter().enumerate() {
            let i = i as u32;
            if s.ip_only {
                let (ws, wd) = (
                    prefilter::addr_weight(&s.src),
                    prefilter::addr_weight(&s.dst),
                );
                let narrow_is_src = ws <= wd;
                let narrow = if narrow_is_src { &s.src } else { &s.dst };
                if narrow.any || prefilter::addr_weight(narrow) > 16_777_216.0 {
                    iponly_always.push(i);
                } else if s.bidirectional {
                    by_src.push((narrow, i));
                    by_dst.push((narrow, i));
                } else if narrow_is_src {
                    by_src.push((narrow, i));
                } else {
                    by_dst.push((narrow, i));
                }
                continue;
            }
            // a bidirectional signature's ports apply either way round: left to verification
            let ports = |ps: &PortSet| (!s.bidirectional && !ps.any).then(|| ps.clone());
            let (sp, dp) = (ports(&s.sp), ports(&s.dp));
            for &b in buckets_for(s.proto) {
                pf_sigs.push(PrefilterSig {
                    sig: i,
                    bucket: b,
                    dir: s.dir_class,
                    sp: if b <= 1 { sp.clone() } else { None },
                    dp: if b <= 1 { dp.clone() } else { None },
                    fast_pattern: s.fast_pattern.clone(),
                    fp_end: s.fp_end,
                    fp_at: s.fp_at,
                    payload_max: s.payload_max,
                    in_stream: s.req_stream,
                    in_packet: !s.req_stream || s.req_packet,
                });
            }
        }
        let prefilter = Prefilter::build(sigs.len(), pf_sigs);
        let iponly_by_src = AddrIndex::build(&by_src);
        let iponly_by_dst = AddrIndex::build(&by_dst);
        let any_iponly = !(iponly_always.is_empty() && by_src.is_empty() && by_dst.is_empty());
        let inspects = std::array::from_fn(|b| any_iponly || prefilter.covers(b));
        Engine {
            uses_stream: sigs.iter().any(|s| s.req_stream),
            inspects,
            prefilter,
            iponly_by_src,
            iponly_by_dst,
            iponly_always,
            cand: Vec::with_capacity(sigs.len().min(4096)),
            thresholds: threshold::Thresholds::default(),
            xbits: xbits::XbitTables::new(
                xbit_names.host.len(),
                xbit_names.pair.len(),
                xbits::DEFAULT_CAPACITY,
            ),
            tags: tag::Tags::default(),
            opts,
            failed,
            sigs,
            stats: DetectStats::default(),
        }
    }

    pub fn len(&self) -> usize {
        self.sigs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sigs.is_empty()
    }

    /// Some signature inspects the reassembled TCP stream (Suricata's
    /// SIG_FLAG_REQUIRE_STREAM). Without one, nothing reads the stream, and the flow table
    /// keeps no stream data: the alerts are the same, without the copying and the memory.
    pub fn uses_stream(&self) -> bool {
        self.uses_stream
    }

    pub fn sig(&self, hit: Hit) -> &Signature {
        &self.sigs[hit.sig as usize]
    }

    /// Apply a threshold.config, in file order, as Suricata does: `suppress` entries add up;
    /// `threshold`/`event_filter` for one rule replaces the rule's own threshold or
    /// detection_filter, a wildcard one applies only to rules without; `rate_filter` applies
    /// to rules without their own threshold or detection_filter (the last entry wins).
    pub fn apply_threshold_config(
        &mut self,
        cfg: &crate::rules::threshold_config::ThresholdConfig,
    ) {
        use crate::rules::threshold_config::ThresholdRule;
        for e in &cfg.entries {
            let wildcard = e.sid == 0;
            let targets = self.sigs.iter_mut().filter(|s| {
                (e.sid == 0 && (e.gid == 0 || s.info.gid == e.gid))
                    || (s.info.gid == e.gid && s.info.sid == e.sid)
            });
            match &e.rule {
                ThresholdRule::Suppress(sup) => {
                    for s in targets {
                        s.suppress.push(sup.clone());
                    }
                }
                ThresholdRule::Threshold(t) => {
                    for s in targets {
                        if wildcard {
                            if s.threshold.is_none() && s.detection_filter.is_none() {
                                s.threshold = Some(*t);
                            }
                        } else {
                            s.threshold = Some(*t);
                            s.detection_filter = None;
                        }
                    }
                }
                ThresholdRule::RateFilter(r) => {
                    for s in targets {
                        if s.threshold.is_none() && s.detection_filter.is_none() {
                            s.rate_filter = Some(*r);
                        }
                    }
                }
            }
        }
    }

    /// Alerts withheld by thresholds and detection filters.
    pub fn suppressed(&self) -> u64 {
        self.thresholds.suppressed
    }

    /// Prefilter groups built (for diagnostics).
    pub fn group_count(&self) -> usize {
        self.prefilter.group_count()
    }

    /// Evaluate one candidate; on a match apply its flowbits and host/pair bits and queue
    /// its alert.
    fn eval(
        sigs: &[Signature],
        xb: &mut xbits::XbitTables,
        i: u32,
        p: &Packet<'_>,
        flow: &mut Option<FlowCtx<'_>>,
        out: &mut PacketAlerts,
    ) {
        let s = &sigs[i as usize];
        let fv = flow.as_ref().map(|fc| FlowView {
            flow: &*fc.flow,
            dir: fc.dir,
            established: fc.established,
        });
        let sv = flow.as_ref().map(|fc| fc.stream).unwrap_or_default();
        if !s.matches(p, fv, xb, sv) {
            return;
        }
        if let Some(fc) = flow.as_mut() {
            s.apply_actions(fc.flow);
        }
        if !s.xbit_actions.is_empty() {
            s.apply_xbit_actions(p, xb);
        }
        out.hits.push(i);
    }

    /// The engine's options.
    pub fn options(&self) -> &EngineOptions {
        &self.opts
    }

    /// Inspect one packet. The alerts to log are left in `out`.
    pub fn inspect(&mut self, p: &Packet<'_>, flow: Option<FlowCtx<'_>>, out: &mut PacketAlerts) {
        out.clear();
        let Some(ip) = p.ip else { return };
        let mut flow = flow;
        if let Some(fc) = &flow {
            if fc.flow.pass || fc.no_inspect {
                return;
            }
        }
        if self.inspects[prefilter::bucket_of(ip.proto)] {
            self.match_signatures(p, &ip, &mut flow, out);
        }
        // Suricata's TagHandlePacket, after the alerts (and the tags they set)
        if !self.tags.is_empty() {
            let flow_id = flow.as_ref().map(|fc| fc.flow.id);
            out.tagged = self.tags.handle(ip.src, ip.dst, flow_id, p.ts, p.len);
        }
    }

    /// The signatures `inspect` runs on a packet of a protocol some signature may match:
    /// IP-only ones once per flow direction, then the prefilter's candidates; matches go
    /// through `finalize`.
    fn match_signatures(
        &mut self,
        p: &Packet<'_>,
        ip: &crate::decode::IpHdr,
        flow: &mut Option<FlowCtx<'_>>,
        out: &mut PacketAlerts,
    ) {
        // IP-only signatures: once per flow direction (every packet when there is no flow).
        let first_in_dir = match flow {
            Some(fc) => match fc.dir {
                Direction::ToServer => !std::mem::replace(&mut fc.flow.iponly_toserver, true),
                Direction::ToClient => !std::mem::replace(&mut fc.flow.iponly_toclient, true),
            },
            None => true,
        };
        if first_in_dir {
            self.cand.clear();
            self.cand.extend_from_slice(&self.iponly_always);
            self.cand
                .extend_from_slice(self.iponly_by_src.lookup(ip.src));
            self.cand
                .extend_from_slice(self.iponly_by_dst.lookup(ip.dst));
            // bidirectional IP-only signatures are indexed under both sides
            for &i in self
                .iponly_by_src
                .lookup(ip.dst)
                .iter()
                .chain(self.iponly_by_dst.lookup(ip.src))
            {
                if self.sigs[i as usize].bidirectional {
                    self.cand.push(i);
                }
            }
            self.cand.sort_unstable();
            self.cand.dedup();
            for k in 0..self.cand.len() {
                let i = self.cand[k];
                Self::eval(&self.sigs, &mut self.xbits, i, p, flow, out);
            }
        }
        let sv = flow.as_ref().map(|fc| fc.stream).unwrap_or_default();
        let key = PacketKey {
            proto: ip.proto,
            to_server: flow.as_ref().map(|fc| fc.dir == Direction::ToServer),
            ports: match p.l4 {
                L4::Tcp(t) => Some((t.src_port, t.dst_port)),
                L4::Udp(u) => Some((u.src_port, u.dst_port)),
                _ => None,
            },
            payload: sv.payload(p),
        };
        if sv.data.is_none() && !sv.added || sv.no_payload {
            // Suricata runs no payload prefilter engine (packet or stream) on a packet
            // with PKT_NOPAYLOAD_INSPECTION: only the signatures without a fast pattern
            // (the always-candidates, here from an empty payload) may still inspect the
            // stream data
            self.prefilter.candidates(&key, &mut self.cand);
        } else {
            // Suricata's PrefilterPktStream and PrefilterPktPayload: stream signatures are
            // found in the stream data, signatures requiring the packet in the packet.
            let mut bufs: [&[u8]; crate::stream::MAX_CHUNKS] = [&[]; crate::stream::MAX_CHUNKS];
            let mut n = 0;
            if let Some(sd) = sv.data {
                for c in sd.pieces() {
                    bufs[n] = c;
                    n += 1;
                }
            }
            self.prefilter
                .candidates_stream(&key, &bufs[..n], &mut self.cand);
        }
        for k in 0..self.cand.len() {
            let i = self.cand[k];
            Self::eval(&self.sigs, &mut self.xbits, i, p, flow, out);
        }
        if !out.hits.is_empty() {
            out.hits.sort_unstable();
            self.finalize(ip.src, ip.dst, p.ts, flow, out);
        }
    }

    /// Suricata's `PacketAlertFinalize`: in signature order, thresholds decide whether a
    /// match alerts (and whether its action applies), actions apply to the packet (and,
    /// for IP-only drop/pass rules, to the flow), a pass stops everything after it, and at
    /// most `packet-alert-max` alerts are kept.
    fn finalize(
        &mut self,
        src: std::net::IpAddr,
        dst: std::net::IpAddr,
        ts: crate::capture::Timestamp,
        flow: &mut Option<FlowCtx<'_>>,
        out: &mut PacketAlerts,
    ) {
        let subject = threshold::Subject {
            src,
            dst,
            flow_id: flow.as_ref().map(|fc| fc.flow.id),
            ts,
        };
        let max = self.opts.packet_alert_max;
        let mut kept = 0;
        let mut has_pass = false;
        for k in 0..out.hits.len() {
            let i = out.hits[k];
            let s = &self.sigs[i as usize];
            let res = threshold_verdict(s, i, &subject, &mut self.thresholds);
            let mut action = s.info.action;
            let mut rate_modified = false;
            if res != Verdict::Skip {
                if let Some(rf) = &s.rate_filter {
                    if let Some(a) = self.thresholds.rate_action(i, rf, &subject, action) {
                        action = a;
                        rate_modified = true;
                    }
                }
                // the tag keywords run for every match thresholds let through, noalert too
                for t in &s.tags {
                    self.tags.add(t, s.info.sid, s.info.gid, &subject);
                }
                out.verdict |= match action {
                    Action::Reject | Action::RejectSrc => verdict::REJECT,
                    Action::RejectDst => verdict::REJECT_DST,
                    Action::RejectBoth => verdict::REJECT_BOTH,
                    _ => 0,
                };
                let to_flow = s.ip_only;
                match action {
                    Action::Pass => {
                        has_pass = true;
                        if to_flow {
                            if let Some(fc) = flow.as_mut() {
                                fc.flow.pass = true;
                            }
                        }
                    }
                    Action::Alert => {}
                    _ => {
                        out.drop = true;
                        if to_flow {
                            if let Some(fc) = flow.as_mut() {
                                fc.flow.pass = true;
                            }
                        }
                    }
                }
            }
            if res != Verdict::Alert || s.noalert {
                continue;
            }
            if kept < max {
                if has_pass {
                    out.verdict |= verdict::PASS;
                    break;
                }
                out.hits[kept] = i;
                out.actions.push((action, rate_modified));
                kept += 1;
            } else {
                out.overflow += 1;
            }
        }
        out.hits.truncate(kept);
        if kept > 0 {
            if let Some(fc) = flow.as_mut() {
                fc.flow.alerted = true;
            }
        }
        self.stats.alerts += kept as u64;
        self.stats.alert_queue_overflow = out.overflow;
    }
}

/// What thresholds make of a match (Suricata's `PacketAlertHandle` results 0, 1, 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    /// Not alerted and its action not applied (threshold not reached).
    Skip,
    Alert,
    /// Suppressed, but the rule's action still applies.
    ActionOnly,
}

fn threshold_verdict(
    s: &Signature,
    i: u32,
    subject: &threshold::Subject,
    th: &mut threshold::Thresholds,
) -> Verdict {
    // the rule's own detection_filter / threshold first, then threshold.config suppressions
    if let Some(t) = &s.detection_filter {
        if !th.allow(i, t, subject) {
            return Verdict::Skip;
        }
    }
    if let Some(t) = &s.threshold {
        if !th.allow(i, t, subject) {
            return Verdict::Skip;
        }
    }
    use crate::rules::threshold_config::Suppress;
    for sup in &s.suppress {
        let hit = match sup {
            Suppress::All => true,
            Suppress::BySrc(a) => a.contains(subject.src),
            Suppress::ByDst(a) => a.contains(subject.dst),
            Suppress::ByEither(a) => a.contains(subject.src) || a.contains(subject.dst),
        };
        if hit {
            th.suppressed += 1;
            return Verdict::ActionOnly;
        }
    }
    Verdict::Alert
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::Timestamp;
    use crate::decode::{IcmpHdr, IpHdr};
    use crate::flow::{FlowTable, Timeouts};
    use crate::rules::{parse_rule, Vars};

    fn rule(text: &str, extra: Vec<Match>) -> Rule {
        let mut r = parse_rule(text, &Vars::suricata_default(), None).expect("rule parses");
        r.matches.extend(extra);
        r
    }

    fn icmp_packet(src: &str, dst: &str, t: u8, payload: &'static [u8]) -> Packet<'static> {
        let mut p = Packet::new(
            Timestamp {
                secs: 100,
                nanos: 0,
            },
            payload,
        );
        p.ip = Some(IpHdr {
            version: 4,
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            proto: 1,
            ttl: 64,
            tos: 0,
            id: 1,
            frag_flags: 0,
            frag_offset: 0,
            frag_hdr: false,
            ipopts: 0,
            hdr_len: 20,
            total_len: 28 + payload.len() as u32,
        });
        p.l4 = L4::Icmp(IcmpHdr {
            icmp_type: t,
            code: 0,
            id: 1,
            seq: 1,
            unreach: None,
        });
        p.payload = payload;
        p.len = 42 + payload.len() as u32;
        p.wants_flow = true;
        p
    }

    fn run(engine: &mut Engine, flows: &mut FlowTable, p: &Packet<'_>) -> Vec<u32> {
        let mut out = PacketAlerts::new();
        let r = flows.update(p).unwrap();
        let fc = FlowCtx {
            dir: r.dir,
            established: r.established,
            no_inspect: r.no_inspect,
            flow: flows.get_mut(r),
            stream: Default::default(),
        };
        engine.inspect(p, Some(fc), &mut out);
        out.iter().map(|h| engine.sig(h).info.sid).collect()
    }

    fn bits(cmd: ast::FlowbitsCmd, name: &str) -> Match {
        Match::Flowbits(ast::Flowbits {
            cmd,
            names: vec![name.to_string()],
            or: false,
        })
    }

    #[test]
    fn flowbits_set_then_isset_in_the_same_packet_and_later() {
        use ast::FlowbitsCmd::*;
        let rules = vec![
            // the reader is listed first: Suricata still runs the setter first
            rule(
                "alert icmp any any -> any any (msg:\"reader\"; itype:0; sid:2;)",
                vec![bits(IsSet, "seen")],
            ),
            rule(
                "alert icmp any any -> any any (msg:\"setter\"; itype:8; sid:1;)",
                vec![bits(Set, "seen"), bits(NoAlert, "")],
            ),
            rule(
                "alert icmp any any -> any any (msg:\"not yet\"; itype:8; sid:3;)",
                vec![bits(IsNotSet, "seen")],
            ),
        ];
        let mut e = Engine::new(rules, &Classifications::default());
        let mut flows = FlowTable::new(16, Timeouts::default());
        let req = icmp_packet("10.0.0.1", "10.0.0.2", 8, b"ping");
        let rep = icmp_packet("10.0.0.2", "10.0.0.1", 0, b"ping");
        // setter ran before the isnotset check: sid 3 does not alert, sid 1 is noalert
        assert_eq!(run(&mut e, &mut flows, &req), Vec::<u32>::new());
        assert_eq!(run(&mut e, &mut flows, &rep), vec![2]);
    }

    /// A packet of a protocol no signature can match leaves detection at once, and only
    /// then: an `ip` signature, or any IP-only one, keeps every protocol inspected.
    #[test]
    fn protocols_without_signatures_skip_detection() {
        let skips = |rules: &[&str]| {
            let e = Engine::new(
                rules.iter().map(|r| rule(r, vec![])).collect(),
                &Classifications::default(),
            );
            e.inspects
        };
        let (tcp, udp, icmp) = (
            prefilter::bucket_of(6),
            prefilter::bucket_of(17),
            prefilter::bucket_of(1),
        );
        let only_icmp = skips(&["alert icmp any any -> any any (itype:8; content:\"hb\"; sid:1;)"]);
        assert!(only_icmp[icmp] && !only_icmp[tcp] && !only_icmp[udp]);
        let any_ip = skips(&["alert ip any any -> any any (content:\"x\"; sid:1;)"]);
        assert!(any_ip.iter().all(|&b| b));
        let ip_only = skips(&[
            "alert icmp any any -> any any (itype:8; sid:1;)",
            "alert ip 10.0.0.1 any -> any any (sid:2;)",
        ]);
        assert!(ip_only.iter().all(|&b| b));

        // and the IP-only signature still alerts on a packet of a protocol no other
        // signature names
        let mut e = Engine::new(
            vec![
                rule("alert icmp any any -> any any (itype:8; sid:1;)", vec![]),
                rule("alert ip 10.0.0.9 any -> any any (sid:2;)", vec![]),
            ],
            &Classifications::default(),
        );
        let mut p = icmp_packet("10.0.0.9", "10.0.0.2", 0, b"");
        if let Some(ip) = p.ip.as_mut() {
            ip.proto = 17;
        }
        p.l4 = L4::None;
        let mut out = PacketAlerts::new();
        e.inspect(&p, None, &mut out);
        let sids: Vec<u32> = out.iter().map(|h| e.sig(h).info.sid).collect();
        assert_eq!(sids, vec![2]);
    }

    /// Where the prefilter looks for a fast pattern in the packet payload: the window of
    /// its content (offset + depth, as `payload` applies them; a chop moves it), the one
    /// offset when depth is the content's length, the longest payload dsize admits.
    #[test]
    fn fast_pattern_window_in_the_payload() {
        let win = |text: &str| {
            let e = Engine::new(vec![rule(text, vec![])], &Classifications::default());
            let s = &e.sigs[0];
            (s.fp_at, s.fp_end, s.payload_max)
        };
        let r = |body: &str| format!("alert tcp any any -> any any ({body} sid:1;)");
        assert_eq!(win(&r("content:\"abc\";")), (None, None, None));
        assert_eq!(win(&r("content:\"abc\"; offset:2;")), (None, None, None));
        assert_eq!(
            win(&r("content:\"abc\"; depth:10;")),
            (None, Some(10), None)
        );
        assert_eq!(
            win(&r("content:\"abc\"; offset:4; depth:3;")),
            (Some(4), Some(7), None)
        );
        assert_eq!(
            win(&r("content:\"abc\"; startswith;")),
            (Some(0), Some(3), None)
        );
        // the chopped pattern "cd" of "abcdef" (at 2..8 of the content's 0..10)
        assert_eq!(
            win(&r("content:\"abcdef\"; depth:10; fast_pattern:2,2;")),
            (None, Some(8), None)
        );
        assert_eq!(
            win(&r(
                "content:\"abcdef\"; offset:1; depth:6; fast_pattern:2,2;"
            )),
            (Some(3), Some(5), None)
        );
        // relative contents have no window of their own; the longest content is the
        // fast pattern
        assert_eq!(
            win(&r("content:\"a\"; depth:1; content:\"bcdef\"; distance:0;")),
            (None, None, None)
        );
        assert_eq!(
            win(&r("dsize:<20; content:\"abc\";")),
            (None, None, Some(19))
        );
        assert_eq!(
            win(&r("dsize:10<>30; content:\"abc\"; depth:40;")),
            (None, Some(40), Some(30))
        );
        assert_eq!(win(&r("dsize:>5; content:\"abc\";")), (None, None, None));
    }

    #[test]
    fn which_tcp_signatures_need_the_packet_as_suricata_decides() {
        let flags = |text: &str| {
            let e = Engine::new(vec![rule(text, vec![])], &Classifications::default());
            let s = &e.sigs[0];
            (s.req_stream, s.req_packet)
        };
        // a plain content: the stream only
        assert_eq!(
            flags("alert tcp any any -> any any (content:\"abc\"; sid:1;)"),
            (true, false)
        );
        // depth or offset written in the rule: the packet too (even offset:0)
        assert_eq!(
            flags("alert tcp any any -> any any (content:\"abc\"; depth:14; sid:1;)"),
            (true, true)
        );
        assert_eq!(
            flags("alert tcp any any -> any any (content:\"abc\"; offset:0; sid:1;)"),
            (true, true)
        );
        // the first content's within/distance become depth/offset after that decision
        // (ET 2029422: `content:"_version"; within:14;` alerts on the stream only)
        assert_eq!(
            flags("alert tcp any any -> any any (content:\"abc\"; within:14; sid:1;)"),
            (true, false)
        );
        assert_eq!(
            flags("alert tcp any any -> any any (content:\"abc\"; distance:1; sid:1;)"),
            (true, false)
        );
        // a packet keyword: the packet only
        assert_eq!(
            flags("alert tcp any any -> any any (content:\"abc\"; dsize:>1; sid:1;)"),
            (false, true)
        );
    }

    #[test]
    fn flow_direction_and_established() {
        let fm = |to_server, established| {
            Match::Flow(ast::FlowMatch {
                to_server,
                established,
                ..Default::default()
            })
        };
        let rules = vec![
            rule(
                "alert icmp any any -> any any (sid:1;)",
                vec![fm(true, false)],
            ),
            rule(
                "alert icmp any any -> any any (sid:2;)",
                vec![fm(false, true)],
            ),
        ];
        let mut e = Engine::new(rules, &Classifications::default());
        let mut flows = FlowTable::new(16, Timeouts::default());
        let req = icmp_packet("10.0.0.1", "10.0.0.2", 8, b"x");
        let rep = icmp_packet("10.0.0.2", "10.0.0.1", 0, b"x");
        assert_eq!(run(&mut e, &mut flows, &req), vec![1]);
        // the reply makes the flow established (both directions seen)
        assert_eq!(run(&mut e, &mut flows, &rep), vec![2]);
        assert_eq!(run(&mut e, &mut flows, &req), vec![1, 2]);
    }

    #[test]
    fn threshold_limit_applies() {
        let mut r = rule("alert icmp any any -> any any (itype:8; sid:1;)", vec![]);
        r.meta.threshold = Some(ast::Threshold {
            kind: ast::ThresholdKind::Limit,
            track: ast::Track::BySrc,
            count: 1,
            seconds: 60,
        });
        let mut e = Engine::new(vec![r], &Classifications::default());
        let mut flows = FlowTable::new(16, Timeouts::default());
        let req = icmp_packet("10.0.0.1", "10.0.0.2", 8, b"x");
        assert_eq!(run(&mut e, &mut flows, &req), vec![1]);
        assert_eq!(run(&mut e, &mut flows, &req), Vec::<u32>::new());
        assert_eq!(e.suppressed(), 1);
    }

    fn text_rules(text: &str) -> Vec<Rule> {
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| rule(l, vec![]))
            .collect()
    }

    /// Measured with Suricata 7.0.10 on one packet matching every rule: the alert order shows
    /// the signature order — flowbits readers before rules without flowbits, then `hostbits`
    /// setters, `xbits` readers (host), `xbits` readers (pair), then the rest by sid; an
    /// `xbits` setter is not ordered first, so the `xbits` readers of its bit run before it.
    #[test]
    fn xbits_ordering_as_suricata() {
        let rules = text_rules(
            r#"
alert icmp any any -> any any (content:"GET"; sid:10;)
alert icmp any any -> any any (hostbits:isnotset,q; content:"GET"; sid:11;)
alert icmp any any -> any any (xbits:isnotset,q2,track ip_src; content:"GET"; sid:12;)
alert icmp any any -> any any (xbits:set,q3,track ip_src; content:"GET"; sid:13;)
alert icmp any any -> any any (hostbits:set,q4; content:"GET"; sid:14;)
alert icmp any any -> any any (xbits:isset,x,track ip_src; content:"GET"; sid:1;)
alert icmp any any -> any any (xbits:set,x,track ip_src; content:"GET"; sid:2;)
alert icmp any any -> any any (hostbits:isset,y; content:"GET"; sid:3;)
alert icmp any any -> any any (hostbits:set,y; content:"GET"; sid:4;)
alert icmp any any -> any any (xbits:isset,p,track ip_pair; content:"GET"; sid:5;)
alert icmp any any -> any any (xbits:set,p,track ip_pair; content:"GET"; sid:6;)
alert icmp any any -> any any (flowbits:isnotset,fb; content:"GET"; sid:20;)
"#,
        );
        let mut e = Engine::new(rules, &Classifications::default());
        let mut flows = FlowTable::new(16, Timeouts::default());
        let req = icmp_packet("10.0.0.1", "10.0.0.2", 8, b"GET /");
        assert_eq!(
            run(&mut e, &mut flows, &req),
            vec![20, 4, 14, 12, 2, 3, 6, 10, 11, 13]
        );
    }

    /// Suricata breaks ties by sid, not load order: the toggle (sid 1) runs before the set
    /// (sid 2) although it was loaded after it, so the bit ends up set.
    #[test]
    fn ties_are_broken_by_sid() {
        let rules = text_rules(
            r#"
alert icmp any any -> any any (flowbits:set,a; content:"GET"; sid:2;)
alert icmp any any -> any any (flowbits:toggle,a; content:"GET"; sid:1;)
alert icmp any any -> any any (flowbits:isset,a; content:"GET"; sid:3;)
"#,
        );
        let mut e = Engine::new(rules, &Classifications::default());
        let mut flows = FlowTable::new(16, Timeouts::default());
        let req = icmp_packet("10.0.0.1", "10.0.0.2", 8, b"GET /");
        assert_eq!(run(&mut e, &mut flows, &req), vec![1, 2, 3]);
    }

    /// suricata-verify detect-hostbits-02 and -03 on one packet (IP-only rules included).
    #[test]
    fn hostbits_set_unset_toggle() {
        let rules = text_rules(
            r#"
alert icmp any any -> any any (hostbits:isset,abc,src; content:"GET "; sid:1;)
alert icmp any any -> any any (hostbits:isnotset,abc,dst; content:"GET "; sid:2;)
alert icmp any any -> any any (hostbits:unset,abc,src; content:"GET "; sid:4;)
alert icmp any any -> any any (hostbits:set,myflow2; sid:10;)
alert icmp any any -> any any (hostbits:isset,myflow2; sid:11;)
alert icmp any any -> any any (hostbits:toggle,t2; sid:21;)
alert icmp any any -> any any (hostbits:set,t2; sid:20;)
alert icmp any any -> any any (hostbits:isset,t2; sid:22;)
"#,
        );
        let mut e = Engine::new(rules, &Classifications::default());
        let mut flows = FlowTable::new(16, Timeouts::default());
        let req = icmp_packet("10.0.0.1", "10.0.0.2", 8, b"GET /");
        // setters first by sid: 4, 10, 20 (set), 21 (toggle: off); readers: 2, 11; 22 sees
        // the bit toggled off
        assert_eq!(run(&mut e, &mut flows, &req), vec![4, 10, 20, 21, 2, 11]);
        // the reply comes from the other host: its own bits
        let rep = icmp_packet("10.0.0.2", "10.0.0.1", 0, b"GET /");
        assert_eq!(run(&mut e, &mut flows, &rep), vec![4, 10, 20, 21, 2, 11]);
    }

    /// `tag:session,2,packets`: the alerting packet counts (it is packet 1) but is not
    /// tagged; the next one is, then the tag has expired (as Suricata: `count` 3 tags 2).
    #[test]
    fn tag_session_marks_following_packets() {
        let rules =
            text_rules(r#"alert icmp any any -> any any (itype:8; tag:session,2,packets; sid:1;)"#);
        let mut e = Engine::new(rules, &Classifications::default());
        let mut flows = FlowTable::new(16, Timeouts::default());
        let req = icmp_packet("10.0.0.1", "10.0.0.2", 8, b"x");
        let rep = icmp_packet("10.0.0.2", "10.0.0.1", 0, b"x");
        let mut tagged = Vec::new();
        for p in [&req, &rep, &rep, &rep] {
            let mut out = PacketAlerts::new();
            let r = flows.update(p).unwrap();
            let fc = FlowCtx {
                dir: r.dir,
                established: r.established,
                no_inspect: r.no_inspect,
                flow: flows.get_mut(r),
                stream: Default::default(),
            };
            e.inspect(p, Some(fc), &mut out);
            tagged.push((out.len(), out.tagged));
        }
        assert_eq!(tagged, vec![(1, false), (0, true), (0, false), (0, false)]);
    }

    #[test]
    fn metadata_grouping_matches_suricata() {
        let kv: Vec<(String, String)> = [
            ("zed", "1"),
            ("alpha", "2"),
            ("mid", "3"),
            ("zed", "4"),
            ("alpha", "5"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let g = group_metadata(&kv);
        assert_eq!(
            g,
            vec![
                ("alpha".to_string(), vec!["5".to_string(), "2".to_string()]),
                ("mid".to_string(), vec!["3".to_string()]),
                ("zed".to_string(), vec!["4".to_string(), "1".to_string()]),
            ]
        );
    }
}
