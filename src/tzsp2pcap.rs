//! `ravn tzsp2pcap`: the TZSP stream on a UDP port written as a classic pcap (Ethernet link
//! type) for Wireshark or tcpdump, like the `tzsp2pcap` tool it replaces. Frames in the
//! raw-IP encapsulation get a synthetic Ethernet header (zero MAC addresses, the IP version's
//! EtherType) so that one file holds both kinds.

use std::io::{self, Write};
use std::net::UdpSocket;
use std::time::Duration;

use crate::capture::live::tzsp_udp::{classify, Reject};
use crate::capture::LinkType;

/// What a run wrote and rejected.
#[derive(Debug, Default, Clone, Copy)]
pub struct Tzsp2PcapSummary {
    pub written: u64,
    pub garbage: u64,
    pub truncated: u64,
    pub unknown_encapsulation: u64,
    pub unsupported_type: u64,
    pub oversize: u64,
}

const SNAPLEN: u32 = 65535;

/// The pcap file header (microsecond timestamps, Ethernet).
pub fn pcap_header() -> [u8; 24] {
    let mut h = [0u8; 24];
    h[0..4].copy_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    h[4..6].copy_from_slice(&2u16.to_le_bytes());
    h[6..8].copy_from_slice(&4u16.to_le_bytes());
    h[16..20].copy_from_slice(&SNAPLEN.to_le_bytes());
    h[20..24].copy_from_slice(&1u32.to_le_bytes());
    h
}

fn record(out: &mut impl Write, link: LinkType, frame: &[u8]) -> io::Result<()> {
    let now = crate::replay::now();
    let eth_hdr: Option<[u8; 14]> = match link {
        LinkType::Raw => {
            let mut e = [0u8; 14];
            let et: u16 = if frame.first().is_some_and(|b| b >> 4 == 6) {
                0x86dd
            } else {
                0x0800
            };
            e[12..14].copy_from_slice(&et.to_be_bytes());
            Some(e)
        }
        _ => None,
    };
    let len = frame.len() as u32 + if eth_hdr.is_some() { 14 } else { 0 };
    let mut h = [0u8; 16];
    h[0..4].copy_from_slice(&(now.secs as u32).to_le_bytes());
    h[4..8].copy_from_slice(&now.micros().to_le_bytes());
    h[8..12].copy_from_slice(&len.to_le_bytes());
    h[12..16].copy_from_slice(&len.to_le_bytes());
    out.write_all(&h)?;
    if let Some(e) = eth_hdr {
        out.write_all(&e)?;
    }
    out.write_all(frame)
}

/// Listens on `port` (all addresses) and writes pcap to `out` until SIGINT/SIGTERM (or
/// `max_packets` frames, when given). Flushes after every datagram burst, so a reader on a
/// pipe sees packets as they come.
pub fn run(
    port: u16,
    out: &mut dyn Write,
    max_packets: Option<u64>,
) -> io::Result<Tzsp2PcapSummary> {
    crate::daemon::block_signals();
    let sock = UdpSocket::bind(("0.0.0.0", port))
        .map_err(|e| io::Error::new(e.kind(), format!("UDP port {port}: {e}")))?;
    sock.set_read_timeout(Some(Duration::from_millis(100)))?;
    let mut out = io::BufWriter::with_capacity(256 * 1024, out);
    out.write_all(&pcap_header())?;
    out.flush()?;
    let mut s = Tzsp2PcapSummary::default();
    let mut buf = vec![0u8; 65536];
    let mut dirty = false;
    loop {
        if max_packets.is_some_and(|m| s.written >= m) {
            break;
        }
        match sock.recv_from(&mut buf) {
            Ok((n, _)) => match classify(&buf[..n], SNAPLEN as usize - 14) {
                Ok((link, off, len)) => {
                    record(&mut out, link, &buf[off..off + len])?;
                    s.written += 1;
                    dirty = true;
                }
                Err(Reject::Garbage) => s.garbage += 1,
                Err(Reject::Truncated) => s.truncated += 1,
                Err(Reject::UnknownEncapsulation(_)) => s.unknown_encapsulation += 1,
                Err(Reject::UnsupportedType(_)) => s.unsupported_type += 1,
                Err(Reject::Oversize) => s.oversize += 1,
            },
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) =>
            {
                if dirty {
                    out.flush()?;
                    dirty = false;
                }
                if pending_stop() {
                    break;
                }
            }
            Err(e) => return Err(e),
        }
        if s.written % 64 == 0 && pending_stop() {
            break;
        }
    }
    out.flush()?;
    Ok(s)
}

/// A SIGINT or SIGTERM is pending (they are blocked; this takes one without waiting).
fn pending_stop() -> bool {
    // SAFETY: sigset manipulated through libc; zero timeout.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        let ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        libc::sigtimedwait(&set, std::ptr::null_mut(), &ts) > 0
    }
}
