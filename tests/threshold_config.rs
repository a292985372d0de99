//! threshold.config against Suricata 7.0.10: the same capture, rule and threshold file are
//! given to both, and their fast.log files must be equal line for line (each line's
//! `[Drop]`/`[wDrop]` mark shows that alert's action) and EVE's `alert.action` must be
//! equal alert for alert. The `rate_filter` cases are the suricata-verify ones
//! (`threshold-config-rate-filter-alert-*`, which also check drop and http events that
//! ravn does not log) and variants of them in IDS mode.
//!
//! Needs `../shared` (the capture, Suricata's alert-only config) and Suricata; says so and
//! passes when `../shared` is absent.

mod support;

use std::path::{Path, PathBuf};

use support::*;

struct Case {
    name: &'static str,
    rule: &'static str,
    threshold: &'static str,
    ips: bool,
}

const CASES: &[Case] = &[
    Case {
        name: "rate-pair-ips",
        rule: "drop tcp any any -> any any (dsize:0; sid:1000001;)",
        threshold: "rate_filter gen_id 1, sig_id 1000001, track by_both, count 1, seconds 60, new_action alert, timeout 1000",
        ips: true,
    },
    Case {
        name: "rate-src-ips",
        rule: "drop tcp any any -> any any (dsize:0; sid:1000001;)",
        threshold: "rate_filter gen_id 1, sig_id 1000001, track by_src, count 2, seconds 60, new_action alert, timeout 1000",
        ips: true,
    },
    Case {
        name: "rate-dst-ips",
        rule: "drop tcp any any -> any any (dsize:0; sid:1000001;)",
        threshold: "rate_filter gen_id 1, sig_id 1000001, track by_dst, count 1, seconds 60, new_action alert, timeout 1000",
        ips: true,
    },
    Case {
        name: "rate-rule-ids-to-drop",
        rule: "alert tcp any any -> any any (msg:\"empty TCP segment\"; dsize:0; sid:1000002;)",
        threshold: "rate_filter gen_id 1, sig_id 1000002, track by_rule, count 4, seconds 60, new_action drop, timeout 1000",
        ips: false,
    },
    Case {
        name: "rate-wildcard-ips-to-drop",
        rule: "alert tcp any any -> any any (msg:\"empty TCP segment\"; dsize:0; sid:1000003;)",
        threshold: "rate_filter gen_id 1, sig_id 0, track by_src, count 3, seconds 60, new_action drop, timeout 1000",
        ips: true,
    },
    Case {
        name: "rate-ignored-with-own-threshold",
        rule: "alert tcp any any -> any any (msg:\"limited\"; dsize:0; threshold: type limit, track by_rule, count 5, seconds 60; sid:1000004;)",
        threshold: "rate_filter gen_id 1, sig_id 1000004, track by_rule, count 1, seconds 60, new_action drop, timeout 1000",
        ips: false,
    },
    // not a rate_filter: a rule's own threshold tracked by_both counts an IP pair either
    // way round (the reply shares the request's entry)
    Case {
        name: "threshold-by-both-either-way",
        rule: "alert tcp any any -> any any (msg:\"pair\"; dsize:0; threshold: type limit, track by_both, count 3, seconds 60; sid:1000005;)",
        threshold: "# nothing",
        ips: false,
    },
];

fn run_suricata(shared: &Path, pcap: &Path, rules: &Path, th: &Path, ips: bool, out: &Path) {
    let mut cmd = suricata_replay(shared, pcap, rules, out);
    cmd.arg("--set")
        .arg(format!("threshold-file={}", th.display()));
    if ips {
        cmd.arg("--simulate-ips");
    }
    run_ok(cmd, "suricata");
}

fn run_ravn(shared: &Path, pcap: &Path, rules: &Path, th: &Path, ips: bool, out: &Path) {
    let mut cmd = ravn_replay(shared, pcap, rules, out);
    cmd.arg("--set")
        .arg(format!("threshold-file={}", th.display()));
    if ips {
        cmd.arg("--simulate-ips");
    }
    run_ok(cmd, "ravn");
}

fn fast_lines(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("fast.log"))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// (pcap_cnt, sid, alert.action) of each EVE alert.
fn eve_actions(dir: &Path) -> Vec<(u64, u64, String)> {
    std::fs::read_to_string(dir.join("eve.json"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["event_type"] == "alert")
        .map(|e| {
            (
                e["pcap_cnt"].as_u64().unwrap_or(0),
                e["alert"]["signature_id"].as_u64().unwrap_or(0),
                e["alert"]["action"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

#[test]
fn rate_filter_changes_actions_as_suricata_does() {
    let Some(shared) = shared_or_skip() else {
        return;
    };
    require_suricata();
    let pcap = shared.join("conformance/suricata-verify/tests/http-all-headers/input.pcap");
    assert!(pcap.is_file(), "{} is missing", pcap.display());
    let work = fresh_dir(&target_dir().join("threshold-config"));
    let mut failures = Vec::new();
    for c in CASES {
        let dir: PathBuf = work.join(c.name);
        let (sdir, rdir) = (dir.join("suricata"), dir.join("ravn"));
        std::fs::create_dir_all(&sdir).unwrap();
        std::fs::create_dir_all(&rdir).unwrap();
        let rules = dir.join("test.rules");
        let th = dir.join("threshold.config");
        std::fs::write(&rules, format!("{}\n", c.rule)).unwrap();
        std::fs::write(&th, format!("{}\n", c.threshold)).unwrap();
        run_suricata(&shared, &pcap, &rules, &th, c.ips, &sdir);
        run_ravn(&shared, &pcap, &rules, &th, c.ips, &rdir);
        let (s, r) = (fast_lines(&sdir), fast_lines(&rdir));
        assert!(!s.is_empty(), "{}: Suricata raised no alert", c.name);
        let changed =
            s.iter().any(|l| l.contains("Drop] ")) && s.iter().any(|l| !l.contains("Drop] "));
        println!(
            "{}: Suricata {} alerts ({} with a drop mark), ravn {}",
            c.name,
            s.len(),
            s.iter().filter(|l| l.contains("Drop] ")).count(),
            r.len()
        );
        if c.name.starts_with("rate-") && c.name != "rate-ignored-with-own-threshold" {
            assert!(
                changed,
                "{}: the case does not exercise an action change",
                c.name
            );
        }
        if s != r {
            failures.push(format!(
                "{}: fast.log differs\n  suricata:\n    {}\n  ravn:\n    {}",
                c.name,
                s.join("\n    "),
                r.join("\n    ")
            ));
            continue;
        }
        let (se, re) = (eve_actions(&sdir), eve_actions(&rdir));
        if se != re {
            failures.push(format!(
                "{}: EVE alert actions differ\n  suricata: {se:?}\n  ravn:     {re:?}",
                c.name
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
