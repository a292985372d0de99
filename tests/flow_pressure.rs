//! A flow table under pressure: a SYN flood in a capture keeps resident memory flat, the
//! flows taken over are counted (`flow.get_used`, as Suricata names it), and the pings
//! among the flood still alert.

#[path = "support/gen_pcap.rs"]
mod gen_pcap;
mod support;

use std::path::Path;
use std::process::{Command, Stdio};

struct Run {
    peak_rss_kib: i64,
    flow: serde_json::Value,
    alerts: usize,
}

/// `ravn replay` of `pcap` with the heartbeat rule, `extra` rules and `max_flows` flow
/// slots, its peak resident memory taken from the kernel's accounting of that one child
/// (wait4).
fn replay(pcap: &Path, extra: &Path, out: &Path, max_flows: u32) -> Run {
    // reaped by wait4 below, which std's wait would not report the rusage of
    #[allow(clippy::zombie_processes)]
    let child = Command::new(support::ravn_bin())
        .args(["replay", "-r"])
        .arg(pcap)
        .arg("-S")
        .arg(support::crate_root().join("rules/heartbeat.rules"))
        .arg("-S")
        .arg(extra)
        .arg("-l")
        .arg(out)
        .args(["--set", "outputs.append=false", "--set"])
        .arg(format!("flow.max-flows={max_flows}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut status = 0;
    // SAFETY: a zeroed rusage is a valid out-parameter; we wait for our own child.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = child.id() as libc::pid_t;
    // SAFETY: as above.
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
    assert_eq!(r, pid);
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "status {status}"
    );
    let eve = std::fs::read_to_string(out.join("eve.json")).unwrap();
    let stats: serde_json::Value = eve
        .lines()
        .rfind(|l| l.contains("\"event_type\":\"stats\""))
        .map(|l| serde_json::from_str(l).unwrap())
        .expect("a stats event at exit");
    Run {
        peak_rss_kib: ru.ru_maxrss,
        flow: stats["stats"]["flow"].clone(),
        alerts: eve
            .lines()
            .filter(|l| l.contains("\"event_type\":\"alert\""))
            .count(),
    }
}

#[test]
fn a_syn_flood_keeps_memory_flat_and_counts_the_flows_taken_over() {
    let dir = support::target_dir().join("tmp/flow_pressure");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    const SLOTS: u64 = 4096;
    // a rule on the TCP stream, so that every SYN's flow takes a TCP session too
    let extra = dir.join("stream.rules");
    std::fs::write(
        &extra,
        "alert tcp any any -> any 80 (msg:\"never\"; flow:to_server; content:\"no such bytes\"; sid:1; rev:1;)\n",
    )
    .unwrap();
    let mut runs = Vec::new();
    for packets in [100_000u32, 800_000] {
        let pcap = dir.join(format!("flood-{packets}.pcap"));
        // one ping in 1000 packets, every other packet a SYN opening a flow
        gen_pcap::write_syn_flood(&pcap, packets, 1000);
        let r = replay(
            &pcap,
            &extra,
            &dir.join(format!("out-{packets}")),
            SLOTS as u32,
        );
        let f = &r.flow;
        let n = |k: &str| f[k].as_u64().unwrap_or_else(|| panic!("flow.{k} in {f}"));
        println!(
            "{packets} packets: peak RSS {} KiB, flow.total {}, active {}, get_used {}, alerts {}",
            r.peak_rss_kib,
            n("total"),
            n("active"),
            n("get_used"),
            r.alerts
        );
        let pings = u64::from(packets / 1000);
        let syns = u64::from(packets) - pings;
        // every SYN is a flow, and the pings share at least one
        assert!(n("tcp") == syns && n("total") > syns, "{f}");
        // the table is full and stays so: each flow beyond it took one over
        assert_eq!(n("active"), SLOTS, "{f}");
        assert_eq!(f["mgr"]["flows_timeout"].as_u64(), Some(0), "{f}");
        assert_eq!(n("get_used"), n("total") - SLOTS, "{f}");
        // detection goes on under pressure: every ping alerts
        assert_eq!(r.alerts as u64, pings);
        runs.push(r);
    }
    // eight times the flood, the same memory (a few hundred KiB of noise)
    let (small, big) = (runs[0].peak_rss_kib, runs[1].peak_rss_kib);
    assert!(
        big <= small + 2048,
        "peak RSS {small} KiB for 100,000 packets, {big} KiB for 800,000"
    );
}
