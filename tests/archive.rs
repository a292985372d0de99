//! The archive on real files: corruption never yields a corrupt record, a simulated day stays
//! within the write budget with the expected flushes, urgent alerts are flushed within
//! seconds, a full or read-only card is counted and never blocks, and a `ravn replay`
//! killed with SIGKILL at random moments loses nothing it had flushed.

#[path = "support/gen_pcap.rs"]
mod gen_pcap;
mod support;

use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ravn::archive::record::{self, Payload, HEADER};
use ravn::archive::storage::{Counting, FsStorage, Storage};
use ravn::archive::{reader, Archive, ArchiveConfig, Event, Now, Offer, Writer};
use ravn::logring::Switch;

/// A small xorshift generator: the tests print their seed (`RAVN_SEED` replays one).
struct Rng(u64);
impl Rng {
    fn new() -> Rng {
        let seed = std::env::var("RAVN_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(1)
                    | 1
            });
        println!("seed {seed} (RAVN_SEED={seed} replays it)");
        Rng(seed)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn tmp(name: &str) -> PathBuf {
    support::fresh_dir(&support::target_dir().join(format!("archive-test-{name}")))
}

fn cfg(dir: &Path) -> ArchiveConfig {
    ArchiveConfig {
        enabled: Switch::On,
        dir: dir.to_path_buf(),
        event_types: vec!["alert".into(), "stats".into()],
        ..ArchiveConfig::default()
    }
}

/// An alert-like EVE line of exactly `len` bytes (with its newline), numbered.
fn eve(n: u64, len: usize) -> String {
    let head = format!("{{\"n\":{n:010},\"event_type\":\"alert\",\"pad\":\"");
    let tail = "\"}\n";
    format!("{head}{}{tail}", "x".repeat(len - head.len() - tail.len()))
}

fn alert<'a>(ts: i64, sid: u32, severity: u8, eve: &'a str, fast: &'a str) -> Event<'a> {
    Event {
        ts_secs: ts,
        ts_usecs: 0,
        event_type: "alert",
        gid: 1,
        sid,
        severity,
        eve,
        fast,
    }
}

fn stats_event(ts: i64, eve: &str) -> Event<'_> {
    Event {
        ts_secs: ts,
        ts_usecs: 0,
        event_type: "stats",
        gid: 0,
        sid: 0,
        severity: 0,
        eve,
        fast: "",
    }
}

/// All event lines in the archive, in order.
fn export(dir: &Path) -> (Vec<String>, reader::Summary) {
    let mut v = Vec::new();
    let s = reader::for_each(dir, |e| {
        v.push(e.eve.to_string());
        Ok(())
    })
    .unwrap();
    (v, s)
}

// ---------------------------------------------------------------------------------------
// corruption

#[test]
fn truncation_and_byte_flips_never_yield_a_corrupt_record() {
    let mut rng = Rng::new();
    let dir = tmp("corrupt");
    let c = ArchiveConfig {
        flush_size: 16 * 1024,
        buffer_cap: 64 * 1024,
        segment_size: 256 * 1024,
        max_size: 64 << 20,
        ..cfg(&dir)
    };
    let mut w = Writer::open(FsStorage::new(&dir), &c);
    let t0 = Now {
        mono_ms: 0,
        unix_secs: 1_700_000_000,
    };
    for n in 0..1500u64 {
        let line = eve(n, 150 + rng.below(900) as usize);
        let fast = format!("fast {n}\n");
        let o = w.offer(&alert(1_700_000_000 + n as i64, 7, 2, &line, &fast), t0);
        assert!(matches!(o, Offer::Buffered { .. }), "{o:?}");
    }
    w.flush(t0).unwrap();
    drop(w);
    let segs = FsStorage::new(&dir).list().unwrap();
    assert!(segs.len() >= 3, "{segs:?}");

    let mut checked = 0;
    for iter in 0..400 {
        let seg = segs[rng.below(segs.len() as u64) as usize];
        let orig = FsStorage::new(&dir).read(seg).unwrap();
        let clean = record::scan(&orig);
        assert!(clean.damage.is_empty());
        // (offset, framed length) of every original record
        let spans: Vec<(usize, usize)> = clean
            .records
            .iter()
            .map(|(o, _)| {
                let len = u32::from_le_bytes(orig[o + 4..o + 8].try_into().unwrap()) as usize;
                (*o, HEADER + len)
            })
            .collect();
        let mut bad = orig.clone();
        let data_end = clean.end + 4096;
        let mut hit: Vec<usize> = Vec::new();
        let cut = if iter % 3 == 0 {
            let at = rng.below(data_end as u64) as usize;
            bad.truncate(at);
            at
        } else {
            for _ in 0..1 + rng.below(12) {
                let at = rng.below(data_end as u64) as usize;
                bad[at] ^= 1 + rng.below(255) as u8;
                hit.push(at);
            }
            bad.len()
        };
        let got = record::scan(&bad);
        // everything returned is an original record, byte for byte, at its place
        for (o, p) in &got.records {
            let orig_p = clean
                .records
                .iter()
                .find(|(oo, _)| oo == o)
                .map(|(_, p)| p)
                .unwrap_or_else(|| panic!("iteration {iter}: record at {o} was never written"));
            assert_eq!(p, orig_p, "iteration {iter}: record at {o} differs");
        }
        // every original record untouched by the damage is still there
        for &(o, len) in &spans {
            let touched = hit.iter().any(|&h| h >= o && h < o + len) || o + len > cut;
            let found = got.records.iter().any(|(g, _)| *g == o);
            if !touched {
                assert!(found, "iteration {iter}: untouched record at {o} lost");
            } else if o + len <= cut {
                // a flipped record is returned only if the flip hit nothing it covers
                assert!(!found || hit.iter().all(|&h| h < o || h >= o + len));
            }
        }
        if !hit.is_empty() || cut < orig.len() {
            checked += 1;
        }
        // now and then, through the writer: recover from the damaged newest segment,
        // append, and read everything back
        if iter % 50 == 0 && seg == *segs.last().unwrap() {
            let d2 = tmp("corrupt-recover");
            for &s in &segs {
                let b = if s == seg {
                    bad.clone()
                } else {
                    FsStorage::new(&dir).read(s).unwrap()
                };
                std::fs::write(FsStorage::new(&d2).path(s), b).unwrap();
            }
            let before = export(&d2).0;
            let mut w = Writer::open(
                FsStorage::new(&d2),
                &ArchiveConfig {
                    dir: d2.clone(),
                    ..c.clone()
                },
            );
            let extra: Vec<String> = (0..20).map(|n| eve(100_000 + n, 300)).collect();
            for l in &extra {
                w.offer(&alert(1, 7, 2, l, ""), t0);
            }
            w.flush(t0).unwrap();
            drop(w);
            let (after, _) = export(&d2);
            assert_eq!(&after[..before.len()], &before[..], "iteration {iter}");
            assert_eq!(&after[before.len()..], &extra[..], "iteration {iter}");
        }
    }
    assert!(checked > 300);
    std::fs::remove_dir_all(&dir).unwrap();
}

// ---------------------------------------------------------------------------------------
// flush policy and budget, with a fake clock and a counting writer over real files

const DAY0: i64 = 19_675 * 86_400; // a UTC midnight

fn at(t: u64) -> Now {
    Now {
        mono_ms: t * 1000,
        unix_secs: DAY0 + t as i64,
    }
}

#[test]
fn simulated_day_stays_within_budget_with_expected_flushes() {
    let dir = tmp("day");
    let budget = 40u64 << 20;
    let c = ArchiveConfig {
        daily_budget: budget,
        urgent_severity: 1,
        ..cfg(&dir)
    };
    let (storage, io) = Counting::new(FsStorage::new(&dir));
    let mut w = Writer::open(storage, &c);
    // one 1200-byte alert every 4 s (severity 2: not urgent) and one 4000-byte stats event
    // every 10 s: 26 MB of alerts and 35 MB of stats offered, against a 40 MiB budget
    let (mut alerts, mut stats_kept, mut stats_dropped) = (0u64, 0u64, 0u64);
    let fast = "fast\n";
    for t in 0..86_400u64 {
        w.poll(at(t));
        if t % 4 == 0 {
            let l = eve(alerts, 1200);
            let o = w
                .front
                .offer(&alert(DAY0 + t as i64, 1000, 2, &l, fast), at(t));
            assert!(matches!(o, Offer::Buffered { .. }), "alert at {t}: {o:?}");
            alerts += 1;
        }
        if t % 10 == 0 {
            let l = eve(1_000_000 + t, 4000);
            match w.front.offer(&stats_event(DAY0 + t as i64, &l), at(t)) {
                Offer::Buffered { .. } => stats_kept += 1,
                Offer::DroppedBudget => stats_dropped += 1,
                o => panic!("stats at {t}: {o:?}"),
            }
        }
    }
    let day_bytes = io.bytes();
    let st = w.stats();
    println!(
        "day: {} flushes, {day_bytes} bytes written (budget {budget}), {alerts} alerts, \
         {stats_kept} stats kept, {stats_dropped} dropped",
        st.mark.flushes
    );
    // a flush every 15 minutes: at 900 s, 1800 s, ... 85500 s; the 96th at midnight
    assert_eq!(st.mark.flushes, 86_400 / 900 - 1);
    assert_eq!(io.syncs(), st.mark.flushes, "one fdatasync per flush");
    assert_eq!(st.mark.failed_flushes, 0);
    assert!(day_bytes <= budget, "{day_bytes} > {budget}");
    // the budget is used, not merely respected: stats fill what the alerts leave
    assert!(
        day_bytes + (4 << 20) > budget,
        "only {day_bytes} of {budget} used"
    );
    assert!(stats_dropped > 0 && stats_kept > 0);
    assert_eq!(st.mark.dropped_budget, stats_dropped);
    w.poll(at(86_400));
    assert_eq!(w.stats().mark.flushes, 86_400 / 900);
    w.flush(at(86_400)).unwrap();
    drop(w);
    let (lines, sum) = export(&dir);
    assert!(sum.damage.is_empty());
    let exported_alerts: Vec<&String> = lines.iter().filter(|l| l.len() == 1200).collect();
    assert_eq!(exported_alerts.len() as u64, alerts, "every alert kept");
    for (i, l) in exported_alerts.iter().enumerate() {
        assert_eq!(**l, eve(i as u64, 1200));
    }
    assert_eq!(lines.len() as u64, alerts + stats_kept);
    assert_eq!(sum.last_mark.unwrap().bytes_total, io.bytes());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn size_trigger_writes_full_page_aligned_chunks() {
    let dir = tmp("size");
    let c = ArchiveConfig {
        daily_budget: 0,
        flush_interval_secs: 2 * 86_400,
        ..cfg(&dir)
    };
    let (storage, io) = Counting::new(FsStorage::new(&dir));
    let mut w = Writer::open(storage, &c);
    // one 600-byte alert per second for a day: 52 MB, flushed by size, never by time
    let mut framed = 0;
    for t in 0..86_400u64 {
        let l = eve(t, 600);
        let ev = alert(DAY0 + t as i64, 1, 2, &l, "");
        if t == 0 {
            let mut b = Vec::new();
            framed = record::append(&mut b, &Payload::Event(ev.clone())).unwrap();
        }
        w.offer(&ev, at(t));
    }
    let per_chunk = (c.flush_size as usize).div_ceil(framed);
    let expect = 86_400 / per_chunk as u64;
    let chunk_bytes = record::page_up(per_chunk * framed + record::MARK_MAX) as u64;
    let st = w.stats();
    println!(
        "size trigger: {} flushes of {per_chunk} records, {chunk_bytes} bytes each",
        st.mark.flushes
    );
    assert_eq!(st.mark.flushes, expect);
    assert_eq!(io.syncs(), expect);
    assert_eq!(io.bytes(), expect * chunk_bytes);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn urgent_alert_is_flushed_within_seconds() {
    let dir = tmp("urgent");
    let c = ArchiveConfig {
        urgent_severity: 2,
        urgent_delay_secs: 2,
        ..cfg(&dir)
    };
    let mut w = Writer::open(FsStorage::new(&dir), &c);
    let l = eve(1, 500);
    w.offer(&alert(DAY0, 1, 3, &l, ""), at(100)); // severity 3: not urgent
    w.offer(&alert(DAY0, 1, 2, &l, ""), at(101)); // urgent
    w.poll(at(102));
    assert_eq!(w.stats().mark.flushes, 0);
    w.poll(at(103));
    assert_eq!(
        w.stats().mark.flushes,
        1,
        "flushed 2 s after the urgent alert"
    );
    assert_eq!(export(&dir).0.len(), 2);

    // the same through the flusher thread, with the real clock
    let dir2 = tmp("urgent-bg");
    let a = Archive::start(
        &ArchiveConfig {
            urgent_delay_secs: 1,
            ..cfg(&dir2)
        },
        None,
    );
    let t0 = Instant::now();
    a.offer(&alert(DAY0, 1, 1, &l, ""));
    while a.stats().mark.flushes == 0 {
        assert!(t0.elapsed() < Duration::from_secs(5), "not flushed");
        std::thread::sleep(Duration::from_millis(20));
    }
    let took = t0.elapsed();
    println!("urgent alert durable after {took:?}");
    assert!(took >= Duration::from_millis(900) && took < Duration::from_secs(3));
    a.close();
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_dir_all(&dir2).unwrap();
}

// ---------------------------------------------------------------------------------------
// full disk, read-only card, slow card

const OK: u8 = 0;
const FULL: u8 = 1;
const READ_ONLY: u8 = 2;
const SLOW: u8 = 3;

/// Real files, with failures switched on from the test.
struct Faulty {
    inner: FsStorage,
    mode: Arc<AtomicU8>,
}

impl Faulty {
    fn check(&self) -> io::Result<()> {
        match self.mode.load(Ordering::SeqCst) {
            FULL => Err(io::Error::from_raw_os_error(libc::ENOSPC)),
            READ_ONLY => Err(io::Error::from_raw_os_error(libc::EROFS)),
            SLOW => {
                std::thread::sleep(Duration::from_secs(2));
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

impl Storage for Faulty {
    fn list(&mut self) -> io::Result<Vec<u64>> {
        self.inner.list()
    }
    fn create(&mut self, n: u64, size: u64) -> io::Result<u64> {
        self.check()?;
        self.inner.create(n, size)
    }
    fn write_at(&mut self, n: u64, off: u64, data: &[u8]) -> io::Result<()> {
        self.check()?;
        self.inner.write_at(n, off, data)
    }
    fn sync(&mut self, n: u64) -> io::Result<()> {
        self.check()?;
        self.inner.sync(n)
    }
    fn read(&mut self, n: u64) -> io::Result<Vec<u8>> {
        self.inner.read(n)
    }
    fn remove(&mut self, n: u64) -> io::Result<()> {
        self.check()?;
        self.inner.remove(n)
    }
}

#[test]
fn full_or_read_only_card_is_counted_and_never_blocks() {
    let dir = tmp("faulty");
    let mode = Arc::new(AtomicU8::new(FULL));
    let c = ArchiveConfig {
        flush_size: 8192,
        flush_interval_secs: 1,
        buffer_cap: 64 * 1024,
        segment_size: 1 << 20,
        max_size: 16 << 20,
        retry_secs: 1,
        ..cfg(&dir)
    };
    let status = dir.join("archive.status");
    let a = Archive::start_with(
        Faulty {
            inner: FsStorage::new(&dir),
            mode: mode.clone(),
        },
        &c,
        Some(status.clone()),
        Now::real,
    );
    let mut offered = Vec::new();
    let mut worst = Duration::ZERO;
    let mut offer = |a: &Archive, n: u64, offered: &mut Vec<String>| {
        let l = eve(n, 1000);
        let t = Instant::now();
        let o = a.offer(&alert(DAY0, 1, 2, &l, ""));
        worst = worst.max(t.elapsed());
        if matches!(o, Offer::Buffered { .. }) {
            offered.push(l);
        }
        o
    };
    // full disk: flushes fail, are counted, records wait in RAM
    for n in 0..20 {
        offer(&a, n, &mut offered);
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(1500));
    let st = a.stats();
    assert!(st.failed_flushes_run >= 1, "{st:?}");
    assert_eq!(st.mark.flushes, 0);
    assert!(st.buffered > 0);
    let text = std::fs::read_to_string(&status).unwrap();
    assert!(text.contains("No space left on device"), "{text}");
    // beyond the RAM cap, records are dropped and counted
    let mut dropped = 0;
    for n in 20..200 {
        if offer(&a, n, &mut offered) == Offer::DroppedOverflow {
            dropped += 1;
        }
    }
    assert!(dropped > 0);
    assert_eq!(a.stats().mark.dropped_overflow, dropped);
    // read-only: the same
    mode.store(READ_ONLY, Ordering::SeqCst);
    let failed = a.stats().failed_flushes_run;
    std::thread::sleep(Duration::from_millis(2500));
    assert!(a.stats().failed_flushes_run > failed);
    let text = std::fs::read_to_string(&status).unwrap();
    assert!(text.contains("Read-only file system"), "{text}");
    let (ok, line) = ravn::archive::health(&dir).unwrap();
    assert!(
        !ok && line.contains("Read-only") && !line.contains(" 0 failed"),
        "{line}"
    );
    // a card that takes seconds per write: offers still return at once
    mode.store(SLOW, Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(1500));
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(2) {
        offer(&a, 1000, &mut offered);
        std::thread::sleep(Duration::from_millis(10));
    }
    mode.store(OK, Ordering::SeqCst);
    let st = a.close();
    println!("worst offer latency {worst:?}; {st:?}");
    assert!(
        worst < Duration::from_millis(200),
        "offer blocked for {worst:?}"
    );
    assert!(st.mark.flushes >= 1);
    // what was buffered (and not dropped) is all there, in order
    let (lines, sum) = export(&dir);
    assert!(sum.damage.is_empty());
    assert_eq!(lines, offered);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `ravn replay` with the archive on a real full file system and on a read-only one
/// (tmpfs mounts; needs root, as in CI).
#[test]
fn replay_keeps_logging_on_full_and_read_only_card() {
    let base = tmp("mounts");
    let full = base.join("full");
    let ro = base.join("ro");
    std::fs::create_dir_all(&full).unwrap();
    std::fs::create_dir_all(&ro).unwrap();
    let mount = |d: &Path, opts: &str| {
        Command::new("mount")
            .args(["-t", "tmpfs", "-o", opts, "tmpfs"])
            .arg(d)
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    };
    if !mount(&full, "size=64k") || !mount(&ro, "ro,size=1m") {
        println!("SKIPPED: cannot mount tmpfs (needs root)");
        let _ = Command::new("umount").arg(&full).status();
        return;
    }
    let pcap = support::crate_root().join("tests/data/heartbeat.pcap");
    let rules = support::crate_root().join("rules/heartbeat.rules");
    for (card, why) in [(&full, "No space left"), (&ro, "Read-only file system")] {
        let out = base.join("out");
        let _ = std::fs::remove_dir_all(&out);
        let o = Command::new(support::ravn_bin())
            .args(["replay", "-r"])
            .arg(&pcap)
            .arg("-S")
            .arg(&rules)
            .arg("-l")
            .arg(&out)
            .args(["--set", "archive.enabled=on", "--set"])
            .arg(format!("archive.dir={}", card.join("archive").display()))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        let umount = || {
            let _ = Command::new("umount").arg(&full).status();
            let _ = Command::new("umount").arg(&ro).status();
        };
        if !o.status.success() {
            umount();
            panic!("replay failed: {err}");
        }
        let fast = std::fs::read_to_string(out.join("fast.log")).unwrap();
        let status = std::fs::read_to_string(out.join("archive.status")).unwrap_or_default();
        if fast.lines().count() != 2 || !status.contains(why) || !err.contains("flush failed") {
            umount();
            panic!(
                "{}: fast.log {fast:?}\nstatus {status}\nstderr {err}",
                card.display()
            );
        }
        assert!(status.contains("failed-flushes-this-run 1"), "{status}");
    }
    let _ = Command::new("umount").arg(&full).status();
    let _ = Command::new("umount").arg(&ro).status();
    std::fs::remove_dir_all(&base).unwrap();
}

// ---------------------------------------------------------------------------------------
// kill -9

#[test]
fn kill_9_at_random_moments_loses_nothing_flushed() {
    let mut rng = Rng::new();
    let base = tmp("kill");
    let pcap = base.join("alerts.pcap");
    // 1.5 M packets, one in 50 an alert: 30,000 alerts
    gen_pcap::write(&pcap, 1_500_000, 50);
    let rules = support::crate_root().join("rules/heartbeat.rules");
    let replay = |input: &Path, arc: &Path, out: &Path| {
        let mut c = Command::new(support::ravn_bin());
        c.args(["-v", "replay", "-r"])
            .arg(input)
            .arg("-S")
            .arg(&rules);
        c.arg("-l").arg(out);
        for s in [
            "archive.enabled=on".to_string(),
            format!("archive.dir={}", arc.display()),
            "archive.flush-size=65536".into(),
            "archive.buffer-cap=67108864".into(),
            "archive.segment-size=68157440".into(),
            "archive.flush-interval-secs=1".into(),
            "archive.urgent-severity=3".into(),
            "archive.urgent-delay-secs=0".into(),
        ] {
            c.args(["--set", &s]);
        }
        c.stdout(Stdio::null()).stderr(Stdio::piped());
        c
    };
    // the reference: a run to the end
    let ref_arc = base.join("ref-arc");
    let o = replay(&pcap, &ref_arc, &base.join("ref-out"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (reference, _) = export(&ref_arc);
    let live: Vec<String> = std::fs::read_to_string(base.join("ref-out/eve.json"))
        .unwrap()
        .lines()
        .filter(|l| l.contains("\"event_type\":\"alert\""))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(reference.len(), 30_000);
    assert_eq!(
        reference, live,
        "the archive holds exactly what was logged live"
    );

    // the killed runs read the capture from a FIFO fed over about 2 s, so that every kill
    // lands mid-way however fast the replay is
    let bytes = Arc::new(std::fs::read(&pcap).unwrap());
    let fifo = base.join("alerts.fifo");
    mkfifo(&fifo);
    let arc = base.join("arc");
    let mut have = 0usize;
    let (mut kills, mut partial) = (0, 0);
    for i in 0..12 {
        let mut child = replay(&fifo, &arc, &base.join("out")).spawn().unwrap();
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let feeder = feed_fifo(&fifo, bytes.clone(), done.clone());
        let stderr = child.stderr.take().unwrap();
        let log = std::thread::spawn(move || io::read_to_string(stderr).unwrap_or_default());
        let wait = 30 + rng.below(1500);
        std::thread::sleep(Duration::from_millis(wait));
        let killed = child.kill().is_ok();
        child.wait().unwrap();
        done.store(true, Ordering::Relaxed);
        feeder.join().unwrap();
        let log = log.join().unwrap();
        // "archive: flushed N records (M this run)": M were durable when it was printed
        let flushed: usize = log
            .lines()
            .filter_map(|l| {
                let rest = l.split(" records (").nth(1)?;
                rest.split(' ').next()?.parse().ok()
            })
            .max()
            .unwrap_or(0);
        let (lines, _) = export(&arc);
        let new = &lines[have..];
        println!(
            "run {i}: killed after {wait} ms: {flushed} records reported flushed, {} in the archive",
            new.len()
        );
        assert!(
            new.len() >= flushed,
            "run {i}: {flushed} flushed but only {} recovered",
            new.len()
        );
        assert_eq!(new, &reference[..new.len()], "run {i}: a record differs");
        if killed && new.len() < reference.len() {
            kills += 1;
        }
        if flushed > 0 && new.len() < reference.len() {
            partial += 1;
        }
        have = lines.len();
    }
    println!("{kills} runs killed mid-way, {partial} of them after flushing");
    assert!(
        partial >= 3,
        "too few kills landed after a flush to mean anything"
    );
    std::fs::remove_dir_all(&base).unwrap();
}

// ---------------------------------------------------------------------------------------
// figures for the issue's closing note

/// `write_bytes` of /proc/self/io: bytes this process caused to be sent to storage.
fn proc_write_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/io")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("write_bytes: "))
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Sectors written to the block device holding `p` (from /sys/dev/block/M:m/stat).
fn device_sectors(p: &Path) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    let dev = std::fs::metadata(p).ok()?.dev();
    let (maj, min) = (libc::major(dev), libc::minor(dev));
    let t = std::fs::read_to_string(format!("/sys/dev/block/{maj}:{min}/stat")).ok()?;
    t.split_whitespace().nth(6)?.parse().ok()
}

/// Bytes per 1,000 alerts written to persistent storage by the archive (default settings)
/// and by writing each eve.json line with one write + fsync, on this machine's disk. Run
/// with `--nocapture` to see the figures.
#[test]
fn figures_bytes_per_1000_alerts() {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let base = tmp("figures");
    let pcap = base.join("alerts.pcap");
    gen_pcap::write(&pcap, 20_000, 2); // 10,000 alerts
    let rules = support::crate_root().join("rules/heartbeat.rules");
    let arc = base.join("arc");
    let o = Command::new(support::ravn_bin())
        .args(["replay", "-r"])
        .arg(&pcap)
        .arg("-S")
        .arg(&rules)
        .arg("-l")
        .arg(base.join("out"))
        .args(["--set", "archive.enabled=on", "--set"])
        .arg(format!("archive.dir={}", arc.display()))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (lines, sum) = export(&arc);
    assert_eq!(lines.len(), 10_000);
    let mark = sum.last_mark.unwrap();
    let line_bytes: u64 = lines.iter().map(|l| l.len() as u64).sum();
    let replay_per_k = mark.bytes_total as f64 / 10.0;

    // the same lines through the archive writer in this process, to count with /proc/self/io
    let arc2 = base.join("arc2");
    let c = ArchiveConfig {
        dir: arc2.clone(),
        ..ArchiveConfig::default()
    };
    let fast: Vec<String> = std::fs::read_to_string(base.join("out/fast.log"))
        .unwrap()
        .lines()
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(fast.len(), lines.len());
    let before = proc_write_bytes();
    let dev_before = device_sectors(&base);
    let mut w = Writer::open(FsStorage::new(&arc2), &c);
    let now = Now::real();
    for (l, f) in lines.iter().zip(&fast) {
        w.offer(&alert(0, 5_100_000, 3, l, f), now);
    }
    w.flush(now).unwrap();
    let archive_io = proc_write_bytes() - before;
    let archive_dev = device_sectors(&base)
        .zip(dev_before)
        .map(|(a, b)| (a - b) * 512);
    let archive_counted = w.stats().mark.bytes_total;
    drop(w);

    // one write + fsync per eve.json line (a sample; the cost per line is constant)
    let sample = 1000;
    let direct = base.join("direct-eve.json");
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o644)
        .open(&direct)
        .unwrap();
    let before = proc_write_bytes();
    let dev_before = device_sectors(&base);
    let t0 = Instant::now();
    for l in lines.iter().take(sample) {
        f.write_all(l.as_bytes()).unwrap();
        f.sync_all().unwrap();
    }
    let direct_io = proc_write_bytes() - before;
    let direct_dev = device_sectors(&base)
        .zip(dev_before)
        .map(|(a, b)| (a - b) * 512);
    let direct_secs = t0.elapsed().as_secs_f64();
    let direct_per_k = direct_io as f64 * 1000.0 / sample as f64;
    let archive_per_k = archive_io as f64 / 10.0;
    println!(
        "10,000 alerts, {line_bytes} bytes of eve.json lines ({:.0} per 1,000)",
        line_bytes as f64 / 10.0
    );
    println!(
        "archive, ravn replay with defaults: {} bytes written ({} flushes) = {replay_per_k:.0} bytes per 1,000 alerts",
        mark.bytes_total, mark.flushes
    );
    println!(
        "archive, in process: {archive_counted} bytes counted by the writer, {archive_io} by /proc/self/io \
         = {archive_per_k:.0} bytes per 1,000 alerts"
    );
    println!(
        "direct write+fsync per line: {direct_io} bytes by /proc/self/io for {sample} lines in {direct_secs:.2} s \
         = {direct_per_k:.0} bytes per 1,000 alerts (file system journal writes not included)"
    );
    if let (Some(a), Some(d)) = (archive_dev, direct_dev) {
        println!(
            "device sectors written (whole disk, all processes, so an upper bound): archive \
             {:.0}, direct {:.0} bytes per 1,000 alerts",
            a as f64 / 10.0,
            d as f64 * 1000.0 / sample as f64
        );
    }
    let ratio = direct_per_k / archive_per_k.max(1.0);
    println!("ratio direct / archive = {ratio:.1}");
    // the direct way writes at least one 4 KiB page per line
    assert!(direct_per_k >= 4096.0 * 1000.0 * 0.9, "{direct_per_k}");
    assert!(archive_counted >= line_bytes && archive_counted < line_bytes * 2);
    assert!(ratio > 2.0, "{ratio}");
    std::fs::remove_dir_all(&base).unwrap();
}

/// Make a FIFO at `path`.
fn mkfifo(path: &Path) {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(
        unsafe { libc::mkfifo(c.as_ptr(), 0o600) },
        0,
        "{}",
        path.display()
    );
}

/// Write `bytes` into the FIFO at `path` in 100 pieces 20 ms apart, once a reader has it
/// open; gives up when the reader goes away or `done` is set.
fn feed_fifo(
    path: &Path,
    bytes: Arc<Vec<u8>>,
    done: Arc<std::sync::atomic::AtomicBool>,
) -> std::thread::JoinHandle<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let path = path.to_path_buf();
    std::thread::spawn(move || {
        // non-blocking open fails until the reader has opened its end
        let mut w = loop {
            if done.load(Ordering::Relaxed) {
                return;
            }
            match std::fs::OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(&path)
            {
                Ok(f) => break f,
                Err(_) => std::thread::sleep(Duration::from_millis(2)),
            }
        };
        // back to blocking writes
        // SAFETY: fcntl on a descriptor we own.
        unsafe {
            use std::os::unix::io::AsRawFd;
            libc::fcntl(w.as_raw_fd(), libc::F_SETFL, 0);
        }
        for piece in bytes.chunks(bytes.len().div_ceil(100)) {
            if done.load(Ordering::Relaxed) || w.write_all(piece).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    })
}

/// SIGTERM flushes everything buffered: after `ravn replay` is stopped with SIGTERM, the
/// archive holds exactly the alerts it logged to eve.json, though the flush interval
/// (15 min) was never reached. The capture comes through a FIFO: its first half is
/// written, then SIGTERM is sent, then the rest, so the replay is stopped midway however
/// fast it runs.
#[test]
fn sigterm_flushes_everything_buffered() {
    use std::io::Write;
    let base = tmp("sigterm");
    let pcap = base.join("alerts.pcap");
    gen_pcap::write(&pcap, 3_000_000, 1000);
    let bytes = std::fs::read(&pcap).unwrap();
    let fifo = base.join("alerts.fifo");
    mkfifo(&fifo);
    let rules = support::crate_root().join("rules/heartbeat.rules");
    let arc = base.join("arc");
    let out = base.join("out");
    let child = Command::new(support::ravn_bin())
        .args(["replay", "-r"])
        .arg(&fifo)
        .arg("-S")
        .arg(&rules)
        .arg("-l")
        .arg(&out)
        .args(["--set", "archive.enabled=on", "--set"])
        .arg(format!("archive.dir={}", arc.display()))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // opening blocks until the replay opens its end; each write until it has read enough
    let mut w = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    let half = bytes.len() / 2;
    w.write_all(&bytes[..half]).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    // SAFETY: signalling our own child by its pid.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    std::thread::sleep(Duration::from_millis(100));
    // the replay takes the signal at its next packet, then stops reading (EPIPE here)
    let _ = w.write_all(&bytes[half..]);
    drop(w);
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    let live: Vec<String> = std::fs::read_to_string(out.join("eve.json"))
        .unwrap()
        .lines()
        .filter(|l| l.contains("\"event_type\":\"alert\""))
        .map(|l| format!("{l}\n"))
        .collect();
    let (archived, sum) = export(&arc);
    println!(
        "{} alerts logged before SIGTERM, {} archived",
        live.len(),
        archived.len()
    );
    assert!(
        err.contains("SIGTERM"),
        "the replay must have been stopped: {err}"
    );
    assert!(!live.is_empty() && live.len() < 3000, "{}", live.len());
    assert_eq!(archived, live);
    assert!(sum.damage.is_empty());
    std::fs::remove_dir_all(&base).unwrap();
}

/// `ravn logs export` filters and formats, and `ravn logs stats`, on a replayed archive.
#[test]
fn logs_export_and_stats_commands() {
    let base = tmp("cli");
    let arc = base.join("arc");
    let out = base.join("out");
    let ravn = |args: &[&str]| {
        let o = Command::new(support::ravn_bin())
            .args(args)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    };
    let arc_s = arc.to_str().unwrap();
    let set_dir = format!("archive.dir={arc_s}");
    ravn(&[
        "replay",
        "-r",
        support::crate_root()
            .join("tests/data/heartbeat.pcap")
            .to_str()
            .unwrap(),
        "-S",
        support::crate_root()
            .join("rules/heartbeat.rules")
            .to_str()
            .unwrap(),
        "-l",
        out.to_str().unwrap(),
        "--set",
        "archive.enabled=on",
        "--set",
        &set_dir,
    ]);
    let fast = std::fs::read_to_string(out.join("fast.log")).unwrap();
    let eve: Vec<String> = std::fs::read_to_string(out.join("eve.json"))
        .unwrap()
        .lines()
        .filter(|l| l.contains("\"event_type\":\"alert\""))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(eve.len(), 2);
    // the two alerts are at 22:13:20Z and 22:14:20Z on 2023-11-14
    assert_eq!(ravn(&["logs", "export", "--dir", arc_s]), eve.concat());
    assert_eq!(
        ravn(&["logs", "export", "--dir", arc_s, "--format", "fast"]),
        fast
    );
    assert_eq!(
        ravn(&[
            "logs",
            "export",
            "--dir",
            arc_s,
            "--since",
            "2023-11-14T22:14:00Z"
        ]),
        eve[1]
    );
    assert_eq!(
        ravn(&["logs", "export", "--dir", arc_s, "--until", "1700000060"]),
        eve[0]
    );
    assert_eq!(
        ravn(&[
            "logs",
            "export",
            "--dir",
            arc_s,
            "--sid",
            "5100000",
            "--since",
            "1700000000"
        ]),
        eve.concat()
    );
    assert_eq!(ravn(&["logs", "export", "--dir", arc_s, "--sid", "1"]), "");
    let stats = ravn(&["logs", "stats", "--dir", arc_s, "-l", out.to_str().unwrap()]);
    for want in [
        "records              2\n",
        "segments             1 ",
        "flushes              1\n",
        "failed flushes       0\n",
        "bytes written total  4096\n",
        "write amplification  ",
        "last-error             -",
    ] {
        assert!(stats.contains(want), "{want:?} not in\n{stats}");
    }
    // a bad time is an error that says what is expected
    let o = Command::new(support::ravn_bin())
        .args(["logs", "export", "--dir", arc_s, "--since", "yesterday"])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("--since"));
    std::fs::remove_dir_all(&base).unwrap();
}
