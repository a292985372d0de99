//! Decoding: frame bytes to a `Packet` view. Never panics, never allocates; every packet it
//! cannot decode fully is counted by reason in `DecodeStats`.
//!
//! One module per protocol; each checks lengths before it reads (smoltcp's `wire` views where
//! they fit) and counts what it finds in Suricata's `decoder.*` counters. Tunnels (GRE,
//! IP-in-IP) and TZSP are decapsulated: the `Packet` describes the innermost IP and L4.

mod ctx;
mod ethernet;
mod gre;
mod icmp;
mod ip;
mod ipv4;
mod ipv6;
mod link;
pub mod packet;
mod sll;
pub mod stats;
mod tcp;
#[cfg(test)]
mod tests;
pub mod tzsp;
mod udp;

pub use packet::{IcmpHdr, IpHdr, Packet, TcpHdr, UdpHdr, L4};
pub use stats::{Counter, DecodeStats};

use crate::capture::Frame;
use ctx::Ctx;

/// The UDP port MikroTik streams TZSP to.
pub const TZSP_DEFAULT_PORT: u16 = 37008;

/// Decoder settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecoderConfig {
    /// Decapsulate TZSP found in UDP datagrams to `tzsp_port`.
    pub tzsp: bool,
    pub tzsp_port: u16,
    /// Protocol layers decoded per packet before giving up (Suricata's `decoder.max-layers`).
    pub max_layers: u8,
}

impl Default for DecoderConfig {
    fn default() -> Self {
        DecoderConfig {
            tzsp: true,
            tzsp_port: TZSP_DEFAULT_PORT,
            max_layers: 16,
        }
    }
}

/// Decodes frames into `Packet`s and counts what it saw.
#[derive(Debug, Clone, Default)]
pub struct Decoder {
    pub stats: DecodeStats,
    config: DecoderConfig,
}

impl Decoder {
    /// A decoder with the default configuration (TZSP on port 37008 decapsulated).
    pub fn new() -> Decoder {
        Decoder::default()
    }

    pub fn with_config(config: DecoderConfig) -> Decoder {
        Decoder {
            stats: DecodeStats::default(),
            config,
        }
    }

    pub fn config(&self) -> &DecoderConfig {
        &self.config
    }

    /// Decodes one frame. Always returns a packet: with `ip: None` / `l4: L4::None` where
    /// decoding stopped, the reason counted in `stats`.
    ///
    /// TZSP: a UDP datagram to the TZSP port carrying an Ethernet frame is replaced by that
    /// frame (`tzsp: true`, `frame`/`len` the inner frame, timestamp the outer one); the
    /// transport's layer counters are taken back, so the stats describe the mirrored traffic
    /// (plus `tzsp.packets`). Malformed TZSP is counted and the outer packet returned, as is
    /// TZSP in an IP fragment (`tzsp.fragmented`: a mirrored frame too big for one datagram).
    pub fn decode<'a>(&mut self, frame: &Frame<'a>) -> Packet<'a> {
        let cfg = self.config;
        let mut cx = Ctx::new(
            &mut self.stats,
            Packet::new(frame.ts, frame.data),
            cfg.max_layers,
        );
        link::decode(&mut cx, frame.link, frame.data);
        if cfg.tzsp {
            if let L4::Udp(u) = cx.pkt.l4 {
                if u.dst_port == cfg.tzsp_port {
                    decapsulate_tzsp(&mut cx);
                }
            }
        }
        let len = u64::from(cx.pkt.len);
        let invalid = cx.invalid;
        let pkt = cx.pkt;
        let s = &mut self.stats;
        s.inc(Counter::Pkts);
        s.add(Counter::Bytes, len);
        s.max(Counter::MaxPktSize, len);
        if invalid {
            s.inc(Counter::Invalid);
        }
        pkt
    }
}

fn decapsulate_tzsp(cx: &mut Ctx<'_, '_>) {
    if cx.pkt.ip.is_some_and(|ip| ip.is_fragment()) {
        // Without reassembly only the start of the mirrored frame is here: counted, and the
        // outer packet left as it is.
        cx.stats.inc(Counter::TzspFragmented);
        return;
    }
    match tzsp::decapsulate_any(cx.pkt.payload) {
        Ok((encap, inner)) => {
            let mut pkt = Packet::new(cx.pkt.ts, inner);
            pkt.tzsp = true;
            cx.restart(pkt);
            cx.stats.inc(Counter::TzspPackets);
            match encap {
                tzsp::Encap::Ethernet => ethernet::decode(cx, inner),
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
