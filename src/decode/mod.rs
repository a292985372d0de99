//! Decoding: frame bytes to `Packet` views. Never panics, never allocates; every packet it
//! cannot decode fully is counted by reason in `DecodeStats`.
//!
//! One module per protocol; each checks lengths before it reads (smoltcp's `wire` views where
//! they fit) and counts what it finds in Suricata's `decoder.*` counters. TZSP is part of
//! capture: its frame replaces the transport. Tunnels are Suricata's: GRE, IPv6 in IPv4, IPv4
//! and IPv6 in IPv6, Teredo, VXLAN and Geneve each yield a packet of their own (`tunnel.rs`),
//! so one frame decodes to the captured packet plus the packets it carries (`Decoded`).
//! NSH and MPLS are layers, not tunnels: they stay in the one packet. IP fragments go to the
//! defragmenter (`crate::defrag`, via `fragment.rs`); a packet they complete is a packet of
//! its own too, borrowing the defragmenter's output buffer.

pub mod checksum;
mod ctx;
mod ethernet;
mod fragment;
mod geneve;
mod gre;
mod icmp;
mod ip;
mod ipv4;
mod ipv6;
mod link;
mod mpls;
mod nsh;
pub mod packet;
mod sll;
pub mod stats;
mod tcp;
mod teredo;
#[cfg(test)]
mod tests;
mod tunnel;
pub mod tzsp;
mod udp;
mod vxlan;

pub use ctx::MAX_PACKETS;
pub use packet::{IcmpHdr, IpHdr, Packet, PktSrc, TcpHdr, UdpHdr, L4};
pub use stats::{Counter, DecodeStats};

use crate::capture::Frame;
use crate::defrag::{Defrag, DefragConfig, Session};
use ctx::{Ctx, PacketList};

/// The UDP port MikroTik streams TZSP to.
pub const TZSP_DEFAULT_PORT: u16 = 37008;
/// Suricata's default ports for the UDP tunnels (`$VXLAN_PORTS`, `$GENEVE_PORTS`,
/// `$TEREDO_PORTS` in its suricata.yaml).
pub const VXLAN_DEFAULT_PORT: u16 = 4789;
pub const GENEVE_DEFAULT_PORT: u16 = 6081;
pub const TEREDO_DEFAULT_PORT: u16 = 3544;

/// Where a UDP tunnel decoder looks (Suricata's `decoder.vxlan` / `geneve` / `teredo`):
/// datagrams whose source or destination port is one of at most four ports, or any port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpTunnel {
    pub enabled: bool,
    any_port: bool,
    ports: [u16; UdpTunnel::MAX_PORTS],
    n: u8,
}

impl UdpTunnel {
    /// Suricata keeps at most four ports per UDP tunnel decoder.
    pub const MAX_PORTS: usize = 4;

    /// Enabled on `ports` (the first four; Suricata warns and ignores the rest).
    pub fn on_ports(ports: &[u16]) -> UdpTunnel {
        let mut t = UdpTunnel {
            enabled: true,
            any_port: false,
            ports: [0; UdpTunnel::MAX_PORTS],
            n: 0,
        };
        for (slot, &p) in t.ports.iter_mut().zip(ports) {
            *slot = p;
            t.n += 1;
        }
        t
    }

    /// Enabled on every port (Teredo's `ports: any`, and its default without a port list).
    pub fn any_port() -> UdpTunnel {
        UdpTunnel {
            any_port: true,
            ..UdpTunnel::on_ports(&[])
        }
    }

    pub fn disabled() -> UdpTunnel {
        UdpTunnel {
            enabled: false,
            ..UdpTunnel::on_ports(&[])
        }
    }

    /// The ports it looks at (empty with `any_port`).
    pub fn ports(&self) -> &[u16] {
        &self.ports[..usize::from(self.n)]
    }

    /// Suricata's Decode*EnabledForPort.
    #[inline]
    pub fn applies(&self, sp: u16, dp: u16) -> bool {
        self.enabled && (self.any_port || self.ports().iter().any(|&p| p == sp || p == dp))
    }
}

/// Decoder settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecoderConfig {
    /// Decapsulate TZSP found in UDP datagrams to `tzsp_port`.
    pub tzsp: bool,
    pub tzsp_port: u16,
    /// Protocol layers decoded per packet before giving up (Suricata's `decoder.max-layers`).
    pub max_layers: u8,
    pub vxlan: UdpTunnel,
    pub geneve: UdpTunnel,
    pub teredo: UdpTunnel,
    /// IP defragmentation (`defrag.*`).
    pub defrag: DefragConfig,
    /// Check TCP checksums (`TcpHdr::bad_checksum`). The packet pipeline turns this on and
    /// off as `stream.checksum-validation` and `capture.checksum-checks` say
    /// (`Decoder::set_checksums`).
    pub tcp_checksums: bool,
    /// The frame's checksums are not checked at all (`Packet::checksums_ignored`, Suricata's
    /// PKT_IGNORE_CHECKSUM): `capture.checksum-checks` is off for it.
    pub checksums_ignored: bool,
}

impl Default for DecoderConfig {
    /// TZSP on 37008; VXLAN, Geneve and Teredo on the ports of Suricata's suricata.yaml.
    fn default() -> Self {
        DecoderConfig {
            tzsp: true,
            tzsp_port: TZSP_DEFAULT_PORT,
            max_layers: 16,
            vxlan: UdpTunnel::on_ports(&[VXLAN_DEFAULT_PORT]),
            geneve: UdpTunnel::on_ports(&[GENEVE_DEFAULT_PORT]),
            teredo: UdpTunnel::on_ports(&[TEREDO_DEFAULT_PORT]),
            defrag: DefragConfig::default(),
            tcp_checksums: false,
            checksums_ignored: true,
        }
    }
}

/// The packets one frame decodes to, in the order Suricata processes them: the tunnelled
/// packets first (the innermost first) and the packets rebuilt from fragments (each right
/// before the packet whose fragment completed it), the captured packet last. Without
/// tunnels or fragments, just the captured packet.
#[derive(Debug, Clone)]
pub struct Decoded<'a> {
    tunnelled: PacketList<'a>,
    root: Packet<'a>,
}

impl<'a> Decoded<'a> {
    /// Every packet, in processing order.
    #[inline]
    pub fn packets(&self) -> impl Iterator<Item = &Packet<'a>> + '_ {
        self.tunnelled.iter().chain(std::iter::once(&self.root))
    }

    /// How many packets (1 plus the tunnelled ones).
    #[inline]
    pub fn len(&self) -> usize {
        self.tunnelled.len() + 1
    }

    /// Never empty: there is always the captured packet.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The captured packet (after TZSP decapsulation).
    #[inline]
    pub fn root(&self) -> &Packet<'a> {
        &self.root
    }

    /// The innermost packet: the deepest tunnelled one, or the captured packet.
    #[inline]
    pub fn innermost(&self) -> &Packet<'a> {
        self.tunnelled.first().unwrap_or(&self.root)
    }

    /// Tunnelled and reassembled packets (all but the captured one), in processing order.
    #[inline]
    pub fn tunnelled(&self) -> &[Packet<'a>] {
        &self.tunnelled
    }
}

/// Decodes frames into `Packet`s and counts what it saw; holds the defragmenter.
#[derive(Debug, Default)]
pub struct Decoder {
    pub stats: DecodeStats,
    config: DecoderConfig,
    pub defrag: Defrag,
}

impl Decoder {
    /// A decoder with the default configuration (TZSP on port 37008 decapsulated).
    pub fn new() -> Decoder {
        Decoder::default()
    }

    /// From the next frame on: whether checksums are checked at all (`checked`), and TCP
    /// checksums for the stream engine (`tcp`, only when checked).
    pub fn set_checksums(&mut self, checked: bool, tcp: bool) {
        self.config.checksums_ignored = !checked;
        self.config.tcp_checksums = checked && tcp;
    }

    pub fn with_config(config: DecoderConfig) -> Decoder {
        Decoder {
            stats: DecodeStats::default(),
            config,
            defrag: Defrag::new(config.defrag),
        }
    }

    pub fn config(&self) -> &DecoderConfig {
        &self.config
    }

    /// Decodes one frame into the captured packet and the packets its tunnels carry: the
    /// packets that borrow the frame. Fragments are tracked, but a packet they complete is
    /// not rebuilt (it would borrow the decoder): `decode_with` gives it.
    ///
    /// The captured packet is always there: with `ip: None` / `l4: L4::None` where decoding
    /// stopped, the reason counted in `stats`.
    ///
    /// TZSP: a UDP datagram to the TZSP port carrying an Ethernet frame is replaced by that
    /// frame (`tzsp: true`, `frame`/`len` the inner frame, timestamp the outer one); the
    /// transport's layer counters are taken back, so the stats describe the mirrored traffic
    /// (plus `tzsp.packets`). Malformed TZSP is counted and the outer packet returned; TZSP in
    /// IP fragments is reassembled but not decapsulated (`tzsp.fragmented`: a mirrored frame
    /// too big for one datagram).
    pub fn decode<'a>(&mut self, frame: &Frame<'a>) -> Decoded<'a> {
        let Decoder {
            stats,
            config,
            defrag,
        } = self;
        let mut out = Decoded {
            tunnelled: PacketList::new(),
            root: Packet::new(frame.ts, frame.data),
        };
        decode_into(
            stats,
            config,
            defrag.session_without_output(),
            frame,
            &mut out,
        );
        out
    }

    /// `decode` with the packets rebuilt from fragments (borrowing the defragmenter's
    /// output buffers), handed to `f` where they were decoded: the hot path, which copies
    /// no packet list.
    #[inline]
    pub fn decode_with<R>(&mut self, frame: &Frame<'_>, f: impl FnOnce(&Decoded<'_>) -> R) -> R {
        let Decoder {
            stats,
            config,
            defrag,
        } = self;
        let session = defrag.session();
        let mut out = Decoded {
            tunnelled: PacketList::new(),
            root: Packet::new(frame.ts, frame.data),
        };
        decode_into(stats, config, session, frame, &mut out);
        f(&out)
    }
}

fn decode_into<'a>(
    stats: &mut DecodeStats,
    cfg: &DecoderConfig,
    defrag: Session<'_, 'a>,
    frame: &Frame<'_>,
    out: &mut Decoded<'a>,
) {
    let data: &'a [u8] = out.root.frame;
    let mut cx = Ctx::new(stats, cfg, &mut out.tunnelled, &mut out.root, defrag);
    link::decode(&mut cx, frame.link, data);
    if cfg.tzsp {
        if let L4::Udp(u) = cx.pkt.l4 {
            if u.dst_port == cfg.tzsp_port {
                decapsulate_tzsp(&mut cx);
            }
        }
        // A datagram rebuilt from fragments is not decapsulated.
        let tzsp_port = cfg.tzsp_port;
        let fragmented = cx
            .out
            .iter()
            .filter(|p| p.src == PktSrc::Defrag && p.depth == 0)
            .filter(|p| p.udp().is_some_and(|u| u.dst_port == tzsp_port))
            .count();
        cx.stats.add(Counter::TzspFragmented, fragmented as u64);
    }
    cx.count_events();
    let invalid = cx.invalid;
    let len = u64::from(out.root.len);
    stats.inc(Counter::Pkts);
    stats.add(Counter::Bytes, len);
    stats.max(Counter::MaxPktSize, len);
    if invalid {
        stats.inc(Counter::Invalid);
    }
}

fn decapsulate_tzsp(cx: &mut Ctx<'_, '_>) {
    match tzsp::decapsulate_any(cx.pkt.payload) {
        Ok((encap, inner)) => {
            let mut pkt = Packet::new(cx.pkt.ts, inner);
            pkt.tzsp = true;
            cx.restart(pkt);
            cx.stats.inc(Counter::TzspPackets);
            match encap {
                tzsp::Encap::Ethernet => {
                    ethernet::decode(cx, inner);
                }
                tzsp::Encap::RawIp => link::decode(cx, crate::capture::LinkType::Raw, inner),
            }
        }
        Err(tzsp::TzspError::Malformed) => cx.stats.inc(Counter::TzspMalformed),
        Err(tzsp::TzspError::UnsupportedType(_)) => cx.stats.inc(Counter::TzspUnsupportedType),
        Err(tzsp::TzspError::UnknownEncapsulation(_)) => {
            cx.stats.inc(Counter::TzspUnknownEncapsulation)
        }
    }
}
