//! Suricata port-group grammar (`detect-engine-port.c`) → [`PortSet`].
//!
//! `any`, `N`, `N:M`, `N:`, `:M`, `!x`, `[...]` nested, `$VAR`. The result is the union of the
//! positive members minus the negated ones; a list of only negations starts from `0:65535`.
//! Negating the whole port space, or ending with no port, is an error as in Suricata 7.0.

use super::ast::PortSet;
use super::cnum::{eq_nocase, parse_u16, show};
use super::ranges::{is_full, normalize, subtract};
use super::vars::{lookup, Vars};

/// Parse a port field.
pub fn parse_port(text: &str, vars: &Vars) -> Result<PortSet, String> {
    let s = text.as_bytes();
    let mut head = Vec::new();
    let mut nhead = Vec::new();
    let mut stack = Vec::new();
    parse_do(vars, &mut head, &mut nhead, s, false, 0, &mut stack)?;
    normalize(&mut head);
    normalize(&mut nhead);
    if is_full(&nhead) {
        return Err("complete port space is negated".into());
    }
    if head.is_empty() && !nhead.is_empty() {
        head.push((0, u16::MAX));
    }
    let ranges = subtract(&head, &nhead);
    if ranges.is_empty() {
        return Err("no ports left after merging ports with negated ports".into());
    }
    Ok(PortSet {
        ranges,
        any: eq_nocase(s, "any"),
    })
}

/// The ports a decoder setting such as `decoder.vxlan.ports` names, as Suricata reads it
/// (DetectPortParse, then each entry's first port): the entries are disjoint ranges in order,
/// where ranges that overlap are cut at each other's bounds and adjacent ones stay apart, so
/// `[4789,4790]` is 4789 and 4790 but `4789:4791` is only 4789. With negation the entries are
/// the ranges left over (`!4789`: 0 and 4790).
pub fn decoder_ports(text: &str, vars: &Vars) -> Result<Vec<u16>, String> {
    let set = parse_port(text, vars)?;
    let (mut head, mut nhead, mut stack) = (Vec::new(), Vec::new(), Vec::new());
    parse_do(
        vars,
        &mut head,
        &mut nhead,
        text.as_bytes(),
        false,
        0,
        &mut stack,
    )?;
    if !nhead.is_empty() {
        return Ok(set.ranges.iter().map(|r| r.0).collect());
    }
    // Every bound of every range; each piece between two bounds that some range covers is
    // one entry.
    let mut bounds: Vec<u32> = head
        .iter()
        .flat_map(|&(a, b)| [u32::from(a), u32::from(b) + 1])
        .collect();
    bounds.sort_unstable();
    bounds.dedup();
    Ok(bounds
        .windows(2)
        .filter(|w| {
            head.iter()
                .any(|&(a, b)| u32::from(a) <= w[0] && w[0] <= u32::from(b))
        })
        .map(|w| w[0] as u16)
        .collect())
}

type Ranges = Vec<(u16, u16)>;

/// `DetectPortParseDo`, character for character.
fn parse_do(
    vars: &Vars,
    head: &mut Ranges,
    nhead: &mut Ranges,
    s: &[u8],
    negate: bool,
    recur: u32,
    stack: &mut Vec<String>,
) -> Result<(), String> {
    if recur > 64 {
        return Err("port block recursion limit reached (max 64)".into());
    }
    let recur = recur + 1;
    let size = s.len();
    let mut address: Vec<u8> = Vec::with_capacity(16);
    let (mut o_set, mut n_set, mut d_set) = (false, false, false);
    let mut range = false;
    let mut depth: i32 = 0;
    for (u, &c) in s.iter().enumerate() {
        if address.len() >= 1024 {
            break;
        }
        address.push(c);
        if c == b':' {
            range = true;
        }
        if range && c == b'!' {
            return Err("can't have a negated value in a port range".into());
        } else if !o_set && c == b'!' {
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
                let neg = if negate { negate } else { n_set };
                parse_do(vars, head, nhead, &address, neg, recur, stack)?;
                address.clear();
                n_set = false;
            }
            depth -= 1;
            range = false;
        } else if depth == 0 && c == b',' {
            if o_set {
                o_set = false;
            } else if d_set {
                address.pop();
                resolve_var(
                    vars,
                    head,
                    nhead,
                    &address,
                    negate || n_set,
                    negate ^ n_set,
                    recur,
                    stack,
                )?;
                d_set = false;
                n_set = false;
            } else {
                address.pop();
                if !negate && !n_set {
                    insert_string(head, &address)?;
                } else {
                    insert_string(nhead, &address)?;
                }
                n_set = false;
            }
            address.clear();
            range = false;
        } else if depth == 0 && c == b'$' {
            d_set = true;
        } else if depth == 0 && u == size - 1 {
            range = false;
            if d_set {
                resolve_var(
                    vars,
                    head,
                    nhead,
                    &address,
                    negate ^ n_set,
                    negate ^ n_set,
                    recur,
                    stack,
                )?;
                d_set = false;
            } else if !(negate ^ n_set) {
                insert_string(head, &address)?;
            } else {
                insert_string(nhead, &address)?;
            }
            address.clear();
            n_set = false;
        } else if depth == 1 && c == b',' {
            range = false;
        }
    }
    if depth > 0 {
        return Err(format!(
            "not every port block was properly closed in \"{}\", {} missing closing brackets (])",
            show(s),
            depth
        ));
    } else if depth < 0 {
        return Err(format!(
            "not every port block was properly opened in \"{}\", {} missing opening brackets ([)",
            show(s),
            -depth
        ));
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn resolve_var(
    vars: &Vars,
    head: &mut Ranges,
    nhead: &mut Ranges,
    name: &[u8],
    wrap: bool,
    neg: bool,
    recur: u32,
    stack: &mut Vec<String>,
) -> Result<(), String> {
    let shown = show(name).trim().to_string();
    let value = lookup(&vars.port_groups, name)
        .ok_or_else(|| format!("variable {shown} is not defined"))?;
    if value.is_empty() {
        return Err(format!("variable {shown} resolved to nothing"));
    }
    if stack.contains(&shown) {
        return Err(format!(
            "port variable loop: {} -> {shown}",
            stack.join(" -> ")
        ));
    }
    stack.push(shown);
    let r = if wrap {
        let wrapped = format!("[{value}]");
        parse_do(vars, head, nhead, wrapped.as_bytes(), neg, recur, stack)
    } else {
        parse_do(vars, head, nhead, value.as_bytes(), neg, recur, stack)
    };
    stack.pop();
    r
}

/// `DetectPortParseInsertString` + `PortParse`.
fn insert_string(head: &mut Ranges, item: &[u8]) -> Result<(), String> {
    let err = || format!("failed to parse port \"{}\"", show(item));
    if item.len() >= 16 {
        return Err(err());
    }
    let (not, port) = match item.split_first() {
        Some((&b'!', rest)) => (true, rest),
        _ => (false, item),
    };
    let (lo, hi) = if let Some(p) = port.iter().position(|&c| c == b':') {
        let (a, b) = (&port[..p], &port[p + 1..]);
        let lo = if a.is_empty() {
            0
        } else {
            parse_u16(a, 10).ok_or_else(err)?
        };
        let hi = if b.is_empty() {
            u16::MAX
        } else {
            parse_u16(b, 10).ok_or_else(err)?
        };
        if lo > hi {
            return Err(err());
        }
        (lo, hi)
    } else if eq_nocase(port, "any") {
        (0, u16::MAX)
    } else {
        let v = parse_u16(port, 10).ok_or_else(err)?;
        (v, v)
    };
    if not {
        if lo > 0 {
            head.push((0, lo - 1));
        }
        if hi < u16::MAX {
            head.push((hi + 1, u16::MAX));
        }
    } else {
        head.push((lo, hi));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoder_ports_as_suricata_lists_them() {
        // What Suricata 7.0.10 decodes as VXLAN with `--set decoder.vxlan.ports=...`.
        let v = Vars::suricata_default();
        let ports = |t: &str| decoder_ports(t, &v).unwrap();
        assert_eq!(ports("4789"), [4789]);
        assert_eq!(ports("$VXLAN_PORTS"), [4789]);
        assert_eq!(ports("[4789,4790]"), [4789, 4790]);
        assert_eq!(ports("4789:4791"), [4789]);
        assert_eq!(
            ports("[9001,9000,4790,4791,8472]"),
            [4790, 4791, 8472, 9000, 9001]
        );
        assert_eq!(ports("any"), [0]);
        assert_eq!(ports("!4789"), [0, 4790]);
        assert_eq!(ports("[4789:4791,4790]"), [4789, 4790, 4791]);
        assert!(decoder_ports("[4789", &v).is_err());
    }

    fn p(s: &str) -> Result<PortSet, String> {
        parse_port(s, &Vars::suricata_default())
    }
    fn r(s: &str) -> Vec<(u16, u16)> {
        p(s).unwrap().ranges
    }

    #[test]
    fn basics() {
        assert!(p("any").unwrap().any);
        assert_eq!(p("any").unwrap(), PortSet::any());
        assert!(p("ANY").unwrap().any);
        assert_eq!(r("0"), vec![(0, 0)]);
        assert_eq!(r("65535"), vec![(65535, 65535)]);
        assert!(p("65536").is_err());
        assert!(p("-1").is_err());
        assert_eq!(r("80:"), vec![(80, 65535)]);
        assert_eq!(r(":80"), vec![(0, 80)]);
        assert_eq!(r(":"), vec![(0, 65535)]);
        assert!(p("90:80").is_err());
        assert_eq!(r("80:80"), vec![(80, 80)]);
        assert_eq!(r("+80"), vec![(80, 80)]);
        assert_eq!(r("080"), vec![(80, 80)]);
        assert!(p("0x50").is_err());
        assert!(p("80a").is_err());
    }

    #[test]
    fn lists() {
        assert!(p("[]").is_err());
        assert!(p("[80,!80]").is_err());
        assert_eq!(r("![80]"), vec![(0, 79), (81, 65535)]);
        assert_eq!(r("!80"), vec![(0, 79), (81, 65535)]);
        assert!(p("!any").is_err());
        assert_eq!(r("[!80,!81]"), vec![(0, 79), (82, 65535)]);
        assert_eq!(r("[80:90,!85]"), vec![(80, 84), (86, 90)]);
        assert_eq!(r("[80,!81]"), vec![(80, 80)]);
        assert!(p("![0:65535]").is_err());
        assert_eq!(r("[80,[90,100]]"), vec![(80, 80), (90, 90), (100, 100)]);
        assert_eq!(r("[80,![90,100]]"), vec![(80, 80)]);
        assert!(p("[$HTTP_PORTS,!80]").is_err());
        assert_eq!(r("$HTTP_PORTS"), vec![(80, 80)]);
        assert_eq!(r("!$HTTP_PORTS"), vec![(0, 79), (81, 65535)]);
        assert_eq!(r("$SHELLCODE_PORTS"), vec![(0, 79), (81, 65535)]);
        assert_eq!(
            r("$FILE_DATA_PORTS"),
            vec![(80, 80), (110, 110), (143, 143)]
        );
        assert!(p("$FOO").is_err());
        assert!(p("[80,,81]").is_err());
        assert_eq!(r("[80,]"), vec![(80, 80)]);
        assert!(p("[,80]").is_err());
        assert_eq!(r("[80, 81]"), vec![(80, 81)]);
        assert!(p("[80 ,81]").is_err());
        assert_eq!(r("[any]"), vec![(0, 65535)]);
        assert_eq!(r("[any,!80]"), vec![(0, 79), (81, 65535)]);
        assert!(p("!:").is_err());
        assert!(p("[80:85,!80:85]").is_err());
        assert!(p("[80:90,!70:100]").is_err());
        assert!(p("80:!90").is_err());
        assert!(p("[80").is_err());
        assert!(p("80]").is_err());
    }

    #[test]
    fn var_loop() {
        let mut v = Vars::suricata_default();
        v.set_port("A", "[1,$B]");
        v.set_port("B", "$A");
        assert!(parse_port("$A", &v).unwrap_err().contains("loop"));
    }
}
