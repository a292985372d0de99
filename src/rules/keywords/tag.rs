//! `tag` (Suricata 7.0.10's `detect-tag.c`): after an alert, log the packets that follow —
//! of the session, or to and from one host — for a number of packets, bytes or seconds.

use crate::rules::ast::{Match, Tag, TagKind, TagMetric};
use crate::rules::cnum::{is_space, show, string_parse_u};
use crate::rules::parse::{need, Ctx, Skip};

/// `DETECT_TAG_MAX_PKTS`: the default count, and the cap of a packet count.
pub const TAG_MAX_PKTS: u32 = 256;

/// `tag:` regex
/// `^\s*(host|session)\s*(,\s*(\d+)\s*,\s*(packets|bytes|seconds)\s*(,\s*(src|dst))?\s*)?$`
/// (case-sensitive). The count is `StringParseUint32` over its digits (at most 23 of them);
/// a direction on a session tag is accepted with a warning and ignored.
pub(crate) fn tag(ctx: &mut Ctx<'_>, v: Option<&[u8]>) -> Result<(), Skip> {
    let v = need(v, "tag")?;
    let bad = || Skip::kw("tag", format!("parse error, string {}", show(v)));
    let mut i = 0;
    let ws = |i: &mut usize| {
        while *i < v.len() && is_space(v[*i]) {
            *i += 1;
        }
    };
    let word = |i: &mut usize, w: &[u8]| -> bool {
        if v[*i..].starts_with(w) {
            *i += w.len();
            true
        } else {
            false
        }
    };
    ws(&mut i);
    let kind = if word(&mut i, b"host") {
        TagKind::Host
    } else if word(&mut i, b"session") {
        TagKind::Session
    } else {
        return Err(bad());
    };
    ws(&mut i);
    let mut t = Tag {
        kind,
        count: TAG_MAX_PKTS,
        metric: TagMetric::Packets,
        src: false,
    };
    if i < v.len() {
        if v[i] != b',' {
            return Err(bad());
        }
        i += 1;
        ws(&mut i);
        let s = i;
        while i < v.len() && v[i].is_ascii_digit() {
            i += 1;
        }
        if i == s {
            return Err(bad());
        }
        let digits = &v[s..i];
        ws(&mut i);
        if v.get(i) != Some(&b',') {
            return Err(bad());
        }
        i += 1;
        ws(&mut i);
        t.metric = if word(&mut i, b"packets") {
            TagMetric::Packets
        } else if word(&mut i, b"bytes") {
            TagMetric::Bytes
        } else if word(&mut i, b"seconds") {
            TagMetric::Seconds
        } else {
            return Err(bad());
        };
        ws(&mut i);
        let mut dir = None;
        if v.get(i) == Some(&b',') {
            i += 1;
            ws(&mut i);
            dir = Some(if word(&mut i, b"src") {
                true
            } else if word(&mut i, b"dst") {
                false
            } else {
                return Err(bad());
            });
            ws(&mut i);
        }
        if i != v.len() {
            return Err(bad());
        }
        t.count = string_parse_u(digits, 10, digits.len(), u32::MAX as u64)
            .ok_or_else(|| Skip::kw("tag", "Invalid argument for count. Must be a value"))?
            as u32;
        if t.metric == TagMetric::Packets && t.count > TAG_MAX_PKTS {
            t.count = TAG_MAX_PKTS;
        }
        if let Some(src) = dir {
            // Suricata warns that a direction makes no sense for a session tag
            t.src = src;
        }
    }
    ctx.matches.push(Match::Tag(t));
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::rules::ast::{Match, Tag, TagKind, TagMetric};
    use crate::rules::{parse_rule, Vars};

    fn parse(opts: &str) -> Result<Vec<Tag>, String> {
        let text = format!("alert ip any any -> any any ({opts} sid:1;)");
        parse_rule(&text, &Vars::suricata_default(), None)
            .map(|r| {
                r.matches
                    .into_iter()
                    .filter_map(|m| match m {
                        Match::Tag(t) => Some(t),
                        _ => None,
                    })
                    .collect()
            })
            .map_err(|e| e.to_string())
    }

    /// Verified against `suricata -T` (7.0.10).
    #[test]
    fn tag_forms_as_suricata() {
        let t = |kind, count, metric, src| Tag {
            kind,
            count,
            metric,
            src,
        };
        use TagKind::*;
        use TagMetric::*;
        for (opts, want) in [
            ("tag:session;", vec![t(Session, 256, Packets, false)]),
            ("tag:host;", vec![t(Host, 256, Packets, false)]),
            (
                "tag:session,10,packets;",
                vec![t(Session, 10, Packets, false)],
            ),
            ("tag:host,10,seconds,src;", vec![t(Host, 10, Seconds, true)]),
            (
                "tag:session,10,bytes,dst;",
                vec![t(Session, 10, Bytes, false)],
            ),
            (
                "tag: session , 10 , packets , src ;",
                vec![t(Session, 10, Packets, true)],
            ),
            (
                "tag:session,4294967295,seconds;",
                vec![t(Session, u32::MAX, Seconds, false)],
            ),
            (
                "tag:session,0,packets;",
                vec![t(Session, 0, Packets, false)],
            ),
            (
                "tag:session,1000,packets;",
                vec![t(Session, 256, Packets, false)],
            ),
            (
                "tag:session; tag:host;",
                vec![
                    t(Session, 256, Packets, false),
                    t(Host, 256, Packets, false),
                ],
            ),
            (
                "tag:session,000000000000000000010,packets;",
                vec![t(Session, 10, Packets, false)],
            ),
            (
                "tag:session,  10,packets;",
                vec![t(Session, 10, Packets, false)],
            ),
            (
                "tag:session\t,\t10\t,\tpackets;",
                vec![t(Session, 10, Packets, false)],
            ),
        ] {
            assert_eq!(parse(opts), Ok(want), "{opts}");
        }
        for bad in [
            "tag:Session;",
            "tag:session,10,Packets;",
            "tag:host,10,packets,SRC;",
            "tag:session,10;",
            "tag:session,-1,packets;",
            "tag:session,4294967296,packets;",
            "tag:host,1,packets,both;",
            "tag:flow;",
            "tag:session,00000000000000000000000010,packets;",
            "tag:session,10,packets,src,x;",
            "tag:host,src;",
            "tag;",
        ] {
            assert!(parse(bad).is_err(), "{bad} loaded");
        }
    }
}
