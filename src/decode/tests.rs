//! Decoder tests over hand-built packets: one group per protocol, then truncation at every
//! length and random bytes for every link type.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::packet::{ipopt, tcpflag};
use super::*;
use crate::capture::{Frame, LinkType, Timestamp};

// ---- builders -------------------------------------------------------------------------

const A4: [u8; 4] = [192, 168, 1, 10];
const B4: [u8; 4] = [10, 0, 0, 1];
const A6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
const B6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

fn eth(ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2];
    v.extend_from_slice(&ethertype.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

fn vlan(vid: u16, ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = (0x2000 | vid).to_be_bytes().to_vec(); // priority 1
    v.extend_from_slice(&ethertype.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

fn ipv4_full(proto: u8, opts: &[u8], flags_frag: u16, payload: &[u8]) -> Vec<u8> {
    assert!(opts.len() % 4 == 0);
    let hlen = 20 + opts.len();
    let total = (hlen + payload.len()) as u16;
    let mut v = vec![0x40 | (hlen / 4) as u8, 0x10];
    v.extend_from_slice(&total.to_be_bytes());
    v.extend_from_slice(&0x1234u16.to_be_bytes());
    v.extend_from_slice(&flags_frag.to_be_bytes());
    v.extend_from_slice(&[64, proto, 0, 0]);
    v.extend_from_slice(&A4);
    v.extend_from_slice(&B4);
    v.extend_from_slice(opts);
    v.extend_from_slice(payload);
    v
}

fn ipv4(proto: u8, payload: &[u8]) -> Vec<u8> {
    ipv4_full(proto, &[], 0x4000, payload)
}

fn ipv6(nh: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0x60, 0x20, 0, 0];
    v.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    v.extend_from_slice(&[nh, 55]);
    v.extend_from_slice(&A6);
    v.extend_from_slice(&B6);
    v.extend_from_slice(payload);
    v
}

/// An IPv6 extension header (hop-by-hop, destination options, routing) padded to 8 bytes.
fn ext(nh: u8, body: &[u8]) -> Vec<u8> {
    let len = (2 + body.len()).div_ceil(8) * 8;
    let mut v = vec![nh, (len / 8 - 1) as u8];
    v.extend_from_slice(body);
    v.resize(len, 0);
    v
}

fn frag6(nh: u8, offset: u16, mf: bool, id: u32) -> Vec<u8> {
    let mut v = vec![nh, 0];
    v.extend_from_slice(&((offset << 3) | mf as u16).to_be_bytes());
    v.extend_from_slice(&id.to_be_bytes());
    v
}

fn tcp(flags: u8, opts: &[u8], payload: &[u8]) -> Vec<u8> {
    assert!(opts.len() % 4 == 0);
    let mut v = Vec::new();
    v.extend_from_slice(&40000u16.to_be_bytes());
    v.extend_from_slice(&80u16.to_be_bytes());
    v.extend_from_slice(&1000u32.to_be_bytes());
    v.extend_from_slice(&2000u32.to_be_bytes());
    v.push((((20 + opts.len()) / 4) as u8) << 4);
    v.push(flags);
    v.extend_from_slice(&64240u16.to_be_bytes());
    v.extend_from_slice(&[0, 0, 0, 0]);
    v.extend_from_slice(opts);
    v.extend_from_slice(payload);
    v
}

fn udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&sport.to_be_bytes());
    v.extend_from_slice(&dport.to_be_bytes());
    v.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    v.extend_from_slice(&[0, 0]);
    v.extend_from_slice(payload);
    v
}

fn icmp(t: u8, code: u8, id: u16, seq: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![t, code, 0, 0];
    v.extend_from_slice(&id.to_be_bytes());
    v.extend_from_slice(&seq.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

fn gre(flags: u8, proto: u16, extra: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut v = vec![flags, 0];
    v.extend_from_slice(&proto.to_be_bytes());
    v.extend_from_slice(extra);
    v.extend_from_slice(payload);
    v
}

fn tzsp(encap: u16, tags: &[u8], frame: &[u8]) -> Vec<u8> {
    let mut v = vec![1, 0];
    v.extend_from_slice(&encap.to_be_bytes());
    v.extend_from_slice(tags);
    v.extend_from_slice(frame);
    v
}

fn frame(link: LinkType, data: &[u8]) -> Frame<'_> {
    Frame {
        ts: Timestamp { secs: 1, nanos: 2 },
        link,
        data,
        orig_len: data.len() as u32,
    }
}

/// Decodes a copy of `data` as Ethernet (the copy is leaked so the packet can outlive the
/// temporary the tests build inline).
fn decode(data: &[u8]) -> (Packet<'static>, DecodeStats) {
    decode_link(LinkType::Ethernet, data)
}

fn decode_link(link: LinkType, data: &[u8]) -> (Packet<'static>, DecodeStats) {
    let data: &'static [u8] = Box::leak(data.to_vec().into_boxed_slice());
    let mut d = Decoder::new();
    let p = d.decode(&frame(link, data));
    (p, d.stats)
}

fn tcp_syn() -> Vec<u8> {
    // MSS 1460, SACK permitted, timestamp, NOP, window scale 7.
    let opts = [
        2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2, 1, 3, 3, 7,
    ];
    tcp(tcpflag::SYN, &opts, b"")
}

// ---- Ethernet, VLAN, ARP ------------------------------------------------------------------

#[test]
fn ethernet_ipv4_tcp_with_options() {
    let bytes = eth(0x0800, &ipv4(6, &tcp_syn()));
    let (p, s) = decode(&bytes);
    let ip = p.ip.expect("ip");
    assert_eq!(ip.version, 4);
    assert_eq!(ip.src, IpAddr::V4(Ipv4Addr::from(A4)));
    assert_eq!(ip.dst, IpAddr::V4(Ipv4Addr::from(B4)));
    assert_eq!((ip.proto, ip.ttl, ip.tos, ip.id), (6, 64, 0x10, 0x1234));
    assert_eq!((ip.frag_flags, ip.frag_offset, ip.hdr_len), (0x2, 0, 20));
    assert!(!ip.is_fragment());
    let t = p.tcp().expect("tcp");
    assert_eq!(
        (t.src_port, t.dst_port, t.seq, t.ack),
        (40000, 80, 1000, 2000)
    );
    assert_eq!((t.flags, t.window, t.hdr_len), (tcpflag::SYN, 64240, 40));
    assert_eq!(t.mss, Some(1460));
    assert_eq!(t.wscale, Some(7));
    assert!(t.sack_permitted);
    assert_eq!(t.timestamp, Some((1, 2)));
    assert!(p.payload.is_empty());
    assert_eq!(p.len as usize, bytes.len());
    assert_eq!(s[Counter::Ethernet], 1);
    assert_eq!(s[Counter::Ipv4], 1);
    assert_eq!(s[Counter::Tcp], 1);
    assert_eq!(s[Counter::Invalid], 0);
    assert_eq!(s[Counter::Pkts], 1);
    assert_eq!(s[Counter::Bytes] as usize, bytes.len());
    assert_eq!(s[Counter::MaxPktSize] as usize, bytes.len());
}

#[test]
fn ethernet_padding_is_trimmed_by_ip_total_length() {
    let mut bytes = eth(0x0800, &ipv4(6, &tcp(tcpflag::ACK, &[], b"hi")));
    bytes.extend_from_slice(&[0xee; 10]);
    let (p, s) = decode(&bytes);
    assert_eq!(p.payload, b"hi");
    assert_eq!(p.ip.unwrap().total_len, 20 + 20 + 2);
    assert_eq!(s[Counter::Invalid], 0);
}

#[test]
fn vlan_qinq_and_triple_tags() {
    let inner = ipv4(17, &udp(1, 2, b"x"));
    let one = eth(0x8100, &vlan(100, 0x0800, &inner));
    let (p, s) = decode(&one);
    assert_eq!(p.vlans(), &[100]);
    assert_eq!(s[Counter::Vlan], 1);
    assert!(p.udp().is_some());

    let two = eth(0x88a8, &vlan(10, 0x8100, &vlan(20, 0x0800, &inner)));
    let (p, s) = decode(&two);
    assert_eq!(p.vlans(), &[10, 20]);
    assert_eq!((s[Counter::Vlan], s[Counter::VlanQinq]), (1, 1));
    assert!(p.ip.is_some());

    let three = eth(
        0x9100,
        &vlan(1, 0x8100, &vlan(2, 0x8100, &vlan(3, 0x0800, &inner))),
    );
    let (p, s) = decode(&three);
    assert_eq!(p.vlans(), &[1, 2, 3]);
    assert_eq!(s[Counter::VlanQinqinq], 1);
    assert_eq!(p.src_port(), Some(1));

    let four = eth(
        0x8100,
        &vlan(
            1,
            0x8100,
            &vlan(2, 0x8100, &vlan(3, 0x8100, &vlan(4, 0x0800, &inner))),
        ),
    );
    let (p, s) = decode(&four);
    assert_eq!(p.vlans(), &[1, 2, 3]);
    assert!(p.ip.is_none());
    assert_eq!(s[Counter::VlanTooManyLayers], 1);
}

#[test]
fn vlan_problems_are_counted() {
    let (p, s) = decode(&eth(0x8100, &[0, 1]));
    assert_eq!(p.vlan_count, 0);
    assert_eq!(s[Counter::VlanHeaderTooSmall], 1);
    assert_eq!(s[Counter::Invalid], 1);
    let (_, s) = decode(&eth(0x8100, &vlan(5, 0x1234, b"??")));
    assert_eq!(s[Counter::VlanUnknownType], 1);
    assert_eq!(s[Counter::UnknownEthertype], 1);
    assert_eq!(s[Counter::Invalid], 1);
}

#[test]
fn arp_and_unknown_ethertype() {
    let (p, s) = decode(&eth(0x0806, &[0; 28]));
    assert!(p.ip.is_none());
    assert_eq!(s[Counter::Arp], 1);
    assert_eq!(s[Counter::Invalid], 0);
    let (_, s) = decode(&eth(0x88cc, &[0; 28]));
    assert_eq!(s[Counter::UnknownEthertype], 1);
    assert_eq!(s[Counter::Invalid], 0);
    let (_, s) = decode(&[0u8; 13]);
    assert_eq!(s[Counter::EthernetPktTooSmall], 1);
    assert_eq!(s[Counter::Invalid], 1);
}

// ---- other link types -------------------------------------------------------------------

#[test]
fn sll_sll2_null_raw() {
    let ip = ipv4(17, &udp(53, 5353, b"dns"));
    let mut sll = vec![0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0];
    sll.extend_from_slice(&0x0800u16.to_be_bytes());
    sll.extend_from_slice(&ip);
    let (p, s) = decode_link(LinkType::Sll, &sll);
    assert_eq!(p.dst_port(), Some(5353));
    assert_eq!(s[Counter::Sll], 1);

    let mut sll2 = 0x86ddu16.to_be_bytes().to_vec();
    sll2.extend_from_slice(&[0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0]);
    sll2.extend_from_slice(&ipv6(17, &udp(1, 2, b"v6")));
    let (p, s) = decode_link(LinkType::Sll2, &sll2);
    assert_eq!(p.ip.unwrap().version, 6);
    assert_eq!(p.payload, b"v6");
    assert_eq!(s[Counter::Sll], 1);
    let (_, s) = decode_link(LinkType::Sll2, &sll2[..19]);
    assert_eq!(s[Counter::SllPktTooSmall], 1);

    for family in [2u32.to_le_bytes(), 2u32.to_be_bytes()] {
        let mut null = family.to_vec();
        null.extend_from_slice(&ip);
        let (p, s) = decode_link(LinkType::Null, &null);
        assert_eq!(p.payload, b"dns");
        assert_eq!(s[Counter::Null], 1);
    }
    let mut null6 = 30u32.to_le_bytes().to_vec();
    null6.extend_from_slice(&ipv6(58, &icmp(128, 0, 7, 8, b"")));
    assert_eq!(decode_link(LinkType::Null, &null6).0.icmp().unwrap().id, 7);
    let (_, s) = decode_link(LinkType::Null, &[99, 0, 0, 0, 1]);
    assert_eq!(s[Counter::LtnullUnsupportedType], 1);

    let (p, s) = decode_link(LinkType::Raw, &ip);
    assert_eq!(p.payload, b"dns");
    assert_eq!(s[Counter::Raw], 1);
    let v6 = ipv6(6, &tcp(tcpflag::ACK, &[], b"x"));
    assert_eq!(decode_link(LinkType::Raw, &v6).0.payload, b"x");
    let (_, s) = decode_link(LinkType::Raw, &[0x50; 20]);
    assert_eq!(s[Counter::IprawInvalidIpVersion], 1);
    assert_eq!(decode_link(LinkType::Ipv4, &ip).0.payload, b"dns");
    assert_eq!(decode_link(LinkType::Ipv6, &v6).0.payload, b"x");
    let (p, _) = decode_link(LinkType::Other(147), &ip);
    assert!(p.ip.is_none());
}

// ---- IPv4 -------------------------------------------------------------------------------

#[test]
fn ipv4_options_are_recorded() {
    // NOP, record route (len 7, ptr 4), timestamp (len 8, ptr 5), router alert, EOL.
    let opts = [
        1, 7, 7, 4, 0, 0, 0, 0, 68, 8, 5, 0, 0, 0, 0, 0, 148, 4, 0, 0, 0, 0, 0, 0,
    ];
    let bytes = eth(0x0800, &ipv4_full(17, &opts, 0, &udp(1, 2, b"o")));
    let (p, s) = decode(&bytes);
    let ip = p.ip.expect("ip");
    assert_eq!(ip.hdr_len, 44);
    assert_eq!(
        ip.ipopts,
        ipopt::NOP | ipopt::RR | ipopt::TS | ipopt::EOL,
        "{:#x}",
        ip.ipopts
    );
    assert_eq!(p.payload, b"o");
    assert_eq!(s[Counter::Invalid], 0);

    // Security (len 11) and stream id (len 4) and lsrr/ssrr.
    let opts = [
        130, 11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 136, 4, 0, 1, 131, 7, 4, 0, 0, 0, 0, 137, 3, 4, 0, 0, 0,
    ];
    let (p, _) = decode(&eth(0x0800, &ipv4_full(17, &opts, 0, &udp(1, 2, b""))));
    let bits = p.ip.unwrap().ipopts;
    assert_eq!(
        bits,
        ipopt::SEC | ipopt::SATID | ipopt::LSRR | ipopt::SSRR | ipopt::EOL
    );
}

#[test]
fn ipv4_bad_options() {
    // Option length beyond the header: the IP layer is unusable.
    let bytes = eth(0x0800, &ipv4_full(17, &[7, 40, 4, 0], 0, &udp(1, 2, b"")));
    let (p, s) = decode(&bytes);
    assert!(p.ip.is_none());
    assert_eq!(s[Counter::Ipv4OptInvalidLen], 1);
    assert_eq!(s[Counter::Invalid], 1);
    // Length 1 is invalid too.
    let (p, _) = decode(&eth(0x0800, &ipv4_full(17, &[7, 1, 0, 0], 0, &[])));
    assert!(p.ip.is_none());
    // A malformed record route (pointer 5) keeps the packet but not the bit.
    let (p, s) = decode(&eth(
        0x0800,
        &ipv4_full(17, &[7, 3, 5, 0], 0, &udp(1, 2, b"")),
    ));
    assert_eq!(p.ip.unwrap().ipopts & ipopt::RR, 0);
    assert_eq!(s[Counter::Ipv4OptMalformed], 1);
    assert!(p.udp().is_some());
    // Unknown option: an event, the walk goes on.
    let (p, s) = decode(&eth(
        0x0800,
        &ipv4_full(17, &[99, 2, 1, 0], 0, &udp(1, 2, b"")),
    ));
    assert_eq!(s[Counter::Ipv4OptInvalid], 1);
    assert_eq!(p.ip.unwrap().ipopts, ipopt::NOP | ipopt::EOL);
}

#[test]
fn ipv4_header_checks() {
    let good = ipv4(17, &udp(1, 2, b"abc"));
    let mut v = good.clone();
    v[0] = 0x54;
    assert_eq!(decode(&eth(0x0800, &v)).1[Counter::Ipv4WrongIpVersion], 1);
    let mut v = good.clone();
    v[0] = 0x44;
    assert_eq!(decode(&eth(0x0800, &v)).1[Counter::Ipv4HlenTooSmall], 1);
    let mut v = good.clone();
    v[2..4].copy_from_slice(&10u16.to_be_bytes());
    assert_eq!(
        decode(&eth(0x0800, &v)).1[Counter::Ipv4IplenSmallerThanHlen],
        1
    );
    let mut v = good.clone();
    v[2..4].copy_from_slice(&100u16.to_be_bytes());
    assert_eq!(decode(&eth(0x0800, &v)).1[Counter::Ipv4TruncPkt], 1);
    assert_eq!(
        decode(&eth(0x0800, &good[..19])).1[Counter::Ipv4PktTooSmall],
        1
    );
}

#[test]
fn ipv4_fragments() {
    let first = eth(
        0x0800,
        &ipv4_full(6, &[], 0x2000, &tcp(tcpflag::ACK, &[], b"ab")),
    );
    let (p, _) = decode(&first);
    let ip = p.ip.unwrap();
    assert!(ip.is_fragment());
    assert_eq!((ip.frag_flags, ip.frag_offset), (1, 0));
    assert!(p.tcp().is_some(), "the first fragment has its L4");

    let later = eth(
        0x0800,
        &ipv4_full(6, &[], 0x0003, &[1, 2, 3, 4, 5, 6, 7, 8]),
    );
    let (p, s) = decode(&later);
    let ip = p.ip.unwrap();
    assert_eq!((ip.frag_flags, ip.frag_offset), (0, 3));
    assert_eq!(p.l4, L4::None);
    assert!(p.payload.is_empty());
    assert_eq!(s[Counter::Tcp], 0);
    assert_eq!(s[Counter::Invalid], 0);
}

// ---- IPv6 -------------------------------------------------------------------------------

#[test]
fn ipv6_extension_headers() {
    let mut chain = ext(60, &[1, 0]); // hop-by-hop -> dstopts
    chain.extend(ext(43, &[1, 0])); // dstopts -> routing
    chain.extend(ext(44, &[4, 0])); // routing (type 4) -> fragment
    chain.extend(frag6(6, 0, true, 0xabcdef)); // first fragment -> tcp
    chain.extend(tcp(tcpflag::PSH | tcpflag::ACK, &[], b"six"));
    let (p, s) = decode(&eth(0x86dd, &ipv6(0, &chain)));
    let ip = p.ip.expect("ip");
    assert_eq!(ip.version, 6);
    assert_eq!(ip.src, IpAddr::V6(Ipv6Addr::from(A6)));
    assert_eq!(ip.dst, IpAddr::V6(Ipv6Addr::from(B6)));
    assert_eq!((ip.proto, ip.ttl, ip.tos), (6, 55, 0x02));
    assert_eq!(ip.hdr_len, 40 + 8 + 8 + 8 + 8);
    assert_eq!((ip.id, ip.frag_flags, ip.frag_offset), (0xabcdef, 1, 0));
    assert_eq!(p.payload, b"six");
    assert_eq!(s[Counter::Invalid], 0);

    // Non-first fragment: no L4.
    let mut chain = frag6(17, 100, false, 9);
    chain.extend_from_slice(&[0; 16]);
    let (p, s) = decode(&eth(0x86dd, &ipv6(44, &chain)));
    let ip = p.ip.unwrap();
    assert_eq!((ip.proto, ip.frag_offset, ip.hdr_len), (17, 100, 48));
    assert_eq!(p.l4, L4::None);
    assert_eq!(s[Counter::Udp], 0);

    // AH: length in 4-byte units minus 2.
    let mut ah = vec![17, 4, 0, 0];
    ah.extend_from_slice(&[0; 20]);
    ah.extend(udp(500, 4500, b"ah"));
    let (p, s) = decode(&eth(0x86dd, &ipv6(51, &ah)));
    assert_eq!(p.payload, b"ah");
    assert_eq!(p.ip.unwrap().hdr_len, 64);
    assert_eq!(s[Counter::Invalid], 0);

    // No next header.
    let (p, s) = decode(&eth(0x86dd, &ipv6(59, &[])));
    assert_eq!(p.ip.unwrap().proto, 59);
    assert_eq!(s[Counter::Invalid], 0);

    // Routing type 0 is an event; truncated extension header is invalid.
    let (_, s) = decode(&eth(0x86dd, &ipv6(43, &ext(59, &[0, 0]))));
    assert_eq!(s[Counter::Ipv6RhType0], 1);
    let (p, s) = decode(&eth(0x86dd, &ipv6(0, &[17, 3, 0, 0, 0, 0, 0, 0])));
    assert_eq!(s[Counter::Ipv6TruncExthdr], 1);
    assert_eq!(s[Counter::Invalid], 1);
    assert!(p.ip.is_some());
    assert_eq!(p.l4, L4::None);
}

#[test]
fn ipv6_header_checks() {
    let good = ipv6(17, &udp(1, 2, b"x"));
    assert_eq!(
        decode(&eth(0x86dd, &good[..39])).1[Counter::Ipv6PktTooSmall],
        1
    );
    assert_eq!(
        decode(&eth(0x86dd, &good[..good.len() - 1])).1[Counter::Ipv6TruncPkt],
        1
    );
    let mut v = good.clone();
    v[0] = 0x40;
    assert_eq!(decode(&eth(0x86dd, &v)).1[Counter::Ipv6WrongIpVersion], 1);
    // Trailing bytes beyond the payload length are ignored.
    let mut v = good.clone();
    v.extend_from_slice(&[0xff; 8]);
    assert_eq!(decode(&eth(0x86dd, &v)).0.payload, b"x");
    // ICMPv4 over IPv6 is invalid.
    let (_, s) = decode(&eth(0x86dd, &ipv6(1, &icmp(8, 0, 1, 1, b""))));
    assert_eq!(s[Counter::Ipv6Icmpv4], 1);
}

// ---- tunnels ------------------------------------------------------------------------------

#[test]
fn gre_carrying_ipv4_ipv6_ethernet() {
    let inner4 = ipv4(17, &udp(7, 9, b"in4"));
    let (p, s) = decode(&eth(0x0800, &ipv4(47, &gre(0, 0x0800, &[], &inner4))));
    assert_eq!(p.payload, b"in4");
    assert_eq!(p.ip.unwrap().proto, 17);
    assert_eq!(s[Counter::Gre], 1);
    assert_eq!(s[Counter::Ipv4], 2);

    // Key and sequence present.
    let inner6 = ipv6(6, &tcp(tcpflag::SYN, &[], b""));
    let (p, s) = decode(&eth(
        0x0800,
        &ipv4(47, &gre(0x30, 0x86dd, &[0, 0, 0, 1, 0, 0, 0, 2], &inner6)),
    ));
    assert_eq!(p.ip.unwrap().version, 6);
    assert!(p.tcp().is_some());
    assert_eq!(s[Counter::Ipv6], 1);

    // Transparent Ethernet bridging, checksum present.
    let inner_eth = eth(0x0800, &ipv4(1, &icmp(8, 0, 3, 4, b"ping")));
    let (p, s) = decode(&eth(
        0x0800,
        &ipv4(47, &gre(0x80, 0x6558, &[0, 0, 0, 0], &inner_eth)),
    ));
    let i = p.icmp().unwrap();
    assert_eq!((i.icmp_type, i.id, i.seq), (8, 3, 4));
    assert_eq!(p.payload, b"ping");
    assert_eq!(s[Counter::Ethernet], 2);

    // Problems.
    let (_, s) = decode(&eth(0x0800, &ipv4(47, &[0, 0])));
    assert_eq!(s[Counter::GrePktTooSmall], 1);
    let (_, s) = decode(&eth(0x0800, &ipv4(47, &gre(0x01, 0x0800, &[], &inner4))));
    assert_eq!(s[Counter::GreVersion0Recur], 1);
    let (_, s) = decode(&eth(0x0800, &ipv4(47, &gre(0x20, 0x0800, &[], &[0, 0]))));
    assert_eq!(s[Counter::GreVersion0HdrTooBig], 1);
    let mut v2 = gre(0, 0x0800, &[], &inner4);
    v2[1] = 2;
    let (p, s) = decode(&eth(0x0800, &ipv4(47, &v2)));
    assert_eq!(s[Counter::GreWrongVersion], 1);
    assert_eq!(p.ip.unwrap().proto, 47, "the outer packet remains");
}

#[test]
fn ip_in_ip_all_four() {
    let in4 = ipv4(17, &udp(1, 2, b"4"));
    let in6 = ipv6(17, &udp(1, 2, b"6"));
    let (p, s) = decode(&eth(0x0800, &ipv4(4, &in4)));
    assert_eq!((p.ip.unwrap().version, p.payload), (4, &b"4"[..]));
    assert_eq!(s[Counter::Ipv4], 2);
    let (p, s) = decode(&eth(0x0800, &ipv4(41, &in6)));
    assert_eq!((p.ip.unwrap().version, p.payload), (6, &b"6"[..]));
    assert_eq!((s[Counter::Ipv4], s[Counter::Ipv6]), (1, 1));
    let (p, s) = decode(&eth(0x86dd, &ipv6(4, &in4)));
    assert_eq!((p.ip.unwrap().version, p.payload), (4, &b"4"[..]));
    assert_eq!(s[Counter::Ipv4InIpv6], 1);
    let (p, s) = decode(&eth(0x86dd, &ipv6(41, &in6)));
    assert_eq!((p.ip.unwrap().version, p.payload), (6, &b"6"[..]));
    assert_eq!(s[Counter::Ipv6InIpv6], 1);
    let (p, s) = decode(&eth(0x86dd, &ipv6(41, &in4)));
    assert_eq!(s[Counter::Ipv6Ipv6InIpv6TooSmall], 1);
    assert_eq!(p.ip.unwrap().version, 6);
    let (_, s) = decode(&eth(0x86dd, &ipv6(4, &in6)));
    assert_eq!(s[Counter::Ipv6Ipv4InIpv6WrongVersion], 1);
}

#[test]
fn tunnels_are_bounded() {
    // 20 levels of IPv4-in-IPv4: the layer budget stops it without recursion trouble.
    let mut pkt = ipv4(17, &udp(1, 2, b"deep"));
    for _ in 0..20 {
        pkt = ipv4(4, &pkt);
    }
    let (p, s) = decode(&eth(0x0800, &pkt));
    assert_eq!(s[Counter::TooManyLayers], 1);
    assert_eq!(s[Counter::Invalid], 1);
    assert_eq!(p.l4, L4::None);
}

// ---- TCP, UDP, ICMP ---------------------------------------------------------------------

#[test]
fn tcp_checks_and_option_events() {
    let (p, s) = decode(&eth(0x0800, &ipv4(6, &[0; 19])));
    assert_eq!(p.l4, L4::None);
    assert_eq!(s[Counter::TcpPktTooSmall], 1);
    let mut t = tcp(tcpflag::ACK, &[], b"");
    t[12] = 0x60; // 24-byte header in a 20-byte segment
    assert_eq!(
        decode(&eth(0x0800, &ipv4(6, &t))).1[Counter::TcpHlenTooSmall],
        1
    );
    t[12] = 0x40;
    assert_eq!(
        decode(&eth(0x0800, &ipv4(6, &t))).1[Counter::TcpInvalidOptlen],
        1
    );
    // Bad MSS length, duplicate window scale, option running past the header.
    let (p, s) = decode(&eth(
        0x0800,
        &ipv4(6, &tcp(0, &[2, 3, 0, 3, 3, 1, 3, 3, 2, 1, 1, 1], b"")),
    ));
    let t = p.tcp().unwrap();
    assert_eq!((t.mss, t.wscale), (None, Some(1)));
    assert_eq!(s[Counter::TcpOptInvalidLen], 1);
    assert_eq!(s[Counter::TcpOptDuplicate], 1);
    assert_eq!(s[Counter::Invalid], 0);
    let (_, s) = decode(&eth(0x0800, &ipv4(6, &tcp(0, &[1, 1, 8, 10], b""))));
    assert_eq!(s[Counter::TcpOptInvalidLen], 1);
}

#[test]
fn udp_checks() {
    let (p, s) = decode(&eth(0x0800, &ipv4(17, &udp(5, 6, b"data"))));
    let u = p.udp().unwrap();
    assert_eq!((u.src_port, u.dst_port, u.len), (5, 6, 12));
    assert_eq!(p.payload, b"data");
    assert_eq!(s[Counter::Udp], 1);
    assert_eq!(
        decode(&eth(0x0800, &ipv4(17, &[0; 7]))).1[Counter::UdpHlenTooSmall],
        1
    );
    let mut u = udp(5, 6, b"data");
    u[4..6].copy_from_slice(&20u16.to_be_bytes());
    assert_eq!(
        decode(&eth(0x0800, &ipv4(17, &u))).1[Counter::UdpPktTooSmall],
        1
    );
    u[4..6].copy_from_slice(&4u16.to_be_bytes());
    assert_eq!(
        decode(&eth(0x0800, &ipv4(17, &u))).1[Counter::UdpLenInvalid],
        1
    );
    u[4..6].copy_from_slice(&10u16.to_be_bytes());
    let (p, s) = decode(&eth(0x0800, &ipv4(17, &u)));
    assert_eq!(p.payload, b"da");
    assert_eq!(s[Counter::UdpHlenInvalid], 1);
    assert_eq!(s[Counter::Invalid], 0);
}

#[test]
fn icmp_v4_and_v6() {
    let (p, s) = decode(&eth(0x0800, &ipv4(1, &icmp(8, 0, 0x1234, 1, b"heartbeat"))));
    let i = p.icmp().unwrap();
    assert_eq!((i.icmp_type, i.code, i.id, i.seq), (8, 0, 0x1234, 1));
    assert_eq!(p.payload, b"heartbeat");
    assert_eq!(s[Counter::Icmpv4], 1);
    assert_eq!(
        decode(&eth(0x0800, &ipv4(1, &[8, 0, 0, 0]))).1[Counter::Icmpv4PktTooSmall],
        1
    );
    assert_eq!(
        decode(&eth(0x0800, &ipv4(1, &icmp(77, 0, 0, 0, b"")))).1[Counter::Icmpv4UnknownType],
        1
    );
    assert_eq!(
        decode(&eth(0x0800, &ipv4(1, &icmp(0, 5, 0, 0, b"")))).1[Counter::Icmpv4UnknownCode],
        1
    );
    assert_eq!(
        decode(&eth(0x0800, &ipv4(1, &icmp(3, 1, 0, 0, b"short")))).1[Counter::Icmpv4Ipv4TruncPkt],
        1
    );

    let (p, s) = decode(&eth(0x86dd, &ipv6(58, &icmp(129, 0, 9, 10, b"pong"))));
    let i = p.icmp().unwrap();
    assert_eq!((i.icmp_type, i.id, i.seq), (129, 9, 10));
    assert_eq!(p.payload, b"pong");
    assert_eq!(s[Counter::Icmpv6], 1);
    assert_eq!(
        decode(&eth(0x86dd, &ipv6(58, &[128, 0, 0]))).1[Counter::Icmpv6PktTooSmall],
        1
    );
    let (_, s) = decode(&eth(0x0800, &ipv4(58, &icmp(128, 0, 0, 0, b""))));
    assert_eq!(s[Counter::Ipv4Icmpv6], 1);
    assert_eq!(s[Counter::Invalid], 1);
}

// ---- TZSP -------------------------------------------------------------------------------

fn tzsp_frame(payload: &[u8], port: u16) -> Vec<u8> {
    eth(0x0800, &ipv4(17, &udp(37008, port, payload)))
}

#[test]
fn tzsp_decapsulation() {
    let inner = eth(
        0x8100,
        &vlan(7, 0x0800, &ipv4(6, &tcp(tcpflag::ACK, &[], b"in"))),
    );
    // A padding tag, a TLV tag (RSSI), then END.
    let bytes = tzsp_frame(&tzsp(1, &[0, 10, 1, 0xd0, 1], &inner), 37008);
    let (p, s) = decode(&bytes);
    assert!(p.tzsp);
    assert_eq!(p.frame, &inner[..]);
    assert_eq!(p.len as usize, inner.len());
    assert_eq!(p.ts, Timestamp { secs: 1, nanos: 2 });
    assert_eq!(p.vlans(), &[7]);
    assert_eq!(p.payload, b"in");
    assert_eq!(p.tcp().unwrap().dst_port, 80);
    assert_eq!(s[Counter::TzspPackets], 1);
    // The transport is not counted: the stats describe the mirrored traffic.
    assert_eq!(
        (s[Counter::Ethernet], s[Counter::Ipv4], s[Counter::Udp]),
        (1, 1, 0)
    );
    assert_eq!((s[Counter::Tcp], s[Counter::Vlan]), (1, 1));
    assert_eq!(s[Counter::Bytes] as usize, inner.len());
}

#[test]
fn tzsp_problems_leave_the_outer_packet() {
    let inner = eth(0x0800, &ipv4(17, &udp(1, 2, b"x")));
    let cases: [(Vec<u8>, Counter); 5] = [
        (tzsp(1, &[10, 200], &inner), Counter::TzspMalformed), // TLV past the end
        (tzsp(1, &[0, 0], &[]), Counter::TzspMalformed),       // no END
        (vec![2, 0, 0, 1, 1], Counter::TzspMalformed),         // version 2
        (tzsp(18, &[1], &inner), Counter::TzspUnknownEncapsulation),
        (vec![1, 4, 0, 1, 1], Counter::TzspUnsupportedType), // keepalive
    ];
    for (payload, counter) in cases {
        let bytes = tzsp_frame(&payload, 37008);
        let (p, s) = decode(&bytes);
        assert!(!p.tzsp);
        assert_eq!(p.udp().unwrap().dst_port, 37008);
        assert_eq!(p.payload, &payload[..]);
        assert_eq!(s[counter], 1, "{counter:?}");
        assert_eq!(s[Counter::TzspPackets], 0);
        assert_eq!(s[Counter::Udp], 1);
    }
}

#[test]
fn tzsp_in_a_fragment_is_counted_not_decapsulated() {
    let inner = eth(0x0800, &ipv4(17, &udp(1, 2, b"x")));
    let dgram = udp(37008, 37008, &tzsp(1, &[1], &inner));
    let (p, s) = decode(&eth(0x0800, &ipv4_full(17, &[], 0x2000, &dgram)));
    assert!(!p.tzsp);
    assert_eq!(s[Counter::TzspFragmented], 1);
    assert_eq!(s[Counter::TzspPackets], 0);
}

#[test]
fn tzsp_port_and_switch() {
    let inner = eth(0x0800, &ipv4(17, &udp(1, 2, b"x")));
    let bytes = tzsp_frame(&tzsp(1, &[1], &inner), 9999);
    assert!(!decode(&bytes).0.tzsp);
    let mut d = Decoder::with_config(DecoderConfig {
        tzsp_port: 9999,
        ..DecoderConfig::default()
    });
    assert!(d.decode(&frame(LinkType::Ethernet, &bytes)).tzsp);
    let bytes = tzsp_frame(&tzsp(1, &[1], &inner), 37008);
    let mut d = Decoder::with_config(DecoderConfig {
        tzsp: false,
        ..DecoderConfig::default()
    });
    assert!(!d.decode(&frame(LinkType::Ethernet, &bytes)).tzsp);
    assert_eq!(d.config().tzsp_port, 37008);
}

// ---- robustness ---------------------------------------------------------------------------

/// Every valid sample, with its link type.
fn samples() -> Vec<(LinkType, Vec<u8>)> {
    let mut v6chain = ext(44, &[1, 0]);
    v6chain.extend(frag6(6, 0, false, 1));
    v6chain.extend(tcp_syn());
    let inner = eth(0x0800, &ipv4(6, &tcp(tcpflag::ACK, &[], b"in")));
    let mut sll = vec![0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x08, 0];
    sll.extend(ipv4(17, &udp(1, 2, b"s")));
    let mut null = 2u32.to_le_bytes().to_vec();
    null.extend(ipv4(1, &icmp(8, 0, 1, 1, b"n")));
    vec![
        (LinkType::Ethernet, eth(0x0800, &ipv4(6, &tcp_syn()))),
        (
            LinkType::Ethernet,
            eth(
                0x0800,
                &ipv4_full(17, &[1, 7, 7, 4, 0, 0, 0, 0], 0, &udp(1, 2, b"o")),
            ),
        ),
        (
            LinkType::Ethernet,
            eth(
                0x88a8,
                &vlan(1, 0x8100, &vlan(2, 0x86dd, &ipv6(0, &v6chain))),
            ),
        ),
        (
            LinkType::Ethernet,
            eth(0x0800, &ipv4(47, &gre(0x20, 0x6558, &[0, 0, 0, 1], &inner))),
        ),
        (
            LinkType::Ethernet,
            eth(0x86dd, &ipv6(4, &ipv4(17, &udp(1, 2, b"x")))),
        ),
        (
            LinkType::Ethernet,
            eth(0x86dd, &ipv6(58, &icmp(128, 0, 1, 2, b"p"))),
        ),
        (
            LinkType::Ethernet,
            tzsp_frame(&tzsp(1, &[0, 10, 1, 5, 1], &inner), 37008),
        ),
        (LinkType::Sll, sll),
        (LinkType::Null, null),
        (LinkType::Raw, ipv6(17, &udp(1, 2, b"r"))),
    ]
}

#[test]
fn samples_decode_cleanly() {
    for (i, (link, bytes)) in samples().iter().enumerate() {
        let (p, s) = decode_link(*link, bytes);
        assert_eq!(s[Counter::Invalid], 0, "sample {i}");
        assert!(p.ip.is_some(), "sample {i}");
        assert_ne!(p.l4, L4::None, "sample {i}");
    }
}

#[test]
fn truncation_at_every_length_is_counted() {
    for (i, (link, bytes)) in samples().iter().enumerate() {
        for cut in 0..bytes.len() {
            let mut d = Decoder::new();
            let p = d.decode(&frame(*link, &bytes[..cut]));
            assert_eq!(d.stats[Counter::Pkts], 1);
            assert_eq!(
                d.stats[Counter::Invalid],
                1,
                "sample {i} cut at {cut}: {:?}",
                p.l4
            );
        }
    }
}

#[test]
fn random_bytes_never_panic() {
    let links = [
        LinkType::Ethernet,
        LinkType::Raw,
        LinkType::Ipv4,
        LinkType::Ipv6,
        LinkType::Sll,
        LinkType::Sll2,
        LinkType::Null,
    ];
    let mut seed = 0x9e37_79b9u32;
    let mut rnd = move || {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        seed
    };
    let mut d = Decoder::new();
    let mut buf = vec![0u8; 256];
    for round in 0..20_000 {
        let len = (rnd() % 200) as usize;
        for b in buf.iter_mut().take(len) {
            *b = rnd() as u8;
        }
        // Bias towards plausible headers so the walk goes deep.
        if len > 40 {
            buf[12] = 0x08;
            buf[13] = 0;
            buf[14] = 0x45 + (rnd() % 3) as u8;
            if round % 3 == 0 {
                buf[23] = [4, 6, 17, 41, 47, 1, 58][(rnd() % 7) as usize];
            }
        }
        let link = links[round % links.len()];
        let _ = d.decode(&frame(link, &buf[..len]));
    }
    // Also mutate the valid samples byte by byte.
    for (link, bytes) in samples() {
        let mut m = bytes.clone();
        for i in 0..m.len() {
            for v in [0u8, 0xff, m[i] ^ 0x0f] {
                let old = m[i];
                m[i] = v;
                let _ = d.decode(&frame(link, &m));
                m[i] = old;
            }
        }
    }
    assert!(d.stats[Counter::Pkts] > 20_000);
}

#[test]
fn stats_visit_in_suricata_order() {
    let (_, s) = decode(&eth(0x0800, &ipv4(6, &tcp_syn())));
    let mut names = Vec::new();
    s.for_each(|n, v| names.push((n.to_string(), v)));
    assert_eq!(names[0], ("decoder.pkts".to_string(), 1));
    assert!(names.iter().any(|(n, v)| n == "decoder.tcp" && *v == 1));
    assert!(names.iter().any(|(n, _)| n == "tzsp.packets"));
}

#[test]
fn first_fragment_keeps_a_cut_udp_header() {
    let mut dgram = udp(4444, 5555, &[7u8; 64]);
    dgram.truncate(40);
    let (p, s) = decode(&eth(0x0800, &ipv4_full(17, &[], 0x2000, &dgram)));
    let u = p.udp().expect("udp");
    assert_eq!((u.src_port, u.dst_port, u.len), (4444, 5555, 72));
    assert_eq!(p.payload.len(), 32);
    assert_eq!(s[Counter::Invalid], 0);
    // Not a fragment: the same datagram is too small.
    let (p, s) = decode(&eth(0x0800, &ipv4_full(17, &[], 0, &dgram)));
    assert!(p.udp().is_none());
    assert_eq!(s[Counter::UdpPktTooSmall], 1);
}
