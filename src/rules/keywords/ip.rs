//! IP header keywords: ttl ipopts ip_proto sameip fragbits id tos fragoffset.

use crate::decode::packet::ipopt;
use crate::rules::ast::{FlagsMode, FragBitsMatch, IpProtoMatch, Match, NumCmp};
use crate::rules::cnum::{is_space, parse_u16, parse_u8, show};
use crate::rules::parse::{need, Ctx, Skip};

use super::payload::parse_uint;

pub(crate) fn ttl(ctx: &mut Ctx<'_>, v: Option<&[u8]>) -> Result<(), Skip> {
    let v = need(v, "ttl")?;
    let t = parse_uint::<u8>(v)
        .ok_or_else(|| Skip::kw("ttl", format!("invalid value '{}'", show(v))))?;
    ctx.require_packet = true;
    ctx.matches.push(Match::Ttl(t));
    Ok(())
}

/// `id`: Suricata's regex `^\s*([0-9]{1,5}|"[0-9]{1,5}")\s*$`, a 16-bit value. (Its
/// quoted form never gets here: the option parsing refuses quotes on `id`, as Suricata's.)
pub(crate) fn id(ctx: &mut Ctx<'_>, v: Option<&[u8]>) -> Result<(), Skip> {
    let v = need(v, "id")?;
    let bad = || Skip::kw("id", format!("invalid id option '{}'", show(v)));
    let digits = v.trim_ascii();
    if digits.is_empty() || digits.len() > 5 || !digits.iter().all(u8::is_ascii_digit) {
        return Err(bad());
    }
    let id = parse_u16(digits, 10).ok_or_else(bad)?;
    ctx.require_packet = true;
    ctx.matches.push(Match::Id(id));
    Ok(())
}

/// `tos`: `[!]` (taken off as the negation) then Suricata's regex
/// `^\s*(!?\s*[0-9]{1,3}|!?\s*[xX][0-9a-fA-F]{1,2})\s*$`: decimal, or hexadecimal after
/// `x` (not `0x`), 0 to 255. A second `!` matches the regex but fails the number parse.
pub(crate) fn tos(ctx: &mut Ctx<'_>, v: Option<&[u8]>) -> Result<(), Skip> {
    let v = need(v, "tos")?;
    let bad = || {
        Skip::kw(
            "tos",
            format!(
                "invalid tos option - {}. The tos option value must be in the range 0 - 255",
                show(v)
            ),
        )
    };
    let value = match v.trim_ascii() {
        [b'x' | b'X', hex @ ..]
            if (1..=2).contains(&hex.len()) && hex.iter().all(u8::is_ascii_hexdigit) =>
        {
            parse_u8(hex, 16)
        }
        dec if (1..=3).contains(&dec.len()) && dec.iter().all(u8::is_ascii_digit) => {
            parse_u8(dec, 10)
        }
        _ => None,
    }
    .ok_or_else(bad)?;
    ctx.require_packet = true;
    ctx.matches.push(Match::Tos {
        value,
        negated: ctx.negated,
    });
    Ok(())
}

/// `fragoffset`: Suricata's regex `^\s*(?:(<|>))?\s*([0-9]+)` (the end is not anchored),
/// the number a 16-bit value. No negation: `!` does not parse.
pub(crate) fn fragoffset(ctx: &mut Ctx<'_>, v: Option<&[u8]>) -> Result<(), Skip> {
    let v = need(v, "fragoffset")?;
    let bad = || Skip::kw("fragoffset", format!("invalid value '{}'", show(v)));
    let mut rest = v.trim_ascii_start();
    let mode = match rest.first() {
        Some(b'<') => Some(b'<'),
        Some(b'>') => Some(b'>'),
        _ => None,
    };
    if mode.is_some() {
        rest = &rest[1..];
    }
    rest = rest.trim_ascii_start();
    let n = rest.iter().take_while(|c| c.is_ascii_digit()).count();
    if n == 0 {
        return Err(bad());
    }
    let off = parse_u16(&rest[..n], 10).ok_or_else(bad)?;
    ctx.require_packet = true;
    ctx.matches.push(Match::FragOffset(match mode {
        Some(b'<') => NumCmp::Lt(off),
        Some(_) => NumCmp::Gt(off),
        None => NumCmp::Eq(off),
    }));
    Ok(())
}

/// `ipopts`: one option name (case-insensitive) or `any`.
pub(crate) fn ipopts(ctx: &mut Ctx<'_>, v: Option<&[u8]>) -> Result<(), Skip> {
    let v = need(v, "ipopts")?;
    const NAMES: &[(&str, u16)] = &[
        ("rr", ipopt::RR),
        ("lsrr", ipopt::LSRR),
        ("eol", ipopt::EOL),
        ("nop", ipopt::NOP),
        ("ts", ipopt::TS),
        ("sec", ipopt::SEC),
        ("esec", ipopt::ESEC),
        ("ssrr", ipopt::SSRR),
        ("satid", ipopt::SATID),
        ("any", ipopt::ANY),
    ];
    // the regex "\S[A-z]" must match somewhere first
    let re_ok = v
        .windows(2)
        .any(|w| !is_space(w[0]) && (b'A'..=b'z').contains(&w[1]));
    let bit = NAMES
        .iter()
        .find(|(n, _)| v.eq_ignore_ascii_case(n.as_bytes()))
        .map(|&(_, b)| b)
        .filter(|_| re_ok)
        .ok_or_else(|| {
            Skip::kw(
                "ipopts",
                format!("unknown IP option specified \"{}\"", show(v)),
            )
        })?;
    ctx.require_packet = true;
    ctx.matches.push(Match::IpOpts(bit));
    Ok(())
}

pub(crate) fn sameip(ctx: &mut Ctx<'_>, _v: Option<&[u8]>) -> Result<(), Skip> {
    ctx.require_packet = true;
    ctx.matches.push(Match::SameIp);
    Ok(())
}

/// `fragbits`: regex `^(?:([\+\*!]))?\s*([MDR]+)` (the end is not anchored).
pub(crate) fn fragbits(ctx: &mut Ctx<'_>, v: Option<&[u8]>) -> Result<(), Skip> {
    let v = need(v, "fragbits")?;
    let bad = || Skip::kw("fragbits", format!("invalid value '{}'", show(v)));
    let mut i = 0;
    let mut mode = FlagsMode::Exact;
    if let Some(&c) = v.first() {
        match c {
            b'+' => mode = FlagsMode::Plus,
            b'*' => mode = FlagsMode::Any,
            b'!' => mode = FlagsMode::Not,
            _ => {}
        }
        if mode != FlagsMode::Exact {
            i = 1;
        }
    }
    while i < v.len() && is_space(v[i]) {
        i += 1;
    }
    let mut bits = 0u8;
    let start = i;
    while i < v.len() {
        match v[i] {
            b'M' => bits |= 0x1,
            b'D' => bits |= 0x2,
            b'R' => bits |= 0x4,
            _ => break,
        }
        i += 1;
    }
    if i == start {
        return Err(bad());
    }
    ctx.require_packet = true;
    ctx.matches
        .push(Match::FragBits(FragBitsMatch { bits, mode }));
    Ok(())
}

/// Protocol names and aliases of Debian's /etc/protocols (what `SCGetProtoByName` reads);
/// case-sensitive.
const PROTO_NAMES: &[(&str, u8)] = &[
    ("ip", 0),
    ("IP", 0),
    ("hopopt", 0),
    ("HOPOPT", 0),
    ("icmp", 1),
    ("ICMP", 1),
    ("igmp", 2),
    ("IGMP", 2),
    ("ggp", 3),
    ("GGP", 3),
    ("ipencap", 4),
    ("IP-ENCAP", 4),
    ("st", 5),
    ("ST", 5),
    ("tcp", 6),
    ("TCP", 6),
    ("egp", 8),
    ("EGP", 8),
    ("igp", 9),
    ("IGP", 9),
    ("pup", 12),
    ("PUP", 12),
    ("udp", 17),
    ("UDP", 17),
    ("hmp", 20),
    ("HMP", 20),
    ("xns-idp", 22),
    ("XNS-IDP", 22),
    ("rdp", 27),
    ("RDP", 27),
    ("iso-tp4", 29),
    ("ISO-TP4", 29),
    ("dccp", 33),
    ("DCCP", 33),
    ("xtp", 36),
    ("XTP", 36),
    ("ddp", 37),
    ("DDP", 37),
    ("idpr-cmtp", 38),
    ("IDPR-CMTP", 38),
    ("ipv6", 41),
    ("IPv6", 41),
    ("ipv6-route", 43),
    ("IPv6-Route", 43),
    ("ipv6-frag", 44),
    ("IPv6-Frag", 44),
    ("idrp", 45),
    ("IDRP", 45),
    ("rsvp", 46),
    ("RSVP", 46),
    ("gre", 47),
    ("GRE", 47),
    ("esp", 50),
    ("IPSEC-ESP", 50),
    ("ah", 51),
    ("IPSEC-AH", 51),
    ("skip", 57),
    ("SKIP", 57),
    ("ipv6-icmp", 58),
    ("IPv6-ICMP", 58),
    ("ipv6-nonxt", 59),
    ("IPv6-NoNxt", 59),
    ("ipv6-opts", 60),
    ("IPv6-Opts", 60),
    ("rspf", 73),
    ("RSPF", 73),
    ("CPHB", 73),
    ("vmtp", 81),
    ("VMTP", 81),
    ("eigrp", 88),
    ("EIGRP", 88),
    ("ospf", 89),
    ("OSPFIGP", 89),
    ("ax.25", 93),
    ("AX.25", 93),
    ("ipip", 94),
    ("IPIP", 94),
    ("etherip", 97),
    ("ETHERIP", 97),
    ("encap", 98),
    ("ENCAP", 98),
    ("pim", 103),
    ("PIM", 103),
    ("ipcomp", 108),
    ("IPCOMP", 108),
    ("vrrp", 112),
    ("VRRP", 112),
    ("l2tp", 115),
    ("L2TP", 115),
    ("isis", 124),
    ("ISIS", 124),
    ("sctp", 132),
    ("SCTP", 132),
    ("fc", 133),
    ("FC", 133),
    ("mobility-header", 135),
    ("Mobility-Header", 135),
    ("udplite", 136),
    ("UDPLite", 136),
    ("mpls-in-ip", 137),
    ("MPLS-in-IP", 137),
    ("manet", 138),
    ("hip", 139),
    ("HIP", 139),
    ("shim6", 140),
    ("Shim6", 140),
    ("wesp", 141),
    ("WESP", 141),
    ("rohc", 142),
    ("ROHC", 142),
    ("ethernet", 143),
    ("Ethernet", 143),
];

/// `ip_proto:[!<>]proto`; only with `alert ip|ipv4|ipv6`. Several `ip_proto` are ANDed;
/// the combinations Suricata refuses are refused.
pub(crate) fn ip_proto(ctx: &mut Ctx<'_>, v: Option<&[u8]>) -> Result<(), Skip> {
    let v = need(v, "ip_proto")?;
    let bad = || Skip::kw("ip_proto", format!("parse error '{}'", show(v)));
    // ^([!<>]?)\s*([^\s]+)$
    let (op, mut rest) = match v.first() {
        Some(&c @ (b'!' | b'<' | b'>')) => (c, &v[1..]),
        _ => (b'=', v),
    };
    while let Some((&c, r)) = rest.split_first() {
        if is_space(c) {
            rest = r;
        } else {
            break;
        }
    }
    if rest.is_empty() || rest.iter().any(|&c| is_space(c)) {
        return Err(bad());
    }
    let proto = if !rest[0].is_ascii_digit() {
        PROTO_NAMES
            .iter()
            .find(|(n, _)| n.as_bytes() == rest)
            .map(|&(_, p)| p)
            .ok_or_else(|| {
                Skip::kw(
                    "ip_proto",
                    format!("unknown protocol name \"{}\"", show(rest)),
                )
            })?
    } else {
        parse_u8(rest, 10).ok_or_else(|| {
            Skip::kw(
                "ip_proto",
                format!("malformed protocol number {}", show(rest)),
            )
        })?
    };
    if !ctx.proto_any {
        return Err(Skip::kw(
            "ip_proto",
            "ip_proto can only be used with 'alert ip' (or ipv4/ipv6)",
        ));
    }
    let has = |o: u8| ctx.ipproto_ops.contains(&o);
    let (eq, gt, lt, not) = (has(b'='), has(b'>'), has(b'<'), has(b'!'));
    let conflict = match op {
        b'=' => eq || gt || lt || not,
        b'>' => eq || gt,
        b'<' => eq || lt,
        _ => eq,
    };
    if conflict {
        return Err(Skip::kw(
            "ip_proto",
            "conflicting ip_proto operators in the same rule",
        ));
    }
    // gt/lt pairs must describe a non-empty range
    for &(o, p) in &ctx.ipproto_values {
        if (op == b'>' && o == b'<' && p <= proto) || (op == b'<' && o == b'>' && p >= proto) {
            return Err(Skip::kw(
                "ip_proto",
                "can't have both gt and lt ipprotos, with the lt being lower than gt value",
            ));
        }
    }
    ctx.ipproto_ops.push(op);
    ctx.ipproto_values.push((op, proto));
    ctx.require_packet = true;
    ctx.matches.push(Match::IpProto(match op {
        b'!' => IpProtoMatch::Ne(proto),
        b'<' => IpProtoMatch::Lt(proto),
        b'>' => IpProtoMatch::Gt(proto),
        _ => IpProtoMatch::Eq(proto),
    }));
    Ok(())
}
