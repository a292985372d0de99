//! ICMP keywords: itype icode icmp_id icmp_seq.

use crate::rules::ast::Match;
use crate::rules::cnum::{is_space, parse_u16, show};
use crate::rules::parse::{need, Ctx, Skip};

use super::payload::parse_uint;

pub(crate) fn itype(ctx: &mut Ctx<'_>, v: Option<&[u8]>) -> Result<(), Skip> {
    let v = need(v, "itype")?;
    let t = parse_uint::<u8>(v)
        .ok_or_else(|| Skip::kw("itype", format!("invalid value '{}'", show(v))))?;
    ctx.require_packet = true;
    ctx.matches.push(Match::Itype(t));
    Ok(())
}

pub(crate) fn icode(ctx: &mut Ctx<'_>, v: Option<&[u8]>) -> Result<(), Skip> {
    let v = need(v, "icode")?;
    let t = parse_uint::<u8>(v)
        .ok_or_else(|| Skip::kw("icode", format!("invalid value '{}'", show(v))))?;
    ctx.require_packet = true;
    ctx.matches.push(Match::Icode(t));
    Ok(())
}

/// `^\s*("\s*)?([0-9]+)(\s*")?\s*$` then `StringParseUint16`.
fn id_value(v: &[u8], kw: &str) -> Result<u16, Skip> {
    let bad = || Skip::kw(kw, format!("parse error '{}'", show(v)));
    let mut i = 0;
    let ws = |i: &mut usize| {
        while *i < v.len() && is_space(v[*i]) {
            *i += 1;
        }
    };
    ws(&mut i);
    let open = v.get(i) == Some(&b'"');
    if open {
        i += 1;
        ws(&mut i);
    }
    let s = i;
    while i < v.len() && v[i].is_ascii_digit() {
        i += 1;
    }
    let digits = &v[s..i];
    ws(&mut i);
    let close = v.get(i) == Some(&b'"');
    if close {
        i += 1;
    }
    ws(&mut i);
    if digits.is_empty() || i != v.len() {
        return Err(bad());
    }
    if open != close {
        return Err(Skip::kw(kw, "missing quote in input"));
    }
    parse_u16(digits, 10)
        .ok_or_else(|| Skip::kw(kw, format!("value {} is not valid", show(digits))))
}

pub(crate) fn icmp_id(ctx: &mut Ctx<'_>, v: Option<&[u8]>) -> Result<(), Skip> {
    let id = id_value(need(v, "icmp_id")?, "icmp_id")?;
    ctx.require_packet = true;
    ctx.matches.push(Match::IcmpId(id));
    Ok(())
}

pub(crate) fn icmp_seq(ctx: &mut Ctx<'_>, v: Option<&[u8]>) -> Result<(), Skip> {
    let seq = id_value(need(v, "icmp_seq")?, "icmp_seq")?;
    // unlike icmp_id, icmp_seq does not force packet inspection in Suricata 7.0
    ctx.matches.push(Match::IcmpSeq(seq));
    Ok(())
}
