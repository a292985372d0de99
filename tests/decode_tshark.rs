//! ravn's reader and decoder against tshark, field by field.
//!
//! `tests/data/gen_decode_pcaps.py` (scapy) writes capture files covering Ethernet, VLAN,
//! QinQ, IPv4 options and fragments, IPv6 extension headers, TCP options, UDP, ICMP, ICMPv6,
//! GRE, IP-in-IP, VXLAN, Geneve, Teredo, NSH, MPLS, TZSP, Linux SLL/SLL2, raw IP and BSD null,
//! in both byte orders and both timestamp resolutions; editcap/mergecap add pcapng copies
//! (one with three interfaces of different link types). Every packet is read with
//! `capture::open` and decoded with `Decoder`; its innermost packet (the deepest tunnelled
//! one) is compared with tshark's dissection of the innermost layers, and its tunnel depth
//! with the tunnels in tshark's stack. tshark runs without IP reassembly and ravn's `decode`
//! rebuilds no packet, so a fragment is compared as what it is: an IP header (and, for
//! IPv6, its fragment header) with nothing decoded after it.
//!
//! Needs tshark and scapy: `apt-get install -y tshark python3-scapy` (or `pip install scapy`).

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use ravn::capture;
use ravn::decode::packet::ipopt;
use ravn::decode::{Decoder, Packet, L4};

const INSTALL: &str = "install them with: apt-get install -y tshark python3-scapy";

const FIELDS: &[&str] = &[
    "frame.number",
    "frame.protocols",
    "frame.time_epoch",
    "frame.len",
    "frame.cap_len",
    "vlan.id",
    "ieee8021ad.id",
    "ip.src",
    "ip.dst",
    "ip.proto",
    "ip.ttl",
    "ip.id",
    "ip.flags.mf",
    "ip.frag_offset",
    "ip.opt.type",
    "ip.len",
    "ip.hdr_len",
    "ipv6.src",
    "ipv6.dst",
    "ipv6.hlim",
    "ipv6.fraghdr.offset",
    "ipv6.fraghdr.more",
    "ipv6.fraghdr.ident",
    "tcp.srcport",
    "tcp.dstport",
    "tcp.seq_raw",
    "tcp.ack_raw",
    "tcp.flags",
    "tcp.window_size_value",
    "tcp.len",
    "tcp.options.mss_val",
    "tcp.options.wscale.shift",
    "tcp.option_kind",
    "tcp.options.timestamp.tsval",
    "tcp.options.timestamp.tsecr",
    "udp.srcport",
    "udp.dstport",
    "udp.length",
    "icmp.type",
    "icmp.code",
    "icmp.ident",
    "icmp.seq",
    "icmpv6.type",
    "icmpv6.code",
    "icmpv6.echo.identifier",
    "icmpv6.echo.sequence_number",
    "data.len",
];

fn require_tools() {
    let tshark = Command::new("tshark").arg("-v").output();
    if !tshark.map(|o| o.status.success()).unwrap_or(false) {
        panic!("tshark is not installed; {INSTALL}");
    }
    let scapy = Command::new("python3")
        .args(["-c", "import scapy.all"])
        .output();
    if !scapy.map(|o| o.status.success()).unwrap_or(false) {
        panic!("python3 with scapy is not installed; {INSTALL}");
    }
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ravn-tshark-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

fn run(cmd: &mut Command) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e}; {INSTALL}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Generates the capture files; returns their paths.
fn generate(dir: &Path) -> Vec<PathBuf> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/gen_decode_pcaps.py");
    run(Command::new("python3").arg(&script).arg(dir));
    let mut files: Vec<PathBuf> = ["ether", "ether-be-ns", "sll", "sll2", "raw", "null"]
        .iter()
        .map(|n| dir.join(format!("{n}.pcap")))
        .collect();
    let ng = dir.join("ether.pcapng");
    run(Command::new("editcap")
        .args(["-F", "pcapng"])
        .arg(dir.join("ether.pcap"))
        .arg(&ng));
    files.push(ng);
    let mixed = dir.join("mixed.pcapng");
    run(Command::new("mergecap")
        .args(["-F", "pcapng", "-w"])
        .arg(&mixed)
        .arg(dir.join("sll2.pcap"))
        .arg(dir.join("raw.pcap"))
        .arg(dir.join("null.pcap")));
    files.push(mixed);
    files
}

/// One tshark row: field name to its comma-separated occurrences.
struct Row(HashMap<&'static str, Vec<String>>);

impl Row {
    fn all(&self, f: &str) -> &[String] {
        self.0.get(f).map(|v| v.as_slice()).unwrap_or(&[])
    }
    /// The `n`th occurrence (0-based).
    fn nth(&self, f: &str, n: usize) -> Option<&str> {
        self.all(f).get(n).map(|s| s.as_str())
    }
    fn num(&self, f: &str, n: usize) -> Option<u64> {
        self.nth(f, n).map(parse_num)
    }
}

fn parse_num(s: &str) -> u64 {
    if let Some(h) = s.strip_prefix("0x") {
        u64::from_str_radix(h, 16).unwrap_or_else(|_| panic!("bad hex {s}"))
    } else if s == "True" {
        1
    } else if s == "False" {
        0
    } else {
        s.parse().unwrap_or_else(|_| panic!("bad number {s}"))
    }
}

fn tshark(path: &Path) -> Vec<Row> {
    let mut cmd = Command::new("tshark");
    cmd.arg("-r").arg(path);
    for pref in [
        "ip.defragment:FALSE",
        "ipv6.defragment:FALSE",
        "tcp.desegment_tcp_streams:FALSE",
    ] {
        cmd.args(["-o", pref]);
    }
    cmd.args(["-T", "fields", "-E", "separator=|", "-E", "occurrence=a"]);
    for f in FIELDS {
        cmd.args(["-e", f]);
    }
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("tshark: {e}; {INSTALL}"));
    assert!(
        out.status.success(),
        "tshark failed on {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .lines()
        .map(|line| {
            let cols: Vec<&str> = line.split('|').collect();
            assert_eq!(cols.len(), FIELDS.len(), "tshark line: {line}");
            Row(FIELDS
                .iter()
                .zip(cols)
                .map(|(f, c)| {
                    let v = if c.is_empty() {
                        Vec::new()
                    } else {
                        c.split(',').map(str::to_string).collect()
                    };
                    (*f, v)
                })
                .collect())
        })
        .collect()
}

/// The layers ravn is expected to decode, from tshark's protocol stack: up to and including
/// the first transport (TCP, UDP, ICMP, ICMPv6) unless it is UDP carrying TZSP or a UDP
/// tunnel, and up to (excluding) the first layer ravn does not decapsulate (PPPoE, SCTP, ...,
/// and IPv4 in IPv4, which Suricata 7 leaves alone).
fn expected_layers(protocols: &str) -> Vec<&str> {
    let stack: Vec<&str> = protocols.split(':').collect();
    let mut out = Vec::new();
    for (i, &l) in stack.iter().enumerate() {
        match l {
            "ip" if out.last() == Some(&"ip") => break,
            "eth" | "ethertype" | "vlan" | "ieee8021ad" | "sll" | "null" | "raw" | "ip"
            | "ipv6" | "gre" | "ah" | "tzsp" | "vxlan" | "geneve" | "teredo" | "nsh" | "mpls" => {
                out.push(l)
            }
            _ if l.starts_with("ipv6.") => out.push(l),
            "udp" if stack.get(i + 1) == Some(&"tzsp") => out.push(l),
            // A UDP tunnel is a tunnel when it carries IP (VXLAN carrying ARP is not).
            "udp"
                if matches!(stack.get(i + 1), Some(&("vxlan" | "geneve" | "teredo")))
                    && stack[i + 1..].iter().any(|&n| n == "ip" || n == "ipv6") =>
            {
                out.push(l)
            }
            "tcp" | "udp" | "icmp" | "icmpv6" => {
                out.push(l);
                break;
            }
            _ => break,
        }
    }
    out
}

/// Where each tunnel in `layers` ends: what follows is a packet of its own in Suricata (and
/// ravn), one level deeper. TZSP is not a tunnel here: it is part of capture.
fn tunnel_ends(layers: &[&str]) -> Vec<usize> {
    let ip = |l: &str| l == "ip" || l == "ipv6";
    (0..layers.len())
        .filter(|&i| {
            let next = layers.get(i + 1).copied();
            match layers[i] {
                "vxlan" | "geneve" | "teredo" | "gre" => next.is_some(),
                l if ip(l) => next.is_some_and(ip),
                _ => false,
            }
        })
        .map(|i| i + 1)
        .collect()
}

fn count(layers: &[&str], name: &str) -> usize {
    layers.iter().filter(|&&l| l == name).count()
}

/// Compares one packet; pushes a line per disagreement.
fn compare(what: &str, row: &Row, p: &Packet<'_>, bad: &mut Vec<String>) {
    let mut check = |field: &str, tshark: Option<String>, ravn: Option<String>| {
        if tshark != ravn {
            bad.push(format!("{what}: {field}: tshark {tshark:?} ravn {ravn:?}"));
        }
    };
    let protocols = row.nth("frame.protocols", 0).unwrap_or("").to_string();
    let mut layers = expected_layers(&protocols);
    // A fragment is not decoded past its IP header (as in Suricata: the packet it completes
    // is rebuilt and decoded on its own), so nothing after it is expected.
    let mut n4 = 0;
    let fragment_at = layers.iter().position(|&l| match l {
        "ip" => {
            let mf = row.num("ip.flags.mf", n4).unwrap_or(0);
            let off = row.num("ip.frag_offset", n4).unwrap_or(0);
            n4 += 1;
            mf == 1 || off > 0
        }
        "ipv6.fraghdr" => {
            row.num("ipv6.fraghdr.offset", 0).unwrap_or(0) > 0
                || row.num("ipv6.fraghdr.more", 0).unwrap_or(0) == 1
        }
        _ => false,
    });
    if let Some(i) = fragment_at {
        layers.truncate(i + 1);
    }

    // Timestamp.
    let epoch = row.nth("frame.time_epoch", 0).expect("time").to_string();
    let (s, frac) = epoch.split_once('.').unwrap_or((&epoch, "0"));
    let ns = format!("{frac:0<9}");
    check(
        "timestamp",
        Some(format!("{s}.{}", &ns[..9])),
        Some(format!("{}.{:09}", p.ts.secs, p.ts.nanos)),
    );

    // Tunnels: the innermost packet is as deep as tshark's stack has tunnels.
    let ends = tunnel_ends(&layers);
    check(
        "tunnel depth",
        Some(ends.len().to_string()),
        Some(p.depth.to_string()),
    );

    // VLAN ids: those after the last tunnel, or after TZSP (a tunnelled packet starts with
    // no VLAN of its carrier).
    let start = ends
        .last()
        .copied()
        .into_iter()
        .chain(layers.iter().position(|&l| l == "tzsp"))
        .max()
        .unwrap_or(0);
    let (mut q, mut ad) = (
        count(&layers[..start], "vlan"),
        count(&layers[..start], "ieee8021ad"),
    );
    let mut vlans = Vec::new();
    for &l in &layers[start..] {
        if l == "vlan" {
            vlans.extend(row.num("vlan.id", q));
            q += 1;
        } else if l == "ieee8021ad" {
            vlans.extend(row.num("ieee8021ad.id", ad));
            ad += 1;
        }
    }
    check(
        "vlan ids",
        Some(format!("{vlans:?}")),
        Some(format!("{:?}", p.vlans())),
    );

    // Innermost IP.
    let last_ip = layers.iter().rev().find(|&&l| l == "ip" || l == "ipv6");
    let n4 = count(&layers, "ip");
    let n6 = count(&layers, "ipv6");
    let ip = p.ip;
    check(
        "ip version",
        last_ip.map(|&l| if l == "ip" { "4" } else { "6" }.to_string()),
        ip.map(|i| i.version.to_string()),
    );
    let (Some(&kind), Some(ip)) = (last_ip, ip) else {
        return;
    };
    let addr = |a: IpAddr| Some(a.to_string());
    if kind == "ip" {
        let n = n4 - 1;
        check(
            "ip.src",
            row.nth("ip.src", n).map(String::from),
            addr(ip.src),
        );
        // With a source route option, Wireshark reports the route's final destination as
        // ip.dst (and the header's as "via"); ravn, like Suricata, keeps the header's.
        let source_route = row
            .all("ip.opt.type")
            .iter()
            .any(|t| t == "131" || t == "137");
        if !source_route {
            check(
                "ip.dst",
                row.nth("ip.dst", n).map(String::from),
                addr(ip.dst),
            );
        }
        let num = |f: &str| row.num(f, n).map(|v| v.to_string());
        check("ip.proto", num("ip.proto"), Some(ip.proto.to_string()));
        check("ip.ttl", num("ip.ttl"), Some(ip.ttl.to_string()));
        check("ip.id", num("ip.id"), Some(ip.id.to_string()));
        check(
            "ip.flags.mf",
            num("ip.flags.mf"),
            Some((ip.frag_flags & 1).to_string()),
        );
        check(
            "ip.frag_offset",
            num("ip.frag_offset"),
            Some(ip.frag_offset.to_string()),
        );
        if n4 == 1 {
            let mut bits = 0u16;
            for t in row.all("ip.opt.type") {
                bits |= match parse_num(t) {
                    0 => ipopt::EOL,
                    1 => ipopt::NOP,
                    7 => ipopt::RR,
                    68 => ipopt::TS,
                    130 => ipopt::SEC,
                    131 => ipopt::LSRR,
                    133 => ipopt::ESEC,
                    136 => ipopt::SATID,
                    137 => ipopt::SSRR,
                    _ => 0,
                };
            }
            check(
                "ip options",
                Some(format!("{bits:#x}")),
                Some(format!("{:#x}", ip.ipopts)),
            );
        }
    } else {
        let n = n6 - 1;
        check(
            "ipv6.src",
            row.nth("ipv6.src", n).map(String::from),
            addr(ip.src),
        );
        check(
            "ipv6.dst",
            row.nth("ipv6.dst", n).map(String::from),
            addr(ip.dst),
        );
        check(
            "ipv6.hlim",
            row.num("ipv6.hlim", n).map(|v| v.to_string()),
            Some(ip.ttl.to_string()),
        );
        if n6 == 1 {
            let frag = (
                row.num("ipv6.fraghdr.offset", 0).unwrap_or(0),
                row.num("ipv6.fraghdr.more", 0).unwrap_or(0),
                row.num("ipv6.fraghdr.ident", 0).unwrap_or(0),
            );
            check(
                "ipv6 fragment (offset, more, id)",
                Some(format!("{frag:?}")),
                Some(format!(
                    "{:?}",
                    (
                        u64::from(ip.frag_offset),
                        u64::from(ip.frag_flags & 1),
                        u64::from(ip.id)
                    )
                )),
            );
        }
    }

    // Innermost transport.
    let l4 = layers
        .iter()
        .rev()
        .find(|&&l| matches!(l, "tcp" | "udp" | "icmp" | "icmpv6"))
        .copied()
        // UDP that only carried TZSP is not the packet's transport.
        .filter(|&l| !(l == "udp" && layers.last() != Some(&"udp")));
    let ravn_l4 = match p.l4 {
        L4::None => None,
        L4::Tcp(_) => Some("tcp"),
        L4::Udp(_) => Some("udp"),
        L4::Icmp(_) if ip.version == 4 => Some("icmp"),
        L4::Icmp(_) => Some("icmpv6"),
    };
    check("transport", l4.map(String::from), ravn_l4.map(String::from));
    let fragment = ip.frag_flags & 1 != 0;
    match (l4, p.l4) {
        (Some("tcp"), L4::Tcp(t)) => {
            let n = count(&layers, "tcp") - 1;
            let num = |f: &str| row.num(f, n).map(|v| v.to_string());
            check(
                "tcp.srcport",
                num("tcp.srcport"),
                Some(t.src_port.to_string()),
            );
            check(
                "tcp.dstport",
                num("tcp.dstport"),
                Some(t.dst_port.to_string()),
            );
            check("tcp.seq", num("tcp.seq_raw"), Some(t.seq.to_string()));
            if t.flags & 0x10 != 0 {
                check("tcp.ack", num("tcp.ack_raw"), Some(t.ack.to_string()));
            }
            check(
                "tcp.flags",
                row.num("tcp.flags", n).map(|v| (v & 0xff).to_string()),
                Some(t.flags.to_string()),
            );
            check(
                "tcp.window",
                num("tcp.window_size_value"),
                Some(t.window.to_string()),
            );
            if !fragment {
                check(
                    "tcp payload length",
                    num("tcp.len"),
                    Some(p.payload.len().to_string()),
                );
            }
            if n == 0 {
                let opt = |f: &str| row.num(f, 0).map(|v| v.to_string());
                check(
                    "tcp mss",
                    opt("tcp.options.mss_val"),
                    t.mss.map(|v| v.to_string()),
                );
                check(
                    "tcp wscale",
                    opt("tcp.options.wscale.shift"),
                    t.wscale.map(|v| v.to_string()),
                );
                let sack_perm = row.all("tcp.option_kind").iter().any(|k| k == "4");
                check(
                    "tcp sack permitted",
                    Some(sack_perm.to_string()),
                    Some(t.sack_permitted.to_string()),
                );
                let ts = opt("tcp.options.timestamp.tsval")
                    .map(|v| format!("{v}/{}", opt("tcp.options.timestamp.tsecr").unwrap()));
                check(
                    "tcp timestamp",
                    ts,
                    t.timestamp.map(|(a, b)| format!("{a}/{b}")),
                );
            }
        }
        (Some("udp"), L4::Udp(u)) => {
            let n = count(&layers, "udp") - 1;
            let num = |f: &str| row.num(f, n).map(|v| v.to_string());
            check(
                "udp.srcport",
                num("udp.srcport"),
                Some(u.src_port.to_string()),
            );
            check(
                "udp.dstport",
                num("udp.dstport"),
                Some(u.dst_port.to_string()),
            );
            check("udp.length", num("udp.length"), Some(u.len.to_string()));
            if !fragment {
                check(
                    "udp payload length",
                    row.num("udp.length", n).map(|v| (v - 8).to_string()),
                    Some(p.payload.len().to_string()),
                );
            }
        }
        (Some(k @ ("icmp" | "icmpv6")), L4::Icmp(i)) => {
            let n = count(&layers, k) - 1;
            let (t, c) = if k == "icmp" {
                ("icmp.type", "icmp.code")
            } else {
                ("icmpv6.type", "icmpv6.code")
            };
            let num = |f: &str| row.num(f, n).map(|v| v.to_string());
            check(t, num(t), Some(i.icmp_type.to_string()));
            check(c, num(c), Some(i.code.to_string()));
            let echo = matches!((k, i.icmp_type), ("icmp", 0 | 8) | ("icmpv6", 128 | 129));
            if echo && n == 0 {
                let (fid, fseq) = if k == "icmp" {
                    ("icmp.ident", "icmp.seq")
                } else {
                    ("icmpv6.echo.identifier", "icmpv6.echo.sequence_number")
                };
                check("icmp id", num(fid), Some(i.id.to_string()));
                check("icmp seq", num(fseq), Some(i.seq.to_string()));
                // ICMPv4: what the IP header leaves after the 8-byte ICMP header (Wireshark
                // takes a leading timestamp out of the data). ICMPv6: the data.
                let data = if k == "icmp" {
                    let n4 = count(&layers, "ip") - 1;
                    let (len, hlen) = (row.num("ip.len", n4), row.num("ip.hdr_len", n4));
                    len.zip(hlen).map(|(l, h)| l - h - 8).unwrap_or(0)
                } else if protocols.ends_with("icmpv6:data") {
                    row.all("data.len")
                        .last()
                        .map(|v| parse_num(v))
                        .unwrap_or(0)
                } else {
                    0
                };
                check(
                    "icmp payload length",
                    Some(data.to_string()),
                    Some(p.payload.len().to_string()),
                );
            }
        }
        _ => {}
    }
}

/// Reads `path` with ravn and compares every packet with tshark. Returns disagreements.
fn compare_file(path: &Path, skip_snapped: bool) -> (usize, Vec<String>) {
    let rows = tshark(path);
    let mut src = capture::open(path).unwrap_or_else(|e| panic!("{e}"));
    let mut dec = Decoder::new();
    let mut bad = Vec::new();
    let mut n = 0;
    let name = path.file_name().unwrap().to_string_lossy().to_string();
    while let Some(frame) = src.next_frame().unwrap_or_else(|e| panic!("{e}")) {
        let Some(row) = rows.get(n) else {
            bad.push(format!(
                "{name}: ravn read more frames than tshark ({})",
                rows.len()
            ));
            break;
        };
        n += 1;
        let decoded = dec.decode(&frame);
        let p = *decoded.innermost();
        let snapped = row.num("frame.cap_len", 0) < row.num("frame.len", 0);
        if skip_snapped && snapped {
            continue;
        }
        compare(
            &format!(
                "{name}#{n} [{}]",
                row.nth("frame.protocols", 0).unwrap_or("")
            ),
            row,
            &p,
            &mut bad,
        );
    }
    if n != rows.len() {
        bad.push(format!(
            "{name}: ravn read {n} frames, tshark {}",
            rows.len()
        ));
    }
    (n, bad)
}

#[test]
fn decoder_agrees_with_tshark_on_generated_packets() {
    require_tools();
    let dir = scratch("gen");
    let files = generate(&dir);
    let mut bad = Vec::new();
    let mut total = 0;
    for f in &files {
        let (n, b) = compare_file(f, false);
        assert!(n > 20, "{}: only {n} frames", f.display());
        total += n;
        bad.extend(b);
    }
    eprintln!(
        "compared {total} packets in {} files with tshark",
        files.len()
    );
    assert!(
        bad.is_empty(),
        "{} disagreements:\n{}",
        bad.len(),
        bad.join("\n")
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn decoder_agrees_with_tshark_on_suricata_verify_pcaps() {
    let tests =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/conformance/suricata-verify/tests");
    let Ok(entries) = std::fs::read_dir(&tests) else {
        eprintln!(
            "SKIPPED: {} is absent (shared reference material not checked out)",
            tests.display()
        );
        return;
    };
    require_tools();
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .flat_map(|e| std::fs::read_dir(e.path()).into_iter().flatten().flatten())
        .map(|f| f.path())
        .filter(|p| {
            let n = p.to_string_lossy();
            n.ends_with(".pcap") || n.ends_with(".pcapng")
        })
        .collect();
    files.sort();
    let mut bad = Vec::new();
    let mut total = 0;
    for f in &files {
        let (n, b) = compare_file(f, true);
        total += n;
        bad.extend(b.into_iter().map(|l| {
            format!(
                "{}/{l}",
                f.parent().unwrap().file_name().unwrap().to_string_lossy()
            )
        }));
    }
    eprintln!(
        "compared {total} packets in {} suricata-verify pcaps with tshark",
        files.len()
    );
    assert!(
        bad.is_empty(),
        "{} disagreements:\n{}",
        bad.len(),
        bad.join("\n")
    );
}
