//! Differential test: ravn against Suricata 7.0.10 on the same captures with the same rules,
//! alerts compared as sorted lists of `gid:sid:rev pcap_cnt=N PROTO src:sport -> dst:dport`
//! (the normalisation of `../shared/tools/suricata-alerts`, which runs Suricata here).
//!
//! Corpora:
//! - `gen_traffic.py` captures, one per seed (`RAVN_DIFF_SEEDS`, default `1,2,3`; packets per
//!   capture `RAVN_DIFF_PACKETS`, default 30000), generated at test time. Rules: every ET Open
//!   file plus the Snort community rules, reduced by `ravn rules check --write-loaded` to the
//!   rules ravn loads; both tools get exactly that file.
//! - `../shared/conformance/suricata-verify/tests/`: every test (a directory with
//!   `test.yaml`) with its capture (its own, or the one `pcap:` names) and its rules
//!   (`test.rules`, or the directory's other `*.rules` when it has none) plus
//!   `rules/heartbeat.rules`, reduced the same way; capture directories without `test.yaml`
//!   run with the heartbeat rule alone.
//! - `stream`: `tests/data/gen_stream_pcap.py`'s TCP sessions (split content, the chunk
//!   size, overlaps, gaps, data never acknowledged, HTTP, IPv6, RSTs at and off the
//!   sender's next sequence number in each session state), generated at test time, with
//!   `tests/data/stream.rules`: raw stream reassembly, stream inspection, RST validation.
//! - `rule-traffic`: `tests/data/gen_rule_traffic.py`'s sessions carrying the contents of
//!   each rule of the gen_traffic rule set (whole, and cut in two segments), generated at
//!   test time from that rule file: thousands of ET Open and community rules that match;
//!   and the same `--mixed` (filler between contents, VLAN, segments out of order).
//! - `defrag`: `tests/data/gen_frag_pcap.py`'s IPv4 and IPv6 fragments (in and out of order,
//!   overlapping, duplicated, incomplete, too large, behind VLAN, inside and around GRE),
//!   generated at test time, with `tests/data/frag.rules`: IP defragmentation.
//! - `stream` also: `tests/data/gen_midstream_pcap.py`'s sessions without their start or
//!   with one side missing, with `tests/data/midstream.rules`, four times: plain, and with
//!   `stream.midstream` and `stream.async-oneside` on (each alone and both; Suricata gets
//!   the alert-only config with those keys added).
//! - `stream` also: `tests/data/gen_tls_pcap.py`'s TLS sessions with `tests/data/tls.rules`:
//!   the raw inspection each TLS record triggers, and no payload inspection once a TLS
//!   application-data record was parsed (Suricata's default `encryption-handling`).
//! - `payload`: `tests/data/gen_bytevars_pcap.py`'s datagrams and a TCP session, generated at
//!   test time, with `tests/data/bytevars.rules`: byte_extract/byte_math variables as the
//!   values of offset, depth, distance, within and isdataat, around their limits.
//! - `checksum`: `tests/data/gen_checksum_pcap.py`'s TCP segments with wrong checksums (an
//!   evasion attempt, a bad SYN, handshake ACK, FIN, RST, IPv6) and UDP, ICMP and IPv4
//!   headers with right and wrong ones, with `tests/data/checksum.rules` (stream and
//!   `*-csum` keyword rules), with stream checksum validation (`-k all`) and without; and
//!   its captures from a host with checksum offloading (101 and 100 bad segments before the
//!   1,000th packet: just over and at the line where `auto` stops checking).
//!
//! Both tools run with plain settings: Suricata as suricata-alerts runs it (alert-only config,
//! `-k none`, default HOME_NET), ravn with its defaults plus the same classification and
//! reference configs and `-k none`; no test's `suricata.yaml` or `args` (only the midstream
//! cases set stream settings, the same for both; the checksum cases run both tools without
//! `-k none`, Suricata directly since suricata-alerts always passes it). Any difference fails
//! the test.
//! The full report goes to `<target dir>/differential-report.txt`.
//!
//! Environment: `RAVN_DIFF_JOBS` (parallel cases, default: CPUs), `RAVN_DIFF_SEEDS`,
//! `RAVN_DIFF_PACKETS`, `RAVN_DIFF_ONLY` (run only cases whose name contains it).

mod support;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use support::*;

/// Lines of each case's diff echoed to the test output (the report has all of them).
const DIFF_LINES_SHOWN: usize = 30;

#[derive(Clone)]
enum Rules {
    /// Already reduced to ravn's loaded set.
    Loaded { file: PathBuf, count: usize },
    /// To be reduced per case.
    Raw(Vec<PathBuf>),
}

#[derive(Clone)]
struct Case {
    corpus: &'static str,
    name: String,
    pcap: PathBuf,
    rules: Rules,
    /// `stream.*` settings both tools run with (`key`, `value`), e.g. `("midstream",
    /// "true")`: ravn gets `--set stream.key=value`, Suricata a copy of the alert-only
    /// config with the keys in its `stream:` section.
    stream: &'static [(&'static str, &'static str)],
    /// Both tools validate TCP checksums as by default (Suricata without `-k none`, ravn
    /// with `-k all`); otherwise both run with `-k none`.
    checksums: bool,
}

#[derive(Default, Clone)]
struct Outcome {
    corpus: &'static str,
    name: String,
    pcap: String,
    rule_files: Vec<String>,
    loaded: usize,
    suricata_loaded: Option<u64>,
    suricata_failed: Option<u64>,
    ravn_packets: Option<u64>,
    suricata_packets: Option<u64>,
    ravn: Vec<String>,
    suricata: Vec<String>,
    only_ravn: Vec<String>,
    only_suricata: Vec<String>,
    error: Option<String>,
    secs: f64,
    /// Same capture and loaded rules as this case: its result was reused.
    same_as: Option<String>,
}

impl Outcome {
    fn equal(&self) -> bool {
        self.error.is_none() && self.only_ravn.is_empty() && self.only_suricata.is_empty()
    }
    fn common(&self) -> usize {
        self.ravn.len() - self.only_ravn.len()
    }
}

fn conformance_cases(shared: &Path) -> Vec<Case> {
    let root = shared.join("conformance/suricata-verify/tests");
    let heartbeat = crate_root().join("rules/heartbeat.rules");
    let mut dirs = Vec::new();
    collect_dirs(&root, &mut dirs);
    dirs.sort();
    let mut cases = Vec::new();
    for dir in dirs {
        let name = dir
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let pcaps = files_with_ext(&dir, "pcap");
        let yaml = dir.join("test.yaml");
        if yaml.is_file() {
            let text = std::fs::read_to_string(&yaml).unwrap();
            let pcap = match yaml_top_level(&text, "pcap") {
                Some(p) => dir.join(p),
                None => match pcaps.first() {
                    Some(p) => p.clone(),
                    None => continue, // a test without a capture: nothing to replay
                },
            };
            let mut rules = if dir.join("test.rules").is_file() {
                vec![dir.join("test.rules")]
            } else {
                files_with_ext(&dir, "rules")
            };
            rules.push(heartbeat.clone());
            cases.push(Case {
                corpus: "conformance",
                name,
                pcap,
                rules: Rules::Raw(rules),
                stream: &[],
                checksums: false,
            });
        } else {
            // A capture kept for other tests (no test.yaml of its own): heartbeat rule only.
            for p in pcaps {
                cases.push(Case {
                    corpus: "conformance",
                    name: format!("{name}/{}", p.file_name().unwrap().to_string_lossy()),
                    pcap: p,
                    rules: Rules::Raw(vec![heartbeat.clone()]),
                    stream: &[],
                    checksums: false,
                });
            }
        }
    }
    cases
}

fn collect_dirs(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            if p.join("test.yaml").is_file() || !files_with_ext(&p, "pcap").is_empty() {
                out.push(p.clone());
            }
            collect_dirs(&p, out);
        }
    }
}

fn files_with_ext(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == ext))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// A top-level `key: value` of a test.yaml (the only YAML these tests need).
fn yaml_top_level(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let rest = l.strip_prefix(key)?.strip_prefix(':')?;
        let v = rest.trim().trim_matches(|c| c == '"' || c == '\'');
        (!v.is_empty()).then(|| v.to_string())
    })
}

/// A case with its rules reduced to the set ravn loads.
struct Prepared {
    case: Case,
    dir: PathBuf,
    /// The loaded rules file and its rule count.
    rules: Result<(PathBuf, usize), String>,
}

impl Prepared {
    /// Cases with the same capture and the same loaded rules give the same result: they run
    /// once.
    fn key(&self) -> Option<(PathBuf, String)> {
        let (file, _) = self.rules.as_ref().ok()?;
        let pcap = self.case.pcap.canonicalize().ok()?;
        let rules = std::fs::read_to_string(file).ok()?;
        let how = format!("{:?} {}", self.case.stream, self.case.checksums);
        Some((pcap, format!("{how}\n{rules}")))
    }

    fn outcome(&self) -> Outcome {
        let mut o = Outcome {
            corpus: self.case.corpus,
            name: self.case.name.clone(),
            pcap: show(&self.case.pcap),
            ..Default::default()
        };
        match &self.case.rules {
            Rules::Loaded { file, .. } => o.rule_files = vec![show(file)],
            Rules::Raw(files) => o.rule_files = files.iter().map(|f| show(f)).collect(),
        }
        match &self.rules {
            Ok((_, n)) => o.loaded = *n,
            Err(e) => o.error = Some(e.clone()),
        }
        o
    }
}

fn prepare(shared: &Path, work: &Path, case: Case) -> Prepared {
    let dir = fresh_dir(&work.join(case.name.replace('/', "__")));
    let rules = match &case.rules {
        Rules::Loaded { file, count } => Ok((file.clone(), *count)),
        Rules::Raw(files) => {
            let out = dir.join("loaded.rules");
            ravn_loaded_rules(shared, files, &out).map(|n| (out, n))
        }
    };
    Prepared { case, dir, rules }
}

fn run_case(shared: &Path, p: &Prepared) -> Outcome {
    let t0 = Instant::now();
    let mut o = p.outcome();
    if let Ok((rules, _)) = &p.rules {
        if let Err(e) = compare(shared, &p.dir, &p.case, rules, &mut o) {
            o.error = Some(e);
        }
    }
    o.secs = t0.elapsed().as_secs_f64();
    o
}

fn compare(
    shared: &Path,
    dir: &Path,
    case: &Case,
    rules: &Path,
    o: &mut Outcome,
) -> Result<(), String> {
    // ravn
    let ravn_out = dir.join("ravn");
    let r = Command::new(ravn_bin())
        .arg("-v")
        .args(["replay", "-r"])
        .arg(&case.pcap)
        .arg("-S")
        .arg(rules)
        .arg("-l")
        .arg(&ravn_out)
        .args(ravn_sets(shared))
        .args(
            case.stream
                .iter()
                .flat_map(|(k, v)| ["--set".to_string(), format!("stream.{k}={v}")]),
        )
        .args(
            case.checksums
                .then_some(["-k", "all"])
                .into_iter()
                .flatten(),
        )
        .output()
        .map_err(|e| format!("running ravn: {e}"))?;
    std::fs::write(dir.join("ravn.stderr"), &r.stderr).ok();
    if !r.status.success() {
        return Err(format!(
            "ravn replay failed ({}): {}",
            r.status,
            String::from_utf8_lossy(&r.stderr).trim()
        ));
    }
    let eve = read_eve(&ravn_out.join("eve.json"))?;
    o.ravn = eve.alerts;
    o.ravn_packets = eve
        .stats
        .as_ref()
        .and_then(|s| s["decoder"]["pkts"].as_u64());

    let suri_out = dir.join("suricata");
    o.suricata = if case.checksums {
        suricata_checking(shared, &case.pcap, rules, &suri_out)?
    } else {
        suricata_alerts(shared, dir, case, rules, &suri_out)?
    };
    o.suricata.sort();
    if let Ok(eve) = read_eve(&suri_out.join("eve.json")) {
        if let Some(st) = eve.stats {
            o.suricata_packets = st["decoder"]["pkts"].as_u64();
            if let Some(eng) = st["detect"]["engines"].as_array().and_then(|a| a.last()) {
                o.suricata_loaded = eng["rules_loaded"].as_u64();
                o.suricata_failed = eng["rules_failed"].as_u64();
            }
        }
    }
    let (only_ravn, only_suricata) = sorted_diff(&o.ravn, &o.suricata);
    o.only_ravn = only_ravn;
    o.only_suricata = only_suricata;
    Ok(())
}

/// Suricata's alerts for `case`, through the reference tool.
fn suricata_alerts(
    shared: &Path,
    dir: &Path,
    case: &Case,
    rules: &Path,
    out: &Path,
) -> Result<Vec<String>, String> {
    let mut cmd = Command::new("python3");
    cmd.arg(shared.join("tools/suricata-alerts"))
        .arg(&case.pcap)
        .arg(rules)
        .arg("--keep")
        .arg(out);
    if !case.stream.is_empty() {
        cmd.arg("--yaml")
            .arg(suricata_yaml_with(shared, dir, case.stream)?);
    }
    let s = cmd
        .output()
        .map_err(|e| format!("running suricata-alerts: {e}"))?;
    let stderr = String::from_utf8_lossy(&s.stderr);
    std::fs::write(dir.join("suricata-alerts.stderr"), stderr.as_bytes()).ok();
    if !s.status.success() {
        return Err(format!(
            "suricata-alerts failed ({}): {}",
            s.status,
            tail(&stderr, 1500)
        ));
    }
    Ok(String::from_utf8_lossy(&s.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect())
}

/// Suricata's alerts checking checksums: suricata-alerts always passes `-k none`, so
/// Suricata runs directly, otherwise as that tool runs it (the alert-only config, its
/// HOME_NET, the reference configs), its alerts read from its EVE file.
fn suricata_checking(
    shared: &Path,
    pcap: &Path,
    rules: &Path,
    out: &Path,
) -> Result<Vec<String>, String> {
    std::fs::create_dir_all(out).map_err(|e| e.to_string())?;
    let mut cmd = suricata_checking_checksums(shared, pcap, rules, out);
    cmd.args([
        "--set",
        "vars.address-groups.HOME_NET=[192.168.0.0/16,10.0.0.0/8,172.16.0.0/12]",
    ]);
    let s = cmd.output().map_err(|e| format!("running suricata: {e}"))?;
    if !s.status.success() {
        let stderr = String::from_utf8_lossy(&s.stderr);
        return Err(format!(
            "suricata failed ({}): {}",
            s.status,
            tail(&stderr, 1500)
        ));
    }
    Ok(read_eve(&out.join("eve.json"))?.alerts)
}

/// The alert-only config suricata-alerts uses, with `stream` settings added to its
/// `stream:` section, written into `dir`.
fn suricata_yaml_with(
    shared: &Path,
    dir: &Path,
    stream: &[(&str, &str)],
) -> Result<PathBuf, String> {
    let src = shared.join("reference/suricata-7.0.10/suricata-alertonly.yaml");
    let text = std::fs::read_to_string(&src).map_err(|e| format!("{}: {e}", src.display()))?;
    let added: String = stream
        .iter()
        .map(|(k, v)| format!("  {k}: {v}\n"))
        .collect();
    let Some(at) = text.find("\nstream:\n") else {
        return Err(format!("{}: no `stream:` section", src.display()));
    };
    let at = at + "\nstream:\n".len();
    let out = dir.join("suricata.yaml");
    std::fs::write(&out, format!("{}{added}{}", &text[..at], &text[at..]))
        .map_err(|e| format!("{}: {e}", out.display()))?;
    Ok(out)
}

fn tail(s: &str, n: usize) -> &str {
    let s = s.trim();
    let mut start = s.len().saturating_sub(n);
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}

/// `gid:sid:rev` of a normalised alert line.
fn sig_of(line: &str) -> &str {
    line.split(' ').next().unwrap_or(line)
}

fn diff_text(o: &Outcome, limit: usize) -> String {
    let mut t = String::new();
    let _ = writeln!(t, "--- suricata  {}", o.pcap);
    let _ = writeln!(t, "+++ ravn      {}", o.pcap);
    let mut lines: Vec<(&String, char)> = o
        .only_suricata
        .iter()
        .map(|l| (l, '-'))
        .chain(o.only_ravn.iter().map(|l| (l, '+')))
        .collect();
    lines.sort();
    for (i, (l, c)) in lines.iter().enumerate() {
        if i == limit {
            let _ = writeln!(t, "  ... {} more (see the report)", lines.len() - limit);
            break;
        }
        let _ = writeln!(t, "{c}{l}");
    }
    t
}

fn opt(v: Option<u64>) -> String {
    v.map_or_else(|| "?".into(), |n| n.to_string())
}

fn report(outcomes: &[Outcome], setup: &str) -> (String, String) {
    let mut sum = String::new();
    let _ = writeln!(
        sum,
        "ravn vs Suricata 7.0.10, alerts as sorted (gid:sid:rev, pcap_cnt, tuple) lists"
    );
    let _ = writeln!(sum, "{setup}");
    // per corpus totals
    let mut corpora: BTreeMap<&str, [usize; 6]> = BTreeMap::new();
    for o in outcomes {
        let c = corpora.entry(o.corpus).or_default();
        c[0] += 1;
        c[1] += o.equal() as usize;
        c[2] += o.suricata.len();
        c[3] += o.ravn.len();
        c[4] += o.common();
        c[5] += o.only_ravn.len() + o.only_suricata.len();
    }
    let _ = writeln!(
        sum,
        "\n{:<12} {:>6} {:>6} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "corpus", "cases", "equal", "differ", "suricata", "ravn", "common", "diff-lines"
    );
    for (name, c) in &corpora {
        let _ = writeln!(
            sum,
            "{:<12} {:>6} {:>6} {:>9} {:>9} {:>9} {:>9} {:>9}",
            name,
            c[0],
            c[1],
            c[0] - c[1],
            c[2],
            c[3],
            c[4],
            c[5]
        );
    }
    let w = outcomes
        .iter()
        .map(|o| o.corpus.len() + 1 + o.name.len())
        .max()
        .unwrap_or(4);
    let _ = writeln!(
        sum,
        "\n{:<w$} {:>5} {:>5} {:>8} {:>6} {:>6} {:>6} {:>6} {:>6}  result",
        "case", "rules", "s.ld", "pkts", "suri", "ravn", "-suri", "+ravn", "secs"
    );
    for o in outcomes {
        let result = match &o.error {
            Some(_) => "ERROR",
            None if o.equal() => "equal",
            None => "DIFFERENT",
        };
        let pk = if o.ravn_packets == o.suricata_packets {
            opt(o.ravn_packets)
        } else {
            format!("{}/{}", opt(o.ravn_packets), opt(o.suricata_packets))
        };
        let secs = match &o.same_as {
            Some(_) => "-".to_string(),
            None => format!("{:.1}", o.secs),
        };
        let same = match &o.same_as {
            Some(n) => format!(" (same capture and rules as {n})"),
            None => String::new(),
        };
        let _ = writeln!(
            sum,
            "{:<w$} {:>5} {:>5} {:>8} {:>6} {:>6} {:>6} {:>6} {secs:>6}  {result}{same}",
            format!("{}/{}", o.corpus, o.name),
            o.loaded,
            opt(o.suricata_loaded),
            pk,
            o.suricata.len(),
            o.ravn.len(),
            o.only_suricata.len(),
            o.only_ravn.len(),
        );
    }
    let _ = writeln!(
        sum,
        "(rules: rules ravn loaded and both tools got; s.ld: rules Suricata loaded of them; \
         pkts: decoder.pkts, ravn/suricata when they differ; -suri: alerts only Suricata \
         raised; +ravn: alerts only ravn raised; secs: both tools' run time)"
    );

    // per signature
    let mut sigs: BTreeMap<String, (usize, usize, Vec<String>)> = BTreeMap::new();
    for o in outcomes {
        for (lines, ravn) in [(&o.only_suricata, false), (&o.only_ravn, true)] {
            for l in lines.iter() {
                let e = sigs.entry(sig_of(l).to_string()).or_default();
                if ravn {
                    e.1 += 1
                } else {
                    e.0 += 1
                }
                let case = format!("{}/{}", o.corpus, o.name);
                if !e.2.contains(&case) {
                    e.2.push(case);
                }
            }
        }
    }
    if !sigs.is_empty() {
        let _ = writeln!(
            sum,
            "\ndiffering signatures:\n{:<22} {:>10} {:>10}  cases",
            "gid:sid:rev", "only-suri", "only-ravn"
        );
        for (sig, (s, r, cases)) in &sigs {
            let _ = writeln!(sum, "{sig:<22} {s:>10} {r:>10}  {}", cases.join(", "));
        }
    }
    let errors: Vec<&Outcome> = outcomes.iter().filter(|o| o.error.is_some()).collect();
    if !errors.is_empty() {
        let _ = writeln!(sum, "\nerrors:");
        for o in errors {
            let _ = writeln!(
                sum,
                "{}/{}: {}",
                o.corpus,
                o.name,
                o.error.as_deref().unwrap()
            );
        }
    }

    // the full report: the summary, then every case's diff
    let mut full = sum.clone();
    let _ = writeln!(
        full,
        "\n==== diffs ('-' only in Suricata, '+' only in ravn) ===="
    );
    for o in outcomes.iter().filter(|o| !o.equal()) {
        let _ = writeln!(
            full,
            "\n### {}/{}\n    pcap:  {}\n    rules: {}\n    loaded by ravn: {}, by Suricata: {} (failed {})",
            o.corpus,
            o.name,
            o.pcap,
            o.rule_files.join(" "),
            o.loaded,
            opt(o.suricata_loaded),
            opt(o.suricata_failed)
        );
        if let Some(e) = &o.error {
            let _ = writeln!(full, "ERROR: {e}");
        } else {
            full.push_str(&diff_text(o, usize::MAX));
        }
    }
    (sum, full)
}

// Issue 3's acceptance gate: every case equal (the full report goes to
// target/differential-report.txt).
#[test]
fn ravn_raises_the_alerts_suricata_raises() {
    let Some(shared) = shared_or_skip() else {
        return;
    };
    let shared = shared.canonicalize().unwrap();
    require_suricata();
    require_scapy();
    let t0 = Instant::now();
    let only = std::env::var("RAVN_DIFF_ONLY").unwrap_or_default();
    let jobs = workers_from_env("RAVN_DIFF_JOBS");
    let packets = env_u64("RAVN_DIFF_PACKETS", 30_000);
    let seeds: Vec<u64> = std::env::var("RAVN_DIFF_SEEDS")
        .unwrap_or_else(|_| "1,2,3".into())
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.trim().parse().expect("RAVN_DIFF_SEEDS: numbers"))
        .collect();
    let work = fresh_dir(&PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("differential"));

    // gen_traffic corpus: the captures, and ET Open + Snort community reduced once
    let gen_names: Vec<(u64, String)> = seeds
        .iter()
        .map(|s| (*s, format!("seed-{s}-{packets}")))
        .filter(|(_, n)| only.is_empty() || format!("gen-traffic/{n}").contains(&only))
        .collect();
    // (name, generator options): the rules' contents as they are, and mixed (filler between
    // contents, VLAN, the split segments out of order)
    let rule_traffic: Vec<(&str, &[&str])> = [
        ("et-open+community", &[][..]),
        ("et-open+community-mixed", &["--mixed"][..]),
    ]
    .into_iter()
    .filter(|(n, _)| only.is_empty() || format!("rule-traffic/{n}").contains(&only))
    .collect();
    let mut cases = Vec::new();
    if !gen_names.is_empty() || !rule_traffic.is_empty() {
        let et = shared.join("rulesets/et-open-2024-04-21");
        let mut files = files_with_ext(&et, "rules");
        files.push(shared.join("rulesets/snort-community/community.rules"));
        let loaded_file = work.join("et-open+community.loaded.rules");
        let count = ravn_loaded_rules(&shared, &files, &loaded_file)
            .unwrap_or_else(|e| panic!("reducing ET Open + community: {e}"));
        // sessions carrying each loaded rule's contents
        let dir = work.join("pcaps");
        std::fs::create_dir_all(&dir).unwrap();
        let made = run_parallel(jobs, rule_traffic, |(name, opts)| {
            let pcap = dir.join(format!("{name}-rule-traffic.pcap"));
            let mut args: Vec<&std::ffi::OsStr> = opts.iter().map(|o| o.as_ref()).collect();
            args.push(loaded_file.as_os_str());
            gen_pcap_from("gen_rule_traffic.py", &args, &pcap);
            (name, pcap)
        });
        for (name, pcap) in made {
            cases.push(Case {
                corpus: "rule-traffic",
                name: name.into(),
                pcap,
                rules: Rules::Loaded {
                    file: loaded_file.clone(),
                    count,
                },
                stream: &[],
                checksums: false,
            });
        }
        let gen_dir = work.join("pcaps");
        std::fs::create_dir_all(&gen_dir).unwrap();
        let made = run_parallel(jobs, gen_names.clone(), |(seed, name)| {
            let p = gen_dir.join(format!("{name}.pcap"));
            gen_traffic(&shared, &p, packets, seed).map(|_| (name, p))
        });
        for m in made {
            let (name, pcap) = m.unwrap_or_else(|e| panic!("{e}"));
            cases.push(Case {
                corpus: "gen-traffic",
                name,
                pcap,
                rules: Rules::Loaded {
                    file: loaded_file.clone(),
                    count,
                },
                stream: &[],
                checksums: false,
            });
        }
    }
    // scapy-generated captures with their own rules and settings
    struct Scapy {
        corpus: &'static str,
        name: &'static str,
        script: &'static str,
        args: &'static [&'static str],
        rules: &'static str,
        stream: &'static [(&'static str, &'static str)],
        checksums: bool,
    }
    const fn scapy(corpus: &'static str, name: &'static str, script: &'static str) -> Scapy {
        Scapy {
            corpus,
            name,
            script,
            args: &[],
            rules: "",
            stream: &[],
            checksums: false,
        }
    }
    let midstream = |name, stream| Scapy {
        rules: "midstream.rules",
        stream,
        ..scapy("stream", name, "gen_midstream_pcap.py")
    };
    let checksum = |name, args, checksums| Scapy {
        args,
        rules: "checksum.rules",
        checksums,
        ..scapy("checksum", name, "gen_checksum_pcap.py")
    };
    let scapy_cases = [
        Scapy {
            rules: "stream.rules",
            ..scapy("stream", "tcp-reassembly", "gen_stream_pcap.py")
        },
        midstream("no-pickup", &[]),
        midstream(
            "midstream",
            &[("midstream", "true"), ("async-oneside", "false")],
        ),
        midstream(
            "midstream-async",
            &[("midstream", "true"), ("async-oneside", "true")],
        ),
        midstream(
            "async",
            &[("midstream", "false"), ("async-oneside", "true")],
        ),
        checksum("bad-segments", &[], true),
        checksum("bad-segments-unchecked", &[], false),
        checksum("offload-101", &["--offload", "101"], true),
        checksum("offload-100", &["--offload", "100"], true),
        Scapy {
            rules: "frag.rules",
            ..scapy("defrag", "ip-fragments", "gen_frag_pcap.py")
        },
        Scapy {
            rules: "bytevars.rules",
            ..scapy("payload", "byte-variables", "gen_bytevars_pcap.py")
        },
        Scapy {
            rules: "tls.rules",
            ..scapy("stream", "tls-sessions", "gen_tls_pcap.py")
        },
    ];
    let mut generated = std::collections::BTreeSet::new();
    for c in scapy_cases {
        if !(only.is_empty() || format!("{}/{}", c.corpus, c.name).contains(&only)) {
            continue;
        }
        let dir = work.join("pcaps");
        std::fs::create_dir_all(&dir).unwrap();
        let stem = std::iter::once(c.script.trim_end_matches(".py"))
            .chain(c.args.iter().map(|a| a.trim_start_matches('-')))
            .collect::<Vec<_>>()
            .join("-");
        let pcap = dir.join(format!("{stem}.pcap"));
        if generated.insert(stem) {
            let args: Vec<&std::ffi::OsStr> = c.args.iter().map(|a| a.as_ref()).collect();
            gen_pcap_from(c.script, &args, &pcap);
        }
        cases.push(Case {
            corpus: c.corpus,
            name: c.name.into(),
            pcap,
            rules: Rules::Raw(vec![crate_root().join("tests/data").join(c.rules)]),
            stream: c.stream,
            checksums: c.checksums,
        });
    }
    cases.extend(
        conformance_cases(&shared)
            .into_iter()
            .filter(|c| only.is_empty() || format!("{}/{}", c.corpus, c.name).contains(&only)),
    );
    assert!(!cases.is_empty(), "no cases (RAVN_DIFF_ONLY={only:?})");

    let prepared = run_parallel(jobs, cases, |c| prepare(&shared, &work, c));
    // one run per distinct (capture, loaded rules); the other cases of a group copy its result
    // (and stream settings)
    let mut groups: BTreeMap<(PathBuf, String), Vec<usize>> = BTreeMap::new();
    let mut singles = Vec::new();
    for (i, p) in prepared.iter().enumerate() {
        match p.key() {
            Some(k) => groups.entry(k).or_default().push(i),
            None => singles.push(vec![i]),
        }
    }
    let mut runs: Vec<Vec<usize>> = groups.into_values().chain(singles).collect();
    runs.sort(); // job order: rule-traffic and gen-traffic first (the slow ones), then by name
    let results = run_parallel(jobs, runs.clone(), |g| run_case(&shared, &prepared[g[0]]));
    let mut slots: Vec<Option<Outcome>> = (0..prepared.len()).map(|_| None).collect();
    for (g, first) in runs.iter().zip(results) {
        for &i in &g[1..] {
            let mut o = prepared[i].outcome();
            let keep = (o.corpus, o.name.clone(), o.rule_files.clone());
            o = first.clone();
            (o.corpus, o.name, o.rule_files) = keep;
            o.same_as = Some(first.name.clone());
            o.secs = 0.0;
            slots[i] = Some(o);
        }
        slots[g[0]] = Some(first);
    }
    let outcomes: Vec<Outcome> = slots.into_iter().map(|o| o.unwrap()).collect();

    let setup = format!(
        "gen-traffic: seeds {seeds:?} x {packets} packets, ET Open 2024-04-21 + Snort community \
         (ravn-loaded subset); conformance: ../shared/conformance/suricata-verify/tests \
         (test rules + rules/heartbeat.rules, ravn-loaded subset); stream: \
         tests/data/gen_stream_pcap.py + stream.rules, tests/data/gen_midstream_pcap.py + \
         midstream.rules (plain, midstream, midstream+async, async); defrag: tests/data/gen_frag_pcap.py + \
         frag.rules; rule-traffic: tests/data/gen_rule_traffic.py over the gen-traffic rules; \
         payload: tests/data/gen_bytevars_pcap.py + bytevars.rules; stream also: \
         tests/data/gen_tls_pcap.py + tls.rules; checksum: \
         tests/data/gen_checksum_pcap.py (plain, --offload 101, --offload 100) + checksum.rules; \
         {jobs} jobs; \
         work files in {}",
        work.display()
    );
    let (summary, full) = report(&outcomes, &setup);
    let report_path = target_dir().join("differential-report.txt");
    std::fs::write(&report_path, &full)
        .unwrap_or_else(|e| panic!("{}: {e}", report_path.display()));
    println!("{summary}");
    for o in outcomes.iter().filter(|o| !o.equal()) {
        println!("\n### {}/{}", o.corpus, o.name);
        match &o.error {
            Some(e) => println!("ERROR: {e}"),
            None => print!("{}", diff_text(o, DIFF_LINES_SHOWN)),
        }
    }
    let differ = outcomes.iter().filter(|o| !o.equal()).count();
    println!(
        "\n{} cases, {} equal, {differ} different, in {:.1} s; full report: {}",
        outcomes.len(),
        outcomes.len() - differ,
        t0.elapsed().as_secs_f64(),
        report_path.display()
    );
    assert_eq!(
        differ,
        0,
        "{differ} of {} cases differ from Suricata; full report: {}",
        outcomes.len(),
        report_path.display()
    );
}
