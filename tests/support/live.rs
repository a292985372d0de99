//! Helpers for the live-capture tests (`tests/live_*.rs`) and the load benchmark: network
//! namespaces joined by a veth pair, created by the test and removed when dropped, and a
//! `ravn run` daemon started inside one of them.
//!
//! Everything here needs root (namespaces, AF_PACKET, AF_XDP); `NetPair::new` prints a
//! `SKIPPED:` line and returns `None` otherwise.

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::ravn_bin;

pub fn is_root() -> bool {
    // SAFETY-free: read the effective uid from /proc.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

fn sh(args: &[&str]) -> Result<String, String> {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .map_err(|e| format!("{}: {e}", args.join(" ")))?;
    if !out.status.success() {
        return Err(format!(
            "{} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Two namespaces, `a` (where ravn runs) and `b` (the sender), joined by veth `if_a`/`if_b`
/// with addresses `ip_a`/`ip_b` (and `ip_b2`, a second sender address) in 10.200.N.0/24.
pub struct NetPair {
    pub a: String,
    pub b: String,
    pub if_a: String,
    pub if_b: String,
    pub ip_a: String,
    pub ip_b: String,
    pub ip_b2: String,
}

impl NetPair {
    /// `tag`: a short name unique among the tests running at once (≤ 6 characters).
    pub fn new(tag: &str) -> Option<NetPair> {
        if !is_root() {
            println!("SKIPPED: not root (network namespaces and raw sockets need root)");
            return None;
        }
        let n = std::process::id() % 200 + 20;
        let sub = tag
            .bytes()
            .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(b as u32))
            % 200
            + 20;
        let p = NetPair {
            a: format!("rv{tag}a{n}"),
            b: format!("rv{tag}b{n}"),
            if_a: format!("rv{tag}A"),
            if_b: format!("rv{tag}B"),
            ip_a: format!("10.200.{sub}.1"),
            ip_b: format!("10.200.{sub}.2"),
            ip_b2: format!("10.200.{sub}.3"),
        };
        p.cleanup();
        let steps: Vec<Vec<String>> = vec![
            vec!["ip", "netns", "add", &p.a],
            vec!["ip", "netns", "add", &p.b],
            vec![
                "ip", "link", "add", &p.if_a, "type", "veth", "peer", "name", &p.if_b,
            ],
            vec!["ip", "link", "set", &p.if_a, "netns", &p.a],
            vec!["ip", "link", "set", &p.if_b, "netns", &p.b],
        ]
        .into_iter()
        .map(|v| v.into_iter().map(String::from).collect())
        .collect();
        for s in &steps {
            let v: Vec<&str> = s.iter().map(|x| x.as_str()).collect();
            if let Err(e) = sh(&v) {
                println!("SKIPPED: cannot create namespaces: {e}");
                p.cleanup();
                return None;
            }
        }
        for (ns, ifc, addrs) in [
            (&p.a, &p.if_a, vec![p.ip_a.clone()]),
            (&p.b, &p.if_b, vec![p.ip_b.clone(), p.ip_b2.clone()]),
        ] {
            p.exec_ok(ns, &["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"]);
            p.exec_ok(
                ns,
                &["sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"],
            );
            for a in addrs {
                p.exec_ok(ns, &["ip", "addr", "add", &format!("{a}/24"), "dev", ifc]);
            }
            p.exec_ok(ns, &["ip", "link", "set", ifc, "up"]);
            p.exec_ok(ns, &["ip", "link", "set", "lo", "up"]);
        }
        Some(p)
    }

    /// Runs a command in namespace `ns`, panicking on failure.
    pub fn exec_ok(&self, ns: &str, args: &[&str]) -> String {
        let mut v = vec!["ip", "netns", "exec", ns];
        v.extend_from_slice(args);
        sh(&v).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Runs a command in the sender namespace.
    pub fn in_b(&self, args: &[&str]) -> String {
        self.exec_ok(&self.b, args)
    }

    fn cleanup(&self) {
        let _ = sh(&["ip", "netns", "del", &self.a]);
        let _ = sh(&["ip", "netns", "del", &self.b]);
        let _ = sh(&["ip", "link", "del", &self.if_a]);
    }
}

impl Drop for NetPair {
    fn drop(&mut self) {
        self.cleanup();
    }
}

/// A `ravn run` in a namespace, with its own log and run directories.
pub struct Daemon {
    pub child: Child,
    pub dir: PathBuf,
    pub log_dir: PathBuf,
    pub run_dir: PathBuf,
    pub stderr: PathBuf,
}

impl Daemon {
    /// Starts `ravn -v run -S rules -l <dir>/log` in `ns` with `--set` overrides; waits until
    /// its stats socket answers.
    pub fn start(
        ns: &str,
        dir: &Path,
        rules: &Path,
        sets: &[String],
        env: &[(&str, &str)],
    ) -> Daemon {
        Self::try_start(ns, dir, rules, sets, env).unwrap_or_else(|e| panic!("{e}"))
    }

    pub fn try_start(
        ns: &str,
        dir: &Path,
        rules: &Path,
        sets: &[String],
        env: &[(&str, &str)],
    ) -> Result<Daemon, String> {
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir).unwrap();
        let log_dir = dir.join("log");
        // A `daemon.run-dir` in `sets` wins (to share state between two runs).
        let run_dir = sets
            .iter()
            .find_map(|s| s.strip_prefix("daemon.run-dir="))
            .map(PathBuf::from)
            .unwrap_or_else(|| dir.join("run"));
        let stderr = dir.join("stderr.txt");
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", ns])
            .arg(ravn_bin())
            .args(["-v", "run", "-S"])
            .arg(rules)
            .arg("-l")
            .arg(&log_dir)
            .arg("--set")
            .arg(format!("daemon.run-dir={}", run_dir.display()))
            .arg("--set")
            .arg("rules.classification-file=/nonexistent/classification.config");
        for s in sets {
            cmd.arg("--set").arg(s);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).unwrap());
        let child = cmd.spawn().map_err(|e| format!("spawn ravn: {e}"))?;
        let mut d = Daemon {
            child,
            dir: dir.to_path_buf(),
            log_dir,
            run_dir,
            stderr,
        };
        let t0 = Instant::now();
        loop {
            if let Ok(Some(st)) = d.child.try_wait() {
                return Err(format!(
                    "ravn run exited early ({st}): {}",
                    std::fs::read_to_string(&d.stderr).unwrap_or_default()
                ));
            }
            if d.try_stats().is_some() {
                return Ok(d);
            }
            if t0.elapsed() > Duration::from_secs(60) {
                let _ = d.child.kill();
                return Err("ravn run did not come up in 60 s".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    fn try_stats(&self) -> Option<HashMap<String, u64>> {
        let out = Command::new(ravn_bin())
            .args(["stats", "--run-dir"])
            .arg(&self.run_dir)
            .output()
            .ok()?;
        if !out.status.success() {
            return None;
        }
        Some(
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter_map(|l| {
                    let (k, v) = l.split_once(' ')?;
                    Some((k.to_string(), v.trim().parse().ok()?))
                })
                .collect(),
        )
    }

    /// The live counters (`ravn stats`).
    pub fn stats(&self) -> HashMap<String, u64> {
        self.try_stats().expect("ravn stats answers")
    }

    /// Waits until counter `name` reaches `at_least` (or `secs` pass); returns its value.
    pub fn wait_counter(&self, name: &str, at_least: u64, secs: u64) -> u64 {
        let t0 = Instant::now();
        loop {
            let v = self.stats().get(name).copied().unwrap_or(0);
            if v >= at_least || t0.elapsed() > Duration::from_secs(secs) {
                return v;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY-free: kill(1) by pid.
        let _ = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.pid().to_string())
            .status();
    }

    /// SIGTERM, wait for the exit; returns the exit code and stderr.
    pub fn stop(&mut self) -> (i32, String) {
        self.signal(15);
        let t0 = Instant::now();
        let code = loop {
            if let Ok(Some(st)) = self.child.try_wait() {
                break st.code().unwrap_or(-1);
            }
            if t0.elapsed() > Duration::from_secs(30) {
                let _ = self.child.kill();
                break -1;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        (
            code,
            std::fs::read_to_string(&self.stderr).unwrap_or_default(),
        )
    }

    pub fn fast_log(&self) -> String {
        std::fs::read_to_string(self.log_dir.join("fast.log")).unwrap_or_default()
    }

    pub fn eve(&self) -> String {
        std::fs::read_to_string(self.log_dir.join("eve.json")).unwrap_or_default()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // A test that failed half-way must not leave a daemon behind.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// fast.log lines without their timestamps (live capture stamps packets with the receive
/// time, a replay with the file's).
pub fn strip_ts(fast: &str) -> Vec<String> {
    fast.lines()
        .map(|l| l.split_once("  ").map(|x| x.1).unwrap_or(l).to_string())
        .collect()
}

/// `ravn replay` of `pcap` with `rules`: its fast.log.
pub fn replay_fast(pcap: &Path, rules: &Path, dir: &Path) -> String {
    let _ = std::fs::remove_dir_all(dir);
    let st = Command::new(ravn_bin())
        .args(["replay", "-r"])
        .arg(pcap)
        .arg("-S")
        .arg(rules)
        .arg("-l")
        .arg(dir)
        .args([
            "--set",
            "rules.classification-file=/nonexistent/classification.config",
        ])
        .status()
        .expect("ravn replay runs");
    assert!(st.success());
    std::fs::read_to_string(dir.join("fast.log")).unwrap_or_default()
}
