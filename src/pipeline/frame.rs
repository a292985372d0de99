//! The frame pool: fixed-size slots allocated once at start-up, used in place as the storage
//! of the capture → matcher ring.

use crate::capture::{Frame, LinkType, Timestamp};

/// One frame slot. The capture thread writes the frame's bytes into `buf` (at `off`, so a
/// TZSP datagram can be received whole and its frame used where it lies) and its metadata;
/// the matcher reads it through `frame()`.
pub struct FrameSlot {
    pub ts: Timestamp,
    pub link: LinkType,
    /// Where the frame starts in `buf`.
    pub off: u32,
    /// Captured length (from `off`).
    pub len: u32,
    /// Length on the wire.
    pub orig_len: u32,
    /// Position in the capture file for the pcap source (Suricata's `pcap_cnt`); 0 otherwise.
    pub pcap_cnt: u64,
    /// `Frame::offloaded`.
    pub offloaded: bool,
    pub buf: Box<[u8]>,
}

impl FrameSlot {
    pub fn new(size: usize) -> FrameSlot {
        FrameSlot {
            ts: Timestamp::default(),
            link: LinkType::Ethernet,
            off: 0,
            len: 0,
            orig_len: 0,
            pcap_cnt: 0,
            offloaded: false,
            buf: vec![0u8; size].into_boxed_slice(),
        }
    }

    /// The frame as the decoder takes it; never panics (a bad `off`/`len` gives an empty frame).
    pub fn frame(&self) -> Frame<'_> {
        let start = self.off as usize;
        let end = start.saturating_add(self.len as usize);
        Frame {
            ts: self.ts,
            link: self.link,
            data: self.buf.get(start..end).unwrap_or(&[]),
            orig_len: self.orig_len,
            offloaded: self.offloaded,
        }
    }

    /// Copies `data` in as the slot's frame; false (slot untouched) when it does not fit.
    pub fn fill(&mut self, ts: Timestamp, link: LinkType, data: &[u8], orig_len: u32) -> bool {
        let Some(dst) = self.buf.get_mut(..data.len()) else {
            return false;
        };
        dst.copy_from_slice(data);
        self.ts = ts;
        self.link = link;
        self.off = 0;
        self.len = data.len() as u32;
        self.orig_len = orig_len;
        self.pcap_cnt = 0;
        self.offloaded = false;
        true
    }
}

/// `count` slots of `size` bytes each (all memory touched now, so none is faulted in later
/// on the packet path).
pub fn pool(count: usize, size: usize) -> Vec<FrameSlot> {
    (0..count).map(|_| FrameSlot::new(size)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_rejects_oversize_and_frame_is_bounded() {
        let mut p = pool(2, 64);
        assert_eq!(p.len(), 2);
        let s = &mut p[0];
        assert!(s.fill(Timestamp::default(), LinkType::Raw, &[7u8; 64], 64));
        assert_eq!(s.frame().data.len(), 64);
        assert!(!s.fill(Timestamp::default(), LinkType::Raw, &[8u8; 65], 65));
        assert_eq!(s.frame().data, &[7u8; 64][..], "slot untouched");
        s.off = 60;
        s.len = 10; // past the end: empty, no panic
        assert!(s.frame().data.is_empty());
    }
}
