//! `ravn run`: the always-on sensor. Opens the configured capture source, starts the
//! pipeline (capture → matcher → output threads, see `crate::pipeline`), tells systemd it is
//! ready, then waits for signals:
//!
//! - SIGTERM / SIGINT: stop capturing, let the matcher drain the frame ring and the output
//!   thread write and flush everything (plus a last stats event), exit 0;
//! - SIGHUP: reload the rules on this thread (off the packet path) and hand the new engine
//!   to the matcher, which swaps it in between two packets; a ruleset that fails to load
//!   leaves the running one in place, and the log says why.
//!
//! The signals are blocked in every thread and taken synchronously here (sigtimedwait), so no
//! handler runs on the packet path.

pub mod notify;
pub mod stats_socket;

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use log::{error, info, warn};

use crate::capture::live;
use crate::config::Config;
use crate::output::Outputs;
use crate::pipeline::process::{build_engine, BuiltEngine, Processor};
use crate::pipeline::{self, frame, ring, AlertSlot, MatcherOptions, Shared};
use notify::Notifier;

#[derive(Debug)]
pub struct DaemonError(pub String);

impl std::fmt::Display for DaemonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DaemonError {}

fn signal_set() -> libc::sigset_t {
    // SAFETY: sigset_t manipulated only through the libc calls.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGHUP);
        set
    }
}

/// Blocks SIGTERM, SIGINT and SIGHUP in the calling thread (and the threads it starts).
pub fn block_signals() {
    let set = signal_set();
    // SAFETY: valid set; the old mask is not needed.
    unsafe {
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

/// Waits up to `timeout` for one of the blocked signals.
fn wait_signal(timeout: Duration) -> Option<i32> {
    let set = signal_set();
    let ts = libc::timespec {
        tv_sec: timeout.as_secs() as libc::time_t,
        tv_nsec: timeout.subsec_nanos() as libc::c_long,
    };
    // SAFETY: valid set and timeout; siginfo not needed.
    let s = unsafe { libc::sigtimedwait(&set, std::ptr::null_mut(), &ts) };
    (s > 0).then_some(s)
}

/// Loads the rules for a (re)start; a ruleset of which nothing loads counts as broken.
fn load_engine(cfg: &Config, rule_files: &[PathBuf]) -> Result<BuiltEngine, String> {
    let built = build_engine(cfg, rule_files).map_err(|e| e.to_string())?;
    if built.info.rules_loaded == 0 && built.info.rules_failed > 0 {
        return Err(format!(
            "no rule loaded ({} failed to load)",
            built.info.rules_failed
        ));
    }
    Ok(built)
}

/// Runs the daemon until SIGTERM/SIGINT (or the end of a capture file). Returns when
/// everything is flushed.
pub fn run(cfg: &Config, rule_files: &[PathBuf], log_dir: &Path) -> Result<(), DaemonError> {
    block_signals();
    let notifier = Notifier::from_env();
    let err = |s: String| DaemonError(s);

    let t0 = Instant::now();
    let built = load_engine(cfg, rule_files).map_err(|e| err(format!("rules: {e}")))?;
    info!(
        "{} rules loaded, {} failed, in {:.3} s",
        built.info.rules_loaded,
        built.info.rules_failed,
        t0.elapsed().as_secs_f64()
    );
    let source = live::open(cfg).map_err(|e| err(e.to_string()))?;
    let describe = source.describe();

    let p = &cfg.pipeline;
    let (frames_tx, frames_rx) = ring::with_slots(frame::pool(
        p.ring_frames,
        p.frame_size + live::SLOT_HEADROOM,
    ));
    let (alerts_tx, alerts_rx) =
        ring::with_slots((0..p.alert_ring).map(|_| AlertSlot::new()).collect());
    let outputs = Outputs::open_with(log_dir, cfg, crate::output::Role::Daemon)
        .map_err(|e| err(e.to_string()))?;
    let mut proc = Processor::new(cfg);
    if cfg.threading.mlockall {
        // SAFETY: plain syscall.
        if unsafe { libc::mlockall(libc::MCL_CURRENT | libc::MCL_FUTURE) } != 0 {
            warn!(
                "threading.mlockall: {} (needs CAP_IPC_LOCK or a higher RLIMIT_MEMLOCK)",
                std::io::Error::last_os_error()
            );
        }
    }
    // the cores must be in the affinity mask (ravn.service: CPUAffinity=1 2 3 on a Pi 4),
    // not merely below the number of CPUs
    let allowed = pipeline::allowed_cores().map_err(|e| err(format!("sched_getaffinity: {e}")))?;
    for (key, core) in [
        ("threading.matcher-core", cfg.threading.matcher_core),
        ("threading.capture-core", cfg.threading.capture_core),
    ] {
        if let Some(core) = core {
            pipeline::check_core(key, core, &allowed).map_err(err)?;
        }
    }

    let shared = Arc::new(Shared::new(built.info));
    let stats_server = stats_socket::StatsServer::start(&cfg.daemon.run_dir, shared.clone())
        .map_err(|e| err(format!("stats socket: {e}")))?;

    let health = start_health(cfg, &mut proc, &shared)?;

    let sh = shared.clone();
    let capture_core = cfg.threading.capture_core;
    let capture = std::thread::Builder::new()
        .name("ravn-capture".into())
        .spawn(move || {
            if let Some(c) = capture_core {
                if let Err(e) = pipeline::pin_current_thread(c) {
                    error!("capture: cannot pin to core {c}: {e}");
                }
            }
            live::run_capture(source, frames_tx, sh)
        })
        .map_err(|e| err(format!("starting the capture thread: {e}")))?;
    let opts = MatcherOptions {
        core: cfg.threading.matcher_core,
        sched_fifo: cfg.threading.sched_fifo,
        fast: cfg.outputs.fast.enabled,
        eve: cfg.outputs.eve.enabled,
        watchdog: notify::watchdog_interval().map(|d| (notifier.try_clone(), d)),
        // a capture file's packets keep their own time: its flows time out on that alone
        wall_clock: cfg.capture.source != crate::config::CaptureSource::Pcap,
    };
    let sh = shared.clone();
    let engine = built.engine;
    let matcher = std::thread::Builder::new()
        .name("ravn-matcher".into())
        .spawn(move || pipeline::run_matcher(frames_rx, alerts_tx, engine, proc, sh, opts))
        .map_err(|e| err(format!("starting the matcher thread: {e}")))?;
    let sh = shared.clone();
    let interval =
        (cfg.daemon.stats_interval > 0).then(|| Duration::from_secs(cfg.daemon.stats_interval));
    let output = std::thread::Builder::new()
        .name("ravn-output".into())
        .spawn(move || pipeline::run_output(alerts_rx, outputs, sh, interval))
        .map_err(|e| err(format!("starting the output thread: {e}")))?;

    info!(
        "capturing from {describe}; stats on {}",
        stats_server.path().display()
    );
    notifier.notify_state("READY=1");
    notifier.notify(&format!("STATUS=capturing from {describe}"));

    loop {
        if shared.capture_done.load(Ordering::Acquire) {
            break;
        }
        match wait_signal(Duration::from_millis(200)) {
            Some(libc::SIGHUP) => {
                notifier.notify_state("RELOADING=1");
                reload(cfg, rule_files, &shared);
                notifier.notify_state("READY=1");
            }
            Some(s) => {
                info!("signal {s}: draining and stopping");
                break;
            }
            None => {}
        }
    }
    notifier.notify_state("STOPPING=1");
    shared.stop.store(true, Ordering::Relaxed);
    let _ = capture.join();
    let _ = matcher.join();
    let _ = output.join();
    if let Some(h) = health {
        shared.health.stop.store(true, Ordering::Relaxed);
        let _ = h.join();
    }
    drop(stats_server);
    let capture_error = shared.capture_error.lock().ok().and_then(|g| g.clone());
    if let Some(e) = capture_error {
        return Err(err(format!("capture stopped: {e}")));
    }
    Ok(())
}

/// The heartbeat monitor: the matcher's watch (verifier with the key), the LEDs and the
/// health thread. Off with `heartbeat.enabled = false`.
fn start_health(
    cfg: &Config,
    proc: &mut Processor,
    shared: &Arc<Shared>,
) -> Result<Option<std::thread::JoinHandle<()>>, DaemonError> {
    use crate::heartbeat::{auth::Verifier, health, watch::HeartbeatWatch};
    let hb = &cfg.heartbeat;
    if !hb.enabled {
        return Ok(None);
    }
    let key = hb.key().map_err(DaemonError)?;
    let authenticated = key.is_some();
    let mut verifier = Verifier::new(hb.payload.as_bytes(), key, hb.max_skew_secs);
    let path = hb.status_path(&cfg.daemon.run_dir);
    if authenticated {
        verifier.set_last_counter(health::previous_counter(&path));
    }
    proc.heartbeat = Some(HeartbeatWatch::new(
        &hb.sids,
        verifier,
        shared.health.counters.clone(),
    ));
    let patterns = cfg.leds.patterns.parse().map_err(DaemonError)?;
    let leds = cfg.leds.open().map_err(DaemonError)?;
    let driver = crate::leds::Driver::new(leds, patterns);
    let h = health::Health::new(hb, &cfg.daemon.run_dir, driver, authenticated);
    shared.health.running.store(true, Ordering::Relaxed);
    let sh = shared.clone();
    std::thread::Builder::new()
        .name("ravn-health".into())
        .spawn(move || health::run(h, sh))
        .map(Some)
        .map_err(|e| DaemonError(format!("starting the health thread: {e}")))
}

/// SIGHUP: builds the new engine here, hands it to the matcher and drops the old one once
/// the matcher has swapped.
fn reload(cfg: &Config, rule_files: &[PathBuf], shared: &Shared) {
    let t0 = Instant::now();
    let built = match load_engine(cfg, rule_files) {
        Ok(b) => b,
        Err(e) => {
            error!("rule reload failed, keeping the running rules: {e}");
            return;
        }
    };
    let loaded = built.info.rules_loaded;
    let before = shared.reloads.load(Ordering::Acquire);
    if let Ok(mut g) = shared.reload.lock() {
        *g = Some(built);
    }
    shared.reload_pending.store(true, Ordering::Release);
    // Wait for the swap (the matcher checks between batches and when idle).
    let deadline = Instant::now() + Duration::from_secs(30);
    while shared.reloads.load(Ordering::Acquire) == before && Instant::now() < deadline {
        if shared.matcher_done.load(Ordering::Acquire) {
            return;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let old = shared.retired.lock().ok().and_then(|mut g| g.take());
    drop(old);
    info!(
        "rules reloaded: {loaded} loaded, built in {:.3} s",
        t0.elapsed().as_secs_f64()
    );
}
