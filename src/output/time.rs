//! Timestamps as Suricata prints them, in the local time zone (as Suricata does; set `TZ`
//! to change it).

use crate::capture::Timestamp;

/// Broken-down local time plus the UTC offset in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalTime {
    pub year: i32,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub min: u32,
    pub sec: u32,
    pub micros: u32,
    pub gmtoff: i64,
}

pub fn local(ts: Timestamp) -> LocalTime {
    let t: libc::time_t = ts.secs as libc::time_t;
    // SAFETY: localtime_r writes into the zeroed `tm` we own; both pointers are valid.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let ok = unsafe { !libc::localtime_r(&t, &mut tm).is_null() };
    if !ok {
        return utc(ts);
    }
    LocalTime {
        year: tm.tm_year + 1900,
        month: (tm.tm_mon + 1) as u32,
        day: tm.tm_mday as u32,
        hour: tm.tm_hour as u32,
        min: tm.tm_min as u32,
        sec: tm.tm_sec as u32,
        micros: ts.micros(),
        gmtoff: tm.tm_gmtoff as i64, // c_long: 32 bits on armhf
    }
}

/// UTC broken-down time without libc (civil-from-days).
pub fn utc(ts: Timestamp) -> LocalTime {
    let days = ts.secs.div_euclid(86_400);
    let rem = ts.secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    LocalTime {
        year: (if m <= 2 { y + 1 } else { y }) as i32,
        month: m as u32,
        day: d as u32,
        hour: (rem / 3600) as u32,
        min: ((rem % 3600) / 60) as u32,
        sec: (rem % 60) as u32,
        micros: ts.micros(),
        gmtoff: 0,
    }
}

/// fast.log: `11/14/2023-22:13:20.000000`
pub fn write_fast(out: &mut String, t: &LocalTime) {
    use std::fmt::Write;
    let _ = write!(
        out,
        "{:02}/{:02}/{:04}-{:02}:{:02}:{:02}.{:06}",
        t.month, t.day, t.year, t.hour, t.min, t.sec, t.micros
    );
}

/// EVE: `2023-11-14T22:13:20.000000+0000`
pub fn write_eve(out: &mut String, t: &LocalTime) {
    use std::fmt::Write;
    let sign = if t.gmtoff < 0 { '-' } else { '+' };
    let off = t.gmtoff.unsigned_abs();
    let _ = write!(
        out,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}{}{:02}{:02}",
        t.year,
        t.month,
        t.day,
        t.hour,
        t.min,
        t.sec,
        t.micros,
        sign,
        off / 3600,
        (off % 3600) / 60
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_formats() {
        let t = utc(Timestamp {
            secs: 1_700_000_000,
            nanos: 123_456_789,
        });
        let mut s = String::new();
        write_fast(&mut s, &t);
        assert_eq!(s, "11/14/2023-22:13:20.123456");
        s.clear();
        write_eve(&mut s, &t);
        assert_eq!(s, "2023-11-14T22:13:20.123456+0000");
        let t = utc(Timestamp {
            secs: 951_782_400,
            nanos: 0,
        }); // 2000-02-29
        assert_eq!((t.year, t.month, t.day), (2000, 2, 29));
    }
}
