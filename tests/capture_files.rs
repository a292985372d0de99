//! Capture files end to end: the golden pcaps from `../shared` (skipped with a message when
//! absent), their TZSP twin, truncated copies and garbage files.

use std::fs;
use std::path::{Path, PathBuf};

use ravn::capture::{self, CaptureErrorKind, FrameSource};
use ravn::decode::{Counter, DecodeStats, Decoder, IpHdr, L4};

fn shared() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/reference/suricata-7.0.10");
    if p.is_dir() {
        Some(p)
    } else {
        eprintln!(
            "SKIPPED: {} is absent (the shared reference material is not checked out beside the repository)",
            p.display()
        );
        None
    }
}

/// A fresh scratch directory under the system temp dir.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ravn-capture-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// What the detection engine sees of a packet, owned.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    vlan: Vec<u16>,
    ip: Option<IpHdr>,
    l4: L4,
    payload: Vec<u8>,
    len: u32,
}

fn decode_file(path: &Path, decoder: &mut Decoder) -> Vec<(ravn::capture::Timestamp, Seen)> {
    let mut src = capture::open(path).unwrap_or_else(|e| panic!("{e}"));
    let mut out = Vec::new();
    while let Some(frame) = src.next_frame().unwrap_or_else(|e| panic!("{e}")) {
        let d = decoder.decode(&frame);
        let p = d.root();
        out.push((
            p.ts,
            Seen {
                vlan: p.vlans().to_vec(),
                ip: p.ip,
                l4: p.l4,
                payload: p.payload.to_vec(),
                len: p.len,
            },
        ));
    }
    assert_eq!(src.truncated(), None, "{}", path.display());
    out
}

/// The `decoder` object of the stats event (last line) of an eve.json, flattened.
fn golden_decoder_stats(eve: &Path) -> Vec<(String, u64)> {
    let text = fs::read_to_string(eve).expect("eve.json");
    let last = text
        .lines()
        .rev()
        .find(|l| l.contains("\"stats\""))
        .expect("stats event");
    let v: serde_json::Value = serde_json::from_str(last).expect("json");
    fn walk(prefix: &str, v: &serde_json::Value, out: &mut Vec<(String, u64)>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    walk(&format!("{prefix}.{k}"), v, out);
                }
            }
            other => out.push((prefix.to_string(), other.as_u64().expect("counter"))),
        }
    }
    let mut out = Vec::new();
    walk("decoder", &v["stats"]["decoder"], &mut out);
    out
}

fn ravn_decoder_stats(s: &DecodeStats) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    s.for_each_suricata(|n, v| out.push((n.to_string(), v)));
    out
}

fn assert_stats_match(golden: &[(String, u64)], ours: &[(String, u64)], what: &str) {
    let names_g: Vec<&str> = golden.iter().map(|(n, _)| n.as_str()).collect();
    let names_o: Vec<&str> = ours.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names_o, names_g, "{what}: counter names and order");
    let diff: Vec<_> = golden
        .iter()
        .zip(ours)
        .filter(|(g, o)| g.1 != o.1)
        .map(|(g, o)| format!("{}: suricata {} ravn {}", g.0, g.1, o.1))
        .collect();
    assert!(diff.is_empty(), "{what}: {diff:#?}");
}

#[test]
fn golden_stats_match_suricata() {
    let Some(dir) = shared() else { return };
    for (pcap, eve) in [
        ("golden/small.pcap", "golden/eve.json"),
        ("golden-extra/small-extra.pcap", "golden-extra/eve.json"),
    ] {
        let mut d = Decoder::new();
        let pkts = decode_file(&dir.join(pcap), &mut d);
        assert!(!pkts.is_empty());
        assert_stats_match(
            &golden_decoder_stats(&dir.join(eve)),
            &ravn_decoder_stats(&d.stats),
            pcap,
        );
    }
}

#[test]
fn tzsp_stream_decodes_to_the_same_packets() {
    let Some(dir) = shared() else { return };
    let mut plain_dec = Decoder::new();
    let plain = decode_file(&dir.join("golden/small.pcap"), &mut plain_dec);
    let mut tzsp_dec = Decoder::new();
    let tzsp = decode_file(&dir.join("golden/small-tzsp.pcap"), &mut tzsp_dec);
    assert_eq!(plain.len(), tzsp.len());
    for (i, (a, b)) in plain.iter().zip(&tzsp).enumerate() {
        assert_eq!(a.1, b.1, "packet {}", i + 1);
        assert!(b.1.ip.is_some() && b.1.l4 != L4::None, "packet {}", i + 1);
    }
    assert_eq!(tzsp_dec.stats[Counter::TzspPackets], plain.len() as u64);
    assert_eq!(tzsp_dec.stats[Counter::TzspMalformed], 0);
    // With the transport taken back, the decoder stats are those of the mirrored traffic.
    assert_stats_match(
        &ravn_decoder_stats(&plain_dec.stats),
        &ravn_decoder_stats(&tzsp_dec.stats),
        "tzsp vs plain",
    );
    // And without decapsulation it is just UDP to 37008.
    let mut off = Decoder::with_config(ravn::decode::DecoderConfig {
        tzsp: false,
        ..Default::default()
    });
    let raw = decode_file(&dir.join("golden/small-tzsp.pcap"), &mut off);
    assert!(raw.iter().all(|(_, s)| match s.l4 {
        L4::Udp(u) => u.dst_port == 37008,
        _ => false,
    }));
}

#[test]
fn suricata_verify_pcaps_read_and_decode() {
    let Some(dir) = shared() else { return };
    let tests = dir.join("../../conformance/suricata-verify/tests");
    let Ok(entries) = fs::read_dir(&tests) else {
        eprintln!("SKIPPED: {} is absent", tests.display());
        return;
    };
    let mut files = 0;
    let mut frames = 0;
    for e in entries.flatten() {
        for f in fs::read_dir(e.path()).into_iter().flatten().flatten() {
            let p = f.path();
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            if !(name.ends_with(".pcap") || name.ends_with(".pcapng")) {
                continue;
            }
            let mut d = Decoder::new();
            frames += decode_file(&p, &mut d).len();
            files += 1;
        }
    }
    assert!(files > 0, "no pcaps under {}", tests.display());
    eprintln!("decoded {frames} frames from {files} suricata-verify pcaps");
}

/// Record boundaries of a classic pcap (offsets where each record starts, then the end).
fn pcap_boundaries(bytes: &[u8]) -> Vec<usize> {
    let mut out = Vec::new();
    let mut pos = 24;
    while pos + 16 <= bytes.len() {
        out.push(pos);
        let caplen = u32::from_le_bytes(bytes[pos + 8..pos + 12].try_into().unwrap()) as usize;
        pos += 16 + caplen;
    }
    out.push(pos);
    out
}

fn count_frames(src: &mut dyn FrameSource) -> usize {
    let mut n = 0;
    while src
        .next_frame()
        .expect("truncation is not an error")
        .is_some()
    {
        n += 1;
    }
    n
}

#[test]
fn truncated_copies_end_cleanly_with_the_offset() {
    let Some(dir) = shared() else { return };
    let bytes = fs::read(dir.join("golden/small.pcap")).expect("read");
    let bounds = pcap_boundaries(&bytes);
    assert_eq!(*bounds.last().unwrap(), bytes.len());
    let tmp = scratch("trunc");
    for cut in 24..bytes.len() {
        let path = tmp.join("cut.pcap");
        fs::write(&path, &bytes[..cut]).expect("write");
        let mut src = capture::open(&path).expect("open");
        let n = count_frames(src.as_mut());
        let complete = bounds.iter().filter(|&&b| b <= cut).count() - 1;
        assert_eq!(n, complete, "cut {cut}");
        let expect = if bounds.contains(&cut) {
            None
        } else {
            Some(bounds[complete] as u64)
        };
        assert_eq!(src.truncated(), expect, "cut {cut}");
    }
    let _ = fs::remove_dir_all(&tmp);
}

#[test]
fn pcapng_copy_reads_the_same_frames() {
    let Some(dir) = shared() else { return };
    let tmp = scratch("ng");
    let ng = tmp.join("small.pcapng");
    let ok = std::process::Command::new("editcap")
        .args(["-F", "pcapng"])
        .arg(dir.join("golden/small.pcap"))
        .arg(&ng)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok {
        eprintln!("SKIPPED: editcap (apt-get install -y tshark) is not available");
        return;
    }
    let mut a = Decoder::new();
    let mut b = Decoder::new();
    let plain = decode_file(&dir.join("golden/small.pcap"), &mut a);
    let conv = decode_file(&ng, &mut b);
    assert_eq!(plain, conv);
    let _ = fs::remove_dir_all(&tmp);
}

#[test]
fn garbage_files_are_errors_with_the_offset() {
    let tmp = scratch("garbage");
    let text = tmp.join("notes.txt");
    fs::write(&text, b"this is not a capture file\n").unwrap();
    let err = capture::open(&text).err().expect("error");
    assert_eq!(err.offset, Some(0));
    assert_eq!(
        err.to_string(),
        format!(
            "{}: not a pcap or pcapng file (bad magic 0x74686973 at byte offset 0)",
            text.display()
        )
    );

    let empty = tmp.join("empty.pcap");
    fs::write(&empty, b"").unwrap();
    let err = capture::open(&empty).err().expect("error");
    assert!(
        matches!(err.kind, CaptureErrorKind::ShortHeader { len: 0 }),
        "{err}"
    );
    assert!(err.to_string().contains("byte offset 0"), "{err}");

    let missing = tmp.join("missing.pcap");
    let err = capture::open(&missing).err().expect("error");
    assert!(matches!(err.kind, CaptureErrorKind::Open(_)));
    assert!(err.to_string().starts_with(&missing.display().to_string()));

    // A valid header, one good record, then a record claiming 1 GiB.
    let mut bytes = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0];
    bytes.extend_from_slice(&[0; 8]);
    bytes.extend_from_slice(&65535u32.to_le_bytes());
    bytes.extend_from_slice(&1u32.to_le_bytes());
    for caplen in [4u32, 1 << 30] {
        bytes.extend_from_slice(&[0; 8]);
        bytes.extend_from_slice(&caplen.to_le_bytes());
        bytes.extend_from_slice(&caplen.to_le_bytes());
        if caplen == 4 {
            bytes.extend_from_slice(b"abcd");
        }
    }
    let bad = tmp.join("bad.pcap");
    fs::write(&bad, &bytes).unwrap();
    let mut src = capture::open(&bad).expect("open");
    assert!(src.next_frame().unwrap().is_some());
    let err = src.next_frame().expect_err("error");
    assert_eq!(err.offset, Some(44));
    assert!(
        err.to_string().contains("(record at byte offset 44)"),
        "{err}"
    );

    // Random garbage behind a pcapng section header: errors or a clean end, never a panic.
    let mut seed = 7u32;
    for i in 0..50 {
        let mut bytes = vec![
            0x0a, 0x0d, 0x0d, 0x0a, 28, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0,
        ];
        bytes.extend_from_slice(&[0xff; 8]);
        bytes.extend_from_slice(&28u32.to_le_bytes());
        for _ in 0..(i * 37) {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            bytes.push((seed >> 16) as u8);
        }
        let path = tmp.join("g.pcapng");
        fs::write(&path, &bytes).unwrap();
        let mut src = capture::open(&path).expect("section header is valid");
        while let Ok(Some(_)) = src.next_frame() {}
    }
    let _ = fs::remove_dir_all(&tmp);
}
