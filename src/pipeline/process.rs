//! Per-packet processing shared by `ravn replay` and the daemon's matcher: decode, flow
//! tracking, detection, and the alert records handed to the outputs. One code path, so live
//! capture and replay give the same alerts for the same frames.

use std::path::PathBuf;

use log::warn;

use crate::capture::Frame;
use crate::config::Config;
use crate::decode::{DecodeStats, Decoder, Packet, L4};
use crate::detect::{DetectStats, Engine, EngineOptions, FlowCtx, PacketAlerts};
use crate::flow::{Direction, Flow, FlowStats, FlowTable};
use crate::output::stats::{Counters, EngineInfo};
use crate::output::{AlertRecord, EveAlertOptions, PacketRecord, TunnelInfo};
use crate::replay::{load_classifications, load_rules, now, ReplayError};

/// Decoder, flow table and the per-packet alert buffer: everything but the rules.
pub struct Processor {
    pub decoder: Decoder,
    pub flows: FlowTable,
    alerts: PacketAlerts,
    /// IPS mode (`--simulate-ips`).
    ips: bool,
    eve_alert: EveAlertOptions,
    /// The heartbeat sids' alerts are verified and counted here (the daemon sets it).
    pub heartbeat: Option<crate::heartbeat::watch::HeartbeatWatch>,
}

/// What one packet gives the outputs.
pub enum Emit<'a, 'r> {
    Alert(&'r AlertRecord<'a>),
    /// A packet tagged by the `tag` keyword, when `tagged-packets` is on (EVE only).
    TaggedPacket(&'r PacketRecord<'a>),
}

/// A copy of the processor's and the engine's counters (no heap: fixed arrays and numbers).
#[derive(Debug, Clone, Default)]
pub struct ProcessorStats {
    pub decode: DecodeStats,
    pub flow: FlowStats,
    pub flow_active: u64,
    pub detect: DetectStats,
    pub suppressed: u64,
}

impl ProcessorStats {
    /// decoder.*, flow.* and detect.* in the order Suricata's stats event has them.
    pub fn push_counters(&self, c: &mut Counters) {
        self.decode
            .for_each_suricata(|name, v| c.push(name.to_string(), v));
        c.push("flow.total", self.flow.total);
        c.push("flow.active", self.flow_active);
        c.push("flow.tcp", self.flow.tcp);
        c.push("flow.udp", self.flow.udp);
        c.push("flow.icmpv4", self.flow.icmpv4);
        c.push("flow.icmpv6", self.flow.icmpv6);
        c.push("detect.alert", self.detect.alerts);
        c.push(
            "detect.alert_queue_overflow",
            self.detect.alert_queue_overflow,
        );
        c.push("detect.alerts_suppressed", self.suppressed);
    }
}

impl Processor {
    pub fn new(cfg: &Config) -> Processor {
        let mut flows =
            FlowTable::with_options(cfg.flow.max_flows, cfg.flow.timeouts, cfg.stream.midstream);
        // validated with the config; an invalid one cannot reach here
        flows.set_midstream_policy(cfg.midstream_policy().unwrap_or_default(), cfg.simulate_ips);
        Processor {
            decoder: Decoder::with_config(cfg.decoder_config()),
            flows,
            alerts: PacketAlerts::new(),
            ips: cfg.simulate_ips,
            eve_alert: cfg.outputs.eve.alert,
            heartbeat: None,
        }
    }

    /// Decodes `frame` into its packets (the tunnelled ones first, innermost first, then the
    /// captured one: Suricata's order), and for each tracks its flow, runs `engine` on it and
    /// calls `emit` once per alert, in Suricata's order, then for the packet itself if it is
    /// tagged and tagged packets are logged. `pcap_cnt` and `pkt_src` are the captured
    /// packet's; a tunnelled packet has its own `pkt_src`, no `pcap_cnt`, and EVE's `tunnel`
    /// object. Returns the number of alerts. No heap allocation.
    pub fn process(
        &mut self,
        engine: &mut Engine,
        frame: &Frame<'_>,
        pcap_cnt: Option<u64>,
        pkt_src: &str,
        mut emit: impl FnMut(Emit<'_, '_>),
    ) -> usize {
        let Processor {
            decoder,
            flows,
            alerts,
            ips,
            eve_alert,
            heartbeat,
        } = self;
        let out = Out {
            ips: *ips,
            eve_alert: *eve_alert,
            frame_link: frame.link,
        };
        decoder.decode_with(frame, |decoded| {
            let root = decoded.root();
            let mut n = 0;
            let mut one = |p: &Packet<'_>| {
                let fref = flows.update(p);
                let fctx = fref.map(|r| FlowCtx {
                    dir: r.dir,
                    established: r.established,
                    no_inspect: r.no_inspect,
                    flow: flows.get_mut(r),
                });
                engine.inspect(p, fctx, alerts);
                if alerts.is_empty() && !alerts.tagged {
                    return;
                }
                if let Some(w) = heartbeat.as_mut() {
                    if alerts
                        .iter()
                        .any(|h| w.is_heartbeat(engine.sig(h).info.sid))
                    {
                        let ts_us = (p.ts.secs.max(0) as u64)
                            .saturating_mul(1_000_000)
                            .saturating_add(u64::from(p.ts.nanos / 1000));
                        w.seen(p.payload, ts_us);
                    }
                }
                let at = if p.depth == 0 {
                    Origin {
                        pcap_cnt,
                        pkt_src,
                        tunnel: None,
                    }
                } else {
                    Origin {
                        pcap_cnt: None,
                        pkt_src: p.src.as_str(),
                        tunnel: Some(tunnel_info(root, p.depth, pcap_cnt, pkt_src)),
                    }
                };
                let flow = fref.map(|r| (flows.get(r), r.dir));
                n += out.emit(engine, p, flow, alerts, &at, &mut emit);
            };
            // Suricata's order: the tunnelled packets, then the captured one.
            for p in decoded.tunnelled() {
                one(p);
            }
            one(root);
            n
        })
    }

    /// The counters now (decoder, flows) with `engine`'s.
    pub fn stats(&self, engine: &Engine) -> ProcessorStats {
        ProcessorStats {
            decode: self.decoder.stats.clone(),
            flow: self.flows.stats,
            flow_active: self.flows.active() as u64,
            detect: engine.stats,
            suppressed: engine.suppressed(),
        }
    }
}

/// What `Processor::process` needs to turn a packet's alerts into records.
struct Out {
    ips: bool,
    eve_alert: EveAlertOptions,
    frame_link: crate::capture::LinkType,
}

/// Where a packet came from, for its records.
struct Origin<'s> {
    pcap_cnt: Option<u64>,
    pkt_src: &'s str,
    tunnel: Option<TunnelInfo<'s>>,
}

impl Out {
    /// The records of one inspected packet (the cold path: only packets with alerts or a
    /// tag get here).
    fn emit(
        &self,
        engine: &Engine,
        p: &Packet<'_>,
        flow: Option<(&Flow, Direction)>,
        alerts: &PacketAlerts,
        at: &Origin<'_>,
        emit: &mut impl FnMut(Emit<'_, '_>),
    ) -> usize {
        let Some(ip) = p.ip else { return 0 };
        let icmp = match p.l4 {
            L4::Icmp(i) => Some((i.icmp_type, i.code)),
            _ => None,
        };
        let ports = p.ports();
        let [app_proto, app_proto_ts, app_proto_tc] =
            flow.map(|(f, _)| f.app_names()).unwrap_or_default();
        let mut n = 0;
        for hit in alerts.iter() {
            emit(Emit::Alert(&AlertRecord {
                ts: p.ts,
                pcap_cnt: at.pcap_cnt,
                sig: &engine.sig(hit).info,
                action: hit.action,
                rate_modified: hit.rate_modified,
                packet_drop: alerts.drop,
                src: ip.src,
                dst: ip.dst,
                ports,
                icmp,
                proto: ip.proto,
                vlan: p.vlans(),
                flow: flow.map(|(f, _)| f),
                direction: flow.map(|(_, d)| d),
                app_proto,
                app_proto_ts,
                app_proto_tc,
                pkt_src: at.pkt_src,
                ips: self.ips,
                verdict: self
                    .eve_alert
                    .verdict
                    .then_some((alerts.verdict, alerts.drop)),
                tunnel: at.tunnel,
            }));
            n += 1;
        }
        if alerts.tagged && self.eve_alert.tagged_packets {
            emit(Emit::TaggedPacket(&PacketRecord {
                ts: p.ts,
                pcap_cnt: at.pcap_cnt,
                flow_id: flow.map(|(f, _)| f.id),
                src: ip.src,
                dst: ip.dst,
                ports,
                icmp,
                proto: ip.proto,
                vlan: p.vlans(),
                pkt_src: at.pkt_src,
                frame: p.frame,
                linktype: if p.depth > 0 {
                    // a tunnelled packet starts at its IP header (Suricata's DLT_RAW)
                    crate::capture::LinkType::Raw.dlt()
                } else if p.tzsp {
                    // a TZSP stream's inner frames are Ethernet
                    1
                } else {
                    self.frame_link.dlt()
                },
            }));
        }
        n
    }
}

/// EVE's `tunnel` object for a packet `depth` tunnels inside the captured packet `root`.
fn tunnel_info<'s>(
    root: &Packet<'_>,
    depth: u8,
    pcap_cnt: Option<u64>,
    pkt_src: &'s str,
) -> TunnelInfo<'s> {
    // A tunnel is only ever found behind an IP header.
    let (src, dst, proto) = match root.ip {
        Some(ip) => (ip.src, ip.dst, ip.proto),
        None => {
            let unspecified = std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED);
            (unspecified, unspecified, 0)
        }
    };
    TunnelInfo {
        src,
        dst,
        ports: root.ports().unwrap_or((0, 0)),
        proto,
        depth,
        pcap_cnt,
        pkt_src,
    }
}

/// A compiled ruleset and what loading it reported.
pub struct BuiltEngine {
    pub engine: Engine,
    pub info: EngineInfo,
    pub load_secs: f64,
}

/// Loads `rule_files` (and the configured threshold file) and compiles them: what `ravn
/// replay` does at start, and the daemon at start and on SIGHUP (off the packet path).
/// Rules that do not load are skipped with a warning; an unreadable rule or threshold file
/// is an error.
pub fn build_engine(cfg: &Config, rule_files: &[PathBuf]) -> Result<BuiltEngine, ReplayError> {
    let classes = load_classifications(cfg)?;
    let loaded = load_rules(rule_files, cfg, &classes)?;
    let opts = EngineOptions {
        action_order: cfg.action_order().map_err(ReplayError)?,
        packet_alert_max: cfg.packet_alert_max,
        ips: cfg.simulate_ips,
    };
    let mut engine = Engine::with_options(loaded.rules, &classes, opts);
    let rules_loaded = engine.len();
    if !cfg.threshold_file.as_os_str().is_empty() {
        let tf = &cfg.threshold_file;
        let tc = crate::rules::threshold_config::ThresholdConfig::load(tf, &cfg.rule_vars())
            .map_err(|e| ReplayError(format!("threshold-file: {e}")))?;
        for (line, why) in &tc.errors {
            warn!("{}:{line}: threshold entry skipped: {why}", tf.display());
        }
        engine.apply_threshold_config(&tc);
    }
    for (origin, why) in &engine.failed {
        warn!("{origin}: rule skipped: {why}");
    }
    let failed = loaded.skipped + engine.failed.len();
    Ok(BuiltEngine {
        info: EngineInfo {
            last_reload: now(),
            rules_loaded: rules_loaded as u64,
            rules_failed: failed as u64,
            rules_skipped: 0,
        },
        engine,
        load_secs: loaded.secs,
    })
}
