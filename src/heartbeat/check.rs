//! `ravn check heartbeat` and `ravn check capture`: Monitoring Plugins (Nagios, Icinga)
//! checks on the status file. One line of output, `SERVICE STATUS - text | perfdata`, and
//! the exit code 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
//!
//! A status file that is missing or corrupt is UNKNOWN; one that is stale (the daemon is
//! dead or hung) or says the daemon stopped is CRITICAL. Never OK.

use std::path::Path;

use super::monitor::State;
use super::status::{self, ReadError, Status};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Code {
    Ok = 0,
    Warning = 1,
    Critical = 2,
    Unknown = 3,
}

impl Code {
    pub fn name(&self) -> &'static str {
        match self {
            Code::Ok => "OK",
            Code::Warning => "WARNING",
            Code::Critical => "CRITICAL",
            Code::Unknown => "UNKNOWN",
        }
    }
}

/// A check's result: the exit code and the line to print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub code: Code,
    pub line: String,
}

fn outcome(service: &str, code: Code, text: &str, perf: &str) -> Outcome {
    let mut line = format!("RAVN {service} {} - {text}", code.name());
    if !perf.is_empty() {
        line.push_str(" | ");
        line.push_str(perf);
    }
    Outcome { code, line }
}

/// The check's own options.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub warning: f64,
    pub critical: f64,
    /// The status file is stale when older than this (seconds; None: the larger of 30 s and
    /// three of the daemon's write intervals).
    pub stale: Option<f64>,
}

/// Reads the status file and applies the checks common to both services: missing, corrupt,
/// stale, stopped. Err is the final outcome.
fn load(
    service: &str,
    path: &Path,
    read: Result<Status, ReadError>,
    now: f64,
    lim: &Limits,
) -> Result<Status, Outcome> {
    let p = path.display();
    let s = read.map_err(|e| {
        let why = match e {
            ReadError::Missing(e) => format!("is missing ({e}): is ravn run running?"),
            ReadError::Unreadable(e) => format!("is unreadable: {e}"),
            ReadError::Corrupt(e) => format!("is corrupt: {e}"),
        };
        outcome(
            service,
            Code::Unknown,
            &format!("status file {p} {why}"),
            "",
        )
    })?;
    if s.state == State::Stopped {
        return Err(outcome(
            service,
            Code::Critical,
            &format!(
                "the daemon stopped {}s ago (status file {p})",
                (now - s.written).max(0.0) as u64
            ),
            "",
        ));
    }
    let stale = lim.stale.unwrap_or_else(|| (3.0 * s.interval).max(30.0));
    let age = now - s.written;
    if age > stale {
        return Err(outcome(
            service,
            Code::Critical,
            &format!(
                "status file {p} is stale: last written {}s ago (limit {}s), the daemon is not running",
                age as u64, stale as u64
            ),
            "",
        ));
    }
    Ok(s)
}

/// `ravn check heartbeat`: the age of the last heartbeat against `warning`/`critical`
/// seconds, and the number of heartbeats within `critical` seconds.
pub fn heartbeat(path: &Path, read: Result<Status, ReadError>, now: f64, lim: &Limits) -> Outcome {
    const SVC: &str = "HEARTBEAT";
    let s = match load(SVC, path, read, now, lim) {
        Ok(s) => s,
        Err(o) => return o,
    };
    let (w, c) = (lim.warning, lim.critical);
    let window = c.max(1.0);
    let n = s
        .recent_heartbeats
        .iter()
        .filter(|&&t| now - t <= window)
        .count();
    let rejected = s.heartbeats.rejected;
    let age = s.last_heartbeat.map(|t| (now - t).max(0.0));
    let perf_age = age.unwrap_or((now - s.started).max(0.0));
    let perf = format!(
        "heartbeats={n};;;0 age={}s;{};{};0 rejected={rejected}c;;;0",
        perf_age as u64, w as u64, c as u64
    );
    let rej = if rejected > 0 {
        format!(", {rejected} rejected")
    } else {
        String::new()
    };
    if s.state == State::CaptureDown {
        let quiet = s
            .capture
            .quiet_secs
            .map(|q| format!("no packet for {}s", q as u64))
            .unwrap_or_else(|| "no packet since start".into());
        return outcome(
            SVC,
            Code::Critical,
            &format!("capture is down ({quiet}): heartbeats cannot be seen{rej}"),
            &perf,
        );
    }
    let Some(age) = age else {
        let up = (now - s.started).max(0.0);
        if s.state == State::Starting {
            return outcome(
                SVC,
                Code::Ok,
                &format!(
                    "starting: no heartbeat yet, {}s of the {}s grace period used{rej}",
                    up as u64, s.thresholds.grace
                ),
                &perf,
            );
        }
        let code = if up > c {
            Code::Critical
        } else {
            Code::Warning
        };
        return outcome(
            SVC,
            code,
            &format!(
                "no heartbeat since the daemon started {}s ago{rej}",
                up as u64
            ),
            &perf,
        );
    };
    let code = if age > c {
        Code::Critical
    } else if age > w {
        Code::Warning
    } else {
        Code::Ok
    };
    outcome(
        SVC,
        code,
        &format!(
            "{n} heartbeat{} in last {}s, last {}s ago{rej}",
            if n == 1 { "" } else { "s" },
            window as u64,
            age as u64
        ),
        &perf,
    )
}

/// `ravn check capture`: the drop percentage over the daemon's window against
/// `warning`/`critical` percent; CAPTURE-DOWN is CRITICAL.
pub fn capture(path: &Path, read: Result<Status, ReadError>, now: f64, lim: &Limits) -> Outcome {
    const SVC: &str = "CAPTURE";
    let s = match load(SVC, path, read, now, lim) {
        Ok(s) => s,
        Err(o) => return o,
    };
    let cs = &s.capture;
    let pct = cs.drop_percent;
    let perf = format!(
        "dropped_pct={pct:.2}%;{};{};0;100 packets={}c;;;0 dropped={}c;;;0",
        lim.warning, lim.critical, cs.packets, cs.dropped
    );
    if s.state == State::CaptureDown {
        let quiet = cs
            .quiet_secs
            .map(|q| format!("no packet for {}s", q as u64))
            .unwrap_or_else(|| "no packet since start".into());
        return outcome(
            SVC,
            Code::Critical,
            &format!("capture is down ({quiet})"),
            &perf,
        );
    }
    let code = if pct > lim.critical {
        Code::Critical
    } else if pct > lim.warning {
        Code::Warning
    } else {
        Code::Ok
    };
    outcome(
        SVC,
        code,
        &format!(
            "{pct:.2}% dropped in last {}s ({} of {} packets)",
            cs.window_secs as u64,
            cs.window_dropped,
            cs.window_packets + cs.window_dropped
        ),
        &perf,
    )
}

/// Adds the SD-card archive's health (`archive.status` in the run directory) to a capture
/// check: failed flushes make an OK result a WARNING and are named in the text. Without an
/// archive status (archive off) the outcome is unchanged.
pub fn with_archive(o: Outcome, archive: Option<(bool, String)>) -> Outcome {
    let Some((ok, text)) = archive else {
        return o;
    };
    let (head, perf) = match o.line.split_once(" | ") {
        Some((h, p)) => (h.to_string(), Some(p.to_string())),
        None => (o.line.clone(), None),
    };
    let code = if !ok && o.code == Code::Ok {
        Code::Warning
    } else {
        o.code
    };
    let head = if code == o.code {
        head
    } else {
        head.replacen(o.code.name(), code.name(), 1)
    };
    let mut line = if ok { head } else { format!("{head}; {text}") };
    if let Some(p) = perf {
        line.push_str(" | ");
        line.push_str(&p);
    }
    Outcome { code, line }
}

/// Runs a check on the file at `path` now.
pub fn run(which: Which, path: &Path, lim: &Limits) -> Outcome {
    let now = crate::replay::now();
    let now = now.secs as f64 + f64::from(now.nanos) / 1e9;
    let read = status::read(path);
    match which {
        Which::Heartbeat => heartbeat(path, read, now, lim),
        Which::Capture => capture(path, read, now, lim),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    Heartbeat,
    Capture,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::heartbeat::status::sample;

    const NOW: f64 = 1_700_000_000.0;
    const HB: Limits = Limits {
        warning: 120.0,
        critical: 300.0,
        stale: None,
    };
    const CAP: Limits = Limits {
        warning: 1.0,
        critical: 5.0,
        stale: None,
    };

    fn hb(s: Status) -> Outcome {
        heartbeat(Path::new("/run/ravn/heartbeat.status"), Ok(s), NOW, &HB)
    }

    fn cap(s: Status) -> Outcome {
        capture(Path::new("/run/ravn/heartbeat.status"), Ok(s), NOW, &CAP)
    }

    #[test]
    fn heartbeat_ok_warning_critical() {
        let o = hb(sample(NOW));
        assert_eq!(o.code, Code::Ok);
        assert_eq!(
            o.line,
            "RAVN HEARTBEAT OK - 3 heartbeats in last 300s, last 12s ago | \
             heartbeats=3;;;0 age=12s;120;300;0 rejected=0c;;;0"
        );
        let mut s = sample(NOW);
        s.state = State::Late;
        s.last_heartbeat = Some(NOW - 150.0);
        s.recent_heartbeats = vec![NOW - 400.0, NOW - 150.0];
        let o = hb(s);
        assert_eq!(o.code, Code::Warning);
        assert_eq!(
            o.line,
            "RAVN HEARTBEAT WARNING - 1 heartbeat in last 300s, last 150s ago | \
             heartbeats=1;;;0 age=150s;120;300;0 rejected=0c;;;0"
        );
        let mut s = sample(NOW);
        s.state = State::Dead;
        s.last_heartbeat = Some(NOW - 301.0);
        s.recent_heartbeats = vec![NOW - 301.0];
        s.heartbeats.rejected = 2;
        let o = hb(s);
        assert_eq!(o.code, Code::Critical);
        assert_eq!(
            o.line,
            "RAVN HEARTBEAT CRITICAL - 0 heartbeats in last 300s, last 301s ago, 2 rejected | \
             heartbeats=0;;;0 age=301s;120;300;0 rejected=2c;;;0"
        );
    }

    #[test]
    fn heartbeat_starting_capture_down_and_none_yet() {
        let mut s = sample(NOW);
        s.state = State::Starting;
        s.started = NOW - 30.0;
        s.last_heartbeat = None;
        s.recent_heartbeats.clear();
        let o = hb(s.clone());
        assert_eq!(o.code, Code::Ok);
        assert!(
            o.line
                .contains("starting: no heartbeat yet, 30s of the 90s grace"),
            "{}",
            o.line
        );
        assert!(o
            .line
            .ends_with("| heartbeats=0;;;0 age=30s;120;300;0 rejected=0c;;;0"));
        s.state = State::Late;
        s.started = NOW - 200.0;
        let o = hb(s.clone());
        assert_eq!(o.code, Code::Warning);
        assert!(o
            .line
            .contains("no heartbeat since the daemon started 200s ago"));
        s.state = State::Dead;
        s.started = NOW - 400.0;
        assert_eq!(hb(s.clone()).code, Code::Critical);
        let mut s = sample(NOW);
        s.state = State::CaptureDown;
        s.capture.quiet_secs = Some(200.0);
        let o = hb(s);
        assert_eq!(o.code, Code::Critical);
        assert!(
            o.line.contains("capture is down (no packet for 200s)"),
            "{}",
            o.line
        );
    }

    #[test]
    fn missing_stale_corrupt_stopped_are_never_ok() {
        let p = Path::new("/run/ravn/heartbeat.status");
        for which in [Which::Heartbeat, Which::Capture] {
            let f = |r: Result<Status, ReadError>, lim: &Limits| match which {
                Which::Heartbeat => heartbeat(p, r, NOW, lim),
                Which::Capture => capture(p, r, NOW, lim),
            };
            let o = f(Err(ReadError::Missing("No such file".into())), &HB);
            assert_eq!(o.code, Code::Unknown);
            assert!(o.line.contains("is missing"), "{}", o.line);
            let o = f(Err(ReadError::Corrupt("EOF while parsing".into())), &HB);
            assert_eq!(o.code, Code::Unknown);
            assert!(
                o.line.contains("is corrupt: EOF while parsing"),
                "{}",
                o.line
            );
            let o = f(Err(ReadError::Unreadable("Permission denied".into())), &HB);
            assert_eq!(o.code, Code::Unknown);
            assert!(o.line.contains("Permission denied"), "{}", o.line);
            let mut s = sample(NOW);
            s.written = NOW - 31.0;
            let o = f(Ok(s.clone()), &HB);
            assert_eq!(o.code, Code::Critical);
            assert!(
                o.line
                    .contains("is stale: last written 31s ago (limit 30s)"),
                "{}",
                o.line
            );
            s.written = NOW - 29.0;
            assert_ne!(f(Ok(s.clone()), &HB).code, Code::Critical, "fresh enough");
            let strict = Limits {
                stale: Some(5.0),
                ..HB
            };
            assert_eq!(f(Ok(s.clone()), &strict).code, Code::Critical);
            let mut s = sample(NOW);
            s.state = State::Stopped;
            s.written = NOW - 3.0;
            let o = f(Ok(s), &HB);
            assert_eq!(o.code, Code::Critical);
            assert!(o.line.contains("the daemon stopped 3s ago"), "{}", o.line);
        }
    }

    #[test]
    fn archive_failures_warn_in_the_capture_check() {
        let ok = cap(sample(NOW));
        let o = with_archive(
            Outcome {
                code: ok.code,
                line: ok.line.clone(),
            },
            Some((false, "archive: 3 flushes, 2 failed".into())),
        );
        assert_eq!(o.code, Code::Warning);
        assert!(
            o.line.starts_with("RAVN CAPTURE WARNING - 0.00% dropped")
                && o.line
                    .contains("; archive: 3 flushes, 2 failed | dropped_pct="),
            "{}",
            o.line
        );
        let same = with_archive(
            Outcome {
                code: ok.code,
                line: ok.line.clone(),
            },
            Some((true, "archive: fine".into())),
        );
        assert_eq!((same.code, same.line), (ok.code, ok.line));
    }

    #[test]
    fn capture_drop_percentages() {
        let o = cap(sample(NOW));
        assert_eq!(o.code, Code::Ok);
        assert_eq!(
            o.line,
            "RAVN CAPTURE OK - 0.00% dropped in last 300s (0 of 3000 packets) | \
             dropped_pct=0.00%;1;5;0;100 packets=10000c;;;0 dropped=0c;;;0"
        );
        let mut s = sample(NOW);
        s.capture.window_dropped = 60;
        s.capture.window_packets = 2940;
        s.capture.dropped = 60;
        s.capture.drop_percent = 2.0;
        let o = cap(s.clone());
        assert_eq!(o.code, Code::Warning);
        assert_eq!(
            o.line,
            "RAVN CAPTURE WARNING - 2.00% dropped in last 300s (60 of 3000 packets) | \
             dropped_pct=2.00%;1;5;0;100 packets=10000c;;;0 dropped=60c;;;0"
        );
        s.capture.drop_percent = 5.5;
        assert_eq!(cap(s.clone()).code, Code::Critical);
        s.capture.drop_percent = 0.0;
        s.state = State::CaptureDown;
        s.capture.quiet_secs = None;
        let o = cap(s);
        assert_eq!(o.code, Code::Critical);
        assert!(
            o.line.contains("capture is down (no packet since start)"),
            "{}",
            o.line
        );
    }
}
