//! Non-detection keywords: msg sid rev gid classtype priority metadata reference target.

use crate::rules::ast::Target;
use crate::rules::cnum::{is_blank, is_space, show, strtoll, strtoull, trim_space};
use crate::rules::parse::{need, Ctx, Skip};

/// `msg`: Snort-style unescaping — a backslash is dropped before any character.
pub(crate) fn msg(ctx: &mut Ctx<'_>, v: Option<&[u8]>) -> Result<(), Skip> {
    let v = need(v, "msg")?;
    let mut out = Vec::with_capacity(v.len());
    let mut escape = false;
    let mut converted = false;
    for &c in v {
        if !escape && c == b'\\' {
            escape = true;
        } else {
            if escape {
                escape = false;
                converted = true;
            }
            out.push(c);
        }
    }
    // without any completed escape Suricata keeps the text untouched (a trailing '\' stays)
    let text = if converted { out } else { v.to_vec() };
    if ctx.msg_set {
        return Err(Skip::kw("msg", "duplicated 'msg' keyword"));
    }
    ctx.msg_set = true;
    ctx.meta.msg = String::from_utf8_lossy(&text).into_owned();
    Ok(())
}

/// `strtoul`-based parsing shared by sid, rev and gid (7.0's detect-sid.c & co).
fn parse_ul(v: &[u8], kw: &str) -> Result<u64, Skip> {
    let r = strtoull(v, 10);
    if r.consumed != v.len() {
        return Err(Skip::kw(kw, format!("invalid character in '{}'", show(v))));
    }
    if r.range_error || r.value >= u32::MAX as u64 {
        return Err(Skip::kw(
            kw,
            format!("value '{}' too high, max {}", show(v), u32::MAX),
        ));
    }
    Ok(r.value)
}

/// `sid` (parsed in the first pass).
pub(crate) fn parse_sid(v: &[u8], prev: Option<u32>) -> Result<u32, Skip> {
    let id = parse_ul(v, "sid")?;
    if id == 0 {
        return Err(Skip::kw("sid", "sid value 0 is invalid"));
    }
    if prev.is_some() {
        return Err(Skip::kw("sid", "duplicated 'sid' keyword"));
    }
    Ok(id as u32)
}

pub(crate) fn rev(ctx: &mut Ctx<'_>, v: Option<&[u8]>) -> Result<(), Skip> {
    let r = parse_ul(need(v, "rev")?, "rev")?;
    if r == 0 {
        return Err(Skip::kw("rev", "rev value 0 is invalid"));
    }
    if ctx.rev_set {
        return Err(Skip::kw("rev", "duplicated 'rev' keyword"));
    }
    ctx.rev_set = true;
    ctx.meta.rev = r as u32;
    Ok(())
}

/// `gid`: may repeat, the last one wins; 0 is accepted.
pub(crate) fn gid(ctx: &mut Ctx<'_>, v: Option<&[u8]>) -> Result<(), Skip> {
    ctx.meta.gid = parse_ul(need(v, "gid")?, "gid")? as u32;
    Ok(())
}

/// Priority of an unknown classtype (`DETECT_DEFAULT_PRIO`).
const DEFAULT_PRIO: i64 = 3;

/// `classtype`: `[A-Za-z][A-Za-z0-9_-]{0,62}`; a repeated classtype keeps the one with the highest
/// priority (lowest number), as Suricata 7.0.10 does. Stored lower-cased.
pub(crate) fn classtype(ctx: &mut Ctx<'_>, v: Option<&[u8]>) -> Result<(), Skip> {
    let v = trim_space(need(v, "classtype")?);
    if v.len() > 63 {
        return Err(Skip::kw("classtype", "classtype name too long (max 63)"));
    }
    if v.is_empty()
        || !v[0].is_ascii_alphabetic()
        || !v
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
    {
        return Err(Skip::kw(
            "classtype",
            format!("invalid classtype name \"{}\"", show(v)),
        ));
    }
    let name = show(v).to_ascii_lowercase();
    let prio = ctx
        .classifications
        .and_then(|c| c.get(&name))
        .map(|c| c.priority as i64)
        .unwrap_or(DEFAULT_PRIO);
    match ctx.class_priority {
        Some(old) if prio >= old => {}
        _ => {
            ctx.class_priority = Some(prio);
            ctx.meta.classtype = Some(name);
        }
    }
    Ok(())
}

/// `priority`: `^\s*(\d+|"\d+")\s*$` read with C `atoi` (so 4294967295 is -1, which means
/// "default"); repeated → the highest priority (lowest number).
pub(crate) fn priority(ctx: &mut Ctx<'_>, v: Option<&[u8]>) -> Result<(), Skip> {
    let v = trim_space(need(v, "priority")?);
    let digits = if v.len() >= 2 && v[0] == b'"' && v[v.len() - 1] == b'"' {
        &v[1..v.len() - 1]
    } else {
        v
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(Skip::kw(
            "priority",
            format!("invalid priority '{}'", show(v)),
        ));
    }
    let p = strtoll(digits, 10).value as i32;
    ctx.explicit_priority = Some(match ctx.explicit_priority {
        Some(old) => old.min(p),
        None => p,
    });
    Ok(())
}

/// `metadata`: comma-separated `key value` pairs; items without a value are ignored.
/// Leading blanks of key and value are removed, trailing ones kept (as Suricata does).
pub(crate) fn metadata(ctx: &mut Ctx<'_>, v: Option<&[u8]>) -> Result<(), Skip> {
    let v = need(v, "metadata")?;
    for item in v.split(|&c| c == b',') {
        let mut key = item;
        while let Some((&c, rest)) = key.split_first() {
            if is_blank(c) {
                key = rest;
            } else {
                break;
            }
        }
        let Some(sp) = key.iter().position(|&c| c == b' ') else {
            continue;
        };
        let (k, mut val) = (&key[..sp], &key[sp + 1..]);
        while let Some((&c, rest)) = val.split_first() {
            if is_blank(c) {
                val = rest;
            } else {
                break;
            }
        }
        if k.is_empty() || val.is_empty() {
            continue;
        }
        ctx.meta.metadata.push((show(k), show(val)));
    }
    Ok(())
}

/// `reference`: `^\s*([A-Za-z0-9]+)\s*,"?\s*"?\s*([a-zA-Z0-9\-_\.\/\?\=]+)` (rest ignored).
pub(crate) fn reference(ctx: &mut Ctx<'_>, v: Option<&[u8]>) -> Result<(), Skip> {
    let v = need(v, "reference")?;
    let bad = || Skip::kw("reference", format!("unable to parse \"{}\"", show(v)));
    let mut i = 0;
    let skip_ws = |i: &mut usize| {
        while *i < v.len() && is_space(v[*i]) {
            *i += 1;
        }
    };
    skip_ws(&mut i);
    let ks = i;
    while i < v.len() && v[i].is_ascii_alphanumeric() {
        i += 1;
    }
    let key = &v[ks..i];
    if key.is_empty() {
        return Err(bad());
    }
    skip_ws(&mut i);
    if i >= v.len() || v[i] != b',' {
        return Err(bad());
    }
    i += 1;
    if i < v.len() && v[i] == b'"' {
        i += 1;
    }
    skip_ws(&mut i);
    if i < v.len() && v[i] == b'"' {
        i += 1;
    }
    skip_ws(&mut i);
    let cs = i;
    while i < v.len() && (v[i].is_ascii_alphanumeric() || b"-_./?=".contains(&v[i])) {
        i += 1;
    }
    let content = &v[cs..i];
    if content.is_empty() || key.len() >= 64 || content.len() >= 1024 {
        return Err(bad());
    }
    // an unknown system is added to the reference table as "config reference: KEY undefined",
    // which only parses when KEY starts with a letter (no shipped system starts with a digit)
    if key[0].is_ascii_digit() {
        return Err(Skip::kw(
            "reference",
            format!("invalid reference system '{}'", show(key)),
        ));
    }
    ctx.meta.references.push((show(key), show(content)));
    Ok(())
}

/// `target:src_ip|dest_ip`.
pub(crate) fn target(ctx: &mut Ctx<'_>, v: Option<&[u8]>) -> Result<(), Skip> {
    let v = trim_space(need(v, "target")?);
    let t = match v {
        b"src_ip" => Target::Src,
        b"dest_ip" => Target::Dst,
        _ => return Err(Skip::kw("target", format!("invalid value '{}'", show(v)))),
    };
    if ctx.target_set && ctx.meta.target != Some(t) {
        return Err(Skip::kw("target", "conflicting values of target keyword"));
    }
    ctx.target_set = true;
    ctx.meta.target = Some(t);
    Ok(())
}
