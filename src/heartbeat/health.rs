//! The daemon's health thread: every 50 ms it reads what the matcher counted, steps the
//! monitor, drives the LEDs, and every `heartbeat.status-interval-ms` rewrites the status
//! file. Once a second it looks for `<run-dir>/firstboot.error` (a configuration fault the
//! first-boot script left), which the LEDs show while it exists. Off the packet path: it
//! only reads atomics.

use std::collections::VecDeque;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::monitor::{Monitor, Observation, State};
use super::status::{self, CaptureStatus, HeartbeatCounts, Status, RECENT};
use super::watch::HeartbeatCounters;
use super::HeartbeatConfig;
use crate::leds::Driver;
use crate::pipeline::counters::CaptureCounters;

const TICK: Duration = Duration::from_millis(50);

/// The monitor's state as a number, for `ravn stats` without a lock.
pub fn state_code(s: State) -> u8 {
    s as u8
}

pub fn state_from_code(c: u8) -> State {
    match c {
        0 => State::Starting,
        1 => State::Alive,
        2 => State::Late,
        3 => State::Dead,
        4 => State::CaptureDown,
        _ => State::Stopped,
    }
}

/// What the health thread reads and publishes.
pub struct HealthShared {
    pub counters: Arc<HeartbeatCounters>,
    pub state: AtomicU8,
    pub stop: AtomicBool,
    /// The health thread runs (`heartbeat.enabled`).
    pub running: AtomicBool,
}

impl HealthShared {
    pub fn new(counters: Arc<HeartbeatCounters>) -> HealthShared {
        HealthShared {
            counters,
            state: AtomicU8::new(state_code(State::Starting)),
            stop: AtomicBool::new(false),
            running: AtomicBool::new(false),
        }
    }
}

/// Where the first-boot script leaves the problems of a refused
/// /boot/firmware/ravn-firstboot.toml, in the run directory.
pub const CONFIG_FAULT_FILE: &str = "firstboot.error";
/// How often the fault file is looked for, in seconds.
const CONFIG_FAULT_CHECK_SECS: f64 = 1.0;
/// How much of the fault file is read for its first line.
const CONFIG_FAULT_READ_MAX: u64 = 4096;

/// What changed about the configuration fault (the text is the log line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultChange {
    Appeared(String),
    Cleared(String),
}

/// The configuration fault: whether `<run-dir>/firstboot.error` exists, looked at once a
/// second.
pub struct ConfigFault {
    path: PathBuf,
    present: bool,
    last_check: Option<f64>,
}

impl ConfigFault {
    pub fn new(run_dir: &Path) -> ConfigFault {
        ConfigFault {
            path: run_dir.join(CONFIG_FAULT_FILE),
            present: false,
            last_check: None,
        }
    }

    pub fn active(&self) -> bool {
        self.present
    }

    /// Looks at the file if a second has passed since the last look (`t` in seconds);
    /// returns what changed.
    pub fn poll(&mut self, t: f64) -> Option<FaultChange> {
        if self
            .last_check
            .is_some_and(|c| t - c < CONFIG_FAULT_CHECK_SECS)
        {
            return None;
        }
        self.last_check = Some(t);
        let present = std::fs::symlink_metadata(&self.path).is_ok();
        if present == self.present {
            return None;
        }
        self.present = present;
        let p = self.path.display();
        Some(if present {
            FaultChange::Appeared(format!(
                "configuration fault: {} (see {p})",
                first_line(&self.path)
            ))
        } else {
            FaultChange::Cleared(format!("configuration fault cleared ({p} is gone)"))
        })
    }
}

/// The first line of a fault file (at most its first 4 KiB read), for the log.
fn first_line(path: &Path) -> String {
    let mut buf = Vec::new();
    let read =
        std::fs::File::open(path).and_then(|f| f.take(CONFIG_FAULT_READ_MAX).read_to_end(&mut buf));
    if let Err(e) = read {
        return format!("(unreadable: {e})");
    }
    let text = String::from_utf8_lossy(&buf);
    match text.lines().map(str::trim).find(|l| !l.is_empty()) {
        Some(l) => l.to_string(),
        None => "(no details in the file)".to_string(),
    }
}

fn wall() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// The health thread's loop state.
pub struct Health {
    cfg: HeartbeatConfig,
    path: PathBuf,
    monitor: Monitor,
    leds: Driver,
    t0: Instant,
    wall0: f64,
    recent: VecDeque<f64>,
    /// (seconds since start, packets, dropped), one a second over the drop window.
    samples: VecDeque<(f64, u64, u64)>,
    last_sample: f64,
    last_dropped: u64,
    last_write: Option<f64>,
    authenticated: bool,
    write_failed: bool,
    config_fault: ConfigFault,
}

impl Health {
    pub fn new(
        cfg: &HeartbeatConfig,
        run_dir: &std::path::Path,
        leds: Driver,
        authenticated: bool,
    ) -> Health {
        let t0 = Instant::now();
        Health {
            path: cfg.status_path(run_dir),
            monitor: Monitor::new(cfg.thresholds(), 0.0),
            cfg: cfg.clone(),
            leds,
            t0,
            wall0: wall(),
            recent: VecDeque::with_capacity(RECENT + 1),
            samples: VecDeque::with_capacity(cfg.drop_window_secs as usize + 2),
            last_sample: -1.0,
            last_dropped: 0,
            last_write: None,
            authenticated,
            write_failed: false,
            config_fault: ConfigFault::new(run_dir),
        }
    }

    fn dropped(capture: &CaptureCounters) -> u64 {
        capture.kernel_drops.load(Relaxed) + capture.ring_drops.load(Relaxed)
    }

    /// One tick.
    pub fn step(&mut self, hs: &HealthShared, capture: &CaptureCounters) {
        self.step_at(self.t0.elapsed().as_secs_f64(), hs, capture);
    }

    /// One tick, `t` seconds after the start.
    fn step_at(&mut self, t: f64, hs: &HealthShared, capture: &CaptureCounters) {
        let ms = (t * 1000.0) as u64;
        let c = &hs.counters;
        let o = Observation {
            packets: c.packets.load(Relaxed),
            heartbeats: c.accepted.load(Relaxed),
            capture_failed: c.capture_failed.load(Relaxed),
        };
        let (changed, new_hb) = self.monitor.update(t, o);
        if new_hb > 0 {
            let ts = c.last_ts_us.load(Relaxed) as f64 / 1e6;
            for _ in 0..new_hb.min(RECENT as u64) {
                if self.recent.len() == RECENT {
                    self.recent.pop_front();
                }
                self.recent.push_back(ts);
            }
            self.leds.heartbeat(ms);
        }
        let dropped = Self::dropped(capture);
        if dropped > self.last_dropped {
            self.leds.drops(ms);
            self.last_dropped = dropped;
        }
        if t - self.last_sample >= 1.0 {
            self.samples.push_back((t, o.packets, dropped));
            let window = self.cfg.drop_window_secs as f64;
            while self.samples.len() > 1 && self.samples.front().is_some_and(|s| t - s.0 > window) {
                self.samples.pop_front();
            }
            self.last_sample = t;
        }
        let state = self.monitor.state();
        if let Some(s) = changed {
            log::info!("heartbeat: {s}");
        }
        hs.state.store(state_code(state), Relaxed);
        match self.config_fault.poll(t) {
            Some(FaultChange::Appeared(m)) => log::warn!("{m}"),
            Some(FaultChange::Cleared(m)) => log::info!("{m}"),
            None => {}
        }
        self.leds.config_fault(self.config_fault.active(), ms);
        self.leds.show(state, ms);
        let every = self.cfg.status_interval_ms as f64 / 1000.0;
        if changed.is_some() || self.last_write.is_none_or(|w| t - w >= every) {
            self.write(state, hs, capture);
            self.last_write = Some(t);
        }
    }

    /// The status now.
    pub fn status(&self, state: State, hs: &HealthShared, capture: &CaptureCounters) -> Status {
        let t = self.t0.elapsed().as_secs_f64();
        let c = &hs.counters;
        let packets = c.packets.load(Relaxed);
        let dropped = Self::dropped(capture);
        let (wt, wp, wd) = self
            .samples
            .front()
            .copied()
            .unwrap_or((t, packets, dropped));
        let window_packets = packets.saturating_sub(wp);
        let window_dropped = dropped.saturating_sub(wd);
        let total = window_packets + window_dropped;
        let th = self.cfg.thresholds();
        Status {
            version: status::VERSION,
            pid: std::process::id(),
            written: self.wall0 + t,
            interval: self.cfg.status_interval_ms as f64 / 1000.0,
            started: self.wall0,
            state,
            state_since: self.wall0 + self.monitor.since(),
            last_heartbeat: self.recent.back().copied(),
            recent_heartbeats: self.recent.iter().copied().collect(),
            authenticated: self.authenticated,
            heartbeats: HeartbeatCounts {
                accepted: c.accepted.load(Relaxed),
                rejected: c.rejected(),
                unauthenticated: c.unauthenticated.load(Relaxed),
                bad_tag: c.bad_tag.load(Relaxed),
                replayed: c.replayed.load(Relaxed),
                stale: c.stale.load(Relaxed),
                malformed: c.malformed.load(Relaxed),
                last_counter: c.last_counter.load(Relaxed),
            },
            thresholds: status::Thresholds {
                warn: th.warn as u64,
                crit: th.crit as u64,
                grace: th.grace as u64,
                capture_down: th.capture_down as u64,
            },
            capture: CaptureStatus {
                packets,
                dropped,
                window_secs: (t - wt).max(0.0),
                window_packets,
                window_dropped,
                drop_percent: if total == 0 {
                    0.0
                } else {
                    window_dropped as f64 * 100.0 / total as f64
                },
                quiet_secs: self.monitor.last_packet().map(|p| t - p),
            },
        }
    }

    fn write(&mut self, state: State, hs: &HealthShared, capture: &CaptureCounters) {
        let s = self.status(state, hs, capture);
        match status::write(&self.path, &s) {
            Ok(()) => self.write_failed = false,
            Err(e) => {
                if !self.write_failed {
                    log::error!("heartbeat status {}: {e}", self.path.display());
                }
                self.write_failed = true;
            }
        }
    }

    /// The daemon stopped: STOPPED in the file, LEDs off.
    pub fn finish(&mut self, hs: &HealthShared, capture: &CaptureCounters) {
        self.leds.show(
            State::Stopped,
            (self.t0.elapsed().as_secs_f64() * 1000.0) as u64,
        );
        self.leds.off();
        hs.state.store(state_code(State::Stopped), Relaxed);
        self.write(State::Stopped, hs, capture);
    }
}

/// The last accepted counter an earlier run left in the status file (so a replay of its
/// heartbeats is refused after a restart too).
pub fn previous_counter(path: &std::path::Path) -> u64 {
    status::read(path)
        .map(|s| s.heartbeats.last_counter)
        .unwrap_or(0)
}

/// Runs the health thread until `hs.stop`.
pub fn run(mut h: Health, shared: Arc<crate::pipeline::Shared>) {
    let hs = shared.health.clone();
    log::info!(
        "heartbeat monitor: status in {}, LEDs: {}",
        h.path.display(),
        h.leds.describe()
    );
    while !hs.stop.load(Relaxed) {
        if shared
            .capture_done
            .load(std::sync::atomic::Ordering::Acquire)
        {
            let failed = shared
                .capture_error
                .try_lock()
                .map(|g| g.is_some())
                .unwrap_or(false);
            if failed {
                hs.counters.capture_failed.store(true, Relaxed);
            }
        }
        h.step(&hs, &shared.capture);
        std::thread::sleep(TICK);
    }
    h.finish(&hs, &shared.capture);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::leds::{Color, Leds, PatternsConfig};
    use std::sync::Mutex;

    /// A backend that keeps which lights are on.
    #[derive(Clone, Default)]
    struct Lights(Arc<Mutex<[bool; 3]>>);

    impl Leds for Lights {
        fn set(&mut self, c: Color, on: bool) -> std::io::Result<()> {
            self.0.lock().unwrap()[c as usize] = on;
            Ok(())
        }
        fn describe(&self) -> String {
            "lights".into()
        }
    }

    fn run_dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("ravn-health-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn config_fault_is_looked_at_once_a_second_and_each_change_reported_once() {
        let dir = run_dir("poll");
        let file = dir.join("firstboot.error");
        let mut f = ConfigFault::new(&dir);
        assert_eq!(f.poll(0.0), None);
        std::fs::write(
            &file,
            "\n  /boot/firmware/ravn-firstboot.toml: key `tzsp-allow`: `nope` is not an \
             address  \n/boot/firmware/ravn-firstboot.toml: line 3: expected `key = value`\n",
        )
        .unwrap();
        assert_eq!(f.poll(0.95), None, "not looked at yet");
        assert!(!f.active());
        assert_eq!(
            f.poll(1.0),
            Some(FaultChange::Appeared(format!(
                "configuration fault: /boot/firmware/ravn-firstboot.toml: key `tzsp-allow`: \
                 `nope` is not an address (see {})",
                file.display()
            )))
        );
        assert!(f.active());
        assert_eq!(f.poll(2.0), None, "still there: not reported again");
        assert_eq!(f.poll(3.0), None);
        std::fs::remove_file(&file).unwrap();
        assert_eq!(
            f.poll(4.0),
            Some(FaultChange::Cleared(format!(
                "configuration fault cleared ({} is gone)",
                file.display()
            )))
        );
        assert!(!f.active());
        assert_eq!(f.poll(5.0), None);
        // an empty file is a fault too; garbage is no reason to panic
        std::fs::write(&file, "").unwrap();
        assert!(
            matches!(f.poll(6.0), Some(FaultChange::Appeared(m)) if m.starts_with("configuration fault: (no details in the file) (see "))
        );
        std::fs::remove_file(&file).unwrap();
        f.poll(7.0);
        std::fs::write(&file, [0xff, 0xfe, 0, b'\r', b'\n', b'x']).unwrap();
        assert!(
            matches!(f.poll(8.0), Some(FaultChange::Appeared(m)) if m.starts_with("configuration fault: \u{fffd}\u{fffd}\0 (see "))
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn health_step_shows_the_config_fault_on_the_leds() {
        let dir = run_dir("step");
        let lights = Lights::default();
        let driver = Driver::new(
            Box::new(lights.clone()),
            PatternsConfig::default().parse().unwrap(),
        );
        let mut h = Health::new(&HeartbeatConfig::default(), &dir, driver, false);
        let hs = HealthShared::new(Arc::new(HeartbeatCounters::default()));
        let capture = CaptureCounters::default();
        let red = || lights.0.lock().unwrap()[Color::Red as usize];
        let amber = || lights.0.lock().unwrap()[Color::Amber as usize];
        // STARTING: amber blinks, red is dark
        h.step_at(0.0, &hs, &capture);
        assert!(amber() && !red());
        std::fs::write(dir.join("firstboot.error"), "key `ssh-key`: bad\n").unwrap();
        h.step_at(0.5, &hs, &capture);
        assert!(!red(), "looked at once a second");
        // seen at 1.0 s: red blinks at 1 Hz from then, over the state's amber blink
        let mut seen = String::new();
        for i in 0..8 {
            h.step_at(1.0 + i as f64 * 0.25, &hs, &capture);
            seen.push(if red() { 'R' } else { '.' });
        }
        assert_eq!(seen, "RR..RR..");
        std::fs::remove_file(dir.join("firstboot.error")).unwrap();
        h.step_at(3.0, &hs, &capture);
        assert!(!red(), "cleared");
        h.step_at(3.5, &hs, &capture);
        assert!(!red());
        // the status file went to the same run directory
        assert!(dir.join(HeartbeatConfig::default().status_file).exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
