//! Payload inspection: `content` and `isdataat` over one buffer, with Suricata's semantics.
//!
//! This follows Suricata 7's `DetectEngineContentInspection`: keywords are evaluated in rule
//! order; a relative keyword works from the end of the previous content match; when a later
//! keyword fails, the previous content is searched again one byte further on, but only when
//! the next content depends on it through `within` (Suricata's `WITHIN_NEXT`). A failed
//! absolute content ends the inspection at once ("discontinue").

use memchr::memmem;

use crate::rules::ast::{
    ByteExtract, ByteJump, ByteMath, ByteMathOp, ByteTest, ByteTestOp, Content, Endian, ModVars,
    NumBase, NumCmp, Pcre, ValueRef,
};

/// Variables a rule may define with byte_extract / byte_math.
pub const MAX_VARS: usize = 16;
/// Suricata's default `pcre.match-limit` and `pcre.match-limit-recursion`.
pub const PCRE_MATCH_LIMIT: u32 = 3500;
pub const PCRE_DEPTH_LIMIT: u32 = 1500;

/// A compiled `pcre`.
#[derive(Debug, Clone)]
pub struct PcreMatcher {
    re: pcre2::bytes::Regex,
    anchored: bool,
    negated: bool,
    relative: bool,
    /// The next payload keyword is relative to this match.
    relative_next: bool,
}

impl PcreMatcher {
    /// Compile as Suricata does (`rules::keywords::pcre::compile`: the rule's flags as PCRE2
    /// options, `G` and no-auto-capture inline after any leading verbs), with Suricata's default
    /// match and depth limits unless `O`, and JIT. `A` is applied at match time (the match
    /// must start where the search starts); `E` (dollar-endonly) is not applied.
    pub fn compile(p: &Pcre) -> Result<PcreMatcher, String> {
        let mut limited = p.clone();
        if !p.no_match_limit {
            limited.pattern = format!(
                "(*LIMIT_MATCH={PCRE_MATCH_LIMIT})(*LIMIT_DEPTH={PCRE_DEPTH_LIMIT}){}",
                p.pattern
            );
        }
        let re = crate::rules::keywords::pcre::compile(&limited, true)
            .map_err(|e| format!("pcre: {e:?}"))?;
        Ok(PcreMatcher {
            re,
            anchored: p.anchored,
            negated: p.negated,
            relative: p.relative,
            relative_next: false,
        })
    }
}

/// Suricata's default `detect.inspection-recursion-limit`.
pub const RECURSION_LIMIT: u32 = 3000;

/// A compiled `content`.
#[derive(Debug, Clone)]
pub struct ContentMatcher {
    /// The pattern; lowercased when `nocase`.
    pat: Vec<u8>,
    nocase: bool,
    negated: bool,
    offset: u32,
    /// 0 = none
    depth: u32,
    has_distance: bool,
    distance: i32,
    within: Option<u32>,
    endswith: bool,
    /// The next content is relative to this one through `within`.
    within_next: bool,
    /// Not relative, not followed by a relative keyword, no depth/offset.
    single: bool,
    /// Modifiers whose value is a byte_extract/byte_math variable (read at match time).
    vars: ModVars,
    finder: memmem::Finder<'static>,
}

impl ContentMatcher {
    pub fn pattern(&self) -> &[u8] {
        &self.pat
    }
    pub fn nocase(&self) -> bool {
        self.nocase
    }
    pub fn negated(&self) -> bool {
        self.negated
    }

    fn find(&self, hay: &[u8]) -> Option<usize> {
        if self.pat.is_empty() {
            return Some(0);
        }
        if !self.nocase {
            return self.finder.find(hay);
        }
        find_nocase(hay, &self.pat)
    }
}

/// Case-insensitive search for an already-lowercased `needle`.
pub fn find_nocase(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let n = needle.len();
    if n == 0 {
        return Some(0);
    }
    if hay.len() < n {
        return None;
    }
    let first = needle[0];
    let last_start = hay.len() - n;
    let mut from = 0usize;
    let (a, b) = (first.to_ascii_lowercase(), first.to_ascii_uppercase());
    while from <= last_start {
        let i = if a == b {
            memchr::memchr(a, &hay[from..=last_start])?
        } else {
            memchr::memchr2(a, b, &hay[from..=last_start])?
        } + from;
        if hay[i..i + n]
            .iter()
            .zip(needle)
            .all(|(h, p)| h.to_ascii_lowercase() == *p)
        {
            return Some(i);
        }
        from = i + 1;
    }
    None
}

/// One payload keyword. Content is by far the most common item and is searched on the hot
/// path, so it stays inline (no pointer chase) even though that makes the enum large.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)]
pub enum PayloadItem {
    Content(ContentMatcher),
    Pcre(Box<PcreMatcher>),
    ByteTest(ByteTest),
    ByteJump(ByteJump),
    ByteExtract(ByteExtract),
    ByteMath(ByteMath),
    Bsize(NumCmp<u64>),
    /// With `var`, `n` is a variable's index.
    IsDataAt {
        n: u32,
        relative: bool,
        negated: bool,
        var: bool,
    },
}

/// A rule's payload keywords in order.
#[derive(Debug, Clone, Default)]
pub struct PayloadProgram {
    items: Vec<PayloadItem>,
}

/// What a payload keyword needs from the rule, in rule order.
pub enum PayloadKeyword<'a> {
    Content(&'a Content),
    Pcre(&'a Pcre),
    ByteTest(&'a ByteTest),
    ByteJump(&'a ByteJump),
    ByteExtract(&'a ByteExtract),
    ByteMath(&'a ByteMath),
    Bsize(NumCmp<u64>),
    /// With `var`, `n` is a variable's index.
    IsDataAt {
        n: u32,
        relative: bool,
        negated: bool,
        var: bool,
    },
}

fn is_relative(kw: Option<&PayloadKeyword<'_>>) -> bool {
    match kw {
        Some(PayloadKeyword::Content(n)) => n.is_relative(),
        Some(PayloadKeyword::IsDataAt { relative, .. }) => *relative,
        Some(PayloadKeyword::Pcre(p)) => p.relative,
        Some(PayloadKeyword::ByteTest(b)) => b.relative,
        Some(PayloadKeyword::ByteJump(b)) => b.relative,
        Some(PayloadKeyword::ByteExtract(b)) => b.relative,
        Some(PayloadKeyword::ByteMath(b)) => b.relative,
        _ => false,
    }
}

impl PayloadProgram {
    /// Compile; fails only when a `pcre` does not compile.
    pub fn try_compile(kws: &[PayloadKeyword<'_>]) -> Result<PayloadProgram, String> {
        let mut items: Vec<PayloadItem> = Vec::with_capacity(kws.len());
        let var_ok = |v: &ValueRef| !matches!(v, ValueRef::Var(i) if *i as usize >= MAX_VARS);
        for kw in kws {
            let ok = match kw {
                PayloadKeyword::ByteExtract(b) => (b.var as usize) < MAX_VARS,
                PayloadKeyword::ByteMath(b) => {
                    (b.var as usize) < MAX_VARS && var_ok(&b.nbytes) && var_ok(&b.rvalue)
                }
                PayloadKeyword::ByteTest(b) => {
                    var_ok(&b.nbytes) && var_ok(&b.value) && var_ok(&b.offset)
                }
                PayloadKeyword::ByteJump(b) => var_ok(&b.nbytes) && var_ok(&b.offset),
                PayloadKeyword::IsDataAt { n, var: true, .. } => (*n as usize) < MAX_VARS,
                PayloadKeyword::Content(c) => {
                    [c.vars.offset, c.vars.depth, c.vars.distance, c.vars.within]
                        .into_iter()
                        .flatten()
                        .all(|i| (i as usize) < MAX_VARS)
                }
                _ => true,
            };
            if !ok {
                return Err(format!(
                    "more than {MAX_VARS} byte_extract/byte_math variables"
                ));
            }
        }
        for (i, kw) in kws.iter().enumerate() {
            match kw {
                PayloadKeyword::Pcre(p) => {
                    let mut m = PcreMatcher::compile(p)?;
                    m.relative_next = is_relative(kws.get(i + 1));
                    items.push(PayloadItem::Pcre(Box::new(m)));
                }
                PayloadKeyword::ByteTest(b) => items.push(PayloadItem::ByteTest(**b)),
                PayloadKeyword::ByteJump(b) => items.push(PayloadItem::ByteJump(**b)),
                PayloadKeyword::ByteExtract(b) => {
                    items.push(PayloadItem::ByteExtract((*b).clone()))
                }
                PayloadKeyword::ByteMath(b) => items.push(PayloadItem::ByteMath((*b).clone())),
                PayloadKeyword::Bsize(c) => items.push(PayloadItem::Bsize(*c)),
                PayloadKeyword::Content(c) => {
                    let pat: Vec<u8> = if c.nocase {
                        c.pattern.iter().map(|b| b.to_ascii_lowercase()).collect()
                    } else {
                        c.pattern.clone()
                    };
                    let next_within = matches!(kws.get(i + 1),
                        Some(PayloadKeyword::Content(n)) if n.within.is_some());
                    let next_relative = is_relative(kws.get(i + 1));
                    let (mut offset, mut depth) = (c.offset.unwrap_or(0), c.depth.unwrap_or(0));
                    if c.startswith {
                        offset = 0;
                        depth = c.pattern.len() as u32;
                    }
                    // Suricata stores depth as an absolute end: offset + depth (with a
                    // variable in either, at match time)
                    if depth != 0 && c.vars.offset.is_none() && c.vars.depth.is_none() {
                        depth = depth.saturating_add(offset);
                    }
                    let single = !(c.is_relative()
                        || next_relative
                        || c.depth.is_some()
                        || c.offset.is_some()
                        || c.startswith);
                    items.push(PayloadItem::Content(ContentMatcher {
                        finder: memmem::Finder::new(&pat).into_owned(),
                        pat,
                        nocase: c.nocase,
                        negated: c.negated,
                        offset,
                        depth,
                        has_distance: c.distance.is_some(),
                        distance: c.distance.unwrap_or(0),
                        within: c.within,
                        endswith: c.endswith,
                        within_next: next_within,
                        single,
                        vars: c.vars,
                    }));
                }
                PayloadKeyword::IsDataAt {
                    n,
                    relative,
                    negated,
                    var,
                } => items.push(PayloadItem::IsDataAt {
                    n: *n,
                    relative: *relative,
                    negated: *negated,
                    var: *var,
                }),
            }
        }
        Ok(PayloadProgram { items })
    }

    /// Compile keywords that cannot fail (no pcre).
    pub fn compile(kws: &[PayloadKeyword<'_>]) -> PayloadProgram {
        Self::try_compile(kws).unwrap_or_default()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn items(&self) -> &[PayloadItem] {
        &self.items
    }

    /// True when the whole program matches `buf`.
    pub fn matches(&self, buf: &[u8]) -> bool {
        if self.items.is_empty() {
            return true;
        }
        let mut st = State {
            buffer_offset: 0,
            recursion: 0,
            pcre_start: 0,
            vars: [0; MAX_VARS],
        };
        inspect(&self.items, 0, buf, &mut st) == Outcome::Match
    }
}

struct State {
    buffer_offset: u32,
    recursion: u32,
    /// Where a retried pcre resumes (Suricata's pcre_match_start_offset).
    pcre_start: u32,
    /// byte_extract / byte_math results.
    vars: [u64; MAX_VARS],
}

fn value(st: &State, v: ValueRef) -> i64 {
    match v {
        ValueRef::Lit(n) => n,
        ValueRef::Var(i) => st.vars.get(i as usize).copied().unwrap_or(0) as i64,
    }
}

/// Read `nbytes` at `pos` as a number: binary big/little endian (1..=8 bytes) or ASCII
/// digits in a base (as strtoull: optional leading spaces and sign, `0x` for hex, stops at
/// the first non-digit). Returns the value and the bytes consumed.
fn extract(
    buf: &[u8],
    pos: usize,
    nbytes: usize,
    endian: Endian,
    base: Option<NumBase>,
) -> Option<(u64, usize)> {
    let bytes = buf.get(pos..pos.checked_add(nbytes)?)?;
    match base {
        None => {
            if nbytes == 0 || nbytes > 8 {
                return None;
            }
            let mut v: u64 = 0;
            match endian {
                Endian::Little => {
                    for (i, b) in bytes.iter().enumerate() {
                        v |= (*b as u64) << (8 * i);
                    }
                }
                _ => {
                    for b in bytes {
                        v = (v << 8) | *b as u64;
                    }
                }
            }
            Some((v, nbytes))
        }
        Some(base) => {
            let radix = match base {
                NumBase::Hex => 16,
                NumBase::Dec => 10,
                NumBase::Oct => 8,
            };
            let mut i = 0;
            while i < bytes.len() && bytes[i].is_ascii_whitespace() {
                i += 1;
            }
            let mut neg = false;
            if i < bytes.len() && (bytes[i] == b'+' || bytes[i] == b'-') {
                neg = bytes[i] == b'-';
                i += 1;
            }
            if radix == 16
                && i + 1 < bytes.len()
                && bytes[i] == b'0'
                && (bytes[i + 1] | 0x20) == b'x'
                && bytes.get(i + 2).is_some_and(|c| c.is_ascii_hexdigit())
            {
                i += 2;
            }
            let start = i;
            let mut v: u64 = 0;
            while i < bytes.len() {
                let Some(d) = (bytes[i] as char).to_digit(radix) else {
                    break;
                };
                v = v.checked_mul(radix as u64)?.checked_add(d as u64)?;
                i += 1;
            }
            if i == start {
                return None;
            }
            Some((if neg { v.wrapping_neg() } else { v }, i))
        }
    }
}

fn apply_bitmask(v: u64, mask: Option<u64>) -> u64 {
    match mask {
        Some(m) if m != 0 => (v & m) >> m.trailing_zeros(),
        Some(_) => 0,
        None => v,
    }
}

/// Start position for a byte_* keyword: `offset` from the buffer start, or from the
/// previous match when relative. None when it falls outside the buffer.
fn start_pos(st: &State, offset: i64, relative: bool, len: usize) -> Option<usize> {
    let base = if relative { st.buffer_offset as i64 } else { 0 };
    let p = base + offset;
    if p < 0 || p as usize > len {
        return None;
    }
    usize::try_from(p).ok()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Match,
    NoMatch,
    /// No match, and no point retrying earlier keywords.
    Discontinue,
}

fn inspect(items: &[PayloadItem], idx: usize, buf: &[u8], st: &mut State) -> Outcome {
    st.recursion += 1;
    if st.recursion >= RECURSION_LIMIT {
        return Outcome::Discontinue;
    }
    let Some(item) = items.get(idx) else {
        return Outcome::Match;
    };
    let is_last = idx + 1 == items.len();
    let buffer_len = buf.len() as u32;
    // On success of this item: continue with the next, or report a match.
    let next = |st: &mut State| -> Outcome {
        if is_last {
            Outcome::Match
        } else {
            inspect(items, idx + 1, buf, st)
        }
    };
    match item {
        PayloadItem::Content(cd) => {
            let mut prev_offset: u32 = 0;
            let mut prev_buffer_offset = st.buffer_offset;
            let relative = cd.has_distance || cd.within.is_some();
            // variables' values, read as Suricata does (`det_ctx->byte_values`)
            let var = |i: Option<u8>| i.map(|i| value(st, ValueRef::Var(i)) as u64);
            let (v_offset, v_depth) = (var(cd.vars.offset), var(cd.vars.depth));
            let (v_distance, v_within) = (var(cd.vars.distance), var(cd.vars.within));
            loop {
                let mut depth = buffer_len;
                let mut offset: u32;
                if relative {
                    offset = prev_buffer_offset;
                    // (an extracted value is cast to 32 bits, as Suricata casts it)
                    let distance = v_distance.map_or(cd.distance, |v| v as u32 as i32);
                    if cd.has_distance {
                        if distance < 0 && distance.unsigned_abs() > offset {
                            offset = 0;
                        } else {
                            offset = offset.wrapping_add_signed(distance);
                        }
                    }
                    if let Some(v) = v_within {
                        let end = u64::from(prev_buffer_offset)
                            .wrapping_add(v)
                            .wrapping_add(distance as i64 as u64)
                            as u32;
                        if (depth as i32) > end as i32 {
                            depth = end;
                        }
                    } else if let Some(within) = cd.within {
                        let end = prev_buffer_offset as i64 + within as i64 + distance as i64;
                        if (depth as i64) > end {
                            depth = end.max(0) as u32;
                        }
                    }
                    if let Some(v) = v_depth {
                        if v.wrapping_add(u64::from(prev_buffer_offset)) < u64::from(depth) {
                            depth = prev_buffer_offset.wrapping_add(v as u32);
                        }
                    } else if cd.depth != 0 && cd.depth.saturating_add(prev_buffer_offset) < depth {
                        depth = prev_buffer_offset + cd.depth;
                    }
                    if let Some(v) = v_offset {
                        if v > u64::from(offset) {
                            offset = v as u32;
                        }
                    } else if cd.offset > offset {
                        offset = cd.offset;
                    }
                } else {
                    if let Some(v) = v_depth {
                        depth = v as u32;
                    } else if cd.depth != 0 {
                        depth = cd.depth;
                    }
                    offset = v_offset.map_or(cd.offset, |v| v as u32);
                    prev_buffer_offset = 0;
                }
                // with a variable in distance, offset or depth, the depth counts from the
                // offset (Suricata 7.0's DISTANCE_VAR | OFFSET_VAR | DEPTH_VAR: so a
                // `distance:var; within:1` looks `var` bytes further than it says)
                if v_distance.is_some() || v_offset.is_some() || v_depth.is_some() {
                    depth = depth.wrapping_add(offset);
                }
                if prev_offset != 0 {
                    offset = prev_offset;
                }
                if depth > buffer_len {
                    depth = buffer_len;
                }
                if offset > depth || depth == 0 {
                    return if cd.negated {
                        next(st)
                    } else {
                        Outcome::NoMatch
                    };
                }
                let sbuf = &buf[offset as usize..depth as usize];
                let found = if (cd.endswith && depth < buffer_len) || cd.pat.len() > sbuf.len() {
                    None
                } else {
                    cd.find(sbuf)
                };
                let Some(pos) = found else {
                    if !cd.negated {
                        if !relative {
                            return Outcome::Discontinue;
                        }
                        return Outcome::NoMatch;
                    }
                    return next(st);
                };
                let match_offset = offset + pos as u32 + cd.pat.len() as u32;
                if cd.negated {
                    if cd.endswith && sbuf.len() as u32 != match_offset {
                        return next(st);
                    }
                    if cd.single {
                        return Outcome::Discontinue;
                    }
                    return Outcome::NoMatch;
                }
                st.buffer_offset = match_offset;
                if !cd.endswith || match_offset == buffer_len {
                    if is_last {
                        return Outcome::Match;
                    }
                    match inspect(items, idx + 1, buf, st) {
                        Outcome::Match => return Outcome::Match,
                        Outcome::Discontinue => return Outcome::Discontinue,
                        Outcome::NoMatch => {}
                    }
                    if !cd.within_next {
                        return Outcome::Discontinue;
                    }
                }
                // Try the next occurrence, one byte after the start of this one.
                prev_offset = match_offset - (cd.pat.len() as u32).saturating_sub(1);
                if cd.pat.is_empty() {
                    prev_offset = match_offset + 1;
                }
                st.recursion += 1;
                if st.recursion >= RECURSION_LIMIT {
                    return Outcome::Discontinue;
                }
            }
        }
        PayloadItem::Pcre(pm) => {
            let prev_buffer_offset = st.buffer_offset;
            st.pcre_start = 0;
            loop {
                let base = if pm.relative {
                    (st.buffer_offset as usize).min(buf.len())
                } else {
                    0
                };
                let hay = &buf[base..];
                let start = (st.pcre_start as usize).saturating_sub(base).min(hay.len());
                let found = match pm.re.find_at(hay, start) {
                    Ok(m) => m
                        .map(|m| (m.start(), m.end()))
                        .filter(|&(s0, _)| !pm.anchored || s0 == start),
                    // match limit hit or other error: no match, as in Suricata
                    Err(_) => None,
                };
                let matched = match (found, pm.negated) {
                    (Some((s0, e0)), false) => {
                        st.buffer_offset = (base + e0) as u32;
                        st.pcre_start = (base + s0 + 1) as u32;
                        true
                    }
                    (Some(_), true) => false,
                    (None, true) => {
                        st.pcre_start = 0;
                        true
                    }
                    (None, false) => false,
                };
                if !matched {
                    return Outcome::NoMatch;
                }
                if !pm.relative_next {
                    return next(st);
                }
                let prev_offset = st.pcre_start;
                match next(st) {
                    Outcome::Match => return Outcome::Match,
                    Outcome::Discontinue => return Outcome::Discontinue,
                    Outcome::NoMatch => {}
                }
                if prev_offset == 0 {
                    return Outcome::NoMatch;
                }
                st.buffer_offset = prev_buffer_offset;
                st.pcre_start = prev_offset;
                st.recursion += 1;
                if st.recursion >= RECURSION_LIMIT {
                    return Outcome::Discontinue;
                }
            }
        }
        PayloadItem::ByteTest(bt) => {
            if buf.is_empty() {
                return Outcome::NoMatch;
            }
            let nbytes = value(st, bt.nbytes);
            let Some(pos) = start_pos(st, value(st, bt.offset), bt.relative, buf.len()) else {
                return Outcome::NoMatch;
            };
            let Some((v, _)) = usize::try_from(nbytes)
                .ok()
                .and_then(|n| extract(buf, pos, n, bt.endian, bt.string))
            else {
                return Outcome::NoMatch;
            };
            let v = apply_bitmask(v, bt.bitmask);
            let operand = value(st, bt.value) as u64;
            let m = match bt.op {
                ByteTestOp::Lt => v < operand,
                ByteTestOp::Gt => v > operand,
                ByteTestOp::Eq => v == operand,
                ByteTestOp::Le => v <= operand,
                ByteTestOp::Ge => v >= operand,
                ByteTestOp::And => v & operand != 0,
                ByteTestOp::Xor => v ^ operand != 0,
            };
            if m != bt.negated {
                next(st)
            } else {
                Outcome::NoMatch
            }
        }
        PayloadItem::ByteJump(bj) => {
            if buf.is_empty() {
                return Outcome::NoMatch;
            }
            let nbytes = value(st, bj.nbytes);
            let Some(pos) = start_pos(st, value(st, bj.offset), bj.relative, buf.len()) else {
                return Outcome::NoMatch;
            };
            let Some((v, used)) = usize::try_from(nbytes)
                .ok()
                .and_then(|n| extract(buf, pos, n, bj.endian, bj.string))
            else {
                return Outcome::NoMatch;
            };
            let mut v = apply_bitmask(v, bj.bitmask) as i128 * bj.multiplier.max(1) as i128;
            if bj.align && v % 4 != 0 {
                v += 4 - v % 4;
            }
            v += bj.post_offset as i128;
            let target = if bj.from_beginning {
                v
            } else if bj.from_end {
                buf.len() as i128 + v
            } else {
                (pos + used) as i128 + v
            };
            if target < 0 || target >= buf.len() as i128 {
                return Outcome::NoMatch;
            }
            st.buffer_offset = target as u32;
            next(st)
        }
        PayloadItem::ByteExtract(be) => {
            if buf.is_empty() {
                return Outcome::NoMatch;
            }
            let Some(pos) = start_pos(st, be.offset as i64, be.relative, buf.len()) else {
                return Outcome::NoMatch;
            };
            let Some((v, used)) = extract(buf, pos, be.nbytes as usize, be.endian, be.string)
            else {
                return Outcome::NoMatch;
            };
            let mut v = apply_bitmask(v, be.bitmask).wrapping_mul(be.multiplier.max(1) as u64);
            if be.align > 1 && v % be.align as u64 != 0 {
                v = v + be.align as u64 - v % be.align as u64;
            }
            if let Some(slot) = st.vars.get_mut(be.var as usize) {
                *slot = v;
            }
            st.buffer_offset = (pos + used) as u32;
            next(st)
        }
        PayloadItem::ByteMath(bm) => {
            if buf.is_empty() {
                return Outcome::NoMatch;
            }
            let nbytes = value(st, bm.nbytes);
            let Some(pos) = start_pos(st, bm.offset as i64, bm.relative, buf.len()) else {
                return Outcome::NoMatch;
            };
            let Some((v, _)) = usize::try_from(nbytes)
                .ok()
                .and_then(|n| extract(buf, pos, n, bm.endian, bm.string))
            else {
                return Outcome::NoMatch;
            };
            let v = apply_bitmask(v, bm.bitmask);
            let r = value(st, bm.rvalue) as u64;
            let res = match bm.op {
                ByteMathOp::Add => v.wrapping_add(r),
                ByteMathOp::Sub => v.wrapping_sub(r),
                ByteMathOp::Mul => v.wrapping_mul(r),
                ByteMathOp::Div => {
                    if r == 0 {
                        return Outcome::NoMatch;
                    }
                    v / r
                }
                ByteMathOp::Shl => v.checked_shl(r as u32).unwrap_or(0),
                ByteMathOp::Shr => v.checked_shr(r as u32).unwrap_or(0),
            };
            if let Some(slot) = st.vars.get_mut(bm.var as usize) {
                *slot = res;
            }
            next(st)
        }
        PayloadItem::Bsize(c) => {
            if c.matches(buf.len() as u64) {
                next(st)
            } else {
                Outcome::Discontinue
            }
        }
        PayloadItem::IsDataAt {
            n,
            relative,
            negated,
            var,
        } => {
            // Suricata's ISDATAAT_OFFSET_VAR: a huge value never has data; a failure with a
            // variable is a plain no-match (an earlier match may give another value)
            let fail = if *var {
                Outcome::NoMatch
            } else {
                Outcome::Discontinue
            };
            let n = if *var {
                let v = value(st, ValueRef::Var(*n as u8)) as u64;
                if v >= 100_000_000 {
                    return if *negated { next(st) } else { Outcome::NoMatch };
                }
                v as u32
            } else {
                *n
            };
            if *relative {
                if st.buffer_offset as u64 + n as u64 > buffer_len as u64 {
                    if *negated {
                        return next(st);
                    }
                    fail
                } else if *negated {
                    Outcome::NoMatch
                } else {
                    next(st)
                }
            } else if n < buffer_len {
                if *negated {
                    fail
                } else {
                    next(st)
                }
            } else if *negated {
                next(st)
            } else {
                fail
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(p: &str) -> Content {
        Content {
            pattern: p.as_bytes().to_vec(),
            ..Default::default()
        }
    }

    fn prog(cs: &[Content]) -> PayloadProgram {
        let kws: Vec<PayloadKeyword> = cs.iter().map(PayloadKeyword::Content).collect();
        PayloadProgram::compile(&kws)
    }

    #[test]
    fn simple_and_nocase() {
        assert!(prog(&[c("abc")]).matches(b"xxabcxx"));
        assert!(!prog(&[c("ABC")]).matches(b"xxabcxx"));
        let mut n = c("ABC");
        n.nocase = true;
        assert!(prog(&[n]).matches(b"xxabcxx"));
        assert_eq!(find_nocase(b"heLLo world", b"llo w"), Some(2));
        assert_eq!(find_nocase(b"hel", b"hello"), None);
    }

    #[test]
    fn offset_depth() {
        let mut a = c("GET");
        a.depth = Some(3);
        assert!(prog(&[a.clone()]).matches(b"GET /"));
        assert!(!prog(&[a]).matches(b" GET /"));
        let mut b = c("b");
        b.offset = Some(2);
        b.depth = Some(1);
        assert!(prog(&[b.clone()]).matches(b"aab"));
        assert!(!prog(&[b]).matches(b"abaa"));
    }

    #[test]
    fn distance_within_backtracks() {
        // "a" then "b" within 1: the first "a" fails, the second succeeds.
        let a = c("a");
        let mut b = c("b");
        b.distance = Some(0);
        b.within = Some(1);
        assert!(prog(&[a.clone(), b.clone()]).matches(b"axxab"));
        assert!(!prog(&[a, b]).matches(b"axxaxb"));
    }

    #[test]
    fn distance_only_does_not_backtrack_but_still_finds() {
        let a = c("a");
        let mut b = c("b");
        b.distance = Some(1);
        assert!(prog(&[a.clone(), b.clone()]).matches(b"axb"));
        assert!(!prog(&[a, b]).matches(b"ab"));
    }

    #[test]
    fn negated() {
        let mut n = c("evil");
        n.negated = true;
        assert!(prog(&[c("GET"), n.clone()]).matches(b"GET /good"));
        assert!(!prog(&[c("GET"), n.clone()]).matches(b"GET /evil"));
        let mut rel = n.clone();
        rel.distance = Some(0);
        rel.within = Some(4);
        assert!(prog(&[c("GET"), rel.clone()]).matches(b"GET /xxxxevil"));
        assert!(!prog(&[c("GET"), rel]).matches(b"GETevil"));
    }

    #[test]
    fn startswith_endswith() {
        let mut s = c("GET");
        s.startswith = true;
        assert!(prog(&[s.clone()]).matches(b"GET /"));
        assert!(!prog(&[s]).matches(b"xGET /"));
        let mut e = c("end");
        e.endswith = true;
        assert!(prog(&[e.clone()]).matches(b"the end"));
        assert!(!prog(&[e.clone()]).matches(b"the end."));
        // the last occurrence is at the end even if an earlier one is not
        assert!(prog(&[e]).matches(b"end of the end"));
    }

    #[test]
    fn isdataat() {
        let p = PayloadProgram::compile(&[
            PayloadKeyword::Content(&c("ab")),
            PayloadKeyword::IsDataAt {
                n: 2,
                relative: true,
                negated: false,
                var: false,
            },
        ]);
        assert!(p.matches(b"abxx"));
        assert!(!p.matches(b"abx"));
        let q = PayloadProgram::compile(&[PayloadKeyword::IsDataAt {
            n: 3,
            relative: false,
            negated: true,
            var: false,
        }]);
        assert!(q.matches(b"abc"));
        assert!(!q.matches(b"abcd"));
    }

    /// `byte_extract:1,0,len` (variable 0): the first byte as a number.
    fn extract_len() -> ByteExtract {
        ByteExtract {
            nbytes: 1,
            offset: 0,
            var: 0,
            name: "len".into(),
            relative: false,
            multiplier: 1,
            endian: crate::rules::ast::Endian::Big,
            string: None,
            align: 0,
            bitmask: None,
        }
    }

    #[test]
    fn modifiers_and_isdataat_take_byte_extract_variables() {
        let be = extract_len();
        // community sid 43004's shape: content:"/"; content:"/"; within:len; distance:1
        let a = c("/");
        let mut b = c("/");
        b.distance = Some(1);
        b.within = Some(0);
        b.vars.within = Some(0);
        let p = PayloadProgram::compile(&[
            PayloadKeyword::ByteExtract(&be),
            PayloadKeyword::Content(&a),
            PayloadKeyword::Content(&b),
        ]);
        // len 4: the second "/" starts 1 to 4 bytes after the first ends
        assert!(p.matches(b"\x04/abcd/"));
        assert!(!p.matches(b"\x04/abcde/"));
        assert!(p.matches(b"\x05/abcde/"));
        // offset:len; depth:len — a depth from a variable counts from the offset
        let mut o = c("xy");
        o.offset = Some(0);
        o.depth = Some(0);
        o.vars.offset = Some(0);
        o.vars.depth = Some(0);
        let q = PayloadProgram::compile(&[
            PayloadKeyword::ByteExtract(&be),
            PayloadKeyword::Content(&o),
        ]);
        assert!(q.matches(b"\x02_xy"));
        assert!(!q.matches(b"\x03_xy_"), "xy starts before offset 3");
        assert!(q.matches(b"\x03__xy"));
        assert!(
            !q.matches(b"\x01xy"),
            "depth 1 from offset 1 cannot hold xy"
        );
        // isdataat:len,relative
        let d = c("\x00");
        let i = PayloadProgram::compile(&[
            PayloadKeyword::ByteExtract(&be),
            PayloadKeyword::Content(&d),
            PayloadKeyword::IsDataAt {
                n: 0,
                relative: true,
                negated: false,
                var: true,
            },
        ]);
        assert!(i.matches(b"\x03\x00abc"));
        assert!(!i.matches(b"\x04\x00abc"));
    }

    #[test]
    fn negative_distance() {
        let a = c("world");
        let mut b = c("hello");
        b.distance = Some(-11);
        b.within = Some(5);
        assert!(prog(&[a, b]).matches(b"hello world"));
    }

    fn pcre(pat: &str, relative: bool) -> Pcre {
        Pcre {
            pattern: pat.to_string(),
            relative,
            ..Default::default()
        }
    }

    #[test]
    fn pcre_absolute_relative_and_retry() {
        let a = c("GET");
        let p1 = pcre("^/admin", true);
        let prog =
            PayloadProgram::try_compile(&[PayloadKeyword::Content(&a), PayloadKeyword::Pcre(&p1)])
                .unwrap();
        assert!(!prog.matches(b"GET /admin HTTP/1.1")); // a space follows GET
        let p2 = pcre("^ /admin", true);
        let prog =
            PayloadProgram::try_compile(&[PayloadKeyword::Content(&a), PayloadKeyword::Pcre(&p2)])
                .unwrap();
        assert!(prog.matches(b"GET /admin HTTP/1.1"));
        // pcre followed by a relative content: retried at the next pcre match
        let p3 = pcre("a.", false);
        let mut z = c("z");
        z.distance = Some(0);
        z.within = Some(1);
        let prog =
            PayloadProgram::try_compile(&[PayloadKeyword::Pcre(&p3), PayloadKeyword::Content(&z)])
                .unwrap();
        assert!(prog.matches(b"abxacz"));
        assert!(!prog.matches(b"abxacy"));
        let mut bad = pcre("(unclosed", false);
        bad.caseless = true;
        assert!(PayloadProgram::try_compile(&[PayloadKeyword::Pcre(&bad)]).is_err());
    }

    #[test]
    fn byte_test_and_jump_never_read_out_of_bounds() {
        let bt = ByteTest {
            nbytes: ValueRef::Lit(2),
            op: ByteTestOp::Gt,
            negated: false,
            value: ValueRef::Lit(0x0100),
            offset: ValueRef::Lit(1),
            relative: false,
            endian: Endian::Big,
            string: None,
            bitmask: None,
        };
        let prog = PayloadProgram::try_compile(&[PayloadKeyword::ByteTest(&bt)]).unwrap();
        assert!(prog.matches(&[0, 0x02, 0x00]));
        assert!(!prog.matches(&[0, 0x00, 0x10]));
        assert!(!prog.matches(&[0, 0x02])); // short payload: no match, no panic
        let mut s = bt;
        s.string = Some(NumBase::Dec);
        s.nbytes = ValueRef::Lit(3);
        s.offset = ValueRef::Lit(0);
        s.value = ValueRef::Lit(99);
        let prog = PayloadProgram::try_compile(&[PayloadKeyword::ByteTest(&s)]).unwrap();
        assert!(prog.matches(b"123"));
        assert!(!prog.matches(b"042"));
        let bj = ByteJump {
            nbytes: ValueRef::Lit(1),
            offset: ValueRef::Lit(0),
            relative: false,
            multiplier: 1,
            endian: Endian::Big,
            string: None,
            align: false,
            from_beginning: false,
            from_end: false,
            post_offset: 0,
            bitmask: None,
        };
        let mut after = c("X");
        after.distance = Some(0);
        after.within = Some(1);
        let prog = PayloadProgram::try_compile(&[
            PayloadKeyword::ByteJump(&bj),
            PayloadKeyword::Content(&after),
        ])
        .unwrap();
        assert!(prog.matches(&[2, b'a', b'b', b'X']));
        assert!(!prog.matches(&[1, b'a', b'b', b'X']));
        assert!(!prog.matches(&[200, b'a']));
        for n in 0..8 {
            let _ = prog.matches(&vec![0xffu8; n]);
        }
    }
}
