//! AF_XDP capture through the afxdp crate (libbpf's xsk API underneath): a UMEM of frames,
//! its fill ring kept full, an RX-only socket on one queue; each received frame is copied into
//! the pool and its UMEM frame goes straight back to the fill ring.
//!
//! afxdp attaches libbpf's default XDP program (redirect to the socket's queue) in the mode
//! the kernel prefers for the driver. `capture.af-xdp.xdp-mode = "skb"` then moves that same
//! program to generic (SKB) mode, which works on every driver; `"native"` insists on the
//! driver mode. The program is detached when the source is dropped, and at start-up when a
//! previous run left one behind (its id is kept in `<run-dir>/xdp-<interface>`).

use std::os::fd::RawFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use afxdp::buf::Buf;
use afxdp::buf_mmap::BufMmap;
use afxdp::mmap_area::{MmapArea, MmapAreaOptions};
use afxdp::socket::{Socket, SocketOptions, SocketRx};
use afxdp::umem::{Umem, UmemFillQueue};
use afxdp::PENDING_LEN;
use arraydeque::{ArrayDeque, Wrapping};

use super::sys;
use super::{LiveError, LiveSource, Poll};
use crate::capture::LinkType;
use crate::config::{AfXdpConfig, XdpMode};
use crate::pipeline::counters::CaptureCounters as C;
use crate::pipeline::frame::FrameSlot;
use crate::pipeline::ring::Producer;

const AF_XDP: i32 = 44;
const SOL_XDP: i32 = 283;
const XDP_STATISTICS: i32 = 7;
const UMEM_FRAME: usize = 2048;
const BATCH: usize = 64;

#[repr(C)]
#[derive(Default)]
struct XdpStatistics {
    rx_dropped: u64,
    rx_invalid_descs: u64,
    tx_invalid_descs: u64,
    rx_ring_full: u64,
    rx_fill_ring_empty_descs: u64,
    tx_ring_empty_descs: u64,
}

type Meta = ();

/// The AF_XDP socket and its UMEM. Field order is drop order: socket handles, then the UMEM,
/// then the memory area the buffers point into.
pub struct AfXdpSource {
    rx: SocketRx<'static, Meta>,
    fq: UmemFillQueue<'static, Meta>,
    socket: Option<Arc<Socket<'static, Meta>>>,
    umem: Option<Arc<Umem<'static, Meta>>>,
    free: Vec<BufMmap<'static, Meta>>,
    pending: ArrayDeque<[BufMmap<'static, Meta>; PENDING_LEN], Wrapping>,
    _area: Arc<MmapArea<'static, Meta>>,
    fd: RawFd,
    iface: String,
    ifindex: u32,
    /// The flags the program is attached with (for detaching it).
    attach_flags: u32,
    state_file: PathBuf,
    max_frame: usize,
    received: u64,
    counted_drops: u64,
}

// The raw ring pointers inside are only used by the thread that polls the source.
unsafe impl Send for AfXdpSource {}

fn xdp_prog_id(ifindex: u32, flags: u32) -> u32 {
    let mut id: u32 = 0;
    // SAFETY: plain netlink query into `id`.
    let r = unsafe { libbpf_sys::bpf_get_link_xdp_id(ifindex as i32, &mut id, flags) };
    if r < 0 {
        0
    } else {
        id
    }
}

fn detach(ifindex: u32, flags: u32) -> i32 {
    // SAFETY: fd -1 detaches whatever program is attached in that mode.
    unsafe { libbpf_sys::bpf_set_link_xdp_fd(ifindex as i32, -1, flags) }
}

/// Detaches a program an earlier run left on `ifindex` (the id recorded in `state`, if it
/// is still the one attached).
fn detach_stale(ifindex: u32, iface: &str, state: &Path) {
    let Ok(text) = std::fs::read_to_string(state) else {
        return;
    };
    let old: u32 = text.trim().parse().unwrap_or(0);
    for flags in [
        libbpf_sys::XDP_FLAGS_SKB_MODE,
        libbpf_sys::XDP_FLAGS_DRV_MODE,
    ] {
        if old != 0 && xdp_prog_id(ifindex, flags) == old {
            let r = detach(ifindex, flags);
            log::warn!(
                "af-xdp: detached XDP program {old} that an earlier run left on interface `{iface}` ({})",
                if r == 0 { "ok" } else { "failed" }
            );
        }
    }
    let _ = std::fs::remove_file(state);
}

/// The AF_XDP sockets among this process's descriptors.
fn xdp_fds() -> Vec<RawFd> {
    let mut v = Vec::new();
    if let Ok(rd) = std::fs::read_dir("/proc/self/fd") {
        for e in rd.flatten() {
            if let Some(fd) = e.file_name().to_str().and_then(|s| s.parse::<RawFd>().ok()) {
                if sys::getsockopt::<libc::c_int>(fd, libc::SOL_SOCKET, libc::SO_DOMAIN)
                    .is_ok_and(|d| d == AF_XDP)
                {
                    v.push(fd);
                }
            }
        }
    }
    v
}

impl AfXdpSource {
    pub fn open(
        cfg: &AfXdpConfig,
        frame_size: usize,
        run_dir: &Path,
    ) -> Result<AfXdpSource, LiveError> {
        let iface = cfg.interface.as_str();
        let ifindex = sys::ifindex(iface)?;
        let state_file = run_dir.join(format!("xdp-{iface}"));
        detach_stale(ifindex, iface, &state_file);
        if let id @ 1.. = xdp_prog_id(ifindex, 0) {
            return Err(LiveError(format!(
                "af-xdp: interface `{iface}` already has an XDP program (id {id}) that ravn did not attach; detach it first (ip link set dev {iface} xdp off)"
            )));
        }
        let frames = cfg.frames as usize;
        let ring = (frames / 2).next_power_of_two() as u32;
        let opts = SocketOptions {
            copy_mode: cfg.copy,
            zero_copy_mode: false,
            rx_ring_size: ring,
            tx_ring_size: 0,
        };
        // A socket of a process that just died is unbound from the queue asynchronously:
        // EBUSY for a moment, so retry (with a fresh UMEM) for up to two seconds.
        let mut tries = 0;
        let before = xdp_fds();
        let (area, mut bufs, umem, mut fq, socket, rx) = loop {
            let (area, bufs) = MmapArea::<'static, Meta>::new(
                frames,
                UMEM_FRAME,
                MmapAreaOptions { huge_tlb: false },
            )
            .map_err(|e| LiveError(format!("af-xdp on `{iface}`: UMEM mmap: {e:?}")))?;
            let (umem, _cq, fq) = Umem::new(area.clone(), ring, ring)
                .map_err(|e| LiveError(format!("af-xdp on `{iface}`: UMEM: {e}")))?;
            match Socket::new_rx(umem.clone(), iface, cfg.queue as usize, ring, opts) {
                Ok((socket, rx)) => break (area, bufs, umem, fq, socket, rx),
                Err(e) => {
                    let msg = e.to_string();
                    let busy = msg.contains("-16") || msg.contains("busy");
                    if busy && tries < 20 {
                        tries += 1;
                        drop((fq, umem, bufs, area));
                        std::thread::sleep(std::time::Duration::from_millis(100));
                        continue;
                    }
                    return Err(
                        if msg.contains("Operation not permitted") || msg.contains("-1)") {
                            LiveError(format!(
                                "af-xdp on interface `{iface}`: permission denied: ravn needs CAP_NET_RAW and CAP_BPF (or CAP_SYS_ADMIN) ({msg})"
                            ))
                        } else {
                            LiveError(format!(
                                "af-xdp on interface `{iface}` queue {}: {msg}",
                                cfg.queue
                            ))
                        },
                    );
                }
            }
        };
        let fd = xdp_fds()
            .into_iter()
            .find(|fd| !before.contains(fd))
            .unwrap_or(-1);
        // Where is the program now, and where should it be?
        let drv = xdp_prog_id(ifindex, libbpf_sys::XDP_FLAGS_DRV_MODE);
        let skb = xdp_prog_id(ifindex, libbpf_sys::XDP_FLAGS_SKB_MODE);
        let mut attach_flags = if drv != 0 {
            libbpf_sys::XDP_FLAGS_DRV_MODE
        } else {
            libbpf_sys::XDP_FLAGS_SKB_MODE
        };
        let mut src_fail = None;
        match cfg.xdp_mode {
            XdpMode::Skb if drv != 0 => {
                // SAFETY: a program id we just read; the fd is closed below.
                let pfd = unsafe { libbpf_sys::bpf_prog_get_fd_by_id(drv) };
                if pfd < 0 {
                    src_fail = Some("cannot open the XDP program to move it to SKB mode".into());
                } else {
                    detach(ifindex, libbpf_sys::XDP_FLAGS_DRV_MODE);
                    // SAFETY: attaching a valid program fd in generic mode.
                    let r = unsafe {
                        libbpf_sys::bpf_set_link_xdp_fd(
                            ifindex as i32,
                            pfd,
                            libbpf_sys::XDP_FLAGS_SKB_MODE,
                        )
                    };
                    // SAFETY: closing our own fd.
                    unsafe { libc::close(pfd) };
                    if r != 0 {
                        src_fail = Some(format!("attaching in SKB mode failed ({r})"));
                    }
                    attach_flags = libbpf_sys::XDP_FLAGS_SKB_MODE;
                }
            }
            XdpMode::Native if drv == 0 => {
                src_fail = Some(
                    "the driver has no native XDP (capture.af-xdp.xdp-mode = \"skb\" works everywhere)"
                        .into(),
                );
            }
            _ => {}
        }
        let prog = xdp_prog_id(ifindex, attach_flags).max(skb).max(drv);
        if let Some(parent) = state_file.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        let _ = std::fs::write(&state_file, format!("{prog}\n"));
        // libbpf's reserve is all-or-nothing: fill in batches until the ring is full.
        let mut filled = 0;
        while !bufs.is_empty() {
            let k = bufs.len().min(BATCH);
            match fq.fill(&mut bufs, k) {
                Ok(n) if n > 0 => filled += n,
                _ => break,
            }
        }
        log::info!(
            "af-xdp on `{iface}` queue {}: {} mode, {}, {filled} frames in the fill ring",
            cfg.queue,
            if attach_flags == libbpf_sys::XDP_FLAGS_SKB_MODE {
                "SKB (generic)"
            } else {
                "native"
            },
            if cfg.copy {
                "copy"
            } else {
                "zero-copy if possible"
            },
        );
        let src = AfXdpSource {
            rx,
            fq,
            socket: Some(socket),
            umem: Some(umem),
            free: {
                let mut v = Vec::with_capacity(frames);
                v.append(&mut bufs);
                v
            },
            pending: ArrayDeque::new(),
            _area: area,
            fd,
            iface: iface.to_string(),
            ifindex,
            attach_flags,
            state_file,
            max_frame: frame_size,
            received: 0,
            counted_drops: 0,
        };
        if let Some(why) = src_fail {
            return Err(LiveError(format!("af-xdp on interface `{iface}`: {why}")));
        }
        Ok(src)
    }
}

impl LiveSource for AfXdpSource {
    fn poll(&mut self, ring: &mut Producer<FrameSlot>, c: &C) -> Result<Poll, LiveError> {
        while self.free.len() >= BATCH {
            if !matches!(self.fq.fill(&mut self.free, BATCH), Ok(n) if n > 0) {
                break;
            }
        }
        if self.fq.needs_wakeup() {
            self.rx.wake();
        }
        let got = self.rx.try_recv(&mut self.pending, BATCH, ()).unwrap_or(0);
        if got == 0 {
            if self.fd >= 0 {
                sys::wait_readable(self.fd, 100);
            } else {
                std::thread::sleep(std::time::Duration::from_micros(200));
            }
            return Ok(Poll::Idle);
        }
        let ts = sys::realtime();
        let (a, b) = ring.reserve(got);
        let mut slots = a.iter_mut().chain(b.iter_mut());
        let mut filled = 0;
        while let Some(buf) = self.pending.pop_front() {
            let len = buf.get_len() as usize;
            let data = buf.get_data().get(..len).unwrap_or(&[]);
            if len > self.max_frame {
                C::inc(&c.oversize);
            } else if let Some(s) = slots.next() {
                if s.fill(ts, LinkType::Ethernet, data, len as u32) {
                    filled += 1;
                } else {
                    C::inc(&c.oversize);
                }
            } else {
                C::inc(&c.ring_drops);
            }
            self.free.push(buf);
        }
        drop(slots);
        ring.commit(filled);
        self.received += got as u64;
        C::add(&c.kernel_packets, got as u64);
        Ok(Poll::Frames(filled))
    }

    fn update_stats(&mut self, c: &C) {
        if self.fd < 0 {
            return;
        }
        if let Ok(s) = sys::getsockopt::<XdpStatistics>(self.fd, SOL_XDP, XDP_STATISTICS) {
            let drops = s.rx_dropped + s.rx_ring_full;
            if drops > self.counted_drops {
                let d = drops - self.counted_drops;
                C::add(&c.kernel_drops, d);
                C::add(&c.kernel_packets, d);
                self.counted_drops = drops;
            }
        }
    }

    fn describe(&self) -> String {
        format!("af-xdp {}", self.iface)
    }
}

impl Drop for AfXdpSource {
    fn drop(&mut self) {
        // Detach the program first, so the interface stops redirecting to a closing socket.
        let r = detach(self.ifindex, self.attach_flags);
        if r != 0 {
            log::warn!(
                "af-xdp: detaching the XDP program from `{}` failed ({r})",
                self.iface
            );
        }
        let _ = std::fs::remove_file(&self.state_file);
        self.socket.take();
        self.umem.take();
    }
}
