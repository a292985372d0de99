//! A TCP session as Suricata's stream engine tracks it, reduced to what raw stream
//! inspection depends on: its states (the order matters: Suricata flushes the raw stream
//! on every packet once the state is past TIME_WAIT), each side's stream, what each side
//! acknowledged, and which packets' data go into the stream (PKT_STREAM_ADD).
//!
//! One-sided (async) sessions follow Suricata's `stream.async-oneside`: data is taken as
//! acknowledged once it is seen, since the side that would acknowledge it is not there.
//!
//! A RST ends the session only at the sender's next sequence number (`rst_acceptable`).
//!
//! Not modelled: window and timestamp validation (so neither a RST's acknowledgement number
//! nor PAWS), SACK, 4-way handshakes, host OS policies other than Suricata's default (BSD).

use super::buffer::{Insert, StreamBuf};
use super::pool::BlockPool;
use super::StreamEngine;
use crate::applayer::http::{self, HttpFramer};
use crate::decode::packet::tcpflag::*;
use crate::decode::TcpHdr;
use crate::flow::Direction;

/// Suricata's `TcpState`, in its order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum SsnState {
    #[default]
    None,
    SynSent,
    SynRecv,
    Established,
    FinWait1,
    FinWait2,
    TimeWait,
    LastAck,
    CloseWait,
    Closing,
    Closed,
}

/// What the app-layer made of the session (only HTTP matters to raw inspection).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum App {
    #[default]
    Unknown,
    Http,
    Other,
}

/// Suricata's StreamTcpValidateRst under its default host OS policy (BSD): a RST is taken
/// only at the sender's next sequence number exactly (`next_seq`: what the sender's side
/// has reached, 0 while it has sent nothing); in a one-sided session, where what the sender
/// sent may not all have been seen, at or past it. A RST anywhere else (a blind injection,
/// or one the receiver would discard as out of window) leaves the session as it was, and
/// the packet is still inspected.
pub fn rst_acceptable(next_seq: u32, seq: u32, one_sided: bool) -> bool {
    if one_sided {
        (seq.wrapping_sub(next_seq) as i32) >= 0
    } else {
        seq == next_seq
    }
}

/// Which sessions the engine takes up without having seen their start: Suricata's
/// `stream.midstream` and `stream.async-oneside`, as the flow table resolved them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pickup {
    /// A session whose first packet is not a SYN (`stream.midstream`).
    pub midstream: bool,
    /// A session whose first packet is a SYN/ACK: midstream or async pickup, and a
    /// midstream policy that lets the session be picked up (ignore or pass-flow). The flow
    /// table turns such a flow around: the SYN/ACK goes to the client.
    pub synack: bool,
    /// Sessions may be one-sided (`stream.async-oneside`).
    pub async_oneside: bool,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct TcpSession {
    pub state: SsnState,
    pub app: App,
    /// The client's data (to_server).
    pub client: StreamBuf,
    /// The server's data (to_client).
    pub server: StreamBuf,
    /// Suricata's STREAMTCP_FLAG_ASYNC: only one side is seen, so each side's data counts
    /// as acknowledged once received. Cleared when both sides have sent a packet.
    pub one_sided: bool,
    /// The sides that sent a packet with flags once the session existed (1: the client,
    /// 2: the server; Suricata's per-stream `tcp_flags`).
    sent: u8,
}

impl TcpSession {
    pub fn stream(&self, dir: Direction) -> &StreamBuf {
        match dir {
            Direction::ToServer => &self.client,
            Direction::ToClient => &self.server,
        }
    }

    pub fn stream_mut(&mut self, dir: Direction) -> &mut StreamBuf {
        match dir {
            Direction::ToServer => &mut self.client,
            Direction::ToClient => &mut self.server,
        }
    }

    /// Track one packet. Returns whether its payload was added to the stream
    /// (Suricata's PKT_STREAM_ADD).
    pub fn packet(
        &mut self,
        eng: &mut StreamEngine,
        dir: Direction,
        t: &TcpHdr,
        payload: &[u8],
        pickup: Pickup,
    ) -> bool {
        let syn = t.flags & SYN != 0;
        let ack = t.flags & ACK != 0;
        let fin = t.flags & FIN != 0;
        let rst = t.flags & RST != 0;
        let len = payload.len() as u32;
        if self.state != SsnState::None && t.flags != 0 {
            self.sent |= match dir {
                Direction::ToServer => 1,
                Direction::ToClient => 2,
            };
            if self.sent == 3 {
                self.one_sided = false;
            }
        }
        match self.state {
            SsnState::None => {
                if syn && !ack && dir == Direction::ToServer {
                    self.client.reset(&mut eng.pool, t.seq);
                    self.state = SsnState::SynSent;
                    self.one_sided = pickup.async_oneside;
                    eng.stats.sessions += 1;
                    // TCP Fast Open: the SYN's data is the stream's first bytes (without
                    // the option, SYN data stays out of the stream)
                    if t.tfo {
                        let seq = t.seq.wrapping_add(1);
                        self.client.update_next_seq(seq.wrapping_add(len));
                        return self.insert_only(eng, dir, seq, payload);
                    }
                    return false;
                }
                if syn && ack && !rst && pickup.synack {
                    // SYN/ACK pickup: the flow table turned the flow around, so this
                    // packet goes to the client; the handshake's last ACK is still to come
                    self.server.reset(&mut eng.pool, t.seq);
                    self.client.reset(&mut eng.pool, t.ack.wrapping_sub(1));
                    self.state = SsnState::SynRecv;
                    self.one_sided = pickup.async_oneside;
                    eng.stats.sessions += 1;
                    return false;
                }
                if !pickup.midstream || rst || syn {
                    return false;
                }
                // midstream pickup: both sides start here
                self.client.reset(&mut eng.pool, t.seq.wrapping_sub(1));
                let srv = if ack { t.ack } else { 0 };
                self.server.reset(&mut eng.pool, srv.wrapping_sub(1));
                self.state = SsnState::Established;
                self.one_sided = pickup.async_oneside;
                eng.stats.sessions += 1;
                if dir == Direction::ToClient {
                    std::mem::swap(&mut self.client, &mut self.server);
                }
            }
            SsnState::SynSent => {
                if syn && ack && dir == Direction::ToClient {
                    self.server.reset(&mut eng.pool, t.seq);
                    self.client.update_ack(t.ack);
                    self.state = SsnState::SynRecv;
                } else if pickup.async_oneside
                    && ack
                    && !syn
                    && !rst
                    && !fin
                    && dir == Direction::ToServer
                    && t.seq == self.client.next_seq
                {
                    // the client's ACK without a SYN/ACK seen: one-sided from here
                    // (Suricata's StreamTcpPacketStateSynSent, ASYNC). The data stays
                    // unacknowledged until the next packet moves next_seq.
                    self.one_sided = true;
                    self.state = SsnState::Established;
                    self.server.reset(&mut eng.pool, t.ack.wrapping_sub(1));
                    self.client.last_ack = t.seq;
                    return self.insert_only(eng, dir, t.seq, payload);
                } else if rst
                    && dir == Direction::ToClient
                    && rst_acceptable(self.server.next_seq, t.seq, self.one_sided)
                {
                    // the server refuses the connection (Suricata's StreamTcpPacketStateSynSent;
                    // a RST from the client there never closes: it would need its ISN and
                    // next_seq at once)
                    self.state = SsnState::Closed;
                }
                return false;
            }
            SsnState::SynRecv => {
                if dir == Direction::ToServer
                    && ack
                    && !syn
                    && !rst
                    && t.ack == self.server.next_seq
                    && (t.seq.wrapping_sub(self.client.next_seq) as i32) >= 0
                {
                    // the handshake's last ACK (or a later client packet, when the ACK
                    // was lost): it must acknowledge the SYN/ACK exactly; a packet that
                    // does not is left out of the session, which stays in SYN_RECV
                    self.state = SsnState::Established;
                } else if pickup.async_oneside
                    && dir == Direction::ToClient
                    && ack
                    && !syn
                    && !rst
                    && !fin
                    && t.seq == self.server.next_seq
                {
                    // the server goes on without the client's ACK: one-sided (Suricata's
                    // StreamTcpPacketStateSynRecv, ASYNC); next_seq moves, the ACK not yet
                    self.one_sided = true;
                    self.server.next_seq = self.server.next_seq.wrapping_add(len);
                    self.server.last_ack = t.seq;
                    self.client.last_ack = t.ack;
                    self.state = SsnState::Established;
                    return self.insert_only(eng, dir, t.seq, payload);
                } else {
                    if rst && self.rst_acceptable(dir, t.seq) {
                        self.state = SsnState::Closed;
                    }
                    return false;
                }
            }
            SsnState::Closed => return false,
            _ => {}
        }
        if rst {
            if self.rst_acceptable(dir, t.seq) {
                self.state = SsnState::Closed;
            }
            return false;
        }
        let end = t.seq.wrapping_add(len);
        let (own, other) = match dir {
            Direction::ToServer => (&mut self.client, &mut self.server),
            Direction::ToClient => (&mut self.server, &mut self.client),
        };
        // what the other side acknowledged before this packet (FIN handling below)
        let other_next = other.next_seq;
        if ack {
            other.update_ack(t.ack);
            // Suricata's app-layer sees a direction's data once the other side
            // acknowledged it (IDS mode)
            app_update(&mut self.app, other, &eng.pool, dir == Direction::ToClient);
        }
        let mut added = false;
        if len > 0 {
            // Suricata rejects a segment wholly before what the receiver acknowledged
            // (not in a one-sided session, where nobody acknowledges)
            let before_ack = (end.wrapping_sub(own.last_ack) as i32) < 0;
            if !before_ack || self.one_sided {
                let depth = eng.depth;
                added = own.insert(&mut eng.pool, &mut eng.stats, t.seq, payload, depth)
                    == Insert::Added;
            }
        }
        own.update_next_seq(end.wrapping_add(u32::from(fin)));
        if self.one_sided {
            // Suricata's StreamTcpAsyncLastAckUpdate: what was seen counts as acknowledged
            own.update_ack(own.next_seq);
        }
        let acks_fin = ack && t.ack == other_next;
        self.state = next_state(self.state, dir, fin, ack, acks_fin);
        added
    }
}

impl TcpSession {
    /// Whether a RST going `dir` at `seq` ends the session (see `rst_acceptable`).
    fn rst_acceptable(&self, dir: Direction, seq: u32) -> bool {
        rst_acceptable(self.stream(dir).next_seq, seq, self.one_sided)
    }

    /// Offer a packet's payload to its direction's stream, nothing else (the handshake
    /// branches that take data without moving sequence tracking).
    fn insert_only(
        &mut self,
        eng: &mut StreamEngine,
        dir: Direction,
        seq: u32,
        data: &[u8],
    ) -> bool {
        if data.is_empty() {
            return false;
        }
        let depth = eng.depth;
        self.stream_mut(dir)
            .insert(&mut eng.pool, &mut eng.stats, seq, data, depth)
            == Insert::Added
    }
}

/// Feed the app-layer the acknowledged data of `s` (the client's when `client`). HTTP is
/// recognised from the client's first bytes; each request or response the framer
/// completes triggers raw inspection of that direction, as libhtp's completion callbacks
/// do in Suricata. A hole, or data already released, ends app-layer parsing.
fn app_update(app: &mut App, s: &mut StreamBuf, pool: &BlockPool, client: bool) {
    let end = s.last_ack_abs().min(s.right_edge);
    if *app == App::Other || end <= s.app_progress {
        return;
    }
    if s.raw_progress > s.app_progress {
        *app = App::Other;
        return;
    }
    if *app == App::Unknown {
        if !client || s.app_progress != 0 {
            return;
        }
        let mut head = [0u8; 16];
        let n = (s.contiguous_end(0).min(end) as usize).min(head.len());
        s.read(pool, 0, &mut head[..n]);
        match http::is_request_start(&head[..n]) {
            Some(true) => *app = App::Http,
            Some(false) => {
                *app = App::Other;
                return;
            }
            None => return,
        }
    }
    if s.app_progress == 0 {
        s.http = HttpFramer::new(!client);
    }
    let mut buf = [0u8; 512];
    let mut done = 0;
    while s.app_progress < end {
        let stop = s.contiguous_end(s.app_progress).min(end);
        if stop <= s.app_progress {
            *app = App::Other;
            break;
        }
        let n = ((stop - s.app_progress) as usize).min(buf.len());
        s.read(pool, s.app_progress, &mut buf[..n]);
        done += s.http.feed(&buf[..n]);
        s.app_progress += n as u64;
    }
    if done > 0 {
        s.trigger_raw = true;
    }
}

/// The closing part of Suricata's state machine (who sent FIN, who acknowledged it).
fn next_state(s: SsnState, dir: Direction, fin: bool, ack: bool, acks_fin: bool) -> SsnState {
    use Direction::*;
    use SsnState::*;
    match (s, dir) {
        (Established, ToServer) if fin => CloseWait,
        (Established, ToClient) if fin => FinWait1,
        (FinWait1, ToServer) if fin => {
            if acks_fin {
                TimeWait
            } else {
                Closing
            }
        }
        (FinWait1, ToServer) if ack && acks_fin => FinWait2,
        (FinWait2, ToServer) if fin => TimeWait,
        (CloseWait, ToClient) if fin => LastAck,
        (LastAck, ToServer) if ack && acks_fin => Closed,
        (Closing, _) if ack && acks_fin => TimeWait,
        (TimeWait, ToClient) if ack => Closed,
        _ => s,
    }
}
