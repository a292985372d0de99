//! Outputs: fast.log and eve.json in Suricata 7.0.10's formats.

pub mod alert;
pub mod json;
pub mod names;
pub mod stats;
pub mod time;

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

pub use alert::{AlertRecord, PacketRecord, TunnelInfo};

use crate::archive::{Archive, ArchiveStats, Event as ArchivedEvent};
use crate::capture::Timestamp;
use crate::config::Config;
use crate::logring::RingFile;

/// Output settings (`[outputs]` in ravn.toml).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct OutputConfig {
    /// Directory for the logs (`-l` overrides it).
    pub log_dir: PathBuf,
    pub fast: FileOutput,
    pub eve: EveOutput,
    /// Append to existing files (Suricata's default) instead of truncating them.
    pub append: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct FileOutput {
    pub enabled: bool,
    pub filename: String,
}

/// `[outputs.eve]`: the file, and the options of its alert records.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct EveOutput {
    pub enabled: bool,
    pub filename: String,
    pub alert: EveAlertOptions,
}

impl Default for EveOutput {
    fn default() -> Self {
        EveOutput {
            enabled: true,
            filename: "eve.json".into(),
            alert: EveAlertOptions::default(),
        }
    }
}

/// `[outputs.eve.alert]`: Suricata's `eve-log` `types: - alert:` options ravn implements.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct EveAlertOptions {
    /// Log packets tagged by the `tag` keyword as `event_type: packet` records
    /// (Suricata's `tagged-packets`, off by default).
    pub tagged_packets: bool,
    /// Add the packet's final `verdict` object to each alert (Suricata's `verdict`).
    pub verdict: bool,
}

impl Default for OutputConfig {
    fn default() -> Self {
        OutputConfig {
            // tmpfs on the appliance: the live logs rotate in a ring there (`[logs]`)
            log_dir: PathBuf::from("/run/ravn"),
            fast: FileOutput {
                enabled: true,
                filename: "fast.log".into(),
            },
            eve: EveOutput::default(),
            append: true,
        }
    }
}

/// The open log files, and the archive when it is on: the one sink for alerts and events
/// (`ravn replay` and the daemon's output thread).
pub struct Outputs {
    fast: Option<(PathBuf, LogFile)>,
    eve: Option<(PathBuf, LogFile)>,
    line: String,
    /// The fast.log line of the alert being written (kept for the archive).
    fast_line: String,
    archive: Option<Archive>,
    /// Whether the archive takes alerts (cached: asked for every alert).
    archive_alerts: bool,
    /// Offline replay: wait for a healthy card rather than drop alerts from the archive
    /// (the daemon never waits: its output thread must keep up with the packet path).
    archive_waits: bool,
}

/// Who opens the outputs: `auto` settings resolve per role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// `ravn replay`: plain files, no archive unless configured `on`.
    Replay,
    /// The daemon: the log ring and the archive unless configured `off`.
    Daemon,
}

/// A log file: plain (grows), or rotating in the tmpfs ring.
enum LogFile {
    Plain(BufWriter<File>),
    Ring(RingFile),
}

impl LogFile {
    fn write_line(&mut self, b: &[u8]) -> io::Result<()> {
        match self {
            LogFile::Plain(w) => w.write_all(b),
            LogFile::Ring(r) => r.write_line(b),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            LogFile::Plain(w) => w.flush(),
            LogFile::Ring(r) => r.flush(),
        }
    }
}

fn open_log(dir: &Path, name: &str, append: bool) -> io::Result<(PathBuf, LogFile)> {
    let path = dir.join(name);
    let mut oo = OpenOptions::new();
    oo.create(true);
    if append {
        oo.append(true);
    } else {
        oo.write(true).truncate(true);
    }
    let f = oo
        .open(&path)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    Ok((path, LogFile::Plain(BufWriter::with_capacity(64 * 1024, f))))
}

impl Outputs {
    pub fn open(dir: &Path, cfg: &OutputConfig) -> io::Result<Outputs> {
        std::fs::create_dir_all(dir)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", dir.display())))?;
        let fast = if cfg.fast.enabled {
            Some(open_log(dir, &cfg.fast.filename, cfg.append)?)
        } else {
            None
        };
        let eve = if cfg.eve.enabled {
            Some(open_log(dir, &cfg.eve.filename, cfg.append)?)
        } else {
            None
        };
        Ok(Outputs {
            fast,
            eve,
            line: String::with_capacity(2048),
            fast_line: String::with_capacity(512),
            archive: None,
            archive_alerts: false,
            archive_waits: false,
        })
    }

    /// Open the outputs with the log ring (`[logs]`) and the archive (`[archive]`) as
    /// configured for `role`. The archive never makes this fail: a card that cannot be
    /// written is reported and retried by the archive itself.
    pub fn open_with(dir: &Path, cfg: &Config, role: Role) -> io::Result<Outputs> {
        let daemon = role == Role::Daemon;
        let ring = cfg.logs.ring.resolve(daemon);
        let mut o = if ring {
            std::fs::create_dir_all(dir)
                .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", dir.display())))?;
            let open = |enabled: bool, filename: &str| -> io::Result<Option<(PathBuf, LogFile)>> {
                if !enabled {
                    return Ok(None);
                }
                if !cfg.outputs.append {
                    match std::fs::remove_file(dir.join(filename)) {
                        Err(e) if e.kind() != io::ErrorKind::NotFound => {
                            return Err(io::Error::new(
                                e.kind(),
                                format!("{}: {e}", dir.join(filename).display()),
                            ))
                        }
                        _ => {}
                    }
                }
                let r = RingFile::open(dir, filename, cfg.logs.file_size, cfg.logs.count)?;
                Ok(Some((r.path(), LogFile::Ring(r))))
            };
            Outputs {
                fast: open(cfg.outputs.fast.enabled, &cfg.outputs.fast.filename)?,
                eve: open(cfg.outputs.eve.enabled, &cfg.outputs.eve.filename)?,
                line: String::with_capacity(2048),
                fast_line: String::with_capacity(512),
                archive: None,
                archive_alerts: false,
                archive_waits: false,
            }
        } else {
            Outputs::open(dir, &cfg.outputs)?
        };
        if cfg.archive.enabled.resolve(daemon) {
            let a = Archive::start(&cfg.archive, Some(dir.join(crate::archive::STATUS_FILE)));
            o.archive_alerts = a.wants("alert");
            o.archive_waits = !daemon;
            o.archive = Some(a);
        }
        Ok(o)
    }

    /// The archive's counters, when it is on.
    pub fn archive_stats(&self) -> Option<ArchiveStats> {
        self.archive.as_ref().map(|a| a.stats())
    }

    /// Flush the log files and close the archive, flushing what it buffers (SIGTERM, end
    /// of replay). Returns the archive's final counters.
    pub fn close(&mut self) -> io::Result<Option<ArchiveStats>> {
        let r = self.flush();
        let st = self.archive.take().map(|a| a.close());
        r.map(|()| st)
    }

    pub fn alert(&mut self, a: &AlertRecord<'_>) -> io::Result<()> {
        let archive = self.archive_alerts;
        let mut r = Ok(());
        if self.fast.is_some() || archive {
            self.fast_line.clear();
            alert::fast_line(&mut self.fast_line, a);
        }
        if let Some((_, w)) = &mut self.fast {
            r = w.write_line(self.fast_line.as_bytes());
        }
        if self.eve.is_some() || archive {
            self.line.clear();
            alert::eve_line(&mut self.line, a, a.flow.map(|f| f.id));
        }
        if let Some((_, w)) = &mut self.eve {
            r = r.and(w.write_line(self.line.as_bytes()));
        }
        if let (true, Some(ar)) = (archive, &self.archive) {
            let ev = ArchivedEvent {
                ts_secs: a.ts.secs,
                ts_usecs: a.ts.micros(),
                event_type: "alert",
                gid: a.sig.gid,
                sid: a.sig.sid,
                severity: a.sig.priority,
                eve: &self.line,
                fast: &self.fast_line,
            };
            if self.archive_waits {
                ar.offer_waiting(&ev, std::time::Duration::from_secs(30));
            } else {
                ar.offer(&ev);
            }
        }
        r
    }

    /// A packet tagged by the `tag` keyword: an EVE `packet` event (only EVE logs these;
    /// fast.log does not, as in Suricata). The caller checks `tagged-packets`.
    pub fn tagged_packet(&mut self, r: &PacketRecord<'_>) -> io::Result<()> {
        if let Some((_, w)) = &mut self.eve {
            self.line.clear();
            alert::eve_packet_line(&mut self.line, r);
            w.write_line(self.line.as_bytes())?;
        }
        Ok(())
    }

    /// Write an alert already formatted by `alert::fast_line` / `alert::eve_line` (the live
    /// pipeline formats in the matcher thread and writes here, in the output thread), and
    /// archive it when `meta` says what it is. An empty line is not written.
    pub fn write_lines(
        &mut self,
        fast: &str,
        eve: &str,
        meta: Option<AlertMeta>,
    ) -> io::Result<()> {
        let mut r = Ok(());
        if let (Some((_, w)), false) = (&mut self.fast, fast.is_empty()) {
            r = w.write_line(fast.as_bytes());
        }
        if let (Some((_, w)), false) = (&mut self.eve, eve.is_empty()) {
            r = r.and(w.write_line(eve.as_bytes()));
        }
        if let (true, Some(ar), Some(m)) = (self.archive_alerts, &self.archive, meta) {
            ar.offer(&ArchivedEvent {
                ts_secs: m.ts_secs,
                ts_usecs: m.ts_usecs,
                event_type: "alert",
                gid: m.gid,
                sid: m.sid,
                severity: m.severity,
                eve,
                fast,
            });
        }
        r
    }

    /// Write an already formatted EVE line (e.g. a stats event).
    pub fn eve_raw(&mut self, line: &str) -> io::Result<()> {
        if let Some((_, w)) = &mut self.eve {
            w.write_line(line.as_bytes())?;
        }
        Ok(())
    }

    /// Write an already formatted EVE event of type `event_type` (e.g. `stats`) that
    /// happened at `ts`; the archive keeps it when configured to.
    pub fn eve_event(&mut self, event_type: &str, ts: Timestamp, line: &str) -> io::Result<()> {
        let r = self.eve_raw(line);
        if let Some(ar) = &self.archive {
            if ar.wants(event_type) {
                ar.offer(&ArchivedEvent {
                    ts_secs: ts.secs,
                    ts_usecs: ts.micros(),
                    event_type,
                    gid: 0,
                    sid: 0,
                    severity: 0,
                    eve: line,
                    fast: "",
                });
            }
        }
        r
    }

    pub fn flush(&mut self) -> io::Result<()> {
        let mut r = Ok(());
        if let Some((_, w)) = &mut self.fast {
            r = w.flush();
        }
        if let Some((_, w)) = &mut self.eve {
            r = r.and(w.flush());
        }
        r
    }
}

impl Drop for Outputs {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

/// What the archive needs to know about an alert formatted elsewhere (`write_lines`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlertMeta {
    pub ts_secs: i64,
    pub ts_usecs: u32,
    pub gid: u32,
    pub sid: u32,
    pub severity: u8,
}

impl AlertMeta {
    pub fn of(a: &AlertRecord<'_>) -> AlertMeta {
        AlertMeta {
            ts_secs: a.ts.secs,
            ts_usecs: a.ts.micros(),
            gid: a.sig.gid,
            sid: a.sig.sid,
            severity: a.sig.priority,
        }
    }
}
