//! The data behind `ravn rules check FILES... [--write-loaded FILE]`.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{self, Write};
use std::path::Path;

use super::loader::RuleFile;
use super::parse::SkipKind;

/// Per-file counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSummary {
    pub path: String,
    pub loaded: usize,
    pub skipped: usize,
    pub unsupported: usize,
    pub invalid: usize,
}

/// One skip group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkipGroup {
    pub key: String,
    pub kind: SkipKind,
    pub count: usize,
    /// The reason of the first rule in the group.
    pub reason: String,
    /// Up to 3 `file:line` examples.
    pub examples: Vec<String>,
}

/// Everything `rules check` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub files: Vec<FileSummary>,
    pub loaded: usize,
    pub skipped: usize,
    /// Most frequent first (ties by key).
    pub groups: Vec<SkipGroup>,
}

pub fn summarize(files: &[RuleFile]) -> Summary {
    let mut groups: Vec<SkipGroup> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut out = Summary {
        files: Vec::with_capacity(files.len()),
        loaded: 0,
        skipped: 0,
        groups: Vec::new(),
    };
    for f in files {
        let invalid = f
            .skipped
            .iter()
            .filter(|s| s.skip.kind == SkipKind::Invalid)
            .count();
        out.files.push(FileSummary {
            path: f.path.clone(),
            loaded: f.loaded.len(),
            skipped: f.skipped.len(),
            unsupported: f.skipped.len() - invalid,
            invalid,
        });
        out.loaded += f.loaded.len();
        out.skipped += f.skipped.len();
        for s in &f.skipped {
            let i = *index.entry(s.skip.key.as_str()).or_insert_with(|| {
                groups.push(SkipGroup {
                    key: s.skip.key.clone(),
                    kind: s.skip.kind,
                    count: 0,
                    reason: s.skip.reason.clone(),
                    examples: Vec::new(),
                });
                groups.len() - 1
            });
            let g = &mut groups[i];
            g.count += 1;
            if g.examples.len() < 3 {
                g.examples.push(s.origin.to_string());
            }
        }
    }
    groups.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.key.cmp(&b.key)));
    out.groups = groups;
    out
}

/// A human-readable report.
pub fn report(files: &[RuleFile]) -> String {
    let s = summarize(files);
    let mut o = String::new();
    let w = s
        .files
        .iter()
        .map(|f| f.path.len())
        .max()
        .unwrap_or(4)
        .max(5);
    let _ = writeln!(
        o,
        "{:<w$}  {:>7}  {:>7}  {:>11}  {:>7}",
        "file", "loaded", "skipped", "unsupported", "invalid"
    );
    for f in &s.files {
        let _ = writeln!(
            o,
            "{:<w$}  {:>7}  {:>7}  {:>11}  {:>7}",
            f.path, f.loaded, f.skipped, f.unsupported, f.invalid
        );
    }
    let total = s.loaded + s.skipped;
    let pct = if total > 0 {
        100.0 * s.loaded as f64 / total as f64
    } else {
        0.0
    };
    let _ = writeln!(o, "{:<w$}  {:>7}  {:>7}", "total", s.loaded, s.skipped);
    let _ = writeln!(
        o,
        "\n{} of {} rules loaded ({pct:.1}%), {} skipped",
        s.loaded, total, s.skipped
    );
    if !s.groups.is_empty() {
        let _ = writeln!(o, "\nskipped, by reason (most frequent first):");
        for g in &s.groups {
            let kind = match g.kind {
                SkipKind::Unsupported => "unsupported",
                SkipKind::Invalid => "invalid",
            };
            let _ = writeln!(o, "  {:>6}  {:<28} [{kind}] {}", g.count, g.key, g.reason);
            let _ = writeln!(o, "          e.g. {}", g.examples.join(", "));
        }
    }
    o
}

/// Write each loaded rule's text verbatim, one per line. Returns how many were written.
pub fn write_loaded_to<W: Write>(files: &[RuleFile], out: &mut W) -> io::Result<usize> {
    let mut n = 0;
    for f in files {
        for r in &f.loaded {
            out.write_all(r.text.as_bytes())?;
            out.write_all(b"\n")?;
            n += 1;
        }
    }
    Ok(n)
}

/// [`write_loaded_to`] into a file (created or truncated): `--write-loaded FILE`.
pub fn write_loaded(files: &[RuleFile], path: &Path) -> io::Result<usize> {
    let f = std::fs::File::create(path)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    let mut w = io::BufWriter::new(f);
    let n = write_loaded_to(files, &mut w)?;
    w.flush()?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::ast::{Match, Rule};
    use crate::rules::classification::Classifications;
    use crate::rules::loader::load_bytes;
    use crate::rules::parse::SkipKind;
    use crate::rules::vars::Vars;

    #[test]
    fn report_groups() {
        let f = load_bytes(
            "a.rules",
            b"alert tcp any any -> any any (msg:\"x\"; flowint:a,=,1; sid:1;)\n\
              alert tcp any any -> any any (msg:\"x\"; flowint:a,=,1; sid:2;)\n\
              alert http any any -> any any (msg:\"x\"; sid:3;)\n\
              alert tcp any any -> any any (msg:\"x\"; content:\"a\"; sid:4;)\n",
            &Vars::suricata_default(),
            None,
        );
        let s = summarize(std::slice::from_ref(&f));
        assert_eq!(s.loaded, 1);
        assert_eq!(s.skipped, 3);
        assert_eq!(s.groups[0].key, "flowint");
        assert_eq!(s.groups[0].count, 2);
        assert_eq!(s.groups[0].examples, vec!["a.rules:1", "a.rules:2"]);
        let r = report(std::slice::from_ref(&f));
        assert!(r.contains("unsupported keyword 'flowint'"));
        assert!(r.contains("app-layer:http"));
        let mut buf = Vec::new();
        assert_eq!(
            write_loaded_to(std::slice::from_ref(&f), &mut buf).unwrap(),
            1
        );
        assert_eq!(
            buf,
            b"alert tcp any any -> any any (msg:\"x\"; content:\"a\"; sid:4;)\n"
        );
    }

    /// Dump how ravn handles every rule of `$RAVN_RULES_DUMP` to `$RAVN_RULES_DUMP.ravn`
    /// (development aid for differential testing against Suricata's engine analysis):
    /// `cargo test --lib rules::check::tests::dump -- --ignored`.
    #[test]
    #[ignore]
    fn dump() {
        let Ok(path) = std::env::var("RAVN_RULES_DUMP") else {
            return;
        };
        let cl = Classifications::load(std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/rulesets/et-open-2024-04-21/classification.config"
        )))
        .ok();
        let vars = Vars::suricata_default();
        let data = std::fs::read(&path).unwrap();
        let mut f = crate::rules::load_bytes(&path, &data, &vars, cl.as_ref());
        crate::rules::dedup(std::slice::from_mut(&mut f));
        let mut out = String::new();
        let mut rows: Vec<(usize, String)> = Vec::new();
        for r in &f.loaded {
            rows.push((r.origin.line, format!("OK\t-\t-\t{}", describe(r))));
        }
        for s in &f.skipped {
            let kind = if s.skip.kind == SkipKind::Invalid {
                "INVALID"
            } else {
                "UNSUPPORTED"
            };
            rows.push((
                s.origin.line,
                format!(
                    "{kind}\t{}\t{}\t",
                    s.skip.key.replace('\t', " "),
                    s.skip.reason.replace('\t', " ")
                ),
            ));
        }
        rows.sort();
        for (l, r) in rows {
            let _ = writeln!(out, "{l}\t{r}");
        }
        std::fs::write(format!("{path}.ravn"), out).unwrap();
    }

    fn describe(r: &Rule) -> String {
        let mut parts = Vec::new();
        for m in &r.matches {
            if let Match::Content(c) = m {
                let mut pat = c.pattern.clone();
                if c.nocase {
                    pat.make_ascii_lowercase();
                }
                let depth_abs = if c.startswith {
                    Some(c.pattern.len() as u32)
                } else {
                    c.depth.map(|d| d + c.offset.unwrap_or(0))
                };
                parts.push(format!(
                    "{{\"pattern\":{:?},\"nocase\":{},\"negated\":{},\"starts_with\":{},\"ends_with\":{},\"offset\":{},\"depth\":{},\"distance\":{},\"within\":{},\"fast_pattern\":{}}}",
                    pat.iter().map(|b| format!("{b:02x}")).collect::<String>(),
                    c.nocase,
                    c.negated,
                    c.startswith,
                    c.endswith,
                    c.offset.map_or("null".into(), |v| v.to_string()),
                    depth_abs.map_or("null".into(), |v| v.to_string()),
                    c.distance.map_or("null".into(), |v| v.to_string()),
                    c.within.map_or("null".into(), |v| v.to_string()),
                    c.fast_pattern.is_some(),
                ));
            }
        }
        format!(
            "{{\"sid\":{},\"gid\":{},\"rev\":{},\"msg\":{:?},\"contents\":[{}]}}",
            r.meta.sid,
            r.meta.gid,
            r.meta.rev,
            r.meta.msg,
            parts.join(",")
        )
    }

    /// Load time of all of ET Open (run in release):
    /// `cargo test --release --lib rules::check::tests::time_et_open -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn time_et_open() {
        let dir = std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/rulesets/et-open-2024-04-21"
        ));
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        let mut paths: Vec<std::path::PathBuf> = rd
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "rules"))
            .collect();
        paths.sort();
        let cl = Classifications::load(&dir.join("classification.config")).unwrap();
        let vars = Vars::suricata_default();
        let refs: Vec<&std::path::Path> = paths.iter().map(|p| p.as_path()).collect();
        let mut best = f64::MAX;
        for _ in 0..5 {
            let t = std::time::Instant::now();
            let files = crate::rules::load_files(&refs, &vars, Some(&cl)).unwrap();
            best = best.min(t.elapsed().as_secs_f64());
            assert_eq!(files.iter().map(|f| f.total()).sum::<usize>(), 24_795);
        }
        println!("ET Open: best of 5 loads {:.1} ms", best * 1000.0);
    }
}
