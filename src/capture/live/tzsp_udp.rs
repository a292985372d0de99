//! The TZSP listener: MikroTik's packet sniffer streams each mirrored frame as one UDP
//! datagram (TZSP header, tags, frame). This replaces `tzsp2pcap | tcpreplay -i dummy0`.
//!
//! Datagrams are received in batches with recvmmsg straight into the frame pool's slots (the
//! frame is then used where it lies, after the TZSP header), with the kernel's receive
//! timestamp (SO_TIMESTAMPNS) and drop counter (SO_RXQ_OVFL). An optional allowlist of
//! sender addresses guards against spoofed streams: TZSP has no authentication.

use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;

use super::sys::{self, setsockopt};
use super::{LiveError, LiveSource, Poll, SLOT_HEADROOM};
use crate::capture::{LinkType, Timestamp};
use crate::config::TzspCaptureConfig;
use crate::decode::tzsp::{self, Encap, TzspError};
use crate::pipeline::counters::CaptureCounters as C;
use crate::pipeline::frame::FrameSlot;
use crate::pipeline::ring::Producer;

/// Why a datagram carries no usable frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reject {
    /// Not TZSP version 1 (or empty): something else sent to the port.
    Garbage,
    /// A TZSP header or tag list cut short, no END tag, or no frame after it.
    Truncated,
    UnknownEncapsulation(u16),
    /// A TZSP message that carries no packet (keepalive, configuration).
    UnsupportedType(u8),
    /// The datagram or its frame is larger than a pool slot / `pipeline.frame-size`.
    Oversize,
}

/// Checks one TZSP datagram: the link type of its frame and where the frame lies in it.
pub fn classify(datagram: &[u8], max_frame: usize) -> Result<(LinkType, usize, usize), Reject> {
    match datagram.first() {
        None => return Err(Reject::Garbage),
        Some(&v) if v != 1 => return Err(Reject::Garbage),
        _ => {}
    }
    let p = tzsp::TzspPacket::new_checked(datagram).map_err(|e| match e {
        TzspError::Malformed => Reject::Truncated,
        TzspError::UnsupportedType(t) => Reject::UnsupportedType(t),
        TzspError::UnknownEncapsulation(x) => Reject::UnknownEncapsulation(x),
    })?;
    let (encap, frame) = p.packet_frame().map_err(|e| match e {
        TzspError::Malformed => Reject::Truncated,
        TzspError::UnsupportedType(t) => Reject::UnsupportedType(t),
        TzspError::UnknownEncapsulation(x) => Reject::UnknownEncapsulation(x),
    })?;
    if frame.len() > max_frame {
        return Err(Reject::Oversize);
    }
    let link = match encap {
        Encap::Ethernet => LinkType::Ethernet,
        Encap::RawIp => LinkType::Raw,
    };
    Ok((link, p.frame_offset(), frame.len()))
}

/// Counts a rejected datagram under its reason.
pub fn count_reject(c: &C, r: Reject) {
    match r {
        Reject::Garbage => C::inc(&c.tzsp_garbage),
        Reject::Truncated => C::inc(&c.tzsp_truncated),
        Reject::UnknownEncapsulation(_) => C::inc(&c.tzsp_unknown_encapsulation),
        Reject::UnsupportedType(_) => C::inc(&c.tzsp_unsupported_type),
        Reject::Oversize => C::inc(&c.tzsp_oversize),
    }
}

/// Space for the control messages of one datagram (a timespec and a u32, with headers).
const CMSG_SPACE: usize = 128;

/// The UDP listener.
pub struct TzspUdpSource {
    sock: UdpSocket,
    addr: SocketAddr,
    allow: Vec<IpAddr>,
    batch: usize,
    max_frame: usize,
    hdrs: Vec<libc::mmsghdr>,
    iovs: Vec<libc::iovec>,
    names: Vec<libc::sockaddr_storage>,
    cmsgs: Vec<[u64; CMSG_SPACE / 8]>,
    /// Where datagrams go when the ring has no free slot (they are read, counted, dropped).
    scratch: Vec<Box<[u8]>>,
    /// The kernel's cumulative drop count (SO_RXQ_OVFL), last seen.
    kernel_drops: u32,
    /// How much of it is already in the counters.
    counted_drops: u32,
}

// The raw pointers in the mmsghdr/iovec arrays only ever point into this struct's own
// buffers or the ring's slots during one `poll`.
unsafe impl Send for TzspUdpSource {}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

impl TzspUdpSource {
    pub fn open(cfg: &TzspCaptureConfig, frame_size: usize) -> Result<TzspUdpSource, LiveError> {
        let addr: SocketAddr = cfg.listen.parse().map_err(|_| {
            LiveError(format!(
                "capture.tzsp.listen: `{}` is not an address:port",
                cfg.listen
            ))
        })?;
        let sock = UdpSocket::bind(addr)
            .map_err(|e| LiveError(format!("TZSP listener on {addr}: cannot bind: {e}")))?;
        let fd = sock.as_raw_fd();
        let one: libc::c_int = 1;
        let rcvbuf = cfg.rcvbuf.min(i32::MAX as usize) as libc::c_int;
        // SO_RCVBUFFORCE passes rmem_max with CAP_NET_ADMIN; else the capped SO_RCVBUF.
        if setsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, &rcvbuf).is_err() {
            setsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVBUF, &rcvbuf)
                .map_err(|e| LiveError(format!("TZSP listener on {addr}: SO_RCVBUF: {e}")))?;
            let got: libc::c_int =
                sys::getsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVBUF).unwrap_or(0);
            if (got as usize) < cfg.rcvbuf {
                log::warn!(
                    "capture.tzsp.rcvbuf: asked for {} bytes, the kernel gave {got} (raise net.core.rmem_max or grant CAP_NET_ADMIN)",
                    cfg.rcvbuf
                );
            }
        }
        setsockopt(fd, libc::SOL_SOCKET, libc::SO_TIMESTAMPNS, &one)
            .map_err(|e| LiveError(format!("TZSP listener: SO_TIMESTAMPNS: {e}")))?;
        setsockopt(fd, libc::SOL_SOCKET, libc::SO_RXQ_OVFL, &one)
            .map_err(|e| LiveError(format!("TZSP listener: SO_RXQ_OVFL: {e}")))?;
        sock.set_read_timeout(Some(std::time::Duration::from_millis(100)))
            .map_err(|e| LiveError(format!("TZSP listener: SO_RCVTIMEO: {e}")))?;
        let batch = cfg.batch.max(1);
        let allow = cfg
            .allow
            .iter()
            .filter_map(|a| a.parse::<IpAddr>().ok())
            .map(canonical)
            .collect();
        let slot_size = frame_size + SLOT_HEADROOM;
        Ok(TzspUdpSource {
            sock,
            addr,
            allow,
            batch,
            max_frame: frame_size,
            // SAFETY: mmsghdr/iovec/sockaddr_storage are plain C data; zero is valid.
            hdrs: vec![unsafe { std::mem::zeroed() }; batch],
            iovs: vec![unsafe { std::mem::zeroed() }; batch],
            names: vec![unsafe { std::mem::zeroed() }; batch],
            cmsgs: vec![[0u64; CMSG_SPACE / 8]; batch],
            scratch: (0..batch)
                .map(|_| vec![0u8; slot_size].into_boxed_slice())
                .collect(),
            kernel_drops: 0,
            counted_drops: 0,
        })
    }

    /// The bound address (the port is the real one when 0 was asked for).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.sock.local_addr()
    }

    /// One recvmmsg into `bufs` (at most `batch`); the number of datagrams received.
    fn recv(&mut self, bufs: &mut [&mut [u8]]) -> io::Result<usize> {
        let n = bufs.len().min(self.batch);
        for (i, buf) in bufs.iter_mut().enumerate().take(n) {
            self.iovs[i] = libc::iovec {
                iov_base: buf.as_mut_ptr() as *mut libc::c_void,
                iov_len: buf.len(),
            };
            let h = &mut self.hdrs[i];
            h.msg_hdr.msg_name = &mut self.names[i] as *mut _ as *mut libc::c_void;
            h.msg_hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as u32;
            h.msg_hdr.msg_iov = &mut self.iovs[i];
            h.msg_hdr.msg_iovlen = 1;
            h.msg_hdr.msg_control = self.cmsgs[i].as_mut_ptr() as *mut libc::c_void;
            h.msg_hdr.msg_controllen = CMSG_SPACE as _;
            h.msg_hdr.msg_flags = 0;
            h.msg_len = 0;
        }
        // SAFETY: n initialised headers pointing at live buffers; MSG_WAITFORONE returns
        // once one datagram is in (the socket's 100 ms timeout bounds the wait).
        let r = unsafe {
            libc::recvmmsg(
                self.sock.as_raw_fd(),
                self.hdrs.as_mut_ptr(),
                n as u32,
                libc::MSG_WAITFORONE,
                std::ptr::null_mut(),
            )
        };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(r as usize)
    }

    /// Sender, timestamp and truncation of message `i` of the last batch; updates the
    /// kernel drop count.
    fn meta(&mut self, i: usize) -> (Option<IpAddr>, Timestamp, bool) {
        let h = &self.hdrs[i].msg_hdr;
        let truncated = h.msg_flags & libc::MSG_TRUNC != 0;
        let sender = sockaddr_ip(&self.names[i]);
        let mut ts = None;
        // SAFETY: the kernel filled msg_control/msg_controllen; the CMSG macros stay within.
        unsafe {
            let mut c = libc::CMSG_FIRSTHDR(h);
            while !c.is_null() {
                let data = libc::CMSG_DATA(c);
                if (*c).cmsg_level == libc::SOL_SOCKET {
                    if (*c).cmsg_type == libc::SCM_TIMESTAMPNS {
                        let t: libc::timespec = std::ptr::read_unaligned(data as *const _);
                        ts = Some(Timestamp {
                            secs: t.tv_sec as i64,
                            nanos: t.tv_nsec as u32,
                        });
                    } else if (*c).cmsg_type == libc::SO_RXQ_OVFL {
                        let d: u32 = std::ptr::read_unaligned(data as *const u32);
                        self.kernel_drops = d;
                    }
                }
                c = libc::CMSG_NXTHDR(h, c);
            }
        }
        (sender, ts.unwrap_or_else(sys::realtime), truncated)
    }

    /// Brings `capture.kernel_drops` up to the kernel's count; kernel_packets includes drops.
    fn sync_drops(&mut self, c: &C) {
        let d = self.kernel_drops.wrapping_sub(self.counted_drops);
        if d != 0 {
            C::add(&c.kernel_packets, u64::from(d));
            C::add(&c.kernel_drops, u64::from(d));
            self.counted_drops = self.kernel_drops;
        }
    }

    fn allowed(&self, sender: Option<IpAddr>) -> bool {
        self.allow.is_empty() || sender.is_some_and(|s| self.allow.contains(&canonical(s)))
    }
}

fn sockaddr_ip(ss: &libc::sockaddr_storage) -> Option<IpAddr> {
    match ss.ss_family as i32 {
        libc::AF_INET => {
            // SAFETY: the family says it is a sockaddr_in.
            let a: &libc::sockaddr_in = unsafe { &*(ss as *const _ as *const libc::sockaddr_in) };
            Some(IpAddr::from(u32::from_be(a.sin_addr.s_addr).to_be_bytes()))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says it is a sockaddr_in6.
            let a: &libc::sockaddr_in6 = unsafe { &*(ss as *const _ as *const libc::sockaddr_in6) };
            Some(IpAddr::from(a.sin6_addr.s6_addr))
        }
        _ => None,
    }
}

fn slot_at<'s>(a: &'s mut [FrameSlot], b: &'s mut [FrameSlot], i: usize) -> &'s mut FrameSlot {
    if i < a.len() {
        &mut a[i]
    } else {
        &mut b[i - a.len()]
    }
}

/// Swaps the buffers and metadata of logical slots `i` and `j` (i < j) of a reserved span.
fn swap_slots(a: &mut [FrameSlot], b: &mut [FrameSlot], i: usize, j: usize) {
    let la = a.len();
    match (i < la, j < la) {
        (true, true) => a.swap(i, j),
        (false, false) => b.swap(i - la, j - la),
        (true, false) => std::mem::swap(&mut a[i], &mut b[j - la]),
        (false, true) => std::mem::swap(&mut b[i - la], &mut a[j]),
    }
}

impl LiveSource for TzspUdpSource {
    fn poll(&mut self, ring: &mut Producer<FrameSlot>, c: &C) -> Result<Poll, LiveError> {
        let (a, b) = ring.reserve(self.batch);
        let reserved = a.len() + b.len();
        let got = if reserved == 0 {
            // No free slot: read into scratch so the socket keeps draining; all dropped.
            let mut scratch = std::mem::take(&mut self.scratch);
            let mut bufs: heapless::Vec<&mut [u8], 1024> = heapless::Vec::new();
            for s in scratch.iter_mut() {
                let _ = bufs.push(&mut s[..]);
            }
            let r = self.recv(&mut bufs);
            drop(bufs);
            self.scratch = scratch;
            match r {
                Ok(n) => {
                    for i in 0..n {
                        let (sender, _, trunc) = self.meta(i);
                        C::inc(&c.tzsp_datagrams);
                        if !self.allowed(sender) {
                            C::inc(&c.tzsp_sender_denied);
                        } else if trunc {
                            C::inc(&c.tzsp_oversize);
                        } else {
                            C::inc(&c.ring_drops);
                        }
                    }
                    C::add(&c.kernel_packets, n as u64);
                    self.sync_drops(c);
                    return Ok(Poll::Frames(0));
                }
                Err(e) => return idle_or_error(e, self.addr),
            }
        } else {
            let mut bufs: heapless::Vec<&mut [u8], 1024> = heapless::Vec::new();
            for s in a.iter_mut().chain(b.iter_mut()) {
                let _ = bufs.push(&mut s.buf[..]);
            }
            let r = self.recv(&mut bufs);
            drop(bufs);
            match r {
                Ok(n) => n,
                Err(e) => return idle_or_error(e, self.addr),
            }
        };
        // Check each datagram; keep the good ones at the front of the span.
        let mut keep = 0;
        for i in 0..got {
            let (sender, ts, trunc) = self.meta(i);
            let len = self.hdrs[i].msg_len as usize;
            C::inc(&c.tzsp_datagrams);
            if !self.allowed(sender) {
                C::inc(&c.tzsp_sender_denied);
                continue;
            }
            if trunc {
                C::inc(&c.tzsp_oversize);
                continue;
            }
            let slot = slot_at(a, b, i);
            let data = slot.buf.get(..len).unwrap_or(&[]);
            match classify(data, self.max_frame) {
                Ok((link, off, flen)) => {
                    slot.ts = ts;
                    slot.link = link;
                    slot.off = off as u32;
                    slot.len = flen as u32;
                    slot.orig_len = flen as u32;
                    slot.pcap_cnt = 0;
                    slot.offloaded = false;
                    C::inc(&c.tzsp_packets);
                    if keep != i {
                        swap_slots(a, b, keep, i);
                    }
                    keep += 1;
                }
                Err(r) => count_reject(c, r),
            }
        }
        ring.commit(keep);
        C::add(&c.kernel_packets, got as u64);
        self.sync_drops(c);
        Ok(Poll::Frames(keep))
    }

    fn update_stats(&mut self, c: &C) {
        self.sync_drops(c);
    }

    fn describe(&self) -> String {
        format!("tzsp {}", self.addr)
    }
}

fn idle_or_error(e: io::Error, addr: SocketAddr) -> Result<Poll, LiveError> {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted => {
            Ok(Poll::Idle)
        }
        _ => Err(LiveError(format!("TZSP listener on {addr}: {e}"))),
    }
}
