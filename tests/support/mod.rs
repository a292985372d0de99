//! Helpers shared by the differential test, the allocation test and the side-by-side
//! benchmark (`benches/side_by_side.rs` includes this file with `#[path]`).
//!
//! Everything here works relative to the crate root (`CARGO_MANIFEST_DIR`): the reference
//! material lives in `../shared`, which a user's fresh clone does not have.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub mod live;

/// The crate root.
pub fn crate_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `../shared`, or `None` after printing the SKIPPED line every test prints when it is absent.
pub fn shared_or_skip() -> Option<PathBuf> {
    let p = crate_root().join("../shared");
    if p.join("README.md").is_file() {
        Some(p)
    } else {
        println!("SKIPPED: ../shared not present");
        eprintln!("SKIPPED: ../shared not present");
        None
    }
}

/// Show a path under `../shared` or the crate as the user would type it from the crate root.
pub fn show(p: &Path) -> String {
    let canon = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
    let root = canon(&crate_root());
    let p = canon(p);
    if let Ok(rest) = p.strip_prefix(canon(&crate_root().join("../shared"))) {
        return format!("../shared/{}", rest.display());
    }
    if let Ok(rest) = p.strip_prefix(&root) {
        return rest.display().to_string();
    }
    p.display().to_string()
}

/// The cargo target directory of this build (respects `CARGO_TARGET_DIR`).
pub fn target_dir() -> PathBuf {
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().map(Path::to_path_buf).unwrap_or(tmp)
}

/// A fresh, empty directory.
pub fn fresh_dir(p: &Path) -> PathBuf {
    let _ = std::fs::remove_dir_all(p);
    std::fs::create_dir_all(p).unwrap_or_else(|e| panic!("create {}: {e}", p.display()));
    p.to_path_buf()
}

/// The ravn binary cargo built for this test or benchmark (release for `--release`/bench).
pub fn ravn_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_ravn"))
}

pub const SURICATA_HINT: &str = "install Suricata 7.0.10 from bookworm-backports: \
     echo 'deb http://deb.debian.org/debian bookworm-backports main' \
     > /etc/apt/sources.list.d/bookworm-backports.list && apt-get update && \
     apt-get install -y -t bookworm-backports suricata (or run tests/run-all.sh)";

pub const SCAPY_HINT: &str =
    "install scapy for the python3 on PATH: apt-get install -y python3-scapy, \
     or python3 -m pip install scapy (or run tests/run-all.sh)";

/// Panic with an install hint when Suricata is missing; warn when it is not 7.0.10.
pub fn require_suricata() {
    let out = Command::new("suricata").arg("-V").output();
    match out {
        Ok(o) if o.status.success() => {
            let v = String::from_utf8_lossy(&o.stdout);
            if !v.contains("7.0.10") {
                eprintln!(
                    "WARNING: the reference is Suricata 7.0.10, found: {}",
                    v.trim()
                );
            }
        }
        _ => panic!("suricata is not installed or does not run: {SURICATA_HINT}"),
    }
}

/// Panic with an install hint when python3 cannot import scapy (gen_traffic.py needs it).
pub fn require_scapy() {
    let ok = Command::new("python3")
        .args(["-c", "import scapy"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(ok, "python3 with scapy is required: {SCAPY_HINT}");
}

/// Panic with a hint when a command-line tool is missing.
pub fn require_tool(name: &str, hint: &str) {
    let ok = Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .stdout(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(ok, "{name} is required: {hint}");
}

/// Run `gen_traffic.py OUT N SEED` (deterministic corpus).
pub fn gen_traffic(shared: &Path, out: &Path, packets: u64, seed: u64) -> Result<(), String> {
    let o = Command::new("python3")
        .arg(shared.join("tools/gen_traffic.py"))
        .arg(out)
        .arg(packets.to_string())
        .arg(seed.to_string())
        .output()
        .map_err(|e| format!("python3: {e}"))?;
    if !o.status.success() {
        return Err(format!(
            "gen_traffic.py {} {packets} {seed} failed: {}{}",
            out.display(),
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ));
    }
    Ok(())
}

/// Write the tunnelled-traffic capture (`tests/data/gen_tunnel_pcap.py`, scapy) to `out`.
pub fn gen_tunnel_pcap(out: &Path) {
    gen_pcap("gen_tunnel_pcap.py", out);
}

/// Writes the capture of `tests/data/<script>` (scapy) to `out`.
pub fn gen_pcap(script: &str, out: &Path) {
    gen_pcap_from(script, &[], out)
}

/// Writes the capture of `tests/data/<script> ARGS... OUT` (scapy) to `out`.
pub fn gen_pcap_from(script: &str, args: &[&std::ffi::OsStr], out: &Path) {
    require_scapy();
    let o = Command::new("python3")
        .arg(crate_root().join("tests/data").join(script))
        .args(args)
        .arg(out)
        .output()
        .unwrap_or_else(|e| panic!("python3: {e}"));
    assert!(
        o.status.success(),
        "{script} {} failed: {}{}",
        out.display(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Suricata's classification.config from the reference material (the one suricata-alerts
/// gives Suricata); ravn gets the same file so priorities, and so the alert order and the
/// per-packet alert limit, agree.
pub fn reference_classification(shared: &Path) -> PathBuf {
    shared.join("reference/suricata-7.0.10/classification.config")
}

pub fn reference_config(shared: &Path) -> PathBuf {
    shared.join("reference/suricata-7.0.10/reference.config")
}

/// Suricata 7.0.10 reading `pcap` with `rules` into `out` as the reference runs it: the
/// alert-only config, UTC, `-k none`, and the reference classification/reference configs.
/// Callers add their own options.
pub fn suricata_replay(shared: &Path, pcap: &Path, rules: &Path, out: &Path) -> Command {
    let mut cmd = suricata_checking_checksums(shared, pcap, rules, out);
    cmd.args(["-k", "none"]);
    cmd
}

/// `suricata_replay` without `-k none`: Suricata checks checksums as it does by default
/// (`pcap-file.checksum-checks: auto`, `stream.checksum-validation: yes`).
pub fn suricata_checking_checksums(
    shared: &Path,
    pcap: &Path,
    rules: &Path,
    out: &Path,
) -> Command {
    let mut cmd = Command::new("suricata");
    cmd.env("TZ", "UTC")
        .arg("-c")
        .arg(shared.join("reference/suricata-7.0.10/suricata-alertonly.yaml"))
        .arg("-r")
        .arg(pcap)
        .arg("-S")
        .arg(rules)
        .arg("-l")
        .arg(out)
        .arg("--set")
        .arg(format!(
            "classification-file={}",
            reference_classification(shared).display()
        ))
        .arg("--set")
        .arg(format!(
            "reference-config-file={}",
            reference_config(shared).display()
        ));
    cmd
}

/// `ravn replay` of `pcap` with `rules` into `out`, in UTC. Callers add their own options.
pub fn ravn_replay_plain(pcap: &Path, rules: &Path, out: &Path) -> Command {
    let mut cmd = Command::new(ravn_bin());
    cmd.env("TZ", "UTC")
        .args(["replay", "-r"])
        .arg(pcap)
        .arg("-S")
        .arg(rules)
        .arg("-l")
        .arg(out);
    cmd
}

/// `ravn_replay_plain` with `ravn_sets` (the reference classification and reference files).
pub fn ravn_replay(shared: &Path, pcap: &Path, rules: &Path, out: &Path) -> Command {
    let mut cmd = ravn_replay_plain(pcap, rules, out);
    cmd.args(ravn_sets(shared));
    cmd
}

/// Runs `cmd` and panics with its stderr when it fails (`what` names it).
pub fn run_ok(mut cmd: Command, what: &str) {
    let o = cmd.output().unwrap_or_else(|e| panic!("run {what}: {e}"));
    assert!(
        o.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The `--set` arguments every ravn run in these tests gets: fresh (truncated) outputs,
/// Suricata's reference classification/reference configs, and no stream checksum
/// validation (the reference runs of Suricata all have `-k none`, which is that).
pub fn ravn_sets(shared: &Path) -> Vec<String> {
    vec![
        "--set".into(),
        "outputs.append=false".into(),
        "--set".into(),
        "stream.checksum-validation=false".into(),
        "--set".into(),
        format!(
            "rules.classification-file={}",
            reference_classification(shared).display()
        ),
        "--set".into(),
        format!(
            "rules.reference-config-file={}",
            reference_config(shared).display()
        ),
    ]
}

/// `ravn rules check FILES... --write-loaded OUT`: exactly the rules ravn loads, verbatim.
/// Returns the number of rules written.
pub fn ravn_loaded_rules(shared: &Path, files: &[PathBuf], out: &Path) -> Result<usize, String> {
    let o = Command::new(ravn_bin())
        .args(["rules", "check"])
        .args(files)
        .arg("--write-loaded")
        .arg(out)
        .args(ravn_sets(shared))
        .output()
        .map_err(|e| format!("ravn: {e}"))?;
    if !o.status.success() {
        return Err(format!(
            "ravn rules check failed ({}): {}",
            o.status,
            String::from_utf8_lossy(&o.stderr)
        ));
    }
    let text = std::fs::read_to_string(out).map_err(|e| format!("{}: {e}", out.display()))?;
    Ok(text
        .lines()
        .filter(|l| {
            let t = l.trim_start();
            !t.is_empty() && !t.starts_with('#')
        })
        .count())
}

/// Python's `str()` of a JSON value, as suricata-alerts' `%s` prints it.
fn py_str(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "None".into(),
        serde_json::Value::Bool(true) => "True".into(),
        serde_json::Value::Bool(false) => "False".into(),
        other => other.to_string(),
    }
}

/// One EVE alert event normalised exactly as `../shared/tools/suricata-alerts` does:
/// `gid:sid:rev pcap_cnt=N PROTO src:sport -> dst:dport`, where ICMP alerts put type and
/// code in the port slots and a missing field prints `-`.
pub fn normalise_alert(e: &serde_json::Value) -> String {
    let a = &e["alert"];
    let int = |k: &str| {
        a.get(k)
            .and_then(|v| v.as_i64())
            .unwrap_or_else(|| panic!("alert without integer {k}: {e}"))
    };
    let get = |k: &str| e.get(k).map(py_str);
    let or = |k: &str, alt: &str| get(k).or_else(|| get(alt)).unwrap_or_else(|| "-".into());
    format!(
        "{}:{}:{} pcap_cnt={} {} {}:{} -> {}:{}",
        int("gid"),
        int("signature_id"),
        int("rev"),
        get("pcap_cnt").unwrap_or_else(|| "-".into()),
        get("proto").unwrap_or_else(|| "-".into()),
        get("src_ip").unwrap_or_else(|| "-".into()),
        or("src_port", "icmp_type"),
        get("dest_ip").unwrap_or_else(|| "-".into()),
        or("dest_port", "icmp_code"),
    )
}

/// What an eve.json holds: the normalised alerts (sorted) and the last stats event.
#[derive(Debug, Default, Clone)]
pub struct EveSummary {
    pub alerts: Vec<String>,
    pub stats: Option<serde_json::Value>,
}

pub fn read_eve(path: &Path) -> Result<EveSummary, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut s = EveSummary::default();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let e: serde_json::Value = serde_json::from_str(line)
            .map_err(|err| format!("{}:{}: invalid JSON: {err}", path.display(), n + 1))?;
        match e.get("event_type").and_then(|t| t.as_str()) {
            Some("alert") => s.alerts.push(normalise_alert(&e)),
            Some("stats") => s.stats = Some(e["stats"].clone()),
            _ => {}
        }
    }
    s.alerts.sort();
    Ok(s)
}

/// A diff of two sorted alert lists (as multisets): lines only in `a` and only in `b`.
pub fn sorted_diff(a: &[String], b: &[String]) -> (Vec<String>, Vec<String>) {
    let (mut i, mut j) = (0, 0);
    let (mut only_a, mut only_b) = (Vec::new(), Vec::new());
    while i < a.len() || j < b.len() {
        match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) if x == y => {
                i += 1;
                j += 1;
            }
            (Some(x), Some(y)) if x < y => {
                only_a.push(x.clone());
                i += 1;
            }
            (Some(_), Some(y)) => {
                only_b.push(y.clone());
                j += 1;
            }
            (Some(x), None) => {
                only_a.push(x.clone());
                i += 1;
            }
            (None, Some(y)) => {
                only_b.push(y.clone());
                j += 1;
            }
            (None, None) => break,
        }
    }
    (only_a, only_b)
}

/// Run jobs on `workers` threads, results in job order.
pub fn run_parallel<T: Send, R: Send>(
    workers: usize,
    jobs: Vec<T>,
    f: impl Fn(T) -> R + Sync,
) -> Vec<R> {
    use std::sync::Mutex;
    let n = jobs.len();
    let queue: Mutex<std::vec::IntoIter<(usize, T)>> =
        Mutex::new(jobs.into_iter().enumerate().collect::<Vec<_>>().into_iter());
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..n).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..workers.max(1) {
            s.spawn(|| loop {
                let next = queue.lock().unwrap().next();
                let Some((i, job)) = next else { break };
                let r = f(job);
                results.lock().unwrap()[i] = Some(r);
            });
        }
    });
    results
        .into_inner()
        .unwrap()
        .into_iter()
        .map(|r| r.expect("job finished"))
        .collect()
}

/// Worker count: `env` if set, else the available CPUs.
pub fn workers_from_env(env: &str) -> usize {
    std::env::var(env)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2)
        })
}

/// A number from the environment, or the default.
pub fn env_u64(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .replace('_', "")
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v} is not a number")),
        Err(_) => default,
    }
}
