//! Capture sources: where frames come from (files today; sockets in `ravn run` later).
//!
//! Every source yields `Frame`s: a timestamp, a link type and the bytes. Decoding is not
//! the source's business (see `crate::decode`).

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

mod input;
pub mod live;
mod mapped;
pub mod pcap;
pub mod pcapng;

use input::Input;
pub use pcap::PcapReader;
pub use pcapng::PcapngReader;

/// Largest captured length a record may have (bytes). Anything longer is taken as a corrupt
/// file rather than a packet (libpcap and Wireshark use the same 256 KiB bound).
pub const MAX_CAPLEN: u32 = 256 * 1024;

/// A capture timestamp (Unix epoch).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Hash)]
pub struct Timestamp {
    pub secs: i64,
    pub nanos: u32,
}

impl Timestamp {
    pub fn micros(&self) -> u32 {
        self.nanos / 1000
    }
}

/// Link-layer types (LINKTYPE_* numbers from tcpdump.org).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkType {
    Ethernet,
    /// LINKTYPE_RAW (101), DLT_RAW (12 / 14): bare IPv4 or IPv6.
    Raw,
    Ipv4,
    Ipv6,
    /// Linux cooked capture v1 (113).
    Sll,
    /// Linux cooked capture v2 (276).
    Sll2,
    /// BSD loopback / null (0).
    Null,
    Other(u32),
}

impl LinkType {
    pub fn from_u32(v: u32) -> LinkType {
        match v {
            1 => LinkType::Ethernet,
            101 | 12 | 14 => LinkType::Raw,
            228 => LinkType::Ipv4,
            229 => LinkType::Ipv6,
            113 => LinkType::Sll,
            276 => LinkType::Sll2,
            0 => LinkType::Null,
            o => LinkType::Other(o),
        }
    }

    /// The DLT number libpcap reports for this link type (`pcap_datalink`), which Suricata
    /// logs as `packet_info.linktype`: LINKTYPE_RAW is DLT_RAW (12 on Linux).
    pub fn dlt(self) -> u32 {
        match self {
            LinkType::Ethernet => 1,
            LinkType::Raw => 12,
            LinkType::Ipv4 => 228,
            LinkType::Ipv6 => 229,
            LinkType::Sll => 113,
            LinkType::Sll2 => 276,
            LinkType::Null => 0,
            LinkType::Other(o) => o,
        }
    }
}

/// One captured frame, borrowed from the reader's buffer.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    pub ts: Timestamp,
    pub link: LinkType,
    /// Captured bytes (may be shorter than `orig_len` when the snap length cut it).
    pub data: &'a [u8],
    pub orig_len: u32,
    /// The sending host left the checksums to its NIC, so they are not filled in yet
    /// (AF_PACKET's TP_STATUS_CSUMNOTREADY, for packets the capturing host sends): never
    /// checked.
    pub offloaded: bool,
}

/// What a capture source yields: frames one at a time, borrowed from the source's buffer.
/// Sources are `Send` so that reading can run on its own thread.
pub trait FrameSource: Send {
    /// The next frame; `Ok(None)` at the end of the input. A truncated last record also ends
    /// the input (see `truncated`). After an error the source yields `Ok(None)`.
    fn next_frame(&mut self) -> Result<Option<Frame<'_>>, CaptureError>;
    /// When the input ended in the middle of a record: the byte offset where that record began.
    fn truncated(&self) -> Option<u64>;
    /// The name used in messages (the path as given).
    fn name(&self) -> &str;
    /// Bytes consumed so far.
    fn offset(&self) -> u64;
}

/// A capture file could not be opened or read. `Display` names the file and the byte offset.
#[derive(Debug)]
pub struct CaptureError {
    /// The file (as given to `open`, or the name given to `open_reader`).
    pub file: String,
    /// Byte offset of the offending header or record; `None` when the file could not be opened.
    pub offset: Option<u64>,
    pub kind: CaptureErrorKind,
}

#[derive(Debug)]
pub enum CaptureErrorKind {
    /// The file could not be opened.
    Open(io::Error),
    /// A read failed.
    Io(io::Error),
    /// The first four bytes are no pcap or pcapng magic (read big-endian).
    BadMagic(u32),
    /// The file ends inside its file header (this many bytes in all).
    ShortHeader { len: u64 },
    /// A pcap version other than 2.x, or a pcapng section version other than 1.x.
    UnsupportedVersion { major: u16, minor: u16 },
    /// A record's captured length is beyond `MAX_CAPLEN` (or the block cannot hold it).
    RecordTooLarge { len: u32, limit: u32 },
    /// A mapped file shrank while it was being read (see `mapped`).
    Shrunk,
    /// A pcapng block whose total length is impossible.
    BadBlockLength { block_type: u32, len: u32 },
    /// A pcapng block whose trailing length differs from its leading one.
    BlockTrailerMismatch { len: u32, trailer: u32 },
    /// A pcapng section header with an unknown byte-order magic.
    BadByteOrderMagic(u32),
    /// A pcapng packet block names an interface that was not described.
    UnknownInterface { id: u32 },
    /// A pcapng interface with a timestamp resolution ravn cannot represent.
    BadTsResolution(u8),
}

impl fmt::Display for CaptureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use CaptureErrorKind as K;
        let off = self.offset.unwrap_or(0);
        write!(f, "{}: ", self.file)?;
        match &self.kind {
            K::Open(e) => write!(f, "cannot open: {e}"),
            K::Io(e) => write!(f, "read error ({e} at byte offset {off})"),
            K::BadMagic(m) => write!(
                f,
                "not a pcap or pcapng file (bad magic 0x{m:08x} at byte offset {off})"
            ),
            K::ShortHeader { len } => write!(
                f,
                "not a pcap or pcapng file (only {len} bytes, file header incomplete at byte offset {off})"
            ),
            K::UnsupportedVersion { major, minor } => write!(
                f,
                "unsupported format version {major}.{minor} (header at byte offset {off})"
            ),
            K::RecordTooLarge { len, limit } => write!(
                f,
                "record length {len} exceeds the limit of {limit} bytes (record at byte offset {off})"
            ),
            K::Shrunk => write!(
                f,
                "the file shrank while it was being read (at byte offset {off}); stopped there"
            ),
            K::BadBlockLength { block_type, len } => write!(
                f,
                "invalid length {len} for pcapng block type 0x{block_type:08x} (block at byte offset {off})"
            ),
            K::BlockTrailerMismatch { len, trailer } => write!(
                f,
                "pcapng block trailer length {trailer} differs from its length {len} (block at byte offset {off})"
            ),
            K::BadByteOrderMagic(m) => write!(
                f,
                "bad pcapng byte-order magic 0x{m:08x} (section header at byte offset {off})"
            ),
            K::UnknownInterface { id } => write!(
                f,
                "packet for undescribed interface {id} (block at byte offset {off})"
            ),
            K::BadTsResolution(r) => write!(
                f,
                "unsupported timestamp resolution 0x{r:02x} (interface block at byte offset {off})"
            ),
        }
    }
}

impl std::error::Error for CaptureError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            CaptureErrorKind::Open(e) | CaptureErrorKind::Io(e) => Some(e),
            _ => None,
        }
    }
}

/// Opens a pcap or pcapng file, telling them apart by their magic number.
pub fn open(path: &Path) -> Result<Box<dyn FrameSource>, CaptureError> {
    let name = path.display().to_string();
    let file = File::open(path).map_err(|e| CaptureError {
        file: name.clone(),
        offset: None,
        kind: CaptureErrorKind::Open(e),
    })?;
    sniff(Input::file(file, name))
}

/// Like `open`, over any reader (a socket, a `Cursor` in tests); `name` is used in messages.
pub fn open_reader<R: Read + Send + 'static>(
    reader: R,
    name: &str,
) -> Result<Box<dyn FrameSource>, CaptureError> {
    sniff(Input::new(reader, name.to_string(), 64 * 1024))
}

fn sniff<R: Read + Send + 'static>(
    mut input: Input<R>,
) -> Result<Box<dyn FrameSource>, CaptureError> {
    let mut magic = [0u8; 4];
    let n = input.fill(&mut magic)?;
    if n < magic.len() {
        return Err(input.error(0, CaptureErrorKind::ShortHeader { len: n as u64 }));
    }
    if pcapng::is_magic(magic) {
        Ok(Box::new(PcapngReader::from_input(input, magic)?))
    } else if pcap::is_magic(magic) {
        Ok(Box::new(PcapReader::from_input(input, magic)?))
    } else {
        Err(input.error(0, CaptureErrorKind::BadMagic(u32::from_be_bytes(magic))))
    }
}
