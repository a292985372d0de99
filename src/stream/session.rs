//! A TCP session as Suricata's stream engine tracks it, reduced to what raw stream
//! inspection depends on: its states (the order matters: Suricata flushes the raw stream
//! on every packet once the state is past TIME_WAIT), each side's stream, what each side
//! acknowledged, and which packets' data go into the stream (PKT_STREAM_ADD).
//!
//! Not modelled: window and timestamp validation, SACK, 4-way handshakes, async
//! (one-sided) sessions, RST validation.

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

#[derive(Debug, Clone, Copy, Default)]
pub struct TcpSession {
    pub state: SsnState,
    pub app: App,
    /// The client's data (to_server).
    pub client: StreamBuf,
    /// The server's data (to_client).
    pub server: StreamBuf,
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
        midstream: bool,
    ) -> bool {
        let syn = t.flags & SYN != 0;
        let ack = t.flags & ACK != 0;
        let fin = t.flags & FIN != 0;
        let rst = t.flags & RST != 0;
        let len = payload.len() as u32;
        match self.state {
            SsnState::None => {
                if syn && !ack && dir == Direction::ToServer {
                    self.client.reset(&mut eng.pool, t.seq);
                    self.state = SsnState::SynSent;
                    eng.stats.sessions += 1;
                    // TCP Fast Open: the SYN's data is the stream's first bytes (without
                    // the option, SYN data stays out of the stream)
                    if len > 0 && t.tfo {
                        let depth = eng.depth;
                        let seq = t.seq.wrapping_add(1);
                        return self.client.insert(
                            &mut eng.pool,
                            &mut eng.stats,
                            seq,
                            payload,
                            depth,
                        ) == Insert::Added;
                    }
                    return false;
                }
                if !midstream || rst || syn {
                    return false;
                }
                // midstream pickup: both sides start here
                self.client.reset(&mut eng.pool, t.seq.wrapping_sub(1));
                let srv = if ack { t.ack } else { 0 };
                self.server.reset(&mut eng.pool, srv.wrapping_sub(1));
                self.state = SsnState::Established;
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
                }
                return false;
            }
            SsnState::SynRecv => {
                if dir == Direction::ToServer && ack && !syn && !rst {
                    self.state = SsnState::Established;
                } else {
                    if rst {
                        self.state = SsnState::Closed;
                    }
                    return false;
                }
            }
            SsnState::Closed => return false,
            _ => {}
        }
        if rst {
            self.state = SsnState::Closed;
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
            let before_ack = (end.wrapping_sub(own.last_ack) as i32) < 0;
            if !before_ack {
                let depth = eng.depth;
                added = own.insert(&mut eng.pool, &mut eng.stats, t.seq, payload, depth)
                    == Insert::Added;
            }
        }
        own.update_next_seq(end.wrapping_add(u32::from(fin)));
        let acks_fin = ack && t.ack == other_next;
        self.state = next_state(self.state, dir, fin, ack, acks_fin);
        added
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
