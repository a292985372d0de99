//! byte_test, byte_jump, byte_extract, byte_math and bsize (Suricata 7.0.10's
//! `detect-bytetest.c`, `detect-bytejump.c`, `detect-byte-extract.c`, `detect-bytemath.c` with
//! `rust/src/detect/byte_math.rs`, `detect-bsize.c`).
//!
//! Variables: `byte_extract` and `byte_math` define named variables, numbered in definition
//! order from 0 ([`ValueRef::Var`], `ByteExtract::var`, `ByteMath::var`). A name refers to the
//! first `byte_extract` of that name, else the first `byte_math` (Suricata's lookup order); a
//! name not defined earlier in the rule is an error. Suricata numbers byte_extract and byte_math
//! results separately but stores both in one array, so a rule with both can overwrite one with
//! the other: such rules are skipped (`byte-var-mix`) so that definition order is exact.

use crate::rules::ast::{
    ByteExtract, ByteJump, ByteMath, ByteMathOp, ByteTest, ByteTestOp, Endian, Match, NumBase,
    ValueRef,
};
use crate::rules::cnum::{
    byte_extract_string, byte_extract_string_signed, is_space, show, string_parse_u,
};
use crate::rules::parse::{need, Ctx, Skip};

/// A variable defined by byte_extract (`math == false`) or byte_math.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ByteVar {
    pub name: Vec<u8>,
    pub math: bool,
}

/// Suricata's `DetectByteRetrieveSMVar`: the first byte_extract with this name, else the first
/// byte_math; the definition index.
pub(crate) fn lookup_var(ctx: &Ctx<'_>, name: &[u8]) -> Option<u8> {
    let find = |math: bool| {
        ctx.byte_vars
            .iter()
            .position(|b| b.math == math && b.name == name)
    };
    find(false).or_else(|| find(true)).map(|i| i as u8)
}

/// A value that Suricata takes as a variable name (`x[0] != '-' && isalpha(x[0])`).
pub(crate) fn is_var_name(s: &[u8]) -> bool {
    s.first().is_some_and(|c| c.is_ascii_alphabetic())
}

/// A content modifier's value that names a variable: Ok(None) for a number, Ok(Some(index))
/// for a known byte_extract/byte_math variable, an error for an unknown one.
pub(crate) fn content_var(ctx: &Ctx<'_>, kw: &str, v: &[u8]) -> Result<Option<u8>, Skip> {
    if !is_var_name(v) {
        return Ok(None);
    }
    match lookup_var(ctx, v) {
        Some(i) => Ok(Some(i)),
        None => Err(Skip::kw(
            kw,
            format!("unknown byte_ keyword var seen in {kw} - {}", show(v)),
        )),
    }
}

fn var_ref(ctx: &Ctx<'_>, kw: &str, name: &[u8]) -> Result<ValueRef, Skip> {
    lookup_var(ctx, name).map(ValueRef::Var).ok_or_else(|| {
        Skip::kw(
            kw,
            format!("unknown byte_extract var seen in {kw} - {}", show(name)),
        )
    })
}

/// Register a new variable; refuses the byte_extract + byte_math mix and more than 256.
fn define_var(ctx: &mut Ctx<'_>, name: &[u8], math: bool) -> Result<u8, Skip> {
    if ctx.byte_vars.iter().any(|b| b.math != math) {
        return Err(Skip::unsupported(
            "byte-var-mix",
            "byte_extract and byte_math in one rule (Suricata numbers their variables separately and can overwrite one with the other)",
        ));
    }
    if ctx.byte_vars.len() > u8::MAX as usize {
        return Err(Skip::unsupported(
            "byte-var-limit",
            "more than 256 byte_extract/byte_math variables",
        ));
    }
    ctx.byte_vars.push(ByteVar {
        name: name.to_vec(),
        math,
    });
    Ok((ctx.byte_vars.len() - 1) as u8)
}

/// `dce` sets the rule's app-layer protocol to DCERPC: an error after an HTTP pcre modifier,
/// otherwise valid but unsupported.
fn dce_unsupported(ctx: &Ctx<'_>, kw: &str) -> Skip {
    if !ctx.http_pcre.is_empty() {
        return Skip::kw(
            kw,
            "can't set rule app proto to dcerpc: already set to http",
        );
    }
    Skip::unsupported(
        "dce",
        format!("{kw} with dce needs the DCERPC app-layer (not supported)"),
    )
}

/// The `string` base of byte_test/byte_jump: Suricata ORs the base keywords together
/// (`hex,dec` is base 26) and uses `strtoull` base 0 (auto) when none is given.
fn string_base(kw: &str, base: u32) -> Result<NumBase, Skip> {
    match base {
        8 => Ok(NumBase::Oct),
        10 => Ok(NumBase::Dec),
        16 => Ok(NumBase::Hex),
        0 => Err(Skip::unsupported(
            "byte-string-auto-base",
            format!("{kw} with string and no base (strtoull base 0) is not supported"),
        )),
        b => Err(Skip::unsupported(
            "byte-base-combo",
            format!("{kw} with several string bases (base {b}) is not supported"),
        )),
    }
}

/// `[^\s,]+` at `i`.
fn token(v: &[u8], i: usize) -> usize {
    let mut j = i;
    while j < v.len() && !is_space(v[j]) && v[j] != b',' {
        j += 1;
    }
    j
}

fn skip_ws(v: &[u8], mut i: usize) -> usize {
    while i < v.len() && is_space(v[i]) {
        i += 1;
    }
    i
}

/// `\s*,\s*` at `i`.
fn comma(v: &[u8], i: usize) -> Option<usize> {
    let i = skip_ws(v, i);
    if v.get(i) == Some(&b',') {
        Some(skip_ws(v, i + 1))
    } else {
        None
    }
}

/// Continuation after an option: `\s*,` (another option) or `\s*$`.
fn at_sep_or_end(v: &[u8], i: usize) -> bool {
    let i = skip_ws(v, i);
    i == v.len() || v[i] == b','
}

/// Options `(?:\s*,\s*((?:KW)\s+[^\s,]+|ALT))?` repeated, then `\s*$`: the option strings.
fn options<'a>(
    v: &'a [u8],
    mut i: usize,
    kw_words: &[&str],
    alt: &dyn Fn(u8) -> bool,
) -> Option<Vec<&'a [u8]>> {
    let mut out = Vec::new();
    loop {
        if skip_ws(v, i) == v.len() {
            return Some(out);
        }
        let s = comma(v, i)?;
        // alternative 1: keyword, blanks, value
        let mut end = None;
        for w in kw_words {
            if v[s..].starts_with(w.as_bytes()) {
                let b = s + w.len();
                let t = skip_ws(v, b);
                if t > b {
                    let e = token(v, t);
                    if e > t && at_sep_or_end(v, e) {
                        end = Some(e);
                        break;
                    }
                }
            }
        }
        let e = match end {
            Some(e) => e,
            None => {
                let mut e = s;
                while e < v.len() && alt(v[e]) {
                    e += 1;
                }
                if e == s || !at_sep_or_end(v, e) {
                    return None;
                }
                e
            }
        };
        out.push(&v[s..e]);
        i = e;
    }
}

/// `ByteExtractStringSigned` + range check as `StringParseI32RangeCheck(.., len, ..)`: strict
/// only when `len` is not 0.
fn parse_i32(s: &[u8], base: u32, len: usize, min: i64, max: i64) -> Option<i32> {
    let strict = len > 0;
    let n = byte_extract_string_signed(s, base, len, strict)?;
    if n < i32::MIN as i64 || n > i32::MAX as i64 || n < min || n > max {
        return None;
    }
    Some(n as i32)
}

const BYTETEST_KW: &str = "relative|big|little|string|oct|dec|hex|dce|bitmask";

/// `byte_test:nbytes,[!]op,value,offset[,options]` (at most 5 options).
pub(crate) fn byte_test(ctx: &mut Ctx<'_>, v: Option<&[u8]>) -> Result<(), Skip> {
    const KW: &str = "byte_test";
    let v = need(v, KW)?;
    let bad = || Skip::kw(KW, format!("parse error, string {}", show(v)));
    // ^\s*([^\s,]+)\s*,\s*(\!?\s*[^\s,]*)\s*,\s*([^\s,]+\s*,\s*[^\s,]+)
    let i = skip_ws(v, 0);
    let e = token(v, i);
    if e == i {
        return Err(bad());
    }
    let nbytes_s = &v[i..e];
    let i = comma(v, e).ok_or_else(bad)?;
    let mut j = i;
    if v.get(j) == Some(&b'!') {
        j += 1;
    }
    j = token(v, skip_ws(v, j));
    let op_s = &v[i..j];
    let i = comma(v, j).ok_or_else(bad)?;
    let e = token(v, i);
    if e == i {
        return Err(bad());
    }
    let value_s = &v[i..e];
    let i = comma(v, e).ok_or_else(bad)?;
    let e = token(v, i);
    if e == i {
        return Err(bad());
    }
    let offset_s = &v[i..e];
    let kw_words: Vec<&str> = BYTETEST_KW.split('|').collect();
    let opts =
        options(v, e, &kw_words, &|c| BYTETEST_KW.as_bytes().contains(&c)).ok_or_else(bad)?;
    if opts.len() > 5 {
        return Err(bad());
    }

    let mut nbytes_lit: Option<u32> = None;
    let nbytes_var = is_var_name(nbytes_s);
    if !nbytes_var {
        nbytes_lit = Some(
            string_parse_u(nbytes_s, 10, 0, u32::MAX as u64).ok_or_else(|| {
                Skip::kw(KW, format!("malformed number of bytes: {}", show(nbytes_s)))
            })? as u32,
        );
    }
    // operator, with an optional '!' (a lone '!' is "not equal")
    let (negated, op_rest) = match op_s.split_first() {
        Some((b'!', rest)) => {
            let k = rest
                .iter()
                .take_while(|&&c| is_space(c) || c == b',')
                .count();
            (true, &rest[k..])
        }
        _ => (false, op_s),
    };
    let op = match op_rest {
        b"=" => ByteTestOp::Eq,
        b"" if negated => ByteTestOp::Eq,
        b"<" => ByteTestOp::Lt,
        b">" => ByteTestOp::Gt,
        b"&" => ByteTestOp::And,
        b"^" => ByteTestOp::Xor,
        b">=" => ByteTestOp::Ge,
        b"<=" => ByteTestOp::Le,
        _ => return Err(Skip::kw(KW, format!("invalid operator '{}'", show(op_s)))),
    };
    let value_var = is_var_name(value_s);
    let mut value = ValueRef::Lit(0);
    if !value_var {
        let n = byte_extract_string(value_s, 0, 0, false)
            .ok_or_else(|| Skip::kw(KW, format!("malformed value: {}", show(value_s))))?;
        // a u64, stored bit for bit
        value = ValueRef::Lit(n as i64);
    }
    let offset_var = is_var_name(offset_s);
    let mut offset = ValueRef::Lit(0);
    if !offset_var {
        let n = parse_i32(offset_s, 0, 0, i32::MIN as i64, i32::MAX as i64)
            .ok_or_else(|| Skip::kw(KW, format!("malformed offset: {}", show(offset_s))))?;
        offset = ValueRef::Lit(n as i64);
    }

    let (mut relative, mut string, mut little, mut big, mut dce) =
        (false, false, false, false, false);
    let mut base = 0u32;
    let mut bitmask_arg: Option<&[u8]> = None;
    for o in &opts {
        match *o {
            b"relative" => relative = true,
            b"string" => string = true,
            b"dec" => base |= 10,
            b"hex" => base |= 16,
            b"oct" => base |= 8,
            b"big" => {
                little = false;
                big = true;
            }
            b"little" => little = true,
            b"dce" => dce = true,
            o if o.starts_with(b"bitmask") => bitmask_arg = Some(&o[7..]),
            o => return Err(Skip::kw(KW, format!("unknown value: \"{}\"", show(o)))),
        }
    }
    if let Some(n) = nbytes_lit {
        // Suricata compares as int32 and stores a uint8
        let n32 = n as i32;
        if !((string && n32 <= 23) || n32 <= 8) {
            return Err(Skip::kw(
                KW,
                if string {
                    "cannot test more than 23 bytes with \"string\""
                } else {
                    "cannot test more than 8 bytes without \"string\""
                },
            ));
        }
    }
    if !string && base != 0 {
        return Err(Skip::kw(KW, "cannot use a base without \"string\""));
    }
    let mut bitmask = None;
    if let Some(b) = bitmask_arg {
        let m = byte_extract_string(b, 0, 0, false)
            .filter(|&m| m <= u32::MAX as u64)
            .ok_or_else(|| Skip::kw(KW, format!("malformed bitmask value: {}", show(b))))?;
        bitmask = Some(m);
    }
    if dce && (string || little || big || matches!(base, 8 | 10 | 16)) {
        return Err(Skip::kw(
            KW,
            "a byte_test keyword with dce holds other invalid modifiers",
        ));
    }
    if value_var {
        value = var_ref(ctx, KW, value_s)?;
    }
    if offset_var {
        offset = var_ref(ctx, KW, offset_s)?;
    }
    let nbytes = match nbytes_lit {
        Some(n) => ValueRef::Lit((n as u8) as i64),
        None => var_ref(ctx, KW, nbytes_s)?,
    };
    if dce {
        return Err(dce_unsupported(ctx, KW));
    }
    let string = if string {
        Some(string_base(KW, base)?)
    } else {
        None
    };
    ctx.matches.push(Match::ByteTest(ByteTest {
        nbytes,
        op,
        negated,
        value,
        offset,
        relative,
        endian: if little { Endian::Little } else { Endian::Big },
        string,
        bitmask,
    }));
    Ok(())
}

/// `byte_jump:nbytes,offset[,options]` (at most 8 options).
pub(crate) fn byte_jump(ctx: &mut Ctx<'_>, v: Option<&[u8]>) -> Result<(), Skip> {
    const KW: &str = "byte_jump";
    let v = need(v, KW)?;
    let bad = || Skip::kw(KW, format!("parse error, string \"{}\"", show(v)));
    // ^\s*([^\s,]+\s*,\s*[^\s,]+)
    let i = skip_ws(v, 0);
    let e = token(v, i);
    if e == i {
        return Err(bad());
    }
    let first = i;
    let nb_end = e;
    let i = comma(v, e).ok_or_else(bad)?;
    let e = token(v, i);
    if e == i {
        return Err(bad());
    }
    if e - first > 511 {
        return Err(bad());
    }
    let trunc = |s: &'_ [u8]| -> Vec<u8> { s[..s.len().min(63)].to_vec() };
    let nbytes_s = trunc(&v[first..nb_end]);
    let offset_s = trunc(&v[i..e]);
    let opts = options(v, e, &["multiplier", "post_offset"], &|c| {
        !is_space(c) && c != b','
    })
    .ok_or_else(bad)?;
    if opts.len() > 8 {
        return Err(bad());
    }
    if opts.iter().any(|o| o.len() > 63) {
        return Err(bad());
    }

    let nbytes_var = is_var_name(&nbytes_s);
    let mut nbytes_lit = None;
    if !nbytes_var {
        nbytes_lit = Some(
            string_parse_u(&nbytes_s, 10, nbytes_s.len(), u32::MAX as u64).ok_or_else(|| {
                Skip::kw(
                    KW,
                    format!("malformed number of bytes: {}", show(&nbytes_s)),
                )
            })? as u32,
        );
    }
    let offset_var = is_var_name(&offset_s);
    let mut offset = ValueRef::Lit(0);
    if !offset_var {
        let n = parse_i32(&offset_s, 10, offset_s.len(), -65535, 65535)
            .ok_or_else(|| Skip::kw(KW, format!("malformed offset: {}", show(&offset_s))))?;
        offset = ValueRef::Lit(n as i64);
    }
    let (mut relative, mut string, mut little, mut big, mut dce) =
        (false, false, false, false, false);
    let (mut from_beginning, mut from_end, mut align) = (false, false, false);
    let mut base = 0u32;
    let mut multiplier = 1u32;
    let mut post_offset = 0i32;
    for o in &opts {
        let is = |w: &str| o.eq_ignore_ascii_case(w.as_bytes());
        let pre = |w: &str| o.len() >= w.len() && o[..w.len()].eq_ignore_ascii_case(w.as_bytes());
        if *o == b"relative" {
            relative = true;
        } else if is("string") {
            string = true;
        } else if is("dec") {
            base |= 10;
        } else if is("hex") {
            base |= 16;
        } else if is("oct") {
            base |= 8;
        } else if is("big") {
            little = false;
            big = true;
        } else if is("little") {
            little = true;
        } else if is("from_beginning") {
            from_beginning = true;
        } else if is("from_end") {
            from_end = true;
        } else if is("align") {
            align = true;
        } else if pre("multiplier ") {
            let s = &o[11..];
            multiplier = string_parse_u(s, 10, s.len(), u16::MAX as u64)
                .filter(|&m| m >= 1)
                .ok_or_else(|| Skip::kw(KW, format!("malformed multiplier: {}", show(o))))?
                as u32;
        } else if pre("post_offset ") {
            let s = &o[12..];
            post_offset = parse_i32(s, 10, s.len(), -65535, 65535)
                .ok_or_else(|| Skip::kw(KW, format!("malformed post_offset: {}", show(o))))?;
        } else if is("dce") {
            dce = true;
        } else {
            return Err(Skip::kw(KW, format!("unknown option: \"{}\"", show(o))));
        }
    }
    if from_beginning && from_end {
        return Err(Skip::kw(
            KW,
            "'from_end' and 'from_beginning' cannot be used in the same byte_jump statement",
        ));
    }
    if let Some(n) = nbytes_lit {
        let n32 = n as i32;
        if !((string && n32 <= 23) || n32 <= 8) {
            return Err(Skip::kw(
                KW,
                if string {
                    "cannot test more than 23 bytes with \"string\""
                } else {
                    "cannot test more than 8 bytes without \"string\""
                },
            ));
        }
    }
    if !string && base != 0 {
        return Err(Skip::kw(KW, "cannot use a base without \"string\""));
    }
    if dce && (string || little || big || from_beginning || from_end || matches!(base, 8 | 10 | 16))
    {
        return Err(Skip::kw(
            KW,
            "a byte_jump keyword with dce holds other invalid modifiers",
        ));
    }
    let nbytes = match nbytes_lit {
        Some(n) => ValueRef::Lit((n as u8) as i64),
        None => var_ref(ctx, KW, &nbytes_s)?,
    };
    if offset_var {
        offset = var_ref(ctx, KW, &offset_s)?;
    }
    if dce {
        return Err(dce_unsupported(ctx, KW));
    }
    let string = if string {
        Some(string_base(KW, base)?)
    } else {
        None
    };
    ctx.matches.push(Match::ByteJump(ByteJump {
        nbytes,
        offset,
        relative,
        multiplier,
        endian: if little { Endian::Little } else { Endian::Big },
        string,
        align,
        from_beginning,
        from_end,
        post_offset,
        bitmask: None,
    }));
    Ok(())
}

/// One optional slot of byte_extract's regex.
enum Slot<'a> {
    Single(&'a [u8]),
    Pair(&'a [u8], &'a [u8]),
}

/// byte_extract's `hex`/`oct`/`dec`: only after `string`, only once.
fn set_base(string: bool, base: &mut Option<NumBase>, b: NumBase, n: &str) -> Result<(), Skip> {
    if !string {
        return Err(Skip::kw(
            "byte_extract",
            format!(
                "base ({n}) specified without specifying string: the right way is (string, base)"
            ),
        ));
    }
    if base.is_some() {
        return Err(Skip::kw(
            "byte_extract",
            "more than one base specified for byte_extract",
        ));
    }
    *base = Some(b);
    Ok(())
}

/// `byte_extract:nbytes,offset,name[,options]` (at most 5 option slots).
pub(crate) fn byte_extract(ctx: &mut Ctx<'_>, v: Option<&[u8]>) -> Result<(), Skip> {
    const KW: &str = "byte_extract";
    let v = need(v, KW)?;
    let bad = || Skip::kw(KW, format!("parse error, string \"{}\"", show(v)));
    // ^\s*([0-9]+)\s*,\s*(-?[0-9]+)\s*,\s*([^\s,]+)\s*
    let digits = |i: usize| {
        let mut j = i;
        while j < v.len() && v[j].is_ascii_digit() {
            j += 1;
        }
        j
    };
    let i = skip_ws(v, 0);
    let e = digits(i);
    if e == i {
        return Err(bad());
    }
    let nbytes_s = &v[i..e];
    let i = comma(v, e).ok_or_else(bad)?;
    let ds = if v.get(i) == Some(&b'-') { i + 1 } else { i };
    let e = digits(ds);
    if e == ds {
        return Err(bad());
    }
    let offset_s = &v[i..e];
    let i = comma(v, e).ok_or_else(bad)?;
    let e = token(v, i);
    if e == i {
        return Err(bad());
    }
    let name = &v[i..e];
    // slots: `,\s*([^\s,]+)\s*` or `,\s*([^\s,]+)\s+([^\s,]+)\s*`
    let mut slots = Vec::new();
    let mut i = skip_ws(v, e);
    while i < v.len() {
        if v[i] != b',' || slots.len() == 5 {
            return Err(bad());
        }
        let s = skip_ws(v, i + 1);
        let a = token(v, s);
        if a == s {
            return Err(bad());
        }
        let n = skip_ws(v, a);
        if n == v.len() || v[n] == b',' {
            slots.push(Slot::Single(&v[s..a]));
            i = n;
            continue;
        }
        if n == a {
            return Err(bad());
        }
        let b = token(v, n);
        slots.push(Slot::Pair(&v[s..a], &v[n..b]));
        i = skip_ws(v, b);
    }
    if nbytes_s.len() > 63 || offset_s.len() > 63 || name.len() > 255 {
        return Err(bad());
    }
    let nbytes = string_parse_u(nbytes_s, 10, 0, u8::MAX as u64).ok_or_else(|| {
        Skip::kw(
            KW,
            format!(
                "invalid value for number of bytes to be extracted: \"{}\"",
                show(nbytes_s)
            ),
        )
    })? as u8;
    let offset = parse_i32(offset_s, 10, 0, -65535, 65535).ok_or_else(|| {
        Skip::kw(
            KW,
            format!("invalid value for offset: \"{}\"", show(offset_s)),
        )
    })?;

    // the capture groups in order, unset ones as None (Suricata reads them as "")
    let mut groups: Vec<Option<&[u8]>> = Vec::new();
    for s in &slots {
        match *s {
            Slot::Single(t) => groups.extend([Some(t), None, None]),
            Slot::Pair(n, val) => groups.extend([None, Some(n), Some(val)]),
        }
    }
    while groups.last() == Some(&None) {
        groups.pop();
    }
    let (mut relative, mut string, mut mult_set, mut align_set) = (false, false, false, false);
    let mut endian: Option<Endian> = None;
    let mut base: Option<NumBase> = None;
    let mut multiplier = 1u32;
    let mut align = 0u8;
    let mut k = 0;
    while k < groups.len() {
        let o = groups[k].unwrap_or(b"");
        if o.len() > 63 {
            return Err(bad());
        }
        let mut set_endian = |e: Endian| {
            if endian.is_some() {
                return Err(Skip::kw(
                    KW,
                    "endian option specified more than once for byte_extract",
                ));
            }
            endian = Some(e);
            Ok(())
        };
        match o {
            b"relative" => {
                if relative {
                    return Err(Skip::kw(KW, "relative specified more than once"));
                }
                relative = true;
            }
            b"multiplier" | b"align" => {
                let is_mult = o == b"multiplier";
                if (is_mult && mult_set) || (!is_mult && align_set) {
                    return Err(Skip::kw(
                        KW,
                        format!("{} specified more than once", show(o)),
                    ));
                }
                k += 1;
                let Some(Some(val)) = groups.get(k) else {
                    return Err(Skip::kw(KW, format!("{} needs a value", show(o))));
                };
                if val.len() > 15 {
                    return Err(bad());
                }
                if is_mult {
                    mult_set = true;
                    multiplier = string_parse_u(val, 10, 0, u16::MAX as u64)
                        .filter(|&m| m >= 1)
                        .ok_or_else(|| {
                            Skip::kw(
                                KW,
                                format!("invalid value for multiplier: \"{}\"", show(val)),
                            )
                        })? as u32;
                } else {
                    align_set = true;
                    align = string_parse_u(val, 10, 0, u8::MAX as u64).ok_or_else(|| {
                        Skip::kw(KW, format!("invalid align_value: \"{}\"", show(val)))
                    })? as u8;
                    if align != 2 && align != 4 {
                        return Err(Skip::kw(
                            KW,
                            format!("invalid align_value for byte_extract - \"{align}\""),
                        ));
                    }
                }
            }
            b"big" => set_endian(Endian::Big)?,
            b"little" => set_endian(Endian::Little)?,
            b"dce" => set_endian(Endian::Dce)?,
            b"string" => {
                if string {
                    return Err(Skip::kw(KW, "string specified more than once"));
                }
                if base.is_some() {
                    return Err(Skip::kw(
                        KW,
                        "the right way to specify base is (string, base) and not (base, string)",
                    ));
                }
                string = true;
            }
            b"hex" => set_base(string, &mut base, NumBase::Hex, "hex")?,
            b"oct" => set_base(string, &mut base, NumBase::Oct, "oct")?,
            b"dec" => set_base(string, &mut base, NumBase::Dec, "dec")?,
            b"" => {}
            o => {
                return Err(Skip::kw(
                    KW,
                    format!("invalid option - \"{}\" specified in byte_extract", show(o)),
                ))
            }
        }
        k += 1;
    }
    let string = if string {
        let b = base.unwrap_or(NumBase::Dec);
        if endian.is_some() {
            return Err(Skip::kw(
                KW,
                "byte_extract can't have endian \"big\" or \"little\" specified along with \"string\"",
            ));
        }
        let max = match b {
            NumBase::Oct => 23,
            NumBase::Dec => 20,
            NumBase::Hex => 14,
        };
        if nbytes > max {
            return Err(Skip::kw(
                KW,
                format!(
                    "byte_extract can't process more than {max} bytes in \"string\" extraction"
                ),
            ));
        }
        Some(b)
    } else {
        if nbytes > 8 {
            return Err(Skip::kw(
                KW,
                "byte_extract can't process more than 8 bytes in \"non-string\" extraction",
            ));
        }
        None
    };
    let endian = endian.unwrap_or(Endian::Big);
    if endian == Endian::Dce {
        return Err(dce_unsupported(ctx, KW));
    }
    let var = define_var(ctx, name, false)?;
    ctx.matches.push(Match::ByteExtract(ByteExtract {
        nbytes,
        offset,
        var,
        name: show(name),
        relative,
        multiplier,
        endian,
        string,
        align,
        bitmask: None,
    }));
    Ok(())
}

/// Rust's `str::trim`.
fn trim(s: &str) -> &str {
    s.trim()
}

/// `parse_token`: leading whitespace, then up to one of `\n\r\t,;: `.
fn parse_token(s: &str) -> Option<&str> {
    let s = s.trim_start_matches([' ', '\t', '\r', '\n']);
    let e = s
        .find(['\n', '\r', '\t', ',', ';', ':', ' '])
        .unwrap_or(s.len());
    if e == 0 {
        None
    } else {
        Some(&s[..e])
    }
}

/// `byte_math:bytes N, offset N, oper OP, rvalue V, result NAME[, relative][, endian E]
/// [, string BASE][, dce][, bitmask N]` — keys in any order, 5 to 10 of them.
pub(crate) fn byte_math(ctx: &mut Ctx<'_>, v: Option<&[u8]>) -> Result<(), Skip> {
    const KW: &str = "byte_math";
    let v = need(v, KW)?;
    let bad = |why: String| Skip::kw(KW, format!("invalid bytemath values: {why}"));
    let text = std::str::from_utf8(v).map_err(|_| bad("not UTF-8".into()))?;
    // separated_list1(",", preceded(multispace0, is_not(","))); stops at the first empty item
    let mut values: Vec<&str> = Vec::new();
    let mut rest = text;
    loop {
        let t = rest.trim_start_matches([' ', '\t', '\r', '\n']);
        let e = t.find(',').unwrap_or(t.len());
        if e == 0 {
            if values.is_empty() {
                return Err(bad("empty".into()));
            }
            break;
        }
        values.push(&t[..e]);
        if e == t.len() {
            break;
        }
        rest = &t[e + 1..];
    }
    if !(5..=10).contains(&values.len()) {
        return Err(bad(format!("{} values (5 to 10 expected)", values.len())));
    }
    let mut nbytes_lit: Option<u8> = None;
    let mut nbytes_var: Option<&str> = None;
    let mut offset: Option<i32> = None;
    let mut op: Option<ByteMathOp> = None;
    let mut rvalue_lit: Option<u32> = None;
    let mut rvalue_var: Option<&str> = None;
    let mut result: Option<&str> = None;
    let (mut relative, mut endian_set) = (false, false);
    let mut endian = Endian::Big;
    let mut string: Option<NumBase> = None;
    let mut bitmask: Option<u64> = None;
    for value in values {
        let ne = value.find([' ', '\t', '\r', '\n']).unwrap_or(value.len());
        let (name, val) = (trim(&value[..ne]), trim(&value[ne..]));
        let dup = |what: &str| Err(bad(format!("{what} already set")));
        match name {
            "oper" => {
                if op.is_some() {
                    return dup("operator");
                }
                op = Some(match val {
                    "+" => ByteMathOp::Add,
                    "-" => ByteMathOp::Sub,
                    "/" => ByteMathOp::Div,
                    "*" => ByteMathOp::Mul,
                    "<<" => ByteMathOp::Shl,
                    ">>" => ByteMathOp::Shr,
                    _ => return Err(bad(format!("unknown oper value {val}"))),
                });
            }
            "result" => {
                if result.is_some() {
                    return dup("result");
                }
                result = Some(val);
            }
            "rvalue" => {
                if rvalue_lit.is_some() || rvalue_var.is_some() {
                    return dup("rvalue");
                }
                let t = parse_token(val).ok_or_else(|| bad("empty rvalue".into()))?;
                match t.parse::<u64>() {
                    Ok(n) if n <= u32::MAX as u64 => rvalue_lit = Some(n as u32),
                    Ok(n) => return Err(bad(format!("invalid rvalue value {n}"))),
                    Err(_) => rvalue_var = Some(t),
                }
            }
            "endian" | "dce" => {
                if endian_set {
                    return dup("endianess");
                }
                endian_set = true;
                endian = if name == "dce" {
                    Endian::Dce
                } else {
                    match val {
                        "big" => Endian::Big,
                        "little" => Endian::Little,
                        "dce" => Endian::Dce,
                        _ => return Err(bad(format!("invalid endian value: {val}"))),
                    }
                };
            }
            "string" => {
                if string.is_some() {
                    return dup("string");
                }
                string = Some(match val {
                    "hex" => NumBase::Hex,
                    "oct" => NumBase::Oct,
                    "dec" => NumBase::Dec,
                    _ => return Err(bad(format!("invalid string value: {val}"))),
                });
            }
            "relative" => {
                if relative {
                    return dup("relative");
                }
                relative = true;
            }
            "bitmask" => {
                if bitmask.is_some() {
                    return dup("bitmask");
                }
                let t = val
                    .strip_prefix("0x")
                    .or_else(|| val.strip_prefix("0X"))
                    .unwrap_or(val);
                let m = u32::from_str_radix(t, 16)
                    .map_err(|_| bad(format!("invalid bitmask value: {value}")))?;
                bitmask = Some(m as u64);
            }
            "offset" => {
                if offset.is_some() {
                    return dup("offset");
                }
                let o: i32 = val
                    .parse()
                    .map_err(|_| bad(format!("invalid offset value: {val}")))?;
                if !(-65535..=65535).contains(&o) {
                    return Err(bad(format!("invalid offset value: {val}")));
                }
                offset = Some(o);
            }
            "bytes" => {
                if nbytes_lit.is_some() || nbytes_var.is_some() {
                    return dup("nbytes");
                }
                let t = parse_token(val).ok_or_else(|| bad("empty bytes".into()))?;
                match t.parse::<u64>() {
                    Ok(n) if (1..=10).contains(&n) => nbytes_lit = Some(n as u8),
                    Ok(n) => return Err(bad(format!("invalid nbytes value {n}"))),
                    Err(_) => nbytes_var = Some(t),
                }
            }
            _ => return Err(bad(format!("unknown byte_math keyword: {name}"))),
        }
    }
    let (Some(offset), Some(op), Some(result)) = (offset, op, result) else {
        return Err(bad("required byte_math parameters missing".into()));
    };
    if nbytes_lit.is_none() && nbytes_var.is_none() || rvalue_lit.is_none() && rvalue_var.is_none()
    {
        return Err(bad("required byte_math parameters missing".into()));
    }
    if matches!(op, ByteMathOp::Shl | ByteMathOp::Shr) && nbytes_lit.unwrap_or(0) > 4 {
        return Err(bad("nbytes must be 1 through 4 with << or >>".into()));
    }
    if endian == Endian::Dce {
        // the base defaults to dec, which Suricata refuses with dce
        return Err(Skip::kw(
            KW,
            "a bytemath keyword with dce holds other invalid modifiers",
        ));
    }
    let nbytes = match (nbytes_lit, nbytes_var) {
        (Some(n), _) => ValueRef::Lit(n as i64),
        (None, Some(name)) => var_ref(ctx, KW, name.as_bytes())?,
        _ => unreachable!(),
    };
    let rvalue = match (rvalue_lit, rvalue_var) {
        (Some(n), _) => ValueRef::Lit(n as i64),
        (None, Some(name)) => var_ref(ctx, KW, name.as_bytes())?,
        _ => unreachable!(),
    };
    let var = define_var(ctx, result.as_bytes(), true)?;
    ctx.matches.push(Match::ByteMath(ByteMath {
        nbytes,
        offset,
        op,
        rvalue,
        var,
        name: result.to_string(),
        relative,
        endian,
        string,
        bitmask,
    }));
    Ok(())
}

/// `bsize` is only valid on a sticky buffer, and ravn has none (every sticky-buffer keyword is
/// unsupported, so a rule reaching this point has no active buffer): Suricata rejects it.
pub(crate) fn bsize(_ctx: &mut Ctx<'_>, v: Option<&[u8]>) -> Result<(), Skip> {
    need(v, "bsize")?;
    Err(Skip::kw(
        "bsize",
        "bsize needs a sticky buffer (it does not apply to the packet payload)",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::{parse_rule, Vars};

    fn m(opts: &str) -> Result<Vec<Match>, String> {
        parse_rule(
            &format!("alert tcp any any -> any any (msg:\"t\"; {opts} sid:1;)"),
            &Vars::suricata_default(),
            None,
        )
        .map(|r| r.matches)
        .map_err(|e| e.key)
    }

    fn last(opts: &str) -> Match {
        m(opts).unwrap().pop().unwrap()
    }

    #[test]
    fn byte_test_forms() {
        assert_eq!(
            last("byte_test: 2 , ! <= , 0x10 , -3 , relative , little , bitmask 0xf0 ;"),
            Match::ByteTest(ByteTest {
                nbytes: ValueRef::Lit(2),
                op: ByteTestOp::Le,
                negated: true,
                value: ValueRef::Lit(16),
                offset: ValueRef::Lit(-3),
                relative: true,
                endian: Endian::Little,
                string: None,
                bitmask: Some(0xf0),
            })
        );
        let Match::ByteTest(b) = last("byte_test:2,!,5x,010,string,dec,little,big;") else {
            panic!()
        };
        assert_eq!(
            (b.op, b.negated, b.value, b.offset, b.string, b.endian),
            (
                ByteTestOp::Eq,
                true,
                ValueRef::Lit(5),
                ValueRef::Lit(8),
                Some(NumBase::Dec),
                Endian::Big
            )
        );
        let Match::ByteTest(b) = last("byte_test:2,^,-1,0;") else {
            panic!()
        };
        assert_eq!((b.op, b.value), (ByteTestOp::Xor, ValueRef::Lit(-1)));
        let Match::ByteTest(b) = last("byte_test:2,=,1,0,string,dec,oct;") else {
            panic!()
        };
        assert_eq!(b.string, Some(NumBase::Dec));
        assert!(m("byte_test:0,=,5,0;").is_ok());
        assert!(m("byte_test:4294967295,=,5,0;").is_ok());
        assert!(m("byte_test:2,=,5,0,bitmask 0x;").is_ok());
        for bad in [
            "byte_test:2,,5,0;",
            "byte_test:2,==,5,0;",
            "byte_test:9,=,5,0;",
            "byte_test:24,=,5,0,string,dec;",
            "byte_test:2,=,5,0,dec;",
            "byte_test:2,=,5,0,dce,string;",
            "byte_test:2,=,5,0,bitmask 0x1ffffffff;",
            "byte_test:2,=,5,0,bitmask;",
            "byte_test:2,=,5,0,relative,relative,relative,relative,relative,relative;",
            "byte_test:2,=,5,0,foo;",
            "byte_test:2,=,5,0,RELATIVE;",
            "byte_test:2,=,5;",
            "byte_test:2,=,x,0;",
            "byte_test:2x,=,5,0;",
            "byte_test:2,=,18446744073709551616,0;",
            "byte_test:2,=,5,2147483648;",
            "byte_test:-1,=,5,0;",
            "byte_test:2,=,5,0,relative foo;",
            "byte_test:2,=,5,0 x;",
        ] {
            assert_eq!(m(bad).unwrap_err(), "invalid:byte_test", "{bad}");
        }
        assert_eq!(m("byte_test:2,=,5,0,dce;").unwrap_err(), "dce");
        assert_eq!(
            m("byte_test:2,=,5,0,string;").unwrap_err(),
            "byte-string-auto-base"
        );
        assert_eq!(
            m("byte_test:2,=,5,0,string,hex,dec;").unwrap_err(),
            "byte-base-combo"
        );
    }

    #[test]
    fn byte_jump_forms() {
        assert_eq!(
            last("byte_jump:4,0,relative,little,align,multiplier  2,post_offset -3,from_end;"),
            Match::ByteJump(ByteJump {
                nbytes: ValueRef::Lit(4),
                offset: ValueRef::Lit(0),
                relative: true,
                multiplier: 2,
                endian: Endian::Little,
                string: None,
                align: true,
                from_beginning: false,
                from_end: true,
                post_offset: -3,
                bitmask: None,
            })
        );
        let Match::ByteJump(b) = last("byte_jump:4,+5,String,Dec;") else {
            panic!()
        };
        assert_eq!((b.offset, b.string), (ValueRef::Lit(5), Some(NumBase::Dec)));
        for bad in [
            "byte_jump:4,0,from_beginning,from_end;",
            "byte_jump:9,0;",
            "byte_jump:24,0,string,dec;",
            "byte_jump:4,0,dec;",
            "byte_jump:4,0,bitmask 0xff;",
            "byte_jump:4,0,multiplier 0;",
            "byte_jump:4,0,multiplier 65536;",
            "byte_jump:4,0,post_offset 65536;",
            "byte_jump:4,65536;",
            "byte_jump:4,0x10;",
            "byte_jump:4,x;",
            "byte_jump:4,0,dce,from_beginning;",
            "byte_jump:4,0,foo;",
            "byte_jump:4;",
            "byte_jump:4,0,relative,relative,relative,relative,relative,relative,relative,relative,relative;",
            "byte_jump:4,0,multiplier\t2;",
            "byte_jump:4,0,MULTIPLIER 2;",
            "byte_jump:4,0,Relative;",
            "byte_jump:4 0;",
            "byte_jump:4,5x;",
            "byte_jump:4,0,post_offset;",
        ] {
            assert_eq!(m(bad).unwrap_err(), "invalid:byte_jump", "{bad}");
        }
        assert!(m("byte_jump:4,0,relative,relative,relative,relative,relative,relative,relative,relative;").is_ok());
        assert_eq!(m("byte_jump:4,0,dce;").unwrap_err(), "dce");
        assert_eq!(
            m("byte_jump:4,0,string;").unwrap_err(),
            "byte-string-auto-base"
        );
    }

    #[test]
    fn byte_extract_and_vars() {
        let r = m("byte_extract:2,1,len,relative,multiplier 2,little,align 4; byte_extract:3,0,n,string,hex; byte_test:n,>,len,len; byte_jump:n,len;").unwrap();
        assert_eq!(
            r[0],
            Match::ByteExtract(ByteExtract {
                nbytes: 2,
                offset: 1,
                var: 0,
                name: "len".into(),
                relative: true,
                multiplier: 2,
                endian: Endian::Little,
                string: None,
                align: 4,
                bitmask: None,
            })
        );
        assert!(
            matches!(&r[1], Match::ByteExtract(b) if b.var == 1 && b.string == Some(NumBase::Hex))
        );
        assert!(matches!(&r[2], Match::ByteTest(b)
            if b.nbytes == ValueRef::Var(1) && b.value == ValueRef::Var(0) && b.offset == ValueRef::Var(0)));
        assert!(matches!(&r[3], Match::ByteJump(b)
            if b.nbytes == ValueRef::Var(1) && b.offset == ValueRef::Var(0)));
        // a repeated name refers to the first definition
        let r = m("byte_extract:1,0,x; byte_extract:1,1,x; byte_test:1,=,x,0;").unwrap();
        assert!(matches!(&r[1], Match::ByteExtract(b) if b.var == 1));
        assert!(matches!(&r[2], Match::ByteTest(b) if b.value == ValueRef::Var(0)));
        // "string hex" as one slot is a string with a base
        assert!(
            matches!(last("byte_extract:1,0,x,string hex;"), Match::ByteExtract(b) if b.string == Some(NumBase::Hex))
        );
        assert!(
            matches!(last("byte_extract:1,0,x,string;"), Match::ByteExtract(b) if b.string == Some(NumBase::Dec))
        );
        assert!(m("byte_extract:0,-65535,1x;").is_ok());
        for bad in [
            "byte_extract:1,0,x,hex,string;",
            "byte_extract:1,0,x,string,hex,dec;",
            "byte_extract:9,0,x;",
            "byte_extract:21,0,x,string,dec;",
            "byte_extract:15,0,x,string,hex;",
            "byte_extract:24,0,x,string,oct;",
            "byte_extract:1,0,x,string,little;",
            "byte_extract:1,0,x,align 3;",
            "byte_extract:1,0,x,relative,relative;",
            "byte_extract:1,0,x,big,little;",
            "byte_extract:1,65536,x;",
            "byte_extract:256,0,x;",
            "byte_extract:1,0,x,multiplier 0;",
            "byte_extract:1,0,x,foo;",
            "byte_extract:1,0,x,multiplier;",
            "byte_extract:1,0,x,bitmask 0xff;",
            "byte_extract:1,0,x,Relative;",
            "byte_extract:1,0,x,multiplier 2 3;",
            "byte_extract:1,0,x,,relative;",
            "byte_extract:1,0,x y;",
            "byte_extract:1,0,x,relative 5;",
        ] {
            assert_eq!(m(bad).unwrap_err(), "invalid:byte_extract", "{bad}");
        }
        assert_eq!(m("byte_extract:1,0,x,dce;").unwrap_err(), "dce");
    }

    #[test]
    fn byte_math_forms() {
        assert_eq!(
            last("byte_math:bytes 4, offset -3, oper <<, rvalue 10, result r, relative, endian little, string dec, bitmask 0xff;"),
            Match::ByteMath(ByteMath {
                nbytes: ValueRef::Lit(4),
                offset: -3,
                op: ByteMathOp::Shl,
                rvalue: ValueRef::Lit(10),
                var: 0,
                name: "r".into(),
                relative: true,
                endian: Endian::Little,
                string: Some(NumBase::Dec),
                bitmask: Some(0xff),
            })
        );
        let r = m("byte_math:result r, rvalue +1, oper /, offset +0, bytes 2,,junk; byte_math:bytes 1,offset 0,oper +,rvalue r,result s; byte_test:1,=,s,0;").unwrap();
        assert!(matches!(&r[1], Match::ByteMath(b) if b.rvalue == ValueRef::Var(0) && b.var == 1));
        assert!(matches!(&r[2], Match::ByteTest(b) if b.value == ValueRef::Var(1)));
        assert!(
            m("byte_math:bytes 1, offset 0, oper +, rvalue 1 2, result r s, relative foo;").is_ok()
        );
        for bad in [
            "byte_math:bytes 5, offset 0, oper <<, rvalue 1, result r;",
            "byte_math:bytes 11, offset 0, oper +, rvalue 1, result r;",
            "byte_math:bytes 0, offset 0, oper +, rvalue 1, result r;",
            "byte_math:offset 0, oper +, rvalue 1, result r;",
            "byte_math:bytes 1, offset 0, oper %, rvalue 1, result r;",
            "byte_math:bytes 1, offset 0, oper +, rvalue x, result r;",
            "byte_math:bytes 1, offset 0, oper +, rvalue 1, result r, dce;",
            "byte_math:bytes 1, offset 0, oper +, rvalue 1, result r, endian dce;",
            "byte_math:bytes 1, offset 0, oper +, rvalue 1, result r, relative, relative;",
            "byte_math:bytes 1, offset 0, oper +, rvalue 4294967296, result r;",
            "byte_math:bytes 1, offset 65536, oper +, rvalue 1, result r;",
            "byte_math:bytes 1, offset 0, oper +, rvalue 1, result r, string;",
            "byte_math:bytes 1, offset 0, oper +, rvalue 1, result r, bitmask 0x;",
            "byte_math:bytes 1, offset 0, oper +, rvalue 1, result r, BYTES 1;",
            "byte_math:bytes 1, offset 0, oper +, rvalue -1, result r;",
        ] {
            assert_eq!(m(bad).unwrap_err(), "invalid:byte_math", "{bad}");
        }
        assert_eq!(
            m("byte_extract:1,0,x; byte_math:bytes 1, offset 0, oper +, rvalue x, result r;")
                .unwrap_err(),
            "byte-var-mix"
        );
    }

    #[test]
    fn content_vars_and_bsize() {
        for ok in [
            "byte_extract:1,0,x; content:\"a\"; offset:x;",
            "byte_extract:1,0,x; content:\"a\"; depth:x;",
            "byte_extract:1,0,x; content:\"a\"; distance:x;",
            "byte_extract:1,0,x; content:\"a\"; within:x;",
            "byte_extract:1,0,x; isdataat:x;",
            "byte_math:bytes 1, offset 0, oper +, rvalue 1, result r; content:\"a\"; offset:r;",
        ] {
            assert!(m(ok).is_ok(), "{ok}");
        }
        assert_eq!(m("content:\"a\"; offset:x;").unwrap_err(), "invalid:offset");
        assert_eq!(m("isdataat:x;").unwrap_err(), "invalid:isdataat");
        assert_eq!(m("bsize:5;").unwrap_err(), "invalid:bsize");
        assert_eq!(m("content:\"a\"; bsize:5;").unwrap_err(), "invalid:bsize");
    }
}
