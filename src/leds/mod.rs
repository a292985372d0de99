//! Status LEDs: what the heartbeat monitor shows on the rack-mounted Pi.
//!
//! `Leds` is the small hardware trait (set one colour on or off; hear about state changes);
//! the backends are `gpio.rs` (BCM pins through the GPIO character device, `gpiochip.rs`,
//! or rppal where the kernel has none), `sysfs.rs` (`/sys/class/leds/*`, e.g. the Pi's ACT
//! and PWR LEDs), `terminal.rs` (prints state changes: the default off a Pi) and `NoLeds`.
//! `Driver` turns the configured patterns into on/off calls, touching a LED only when it
//! changes.

pub mod gpio;
pub mod gpiochip;
pub mod sysfs;
pub mod terminal;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::heartbeat::monitor::State;

/// The three lights a ravn sensor has (a backend may lack some: those stay dark).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Color {
    Green,
    Red,
    Amber,
}

pub const COLORS: [Color; 3] = [Color::Green, Color::Red, Color::Amber];

impl Color {
    pub fn name(&self) -> &'static str {
        match self {
            Color::Green => "green",
            Color::Red => "red",
            Color::Amber => "amber",
        }
    }
    fn index(self) -> usize {
        self as usize
    }
}

/// How a light behaves while a pattern is active.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    On,
    /// 1 Hz blink.
    Slow,
    /// 4 Hz blink.
    Fast,
    /// Irregular flicker.
    Flicker,
    /// One 250 ms flash when the pattern starts.
    Once,
}

/// A pattern: `off`, or `COLOUR:MODE` (`green:once`, `red:on`, `red:fast`, `amber:flicker`,
/// `amber:slow`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pattern(pub Option<(Color, Mode)>);

impl Pattern {
    pub fn parse(s: &str) -> Result<Pattern, String> {
        let s = s.trim();
        if s == "off" || s.is_empty() {
            return Ok(Pattern(None));
        }
        let (c, m) = s
            .split_once(':')
            .ok_or_else(|| format!("`{s}`: expected `off` or COLOUR:MODE, e.g. `red:fast`"))?;
        let color = match c.trim() {
            "green" => Color::Green,
            "red" => Color::Red,
            "amber" => Color::Amber,
            other => return Err(format!("`{other}`: colour must be green, red or amber")),
        };
        let mode = match m.trim() {
            "on" => Mode::On,
            "slow" => Mode::Slow,
            "fast" => Mode::Fast,
            "flicker" => Mode::Flicker,
            "once" => Mode::Once,
            other => {
                return Err(format!(
                    "`{other}`: mode must be on, slow, fast, flicker or once"
                ))
            }
        };
        Ok(Pattern(Some((color, mode))))
    }

    /// Is the light on `ms` milliseconds after the pattern started?
    pub fn lit(&self, ms: u64) -> Option<(Color, bool)> {
        let (c, m) = self.0?;
        let on = match m {
            Mode::On => true,
            Mode::Slow => (ms / 500) % 2 == 0,
            Mode::Fast => (ms / 125) % 2 == 0,
            // a fixed irregular sequence in 50 ms steps
            Mode::Flicker => (0b1011_0010_1101_0110u16 >> ((ms / 50) % 16)) & 1 == 1,
            Mode::Once => ms < 250,
        };
        Some((c, on))
    }

    pub fn describe(&self) -> String {
        match self.0 {
            None => "off".into(),
            Some((c, m)) => format!(
                "{} {}",
                c.name(),
                match m {
                    Mode::On => "on",
                    Mode::Slow => "slow blink",
                    Mode::Fast => "fast blink",
                    Mode::Flicker => "flicker",
                    Mode::Once => "one flash",
                }
            ),
        }
    }
}

/// A LED backend.
pub trait Leds: Send {
    /// Light `color` (or put it out). A colour the backend does not have is ignored.
    fn set(&mut self, color: Color, on: bool) -> std::io::Result<()>;
    /// The monitor's state changed; `pattern` is what the lights show now.
    fn state_changed(&mut self, _state: State, _pattern: &Pattern) -> std::io::Result<()> {
        Ok(())
    }
    /// What this backend drives (for the log).
    fn describe(&self) -> String;
}

/// `leds.backend = "none"`.
pub struct NoLeds;

impl Leds for NoLeds {
    fn set(&mut self, _: Color, _: bool) -> std::io::Result<()> {
        Ok(())
    }
    fn describe(&self) -> String {
        "no LEDs".into()
    }
}

/// `leds.backend`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Backend {
    /// sysfs on a Raspberry Pi, terminal elsewhere.
    Auto,
    Gpio,
    Sysfs,
    Terminal,
    None,
}

/// `[leds.pins]`: BCM pin numbers (absent: no such LED).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct PinsConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub green: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub red: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amber: Option<u8>,
}

impl Default for PinsConfig {
    fn default() -> Self {
        PinsConfig {
            green: Some(17),
            red: Some(27),
            amber: Some(22),
        }
    }
}

impl PinsConfig {
    pub fn get(&self, c: Color) -> Option<u8> {
        match c {
            Color::Green => self.green,
            Color::Red => self.red,
            Color::Amber => self.amber,
        }
    }
}

/// `[leds.sysfs]`: LED names under `root` (empty: no such LED).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct SysfsConfig {
    pub root: PathBuf,
    pub green: String,
    pub red: String,
    pub amber: String,
}

impl Default for SysfsConfig {
    fn default() -> Self {
        SysfsConfig {
            root: PathBuf::from("/sys/class/leds"),
            green: "ACT".into(),
            red: "PWR".into(),
            amber: String::new(),
        }
    }
}

impl SysfsConfig {
    pub fn get(&self, c: Color) -> &str {
        match c {
            Color::Green => &self.green,
            Color::Red => &self.red,
            Color::Amber => &self.amber,
        }
    }
}

/// `[leds.patterns]`: one pattern per state, the configuration fault and the two event
/// patterns shown over them.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct PatternsConfig {
    pub starting: String,
    pub alive: String,
    pub late: String,
    pub dead: String,
    pub capture_down: String,
    /// Shown over the state while `<run-dir>/firstboot.error` exists (the first-boot file
    /// on the boot partition was refused; ravn runs with its previous configuration).
    pub config_fault: String,
    /// Shown once per heartbeat seen.
    pub heartbeat: String,
    /// Shown for a second after the capture dropped packets.
    pub drops: String,
}

impl Default for PatternsConfig {
    fn default() -> Self {
        PatternsConfig {
            starting: "amber:slow".into(),
            alive: "off".into(),
            late: "amber:on".into(),
            dead: "red:on".into(),
            capture_down: "red:fast".into(),
            config_fault: "red:slow".into(),
            heartbeat: "green:once".into(),
            drops: "amber:flicker".into(),
        }
    }
}

/// The parsed patterns.
#[derive(Debug, Clone, Copy)]
pub struct Patterns {
    pub starting: Pattern,
    pub alive: Pattern,
    pub late: Pattern,
    pub dead: Pattern,
    pub capture_down: Pattern,
    pub config_fault: Pattern,
    pub heartbeat: Pattern,
    pub drops: Pattern,
}

impl PatternsConfig {
    /// Errors name the key.
    pub fn parse(&self) -> Result<Patterns, String> {
        let p = |k: &str, v: &str| {
            Pattern::parse(v).map_err(|e| format!("key `leds.patterns.{k}`: {e}"))
        };
        Ok(Patterns {
            starting: p("starting", &self.starting)?,
            alive: p("alive", &self.alive)?,
            late: p("late", &self.late)?,
            dead: p("dead", &self.dead)?,
            capture_down: p("capture-down", &self.capture_down)?,
            config_fault: p("config-fault", &self.config_fault)?,
            heartbeat: p("heartbeat", &self.heartbeat)?,
            drops: p("drops", &self.drops)?,
        })
    }
}

impl Patterns {
    pub fn for_state(&self, s: State) -> Pattern {
        match s {
            State::Starting => self.starting,
            State::Alive => self.alive,
            State::Late => self.late,
            State::Dead => self.dead,
            State::CaptureDown => self.capture_down,
            State::Stopped => Pattern(None),
        }
    }
}

/// `[leds]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct LedsConfig {
    pub backend: Backend,
    /// GPIO LEDs wired between the pin and 3.3 V light when the pin is low.
    pub active_low: bool,
    /// The GPIO chip device the pins are on (`/dev/gpiochipN`); empty: the one labelled
    /// `pinctrl-bcm2*` (the SoC's), found by scanning /dev/gpiochip*.
    pub gpio_chip: PathBuf,
    pub pins: PinsConfig,
    pub sysfs: SysfsConfig,
    pub patterns: PatternsConfig,
}

impl Default for LedsConfig {
    fn default() -> Self {
        LedsConfig {
            backend: Backend::Auto,
            active_low: false,
            gpio_chip: PathBuf::new(),
            pins: PinsConfig::default(),
            sysfs: SysfsConfig::default(),
            patterns: PatternsConfig::default(),
        }
    }
}

impl LedsConfig {
    /// Checks what can be checked without hardware; errors name the key.
    pub fn validate(&self) -> Result<(), String> {
        self.patterns.parse()?;
        if !self.gpio_chip.as_os_str().is_empty() && !self.gpio_chip.is_absolute() {
            return Err(format!(
                "key `leds.gpio-chip`: `{}` is not an absolute path (e.g. /dev/gpiochip0; \
                 empty: the chip labelled pinctrl-bcm2*)",
                self.gpio_chip.display()
            ));
        }
        let mut seen: Vec<(u8, Color)> = Vec::new();
        for c in COLORS {
            if let Some(pin) = self.pins.get(c) {
                if pin > 53 {
                    return Err(format!(
                        "key `leds.pins.{}`: BCM pin {pin} does not exist (0-53)",
                        c.name()
                    ));
                }
                if let Some((_, other)) = seen.iter().find(|(p, _)| *p == pin) {
                    return Err(format!(
                        "key `leds.pins.{}`: BCM pin {pin} is already used by `leds.pins.{}`",
                        c.name(),
                        other.name()
                    ));
                }
                seen.push((pin, c));
            }
        }
        Ok(())
    }

    /// The backend `auto` stands for here.
    pub fn resolved_backend(&self) -> Backend {
        match self.backend {
            Backend::Auto if is_raspberry_pi() => Backend::Sysfs,
            Backend::Auto => Backend::Terminal,
            b => b,
        }
    }

    /// Opens the configured backend.
    pub fn open(&self) -> Result<Box<dyn Leds>, String> {
        Ok(match self.resolved_backend() {
            Backend::Gpio => gpio::open(self)?,
            Backend::Sysfs => Box::new(sysfs::SysfsLeds::open(&self.sysfs)?),
            Backend::Terminal => Box::new(terminal::TerminalLeds::new(Box::new(std::io::stderr()))),
            Backend::None | Backend::Auto => Box::new(NoLeds),
        })
    }
}

/// The device tree names the board on a Pi.
pub fn is_raspberry_pi() -> bool {
    std::fs::read("/proc/device-tree/model")
        .map(|m| m.windows(12).any(|w| w == b"Raspberry Pi"))
        .unwrap_or(false)
}

/// Drives a backend from the monitor's state and events.
pub struct Driver {
    leds: Box<dyn Leds>,
    patterns: Patterns,
    state: Option<State>,
    state_since_ms: u64,
    /// Since when the configuration fault shows (None: no fault).
    config_fault_since: Option<u64>,
    heartbeat_at: Option<u64>,
    drops_at: Option<u64>,
    lit: [Option<bool>; 3],
    failed: bool,
}

/// How long the drops pattern shows after drops were counted.
const DROPS_SHOW_MS: u64 = 1000;
/// How long the heartbeat pattern shows after a heartbeat.
const HEARTBEAT_SHOW_MS: u64 = 250;

impl Driver {
    pub fn new(leds: Box<dyn Leds>, patterns: Patterns) -> Driver {
        Driver {
            leds,
            patterns,
            state: None,
            state_since_ms: 0,
            config_fault_since: None,
            heartbeat_at: None,
            drops_at: None,
            lit: [None; 3],
            failed: false,
        }
    }

    pub fn describe(&self) -> String {
        self.leds.describe()
    }

    pub fn heartbeat(&mut self, now_ms: u64) {
        self.heartbeat_at = Some(now_ms);
    }

    pub fn drops(&mut self, now_ms: u64) {
        self.drops_at = Some(now_ms);
    }

    /// Whether there is a configuration fault now; its pattern starts when it appears.
    pub fn config_fault(&mut self, fault: bool, now_ms: u64) {
        match (fault, self.config_fault_since) {
            (true, None) => self.config_fault_since = Some(now_ms),
            (false, Some(_)) => self.config_fault_since = None,
            _ => {}
        }
    }

    fn report(&mut self, r: std::io::Result<()>) {
        if let Err(e) = r {
            if !self.failed {
                log::error!("LEDs ({}): {e}", self.leds.describe());
                self.failed = true;
            }
        }
    }

    /// Shows `state` at `now_ms`: the state's pattern, the configuration fault's over it
    /// (its colour takes that light), and the event patterns over both.
    pub fn show(&mut self, state: State, now_ms: u64) {
        if self.state != Some(state) {
            self.state = Some(state);
            self.state_since_ms = now_ms;
            let p = self.patterns.for_state(state);
            let r = self.leds.state_changed(state, &p);
            self.report(r);
        }
        let mut want = [false; 3];
        let base = self.patterns.for_state(state);
        if let Some((c, on)) = base.lit(now_ms.saturating_sub(self.state_since_ms)) {
            want[c.index()] |= on;
        }
        if let Some(since) = self.config_fault_since {
            if let Some((c, on)) = self.patterns.config_fault.lit(now_ms.saturating_sub(since)) {
                want[c.index()] = on;
            }
        }
        for (at, p, show) in [
            (
                self.heartbeat_at,
                self.patterns.heartbeat,
                HEARTBEAT_SHOW_MS,
            ),
            (self.drops_at, self.patterns.drops, DROPS_SHOW_MS),
        ] {
            if let Some(at) = at {
                let dt = now_ms.saturating_sub(at);
                if dt < show {
                    if let Some((c, on)) = p.lit(dt) {
                        // an event's colour takes over that light while it shows
                        want[c.index()] = on;
                    }
                }
            }
        }
        for c in COLORS {
            let i = c.index();
            if self.lit[i] != Some(want[i]) {
                let r = self.leds.set(c, want[i]);
                self.report(r);
                self.lit[i] = Some(want[i]);
            }
        }
    }

    /// Everything off (at exit).
    pub fn off(&mut self) {
        for c in COLORS {
            let r = self.leds.set(c, false);
            self.report(r);
            self.lit[c.index()] = Some(false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Recorder(Arc<Mutex<Vec<String>>>);

    impl Leds for Recorder {
        fn set(&mut self, c: Color, on: bool) -> std::io::Result<()> {
            self.0
                .lock()
                .unwrap()
                .push(format!("{} {}", c.name(), if on { "on" } else { "off" }));
            Ok(())
        }
        fn state_changed(&mut self, s: State, p: &Pattern) -> std::io::Result<()> {
            self.0
                .lock()
                .unwrap()
                .push(format!("state {s} {}", p.describe()));
            Ok(())
        }
        fn describe(&self) -> String {
            "recorder".into()
        }
    }

    #[test]
    fn patterns_parse_and_errors_name_the_key() {
        assert_eq!(
            Pattern::parse("red:fast").unwrap(),
            Pattern(Some((Color::Red, Mode::Fast)))
        );
        assert_eq!(Pattern::parse("off").unwrap(), Pattern(None));
        let mut c = PatternsConfig {
            dead: "purple:on".into(),
            ..Default::default()
        };
        assert!(c.parse().unwrap_err().contains("leds.patterns.dead"));
        c.dead = "red:strobe".into();
        assert!(c.parse().unwrap_err().contains("strobe"));
        let mut l = LedsConfig {
            pins: PinsConfig {
                amber: Some(17),
                ..Default::default()
            },
            ..Default::default()
        };
        let e = l.validate().unwrap_err();
        assert!(e.contains("leds.pins.amber") && e.contains("17"), "{e}");
        l.pins.amber = Some(60);
        assert!(l.validate().unwrap_err().contains("60"));
        // the configuration fault's pattern
        assert_eq!(
            PatternsConfig::default().parse().unwrap().config_fault,
            Pattern(Some((Color::Red, Mode::Slow)))
        );
        let c = PatternsConfig {
            config_fault: "red:sometimes".into(),
            ..Default::default()
        };
        assert_eq!(
            c.parse().unwrap_err(),
            "key `leds.patterns.config-fault`: `sometimes`: mode must be on, slow, fast, \
             flicker or once"
        );
        // the GPIO chip: a path, or empty
        let mut l = LedsConfig {
            gpio_chip: PathBuf::from("gpiochip0"),
            ..Default::default()
        };
        assert_eq!(
            l.validate().unwrap_err(),
            "key `leds.gpio-chip`: `gpiochip0` is not an absolute path (e.g. /dev/gpiochip0; \
             empty: the chip labelled pinctrl-bcm2*)"
        );
        l.gpio_chip = PathBuf::from("/dev/gpiochip1");
        l.validate().unwrap();
    }

    /// What the lights show at each of `times`: one char per time, per colour (G, R, A lit).
    fn lights(d: &mut Driver, state: State, times: impl Iterator<Item = u64>) -> String {
        let mut out = String::new();
        for t in times {
            d.show(state, t);
            let lit = |c: Color| d.lit[c.index()] == Some(true);
            out.push(
                match (lit(Color::Green), lit(Color::Red), lit(Color::Amber)) {
                    (false, false, false) => '.',
                    (false, true, false) => 'R',
                    (true, false, false) => 'G',
                    (false, false, true) => 'A',
                    _ => '*',
                },
            );
        }
        out
    }

    #[test]
    fn config_fault_blinks_red_over_the_state_until_it_clears() {
        let rec = Recorder::default();
        let log = rec.0.clone();
        let pats = PatternsConfig::default().parse().unwrap();
        let mut d = Driver::new(Box::new(rec), pats);
        // ALIVE (dark): the fault blinks red at 1 Hz from when it appeared
        d.show(State::Alive, 0);
        d.config_fault(true, 1000);
        let s = lights(&mut d, State::Alive, (1000..3000).step_by(250));
        assert_eq!(s, "RR..RR..");
        // seen again while it lasts: the blink goes on, not restarted
        d.config_fault(true, 3000);
        assert_eq!(lights(&mut d, State::Alive, [3000, 3500].into_iter()), "R.");
        // a heartbeat's green flash shows over it; the state's amber (LATE) too
        d.heartbeat(4000);
        assert_eq!(lights(&mut d, State::Alive, [4000].into_iter()), "*");
        assert_eq!(d.lit, [Some(true), Some(true), Some(false)]);
        assert_eq!(lights(&mut d, State::Late, [4500].into_iter()), "A");
        assert_eq!(lights(&mut d, State::Late, [5000].into_iter()), "*");
        assert_eq!(d.lit, [Some(false), Some(true), Some(true)]);
        // DEAD is red:on: the fault takes the red light, so it blinks rather than stays on
        assert_eq!(
            lights(&mut d, State::Dead, (6000..8000).step_by(250)),
            "RR..RR.."
        );
        // cleared: the state's pattern again
        d.config_fault(false, 8000);
        assert_eq!(lights(&mut d, State::Dead, [8000, 8500].into_iter()), "RR");
        assert_eq!(lights(&mut d, State::Alive, [9000].into_iter()), ".");
        // the backend heard of state changes only (the fault is logged by the health thread)
        let states: Vec<String> = log
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.starts_with("state"))
            .cloned()
            .collect();
        assert_eq!(
            states,
            [
                "state ALIVE off",
                "state LATE amber on",
                "state DEAD red on",
                "state ALIVE off"
            ]
        );
        // a fault pattern of `off` shows nothing
        let mut pats = PatternsConfig::default().parse().unwrap();
        pats.config_fault = Pattern(None);
        let mut d = Driver::new(Box::new(Recorder::default()), pats);
        d.config_fault(true, 0);
        assert_eq!(lights(&mut d, State::Alive, (0..1000).step_by(250)), "....");
    }

    #[test]
    fn drops_flicker_amber_for_a_second_over_the_state() {
        let rec = Recorder::default();
        let log = rec.0.clone();
        let pats = PatternsConfig::default().parse().unwrap();
        let mut d = Driver::new(Box::new(rec), pats);
        d.show(State::Alive, 0);
        log.lock().unwrap().clear();
        d.drops(0);
        let mut amber = String::new();
        for t in (0..1200).step_by(50) {
            d.show(State::Alive, t);
            amber.push(if d.lit[Color::Amber.index()] == Some(true) {
                '1'
            } else {
                '0'
            });
        }
        // the flicker sequence for 1 s (20 steps of 50 ms), then dark again
        assert_eq!(amber, "011010110100110101100000");
        assert!(log.lock().unwrap().iter().all(|l| l.starts_with("amber")));
    }

    #[test]
    fn driver_shows_state_with_events_over_it() {
        let rec = Recorder::default();
        let log = rec.0.clone();
        let pats = PatternsConfig::default().parse().unwrap();
        let mut d = Driver::new(Box::new(rec), pats);
        d.show(State::Dead, 0);
        assert_eq!(
            log.lock().unwrap().clone(),
            vec!["state DEAD red on", "green off", "red on", "amber off"]
        );
        log.lock().unwrap().clear();
        d.show(State::Dead, 50);
        assert!(
            log.lock().unwrap().is_empty(),
            "nothing changes, nothing set"
        );
        // a heartbeat: green flashes once, 250 ms
        d.show(State::Alive, 100);
        d.heartbeat(100);
        d.show(State::Alive, 100);
        d.show(State::Alive, 300);
        d.show(State::Alive, 350);
        d.show(State::Alive, 400);
        assert_eq!(
            log.lock().unwrap().clone(),
            vec!["state ALIVE off", "red off", "green on", "green off"]
        );
        log.lock().unwrap().clear();
        // capture down: red blinks at 4 Hz
        d.show(State::CaptureDown, 1000);
        d.show(State::CaptureDown, 1100);
        d.show(State::CaptureDown, 1130);
        d.show(State::CaptureDown, 1250);
        assert_eq!(
            log.lock().unwrap().clone(),
            vec![
                "state CAPTURE-DOWN red fast blink",
                "red on",
                "red off",
                "red on"
            ]
        );
    }
}
