//! One rule text → [`Rule`] or [`Skip`], following Suricata 7.0's `detect-parse.c`:
//! the header is split with `SigParseToken`/`SigParseList`, the options with
//! `SigParseOptions` (escaped `\;`, generic quoting and negation), `sid` is read in a first
//! pass, then the header fields and the options are validated in rule order. The first
//! problem decides the skip reason.

use super::address::{parse_address_quirks, IpOnlyQuirks};
use super::ast::{Action, Content, Direction, Match, Meta, NumCmp, Origin, PortSet, Proto, Rule};
use super::classification::Classifications;
use super::cnum::{eq_nocase, is_blank, is_space, show};
use super::keywords::{self, flags, Entry};
use super::port::parse_port;
use super::vars::Vars;

/// Suricata's `DETECT_MAX_RULE_SIZE`: longer rules are cut to 8191 bytes.
pub const MAX_RULE_SIZE: usize = 8192;

/// Why a rule is not loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skip {
    /// Short grouping key: `flow`, `pcre`, `app-layer:http`, `syntax`, `unknown:foo`,
    /// `invalid:depth`, `duplicate-sid`, ...
    pub key: String,
    /// Human-readable reason, e.g. `unsupported keyword 'flow'`.
    pub reason: String,
    pub kind: SkipKind,
}

/// Whether Suricata 7.0 would load the rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SkipKind {
    /// Valid for Suricata, but uses something ravn does not implement.
    Unsupported,
    /// Suricata 7.0.10 rejects it too (syntax or semantic error).
    Invalid,
}

impl Skip {
    pub fn unsupported(key: impl Into<String>, reason: impl Into<String>) -> Skip {
        Skip {
            key: key.into(),
            reason: reason.into(),
            kind: SkipKind::Unsupported,
        }
    }
    pub fn invalid(key: impl Into<String>, reason: impl Into<String>) -> Skip {
        Skip {
            key: key.into(),
            reason: reason.into(),
            kind: SkipKind::Invalid,
        }
    }
    pub(crate) fn syntax(reason: impl Into<String>) -> Skip {
        Skip::invalid("syntax", format!("syntax: {}", reason.into()))
    }
    /// An invalid value for keyword `kw`.
    pub(crate) fn kw(kw: &str, reason: impl Into<String>) -> Skip {
        Skip::invalid(format!("invalid:{kw}"), format!("{kw}: {}", reason.into()))
    }
}

impl std::fmt::Display for Skip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reason)
    }
}

impl std::error::Error for Skip {}

/// Parse one rule with the given variables; `classifications` enables Suricata's classtype
/// handling (priority from the class, best class on duplicates).
pub fn parse_rule(
    text: &str,
    vars: &Vars,
    classifications: Option<&Classifications>,
) -> Result<Rule, Skip> {
    parse_rule_bytes(text.as_bytes(), vars, classifications)
}

/// [`parse_rule`] on raw bytes (a rule that is not UTF-8 is rejected like Suricata does).
pub fn parse_rule_bytes(
    text: &[u8],
    vars: &Vars,
    classifications: Option<&Classifications>,
) -> Result<Rule, Skip> {
    // a C string ends at the first NUL
    let raw = match text.iter().position(|&b| b == 0) {
        Some(p) => &text[..p],
        None => text,
    };
    let as_text = match std::str::from_utf8(raw) {
        Ok(s) => s,
        Err(_) => return Err(Skip::invalid("invalid:utf8", "rule is not valid UTF-8")),
    };
    if raw
        .iter()
        .any(|&b| (b < 0x20 && b != b'\t' && b != b'\n' && b != b'\r') || b == 0x7f)
    {
        return Err(Skip::invalid(
            "invalid:control-chars",
            "rule contains invalid (control) characters",
        ));
    }
    let s = &raw[..raw.len().min(MAX_RULE_SIZE - 1)];
    let header = split_header(s)?;
    let opts = split_options(header.opts)?;

    // first pass: sid (and requires)
    let mut sid: Option<u32> = None;
    let mut requires = false;
    for o in &opts {
        if eq_nocase(o.name, "sid") {
            let v = generic_value(o, "sid", 0)?;
            let v = v.unwrap_or_default();
            sid = Some(keywords::meta::parse_sid(v, sid)?);
        } else if eq_nocase(o.name, "requires") {
            requires = true;
        }
    }
    let Some(sid) = sid else {
        return Err(Skip::invalid(
            "invalid:sid",
            "signature missing required value \"sid\"",
        ));
    };
    if requires {
        return Err(Skip::unsupported(
            "requires",
            "unsupported keyword 'requires'",
        ));
    }

    // header, in Suricata's order
    let action = parse_action(header.action)?;
    let (proto, proto_any) = parse_proto(header.proto)?;
    let direction = match header.direction {
        b"->" => Direction::Forward,
        b"<>" => Direction::Both,
        d => {
            return Err(Skip::invalid(
                "invalid:direction",
                format!(
                    "\"{}\" is not a valid direction modifier, \"->\" and \"<>\" are supported",
                    show(d)
                ),
            ))
        }
    };
    let addr = |t: &[u8], which: &str| {
        parse_address_quirks(&show(t), vars)
            .map_err(|e| Skip::invalid("invalid:address", format!("{which} address: {e}")))
    };
    let (src, q1) = addr(header.src, "source")?;
    let (dst, q2) = addr(header.dst, "destination")?;
    let port = |t: &[u8], which: &str| {
        parse_port(&show(t), vars)
            .map_err(|e| Skip::invalid("invalid:port", format!("{which} port: {e}")))
    };
    let src_ports = port(header.sp, "source")?;
    let dst_ports = port(header.dp, "destination")?;

    // second pass: every other option in order
    let mut ctx = Ctx::new(&proto, proto_any, classifications);
    ctx.meta.sid = sid;
    for o in &opts {
        if eq_nocase(o.name, "sid") || eq_nocase(o.name, "requires") {
            continue;
        }
        let Some(entry) = keywords::lookup(o.name) else {
            let n = show(o.name);
            return Err(Skip::invalid(
                format!("unknown:{n}"),
                format!("unknown keyword '{n}'"),
            ));
        };
        let handler = match entry {
            Entry::Unsupported(name) => {
                return Err(Skip::unsupported(
                    *name,
                    format!("unsupported keyword '{name}'"),
                ));
            }
            Entry::Supported(k) => k,
        };
        let value = generic_value_neg(o, handler.name, handler.flags, &mut ctx.negated)?;
        (handler.setup)(&mut ctx, value)?;
    }
    ctx.finish()?;
    // a rule without detection keywords (flowbits:set and noalert aside) is "IP-only" in
    // Suricata, whose separate address parser drops or rejects a few constructs the normal one
    // accepts
    let ip_only = ctx.matches.iter().all(Match::is_iponly_compat);
    if ip_only && (q1 != IpOnlyQuirks::default() || q2 != IpOnlyQuirks::default()) {
        return Err(Skip::unsupported(
            "ip-only-address",
            "IP-only rule with an IPv6 range or an empty '[]' in its addresses (Suricata's IP-only parser drops or rejects these)",
        ));
    }

    // `<>` with identical sides is treated as `->` by Suricata
    let direction =
        if direction == Direction::Both && src == dst && same_ports(&src_ports, &dst_ports) {
            Direction::Forward
        } else {
            direction
        };

    Ok(Rule {
        action,
        proto,
        src,
        src_ports,
        direction,
        dst,
        dst_ports,
        meta: ctx.meta,
        matches: ctx.matches,
        text: as_text.to_string(),
        origin: Origin::default(),
    })
}

fn same_ports(a: &PortSet, b: &PortSet) -> bool {
    (a.any && b.any) || a.ranges == b.ranges
}

struct Header<'a> {
    action: &'a [u8],
    proto: &'a [u8],
    src: &'a [u8],
    sp: &'a [u8],
    direction: &'a [u8],
    dst: &'a [u8],
    dp: &'a [u8],
    opts: &'a [u8],
}

/// `SigParseToken`: whitespace-separated token.
fn parse_token<'a>(input: &mut Option<&'a [u8]>) -> &'a [u8] {
    let Some(mut s) = *input else { return b"" };
    if s.is_empty() {
        return b"";
    }
    while let Some((&c, rest)) = s.split_first() {
        if is_blank(c) {
            s = rest;
        } else {
            break;
        }
    }
    match s
        .iter()
        .position(|&c| matches!(c, b' ' | b'\t' | b'\n' | b'\r'))
    {
        Some(p) => {
            *input = Some(&s[p + 1..]);
            &s[..p]
        }
        None => {
            *input = None;
            s
        }
    }
}

/// `SigParseList`: a token that may be a `[...]` list containing spaces.
fn parse_list<'a>(input: &mut Option<&'a [u8]>) -> &'a [u8] {
    let Some(mut s) = *input else { return b"" };
    if s.is_empty() {
        return b"";
    }
    while let Some((&c, rest)) = s.split_first() {
        if is_blank(c) {
            s = rest;
        } else {
            break;
        }
    }
    let mut in_list: i64 = 0;
    for (i, &c) in s.iter().enumerate() {
        match c {
            b'[' => in_list += 1,
            b']' => in_list -= 1,
            b' ' if in_list == 0 => {
                *input = Some(&s[i + 1..]);
                return &s[..i];
            }
            _ => {}
        }
    }
    *input = None;
    b""
}

fn split_header(s: &[u8]) -> Result<Header<'_>, Skip> {
    let mut idx = Some(s);
    let action = parse_token(&mut idx);
    let proto = parse_list(&mut idx);
    let src = parse_list(&mut idx);
    let sp = parse_list(&mut idx);
    let direction = parse_token(&mut idx);
    let dst = parse_list(&mut idx);
    let dp = parse_list(&mut idx);
    let Some(mut o) = idx else {
        return Err(Skip::syntax("no rule options"));
    };
    while let Some((&c, rest)) = o.split_first() {
        if is_space(c) || c == b'(' {
            o = rest;
        } else {
            break;
        }
    }
    while let Some((&c, rest)) = o.split_last() {
        if is_space(c) || c == b')' {
            o = rest;
        } else {
            break;
        }
    }
    Ok(Header {
        action,
        proto,
        src,
        sp,
        direction,
        dst,
        dp,
        opts: o,
    })
}

/// One `name[:value];` option as split by `SigParseOptions`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawOpt<'a> {
    pub name: &'a [u8],
    /// `None` when there is no `:`; the value has trailing blanks removed.
    pub value: Option<&'a [u8]>,
}

fn split_options(mut s: &[u8]) -> Result<Vec<RawOpt<'_>>, Skip> {
    let mut out = Vec::with_capacity(16);
    while !s.is_empty() {
        while let Some((&c, rest)) = s.split_first() {
            if is_blank(c) {
                s = rest;
            } else {
                break;
            }
        }
        // find a ';' not preceded by '\'
        let mut from = 0;
        let end = loop {
            match s[from..].iter().position(|&c| c == b';') {
                None => return Err(Skip::syntax("no terminating \";\" found")),
                Some(p) => {
                    let at = from + p;
                    if at > 0 && s[at - 1] == b'\\' {
                        from = at + 1;
                    } else {
                        break at;
                    }
                }
            }
        };
        let opt = &s[..end];
        s = &s[end + 1..];
        let (name, value) = match opt.iter().position(|&c| c == b':') {
            Some(p) => (&opt[..p], Some(trim_end_blank(&opt[p + 1..]))),
            None => (opt, None),
        };
        out.push(RawOpt {
            name: trim_end_blank(name),
            value,
        });
    }
    Ok(out)
}

fn trim_end_blank(s: &[u8]) -> &[u8] {
    let mut e = s.len();
    while e > 0 && is_blank(s[e - 1]) {
        e -= 1;
    }
    &s[..e]
}

/// Suricata's generic option checks (no value / unexpected value / quoting); returns the
/// value handed to the keyword's setup (`None` for no value).
fn generic_value<'a>(o: &RawOpt<'a>, name: &str, fl: u8) -> Result<Option<&'a [u8]>, Skip> {
    let mut neg = false;
    generic_value_neg(o, name, fl, &mut neg)
}

fn generic_value_neg<'a>(
    o: &RawOpt<'a>,
    name: &str,
    fl: u8,
    negated: &mut bool,
) -> Result<Option<&'a [u8]>, Skip> {
    let malformed = || Skip::kw(name, "invalid formatting or malformed option");
    let has_value = o.value.is_some_and(|v| !v.is_empty());
    if fl & (flags::NOOPT | flags::OPTIONAL_OPT) == 0 {
        if !has_value {
            return Err(malformed());
        }
    } else if fl & flags::NOOPT != 0 && has_value {
        return Err(Skip::kw(name, "unexpected option (keyword takes no value)"));
    }
    *negated = false;
    if !has_value {
        return Ok(None);
    }
    let mut v = o.value.unwrap_or_default();
    while let Some((&c, rest)) = v.split_first() {
        if is_blank(c) {
            v = rest;
        } else {
            break;
        }
    }
    if v.is_empty() {
        return Err(malformed());
    }
    if fl & flags::HANDLE_NEGATION != 0 && v[0] == b'!' {
        *negated = true;
        v = &v[1..];
    }
    while let Some((&c, rest)) = v.split_first() {
        if is_blank(c) {
            v = rest;
        } else {
            break;
        }
    }
    if v.is_empty() {
        return Err(malformed());
    }
    if fl & flags::QUOTES_MANDATORY != 0 && v[0] != b'"' {
        return Err(Skip::kw(name, "value must be double quoted"));
    }
    if fl & (flags::QUOTES_OPTIONAL | flags::QUOTES_MANDATORY) != 0 && v[0] == b'"' {
        let v2 = trim_end_blank(v);
        if v2.last() != Some(&b'"') {
            return Err(Skip::kw(
                name,
                "bad option value formatting (possible missing semicolon)",
            ));
        }
        // a lone `"` is passed on as is
        let inner = if v2.len() > 1 {
            &v2[1..v2.len() - 1]
        } else {
            v2
        };
        if inner.is_empty() {
            return Err(Skip::kw(name, "bad input (empty quoted value)"));
        }
        Ok(Some(inner))
    } else {
        if v[0] == b'"' {
            return Err(Skip::kw(
                name,
                "quotes on a keyword that doesn't support them",
            ));
        }
        Ok(Some(v))
    }
}

fn parse_action(a: &[u8]) -> Result<Action, Skip> {
    Ok(if eq_nocase(a, "alert") {
        Action::Alert
    } else if eq_nocase(a, "drop") {
        Action::Drop
    } else if eq_nocase(a, "pass") {
        Action::Pass
    } else if eq_nocase(a, "reject") {
        Action::Reject
    } else if eq_nocase(a, "rejectsrc") {
        Action::RejectSrc
    } else if eq_nocase(a, "rejectdst") {
        Action::RejectDst
    } else if eq_nocase(a, "rejectboth") {
        Action::RejectBoth
    } else if eq_nocase(a, "config") {
        return Err(Skip::unsupported(
            "action:config",
            "unsupported action 'config'",
        ));
    } else {
        return Err(Skip::invalid(
            "invalid:action",
            format!("an invalid action \"{}\" was given", show(a)),
        ));
    })
}

/// App-layer protocol names Suricata 7.0.10 accepts in the header with the default config.
pub const APP_LAYER_PROTOS: &[&str] = &[
    "http",
    "http1",
    "http2",
    "ftp",
    "smtp",
    "tls",
    "ssh",
    "imap",
    "smb",
    "dcerpc",
    "dns",
    "nfs",
    "ntp",
    "ftp-data",
    "tftp",
    "ike",
    "ikev2",
    "krb5",
    "quic",
    "dhcp",
    "snmp",
    "sip",
    "rfb",
    "mqtt",
    "telnet",
    "rdp",
    "bittorrent-dht",
];

/// App-layer protocols Suricata knows but whose detection is disabled in the default
/// suricata.yaml: rules using them fail to load there.
pub const DISABLED_APP_LAYER_PROTOS: &[&str] = &["modbus", "dnp3", "enip", "pgsql"];

/// `DetectProtoParse` then app-layer names. Returns the protocol and whether it is an
/// "any IP" protocol (`ip`, `ipv4`, `ipv6`: the ones `ip_proto` may refine).
fn parse_proto(p: &[u8]) -> Result<(Proto, bool), Skip> {
    let pr = if eq_nocase(p, "tcp") {
        Proto::Tcp
    } else if eq_nocase(p, "tcp-pkt") {
        Proto::TcpPkt
    } else if eq_nocase(p, "tcp-stream") {
        Proto::TcpStream
    } else if eq_nocase(p, "udp") {
        Proto::Udp
    } else if eq_nocase(p, "icmpv4") {
        Proto::Icmpv4
    } else if eq_nocase(p, "icmpv6") {
        Proto::Icmpv6
    } else if eq_nocase(p, "icmp") {
        Proto::Icmp
    } else if eq_nocase(p, "sctp") {
        Proto::Sctp
    } else if eq_nocase(p, "ipv4") || eq_nocase(p, "ip4") {
        return Ok((Proto::Ipv4, true));
    } else if eq_nocase(p, "ipv6") || eq_nocase(p, "ip6") {
        return Ok((Proto::Ipv6, true));
    } else if eq_nocase(p, "ip") || eq_nocase(p, "pkthdr") {
        return Ok((Proto::Ip, true));
    } else {
        let name = show(p);
        if APP_LAYER_PROTOS.contains(&name.as_str()) {
            return Err(Skip::unsupported(
                format!("app-layer:{name}"),
                format!("app-layer protocol '{name}' not yet supported"),
            ));
        }
        if DISABLED_APP_LAYER_PROTOS.contains(&name.as_str()) {
            return Err(Skip::invalid(
                format!("app-layer:{name}"),
                format!(
                    "app-layer protocol '{name}' is disabled in Suricata's default configuration"
                ),
            ));
        }
        return Err(Skip::invalid(
            "invalid:protocol",
            format!("protocol \"{name}\" cannot be used in a signature"),
        ));
    };
    Ok((pr, false))
}

/// Parsing state shared by the keyword handlers.
pub(crate) struct Ctx<'a> {
    pub meta: Meta,
    pub matches: Vec<Match>,
    /// Header protocol was `ip`/`ipv4`/`ipv6` (`ip_proto` allowed).
    pub proto_any: bool,
    /// Value was prefixed by `!` (keywords with generic negation handling).
    pub negated: bool,
    pub classifications: Option<&'a Classifications>,
    /// Index in `matches` of the last `content`.
    pub last_content: Option<usize>,
    pub msg_set: bool,
    pub rev_set: bool,
    pub explicit_priority: Option<i32>,
    /// Priority of the kept classtype (for duplicate classtypes).
    pub class_priority: Option<i64>,
    pub target_set: bool,
    /// A keyword that requires packet (not stream) inspection was seen.
    pub require_packet: bool,
    pub dsize: Option<NumCmp<u16>>,
    pub ipproto_ops: Vec<u8>,
    pub ipproto_values: Vec<(u8, u8)>,
    /// A keyword that requires stream inspection (`tcp-stream`, `flow:only_stream`).
    pub require_stream: bool,
    /// Suricata's `SIG_FLAG_INIT_FLOW`: a `flow` keyword it keeps a match for was seen.
    pub flow_init: bool,
    /// Variables defined by byte_extract / byte_math, in definition order.
    pub byte_vars: Vec<keywords::byte::ByteVar>,
    /// HTTP buffers selected by pcre modifiers (such rules are skipped at the end of parsing).
    pub http_pcre: Vec<&'static str>,
    /// An unsupported feature whose keyword was otherwise valid: parsing goes on to find the
    /// errors Suricata would report, then the rule is skipped with this.
    pub deferred: Option<Skip>,
}

impl<'a> Ctx<'a> {
    fn new(
        proto: &Proto,
        proto_any: bool,
        classifications: Option<&'a Classifications>,
    ) -> Ctx<'a> {
        let require_stream = matches!(proto, Proto::TcpStream);
        Ctx {
            meta: Meta {
                gid: 1,
                ..Meta::default()
            },
            matches: Vec::with_capacity(8),
            require_packet: matches!(proto, Proto::TcpPkt),
            proto_any,
            negated: false,
            classifications,
            last_content: None,
            msg_set: false,
            rev_set: false,
            explicit_priority: None,
            class_priority: None,
            target_set: false,
            dsize: None,
            ipproto_ops: Vec::new(),
            ipproto_values: Vec::new(),
            require_stream,
            flow_init: false,
            byte_vars: Vec::new(),
            http_pcre: Vec::new(),
            deferred: None,
        }
    }

    /// The last `content` (what modifiers apply to).
    pub fn last_content_mut(&mut self) -> Option<&mut Content> {
        let i = self.last_content?;
        match self.matches.get_mut(i) {
            Some(Match::Content(c)) => Some(c),
            _ => None,
        }
    }

    /// Post-parse validation (`SigValidate` and friends).
    fn finish(&mut self) -> Result<(), Skip> {
        // in the order of Suricata's SigValidate
        keywords::payload::validate_dsize(self)?;
        keywords::pcre::finish_http(self, keywords::flow::directions(self))?;
        if self.require_packet && self.require_stream {
            return Err(Skip::invalid(
                "invalid:tcp-stream",
                "can't mix packet keywords with tcp-stream or flow:only_stream",
            ));
        }
        if let Some(skip) = self.deferred.take() {
            return Err(skip);
        }
        keywords::flow::finish_flow(self);
        keywords::payload::first_relative_to_absolute(self);
        // an explicit priority of -1 (e.g. `priority:4294967295`) means "default" (3)
        let prio = match self.explicit_priority {
            Some(-1) => Some(3),
            Some(p) => Some(p as i64),
            None => self.class_priority,
        };
        if let Some(p) = prio {
            if !(0..=255).contains(&p) {
                return Err(Skip::unsupported(
                    "priority-range",
                    format!("priority {p} does not fit ravn's 0-255 range"),
                ));
            }
            self.meta.priority = Some(p as u8);
        }
        Ok(())
    }
}

/// Helper for handlers: the value or a "needs a value" error.
pub(crate) fn need<'v>(v: Option<&'v [u8]>, kw: &str) -> Result<&'v [u8], Skip> {
    v.ok_or_else(|| Skip::kw(kw, "invalid formatting or malformed option"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::ast::{FastPattern, FlagsMode, Target, TcpFlagsMatch};

    fn p(s: &str) -> Result<Rule, Skip> {
        parse_rule(s, &Vars::suricata_default(), None)
    }

    #[test]
    fn verified_against_suricata() {
        let mut bad = Vec::new();
        for &(rule, status, key) in crate::rules::verified_cases::VERIFIED {
            let r = p(rule);
            let ok = match (status, &r) {
                ("OK", Ok(_)) => true,
                ("INVALID", Err(s)) => s.kind == SkipKind::Invalid && s.key == key,
                ("UNSUPPORTED", Err(s)) => s.kind == SkipKind::Unsupported && s.key == key,
                _ => false,
            };
            if !ok {
                bad.push(format!("{rule}\n  expected {status} {key}, got {r:?}"));
            }
        }
        assert!(bad.is_empty(), "{}", bad.join("\n"));
    }

    #[test]
    fn header_tokenizing() {
        assert!(p("alert tcp any any -> any any (msg:\"x\"; sid:1;)").is_ok());
        // parentheses are optional, trailing ')' and spaces are trimmed
        assert!(p("alert tcp any any -> any any msg:\"x\"; sid:1;").is_ok());
        assert!(p("alert tcp any any -> any any (sid:1;").is_ok());
        assert_eq!(
            p("alert tcp any any -> any any (sid:1)").unwrap_err().key,
            "syntax"
        );
        assert_eq!(p("alert tcp any any -> any any").unwrap_err().key, "syntax");
        assert_eq!(
            p("alert tcp any any -> any any (sid:1;) x")
                .unwrap_err()
                .key,
            "syntax"
        );
        assert_eq!(
            p("alert tcp any any <- any any (sid:1;)").unwrap_err().key,
            "invalid:direction"
        );
        assert_eq!(
            p("alert\ttcp any any -> any any (sid:1;)").map(|r| r.proto),
            Ok(Proto::Tcp)
        );
        assert_eq!(
            p("alert tcp\tany any -> any any (msg:\"x\"; sid:1;)")
                .unwrap_err()
                .key,
            "invalid:protocol"
        );
        assert_eq!(
            p("ALERT TCP any any -> any any (sid:1;)").map(|r| r.action),
            Ok(Action::Alert)
        );
        assert_eq!(
            p("config tcp any any -> any any (sid:1;)").unwrap_err().key,
            "action:config"
        );
        assert_eq!(
            p("alert http any any -> any any (sid:1;)").unwrap_err().key,
            "app-layer:http"
        );
        assert_eq!(
            p("alert HTTP any any -> any any (sid:1;)").unwrap_err().key,
            "invalid:protocol"
        );
        assert_eq!(
            p("alert modbus any any -> any any (sid:1;)")
                .unwrap_err()
                .kind,
            SkipKind::Invalid
        );
        assert_eq!(
            p("alert pkthdr any any -> any any (sid:1;)").map(|r| r.proto),
            Ok(Proto::Ip)
        );
    }

    #[test]
    fn text_checks() {
        assert_eq!(
            parse_rule_bytes(
                b"alert tcp any any -> any any (msg:\"\xff\"; sid:1;)",
                &Vars::empty(),
                None
            )
            .unwrap_err()
            .key,
            "invalid:utf8"
        );
        assert_eq!(
            p("alert tcp any any -> any any (msg:\"\x01\"; sid:1;)")
                .unwrap_err()
                .key,
            "invalid:control-chars"
        );
        assert_eq!(
            p("alert tcp any any -> any any (msg:\"é\"; sid:1;)")
                .unwrap()
                .meta
                .msg,
            "é"
        );
    }

    #[test]
    fn options_and_meta() {
        let r = p("alert tcp any any -> any any (msg:\"a\\;b\\\"c\"; sid:5; rev:2; gid:3; metadata: a  b , ,c d e,f; reference:url,x.org/a?b=c&d; target:dest_ip;)").unwrap();
        assert_eq!(r.meta.msg, "a;b\"c");
        assert_eq!((r.meta.sid, r.meta.rev, r.meta.gid), (5, 2, 3));
        assert_eq!(
            r.meta.metadata,
            vec![("a".into(), "b ".into()), ("c".into(), "d e".into())]
        );
        assert_eq!(
            r.meta.references,
            vec![("url".into(), "x.org/a?b=c".into())]
        );
        assert_eq!(r.meta.target, Some(Target::Dst));
        let d = p("alert tcp any any -> any any (sid:6;)").unwrap();
        assert_eq!(
            (d.meta.gid, d.meta.rev, d.meta.msg.as_str(), d.meta.priority),
            (1, 0, "", None)
        );
        assert_eq!(
            p("alert tcp any any -> any any (msg:\"x\";)")
                .unwrap_err()
                .key,
            "invalid:sid"
        );
        // sid is read before everything else
        assert_eq!(
            p("alert tcp any any -> any any (flow:established; sid:0;)")
                .unwrap_err()
                .key,
            "invalid:sid"
        );
        assert_eq!(
            p("alert tcp any any -> any any (flowint:a,=,1; sid:1;)")
                .unwrap_err()
                .key,
            "flowint"
        );
        assert_eq!(
            p("alert tcp any any -> any any (foo; sid:1;)")
                .unwrap_err()
                .key,
            "unknown:foo"
        );
        assert_eq!(
            p("alert tcp any any -> any any (sid:1; ;)")
                .unwrap_err()
                .key,
            "unknown:"
        );
        assert_eq!(
            p("alert tcp any any -> any any (http.uri; content:\"x\"; sid:1;)")
                .unwrap_err()
                .key,
            "http.uri"
        );
        assert_eq!(
            p("alert tcp any any -> any any (content:\"x\"; http_uri; sid:1;)")
                .unwrap_err()
                .key,
            "http_uri"
        );
        assert_eq!(
            p("alert tcp any any -> any any (requires: feature foo; sid:1;)")
                .unwrap_err()
                .key,
            "requires"
        );
        // the first problem in rule order decides
        assert_eq!(
            p("alert tcp any any -> any any (geoip:src,US; flowint:a,=,1; sid:1;)")
                .unwrap_err()
                .key,
            "geoip"
        );
        assert_eq!(
            p("alert tcp any any -> any any (depth:3; flowint:a,=,1; sid:1;)")
                .unwrap_err()
                .key,
            "invalid:depth"
        );
    }

    #[test]
    fn priorities() {
        let classes = Classifications::parse(
            "config classification: trojan-activity,A Network Trojan was detected,1\nconfig classification: bad-unknown,Potentially Bad Traffic,2\n",
        );
        let q = |s: &str| parse_rule(s, &Vars::empty(), Some(&classes)).unwrap().meta;
        let m = q("alert tcp any any -> any any (classtype:bad-unknown; classtype:Trojan-Activity; sid:1;)");
        assert_eq!(
            (m.classtype.as_deref(), m.priority),
            (Some("trojan-activity"), Some(1))
        );
        let m = q("alert tcp any any -> any any (classtype:trojan-activity; classtype:bad-unknown; sid:1;)");
        assert_eq!(
            (m.classtype.as_deref(), m.priority),
            (Some("trojan-activity"), Some(1))
        );
        let m = q("alert tcp any any -> any any (priority:1; classtype:bad-unknown; sid:1;)");
        assert_eq!(
            (m.classtype.as_deref(), m.priority),
            (Some("bad-unknown"), Some(1))
        );
        let m = q("alert tcp any any -> any any (priority:2; priority:1; sid:1;)");
        assert_eq!(m.priority, Some(1));
        let m = q("alert tcp any any -> any any (classtype:nope; sid:1;)");
        assert_eq!(
            (m.classtype.as_deref(), m.priority),
            (Some("nope"), Some(3))
        );
        let m = q("alert tcp any any -> any any (priority:4294967295; sid:1;)");
        assert_eq!(m.priority, Some(3));
        assert_eq!(
            parse_rule(
                "alert tcp any any -> any any (priority:300; sid:1;)",
                &Vars::empty(),
                None
            )
            .unwrap_err()
            .key,
            "priority-range"
        );
    }

    #[test]
    fn content_and_modifiers() {
        let r = p("alert tcp any any -> any any (content:!\"a|42 43|d\"; nocase; offset:1; depth:0x10; content:\"x\"; distance:-2; within:5; fast_pattern:only; sid:1;)");
        assert_eq!(r.unwrap_err().key, "invalid:fast_pattern");
        let r = p("alert tcp any any -> any any (content:!\"a|42 43|d\"; nocase; offset:1; depth:0x10; content:\"x\"; distance:-2; within:5; sid:1;)").unwrap();
        let Match::Content(c) = &r.matches[0] else {
            panic!()
        };
        assert_eq!(c.pattern, b"aBCd");
        assert!(c.negated && c.nocase);
        assert_eq!((c.offset, c.depth), (Some(1), Some(16)));
        let Match::Content(c) = &r.matches[1] else {
            panic!()
        };
        assert_eq!((c.distance, c.within), (Some(-2), Some(5)));
        // the first content's relative modifiers become absolute, as in Suricata
        let r = p("alert tcp any any -> any any (content:\"abc\"; distance:2; within:10; sid:1;)")
            .unwrap();
        let Match::Content(c) = &r.matches[0] else {
            panic!()
        };
        assert_eq!(
            (c.offset, c.depth, c.distance, c.within),
            (Some(2), Some(10), None, None)
        );
        // isdataat:!1,relative after a content is endswith
        let r = p("alert tcp any any -> any any (content:\"abc\"; isdataat:!1,relative; sid:1;)")
            .unwrap();
        assert_eq!(r.matches.len(), 1);
        assert!(matches!(&r.matches[0], Match::Content(c) if c.endswith));
        let r =
            p("alert tcp any any -> any any (content:\"abc\"; fast_pattern:1,2; sid:1;)").unwrap();
        assert!(
            matches!(&r.matches[0], Match::Content(c) if c.fast_pattern == Some(FastPattern { only: false, chop: Some((1, 2)) }))
        );
    }

    #[test]
    fn header_keywords() {
        let r = p(
            "alert tcp any any -> any any (flags:!SA,12; window:!5; ttl:<3; dsize:2<>9; sid:1;)",
        )
        .unwrap();
        assert_eq!(
            r.matches[0],
            Match::Flags(TcpFlagsMatch {
                flags: 0x12,
                ignore: 0xc0,
                mode: FlagsMode::Not
            })
        );
        assert_eq!(
            r.matches[1],
            Match::Window {
                value: 5,
                negated: true
            }
        );
        assert_eq!(r.matches[2], Match::Ttl(NumCmp::Lt(3)));
        assert_eq!(r.matches[3], Match::Dsize(NumCmp::Range(2, 9)));
        let r = p("alert tcp any any -> any any (flags:0; sid:1;)").unwrap();
        assert_eq!(
            r.matches[0],
            Match::Flags(TcpFlagsMatch {
                flags: 0,
                ignore: 0,
                mode: FlagsMode::None
            })
        );
        assert_eq!(
            p("alert tcp-stream any any -> any any (ttl:3; sid:1;)")
                .unwrap_err()
                .key,
            "invalid:tcp-stream"
        );
        assert!(p("alert tcp-stream any any -> any any (icmp_seq:3; sid:1;)").is_ok());
        let r = p("alert ip any any -> any any (ip_proto:>6; ip_proto:<17; sid:1;)").unwrap();
        assert_eq!(r.matches.len(), 2);
        assert_eq!(
            p("alert tcp any any -> any any (ip_proto:6; sid:1;)")
                .unwrap_err()
                .key,
            "invalid:ip_proto"
        );
        let r =
            p("alert icmp any any -> any any (itype:8; icode:!0; icmp_id:5; icmp_seq:6; sid:1;)")
                .unwrap();
        assert_eq!(
            r.matches,
            vec![
                Match::Itype(NumCmp::Eq(8)),
                Match::Icode(NumCmp::Ne(0)),
                Match::IcmpId(5),
                Match::IcmpSeq(6)
            ]
        );
    }

    #[test]
    fn bidirectional() {
        assert_eq!(
            p("alert tcp any any <> any any (sid:1;)")
                .unwrap()
                .direction,
            Direction::Forward
        );
        assert_eq!(
            p("alert tcp 1.2.3.4 any <> any any (sid:1;)")
                .unwrap()
                .direction,
            Direction::Both
        );
        assert_eq!(
            p("alert tcp any 80 <> any 80 (sid:1;)").unwrap().direction,
            Direction::Forward
        );
    }

    #[test]
    fn never_panics_on_prefixes() {
        let rule = "alert tcp [1.2.3.4,!$HOME_NET] [80,!81] <> any any (msg:\"a\\;b\"; content:!\"|41 42|\"; nocase; flags:S+,12; dsize:<5; sid:1; rev:2;)";
        for i in 0..=rule.len() {
            if rule.is_char_boundary(i) {
                let _ = p(&rule[..i]);
                let _ = p(&rule[i..]);
            }
        }
    }
}
