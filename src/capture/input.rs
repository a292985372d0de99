//! Byte input for the file readers: a window over the stream that knows its byte offset,
//! hands out records in place and tells a clean end of file from a short read, so readers
//! can report truncated records.
//!
//! A regular file is mapped (`mapped`), with the lines ahead of the reader prefetched; the
//! window then covers the whole file. Anything else (a pipe, a socket, a test's reader) is
//! read into a small window: 64–128 KiB stays in the L2 cache, so the bytes `read` just
//! copied are still there when the decoder looks at them.

use std::fs::File;
use std::io::{self, Read};
use std::sync::atomic::{AtomicBool, Ordering};

use super::mapped::{self, Mapping, PREFETCH_AHEAD};

use super::{CaptureError, CaptureErrorKind};

/// Window size for files opened by path (`capture::open`).
pub const FILE_BUFFER: usize = 128 * 1024;

pub(crate) struct Input<R: Read> {
    reader: R,
    /// `buf[head..tail]` is read and not yet consumed.
    buf: Buffer,
    /// Mapped input: the bytes up to here have been asked into the cache (`prefetch`);
    /// usize::MAX for a window.
    prefetched: usize,
    /// Mapped input: `take` calls `Mapping::step` once it reaches this; usize::MAX for a
    /// window.
    next_step: usize,
    /// Set when a mapped file shrank under the map (`Mapping::cut_flag`); never for a window.
    cut: &'static AtomicBool,
    head: usize,
    tail: usize,
    /// Byte offset of `buf[head]` in the stream.
    pos: u64,
    eof: bool,
    name: String,
}

impl<R: Read> Input<R> {
    pub fn new(reader: R, name: String, capacity: usize) -> Input<R> {
        Input {
            reader,
            buf: Buffer::Window(vec![0; capacity.max(64)]),
            prefetched: usize::MAX,
            next_step: usize::MAX,
            cut: &NEVER_CUT,
            head: 0,
            tail: 0,
            pos: 0,
            eof: false,
            name,
        }
    }

    /// Byte offset of the next byte to be read.
    pub fn pos(&self) -> u64 {
        self.pos
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Makes `n` bytes available at `head` if the stream has them: moves what is left to the
    /// front of the window, grows the window once for a record larger than it (bounded by
    /// the readers' record limits), and reads until `n` bytes are there or the stream ends.
    #[cold]
    fn want(&mut self, n: usize) -> Result<(), CaptureError> {
        if self.cut.load(Ordering::Relaxed) {
            return Err(self.error(self.pos, CaptureErrorKind::Shrunk));
        }
        if self.tail - self.head >= n || self.eof {
            return Ok(());
        }
        let Buffer::Window(buf) = &mut self.buf else {
            return Ok(());
        };
        if self.head > 0 {
            buf.copy_within(self.head..self.tail, 0);
            self.tail -= self.head;
            self.head = 0;
        }
        if buf.len() < n {
            buf.resize(n, 0);
        }
        while self.tail < n {
            match self.reader.read(&mut buf[self.tail..]) {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(k) => self.tail += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.error(self.pos, CaptureErrorKind::Io(e))),
            }
        }
        Ok(())
    }

    /// How many of the next `n` bytes the stream has (reading them into the window); less
    /// than `n` only at the end of the stream.
    #[inline]
    pub fn ensure(&mut self, n: usize) -> Result<usize, CaptureError> {
        if self.tail - self.head < n || self.cut.load(Ordering::Relaxed) {
            self.want(n)?;
        }
        Ok(n.min(self.tail - self.head))
    }

    /// The next `n` bytes (at most what `ensure` made available), without consuming them.
    pub fn peek(&self, n: usize) -> &[u8] {
        &self.buf.bytes()[self.head..self.head + n.min(self.tail - self.head)]
    }

    /// Consumes `n` bytes that `ensure` made available.
    #[inline]
    pub fn consume(&mut self, n: usize) {
        let k = n.min(self.tail - self.head);
        self.head += k;
        self.pos += k as u64;
        if self.prefetched < self.head + PREFETCH_AHEAD {
            self.prefetch();
        }
    }

    /// A mapped input: asks for the lines up to `PREFETCH_AHEAD` past `head` (a few at a
    /// time: batching them by half that distance was 13% slower on mixed-1m).
    fn prefetch(&mut self) {
        let to = self.head + PREFETCH_AHEAD;
        mapped::prefetch_range(self.buf.bytes(), &mut self.prefetched, to);
    }

    /// A mapped input: the reader is at `read` (see `Mapping::step`).
    #[cold]
    fn step(&mut self, read: usize) {
        if let Buffer::Mapped(m) = &mut self.buf {
            self.next_step = m.step(read);
        }
    }

    /// The next `n` bytes, in place; fewer only at the end of the stream.
    #[inline]
    pub fn take(&mut self, n: usize) -> Result<&[u8], CaptureError> {
        let k = self.ensure(n)?;
        let start = self.head;
        // nothing before `start` is borrowed any more (the last `take` ended its borrow)
        if start >= self.next_step {
            self.step(start);
        }
        self.consume(k);
        Ok(&self.buf.bytes()[start..start + k])
    }

    /// Reads until `buf` is full or the input ends; returns the number of bytes read, which
    /// is less than `buf.len()` only at end of file.
    pub fn fill(&mut self, buf: &mut [u8]) -> Result<usize, CaptureError> {
        let got = self.take(buf.len())?;
        let k = got.len();
        buf[..k].copy_from_slice(got);
        Ok(k)
    }

    /// Discards `n` bytes; returns how many were skipped (less than `n` only at end of file).
    pub fn skip(&mut self, n: u64) -> Result<u64, CaptureError> {
        let mut done = 0u64;
        while done < n {
            let step = (n - done).min(self.buf.bytes().len().max(1) as u64) as usize;
            let k = self.take(step)?.len();
            done += k as u64;
            if k < step {
                break;
            }
        }
        Ok(done)
    }

    pub fn error(&self, offset: u64, kind: CaptureErrorKind) -> CaptureError {
        CaptureError {
            file: self.name.clone(),
            offset: Some(offset),
            kind,
        }
    }
}

/// A window's `cut`.
static NEVER_CUT: AtomicBool = AtomicBool::new(false);

/// The bytes behind the window: a buffer `read` fills, or a mapped file.
enum Buffer {
    Window(Vec<u8>),
    Mapped(Mapping),
}

impl Buffer {
    fn bytes(&self) -> &[u8] {
        match self {
            Buffer::Window(v) => v,
            Buffer::Mapped(m) => m.bytes(),
        }
    }
}

impl Input<File> {
    /// A regular file, mapped (see `mapped`); read through a `FILE_BUFFER` window when it
    /// cannot be (not a regular file, empty, or the map failed).
    pub fn file(file: File, name: String) -> Input<File> {
        let Some(mut map) = Mapping::new(&file) else {
            return Input::new(file, name, FILE_BUFFER);
        };
        let len = map.bytes().len();
        let next_step = map.step(0);
        let mut input = Input {
            reader: file,
            cut: map.cut_flag(),
            buf: Buffer::Mapped(map),
            prefetched: 0,
            next_step,
            head: 0,
            tail: len,
            pos: 0,
            eof: true,
            name,
        };
        input.prefetch();
        input
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that hands out at most `chunk` bytes per call, as a pipe or socket does.
    struct Trickle<'a> {
        data: &'a [u8],
        chunk: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let k = self.chunk.min(out.len()).min(self.data.len());
            out[..k].copy_from_slice(&self.data[..k]);
            self.data = &self.data[k..];
            Ok(k)
        }
    }

    #[test]
    fn takes_span_reads_and_the_window_grows_for_a_large_record() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
        let mut input = Input::new(
            Trickle {
                data: &data,
                chunk: 7,
            },
            "t".into(),
            64,
        );
        assert_eq!(input.take(10).unwrap(), &data[..10]);
        // larger than the 64-byte window: it grows
        assert_eq!(input.take(300).unwrap(), &data[10..310]);
        assert_eq!(input.pos(), 310);
        assert_eq!(input.skip(600).unwrap(), 600);
        let mut rest = [0u8; 200];
        // only 90 bytes are left: a short fill is the end of the stream
        assert_eq!(input.fill(&mut rest).unwrap(), 90);
        assert_eq!(&rest[..90], &data[910..]);
        assert_eq!(input.take(1).unwrap(), &[] as &[u8]);
        assert_eq!(input.pos(), 1000);
    }
}
