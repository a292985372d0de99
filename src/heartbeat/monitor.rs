//! The heartbeat state machine. Pure: it is given the time and what the pipeline counted,
//! so tests drive it with a fake clock.
//!
//! - STARTING: the grace period after start, until the first heartbeat or `grace` seconds.
//! - ALIVE: the last accepted heartbeat is at most `warn` seconds old.
//! - LATE: older than `warn` (or none yet, after the grace period).
//! - DEAD: older than `crit` (or none for `crit` seconds since start).
//! - CAPTURE-DOWN: the capture failed, or no packet at all arrived for `capture-down`
//!   seconds (0: only a failed capture). It wins over the others: it says why.

use serde::{Deserialize, Serialize};

/// The sensor's aliveness.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum State {
    #[serde(rename = "STARTING")]
    Starting,
    #[serde(rename = "ALIVE")]
    Alive,
    #[serde(rename = "LATE")]
    Late,
    #[serde(rename = "DEAD")]
    Dead,
    #[serde(rename = "CAPTURE-DOWN")]
    CaptureDown,
    /// Written once by a daemon that stopped normally.
    #[serde(rename = "STOPPED")]
    Stopped,
}

impl State {
    pub fn name(&self) -> &'static str {
        match self {
            State::Starting => "STARTING",
            State::Alive => "ALIVE",
            State::Late => "LATE",
            State::Dead => "DEAD",
            State::CaptureDown => "CAPTURE-DOWN",
            State::Stopped => "STOPPED",
        }
    }
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The thresholds (seconds).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    pub warn: f64,
    pub crit: f64,
    pub grace: f64,
    /// No packets for this long: CAPTURE-DOWN (0: off).
    pub capture_down: f64,
}

/// What the pipeline counted up to now.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Observation {
    /// Packets the matcher received (cumulative).
    pub packets: u64,
    /// Heartbeats accepted (cumulative).
    pub heartbeats: u64,
    /// The capture stopped with an error.
    pub capture_failed: bool,
}

#[derive(Debug, Clone)]
pub struct Monitor {
    t: Thresholds,
    started: f64,
    state: State,
    since: f64,
    last_heartbeat: Option<f64>,
    heartbeats: u64,
    packets: u64,
    last_packet: Option<f64>,
}

impl Monitor {
    pub fn new(t: Thresholds, now: f64) -> Monitor {
        Monitor {
            t,
            started: now,
            state: State::Starting,
            since: now,
            last_heartbeat: None,
            heartbeats: 0,
            packets: 0,
            last_packet: None,
        }
    }

    pub fn state(&self) -> State {
        self.state
    }

    /// When the current state began.
    pub fn since(&self) -> f64 {
        self.since
    }

    pub fn started(&self) -> f64 {
        self.started
    }

    /// When the last heartbeat was seen (by this monitor's clock).
    pub fn last_heartbeat(&self) -> Option<f64> {
        self.last_heartbeat
    }

    pub fn last_packet(&self) -> Option<f64> {
        self.last_packet
    }

    pub fn thresholds(&self) -> Thresholds {
        self.t
    }

    /// Takes in the counters at `now`; returns the new state when it changed, and how many
    /// heartbeats arrived since the last call.
    pub fn update(&mut self, now: f64, o: Observation) -> (Option<State>, u64) {
        let new_hb = o.heartbeats.saturating_sub(self.heartbeats);
        if new_hb > 0 {
            self.last_heartbeat = Some(now);
        }
        self.heartbeats = o.heartbeats;
        if o.packets != self.packets {
            self.last_packet = Some(now);
            self.packets = o.packets;
        }
        let next = self.evaluate(now, o.capture_failed);
        if next != self.state {
            self.state = next;
            self.since = now;
            (Some(next), new_hb)
        } else {
            (None, new_hb)
        }
    }

    fn evaluate(&self, now: f64, capture_failed: bool) -> State {
        if capture_failed {
            return State::CaptureDown;
        }
        let up = now - self.started;
        if self.last_heartbeat.is_none() && up < self.t.grace {
            return State::Starting;
        }
        if self.t.capture_down > 0.0 {
            let quiet = now - self.last_packet.unwrap_or(self.started);
            if quiet > self.t.capture_down {
                return State::CaptureDown;
            }
        }
        let age = now - self.last_heartbeat.unwrap_or(self.started);
        if age > self.t.crit {
            State::Dead
        } else if age > self.t.warn || self.last_heartbeat.is_none() {
            State::Late
        } else {
            State::Alive
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Thresholds = Thresholds {
        warn: 120.0,
        crit: 300.0,
        grace: 90.0,
        capture_down: 60.0,
    };

    /// A fake clock and the pipeline's counters.
    struct Sim {
        now: f64,
        o: Observation,
        m: Monitor,
        seen: Vec<(f64, State)>,
    }

    impl Sim {
        fn new(t: Thresholds) -> Sim {
            Sim {
                now: 1000.0,
                o: Observation::default(),
                m: Monitor::new(t, 1000.0),
                seen: vec![],
            }
        }
        /// Advance `secs` one second at a time, with `pps` packets a second.
        fn run(&mut self, secs: u32, pps: u64) {
            for _ in 0..secs {
                self.now += 1.0;
                self.o.packets += pps;
                self.step();
            }
        }
        fn heartbeat(&mut self) {
            self.o.heartbeats += 1;
            self.o.packets += 1;
            self.step();
        }
        fn step(&mut self) {
            if let (Some(s), _) = self.m.update(self.now, self.o) {
                self.seen.push((self.now - 1000.0, s));
            }
        }
    }

    #[test]
    fn starting_alive_late_dead_and_back() {
        let mut s = Sim::new(T);
        s.run(30, 10);
        assert_eq!(s.m.state(), State::Starting);
        s.heartbeat();
        assert_eq!(s.m.state(), State::Alive, "first heartbeat ends the grace");
        s.run(120, 10);
        assert_eq!(s.m.state(), State::Alive, "exactly warn old is still alive");
        s.run(1, 10);
        assert_eq!(s.m.state(), State::Late);
        s.run(179, 10);
        assert_eq!(s.m.state(), State::Late);
        s.run(1, 10);
        assert_eq!(s.m.state(), State::Dead);
        s.heartbeat();
        assert_eq!(s.m.state(), State::Alive);
        assert_eq!(
            s.seen,
            vec![
                (30.0, State::Alive),
                (151.0, State::Late),
                (331.0, State::Dead),
                (331.0, State::Alive)
            ]
        );
    }

    #[test]
    fn no_heartbeat_after_grace_is_late_then_dead() {
        let mut s = Sim::new(T);
        s.run(90, 5);
        assert_eq!(s.m.state(), State::Late, "grace over, no heartbeat");
        s.run(210, 5);
        assert_eq!(s.m.state(), State::Late);
        s.run(1, 5);
        assert_eq!(s.m.state(), State::Dead);
        assert_eq!(s.seen, vec![(90.0, State::Late), (301.0, State::Dead)]);
    }

    #[test]
    fn capture_down_when_no_packets_and_when_the_capture_fails() {
        let mut s = Sim::new(T);
        s.run(20, 0);
        assert_eq!(s.m.state(), State::Starting, "grace first");
        s.run(70, 0);
        assert_eq!(
            s.m.state(),
            State::CaptureDown,
            "no packet at all since start"
        );
        s.run(1, 10);
        assert_eq!(s.m.state(), State::Late, "packets again, no heartbeat");
        s.heartbeat();
        s.run(60, 0);
        assert_eq!(s.m.state(), State::Alive);
        s.run(1, 0);
        assert_eq!(s.m.state(), State::CaptureDown, "quiet for more than 60 s");
        s.run(1, 3);
        assert_eq!(s.m.state(), State::Alive);
        s.o.capture_failed = true;
        s.run(1, 3);
        assert_eq!(s.m.state(), State::CaptureDown);
    }

    #[test]
    fn capture_down_off_with_zero() {
        let mut s = Sim::new(Thresholds {
            capture_down: 0.0,
            ..T
        });
        s.run(1000, 0);
        assert_eq!(s.m.state(), State::Dead);
    }

    #[test]
    fn heartbeats_counted_per_update() {
        let mut m = Monitor::new(T, 0.0);
        let (_, n) = m.update(
            1.0,
            Observation {
                packets: 3,
                heartbeats: 3,
                capture_failed: false,
            },
        );
        assert_eq!(n, 3);
        assert_eq!(m.last_heartbeat(), Some(1.0));
    }
}
