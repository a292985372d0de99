//! A capture file as a live source: `capture.source = "pcap"` runs the daemon's whole path
//! (rings, matcher thread, output thread) on a file, which must give what `ravn replay`
//! gives. Unlike the kernel sources it waits for free slots: a file loses nothing by waiting.

use std::path::Path;
use std::time::Duration;

use super::{LiveError, LiveSource, Poll};
use crate::capture::{self, FrameSource};
use crate::pipeline::counters::CaptureCounters as C;
use crate::pipeline::frame::FrameSlot;
use crate::pipeline::ring::Producer;

pub struct PcapFileSource {
    src: Box<dyn FrameSource>,
    max_frame: usize,
    count: u64,
}

impl PcapFileSource {
    pub fn open(path: &Path, frame_size: usize) -> Result<PcapFileSource, LiveError> {
        if path.as_os_str().is_empty() {
            return Err(LiveError(
                "capture.source = \"pcap\" needs capture.pcap.file".into(),
            ));
        }
        let src = capture::open(path).map_err(|e| LiveError(e.to_string()))?;
        Ok(PcapFileSource {
            src,
            max_frame: frame_size,
            count: 0,
        })
    }
}

impl LiveSource for PcapFileSource {
    fn poll(&mut self, ring: &mut Producer<FrameSlot>, c: &C) -> Result<Poll, LiveError> {
        if ring.free() == 0 {
            std::thread::sleep(Duration::from_micros(50));
            return Ok(Poll::Frames(0));
        }
        let mut n = 0;
        let mut end = false;
        {
            let (a, b) = ring.reserve(64);
            let mut slots = a.iter_mut().chain(b.iter_mut());
            let mut slot = slots.next();
            while let Some(s) = slot.take() {
                let f = match self.src.next_frame() {
                    Ok(Some(f)) => f,
                    Ok(None) => {
                        end = true;
                        break;
                    }
                    Err(e) => return Err(LiveError(e.to_string())),
                };
                self.count += 1;
                C::inc(&c.kernel_packets);
                if f.data.len() > self.max_frame || !s.fill(f.ts, f.link, f.data, f.orig_len) {
                    C::inc(&c.oversize);
                    slot = Some(s);
                    continue;
                }
                s.pcap_cnt = self.count;
                n += 1;
                slot = slots.next();
            }
        }
        ring.commit(n);
        if end {
            if let Some(off) = self.src.truncated() {
                log::warn!(
                    "{}: last record truncated at byte offset {off}; everything before it was processed",
                    self.src.name()
                );
            }
            return Ok(Poll::End);
        }
        Ok(Poll::Frames(n))
    }

    fn describe(&self) -> String {
        format!("pcap {}", self.src.name())
    }
}
