//! Where segments live: a small trait, so tests can count bytes and inject a full or
//! read-only disk, and the real implementation on files.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Segment storage. Segments are numbered; the archive only ever appends to the newest.
pub trait Storage: Send + 'static {
    /// The segment numbers present, ascending.
    fn list(&mut self) -> io::Result<Vec<u64>>;
    /// Create segment `n` with `size` bytes allocated up front. Returns the bytes that had
    /// to be written to do so (0 when the file system preallocates without writing).
    fn create(&mut self, n: u64, size: u64) -> io::Result<u64>;
    /// Write `data` at `off` in segment `n` (the whole of it, or an error).
    fn write_at(&mut self, n: u64, off: u64, data: &[u8]) -> io::Result<()>;
    /// Make segment `n`'s data durable (fdatasync).
    fn sync(&mut self, n: u64) -> io::Result<()>;
    /// Segment `n`'s bytes.
    fn read(&mut self, n: u64) -> io::Result<Vec<u8>>;
    fn remove(&mut self, n: u64) -> io::Result<()>;
}

/// Segments as files `NNNNNNNNNN.seg` in a directory.
pub struct FsStorage {
    dir: PathBuf,
    /// The segment being written, kept open.
    open: Option<(u64, File)>,
}

fn ctx(e: io::Error, p: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", p.display()))
}

impl FsStorage {
    /// Storage in `dir`. Nothing is touched until it is used.
    pub fn new(dir: &Path) -> FsStorage {
        FsStorage {
            dir: dir.to_path_buf(),
            open: None,
        }
    }

    pub fn path(&self, n: u64) -> PathBuf {
        self.dir.join(format!("{n:010}.seg"))
    }

    fn file(&mut self, n: u64) -> io::Result<&File> {
        if self.open.as_ref().map(|(m, _)| *m) != Some(n) {
            let p = self.path(n);
            let f = OpenOptions::new()
                .write(true)
                .open(&p)
                .map_err(|e| ctx(e, &p))?;
            self.open = Some((n, f));
        }
        match &self.open {
            Some((_, f)) => Ok(f),
            None => Err(io::Error::other("segment not open")),
        }
    }

    fn sync_dir(&self) -> io::Result<()> {
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| ctx(e, &self.dir))
    }
}

impl Storage for FsStorage {
    fn list(&mut self) -> io::Result<Vec<u64>> {
        let rd = match std::fs::read_dir(&self.dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(ctx(e, &self.dir)),
        };
        let mut v: Vec<u64> = rd
            .flatten()
            .filter_map(|e| {
                let name = e.file_name();
                let s = name.to_str()?.strip_suffix(".seg")?;
                (s.len() == 10).then(|| s.parse().ok())?
            })
            .collect();
        v.sort_unstable();
        Ok(v)
    }

    fn create(&mut self, n: u64, size: u64) -> io::Result<u64> {
        std::fs::create_dir_all(&self.dir).map_err(|e| ctx(e, &self.dir))?;
        let p = self.path(n);
        let f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&p)
            .map_err(|e| ctx(e, &p))?;
        let mut written = 0u64;
        // SAFETY: fallocate on an owned, open descriptor; no memory is passed.
        let r = unsafe { libc::fallocate(f.as_raw_fd(), 0, 0, size as libc::off_t) };
        if r != 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EOPNOTSUPP) {
                drop(f);
                let _ = std::fs::remove_file(&p);
                return Err(ctx(e, &p));
            }
            // no fallocate (e.g. vfat): write zeros once
            let zeros = vec![0u8; 1 << 20];
            let mut off = 0u64;
            while off < size {
                let n = (size - off).min(zeros.len() as u64) as usize;
                if let Err(e) = f.write_all_at(&zeros[..n], off) {
                    drop(f);
                    let _ = std::fs::remove_file(&p);
                    return Err(ctx(e, &p));
                }
                off += n as u64;
                written += n as u64;
            }
        }
        // the new file's size and name are made durable once, here, not at every flush
        f.sync_all().map_err(|e| ctx(e, &p))?;
        self.sync_dir()?;
        self.open = Some((n, f));
        Ok(written)
    }

    fn write_at(&mut self, n: u64, off: u64, data: &[u8]) -> io::Result<()> {
        let p = self.path(n);
        self.file(n)?
            .write_all_at(data, off)
            .map_err(|e| ctx(e, &p))
    }

    fn sync(&mut self, n: u64) -> io::Result<()> {
        let p = self.path(n);
        self.file(n)?.sync_data().map_err(|e| ctx(e, &p))
    }

    fn read(&mut self, n: u64) -> io::Result<Vec<u8>> {
        let p = self.path(n);
        std::fs::read(&p).map_err(|e| ctx(e, &p))
    }

    fn remove(&mut self, n: u64) -> io::Result<()> {
        if self.open.as_ref().map(|(m, _)| *m) == Some(n) {
            self.open = None;
        }
        let p = self.path(n);
        std::fs::remove_file(&p).map_err(|e| ctx(e, &p))
    }
}

/// What a [`Counting`] storage saw.
#[derive(Debug, Default)]
pub struct IoCounts {
    pub bytes: AtomicU64,
    pub writes: AtomicU64,
    pub syncs: AtomicU64,
}

impl IoCounts {
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }
    pub fn writes(&self) -> u64 {
        self.writes.load(Ordering::Relaxed)
    }
    pub fn syncs(&self) -> u64 {
        self.syncs.load(Ordering::Relaxed)
    }
}

/// Storage that counts the bytes written and the syncs of the storage it wraps.
pub struct Counting<S> {
    pub inner: S,
    pub counts: Arc<IoCounts>,
}

impl<S: Storage> Counting<S> {
    pub fn new(inner: S) -> (Counting<S>, Arc<IoCounts>) {
        let counts = Arc::new(IoCounts::default());
        (
            Counting {
                inner,
                counts: counts.clone(),
            },
            counts,
        )
    }
}

impl<S: Storage> Storage for Counting<S> {
    fn list(&mut self) -> io::Result<Vec<u64>> {
        self.inner.list()
    }
    fn create(&mut self, n: u64, size: u64) -> io::Result<u64> {
        let w = self.inner.create(n, size)?;
        self.counts.bytes.fetch_add(w, Ordering::Relaxed);
        Ok(w)
    }
    fn write_at(&mut self, n: u64, off: u64, data: &[u8]) -> io::Result<()> {
        self.inner.write_at(n, off, data)?;
        self.counts
            .bytes
            .fetch_add(data.len() as u64, Ordering::Relaxed);
        self.counts.writes.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
    fn sync(&mut self, n: u64) -> io::Result<()> {
        self.inner.sync(n)?;
        self.counts.syncs.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
    fn read(&mut self, n: u64) -> io::Result<Vec<u8>> {
        self.inner.read(n)
    }
    fn remove(&mut self, n: u64) -> io::Result<()> {
        self.inner.remove(n)
    }
}
