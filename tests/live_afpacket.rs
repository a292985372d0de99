//! AF_PACKET (TPACKET_V3) and AF_XDP capture on a veth in a network namespace (root;
//! skipped otherwise): frames sent with tcpreplay from the peer namespace raise the alerts a
//! replay of the same pcap raises; a missing interface and a missing CAP_NET_RAW are clear
//! errors; a SIGHUP in mid-stream swaps the rules without losing a packet the kernel
//! counted; the pinned matcher thread runs on its core.

mod support;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use support::live::{replay_fast, strip_ts, Daemon, NetPair};
use support::*;

fn heartbeat_rules() -> PathBuf {
    crate_root().join("rules/heartbeat.rules")
}

fn heartbeat_pcap() -> PathBuf {
    crate_root().join("tests/data/heartbeat.pcap")
}

fn tcpreplay(net: &NetPair, extra: &[&str]) {
    require_tool("tcpreplay", "apt-get install tcpreplay");
    let pcap = heartbeat_pcap().to_string_lossy().to_string();
    let mut args = vec!["tcpreplay", "-q", "-i", &net.if_b];
    if !extra.iter().any(|a| a.starts_with("--pps")) {
        args.push("--pps=1000");
    }
    args.extend_from_slice(extra);
    args.push(&pcap);
    net.in_b(&args);
}

fn run_source(tag: &str, sets: &[String]) {
    let Some(net) = NetPair::new(tag) else { return };
    let work = fresh_dir(&target_dir().join(format!("live-{tag}")));
    let mut all: Vec<String> = sets.to_vec();
    all.push(format!("capture.af-packet.interface={}", net.if_a));
    all.push(format!("capture.af-xdp.interface={}", net.if_a));
    let mut d = Daemon::start(&net.a, &work.join("d"), &heartbeat_rules(), &all, &[]);
    tcpreplay(&net, &[]);
    let pkts = d.wait_counter("decoder.pkts", 8, 20);
    assert_eq!(pkts, 8, "the 8 frames of heartbeat.pcap");
    let s = d.stats();
    assert_eq!(
        s["capture.kernel_drops"] + s["capture.ring_drops"],
        0,
        "{s:?}"
    );
    let (code, err) = d.stop();
    assert_eq!(code, 0, "{err}");
    let want = replay_fast(&heartbeat_pcap(), &heartbeat_rules(), &work.join("r"));
    assert!(want.contains("Heartbeat"));
    assert_eq!(strip_ts(&d.fast_log()), strip_ts(&want));
}

#[test]
fn af_packet_on_veth_alerts_on_the_heartbeat() {
    run_source("ap1", &["capture.source=af-packet".into()]);
}

#[test]
fn af_xdp_on_veth_alerts_on_the_heartbeat_skb_and_native() {
    if !cfg!(any(target_arch = "x86_64", target_arch = "aarch64")) {
        println!("SKIPPED: no AF_XDP on this architecture");
        return;
    }
    run_source(
        "xd1",
        &[
            "capture.source=af-xdp".into(),
            "capture.af-xdp.xdp-mode=skb".into(),
        ],
    );
    run_source(
        "xd2",
        &[
            "capture.source=af-xdp".into(),
            "capture.af-xdp.xdp-mode=native".into(),
        ],
    );
}

#[test]
fn af_xdp_program_is_detached_on_exit_and_after_a_crash() {
    let Some(net) = NetPair::new("xd3") else {
        return;
    };
    let work = fresh_dir(&target_dir().join("live-xd3"));
    let sets = vec![
        "capture.source=af-xdp".to_string(),
        format!("capture.af-xdp.interface={}", net.if_a),
        format!("daemon.run-dir={}", work.join("run").display()),
    ];
    let has_xdp = || {
        net.exec_ok(&net.a, &["ip", "-d", "link", "show", &net.if_a])
            .contains("prog/xdp")
    };
    // Killed: the program stays behind ...
    let mut d = Daemon::start(&net.a, &work.join("d1"), &heartbeat_rules(), &sets, &[]);
    assert!(has_xdp());
    d.signal(9);
    let _ = d.child.wait();
    assert!(has_xdp(), "SIGKILL leaves the program");
    // ... and the next start, with the same run directory, detaches it and works.
    let _ = std::fs::remove_file(work.join("run/stats.sock"));
    let mut d = Daemon::start(&net.a, &work.join("d2"), &heartbeat_rules(), &sets, &[]);
    tcpreplay(&net, &[]);
    assert_eq!(d.wait_counter("decoder.pkts", 8, 20), 8);
    let (code, err) = d.stop();
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("earlier run left"), "{err}");
    assert!(!has_xdp(), "detached on exit");
}

#[test]
fn missing_interface_and_capability_are_clear_errors() {
    let Some(net) = NetPair::new("ap2") else {
        return;
    };
    let work = fresh_dir(&target_dir().join("live-ap2"));
    let r = Daemon::try_start(
        &net.a,
        &work.join("d"),
        &heartbeat_rules(),
        &[
            "capture.source=af-packet".into(),
            "capture.af-packet.interface=nosuch0".into(),
        ],
        &[],
    );
    let e = r.err().expect("fails");
    assert!(e.contains("interface `nosuch0` not found"), "{e}");
    // Without CAP_NET_RAW (an unprivileged user, no capabilities).
    let out = Command::new("ip")
        .args([
            "netns",
            "exec",
            &net.a,
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
            "--bounding-set=-all",
        ])
        .arg(ravn_bin())
        .args(["run", "-S"])
        .arg(heartbeat_rules())
        .args(["-l", "/tmp", "--set", "capture.source=af-packet"])
        .arg("--set")
        .arg(format!("capture.af-packet.interface={}", net.if_a))
        .args(["--set", "rules.classification-file=/nonexistent/c.config"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("CAP_NET_RAW") && err.contains(&net.if_a),
        "{err}"
    );
}

#[test]
fn sighup_in_mid_stream_swaps_rules_without_losing_packets() {
    let Some(net) = NetPair::new("rl1") else {
        return;
    };
    let work = fresh_dir(&target_dir().join("live-rl1"));
    let rules = work.join("live.rules");
    let original = std::fs::read_to_string(heartbeat_rules()).unwrap();
    std::fs::write(&rules, &original).unwrap();
    let mut d = Daemon::start(
        &net.a,
        &work.join("d"),
        &rules,
        &[
            "capture.source=af-packet".into(),
            format!("capture.af-packet.interface={}", net.if_a),
        ],
        &[],
    );
    // 8 frames x 400 loops at 2000 packets/s: about 1.6 s of traffic.
    let replayer = {
        let pcap = heartbeat_pcap().to_string_lossy().to_string();
        Command::new("ip")
            .args([
                "netns",
                "exec",
                &net.b,
                "tcpreplay",
                "-q",
                "--pps=2000",
                "--loop=400",
                "-i",
                &net.if_b,
                &pcap,
            ])
            .spawn()
            .unwrap()
    };
    std::thread::sleep(Duration::from_millis(500));
    // A broken ruleset first: refused, the old rules stay.
    std::fs::write(
        &rules,
        "alert icmp any any -> any any (msg:\"broken\"; content:; sid:1;)\n",
    )
    .unwrap();
    d.signal(1);
    std::thread::sleep(Duration::from_millis(300));
    // Then the same rule under a new sid.
    std::fs::write(&rules, original.replace("sid:5100000", "sid:5100001")).unwrap();
    d.signal(1);
    let mut replayer = replayer;
    assert!(replayer.wait().unwrap().success());
    let sent = 8 * 400;
    d.wait_counter("decoder.pkts", sent, 30);
    let s = d.stats();
    let (code, err) = d.stop();
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("rule reload failed, keeping the running rules"),
        "{err}"
    );
    assert_eq!(s["detect.reloads"], 1, "one reload applied");
    // The exit stats event has the final kernel counters.
    let eve = d.eve();
    let last: serde_json::Value = serde_json::from_str(eve.lines().last().unwrap()).unwrap();
    let st = &last["stats"];
    let cap = |k: &str| st["capture"][k].as_u64().unwrap();
    assert_eq!(cap("kernel_drops"), 0);
    assert_eq!(cap("ring_drops"), 0);
    let pkts = st["decoder"]["pkts"].as_u64().unwrap();
    assert_eq!(
        pkts,
        cap("kernel_packets"),
        "every packet the kernel counted was decoded"
    );
    assert_eq!(pkts, sent);
    let fast = d.fast_log();
    let old = fast.matches("[1:5100000:1]").count();
    let new = fast.matches("[1:5100001:1]").count();
    let per_loop = replay_fast(&heartbeat_pcap(), &heartbeat_rules(), &work.join("r"))
        .lines()
        .count();
    assert!(
        old > 0 && new > 0,
        "both rulesets alerted: {old} then {new}"
    );
    assert_eq!(old + new, per_loop * 400, "no alert lost across the swap");
    // The old sid strictly before the new one.
    let last_old = fast.rfind("[1:5100000:1]").unwrap();
    let first_new = fast.find("[1:5100001:1]").unwrap();
    assert!(last_old < first_new);
}

#[test]
fn matcher_thread_runs_on_its_core() {
    let n = std::thread::available_parallelism().map_or(1, |n| n.get());
    let core = n - 1;
    let Some(net) = NetPair::new("pn1") else {
        return;
    };
    let work = fresh_dir(&target_dir().join("live-pn1"));
    let mut d = Daemon::start(
        &net.a,
        &work.join("d"),
        &heartbeat_rules(),
        &[
            "capture.source=af-packet".into(),
            format!("capture.af-packet.interface={}", net.if_a),
            format!("threading.matcher-core={core}"),
            "threading.sched-fifo=5".into(),
        ],
        &[],
    );
    let tid = d.stats()["matcher.tid"];
    let task = format!("/proc/{}/task/{tid}", d.pid());
    assert_eq!(
        std::fs::read_to_string(format!("{task}/comm"))
            .unwrap()
            .trim(),
        "ravn-matcher"
    );
    let status = std::fs::read_to_string(format!("{task}/status")).unwrap();
    let allowed = status
        .lines()
        .find(|l| l.starts_with("Cpus_allowed_list:"))
        .unwrap();
    assert_eq!(
        allowed.split_whitespace().nth(1),
        Some(core.to_string().as_str()),
        "{allowed}"
    );
    // Make it work, then look where it last ran (field 39 of stat) and its policy (41).
    tcpreplay(&net, &["--loop=50"]);
    d.wait_counter("decoder.pkts", 400, 20);
    let stat = std::fs::read_to_string(format!("{task}/stat")).unwrap();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    // fields[0] is field 3 (state): field N is fields[N - 3].
    assert_eq!(fields[39 - 3], core.to_string(), "last ran on core {core}");
    assert_eq!(fields[41 - 3], "1", "SCHED_FIFO");
    let (code, err) = d.stop();
    assert_eq!(code, 0, "{err}");
}

/// TCP the kernel sends over the veth: a server in the capturing namespace, a client in the
/// peer one. The kernel leaves the checksums of the packets it sends to veth's offloading
/// (AF_PACKET reports TP_STATUS_CSUMNOTREADY), so under the default checksum checks those
/// packets are not checked: the session is tracked and its stream inspected both ways, and no
/// checksum counts as wrong.
#[test]
fn af_packet_tracks_kernel_tcp_whose_checksums_are_offloaded() {
    let Some(net) = NetPair::new("ck1") else {
        return;
    };
    let work = fresh_dir(&target_dir().join("live-ck1"));
    let rules = work.join("kernel-tcp.rules");
    std::fs::write(
        &rules,
        "alert tcp any any -> any 8080 (msg:\"request, stream\"; flow:established,to_server,only_stream; content:\"KERNEL-TCP-REQUEST\"; sid:1;)\n\
         alert tcp any 8080 -> any any (msg:\"reply, stream\"; flow:established,to_client,only_stream; content:\"KERNEL-TCP-REPLY\"; sid:2;)\n",
    )
    .unwrap();
    let sets = vec![
        "capture.source=af-packet".to_string(),
        format!("capture.af-packet.interface={}", net.if_a),
    ];
    let mut d = Daemon::start(&net.a, &work.join("d"), &rules, &sets, &[]);
    let server = "import socket,time\n\
        s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
        s.bind(('0.0.0.0', 8080)); s.listen(1); c,_=s.accept()\n\
        d=b''\n\
        while len(d) < 18: d+=c.recv(100)\n\
        c.sendall(b'KERNEL-TCP-'); time.sleep(0.2); c.sendall(b'REPLY'); time.sleep(0.2); c.close()\n";
    let mut srv = Command::new("ip")
        .args(["netns", "exec", &net.a, "python3", "-c", server])
        .spawn()
        .expect("python3 server");
    std::thread::sleep(Duration::from_millis(500));
    let client = format!(
        "import socket,time\n\
         c=socket.create_connection(('{}', 8080), timeout=5)\n\
         c.sendall(b'KERNEL-TCP-'); time.sleep(0.2); c.sendall(b'REQUEST')\n\
         d=b''\n\
         while len(d) < 16:\n    x=c.recv(100)\n    if not x: break\n    d+=x\n\
         time.sleep(0.2); c.close(); time.sleep(0.3)\n",
        net.ip_a
    );
    net.in_b(&["python3", "-c", &client]);
    let _ = srv.wait();
    // the handshake, four data segments with their ACKs and the close
    d.wait_counter("decoder.pkts", 12, 20);
    std::thread::sleep(Duration::from_millis(300));
    let s = d.stats();
    let (code, err) = d.stop();
    assert_eq!(code, 0, "{err}");
    assert_eq!(s.get("tcp.invalid_checksum").copied(), Some(0), "{s:?}");
    let fast = d.fast_log();
    for sid in [":1:", ":2:"] {
        assert!(
            fast.contains(&format!("[1{sid}0]")),
            "sid {sid} in:\n{fast}"
        );
    }
}
