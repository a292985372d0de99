//! Offline replay: a capture file through decode, flow, detection and the outputs — what
//! `suricata -r` does, and what `ravn replay` runs.

use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use log::{info, warn};

use crate::capture::{self, Timestamp};
use crate::config::Config;
use crate::output::stats::Counters;
use crate::output::Outputs;
use crate::pipeline::process::{build_engine, Processor};
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
    pub run_secs: f64,
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

    let mut source = capture::open(pcap).map_err(|e| ReplayError(e.to_string()))?;
    let mut outputs =
        Outputs::open(log_dir, &cfg.outputs).map_err(|e| ReplayError(e.to_string()))?;
    let mut proc = Processor::new(cfg);
    let mut pcap_cnt: u64 = 0;
    let mut write_err: Option<std::io::Error> = None;

    let result: Result<(), ReplayError> = loop {
        let frame = match source.next_frame() {
            Ok(Some(f)) => f,
            Ok(None) => break Ok(()),
            Err(e) => break Err(ReplayError(e.to_string())),
        };
        pcap_cnt += 1;
        summary.alerts += proc.process(&mut engine, &frame, Some(pcap_cnt), "wire/pcap", |rec| {
            if let Err(e) = outputs.alert(rec) {
                write_err.get_or_insert(e);
            }
        }) as u64;
    };
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
    if let Err(e) = outputs.eve_raw(&line) {
        write_err.get_or_insert(e);
    }
    if let Err(e) = outputs.flush() {
        write_err.get_or_insert(e);
    }
    summary.run_secs = started.elapsed().as_secs_f64();
    result?;
    if let Some(e) = write_err {
        return Err(ReplayError(format!("writing logs: {e}")));
    }
    Ok(summary)
}
