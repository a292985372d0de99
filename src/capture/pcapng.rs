//! pcapng files: section headers in both byte orders (several sections per file), interface
//! descriptions (link type, `if_tsresol`, `if_tsoffset`), enhanced, simple and obsolete packet
//! blocks. Other blocks are skipped.

use std::io::Read;

use super::input::Input;
use super::{CaptureError, CaptureErrorKind, Frame, FrameSource, LinkType, Timestamp, MAX_CAPLEN};

const BT_SHB: u32 = 0x0A0D_0D0A;
const BT_IDB: u32 = 0x0000_0001;
const BT_PB: u32 = 0x0000_0002;
const BT_SPB: u32 = 0x0000_0003;
const BT_EPB: u32 = 0x0000_0006;
const BYTE_ORDER_MAGIC: u32 = 0x1A2B_3C4D;

const OPT_END: u16 = 0;
const OPT_IF_TSRESOL: u16 = 9;
const OPT_IF_TSOFFSET: u16 = 14;

/// Largest section-header or interface block read into memory.
const MAX_META_BLOCK: u32 = 1 << 20;
/// Largest packet block: the biggest packet plus room for headers and options.
const MAX_PACKET_BLOCK: u32 = MAX_CAPLEN + 64 * 1024;

/// True when the first four bytes of a file are a pcapng section header block type.
pub fn is_magic(m: [u8; 4]) -> bool {
    u32::from_be_bytes(m) == BT_SHB
}

/// Timestamp units of an interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TsResol {
    /// 10^-n seconds (n <= 19).
    Dec(u8),
    /// 2^-n seconds (n <= 63).
    Bin(u8),
}

#[derive(Debug, Clone, Copy)]
struct Interface {
    link: LinkType,
    snaplen: u32,
    resol: TsResol,
    /// Seconds added to every timestamp (`if_tsoffset`).
    offset: i64,
}

impl Interface {
    fn timestamp(&self, units: u64) -> Timestamp {
        let (secs, nanos) = match self.resol {
            TsResol::Dec(n) => {
                let per_sec = 10u64.pow(u32::from(n));
                let frac = units % per_sec;
                let nanos = if n <= 9 {
                    frac * 10u64.pow(9 - u32::from(n))
                } else {
                    frac / 10u64.pow(u32::from(n) - 9)
                };
                (units / per_sec, nanos)
            }
            TsResol::Bin(n) => {
                let frac = u128::from(units & ((1u64 << n) - 1));
                ((units >> n), ((frac * 1_000_000_000) >> n) as u64)
            }
        };
        Timestamp {
            secs: (secs as i64).wrapping_add(self.offset),
            nanos: nanos as u32,
        }
    }
}

/// A streaming reader of a pcapng file.
pub struct PcapngReader<R: Read> {
    input: Input<R>,
    big_endian: bool,
    interfaces: Vec<Interface>,
    sections: u32,
    truncated: Option<u64>,
    done: bool,
}

/// A packet block left unconsumed at the head of the input: its length after the type and
/// length words, where the packet's bytes are in it, and its metadata.
struct PacketRef {
    ts: Timestamp,
    link: LinkType,
    block: usize,
    start: usize,
    end: usize,
    orig_len: u32,
}

enum Block {
    Packet(PacketRef),
    Other,
    End,
}

impl<R: Read> PcapngReader<R> {
    /// Reads the first section header. `name` is used in error messages.
    pub fn new(reader: R, name: &str) -> Result<PcapngReader<R>, CaptureError> {
        let mut input = Input::new(reader, name.to_string(), 64 * 1024);
        let mut magic = [0u8; 4];
        let n = input.fill(&mut magic)?;
        if n < 4 {
            return Err(input.error(0, CaptureErrorKind::ShortHeader { len: n as u64 }));
        }
        PcapngReader::from_input(input, magic)
    }

    /// Continues after the block type of the first block (already read from `input`).
    pub(crate) fn from_input(
        input: Input<R>,
        magic: [u8; 4],
    ) -> Result<PcapngReader<R>, CaptureError> {
        if !is_magic(magic) {
            return Err(input.error(0, CaptureErrorKind::BadMagic(u32::from_be_bytes(magic))));
        }
        let mut r = PcapngReader {
            input,
            big_endian: false,
            interfaces: Vec::new(),
            sections: 0,
            truncated: None,
            done: false,
        };
        // The first section header must be complete: without it nothing can be read.
        match r.read_shb(0) {
            Ok(true) => Ok(r),
            Ok(false) => {
                let len = r.input.pos();
                Err(r.input.error(0, CaptureErrorKind::ShortHeader { len }))
            }
            Err(e) => Err(e),
        }
    }

    /// Sections seen so far.
    pub fn sections(&self) -> u32 {
        self.sections
    }

    /// Link type of each interface of the current section.
    pub fn interface_link_types(&self) -> impl Iterator<Item = LinkType> + '_ {
        self.interfaces.iter().map(|i| i.link)
    }

    /// When the file ended in the middle of a block: the byte offset where it began.
    pub fn truncated(&self) -> Option<u64> {
        self.truncated
    }

    fn u16_at(&self, b: &[u8], i: usize) -> u16 {
        let b = [b[i], b[i + 1]];
        if self.big_endian {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        }
    }

    fn u32_at(&self, b: &[u8], i: usize) -> u32 {
        let b = [b[i], b[i + 1], b[i + 2], b[i + 3]];
        if self.big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        }
    }

    /// The next packet; `Ok(None)` at the end (see `truncated` for an incomplete last block).
    pub fn next_frame(&mut self) -> Result<Option<Frame<'_>>, CaptureError> {
        loop {
            if self.done {
                return Ok(None);
            }
            match self.read_block() {
                Ok(Block::Packet(p)) => {
                    // in place in the input's window (read_block made sure it is there)
                    let body = self.input.take(p.block)?;
                    return Ok(Some(Frame {
                        ts: p.ts,
                        link: p.link,
                        data: &body[p.start..p.end],
                        orig_len: p.orig_len,
                        offloaded: false,
                    }));
                }
                Ok(Block::Other) => continue,
                Ok(Block::End) => {
                    self.done = true;
                    return Ok(None);
                }
                Err(e) => {
                    self.done = true;
                    return Err(e);
                }
            }
        }
    }

    /// Reads a section header block whose type (4 bytes) was already consumed at `start`.
    /// Ok(false) when the input ends inside it.
    fn read_shb(&mut self, start: u64) -> Result<bool, CaptureError> {
        let mut head = [0u8; 8];
        if self.input.fill(&mut head)? < head.len() {
            self.truncated = Some(start);
            return Ok(false);
        }
        let bom_be = u32::from_be_bytes([head[4], head[5], head[6], head[7]]);
        let bom_le = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
        self.big_endian = if bom_be == BYTE_ORDER_MAGIC {
            true
        } else if bom_le == BYTE_ORDER_MAGIC {
            false
        } else {
            return Err(self
                .input
                .error(start, CaptureErrorKind::BadByteOrderMagic(bom_be)));
        };
        let len = self.u32_at(&head, 0);
        // type, length, byte-order magic, version (4), section length (8), trailer.
        if len < 28 || len % 4 != 0 || len > MAX_META_BLOCK {
            return Err(self.input.error(
                start,
                CaptureErrorKind::BadBlockLength {
                    block_type: BT_SHB,
                    len,
                },
            ));
        }
        // The rest: version, section length, options, trailer.
        let rest = (len - 12) as usize;
        if self.input.ensure(rest)? < rest {
            self.truncated = Some(start);
            return Ok(false);
        }
        let body = self.input.peek(rest);
        let trailer = self.u32_at(body, rest - 4);
        if trailer != len {
            return Err(self.input.error(
                start,
                CaptureErrorKind::BlockTrailerMismatch { len, trailer },
            ));
        }
        let (major, minor) = (self.u16_at(body, 0), self.u16_at(body, 2));
        if major != 1 {
            return Err(self
                .input
                .error(start, CaptureErrorKind::UnsupportedVersion { major, minor }));
        }
        self.input.consume(rest);
        self.interfaces.clear();
        self.sections += 1;
        Ok(true)
    }

    fn read_block(&mut self) -> Result<Block, CaptureError> {
        let start = self.input.pos();
        let mut bt = [0u8; 4];
        let n = self.input.fill(&mut bt)?;
        if n == 0 {
            return Ok(Block::End);
        }
        if n < 4 {
            self.truncated = Some(start);
            return Ok(Block::End);
        }
        if is_magic(bt) {
            return Ok(if self.read_shb(start)? {
                Block::Other
            } else {
                Block::End
            });
        }
        let block_type = self.u32_at(&bt, 0);
        let mut lb = [0u8; 4];
        if self.input.fill(&mut lb)? < 4 {
            self.truncated = Some(start);
            return Ok(Block::End);
        }
        let len = self.u32_at(&lb, 0);
        if len < 12 || len % 4 != 0 {
            return Err(self
                .input
                .error(start, CaptureErrorKind::BadBlockLength { block_type, len }));
        }
        let limit = match block_type {
            BT_IDB => MAX_META_BLOCK,
            BT_EPB | BT_SPB | BT_PB => MAX_PACKET_BLOCK,
            _ => {
                // Unknown or uninteresting block: skip it without buffering.
                let want = u64::from(len - 8);
                if self.input.skip(want)? < want {
                    self.truncated = Some(start);
                    return Ok(Block::End);
                }
                return Ok(Block::Other);
            }
        };
        if len > limit {
            return Err(self.input.error(
                start,
                CaptureErrorKind::RecordTooLarge {
                    len,
                    limit: MAX_CAPLEN,
                },
            ));
        }
        let rest = (len - 8) as usize;
        if self.input.ensure(rest)? < rest {
            self.truncated = Some(start);
            return Ok(Block::End);
        }
        // the body stays in the input's window: consumed here, or by next_frame for a packet
        let body = self.input.peek(rest);
        let trailer = self.u32_at(body, rest - 4);
        if trailer != len {
            return Err(self.input.error(
                start,
                CaptureErrorKind::BlockTrailerMismatch { len, trailer },
            ));
        }
        let body_len = rest - 4;
        let bad_len = || CaptureErrorKind::BadBlockLength { block_type, len };
        match block_type {
            BT_IDB => {
                if body_len < 8 {
                    return Err(self.input.error(start, bad_len()));
                }
                let iface = self.parse_idb(&body[..body_len], start)?;
                self.input.consume(rest);
                self.interfaces.push(iface);
                Ok(Block::Other)
            }
            BT_EPB | BT_PB => {
                // EPB: iface u32, ts hi, ts lo, caplen, origlen. PB: iface u16, drops u16, ...
                if body_len < 20 {
                    return Err(self.input.error(start, bad_len()));
                }
                let b = &body[..body_len];
                let id = if block_type == BT_EPB {
                    self.u32_at(b, 0)
                } else {
                    u32::from(self.u16_at(b, 0))
                };
                let units = (u64::from(self.u32_at(b, 4)) << 32) | u64::from(self.u32_at(b, 8));
                let caplen = self.u32_at(b, 12);
                let orig_len = self.u32_at(b, 16);
                if caplen > MAX_CAPLEN {
                    return Err(self.input.error(
                        start,
                        CaptureErrorKind::RecordTooLarge {
                            len: caplen,
                            limit: MAX_CAPLEN,
                        },
                    ));
                }
                if caplen as usize > body_len - 20 {
                    return Err(self.input.error(start, bad_len()));
                }
                let Some(iface) = self.interfaces.get(id as usize).copied() else {
                    return Err(self
                        .input
                        .error(start, CaptureErrorKind::UnknownInterface { id }));
                };
                Ok(Block::Packet(PacketRef {
                    ts: iface.timestamp(units),
                    link: iface.link,
                    block: rest,
                    start: 20,
                    end: 20 + caplen as usize,
                    orig_len,
                }))
            }
            BT_SPB => {
                if body_len < 4 {
                    return Err(self.input.error(start, bad_len()));
                }
                let Some(iface) = self.interfaces.first().copied() else {
                    return Err(self
                        .input
                        .error(start, CaptureErrorKind::UnknownInterface { id: 0 }));
                };
                let orig_len = self.u32_at(body, 0);
                let mut caplen = (body_len - 4).min(orig_len as usize);
                if iface.snaplen != 0 {
                    caplen = caplen.min(iface.snaplen as usize);
                }
                Ok(Block::Packet(PacketRef {
                    ts: Timestamp::default(),
                    link: iface.link,
                    block: rest,
                    start: 4,
                    end: 4 + caplen,
                    orig_len,
                }))
            }
            _ => {
                self.input.consume(rest);
                Ok(Block::Other)
            }
        }
    }

    /// Parses an interface description block body `b` (without its trailer).
    fn parse_idb(&self, b: &[u8], start: u64) -> Result<Interface, CaptureError> {
        let body_len = b.len();
        let mut iface = Interface {
            link: LinkType::from_u32(u32::from(self.u16_at(b, 0))),
            snaplen: self.u32_at(b, 4),
            resol: TsResol::Dec(6),
            offset: 0,
        };
        let mut pos = 8;
        while pos + 4 <= body_len {
            let code = self.u16_at(b, pos);
            let olen = self.u16_at(b, pos + 2) as usize;
            let val = pos + 4;
            if code == OPT_END || val + olen > body_len {
                // A malformed option list ends the options; the interface stays usable.
                break;
            }
            match (code, olen) {
                (OPT_IF_TSRESOL, 1) => {
                    let r = b[val];
                    let n = r & 0x7f;
                    iface.resol = if r & 0x80 != 0 {
                        if n > 63 {
                            return Err(self
                                .input
                                .error(start, CaptureErrorKind::BadTsResolution(r)));
                        }
                        TsResol::Bin(n)
                    } else {
                        if n > 19 {
                            return Err(self
                                .input
                                .error(start, CaptureErrorKind::BadTsResolution(r)));
                        }
                        TsResol::Dec(n)
                    };
                }
                (OPT_IF_TSOFFSET, 8) => {
                    let hi = u64::from(self.u32_at(b, val));
                    let lo = u64::from(self.u32_at(b, val + 4));
                    // Stored as a 64-bit value in the section's byte order.
                    iface.offset = if self.big_endian {
                        ((hi << 32) | lo) as i64
                    } else {
                        ((lo << 32) | hi) as i64
                    };
                }
                _ => {}
            }
            pos = val + olen.div_ceil(4) * 4;
        }
        Ok(iface)
    }
}

impl<R: Read + Send> FrameSource for PcapngReader<R> {
    fn next_frame(&mut self) -> Result<Option<Frame<'_>>, CaptureError> {
        PcapngReader::next_frame(self)
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

    /// A pcapng writer for tests, in either byte order.
    struct W {
        big: bool,
        v: Vec<u8>,
    }

    impl W {
        fn u16(&self, x: u16) -> [u8; 2] {
            if self.big {
                x.to_be_bytes()
            } else {
                x.to_le_bytes()
            }
        }
        fn u32(&self, x: u32) -> [u8; 4] {
            if self.big {
                x.to_be_bytes()
            } else {
                x.to_le_bytes()
            }
        }
        fn block(&mut self, bt: u32, body: &[u8]) {
            let mut body = body.to_vec();
            while body.len() % 4 != 0 {
                body.push(0);
            }
            let len = body.len() as u32 + 12;
            let (a, b) = (self.u32(bt), self.u32(len));
            self.v.extend_from_slice(&a);
            self.v.extend_from_slice(&b);
            self.v.extend_from_slice(&body);
            self.v.extend_from_slice(&b);
        }
        fn shb(&mut self) {
            let mut body = Vec::new();
            body.extend_from_slice(&self.u32(BYTE_ORDER_MAGIC));
            body.extend_from_slice(&self.u16(1));
            body.extend_from_slice(&self.u16(0));
            body.extend_from_slice(&[0xff; 8]);
            self.block(BT_SHB, &body);
        }
        fn idb(&mut self, link: u16, tsresol: Option<u8>, tsoffset: Option<i64>) {
            let mut body = Vec::new();
            body.extend_from_slice(&self.u16(link));
            body.extend_from_slice(&self.u16(0));
            body.extend_from_slice(&self.u32(0));
            if let Some(r) = tsresol {
                body.extend_from_slice(&self.u16(OPT_IF_TSRESOL));
                body.extend_from_slice(&self.u16(1));
                body.extend_from_slice(&[r, 0, 0, 0]);
            }
            if let Some(o) = tsoffset {
                body.extend_from_slice(&self.u16(OPT_IF_TSOFFSET));
                body.extend_from_slice(&self.u16(8));
                let o = o as u64;
                body.extend_from_slice(&if self.big {
                    o.to_be_bytes()
                } else {
                    o.to_le_bytes()
                });
            }
            body.extend_from_slice(&self.u16(0));
            body.extend_from_slice(&self.u16(0));
            self.block(BT_IDB, &body);
        }
        fn epb(&mut self, iface: u32, units: u64, data: &[u8], orig: u32) {
            let mut body = Vec::new();
            body.extend_from_slice(&self.u32(iface));
            body.extend_from_slice(&self.u32((units >> 32) as u32));
            body.extend_from_slice(&self.u32(units as u32));
            body.extend_from_slice(&self.u32(data.len() as u32));
            body.extend_from_slice(&self.u32(orig));
            body.extend_from_slice(data);
            self.block(BT_EPB, &body);
        }
        fn spb(&mut self, data: &[u8]) {
            let mut body = Vec::new();
            body.extend_from_slice(&self.u32(data.len() as u32));
            body.extend_from_slice(data);
            self.block(BT_SPB, &body);
        }
        fn pb(&mut self, iface: u16, units: u64, data: &[u8]) {
            let mut body = Vec::new();
            body.extend_from_slice(&self.u16(iface));
            body.extend_from_slice(&self.u16(0));
            body.extend_from_slice(&self.u32((units >> 32) as u32));
            body.extend_from_slice(&self.u32(units as u32));
            body.extend_from_slice(&self.u32(data.len() as u32));
            body.extend_from_slice(&self.u32(data.len() as u32));
            body.extend_from_slice(data);
            self.block(BT_PB, &body);
        }
    }

    type Got = (Timestamp, LinkType, Vec<u8>, u32);

    fn read_all(bytes: Vec<u8>) -> (Vec<Got>, Option<u64>) {
        let mut src = open_reader(Cursor::new(bytes), "mem.pcapng").expect("open");
        let mut out = Vec::new();
        while let Some(f) = src.next_frame().expect("frame") {
            out.push((f.ts, f.link, f.data.to_vec(), f.orig_len));
        }
        (out, src.truncated())
    }

    fn sample(big: bool) -> Vec<u8> {
        let mut w = W { big, v: Vec::new() };
        w.shb();
        w.idb(1, None, None); // Ethernet, microseconds
        w.idb(101, Some(9), None); // raw IP, nanoseconds
        w.block(0x0000_0bad, b"unknown block"); // skipped
        w.epb(0, 1_700_000_000_123_456, b"eth!", 60);
        w.epb(1, 1_700_000_000_000_000_007, b"raw", 3);
        w.spb(b"simple");
        w.pb(1, 5_000_000_001, b"old");
        w.v
    }

    #[test]
    fn two_interfaces_both_byte_orders() {
        for big in [false, true] {
            let (frames, trunc) = read_all(sample(big));
            assert_eq!(trunc, None);
            assert_eq!(frames.len(), 4, "big={big}");
            assert_eq!(frames[0].1, LinkType::Ethernet);
            assert_eq!(frames[0].0.secs, 1_700_000_000);
            assert_eq!(frames[0].0.nanos, 123_456_000);
            assert_eq!(frames[0].2, b"eth!");
            assert_eq!(frames[0].3, 60);
            assert_eq!(frames[1].1, LinkType::Raw);
            assert_eq!(frames[1].0.secs, 1_700_000_000);
            assert_eq!(frames[1].0.nanos, 7);
            assert_eq!(frames[2].1, LinkType::Ethernet);
            assert_eq!(frames[2].2, b"simple");
            assert_eq!(frames[3].1, LinkType::Raw);
            assert_eq!(frames[3].2, b"old");
            assert_eq!((frames[3].0.secs, frames[3].0.nanos), (5, 1));
        }
    }

    #[test]
    fn power_of_two_resolution_and_offset() {
        let mut w = W {
            big: false,
            v: Vec::new(),
        };
        w.shb();
        w.idb(1, Some(0x80 | 10), Some(100)); // 1/1024 s, +100 s
        w.epb(0, 3 * 1024 + 512, b"x", 1);
        let (frames, _) = read_all(w.v);
        assert_eq!(frames[0].0.secs, 103);
        assert_eq!(frames[0].0.nanos, 500_000_000);
    }

    #[test]
    fn multiple_sections_switch_byte_order_and_interfaces() {
        let mut bytes = sample(false);
        let mut w = W {
            big: true,
            v: Vec::new(),
        };
        w.shb();
        w.idb(113, None, None);
        w.epb(0, 1, b"sll", 3);
        bytes.extend_from_slice(&w.v);
        let (frames, _) = read_all(bytes);
        assert_eq!(frames.len(), 5);
        assert_eq!(frames[4].1, LinkType::Sll);
        assert_eq!(frames[4].2, b"sll");
    }

    #[test]
    fn truncated_tail_at_every_length() {
        let full = sample(false);
        // Offsets where each block begins.
        let mut starts = Vec::new();
        let mut pos = 0;
        while pos < full.len() {
            starts.push(pos);
            let len = u32::from_le_bytes(full[pos + 4..pos + 8].try_into().unwrap()) as usize;
            pos += len;
        }
        let shb_len = starts[1];
        for cut in shb_len..full.len() {
            let mut src = open_reader(Cursor::new(full[..cut].to_vec()), "t.pcapng").unwrap();
            while src.next_frame().expect("no error on truncation").is_some() {}
            let expect = if starts.contains(&cut) {
                None
            } else {
                starts.iter().rev().find(|&&s| s < cut).map(|&s| s as u64)
            };
            assert_eq!(src.truncated(), expect, "cut {cut}");
        }
        for cut in 0..shb_len {
            assert!(open_reader(Cursor::new(full[..cut].to_vec()), "t.pcapng").is_err());
        }
    }

    #[test]
    fn errors_name_the_offset() {
        let mut w = W {
            big: false,
            v: Vec::new(),
        };
        w.shb();
        let at = w.v.len();
        w.epb(3, 0, b"x", 1);
        let mut src = open_reader(Cursor::new(w.v.clone()), "e.pcapng").unwrap();
        let err = src.next_frame().expect_err("error");
        assert_eq!(err.offset, Some(at as u64));
        assert!(err.to_string().contains("interface 3"), "{err}");
        assert!(
            err.to_string().contains(&format!("byte offset {at}")),
            "{err}"
        );

        // Trailer mismatch.
        let mut bad = w.v.clone();
        let last = bad.len() - 4;
        bad[last] ^= 0x40;
        let mut src = open_reader(Cursor::new(bad), "e.pcapng").unwrap();
        assert!(matches!(
            src.next_frame().expect_err("error").kind,
            CaptureErrorKind::BlockTrailerMismatch { .. }
        ));

        // Bad byte-order magic.
        let mut bad = w.v.clone();
        bad[8] = 0;
        let err = open_reader(Cursor::new(bad), "e.pcapng")
            .err()
            .expect("error");
        assert!(matches!(err.kind, CaptureErrorKind::BadByteOrderMagic(_)));

        // Absurd block length.
        let mut bad = w.v.clone();
        bad[at + 4..at + 8].copy_from_slice(&(1u32 << 30).to_le_bytes());
        let mut src = open_reader(Cursor::new(bad), "e.pcapng").unwrap();
        let err = src.next_frame().expect_err("error");
        assert_eq!(err.offset, Some(at as u64));
    }

    #[test]
    fn garbage_after_header_never_panics() {
        let head = sample(false);
        let mut seed = 0x1234_5678u32;
        for round in 0..300 {
            let mut bytes = head[..28].to_vec();
            for _ in 0..(round % 97) {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                bytes.push((seed >> 16) as u8);
            }
            if let Ok(mut src) = open_reader(Cursor::new(bytes), "g.pcapng") {
                while let Ok(Some(_)) = src.next_frame() {}
            }
        }
    }
}
