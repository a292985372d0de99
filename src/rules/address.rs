//! Suricata address-group grammar (`detect-engine-address.c`) → [`AddrSet`].
//!
//! The character loop, the positive/negated accumulation and the final merge follow
//! `DetectAddressParseInternal` and `DetectAddressMergeNot` of Suricata 7.0:
//! * a list is the union of its positive members minus its negated members;
//! * a family with only negated members starts from the whole family (`[!1.2.3.4]` is all of
//!   IPv4 but 1.2.3.4, and *no* IPv6);
//! * negating the complete IPv4 space, or ending with no address at all, is an error;
//! * `$VAR` is replaced by its value (negated variables are wrapped in `[...]`).

use super::ast::AddrSet;
use super::cnum::{eq_nocase, is_space, parse_i32_range, show};
use super::ranges::{is_full, normalize, subtract};
use super::vars::{lookup, Vars};

#[derive(Default, Debug)]
struct Acc {
    v4: Vec<(u32, u32)>,
    v6: Vec<(u128, u128)>,
}

/// Constructs Suricata's separate IP-only address parser handles differently (it drops
/// items or rejects the rule): an IPv6 range `a-b`, or an empty block `[]`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IpOnlyQuirks {
    pub ipv6_range: bool,
    pub empty_block: bool,
}

thread_local! {
    static QUIRKS: std::cell::Cell<IpOnlyQuirks> = const { std::cell::Cell::new(IpOnlyQuirks { ipv6_range: false, empty_block: false }) };
}

fn note(f: impl FnOnce(&mut IpOnlyQuirks)) {
    QUIRKS.with(|q| {
        let mut v = q.get();
        f(&mut v);
        q.set(v);
    });
}

/// [`parse_address`] that also reports [`IpOnlyQuirks`].
pub fn parse_address_quirks(text: &str, vars: &Vars) -> Result<(AddrSet, IpOnlyQuirks), String> {
    QUIRKS.with(|q| q.set(IpOnlyQuirks::default()));
    let r = parse_address(text, vars)?;
    Ok((r, QUIRKS.with(|q| q.get())))
}

impl Acc {
    fn norm(&mut self) {
        normalize(&mut self.v4);
        normalize(&mut self.v6);
    }
}

/// Parse an address field (`any`, `1.2.3.4`, `[...]`, `$HOME_NET`, `!$HOME_NET`, ...).
pub fn parse_address(text: &str, vars: &Vars) -> Result<AddrSet, String> {
    let s = text.as_bytes();
    let mut gh = Acc::default();
    let mut ghn = Acc::default();
    let mut stack = Vec::new();
    parse2(vars, &mut gh, &mut ghn, s, false, 0, &mut stack)?;
    merge_not(&mut gh, &mut ghn)?;
    Ok(AddrSet {
        v4: gh.v4,
        v6: gh.v6,
        any: eq_nocase(s, "any"),
    })
}

/// `DetectAddressMergeNot`: gh − ghn, with Suricata's special cases. Normalizes both.
fn merge_not(gh: &mut Acc, ghn: &mut Acc) -> Result<(), String> {
    gh.norm();
    ghn.norm();
    if is_full(&ghn.v4) {
        return Err("complete IP space negated (e.g. '!any')".into());
    }
    if gh.v4.is_empty() && !ghn.v4.is_empty() {
        gh.v4.push((0, u32::MAX));
    }
    if gh.v6.is_empty() && !ghn.v6.is_empty() {
        gh.v6.push((0, u128::MAX));
    }
    gh.v4 = subtract(&gh.v4, &ghn.v4);
    gh.v6 = subtract(&gh.v6, &ghn.v6);
    if gh.v4.is_empty() && gh.v6.is_empty() {
        return Err("no addresses left after merging addresses and negated addresses".into());
    }
    Ok(())
}

fn parse2(
    vars: &Vars,
    gh: &mut Acc,
    ghn: &mut Acc,
    s: &[u8],
    negate: bool,
    recur: u32,
    stack: &mut Vec<String>,
) -> Result<(), String> {
    let recur = recur + 1;
    if recur > 64 {
        return Err("address block recursion limit reached (max 64)".into());
    }
    let size = s.len();
    let mut address: Vec<u8> = Vec::with_capacity(64);
    let (mut o_set, mut n_set, mut d_set) = (false, false, false);
    let mut depth: i32 = 0;
    for (u, &c) in s.iter().enumerate() {
        address.push(c);
        if !o_set && c == b'!' {
            n_set = true;
            address.pop();
        } else if c == b'[' {
            if !o_set {
                o_set = true;
                address.clear();
            }
            depth += 1;
        } else if c == b']' {
            if depth == 1 {
                address.pop();
                if address.is_empty() {
                    note(|q| q.empty_block = true);
                }
                let neg = negate ^ n_set;
                if !neg {
                    parse2(vars, gh, ghn, &address, false, recur, stack)?;
                } else {
                    let mut tgh = Acc::default();
                    let mut tghn = Acc::default();
                    parse2(vars, &mut tgh, &mut tghn, &address, false, recur, stack)?;
                    merge_not(&mut tgh, &mut tghn)?;
                    ghn.v4.extend_from_slice(&tgh.v4);
                    ghn.v6.extend_from_slice(&tgh.v6);
                }
                address.clear();
                n_set = false;
            }
            depth -= 1;
        } else if depth == 0 && c == b',' {
            if o_set {
                o_set = false;
            } else if d_set {
                address.pop();
                resolve_var(vars, gh, ghn, &address, negate ^ n_set, recur, stack)?;
                d_set = false;
                n_set = false;
            } else {
                address.pop();
                let target = if negate ^ n_set { &mut *ghn } else { &mut *gh };
                setup(target, &address)?;
                n_set = false;
            }
            address.clear();
        } else if depth == 0 && c == b'$' {
            d_set = true;
        } else if depth == 0 && u == size - 1 {
            if d_set {
                resolve_var(vars, gh, ghn, &address, negate ^ n_set, recur, stack)?;
                d_set = false;
            } else {
                let target = if negate ^ n_set { &mut *ghn } else { &mut *gh };
                setup(target, &address)?;
            }
            address.clear();
            n_set = false;
        }
    }
    if depth > 0 {
        return Err(format!(
            "not every address block was properly closed in \"{}\", {} missing closing brackets (])",
            show(s),
            depth
        ));
    } else if depth < 0 {
        return Err(format!(
            "not every address block was properly opened in \"{}\", {} missing opening brackets ([)",
            show(s),
            -depth
        ));
    }
    Ok(())
}

fn resolve_var(
    vars: &Vars,
    gh: &mut Acc,
    ghn: &mut Acc,
    name: &[u8],
    neg: bool,
    recur: u32,
    stack: &mut Vec<String>,
) -> Result<(), String> {
    let shown = show(name).trim().to_string();
    let value = lookup(&vars.address_groups, name)
        .ok_or_else(|| format!("variable {shown} is not defined"))?;
    if value.is_empty() {
        return Err(format!("variable {shown} resolved to nothing"));
    }
    if stack.contains(&shown) {
        return Err(format!(
            "address variable loop: {} -> {shown}",
            stack.join(" -> ")
        ));
    }
    stack.push(shown);
    let r = if neg {
        let wrapped = format!("[{value}]");
        parse2(vars, gh, ghn, wrapped.as_bytes(), true, recur, stack)
    } else {
        parse2(vars, gh, ghn, value.as_bytes(), false, recur, stack)
    };
    stack.pop();
    r
}

/// `DetectAddressSetup`: one address item into `head`.
fn setup(head: &mut Acc, item: &[u8]) -> Result<(), String> {
    let mut s = item;
    while let Some((&c, rest)) = s.split_first() {
        if is_space(c) {
            s = rest;
        } else {
            break;
        }
    }
    if eq_nocase(s, "any") {
        head.v4.push((0, u32::MAX));
        head.v6.push((0, u128::MAX));
        return Ok(());
    }
    match parse_single(s) {
        Some(Single::V4(lo, hi, not)) => {
            if not {
                if lo > 0 {
                    head.v4.push((0, lo - 1));
                }
                if hi < u32::MAX {
                    head.v4.push((hi + 1, u32::MAX));
                }
            } else {
                head.v4.push((lo, hi));
            }
            Ok(())
        }
        Some(Single::V6(lo, hi, not)) => {
            if not {
                if lo > 0 {
                    head.v6.push((0, lo - 1));
                }
                if hi < u128::MAX {
                    head.v6.push((hi + 1, u128::MAX));
                }
            } else {
                head.v6.push((lo, hi));
            }
            Ok(())
        }
        None => Err(format!("failed to parse address \"{}\"", show(s))),
    }
}

enum Single {
    V4(u32, u32, bool),
    V6(u128, u128, bool),
}

/// `DetectAddressParseString`.
fn parse_single(str_: &[u8]) -> Option<Single> {
    // strlcpy into a 256-byte buffer
    let s = &str_[..str_.len().min(255)];
    let (not, ip) = match s.split_first() {
        Some((&b'!', rest)) => (true, rest),
        _ => (false, s),
    };
    if !str_.contains(&b':') {
        if let Some(p) = ip.iter().position(|&c| c == b'/') {
            let (addr, mask) = (&ip[..p], &ip[p + 1..]);
            let netmask: u32 = if !mask.contains(&b'.') {
                if !mask.iter().all(u8::is_ascii_digit) {
                    return None;
                }
                let cidr = parse_i32_range(mask, 10, 0, 32)?;
                cidr_mask4(cidr as u32)
            } else {
                let m = inet_pton4(mask)?;
                cidr_from_mask(m)?;
                m
            };
            let a = inet_pton4(addr)?;
            Some(Single::V4(a & netmask, (a & netmask) | !netmask, not))
        } else if let Some(p) = ip.iter().position(|&c| c == b'-') {
            let a = inet_pton4(&ip[..p])?;
            let b = inet_pton4(&ip[p + 1..])?;
            if a > b {
                return None;
            }
            Some(Single::V4(a, b, not))
        } else {
            let a = inet_pton4(ip)?;
            Some(Single::V4(a, a, not))
        }
    } else if let Some(p) = ip.iter().position(|&c| c == b'/') {
        let (addr, mask) = (&ip[..p], &ip[p + 1..]);
        let cidr = parse_i32_range(mask, 10, 0, 128)?;
        let a = inet_pton6(addr)?;
        let m: u128 = if cidr == 0 {
            0
        } else {
            u128::MAX << (128 - cidr as u32)
        };
        Some(Single::V6(a & m, (a & m) | !m, not))
    } else if let Some(p) = ip.iter().position(|&c| c == b'-') {
        let a = inet_pton6(&ip[..p])?;
        let b = inet_pton6(&ip[p + 1..])?;
        if a > b {
            return None;
        }
        note(|q| q.ipv6_range = true);
        Some(Single::V6(a, b, not))
    } else {
        let a = inet_pton6(ip)?;
        Some(Single::V6(a, a, not))
    }
}

fn cidr_mask4(cidr: u32) -> u32 {
    if cidr == 0 {
        0
    } else {
        u32::MAX << (32 - cidr)
    }
}

/// `CIDRFromMask`: only contiguous netmasks.
fn cidr_from_mask(m: u32) -> Option<u32> {
    if m == 0 {
        return Some(0);
    }
    let ones = m.leading_ones();
    if m.checked_shl(ones).unwrap_or(0) != 0 {
        return None;
    }
    Some(ones)
}

/// glibc `inet_pton(AF_INET)`: exactly four decimal octets, no leading zeros.
pub(crate) fn inet_pton4(s: &[u8]) -> Option<u32> {
    let mut tmp = [0u32; 4];
    let mut tp = 0usize;
    let mut saw_digit = false;
    let mut octets = 0;
    for &ch in s {
        if ch.is_ascii_digit() {
            let new = tmp[tp] * 10 + (ch - b'0') as u32;
            if saw_digit && tmp[tp] == 0 {
                return None;
            }
            if new > 255 {
                return None;
            }
            tmp[tp] = new;
            if !saw_digit {
                octets += 1;
                if octets > 4 {
                    return None;
                }
                saw_digit = true;
            }
        } else if ch == b'.' && saw_digit {
            if octets == 4 {
                return None;
            }
            tp += 1;
            tmp[tp] = 0;
            saw_digit = false;
        } else {
            return None;
        }
    }
    if octets < 4 {
        return None;
    }
    Some((tmp[0] << 24) | (tmp[1] << 16) | (tmp[2] << 8) | tmp[3])
}

/// glibc `inet_pton(AF_INET6)`.
pub(crate) fn inet_pton6(src: &[u8]) -> Option<u128> {
    let mut tmp = [0u8; 16];
    let mut tp = 0usize;
    let mut colonp: Option<usize> = None;
    let mut i = 0usize;
    if src.is_empty() {
        return None;
    }
    if src[0] == b':' {
        i += 1;
        if i == src.len() || src[i] != b':' {
            return None;
        }
    }
    let mut curtok = i;
    let mut xdigits_seen = 0;
    let mut val: u32 = 0;
    while i < src.len() {
        let ch = src[i];
        i += 1;
        if let Some(d) = (ch as char).to_digit(16) {
            if xdigits_seen == 4 {
                return None;
            }
            val = (val << 4) | d;
            if val > 0xffff {
                return None;
            }
            xdigits_seen += 1;
            continue;
        }
        if ch == b':' {
            curtok = i;
            if xdigits_seen == 0 {
                if colonp.is_some() {
                    return None;
                }
                colonp = Some(tp);
                continue;
            } else if i == src.len() {
                return None;
            }
            if tp + 2 > 16 {
                return None;
            }
            tmp[tp] = (val >> 8) as u8;
            tmp[tp + 1] = val as u8;
            tp += 2;
            xdigits_seen = 0;
            val = 0;
            continue;
        }
        if ch == b'.' && tp + 4 <= 16 {
            if let Some(v4) = inet_pton4(&src[curtok..]) {
                tmp[tp..tp + 4].copy_from_slice(&v4.to_be_bytes());
                tp += 4;
                xdigits_seen = 0;
                break;
            }
        }
        return None;
    }
    if xdigits_seen > 0 {
        if tp + 2 > 16 {
            return None;
        }
        tmp[tp] = (val >> 8) as u8;
        tmp[tp + 1] = val as u8;
        tp += 2;
    }
    if let Some(c) = colonp {
        if tp == 16 {
            return None;
        }
        let n = tp - c;
        let moved: Vec<u8> = tmp[c..tp].to_vec();
        for b in tmp[c..].iter_mut() {
            *b = 0;
        }
        tmp[16 - n..].copy_from_slice(&moved);
        tp = 16;
    }
    if tp != 16 {
        return None;
    }
    Some(u128::from_be_bytes(tmp))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;

    fn p(s: &str) -> Result<AddrSet, String> {
        parse_address(s, &Vars::suricata_default())
    }
    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }
    fn v4(a: &str) -> u32 {
        inet_pton4(a.as_bytes()).unwrap()
    }

    #[test]
    fn pton4() {
        assert_eq!(inet_pton4(b"1.2.3.4"), Some(0x01020304));
        assert_eq!(inet_pton4(b"0.0.0.0"), Some(0));
        assert_eq!(inet_pton4(b"01.2.3.4"), None);
        assert_eq!(inet_pton4(b"1.2.3"), None);
        assert_eq!(inet_pton4(b"1.2.3.4."), None);
        assert_eq!(inet_pton4(b"1.2.3.256"), None);
        assert_eq!(inet_pton4(b"1.2.3.4.5"), None);
        assert_eq!(inet_pton4(b" 1.2.3.4"), None);
    }

    #[test]
    fn pton6() {
        assert_eq!(inet_pton6(b"::"), Some(0));
        assert_eq!(inet_pton6(b"::1"), Some(1));
        assert_eq!(
            inet_pton6(b"2001:db8::1"),
            Some(0x2001_0db8_0000_0000_0000_0000_0000_0001)
        );
        assert_eq!(inet_pton6(b"::ffff:1.2.3.4"), Some(0xffff_0102_0304));
        assert_eq!(inet_pton6(b"1::2::3"), None);
        assert_eq!(inet_pton6(b":1"), None);
        assert_eq!(inet_pton6(b"1:"), None);
        assert_eq!(
            inet_pton6(b"1:2:3:4:5:6:7:8"),
            Some(0x0001_0002_0003_0004_0005_0006_0007_0008)
        );
        assert_eq!(inet_pton6(b"1:2:3:4:5:6:7:8:9"), None);
        assert_eq!(inet_pton6(b"1:2:3:4:5:6:7::8"), None);
        assert_eq!(inet_pton6(b"12345::"), None);
    }

    #[test]
    fn any() {
        let a = p("any").unwrap();
        assert!(a.any);
        assert_eq!(a, AddrSet::any());
        let b = p("[any]").unwrap();
        assert!(!b.any);
        assert_eq!(b.v4, vec![(0, u32::MAX)]);
        assert_eq!(b.v6, vec![(0, u128::MAX)]);
        assert!(p("ANY").unwrap().any);
        assert!(p("!any").is_err());
    }

    #[test]
    fn singles_and_cidr() {
        let a = p("1.2.3.4").unwrap();
        assert_eq!(a.v4, vec![(v4("1.2.3.4"), v4("1.2.3.4"))]);
        assert!(a.v6.is_empty());
        assert!(a.contains(ip("1.2.3.4")));
        assert!(!a.contains(ip("::1")));
        let c = p("10.1.2.3/8").unwrap();
        assert_eq!(c.v4, vec![(v4("10.0.0.0"), v4("10.255.255.255"))]);
        let m = p("10.0.0.0/255.255.0.0").unwrap();
        assert_eq!(m.v4, vec![(v4("10.0.0.0"), v4("10.0.255.255"))]);
        assert!(p("10.0.0.0/255.0.255.0").is_err());
        assert!(p("10.0.0.0/33").is_err());
        assert!(p("10.0.0.0/").is_err());
        assert!(p("10.0.0.0/+8").is_err());
        let r = p("1.2.3.4-1.2.3.10").unwrap();
        assert_eq!(r.v4, vec![(v4("1.2.3.4"), v4("1.2.3.10"))]);
        assert!(p("1.2.3.10-1.2.3.4").is_err());
        let z = p("0.0.0.0/0").unwrap();
        assert_eq!(z.v4, vec![(0, u32::MAX)]);
    }

    #[test]
    fn ipv6() {
        let a = p("2001:db8::/32").unwrap();
        assert!(a.v4.is_empty());
        assert!(a.contains(ip("2001:db8:1::5")));
        assert!(!a.contains(ip("2001:db9::")));
        let r = p("[::1-::5]").unwrap();
        assert_eq!(r.v6, vec![(1, 5)]);
        assert!(p("::/129").is_err());
        let m = p("[1.2.3.4,::1]").unwrap();
        assert!(m.contains(ip("::1")) && m.contains(ip("1.2.3.4")));
    }

    #[test]
    fn negation() {
        let a = p("!1.2.3.4").unwrap();
        assert!(!a.contains(ip("1.2.3.4")));
        assert!(a.contains(ip("1.2.3.5")));
        assert!(a.v6.is_empty(), "negated IPv4 only does not match IPv6");
        let b = p("[10.0.0.0/8,!10.1.0.0/16]").unwrap();
        assert!(b.contains(ip("10.2.0.0")));
        assert!(!b.contains(ip("10.1.2.3")));
        assert!(!b.contains(ip("11.0.0.0")));
        let c = p("[10.0.0.0/8,![10.1.0.0/16,10.2.0.0/16]]").unwrap();
        assert!(!c.contains(ip("10.2.3.4")));
        assert!(c.contains(ip("10.3.3.4")));
        // double negation inside a negated block
        let d = p("[10.0.0.0/8,![10.1.0.0/16,!10.1.1.1]]").unwrap();
        assert!(d.contains(ip("10.1.1.1")));
        assert!(!d.contains(ip("10.1.1.2")));
        assert!(p("[1.2.3.4,!1.2.3.4]").is_err());
        assert!(p("[1.2.3.4,!1.2.3.0/24]").is_err());
        assert!(p("!0.0.0.0/0").is_err());
        assert!(p("![0.0.0.0/1,128.0.0.0/1]").is_err());
        // negating all of IPv6 leaves IPv4
        let e = p("[any,!::/0]").unwrap();
        assert!(e.v6.is_empty() && e.contains(ip("8.8.8.8")));
        assert!(p("!::/0").is_err());
        // a trailing '!' swallows the last item in Suricata's character loop
        assert!(p("1.2.3.4!").is_err());
        assert_eq!(p("1.2!.3.4").unwrap(), p("!1.2.3.4").unwrap());
    }

    #[test]
    fn variables() {
        let home = p("$HOME_NET").unwrap();
        assert!(home.contains(ip("192.168.1.1")) && home.contains(ip("10.0.0.1")));
        assert!(home.contains(ip("172.16.0.1")) && !home.contains(ip("172.32.0.1")));
        let ext = p("$EXTERNAL_NET").unwrap();
        assert!(!ext.contains(ip("192.168.1.1")));
        assert!(ext.contains(ip("8.8.8.8")));
        assert!(ext.v6.is_empty());
        let ext2 = p("!$HOME_NET").unwrap();
        assert_eq!(ext, ext2);
        let aim = p("$AIM_SERVERS").unwrap();
        assert_eq!(aim, ext);
        let both = p("[$HOME_NET,!192.168.0.0/24]").unwrap();
        assert!(!both.contains(ip("192.168.0.5")) && both.contains(ip("192.168.1.5")));
        assert!(p("$NOPE").is_err());
        let mut v = Vars::suricata_default();
        v.set_address("A", "$B");
        v.set_address("B", "[1.2.3.4,$A]");
        assert!(parse_address("$A", &v).unwrap_err().contains("loop"));
        v.set_address("E", "");
        assert!(parse_address("$E", &v).is_err());
        assert!(parse_address("[1.2.3.4,$E]", &v).is_err());
    }

    #[test]
    fn lists_and_whitespace() {
        let a = p("[1.2.3.4, 5.6.7.8]").unwrap();
        assert!(a.contains(ip("5.6.7.8")));
        assert!(p("[1.2.3.4 ,5.6.7.8]").is_err());
        assert!(p("[1.2.3.4,[5.6.7.8,[9.9.9.9]]]")
            .unwrap()
            .contains(ip("9.9.9.9")));
        assert!(p("[1.2.3.4").is_err());
        assert!(p("1.2.3.4]").is_err());
        assert!(p("[]").is_err());
        assert!(p("[1.2.3.4,,5.6.7.8]").is_err());
        // trailing comma and '$' are silently ignored by Suricata's loop
        assert!(p("[1.2.3.4,]").is_ok());
        assert!(p("1.2.3.4,$").is_ok());
        assert!(p("foo").is_err());
        // garbage between ']' and ',' is ignored, at the end it is an error
        assert!(p("[1.2.3.4]x,5.6.7.8").is_ok());
        assert!(p("[1.2.3.4]x").is_err());
        let deep = "[".repeat(70) + "1.2.3.4" + &"]".repeat(70);
        assert!(p(&deep).is_err());
    }
}
