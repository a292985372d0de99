//! Live capture sources for `ravn run`: each one moves frames from the kernel (or a file)
//! into the frame ring (`crate::pipeline`) and counts what it saw and what it lost.
//!
//! - `tzsp_udp`: MikroTik TZSP datagrams on a UDP socket (recvmmsg batches).
//! - `af_packet`: a TPACKET_V3 mmap ring on an interface.
//! - `af_xdp`: an AF_XDP socket (cargo feature `af-xdp`, x86_64 and aarch64 only).
//! - `pcap_file`: a capture file, read once, so that tests can drive the daemon path.
//!
//! A source never waits for the matcher: when the ring has no free slot the frame is
//! consumed from the kernel and counted in `capture.ring_drops` (the file source alone waits,
//! since a file loses nothing by waiting).

pub mod af_packet;
#[cfg(all(
    feature = "af-xdp",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
pub mod af_xdp;
pub mod pcap_file;
pub mod sys;
pub mod tzsp_udp;

use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::{CaptureSource, Config};
use crate::pipeline::counters::CaptureCounters;
use crate::pipeline::frame::FrameSlot;
use crate::pipeline::ring::Producer;
use crate::pipeline::Shared;

/// What one `poll` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Poll {
    /// Frames were received (some may have been dropped and counted).
    Frames(usize),
    /// Nothing arrived within the source's wait (~100 ms).
    Idle,
    /// The input ended (capture files only).
    End,
}

/// A capture source could not be opened or failed. The message names the interface, the
/// address or the capability at fault.
#[derive(Debug)]
pub struct LiveError(pub String);

impl fmt::Display for LiveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LiveError {}

/// A live capture source: the capture thread calls `poll` in a loop.
pub trait LiveSource: Send {
    /// Moves the frames that have arrived into `ring` (a batch at most), waiting up to about
    /// 100 ms when none has. Never waits for free slots (except the file source).
    fn poll(
        &mut self,
        ring: &mut Producer<FrameSlot>,
        counters: &CaptureCounters,
    ) -> Result<Poll, LiveError>;
    /// Reads the kernel's counters into `counters` (about once a second, and at exit).
    fn update_stats(&mut self, _counters: &CaptureCounters) {}
    /// For messages: "tzsp 0.0.0.0:37008", "af-packet eth0", ...
    fn describe(&self) -> String;
}

/// Extra bytes in each pool slot beyond `pipeline.frame-size`, so that a TZSP datagram whose
/// frame is `frame-size` long still fits whole with its header and tags.
pub const SLOT_HEADROOM: usize = 256;

/// Opens the configured source. `frame_size` is the largest frame accepted.
pub fn open(cfg: &Config) -> Result<Box<dyn LiveSource>, LiveError> {
    let frame_size = cfg.pipeline.frame_size;
    match cfg.capture.source {
        CaptureSource::Tzsp => Ok(Box::new(tzsp_udp::TzspUdpSource::open(
            &cfg.capture.tzsp,
            frame_size,
        )?)),
        CaptureSource::AfPacket => Ok(Box::new(af_packet::AfPacketSource::open(
            &cfg.capture.af_packet,
            frame_size,
        )?)),
        CaptureSource::AfXdp => open_af_xdp(cfg),
        CaptureSource::Pcap => Ok(Box::new(pcap_file::PcapFileSource::open(
            &cfg.capture.pcap.file,
            frame_size,
        )?)),
    }
}

#[cfg(all(
    feature = "af-xdp",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
fn open_af_xdp(cfg: &Config) -> Result<Box<dyn LiveSource>, LiveError> {
    Ok(Box::new(af_xdp::AfXdpSource::open(
        &cfg.capture.af_xdp,
        cfg.pipeline.frame_size,
        &cfg.daemon.run_dir,
    )?))
}

#[cfg(not(all(
    feature = "af-xdp",
    any(target_arch = "x86_64", target_arch = "aarch64")
)))]
fn open_af_xdp(_cfg: &Config) -> Result<Box<dyn LiveSource>, LiveError> {
    Err(LiveError(
        "capture.source = \"af-xdp\": this build has no AF_XDP support (cargo feature `af-xdp`, x86_64/aarch64 only)".into(),
    ))
}

/// The capture thread: polls `src` until asked to stop (or the input ends), refreshing the
/// kernel counters every second; marks the capture done when it returns.
pub fn run_capture(
    mut src: Box<dyn LiveSource>,
    mut ring: Producer<FrameSlot>,
    shared: Arc<Shared>,
) {
    let mut last_stats = Instant::now();
    let mut error = None;
    while !shared.stop.load(Ordering::Relaxed) {
        match src.poll(&mut ring, &shared.capture) {
            Ok(Poll::End) => break,
            Ok(_) => {}
            Err(e) => {
                error = Some(e);
                break;
            }
        }
        if last_stats.elapsed() >= Duration::from_secs(1) {
            src.update_stats(&shared.capture);
            last_stats = Instant::now();
        }
    }
    src.update_stats(&shared.capture);
    if let Some(e) = error {
        log::error!("{}: {e}", src.describe());
        if let Ok(mut g) = shared.capture_error.lock() {
            *g = Some(format!("{}: {e}", src.describe()));
        }
    }
    // Release the source (sockets, rings, an XDP program) before saying we are done.
    drop(src);
    shared.capture_done.store(true, Ordering::Release);
}
