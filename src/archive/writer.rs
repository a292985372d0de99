//! The archive writer: records are buffered in RAM (`Front`) and written in page-aligned
//! chunks with one fdatasync each (`Back`). `Writer` runs both in the caller's thread (tests,
//! tools); `super::Archive` runs `Back` in its own thread so that the caller never waits for
//! the SD card.

use std::io;
use std::sync::OnceLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use log::warn;

use super::record::{self, Event, FlushMark, Payload, HEADER, MARK_MAX};
use super::storage::Storage;
use super::ArchiveConfig;

/// The time, as the writer needs it: a monotonic clock for flush deadlines, wall-clock
/// seconds for the daily budget. Tests pass a fake one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Now {
    pub mono_ms: u64,
    pub unix_secs: i64,
}

impl Now {
    pub fn real() -> Now {
        static BASE: OnceLock<Instant> = OnceLock::new();
        let base = BASE.get_or_init(Instant::now);
        Now {
            mono_ms: base.elapsed().as_millis() as u64,
            unix_secs: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0),
        }
    }

    /// The UTC day number.
    pub fn day(&self) -> i64 {
        self.unix_secs.div_euclid(86_400)
    }
}

/// What happened to an offered event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offer {
    /// Buffered. `wake`: the next flush deadline moved earlier (a flusher thread should
    /// recompute its wait).
    Buffered {
        wake: bool,
    },
    /// Not an archived event type.
    Ignored,
    DroppedBudget,
    DroppedOverflow,
    /// Larger than a record may be.
    DroppedOversize,
}

/// Counters; `FlushMark` persists the cumulative ones.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ArchiveStats {
    pub mark: FlushMark,
    /// Bytes waiting in RAM.
    pub buffered: u64,
    /// Flushes that failed in this process (also in `mark.failed_flushes`).
    pub failed_flushes_run: u64,
    /// Segment being written and the write offset in it.
    pub segment: Option<u64>,
    pub offset: u64,
    /// Damaged regions found when the archive was opened.
    pub damage_found: u64,
    /// Drops counted by earlier runs (from the last flush mark).
    pub(crate) base_dropped: (u64, u64),
}

#[derive(Debug, Clone, Copy)]
struct Params {
    flush_size: usize,
    interval_ms: u64,
    urgent_severity: u8,
    urgent_ms: u64,
    budget: u64,
    buffer_cap: usize,
    retry_ms: u64,
    segment_size: u64,
    max_segments: u64,
}

impl Params {
    fn new(c: &ArchiveConfig) -> Params {
        Params {
            flush_size: c.flush_size as usize,
            interval_ms: c.flush_interval_secs.saturating_mul(1000),
            urgent_severity: c.urgent_severity,
            urgent_ms: c.urgent_delay_secs.saturating_mul(1000),
            budget: c.daily_budget,
            buffer_cap: c.buffer_cap as usize,
            retry_ms: c.retry_secs.saturating_mul(1000),
            segment_size: c.segment_size,
            max_segments: (c.max_size / c.segment_size.max(1)).max(2),
        }
    }
}

/// A chunk on its way to storage.
pub struct Job {
    chunk: Vec<u8>,
    /// Bytes of records (the chunk grows by a mark and padding while being written).
    records_len: usize,
    records: u64,
    line_bytes: u64,
    first_ms: Option<u64>,
    urgent_ms: Option<u64>,
    dropped_budget: u64,
    dropped_overflow: u64,
    /// Padded bytes written (set by `Back::write`).
    written: u64,
}

impl Job {
    /// Event records in the job.
    pub fn records(&self) -> u64 {
        self.records
    }
}

/// The RAM side: buffer, flush policy, daily budget.
pub struct Front {
    p: Params,
    types: Vec<String>,
    buf: Vec<u8>,
    spare: Vec<u8>,
    records: u64,
    line_bytes: u64,
    first_ms: Option<u64>,
    urgent_ms: Option<u64>,
    retry_at_ms: u64,
    /// Mirror of the storage side's day counters, for the budget.
    day: i64,
    written_today: u64,
    /// Padded size of a chunk being written by another thread.
    in_flight: u64,
    dropped_budget: u64,
    dropped_overflow: u64,
    failed_run: u64,
    /// Framed bytes of alerts offered on `alert_day` (for the budget's projection).
    alert_day: i64,
    alert_bytes_today: u64,
}

impl Front {
    pub fn new(cfg: &ArchiveConfig) -> Front {
        let p = Params::new(cfg);
        let cap = p.flush_size + 64 * 1024;
        Front {
            p,
            types: cfg.event_types.clone(),
            buf: Vec::with_capacity(cap),
            spare: Vec::with_capacity(cap),
            records: 0,
            line_bytes: 0,
            first_ms: None,
            urgent_ms: None,
            retry_at_ms: 0,
            day: i64::MIN,
            written_today: 0,
            in_flight: 0,
            dropped_budget: 0,
            dropped_overflow: 0,
            failed_run: 0,
            alert_day: i64::MIN,
            alert_bytes_today: 0,
        }
    }

    /// Whether events of this type are archived.
    pub fn wants(&self, event_type: &str) -> bool {
        self.types.iter().any(|t| t == event_type)
    }

    /// Buffer `ev` (or drop it, counted). No allocation once the buffer has grown to its
    /// working size.
    pub fn offer(&mut self, ev: &Event<'_>, now: Now) -> Offer {
        if !self.wants(ev.event_type) {
            return Offer::Ignored;
        }
        let start = self.buf.len();
        let Some(framed) = record::append(&mut self.buf, &Payload::Event(ev.clone())) else {
            return Offer::DroppedOversize;
        };
        if self.buf.len() > self.p.buffer_cap {
            self.buf.truncate(start);
            self.dropped_overflow += 1;
            return Offer::DroppedOverflow;
        }
        let is_alert = ev.event_type == "alert";
        if self.alert_day != now.day() {
            self.alert_day = now.day();
            self.alert_bytes_today = 0;
        }
        if is_alert {
            self.alert_bytes_today += framed as u64;
        } else if self.p.budget > 0 && self.over_budget(now) {
            self.buf.truncate(start);
            self.dropped_budget += 1;
            return Offer::DroppedBudget;
        }
        self.records += 1;
        self.line_bytes += ev.eve.len() as u64;
        let before = self.deadline();
        if self.first_ms.is_none() {
            self.first_ms = Some(now.mono_ms);
        }
        let urgent = is_alert && ev.severity >= 1 && ev.severity <= self.p.urgent_severity;
        if urgent && self.urgent_ms.is_none() {
            self.urgent_ms = Some(now.mono_ms);
        }
        let after = self.deadline();
        let wake = match (before, after) {
            (None, Some(_)) => true,
            (Some(b), Some(a)) => a < b,
            _ => false,
        } || (start < self.p.flush_size && self.buf.len() >= self.p.flush_size);
        Offer::Buffered { wake }
    }

    /// Whether the buffer (with the record just appended) would take the day's writes over
    /// the budget once the rest of the day's alerts are written: alerts are always kept, so
    /// low-priority records only get what the alerts, at today's rate so far, leave.
    fn over_budget(&self, now: Now) -> bool {
        let today = if now.day() == self.day {
            self.written_today
        } else {
            0
        };
        let elapsed = now.unix_secs.rem_euclid(86_400) as u64;
        let remaining = 86_400 - elapsed;
        // alerts still to come, at the rate seen so far (over at least an hour, so that a
        // burst right after midnight does not extrapolate to a whole day)
        let alerts_ahead =
            (self.alert_bytes_today as u128 * remaining as u128 / elapsed.max(3600) as u128) as u64;
        // each flush to come pads to a page and adds a mark
        let interval = (self.p.interval_ms / 1000).max(1);
        let flush_overhead = (remaining / interval + 1) * (record::PAGE + MARK_MAX) as u64;
        let would = today
            + self.in_flight
            + record::page_up(self.buf.len() + MARK_MAX) as u64
            + alerts_ahead
            + flush_overhead;
        would > self.p.budget
    }

    /// When the next flush is due (monotonic ms), if anything is buffered.
    pub fn deadline(&self) -> Option<u64> {
        let first = self.first_ms?;
        let mut d = first.saturating_add(self.p.interval_ms);
        if let Some(u) = self.urgent_ms {
            d = d.min(u.saturating_add(self.p.urgent_ms));
        }
        if self.buf.len() >= self.p.flush_size {
            d = 0;
        }
        Some(d.max(self.retry_at_ms))
    }

    pub fn due(&self, now: Now) -> bool {
        self.deadline().is_some_and(|d| now.mono_ms >= d)
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// More than half of the RAM buffer is waiting for the card.
    pub fn half_full(&self) -> bool {
        self.buf.len() > self.p.buffer_cap / 2
    }

    /// Take the buffered records for writing.
    pub fn take(&mut self) -> Job {
        let chunk = std::mem::replace(&mut self.buf, std::mem::take(&mut self.spare));
        let job = Job {
            records_len: chunk.len(),
            chunk,
            records: std::mem::take(&mut self.records),
            line_bytes: std::mem::take(&mut self.line_bytes),
            first_ms: self.first_ms.take(),
            urgent_ms: self.urgent_ms.take(),
            dropped_budget: self.dropped_budget,
            dropped_overflow: self.dropped_overflow,
            written: 0,
        };
        self.in_flight = record::page_up(job.records_len + MARK_MAX) as u64;
        job
    }

    /// Account for a written (or failed) job. A failed job's records go back in front of
    /// what was buffered meanwhile (up to the buffer cap; beyond it the newest are dropped,
    /// counted), and the next attempt waits `retry-secs`.
    pub fn complete(&mut self, mut job: Job, ok: bool, stats: &ArchiveStats, now: Now) {
        self.in_flight = 0;
        self.day = stats.mark.day;
        self.written_today = stats.mark.bytes_today;
        if ok {
            job.chunk.clear();
            self.spare = job.chunk;
            return;
        }
        self.failed_run += 1;
        self.retry_at_ms = now.mono_ms.saturating_add(self.p.retry_ms);
        job.chunk.truncate(job.records_len);
        // keep the older records first; drop what no longer fits
        let mut kept = job.chunk;
        let mut pos = 0;
        let newer = std::mem::take(&mut self.buf);
        while pos + HEADER <= newer.len() {
            let len = u32::from_le_bytes([
                newer[pos + 4],
                newer[pos + 5],
                newer[pos + 6],
                newer[pos + 7],
            ]) as usize;
            let end = pos + HEADER + len;
            if kept.len() + (end - pos) > self.p.buffer_cap {
                self.dropped_overflow += 1;
                self.records = self.records.saturating_sub(1);
            } else {
                kept.extend_from_slice(&newer[pos..end]);
            }
            pos = end;
        }
        self.records += job.records;
        self.line_bytes += job.line_bytes;
        self.buf = kept;
        self.spare = newer;
        self.spare.clear();
        self.first_ms = match (job.first_ms, self.first_ms) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.urgent_ms = match (job.urgent_ms, self.urgent_ms) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }

    /// Take the storage side's day counters (for the budget).
    pub fn sync_day(&mut self, stats: &ArchiveStats) {
        self.day = stats.mark.day;
        self.written_today = stats.mark.bytes_today;
    }

    /// Records dropped at exit when the last flush failed.
    pub fn records_pending(&self) -> u64 {
        self.records
    }

    pub fn failed_run(&self) -> u64 {
        self.failed_run
    }

    pub fn dropped(&self) -> (u64, u64) {
        (self.dropped_budget, self.dropped_overflow)
    }
}

/// The storage side: segments, recovery, the counters persisted in flush marks.
pub struct Back<S: Storage> {
    storage: S,
    p: Params,
    recovered: bool,
    seg: Option<u64>,
    seg_len: u64,
    off: u64,
    /// Cumulative counters (from the last mark found at recovery, plus this run).
    mark: FlushMark,
    /// Drops counted by earlier runs (the front counts from zero).
    base_dropped: (u64, u64),
    damage_found: u64,
}

impl<S: Storage> Back<S> {
    pub fn new(storage: S, cfg: &ArchiveConfig) -> Back<S> {
        Back {
            storage,
            p: Params::new(cfg),
            recovered: false,
            seg: None,
            seg_len: 0,
            off: 0,
            mark: FlushMark::default(),
            base_dropped: (0, 0),
            damage_found: 0,
        }
    }

    /// Open the archive: find the newest segment, the end of its last valid record, and the
    /// last counters. Damage is reported (logged) and skipped; writing continues after the
    /// last good record, at the next page boundary.
    pub fn recover(&mut self) -> io::Result<()> {
        if self.recovered {
            return Ok(());
        }
        let segs = self.storage.list()?;
        let mut mark = None;
        for (i, &n) in segs.iter().enumerate().rev() {
            let data = self.storage.read(n)?;
            let r = record::scan(&data);
            for d in &r.damage {
                warn!(
                    "archive: segment {n}: {} damaged bytes at offset {} skipped",
                    d.len, d.offset
                );
            }
            self.damage_found += r.damage.len() as u64;
            if i + 1 == segs.len() {
                self.seg = Some(n);
                self.seg_len = data.len() as u64;
                self.off = record::page_up(r.end) as u64;
            }
            mark = r.records.iter().rev().find_map(|(_, p)| match p {
                Payload::Flush(m) => Some(*m),
                _ => None,
            });
            // counters are in the newest mark; look no further back than one segment
            if mark.is_some() || i + 2 <= segs.len() {
                break;
            }
        }
        if let Some(m) = mark {
            self.mark = m;
            self.base_dropped = (m.dropped_budget, m.dropped_overflow);
        }
        self.recovered = true;
        Ok(())
    }

    fn roll(&mut self) -> io::Result<u64> {
        let n = self.seg.map_or(1, |s| s + 1);
        let written = self.storage.create(n, self.p.segment_size)?;
        self.seg = Some(n);
        self.seg_len = self.p.segment_size;
        self.off = 0;
        // retention: oldest segments go
        if let Ok(segs) = self.storage.list() {
            let excess = (segs.len() as u64).saturating_sub(self.p.max_segments);
            for &old in segs.iter().take(excess as usize) {
                if old != n {
                    if let Err(e) = self.storage.remove(old) {
                        warn!("archive: removing segment {old}: {e}");
                    }
                }
            }
        }
        Ok(written)
    }

    /// Write `job` (records, then a flush mark, zero-padded to a page boundary) with one
    /// fdatasync. On error nothing is committed; the same region is rewritten next time.
    pub fn write(&mut self, job: &mut Job, now: Now) -> io::Result<()> {
        let r = self.write_inner(job, now);
        if r.is_err() {
            self.mark.failed_flushes += 1;
        }
        r
    }

    fn write_inner(&mut self, job: &mut Job, now: Now) -> io::Result<()> {
        self.recover()?;
        job.chunk.truncate(job.records_len);
        let padded = record::page_up(job.records_len + MARK_MAX) as u64;
        let mut created = 0;
        if self.seg.is_none() || self.off + padded > self.seg_len {
            created = self.roll()?;
        }
        let day = now.day();
        let mut m = self.mark;
        let this = padded + created;
        m.unix_secs = now.unix_secs;
        m.bytes_total += this;
        m.bytes_today = if m.day == day {
            m.bytes_today + this
        } else {
            this
        };
        m.day = day;
        m.flushes += 1;
        m.records += job.records;
        m.line_bytes += job.line_bytes;
        m.dropped_budget = self.base_dropped.0 + job.dropped_budget;
        m.dropped_overflow = self.base_dropped.1 + job.dropped_overflow;
        record::append(&mut job.chunk, &Payload::Flush(m))
            .ok_or_else(|| io::Error::other("flush mark too large"))?;
        job.chunk.resize(padded as usize, 0);
        let seg = self.seg.unwrap_or(1);
        self.storage.write_at(seg, self.off, &job.chunk)?;
        self.storage.sync(seg)?;
        self.off += padded;
        self.mark = m;
        job.written = this;
        Ok(())
    }

    pub fn stats(&self) -> ArchiveStats {
        ArchiveStats {
            mark: self.mark,
            buffered: 0,
            failed_flushes_run: 0,
            segment: self.seg,
            offset: self.off,
            damage_found: self.damage_found,
            base_dropped: self.base_dropped,
        }
    }

    /// Bytes the last successful write of `job` put on storage.
    pub fn job_written(job: &Job) -> u64 {
        job.written
    }

    pub fn storage_mut(&mut self) -> &mut S {
        &mut self.storage
    }
}

/// Front and back in one thread: flushes happen inside `offer`/`poll`.
pub struct Writer<S: Storage> {
    pub front: Front,
    pub back: Back<S>,
}

impl<S: Storage> Writer<S> {
    /// A writer over `storage`. Recovery runs now; if the storage cannot be read it is
    /// retried at each flush.
    pub fn open(storage: S, cfg: &ArchiveConfig) -> Writer<S> {
        let mut back = Back::new(storage, cfg);
        if let Err(e) = back.recover() {
            warn!("archive: cannot open: {e}");
        }
        let mut front = Front::new(cfg);
        front.sync_day(&back.stats());
        Writer { front, back }
    }

    /// Offer an event, then flush if a flush is due.
    pub fn offer(&mut self, ev: &Event<'_>, now: Now) -> Offer {
        let o = self.front.offer(ev, now);
        self.poll(now);
        o
    }

    /// Flush if due. Returns the result of the flush, if one was attempted.
    pub fn poll(&mut self, now: Now) -> Option<io::Result<()>> {
        if self.front.due(now) {
            Some(self.flush(now))
        } else {
            None
        }
    }

    /// Flush whatever is buffered, now.
    pub fn flush(&mut self, now: Now) -> io::Result<()> {
        if self.front.is_empty() {
            return Ok(());
        }
        let mut job = self.front.take();
        let r = self.back.write(&mut job, now);
        let st = self.back.stats();
        self.front.complete(job, r.is_ok(), &st, now);
        r
    }

    pub fn stats(&self) -> ArchiveStats {
        let mut s = self.back.stats();
        s.buffered = self.front.buffered() as u64;
        s.failed_flushes_run = self.front.failed_run();
        let (b, o) = self.front.dropped();
        s.mark.dropped_budget = s.base_dropped.0 + b;
        s.mark.dropped_overflow = s.base_dropped.1 + o;
        s
    }
}
