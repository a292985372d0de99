//! The log sink with the ring and the archive on makes no heap allocation per alert in the
//! calling thread (the daemon's output thread) once warmed up: lines are formatted into
//! reused buffers, the ring buffers in place, and the archive copies the record into its
//! preallocated RAM buffer (which grows, by doubling, only while the card is slower than
//! the alerts), while its thread flushes. (A ring rotation, once per file size,
//! allocates the renamed paths.)

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use ravn::capture::Timestamp;
use ravn::config::Config;
use ravn::detect::SigInfo;
use ravn::output::{AlertRecord, Outputs, Role};
use ravn::rules::ast::Action;

struct Counter;
static ALLOCS: AtomicU64 = AtomicU64::new(0);
thread_local! { static COUNTING: Cell<bool> = const { Cell::new(false) }; }

fn note() {
    if COUNTING.try_with(|c| c.get()).unwrap_or(false) {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: forwards to the system allocator; only counts.
unsafe impl GlobalAlloc for Counter {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        note();
        unsafe { System.alloc(l) }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        note();
        unsafe { System.alloc_zeroed(l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        note();
        unsafe { System.realloc(p, l, n) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static GLOBAL: Counter = Counter;

#[test]
fn no_allocation_per_alert_with_ring_and_archive() {
    let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("sink-alloc");
    let _ = std::fs::remove_dir_all(&base);
    let run = base.join("run");
    let mut cfg = Config::default();
    cfg.archive.dir = base.join("archive");
    cfg.archive.urgent_severity = 1;
    cfg.archive.urgent_delay_secs = 0;
    // room for the whole burst: this test is about allocations, not the RAM cap
    cfg.archive.buffer_cap = 64 << 20;
    cfg.archive.segment_size = 128 << 20;
    cfg.archive.max_size = 1 << 30;
    // files large enough not to rotate in this test: a rotation allocates its paths
    cfg.logs.file_size = 256 << 20;
    cfg.logs.ram_cap = 1 << 30;
    let mut out = Outputs::open_with(&run, &cfg, Role::Daemon).unwrap();
    let sig = SigInfo {
        gid: 1,
        sid: 5_100_000,
        rev: 1,
        msg: Some("PROTOCOL-ICMP Heartbeat ping".into()),
        class_desc: Some("Misc activity".into()),
        priority: 1,
        action: Action::Alert,
        metadata: vec![],
        target: None,
    };
    let emit = |out: &mut Outputs, n: u64| {
        let rec = AlertRecord {
            ts: Timestamp {
                secs: 1_700_000_000 + n as i64,
                nanos: 0,
            },
            pcap_cnt: None,
            sig: &sig,
            action: sig.action,
            rate_modified: false,
            packet_drop: false,
            src: IpAddr::V4(Ipv4Addr::new(192, 168, 1, 10)),
            dst: IpAddr::V4(Ipv4Addr::new(8, 8, 8, 8)),
            ports: None,
            icmp: Some((8, 0)),
            proto: 1,
            vlan: &[],
            flow: None,
            direction: None,
            app_proto: None,
            app_proto_ts: None,
            app_proto_tc: None,
            pkt_src: "wire/pcap",
            ips: false,
            verdict: None,
            tunnel: None,
        };
        out.alert(&rec).unwrap();
    };
    for n in 0..5_000 {
        emit(&mut out, n);
    }
    out.flush().unwrap();
    COUNTING.with(|c| c.set(true));
    let alerts = 50_000;
    for n in 0..alerts {
        emit(&mut out, n);
        if n % 1000 == 0 {
            out.flush().unwrap();
        }
    }
    COUNTING.with(|c| c.set(false));
    let allocs = ALLOCS.load(Ordering::Relaxed);
    let st = out.close().unwrap().unwrap();
    println!(
        "{allocs} allocations for {alerts} alerts; archive: {} records, {} flushes",
        st.mark.records, st.mark.flushes
    );
    assert_eq!(st.mark.records, 5_000 + alerts);
    assert!(st.mark.flushes > 10, "the archive must flush meanwhile");
    // The only ones allowed: the archive's RAM buffer growing (doubling) when alerts come
    // faster than the card takes them (this burst is ~50 MB/s against real fdatasyncs): at
    // most 6 doublings (1 MiB to 64 MiB) for each of its two buffers.
    assert!(allocs <= 12, "{allocs} allocations for {alerts} alerts");
    std::fs::remove_dir_all(&base).unwrap();
}
