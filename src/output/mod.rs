//! Outputs: fast.log and eve.json in Suricata 7.0.10's formats.

pub mod alert;
pub mod json;
pub mod names;
pub mod stats;
pub mod time;

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

pub use alert::AlertRecord;

/// Output settings (`[outputs]` in ravn.toml).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct OutputConfig {
    /// Directory for the logs (`-l` overrides it).
    pub log_dir: PathBuf,
    pub fast: FileOutput,
    pub eve: FileOutput,
    /// Append to existing files (Suricata's default) instead of truncating them.
    pub append: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct FileOutput {
    pub enabled: bool,
    pub filename: String,
}

impl Default for OutputConfig {
    fn default() -> Self {
        OutputConfig {
            log_dir: PathBuf::from("/var/log/ravn"),
            fast: FileOutput {
                enabled: true,
                filename: "fast.log".into(),
            },
            eve: FileOutput {
                enabled: true,
                filename: "eve.json".into(),
            },
            append: true,
        }
    }
}

/// The open log files.
pub struct Outputs {
    fast: Option<(PathBuf, BufWriter<File>)>,
    eve: Option<(PathBuf, BufWriter<File>)>,
    line: String,
}

fn open_log(dir: &Path, name: &str, append: bool) -> io::Result<(PathBuf, BufWriter<File>)> {
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
    Ok((path, BufWriter::with_capacity(64 * 1024, f)))
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
        })
    }

    pub fn alert(&mut self, a: &AlertRecord<'_>) -> io::Result<()> {
        if let Some((_, w)) = &mut self.fast {
            self.line.clear();
            alert::fast_line(&mut self.line, a);
            w.write_all(self.line.as_bytes())?;
        }
        if let Some((_, w)) = &mut self.eve {
            self.line.clear();
            alert::eve_line(&mut self.line, a, a.flow.map(|f| f.id));
            w.write_all(self.line.as_bytes())?;
        }
        Ok(())
    }

    /// Write an alert already formatted by `alert::fast_line` / `alert::eve_line` (the live
    /// pipeline formats in the matcher thread and writes here, in the output thread). An
    /// empty line is skipped.
    pub fn write_lines(&mut self, fast: &str, eve: &str) -> io::Result<()> {
        if let (Some((_, w)), false) = (&mut self.fast, fast.is_empty()) {
            w.write_all(fast.as_bytes())?;
        }
        if let (Some((_, w)), false) = (&mut self.eve, eve.is_empty()) {
            w.write_all(eve.as_bytes())?;
        }
        Ok(())
    }

    /// Write an already formatted EVE line (e.g. a stats event).
    pub fn eve_raw(&mut self, line: &str) -> io::Result<()> {
        if let Some((_, w)) = &mut self.eve {
            w.write_all(line.as_bytes())?;
        }
        Ok(())
    }

    pub fn flush(&mut self) -> io::Result<()> {
        if let Some((_, w)) = &mut self.fast {
            w.flush()?;
        }
        if let Some((_, w)) = &mut self.eve {
            w.flush()?;
        }
        Ok(())
    }
}

impl Drop for Outputs {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}
