//! The `ravn` command line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use log::{info, warn};

use ravn::config::Config;
use ravn::replay;
use ravn::rules;

#[derive(Parser)]
#[command(
    name = "ravn",
    version,
    about = "Network-security sensor for the Raspberry Pi: \
    TZSP/pcap in, Suricata-compatible alerts out"
)]
struct Cli {
    /// More log output (-v info, -vv debug; `run` logs info by default). RUST_LOG overrides it.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Args)]
struct ConfigArgs {
    /// Config file (default: /etc/ravn/ravn.toml if it exists, else built-in defaults)
    #[arg(short = 'c', long = "config")]
    config: Option<PathBuf>,
    /// Override a config key, as Suricata's --set: e.g. vars.address-groups.HOME_NET=[10.0.0.0/8]
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
}

/// `ravn replay -k`: Suricata's `-k` values.
#[derive(Clone, Copy, clap::ValueEnum)]
enum ChecksumArg {
    All,
    None,
}

#[derive(Subcommand)]
enum Cmd {
    /// Read a capture file and write alerts, like `suricata -r`.
    Replay {
        /// pcap or pcapng file
        #[arg(short = 'r', value_name = "FILE")]
        pcap: PathBuf,
        /// Rule file to use instead of the configured ones (repeatable), like Suricata's -S
        #[arg(short = 'S', value_name = "FILE")]
        exclusive_rules: Vec<PathBuf>,
        /// Rule file to add to the configured ones (repeatable), like Suricata's -s
        #[arg(short = 's', value_name = "FILE")]
        extra_rules: Vec<PathBuf>,
        /// Log directory (default: outputs.log-dir)
        #[arg(short = 'l', value_name = "DIR")]
        log_dir: Option<PathBuf>,
        /// Run as an IPS would, like Suricata's --simulate-ips: drop rules block
        /// ("[Drop]", "blocked") and exception policies may drop
        #[arg(long)]
        simulate_ips: bool,
        /// Whether TCP segments with a wrong checksum stay out of the stream, like
        /// Suricata's -k: `all` or `none` (sets stream.checksum-validation)
        #[arg(short = 'k', value_enum, value_name = "all|none")]
        checksum_checks: Option<ChecksumArg>,
        #[command(flatten)]
        cfg: ConfigArgs,
    },
    /// Rule tools.
    Rules {
        #[command(subcommand)]
        cmd: RulesCmd,
    },
    /// The persistent log archive.
    Logs {
        #[command(subcommand)]
        cmd: LogsCmd,
    },
    /// Print the effective configuration (defaults, file and --set) as TOML.
    Config {
        #[command(flatten)]
        cfg: ConfigArgs,
    },
    /// Run the sensor: live capture (capture.source) into the rules, until SIGTERM/SIGINT.
    /// SIGHUP reloads the rules; systemd Type=notify with watchdog is supported.
    Run {
        /// Rule file to use instead of the configured ones (repeatable)
        #[arg(short = 'S', value_name = "FILE")]
        exclusive_rules: Vec<PathBuf>,
        /// Log directory (default: outputs.log-dir)
        #[arg(short = 'l', value_name = "DIR")]
        log_dir: Option<PathBuf>,
        #[command(flatten)]
        cfg: ConfigArgs,
    },
    /// Print the running daemon's live counters (over <daemon.run-dir>/stats.sock).
    Stats {
        /// Print the EVE stats event (JSON) instead of `name value` lines
        #[arg(long)]
        json: bool,
        /// Run directory of the daemon (default: daemon.run-dir)
        #[arg(long, value_name = "DIR")]
        run_dir: Option<PathBuf>,
        #[command(flatten)]
        cfg: ConfigArgs,
    },
    /// Heartbeat aliveness: send the heartbeat ping.
    Heartbeat {
        #[command(subcommand)]
        cmd: HeartbeatCmd,
    },
    /// Monitoring Plugins checks (Nagios, Icinga): exit 0 OK, 1 WARNING, 2 CRITICAL,
    /// 3 UNKNOWN, one line with perfdata.
    Check {
        #[command(subcommand)]
        cmd: CheckCmd,
    },
    /// Write a TZSP stream received on a UDP port as pcap, like tzsp2pcap.
    Tzsp2pcap {
        /// UDP port to listen on (all addresses)
        #[arg(short = 'p', default_value_t = 37008)]
        port: u16,
        /// Output file, `-` for standard output
        #[arg(short = 'o', default_value = "-")]
        out: String,
        /// Stop after this many packets
        #[arg(short = 'c', value_name = "COUNT")]
        count: Option<u64>,
    },
}

#[derive(Subcommand)]
enum HeartbeatCmd {
    /// Send an ICMP echo request carrying the heartbeat payload (ICMP datagram socket where
    /// net.ipv4.ping_group_range allows it, raw socket otherwise).
    Send {
        /// Host to ping (the sensor's monitored network sees it)
        #[arg(long, value_name = "HOST")]
        to: String,
        /// Repeat every INTERVAL (e.g. 60s); without it, send one ping and exit (systemd timer)
        #[arg(long, value_name = "INTERVAL")]
        interval: Option<String>,
        /// With --interval: stop after N pings (sent or failed)
        #[arg(long, value_name = "N")]
        count: Option<u64>,
        /// Payload (the heartbeat rule's content)
        #[arg(long, default_value = "heartbeat_ping")]
        payload: String,
        /// HMAC key file: append a counter and a truncated HMAC-SHA256 tag
        #[arg(long, value_name = "FILE")]
        key: Option<PathBuf>,
        /// Use this counter instead of the clock (to test the sensor's replay protection)
        #[arg(long, value_name = "N", hide = true)]
        counter: Option<u64>,
        /// Socket kind
        #[arg(long, value_enum, default_value = "auto")]
        socket: SocketArg,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum SocketArg {
    Auto,
    Datagram,
    Raw,
}

#[derive(Args)]
struct CheckArgs {
    /// Status file (default: <daemon.run-dir>/<heartbeat.status-file>)
    #[arg(long, value_name = "FILE")]
    status: Option<PathBuf>,
    /// The status file is stale (CRITICAL) when older than SECS (default: 30, or three of
    /// the daemon's write intervals if longer)
    #[arg(long, value_name = "SECS")]
    stale: Option<f64>,
    /// Config file (default: /etc/ravn/ravn.toml if it exists); `-c` is --critical here
    #[arg(long = "config", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Override a config key
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
}

#[derive(Subcommand)]
enum CheckCmd {
    /// Age of the last heartbeat and heartbeats seen; CAPTURE-DOWN is CRITICAL.
    Heartbeat {
        /// WARNING when the last heartbeat is older than SECS
        #[arg(short = 'w', long, default_value_t = 120.0, value_name = "SECS")]
        warning: f64,
        /// CRITICAL when older than SECS
        #[arg(short = 'c', long, default_value_t = 300.0, value_name = "SECS")]
        critical: f64,
        #[command(flatten)]
        args: CheckArgs,
    },
    /// Percentage of packets dropped before matching, over the daemon's drop window.
    Capture {
        /// WARNING above PCT percent dropped
        #[arg(short = 'w', long, default_value_t = 1.0, value_name = "PCT")]
        warning: f64,
        /// CRITICAL above PCT percent dropped
        #[arg(short = 'c', long, default_value_t = 5.0, value_name = "PCT")]
        critical: f64,
        #[command(flatten)]
        args: CheckArgs,
    },
}

#[derive(Subcommand)]
enum RulesCmd {
    /// Report which rules load and which are skipped, and why.
    Check {
        /// Rule files
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Write the rules that loaded, verbatim, to FILE (to give Suricata the same set)
        #[arg(long, value_name = "FILE")]
        write_loaded: Option<PathBuf>,
        #[command(flatten)]
        cfg: ConfigArgs,
    },
}

#[derive(Subcommand)]
enum LogsCmd {
    /// Print archived events as eve.json or fast.log lines, exactly as they were logged.
    Export {
        /// Only events at or after T (unix seconds, or YYYY-MM-DD[THH:MM[:SS]][Z|+HH:MM];
        /// local time without an offset)
        #[arg(long, value_name = "T")]
        since: Option<String>,
        /// Only events before T
        #[arg(long, value_name = "T")]
        until: Option<String>,
        /// Only alerts of this signature id
        #[arg(long, value_name = "N")]
        sid: Option<u32>,
        #[arg(long, value_enum, default_value = "eve")]
        format: ExportFormat,
        /// Archive directory (default: archive.dir)
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        #[command(flatten)]
        cfg: ConfigArgs,
    },
    /// Records, segments, bytes written to the card, flushes, drops, write amplification.
    Stats {
        /// Archive directory (default: archive.dir)
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// Run directory with the live archive.status (default: outputs.log-dir)
        #[arg(short = 'l', value_name = "DIR")]
        log_dir: Option<PathBuf>,
        #[command(flatten)]
        cfg: ConfigArgs,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ExportFormat {
    Eve,
    Fast,
}

fn load_config(a: &ConfigArgs) -> Result<Config, String> {
    load_config_mode(a, false)
}

/// The config, validated for IDS or (`simulate_ips`) IPS mode.
fn load_config_mode(a: &ConfigArgs, simulate_ips: bool) -> Result<Config, String> {
    Config::load_mode(a.config.as_deref(), &a.set, simulate_ips).map_err(|e| format!("config: {e}"))
}

fn run(cli: Cli) -> Result<(), String> {
    match cli.cmd {
        Cmd::Replay {
            pcap,
            exclusive_rules,
            extra_rules,
            log_dir,
            simulate_ips,
            checksum_checks,
            cfg,
        } => {
            let mut config = load_config_mode(&cfg, simulate_ips)?;
            if let Some(k) = checksum_checks {
                // Suricata's -k sets stream.checksum-validation, nothing else
                config.stream.checksum_validation = matches!(k, ChecksumArg::All);
            }
            let mut files = if exclusive_rules.is_empty() {
                config.rule_paths()
            } else {
                exclusive_rules
            };
            files.extend(extra_rules);
            let dir = log_dir.unwrap_or_else(|| config.outputs.log_dir.clone());
            replay::stop_on_sigterm();
            let s = replay::run(&pcap, &files, &dir, &config).map_err(|e| e.to_string())?;
            if let Some(off) = s.truncated_at {
                warn!(
                    "{}: last record truncated at byte offset {off}; everything before it was processed",
                    pcap.display()
                );
            }
            info!(
                "{} packets, {} alerts, {} rules loaded ({} skipped) in {:.3} s, processing {:.3} s, run {:.3} s",
                s.packets,
                s.alerts,
                s.rules_loaded,
                s.rules_skipped,
                s.rule_load_secs,
                s.process_secs,
                s.run_secs
            );
            if let Some(a) = s.archive {
                info!(
                    "archive: {} records, {} flushes ({} failed this run), {} bytes written",
                    a.mark.records, a.mark.flushes, a.failed_flushes_run, a.mark.bytes_total
                );
            }
            Ok(())
        }
        Cmd::Rules {
            cmd:
                RulesCmd::Check {
                    files,
                    write_loaded,
                    cfg,
                },
        } => {
            let config = load_config(&cfg)?;
            let classes = replay::load_classifications(&config).map_err(|e| e.to_string())?;
            let vars = config.rule_vars();
            let paths: Vec<&std::path::Path> = files.iter().map(|p| p.as_path()).collect();
            let loaded = rules::load_files(&paths, &vars, Some(&classes))
                .map_err(|e| format!("rules: {e}"))?;
            print!("{}", rules::check::report(&loaded));
            if let Some(out) = write_loaded {
                rules::check::write_loaded(&loaded, &out)
                    .map_err(|e| format!("{}: {e}", out.display()))?;
            }
            Ok(())
        }
        Cmd::Logs { cmd } => logs(cmd),
        Cmd::Config { cfg } => {
            let config = load_config(&cfg)?;
            print!("{}", config.to_toml());
            Ok(())
        }
        Cmd::Run {
            exclusive_rules,
            log_dir,
            cfg,
        } => {
            let config = load_config(&cfg)?;
            let files = if exclusive_rules.is_empty() {
                config.rule_paths()
            } else {
                exclusive_rules
            };
            let dir = log_dir.unwrap_or_else(|| config.outputs.log_dir.clone());
            ravn::daemon::run(&config, &files, &dir).map_err(|e| e.to_string())
        }
        Cmd::Stats { json, run_dir, cfg } => {
            let dir = match run_dir {
                Some(d) => d,
                None => load_config(&cfg)?.daemon.run_dir,
            };
            let out = ravn::daemon::stats_socket::query(&dir, if json { "json" } else { "text" })?;
            print!("{out}");
            Ok(())
        }
        Cmd::Heartbeat {
            cmd:
                HeartbeatCmd::Send {
                    to,
                    interval,
                    count,
                    payload,
                    key,
                    counter,
                    socket,
                },
        } => {
            use ravn::heartbeat::{auth::Key, send};
            let interval = interval
                .map(|i| send::parse_duration(&i).map_err(|e| format!("--interval: {e}")))
                .transpose()?;
            let key = key
                .map(|k| Key::load(&k).map_err(|e| format!("--key {e}")))
                .transpose()?;
            let opts = send::SendOptions {
                to,
                interval,
                count,
                payload,
                key,
                counter,
                socket: match socket {
                    SocketArg::Auto => None,
                    SocketArg::Datagram => Some(send::SocketKind::Datagram),
                    SocketArg::Raw => Some(send::SocketKind::Raw),
                },
            };
            let (kind, n) = send::run(&opts)?;
            info!("{n} heartbeat(s) sent through a {}", kind.name());
            Ok(())
        }
        Cmd::Check { .. } => unreachable!("handled in main"),
        Cmd::Tzsp2pcap { port, out, count } => {
            let s = if out == "-" {
                let stdout = std::io::stdout();
                let mut lock = stdout.lock();
                ravn::tzsp2pcap::run(port, &mut lock, count)
            } else {
                let mut f = std::fs::File::create(&out).map_err(|e| format!("{out}: {e}"))?;
                ravn::tzsp2pcap::run(port, &mut f, count)
            }
            .map_err(|e| e.to_string())?;
            info!(
                "{} packets written; rejected: {} garbage, {} truncated, {} unknown encapsulation, {} unsupported type, {} oversize",
                s.written, s.garbage, s.truncated, s.unknown_encapsulation, s.unsupported_type, s.oversize
            );
            Ok(())
        }
    }
}

fn logs(cmd: LogsCmd) -> Result<(), String> {
    use ravn::archive::reader;
    match cmd {
        LogsCmd::Export {
            since,
            until,
            sid,
            format,
            dir,
            cfg,
        } => {
            let config = load_config(&cfg)?;
            let dir = dir.unwrap_or(config.archive.dir);
            let t = |o: Option<String>, flag: &str| -> Result<Option<f64>, String> {
                o.map(|v| reader::parse_time(&v).map_err(|e| format!("{flag} {e}")))
                    .transpose()
            };
            let filter = reader::Filter {
                since: t(since, "--since")?,
                until: t(until, "--until")?,
                sid,
            };
            let format = match format {
                ExportFormat::Eve => reader::Format::Eve,
                ExportFormat::Fast => reader::Format::Fast,
            };
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            let sum = reader::export(&dir, &filter, format, &mut out)
                .and_then(|s| std::io::Write::flush(&mut out).map(|()| s));
            let sum = match sum {
                Ok(s) => s,
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
                Err(e) => return Err(e.to_string()),
            };
            for (seg, d) in &sum.damage {
                warn!(
                    "{}: segment {seg}: {} damaged bytes at offset {} skipped",
                    dir.display(),
                    d.len,
                    d.offset
                );
            }
            Ok(())
        }
        LogsCmd::Stats { dir, log_dir, cfg } => {
            let config = load_config(&cfg)?;
            let dir = dir.unwrap_or(config.archive.dir);
            let run_dir = log_dir.unwrap_or(config.outputs.log_dir);
            let sum = reader::for_each(&dir, |_| Ok(())).map_err(|e| e.to_string())?;
            let status = ravn::archive::read_status(&run_dir.join(ravn::archive::STATUS_FILE));
            print!(
                "{}",
                reader::stats_report(&dir, &sum, ravn::archive::Now::real(), status.as_deref())
            );
            Ok(())
        }
    }
}

/// `ravn check`: prints one line and exits with the Monitoring Plugins code; every failure
/// (config, status file) is UNKNOWN or CRITICAL, never OK.
fn check(cmd: CheckCmd) -> ExitCode {
    use ravn::heartbeat::check::{self, Code, Limits, Which};
    let (which, warning, critical, args) = match cmd {
        CheckCmd::Heartbeat {
            warning,
            critical,
            args,
        } => (Which::Heartbeat, warning, critical, args),
        CheckCmd::Capture {
            warning,
            critical,
            args,
        } => (Which::Capture, warning, critical, args),
    };
    let svc = match which {
        Which::Heartbeat => "HEARTBEAT",
        Which::Capture => "CAPTURE",
    };
    let path = match args.status {
        Some(p) => p,
        None => match load_config(&ConfigArgs {
            config: args.config,
            set: args.set,
        }) {
            Ok(c) => c.heartbeat.status_path(&c.daemon.run_dir),
            Err(e) => {
                println!("RAVN {svc} UNKNOWN - {e}");
                return ExitCode::from(Code::Unknown as u8);
            }
        },
    };
    if warning > critical || warning < 0.0 {
        println!(
            "RAVN {svc} UNKNOWN - --warning {warning} must be between 0 and --critical {critical}"
        );
        return ExitCode::from(Code::Unknown as u8);
    }
    let lim = Limits {
        warning,
        critical,
        stale: args.stale,
    };
    let mut o = check::run(which, &path, &lim);
    if which == Which::Capture {
        // the archive's failed flushes (issue: a full or read-only SD card) show here too
        let run_dir = path.parent().unwrap_or(std::path::Path::new("."));
        o = check::with_archive(o, ravn::archive::health(run_dir));
    }
    println!("{}", o.line);
    ExitCode::from(o.code as u8)
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            // a usage error in a check is UNKNOWN (3), not clap's 2 (CRITICAL)
            let is_check =
                std::env::args().skip(1).find(|a| !a.starts_with('-')) == Some("check".to_string());
            if is_check && e.use_stderr() {
                let _ = e.print();
                return ExitCode::from(3);
            }
            e.exit();
        }
    };
    if let Cmd::Check { cmd } = cli.cmd {
        return check(cmd);
    }
    // `ravn run` is the daemon: its journal says what it loaded, where it captures and what
    // its LEDs are (Suricata's notices); the one-shot commands stay quiet unless asked.
    let daemon = matches!(cli.cmd, Cmd::Run { .. });
    let level = match cli.verbose {
        0 if daemon => "info",
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(level))
        .format_timestamp(None)
        .init();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ravn: error: {e}");
            ExitCode::from(1)
        }
    }
}
