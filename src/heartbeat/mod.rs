//! Heartbeat aliveness: proof, end to end, that the sensor still sees and matches traffic.
//!
//! - `send.rs`: `ravn heartbeat send`, the ICMP echo request with the heartbeat payload.
//! - `auth.rs`: the optional HMAC-SHA256 tag and counter, and the sensor's verifier.
//! - `watch.rs`: in the matcher, the alerts of the heartbeat sids are verified and counted
//!   in atomics (no allocation, no lock).
//! - `monitor.rs`: the state machine (STARTING, ALIVE, LATE, DEAD, CAPTURE-DOWN).
//! - `status.rs`: the JSON status file in the run directory, written atomically, read by
//!   `ravn stats` and `ravn check`.
//! - `health.rs`: the daemon's health thread: monitor, LEDs, status file.
//! - `check.rs`: `ravn check heartbeat` / `ravn check capture` (Monitoring Plugins).

pub mod auth;
pub mod check;
pub mod health;
pub mod monitor;
pub mod send;
pub mod status;
pub mod watch;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// `[heartbeat]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct HeartbeatConfig {
    /// Watch the heartbeat at all (the status file and the LEDs).
    pub enabled: bool,
    /// Signature ids whose alerts are heartbeats.
    pub sids: Vec<u32>,
    /// The payload prefix the sender sends and the verifier looks for.
    pub payload: String,
    /// LATE after this many seconds without a heartbeat.
    pub warn_secs: u64,
    /// DEAD after this many.
    pub crit_secs: u64,
    /// STARTING for this long after start (unless a heartbeat comes first).
    pub grace_secs: u64,
    /// CAPTURE-DOWN after this many seconds without any packet (0: only when the capture
    /// fails).
    pub capture_down_secs: u64,
    /// HMAC key file (empty: heartbeats are not authenticated).
    pub key_file: PathBuf,
    /// An authenticated heartbeat whose counter is further than this from the packet's
    /// time is refused (0: no limit).
    pub max_skew_secs: u64,
    /// The status file, relative to `daemon.run-dir`.
    pub status_file: PathBuf,
    /// How often the status file is rewritten (milliseconds).
    pub status_interval_ms: u64,
    /// The window over which `ravn check capture` computes the drop percentage (seconds).
    pub drop_window_secs: u64,
}

impl Default for HeartbeatConfig {
    fn default() -> Self {
        HeartbeatConfig {
            enabled: true,
            sids: vec![5_100_000],
            payload: "heartbeat_ping".into(),
            warn_secs: 120,
            crit_secs: 300,
            grace_secs: 90,
            capture_down_secs: 180,
            key_file: PathBuf::new(),
            max_skew_secs: 300,
            status_file: PathBuf::from(status::STATUS_FILE),
            status_interval_ms: 1000,
            drop_window_secs: 300,
        }
    }
}

/// At most this many heartbeat sids (they are checked per alert, in a fixed array).
pub const MAX_SIDS: usize = 8;

impl HeartbeatConfig {
    /// Errors name the key.
    pub fn validate(&self) -> Result<(), String> {
        let err = |k: &str, why: &str| Err(format!("key `heartbeat.{k}`: {why}"));
        if self.sids.len() > MAX_SIDS {
            return err("sids", &format!("at most {MAX_SIDS} sids"));
        }
        if self.payload.is_empty() {
            return err("payload", "must not be empty");
        }
        if self.warn_secs == 0 {
            return err("warn-secs", "must be at least 1");
        }
        if self.crit_secs < self.warn_secs {
            return err("crit-secs", "must be at least heartbeat.warn-secs");
        }
        if self.status_file.as_os_str().is_empty() {
            return err("status-file", "must not be empty");
        }
        if !(50..=60_000).contains(&self.status_interval_ms) {
            return err("status-interval-ms", "must be 50..=60000");
        }
        if !(10..=86_400).contains(&self.drop_window_secs) {
            return err("drop-window-secs", "must be 10..=86400");
        }
        Ok(())
    }

    /// The status file's path.
    pub fn status_path(&self, run_dir: &Path) -> PathBuf {
        run_dir.join(&self.status_file)
    }

    /// The key, when one is configured (errors name the key and the file).
    pub fn key(&self) -> Result<Option<auth::Key>, String> {
        if self.key_file.as_os_str().is_empty() {
            return Ok(None);
        }
        auth::Key::load(&self.key_file)
            .map(Some)
            .map_err(|e| format!("key `heartbeat.key-file`: {e}"))
    }

    pub fn thresholds(&self) -> monitor::Thresholds {
        monitor::Thresholds {
            warn: self.warn_secs as f64,
            crit: self.crit_secs as f64,
            grace: self.grace_secs as f64,
            capture_down: self.capture_down_secs as f64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_file_errors_name_the_key_and_the_file() {
        let c = HeartbeatConfig {
            key_file: PathBuf::from("/nonexistent/heartbeat.key"),
            ..Default::default()
        };
        let e = c.key().unwrap_err();
        assert!(
            e.contains("heartbeat.key-file") && e.contains("/nonexistent/heartbeat.key"),
            "{e}"
        );
        let f = std::env::temp_dir().join(format!("ravn-hbkey-{}", std::process::id()));
        std::fs::write(&f, "short\n").unwrap();
        let c = HeartbeatConfig {
            key_file: f.clone(),
            ..Default::default()
        };
        let e = c.key().unwrap_err();
        assert!(e.contains("heartbeat.key-file") && e.contains("16"), "{e}");
        std::fs::write(&f, "  0123456789abcdef0123456789abcdef\n").unwrap();
        assert!(c.key().unwrap().is_some());
        let _ = std::fs::remove_file(&f);
        assert!(HeartbeatConfig::default().key().unwrap().is_none());
    }
}
