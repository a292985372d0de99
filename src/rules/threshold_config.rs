//! `threshold.config`, parsed like Suricata 7.0.10's `util-threshold-config.c`.
//!
//! One entry per line (a trailing `\` continues it on the next line; blank lines and lines whose
//! first non-blank character is `#` are ignored):
//!
//! ```text
//! suppress gen_id G, sig_id S
//! suppress gen_id G, sig_id S, track by_src|by_dst|by_either, ip ADDRESSES
//! threshold|event_filter gen_id G, sig_id S, type limit|threshold|both, track by_src|by_dst|by_both|by_rule, count N, seconds T
//! rate_filter gen_id G, sig_id S, track by_src|by_dst|by_both|by_rule, count N, seconds T, new_action alert|drop|pass|log|sdrop|reject, timeout T
//! ```
//!
//! The options are in this fixed order, the keywords are lower case, `count` must not be 0.
//! A line that does not parse is reported in [`ThresholdConfig::errors`] with its number and
//! the reason; the other lines still load (Suricata does the same outside `-T`, where a bad line
//! fails the whole configuration test).
//!
//! How Suricata applies the entries (in file order, after all rules are loaded), which the
//! detection engine must reproduce:
//! - `gen_id 0, sig_id 0` applies to every rule, `gen_id G, sig_id 0` to every rule of gid G,
//!   otherwise to the one rule `G:S` (a missing rule is only a warning). `sig_id S` with
//!   `gen_id 0` is an error (reported here, the entry is dropped).
//! - `suppress` without `track`: the rule never alerts (its other effects, like flowbits,
//!   remain). With `track`/`ip`: alerts whose source (`by_src`), destination (`by_dst`) or either
//!   address (`by_either`) is in the set are suppressed. Suppressions add up.
//! - `threshold`/`event_filter` for one rule replaces the rule's own `threshold` or
//!   `detection_filter`; for a wildcard (`sig_id 0`) it does not apply to rules that have one.
//! - `rate_filter` for one rule is ignored when the rule has its own `threshold` or
//!   `detection_filter`, likewise for wildcards; otherwise it is added.

use std::io;
use std::path::Path;

use super::address::parse_address;
use super::ast::{AddrSet, Threshold, ThresholdKind, Track};
use super::cnum::{is_space, string_parse_u};
use super::vars::Vars;

/// A parsed `threshold.config`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ThresholdConfig {
    pub entries: Vec<ThresholdEntry>,
    /// (line number, reason) of each line that was rejected.
    pub errors: Vec<(usize, String)>,
}

/// One line of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThresholdEntry {
    /// Line number (the first line of a continued entry).
    pub line: usize,
    pub gid: u32,
    /// 0 = every rule (of `gid`, or of every gid when `gid` is 0 too).
    pub sid: u32,
    pub rule: ThresholdRule,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ThresholdRule {
    Suppress(Suppress),
    /// `threshold` or `event_filter` (the same thing): kind Limit, Threshold or Both.
    Threshold(Threshold),
    RateFilter(RateFilter),
}

/// `suppress`: which alerts are dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Suppress {
    /// No `track`: the rule never alerts.
    All,
    BySrc(AddrSet),
    ByDst(AddrSet),
    /// Source or destination in the set.
    ByEither(AddrSet),
}

/// `rate_filter`: after `count` matches within `seconds`, the rule's action becomes
/// `new_action` for `timeout` seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateFilter {
    pub track: Track,
    pub count: u32,
    pub seconds: u32,
    pub new_action: RateAction,
    pub timeout: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateAction {
    Alert,
    Drop,
    Pass,
    /// Accepted by Suricata, "not supported yet" there.
    Log,
    /// Accepted by Suricata, "not supported yet" there.
    Sdrop,
    Reject,
}

impl ThresholdConfig {
    /// Read and parse a file (addresses in `suppress` may use the variables).
    pub fn load(path: &Path, vars: &Vars) -> io::Result<ThresholdConfig> {
        let data = std::fs::read(path)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        Ok(ThresholdConfig::parse(
            &String::from_utf8_lossy(&data),
            vars,
        ))
    }

    /// Parse the text of a `threshold.config`.
    pub fn parse(text: &str, vars: &Vars) -> ThresholdConfig {
        let mut out = ThresholdConfig::default();
        // like Suricata's fgets loop: a continued line is read over its backslash (`esc_pos`)
        let mut buf = String::new();
        let mut esc_pos = 0;
        let mut first_line = 0;
        for (i, raw) in text.split_inclusive('\n').enumerate() {
            buf.truncate(esc_pos);
            if esc_pos == 0 {
                first_line = i + 1;
            }
            buf.push_str(raw);
            if is_blank_or_comment(&buf) {
                continue;
            }
            esc_pos = continuation(&buf).unwrap_or(0);
            if esc_pos != 0 {
                continue;
            }
            match parse_line(&buf, vars) {
                Ok((gid, sid, rule)) => out.entries.push(ThresholdEntry {
                    line: first_line,
                    gid,
                    sid,
                    rule,
                }),
                Err(e) => out.errors.push((first_line, e)),
            }
        }
        if esc_pos != 0 {
            // a continuation at the end of the file: Suricata never parses it
            out.errors.push((
                first_line,
                "line continuation '\\' at end of file".to_string(),
            ));
        }
        out
    }
}

/// `SCThresholdConfIsLineBlankOrComment`.
fn is_blank_or_comment(s: &str) -> bool {
    for &c in s.as_bytes() {
        if c == b'#' {
            return true;
        }
        if !is_space(c) {
            return false;
        }
    }
    true
}

/// `SCThresholdConfLineIsMultiline`: the position of a `\` followed only by blanks.
fn continuation(s: &str) -> Option<usize> {
    let mut flag = 0;
    for (i, &c) in s.as_bytes().iter().enumerate() {
        if c == b'\n' {
            break;
        }
        if c == b'\\' {
            flag = i;
        } else if !is_space(c) {
            flag = 0;
        }
    }
    (flag != 0).then_some(flag)
}

/// A tiny cursor for the fixed-order regexes.
struct Cur<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Cur<'a> {
    fn ws(&mut self) {
        while self.i < self.s.len() && is_space(self.s[self.i]) {
            self.i += 1;
        }
    }
    fn lit(&mut self, w: &str) -> bool {
        if self.s[self.i..].starts_with(w.as_bytes()) {
            self.i += w.len();
            true
        } else {
            false
        }
    }
    /// One of `words` (first that matches, as a regex alternation).
    fn word(&mut self, words: &[&'static str]) -> Option<&'static str> {
        let w = *words
            .iter()
            .find(|w| self.s[self.i..].starts_with(w.as_bytes()))?;
        self.i += w.len();
        Some(w)
    }
    fn digits(&mut self) -> Option<&'a [u8]> {
        let st = self.i;
        while self.i < self.s.len() && self.s[self.i].is_ascii_digit() {
            self.i += 1;
        }
        (self.i > st).then(|| &self.s[st..self.i])
    }
    /// `\s*,\s*KEY\s*`
    fn key(&mut self, k: &str) -> Option<()> {
        self.ws();
        if !self.lit(",") {
            return None;
        }
        self.ws();
        if !self.lit(k) {
            return None;
        }
        self.ws();
        Some(())
    }
    /// `\s*$`
    fn end(&mut self) -> bool {
        self.ws();
        self.i == self.s.len()
    }
}

/// A number copied into a 16-byte buffer, then `StringParseUint32`.
fn num(d: &[u8], what: &str) -> Result<u32, String> {
    if d.len() > 15 {
        return Err(format!("{what} is too long"));
    }
    string_parse_u(d, 10, 0, u32::MAX as u64)
        .map(|n| n as u32)
        .ok_or_else(|| format!("invalid {what} '{}'", String::from_utf8_lossy(d)))
}

fn track_of(w: &str) -> Track {
    match w {
        "by_dst" => Track::ByDst,
        "by_src" => Track::BySrc,
        "by_both" => Track::ByBoth,
        _ => Track::ByRule,
    }
}

const TRACKS: &[&str] = &["by_dst", "by_src", "by_both", "by_rule"];

/// One logical line.
fn parse_line(line: &str, vars: &Vars) -> Result<(u32, u32, ThresholdRule), String> {
    let bad = || format!("cannot parse '{}'", line.trim_end());
    // ^\s*(event_filter|threshold|rate_filter|suppress)\s*gen_id\s*(\d+)\s*,\s*sig_id\s*(\d+)\s*(.*)\s*$
    let body = line.strip_suffix('\n').unwrap_or(line);
    let mut c = Cur {
        s: body.as_bytes(),
        i: 0,
    };
    c.ws();
    let kind = c
        .word(&["event_filter", "threshold", "rate_filter", "suppress"])
        .ok_or_else(bad)?;
    c.ws();
    if !c.lit("gen_id") {
        return Err(bad());
    }
    c.ws();
    let gid = c.digits().ok_or_else(bad)?;
    c.ws();
    if !c.lit(",") {
        return Err(bad());
    }
    c.ws();
    if !c.lit("sig_id") {
        return Err(bad());
    }
    c.ws();
    let sid = c.digits().ok_or_else(bad)?;
    c.ws();
    let rest = &body.as_bytes()[c.i..];
    let mut e = Cur { s: rest, i: 0 };
    let rule = match kind {
        "event_filter" | "threshold" => {
            if rest.is_empty() {
                return Err(format!("rule invalid: '{}'", body.trim_end()));
            }
            let err = || format!("cannot parse '{}'", String::from_utf8_lossy(rest));
            // ^,\s*type\s*(limit|both|threshold)\s*,\s*track\s*(...)\s*,\s*count\s*(\d+)\s*,\s*seconds\s*(\d+)\s*$
            if !e.lit(",") {
                return Err(err());
            }
            e.ws();
            if !e.lit("type") {
                return Err(err());
            }
            e.ws();
            let t = e.word(&["limit", "both", "threshold"]).ok_or_else(err)?;
            e.key("track").ok_or_else(err)?;
            let track = e.word(TRACKS).ok_or_else(err)?;
            e.key("count").ok_or_else(err)?;
            let count = e.digits().ok_or_else(err)?;
            e.key("seconds").ok_or_else(err)?;
            let seconds = e.digits().ok_or_else(err)?;
            if !e.end() {
                return Err(err());
            }
            let count = num(count, "count")?;
            if count == 0 {
                return Err("count should be > 0".into());
            }
            ThresholdRule::Threshold(Threshold {
                kind: match t {
                    "limit" => ThresholdKind::Limit,
                    "both" => ThresholdKind::Both,
                    _ => ThresholdKind::Threshold,
                },
                track: track_of(track),
                count,
                seconds: num(seconds, "seconds")?,
            })
        }
        "rate_filter" => {
            if rest.is_empty() {
                return Err(format!("rule invalid: '{}'", body.trim_end()));
            }
            let err = || format!("cannot parse '{}'", String::from_utf8_lossy(rest));
            if !e.lit(",") {
                return Err(err());
            }
            e.ws();
            if !e.lit("track") {
                return Err(err());
            }
            e.ws();
            let track = e.word(TRACKS).ok_or_else(err)?;
            e.key("count").ok_or_else(err)?;
            let count = e.digits().ok_or_else(err)?;
            e.key("seconds").ok_or_else(err)?;
            let seconds = e.digits().ok_or_else(err)?;
            e.key("new_action").ok_or_else(err)?;
            let action = e
                .word(&["alert", "drop", "pass", "log", "sdrop", "reject"])
                .ok_or_else(err)?;
            e.key("timeout").ok_or_else(err)?;
            let timeout = e.digits().ok_or_else(err)?;
            if !e.end() {
                return Err(err());
            }
            let timeout = num(timeout, "timeout")?;
            let count = num(count, "count")?;
            if count == 0 {
                return Err("rate filter count should be > 0".into());
            }
            ThresholdRule::RateFilter(RateFilter {
                track: track_of(track),
                count,
                seconds: num(seconds, "seconds")?,
                new_action: match action {
                    "alert" => RateAction::Alert,
                    "drop" => RateAction::Drop,
                    "pass" => RateAction::Pass,
                    "log" => RateAction::Log,
                    "sdrop" => RateAction::Sdrop,
                    _ => RateAction::Reject,
                },
                timeout,
            })
        }
        _ => {
            if rest.is_empty() {
                ThresholdRule::Suppress(Suppress::All)
            } else {
                let err = || format!("cannot parse '{}'", String::from_utf8_lossy(rest));
                // ^,\s*track\s*(by_dst|by_src|by_either)\s*,\s*ip\s*([\[\],\$\s\da-zA-Z.:/_]+)*\s*$
                if !e.lit(",") {
                    return Err(err());
                }
                e.ws();
                if !e.lit("track") {
                    return Err(err());
                }
                e.ws();
                let track = e.word(&["by_dst", "by_src", "by_either"]).ok_or_else(err)?;
                e.key("ip").ok_or_else(err)?;
                let ip = &rest[e.i..];
                if ip.is_empty() {
                    return Err("suppress: missing ip".into());
                }
                let ip_char =
                    |c: &u8| c.is_ascii_alphanumeric() || is_space(*c) || b"[],$.:/_".contains(c);
                if !ip.iter().all(ip_char) {
                    return Err(err());
                }
                let ip = String::from_utf8_lossy(ip);
                let set = parse_address(ip.trim_end(), vars)
                    .map_err(|e| format!("failed to parse address '{}': {e}", ip.trim_end()))?;
                ThresholdRule::Suppress(match track {
                    "by_dst" => Suppress::ByDst(set),
                    "by_src" => Suppress::BySrc(set),
                    _ => Suppress::ByEither(set),
                })
            }
        }
    };
    let sid = num(sid, "sig_id")?;
    let gid = num(gid, "gen_id")?;
    if sid > 0 && gid == 0 {
        let msg = "can't use an event config that has sid > 0 and gid == 0".to_string();
        return Err(msg);
    }
    Ok((gid, sid, rule))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> ThresholdConfig {
        ThresholdConfig::parse(s, &Vars::suricata_default())
    }

    fn one(s: &str) -> Result<ThresholdEntry, String> {
        let c = parse(s);
        match (c.entries.len(), c.errors.len()) {
            (1, 0) => Ok(c.entries[0].clone()),
            (0, 1) => Err(c.errors[0].1.clone()),
            _ => panic!("{c:?}"),
        }
    }

    #[test]
    fn suppress() {
        let e = one("suppress gen_id 1, sig_id 2\n").unwrap();
        assert_eq!(
            (e.line, e.gid, e.sid, e.rule),
            (1, 1, 2, ThresholdRule::Suppress(Suppress::All))
        );
        assert_eq!(
            one("suppressgen_id 1,sig_id 1").unwrap().rule,
            ThresholdRule::Suppress(Suppress::All)
        );
        let e = one("suppress gen_id 1, sig_id 1, track by_src, ip 1.2.3.4").unwrap();
        let ThresholdRule::Suppress(Suppress::BySrc(set)) = e.rule else {
            panic!()
        };
        assert!(set.contains("1.2.3.4".parse().unwrap()));
        assert!(!set.contains("1.2.3.5".parse().unwrap()));
        for ok in [
            "suppress gen_id 1, sig_id 1, track by_dst, ip [1.2.3.0/24, 5.6.7.8]",
            "suppress gen_id 1, sig_id 1, track by_either, ip $HOME_NET",
            "suppress gen_id 1, sig_id 1, track by_src, ip fe80::/10",
            "suppress gen_id 0, sig_id 0",
            "suppress gen_id 5, sig_id 0, track by_src, ip 1.2.3.4",
            "suppress gen_id 1, sig_id 99",
            "suppress gen_id 1, sig_id 1, track by_src, ip 1.2.3.4, 5.6.7.8",
        ] {
            assert!(one(ok).is_ok(), "{ok}");
        }
        for bad in [
            "suppress gen_id 1, sig_id 1, track by_rule, ip 1.2.3.4",
            "suppress gen_id 1, sig_id 1, track by_src",
            "suppress gen_id 1, sig_id 1, track by_src, ip",
            "suppress gen_id 1, sig_id 1, track by_src, ip foo",
            "suppress gen_id 1, sig_id 1, track by_src, ip !1.2.3.4",
            "suppress gen_id 1, sig_id 1, track by_src, ip 1.2.3.4/33",
            "suppress gen_id 0, sig_id 5",
            "Suppress gen_id 1, sig_id 1",
            "foo gen_id 1, sig_id 1",
        ] {
            assert!(one(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn threshold_and_event_filter() {
        let e = one("threshold gen_id 1, sig_id 1, type both, track by_both, count 1, seconds 60")
            .unwrap();
        assert_eq!(
            e.rule,
            ThresholdRule::Threshold(Threshold {
                kind: ThresholdKind::Both,
                track: Track::ByBoth,
                count: 1,
                seconds: 60
            })
        );
        let e = one(
            "event_filter gen_id 1, sig_id 2, type limit, track by_dst, count 1, seconds 0 \r\n",
        )
        .unwrap();
        assert!(
            matches!(e.rule, ThresholdRule::Threshold(t) if t.kind == ThresholdKind::Limit && t.track == Track::ByDst && t.seconds == 0)
        );
        assert!(
            one("threshold gen_id 1, sig_id 1, typelimit,trackby_src,count1,seconds60").is_ok()
        );
        assert!(one(
            "threshold gen_id 0, sig_id 0, type limit, track by_rule, count 1, seconds 60"
        )
        .is_ok());
        for bad in [
            "threshold gen_id 1, sig_id 1, type limit, track by_either, count 1, seconds 60",
            "threshold gen_id 1, sig_id 1, track by_src, type limit, count 1, seconds 60",
            "threshold gen_id 1, sig_id 1, type limit, track by_src, count 0, seconds 60",
            "threshold gen_id 1, sig_id 1, type limit, track by_src, count 1",
            "threshold gen_id 1, sig_id 1",
            "threshold gen_id 1, sig_id 1, type limit, track by_src, count 4294967296, seconds 60",
            "threshold gen_id 1, sig_id 1, type limit, track by_src, count 1, seconds 60 x",
            "threshold gen_id 1, sig_id 1, type limit, track by_src, count 1, seconds 60 # c",
            "threshold gen_id 1, sig_id 1000000000000000, type limit, track by_src, count 1, seconds 6",
            "threshold gen_id 1, sig_id 4294967296, type limit, track by_src, count 1, seconds 6",
            // accepted by Suricata with an error message and no effect
            "threshold gen_id 0, sig_id 1, type limit, track by_src, count 1, seconds 60",
        ] {
            assert!(one(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rate_filter() {
        let e = one("rate_filter gen_id 1, sig_id 1, track by_src, count 10, seconds 60, new_action drop, timeout 30").unwrap();
        assert_eq!(
            e.rule,
            ThresholdRule::RateFilter(RateFilter {
                track: Track::BySrc,
                count: 10,
                seconds: 60,
                new_action: RateAction::Drop,
                timeout: 30
            })
        );
        assert!(one("rate_filter gen_id 1, sig_id 1, track by_rule, count 10, seconds 60, new_action sdrop, timeout 0").is_ok());
        for bad in [
            "rate_filter gen_id 1, sig_id 1, track by_src, count 10, seconds 60, new_action foo, timeout 30",
            "rate_filter gen_id 1, sig_id 1, track by_src, count 10, seconds 60, new_action drop",
            "rate_filter gen_id 1, sig_id 1, track by_either, count 10, seconds 60, new_action drop, timeout 30",
            "rate_filter gen_id 1, sig_id 1, track by_src, count 0, seconds 60, new_action drop, timeout 30",
            "rate_filter gen_id 1, sig_id 1",
        ] {
            assert!(one(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn file_structure() {
        let c = parse(
            "# comment\n\n   # indented comment\n\
             suppress gen_id 1, sig_id 1\n\
             threshold gen_id 1, sig_id 2, \\\n  type limit, track by_src, \\  \n count 1, seconds 5\n\
             bogus line\n\
             suppress gen_id 1, sig_id 3, track by_src, ip 1.2.3.4\n",
        );
        assert_eq!(c.errors.len(), 1, "{c:?}");
        assert_eq!(c.errors[0].0, 8);
        let lines: Vec<(usize, u32)> = c.entries.iter().map(|e| (e.line, e.sid)).collect();
        assert_eq!(lines, vec![(4, 1), (5, 2), (9, 3)]);
        // a '#' only starts a comment at the beginning of an entry
        let c = parse("suppress gen_id 1, \\\n# x\nsig_id 4\n");
        assert_eq!(c.errors.iter().map(|e| e.0).collect::<Vec<_>>(), vec![1, 3]);
        // a dangling continuation at the end of the file
        let c = parse("suppress gen_id 1, sig_id 1 \\\n");
        assert_eq!((c.entries.len(), c.errors.len()), (0, 1));
    }
}
