//! The detection engine: compiled signatures, matched against decoded packets.
//!
//! `Engine::new` turns parsed rules into `Signature`s in Suricata's order (action, then
//! priority, then load order), so alerts on one packet come out as Suricata orders them.
//! `Engine::inspect` runs one packet: IP-only signatures once per flow direction, all others
//! on every packet, then applies pass rules and the per-packet alert limit.

pub mod header;
pub mod payload;
pub mod prefilter;

use crate::decode::{Packet, L4};
use crate::flow::{Direction, Flow};
use crate::rules::ast::{self, Action, AddrSet, Match, PortSet, Proto, Rule};
use crate::rules::classification::Classifications;
use payload::{PayloadKeyword, PayloadProgram};
use prefilter::{AddrIndex, DirClass, PacketKey, Prefilter, PrefilterSig, Side};

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
    /// No detection keywords at all: Suricata inspects it once per flow direction.
    pub ip_only: bool,
    /// The prefilter pattern: the explicit `fast_pattern` (chopped), else the longest
    /// positive content. Always a necessary condition of the signature.
    fast_pattern: Option<(Vec<u8>, bool)>,
    /// Restricted to one flow direction (`flow:to_server` / `to_client`).
    dir_class: DirClass,
}

impl Signature {
    fn compile(rule: Rule, classes: &Classifications) -> Signature {
        let mut header = Vec::new();
        let mut pkws: Vec<PayloadKeyword<'_>> = Vec::new();
        for m in &rule.matches {
            match m {
                Match::Content(c) => pkws.push(PayloadKeyword::Content(c)),
                Match::IsDataAt {
                    n,
                    relative,
                    negated,
                } => pkws.push(PayloadKeyword::IsDataAt {
                    n: *n,
                    relative: *relative,
                    negated: *negated,
                }),
                other => header.push(other.clone()),
            }
        }
        let payload = PayloadProgram::compile(&pkws);
        let fast_pattern = choose_fast_pattern(&rule.matches);
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
        let ip_only = rule.matches.is_empty();
        Signature {
            info,
            proto: ProtoFilter::of(&rule.proto),
            src: rule.src,
            dst: rule.dst,
            sp: rule.src_ports,
            dp: rule.dst_ports,
            bidirectional: rule.direction == ast::Direction::Both,
            header,
            payload,
            ip_only,
            fast_pattern,
            dir_class: DirClass::Both,
        }
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

    /// Every condition of the signature holds for this packet.
    fn matches(&self, p: &Packet<'_>) -> bool {
        let Some(ip) = p.ip else { return false };
        if !self.proto.admits(ip.version, ip.proto) {
            return false;
        }
        if !self.addresses_match(p) {
            return false;
        }
        if !self.header.iter().all(|m| header::matches(m, p)) {
            return false;
        }
        if !self.payload.is_empty() {
            if p.payload.is_empty() {
                return false;
            }
            return self.payload.matches(p.payload);
        }
        true
    }
}

/// Suricata's fast pattern choice, reduced to what matters for correctness: an explicit
/// `fast_pattern` wins (with its chop), else the longest positive content.
fn choose_fast_pattern(ms: &[Match]) -> Option<(Vec<u8>, bool)> {
    let contents = ms.iter().filter_map(|m| match m {
        Match::Content(c) if !c.negated && !c.pattern.is_empty() => Some(c),
        _ => None,
    });
    let mut best: Option<&ast::Content> = None;
    for c in contents {
        if let Some(fp) = c.fast_pattern {
            let pat = match fp.chop {
                Some((off, len)) => {
                    let (o, l) = (off as usize, len as usize);
                    c.pattern.get(o..o + l).unwrap_or(&c.pattern).to_vec()
                }
                None => c.pattern.clone(),
            };
            return Some((pat, c.nocase));
        }
        if best.is_none_or(|b| c.pattern.len() > b.pattern.len()) {
            best = Some(c);
        }
    }
    best.map(|c| (c.pattern.clone(), c.nocase))
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

fn action_rank(a: Action) -> u8 {
    // Suricata's default action-order: pass, drop, reject, alert.
    match a {
        Action::Pass => 0,
        Action::Drop => 1,
        Action::Reject | Action::RejectSrc | Action::RejectDst | Action::RejectBoth => 2,
        Action::Alert => 3,
    }
}

/// One alert raised on a packet (an index into `Engine::sigs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    pub sig: u32,
}

/// Alerts raised on one packet: at most `PACKET_ALERT_MAX`, lowest signature number first.
#[derive(Debug, Default)]
pub struct PacketAlerts {
    hits: Vec<u32>,
    /// Alerts dropped because the packet already had `PACKET_ALERT_MAX`.
    pub overflow: u64,
}

impl PacketAlerts {
    pub fn new() -> PacketAlerts {
        PacketAlerts {
            hits: Vec::with_capacity(PACKET_ALERT_MAX + 1),
            overflow: 0,
        }
    }
    fn clear(&mut self) {
        self.hits.clear();
    }
    fn push(&mut self, sig: u32) {
        if self.hits.len() < PACKET_ALERT_MAX {
            self.hits.push(sig);
            return;
        }
        self.overflow += 1;
        // keep the highest-priority (lowest numbered) signatures
        if let Some(max) = self.hits.iter().copied().max() {
            if sig < max {
                if let Some(slot) = self.hits.iter_mut().find(|h| **h == max) {
                    *slot = sig;
                }
            }
        }
    }
    pub fn iter(&self) -> impl Iterator<Item = Hit> + '_ {
        self.hits.iter().map(|&sig| Hit { sig })
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
    prefilter: Prefilter,
    /// IP-only signatures by the narrower of their address sides.
    iponly_by_src: AddrIndex,
    iponly_by_dst: AddrIndex,
    /// IP-only signatures with both sides broad (checked on every first packet).
    iponly_always: Vec<u32>,
    /// Scratch: candidates of the current packet.
    cand: Vec<u32>,
    pub stats: DetectStats,
}

/// What detection knows about the packet's flow.
pub struct FlowCtx<'f> {
    pub flow: &'f mut Flow,
    pub dir: Direction,
    /// Suricata's FLOW_PKT_ESTABLISHED.
    pub established: bool,
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
    /// Compile rules (in load order) into an engine.
    pub fn new(rules: Vec<Rule>, classes: &Classifications) -> Engine {
        let mut sigs: Vec<(usize, Signature)> = rules
            .into_iter()
            .map(|r| Signature::compile(r, classes))
            .enumerate()
            .collect();
        sigs.sort_by_key(|(i, s)| (action_rank(s.info.action), s.info.priority, *i));
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
            let port_key = if s.bidirectional {
                None
            } else if !s.dp.any {
                Some((Side::Dst, s.dp.clone()))
            } else if !s.sp.any {
                Some((Side::Src, s.sp.clone()))
            } else {
                None
            };
            for &b in buckets_for(s.proto) {
                pf_sigs.push(PrefilterSig {
                    sig: i,
                    bucket: b,
                    dir: s.dir_class,
                    port_key: if b <= 1 { port_key.clone() } else { None },
                    fast_pattern: s.fast_pattern.clone(),
                });
            }
        }
        let prefilter = Prefilter::build(sigs.len(), pf_sigs);
        let iponly_by_src = AddrIndex::build(&by_src);
        let iponly_by_dst = AddrIndex::build(&by_dst);
        Engine {
            prefilter,
            iponly_by_src,
            iponly_by_dst,
            iponly_always,
            cand: Vec::with_capacity(sigs.len().min(4096)),
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

    pub fn sig(&self, hit: Hit) -> &Signature {
        &self.sigs[hit.sig as usize]
    }

    /// Prefilter groups built (for diagnostics).
    pub fn group_count(&self) -> usize {
        self.prefilter.group_count()
    }

    /// Inspect one packet. The alerts to log are left in `out`.
    pub fn inspect(&mut self, p: &Packet<'_>, flow: Option<FlowCtx<'_>>, out: &mut PacketAlerts) {
        out.clear();
        let Some(ip) = p.ip else { return };
        let mut flow = flow;
        if let Some(fc) = &flow {
            if fc.flow.pass {
                return;
            }
        }
        // IP-only signatures: once per flow direction (every packet when there is no flow).
        let first_in_dir = match &mut flow {
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
            for &i in &self.cand {
                if self.sigs[i as usize].matches(p) {
                    out.push(i);
                }
            }
        }
        let key = PacketKey {
            proto: ip.proto,
            to_server: flow.as_ref().map(|fc| fc.dir == Direction::ToServer),
            ports: match p.l4 {
                L4::Tcp(t) => Some((t.src_port, t.dst_port)),
                L4::Udp(u) => Some((u.src_port, u.dst_port)),
                _ => None,
            },
            payload: p.payload,
        };
        self.prefilter.candidates(&key, &mut self.cand);
        for &i in &self.cand {
            if self.sigs[i as usize].matches(p) {
                out.push(i);
            }
        }
        if out.hits.is_empty() {
            return;
        }
        out.hits.sort_unstable();
        // A pass rule stops everything after it; the pass itself is not logged.
        if let Some(pos) = out
            .hits
            .iter()
            .position(|&i| self.sigs[i as usize].info.action == Action::Pass)
        {
            let pass_sig = out.hits[pos];
            out.hits.truncate(pos);
            if self.sigs[pass_sig as usize].ip_only {
                if let Some(fc) = &mut flow {
                    fc.flow.pass = true;
                }
            }
        }
        if !out.hits.is_empty() {
            if let Some(fc) = &mut flow {
                fc.flow.alerted = true;
            }
        }
        self.stats.alerts += out.hits.len() as u64;
        self.stats.alert_queue_overflow = out.overflow;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
