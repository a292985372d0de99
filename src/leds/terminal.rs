//! The terminal "LEDs": one line per state change, with what the lights would show. The
//! default off a Pi (`leds.backend = "auto"`); the lights' blinking is not printed.

use std::io::{self, Write};

use super::{Color, Leds, Pattern};
use crate::heartbeat::monitor::State;

pub struct TerminalLeds {
    out: Box<dyn Write + Send>,
}

impl TerminalLeds {
    pub fn new(out: Box<dyn Write + Send>) -> TerminalLeds {
        TerminalLeds { out }
    }
}

/// The line printed for a state change.
pub fn line(state: State, pattern: &Pattern) -> String {
    format!("ravn: heartbeat {state} (LEDs: {})\n", pattern.describe())
}

impl Leds for TerminalLeds {
    fn set(&mut self, _: Color, _: bool) -> io::Result<()> {
        Ok(())
    }

    fn state_changed(&mut self, state: State, pattern: &Pattern) -> io::Result<()> {
        self.out.write_all(line(state, pattern).as_bytes())?;
        self.out.flush()
    }

    fn describe(&self) -> String {
        "terminal (state changes on stderr)".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::leds::{Driver, PatternsConfig};
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn prints_each_state_change_once() {
        let buf = Buf::default();
        let pats = PatternsConfig::default().parse().unwrap();
        let mut d = Driver::new(Box::new(TerminalLeds::new(Box::new(buf.clone()))), pats);
        let mut t = 0;
        for s in [
            State::Starting,
            State::Starting,
            State::Alive,
            State::Late,
            State::Dead,
            State::CaptureDown,
        ] {
            d.heartbeat(t);
            d.show(s, t);
            t += 100;
        }
        let out = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert_eq!(
            out,
            "ravn: heartbeat STARTING (LEDs: amber slow blink)\n\
             ravn: heartbeat ALIVE (LEDs: off)\n\
             ravn: heartbeat LATE (LEDs: amber on)\n\
             ravn: heartbeat DEAD (LEDs: red on)\n\
             ravn: heartbeat CAPTURE-DOWN (LEDs: red fast blink)\n"
        );
    }
}
