//! The heartbeat end to end, in network namespaces joined by a veth pair (root; skipped
//! otherwise): `ravn heartbeat send` pings across the veth, `ravn run` (AF_PACKET) captures
//! the pings, the heartbeat rule alerts, and the status file goes STARTING → ALIVE → LATE →
//! DEAD on a shortened schedule once the sender stops; `ravn check heartbeat` follows with
//! exit codes 0, 1, 2, and CRITICAL after the daemon stopped. With a key, authenticated
//! heartbeats are accepted and forged, replayed, stale and unauthenticated ones rejected and
//! counted, also across a daemon restart. board/'s systemd service line sends a heartbeat.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use support::live::{Daemon, NetPair};
use support::*;

fn heartbeat_rules() -> PathBuf {
    crate_root().join("rules/heartbeat.rules")
}

/// `ravn -v heartbeat send ARGS` in the sender namespace; returns stderr (the log).
fn send(net: &NetPair, args: &[&str]) -> String {
    let out = Command::new("ip")
        .args(["netns", "exec", &net.b])
        .arg(ravn_bin())
        .args(["-v", "heartbeat", "send", "--to", &net.ip_a])
        .args(args)
        .output()
        .expect("ravn heartbeat send runs");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "heartbeat send {args:?}: {err}");
    err
}

fn check(status: &Path, args: &[&str]) -> (i32, String) {
    let out = Command::new(ravn_bin())
        .args(["check", "heartbeat", "--status"])
        .arg(status)
        .args(args)
        .output()
        .expect("ravn check runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
    )
}

fn status_json(path: &Path) -> Option<serde_json::Value> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

fn state(path: &Path) -> String {
    status_json(path)
        .and_then(|v| v["state"].as_str().map(String::from))
        .unwrap_or_default()
}

fn wait_state(path: &Path, want: &str, secs: u64) -> Duration {
    let t0 = Instant::now();
    while state(path) != want {
        assert!(
            t0.elapsed() < Duration::from_secs(secs),
            "status never became {want}: {:?}",
            std::fs::read_to_string(path)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    t0.elapsed()
}

fn sets(net: &NetPair, extra: &[&str]) -> Vec<String> {
    let mut v = vec![
        "capture.source=af-packet".to_string(),
        format!("capture.af-packet.interface={}", net.if_a),
        // the sender's address is "home", the sensor's "external", as the rule wants
        format!("vars.address-groups.HOME_NET=[{}]", net.ip_b),
        "leds.backend=terminal".to_string(),
        // no SD-card archive from a test
        "archive.enabled=off".to_string(),
    ];
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

#[test]
fn heartbeat_goes_alive_late_dead_and_the_check_follows() {
    let Some(net) = NetPair::new("hb1") else {
        return;
    };
    let work = fresh_dir(&target_dir().join("live-hb1"));
    let s = sets(
        &net,
        &[
            "heartbeat.warn-secs=2",
            "heartbeat.crit-secs=4",
            "heartbeat.grace-secs=60",
            "heartbeat.capture-down-secs=0",
            "heartbeat.status-interval-ms=100",
        ],
    );
    let mut d = Daemon::start(&net.a, &work.join("d"), &heartbeat_rules(), &s, &[]);
    let status = d.run_dir.join("heartbeat.status");
    wait_state(&status, "STARTING", 10);
    let (code, line) = check(&status, &["-w", "2", "-c", "4"]);
    assert_eq!(code, 0, "{line}");
    assert!(line.starts_with("RAVN HEARTBEAT OK - starting"), "{line}");

    // the new namespace's ping_group_range ("1 0") allows no datagram ICMP: raw socket
    // the last of the 4 pings leaves at least 0.9 s after `before`
    let before = Instant::now();
    let log = send(&net, &["--interval", "300ms", "--count", "4"]);
    assert!(log.contains("raw ICMP socket"), "{log}");
    wait_state(&status, "ALIVE", 5);
    assert_eq!(d.wait_counter("heartbeat.accepted", 4, 10), 4);
    // the status file follows within its write interval (100 ms)
    let t0 = Instant::now();
    while status_json(&status).is_none_or(|j| j["heartbeats"]["accepted"] != 4) {
        assert!(t0.elapsed() < Duration::from_secs(2), "status file lags");
        std::thread::sleep(Duration::from_millis(20));
    }
    let (code, line) = check(&status, &["-w", "2", "-c", "4"]);
    assert_eq!(code, 0, "{line}");
    assert!(
        line.starts_with("RAVN HEARTBEAT OK - 4 heartbeats in last 4s, last "),
        "{line}"
    );
    assert!(line.contains("| heartbeats=4;;;0 age="), "{line}");
    // the icinga user needs no sudo: an unprivileged user runs the same check
    let out = Command::new("setpriv")
        .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"])
        .arg(ravn_bin())
        .args(["check", "heartbeat", "-w", "2", "-c", "4", "--status"])
        .arg(&status)
        .output()
        .expect("setpriv runs (util-linux)");
    let line2 = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "as nobody: {line2}");
    let st = d.stats();
    assert_eq!(st["heartbeat.accepted"], 4, "{st:?}");
    assert_eq!(st["heartbeat.rejected.unauthenticated"], 0);

    // the sender has stopped: LATE after 2 s, DEAD after 4 s
    wait_state(&status, "LATE", 5);
    let late_at = before.elapsed();
    let (code, line) = check(&status, &["-w", "2", "-c", "4"]);
    assert_eq!(code, 1, "{line}");
    assert!(line.starts_with("RAVN HEARTBEAT WARNING - "), "{line}");
    wait_state(&status, "DEAD", 6);
    let dead_at = before.elapsed();
    // not before warn (2 s) / crit (4 s) after the last ping, and not much later either
    assert!(
        late_at >= Duration::from_millis(2900) && late_at < Duration::from_millis(4500),
        "LATE at {late_at:?} after the first ping"
    );
    assert!(
        dead_at >= Duration::from_millis(4900) && dead_at < Duration::from_millis(6500),
        "DEAD at {dead_at:?} after the first ping"
    );
    let (code, line) = check(&status, &["-w", "2", "-c", "4"]);
    assert_eq!(code, 2, "{line}");
    assert!(line.contains("0 heartbeats in last 4s"), "{line}");

    // and back: one more heartbeat
    send(&net, &[]);
    wait_state(&status, "ALIVE", 5);

    let (code, err) = d.stop();
    assert_eq!(code, 0, "{err}");
    // the terminal LEDs printed every state change, in order
    let changes: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("ravn: heartbeat "))
        .collect();
    assert_eq!(
        changes,
        vec![
            "ravn: heartbeat STARTING (LEDs: amber slow blink)",
            "ravn: heartbeat ALIVE (LEDs: off)",
            "ravn: heartbeat LATE (LEDs: amber on)",
            "ravn: heartbeat DEAD (LEDs: red on)",
            "ravn: heartbeat ALIVE (LEDs: off)",
            "ravn: heartbeat STOPPED (LEDs: off)",
        ],
        "{err}"
    );
    // the alerts themselves are logged as usual: 5 echo requests
    assert_eq!(
        d.fast_log().matches("PROTOCOL-ICMP Heartbeat ping").count(),
        5,
        "{}",
        d.fast_log()
    );
    assert_eq!(state(&status), "STOPPED");
    let (code, line) = check(&status, &[]);
    assert_eq!(code, 2, "{line}");
    assert!(line.contains("the daemon stopped"), "{line}");
}

#[test]
fn authenticated_heartbeats_accepted_forged_and_replayed_rejected() {
    let Some(net) = NetPair::new("hb2") else {
        return;
    };
    let work = fresh_dir(&target_dir().join("live-hb2"));
    let key = work.join("key");
    std::fs::write(&key, "3f1c9a7e5b2d4f608a1b3c5d7e9f0a2b\n").unwrap();
    let wrong = work.join("wrong");
    std::fs::write(&wrong, "00000000000000000000000000000000\n").unwrap();
    let run_dir = work.join("run");
    let s = sets(
        &net,
        &[
            &format!("heartbeat.key-file={}", key.display()),
            &format!("daemon.run-dir={}", run_dir.display()),
            "heartbeat.max-skew-secs=60",
        ],
    );
    let mut d = Daemon::start(&net.a, &work.join("d1"), &heartbeat_rules(), &s, &[]);
    let k = key.to_str().unwrap();

    // datagram ICMP where ping_group_range allows it
    net.in_b(&["sysctl", "-qw", "net.ipv4.ping_group_range=0 2147483647"]);
    let log = send(&net, &["--key", k, "--interval", "200ms", "--count", "2"]);
    assert!(log.contains("ICMP datagram socket"), "{log}");
    assert_eq!(d.wait_counter("heartbeat.accepted", 2, 10), 2);

    // forged: another key
    send(&net, &["--key", wrong.to_str().unwrap()]);
    assert_eq!(d.wait_counter("heartbeat.rejected.bad_tag", 1, 10), 1);
    // unauthenticated: the plain payload
    send(&net, &[]);
    assert_eq!(
        d.wait_counter("heartbeat.rejected.unauthenticated", 1, 10),
        1
    );
    // replayed: the same counter twice (the first one is good)
    let now_us = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros()
        .to_string();
    send(&net, &["--key", k, "--counter", &now_us]);
    assert_eq!(d.wait_counter("heartbeat.accepted", 3, 10), 3);
    send(&net, &["--key", k, "--counter", &now_us]);
    assert_eq!(d.wait_counter("heartbeat.rejected.replayed", 1, 10), 1);
    // stale: a counter an hour ahead (a ping recorded for later, or a broken clock)
    let ahead = (now_us.parse::<u64>().unwrap() + 3_600_000_000).to_string();
    send(&net, &["--key", k, "--counter", &ahead]);
    assert_eq!(d.wait_counter("heartbeat.rejected.stale", 1, 10), 1);

    let st = d.stats();
    assert_eq!(st["heartbeat.accepted"], 3, "{st:?}");
    assert_eq!(st["heartbeat.rejected.bad_tag"], 1, "{st:?}");
    assert_eq!(st["heartbeat.rejected.malformed"], 0, "{st:?}");
    let status = run_dir.join("heartbeat.status");
    std::thread::sleep(Duration::from_millis(1200));
    let j = status_json(&status).expect("status file");
    assert_eq!(j["authenticated"], true);
    assert_eq!(j["state"], "ALIVE");
    assert_eq!(j["heartbeats"]["accepted"], 3);
    assert_eq!(j["heartbeats"]["rejected"], 4);
    assert_eq!(
        j["heartbeats"]["last_counter"]
            .as_u64()
            .unwrap()
            .to_string(),
        now_us
    );
    let (code, err) = d.stop();
    assert_eq!(code, 0, "{err}");

    // restarted with the same run directory: the old ping replayed is still refused
    let mut d = Daemon::start(&net.a, &work.join("d2"), &heartbeat_rules(), &s, &[]);
    send(&net, &["--key", k, "--counter", &now_us]);
    assert_eq!(d.wait_counter("heartbeat.rejected.replayed", 1, 10), 1);
    send(&net, &["--key", k]);
    assert_eq!(d.wait_counter("heartbeat.accepted", 1, 10), 1);
    let (code, err) = d.stop();
    assert_eq!(code, 0, "{err}");
}

#[test]
fn no_packets_is_capture_down_until_traffic_returns() {
    let Some(net) = NetPair::new("hb3") else {
        return;
    };
    let work = fresh_dir(&target_dir().join("live-hb3"));
    let s = sets(
        &net,
        &[
            "heartbeat.grace-secs=1",
            "heartbeat.capture-down-secs=2",
            "heartbeat.status-interval-ms=100",
        ],
    );
    let mut d = Daemon::start(&net.a, &work.join("d"), &heartbeat_rules(), &s, &[]);
    let status = d.run_dir.join("heartbeat.status");
    // nothing crosses the veth: after the grace period and 2 s of silence, CAPTURE-DOWN
    wait_state(&status, "CAPTURE-DOWN", 10);
    for svc in ["heartbeat", "capture"] {
        let out = Command::new(ravn_bin())
            .args(["check", svc, "--status"])
            .arg(&status)
            .output()
            .unwrap();
        let line = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(2), "{line}");
        assert!(
            line.contains("capture is down (no packet since start)"),
            "{line}"
        );
    }
    // the ping comes from board/'s systemd service: its ExecStart line, run as systemd would
    // (`$$` is a literal `$` for the shell), with its environment file's variables
    let unit =
        std::fs::read_to_string(crate_root().join("board/systemd/ravn-heartbeat.service")).unwrap();
    let exec = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart=/bin/sh -c '"))
        .and_then(|l| l.strip_suffix('\''))
        .expect("ExecStart=/bin/sh -c '...'")
        .replace("$$", "$")
        .replace("/usr/bin/ravn", ravn_bin().to_str().unwrap());
    let defaults =
        std::fs::read_to_string(crate_root().join("board/default/ravn-heartbeat")).unwrap();
    assert!(defaults.contains("RAVN_HEARTBEAT_TO=") && defaults.contains("RAVN_HEARTBEAT_KEY="));
    let st = Command::new("ip")
        .args(["netns", "exec", &net.b, "sh", "-c", &exec])
        .env("RAVN_HEARTBEAT_TO", &net.ip_a)
        .env("RAVN_HEARTBEAT_KEY", "")
        .status()
        .unwrap();
    assert!(st.success(), "{exec}");
    wait_state(&status, "ALIVE", 5);
    let (code, err) = d.stop();
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("ravn: heartbeat CAPTURE-DOWN (LEDs: red fast blink)"),
        "{err}"
    );
}
