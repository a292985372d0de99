//! The live pipeline behind `ravn run`:
//!
//! ```text
//! capture thread ──FrameSlot──▶ [frame ring = frame pool] ──▶ matcher thread ──AlertSlot──▶ [alert ring] ──▶ output thread
//!  (LiveSource)                  SPSC, lock-free, fixed         (pinned; decode,               SPSC, fixed         (fast.log, eve.json,
//!                                slots; full → drop + count)     flow, detect)                   slots                stats events)
//! ```
//!
//! - The frame ring's slots are the frame pool: allocated once, written in place by the
//!   capture thread, read in place by the matcher, never copied through the ring.
//! - Capture never blocks on the matcher: when the ring is full the frame is dropped and
//!   counted (`capture.ring_drops`). The pcap source is the exception: a file has no kernel
//!   buffer to lose packets from, so it waits (which keeps it identical to `ravn replay`).
//! - The matcher formats alert lines into preallocated alert slots; if the output thread falls
//!   behind, the matcher waits for it (alerts are never dropped), and the frame ring absorbs
//!   the delay or drops at capture, counted.
//! - The engine is swapped between two packets, without locks on the packet path (an atomic
//!   flag, then `try_lock`); the old engine is dropped by the thread that built the new one.

pub mod counters;
pub mod frame;
pub mod process;
pub mod ring;

use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use log::{error, info, warn};

use crate::daemon::notify::Notifier;
use crate::detect::Engine;
use crate::output::stats::EngineInfo;
use crate::output::{alert, Outputs};
use counters::CaptureCounters;
use frame::FrameSlot;
use process::{BuiltEngine, Emit, Processor, ProcessorStats};

/// One formatted alert: its fast.log line and its EVE line (either may be empty when that
/// output is off). The strings keep their capacity: formatting into them does not allocate.
pub struct AlertSlot {
    pub fast: String,
    pub eve: String,
    /// Set for alerts (not for tagged packets): what the archive files them under.
    pub meta: Option<crate::output::AlertMeta>,
}

impl AlertSlot {
    pub fn new() -> AlertSlot {
        AlertSlot {
            fast: String::with_capacity(1024),
            eve: String::with_capacity(4096),
            meta: None,
        }
    }
}

impl Default for AlertSlot {
    fn default() -> Self {
        AlertSlot::new()
    }
}

/// State the daemon's threads share.
pub struct Shared {
    pub capture: CaptureCounters,
    /// The matcher's counters, published a few times a second and at exit.
    pub processor: Mutex<ProcessorStats>,
    pub engine_info: Mutex<EngineInfo>,
    /// A new engine waiting to be swapped in (`reload_pending` says so without a lock).
    pub reload: Mutex<Option<BuiltEngine>>,
    pub reload_pending: AtomicBool,
    /// The engine the matcher swapped out, for the reloading thread to drop.
    pub retired: Mutex<Option<Engine>>,
    /// Reloads the matcher has applied.
    pub reloads: AtomicU64,
    /// Ask the capture thread to stop.
    pub stop: AtomicBool,
    /// The capture thread has stopped: nothing more will enter the frame ring.
    pub capture_done: AtomicBool,
    /// The matcher has drained the frame ring and stopped.
    pub matcher_done: AtomicBool,
    /// The output thread has written and flushed everything.
    pub output_done: AtomicBool,
    /// Why the capture stopped, when it failed.
    pub capture_error: Mutex<Option<String>>,
    /// The matcher thread's kernel thread id (for tests and `ravn stats`).
    pub matcher_tid: AtomicI32,
    pub started: Instant,
    /// The heartbeat watch's counters and the monitor's state.
    pub health: Arc<crate::heartbeat::health::HealthShared>,
}

impl Shared {
    pub fn new(info: EngineInfo) -> Shared {
        Shared {
            capture: CaptureCounters::default(),
            processor: Mutex::new(ProcessorStats::default()),
            engine_info: Mutex::new(info),
            reload: Mutex::new(None),
            reload_pending: AtomicBool::new(false),
            retired: Mutex::new(None),
            reloads: AtomicU64::new(0),
            stop: AtomicBool::new(false),
            capture_done: AtomicBool::new(false),
            matcher_done: AtomicBool::new(false),
            output_done: AtomicBool::new(false),
            capture_error: Mutex::new(None),
            matcher_tid: AtomicI32::new(0),
            started: Instant::now(),
            health: Arc::new(crate::heartbeat::health::HealthShared::new(Arc::default())),
        }
    }

    /// The EVE stats event for the counters now.
    pub fn stats_line(&self) -> String {
        let proc = self.processor.lock().map(|g| g.clone()).unwrap_or_default();
        let info = self.engine_info.lock().map(|g| *g).unwrap_or(EngineInfo {
            last_reload: crate::replay::now(),
            rules_loaded: 0,
            rules_failed: 0,
            rules_skipped: 0,
        });
        let counters = counters::collect(&self.capture, &proc);
        let mut line = String::new();
        crate::output::stats::eve_line(
            &mut line,
            crate::replay::now(),
            self.started.elapsed().as_secs(),
            &counters,
            &info,
        );
        line
    }
}

/// How the matcher thread runs.
pub struct MatcherOptions {
    pub core: Option<usize>,
    /// SCHED_FIFO priority (0: normal scheduling).
    pub sched_fifo: u8,
    pub fast: bool,
    pub eve: bool,
    /// systemd watchdog: ping this often.
    pub watchdog: Option<(Notifier, Duration)>,
    /// The packets carry the wall clock (a kernel or TZSP source, not a capture file), so
    /// an idle matcher may time flows out by it.
    pub wall_clock: bool,
}

/// The CPUs the calling thread may run on (its affinity mask: systemd's `CPUAffinity=`,
/// `taskset`), in ascending order. Core numbers are the kernel's, so a process limited to
/// cores 1-3 of four has three cores, numbered 1, 2 and 3.
pub fn allowed_cores() -> std::io::Result<Vec<usize>> {
    // SAFETY: cpu_set_t is plain data; sched_getaffinity(0) reads the calling thread's mask.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok((0..libc::CPU_SETSIZE as usize)
            .filter(|&c| libc::CPU_ISSET(c, &set))
            .collect())
    }
}

/// Checks that `core` (the value of config key `key`) is one this process may run on; the
/// error names the key, the core and the allowed ones.
pub fn check_core(key: &str, core: usize, allowed: &[usize]) -> Result<(), String> {
    if allowed.contains(&core) {
        return Ok(());
    }
    let list: Vec<String> = allowed.iter().map(|c| c.to_string()).collect();
    Err(format!(
        "key `{key}`: core {core} is not one ravn may run on (allowed: {}; the set comes \
         from the machine's CPUs and systemd's CPUAffinity= or taskset)",
        list.join(",")
    ))
}

/// Pins the calling thread to `core`.
pub fn pin_current_thread(core: usize) -> std::io::Result<()> {
    // SAFETY: cpu_set_t is plain data; sched_setaffinity(0) applies to the calling thread.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if core >= libc::CPU_SETSIZE as usize {
            return Err(std::io::Error::from_raw_os_error(libc::EINVAL));
        }
        libc::CPU_SET(core, &mut set);
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Runs the calling thread with SCHED_FIFO at `prio`.
pub fn set_fifo(prio: u8) -> std::io::Result<()> {
    let p = libc::sched_param {
        sched_priority: i32::from(prio),
    };
    // SAFETY: plain syscall on the calling thread.
    if unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &p) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// The calling thread's kernel id.
pub fn gettid() -> i32 {
    // SAFETY: no arguments, always succeeds.
    unsafe { libc::syscall(libc::SYS_gettid) as i32 }
}

const BATCH: usize = 64;
const PUBLISH_EVERY: Duration = Duration::from_millis(200);

/// How often the matcher runs the flow-timeout sweep by the wall clock when the ring is
/// empty (with packets flowing, the sweep runs on their time).
const IDLE_SWEEP_EVERY: Duration = Duration::from_secs(1);

/// The wall clock as a packet timestamp (live captures stamp packets with it).
fn wall_clock() -> crate::capture::Timestamp {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    crate::capture::Timestamp {
        secs: d.as_secs() as i64,
        nanos: d.subsec_nanos(),
    }
}

/// The matcher thread: frames in, alert lines out, until the capture has stopped and the
/// frame ring is empty.
pub fn run_matcher(
    mut frames: ring::Consumer<FrameSlot>,
    mut alerts: ring::Producer<AlertSlot>,
    mut engine: Engine,
    mut proc: Processor,
    shared: Arc<Shared>,
    mut opts: MatcherOptions,
) {
    shared.matcher_tid.store(gettid(), Ordering::Relaxed);
    if let Some(core) = opts.core {
        if let Err(e) = pin_current_thread(core) {
            error!("matcher: cannot pin to core {core}: {e}");
        } else {
            info!("matcher pinned to core {core}");
        }
    }
    if opts.sched_fifo > 0 {
        if let Err(e) = set_fifo(opts.sched_fifo) {
            warn!(
                "matcher: SCHED_FIFO priority {} refused: {e}",
                opts.sched_fifo
            );
        }
    }
    let mut last_publish = Instant::now();
    let mut last_ping = Instant::now();
    let mut last_idle_sweep = Instant::now();
    let mut idle: u32 = 0;
    loop {
        let (a, b) = frames.peek(BATCH);
        let n = a.len() + b.len();
        for slot in a.iter().chain(b.iter()) {
            let f = slot.frame();
            let cnt = (slot.pcap_cnt != 0).then_some(slot.pcap_cnt);
            proc.process(&mut engine, &f, cnt, "wire/pcap", |e| {
                emit_alert(&mut alerts, opts.eve, e)
            });
        }
        frames.release(n);
        if n > 0 {
            shared.health.counters.add_packets(n as u64);
        }
        if n == 0 {
            if shared.capture_done.load(Ordering::Acquire) && frames.available() == 0 {
                break;
            }
            idle = idle.saturating_add(1);
            if idle < 64 {
                std::hint::spin_loop();
            } else if idle < 128 {
                std::thread::yield_now();
            } else {
                std::thread::sleep(Duration::from_micros(100));
            }
        } else {
            idle = 0;
        }
        if n == 0 || n == BATCH {
            // Housekeeping between batches (also when idle).
            if shared.reload_pending.load(Ordering::Acquire) {
                swap_engine(&shared, &mut engine, &mut proc);
            }
            let now = Instant::now();
            if opts.wall_clock && n == 0 && now.duration_since(last_idle_sweep) >= IDLE_SWEEP_EVERY
            {
                // a quiet link: flows still time out, by the wall clock
                proc.sweep_idle(&mut engine, wall_clock(), |e| {
                    emit_alert(&mut alerts, opts.eve, e)
                });
                last_idle_sweep = now;
            }
            if now.duration_since(last_publish) >= PUBLISH_EVERY {
                if let Ok(mut g) = shared.processor.try_lock() {
                    *g = proc.stats(&engine);
                }
                last_publish = now;
            }
            if let Some((notifier, every)) = &mut opts.watchdog {
                if now.duration_since(last_ping) >= *every {
                    notifier.notify("WATCHDOG=1");
                    last_ping = now;
                }
            }
        }
    }
    // the capture ended: every flow's streams get their last inspection (Suricata's
    // pseudo packets at shutdown)
    proc.finish(&mut engine, |e| emit_alert(&mut alerts, opts.eve, e));
    if let Ok(mut g) = shared.processor.lock() {
        *g = proc.stats(&engine);
    }
    shared.matcher_done.store(true, Ordering::Release);
}

/// Format one alert (or tagged packet) into the next alert slot, waiting for the output
/// thread when the ring is full: alerts are never dropped.
fn emit_alert(alerts: &mut ring::Producer<AlertSlot>, eve: bool, e: Emit<'_, '_>) {
    let mut spins = 0u32;
    loop {
        if let Some(s) = alerts.next_slot() {
            s.fast.clear();
            s.eve.clear();
            s.meta = None;
            match &e {
                Emit::Alert(rec) => {
                    // both lines whatever is enabled: the archive keeps both
                    alert::fast_line(&mut s.fast, rec);
                    alert::eve_line(&mut s.eve, rec, rec.flow.map(|f| f.id));
                    s.meta = Some(crate::output::AlertMeta::of(rec));
                }
                Emit::TaggedPacket(rec) => {
                    if eve {
                        alert::eve_packet_line(&mut s.eve, rec);
                    }
                }
            }
            alerts.commit(1);
            return;
        }
        spins += 1;
        if spins < 64 {
            std::hint::spin_loop();
        } else {
            std::thread::sleep(Duration::from_micros(50));
        }
    }
}

fn swap_engine(shared: &Shared, engine: &mut Engine, proc: &mut Processor) {
    let Ok(mut g) = shared.reload.try_lock() else {
        return;
    };
    let Some(built) = g.take() else {
        shared.reload_pending.store(false, Ordering::Release);
        return;
    };
    shared.reload_pending.store(false, Ordering::Release);
    drop(g);
    let old = std::mem::replace(engine, built.engine);
    // Flow detection state (IP-only done, flowbits, pass) refers to the old rules.
    proc.flows.reset_detection_state();
    if let Ok(mut i) = shared.engine_info.lock() {
        *i = built.info;
    }
    if let Ok(mut r) = shared.retired.lock() {
        *r = Some(old);
    }
    shared.reloads.fetch_add(1, Ordering::Release);
}

/// The output thread: writes alert lines, a stats event every `stats_interval` (and one at
/// exit), flushes whenever the alert ring runs empty. Ends when the matcher is done and
/// everything is written.
pub fn run_output(
    mut alerts: ring::Consumer<AlertSlot>,
    mut outputs: Outputs,
    shared: Arc<Shared>,
    stats_interval: Option<Duration>,
) {
    let mut last_stats = Instant::now();
    let mut dirty = false;
    let mut failed = false;
    let mut write = |r: std::io::Result<()>| {
        if let Err(e) = r {
            if !failed {
                error!("writing logs: {e}");
                failed = true;
            }
        }
    };
    loop {
        let done = shared.matcher_done.load(Ordering::Acquire);
        let (a, b) = alerts.peek(256);
        let n = a.len() + b.len();
        for s in a.iter().chain(b.iter()) {
            write(outputs.write_lines(&s.fast, &s.eve, s.meta));
        }
        alerts.release(n);
        if n > 0 {
            dirty = true;
            continue;
        }
        if done {
            break;
        }
        if dirty {
            write(outputs.flush());
            dirty = false;
        }
        if let Some(every) = stats_interval {
            if last_stats.elapsed() >= every {
                write(outputs.eve_raw(&shared.stats_line()));
                write(outputs.flush());
                last_stats = Instant::now();
            }
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    write(outputs.eve_raw(&shared.stats_line()));
    // flushes the files and everything the archive still buffers
    write(outputs.close().map(|_| ()));
    shared.output_done.store(true, Ordering::Release);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_core_must_be_in_the_affinity_mask_not_below_its_size() {
        // ravn.service on a Pi 4: CPUAffinity=1 2 3, matcher on core 3
        assert!(check_core("threading.matcher-core", 3, &[1, 2, 3]).is_ok());
        let e = check_core("threading.matcher-core", 0, &[1, 2, 3]).unwrap_err();
        assert!(
            e.contains("`threading.matcher-core`") && e.contains("core 0") && e.contains("1,2,3"),
            "{e}"
        );
        assert!(check_core("threading.capture-core", 4, &[0, 1, 2, 3]).is_err());
    }

    #[test]
    fn this_thread_may_run_on_its_allowed_cores() {
        let cores = allowed_cores().unwrap();
        assert!(!cores.is_empty());
        assert_eq!(
            cores.len(),
            std::thread::available_parallelism().unwrap().get()
        );
    }
}
