//! The tmpfs log ring: under a burst the files never exceed the cap, and a follower that
//! reads by name (our own, written like `tail -F`, and GNU `tail -F` itself) sees every line
//! exactly once. End to end, `ravn replay` with `logs.ring=on` keeps the newest alerts
//! within the cap.

#[path = "support/gen_pcap.rs"]
mod gen_pcap;
mod support;

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ravn::logring::RingFile;

fn dir(name: &str) -> PathBuf {
    // /dev/shm is tmpfs, like /run where the ring lives on the appliance
    let base = if Path::new("/dev/shm").is_dir() {
        PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    support::fresh_dir(&base.join(format!("ravn-logring-{name}-{}", std::process::id())))
}

fn dir_bytes(d: &Path) -> u64 {
    std::fs::read_dir(d)
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// A line of about 300 bytes, like an EVE alert, numbered.
fn line(n: u64) -> String {
    format!("{{\"n\":{n:08},\"pad\":\"{}\"}}\n", "p".repeat(280))
}

/// Write `lines` lines at `rate` lines/s into a ring, while a sampler checks the cap.
/// Returns the highest total seen.
fn burst(d: &Path, file_size: u64, count: u32, lines: u64, rate: u64) -> u64 {
    let cap = file_size * count as u64;
    let done = Arc::new(AtomicBool::new(false));
    let max_seen = Arc::new(AtomicU64::new(0));
    let sampler = {
        let (d, done, max_seen) = (d.to_path_buf(), done.clone(), max_seen.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                max_seen.fetch_max(dir_bytes(&d), Ordering::Relaxed);
                std::thread::sleep(Duration::from_micros(200));
            }
        })
    };
    let mut r = RingFile::open(d, "eve.json", file_size, count).unwrap();
    let start = Instant::now();
    for n in 0..lines {
        r.write_line(line(n).as_bytes()).unwrap();
        if n % 100 == 99 {
            r.flush().unwrap();
            max_seen.fetch_max(dir_bytes(d), Ordering::Relaxed);
            let due = Duration::from_secs_f64((n + 1) as f64 / rate as f64);
            if let Some(w) = due.checked_sub(start.elapsed()) {
                std::thread::sleep(w);
            }
        }
    }
    r.flush().unwrap();
    assert!(
        r.stats().rotations > 5,
        "the burst must rotate: {:?}",
        r.stats()
    );
    drop(r);
    done.store(true, Ordering::Relaxed);
    sampler.join().unwrap();
    let m = max_seen.load(Ordering::Relaxed);
    assert!(m <= cap, "ring took {m} bytes, cap {cap}");
    m
}

/// A follower like `tail -F`: read the open file to its end; when the name points to
/// another file, drain the old descriptor, then open the name again.
fn follow(path: PathBuf, stop: Arc<AtomicBool>) -> Vec<u64> {
    let mut seen = Vec::new();
    let mut cur: Option<(File, u64)> = None;
    let mut partial = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    let take = |data: &[u8], partial: &mut Vec<u8>, seen: &mut Vec<u64>| {
        partial.extend_from_slice(data);
        while let Some(i) = partial.iter().position(|&b| b == b'\n') {
            let l: Vec<u8> = partial.drain(..=i).collect();
            let s = std::str::from_utf8(&l).unwrap();
            seen.push(s[5..13].parse().unwrap());
        }
    };
    loop {
        let stopping = stop.load(Ordering::Relaxed);
        if cur.is_none() {
            if let Ok(f) = File::open(&path) {
                let ino = f.metadata().unwrap().ino();
                cur = Some((f, ino));
            }
        }
        let mut progressed = false;
        if let Some((f, ino)) = &mut cur {
            loop {
                let n = f.read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                progressed = true;
                take(&buf[..n], &mut partial, &mut seen);
            }
            let now_ino = std::fs::metadata(&path).map(|m| m.ino()).ok();
            if now_ino != Some(*ino) {
                // rotated: drain what was written before the rename, then reopen
                loop {
                    let n = f.read(&mut buf).unwrap();
                    if n == 0 {
                        break;
                    }
                    take(&buf[..n], &mut partial, &mut seen);
                }
                cur = None;
                continue;
            }
        }
        if stopping && !progressed {
            return seen;
        }
        if !progressed {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

fn assert_each_once(seen: &[u64], lines: u64, who: &str) {
    let missing: Vec<u64> = (0..lines)
        .filter(|n| seen.binary_search(n).is_err())
        .take(5)
        .collect();
    assert_eq!(
        seen.len() as u64,
        lines,
        "{who}: saw {} lines of {lines}; first missing {missing:?}",
        seen.len()
    );
    for (i, &n) in seen.iter().enumerate() {
        assert_eq!(n, i as u64, "{who}: line {i} out of order or duplicated");
    }
}

#[test]
fn burst_stays_under_cap_and_follower_sees_every_line_once() {
    let d = dir("follow");
    let path = d.join("eve.json");
    let stop = Arc::new(AtomicBool::new(false));
    let follower = {
        let (p, s) = (path.clone(), stop.clone());
        std::thread::spawn(move || follow(p, s))
    };
    std::thread::sleep(Duration::from_millis(20));
    // 60,000 alert-sized lines at 20,000/s (an alert storm): 18 MB through a 4 x 512 KiB ring
    let lines = 60_000;
    burst(&d, 512 * 1024, 4, lines, 20_000);
    std::thread::sleep(Duration::from_millis(200));
    stop.store(true, Ordering::Relaxed);
    let seen = follower.join().unwrap();
    assert_each_once(&seen, lines, "follower");
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn gnu_tail_follows_by_name_without_loss_or_duplicates() {
    if Command::new("tail").arg("--version").output().is_err() {
        println!("SKIPPED: tail not installed");
        return;
    }
    let d = dir("tail");
    let path = d.join("eve.json");
    File::create(&path).unwrap();
    for mode in [&[][..], &["---disable-inotify"][..]] {
        std::fs::write(&path, b"").unwrap();
        let mut tail = Command::new("tail")
            .args(["-F", "-n", "+1", "-s", "0.01"])
            .args(mode)
            .arg(&path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let out = tail.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut seen = Vec::new();
            for l in BufReader::new(out).lines() {
                let l = l.unwrap();
                seen.push(l[5..13].parse::<u64>().unwrap());
            }
            seen
        });
        std::thread::sleep(Duration::from_millis(300));
        let lines = 30_000;
        burst(&d, 512 * 1024, 4, lines, 10_000);
        std::thread::sleep(Duration::from_millis(1500));
        tail.kill().unwrap();
        tail.wait().unwrap();
        let seen = reader.join().unwrap();
        assert_each_once(&seen, lines, &format!("tail -F {mode:?}"));
        for f in std::fs::read_dir(&d).unwrap().flatten() {
            std::fs::remove_file(f.path()).unwrap();
        }
    }
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn replay_with_ring_keeps_newest_alerts_within_cap() {
    let d = dir("replay");
    let pcap = d.join("alerts.pcap");
    // 40,000 alerts (one packet in two)
    gen_pcap::write(&pcap, 80_000, 2);
    let rules = support::crate_root().join("rules/heartbeat.rules");
    let run = |out: &Path, sets: &[&str]| {
        let mut c = Command::new(support::ravn_bin());
        c.arg("replay").arg("-r").arg(&pcap).arg("-S").arg(&rules);
        c.arg("-l").arg(out);
        for s in sets {
            c.args(["--set", s]);
        }
        let o = c.output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    let plain = d.join("plain");
    run(&plain, &[]);
    let ring = d.join("ring");
    run(
        &ring,
        &[
            "logs.ring=on",
            "logs.file-size=1048576",
            "logs.count=3",
            "logs.ram-cap=6291456",
        ],
    );
    let cap = 3 * 1048576;
    let names = |log: &str| {
        [format!("{log}.2"), format!("{log}.1"), log.to_string()]
            .iter()
            .map(|n| ring.join(n))
            .collect::<Vec<_>>()
    };
    for log in ["eve.json", "fast.log"] {
        let files = names(log);
        let mut total = 0;
        let mut joined = Vec::new();
        for f in &files {
            let b = std::fs::read(f).unwrap_or_default();
            assert!(
                b.len() as u64 <= 1048576,
                "{}: {} bytes",
                f.display(),
                b.len()
            );
            total += b.len() as u64;
            joined.extend_from_slice(&b);
        }
        assert!(total <= cap);
        assert!(!ring.join(format!("{log}.3")).exists());
        // the ring holds whole lines: exactly the newest lines of the plain log (the last
        // eve.json line is the stats event, whose times differ between runs)
        let mut whole = std::fs::read(plain.join(log)).unwrap();
        if log == "eve.json" {
            let strip = |v: &mut Vec<u8>| {
                let cut = v[..v.len() - 1].iter().rposition(|&b| b == b'\n').unwrap();
                assert!(v[cut..].windows(7).any(|w| w == b"\"stats\""));
                v.truncate(cut + 1);
            };
            strip(&mut whole);
            strip(&mut joined);
        }
        assert!(whole.len() as u64 > cap, "{log} must overflow the ring");
        assert!(
            whole.ends_with(&joined),
            "{log}: ring is not the tail of the log"
        );
        assert!(joined.first().is_some_and(|_| {
            let cut = whole.len() - joined.len();
            whole[cut - 1] == b'\n'
        }));
    }
    std::fs::remove_dir_all(&d).unwrap();
}
