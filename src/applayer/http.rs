//! HTTP/1.x message framing, only as far as TCP raw stream inspection needs it: Suricata's
//! HTTP parser (libhtp) triggers raw inspection of a direction's stream each time it
//! completes a request or a response (HTPCallbackRequestComplete / ResponseComplete). This
//! parser is fed a direction's bytes in order, in pieces of any size, keeps a few bytes of
//! state (no allocation) and counts completed messages. It does not extract anything.

/// Methods Suricata's HTTP protocol detection recognises at the start of a request.
const METHODS: &[&[u8]] = &[
    b"GET",
    b"POST",
    b"HEAD",
    b"PUT",
    b"DELETE",
    b"OPTIONS",
    b"CONNECT",
    b"TRACE",
    b"PATCH",
    b"PROPFIND",
    b"PROPPATCH",
    b"MKCOL",
    b"COPY",
    b"MOVE",
    b"LOCK",
    b"UNLOCK",
    b"SEARCH",
];

/// Whether a stream beginning with `start` is HTTP requests: Some(answer), or None while
/// too few bytes are known.
pub fn is_request_start(start: &[u8]) -> Option<bool> {
    for m in METHODS {
        let n = m.len() + 1;
        if start.len() < n {
            if m.starts_with(start) || start.starts_with(m) {
                return None;
            }
            continue;
        }
        if start.starts_with(m) && (start[m.len()] == b' ' || start[m.len()] == b'\t') {
            return Some(true);
        }
    }
    Some(false)
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum State {
    /// Before and in the start line.
    #[default]
    Start,
    Headers,
    Body,
    ChunkSize,
    ChunkData,
    ChunkEnd,
    Trailer,
    /// A response without length: it ends with the connection.
    UntilClose,
}

/// Bytes of each line kept (enough for the headers that frame a message).
const LINE: usize = 32;

#[derive(Debug, Clone, Copy, Default)]
pub struct HttpFramer {
    response: bool,
    state: State,
    line: [u8; LINE],
    line_len: u8,
    /// Bytes of body or chunk still to come.
    remaining: u64,
    content_length: Option<u64>,
    chunked: bool,
    status: u16,
}

impl HttpFramer {
    pub fn new(response: bool) -> HttpFramer {
        HttpFramer {
            response,
            ..Default::default()
        }
    }

    /// Consume `data`; returns the number of messages completed in it.
    pub fn feed(&mut self, mut data: &[u8]) -> u32 {
        let mut done = 0;
        while !data.is_empty() {
            match self.state {
                State::Body | State::ChunkData => {
                    let n = (self.remaining.min(data.len() as u64)) as usize;
                    self.remaining -= n as u64;
                    data = &data[n..];
                    if self.remaining == 0 {
                        if self.state == State::Body {
                            done += 1;
                            self.reset();
                        } else {
                            self.state = State::ChunkEnd;
                        }
                    }
                }
                State::UntilClose => return done,
                _ => {
                    let (take, eol) = match memchr::memchr(b'\n', data) {
                        Some(i) => (i + 1, true),
                        None => (data.len(), false),
                    };
                    for &b in &data[..take] {
                        if (self.line_len as usize) < LINE {
                            self.line[self.line_len as usize] = b.to_ascii_lowercase();
                            self.line_len += 1;
                        }
                    }
                    data = &data[take..];
                    if eol {
                        if self.line_done() {
                            done += 1;
                            self.reset();
                        }
                        self.line_len = 0;
                    }
                }
            }
        }
        done
    }

    fn reset(&mut self) {
        *self = HttpFramer::new(self.response);
    }

    /// A line ended; true when it completed a message.
    fn line_done(&mut self) -> bool {
        let mut l = &self.line[..self.line_len as usize];
        while let [rest @ .., b'\r' | b'\n'] = l {
            l = rest;
        }
        let empty = l.is_empty();
        match self.state {
            State::Start => {
                if !empty {
                    if self.response {
                        // "http/1.1 200 ..."
                        self.status = l
                            .get(9..12)
                            .and_then(|d| std::str::from_utf8(d).ok())
                            .and_then(|d| d.parse().ok())
                            .unwrap_or(0);
                    }
                    self.state = State::Headers;
                }
                false
            }
            State::Headers => {
                if empty {
                    return self.headers_done();
                }
                if let Some(v) = l.strip_prefix(b"content-length:") {
                    let v = v.trim_ascii();
                    self.content_length = std::str::from_utf8(v).ok().and_then(|v| v.parse().ok());
                } else if let Some(v) = l.strip_prefix(b"transfer-encoding:") {
                    if memchr::memmem::find(v, b"chunked").is_some() {
                        self.chunked = true;
                    }
                }
                false
            }
            State::ChunkSize => {
                let hex = l.split(|&b| b == b';').next().unwrap_or(&[]).trim_ascii();
                match std::str::from_utf8(hex)
                    .ok()
                    .and_then(|h| u64::from_str_radix(h, 16).ok())
                {
                    Some(0) => self.state = State::Trailer,
                    Some(n) => {
                        self.remaining = n;
                        self.state = State::ChunkData;
                    }
                    None => self.state = State::UntilClose,
                }
                false
            }
            State::ChunkEnd => {
                self.state = State::ChunkSize;
                false
            }
            State::Trailer => empty,
            State::Body | State::ChunkData | State::UntilClose => false,
        }
    }

    /// The empty line after the headers: true when the message has no body.
    fn headers_done(&mut self) -> bool {
        if self.response && (100..200).contains(&self.status) {
            // an interim response: the real one follows
            self.reset();
            return false;
        }
        if self.response && (self.status == 204 || self.status == 304) {
            return true;
        }
        if self.chunked {
            self.state = State::ChunkSize;
            return false;
        }
        match self.content_length {
            Some(0) => true,
            Some(n) => {
                self.remaining = n;
                self.state = State::Body;
                false
            }
            None if self.response => {
                self.state = State::UntilClose;
                false
            }
            None => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_responses_complete_in_any_pieces() {
        let req =
            b"GET / HTTP/1.1\r\nHost: a\r\n\r\nPOST /x HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello";
        for cut in 1..req.len() {
            let mut f = HttpFramer::new(false);
            let n = f.feed(&req[..cut]) + f.feed(&req[cut..]);
            assert_eq!(n, 2, "cut {cut}");
        }
        let resp = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\nHTTP/1.1 304 Not Modified\r\n\r\nHTTP/1.0 200 OK\r\n\r\nbody until close";
        for cut in 1..resp.len() {
            let mut f = HttpFramer::new(true);
            let n = f.feed(&resp[..cut]) + f.feed(&resp[cut..]);
            assert_eq!(n, 2, "cut {cut}");
        }
    }

    #[test]
    fn request_start_detection() {
        assert_eq!(is_request_start(b"GET /"), Some(true));
        assert_eq!(is_request_start(b"GE"), None);
        assert_eq!(is_request_start(b"\x16\x03\x01"), Some(false));
        assert_eq!(is_request_start(b"GETX"), Some(false));
    }
}
