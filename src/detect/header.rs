//! Packet-header keywords (ip, tcp and icmp families): one predicate per keyword over the
//! decoded `Packet`. Parsing lives in `rules::keywords`; this is the matching half.

use crate::decode::checksum;
use crate::decode::{Packet, L4};
use crate::rules::ast::{CsumKind, FlagsMode, FragBitsMatch, IpProtoMatch, Match, TcpFlagsMatch};

/// Evaluate one non-payload keyword. Payload keywords (`content`, `isdataat`) are not
/// handled here and return true. Header keywords never match an end-of-flow pseudo packet
/// (each of Suricata's returns 0 for PKT_IS_PSEUDOPKT), except `ip_proto` and `sameip`.
pub fn matches(m: &Match, p: &Packet<'_>) -> bool {
    match m {
        // Payload and stateful keywords are evaluated by the engine, not here.
        Match::Content(_)
        | Match::IsDataAt { .. }
        | Match::Flow(_)
        | Match::Flowbits(_)
        | Match::Pcre(_)
        | Match::ByteTest(_)
        | Match::ByteJump(_)
        | Match::ByteExtract(_)
        | Match::ByteMath(_)
        | Match::Bsize(_)
        | Match::StreamSize(_)
        | Match::Xbits(_)
        | Match::Tag(_) => true,
        Match::IpProto(m) => p.ip.is_some_and(|ip| match *m {
            IpProtoMatch::Eq(v) => ip.proto == v,
            IpProtoMatch::Ne(v) => ip.proto != v,
            IpProtoMatch::Lt(v) => ip.proto < v,
            IpProtoMatch::Gt(v) => ip.proto > v,
        }),
        Match::SameIp => p.ip.is_some_and(|ip| ip.src == ip.dst),
        // (a guarded arm: the arms below still have to cover every other keyword)
        _ if p.pseudo => false,
        Match::Dsize(cmp) => {
            let len = p.payload.len().min(u16::MAX as usize) as u16;
            // dsize only applies to packets with a transport payload notion
            p.ip.is_some() && cmp.matches(len)
        }
        Match::Itype(cmp) => p.icmp().is_some_and(|i| cmp.matches(i.icmp_type)),
        Match::Icode(cmp) => p.icmp().is_some_and(|i| cmp.matches(i.code)),
        Match::IcmpId(id) => icmp_echo_like(p).is_some_and(|(pid, _)| pid == *id),
        Match::IcmpSeq(seq) => icmp_echo_like(p).is_some_and(|(_, pseq)| pseq == *seq),
        Match::Flags(f) => p.tcp().is_some_and(|t| tcp_flags(f, t.flags)),
        Match::Ttl(cmp) => p.ip.is_some_and(|ip| cmp.matches(ip.ttl)),
        Match::IpOpts(bit) => {
            p.ip.is_some_and(|ip| ip.version == 4 && ip.ipopts & *bit != 0)
        }
        // IPv4 only, as Suricata's DetectFragBitsMatch
        Match::FragBits(f) => {
            p.ip.is_some_and(|ip| ip.version == 4 && frag_bits(f, ip.frag_flags))
        }
        // IPv4 only, as Suricata's DetectIdMatch and DetectTosMatch
        Match::Id(v) => {
            p.ip.is_some_and(|ip| ip.version == 4 && ip.id == u32::from(*v))
        }
        Match::Tos { value, negated } => {
            p.ip.is_some_and(|ip| ip.version == 4 && (ip.tos == *value) != *negated)
        }
        // Suricata's DetectFragOffsetMatch: IPv4's offset field (8-byte units); IPv6's only
        // with a fragment header, in bytes
        Match::FragOffset(cmp) => p.ip.is_some_and(|ip| {
            let off = match ip.version {
                4 => ip.frag_offset,
                _ if ip.frag_hdr => ip.frag_offset << 3,
                _ => return false,
            };
            cmp.matches(off)
        }),
        Match::Csum { kind, valid } => csum(p, *kind).is_some_and(|ok| ok == *valid),
        Match::Window { value, negated } => {
            p.tcp().is_some_and(|t| (t.window == *value) != *negated)
        }
        Match::Ack(v) => p.tcp().is_some_and(|t| t.ack == *v),
        Match::Seq(v) => p.tcp().is_some_and(|t| t.seq == *v),
        Match::TcpMss(cmp) => p
            .tcp()
            .and_then(|t| t.mss)
            .is_some_and(|mss| cmp.matches(mss)),
    }
}

/// Whether the checksum `kind` checks is right (None: the keyword does not apply to the
/// packet), as Suricata's detect-csum.c: each keyword applies to its IP version and
/// protocol (`udpv4-csum` not to a datagram without a checksum); a packet whose checksums
/// are not checked has them all right.
fn csum(p: &Packet<'_>, kind: CsumKind) -> Option<bool> {
    let ip = p.ip?;
    let v4 = ip.version == 4;
    let hl = usize::from(ip.hdr_len);
    let l4 =
        p.l3.get(hl..(ip.total_len as usize).min(p.l3.len()))
            .unwrap_or(&[]);
    let applies = match kind {
        CsumKind::Ipv4 => v4,
        CsumKind::Tcpv4 | CsumKind::Tcpv6 => {
            v4 == (kind == CsumKind::Tcpv4) && ip.proto == 6 && matches!(p.l4, L4::Tcp(_))
        }
        CsumKind::Udpv4 => {
            v4 && ip.proto == 17
                && matches!(p.l4, L4::Udp(_))
                && l4.get(6..8).is_some_and(|c| c != [0, 0])
        }
        CsumKind::Udpv6 => !v4 && ip.proto == 17 && matches!(p.l4, L4::Udp(_)),
        CsumKind::Icmpv4 => v4 && ip.proto == 1 && matches!(p.l4, L4::Icmp(_)),
        CsumKind::Icmpv6 => !v4 && ip.proto == 58 && matches!(p.l4, L4::Icmp(_)),
    };
    if !applies {
        return None;
    }
    if p.checksums_ignored {
        return Some(true);
    }
    Some(match kind {
        CsumKind::Ipv4 => p.l3.get(..hl).is_some_and(|h| checksum::internet(h) == 0),
        CsumKind::Tcpv4 | CsumKind::Tcpv6 => match p.l4 {
            // the decoder checked it already when the stream engine wanted it
            L4::Tcp(t) if t.bad_checksum => false,
            _ => checksum::transport_ok(6, ip.src, ip.dst, l4),
        },
        // UDPV6Checksum: a zero checksum never checks out
        CsumKind::Udpv4 | CsumKind::Udpv6 => {
            l4.get(6..8).is_some_and(|c| c != [0, 0])
                && checksum::transport_ok(17, ip.src, ip.dst, l4)
        }
        // ICMPV4CalculateChecksum / ICMPV6CalculateChecksum: computed without the checksum
        // field, compared with it
        CsumKind::Icmpv4 => checksum::icmp_matches(None, l4),
        CsumKind::Icmpv6 => checksum::icmp_matches(Some((ip.src, ip.dst)), l4),
    })
}

/// (id, seq) of an ICMP message whose bytes 4..8 carry them, as Suricata's icmp_id/icmp_seq.
fn icmp_echo_like(p: &Packet<'_>) -> Option<(u16, u16)> {
    let L4::Icmp(i) = p.l4 else { return None };
    let v6 = p.ip?.proto == 58;
    let ok = if v6 {
        matches!(i.icmp_type, 128 | 129)
    } else {
        // echo reply, echo, timestamp, timestamp reply, info request/reply, address mask
        matches!(i.icmp_type, 0 | 8 | 13 | 14 | 15 | 16 | 17 | 18)
    };
    ok.then_some((i.id, i.seq))
}

fn tcp_flags(f: &TcpFlagsMatch, wire: u8) -> bool {
    // As Suricata's FlagsMatch: `flags:0` (or a modifier with no flags) against a packet
    // with any flag set only matches under `!`, before the ignore mask applies.
    if f.flags == 0 && wire != 0 {
        return f.mode == FlagsMode::Not;
    }
    let flags = wire & !f.ignore;
    match f.mode {
        FlagsMode::None => flags == 0,
        FlagsMode::Exact => flags == f.flags,
        FlagsMode::Plus => flags & f.flags == f.flags,
        FlagsMode::Any => flags & f.flags != 0,
        FlagsMode::Not => flags & f.flags != f.flags,
    }
}

fn frag_bits(f: &FragBitsMatch, wire: u8) -> bool {
    let bits = wire & 0x7;
    match f.mode {
        FlagsMode::None => bits == 0,
        FlagsMode::Exact => bits == f.bits,
        // Suricata's `+` also requires some bit beyond the named ones
        FlagsMode::Plus => bits & f.bits == f.bits && bits > f.bits,
        FlagsMode::Any => bits & f.bits != 0,
        FlagsMode::Not => bits & f.bits != f.bits,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::packet::tcpflag::*;

    #[test]
    fn flags_modes() {
        let m = |flags, mode| TcpFlagsMatch {
            flags,
            ignore: 0,
            mode,
        };
        assert!(tcp_flags(&m(SYN, FlagsMode::Exact), SYN));
        assert!(!tcp_flags(&m(SYN, FlagsMode::Exact), SYN | ACK));
        assert!(tcp_flags(&m(SYN, FlagsMode::Plus), SYN | ACK));
        assert!(tcp_flags(&m(SYN | FIN, FlagsMode::Any), FIN | ACK));
        assert!(tcp_flags(&m(SYN, FlagsMode::Not), ACK));
        assert!(!tcp_flags(&m(SYN, FlagsMode::Not), SYN | ACK));
        assert!(tcp_flags(&m(0, FlagsMode::None), 0));
        let ign = TcpFlagsMatch {
            flags: SYN,
            ignore: CWR | ECE,
            mode: FlagsMode::Exact,
        };
        assert!(tcp_flags(&ign, SYN | ECE | CWR));
    }

    #[test]
    fn fragbits_modes() {
        let f = |bits, mode| FragBitsMatch { bits, mode };
        assert!(frag_bits(&f(0x2, FlagsMode::Exact), 0x2));
        assert!(!frag_bits(&f(0x2, FlagsMode::Exact), 0x3));
        assert!(frag_bits(&f(0x1, FlagsMode::Plus), 0x3));
        assert!(!frag_bits(&f(0x1, FlagsMode::Plus), 0x1));
        assert!(frag_bits(&f(0x1, FlagsMode::Not), 0x2));
    }

    /// An IPv4 (or IPv6) packet with `id`, `tos` and fragment offset `off` (8-byte units).
    fn ip_packet(v6: bool, id: u32, tos: u8, off: u16, frag_hdr: bool) -> Packet<'static> {
        let a: std::net::IpAddr = if v6 { "2001:db8::1" } else { "10.0.0.1" }.parse().unwrap();
        let mut p = Packet::new(crate::capture::Timestamp::default(), &[]);
        p.ip = Some(crate::decode::IpHdr {
            version: if v6 { 6 } else { 4 },
            src: a,
            dst: a,
            proto: 17,
            ttl: 64,
            tos,
            id,
            frag_flags: 0,
            frag_offset: off,
            frag_hdr,
            ipopts: 0,
            hdr_len: 20,
            total_len: 20,
        });
        p
    }

    #[test]
    fn id_tos_and_fragoffset() {
        use crate::rules::ast::NumCmp;
        let v4 = ip_packet(false, 103, 0x10, 4, false);
        assert!(matches(&Match::Id(103), &v4));
        assert!(!matches(&Match::Id(104), &v4));
        let tos = |value, negated| Match::Tos { value, negated };
        assert!(matches(&tos(0x10, false), &v4));
        assert!(!matches(&tos(0x10, true), &v4));
        assert!(matches(&tos(0, true), &v4));
        // IPv4: the offset field, in 8-byte units
        assert!(matches(&Match::FragOffset(NumCmp::Eq(4)), &v4));
        assert!(matches(&Match::FragOffset(NumCmp::Gt(3)), &v4));
        assert!(!matches(&Match::FragOffset(NumCmp::Lt(4)), &v4));
        // IPv6: bytes, and only with a fragment header; id and tos are IPv4 only
        let v6 = ip_packet(true, 103, 0x10, 4, true);
        assert!(matches(&Match::FragOffset(NumCmp::Eq(32)), &v6));
        assert!(!matches(&Match::FragOffset(NumCmp::Eq(4)), &v6));
        let unfragmented = ip_packet(true, 0, 0, 0, false);
        assert!(!matches(&Match::FragOffset(NumCmp::Eq(0)), &unfragmented));
        assert!(!matches(&Match::Id(103), &v6));
        assert!(!matches(&tos(0x10, false), &v6));
        assert!(!matches(&tos(0, true), &v6));
    }

    /// Suricata's header keywords return 0 for a pseudo packet, but for ip_proto and sameip.
    #[test]
    fn header_keywords_do_not_match_pseudo_packets() {
        use crate::rules::ast::NumCmp;
        let mut p = ip_packet(false, 7, 0, 0, false);
        let kws = [
            Match::Ttl(NumCmp::Eq(64)),
            Match::Id(7),
            Match::FragOffset(NumCmp::Eq(0)),
            Match::IpProto(IpProtoMatch::Eq(17)),
            Match::SameIp,
        ];
        assert!(kws.iter().all(|m| matches(m, &p)));
        p.pseudo = true;
        let on_pseudo: Vec<bool> = kws.iter().map(|m| matches(m, &p)).collect();
        assert_eq!(on_pseudo, [false, false, false, true, true]);
    }
}
