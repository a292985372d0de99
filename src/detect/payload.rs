//! Payload inspection: `content` and `isdataat` over one buffer, with Suricata's semantics.
//!
//! This follows Suricata 7's `DetectEngineContentInspection`: keywords are evaluated in rule
//! order; a relative keyword works from the end of the previous content match; when a later
//! keyword fails, the previous content is searched again one byte further on, but only when
//! the next content depends on it through `within` (Suricata's `WITHIN_NEXT`). A failed
//! absolute content ends the inspection at once ("discontinue").

use memchr::memmem;

use crate::rules::ast::Content;

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

/// One payload keyword.
#[derive(Debug, Clone)]
pub enum PayloadItem {
    Content(ContentMatcher),
    IsDataAt {
        n: u32,
        relative: bool,
        negated: bool,
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
    IsDataAt {
        n: u32,
        relative: bool,
        negated: bool,
    },
}

impl PayloadProgram {
    pub fn compile(kws: &[PayloadKeyword<'_>]) -> PayloadProgram {
        let mut items: Vec<PayloadItem> = Vec::with_capacity(kws.len());
        for (i, kw) in kws.iter().enumerate() {
            match kw {
                PayloadKeyword::Content(c) => {
                    let pat: Vec<u8> = if c.nocase {
                        c.pattern.iter().map(|b| b.to_ascii_lowercase()).collect()
                    } else {
                        c.pattern.clone()
                    };
                    let next_within = matches!(kws.get(i + 1),
                        Some(PayloadKeyword::Content(n)) if n.within.is_some());
                    let next_relative = match kws.get(i + 1) {
                        Some(PayloadKeyword::Content(n)) => n.is_relative(),
                        Some(PayloadKeyword::IsDataAt { relative, .. }) => *relative,
                        None => false,
                    };
                    let (mut offset, mut depth) = (c.offset.unwrap_or(0), c.depth.unwrap_or(0));
                    if c.startswith {
                        offset = 0;
                        depth = c.pattern.len() as u32;
                    }
                    // Suricata stores depth as an absolute end: offset + depth.
                    if depth != 0 {
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
                    }));
                }
                PayloadKeyword::IsDataAt {
                    n,
                    relative,
                    negated,
                } => items.push(PayloadItem::IsDataAt {
                    n: *n,
                    relative: *relative,
                    negated: *negated,
                }),
            }
        }
        PayloadProgram { items }
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
        };
        inspect(&self.items, 0, buf, &mut st) == Outcome::Match
    }
}

struct State {
    buffer_offset: u32,
    recursion: u32,
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
            loop {
                let mut depth = buffer_len;
                let mut offset: u32;
                if relative {
                    offset = prev_buffer_offset;
                    let distance = cd.distance;
                    if cd.has_distance {
                        if distance < 0 && distance.unsigned_abs() > offset {
                            offset = 0;
                        } else {
                            offset = offset.wrapping_add_signed(distance);
                        }
                    }
                    if let Some(within) = cd.within {
                        let end = prev_buffer_offset as i64 + within as i64 + distance as i64;
                        if (depth as i64) > end {
                            depth = end.max(0) as u32;
                        }
                    }
                    if cd.depth != 0 && cd.depth.saturating_add(prev_buffer_offset) < depth {
                        depth = prev_buffer_offset + cd.depth;
                    }
                    if cd.offset > offset {
                        offset = cd.offset;
                    }
                } else {
                    if cd.depth != 0 {
                        depth = cd.depth;
                    }
                    offset = cd.offset;
                    prev_buffer_offset = 0;
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
                let found = if cd.endswith && depth < buffer_len {
                    None
                } else if cd.pat.len() > sbuf.len() {
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
        PayloadItem::IsDataAt {
            n,
            relative,
            negated,
        } => {
            if *relative {
                if st.buffer_offset as u64 + *n as u64 > buffer_len as u64 {
                    if *negated {
                        return next(st);
                    }
                    Outcome::Discontinue
                } else if *negated {
                    Outcome::NoMatch
                } else {
                    next(st)
                }
            } else if *n < buffer_len {
                if *negated {
                    Outcome::Discontinue
                } else {
                    next(st)
                }
            } else if *negated {
                next(st)
            } else {
                Outcome::Discontinue
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
            },
        ]);
        assert!(p.matches(b"abxx"));
        assert!(!p.matches(b"abx"));
        let q = PayloadProgram::compile(&[PayloadKeyword::IsDataAt {
            n: 3,
            relative: false,
            negated: true,
        }]);
        assert!(q.matches(b"abc"));
        assert!(!q.matches(b"abcd"));
    }

    #[test]
    fn negative_distance() {
        let a = c("world");
        let mut b = c("hello");
        b.distance = Some(-11);
        b.within = Some(5);
        assert!(prog(&[a, b]).matches(b"hello world"));
    }
}
