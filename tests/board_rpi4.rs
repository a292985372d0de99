//! What the package and the Raspberry Pi board files ship, checked against the real binary:
//! the default /etc/ravn/ravn.toml loads with `ravn config`, ravn.service and the board's
//! mounts agree with it (CPU affinity, directories, tmpfs size), the units pass
//! `systemd-analyze verify`, and `ravn-firstboot` applies a good first-boot file and leaves
//! the configuration untouched on a bad one, naming every wrong key. Runs natively.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const RAVN: &str = env!("CARGO_BIN_EXE_ravn");

fn repo(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

fn fresh(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ravn-board-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    d
}

/// `ravn config -c FILE`, parsed back as TOML.
fn effective(config: &Path) -> toml::Table {
    let out = Command::new(RAVN)
        .args(["config", "-c"])
        .arg(config)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ravn config -c {}: {}",
        config.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().parse().unwrap()
}

fn get<'a>(t: &'a toml::Table, dotted: &str) -> &'a toml::Value {
    let mut parts = dotted.split('.');
    let mut v = t.get(parts.next().unwrap()).expect(dotted);
    for p in parts {
        v = v.get(p).unwrap_or_else(|| panic!("{dotted}: no `{p}`"));
    }
    v
}

/// Values of `Key=` in a unit file (all occurrences, space-separated words).
fn unit_values(unit: &str, key: &str) -> Vec<String> {
    unit.lines()
        .filter_map(|l| l.strip_prefix(&format!("{key}=")))
        .flat_map(|v| v.split_whitespace().map(String::from))
        .collect()
}

#[test]
fn shipped_config_loads_and_matches_the_units() {
    let cfg = effective(&repo("packaging/ravn.toml"));
    let service = fs::read_to_string(repo("packaging/ravn.service")).unwrap();

    // the pinned threads run inside the service's CPU affinity
    let affinity: BTreeSet<i64> = unit_values(&service, "CPUAffinity")
        .iter()
        .map(|c| c.parse().unwrap())
        .collect();
    let matcher = get(&cfg, "threading.matcher-core").as_integer().unwrap();
    let capture = get(&cfg, "threading.capture-core").as_integer().unwrap();
    assert!(affinity.contains(&matcher), "{affinity:?} lacks {matcher}");
    assert!(affinity.contains(&capture), "{affinity:?} lacks {capture}");
    assert!(matcher < 4 && capture < 4, "the Pi 4 has cores 0-3");

    // only the two capabilities, in both lines
    for key in ["AmbientCapabilities", "CapabilityBoundingSet"] {
        assert_eq!(
            unit_values(&service, key),
            ["CAP_NET_RAW", "CAP_NET_ADMIN"],
            "{key}"
        );
    }
    assert_eq!(unit_values(&service, "Type"), ["notify"]);
    assert_eq!(unit_values(&service, "User"), ["ravn"]);
    assert_eq!(unit_values(&service, "ProtectSystem"), ["strict"]);
    assert!(!unit_values(&service, "WatchdogSec").is_empty());

    // every directory ravn writes is writable under ProtectSystem=strict
    let rw = unit_values(&service, "ReadWritePaths");
    let log_dir = get(&cfg, "outputs.log-dir").as_str().unwrap();
    let run_dir = get(&cfg, "daemon.run-dir").as_str().unwrap();
    let archive = get(&cfg, "archive.dir").as_str().unwrap();
    for d in [log_dir, run_dir, archive] {
        assert!(
            rw.iter().any(|w| Path::new(d).starts_with(w)),
            "{d} not in ReadWritePaths {rw:?}"
        );
    }

    // the board's tmpfs mounts are the run and log directories, and the ring fits
    let board = repo("board/rpi4/rootfs/etc/systemd/system");
    let mount = |name: &str| fs::read_to_string(board.join(name)).unwrap();
    let logs = mount("var-log-ravn.mount");
    assert_eq!(unit_values(&logs, "Where"), [log_dir]);
    assert_eq!(unit_values(&mount("run-ravn.mount"), "Where"), [run_dir]);
    let opts = unit_values(&logs, "Options").join(",");
    let size = opts
        .split(',')
        .find_map(|o| o.strip_prefix("size="))
        .expect("size= on the log tmpfs");
    let size: i64 = size.strip_suffix('M').unwrap().parse::<i64>().unwrap() << 20;
    let cap = get(&cfg, "logs.ram-cap").as_integer().unwrap();
    assert!(
        cap < size,
        "logs.ram-cap {cap} must fit the {size}-byte tmpfs"
    );

    // the rules the package installs are the ones the config names
    let rule_dir = get(&cfg, "rules.default-rule-path").as_str().unwrap();
    assert_eq!(rule_dir, "/etc/ravn/rules");
    let manifest = fs::read_to_string(repo("Cargo.toml")).unwrap();
    for f in get(&cfg, "rules.rule-files").as_array().unwrap() {
        let f = f.as_str().unwrap();
        assert!(repo("rules").join(f).is_file(), "rules/{f}");
        assert!(
            manifest.contains(&format!("\"rules/{f}\"")),
            "{f} not packaged"
        );
    }
}

#[test]
fn units_pass_systemd_analyze_verify() {
    if Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("SKIPPED: systemd-analyze is not installed");
        return;
    }
    let dir = fresh("units");
    let firstboot = repo("board/rpi4/rootfs/usr/local/sbin/ravn-firstboot");
    let mut units = vec![];
    // the executables the units name, pointed at this build
    for (src, name) in [
        ("packaging/ravn.service", "ravn.service"),
        (
            "board/rpi4/rootfs/etc/systemd/system/ravn-firstboot.service",
            "ravn-firstboot.service",
        ),
        (
            "board/rpi4/rootfs/etc/systemd/system/run-ravn.mount",
            "run-ravn.mount",
        ),
        (
            "board/rpi4/rootfs/etc/systemd/system/var-log-ravn.mount",
            "var-log-ravn.mount",
        ),
        (
            "board/rpi4/rootfs/etc/systemd/system/ravn-growroot.service",
            "ravn-growroot.service",
        ),
        (
            "board/rpi4/rootfs/etc/systemd/system/ravn-ssh-keygen.service",
            "ravn-ssh-keygen.service",
        ),
    ] {
        let text = fs::read_to_string(repo(src))
            .unwrap()
            .replace("/usr/bin/ravn", RAVN)
            .replace(
                "/usr/local/sbin/ravn-firstboot",
                firstboot.to_str().unwrap(),
            )
            .replace(
                "/usr/local/sbin/ravn-growroot",
                repo("board/rpi4/rootfs/usr/local/sbin/ravn-growroot")
                    .to_str()
                    .unwrap(),
            );
        let p = dir.join(name);
        fs::write(&p, text).unwrap();
        units.push(p);
    }
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .args(&units)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    // complaints about units the host lacks (ssh, mounts of other files) are not ours
    let ours: Vec<&str> = err
        .lines()
        .filter(|l| l.contains(dir.to_str().unwrap()) || l.contains("ravn"))
        .collect();
    assert!(
        out.status.success() && ours.is_empty(),
        "systemd-analyze verify: {err}"
    );
}

struct Board {
    root: PathBuf,
    file: PathBuf,
}

impl Board {
    /// A root with the package's /etc/ravn/ravn.toml and a first-boot file.
    fn new(name: &str, firstboot: &str) -> Board {
        let root = fresh(name);
        fs::create_dir_all(root.join("etc/ravn")).unwrap();
        fs::copy(repo("packaging/ravn.toml"), root.join("etc/ravn/ravn.toml")).unwrap();
        fs::write(root.join("etc/hosts"), "127.0.0.1\tlocalhost\n").unwrap();
        let file = root.join("boot-firmware-ravn-firstboot.toml");
        fs::write(&file, firstboot).unwrap();
        Board { root, file }
    }

    fn run(&self) -> Output {
        Command::new("bash")
            .arg(repo("board/rpi4/rootfs/usr/local/sbin/ravn-firstboot"))
            .env("RAVN_FIRSTBOOT_FILE", &self.file)
            .env("RAVN_FIRSTBOOT_ROOT", &self.root)
            .env("RAVN_BIN", RAVN)
            .output()
            .unwrap()
    }

    fn read(&self, p: &str) -> String {
        fs::read_to_string(self.root.join(p)).unwrap_or_default()
    }
}

const KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq5Jb0oQq8m1n9n3qXbTz0K3y5s0mXkq0mJcS0cZl3D admin@laptop";

#[test]
fn firstboot_applies_a_good_file_once() {
    let b = Board::new(
        "good",
        &format!(
            "# written on a laptop\r\n\
             sensor-name = \"sniffer-07\"\r\n\
             tzsp-allow = [\"10.1.2.3\", \"10.1.2.4\"]   # two routers\r\n\
             home-net = \"[10.1.0.0/16,!10.1.99.0/24]\"\r\n\
             \r\n\
             ssh-key = \"{KEY}\"\r\n"
        ),
    );
    let out = b.run();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");

    let cfg = effective(&b.root.join("etc/ravn/ravn.toml"));
    let allow: Vec<&str> = get(&cfg, "capture.tzsp.allow")
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(allow, ["10.1.2.3", "10.1.2.4"]);
    assert_eq!(
        get(&cfg, "vars.address-groups.HOME_NET").as_str(),
        Some("[10.1.0.0/16,!10.1.99.0/24]")
    );
    // the rest of the shipped configuration is kept
    let shipped = effective(&repo("packaging/ravn.toml"));
    for k in ["threading.matcher-core", "outputs.log-dir", "logs.ram-cap"] {
        assert_eq!(get(&cfg, k), get(&shipped, k), "{k}");
    }
    assert_eq!(b.read("etc/hostname"), "sniffer-07\n");
    assert!(b.read("etc/hosts").contains("127.0.1.1\tsniffer-07\n"));
    assert_eq!(b.read("root/.ssh/authorized_keys"), format!("{KEY}\n"));
    assert!(!b.root.join("run/ravn/firstboot.error").exists());

    // applied once: the next boot leaves everything as it is
    let before = b.read("etc/ravn/ravn.toml");
    let again = b.run();
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already applied"));
    assert_eq!(b.read("etc/ravn/ravn.toml"), before);
    assert_eq!(b.read("root/.ssh/authorized_keys"), format!("{KEY}\n"));
}

#[test]
fn firstboot_rejects_a_bad_file_and_keeps_the_defaults() {
    let b = Board::new(
        "bad",
        "sensor-name = \"sniffer_07\"\n\
         tzsp-allow = [\"10.1.2.300\"]\n\
         home_net = \"[10.1.0.0/16]\"\n\
         home-net = \"[10.1.0.0/33]\"\n\
         ssh-key = \"not a key\"\n\
         this line is not toml\n",
    );
    let shipped = b.read("etc/ravn/ravn.toml");
    let out = b.run();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    for needle in [
        "key `sensor-name`",
        "key `tzsp-allow`",
        "capture.tzsp.allow[0]",
        "key `home_net` is unknown",
        "key `home-net`",
        "vars.address-groups.HOME_NET",
        "key `ssh-key`",
        "line 6: expected `key = value`",
        "nothing applied",
    ] {
        assert!(err.contains(needle), "stderr lacks {needle:?}:\n{err}");
    }
    // nothing changed: ravn starts with the package's configuration
    assert_eq!(b.read("etc/ravn/ravn.toml"), shipped);
    effective(&b.root.join("etc/ravn/ravn.toml"));
    assert_eq!(b.read("etc/hostname"), "");
    assert!(!b.root.join("root/.ssh/authorized_keys").exists());
    // the fault stays visible (LEDs) and the file is retried at the next boot
    let fault = b.read("run/ravn/firstboot.error");
    assert!(fault.contains("key `tzsp-allow`"), "{fault}");
    assert!(!b.root.join("var/lib/ravn/firstboot.sha256").exists());

    // fixed on the PC: the next boot applies it and clears the fault
    fs::write(&b.file, "tzsp-allow = [\"10.1.2.3\"]\n").unwrap();
    let fixed = b.run();
    assert!(
        fixed.status.success(),
        "{}",
        String::from_utf8_lossy(&fixed.stderr)
    );
    assert!(!b.root.join("run/ravn/firstboot.error").exists());
    let cfg = effective(&b.root.join("etc/ravn/ravn.toml"));
    assert_eq!(
        get(&cfg, "capture.tzsp.allow").as_array().unwrap()[0].as_str(),
        Some("10.1.2.3")
    );
}
