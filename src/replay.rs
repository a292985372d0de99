//! Offline replay: a capture file through decode, flow, detection and the outputs — what
//! `suricata -r` does, and what `ravn replay` runs.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use log::{info, warn};

use crate::capture::{self, Timestamp};
use crate::config::Config;
use crate::output::stats::Counters;
use crate::output::{Outputs, Role};
use crate::pipeline::process::{build_engine, Emit, Processor};
use crate::rules::{self, Classifications};

/// The classification.config ravn ships (used when the configured file is absent).
pub const BUILTIN_CLASSIFICATION: &str = include_str!("../rules/classification.config");

#[derive(Debug)]
pub struct ReplayError(pub String);

impl std::fmt::Display for ReplayError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ReplayError {}

/// What a replay did.
#[derive(Debug, Clone, Default)]
pub struct ReplaySummary {
    pub packets: u64,
    pub alerts: u64,
    pub rules_loaded: usize,
    pub rules_skipped: usize,
    /// Byte offset of an incomplete last record, if the file ended inside one.
    pub truncated_at: Option<u64>,
    pub rule_load_secs: f64,
    /// From the built engine to the last packet's (and the end-of-capture flush's)
    /// processing: opening the capture and outputs, every packet, the final flush. The
    /// span Suricata reports as "time elapsed" (its clock starts once the detection engine
    /// is built and stops when the packet threads are done).
    pub process_secs: f64,
    pub run_secs: f64,
    /// The archive's counters at the end, when it was on.
    pub archive: Option<crate::archive::ArchiveStats>,
}

pub fn now() -> Timestamp {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp {
        secs: d.as_secs() as i64,
        nanos: d.subsec_nanos(),
    }
}

/// Load the classification config: the configured file, or the built-in copy when the file
/// does not exist.
pub fn load_classifications(cfg: &Config) -> Result<Classifications, ReplayError> {
    let path = &cfg.rules.classification_file;
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Classifications::parse(&text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            info!(
                "{} not found, using the built-in classification.config",
                path.display()
            );
            Ok(Classifications::parse(BUILTIN_CLASSIFICATION))
        }
        Err(e) => Err(ReplayError(format!("{}: {e}", path.display()))),
    }
}

/// Rules loaded from files, with the skipped ones reported.
pub struct LoadedRules {
    pub rules: Vec<rules::ast::Rule>,
    pub skipped: usize,
    pub secs: f64,
}

pub fn load_rules(
    files: &[PathBuf],
    cfg: &Config,
    classes: &Classifications,
) -> Result<LoadedRules, ReplayError> {
    let t0 = Instant::now();
    let vars = cfg.rule_vars();
    let paths: Vec<&Path> = files.iter().map(|p| p.as_path()).collect();
    let loaded = rules::load_files(&paths, &vars, Some(classes))
        .map_err(|e| ReplayError(format!("rules: {e}")))?;
    let mut all = Vec::new();
    let mut skipped = 0;
    for rf in loaded {
        for s in &rf.skipped {
            warn!("{}: rule skipped: {}", s.origin, s.skip.reason);
        }
        skipped += rf.skipped.len();
        all.extend(rf.loaded);
    }
    Ok(LoadedRules {
        rules: all,
        skipped,
        secs: t0.elapsed().as_secs_f64(),
    })
}

/// Set by SIGTERM/SIGINT: the replay stops reading and closes its outputs, flushing
/// everything the archive buffers.
static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_stop_signal(_: libc::c_int) {
    STOP.store(true, Ordering::Relaxed);
}

/// Make SIGTERM and SIGINT stop a running replay cleanly (the CLI calls this).
pub fn stop_on_sigterm() {
    let h = on_stop_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGTERM, h);
        libc::signal(libc::SIGINT, h);
    }
}

/// Replay `pcap` with `rule_files` into `log_dir`.
pub fn run(
    pcap: &Path,
    rule_files: &[PathBuf],
    log_dir: &Path,
    cfg: &Config,
) -> Result<ReplaySummary, ReplayError> {
    let started = Instant::now();
    let built = build_engine(cfg, rule_files)?;
    let mut engine = built.engine;
    let mut summary = ReplaySummary {
        rules_loaded: built.info.rules_loaded as usize,
        rules_skipped: built.info.rules_failed as usize,
        rule_load_secs: built.load_secs,
        ..Default::default()
    };
    info!(
        "{} rules loaded, {} skipped, in {:.3} s",
        summary.rules_loaded, summary.rules_skipped, summary.rule_load_secs
    );

    let processing = Instant::now();
    let mut source = capture::open(pcap).map_err(|e| ReplayError(e.to_string()))?;
    let mut outputs =
        Outputs::open_with(log_dir, cfg, Role::Replay).map_err(|e| ReplayError(e.to_string()))?;
    let mut proc = Processor::new(cfg);
    let mut pcap_cnt: u64 = 0;
    let mut write_err: Option<std::io::Error> = None;
    let mut write = |e: Emit<'_, '_>| {
        let r = match e {
            Emit::Alert(rec) => outputs.alert(rec),
            Emit::TaggedPacket(rec) => outputs.tagged_packet(rec),
        };
        if let Err(e) = r {
            write_err.get_or_insert(e);
        }
    };

    let result: Result<(), ReplayError> = loop {
        if STOP.load(Ordering::Relaxed) {
            warn!("SIGTERM/SIGINT: stopping after {pcap_cnt} packets; flushing the outputs");
            break Ok(());
        }
        let frame = match source.next_frame() {
            Ok(Some(f)) => f,
            Ok(None) => break Ok(()),
            Err(e) => break Err(ReplayError(e.to_string())),
        };
        pcap_cnt += 1;
        summary.alerts +=
            proc.process(&mut engine, &frame, Some(pcap_cnt), "wire/pcap", &mut write) as u64;
    };
    if result.is_ok() {
        // the end of the capture: the streams' last inspection (Suricata's pseudo packets)
        summary.alerts += proc.finish(&mut engine, &mut write) as u64;
    }
    summary.process_secs = processing.elapsed().as_secs_f64();
    summary.packets = pcap_cnt;
    summary.truncated_at = source.truncated();

    // One stats event at exit, as Suricata writes it.
    let mut counters = Counters::default();
    proc.stats(&engine).push_counters(&mut counters);
    let mut line = String::new();
    crate::output::stats::eve_line(
        &mut line,
        now(),
        started.elapsed().as_secs(),
        &counters,
        &built.info,
    );
    if let Err(e) = outputs.eve_event("stats", now(), &line) {
        write_err.get_or_insert(e);
    }
    match outputs.close() {
        Ok(a) => summary.archive = a,
        Err(e) => {
            write_err.get_or_insert(e);
        }
    }
    summary.run_secs = started.elapsed().as_secs_f64();
    result?;
    if let Some(e) = write_err {
        return Err(ReplayError(format!("writing logs: {e}")));
    }
    Ok(summary)
}
