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
    /// Suricata's `pkt_src`.
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
    if is_drop(a.sig.action) {
        // IDS mode: a drop or reject rule would have dropped ("wDrop").
        out.push_str("[wDrop] ");
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

fn proto_text(proto: u8) -> String {
    match proto_name(proto) {
        Some(n) => n.to_string(),
        None => proto.to_string(),
    }
}

/// One EVE alert record, with its newline.
pub fn eve_line(out: &mut String, a: &AlertRecord<'_>, flow_id: Option<u64>) {
    let mut ts = String::with_capacity(32);
    time::write_eve(&mut ts, &time::local(a.ts));
    let mut ip = String::with_capacity(40);
    let mut o = Obj::open(out);
    o.str("timestamp", &ts);
    if let Some(id) = flow_id {
        o.u64("flow_id", id);
    }
    if let Some(n) = a.pcap_cnt {
        o.u64("pcap_cnt", n);
    }
    o.str("event_type", "alert");
    if !a.vlan.is_empty() {
        let mut v = String::new();
        v.push('[');
        for (i, id) in a.vlan.iter().enumerate() {
            if i > 0 {
                v.push(',');
            }
            let _ = write!(v, "{id}");
        }
        v.push(']');
        o.raw("vlan", &v);
    }
    write_ip(&mut ip, a.src);
    o.str("src_ip", &ip);
    if let Some((sp, _)) = a.ports {
        o.u64("src_port", sp as u64);
    }
    ip.clear();
    write_ip(&mut ip, a.dst);
    o.str("dest_ip", &ip);
    if let Some((_, dp)) = a.ports {
        o.u64("dest_port", dp as u64);
    }
    o.str("proto", &proto_text(a.proto));
    if let Some((t, c)) = a.icmp {
        o.u64("icmp_type", t as u64).u64("icmp_code", c as u64);
    }
    o.str("pkt_src", a.pkt_src);
    {
        let s = a.sig;
        let mut al = o.obj("alert");
        let action = if is_reject(s.action) {
            "blocked"
        } else {
            "allowed"
        };
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
                e.str("ip", &super::names::ip_string(addr));
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
    if let Some(ap) = a.app_proto {
        o.str("app_proto", ap);
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
        let mut start = String::with_capacity(32);
        time::write_eve(&mut start, &time::local(f.start));
        fo.str("start", &start);
        fo.str("src_ip", &super::names::ip_string(f.client.0));
        fo.str("dest_ip", &super::names::ip_string(f.server.0));
        if matches!(f.proto, 6 | 17 | 132) {
            fo.u64("src_port", f.client.1 as u64)
                .u64("dest_port", f.server.1 as u64);
        }
        fo.close();
    }
    o.close();
    out.push('\n');
}
