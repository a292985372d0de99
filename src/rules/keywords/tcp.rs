//! TCP header keywords: flags (tcp.flags) window ack seq tcp.mss.

use crate::decode::packet::tcpflag;
use crate::rules::ast::{FlagsMode, Match, TcpFlagsMatch};
use crate::rules::cnum::{is_space, parse_u16, parse_u32, show};
use crate::rules::parse::{need, Ctx, Skip};

use super::payload::parse_uint;

fn flag_bit(c: u8, with_zero: bool) -> Option<u8> {
    Some(match c {
        b'S' => tcpflag::SYN,
        b'A' => tcpflag::ACK,
        b'F' => tcpflag::FIN,
        b'R' => tcpflag::RST,
        b'P' => tcpflag::PSH,
        b'U' => tcpflag::URG,
        b'1' | b'C' => tcpflag::CWR,
        b'2' | b'E' => tcpflag::ECE,
        b'0' if with_zero => 0,
        _ => return None,
    })
}

/// `flags:[!+*]FLAGS[,IGNORED]`, regex
/// `^\s*(?:([\+\*!]))?\s*([SAPRFU120CE\+\*!]+)(?:\s*,\s*([SAPRFU12CE]+))?\s*$`.
///
/// Match semantics (Suricata `FlagsMatch`, `p` = packet flags, `d` = `flags`, `m` = !ignore):
/// if `d == 0 && p != 0` → match only for `Not`; otherwise with `f = p & m`:
/// Any: `f & d != 0`; Plus: `f & d == d`; Not: `f & d != d`; Exact/None: `f == d`.
pub(crate) fn flags(ctx: &mut Ctx<'_>, v: Option<&[u8]>) -> Result<(), Skip> {
    let v = need(v, "flags")?;
    let bad = || Skip::kw("flags", format!("invalid value '{}'", show(v)));
    let mut i = 0;
    let ws = |i: &mut usize| {
        while *i < v.len() && is_space(v[*i]) {
            *i += 1;
        }
    };
    ws(&mut i);
    let mut modifier: Option<FlagsMode> = None;
    let m_of = |c: u8| match c {
        b'+' => Some(FlagsMode::Plus),
        b'*' => Some(FlagsMode::Any),
        b'!' => Some(FlagsMode::Not),
        _ => None,
    };
    // group 1 (optional), only if group 2 can still match after it
    if let Some(m) = v.get(i).and_then(|&c| m_of(c)) {
        let mut j = i + 1;
        ws(&mut j);
        if j < v.len() && (flag_bit(v[j], true).is_some() || m_of(v[j]).is_some()) {
            modifier = Some(m);
            i = j;
        }
    }
    let g2s = i;
    while i < v.len() && (flag_bit(v[i], true).is_some() || m_of(v[i]).is_some()) {
        i += 1;
    }
    let g2 = &v[g2s..i];
    if g2.is_empty() {
        return Err(bad());
    }
    let mut j = i;
    ws(&mut j);
    let mut g3: &[u8] = b"";
    if j < v.len() && v[j] == b',' {
        j += 1;
        ws(&mut j);
        let s = j;
        while j < v.len() && flag_bit(v[j], false).is_some() {
            j += 1;
        }
        g3 = &v[s..j];
        if g3.is_empty() {
            return Err(bad());
        }
    }
    ws(&mut j);
    if j != v.len() {
        return Err(bad());
    }
    let mut fl = 0u8;
    let mut found = 0;
    for &c in g2 {
        if let Some(m) = m_of(c) {
            if modifier.is_some() {
                return Err(Skip::kw(
                    "flags",
                    "\"flags\" supports only one modifier at a time",
                ));
            }
            modifier = Some(m);
        } else if c == b'0' {
            fl = 0;
            found += 1;
        } else if let Some(b) = flag_bit(c, false) {
            fl |= b;
            found += 1;
        }
    }
    if found == 0 {
        return Err(bad());
    }
    let mut ignore = 0u8;
    for &c in g3 {
        if let Some(b) = flag_bit(c, false) {
            ignore |= b;
        }
    }
    let mode = match modifier {
        Some(m) => m,
        None if fl == 0 => FlagsMode::None,
        None => FlagsMode::Exact,
    };
    ctx.require_packet = true;
    ctx.matches.push(Match::Flags(TcpFlagsMatch {
        flags: fl,
        ignore,
        mode,
    }));
    Ok(())
}

/// `window:[!]N`, regex `^\s*([!])?\s*([0-9]{1,9}+)\s*$`.
pub(crate) fn window(ctx: &mut Ctx<'_>, v: Option<&[u8]>) -> Result<(), Skip> {
    let v = need(v, "window")?;
    let bad = || Skip::kw("window", format!("invalid value '{}'", show(v)));
    let mut i = 0;
    while i < v.len() && is_space(v[i]) {
        i += 1;
    }
    let negated = v.get(i) == Some(&b'!');
    if negated {
        i += 1;
    }
    while i < v.len() && is_space(v[i]) {
        i += 1;
    }
    let s = i;
    while i < v.len() && v[i].is_ascii_digit() {
        i += 1;
    }
    let digits = &v[s..i];
    while i < v.len() && is_space(v[i]) {
        i += 1;
    }
    if digits.is_empty() || digits.len() > 9 || i != v.len() {
        return Err(bad());
    }
    let value = parse_u16(digits, 10).ok_or_else(bad)?;
    ctx.require_packet = true;
    ctx.matches.push(Match::Window { value, negated });
    Ok(())
}

pub(crate) fn ack(ctx: &mut Ctx<'_>, v: Option<&[u8]>) -> Result<(), Skip> {
    let v = need(v, "ack")?;
    let a =
        parse_u32(v, 10).ok_or_else(|| Skip::kw("ack", format!("invalid value '{}'", show(v))))?;
    ctx.require_packet = true;
    ctx.matches.push(Match::Ack(a));
    Ok(())
}

pub(crate) fn seq(ctx: &mut Ctx<'_>, v: Option<&[u8]>) -> Result<(), Skip> {
    let v = need(v, "seq")?;
    let a =
        parse_u32(v, 10).ok_or_else(|| Skip::kw("seq", format!("invalid value '{}'", show(v))))?;
    ctx.require_packet = true;
    ctx.matches.push(Match::Seq(a));
    Ok(())
}

pub(crate) fn mss(ctx: &mut Ctx<'_>, v: Option<&[u8]>) -> Result<(), Skip> {
    let v = need(v, "tcp.mss")?;
    let m = parse_uint::<u16>(v)
        .ok_or_else(|| Skip::kw("tcp.mss", format!("invalid value '{}'", show(v))))?;
    ctx.require_packet = true;
    ctx.matches.push(Match::TcpMss(m));
    Ok(())
}
