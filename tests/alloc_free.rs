//! No heap allocation per packet in steady state.
//!
//! A counting `#[global_allocator]` wraps the system allocator in this test binary. The
//! pipeline is `ravn replay`'s and the daemon's per-frame path, `Processor::process` (decode,
//! flows, `Engine::inspect`), into `Outputs`, fed from `capture::open`, with the heartbeat
//! rule, a few content, IP-only, host/pair-bit and tag rules that fire on the corpus, and the
//! ET Open rules ravn loads. It replays a 100,000-packet `gen_traffic.py` capture: the first
//! half warms up (flows, buffers, first log lines), the second half and then a second pass
//! over the whole capture are counted; then the tunnelled-traffic capture of
//! `tests/data/gen_tunnel_pcap.py`, once to warm up and once counted, and the same for the
//! IP fragments of `tests/data/gen_frag_pcap.py` (reassembled in the defragmenter's fixed
//! buffers). All must allocate nothing.
//!
//! To see where allocations come from, run with `RAVN_ALLOC_BACKTRACE=1` (the first 1000
//! counted allocations), `=N` or `=all` in a build that keeps symbols, e.g.
//! `RAVN_ALLOC_BACKTRACE=all cargo test --test alloc_free -- --nocapture` (the release profile
//! strips symbols; `--profile ci` keeps them): it prints each allocating call site and its count.
//! `RAVN_ALLOC_PACKETS` changes the corpus size.

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

use ravn::capture::{self, FrameSource};
use ravn::config::Config;
use ravn::detect::Engine;
use ravn::output::Outputs;
use ravn::pipeline::process::{Emit, Processor};

use support::*;

struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);
static REALLOCS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);
static TRACE: AtomicBool = AtomicBool::new(false);
/// Allocation sites (see `site`) of counted allocations and how often each allocated, when
/// tracing; at most `TRACE_LIMIT` allocations are traced.
static SITES: Mutex<BTreeMap<String, u64>> = Mutex::new(BTreeMap::new());
static TRACED: AtomicU64 = AtomicU64::new(0);
static TRACE_LIMIT: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// Count allocations made on this thread (only the measuring thread sets it).
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

fn note(size: usize, realloc: bool) {
    let on = COUNTING.try_with(|c| c.get()).unwrap_or(false);
    if !on {
        return;
    }
    ALLOCS.fetch_add(1, Ordering::Relaxed);
    if realloc {
        REALLOCS.fetch_add(1, Ordering::Relaxed);
    }
    BYTES.fetch_add(size as u64, Ordering::Relaxed);
    if TRACE.load(Ordering::Relaxed) {
        // Capturing allocates: stop counting on this thread meanwhile (no recursion).
        COUNTING.with(|c| c.set(false));
        if TRACED.fetch_add(1, Ordering::Relaxed) < TRACE_LIMIT.load(Ordering::Relaxed) {
            let bt = std::backtrace::Backtrace::force_capture();
            let s = site(&format!("{bt}"));
            if let Ok(mut t) = SITES.lock() {
                *t.entry(s).or_default() += 1;
            }
        }
        COUNTING.with(|c| c.set(true));
    }
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size(), false);
        System.alloc(layout)
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size(), false);
        System.alloc_zeroed(layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size, true);
        System.realloc(ptr, layout, new_size)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[derive(Debug, Clone, Copy, Default)]
struct Window {
    packets: u64,
    alerts: u64,
    allocs: u64,
    reallocs: u64,
    bytes: u64,
}

impl Window {
    fn per_packet(&self) -> f64 {
        self.allocs as f64 / self.packets.max(1) as f64
    }
}

/// Rules that fire on the gen_traffic corpus, so that the alert path runs on many packets.
const TEST_RULES: &str = r#"alert tcp any any -> any 80 (msg:"alloc-free HTTP request"; content:"GET "; depth:4; classtype:misc-activity; sid:9100001; rev:1;)
alert tcp any 80 -> any any (msg:"alloc-free HTTP response"; content:"HTTP/1.1 200"; metadata:created_at 2024_01_01, tag one; sid:9100002; rev:1;)
alert udp any any -> any 53 (msg:"alloc-free DNS example"; content:"example"; nocase; sid:9100003; rev:1;)
alert tcp any any -> any 443 (msg:"alloc-free TLS record"; content:"|16 03|"; depth:2; sid:9100004; rev:1;)
alert ip any any -> any any (msg:"alloc-free IP-only"; sid:9100005; rev:1;)
alert tcp any any -> any any (msg:"alloc-free never"; content:"zq-no-such-bytes-qz"; sid:9100006; rev:1;)
alert tcp any any -> any 80 (msg:"alloc-free host and pair bits"; content:"GET "; depth:4; hostbits:set,af.seen,src; xbits:set,af.pair,track ip_pair, expire 60; sid:9100007; rev:1;)
alert tcp any 80 -> any any (msg:"alloc-free bits readers and tags"; content:"HTTP/1.1"; xbits:isset,af.pair,track ip_pair; hostbits:isset,af.seen,dst; tag:session,3,packets; tag:host,5,packets,src; sid:9100008; rev:1;)
"#;

fn start_counting() {
    ALLOCS.store(0, Ordering::SeqCst);
    REALLOCS.store(0, Ordering::SeqCst);
    BYTES.store(0, Ordering::SeqCst);
    COUNTING.with(|c| c.set(true));
}

/// The per-frame path of `ravn replay` and the daemon (`Processor::process`) into `Outputs`,
/// counting allocations in a window.
struct Harness {
    engine: Engine,
    proc: Processor,
    outputs: Outputs,
}

impl Harness {
    /// Run all of `source`; count the allocations made after the first `count_from` packets
    /// (None: count nothing). Returns the packets read and the counted window.
    fn run(&mut self, source: &mut dyn FrameSource, count_from: Option<u64>) -> (u64, Window) {
        let Harness {
            engine,
            proc,
            outputs,
        } = self;
        let mut pcap_cnt = 0u64;
        let mut w = Window::default();
        if count_from == Some(0) {
            start_counting();
        }
        loop {
            let frame = match source.next_frame() {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) => panic!("capture error: {e}"),
            };
            pcap_cnt += 1;
            let counting = count_from.is_some_and(|c| pcap_cnt > c);
            if counting {
                w.packets += 1;
            }
            let n = proc.process(engine, &frame, Some(pcap_cnt), "wire/pcap", |e| {
                match e {
                    Emit::Alert(rec) => outputs.alert(rec),
                    Emit::TaggedPacket(rec) => outputs.tagged_packet(rec),
                }
                .expect("write alert")
            });
            if counting {
                w.alerts += n as u64;
            }
            if count_from == Some(pcap_cnt) {
                start_counting();
            }
        }
        outputs.flush().expect("flush outputs");
        COUNTING.with(|c| c.set(false));
        if count_from.is_some() {
            w.allocs = ALLOCS.load(Ordering::SeqCst);
            w.reallocs = REALLOCS.load(Ordering::SeqCst);
            w.bytes = BYTES.load(Ordering::SeqCst);
        }
        (pcap_cnt, w)
    }
}

/// The corpus, generated once into the target dir and reused (gen_traffic.py is deterministic).
fn corpus(shared: &Path, packets: u64) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let path = dir.join(format!("alloc-free-{packets}-seed7.pcap"));
    if !path.is_file() {
        require_scapy();
        let part = dir.join(format!("alloc-free-{packets}.{}.part", std::process::id()));
        gen_traffic(shared, &part, packets, 7).unwrap_or_else(|e| panic!("{e}"));
        std::fs::rename(&part, &path).unwrap();
    }
    path
}

/// Where a backtrace's allocation comes from: the first frame in ravn's code with its source
/// location, the two std frames below it and its two callers.
fn site(bt: &str) -> String {
    // (function, location) per frame, from Backtrace's Display ("  N: func\n    at file:line")
    let mut frames: Vec<(String, String)> = Vec::new();
    for l in bt.lines().map(str::trim) {
        if let Some((n, f)) = l.split_once(": ") {
            if n.parse::<u32>().is_ok() {
                frames.push((f.to_string(), String::new()));
                continue;
            }
        }
        if let (Some(at), Some(last)) = (l.strip_prefix("at "), frames.last_mut()) {
            if last.1.is_empty() {
                last.1 = at.to_string();
            }
        }
    }
    let skip = |f: &str| {
        f.starts_with("std::backtrace")
            || f.contains("alloc_free::note")
            || f.contains("<alloc_free::Counting")
            || f.starts_with("__rust")
            || f.starts_with("__rdl")
    };
    let frames: Vec<(String, String)> = frames.into_iter().filter(|(f, _)| !skip(f)).collect();
    let first_ravn = frames
        .iter()
        .position(|(f, _)| f.contains("ravn::"))
        .unwrap_or(0);
    let end = (first_ravn + 3).min(frames.len());
    frames[first_ravn.saturating_sub(2)..end]
        .iter()
        .map(|(f, at)| {
            if f.contains("ravn::") && !at.is_empty() {
                format!(
                    "{f} ({})",
                    at.rsplit("/src/").next().map_or(at.as_str(), |r| r)
                )
            } else {
                f.clone()
            }
        })
        .collect::<Vec<_>>()
        .join("\n        <- ")
}

#[test]
fn steady_state_pipeline_does_not_allocate_per_packet() {
    let Some(shared) = shared_or_skip() else {
        return;
    };
    let shared = shared.canonicalize().unwrap();
    let packets = env_u64("RAVN_ALLOC_PACKETS", 100_000);
    let pcap = corpus(&shared, packets);
    let work = fresh_dir(&PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("alloc-free"));

    // Rules: heartbeat, the content/IP-only rules above, and ET Open as ravn loads it.
    let test_rules = work.join("alloc-free.rules");
    std::fs::write(&test_rules, TEST_RULES).unwrap();
    let mut files = vec![crate_root().join("rules/heartbeat.rules"), test_rules];
    let et = shared.join("rulesets/et-open-2024-04-21");
    let mut et_files: Vec<PathBuf> = std::fs::read_dir(&et)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "rules"))
        .collect();
    et_files.sort();
    files.extend(et_files);

    let mut cfg = Config::default();
    cfg.rules.classification_file = reference_classification(&shared);
    cfg.outputs.append = false;
    // the alert path with EVE's verdict object too
    cfg.outputs.eve.alert.verdict = true;
    let classes = ravn::replay::load_classifications(&cfg).unwrap();
    let loaded = ravn::replay::load_rules(&files, &cfg, &classes).unwrap();
    let n_rules = loaded.rules.len();
    let own: Vec<u32> = loaded
        .rules
        .iter()
        .map(|r| r.meta.sid)
        .filter(|s| *s == 5100000 || (9100001..=9100008).contains(s))
        .collect();
    assert_eq!(
        own.len(),
        9,
        "the heartbeat and test rules must load (loaded: {own:?})"
    );
    let engine = Engine::new(loaded.rules, &classes);

    let out_dir = work.join("logs");
    let outputs = Outputs::open(&out_dir, &cfg.outputs).unwrap();
    let mut pl = Harness {
        engine,
        proc: Processor::new(&cfg),
        outputs,
    };
    // RAVN_ALLOC_BACKTRACE=1: trace the first 1000 counted allocations; =N: the first N;
    // =all: every one (slow in a debug build: one backtrace per allocation)
    let trace_limit = match std::env::var("RAVN_ALLOC_BACKTRACE").as_deref() {
        Err(_) | Ok("0") | Ok("") => 0,
        Ok("all") => u64::MAX,
        Ok("1") => 1000,
        Ok(n) => n.parse().unwrap_or(1000),
    };
    TRACE_LIMIT.store(trace_limit, Ordering::SeqCst);
    let trace = trace_limit > 0;

    // Pass 1: warm up on the first half, count the second half.
    let half = packets / 2;
    let mut src = capture::open(&pcap).unwrap();
    TRACE.store(trace, Ordering::SeqCst);
    let (n1, second_half) = pl.run(src.as_mut(), Some(half));
    drop(src);
    // Pass 2: the whole capture again, counted from its first packet (flows already known,
    // timestamps start over).
    let mut src = capture::open(&pcap).unwrap();
    let (n2, second_pass) = pl.run(src.as_mut(), Some(0));
    drop(src);
    // Pass 3: tunnelled traffic (every tunnel, two levels deep), once to warm up, once
    // counted.
    let tunnels = work.join("tunnels.pcap");
    gen_tunnel_pcap(&tunnels);
    let mut src = capture::open(&tunnels).unwrap();
    let (n3, _) = pl.run(src.as_mut(), None);
    let mut src = capture::open(&tunnels).unwrap();
    let (_, tunnel_pass) = pl.run(src.as_mut(), Some(0));
    drop(src);
    // Pass 4: IP fragments (IPv4 and IPv6, overlapping, out of order, incomplete, tunnelled),
    // reassembled into the defragmenter's buffers; once to warm up, once counted.
    let frags = work.join("fragments.pcap");
    gen_pcap("gen_frag_pcap.py", &frags);
    let mut src = capture::open(&frags).unwrap();
    pl.run(src.as_mut(), None);
    let reassembled = pl.proc.decoder.defrag.stats().ipv4_reassembled;
    let mut src = capture::open(&frags).unwrap();
    let (_, frag_pass) = pl.run(src.as_mut(), Some(0));
    TRACE.store(false, Ordering::SeqCst);
    drop(src);
    let d = pl.proc.decoder.defrag.stats();
    assert!(
        d.ipv4_reassembled > reassembled && d.ipv6_reassembled > 0,
        "the counted fragment pass reassembles packets: {d:?}"
    );
    assert_eq!(n1, packets, "corpus size");
    assert_eq!(n2, packets, "corpus size");
    assert!(n3 > 20, "tunnel capture size");

    println!(
        "{} rules loaded; capture {} ({n1} packets); flows active {}",
        n_rules,
        show(&pcap),
        pl.proc.flows.active()
    );
    for (name, w) in [
        ("pass 1, second half", second_half),
        ("pass 2, whole capture", second_pass),
        ("pass 3, tunnels", tunnel_pass),
        ("pass 4, fragments", frag_pass),
    ] {
        println!(
            "{name:<22}: {:>7} packets, {:>6} alerts, {:>6} allocations ({} reallocs, {} bytes), {:.4} per packet",
            w.packets,
            w.alerts,
            w.allocs,
            w.reallocs,
            w.bytes,
            w.per_packet()
        );
    }
    assert!(
        second_half.alerts > 0 && second_pass.alerts > 0 && tunnel_pass.alerts > 0,
        "the alert path must run in the measured windows"
    );

    let sites = std::mem::take(&mut *SITES.lock().unwrap());
    if !sites.is_empty() {
        let traced: u64 = sites.values().sum();
        let mut by_count: Vec<(String, u64)> = sites.into_iter().collect();
        by_count.sort_by_key(|s| std::cmp::Reverse(s.1));
        println!("allocation sites ({traced} counted allocations traced):");
        for (s, n) in by_count {
            println!("  {n:>6} x {s}");
        }
    }
    let total = second_half.allocs + second_pass.allocs + tunnel_pass.allocs + frag_pass.allocs;
    assert_eq!(
        total,
        0,
        "heap allocations per packet in steady state: {:.4} (second half of pass 1: {} in {} \
         packets; second pass: {} in {} packets; tunnels: {} in {} packets; fragments: {} in \
         {} packets); rerun with RAVN_ALLOC_BACKTRACE=1 -- --nocapture in a build with \
         symbols to see the call sites",
        total as f64
            / (second_half.packets + second_pass.packets + tunnel_pass.packets + frag_pass.packets)
                .max(1) as f64,
        second_half.allocs,
        second_half.packets,
        second_pass.allocs,
        second_pass.packets,
        tunnel_pass.allocs,
        tunnel_pass.packets,
        frag_pass.allocs,
        frag_pass.packets
    );
}

/// The heartbeat watch the matcher runs for every heartbeat alert: verifying authenticated
/// payloads (HMAC-SHA256), refusing forged and replayed ones and counting them allocates
/// nothing.
#[test]
fn heartbeat_verification_does_not_allocate() {
    use ravn::heartbeat::auth::{payload, Key, Verifier};
    use ravn::heartbeat::watch::{HeartbeatCounters, HeartbeatWatch};
    let key = Key::from_bytes(b"0123456789abcdef0123456789abcdef").unwrap();
    let t0 = 1_700_000_000_000_000u64;
    let good: Vec<Vec<u8>> = (0..1000)
        .map(|i| payload(b"heartbeat_ping", Some(&key), t0 + i))
        .collect();
    let mut forged = good[0].clone();
    let last = forged.len() - 1;
    forged[last] ^= 0x55;
    let counters = std::sync::Arc::new(HeartbeatCounters::default());
    let mut w = HeartbeatWatch::new(
        &[5100000],
        Verifier::new(b"heartbeat_ping", Some(key), 300),
        counters.clone(),
    );
    start_counting();
    for p in &good {
        assert!(w.is_heartbeat(5100000));
        w.seen(p, t0);
        w.seen(p, t0); // replayed
        w.seen(&forged, t0);
    }
    COUNTING.with(|c| c.set(false));
    let allocs = ALLOCS.load(Ordering::SeqCst);
    assert_eq!(counters.accepted.load(Ordering::Relaxed), 1000);
    assert_eq!(counters.replayed.load(Ordering::Relaxed), 1000);
    assert_eq!(counters.bad_tag.load(Ordering::Relaxed), 1000);
    assert_eq!(allocs, 0, "heartbeat verification allocated");
}
