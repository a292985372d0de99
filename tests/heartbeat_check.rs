//! `ravn check` through the binary (no root needed): every way the status file can be bad
//! gives UNKNOWN or CRITICAL with a message saying which, never OK; usage errors are
//! UNKNOWN (3), not clap's 2; a fresh file gives the state's code and perfdata.

mod support;

use std::path::Path;
use std::process::Command;

use support::*;

fn check(args: &[&str]) -> (i32, String) {
    let out = Command::new(ravn_bin())
        .arg("check")
        .args(args)
        .output()
        .expect("ravn check runs");
    let mut s = String::from_utf8_lossy(&out.stdout).into_owned();
    s.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), s.trim().to_string())
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

fn status(now: f64, state: &str, last: Option<f64>, drop_pct: f64) -> String {
    serde_json::json!({
        "version": 1, "pid": 1, "written": now, "interval": 1.0, "started": now - 1000.0,
        "state": state, "state_since": now - 100.0,
        "last_heartbeat": last,
        "recent_heartbeats": last.map(|l| vec![l]).unwrap_or_default(),
        "authenticated": false,
        "heartbeats": {"accepted": 1, "rejected": 0, "unauthenticated": 0, "bad_tag": 0,
                       "replayed": 0, "stale": 0, "malformed": 0, "last_counter": 0},
        "thresholds": {"warn": 120, "crit": 300, "grace": 90, "capture_down": 180},
        "capture": {"packets": 1000, "dropped": 10, "window_secs": 300.0,
                    "window_packets": 990, "window_dropped": 10, "drop_percent": drop_pct,
                    "quiet_secs": 0.5}
    })
    .to_string()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn bad_status_files_are_unknown_or_critical_never_ok() {
    let dir = fresh_dir(&target_dir().join("heartbeat-check"));
    let f = dir.join("heartbeat.status");
    for svc in ["heartbeat", "capture"] {
        let up = svc.to_uppercase();
        let _ = std::fs::remove_file(&f);
        let (code, out) = check(&[svc, "--status", s(&f)]);
        assert_eq!(code, 3, "{out}");
        assert!(
            out.starts_with(&format!("RAVN {up} UNKNOWN - status file")),
            "{out}"
        );
        assert!(out.contains("is missing"), "{out}");

        std::fs::write(&f, "{\"version\": 1, \"pid\": ").unwrap();
        let (code, out) = check(&[svc, "--status", s(&f)]);
        assert_eq!(code, 3, "{out}");
        assert!(out.contains("is corrupt"), "{out}");

        std::fs::write(&f, b"\x00\xff garbage").unwrap();
        assert_eq!(check(&[svc, "--status", s(&f)]).0, 3);

        let t = now();
        std::fs::write(&f, status(t - 120.0, "ALIVE", Some(t - 121.0), 0.0)).unwrap();
        let (code, out) = check(&[svc, "--status", s(&f)]);
        assert_eq!(code, 2, "{out}");
        assert!(out.contains("is stale: last written 120s ago"), "{out}");
        assert!(out.contains("the daemon is not running"), "{out}");

        std::fs::write(&f, status(t, "STOPPED", Some(t - 5.0), 0.0)).unwrap();
        let (code, out) = check(&[svc, "--status", s(&f)]);
        assert_eq!(code, 2, "{out}");

        // a usage error is UNKNOWN
        let (code, out) = check(&[svc, "--bogus"]);
        assert_eq!(code, 3, "{out}");
        let (code, out) = check(&[svc, "--status", s(&f), "-w", "10", "-c", "5"]);
        assert_eq!(code, 3, "{out}");
    }
    // a config that does not load is UNKNOWN too
    let (code, out) = check(&["heartbeat", "--config", "/nonexistent/ravn.toml"]);
    assert_eq!(code, 3, "{out}");
    assert!(
        out.contains("RAVN HEARTBEAT UNKNOWN - config: /nonexistent/ravn.toml"),
        "{out}"
    );
}

#[test]
fn fresh_status_gives_each_state_its_code() {
    let dir = fresh_dir(&target_dir().join("heartbeat-check2"));
    let f = dir.join("heartbeat.status");
    let t = now();
    for (state, age, want) in [
        ("ALIVE", 12.0, 0),
        ("LATE", 150.0, 1),
        ("DEAD", 400.0, 2),
        ("CAPTURE-DOWN", 12.0, 2),
    ] {
        std::fs::write(&f, status(t, state, Some(t - age), 0.0)).unwrap();
        let (code, out) = check(&["heartbeat", "--status", s(&f)]);
        assert_eq!(code, want, "{state}: {out}");
        assert!(
            out.contains(&format!("age={}s;120;300;0", age as u64)),
            "{out}"
        );
    }
    for (pct, want) in [(0.5, 0), (1.5, 1), (7.0, 2)] {
        std::fs::write(&f, status(t, "ALIVE", Some(t), pct)).unwrap();
        let (code, out) = check(&["capture", "--status", s(&f)]);
        assert_eq!(code, want, "{pct}: {out}");
        assert!(
            out.contains(&format!("dropped_pct={pct:.2}%;1;5;0;100")),
            "{out}"
        );
    }
}

#[test]
fn heartbeat_send_errors_are_clear() {
    let send = |args: &[&str]| {
        let out = Command::new(ravn_bin())
            .args(["heartbeat", "send"])
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, err) = send(&["--to", "no-such-host.invalid"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("--to no-such-host.invalid"), "{err}");
    let (code, err) = send(&["--to", "::1"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("ICMPv4"), "{err}");
    let (code, err) = send(&["--to", "127.0.0.1", "--interval", "soon"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("--interval"), "{err}");
    let (code, err) = send(&["--to", "127.0.0.1", "--key", "/nonexistent/key"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("/nonexistent/key"), "{err}");
    // a datagram socket where ping_group_range leaves out our group says so
    let range = std::fs::read_to_string("/proc/sys/net/ipv4/ping_group_range").unwrap_or_default();
    let r: Vec<u64> = range
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    // SAFETY: getegid has no preconditions.
    let gid = u64::from(unsafe { libc::getegid() });
    if r.len() == 2 && !(r[0] <= gid && gid <= r[1]) {
        let (code, err) = send(&["--to", "127.0.0.1", "--socket", "datagram"]);
        assert_eq!(code, 1, "{err}");
        assert!(err.contains("ping_group_range"), "{err}");
    } else {
        println!("SKIPPED (datagram refusal): group {gid} is in ping_group_range {range}");
    }
}
