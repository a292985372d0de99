//! A generated classic pcap for the log tests: ICMP echo requests carrying "heartbeat_ping"
//! from 192.168.1.10 (HOME_NET) to 8.8.8.8 (EXTERNAL_NET), which `rules/heartbeat.rules`
//! (sid 5100000) alerts on, spread among plain UDP packets that raise nothing.

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

/// Write `packets` packets, one in `every` a heartbeat ping (so `packets / every` alerts),
/// one millisecond apart from 2023-11-14T22:13:20Z.
pub fn write(path: &Path, packets: u32, every: u32) {
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
            udp(n)
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
