//! Golden tests: ravn against Suricata 7.0.10's recorded outputs in
//! `../shared/reference/suricata-7.0.10/golden*` (fast.log byte for byte, EVE alerts field by
//! field except flow_id, every EVE record valid against Suricata's schema).
//! When `../shared` is absent (a user's fresh clone) the tests say so and pass vacuously.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

fn shared() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/reference/suricata-7.0.10");
    if p.exists() {
        Some(p)
    } else {
        eprintln!("SKIPPED: ../shared/reference/suricata-7.0.10 is not present");
        None
    }
}

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ravn-golden-{}-{}", name, std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Run `ravn replay` the way COMMAND.txt ran Suricata (HOME_NET=[192.168.0.0/16], `-k none`).
fn replay(pcap: &Path, rules: &Path, out: &Path) {
    let mut cmd = support::ravn_replay_plain(pcap, rules, out);
    cmd.args(["--set", "vars.address-groups.HOME_NET=[192.168.0.0/16]"]);
    cmd.args(["-k", "none"]);
    support::run_ok(cmd, "ravn replay");
}

fn eve_alerts(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("valid JSON line"))
        .filter(|v| v["event_type"] == "alert")
        .collect()
}

/// Field by field, in order, except flow_id.
fn assert_same_alert(ours: &serde_json::Value, theirs: &serde_json::Value) {
    let strip = |v: &serde_json::Value| {
        let mut v = v.clone();
        v.as_object_mut().unwrap().remove("flow_id");
        v
    };
    let (a, b) = (strip(ours), strip(theirs));
    let ka: Vec<&String> = a.as_object().unwrap().keys().collect();
    let kb: Vec<&String> = b.as_object().unwrap().keys().collect();
    assert_eq!(ka, kb, "EVE field order differs");
    assert_eq!(a, b, "EVE alert differs");
}

fn validate_schema(schema: &Path, eve: &Path) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tools/validate_eve.py");
    let out = Command::new("python3")
        .arg(script)
        .arg(schema)
        .arg(eve)
        .output()
        .expect("python3 is required for schema validation");
    assert!(
        out.status.success(),
        "EVE schema validation failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn heartbeat_golden_fast_log_and_eve() {
    let Some(g) = shared() else { return };
    let out = tmpdir("heartbeat");
    replay(
        &g.join("golden/small.pcap"),
        &g.join("golden/heartbeat.rules"),
        &out,
    );
    let ours = std::fs::read(out.join("fast.log")).unwrap();
    let theirs = std::fs::read(g.join("golden/fast.log")).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&ours),
        String::from_utf8_lossy(&theirs),
        "fast.log differs"
    );
    let a = eve_alerts(&out.join("eve.json"));
    let b = eve_alerts(&g.join("golden/eve.json"));
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert_same_alert(x, y);
    }
    let stats: Vec<serde_json::Value> = std::fs::read_to_string(out.join("eve.json"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["event_type"] == "stats")
        .collect();
    assert_eq!(stats.len(), 1, "one stats event at exit");
    assert_eq!(stats[0]["stats"]["decoder"]["pkts"], 14);
    assert_eq!(stats[0]["stats"]["detect"]["alert"], 1);
    assert_eq!(stats[0]["stats"]["detect"]["engines"][0]["rules_loaded"], 1);
    validate_schema(&g.join("schema.json"), &out.join("eve.json"));
}

#[test]
fn tzsp_stream_gives_the_same_alerts_as_the_plain_capture() {
    let Some(g) = shared() else { return };
    let out = tmpdir("tzsp");
    replay(
        &g.join("golden/small-tzsp.pcap"),
        &g.join("golden/heartbeat.rules"),
        &out,
    );
    let ours = std::fs::read_to_string(out.join("fast.log")).unwrap();
    let theirs = std::fs::read_to_string(g.join("golden/fast.log")).unwrap();
    assert_eq!(ours, theirs, "fast.log from the TZSP stream differs");
    let a = eve_alerts(&out.join("eve.json"));
    let b = eve_alerts(&g.join("golden/eve.json"));
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert_same_alert(x, y);
    }
}

/// The 8-rule golden: every alert of every rule ravn loads must be there, byte for byte.
/// Excluded, with the reason, are the alerts ravn cannot raise yet:
/// - sid 5100002 (`http.uri`) and 5100003 (`dns.query`): app-layer keywords, skipped.
///
/// Sid 5100001 matches twice: on the packet (pcap_cnt 8) and on the reassembled stream
/// once the HTTP request is acknowledged and complete (pcap_cnt 11; Suricata attaches that
/// one to the HTTP transaction in EVE: `tx_id`, `tx_guessed`, `http`, `app_proto` are left
/// out of the comparison for it, ravn has no HTTP parser to fill them).
#[test]
fn extra_golden_for_the_rules_ravn_loads() {
    let Some(g) = shared() else { return };
    let out = tmpdir("extra");
    replay(
        &g.join("golden-extra/small-extra.pcap"),
        &g.join("golden-extra/extra.rules"),
        &out,
    );
    let excluded = |sid: u64| sid == 5100002 || sid == 5100003;
    let b: Vec<serde_json::Value> = eve_alerts(&g.join("golden-extra/eve.json"))
        .into_iter()
        .filter(|v| !excluded(v["alert"]["signature_id"].as_u64().unwrap()))
        .map(|mut v| {
            // the stream match: without the HTTP transaction ravn does not parse
            if v["pcap_cnt"] == 11 {
                let o = v.as_object_mut().unwrap();
                for k in ["tx_id", "tx_guessed", "http", "app_proto"] {
                    o.shift_remove(k);
                }
            }
            v
        })
        .collect();
    let theirs_fast: String = std::fs::read_to_string(g.join("golden-extra/fast.log"))
        .unwrap()
        .lines()
        .filter(|l| !(l.contains("[1:5100002:") || l.contains("[1:5100003:")))
        .map(|l| format!("{l}\n"))
        .collect();
    let ours_fast = std::fs::read_to_string(out.join("fast.log")).unwrap();
    assert_eq!(ours_fast, theirs_fast, "fast.log differs");
    let a = eve_alerts(&out.join("eve.json"));
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert_same_alert(x, y);
    }
    validate_schema(&g.join("schema.json"), &out.join("eve.json"));
}
