//! The status file: the heartbeat monitor's state and counters as one JSON object, in the
//! run directory (tmpfs). Rewritten every `heartbeat.status-interval-ms` by writing a
//! temporary file next to it and renaming it over the old one, so a reader sees the old or
//! the new file, never half of one. Mode 0644: the icinga user reads it without sudo.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::monitor::State;

pub const STATUS_FILE: &str = "heartbeat.status";
pub const VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeartbeatCounts {
    pub accepted: u64,
    pub rejected: u64,
    pub unauthenticated: u64,
    pub bad_tag: u64,
    pub replayed: u64,
    pub stale: u64,
    pub malformed: u64,
    /// The last accepted counter (authenticated heartbeats; 0 otherwise).
    pub last_counter: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaptureStatus {
    /// Packets the matcher received since start.
    pub packets: u64,
    /// Packets lost before the matcher (kernel and frame ring) since start.
    pub dropped: u64,
    /// The window the next three figures cover (seconds; shorter just after start).
    pub window_secs: f64,
    pub window_packets: u64,
    pub window_dropped: u64,
    /// window_dropped / (window_packets + window_dropped), in percent.
    pub drop_percent: f64,
    /// Seconds since the last packet (null: none yet).
    pub quiet_secs: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    pub warn: u64,
    pub crit: u64,
    pub grace: u64,
    pub capture_down: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Status {
    pub version: u32,
    pub pid: u32,
    /// When this was written (unix seconds).
    pub written: f64,
    /// How often it is rewritten (seconds).
    pub interval: f64,
    pub started: f64,
    pub state: State,
    pub state_since: f64,
    /// The last accepted heartbeat's packet time (unix seconds).
    pub last_heartbeat: Option<f64>,
    /// The most recent accepted heartbeats' times, oldest first (at most `RECENT`).
    pub recent_heartbeats: Vec<f64>,
    pub authenticated: bool,
    pub heartbeats: HeartbeatCounts,
    pub thresholds: Thresholds,
    pub capture: CaptureStatus,
}

/// Heartbeat times kept in the file.
pub const RECENT: usize = 64;

/// Writes `s` to `path` atomically (temporary file + rename), mode 0644.
pub fn write(path: &Path, s: &Status) -> std::io::Result<()> {
    let mut text = serde_json::to_vec_pretty(s).map_err(std::io::Error::other)?;
    text.push(b'\n');
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o644)
            .open(&tmp)?;
        f.write_all(&text)?;
    }
    // the mode given to open() is reduced by the umask
    std::fs::set_permissions(&tmp, std::os::unix::fs::PermissionsExt::from_mode(0o644))?;
    std::fs::rename(&tmp, path)
}

/// Why a status file could not be read.
#[derive(Debug)]
pub enum ReadError {
    Missing(String),
    Unreadable(String),
    Corrupt(String),
}

/// Reads and parses the status file.
pub fn read(path: &Path) -> Result<Status, ReadError> {
    let text = match std::fs::read(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ReadError::Missing(e.to_string()))
        }
        Err(e) => return Err(ReadError::Unreadable(e.to_string())),
    };
    let s: Status = serde_json::from_slice(&text).map_err(|e| ReadError::Corrupt(e.to_string()))?;
    if s.version != VERSION {
        return Err(ReadError::Corrupt(format!(
            "version {} (this ravn reads {VERSION})",
            s.version
        )));
    }
    Ok(s)
}

/// `ravn stats`' view of the status: `name value` lines.
pub fn text_lines(s: &Status, now: f64) -> String {
    let mut o = String::new();
    use std::fmt::Write;
    let _ = writeln!(o, "heartbeat.state {}", s.state);
    let _ = writeln!(
        o,
        "heartbeat.state_secs {}",
        (now - s.state_since).max(0.0) as u64
    );
    match s.last_heartbeat {
        Some(t) => {
            let _ = writeln!(o, "heartbeat.last_age_secs {}", (now - t).max(0.0) as u64);
        }
        None => {
            let _ = writeln!(o, "heartbeat.last_age_secs none");
        }
    }
    let _ = writeln!(o, "heartbeat.authenticated {}", s.authenticated);
    let _ = writeln!(
        o,
        "heartbeat.status_age_secs {}",
        (now - s.written).max(0.0) as u64
    );
    let _ = writeln!(o, "capture.drop_percent {:.2}", s.capture.drop_percent);
    o
}

#[cfg(test)]
pub fn sample(now: f64) -> Status {
    Status {
        version: VERSION,
        pid: 1,
        written: now,
        interval: 1.0,
        started: now - 1000.0,
        state: State::Alive,
        state_since: now - 500.0,
        last_heartbeat: Some(now - 12.0),
        recent_heartbeats: vec![now - 400.0, now - 252.0, now - 132.0, now - 12.0],
        authenticated: true,
        heartbeats: HeartbeatCounts {
            accepted: 4,
            rejected: 0,
            unauthenticated: 0,
            bad_tag: 0,
            replayed: 0,
            stale: 0,
            malformed: 0,
            last_counter: 0,
        },
        thresholds: Thresholds {
            warn: 120,
            crit: 300,
            grace: 90,
            capture_down: 180,
        },
        capture: CaptureStatus {
            packets: 10_000,
            dropped: 0,
            window_secs: 300.0,
            window_packets: 3000,
            window_dropped: 0,
            drop_percent: 0.0,
            quiet_secs: Some(0.1),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn written_atomically_readable_by_others_and_read_back() {
        let dir = std::env::temp_dir().join(format!("ravn-status-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(STATUS_FILE);
        let s = sample(1_700_000_000.0);
        write(&p, &s).unwrap();
        assert_eq!(read(&p).unwrap(), s);
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644);
        assert!(!dir.join("heartbeat.status.tmp").exists());
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.contains("\"state\": \"ALIVE\""), "{text}");
        // corrupt and missing are told apart
        std::fs::write(&p, &text[..text.len() / 2]).unwrap();
        assert!(matches!(read(&p), Err(ReadError::Corrupt(_))));
        std::fs::write(&p, text.replace("\"version\": 1", "\"version\": 9")).unwrap();
        assert!(matches!(read(&p), Err(ReadError::Corrupt(_))));
        assert!(matches!(
            read(&dir.join("nope")),
            Err(ReadError::Missing(_))
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
