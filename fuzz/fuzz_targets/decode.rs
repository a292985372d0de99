//! Fuzz target for the capture readers and the decoder: the input is decoded as a frame of
//! every link type, then read as a capture file (pcap or pcapng, through `open_reader` over a
//! Cursor) and each frame decoded. Nothing may panic.
#![no_main]

use std::io::Cursor;

use libfuzzer_sys::fuzz_target;
use ravn::capture::{open_reader, Frame, LinkType, Timestamp};
use ravn::decode::{Decoder, DecoderConfig, PktSrc};

const LINKS: [LinkType; 8] = [
    LinkType::Ethernet,
    LinkType::Raw,
    LinkType::Ipv4,
    LinkType::Ipv6,
    LinkType::Sll,
    LinkType::Sll2,
    LinkType::Null,
    LinkType::Other(147),
];

fn check(d: &ravn::decode::Decoded<'_>, data: &[u8]) {
    // The views borrow the input (a packet rebuilt from fragments: the defragmenter's
    // buffer); lengths stay within it; tunnelled and rebuilt packets come first, the
    // captured packet last.
    for p in d.packets() {
        let max = if p.src == PktSrc::Defrag {
            ravn::defrag::MAX_PACKET
        } else {
            data.len()
        };
        assert!(p.payload.len() <= max);
        assert!(p.frame.len() <= max);
        assert!(p.vlan_count <= 3);
    }
    assert_eq!(d.root().depth, 0);
    assert!(d
        .tunnelled()
        .iter()
        .all(|p| p.depth > 0 || p.src == PktSrc::Defrag));
}

fuzz_target!(|data: &[u8]| {
    let mut dec = Decoder::new();
    // A second decoder with TZSP off, so both paths are exercised on the same bytes.
    let mut plain = Decoder::with_config(DecoderConfig {
        tzsp: false,
        ..DecoderConfig::default()
    });
    for link in LINKS {
        let frame = Frame {
            ts: Timestamp::default(),
            link,
            data,
            orig_len: data.len() as u32,
            offloaded: false,
        };
        dec.decode_with(&frame, |d| check(d, data));
        check(&plain.decode(&frame), data);
    }
    if let Ok(mut src) = open_reader(Cursor::new(data.to_vec()), "fuzz") {
        let mut n = 0;
        while let Ok(Some(frame)) = src.next_frame() {
            dec.decode_with(&frame, |d| check(d, frame.data));
            n += 1;
            if n > 10_000 {
                break;
            }
        }
        if n <= 10_000 {
            // After the end or an error the source stays finished.
            assert!(matches!(src.next_frame(), Ok(None)));
        }
    }
    let mut total = 0;
    dec.stats.for_each(|_, v| total += v);
    assert!(total > 0);
});
