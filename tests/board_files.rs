//! board/'s deployment files checked by the tools that will read them: the Icinga 2 objects
//! with `icinga2 daemon -C` in a master + agent zone layout, the systemd units with
//! `systemd-analyze verify`. Each says SKIPPED when its tool is absent.

mod support;

use std::path::Path;
use std::process::Command;

use support::*;

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn icinga2_accepts_the_check_commands_and_services() {
    if !have("icinga2") {
        println!("SKIPPED: icinga2 not installed (apt-get install icinga2-bin icinga2-common)");
        return;
    }
    let dir = fresh_dir(&target_dir().join("board-icinga2"));
    let zone = dir.join("zones.d/master");
    std::fs::create_dir_all(&zone).unwrap();
    std::fs::copy(
        crate_root().join("board/icinga2/ravn.conf"),
        zone.join("ravn.conf"),
    )
    .unwrap();
    std::fs::write(
        zone.join("hosts.conf"),
        "object Host \"sensor\" {\n  check_command = \"dummy\"\n  vars.ravn = true\n}\n",
    )
    .unwrap();
    let main = dir.join("icinga2.conf");
    std::fs::write(
        &main,
        format!(
            "const NodeName = \"master\"\nconst ZoneName = \"master\"\ninclude <itl>\n\
             object Endpoint \"master\" {{ }}\n\
             object Zone \"master\" {{ endpoints = [ \"master\" ] }}\n\
             object Endpoint \"sensor\" {{ }}\n\
             object Zone \"sensor\" {{ endpoints = [ \"sensor\" ]; parent = \"master\" }}\n\
             include_zones \"ravn\", \"{}\"\n",
            dir.join("zones.d").display()
        ),
    )
    .unwrap();
    let out = Command::new("icinga2")
        .args(["daemon", "-C", "-c"])
        .arg(&main)
        .output()
        .unwrap();
    let log =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{log}");
    assert!(log.contains("Instantiated 2 Services"), "{log}");
}

#[test]
fn systemd_accepts_the_heartbeat_units() {
    if !have("systemd-analyze") {
        println!("SKIPPED: systemd-analyze not installed");
        return;
    }
    let dir = fresh_dir(&target_dir().join("board-systemd"));
    let src = crate_root().join("board/systemd");
    // verify needs the ExecStart binary and the environment file to exist: point them here
    for name in ["ravn-heartbeat.service", "ravn-heartbeat.timer"] {
        let text = std::fs::read_to_string(src.join(name))
            .unwrap()
            .replace("/usr/bin/ravn", ravn_bin().to_str().unwrap())
            .replace(
                "/etc/default/ravn-heartbeat",
                crate_root()
                    .join("board/default/ravn-heartbeat")
                    .to_str()
                    .unwrap(),
            )
            .replace("User=ravn", "User=root")
            .replace("Group=ravn", "Group=root");
        std::fs::write(dir.join(name), text).unwrap();
    }
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(dir.join("ravn-heartbeat.service"))
        .arg(dir.join("ravn-heartbeat.timer"))
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{log}");
    assert!(
        !log.contains("ravn-heartbeat"),
        "systemd-analyze complains about the units: {log}"
    );
    assert!(Path::new(&crate_root().join("board/tmpfiles.d/ravn.conf")).exists());
}
