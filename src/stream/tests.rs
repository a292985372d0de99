use super::*;
use crate::decode::TcpHdr;
use crate::flow::Direction::{ToClient, ToServer};

fn engine(memcap: u64, depth: u32) -> StreamEngine {
    StreamEngine::new(&StreamSettings {
        reassembly_memcap: memcap,
        depth,
        toserver_chunk_size: 10,
        toclient_chunk_size: 10,
    })
}

fn hdr(seq: u32, ack: u32, flags: u8) -> TcpHdr {
    TcpHdr {
        src_port: 1,
        dst_port: 2,
        seq,
        ack,
        flags,
        window: 1000,
        hdr_len: 20,
        mss: None,
        wscale: None,
        sack_permitted: false,
        tfo: false,
        timestamp: None,
        bad_checksum: false,
    }
}

use crate::decode::packet::tcpflag::{ACK, FIN, RST, SYN};

/// `TcpSession::packet` for a session whose handshake is seen (no pickup); true when the
/// payload went into the stream.
fn send(
    e: &mut StreamEngine,
    s: &mut TcpSession,
    dir: crate::flow::Direction,
    h: TcpHdr,
    data: &[u8],
) -> bool {
    s.packet(e, dir, &h, data, Pickup::default())
}

/// A session after the handshake: client ISN 99 (data from 100), server ISN 999.
fn established(e: &mut StreamEngine) -> TcpSession {
    let mut s = TcpSession::default();
    assert!(!send(e, &mut s, ToServer, hdr(99, 0, SYN), b""));
    send(e, &mut s, ToClient, hdr(999, 100, SYN | ACK), b"");
    send(e, &mut s, ToServer, hdr(100, 1000, ACK), b"");
    assert_eq!(s.state, SsnState::Established);
    s
}

/// Everything raw inspection would see now, concatenated (`eof`: end of flow).
fn raw(e: &StreamEngine, s: &TcpSession, dir: crate::flow::Direction, eof: bool) -> Vec<u8> {
    let mut scratch = vec![0u8; 1 << 16];
    let c = e.raw_chunks(s, dir, eof, &mut scratch);
    let mut v = Vec::new();
    for &(a, b) in &c.pieces[..c.n as usize] {
        v.extend_from_slice(&scratch[a as usize..b as usize]);
    }
    v
}

fn ack_client(e: &mut StreamEngine, s: &mut TcpSession, ack: u32) {
    send(e, s, ToClient, hdr(1000, ack, ACK), b"");
}

#[test]
fn in_order_data_is_ready_once_acked_past_the_chunk_size() {
    let mut e = engine(1 << 20, 0);
    let mut s = established(&mut e);
    assert!(send(
        &mut e,
        &mut s,
        ToServer,
        hdr(100, 1000, ACK),
        b"hello "
    ));
    assert!(send(
        &mut e,
        &mut s,
        ToServer,
        hdr(106, 1000, ACK),
        b"world!"
    ));
    // not acknowledged: nothing to inspect yet
    assert!(!e.raw_ready(&s, ToServer, false));
    ack_client(&mut e, &mut s, 106);
    // 6 bytes acked < chunk size 10
    assert!(!e.raw_ready(&s, ToServer, false));
    ack_client(&mut e, &mut s, 112);
    assert!(e.raw_ready(&s, ToServer, false));
    assert_eq!(raw(&e, &s, ToServer, false), b"hello world!");
    let mut scratch = [0u8; 64];
    let c = e.raw_chunks(&s, ToServer, false, &mut scratch);
    e.commit(&mut s, ToServer, &c);
    assert!(!e.raw_ready(&s, ToServer, false));
    assert_eq!(s.client.raw_progress, 12);
    // the block still holds bytes after the progress; whole blocks behind it are released
    assert_eq!(e.memuse(), pool::BLOCK as u64);
    let big = vec![b'z'; 2 * pool::BLOCK];
    assert!(send(&mut e, &mut s, ToServer, hdr(112, 1000, ACK), &big));
    assert_eq!(e.memuse(), 3 * pool::BLOCK as u64);
    ack_client(&mut e, &mut s, 112 + 2 * pool::BLOCK as u32);
    let mut scratch = vec![0u8; 3 * pool::BLOCK];
    let c = e.raw_chunks(&s, ToServer, false, &mut scratch);
    e.commit(&mut s, ToServer, &c);
    assert_eq!(s.client.raw_progress, 12 + 2 * pool::BLOCK as u64);
    assert_eq!(e.memuse(), pool::BLOCK as u64);
}

#[test]
fn out_of_order_segments_are_put_in_place() {
    let mut e = engine(1 << 20, 0);
    let mut s = established(&mut e);
    send(&mut e, &mut s, ToServer, hdr(106, 1000, ACK), b"world!");
    send(&mut e, &mut s, ToServer, hdr(100, 1000, ACK), b"hello ");
    ack_client(&mut e, &mut s, 112);
    assert_eq!(raw(&e, &s, ToServer, false), b"hello world!");
}

#[test]
fn overlap_keeps_the_first_data() {
    let mut e = engine(1 << 20, 0);
    let mut s = established(&mut e);
    send(&mut e, &mut s, ToServer, hdr(100, 1000, ACK), b"AAAA");
    send(&mut e, &mut s, ToServer, hdr(108, 1000, ACK), b"CCCC");
    // covers the hole and both neighbours with different bytes
    assert!(send(
        &mut e,
        &mut s,
        ToServer,
        hdr(102, 1000, ACK),
        b"xxBBBBxx"
    ));
    ack_client(&mut e, &mut s, 112);
    assert_eq!(raw(&e, &s, ToServer, false), b"AAAABBBBCCCC");
    assert_eq!(e.stats.overlap, 1);
}

#[test]
fn retransmission_of_inspected_or_acked_data_changes_nothing() {
    let mut e = engine(1 << 20, 0);
    let mut s = established(&mut e);
    send(
        &mut e,
        &mut s,
        ToServer,
        hdr(100, 1000, ACK),
        b"0123456789ab",
    );
    ack_client(&mut e, &mut s, 112);
    let mut scratch = [0u8; 64];
    let c = e.raw_chunks(&s, ToServer, false, &mut scratch);
    e.commit(&mut s, ToServer, &c);
    // wholly before what the server acknowledged: refused (not added to the stream)
    assert!(!send(
        &mut e,
        &mut s,
        ToServer,
        hdr(100, 1000, ACK),
        b"0123456789"
    ));
    // straddling: only the new part is kept
    assert!(send(&mut e, &mut s, ToServer, hdr(110, 1000, ACK), b"abcd"));
    ack_client(&mut e, &mut s, 114);
    assert_eq!(raw(&e, &s, ToServer, true), b"cd");
}

#[test]
fn acknowledged_gap_is_skipped() {
    let mut e = engine(1 << 20, 0);
    let mut s = established(&mut e);
    send(&mut e, &mut s, ToServer, hdr(100, 1000, ACK), b"aaaa");
    // 104..110 lost
    send(&mut e, &mut s, ToServer, hdr(110, 1000, ACK), b"bbbbbb");
    ack_client(&mut e, &mut s, 116);
    assert!(e.raw_ready(&s, ToServer, false));
    let mut scratch = [0u8; 64];
    let c = e.raw_chunks(&s, ToServer, false, &mut scratch);
    assert_eq!(c.n, 2);
    // as Suricata: the progress stops where the data resumes after the gap, so the next
    // inspection sees that data again
    assert_eq!(c.progress, 10);
    e.commit(&mut s, ToServer, &c);
    assert_eq!(e.stats.gap, 1);
    assert_eq!(raw(&e, &s, ToServer, false), b"bbbbbb");
    let c = e.raw_chunks(&s, ToServer, false, &mut scratch);
    e.commit(&mut s, ToServer, &c);
    assert!(!s.client.has_uninspected());
}

#[test]
fn depth_truncates_and_flushes() {
    let mut e = engine(1 << 20, 8);
    let mut s = established(&mut e);
    assert!(send(
        &mut e,
        &mut s,
        ToServer,
        hdr(100, 1000, ACK),
        b"0123456789"
    ));
    assert!(s.client.depth_reached);
    ack_client(&mut e, &mut s, 104);
    // depth reached: ready without the chunk size, up to what was acknowledged
    assert!(e.raw_ready(&s, ToServer, false));
    assert_eq!(raw(&e, &s, ToServer, false), b"0123");
    assert_eq!(raw(&e, &s, ToServer, true), b"01234567");
    // the next packet counts as added once, then the stream takes nothing more
    assert!(send(&mut e, &mut s, ToServer, hdr(110, 1000, ACK), b"zz"));
    assert!(!send(&mut e, &mut s, ToServer, hdr(112, 1000, ACK), b"zz"));
}

#[test]
fn memcap_refuses_segments_and_counts() {
    // two blocks in the pool
    let mut e = engine(2 * pool::BLOCK as u64, 0);
    let mut a = established(&mut e);
    let mut b = established(&mut e);
    let big = vec![b'x'; pool::BLOCK + 10];
    assert!(send(&mut e, &mut a, ToServer, hdr(100, 1000, ACK), &big));
    assert_eq!(e.pool.available(), 0);
    assert!(!send(&mut e, &mut b, ToServer, hdr(100, 1000, ACK), b"y"));
    assert_eq!(e.stats.memcap_drop, 1);
    e.release(&mut a);
    assert_eq!(e.pool.available(), 2);
    assert!(send(&mut e, &mut b, ToServer, hdr(100, 1000, ACK), b"y"));
}

#[test]
fn closing_states_flush_and_end_of_flow_takes_everything() {
    let mut e = engine(1 << 20, 0);
    let mut s = established(&mut e);
    send(&mut e, &mut s, ToServer, hdr(100, 1000, ACK), b"abc");
    ack_client(&mut e, &mut s, 103);
    assert!(!e.raw_ready(&s, ToServer, false));
    // the client closes: CLOSE_WAIT is past TIME_WAIT, so no chunk size any more
    send(&mut e, &mut s, ToServer, hdr(103, 1000, ACK | FIN), b"");
    assert_eq!(s.state, SsnState::CloseWait);
    assert!(e.raw_ready(&s, ToServer, false));
    assert_eq!(e.needs_flush(&s), [true, true]);
    // server data never acknowledged is seen only at the end of the flow
    send(&mut e, &mut s, ToClient, hdr(1000, 104, ACK), b"reply");
    assert_eq!(raw(&e, &s, ToClient, false), b"");
    assert_eq!(raw(&e, &s, ToClient, true), b"reply");
    send(&mut e, &mut s, ToServer, hdr(104, 1000, RST), b"");
    assert_eq!(s.state, SsnState::Closed);
    assert_eq!(e.needs_flush(&s), [true, true]);
}

#[test]
fn too_many_holes_drop_the_segment() {
    let mut e = engine(1 << 20, 0);
    let mut s = established(&mut e);
    for i in 0..buffer::MAX_RANGES as u32 {
        assert!(send(
            &mut e,
            &mut s,
            ToServer,
            hdr(100 + i * 10, 1000, ACK),
            b"x"
        ));
    }
    assert!(!send(&mut e, &mut s, ToServer, hdr(500, 1000, ACK), b"x"));
    assert_eq!(e.stats.ranges_drop, 1);
    // filling a hole still works
    assert!(send(
        &mut e,
        &mut s,
        ToServer,
        hdr(101, 1000, ACK),
        b"123456789"
    ));
}

/// Random segments, ACKs, FINs and RSTs in both directions over a small pool: nothing
/// panics, the pool never hands out more than it has, raw chunks stay within the scratch
/// buffer, and releasing every session returns every block.
#[test]
fn random_traffic_keeps_the_invariants() {
    let mut rng: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut e = engine(16 * pool::BLOCK as u64, 3000);
    let mut sessions: Vec<TcpSession> = (0..4).map(|_| TcpSession::default()).collect();
    let payload = vec![b'p'; 3000];
    let mut scratch = vec![0u8; 4096];
    for _ in 0..20_000 {
        let r = next();
        let s = &mut sessions[(r % 4) as usize];
        let dir = if r & 4 != 0 { ToServer } else { ToClient };
        let flags = [SYN, SYN | ACK, ACK, ACK, ACK, ACK | FIN, RST, ACK][(r >> 3) as usize % 8];
        let seq = 100u32
            .wrapping_add((r >> 8) as u32 % 8000)
            .wrapping_sub(500);
        let ack = 1000u32
            .wrapping_add((r >> 24) as u32 % 8000)
            .wrapping_sub(500);
        let len = (r >> 40) as usize % payload.len();
        s.packet(
            &mut e,
            dir,
            &hdr(seq, ack, flags),
            &payload[..len],
            Pickup {
                midstream: r & 1 != 0,
                synack: r & 0x100_0000_0000_0000 != 0,
                async_oneside: r & 0x200_0000_0000_0000 != 0,
            },
        );
        assert!(e.memuse() <= (e.pool.capacity() * pool::BLOCK) as u64);
        for d in [ToServer, ToClient] {
            let pseudo = r & 2 != 0;
            if e.raw_ready(s, d, pseudo) {
                let c = e.raw_chunks(s, d, pseudo, &mut scratch);
                for &(a, b) in &c.pieces[..c.n as usize] {
                    assert!(a <= b && b as usize <= scratch.len());
                }
                e.commit(s, d, &c);
            }
        }
        if r % 97 == 0 {
            e.release(s);
            *s = TcpSession::default();
        }
    }
    for s in &mut sessions {
        e.release(s);
    }
    assert_eq!(e.pool.available(), e.pool.capacity());
}

#[test]
fn a_session_is_small_enough_to_live_in_every_flow_slot() {
    // 65,536 flow slots by default: each byte here is 64 KiB of resident memory
    assert!(
        std::mem::size_of::<TcpSession>() <= 640,
        "{}",
        std::mem::size_of::<TcpSession>()
    );
}

#[test]
fn fast_open_data_is_in_the_stream_and_flushed_at_the_end() {
    let mut e = engine(1 << 20, 0);
    let mut s = TcpSession::default();
    let mut syn = hdr(99, 0, SYN);
    // without the option the SYN's data stays out of the stream
    assert!(!send(&mut e, &mut s, ToServer, syn, b"GET /"));
    let mut s = TcpSession::default();
    syn.tfo = true;
    assert!(send(&mut e, &mut s, ToServer, syn, b"GET /"));
    assert!(!e.raw_ready(&s, ToServer, false));
    assert_eq!(e.needs_flush(&s), [true, false]);
    assert!(e.raw_ready(&s, ToServer, true));
    assert_eq!(raw(&e, &s, ToServer, true), b"GET /");
}

const ASYNC: Pickup = Pickup {
    midstream: false,
    synack: true,
    async_oneside: true,
};

#[test]
fn a_one_sided_server_stream_is_inspected_without_acks() {
    // tcp-async-01's shape: picked up at the SYN/ACK (the flow table made the SYN/ACK go
    // to the client), then only the server's data
    let mut e = engine(1 << 20, 0);
    let mut s = TcpSession::default();
    assert!(!s.packet(&mut e, ToClient, &hdr(999, 100, SYN | ACK), b"", ASYNC));
    assert_eq!(s.state, SsnState::SynRecv);
    assert!(s.packet(&mut e, ToClient, &hdr(1000, 100, ACK), b"0123456789", ASYNC));
    assert_eq!(s.state, SsnState::Established);
    assert!(s.one_sided);
    // the first segment is not taken as acknowledged yet (Suricata moves last_ack to the
    // segment's start), the second one moves it to everything seen
    assert!(!e.raw_ready(&s, ToClient, false));
    assert!(s.packet(&mut e, ToClient, &hdr(1010, 100, ACK), b"abcdefghij", ASYNC));
    assert!(e.raw_ready(&s, ToClient, false));
    assert_eq!(raw(&e, &s, ToClient, false), b"0123456789abcdefghij");
    // a retransmission behind what was taken is still accepted
    assert!(s.packet(&mut e, ToClient, &hdr(1005, 100, ACK), b"56789", ASYNC));
    // once the client speaks, the session is two-sided again
    s.packet(&mut e, ToServer, &hdr(100, 1020, ACK), b"", ASYNC);
    assert!(!s.one_sided);
}

#[test]
fn without_async_the_server_data_before_the_clients_ack_stays_out() {
    let pickup = Pickup {
        midstream: true,
        synack: true,
        async_oneside: false,
    };
    let mut e = engine(1 << 20, 0);
    let mut s = TcpSession::default();
    s.packet(&mut e, ToClient, &hdr(999, 100, SYN | ACK), b"", pickup);
    assert!(!s.packet(&mut e, ToClient, &hdr(1000, 100, ACK), b"early", pickup));
    assert_eq!(s.state, SsnState::SynRecv);
    // an ACK that acknowledges data the session never took does not complete it
    s.packet(&mut e, ToServer, &hdr(100, 1005, ACK), b"", pickup);
    assert_eq!(s.state, SsnState::SynRecv);
    // the exact one does
    s.packet(&mut e, ToServer, &hdr(100, 1000, ACK), b"", pickup);
    assert_eq!(s.state, SsnState::Established);
    assert!(!s.one_sided);
}

#[test]
fn a_syn_then_the_clients_ack_alone_is_one_sided() {
    let mut e = engine(1 << 20, 0);
    let mut s = TcpSession::default();
    s.packet(&mut e, ToServer, &hdr(99, 0, SYN), b"", ASYNC);
    // not the next sequence number: ignored
    assert!(!s.packet(&mut e, ToServer, &hdr(150, 1000, ACK), b"x", ASYNC));
    assert_eq!(s.state, SsnState::SynSent);
    assert!(s.packet(&mut e, ToServer, &hdr(100, 1000, ACK), b"0123456789", ASYNC));
    assert_eq!(s.state, SsnState::Established);
    assert!(s.packet(&mut e, ToServer, &hdr(110, 1000, ACK), b"abcdefghij", ASYNC));
    assert!(e.raw_ready(&s, ToServer, false));
    assert_eq!(raw(&e, &s, ToServer, false), b"0123456789abcdefghij");
    // one-sided, a RST is taken at or past the next sequence number (120), not before
    let mut before = s;
    before.packet(&mut e, ToServer, &hdr(119, 0, RST), b"", ASYNC);
    assert_eq!(before.state, SsnState::Established);
    let mut past = s;
    past.packet(&mut e, ToServer, &hdr(500, 0, RST), b"", ASYNC);
    assert_eq!(past.state, SsnState::Closed);
    // without async-oneside the same ACK is ignored
    let mut s = TcpSession::default();
    send(&mut e, &mut s, ToServer, hdr(99, 0, SYN), b"");
    assert!(!send(
        &mut e,
        &mut s,
        ToServer,
        hdr(100, 1000, ACK),
        b"0123456789"
    ));
    assert_eq!(s.state, SsnState::SynSent);
}

#[test]
fn a_rst_ends_the_session_only_at_the_senders_next_sequence_number() {
    let mut e = engine(1 << 20, 0);
    let mut s = established(&mut e);
    send(&mut e, &mut s, ToServer, hdr(100, 1000, ACK), b"hello ");
    // blind RSTs: before, past, and one off the sender's next_seq (106 and 1000)
    for (dir, seq) in [
        (ToServer, 105),
        (ToServer, 107),
        (ToServer, 5000),
        (ToClient, 999),
        (ToClient, 1001),
    ] {
        assert!(!send(&mut e, &mut s, dir, hdr(seq, 0, RST), b""));
        assert_eq!(s.state, SsnState::Established, "{dir:?} {seq}");
    }
    // the stream goes on after them
    assert!(send(
        &mut e,
        &mut s,
        ToServer,
        hdr(106, 1000, ACK),
        b"world"
    ));
    // the server's RST at its next_seq ends it
    send(&mut e, &mut s, ToClient, hdr(1000, 0, RST), b"");
    assert_eq!(s.state, SsnState::Closed);
}

#[test]
fn handshake_rsts_are_checked_as_suricata_checks_them() {
    let mut e = engine(1 << 20, 0);
    // SYN_RECV: a wrong RST leaves the handshake to complete; a right one ends it
    let mut s = TcpSession::default();
    send(&mut e, &mut s, ToServer, hdr(99, 0, SYN), b"");
    send(&mut e, &mut s, ToClient, hdr(999, 100, SYN | ACK), b"");
    send(&mut e, &mut s, ToServer, hdr(7777, 0, RST), b"");
    assert_eq!(s.state, SsnState::SynRecv);
    let mut right = s;
    send(&mut e, &mut right, ToClient, hdr(1000, 0, RST), b"");
    assert_eq!(right.state, SsnState::Closed);
    send(&mut e, &mut s, ToServer, hdr(100, 1000, ACK), b"");
    assert_eq!(s.state, SsnState::Established);
    // SYN_SENT: the server, which sent nothing yet, refuses at sequence number 0; any other
    // RST, and any RST from the client, is left out
    let mut s = TcpSession::default();
    send(&mut e, &mut s, ToServer, hdr(99, 0, SYN), b"");
    for (dir, seq, flags) in [
        (ToClient, 1234, RST),
        (ToServer, 99, RST | ACK),
        (ToServer, 100, RST),
    ] {
        send(&mut e, &mut s, dir, hdr(seq, 100, flags), b"");
        assert_eq!(s.state, SsnState::SynSent, "{dir:?} {seq}");
    }
    send(&mut e, &mut s, ToClient, hdr(0, 100, RST | ACK), b"");
    assert_eq!(s.state, SsnState::Closed);
}
