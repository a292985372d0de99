//! `threshold` and `detection_filter` (Suricata 7.0.10's `detect-threshold.c` and
//! `detect-detection-filter.c`): both go to [`Meta`](crate::rules::ast::Meta), at most one of
//! them per rule.

use crate::rules::ast::{Threshold, ThresholdKind, Track};
use crate::rules::cnum::{is_space, show, string_parse_u};
use crate::rules::parse::{need, Ctx, Skip};

/// Suricata's pre-check: the value is cut at ',' with `strtok` (empty pieces skipped) and each
/// key word must appear (as a substring) in exactly one piece. Quirk reproduced: the loop stops
/// once it has looked at as many pieces as the first piece (with any leading commas) is long.
fn key_counts(v: &[u8], keys: &[&str]) -> Vec<usize> {
    let mut counts = vec![0; keys.len()];
    let pieces: Vec<(usize, &[u8])> = {
        let mut out = Vec::new();
        let mut start = 0;
        for (i, &c) in v
            .iter()
            .enumerate()
            .chain(std::iter::once((v.len(), &b',')))
        {
            if c == b',' {
                if i > start {
                    out.push((i, &v[start..i]));
                }
                start = i + 1;
            }
        }
        out
    };
    let Some(&(first_end, _)) = pieces.first() else {
        return counts;
    };
    // strtok writes a NUL after the first piece only when a delimiter follows it
    let strlen = if first_end < v.len() {
        first_end
    } else {
        v.len()
    };
    for (pos, (_, piece)) in pieces.iter().enumerate() {
        if pos >= strlen {
            break;
        }
        for (k, key) in keys.iter().enumerate() {
            if piece.windows(key.len()).any(|w| w == key.as_bytes()) {
                counts[k] += 1;
            }
        }
    }
    counts
}

/// Match `(K)\s+(V)` at `i`: returns the key, the value and the end.
fn kv<'a>(
    v: &'a [u8],
    i: usize,
    keys: &[&str],
    words: &[&str],
) -> Option<(&'a [u8], &'a [u8], usize)> {
    let rest = &v[i..];
    let key = keys.iter().find(|k| rest.starts_with(k.as_bytes()))?;
    let mut j = i + key.len();
    let s = j;
    while j < v.len() && is_space(v[j]) {
        j += 1;
    }
    if j == s {
        return None;
    }
    let vs = j;
    if let Some(w) = words.iter().find(|w| v[j..].starts_with(w.as_bytes())) {
        j += w.len();
    } else {
        while j < v.len() && v[j].is_ascii_digit() {
            j += 1;
        }
        if j == vs {
            return None;
        }
    }
    Some((&v[i..i + key.len()], &v[vs..j], j))
}

/// The shared regex `^\s*(K)\s+(V)\s*,\s*...` with `n` pairs; `anchored` adds `\s*$`.
fn pairs<'a>(
    v: &'a [u8],
    n: usize,
    keys: &[&str],
    words: &[&str],
    anchored: bool,
) -> Option<Vec<&'a [u8]>> {
    let ws = |i: &mut usize| {
        while *i < v.len() && is_space(v[*i]) {
            *i += 1;
        }
    };
    let mut out = Vec::with_capacity(2 * n);
    let mut i = 0;
    ws(&mut i);
    for p in 0..n {
        let (k, val, e) = kv(v, i, keys, words)?;
        out.push(k);
        out.push(val);
        i = e;
        ws(&mut i);
        if p + 1 < n {
            if v.get(i) != Some(&b',') {
                return None;
            }
            i += 1;
            ws(&mut i);
        }
    }
    if anchored && i != v.len() {
        return None;
    }
    Some(out)
}

/// `StringParseUint32(&x, 10, strlen(s), s)`.
fn strict_u32(s: &[u8], kw: &str) -> Result<u32, Skip> {
    string_parse_u(s, 10, s.len(), u32::MAX as u64)
        .map(|n| n as u32)
        .ok_or_else(|| Skip::kw(kw, format!("invalid number '{}'", show(s))))
}

/// Neither type nor track given by a value: Suricata loads such a rule but its threshold code
/// never lets it alert.
fn never_alerts(kw: &str) -> Skip {
    Skip::unsupported(
        "threshold-never-alerts",
        format!("{kw} without a usable type/track: Suricata loads the rule but it never alerts"),
    )
}

/// `threshold:type T, track K, count N, seconds S` (any order; the regex is not anchored at the
/// end, so anything may follow the fourth pair).
pub(crate) fn threshold(ctx: &mut Ctx<'_>, v: Option<&[u8]>) -> Result<(), Skip> {
    let v = need(v, "threshold")?;
    if ctx.meta.detection_filter.is_some() {
        return Err(Skip::kw(
            "threshold",
            "\"detection_filter\" and \"threshold\" are not allowed in the same rule",
        ));
    }
    if ctx.meta.threshold.is_some() {
        return Err(Skip::kw(
            "threshold",
            "multiple \"threshold\" options are not allowed in the same rule",
        ));
    }
    if key_counts(v, &["count", "second", "type", "track"]) != [1, 1, 1, 1] {
        return Err(Skip::kw(
            "threshold",
            format!(
                "each of type, track, count, seconds must appear once: '{}'",
                show(v)
            ),
        ));
    }
    const KEYS: &[&str] = &["track", "type", "count", "seconds"];
    const WORDS: &[&str] = &[
        "limit",
        "both",
        "threshold",
        "by_dst",
        "by_src",
        "by_both",
        "by_rule",
    ];
    let args = pairs(v, 4, KEYS, WORDS, false)
        .ok_or_else(|| Skip::kw("threshold", format!("parse error '{}'", show(v))))?;
    let mut kind = None;
    let mut track = None;
    let (mut count_pos, mut seconds_pos) = (None, None);
    for (i, a) in args.iter().enumerate() {
        match *a {
            b"limit" => kind = Some(ThresholdKind::Limit),
            b"both" => kind = Some(ThresholdKind::Both),
            b"threshold" => kind = Some(ThresholdKind::Threshold),
            b"by_dst" => track = Some(Track::ByDst),
            b"by_src" => track = Some(Track::BySrc),
            b"by_both" => track = Some(Track::ByBoth),
            b"by_rule" => track = Some(Track::ByRule),
            b"count" => count_pos = Some(i + 1),
            b"seconds" => seconds_pos = Some(i + 1),
            _ => {}
        }
    }
    let (Some(cp), Some(sp)) = (count_pos, seconds_pos) else {
        return Err(Skip::kw("threshold", "count and seconds are required"));
    };
    let count = strict_u32(args[cp], "threshold")?;
    let seconds = strict_u32(args[sp], "threshold")?;
    let (Some(kind), Some(track)) = (kind, track) else {
        return Err(never_alerts("threshold"));
    };
    ctx.meta.threshold = Some(Threshold {
        kind,
        track,
        count,
        seconds,
    });
    Ok(())
}

/// `detection_filter:track by_src|by_dst, count N, seconds S` (any order, anchored; count and
/// seconds must not be 0).
pub(crate) fn detection_filter(ctx: &mut Ctx<'_>, v: Option<&[u8]>) -> Result<(), Skip> {
    let v = need(v, "detection_filter")?;
    if ctx.meta.threshold.is_some() {
        return Err(Skip::kw(
            "detection_filter",
            "\"detection_filter\" and \"threshold\" are not allowed in the same rule",
        ));
    }
    if ctx.meta.detection_filter.is_some() {
        return Err(Skip::kw(
            "detection_filter",
            "at most one \"detection_filter\" is allowed per rule",
        ));
    }
    if key_counts(v, &["count", "second", "track"]) != [1, 1, 1] {
        return Err(Skip::kw(
            "detection_filter",
            format!(
                "each of track, count, seconds must appear once: '{}'",
                show(v)
            ),
        ));
    }
    const KEYS: &[&str] = &["track", "count", "seconds"];
    const WORDS: &[&str] = &["by_src", "by_dst"];
    let args = pairs(v, 3, KEYS, WORDS, true)
        .ok_or_else(|| Skip::kw("detection_filter", format!("parse error '{}'", show(v))))?;
    let mut track = None;
    let (mut count_pos, mut seconds_pos) = (None, None);
    for (i, a) in args.iter().enumerate() {
        match *a {
            b"by_dst" => track = Some(Track::ByDst),
            b"by_src" => track = Some(Track::BySrc),
            b"count" => count_pos = Some(i + 1),
            b"seconds" => seconds_pos = Some(i + 1),
            _ => {}
        }
    }
    let (Some(cp), Some(sp)) = (count_pos, seconds_pos) else {
        return Err(Skip::kw(
            "detection_filter",
            "count and seconds are required",
        ));
    };
    let count = strict_u32(args[cp], "detection_filter")?;
    let seconds = strict_u32(args[sp], "detection_filter")?;
    if count == 0 || seconds == 0 {
        return Err(Skip::kw(
            "detection_filter",
            "count and seconds must be greater than 0",
        ));
    }
    let Some(track) = track else {
        return Err(never_alerts("detection_filter"));
    };
    ctx.meta.detection_filter = Some(Threshold {
        kind: ThresholdKind::DetectionFilter,
        track,
        count,
        seconds,
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::ast::Meta;
    use crate::rules::{parse_rule, Vars};

    fn meta(opts: &str) -> Result<Meta, String> {
        parse_rule(
            &format!("alert tcp any any -> any any (msg:\"t\"; {opts} sid:1;)"),
            &Vars::suricata_default(),
            None,
        )
        .map(|r| r.meta)
        .map_err(|e| e.key)
    }

    #[test]
    fn threshold_forms() {
        let t = |s: &str| meta(s).unwrap().threshold.unwrap();
        assert_eq!(
            t("threshold:type limit, track by_src, count 1, seconds 60;"),
            Threshold {
                kind: ThresholdKind::Limit,
                track: Track::BySrc,
                count: 1,
                seconds: 60
            }
        );
        let x = t("threshold: seconds 5,count 0 , track by_both,type both ;");
        assert_eq!(
            (x.kind, x.track, x.count, x.seconds),
            (ThresholdKind::Both, Track::ByBoth, 0, 5)
        );
        // keys and values are matched independently of each other
        let x = t("threshold:type by_rule, track threshold, count 1, seconds 2;");
        assert_eq!((x.kind, x.track), (ThresholdKind::Threshold, Track::ByRule));
        // not anchored at the end: "0x10" is 0, trailing text ignored
        assert_eq!(
            t("threshold:type limit, track by_src, count 1, seconds 0x10;").seconds,
            0
        );
        assert!(meta("threshold:type limit, track by_src, count 1, seconds 60, foo;").is_ok());
        assert_eq!(
            meta("threshold:type 5, track by_src, count 1, seconds 60;").unwrap_err(),
            "threshold-never-alerts"
        );
        for bad in [
            "threshold:type limit, track by_src, count 1;",
            "threshold:type limit, type limit, track by_src, count 1, seconds 5;",
            "threshold:type Limit, track by_src, count 1, seconds 5;",
            "threshold:type both, track by_flow, count 1, seconds 5;",
            "threshold:type limit, track by_src, count 4294967296, seconds 5;",
            "threshold:type limit, track by_src, count 1, seconds 10, xsecondx;",
            "threshold:c,type limit, track by_src, count 1, seconds 10;",
            "threshold:typelimit, track by_src, count 1, seconds 10;",
            "threshold:type limit, track by_src, count 1, seconds 1; threshold:type limit, track by_src, count 1, seconds 1;",
            "detection_filter:track by_src, count 1, seconds 1; threshold:type limit, track by_src, count 1, seconds 1;",
        ] {
            assert_eq!(meta(bad).unwrap_err(), "invalid:threshold", "{bad}");
        }
    }

    #[test]
    fn detection_filter_forms() {
        let d = meta("detection_filter: count 5 , seconds 1, track by_dst ;")
            .unwrap()
            .detection_filter
            .unwrap();
        assert_eq!(
            d,
            Threshold {
                kind: ThresholdKind::DetectionFilter,
                track: Track::ByDst,
                count: 5,
                seconds: 1
            }
        );
        assert_eq!(
            meta("detection_filter:track 5, count 1, seconds 1;").unwrap_err(),
            "threshold-never-alerts"
        );
        for bad in [
            "detection_filter:track by_rule, count 5, seconds 1;",
            "detection_filter:track by_both, count 5, seconds 1;",
            "detection_filter:track by_src, count 0, seconds 1;",
            "detection_filter:track by_src, count 1, seconds 0;",
            "detection_filter:track by_src, count 1, seconds 1, foo;",
            "detection_filter:track by_src, count 1, seconds 10 x;",
            "detection_filter:track by_src, count 1;",
            "detection_filter:track by_src, count 1, seconds 1; detection_filter:track by_src, count 1, seconds 1;",
            "threshold:type limit, track by_src, count 1, seconds 1; detection_filter:track by_src, count 1, seconds 1;",
        ] {
            assert_eq!(meta(bad).unwrap_err(), "invalid:detection_filter", "{bad}");
        }
    }
}
