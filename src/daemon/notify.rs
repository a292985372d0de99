//! systemd's notification protocol (`Type=notify`, watchdog) without libsystemd: one datagram
//! per message to the Unix socket named by `$NOTIFY_SOCKET` (a path, or `@name` for the
//! abstract namespace).

use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::Duration;

/// A connection to the service manager; messages are dropped silently when there is none.
pub struct Notifier {
    sock: Option<(UnixDatagram, SocketAddr)>,
}

impl Notifier {
    /// From `$NOTIFY_SOCKET`; inert when it is unset or unusable.
    pub fn from_env() -> Notifier {
        let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
            return Notifier { sock: None };
        };
        Notifier::to(&path.to_string_lossy())
    }

    /// To the socket at `path` (`@name`: abstract).
    pub fn to(path: &str) -> Notifier {
        let addr = if let Some(name) = path.strip_prefix('@') {
            use std::os::linux::net::SocketAddrExt;
            SocketAddr::from_abstract_name(name.as_bytes())
        } else {
            SocketAddr::from_pathname(path)
        };
        let sock = match (UnixDatagram::unbound(), addr) {
            (Ok(s), Ok(a)) => {
                let _ = s.set_nonblocking(true);
                Some((s, a))
            }
            _ => {
                log::warn!("NOTIFY_SOCKET={path}: unusable, not notifying systemd");
                None
            }
        };
        Notifier { sock }
    }

    pub fn is_active(&self) -> bool {
        self.sock.is_some()
    }

    /// Sends one message (`READY=1`, `WATCHDOG=1`, `STATUS=...`). No allocation.
    pub fn notify(&self, msg: &str) {
        if let Some((s, a)) = &self.sock {
            let _ = s.send_to_addr(msg.as_bytes(), a);
        }
    }

    /// Sends a state change (`READY=1`, `RELOADING=1`, `STOPPING=1`): retried for up to a
    /// second while the manager's queue is full, so it is not lost behind watchdog pings.
    pub fn notify_state(&self, msg: &str) {
        if let Some((s, a)) = &self.sock {
            for _ in 0..100 {
                match s.send_to_addr(msg.as_bytes(), a) {
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(std::time::Duration::from_millis(10))
                    }
                    _ => return,
                }
            }
        }
    }

    /// A second handle to the same socket (the matcher's watchdog pings).
    pub fn try_clone(&self) -> Notifier {
        Notifier {
            sock: self
                .sock
                .as_ref()
                .and_then(|(s, a)| s.try_clone().ok().map(|s| (s, a.clone()))),
        }
    }
}

/// How often to ping the watchdog: half of `$WATCHDOG_USEC` when it is set for this process
/// (`$WATCHDOG_PID` absent or ours).
pub fn watchdog_interval() -> Option<Duration> {
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    if let Ok(pid) = std::env::var("WATCHDOG_PID") {
        if pid.parse::<u32>().ok()? != std::process::id() {
            return None;
        }
    }
    (usec > 0).then(|| Duration::from_micros(usec / 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sends_to_path_and_abstract_sockets() {
        let dir = std::env::temp_dir().join(format!("ravn-notify-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("notify.sock");
        let _ = std::fs::remove_file(&path);
        let rx = UnixDatagram::bind(&path).unwrap();
        let n = Notifier::to(path.to_str().unwrap());
        assert!(n.is_active());
        n.notify("READY=1");
        let mut buf = [0u8; 64];
        let k = rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..k], b"READY=1");
        n.try_clone().notify("WATCHDOG=1");
        let k = rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..k], b"WATCHDOG=1");

        use std::os::linux::net::SocketAddrExt;
        let name = format!("ravn-notify-test-{}", std::process::id());
        let rx2 =
            UnixDatagram::bind_addr(&SocketAddr::from_abstract_name(name.as_bytes()).unwrap())
                .unwrap();
        Notifier::to(&format!("@{name}")).notify("STOPPING=1");
        let k = rx2.recv(&mut buf).unwrap();
        assert_eq!(&buf[..k], b"STOPPING=1");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
