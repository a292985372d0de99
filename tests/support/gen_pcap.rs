//! A generated classic pcap for the log tests: ICMP echo requests carrying "heartbeat_ping"
//! from 192.168.1.10 (HOME_NET) to 8.8.8.8 (EXTERNAL_NET), which `rules/heartbeat.rules`
//! (sid 5100000) alerts on, spread among plain UDP packets (or a SYN flood) that raise nothing.

#![allow(dead_code)]

use std::io::Write;
use std::path::Path;

fn csum(data: &[u8]) -> u16 {
    let mut s: u32 = 0;
    for c in data.chunks(2) {
        let w = if c.len() == 2 {
            u16::from_be_bytes([c[0], c[1]])
        } else {
            u16::from_be_bytes([c[0], 0])
        };
        s += w as u32;
    }
    while s >> 16 != 0 {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

fn ipv4(src: [u8; 4], dst: [u8; 4], proto: u8, id: u16, payload: &[u8]) -> Vec<u8> {
    let mut ip = vec![0u8; 20];
    ip[0] = 0x45;
    let len = (20 + payload.len()) as u16;
    ip[2..4].copy_from_slice(&len.to_be_bytes());
    ip[4..6].copy_from_slice(&id.to_be_bytes());
    ip[8] = 64;
    ip[9] = proto;
    ip[12..16].copy_from_slice(&src);
    ip[16..20].copy_from_slice(&dst);
    let c = csum(&ip);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    ip.extend_from_slice(payload);
    let mut eth = vec![0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x08, 0x00];
    eth.extend_from_slice(&ip);
    eth
}

fn ping(seq: u16) -> Vec<u8> {
    let mut icmp = vec![8u8, 0, 0, 0, 0x12, 0x34];
    icmp.extend_from_slice(&seq.to_be_bytes());
    icmp.extend_from_slice(b"heartbeat_ping");
    let c = csum(&icmp);
    icmp[2..4].copy_from_slice(&c.to_be_bytes());
    ipv4([192, 168, 1, 10], [8, 8, 8, 8], 1, seq, &icmp)
}

fn udp(n: u32) -> Vec<u8> {
    let sport = 20_000 + (n % 20_000) as u16;
    let mut u = Vec::with_capacity(8 + 32);
    u.extend_from_slice(&sport.to_be_bytes());
    u.extend_from_slice(&9999u16.to_be_bytes());
    u.extend_from_slice(&40u16.to_be_bytes());
    u.extend_from_slice(&0u16.to_be_bytes());
    u.extend_from_slice(&[b'x'; 32]);
    ipv4([192, 168, 1, 20], [10, 0, 0, 1], 17, n as u16, &u)
}

/// A TCP SYN to 192.168.1.1:80 from a source of its own for each `n` below 2^32 (a new
/// flow every time: a SYN flood).
fn syn(n: u32) -> Vec<u8> {
    let src = [
        172,
        16 + (n >> 24) as u8 % 16,
        (n >> 16) as u8,
        (n >> 8) as u8,
    ];
    let sport = 1024 + (n & 0xff) as u16;
    let mut t = vec![0u8; 20];
    t[0..2].copy_from_slice(&sport.to_be_bytes());
    t[2..4].copy_from_slice(&80u16.to_be_bytes());
    t[4..8].copy_from_slice(&n.to_be_bytes());
    t[12] = 0x50;
    t[13] = 0x02;
    t[14..16].copy_from_slice(&64240u16.to_be_bytes());
    // checksum over the pseudo header
    let mut ph = Vec::with_capacity(32);
    ph.extend_from_slice(&src);
    ph.extend_from_slice(&[192, 168, 1, 1, 0, 6, 0, 20]);
    ph.extend_from_slice(&t);
    let c = csum(&ph);
    t[16..18].copy_from_slice(&c.to_be_bytes());
    ipv4(src, [192, 168, 1, 1], 6, n as u16, &t)
}

/// Write `packets` packets, one in `every` a heartbeat ping (so `packets / every` alerts),
/// one millisecond apart from 2023-11-14T22:13:20Z.
pub fn write(path: &Path, packets: u32, every: u32) {
    write_with(path, packets, every, udp)
}

/// As `write`, with a SYN flood between the pings: every packet but the pings opens a flow.
pub fn write_syn_flood(path: &Path, packets: u32, every: u32) {
    write_with(path, packets, every, syn)
}

fn write_with(path: &Path, packets: u32, every: u32, filler: fn(u32) -> Vec<u8>) {
    let f = std::fs::File::create(path).unwrap();
    let mut w = std::io::BufWriter::new(f);
    w.write_all(&0xa1b2c3d4u32.to_le_bytes()).unwrap();
    w.write_all(&2u16.to_le_bytes()).unwrap();
    w.write_all(&4u16.to_le_bytes()).unwrap();
    w.write_all(&[0u8; 8]).unwrap();
    w.write_all(&65535u32.to_le_bytes()).unwrap();
    w.write_all(&1u32.to_le_bytes()).unwrap();
    for n in 0..packets {
        let frame = if n % every == every - 1 {
            ping((n / every) as u16)
        } else {
            filler(n)
        };
        let t_us = 1_700_000_000u64 * 1_000_000 + n as u64 * 1000;
        w.write_all(&((t_us / 1_000_000) as u32).to_le_bytes())
            .unwrap();
        w.write_all(&((t_us % 1_000_000) as u32).to_le_bytes())
            .unwrap();
        w.write_all(&(frame.len() as u32).to_le_bytes()).unwrap();
        w.write_all(&(frame.len() as u32).to_le_bytes()).unwrap();
        w.write_all(&frame).unwrap();
    }
    w.flush().unwrap();
}
