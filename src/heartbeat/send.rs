//! `ravn heartbeat send`: an ICMP echo request carrying the heartbeat payload, through an
//! ICMP datagram socket where `net.ipv4.ping_group_range` allows it (no privilege needed)
//! and a raw socket (CAP_NET_RAW) otherwise. Replaces the seeds' cron job + hping3.

use std::net::{Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::auth::{self, Key};
use crate::decode::checksum::internet as checksum;

/// Which kind of socket carried the pings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocketKind {
    /// SOCK_DGRAM / IPPROTO_ICMP: the kernel fills the identifier and the checksum.
    Datagram,
    /// SOCK_RAW / IPPROTO_ICMP: ravn builds the whole ICMP message.
    Raw,
}

impl SocketKind {
    pub fn name(&self) -> &'static str {
        match self {
            SocketKind::Datagram => "ICMP datagram socket",
            SocketKind::Raw => "raw ICMP socket",
        }
    }
}

/// An open ICMP socket to one destination.
pub struct Pinger {
    fd: OwnedFd,
    kind: SocketKind,
    dst: Ipv4Addr,
    ident: u16,
    seq: u16,
    buf: Vec<u8>,
}

/// The IPv4 address `host` resolves to (the heartbeat rule matches ICMPv4 echo requests).
pub fn resolve(host: &str) -> Result<Ipv4Addr, String> {
    if let Ok(a) = host.parse::<Ipv4Addr>() {
        return Ok(a);
    }
    let addrs = (host, 0)
        .to_socket_addrs()
        .map_err(|e| format!("--to {host}: {e}"))?;
    let mut any = false;
    for a in addrs {
        any = true;
        if let SocketAddr::V4(v4) = a {
            return Ok(*v4.ip());
        }
    }
    Err(if any {
        format!("--to {host}: no IPv4 address (the heartbeat rule matches ICMPv4 echo requests)")
    } else {
        format!("--to {host}: no address")
    })
}

fn socket(ty: libc::c_int) -> std::io::Result<OwnedFd> {
    // SAFETY: plain syscall; the descriptor is owned from here on.
    let fd = unsafe { libc::socket(libc::AF_INET, ty | libc::SOCK_CLOEXEC, libc::IPPROTO_ICMP) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh descriptor nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

impl Pinger {
    /// Opens a datagram socket, or a raw one when datagram ICMP is not allowed (or `kind`
    /// forces one).
    pub fn open(dst: Ipv4Addr, force: Option<SocketKind>) -> Result<Pinger, String> {
        let dgram = || socket(libc::SOCK_DGRAM).map(|fd| (fd, SocketKind::Datagram));
        let raw = || socket(libc::SOCK_RAW).map(|fd| (fd, SocketKind::Raw));
        let (fd, kind) = match force {
            Some(SocketKind::Datagram) => dgram().map_err(|e| {
                format!("ICMP datagram socket: {e} (is this group in net.ipv4.ping_group_range?)")
            })?,
            Some(SocketKind::Raw) => {
                raw().map_err(|e| format!("raw ICMP socket: {e} (needs CAP_NET_RAW)"))?
            }
            None => match dgram() {
                Ok(x) => x,
                Err(e1) => raw().map_err(|e2| {
                    format!(
                        "cannot open an ICMP socket: datagram: {e1} (net.ipv4.ping_group_range \
                         does not include this group); raw: {e2} (needs CAP_NET_RAW)"
                    )
                })?,
            },
        };
        Ok(Pinger {
            fd,
            kind,
            dst,
            ident: (std::process::id() & 0xffff) as u16,
            seq: 0,
            buf: Vec::with_capacity(128),
        })
    }

    pub fn kind(&self) -> SocketKind {
        self.kind
    }

    /// Sends one echo request with `payload`.
    pub fn send(&mut self, payload: &[u8]) -> Result<(), String> {
        self.seq = self.seq.wrapping_add(1);
        self.buf.clear();
        self.buf.extend_from_slice(&[8, 0, 0, 0]);
        self.buf.extend_from_slice(&self.ident.to_be_bytes());
        self.buf.extend_from_slice(&self.seq.to_be_bytes());
        self.buf.extend_from_slice(payload);
        if self.kind == SocketKind::Raw {
            let c = checksum(&self.buf);
            self.buf[2..4].copy_from_slice(&c.to_be_bytes());
        }
        let sa = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: 0,
            sin_addr: libc::in_addr {
                s_addr: u32::from(self.dst).to_be(),
            },
            sin_zero: [0; 8],
        };
        // SAFETY: buffer and address are valid for the call.
        let n = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                self.buf.as_ptr().cast(),
                self.buf.len(),
                0,
                (&sa as *const libc::sockaddr_in).cast(),
                std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            )
        };
        if n < 0 {
            return Err(format!(
                "sending to {} ({}): {}",
                self.dst,
                self.kind.name(),
                std::io::Error::last_os_error()
            ));
        }
        Ok(())
    }
}

/// What `ravn heartbeat send` does.
pub struct SendOptions {
    pub to: String,
    /// Repeat every so often (None: send once).
    pub interval: Option<Duration>,
    /// Stop after this many pings (with an interval).
    pub count: Option<u64>,
    pub payload: String,
    pub key: Option<Key>,
    /// Use this counter instead of the clock (tests of the replay protection).
    pub counter: Option<u64>,
    pub socket: Option<SocketKind>,
}

fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// Sends the heartbeats; returns the socket kind used and how many were sent.
pub fn run(o: &SendOptions) -> Result<(SocketKind, u64), String> {
    if o.payload.is_empty() {
        return Err("--payload: must not be empty".into());
    }
    let dst = resolve(&o.to)?;
    let mut p = Pinger::open(dst, o.socket)?;
    log::info!("heartbeat to {dst} through a {}", p.kind().name());
    let mut last = 0u64;
    let mut sent = 0u64;
    let mut tries = 0u64;
    loop {
        tries += 1;
        // strictly increasing even if the clock stands still or steps back a little
        let counter = o.counter.unwrap_or_else(|| now_micros().max(last + 1));
        last = counter;
        let body = auth::payload(o.payload.as_bytes(), o.key.as_ref(), counter);
        let r = p.send(&body);
        let Some(every) = o.interval else {
            r?;
            sent += 1;
            break;
        };
        // a loop keeps going through a passing network error (a one-shot run reports it)
        match r {
            Ok(()) => sent += 1,
            Err(e) => log::error!("{e}"),
        }
        if o.count.is_some_and(|c| tries >= c) {
            break;
        }
        std::thread::sleep(every);
    }
    Ok((p.kind(), sent))
}

/// Parses `60s`, `500ms`, `2m`, `1h` or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, mult_ms) = if let Some(n) = s.strip_suffix("ms") {
        (n, 1u64)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1000)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60_000)
    } else if let Some(n) = s.strip_suffix('h') {
        (n, 3_600_000)
    } else {
        (s, 1000)
    };
    let v: u64 = num
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a duration (e.g. 60s, 500ms, 2m)"))?;
    if v == 0 {
        return Err(format!("`{s}`: must be more than 0"));
    }
    Ok(Duration::from_millis(v.saturating_mul(mult_ms)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("60s").unwrap(), Duration::from_secs(60));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("5").unwrap(), Duration::from_secs(5));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("0s").is_err());
    }

    #[test]
    fn resolve_refuses_names_without_ipv4() {
        assert_eq!(resolve("127.0.0.1").unwrap(), Ipv4Addr::LOCALHOST);
        assert!(resolve("::1").is_err());
    }
}
