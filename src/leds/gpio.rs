//! `leds.backend = "gpio"`: LEDs on the SoC's GPIO pins, BCM numbering (= the line offsets
//! on its GPIO chip), active-high or active-low.
//!
//! Through the GPIO character device (`gpiochip.rs`) whenever the kernel has one: it works
//! on any kernel (Debian's arm64 kernel has no /dev/gpiomem), needs no privilege beyond
//! read-write access to /dev/gpiochipN (the appliance's udev rule gives it to group ravn),
//! and shows who holds a line before ravn takes it (the kernel's ACT LED on BCM 42, another
//! process). The chip is the one labelled `pinctrl-bcm2*` (pinctrl-bcm2711 on a Pi 4,
//! pinctrl-bcm2835 before), or `leds.gpio-chip`. All configured lines are requested in one
//! request (consumer "ravn"), dark, with the kernel's active-low flag when `leds.active-low`,
//! and released when the backend is dropped.
//!
//! rppal (/dev/gpiomem, or /dev/mem as root) only when there is no GPIO chip device at all.
//! Off a Raspberry Pi, opening fails with a clear message. Errors name the key and the pin.

use std::io;
use std::path::{Path, PathBuf};

use super::gpiochip::{flag, ChipInfoRepr, GpioChip, LineRequestRepr, LineValues};
use super::{Color, Leds, PinsConfig, COLORS};

/// The label of the SoC's GPIO chip starts so (pinctrl-bcm2711, pinctrl-bcm2835).
pub const SOC_CHIP_LABEL: &str = "pinctrl-bcm2";
/// Who holds the lines, as `gpioinfo` shows.
pub const CONSUMER: &str = "ravn";
const WHO_HOLDS: &str = "held by the kernel or another process; `gpioinfo` shows who";

fn key(c: Color) -> String {
    format!("leds.pins.{}", c.name())
}

/// The message for a pin someone else holds.
pub fn in_use_error(color: Color, pin: u8, consumer: &str) -> String {
    let by = if consumer.is_empty() {
        String::new()
    } else {
        format!(" by {consumer:?}")
    };
    format!(
        "key `{}`: GPIO pin {pin} (BCM) is in use{by} ({WHO_HOLDS})",
        key(color)
    )
}

fn not_a_pi(why: &str) -> String {
    format!(
        "leds.backend = \"gpio\": this machine is not a Raspberry Pi ({why}); \
         use leds.backend = \"sysfs\", \"terminal\" or \"none\""
    )
}

fn permission_denied(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EACCES) | Some(libc::EPERM))
}

/// The message for a GPIO chip device that could not be used; `key` when it was configured.
pub fn chip_error(path: &Path, e: &io::Error, key: Option<&str>) -> String {
    let prefix = match key {
        Some(k) => format!("key `{k}`: "),
        None => "leds.backend = \"gpio\": ".to_string(),
    };
    let p = path.display();
    if permission_denied(e) {
        return format!(
            "{prefix}permission denied on {p}: the ravn user needs read-write access to it \
             (the image's udev rule gives group ravn rw on gpiochip*)"
        );
    }
    match e.raw_os_error() {
        Some(libc::ENOENT) => format!("{prefix}{p} does not exist"),
        Some(libc::ENOTTY) => format!("{prefix}{p} is not a GPIO chip device"),
        _ => format!("{prefix}{p}: {e}"),
    }
}

/// LEDs on lines of a GPIO chip (the character device, or a fake in tests).
pub struct ChipLeds {
    chip: Box<dyn GpioChip>,
    path: PathBuf,
    label: String,
    /// The requested lines in request order: bit i of the values is `lines[i]`.
    lines: Vec<(Color, u8)>,
    active_low: bool,
}

impl ChipLeds {
    /// Checks every configured pin (exists on the chip, nobody holds it), then requests
    /// them all as dark outputs. `path` and `info` describe the chip, for messages.
    pub fn claim(
        mut chip: Box<dyn GpioChip>,
        path: &Path,
        info: &ChipInfoRepr,
        pins: &PinsConfig,
        active_low: bool,
    ) -> Result<ChipLeds, String> {
        let mut lines = Vec::new();
        for c in COLORS {
            let Some(pin) = pins.get(c) else { continue };
            if u32::from(pin) >= info.lines {
                return Err(format!(
                    "key `{}`: GPIO pin {pin} (BCM) does not exist on {} ({} has {} lines)",
                    key(c),
                    path.display(),
                    info.label,
                    info.lines
                ));
            }
            let li = chip.line_info(pin.into()).map_err(|e| {
                format!(
                    "key `{}`: GPIO pin {pin} (BCM): reading its line info from {}: {e}",
                    key(c),
                    path.display()
                )
            })?;
            if li.used() {
                return Err(in_use_error(c, pin, &li.consumer));
            }
            lines.push((c, pin));
        }
        let leds = ChipLeds {
            chip,
            path: path.to_path_buf(),
            label: info.label.clone(),
            lines,
            active_low,
        };
        leds.request()
    }

    /// One request for all lines: outputs, logical 0 (dark) to start.
    fn request(mut self) -> Result<ChipLeds, String> {
        if self.lines.is_empty() {
            return Ok(self);
        }
        let n = self.lines.len() as u32;
        let req = LineRequestRepr {
            offsets: self.lines.iter().map(|(_, p)| u32::from(*p)).collect(),
            consumer: CONSUMER.into(),
            flags: flag::OUTPUT | if self.active_low { flag::ACTIVE_LOW } else { 0 },
            output_values: Some(LineValues {
                bits: 0,
                mask: u64::MAX.checked_shr(64 - n).unwrap_or(0),
            }),
        };
        match self.chip.request_lines(&req) {
            Ok(()) => Ok(self),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => Err(self.busy_error()),
            Err(e) if permission_denied(&e) => Err(chip_error(&self.path, &e, None)),
            Err(e) => Err(format!(
                "leds.backend = \"gpio\": requesting GPIO pins {} (BCM) on {}: {e}",
                self.pin_list(", "),
                self.path.display()
            )),
        }
    }

    /// EBUSY: somebody took a line between the check and the request; name it if we can.
    fn busy_error(&mut self) -> String {
        for &(c, pin) in &self.lines {
            if let Ok(li) = self.chip.line_info(pin.into()) {
                if li.used() {
                    return in_use_error(c, pin, &li.consumer);
                }
            }
        }
        let keys: Vec<String> = self
            .lines
            .iter()
            .map(|(c, _)| format!("`{}`", key(*c)))
            .collect();
        format!(
            "keys {}: one of GPIO pins {} (BCM) is in use ({WHO_HOLDS})",
            keys.join(", "),
            self.pin_list(", ")
        )
    }

    fn pin_list(&self, sep: &str) -> String {
        let pins: Vec<String> = self.lines.iter().map(|(_, p)| p.to_string()).collect();
        pins.join(sep)
    }
}

impl Leds for ChipLeds {
    fn set(&mut self, color: Color, on: bool) -> io::Result<()> {
        let Some(i) = self.lines.iter().position(|(c, _)| *c == color) else {
            return Ok(());
        };
        let bit = 1u64.checked_shl(i as u32).unwrap_or(0);
        // logical values: with `ACTIVE_LOW` the kernel drives the pin low for a 1
        self.chip.set_values(LineValues {
            bits: if on { bit } else { 0 },
            mask: bit,
        })
    }

    fn describe(&self) -> String {
        let pins: Vec<String> = self
            .lines
            .iter()
            .map(|(c, p)| format!("{}={p}", c.name()))
            .collect();
        format!(
            "gpio {} ({}): {}{}",
            self.path.display(),
            self.label,
            if pins.is_empty() {
                "no pins configured".to_string()
            } else {
                pins.join(" ")
            },
            if self.active_low { ", active-low" } else { "" }
        )
    }
}

/// Opens the `gpio` backend: the SoC's GPIO chip device (or `leds.gpio-chip`), else rppal.
#[cfg(target_os = "linux")]
pub fn open(cfg: &super::LedsConfig) -> Result<Box<dyn Leds>, String> {
    open_in(Path::new("/dev"), cfg, super::is_raspberry_pi())
}

#[cfg(not(target_os = "linux"))]
pub fn open(_: &super::LedsConfig) -> Result<Box<dyn Leds>, String> {
    Err("leds.backend = \"gpio\" needs Linux on a Raspberry Pi".into())
}

/// `open` with the device directory and the board check given (tests).
#[cfg(target_os = "linux")]
fn open_in(dev: &Path, cfg: &super::LedsConfig, is_pi: bool) -> Result<Box<dyn Leds>, String> {
    use super::gpiochip::{self, CdevChip};
    let claim = |chip: CdevChip| -> Result<Box<dyn Leds>, String> {
        let path = chip.path().to_path_buf();
        let info = chip.info().clone();
        let leds = ChipLeds::claim(Box::new(chip), &path, &info, &cfg.pins, cfg.active_low)?;
        Ok(Box::new(leds))
    };
    if !cfg.gpio_chip.as_os_str().is_empty() {
        let chip = CdevChip::open(&cfg.gpio_chip)
            .map_err(|e| chip_error(&cfg.gpio_chip, &e, Some("leds.gpio-chip")))?;
        return claim(chip);
    }
    let paths = gpiochip::chip_paths(dev);
    if paths.is_empty() {
        if dev.join("gpiomem").exists() || is_pi {
            return Ok(Box::new(RppalLeds::open(&cfg.pins, cfg.active_low)?));
        }
        return Err(not_a_pi(&format!(
            "no {0}/gpiochip* and no {0}/gpiomem",
            dev.display()
        )));
    }
    let mut seen = Vec::new();
    let mut denied = None;
    for p in paths {
        match CdevChip::open(&p) {
            Ok(chip) if chip.info().label.starts_with(SOC_CHIP_LABEL) => return claim(chip),
            Ok(chip) => seen.push(format!("{} is {:?}", p.display(), chip.info().label)),
            Err(e) => {
                seen.push(format!("{}: {e}", p.display()));
                if denied.is_none() && permission_denied(&e) {
                    denied = Some((p, e));
                }
            }
        }
    }
    if let Some((p, e)) = denied {
        return Err(chip_error(&p, &e, None));
    }
    let seen = seen.join(", ");
    if !is_pi {
        return Err(not_a_pi(&format!(
            "no GPIO chip labelled {SOC_CHIP_LABEL}*: {seen}"
        )));
    }
    Err(format!(
        "leds.backend = \"gpio\": no GPIO chip labelled {SOC_CHIP_LABEL}* ({seen}); \
         set `leds.gpio-chip` to the chip the LEDs are wired to"
    ))
}

/// LEDs through rppal's register access (/dev/gpiomem, or /dev/mem as root): kernels
/// without the GPIO character device.
#[cfg(target_os = "linux")]
pub struct RppalLeds {
    pins: Vec<(Color, u8, rppal::gpio::OutputPin)>,
    active_low: bool,
}

/// The message for an rppal error while taking `pin` for `color`.
#[cfg(target_os = "linux")]
pub fn pin_error(e: &rppal::gpio::Error, color: Color, pin: u8) -> String {
    use rppal::gpio::Error as E;
    let key = key(color);
    match e {
        E::UnknownModel => not_a_pi("its model is unknown to rppal"),
        E::PinUsed(p) => format!("key `{key}`: GPIO pin {p} (BCM) is already in use"),
        E::PinNotAvailable(p) => {
            format!("key `{key}`: GPIO pin {p} (BCM) does not exist on this board")
        }
        E::PermissionDenied(path) => format!(
            "key `{key}`: GPIO pin {pin}: permission denied on {path} \
             (add the ravn user to the gpio group)"
        ),
        other => format!("key `{key}`: GPIO pin {pin}: {other}"),
    }
}

#[cfg(target_os = "linux")]
impl RppalLeds {
    pub fn open(cfg: &PinsConfig, active_low: bool) -> Result<RppalLeds, String> {
        let gpio = rppal::gpio::Gpio::new().map_err(|e| match e {
            rppal::gpio::Error::UnknownModel => pin_error(&e, Color::Green, 0),
            other => format!("leds.backend = \"gpio\": cannot open the GPIO: {other}"),
        })?;
        let mut pins = Vec::new();
        for c in COLORS {
            let Some(n) = cfg.get(c) else { continue };
            let pin = gpio.get(n).map_err(|e| pin_error(&e, c, n))?;
            // start dark
            let out = if active_low {
                pin.into_output_high()
            } else {
                pin.into_output_low()
            };
            pins.push((c, n, out));
        }
        Ok(RppalLeds { pins, active_low })
    }
}

#[cfg(target_os = "linux")]
impl Leds for RppalLeds {
    fn set(&mut self, color: Color, on: bool) -> io::Result<()> {
        let high = on != self.active_low;
        for (c, _, p) in self.pins.iter_mut() {
            if *c == color {
                if high {
                    p.set_high();
                } else {
                    p.set_low();
                }
            }
        }
        Ok(())
    }

    fn describe(&self) -> String {
        let pins: Vec<String> = self
            .pins
            .iter()
            .map(|(c, n, _)| format!("{}={n}", c.name()))
            .collect();
        format!(
            "gpio rppal (/dev/gpiomem or /dev/mem): {}{}",
            pins.join(" "),
            if self.active_low { ", active-low" } else { "" }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::leds::gpiochip::LineInfoRepr;
    use crate::leds::LedsConfig;
    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex};

    /// A GPIO chip that behaves as the kernel's does for what ravn asks of it.
    #[derive(Default)]
    struct FakeState {
        lines: Vec<LineInfoRepr>,
        requests: Vec<LineRequestRepr>,
        held: Option<LineRequestRepr>,
        sets: Vec<LineValues>,
        /// Physical pin levels (true = high) of the requested lines.
        level: BTreeMap<u32, bool>,
        /// The next request fails with this errno.
        fail_request: Option<i32>,
        /// Someone takes this line just before ravn's request.
        taken_before_request: Option<(u32, &'static str)>,
    }

    #[derive(Clone, Default)]
    struct FakeChip(Arc<Mutex<FakeState>>);

    impl FakeChip {
        /// A Pi 4's pinctrl-bcm2711: 58 lines, BCM 42 held by the kernel's ACT LED.
        fn pi4() -> FakeChip {
            let f = FakeChip::default();
            {
                let mut s = f.0.lock().unwrap();
                for o in 0..58 {
                    s.lines.push(LineInfoRepr {
                        name: format!("GPIO{o}"),
                        consumer: String::new(),
                        offset: o,
                        flags: flag::INPUT,
                    });
                }
                s.lines[42].consumer = "ACT".into();
                s.lines[42].flags = flag::USED | flag::OUTPUT;
            }
            f
        }
        fn state(&self) -> std::sync::MutexGuard<'_, FakeState> {
            self.0.lock().unwrap()
        }
    }

    fn apply(s: &mut FakeState, values: LineValues) {
        let Some(req) = s.held.clone() else { return };
        let active_low = req.flags & flag::ACTIVE_LOW != 0;
        for (i, off) in req.offsets.iter().enumerate() {
            if values.mask >> i & 1 == 1 {
                let logical = values.bits >> i & 1 == 1;
                s.level.insert(*off, logical != active_low);
            }
        }
    }

    impl GpioChip for FakeChip {
        fn line_info(&mut self, offset: u32) -> io::Result<LineInfoRepr> {
            self.state()
                .lines
                .get(offset as usize)
                .cloned()
                .ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))
        }
        fn request_lines(&mut self, req: &LineRequestRepr) -> io::Result<()> {
            let mut s = self.state();
            s.requests.push(req.clone());
            if let Some((off, who)) = s.taken_before_request.take() {
                s.lines[off as usize].consumer = who.into();
                s.lines[off as usize].flags |= flag::USED;
            }
            if let Some(e) = s.fail_request.take() {
                return Err(io::Error::from_raw_os_error(e));
            }
            for o in &req.offsets {
                let line = s
                    .lines
                    .get(*o as usize)
                    .ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))?;
                if line.used() {
                    return Err(io::Error::from_raw_os_error(libc::EBUSY));
                }
            }
            for o in &req.offsets {
                let line = &mut s.lines[*o as usize];
                line.consumer = req.consumer.clone();
                line.flags = flag::USED | req.flags;
            }
            s.held = Some(req.clone());
            if let Some(v) = req.output_values {
                apply(&mut s, v);
            }
            Ok(())
        }
        fn set_values(&mut self, values: LineValues) -> io::Result<()> {
            let mut s = self.state();
            if s.held.is_none() {
                return Err(io::Error::from(io::ErrorKind::NotConnected));
            }
            s.sets.push(values);
            apply(&mut s, values);
            Ok(())
        }
    }

    fn bcm2711(lines: u32) -> ChipInfoRepr {
        ChipInfoRepr {
            name: "gpiochip0".into(),
            label: "pinctrl-bcm2711".into(),
            lines,
        }
    }

    fn claim(chip: &FakeChip, pins: PinsConfig, active_low: bool) -> Result<ChipLeds, String> {
        ChipLeds::claim(
            Box::new(chip.clone()),
            Path::new("/dev/gpiochip0"),
            &bcm2711(58),
            &pins,
            active_low,
        )
    }

    #[test]
    fn requests_all_pins_at_once_as_dark_outputs_and_sets_one_bit() {
        let chip = FakeChip::pi4();
        let mut leds = claim(&chip, PinsConfig::default(), false).unwrap();
        assert_eq!(
            leds.describe(),
            "gpio /dev/gpiochip0 (pinctrl-bcm2711): green=17 red=27 amber=22"
        );
        {
            let s = chip.state();
            assert_eq!(
                s.requests,
                vec![LineRequestRepr {
                    offsets: vec![17, 27, 22],
                    consumer: "ravn".into(),
                    flags: flag::OUTPUT,
                    output_values: Some(LineValues {
                        bits: 0,
                        mask: 0b111
                    }),
                }]
            );
            let levels: Vec<(u32, bool)> = s.level.iter().map(|(o, l)| (*o, *l)).collect();
            assert_eq!(levels, [(17, false), (22, false), (27, false)], "dark");
            assert_eq!(s.lines[27].consumer, "ravn");
        }
        leds.set(Color::Amber, true).unwrap();
        leds.set(Color::Red, true).unwrap();
        leds.set(Color::Amber, false).unwrap();
        let s = chip.state();
        assert_eq!(
            s.sets,
            [
                LineValues {
                    bits: 0b100,
                    mask: 0b100
                },
                LineValues {
                    bits: 0b010,
                    mask: 0b010
                },
                LineValues {
                    bits: 0,
                    mask: 0b100
                },
            ]
        );
        assert!(s.level[&27]);
        assert!(!s.level[&22]);
        assert!(!s.level[&17]);
    }

    #[test]
    fn active_low_lights_by_driving_low() {
        let chip = FakeChip::pi4();
        let pins = PinsConfig {
            amber: None,
            ..PinsConfig::default()
        };
        let mut leds = claim(&chip, pins, true).unwrap();
        assert!(leds.describe().ends_with("green=17 red=27, active-low"));
        {
            let s = chip.state();
            assert_eq!(s.requests[0].offsets, [17, 27]);
            assert_eq!(s.requests[0].flags, flag::OUTPUT | flag::ACTIVE_LOW);
            assert_eq!(
                s.requests[0].output_values,
                Some(LineValues {
                    bits: 0,
                    mask: 0b11
                })
            );
            assert!(s.level[&17], "dark = high");
            assert!(s.level[&27]);
        }
        leds.set(Color::Red, true).unwrap();
        assert!(!chip.state().level[&27], "lit = low");
        assert!(chip.state().level[&17]);
        leds.set(Color::Red, false).unwrap();
        assert!(chip.state().level[&27]);
        // no amber pin: nothing to do
        leds.set(Color::Amber, true).unwrap();
        assert_eq!(chip.state().sets.len(), 2);
    }

    #[test]
    fn a_pin_in_use_names_key_pin_and_consumer_and_nothing_is_taken() {
        let chip = FakeChip::pi4();
        let pins = PinsConfig {
            red: Some(42),
            ..PinsConfig::default()
        };
        let e = claim(&chip, pins, false).err().unwrap();
        assert_eq!(
            e,
            "key `leds.pins.red`: GPIO pin 42 (BCM) is in use by \"ACT\" \
             (held by the kernel or another process; `gpioinfo` shows who)"
        );
        assert!(chip.state().requests.is_empty(), "checked before claiming");
        // held by an unnamed consumer
        chip.state().lines[5].flags |= flag::USED;
        let pins = PinsConfig {
            green: Some(5),
            ..PinsConfig::default()
        };
        let e = claim(&chip, pins, false).err().unwrap();
        assert_eq!(
            e,
            "key `leds.pins.green`: GPIO pin 5 (BCM) is in use \
             (held by the kernel or another process; `gpioinfo` shows who)"
        );
        // taken by ravn's own earlier request (a second ravn): the consumer says so
        let chip = FakeChip::pi4();
        let _held = claim(&chip, PinsConfig::default(), false).unwrap();
        let e = claim(&chip, PinsConfig::default(), false).err().unwrap();
        assert!(
            e.contains("leds.pins.green") && e.contains("by \"ravn\""),
            "{e}"
        );
    }

    #[test]
    fn ebusy_from_the_request_is_the_in_use_error() {
        // someone takes BCM 27 between the check and the request
        let chip = FakeChip::pi4();
        chip.state().taken_before_request = Some((27, "gpioset"));
        let e = claim(&chip, PinsConfig::default(), false).err().unwrap();
        assert_eq!(
            e,
            "key `leds.pins.red`: GPIO pin 27 (BCM) is in use by \"gpioset\" \
             (held by the kernel or another process; `gpioinfo` shows who)"
        );
        // EBUSY, but no line says who
        let chip = FakeChip::pi4();
        chip.state().fail_request = Some(libc::EBUSY);
        let e = claim(&chip, PinsConfig::default(), false).err().unwrap();
        assert_eq!(
            e,
            "keys `leds.pins.green`, `leds.pins.red`, `leds.pins.amber`: one of GPIO pins \
             17, 27, 22 (BCM) is in use (held by the kernel or another process; `gpioinfo` \
             shows who)"
        );
    }

    #[test]
    fn other_request_errors_name_the_device() {
        let chip = FakeChip::pi4();
        chip.state().fail_request = Some(libc::EACCES);
        let e = claim(&chip, PinsConfig::default(), false).err().unwrap();
        assert_eq!(
            e,
            "leds.backend = \"gpio\": permission denied on /dev/gpiochip0: the ravn user \
             needs read-write access to it (the image's udev rule gives group ravn rw on \
             gpiochip*)"
        );
        let chip = FakeChip::pi4();
        chip.state().fail_request = Some(libc::EINVAL);
        let e = claim(&chip, PinsConfig::default(), false).err().unwrap();
        assert!(
            e.starts_with(
                "leds.backend = \"gpio\": requesting GPIO pins 17, 27, 22 (BCM) on /dev/gpiochip0: "
            ),
            "{e}"
        );
    }

    #[test]
    fn a_pin_past_the_chip_names_the_key() {
        let chip = FakeChip::pi4();
        let e = ChipLeds::claim(
            Box::new(chip.clone()),
            Path::new("/dev/gpiochip0"),
            &bcm2711(27),
            &PinsConfig::default(),
            false,
        )
        .err()
        .unwrap();
        assert_eq!(
            e,
            "key `leds.pins.red`: GPIO pin 27 (BCM) does not exist on /dev/gpiochip0 \
             (pinctrl-bcm2711 has 27 lines)"
        );
        assert!(chip.state().requests.is_empty());
    }

    #[test]
    fn no_pins_requests_nothing() {
        let chip = FakeChip::pi4();
        let pins = PinsConfig {
            green: None,
            red: None,
            amber: None,
        };
        let mut leds = claim(&chip, pins, false).unwrap();
        leds.set(Color::Green, true).unwrap();
        assert!(chip.state().requests.is_empty() && chip.state().sets.is_empty());
        assert!(leds.describe().ends_with("no pins configured"));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn off_a_pi_gpio_is_a_clear_error_not_a_panic() {
        if super::super::is_raspberry_pi() {
            println!("SKIPPED: this is a Raspberry Pi");
            return;
        }
        let e = open(&LedsConfig::default()).err().unwrap();
        assert!(e.contains("not a Raspberry Pi"), "{e}");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_chip_is_found_in_dev_or_configured() {
        let dev = std::env::temp_dir().join(format!("ravn-gpio-dev-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dev);
        std::fs::create_dir_all(&dev).unwrap();
        let cfg = LedsConfig::default();
        // nothing at all, not a Pi
        let e = open_in(&dev, &cfg, false).err().unwrap();
        assert_eq!(
            e,
            format!(
                "leds.backend = \"gpio\": this machine is not a Raspberry Pi (no {0}/gpiochip* \
                 and no {0}/gpiomem); use leds.backend = \"sysfs\", \"terminal\" or \"none\"",
                dev.display()
            )
        );
        // a "chip" that is not one (a plain file answers the ioctl with ENOTTY)
        std::fs::write(dev.join("gpiochip0"), "").unwrap();
        let e = open_in(&dev, &cfg, false).err().unwrap();
        assert!(
            e.contains("not a Raspberry Pi (no GPIO chip labelled pinctrl-bcm2*:")
                && e.contains("gpiochip0:"),
            "{e}"
        );
        let e = open_in(&dev, &cfg, true).err().unwrap();
        assert!(
            e.starts_with("leds.backend = \"gpio\": no GPIO chip labelled pinctrl-bcm2*")
                && e.ends_with("set `leds.gpio-chip` to the chip the LEDs are wired to"),
            "{e}"
        );
        // a configured chip: errors name the key
        let cfg = LedsConfig {
            gpio_chip: dev.join("gpiochip7"),
            ..LedsConfig::default()
        };
        let e = open_in(&dev, &cfg, true).err().unwrap();
        assert_eq!(
            e,
            format!(
                "key `leds.gpio-chip`: {} does not exist",
                dev.join("gpiochip7").display()
            )
        );
        let cfg = LedsConfig {
            gpio_chip: dev.join("gpiochip0"),
            ..LedsConfig::default()
        };
        let e = open_in(&dev, &cfg, true).err().unwrap();
        assert_eq!(
            e,
            format!(
                "key `leds.gpio-chip`: {} is not a GPIO chip device",
                dev.join("gpiochip0").display()
            )
        );
        let _ = std::fs::remove_dir_all(&dev);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn rppal_errors_name_the_pin_and_key() {
        let e = pin_error(&rppal::gpio::Error::PinUsed(27), Color::Red, 27);
        assert_eq!(
            e,
            "key `leds.pins.red`: GPIO pin 27 (BCM) is already in use"
        );
        let e = pin_error(&rppal::gpio::Error::PinNotAvailable(60), Color::Amber, 60);
        assert!(e.contains("leds.pins.amber") && e.contains("60"), "{e}");
        let e = pin_error(&rppal::gpio::Error::UnknownModel, Color::Green, 0);
        assert!(e.contains("not a Raspberry Pi"), "{e}");
    }
}
