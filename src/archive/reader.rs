//! Reading the archive back: `ravn logs export` and `ravn logs stats`.

use std::io::{self, Write};
use std::path::Path;

use super::record::{self, Damage, FlushMark, Payload};
use super::storage::{FsStorage, Storage};

/// What a pass over the archive found.
#[derive(Debug, Default, Clone)]
pub struct Summary {
    pub segments: u64,
    /// Event records (flush marks excluded).
    pub records: u64,
    pub flush_marks: u64,
    /// Bytes of segment files on disk (allocated size).
    pub segment_bytes: u64,
    pub damage: Vec<(u64, Damage)>,
    /// The newest flush mark: the persisted counters.
    pub last_mark: Option<FlushMark>,
}

/// Visit every valid record, oldest first. Damage is collected in the summary (and never
/// passed to `f`).
pub fn for_each(
    dir: &Path,
    mut f: impl FnMut(&record::Event<'_>) -> io::Result<()>,
) -> io::Result<Summary> {
    let mut st = FsStorage::new(dir);
    if !dir.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("{}: no archive here", dir.display()),
        ));
    }
    let mut sum = Summary::default();
    for n in st.list()? {
        let data = st.read(n)?;
        sum.segments += 1;
        sum.segment_bytes += data.len() as u64;
        let r = record::scan(&data);
        sum.damage.extend(r.damage.iter().map(|d| (n, *d)));
        for (_, p) in &r.records {
            match p {
                Payload::Event(e) => {
                    sum.records += 1;
                    f(e)?;
                }
                Payload::Flush(m) => {
                    sum.flush_marks += 1;
                    sum.last_mark = Some(*m);
                }
            }
        }
    }
    Ok(sum)
}

/// `ravn logs export` filters.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Inclusive lower bound, unix seconds.
    pub since: Option<f64>,
    /// Exclusive upper bound, unix seconds.
    pub until: Option<f64>,
    pub sid: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Eve,
    Fast,
}

impl Filter {
    pub fn matches(&self, e: &record::Event<'_>) -> bool {
        let t = e.ts_secs as f64 + e.ts_usecs as f64 / 1e6;
        self.since.is_none_or(|s| t >= s)
            && self.until.is_none_or(|u| t < u)
            && self
                .sid
                .is_none_or(|s| e.event_type == "alert" && e.sid == s)
    }
}

/// Write the matching records' lines, exactly as they were logged live.
pub fn export(
    dir: &Path,
    filter: &Filter,
    format: Format,
    out: &mut dyn Write,
) -> io::Result<Summary> {
    for_each(dir, |e| {
        if !filter.matches(e) {
            return Ok(());
        }
        let line = match format {
            Format::Eve => e.eve,
            Format::Fast => e.fast,
        };
        out.write_all(line.as_bytes())
    })
}

/// The `ravn logs stats` report. `status`: the live status file's pairs, if a daemon or
/// replay is writing this archive.
pub fn stats_report(
    dir: &Path,
    sum: &Summary,
    now: super::Now,
    status: Option<&[(String, String)]>,
) -> String {
    use std::fmt::Write as _;
    let m = sum.last_mark.unwrap_or_default();
    let today = if m.day == now.day() { m.bytes_today } else { 0 };
    let mut t = String::new();
    let _ = writeln!(t, "archive              {}", dir.display());
    let _ = writeln!(
        t,
        "segments             {} ({} bytes allocated)",
        sum.segments, sum.segment_bytes
    );
    let _ = writeln!(t, "records              {}", sum.records);
    let _ = writeln!(t, "flushes              {}", m.flushes);
    let _ = writeln!(t, "failed flushes       {}", m.failed_flushes);
    let _ = writeln!(t, "bytes written today  {today} (UTC day)");
    let _ = writeln!(t, "bytes written total  {}", m.bytes_total);
    let _ = writeln!(t, "bytes of eve lines   {}", m.line_bytes);
    let _ = writeln!(t, "dropped (budget)     {}", m.dropped_budget);
    let _ = writeln!(t, "dropped (overflow)   {}", m.dropped_overflow);
    let _ = writeln!(t, "damaged regions      {}", sum.damage.len());
    if m.line_bytes > 0 {
        let _ = writeln!(
            t,
            "write amplification  {:.2} (bytes written / bytes of eve lines archived)",
            m.bytes_total as f64 / m.line_bytes as f64
        );
    } else {
        let _ = writeln!(t, "write amplification  -");
    }
    if let Some(st) = status {
        let _ = writeln!(t, "live status:");
        for (k, v) in st {
            let _ = writeln!(t, "  {k:<22} {v}");
        }
    }
    t
}

/// Parse a `--since`/`--until` time: unix seconds (`1700000000`, `1700000000.5`), or
/// `YYYY-MM-DD[THH:MM[:SS[.frac]]]` (a space may replace `T`) with an optional `Z` or
/// `±HH:MM`/`±HHMM` offset; without one the time is local, like fast.log's.
pub fn parse_time(s: &str) -> Result<f64, String> {
    let s = s.trim();
    let bad = || format!("`{s}`: expected unix seconds or YYYY-MM-DD[THH:MM[:SS]][Z|+HH:MM]");
    if let Ok(v) = s.parse::<f64>() {
        if v.is_finite() {
            return Ok(v);
        }
    }
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Result<i64, String> {
        let t = s.get(r).ok_or_else(bad)?;
        if t.is_empty() || !t.bytes().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        t.parse().map_err(|_| bad())
    };
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return Err(bad());
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (mut h, mut mi, mut sec, mut frac) = (0, 0, 0, 0.0);
    let mut i = 10;
    if b.len() > 10 && (b[10] == b'T' || b[10] == b' ') {
        h = num(11..13)?;
        if b.get(13) != Some(&b':') {
            return Err(bad());
        }
        mi = num(14..16)?;
        i = 16;
        if b.get(16) == Some(&b':') {
            sec = num(17..19)?;
            i = 19;
            if b.get(19) == Some(&b'.') {
                let mut j = 20;
                while j < b.len() && b[j].is_ascii_digit() {
                    j += 1;
                }
                frac = s
                    .get(19..j)
                    .and_then(|t| t.parse::<f64>().ok())
                    .ok_or_else(bad)?;
                i = j;
            }
        }
    }
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return Err(bad());
    }
    let rest = &s[i..];
    let offset: Option<i64> = match rest {
        "" => None,
        "Z" | "z" => Some(0),
        _ => {
            let sign = match rest.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return Err(bad()),
            };
            let digits: String = rest[1..].chars().filter(|c| *c != ':').collect();
            if digits.len() != 4 || !digits.bytes().all(|c| c.is_ascii_digit()) {
                return Err(bad());
            }
            let oh: i64 = digits[..2].parse().map_err(|_| bad())?;
            let om: i64 = digits[2..].parse().map_err(|_| bad())?;
            Some(sign * (oh * 3600 + om * 60))
        }
    };
    let secs = match offset {
        Some(off) => days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + sec - off,
        None => local_mktime(y, mo, d, h, mi, sec).ok_or_else(bad)?,
    };
    Ok(secs as f64 + frac)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn local_mktime(y: i64, mo: i64, d: i64, h: i64, mi: i64, s: i64) -> Option<i64> {
    // SAFETY: a zeroed `tm` is a valid value; mktime only reads and normalises it.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    tm.tm_year = (y - 1900) as i32;
    tm.tm_mon = (mo - 1) as i32;
    tm.tm_mday = d as i32;
    tm.tm_hour = h as i32;
    tm.tm_min = mi as i32;
    tm.tm_sec = s as i32;
    tm.tm_isdst = -1;
    // SAFETY: `tm` is a valid, exclusively borrowed struct.
    let t: libc::time_t = unsafe { libc::mktime(&mut tm) };
    // time_t is 32 bits on armhf
    (t != -1).then_some(t as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(parse_time("1700000000").unwrap(), 1_700_000_000.0);
        assert_eq!(parse_time("2023-11-14T22:13:20Z").unwrap(), 1_700_000_000.0);
        assert_eq!(
            parse_time("2023-11-15T00:13:20+02:00").unwrap(),
            1_700_000_000.0
        );
        assert_eq!(
            parse_time("2023-11-14 22:13:20.5+0000").unwrap(),
            1_700_000_000.5
        );
        assert_eq!(parse_time("1970-01-02Z").unwrap(), 86_400.0);
        assert!(parse_time("2023-13-01").is_err());
        assert!(parse_time("yesterday").is_err());
        assert!(parse_time("2023-11-14T22").is_err());
        assert!(parse_time("2023-11-14T22:13:20+2").is_err());
    }
}
