//! Byte-exact emulations of the C library and Suricata helpers the rule parser relies on
//! (`isblank`, `isspace`, `strtoull`, `strtoll`, `ByteExtractString`, `StringParseU*`), so
//! that ravn accepts and rejects exactly the numeric forms Suricata 7.0 does.

/// C `isblank`: space or tab.
#[inline]
pub fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// C `isspace` in the "C" locale.
#[inline]
pub fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// Trim C-`isblank` characters from both ends.
pub fn trim_blank(s: &[u8]) -> &[u8] {
    let mut a = 0;
    let mut b = s.len();
    while a < b && is_blank(s[a]) {
        a += 1;
    }
    while b > a && is_blank(s[b - 1]) {
        b -= 1;
    }
    &s[a..b]
}

/// Trim C-`isspace` characters from both ends.
pub fn trim_space(s: &[u8]) -> &[u8] {
    let mut a = 0;
    let mut b = s.len();
    while a < b && is_space(s[a]) {
        a += 1;
    }
    while b > a && is_space(s[b - 1]) {
        b -= 1;
    }
    &s[a..b]
}

fn digit_val(b: u8) -> Option<u32> {
    match b {
        b'0'..=b'9' => Some((b - b'0') as u32),
        b'a'..=b'z' => Some((b - b'a') as u32 + 10),
        b'A'..=b'Z' => Some((b - b'A') as u32 + 10),
        _ => None,
    }
}

/// Result of a `strto*` call: the value, how many bytes were consumed (0 when no number was
/// found, like `endptr == nptr`), and whether it overflowed (`errno == ERANGE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StrTo<T> {
    pub value: T,
    pub consumed: usize,
    pub range_error: bool,
}

/// Shared digit scanner: returns (negative, magnitude, overflowed-u64, consumed).
fn scan(s: &[u8], base: u32) -> (bool, u64, bool, usize) {
    let mut i = 0;
    while i < s.len() && is_space(s[i]) {
        i += 1;
    }
    let mut neg = false;
    if i < s.len() && (s[i] == b'+' || s[i] == b'-') {
        neg = s[i] == b'-';
        i += 1;
    }
    let mut base = base;
    let hex_prefix = |j: usize| {
        j + 2 < s.len()
            && s[j] == b'0'
            && (s[j + 1] == b'x' || s[j + 1] == b'X')
            && digit_val(s[j + 2]).is_some_and(|d| d < 16)
    };
    if base == 0 {
        if hex_prefix(i) {
            base = 16;
            i += 2;
        } else if i < s.len() && s[i] == b'0' {
            base = 8;
        } else {
            base = 10;
        }
    } else if base == 16 && hex_prefix(i) {
        i += 2;
    }
    let start = i;
    let mut v: u64 = 0;
    let mut over = false;
    while i < s.len() {
        match digit_val(s[i]) {
            Some(d) if d < base => {
                match v
                    .checked_mul(base as u64)
                    .and_then(|x| x.checked_add(d as u64))
                {
                    Some(n) => v = n,
                    None => over = true,
                }
                i += 1;
            }
            _ => break,
        }
    }
    if i == start {
        return (false, 0, false, 0);
    }
    (neg, v, over, i)
}

/// glibc `strtoull` (== `strtoul` on LP64).
pub fn strtoull(s: &[u8], base: u32) -> StrTo<u64> {
    let (neg, v, over, consumed) = scan(s, base);
    if consumed == 0 {
        return StrTo {
            value: 0,
            consumed: 0,
            range_error: false,
        };
    }
    if over {
        return StrTo {
            value: u64::MAX,
            consumed,
            range_error: true,
        };
    }
    let value = if neg { v.wrapping_neg() } else { v };
    StrTo {
        value,
        consumed,
        range_error: false,
    }
}

/// glibc `strtoll`.
pub fn strtoll(s: &[u8], base: u32) -> StrTo<i64> {
    let (neg, v, over, consumed) = scan(s, base);
    if consumed == 0 {
        return StrTo {
            value: 0,
            consumed: 0,
            range_error: false,
        };
    }
    if neg {
        if over || v > (i64::MAX as u64) + 1 {
            return StrTo {
                value: i64::MIN,
                consumed,
                range_error: true,
            };
        }
        StrTo {
            value: (v as i64).wrapping_neg(),
            consumed,
            range_error: false,
        }
    } else {
        if over || v > i64::MAX as u64 {
            return StrTo {
                value: i64::MAX,
                consumed,
                range_error: true,
            };
        }
        StrTo {
            value: v as i64,
            consumed,
            range_error: false,
        }
    }
}

/// Suricata `ByteExtractString(res, base, len, str, strict)`.
pub fn byte_extract_string(s: &[u8], base: u32, len: usize, strict: bool) -> Option<u64> {
    if len > 23 {
        return None;
    }
    let s = if len > 0 { &s[..len.min(s.len())] } else { s };
    let r = strtoull(s, base);
    if r.range_error || r.consumed == 0 {
        return None;
    }
    if strict && r.consumed != s.len() {
        return None;
    }
    Some(r.value)
}

/// Suricata `ByteExtractStringSigned(res, base, len, str, strict)`.
pub fn byte_extract_string_signed(s: &[u8], base: u32, len: usize, strict: bool) -> Option<i64> {
    if len > 23 {
        return None;
    }
    let s = if len > 0 { &s[..len.min(s.len())] } else { s };
    let r = strtoll(s, base);
    if r.range_error || r.consumed == 0 {
        return None;
    }
    if strict && r.consumed != s.len() {
        return None;
    }
    Some(r.value)
}

/// Suricata `StringParseUint64` and friends (strict): value must fit `max`.
pub fn string_parse_u(s: &[u8], base: u32, len: usize, max: u64) -> Option<u64> {
    let v = byte_extract_string(s, base, len, true)?;
    if v > max {
        return None;
    }
    Some(v)
}

/// `StringParseUint16`.
pub fn parse_u16(s: &[u8], base: u32) -> Option<u16> {
    string_parse_u(s, base, 0, u16::MAX as u64).map(|v| v as u16)
}

/// `StringParseUint32`.
pub fn parse_u32(s: &[u8], base: u32) -> Option<u32> {
    string_parse_u(s, base, 0, u32::MAX as u64).map(|v| v as u32)
}

/// `StringParseUint8`.
pub fn parse_u8(s: &[u8], base: u32) -> Option<u8> {
    string_parse_u(s, base, 0, u8::MAX as u64).map(|v| v as u8)
}

/// `StringParseI32RangeCheck(res, base, 0, str, min, max)`.
pub fn parse_i32_range(s: &[u8], base: u32, min: i32, max: i32) -> Option<i32> {
    let v = byte_extract_string_signed(s, base, 0, true)?;
    if v < min as i64 || v > max as i64 {
        return None;
    }
    Some(v as i32)
}

/// `StringParseU16RangeCheck(res, base, 0, str, min, max)`.
pub fn parse_u16_range(s: &[u8], base: u32, min: u16, max: u16) -> Option<u16> {
    let v = byte_extract_string(s, base, 0, true)?;
    if v < min as u64 || v > max as u64 {
        return None;
    }
    Some(v as u16)
}

/// Case-insensitive ASCII comparison (C `strcasecmp(a, b) == 0`).
#[inline]
pub fn eq_nocase(a: &[u8], b: &str) -> bool {
    a.eq_ignore_ascii_case(b.as_bytes())
}

/// Lossy text for messages.
pub fn show(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strtoull_forms() {
        assert_eq!(strtoull(b"  42", 10).value, 42);
        assert_eq!(strtoull(b"+42", 10).value, 42);
        assert_eq!(strtoull(b"-1", 10).value, u64::MAX);
        assert!(!strtoull(b"-1", 10).range_error);
        assert_eq!(strtoull(b"0x10", 0).value, 16);
        assert_eq!(strtoull(b"010", 0).value, 8);
        assert_eq!(strtoull(b"0x", 0).consumed, 1);
        assert_eq!(strtoull(b"0xg", 16).consumed, 1);
        assert_eq!(strtoull(b"abc", 10).consumed, 0);
        assert!(strtoull(b"99999999999999999999999", 10).range_error);
        assert_eq!(strtoull(b"18446744073709551615", 10).value, u64::MAX);
    }

    #[test]
    fn strtoll_forms() {
        assert_eq!(strtoll(b"-5", 10).value, -5);
        assert!(strtoll(b"9223372036854775808", 10).range_error);
        assert_eq!(strtoll(b"-9223372036854775808", 10).value, i64::MIN);
    }

    #[test]
    fn byte_extract() {
        assert_eq!(byte_extract_string(b"12", 10, 0, true), Some(12));
        assert_eq!(byte_extract_string(b"12 ", 10, 0, true), None);
        assert_eq!(byte_extract_string(b"12 ", 10, 0, false), Some(12));
        assert_eq!(byte_extract_string(b"", 10, 0, true), None);
        assert_eq!(parse_u16(b"65536", 10), None);
        assert_eq!(parse_u16(b"65535", 10), Some(65535));
        assert_eq!(parse_i32_range(b"-3", 0, -5, 5), Some(-3));
        assert_eq!(parse_i32_range(b"-6", 0, -5, 5), None);
    }
}
