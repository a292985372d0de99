//! The detection engine: compiled signatures, matched against decoded packets.
//!
//! `Engine::new` turns parsed rules into `Signature`s in Suricata's order (action, then
//! priority, then load order), so alerts on one packet come out as Suricata orders them.
//! `Engine::inspect` runs one packet: IP-only signatures once per flow direction, all others
//! on every packet, then applies pass rules and the per-packet alert limit.

pub mod header;
pub mod payload;

use crate::decode::{Packet, L4};
use crate::flow::{Direction, Flow};
use crate::rules::ast::{self, Action, AddrSet, Match, PortSet, Proto, Rule};
use crate::rules::classification::Classifications;
use payload::{PayloadKeyword, PayloadProgram};

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
    /// Signatures inspected on every packet, by protocol bucket.
    by_proto: ProtoBuckets,
    /// IP-only signatures (inspected on the first packet of each flow direction).
    ip_only: Vec<u32>,
    pub stats: DetectStats,
}

#[derive(Default)]
struct ProtoBuckets {
    tcp: Vec<u32>,
    udp: Vec<u32>,
    icmp4: Vec<u32>,
    icmp6: Vec<u32>,
    other: Vec<u32>,
}

impl ProtoBuckets {
    fn for_proto(&self, proto: u8) -> &[u32] {
        match proto {
            6 => &self.tcp,
            17 => &self.udp,
            1 => &self.icmp4,
            58 => &self.icmp6,
            _ => &self.other,
        }
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
        let mut by_proto = ProtoBuckets::default();
        let mut ip_only = Vec::new();
        for (i, s) in sigs.iter().enumerate() {
            let i = i as u32;
            if s.ip_only {
                ip_only.push(i);
                continue;
            }
            let admits = |proto: u8| match s.proto {
                ProtoFilter::Any | ProtoFilter::Ipv4 | ProtoFilter::Ipv6 => true,
                ProtoFilter::L4(a, b) => proto == a || Some(proto) == b,
            };
            if admits(6) {
                by_proto.tcp.push(i);
            }
            if admits(17) {
                by_proto.udp.push(i);
            }
            if admits(1) {
                by_proto.icmp4.push(i);
            }
            if admits(58) {
                by_proto.icmp6.push(i);
            }
            if matches!(
                s.proto,
                ProtoFilter::Any | ProtoFilter::Ipv4 | ProtoFilter::Ipv6
            ) || matches!(s.proto, ProtoFilter::L4(a, _) if ![6, 17, 1, 58].contains(&a))
            {
                by_proto.other.push(i);
            }
        }
        Engine {
            sigs,
            by_proto,
            ip_only,
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

    /// Inspect one packet. `flow` is the packet's flow and direction, if it has one.
    /// The alerts to log are left in `out`.
    pub fn inspect(
        &mut self,
        p: &Packet<'_>,
        flow: Option<(&mut Flow, Direction)>,
        out: &mut PacketAlerts,
    ) {
        out.clear();
        let Some(ip) = p.ip else { return };
        let mut flow = flow;
        if let Some((f, _)) = &flow {
            if f.pass {
                return;
            }
        }
        // IP-only signatures: once per flow direction (every packet when there is no flow).
        let first_in_dir = match &mut flow {
            Some((f, Direction::ToServer)) => !std::mem::replace(&mut f.iponly_toserver, true),
            Some((f, Direction::ToClient)) => !std::mem::replace(&mut f.iponly_toclient, true),
            None => true,
        };
        if first_in_dir {
            for &i in &self.ip_only {
                let s = &self.sigs[i as usize];
                if s.matches(p) {
                    out.push(i);
                }
            }
        }
        for &i in self.by_proto.for_proto(ip.proto) {
            let s = &self.sigs[i as usize];
            if s.matches(p) {
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
                if let Some((f, _)) = &mut flow {
                    f.pass = true;
                }
            }
        }
        if !out.hits.is_empty() {
            if let Some((f, _)) = &mut flow {
                f.alerted = true;
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
