//! Application-layer protocol identification (what EVE reports as `app_proto`).
//!
//! Today this recognises DNS over UDP the way Suricata's probing parser does (port 53 on
//! either side and a payload that parses as a DNS message). App-layer parsers and their
//! rule keywords hang off the flow here later.

pub mod http;
pub mod tls;

/// Identify the application protocol of a UDP payload between `sp` and `dp`.
pub fn probe_udp(sp: u16, dp: u16, payload: &[u8]) -> Option<&'static str> {
    if (sp == 53 || dp == 53) && dns::looks_like_dns(payload) {
        return Some("dns");
    }
    None
}

mod dns {
    /// A DNS message: a 12-byte header and, when it announces questions, a first question
    /// whose name is well-formed labels followed by type and class.
    pub fn looks_like_dns(b: &[u8]) -> bool {
        if b.len() < 12 {
            return false;
        }
        let qdcount = u16::from_be_bytes([b[4], b[5]]);
        let opcode = (b[2] >> 3) & 0x0f;
        if opcode > 6 {
            return false;
        }
        if qdcount == 0 {
            // Suricata accepts responses without questions; require some records then.
            let rr = u16::from_be_bytes([b[6], b[7]]) as u32
                + u16::from_be_bytes([b[8], b[9]]) as u32
                + u16::from_be_bytes([b[10], b[11]]) as u32;
            return rr > 0;
        }
        let mut i = 12usize;
        let mut total = 0usize;
        loop {
            let Some(&len) = b.get(i) else { return false };
            if len == 0 {
                i += 1;
                break;
            }
            if len & 0xc0 == 0xc0 {
                // compression pointer: two bytes, ends the name
                if b.len() < i + 2 {
                    return false;
                }
                i += 2;
                break;
            }
            if len & 0xc0 != 0 {
                return false;
            }
            total += len as usize + 1;
            if total > 255 {
                return false;
            }
            i += 1 + len as usize;
        }
        b.len() >= i + 4
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn query_and_garbage() {
            let mut q = vec![0xbe, 0xef, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
            q.extend_from_slice(b"\x07example\x03com\x00\x00\x01\x00\x01");
            assert!(looks_like_dns(&q));
            assert!(!looks_like_dns(&q[..20]));
            assert!(!looks_like_dns(b"GET / HTTP/1.1\r\n"));
        }
    }
}
