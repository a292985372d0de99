//! The reassembly policies on hand-built fragment sets: Suricata's own unit tests (the
//! Sturges-Novak overlap set, with the result Suricata 7.0.10's defrag.c expects for each
//! policy), plus order, holes, timeouts and the fixed budgets.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::*;

const SRC: IpAddr = IpAddr::V4(Ipv4Addr::new(1, 1, 1, 1));
const DST: IpAddr = IpAddr::V4(Ipv4Addr::new(2, 2, 2, 2));

/// An IPv4 packet (no link header) of protocol ICMP, id `id`, `len` bytes of `ch` at byte
/// offset `off`.
fn v4(id: u16, off: usize, mf: bool, ch: u8, len: usize) -> Vec<u8> {
    let mut p = vec![
        0x45, 0, 0, 0, 0, 0, 0, 0, 64, 1, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2,
    ];
    p[2..4].copy_from_slice(&((20 + len) as u16).to_be_bytes());
    p[4..6].copy_from_slice(&id.to_be_bytes());
    let fo = (off / 8) as u16 | if mf { 0x2000 } else { 0 };
    p[6..8].copy_from_slice(&fo.to_be_bytes());
    p.extend(std::iter::repeat_n(ch, len));
    p
}

fn frag4<'p>(p: &'p [u8], secs: i64) -> Fragment<'p> {
    let fo = u16::from_be_bytes([p[6], p[7]]);
    Fragment {
        v6: false,
        src: SRC,
        dst: DST,
        id: u32::from(u16::from_be_bytes([p[4], p[5]])),
        proto: 1,
        vlan: [0; 3],
        ts: Timestamp { secs, nanos: 0 },
        packet: p,
        ip_hdr_offset: 0,
        hlen: 20,
        frag_hdr_offset: 0,
        data_offset: 20,
        data_len: p.len() - 20,
        frag_offset: usize::from(fo & 0x1fff) * 8,
        more_frags: fo & 0x2000 != 0,
        nh_fix: None,
    }
}

/// IPv6 + fragment header (next header ICMPv6) + `len` bytes of `ch`.
fn v6(id: u32, off: usize, mf: bool, ch: u8, len: usize) -> Vec<u8> {
    let mut p = vec![0x60, 0, 0, 0, 0, 0, 44, 64];
    p[4..6].copy_from_slice(&((8 + len) as u16).to_be_bytes());
    p.extend_from_slice(&[1; 16]);
    p.extend_from_slice(&[2; 16]);
    p.extend_from_slice(&[58, 0]);
    p.extend_from_slice(&((off as u16) | mf as u16).to_be_bytes());
    p.extend_from_slice(&id.to_be_bytes());
    p.extend(std::iter::repeat_n(ch, len));
    p
}

fn frag6<'p>(p: &'p [u8]) -> Fragment<'p> {
    let fo = u16::from_be_bytes([p[42], p[43]]);
    Fragment {
        v6: true,
        src: IpAddr::V6(Ipv6Addr::from([1; 16])),
        dst: IpAddr::V6(Ipv6Addr::from([2; 16])),
        id: u32::from_be_bytes([p[44], p[45], p[46], p[47]]),
        proto: 44,
        vlan: [0; 3],
        ts: Timestamp::default(),
        packet: p,
        ip_hdr_offset: 0,
        hlen: 0,
        frag_hdr_offset: 40,
        data_offset: 48,
        data_len: p.len() - 48,
        frag_offset: usize::from(fo & 0xfff8),
        more_frags: fo & 1 != 0,
        nh_fix: None,
    }
}

fn defrag(policy: Policy) -> Defrag {
    Defrag::new(DefragConfig {
        memcap: 1 << 20,
        trackers: 16,
        max_frags: 64,
        policy_v4: policy,
        policy_v6: policy,
        ..DefragConfig::default()
    })
}

/// Suricata's DefragDoSturgesNovakTest set: (offset, bytes, char), the last one without
/// more fragments; each char fills 8-byte units.
const STURGES_NOVAK: [(usize, usize, u8); 17] = [
    (0, 24, b'A'),
    (32, 16, b'B'),
    (48, 24, b'C'),
    (80, 8, b'D'),
    (104, 16, b'E'),
    (120, 24, b'F'),
    (144, 16, b'G'),
    (160, 16, b'H'),
    (176, 8, b'I'),
    (8, 32, b'J'),
    (48, 24, b'K'),
    (72, 24, b'L'),
    (96, 24, b'M'),
    (128, 8, b'N'),
    (152, 8, b'O'),
    (160, 8, b'P'),
    (176, 16, b'Q'),
];

/// The Sturges-Novak set through `policy`; the rebuilt data, one char per 8 bytes.
fn sturges_novak(policy: Policy, ipv6: bool) -> String {
    let mut d = defrag(policy);
    let pkts: Vec<Vec<u8>> = STURGES_NOVAK
        .iter()
        .enumerate()
        .map(|(i, &(off, len, ch))| {
            let mf = i != 16;
            if ipv6 {
                v6(12, off, mf, ch, len)
            } else {
                v4(12, off, mf, ch, len)
            }
        })
        .collect();
    let mut s = d.session();
    let mut overlaps = 0;
    for (i, p) in pkts.iter().enumerate() {
        let f = if ipv6 { frag6(p) } else { frag4(p, 0) };
        let o = s.insert(&f);
        assert!(o.counted);
        overlaps += usize::from(o.overlap);
        if i < 9 {
            assert!(!o.overlap, "fragment {i}");
        }
        if i < 16 {
            assert!(o.reassembled.is_none(), "fragment {i}");
            continue;
        }
        assert!(overlaps > 0);
        let r = o.reassembled.expect("the last fragment completes the set");
        let hdr = if ipv6 { 40 } else { 20 };
        assert_eq!(r.ip_offset, 0);
        assert_eq!(r.ip_len, hdr + 192);
        assert_eq!(r.data.len(), hdr + 192);
        let body = &r.data[hdr..];
        assert!(body.chunks(8).all(|c| c.iter().all(|&b| b == c[0])));
        return body.chunks(8).map(|c| c[0] as char).collect();
    }
    unreachable!()
}

#[test]
fn sturges_novak_per_policy_as_suricata() {
    // the expected data of Suricata 7.0.10's DefragSturgesNovak*Test
    let cases = [
        (Policy::Bsd, "AAAJJBCCCLLLMMMFFFGGHHIQ"),
        (Policy::Linux, "AAAJJBKKKLLLMMMFFFGGPHQQ"),
        (Policy::Windows, "AAAJBBCCCLLLMEEFFFGGHHIQ"),
        (Policy::Solaris, "AAAJBBCCCLLLMMMFFFGGHHIQ"),
        (Policy::First, "AAAJBBCCCLDLMEEFFFGGHHIQ"),
        (Policy::Last, "AJJJJBKKKLLLMMMFNFGOPHQQ"),
    ];
    for (policy, want) in cases {
        assert_eq!(sturges_novak(policy, false), want, "{policy:?} IPv4");
        assert_eq!(sturges_novak(policy, true), want, "{policy:?} IPv6");
    }
}

#[test]
fn in_order_reverse_order_and_checksum() {
    for order in [[0, 1, 2], [2, 1, 0], [1, 2, 0]] {
        let pkts = [
            v4(7, 0, true, b'A', 8),
            v4(7, 8, true, b'B', 8),
            v4(7, 16, false, b'C', 3),
        ];
        let mut d = defrag(Policy::Bsd);
        let mut s = d.session();
        let mut out = None;
        for (n, &i) in order.iter().enumerate() {
            let o = s.insert(&frag4(&pkts[i], 0));
            assert!(!o.overlap);
            assert_eq!(o.reassembled.is_some(), n == 2, "{order:?}");
            out = o.reassembled.or(out);
        }
        let r = out.unwrap();
        assert_eq!(&r.data[20..], b"AAAAAAAABBBBBBBBCCC");
        assert_eq!(u16::from_be_bytes([r.data[2], r.data[3]]), 39);
        assert_eq!(u16::from_be_bytes([r.data[6], r.data[7]]), 0);
        assert_eq!(d.stats().ipv4_reassembled, 1);
        assert_eq!(d.active(), 0, "the tracker is released");
        assert_eq!(d.memuse(), 0);
    }
}

#[test]
fn fix_checksum_is_the_incremental_update() {
    // a header with a valid checksum, rewritten the way reassembly rewrites it
    let mut h = v4(1, 8, true, 0, 0);
    h.truncate(20);
    let sum = |h: &[u8]| {
        let s: u32 = h
            .chunks(2)
            .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
            .sum();
        let s = (s & 0xffff) + (s >> 16);
        !(((s & 0xffff) + (s >> 16)) as u16)
    };
    let c = sum(&h);
    h[10..12].copy_from_slice(&c.to_be_bytes());
    let rd = |h: &[u8], at: usize| u16::from_le_bytes([h[at], h[at + 1]]);
    let old = rd(&h, 2).wrapping_add(rd(&h, 6));
    h[2..4].copy_from_slice(&500u16.to_be_bytes());
    h[6..8].copy_from_slice(&[0, 0]);
    let new = rd(&h, 2).wrapping_add(rd(&h, 6));
    let fixed = fix_checksum(rd(&h, 10), old, new);
    h[10..12].copy_from_slice(&fixed.to_le_bytes());
    assert_eq!(sum(&h), 0, "the header sums to zero again");
}

#[test]
fn holes_wait_and_duplicates_overlap() {
    let a = v4(9, 0, true, b'A', 16);
    let c = v4(9, 24, false, b'C', 8);
    let b = v4(9, 16, true, b'B', 8);
    let mut d = defrag(Policy::Bsd);
    let mut s = d.session();
    assert!(s.insert(&frag4(&a, 0)).reassembled.is_none());
    assert!(s.insert(&frag4(&c, 0)).reassembled.is_none(), "a hole");
    let dup = s.insert(&frag4(&c, 0));
    assert!(dup.overlap && dup.reassembled.is_none());
    let r = s.insert(&frag4(&b, 0)).reassembled.unwrap();
    assert_eq!(&r.data[20..], b"AAAAAAAAAAAAAAAABBBBBBBBCCCCCCCC");
}

#[test]
fn not_a_fragment_and_too_large() {
    let mut d = defrag(Policy::Bsd);
    let mut s = d.session();
    let whole = v4(1, 0, false, b'x', 8);
    let o = s.insert(&frag4(&whole, 0));
    assert!(!o.counted);
    let big = v4(2, 65528, false, b'x', 16);
    let o = s.insert(&frag4(&big, 0));
    assert!(o.counted && o.too_large);
    assert_eq!(d.stats().ipv4_fragments, 1);
}

#[test]
fn expired_fragments_are_not_completed() {
    let a = v4(3, 0, true, b'A', 8);
    let b = v4(3, 8, false, b'B', 8);
    let mut d = defrag(Policy::Bsd);
    let mut s = d.session();
    assert!(s.insert(&frag4(&a, 100)).reassembled.is_none());
    // 160 = 100 + the 60 s timeout: expired
    assert!(s.insert(&frag4(&b, 160)).reassembled.is_none());
    assert!(s.insert(&frag4(&a, 160)).reassembled.is_some());
    assert_eq!(d.stats().timeouts, 1);
    // 159.999 is still in time
    let mut d = defrag(Policy::Bsd);
    let mut s = d.session();
    s.insert(&frag4(&a, 100));
    let mut late = frag4(&b, 159);
    late.ts.nanos = 999_999_999;
    assert!(s.insert(&late).reassembled.is_some());
}

#[test]
fn budgets_evict_and_refuse() {
    // two trackers: a third set evicts one
    let mut d = Defrag::new(DefragConfig {
        memcap: 4096,
        trackers: 2,
        max_frags: 4,
        ..DefragConfig::default()
    });
    let firsts: Vec<Vec<u8>> = (0..3).map(|id| v4(id, 0, true, b'A', 8)).collect();
    {
        let mut s = d.session();
        for p in &firsts {
            s.insert(&frag4(p, 0));
        }
    }
    assert_eq!(d.stats().evicted, 1);
    assert_eq!(d.active(), 2);
    // data past the memcap is refused (frag_ignored)
    let big = v4(9, 0, true, b'B', 5000);
    let o = d.session().insert(&frag4(&big, 0));
    assert!(o.ignored);
    assert_eq!(d.stats().memcap_drop, 1);
    // fragment records past max-frags too
    let mut d = Defrag::new(DefragConfig {
        trackers: 8,
        max_frags: 2,
        ..DefragConfig::default()
    });
    let pkts: Vec<Vec<u8>> = (0..3).map(|i| v4(5, i * 8, true, b'C', 8)).collect();
    let mut s = d.session();
    let ignored: Vec<bool> = pkts
        .iter()
        .map(|p| s.insert(&frag4(p, 0)).ignored)
        .collect();
    assert_eq!(ignored, [false, false, true]);
}

#[test]
fn without_output_buffers_a_complete_set_is_dropped() {
    let a = v4(4, 0, true, b'A', 8);
    let b = v4(4, 8, false, b'B', 8);
    let mut d = defrag(Policy::Bsd);
    let mut s = d.session_without_output();
    s.insert(&frag4(&a, 0));
    assert!(s.insert(&frag4(&b, 0)).reassembled.is_none());
    assert_eq!(d.active(), 0);
    assert_eq!(d.stats().ipv4_reassembled, 0);
}

#[test]
fn both_directions_share_a_tracker() {
    let a = v4(6, 0, true, b'A', 8);
    let b = v4(6, 8, false, b'B', 8);
    let mut d = defrag(Policy::Bsd);
    let mut s = d.session();
    s.insert(&frag4(&a, 0));
    let mut back = frag4(&b, 0);
    std::mem::swap(&mut back.src, &mut back.dst);
    assert!(s.insert(&back).reassembled.is_some());
}
