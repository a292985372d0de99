//! Tunnelled traffic, ravn against Suricata 7.0.10 run live on the same capture.
//!
//! `tests/data/gen_tunnel_pcap.py` (scapy) writes a capture with every tunnel Suricata 7
//! decodes (VXLAN, Geneve, Teredo, GRE, IPv6 in IPv4, IPv4/IPv6 in IPv6, two levels deep) and
//! what it does not take for one (NSH, MPLS, IPv4 in IPv4, VXLAN carrying ARP, Teredo-like
//! datagrams on other ports); `tests/data/tunnel.rules` raises alerts on the tunnelled
//! packets and on their carriers. Suricata (`--runmode single`, so its output order is
//! deterministic) and `ravn replay` run on it with the same settings, and:
//! - fast.log must be the same, byte for byte;
//! - EVE alerts the same, in order, field for field (the `tunnel` object, `pkt_src`, flow,
//!   direction, app_proto, vlan), except `flow_id`, where alerts must share a flow exactly
//!   when Suricata's do;
//! - every `decoder.*` counter of the stats event the same, and the flows by protocol;
//! - every EVE record valid against Suricata's schema.
//!
//! Needs Suricata, scapy and `../shared` (Suricata's alert-only suricata.yaml and schema); the
//! test says SKIPPED when `../shared` is absent.

mod support;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use support::*;

const HOME_NET: &str = "[192.168.0.0/16,10.0.0.0/8,172.16.0.0/12]";

struct Run {
    fast: String,
    alerts: Vec<Value>,
    decoder: Value,
    /// flow.total, tcp, udp, icmpv4, icmpv6 and detect.alert
    counts: Vec<(String, Value)>,
}

fn read_run(dir: &Path) -> Run {
    let fast = std::fs::read_to_string(dir.join("fast.log")).unwrap_or_default();
    let eve = std::fs::read_to_string(dir.join("eve.json"))
        .unwrap_or_else(|e| panic!("{}: {e}", dir.join("eve.json").display()));
    let mut alerts = Vec::new();
    let mut decoder = Value::Null;
    let mut counts = Vec::new();
    for line in eve.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line).expect("valid JSON line");
        match v["event_type"].as_str() {
            Some("alert") => alerts.push(v),
            Some("stats") => {
                let st = &v["stats"];
                decoder = st["decoder"].clone();
                counts = ["total", "tcp", "udp", "icmpv4", "icmpv6"]
                    .iter()
                    .map(|k| (format!("flow.{k}"), st["flow"][k].clone()))
                    .chain([("detect.alert".to_string(), st["detect"]["alert"].clone())])
                    .collect();
            }
            _ => {}
        }
    }
    Run {
        fast,
        alerts,
        decoder,
        counts,
    }
}

fn suricata(shared: &Path, pcap: &Path, rules: &Path, out: &Path, sets: &[&str]) -> Run {
    let mut cmd = suricata_replay(shared, pcap, rules, out);
    cmd.args(["--runmode", "single"])
        .args(["--set", &format!("vars.address-groups.HOME_NET={HOME_NET}")]);
    for s in sets {
        cmd.args(["--set", s]);
    }
    run_ok(cmd, "suricata");
    read_run(out)
}

fn ravn(shared: &Path, pcap: &Path, rules: &Path, out: &Path, sets: &[&str]) -> Run {
    let mut cmd = ravn_replay(shared, pcap, rules, out);
    cmd.args(["--set", &format!("vars.address-groups.HOME_NET={HOME_NET}")]);
    for s in sets {
        cmd.args(["--set", s]);
    }
    run_ok(cmd, "ravn replay");
    read_run(out)
}

/// One line per alert for messages: where it came from and what it is.
fn brief(v: &Value) -> String {
    format!(
        "sid {} {} {} -> {} pkt_src={} depth={}",
        v["alert"]["signature_id"],
        v["proto"],
        v["src_ip"],
        v["dest_ip"],
        v["pkt_src"],
        v["tunnel"]["depth"]
    )
}

/// Alerts by flow: each alert's flow as the index of the flow's first alert (None without a
/// flow), so two runs can be compared whatever their flow ids.
fn flow_partition(alerts: &[Value]) -> Vec<Option<usize>> {
    let mut first: HashMap<u64, usize> = HashMap::new();
    alerts
        .iter()
        .enumerate()
        .map(|(i, a)| {
            a["flow_id"]
                .as_u64()
                .map(|id| *first.entry(id).or_insert(i))
        })
        .collect()
}

/// Runs both engines with `sets` and compares everything; returns Suricata's alerts.
fn compare(name: &str, sets: &[&str]) -> Option<Vec<Value>> {
    let shared = shared_or_skip()?;
    require_suricata();
    let work =
        fresh_dir(&PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("tunnels-{name}")));
    let pcap = work.join("tunnels.pcap");
    gen_tunnel_pcap(&pcap);
    let rules = crate_root().join("tests/data/tunnel.rules");
    let (s_dir, r_dir) = (
        fresh_dir(&work.join("suricata")),
        fresh_dir(&work.join("ravn")),
    );
    let theirs = suricata(&shared, &pcap, &rules, &s_dir, sets);
    let ours = ravn(&shared, &pcap, &rules, &r_dir, sets);
    let show_dirs = format!("(outputs: {} and {})", show(&s_dir), show(&r_dir));

    assert_eq!(ours.fast, theirs.fast, "fast.log differs {show_dirs}");
    let mut bad = Vec::new();
    for (i, (a, b)) in ours.alerts.iter().zip(&theirs.alerts).enumerate() {
        let strip = |v: &Value| {
            let mut v = v.clone();
            v.as_object_mut().unwrap().remove("flow_id");
            v
        };
        let (x, y) = (strip(a), strip(b));
        let kx: Vec<&String> = x.as_object().unwrap().keys().collect();
        let ky: Vec<&String> = y.as_object().unwrap().keys().collect();
        if kx != ky || x != y {
            bad.push(format!("alert #{i}:\n  ravn     {x}\n  suricata {y}"));
        }
    }
    assert!(
        bad.is_empty() && ours.alerts.len() == theirs.alerts.len(),
        "EVE alerts differ ({} ravn, {} Suricata) {show_dirs}:\n{}",
        ours.alerts.len(),
        theirs.alerts.len(),
        bad.join("\n")
    );
    assert_eq!(
        flow_partition(&ours.alerts),
        flow_partition(&theirs.alerts),
        "alerts are grouped into flows differently {show_dirs}"
    );
    assert_eq!(
        ours.decoder, theirs.decoder,
        "decoder stats differ {show_dirs}"
    );
    assert_eq!(
        ours.counts, theirs.counts,
        "flow and alert counts differ {show_dirs}"
    );
    let schema = shared.join("reference/suricata-7.0.10/schema.json");
    let o = Command::new("python3")
        .arg(crate_root().join("tests/tools/validate_eve.py"))
        .arg(&schema)
        .arg(r_dir.join("eve.json"))
        .output()
        .expect("python3 runs the schema validation");
    assert!(
        o.status.success(),
        "EVE schema validation failed:\n{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    println!(
        "{name}: {} alerts, fast.log, EVE and decoder stats identical to Suricata's",
        ours.alerts.len()
    );
    Some(theirs.alerts)
}

#[test]
fn tunnelled_alerts_match_suricata() {
    let Some(alerts) = compare("default", &[]) else {
        return;
    };
    // The capture must exercise what the test is about, or agreeing proves little.
    let mut seen: Vec<String> = alerts
        .iter()
        .map(|a| a["pkt_src"].as_str().unwrap_or("").to_string())
        .collect();
    seen.sort();
    seen.dedup();
    for src in [
        "wire/pcap",
        "vxlan encapsulation",
        "geneve encapsulation",
        "teredo tunnel",
        "gre tunnel",
        "ipv4 tunnel",
        "ipv6 tunnel",
    ] {
        assert!(
            seen.iter().any(|s| s == src),
            "no alert from {src}: {seen:?}"
        );
    }
    let two_deep = alerts.iter().find(|a| a["tunnel"]["depth"] == 2);
    assert!(two_deep.is_some(), "no alert two tunnels deep");
    let heartbeats = alerts
        .iter()
        .filter(|a| a["alert"]["signature_id"] == 5100000 && a["tunnel"].is_object())
        .count();
    assert!(heartbeats >= 5, "heartbeat pings in tunnels: {heartbeats}");
    // Carriers are inspected for headers but not payload.
    assert!(
        alerts
            .iter()
            .any(|a| a["alert"]["signature_id"] == 9200006 && a["pkt_src"] == "wire/pcap"),
        "no alert on a VXLAN carrier"
    );
    println!("pkt_src seen: {seen:?}; e.g. {}", brief(two_deep.unwrap()));
}

#[test]
fn decoder_settings_match_suricata() {
    // VXLAN off, Teredo on every port, Geneve on a second port: ravn's keys are Suricata's.
    compare(
        "settings",
        &[
            "decoder.vxlan.enabled=false",
            "decoder.teredo.ports=any",
            "decoder.geneve.ports=[6081,7000]",
        ],
    );
}
