//! Host and IP-pair bit keywords: `hostbits` and `xbits` (Suricata 7.0.10's
//! `detect-hostbits.c`, `detect-xbits.c`). Both parse into [`Xbits`]; `noalert` sets the
//! rule's no-alert flag (kept as a `flowbits:noalert` match, which is what that flag is).

use crate::rules::ast::{Flowbits, FlowbitsCmd, Match, XbitTrack, Xbits, XbitsCmd, XbitsKeyword};
use crate::rules::cnum::{is_space, parse_u32, show};
use crate::rules::parse::{need, Ctx, Skip};

/// `hostbits` bits expire after 300 s (not configurable in the keyword).
pub const HOSTBITS_EXPIRE: u32 = 300;
/// `xbits` default expiry (`DETECT_XBITS_EXPIRE_DEFAULT`).
pub const XBITS_EXPIRE_DEFAULT: u32 = 30;

fn noalert(ctx: &mut Ctx<'_>) {
    ctx.matches.push(Match::Flowbits(Flowbits {
        cmd: FlowbitsCmd::NoAlert,
        names: Vec::new(),
        or: false,
    }));
}

fn command(cmd: &[u8]) -> Option<Option<XbitsCmd>> {
    Some(match cmd {
        b"noalert" => None,
        b"isset" => Some(XbitsCmd::IsSet),
        b"isnotset" => Some(XbitsCmd::IsNotSet),
        b"set" => Some(XbitsCmd::Set),
        b"unset" => Some(XbitsCmd::Unset),
        b"toggle" => Some(XbitsCmd::Toggle),
        _ => return None,
    })
}

fn skip_spaces(v: &[u8], i: &mut usize) {
    while *i < v.len() && is_space(v[*i]) {
        *i += 1;
    }
}

/// `, name` or `, dir` of the hostbits regex: `\s*,\s*([^\s,]+)`. Returns the token and the
/// position after it, or None when the group does not match at `i`.
fn hostbits_field(v: &[u8], i: usize) -> Option<(&[u8], usize)> {
    let mut j = i;
    skip_spaces(v, &mut j);
    if v.get(j) != Some(&b',') {
        return None;
    }
    j += 1;
    skip_spaces(v, &mut j);
    let s = j;
    while j < v.len() && !is_space(v[j]) && v[j] != b',' {
        j += 1;
    }
    (j > s).then_some((&v[s..j], j))
}

/// `hostbits:` regex `^([a-z]+)(?:\s*,\s*([^\s,]+))?(?:\s*,\s*([^,\s]+))?` and nothing after
/// it. The command is copied into 16 bytes, the name into 256, the direction into 16;
/// `src` (the default) or `dst` (`both` is "not implemented"); expiry is always 300 s.
pub(crate) fn hostbits(ctx: &mut Ctx<'_>, v: Option<&[u8]>) -> Result<(), Skip> {
    let v = need(v, "hostbits")?;
    let bad = || {
        Skip::kw(
            "hostbits",
            format!("\"{}\" is not a valid setting for hostbits", show(v)),
        )
    };
    let cmd_len = v.iter().take_while(|c| c.is_ascii_lowercase()).count();
    if cmd_len == 0 {
        return Err(bad());
    }
    let mut i = cmd_len;
    let mut name: &[u8] = b"";
    let mut dir: &[u8] = b"";
    if let Some((n, j)) = hostbits_field(v, i) {
        name = n;
        i = j;
        if let Some((d, j)) = hostbits_field(v, i) {
            dir = d;
            i = j;
        }
    }
    if i != v.len() {
        return Err(bad());
    }
    let cmd = &v[..cmd_len];
    if cmd.len() > 15 || name.len() > 255 || dir.len() > 15 {
        return Err(Skip::kw("hostbits", "pcre2_substring_copy_bynumber failed"));
    }
    let track = match dir {
        b"" | b"src" => XbitTrack::IpSrc,
        b"dst" => XbitTrack::IpDst,
        b"both" => return Err(Skip::kw("hostbits", "'both' not implemented")),
        _ => return Err(bad()),
    };
    let cmd = command(cmd).ok_or_else(|| {
        Skip::kw(
            "hostbits",
            format!("hostbits action \"{}\" is not supported", show(cmd)),
        )
    })?;
    let Some(cmd) = cmd else {
        if !name.is_empty() {
            return Err(Skip::kw("hostbits", "noalert takes no name"));
        }
        noalert(ctx);
        return Ok(());
    };
    if name.is_empty() {
        return Err(Skip::kw("hostbits", "a hostbit name is needed"));
    }
    ctx.matches.push(Match::Xbits(Xbits {
        cmd,
        name: show(name),
        track,
        expire: HOSTBITS_EXPIRE,
        keyword: XbitsKeyword::Hostbits,
    }));
    Ok(())
}

/// `xbits:` regex `^([a-z]+)(?:,\s*([^,]+))?(?:,\s*(?:track\s+([^,]+)))(?:,\s*(?:expire\s+([^,]+)))?`
/// (not anchored at the end). The track group is mandatory, so the name group must match too
/// (else copying it fails): `noalert` can never load. `track` is `ip_src`, `ip_dst` or
/// `ip_pair`; `expire` (at most 15 characters) a non-zero u32, default 30.
pub(crate) fn xbits(ctx: &mut Ctx<'_>, v: Option<&[u8]>) -> Result<(), Skip> {
    let v = need(v, "xbits")?;
    let bad = || {
        Skip::kw(
            "xbits",
            format!("\"{}\" is not a valid setting for xbits", show(v)),
        )
    };
    let cmd_len = v.iter().take_while(|c| c.is_ascii_lowercase()).count();
    if cmd_len == 0 || v.get(cmd_len) != Some(&b',') {
        return Err(bad());
    }
    let cmd = &v[..cmd_len];
    // the fields after the command, split at commas
    let mut fields = v[cmd_len + 1..].split(|&c| c == b',');
    let name_field = fields.next().unwrap_or(b"");
    let track_field = fields.next().ok_or_else(bad)?;
    let expire_field = fields.next();
    // name: `\s*([^,]+)` — leading blanks skipped unless the field is only blanks
    let name = {
        let lead = name_field.iter().take_while(|&&c| is_space(c)).count();
        if lead == name_field.len() {
            name_field.get(lead.saturating_sub(1)..).unwrap_or(b"")
        } else {
            &name_field[lead..]
        }
    };
    if name.is_empty() {
        // the optional name group did not take part: copying it fails
        return Err(Skip::kw("xbits", "pcre2_substring_copy_bynumber failed"));
    }
    // `\s*track\s+([^,]+)`
    let keyword_value = |field: &[u8], kw: &[u8]| -> Option<Vec<u8>> {
        let mut i = 0;
        skip_spaces(field, &mut i);
        let rest = field.get(i..)?;
        let rest = rest.strip_prefix(kw)?;
        let ws = rest.iter().take_while(|&&c| is_space(c)).count();
        if ws == 0 {
            return None;
        }
        // `\s+` gives back one blank when nothing else follows
        let val = if ws == rest.len() {
            &rest[ws - 1..]
        } else {
            &rest[ws..]
        };
        Some(val.to_vec())
    };
    let track = keyword_value(track_field, b"track").ok_or_else(bad)?;
    let mut expire = XBITS_EXPIRE_DEFAULT;
    if let Some(e) = expire_field.and_then(|f| keyword_value(f, b"expire")) {
        if cmd.len() > 15 || name.len() > 255 || track.len() > 15 || e.len() > 15 {
            return Err(Skip::kw("xbits", "pcre2_substring_copy_bynumber failed"));
        }
        expire = parse_u32(&e, 10).ok_or_else(|| {
            Skip::kw(
                "xbits",
                format!("Invalid value for expire: \"{}\"", show(&e)),
            )
        })?;
        if expire == 0 {
            return Err(Skip::kw("xbits", "expire must be bigger than 0"));
        }
    }
    if cmd.len() > 15 || name.len() > 255 || track.len() > 15 {
        return Err(Skip::kw("xbits", "pcre2_substring_copy_bynumber failed"));
    }
    let track = match track.as_slice() {
        b"ip_src" => XbitTrack::IpSrc,
        b"ip_dst" => XbitTrack::IpDst,
        b"ip_pair" => XbitTrack::IpPair,
        _ => return Err(bad()),
    };
    let cmd = command(cmd).ok_or_else(|| {
        Skip::kw(
            "xbits",
            format!("xbits action \"{}\" is not supported", show(cmd)),
        )
    })?;
    let Some(cmd) = cmd else {
        // noalert with a name
        return Err(Skip::kw("xbits", "noalert takes no name"));
    };
    ctx.matches.push(Match::Xbits(Xbits {
        cmd,
        name: show(name),
        track,
        expire,
        keyword: XbitsKeyword::Xbits,
    }));
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::rules::ast::{Match, XbitTrack, XbitsCmd, XbitsKeyword};
    use crate::rules::{parse_rule, Vars};

    fn parse(opts: &str) -> Result<Vec<Match>, String> {
        let text = format!("alert ip any any -> any any ({opts} sid:1;)");
        parse_rule(&text, &Vars::suricata_default(), None)
            .map(|r| r.matches)
            .map_err(|e| e.to_string())
    }

    fn one(opts: &str) -> crate::rules::ast::Xbits {
        match parse(opts).expect(opts).as_slice() {
            [Match::Xbits(x)] => x.clone(),
            other => panic!("{opts}: {other:?}"),
        }
    }

    /// Verified against `suricata -T` (7.0.10): which forms load.
    #[test]
    fn hostbits_forms_as_suricata() {
        for ok in [
            "hostbits:set,a;",
            "hostbits:set,a,src;",
            "hostbits:set,a,dst;",
            "hostbits:set, a , src ;",
            "hostbits:noalert;",
            "hostbits:set,a|b;",
            "hostbits: set,a;",
            "hostbits:isset,a&b;",
            "hostbits:set,a:b;",
            "hostbits:set ,a;",
            "hostbits:set\t,\ta;",
            "hostbits:set,\"a\";",
            "hostbits:isnotset,a,dst; hostbits:toggle,b; hostbits:unset,c,src;",
            "hostbits:noalert; hostbits:noalert;",
        ] {
            assert!(parse(ok).is_ok(), "{ok}: {:?}", parse(ok));
        }
        for bad in [
            "hostbits:set,a,both;",
            "hostbits:set,a,src,60;",
            "hostbits:set,a,track ip_src, expire 60;",
            "hostbits:set,a b;",
            "hostbits:noalert,a;",
            "hostbits:isset;",
            "hostbits:Set,a;",
            "hostbits:set,a,SRC;",
            "hostbits:foo,a;",
            "hostbits:set,a,src,;",
            "hostbits:set,a,,src;",
            "hostbits:set;",
            "hostbits:set,a,src x;",
            "hostbits:setx,a;",
            "hostbits:set,a,srcc;",
            "hostbits:Xset,a;",
            "hostbits:1set,a;",
            "hostbits:\"set,a\";",
        ] {
            assert!(parse(bad).is_err(), "{bad} loaded");
        }
        let long = "a".repeat(255);
        assert!(parse(&format!("hostbits:set,{long};")).is_ok());
        assert!(parse(&format!("hostbits:set,{long}a;")).is_err());
        let x = one("hostbits:toggle, abc , dst ;");
        assert_eq!(
            (x.cmd, x.name.as_str(), x.track, x.expire, x.keyword),
            (
                XbitsCmd::Toggle,
                "abc",
                XbitTrack::IpDst,
                300,
                XbitsKeyword::Hostbits
            )
        );
        assert_eq!(one("hostbits:isset,q;").track, XbitTrack::IpSrc);
    }

    /// Verified against `suricata -T` (7.0.10): which forms load.
    #[test]
    fn xbits_forms_as_suricata() {
        for ok in [
            "xbits:set,a,track ip_src;",
            "xbits:set,a,track ip_dst;",
            "xbits:set,a,track ip_pair;",
            "xbits:set,a,track ip_src, expire 60;",
            "xbits:set,a,track ip_src,expire 60;",
            "xbits:set,a,track ip_src ;",
            "xbits:set,a b,track ip_src;",
            "xbits:set, a ,track ip_src;",
            "xbits:set,a,track  ip_src;",
            "xbits:set,a,track ip_src, expire 4294967295;",
            "xbits:set,a,track ip_src, expire 60, foo;",
            "xbits:isset,a,track ip_pair, expire 5;",
            "xbits:set,a,track ip_src,track ip_dst;",
            "xbits:set,a,track ip_src, expire  60;",
            "xbits:set,a,track ip_src, expire +60;",
            "xbits:set,a,track ip_src,expire 060;",
            "xbits:set,a|b,track ip_src;",
            "xbits:set,a,track ip_src, expire   ;",
            "xbits:set,a,track ip_src,foo;",
            "xbits:set,a,track\tip_src;",
            "xbits:set,\ta,track ip_src;",
            "xbits: set,a,track ip_src;",
            "xbits:set,a, track ip_src;",
            "xbits:isnotset,a,track ip_src, expire 10;",
            "xbits:set,a,track ip_src, expire 0000000000060;",
            "xbits:set,a,track ip_src, expire 000000000000060;",
        ] {
            assert!(parse(ok).is_ok(), "{ok}: {:?}", parse(ok));
        }
        for bad in [
            "xbits:set,a,track ip_src, expire 0;",
            "xbits:set,a,track ip_src, expire -1;",
            "xbits:set,a,track ip_src, expire 60x;",
            "xbits:set,a;",
            "xbits:noalert;",
            "xbits:noalert,track ip_src;",
            "xbits:set,a,track ip_src, expire 4294967296;",
            "xbits:set,a,track tx;",
            "xbits:set,track ip_src;",
            "xbits:set,a,track ip_src, expire 0x10;",
            "xbits:set,,track ip_src;",
            "xbits:noalert,,track ip_src;",
            "xbits:set,a,track ip_src, expire 99999999999999999999;",
            "xbits:set,a,track ip_srcx;",
            "xbits:set,a,tracked ip_src;",
            "xbits:set,a,track ip_src ,expire 60;",
            "xbits:set,a,track ip_src, expire 60 ,x;",
            "xbits:Xset,a,track ip_src;",
            "xbits:set,a,track ip_src, expire 00000000000000000000060;",
            "xbits:set,a,track ip_src, expire 0000000000000060;",
            "xbits:set,a,track ip_src, expire  -0;",
            "xbits:set,a,track ip_src, expire  +0;",
            "xbits:set ,a,track ip_src;",
            "xbits:set,a,track ip_src; xbits:noalert;",
        ] {
            assert!(parse(bad).is_err(), "{bad} loaded");
        }
        let x = one("xbits:set, ET.x ,track ip_pair, expire 15;");
        assert_eq!(
            (x.cmd, x.name.as_str(), x.track, x.expire, x.keyword),
            (
                XbitsCmd::Set,
                "ET.x ",
                XbitTrack::IpPair,
                15,
                XbitsKeyword::Xbits
            )
        );
        assert_eq!(one("xbits:isset,a,track ip_dst;").expire, 30);
    }
}
