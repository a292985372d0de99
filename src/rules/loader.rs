//! Rules files → [`RuleFile`]: lines are read like Suricata's `DetectLoadSigFile` (an 8 KiB
//! `fgets` buffer, `#`/blank/indented lines ignored, a trailing `\` joins the next line, one
//! trailing CR or LF removed), each rule goes through [`parse_rule_bytes`], and duplicate
//! `gid:sid` are resolved as Suricata does (a higher `rev` replaces, otherwise an error).

use std::collections::HashMap;
use std::io;
use std::path::Path;

use super::ast::{Origin, Rule};
use super::classification::Classifications;
use super::cnum::is_space;
use super::parse::{parse_rule_bytes, Skip, MAX_RULE_SIZE};
use super::vars::Vars;

/// A rule that was not loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub origin: Origin,
    /// The rule text (continuations joined; lossy if not UTF-8).
    pub text: String,
    pub skip: Skip,
}

/// One loaded rules file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleFile {
    pub path: String,
    pub loaded: Vec<Rule>,
    pub skipped: Vec<Skipped>,
}

impl RuleFile {
    /// Rules the file contained (loaded + skipped).
    pub fn total(&self) -> usize {
        self.loaded.len() + self.skipped.len()
    }
}

/// Load one file. A missing or unreadable file is an `io::Error` naming the path.
pub fn load_file(
    path: &Path,
    vars: &Vars,
    classifications: Option<&Classifications>,
) -> io::Result<RuleFile> {
    let data = std::fs::read(path)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    let mut f = load_bytes(&path.display().to_string(), &data, vars, classifications);
    dedup(std::slice::from_mut(&mut f));
    Ok(f)
}

/// Load several files in order, resolving duplicate signatures across all of them.
pub fn load_files(
    paths: &[&Path],
    vars: &Vars,
    classifications: Option<&Classifications>,
) -> io::Result<Vec<RuleFile>> {
    let mut out = Vec::with_capacity(paths.len());
    for p in paths {
        out.push(load_file(p, vars, classifications)?);
    }
    dedup(&mut out);
    Ok(out)
}

/// Parse the contents of a rules file (no duplicate handling: see [`dedup`]).
pub fn load_bytes(
    name: &str,
    data: &[u8],
    vars: &Vars,
    classifications: Option<&Classifications>,
) -> RuleFile {
    let mut file = RuleFile {
        path: name.to_string(),
        ..RuleFile::default()
    };
    let mut line: Vec<u8> = Vec::with_capacity(1024);
    let mut offset = 0usize;
    let mut pos = 0usize;
    let mut lineno = 0usize;
    let mut multiline = 0usize;
    while pos < data.len() {
        // fgets(line + offset, MAX_RULE_SIZE - offset, fp)
        let cap = MAX_RULE_SIZE - offset - 1;
        let avail = &data[pos..data.len().min(pos + cap)];
        let n = match memchr::memchr(b'\n', avail) {
            Some(p) => p + 1,
            None => avail.len(),
        };
        line.truncate(offset);
        line.extend_from_slice(&avail[..n]);
        pos += n;
        lineno += 1;
        let clen = memchr::memchr(0, &line).unwrap_or(line.len());
        if matches!(line.first(), Some(b'\n' | b'\r' | b' ' | b'#' | b'\t')) {
            continue;
        }
        let mut len = clen;
        while len > 0 {
            len -= 1;
            if !is_space(line[len]) {
                break;
            }
        }
        if clen > 0 && line[len] == b'\\' {
            multiline += 1;
            offset = len;
            if offset < MAX_RULE_SIZE - 1 {
                continue;
            }
        }
        let mut end = clen;
        if end > 0 && (line[end - 1] == b'\n' || line[end - 1] == b'\r') {
            end -= 1;
        }
        offset = 0;
        let origin = Origin {
            file: name.to_string(),
            line: lineno - multiline,
        };
        multiline = 0;
        let text = &line[..end];
        match parse_rule_bytes(text, vars, classifications) {
            Ok(mut r) => {
                r.origin = origin;
                if r.text.ends_with('\r') {
                    r.text.pop();
                }
                file.loaded.push(r);
            }
            Err(skip) => file.skipped.push(Skipped {
                origin,
                text: String::from_utf8_lossy(text).into_owned(),
                skip,
            }),
        }
    }
    if offset > 0 {
        // Suricata silently drops a rule whose last line ends with '\' at end of file
        let text = String::from_utf8_lossy(&line[..offset]).into_owned();
        file.skipped.push(Skipped {
            origin: Origin {
                file: name.to_string(),
                line: lineno + 1 - multiline,
            },
            text,
            skip: Skip::invalid(
                "syntax",
                "syntax: line continuation '\\' at end of file (Suricata ignores this rule)",
            ),
        });
    }
    file
}

/// Suricata's duplicate signature handling over files in load order: for the same
/// `gid:sid`, a later rule with a higher `rev` replaces the earlier one; otherwise the later
/// one is an error (`Duplicate signature`).
pub fn dedup(files: &mut [RuleFile]) {
    // (gid, sid) -> (file index, rule index, rev)
    let mut seen: HashMap<(u32, u32), (usize, usize, u32)> = HashMap::new();
    let mut drop: Vec<Vec<Option<Skip>>> =
        files.iter().map(|f| vec![None; f.loaded.len()]).collect();
    for fi in 0..files.len() {
        for ri in 0..files[fi].loaded.len() {
            let r = &files[fi].loaded[ri];
            let key = (r.meta.gid, r.meta.sid);
            match seen.get(&key).copied() {
                None => {
                    seen.insert(key, (fi, ri, r.meta.rev));
                }
                Some((ofi, ori, orev)) => {
                    let old_origin = files[ofi].loaded[ori].origin.to_string();
                    if r.meta.rev > orev {
                        drop[ofi][ori] = Some(Skip::invalid(
                            "duplicate-sid",
                            format!(
                                "duplicate signature {}:{}: replaced by rev {} at {}",
                                key.0, key.1, r.meta.rev, r.origin
                            ),
                        ));
                        seen.insert(key, (fi, ri, r.meta.rev));
                    } else {
                        drop[fi][ri] = Some(Skip::invalid(
                            "duplicate-sid",
                            format!(
                                "duplicate signature {}:{} (rev {} already loaded from {})",
                                key.0, key.1, orev, old_origin
                            ),
                        ));
                    }
                }
            }
        }
    }
    for (f, d) in files.iter_mut().zip(drop) {
        if d.iter().all(Option::is_none) {
            continue;
        }
        let rules = std::mem::take(&mut f.loaded);
        for (r, skip) in rules.into_iter().zip(d) {
            match skip {
                None => f.loaded.push(r),
                Some(skip) => f.skipped.push(Skipped {
                    origin: r.origin.clone(),
                    text: r.text,
                    skip,
                }),
            }
        }
        f.skipped.sort_by_key(|s| s.origin.line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(s: &str) -> RuleFile {
        let mut f = load_bytes("t.rules", s.as_bytes(), &Vars::suricata_default(), None);
        dedup(std::slice::from_mut(&mut f));
        f
    }

    #[test]
    fn comments_blank_and_continuations() {
        let f = load(
            "# comment\n\n   alert tcp any any -> any any (sid:9;)\n\
             alert tcp any any -> any any (msg:\"a\"; \\\n  content:\"x\"; sid:1;)\r\n\
             alert tcp any any -> any any (msg:\"b\"; sid:2;)",
        );
        assert_eq!(f.loaded.len(), 2, "{:?}", f.skipped);
        assert_eq!(f.loaded[0].origin.line, 4);
        assert_eq!(
            f.loaded[0].text,
            "alert tcp any any -> any any (msg:\"a\";   content:\"x\"; sid:1;)"
        );
        assert_eq!(f.loaded[1].origin.line, 6);
        assert!(f.skipped.is_empty());
    }

    #[test]
    fn dangling_continuation_and_invalid_utf8() {
        let mut data = b"alert tcp any any -> any any (msg:\"\xff\"; sid:1;)\n".to_vec();
        data.extend_from_slice(b"alert tcp any any -> any any (sid:2; \\\n");
        let f = load_bytes("t", &data, &Vars::suricata_default(), None);
        assert_eq!(f.loaded.len(), 0);
        assert_eq!(f.skipped.len(), 2);
        assert_eq!(f.skipped[0].skip.key, "invalid:utf8");
        assert_eq!(f.skipped[1].skip.key, "syntax");
    }

    #[test]
    fn duplicates() {
        let f = load(
            "alert tcp any any -> any any (sid:1; rev:2;)\n\
             alert tcp any any -> any any (sid:1; rev:3;)\n\
             alert tcp any any -> any any (sid:1; rev:1;)\n\
             alert tcp any any -> any any (sid:1; gid:2;)\n",
        );
        assert_eq!(f.loaded.len(), 2);
        assert_eq!(f.loaded[0].meta.rev, 3);
        assert_eq!(f.loaded[1].meta.gid, 2);
        assert_eq!(f.skipped.len(), 2);
        assert!(f.skipped.iter().all(|s| s.skip.key == "duplicate-sid"));
    }

    #[test]
    fn missing_file() {
        let e = load_file(Path::new("/nonexistent/x.rules"), &Vars::empty(), None).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/x.rules"));
    }

    #[test]
    fn long_line_is_split_like_fgets() {
        let mut s = String::from("alert tcp any any -> any any (msg:\"");
        s.push_str(&"a".repeat(9000));
        s.push_str("\"; sid:1;)\n");
        let f = load(&s);
        assert_eq!(f.loaded.len(), 0);
        assert_eq!(f.skipped.len(), 2);
    }
}
