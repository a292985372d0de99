//! Offline replay: a capture file through decode, flow, detection and the outputs — what
//! `suricata -r` does, and what `ravn replay` runs.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use log::{info, warn};

use crate::capture::{self, Timestamp};
use crate::config::Config;
use crate::decode::{Decoder, DecoderConfig, L4};
use crate::detect::{Engine, EngineOptions, FlowCtx, PacketAlerts};
use crate::flow::FlowTable;
use crate::output::stats::{Counters, EngineInfo};
use crate::output::{AlertRecord, Outputs, PacketRecord, Role};
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
    let classes = load_classifications(cfg)?;
    let loaded = load_rules(rule_files, cfg, &classes)?;
    let reload_ts = now();
    let mut summary = ReplaySummary {
        rules_loaded: loaded.rules.len(),
        rules_skipped: loaded.skipped,
        rule_load_secs: loaded.secs,
        ..Default::default()
    };
    info!(
        "{} rules loaded, {} skipped, in {:.3} s",
        summary.rules_loaded, summary.rules_skipped, summary.rule_load_secs
    );
    let opts = EngineOptions {
        action_order: cfg.action_order().map_err(ReplayError)?,
        packet_alert_max: cfg.packet_alert_max,
        ips: cfg.simulate_ips,
    };
    let mut engine = Engine::with_options(loaded.rules, &classes, opts);
    if !cfg.threshold_file.as_os_str().is_empty() {
        let tf = &cfg.threshold_file;
        let tc = crate::rules::threshold_config::ThresholdConfig::load(tf, &cfg.rule_vars())
            .map_err(|e| ReplayError(format!("threshold-file: {e}")))?;
        for (line, why) in &tc.errors {
            warn!("{}:{line}: threshold entry skipped: {why}", tf.display());
        }
        for line in engine.apply_threshold_config(&tc) {
            warn!(
                "{}:{line}: rate_filter is not supported yet; entry ignored",
                tf.display()
            );
        }
    }
    for (origin, why) in &engine.failed {
        warn!("{origin}: rule skipped: {why}");
    }
    summary.rules_loaded -= engine.failed.len();
    summary.rules_skipped += engine.failed.len();

    let mut source = capture::open(pcap).map_err(|e| ReplayError(e.to_string()))?;
    let mut outputs =
        Outputs::open_with(log_dir, cfg, Role::Replay).map_err(|e| ReplayError(e.to_string()))?;
    let mut decoder = Decoder::with_config(DecoderConfig {
        tzsp: cfg.decoder.tzsp,
        tzsp_port: cfg.decoder.tzsp_port,
        ..DecoderConfig::default()
    });
    let mut flows =
        FlowTable::with_options(cfg.flow.max_flows, cfg.flow.timeouts, cfg.stream.midstream);
    flows.set_midstream_policy(
        cfg.midstream_policy().map_err(ReplayError)?,
        cfg.simulate_ips,
    );
    let mut alerts = PacketAlerts::new();
    let eve_alert = cfg.outputs.eve.alert;
    let mut pcap_cnt: u64 = 0;
    let mut write_err: Option<std::io::Error> = None;

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
        let frame_link = frame.link;
        let p = decoder.decode(&frame);
        let fref = flows.update(&p);
        let fctx = fref.map(|r| FlowCtx {
            dir: r.dir,
            established: r.established,
            no_inspect: r.no_inspect,
            flow: flows.get_mut(r),
        });
        engine.inspect(&p, fctx, &mut alerts);
        if alerts.is_empty() && !alerts.tagged {
            continue;
        }
        let Some(ip) = p.ip else { continue };
        let flow = fref.map(|r| flows.get(r));
        let icmp = match p.l4 {
            L4::Icmp(i) => Some((i.icmp_type, i.code)),
            _ => None,
        };
        let ports = match p.l4 {
            L4::Tcp(t) => Some((t.src_port, t.dst_port)),
            L4::Udp(u) => Some((u.src_port, u.dst_port)),
            _ => None,
        };
        for hit in alerts.iter() {
            let rec = AlertRecord {
                ts: p.ts,
                pcap_cnt: Some(pcap_cnt),
                sig: &engine.sig(hit).info,
                src: ip.src,
                dst: ip.dst,
                ports,
                icmp,
                proto: ip.proto,
                vlan: &p.vlan[..p.vlan_count as usize],
                flow,
                direction: fref.map(|r| r.dir),
                app_proto: flow.and_then(|f| f.app_proto),
                pkt_src: "wire/pcap",
                ips: cfg.simulate_ips,
                verdict: eve_alert.verdict.then_some((alerts.verdict, alerts.drop)),
            };
            if let Err(e) = outputs.alert(&rec) {
                write_err.get_or_insert(e);
            }
            summary.alerts += 1;
        }
        if alerts.tagged && eve_alert.tagged_packets {
            let rec = PacketRecord {
                ts: p.ts,
                pcap_cnt: Some(pcap_cnt),
                flow_id: flow.map(|f| f.id),
                src: ip.src,
                dst: ip.dst,
                ports,
                icmp,
                proto: ip.proto,
                vlan: &p.vlan[..p.vlan_count as usize],
                pkt_src: "wire/pcap",
                frame: p.frame,
                // a TZSP stream's inner frames are Ethernet
                linktype: if p.tzsp { 1 } else { frame_link.dlt() },
            };
            if let Err(e) = outputs.tagged_packet(&rec) {
                write_err.get_or_insert(e);
            }
        }
    };
    summary.packets = pcap_cnt;
    summary.truncated_at = source.truncated();

    // One stats event at exit, as Suricata writes it.
    let mut counters = Counters::default();
    decoder
        .stats
        .for_each_suricata(|name, v| counters.push(name.to_string(), v));
    counters.push("flow.total", flows.stats.total);
    counters.push("flow.active", flows.active() as u64);
    counters.push("flow.tcp", flows.stats.tcp);
    counters.push("flow.udp", flows.stats.udp);
    counters.push("flow.icmpv4", flows.stats.icmpv4);
    counters.push("flow.icmpv6", flows.stats.icmpv6);
    counters.push("detect.alert", engine.stats.alerts);
    counters.push(
        "detect.alert_queue_overflow",
        engine.stats.alert_queue_overflow,
    );
    counters.push("detect.alerts_suppressed", engine.suppressed());
    let mut line = String::new();
    crate::output::stats::eve_line(
        &mut line,
        now(),
        started.elapsed().as_secs(),
        &counters,
        &EngineInfo {
            last_reload: reload_ts,
            rules_loaded: summary.rules_loaded as u64,
            rules_failed: summary.rules_skipped as u64,
            rules_skipped: 0,
        },
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
