//! AF_PACKET capture through a TPACKET_V3 mmap ring: the kernel fills blocks of frames, ravn
//! walks each block, copies its frames into the pool and hands the block back. Promiscuous
//! mode; the kernel's packet and drop counts come from PACKET_STATISTICS.

use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{fence, Ordering};

use super::sys::{self, setsockopt, socket_error};
use super::{LiveError, LiveSource, Poll};
use crate::capture::{LinkType, Timestamp};
use crate::config::AfPacketConfig;
use crate::pipeline::counters::CaptureCounters as C;
use crate::pipeline::frame::FrameSlot;
use crate::pipeline::ring::Producer;

const TPACKET_V3: libc::c_int = 2;
const PACKET_RX_RING: libc::c_int = 5;
const PACKET_VERSION: libc::c_int = 10;
const PACKET_STATISTICS: libc::c_int = 6;
const PACKET_ADD_MEMBERSHIP: libc::c_int = 1;
const PACKET_MR_PROMISC: u16 = 1;
const TP_STATUS_KERNEL: u32 = 0;
const TP_STATUS_USER: u32 = 1;
const TP_STATUS_CSUMNOTREADY: u32 = 1 << 3;
const TP_STATUS_VLAN_VALID: u32 = 1 << 4;
const TP_STATUS_VLAN_TPID_VALID: u32 = 1 << 6;
const ETH_P_ALL: u16 = 0x0003;

#[repr(C)]
#[derive(Default)]
struct TpacketReq3 {
    block_size: u32,
    block_nr: u32,
    frame_size: u32,
    frame_nr: u32,
    retire_blk_tov: u32,
    sizeof_priv: u32,
    feature_req_word: u32,
}

#[repr(C)]
#[derive(Default)]
struct TpacketStatsV3 {
    packets: u32,
    drops: u32,
    freeze_q_cnt: u32,
}

#[repr(C)]
struct PacketMreq {
    ifindex: libc::c_int,
    kind: u16,
    alen: u16,
    address: [u8; 8],
}

// Offsets in a block descriptor (struct tpacket_block_desc / tpacket_hdr_v1).
const BLK_STATUS: usize = 8;
const BLK_NUM_PKTS: usize = 12;
const BLK_FIRST_PKT: usize = 16;
// Offsets in a packet header (struct tpacket3_hdr).
const PKT_NEXT: usize = 0;
const PKT_SEC: usize = 4;
const PKT_NSEC: usize = 8;
const PKT_SNAPLEN: usize = 12;
const PKT_LEN: usize = 16;
const PKT_STATUS: usize = 20;
const PKT_MAC: usize = 24;
const PKT_VLAN_TCI: usize = 32;
const PKT_VLAN_TPID: usize = 36;

/// The TPACKET_V3 ring on one interface.
pub struct AfPacketSource {
    fd: OwnedFd,
    iface: String,
    map: *mut u8,
    map_len: usize,
    block_size: usize,
    block_nr: usize,
    cur: usize,
    max_frame: usize,
}

// The mapping is owned by this struct and only touched from the thread that polls it.
unsafe impl Send for AfPacketSource {}

impl AfPacketSource {
    pub fn open(cfg: &AfPacketConfig, frame_size: usize) -> Result<AfPacketSource, LiveError> {
        let iface = cfg.interface.as_str();
        let ifindex = sys::ifindex(iface)?;
        let what = "af-packet";
        let cap = "CAP_NET_RAW";
        // Protocol 0: nothing is queued before the ring exists and the socket is bound.
        let fd = sys::socket(libc::AF_PACKET, libc::SOCK_RAW, 0)
            .map_err(|e| socket_error(what, iface, cap, e))?;
        let raw = fd.as_raw_fd();
        setsockopt(raw, libc::SOL_PACKET, PACKET_VERSION, &TPACKET_V3)
            .map_err(|e| socket_error("af-packet: TPACKET_V3", iface, cap, e))?;
        let req = TpacketReq3 {
            block_size: cfg.block_size as u32,
            block_nr: cfg.block_count as u32,
            frame_size: 2048,
            frame_nr: (cfg.block_size / 2048 * cfg.block_count) as u32,
            retire_blk_tov: cfg.block_timeout_ms,
            sizeof_priv: 0,
            feature_req_word: 0,
        };
        setsockopt(raw, libc::SOL_PACKET, PACKET_RX_RING, &req).map_err(|e| {
            LiveError(format!(
                "af-packet on interface `{iface}`: PACKET_RX_RING ({} blocks of {} bytes, keys capture.af-packet.block-count/block-size): {e}",
                cfg.block_count, cfg.block_size
            ))
        })?;
        let map_len = cfg.block_size * cfg.block_count;
        // SAFETY: mapping the ring the kernel just allocated for this socket.
        let map = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                map_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_LOCKED,
                raw,
                0,
            )
        };
        let map = if map == libc::MAP_FAILED {
            // MAP_LOCKED may exceed RLIMIT_MEMLOCK: retry without it.
            // SAFETY: as above.
            let m = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    map_len,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_SHARED,
                    raw,
                    0,
                )
            };
            if m == libc::MAP_FAILED {
                return Err(LiveError(format!(
                    "af-packet on interface `{iface}`: mmap of the ring: {}",
                    std::io::Error::last_os_error()
                )));
            }
            m
        } else {
            map
        } as *mut u8;
        let src = AfPacketSource {
            fd,
            iface: iface.to_string(),
            map,
            map_len,
            block_size: cfg.block_size,
            block_nr: cfg.block_count,
            cur: 0,
            max_frame: frame_size,
        };
        // SAFETY: sockaddr_ll is plain data.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = ETH_P_ALL.to_be();
        sll.sll_ifindex = ifindex as i32;
        // SAFETY: sll is a valid sockaddr_ll of the size given.
        let r = unsafe {
            libc::bind(
                raw,
                &sll as *const _ as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            )
        };
        if r != 0 {
            return Err(socket_error(
                "af-packet: bind",
                iface,
                cap,
                std::io::Error::last_os_error(),
            ));
        }
        if cfg.promiscuous {
            let mr = PacketMreq {
                ifindex: ifindex as i32,
                kind: PACKET_MR_PROMISC,
                alen: 0,
                address: [0; 8],
            };
            setsockopt(raw, libc::SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr)
                .map_err(|e| socket_error("af-packet: promiscuous mode", iface, cap, e))?;
        }
        Ok(src)
    }

    fn block(&self, i: usize) -> *mut u8 {
        // SAFETY: i < block_nr, so the block lies inside the mapping.
        unsafe { self.map.add(i * self.block_size) }
    }
}

#[inline]
fn rd32(p: *const u8, off: usize) -> u32 {
    // SAFETY: callers pass offsets inside a block of the mapping.
    unsafe { std::ptr::read_volatile(p.add(off) as *const u32) }
}

#[inline]
fn rd16(p: *const u8, off: usize) -> u16 {
    // SAFETY: as rd32.
    unsafe { std::ptr::read_volatile(p.add(off) as *const u16) }
}

impl LiveSource for AfPacketSource {
    fn poll(&mut self, ring: &mut Producer<FrameSlot>, c: &C) -> Result<Poll, LiveError> {
        let blk = self.block(self.cur);
        if rd32(blk, BLK_STATUS) & TP_STATUS_USER == 0 {
            sys::wait_readable(self.fd.as_raw_fd(), 100);
            return Ok(Poll::Idle);
        }
        fence(Ordering::Acquire);
        let num = rd32(blk, BLK_NUM_PKTS) as usize;
        let mut off = rd32(blk, BLK_FIRST_PKT) as usize;
        let (a, b) = ring.reserve(num);
        let mut slots = a.iter_mut().chain(b.iter_mut());
        let mut filled = 0;
        for _ in 0..num {
            // Every header must lie inside the block (the kernel's word, checked anyway).
            if off + 48 > self.block_size {
                break;
            }
            // SAFETY: off + 48 <= block_size.
            let h = unsafe { blk.add(off) };
            let snap = rd32(h, PKT_SNAPLEN) as usize;
            let wire = rd32(h, PKT_LEN);
            let mac = rd16(h, PKT_MAC) as usize;
            let status = rd32(h, PKT_STATUS);
            let next = rd32(h, PKT_NEXT) as usize;
            let ts = Timestamp {
                secs: i64::from(rd32(h, PKT_SEC)),
                nanos: rd32(h, PKT_NSEC),
            };
            if off + mac + snap <= self.block_size {
                // SAFETY: the frame lies inside the block (checked just above).
                let data = unsafe { std::slice::from_raw_parts(h.add(mac), snap) };
                // The kernel strips the VLAN tag into the header: put it back, so the frame
                // is the one on the wire.
                let vlan = (status & TP_STATUS_VLAN_VALID != 0 && snap >= 12).then(|| {
                    let tci = rd32(h, PKT_VLAN_TCI) as u16;
                    let tpid = if status & TP_STATUS_VLAN_TPID_VALID != 0 {
                        rd16(h, PKT_VLAN_TPID)
                    } else {
                        0x8100
                    };
                    (tpid, tci)
                });
                let extra = if vlan.is_some() { 4 } else { 0 };
                let len = snap + extra;
                if len > self.max_frame {
                    C::inc(&c.oversize);
                } else if let Some(slot) = slots.next() {
                    match vlan {
                        Some((tpid, tci)) => {
                            slot.buf[..12].copy_from_slice(&data[..12]);
                            slot.buf[12..14].copy_from_slice(&tpid.to_be_bytes());
                            slot.buf[14..16].copy_from_slice(&tci.to_be_bytes());
                            slot.buf[16..len].copy_from_slice(&data[12..]);
                        }
                        None => slot.buf[..len].copy_from_slice(data),
                    }
                    slot.ts = ts;
                    slot.link = LinkType::Ethernet;
                    slot.off = 0;
                    slot.len = len as u32;
                    slot.orig_len = wire + extra as u32;
                    slot.pcap_cnt = 0;
                    slot.offloaded = status & TP_STATUS_CSUMNOTREADY != 0;
                    filled += 1;
                } else {
                    C::inc(&c.ring_drops);
                }
            }
            if next == 0 {
                break;
            }
            off += next;
        }
        drop(slots);
        ring.commit(filled);
        fence(Ordering::Release);
        // SAFETY: the status word of the current block; handing it back to the kernel.
        unsafe { std::ptr::write_volatile(blk.add(BLK_STATUS) as *mut u32, TP_STATUS_KERNEL) };
        self.cur = (self.cur + 1) % self.block_nr;
        Ok(Poll::Frames(filled))
    }

    fn update_stats(&mut self, c: &C) {
        // Reading PACKET_STATISTICS resets the kernel's counters: add them up.
        if let Ok(s) = sys::getsockopt::<TpacketStatsV3>(
            self.fd.as_raw_fd(),
            libc::SOL_PACKET,
            PACKET_STATISTICS,
        ) {
            // tp_packets counts every packet the socket saw, the dropped ones included.
            C::add(&c.kernel_packets, u64::from(s.packets));
            C::add(&c.kernel_drops, u64::from(s.drops));
        }
    }

    fn describe(&self) -> String {
        format!("af-packet {}", self.iface)
    }
}

impl Drop for AfPacketSource {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `open`, unmapped once.
        unsafe {
            libc::munmap(self.map as *mut libc::c_void, self.map_len);
        }
    }
}
