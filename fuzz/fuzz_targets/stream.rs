//! Fuzz target for the per-packet pipeline with TCP reassembly: the input is a sequence of
//! raw-IP frames (2-byte big-endian length, then the bytes) run through a `Processor`
//! (decode, flows, stream reassembly with a small pool and depth, detection with content,
//! pcre and depth rules), then the end-of-capture flush. Nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ravn::capture::{Frame, LinkType, Timestamp};
use ravn::config::Config;
use ravn::detect::Engine;
use ravn::pipeline::process::Processor;
use ravn::rules::{parse_rule, Classifications, Vars};

const RULES: &[&str] = &[
    "alert tcp any any -> any any (content:\"AB\"; sid:1;)",
    "alert tcp any any -> any any (content:\"GET\"; depth:3; sid:2;)",
    "alert tcp any any -> any any (pcre:\"/A.{0,4}B/\"; sid:3;)",
    "alert tcp any any -> any any (content:\"X\"; dsize:>2; sid:4;)",
    "alert tcp any any -> any any (flow:established; flags:A; sid:5;)",
];

fuzz_target!(|data: &[u8]| {
    let vars = Vars::default();
    let rules = RULES
        .iter()
        .filter_map(|r| parse_rule(r, &vars, None).ok())
        .collect();
    let mut engine = Engine::new(rules, &Classifications::default());
    let mut cfg = Config::default();
    cfg.flow.max_flows = 8;
    cfg.stream.midstream = data.first().is_some_and(|b| b & 1 != 0);
    cfg.stream.reassembly.memcap = ravn::config::Size::Number(8 * 2048);
    cfg.stream.reassembly.depth = ravn::config::Size::Number(5000);
    cfg.stream.reassembly.toserver_chunk_size = ravn::config::Size::Number(16);
    cfg.stream.reassembly.toclient_chunk_size = ravn::config::Size::Number(16);
    let mut proc = Processor::new(&cfg);
    let mut rest = data.get(1..).unwrap_or(&[]);
    let mut n = 0u64;
    while rest.len() >= 2 {
        let len = usize::from(u16::from_be_bytes([rest[0], rest[1]])).min(rest.len() - 2);
        let frame = &rest[2..2 + len];
        rest = &rest[2 + len..];
        n += 1;
        let f = Frame {
            ts: Timestamp {
                secs: n as i64,
                nanos: 0,
            },
            link: LinkType::Raw,
            data: frame,
            orig_len: frame.len() as u32,
            offloaded: false,
        };
        proc.process(&mut engine, &f, Some(n), "wire/pcap", |_| {});
    }
    proc.finish(&mut engine, |_| {});
});
