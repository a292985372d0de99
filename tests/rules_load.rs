//! Loads the reference rulesets in `../shared` and checks ravn's loader against them (and,
//! when `suricata` is installed, against Suricata 7.0.10 itself).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use ravn::rules::{self, check, Classifications, RuleFile, SkipKind, Vars};

fn shared() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared");
    if p.join("rulesets").is_dir() {
        Some(p)
    } else {
        eprintln!("../shared not present, skipping");
        None
    }
}

fn et_files(shared: &Path) -> Vec<PathBuf> {
    let dir = shared.join("rulesets/et-open-2024-04-21");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rules"))
        .collect();
    v.sort();
    v
}

fn classes(shared: &Path) -> Classifications {
    Classifications::load(&shared.join("rulesets/et-open-2024-04-21/classification.config"))
        .unwrap()
}

/// Lines Suricata would try to parse as rules: not blank, not starting with `#`, space or tab.
fn enabled_rules(path: &Path) -> usize {
    let data = std::fs::read(path).unwrap();
    let mut n = 0;
    let mut cont = false;
    for line in data.split(|&b| b == b'\n') {
        let first = line.first().copied();
        if !cont && matches!(first, None | Some(b'#' | b' ' | b'\t' | b'\r')) {
            continue;
        }
        let trimmed = line.trim_ascii_end();
        if trimmed.ends_with(b"\\") {
            cont = true;
            continue;
        }
        cont = false;
        n += 1;
    }
    n
}

fn load_all(paths: &[PathBuf], vars: &Vars, cl: &Classifications) -> Vec<RuleFile> {
    let refs: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
    rules::load_files(&refs, vars, Some(cl)).unwrap()
}

#[test]
fn et_open_loads() {
    let Some(shared) = shared() else { return };
    let paths = et_files(&shared);
    let vars = Vars::suricata_default();
    let cl = classes(&shared);
    let t = Instant::now();
    let files = load_all(&paths, &vars, &cl);
    let dt = t.elapsed();
    println!("{}", check::report(&files));
    println!("ET Open loaded in {dt:?} (debug build unless --release)");
    let enabled: usize = paths.iter().map(|p| enabled_rules(p)).sum();
    let loaded: usize = files.iter().map(|f| f.loaded.len()).sum();
    let skipped: usize = files.iter().map(|f| f.skipped.len()).sum();
    assert_eq!(enabled, 24_795, "enabled rules per shared/README.md");
    assert_eq!(loaded + skipped, enabled);
    // Suricata 7.0.10 loads every enabled ET Open rule: ravn must not call any invalid
    let invalid: Vec<_> = files
        .iter()
        .flat_map(|f| f.skipped.iter())
        .filter(|s| s.skip.kind == SkipKind::Invalid)
        .map(|s| format!("{}: {}", s.origin, s.skip.reason))
        .collect();
    assert!(invalid.is_empty(), "rules ravn calls invalid: {invalid:#?}");
    assert_eq!(
        (loaded, skipped),
        EXPECTED_ET,
        "ET Open loaded/skipped changed"
    );
}

/// Measured with this parser; update deliberately when support grows.
const EXPECTED_ET: (usize, usize) = (3_541, 21_254);
const EXPECTED_SNORT: (usize, usize) = (157, 388);

#[test]
fn snort_community_loads() {
    let Some(shared) = shared() else { return };
    let path = shared.join("rulesets/snort-community/community.rules");
    let vars = Vars::suricata_default();
    let cl = classes(&shared);
    let files = load_all(std::slice::from_ref(&path), &vars, &cl);
    println!("{}", check::report(&files));
    let f = &files[0];
    assert_eq!(f.total(), enabled_rules(&path));
    assert_eq!(f.total(), 545);
    assert_eq!(
        (f.loaded.len(), f.skipped.len()),
        EXPECTED_SNORT,
        "Snort community loaded/skipped changed"
    );
}

/// Run `suricata -T` on `rules` and return the line numbers it rejected (None: no suricata).
fn suricata_rejects(rules_text: &str, tag: &str) -> Option<Vec<usize>> {
    let shared = shared()?;
    let cfg = shared.join("reference/suricata-7.0.10/suricata-alertonly.yaml");
    if Command::new("suricata").arg("-V").output().is_err() {
        eprintln!("suricata not installed, skipping the differential check");
        return None;
    }
    let dir = std::env::temp_dir().join(format!("ravn-rules-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("t.rules");
    std::fs::write(&file, rules_text).unwrap();
    let out = Command::new("suricata")
        .arg("-T")
        .arg("-c")
        .arg(&cfg)
        // ravn's default HOME_NET (upstream suricata.yaml) instead of Debian's
        .arg("--set")
        .arg("vars.address-groups.HOME_NET=[192.168.0.0/16,10.0.0.0/8,172.16.0.0/12]")
        .arg("-S")
        .arg(&file)
        .arg("-l")
        .arg(&dir)
        .output()
        .unwrap();
    let log =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let _ = std::fs::remove_dir_all(&dir);
    let mut bad = Vec::new();
    for l in log.lines() {
        if let Some(p) = l.rfind(" at line ") {
            if l.contains("error parsing signature") {
                if let Ok(n) = l[p + 9..].trim().parse::<usize>() {
                    bad.push(n);
                }
            }
        }
    }
    Some(bad)
}

#[test]
fn loaded_rules_are_accepted_by_suricata() {
    let Some(shared) = shared() else { return };
    let vars = Vars::suricata_default();
    let cl = classes(&shared);
    // every rule ravn loads (flow, flowbits, pcre, byte_*, thresholds included)
    let mut sample: Vec<String> = Vec::new();
    for p in et_files(&shared) {
        let f = rules::load_file(&p, &vars, Some(&cl)).unwrap();
        sample.extend(f.loaded.iter().map(|r| r.text.clone()));
    }
    let snort = shared.join("rulesets/snort-community/community.rules");
    let f = rules::load_file(&snort, &vars, Some(&cl)).unwrap();
    sample.extend(f.loaded.iter().map(|r| r.text.clone()));
    let text = sample.join("\n") + "\n";
    let Some(bad) = suricata_rejects(&text, "loaded") else {
        return;
    };
    let bad: Vec<&String> = bad.iter().map(|&n| &sample[n - 1]).collect();
    assert!(
        bad.is_empty(),
        "ravn loads rules Suricata rejects: {bad:#?}"
    );
    println!("{} loaded rules checked against suricata -T", sample.len());
}

/// Load time of ET Open and what PCRE2 compilation costs in it (run with `--release`):
/// `cargo test --release --test rules_load load_time -- --ignored --nocapture`.
#[test]
#[ignore]
fn load_time() {
    let Some(shared) = shared() else { return };
    let paths = et_files(&shared);
    let vars = Vars::suricata_default();
    let cl = classes(&shared);
    let _ = load_all(&paths, &vars, &cl);
    let t = Instant::now();
    let files = load_all(&paths, &vars, &cl);
    let total = t.elapsed();
    let pcres: Vec<ravn::rules::ast::Pcre> = files
        .iter()
        .flat_map(|f| f.loaded.iter())
        .flat_map(|r| r.matches.iter())
        .filter_map(|m| match m {
            ravn::rules::ast::Match::Pcre(p) => Some(p.clone()),
            _ => None,
        })
        .collect();
    let t = Instant::now();
    for p in &pcres {
        rules::keywords::pcre::compile(p, false).unwrap();
    }
    let plain = t.elapsed();
    let t = Instant::now();
    for p in &pcres {
        rules::keywords::pcre::compile(p, true).unwrap();
    }
    let jit = t.elapsed();
    println!(
        "ET Open: {total:?} to load; its {} loaded pcre compile in {plain:?} without JIT, {jit:?} with JIT",
        pcres.len()
    );
}
