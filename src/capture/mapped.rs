//! A regular capture file mapped read-only, for the file readers' `Input`: the records are
//! read where the page cache holds them, with no `read` copying every byte first.
//!
//! Why: on mixed-1m (705 MB), `read` into a 128 KiB window costs about 57 ms of kernel
//! copying, while walking the mapped records costs about 42 ms, provided the lines ahead of
//! the reader are asked for (`prefetch`): without it every record header is a cache miss and
//! the walk takes 91 ms (a C walk over the records, `perf stat -e task-clock`). The pages
//! ahead are mapped in steps (`populate`) and those read are let go of (`release`), so that
//! the process's resident set does not grow to the file's size. Replay of mixed-1m with the
//! heartbeat rule took 3% to 20% less CPU than through `read` (interleaved runs on different
//! days: it depends on the page cache's folio sizes); with ET Open, about the same.
//!
//! Most of a map's cost is the kernel's: mapping and unmapping 4 KiB pages took about 75 ms
//! of system time for mixed-1m. The map is advised `MADV_HUGEPAGE`, so a file read cold is
//! brought into the page cache in 2 MiB folios (Linux 6.16+ on ext4, xfs, tmpfs), which are
//! mapped with one entry each: heartbeat replay of mixed-1m then took 0.14 s (0.01 s
//! system) rather than 0.22 s (0.09 s system) from the same file cached in small folios.
//! Where the kernel keeps small folios nothing changes.
//!
//! A map has one hazard `read` has not: when the file shrinks under it, touching a page past
//! the new end raises SIGBUS, which would kill the process with its buffered logs. So while
//! a mapping lives it is registered with a SIGBUS handler (`guard`), which puts zero pages
//! over the mapping from the faulting page on and marks it cut; the reader sees the flag and
//! stops with `CaptureErrorKind::Shrunk`. A SIGBUS anywhere else goes to the action that
//! was installed before ours (the default: the process ends, as it would have).

use std::fs::File;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Once;

/// The reader lets go of what it has read, and maps what comes next, in steps of this
/// much: a replay's RSS counts about twice this much of the file. Each step costs system
/// calls: heartbeat replay of mixed-1m took 205 ms CPU without releasing, 212 ms at 4 MiB,
/// 215 at 1, 224 at 256 KiB; ET Open's peak RSS is 62.6 MiB at 4 MiB, 60.8 at 2, 59.7 at 1
/// (57.2 reading through a window). Steps are whole 2 MiB units of the map (which the
/// kernel aligns to 2 MiB), so that a release never splits a 2 MiB mapping; with those the
/// resident set peaks one step higher (ET Open: 60.3 MiB).
pub(crate) const STEP: usize = 2 << 20;

/// How far ahead of the reader the mapped bytes are prefetched.
pub(crate) const PREFETCH_AHEAD: usize = 8192;

/// `MADV_POPULATE_READ` (Linux 5.14), not in every libc crate version.
const MADV_POPULATE_READ: libc::c_int = 22;

/// A cache line, the prefetch step.
const LINE: usize = 64;

/// A read-only private map of a whole regular file.
pub(crate) struct Mapping {
    ptr: *const u8,
    len: usize,
    /// The entry of `GUARDS` that covers the map.
    guard: usize,
    /// The pages before this were let go of, those before `populated` mapped (`step`).
    released: usize,
    populated: usize,
}

// SAFETY: the map is read-only and owned by this value; nothing else frees it.
unsafe impl Send for Mapping {}

impl Mapping {
    /// Maps `file`, if it is a regular, non-empty file and a guard entry is free; `None`
    /// means read it instead.
    pub(crate) fn new(file: &File) -> Option<Mapping> {
        let md = file.metadata().ok()?;
        if !md.is_file() || md.len() == 0 {
            return None;
        }
        let len = usize::try_from(md.len()).ok()?;
        install_handler()?;
        // SAFETY: a fresh read-only private mapping of a file we hold open; failure is
        // checked below.
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
            return None;
        }
        // Where the file is read cold, the page cache fills with 2 MiB folios (readahead
        // in PMD-sized units for a VM_HUGEPAGE map, on file systems with large folios:
        // ext4 from Linux 6.16, xfs, tmpfs with huge pages), which a map then takes one
        // page-table entry each for, not 512: see `STEP`. Elsewhere it changes nothing;
        // an error (no THP in the kernel) is harmless.
        // SAFETY: advice over the map just made.
        unsafe { libc::madvise(ptr, len, libc::MADV_HUGEPAGE) };
        let start = ptr as usize;
        let Some(guard) = register(start, start + len) else {
            // SAFETY: the map made just above, not shared.
            unsafe { libc::munmap(ptr, len) };
            return None;
        };
        Some(Mapping {
            ptr: ptr as *const u8,
            len,
            guard,
            released: 0,
            populated: 0,
        })
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        // SAFETY: `ptr..ptr + len` is mapped readable for the life of `self` (a cut part
        // reads as zeros).
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }

    /// The reader is past `read`: lets go of the pages before it and maps those of the
    /// next `STEP` (see `STEP`). Returns where the reader next calls this.
    ///
    /// Released pages leave the process's resident set (the page cache keeps them), so a
    /// replay's RSS counts what it holds, not the file's size; reading them again would
    /// fault them back in. Populating maps pages ahead of the reader
    /// (`MADV_POPULATE_READ`, Linux 5.14; a no-op before): a prefetch into a page not
    /// mapped yet is dropped, so without it the first read of each page waits for a fault
    /// and for memory. A range past a shrunk file's end fails harmlessly.
    pub(crate) fn step(&mut self, read: usize) -> usize {
        // whole steps only: releasing part of a 2 MiB mapping would split it
        let read = read.min(self.len) & !(STEP - 1);
        // SAFETY (both): ranges inside our own private read-only map. MADV_DONTNEED only
        // drops page-table entries, of pages before `read` (the reader borrows nothing
        // there); MADV_POPULATE_READ only maps pages.
        unsafe { self.advise(self.released, read, libc::MADV_DONTNEED) };
        self.released = self.released.max(read);
        let ahead = (read + STEP + PREFETCH_AHEAD).min(self.len);
        unsafe { self.advise(self.populated, ahead, MADV_POPULATE_READ) };
        self.populated = self.populated.max(ahead);
        self.released + STEP
    }

    /// `madvise(advice)` over `from..to` of the map, if not empty.
    ///
    /// # Safety
    /// `advice` must leave every byte a borrow can still reach readable.
    unsafe fn advise(&self, from: usize, to: usize, advice: libc::c_int) {
        if to > from {
            // SAFETY: `from..to` lies in the map (callers bound `to` by `len`); the advice
            // is the caller's to justify.
            unsafe { libc::madvise(self.ptr.add(from) as *mut libc::c_void, to - from, advice) };
        }
    }

    /// Set once the file shrank under the map: from some page on, the bytes read as
    /// zeros. (The guard entry is static; it is this map's while the map lives.)
    pub(crate) fn cut_flag(&self) -> &'static AtomicBool {
        &GUARDS[self.guard].cut
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        let g = &GUARDS[self.guard];
        g.end.store(0, Ordering::SeqCst);
        g.start.store(0, Ordering::SeqCst);
        // SAFETY: the map made in `new`; no slice of it outlives `self`.
        unsafe { libc::munmap(self.ptr as *mut libc::c_void, self.len) };
        g.cut.store(false, Ordering::SeqCst);
        g.used.store(false, Ordering::SeqCst);
    }
}

/// Asks for the cache line at `p` (a hint: it never faults, whatever the address).
#[inline(always)]
pub(crate) fn prefetch(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch has no architectural effect.
    unsafe {
        std::arch::x86_64::_mm_prefetch(p as *const i8, std::arch::x86_64::_MM_HINT_T0);
    }
    #[cfg(target_arch = "aarch64")]
    // SAFETY: as above (PRFM never faults).
    unsafe {
        std::arch::asm!("prfm pldl1keep, [{0}]", in(reg) p, options(nostack, readonly, preserves_flags));
    }
    #[cfg(target_arch = "arm")]
    // SAFETY: as above (PLD never faults).
    unsafe {
        std::arch::asm!("pld [{0}]", in(reg) p, options(nostack, readonly, preserves_flags));
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64", target_arch = "arm")))]
    let _ = p;
}

/// Prefetches `bytes[*from..to]` line by line, moving `*from` past it.
pub(crate) fn prefetch_range(bytes: &[u8], from: &mut usize, to: usize) {
    let to = to.min(bytes.len());
    while *from < to {
        prefetch(bytes.as_ptr().wrapping_add(*from));
        *from += LINE;
    }
}

/// One registered map: `start..end` while `used` (0..0 while being set up or torn down).
struct Guard {
    used: AtomicBool,
    start: AtomicUsize,
    end: AtomicUsize,
    cut: AtomicBool,
}

/// Maps open at once (a replay has one; beyond this, files are read).
const MAX_MAPS: usize = 8;

#[allow(clippy::declare_interior_mutable_const)]
const FREE: Guard = Guard {
    used: AtomicBool::new(false),
    start: AtomicUsize::new(0),
    end: AtomicUsize::new(0),
    cut: AtomicBool::new(false),
};
static GUARDS: [Guard; MAX_MAPS] = [FREE; MAX_MAPS];

/// The page size, read once when the handler is installed.
static PAGE: AtomicUsize = AtomicUsize::new(0);

/// The SIGBUS action before ours, for faults that are not in a map of ours.
static mut PREVIOUS: std::mem::MaybeUninit<libc::sigaction> = std::mem::MaybeUninit::uninit();
static INSTALLED: AtomicBool = AtomicBool::new(false);

fn register(start: usize, end: usize) -> Option<usize> {
    for (i, g) in GUARDS.iter().enumerate() {
        if g.used
            .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            g.cut.store(false, Ordering::SeqCst);
            g.start.store(start, Ordering::SeqCst);
            g.end.store(end, Ordering::SeqCst);
            return Some(i);
        }
    }
    None
}

/// Installs the SIGBUS handler once; `None` if that failed (then files are read).
fn install_handler() -> Option<()> {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        if page <= 0 {
            return;
        }
        PAGE.store(page as usize, Ordering::SeqCst);
        // SAFETY: a zeroed sigaction is a valid starting point; the handler has the
        // SA_SIGINFO signature; PREVIOUS is written here once, before INSTALLED is set,
        // and only read by the handler after that.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_sigbus as *const () as usize;
            sa.sa_flags = libc::SA_SIGINFO | libc::SA_NODEFER;
            libc::sigemptyset(&mut sa.sa_mask);
            let prev = std::ptr::addr_of_mut!(PREVIOUS) as *mut libc::sigaction;
            if libc::sigaction(libc::SIGBUS, &sa, prev) == 0 {
                INSTALLED.store(true, Ordering::SeqCst);
            }
        }
    });
    INSTALLED.load(Ordering::SeqCst).then_some(())
}

/// The SIGBUS handler: a fault inside a registered map gets zero pages from the faulting
/// page to the map's end (the instruction then reads zeros) and marks the map cut; any
/// other fault restores the previous action, so that the retried access ends the process
/// as it would have without us. Only atomics and system calls: async-signal-safe.
extern "C" fn on_sigbus(_sig: libc::c_int, info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo for SA_SIGINFO handlers.
    let addr = unsafe { (*info).si_addr() } as usize;
    let page = PAGE.load(Ordering::Relaxed);
    for g in &GUARDS {
        let (start, end) = (g.start.load(Ordering::SeqCst), g.end.load(Ordering::SeqCst));
        if start <= addr && addr < end {
            let from = addr & !(page - 1);
            // SAFETY: replaces pages of our own read-only map (from the fault to its end)
            // with anonymous zero pages; the map's owner only reads them.
            let p = unsafe {
                libc::mmap(
                    from as *mut libc::c_void,
                    end - from,
                    libc::PROT_READ,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
                    -1,
                    0,
                )
            };
            if p != libc::MAP_FAILED {
                g.cut.store(true, Ordering::SeqCst);
                return;
            }
        }
    }
    // SAFETY: PREVIOUS was filled by sigaction before the handler could run.
    unsafe {
        let prev = std::ptr::addr_of!(PREVIOUS) as *const libc::sigaction;
        libc::sigaction(libc::SIGBUS, prev, std::ptr::null_mut());
    }
}

#[cfg(test)]
mod tests {
    use crate::capture::{open, CaptureErrorKind};

    /// A pcap of `n` records of 1,000 bytes each, record `i` filled with `i as u8`.
    fn pcap(n: u32) -> Vec<u8> {
        let mut v = Vec::new();
        for w in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, 65535, 1] {
            v.extend_from_slice(&w.to_le_bytes());
        }
        // the version is two u16s: 2, 4
        v[4..8].copy_from_slice(&[2, 0, 4, 0]);
        for i in 0..n {
            for w in [i, 0, 1000, 1000] {
                v.extend_from_slice(&w.to_le_bytes());
            }
            v.extend(std::iter::repeat_n(i as u8, 1000));
        }
        v
    }

    #[test]
    fn a_file_that_shrinks_under_the_map_stops_the_reader_cleanly() {
        let path = std::env::temp_dir().join(format!("ravn-mapped-{}.pcap", std::process::id()));
        std::fs::write(&path, pcap(2000)).unwrap();
        let mut src = open(&path).unwrap();
        for i in 0..5u32 {
            let f = src.next_frame().unwrap().unwrap();
            assert_eq!(f.data.len(), 1000);
            assert!(f.data.iter().all(|&b| b == i as u8), "record {i}");
        }
        // another writer cuts the file to its first 20 records (and a bit)
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(24 + 20 * 1016 + 100)
            .unwrap();
        let mut read = 5u32;
        let err = loop {
            match src.next_frame() {
                Ok(Some(f)) => {
                    if read < 20 {
                        assert!(f.data.iter().all(|&b| b == read as u8), "record {read}");
                    }
                    read += 1;
                }
                Ok(None) => panic!("ended without an error after {read} records"),
                Err(e) => break e,
            }
        };
        std::fs::remove_file(&path).unwrap();
        // the pages still in the file read as before; the first record past the cut's
        // page (4 KiB pages: byte 24,576 at most) ends the read
        assert!((20..=26).contains(&read), "{read} records read");
        assert!(matches!(err.kind, CaptureErrorKind::Shrunk), "{err}");
        assert!(err.to_string().contains("shrank"), "{err}");
    }

    /// The file-backed part of the resident set (`RssFile` in /proc/self/status), KiB.
    fn rss_file_kib() -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let line = status.lines().find(|l| l.starts_with("RssFile:")).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    #[test]
    fn reading_a_large_file_keeps_the_resident_set_small() {
        let path =
            std::env::temp_dir().join(format!("ravn-mapped-rss-{}.pcap", std::process::id()));
        // 64,000 records of 1,016 bytes: 65 MB
        std::fs::write(&path, pcap(64_000)).unwrap();
        let before = rss_file_kib();
        let mut src = open(&path).unwrap();
        let mut n = 0u64;
        let mut sum = 0u64;
        while let Some(f) = src.next_frame().unwrap() {
            // touch every byte, as a payload search would
            sum += f.data.iter().map(|&b| u64::from(b)).sum::<u64>();
            n += 1;
        }
        let grew = rss_file_kib().saturating_sub(before);
        drop(src);
        std::fs::remove_file(&path).unwrap();
        assert_eq!(n, 64_000);
        assert_eq!(sum, (0..64_000u64).map(|i| (i % 256) * 1000).sum::<u64>());
        // at most the release step and what the prefetch is ahead by (other tests running
        // alongside may map files too: a generous bound, far below the 63,500 KiB read)
        assert!(grew < 16 * 1024, "resident file pages grew by {grew} KiB");
    }

    #[test]
    fn a_pipe_is_read_through_the_window() {
        let path = std::env::temp_dir().join(format!("ravn-mapped-fifo-{}", std::process::id()));
        let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let bytes = pcap(300);
        let writer = {
            let (path, bytes) = (path.clone(), bytes.clone());
            std::thread::spawn(move || std::fs::write(path, bytes).unwrap())
        };
        let mut src = open(&path).unwrap();
        let mut n = 0u32;
        while let Some(f) = src.next_frame().unwrap() {
            assert!(f.data.iter().all(|&b| b == n as u8), "record {n}");
            n += 1;
        }
        writer.join().unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(n, 300);
    }

    #[test]
    fn a_mapped_file_reads_as_the_same_file_read() {
        let path =
            std::env::temp_dir().join(format!("ravn-mapped-same-{}.pcap", std::process::id()));
        let bytes = pcap(300);
        std::fs::write(&path, &bytes).unwrap();
        let mut mapped = open(&path).unwrap();
        let mut read = crate::capture::open_reader(std::io::Cursor::new(bytes), "cursor").unwrap();
        let mut n = 0;
        loop {
            let (a, b) = (mapped.next_frame().unwrap(), read.next_frame().unwrap());
            match (a, b) {
                (Some(a), Some(b)) => {
                    assert_eq!((a.ts, a.data, a.orig_len), (b.ts, b.data, b.orig_len));
                    n += 1;
                }
                (None, None) => break,
                _ => panic!("different lengths after {n} records"),
            }
        }
        std::fs::remove_file(&path).unwrap();
        assert_eq!(n, 300);
        assert_eq!(mapped.offset(), read.offset());
    }
}
