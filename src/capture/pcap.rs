//! Classic pcap files: both byte orders, microsecond (0xa1b2c3d4) and nanosecond (0xa1b23c4d)
//! timestamps, and the modified ("Kuznetzov", 0xa1b2cd34) variant with its longer records.

use std::io::Read;

use super::input::Input;
use super::{CaptureError, CaptureErrorKind, Frame, FrameSource, LinkType, Timestamp, MAX_CAPLEN};

const MAGIC_US: u32 = 0xa1b2_c3d4;
const MAGIC_NS: u32 = 0xa1b2_3c4d;
const MAGIC_MODIFIED: u32 = 0xa1b2_cd34;

/// File header length, magic included.
const FILE_HEADER_LEN: usize = 24;

/// True when the first four bytes of a file are a pcap magic, in either byte order.
pub fn is_magic(m: [u8; 4]) -> bool {
    decode_magic(m).is_some()
}

/// (big-endian, nanosecond, modified) for a pcap magic.
pub(crate) fn decode_magic(m: [u8; 4]) -> Option<(bool, bool, bool)> {
    let be = u32::from_be_bytes(m);
    let le = u32::from_le_bytes(m);
    for (v, big) in [(be, true), (le, false)] {
        match v {
            MAGIC_US => return Some((big, false, false)),
            MAGIC_NS => return Some((big, true, false)),
            MAGIC_MODIFIED => return Some((big, false, true)),
            _ => {}
        }
    }
    None
}

/// A streaming reader of one classic pcap file.
pub struct PcapReader<R: Read> {
    input: Input<R>,
    big_endian: bool,
    nanos: bool,
    /// Record header length: 16, or 24 for the modified format.
    rec_hdr_len: usize,
    link: LinkType,
    snaplen: u32,
    version: (u16, u16),
    truncated: Option<u64>,
    done: bool,
}

impl<R: Read> PcapReader<R> {
    /// Reads and checks the file header. `name` is used in error messages.
    pub fn new(reader: R, name: &str) -> Result<PcapReader<R>, CaptureError> {
        let mut input = Input::new(reader, name.to_string(), 64 * 1024);
        let mut magic = [0u8; 4];
        let n = input.fill(&mut magic)?;
        if n < 4 {
            return Err(input.error(0, CaptureErrorKind::ShortHeader { len: n as u64 }));
        }
        PcapReader::from_input(input, magic)
    }

    /// Continues after the magic (already read from `input`).
    pub(crate) fn from_input(
        mut input: Input<R>,
        magic: [u8; 4],
    ) -> Result<PcapReader<R>, CaptureError> {
        let Some((big_endian, nanos, modified)) = decode_magic(magic) else {
            return Err(input.error(0, CaptureErrorKind::BadMagic(u32::from_be_bytes(magic))));
        };
        let mut hdr = [0u8; FILE_HEADER_LEN - 4];
        let n = input.fill(&mut hdr)?;
        if n < hdr.len() {
            let len = input.pos();
            return Err(input.error(0, CaptureErrorKind::ShortHeader { len }));
        }
        let u16_at = |i: usize| {
            let b = [hdr[i], hdr[i + 1]];
            if big_endian {
                u16::from_be_bytes(b)
            } else {
                u16::from_le_bytes(b)
            }
        };
        let u32_at = |i: usize| {
            let b = [hdr[i], hdr[i + 1], hdr[i + 2], hdr[i + 3]];
            if big_endian {
                u32::from_be_bytes(b)
            } else {
                u32::from_le_bytes(b)
            }
        };
        let version = (u16_at(0), u16_at(2));
        if version.0 != 2 {
            return Err(input.error(
                0,
                CaptureErrorKind::UnsupportedVersion {
                    major: version.0,
                    minor: version.1,
                },
            ));
        }
        // 4..8 thiszone and 8..12 sigfigs are unused in practice.
        let snaplen = u32_at(12);
        // The upper bits of the link-type field carry FCS information.
        let link = LinkType::from_u32(u32_at(16) & 0x03ff_ffff);
        Ok(PcapReader {
            input,
            big_endian,
            nanos,
            rec_hdr_len: if modified { 24 } else { 16 },
            link,
            snaplen,
            version,
            truncated: None,
            done: false,
        })
    }

    pub fn link_type(&self) -> LinkType {
        self.link
    }

    pub fn snaplen(&self) -> u32 {
        self.snaplen
    }

    /// (major, minor) from the file header.
    pub fn version(&self) -> (u16, u16) {
        self.version
    }

    /// True for nanosecond-resolution files.
    pub fn is_nanosecond(&self) -> bool {
        self.nanos
    }

    /// When the file ended in the middle of a record: the byte offset where it began.
    pub fn truncated(&self) -> Option<u64> {
        self.truncated
    }

    /// The next record; `Ok(None)` at the end (see `truncated` for an incomplete last record).
    /// The frame's bytes are in place in the input's window.
    pub fn next_frame(&mut self) -> Result<Option<Frame<'_>>, CaptureError> {
        if self.done {
            return Ok(None);
        }
        let start = self.input.pos();
        let hl = self.rec_hdr_len;
        let n = match self.input.ensure(hl) {
            Ok(n) => n,
            Err(e) => return self.fail(e),
        };
        if n < hl {
            if n > 0 {
                self.truncated = Some(start);
            }
            self.done = true;
            return Ok(None);
        }
        // every variant starts with these four fields (the modified format's 8 more bytes
        // follow); read from a fixed-size array, so without a bounds check each
        let Some(&hdr) = self.input.peek(hl).first_chunk::<16>() else {
            self.done = true;
            return Ok(None);
        };
        let big = self.big_endian;
        let field = |i: usize| {
            let v = u32::from_le_bytes([hdr[i], hdr[i + 1], hdr[i + 2], hdr[i + 3]]);
            if big {
                v.swap_bytes()
            } else {
                v
            }
        };
        let (secs, frac, caplen, orig_len) = (field(0), field(4), field(8), field(12));
        if caplen > MAX_CAPLEN {
            let e = self.input.error(
                start,
                CaptureErrorKind::RecordTooLarge {
                    len: caplen,
                    limit: MAX_CAPLEN,
                },
            );
            return self.fail(e);
        }
        let frac_ns = if self.nanos {
            u64::from(frac)
        } else {
            u64::from(frac) * 1000
        };
        let ts = if frac_ns < 1_000_000_000 {
            Timestamp {
                secs: i64::from(secs),
                nanos: frac_ns as u32,
            }
        } else {
            // a fraction beyond one second (broken writers) carries into the seconds
            Timestamp {
                secs: i64::from(secs) + (frac_ns / 1_000_000_000) as i64,
                nanos: (frac_ns % 1_000_000_000) as u32,
            }
        };
        let link = self.link;
        // the header and the captured bytes, taken in one step
        let len = hl + caplen as usize;
        match self.input.ensure(len) {
            Ok(k) if k < len => {
                self.truncated = Some(start);
                self.done = true;
                return Ok(None);
            }
            Ok(_) => {}
            Err(e) => return self.fail(e),
        }
        let data = self.input.take(len)?.get(hl..).unwrap_or_default();
        Ok(Some(Frame {
            ts,
            link,
            data,
            orig_len,
            offloaded: false,
        }))
    }

    fn fail<T>(&mut self, e: CaptureError) -> Result<T, CaptureError> {
        self.done = true;
        Err(e)
    }
}

impl<R: Read + Send> FrameSource for PcapReader<R> {
    fn next_frame(&mut self) -> Result<Option<Frame<'_>>, CaptureError> {
        PcapReader::next_frame(self)
    }
    fn truncated(&self) -> Option<u64> {
        self.truncated
    }
    fn name(&self) -> &str {
        self.input.name()
    }
    fn offset(&self) -> u64 {
        self.input.pos()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::open_reader;
    use std::io::Cursor;

    /// Builds a pcap file: `recs` are (secs, frac, data, orig_len).
    pub(crate) fn build(
        big: bool,
        magic: u32,
        link: u32,
        recs: &[(u32, u32, &[u8], u32)],
    ) -> Vec<u8> {
        let w32 = |v: &mut Vec<u8>, x: u32| {
            v.extend_from_slice(&if big {
                x.to_be_bytes()
            } else {
                x.to_le_bytes()
            })
        };
        let w16 = |v: &mut Vec<u8>, x: u16| {
            v.extend_from_slice(&if big {
                x.to_be_bytes()
            } else {
                x.to_le_bytes()
            })
        };
        let mut v = Vec::new();
        w32(&mut v, magic);
        w16(&mut v, 2);
        w16(&mut v, 4);
        w32(&mut v, 0);
        w32(&mut v, 0);
        w32(&mut v, 65535);
        w32(&mut v, link);
        for (s, f, d, o) in recs {
            w32(&mut v, *s);
            w32(&mut v, *f);
            w32(&mut v, d.len() as u32);
            w32(&mut v, *o);
            if magic == MAGIC_MODIFIED {
                v.extend_from_slice(&[0; 8]);
            }
            v.extend_from_slice(d);
        }
        v
    }

    type Got = (Timestamp, LinkType, Vec<u8>, u32);

    fn read_all(bytes: Vec<u8>) -> (Vec<Got>, Option<u64>) {
        let mut src = open_reader(Cursor::new(bytes), "mem.pcap").expect("open");
        let mut out = Vec::new();
        while let Some(f) = src.next_frame().expect("frame") {
            out.push((f.ts, f.link, f.data.to_vec(), f.orig_len));
        }
        (out, src.truncated())
    }

    #[test]
    fn both_byte_orders_and_resolutions() {
        for big in [false, true] {
            for (magic, frac, nanos) in [(MAGIC_US, 123_456, 123_456_000), (MAGIC_NS, 5, 5)] {
                let bytes = build(
                    big,
                    magic,
                    1,
                    &[(1_700_000_000, frac, b"abc", 60), (7, 0, b"", 0)],
                );
                let (frames, trunc) = read_all(bytes);
                assert_eq!(trunc, None);
                assert_eq!(frames.len(), 2);
                assert_eq!(frames[0].0.secs, 1_700_000_000);
                assert_eq!(frames[0].0.nanos, nanos);
                assert_eq!(frames[0].1, LinkType::Ethernet);
                assert_eq!(frames[0].2, b"abc");
                assert_eq!(frames[0].3, 60);
                assert_eq!(frames[1].2, b"");
            }
        }
    }

    #[test]
    fn modified_format_and_link_types() {
        let bytes = build(false, MAGIC_MODIFIED, 113, &[(1, 2, b"xyz", 3)]);
        let (frames, _) = read_all(bytes);
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0].1, LinkType::Sll);
        assert_eq!(frames[0].2, b"xyz");
        let bytes = build(true, MAGIC_US, 101, &[(1, 2, b"x", 1)]);
        assert_eq!(read_all(bytes).0[0].1, LinkType::Raw);
    }

    #[test]
    fn microsecond_overflow_carries() {
        let bytes = build(false, MAGIC_US, 1, &[(10, 2_500_000, b"a", 1)]);
        let (frames, _) = read_all(bytes);
        assert_eq!(frames[0].0.secs, 12);
        assert_eq!(frames[0].0.nanos, 500_000_000);
    }

    #[test]
    fn truncated_tail_at_every_length() {
        let full = build(
            false,
            MAGIC_US,
            1,
            &[(1, 0, b"hello", 5), (2, 0, b"world!", 6)],
        );
        let second = 24 + 16 + 5;
        for cut in 24..full.len() {
            let (frames, trunc) = read_all(full[..cut].to_vec());
            if cut == 24 || cut == second {
                assert_eq!(trunc, None, "cut {cut}");
            } else if cut < second {
                assert_eq!(frames.len(), 0);
                assert_eq!(trunc, Some(24), "cut {cut}");
            } else {
                assert_eq!(frames.len(), 1);
                assert_eq!(trunc, Some(second as u64), "cut {cut}");
            }
        }
    }

    #[test]
    fn short_header_and_bad_version() {
        let full = build(false, MAGIC_US, 1, &[]);
        for cut in 0..24 {
            let err = open_reader(Cursor::new(full[..cut].to_vec()), "x.pcap")
                .err()
                .expect("error");
            assert!(matches!(err.kind, CaptureErrorKind::ShortHeader { .. }));
            assert!(err.to_string().starts_with("x.pcap: "), "{err}");
        }
        let mut bad = full.clone();
        bad[4] = 9;
        let err = open_reader(Cursor::new(bad), "v.pcap")
            .err()
            .expect("error");
        assert!(err.to_string().contains("version 9.4"), "{err}");
    }

    #[test]
    fn absurd_record_length_is_an_error_with_offset() {
        let mut bytes = build(false, MAGIC_US, 1, &[(1, 0, b"ok", 2), (1, 0, b"x", 1)]);
        let second = 24 + 16 + 2;
        bytes[second + 8..second + 12].copy_from_slice(&(300_000u32).to_le_bytes());
        let mut src = open_reader(Cursor::new(bytes), "big.pcap").expect("open");
        assert!(src.next_frame().expect("first").is_some());
        let err = src.next_frame().expect_err("error");
        assert_eq!(err.offset, Some(second as u64));
        assert_eq!(
            err.to_string(),
            format!(
                "big.pcap: record length 300000 exceeds the limit of 262144 bytes (record at byte offset {second})"
            )
        );
        assert!(src.next_frame().expect("after error").is_none());
    }

    #[test]
    fn bad_magic_message() {
        let err = open_reader(
            Cursor::new(vec![0x12, 0x34, 0x56, 0x78, 0, 0]),
            "capture.pcap",
        )
        .err()
        .expect("error");
        assert_eq!(
            err.to_string(),
            "capture.pcap: not a pcap or pcapng file (bad magic 0x12345678 at byte offset 0)"
        );
    }
}
