//! Byte input for the file readers: a buffered reader that knows its byte offset and tells a
//! clean end of file from a short read, so readers can report truncated records.

use std::io::{self, BufReader, Read};

use super::{CaptureError, CaptureErrorKind};

/// Buffer size for files opened by path (`capture::open`).
pub const FILE_BUFFER: usize = 1 << 20;

pub(crate) struct Input<R: Read> {
    inner: BufReader<R>,
    pos: u64,
    name: String,
}

impl<R: Read> Input<R> {
    pub fn new(reader: R, name: String, capacity: usize) -> Input<R> {
        Input {
            inner: BufReader::with_capacity(capacity.max(64), reader),
            pos: 0,
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

    /// Reads until `buf` is full or the input ends; returns the number of bytes read, which
    /// is less than `buf.len()` only at end of file.
    pub fn fill(&mut self, buf: &mut [u8]) -> Result<usize, CaptureError> {
        let mut done = 0;
        while done < buf.len() {
            match self.inner.read(&mut buf[done..]) {
                Ok(0) => break,
                Ok(n) => {
                    done += n;
                    self.pos += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.error(self.pos, CaptureErrorKind::Io(e))),
            }
        }
        Ok(done)
    }

    /// Discards `n` bytes; returns how many were skipped (less than `n` only at end of file).
    pub fn skip(&mut self, n: u64) -> Result<u64, CaptureError> {
        let mut take = (&mut self.inner).take(n);
        match io::copy(&mut take, &mut io::sink()) {
            Ok(k) => {
                self.pos += k;
                Ok(k)
            }
            Err(e) => Err(self.error(self.pos, CaptureErrorKind::Io(e))),
        }
    }

    pub fn error(&self, offset: u64, kind: CaptureErrorKind) -> CaptureError {
        CaptureError {
            file: self.name.clone(),
            offset: Some(offset),
            kind,
        }
    }
}

/// Grows `buf` (never shrinks it) so that `buf[..len]` is valid, and returns that slice.
pub(crate) fn sized(buf: &mut Vec<u8>, len: usize) -> &mut [u8] {
    if buf.len() < len {
        buf.resize(len, 0);
    }
    &mut buf[..len]
}
