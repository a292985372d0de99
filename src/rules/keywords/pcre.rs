//! `pcre:[!]"/pattern/flags"` (Suricata 7.0.10's `detect-pcre.c`).
//!
//! The pattern is the text between the first unescaped `/` and the last `/` that is not
//! escaped, passed to PCRE2 **verbatim**: Suricata does no unescaping (`\;`, `\"`, `\/` reach
//! PCRE2 as written, where they are literal characters). It is compiled with the flags' options,
//! without UTF/UCP (the pattern and the subject are bytes), and with `PCRE2_NO_AUTO_CAPTURE`
//! unless that fails with "reference to non-existent subpattern" (then again without it).
//! A pattern PCRE2 rejects makes the rule invalid.

use crate::rules::ast::{Match, Pcre};
use crate::rules::cnum::show;
use crate::rules::parse::{need, Ctx, Skip};

/// PCRE2's compile error 115: "reference to non-existent subpattern".
const ERR_NONEXISTENT_SUBPATTERN: i32 = 115;

/// The HTTP buffer a modifier letter selects (ravn has no HTTP buffers: such rules are
/// skipped as unsupported once they are known to be valid).
fn http_buffer(c: u8) -> Option<&'static str> {
    Some(match c {
        b'U' => "http_uri",
        b'V' => "http_user_agent",
        b'W' => "http_host",
        b'Z' => "http_raw_host",
        b'H' => "http_header",
        b'I' => "http_raw_uri",
        b'D' => "http_raw_header",
        b'M' => "http_method",
        b'C' => "http_cookie",
        b'P' => "http_client_body",
        b'Q' => "file_data",
        b'Y' => "http_stat_msg",
        b'S' => "http_stat_code",
        _ => return None,
    })
}

/// The capture-name suffix (`/re/flags, flow:name` or `pkt:name`) that Suricata cuts off
/// before parsing: returns the length of the part that is parsed and the names, if any.
fn cut_capture(s: &[u8]) -> (usize, Option<&[u8]>) {
    let find = |pat: &[u8]| s.windows(pat.len()).position(|w| w == pat);
    let cut = match (find(b"flow:"), find(b"pkt:")) {
        (None, None) => return (s.len(), None),
        (Some(a), None) | (None, Some(a)) => a,
        (Some(a), Some(b)) => a.min(b),
    };
    if cut <= 1 {
        return (s.len(), None);
    }
    let mut offset = cut - 1;
    while offset > 0 && (s[offset] == b',' || s[offset] == b' ') {
        offset -= 1;
    }
    if cut == offset + 1 {
        // no separator before it: part of the regex
        return (s.len(), None);
    }
    let mut names = &s[cut..];
    if names.len() > 1023 {
        names = &names[..1023];
    }
    if names.last() == Some(&b'"') {
        names = &names[..names.len() - 1];
    }
    (offset + 1, Some(names))
}

/// Suricata's `(?<!\\)/(.*(?<!(?<!\\)\\))/([^"]*)` (unanchored, greedy): the pattern and the
/// flags.
fn split_regex(s: &[u8]) -> Option<(&[u8], &[u8])> {
    for p in 0..s.len() {
        if s[p] != b'/' || (p > 0 && s[p - 1] == b'\\') {
            continue;
        }
        // the last closing '/' not preceded by a single (unescaped) backslash
        for q in (p + 1..s.len()).rev() {
            if s[q] != b'/' || s[p + 1..q].contains(&b'\n') {
                continue;
            }
            let escaped = s[q - 1] == b'\\' && !(q >= 2 && s[q - 2] == b'\\');
            if escaped {
                continue;
            }
            let rest = &s[q + 1..];
            let flags_end = rest.iter().position(|&c| c == b'"').unwrap_or(rest.len());
            return Some((&s[p + 1..q], &rest[..flags_end]));
        }
    }
    None
}

/// `DetectPcreHasUpperCase`: an uppercase letter outside `\x` escapes.
fn has_upper_case(re: &[u8]) -> bool {
    let mut is_meta = false;
    let mut is_meta_hex = false;
    let mut hex_cnt = 0;
    for &c in re {
        if is_meta_hex {
            hex_cnt += 1;
            if hex_cnt == 2 {
                is_meta_hex = false;
                hex_cnt = 0;
            }
        } else if is_meta {
            if c == b'x' {
                is_meta_hex = true;
            } else {
                is_meta = false;
            }
        } else if c == b'\\' {
            is_meta = true;
        } else if c.is_ascii_uppercase() {
            return true;
        }
    }
    false
}

/// Length of the leading PCRE2 start-of-pattern items (`(*UTF)`, `(*LIMIT_MATCH=9)`, ...):
/// inline options must come after them.
fn leading_verbs(pat: &str) -> usize {
    let b = pat.as_bytes();
    let mut i = 0;
    while b[i..].starts_with(b"(*") {
        let mut j = i + 2;
        while j < b.len()
            && (b[j].is_ascii_uppercase() || b[j].is_ascii_digit() || b"_=".contains(&b[j]))
        {
            j += 1;
        }
        if j == i + 2 || b.get(j) != Some(&b')') {
            break;
        }
        i = j + 1;
    }
    i
}

/// A PCRE2 compile failure: the message and the offset in the rule's pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PcreCompileError {
    pub offset: usize,
    pub message: String,
}

/// Compile a rule's `pcre` as Suricata 7.0.10 does, as far as the `pcre2` crate allows:
/// caseless/dotall/multiline/extended as options; `PCRE2_NO_AUTO_CAPTURE` as a leading `(?n)`
/// (dropped again when compiling fails with error 115, like Suricata); `G` (ungreedy) as a
/// leading `(?U)`. `A` (anchored) and `E` (dollar-endonly) have no inline form: the caller must
/// apply them when matching (they never make a pattern invalid).
pub fn compile(p: &Pcre, jit: bool) -> Result<pcre2::bytes::Regex, PcreCompileError> {
    let v = leading_verbs(&p.pattern);
    let build = |no_auto_capture: bool| {
        let mut inline = String::new();
        if no_auto_capture {
            inline.push_str("(?n)");
        }
        if p.ungreedy {
            inline.push_str("(?U)");
        }
        let mut pat = String::with_capacity(p.pattern.len() + inline.len());
        pat.push_str(&p.pattern[..v]);
        pat.push_str(&inline);
        pat.push_str(&p.pattern[v..]);
        let r = pcre2::bytes::RegexBuilder::new()
            .caseless(p.caseless)
            .dotall(p.dotall)
            .multi_line(p.multiline)
            .extended(p.extended)
            .jit_if_available(jit)
            .build(&pat);
        (r, inline.len())
    };
    let (mut r, mut shift) = build(true);
    if matches!(&r, Err(e) if e.code() == ERR_NONEXISTENT_SUBPATTERN) {
        (r, shift) = build(false);
    }
    r.map_err(|e| {
        let off = e.offset().unwrap_or(0);
        let off = if off >= v + shift {
            off - shift
        } else {
            off.min(v)
        };
        let full = e.to_string();
        // "PCRE2: error compiling pattern at offset N: message"
        let message = full
            .split_once(": ")
            .and_then(|(_, rest)| rest.split_once(": ").map(|(_, m)| m.to_string()))
            .unwrap_or(full);
        PcreCompileError {
            offset: off,
            message,
        }
    })
}

fn capture_skip() -> Skip {
    Skip::unsupported(
        "pcre-capture",
        "pcre capturing into pkt/flow variables is not supported",
    )
}

/// Direction of an HTTP buffer's inspection engines: (to server, to client).
fn http_buffer_dirs(b: &str) -> (bool, bool) {
    match b {
        "http_header" | "http_raw_header" | "http_cookie" | "file_data" => (true, true),
        "http_stat_msg" | "http_stat_code" => (false, true),
        _ => (true, false),
    }
}

/// End of parsing, for rules with HTTP pcre modifiers (Suricata's `SigValidate` buffer
/// checks): packet keywords cannot be mixed with app-layer buffers, `http_raw_header` needs
/// one flow direction, and the buffers' directions must agree with each other and with `flow`.
/// `dirs` is the rule's direction from its `flow` keywords (both when none).
pub(crate) fn finish_http(ctx: &Ctx<'_>, dirs: (bool, bool)) -> Result<(), Skip> {
    if ctx.http_pcre.is_empty() {
        return Ok(());
    }
    if ctx.require_packet {
        return Err(Skip::kw(
            "pcre",
            "signature combines packet specific matches (like dsize, flags, ttl) with stream / state matching by matching on app layer proto",
        ));
    }
    if ctx.http_pcre.contains(&"http_raw_header") && dirs == (true, true) {
        return Err(Skip::kw(
            "pcre",
            "http_raw_header signature without a flow direction",
        ));
    }
    let (mut ts_excl, mut tc_excl) = (false, false);
    for b in &ctx.http_pcre {
        match http_buffer_dirs(b) {
            (true, false) => ts_excl = true,
            (false, true) => tc_excl = true,
            _ => {}
        }
    }
    let conflict = match (ts_excl, tc_excl) {
        (true, true) => true,
        (true, false) => dirs == (false, true),
        (false, true) => dirs == (true, false),
        (false, false) => false,
    };
    if conflict {
        return Err(Skip::kw(
            "pcre",
            "rule mixes keywords with conflicting directions",
        ));
    }
    Ok(())
}

pub(crate) fn pcre(ctx: &mut Ctx<'_>, v: Option<&[u8]>) -> Result<(), Skip> {
    let v = need(v, "pcre")?;
    let (parse_len, capture_names) = cut_capture(v);
    let (re, flags) = split_regex(&v[..parse_len])
        .ok_or_else(|| Skip::kw("pcre", format!("pcre parse error: {}", show(v))))?;
    // the flags are copied into 64 bytes; Suricata's subject includes the string's NUL, which
    // the flags group takes too when it runs to the end
    let flags_end = flags.as_ptr() as usize + flags.len() - v.as_ptr() as usize;
    let with_nul = capture_names.is_none() && flags_end == v.len();
    if flags.len() + usize::from(with_nul) > 63 {
        return Err(Skip::kw("pcre", "too many pcre modifiers"));
    }
    let mut p = Pcre {
        pattern: show(re),
        negated: ctx.negated,
        ..Pcre::default()
    };
    let mut buffer: Option<&'static str> = None;
    let mut buffer_error = false;
    let mut check_host = false;
    for &c in flags {
        match c {
            b'A' => p.anchored = true,
            b'E' => p.dollar_endonly = true,
            b'G' => p.ungreedy = true,
            b'i' => p.caseless = true,
            b'm' => p.multiline = true,
            b's' => p.dotall = true,
            b'x' => p.extended = true,
            b'O' => p.no_match_limit = true,
            b'R' => p.relative = true,
            b'B' => {
                if buffer.is_some() || buffer_error {
                    return Err(Skip::kw(
                        "pcre",
                        "regex modifier 'B' inconsistent with chosen buffer",
                    ));
                }
                p.rawbytes = true;
            }
            _ => {
                let Some(name) = http_buffer(c) else {
                    return Err(Skip::kw(
                        "pcre",
                        format!("unknown regex modifier '{}'", c as char),
                    ));
                };
                if p.rawbytes && !matches!(c, b'D' | b'P' | b'Q' | b'Y' | b'S') {
                    return Err(Skip::kw(
                        "pcre",
                        format!("regex modifier '{}' inconsistent with 'B'", c as char),
                    ));
                }
                if buffer.is_some() || buffer_error {
                    buffer_error = true;
                } else {
                    buffer = Some(name);
                }
                check_host |= c == b'W';
            }
        }
    }
    if buffer_error {
        return Err(Skip::kw(
            "pcre",
            "only one pcre option to specify a buffer type is allowed",
        ));
    }
    if check_host && !p.caseless && has_upper_case(re) {
        return Err(Skip::kw(
            "pcre",
            "pcre host (\"W\") specified has an uppercase char",
        ));
    }
    compile(&p, false).map_err(|e| {
        Skip::kw(
            "pcre",
            format!(
                "pcre2 compile of \"{}\" failed at offset {}: {}",
                show(v),
                e.offset,
                e.message
            ),
        )
    })?;
    let named_var = v
        .windows(8)
        .any(|w| w == b"(?P<pkt_" || w.starts_with(b"(?P<flow_"));
    let capture = capture_names.is_some_and(|n| !n.is_empty()) || named_var;
    if let Some(b) = buffer {
        // relative to an earlier pcre of the same HTTP buffer (the only HTTP match ravn can
        // have seen: every other HTTP keyword is unsupported)
        if p.relative && !ctx.http_pcre.contains(&b) {
            return Err(Skip::kw(
                "pcre",
                "pcre with /R (relative) needs preceding match in the same buffer",
            ));
        }
        // valid so far: the buffer's checks run at the end of parsing, then the rule is
        // skipped as unsupported
        ctx.http_pcre.push(b);
        if ctx.deferred.is_none() {
            ctx.deferred = Some(if capture {
                capture_skip()
            } else {
                Skip::unsupported(
                    "pcre-http-modifier",
                    format!(
                        "pcre modifier for the {b} buffer (app-layer buffers are not supported)"
                    ),
                )
            });
        }
        return Ok(());
    }
    if capture {
        return Err(capture_skip());
    }
    if p.relative
        && !ctx
            .matches
            .iter()
            .any(|m| matches!(m, Match::Content(_) | Match::Pcre(_)))
    {
        return Err(Skip::kw(
            "pcre",
            "pcre with /R (relative) needs preceding match in the same buffer",
        ));
    }
    ctx.matches.push(Match::Pcre(p));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::{parse_rule, Vars};

    fn m(opts: &str) -> Result<Vec<Match>, (String, String)> {
        parse_rule(
            &format!("alert tcp any any -> any any (msg:\"t\"; {opts} sid:1;)"),
            &Vars::suricata_default(),
            None,
        )
        .map(|r| r.matches)
        .map_err(|e| (e.key, e.reason))
    }

    fn one(opts: &str) -> Pcre {
        match m(opts).unwrap().pop() {
            Some(Match::Pcre(p)) => p,
            x => panic!("{x:?}"),
        }
    }

    #[test]
    fn splitting() {
        assert_eq!(split_regex(b"/abc/i"), Some((&b"abc"[..], &b"i"[..])));
        assert_eq!(split_regex(b"xx/a/b/c/R"), Some((&b"a/b/c"[..], &b"R"[..])));
        assert_eq!(split_regex(b"/a\\/b/"), Some((&b"a\\/b"[..], &b""[..])));
        assert_eq!(split_regex(b"/a\\\\/i"), Some((&b"a\\\\"[..], &b"i"[..])));
        assert_eq!(split_regex(b"/\\/"), None);
        assert_eq!(split_regex(b"\\//abc/"), Some((&b"abc"[..], &b""[..])));
        assert_eq!(split_regex(b"//"), Some((&b""[..], &b""[..])));
        assert_eq!(split_regex(b"/abc"), None);
        assert_eq!(split_regex(b"/a/i\"x"), Some((&b"a"[..], &b"i"[..])));
        assert_eq!(cut_capture(b"/(a)/,flow:x\""), (5, Some(&b"flow:x"[..])));
        assert_eq!(cut_capture(b"/a flow:b/"), (2, Some(&b"flow:b/"[..])));
        assert_eq!(cut_capture(b"/flow:b/"), (8, None));
        assert_eq!(cut_capture(b"/aflow:b/"), (9, None));
    }

    #[test]
    fn flags_and_pattern() {
        let p = one("pcre:\"/a\\;b\\\"c/ismxAEGOB\";");
        assert_eq!(p.pattern, "a\\;b\\\"c");
        assert!(
            p.caseless
                && p.dotall
                && p.multiline
                && p.extended
                && p.anchored
                && p.dollar_endonly
                && p.ungreedy
                && p.no_match_limit
                && p.rawbytes
                && !p.relative
                && !p.negated
        );
        assert!(one("pcre:!\"/x/\";").negated);
        assert!(one("pcre:/x/i;").caseless);
        assert!(one("content:\"a\"; pcre:\"/x/R\";").relative);
        assert!(one("pcre:\"/a/\"; pcre:\"/x/R\";").relative);
        assert_eq!(one("pcre:\"//\";").pattern, "");
    }

    #[test]
    fn rejections() {
        for bad in [
            "pcre:\"/abc/R\";",
            "isdataat:1; pcre:\"/abc/R\";",
            "pcre:\"/abc/K\";",
            "pcre:\"/abc/i \";",
            "pcre:\"/abc/UH\";",
            "pcre:\"/abc/BU\";",
            "pcre:\"/abc/UB\";",
            "pcre:\"/aBc/W\";",
            "pcre:\"/a(bc/\";",
            "pcre:\"/[/\";",
            "pcre:\"abc\";",
            "pcre:\"/\\/\";",
            "pcre:\"/a flow:b/\";",
            "pcre:\"/(?(1)a|b)/\";",
            "pcre:\"/abc/UR\";",
            "pcre:\"/abc/D\";",
            "flow:to_client; pcre:\"/abc/U\";",
            "pcre:\"/abc/U\"; pcre:\"/abc/S\";",
            "pcre:\"/abc/U\"; pcre:\"/abc/HR\";",
            "pcre:\"/abc/U\"; dsize:5;",
        ] {
            assert_eq!(m(bad).unwrap_err().0, "invalid:pcre", "{bad}");
        }
        assert_eq!(
            m("pcre:\"/abc/U\"; byte_test:1,=,1,0,dce;").unwrap_err().0,
            "invalid:byte_test"
        );
        let e = m("pcre:\"/a(bc/\";").unwrap_err().1;
        assert!(
            e.contains("offset 4") && e.contains("missing closing parenthesis"),
            "{e}"
        );
        assert!(m(&format!("pcre:\"/a/{}\";", "i".repeat(62))).is_ok());
        assert!(m(&format!("pcre:\"/a/{}\";", "i".repeat(63))).is_err());
    }

    #[test]
    fn compile_quirks() {
        // a backreference needs captures: compiled again without NO_AUTO_CAPTURE
        assert!(m("pcre:\"/(a)\\1/\";").is_ok());
        assert!(m("pcre:\"/\\1(a)/\";").is_ok());
        assert!(m("pcre:\"/(*UTF)\\x{e9}/G\";").is_ok());
        assert!(m("pcre:\"/\\xff/\";").is_ok());
        assert!(m("pcre:\"/a{,3}/\";").is_ok());
        let p = one("pcre:\"/(*LIMIT_MATCH=10)a.b/Gs\";");
        let re = compile(&p, false).unwrap();
        assert!(re.is_match(b"a\nb").unwrap());
    }

    #[test]
    fn unsupported() {
        for (rule, key) in [
            ("pcre:\"/abc/U\";", "pcre-http-modifier"),
            ("pcre:\"/abc/W\";", "pcre-http-modifier"),
            ("flow:to_server; pcre:\"/abc/D\";", "pcre-http-modifier"),
            ("pcre:\"/abc/U\"; pcre:\"/x/UR\";", "pcre-http-modifier"),
            ("pcre:\"/abc/Q\";", "pcre-http-modifier"),
            ("pcre:\"/(?P<pkt_x>a)/\";", "pcre-capture"),
            ("pcre:\"/(a)/,flow:x\";", "pcre-capture"),
        ] {
            assert_eq!(m(rule).unwrap_err().0, key, "{rule}");
        }
    }
}
