//! Live logs in a bounded ring of files on tmpfs.
//!
//! A [`RingFile`] writes whole lines to `dir/name`. Before a line would make the file larger
//! than `file_size`, the file is rotated the way logrotate's `create` mode does it: the
//! buffered bytes are written out, `name.{n}` are renamed to `name.{n+1}` (the oldest,
//! `name.{count-1}`, is removed), `name` is renamed to `name.1`, and a new, empty `name` is
//! opened. Nothing is ever written to a file after it was renamed, so a follower that reads by
//! name (`tail -F`, Filebeat, logtail) drains the old file through its open descriptor and
//! then reopens the name: every line is seen exactly once.
//!
//! Bound: every file holds at most `file_size` bytes and at most `count` files exist
//! (`name`, `name.1` … `name.{count-1}`), so the ring never takes more than
//! `count * file_size` bytes of tmpfs; a line longer than `file_size` is not written and is
//! counted in [`RingStats::oversize`]. The write buffer (at most `file_size`, normally 64 KiB)
//! lives in process memory, not in tmpfs.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// `[logs]` in ravn.toml: the live log ring.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct LogsConfig {
    /// `on`: fast.log and eve.json rotate in a bounded ring; `off`: plain files that grow
    /// (what `suricata -r` does); `auto`: on for the daemon, off for `ravn replay`.
    pub ring: Switch,
    /// Rotate a file before it would exceed this many bytes.
    pub file_size: u64,
    /// Files per log in the ring: the live one plus `count - 1` rotated ones.
    pub count: u32,
    /// The most tmpfs the ring may take, all logs together, in bytes. Checked at startup:
    /// (enabled logs) x `count` x `file-size` must not exceed it.
    pub ram_cap: u64,
}

impl Default for LogsConfig {
    fn default() -> Self {
        LogsConfig {
            ring: Switch::Auto,
            file_size: 8 << 20,
            count: 4,
            ram_cap: 64 << 20,
        }
    }
}

/// A feature that is on, off, or decided by the command (`auto`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Switch {
    On,
    Off,
    Auto,
}

impl Switch {
    /// Whether the feature is on, `auto` resolving to `auto_on`.
    pub fn resolve(self, auto_on: bool) -> bool {
        match self {
            Switch::On => true,
            Switch::Off => false,
            Switch::Auto => auto_on,
        }
    }
}

impl LogsConfig {
    /// Check the ring's geometry against the RAM cap; `logs` is how many logs use the ring.
    /// Errors name the key.
    pub fn validate(&self, logs: u64) -> Result<(), String> {
        if self.file_size < 4096 {
            return Err("key `logs.file-size`: must be at least 4096 bytes".into());
        }
        if self.count < 1 {
            return Err("key `logs.count`: must be at least 1".into());
        }
        let need = logs
            .saturating_mul(self.count as u64)
            .saturating_mul(self.file_size);
        if need > self.ram_cap {
            return Err(format!(
                "key `logs.ram-cap`: {} bytes is less than the ring needs \
                 ({logs} logs x logs.count {} x logs.file-size {} = {need} bytes)",
                self.ram_cap, self.count, self.file_size
            ));
        }
        Ok(())
    }
}

/// What a ring did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RingStats {
    pub lines: u64,
    pub bytes: u64,
    pub rotations: u64,
    /// Lines longer than `file_size`, not written.
    pub oversize: u64,
}

/// One log file rotating in a ring. See the module documentation.
pub struct RingFile {
    dir: PathBuf,
    name: String,
    file_size: u64,
    count: u32,
    file: File,
    /// Bytes in the live file, including those still in `buf`.
    size: u64,
    buf: Vec<u8>,
    stats: RingStats,
}

const BUF_CAP: usize = 64 * 1024;

fn ctx(e: io::Error, p: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", p.display()))
}

impl RingFile {
    /// Open (appending to) `dir/name`. Rotated files beyond `count` left by an earlier run
    /// with a larger count are removed, so the bound holds from the start.
    pub fn open(dir: &Path, name: &str, file_size: u64, count: u32) -> io::Result<RingFile> {
        let count = count.max(1);
        let path = dir.join(name);
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| ctx(e, &path))?;
        let size = file.metadata().map_err(|e| ctx(e, &path))?.len();
        let mut r = RingFile {
            dir: dir.to_path_buf(),
            name: name.to_string(),
            file_size,
            count,
            file,
            size,
            buf: Vec::with_capacity(BUF_CAP.min(file_size as usize)),
            stats: RingStats::default(),
        };
        r.remove_stale()?;
        if r.size > file_size {
            // left over from a run with a larger file size
            r.rotate()?;
        }
        Ok(r)
    }

    fn rotated(&self, n: u32) -> PathBuf {
        self.dir.join(format!("{}.{n}", self.name))
    }

    fn remove_stale(&self) -> io::Result<()> {
        let prefix = format!("{}.", self.name);
        let rd = std::fs::read_dir(&self.dir).map_err(|e| ctx(e, &self.dir))?;
        for ent in rd.flatten() {
            let fname = ent.file_name();
            let Some(f) = fname.to_str() else { continue };
            let Some(n) = f.strip_prefix(&prefix) else {
                continue;
            };
            if let Ok(n) = n.parse::<u32>() {
                if n == 0 || n >= self.count {
                    let _ = std::fs::remove_file(ent.path());
                }
            }
        }
        Ok(())
    }

    /// Write one line (with its newline). Rotates first when the line would not fit.
    pub fn write_line(&mut self, line: &[u8]) -> io::Result<()> {
        let len = line.len() as u64;
        if len > self.file_size {
            self.stats.oversize += 1;
            return Ok(());
        }
        if self.size + len > self.file_size {
            self.rotate()?;
        }
        if self.buf.len() + line.len() > self.buf.capacity() {
            self.write_out()?;
        }
        if line.len() > self.buf.capacity() {
            self.file.write_all(line)?;
        } else {
            self.buf.extend_from_slice(line);
        }
        self.size += len;
        self.stats.lines += 1;
        self.stats.bytes += len;
        Ok(())
    }

    fn write_out(&mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            let r = self.file.write_all(&self.buf);
            // On a failed write (tmpfs full) the bytes are given up rather than retried
            // forever; the size stays an upper bound.
            self.buf.clear();
            r?;
        }
        Ok(())
    }

    /// Write buffered lines to the file (a reader then sees them).
    pub fn flush(&mut self) -> io::Result<()> {
        self.write_out()
    }

    /// Rotate now: rename down the ring and reopen `name` empty.
    pub fn rotate(&mut self) -> io::Result<()> {
        self.write_out()?;
        let live = self.dir.join(&self.name);
        if self.count == 1 {
            // no rotated files: start the live file over (a follower sees a truncation)
            self.file.set_len(0).map_err(|e| ctx(e, &live))?;
        } else {
            let oldest = self.rotated(self.count - 1);
            match std::fs::remove_file(&oldest) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(ctx(e, &oldest)),
            }
            for n in (1..self.count - 1).rev() {
                let from = self.rotated(n);
                match std::fs::rename(&from, self.rotated(n + 1)) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(ctx(e, &from)),
                }
            }
            std::fs::rename(&live, self.rotated(1)).map_err(|e| ctx(e, &live))?;
            self.file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&live)
                .map_err(|e| ctx(e, &live))?;
        }
        self.size = 0;
        self.stats.rotations += 1;
        Ok(())
    }

    pub fn stats(&self) -> RingStats {
        self.stats
    }

    /// The live file's path.
    pub fn path(&self) -> PathBuf {
        self.dir.join(&self.name)
    }
}

impl Drop for RingFile {
    fn drop(&mut self) {
        let _ = self.write_out();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("ravn-ring-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn total(dir: &Path) -> u64 {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().metadata().unwrap().len())
            .sum()
    }

    #[test]
    fn rotates_within_bound_and_keeps_newest() {
        let d = tmp("bound");
        let mut r = RingFile::open(&d, "x.log", 4096, 3).unwrap();
        for i in 0..2000u32 {
            r.write_line(format!("line {i:06}\n").as_bytes()).unwrap();
            r.flush().unwrap();
            assert!(total(&d) <= 3 * 4096);
        }
        drop(r);
        let live = std::fs::read_to_string(d.join("x.log")).unwrap();
        assert!(live.ends_with("line 001999\n"));
        let one = std::fs::read_to_string(d.join("x.log.1")).unwrap();
        assert!(one.len() as u64 + 12 > 4096, "rotated file is full");
        assert!(!d.join("x.log.3").exists());
        // concatenating the ring oldest-first gives consecutive lines
        let all = [
            std::fs::read_to_string(d.join("x.log.2")).unwrap(),
            one,
            live,
        ]
        .concat();
        let nums: Vec<u32> = all
            .lines()
            .map(|l| l[5..].parse().unwrap())
            .collect::<Vec<_>>();
        assert!(nums.windows(2).all(|w| w[1] == w[0] + 1));
        assert_eq!(*nums.last().unwrap(), 1999);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn oversize_line_counted_not_written() {
        let d = tmp("oversize");
        let mut r = RingFile::open(&d, "x.log", 4096, 2).unwrap();
        r.write_line(&vec![b'a'; 5000]).unwrap();
        assert_eq!(r.stats().oversize, 1);
        drop(r);
        assert_eq!(total(&d), 0);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn stale_files_removed_on_open() {
        let d = tmp("stale");
        for n in 1..6 {
            std::fs::write(d.join(format!("x.log.{n}")), b"old\n").unwrap();
        }
        let _r = RingFile::open(&d, "x.log", 4096, 3).unwrap();
        assert!(d.join("x.log.2").exists());
        assert!(!d.join("x.log.3").exists());
        assert!(!d.join("x.log.5").exists());
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn geometry_checked_against_cap() {
        let c = LogsConfig::default();
        assert!(c.validate(2).is_ok());
        let e = c.validate(3).unwrap_err();
        assert!(e.contains("logs.ram-cap"), "{e}");
        let c = LogsConfig {
            count: 0,
            ..LogsConfig::default()
        };
        assert!(c.validate(1).unwrap_err().contains("logs.count"));
    }
}
