//! ravn and Suricata 7.0.10 side by side on the same capture and the same rules, each pinned
//! to one CPU: `cargo bench --bench side_by_side`.
//!
//! Corpus: `$RAVN_BENCH_PCAP`, else `gen_traffic.py mixed-1m.pcap 1000000 42` generated once
//! into `<target>/bench/` (its sha256 is checked against the reference corpus). For a quick run,
//! `RAVN_BENCH_PACKETS=100000` generates (and reuses) a smaller capture with the same seed.
//!
//! Scenarios: (a) `rules/heartbeat.rules`; (b) the ET Open 2024-04-21 rules ravn loads
//! (`ravn rules check --write-loaded`), the same file given to Suricata.
//! `RAVN_BENCH_ONLY=heartbeat|et-open` runs one of them.
//!
//! Each run is `/usr/bin/time -f "%e %M" taskset -c $RAVN_BENCH_CPU (default 1) ...`:
//! ravn (built with the bench profile) `-v replay` without stream checksum validation
//! (`stream.checksum-validation=false`, from `ravn_sets`, as `-k none`), Suricata
//! `--runmode single -k none` with
//! the alert-only config and the classification/reference configs suricata-alerts uses.
//! `RAVN_BENCH_RUNS` runs (default 3) per tool and scenario, medians reported.
//!
//! Page cache: before the runs the corpus is evicted and read back by one untimed ravn run
//! (`settle_page_cache`), so that every bench reads it cached in the same way (2 MiB folios
//! where the kernel makes them), not as whatever wrote or last read it left it.
//!
//! Both tools are timed alike: packet processing is the span each reports itself, and
//! everything else in the wall time is start-up.
//! - Suricata: the `time elapsed X s` it logs to suricata.log at exit. That clock starts
//!   right after the detection engine is built (`SCSetStartTime` follows
//!   `PostConfLoadedDetectSetup` in `SuricataMain`) and stops once the packet threads are
//!   done. (The log's own timestamps have one-second resolution, too coarse for this.)
//! - ravn: the `processing X s` of its `-v` summary, from the built engine to the end of
//!   the capture's last flush (opening the capture and the outputs included).
//!
//! Rule load = wall − processing: start-up, reading and parsing the rules, building the
//! detection engine, and the final teardown. Throughput = packets / processing; Mbit/s =
//! captured packet bytes × 8 / the same time (the bytes are summed from the capture, the
//! same number for both tools). ravn's own `rules loaded ... in X s` (parsing alone) is
//! printed beside it.

#[path = "../tests/support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use support::*;

const REFERENCE_SHA256: &str = "4c5ac3ef82b70916e968ab2eb33415746e71cd1fd5212d3b394918d6c3c596f0";
const REFERENCE_PACKETS: u64 = 1_000_000;

#[derive(Debug, Clone, Default)]
struct Run {
    wall: f64,
    rss_kib: u64,
    /// Packet processing as the tool reports it.
    process: f64,
    /// Wall − processing.
    load: f64,
    /// ravn only: reading and parsing the rules.
    parse: f64,
    packets: u64,
    alerts: u64,
    rules_loaded: u64,
}

struct Corpus {
    path: PathBuf,
    packets: u64,
    bytes: u64,
}

fn fail(msg: impl std::fmt::Display) -> ! {
    eprintln!("side_by_side: {msg}");
    std::process::exit(1);
}

/// Sum the captured bytes and count packets with ravn's reader (also warms the page cache).
fn measure_corpus(path: &Path) -> Corpus {
    let mut src = ravn::capture::open(path).unwrap_or_else(|e| fail(e));
    let (mut packets, mut bytes) = (0u64, 0u64);
    while let Some(f) = src.next_frame().unwrap_or_else(|e| fail(e)) {
        packets += 1;
        bytes += f.data.len() as u64;
    }
    Corpus {
        path: path.to_path_buf(),
        packets,
        bytes,
    }
}

/// The 1-minute load average, and a warning when other work competes for the CPUs.
fn check_load(cpus: usize, when: &str) -> f64 {
    let load: f64 = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0.0);
    // one CPU is ours; more than that busy means contention (the pinned CPU may be shared)
    if load > cpus as f64 - 0.5 {
        println!(
            "WARNING: load average {load:.2} on {cpus} CPUs {when}: other work competes for the \
             CPUs, so timings are pessimistic and noisy"
        );
    }
    load
}

fn sha256(path: &Path) -> Option<String> {
    let o = Command::new("sha256sum").arg(path).output().ok()?;
    let s = String::from_utf8_lossy(&o.stdout);
    s.split_whitespace().next().map(str::to_string)
}

fn corpus(shared: &Path, bench_dir: &Path) -> PathBuf {
    if let Some(p) = std::env::var_os("RAVN_BENCH_PCAP") {
        let p = PathBuf::from(p);
        if !p.is_file() {
            fail(format!("RAVN_BENCH_PCAP={} does not exist", p.display()));
        }
        return p;
    }
    let n = env_u64("RAVN_BENCH_PACKETS", REFERENCE_PACKETS);
    let name = if n == REFERENCE_PACKETS {
        "mixed-1m.pcap".to_string()
    } else {
        format!("mixed-{n}.pcap")
    };
    let path = bench_dir.join(&name);
    if !path.is_file() {
        require_scapy();
        println!(
            "generating {} (gen_traffic.py {name} {n} 42) ...",
            path.display()
        );
        let part = bench_dir.join(format!("{name}.part"));
        gen_traffic(shared, &part, n, 42).unwrap_or_else(|e| fail(e));
        std::fs::rename(&part, &path).unwrap_or_else(|e| fail(e));
    }
    if n == REFERENCE_PACKETS {
        match sha256(&path) {
            Some(h) if h == REFERENCE_SHA256 => println!("{}: sha256 ok", path.display()),
            Some(h) => println!(
                "WARNING: {} has sha256 {h}, not the reference corpus's {REFERENCE_SHA256}; \
                 numbers are not comparable with the reference figures",
                path.display()
            ),
            None => println!(
                "WARNING: could not compute the sha256 of {}",
                path.display()
            ),
        }
    }
    path
}

fn read_time(path: &Path) -> (f64, u64) {
    let t =
        std::fs::read_to_string(path).unwrap_or_else(|e| fail(format!("{}: {e}", path.display())));
    // the last line is "%e %M" (earlier lines may be "Command exited with non-zero status")
    let last = t.lines().last().unwrap_or("");
    let mut it = last.split_whitespace();
    let wall = it.next().and_then(|v| v.parse().ok());
    let rss = it.next().and_then(|v| v.parse().ok());
    match (wall, rss) {
        (Some(w), Some(r)) => (w, r),
        _ => fail(format!(
            "{}: unexpected /usr/bin/time output {t:?}",
            path.display()
        )),
    }
}

/// The last number before `suffix` in `line` (e.g. 218 for " rules loaded" in
/// "218 rules loaded, ...").
fn number_before(line: &str, suffix: &str) -> Option<f64> {
    let i = line.find(suffix)?;
    line[..i].split_whitespace().last()?.parse().ok()
}

/// Puts the corpus in the page cache in one reproducible state, whatever wrote or read
/// it before (a freshly generated file is cached as its writer left it, in small folios;
/// the sha256 check reads it through small readahead windows): written back, evicted
/// (`POSIX_FADV_DONTNEED`), then read cold by one untimed ravn run, whose map asks for
/// 2 MiB folios (`MADV_HUGEPAGE`, taken where the kernel and file system support large
/// folios). Both tools then read the same cached pages. Suricata's `read` copies them
/// whatever their folio size (its time is the same either way, within the noise); ravn's
/// map takes one page-table entry per 2 MiB folio rather than 512. Returns the MiB of file
/// pages the kernel holds in 2 MiB folios (`FileHugePages`), 0 where it has none.
fn settle_page_cache(shared: &Path, cpu: &str, pcap: &Path, bench_dir: &Path) -> u64 {
    use std::os::fd::AsRawFd;
    let f = std::fs::File::open(pcap).unwrap_or_else(|e| fail(format!("{}: {e}", pcap.display())));
    f.sync_all()
        .unwrap_or_else(|e| fail(format!("{}: fsync: {e}", pcap.display())));
    // SAFETY: advice on a file descriptor we hold open; it only drops clean cached pages.
    let rc = unsafe { libc::posix_fadvise(f.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
    if rc != 0 {
        println!("WARNING: posix_fadvise(DONTNEED) failed ({rc}): the page cache is as found");
    }
    run_ravn(
        shared,
        cpu,
        pcap,
        &crate_root().join("rules/heartbeat.rules"),
        &bench_dir.join("out/warm-up"),
    );
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("FileHugePages:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        })
        .map_or(0, |kib| kib / 1024)
}

fn run_ravn(shared: &Path, cpu: &str, pcap: &Path, rules: &Path, out: &Path) -> Run {
    let out = fresh_dir(out);
    let timef = out.join("time.txt");
    let o = Command::new("/usr/bin/time")
        .args(["-f", "%e %M", "-o"])
        .arg(&timef)
        .args(["taskset", "-c", cpu])
        .arg(ravn_bin())
        .args(["-v", "replay", "-r"])
        .arg(pcap)
        .arg("-S")
        .arg(rules)
        .arg("-l")
        .arg(&out)
        .args(ravn_sets(shared))
        .output()
        .unwrap_or_else(|e| fail(format!("running ravn: {e}")));
    let stderr = String::from_utf8_lossy(&o.stderr);
    if !o.status.success() {
        fail(format!("ravn failed ({}): {stderr}", o.status));
    }
    let (wall, rss_kib) = read_time(&timef);
    let mut r = Run {
        wall,
        rss_kib,
        ..Default::default()
    };
    // "218 rules loaded, 0 skipped, in 0.003 s"
    // "1000000 packets, 12 alerts, 218 rules loaded (0 skipped) in 0.003 s, processing
    //  3.0 s, run 3.1 s"
    let mut seen = (false, false);
    for l in stderr.lines() {
        let l = l.split_once("] ").map_or(l, |(_, m)| m);
        if l.contains(" rules loaded, ") && l.contains(" skipped, in ") {
            r.parse = l
                .rsplit_once(" in ")
                .and_then(|(_, t)| t.split_whitespace().next())
                .and_then(|t| t.parse().ok())
                .unwrap_or(0.0);
            r.rules_loaded = number_before(l, " rules loaded").unwrap_or(0.0) as u64;
            seen.0 = true;
        }
        if l.contains(" packets, ") && l.contains(" alerts, ") {
            r.packets = number_before(l, " packets,").unwrap_or(0.0) as u64;
            r.alerts = number_before(l, " alerts,").unwrap_or(0.0) as u64;
            let processing = l
                .split_once(", processing ")
                .and_then(|(_, t)| t.split_whitespace().next())
                .and_then(|t| t.parse::<f64>().ok());
            r.process = processing.unwrap_or(0.0);
            r.load = (wall - r.process).max(0.0);
            seen.1 = processing.is_some();
        }
    }
    if !(seen.0 && seen.1) {
        fail(format!(
            "ravn's -v summary lines not found in its stderr:\n{stderr}"
        ));
    }
    r
}

fn run_suricata(shared: &Path, cpu: &str, pcap: &Path, rules: &Path, out: &Path) -> Run {
    let out = fresh_dir(out);
    let timef = out.join("time.txt");
    let refdir = shared.join("reference/suricata-7.0.10");
    let o = Command::new("/usr/bin/time")
        .args(["-f", "%e %M", "-o"])
        .arg(&timef)
        .args(["taskset", "-c", cpu, "suricata", "-c"])
        .arg(refdir.join("suricata-alertonly.yaml"))
        .arg("-r")
        .arg(pcap)
        .arg("-S")
        .arg(rules)
        .arg("-l")
        .arg(&out)
        .args(["-k", "none", "--runmode", "single"])
        .args([
            "--set",
            "vars.address-groups.HOME_NET=[192.168.0.0/16,10.0.0.0/8,172.16.0.0/12]",
        ])
        .arg("--set")
        .arg(format!(
            "classification-file={}",
            refdir.join("classification.config").display()
        ))
        .arg("--set")
        .arg(format!(
            "reference-config-file={}",
            refdir.join("reference.config").display()
        ))
        .output()
        .unwrap_or_else(|e| fail(format!("running suricata: {e}")));
    if !o.status.success() {
        fail(format!(
            "suricata failed ({}): {}",
            o.status,
            String::from_utf8_lossy(&o.stderr)
        ));
    }
    let (wall, rss_kib) = read_time(&timef);
    let log = std::fs::read_to_string(out.join("suricata.log")).unwrap_or_default();
    // "... Info: suricata: time elapsed 4.273s" (the last one)
    let elapsed = log
        .lines()
        .rev()
        .filter_map(|l| l.split_once("time elapsed ").map(|(_, v)| v))
        .find_map(|v| v.trim().trim_end_matches('s').parse::<f64>().ok())
        .unwrap_or_else(|| {
            fail(format!(
                "no 'time elapsed' in {}/suricata.log",
                out.display()
            ))
        });
    let eve = read_eve(&out.join("eve.json")).unwrap_or_else(|e| fail(e));
    let stats = eve.stats.unwrap_or_default();
    Run {
        wall,
        rss_kib,
        process: elapsed,
        load: (wall - elapsed).max(0.0),
        parse: 0.0,
        packets: stats["decoder"]["pkts"].as_u64().unwrap_or(0),
        alerts: eve.alerts.len() as u64,
        rules_loaded: stats["detect"]["engines"][0]["rules_loaded"]
            .as_u64()
            .unwrap_or(0),
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = v.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Medians of one tool's runs.
#[derive(Debug, Clone, Copy)]
struct Summary {
    pps: f64,
    mbps: f64,
    rss_mib: f64,
    load: f64,
    parse: f64,
    wall: f64,
    alerts: f64,
    packets: f64,
    rules: f64,
}

fn summarise(runs: &[Run], bytes: u64) -> Summary {
    let proc_time = |r: &Run| r.process.max(1e-3);
    Summary {
        pps: median(
            runs.iter()
                .map(|r| r.packets as f64 / proc_time(r))
                .collect(),
        ),
        mbps: median(
            runs.iter()
                .map(|r| bytes as f64 * 8.0 / proc_time(r) / 1e6)
                .collect(),
        ),
        rss_mib: median(runs.iter().map(|r| r.rss_kib as f64 / 1024.0).collect()),
        load: median(runs.iter().map(|r| r.load).collect()),
        parse: median(runs.iter().map(|r| r.parse).collect()),
        wall: median(runs.iter().map(|r| r.wall).collect()),
        alerts: median(runs.iter().map(|r| r.alerts as f64).collect()),
        packets: median(runs.iter().map(|r| r.packets as f64).collect()),
        rules: median(runs.iter().map(|r| r.rules_loaded as f64).collect()),
    }
}

fn main() -> ExitCode {
    let Some(shared) = shared_or_skip() else {
        return ExitCode::SUCCESS;
    };
    let shared = shared.canonicalize().unwrap();
    require_suricata();
    require_tool("taskset", "apt-get install -y util-linux");
    require_tool("/usr/bin/time", "apt-get install -y time");
    let runs_n = env_u64("RAVN_BENCH_RUNS", 3).max(1) as usize;
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let cpu = std::env::var("RAVN_BENCH_CPU").unwrap_or_else(|_| {
        if cpus > 1 {
            "1".into()
        } else {
            "0".into()
        }
    });
    let only = std::env::var("RAVN_BENCH_ONLY").unwrap_or_default();

    let bench_dir = target_dir().join("bench");
    std::fs::create_dir_all(&bench_dir).unwrap();
    let pcap = corpus(&shared, &bench_dir);
    let c = measure_corpus(&pcap);
    println!(
        "corpus {}: {} packets, {} captured bytes ({:.1} MB file)",
        show(&c.path),
        c.packets,
        c.bytes,
        std::fs::metadata(&c.path).map_or(0.0, |m| m.len() as f64 / 1e6)
    );

    let huge = settle_page_cache(&shared, &cpu, &c.path, &bench_dir);
    println!(
        "page cache: the corpus evicted and read back once by an untimed ravn run \
         (the kernel now holds {huge} MiB of file pages in 2 MiB folios); both tools read it \
         from there"
    );

    let mut scenarios: Vec<(&str, PathBuf)> = Vec::new();
    if only.is_empty() || "heartbeat".contains(&only) {
        scenarios.push(("heartbeat", crate_root().join("rules/heartbeat.rules")));
    }
    if only.is_empty() || "et-open".contains(&only) {
        let et = shared.join("rulesets/et-open-2024-04-21");
        let mut files: Vec<PathBuf> = std::fs::read_dir(&et)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "rules"))
            .collect();
        files.sort();
        let loaded = bench_dir.join("et-open.loaded.rules");
        let n = ravn_loaded_rules(&shared, &files, &loaded).unwrap_or_else(|e| fail(e));
        println!(
            "ET Open 2024-04-21: ravn loads {n} rules -> {}",
            loaded.display()
        );
        scenarios.push(("et-open", loaded));
    }

    let mut table = Vec::new();
    let mut loads = vec![check_load(cpus, "before the runs")];
    for (name, rules) in &scenarios {
        let (mut rv, mut sv) = (Vec::new(), Vec::new());
        for i in 0..runs_n {
            let r = run_ravn(
                &shared,
                &cpu,
                &c.path,
                rules,
                &bench_dir.join(format!("out/{name}-ravn")),
            );
            println!(
                "{name} run {}/{runs_n} ravn:     wall {:>7.2} s, processing {:>7.3} s, load {:>6.3} s (parse {:.3} s), rss {:>6.1} MiB, {} pkts, {} alerts",
                i + 1,
                r.wall,
                r.process,
                r.load,
                r.parse,
                r.rss_kib as f64 / 1024.0,
                r.packets,
                r.alerts
            );
            rv.push(r);
            let s = run_suricata(
                &shared,
                &cpu,
                &c.path,
                rules,
                &bench_dir.join(format!("out/{name}-suricata")),
            );
            println!(
                "{name} run {}/{runs_n} suricata: wall {:>7.2} s, processing {:>7.3} s, load {:>6.3} s, rss {:>6.1} MiB, {} pkts, {} alerts",
                i + 1,
                s.wall,
                s.process,
                s.load,
                s.rss_kib as f64 / 1024.0,
                s.packets,
                s.alerts
            );
            sv.push(s);
        }
        loads.push(check_load(cpus, &format!("after the {name} runs")));
        // alert sets of the last runs, normalised as suricata-alerts does
        let ra = read_eve(&bench_dir.join(format!("out/{name}-ravn/eve.json")))
            .map(|e| e.alerts)
            .unwrap_or_default();
        let sa = read_eve(&bench_dir.join(format!("out/{name}-suricata/eve.json")))
            .map(|e| e.alerts)
            .unwrap_or_default();
        let (only_r, only_s) = sorted_diff(&ra, &sa);
        table.push((
            *name,
            summarise(&rv, c.bytes),
            summarise(&sv, c.bytes),
            only_r.len(),
            only_s.len(),
        ));
    }

    println!(
        "\nside by side: {} ({} packets), pinned to CPU {cpu}, medians of {runs_n} runs; \
         load average {}",
        show(&c.path),
        c.packets,
        loads
            .iter()
            .map(|l| format!("{l:.2}"))
            .collect::<Vec<_>>()
            .join(" / ")
    );
    println!(
        "{:<10} {:<14} {:>12} {:>12} {:>10}",
        "scenario", "metric", "ravn", "suricata", "ravn/suri"
    );
    for (name, r, s, only_r, only_s) in &table {
        let rows: [(&str, f64, f64, usize); 9] = [
            ("rules loaded", r.rules, s.rules, 0),
            ("pkts/s", r.pps, s.pps, 0),
            ("Mbit/s", r.mbps, s.mbps, 0),
            ("peak RSS MiB", r.rss_mib, s.rss_mib, 1),
            ("rule load s", r.load, s.load, 3),
            ("(parse s)", r.parse, f64::NAN, 3),
            ("wall s", r.wall, s.wall, 2),
            ("packets", r.packets, s.packets, 0),
            ("alerts", r.alerts, s.alerts, 0),
        ];
        for (metric, a, b, prec) in rows {
            let ratio = if b > 0.0 {
                format!("{:.2}", a / b)
            } else if a == 0.0 {
                "=".into()
            } else {
                "-".into()
            };
            println!(
                "{:<10} {:<14} {:>12} {:>12} {:>10}",
                name,
                metric,
                fmt_num(a, prec),
                fmt_num(b, prec),
                ratio
            );
        }
        let equal = r.alerts == s.alerts;
        println!(
            "{:<10} alert counts {}; alert sets (last run): {}",
            name,
            if equal { "EQUAL" } else { "DIFFERENT" },
            if *only_r == 0 && *only_s == 0 {
                "equal".to_string()
            } else {
                format!("{only_r} only in ravn, {only_s} only in Suricata")
            }
        );
    }
    println!(
        "(pkts/s and Mbit/s over each tool's own packet-processing time: Suricata's logged \
         'time elapsed', ravn's 'processing'; rule load = wall − that (start-up, rules, \
         engine build, teardown); parse = ravn reading and parsing the rules; peak RSS is /usr/bin/time's maximum resident set (ravn maps the capture \
         and lets go of each 2 MiB read, Suricata reads it through libpcap's buffer); reference Suricata \
         figures on this machine: heartbeat 234 k pkts/s, ET Open 138 k pkts/s, rule load \
         22 s, RSS 514 MiB)"
    );
    ExitCode::SUCCESS
}

/// Thousands separators for big numbers, fixed decimals for small ones.
fn fmt_num(v: f64, prec: usize) -> String {
    if v.is_nan() {
        return "?".into();
    }
    if prec > 0 {
        return format!("{v:.prec$}");
    }
    let n = v.round() as i64;
    let s = n.abs().to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}
