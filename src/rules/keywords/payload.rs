//! Payload keywords: content and its modifiers (nocase depth offset distance within
//! startswith endswith fast_pattern rawbytes), isdataat, dsize, pkt_data.

use crate::rules::ast::{Content, FastPattern, Match, NumCmp};
use crate::rules::cnum::{
    byte_extract_string_signed, is_space, parse_u16, parse_u16_range, show, string_parse_u,
};
use crate::rules::parse::{need, Ctx, Skip};

/// Suricata's `DETECT_CONTENT_VALUE_MAX` for distance/within.
const CONTENT_VALUE_MAX: i32 = 1024 * 1024;

/// `DetectContentDataParse`: `|hex|` blocks (spaces and commas ignored inside) and `\`
/// escapes (`\: \; \\ \"` only). As in Suricata, `|` always toggles hex mode, even after
/// a pending backslash, and a backslash inside a hex block stays pending.
pub(crate) fn decode_content(s: &[u8]) -> Result<Vec<u8>, String> {
    let mut out: Vec<u8> = Vec::with_capacity(s.len());
    let mut bin = false;
    let mut escape = false;
    let mut binstr = [0u8; 2];
    let mut binpos = 0usize;
    let mut bin_count = 0usize;
    let mut converted = false;
    for &c in s {
        if c == b'|' {
            bin_count += 1;
            if bin {
                if binpos > 0 {
                    return Err("incomplete hex code in content".into());
                }
                bin = false;
            } else {
                bin = true;
            }
        } else if !escape && c == b'\\' {
            escape = true;
        } else if bin {
            if c.is_ascii_hexdigit() {
                binstr[binpos] = c;
                binpos += 1;
                if binpos == 2 {
                    let hi = (binstr[0] as char).to_digit(16).unwrap_or(0) as u8;
                    let lo = (binstr[1] as char).to_digit(16).unwrap_or(0) as u8;
                    out.push((hi << 4) | lo);
                    binpos = 0;
                    converted = true;
                }
            } else if c != b' ' && c != b',' {
                return Err(format!(
                    "invalid hex code in content, character '{}'",
                    c as char
                ));
            }
        } else if escape {
            if matches!(c, b':' | b';' | b'\\' | b'"') {
                out.push(c);
            } else {
                return Err(format!(
                    "'\\{}' is not a valid escape in content",
                    c as char
                ));
            }
            escape = false;
            converted = true;
        } else if c == b'"' {
            return Err("invalid unescaped double quote within content".into());
        } else {
            out.push(c);
        }
    }
    if bin_count % 2 != 0 {
        return Err("invalid hex code assembly in content (unbalanced '|')".into());
    }
    if !converted {
        // nothing was decoded: Suricata keeps the string as written (e.g. "||", "abc\")
        return Ok(s.to_vec());
    }
    Ok(out)
}

pub(crate) fn content(ctx: &mut Ctx<'_>, v: Option<&[u8]>) -> Result<(), Skip> {
    let v = need(v, "content")?;
    let pattern = decode_content(v).map_err(|e| Skip::kw("content", e))?;
    if pattern.is_empty() {
        return Err(Skip::kw("content", "empty content"));
    }
    let c = Content {
        pattern,
        negated: ctx.negated,
        ..Content::default()
    };
    ctx.matches.push(Match::Content(c));
    ctx.last_content = Some(ctx.matches.len() - 1);
    Ok(())
}

fn last<'c>(ctx: &'c mut Ctx<'_>, kw: &str) -> Result<&'c mut Content, Skip> {
    ctx.last_content_mut()
        .ok_or_else(|| Skip::kw(kw, format!("{kw} needs a preceding content option")))
}

fn has_depth(c: &Content) -> bool {
    c.depth.is_some() || c.startswith
}

fn is_fp_only(c: &Content) -> bool {
    c.fast_pattern.is_some_and(|f| f.only)
}

/// The checks depth/offset/distance/within share.
fn check_negated_fp(c: &Content, kw: &str) -> Result<(), Skip> {
    if c.negated && c.fast_pattern.is_some() {
        return Err(Skip::kw(
            kw,
            "can't have a relative negated keyword set along with 'fast_pattern'",
        ));
    }
    if is_fp_only(c) {
        return Err(Skip::kw(
            kw,
            "can't have a relative keyword set along with 'fast_pattern:only;'",
        ));
    }
    Ok(())
}

const MIX: &str = "can't use a relative keyword like within/distance with an absolute keyword like depth/offset for the same content";

pub(crate) fn nocase(ctx: &mut Ctx<'_>, _v: Option<&[u8]>) -> Result<(), Skip> {
    let c = last(ctx, "nocase")?;
    if c.nocase {
        return Err(Skip::kw(
            "nocase",
            "can't use multiple nocase modifiers with the same content",
        ));
    }
    c.nocase = true;
    Ok(())
}

pub(crate) fn rawbytes(ctx: &mut Ctx<'_>, _v: Option<&[u8]>) -> Result<(), Skip> {
    let c = last(ctx, "rawbytes")?;
    if c.rawbytes {
        return Err(Skip::kw(
            "rawbytes",
            "can't use multiple rawbytes modifiers for the same content",
        ));
    }
    c.rawbytes = true;
    Ok(())
}

pub(crate) fn depth(ctx: &mut Ctx<'_>, v: Option<&[u8]>) -> Result<(), Skip> {
    let v = need(v, "depth")?;
    let var = super::byte::content_var(ctx, "depth", v);
    let c = last(ctx, "depth")?;
    if has_depth(c) {
        return Err(Skip::kw(
            "depth",
            "can't use multiple depths for the same content",
        ));
    }
    if c.is_relative() {
        return Err(Skip::kw("depth", MIX));
    }
    check_negated_fp(c, "depth")?;
    if let Some(i) = var? {
        c.depth = Some(u32::from(i));
        c.vars.depth = Some(i);
        return Ok(());
    }
    let d = parse_u16_range(v, 0, 0, u16::MAX)
        .ok_or_else(|| Skip::kw("depth", format!("invalid value for depth: {}", show(v))))?;
    if (d as usize) < c.pattern.len() {
        return Err(Skip::kw(
            "depth",
            format!("depth {d} smaller than pattern length {}", c.pattern.len()),
        ));
    }
    c.depth = Some(d as u32);
    Ok(())
}

pub(crate) fn offset(ctx: &mut Ctx<'_>, v: Option<&[u8]>) -> Result<(), Skip> {
    let v = need(v, "offset")?;
    let var = super::byte::content_var(ctx, "offset", v);
    let c = last(ctx, "offset")?;
    if c.startswith {
        return Err(Skip::kw("offset", "can't use offset with startswith"));
    }
    if c.offset.is_some() {
        return Err(Skip::kw(
            "offset",
            "can't use multiple offsets for the same content",
        ));
    }
    if c.is_relative() {
        return Err(Skip::kw("offset", MIX));
    }
    check_negated_fp(c, "offset")?;
    if let Some(i) = var? {
        c.offset = Some(u32::from(i));
        c.vars.offset = Some(i);
        return Ok(());
    }
    let o = parse_u16(v, 0)
        .ok_or_else(|| Skip::kw("offset", format!("invalid value for offset: {}", show(v))))?;
    c.offset = Some(o as u32);
    Ok(())
}

pub(crate) fn distance(ctx: &mut Ctx<'_>, v: Option<&[u8]>) -> Result<(), Skip> {
    let v = need(v, "distance")?;
    let var = super::byte::content_var(ctx, "distance", v);
    let c = last(ctx, "distance")?;
    if c.distance.is_some() {
        return Err(Skip::kw(
            "distance",
            "can't use multiple distances for the same content",
        ));
    }
    if has_depth(c) || c.offset.is_some() {
        return Err(Skip::kw("distance", MIX));
    }
    check_negated_fp(c, "distance")?;
    if let Some(i) = var? {
        c.distance = Some(i32::from(i));
        c.vars.distance = Some(i);
        return check_prev_fp_only(ctx, "distance");
    }
    let d = parse_i32_lenient(v, -CONTENT_VALUE_MAX, CONTENT_VALUE_MAX).ok_or_else(|| {
        Skip::kw(
            "distance",
            format!("invalid value for distance: {}", show(v)),
        )
    })?;
    c.distance = Some(d);
    check_prev_fp_only(ctx, "distance")
}

pub(crate) fn within(ctx: &mut Ctx<'_>, v: Option<&[u8]>) -> Result<(), Skip> {
    let v = need(v, "within")?;
    let var = super::byte::content_var(ctx, "within", v);
    let c = last(ctx, "within")?;
    if c.within.is_some() {
        return Err(Skip::kw(
            "within",
            "can't use multiple withins for the same content",
        ));
    }
    if has_depth(c) || c.offset.is_some() {
        return Err(Skip::kw("within", MIX));
    }
    check_negated_fp(c, "within")?;
    if let Some(i) = var? {
        c.within = Some(u32::from(i));
        c.vars.within = Some(i);
        return check_prev_fp_only(ctx, "within");
    }
    let w = parse_i32_lenient(v, -CONTENT_VALUE_MAX, CONTENT_VALUE_MAX)
        .ok_or_else(|| Skip::kw("within", format!("invalid value for within: {}", show(v))))?;
    if (w as i64) < c.pattern.len() as i64 {
        return Err(Skip::kw(
            "within",
            format!(
                "within {w} is less than the pattern length {}",
                c.pattern.len()
            ),
        ));
    }
    c.within = Some(w as u32);
    check_prev_fp_only(ctx, "within")
}

/// distance/within use a non-strict parse (`"5x"` is 5) with a range check.
fn parse_i32_lenient(v: &[u8], min: i32, max: i32) -> Option<i32> {
    let n = byte_extract_string_signed(v, 0, 0, false)?;
    if n < min as i64 || n > max as i64 {
        return None;
    }
    Some(n as i32)
}

/// A content may not be relative to a `fast_pattern:only` content.
fn check_prev_fp_only(ctx: &Ctx<'_>, kw: &str) -> Result<(), Skip> {
    let Some(i) = ctx.last_content else {
        return Ok(());
    };
    let prev = ctx.matches[..i].iter().rev().find_map(|m| match m {
        Match::Content(c) => Some(c),
        _ => None,
    });
    if prev.is_some_and(is_fp_only) {
        return Err(Skip::kw(
            kw,
            "previous content has fast_pattern:only; relative keywords around it are not allowed",
        ));
    }
    Ok(())
}

pub(crate) fn startswith(ctx: &mut Ctx<'_>, _v: Option<&[u8]>) -> Result<(), Skip> {
    let c = last(ctx, "startswith")?;
    if has_depth(c) {
        return Err(Skip::kw(
            "startswith",
            "can't use multiple depth/startswith settings for the same content",
        ));
    }
    if c.is_relative() {
        return Err(Skip::kw("startswith", MIX));
    }
    check_negated_fp(c, "startswith")?;
    if c.offset.is_some() {
        return Err(Skip::kw("startswith", "can't mix offset with startswith"));
    }
    c.startswith = true;
    Ok(())
}

pub(crate) fn endswith(ctx: &mut Ctx<'_>, _v: Option<&[u8]>) -> Result<(), Skip> {
    last(ctx, "endswith")?.endswith = true;
    Ok(())
}

/// `fast_pattern`, `fast_pattern:only`, `fast_pattern:offset,length`.
pub(crate) fn fast_pattern(ctx: &mut Ctx<'_>, v: Option<&[u8]>) -> Result<(), Skip> {
    let any_fp = ctx
        .matches
        .iter()
        .any(|m| matches!(m, Match::Content(c) if c.fast_pattern.is_some()));
    let c = ctx.last_content_mut().ok_or_else(|| {
        Skip::kw(
            "fast_pattern",
            "fast_pattern found inside the rule, without a content context",
        )
    })?;
    let relative_mods = c.is_relative() || c.offset.is_some() || has_depth(c);
    if c.negated && relative_mods {
        return Err(Skip::kw(
            "fast_pattern",
            "fast_pattern cannot be used with negated content, along with relative modifiers",
        ));
    }
    let Some(v) = v else {
        if c.fast_pattern.is_some() {
            return Err(Skip::kw(
                "fast_pattern",
                "can't use multiple fast_pattern options for the same content",
            ));
        }
        if any_fp {
            return Err(Skip::kw(
                "fast_pattern",
                "fast_pattern can be used on only one content in a rule",
            ));
        }
        c.fast_pattern = Some(FastPattern::default());
        return Ok(());
    };
    // ^(\s*only\s*)|\s*([0-9]+)\s*,\s*([0-9]+)\s*$
    let mut i = 0;
    while i < v.len() && is_space(v[i]) {
        i += 1;
    }
    if v[i..].starts_with(b"only") {
        if c.negated || relative_mods {
            return Err(Skip::kw(
                "fast_pattern",
                "fast_pattern:only cannot be used with negated content or with any of the relative modifiers like distance, within, offset, depth",
            ));
        }
        let prev_chop = c.fast_pattern.and_then(|f| f.chop);
        c.fast_pattern = Some(FastPattern {
            only: true,
            chop: prev_chop,
        });
        return Ok(());
    }
    let bad = || Skip::kw("fast_pattern", format!("parse error '{}'", show(v)));
    let mut e = v.len();
    while e > 0 && is_space(v[e - 1]) {
        e -= 1;
    }
    let l_end = e;
    while e > 0 && v[e - 1].is_ascii_digit() {
        e -= 1;
    }
    let len_s = &v[e..l_end];
    while e > 0 && is_space(v[e - 1]) {
        e -= 1;
    }
    if len_s.is_empty() || e == 0 || v[e - 1] != b',' {
        return Err(bad());
    }
    e -= 1;
    while e > 0 && is_space(v[e - 1]) {
        e -= 1;
    }
    let o_end = e;
    while e > 0 && v[e - 1].is_ascii_digit() {
        e -= 1;
    }
    let off_s = &v[e..o_end];
    if off_s.is_empty() {
        return Err(bad());
    }
    let off = string_parse_u(off_s, 10, 0, u16::MAX as u64).ok_or_else(|| {
        Skip::kw(
            "fast_pattern",
            format!("invalid fast pattern offset \"{}\"", show(off_s)),
        )
    })?;
    let len = string_parse_u(len_s, 10, 0, u16::MAX as u64).ok_or_else(|| {
        Skip::kw(
            "fast_pattern",
            format!("invalid fast pattern length \"{}\"", show(len_s)),
        )
    })?;
    if off > 65535 - len {
        return Err(Skip::kw(
            "fast_pattern",
            "fast pattern (length + offset) exceeds limit pattern length limit",
        ));
    }
    if (off + len) as usize > c.pattern.len() {
        return Err(Skip::kw(
            "fast_pattern",
            format!(
                "fast pattern (length + offset ({})) exceeds pattern length ({})",
                off + len,
                c.pattern.len()
            ),
        ));
    }
    let only = c.fast_pattern.is_some_and(|f| f.only);
    c.fast_pattern = Some(FastPattern {
        only,
        chop: Some((off as u16, len as u16)),
    });
    Ok(())
}

/// `isdataat:[!]N[,relative][,rawbytes]` — regex
/// `^\s*!?([^\s,]+)\s*(,\s*relative)?\s*(,\s*rawbytes\s*)?\s*$`.
pub(crate) fn isdataat(ctx: &mut Ctx<'_>, v: Option<&[u8]>) -> Result<(), Skip> {
    let v = need(v, "isdataat")?;
    let bad = || Skip::kw("isdataat", format!("parse error '{}'", show(v)));
    let mut i = 0;
    let ws = |i: &mut usize| {
        while *i < v.len() && is_space(v[*i]) {
            *i += 1;
        }
    };
    ws(&mut i);
    let negated = i < v.len() && v[i] == b'!';
    if negated {
        i += 1;
    }
    let ns = i;
    while i < v.len() && !is_space(v[i]) && v[i] != b',' {
        i += 1;
    }
    let num = &v[ns..i];
    if num.is_empty() {
        return Err(bad());
    }
    ws(&mut i);
    let mut relative = false;
    let save = i;
    if i < v.len() && v[i] == b',' {
        let mut j = i + 1;
        ws(&mut j);
        if v[j..].starts_with(b"relative") {
            relative = true;
            i = j + 8;
        } else {
            i = save;
        }
    }
    ws(&mut i);
    let mut raw = false;
    if i < v.len() && v[i] == b',' {
        let mut j = i + 1;
        ws(&mut j);
        if v[j..].starts_with(b"rawbytes") {
            raw = true;
            i = j + 8;
            ws(&mut i);
        }
    }
    ws(&mut i);
    if i != v.len() {
        return Err(bad());
    }
    if raw && !relative {
        return Err(Skip::kw("isdataat", "rawbytes without relative"));
    }
    if let Some(i) = super::byte::content_var(ctx, "isdataat", num)? {
        ctx.matches.push(Match::IsDataAt {
            n: u32::from(i),
            relative,
            negated,
            var: true,
        });
        return Ok(());
    }
    let n = string_parse_u(num, 10, num.len(), u16::MAX as u64)
        .ok_or_else(|| Skip::kw("isdataat", format!("isdataat out of range '{}'", show(num))))?;
    // `isdataat:!1,relative` right after a content is turned into `endswith`
    if relative && negated && n == 1 {
        let prev = ctx.matches.iter().rposition(is_payload_match);
        if let Some(p) = prev {
            if let Match::Content(c) = &mut ctx.matches[p] {
                c.endswith = true;
                return Ok(());
            }
        }
    }
    ctx.matches.push(Match::IsDataAt {
        n: n as u32,
        relative,
        negated,
        var: false,
    });
    Ok(())
}

/// Suricata 7.0's generic unsigned comparison parser (`rust/src/detect/uint.rs`):
/// `N`, `=N`, `!N`, `!=N`, `<N`, `<=N`, `>N`, `>=N`, `N-M`, `N<>M` (M − N > 1).
pub(crate) fn parse_uint<T>(v: &[u8]) -> Option<NumCmp<T>>
where
    T: Copy + TryFrom<u64> + Into<u64>,
{
    let max: u64 = {
        // the largest value of T
        let mut m: u64 = u64::MAX;
        while T::try_from(m).is_err() {
            m >>= 1;
        }
        m
    };
    let sp = |s: &[u8]| -> usize { s.iter().take_while(|&&c| c == b' ').count() };
    let num = |s: &[u8]| -> Option<(u64, usize)> {
        let n = s.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        let val: u64 = std::str::from_utf8(&s[..n]).ok()?.parse().ok()?;
        if val > max {
            return None;
        }
        Some((val, n))
    };
    let t = |x: u64| T::try_from(x).ok();
    let end_ok = |s: &[u8]| s.iter().all(|&c| c == b' ');
    let mut i = sp(v);
    let s = &v[i..];
    // interval
    if let Some((a, n)) = num(s) {
        let mut j = n;
        j += sp(&s[j..]);
        let op = if s[j..].starts_with(b"-") {
            Some(1)
        } else if s[j..].starts_with(b"<>") {
            Some(2)
        } else {
            None
        };
        if let Some(ol) = op {
            j += ol;
            j += sp(&s[j..]);
            if let Some((b, m)) = num(&s[j..]) {
                if b > a && b - a > 1 && end_ok(&s[j + m..]) {
                    return Some(NumCmp::Range(t(a)?, t(b)?));
                }
            }
        }
    }
    // equal
    {
        let mut j = 0;
        if s.first() == Some(&b'=') {
            j = 1;
        }
        j += sp(&s[j..]);
        if let Some((a, n)) = num(&s[j..]) {
            if end_ok(&s[j + n..]) {
                return Some(NumCmp::Eq(t(a)?));
            }
            // the nom parser commits to this branch once it parsed a value
            return None;
        }
    }
    // symbol
    let (mode, l) = if s.starts_with(b">=") {
        (3, 2)
    } else if s.starts_with(b"<=") {
        (2, 2)
    } else if s.starts_with(b">") {
        (1, 1)
    } else if s.starts_with(b"<") {
        (0, 1)
    } else if s.starts_with(b"!=") {
        (4, 2)
    } else if s.starts_with(b"!") {
        (4, 1)
    } else {
        return None;
    };
    i = l + sp(&s[l..]);
    let (a, n) = num(&s[i..])?;
    if !end_ok(&s[i + n..]) {
        return None;
    }
    let a_t = t(a)?;
    Some(match mode {
        0 if a > 0 => NumCmp::Lt(a_t),
        1 if a < max => NumCmp::Gt(a_t),
        2 if a < max => NumCmp::Le(a_t),
        3 if a > 0 => NumCmp::Ge(a_t),
        4 => NumCmp::Ne(a_t),
        _ => return None,
    })
}

pub(crate) fn dsize(ctx: &mut Ctx<'_>, v: Option<&[u8]>) -> Result<(), Skip> {
    let v = need(v, "dsize")?;
    if ctx.dsize.is_some() {
        return Err(Skip::kw(
            "dsize",
            "can't use 2 or more dsizes in the same sig",
        ));
    }
    let d = parse_uint::<u16>(v)
        .ok_or_else(|| Skip::kw("dsize", format!("parsing '{}' failed", show(v))))?;
    ctx.dsize = Some(d);
    ctx.require_packet = true;
    ctx.matches.push(Match::Dsize(d));
    Ok(())
}

/// `pkt_data` resets the sticky buffer: without sticky buffers it is a no-op.
pub(crate) fn pkt_data(_ctx: &mut Ctx<'_>, _v: Option<&[u8]>) -> Result<(), Skip> {
    Ok(())
}

/// `DetectContentPMATCHValidateCallback`: contents that cannot fit the dsize are an error.
pub(crate) fn validate_dsize(ctx: &Ctx<'_>) -> Result<(), Skip> {
    let Some(d) = ctx.dsize else { return Ok(()) };
    let max: i64 = match d {
        NumCmp::Eq(v) | NumCmp::Lt(v) | NumCmp::Ne(v) => v as i64,
        NumCmp::Range(_, hi) => hi as i64,
        _ => return Ok(()),
    };
    let mut total: i64 = 0;
    let mut max_offset: i64 = 0;
    let mut first = true;
    for m in &ctx.matches {
        let Match::Content(c) = m else { continue };
        let dist = c.distance.unwrap_or(0) as i64;
        if !first {
            if !c.is_relative() {
                continue;
            }
            if c.negated {
                let check = total + dist + c.within.unwrap_or(0) as i64;
                if max < check {
                    return Err(dsize_err(check, max));
                }
                continue;
            }
        }
        total += c.pattern.len() as i64 + dist;
        max_offset = max_offset.max(c.offset.unwrap_or(0) as i64);
        first = false;
    }
    if total > max {
        return Err(dsize_err(total, max));
    }
    if total + max_offset > max {
        return Err(dsize_err(total + max_offset, max));
    }
    Ok(())
}

/// A keyword of Suricata's payload match list (`DETECT_SM_LIST_PMATCH`), which relative
/// keywords and the first-match rules look at.
pub(crate) fn is_payload_match(m: &Match) -> bool {
    matches!(
        m,
        Match::Content(_)
            | Match::IsDataAt { .. }
            | Match::Pcre(_)
            | Match::ByteTest(_)
            | Match::ByteJump(_)
            | Match::ByteExtract(_)
            | Match::ByteMath(_)
    )
}

/// Suricata turns relative modifiers of the first payload match into absolute ones when
/// the distance is not negative: `distance:d` → `offset:d`, `within:w` → `depth:w` (from the
/// offset). Matching is unchanged (the first match is relative to the buffer start anyway);
/// this keeps the AST equal to what Suricata inspects.
pub(crate) fn first_relative_to_absolute(ctx: &mut Ctx<'_>) {
    let first = ctx.matches.iter_mut().find(|m| is_payload_match(m));
    let Some(Match::Content(c)) = first else {
        return;
    };
    if !c.is_relative() || c.distance.is_some_and(|d| d < 0) || c.vars.any() {
        return;
    }
    let d = c.distance.take().unwrap_or(0);
    if d > 0 {
        c.offset = Some(d as u32);
    }
    if let Some(w) = c.within.take() {
        c.depth = Some(w);
    }
    c.absolute_from_relative = true;
}

fn dsize_err(req: i64, max: i64) -> Skip {
    Skip::kw(
        "dsize",
        format!("signature can't match as required content length {req} exceeds dsize value {max}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_decoding() {
        assert_eq!(decode_content(b"abc").unwrap(), b"abc");
        assert_eq!(decode_content(b"a|41 42|b").unwrap(), b"aABb");
        assert_eq!(decode_content(b"|4142|").unwrap(), b"AB");
        assert_eq!(decode_content(b"|4 1|").unwrap(), b"A");
        assert_eq!(
            decode_content(b"a\\;b\\:c\\\\d\\\"e").unwrap(),
            b"a;b:c\\d\"e"
        );
        assert!(decode_content(b"a\\x").is_err());
        assert!(decode_content(b"a|41").is_err());
        assert!(decode_content(b"|414|").is_err());
        assert!(decode_content(b"|4G|").is_err());
        assert_eq!(
            decode_content(b"|00 01\\ 86 A0|").unwrap(),
            b"\x00\x01\x86\xa0"
        );
        assert_eq!(decode_content(b"|41,42|").unwrap(), b"AB");
        assert_eq!(decode_content(b"\\|41|").unwrap(), b"A");
        assert_eq!(decode_content(b"a\\\\|41|").unwrap(), b"a\\A");
        assert!(decode_content(b"a\"b").is_err());
        assert_eq!(decode_content(b"||").unwrap(), b"||");
        assert_eq!(decode_content(b"abc\\").unwrap(), b"abc\\");
    }

    #[test]
    fn uint() {
        assert_eq!(parse_uint::<u16>(b"5"), Some(NumCmp::Eq(5)));
        assert_eq!(parse_uint::<u16>(b" 5 "), Some(NumCmp::Eq(5)));
        assert_eq!(parse_uint::<u16>(b"= 5"), Some(NumCmp::Eq(5)));
        assert_eq!(parse_uint::<u16>(b"!5"), Some(NumCmp::Ne(5)));
        assert_eq!(parse_uint::<u16>(b"!=5"), Some(NumCmp::Ne(5)));
        assert_eq!(parse_uint::<u16>(b"<5"), Some(NumCmp::Lt(5)));
        assert_eq!(parse_uint::<u16>(b"> 5"), Some(NumCmp::Gt(5)));
        assert_eq!(parse_uint::<u16>(b"<=3"), Some(NumCmp::Le(3)));
        assert_eq!(parse_uint::<u16>(b">=3"), Some(NumCmp::Ge(3)));
        assert_eq!(parse_uint::<u16>(b"5<>10"), Some(NumCmp::Range(5, 10)));
        assert_eq!(parse_uint::<u16>(b"5 - 7"), Some(NumCmp::Range(5, 7)));
        assert_eq!(parse_uint::<u16>(b"5-6"), None);
        assert_eq!(parse_uint::<u16>(b"!5-10"), None);
        assert_eq!(parse_uint::<u16>(b"0x10"), None);
        assert_eq!(parse_uint::<u16>(b">=0"), None);
        assert_eq!(parse_uint::<u16>(b"<0"), None);
        assert_eq!(parse_uint::<u16>(b"<=65535"), None);
        assert_eq!(parse_uint::<u16>(b">65535"), None);
        assert_eq!(parse_uint::<u16>(b"70000"), None);
        assert_eq!(parse_uint::<u8>(b"256"), None);
        assert_eq!(parse_uint::<u8>(b"255"), Some(NumCmp::Eq(255)));
        assert_eq!(parse_uint::<u8>(b"-1"), None);
    }
}
