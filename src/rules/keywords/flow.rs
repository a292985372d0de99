//! Flow keywords: flow, flowbits, stream_size (Suricata 7.0.10's `detect-flow.c`,
//! `detect-flowbits.c`, `rust/src/detect/stream_size.rs`).

use crate::rules::ast::{FlowMatch, Flowbits, FlowbitsCmd, Match, NumCmp, StreamSide, StreamSize};
use crate::rules::cnum::{is_blank, is_space, show};
use crate::rules::parse::{need, Ctx, Skip};

/// `flow:` regex `^\s*([A-z_]+)\s*(?:,\s*([A-z_]+))?\s*(?:,\s*([A-z_]+))?\s*$`: one to three
/// options, each copied into a 16-byte buffer (so at most 15 characters).
fn flow_options(v: &[u8]) -> Option<Vec<&[u8]>> {
    // `[A-z_]` is the ASCII range 'A'..='z' (it includes `[\]^` and the backtick) plus '_'
    let word = |c: u8| (b'A'..=b'z').contains(&c) || c == b'_';
    let mut out = Vec::with_capacity(3);
    let mut i = 0;
    let ws = |i: &mut usize| {
        while *i < v.len() && is_space(v[*i]) {
            *i += 1;
        }
    };
    ws(&mut i);
    loop {
        let s = i;
        while i < v.len() && word(v[i]) {
            i += 1;
        }
        if i == s {
            return None;
        }
        out.push(&v[s..i]);
        ws(&mut i);
        if i == v.len() {
            return Some(out);
        }
        if v[i] != b',' || out.len() == 3 {
            return None;
        }
        i += 1;
        ws(&mut i);
    }
}

/// `flow:`. Options must not conflict or repeat; a rule may have one `flow` with more than a
/// direction (Suricata only counts the ones it keeps a match for). The parsed options are kept
/// as one [`FlowMatch`]; a flow that is only a direction is dropped at the end of parsing when
/// the rule's flows name both directions (see [`finish_flow`]).
pub(crate) fn flow(ctx: &mut Ctx<'_>, v: Option<&[u8]>) -> Result<(), Skip> {
    let v = need(v, "flow")?;
    if ctx.flow_init {
        return Err(Skip::kw(
            "flow",
            "a signature may have only one flow option",
        ));
    }
    let opts = flow_options(v)
        .ok_or_else(|| Skip::kw("flow", format!("parse error, string {}", show(v))))?;
    let mut f = FlowMatch::default();
    for o in opts {
        if o.len() > 15 {
            return Err(Skip::kw(
                "flow",
                format!("invalid flow option \"{}\" (too long)", show(o)),
            ));
        }
        let is = |name: &str| o.eq_ignore_ascii_case(name.as_bytes());
        let conflict = |msg: &str| Err(Skip::kw("flow", msg.to_string()));
        if is("established") {
            if f.established {
                return conflict("established flag is already set");
            } else if f.not_established {
                return conflict("cannot set established, not_established already set");
            } else if f.stateless {
                return conflict("stateless already set");
            }
            f.established = true;
        } else if is("not_established") {
            if f.not_established {
                return conflict("not_established flag is already set");
            } else if f.established {
                return conflict("cannot set not_established, established already set");
            }
            f.not_established = true;
        } else if is("stateless") {
            if f.stateless {
                return conflict("stateless flag is already set");
            } else if f.established {
                return conflict("cannot set stateless, established already set");
            }
            f.stateless = true;
        } else if is("to_client") || is("from_server") {
            if f.to_client {
                return conflict("to_client flag is already set");
            } else if f.to_server {
                return conflict("cannot set to_client, to_server already set");
            }
            f.to_client = true;
        } else if is("to_server") || is("from_client") {
            if f.to_server {
                return conflict("to_server flag is already set");
            } else if f.to_client {
                return conflict("cannot set to_server, to_client already set");
            }
            f.to_server = true;
        } else if is("only_stream") {
            if f.only_stream {
                return conflict("only_stream flag is already set");
            } else if f.no_stream {
                return conflict("cannot set only_stream, no_stream already set");
            }
            f.only_stream = true;
        } else if is("no_stream") {
            if f.no_stream {
                return conflict("no_stream flag is already set");
            } else if f.only_stream {
                return conflict("cannot set no_stream, only_stream already set");
            }
            f.no_stream = true;
        } else if is("no_frag") {
            if f.no_frag {
                return conflict("no_frag flag is already set");
            } else if f.only_frag {
                return conflict("cannot set no_frag, only_frag already set");
            }
            f.no_frag = true;
        } else if is("only_frag") {
            if f.only_frag {
                return conflict("only_frag flag is already set");
            } else if f.no_frag {
                return conflict("cannot set only_frag, no_frag already set");
            }
            f.only_frag = true;
        } else {
            return Err(Skip::kw(
                "flow",
                format!("invalid flow option \"{}\"", show(o)),
            ));
        }
    }
    if f.only_stream {
        ctx.require_stream = true;
    }
    if f.no_stream {
        ctx.require_packet = true;
    } else if !is_direction_only(&f) {
        // Suricata's SIG_FLAG_INIT_FLOW: set unless the flow is only a direction or has
        // no_stream (an oversight upstream, reproduced)
        ctx.flow_init = true;
    }
    ctx.matches.push(Match::Flow(f));
    Ok(())
}

/// `flow:to_server` / `flow:to_client` alone: Suricata keeps no match for it, only the rule's
/// direction flag.
fn is_direction_only(f: &FlowMatch) -> bool {
    let dir_only = |f: &FlowMatch| FlowMatch {
        to_server: f.to_server,
        to_client: f.to_client,
        ..FlowMatch::default()
    };
    (f.to_server ^ f.to_client) && *f == dir_only(f)
}

/// The rule's direction as Suricata sees it after parsing: the union of the directions of all
/// `flow` keywords, where a flow without a direction (and no flow at all) counts as both:
/// (to server, to client).
pub(crate) fn directions(ctx: &Ctx<'_>) -> (bool, bool) {
    let (mut ts, mut tc, mut any) = (false, false, false);
    for m in &ctx.matches {
        if let Match::Flow(f) = m {
            any = true;
            if !f.to_server && !f.to_client {
                return (true, true);
            }
            ts |= f.to_server;
            tc |= f.to_client;
        }
    }
    if any {
        (ts, tc)
    } else {
        (true, true)
    }
}

/// End of parsing: Suricata's rule direction is the union of the directions of all `flow`
/// keywords (a flow without direction counts as both). When that union is both directions, a
/// direction-only flow restricts nothing (`flow:to_server; flow:established;` matches
/// established packets both ways), so it is removed.
pub(crate) fn finish_flow(ctx: &mut Ctx<'_>) {
    if directions(ctx) == (true, true) {
        ctx.matches
            .retain(|m| !matches!(m, Match::Flow(f) if is_direction_only(f)));
    }
}

const FLOWBITS_MAX_TOKENS: usize = 100;

/// `flowbits:` regex `^([a-z]+)(?:,\s*(.*))?` (not anchored at the end): the command is copied
/// into 16 bytes, the name into 256; trailing blanks of the name are removed.
pub(crate) fn flowbits(ctx: &mut Ctx<'_>, v: Option<&[u8]>) -> Result<(), Skip> {
    let v = need(v, "flowbits")?;
    let bad = || {
        Skip::kw(
            "flowbits",
            format!("\"{}\" is not a valid setting for flowbits", show(v)),
        )
    };
    let cmd_len = v.iter().take_while(|c| c.is_ascii_lowercase()).count();
    if cmd_len == 0 {
        return Err(bad());
    }
    let cmd = &v[..cmd_len];
    if cmd.len() > 15 {
        return Err(Skip::kw("flowbits", "flowbits command too long"));
    }
    let mut name: &[u8] = b"";
    if v.get(cmd_len) == Some(&b',') {
        let mut i = cmd_len + 1;
        while i < v.len() && is_space(v[i]) {
            i += 1;
        }
        name = &v[i..];
        if name.len() > 255 {
            return Err(Skip::kw("flowbits", "flowbit name too long"));
        }
        while let Some((&c, rest)) = name.split_last() {
            if is_blank(c) {
                name = rest;
            } else {
                break;
            }
        }
        if !name.contains(&b'|') && name.iter().any(|&c| is_blank(c)) {
            return Err(Skip::kw("flowbits", "spaces not allowed in flowbit names"));
        }
    }
    let cmd = match cmd {
        b"noalert" => {
            if !name.is_empty() {
                return Err(Skip::kw("flowbits", "noalert takes no flowbit name"));
            }
            ctx.matches.push(Match::Flowbits(Flowbits {
                cmd: FlowbitsCmd::NoAlert,
                names: Vec::new(),
                or: false,
            }));
            return Ok(());
        }
        b"isset" => FlowbitsCmd::IsSet,
        b"isnotset" => FlowbitsCmd::IsNotSet,
        b"set" => FlowbitsCmd::Set,
        b"unset" => FlowbitsCmd::Unset,
        b"toggle" => FlowbitsCmd::Toggle,
        _ => {
            return Err(Skip::kw(
                "flowbits",
                format!("flowbits action \"{}\" is not supported", show(cmd)),
            ))
        }
    };
    if name.is_empty() {
        return Err(Skip::kw(
            "flowbits",
            format!("flowbits:{} needs a flowbit name", show(&v[..cmd_len])),
        ));
    }
    let (names, or) = if name.contains(&b'|') {
        // strtok on '|': empty tokens are skipped, each token is trimmed (isspace) and may not
        // contain a space (a tab is accepted)
        let mut names = Vec::new();
        for tok in name.split(|&c| c == b'|') {
            let mut t = tok;
            while let Some((&c, rest)) = t.split_first() {
                if is_space(c) {
                    t = rest;
                } else {
                    break;
                }
            }
            if t.is_empty() {
                continue;
            }
            while t.len() > 1 && is_space(t[t.len() - 1]) {
                t = &t[..t.len() - 1];
            }
            if t.contains(&b' ') {
                return Err(Skip::kw(
                    "flowbits",
                    "spaces are not allowed in flowbit names",
                ));
            }
            if names.len() == FLOWBITS_MAX_TOKENS {
                return Err(Skip::kw(
                    "flowbits",
                    format!("number of flowbits exceeds maximum allowed: {FLOWBITS_MAX_TOKENS}"),
                ));
            }
            names.push(show(t));
        }
        if names.is_empty() {
            return Err(Skip::kw("flowbits", "no valid flowbits specified"));
        }
        (names, true)
    } else {
        (vec![show(name)], false)
    };
    ctx.matches
        .push(Match::Flowbits(Flowbits { cmd, names, or }));
    Ok(())
}

/// `stream_size:side,op,value` (nom parser): `side` is server|client|both|either, `op` one of
/// `>= <= > < != ! =`, `value` a u32; only spaces (not tabs) around the parts.
pub(crate) fn stream_size(ctx: &mut Ctx<'_>, v: Option<&[u8]>) -> Result<(), Skip> {
    let v = need(v, "stream_size")?;
    let bad = || Skip::kw("stream_size", format!("parse error '{}'", show(v)));
    let sp = |i: &mut usize| {
        while *i < v.len() && v[*i] == b' ' {
            *i += 1;
        }
    };
    let mut i = 0;
    sp(&mut i);
    let s = i;
    while i < v.len() && v[i].is_ascii_alphabetic() {
        i += 1;
    }
    let side = match &v[s..i] {
        b"server" => StreamSide::Server,
        b"client" => StreamSide::Client,
        b"both" => StreamSide::Both,
        b"either" => StreamSide::Either,
        _ => return Err(bad()),
    };
    sp(&mut i);
    if v.get(i) != Some(&b',') {
        return Err(bad());
    }
    i += 1;
    sp(&mut i);
    let rest = &v[i..];
    let (op, l): (u8, usize) = if rest.starts_with(b">=") {
        (b'G', 2)
    } else if rest.starts_with(b"<=") {
        (b'L', 2)
    } else if rest.starts_with(b">") {
        (b'>', 1)
    } else if rest.starts_with(b"<") {
        (b'<', 1)
    } else if rest.starts_with(b"!=") {
        (b'!', 2)
    } else if rest.starts_with(b"!") {
        (b'!', 1)
    } else if rest.starts_with(b"=") {
        (b'=', 1)
    } else {
        return Err(bad());
    };
    i += l;
    sp(&mut i);
    if v.get(i) != Some(&b',') {
        return Err(bad());
    }
    i += 1;
    sp(&mut i);
    let s = i;
    while i < v.len() && v[i].is_ascii_digit() {
        i += 1;
    }
    let n: u32 = std::str::from_utf8(&v[s..i])
        .ok()
        .and_then(|t| t.parse().ok())
        .ok_or_else(bad)?;
    if !v[i..].iter().all(|&c| c == b' ') {
        return Err(bad());
    }
    let cmp = match op {
        b'G' => NumCmp::Ge(n),
        b'L' => NumCmp::Le(n),
        b'>' => NumCmp::Gt(n),
        b'<' => NumCmp::Lt(n),
        b'!' => NumCmp::Ne(n),
        _ => NumCmp::Eq(n),
    };
    ctx.matches
        .push(Match::StreamSize(StreamSize { side, cmp }));
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::rules::ast::{FlowMatch, Flowbits, FlowbitsCmd, Match, NumCmp, StreamSide};
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

    #[test]
    fn flow_forms() {
        assert_eq!(
            m("flow:established,to_server;").unwrap(),
            vec![Match::Flow(FlowMatch {
                established: true,
                to_server: true,
                ..FlowMatch::default()
            })]
        );
        assert_eq!(
            m("flow: From_Client , NO_STREAM ;").unwrap(),
            vec![Match::Flow(FlowMatch {
                to_server: true,
                no_stream: true,
                ..FlowMatch::default()
            })]
        );
        for bad in [
            "flow:established,not_established;",
            "flow:not_established,established;",
            "flow:stateless,established;",
            "flow:to_server,from_client;",
            "flow:to_server,to_client;",
            "flow:only_stream,no_stream;",
            "flow:no_frag,only_frag;",
            "flow:foo;",
            "flow:;",
            "flow:a,b,c,d;",
            "flow:established,;",
            "flow:not_establishedx;",
            "flow:!established;",
            "flow:established; flow:to_server;",
        ] {
            assert_eq!(m(bad).unwrap_err(), "invalid:flow", "{bad}");
        }
        assert_eq!(
            m("flow:only_stream; dsize:3;").unwrap_err(),
            "invalid:tcp-stream"
        );
        assert_eq!(
            m("flow:no_stream; flow:only_stream;").unwrap_err(),
            "invalid:tcp-stream"
        );
        // the one-flow rule only counts flows Suricata keeps a match for
        assert!(m("flow:to_server; flow:established;").is_ok());
        assert!(m("flow:no_stream; flow:established;").is_ok());
    }

    #[test]
    fn flow_directions() {
        // a lone direction is kept
        assert_eq!(
            m("flow:to_client;").unwrap(),
            vec![Match::Flow(FlowMatch {
                to_client: true,
                ..FlowMatch::default()
            })]
        );
        // both directions named: the direction-only flows restrict nothing
        assert_eq!(m("flow:to_server; flow:to_client;").unwrap(), vec![]);
        assert_eq!(
            m("flow:to_server; flow:established;").unwrap(),
            vec![Match::Flow(FlowMatch {
                established: true,
                ..FlowMatch::default()
            })]
        );
        assert_eq!(m("flow:to_server; flow:to_server;").unwrap().len(), 2);
    }

    #[test]
    fn flowbits_forms() {
        let fb = |s: &str| match m(s).unwrap().pop() {
            Some(Match::Flowbits(f)) => f,
            x => panic!("{x:?}"),
        };
        assert_eq!(
            fb("flowbits:set,a.b-c;"),
            Flowbits {
                cmd: FlowbitsCmd::Set,
                names: vec!["a.b-c".into()],
                or: false
            }
        );
        assert_eq!(
            fb("flowbits:isset, a | b||c ;"),
            Flowbits {
                cmd: FlowbitsCmd::IsSet,
                names: vec!["a".into(), "b".into(), "c".into()],
                or: true
            }
        );
        // '&' has no meaning in 7.0: it is part of the name
        assert_eq!(fb("flowbits:set,a&b;").names, vec!["a&b".to_string()]);
        assert_eq!(fb("flowbits:toggle,x;").cmd, FlowbitsCmd::Toggle);
        assert_eq!(fb("flowbits:noalert;").cmd, FlowbitsCmd::NoAlert);
        // the regex is not anchored at the end: "noalert foo" is noalert
        assert_eq!(fb("flowbits:noalert foo;").cmd, FlowbitsCmd::NoAlert);
        assert_eq!(fb("flowbits:set,x,y;").names, vec!["x,y".to_string()]);
        for bad in [
            "flowbits:set;",
            "flowbits:set,;",
            "flowbits:set foo;",
            "flowbits:set,a b;",
            "flowbits:set,a\tb;",
            "flowbits:isset,a b|c;",
            "flowbits:isset,|;",
            "flowbits:Set,a;",
            "flowbits:foo,a;",
            "flowbits:noalert,a;",
            "flowbits:\"set,a\";",
        ] {
            assert_eq!(m(bad).unwrap_err(), "invalid:flowbits", "{bad}");
        }
        assert!(m("flowbits:isset,a\tb|c;").is_ok());
        assert!(m(&format!("flowbits:set,{};", "a".repeat(255))).is_ok());
        assert!(m(&format!("flowbits:set,{};", "a".repeat(256))).is_err());
        let many: Vec<String> = (0..101).map(|i| i.to_string()).collect();
        assert!(m(&format!("flowbits:isset,{};", many.join("|"))).is_err());
    }

    #[test]
    fn stream_size_forms() {
        assert_eq!(
            m("stream_size: server , < , 6 ;").unwrap(),
            vec![Match::StreamSize(crate::rules::ast::StreamSize {
                side: StreamSide::Server,
                cmp: NumCmp::Lt(6)
            })]
        );
        assert!(matches!(
            m("stream_size:either,!,0;").unwrap()[0],
            Match::StreamSize(s) if s.cmp == NumCmp::Ne(0) && s.side == StreamSide::Either
        ));
        assert!(m("stream_size:both,>=,4294967295;").is_ok());
        for bad in [
            "stream_size:server,==,6;",
            "stream_size:Server,<,6;",
            "stream_size:server,<,6,;",
            "stream_size:server,<6;",
            "stream_size:server\t,<,6;",
            "stream_size:server,<,4294967296;",
            "stream_size:server,=,+6;",
        ] {
            assert_eq!(m(bad).unwrap_err(), "invalid:stream_size", "{bad}");
        }
    }
}
