//! Classic pcap files read through a memory map: frames are slices of the mapped file, so a
//! replay copies no packet bytes at all (the streaming reader copies each one twice: kernel
//! to buffer, buffer to frame). Used by `open` for regular files; other inputs stream.
//!
//! A file truncated by another process while mapped would fault; replay inputs are files at
//! rest, and everything else goes through the streaming reader.

use std::fs::File;
use std::os::unix::io::AsRawFd;

use super::pcap::decode_magic;
use super::{CaptureError, CaptureErrorKind, Frame, FrameSource, LinkType, Timestamp, MAX_CAPLEN};

struct Map {
    ptr: *mut libc::c_void,
    len: usize,
}

// SAFETY: the mapping is private and read-only; nothing else aliases it mutably.
unsafe impl Send for Map {}

impl Map {
    fn bytes(&self) -> &[u8] {
        if self.len == 0 {
            return &[];
        }
        // SAFETY: ptr/len describe a live PROT_READ mapping owned by self.
        unsafe { std::slice::from_raw_parts(self.ptr as *const u8, self.len) }
    }
}

impl Drop for Map {
    fn drop(&mut self) {
        if self.len > 0 {
            // SAFETY: unmapping exactly what mmap returned.
            unsafe {
                libc::munmap(self.ptr, self.len);
            }
        }
    }
}

pub struct MmapPcap {
    name: String,
    map: Map,
    pos: usize,
    big_endian: bool,
    nanos: bool,
    rec_hdr_len: usize,
    link: LinkType,
    truncated: Option<u64>,
    done: bool,
    /// Pages below this offset were handed back to the kernel.
    released: usize,
    /// Page tables are filled up to this offset (MADV_POPULATE_READ, one call per step
    /// instead of a page fault every few pages); `usize::MAX` when the kernel lacks it.
    populated: usize,
}

/// Consumed pages are released in steps of this size, so resident memory stays flat
/// whatever the size of the file (about four steps are resident: one behind, up to two
/// populated ahead).
const RELEASE_STEP: usize = 1 << 20;

impl MmapPcap {
    /// Map `file` if it is a classic pcap; `Ok(None)` when it is not one (or cannot be
    /// mapped), so the caller can stream it instead.
    pub fn open(file: &File, name: &str) -> Result<Option<MmapPcap>, CaptureError> {
        let Ok(meta) = file.metadata() else {
            return Ok(None);
        };
        if !meta.is_file() || meta.len() < 24 || meta.len() > isize::MAX as u64 {
            return Ok(None);
        }
        let len = meta.len() as usize;
        // SAFETY: a fresh private read-only mapping of an open file descriptor.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_PRIVATE,
                file.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Ok(None);
        }
        // SAFETY: advice on the mapping we just made.
        unsafe {
            libc::madvise(ptr, len, libc::MADV_SEQUENTIAL);
        }
        let map = Map { ptr, len };
        let b = map.bytes();
        let magic = [b[0], b[1], b[2], b[3]];
        let Some((big_endian, nanos, modified)) = decode_magic(magic) else {
            return Ok(None);
        };
        let rd16 = |i: usize| {
            let x = [b[i], b[i + 1]];
            if big_endian {
                u16::from_be_bytes(x)
            } else {
                u16::from_le_bytes(x)
            }
        };
        let rd32 = |i: usize| {
            let x = [b[i], b[i + 1], b[i + 2], b[i + 3]];
            if big_endian {
                u32::from_be_bytes(x)
            } else {
                u32::from_le_bytes(x)
            }
        };
        let (major, minor) = (rd16(4), rd16(6));
        if major != 2 {
            return Err(CaptureError {
                file: name.to_string(),
                offset: Some(0),
                kind: CaptureErrorKind::UnsupportedVersion { major, minor },
            });
        }
        let link = LinkType::from_u32(rd32(20) & 0x03ff_ffff);
        Ok(Some(MmapPcap {
            name: name.to_string(),
            map,
            pos: 24,
            big_endian,
            nanos,
            rec_hdr_len: if modified { 24 } else { 16 },
            link,
            truncated: None,
            done: false,
            released: 0,
            populated: 0,
        }))
    }

    /// Maps the next steps of the file ahead of the reader (Linux 5.14+; older kernels
    /// fault pages in one by one as before).
    fn populate_ahead(&mut self, start: usize) {
        let from = self.populated.max(start & !(4096 - 1));
        let to = (from + 2 * RELEASE_STEP).min(self.map.len);
        // SAFETY: advice on part of our own mapping.
        let r = unsafe {
            libc::madvise(
                (self.map.ptr as *mut u8).add(from) as *mut libc::c_void,
                to - from,
                libc::MADV_POPULATE_READ,
            )
        };
        self.populated = if r == 0 { to } else { usize::MAX };
    }

    fn u32_at(&self, i: usize) -> u32 {
        let b = self.map.bytes();
        let x = [b[i], b[i + 1], b[i + 2], b[i + 3]];
        if self.big_endian {
            u32::from_be_bytes(x)
        } else {
            u32::from_le_bytes(x)
        }
    }
}

/// How far past the next record the reader also prefetches (a record or two further on).
const PREFETCH_AHEAD: usize = 1536;

/// A hint to load the cache line at the start of `b` (no effect on other targets).
#[inline(always)]
fn prefetch(b: &[u8]) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: prefetching never faults and does not change memory.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>(b.as_ptr() as *const i8);
    }
    #[cfg(target_arch = "aarch64")]
    // SAFETY: as above; `prfm` only hints the cache.
    unsafe {
        std::arch::asm!("prfm pldl1keep, [{0}]", in(reg) b.as_ptr(), options(nostack, readonly, preserves_flags));
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    let _ = b;
}

impl FrameSource for MmapPcap {
    fn next_frame(&mut self) -> Result<Option<Frame<'_>>, CaptureError> {
        if self.done {
            return Ok(None);
        }
        let total = self.map.len;
        let start = self.pos;
        if start == total {
            self.done = true;
            return Ok(None);
        }
        if total - start < self.rec_hdr_len {
            self.truncated = Some(start as u64);
            self.done = true;
            return Ok(None);
        }
        let secs = self.u32_at(start);
        let frac = self.u32_at(start + 4);
        let caplen = self.u32_at(start + 8);
        let orig_len = self.u32_at(start + 12);
        if caplen > MAX_CAPLEN {
            self.done = true;
            return Err(CaptureError {
                file: self.name.clone(),
                offset: Some(start as u64),
                kind: CaptureErrorKind::RecordTooLarge {
                    len: caplen,
                    limit: MAX_CAPLEN,
                },
            });
        }
        if start >= self.released + 2 * RELEASE_STEP {
            // hand back everything up to one step behind the current record
            let upto = (start - RELEASE_STEP) & !(4096 - 1);
            // SAFETY: advice on part of our own mapping; no frame borrowed from below
            // `start` is alive (frames borrow `self` mutably, one at a time).
            unsafe {
                libc::madvise(
                    (self.map.ptr as *mut u8).add(self.released) as *mut libc::c_void,
                    upto - self.released,
                    libc::MADV_DONTNEED,
                );
            }
            self.released = upto;
        }
        if start + RELEASE_STEP > self.populated && self.populated < total {
            self.populate_ahead(start);
        }
        let data_start = start + self.rec_hdr_len;
        let data_end = data_start + caplen as usize;
        if data_end > total {
            self.truncated = Some(start as u64);
            self.done = true;
            return Ok(None);
        }
        self.pos = data_end;
        // the next record's header and first bytes: fetched while this packet is processed
        // (replay reads the file once, front to back; the miss on each header was a quarter
        // of a heartbeat-only replay's time)
        if data_end + PREFETCH_AHEAD + 64 <= total {
            let b = self.map.bytes();
            prefetch(&b[data_end..]);
            prefetch(&b[data_end + 64..]);
            prefetch(&b[data_end + PREFETCH_AHEAD..]);
            prefetch(&b[data_end + PREFETCH_AHEAD + 64..]);
        }
        let frac_ns = if self.nanos {
            u64::from(frac)
        } else {
            u64::from(frac) * 1000
        };
        let ts = Timestamp {
            secs: i64::from(secs) + (frac_ns / 1_000_000_000) as i64,
            nanos: (frac_ns % 1_000_000_000) as u32,
        };
        Ok(Some(Frame {
            ts,
            link: self.link,
            data: &self.map.bytes()[data_start..data_end],
            orig_len,
        }))
    }
    fn truncated(&self) -> Option<u64> {
        self.truncated
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn offset(&self) -> u64 {
        self.pos as u64
    }
}
