//! A small JSON writer that keeps fields in the order they are written (EVE's order is part
//! of its format) and escapes strings as Suricata's JsonBuilder does.

use std::fmt::Write;

/// Append `s` as a JSON string literal.
pub fn string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Append the base64 encoding of `bytes` (RFC 4648, padded) without allocating.
pub fn base64_into(out: &mut String, bytes: &[u8]) {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    out.reserve(bytes.len().div_ceil(3) * 4);
    for c in bytes.chunks(3) {
        let b = [c[0], *c.get(1).unwrap_or(&0), *c.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18u32, 12, 6, 0].into_iter().enumerate() {
            if i <= c.len() {
                out.push(A[((n >> shift) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
}

/// An object being written: `{"k":v,...}`.
pub struct Obj<'a> {
    out: &'a mut String,
    first: bool,
}

impl<'a> Obj<'a> {
    pub fn open(out: &'a mut String) -> Obj<'a> {
        out.push('{');
        Obj { out, first: true }
    }
    fn key(&mut self, k: &str) {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        string(self.out, k);
        self.out.push(':');
    }
    pub fn str(&mut self, k: &str, v: &str) -> &mut Self {
        self.key(k);
        string(self.out, v);
        self
    }
    pub fn u64(&mut self, k: &str, v: u64) -> &mut Self {
        self.key(k);
        let _ = write!(self.out, "{v}");
        self
    }
    pub fn i64(&mut self, k: &str, v: i64) -> &mut Self {
        self.key(k);
        let _ = write!(self.out, "{v}");
        self
    }
    pub fn bool(&mut self, k: &str, v: bool) -> &mut Self {
        self.key(k);
        self.out.push_str(if v { "true" } else { "false" });
        self
    }
    /// Write `bytes` as a base64 string (standard alphabet, padded), as Suricata's
    /// `jb_set_base64`.
    pub fn base64(&mut self, k: &str, bytes: &[u8]) -> &mut Self {
        self.key(k);
        self.out.push('"');
        base64_into(self.out, bytes);
        self.out.push('"');
        self
    }
    /// Write a raw, already-valid JSON value.
    pub fn raw(&mut self, k: &str, v: &str) -> &mut Self {
        self.key(k);
        self.out.push_str(v);
        self
    }
    /// Open a nested object under `k`; close it with `Obj::close`.
    pub fn obj(&mut self, k: &str) -> Obj<'_> {
        self.key(k);
        Obj::open(self.out)
    }
    /// A string array.
    pub fn strs<'s>(&mut self, k: &str, vs: impl IntoIterator<Item = &'s str>) -> &mut Self {
        self.key(k);
        self.out.push('[');
        for (i, v) in vs.into_iter().enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            string(self.out, v);
        }
        self.out.push(']');
        self
    }
    pub fn close(self) {
        self.out.push('}');
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_rfc4648_vectors() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            let mut s = String::new();
            super::base64_into(&mut s, i.as_bytes());
            assert_eq!(s, o);
        }
    }
    use super::*;

    #[test]
    fn escapes_like_suricata() {
        let mut s = String::new();
        string(&mut s, "fe80 \"q\" \\ x\n\u{1}/é");
        assert_eq!(s, r#""fe80 \"q\" \\ x\n\u0001/é""#);
    }

    #[test]
    fn nested_in_order() {
        let mut s = String::new();
        let mut o = Obj::open(&mut s);
        o.str("b", "x").u64("a", 1);
        let mut n = o.obj("n");
        n.bool("t", true);
        n.close();
        o.close();
        assert_eq!(s, r#"{"b":"x","a":1,"n":{"t":true}}"#);
    }
}
