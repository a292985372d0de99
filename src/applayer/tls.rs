//! TLS record framing as Suricata's SSL parser (`app-layer-ssl.c`, SSLv3Decode) walks a
//! direction's stream, reduced to what raw inspection depends on:
//!
//! - each complete record asks for raw inspection of its direction now (Suricata's
//!   AppLayerParserTriggerRawStreamReassembly on "record complete");
//! - the first application-data record with a byte of its body (not 0-RTT early data
//!   before the ServerHello) ends payload inspection for the flow: Suricata's default
//!   `encryption-handling` sets APP_LAYER_PARSER_NO_INSPECTION_PAYLOAD there, so `content`
//!   rules no longer see the encrypted bytes (see `TcpSession::no_payload`);
//! - what Suricata rejects as a parser error (a bad header, an empty or oversized record,
//!   an unknown record type, a first record with an invalid version) stops the walk, as
//!   the error disables Suricata's app layer for the flow.
//!
//! Record bodies are skipped, not read, except for the handshake bytes that say whether
//! the ClientHello offers early data (extension 42) and whether the server sent its
//! ServerHello (handshake type 2). Not modelled: SSLv2 records (a stream starting with
//! one is not taken for TLS), unknown record types that TLS 1.0/1.1 lets Suricata skip,
//! handshake message validation beyond the ClientHello's framing.

/// The record header's length.
const HDR: usize = 5;
/// Suricata's SSLV3_RECORD_MAX_LEN.
const RECORD_MAX: u32 = (1 << 14) + 1024;

const CHANGE_CIPHER_SPEC: u8 = 20;
const HANDSHAKE: u8 = 22;
const APPLICATION_DATA: u8 = 23;
const HEARTBEAT: u8 = 24;

/// The ClientHello's `early_data` extension.
const EXT_EARLY_DATA: u32 = 42;

/// The first bytes of a client's stream that Suricata's protocol detection takes for TLS
/// (its `|16 03 0X|` patterns, SSLv3 to TLS 1.2 record versions): Some(true/false), or
/// None while fewer than three bytes are there.
pub fn is_client_start(head: &[u8]) -> Option<bool> {
    match *head {
        [] | [HANDSHAKE] | [HANDSHAKE, 3] => None,
        [HANDSHAKE, 3, minor, ..] => Some(minor <= 3),
        _ => Some(false),
    }
}

/// Suricata's TLSVersionValid.
fn version_valid(v: u16) -> bool {
    matches!(
        v,
        0x0300..=0x0304
            | 0x7f01
            | 0x7f10..=0x7f1c
            | 0x7e02 // TLS 1.3 draft 20 (Facebook)
            | 0x7e03
            | 0x7e04
            | 0x7e05
            | 0x7e06
    )
}

/// What a stretch of the stream showed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Seen {
    /// Records completed (each asks for raw inspection).
    pub records: u32,
    /// An application-data record's body began.
    pub app_data: bool,
    /// The server's ServerHello (or HelloRetryRequest).
    pub server_hello: bool,
    /// The ClientHello offers early data (0-RTT).
    pub early_data: bool,
}

/// One direction's record walk.
#[derive(Debug, Clone, Copy, Default)]
pub struct TlsFramer {
    server: bool,
    hdr: [u8; HDR],
    hdr_len: u8,
    ctype: u8,
    /// Body bytes of the current record still to come.
    remaining: u32,
    /// A record header was taken already (only the first one's version is checked:
    /// Suricata keeps the direction's version from then on).
    started: bool,
    failed: bool,
    /// The client's handshake bytes, scanned for the ClientHello's extensions; the
    /// server's first handshake byte.
    hello: HelloScan,
}

impl TlsFramer {
    /// The walk of the server's (`server`) or the client's stream.
    pub fn new(server: bool) -> TlsFramer {
        TlsFramer {
            server,
            ..TlsFramer::default()
        }
    }

    pub fn failed(&self) -> bool {
        self.failed
    }

    /// Bytes that may be passed over without being read (the rest of a record body no
    /// handshake scan needs), at most `avail`.
    pub fn skippable(&self, avail: u64) -> u64 {
        if self.failed || usize::from(self.hdr_len) < HDR {
            return 0;
        }
        let needs_bytes = self.ctype == HANDSHAKE && !self.hello.done;
        if needs_bytes {
            return 0;
        }
        u64::from(self.remaining).min(avail)
    }

    /// Passes over `n` body bytes (at most `skippable`).
    pub fn skip(&mut self, n: u64) -> Seen {
        let mut seen = Seen::default();
        let n = (n as u32).min(self.remaining);
        if n == 0 {
            return seen;
        }
        seen.app_data = self.ctype == APPLICATION_DATA;
        self.remaining -= n;
        if self.remaining == 0 {
            self.end_record(&mut seen);
        }
        seen
    }

    /// Walks `data`, the next bytes of the direction; returns how many were taken (all,
    /// unless the walk reaches a stretch `skippable` covers, or fails) and what they showed.
    pub fn feed(&mut self, data: &[u8], seen: &mut Seen) -> usize {
        let mut at = 0;
        while at < data.len() && !self.failed {
            if usize::from(self.hdr_len) < HDR {
                let h = usize::from(self.hdr_len);
                let k = (HDR - h).min(data.len() - at);
                self.hdr[h..h + k].copy_from_slice(&data[at..at + k]);
                self.hdr_len += k as u8;
                at += k;
                if usize::from(self.hdr_len) == HDR {
                    self.header();
                }
                continue;
            }
            if self.skippable(1) > 0 {
                break;
            }
            // a handshake body the hello scan reads
            let k = (self.remaining as usize).min(data.len() - at);
            if self.server {
                self.hello.server(&data[at..at + k], seen);
            } else {
                self.hello.client(&data[at..at + k], seen);
            }
            self.remaining -= k as u32;
            at += k;
            if self.remaining == 0 {
                self.end_record(seen);
            }
        }
        at
    }

    /// A complete record header (SSLv3ParseRecord and SSLv3Decode's checks).
    fn header(&mut self) {
        let [ctype, v0, v1, l0, l1] = self.hdr;
        let len = u32::from(u16::from_be_bytes([l0, l1]));
        let first = !self.started;
        self.started = true;
        let known = (CHANGE_CIPHER_SPEC..=HEARTBEAT).contains(&ctype);
        let bad_version = first && !version_valid(u16::from_be_bytes([v0, v1]));
        // a handshake record shorter than a handshake header is an error too
        let short_handshake = ctype == HANDSHAKE && len < 4;
        if !known || len == 0 || len > RECORD_MAX || bad_version || short_handshake {
            self.failed = true;
            return;
        }
        self.ctype = ctype;
        self.remaining = len;
    }

    fn end_record(&mut self, seen: &mut Seen) {
        seen.records += 1;
        self.hdr_len = 0;
    }
}

/// The client's ClientHello, walked field by field for its extension types (its framing is
/// what Suricata's TLSDecodeHandshakeHello reads); or the server's first handshake byte.
#[derive(Debug, Clone, Copy, Default)]
struct HelloScan {
    done: bool,
    field: Field,
    /// The field's value so far (big-endian) and how many of its bytes were read.
    acc: u32,
    got: u8,
    /// Bytes to pass over before the next field.
    skip: u32,
    /// Extension bytes still to come.
    ext_left: u32,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Field {
    #[default]
    MsgType,
    MsgLen,
    SessionIdLen,
    CiphersLen,
    CompressionLen,
    ExtensionsLen,
    ExtType,
    ExtLen,
}

impl HelloScan {
    fn server(&mut self, data: &[u8], seen: &mut Seen) {
        if let (false, Some(&t)) = (self.done, data.first()) {
            self.done = true;
            seen.server_hello |= t == 2;
        }
    }

    fn client(&mut self, data: &[u8], seen: &mut Seen) {
        let mut at = 0;
        while at < data.len() && !self.done {
            if self.skip > 0 {
                let k = (self.skip as usize).min(data.len() - at);
                self.skip -= k as u32;
                at += k;
                continue;
            }
            let width = match self.field {
                Field::MsgType | Field::SessionIdLen | Field::CompressionLen => 1,
                Field::MsgLen => 3,
                _ => 2,
            };
            self.acc = self.acc << 8 | u32::from(data[at]);
            self.got += 1;
            at += 1;
            if self.got < width {
                continue;
            }
            let v = std::mem::take(&mut self.acc);
            self.got = 0;
            self.next(v, seen);
        }
    }

    /// A field's value `v` read: what follows it.
    fn next(&mut self, v: u32, seen: &mut Seen) {
        use Field::*;
        match self.field {
            MsgType if v != 1 => self.done = true,
            MsgType => self.field = MsgLen,
            MsgLen => {
                // then the client version and the random
                self.skip = 2 + 32;
                self.field = SessionIdLen;
            }
            // the session id, the cipher suites and the compression methods: passed over
            SessionIdLen | CiphersLen | CompressionLen => {
                self.skip = v;
                self.field = match self.field {
                    SessionIdLen => CiphersLen,
                    CiphersLen => CompressionLen,
                    _ => ExtensionsLen,
                };
            }
            ExtensionsLen => {
                self.ext_left = v;
                self.field = ExtType;
                self.done = v == 0;
            }
            ExtType => {
                seen.early_data |= v == EXT_EARLY_DATA;
                self.field = ExtLen;
            }
            ExtLen => {
                self.skip = v;
                // type and length, then the data
                let used = 4 + v;
                self.ext_left = self.ext_left.saturating_sub(used);
                self.field = ExtType;
                self.done = self.ext_left == 0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(ctype: u8, body: &[u8]) -> Vec<u8> {
        let mut v = vec![ctype, 3, 3];
        v.extend_from_slice(&(body.len() as u16).to_be_bytes());
        v.extend_from_slice(body);
        v
    }

    fn client_hello(early: bool) -> Vec<u8> {
        let mut ext = vec![0, 0, 0, 4, 0, 2, 0xaa, 0xbb];
        if early {
            ext.extend_from_slice(&[0, 42, 0, 0]);
        }
        let mut body = vec![3, 3];
        body.extend_from_slice(&[0; 32]);
        body.extend_from_slice(&[1, 0x55, 0, 2, 0x13, 0x01, 1, 0]);
        body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
        body.extend_from_slice(&ext);
        let mut hs = vec![1, 0, 0, body.len() as u8];
        hs.extend_from_slice(&body);
        record(HANDSHAKE, &hs)
    }

    /// Walks `data` in pieces of `step` bytes, skipping what may be skipped, as
    /// `app_update` does; the sum of what was seen.
    fn walk(f: &mut TlsFramer, data: &[u8], step: usize) -> Seen {
        let mut total = Seen::default();
        let mut at = 0;
        let add = |s: Seen, t: &mut Seen| {
            t.records += s.records;
            t.app_data |= s.app_data;
            t.server_hello |= s.server_hello;
            t.early_data |= s.early_data;
        };
        while at < data.len() && !f.failed() {
            let k = f.skippable((data.len() - at) as u64) as usize;
            if k > 0 {
                let s = f.skip(k as u64);
                add(s, &mut total);
                at += k;
                continue;
            }
            let end = (at + step).min(data.len());
            let mut s = Seen::default();
            at += f.feed(&data[at..end], &mut s);
            add(s, &mut total);
        }
        total
    }

    #[test]
    fn records_early_data_and_application_data_in_any_pieces() {
        for step in [1, 2, 3, 7, 512] {
            let mut c = client_hello(true);
            c.extend(record(APPLICATION_DATA, b"0-rtt"));
            let mut f = TlsFramer::new(false);
            let s = walk(&mut f, &c, step);
            assert_eq!(
                (s.records, s.early_data, s.app_data, f.failed()),
                (2, true, true, false)
            );
            let s = walk(&mut TlsFramer::new(false), &client_hello(false), step);
            assert_eq!((s.records, s.early_data, s.app_data), (1, false, false));
            let mut srv = record(HANDSHAKE, &[2, 0, 0, 0]);
            srv.extend(record(CHANGE_CIPHER_SPEC, &[1]));
            let s = walk(&mut TlsFramer::new(true), &srv, step);
            assert_eq!((s.records, s.server_hello, s.app_data), (2, true, false));
        }
    }

    #[test]
    fn an_application_data_header_alone_is_not_application_data_yet() {
        let rec = record(APPLICATION_DATA, b"secret");
        let mut f = TlsFramer::new(true);
        let s = walk(&mut f, &rec[..5], 5);
        assert_eq!((s.records, s.app_data), (0, false));
        let s = walk(&mut f, &rec[5..6], 5);
        assert_eq!((s.records, s.app_data), (0, true));
        let s = walk(&mut f, &rec[6..], 5);
        assert_eq!(s.records, 1);
    }

    #[test]
    fn what_suricata_rejects_stops_the_walk() {
        let bad = [
            vec![25, 3, 3, 0, 1, 0],       // unknown record type
            vec![23, 3, 3, 0, 0],          // empty record
            vec![23, 3, 3, 0x44, 1],       // longer than 17 KiB
            vec![22, 3, 3, 0, 3, 1, 0, 0], // handshake record shorter than its header
            vec![23, 9, 9, 0, 1, 0],       // first record with an invalid version
        ];
        for b in bad {
            let mut f = TlsFramer::new(false);
            let s = walk(&mut f, &b, 512);
            assert!(f.failed() && !s.app_data, "{b:?}");
        }
        assert_eq!(is_client_start(b"\x16\x03\x01\x00"), Some(true));
        assert_eq!(is_client_start(b"\x16\x03\x04"), Some(false));
        assert_eq!(is_client_start(b"GET /"), Some(false));
        assert_eq!(is_client_start(b"\x16\x03"), None);
    }
}
