//! LEDs through the kernel's LED class: `<root>/<name>/brightness` and `trigger`, e.g. the
//! Pi's `ACT` (green) and `PWR` (red). At open, each LED's trigger is set to `none` (so the
//! kernel stops driving it) and the old trigger is put back when the backend is dropped.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::{Color, Leds, SysfsConfig, COLORS};

struct SysLed {
    color: Color,
    dir: PathBuf,
    on_value: String,
    old_trigger: Option<String>,
}

pub struct SysfsLeds {
    leds: Vec<SysLed>,
    root: PathBuf,
}

/// The selected trigger in a `trigger` file (`none [mmc0] timer` → `mmc0`).
pub fn selected_trigger(text: &str) -> Option<&str> {
    text.split_whitespace()
        .find_map(|w| w.strip_prefix('[').and_then(|w| w.strip_suffix(']')))
}

fn write(path: &Path, v: &str) -> io::Result<()> {
    fs::write(path, v).map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))
}

impl SysfsLeds {
    /// Opens the configured LEDs; a configured LED that does not exist is an error naming
    /// the key and the path.
    pub fn open(cfg: &SysfsConfig) -> Result<SysfsLeds, String> {
        let mut leds = Vec::new();
        for c in COLORS {
            let name = cfg.get(c);
            if name.is_empty() {
                continue;
            }
            let dir = cfg.root.join(name);
            let key = format!("leds.sysfs.{}", c.name());
            if !dir.join("brightness").exists() {
                return Err(format!(
                    "key `{key}`: no LED `{name}` ({} does not exist)",
                    dir.join("brightness").display()
                ));
            }
            let max = fs::read_to_string(dir.join("max_brightness"))
                .ok()
                .and_then(|s| s.trim().parse::<u32>().ok())
                .filter(|&m| m > 0)
                .unwrap_or(1);
            let trig_path = dir.join("trigger");
            let old_trigger = fs::read_to_string(&trig_path)
                .ok()
                .and_then(|t| selected_trigger(&t).map(str::to_string));
            if trig_path.exists() {
                write(&trig_path, "none").map_err(|e| format!("key `{key}`: {e}"))?;
            }
            leds.push(SysLed {
                color: c,
                dir,
                on_value: max.to_string(),
                old_trigger,
            });
        }
        Ok(SysfsLeds {
            leds,
            root: cfg.root.clone(),
        })
    }
}

impl Leds for SysfsLeds {
    fn set(&mut self, color: Color, on: bool) -> io::Result<()> {
        for l in self.leds.iter().filter(|l| l.color == color) {
            write(
                &l.dir.join("brightness"),
                if on { &l.on_value } else { "0" },
            )?;
        }
        Ok(())
    }

    fn describe(&self) -> String {
        let names: Vec<String> = self
            .leds
            .iter()
            .map(|l| {
                format!(
                    "{}={}",
                    l.color.name(),
                    l.dir.file_name().unwrap_or_default().to_string_lossy()
                )
            })
            .collect();
        format!(
            "sysfs LEDs in {} ({})",
            self.root.display(),
            names.join(", ")
        )
    }
}

impl Drop for SysfsLeds {
    fn drop(&mut self) {
        for l in &self.leds {
            if let Some(t) = &l.old_trigger {
                let _ = fs::write(l.dir.join("trigger"), t);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A directory laid out like /sys/class/leds with two LEDs, as on a Pi 4.
    fn fake_sys(dir: &Path) {
        let _ = fs::remove_dir_all(dir);
        for (name, max, trig) in [
            ("ACT", "255", "none rc-feedback [mmc0] timer heartbeat"),
            ("PWR", "1", "none [default-on] timer input"),
        ] {
            let d = dir.join(name);
            fs::create_dir_all(&d).unwrap();
            fs::write(d.join("brightness"), "0").unwrap();
            fs::write(d.join("max_brightness"), max).unwrap();
            fs::write(d.join("trigger"), trig).unwrap();
        }
    }

    fn read(p: PathBuf) -> String {
        fs::read_to_string(p).unwrap()
    }

    #[test]
    fn drives_brightness_takes_and_restores_the_trigger() {
        let root = std::env::temp_dir().join(format!("ravn-sysfs-{}", std::process::id()));
        fake_sys(&root);
        let cfg = SysfsConfig {
            root: root.clone(),
            ..SysfsConfig::default()
        };
        {
            let mut l = SysfsLeds::open(&cfg).unwrap();
            assert_eq!(read(root.join("ACT/trigger")), "none");
            assert_eq!(read(root.join("PWR/trigger")), "none");
            l.set(Color::Green, true).unwrap();
            assert_eq!(read(root.join("ACT/brightness")), "255", "max_brightness");
            l.set(Color::Red, true).unwrap();
            assert_eq!(read(root.join("PWR/brightness")), "1");
            l.set(Color::Green, false).unwrap();
            assert_eq!(read(root.join("ACT/brightness")), "0");
            // no amber LED configured: ignored
            l.set(Color::Amber, true).unwrap();
            assert!(l.describe().contains("green=ACT"), "{}", l.describe());
        }
        assert_eq!(read(root.join("ACT/trigger")), "mmc0", "restored on drop");
        assert_eq!(read(root.join("PWR/trigger")), "default-on");
        // a LED that does not exist: the error names the key and the path
        let bad = SysfsConfig {
            root: root.clone(),
            amber: "led9".into(),
            ..SysfsConfig::default()
        };
        let e = SysfsLeds::open(&bad).err().unwrap();
        assert!(e.contains("leds.sysfs.amber") && e.contains("led9"), "{e}");
        let _ = fs::remove_dir_all(&root);
    }

    #[test]
    fn trigger_selection() {
        assert_eq!(selected_trigger("none [mmc0] timer"), Some("mmc0"));
        assert_eq!(selected_trigger("[none] timer\n"), Some("none"));
        assert_eq!(selected_trigger("none timer"), None);
    }
}
