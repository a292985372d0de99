//! One alert, formatted as Suricata 7.0.10 formats it in fast.log and in EVE.

use std::fmt::Write;
use std::net::IpAddr;

use super::json::Obj;
use super::names::{proto_name, write_ip};
use super::time;
use crate::capture::Timestamp;
use crate::detect::SigInfo;
use crate::flow::{Direction, Flow};
use crate::rules::ast::{Action, Target};

/// Everything an alert line needs, copied out of the packet and its flow.
#[derive(Debug, Clone, Copy)]
pub struct AlertRecord<'a> {
    pub ts: Timestamp,
    /// Position of the packet in the capture file (1-based); None for live capture.
    pub pcap_cnt: Option<u64>,
    pub sig: &'a SigInfo,
    /// The alert's action: the rule's, or its threshold.config `rate_filter`'s.
    pub action: Action,
    /// A `rate_filter` set `action`: EVE's `alert.action` is then the packet's ("blocked"
    /// when any drop or reject applied to it, in IDS mode too), as Suricata's
    /// AlertJsonHeader does for PACKET_ALERT_RATE_FILTER_MODIFIED.
    pub rate_modified: bool,
    /// A drop or reject applied to the packet (Suricata's packet action).
    pub packet_drop: bool,
    pub src: IpAddr,
    pub dst: IpAddr,
    /// Ports, for TCP/UDP.
    pub ports: Option<(u16, u16)>,
    /// ICMP type and code, for ICMPv4/ICMPv6.
    pub icmp: Option<(u8, u8)>,
    pub proto: u8,
    pub vlan: &'a [u16],
    pub flow: Option<&'a Flow>,
    pub direction: Option<Direction>,
    pub app_proto: Option<&'a str>,
    /// What protocol detection found in each direction, where it differs from `app_proto`.
    pub app_proto_ts: Option<&'a str>,
    pub app_proto_tc: Option<&'a str>,
    /// Suricata's `pkt_src`.
    pub pkt_src: &'a str,
    /// The engine runs as an IPS (`--simulate-ips`): drop rules block.
    pub ips: bool,
    /// EVE's `verdict` object (alert option `verdict`): the packet's actions
    /// (`detect::verdict` bits); with `packet_drop`, whether a drop or reject applied.
    pub verdict: Option<u8>,
    /// For a packet that came out of a tunnel: the captured packet that carried it.
    pub tunnel: Option<TunnelInfo<'a>>,
}

/// A tagged packet, for an EVE `packet` event.
#[derive(Debug, Clone, Copy)]
pub struct PacketRecord<'a> {
    pub ts: Timestamp,
    pub pcap_cnt: Option<u64>,
    pub flow_id: Option<u64>,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub ports: Option<(u16, u16)>,
    pub icmp: Option<(u8, u8)>,
    pub proto: u8,
    pub vlan: &'a [u16],
    pub pkt_src: &'a str,
    /// The frame from its link-layer header on.
    pub frame: &'a [u8],
    /// Its LINKTYPE_* number.
    pub linktype: u32,
}

/// EVE's `tunnel` object: the captured packet a tunnelled packet came out of (Suricata's
/// AlertJsonTunnel, which describes the outermost packet whatever the depth).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TunnelInfo<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// The carrier's ports, (0, 0) when it has none (GRE, IP in IP).
    pub ports: (u16, u16),
    pub proto: u8,
    /// Tunnels around the alerting packet.
    pub depth: u8,
    /// The carrier's position in the capture file.
    pub pcap_cnt: Option<u64>,
    /// The carrier's `pkt_src`.
    pub pkt_src: &'a str,
}

fn is_drop(a: Action) -> bool {
    !matches!(a, Action::Alert | Action::Pass)
}

fn is_reject(a: Action) -> bool {
    matches!(
        a,
        Action::Reject | Action::RejectSrc | Action::RejectDst | Action::RejectBoth
    )
}

/// One fast.log line, with its newline.
pub fn fast_line(out: &mut String, a: &AlertRecord<'_>) {
    time::write_fast(out, &time::local(a.ts));
    out.push_str("  ");
    if is_drop(a.action) {
        // IPS mode: dropped; IDS mode: a drop or reject rule would have dropped ("wDrop").
        out.push_str(if a.ips { "[Drop] " } else { "[wDrop] " });
    }
    let _ = write!(
        out,
        "[**] [{}:{}:{}] {} [**] [Classification: {}] [Priority: {}] ",
        a.sig.gid,
        a.sig.sid,
        a.sig.rev,
        a.sig.msg.as_deref().unwrap_or("(null)"),
        a.sig.class_desc.as_deref().unwrap_or("(null)"),
        a.sig.priority
    );
    match proto_name(a.proto) {
        Some(n) => {
            let _ = write!(out, "{{{n}}} ");
        }
        None => {
            let _ = write!(out, "{{PROTO:{:03}}} ", a.proto);
        }
    }
    let (sp, dp) = match (a.ports, a.icmp) {
        (Some((s, d)), _) => (s as u32, d as u32),
        (None, Some((t, c))) => (t as u32, c as u32),
        _ => (0, 0),
    };
    write_ip(out, a.src);
    let _ = write!(out, ":{sp} -> ");
    write_ip(out, a.dst);
    let _ = writeln!(out, ":{dp}");
}

/// Short text on the stack: EVE lines are built without heap allocation.
type Small = heapless::String<64>;

fn proto_text(proto: u8) -> Small {
    let mut s = Small::new();
    match proto_name(proto) {
        Some(n) => {
            let _ = s.push_str(n);
        }
        None => {
            let _ = write!(s, "{proto}");
        }
    }
    s
}

fn ip_text(ip: IpAddr) -> Small {
    let mut s = Small::new();
    match ip {
        IpAddr::V4(a) => {
            let _ = write!(s, "{a}");
        }
        IpAddr::V6(a) => {
            for (i, seg) in a.segments().iter().enumerate() {
                if i > 0 {
                    let _ = s.push(':');
                }
                let _ = write!(s, "{seg:04x}");
            }
        }
    }
    s
}

fn eve_time(ts: Timestamp) -> Small {
    let t = time::local(ts);
    let mut s = Small::new();
    let sign = if t.gmtoff < 0 { '-' } else { '+' };
    let off = t.gmtoff.unsigned_abs();
    let _ = write!(
        s,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}{}{:02}{:02}",
        t.year,
        t.month,
        t.day,
        t.hour,
        t.min,
        t.sec,
        t.micros,
        sign,
        off / 3600,
        (off % 3600) / 60
    );
    s
}

/// The packet part of an EVE header (Suricata's `CreateEveHeader`, packet direction).
struct Header<'a> {
    ts: Timestamp,
    flow_id: Option<u64>,
    pcap_cnt: Option<u64>,
    event_type: &'a str,
    vlan: &'a [u16],
    src: IpAddr,
    dst: IpAddr,
    ports: Option<(u16, u16)>,
    proto: u8,
    icmp: Option<(u8, u8)>,
    pkt_src: &'a str,
}

fn write_header(o: &mut Obj<'_>, h: &Header<'_>) {
    o.str("timestamp", &eve_time(h.ts));
    if let Some(id) = h.flow_id {
        o.u64("flow_id", id);
    }
    if let Some(n) = h.pcap_cnt {
        o.u64("pcap_cnt", n);
    }
    o.str("event_type", h.event_type);
    if !h.vlan.is_empty() {
        let mut v: heapless::String<32> = heapless::String::new();
        let _ = v.push('[');
        for (i, id) in h.vlan.iter().enumerate() {
            if i > 0 {
                let _ = v.push(',');
            }
            let _ = write!(v, "{id}");
        }
        let _ = v.push(']');
        o.raw("vlan", &v);
    }
    o.str("src_ip", &ip_text(h.src));
    if let Some((sp, _)) = h.ports {
        o.u64("src_port", sp as u64);
    }
    o.str("dest_ip", &ip_text(h.dst));
    if let Some((_, dp)) = h.ports {
        o.u64("dest_port", dp as u64);
    }
    o.str("proto", &proto_text(h.proto));
    if let Some((t, c)) = h.icmp {
        o.u64("icmp_type", t as u64).u64("icmp_code", c as u64);
    }
    o.str("pkt_src", h.pkt_src);
}

/// One EVE `packet` event (a packet tagged by the `tag` keyword, with the alert option
/// `tagged-packets`), with its newline: the header, then `packet` (the frame in base64) and
/// `packet_info.linktype`, as Suricata's `EvePacket`.
pub fn eve_packet_line(out: &mut String, r: &PacketRecord<'_>) {
    let mut o = Obj::open(out);
    write_header(
        &mut o,
        &Header {
            ts: r.ts,
            flow_id: r.flow_id,
            pcap_cnt: r.pcap_cnt,
            event_type: "packet",
            vlan: r.vlan,
            src: r.src,
            dst: r.dst,
            ports: r.ports,
            proto: r.proto,
            icmp: r.icmp,
            pkt_src: r.pkt_src,
        },
    );
    o.base64("packet", r.frame);
    {
        let mut pi = o.obj("packet_info");
        pi.u64("linktype", r.linktype as u64);
        pi.close();
    }
    o.close();
    out.push('\n');
}

/// EVE's `verdict` object (Suricata's `EveAddVerdict`): a reject gives `drop` in IPS mode
/// (`alert` otherwise) with its target and what would be sent; else a drop in IPS mode gives
/// `drop`, a pass rule `pass`, anything else `alert`.
fn write_verdict(o: &mut Obj<'_>, bits: u8, dropped: bool, ips: bool, proto: u8) {
    use crate::detect::verdict::*;
    let mut v = o.obj("verdict");
    if bits & (REJECT | REJECT_DST | REJECT_BOTH) != 0 {
        v.str("action", if ips { "drop" } else { "alert" });
        let target = if bits & REJECT != 0 {
            "to_client"
        } else if bits & REJECT_DST != 0 {
            "to_server"
        } else {
            "both"
        };
        v.str("reject-target", target);
        let how: &[&str] = match proto {
            17 | 1 | 58 => &["icmp-prohib"],
            6 => &["tcp-reset"],
            _ => &[],
        };
        v.strs("reject", how.iter().copied());
    } else if dropped && ips {
        v.str("action", "drop");
    } else if bits & PASS != 0 {
        v.str("action", "pass");
    } else {
        v.str("action", "alert");
    }
    v.close();
}

/// One EVE alert record, with its newline.
pub fn eve_line(out: &mut String, a: &AlertRecord<'_>, flow_id: Option<u64>) {
    let mut o = Obj::open(out);
    write_header(
        &mut o,
        &Header {
            ts: a.ts,
            flow_id,
            pcap_cnt: a.pcap_cnt,
            event_type: "alert",
            vlan: a.vlan,
            src: a.src,
            dst: a.dst,
            ports: a.ports,
            proto: a.proto,
            icmp: a.icmp,
            pkt_src: a.pkt_src,
        },
    );
    {
        let s = a.sig;
        let mut al = o.obj("alert");
        let blocked = if a.rate_modified {
            a.packet_drop
        } else {
            is_reject(a.action) || (a.ips && is_drop(a.action))
        };
        let action = if blocked { "blocked" } else { "allowed" };
        al.str("action", action)
            .u64("gid", s.gid as u64)
            .u64("signature_id", s.sid as u64)
            .u64("rev", s.rev as u64)
            .str("signature", s.msg.as_deref().unwrap_or(""))
            .str("category", s.class_desc.as_deref().unwrap_or(""))
            .u64("severity", s.priority as u64);
        if let Some(t) = s.target {
            let src_ep = (a.src, a.ports.map(|p| p.0));
            let dst_ep = (a.dst, a.ports.map(|p| p.1));
            let (source, target) = match t {
                Target::Dst => (src_ep, dst_ep),
                Target::Src => (dst_ep, src_ep),
            };
            for (key, (addr, port)) in [("source", source), ("target", target)] {
                let mut e = al.obj(key);
                e.str("ip", &ip_text(addr));
                if let Some(p) = port {
                    e.u64("port", p as u64);
                }
                e.close();
            }
        }
        if !s.metadata.is_empty() {
            let mut m = al.obj("metadata");
            for (k, vs) in &s.metadata {
                m.strs(k, vs.iter().map(|v| v.as_str()));
            }
            m.close();
        }
        al.close();
    }
    if let Some(t) = &a.tunnel {
        let mut to = o.obj("tunnel");
        to.str("src_ip", &ip_text(t.src))
            .u64("src_port", t.ports.0 as u64)
            .str("dest_ip", &ip_text(t.dst))
            .u64("dest_port", t.ports.1 as u64)
            .str("proto", &proto_text(t.proto))
            .u64("depth", t.depth as u64);
        if let Some(n) = t.pcap_cnt {
            to.u64("pcap_cnt", n);
        }
        to.str("pkt_src", t.pkt_src);
        to.close();
    }
    if let Some(ap) = a.app_proto {
        o.str("app_proto", ap);
    }
    if let Some(ap) = a.app_proto_ts {
        o.str("app_proto_ts", ap);
    }
    if let Some(ap) = a.app_proto_tc {
        o.str("app_proto_tc", ap);
    }
    if let Some(d) = a.direction {
        o.str("direction", d.as_str());
    }
    if let Some(f) = a.flow {
        let mut fo = o.obj("flow");
        fo.u64("pkts_toserver", f.pkts_toserver)
            .u64("pkts_toclient", f.pkts_toclient)
            .u64("bytes_toserver", f.bytes_toserver)
            .u64("bytes_toclient", f.bytes_toclient);
        fo.str("start", &eve_time(f.start));
        fo.str("src_ip", &ip_text(f.client.0));
        fo.str("dest_ip", &ip_text(f.server.0));
        if matches!(f.proto, 6 | 17 | 132) {
            fo.u64("src_port", f.client.1 as u64)
                .u64("dest_port", f.server.1 as u64);
        }
        fo.close();
    }
    if let Some(bits) = a.verdict {
        write_verdict(&mut o, bits, a.packet_drop, a.ips, a.proto);
    }
    o.close();
    out.push('\n');
}
