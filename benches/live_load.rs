//! Load benchmark of the live paths: the highest packet rate that the TZSP listener and
//! AF_PACKET sustain with zero drops on this machine, and the drop rate just above it, with
//! the heartbeat rule and with ET Open. Needs root (network namespaces, veth) and tcpreplay:
//! `cargo bench --bench live_load` (or run the built binary as root).
//!
//! Corpus: `gen_traffic.py` from `../shared/tools` (`$RAVN_LIVE_BENCH_PACKETS`, default
//! 200 000 packets, seed 42), generated once into `<target>/bench/`. For TZSP every frame is
//! wrapped into a TZSP datagram addressed to the listener (`tests/tools/tzsp_wrap.py`).
//!
//! Method: ravn runs in namespace A (`capture.source` = tzsp or af-packet on the veth);
//! tcpreplay in namespace B sends `rate × $RAVN_LIVE_BENCH_SECS` (default 3) packets at
//! `--pps=rate`. A trial passes when the daemon decoded every packet sent and counted no
//! kernel or ring drop. The rate goes up ×1.5 from 10 000 pps until a trial fails (or
//! tcpreplay cannot reach the rate), then bisects four times. `RAVN_LIVE_BENCH_ONLY` =
//! `tzsp`, `af-packet`, `heartbeat` or `et-open` narrows the matrix.

#[path = "../tests/support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use support::live::{Daemon, NetPair};
use support::*;

struct Trial {
    sent: u64,
    decoded: u64,
    drops: u64,
    achieved_pps: f64,
}

fn counters(d: &Daemon) -> (u64, u64) {
    let s = d.stats();
    (
        s["decoder.pkts"],
        s["capture.kernel_drops"]
            + s["capture.ring_drops"]
            + s.get("capture.tzsp.oversize").copied().unwrap_or(0),
    )
}

fn trial(net: &NetPair, d: &Daemon, pcap: &Path, rate: u64, secs: u64, corpus_len: u64) -> Trial {
    let n = (rate * secs).max(5_000);
    let loops = n.div_ceil(corpus_len).max(1);
    let (p0, d0) = counters(d);
    let pcap_s = pcap.to_string_lossy().to_string();
    let t0 = Instant::now();
    let out = Command::new("ip")
        .args(["netns", "exec", &net.b, "tcpreplay", "--preload-pcap"])
        .arg(format!("--pps={rate}"))
        .arg(format!("--limit={n}"))
        .arg(format!("--loop={loops}"))
        .args(["-i", &net.if_b, &pcap_s])
        .output()
        .expect("tcpreplay");
    let elapsed = t0.elapsed().as_secs_f64();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let achieved = text
        .lines()
        .find(|l| l.contains("Rated:"))
        .and_then(|l| l.split(',').find(|p| p.contains("pps")))
        .and_then(|p| p.split_whitespace().next())
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(n as f64 / elapsed);
    // Let the pipeline drain.
    let mut last = (0, 0);
    for _ in 0..50 {
        std::thread::sleep(Duration::from_millis(200));
        let c = counters(d);
        if c == last {
            break;
        }
        last = c;
    }
    let (p1, d1) = last;
    Trial {
        sent: n,
        decoded: p1 - p0,
        drops: d1 - d0,
        achieved_pps: achieved,
    }
}

fn search(net: &NetPair, d: &Daemon, pcap: &Path, secs: u64, corpus_len: u64) -> String {
    let ok = |t: &Trial| t.drops == 0 && t.decoded >= t.sent;
    let mut good: Option<(u64, f64)> = None;
    let mut bad: Option<(u64, Trial)> = None;
    let mut rate = 10_000u64;
    loop {
        let t = trial(net, d, pcap, rate, secs, corpus_len);
        eprintln!(
            "  {rate:>8} pps asked, {:>9.0} sent/s: sent {}, decoded {}, drops {}",
            t.achieved_pps, t.sent, t.decoded, t.drops
        );
        if !ok(&t) {
            bad = Some((rate, t));
            break;
        }
        good = Some((rate, t.achieved_pps));
        if t.achieved_pps < rate as f64 * 0.9 {
            eprintln!("  tcpreplay tops out at {:.0} pps", t.achieved_pps);
            break;
        }
        rate = rate * 3 / 2;
    }
    if let (Some((mut lo, _)), Some((mut hi, _))) = (good, bad.as_ref().map(|(r, _)| (*r, ()))) {
        for _ in 0..4 {
            let mid = (lo + hi) / 2;
            let t = trial(net, d, pcap, mid, secs, corpus_len);
            eprintln!(
                "  {mid:>8} pps asked, {:>9.0} sent/s: sent {}, decoded {}, drops {}",
                t.achieved_pps, t.sent, t.decoded, t.drops
            );
            if ok(&t) {
                lo = mid;
                good = Some((mid, t.achieved_pps));
            } else {
                hi = mid;
                bad = Some((mid, t));
            }
        }
    }
    let g = good.map_or("none".to_string(), |(r, a)| {
        format!("{r} pps (sent at {a:.0}/s)")
    });
    let b = bad.map_or("not reached (sender limit)".to_string(), |(r, t)| {
        format!(
            "at {r} pps: {:.2} % dropped ({} of {})",
            100.0 * (t.sent.saturating_sub(t.decoded)) as f64 / t.sent as f64,
            t.sent.saturating_sub(t.decoded),
            t.sent
        )
    });
    format!("highest zero-drop rate {g}; above it {b}")
}

fn main() {
    if !support::live::is_root() {
        println!("SKIPPED: live_load needs root");
        return;
    }
    let Some(shared) = shared_or_skip() else {
        return;
    };
    require_tool("tcpreplay", "apt-get install tcpreplay");
    require_scapy();
    let packets = env_u64("RAVN_LIVE_BENCH_PACKETS", 200_000);
    let secs = env_u64("RAVN_LIVE_BENCH_SECS", 3);
    let only = std::env::var("RAVN_LIVE_BENCH_ONLY").unwrap_or_default();
    let bench = target_dir().join("bench");
    std::fs::create_dir_all(&bench).unwrap();
    let corpus = bench.join(format!("mixed-{packets}.pcap"));
    if !corpus.is_file() {
        gen_traffic(&shared, &corpus, packets, 42).unwrap_or_else(|e| panic!("{e}"));
    }
    // ET Open as ravn loads it (the same file the side-by-side benchmark gives Suricata).
    let et_dir = shared.join("rulesets/et-open-2024-04-21");
    let et_files: Vec<PathBuf> = std::fs::read_dir(&et_dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "rules"))
        .collect();
    let et_loaded = bench.join("et-open-loaded.rules");
    ravn_loaded_rules(&shared, &et_files, &et_loaded).unwrap_or_else(|e| panic!("{e}"));
    let rulesets: Vec<(&str, PathBuf)> = vec![
        ("heartbeat", crate_root().join("rules/heartbeat.rules")),
        ("et-open", et_loaded),
    ];
    let net = NetPair::new("bn").expect("namespaces");
    for (ns, ifc) in [(&net.a, &net.if_a), (&net.b, &net.if_b)] {
        net.exec_ok(ns, &["ip", "link", "set", ifc, "mtu", "9000"]);
    }
    let mac = net
        .exec_ok(
            &net.a,
            &["cat", &format!("/sys/class/net/{}/address", net.if_a)],
        )
        .trim()
        .to_string();
    let tzsp_pcap = bench.join(format!("mixed-{packets}-tzsp.pcap"));
    let out = Command::new("python3")
        .arg(crate_root().join("tests/tools/tzsp_wrap.py"))
        .args([&corpus, &tzsp_pcap])
        .args([&net.ip_b, &net.ip_a, &mac])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut report = Vec::new();
    for (path, pcap) in [("tzsp", &tzsp_pcap), ("af-packet", &corpus)] {
        if !only.is_empty() && only != path && rulesets.iter().all(|(r, _)| *r != only) {
            continue;
        }
        for (rname, rules) in &rulesets {
            if !only.is_empty() && only != path && only != *rname {
                continue;
            }
            eprintln!("== {path} with {rname}");
            let mut sets = vec![
                format!("capture.source={path}"),
                format!("capture.tzsp.listen={}:37008", net.ip_a),
                format!("capture.af-packet.interface={}", net.if_a),
                "capture.tzsp.rcvbuf=33554432".into(),
                "daemon.stats-interval=0".into(),
            ];
            sets.extend(ravn_sets(&shared).into_iter().filter(|s| s != "--set"));
            let dir = bench.join(format!("live-{path}-{rname}"));
            let mut d = Daemon::start(&net.a, &dir, rules, &sets, &[]);
            let r = search(&net, &d, pcap, secs, packets);
            let _ = d.stop();
            eprintln!("   {r}");
            report.push(format!("{path:<10} {rname:<10} {r}"));
        }
    }
    println!("live_load ({packets}-packet corpus, {secs} s trials, 2 shared vCPUs, sender in the same machine):");
    for l in report {
        println!("  {l}");
    }
}
