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
use crate::applayer::tls::{self, TlsFramer};
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

/// What the app-layer made of the session (HTTP and TLS matter to raw inspection).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum App {
    #[default]
    Unknown,
    Http,
    /// TLS, with what its records showed so far: the ClientHello offered early data, the
    /// ServerHello came.
    Tls {
        early_data: bool,
        server_hello: bool,
    },
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
    /// The flow's payloads are no longer inspected (Suricata's FLOW_NOPAYLOAD_INSPECTION,
    /// set by TLS application data: see `applayer::tls`): from the next packet on, for
    /// the packet's payload; each stream's raw data after its next inspection.
    pub no_payload: bool,
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
            if app_update(&mut self.app, other, &eng.pool, dir == Direction::ToClient)
                && !self.no_payload
            {
                // Suricata's StreamTcpSetDisableRawReassemblyFlag on both streams
                self.no_payload = true;
                own.new_raw_disabled = true;
                other.new_raw_disabled = true;
            }
        }
        if self.no_payload {
            let app_active = matches!(self.app, App::Http | App::Tls { .. });
            own.release_uninspected(&mut eng.pool, app_active);
            other.release_uninspected(&mut eng.pool, app_active);
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

/// Feed the app-layer the acknowledged data of `s` (the client's when `client`). HTTP and
/// TLS are recognised from the client's first bytes. Each request or response the HTTP
/// framer completes, and each TLS record, triggers raw inspection of that direction, as
/// libhtp's completion callbacks and Suricata's SSL parser do. A hole, data already
/// released, or a TLS record Suricata's parser rejects ends app-layer parsing. Returns
/// whether TLS application data ends payload inspection (see `applayer::tls`).
fn app_update(app: &mut App, s: &mut StreamBuf, pool: &BlockPool, client: bool) -> bool {
    let end = s.last_ack_abs().min(s.right_edge);
    if *app == App::Other || end <= s.app_progress {
        return false;
    }
    if s.raw_progress > s.app_progress {
        *app = App::Other;
        return false;
    }
    if *app == App::Unknown {
        if !client || s.app_progress != 0 {
            return false;
        }
        let mut head = [0u8; 16];
        let n = (s.contiguous_end(0).min(end) as usize).min(head.len());
        s.read(pool, 0, &mut head[..n]);
        let found = match (
            tls::is_client_start(&head[..n]),
            http::is_request_start(&head[..n]),
        ) {
            (Some(true), _) => App::Tls {
                early_data: false,
                server_hello: false,
            },
            (_, Some(true)) => App::Http,
            (Some(false), Some(false)) => App::Other,
            _ => return false,
        };
        *app = found;
        if found == App::Other {
            return false;
        }
    }
    if s.app_progress == 0 {
        s.http = HttpFramer::new(!client);
        s.tls = TlsFramer::new(!client);
    }
    if let App::Tls { .. } = app {
        return tls_update(app, s, pool, end);
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
    false
}

/// `app_update` for a TLS session: the records of `s` up to `end`, reading only what the
/// framer needs (record headers, the hellos) and passing over record bodies.
fn tls_update(app: &mut App, s: &mut StreamBuf, pool: &BlockPool, end: u64) -> bool {
    let App::Tls {
        early_data,
        server_hello,
    } = app
    else {
        return false;
    };
    let mut buf = [0u8; 512];
    let mut app_data = false;
    let mut records = 0;
    while s.app_progress < end && !s.tls.failed() {
        let stop = s.contiguous_end(s.app_progress).min(end);
        if stop <= s.app_progress {
            *app = App::Other;
            return false;
        }
        let avail = stop - s.app_progress;
        let k = s.tls.skippable(avail);
        let seen = if k > 0 {
            s.app_progress += k;
            s.tls.skip(k)
        } else {
            let n = (avail as usize).min(buf.len());
            s.read(pool, s.app_progress, &mut buf[..n]);
            let mut seen = tls::Seen::default();
            s.app_progress += s.tls.feed(&buf[..n], &mut seen) as u64;
            seen
        };
        records += seen.records;
        *early_data |= seen.early_data;
        *server_hello |= seen.server_hello;
        // 0-RTT data before the ServerHello does not end the handshake (SSLv3Decode)
        let handshake_done = *server_hello || !*early_data;
        app_data |= seen.app_data && handshake_done;
    }
    if records > 0 {
        s.trigger_raw = true;
    }
    if s.tls.failed() {
        // Suricata's parser error disables the app layer for the flow
        *app = App::Other;
    }
    app_data
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
