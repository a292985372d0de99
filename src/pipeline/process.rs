//! Per-packet processing shared by `ravn replay` and the daemon's matcher: decode, flow
//! tracking, detection, and the alert records handed to the outputs. One code path, so live
//! capture and replay give the same alerts for the same frames.

use std::path::PathBuf;

use log::warn;

use crate::capture::{Frame, Timestamp};
use crate::config::{ChecksumChecks, Config};
use crate::decode::{DecodeStats, Decoder, IpHdr, Packet, PktSrc, TcpHdr, L4};
use crate::defrag::DefragStats;
use crate::detect::{
    DetectStats, Engine, EngineOptions, FlowCtx, PacketAlerts, StreamData, StreamView,
};
use crate::flow::{Direction, Flow, FlowStats, FlowTable};
use crate::output::stats::{Counters, EngineInfo};
use crate::output::{AlertRecord, EveAlertOptions, PacketRecord, TunnelInfo};
use crate::replay::{load_classifications, load_rules, now, ReplayError};
use crate::stream::{RawChunks, StreamEngine, StreamStats, TcpSession};

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
    /// Raw stream data handed to detection (preallocated: the reassembly depth).
    scratch: Vec<u8>,
    /// The newest packet time seen (end-of-flow pseudo packets carry it).
    last_ts: Timestamp,
    /// Checksums are checked (`capture.checksum-checks`), except in offloaded frames.
    check_checksums: bool,
    /// The stream engine leaves out TCP segments whose checksum is checked and wrong
    /// (`stream.checksum-validation`).
    tcp_validation: bool,
    /// `capture.checksum-checks = auto` still deciding: the frames seen so far.
    checksum_sample: Option<u64>,
}

/// Suricata's CHECKSUM_SAMPLE_COUNT and CHECKSUM_INVALID_RATIO: at the 1,000th packet, more
/// than one in ten wrong TCP checksums means a capture with checksum offloading.
const CHECKSUM_SAMPLE: u64 = 1000;
const CHECKSUM_INVALID_RATIO: u64 = 10;

/// EVE's `pkt_src` of the end-of-flow pseudo packets (Suricata's PKT_SRC_FFR).
pub const PSEUDO_PKT_SRC: &str = "stream (flow timeout)";

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
    pub stream: StreamStats,
    pub reassembly_memuse: u64,
    pub defrag: DefragStats,
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
        // a full table takes over its least recently used flow (Suricata's FlowGetUsedFlow)
        c.push("flow.get_used", self.flow.evicted);
        c.push("flow.mgr.flows_timeout", self.flow.timeouts);
        c.push("tcp.sessions", self.stream.sessions);
        c.push("tcp.invalid_checksum", self.flow.invalid_checksum);
        // a stream's piece table is memory too: its drops count as memcap drops
        c.push(
            "tcp.segment_memcap_drop",
            self.stream.memcap_drop + self.stream.ranges_drop,
        );
        c.push("tcp.stream_depth_reached", self.stream.depth_reached);
        c.push("tcp.reassembly_gap", self.stream.gap);
        c.push("tcp.overlap", self.stream.overlap);
        c.push("tcp.reassembly_memuse", self.reassembly_memuse);
        self.defrag.for_each_suricata(|name, v| c.push(name, v));
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
        // validated with the config; an invalid one cannot reach here
        let ss = cfg.stream_settings().unwrap_or_default();
        let mut flows = FlowTable::with_stream(
            cfg.flow.max_flows,
            cfg.flow.timeouts,
            cfg.stream.midstream,
            &ss,
        );
        // a raw inspection sees at most a stream's depth (unlimited depth: 16 MiB at a time)
        let scratch = if ss.depth == 0 {
            16 << 20
        } else {
            ss.depth as usize
        }
        .min(ss.reassembly_memcap as usize);
        // validated with the config; an invalid one cannot reach here
        flows.set_midstream_policy(cfg.midstream_policy().unwrap_or_default(), cfg.simulate_ips);
        flows.set_async_oneside(cfg.stream.async_oneside);
        let checks = cfg.capture.checksum_checks;
        Processor {
            decoder: Decoder::with_config(cfg.decoder_config()),
            flows,
            alerts: PacketAlerts::new(),
            ips: cfg.simulate_ips,
            eve_alert: cfg.outputs.eve.alert,
            heartbeat: None,
            scratch: vec![0; scratch],
            last_ts: Timestamp::default(),
            check_checksums: checks != ChecksumChecks::No,
            tcp_validation: cfg.stream.checksum_validation,
            checksum_sample: (checks == ChecksumChecks::Auto).then_some(0),
        }
    }

    /// `capture.checksum-checks = auto`: counts a frame, and at the 1,000th stops checking
    /// when more than a tenth of the TCP packets so far had a wrong checksum, from that
    /// frame on (Suricata's ChecksumAutoModeCheck, run as each packet is read).
    fn sample_checksums(&mut self) {
        let Some(n) = self.checksum_sample.as_mut() else {
            return;
        };
        *n += 1;
        if *n < CHECKSUM_SAMPLE {
            return;
        }
        self.checksum_sample = None;
        let bad = self.flows.stats.invalid_checksum;
        if bad != 0 && CHECKSUM_SAMPLE / bad < CHECKSUM_INVALID_RATIO {
            log::info!(
                "{bad} TCP packets before the {CHECKSUM_SAMPLE}th had a wrong checksum: \
                 assuming checksum offloading, checksums are no longer checked"
            );
            self.check_checksums = false;
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
        self.sample_checksums();
        self.decoder.set_checksums(
            self.check_checksums && !frame.offloaded,
            self.tcp_validation,
        );
        let Processor {
            decoder,
            flows,
            alerts,
            ips,
            eve_alert,
            heartbeat,
            scratch,
            last_ts,
            check_checksums: _,
            tcp_validation: _,
            checksum_sample: _,
        } = self;
        if frame.ts > *last_ts {
            *last_ts = frame.ts;
        }
        let pseudo_ts = *last_ts;
        flows.stream_enabled = engine.uses_stream();
        let out = Out {
            ips: *ips,
            eve_alert: *eve_alert,
            frame_link: frame.link,
        };
        // flows idle past their timeout end now, with their end-of-flow inspection
        let mut n_swept = 0;
        while flows.sweep(pseudo_ts) {
            n_swept += flush_retired(flows, engine, scratch, alerts, &out, pseudo_ts, &mut emit);
        }
        decoder.decode_with(frame, |decoded| {
            let root = decoded.root();
            let mut n = 0;
            let mut one = |p: &Packet<'_>| {
                let fref = flows.update(p);
                // a flow that timed out or was evicted: its end-of-flow inspection
                n += flush_retired(flows, engine, scratch, alerts, &out, pseudo_ts, &mut emit);
                let mut chunks = RawChunks::default();
                let mut has_stream = false;
                let mut inspected = false;
                let fctx = fref.map(|r| {
                    let (f, ssn, se) = flows.parts(r);
                    inspected = !(f.pass || r.no_inspect);
                    if let Some(ssn) = ssn.filter(|_| r.stream && inspected) {
                        if se.raw_ready(ssn, r.dir, false) {
                            chunks = se.raw_chunks(ssn, r.dir, false, scratch);
                            has_stream = true;
                        }
                    }
                    FlowCtx {
                        dir: r.dir,
                        established: r.established,
                        no_inspect: r.no_inspect,
                        flow: f,
                        stream: StreamView {
                            data: has_stream.then_some(StreamData {
                                buf: scratch,
                                chunks: &chunks,
                            }),
                            added: r.stream_add,
                            pseudo: false,
                            no_payload: r.no_payload,
                        },
                    }
                });
                engine.inspect(p, fctx, alerts);
                if let (Some(r), true) = (fref, has_stream) {
                    // Suricata's StreamReassembleRawUpdateProgress after detection
                    if let (_, Some(ssn), se) = flows.parts(r) {
                        se.commit(ssn, r.dir, &chunks);
                    }
                }
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
                // a reassembled packet has EVE's tunnel object even at depth 0 (Suricata
                // sets it up as a tunnel packet of the fragment that completed it)
                let at = if p.depth == 0 && p.src != PktSrc::Defrag {
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
        }) + n_swept
    }

    /// No packets for a while on a live capture: the timeout sweep at wall-clock time `now`
    /// (Suricata's flow manager keeps the wall clock), a whole pass at once, with the
    /// end-of-flow inspection of the flows it ends. Without this a quiet link would time
    /// nothing out until its next packet. Returns the number of alerts.
    pub fn sweep_idle(
        &mut self,
        engine: &mut Engine,
        now: Timestamp,
        mut emit: impl FnMut(Emit<'_, '_>),
    ) -> usize {
        if now > self.last_ts {
            self.last_ts = now;
        }
        let out = self.pseudo_out();
        let mut n = 0;
        loop {
            if self.flows.sweep(self.last_ts) {
                let (scratch, alerts) = (&mut self.scratch, &mut self.alerts);
                n += flush_retired(
                    &mut self.flows,
                    engine,
                    scratch,
                    alerts,
                    &out,
                    self.last_ts,
                    &mut emit,
                );
            } else if !self.flows.sweeping() {
                return n;
            }
        }
    }

    /// The end of the capture: every TCP flow's streams get their last inspection, as
    /// Suricata's pseudo packets at shutdown (FlowForceReassembly): per flow, a to-server
    /// then a to-client packet where `StreamEngine::needs_flush` says so, inspected with
    /// all the data not inspected yet. Their alerts have no `pcap_cnt`. Returns the number
    /// of alerts.
    pub fn finish(&mut self, engine: &mut Engine, mut emit: impl FnMut(Emit<'_, '_>)) -> usize {
        let out = self.pseudo_out();
        let mut n = 0;
        for slot in 0..self.flows.capacity() {
            if let Some((f, Some(ssn), se)) = self.flows.slot_parts(slot) {
                let (scratch, alerts) = (&mut self.scratch, &mut self.alerts);
                n += flush_flow(
                    engine,
                    f,
                    ssn,
                    se,
                    scratch,
                    alerts,
                    &out,
                    self.last_ts,
                    &mut emit,
                );
            }
        }
        n
    }

    /// How the end-of-flow pseudo packets' alerts are written (they have no captured link).
    fn pseudo_out(&self) -> Out {
        Out {
            ips: self.ips,
            eve_alert: self.eve_alert,
            frame_link: crate::capture::LinkType::Raw,
        }
    }

    /// The counters now (decoder, flows) with `engine`'s.
    pub fn stats(&self, engine: &Engine) -> ProcessorStats {
        ProcessorStats {
            decode: self.decoder.stats.clone(),
            flow: self.flows.stats,
            flow_active: self.flows.active() as u64,
            detect: engine.stats,
            suppressed: engine.suppressed(),
            stream: self.flows.stream.stats,
            reassembly_memuse: self.flows.stream.memuse(),
            defrag: *self.decoder.defrag.stats(),
        }
    }
}

/// The end-of-flow inspection of the flow the table just ended (if any, with a TCP
/// session), which is then released.
#[allow(clippy::too_many_arguments)]
fn flush_retired(
    flows: &mut FlowTable,
    engine: &mut Engine,
    scratch: &mut [u8],
    alerts: &mut PacketAlerts,
    out: &Out,
    ts: Timestamp,
    emit: &mut impl FnMut(Emit<'_, '_>),
) -> usize {
    let n = match flows.retired() {
        Some((f, Some(ssn), se)) => flush_flow(engine, f, ssn, se, scratch, alerts, out, ts, emit),
        _ => 0,
    };
    flows.drop_retired();
    n
}

/// A flow's end-of-flow inspection (Suricata's FlowFinish): a pseudo packet per direction
/// that needs one (to server first), each inspecting that direction's remaining stream
/// data. Returns the number of alerts.
#[allow(clippy::too_many_arguments)]
fn flush_flow(
    engine: &mut Engine,
    f: &mut Flow,
    ssn: &mut TcpSession,
    se: &mut StreamEngine,
    scratch: &mut [u8],
    alerts: &mut PacketAlerts,
    out: &Out,
    ts: Timestamp,
    emit: &mut impl FnMut(Emit<'_, '_>),
) -> usize {
    if f.proto != 6 || f.pass {
        return 0;
    }
    let need = se.needs_flush(ssn);
    let mut n = 0;
    for (i, dir) in [Direction::ToServer, Direction::ToClient]
        .into_iter()
        .enumerate()
    {
        if !need[i] {
            continue;
        }
        let p = pseudo_packet(f, ssn, dir, ts);
        let ready = se.raw_ready(ssn, dir, true);
        let chunks = if ready {
            se.raw_chunks(ssn, dir, true, scratch)
        } else {
            RawChunks::default()
        };
        let fctx = FlowCtx {
            dir,
            established: true,
            no_inspect: false,
            flow: &mut *f,
            stream: StreamView {
                data: ready.then_some(StreamData {
                    buf: scratch,
                    chunks: &chunks,
                }),
                added: false,
                pseudo: true,
                no_payload: ssn.no_payload,
            },
        };
        engine.inspect(&p, Some(fctx), alerts);
        if ready {
            se.commit(ssn, dir, &chunks);
        }
        if alerts.is_empty() && !alerts.tagged {
            continue;
        }
        let at = Origin {
            pcap_cnt: None,
            pkt_src: PSEUDO_PKT_SRC,
            tunnel: None,
        };
        n += out.emit(engine, &p, Some((&*f, dir)), alerts, &at, emit);
    }
    n
}

/// Suricata's end-of-flow pseudo packet (FlowForceReassemblyPseudoPacketSetup): the flow's
/// addresses and ports in direction `dir`, a bare TCP ACK (window 10) whose sequence and
/// acknowledgement numbers continue the session, no payload, TTL 64.
fn pseudo_packet(f: &Flow, ssn: &TcpSession, dir: Direction, ts: Timestamp) -> Packet<'static> {
    let (src, dst) = match dir {
        Direction::ToServer => (f.client, f.server),
        Direction::ToClient => (f.server, f.client),
    };
    let (own, other) = match dir {
        Direction::ToServer => (&ssn.client, &ssn.server),
        Direction::ToClient => (&ssn.server, &ssn.client),
    };
    let v6 = src.0.is_ipv6();
    let hdr_len: u16 = if v6 { 40 } else { 20 };
    let mut p = Packet::new(ts, &[]);
    p.len = u32::from(hdr_len) + 20;
    let vlan = f.key.vlan();
    p.vlan = [vlan[0], vlan[1], 0];
    p.vlan_count = vlan.iter().take_while(|&&v| v != 0).count() as u8;
    p.ip = Some(IpHdr {
        version: if v6 { 6 } else { 4 },
        src: src.0,
        dst: dst.0,
        proto: 6,
        ttl: 64,
        tos: 0,
        id: 0,
        frag_flags: 0,
        frag_offset: 0,
        frag_hdr: false,
        ipopts: 0,
        hdr_len,
        total_len: u32::from(hdr_len) + 20,
    });
    p.l4 = L4::Tcp(TcpHdr {
        src_port: src.1,
        dst_port: dst.1,
        seq: own.next_seq,
        ack: other.last_ack,
        flags: crate::decode::packet::tcpflag::ACK,
        window: 10,
        hdr_len: 20,
        mss: None,
        wscale: None,
        sack_permitted: false,
        tfo: false,
        timestamp: None,
        bad_checksum: false,
    });
    p.depth = f.key.depth();
    p.wants_flow = true;
    p.pseudo = true;
    p
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
        // TCP, UDP and SCTP have ports in EVE even when the header is not there (a fragment):
        // 0, as Suricata prints them
        let ports = p
            .ports()
            .or_else(|| matches!(ip.proto, 6 | 17 | 132).then_some((0, 0)));
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
                verdict: self.eve_alert.verdict.then_some(alerts.verdict),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::{Frame, LinkType};

    /// Raw IPv4 + TCP from 10.0.0.1:1234 to 10.0.0.2:80 (`up`), or back.
    fn tcp(up: bool, flags: u8, seq: u32, ack: u32, payload: &[u8]) -> Vec<u8> {
        let (a, b, sp, dp) = if up {
            (1, 2, 1234u16, 80u16)
        } else {
            (2, 1, 80, 1234)
        };
        let mut v = vec![
            0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, a, 10, 0, 0, b,
        ];
        v[2..4].copy_from_slice(&((40 + payload.len()) as u16).to_be_bytes());
        v.extend_from_slice(&sp.to_be_bytes());
        v.extend_from_slice(&dp.to_be_bytes());
        v.extend_from_slice(&seq.to_be_bytes());
        v.extend_from_slice(&ack.to_be_bytes());
        v.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
        v.extend_from_slice(payload);
        let ip = |x| std::net::IpAddr::from([10, 0, 0, x]);
        let c = crate::decode::checksum::tcp(ip(a), ip(b), &v[20..]);
        v[36..38].copy_from_slice(&c.to_be_bytes());
        v
    }

    /// `capture.checksum-checks`: `auto` stops checking at the 1,000th packet when more than
    /// a tenth of those before it were wrong (101 of 999; 100 is not enough), `yes` never
    /// stops, `no` never starts. Ten wrong packets follow the 1,000th. Offloaded frames
    /// (the capturing host's own, checksums not filled in) are never checked.
    #[test]
    fn checksum_checks_auto_stops_for_an_offloading_capture() {
        use crate::config::ChecksumChecks::*;
        use crate::decode::packet::tcpflag::*;
        for (checks, offloaded, bad_first, counted) in [
            (Auto, false, 101, 101),
            (Auto, false, 100, 110),
            (Yes, false, 101, 111),
            (No, false, 101, 0),
            (Yes, true, 101, 0),
        ] {
            let mut cfg = Config::default();
            cfg.capture.checksum_checks = checks;
            let mut engine = build_engine(&cfg, &[]).unwrap().engine;
            let mut proc = Processor::new(&cfg);
            for i in 0..1010u32 {
                let mut bytes = tcp(true, ACK, 1 + i, 1, b"x");
                if i < bad_first || i >= 1000 {
                    bytes[36] ^= 0x5a;
                }
                let frame = Frame {
                    ts: Timestamp { secs: 1, nanos: i },
                    link: LinkType::Raw,
                    data: &bytes,
                    orig_len: bytes.len() as u32,
                    offloaded,
                };
                proc.process(
                    &mut engine,
                    &frame,
                    Some(u64::from(i) + 1),
                    "wire/pcap",
                    |_| {},
                );
            }
            assert_eq!(
                proc.flows.stats.invalid_checksum, counted,
                "{checks:?} with {bad_first} wrong, offloaded: {offloaded}"
            );
        }
    }

    #[test]
    fn a_quiet_link_still_times_flows_out_and_inspects_their_streams() {
        use crate::decode::packet::tcpflag::*;
        let dir = std::env::temp_dir().join(format!("ravn-idle-sweep-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let rules = dir.join("idle.rules");
        // split over two segments: only the stream (flushed when the flow ends) has it whole
        std::fs::write(
            &rules,
            "alert tcp any any -> any any (msg:\"idle\"; flow:established,to_server; \
             content:\"IDLEDATA\"; sid:1;)\n",
        )
        .unwrap();
        let cfg = Config::default();
        let mut engine = build_engine(&cfg, &[rules]).unwrap().engine;
        let mut proc = Processor::new(&cfg);
        let segments = [
            tcp(true, SYN, 100, 0, b""),
            tcp(false, SYN | ACK, 500, 101, b""),
            tcp(true, ACK, 101, 501, b""),
            tcp(true, PSH | ACK, 101, 501, b"IDLE"),
            tcp(true, PSH | ACK, 105, 501, b"DATA"),
        ];
        let mut alerts = 0;
        for (i, bytes) in segments.iter().enumerate() {
            let frame = Frame {
                ts: Timestamp {
                    secs: 1000,
                    nanos: i as u32,
                },
                link: LinkType::Raw,
                data: bytes,
                orig_len: bytes.len() as u32,
                offloaded: false,
            };
            alerts += proc.process(&mut engine, &frame, Some(i as u64 + 1), "wire/pcap", |_| {});
        }
        assert_eq!(alerts, 0, "neither segment holds the content");
        let at = |secs| Timestamp { secs, nanos: 10 };
        // established: 600 s after its last packet
        assert_eq!(proc.sweep_idle(&mut engine, at(1100), |_| {}), 0);
        assert_eq!(proc.sweep_idle(&mut engine, at(1599), |_| {}), 0);
        assert_eq!(proc.flows.stats.timeouts, 0);
        let mut seen = Vec::new();
        let n = proc.sweep_idle(&mut engine, at(1600), |e| {
            if let Emit::Alert(r) = e {
                seen.push(r.pkt_src.to_string());
            }
        });
        assert_eq!((n, proc.flows.stats.timeouts), (1, 1));
        assert_eq!(seen, [PSEUDO_PKT_SRC]);
        assert_eq!(proc.flows.active(), 0);
        // nothing is left to end or inspect at exit
        assert_eq!(proc.finish(&mut engine, |_| {}), 0);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
