//! TCP raw stream reassembly, as Suricata 7's stream engine keeps it for detection (IDS
//! mode): each TCP flow's session (`session.rs`: states, sides, which packets' data go into
//! the stream), each side's data by stream offset (`buffer.rs`) in blocks of one
//! preallocated pool (`pool.rs`, `stream.reassembly.memcap`), and the rules that decide when
//! detection inspects the stream (here): once acknowledged data reaches the chunk size, at
//! once after the depth is reached or when the session is closing, and everything left at
//! the end of the flow (Suricata's pseudo packets).

pub mod buffer;
pub mod pool;
pub mod session;

use crate::flow::Direction;
pub use buffer::{RawChunks, StreamBuf, MAX_CHUNKS};
pub use session::{Pickup, SsnState, TcpSession};

/// Suricata's default `stream.reassembly.memcap`.
pub const DEFAULT_REASSEMBLY_MEMCAP: u64 = 256 << 20;
/// Suricata's default `stream.reassembly.depth`.
pub const DEFAULT_DEPTH: u32 = 1 << 20;
/// Suricata's default `stream.reassembly.toserver-chunk-size` / `toclient-chunk-size`.
pub const DEFAULT_CHUNK_SIZE: u32 = 2560;

/// The resolved reassembly settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamSettings {
    pub reassembly_memcap: u64,
    /// 0: unlimited.
    pub depth: u32,
    pub toserver_chunk_size: u32,
    pub toclient_chunk_size: u32,
}

impl Default for StreamSettings {
    fn default() -> Self {
        StreamSettings {
            reassembly_memcap: DEFAULT_REASSEMBLY_MEMCAP,
            depth: DEFAULT_DEPTH,
            toserver_chunk_size: DEFAULT_CHUNK_SIZE,
            toclient_chunk_size: DEFAULT_CHUNK_SIZE,
        }
    }
}

/// Reassembly counters (Suricata's `tcp.*` names where one fits).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamStats {
    /// `tcp.sessions`
    pub sessions: u64,
    /// `tcp.segment_memcap_drop`: segments not stored for want of pool memory.
    pub memcap_drop: u64,
    /// `tcp.overlap`: segments overlapping data already received.
    pub overlap: u64,
    /// `tcp.reassembly_gap`: gaps the raw inspection skipped.
    pub gap: u64,
    /// `tcp.stream_depth_reached`
    pub depth_reached: u64,
    /// Segments dropped because a stream already had `buffer::MAX_RANGES` separate
    /// pieces (reported within `tcp.segment_memcap_drop`).
    pub ranges_drop: u64,
}

/// The pool and the settings, owned by the flow table.
pub struct StreamEngine {
    pub pool: pool::BlockPool,
    pub depth: u32,
    pub toserver_chunk_size: u32,
    pub toclient_chunk_size: u32,
    pub stats: StreamStats,
}

impl StreamEngine {
    pub fn new(s: &StreamSettings) -> StreamEngine {
        StreamEngine {
            pool: pool::BlockPool::new(s.reassembly_memcap),
            depth: s.depth,
            toserver_chunk_size: s.toserver_chunk_size,
            toclient_chunk_size: s.toclient_chunk_size,
            stats: StreamStats::default(),
        }
    }

    /// `tcp.reassembly_memuse`
    pub fn memuse(&self) -> u64 {
        self.pool.memuse()
    }

    /// Suricata's StreamReassembleRawHasDataReady for a packet going `dir` (the stream of
    /// that direction), `pseudo` for the end-of-flow packets: uninspected data, and the
    /// limit reached (StreamTcpReassembleRawCheckLimit).
    pub fn raw_ready(&self, ssn: &TcpSession, dir: Direction, pseudo: bool) -> bool {
        // a real packet needs an established session (PKT_STREAM_EST); pseudo packets
        // carry the flag whatever the state
        if ssn.state < SsnState::Established && !pseudo {
            return false;
        }
        let s = ssn.stream(dir);
        if s.raw_disabled || !s.has_uninspected() {
            return false;
        }
        // Suricata's STREAMTCP_STREAM_FLAG_FLUSH_FLAGS (depth reached, app-layer trigger,
        // raw inspection about to end), its states past TIME_WAIT, and pseudo packets
        if s.depth_reached
            || s.trigger_raw
            || s.new_raw_disabled
            || ssn.state > SsnState::TimeWait
            || pseudo
        {
            return true;
        }
        let chunk = match dir {
            Direction::ToServer => self.toserver_chunk_size,
            Direction::ToClient => self.toclient_chunk_size,
        };
        s.last_ack_abs().saturating_sub(s.raw_progress) >= u64::from(chunk)
    }

    /// The data raw inspection sees now (see `StreamBuf::raw_chunks`).
    pub fn raw_chunks(
        &self,
        ssn: &TcpSession,
        dir: Direction,
        eof: bool,
        scratch: &mut [u8],
    ) -> RawChunks {
        ssn.stream(dir).raw_chunks(&self.pool, eof, scratch)
    }

    /// After detection inspected `c`: move the raw progress.
    pub fn commit(&mut self, ssn: &mut TcpSession, dir: Direction, c: &RawChunks) {
        self.stats.gap += u64::from(c.gaps);
        ssn.stream_mut(dir)
            .set_raw_progress(&mut self.pool, c.progress);
    }

    /// Which directions get a pseudo packet when the flow ends (Suricata's
    /// FlowForceReassemblyNeedReassembly): both while the session is open, else those
    /// with data not inspected yet. [to_server, to_client]
    pub fn needs_flush(&self, ssn: &TcpSession) -> [bool; 2] {
        if ssn.state >= SsnState::Established && ssn.state != SsnState::Closed {
            return [true, true];
        }
        // (before the handshake completed only TCP Fast Open data can be there)
        [ssn.client.has_uninspected(), ssn.server.has_uninspected()]
    }

    /// The flow ends: its blocks go back to the pool.
    pub fn release(&mut self, ssn: &mut TcpSession) {
        ssn.client.clear(&mut self.pool);
        ssn.server.clear(&mut self.pool);
    }
}

#[cfg(test)]
mod tests;
