//! The stats socket: `<run-dir>/stats.sock`, a Unix stream socket that answers one request
//! per connection with the running daemon's counters. `ravn stats` is its client.
//!
//! Request: one line, `json` (the EVE stats event, one line) or `text` (one `name value` line
//! per counter, dotted names as in Suricata's stats.log).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::pipeline::{counters, Shared};

pub const SOCKET_NAME: &str = "stats.sock";

/// The counters as `name value` lines.
pub fn text_report(shared: &Shared) -> String {
    let proc = shared
        .processor
        .lock()
        .map(|g| g.clone())
        .unwrap_or_default();
    let c = counters::collect(&shared.capture, &proc);
    let mut out = format!("uptime {}\n", shared.started.elapsed().as_secs());
    out.push_str(&format!(
        "detect.reloads {}\n",
        shared.reloads.load(Ordering::Relaxed)
    ));
    out.push_str(&format!(
        "matcher.tid {}\n",
        shared.matcher_tid.load(Ordering::Relaxed)
    ));
    for (n, v) in c.iter() {
        out.push_str(&format!("{n} {v}\n"));
    }
    let h = &shared.health;
    if h.running.load(Ordering::Relaxed) {
        out.push_str(&format!(
            "heartbeat.state {}\n",
            crate::heartbeat::health::state_from_code(h.state.load(Ordering::Relaxed))
        ));
        h.counters
            .for_each(|n, v| out.push_str(&format!("{n} {v}\n")));
    }
    out
}

/// Serves `<run_dir>/stats.sock` until `stop` is set.
pub struct StatsServer {
    path: PathBuf,
    thread: Option<std::thread::JoinHandle<()>>,
    stop: Arc<AtomicBool>,
}

impl StatsServer {
    pub fn start(run_dir: &Path, shared: Arc<Shared>) -> std::io::Result<StatsServer> {
        std::fs::create_dir_all(run_dir).map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!("daemon.run-dir {}: {e}", run_dir.display()),
            )
        })?;
        let path = run_dir.join(SOCKET_NAME);
        if UnixStream::connect(&path).is_ok() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AddrInUse,
                format!(
                    "{}: another ravn daemon is running with this run directory (daemon.run-dir)",
                    path.display()
                ),
            ));
        }
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path)
            .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        listener.set_nonblocking(true)?;
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let thread = std::thread::Builder::new()
            .name("ravn-stats".into())
            .spawn(move || serve(listener, shared, stop2))?;
        Ok(StatsServer {
            path,
            thread: Some(thread),
            stop,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for StatsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

fn serve(listener: UnixListener, shared: Arc<Shared>, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok((s, _)) => {
                let _ = answer(s, &shared);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => {
                log::warn!("stats socket: {e}");
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    }
}

fn answer(s: UnixStream, shared: &Shared) -> std::io::Result<()> {
    s.set_nonblocking(false)?;
    s.set_read_timeout(Some(Duration::from_secs(2)))?;
    s.set_write_timeout(Some(Duration::from_secs(2)))?;
    let mut r = BufReader::new(s.try_clone()?);
    let mut line = String::new();
    r.read_line(&mut line)?;
    let body = match line.trim() {
        "json" | "" => shared.stats_line(),
        "text" => text_report(shared),
        other => format!("error: unknown request `{other}` (json or text)\n"),
    };
    let mut s = s;
    s.write_all(body.as_bytes())
}

/// The client side: asks the daemon at `run_dir` for `json` or `text`.
pub fn query(run_dir: &Path, what: &str) -> Result<String, String> {
    let path = run_dir.join(SOCKET_NAME);
    let mut s = UnixStream::connect(&path)
        .map_err(|e| format!("no running ravn daemon at {}: {e}", path.display()))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    s.write_all(format!("{what}\n").as_bytes())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let mut out = String::new();
    std::io::Read::read_to_string(&mut s, &mut out)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(out)
}
