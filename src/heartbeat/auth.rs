//! Authenticated heartbeat payloads: `PREFIX || counter || tag`, where the counter is 8 bytes
//! big-endian (the sender's clock in microseconds since the epoch, strictly increasing) and
//! the tag the first 16 bytes of HMAC-SHA256(key, PREFIX || counter).
//!
//! The payload still contains the prefix (`heartbeat_ping`), so the heartbeat rule matches it
//! unchanged. The sensor accepts a payload only when the tag checks, the counter is above the
//! last accepted one (a replayed ping is refused) and within `max-skew` of the packet's time
//! (a ping recorded and held back is refused after that long, also across a sensor restart).

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Bytes of the counter after the prefix.
pub const COUNTER_LEN: usize = 8;
/// Bytes of HMAC-SHA256 kept (128 bits).
pub const TAG_LEN: usize = 16;

type HmacSha256 = Hmac<Sha256>;

/// A heartbeat key, read from a file.
#[derive(Clone)]
pub struct Key(HmacSha256);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(..)")
    }
}

/// The shortest key accepted (bytes).
pub const MIN_KEY_LEN: usize = 16;

impl Key {
    pub fn from_bytes(b: &[u8]) -> Result<Key, String> {
        if b.len() < MIN_KEY_LEN {
            return Err(format!(
                "key is {} bytes; at least {MIN_KEY_LEN} are needed (e.g. `openssl rand -hex 32`)",
                b.len()
            ));
        }
        // HMAC takes keys of any length.
        HmacSha256::new_from_slice(b)
            .map(Key)
            .map_err(|e| e.to_string())
    }

    /// Reads a key file: its contents without surrounding whitespace (so `openssl rand -hex
    /// 32 > key` works). Errors name the file.
    pub fn load(path: &std::path::Path) -> Result<Key, String> {
        let raw = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let t = raw.trim_ascii();
        Key::from_bytes(t).map_err(|e| format!("{}: {e}", path.display()))
    }

    fn tag(&self, prefix: &[u8], counter: &[u8; COUNTER_LEN]) -> [u8; TAG_LEN] {
        let mut m = self.0.clone();
        m.update(prefix);
        m.update(counter);
        let full = m.finalize().into_bytes();
        let mut t = [0u8; TAG_LEN];
        t.copy_from_slice(&full[..TAG_LEN]);
        t
    }
}

/// The payload for `counter`: `prefix || counter || tag` (no key: the prefix alone).
pub fn payload(prefix: &[u8], key: Option<&Key>, counter: u64) -> Vec<u8> {
    let mut v = prefix.to_vec();
    if let Some(k) = key {
        let c = counter.to_be_bytes();
        v.extend_from_slice(&c);
        v.extend_from_slice(&k.tag(prefix, &c));
    }
    v
}

/// What the sensor made of a heartbeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// A good heartbeat (the counter, 0 without a key).
    Accepted(u64),
    /// A key is configured and the payload carries no counter and tag after the prefix.
    Unauthenticated,
    /// The tag does not check: wrong key or a forged payload.
    BadTag,
    /// The counter is not above the last accepted one.
    Replayed,
    /// The counter's time is further than `max-skew` from the packet's.
    Stale,
    /// The prefix is not in the payload (the rule matched something else).
    Malformed,
}

impl Verdict {
    /// The counter name of a rejection.
    pub fn reason(&self) -> &'static str {
        match self {
            Verdict::Accepted(_) => "accepted",
            Verdict::Unauthenticated => "unauthenticated",
            Verdict::BadTag => "bad_tag",
            Verdict::Replayed => "replayed",
            Verdict::Stale => "stale",
            Verdict::Malformed => "malformed",
        }
    }
}

/// The sensor side: checks payloads, remembers the last accepted counter. No allocation.
#[derive(Debug, Clone)]
pub struct Verifier {
    prefix: Vec<u8>,
    key: Option<Key>,
    last: u64,
    max_skew_us: u64,
}

impl Verifier {
    pub fn new(prefix: &[u8], key: Option<Key>, max_skew_secs: u64) -> Verifier {
        Verifier {
            prefix: prefix.to_vec(),
            key,
            last: 0,
            max_skew_us: max_skew_secs.saturating_mul(1_000_000),
        }
    }

    pub fn authenticated(&self) -> bool {
        self.key.is_some()
    }

    /// The last accepted counter (0: none yet).
    pub fn last_counter(&self) -> u64 {
        self.last
    }

    /// Continue after an earlier run's last accepted counter.
    pub fn set_last_counter(&mut self, c: u64) {
        self.last = c;
    }

    /// Checks the ICMP payload of a heartbeat seen at `now_us` (µs since the epoch).
    pub fn verify(&mut self, payload: &[u8], now_us: u64) -> Verdict {
        let Some(at) = memchr::memmem::find(payload, &self.prefix) else {
            return Verdict::Malformed;
        };
        let Some(key) = &self.key else {
            return Verdict::Accepted(0);
        };
        let rest = payload.get(at + self.prefix.len()..).unwrap_or(&[]);
        let (Some(c), Some(tag)) = (
            rest.get(..COUNTER_LEN),
            rest.get(COUNTER_LEN..COUNTER_LEN + TAG_LEN),
        ) else {
            return Verdict::Unauthenticated;
        };
        let mut cb = [0u8; COUNTER_LEN];
        cb.copy_from_slice(c);
        let want = key.tag(&self.prefix, &cb);
        // constant time: the comparison does not tell how many bytes matched
        if want.iter().zip(tag).fold(0u8, |acc, (a, b)| acc | (a ^ b)) != 0 {
            return Verdict::BadTag;
        }
        let counter = u64::from_be_bytes(cb);
        if counter <= self.last {
            return Verdict::Replayed;
        }
        if self.max_skew_us > 0 && counter.abs_diff(now_us) > self.max_skew_us {
            return Verdict::Stale;
        }
        self.last = counter;
        Verdict::Accepted(counter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: &[u8] = b"heartbeat_ping";

    fn key(s: &str) -> Key {
        Key::from_bytes(s.as_bytes()).unwrap()
    }

    #[test]
    fn accepts_good_rejects_forged_replayed_stale() {
        let k = key("0123456789abcdef0123");
        let now = 1_700_000_000_000_000u64;
        let mut v = Verifier::new(P, Some(k.clone()), 300);
        let p1 = payload(P, Some(&k), now);
        assert!(p1.starts_with(P));
        assert_eq!(p1.len(), P.len() + COUNTER_LEN + TAG_LEN);
        assert_eq!(v.verify(&p1, now + 5), Verdict::Accepted(now));
        // the same bytes again
        assert_eq!(v.verify(&p1, now + 10), Verdict::Replayed);
        // an older counter with a good tag
        let older = payload(P, Some(&k), now - 1);
        assert_eq!(v.verify(&older, now + 10), Verdict::Replayed);
        // signed with another key
        let other = payload(P, Some(&key("another key, 16+ bytes")), now + 1);
        assert_eq!(v.verify(&other, now + 10), Verdict::BadTag);
        // one bit of the counter flipped
        let mut flipped = payload(P, Some(&k), now + 2);
        flipped[P.len() + 7] ^= 1;
        assert_eq!(v.verify(&flipped, now + 10), Verdict::BadTag);
        // plain ping while a key is configured
        assert_eq!(v.verify(P, now), Verdict::Unauthenticated);
        // truncated tag
        let p2 = payload(P, Some(&k), now + 3);
        assert_eq!(v.verify(&p2[..p2.len() - 1], now), Verdict::Unauthenticated);
        // far from the packet time
        let late = payload(P, Some(&k), now + 1000);
        assert_eq!(v.verify(&late, now + 1000 + 301_000_000), Verdict::Stale);
        // nothing was accepted by the rejections
        assert_eq!(v.last_counter(), now);
        let p3 = payload(P, Some(&k), now + 2_000_000);
        assert_eq!(
            v.verify(&p3, now + 2_000_000),
            Verdict::Accepted(now + 2_000_000)
        );
        // prefix elsewhere in the payload (ping pads, a leading pattern)
        let mut padded = b"\x00\x01junk".to_vec();
        padded.extend(payload(P, Some(&k), now + 3_000_000));
        assert_eq!(
            v.verify(&padded, now + 3_000_000),
            Verdict::Accepted(now + 3_000_000)
        );
        assert_eq!(v.verify(b"no prefix", now), Verdict::Malformed);
    }

    #[test]
    fn without_key_any_payload_with_the_prefix_counts() {
        let mut v = Verifier::new(P, None, 300);
        assert_eq!(v.verify(b"xxheartbeat_pingyy", 0), Verdict::Accepted(0));
        assert_eq!(v.verify(b"heartbeat_pin", 0), Verdict::Malformed);
    }

    #[test]
    fn short_keys_are_refused() {
        assert!(Key::from_bytes(b"short").unwrap_err().contains("16"));
    }
}
