//! The persistent archive on the SD card, written with as little wear as possible.
//!
//! Events (alerts; by config also stats and other EVE events) are postcard-encoded records
//! with a length and a CRC32 (`record`), buffered in RAM and appended to preallocated segment
//! files (`storage`) in page-aligned chunks, each followed by one fdatasync (`writer`). A
//! flush happens when `flush-size` bytes are buffered, when the oldest buffered record is
//! `flush-interval-secs` old, or `urgent-delay-secs` after an alert at or above
//! `urgent-severity`. Beyond `daily-budget` bytes written per UTC day, low-priority records
//! (everything but alerts) are dropped and counted.
//!
//! [`Archive`] is the handle the log sink holds: `offer` copies the record into the RAM
//! buffer and returns; a flusher thread does the writing, so a slow, full or read-only card
//! never blocks the caller. Failed flushes are counted, retried every `retry-secs`, and while
//! they fail the buffer is capped at `buffer-cap` bytes (newer records beyond it are dropped,
//! counted). `close` (on SIGTERM, or at the end of a replay) flushes everything.
//!
//! `reader` reads an archive back (`ravn logs export`, `ravn logs stats`).

pub mod reader;
pub mod record;
pub mod storage;
pub mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use log::{error, info, warn};

use crate::logring::Switch;
pub use record::{Event, FlushMark};
pub use storage::{FsStorage, Storage};
pub use writer::{ArchiveStats, Now, Offer, Writer};

/// Suricata EVE event types the archive accepts in `archive.event-types`.
pub const EVENT_TYPES: &[&str] = &[
    "alert", "anomaly", "drop", "flow", "netflow", "stats", "dns", "http", "tls", "fileinfo",
];

/// `[archive]` in ravn.toml.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct ArchiveConfig {
    /// `auto`: on for the daemon, off for `ravn replay`.
    pub enabled: Switch,
    /// Directory of the segment files (on the SD card).
    pub dir: PathBuf,
    /// Bytes per segment file, allocated when the segment is created.
    pub segment_size: u64,
    /// Oldest segments are removed beyond this many bytes of segments.
    pub max_size: u64,
    /// Flush when this many bytes are buffered.
    pub flush_size: u64,
    /// Flush when the oldest buffered record is this old.
    pub flush_interval_secs: u64,
    /// Alerts with severity (rule priority) at or above this one (numerically at most:
    /// 1 is the highest) are flushed within `urgent-delay-secs`. 0: none.
    pub urgent_severity: u8,
    pub urgent_delay_secs: u64,
    /// Bytes per UTC day the archive may write; beyond it only alerts are kept. 0: no limit.
    pub daily_budget: u64,
    /// EVE event types archived.
    pub event_types: Vec<String>,
    /// RAM for records waiting while flushes fail.
    pub buffer_cap: u64,
    /// Wait between attempts after a failed flush.
    pub retry_secs: u64,
}

impl Default for ArchiveConfig {
    fn default() -> Self {
        ArchiveConfig {
            enabled: Switch::Auto,
            dir: PathBuf::from("/var/lib/ravn/archive"),
            segment_size: 16 << 20,
            max_size: 1 << 30,
            flush_size: 1 << 20,
            flush_interval_secs: 900,
            urgent_severity: 1,
            urgent_delay_secs: 2,
            daily_budget: 64 << 20,
            event_types: vec!["alert".into()],
            buffer_cap: 4 << 20,
            retry_secs: 30,
        }
    }
}

impl ArchiveConfig {
    /// Errors name the key.
    pub fn validate(&self) -> Result<(), String> {
        let page = record::PAGE as u64;
        if self.flush_size < page {
            return Err(format!(
                "key `archive.flush-size`: must be at least {page} bytes"
            ));
        }
        if self.buffer_cap < self.flush_size {
            return Err("key `archive.buffer-cap`: must be at least archive.flush-size".into());
        }
        let need = record::page_up(self.buffer_cap as usize + record::MARK_MAX) as u64;
        if self.segment_size < need || self.segment_size % page != 0 {
            return Err(format!(
                "key `archive.segment-size`: must be a multiple of {page} and at least \
                 {need} bytes (archive.buffer-cap plus a page)"
            ));
        }
        if self.max_size < 2 * self.segment_size {
            return Err("key `archive.max-size`: must be at least 2 x archive.segment-size".into());
        }
        if self.flush_interval_secs == 0 {
            return Err("key `archive.flush-interval-secs`: must be at least 1".into());
        }
        if self.retry_secs == 0 {
            return Err("key `archive.retry-secs`: must be at least 1".into());
        }
        for t in &self.event_types {
            if !EVENT_TYPES.contains(&t.as_str()) {
                return Err(format!(
                    "key `archive.event-types`: unknown event type `{t}` (known: {})",
                    EVENT_TYPES.join(", ")
                ));
            }
        }
        Ok(())
    }
}

struct State {
    front: writer::Front,
    stats: ArchiveStats,
    closing: bool,
    last_error: Option<String>,
}

struct Shared {
    state: Mutex<State>,
    cv: Condvar,
}

/// The archive, written by its own thread. See the module documentation.
pub struct Archive {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

fn lock(s: &Shared) -> std::sync::MutexGuard<'_, State> {
    s.state.lock().unwrap_or_else(|p| p.into_inner())
}

impl Archive {
    /// The archive in `cfg.dir`. `status`: a file (on tmpfs) rewritten after every flush
    /// attempt with the live counters, for `ravn logs stats` and `ravn check`.
    pub fn start(cfg: &ArchiveConfig, status: Option<PathBuf>) -> Archive {
        Self::start_with(FsStorage::new(&cfg.dir), cfg, status, Now::real)
    }

    /// As `start`, over any storage and clock.
    pub fn start_with<S: Storage>(
        storage: S,
        cfg: &ArchiveConfig,
        status: Option<PathBuf>,
        clock: fn() -> Now,
    ) -> Archive {
        let mut back = writer::Back::new(storage, cfg);
        if let Err(e) = back.recover() {
            warn!("archive: cannot open {}: {e}", cfg.dir.display());
        }
        let mut front = writer::Front::new(cfg);
        let stats = back.stats();
        front.sync_day(&stats);
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                front,
                stats,
                closing: false,
                last_error: None,
            }),
            cv: Condvar::new(),
        });
        let sh = shared.clone();
        let thread = std::thread::Builder::new()
            .name("ravn-archive".into())
            .spawn(move || flusher(sh, back, status, clock))
            .map_err(|e| error!("archive: cannot start its thread: {e}"))
            .ok();
        Archive { shared, thread }
    }

    /// Whether events of this type are archived.
    pub fn wants(&self, event_type: &str) -> bool {
        lock(&self.shared).front.wants(event_type)
    }

    /// Buffer an event; never waits for storage.
    pub fn offer(&self, ev: &Event<'_>) -> Offer {
        let mut st = lock(&self.shared);
        let o = st.front.offer(ev, Now::real());
        if matches!(o, Offer::Buffered { wake: true }) {
            self.shared.cv.notify_one();
        }
        o
    }

    /// As `offer`, but for a producer that may wait (offline replay, not the packet path):
    /// while the card keeps up but the buffer is over half full, wait (up to `max_wait`) for
    /// the writer to drain it instead of dropping. A failing card is never waited for.
    pub fn offer_waiting(&self, ev: &Event<'_>, max_wait: std::time::Duration) -> Offer {
        let t0 = std::time::Instant::now();
        loop {
            {
                let st = lock(&self.shared);
                if !st.front.half_full() || st.front.failed_run() > 0 || t0.elapsed() >= max_wait {
                    break;
                }
            }
            self.shared.cv.notify_one();
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        self.offer(ev)
    }

    pub fn stats(&self) -> ArchiveStats {
        let st = lock(&self.shared);
        combined(&st)
    }

    /// Flush everything and stop the thread (SIGTERM, end of replay).
    pub fn close(mut self) -> ArchiveStats {
        self.stop();
        self.stats()
    }

    fn stop(&mut self) {
        lock(&self.shared).closing = true;
        self.shared.cv.notify_one();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Archive {
    fn drop(&mut self) {
        self.stop();
    }
}

fn combined(st: &State) -> ArchiveStats {
    let mut s = st.stats;
    s.buffered = st.front.buffered() as u64;
    s.failed_flushes_run = st.front.failed_run();
    let (b, o) = st.front.dropped();
    s.mark.dropped_budget = s.base_dropped.0 + b;
    s.mark.dropped_overflow = s.base_dropped.1 + o;
    s
}

fn flusher<S: Storage>(
    sh: Arc<Shared>,
    mut back: writer::Back<S>,
    status: Option<PathBuf>,
    clock: fn() -> Now,
) {
    let mut flushed_records = 0u64;
    loop {
        let mut st = lock(&sh);
        let job = loop {
            let now = clock();
            if st.closing {
                if st.front.is_empty() {
                    return;
                }
                break st.front.take();
            }
            if st.front.due(now) {
                break st.front.take();
            }
            st = match st.front.deadline() {
                Some(d) => {
                    let wait = Duration::from_millis(d.saturating_sub(now.mono_ms).max(1));
                    sh.cv
                        .wait_timeout(st, wait)
                        .unwrap_or_else(|p| p.into_inner())
                        .0
                }
                None => sh.cv.wait(st).unwrap_or_else(|p| p.into_inner()),
            };
        };
        let closing = st.closing;
        drop(st);
        let mut job = job;
        let records = job.records();
        let now = clock();
        let r = back.write(&mut job, now);
        let mut st = lock(&sh);
        let bs = back.stats();
        st.stats = bs;
        st.front.complete(job, r.is_ok(), &bs, now);
        match &r {
            Ok(()) => {
                flushed_records += records;
                st.last_error = None;
                info!(
                    "archive: flushed {records} records ({} this run), {} bytes written in total",
                    flushed_records, st.stats.mark.bytes_total
                );
            }
            Err(e) => {
                warn!(
                    "archive: flush failed ({} failed this run): {e}",
                    st.front.failed_run()
                );
                st.last_error = Some(e.to_string());
            }
        }
        let snapshot = combined(&st);
        let last_error = st.last_error.clone();
        if closing && r.is_err() {
            let lost = st.front.records_pending();
            error!("archive: {lost} records could not be written at exit");
            drop(st);
            write_status(status.as_deref(), &snapshot, last_error.as_deref());
            return;
        }
        drop(st);
        write_status(status.as_deref(), &snapshot, last_error.as_deref());
    }
}

/// The live status file: `key value` lines, replaced atomically (it lives on tmpfs).
fn write_status(path: Option<&Path>, s: &ArchiveStats, last_error: Option<&str>) {
    let Some(path) = path else { return };
    let text = status_text(s, last_error);
    let tmp = path.with_extension("tmp");
    if std::fs::write(&tmp, text).is_ok() {
        let _ = std::fs::rename(&tmp, path);
    }
}

/// The status file's contents.
pub fn status_text(s: &ArchiveStats, last_error: Option<&str>) -> String {
    let m = &s.mark;
    let mut t = String::new();
    use std::fmt::Write;
    let _ = writeln!(t, "updated {}", Now::real().unix_secs);
    let _ = writeln!(t, "flushes {}", m.flushes);
    let _ = writeln!(t, "failed-flushes {}", m.failed_flushes);
    let _ = writeln!(t, "failed-flushes-this-run {}", s.failed_flushes_run);
    let _ = writeln!(t, "bytes-total {}", m.bytes_total);
    let _ = writeln!(t, "bytes-today {}", m.bytes_today);
    let _ = writeln!(t, "records {}", m.records);
    let _ = writeln!(t, "buffered-bytes {}", s.buffered);
    let _ = writeln!(t, "dropped-budget {}", m.dropped_budget);
    let _ = writeln!(t, "dropped-overflow {}", m.dropped_overflow);
    let _ = writeln!(t, "last-error {}", last_error.unwrap_or("-"));
    t
}

/// Read a status file back as `(key, value)` pairs.
pub fn read_status(path: &Path) -> Option<Vec<(String, String)>> {
    let text = std::fs::read_to_string(path).ok()?;
    Some(
        text.lines()
            .filter_map(|l| l.split_once(' '))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

/// For `ravn check`: the archive's health from the status file in `run_dir`. None when no
/// status file exists (archive off, or nothing flushed yet); else whether the last flush
/// attempt succeeded, and a one-line summary that names the failed flushes.
pub fn health(run_dir: &Path) -> Option<(bool, String)> {
    let st = read_status(&run_dir.join(STATUS_FILE))?;
    let get = |k: &str| {
        st.iter()
            .find(|(kk, _)| kk == k)
            .map(|(_, v)| v.as_str())
            .unwrap_or("-")
    };
    let last = get("last-error");
    let ok = last == "-";
    let mut line = format!(
        "archive: {} flushes, {} failed ({} this run), {} records dropped (budget {}, overflow {})",
        get("flushes"),
        get("failed-flushes"),
        get("failed-flushes-this-run"),
        get("dropped-budget")
            .parse::<u64>()
            .unwrap_or(0)
            .saturating_add(get("dropped-overflow").parse::<u64>().unwrap_or(0)),
        get("dropped-budget"),
        get("dropped-overflow"),
    );
    if !ok {
        line.push_str(&format!("; last flush failed: {last}"));
    }
    Some((ok, line))
}

/// The status file's name in the run directory.
pub const STATUS_FILE: &str = "archive.status";
