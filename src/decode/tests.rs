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
        offloaded: false,
    }
}

/// Decodes a copy of `data` as Ethernet (the copy is leaked so the packet can outlive the
/// temporary the tests build inline); the innermost packet and the stats.
fn decode(data: &[u8]) -> (Packet<'static>, DecodeStats) {
    decode_link(LinkType::Ethernet, data)
}

fn decode_link(link: LinkType, data: &[u8]) -> (Packet<'static>, DecodeStats) {
    let (d, s) = decode_all_with(DecoderConfig::default(), link, data);
    (*d.innermost(), s)
}

/// Every packet of an Ethernet frame, in processing order, and the stats.
fn decode_all(data: &[u8]) -> (Decoded<'static>, DecodeStats) {
    decode_all_with(DecoderConfig::default(), LinkType::Ethernet, data)
}

fn decode_all_with(
    cfg: DecoderConfig,
    link: LinkType,
    data: &[u8],
) -> (Decoded<'static>, DecodeStats) {
    let data: &'static [u8] = Box::leak(data.to_vec().into_boxed_slice());
    let mut d = Decoder::with_config(cfg);
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
fn ipv4_fragments_stop_at_the_ip_header() {
    // Suricata's DecodeIPV4: a fragment (more to come, or an offset) goes to Defrag() and
    // is not decoded further, the first one included
    let first = eth(
        0x0800,
        &ipv4_full(6, &[], 0x2000, &tcp(tcpflag::ACK, &[], b"ab")),
    );
    let (p, s) = decode(&first);
    let ip = p.ip.unwrap();
    assert!(ip.is_fragment());
    assert_eq!((ip.frag_flags, ip.frag_offset, ip.proto), (1, 0, 6));
    assert_eq!(p.l4, L4::None);
    assert!(!p.wants_flow);
    assert_eq!(s[Counter::Tcp], 0);

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

#[test]
fn ipv4_fragments_are_reassembled_into_a_packet_of_their_own() {
    let dgram = udp(4444, 5555, b"0123456789abcdefFRAGMENTED!");
    let (a, b) = dgram.split_at(16);
    let f1 = eth(0x0800, &ipv4_full(17, &[], 0x2000, a));
    let f2 = eth(0x0800, &ipv4_full(17, &[], 2, b));
    let mut d = Decoder::new();
    let ts = |secs| Timestamp { secs, nanos: 0 };
    let n = d.decode_with(
        &Frame {
            ts: ts(1),
            ..frame(LinkType::Ethernet, &f1)
        },
        |x| x.len(),
    );
    assert_eq!(n, 1, "the first fragment alone");
    d.decode_with(
        &Frame {
            ts: ts(2),
            ..frame(LinkType::Ethernet, &f2)
        },
        |x| {
            assert_eq!(x.len(), 2);
            let r = &x.tunnelled()[0];
            assert_eq!(r.src, PktSrc::Defrag);
            assert_eq!(r.depth, 0);
            assert_eq!(r.ts, ts(2));
            let u = r.udp().expect("udp");
            assert_eq!((u.src_port, u.dst_port), (4444, 5555));
            assert_eq!(r.payload, b"0123456789abcdefFRAGMENTED!");
            assert_eq!(r.len as usize, 14 + 20 + dgram.len());
            let ip = r.ip.unwrap();
            assert!(!ip.is_fragment());
            assert!(r.wants_flow);
            assert_eq!(x.root().l4, L4::None);
        },
    );
    let s = &d.stats;
    assert_eq!(
        (s[Counter::Pkts], s[Counter::Ipv4], s[Counter::Udp]),
        (2, 3, 1)
    );
    assert_eq!(s[Counter::Ethernet], 2);
    let ds = d.defrag.stats();
    assert_eq!((ds.ipv4_fragments, ds.ipv4_reassembled), (2, 1));
    // `decode` tracks fragments but does not rebuild packets
    let mut d = Decoder::new();
    d.decode(&frame(LinkType::Ethernet, &f1));
    let x = d.decode(&frame(LinkType::Ethernet, &f2));
    assert_eq!(x.len(), 1);
    assert_eq!(d.defrag.stats().ipv4_reassembled, 0);
}

#[test]
fn fragment_events() {
    // overlapping fragments
    let dgram = udp(1, 2, &[7u8; 24]);
    let f1 = eth(0x0800, &ipv4_full(17, &[], 0x2000, &dgram[..16]));
    let f2 = eth(0x0800, &ipv4_full(17, &[], 0x2001, &dgram[8..24]));
    let mut d = Decoder::new();
    d.decode(&frame(LinkType::Ethernet, &f1));
    d.decode(&frame(LinkType::Ethernet, &f2));
    assert_eq!(d.stats[Counter::Ipv4FragOverlap], 1);
    // past 65535 bytes
    let (_, s) = decode(&eth(0x0800, &ipv4_full(17, &[], 0x1fff, &[0; 16])));
    assert_eq!(s[Counter::Ipv4FragPktTooLarge], 1);
    // IPv6: more to come, not a multiple of 8 bytes
    let mut chain = frag6(17, 0, true, 5);
    chain.extend_from_slice(&[0; 13]);
    let (p, s) = decode(&eth(0x86dd, &ipv6(44, &chain)));
    assert_eq!(s[Counter::Ipv6FragInvalidLength], 1);
    assert_eq!(p.ip.unwrap().proto, 44);
    assert_eq!(p.l4, L4::None);
}

// ---- IPv6 -------------------------------------------------------------------------------

#[test]
fn ipv6_extension_headers() {
    let mut chain = ext(60, &[1, 0]); // hop-by-hop -> dstopts
    chain.extend(ext(43, &[1, 0])); // dstopts -> routing
    chain.extend(ext(44, &[4, 0])); // routing (type 4) -> fragment
    chain.extend(frag6(6, 0, false, 0xabcdef)); // a fragment header alone -> tcp
    chain.extend(tcp(tcpflag::PSH | tcpflag::ACK, &[], b"six"));
    let (p, s) = decode(&eth(0x86dd, &ipv6(0, &chain)));
    let ip = p.ip.expect("ip");
    assert_eq!(ip.version, 6);
    assert_eq!(ip.src, IpAddr::V6(Ipv6Addr::from(A6)));
    assert_eq!(ip.dst, IpAddr::V6(Ipv6Addr::from(B6)));
    assert_eq!((ip.proto, ip.ttl, ip.tos), (6, 55, 0x02));
    assert_eq!(ip.hdr_len, 40 + 8 + 8 + 8 + 8);
    assert_eq!((ip.id, ip.frag_flags, ip.frag_offset), (0xabcdef, 0, 0));
    assert_eq!(p.payload, b"six");
    assert_eq!(s[Counter::Ipv6ExthdrUselessFh], 1);
    assert_eq!(s[Counter::Invalid], 0);

    // A fragment: no L4; the protocol is the fragment header's (Suricata's p->proto).
    let mut chain = frag6(17, 100, false, 9);
    chain.extend_from_slice(&[0; 16]);
    let (p, s) = decode(&eth(0x86dd, &ipv6(44, &chain)));
    let ip = p.ip.unwrap();
    assert_eq!((ip.proto, ip.frag_offset, ip.hdr_len), (44, 100, 40));
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

/// The one tunnelled packet of `d` (asserting there is exactly one).
fn only_tunnelled<'a>(d: &'a Decoded<'static>) -> &'a Packet<'static> {
    assert_eq!(d.len(), 2, "{d:#?}");
    &d.tunnelled()[0]
}

#[test]
fn gre_carrying_ipv4_ipv6_ethernet() {
    let inner4 = ipv4(17, &udp(7, 9, b"in4"));
    let (d, s) = decode_all(&eth(0x0800, &ipv4(47, &gre(0, 0x0800, &[], &inner4))));
    let p = only_tunnelled(&d);
    assert_eq!(p.payload, b"in4");
    assert_eq!(p.ip.unwrap().proto, 17);
    assert_eq!((p.depth, p.src, p.wants_flow), (1, PktSrc::Gre, true));
    assert_eq!(
        p.frame,
        &inner4[..],
        "the tunnelled packet starts at its IP header"
    );
    let root = d.root();
    assert_eq!(root.ip.unwrap().proto, 47);
    assert_eq!((root.depth, root.src), (0, PktSrc::Wire));
    assert!(root.carries_tunnel);
    assert!(!root.wants_flow, "a GRE packet has no flow");
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

    // 802.1Q inside GRE is a tunnelled packet with its VLAN; 802.1ad is not taken.
    let (p, _) = decode(&eth(
        0x0800,
        &ipv4(47, &gre(0, 0x8100, &[], &vlan(9, 0x0800, &inner4))),
    ));
    assert_eq!((p.depth, p.vlans()), (1, &[9][..]));
    let (d, _) = decode_all(&eth(
        0x0800,
        &ipv4(47, &gre(0, 0x88a8, &[], &vlan(9, 0x0800, &inner4))),
    ));
    assert_eq!(d.len(), 1);
    assert!(!d.root().carries_tunnel);

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
    // Version 1 without a key and with a protocol other than PPP: the protocol is checked
    // first, as in Suricata.
    let mut v1 = gre(0, 0x0800, &[], &inner4);
    v1[1] = 1;
    let (_, s) = decode(&eth(0x0800, &ipv4(47, &v1)));
    assert_eq!(
        (
            s[Counter::GreVersion1WrongProtocol],
            s[Counter::GreVersion1NoKey]
        ),
        (1, 0)
    );
    // An inner packet that fails to decode is dropped with its events; the carrier stays.
    let (d, s) = decode_all(&eth(0x0800, &ipv4(47, &gre(0, 0x0800, &[], &[0x45; 10]))));
    assert_eq!(d.len(), 1);
    assert!(!d.root().carries_tunnel);
    assert_eq!((s[Counter::Ipv4], s[Counter::Ipv4PktTooSmall]), (2, 0));
    assert_eq!(s[Counter::Invalid], 0);
}

#[test]
fn ip_in_ip() {
    let in4 = ipv4(17, &udp(1, 2, b"4"));
    let in6 = ipv6(17, &udp(1, 2, b"6"));
    // IPv4 in IPv4: Suricata 7 does not decapsulate it, and gives the packet no flow.
    let (d, s) = decode_all(&eth(0x0800, &ipv4(4, &in4)));
    assert_eq!(d.len(), 1);
    let root = d.root();
    assert_eq!((root.ip.unwrap().proto, root.l4), (4, L4::None));
    assert!(!root.wants_flow && !root.carries_tunnel);
    assert_eq!(s[Counter::Ipv4], 1);
    // IPv6 in IPv4: the carrier has a flow of its own.
    let (d, s) = decode_all(&eth(0x0800, &ipv4(41, &in6)));
    let p = only_tunnelled(&d);
    assert_eq!((p.ip.unwrap().version, p.payload), (6, &b"6"[..]));
    assert_eq!((p.depth, p.src), (1, PktSrc::Ipv4Tunnel));
    assert!(d.root().wants_flow && d.root().carries_tunnel);
    assert_eq!((s[Counter::Ipv4], s[Counter::Ipv6]), (1, 1));
    // IPv4 and IPv6 in IPv6: no flow for the carrier.
    let (d, s) = decode_all(&eth(0x86dd, &ipv6(4, &in4)));
    let p = only_tunnelled(&d);
    assert_eq!((p.ip.unwrap().version, p.payload), (4, &b"4"[..]));
    assert_eq!(p.src, PktSrc::Ipv6Tunnel);
    assert!(!d.root().wants_flow);
    assert_eq!(s[Counter::Ipv4InIpv6], 1);
    let (d, s) = decode_all(&eth(0x86dd, &ipv6(41, &in6)));
    let p = only_tunnelled(&d);
    assert_eq!((p.ip.unwrap().version, p.payload), (6, &b"6"[..]));
    assert_eq!(s[Counter::Ipv6InIpv6], 1);
    // Problems: too small is invalid, a wrong version only an event.
    let (d, s) = decode_all(&eth(0x86dd, &ipv6(41, &in4)));
    assert_eq!(s[Counter::Ipv6Ipv6InIpv6TooSmall], 1);
    assert_eq!(s[Counter::Invalid], 1);
    assert_eq!(d.len(), 1);
    let (_, s) = decode(&eth(0x86dd, &ipv6(4, &in6)));
    assert_eq!(s[Counter::Ipv6Ipv4InIpv6WrongVersion], 1);
    assert_eq!(s[Counter::Invalid], 0);
    // The inner packet decodes but is not kept: counted as a layer, not as 4in6.
    let (d, s) = decode_all(&eth(0x86dd, &ipv6(4, &ipv4(17, &[0; 3]))));
    assert_eq!(d.len(), 2);
    assert_eq!(s[Counter::Ipv4InIpv6], 1);
    let mut bad4 = in4.clone();
    bad4[0] = 0x44; // header length 16
    let (d, s) = decode_all(&eth(0x86dd, &ipv6(4, &bad4)));
    assert_eq!(d.len(), 1);
    assert_eq!((s[Counter::Ipv4], s[Counter::Ipv4InIpv6]), (1, 0));
    assert_eq!(
        s[Counter::Ipv4HlenTooSmall],
        0,
        "the dropped packet's event"
    );
    // After extension headers only IPv4 in IPv6 is decapsulated (as in Suricata).
    let (d, s) = decode_all(&eth(
        0x86dd,
        &ipv6(60, &[ext(41, &[1, 0]), in6.clone()].concat()),
    ));
    assert_eq!(d.len(), 1);
    assert_eq!(s[Counter::Ipv6UnknownNextHeader], 1);
    let (d, _) = decode_all(&eth(0x86dd, &ipv6(60, &[ext(4, &[1, 0]), in4].concat())));
    assert_eq!(d.len(), 2);
}

#[test]
fn tunnels_are_bounded_by_the_layer_budget() {
    // Suricata 7.0.10 on 20 levels of IPv6 in IPv6 and of GRE: 6 and 4 tunnelled packets,
    // one decoder.too_many_layers in all (the 6in6 packet that hits the budget is dropped with
    // its event), no invalid captured packet.
    let mut deep6 = ipv6(17, &udp(1, 2, b"deep"));
    let mut deep4 = ipv4(1, &icmp(8, 0, 1, 1, b"deep"));
    for _ in 0..20 {
        deep6 = ipv6(41, &deep6);
        deep4 = ipv4(47, &gre(0, 0x0800, &[], &deep4));
    }
    let mut d = Decoder::new();
    let f6 = eth(0x86dd, &deep6);
    let f4 = eth(0x0800, &deep4);
    let p6 = d.decode(&frame(LinkType::Ethernet, &f6));
    let depths: Vec<u8> = p6.packets().map(|p| p.depth).collect();
    assert_eq!(depths, [6, 5, 4, 3, 2, 1, 0]);
    let p4 = d.decode(&frame(LinkType::Ethernet, &f4));
    let depths: Vec<u8> = p4.packets().map(|p| p.depth).collect();
    assert_eq!(depths, [4, 3, 2, 1, 0]);
    let s = &d.stats;
    assert_eq!((s[Counter::Ipv6], s[Counter::Ipv6InIpv6]), (8, 6));
    assert_eq!((s[Counter::Ipv4], s[Counter::Gre]), (5, 5));
    assert_eq!((s[Counter::TooManyLayers], s[Counter::Invalid]), (1, 0));
    // Raw IPv6 saves the Ethernet layer: one level more, the most the budget allows, and
    // what the packet list has room for.
    let raw = d.decode(&frame(LinkType::Raw, &deep6));
    let depths: Vec<u8> = raw.packets().map(|p| p.depth).collect();
    assert_eq!(depths, [7, 6, 5, 4, 3, 2, 1, 0]);
    assert_eq!(raw.len(), MAX_PACKETS);
    assert_eq!(
        raw.innermost().ip.unwrap().proto,
        41,
        "the next level is not decoded"
    );
    // A bigger budget than the list allows: the list stops the tunnels, counted as too many
    // layers, and the captured packet is still last.
    let mut big = Decoder::with_config(DecoderConfig {
        max_layers: 64,
        ..DecoderConfig::default()
    });
    let raw = big.decode(&frame(LinkType::Raw, &deep6));
    assert_eq!(raw.len(), MAX_PACKETS);
    assert_eq!(raw.root().depth, 0);
    assert_eq!(big.stats[Counter::TooManyLayers], 1);
}

fn vxlan(flags: u8, reserved: u8, frame: &[u8]) -> Vec<u8> {
    let mut v = vec![flags, 0, 0, 0, 0, 0, 42, reserved];
    v.extend_from_slice(frame);
    v
}

fn geneve(opt_words: u8, flags: u8, proto: u16, opts: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut v = vec![opt_words, flags];
    v.extend_from_slice(&proto.to_be_bytes());
    v.extend_from_slice(&[0, 0, 7, 0]);
    v.extend_from_slice(opts);
    v.extend_from_slice(payload);
    v
}

#[test]
fn vxlan_carries_ethernet_payloads() {
    let inner = ipv4(1, &icmp(8, 0, 5, 6, b"heartbeat_ping"));
    let bytes = eth(
        0x0800,
        &ipv4(17, &udp(50000, 4789, &vxlan(0x08, 0, &eth(0x0800, &inner)))),
    );
    let (d, s) = decode_all(&bytes);
    let p = only_tunnelled(&d);
    assert_eq!((p.depth, p.src), (1, PktSrc::Vxlan));
    assert_eq!(p.frame, &inner[..], "the inner Ethernet header is skipped");
    assert_eq!(p.payload, b"heartbeat_ping");
    let root = d.root();
    assert!(root.carries_tunnel && root.wants_flow);
    assert_eq!(root.udp().unwrap().dst_port, 4789);
    assert_eq!(s[Counter::Vxlan], 1);
    assert_eq!(
        (s[Counter::Ethernet], s[Counter::Ipv4], s[Counter::Udp]),
        (1, 2, 1)
    );

    // The source port counts too; VLAN-tagged and IPv6 frames; ARP is counted as VXLAN only.
    let tagged = eth(0x8100, &vlan(5, 0x86dd, &ipv6(17, &udp(1, 2, b"v6"))));
    let (d, _) = decode_all(&eth(
        0x0800,
        &ipv4(17, &udp(4789, 1, &vxlan(0x08, 0, &tagged))),
    ));
    let p = only_tunnelled(&d);
    assert_eq!((p.vlans(), p.payload), (&[5][..], &b"v6"[..]));
    let arp = eth(0x0806, &[0; 28]);
    let (d, s) = decode_all(&eth(
        0x0800,
        &ipv4(17, &udp(1, 4789, &vxlan(0x08, 0, &arp))),
    ));
    assert_eq!(d.len(), 1);
    assert_eq!(
        (s[Counter::Vxlan], s[Counter::Arp], s[Counter::Invalid]),
        (1, 0, 0)
    );
    // An unknown EtherType makes the carrier invalid.
    let odd = eth(0x1234, &[0; 28]);
    let (d, s) = decode_all(&eth(
        0x0800,
        &ipv4(17, &udp(1, 4789, &vxlan(0x08, 0, &odd))),
    ));
    assert_eq!(d.len(), 1);
    assert!(!d.root().carries_tunnel && d.root().wants_flow);
    assert_eq!(
        (s[Counter::VxlanUnknownPayloadType], s[Counter::Invalid]),
        (1, 1)
    );
    // Not VXLAN: no I flag, a reserved byte set, too short, another port. Plain UDP then.
    for payload in [
        vxlan(0x00, 0, &eth(0x0800, &inner)),
        vxlan(0x08, 1, &eth(0x0800, &inner)),
        vxlan(0x08, 0, &[0; 13]),
    ] {
        let (d, s) = decode_all(&eth(0x0800, &ipv4(17, &udp(1, 4789, &payload))));
        assert_eq!(d.len(), 1);
        assert_eq!(d.root().payload, &payload[..]);
        assert_eq!(s[Counter::Vxlan], 0);
    }
    let other = eth(
        0x0800,
        &ipv4(17, &udp(1, 8472, &vxlan(0x08, 0, &eth(0x0800, &inner)))),
    );
    assert_eq!(decode_all(&other).0.len(), 1);
    // Configured: another port, or off.
    let cfg = DecoderConfig {
        vxlan: UdpTunnel::on_ports(&[8472]),
        ..DecoderConfig::default()
    };
    assert_eq!(decode_all_with(cfg, LinkType::Ethernet, &other).0.len(), 2);
    let cfg = DecoderConfig {
        vxlan: UdpTunnel::disabled(),
        ..DecoderConfig::default()
    };
    assert_eq!(decode_all_with(cfg, LinkType::Ethernet, &bytes).0.len(), 1);
}

#[test]
fn geneve_header_and_options() {
    let inner = ipv4(17, &udp(1, 2, b"gen"));
    // One 8-byte option (class, type, length 1 word, data).
    let opt = [0x01, 0x02, 0x03, 0x01, 9, 9, 9, 9];
    let g = geneve(2, 0, 0x0800, &opt, &inner);
    let (d, s) = decode_all(&eth(0x0800, &ipv4(17, &udp(50000, 6081, &g))));
    let p = only_tunnelled(&d);
    assert_eq!((p.src, p.payload), (PktSrc::Geneve, &b"gen"[..]));
    assert_eq!(s[Counter::Geneve], 1);
    // Ethernet (transparent bridging) is decoded as Ethernet.
    let g = geneve(0, 0, 0x6558, &[], &eth(0x86dd, &ipv6(17, &udp(3, 4, b"e"))));
    let (d, s) = decode_all(&eth(0x0800, &ipv4(17, &udp(6081, 1, &g))));
    assert_eq!(only_tunnelled(&d).payload, b"e");
    assert_eq!(s[Counter::Ethernet], 2);
    // Unknown protocol: the carrier is invalid.
    let g = geneve(0, 0, 0x1234, &[], &inner);
    let (d, s) = decode_all(&eth(0x0800, &ipv4(17, &udp(6081, 1, &g))));
    assert_eq!(d.len(), 1);
    assert_eq!(
        (s[Counter::GeneveUnknownPayloadType], s[Counter::Invalid]),
        (1, 1)
    );
    // Not Geneve: version 1, reserved flags, option lengths that do not add up, options past
    // the end.
    for g in [
        geneve(0x40, 0, 0x0800, &[], &inner),
        geneve(0, 0x01, 0x0800, &[], &inner),
        geneve(2, 0, 0x0800, &[0, 0, 0, 0, 0, 0, 0, 2], &inner),
        geneve(63, 0, 0x0800, &[], &[]),
    ] {
        let (d, s) = decode_all(&eth(0x0800, &ipv4(17, &udp(6081, 1, &g))));
        assert_eq!(d.len(), 1);
        assert_eq!(s[Counter::Geneve], 0);
    }
}

#[test]
fn teredo_heuristics() {
    let v6 = ipv6(58, &icmp(128, 0, 1, 2, b"t"));
    let (d, s) = decode_all(&eth(0x0800, &ipv4(17, &udp(3544, 50000, &v6))));
    let p = only_tunnelled(&d);
    assert_eq!((p.src, p.payload), (PktSrc::Teredo, &b"t"[..]));
    assert_eq!(s[Counter::Teredo], 1);
    // With an origin indication.
    let mut oi = vec![0, 0, 0x12, 0x34, 1, 2, 3, 4];
    oi.extend_from_slice(&v6);
    let (d, _) = decode_all(&eth(0x0800, &ipv4(17, &udp(50000, 3544, &oi))));
    assert_eq!(only_tunnelled(&d).payload, b"t");
    // Any port when configured so.
    let other = eth(0x0800, &ipv4(17, &udp(7000, 7001, &v6)));
    assert_eq!(decode_all(&other).0.len(), 1);
    let cfg = DecoderConfig {
        teredo: UdpTunnel::any_port(),
        ..DecoderConfig::default()
    };
    assert_eq!(decode_all_with(cfg, LinkType::Ethernet, &other).0.len(), 2);
    // Not Teredo: trailing bytes, hop limit 0, an authentication header, hop-by-hop with
    // too little after it, IPv4.
    let mut trailing = v6.clone();
    trailing.push(0);
    let mut hlim0 = v6.clone();
    hlim0[7] = 0;
    let mut auth = vec![0, 1, 0, 0, 0, 0, 0, 0];
    auth.extend_from_slice(&v6);
    let hop = ipv6(0, &[58, 0, 0, 0]);
    for payload in [trailing, hlim0, auth, hop, ipv4(17, &udp(1, 2, &[0; 30]))] {
        let (d, s) = decode_all(&eth(0x0800, &ipv4(17, &udp(3544, 1, &payload))));
        assert_eq!(d.len(), 1);
        assert_eq!(s[Counter::Teredo], 0);
    }
    // An IPv6 packet with anything invalid in it is dropped, unlike other tunnels: here its
    // ICMPv6 header is short. Its layers were counted; its events were not.
    let short = ipv6(58, &[128, 0, 0]);
    let (d, s) = decode_all(&eth(0x0800, &ipv4(17, &udp(3544, 1, &short))));
    assert_eq!(d.len(), 1);
    assert!(!d.root().carries_tunnel);
    assert_eq!(d.root().payload, &short[..]);
    assert_eq!(
        (s[Counter::Teredo], s[Counter::Ipv6], s[Counter::Icmpv6]),
        (0, 1, 1)
    );
    assert_eq!(s[Counter::Icmpv6PktTooSmall], 0);
}

fn nsh(md_type: u8, words: u8, next: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0, words, md_type, next, 0, 0, 5, 255];
    v.resize(usize::from(words) * 4, 0);
    v.extend_from_slice(payload);
    v
}

#[test]
fn nsh_and_mpls_are_layers() {
    let inner = ipv4(17, &udp(52377, 52464, b"data\n\n"));
    let (d, s) = decode_all(&eth(0x894f, &nsh(1, 6, 1, &inner)));
    assert_eq!(d.len(), 1, "NSH is not a tunnel");
    assert_eq!(d.root().payload, b"data\n\n");
    assert_eq!(
        (s[Counter::Nsh], s[Counter::Ipv4], s[Counter::Udp]),
        (1, 1, 1)
    );
    let (p, s) = decode(&eth(
        0x894f,
        &nsh(2, 2, 3, &eth(0x86dd, &ipv6(17, &udp(1, 2, b"e")))),
    ));
    assert_eq!((p.payload, s[Counter::Ethernet]), (&b"e"[..], 2));
    // MD type 1 must be 24 bytes; reserved, unsupported; unknown next protocol; version.
    let (_, s) = decode(&eth(0x894f, &nsh(1, 2, 1, &inner)));
    assert_eq!(
        (s[Counter::NshBadHeaderLength], s[Counter::Invalid]),
        (1, 1)
    );
    let (_, s) = decode(&eth(0x894f, &nsh(0, 2, 1, &inner)));
    assert_eq!((s[Counter::NshReservedType], s[Counter::Ipv4]), (1, 0));
    let (_, s) = decode(&eth(0x894f, &nsh(3, 2, 1, &inner)));
    assert_eq!(s[Counter::NshUnsupportedType], 1);
    let (_, s) = decode(&eth(0x894f, &nsh(2, 2, 4, &inner)));
    assert_eq!(s[Counter::NshUnknownPayload], 1);
    let mut v1 = nsh(2, 2, 1, &inner);
    v1[0] = 0x40;
    let (_, s) = decode(&eth(0x894f, &v1));
    assert_eq!(s[Counter::NshUnsupportedVersion], 1);
    let (_, s) = decode(&eth(0x894f, &[0, 2, 2, 1]));
    assert_eq!(s[Counter::NshHeaderTooSmall], 1);
    let (_, s) = decode(&eth(0x894f, &nsh(2, 2, 1, &[])));
    assert_eq!(s[Counter::NshBadHeaderLength], 1);

    // MPLS: explicit-null IPv4 label, a two-label stack guessed by version, a pseudowire, and
    // through NSH.
    let label = |l: u32, bottom: bool| ((l << 12) | (u32::from(bottom) << 8) | 64).to_be_bytes();
    let (p, s) = decode(&eth(0x8847, &[&label(0, true)[..], &inner].concat()));
    assert_eq!((p.payload, s[Counter::Mpls]), (&b"data\n\n"[..], 1));
    let stack = [&label(100, false)[..], &label(200, true), &inner].concat();
    assert_eq!(decode(&eth(0x8847, &stack)).0.payload, b"data\n\n");
    let pw = [&label(300, true)[..], &[0, 0, 0, 0], &eth(0x0800, &inner)].concat();
    assert_eq!(decode(&eth(0x8848, &pw)).0.payload, b"data\n\n");
    let (p, _) = decode(&eth(
        0x894f,
        &nsh(
            2,
            2,
            5,
            &[&label(2, true)[..], &ipv6(17, &udp(1, 2, b"m"))].concat(),
        ),
    ));
    assert_eq!(p.payload, b"m");
    let (_, s) = decode(&eth(0x8847, &label(1, true)));
    assert_eq!(
        (s[Counter::MplsBadLabelRouterAlert], s[Counter::Invalid]),
        (1, 0)
    );
    let (_, s) = decode(&eth(0x8847, &[0, 0, 0]));
    assert_eq!(s[Counter::MplsHeaderTooSmall], 1);
    let (_, s) = decode(&eth(
        0x8847,
        &[&label(300, true)[..], &[0x70, 0, 0, 0]].concat(),
    ));
    assert_eq!(s[Counter::MplsUnknownPayloadType], 1);
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
fn tzsp_carrying_a_tunnel() {
    // The mirrored frame is the captured packet: a VXLAN packet in it is a tunnelled packet
    // of depth 1 whose carrier is that frame.
    let inner = ipv4(1, &icmp(8, 0, 1, 1, b"heartbeat_ping"));
    let mirrored = eth(
        0x0800,
        &ipv4(17, &udp(50000, 4789, &vxlan(0x08, 0, &eth(0x0800, &inner)))),
    );
    let (d, s) = decode_all(&tzsp_frame(&tzsp(1, &[1], &mirrored), 37008));
    let p = only_tunnelled(&d);
    assert_eq!(
        (p.depth, p.src, p.payload),
        (1, PktSrc::Vxlan, &b"heartbeat_ping"[..])
    );
    assert!(d.root().tzsp && d.root().carries_tunnel);
    assert_eq!(d.root().frame, &mirrored[..]);
    assert_eq!(
        (s[Counter::Vxlan], s[Counter::Udp], s[Counter::TzspPackets]),
        (1, 1, 1)
    );
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
fn tzsp_in_fragments_is_reassembled_counted_not_decapsulated() {
    let inner = eth(0x0800, &ipv4(17, &udp(1, 2, b"x")));
    let dgram = udp(37008, 37008, &tzsp(1, &[1], &inner));
    let (a, b) = dgram.split_at(16);
    let mut d = Decoder::new();
    d.decode_with(
        &frame(
            LinkType::Ethernet,
            &eth(0x0800, &ipv4_full(17, &[], 0x2000, a)),
        ),
        |_| (),
    );
    d.decode_with(
        &frame(LinkType::Ethernet, &eth(0x0800, &ipv4_full(17, &[], 2, b))),
        |x| {
            assert_eq!(x.len(), 2);
            assert!(!x.root().tzsp);
            assert_eq!(x.tunnelled()[0].udp().unwrap().dst_port, 37008);
        },
    );
    assert_eq!(d.stats[Counter::TzspFragmented], 1);
    assert_eq!(d.stats[Counter::TzspPackets], 0);
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
    assert!(d.decode(&frame(LinkType::Ethernet, &bytes)).root().tzsp);
    let bytes = tzsp_frame(&tzsp(1, &[1], &inner), 37008);
    let mut d = Decoder::with_config(DecoderConfig {
        tzsp: false,
        ..DecoderConfig::default()
    });
    assert!(!d.decode(&frame(LinkType::Ethernet, &bytes)).root().tzsp);
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
        (
            LinkType::Ethernet,
            eth(
                0x0800,
                &ipv4(
                    17,
                    &udp(
                        1,
                        4789,
                        &vxlan(
                            0x08,
                            0,
                            &eth(0x8100, &vlan(3, 0x0800, &ipv4(1, &icmp(8, 0, 1, 1, b"v")))),
                        ),
                    ),
                ),
            ),
        ),
        (
            LinkType::Ethernet,
            eth(
                0x0800,
                &ipv4(
                    17,
                    &udp(
                        6081,
                        1,
                        &geneve(1, 0, 0x86dd, &[0, 1, 2, 0], &ipv6(6, &tcp_syn())),
                    ),
                ),
            ),
        ),
        (
            LinkType::Ethernet,
            eth(
                0x0800,
                &ipv4(17, &udp(3544, 1, &ipv6(17, &udp(1, 2, b"t")))),
            ),
        ),
        (
            LinkType::Ethernet,
            eth(0x894f, &nsh(1, 6, 1, &ipv4(17, &udp(1, 2, b"n")))),
        ),
        (
            LinkType::Ethernet,
            eth(0x8847, &[&[0, 0, 1, 64][..], &ipv4(6, &tcp_syn())].concat()),
        ),
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
                p.root().l4
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
fn a_cut_udp_header_is_invalid() {
    let mut dgram = udp(4444, 5555, &[7u8; 64]);
    dgram.truncate(40);
    let (p, s) = decode(&eth(0x0800, &ipv4_full(17, &[], 0, &dgram)));
    assert!(p.udp().is_none());
    assert_eq!(s[Counter::UdpPktTooSmall], 1);
}
